//! Every route and error of the API, through the handler, with in-memory fakes.

mod common;

use std::sync::{Arc, Mutex};

use api::executions::{ExecutionInfo, ExecutionStarter, SfnError, StartedExecution};
use api::fake::{Call, FakeStateMachine};
use api::{Api, ApiConfig};
use common::*;
use hlx_clock::SystemClock;
use hlx_core::{ExportRequest, HlxError, InMemoryJobStore, JobStore, Trigger};
use lambda_http::{Body, RequestExt};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

fn throttled() -> SfnError {
    SfnError::Throttled {
        code: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
    }
}

// ------------------------------------------------------------- POST /exports

#[tokio::test]
async fn a_post_starts_the_configured_export_and_answers_202_with_its_location() {
    let (api, _) = api();
    let response = api.handle(post_json(&json!({"jobName": "weekly full"}))).await;
    let (status, body) = read(&response);
    assert_eq!(status, 202, "{body}");
    let id = body["exportId"].as_str().unwrap();
    assert!(id.starts_with(&format!("api-{DATASTORE}-20261124-")), "{id}");
    assert_eq!(body["status"], "STARTING");
    assert_eq!(
        body["executionArn"],
        format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}")
    );
    assert_eq!(response.headers()["location"], format!("/exports/{id}"));
    assert_eq!(response.headers()["content-type"], "application/json");

    let executions = api.executions().executions();
    assert_eq!(executions.len(), 1);
    let input: Value = serde_json::from_str(executions[0].input.as_deref().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({
            "datastoreId": DATASTORE,
            "s3Uri": S3_URI,
            "kmsKeyId": KMS_KEY,
            "dataAccessRoleArn": ROLE,
            "jobName": "weekly full",
            "trigger": "api"
        })
    );
    let request = ExportRequest::from_value(&input).unwrap();
    assert_eq!(request.trigger, Trigger::Api);
}

#[tokio::test]
async fn an_empty_body_exports_the_default_data_store() {
    let (api, _) = api();
    for response in [
        api.handle(request("POST", "/exports", &[], b"")).await,
        api.handle(request(
            "POST",
            "/exports",
            &[("content-type", "application/json")],
            b" \n",
        ))
        .await,
    ] {
        assert!(matches!(read(&response).0, 200 | 202));
    }
    let executions = api.executions().executions();
    assert_eq!(
        executions.len(),
        1,
        "the same request on the same day is one export"
    );
    assert!(executions[0].input.as_deref().unwrap().contains(DATASTORE));
}

#[tokio::test]
async fn a_named_data_store_overrides_the_default() {
    let (api, _) = api();
    let (status, body) = read(&api.handle(post_json(&json!({"datastoreId": "other-ds"}))).await);
    assert_eq!(status, 202);
    assert!(
        body["exportId"]
            .as_str()
            .unwrap()
            .starts_with("api-other-ds-20261124-")
    );
    let (status, _) = read(&api.handle(post_json(&json!({"datastoreId": null}))).await);
    assert_eq!(status, 202, "null is the default data store");
}

#[tokio::test]
async fn a_retried_post_without_a_key_answers_200_with_the_same_export_the_same_day() {
    let (api, clock) = api();
    let (status, first) = read(&api.handle(post_json(&json!({}))).await);
    assert_eq!(status, 202);
    clock.advance_by(jiff::SignedDuration::from_hours(10));
    let response = api.handle(post_json(&json!({}))).await;
    let (status, again) = read(&response);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["exportId"], first["exportId"]);
    assert_eq!(again["executionArn"], first["executionArn"]);
    assert_eq!(again["status"], "RUNNING");
    assert_eq!(
        response.headers()["location"],
        format!("/exports/{}", first["exportId"].as_str().unwrap())
    );
    assert_eq!(api.executions().start_calls(), 1, "no second StartExecution");

    // A different request is a different export; so is the next UTC day.
    let (status, other) = read(&api.handle(post_json(&json!({"jobName": "other"}))).await);
    assert_eq!(status, 202);
    assert_ne!(other["exportId"], first["exportId"]);
    clock.advance_by(jiff::SignedDuration::from_hours(4));
    let (status, tomorrow) = read(&api.handle(post_json(&json!({}))).await);
    assert_eq!(status, 202);
    assert!(tomorrow["exportId"].as_str().unwrap().contains("-20261125-"));
}

