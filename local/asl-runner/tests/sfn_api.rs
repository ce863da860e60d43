//! The runner's Step Functions API through the unmodified `aws-sdk-sfn`
//! client over HTTP: every operation and every error it answers with.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::{Credentials, Region};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use hlx_asl_runner::{InProcessInvoker, Runner, SfnApi, SfnServer, StateMachine, TaskError, TimeDriver};
use hlx_clock::VirtualClock;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "123456789012";

fn machine(name: &str, definition: Value) -> Arc<StateMachine> {
    Arc::new(
        StateMachine::load(&definition.to_string(), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("load: {e}"))
            .with_name(name),
    )
}

/// A served runner on virtual time with four machines:
/// - `echo`: a Lambda task returning its input, a 1-hour Wait, a Pass;
/// - `callback`: a `.waitForTaskToken` task with no timeout;
/// - `heartbeat`: the same with `HeartbeatSeconds` (which, in virtual time
///   with nobody answering, runs out at once);
/// - `fail`: a Fail state.
struct Served {
    client: Client,
    server: SfnServer,
    _driver: TimeDriver,
    api: SfnApi,
    arns: BTreeMap<&'static str, String>,
    /// The task tokens the callback tasks were given.
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn served() -> Served {
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = tokens.clone();
    let invoker = InProcessInvoker::new()
        .function("echo", |payload, _| async move { Ok::<_, TaskError>(payload) })
        .resource("arn:aws:states:::events:putEvents", move |p, _| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(p["token"].as_str().unwrap().to_owned());
                Ok(json!({"submitted": true}))
            }
        });
    let runner = Runner::builder(invoker)
        .virtual_time(VirtualClock::default())
        .account(ACCOUNT)
        .build();
    let api = SfnApi::new(runner.clone());
    let mut arns = BTreeMap::new();
    arns.insert(
        "echo",
        api.register(machine(
            "echo",
            json!({"StartAt": "Echo", "States": {
                "Echo": {"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo"), "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
                "Done": {"Type": "Pass", "End": true}}}),
        )),
    );
    let callback = |heartbeat: Option<u64>| {
        let mut task = json!({"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                              "Parameters": {"token.$": "$$.Task.Token"}, "End": true});
        if let Some(seconds) = heartbeat {
            task["HeartbeatSeconds"] = json!(seconds);
        }
        json!({"StartAt": "Ask", "States": {"Ask": task}})
    };
    arns.insert("callback", api.register(machine("callback", callback(None))));
    arns.insert(
        "heartbeat",
        api.register(machine("heartbeat", callback(Some(60)))),
    );
    arns.insert(
        "fail",
        api.register(machine(
            "fail",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}),
        )),
    );
    let server = api.serve("127.0.0.1:0".parse().unwrap()).await.expect("serve");
    let driver = TimeDriver::spawn(&runner);
    Served {
        client: client(&server.endpoint_url()),
        server,
        _driver: driver,
        api,
        arns,
        tokens,
    }
}

