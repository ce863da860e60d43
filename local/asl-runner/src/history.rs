//! Execution history, named as Step Functions names its events, and the
//! counts Step Functions bills.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// One event of an execution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    /// Virtual (or real) time at which the event happened.
    pub timestamp: Timestamp,
    pub kind: EventKind,
}

/// What happened. The variants carry the details Step Functions records in
/// the matching `...EventDetails`.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    ExecutionStarted {
        input: Value,
        role_arn: String,
        state_machine_arn: String,
    },
    ExecutionSucceeded {
        output: Value,
    },
    ExecutionFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    ExecutionTimedOut {
        error: Option<String>,
        cause: Option<String>,
    },
    ExecutionAborted {
        error: Option<String>,
        cause: Option<String>,
    },
    /// `TaskStateEntered`, `PassStateEntered`, `WaitStateEntered`, ...
    StateEntered {
        state_type: &'static str,
        name: String,
        input: Value,
    },
    /// `TaskStateExited`, `PassStateExited`, ... (Fail states have none).
    StateExited {
        state_type: &'static str,
        name: String,
        output: Value,
    },
    /// Service integrations (`arn:aws:states:::lambda:invoke`, ...).
    TaskScheduled {
        resource_type: String,
        resource: String,
        region: String,
        parameters: Value,
        timeout_in_seconds: Option<u64>,
        heartbeat_in_seconds: Option<u64>,
    },
    TaskStarted {
        resource_type: String,
        resource: String,
    },
    /// A `.waitForTaskToken` task's call returned; now waiting for the token.
    TaskSubmitted {
        resource_type: String,
        resource: String,
        output: Value,
    },
    TaskSucceeded {
        resource_type: String,
        resource: String,
        output: Value,
    },
    TaskFailed {
        resource_type: String,
        resource: String,
        error: String,
        cause: Option<String>,
    },
    TaskTimedOut {
        resource_type: String,
        resource: String,
        error: String,
        cause: Option<String>,
    },
    /// Tasks whose `Resource` is a Lambda function ARN.
    LambdaFunctionScheduled {
        resource: String,
        input: Value,
        timeout_in_seconds: Option<u64>,
    },
    LambdaFunctionStarted,
    LambdaFunctionSucceeded {
        output: Value,
    },
    LambdaFunctionFailed {
        error: String,
        cause: Option<String>,
    },
    LambdaFunctionTimedOut {
        error: String,
        cause: Option<String>,
    },
    /// A Map state's items are known: `length` iterations (or child executions).
    MapStateStarted {
        length: usize,
    },
    MapStateSucceeded,
    MapStateFailed {
        error: String,
        cause: Option<String>,
    },
    /// An inline Map's iteration.
    MapIterationStarted {
        name: String,
        index: usize,
    },
    MapIterationSucceeded {
        name: String,
        index: usize,
    },
    MapIterationFailed {
        name: String,
        index: usize,
    },
    /// A Distributed Map's run of child executions.
    MapRunStarted {
        map_run_arn: String,
    },
    MapRunSucceeded,
    MapRunFailed {
        error: String,
        cause: Option<String>,
    },
    /// Not a Step Functions event (AWS shows a retry only as the task being
    /// scheduled again): a Retrier matched `error` and the state will run
    /// again at `wake_at`.
    RetryScheduled {
        state: String,
        error: String,
        cause: Option<String>,
        /// Index of the matching Retrier in the state's `Retry`.
        retrier: usize,
        /// Which retry of that Retrier this is (1 = first).
        attempt: u64,
        delay_seconds: f64,
        wake_at: Timestamp,
    },
}

impl EventKind {
    /// The event type as Step Functions' `GetExecutionHistory` names it
    /// (`RetryScheduled` is this runner's own).
    pub fn type_name(&self) -> String {
        match self {
            EventKind::StateEntered { state_type, .. } => format!("{state_type}StateEntered"),
            EventKind::StateExited { state_type, .. } => format!("{state_type}StateExited"),
            other => other.fixed_name().to_owned(),
        }
    }

