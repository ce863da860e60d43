//! The two steps that talk to HealthLake: start a job, check on it.
//!
//! An export and an import take the same two steps (start-export and
//! check-export, chosen by the request's `kind`: one state machine runs
//! both). Both return a [`JobProgress`], the one value the state machine carries
//! through its wait loop (`$.progress`): what HealthLake last said, how long
//! the job has waited and run, whether it has ended, and when to look again.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HlxError;
use crate::healthlake::{HealthLakeJobs, JobDescription, StartExportJob, StartImportJob};
use crate::history::JobHistory;
use crate::import::ImportCounts;
use crate::kind::JobKind;
use crate::poll::{PollSchedule, WakeBy};
use crate::request::{JobRequest, client_token_for};
use crate::status::{JobStatus, Phase};
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
    /// Whether HealthLake's events end the wait (await-export stores the
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
}

/// start-export's input: the execution input untouched, and who is asking.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartExportInput {
    /// The raw execution input; validated here, so that bad input is recorded, not lost.
    pub request: Value,
    pub execution_name: String,
    /// `$$.State.EnteredTime`: hlx's functions take time from the state machine.
    #[serde(with = "time")]
    pub now: Timestamp,
    /// `$$.State.RetryCount`.
    #[serde(default)]
    pub retry_count: u32,
}

/// check-export's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckExportInput {
    pub progress: JobProgress,
    #[serde(with = "time")]
    pub now: Timestamp,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Validates the request and starts the export or import, idempotently: the
/// client token comes from the execution name, so a retried start (after a
/// timeout, a throttle, a crashed function) gets the job HealthLake already
/// has. Then it reads how long the data store's recent jobs of this kind ran,
/// so that the wait can land just after the expected end; history that
/// cannot be read leaves the configured schedule in force, it never fails
/// the start.
pub async fn start_export(
    jobs: &impl HealthLakeJobs,
    history: &impl JobHistory,
    schedule: &PollSchedule,
    input: &StartExportInput,
) -> Result<JobProgress, HlxError> {
    let request = JobRequest::from_value(&input.request)?;
    let kind = request.kind();
    let datastore_id = request.datastore_id().to_owned();
    let job_name = request.job_name_for(&input.execution_name);
    let client_token = client_token_for(&input.execution_name);
    let started = match &request {
        JobRequest::Export(export) => {
            jobs.start_export(&StartExportJob {
                datastore_id: datastore_id.clone(),
                job_name: job_name.clone(),
                s3_uri: export.s3_uri.clone(),
                kms_key_id: export.kms_key_id.clone(),
                data_access_role_arn: export.data_access_role_arn.clone(),
                client_token: client_token.clone(),
            })
            .await?
        }
        JobRequest::Import(import) => {
            jobs.start_import(&StartImportJob {
                datastore_id: datastore_id.clone(),
                job_name: job_name.clone(),
                input_s3_uri: import.input_s3_uri.clone(),
                output_s3_uri: import.output_s3_uri.clone(),
                kms_key_id: import.kms_key_id.clone(),
                data_access_role_arn: import.data_access_role_arn.clone(),
                client_token: client_token.clone(),
            })
            .await?
        }
    };
    tracing::info!(
        %kind,
        job_id = %started.job_id,
        datastore_id = %datastore_id,
        status = %started.status,
        "job started"
    );
    let expected_run_seconds = match history.expected_run_seconds(kind, &datastore_id).await {
        Ok(expected) => expected,
        Err(err) => {
            tracing::warn!(error_type = %err.error_name(), error = %err, "job history unreadable; default schedule");
            None
        }
    };
    let phase = started.status.phase();
    let running_since = matches!(phase, Phase::Running).then_some(input.now);
    let next_check_seconds = match (running_since, expected_run_seconds) {
        (Some(_), Some(expected)) => schedule.learned_interval(expected, 0, 0),
        _ => schedule.interval(phase, 1),
    };
    Ok(JobProgress {
        kind,
        job_id: started.job_id,
        datastore_id,
        job_name,
        client_token,
        outcome: outcome_of(&started.status),
        job_status: started.status,
        changed: true,
        submit_time: input.now,
        running_since,
        end_time: None,
        queued_seconds: 0,
        running_seconds: running_since.map(|_| 0),
        checks: 0,
        status_checks: 1,
        start_attempts: input.retry_count + 1,
        next_check_seconds,
        wake_by: schedule.wake_by,
        expected_run_seconds,
        overdue_checks: 0,
        message: None,
        timed_out_reason: None,
        import_counts: None,
    })
}