fn client(endpoint: &str) -> Client {
    Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .behavior_version_latest()
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

impl Served {
    fn arn(&self, machine: &str) -> &str {
        &self.arns[machine]
    }

    async fn start(&self, machine: &str, name: &str, input: &str) -> String {
        self.client
            .start_execution()
            .state_machine_arn(self.arn(machine))
            .name(name)
            .input(input)
            .send()
            .await
            .unwrap_or_else(|e| panic!("start {name}: {e:?}"))
            .execution_arn()
            .to_owned()
    }

    /// Polls DescribeExecution until the execution leaves RUNNING.
    async fn finished(
        &self,
        arn: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self
                .client
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            if *out.status() != ExecutionStatus::Running {
                return out;
            }
            assert!(Instant::now() < deadline, "{arn} still running");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The `n`-th task token handed out (waits for it).
    async fn token(&self, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(token) = self.tokens.lock().unwrap().get(n) {
                return token.clone();
            }
            assert!(Instant::now() < deadline, "no task token {n}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The error's `__type` as the SDK parsed it.
fn code<E: ProvideErrorMetadata, R>(err: &aws_sdk_sfn::error::SdkError<E, R>) -> String {
    err.as_service_error()
        .and_then(|e| e.code())
        .unwrap_or("(not a service error)")
        .to_owned()
}

#[tokio::test]
async fn start_describe_and_run_on_virtual_time() {
    let s = served().await;
    let out = s
        .client
        .start_execution()
        .state_machine_arn(s.arn("echo"))
        .name("first")
        .input(r#"{"n": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.execution_arn(),
        format!("arn:aws:states:us-east-1:{ACCOUNT}:execution:echo:first")
    );
    let started = out.start_date().secs();
    assert_eq!(started, 1_767_225_600, "the virtual clock's start, 2026-01-01");

    // The hour-long Wait passes in virtual time, driven by the TimeDriver.
    let wall = Instant::now();
    let done = s.finished(out.execution_arn()).await;
    assert!(wall.elapsed() < Duration::from_secs(5));
    assert_eq!(*done.status(), ExecutionStatus::Succeeded);
    assert_eq!(done.name(), Some("first"));
    assert_eq!(done.state_machine_arn(), s.arn("echo"));
    assert_eq!(done.stop_date().unwrap().secs() - started, 3600);
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output, json!({"n": 1}));
    let input: Value = serde_json::from_str(done.input().unwrap()).unwrap();
    assert_eq!(input, json!({"n": 1}));
    assert_eq!(done.redrive_count(), Some(0));

    // METADATA_ONLY leaves the data out.
    let meta = s
        .client
        .describe_execution()
        .execution_arn(out.execution_arn())
        .included_data(aws_sdk_sfn::types::IncludedData::MetadataOnly)
        .send()
        .await
        .unwrap();
    assert!(meta.input().is_none() && meta.output().is_none());

    // Without a name, the service names the execution.
    let unnamed = s
        .client
        .start_execution()
        .state_machine_arn(s.arn("echo"))
        .send()
        .await
        .unwrap();
    let name = unnamed.execution_arn().rsplit(':').next().unwrap();
    assert_eq!(name.len(), 36, "a UUID: {name}");
    let done = s.finished(unnamed.execution_arn()).await;
    assert_eq!(done.output(), Some("{}"), "the default input is {{}}");

    // A failing execution reports its error and cause.
    let failed = s.start("fail", "f1", "{}").await;
    let done = s.finished(&failed).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("Boom"));
    assert_eq!(done.cause(), Some("on purpose"));
}

#[tokio::test]
async fn start_is_idempotent_for_a_running_execution_with_the_same_input() {
    let s = served().await;
    let first = s.start("callback", "once", r#"{"a": 1}"#).await;
    let again = s.start("callback", "once", r#"{"a": 1}"#).await;
    assert_eq!(first, again);
    assert_eq!(s.api.runner().executions().len(), 1, "no second execution");

    let other_input = s
        .client
        .start_execution()
        .state_machine_arn(s.arn("callback"))
        .name("once")
        .input(r#"{"a": 2}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&other_input), "ExecutionAlreadyExists");
    assert!(other_input.into_service_error().is_execution_already_exists());

    // Once it has ended, even the same input is refused.
    let token = s.token(0).await;
    s.client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"ok": true}"#)
        .send()
        .await
        .unwrap();
    s.finished(&first).await;
    let ended = s
        .client
        .start_execution()
        .state_machine_arn(s.arn("callback"))
        .name("once")
        .input(r#"{"a": 1}"#)
        .send()
        .await
        .unwrap_err();
    assert!(ended.into_service_error().is_execution_already_exists());
}

#[tokio::test]
async fn start_errors() {
    let s = served().await;
    let start = |arn: &str, name: &str, input: &str| {
        s.client
            .start_execution()
            .state_machine_arn(arn)
            .name(name)
            .input(input)
            .send()
    };
    let missing = format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:nope");
    let err = start(&missing, "x", "{}").await.unwrap_err();
    assert_eq!(code(&err), "StateMachineDoesNotExist");
    assert!(err.into_service_error().is_state_machine_does_not_exist());

    let err = start("not-an-arn", "x", "{}").await.unwrap_err();
    assert!(err.into_service_error().is_invalid_arn());
    let err = start(
        &format!("arn:aws:states:us-east-1:{ACCOUNT}:execution:echo:x"),
        "x",
        "{}",
    )
    .await
    .unwrap_err();
    assert!(
        err.into_service_error().is_invalid_arn(),
        "an execution ARN is no state machine ARN"
    );

    for bad in ["has space", "a:b", &"x".repeat(81)] {
        let err = start(s.arn("echo"), bad, "{}").await.unwrap_err();
        assert_eq!(code(&err), "InvalidName", "{bad}");
    }
    let err = start(s.arn("echo"), "x", "{not json").await.unwrap_err();
    assert_eq!(code(&err), "InvalidExecutionInput");
    let message = err
        .into_service_error()
        .meta()
        .message()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("Invalid State Machine Execution Input"),
        "{message}"
    );
}

#[tokio::test]
async fn describe_errors() {
    let s = served().await;
    let err = s
        .client
        .describe_execution()
        .execution_arn(format!(
            "arn:aws:states:us-east-1:{ACCOUNT}:execution:echo:nobody"
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ExecutionDoesNotExist");
    assert!(err.into_service_error().is_execution_does_not_exist());
    // A bare name is not an ARN, even when an execution has that name.
    s.start("callback", "named", "{}").await;
    let err = s
        .client
        .describe_execution()
        .execution_arn("named")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_arn());
}

#[tokio::test]
async fn list_executions_newest_first_with_filters_and_pages() {
    let s = served().await;
    let mut arns = Vec::new();
    for n in 0..5 {
        let arn = s.start("echo", &format!("e{n}"), "{}").await;
        s.finished(&arn).await;
        arns.push(arn);
    }
    let failed = s.start("fail", "f", "{}").await;
    s.finished(&failed).await;
    let e5 = s.start("echo", "e5", "{}").await;
    assert_eq!(*s.finished(&e5).await.status(), ExecutionStatus::Succeeded);

    // Pages of 2, newest first, only this machine's executions.
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s
            .client
            .list_executions()
            .state_machine_arn(s.arn("echo"))
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for item in page.executions() {
            assert_eq!(item.state_machine_arn(), s.arn("echo"));
            assert_eq!(*item.status(), ExecutionStatus::Succeeded);
            assert!(item.stop_date().is_some());
            names.push(item.name().to_owned());
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["e5", "e4", "e3", "e2", "e1", "e0"]);

    // The paginator sees the same.
    let all: Vec<String> = s
        .client
        .list_executions()
        .state_machine_arn(s.arn("echo"))
        .max_results(4)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name().to_owned())
        .collect();
    assert_eq!(all, names);

    // Status filters.
    let count = |machine: &'static str, status: ExecutionStatus| {
        let client = s.client.clone();
        let arn = s.arn(machine).to_owned();
        async move {
            client
                .list_executions()
                .state_machine_arn(arn)
                .status_filter(status)
                .send()
                .await
                .unwrap()
                .executions()
                .len()
        }
    };
    assert_eq!(count("echo", ExecutionStatus::Succeeded).await, 6);
    assert_eq!(count("echo", ExecutionStatus::Failed).await, 0);
    assert_eq!(count("fail", ExecutionStatus::Failed).await, 1);
    s.start("callback", "waiting", "{}").await;
    assert_eq!(count("callback", ExecutionStatus::Running).await, 1);

    // Errors.
    let list = || s.client.list_executions();
    let err = list()
        .state_machine_arn(s.arn("echo"))
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidToken");
    let first = list()
        .state_machine_arn(s.arn("echo"))
        .max_results(1)
        .send()
        .await
        .unwrap();
    let err = list()
        .state_machine_arn(s.arn("fail"))
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        "InvalidToken",
        "a token is good only for its own listing"
    );
    let err = list()
        .state_machine_arn(format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:nope"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_state_machine_does_not_exist());
    let err = list()
        .state_machine_arn(s.arn("echo"))
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = list().send().await.unwrap_err();
    assert_eq!(
        code(&err),
        "ValidationException",
        "neither a state machine nor a map run"
    );
}

#[tokio::test]
async fn execution_history_pages_forward_and_in_reverse() {
    let s = served().await;
    let arn = s.start("echo", "h", r#"{"secret": "data"}"#).await;
    s.finished(&arn).await;
    let full = s
        .client
        .get_execution_history()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    let types: Vec<HistoryEventType> = full.events().iter().map(|e| e.r#type().clone()).collect();
    use HistoryEventType as T;
    assert_eq!(
        types,
        [
            T::ExecutionStarted,
            T::TaskStateEntered,
            T::LambdaFunctionScheduled,
            T::LambdaFunctionStarted,
            T::LambdaFunctionSucceeded,
            T::TaskStateExited,
            T::WaitStateEntered,
            T::WaitStateExited,
            T::PassStateEntered,
            T::PassStateExited,
            T::ExecutionSucceeded,
        ]
    );
    assert!(full.next_token().is_none());
    let events = full.events();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id(), i as i64 + 1);
        assert_eq!(e.previous_event_id(), i as i64);
    }
    assert_eq!(events[6].timestamp().secs(), 1_767_225_600);
    assert_eq!(events[7].timestamp().secs(), 1_767_225_600 + 3600);
    let started = events[0].execution_started_event_details().unwrap();
    assert_eq!(started.input(), Some(r#"{"secret":"data"}"#));
    assert_eq!(
        events[2]
            .lambda_function_scheduled_event_details()
            .unwrap()
            .resource(),
        format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo")
    );
    assert_eq!(events[1].state_entered_event_details().unwrap().name(), "Echo");

    // Forward pages of 4.
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page = s
            .client
            .get_execution_history()
            .execution_arn(&arn)
            .max_results(4)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        ids.extend(page.events().iter().map(|e| e.id()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(ids, (1..=11).collect::<Vec<_>>());

    // Reverse pages of 5.
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page = s
            .client
            .get_execution_history()
            .execution_arn(&arn)
            .reverse_order(true)
            .max_results(5)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        ids.extend(page.events().iter().map(|e| e.id()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(ids, (1..=11).rev().collect::<Vec<_>>());

    // A forward token does not continue a reverse listing.
    let forward = s
        .client
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(2)
        .send()
        .await
        .unwrap();
    let err = s
        .client
        .get_execution_history()
        .execution_arn(&arn)
        .reverse_order(true)
        .next_token(forward.next_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidToken");

    // Without execution data.
    let lean = s
        .client
        .get_execution_history()
        .execution_arn(&arn)
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    let started = lean.events()[0].execution_started_event_details().unwrap();
    assert!(started.input().is_none());

    let err = s
        .client
        .get_execution_history()
        .execution_arn(format!("arn:aws:states:us-east-1:{ACCOUNT}:execution:echo:none"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_execution_does_not_exist());
}

#[tokio::test]
async fn task_tokens_success_failure_heartbeat() {
    let s = served().await;
    // Success: the task's result is the output sent.
    let ok = s.start("callback", "ok", "{}").await;
    let token = s.token(0).await;
    // The token is in the history too, as a client would find it.
    let history = s
        .client
        .get_execution_history()
        .execution_arn(&ok)
        .send()
        .await
        .unwrap();
    let scheduled = history
        .events()
        .iter()
        .find_map(|e| e.task_scheduled_event_details())
        .expect("TaskScheduled");
    let parameters: Value = serde_json::from_str(scheduled.parameters()).unwrap();
    assert_eq!(parameters["token"], token);
    s.client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap();
    let err = s
        .client
        .send_task_success()
        .task_token(&token)
        .output("{nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_output());
    s.client
        .send_task_success()
        .task_token(&token)
        .output(r#"{"answer": 42}"#)
        .send()
        .await
        .unwrap();
    let done = s.finished(&ok).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded);
    assert_eq!(done.output(), Some(r#"{"answer":42}"#));

    // The task is closed now: every call with its token is TaskTimedOut.
    let err = s
        .client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_task_timed_out());
    let err = s
        .client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_task_timed_out());

    // Failure: the error and cause fail the execution.
    let bad = s.start("callback", "bad", "{}").await;
    let token = s.token(1).await;
    s.client
        .send_task_failure()
        .task_token(&token)
        .error("Nope")
        .cause("said no")
        .send()
        .await
        .unwrap();
    let done = s.finished(&bad).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("Nope"));
    assert_eq!(done.cause(), Some("said no"));
    let err = s
        .client
        .send_task_failure()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_task_timed_out());

    // A token of the runner's form that no task was given; one of no form at all.
    let unknown = "ab".repeat(48);
    let err = s
        .client
        .send_task_heartbeat()
        .task_token(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskDoesNotExist");
    assert!(err.into_service_error().is_task_does_not_exist());
    let err = s
        .client
        .send_task_success()
        .task_token("not-a-token")
        .output("{}")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_token());
    let err = s
        .client
        .send_task_failure()
        .task_token("x".repeat(2049))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn a_heartbeat_that_ran_out_makes_the_token_time_out() {
    let s = served().await;
    // Nobody answers within HeartbeatSeconds: in virtual time the task times
    // out as soon as the execution waits on its token.
    let arn = s.start("heartbeat", "hb", "{}").await;
    let token = s.token(0).await;
    let done = s.finished(&arn).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("States.HeartbeatTimeout"));
    let err = s
        .client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TaskTimedOut");
}

#[tokio::test]
async fn state_machines_are_described_and_listed() {
    let s = served().await;
    let out = s
        .client
        .describe_state_machine()
        .state_machine_arn(s.arn("echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.name(), "echo");
    assert_eq!(out.state_machine_arn(), s.arn("echo"));
    assert_eq!(
        out.status(),
        Some(&aws_sdk_sfn::types::StateMachineStatus::Active)
    );
    assert_eq!(*out.r#type(), aws_sdk_sfn::types::StateMachineType::Standard);
    assert_eq!(out.role_arn(), s.api.runner().config().role_arn);
    let definition: Value = serde_json::from_str(out.definition()).unwrap();
    assert_eq!(definition["StartAt"], "Echo");

    let err = s
        .client
        .describe_state_machine()
        .state_machine_arn(format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:nope"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_state_machine_does_not_exist());
    let err = s
        .client
        .describe_state_machine()
        .state_machine_arn("arn:aws:lambda:us-east-1:1:function:x")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_arn());

    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = s
            .client
            .list_state_machines()
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        names.extend(page.state_machines().iter().map(|m| m.name().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["echo", "callback", "heartbeat", "fail"]);
    assert_eq!(s.api.state_machine_arns().len(), 4);
}

/// One raw HTTP/1.1 request: status and body.
async fn raw(endpoint: &str, method: &str, target: Option<&str>, body: &str) -> (u16, Value) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let target = target
        .map(|t| format!("X-Amz-Target: {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n{target}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/x-amz-json-1.0"),
        "{response}"
    );
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_wire_protocol_refuses_what_it_does_not_serve() {
    let s = served().await;
    let url = s.server.endpoint_url();
    let (status, body) = raw(&url, "POST", Some("AWSStepFunctions.CreateStateMachine"), "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    assert!(body["message"].as_str().unwrap().contains("CreateStateMachine"));
    let (status, body) = raw(&url, "POST", Some("HealthLake.ListFHIRDatastores"), "{}").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (status, body) = raw(&url, "POST", None, "{}").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let (status, body) = raw(&url, "GET", Some("AWSStepFunctions.ListStateMachines"), "").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );

    let (status, body) = raw(&url, "POST", Some("AWSStepFunctions.ListStateMachines"), "").await;
    assert_eq!(status, 200, "an empty body is an empty request");
    assert_eq!(body["stateMachines"].as_array().unwrap().len(), 4);
    let (status, body) = raw(&url, "POST", Some("AWSStepFunctions.StartExecution"), "{oops").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (_, body) = raw(&url, "POST", Some("AWSStepFunctions.StartExecution"), "[]").await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body) = raw(&url, "POST", Some("AWSStepFunctions.StartExecution"), "{}").await;
    assert_eq!(body["__type"], "ValidationException");
    assert!(
        body["message"].as_str().unwrap().contains("'stateMachineArn'"),
        "{body}"
    );
    let (_, body) = raw(
        &url,
        "POST",
        Some("AWSStepFunctions.ListExecutions"),
        r#"{"stateMachineArn": 7}"#,
    )
    .await;
    assert_eq!(body["__type"], "SerializationException");

    // Timestamps are epoch seconds on the wire.
    let body = json!({"stateMachineArn": s.arn("echo"), "name": "wire"}).to_string();
    let (status, out) = raw(&url, "POST", Some("AWSStepFunctions.StartExecution"), &body).await;
    assert_eq!(status, 200);
    assert_eq!(out["startDate"], json!(1_767_225_600.0));
}

#[tokio::test]
async fn a_distributed_map_run_is_listed_described_and_its_children_served() {
    let s = served().await;
    // Five items in batches of two: three children, two at a time; the
    // batch of items 2 and 3 fails, which the run tolerates (50 %).
    let fanout = s.api.register(machine(
        "fanout",
        json!({"StartAt": "Fan", "States": {"Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemBatcher": {"MaxItemsPerBatch": 2},
            "MaxConcurrency": 2,
            "ToleratedFailurePercentage": 50,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Three?",
                "States": {
                    "Three?": {"Type": "Choice",
                               "Choices": [{"Variable": "$.Items[0]", "NumericEquals": 2, "Next": "Boom"}],
                               "Default": "Echo"},
                    "Boom": {"Type": "Fail", "Error": "Three"},
                    "Echo": {"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo"), "End": true}
                }
            },
            "End": true}}}),
    ));
    let parent = s
        .client
        .start_execution()
        .state_machine_arn(&fanout)
        .name("fan-1")
        .input(r#"{"items": [0, 1, 2, 3, 4]}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let done = s.finished(&parent).await;
    assert_eq!(
        *done.status(),
        ExecutionStatus::Succeeded,
        "{:?}",
        s.api.runner().execution(&parent).unwrap().describe()
    );

    let runs = s
        .client
        .list_map_runs()
        .execution_arn(&parent)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.map_runs().len(), 1);
    let listed = &runs.map_runs()[0];
    assert_eq!(listed.execution_arn(), parent);
    assert_eq!(
        listed.state_machine_arn(),
        format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:fanout/Fan")
    );
    assert!(
        listed
            .map_run_arn()
            .starts_with(&format!("arn:aws:states:us-east-1:{ACCOUNT}:mapRun:fanout/Fan:")),
        "{}",
        listed.map_run_arn()
    );
    assert!(listed.stop_date().is_some());

    let run = s
        .client
        .describe_map_run()
        .map_run_arn(listed.map_run_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(run.status().as_str(), "SUCCEEDED");
    assert_eq!(run.max_concurrency(), 2);
    assert_eq!(run.tolerated_failure_percentage(), 50.0);
    let items = run.item_counts().unwrap();
    assert_eq!(
        (
            items.total(),
            items.succeeded(),
            items.failed(),
            items.pending(),
            items.running()
        ),
        (5, 3, 2, 0, 0),
        "the failed batch counts both its items"
    );
    let children = run.execution_counts().unwrap();
    assert_eq!(
        (children.total(), children.succeeded(), children.failed()),
        (3, 2, 1)
    );

    let executions = s
        .client
        .list_executions()
        .map_run_arn(listed.map_run_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 3);
    for child in executions.executions() {
        assert_eq!(child.map_run_arn(), Some(listed.map_run_arn()));
        let described = s
            .client
            .describe_execution()
            .execution_arn(child.execution_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(described.map_run_arn(), Some(listed.map_run_arn()));
    }

    let unknown = s
        .client
        .describe_map_run()
        .map_run_arn(format!(
            "arn:aws:states:us-east-1:{ACCOUNT}:mapRun:fanout/Fan:nope"
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "ResourceNotFound");
    let none = s
        .client
        .list_map_runs()
        .execution_arn(s.start("fail", "no-map", "{}").await)
        .send()
        .await
        .unwrap();
    assert!(none.map_runs().is_empty());
}

#[tokio::test]
async fn a_map_run_whose_execution_is_stopped_reads_aborted() {
    let s = served().await;
    // One child that waits for a task token nobody sends.
    let waiting = s.api.register(machine(
        "waiting-fanout",
        json!({"StartAt": "Fan", "States": {"Fan": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Ask",
                "States": {"Ask": {"Type": "Task",
                    "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                    "Parameters": {"token.$": "$$.Task.Token"}, "End": true}}
            },
            "End": true}}}),
    ));
    let parent = s
        .client
        .start_execution()
        .state_machine_arn(&waiting)
        .name("stopped-1")
        .input(r#"{"items": [1]}"#)
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    // The child has asked (its token is out): the Map Run is under way.
    s.token(0).await;
    let run_arn = s.api.runner().map_runs()[0].arn.clone();
    let running = s
        .client
        .describe_map_run()
        .map_run_arn(&run_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status().as_str(), "RUNNING");
    assert_eq!(running.execution_counts().unwrap().running(), 1);

    s.api
        .runner()
        .execution(&parent)
        .unwrap()
        .stop(None, Some("stopped by the test"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = s
            .client
            .describe_map_run()
            .map_run_arn(&run_arn)
            .send()
            .await
            .unwrap();
        if run.status().as_str() == "ABORTED" {
            assert!(run.stop_date().is_some());
            break;
        }
        assert!(Instant::now() < deadline, "the Map Run stayed {:?}", run.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