    fn fixed_name(&self) -> &'static str {
        match self {
            EventKind::ExecutionStarted { .. } => "ExecutionStarted",
            EventKind::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            EventKind::ExecutionFailed { .. } => "ExecutionFailed",
            EventKind::ExecutionTimedOut { .. } => "ExecutionTimedOut",
            EventKind::ExecutionAborted { .. } => "ExecutionAborted",
            EventKind::StateEntered { .. } => "StateEntered",
            EventKind::StateExited { .. } => "StateExited",
            EventKind::TaskScheduled { .. } => "TaskScheduled",
            EventKind::TaskStarted { .. } => "TaskStarted",
            EventKind::TaskSubmitted { .. } => "TaskSubmitted",
            EventKind::TaskSucceeded { .. } => "TaskSucceeded",
            EventKind::TaskFailed { .. } => "TaskFailed",
            EventKind::TaskTimedOut { .. } => "TaskTimedOut",
            EventKind::LambdaFunctionScheduled { .. } => "LambdaFunctionScheduled",
            EventKind::LambdaFunctionStarted => "LambdaFunctionStarted",
            EventKind::LambdaFunctionSucceeded { .. } => "LambdaFunctionSucceeded",
            EventKind::LambdaFunctionFailed { .. } => "LambdaFunctionFailed",
            EventKind::LambdaFunctionTimedOut { .. } => "LambdaFunctionTimedOut",
            EventKind::RetryScheduled { .. } => "RetryScheduled",
            EventKind::MapStateStarted { .. } => "MapStateStarted",
            EventKind::MapStateSucceeded => "MapStateSucceeded",
            EventKind::MapStateFailed { .. } => "MapStateFailed",
            EventKind::MapIterationStarted { .. } => "MapIterationStarted",
            EventKind::MapIterationSucceeded { .. } => "MapIterationSucceeded",
            EventKind::MapIterationFailed { .. } => "MapIterationFailed",
            EventKind::MapRunStarted { .. } => "MapRunStarted",
            EventKind::MapRunSucceeded => "MapRunSucceeded",
            EventKind::MapRunFailed { .. } => "MapRunFailed",
        }
    }

    /// False for this runner's own events.
    pub fn is_aws_event(&self) -> bool {
        !matches!(self, EventKind::RetryScheduled { .. })
    }

    /// The state an entered/exited event is about.
    pub fn state_name(&self) -> Option<&str> {
        match self {
            EventKind::StateEntered { name, .. } | EventKind::StateExited { name, .. } => Some(name),
            EventKind::RetryScheduled { state, .. } => Some(state),
            _ => None,
        }
    }
}

impl HistoryEvent {
    pub fn type_name(&self) -> String {
        self.kind.type_name()
    }

