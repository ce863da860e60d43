//! ASL semantics, one by one, on small definitions and in-process tasks.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::*;
use hlx_asl_runner::{
    EventKind, ExecutionStatus, InProcessInvoker, Runner, RunnerConfig, StartError, TaskError,
};
use hlx_clock::{Clock, VirtualClock};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

#[tokio::test]
async fn pass_result_parameters_result_path_output_path_input_path() {
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.fromResult", "Next": "B"},
        "B": {"Type": "Pass", "InputPath": "$.deep", "Parameters": {"copied.$": "$.v", "lit": "$.v"},
              "ResultPath": "$.made.here", "Next": "C"},
        "C": {"Type": "Pass", "ResultPath": null, "OutputPath": "$.made", "Next": "D"},
        "D": {"Type": "Pass", "InputPath": null, "Next": "E"},
        "E": {"Type": "Pass", "Result": "r", "OutputPath": null, "End": true}
    }}));
    let (done, history) = run(&m, echo(), json!({"deep": {"v": 7}})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({})));
    let outputs: Vec<Value> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateExited { output, .. } => Some(output.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(outputs[0], json!({"deep": {"v": 7}, "fromResult": {"x": 1}}));
    // ResultPath merges into the *raw* input, creating "made".
    assert_eq!(
        outputs[1],
        json!({"deep": {"v": 7}, "fromResult": {"x": 1},
               "made": {"here": {"copied": 7, "lit": "$.v"}}})
    );
    assert_eq!(outputs[2], json!({"here": {"copied": 7, "lit": "$.v"}}));
    assert_eq!(outputs[3], json!({}));
}

#[tokio::test]
async fn context_object_values() {
    let m = machine(json!({"StartAt": "Look", "States": {
        "Look": {"Type": "Wait", "Seconds": 5, "Next": "Ctx"},
        "Ctx": {"Type": "Pass", "Parameters": {
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
            "start.$": "$$.Execution.StartTime", "input.$": "$$.Execution.Input",
            "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime",
            "retry.$": "$$.State.RetryCount", "sm.$": "$$.StateMachine.Id",
            "smName.$": "$$.StateMachine.Name", "all.$": "$$"}, "End": true}}}));
    let (done, _) = run(&m, echo(), json!({"in": true})).await;
    let out = done.output.unwrap();
    assert_eq!(
        out["id"],
        "arn:aws:states:us-east-1:123456789012:execution:test-machine:exec-1"
    );
    assert_eq!(out["name"], "exec-1");
    assert_eq!(out["start"], "2026-01-01T00:00:00.000Z");
    assert_eq!(out["input"], json!({"in": true}));
    assert_eq!(out["state"], "Ctx");
    assert_eq!(out["entered"], "2026-01-01T00:00:05.000Z");
    assert_eq!(out["retry"], 0);
    assert_eq!(
        out["sm"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:test-machine"
    );
    assert_eq!(out["smName"], "test-machine");
    assert!(out["all"].get("Task").is_none());
}

#[tokio::test]
async fn task_with_lambda_arn_parameters_result_selector_and_intrinsics() {
    let m = one_state(json!({
        "Type": "Task", "Resource": lambda_arn("echo"),
        "Parameters": {"who.$": "$.name", "greeting.$": "States.Format('hi {} from {}', $.name, $$.State.Name)",
                       "list.$": "States.Array($.name, 1)", "id.$": "States.UUID()"},
        "ResultSelector": {"greeting.$": "$.greeting", "n.$": "States.ArrayLength($.list)",
                           "exec.$": "$$.Execution.Name"},
        "ResultPath": "$.result",
        "End": true}));
    let (done, history) = run(&m, echo(), json!({"name": "ann"})).await;
    assert_eq!(
        done.output,
        Some(json!({"name": "ann", "result": {"greeting": "hi ann from S", "n": 2, "exec": "exec-1"}}))
    );
    assert_eq!(
        types(&history),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(done.stats.task_invocations[&lambda_arn("echo")], 1);
}

#[tokio::test]
async fn lambda_invoke_wraps_the_payload_and_reports_function_errors() {
    let m = machine(json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "echo", "Payload": {"v.$": "$.v"}},
                 "ResultSelector": {"p.$": "$.Payload", "code.$": "$.StatusCode"},
                 "Next": "Fail"},
        "Fail": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": lambda_arn("fail"), "Payload.$": "$"},
                 "Catch": [{"ErrorEquals": ["Custom.Broken"], "ResultPath": "$.err", "Next": "Done"}],
                 "End": true},
        "Done": {"Type": "Succeed"}}}));
    let invoker = InProcessInvoker::new()
        .function("echo", |p, _| async move { Ok(p) })
        .function("fail", |_, _| async move {
            Err::<Value, _>(TaskError::lambda("Custom.Broken", "no luck"))
        });
    let (done, history) = run(&m, invoker, json!({"v": 3})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let out = done.output.unwrap();
    assert_eq!(out["p"], json!({"v": 3}));
    assert_eq!(out["code"], 200);
    assert_eq!(out["err"]["Error"], "Custom.Broken");
    let cause: Value = serde_json::from_str(out["err"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(
        cause,
        json!({"errorType": "Custom.Broken", "errorMessage": "no luck"})
    );
    let t = types(&history);
    assert!(t.contains(&"TaskScheduled".to_owned()));
    assert!(t.contains(&"TaskFailed".to_owned()));
    assert_eq!(done.stats.task_invocations[&lambda_arn("echo")], 1);
    assert_eq!(done.stats.task_invocations[&lambda_arn("fail")], 1);
}

/// Records the virtual time of each call and fails the first `failures`.
fn flaky(error: &'static str, failures: usize) -> (InProcessInvoker, Arc<Mutex<Vec<Timestamp>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let invoker = InProcessInvoker::new().function("flaky", move |_, ctx| {
        let seen = seen.clone();
        async move {
            let mut calls = seen.lock().unwrap();
            calls.push(ctx.now());
            if calls.len() <= failures {
                Err(TaskError::lambda(error, "transient"))
            } else {
                Ok(json!({"attempts": calls.len(), "retryCount": ctx.retry_count}))
            }
        }
    });
    (invoker, calls)
}

