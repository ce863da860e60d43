//! The `healthlake-emulator` binary: its stdout contract and its flags, on real time.

use std::process::Stdio;
use std::time::Duration;

use aws_sdk_healthlake::types::JobStatus;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::*;

#[tokio::test]
async fn the_binary_prints_its_url_then_its_data_stores_and_serves() {
    let out = TempDir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_healthlake-emulator"))
        .args([
            "--port",
            "0",
            "--seed",
            "9",
            "--queue-delay",
            "0",
            "--job-duration",
            "0.2",
        ])
        .args(["--resources", "Patient=2,Condition=3"])
        .args(["--create-datastore", "alpha", "--create-datastore", "beta"])
        .arg("--output-root")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let url = first
        .strip_prefix("listening on http://127.0.0.1:")
        .map(|port| {
            assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{first}");
            first.trim_start_matches("listening on ").to_owned()
        })
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let mut ids = Vec::new();
    for name in ["alpha", "beta"] {
        let line = lines.next_line().await.unwrap().expect("a data store line");
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[..2], ["datastore", name], "{line}");
        ids.push(parts[2].to_owned());
    }

    let client = client(&url);
    let props = client
        .describe_fhir_datastore()
        .datastore_id(&ids[1])
        .send()
        .await
        .expect("describe")
        .datastore_properties
        .unwrap();
    assert_eq!(props.datastore_name(), Some("beta"));

    let job = StartArgs {
        datastore_id: ids[0].clone(),
        job_name: None,
        s3_uri: "s3://bucket/out".into(),
        kms_key_id: KMS.into(),
        role: ROLE.into(),
        client_token: None,
    }
    .send(&client)
    .await
    .expect("start");
    // Real time: the job ends about 0.2 s later and its files appear unpolled.
    let dir = out
        .path()
        .join("bucket/out")
        .join(format!("{}-FHIR_EXPORT-{}", ids[0], job.job_id()));
    let mut waited = Duration::ZERO;
    while !dir.join("Condition/Condition-1.ndjson").exists() {
        assert!(waited < Duration::from_secs(10), "no output in {dir:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let props = client
        .describe_fhir_export_job()
        .datastore_id(&ids[0])
        .job_id(job.job_id())
        .send()
        .await
        .unwrap()
        .export_job_properties
        .unwrap();
    assert_eq!(props.job_status(), &JobStatus::Completed);
    let patients = std::fs::read_to_string(dir.join("Patient/Patient-1.ndjson")).unwrap();
    assert_eq!(patients.lines().count(), 2);

    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_binary_appends_each_delivered_event_to_the_events_file() {
    let out = TempDir::new();
    let events_file = out.path().join("events.ndjson");
    std::fs::write(&events_file, "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_healthlake-emulator"))
        .args([
            "--port",
            "0",
            "--seed",
            "3",
            "--queue-delay",
            "0",
            "--job-duration",
            "0.2",
        ])
        .args([
            "--duplicate-events",
            "1",
            "--event-delay",
            "0..0.1",
            "--no-queued-events",
        ])
        .args(["--create-datastore", "alpha", "--allow-unsigned"])
        .arg("--output-root")
        .arg(out.path())
        .arg("--events-file")
        .arg(&events_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let url = first.trim_start_matches("listening on ").to_owned();
    let line = lines.next_line().await.unwrap().expect("a data store line");
    let datastore_id = line.rsplit(' ').next().unwrap().to_owned();

    let client = client(&url);
    let job = StartArgs {
        datastore_id: datastore_id.clone(),
        job_name: None,
        s3_uri: "s3://bucket/out".into(),
        kms_key_id: KMS.into(),
        role: ROLE.into(),
        client_token: None,
    }
    .send(&client)
    .await
    .expect("start");
    // Submitted, In Progress, Completed, each delivered twice, appended as they fall due.
    let mut waited = Duration::ZERO;
    let events: Vec<serde_json::Value> = loop {
        let text = std::fs::read_to_string(&events_file).unwrap();
        if text.lines().count() >= 6 {
            break text
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
                .collect();
        }
        assert!(waited < Duration::from_secs(10), "events so far: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    };
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Export Job Submitted",
            "Export Job Submitted",
            "Export Job In Progress",
            "Export Job In Progress",
            "Export Job Completed",
            "Export Job Completed",
        ]
    );
    for pair in events.chunks(2) {
        assert_eq!(pair[0], pair[1], "a duplicate is the same event, same id");
    }
    for event in &events {
        assert_eq!(event["source"], "aws.healthlake");
        assert_eq!(event["detail"]["jobId"], job.job_id());
        assert_eq!(event["detail"]["datastoreId"], datastore_id.as_str());
        assert_eq!(event["detail"]["outputDataConfig"]["s3Uri"], "s3://bucket/out");
        assert_eq!(
            event["resources"][0],
            format!("arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/{datastore_id}")
        );
    }
    assert_ne!(events[0]["id"], events[2]["id"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(std::fs::read_to_string(&events_file).unwrap().lines().count(), 6);

    child.kill().await.unwrap();
}

#[tokio::test]
async fn bad_flags_are_refused_with_a_usage_error() {
    for args in [
        &["--throttle-rate", "1.5"][..],
        &["--resources", "Spaceship=1"][..],
        &["--job-duration", "soon"][..],
        &["--operation-faults", "Nope:throttle=0.1"][..],
        &["--drop-events", "1.5"][..],
        &["--event-delay", "60s..5s"][..],
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_healthlake-emulator"))
            .args(["--port", "0"])
            .args(args)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .unwrap_or_else(|_| panic!("{args:?} should be refused, not served"))
            .unwrap();
        assert!(!output.status.success(), "{args:?} should be refused");
        assert!(output.stdout.is_empty(), "{args:?} should not start serving");
    }
}
