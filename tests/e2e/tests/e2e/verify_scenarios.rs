//! Verified exports end to end: the real definition on the local runner
//! (virtual time), the release binaries (verify-export among them) behind a
//! local Lambda Runtime API, the emulator's exports read back through its S3
//! API, and history in a real DynamoDB-compatible server (moto).
//!
//! Each scenario asserts the verdict and its reasons in the DynamoDB record,
//! that HealthLake's status is untouched, and what the stack's topic received.

use std::collections::BTreeMap;

use hlx_asl_runner::{EventKind, ExecutionStatus};
use hlx_core::ExportSelection;
use hlx_core::verification::{Verdict, Verification, VerificationPath, VerifyPolicy};
use hlx_core::{JobRecord, JobStatus, RecordStatus};
use hlx_e2e::scenario::{Scenario, report, scenario};
use hlx_healthlake_emulator::{JobProfile, OutputFault};

/// The resources the emulator holds per type: what a whole export must count.
fn held(s: &Scenario) -> BTreeMap<String, u64> {
    s.stack
        .emulator
        .resources(s.datastore())
        .unwrap()
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(t, ids)| (t, ids.len() as u64))
        .collect()
}

fn verification(record: &JobRecord) -> &Verification {
    record
        .verification
        .as_ref()
        .expect("the record keeps the verdict")
}

fn codes(v: &Verification) -> Vec<&'static str> {
    v.reasons.iter().map(|r| r.code()).collect()
}

#[tokio::test]
async fn a_clean_full_export_is_verified_with_the_exact_counts_and_the_night_is_notified() {
    let s = scenario("verify-clean", |_| {}).await;
    let done = s
        .run("nightly-clean", s.stack.export_request(s.datastore()))
        .await;
    report("verified export", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("nightly-clean").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    let v = verification(&record);
    assert_eq!(v.verdict, Verdict::Verified, "{v:?}");
    assert_eq!(v.path, VerificationPath::Single);
    assert_eq!(v.resources_by_type, held(&s));
    assert_eq!(v.resources, held(&s).values().sum::<u64>());
    let job = &s.stack.emulator.export_jobs()[0];
    assert_eq!(
        v.files,
        job.files.len() as u64,
        "every file of the export was read"
    );
    // The nightly export's notice says it was verified.
    let notices = s.stack.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let subject = notices[0].subject.as_deref().unwrap();
    assert_eq!(
        subject,
        format!("hlx nightly export of {}: VERIFIED", s.datastore())
    );
    assert!(
        notices[0].message.contains("Verification: VERIFIED"),
        "{}",
        notices[0].message
    );
}

#[tokio::test]
async fn a_night_that_loses_a_type_is_suspect_and_its_status_stays_completed() {
    let s = scenario("verify-lost-type", |_| {}).await;
    let first = s.run("nightly-1", s.stack.export_request(s.datastore())).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded);
    assert_eq!(
        verification(&s.record("nightly-1").await).verdict,
        Verdict::Verified
    );
    // The data store loses every Condition before the second night.
    let without_condition =
        JobProfile::default().with_resources([("Patient", 10), ("Encounter", 20), ("Observation", 50)]);
    s.stack
        .emulator
        .set_profile(
            s.datastore(),
            without_condition.with_timing(
                std::time::Duration::from_secs(20),
                std::time::Duration::from_secs(3 * 3600),
            ),
        )
        .unwrap();
    let second = s.run("nightly-2", s.stack.export_request(s.datastore())).await;
    report("a night that lost a type", &second);
    assert_eq!(
        second.status,
        ExecutionStatus::Succeeded,
        "a suspect export is still a completed one"
    );
    let record = s.record("nightly-2").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(record.job_status.as_deref(), Some("COMPLETED"));
    let v = verification(&record);
    assert_eq!(v.verdict, Verdict::Suspect, "{v:?}");
    assert_eq!(codes(v), ["TYPE_MISSING"]);
    assert_eq!(v.baseline.as_deref(), Some("nightly-1"));
    let notice = s.stack.notices().pop().unwrap();
    assert!(notice.subject.unwrap().ends_with("SUSPECT"));
    assert!(
        notice
            .message
            .contains("TYPE_MISSING: Condition is missing; export nightly-1 had 10"),
        "{}",
        notice.message
    );
}

