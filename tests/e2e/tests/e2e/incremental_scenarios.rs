//! Incremental and scoped exports end to end: the real definition on the
//! local runner (virtual time), the real binaries of hlx's functions as
//! processes, the HealthLake emulator's FHIR REST `$export` over HTTP (every
//! request SigV4-signed and verified), its data stores changing by the day,
//! and job history in moto's DynamoDB.
//!
//! What each night exported is checked three ways: against the emulator's
//! own log of changes, against the NDJSON files on disk, and against the
//! manifest summary hlx recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use hlx_asl_runner::ExecutionStatus;
use hlx_aws::RestExportClient;
use hlx_core::{ExportMode, ExportSelection, JobRecord, JobStatus, RecordStatus, RestExportJob};
use hlx_e2e::scenario::{Scenario, report, scenario};
use hlx_healthlake_emulator::{ChangeKind, Churn, JobInfo, JobProfile, Outcome, ResourceChange};
use hlx_local_stack::{History, LOCAL_ACCESS_KEY, REGION, first_night};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// (resource type, id) pairs.
type Ids = BTreeSet<(String, String)>;

const CHURN: Churn = Churn {
    created_per_day: 12,
    updated_per_day: 20,
};

async fn incremental(name: &str, configure: impl FnOnce(&mut hlx_local_stack::StackConfig)) -> Scenario {
    scenario(name, |c| {
        c.churn = CHURN;
        c.profile = JobProfile::default()
            .with_timing(Duration::from_secs(20), Duration::from_secs(3600))
            .with_resources([
                ("Patient", 12),
                ("Encounter", 20),
                ("Observation", 60),
                ("Group", 2),
            ]);
        c.nightly = ExportSelection {
            mode: ExportMode::Incremental,
            ..ExportSelection::default()
        };
        configure(c);
    })
    .await
}

fn flatten(exported: &BTreeMap<String, BTreeSet<String>>) -> Ids {
    exported
        .iter()
        .flat_map(|(t, ids)| ids.iter().map(move |id| (t.clone(), id.clone())))
        .collect()
}

/// Every (type, id) in the NDJSON data files under an export's folder (not `errors/`).
fn ids_on_disk(dir: &Path) -> Ids {
    let mut ids = Ids::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if !path.is_dir() || path.file_name().unwrap() == "errors" {
            continue;
        }
        for file in std::fs::read_dir(&path).unwrap().map(Result::unwrap) {
            for line in std::fs::read_to_string(file.path()).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                ids.insert((
                    v["resourceType"].as_str().unwrap().into(),
                    v["id"].as_str().unwrap().into(),
                ));
            }
        }
    }
    ids
}

/// The resources changed on or after `since` and on or before `until`, by the emulator's log.
fn changed(changes: &[ResourceChange], since: Timestamp, until: Timestamp) -> Ids {
    changes
        .iter()
        .filter(|c| c.at >= since && c.at <= until)
        .map(|c| (c.resource_type.clone(), c.id.clone()))
        .collect()
}

fn per_type(ids: &Ids) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (t, _) in ids {
        *counts.entry(t.clone()).or_default() += 1;
    }
    counts
}

fn job_of(s: &Scenario, record: &JobRecord) -> JobInfo {
    let id = record.job_id.as_deref().expect("a job id");
    s.stack
        .emulator
        .export_jobs()
        .into_iter()
        .find(|j| j.job_id == id)
        .expect("the emulator has the job")
}

/// Runs the nightly request at 02:00 of night `n` under `name`.
async fn night(s: &Scenario, n: i64, name: &str) -> (hlx_asl_runner::ExecutionDescription, JobRecord) {
    s.stack
        .advance_to(first_night() + SignedDuration::from_hours(24 * n));
    let done = s.run(name, s.stack.export_request(s.datastore())).await;
    report(name, &done);
    (done, s.record(name).await)
}

