//! Streamed types (`EmulatorConfig::stream_above`): an export of a data
//! store whose clinical types are streamed writes the very bytes an export
//! of the same data store held in memory writes, with every output fault,
//! in every scope.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hlx_clock::VirtualClock;
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobInfo, JobProfile, Outcome, OutputFault};
use serde_json::json;

use crate::common::{Clock, KMS, ROLE, S3, TempDir, files_under};
use crate::rest_client;

/// Every generated type, the clinical ones a few files long at 25 a file.
fn clinic() -> JobProfile {
    JobProfile::default()
        .with_timing(Duration::from_secs(5), Duration::from_secs(600))
        .with_resources([
            ("Patient", 30),
            ("Encounter", 60),
            ("Observation", 130),
            ("Condition", 51),
            ("Procedure", 26),
            ("MedicationRequest", 1),
            ("Group", 2),
        ])
}

/// Held (`stream_above` at the maximum) or every clinical type streamed (0).
fn stream_above(streamed: bool) -> usize {
    if streamed { 0 } else { usize::MAX }
}

/// Every file under `dir`: its path relative to `dir` and its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// The manifest of a job with the output root taken out of its paths.
fn manifest(job: &JobInfo, root: &Path) -> Vec<(String, String, String, usize, bool)> {
    job.output_files
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (f.resource_type.clone(), f.url.clone(), path, f.count, f.error)
        })
        .collect()
}

/// One export through the API of a fresh emulator (seed 5, 25 resources a
/// file), run to its end on the virtual clock: its job and its output tree.
async fn sdk_export(profile: JobProfile, streamed: bool) -> (JobInfo, BTreeMap<String, Vec<u8>>, TempDir) {
    let out = TempDir::new();
    let config = EmulatorConfig {
        seed: 5,
        output_root: Some(out.path().to_path_buf()),
        resources_per_file: 25,
        stream_above: stream_above(streamed),
        ..EmulatorConfig::default()
    };
    let clock = VirtualClock::default();
    let emulator = Emulator::new(config, Arc::new(clock.clone()));
    let datastore_id = emulator.create_datastore("stream", Some(profile)).unwrap();
    let started = emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": datastore_id,
                "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
                "DataAccessRoleArn": ROLE,
            }),
        )
        .await
        .unwrap();
    while let Some(at) = emulator.next_change_at() {
        clock.advance_to(at.max(clock.now()));
        emulator.advance();
    }
    let job = emulator.export_jobs().pop().unwrap();
    assert_eq!(job.job_id, started["JobId"].as_str().unwrap());
    let counts = emulator.datastores()[0].resource_counts.clone();
    assert_eq!(counts["Observation"], 130, "streamed types are counted");
    let files = tree(out.path());
    (job, files, out)
}

