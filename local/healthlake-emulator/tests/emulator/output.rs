//! Export output: the S3 layout on disk, NDJSON lines, counts, splits and references.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_healthlake::types::JobStatus;
use hlx_healthlake_emulator::{ERROR_FOLDER, JobProfile, Outcome};
use serde_json::Value;

use crate::common::*;

fn clinic() -> JobProfile {
    JobProfile::default()
        .with_timing(Duration::from_secs(0), Duration::from_secs(3600))
        .with_resources([
            ("Patient", 12),
            ("Encounter", 30),
            ("Observation", 120),
            ("Condition", 7),
        ])
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{path:?}: {e}: {line}")))
        .collect()
}

async fn completed_export(h: &Harness, s3_uri: &str) -> (String, PathBuf) {
    let job = h
        .start_export(|a| StartArgs {
            s3_uri: s3_uri.into(),
            ..a
        })
        .await
        .unwrap();
    h.advance_secs(3600);
    let props = h.describe_export(job.job_id()).await;
    assert!(
        matches!(
            props.job_status(),
            JobStatus::Completed | JobStatus::CompletedWithErrors
        ),
        "{props:?}"
    );
    let dir = h.out.path().join("hlx-exports/nightly").join(format!(
        "{}-FHIR_EXPORT-{}",
        h.datastore_id,
        job.job_id()
    ));
    (job.job_id().to_owned(), dir)
}

#[tokio::test]
async fn a_completed_export_writes_the_s3_layout_split_into_files() {
    let h = Harness::with_config(clinic(), |c| c.resources_per_file = 50).await;
    let (job_id, dir) = completed_export(&h, "s3://hlx-exports/nightly/").await;
    let relative: Vec<String> = files_under(&dir)
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        relative,
        [
            "Condition/Condition-1.ndjson",
            "Encounter/Encounter-1.ndjson",
            "Observation/Observation-1.ndjson",
            "Observation/Observation-2.ndjson",
            "Observation/Observation-3.ndjson",
            "Patient/Patient-1.ndjson",
        ]
    );
    let lines: Vec<usize> = ["Observation-1", "Observation-2", "Observation-3"]
        .iter()
        .map(|f| read_lines(&dir.join("Observation").join(format!("{f}.ndjson"))).len())
        .collect();
    assert_eq!(lines, [50, 50, 20]);
    let job = h
        .emulator
        .export_jobs()
        .into_iter()
        .find(|j| j.job_id == job_id)
        .unwrap();
    assert_eq!(job.output_dir.as_deref(), Some(dir.as_path()));
    assert_eq!(job.files.len(), 6);
}

#[tokio::test]
async fn exported_resources_are_fhir_r4_with_resolvable_references() {
    let h = Harness::new(clinic()).await;
    let (_, dir) = completed_export(&h, "s3://hlx-exports/nightly").await;
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for file in files_under(&dir) {
        let folder = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for resource in read_lines(&file) {
            assert_eq!(
                resource["resourceType"].as_str(),
                Some(folder.as_str()),
                "{file:?}"
            );
            by_type.entry(folder.clone()).or_default().push(resource);
        }
    }
    let counts: BTreeMap<&str, usize> = by_type.iter().map(|(t, r)| (t.as_str(), r.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("Condition", 7),
            ("Encounter", 30),
            ("Observation", 120),
            ("Patient", 12)
        ])
    );
    let mut ids = HashSet::new();
    for resources in by_type.values() {
        for r in resources {
            let id = r["id"].as_str().expect("id");
            assert!(!id.is_empty() && id.len() <= 64);
            assert!(
                ids.insert(format!("{}/{id}", r["resourceType"].as_str().unwrap())),
                "unique ids"
            );
            let updated = r["meta"]["lastUpdated"].as_str().expect("meta.lastUpdated");
            updated.parse::<jiff::Timestamp>().expect("an instant");
        }
    }
    for p in &by_type["Patient"] {
        assert!(p["name"][0]["family"].is_string());
        assert!(matches!(p["gender"].as_str(), Some("male" | "female")));
        assert!(p["birthDate"].as_str().is_some_and(|d| d.len() == 10));
    }
    let patient_of: HashMap<String, String> = by_type["Encounter"]
        .iter()
        .map(|e| {
            let subject = e["subject"]["reference"]
                .as_str()
                .expect("Encounter.subject")
                .to_owned();
            assert!(ids.contains(&subject), "{subject} exists");
            (format!("Encounter/{}", e["id"].as_str().unwrap()), subject)
        })
        .collect();
    for o in &by_type["Observation"] {
        let subject = o["subject"]["reference"].as_str().expect("Observation.subject");
        let encounter = o["encounter"]["reference"]
            .as_str()
            .expect("Observation.encounter");
        assert_eq!(
            patient_of[encounter], subject,
            "an observation's patient is its encounter's"
        );
        assert_eq!(o["status"], "final");
        assert!(o["code"]["coding"][0]["system"].as_str() == Some("http://loinc.org"));
        assert!(o["valueQuantity"]["value"].is_number());
    }
    for c in &by_type["Condition"] {
        let subject = c["subject"]["reference"].as_str().expect("Condition.subject");
        assert!(ids.contains(subject));
        assert!(c["code"]["coding"][0]["code"].is_string());
    }
}

