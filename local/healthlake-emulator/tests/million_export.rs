//! A million-resource export in flat memory, through the emulator's API on
//! its virtual clock. Its own test binary (its own process): the peak RSS
//! it reads (`VmHWM`) is then its own, not that of tests running beside it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hlx_clock::VirtualClock;
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobProfile};
use serde_json::{Value, json};

const OBSERVATIONS: usize = 1_000_000;
const PER_FILE: usize = 5000;
/// How much the peak RSS may grow over the export: a few files' worth,
/// where holding the million lines took over a gigabyte.
const MAX_GROWTH_KIB: u64 = 100 * 1024;

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn job_status(answer: &Value) -> String {
    answer["ExportJobProperties"]["JobStatus"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_observations_are_exported_in_flat_memory_without_blocking_the_api() {
    let out = TempDir(std::env::temp_dir().join(format!("hlx-million-{}", std::process::id())));
    let config = EmulatorConfig {
        output_root: Some(out.0.clone()),
        resources_per_file: PER_FILE,
        ..EmulatorConfig::default()
    };
    let clock = VirtualClock::default();
    let emulator = Emulator::new(config, Arc::new(clock.clone()));
    let profile = JobProfile::default()
        .with_timing(Duration::from_secs(0), Duration::from_secs(60))
        .with_resources([
            ("Patient", 1000),
            ("Encounter", 5000),
            ("Observation", OBSERVATIONS),
        ]);
    let datastore_id = emulator.create_datastore("million", Some(profile)).unwrap();
    assert_eq!(
        emulator.datastores()[0].resource_counts["Observation"],
        OBSERVATIONS
    );
    let started = emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": datastore_id,
                "OutputDataConfig": { "S3Configuration": {
                    "S3Uri": "s3://bucket/million/",
                    "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                } },
                "DataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
            }),
        )
        .await
        .unwrap();
    let describe = json!({ "DatastoreId": datastore_id, "JobId": started["JobId"] });
    let before = peak_rss_kib();

    // The job's end is due: one thread advances (and so writes), the API
    // answers meanwhile.
    clock.advance_by(jiff::SignedDuration::from_secs(60));
    let began = Instant::now();
    let writer = {
        let emulator = emulator.clone();
        std::thread::spawn(move || emulator.advance())
    };
    // Ask only once the writer has begun (its first file exists): a
    // Describe that came first would itself be the caller that writes.
    let writing = out.0.join("bucket/million");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&writing).is_ok_and(|mut d| d.next().is_some()) {
        assert!(Instant::now() < deadline, "the writer never began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut slowest = Duration::ZERO;
    let mut seen_in_progress = false;
    loop {
        let asked = Instant::now();
        let answer = emulator
            .call("DescribeFHIRExportJob", describe.clone())
            .await
            .unwrap();
        slowest = slowest.max(asked.elapsed());
        match job_status(&answer).as_str() {
            "IN_PROGRESS" => seen_in_progress = true,
            "COMPLETED" => break,
            other => panic!("unexpected status {other}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.join().unwrap();
    let took = began.elapsed();
    let growth = peak_rss_kib().saturating_sub(before);
    eprintln!(
        "exported {OBSERVATIONS} observations in {took:?}; peak RSS grew {growth} KiB; slowest Describe {slowest:?}"
    );
    assert!(seen_in_progress, "the API answered while the files were written");
    assert!(slowest < Duration::from_secs(2), "a Describe waited {slowest:?}");
    assert!(growth < MAX_GROWTH_KIB, "peak RSS grew {growth} KiB");

    let job = emulator.export_jobs().pop().unwrap();
    assert_eq!(
        job.end_time,
        Some(job.start_time.unwrap() + jiff::SignedDuration::from_secs(60))
    );
    assert_eq!(job.exported_counts["Observation"], OBSERVATIONS);
    assert!(!job.exported.contains_key("Observation"), "no million ids held");
    assert_eq!(job.exported["Patient"].len(), 1000);
    let observations: Vec<_> = job
        .output_files
        .iter()
        .filter(|f| f.resource_type == "Observation")
        .collect();
    assert_eq!(observations.len(), OBSERVATIONS / PER_FILE);
    assert_eq!(observations.iter().map(|f| f.count).sum::<usize>(), OBSERVATIONS);
    let mut lines = 0;
    for file in &observations {
        assert_eq!(file.count, PER_FILE);
        let text = std::fs::read_to_string(&file.path).unwrap();
        let mut in_file = 0;
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["resourceType"], "Observation");
            in_file += 1;
        }
        assert_eq!(in_file, PER_FILE, "{:?}", file.path);
        lines += in_file;
    }
    assert_eq!(lines, OBSERVATIONS);
}