fn retry_machine(retry: Value) -> Arc<hlx_asl_runner::StateMachine> {
    one_state(json!({"Type": "Task", "Resource": lambda_arn("flaky"),
                     "Parameters": {"rc.$": "$$.State.RetryCount"},
                     "Retry": retry, "End": true}))
}

#[tokio::test]
async fn retry_intervals_back_off_on_the_virtual_clock() {
    let m = retry_machine(
        json!([{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}]),
    );
    let (invoker, calls) = flaky("Boom", 3);
    let (done, history) = run(&m, invoker, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"attempts": 4, "retryCount": 3})));
    let t0 = start_time();
    let offsets: Vec<f64> = calls.lock().unwrap().iter().map(|t| secs(t0, *t)).collect();
    assert_eq!(offsets, [0.0, 2.0, 6.0, 14.0], "retries at +2, +4, +8");
    // One transition for the state, one per retry.
    assert_eq!(done.stats.state_transitions, 4);
    assert_eq!(done.stats.retries, 3);
    assert_eq!(done.stats.task_invocations[&lambda_arn("flaky")], 4);
    let retries: Vec<f64> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RetryScheduled { delay_seconds, .. } => Some(*delay_seconds),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [2.0, 4.0, 8.0]);

    // Exhausted: the fourth failure is final.
    let (invoker, calls) = flaky("Boom", 10);
    let (done, _) = run(&m, invoker, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Boom"));
    assert_eq!(calls.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn retry_defaults_max_delay_and_zero_attempts() {
    // Defaults: 1 s, x2, 3 attempts.
    let m = retry_machine(json!([{"ErrorEquals": ["States.ALL"]}]));
    let (invoker, calls) = flaky("Boom", 3);
    run(&m, invoker, json!({})).await;
    let t0 = start_time();
    let offsets: Vec<f64> = calls.lock().unwrap().iter().map(|t| secs(t0, *t)).collect();
    assert_eq!(offsets, [0.0, 1.0, 3.0, 7.0]);

    // MaxDelaySeconds caps: 10, 20 -> 15, 40 -> 15.
    let m = retry_machine(json!([{"ErrorEquals": ["Boom"], "IntervalSeconds": 10, "MaxDelaySeconds": 15}]));
    let (invoker, calls) = flaky("Boom", 3);
    run(&m, invoker, json!({})).await;
    let offsets: Vec<f64> = calls.lock().unwrap().iter().map(|t| secs(t0, *t)).collect();
    assert_eq!(offsets, [0.0, 10.0, 25.0, 40.0]);

    // MaxAttempts 0: never retried, straight to failure.
    let m = retry_machine(json!([{"ErrorEquals": ["Boom"], "MaxAttempts": 0}]));
    let (invoker, calls) = flaky("Boom", 1);
    let (done, _) = run(&m, invoker, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn full_jitter_stays_in_bounds_and_repeats_with_the_seed() {
    let m = retry_machine(
        json!([{"ErrorEquals": ["Boom"], "IntervalSeconds": 10, "BackoffRate": 3,
                                  "MaxAttempts": 5, "JitterStrategy": "FULL"}]),
    );
    let run_with_seed = |seed: u64| {
        let m = m.clone();
        async move {
            let (invoker, _) = flaky("Boom", 5);
            let runner = Runner::builder(invoker)
                .config(RunnerConfig {
                    seed,
                    ..RunnerConfig::default()
                })
                .build();
            let h = runner.start_execution(&m, "jitter", json!({})).unwrap();
            h.wait().await;
            h.history()
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::RetryScheduled { delay_seconds, .. } => Some(*delay_seconds),
                    _ => None,
                })
                .collect::<Vec<f64>>()
        }
    };
    let a = run_with_seed(1).await;
    let b = run_with_seed(1).await;
    let c = run_with_seed(2).await;
    assert_eq!(a.len(), 5);
    assert_eq!(a, b, "same seed, same delays");
    assert_ne!(a, c, "another seed, other delays");
    for (i, d) in a.iter().enumerate() {
        let cap = 10.0 * 3f64.powi(i as i32);
        assert!(
            (0.0..=cap).contains(d),
            "delay {d} of retry {i} within [0, {cap}]"
        );
    }
    assert!(a.iter().any(|d| *d > 0.0));
}

#[tokio::test]
async fn retriers_count_attempts_separately_and_fall_through_to_catch() {
    // The Step Functions guide's example: errors A, B, C, B with
    // Retry [{A,B} max 2 interval 1, {C} interval 5] and Catch ALL.
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("seq"),
              "Retry": [{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                        {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
              "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let n = Arc::new(Mutex::new(0usize));
    let times = Arc::new(Mutex::new(Vec::new()));
    let (n2, times2) = (n.clone(), times.clone());
    let invoker = InProcessInvoker::new().function("seq", move |_, ctx| {
        let (n, times) = (n2.clone(), times2.clone());
        async move {
            let mut n = n.lock().unwrap();
            times.lock().unwrap().push(ctx.now());
            let error = ["ErrorA", "ErrorB", "ErrorC", "ErrorB"][*n];
            *n += 1;
            Err::<Value, _>(TaskError::lambda(error, "x"))
        }
    });
    let (done, _) = run(&m, invoker, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.unwrap()["Error"], "ErrorB");
    let t0 = start_time();
    let offsets: Vec<f64> = times.lock().unwrap().iter().map(|t| secs(t0, *t)).collect();
    assert_eq!(offsets, [0.0, 1.0, 3.0, 8.0]);
    // X, 3 retries, Z.
    assert_eq!(done.stats.state_transitions, 5);
}

#[tokio::test]
async fn catch_result_paths() {
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("fail"),
              "Catch": [{"ErrorEquals": ["Other"], "Next": "Z"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Z"}],
              "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, history) = run(&m, failing("Boom"), json!({"keep": 1})).await;
    let out = done.output.unwrap();
    assert_eq!(out["keep"], 1);
    assert_eq!(out["error"]["Error"], "Boom");
    assert!(out["error"]["Cause"].as_str().unwrap().contains("it broke"));
    assert!(types(&history).contains(&"LambdaFunctionFailed".to_owned()));

    // Default ResultPath "$": the error object replaces the input.
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("fail"),
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, _) = run(&m, failing("Boom"), json!({"keep": 1})).await;
    assert_eq!(done.output.unwrap()["Error"], "Boom");

    // A Catch ResultPath that cannot apply fails the execution.
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("fail"),
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.keep.deeper", "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, _) = run(&m, failing("Boom"), json!({"keep": 1})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn states_all_does_not_catch_states_runtime() {
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("echo"),
              "Parameters": {"missing.$": "$.not.there"},
              "Retry": [{"ErrorEquals": ["States.ALL"]}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, history) = run(&m, echo(), json!({"not": {}})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("'missing.$'"));
    assert_eq!(done.stats.task_invocations.len(), 0, "never invoked");
    assert_eq!(done.stats.retries, 0, "never retried");
    assert_eq!(types(&history).last().unwrap(), "ExecutionFailed");

    // Even naming States.Runtime does not catch it; OutputPath and InputPath
    // failures are runtime errors too.
    for state in [
        json!({"Type": "Task", "Resource": lambda_arn("echo"), "OutputPath": "$.nope",
               "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Z"}], "End": true}),
        json!({"Type": "Task", "Resource": lambda_arn("echo"), "InputPath": "$.nope",
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}], "End": true}),
    ] {
        let m = machine(json!({"StartAt": "X", "States": {"X": state, "Z": {"Type": "Pass", "End": true}}}));
        let (done, _) = run(&m, echo(), json!({})).await;
        assert_eq!(done.error.as_deref(), Some("States.Runtime"), "{:?}", done.cause);
    }

    // An intrinsic that fails on its arguments is catchable.
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("echo"),
              "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, _) = run(&m, echo(), json!({"a": [1]})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.unwrap()["Error"], "States.IntrinsicFailure");
}

fn slow(seconds: i64) -> InProcessInvoker {
    InProcessInvoker::new().function("slow", move |_, ctx| async move {
        ctx.sleep(SignedDuration::from_secs(seconds)).await;
        Ok(json!({"slept": seconds}))
    })
}

#[tokio::test]
async fn task_timeouts_on_virtual_time() {
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("slow"), "TimeoutSeconds": 60,
              "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.err", "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let wall = Instant::now();
    let (done, history) = run(&m, slow(3600), json!({})).await;
    assert!(wall.elapsed().as_millis() < 1000);
    assert_eq!(done.output.unwrap()["err"], json!({"Error": "States.Timeout"}));
    let timed_out = history
        .iter()
        .find(|e| e.type_name() == "LambdaFunctionTimedOut")
        .expect("timed out event");
    assert_eq!(secs(start_time(), timed_out.timestamp), 60.0);

    // Finishing in time is fine.
    let (done, _) = run(&m, slow(59), json!({})).await;
    assert_eq!(done.output.unwrap(), json!({"slept": 59}));

    // States.TaskFailed does not match a timeout.
    let m = machine(json!({"StartAt": "X", "States": {
        "X": {"Type": "Task", "Resource": lambda_arn("slow"), "TimeoutSecondsPath": "$.limit",
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Z"}], "End": true},
        "Z": {"Type": "Pass", "End": true}}}));
    let (done, _) = run(&m, slow(100), json!({"limit": 30})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(secs(start_time(), done.stop_date.unwrap()), 30.0);

    // A bad TimeoutSecondsPath is a runtime error.
    let (done, _) = run(&m, slow(1), json!({"limit": "soon"})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn heartbeat_timeout() {
    let m = one_state(json!({"Type": "Task", "Resource": lambda_arn("slow"),
                             "TimeoutSeconds": 100, "HeartbeatSeconds": 10, "End": true}));
    let (done, _) = run(&m, slow(30), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert_eq!(secs(start_time(), done.stop_date.unwrap()), 10.0);
}

#[tokio::test]
async fn wait_states_and_a_day_in_milliseconds() {
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Wait", "Seconds": 86400, "Next": "B"},
        "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
        "C": {"Type": "Wait", "Timestamp": "2026-01-03T00:00:00Z", "Next": "D"},
        "D": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "E"},
        "E": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "OutputPath": "$.s", "End": true}}}));
    let wall = Instant::now();
    let (done, history) = run(&m, echo(), json!({"s": 60, "ts": "2026-01-03T01:00:00Z"})).await;
    assert!(wall.elapsed().as_millis() < 1000, "{:?}", wall.elapsed());
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!(60)));
    let exits: Vec<String> = history
        .iter()
        .filter(|e| e.type_name() == "WaitStateExited")
        .map(|e| hlx_asl_runner::format_timestamp(e.timestamp))
        .collect();
    assert_eq!(
        exits,
        [
            "2026-01-02T00:00:00.000Z",
            "2026-01-02T00:01:00.000Z",
            "2026-01-03T00:00:00.000Z",
            "2026-01-03T01:00:00.000Z",
            "2026-01-03T01:00:00.000Z"
        ]
    );
    // Bad SecondsPath values are runtime errors.
    for bad in [json!({"s": -1}), json!({"s": "10"}), json!({}), json!({"s": 1.5})] {
        let m = one_state(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true}));
        let (done, _) = run(&m, echo(), bad.clone()).await;
        assert_eq!(done.error.as_deref(), Some("States.Runtime"), "{bad}");
    }
}

