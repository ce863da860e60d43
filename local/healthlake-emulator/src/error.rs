//! Errors as HealthLake (and the AWS JSON front end before it) report them.

use std::fmt;

/// The error shapes the emulator can answer with.
///
/// The first six are HealthLake's own (`com.amazonaws.healthlake#…`), with the
/// HTTP status of their `smithy.api#httpError` trait in the Smithy model. The
/// others are raised by the AWS JSON front end before an operation runs
/// (`com.amazon.coral.service#…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    Validation,
    AccessDenied,
    ResourceNotFound,
    Conflict,
    Throttling,
    InternalServer,
    UnknownOperation,
    Serialization,
    MissingAuthenticationToken,
    IncompleteSignature,
    UnrecognizedClient,
    InvalidSignature,
}

const HEALTHLAKE_NAMESPACE: &str = "com.amazonaws.healthlake";
const FRONT_END_NAMESPACE: &str = "com.amazon.coral.service";

impl ErrorKind {
    /// The shape name, as SDKs match it (`ThrottlingException`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::AccessDenied => "AccessDeniedException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Conflict => "ConflictException",
            Self::Throttling => "ThrottlingException",
            Self::InternalServer => "InternalServerException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Serialization => "SerializationException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature => "InvalidSignatureException",
        }
    }

    /// The HTTP status the service answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::Validation => 400,
            Self::AccessDenied => 403,
            Self::ResourceNotFound => 404,
            Self::Conflict => 409,
            Self::Throttling => 429,
            Self::InternalServer => 500,
            Self::UnknownOperation => 400,
            Self::Serialization => 400,
            Self::MissingAuthenticationToken => 403,
            Self::IncompleteSignature => 400,
            Self::UnrecognizedClient => 403,
            Self::InvalidSignature => 403,
        }
    }

    /// The `__type` of the error body: the shape name with its namespace.
    pub fn type_id(self) -> String {
        let namespace = match self {
            Self::Validation
            | Self::AccessDenied
            | Self::ResourceNotFound
            | Self::Conflict
            | Self::Throttling
            | Self::InternalServer => HEALTHLAKE_NAMESPACE,
            Self::UnknownOperation
            | Self::Serialization
            | Self::MissingAuthenticationToken
            | Self::IncompleteSignature
            | Self::UnrecognizedClient
            | Self::InvalidSignature => FRONT_END_NAMESPACE,
        };
        format!("{namespace}#{}", self.name())
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answer: its shape and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ResourceNotFound, message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, message)
    }

    /// The JSON body: `{"__type": "<namespace>#<Name>", "message": "..."}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.kind.type_id(), "message": self.message })
    }
}

/// A library call that named something the emulator does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    #[error("no data store with id {0}")]
    UnknownDatastore(String),
    #[error("no export job with id {0}")]
    UnknownJob(String),
    #[error("unsupported resource type {0} (supported: {supported})", supported = crate::SUPPORTED_RESOURCE_TYPES.join(", "))]
    UnsupportedResourceType(String),
}
