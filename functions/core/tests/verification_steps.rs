//! The verify-export function's steps over in-memory S3 and history: a
//! clean night, a night that lost a type against the previous full export,
//! the notice, the record's verdict, and `hlx verify` by hand.

use hlx_core::record::{JobRecord, RecordRequest};
use hlx_core::verification::Verdict;
use hlx_core::verification::storage::InMemoryObjects;
use hlx_core::verification::{Verification, VerifyPolicy};
use hlx_core::verify_export::{ReverifyError, VerifyState, VerifyStep, reverify, verify_step};
use hlx_core::{InMemoryJobStore, JobStore};
use serde_json::{Value, json};

const FOLDER: &str = "exports/ds1-FHIR_EXPORT-";

fn request(trigger: &str) -> Value {
    json!({
        "datastoreId": "ds1",
        "s3Uri": "s3://landing/exports",
        "kmsKeyId": "alias/hlx",
        "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
        "trigger": trigger
    })
}

fn progress(job: &str) -> Value {
    json!({
        "kind": "export", "jobId": job, "datastoreId": "ds1", "jobName": "nightly", "clientToken": "hlx-x",
        "jobStatus": "COMPLETED", "outcome": "SUCCEEDED", "changed": true,
        "submitTime": "2026-01-01T02:00:01Z", "endTime": "2026-01-01T04:59:00Z",
        "queuedSeconds": 0, "runningSeconds": 100, "checks": 3, "statusChecks": 3,
        "startAttempts": 1, "nextCheckSeconds": 60,
        "output": {"location": format!("s3://landing/{FOLDER}{job}/"), "kmsKeyId": "alias/hlx"}
    })
}

fn put_export(objects: &InMemoryObjects, job: &str, types: &[(&str, usize)]) {
    for (resource_type, count) in types {
        let lines: String = (0..*count)
            .map(|n| format!("{{\"resourceType\":\"{resource_type}\",\"id\":\"{resource_type}-{n}\"}}\n"))
            .collect();
        objects.insert(
            "landing",
            &format!("{FOLDER}{job}/{resource_type}/{resource_type}-1.ndjson"),
            lines,
        );
    }
}

async fn begin(
    objects: &InMemoryObjects,
    store: &InMemoryJobStore,
    id: &str,
    job: &str,
    trigger: &str,
) -> VerifyState {
    let step = VerifyStep::from_value(json!({
        "action": "begin", "id": id, "now": "2026-01-02T05:00:00Z",
        "request": request(trigger), "progress": progress(job)
    }))
    .unwrap();
    serde_json::from_value(
        verify_step(objects, store, &VerifyPolicy::default(), step)
            .await
            .unwrap(),
    )
    .unwrap()
}

async fn record(store: &InMemoryJobStore, id: &str, job: &str, verification: Option<&Verification>) {
    let request: RecordRequest = serde_json::from_value(json!({
        "id": id,
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}"),
        "executionStartedAt": "2026-01-01T02:00:00Z",
        "now": "2026-01-01T05:00:00Z",
        "request": request("schedule"),
        "progress": progress(job),
        "verification": verification,
    }))
    .unwrap();
    store
        .write(&JobRecord::from_request(request).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_clean_night_is_verified_and_a_night_that_lost_a_type_is_suspect() {
    let objects = InMemoryObjects::default();
    let store = InMemoryJobStore::default();
    put_export(&objects, "1", &[("Patient", 10), ("Condition", 4)]);
    let first = begin(&objects, &store, "nightly-1", "1", "schedule").await;
    let v = first.verification.clone().unwrap();
    assert!(!first.distributed);
    assert_eq!(v.verdict, Verdict::Verified);
    assert_eq!(v.resources_by_type["Patient"], 10);
    assert_eq!(v.baseline, None);
    // A nightly export's notice goes out whatever its verdict.
    assert!(first.notify);
    assert_eq!(first.subject, "hlx nightly export of ds1: VERIFIED");
    assert!(
        first.message.contains("Resources: Condition 4, Patient 10"),
        "{}",
        first.message
    );
    record(&store, "nightly-1", "1", Some(&v)).await;
    let stored = store
        .get(hlx_core::JobKind::Export, "nightly-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.verification.as_ref(), Some(&v));

    put_export(&objects, "2", &[("Patient", 10)]);
    let second = begin(&objects, &store, "nightly-2", "2", "schedule").await;
    let v2 = second.verification.unwrap();
    assert_eq!(v2.verdict, Verdict::Suspect);
    assert_eq!(v2.baseline.as_deref(), Some("nightly-1"));
    assert_eq!(v2.reasons[0].code(), "TYPE_MISSING");
    assert!(
        second
            .message
            .contains("TYPE_MISSING: Condition is missing; export nightly-1 had 4"),
        "{}",
        second.message
    );

    // An API export that is verified sends no notice.
    let third = begin(&objects, &store, "api-3", "1", "api").await;
    assert!(!third.notify);
}

#[tokio::test]
async fn a_denied_export_is_unverifiable_and_notified() {
    let objects = InMemoryObjects::default();
    let store = InMemoryJobStore::default();
    put_export(&objects, "1", &[("Patient", 3)]);
    objects.deny("exports/");
    let state = begin(&objects, &store, "api-1", "1", "api").await;
    let v = state.verification.unwrap();
    assert_eq!(v.verdict, Verdict::Unverifiable);
    assert!(state.notify);
    assert!(state.subject.ends_with("UNVERIFIABLE"));
}

#[tokio::test]
async fn steps_name_what_they_cannot_read() {
    let err = VerifyStep::from_value(json!({"action": "guess"})).unwrap_err();
    assert!(err.to_string().contains("unknown verification step"), "{err}");
    assert_eq!(err.error_name(), "hlx.InvalidInput");
    let err = VerifyStep::from_value(json!({"Items": []})).unwrap_err();
    assert!(err.to_string().contains("BatchInput"), "{err}");
}

#[tokio::test]
async fn hlx_verify_re_runs_a_completed_export_and_keeps_the_new_verdict() {
    let objects = InMemoryObjects::default();
    let store = InMemoryJobStore::default();
    put_export(&objects, "1", &[("Patient", 3)]);
    record(&store, "nightly-1", "1", None).await;
    let now = "2026-01-03T00:00:00Z".parse().unwrap();
    let policy = VerifyPolicy {
        single_max_files: 1,
        ..VerifyPolicy::default()
    };
    // Damage a file after the night: the new verdict says so.
    objects.insert(
        "landing",
        &format!("{FOLDER}1/Patient/Patient-2.ndjson"),
        "{\"resourceType\":\"Patient\"",
    );
    let v = reverify(&objects, &store, "nightly-1", &policy, now, true)
        .await
        .unwrap();
    assert_eq!(v.verdict, Verdict::Suspect);
    assert_eq!(v.reasons[0].code(), "TRUNCATED_FILE");
    let stored = store
        .get(hlx_core::JobKind::Export, "nightly-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.verification, Some(v));
    assert_eq!(stored.job_status.as_deref(), Some("COMPLETED"));
    assert!(matches!(
        reverify(&objects, &store, "nope", &policy, now, true).await,
        Err(ReverifyError::Unknown(_))
    ));
}
