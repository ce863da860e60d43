//! The errors of the domain, and the names the state machine sees.
//!
//! Every error has a stable name ([`HlxError::error_name`]) that the Lambdas
//! report as their `errorType`, which is what a Step Functions `Retry` or
//! `Catch` matches. HealthLake's errors keep the name Step Functions gives them
//! in its direct SDK integration (`HealthLake.ThrottlingException`), so the
//! definition reads the same whichever way a job is started.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::validation::FieldError;

/// The name of a request that breaks a field rule.
pub const INVALID_REQUEST: &str = "hlx.InvalidRequest";
/// The name of a write that would replace one terminal status by another.
pub const RECORD_CONFLICT: &str = "hlx.RecordConflict";
/// The name of a HealthLake call that got no answer (timeout, connection refused).
pub const HEALTHLAKE_UNAVAILABLE: &str = "hlx.HealthLakeUnavailable";
/// The name of a DynamoDB call that got no answer.
pub const DYNAMODB_UNAVAILABLE: &str = "hlx.DynamoDBUnavailable";
/// The name of a Step Functions call that got no answer.
pub const STEP_FUNCTIONS_UNAVAILABLE: &str = "hlx.StepFunctionsUnavailable";
/// The name of an EventBridge event job-events cannot read.
pub const INVALID_EVENT: &str = "hlx.InvalidEvent";
/// The name of an input the function cannot read (a bug in the definition, not the user's request).
pub const INVALID_INPUT: &str = "hlx.InvalidInput";

#[derive(Debug, thiserror::Error)]
pub enum HlxError {
    /// The export request breaks a field rule; nothing was started.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] FieldError),

    /// The function's own input (built by the state machine) is malformed.
    #[error("invalid function input: {0}")]
    InvalidInput(String),

    /// HealthLake answered with an error.
    #[error("HealthLake {code}: {message}")]
    HealthLake { code: String, message: String },

    /// HealthLake could not be reached or did not answer in time.
    #[error("HealthLake did not answer: {0}")]
    HealthLakeUnavailable(String),

    /// S3 refused or did not answer (the export's manifest).
    #[error("S3 {code}: {message}")]
    S3 { code: String, message: String },

    /// DynamoDB answered with an error.
    #[error("DynamoDB {code}: {message}")]
    DynamoDb { code: String, message: String },

    /// DynamoDB could not be reached or did not answer in time.
    #[error("DynamoDB did not answer: {0}")]
    DynamoDbUnavailable(String),

    /// Step Functions answered with an error (`SendTaskSuccess`).
    #[error("Step Functions {code}: {message}")]
    StepFunctions { code: String, message: String },

    /// Step Functions could not be reached or did not answer in time.
    #[error("Step Functions did not answer: {0}")]
    StepFunctionsUnavailable(String),

    /// An event job-events was given is not a HealthLake job event it can read.
    #[error("invalid event: {0}")]
    InvalidEvent(String),

    /// A write would replace one terminal status by a different one.
    #[error("export {export_id} is already recorded as {existing}; refusing to record it as {attempted}")]
    RecordConflict {
        export_id: String,
        existing: String,
        attempted: String,
    },
}

impl HlxError {
    /// The `errorType` the Lambda reports and the state machine matches.
    pub fn error_name(&self) -> String {
        match self {
            Self::InvalidRequest(_) => INVALID_REQUEST.to_owned(),
            Self::InvalidInput(_) => INVALID_INPUT.to_owned(),
            Self::HealthLake { code, .. } => format!("HealthLake.{code}"),
            Self::HealthLakeUnavailable(_) => HEALTHLAKE_UNAVAILABLE.to_owned(),
            Self::S3 { code, .. } => format!("S3.{code}"),
            Self::DynamoDb { code, .. } => format!("DynamoDB.{code}"),
            Self::DynamoDbUnavailable(_) => DYNAMODB_UNAVAILABLE.to_owned(),
            Self::RecordConflict { .. } => RECORD_CONFLICT.to_owned(),
            Self::StepFunctions { code, .. } => format!("StepFunctions.{code}"),
            Self::StepFunctionsUnavailable(_) => STEP_FUNCTIONS_UNAVAILABLE.to_owned(),
            Self::InvalidEvent(_) => INVALID_EVENT.to_owned(),
        }
    }

