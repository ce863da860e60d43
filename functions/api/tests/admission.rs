//! Admission control at the API: a POST that would put more hlx jobs in
//! flight for its data store than the limit allows is a 429 `TooManyJobs`
//! with `Retry-After`, and starts nothing; a job's terminal record gives its
//! slot back. Concurrent POSTs never take more slots than there are.

mod common;

use std::sync::Arc;

use api::ApiConfig;
use common::*;
use hlx_core::admission::take_slot;
use hlx_core::{RecordRequest, Trigger, record_result};
use serde_json::json;

fn limited(max: u32) -> ApiConfig {
    ApiConfig {
        max_jobs_in_flight: max,
        ..config()
    }
}

#[tokio::test]
async fn a_post_beyond_the_limit_is_a_429_and_a_terminal_record_frees_a_slot() {
    // 3 in flight at most, one kept for the schedule: the API's own may take 2.
    let (api, _) = api_with(limited(3));
    let mut started = Vec::new();
    for key in ["k1", "k2"] {
        let (status, body) = read(&api.handle(post_with_key(key, &json!({}))).await);
        assert_eq!(status, 202, "{body}");
        started.push(body["exportId"].as_str().unwrap().to_owned());
    }
    let response = api.handle(post_with_key("k3", &json!({}))).await;
    let body = expect_error(&response, 429, "TooManyJobs");
    assert_eq!(response.headers()["retry-after"], "2");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("2 hlx jobs in flight") && message.contains("is 2"),
        "{message}"
    );
    assert_eq!(api.executions().executions().len(), 2, "nothing started");

    // The same request again (same key) is the same job: no new slot needed.
    let (status, _) = read(&api.handle(post_with_key("k1", &json!({}))).await);
    assert_eq!(status, 200);

    // The schedule's reserve: a scheduled job still gets the third slot.
    let schedule = take_slot(
        api.store(),
        DATASTORE,
        "nightly-x",
        hlx_core::admission::limit_for(3, Trigger::Schedule),
        hlx_clock_now(),
    )
    .await;
    assert_eq!(
        schedule.unwrap(),
        hlx_core::admission::SlotAnswer::Taken { newly: true }
    );

    // The first job ends: its record gives its slot back.
    let ended: RecordRequest = serde_json::from_value(json!({
        "id": started[0],
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{}", started[0]),
        "executionStartedAt": "2026-11-24T10:00:00Z",
        "now": "2026-11-24T11:00:00Z",
        "request": {"datastoreId": DATASTORE, "s3Uri": S3_URI, "kmsKeyId": KMS_KEY, "dataAccessRoleArn": ROLE},
        "outcome": "ERROR",
        "error": {"Error": "States.Timeout", "Cause": "x"}
    }))
    .unwrap();
    record_result(api.store(), ended).await.unwrap();
    // Still 2 in flight (the second job and the schedule's): ad-hoc jobs wait.
    expect_error(
        &api.handle(post_with_key("k4", &json!({}))).await,
        429,
        "TooManyJobs",
    );
    // The schedule's job ends too: one in flight, an ad-hoc job may start.
    assert!(
        hlx_core::admission::release_slot(api.store(), DATASTORE, "nightly-x")
            .await
            .unwrap()
    );
    let (status, body) = read(&api.handle(post_with_key("k4", &json!({}))).await);
    assert_eq!(status, 202, "{body}");
}

fn hlx_clock_now() -> jiff::Timestamp {
    common::start_time()
}

#[tokio::test]
async fn fifty_concurrent_posts_start_exactly_as_many_jobs_as_there_are_slots() {
    let (api, _) = api_with(limited(5));
    let api = Arc::new(api);
    let posts = (0..50).map(|n| {
        let api = api.clone();
        tokio::spawn(async move {
            let response = api.handle(post_with_key(&format!("key-{n}"), &json!({}))).await;
            response.status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((accepted, refused), (4, 46), "{statuses:?}");
    assert_eq!(api.executions().executions().len(), 4);
}

#[tokio::test]
async fn no_limit_when_it_is_zero() {
    let (api, _) = api_with(limited(0));
    for n in 0..12 {
        let (status, _) = read(&api.handle(post_with_key(&format!("k{n}"), &json!({}))).await);
        assert_eq!(status, 202);
    }
}
