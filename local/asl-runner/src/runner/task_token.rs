//! `.waitForTaskToken` callbacks: the tokens tasks wait on, and
//! `SendTaskSuccess`, `SendTaskFailure` and `SendTaskHeartbeat`.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{Runner, lock};
use crate::error::StatesError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskTokenError {
    #[error("TaskDoesNotExist: no task is waiting for this token")]
    TaskDoesNotExist,
}

pub(super) enum TokenOutcome {
    Success(Value),
    Failure(StatesError),
}

pub(super) struct TokenSlot {
    pub(super) exec: u64,
    pub(super) tx: oneshot::Sender<TokenOutcome>,
    pub(super) heartbeat: Arc<Mutex<Option<Timestamp>>>,
    pub(super) heartbeat_seconds: Option<u64>,
}

impl Runner {
    /// `SendTaskSuccess`: completes the `.waitForTaskToken` task holding `token`.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), TaskTokenError> {
        self.complete_token(token, TokenOutcome::Success(output))
    }

    /// `SendTaskFailure`.
    pub fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), TaskTokenError> {
        self.complete_token(token, TokenOutcome::Failure(StatesError::new(error, cause)))
    }

    /// `SendTaskHeartbeat`: restarts the task's `HeartbeatSeconds`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), TaskTokenError> {
        let tokens = lock(&self.inner.tokens);
        let slot = tokens.get(token).ok_or(TaskTokenError::TaskDoesNotExist)?;
        if let Some(seconds) = slot.heartbeat_seconds {
            *lock(&slot.heartbeat) = Some(
                self.inner
                    .sched
                    .now()
                    .checked_add(SignedDuration::from_secs(seconds as i64))
                    .unwrap_or(Timestamp::MAX),
            );
        }
        Ok(())
    }

    fn complete_token(&self, token: &str, outcome: TokenOutcome) -> Result<(), TaskTokenError> {
        let slot = lock(&self.inner.tokens)
            .remove(token)
            .ok_or(TaskTokenError::TaskDoesNotExist)?;
        self.inner.sched.wake(slot.exec);
        slot.tx
            .send(outcome)
            .map_err(|_| TaskTokenError::TaskDoesNotExist)
    }
}
