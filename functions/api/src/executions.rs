//! Step Functions behind a small trait: the two calls the API makes.
//!
//! [`SdkExecutionStarter`] is the `aws-sdk-sfn` adapter; tests and `api-local`
//! use [`crate::fake::FakeStateMachine`] instead.

use std::future::Future;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jiff::Timestamp;

use crate::config::execution_arn;

/// An execution the call started (or, for a running execution with the same
/// name and input, the one Step Functions already had).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub start_date: Timestamp,
}

/// What `DescribeExecution` says about an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    /// The execution input, exactly as it was started.
    pub input: Option<String>,
    pub start_date: Timestamp,
    pub stop_date: Option<Timestamp>,
}

impl ExecutionInfo {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// A Step Functions call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SfnError {
    /// `ExecutionAlreadyExists`: the name is taken by a closed execution, or by
    /// a running one with a different input.
    #[error("ExecutionAlreadyExists: {0}")]
    AlreadyExists(String),
    /// Step Functions asks the caller to slow down (`ThrottlingException`,
    /// `KmsThrottlingException`) or to wait for running executions to end
    /// (`ExecutionLimitExceeded`).
    #[error("Step Functions {code}: {message}")]
    Throttled { code: String, message: String },
    /// Any other error Step Functions answered with (a deployment problem:
    /// a missing state machine, an access denied, an invalid ARN).
    #[error("Step Functions {code}: {message}")]
    Service { code: String, message: String },
    /// Step Functions could not be reached or did not answer in time.
    #[error("Step Functions did not answer: {0}")]
    Unavailable(String),
}

/// The error codes that mean "try again later".
pub const THROTTLING_CODES: [&str; 3] = [
    "ThrottlingException",
    "KmsThrottlingException",
    "ExecutionLimitExceeded",
];

/// The calls the API makes on its state machine.
pub trait ExecutionStarter: Send + Sync {
    /// `StartExecution` with this name and input. Step Functions is idempotent
    /// on the name for a running execution with the same input (it answers with
    /// that execution); any other reuse of a name is
    /// [`SfnError::AlreadyExists`].
    fn start(
        &self,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<StartedExecution, SfnError>> + Send;

    /// `DescribeExecution` of the execution called `name`; `None` when there is none.
    fn describe(&self, name: &str) -> impl Future<Output = Result<Option<ExecutionInfo>, SfnError>> + Send;
}

/// [`ExecutionStarter`] over `aws-sdk-sfn`, for one state machine.
#[derive(Debug, Clone)]
pub struct SdkExecutionStarter {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SdkExecutionStarter {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

impl ExecutionStarter for SdkExecutionStarter {
    async fn start(&self, name: &str, input: &str) -> Result<StartedExecution, SfnError> {
        let output = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|err| classify(err, start_error_code))?;
        Ok(StartedExecution {
            execution_arn: output.execution_arn().to_owned(),
            start_date: timestamp(output.start_date()),
        })
    }

    async fn describe(&self, name: &str) -> Result<Option<ExecutionInfo>, SfnError> {
        let Some(arn) = execution_arn(&self.state_machine_arn, name) else {
            return Err(SfnError::Service {
                code: "InvalidArn".into(),
                message: "the configured state machine ARN is not a state machine ARN".into(),
            });
        };
        let result = self.client.describe_execution().execution_arn(&arn).send().await;
        let output = match result {
            Ok(output) => output,
            Err(err) => {
                return match classify(err, describe_error_code) {
                    SfnError::Service { code, .. } if code == "ExecutionDoesNotExist" => Ok(None),
                    other => Err(other),
                };
            }
        };
        Ok(Some(ExecutionInfo {
            execution_arn: output.execution_arn().to_owned(),
            name: output.name().unwrap_or(name).to_owned(),
            status: output.status().as_str().to_owned(),
            input: output.input().map(str::to_owned),
            start_date: timestamp(output.start_date()),
            stop_date: output.stop_date().map(timestamp),
        }))
    }
}

fn timestamp(date: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::new(date.secs(), i32::try_from(date.subsec_nanos()).unwrap_or(0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn start_error_code(
    err: &aws_sdk_sfn::operation::start_execution::StartExecutionError,
) -> Option<&'static str> {
    use aws_sdk_sfn::operation::start_execution::StartExecutionError as E;
    Some(match err {
        E::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
        E::ExecutionLimitExceeded(_) => "ExecutionLimitExceeded",
        E::InvalidArn(_) => "InvalidArn",
        E::InvalidExecutionInput(_) => "InvalidExecutionInput",
        E::InvalidName(_) => "InvalidName",
        E::KmsAccessDeniedException(_) => "KmsAccessDeniedException",
        E::KmsInvalidStateException(_) => "KmsInvalidStateException",
        E::KmsThrottlingException(_) => "KmsThrottlingException",
        E::StateMachineDeleting(_) => "StateMachineDeleting",
        E::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
        E::ValidationException(_) => "ValidationException",
        _ => return None,
    })
}

fn describe_error_code(
    err: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionError,
) -> Option<&'static str> {
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError as E;
    Some(match err {
        E::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
        E::InvalidArn(_) => "InvalidArn",
        E::KmsAccessDeniedException(_) => "KmsAccessDeniedException",
        E::KmsInvalidStateException(_) => "KmsInvalidStateException",
        E::KmsThrottlingException(_) => "KmsThrottlingException",
        _ => return None,
    })
}

/// Names an SDK error: modeled errors by their shape, others (throttling is
/// not modeled) by the code in the error's metadata.
fn classify<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> SfnError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(context) => {
            let err = context.into_err();
            let code = modeled(&err)
                .or_else(|| err.code().map(|c| c.rsplit('#').next().unwrap_or(c)))
                .unwrap_or("UnknownError")
                .to_owned();
            // Modeled errors carry their message in the shape; others in the metadata.
            let message = err.message().map_or_else(|| err.to_string(), str::to_owned);
            if code == "ExecutionAlreadyExists" {
                SfnError::AlreadyExists(message)
            } else if THROTTLING_CODES.contains(&code.as_str()) {
                SfnError::Throttled { code, message }
            } else {
                SfnError::Service { code, message }
            }
        }
        SdkError::TimeoutError(_) => SfnError::Unavailable("the call timed out".into()),
        SdkError::DispatchFailure(failure) => {
            SfnError::Unavailable(format!("the request could not be sent: {failure:?}"))
        }
        SdkError::ResponseError(context) => {
            SfnError::Unavailable(format!("the response could not be read: {context:?}"))
        }
        other => SfnError::Service {
            code: "ClientError".into(),
            message: other.to_string(),
        },
    }
}