/// Checks that a completed night wrote exactly `expected`, on disk, in the
/// emulator's record and in hlx's manifest summary.
fn assert_exported(s: &Scenario, record: &JobRecord, expected: &Ids) {
    let job = job_of(s, record);
    assert_eq!(
        &flatten(&job.exported),
        expected,
        "{}: the emulator's record of what it wrote",
        record.id
    );
    let dir = job.output_dir.as_ref().expect("an output folder");
    assert_eq!(&ids_on_disk(dir), expected, "{}: the files", record.id);
    let manifest = record.manifest.as_ref().expect("a manifest summary");
    assert_eq!(
        manifest.resources,
        per_type(expected),
        "{}: the manifest",
        record.id
    );
    assert_eq!(Some(manifest.transaction_time), job.transaction_time);
    assert_eq!(
        manifest.files as usize,
        job.output_files.iter().filter(|f| !f.error).count()
    );
    assert_manifest_file(s, record);
}

/// `manifest.json` is next to the files, written by check-job over S3 with
/// the export's KMS key, and says what the record says.
fn assert_manifest_file(s: &Scenario, record: &JobRecord) {
    let summary = record.manifest.as_ref().expect("a manifest summary");
    assert_eq!(summary.write_error, None, "{}", record.id);
    let uri = summary.uri.as_deref().expect("manifest.json was written");
    assert_eq!(
        uri,
        format!("{}manifest.json", record.output_location.as_deref().unwrap()),
        "next to the files"
    );
    let object = s.stack.emulator.s3_object(uri).expect("the object exists");
    assert_eq!(object.sse.as_deref(), Some("aws:kms"));
    assert_eq!(object.kms_key_id.as_deref(), Some("alias/hlx-local-exports"));
    assert_eq!(object.content_type.as_deref(), Some("application/json"));
    let manifest: Value = serde_json::from_slice(&object.bytes).unwrap();
    assert_eq!(
        manifest["transactionTime"],
        json!(hlx_core::time::format(summary.transaction_time))
    );
    let files = manifest["output"].as_array().unwrap();
    assert_eq!(files.len() as u64, summary.files);
    for file in files {
        let url = file["url"].as_str().unwrap();
        assert!(s.stack.emulator.s3_object(url).is_some(), "{url} exists");
    }
}

#[tokio::test]
async fn consecutive_nights_export_exactly_what_changed_and_a_failed_night_never_moves_since() {
    let s = incremental("inc-nights", |_| {}).await;
    let ds = s.datastore().to_owned();

    // Night 1: no history, so everything (the chain starts here).
    let (done, first) = night(&s, 0, "night-1").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(first.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(
        (first.mode.as_deref(), first.chain(), first.since),
        (Some("incremental"), "system", None)
    );
    let t1 = first.manifest.as_ref().unwrap().transaction_time;
    // Everything that existed at the transaction time: the generated
    // content and what churn created until then.
    let changes = s.stack.emulator.changes(&ds).unwrap();
    let created = |keep: &dyn Fn(Timestamp) -> bool| -> Ids {
        changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Created && keep(c.at))
            .map(|c| (c.resource_type.clone(), c.id.clone()))
            .collect()
    };
    let now = flatten(&s.stack.emulator.resource_ids(&ds).unwrap());
    let generated: Ids = now.difference(&created(&|_| true)).cloned().collect();
    let at_t1: Ids = generated.union(&created(&|at| at <= t1)).cloned().collect();
    assert_exported(&s, &first, &at_t1);
    assert!(first.manifest.as_ref().unwrap().total_resources() > 90);

    // Night 2, after a day of churn: exactly what changed since night 1's transactionTime.
    let (done, second) = night(&s, 1, "night-2").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(second.since, Some(t1));
    let job2 = job_of(&s, &second);
    assert_eq!(
        job2.rest.as_ref().unwrap().since,
        Some(t1),
        "the _since HealthLake was sent"
    );
    let t2 = second.manifest.as_ref().unwrap().transaction_time;
    let changes = s.stack.emulator.changes(&ds).unwrap();
    let day_one = changed(&changes, t1, t2);
    assert!(!day_one.is_empty() && day_one.len() <= (CHURN.created_per_day + CHURN.updated_per_day) as usize);
    assert_exported(&s, &second, &day_one);

    // Night 3 fails: recorded as FAILED, and it does not move the chain.
    let profile = s.stack.emulator.datastores()[0].profile.clone();
    s.stack
        .emulator
        .set_profile(&ds, profile.clone().with_outcome(Outcome::failed()))
        .unwrap();
    let (done, third) = night(&s, 2, "night-3").await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:?}");
    assert_eq!(third.status, RecordStatus::Job(JobStatus::Failed));
    assert_eq!(third.since, Some(t2));
    assert!(third.manifest.is_none());

    // Night 4 exports the changes of nights 3 and 4 together.
    s.stack.emulator.set_profile(&ds, profile).unwrap();
    let (done, fourth) = night(&s, 3, "night-4").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(
        fourth.since,
        Some(t2),
        "the failed night left _since where it was"
    );
    let t4 = fourth.manifest.as_ref().unwrap().transaction_time;
    let changes = s.stack.emulator.changes(&ds).unwrap();
    let two_days = changed(&changes, t2, t4);
    assert!(
        two_days.len() > day_one.len(),
        "two days of churn: {} vs {}",
        two_days.len(),
        day_one.len()
    );
    assert_exported(&s, &fourth, &two_days);
    // Four kick-offs over the REST API, one job each; no SDK start.
    assert_eq!(s.calls("StartFHIRExportJobWithPost"), 4);
    assert_eq!(s.calls("StartFHIRExportJob"), 0);
    assert_eq!(s.exports_started(), 4);
}

