//! The DynamoDB job store against a real DynamoDB-compatible server: the
//! write condition enforces the same forward-only rule as the in-memory
//! store, and listing pages newest first.

use hlx_aws::DynamoDbJobStore;
use hlx_core::record::JobRecord;
use hlx_core::{ImportCounts, InMemoryJobStore, JobKind, JobStore, RecordStatus};
use hlx_e2e::MotoServer;
use serde_json::json;

fn record(id: &str, started: &str, status: &str, checks: u32) -> JobRecord {
    serde_json::from_value(json!({
        "id": id,
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}"),
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
    let stored = dynamo.get(JobKind::Export, "e1").await.unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::parse("COMPLETED"));
    assert_eq!(stored.checks, 6);
    assert_eq!(stored, memory.get(JobKind::Export, "e1").await.unwrap().unwrap());
    assert!(dynamo.get(JobKind::Export, "missing").await.unwrap().is_none());
}

#[tokio::test]
async fn imports_and_exports_are_kept_apart_by_key_and_index() {
    let moto = MotoServer::start();
    let dynamo = DynamoDbJobStore::new(moto.dynamodb().await, "hlx-jobs");
    dynamo.create_table().await.unwrap();
    let memory = InMemoryJobStore::new();
    let t = "2026-01-01T02:00:00.000Z";
    let export = record("twin", t, "COMPLETED", 3);
    let mut import = record("twin", "2026-01-01T03:00:00.000Z", "COMPLETED_WITH_ERRORS", 2);
    import.kind = JobKind::Import;
    import.input_s3_uri = Some("s3://landing/nightly/".into());
    import.import_counts = Some(ImportCounts {
        files_scanned: 2,
        files_imported: 2,
        resources_scanned: 10,
        resources_imported: 7,
        resources_with_errors: 3,
        ..Default::default()
    });
    for r in [&export, &import] {
        assert_eq!(dynamo.write(r).await.unwrap(), memory.write(r).await.unwrap());
    }
    // The same name under each kind: two records, neither overwrote the other.
    for kind in JobKind::ALL {
        let stored = dynamo.get(kind, "twin").await.unwrap().expect("stored");
        assert_eq!(stored.kind, kind);
        assert_eq!(Some(&stored), memory.get(kind, "twin").await.unwrap().as_ref());
        let listed = dynamo.list(kind, "ds1", 10, None).await.unwrap().records;
        assert_eq!(listed, vec![stored], "{kind}s list only {kind}s");
    }
    let stored = dynamo.get(JobKind::Import, "twin").await.unwrap().unwrap();
    assert_eq!(stored.import_counts.unwrap().resources_with_errors, 3);
    assert_eq!(stored.input_s3_uri.as_deref(), Some("s3://landing/nightly/"));
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
        let page = store
            .list(JobKind::Export, "ds1", 3, token.as_deref())
            .await
            .unwrap();
        assert!(page.records.len() <= 3);
        seen.extend(page.records.into_iter().map(|r| r.id));
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
    let err = store
        .list(JobKind::Export, "ds1", 3, Some("bm90IGEgdG9rZW4"))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidNextToken");
}

fn wait(token: &str, id: &str, status: hlx_core::JobStatus, checks: u32) -> hlx_core::WaitItem {
    hlx_core::WaitItem {
        kind: JobKind::Export,
        datastore_id: "ds1".into(),
        job_id: "job-1".into(),
        id: id.into(),
        task_token: token.into(),
        job_status: status,
        checks,
        stored_at: "2026-01-01T02:00:00Z".parse().unwrap(),
        expires_at: "2026-01-02T03:00:00Z".parse().unwrap(),
        woken_by: None,
    }
}

#[tokio::test]
async fn dynamodb_and_memory_wait_stores_agree_and_the_ttl_is_epoch_seconds() {
    use hlx_core::wait::{StoredWait, wait_key};
    use hlx_core::{JobStatus, WaitStore};
    let moto = MotoServer::start();
    let client = moto.dynamodb().await;
    let dynamo = DynamoDbJobStore::new(client.clone(), "hlx-jobs");
    dynamo.create_table().await.unwrap();
    let memory = InMemoryJobStore::new();

    let steps: Vec<(hlx_core::WaitItem, StoredWait)> = vec![
        (wait("t1", "e1", JobStatus::Submitted, 0), StoredWait::Stored),
        (wait("t2", "e1", JobStatus::InProgress, 2), StoredWait::Stored),
        (wait("t-stale", "e1", JobStatus::Submitted, 1), StoredWait::Stale),
        (wait("t-other", "e2", JobStatus::Submitted, 9), StoredWait::Stale),
        (wait("t3", "e1", JobStatus::InProgress, 2), StoredWait::Stored),
    ];
    for (item, expected) in &steps {
        assert_eq!(
            dynamo.put_wait(item).await.unwrap(),
            *expected,
            "{}",
            item.task_token
        );
        assert_eq!(
            memory.put_wait(item).await.unwrap(),
            *expected,
            "{}",
            item.task_token
        );
    }
    let stored = dynamo
        .get_wait(JobKind::Export, "ds1", "job-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(&stored),
        memory
            .get_wait(JobKind::Export, "ds1", "job-1")
            .await
            .unwrap()
            .as_ref()
    );
    assert_eq!(stored.task_token, "t3");
    assert_eq!(
        stored.expires_at,
        "2026-01-02T03:00:00Z".parse::<jiff::Timestamp>().unwrap()
    );

    // A wake is recorded once, for the stored token, and only for news.
    for store_result in [
        dynamo
            .mark_woken(
                &wait("t1", "e1", JobStatus::Submitted, 0),
                &JobStatus::Completed,
                "e",
            )
            .await,
        memory
            .mark_woken(
                &wait("t1", "e1", JobStatus::Submitted, 0),
                &JobStatus::Completed,
                "e",
            )
            .await,
    ] {
        assert!(!store_result.unwrap(), "an old token is not the stored one");
    }
    assert!(
        dynamo
            .mark_woken(&stored, &JobStatus::Completed, "event-1")
            .await
            .unwrap()
    );
    assert!(
        memory
            .mark_woken(&stored, &JobStatus::Completed, "event-1")
            .await
            .unwrap()
    );
    assert!(
        !dynamo
            .mark_woken(&stored, &JobStatus::Completed, "event-2")
            .await
            .unwrap()
    );
    assert!(
        !memory
            .mark_woken(&stored, &JobStatus::Completed, "event-2")
            .await
            .unwrap()
    );
    let woken = dynamo
        .get_wait(JobKind::Export, "ds1", "job-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(&woken),
        memory
            .get_wait(JobKind::Export, "ds1", "job-1")
            .await
            .unwrap()
            .as_ref()
    );
    assert_eq!(woken.job_status, JobStatus::Completed);
    assert_eq!(woken.woken_by.as_deref(), Some("event-1"));

    // The raw item: the TTL attribute is a number, and wait items stay out of the data store's list.
    let raw = client
        .get_item()
        .table_name("hlx-jobs")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(wait_key(JobKind::Export, "ds1", "job-1")),
        )
        .send()
        .await
        .unwrap();
    let expires = raw.item().unwrap()["expiresAt"].as_n().unwrap().clone();
    assert_eq!(expires, "1767322800");
    assert!(
        dynamo
            .list(JobKind::Export, "ds1", 10, None)
            .await
            .unwrap()
            .records
            .is_empty()
    );
}

