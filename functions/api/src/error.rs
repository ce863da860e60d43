//! The API's error answers: a status and `{"error": <name>, "message": ...}`
//! (plus `field` when a request field or parameter is at fault).
//!
//! | status | error | when |
//! |---|---|---|
//! | 400 | `InvalidRequest` | a body field, query parameter or header breaks a rule (`field` names it) |
//! | 400 | `InvalidNextToken` | `nextToken` is not a token this list returned (`field` is `nextToken`) |
//! | 404 | `NotFound` | no export or import (or route) with that id |
//! | 405 | `MethodNotAllowed` | the route exists, the method does not (`Allow` lists the methods) |
//! | 409 | `IdempotencyConflict` | the idempotency key was used for a different request |
//! | 413 | `PayloadTooLarge` | the body is over the limit |
//! | 415 | `UnsupportedMediaType` | the body is not declared as JSON |
//! | 429 | `TooManyJobs` | the data store has as many hlx jobs in flight as allowed (`Retry-After` is set) |
//! | 429 | `TooManyRequests` | Step Functions or DynamoDB throttled (`Retry-After` is set) |
//! | 500 | `InternalError` | anything else; details are logged, never returned |
//! | 501 | `NotConfigured` | `POST /imports` on a deployment without import locations |
//! | 503 | `ServiceUnavailable` | Step Functions or DynamoDB did not answer (`Retry-After` is set) |
//!
//! `sfn_error` and `store_error` turn Step Functions' and the job store's
//! failures into these answers.

use hlx_core::HlxError;
use lambda_http::Body;
use lambda_http::http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use crate::executions::SfnError;

/// Every `error` name the function answers with.
pub const ERROR_NAMES: [&str; 13] = [
    "InvalidRequest",
    "InvalidNextToken",
    "NotFound",
    "MethodNotAllowed",
    "IdempotencyConflict",
    "NotCancellable",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "TooManyRequests",
    "TooManyJobs",
    "InternalError",
    "NotConfigured",
    "ServiceUnavailable",
];

/// The `error` name only API Gateway's own answers use (unsigned, bad
/// signature, denied by IAM: the function never ran).
pub const GATEWAY_ERROR_NAMES: [&str; 1] = ["Forbidden"];

/// The longest field name an error repeats.
pub const MAX_FIELD_CHARS: usize = 100;

/// Seconds a throttled or unavailable caller is asked to wait.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub name: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// For 405: the methods the route takes.
    pub allow: Option<&'static str>,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
            field: None,
            allow: None,
        }
    }

    /// 400: `field` breaks `rule`.
    pub fn invalid(field: impl Into<String>, rule: impl AsRef<str>) -> Self {
        // A field name may come from the caller (an unknown key): keep it short.
        let field: String = field.into().chars().take(MAX_FIELD_CHARS).collect();
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("{field}: {}", rule.as_ref()),
        );
        err.field = Some(field);
        err
    }

    /// 400: a page token no list returned, or another list (data store, kind) returned.
    pub fn invalid_next_token(message: impl Into<String>) -> Self {
        let mut err = Self::new(StatusCode::BAD_REQUEST, "InvalidNextToken", message);
        err.field = Some("nextToken".into());
        err
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn method_not_allowed(method: &str, allow: &'static str) -> Self {
        let mut err = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not allowed here; allowed: {allow}"),
        );
        err.allow = Some(allow);
        err
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "IdempotencyConflict", message)
    }

    /// 409: the export cannot be cancelled (not started, ended, or HealthLake refused).
    pub fn not_cancellable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "NotCancellable", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("the body must be at most {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the body must be application/json, got {content_type:?}"),
        )
    }

    /// 429: the data store has as many hlx jobs in flight as the limit allows.
    pub fn too_many_jobs(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyJobs", message)
    }

    pub fn throttled(service: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("{service} is throttling requests; retry after a short wait"),
        )
    }

    pub fn unavailable(service: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("{service} did not answer; retry after a short wait"),
        )
    }

    /// 500. `request_id` lets an operator find the logged details.
    pub fn internal(request_id: Option<&str>) -> Self {
        let message = match request_id {
            Some(id) => format!("the request failed; the function's logs have the details (request id {id})"),
            None => "the request failed; the function's logs have the details".to_owned(),
        };
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// 501: the deployment does not configure what the request needs.
    pub fn not_configured(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "NotConfigured", message)
    }

    /// The HTTP answer.
    pub fn into_response(self) -> Response<Body> {
        let body = ErrorBody {
            error: self.name,
            message: &self.message,
            field: self.field.as_deref(),
        };
        let mut response = crate::api::json_response(self.status, &body);
        let headers = response.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

/// A Step Functions failure as an answer: 429 when throttled, 503 when it did
/// not answer, else a 500 (details logged).
pub(crate) fn sfn_error(operation: &str, err: SfnError, request_id: Option<&str>) -> ApiError {
    match err {
        SfnError::Throttled { code, .. } => {
            tracing::warn!(operation, code = %code, "Step Functions throttled");
            ApiError::throttled("Step Functions")
        }
        SfnError::Unavailable(detail) => {
            tracing::error!(operation, detail = %detail, "Step Functions did not answer");
            ApiError::unavailable("Step Functions")
        }
        other => {
            tracing::error!(operation, error = %other, "Step Functions call failed");
            ApiError::internal(request_id)
        }
    }
}

/// DynamoDB's throttling codes.
const DYNAMODB_THROTTLING: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];

/// A job store failure (or another `HlxError`) as an answer: a bad request or
/// page token as 400s, DynamoDB throttling as a 429, DynamoDB not answering as
/// a 503, anything else as a 500 (details logged).
pub(crate) fn store_error(err: HlxError, request_id: Option<&str>) -> ApiError {
    match err {
        HlxError::InvalidRequest(field) => ApiError::invalid(field.field, field.rule),
        HlxError::InvalidNextToken(message) => ApiError::invalid_next_token(message),
        HlxError::DynamoDb { code, .. } if DYNAMODB_THROTTLING.contains(&code.as_str()) => {
            tracing::warn!(code = %code, "DynamoDB throttled");
            ApiError::throttled("DynamoDB")
        }
        HlxError::DynamoDbUnavailable(detail) => {
            tracing::error!(detail = %detail, "DynamoDB did not answer");
            ApiError::unavailable("DynamoDB")
        }
        other => {
            tracing::error!(error_type = %other.error_name(), error = %other, "job store call failed");
            ApiError::internal(request_id)
        }
    }
}