/// A resource's `subject` (or `patient`) reference, as `Patient/<id>`.
fn subject_of(line: &Value) -> Option<String> {
    line["subject"]["reference"]
        .as_str()
        .or_else(|| line["patient"]["reference"].as_str())
        .map(str::to_owned)
}

fn lines_on_disk(dir: &Path) -> Vec<Value> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        if entry.path().is_dir() && entry.file_name() != "errors" {
            for file in std::fs::read_dir(entry.path()).unwrap().map(Result::unwrap) {
                for line in std::fs::read_to_string(file.path()).unwrap().lines() {
                    lines.push(serde_json::from_str(line).unwrap());
                }
            }
        }
    }
    lines
}

#[tokio::test]
async fn type_patient_and_group_scopes_export_only_their_part() {
    let s = incremental("inc-scopes", |_| {}).await;
    let ds = s.datastore().to_owned();
    s.stack.advance_to(first_night());
    let mut request = s.stack.export_request(&ds);
    request["mode"] = json!("full");
    request["scope"] = json!("patient");
    request["types"] = json!(["Patient", "Observation"]);
    let done = s.run("patients", request).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("patients").await;
    assert_eq!(record.chain(), "patient?_type=Observation,Patient");
    let job = job_of(&s, &record);
    assert_eq!(
        job.exported.keys().cloned().collect::<Vec<_>>(),
        ["Observation", "Patient"],
        "_type limits the output"
    );
    let patients: BTreeSet<String> = job.exported["Patient"].clone();
    for line in lines_on_disk(job.output_dir.as_ref().unwrap()) {
        if line["resourceType"] == "Observation" {
            let subject = subject_of(&line).expect("an observation of a patient");
            assert!(
                patients.contains(subject.trim_start_matches("Patient/")),
                "{subject}"
            );
        }
    }

    // Group scope: the group's members and their data, nobody else's.
    let resources = s.stack.emulator.resources(&ds).unwrap();
    let group: Value = serde_json::from_str(&resources["Group"][0]).unwrap();
    let group_id = group["id"].as_str().unwrap().to_owned();
    let members: BTreeSet<String> = group["member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["entity"]["reference"]
                .as_str()
                .unwrap()
                .trim_start_matches("Patient/")
                .to_owned()
        })
        .collect();
    assert!(!members.is_empty() && members.len() < resources["Patient"].len());
    let mut request = s.stack.export_request(&ds);
    request["scope"] = json!(format!("group/{group_id}"));
    let done = s.run("group", request).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("group").await;
    let job = job_of(&s, &record);
    assert_eq!(job.exported["Patient"], members);
    let lines = lines_on_disk(job.output_dir.as_ref().unwrap());
    assert!(lines.iter().any(|l| l["resourceType"] == "Encounter"));
    for line in &lines {
        if line["resourceType"] != "Patient" {
            let subject = subject_of(line).expect("member data has a subject");
            assert!(
                members.contains(subject.trim_start_matches("Patient/")),
                "{subject}"
            );
        }
    }
    assert_eq!(
        record.manifest.unwrap().resources,
        per_type(&flatten(&job.exported))
    );

    // An unknown group is HealthLake's 404, recorded as the start's error; nothing runs.
    let mut request = s.stack.export_request(&ds);
    request["scope"] = json!("group/no-such-group");
    let done = s.run("no-group", request).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let record = s.record("no-group").await;
    assert_eq!(record.status, RecordStatus::Error);
    assert_eq!(
        record.error_name.as_deref(),
        Some("HealthLake.ResourceNotFoundException")
    );
    assert_eq!(s.exports_started(), 2);
}