#[tokio::test]
async fn a_large_export_goes_through_the_distributed_map_and_gets_the_same_verdict() {
    let s = scenario("verify-distributed", |c| {
        // 25 data files and manifest.json: batches of 10 make three children.
        c.resources_per_file = 10;
        // The duplicate check in several shards (the export is ~120 kB).
        c.verify = distributed_in_shards_of(40_000);
        c.profile = JobProfile::default()
            .with_timing(
                std::time::Duration::from_secs(20),
                std::time::Duration::from_secs(3 * 3600),
            )
            .with_resources([
                ("Patient", 40),
                ("Encounter", 60),
                ("Observation", 120),
                ("Condition", 30),
            ]);
    })
    .await;
    // The first child crashes (verify-export's second invocation): its
    // own Retry runs it again and the verdict still arrives.
    s.stack
        .processes
        .as_ref()
        .unwrap()
        .crash_on_invocation("hlx-verify-export", 2);
    let done = s.run("nightly-big", s.stack.export_request(s.datastore())).await;
    report("verified by the Distributed Map", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("nightly-big").await;
    let spread = verification(&record).clone();
    assert_eq!(spread.path, VerificationPath::Distributed);
    assert_eq!(spread.verdict, Verdict::Verified, "{spread:?}");
    assert_eq!(spread.resources_by_type, held(&s));
    let children: Vec<_> = s
        .stack
        .runner
        .executions()
        .into_iter()
        .map(|e| e.describe())
        .filter(|e| e.name != "nightly-big")
        .collect();
    // 26 objects in batches of 10 (the definition's MaxItemsPerBatch).
    assert_eq!(children.len(), 3, "the Map ran child executions");
    assert!(children.iter().all(|c| c.status == ExecutionStatus::Succeeded));
    assert!(
        children[0].arn.contains(":execution:hlx-job/VerifyFiles:"),
        "{}",
        children[0].arn
    );
    // The crashed child ran again (its VerifyBatch Retry), once.
    let retries: u64 = children.iter().map(|c| c.stats.retries).sum();
    assert_eq!(retries, 1, "one retry, of the crashed child");
    // Child executions are billed as executions of their own.
    let child_transitions: u64 = children.iter().map(|c| c.stats.state_transitions).sum();
    assert_eq!(
        s.stack.runner.stats().state_transitions,
        done.stats.state_transitions + child_transitions
    );
    // The duplicate check ran once for each shard of the export's bytes.
    let shards = spread.bytes.div_ceil(40_000);
    assert!(shards >= 3, "{} bytes", spread.bytes);
    assert_eq!(shard_checks(&s, "nightly-big"), (0..shards).collect::<Vec<_>>());
    // The id lists went once judged; the children's results and each
    // shard's findings stay beside the export.
    let kept = verification_objects(&s);
    assert!(!kept.iter().any(|k| k.contains("/ids/")), "{kept:#?}");
    let findings = kept.iter().filter(|k| k.contains("/duplicates/shard-")).count();
    assert_eq!(findings as u64, shards, "{kept:#?}");
    assert!(kept.iter().any(|k| k.ends_with("/manifest.json")), "{kept:#?}");
    // The same files read again by one reader give the same verdict.
    let mut single = s
        .stack
        .verify_again("nightly-big", &VerifyPolicy::default(), false)
        .await
        .unwrap();
    assert_eq!(single.path, VerificationPath::Single);
    single.path = spread.path;
    single.verified_at = spread.verified_at;
    assert_eq!(single, spread);
}

/// Every task that failed (retried or not), in every execution: `execution
/// state: error: cause` (a callback's timeout, AwaitJob's fallback, is not one).
fn failed_tasks(s: &Scenario) -> Vec<String> {
    let mut failures = Vec::new();
    for execution in s.stack.runner.executions() {
        let mut state = String::new();
        for event in execution.history() {
            match event.kind {
                EventKind::StateEntered { name, .. } => state = name,
                EventKind::LambdaFunctionFailed { error, cause }
                | EventKind::TaskFailed { error, cause, .. } => failures.push(format!(
                    "{} {state}: {error}: {}",
                    execution.name(),
                    cause.unwrap_or_default()
                )),
                _ => {}
            }
        }
    }
    failures
}

/// The objects under the emulator's S3 whose key is in an `hlx-verification/` folder.
fn verification_objects(s: &Scenario) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path.to_string_lossy().into_owned());
            }
        }
    }
    let root = s
        .stack
        .emulator
        .config()
        .output_root
        .expect("the emulator writes files");
    let mut all = Vec::new();
    walk(&root, &mut all);
    all.retain(|k| k.contains("/hlx-verification/"));
    all
}