#[tokio::test]
async fn choice_default_and_no_match() {
    let m = machine(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.v",
              "Choices": [
                {"Variable": "$.v", "NumericGreaterThan": 10, "Next": "Big"},
                {"And": [{"Variable": "$.v", "IsNumeric": true}, {"Not": {"Variable": "$.v", "NumericEquals": 0}}], "Next": "Small"}],
              "Default": "Zero"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true},
        "Zero": {"Type": "Pass", "End": true}}}));
    for (v, expected) in [
        (json!(11), json!("big")),
        (json!(3), json!("small")),
        (json!(0), json!(0)),
    ] {
        let (done, _) = run(&m, echo(), json!({"in": {"v": v}})).await;
        assert_eq!(done.output, Some(expected));
    }
    let m = machine(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringEquals": "x", "Next": "D"}]},
        "D": {"Type": "Succeed"}}}));
    let (done, history) = run(&m, echo(), json!({"v": "y"})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
    assert_eq!(
        types(&history),
        ["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]
    );
    let (done, _) = run(&m, echo(), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn fail_state_error_and_cause() {
    let m = one_state(json!({"Type": "Fail", "Error": "hlx.Bad", "Cause": "because"}));
    let (done, history) = run(&m, echo(), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("hlx.Bad"), Some("because"))
    );
    assert_eq!(
        types(&history),
        ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    );

    let m = one_state(json!({"Type": "Fail", "ErrorPath": "$.e",
                             "CausePath": "States.Format('code {}', $.code)"}));
    let (done, _) = run(&m, echo(), json!({"e": "E1", "code": 4})).await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("E1"), Some("code 4"))
    );
    let (done, _) = run(&m, echo(), json!({"e": 1, "code": 4})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));

    let m = one_state(json!({"Type": "Fail"}));
    let (done, _) = run(&m, echo(), json!({})).await;
    assert_eq!((done.error, done.cause), (None, None));
}

