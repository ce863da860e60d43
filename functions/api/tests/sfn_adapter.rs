//! The Step Functions adapter against the real SDK client with mocked
//! operations: the calls carry the name, input and ARNs, and every error gets
//! the meaning the API answers with. Then the whole API over the mocked client.

mod common;

use std::sync::Arc;

use api::executions::{ExecutionStarter, SdkExecutionStarter, SfnError};
use api::{Api, ApiConfig};
use aws_sdk_sfn::error::ErrorMetadata;
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::types::error::{
    ExecutionAlreadyExists, ExecutionDoesNotExist, ExecutionLimitExceeded, InvalidArn,
    StateMachineDoesNotExist,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use common::*;
use hlx_clock::SharedClock;
use hlx_core::InMemoryJobStore;
use serde_json::json;

const EXECUTION_PREFIX: &str = "arn:aws:states:us-east-1:123456789012:execution:hlx-job:";

type MakeError<E> = fn() -> E;
type Expect = fn(&SfnError) -> bool;

fn throttling<E>(generic: fn(ErrorMetadata) -> E) -> E {
    generic(
        ErrorMetadata::builder()
            .code("ThrottlingException")
            .message("Rate exceeded")
            .build(),
    )
}

fn started(name: &str) -> StartExecutionOutput {
    StartExecutionOutput::builder()
        .execution_arn(format!("{EXECUTION_PREFIX}{name}"))
        .start_date(DateTime::from_secs(1_795_000_000))
        .build()
        .unwrap()
}

fn described(name: &str, status: ExecutionStatus, input: &str) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(format!("{EXECUTION_PREFIX}{name}"))
        .state_machine_arn(STATE_MACHINE)
        .name(name)
        .status(status)
        .input(input)
        .start_date(DateTime::from_secs(1_795_000_000))
        .build()
        .unwrap()
}

#[tokio::test]
async fn start_sends_the_state_machine_name_and_input() {
    let rule = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|req| {
            req.state_machine_arn() == Some(STATE_MACHINE)
                && req.name() == Some("api-k-abc")
                && req.input() == Some(r#"{"datastoreId":"ds1"}"#)
        })
        .then_output(|| started("api-k-abc"));
    let client = mock_client!(aws_sdk_sfn, [&rule]);
    let sfn = SdkExecutionStarter::new(client, STATE_MACHINE);
    let execution = sfn.start("api-k-abc", r#"{"datastoreId":"ds1"}"#).await.unwrap();
    assert_eq!(execution.execution_arn, format!("{EXECUTION_PREFIX}api-k-abc"));
    assert_eq!(execution.start_date.as_second(), 1_795_000_000);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn every_start_error_gets_its_meaning() {
    let cases: Vec<(MakeError<StartExecutionError>, Expect)> = vec![
        (
            || {
                StartExecutionError::ExecutionAlreadyExists(
                    ExecutionAlreadyExists::builder()
                        .message("Execution Already Exists: 'arn'")
                        .build(),
                )
            },
            |e| matches!(e, SfnError::AlreadyExists(m) if m.contains("Already Exists")),
        ),
        (
            || throttling(StartExecutionError::generic),
            |e| matches!(e, SfnError::Throttled { code, .. } if code == "ThrottlingException"),
        ),
        (
            || {
                StartExecutionError::ExecutionLimitExceeded(
                    ExecutionLimitExceeded::builder().message("m").build(),
                )
            },
            |e| matches!(e, SfnError::Throttled { code, .. } if code == "ExecutionLimitExceeded"),
        ),
        (
            || {
                StartExecutionError::StateMachineDoesNotExist(
                    StateMachineDoesNotExist::builder().message("gone").build(),
                )
            },
            |e| matches!(e, SfnError::Service { code, message } if code == "StateMachineDoesNotExist" && message.contains("gone")),
        ),
        (
            || {
                StartExecutionError::generic(
                    ErrorMetadata::builder()
                        .code("com.amazonaws.swf.service.v2.model#AccessDeniedException")
                        .message("no")
                        .build(),
                )
            },
            |e| matches!(e, SfnError::Service { code, .. } if code == "AccessDeniedException"),
        ),
    ];
    for (make, expected) in cases {
        let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(make);
        let client = mock_client!(aws_sdk_sfn, [&rule]);
        let err = SdkExecutionStarter::new(client, STATE_MACHINE)
            .start("e1", "{}")
            .await
            .unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert!(rule.num_calls() >= 1);
    }
}

#[tokio::test]
async fn describe_asks_for_the_execution_arn_of_the_name() {
    let rule = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|req| req.execution_arn() == Some(&format!("{EXECUTION_PREFIX}api-k-abc")[..]))
        .then_output(|| {
            let mut out = described("api-k-abc", ExecutionStatus::Succeeded, "{}");
            out.stop_date = Some(DateTime::from_secs(1_795_000_060));
            out
        });
    let client = mock_client!(aws_sdk_sfn, [&rule]);
    let execution = SdkExecutionStarter::new(client, STATE_MACHINE)
        .describe("api-k-abc")
        .await
        .unwrap()
        .expect("an execution");
    assert_eq!(execution.name, "api-k-abc");
    assert_eq!(execution.status, "SUCCEEDED");
    assert_eq!(execution.input.as_deref(), Some("{}"));
    assert_eq!(execution.stop_date.map(|t| t.as_second()), Some(1_795_000_060));
    assert!(!execution.is_running());
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn describe_reads_a_missing_execution_as_none_and_maps_errors() {
    let missing = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
        DescribeExecutionError::ExecutionDoesNotExist(
            ExecutionDoesNotExist::builder().message("none").build(),
        )
    });
    let client = mock_client!(aws_sdk_sfn, [&missing]);
    let sfn = SdkExecutionStarter::new(client, STATE_MACHINE);
    assert_eq!(sfn.describe("e1").await.unwrap(), None);

    let throttled = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_error(|| throttling(DescribeExecutionError::generic));
    let client = mock_client!(aws_sdk_sfn, [&throttled]);
    let err = SdkExecutionStarter::new(client, STATE_MACHINE)
        .describe("e1")
        .await
        .unwrap_err();
    assert!(matches!(err, SfnError::Throttled { .. }), "{err:?}");

    let invalid = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_error(|| DescribeExecutionError::InvalidArn(InvalidArn::builder().message("bad").build()));
    let client = mock_client!(aws_sdk_sfn, [&invalid]);
    let err = SdkExecutionStarter::new(client, STATE_MACHINE)
        .describe("e1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, SfnError::Service { ref code, .. } if code == "InvalidArn"),
        "{err:?}"
    );
}

