//! Actors on virtual time: a task outside the executions (an event bus) that
//! acts at the virtual time it is woken for, and holds the clock while it
//! works, so a callback it sends lands at exactly that time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hlx_asl_runner::{EventKind, ExecutionStatus, InProcessInvoker, Runner, WakeSource};
use hlx_clock::{Clock, VirtualClock};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

/// A source that has one thing to do at `at`, until it is done.
struct OneThing {
    at: Timestamp,
    done: Arc<Mutex<bool>>,
}

impl WakeSource for OneThing {
    fn next_wake(&self, _now: Timestamp) -> Option<Timestamp> {
        (!*self.done.lock().unwrap()).then_some(self.at)
    }

    fn due(&self, now: Timestamp) -> bool {
        !*self.done.lock().unwrap() && now >= self.at
    }
}

fn callback_machine(timeout: u64) -> Arc<hlx_asl_runner::StateMachine> {
    machine(json!({"StartAt": "Wait for it", "States": {
        "Wait for it": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "register", "Payload": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": timeout, "ResultPath": "$.woken",
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.woken", "Next": "Fallback"}],
            "End": true},
        "Fallback": {"Type": "Pass", "End": true}
    }}))
}

/// Runs the callback machine with an actor that sends the token back when
/// its source falls due at `wake_after` seconds.
async fn wake_at(
    wake_after: i64,
    timeout: u64,
) -> (
    hlx_asl_runner::ExecutionDescription,
    Vec<hlx_asl_runner::HistoryEvent>,
    Timestamp,
) {
    let token = Arc::new(Mutex::new(None::<String>));
    let registered = token.clone();
    let invoker = InProcessInvoker::new().function("register", move |payload, _| {
        let registered = registered.clone();
        async move {
            *registered.lock().unwrap() = payload["token"].as_str().map(str::to_owned);
            Ok(json!({}))
        }
    });
    let clock = VirtualClock::default();
    let t0 = clock.now();
    let runner = Runner::virtual_time(invoker, clock);
    let done = Arc::new(Mutex::new(false));
    let at = t0 + SignedDuration::from_secs(wake_after);
    runner.add_wake_source(OneThing {
        at,
        done: done.clone(),
    });
    let sender = runner.clone();
    let _actor = runner.spawn_actor(move |ctx| async move {
        loop {
            if ctx.now() >= at && !*done.lock().unwrap() {
                // Real work (a function call) between the turn and the callback.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let token = token
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("the task registered its token");
                let _ = sender.send_task_success(&token, json!({"at": ctx.now().to_string()}));
                *done.lock().unwrap() = true;
            }
            ctx.next_turn(None, Duration::from_millis(10)).await;
        }
    });
    let handle = runner
        .start_execution(&callback_machine(timeout), "exec-1", json!({}))
        .unwrap();
    let description = handle.wait().await;
    (description, handle.history(), t0)
}

#[tokio::test]
async fn an_actor_woken_by_its_source_completes_the_callback_at_that_virtual_time() {
    let (done, history, t0) = wake_at(600, 3600).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let output = done.output.unwrap();
    assert_eq!(
        output["woken"]["at"],
        json!((t0 + SignedDuration::from_secs(600)).to_string()),
        "the actor acted at its time, and the clock waited for it"
    );
    assert_eq!(done.stop_date, Some(t0 + SignedDuration::from_secs(600)));
    assert!(
        !history
            .iter()
            .any(|e| matches!(e.kind, EventKind::TaskTimedOut { .. }))
    );
}

#[tokio::test]
async fn without_the_wake_the_timeout_is_the_fallback() {
    let (done, history, t0) = wake_at(7200, 3600).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert!(
        history
            .iter()
            .any(|e| matches!(e.kind, EventKind::TaskTimedOut { .. }))
    );
    assert_eq!(done.output.unwrap()["woken"]["Error"], "States.Timeout");
    assert_eq!(done.stop_date, Some(t0 + SignedDuration::from_secs(3600)));
}

#[tokio::test]
async fn run_until_gives_actors_their_turns_after_the_executions_ended() {
    let clock = VirtualClock::default();
    let t0 = clock.now();
    let runner = Runner::virtual_time(InProcessInvoker::new(), clock);
    let done = Arc::new(Mutex::new(false));
    let at = t0 + SignedDuration::from_secs(900);
    runner.add_wake_source(OneThing {
        at,
        done: done.clone(),
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let turns = seen.clone();
    let _actor = runner.spawn_actor(move |ctx| async move {
        loop {
            if ctx.now() >= at && !*done.lock().unwrap() {
                turns.lock().unwrap().push(ctx.now());
                *done.lock().unwrap() = true;
            }
            ctx.next_turn(None, Duration::from_millis(10)).await;
        }
    });
    runner.run_until(t0 + SignedDuration::from_secs(3600)).await;
    assert_eq!(*seen.lock().unwrap(), [at]);
    assert!(runner.clock().now() <= t0 + SignedDuration::from_secs(3600));
}

#[tokio::test]
async fn at_the_same_instant_the_actor_goes_before_the_timeout() {
    let (done, history, t0) = wake_at(3600, 3600).await;
    assert!(
        !history
            .iter()
            .any(|e| matches!(e.kind, EventKind::TaskTimedOut { .. }))
    );
    assert_eq!(
        done.output.unwrap()["woken"]["at"],
        json!((t0 + SignedDuration::from_secs(3600)).to_string())
    );
}