/// Exports `profile` held and streamed; asserts the same bytes, manifest
/// and counts; returns the held job.
async fn same_export_held_and_streamed(profile: JobProfile) -> JobInfo {
    let (held, held_files, held_out) = sdk_export(profile.clone(), false).await;
    let (streamed, streamed_files, streamed_out) = sdk_export(profile, true).await;
    assert_eq!(held.status, streamed.status);
    assert!(!held_files.is_empty());
    assert_eq!(
        held_files.keys().collect::<Vec<_>>(),
        streamed_files.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &held_files {
        assert!(streamed_files[path] == *bytes, "{path} differs");
    }
    assert_eq!(
        manifest(&held, held_out.path()),
        manifest(&streamed, streamed_out.path())
    );
    assert_eq!(held.exported_counts, streamed.exported_counts);
    // Streamed types' ids are not kept; held types' are, alike.
    for (t, ids) in &held.exported {
        assert_eq!(held.exported_counts[t], ids.len());
        let clinical = ["Observation", "Condition", "Procedure", "MedicationRequest"].contains(&t.as_str());
        assert_eq!(!streamed.exported.contains_key(t), clinical, "{t}");
        if !clinical {
            assert_eq!(&streamed.exported[t], ids);
        }
    }
    held
}

#[tokio::test]
async fn a_streamed_export_writes_the_bytes_of_a_held_one() {
    let job = same_export_held_and_streamed(clinic()).await;
    assert_eq!(job.exported_total(), 300);
    assert_eq!(job.output_files.len(), 2 + 3 + 6 + 3 + 2 + 1 + 1);
}

#[tokio::test]
async fn every_output_fault_hits_a_streamed_type_as_a_held_one() {
    let faults = |t: &str| {
        let t = t.to_owned();
        vec![
            OutputFault::TruncatedFile {
                resource_type: t.clone(),
            },
            OutputFault::MalformedLine {
                resource_type: t.clone(),
            },
            OutputFault::WrongType {
                resource_type: t.clone(),
            },
            OutputFault::DuplicateId {
                resource_type: t.clone(),
            },
            OutputFault::MissingType {
                resource_type: t.clone(),
            },
            OutputFault::ManifestCountMismatch {
                resource_type: t,
                delta: -3,
            },
        ]
    };
    // One file (Procedure: 26 at 25 a file is two; MedicationRequest is one line).
    for t in ["Observation", "Procedure", "MedicationRequest"] {
        for fault in faults(t) {
            same_export_held_and_streamed(clinic().with_output_fault(fault)).await;
        }
    }
    // Several faults on one type, in an order where the duplicate copies a
    // line 1 already replaced, and a type absent next to one cut.
    let combined = clinic()
        .with_output_fault(OutputFault::WrongType {
            resource_type: "Observation".into(),
        })
        .with_output_fault(OutputFault::DuplicateId {
            resource_type: "Observation".into(),
        })
        .with_output_fault(OutputFault::MalformedLine {
            resource_type: "Observation".into(),
        })
        .with_output_fault(OutputFault::TruncatedFile {
            resource_type: "Observation".into(),
        })
        .with_output_fault(OutputFault::ManifestCountMismatch {
            resource_type: "Observation".into(),
            delta: 2,
        })
        .with_output_fault(OutputFault::MissingType {
            resource_type: "Condition".into(),
        })
        .with_output_fault(OutputFault::DuplicateId {
            resource_type: "MedicationRequest".into(),
        })
        .with_outcome(Outcome::completed_with_errors());
    let job = same_export_held_and_streamed(combined).await;
    assert!(job.output_files.iter().any(|f| f.error), "an error file");
    assert!(!job.output_files.iter().any(|f| f.resource_type == "Condition"));
}

/// A REST `$export` of `scope`/`query` from a data store held or streamed:
/// its output tree and job.
async fn rest_export(scope: &str, query: &str, streamed: bool) -> (BTreeMap<String, Vec<u8>>, JobInfo) {
    let h = rest_client::Harness::with(VirtualClock::default(), clinic(), |c| {
        c.stream_above = stream_above(streamed);
        c.resources_per_file = 25;
    })
    .await;
    let scope = scope.replace("{group}", h.data()["Group"].keys().next().unwrap());
    let job_id = h.start(&scope, query).await;
    h.run_to_end();
    let job = h.job(&job_id);
    (tree(h.out.path()), job)
}

#[tokio::test]
async fn scoped_and_filtered_rest_exports_stream_as_they_hold() {
    let since = "?_since=2025-12-20T00:00:00Z";
    let cases = [
        ("Patient/", ""),
        ("Group/{group}/", ""),
        ("Group/{group}/", "?_type=Patient,Observation,Condition"),
        ("", since),
        ("Patient/", "?_type=Observation&_until=2025-12-25T00:00:00Z"),
    ];
    for (scope, query) in cases {
        let (held, held_job) = rest_export(scope, query, false).await;
        let (streamed, streamed_job) = rest_export(scope, query, true).await;
        assert!(!held.is_empty(), "{scope}{query}");
        assert!(
            held == streamed,
            "{scope}{query}: {:?} vs {:?}",
            held.keys().collect::<Vec<_>>(),
            streamed.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            held_job.exported_counts, streamed_job.exported_counts,
            "{scope}{query}"
        );
        let all: usize = 300;
        assert!(
            held_job.exported_total() < all + 30 + 60 + 2,
            "{scope}{query} filters"
        );
    }
}