    /// The event in `GetExecutionHistory`'s JSON shape (`id`,
    /// `previousEventId`, `timestamp`, `type`, `...EventDetails`). Inputs and
    /// outputs are JSON strings, as in the API.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("previousEventId".into(), json!(self.previous_event_id));
        out.insert("timestamp".into(), json!(format_timestamp(self.timestamp)));
        out.insert("type".into(), json!(self.type_name()));
        let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let (key, details) = match &self.kind {
            EventKind::ExecutionStarted {
                input,
                role_arn,
                state_machine_arn,
            } => (
                "executionStartedEventDetails",
                json!({"input": input.to_string(), "roleArn": role_arn,
                       "stateMachineArn": state_machine_arn}),
            ),
            EventKind::ExecutionSucceeded { output } => (
                "executionSucceededEventDetails",
                json!({"output": output.to_string()}),
            ),
            EventKind::ExecutionFailed { error, cause } => (
                "executionFailedEventDetails",
                json!({"error": opt(error), "cause": opt(cause)}),
            ),
            EventKind::ExecutionTimedOut { error, cause } => (
                "executionTimedOutEventDetails",
                json!({"error": opt(error), "cause": opt(cause)}),
            ),
            EventKind::ExecutionAborted { error, cause } => (
                "executionAbortedEventDetails",
                json!({"error": opt(error), "cause": opt(cause)}),
            ),
            EventKind::StateEntered { name, input, .. } => (
                "stateEnteredEventDetails",
                json!({"name": name, "input": input.to_string()}),
            ),
            EventKind::StateExited { name, output, .. } => (
                "stateExitedEventDetails",
                json!({"name": name, "output": output.to_string()}),
            ),
            EventKind::TaskScheduled {
                resource_type,
                resource,
                region,
                parameters,
                timeout_in_seconds,
                heartbeat_in_seconds,
            } => (
                "taskScheduledEventDetails",
                json!({"resourceType": resource_type, "resource": resource, "region": region,
                       "parameters": parameters.to_string(),
                       "timeoutInSeconds": timeout_in_seconds,
                       "heartbeatInSeconds": heartbeat_in_seconds}),
            ),
            EventKind::TaskStarted {
                resource_type,
                resource,
            } => (
                "taskStartedEventDetails",
                json!({"resourceType": resource_type, "resource": resource}),
            ),
            EventKind::TaskSubmitted {
                resource_type,
                resource,
                output,
            } => (
                "taskSubmittedEventDetails",
                json!({"resourceType": resource_type, "resource": resource,
                       "output": output.to_string()}),
            ),
            EventKind::TaskSucceeded {
                resource_type,
                resource,
                output,
            } => (
                "taskSucceededEventDetails",
                json!({"resourceType": resource_type, "resource": resource,
                       "output": output.to_string()}),
            ),
            EventKind::TaskFailed {
                resource_type,
                resource,
                error,
                cause,
            } => (
                "taskFailedEventDetails",
                json!({"resourceType": resource_type, "resource": resource,
                       "error": error, "cause": opt(cause)}),
            ),
            EventKind::TaskTimedOut {
                resource_type,
                resource,
                error,
                cause,
            } => (
                "taskTimedOutEventDetails",
                json!({"resourceType": resource_type, "resource": resource,
                       "error": error, "cause": opt(cause)}),
            ),
            EventKind::LambdaFunctionScheduled {
                resource,
                input,
                timeout_in_seconds,
            } => (
                "lambdaFunctionScheduledEventDetails",
                json!({"resource": resource, "input": input.to_string(),
                       "timeoutInSeconds": timeout_in_seconds}),
            ),
            EventKind::LambdaFunctionStarted => ("", Value::Null),
            EventKind::LambdaFunctionSucceeded { output } => (
                "lambdaFunctionSucceededEventDetails",
                json!({"output": output.to_string()}),
            ),
            EventKind::LambdaFunctionFailed { error, cause } => (
                "lambdaFunctionFailedEventDetails",
                json!({"error": error, "cause": opt(cause)}),
            ),
            EventKind::LambdaFunctionTimedOut { error, cause } => (
                "lambdaFunctionTimedOutEventDetails",
                json!({"error": error, "cause": opt(cause)}),
            ),
            EventKind::MapStateStarted { length } => {
                ("mapStateStartedEventDetails", json!({"length": length}))
            }
            EventKind::MapStateSucceeded | EventKind::MapRunSucceeded => ("", Value::Null),
            EventKind::MapStateFailed { error, cause } => (
                "mapStateFailedEventDetails",
                json!({"error": error, "cause": opt(cause)}),
            ),
            EventKind::MapIterationStarted { name, index }
            | EventKind::MapIterationSucceeded { name, index }
            | EventKind::MapIterationFailed { name, index } => (
                match self.kind {
                    EventKind::MapIterationStarted { .. } => "mapIterationStartedEventDetails",
                    EventKind::MapIterationSucceeded { .. } => "mapIterationSucceededEventDetails",
                    _ => "mapIterationFailedEventDetails",
                },
                json!({"name": name, "index": index}),
            ),
            EventKind::MapRunStarted { map_run_arn } => {
                ("mapRunStartedEventDetails", json!({"mapRunArn": map_run_arn}))
            }
            EventKind::MapRunFailed { error, cause } => (
                "mapRunFailedEventDetails",
                json!({"error": error, "cause": opt(cause)}),
            ),
            EventKind::RetryScheduled {
                state,
                error,
                cause,
                retrier,
                attempt,
                delay_seconds,
                wake_at,
            } => (
                "retryScheduledEventDetails",
                json!({"name": state, "error": error, "cause": opt(cause), "retrier": retrier,
                       "attempt": attempt, "delaySeconds": delay_seconds,
                       "wakeAt": format_timestamp(*wake_at)}),
            ),
        };
        if !key.is_empty() {
            out.insert(key.into(), details);
        }
        Value::Object(out)
    }
}

