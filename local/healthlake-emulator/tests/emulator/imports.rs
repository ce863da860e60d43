//! Imports that load data: the input read line by line, the good resources
//! stored (and exported later), the logs, the counts and the end status.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_healthlake::types::{ImportJobProperties, JobProgressReport, JobStatus};
use hlx_healthlake_emulator::{
    FAILURE_FOLDER, ImportReport, JobInfo, JobProfile, MANIFEST_FILE, Outcome, SUCCESS_FOLDER,
    export_folder_name, import_folder_name, no_input_message, s3_uri_to_path,
};
use serde_json::{Value, json};

use crate::common::*;

/// No queue delay, a minute of running.
fn quick() -> JobProfile {
    JobProfile::default().with_timing(Duration::ZERO, Duration::from_secs(60))
}

fn read_json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{path:?}: {e}: {line}")))
        .collect()
}

/// The log folder of an import job.
fn log_dir(h: &Harness, datastore_id: &str, job_id: &str) -> PathBuf {
    s3_uri_to_path(h.out.path(), IMPORT_LOGS).join(import_folder_name(datastore_id, job_id))
}

/// Every file under `dir`, relative, `/`-separated.
fn relative_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"))
        .collect()
}

fn import_job(h: &Harness, job_id: &str) -> JobInfo {
    h.emulator
        .import_jobs()
        .into_iter()
        .find(|j| j.job_id == job_id)
        .expect("the import job")
}

fn report_of(props: &ImportJobProperties) -> &JobProgressReport {
    props.job_progress_report().expect("a JobProgressReport")
}

/// The counts of a wire report, in [`ImportReport`] order.
fn counts(report: &JobProgressReport) -> [Option<i64>; 6] {
    [
        report.total_number_of_scanned_files(),
        report.total_number_of_imported_files(),
        report.total_number_of_resources_scanned(),
        report.total_number_of_resources_imported(),
        report.total_number_of_resources_with_customer_error(),
        report.total_number_of_files_read_with_customer_error(),
    ]
}

fn ids<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [&'a str])>) -> BTreeMap<String, BTreeSet<String>> {
    pairs
        .into_iter()
        .map(|(t, ids)| (t.to_owned(), ids.iter().map(|id| (*id).to_owned()).collect()))
        .collect()
}

/// Exports `datastore_id` to `s3_uri`, runs it out, returns its folder.
async fn export_of(h: &Harness, datastore_id: &str, s3_uri: &str) -> PathBuf {
    let job = h
        .start_export(|a| StartArgs {
            datastore_id: datastore_id.into(),
            s3_uri: s3_uri.into(),
            ..a
        })
        .await
        .unwrap();
    h.advance_secs(600);
    let props = h
        .client
        .describe_fhir_export_job()
        .datastore_id(datastore_id)
        .job_id(job.job_id())
        .send()
        .await
        .unwrap()
        .export_job_properties
        .unwrap();
    assert!(
        matches!(
            props.job_status(),
            JobStatus::Completed | JobStatus::CompletedWithErrors
        ),
        "{props:?}"
    );
    s3_uri_to_path(h.out.path(), s3_uri).join(export_folder_name(datastore_id, job.job_id()))
}

/// Every resource line of an export folder (data and `errors/`), by its
/// `resourceType` and id.
fn exported(dir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files_under(dir) {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let resource_type = value["resourceType"].as_str().unwrap().to_owned();
            let id = value["id"].as_str().unwrap().to_owned();
            let fresh = out.entry(resource_type).or_default().insert(id, line.to_owned());
            assert!(fresh.is_none(), "one line per resource");
        }
    }
    out
}

fn detail_types_of(h: &Harness, job_id: &str) -> Vec<String> {
    h.emulator
        .events()
        .iter()
        .filter(|e| e.event.detail.job_id == job_id)
        .map(|e| e.event.detail_type.clone())
        .collect()
}

