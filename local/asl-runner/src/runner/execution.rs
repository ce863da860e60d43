//! One execution: its status and description (the public
//! [`ExecutionStatus`], [`ExecutionInfo`], [`ExecutionDescription`],
//! [`StartError`]), the record the interpreter writes, and the
//! [`ExecutionHandle`] callers hold.

use std::fmt;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Runner, lock};
use crate::definition::StateMachine;
use crate::history::{ExecutionStats, HistoryEvent};
use crate::sched::ExecFlags;

/// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which execution an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub arn: String,
    pub name: String,
    pub state_machine_name: String,
}

/// Like `DescribeExecution`, plus the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: ExecutionStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: Timestamp,
    pub stop_date: Option<Timestamp>,
    pub stats: ExecutionStats,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("ExecutionAlreadyExists: an execution named '{name}' already exists ({arn})")]
    ExecutionAlreadyExists { name: String, arn: String },
    #[error("InvalidName: '{0}' is not a valid execution name")]
    InvalidName(String),
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
}

/// A stop request's error and cause.
pub(super) type StopRequest = (Option<String>, Option<String>);

#[derive(Debug, Default)]
pub(super) struct Record {
    pub(super) status: Status,
    pub(super) history: Vec<HistoryEvent>,
    pub(super) output: Option<Value>,
    pub(super) error: Option<String>,
    pub(super) cause: Option<String>,
    pub(super) stop: Option<Timestamp>,
    pub(super) stats: ExecutionStats,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Status(pub(super) ExecutionStatus);

impl Default for Status {
    fn default() -> Self {
        Status(ExecutionStatus::Running)
    }
}

impl PartialEq<ExecutionStatus> for Status {
    fn eq(&self, other: &ExecutionStatus) -> bool {
        self.0 == *other
    }
}

pub(super) struct ExecutionShared {
    pub(super) info: ExecutionInfo,
    pub(super) state_machine_arn: String,
    pub(super) machine: Arc<StateMachine>,
    pub(super) input: Value,
    pub(super) start: Timestamp,
    pub(super) flags: ExecFlags,
    pub(super) record: Mutex<Record>,
    pub(super) stop_tx: Mutex<Option<oneshot::Sender<StopRequest>>>,
    /// A Map Run's child: the parent to wake when it ends.
    pub(super) parent: Option<ParentLink>,
}

/// How a child execution wakes the Map state waiting on it.
#[derive(Clone)]
pub(super) struct ParentLink {
    /// The parent's scheduler id.
    pub(super) id: u64,
    /// The Map Run the child belongs to.
    pub(super) map_run_arn: String,
    /// The items the child was given (a batch's, or 1).
    pub(super) items: usize,
    pub(super) notify: Arc<tokio::sync::Notify>,
}

/// A started execution.
#[derive(Clone)]
pub struct ExecutionHandle {
    pub(super) shared: Arc<ExecutionShared>,
    pub(super) runner: Runner,
}

impl fmt::Debug for ExecutionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionHandle")
            .field("arn", &self.shared.info.arn)
            .field("status", &self.status())
            .finish()
    }
}

impl ExecutionHandle {
    pub fn arn(&self) -> &str {
        &self.shared.info.arn
    }

    pub fn name(&self) -> &str {
        &self.shared.info.name
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.shared.info
    }

    /// The Map Run this execution is a child of.
    pub fn map_run_arn(&self) -> Option<&str> {
        self.shared.parent.as_ref().map(|p| p.map_run_arn.as_str())
    }

    /// A Map Run child's items (a batch's, or 1); `None` for an execution
    /// started on its own.
    pub fn map_run_items(&self) -> Option<usize> {
        self.shared.parent.as_ref().map(|p| p.items)
    }

    pub fn status(&self) -> ExecutionStatus {
        lock(&self.shared.record).status.0
    }

    /// The history so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        lock(&self.shared.record).history.clone()
    }

    pub fn stats(&self) -> ExecutionStats {
        lock(&self.shared.record).stats.clone()
    }

    pub fn describe(&self) -> ExecutionDescription {
        let r = lock(&self.shared.record);
        ExecutionDescription {
            arn: self.shared.info.arn.clone(),
            name: self.shared.info.name.clone(),
            state_machine_arn: self.shared.state_machine_arn.clone(),
            status: r.status.0,
            input: self.shared.input.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            cause: r.cause.clone(),
            start_date: self.shared.start,
            stop_date: r.stop,
            stats: r.stats.clone(),
        }
    }

    /// Waits for the execution to end. In virtual mode this is what moves
    /// time: while some `wait` runs, the clock jumps ahead whenever every
    /// execution is waiting on it.
    pub async fn wait(&self) -> ExecutionDescription {
        self.runner
            .inner
            .sched
            .drive_until(|| self.status() != ExecutionStatus::Running)
            .await;
        self.describe()
    }

    /// `StopExecution`: ends a running execution as `ABORTED`.
    pub fn stop(&self, error: Option<&str>, cause: Option<&str>) {
        if let Some(tx) = lock(&self.shared.stop_tx).take() {
            self.runner.inner.sched.wake(self.shared.flags.id());
            let _ = tx.send((error.map(str::to_owned), cause.map(str::to_owned)));
        }
    }
}
