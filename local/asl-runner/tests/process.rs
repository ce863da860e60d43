//! The process invoker and the Runtime API, with a fake Lambda binary.

mod common;

use std::time::Duration;

use common::*;
use hlx_asl_runner::{ExecutionStatus, FunctionConfig, InvocationOutcome, LogStream, ProcessInvoker, Runner};
use hlx_clock::VirtualClock;
use serde_json::{Value, json};

const FAKE: &str = env!("CARGO_BIN_EXE_hlx-fake-lambda");

fn invoker(config: impl FnOnce(FunctionConfig) -> FunctionConfig) -> ProcessInvoker {
    ProcessInvoker::builder()
        .function(config(
            FunctionConfig::new("fake", FAKE).env("FAKE_LAMBDA_EXTRA", "from-the-caller"),
        ))
        .build()
}

/// Calls `fake` once per element of `payloads`, in sequence, each result
/// under `$.results[i]`.
fn sequence(payloads: &[Value]) -> std::sync::Arc<hlx_asl_runner::StateMachine> {
    let mut states = serde_json::Map::new();
    for (i, payload) in payloads.iter().enumerate() {
        let mut state = json!({"Type": "Task", "Resource": lambda_arn("fake"),
                               "Parameters": payload, "ResultPath": format!("$.r{i}")});
        if i + 1 == payloads.len() {
            state["End"] = json!(true);
        } else {
            state["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), state);
    }
    machine(json!({"StartAt": "S0", "States": states}))
}

async fn run_with(
    p: &ProcessInvoker,
    m: &std::sync::Arc<hlx_asl_runner::StateMachine>,
    name: &str,
) -> hlx_asl_runner::ExecutionDescription {
    let runner = Runner::virtual_time(p.clone(), VirtualClock::default());
    runner.start_execution(m, name, json!({})).unwrap().wait().await
}

#[tokio::test]
async fn responses_environment_headers_and_warm_reuse() {
    let p = invoker(|c| c);
    let m = sequence(&[json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
    let done = run_with(&p, &m, "warm").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    let out = done.output.unwrap();
    let pids: Vec<&Value> = (0..3).map(|i| &out[format!("r{i}")]["pid"]).collect();
    assert_eq!(pids[0], pids[1]);
    assert_eq!(pids[1], pids[2]);
    let r0 = &out["r0"];
    assert_eq!(r0["echo"], json!({"n": 1}));
    assert_eq!(out["r2"]["invocation"], 3, "one warm process served all three");
    assert_eq!(r0["env"]["AWS_LAMBDA_FUNCTION_NAME"], "fake");
    assert_eq!(r0["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(r0["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(r0["env"]["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/fake");
    assert_eq!(r0["env"]["_HANDLER"], "bootstrap");
    assert_eq!(r0["env"]["AWS_REGION"], "us-east-1");
    assert_eq!(r0["env"]["FAKE_LAMBDA_EXTRA"], "from-the-caller");
    assert!(
        r0["env"].get("HOME").is_none(),
        "the environment is not inherited"
    );
    assert!(
        r0["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("[$LATEST]")
    );
    assert_eq!(r0["headers"]["functionArn"], lambda_arn("fake"));
    assert!(r0["headers"]["traceId"].as_str().unwrap().starts_with("Root=1-"));
    let deadline: u128 = r0["headers"]["deadlineMs"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(deadline > now && deadline <= now + 30_000);

    let records = p.invocation_records();
    assert_eq!(records.len(), 3);
    assert!(records[0].cold_start && records[0].init_duration.is_some());
    assert!(
        records[1..]
            .iter()
            .all(|r| !r.cold_start && r.init_duration.is_none())
    );
    assert!(
        records
            .iter()
            .all(|r| r.sandbox == 1 && r.outcome == InvocationOutcome::Succeeded)
    );
    assert_eq!(
        records[0].request_id,
        r0["headers"]["requestId"].as_str().unwrap()
    );
    assert_eq!(p.warm_processes("fake"), 1);
    p.shutdown();
    assert_eq!(p.warm_processes("fake"), 0);
}

#[tokio::test]
async fn function_errors_carry_the_error_type() {
    let p = invoker(|c| c);
    let m = machine(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": lambda_arn("fake"),
              "Parameters": {"action": "error", "errorType": "hlx.InvalidRequest", "errorMessage": "bad field"},
              "Catch": [{"ErrorEquals": ["hlx.InvalidRequest"], "ResultPath": "$.err", "Next": "C"}],
              "End": true},
        "C": {"Type": "Task", "Resource": lambda_arn("fake"), "Parameters": {"after": "error"},
              "ResultPath": "$.next", "End": true}}}));
    let done = run_with(&p, &m, "err").await;
    let out = done.output.unwrap();
    assert_eq!(out["err"]["Error"], "hlx.InvalidRequest");
    let cause: Value = serde_json::from_str(out["err"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "bad field");
    // A reported error does not cost the sandbox.
    assert_eq!(out["next"]["invocation"], 2);
    assert_eq!(
        p.invocation_records()[0].outcome,
        InvocationOutcome::FunctionError("hlx.InvalidRequest".into())
    );
}

#[tokio::test]
async fn a_crash_is_lambda_unknown_and_the_next_invocation_gets_a_fresh_process() {
    let p = invoker(|c| c);
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": lambda_arn("fake"), "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": lambda_arn("fake"),
              "Parameters": {"action": "exit", "code": 7},
              "Catch": [{"ErrorEquals": ["Lambda.Unknown"], "ResultPath": "$.err", "Next": "C"}], "End": true},
        "C": {"Type": "Task", "Resource": lambda_arn("fake"), "ResultPath": "$.c", "End": true}}}));
    let done = run_with(&p, &m, "crash").await;
    let out = done.output.unwrap();
    assert_eq!(out["err"]["Error"], "Lambda.Unknown");
    let cause = out["err"]["Cause"].as_str().unwrap();
    assert!(
        cause.contains("Runtime exited with error: exit status 7"),
        "{cause}"
    );
    assert_ne!(out["a"]["pid"], out["c"]["pid"]);
    assert_eq!(out["c"]["invocation"], 1);
    let records = p.invocation_records();
    assert_eq!(
        records[1].outcome,
        InvocationOutcome::Crashed("exit status 7".into())
    );
    assert!(records[2].cold_start);
    assert!(p.log_text("fake").contains("exiting mid-invocation"));
}

#[tokio::test]
async fn fault_injection_kills_the_process_serving_the_nth_invocation() {
    let p = invoker(|c| c);
    p.crash_on_invocation("fake", 2);
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": lambda_arn("fake"), "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": lambda_arn("fake"), "ResultPath": "$.b",
              "Retry": [{"ErrorEquals": ["Lambda.Unknown"], "IntervalSeconds": 2}], "End": true}}}));
    let done = run_with(&p, &m, "inject").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.cause);
    let out = done.output.unwrap();
    assert_ne!(out["a"]["pid"], out["b"]["pid"]);
    assert_eq!(done.stats.retries, 1);
    let records = p.invocation_records();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[1].outcome,
        InvocationOutcome::Crashed("signal: killed".into())
    );
    assert_eq!(records[2].sandbox, 2);
}

