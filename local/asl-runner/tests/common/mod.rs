#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use hlx_asl_runner::{ExecutionDescription, HistoryEvent, InProcessInvoker, Runner, StateMachine, TaskError};
use hlx_clock::VirtualClock;
use jiff::Timestamp;
use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn lambda_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

pub fn machine(definition: Value) -> Arc<StateMachine> {
    Arc::new(
        StateMachine::load(&definition.to_string(), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("load: {e}"))
            .with_name("test-machine"),
    )
}

/// A machine with a single state `S` (plus whatever `extra` states).
pub fn one_state(state: Value) -> Arc<StateMachine> {
    machine(json!({"StartAt": "S", "States": {"S": state}}))
}

pub fn start_time() -> Timestamp {
    use hlx_clock::Clock;
    VirtualClock::default().now()
}

pub async fn run(
    machine: &Arc<StateMachine>,
    invoker: InProcessInvoker,
    input: Value,
) -> (ExecutionDescription, Vec<HistoryEvent>) {
    let runner = Runner::virtual_time(invoker, VirtualClock::default());
    let handle = runner.start_execution(machine, "exec-1", input).expect("start");
    let done = handle.wait().await;
    (done, handle.history())
}

pub fn types(history: &[HistoryEvent]) -> Vec<String> {
    history.iter().map(HistoryEvent::type_name).collect()
}

pub fn echo() -> InProcessInvoker {
    InProcessInvoker::new().function("echo", |payload, _| async move { Ok(payload) })
}

pub fn failing(error: &'static str) -> InProcessInvoker {
    InProcessInvoker::new().function("fail", move |_, _| async move {
        Err::<Value, _>(TaskError::lambda(error, "it broke"))
    })
}

pub fn secs(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64()
}
