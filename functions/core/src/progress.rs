//! [`JobProgress`]: the one value the state machine carries through its wait
//! loop (`$.progress`): what HealthLake last said, how long the job has
//! waited and run, whether it has ended, and when to look again.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::import::ImportCounts;
use crate::kind::JobKind;
use crate::manifest::ManifestSummary;
use crate::poll::WakeBy;
use crate::status::JobStatus;
use crate::time;

/// Where the job stands for the state machine's `Choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Not ended: wait `nextCheckSeconds` and check again.
    Waiting,
    /// `COMPLETED` or `COMPLETED_WITH_ERRORS`.
    Succeeded,
    /// `FAILED`, `CANCEL_COMPLETED` or `CANCEL_FAILED`.
    Failed,
    /// hlx gave up: queued or running past its limit.
    TimedOut,
}

/// Which HealthLake API started the job, and so which one checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportApi {
    /// `StartFHIRExportJob` / `DescribeFHIRExportJob` (and imports).
    #[default]
    Sdk,
    /// The FHIR REST `$export` kick-off and status GET.
    Rest,
}

impl ExportApi {
    fn is_sdk(&self) -> bool {
        *self == Self::Sdk
    }
}

/// hlx's request that HealthLake cancel an export it gave up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequested {
    /// The status HealthLake answered (`CANCEL_SUBMITTED`), when it accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// HealthLake's refusal (or the failure of the call), shown as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Where an export's files go: its folder and the key they are encrypted
/// with, for the `manifest.json` hlx writes next to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputTarget {
    /// `{S3Uri}/{DatastoreId}-FHIR_EXPORT-{JobId}/`.
    pub location: String,
    pub kms_key_id: String,
}

/// The job as the state machine carries it between checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    /// Export or import: which Describe a check calls.
    #[serde(default)]
    pub kind: JobKind,
    pub job_id: String,
    pub datastore_id: String,
    pub job_name: String,
    pub client_token: String,
    pub job_status: JobStatus,
    pub outcome: Outcome,
    /// The status differs from the previous check's (or this is the start).
    pub changed: bool,
    #[serde(with = "time")]
    pub submit_time: Timestamp,
    /// First seen out of `SUBMITTED`/`QUEUED`: the running deadline counts from here.
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub running_since: Option<Timestamp>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    pub queued_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_seconds: Option<u64>,
    /// `DescribeFHIRExportJob` calls so far.
    pub checks: u32,
    /// Checks in a row that saw the current status.
    pub status_checks: u32,
    /// Attempts the start took (1 when the first call went through).
    pub start_attempts: u32,
    /// How long to wait before looking again: with events, the fallback.
    pub next_check_seconds: u64,
    /// Whether HealthLake's events end the wait (await-job stores the
    /// task token) or only time does.
    #[serde(default)]
    pub wake_by: WakeBy,
    /// How long the data store's recent exports ran (median of the last
    /// completed ones), when there is a history to learn from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_run_seconds: Option<u64>,
    /// Checks made after the expected end passed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub overdue_checks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out_reason: Option<String>,
    /// An import's counts, as its last describe reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_counts: Option<ImportCounts>,
    /// The API that started the job (and checks it).
    #[serde(default, skip_serializing_if = "ExportApi::is_sdk")]
    pub api: ExportApi,
    /// The `_since` sent: an incremental export's lower bound (none: everything).
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// A completed REST export's manifest, summarized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<ManifestSummary>,
    /// The cancel hlx asked for when it timed the export out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelRequested>,
    /// An export's folder and key: where its manifest is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputTarget>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
