//! A fake of the job state machine's `StartExecution` idempotency, in
//! memory: for unit tests and for `api-local` when no Step Functions endpoint
//! is configured. It starts nothing and runs nothing: its executions stay
//! `RUNNING` until a test calls [`FakeStateMachine::finish`].
//!
//! What it reproduces of Step Functions (Standard workflows):
//! - a new name starts an execution;
//! - the name of a *running* execution with the *same* input answers with
//!   that execution (no second one);
//! - the name of a closed execution, or of a running one with another input,
//!   is `ExecutionAlreadyExists`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hlx_clock::SharedClock;

use crate::config::execution_arn;
use crate::executions::{ExecutionInfo, ExecutionStarter, SfnError, StartedExecution};

/// Which call a queued fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Start,
    Describe,
}

/// The in-memory fake (see the module documentation).
#[derive(Debug)]
pub struct FakeStateMachine {
    state_machine_arn: String,
    clock: SharedClock,
    executions: Mutex<HashMap<String, ExecutionInfo>>,
    faults: Mutex<VecDeque<(Call, SfnError)>>,
    start_calls: Mutex<u32>,
}

impl FakeStateMachine {
    pub fn new(state_machine_arn: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            state_machine_arn: state_machine_arn.into(),
            clock,
            executions: Mutex::default(),
            faults: Mutex::default(),
            start_calls: Mutex::default(),
        }
    }

    /// The next `call` fails with `error` (faults are used in order).
    pub fn fail_next(&self, call: Call, error: SfnError) {
        self.faults.lock().expect("faults lock").push_back((call, error));
    }

    /// Closes an execution with `status` (`SUCCEEDED`, `FAILED`, `ABORTED`...).
    pub fn finish(&self, name: &str, status: &str) {
        let now = self.clock.now();
        if let Some(execution) = self.executions.lock().expect("executions lock").get_mut(name) {
            execution.status = status.to_owned();
            execution.stop_date = Some(now);
        }
    }

    /// Every execution, in no particular order.
    pub fn executions(&self) -> Vec<ExecutionInfo> {
        self.executions
            .lock()
            .expect("executions lock")
            .values()
            .cloned()
            .collect()
    }

    /// How many `StartExecution` calls reached the fake (failed ones included).
    pub fn start_calls(&self) -> u32 {
        *self.start_calls.lock().expect("calls lock")
    }

    fn fault(&self, call: Call) -> Option<SfnError> {
        let mut faults = self.faults.lock().expect("faults lock");
        let position = faults.iter().position(|(c, _)| *c == call)?;
        faults.remove(position).map(|(_, err)| err)
    }

    fn arn(&self, name: &str) -> String {
        execution_arn(&self.state_machine_arn, name)
            .unwrap_or_else(|| format!("{}:{name}", self.state_machine_arn))
    }
}

impl ExecutionStarter for FakeStateMachine {
    async fn start(&self, name: &str, input: &str) -> Result<StartedExecution, SfnError> {
        *self.start_calls.lock().expect("calls lock") += 1;
        if let Some(err) = self.fault(Call::Start) {
            return Err(err);
        }
        let mut executions = self.executions.lock().expect("executions lock");
        if let Some(existing) = executions.get(name) {
            if existing.is_running() && existing.input.as_deref() == Some(input) {
                return Ok(StartedExecution {
                    execution_arn: existing.execution_arn.clone(),
                    start_date: existing.start_date,
                });
            }
            return Err(SfnError::AlreadyExists(format!(
                "Execution Already Exists: '{}'",
                existing.execution_arn
            )));
        }
        let execution = ExecutionInfo {
            execution_arn: self.arn(name),
            name: name.to_owned(),
            status: "RUNNING".into(),
            input: Some(input.to_owned()),
            start_date: self.clock.now(),
            stop_date: None,
        };
        let started = StartedExecution {
            execution_arn: execution.execution_arn.clone(),
            start_date: execution.start_date,
        };
        executions.insert(name.to_owned(), execution);
        Ok(started)
    }

    async fn describe(&self, name: &str) -> Result<Option<ExecutionInfo>, SfnError> {
        if let Some(err) = self.fault(Call::Describe) {
            return Err(err);
        }
        Ok(self
            .executions
            .lock()
            .expect("executions lock")
            .get(name)
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlx_clock::SystemClock;
    use std::sync::Arc;

    fn fake() -> FakeStateMachine {
        FakeStateMachine::new(
            "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job",
            Arc::new(SystemClock),
        )
    }

    #[tokio::test]
    async fn a_running_execution_with_the_same_input_is_returned_not_restarted() {
        let sfn = fake();
        let first = sfn.start("e1", "{}").await.unwrap();
        assert_eq!(
            first.execution_arn,
            "arn:aws:states:us-east-1:123456789012:execution:hlx-job:e1"
        );
        assert_eq!(sfn.start("e1", "{}").await.unwrap(), first);
        assert_eq!(sfn.executions().len(), 1);
        assert!(matches!(
            sfn.start("e1", r#"{"a":1}"#).await,
            Err(SfnError::AlreadyExists(_))
        ));
    }

    #[tokio::test]
    async fn a_closed_execution_name_cannot_be_reused() {
        let sfn = fake();
        sfn.start("e1", "{}").await.unwrap();
        sfn.finish("e1", "SUCCEEDED");
        assert!(matches!(
            sfn.start("e1", "{}").await,
            Err(SfnError::AlreadyExists(_))
        ));
        let described = sfn.describe("e1").await.unwrap().unwrap();
        assert_eq!(described.status, "SUCCEEDED");
        assert!(described.stop_date.is_some());
        assert_eq!(sfn.describe("e2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn faults_apply_to_their_call_once() {
        let sfn = fake();
        let throttled = SfnError::Throttled {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        };
        sfn.fail_next(Call::Start, throttled.clone());
        assert_eq!(sfn.describe("e1").await.unwrap(), None);
        assert_eq!(sfn.start("e1", "{}").await.unwrap_err(), throttled);
        sfn.start("e1", "{}").await.unwrap();
        assert_eq!(sfn.start_calls(), 2);
    }
}