#[tokio::test]
async fn an_idempotency_key_names_the_export_across_days() {
    let (api, clock) = api();
    let (status, first) = read(
        &api.handle(post_with_key("order-42", &json!({"jobName": "n"})))
            .await,
    );
    assert_eq!(status, 202);
    assert_eq!(
        first["exportId"],
        api::naming::name_for_key(hlx_core::JobKind::Export, "order-42")
    );
    clock.advance_by(jiff::SignedDuration::from_hours(48));
    let (status, again) = read(
        &api.handle(post_with_key("order-42", &json!({"jobName": "n"})))
            .await,
    );
    assert_eq!(status, 200);
    assert_eq!(again["exportId"], first["exportId"]);
    // Another key with the same request is another export.
    let (status, other) = read(
        &api.handle(post_with_key("order-43", &json!({"jobName": "n"})))
            .await,
    );
    assert_eq!(status, 202);
    assert_ne!(other["exportId"], first["exportId"]);
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_a_409_and_starts_nothing() {
    let (api, _) = api();
    let (status, first) = read(&api.handle(post_with_key("k1", &json!({"jobName": "a"}))).await);
    assert_eq!(status, 202);
    for different in [
        json!({"jobName": "b"}),
        json!({}),
        json!({"jobName": "a", "datastoreId": "other-ds"}),
    ] {
        let response = api.handle(post_with_key("k1", &different)).await;
        let body = expect_error(&response, 409, "IdempotencyConflict");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(first["exportId"].as_str().unwrap())
        );
    }
    assert_eq!(api.executions().executions().len(), 1);
    assert_eq!(api.executions().start_calls(), 1);
}

#[tokio::test]
async fn a_finished_export_is_answered_with_its_final_execution_status() {
    let (api, _) = api();
    let (_, first) = read(&api.handle(post_with_key("k1", &json!({}))).await);
    api.executions()
        .finish(first["exportId"].as_str().unwrap(), "SUCCEEDED");
    let (status, again) = read(&api.handle(post_with_key("k1", &json!({}))).await);
    assert_eq!(status, 200);
    assert_eq!(again["status"], "SUCCEEDED");
    assert_eq!(api.executions().start_calls(), 1);
}

/// Hides the execution from the first DescribeExecution, as a concurrent
/// request that starts it between the look and the start would.
struct Racing {
    inner: FakeStateMachine,
    hidden_once: Mutex<bool>,
}

impl ExecutionStarter for Racing {
    async fn start(&self, name: &str, input: &str) -> Result<StartedExecution, SfnError> {
        self.inner.start(name, input).await
    }

    async fn describe(&self, name: &str) -> Result<Option<ExecutionInfo>, SfnError> {
        let first = !std::mem::replace(&mut *self.hidden_once.lock().unwrap(), true);
        if first {
            return Ok(None);
        }
        self.inner.describe(name).await
    }
}