const P1: &str = r#"{"resourceType":"Patient","id":"imp-p1","name":[{"family":"Rivera","given":["Ana"]}],"gender":"female"}"#;
const P2: &str = r#"{"resourceType":"Patient","id":"imp-p2","name":[{"family":"Osei","given":["Kwame"]}],"gender":"male"}"#;
const O1: &str = r#"{"resourceType":"Observation","id":"imp-o1","status":"final","code":{"text":"Heart rate"},"subject":{"reference":"Patient/imp-p1"}}"#;
const O2: &str = r#"{"resourceType":"Observation","id":"imp-o2","status":"final","code":{"text":"Body weight"},"subject":{"reference":"Patient/imp-p2"}}"#;
const I1: &str = r#"{"resourceType":"Immunization","id":"imp-i1","status":"completed","vaccineCode":{"text":"Influenza"},"patient":{"reference":"Patient/imp-p2"},"occurrenceDateTime":"2025-10-01"}"#;
const DR: &str = r#"{"resourceType":"Practitioner","id":"imp-dr.1","name":[{"family":"Hale"}]}"#;

#[tokio::test]
async fn a_clean_import_loads_every_resource_reports_its_counts_and_logs_them() {
    let h = Harness::new(quick().with_timing(Duration::from_secs(5), Duration::from_secs(60))).await;
    let ds = h.datastore_id.clone();
    let before = h.emulator.resource_ids(&ds).unwrap();
    assert_eq!(before["Patient"].len(), 10, "the default profile's patients");
    let p2_crlf = format!("{P2}\r");
    let patients = h.put_object("s3://hlx-imports/clean/patients.ndjson", &[P1, &p2_crlf]);
    let clinical = h.put_object(
        "s3://hlx-imports/clean/more/clinical.ndjson",
        &[O1, I1, DR, "  ", O2],
    );
    let size: u64 = [&patients, &clinical]
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();

    let job_id = h.start_import(&ds, "s3://hlx-imports/clean/").await;
    let submitted = h.describe_import(&ds, &job_id).await;
    assert_eq!(submitted.job_status(), &JobStatus::Submitted);
    assert_eq!(
        submitted.job_progress_report(),
        None,
        "no report before IN_PROGRESS"
    );
    h.advance_secs(5);
    let running = h.describe_import(&ds, &job_id).await;
    assert_eq!(running.job_status(), &JobStatus::InProgress);
    assert_eq!(counts(report_of(&running)), [Some(0); 6], "zeros while running");
    assert_eq!(
        h.emulator.resource_ids(&ds).unwrap(),
        before,
        "nothing loaded yet"
    );

    h.advance_secs(60);
    let done = h.describe_import(&ds, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::Completed, "{:?}", done.message());
    assert_eq!(done.message(), None);
    let report = report_of(&done);
    assert_eq!(
        counts(report),
        [Some(2), Some(2), Some(6), Some(6), Some(0), Some(0)]
    );
    let mb = (size as f64 / 1_048_576.0 * 1e6).round() / 1e6;
    assert_eq!(report.total_size_of_scanned_files_in_mb(), Some(mb));
    assert!(mb > 0.0);
    assert_eq!(report.throughput(), Some(0.1), "6 resources in 60 s");
    let listed = h
        .client
        .list_fhir_import_jobs()
        .datastore_id(&ds)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.import_job_properties_list(), std::slice::from_ref(&done));

    // The data store holds them, next to what it had.
    let mut expected = before.clone();
    for (t, id) in [
        ("Patient", "imp-p1"),
        ("Patient", "imp-p2"),
        ("Observation", "imp-o1"),
        ("Observation", "imp-o2"),
        ("Immunization", "imp-i1"),
        ("Practitioner", "imp-dr.1"),
    ] {
        expected.entry(t.to_owned()).or_default().insert(id.to_owned());
    }
    assert_eq!(h.emulator.resource_ids(&ds).unwrap(), expected);
    let info = h
        .emulator
        .datastores()
        .into_iter()
        .find(|d| d.datastore_id == ds)
        .unwrap();
    assert_eq!(info.resource_counts["Patient"], 12);
    assert_eq!(info.resource_counts["Observation"], 52);
    assert_eq!(info.resource_counts["Immunization"], 1);
    assert_eq!(h.emulator.resources(&ds).unwrap()["Immunization"], [I1]);
    assert_eq!(
        h.emulator.resources(&ds).unwrap()["Patient"]
            .last()
            .map(String::as_str),
        Some(P2),
        "stored without the CR"
    );

    // The logs: one SUCCESS file per input file, the manifest, no FAILURE.
    let dir = log_dir(&h, &ds, &job_id);
    assert_eq!(
        relative_files(&dir),
        [
            "SUCCESS/more/clinical.ndjson",
            "SUCCESS/patients.ndjson",
            "manifest.json"
        ]
    );
    let logged: Vec<(String, String, String, u64)> =
        read_json_lines(&dir.join("SUCCESS/more/clinical.ndjson"))
            .iter()
            .map(|l| {
                assert_eq!(l["file"], "s3://hlx-imports/clean/more/clinical.ndjson");
                (
                    l["resourceType"].as_str().unwrap().to_owned(),
                    l["id"].as_str().unwrap().to_owned(),
                    l["outcome"].as_str().unwrap().to_owned(),
                    l["line"].as_u64().unwrap(),
                )
            })
            .collect();
    let created = |t: &str, id: &str, line: u64| (t.to_owned(), id.to_owned(), "created".to_owned(), line);
    assert_eq!(
        logged,
        [
            created("Observation", "imp-o1", 1),
            created("Immunization", "imp-i1", 2),
            created("Practitioner", "imp-dr.1", 3),
            created("Observation", "imp-o2", 5),
        ]
    );
    assert_eq!(read_json_lines(&dir.join("SUCCESS/patients.ndjson")).len(), 2);
    let folder = import_folder_name(&ds, &job_id);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(
        manifest["inputDataConfig"],
        json!({"s3Uri": "s3://hlx-imports/clean/"})
    );
    assert_eq!(
        manifest["outputDataConfig"],
        json!({"s3Uri": format!("s3://hlx-imports/results/{folder}/"), "encryptionKeyID": KMS})
    );
    assert_eq!(
        manifest["successOutput"]["successOutputS3Uri"],
        format!("s3://hlx-imports/results/{folder}/{SUCCESS_FOLDER}/")
    );
    assert_eq!(manifest["numberOfScannedFiles"], 2);
    assert_eq!(manifest["numberOfResourcesScanned"], 6);
    assert_eq!(manifest["numberOfResourcesImportedSuccessfully"], 6);
    assert_eq!(manifest["numberOfResourcesWithCustomerError"], 0);

    let job = import_job(&h, &job_id);
    assert_eq!(job.output_dir.as_deref(), Some(dir.as_path()));
    assert_eq!(job.files.len(), 3);
    assert!(job.files.last().unwrap().ends_with(MANIFEST_FILE));
    assert_eq!(
        job.import_report,
        Some(ImportReport {
            scanned_files: 2,
            scanned_size_mb: mb,
            imported_files: 2,
            scanned_resources: 6,
            imported_resources: 6,
            resources_with_customer_error: 0,
            files_read_with_customer_error: 0,
            throughput: 0.1,
        })
    );
    assert_eq!(
        detail_types_of(&h, &job_id),
        [
            "Import Job Submitted",
            "Import Job In Progress",
            "Import Job Completed"
        ]
    );

    // A later export writes them, as they were given.
    let export = exported(&export_of(&h, &ds, "s3://hlx-exports/after-import/").await);
    assert_eq!(
        export["Immunization"],
        BTreeMap::from([("imp-i1".to_owned(), I1.to_owned())])
    );
    assert_eq!(export["Practitioner"]["imp-dr.1"], DR);
    assert_eq!(export["Patient"]["imp-p2"], P2);
    assert_eq!(export["Observation"]["imp-o1"], O1);
    let exported_ids: BTreeMap<String, BTreeSet<String>> = export
        .iter()
        .map(|(t, r)| (t.clone(), r.keys().cloned().collect()))
        .collect();
    assert_eq!(exported_ids, expected);
}