#[tokio::test]
async fn dynamodb_and_memory_chain_items_move_only_forward_and_forged_tokens_are_refused() {
    use hlx_core::chain::ChainPoint;
    let moto = MotoServer::start();
    let dynamo = DynamoDbJobStore::new(moto.dynamodb().await, "hlx-jobs");
    dynamo.create_table().await.unwrap();
    let memory = InMemoryJobStore::new();
    let point = |at: &str, by: &str| ChainPoint {
        datastore_id: "ds1".into(),
        chain: "group/g-1?_type=Observation,Patient".into(),
        point: at.parse().unwrap(),
        moved_by: by.into(),
    };
    let moves = [
        ("2026-01-02T00:00:00Z", "a", true),
        ("2026-01-01T00:00:00Z", "old", false),
        ("2026-01-02T00:00:00Z", "same", false),
        ("2026-01-03T00:00:00Z", "b", true),
    ];
    for (at, by, moved) in moves {
        assert_eq!(
            dynamo.advance_chain(&point(at, by)).await.unwrap(),
            moved,
            "dynamo {by}"
        );
        assert_eq!(
            memory.advance_chain(&point(at, by)).await.unwrap(),
            moved,
            "memory {by}"
        );
    }
    let chain = "group/g-1?_type=Observation,Patient";
    let stored = dynamo.get_chain("ds1", chain).await.unwrap();
    assert_eq!(stored, Some(point("2026-01-03T00:00:00Z", "b")));
    assert_eq!(stored, memory.get_chain("ds1", chain).await.unwrap());
    assert_eq!(dynamo.get_chain("ds1", "patient").await.unwrap(), None);
    // The chain item stays out of the data store's list.
    let page = dynamo.list(JobKind::Export, "ds1", 10, None).await.unwrap();
    assert!(page.records.is_empty());

    // Page tokens: a forged start key never reaches DynamoDB (it answered
    // 500 with it), and a token of another list is refused too.
    for n in 0..3 {
        let r = record(
            &format!("e{n}"),
            &format!("2026-01-0{}T02:00:00.000Z", n + 1),
            "COMPLETED",
            1,
        );
        dynamo.write(&r).await.unwrap();
    }
    let first = dynamo.list(JobKind::Export, "ds1", 1, None).await.unwrap();
    let token = first.next_token.expect("more pages");
    let second = dynamo
        .list(JobKind::Export, "ds1", 1, Some(&token))
        .await
        .unwrap();
    assert_eq!(second.records.len(), 1);
    use base64::Engine;
    let forged = base64::engine::general_purpose::STANDARD
        .encode(json!({"list": "DATASTORE#ds1", "at": {"foo": "bar"}}).to_string());
    for bad in [token.as_str(), "eyJmb28iOiJiYXIifQ==", forged.as_str()] {
        let other_list = bad == token;
        let datastore = if other_list { "ds2" } else { "ds1" };
        let err = dynamo
            .list(JobKind::Export, datastore, 1, Some(bad))
            .await
            .unwrap_err();
        assert_eq!(err.error_name(), "hlx.InvalidNextToken", "{bad}: {err}");
    }
    let err = dynamo
        .list(JobKind::Import, "ds1", 1, Some(&token))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidNextToken");
}

