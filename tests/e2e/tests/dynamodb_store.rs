//! The DynamoDB job store against a real DynamoDB-compatible server: the
//! write condition enforces the same forward-only rule as the in-memory
//! store, and listing pages newest first.

use hlx_core::record::JobRecord;
use hlx_core::{DynamoDbJobStore, InMemoryJobStore, JobStore, RecordStatus};
use hlx_e2e::MotoServer;
use serde_json::json;

fn record(export_id: &str, started: &str, status: &str, checks: u32) -> JobRecord {
    serde_json::from_value(json!({
        "exportId": export_id,
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-export:{export_id}"),
        "status": status,
        "datastoreId": "ds1",
        "jobId": "job-1",
        "executionStartedAt": started,
        "updatedAt": started,
        "checks": checks,
        "startAttempts": 1,
        "queuedSeconds": 12
    }))
    .unwrap()
}

#[tokio::test]
async fn dynamodb_and_memory_stores_agree_on_every_write() {
    let moto = MotoServer::start();
    let dynamo = DynamoDbJobStore::new(moto.dynamodb().await, "hlx-jobs");
    dynamo.create_table().await.unwrap();
    dynamo
        .create_table()
        .await
        .expect("creating an existing table is a no-op");
    let memory = InMemoryJobStore::new();

    let t = "2026-01-01T02:00:00.000Z";
    let writes = [
        ("SUBMITTED", 0),
        ("QUEUED", 1),
        ("SUBMITTED", 0),
        ("IN_PROGRESS", 2),
        ("IN_PROGRESS", 4),
        ("IN_PROGRESS", 3),
        ("CANCEL_SUBMITTED", 5),
        ("COMPLETED", 6),
        ("IN_PROGRESS", 7),
        ("COMPLETED", 6),
        ("FAILED", 6),
        ("TIMED_OUT", 6),
    ];
    for (status, checks) in writes {
        let r = record("e1", t, status, checks);
        let from_dynamo = dynamo.write(&r).await.map_err(|e| e.error_name());
        let from_memory = memory.write(&r).await.map_err(|e| e.error_name());
        assert_eq!(
            from_dynamo, from_memory,
            "write of {status} after {checks} checks"
        );
    }
    let stored = dynamo.get("e1").await.unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::parse("COMPLETED"));
    assert_eq!(stored.checks, 6);
    assert_eq!(stored, memory.get("e1").await.unwrap().unwrap());
    assert!(dynamo.get("missing").await.unwrap().is_none());
}

#[tokio::test]
async fn a_data_stores_exports_list_newest_first_across_pages() {
    let moto = MotoServer::start();
    let store = DynamoDbJobStore::new(moto.dynamodb().await, "hlx-jobs");
    store.create_table().await.unwrap();
    for day in 1..=7 {
        let id = format!("nightly-ds1-2026-01-0{day}");
        store
            .write(&record(
                &id,
                &format!("2026-01-0{day}T02:00:00.000Z"),
                "COMPLETED",
                3,
            ))
            .await
            .unwrap();
    }
    let mut other = record(
        "nightly-ds2-2026-01-01",
        "2026-01-01T02:00:00.000Z",
        "COMPLETED",
        1,
    );
    other.datastore_id = Some("ds2".into());
    store.write(&other).await.unwrap();

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store.list("ds1", 3, token.as_deref()).await.unwrap();
        assert!(page.records.len() <= 3);
        seen.extend(page.records.into_iter().map(|r| r.export_id));
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=7)
        .rev()
        .map(|d| format!("nightly-ds1-2026-01-0{d}"))
        .collect();
    assert_eq!(seen, expected);
    let err = store.list("ds1", 3, Some("bm90IGEgdG9rZW4")).await.unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidRequest");
}