#[tokio::test]
async fn succeed_state_and_transition_counting() {
    let m = machine(json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": lambda_arn("flaky"),
              "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1}], "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "S"},
        "S": {"Type": "Succeed", "InputPath": "$.attempts"}}}));
    let (invoker, _) = flaky("Boom", 2);
    let (done, history) = run(&m, invoker, json!({})).await;
    assert_eq!(done.output, Some(json!(3)));
    // P, T (+2 retries), W, S.
    assert_eq!(done.stats.state_transitions, 6);
    assert_eq!(done.stats.retries, 2);
    assert_eq!(
        types(&history)
            .iter()
            .filter(|t| t.ends_with("StateEntered"))
            .count(),
        4
    );
    assert!(types(&history).contains(&"SucceedStateExited".to_owned()));
}

#[tokio::test]
async fn two_executions_interleave_in_virtual_time() {
    // Each polls every `period` seconds, three times, calling a task that
    // logs (execution, virtual time).
    let m = machine(json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": lambda_arn("log"),
                 "Parameters": {"who.$": "$$.Execution.Name", "n.$": "$.n", "period.$": "$.period"},
                 "ResultSelector": {"n.$": "States.MathAdd($.n, 1)", "period.$": "$.period"},
                 "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 3, "Next": "End"}],
                  "Default": "Sleep"},
        "Sleep": {"Type": "Wait", "SecondsPath": "$.period", "Next": "Work"},
        "End": {"Type": "Succeed"}}}));
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let invoker = InProcessInvoker::new().function("log", move |p, ctx| {
        let log = log2.clone();
        async move {
            // Some real work, so that both executions have calls in flight.
            tokio::task::yield_now().await;
            log.lock()
                .unwrap()
                .push((p["who"].as_str().unwrap().to_owned(), ctx.now()));
            Ok(p)
        }
    });
    let runner = Runner::virtual_time(invoker, VirtualClock::default());
    let a = runner
        .start_execution(&m, "a", json!({"n": 0, "period": 70}))
        .unwrap();
    let b = runner
        .start_execution(&m, "b", json!({"n": 0, "period": 30}))
        .unwrap();
    let wall = Instant::now();
    let (da, db) = tokio::join!(a.wait(), b.wait());
    assert!(wall.elapsed().as_millis() < 1000);
    assert_eq!(da.status, ExecutionStatus::Succeeded);
    assert_eq!(db.status, ExecutionStatus::Succeeded);
    let t0 = start_time();
    let mut seen: Vec<(String, f64)> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(w, t)| (w.clone(), secs(t0, *t)))
        .collect();
    // Calls happen in virtual-time order.
    let times: Vec<f64> = seen.iter().map(|(_, t)| *t).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    seen.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    assert_eq!(
        seen,
        [
            ("a".to_owned(), 0.0),
            ("a".to_owned(), 70.0),
            ("a".to_owned(), 140.0),
            ("b".to_owned(), 0.0),
            ("b".to_owned(), 30.0),
            ("b".to_owned(), 60.0),
        ]
    );
    assert_eq!(secs(t0, da.stop_date.unwrap()), 140.0);
    assert_eq!(secs(t0, db.stop_date.unwrap()), 60.0);
    assert_eq!(secs(t0, runner.clock().now()), 140.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_executions_on_a_multi_threaded_runtime() {
    let m = machine(json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "T"},
        "T": {"Type": "Task", "Resource": lambda_arn("echo"), "Next": "W2"},
        "W2": {"Type": "Wait", "Seconds": 3600, "End": true}}}));
    let runner = Runner::virtual_time(echo(), VirtualClock::default());
    for i in 0..20 {
        runner
            .start_execution(&m, &format!("e{i}"), json!({"s": i * 10}))
            .unwrap();
    }
    let all = runner.wait_all().await;
    let t0 = start_time();
    for (i, d) in all.iter().enumerate() {
        assert_eq!(d.status, ExecutionStatus::Succeeded);
        assert_eq!(secs(t0, d.stop_date.unwrap()), (i * 10 + 3600) as f64);
    }
    assert_eq!(runner.stats().state_transitions, 60);
}

