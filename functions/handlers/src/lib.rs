//! The handlers of hlx's Lambda functions.
//!
//! A handler parses its payload, calls the domain, and turns a failure into a
//! [`FunctionError`] whose name is the `errorType` Step Functions matches in
//! `Retry` and `Catch`. The Lambda binaries run these handlers under
//! `lambda_runtime`; local mode calls the very same functions in process.

use hlx_core::verification::VerifyPolicy;
use hlx_core::verification::storage::ExportObjects;
use hlx_core::verify_export::VerifyStep;
use hlx_core::{
    AwaitJobInput, CheckJobInput, HealthLakeJobs, HlxError, JobHistory, JobStore, ManifestStore,
    PollSchedule, RecordRequest, StartJobInput, TaskTokens, WaitStore,
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

/// start-job: validate the request, start the job idempotently, learn
/// the expected run time from the data store's history.
pub async fn start_job(
    jobs: &impl HealthLakeJobs,
    history: &impl JobHistory,
    schedule: &PollSchedule,
    payload: Value,
) -> Result<Value, FunctionError> {
    let input: StartJobInput = parse(payload)?;
    let progress = logged(
        "start-job",
        hlx_core::start_job(jobs, history, schedule, &input).await,
    )?;
    Ok(to_value(progress))
}

/// await-job: store the callback task's token against the job, look once.
pub async fn await_job(
    waits: &impl WaitStore,
    jobs: &impl HealthLakeJobs,
    tokens: &impl TaskTokens,
    payload: Value,
) -> Result<Value, FunctionError> {
    let input: AwaitJobInput = parse(payload)?;
    let awaited = logged(
        "await-job",
        hlx_core::await_job(waits, jobs, tokens, &input).await,
    )?;
    tracing::info!(
        id = %awaited.id,
        job_id = %awaited.job_id,
        outcome = ?awaited.outcome,
        job_status = awaited.job_status.as_ref().map_or("", |s| s.as_str()),
        wait_seconds = input.progress.next_check_seconds,
        "export awaited"
    );
    Ok(to_value(awaited))
}

/// job-events: wake the execution waiting for the event's job. The event
/// itself is not logged (only its id, detail-type and what was done).
pub async fn job_events(
    waits: &impl WaitStore,
    tokens: &impl TaskTokens,
    payload: Value,
) -> Result<Value, FunctionError> {
    let handled = logged(
        "job-events",
        hlx_core::handle_job_event(waits, tokens, &payload).await,
    )?;
    tracing::info!(
        event_id = %handled.event_id,
        detail_type = payload.get("detail-type").and_then(serde_json::Value::as_str).unwrap_or(""),
        job_id = handled.job_id.as_deref().unwrap_or(""),
        id = handled.id.as_deref().unwrap_or(""),
        outcome = ?handled.outcome,
        reason = handled.reason.as_deref().unwrap_or(""),
        "event handled"
    );
    Ok(to_value(handled))
}

/// check-job: describe the job once and decide.
pub async fn check_job(
    jobs: &impl HealthLakeJobs,
    manifests: &impl ManifestStore,
    schedule: &PollSchedule,
    payload: Value,
) -> Result<Value, FunctionError> {
    let input: CheckJobInput = parse(payload)?;
    let progress = logged(
        "check-job",
        hlx_core::check_job(jobs, manifests, schedule, &input).await,
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
/// verify-export: one step of an export's verification (`begin`, a
/// Distributed Map child's batch, or `fold`); see [`hlx_core::verify_export`].
pub async fn verify_export(
    objects: &impl ExportObjects,
    store: &impl JobStore,
    policy: &VerifyPolicy,
    payload: Value,
) -> Result<Value, FunctionError> {
    let step = VerifyStep::from_value(payload)?;
    logged(
        "verify-export",
        Box::pin(hlx_core::verify_export::verify_step(objects, store, policy, step)).await,
    )
}

/// At verify-export's start: the id runs a process that crashed mid-file
/// left in this (warm) container's `/tmp` are removed.
pub fn remove_stale_id_runs() {
    let stale = hlx_core::verification::ids::remove_stale_runs(&std::env::temp_dir());
    if stale > 0 {
        tracing::info!(stale, "removed id runs left in /tmp by an ended process");
    }
}

/// The CloudWatch metric an export that is not `VERIFIED` counts in: the
/// stack's alarm watches it.
pub const NOT_VERIFIED_METRIC: &str = "ExportsNotVerified";

/// The CloudWatch Embedded Metric Format line record-result prints when it
/// records a verdict of `SUSPECT` or `UNVERIFIABLE` (`None` otherwise): one
/// `ExportsNotVerified` in namespace `hlx`, with the verdict as a property.
pub fn not_verified_metric(record_request: &Value, now_millis: i64) -> Option<String> {
    let verdict = record_request.pointer("/verification/verdict")?.as_str()?;
    if !matches!(verdict, "SUSPECT" | "UNVERIFIABLE") {
        return None;
    }
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": now_millis,
            "CloudWatchMetrics": [{
                "Namespace": "hlx",
                "Dimensions": [[]],
                "Metrics": [{ "Name": NOT_VERIFIED_METRIC, "Unit": "Count" }]
            }]
        },
        NOT_VERIFIED_METRIC: 1,
        "verdict": verdict
    });
    Some(line.to_string())
}