#[tokio::test]
async fn a_lost_kick_off_answer_still_yields_one_job() {
    let s = incremental("inc-lost", |_| {}).await;
    s.stack.emulator.lose_next_kickoff_answers(1);
    let (done, record) = night(&s, 0, "lost-answer").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    // HealthLake created the job and answered 504; start-job found it by
    // its execution-unique name instead of kicking off a second one.
    assert_eq!(s.calls("StartFHIRExportJobWithPost"), 1);
    assert!(s.calls("ListFHIRExportJobs") >= 1);
    assert_eq!(s.exports_started(), 1);
    assert_eq!(
        record.job_id.as_deref(),
        Some(s.stack.emulator.export_jobs()[0].job_id.as_str())
    );
}

#[tokio::test]
async fn a_timed_out_export_is_cancelled_in_healthlake() {
    let s = incremental("inc-timeout", |c| {
        c.profile = c
            .profile
            .clone()
            .with_timing(Duration::from_secs(20), Duration::from_secs(6 * 3600));
        c.schedule.max_run = Duration::from_secs(2 * 3600);
    })
    .await;
    let (done, record) = night(&s, 0, "too-long").await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:?}");
    assert_eq!(record.status, RecordStatus::TimedOut);
    let cancel = record.cancel.as_ref().expect("hlx asked HealthLake to cancel");
    assert_eq!(cancel.status.as_deref(), Some("CANCEL_SUBMITTED"), "{cancel:?}");
    // HealthLake finishes the cancel on its own; nothing is written.
    s.stack
        .advance_to(s.stack.clock.now() + SignedDuration::from_mins(5));
    s.stack.emulator.advance();
    let job = job_of(&s, &record);
    assert_eq!(job.status, JobStatus::CancelCompleted);
    assert!(job.output_files.is_empty());
    assert_eq!(s.calls("CancelFHIRExportJobWithDelete"), 1);
}