#[tokio::test]
async fn start_execution_is_idempotent_by_name() {
    let m = one_state(json!({"Type": "Wait", "Seconds": 10, "End": true}));
    let runner = Runner::virtual_time(echo(), VirtualClock::default());
    let a = runner.start_execution(&m, "same", json!({"x": 1})).unwrap();
    let again = runner.start_execution(&m, "same", json!({"x": 1})).unwrap();
    assert_eq!(a.arn(), again.arn());
    assert!(matches!(
        runner.start_execution(&m, "same", json!({"x": 2})),
        Err(StartError::ExecutionAlreadyExists { .. })
    ));
    a.wait().await;
    assert!(matches!(
        runner.start_execution(&m, "same", json!({"x": 1})),
        Err(StartError::ExecutionAlreadyExists { .. })
    ));
    assert!(matches!(
        runner.start_execution(&m, "bad name", json!({})),
        Err(StartError::InvalidName(_))
    ));
    assert_eq!(runner.executions().len(), 1);
    assert_eq!(runner.execution("same").unwrap().arn(), a.arn());
}

#[tokio::test]
async fn execution_timeout_and_stop() {
    let m = machine(json!({"StartAt": "W", "TimeoutSeconds": 100, "States": {
        "W": {"Type": "Wait", "Seconds": 1000, "End": true}}}));
    let (done, history) = run(&m, echo(), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    assert_eq!(secs(start_time(), done.stop_date.unwrap()), 100.0);
    assert_eq!(types(&history).last().unwrap(), "ExecutionTimedOut");

    let m = one_state(json!({"Type": "Wait", "Seconds": 1000, "End": true}));
    let runner = Runner::virtual_time(echo(), VirtualClock::default());
    let h = runner.start_execution(&m, "stopme", json!({})).unwrap();
    tokio::task::yield_now().await;
    h.stop(Some("Manual"), Some("operator"));
    let done = h.wait().await;
    assert_eq!(done.status, ExecutionStatus::Aborted);
    assert_eq!(done.error.as_deref(), Some("Manual"));
    assert_eq!(secs(start_time(), done.stop_date.unwrap()), 0.0);
}

#[tokio::test]
async fn wait_for_task_token_callbacks() {
    let m = machine(json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token", "reply.$": "$.reply"}},
                "HeartbeatSeconds": 600, "TimeoutSeconds": 3600,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true},
        "Caught": {"Type": "Pass", "End": true}}}));
    // The function hands the token to someone who answers later (in virtual
    // time, via the runner's callback API).
    let runner_slot: Arc<Mutex<Option<Runner>>> = Arc::default();
    let slot = runner_slot.clone();
    let invoker = InProcessInvoker::new().function("ask", move |p, ctx| {
        let slot = slot.clone();
        async move {
            let token = p["token"].as_str().unwrap().to_owned();
            assert_eq!(ctx.task_token.as_deref(), Some(token.as_str()));
            let runner = slot.lock().unwrap().clone().unwrap();
            match p["reply"].as_str() {
                Some("success") => runner.send_task_success(&token, json!({"answer": 42})).unwrap(),
                Some("failure") => runner.send_task_failure(&token, "Nope", "said no").unwrap(),
                _ => {}
            }
            Ok(json!({"submitted": true}))
        }
    });
    let runner = Runner::virtual_time(invoker, VirtualClock::default());
    *runner_slot.lock().unwrap() = Some(runner.clone());

    let done = runner
        .start_execution(&m, "ok", json!({"reply": "success"}))
        .unwrap()
        .wait()
        .await;
    assert_eq!(done.output, Some(json!({"answer": 42})));
    let h = runner.execution("ok").unwrap();
    let t = types(&h.history());
    assert!(t.contains(&"TaskSubmitted".to_owned()), "{t:?}");

    let done = runner
        .start_execution(&m, "no", json!({"reply": "failure"}))
        .unwrap()
        .wait()
        .await;
    assert_eq!(done.output.unwrap()["Error"], "Nope");

    // Nobody answers: the heartbeat runs out after 600 s of virtual time.
    let h = runner
        .start_execution(&m, "silent", json!({"reply": "none"}))
        .unwrap();
    let done = h.wait().await;
    assert_eq!(done.output.unwrap()["Error"], "States.HeartbeatTimeout");
    let t0 = runner.execution("silent").unwrap().describe().start_date;
    assert_eq!(secs(t0, done.stop_date.unwrap()), 600.0);
    assert!(runner.send_task_success("unknown", json!({})).is_err());
}