/// The verification's settings from the environment (`HLX_VERIFY_*`).
pub fn verify_policy_from_env() -> Result<VerifyPolicy, lambda_runtime::Error> {
    VerifyPolicy::from_lookup(|name| std::env::var(name).ok()).map_err(Into::into)
}

pub fn schedule_from_env() -> Result<PollSchedule, lambda_runtime::Error> {
    PollSchedule::from_env().map_err(|e| format!("bad poll schedule setting {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlx_core::InMemoryJobStore;
    use serde_json::json;

    #[test]
    fn exports_not_verified_count_in_the_alarmed_metric() {
        let suspect = json!({"verification": {"verdict": "SUSPECT"}});
        let line = not_verified_metric(&suspect, 1_700_000_000_000).unwrap();
        let emf: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(emf["ExportsNotVerified"], 1);
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "hlx");
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "ExportsNotVerified"
        );
        assert_eq!(emf["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert!(not_verified_metric(&json!({"verification": {"verdict": "UNVERIFIABLE"}}), 0).is_some());
        assert!(not_verified_metric(&json!({"verification": {"verdict": "VERIFIED"}}), 0).is_none());
        assert!(not_verified_metric(&json!({"verification": null}), 0).is_none());
        assert!(not_verified_metric(&json!({}), 0).is_none());
    }

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

    #[test]
    fn every_error_the_state_machine_matches_reaches_it_under_its_name() {
        let definition: Value =
            serde_json::from_str(include_str!("../../../statemachine/job.asl.json")).unwrap();
        let mut names: Vec<String> = Vec::new();
        for state in definition["States"].as_object().unwrap().values() {
            for list in ["Retry", "Catch"] {
                for rule in state[list].as_array().into_iter().flatten() {
                    for name in rule["ErrorEquals"].as_array().unwrap() {
                        names.push(name.as_str().unwrap().to_owned());
                    }
                }
            }
        }
        let ours = [
            HlxError::HealthLake {
                code: "ThrottlingException".into(),
                message: String::new(),
            },
            HlxError::HealthLake {
                code: "InternalServerException".into(),
                message: String::new(),
            },
            HlxError::HealthLakeUnavailable(String::new()),
            HlxError::DynamoDbUnavailable(String::new()),
            HlxError::InvalidRequest(hlx_core::FieldError::missing("s3Uri")),
            HlxError::DynamoDb {
                code: "ProvisionedThroughputExceededException".into(),
                message: String::new(),
            },
        ];
        for err in ours {
            let diagnostic = Diagnostic::from(FunctionError::from(err));
            assert!(
                names.contains(&diagnostic.error_type),
                "{} is matched by no Retry or Catch",
                diagnostic.error_type
            );
        }
        // The callback's fallback: its timeout goes to the check, never to a Retry.
        let await_state = &definition["States"]["AwaitJob"];
        assert_eq!(
            await_state["Catch"][0]["ErrorEquals"],
            serde_json::json!(["States.Timeout"])
        );
        assert_eq!(await_state["Catch"][0]["Next"], "CheckJob");
        for rule in await_state["Retry"].as_array().unwrap() {
            assert!(
                !rule["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("States.Timeout"))
            );
        }
    }

    #[tokio::test]
    async fn a_payload_the_definition_got_wrong_is_invalid_input() {
        let store = InMemoryJobStore::new();
        let err = record_result(&store, json!({"id": 3})).await.unwrap_err();
        assert_eq!(err.name, "hlx.InvalidInput");
        assert!(
            err.message.contains("id") || err.message.contains("invalid type"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn record_result_answers_what_it_wrote() {
        let store = InMemoryJobStore::new();
        let payload = json!({
            "id": "e1",
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:e1",
            "executionStartedAt": "2026-01-01T00:00:00Z",
            "now": "2026-01-01T00:00:01Z",
            "request": {"datastoreId": "ds1"},
            "outcome": "REJECTED",
            "error": {"Error": "hlx.InvalidRequest", "Cause": "s3Uri: is required"}
        });
        let out = record_result(&store, payload.clone()).await.unwrap();
        assert_eq!(out, json!({"id": "e1", "status": "REJECTED", "write": "written"}));
        let again = record_result(&store, payload).await.unwrap();
        assert_eq!(again["write"], "unchanged");
    }
}
