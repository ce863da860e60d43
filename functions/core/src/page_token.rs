//! Page tokens: where a list stopped, handed to the caller as an opaque
//! string and bound to the list it came from.
//!
//! A token holds the list's identity (kind and data store) and the position.
//! A token that does not decode, or that was issued for another list, is
//! refused as `InvalidNextToken` before any store sees it; the stores check
//! the position's shape too, so no caller-made value reaches DynamoDB as a
//! start key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::error::HlxError;

/// The token of `position` in the list `list`.
pub fn encode(list: &str, position: &Value) -> String {
    STANDARD.encode(json!({"list": list, "at": position}).to_string())
}

/// The position a token of `list` holds.
pub fn decode(token: &str, list: &str) -> Result<Value, HlxError> {
    let bytes = STANDARD
        .decode(token)
        .map_err(|_| invalid("it is not a token a list returned"))?;
    let mut value: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("it is not a token a list returned"))?;
    match value.get("list").and_then(Value::as_str) {
        Some(issued_for) if issued_for == list => {}
        Some(_) => return Err(invalid("it was returned by another list (data store or kind)")),
        None => return Err(invalid("it is not a token a list returned")),
    }
    match value.get_mut("at").map(Value::take) {
        Some(position) if !position.is_null() => Ok(position),
        _ => Err(invalid("it is not a token a list returned")),
    }
}

/// The error of a token no list returned, or another list returned.
pub fn invalid(why: &str) -> HlxError {
    HlxError::InvalidNextToken(format!("nextToken: {why}; start the list again without it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_in_its_own_list_only() {
        let token = encode("DATASTORE#a", &json!({"pk": "x"}));
        assert_eq!(decode(&token, "DATASTORE#a").unwrap(), json!({"pk": "x"}));
        let other = decode(&token, "DATASTORE#b").unwrap_err();
        assert_eq!(other.error_name(), "hlx.InvalidNextToken");
        assert!(other.to_string().contains("another list"), "{other}");
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        // base64 of {"foo":"bar"}: JSON, but no list's token.
        for token in ["eyJmb28iOiJiYXIifQ==", "not base64!", "", "bnVsbA=="] {
            let err = decode(token, "DATASTORE#a").unwrap_err();
            assert_eq!(err.error_name(), "hlx.InvalidNextToken", "{token}");
        }
    }
}