// ----------------------------------------------- the API over the SDK adapter

fn sdk_api(client: aws_sdk_sfn::Client) -> Api<InMemoryJobStore, SdkExecutionStarter> {
    let clock: SharedClock = Arc::new(hlx_clock::VirtualClock::starting_at(start_time()));
    Api::new(
        ApiConfig { ..config() },
        InMemoryJobStore::new(),
        SdkExecutionStarter::new(client, STATE_MACHINE),
        clock,
    )
}

fn not_found() -> DescribeExecutionError {
    DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().message("none").build())
}

/// The execution input the API sends for `{}` (the default data store, no job name).
fn default_input() -> String {
    json!({
        "datastoreId": DATASTORE,
        "s3Uri": S3_URI,
        "kmsKeyId": KMS_KEY,
        "dataAccessRoleArn": ROLE,
        "trigger": "api"
    })
    .to_string()
}

#[tokio::test]
async fn a_post_over_the_sdk_starts_once_and_answers_202() {
    let name = api::naming::name_for_key(hlx_core::JobKind::Export, "k1");
    let look = mock!(aws_sdk_sfn::Client::describe_execution).then_error(not_found);
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|req| {
            req.name() == Some(&api::naming::name_for_key(hlx_core::JobKind::Export, "k1")[..])
                && req.input() == Some(&default_input()[..])
        })
        .then_output(|| started(&api::naming::name_for_key(hlx_core::JobKind::Export, "k1")));
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&look, &start]);
    let (status, body) = read(&sdk_api(client).handle(post_with_key("k1", &json!({}))).await);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["exportId"], name);
    assert_eq!(body["executionArn"], format!("{EXECUTION_PREFIX}{name}"));
    assert_eq!((look.num_calls(), start.num_calls()), (1, 1));
}

#[tokio::test]
async fn execution_already_exists_over_the_sdk_answers_200_with_the_existing_export() {
    let name = api::naming::name_for_key(hlx_core::JobKind::Export, "k1");
    let look = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .error(not_found)
        .output(|| {
            described(
                &api::naming::name_for_key(hlx_core::JobKind::Export, "k1"),
                ExecutionStatus::Running,
                &default_input(),
            )
        })
        .build();
    let start = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder().message("exists").build(),
        )
    });
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&look, &start]);
    let (status, body) = read(&sdk_api(client).handle(post_with_key("k1", &json!({}))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exportId"], name);
    assert_eq!(body["status"], "RUNNING");
    assert_eq!((look.num_calls(), start.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_key_reused_over_the_sdk_is_a_409_without_a_start() {
    let look = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        described(
            &api::naming::name_for_key(hlx_core::JobKind::Export, "k1"),
            ExecutionStatus::Succeeded,
            r#"{"datastoreId":"other"}"#,
        )
    });
    let start = mock!(aws_sdk_sfn::Client::start_execution).then_output(|| started("never"));
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&look, &start]);
    let response = sdk_api(client).handle(post_with_key("k1", &json!({}))).await;
    expect_error(&response, 409, "IdempotencyConflict");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn throttled_start_execution_over_the_sdk_is_a_429() {
    let look = mock!(aws_sdk_sfn::Client::describe_execution).then_error(not_found);
    let start =
        mock!(aws_sdk_sfn::Client::start_execution).then_error(|| throttling(StartExecutionError::generic));
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&look, &start]);
    let response = sdk_api(client).handle(post_json(&json!({}))).await;
    expect_error(&response, 429, "TooManyRequests");
    assert_eq!(response.headers()["retry-after"], "2");
    assert!(start.num_calls() >= 1);
}

#[tokio::test]
async fn a_read_without_a_record_over_the_sdk_describes_the_execution() {
    let look = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|req| req.execution_arn() == Some(&format!("{EXECUTION_PREFIX}api-k-1")[..]))
        .then_output(|| described("api-k-1", ExecutionStatus::Running, &default_input()));
    let missing = mock!(aws_sdk_sfn::Client::describe_execution).then_error(not_found);
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&look, &missing]);
    let api = sdk_api(client);
    let (status, body) = read(&api.handle(get("/exports/api-k-1")).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "STARTING");
    assert_eq!(body["datastoreId"], DATASTORE);
    expect_error(&api.handle(get("/exports/api-k-2")).await, 404, "NotFound");
}