#[tokio::test]
async fn hlx_cancel_mid_export_ends_cancel_completed_with_no_files() {
    let s = incremental("inc-cancel", |_| {}).await;
    let t0 = first_night();
    s.stack.advance_to(t0);
    let handle = s
        .stack
        .start_execution("to-cancel", s.stack.export_request(s.datastore()))
        .unwrap();
    s.stack.runner.run_until(t0 + SignedDuration::from_mins(20)).await;
    let running = s.record("to-cancel").await;
    assert_eq!(running.status, RecordStatus::Job(JobStatus::InProgress));

    let History::DynamoDb { endpoint, table } = &s.stack.history else {
        panic!("moto history")
    };
    let cancel = |id: &str| {
        tokio::process::Command::new(hlx_e2e::binary("hlx"))
            .args(["cancel", id, "--table", table, "--region", REGION])
            .env("AWS_ENDPOINT_URL_HEALTHLAKE", s.stack.healthlake_endpoint())
            .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
            .env("AWS_ACCESS_KEY_ID", LOCAL_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", hlx_local_stack::LOCAL_SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
    };
    let out = cancel("to-cancel").await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CANCEL_SUBMITTED"), "{stdout}");

    s.stack.runner.wait_all().await;
    let done = handle.describe();
    report("cancel mid-export", &done);
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:?}");
    let record = s.record("to-cancel").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::CancelCompleted));
    let job = job_of(&s, &record);
    assert_eq!(job.status, JobStatus::CancelCompleted);
    assert!(job.output_files.is_empty(), "no files after a cancel");
    assert!(job.output_dir.is_none());

    // The export has ended: a second cancel is refused by name, exit code 2.
    let again = cancel("to-cancel").await.unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already ended as CANCEL_COMPLETED"));
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused_and_start_nothing() {
    let s = incremental("inc-auth", |_| {}).await;
    let endpoint = s.stack.healthlake_endpoint();
    let job = RestExportJob {
        datastore_id: s.datastore().to_owned(),
        scope: hlx_core::ExportScope::System,
        job_name: "forged".into(),
        s3_uri: "s3://hlx-local-exports/nightly".into(),
        kms_key_id: "alias/hlx-local-exports".into(),
        data_access_role_arn: hlx_local_stack::data_access_role_arn(),
        types: vec![],
        since: None,
        until: None,
    };
    let signer = |key: &str, secret: &str| {
        RestExportClient::new(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(key, secret, None, None, "test"),
            ),
            REGION,
            &endpoint,
        )
        .unwrap()
    };
    let err = signer(LOCAL_ACCESS_KEY, "not-the-secret")
        .kick_off(&job)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "HealthLake.InvalidSignatureException", "{err}");
    let err = signer("AKIDUNKNOWN", "x").kick_off(&job).await.unwrap_err();
    assert_eq!(
        err.error_name(),
        "HealthLake.UnrecognizedClientException",
        "{err}"
    );

    // No signature at all.
    let url = format!("{endpoint}/datastore/{}/r4/$export", s.datastore());
    let authority = endpoint.trim_start_matches("http://").to_owned();
    let unsigned = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        let body = r#"{"JobName":"x"}"#;
        let path = url.trim_start_matches(&format!("http://{authority}")).to_owned();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/fhir+json\r\n\
             Prefer: respond-async\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
    assert!(
        unsigned.to_lowercase().contains("missingauthenticationtoken"),
        "{unsigned}"
    );

    // The right credentials work, and only they started a job.
    let started = signer(LOCAL_ACCESS_KEY, hlx_local_stack::LOCAL_SECRET_KEY)
        .kick_off(&job)
        .await
        .unwrap();
    assert_eq!(started.status, JobStatus::Submitted);
    assert_eq!(s.exports_started(), 1);
}

#[tokio::test]
async fn a_full_sdk_export_gets_a_manifest_from_its_folder() {
    let s = incremental("inc-sdk-manifest", |c| c.nightly = ExportSelection::default()).await;
    let (done, record) = night(&s, 0, "full-night").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(
        s.calls("StartFHIRExportJob"),
        1,
        "a plain full export goes through the SDK"
    );
    let job = job_of(&s, &record);
    let summary = record
        .manifest
        .as_ref()
        .expect("a manifest built by listing the folder");
    assert_eq!(
        summary.files as usize,
        job.output_files.iter().filter(|f| !f.error).count()
    );
    assert!(
        summary.counts_incomplete,
        "no counts without HealthLake's manifest"
    );
    assert_eq!(Some(summary.transaction_time), record.submitted_at);
    assert_manifest_file(&s, &record);
    // And an incremental night after it continues from there.
    let mut request = s.stack.export_request(s.datastore());
    request["mode"] = json!("incremental");
    s.stack.advance_to(first_night() + SignedDuration::from_hours(24));
    let done = s.run("after-full", request).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(s.record("after-full").await.since, record.submitted_at);
}
