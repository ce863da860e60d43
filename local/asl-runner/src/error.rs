//! Error names and the errors the runner reports.

use std::fmt;

use serde_json::{Value, json};

/// The predefined error names of the Amazon States Language (appendix A) and
/// of Step Functions. Custom error names may not start with `States.`.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";

    /// Every `States.*` name a Retrier or Catcher may list. Anything else with
    /// the `States.` prefix is refused at load time (it is almost always a typo).
    pub const KNOWN: &[&str] = &[
        ALL,
        TASK_FAILED,
        TIMEOUT,
        HEARTBEAT_TIMEOUT,
        RUNTIME,
        NO_CHOICE_MATCHED,
        INTRINSIC_FAILURE,
        RESULT_PATH_MATCH_FAILURE,
        PARAMETER_PATH_FAILURE,
        DATA_LIMIT_EXCEEDED,
        PERMISSIONS,
        BRANCH_FAILED,
        "States.ExceedToleratedFailureThreshold",
        "States.ItemReaderFailed",
        "States.ResultWriterFailed",
        "States.QueryEvaluationError",
        "States.Http.Socket",
    ];
}

/// An error raised while a state runs: the `Error` and `Cause` that Retry,
/// Catch and the execution's failure report carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesError {
    pub error: String,
    pub cause: Option<String>,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }

    pub fn without_cause(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: None,
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// Errors that end the execution whatever the Retry and Catch fields say:
    /// `States.ALL` does not match them and AWS never retries them.
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }

    /// The object a Catcher hands to its `ResultPath`: `{"Error", "Cause"}`.
    pub fn to_catch_output(&self) -> Value {
        match &self.cause {
            Some(cause) => json!({"Error": self.error, "Cause": cause}),
            None => json!({"Error": self.error}),
        }
    }
}

impl fmt::Display for StatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {}", self.error, cause),
            None => f.write_str(&self.error),
        }
    }
}

impl std::error::Error for StatesError {}

/// Does the name in an `ErrorEquals` list match the error that occurred?
///
/// * an exact name matches itself;
/// * `States.ALL` matches every error;
/// * `States.TaskFailed` matches every error except the timeouts;
/// * `States.Timeout` also matches `States.HeartbeatTimeout` (the Step
///   Functions guide describes a missed heartbeat as a `States.Timeout`).
///
/// Terminal errors (`States.Runtime`, `States.DataLimitExceeded`) never match:
/// callers check [`StatesError::is_terminal`] before consulting retriers.
pub fn error_matches(pattern: &str, error: &str) -> bool {
    if error == names::RUNTIME || error == names::DATA_LIMIT_EXCEEDED {
        return false;
    }
    match pattern {
        p if p == error => true,
        names::ALL => true,
        names::TASK_FAILED => error != names::TIMEOUT && error != names::HEARTBEAT_TIMEOUT,
        names::TIMEOUT => error == names::HEARTBEAT_TIMEOUT,
        _ => false,
    }
}

/// The input was too large for Step Functions (256 KiB of UTF-8).
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;

/// Checks a payload against Step Functions' size quota.
pub fn check_payload_size(what: &str, value: &Value) -> Result<(), StatesError> {
    let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
    if size > PAYLOAD_LIMIT_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The {what} has a size of {size} bytes, which exceeds the maximum of {PAYLOAD_LIMIT_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        assert!(error_matches("States.ALL", "Boom"));
        assert!(error_matches("States.ALL", "States.Timeout"));
        assert!(!error_matches("States.ALL", "States.Runtime"));
        assert!(!error_matches("States.Runtime", "States.Runtime"));
        assert!(!error_matches("States.ALL", "States.DataLimitExceeded"));
        assert!(error_matches("States.TaskFailed", "Lambda.Unknown"));
        assert!(!error_matches("States.TaskFailed", "States.Timeout"));
        assert!(!error_matches("States.TaskFailed", "States.HeartbeatTimeout"));
        assert!(error_matches("States.Timeout", "States.HeartbeatTimeout"));
        assert!(error_matches("Boom", "Boom"));
        assert!(!error_matches("Boom", "boom"));
    }
}
