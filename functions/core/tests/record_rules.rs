//! The job record: built from what the state machine passes, moved only
//! forward, listed newest first.

use hlx_core::record::{JobRecord, RecordRequest, StoredState, decide};
use hlx_core::{InMemoryJobStore, JobKind, JobStatus, JobStore, RecordStatus, WriteOutcome};
use serde_json::{Value, json};

fn request(extra: Value) -> RecordRequest {
    let mut base = json!({
        "id": "nightly-ds1-2026-01-01",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:hlx-job:nightly-ds1-2026-01-01",
        "executionStartedAt": "2026-01-01T02:00:00Z",
        "now": "2026-01-01T05:00:00Z",
        "request": {
            "datastoreId": "ds1",
            "s3Uri": "s3://bucket/exports",
            "kmsKeyId": "alias/hlx",
            "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
            "trigger": "schedule"
        }
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn progress(status: &str, outcome: &str, checks: u32) -> Value {
    json!({
        "jobId": "job-7", "datastoreId": "ds1", "jobName": "nightly", "clientToken": "hlx-x",
        "jobStatus": status, "outcome": outcome, "changed": true,
        "submitTime": "2026-01-01T02:00:01Z", "runningSince": "2026-01-01T02:10:00Z",
        "endTime": "2026-01-01T04:59:00Z",
        "queuedSeconds": 599, "runningSeconds": 10140, "checks": checks, "statusChecks": 1,
        "startAttempts": 2, "nextCheckSeconds": 120, "message": "Export failed: access denied to bucket"
    })
}

#[test]
fn a_finished_job_is_recorded_with_its_times_location_and_message() {
    let record =
        JobRecord::from_request(request(json!({"progress": progress("FAILED", "FAILED", 9)}))).unwrap();
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Failed));
    assert_eq!(record.datastore_id.as_deref(), Some("ds1"));
    assert_eq!(record.trigger.as_deref(), Some("schedule"));
    assert_eq!(
        record.output_location.as_deref(),
        Some("s3://bucket/exports/ds1-FHIR_EXPORT-job-7/")
    );
    assert_eq!(
        record.message.as_deref(),
        Some("Export failed: access denied to bucket")
    );
    assert_eq!(record.queued_seconds, Some(599));
    assert_eq!(record.running_seconds, Some(10140));
    assert_eq!(record.checks, 9);
    assert_eq!(record.start_attempts, 2);
    assert_eq!(record.ended_at.unwrap().to_string(), "2026-01-01T04:59:00Z");
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["status"], "FAILED");
    assert_eq!(json["updatedAt"], "2026-01-01T05:00:00.000Z");
}

#[test]
fn timed_out_rejected_and_error_records_carry_the_reason() {
    let mut timed_out = progress("IN_PROGRESS", "TIMED_OUT", 20);
    timed_out["timedOutReason"] = json!("the job has run for 24h 00m, past the limit of 24h 00m");
    timed_out.as_object_mut().unwrap().remove("endTime");
    let record = JobRecord::from_request(request(json!({"progress": timed_out}))).unwrap();
    assert_eq!(record.status, RecordStatus::TimedOut);
    assert_eq!(record.job_status.as_deref(), Some("IN_PROGRESS"));
    assert!(record.error_cause.unwrap().contains("past the limit"));
    assert_eq!(record.ended_at.unwrap().to_string(), "2026-01-01T05:00:00Z");

    let rejected = JobRecord::from_request(request(json!({
        "outcome": "REJECTED",
        "request": {"datastoreId": "ds1", "s3Uri": "nope"},
        "progress": null,
        "error": {"Error": "hlx.InvalidRequest", "Cause": "{\"errorType\":\"hlx.InvalidRequest\",\"errorMessage\":\"invalid request: s3Uri: must match the pattern\"}"}
    })))
    .unwrap();
    assert_eq!(rejected.status, RecordStatus::Rejected);
    assert_eq!(rejected.datastore_id.as_deref(), Some("ds1"));
    assert_eq!(rejected.s3_uri.as_deref(), Some("nope"));
    assert_eq!(rejected.error_name.as_deref(), Some("hlx.InvalidRequest"));
    assert_eq!(
        rejected.error_cause.as_deref(),
        Some("invalid request: s3Uri: must match the pattern")
    );
    assert!(rejected.job_id.is_none());

    let error = JobRecord::from_request(request(json!({
        "outcome": "ERROR",
        "request": "not even an object",
        "error": {"Error": "Lambda.Unknown", "Cause": "The process exited"}
    })))
    .unwrap();
    assert_eq!(error.status, RecordStatus::Error);
    assert_eq!(error.datastore_id, None);
    assert_eq!(error.error_cause.as_deref(), Some("The process exited"));
    assert!(JobRecord::from_request(request(json!({}))).is_err());
}