#[tokio::test]
async fn malformed_lines_are_logged_with_reasons_and_only_good_ones_are_stored() {
    let h = Harness::new(quick()).await;
    let empty = h
        .emulator
        .create_datastore("empty", Some(quick().with_resources([])))
        .unwrap();
    assert_eq!(h.emulator.resource_ids(&empty).unwrap(), BTreeMap::new());
    let lines: [&[u8]; 9] = [
        br#"{"resourceType":"Patient","id":"mx-p1"}"#,
        br#"{"resourceType":"Patient","id":"mx-p2""#,
        br#"{"id":"mx-3","name":[{"family":"Nobody"}]}"#,
        br#"{"resourceType":"Starship","id":"mx-4"}"#,
        br#"{"resourceType":"Observation","id":"mx o5","status":"final"}"#,
        br#"[{"resourceType":"Patient","id":"mx-6"}]"#,
        b"\xff\xfe{",
        br#"{"resourceType":"Observation","id":"mx-o8","status":"final","code":{"text":"x"}}"#,
        br#"{"resourceType":"Condition"}"#,
    ];
    let mixed = s3_uri_to_path(h.out.path(), "s3://hlx-imports/mixed/mixed.ndjson");
    std::fs::create_dir_all(mixed.parent().unwrap()).unwrap();
    std::fs::write(&mixed, lines.join(&b'\n')).unwrap();
    h.put_object(
        "s3://hlx-imports/mixed/good.ndjson",
        &[r#"{"resourceType":"Condition","id":"mx-c1"}"#],
    );
    h.put_object("s3://hlx-imports/mixed/junk.txt", &["hello"]);

    let input = "s3://hlx-imports/mixed/";
    let job_id = h.start_import(&empty, input).await;
    h.advance_secs(60);
    let done = h.describe_import(&empty, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::CompletedWithErrors);
    let folder = import_folder_name(&empty, &job_id);
    assert_eq!(
        done.message(),
        Some(
            format!(
                "3 of 11 resources were imported; 8 had errors. See the FAILURE folder at s3://hlx-imports/results/{folder}/FAILURE/"
            )
            .as_str()
        )
    );
    assert_eq!(
        counts(report_of(&done)),
        [Some(3), Some(2), Some(11), Some(3), Some(8), Some(0)]
    );

    // Only the good ones are stored.
    assert_eq!(
        h.emulator.resource_ids(&empty).unwrap(),
        ids([
            ("Condition", &["mx-c1"][..]),
            ("Observation", &["mx-o8"]),
            ("Patient", &["mx-p1"])
        ])
    );

    let dir = log_dir(&h, &empty, &job_id);
    assert_eq!(
        relative_files(&dir),
        [
            "FAILURE/junk.txt.ndjson",
            "FAILURE/mixed.ndjson",
            "SUCCESS/good.ndjson",
            "SUCCESS/mixed.ndjson",
            "manifest.json"
        ]
    );
    let failures = read_json_lines(&dir.join(FAILURE_FOLDER).join("mixed.ndjson"));
    let summary: Vec<(u64, &str, Option<&str>)> = failures
        .iter()
        .map(|f| {
            assert_eq!(f["file"], "s3://hlx-imports/mixed/mixed.ndjson");
            let outcome = &f["operationOutcome"];
            assert_eq!(outcome["resourceType"], "OperationOutcome");
            assert_eq!(outcome["issue"][0]["severity"], "error");
            assert!(
                outcome["issue"][0]["diagnostics"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty())
            );
            (
                f["line"].as_u64().unwrap(),
                outcome["issue"][0]["code"].as_str().unwrap(),
                outcome["issue"][0]["expression"][0].as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (2, "structure", None),
            (3, "required", Some("resourceType")),
            (4, "not-supported", Some("resourceType")),
            (5, "value", Some("id")),
            (6, "structure", None),
            (7, "structure", None),
            (9, "required", Some("id")),
        ]
    );
    let diagnostics = |n: usize| {
        failures[n]["operationOutcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
    };
    assert!(diagnostics(0).contains("not valid JSON"), "{}", diagnostics(0));
    assert!(diagnostics(2).contains("'Starship' is not a FHIR R4 resource type"));
    assert!(diagnostics(3).contains("'mx o5'"), "{}", diagnostics(3));
    assert!(diagnostics(5).contains("UTF-8"));
    assert_eq!(
        failures[1]["content"],
        r#"{"id":"mx-3","name":[{"family":"Nobody"}]}"#
    );
    assert_eq!(
        failures[0]["content"],
        r#"{"resourceType":"Patient","id":"mx-p2""#
    );
    let junk = read_json_lines(&dir.join("FAILURE/junk.txt.ndjson"));
    assert_eq!(junk.len(), 1);
    assert_eq!(
        (junk[0]["line"].as_u64(), junk[0]["content"].as_str()),
        (Some(1), Some("hello"))
    );
    let successes: Vec<String> = read_json_lines(&dir.join("SUCCESS/mixed.ndjson"))
        .iter()
        .map(|s| {
            format!(
                "{}/{}@{}",
                s["resourceType"].as_str().unwrap(),
                s["id"].as_str().unwrap(),
                s["line"]
            )
        })
        .collect();
    assert_eq!(successes, ["Patient/mx-p1@1", "Observation/mx-o8@8"]);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["numberOfResourcesWithCustomerError"], 8);
    assert_eq!(
        manifest["failureOutput"]["failureOutputS3Uri"],
        format!("s3://hlx-imports/results/{folder}/FAILURE/")
    );

    let events = h.emulator.events();
    let last = events.iter().rfind(|e| e.event.detail.job_id == job_id).unwrap();
    assert_eq!(last.event.detail_type, "Import Job Completed With Errors");
    assert_eq!(
        last.event.to_json()["detail"]["inputDataConfig"],
        json!({"s3Uri": input})
    );
}

#[tokio::test]
async fn an_import_from_a_missing_or_empty_prefix_fails_naming_it_and_stores_nothing() {
    let h = Harness::new(quick()).await;
    let ds = h.datastore_id.clone();
    let before = h.emulator.resource_ids(&ds).unwrap();
    // A folder that exists but holds only an empty folder is no better.
    std::fs::create_dir_all(s3_uri_to_path(h.out.path(), "s3://hlx-imports/hollow/inner/")).unwrap();
    // A key prefix that names no object, though its folder has some.
    h.put_object("s3://hlx-imports/batches/batch-1.ndjson", &[P1]);
    for input in [
        "s3://hlx-imports/nowhere/",
        "s3://hlx-imports/hollow/",
        "s3://hlx-imports/batches/day-",
    ] {
        let job_id = h.start_import(&ds, input).await;
        h.advance_secs(60);
        let done = h.describe_import(&ds, &job_id).await;
        assert_eq!(done.job_status(), &JobStatus::Failed, "{input}");
        assert_eq!(done.message(), Some(no_input_message(input).as_str()));
        assert_eq!(
            no_input_message(input),
            format!("No files were found at the input location {input}")
        );
        assert!(done.end_time().is_some());
        assert_eq!(counts(report_of(&done)), [Some(0); 6]);
        assert!(!log_dir(&h, &ds, &job_id).exists(), "no logs");
        let job = import_job(&h, &job_id);
        assert!(job.files.is_empty() && job.output_dir.is_none());
        let events = h.emulator.events();
        let last = events.iter().rfind(|e| e.event.detail.job_id == job_id).unwrap();
        assert_eq!(last.event.detail_type, "Import Job Failed");
        assert_eq!(last.event.to_json()["detail"]["inputDataConfig"]["s3Uri"], input);
    }
    assert_eq!(h.emulator.resource_ids(&ds).unwrap(), before);
    // The same key prefix does name an object once it is the right one.
    let job_id = h.start_import(&ds, "s3://hlx-imports/batches/batch-").await;
    h.advance_secs(60);
    assert_eq!(
        h.describe_import(&ds, &job_id).await.job_status(),
        &JobStatus::Completed
    );
    assert!(h.emulator.resource_ids(&ds).unwrap()["Patient"].contains("imp-p1"));
}

#[tokio::test]
async fn a_failing_profile_fails_an_import_of_good_data() {
    let h = Harness::new(quick().with_outcome(Outcome::Failed {
        message: "Access denied to the input bucket".into(),
    }))
    .await;
    let ds = h.datastore_id.clone();
    let before = h.emulator.resource_ids(&ds).unwrap();
    h.put_object("s3://hlx-imports/good/patients.ndjson", &[P1, P2]);
    let job_id = h.start_import(&ds, "s3://hlx-imports/good/").await;
    h.advance_secs(60);
    let done = h.describe_import(&ds, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::Failed);
    assert_eq!(done.message(), Some("Access denied to the input bucket"));
    assert_eq!(h.emulator.resource_ids(&ds).unwrap(), before);
    assert!(!log_dir(&h, &ds, &job_id).exists());

    // COMPLETED_WITH_ERRORS lets the data decide: good data completes.
    h.emulator
        .set_profile(&ds, quick().with_outcome(Outcome::completed_with_errors()))
        .unwrap();
    let before = h.emulator.resource_ids(&ds).unwrap();
    let job_id = h.start_import(&ds, "s3://hlx-imports/good/").await;
    h.advance_secs(60);
    let done = h.describe_import(&ds, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::Completed);
    assert_eq!(done.message(), None);
    let after = h.emulator.resource_ids(&ds).unwrap();
    assert_eq!(after["Patient"].len(), before["Patient"].len() + 2);
}

#[tokio::test]
async fn importing_an_existing_id_replaces_the_resource_and_keeps_the_count() {
    let h = Harness::new(quick()).await;
    let ds = h.datastore_id.clone();
    let first_patient: Value =
        serde_json::from_str(&h.emulator.resources(&ds).unwrap()["Patient"][0]).unwrap();
    let existing = first_patient["id"].as_str().unwrap().to_owned();
    let updated =
        json!({"resourceType": "Patient", "id": existing, "name": [{"family": "Updated"}]}).to_string();
    let twice_v1 = r#"{"resourceType":"Patient","id":"up-twice","birthDate":"1990-01-01"}"#;
    let twice_v2 = r#"{"resourceType":"Patient","id":"up-twice","birthDate":"1991-02-02"}"#;
    let fresh = r#"{"resourceType":"Patient","id":"up-new"}"#;
    h.put_object(
        "s3://hlx-imports/upsert/patients.ndjson",
        &[&updated, twice_v1, fresh, twice_v2],
    );

    let job_id = h.start_import(&ds, "s3://hlx-imports/upsert/").await;
    h.advance_secs(60);
    let done = h.describe_import(&ds, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::Completed);
    assert_eq!(
        counts(report_of(&done)),
        [Some(1), Some(1), Some(4), Some(4), Some(0), Some(0)],
        "every line imported, the repeated one twice"
    );
    let patients = &h.emulator.resources(&ds).unwrap()["Patient"];
    assert_eq!(patients.len(), 12, "10 generated, 1 replaced, 2 new");
    assert_eq!(patients[0], updated, "replaced in place");
    assert_eq!(
        patients
            .iter()
            .filter(|l| l.contains("\"up-twice\""))
            .collect::<Vec<_>>(),
        [twice_v2],
        "the last one given wins"
    );
    let outcomes: Vec<String> = read_json_lines(&log_dir(&h, &ds, &job_id).join("SUCCESS/patients.ndjson"))
        .iter()
        .map(|l| format!("{}:{}", l["id"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            format!("{existing}:updated"),
            "up-twice:created".into(),
            "up-new:created".into(),
            "up-twice:updated".into()
        ]
    );

    // The same file again: every line updates, nothing grows.
    let again = h.start_import(&ds, "s3://hlx-imports/upsert/").await;
    h.advance_secs(60);
    assert_eq!(
        h.describe_import(&ds, &again).await.job_status(),
        &JobStatus::Completed
    );
    let info = h
        .emulator
        .datastores()
        .into_iter()
        .find(|d| d.datastore_id == ds)
        .unwrap();
    assert_eq!(info.resource_counts["Patient"], 12);
    let outcomes: BTreeSet<String> =
        read_json_lines(&log_dir(&h, &ds, &again).join("SUCCESS/patients.ndjson"))
            .iter()
            .map(|l| l["outcome"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(outcomes, BTreeSet::from(["updated".to_owned()]));

    // An export writes the new version.
    let export = exported(&export_of(&h, &ds, "s3://hlx-exports/after-upsert/").await);
    assert_eq!(export["Patient"][&existing], updated);
    assert_eq!(export["Patient"].len(), 12);
}

#[tokio::test]
async fn an_export_imported_into_an_empty_data_store_exports_the_same_resources() {
    // A's export ends COMPLETED_WITH_ERRORS, so its folder has errors/ too.
    let h = Harness::new(
        quick()
            .with_resources([
                ("Patient", 6),
                ("Encounter", 9),
                ("Observation", 30),
                ("Condition", 4),
                ("Procedure", 3),
                ("MedicationRequest", 2),
            ])
            .with_outcome(Outcome::completed_with_errors()),
    )
    .await;
    let a = h.datastore_id.clone();
    let b = h
        .emulator
        .create_datastore("empty", Some(quick().with_resources([])))
        .unwrap();
    assert_eq!(h.emulator.resource_ids(&b).unwrap(), BTreeMap::new());

    let dir_a = export_of(&h, &a, "s3://hlx-exports/round-trip/").await;
    let from_a = exported(&dir_a);
    assert!(dir_a.join("errors").is_dir());
    let input = format!(
        "s3://hlx-exports/round-trip/{}/",
        dir_a.file_name().unwrap().to_string_lossy()
    );
    let job_id = h.start_import(&b, &input).await;
    h.advance_secs(60);
    let done = h.describe_import(&b, &job_id).await;
    assert_eq!(done.job_status(), &JobStatus::Completed, "{:?}", done.message());
    let lines: usize = from_a.values().map(BTreeMap::len).sum();
    assert_eq!(
        report_of(&done).total_number_of_resources_imported(),
        Some(lines as i64)
    );
    let dir_b = export_of(&h, &b, "s3://hlx-exports/round-trip-b/").await;
    let from_b = exported(&dir_b);

    // The data types: the same resources, by type and id, and the same lines.
    let data =
        |export: &BTreeMap<String, BTreeMap<String, String>>| -> BTreeMap<String, BTreeMap<String, String>> {
            export
                .iter()
                .filter(|(t, _)| *t != "OperationOutcome")
                .map(|(t, r)| (t.clone(), r.clone()))
                .collect()
        };
    assert_eq!(data(&from_a).len(), 6);
    assert_eq!(data(&from_b), data(&from_a));
    let a_ids = h.emulator.resource_ids(&a).unwrap();
    let mut b_ids = h.emulator.resource_ids(&b).unwrap();
    // A's errors/ lines are OperationOutcome resources: imported like any other.
    let outcomes = b_ids.remove("OperationOutcome").expect("errors/ was imported");
    assert_eq!(outcomes.len(), 6, "one per exported type");
    assert_eq!(b_ids, a_ids);
    assert_eq!(from_b["OperationOutcome"], from_a["OperationOutcome"]);
}