#[tokio::test]
async fn wake_sources_stop_the_clock_at_outside_events() {
    // An outside system completes the task token at t0 + 100 s; the
    // execution otherwise has nothing scheduled before its 1-day timeout.
    let m = one_state(
        json!({"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                             "Parameters": {"token.$": "$$.Task.Token"}, "TimeoutSeconds": 86400, "End": true}),
    );
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = tokens.clone();
    let invoker = InProcessInvoker::new().resource("arn:aws:states:::events:putEvents", move |p, _| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(p["token"].as_str().unwrap().to_owned());
            Ok(json!({}))
        }
    });
    let clock = VirtualClock::default();
    let runner = Runner::virtual_time(invoker, clock.clone());
    let due = start_time() + SignedDuration::from_secs(100);
    let r = runner.clone();
    let source_clock = clock.clone();
    runner.add_wake_source(move |now: Timestamp| {
        if now >= due {
            for token in tokens.lock().unwrap().drain(..) {
                r.send_task_success(
                    &token,
                    json!({"at": hlx_asl_runner::format_timestamp(source_clock.now())}),
                )
                .unwrap();
            }
            None
        } else {
            Some(due)
        }
    });
    let done = runner.start_execution(&m, "ext", json!({})).unwrap().wait().await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"at": "2026-01-01T00:01:40.000Z"})));
    assert_eq!(secs(start_time(), done.stop_date.unwrap()), 100.0);
}