#[tokio::test]
async fn execution_already_exists_from_a_concurrent_start_answers_with_the_existing_export() {
    let clock: hlx_clock::SharedClock = Arc::new(SystemClock);
    let inner = FakeStateMachine::new(STATE_MACHINE, clock.clone());
    let name = api::naming::name_for_key(hlx_core::JobKind::Export, "k1");
    // The concurrent request's execution: closed already, so StartExecution refuses the name.
    let input = {
        let (api, _) = api_with(config());
        api.handle(post_with_key("k1", &json!({}))).await;
        api.executions().executions()[0].input.clone().unwrap()
    };
    inner.start(&name, &input).await.unwrap();
    inner.finish(&name, "FAILED");
    let api = Api::new(
        config(),
        InMemoryJobStore::new(),
        Racing {
            inner,
            hidden_once: Mutex::new(false),
        },
        clock,
    );
    let (status, body) = read(&api.handle(post_with_key("k1", &json!({}))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exportId"], name);
    assert_eq!(body["status"], "FAILED");
    // A different request meets the same race as a conflict.
    *api.executions().hidden_once.lock().unwrap() = false;
    let response = api.handle(post_with_key("k1", &json!({"jobName": "x"}))).await;
    expect_error(&response, 409, "IdempotencyConflict");
}

#[tokio::test]
async fn bad_idempotency_keys_are_400s_naming_the_header() {
    let (api, _) = api();
    for key in ["", "has space", "slash/", "dot.", &"k".repeat(65), "é"] {
        let response = api
            .handle(request("POST", "/exports", &[("idempotency-key", key)], b"{}"))
            .await;
        expect_invalid(&response, "Idempotency-Key");
    }
    let ok = api.handle(post_with_key(&"k".repeat(64), &json!({}))).await;
    assert_eq!(read(&ok).0, 202);
    assert_eq!(api.executions().start_calls(), 1);
}

#[tokio::test]
async fn callers_may_not_redirect_the_export_or_set_the_trigger() {
    let (api, _) = api();
    for field in ["s3Uri", "kmsKeyId", "dataAccessRoleArn", "trigger"] {
        let response = api.handle(post_json(&json!({ field: "s3://elsewhere/x" }))).await;
        let message = expect_invalid(&response, field);
        assert!(message.contains("configuration"), "{message}");
    }
    assert_eq!(api.executions().start_calls(), 0, "nothing started");
}

#[tokio::test]
async fn unknown_fields_are_refused_by_name() {
    let (api, _) = api();
    let message = expect_invalid(
        &api.handle(post_json(&json!({"datastoreID": "x"}))).await,
        "datastoreID",
    );
    assert!(message.contains("not a field"), "{message}");
    expect_invalid(&api.handle(post_json(&json!({"jobname": "x"}))).await, "jobname");
    let long = "k".repeat(5000);
    let response = api.handle(post_json(&json!({ long.clone(): 1 }))).await;
    let message = expect_invalid(&response, &long[..100]);
    assert!(message.len() < 400, "{message}");
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn the_domain_rules_apply_and_name_the_field_and_rule() {
    let (api, _) = api();
    let cases = [
        (
            json!({"datastoreId": "x".repeat(33)}),
            "datastoreId",
            "between 1 and 32",
        ),
        (json!({"datastoreId": ""}), "datastoreId", "got 0"),
        (json!({"datastoreId": "semi;colon"}), "datastoreId", "pattern"),
        (json!({"datastoreId": 7}), "datastoreId", "must be a string"),
        (json!({"jobName": "n".repeat(65)}), "jobName", "between 1 and 64"),
        (json!({"jobName": "nightly#1"}), "jobName", "pattern"),
        (json!({"jobName": ["a"]}), "jobName", "must be a string"),
    ];
    for (body, field, rule) in cases {
        let message = expect_invalid(&api.handle(post_json(&body)).await, field);
        assert!(message.contains(rule), "{body}: {message}");
    }
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn without_a_default_data_store_the_body_must_name_one() {
    let (api, _) = api_with(ApiConfig {
        default_datastore_id: None,
        ..config()
    });
    let message = expect_invalid(&api.handle(post_json(&json!({}))).await, "datastoreId");
    assert!(message.contains("is required"), "{message}");
    let (status, _) = read(&api.handle(post_json(&json!({"datastoreId": "ds1"}))).await);
    assert_eq!(status, 202);
}

#[tokio::test]
async fn malformed_bodies_are_400s_naming_the_body() {
    let (api, _) = api();
    let cases: [(&[u8], &str); 6] = [
        (b"{", "not valid JSON"),
        (b"{\"jobName\": }", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b"[]", "an array"),
        (b"\"s3://x\"", "a string"),
        (b"null", "null"),
    ];
    for (body, rule) in cases {
        let response = api
            .handle(request(
                "POST",
                "/exports",
                &[("content-type", "application/json")],
                body,
            ))
            .await;
        let message = expect_invalid(&response, "body");
        assert!(message.contains(rule), "{message}");
        assert!(
            !message.contains("not json"),
            "the body is never echoed: {message}"
        );
    }
    let binary = api.handle(request("POST", "/exports", &[], &[0xff, 0xfe])).await;
    expect_invalid(&binary, "body");
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn non_json_content_types_are_415s() {
    let (api, _) = api();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "jsonx",
    ] {
        let response = api
            .handle(request(
                "POST",
                "/exports",
                &[("content-type", content_type)],
                b"{}",
            ))
            .await;
        expect_error(&response, 415, "UnsupportedMediaType");
    }
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        let response = api
            .handle(request(
                "POST",
                "/exports",
                &[("content-type", content_type)],
                b"{}",
            ))
            .await;
        assert!(matches!(read(&response).0, 200 | 202), "{content_type}");
    }
}

#[tokio::test]
async fn bodies_over_16_kib_are_413s() {
    let (api, _) = api();
    let big = format!("{{\"jobName\": \"{}\"}}", "n".repeat(16 * 1024));
    let response = api
        .handle(request(
            "POST",
            "/exports",
            &[("content-type", "application/json")],
            big.as_bytes(),
        ))
        .await;
    let body = expect_error(&response, 413, "PayloadTooLarge");
    assert!(body["message"].as_str().unwrap().contains("16384"));
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn step_functions_throttling_is_a_429_with_retry_after() {
    let (api, _) = api();
    api.executions().fail_next(Call::Start, throttled());
    let response = api.handle(post_json(&json!({}))).await;
    expect_error(&response, 429, "TooManyRequests");
    assert_eq!(response.headers()["retry-after"], "2");
    api.executions().fail_next(Call::Describe, throttled());
    expect_error(&api.handle(post_json(&json!({}))).await, 429, "TooManyRequests");
    api.executions().fail_next(
        Call::Start,
        SfnError::Throttled {
            code: "ExecutionLimitExceeded".into(),
            message: "too many".into(),
        },
    );
    expect_error(&api.handle(post_json(&json!({}))).await, 429, "TooManyRequests");
    // The retry goes through, once.
    assert_eq!(read(&api.handle(post_json(&json!({}))).await).0, 202);
    assert_eq!(api.executions().executions().len(), 1);
}

#[tokio::test]
async fn other_step_functions_failures_are_500s_without_internals_or_503s() {
    let (api, _) = api();
    api.executions().fail_next(
        Call::Start,
        SfnError::Service {
            code: "StateMachineDoesNotExist".into(),
            message: "State Machine Does Not Exist: 'arn:aws:states:secret'".into(),
        },
    );
    let response = api.handle(post_json(&json!({}))).await;
    let body = expect_error(&response, 500, "InternalError");
    let text = body.to_string();
    assert!(
        !text.contains("secret") && !text.contains("StateMachine"),
        "{text}"
    );
    assert!(text.contains("local-"), "the request id is given: {text}");

    api.executions()
        .fail_next(Call::Start, SfnError::Unavailable("connection refused".into()));
    let response = api.handle(post_json(&json!({}))).await;
    let body = expect_error(&response, 503, "ServiceUnavailable");
    assert!(!body.to_string().contains("refused"));
    assert_eq!(response.headers()["retry-after"], "2");
}

// --------------------------------------------------------- GET /exports/{id}

#[tokio::test]
async fn a_recorded_export_is_answered_with_its_job_record() {
    let (api, _) = api();
    let stored = record("nightly-ds1-2026-11-24", DATASTORE, 0);
    api.store().write(&stored).await.unwrap();
    let response = api.handle(get("/exports/nightly-ds1-2026-11-24")).await;
    let (status, body) = read(&response);
    assert_eq!(status, 200);
    assert_eq!(body, api::api::record_answer(&stored));
    assert_eq!(body["exportId"], "nightly-ds1-2026-11-24");
    assert!(body.get("id").is_none(), "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(record_from_answer(&body), stored);
}

#[tokio::test]
async fn unknown_ids_are_404s() {
    let (api, _) = api();
    for path in [
        "/exports/nope",
        "/exports/api-k-0000",
        "/exports/a%3Ab",
        &format!("/exports/{}", "x".repeat(81)),
    ] {
        let body = expect_error(&api.handle(get(path)).await, 404, "NotFound");
        assert!(body["message"].as_str().unwrap().contains("no export"), "{path}");
    }
}

#[tokio::test]
async fn a_started_export_without_a_record_yet_reads_as_starting() {
    let (api, clock) = api();
    let (_, started) = read(
        &api.handle(post_with_key("k1", &json!({"jobName": "adhoc"})))
            .await,
    );
    let id = started["exportId"].as_str().unwrap();
    clock.advance_by(jiff::SignedDuration::from_secs(3));
    let (status, body) = read(&api.handle(get(&format!("/exports/{id}"))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "STARTING");
    assert_eq!(body["exportId"], id);
    assert_eq!(body["executionArn"], started["executionArn"]);
    assert_eq!(body["datastoreId"], DATASTORE);
    assert_eq!(body["jobName"], "adhoc");
    assert_eq!(body["trigger"], "api");
    assert_eq!(body["executionStartedAt"], "2026-11-24T10:00:00.000Z");
    assert!(body.get("endedAt").is_none());
    record_from_answer(&body);

    // Once the record is written, it is the answer.
    let mut written = record(id, DATASTORE, 0);
    written.status = hlx_core::RecordStatus::parse("IN_PROGRESS");
    api.store().write(&written).await.unwrap();
    let (_, body) = read(&api.handle(get(&format!("/exports/{id}"))).await);
    assert_eq!(body["status"], "IN_PROGRESS");
}

#[tokio::test]
async fn an_execution_that_ended_without_a_record_reads_as_an_error() {
    let (api, clock) = api();
    let (_, started) = read(&api.handle(post_json(&json!({}))).await);
    let id = started["exportId"].as_str().unwrap();
    clock.advance_by(jiff::SignedDuration::from_mins(1));
    api.executions().finish(id, "ABORTED");
    let (status, body) = read(&api.handle(get(&format!("/exports/{id}"))).await);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ERROR");
    assert_eq!(body["errorName"], "hlx.NoRecord");
    assert!(body["errorCause"].as_str().unwrap().contains("ABORTED"));
    assert_eq!(body["endedAt"], "2026-11-24T10:01:00.000Z");
}

#[tokio::test]
async fn job_store_failures_are_429_503_or_500_without_internals() {
    type Case = (fn() -> HlxError, u16, &'static str);
    let cases: [Case; 4] = [
        (
            || HlxError::DynamoDb {
                code: "ProvisionedThroughputExceededException".into(),
                message: "slow down".into(),
            },
            429,
            "TooManyRequests",
        ),
        (
            || HlxError::DynamoDb {
                code: "ThrottlingException".into(),
                message: "slow down".into(),
            },
            429,
            "TooManyRequests",
        ),
        (
            || HlxError::DynamoDbUnavailable("timeout".into()),
            503,
            "ServiceUnavailable",
        ),
        (
            || HlxError::DynamoDb {
                code: "ResourceNotFoundException".into(),
                message: "Requested resource not found: table hlx-jobs-secret".into(),
            },
            500,
            "InternalError",
        ),
    ];
    for (make, status, name) in cases {
        let api = failing_api(make);
        for path in ["/exports/e1", "/exports"] {
            let body = expect_error(&api.handle(get(path)).await, status, name);
            assert!(!body.to_string().contains("secret"), "{body}");
        }
    }
}

#[tokio::test]
async fn describe_failures_on_a_read_are_mapped_too() {
    let (api, _) = api();
    api.executions().fail_next(Call::Describe, throttled());
    expect_error(&api.handle(get("/exports/e1")).await, 429, "TooManyRequests");
    api.executions().fail_next(
        Call::Describe,
        SfnError::Service {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        },
    );
    expect_error(&api.handle(get("/exports/e1")).await, 500, "InternalError");
}

// ------------------------------------------------------------- GET /exports

async fn seeded() -> TestApi {
    let (api, _) = api();
    for minute in 0..5 {
        api.store()
            .write(&record(&format!("ds-export-{minute}"), DATASTORE, minute))
            .await
            .unwrap();
    }
    for minute in 0..2 {
        api.store()
            .write(&record(&format!("other-{minute}"), "other-ds", minute))
            .await
            .unwrap();
    }
    api
}

fn ids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["exportId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_list_pages_newest_first_with_the_stores_token() {
    let api = seeded().await;
    let mut seen = Vec::new();
    let mut uri = format!("/exports?datastoreId={DATASTORE}&limit=2");
    let mut pages = 0;
    loop {
        let (status, page) = read(&api.handle(get(&uri)).await);
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page));
        match page.get("nextToken").and_then(Value::as_str) {
            Some(token) => {
                let escaped = utf8_percent_encode(token, NON_ALPHANUMERIC);
                uri = format!("/exports?datastoreId={DATASTORE}&limit=2&nextToken={escaped}");
            }
            None => break,
        }
        assert!(pages < 10, "the list ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        [
            "ds-export-4",
            "ds-export-3",
            "ds-export-2",
            "ds-export-1",
            "ds-export-0"
        ]
    );
}

#[tokio::test]
async fn a_list_defaults_to_the_configured_data_store_and_20_records() {
    let api = seeded().await;
    let (status, page) = read(&api.handle(get("/exports")).await);
    assert_eq!(status, 200);
    assert_eq!(ids(&page).len(), 5);
    assert!(page.get("nextToken").is_none());
    let (_, other) = read(&api.handle(get("/exports?datastoreId=other-ds")).await);
    assert_eq!(ids(&other), ["other-1", "other-0"]);
    let (_, none) = read(&api.handle(get("/exports?datastoreId=unused")).await);
    assert_eq!(none, json!({"records": []}));

    let (api, _) = common::api();
    for minute in 0..25 {
        api.store()
            .write(&record(&format!("e{minute:02}"), DATASTORE, minute))
            .await
            .unwrap();
    }
    let (_, page) = read(&api.handle(get("/exports")).await);
    assert_eq!(ids(&page).len(), 20);
    assert!(page["nextToken"].is_string());
    let (_, page) = read(&api.handle(get("/exports?limit=100")).await);
    assert_eq!(ids(&page).len(), 25);
}

#[tokio::test]
async fn bad_list_parameters_are_400s_naming_the_parameter() {
    let api = seeded().await;
    let cases = [
        ("/exports?limit=0", "limit"),
        ("/exports?limit=101", "limit"),
        ("/exports?limit=abc", "limit"),
        ("/exports?limit=-1", "limit"),
        ("/exports?limit=1.5", "limit"),
        ("/exports?limit=", "limit"),
        ("/exports?limit=99999999999999999999", "limit"),
        ("/exports?datastoreId=", "datastoreId"),
        ("/exports?datastoreId=semi%3Bcolon", "datastoreId"),
        ("/exports?nextToken=", "nextToken"),
        ("/exports?datastoreID=x", "datastoreID"),
        ("/exports?limit=1&limit=2", "limit"),
    ];
    for (uri, field) in cases {
        expect_invalid(&api.handle(get(uri)).await, field);
    }
    let (api, _) = api_with(ApiConfig {
        default_datastore_id: None,
        ..config()
    });
    expect_invalid(&api.handle(get("/exports")).await, "datastoreId");
}

#[tokio::test]
async fn page_tokens_the_list_did_not_return_are_invalid_next_token() {
    let (api, _) = common::api();
    for minute in 0..3 {
        api.store()
            .write(&record(&format!("e{minute:02}"), DATASTORE, minute))
            .await
            .unwrap();
        api.store()
            .write(&record(&format!("o{minute:02}"), "other-ds", minute))
            .await
            .unwrap();
    }
    let (_, page) = read(&api.handle(get("/exports?limit=1")).await);
    let token = page["nextToken"].as_str().expect("a token").to_owned();
    let escaped = |t: &str| t.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
    let (status, next) = read(
        &api.handle(get(&format!("/exports?limit=1&nextToken={}", escaped(&token))))
            .await,
    );
    assert_eq!(status, 200, "{next}");
    let cases = [
        // Not base64, base64 of no JSON, and base64 of {"foo":"bar"} (the
        // token that once reached DynamoDB as a start key: a 500).
        "/exports?nextToken=not-a-token".to_owned(),
        "/exports?nextToken=bm90IGpzb24%3D".to_owned(),
        "/exports?nextToken=eyJmb28iOiJiYXIifQ%3D%3D".to_owned(),
        // The data store's token, given to another data store's list and to the imports list.
        format!("/exports?datastoreId=other-ds&nextToken={}", escaped(&token)),
        format!("/imports?nextToken={}", escaped(&token)),
    ];
    for uri in cases {
        let body = common::expect_error(&api.handle(get(&uri)).await, 400, "InvalidNextToken");
        assert_eq!(body["field"], "nextToken", "{uri}: {body}");
    }
}

#[tokio::test]
async fn routes_refuse_query_parameters_they_do_not_define() {
    let (api, _) = api();
    expect_invalid(&api.handle(get("/exports/e1?verbose=1")).await, "verbose");
    let response = api
        .handle(request("POST", "/exports?datastoreId=x", &[], b"{}"))
        .await;
    expect_invalid(&response, "datastoreId");
    assert_eq!(api.executions().start_calls(), 0);
}

// --------------------------------------------------------- methods and paths

#[tokio::test]
async fn wrong_methods_are_405s_with_allow() {
    let (api, _) = api();
    for (method, path, allow) in [
        ("DELETE", "/exports", "GET, POST"),
        ("PUT", "/exports", "GET, POST"),
        ("PATCH", "/exports", "GET, POST"),
        ("POST", "/exports/e1", "GET, DELETE"),
        ("PUT", "/exports/e1", "GET, DELETE"),
        ("HEAD", "/exports/e1", "GET, DELETE"),
    ] {
        let response = api.handle(request(method, path, &[], b"")).await;
        let body = expect_error(&response, 405, "MethodNotAllowed");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert!(body["message"].as_str().unwrap().contains(method));
    }
}

#[tokio::test]
async fn other_paths_are_404s() {
    let (api, _) = api();
    for path in ["/", "/export", "/exports/a/b", "/exportsx"] {
        expect_error(&api.handle(get(path)).await, 404, "NotFound");
    }
}

#[tokio::test]
async fn without_an_api_gateway_context_the_path_routes() {
    let api = seeded().await;
    let plain = |method: &str, uri: &str, body: &str| {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, body) = read(&api.handle(plain("GET", "/exports/ds-export-1", "")).await);
    assert_eq!((status, body["exportId"].as_str()), (200, Some("ds-export-1")));
    let (status, _) = read(&api.handle(plain("GET", "/exports", "")).await);
    assert_eq!(status, 200);
    let query =
        plain("GET", "/exports", "").with_query_string_parameters(std::collections::HashMap::from([(
            "limit".to_owned(),
            "2".to_owned(),
        )]));
    let (_, page) = read(&api.handle(query).await);
    assert_eq!(ids(&page).len(), 2);
    let response = api.handle(plain("POST", "/exports", "{}")).await;
    assert_eq!(read(&response).0, 202);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/exports/api-")
    );
    expect_error(
        &api.handle(plain("DELETE", "/exports", "")).await,
        405,
        "MethodNotAllowed",
    );
    expect_error(&api.handle(plain("GET", "/nope", "")).await, 404, "NotFound");
}

#[tokio::test]
async fn behind_a_stage_the_location_keeps_the_stage() {
    let (api, _) = api();
    let event = json!({
        "resource": "/exports",
        "path": "/exports",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json", "Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"content-type": ["application/json"], "Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": "/exports",
            "httpMethod": "POST",
            "path": "/v1/exports",
            "stage": "v1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "abc",
            "identity": {"userArn": "arn:aws:iam::123456789012:user/someone"}
        },
        "body": "{\"jobName\": \"staged\"}",
        "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = api.handle(request).await;
    let (status, body) = read(&response);
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        response.headers()["location"],
        format!("/v1/exports/{}", body["exportId"].as_str().unwrap())
    );
}