/// Every export of more than 2 files on the Distributed Map, its duplicate
/// check in shards of `shard_bytes`.
fn distributed_in_shards_of(shard_bytes: u64) -> VerifyPolicy {
    VerifyPolicy {
        single_max_files: 2,
        shard_bytes,
        ..VerifyPolicy::default()
    }
}

/// The shards `CheckDuplicates` checked (each `FindDuplicates`' input), in order.
fn shard_checks(s: &Scenario, execution: &str) -> Vec<u64> {
    let mut shards: Vec<u64> = s
        .stack
        .runner
        .execution(execution)
        .expect("the execution is known")
        .history()
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::StateEntered { name, input, .. } if name == "FindDuplicates" => {
                input["shard"].as_u64()
            }
            _ => None,
        })
        .collect();
    shards.sort_unstable();
    shards
}

#[tokio::test]
async fn a_duplicate_across_children_is_found_in_its_shard_as_one_reader_finds_it() {
    let s = scenario("verify-distributed-duplicate", |c| {
        // In key order, 8 Encounter files, then Observation-1, -10, -11,
        // -12, -2 ... (12 of 10): batches of 10 files put the first
        // (Observation-1) and the last (Observation-12) in different children.
        c.resources_per_file = 10;
        c.verify = distributed_in_shards_of(25_000);
        c.profile = JobProfile::default()
            .with_resources([("Patient", 30), ("Encounter", 80), ("Observation", 120)])
            .with_output_fault(OutputFault::DuplicateId {
                resource_type: "Observation".into(),
            });
    })
    .await;
    let done = s.run("nightly-dup", s.stack.export_request(s.datastore())).await;
    report("a duplicate found by the sharded check", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("nightly-dup").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    let spread = verification(&record).clone();
    assert_eq!(spread.path, VerificationPath::Distributed);
    assert_eq!(spread.verdict, Verdict::Suspect, "{spread:?}");
    assert_eq!(codes(&spread), ["DUPLICATE_ID"]);
    match &spread.reasons[0] {
        hlx_core::verification::Reason::DuplicateId {
            file,
            line,
            first_file,
            first_line,
            ..
        } => {
            assert_eq!((file.as_str(), *line), ("Observation/Observation-12.ndjson", 10));
            assert_eq!(
                (first_file.as_str(), *first_line),
                ("Observation/Observation-1.ndjson", 1)
            );
        }
        other => panic!("{other:?}"),
    }
    let shards = shard_checks(&s, "nightly-dup");
    assert!(shards.len() >= 3, "{shards:?}");
    let mut single = s
        .stack
        .verify_again("nightly-dup", &VerifyPolicy::default(), false)
        .await
        .unwrap();
    single.path = spread.path;
    single.verified_at = spread.verified_at;
    assert_eq!(single, spread, "one reader and the sharded check agree");
}

/// One night of a data store whose exports have `fault`, over the FHIR REST
/// `$export` (a type selection), so HealthLake's manifest carries counts.
async fn night_with(name: &str, fault: OutputFault) -> (Scenario, JobRecord) {
    let s = scenario(name, |c| {
        c.resources_per_file = 20;
        c.profile = c.profile.clone().with_output_fault(fault);
        c.nightly = ExportSelection {
            types: ["Condition", "Encounter", "Observation", "Patient"]
                .map(String::from)
                .to_vec(),
            ..ExportSelection::default()
        };
    })
    .await;
    let done = s.run(name, s.stack.export_request(s.datastore())).await;
    report(name, &done);
    assert_eq!(
        done.status,
        ExecutionStatus::Succeeded,
        "a suspect export is still a completed one: {done:?}"
    );
    let record = s.record(name).await;
    assert_eq!(
        record.status,
        RecordStatus::Job(JobStatus::Completed),
        "HealthLake's status stays"
    );
    (s, record)
}

fn fault(kind: fn(String) -> OutputFault, resource_type: &str) -> OutputFault {
    kind(resource_type.to_owned())
}

#[tokio::test]
async fn each_output_fault_makes_the_export_suspect_and_names_it() {
    use hlx_core::verification::Reason;
    let cases: [(&str, OutputFault, &str); 5] = [
        (
            "fault-truncated",
            fault(|t| OutputFault::TruncatedFile { resource_type: t }, "Observation"),
            "TRUNCATED_FILE",
        ),
        (
            "fault-malformed",
            fault(|t| OutputFault::MalformedLine { resource_type: t }, "Patient"),
            "MALFORMED_LINE",
        ),
        (
            "fault-wrong-type",
            fault(|t| OutputFault::WrongType { resource_type: t }, "Encounter"),
            "WRONG_TYPE",
        ),
        (
            "fault-duplicate",
            fault(|t| OutputFault::DuplicateId { resource_type: t }, "Observation"),
            "DUPLICATE_ID",
        ),
        (
            "fault-manifest",
            OutputFault::ManifestCountMismatch {
                resource_type: "Condition".into(),
                delta: 2,
            },
            "COUNT_MISMATCH",
        ),
    ];
    for (name, output_fault, code) in cases {
        let (_s, record) = night_with(name, output_fault).await;
        let v = verification(&record);
        assert_eq!(v.verdict, Verdict::Suspect, "{name}: {v:?}");
        assert!(codes(v).contains(&code), "{name}: {:?}", codes(v));
        match (code, &v.reasons[0]) {
            ("TRUNCATED_FILE", Reason::TruncatedFile { file, .. }) => {
                // 50 observations, 20 a file: the third file is the last.
                assert_eq!(file, "Observation/Observation-3.ndjson");
            }
            ("MALFORMED_LINE", Reason::MalformedLine { file, line, .. }) => {
                assert_eq!((file.as_str(), *line), ("Patient/Patient-1.ndjson", 1));
            }
            ("WRONG_TYPE", Reason::WrongType { file, found, .. }) => {
                assert_eq!(
                    (file.as_str(), found.as_str()),
                    ("Encounter/Encounter-1.ndjson", "Group")
                );
            }
            (
                "DUPLICATE_ID",
                Reason::DuplicateId {
                    file,
                    first_file,
                    first_line,
                    ..
                },
            ) => {
                assert_eq!(file, "Observation/Observation-3.ndjson");
                assert_eq!(
                    (first_file.as_str(), *first_line),
                    ("Observation/Observation-1.ndjson", 1)
                );
            }
            (
                "COUNT_MISMATCH",
                Reason::CountMismatch {
                    resource_type,
                    manifest,
                    files,
                },
            ) => {
                assert_eq!((resource_type.as_str(), *manifest, *files), ("Condition", 12, 10));
            }
            (code, reason) => panic!("{name}: {code} first, got {reason:?}"),
        }
        assert_eq!(record.job_status.as_deref(), Some("COMPLETED"));
    }
}

#[tokio::test]
async fn a_type_missing_from_the_files_is_suspect_against_the_previous_night() {
    let s = scenario("fault-missing-type", |_| {}).await;
    s.run("nightly-a", s.stack.export_request(s.datastore())).await;
    let profile = JobProfile::default()
        .with_timing(
            std::time::Duration::from_secs(20),
            std::time::Duration::from_secs(3 * 3600),
        )
        .with_output_fault(OutputFault::MissingType {
            resource_type: "Encounter".into(),
        });
    s.stack.emulator.set_profile(s.datastore(), profile).unwrap();
    s.run("nightly-b", s.stack.export_request(s.datastore())).await;
    let record = s.record("nightly-b").await;
    let v = verification(&record);
    assert_eq!(codes(v), ["TYPE_MISSING"], "{v:?}");
    // The data store still holds them: only the export lost them.
    assert_eq!(held(&s)["Encounter"], 20);
}

#[tokio::test]
async fn s3_access_denied_makes_the_export_unverifiable_and_notifies() {
    let s = scenario("verify-denied", |_| {}).await;
    s.stack.emulator.deny_s3_reads("s3://hlx-local-exports/nightly/");
    let done = s
        .run("nightly-denied", s.stack.export_request(s.datastore()))
        .await;
    report("S3 access denied", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("nightly-denied").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    let v = verification(&record);
    assert_eq!(v.verdict, Verdict::Unverifiable, "{v:?}");
    assert!(v.why.as_deref().unwrap().contains("AccessDenied"), "{v:?}");
    let notice = s.stack.notices().pop().expect("a notice");
    assert!(notice.subject.as_deref().unwrap().ends_with("UNVERIFIABLE"));
    assert!(notice.message.contains("AccessDenied"), "{}", notice.message);
}

/// An export of realistic size: a million Observations (the emulator streams
/// them, file by file, ~700 MB in 200 files of 5,000) verified by the
/// Distributed Map with the duplicate check in shards, every resource
/// counted exactly, the id lists gone after.
#[tokio::test]
async fn a_million_resources_are_verified_on_the_distributed_map_in_shards() {
    const OBSERVATIONS: u64 = 1_000_000;
    let s = scenario("verify-million", |c| {
        c.verify = VerifyPolicy {
            single_max_files: 50,
            // 3 shards of the ~700 MB.
            shard_bytes: 256 * 1024 * 1024,
            ..VerifyPolicy::default()
        };
        c.profile = JobProfile::default()
            .with_timing(
                std::time::Duration::from_secs(20),
                std::time::Duration::from_secs(3 * 3600),
            )
            .with_resources([
                ("Patient", 1000),
                ("Encounter", 5000),
                ("Observation", OBSERVATIONS as usize),
            ]);
    })
    .await;
    let started = std::time::Instant::now();
    let done = s
        .run("nightly-million", s.stack.export_request(s.datastore()))
        .await;
    report("a million resources verified", &done);
    println!("    {:.1}s of wall time", started.elapsed().as_secs_f64());
    for failure in failed_tasks(&s) {
        println!("    {failure}");
    }
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let job = s.stack.emulator.export_jobs().pop().unwrap();
    assert_eq!(job.exported_counts["Observation"], OBSERVATIONS as usize);
    let record = s.record("nightly-million").await;
    let v = verification(&record);
    assert_eq!(v.verdict, Verdict::Verified, "{v:?}");
    assert_eq!(v.path, VerificationPath::Distributed);
    let counts: BTreeMap<String, u64> = s.stack.emulator.datastores()[0]
        .resource_counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (t.clone(), *n as u64))
        .collect();
    assert_eq!(v.resources_by_type, counts);
    assert_eq!(v.resources_by_type["Observation"], OBSERVATIONS);
    assert_eq!(v.files, job.files.len() as u64, "every file read");
    assert!(v.files > 200, "{} files", v.files);
    let shards = shard_checks(&s, "nightly-million");
    assert_eq!(shards, [0, 1, 2], "the duplicate check in 3 shards");
    let map_runs = s.stack.runner.map_runs().len();
    assert_eq!(map_runs, 1, "one Map Run");
    let kept = verification_objects(&s);
    assert!(!kept.iter().any(|k| k.contains("/ids/")), "{kept:#?}");
}