#[tokio::test]
async fn listener_sees_every_event_live() {
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let runner = Runner::builder(echo())
        .listener(move |info, e| s.lock().unwrap().push(format!("{} {}", info.name, e.type_name())))
        .build();
    let h = runner.start_execution(&m, "l", json!({})).unwrap();
    h.wait().await;
    assert_eq!(seen.lock().unwrap().len(), h.history().len());
    assert_eq!(seen.lock().unwrap()[1], "l PassStateEntered");
    let json = h.history()[1].to_json();
    assert_eq!(json["stateEnteredEventDetails"]["name"], "A");
}

#[tokio::test]
async fn real_time_mode_sleeps_for_real() {
    let m = machine(json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
        "T": {"Type": "Task", "Resource": lambda_arn("echo"), "End": true}}}));
    let runner = Runner::real_time(echo(), Arc::new(hlx_clock::SystemClock));
    let wall = Instant::now();
    let done = runner
        .start_execution(&m, "real", json!({"v": 1}))
        .unwrap()
        .wait()
        .await;
    assert_eq!(done.output, Some(json!({"v": 1})));
    assert!(wall.elapsed().as_millis() >= 990, "{:?}", wall.elapsed());
}

#[tokio::test]
async fn only_latest_runs_locally() {
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": format!("{}:$LATEST", lambda_arn("echo")), "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "echo:live", "Payload": {}}, "End": true}}}));
    let (done, _) = run(&m, echo(), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("Lambda.ResourceNotFoundException"));
    assert!(done.cause.unwrap().contains("live"));
    assert_eq!(done.stats.task_invocations.len(), 2);
}