#[tokio::test]
async fn output_is_the_data_stores_content_and_repeats_for_a_seed() {
    let contents = |seed: u64| async move {
        let h = Harness::with_config(clinic(), |c| c.seed = seed).await;
        let (_, dir) = completed_export(&h, "s3://hlx-exports/nightly").await;
        let files: Vec<String> = files_under(&dir)
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        let stored = h.emulator.resources(&h.datastore_id).unwrap();
        let exported: Vec<String> = files.iter().flat_map(|f| f.lines().map(str::to_owned)).collect();
        let held: Vec<String> = stored.values().flatten().cloned().collect();
        assert_eq!(
            exported, held,
            "an export writes exactly the data store's content"
        );
        (h.datastore_id.clone(), held)
    };
    let (ds_a, a) = contents(1).await;
    let (ds_b, b) = contents(1).await;
    let (_, c) = contents(2).await;
    assert_eq!(ds_a, ds_b, "ids come from the seed too");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn completed_with_errors_writes_an_error_file_and_failed_writes_nothing() {
    let h = Harness::new(clinic().with_outcome(Outcome::completed_with_errors())).await;
    let (_, dir) = completed_export(&h, "s3://hlx-exports/nightly/").await;
    let errors = dir.join(ERROR_FOLDER).join("OperationOutcome-1.ndjson");
    let outcomes = read_lines(&errors);
    assert_eq!(outcomes.len(), 4, "one per exported type");
    assert!(outcomes.iter().all(|o| o["resourceType"] == "OperationOutcome"));
    assert!(outcomes.iter().all(|o| o["issue"][0]["severity"] == "error"));
    assert!(
        dir.join("Patient/Patient-1.ndjson").exists(),
        "the data is written too"
    );

    h.emulator
        .set_profile(&h.datastore_id, clinic().with_outcome(Outcome::failed()))
        .unwrap();
    let job = h.start_export(|a| a).await.unwrap();
    h.advance_secs(3600);
    let props = h.describe_export(job.job_id()).await;
    assert_eq!(props.job_status(), &JobStatus::Failed);
    let failed_dir = h.out.path().join("hlx-exports/nightly").join(format!(
        "{}-FHIR_EXPORT-{}",
        h.datastore_id,
        job.job_id()
    ));
    assert!(!failed_dir.exists());
    assert!(h.emulator.export_jobs()[1].files.is_empty());
}

#[tokio::test]
async fn prefixes_map_under_the_output_root_and_counts_follow_the_profile() {
    let h = Harness::new(clinic()).await;
    h.emulator
        .set_profile(
            &h.datastore_id,
            clinic().with_resources([("Patient", 3), ("Procedure", 2)]),
        )
        .unwrap();
    let job = h
        .start_export(|a| StartArgs {
            s3_uri: "s3://other-bucket/a/b/c".into(),
            ..a
        })
        .await
        .unwrap();
    h.advance_secs(3600);
    h.emulator.advance();
    let dir = h.out.path().join("other-bucket/a/b/c").join(format!(
        "{}-FHIR_EXPORT-{}",
        h.datastore_id,
        job.job_id()
    ));
    assert_eq!(read_lines(&dir.join("Patient/Patient-1.ndjson")).len(), 3);
    assert_eq!(read_lines(&dir.join("Procedure/Procedure-1.ndjson")).len(), 2);
    assert!(!dir.join("Observation").exists());
    let info = &h.emulator.datastores()[0];
    assert_eq!(
        info.resource_counts,
        BTreeMap::from([("Patient".into(), 3), ("Procedure".into(), 2)])
    );
}

#[tokio::test]
async fn a_profile_with_an_unknown_resource_type_is_refused() {
    let h = Harness::new(clinic()).await;
    let err = h
        .emulator
        .set_profile(&h.datastore_id, clinic().with_resources([("Spaceship", 1)]))
        .unwrap_err();
    assert!(err.to_string().contains("Spaceship"));
    assert!(
        h.emulator
            .create_datastore("x", Some(clinic().with_resources([("Nope", 1)])))
            .is_err()
    );
    assert!(h.emulator.set_profile("no-such-store", clinic()).is_err());
}
