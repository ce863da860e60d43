//! The shapes of the API's answers: what a POST answers (`ExportStarted`,
//! `ImportStarted`), a job record as the API answers it (`record_answer`), and
//! the record an execution without one stands for (`record_from_execution`).

use hlx_core::{JobKind, JobRecord, JobRequest, RecordPage, RecordStatus};
use serde::Serialize;
use serde_json::Value;

use crate::executions::ExecutionInfo;

/// The status a freshly started export (or import) reports.
pub const STARTING: &str = "STARTING";

/// A `POST /exports` answer (202 for a new export, 200 for the existing one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportStarted {
    pub export_id: String,
    pub execution_arn: String,
    /// `STARTING` for a new export; the Step Functions execution status
    /// (`RUNNING`, `SUCCEEDED`, ...) of an existing one.
    pub status: String,
}

/// A `POST /imports` answer: as [`ExportStarted`], the id called `importId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStarted {
    pub import_id: String,
    pub execution_arn: String,
    pub status: String,
}

/// A POST's answer, by the kind of job it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Started {
    Export(ExportStarted),
    Import(ImportStarted),
}

impl Started {
    pub fn new(kind: JobKind, id: String, execution_arn: String, status: String) -> Self {
        match kind {
            JobKind::Export => Self::Export(ExportStarted {
                export_id: id,
                execution_arn,
                status,
            }),
            JobKind::Import => Self::Import(ImportStarted {
                import_id: id,
                execution_arn,
                status,
            }),
        }
    }
}

/// A page of records as the API answers it: each record by
/// [`record_answer`], and the token of the next page, if any.
pub fn page_answer(page: &RecordPage) -> Value {
    let records: Vec<Value> = page.records.iter().map(record_answer).collect();
    let mut answer = serde_json::json!({ "records": records });
    if let Some(token) = &page.next_token {
        answer["nextToken"] = Value::String(token.clone());
    }
    answer
}

/// A job record as the API answers it: its `id` called by its route's name
/// (`exportId`, `importId`), the other members as the record has them.
pub fn record_answer(record: &JobRecord) -> Value {
    let mut value = serde_json::to_value(record).expect("a record serializes");
    if let Value::Object(map) = &mut value
        && let Some(id) = map.remove("id")
    {
        let mut answer = serde_json::Map::with_capacity(map.len() + 1);
        answer.insert(record.kind.id_field().to_owned(), id);
        answer.extend(std::mem::take(map));
        return Value::Object(answer);
    }
    value
}

/// The record an execution without a job record stands for: `STARTING` while
/// it runs; `ERROR` (`hlx.NoRecord`) if it ended without writing one.
pub fn record_from_execution(execution: &ExecutionInfo, now: jiff::Timestamp) -> JobRecord {
    let input: Value = execution
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    let parsed = JobRequest::from_value(&input).ok();
    let raw = |field: &str| {
        input
            .get(field)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect::<String>())
    };
    let (status, error_name, error_cause, ended_at) = if execution.is_running() {
        (RecordStatus::parse(STARTING), None, None, None)
    } else {
        (
            RecordStatus::Error,
            Some("hlx.NoRecord".to_owned()),
            Some(format!(
                "the execution ended as {} without writing a job record",
                execution.status
            )),
            Some(execution.stop_date.unwrap_or(now)),
        )
    };
    // A request the domain refuses still says its kind (absent: an export).
    let kind = parsed
        .as_ref()
        .map(JobRequest::kind)
        .or_else(|| raw("kind").as_deref().and_then(JobKind::parse))
        .unwrap_or_default();
    let selection = match &parsed {
        Some(JobRequest::Export(export)) => Some(&export.selection),
        _ => None,
    };
    JobRecord {
        id: execution.name.clone(),
        execution_arn: execution.execution_arn.clone(),
        kind,
        status,
        datastore_id: raw("datastoreId"),
        trigger: raw("trigger"),
        job_id: None,
        job_name: raw("jobName"),
        job_status: None,
        s3_uri: parsed
            .as_ref()
            .map(|r| r.output_s3_uri().to_owned())
            .or_else(|| raw("s3Uri")),
        input_s3_uri: raw("inputS3Uri"),
        kms_key_id: parsed.as_ref().map(|r| r.kms_key_id().to_owned()),
        data_access_role_arn: parsed.as_ref().map(|r| r.data_access_role_arn().to_owned()),
        output_location: None,
        message: None,
        error_name,
        error_cause,
        execution_started_at: execution.start_date,
        submitted_at: None,
        running_since: None,
        ended_at,
        updated_at: execution.stop_date.unwrap_or(execution.start_date),
        queued_seconds: None,
        running_seconds: None,
        checks: 0,
        start_attempts: 0,
        import_counts: None,
        mode: selection.map(|s| s.mode.as_str().to_owned()),
        chain: selection.map(|s| s.chain()),
        since: selection.and_then(|s| s.since),
        until: selection.and_then(|s| s.until),
        manifest: None,
        cancel: None,
        verification: None,
    }
}