    pub(crate) fn from_sfn<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(err, modeled) {
            Ok((code, message)) => Self::StepFunctions { code, message },
            Err(detail) => Self::StepFunctionsUnavailable(detail),
        }
    }

    /// `modeled` names the operation's modeled errors; others fall back to
    /// the error's metadata.
    pub(crate) fn from_healthlake<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(err, modeled) {
            Ok((code, message)) => Self::HealthLake { code, message },
            Err(detail) => Self::HealthLakeUnavailable(detail),
        }
    }

    pub(crate) fn from_dynamodb<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self::from_dynamodb_modeled(err, |_| None)
    }

    pub(crate) fn from_dynamodb_modeled<E, R>(
        err: SdkError<E, R>,
        modeled: fn(&E) -> Option<&'static str>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match classify(err, modeled) {
            Ok((code, message)) => Self::DynamoDb { code, message },
            Err(detail) => Self::DynamoDbUnavailable(detail),
        }
    }
}

/// A service error's code and message, or a description of why there was no answer.
fn classify<E, R>(
    err: SdkError<E, R>,
    modeled: fn(&E) -> Option<&'static str>,
) -> Result<(String, String), String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(context) => {
            let err = context.into_err();
            let code = modeled(&err)
                .or_else(|| err.code().map(strip_namespace))
                .unwrap_or("UnknownError")
                .to_owned();
            let message = err.message().unwrap_or("no message").to_owned();
            Ok((code, message))
        }
        SdkError::TimeoutError(_) => Err("the call timed out".to_owned()),
        SdkError::DispatchFailure(failure) => Err(format!("the request could not be sent: {failure:?}")),
        SdkError::ResponseError(context) => Err(format!("the response could not be read: {context:?}")),
        SdkError::ConstructionFailure(context) => Err(format!("the request could not be built: {context:?}")),
        other => Err(other.to_string()),
    }
}

/// `com.amazonaws.healthlake#ThrottlingException` → `ThrottlingException`.
fn strip_namespace(code: &str) -> &str {
    code.rsplit('#').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_step_functions_conventions() {
        let cases = [
            (
                HlxError::InvalidRequest(FieldError::missing("s3Uri")),
                "hlx.InvalidRequest",
            ),
            (
                HlxError::HealthLake {
                    code: "ThrottlingException".into(),
                    message: "slow down".into(),
                },
                "HealthLake.ThrottlingException",
            ),
            (
                HlxError::DynamoDb {
                    code: "ProvisionedThroughputExceededException".into(),
                    message: "m".into(),
                },
                "DynamoDB.ProvisionedThroughputExceededException",
            ),
            (
                HlxError::HealthLakeUnavailable("timeout".into()),
                "hlx.HealthLakeUnavailable",
            ),
            (
                HlxError::DynamoDbUnavailable("timeout".into()),
                "hlx.DynamoDBUnavailable",
            ),
            (
                HlxError::RecordConflict {
                    export_id: "e".into(),
                    existing: "COMPLETED".into(),
                    attempted: "FAILED".into(),
                },
                "hlx.RecordConflict",
            ),
            (HlxError::InvalidInput("x".into()), "hlx.InvalidInput"),
            (
                HlxError::StepFunctions {
                    code: "ThrottlingException".into(),
                    message: "m".into(),
                },
                "StepFunctions.ThrottlingException",
            ),
            (
                HlxError::StepFunctionsUnavailable("timeout".into()),
                "hlx.StepFunctionsUnavailable",
            ),
            (HlxError::InvalidEvent("no jobId".into()), "hlx.InvalidEvent"),
        ];
        for (err, name) in cases {
            assert_eq!(err.error_name(), name, "{err}");
        }
    }

    #[test]
    fn namespaces_are_stripped_from_codes() {
        assert_eq!(
            strip_namespace("com.amazonaws.healthlake#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(strip_namespace("ValidationException"), "ValidationException");
    }

    #[test]
    fn invalid_request_messages_name_the_field_and_rule() {
        let err = HlxError::from(FieldError::new(
            "datastoreId",
            "must be between 1 and 32 characters long, got 40",
        ));
        assert_eq!(
            err.to_string(),
            "invalid request: datastoreId: must be between 1 and 32 characters long, got 40"
        );
    }
}