/// An inline Map whose iterations each wait 10 s (virtual) and call a task.
fn waiting_map(max_concurrency: u64) -> Arc<hlx_asl_runner::StateMachine> {
    machine(json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": max_concurrency,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Nap",
            "States": {
                "Nap": {"Type": "Wait", "Seconds": 10, "Next": "Echo"},
                "Echo": {"Type": "Task", "Resource": lambda_arn("echo"), "End": true}
            }
        },
        "End": true}}}))
}

#[tokio::test]
async fn inline_map_iterations_run_side_by_side_up_to_max_concurrency() {
    let input = json!({"items": [1, 2, 3, 4, 5]});
    for (limit, waves) in [(1, 5.0), (2, 3.0), (0, 1.0)] {
        let (done, history) = run(&waiting_map(limit), echo(), input.clone()).await;
        assert_eq!(done.status, ExecutionStatus::Succeeded, "{limit}: {done:?}");
        assert_eq!(done.output, Some(json!([1, 2, 3, 4, 5])), "results in item order");
        assert_eq!(
            secs(done.start_date, done.stop_date.unwrap()),
            10.0 * waves,
            "MaxConcurrency {limit}: {waves} waves of 10 s"
        );
        let started = history
            .iter()
            .filter(|e| matches!(e.kind, EventKind::MapIterationStarted { .. }))
            .count();
        assert_eq!(started, 5);
        // Each iteration's states are billed: Each, then Nap and Echo five times.
        assert_eq!(done.stats.state_transitions, 11);
    }
}

#[tokio::test]
async fn a_failed_inline_iteration_fails_the_map_and_stops_the_others() {
    let m = machine(json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Which",
            "States": {
                "Which": {"Type": "Choice",
                          "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
                          "Default": "Nap"},
                "Boom": {"Type": "Fail", "Error": "Two", "Cause": "item 2"},
                "Nap": {"Type": "Wait", "Seconds": 3600, "End": true}
            }
        },
        "End": true}}}));
    let (done, history) = run(&m, echo(), json!({"items": [1, 2, 3]})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Two"));
    assert_eq!(
        secs(done.start_date, done.stop_date.unwrap()),
        0.0,
        "the waiting iterations were stopped, not waited for"
    );
    let failed = history
        .iter()
        .filter(|e| matches!(e.kind, EventKind::MapIterationFailed { .. }))
        .count();
    assert_eq!(failed, 1);
}