#[tokio::test]
async fn a_hung_function_hits_its_timeout() {
    let p = invoker(|c| c.timeout(Duration::from_millis(400)));
    let m = one_state(json!({"Type": "Task", "Resource": lambda_arn("fake"),
                             "Parameters": {"action": "hang"}, "End": true}));
    let wall = std::time::Instant::now();
    let done = run_with(&p, &m, "hang").await;
    assert!(wall.elapsed() >= Duration::from_millis(400));
    assert_eq!(done.error.as_deref(), Some("Lambda.Unknown"));
    assert!(done.cause.unwrap().contains("Task timed out after"));
    assert_eq!(p.invocation_records()[0].outcome, InvocationOutcome::TimedOut);
    assert_eq!(p.warm_processes("fake"), 0);
}

#[tokio::test]
async fn init_errors_and_missing_functions() {
    let p = invoker(|c| c.env("FAKE_LAMBDA_INIT_ERROR", "1"));
    let m = one_state(json!({"Type": "Task", "Resource": lambda_arn("fake"), "End": true}));
    let done = run_with(&p, &m, "init").await;
    assert_eq!(done.error.as_deref(), Some("Lambda.Unknown"));
    assert!(done.cause.unwrap().contains("Runtime.ConfigError"));

    let m = one_state(json!({"Type": "Task", "Resource": lambda_arn("nope"), "End": true}));
    let done = run_with(&p, &m, "missing").await;
    assert_eq!(done.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
}

#[tokio::test]
async fn slow_init_is_measured() {
    let p = invoker(|c| c.env("FAKE_LAMBDA_INIT_DELAY_MS", "300"));
    let m = sequence(&[json!({}), json!({})]);
    run_with(&p, &m, "slow-init").await;
    let records = p.invocation_records();
    assert!(records[0].cold_start);
    assert!(records[0].init_duration.unwrap() >= Duration::from_millis(300));
    assert!(records[0].wall_time >= Duration::from_millis(300));
    assert!(records[0].duration < records[0].wall_time);
    assert!(!records[1].cold_start && records[1].init_duration.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_invocations_start_more_processes() {
    let p = invoker(|c| c);
    let m = one_state(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                             "Parameters": {"FunctionName": "fake", "Payload": {"action": "sleep", "ms": 300}},
                             "OutputPath": "$.Payload", "End": true}),
    );
    let runner = Runner::virtual_time(p.clone(), VirtualClock::default());
    let a = runner.start_execution(&m, "a", json!({})).unwrap();
    let b = runner.start_execution(&m, "b", json!({})).unwrap();
    let (da, db) = tokio::join!(a.wait(), b.wait());
    let (oa, ob) = (da.output.unwrap(), db.output.unwrap());
    assert_ne!(oa["pid"], ob["pid"]);
    assert_eq!(p.warm_processes("fake"), 2);
    // Both were in flight together on one virtual instant.
    assert_eq!(da.stop_date, db.stop_date);
}

#[tokio::test]
async fn process_output_is_captured() {
    let p = invoker(|c| c);
    let m = one_state(json!({"Type": "Task", "Resource": lambda_arn("fake"),
                             "Parameters": {"action": "log", "text": "hello"}, "End": true}));
    run_with(&p, &m, "logs").await;
    // The reader tasks may lag the answer a little.
    for _ in 0..50 {
        if p.logs().iter().any(|l| l.stream == LogStream::Stderr) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = p.logs();
    assert!(
        logs.iter()
            .any(|l| l.stream == LogStream::Stdout && l.line == "stdout: hello")
    );
    assert!(
        logs.iter()
            .any(|l| l.stream == LogStream::Stderr && l.line == "stderr: hello")
    );
    assert!(logs.iter().all(|l| l.function == "fake" && l.sandbox == 1));
}
