//! [`TaskTokens`] over Step Functions' SDK client.

use hlx_core::HlxError;
use hlx_core::tasks::{GONE_CODES, TaskTokens, TokenAnswer};
use serde_json::Value;

use crate::error::sfn_error;

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
            Err(err) => match sfn_error(err, send_error_code) {
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
