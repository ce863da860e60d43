//! Page tokens: where a list stopped, handed to the caller as an opaque string.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::error::HlxError;
use crate::validation::FieldError;

/// The token of a position (a JSON value).
pub fn encode(position: &Value) -> String {
    STANDARD.encode(position.to_string())
}

/// The position a token holds; a token this service did not issue is refused.
pub fn decode(token: &str) -> Result<Value, HlxError> {
    let bytes = STANDARD.decode(token).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

/// The error of a token no list returned.
pub fn invalid() -> HlxError {
    HlxError::InvalidRequest(FieldError::new("nextToken", "is not a token this list returned"))
}
