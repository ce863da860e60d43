//! The handlers of hlx's Lambda functions.
//!
//! A handler parses its payload, calls the domain, and turns a failure into a
//! [`FunctionError`] whose name is the `errorType` Step Functions matches in
//! `Retry` and `Catch`. The Lambda binaries run these handlers under
//! `lambda_runtime`; local mode calls the very same functions in process.

use hlx_core::{
    CheckExportInput, ExportJobs, HlxError, JobStore, PollSchedule, RecordRequest, StartExportInput,
};
use lambda_runtime::Diagnostic;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A failed invocation: the error's name (the Lambda `errorType`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub name: String,
    pub message: String,
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for FunctionError {}

impl From<HlxError> for FunctionError {
    fn from(err: HlxError) -> Self {
        Self {
            name: err.error_name(),
            message: err.to_string(),
        }
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(err: FunctionError) -> Self {
        Diagnostic {
            error_type: err.name,
            error_message: err.message,
        }
    }
}

/// Reads a payload the state machine built; a mismatch is a definition bug,
/// reported as `hlx.InvalidInput` with serde's description of where.
pub fn parse<T: DeserializeOwned>(payload: Value) -> Result<T, FunctionError> {
    serde_json::from_value(payload).map_err(|e| HlxError::InvalidInput(e.to_string()).into())
}

fn logged<T>(function: &str, result: Result<T, HlxError>) -> Result<T, FunctionError> {
    result.map_err(|err| {
        // The message names fields and HealthLake's words, never request values or resources.
        tracing::warn!(function, error_type = %err.error_name(), error = %err, "invocation failed");
        err.into()
    })
}

fn to_value(output: impl serde::Serialize) -> Value {
    serde_json::to_value(output).expect("outputs serialize")
}

/// start-export: validate the request, start the job idempotently.
pub async fn start_export(
    jobs: &impl ExportJobs,
    schedule: &PollSchedule,
    payload: Value,
) -> Result<Value, FunctionError> {
    let input: StartExportInput = parse(payload)?;
    let progress = logged(
        "start-export",
        hlx_core::start_export(jobs, schedule, &input).await,
    )?;
    Ok(to_value(progress))
}

/// check-export: describe the job once and decide.
pub async fn check_export(
    jobs: &impl ExportJobs,
    schedule: &PollSchedule,
    payload: Value,
) -> Result<Value, FunctionError> {
    let input: CheckExportInput = parse(payload)?;
    let progress = logged(
        "check-export",
        hlx_core::check_export(jobs, schedule, &input).await,
    )?;
    tracing::info!(
        job_id = %progress.job_id,
        status = %progress.job_status,
        outcome = ?progress.outcome,
        next_check_seconds = progress.next_check_seconds,
        "export checked"
    );
    Ok(to_value(progress))
}

/// record-result: write the job record by the forward-only rule.
pub async fn record_result(store: &impl JobStore, payload: Value) -> Result<Value, FunctionError> {
    let input: RecordRequest = parse(payload)?;
    let written = logged("record-result", hlx_core::record_result(store, input).await)?;
    Ok(to_value(written))
}

/// JSON logs for CloudWatch: one object per line, level from `RUST_LOG`
/// (default `info`), no colours, no module paths.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .with_ansi(false)
        .try_init();
}

/// Reads the poll schedule at start-up; a bad setting stops the function
/// before it takes an invocation, with the variable named.
pub fn schedule_from_env() -> Result<PollSchedule, lambda_runtime::Error> {
    PollSchedule::from_env().map_err(|e| format!("bad poll schedule setting {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlx_core::InMemoryJobStore;
    use serde_json::json;

    #[test]
    fn function_errors_become_diagnostics_with_the_exact_name() {
        let err: FunctionError = HlxError::HealthLake {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        }
        .into();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "HealthLake.ThrottlingException");
        assert_eq!(
            diagnostic.error_message,
            "HealthLake ThrottlingException: Rate exceeded"
        );
    }

    #[tokio::test]
    async fn a_payload_the_definition_got_wrong_is_invalid_input() {
        let store = InMemoryJobStore::new();
        let err = record_result(&store, json!({"exportId": 3})).await.unwrap_err();
        assert_eq!(err.name, "hlx.InvalidInput");
        assert!(
            err.message.contains("exportId") || err.message.contains("invalid type"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn record_result_answers_what_it_wrote() {
        let store = InMemoryJobStore::new();
        let payload = json!({
            "exportId": "e1",
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e1",
            "executionStartedAt": "2026-01-01T00:00:00Z",
            "now": "2026-01-01T00:00:01Z",
            "request": {"datastoreId": "ds1"},
            "outcome": "REJECTED",
            "error": {"Error": "hlx.InvalidRequest", "Cause": "s3Uri: is required"}
        });
        let out = record_result(&store, payload.clone()).await.unwrap();
        assert_eq!(
            out,
            json!({"exportId": "e1", "status": "REJECTED", "write": "written"})
        );
        let again = record_result(&store, payload).await.unwrap();
        assert_eq!(again["write"], "unchanged");
    }
}
