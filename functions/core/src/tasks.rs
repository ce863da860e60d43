//! Step Functions task tokens behind a small trait: how `await-job` and
//! `job-events` wake a waiting execution.

use std::future::Future;

use serde_json::Value;

use crate::error::HlxError;

/// What `SendTaskSuccess` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAnswer {
    /// The waiting task took the output.
    Delivered,
    /// No task waits for this token any more (`TaskTimedOut`: the fallback
    /// fired or the execution ended; `InvalidToken`; `TaskDoesNotExist`):
    /// the execution has moved on, so there is nothing to wake.
    Gone { code: String },
}

/// Step Functions' callback operations.
pub trait TaskTokens: Send + Sync {
    fn send_task_success(
        &self,
        token: &str,
        output: &Value,
    ) -> impl Future<Output = Result<TokenAnswer, HlxError>> + Send;
}

/// The codes that mean the token's task is gone.
pub const GONE_CODES: [&str; 3] = ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"];