impl fmt::Display for HistoryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} #{} {}",
            format_timestamp(self.timestamp),
            self.id,
            self.type_name()
        )?;
        match &self.kind {
            EventKind::StateEntered { name, .. } | EventKind::StateExited { name, .. } => {
                write!(f, " {name}")
            }
            EventKind::ExecutionFailed { error, cause }
            | EventKind::ExecutionTimedOut { error, cause }
            | EventKind::ExecutionAborted { error, cause } => write!(
                f,
                " {}: {}",
                error.as_deref().unwrap_or("-"),
                cause.as_deref().unwrap_or("-")
            ),
            EventKind::TaskFailed { error, .. }
            | EventKind::TaskTimedOut { error, .. }
            | EventKind::LambdaFunctionFailed { error, .. }
            | EventKind::LambdaFunctionTimedOut { error, .. } => write!(f, " {error}"),
            EventKind::RetryScheduled {
                state,
                error,
                attempt,
                delay_seconds,
                ..
            } => write!(
                f,
                " {state} after {error}: retry {attempt} in {delay_seconds:.3}s"
            ),
            _ => Ok(()),
        }
    }
}

/// Formats a timestamp as Step Functions does in the context object:
/// RFC 3339, UTC, millisecond precision (`2026-01-01T00:00:00.000Z`).
pub fn format_timestamp(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// What Step Functions would bill and what the tasks cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionStats {
    /// State transitions as Step Functions bills them: one per state entered
    /// and one more per retry attempt.
    pub state_transitions: u64,
    /// Of which retries.
    pub retries: u64,
    /// Task invocations by target: the Lambda function ARN for Lambda tasks
    /// (whichever way the definition names it), else the task's resource.
    pub task_invocations: BTreeMap<String, u64>,
}

impl ExecutionStats {
    pub fn total_task_invocations(&self) -> u64 {
        self.task_invocations.values().sum()
    }

    pub fn add(&mut self, other: &ExecutionStats) {
        self.state_transitions += other.state_transitions;
        self.retries += other.retries;
        for (k, v) in &other.task_invocations {
            *self.task_invocations.entry(k.clone()).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_json() {
        let e = HistoryEvent {
            id: 2,
            previous_event_id: 1,
            timestamp: Timestamp::from_second(1_767_225_600).unwrap(),
            kind: EventKind::StateEntered {
                state_type: "Task",
                name: "Start".into(),
                input: json!({"a": 1}),
            },
        };
        assert_eq!(e.type_name(), "TaskStateEntered");
        let j = e.to_json();
        assert_eq!(j["type"], "TaskStateEntered");
        assert_eq!(j["timestamp"], "2026-01-01T00:00:00.000Z");
        assert_eq!(j["stateEnteredEventDetails"]["input"], "{\"a\":1}");
        assert_eq!(
            format_timestamp(Timestamp::from_millisecond(1_767_225_600_123).unwrap()),
            "2026-01-01T00:00:00.123Z"
        );
    }
}
