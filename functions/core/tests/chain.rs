//! The incremental chain as its own item: moved only forward, and only by a
//! completed export that covered everything since the chain's point.

use hlx_core::chain::{ChainPoint, advanced_point, point_from_records};
use hlx_core::history::current_chain_point;
use hlx_core::record::JobRecord;
use hlx_core::{InMemoryJobStore, JobHistory, JobStore};
use jiff::Timestamp;
use serde_json::{Value, json};

const DS: &str = "ds1";
const CHAIN: &str = "patient";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A completed incremental export of the `patient` chain that reflects `tx`.
fn export(id: &str, started: &str, since: Option<&str>, tx: &str) -> JobRecord {
    let mut record = json!({
        "id": id,
        "kind": "export",
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}"),
        "status": "COMPLETED",
        "datastoreId": DS,
        "executionStartedAt": started,
        "submittedAt": started,
        "updatedAt": tx,
        "mode": "incremental",
        "chain": CHAIN,
        "manifest": {"transactionTime": tx, "files": 1}
    });
    if let Some(since) = since {
        record["since"] = Value::String(since.into());
    }
    serde_json::from_value(record).unwrap()
}

fn with_status(mut record: JobRecord, status: &str) -> JobRecord {
    record.status = hlx_core::RecordStatus::parse(status);
    record
}

#[test]
fn only_an_export_that_covered_everything_since_the_point_moves_it() {
    let point = Some(at("2026-01-02T00:00:00Z"));
    // The chain's own next export (since = the point): moves.
    let own = export(
        "a",
        "2026-01-03T02:00:00Z",
        Some("2026-01-02T00:00:00Z"),
        "2026-01-03T02:00:00Z",
    );
    assert_eq!(advanced_point(&own, point), Some(at("2026-01-03T02:00:00Z")));
    // A since earlier than the point: covers more, moves.
    let earlier = export(
        "b",
        "2026-01-03T02:00:00Z",
        Some("2026-01-01T00:00:00Z"),
        "2026-01-03T02:00:00Z",
    );
    assert_eq!(advanced_point(&earlier, point), Some(at("2026-01-03T02:00:00Z")));
    // A since later than the point leaves a gap: never moves.
    let gap = export(
        "c",
        "2026-01-03T02:00:00Z",
        Some("2026-01-02T12:00:00Z"),
        "2026-01-03T02:00:00Z",
    );
    assert_eq!(advanced_point(&gap, point), None);
    // Any since with no point at all covers only part of the history.
    assert_eq!(advanced_point(&gap, None), None);
    // No since (a full export, or the chain's first): moves, from nothing too.
    let full = export("d", "2026-01-03T02:00:00Z", None, "2026-01-03T02:00:00Z");
    assert_eq!(advanced_point(&full, None), Some(at("2026-01-03T02:00:00Z")));
    // Never backwards.
    assert_eq!(advanced_point(&full, Some(at("2026-02-01T00:00:00Z"))), None);
    // An until caps the reach.
    let mut capped = full.clone();
    capped.until = Some(at("2026-01-02T06:00:00Z"));
    assert_eq!(advanced_point(&capped, point), Some(at("2026-01-02T06:00:00Z")));
    // Only COMPLETED exports move a chain.
    for status in [
        "COMPLETED_WITH_ERRORS",
        "FAILED",
        "CANCEL_COMPLETED",
        "TIMED_OUT",
        "IN_PROGRESS",
    ] {
        assert_eq!(
            advanced_point(&with_status(full.clone(), status), None),
            None,
            "{status}"
        );
    }
}

#[tokio::test]
async fn an_export_with_a_later_since_never_makes_the_chain_skip_a_change() {
    // The sequence: A completes (22:47); B, with an explicit since
    // later than A's point, completes; C, a plain incremental export of the
    // same chain, must continue from A, not from B.
    let store = InMemoryJobStore::new();
    let a = export("a", "2026-01-01T22:00:00Z", None, "2026-01-01T22:47:00Z");
    hlx_core::history::advance_chain_after(&store, &a).await.unwrap();
    let b = export(
        "b",
        "2026-01-02T10:00:00Z",
        Some("2026-01-02T09:00:00Z"),
        "2026-01-02T10:05:00Z",
    );
    assert!(!hlx_core::history::advance_chain_after(&store, &b).await.unwrap());
    assert_eq!(
        store.last_transaction_time(DS, CHAIN).await.unwrap(),
        Some(at("2026-01-01T22:47:00Z")),
        "C continues from A"
    );
    // C (since = A's point) completes: the chain moves to C.
    let c = export(
        "c",
        "2026-01-02T11:00:00Z",
        Some("2026-01-01T22:47:00Z"),
        "2026-01-02T11:02:00Z",
    );
    assert!(hlx_core::history::advance_chain_after(&store, &c).await.unwrap());
    let item = store.get_chain(DS, CHAIN).await.unwrap().unwrap();
    assert_eq!(
        item,
        ChainPoint {
            datastore_id: DS.into(),
            chain: CHAIN.into(),
            point: at("2026-01-02T11:02:00Z"),
            moved_by: "c".into(),
        }
    );
    // A retry of A's record (an older point) never moves it back.
    assert!(!hlx_core::history::advance_chain_after(&store, &a).await.unwrap());
}

#[tokio::test]
async fn a_history_without_the_item_has_its_point_found_once_and_written() {
    let store = InMemoryJobStore::new();
    // 150 exports of the chain, more than the old scan's 100-record reach,
    // then 150 records of another chain on top of them.
    for day in 0..150 {
        let started = at("2026-01-01T00:00:00Z") + jiff::SignedDuration::from_hours(24 * day);
        let tx = started + jiff::SignedDuration::from_mins(30);
        let since = (day > 0)
            .then(|| started - jiff::SignedDuration::from_hours(24) + jiff::SignedDuration::from_mins(30));
        let mut record = export(
            &format!("p{day:03}"),
            &started.to_string(),
            since.map(|s| s.to_string()).as_deref(),
            &tx.to_string(),
        );
        record.updated_at = tx;
        store.write(&record).await.unwrap();
    }
    for n in 0..150 {
        let mut other = export(
            &format!("s{n:03}"),
            "2026-07-01T00:00:00Z",
            None,
            "2026-07-01T00:10:00Z",
        );
        other.chain = Some("system".into());
        other.execution_started_at = at("2026-07-01T00:00:00Z") + jiff::SignedDuration::from_mins(n);
        store.write(&other).await.unwrap();
    }
    assert!(store.get_chain(DS, CHAIN).await.unwrap().is_none());
    let point = current_chain_point(&store, DS, CHAIN).await.unwrap();
    let last = at("2026-01-01T00:30:00Z") + jiff::SignedDuration::from_hours(24 * 149);
    assert_eq!(point, Some(last));
    assert_eq!(
        store.get_chain(DS, CHAIN).await.unwrap().unwrap().moved_by,
        "p149"
    );
    // From the records alone, a later since with a gap is skipped there too.
    let records = vec![
        export(
            "late",
            "2026-01-05T00:00:00Z",
            Some("2026-01-04T00:00:00Z"),
            "2026-01-05T00:10:00Z",
        ),
        export("first", "2026-01-01T00:00:00Z", None, "2026-01-01T00:10:00Z"),
    ];
    assert_eq!(
        point_from_records(&records, CHAIN),
        Some((at("2026-01-01T00:10:00Z"), "first".to_owned()))
    );
}
