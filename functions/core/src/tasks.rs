//! Step Functions task tokens behind a small trait, and its SDK adapter:
//! how `await-job` and `job-events` wake a waiting execution.

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

/// [`TaskTokens`] over the AWS SDK client.
#[derive(Debug, Clone)]
pub struct SdkTaskTokens {
    client: aws_sdk_sfn::Client,
}

impl SdkTaskTokens {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

impl TaskTokens for SdkTaskTokens {
    async fn send_task_success(&self, token: &str, output: &Value) -> Result<TokenAnswer, HlxError> {
        let result = self
            .client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(TokenAnswer::Delivered),
            Err(err) => match HlxError::from_sfn(err, send_error_code) {
                HlxError::StepFunctions { code, .. } if GONE_CODES.contains(&code.as_str()) => {
                    Ok(TokenAnswer::Gone { code })
                }
                other => Err(other),
            },
        }
    }
}

fn send_error_code(
    err: &aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError,
) -> Option<&'static str> {
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError as E;
    Some(match err {
        E::TaskTimedOut(_) => "TaskTimedOut",
        E::InvalidToken(_) => "InvalidToken",
        E::TaskDoesNotExist(_) => "TaskDoesNotExist",
        E::InvalidOutput(_) => "InvalidOutput",
        _ => return None,
    })
}