#[tokio::test]
async fn dynamodb_and_memory_slots_agree_and_a_stale_write_loses() {
    use hlx_core::admission::{SlotAnswer, SlotStore, release_slot, take_slot};
    let moto = MotoServer::start();
    let dynamo = DynamoDbJobStore::new(moto.dynamodb().await, "hlx-jobs");
    dynamo.create_table().await.unwrap();
    let memory = InMemoryJobStore::new();
    let now: jiff::Timestamp = "2026-01-01T02:00:00Z".parse().unwrap();
    let steps: [(&str, u32, SlotAnswer); 4] = [
        ("a", 2, SlotAnswer::Taken { newly: true }),
        ("a", 2, SlotAnswer::Taken { newly: false }),
        ("b", 2, SlotAnswer::Taken { newly: true }),
        (
            "c",
            2,
            SlotAnswer::Full {
                in_flight: 2,
                limit: 2,
            },
        ),
    ];
    for (holder, limit, expected) in steps {
        assert_eq!(
            take_slot(&dynamo, "ds1", holder, limit, now).await.unwrap(),
            expected,
            "dynamo {holder}"
        );
        assert_eq!(
            take_slot(&memory, "ds1", holder, limit, now).await.unwrap(),
            expected,
            "memory {holder}"
        );
    }
    // Two writers read the same version: the second write loses, in both stores.
    for store in [&dynamo as &dyn SlotsUnderTest, &memory as &dyn SlotsUnderTest] {
        let read = store.read("ds1").await;
        let mut first = read.clone();
        first.holders.remove("a");
        assert!(store.write(&first).await, "the first writer wins");
        let mut second = read;
        second.holders.remove("b");
        assert!(
            !store.write(&second).await,
            "the second writer read a stale version"
        );
    }
    assert!(release_slot(&dynamo, "ds1", "b").await.unwrap());
    assert!(
        !release_slot(&dynamo, "ds1", "b").await.unwrap(),
        "given back once"
    );
    let left = dynamo.get_slots("ds1").await.unwrap().unwrap();
    assert!(left.holders.is_empty(), "{left:?}");

    /// The two stores behind one object-safe face, for the loop above.
    trait SlotsUnderTest {
        fn read<'a>(
            &'a self,
            ds: &'a str,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = hlx_core::admission::Slots> + 'a>>;
        fn write<'a>(
            &'a self,
            slots: &'a hlx_core::admission::Slots,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + 'a>>;
    }
    impl<S: SlotStore> SlotsUnderTest for S {
        fn read<'a>(
            &'a self,
            ds: &'a str,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = hlx_core::admission::Slots> + 'a>> {
            Box::pin(async move { self.get_slots(ds).await.unwrap().unwrap() })
        }
        fn write<'a>(
            &'a self,
            slots: &'a hlx_core::admission::Slots,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + 'a>> {
            Box::pin(async move { self.put_slots(slots).await.unwrap() })
        }
    }
}
