//! Imports end to end, through the same state machine as exports: the real
//! definition on the local runner (virtual time), the real binaries
//! as processes, the HealthLake emulator over HTTP (which really reads the
//! NDJSON under the input prefix and loads it into the data store), its
//! events routed to job-events, and job history in moto's DynamoDB.
//!
//! `cargo test -p hlx-e2e --test e2e import_scenarios:: -- --nocapture` prints the
//! state transitions of each scenario.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use hlx_asl_runner::ExecutionStatus;
use hlx_core::{JobKind as RecordKind, JobRecord, JobStatus, RecordStatus};
use hlx_e2e::scenario::{Scenario, report, scenario};
use hlx_healthlake_emulator::{FaultSpec, Faults, JobKind, JobProfile, Operation};
use hlx_local_stack::IMPORT_LOGS_S3_URI;
use serde_json::json;

const LANDING: &str = "s3://hlx-landing/nightly/";

fn resource(resource_type: &str, id: &str) -> String {
    json!({"resourceType": resource_type, "id": id, "meta": {"versionId": "1"}}).to_string()
}

fn ndjson(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Patients p-0.. and observations o-0.. in two files under `prefix`.
fn land(s: &Scenario, prefix: &str, patients: usize, observations: usize) {
    let p: Vec<String> = (0..patients)
        .map(|n| resource("Patient", &format!("p-{n}")))
        .collect();
    let o: Vec<String> = (0..observations)
        .map(|n| resource("Observation", &format!("o-{n}")))
        .collect();
    s.stack
        .put_object(&format!("{prefix}patients.ndjson"), &ndjson(&p))
        .unwrap();
    s.stack
        .put_object(&format!("{prefix}observations.ndjson"), &ndjson(&o))
        .unwrap();
}

async fn import_record(s: &Scenario, name: &str) -> JobRecord {
    s.stack
        .import_record(name)
        .await
        .expect("DynamoDB answers")
        .unwrap_or_else(|| panic!("{name} has no import record"))
}

async fn run_import(s: &Scenario, name: &str, input_s3_uri: &str) -> hlx_asl_runner::ExecutionDescription {
    s.run(name, s.stack.import_request(s.datastore(), input_s3_uri))
        .await
}

#[tokio::test]
async fn a_clean_load_completes_with_its_counts_and_the_data_in_the_data_store() {
    let s = scenario("import-clean", |_| {}).await;
    land(&s, LANDING, 3, 4);
    let done = run_import(&s, "import-clean", LANDING).await;
    report("import: clean load (7 resources)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_ref().unwrap()["status"], "COMPLETED");

    let record = import_record(&s, "import-clean").await;
    assert_eq!(record.kind, RecordKind::Import);
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(record.input_s3_uri.as_deref(), Some(LANDING));
    let counts = record.import_counts.clone().expect("the record has the counts");
    assert_eq!(
        (
            counts.files_scanned,
            counts.resources_scanned,
            counts.resources_imported,
            counts.resources_with_errors
        ),
        (2, 7, 7, 0)
    );
    let jobs = s.stack.emulator.import_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(s.exports_started(), 0, "an import never starts an export");
    assert_eq!(record.job_id.as_deref(), Some(jobs[0].job_id.as_str()));
    assert_eq!(
        record.output_location,
        Some(format!(
            "{IMPORT_LOGS_S3_URI}/{}-FHIR_IMPORT-{}/",
            s.datastore(),
            jobs[0].job_id
        ))
    );
    // The data store holds what was loaded, beside what it had.
    let held = s.stack.emulator.resource_ids(s.datastore()).unwrap();
    for n in 0..3 {
        assert!(held["Patient"].contains(&format!("p-{n}")));
    }
    assert_eq!(
        held["Observation"]
            .iter()
            .filter(|id| id.starts_with("o-"))
            .count(),
        4
    );
    // HealthLake's success log was written beside the record's location.
    let log_dir = jobs[0].output_dir.clone().expect("the import wrote its logs");
    assert!(log_dir.join("SUCCESS").is_dir(), "{}", log_dir.display());
    // Only an import's calls were made, and the event woke the wait.
    assert_eq!(s.calls("StartFHIRImportJob"), 1);
    assert_eq!(s.calls("DescribeFHIRExportJob"), 0);
    assert!(
        s.stack
            .event_deliveries()
            .iter()
            .any(|d| d.detail_type == "Import Job Completed" && d.outcome() == "WOKEN"),
        "the import's Completed event woke the execution: {:?}",
        s.stack
            .event_deliveries()
            .iter()
            .map(|d| (&d.detail_type, d.outcome()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn malformed_lines_complete_with_errors_and_the_counts_of_each() {
    let s = scenario("import-bad", |_| {}).await;
    let lines = [
        resource("Patient", "good-1"),
        "{not json".to_owned(),
        json!({"id": "no-type"}).to_string(),
        json!({"resourceType": "Spaceship", "id": "x"}).to_string(),
        resource("Patient", "good-2"),
        json!({"resourceType": "Patient", "id": "bad id!"}).to_string(),
        resource("Condition", "good-3"),
    ];
    s.stack
        .put_object(&format!("{LANDING}mixed.ndjson"), &ndjson(&lines))
        .unwrap();
    let done = run_import(&s, "import-bad", LANDING).await;
    report("import: malformed lines (3 good, 4 bad)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = import_record(&s, "import-bad").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::CompletedWithErrors));
    let counts = record.import_counts.clone().unwrap();
    assert_eq!(
        (
            counts.resources_scanned,
            counts.resources_imported,
            counts.resources_with_errors
        ),
        (7, 3, 4)
    );
    let message = record.message.clone().unwrap();
    assert!(message.contains('3') && message.contains('4'), "{message}");
    let held = s.stack.emulator.resource_ids(s.datastore()).unwrap();
    assert!(held["Patient"].contains("good-1") && held["Patient"].contains("good-2"));
    assert!(!held["Patient"].contains("bad id!"));
    assert!(!held.contains_key("Spaceship"));
    let log_dir = s.stack.emulator.import_jobs()[0].output_dir.clone().unwrap();
    let failures: usize = std::fs::read_dir(log_dir.join("FAILURE"))
        .unwrap()
        .map(|f| {
            std::fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(failures, 4, "one failure log line per refused line");
}

#[tokio::test]
async fn a_missing_input_prefix_fails_with_healthlakes_message() {
    let s = scenario("import-missing", |_| {}).await;
    let before = s.stack.emulator.resource_ids(s.datastore()).unwrap();
    let missing = "s3://hlx-landing/never-landed/";
    let done = run_import(&s, "import-missing", missing).await;
    report("import: missing input prefix", &done);
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:?}");
    let record = import_record(&s, "import-missing").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Failed));
    let message = record.message.clone().unwrap();
    assert!(
        message.contains(missing),
        "the message names the location: {message}"
    );
    assert_eq!(
        s.stack.emulator.resource_ids(s.datastore()).unwrap(),
        before,
        "nothing stored"
    );
    assert!(record.ended_at.is_some());
}

#[tokio::test]
async fn an_import_throttling_storm_still_completes_with_one_job() {
    let s = scenario("import-throttle", |c| {
        let storm = FaultSpec {
            throttle_rate: 0.8,
            ..FaultSpec::default()
        };
        c.faults = Faults::none()
            .with(Operation::StartFhirImportJob, storm)
            .with(Operation::DescribeFhirImportJob, storm);
    })
    .await;
    land(&s, LANDING, 2, 2);
    let done = run_import(&s, "import-throttled", LANDING).await;
    report("import: throttling storm (80% of calls)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let throttled = s
        .stack
        .emulator
        .calls()
        .iter()
        .filter(|c| c.error.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(throttled > 0 && done.stats.retries > 0, "{throttled} throttled");
    assert_eq!(
        s.stack.emulator.import_jobs().len(),
        1,
        "retried starts make no second job"
    );
    assert_eq!(
        import_record(&s, "import-throttled").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

#[tokio::test]
async fn the_same_import_started_twice_makes_one_healthlake_job() {
    let s = scenario("import-twice", |_| {}).await;
    land(&s, LANDING, 1, 1);
    let input = s.stack.import_request(s.datastore(), LANDING);
    // The same name twice on the state machine: one execution.
    let first = s.stack.start_execution("import-twice", input.clone()).unwrap();
    let again = s.stack.start_execution("import-twice", input.clone()).unwrap();
    assert_eq!(first.arn(), again.arn());
    s.stack.runner.wait_all().await;
    report("import: same name started twice", &first.describe());
    assert!(s.stack.start_execution("import-twice", input.clone()).is_err());
    assert_eq!(s.stack.emulator.import_jobs().len(), 1);

    // The start itself repeated (its answer lost): the same ClientToken, the same job.
    let (a, b) = s.start_only_machines();
    let x = s
        .stack
        .runner
        .start_execution(&a, "import-same", input.clone())
        .unwrap();
    let y = s.stack.runner.start_execution(&b, "import-same", input).unwrap();
    s.stack.runner.wait_all().await;
    let (x, y) = (x.describe().output.unwrap(), y.describe().output.unwrap());
    assert_eq!(x["jobId"], y["jobId"]);
    assert_eq!(x["kind"], "import");
    assert_eq!(s.calls("StartFHIRImportJob"), 3);
    assert_eq!(
        s.stack.emulator.import_jobs().len(),
        2,
        "one job per execution name"
    );
}

#[tokio::test]
async fn an_import_and_an_export_run_side_by_side_and_a_second_import_queues() {
    let s = scenario("import-side", |c| {
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(2 * 3600));
    })
    .await;
    land(&s, LANDING, 2, 2);
    land(&s, "s3://hlx-landing/second/", 1, 1);
    let export = s
        .stack
        .start_execution("nightly-side", s.stack.export_request(s.datastore()))
        .unwrap();
    let first = s
        .stack
        .start_execution("import-side-1", s.stack.import_request(s.datastore(), LANDING))
        .unwrap();
    let second = s
        .stack
        .start_execution(
            "import-side-2",
            s.stack.import_request(s.datastore(), "s3://hlx-landing/second/"),
        )
        .unwrap();
    s.stack.runner.wait_all().await;
    s.stack.runner.settle().await;
    for (what, handle) in [
        ("export", &export),
        ("first import", &first),
        ("second import", &second),
    ] {
        let d = handle.describe();
        report(&format!("side by side: {what}"), &d);
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{what}: {d:?}");
    }
    let transitions = s.stack.emulator.transitions();
    let at = |kind: JobKind, job: &str, status: JobStatus| {
        transitions
            .iter()
            .find(|t| t.kind == kind && t.job_id == job && t.status == status)
            .map(|t| t.at)
            .unwrap_or_else(|| panic!("{job} never {status}"))
    };
    let export_job = s.stack.emulator.export_jobs()[0].job_id.clone();
    let imports = s.stack.emulator.import_jobs();
    let (one, two) = (&imports[0].job_id, &imports[1].job_id);
    let export_runs = (
        at(JobKind::Export, &export_job, JobStatus::InProgress),
        at(JobKind::Export, &export_job, JobStatus::Completed),
    );
    let first_runs = (
        at(JobKind::Import, one, JobStatus::InProgress),
        at(JobKind::Import, one, JobStatus::Completed),
    );
    assert!(
        export_runs.0 < first_runs.1 && first_runs.0 < export_runs.1,
        "the export and the first import ran at the same time: {export_runs:?} {first_runs:?}"
    );
    assert!(
        at(JobKind::Import, two, JobStatus::InProgress) >= first_runs.1,
        "the second import waited for the first"
    );
    assert!(
        !transitions
            .iter()
            .any(|t| t.kind == JobKind::Import && t.status == JobStatus::Queued),
        "imports have no QUEUED status"
    );
    // Both imports were started at once; whichever HealthLake took second waited.
    for name in ["import-side-1", "import-side-2"] {
        let record = import_record(&s, name).await;
        let queued = record.queued_seconds.unwrap();
        if record.job_id.as_deref() == Some(two.as_str()) {
            assert!(
                queued >= 2 * 3600 - 60,
                "the waiting import shows its wait: {record:?}"
            );
            assert!(
                record.running_seconds.unwrap() <= 2 * 3600,
                "and is not called slow: {record:?}"
            );
        } else {
            assert!(queued < 600, "{record:?}");
        }
    }
    assert_eq!(
        s.record("nightly-side").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

/// Every resource an export wrote, by type and id (OperationOutcome error
/// lines left out: they are the export's report, not the data).
fn exported(files: &[PathBuf]) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let resource_type = value["resourceType"].as_str().unwrap().to_owned();
            if resource_type != "OperationOutcome" {
                found
                    .entry(resource_type)
                    .or_default()
                    .insert(value["id"].as_str().unwrap().to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn the_round_trip_export_a_import_into_b_export_b_gives_the_same_resources() {
    let s = scenario("import-round-trip", |c| {
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(1800));
    })
    .await;
    let a = s.datastore().to_owned();
    let export_a = s.run("nightly-a", s.stack.export_request(&a)).await;
    report("round trip: export A", &export_a);
    assert_eq!(export_a.status, ExecutionStatus::Succeeded, "{export_a:?}");
    let a_record = s.record("nightly-a").await;
    let a_files = s.stack.emulator.export_jobs()[0].files.clone();
    let from_a = exported(&a_files);
    assert!(
        from_a.len() >= 3 && from_a.values().map(BTreeSet::len).sum::<usize>() >= 30,
        "{from_a:?}"
    );

    let b = s
        .stack
        .create_datastore(
            "clinic-b",
            JobProfile::default()
                .with_timing(Duration::from_secs(20), Duration::from_secs(1800))
                .with_resources(std::iter::empty::<(&str, usize)>()),
        )
        .unwrap();
    assert!(
        s.stack.emulator.resource_ids(&b).unwrap().is_empty(),
        "B starts empty"
    );
    // The export folder also holds the manifest.json hlx wrote, which is not
    // NDJSON: the operator copies the data files (as `aws s3 sync --exclude
    // manifest.json` would) to the landing bucket and imports those.
    let a_output = a_record.output_location.clone().unwrap();
    let a_dir = s.stack.emulator.export_jobs()[0].output_dir.clone().unwrap();
    assert!(a_dir.join("manifest.json").is_file(), "hlx wrote the manifest");
    let landing = "s3://hlx-local-landing/round-trip/";
    for file in &a_files {
        let key = file.strip_prefix(&a_dir).unwrap().to_string_lossy().into_owned();
        s.stack
            .put_object(
                &format!("{landing}{key}"),
                &std::fs::read_to_string(file).unwrap(),
            )
            .unwrap();
    }
    assert!(a_output.ends_with('/'));
    let load = s.run("import-b", s.stack.import_request(&b, landing)).await;
    report("round trip: import A's export into B", &load);
    assert_eq!(load.status, ExecutionStatus::Succeeded, "{load:?}");
    let load_record = import_record(&s, "import-b").await;
    assert_eq!(load_record.status, RecordStatus::Job(JobStatus::Completed));
    let counts = load_record.import_counts.unwrap();
    assert_eq!(
        counts.resources_imported as usize,
        from_a.values().map(BTreeSet::len).sum::<usize>()
    );

    let export_b = s.run("nightly-b", s.stack.export_request(&b)).await;
    report("round trip: export B", &export_b);
    assert_eq!(export_b.status, ExecutionStatus::Succeeded);
    let b_job = s
        .stack
        .emulator
        .export_jobs()
        .into_iter()
        .find(|j| j.datastore_id == b)
        .unwrap();
    assert_eq!(
        exported(&b_job.files),
        from_a,
        "the same resources, by type and id"
    );
    assert_eq!(
        s.stack.emulator.resource_ids(&b).unwrap(),
        s.stack.emulator.resource_ids(&a).unwrap()
    );
}
