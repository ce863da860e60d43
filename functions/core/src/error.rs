//! The errors of the domain, and the names the state machine sees.
//!
//! Every error has a stable name ([`HlxError::error_name`]) that the Lambdas
//! report as their `errorType`, which is what a Step Functions `Retry` or
//! `Catch` matches. HealthLake's errors keep the name Step Functions gives them
//! in its direct SDK integration (`HealthLake.ThrottlingException`), so the
//! definition reads the same whichever way a job is started.

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
/// The name of a job refused because its data store has too many in flight.
pub const TOO_MANY_JOBS: &str = "hlx.TooManyJobs";
/// The name of a page token no list returned (or another list returned).
pub const INVALID_NEXT_TOKEN: &str = "hlx.InvalidNextToken";
/// The name of an input the function cannot read (a bug in the definition, not the user's request).
pub const INVALID_INPUT: &str = "hlx.InvalidInput";
/// The name of a verification S3 did not answer (worth retrying).
pub const VERIFICATION_UNAVAILABLE: &str = "hlx.VerificationUnavailable";

#[derive(Debug, thiserror::Error)]
pub enum HlxError {
    /// The export request breaks a field rule; nothing was started.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] FieldError),

    /// The data store has as many hlx jobs in flight as the limit allows; nothing was started.
    #[error("too many jobs in flight: {0}")]
    TooManyJobs(String),

    /// A page token no list returned, or one another list returned.
    #[error("{0}")]
    InvalidNextToken(String),

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

    /// S3 did not answer a verification's read (busy, timed out): retried.
    #[error("S3 did not answer the verification: {0}")]
    VerificationUnavailable(String),

    /// A write would replace one terminal status by a different one.
    #[error("export {id} is already recorded as {existing}; refusing to record it as {attempted}")]
    RecordConflict {
        id: String,
        existing: String,
        attempted: String,
    },
}

impl HlxError {
    /// The `errorType` the Lambda reports and the state machine matches.
    pub fn error_name(&self) -> String {
        match self {
            Self::InvalidRequest(_) => INVALID_REQUEST.to_owned(),
            Self::InvalidNextToken(_) => INVALID_NEXT_TOKEN.to_owned(),
            Self::TooManyJobs(_) => TOO_MANY_JOBS.to_owned(),
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
            Self::VerificationUnavailable(_) => VERIFICATION_UNAVAILABLE.to_owned(),
        }
    }
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
                    id: "e".into(),
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
