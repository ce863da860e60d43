//! The job record: one item per export or import, the audit trail of what hlx did.
//!
//! A record only moves forward. [`decide`] is the rule every store applies:
//! a higher-ranked status replaces a lower one, a same-ranked running status
//! is replaced only by a check at least as recent, a duplicate of the terminal
//! status already recorded is a no-op, and a different terminal status is a
//! conflict, never a silent overwrite.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HlxError;
use crate::import::ImportCounts;
use crate::kind::JobKind;
use crate::manifest::ManifestSummary;
use crate::progress::{CancelRequested, JobProgress, Outcome};
use crate::request::JobRequest;
use crate::status::RecordStatus;
use crate::time;
use crate::verification::Verification;

/// An error caught by the state machine (`Catch` with `ResultPath: $.error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// Why the state machine is recording without a HealthLake status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordOutcome {
    /// The request broke a field rule; nothing was started.
    Rejected,
    /// Something failed that the state machine could not handle.
    Error,
}

/// record-result's input, built by the state machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRequest {
    /// `$$.Execution.Name`: the export's id.
    pub id: String,
    /// `$$.Execution.Id`.
    pub execution_arn: String,
    /// `$$.Execution.StartTime`.
    #[serde(with = "time")]
    pub execution_started_at: Timestamp,
    /// `$$.State.EnteredTime`.
    #[serde(with = "time")]
    pub now: Timestamp,
    /// The raw execution input.
    #[serde(default)]
    pub request: Value,
    #[serde(default)]
    pub progress: Option<JobProgress>,
    #[serde(default)]
    pub error: Option<CaughtError>,
    #[serde(default)]
    pub outcome: Option<RecordOutcome>,
    /// A completed export's verification, when the state machine ran one.
    #[serde(default)]
    pub verification: Option<Verification>,
}