/// Describes a job of either kind.
pub async fn describe_job(
    jobs: &impl HealthLakeJobs,
    kind: JobKind,
    datastore_id: &str,
    job_id: &str,
) -> Result<JobDescription, HlxError> {
    match kind {
        JobKind::Export => jobs.describe_export(datastore_id, job_id).await,
        JobKind::Import => jobs.describe_import(datastore_id, job_id).await,
    }
}

/// Describes the job once and decides: ended, timed out, or when to look again.
pub async fn check_export(
    jobs: &impl HealthLakeJobs,
    schedule: &PollSchedule,
    input: &CheckExportInput,
) -> Result<JobProgress, HlxError> {
    let previous = &input.progress;
    let now = input.now;
    let described = describe_job(jobs, previous.kind, &previous.datastore_id, &previous.job_id).await?;
    Ok(next_progress(schedule, previous, described, now))
}

/// The domain decision of a check, separate from the call so it can be tested
/// on its own: status bookkeeping, queued and running time, deadlines, and
/// the next wait.
pub fn next_progress(
    schedule: &PollSchedule,
    previous: &JobProgress,
    described: JobDescription,
    now: Timestamp,
) -> JobProgress {
    let status = described.status;
    let phase = status.phase();
    let changed = status != previous.job_status;
    let status_checks = if changed { 1 } else { previous.status_checks + 1 };
    let submit_time = described.submit_time;
    let end_time = described.end_time;
    let left_queue = !matches!(phase, Phase::Submitted | Phase::Queued);
    let running_since = match previous.running_since {
        Some(since) => Some(since),
        None if left_queue => Some(end_time.map_or(now, |end| end.min(now))),
        None => None,
    };
    let queued_until = running_since.unwrap_or(now);
    let queued_seconds = time::seconds_between(submit_time, queued_until);
    let running_seconds = running_since.map(|since| time::seconds_between(since, end_time.unwrap_or(now)));

    let expected_run_seconds = previous.expected_run_seconds;
    let overdue_checks = match (expected_run_seconds, running_seconds) {
        (Some(expected), Some(ran)) if ran >= expected => previous.overdue_checks + 1,
        _ => 0,
    };
    let mut outcome = outcome_of(&status);
    let mut timed_out_reason = None;
    let mut next_check_seconds = match (expected_run_seconds, running_seconds) {
        (Some(expected), Some(ran)) if phase == Phase::Running => {
            schedule.learned_interval(expected, ran, overdue_checks.saturating_sub(1))
        }
        _ => schedule.interval(waiting_phase(previous.kind, phase, status_checks), status_checks),
    };
    if outcome == Outcome::Waiting {
        let (spent, limit, what) = match running_since {
            None => (
                queued_seconds,
                schedule.max_queue.as_secs(),
                "waited in HealthLake's queue",
            ),
            Some(_) => (running_seconds.unwrap_or(0), schedule.max_run.as_secs(), "run"),
        };
        if spent >= limit {
            outcome = Outcome::TimedOut;
            timed_out_reason = Some(format!(
                "the job has {what} for {}, past the limit of {} (status {status})",
                human_duration(spent),
                human_duration(limit)
            ));
        } else {
            // Never sleep past the deadline: a timeout is seen when it happens.
            next_check_seconds = next_check_seconds.min(limit - spent).max(1);
        }
    }
    JobProgress {
        kind: previous.kind,
        job_id: previous.job_id.clone(),
        datastore_id: previous.datastore_id.clone(),
        job_name: previous.job_name.clone(),
        client_token: previous.client_token.clone(),
        job_status: status,
        outcome,
        changed,
        submit_time,
        running_since,
        end_time,
        queued_seconds,
        running_seconds,
        checks: previous.checks + 1,
        status_checks,
        start_attempts: previous.start_attempts,
        next_check_seconds,
        wake_by: schedule.wake_by,
        expected_run_seconds,
        overdue_checks,
        message: described.message,
        timed_out_reason,
        import_counts: described.import_counts.or_else(|| previous.import_counts.clone()),
    }
}

/// The phase the next wait is chosen by. An import has no `QUEUED`: one
/// waiting behind another stays `SUBMITTED`, so a `SUBMITTED` seen twice is
/// waited for as a queued job is (backing off), not as a fresh submission.
fn waiting_phase(kind: JobKind, phase: Phase, status_checks: u32) -> Phase {
    match (kind, phase) {
        (JobKind::Import, Phase::Submitted) if status_checks > 1 => Phase::Queued,
        _ => phase,
    }
}

fn outcome_of(status: &JobStatus) -> Outcome {
    match status.phase() {
        Phase::Succeeded => Outcome::Succeeded,
        Phase::Failed => Outcome::Failed,
        Phase::Submitted | Phase::Queued | Phase::Running => Outcome::Waiting,
    }
}

/// `3h 05m`, `42s`.
pub fn human_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m"),
    }
}
