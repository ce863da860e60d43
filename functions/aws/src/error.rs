//! The SDK's errors as hlx's: a service's answer keeps the code the service
//! gave it (the name Step Functions' SDK integrations use), and a call that got
//! no answer is named `hlx.<Service>Unavailable`, so that the state machine's
//! `Retry` and `Catch` match the same names however the call was made.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use hlx_core::HlxError;

/// A HealthLake error; `modeled` names the operation's modeled errors, others
/// fall back to the error's metadata.
pub fn healthlake_error<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> HlxError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match classify(err, modeled) {
        Ok((code, message)) => HlxError::HealthLake { code, message },
        Err(detail) => HlxError::HealthLakeUnavailable(detail),
    }
}

/// A Step Functions error.
pub fn sfn_error<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> HlxError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match classify(err, modeled) {
        Ok((code, message)) => HlxError::StepFunctions { code, message },
        Err(detail) => HlxError::StepFunctionsUnavailable(detail),
    }
}

/// A DynamoDB error, named from its metadata.
pub fn dynamodb_error<E, R>(err: SdkError<E, R>) -> HlxError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    dynamodb_error_modeled(err, |_| None)
}

/// A DynamoDB error, named by `modeled` where it knows the error.
pub fn dynamodb_error_modeled<E, R>(err: SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> HlxError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match classify(err, modeled) {
        Ok((code, message)) => HlxError::DynamoDb { code, message },
        Err(detail) => HlxError::DynamoDbUnavailable(detail),
    }
}

/// Whether a conditional write was made: DynamoDB refusing its condition is
/// `false` (a state the write rule already covers), any other error is the
/// error, named as [`dynamodb_error_modeled`] names it.
pub fn condition_held<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    modeled: fn(&E) -> Option<&'static str>,
) -> Result<bool, HlxError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) => match dynamodb_error_modeled(err, modeled) {
            HlxError::DynamoDb { code, .. } if code == "ConditionalCheckFailedException" => Ok(false),
            other => Err(other),
        },
    }
}

/// A service error's code and message, or a description of why there was no answer.
pub fn classify<E, R>(
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
pub fn strip_namespace(code: &str) -> &str {
    code.rsplit('#').next().unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_stripped_from_codes() {
        assert_eq!(
            strip_namespace("com.amazonaws.healthlake#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(strip_namespace("ValidationException"), "ValidationException");
    }
}