/// One job's history item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    /// The execution name: the export's (or import's) id in hlx.
    pub id: String,
    /// Records written before imports existed have none: exports.
    #[serde(default)]
    pub kind: JobKind,
    pub execution_arn: String,
    pub status: RecordStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    /// Where HealthLake writes: an export's files, an import's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_uri: Option<String>,
    /// An import's input location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_s3_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_access_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_location: Option<String>,
    /// HealthLake's message (a failed job says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_cause: Option<String>,
    #[serde(with = "time")]
    pub execution_started_at: Timestamp,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Timestamp>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub running_since: Option<Timestamp>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    #[serde(with = "time")]
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_seconds: Option<u64>,
    /// `DescribeFHIRExportJob` calls made.
    #[serde(default)]
    pub checks: u32,
    /// Attempts the start took.
    #[serde(default)]
    pub start_attempts: u32,
    /// An import's counts: resources scanned, imported and refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_counts: Option<ImportCounts>,
    /// An export's mode: `full` or `incremental`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// An export's selection chain (`system`, `patient`,
    /// `group/{id}?_type=…`): incremental exports continue the chain's last
    /// completed one. Records without one are full system exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The `_since` the export was sent with.
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The `_until` the export was sent with.
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// A completed export's manifest: files, resources per type, and the
    /// `transactionTime` the next incremental export starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestSummary>,
    /// The cancel hlx asked HealthLake for when it timed the export out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelRequested>,
    /// What hlx found when it read the export back (HealthLake's own status
    /// stays in `job_status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl JobRecord {
    /// The selection chain this export belongs to (`system` for records that name none).
    pub fn chain(&self) -> &str {
        self.chain.as_deref().unwrap_or("system")
    }

    /// Builds the record the state machine asked for.
    pub fn from_request(input: RecordRequest) -> Result<Self, HlxError> {
        let parsed = JobRequest::from_value(&input.request).ok();
        let raw = input.request.as_object();
        let raw_string = |field: &str| -> Option<String> {
            raw.and_then(|o| o.get(field))
                .and_then(Value::as_str)
                // A rejected request may hold anything: keep what fits in a record.
                .map(|s| s.chars().take(256).collect())
        };
        let status = match (input.outcome, &input.progress) {
            (Some(RecordOutcome::Rejected), _) => RecordStatus::Rejected,
            (Some(RecordOutcome::Error), _) => RecordStatus::Error,
            (None, Some(progress)) if progress.outcome == Outcome::TimedOut => RecordStatus::TimedOut,
            (None, Some(progress)) => RecordStatus::Job(progress.job_status.clone()),
            (None, None) => {
                return Err(HlxError::InvalidInput(
                    "a record needs a progress or an outcome".into(),
                ));
            }
        };
        let progress = input.progress.as_ref();
        let (error_name, error_cause) = match &input.error {
            Some(caught) => (
                Some(caught.error.clone()),
                caught.cause.as_deref().map(readable_cause),
            ),
            None => (None, progress.and_then(|p| p.timed_out_reason.clone())),
        };
        let kind = parsed
            .as_ref()
            .map(JobRequest::kind)
            .or_else(|| progress.map(|p| p.kind))
            .or_else(|| raw_string("kind").as_deref().and_then(JobKind::parse))
            .unwrap_or_default();
        let datastore_id = parsed
            .as_ref()
            .map(|r| r.datastore_id().to_owned())
            .or_else(|| progress.map(|p| p.datastore_id.clone()))
            .or_else(|| raw_string("datastoreId").filter(|s| !s.is_empty()));
        let s3_uri = parsed
            .as_ref()
            .map(|r| r.output_s3_uri().to_owned())
            .or_else(|| match kind {
                JobKind::Export => raw_string("s3Uri"),
                JobKind::Import => raw_string("outputS3Uri"),
            });
        let input_s3_uri = match &parsed {
            Some(JobRequest::Import(r)) => Some(r.input_s3_uri.clone()),
            Some(JobRequest::Export(_)) => None,
            None => raw_string("inputS3Uri"),
        };
        let output_location = match (progress, &parsed) {
            (Some(p), Some(r)) => Some(r.output_location(&p.job_id)),
            _ => None,
        };
        let selection = match &parsed {
            Some(JobRequest::Export(export)) => Some(&export.selection),
            _ => None,
        };
        let ended_at = if status.is_terminal() {
            Some(progress.and_then(|p| p.end_time).unwrap_or(input.now))
        } else {
            None
        };
        Ok(Self {
            id: input.id,
            execution_arn: input.execution_arn,
            kind,
            trigger: parsed
                .as_ref()
                .map(|r| r.trigger().as_str().to_owned())
                .or_else(|| raw_string("trigger")),
            datastore_id,
            job_id: progress.map(|p| p.job_id.clone()),
            job_name: progress.map(|p| p.job_name.clone()),
            job_status: progress.map(|p| p.job_status.to_string()),
            s3_uri,
            input_s3_uri,
            kms_key_id: parsed.as_ref().map(|r| r.kms_key_id().to_owned()),
            data_access_role_arn: parsed.as_ref().map(|r| r.data_access_role_arn().to_owned()),
            output_location,
            message: progress.and_then(|p| p.message.clone()),
            error_name,
            error_cause,
            execution_started_at: input.execution_started_at,
            submitted_at: progress.map(|p| p.submit_time),
            running_since: progress.and_then(|p| p.running_since),
            ended_at,
            updated_at: input.now,
            queued_seconds: progress.map(|p| p.queued_seconds),
            running_seconds: progress.and_then(|p| p.running_seconds),
            checks: progress.map_or(0, |p| p.checks),
            start_attempts: progress.map_or(0, |p| p.start_attempts),
            import_counts: progress.and_then(|p| p.import_counts.clone()),
            mode: selection.map(|s| s.mode.as_str().to_owned()),
            chain: selection.map(|s| s.chain()),
            since: progress.and_then(|p| p.since),
            until: selection.and_then(|s| s.until),
            manifest: progress.and_then(|p| p.manifest.clone()),
            cancel: progress.and_then(|p| p.cancel.clone()),
            verification: input.verification,
            status,
        })
    }
}

/// A Lambda error's `Cause` is the function's error as JSON; keep its message.
fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

/// What a store did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteOutcome {
    /// The record was created or moved forward.
    Written,
    /// The same terminal status was already recorded: a retried write.
    Unchanged,
    /// The record is already further along: a late write, ignored.
    Stale,
}

/// The part of a stored record the write rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub status: RecordStatus,
    pub checks: u32,
}

impl From<&JobRecord> for StoredState {
    fn from(record: &JobRecord) -> Self {
        Self {
            status: record.status.clone(),
            checks: record.checks,
        }
    }
}

/// Whether `new` may replace `existing`: the rule of every store.
pub fn decide(existing: Option<&StoredState>, new: &JobRecord, id: &str) -> Result<WriteOutcome, HlxError> {
    let Some(existing) = existing else {
        return Ok(WriteOutcome::Written);
    };
    let (old, new_status) = (existing.status.rank(), new.status.rank());
    if new_status > old {
        return Ok(WriteOutcome::Written);
    }
    if new_status < old {
        return Ok(WriteOutcome::Stale);
    }
    if !new.status.is_terminal() {
        return Ok(if new.checks >= existing.checks {
            WriteOutcome::Written
        } else {
            WriteOutcome::Stale
        });
    }
    if existing.status == new.status {
        Ok(WriteOutcome::Unchanged)
    } else {
        Err(HlxError::RecordConflict {
            id: id.to_owned(),
            existing: existing.status.to_string(),
            attempted: new.status.to_string(),
        })
    }
}