fn record(status: &str, checks: u32) -> JobRecord {
    let outcome = if JobStatus::parse(status).is_terminal() {
        "SUCCEEDED"
    } else {
        "WAITING"
    };
    JobRecord::from_request(request(json!({"progress": progress(status, outcome, checks)}))).unwrap()
}

#[test]
fn records_only_move_forward() {
    let state = |s: &str, c: u32| StoredState {
        status: RecordStatus::parse(s),
        checks: c,
    };
    let id = "e";
    assert_eq!(
        decide(None, &record("SUBMITTED", 0), id).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        decide(Some(&state("SUBMITTED", 0)), &record("QUEUED", 1), id).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        decide(Some(&state("QUEUED", 1)), &record("SUBMITTED", 0), id).unwrap(),
        WriteOutcome::Stale
    );
    assert_eq!(
        decide(Some(&state("IN_PROGRESS", 3)), &record("IN_PROGRESS", 4), id).unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        decide(Some(&state("IN_PROGRESS", 4)), &record("IN_PROGRESS", 3), id).unwrap(),
        WriteOutcome::Stale
    );
    assert_eq!(
        decide(Some(&state("COMPLETED", 5)), &record("IN_PROGRESS", 9), id).unwrap(),
        WriteOutcome::Stale
    );
    assert_eq!(
        decide(Some(&state("COMPLETED", 5)), &record("COMPLETED", 5), id).unwrap(),
        WriteOutcome::Unchanged
    );
    let err = decide(Some(&state("COMPLETED", 5)), &record("FAILED", 5), id).unwrap_err();
    assert_eq!(err.error_name(), "hlx.RecordConflict");
    assert_eq!(
        decide(Some(&state("IN_PROGRESS", 9)), &record("COMPLETED", 2), id).unwrap(),
        WriteOutcome::Written
    );
}

#[tokio::test]
async fn the_memory_store_applies_the_rule_and_pages_newest_first() {
    let store = InMemoryJobStore::new();
    assert_eq!(
        store.write(&record("IN_PROGRESS", 2)).await.unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        store.write(&record("COMPLETED", 3)).await.unwrap(),
        WriteOutcome::Written
    );
    assert_eq!(
        store.write(&record("IN_PROGRESS", 4)).await.unwrap(),
        WriteOutcome::Stale
    );
    assert_eq!(
        store.write(&record("COMPLETED", 3)).await.unwrap(),
        WriteOutcome::Unchanged
    );
    let stored = store
        .get(JobKind::Export, "nightly-ds1-2026-01-01")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, RecordStatus::Job(JobStatus::Completed));

    for day in 2..=6 {
        let mut r = record("COMPLETED", 1);
        r.id = format!("nightly-ds1-2026-01-0{day}");
        r.execution_started_at = format!("2026-01-0{day}T02:00:00Z").parse().unwrap();
        store.write(&r).await.unwrap();
    }
    let first = store.list(JobKind::Export, "ds1", 4, None).await.unwrap();
    let ids: Vec<_> = first.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "nightly-ds1-2026-01-06",
            "nightly-ds1-2026-01-05",
            "nightly-ds1-2026-01-04",
            "nightly-ds1-2026-01-03"
        ]
    );
    let second = store
        .list(JobKind::Export, "ds1", 4, first.next_token.as_deref())
        .await
        .unwrap();
    let ids: Vec<_> = second.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["nightly-ds1-2026-01-02", "nightly-ds1-2026-01-01"]);
    assert!(second.next_token.is_none());
    assert!(
        store
            .list(JobKind::Export, "other", 10, None)
            .await
            .unwrap()
            .records
            .is_empty()
    );
    let err = store
        .list(JobKind::Export, "ds1", 4, Some("garbage"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nextToken"));
}
