//! The two steps that talk to HealthLake: start a job, check on it.
//!
//! An export and an import take the same two steps (start-job and
//! check-job, chosen by the request's `kind`: one state machine runs
//! both). Both return a [`JobProgress`], the one value the state machine carries
//! through its wait loop (`$.progress`): what HealthLake last said, how long
//! the job has waited and run, whether it has ended, and when to look again.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::error::HlxError;
use crate::healthlake::{
    HealthLakeJobs, JobDescription, RestExportJob, StartExportJob, StartImportJob, StartedJob,
};
use crate::history::JobHistory;
use crate::kind::JobKind;
use crate::manifest::{ExportManifest, ManifestSummary};
use crate::manifest_store::ManifestStore;
use crate::poll::PollSchedule;
use crate::progress::{CancelRequested, ExportApi, JobProgress, Outcome, OutputTarget};
use crate::request::{ExportRequest, JobRequest, client_token_for};
use crate::selection::ExportMode;
use crate::status::{JobStatus, Phase};
use crate::time;

/// start-job's input: the execution input untouched, and who is asking.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartJobInput {
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

/// check-job's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckJobInput {
    pub progress: JobProgress,
    #[serde(with = "time")]
    pub now: Timestamp,
}

/// Validates the request and starts the export or import, idempotently: the
/// client token comes from the execution name, so a retried start (after a
/// timeout, a throttle, a crashed function) gets the job HealthLake already
/// has. Then it reads how long the data store's recent jobs of this kind ran,
/// so that the wait can land just after the expected end; history that
/// cannot be read leaves the configured schedule in force, it never fails
/// the start.
pub async fn start_job(
    jobs: &impl HealthLakeJobs,
    history: &impl JobHistory,
    schedule: &PollSchedule,
    input: &StartJobInput,
) -> Result<JobProgress, HlxError> {
    let request = JobRequest::from_value_at(&input.request, input.now)?;
    let kind = request.kind();
    let datastore_id = request.datastore_id().to_owned();
    let job_name = request.job_name_for(&input.execution_name);
    let client_token = client_token_for(&input.execution_name);
    Box::pin(admit(history, schedule, &request, input)).await?;
    let mut api = ExportApi::Sdk;
    let mut since = None;
    let mut job_name = job_name;
    let started = match &request {
        JobRequest::Export(export) if export.selection.uses_rest() => {
            job_name = export.unique_job_name_for(&input.execution_name);
            since = Box::pin(since_for(history, export)).await?;
            api = ExportApi::Rest;
            let job = RestExportJob {
                datastore_id: datastore_id.clone(),
                scope: export.selection.scope.clone(),
                job_name: job_name.clone(),
                s3_uri: export.s3_uri.clone(),
                kms_key_id: export.kms_key_id.clone(),
                data_access_role_arn: export.data_access_role_arn.clone(),
                types: export.selection.types.clone(),
                since,
                until: export.selection.until,
            };
            Box::pin(kick_off_once(jobs, &job, input.retry_count)).await?
        }
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
        output: match &request {
            JobRequest::Export(export) => Some(OutputTarget {
                location: export.output_location(&started.job_id),
                kms_key_id: export.kms_key_id.clone(),
            }),
            JobRequest::Import(_) => None,
        },
        job_id: started.job_id,
        api,
        since,
        manifest: None,
        cancel: None,
    })
}

/// Takes the execution's slot of its data store ([`crate::admission`]), or
/// refuses the start; idempotent, so a retried start keeps its slot. Slots
/// that cannot be read leave the start to HealthLake's own queue: like the
/// history, an unreadable table never fails a start.
async fn admit(
    history: &impl JobHistory,
    schedule: &PollSchedule,
    request: &JobRequest,
    input: &StartJobInput,
) -> Result<(), HlxError> {
    let admitted = history
        .admit(
            request,
            &input.execution_name,
            schedule.max_jobs_in_flight,
            input.now,
        )
        .await;
    match admitted {
        Err(refused @ HlxError::TooManyJobs(_)) => Err(refused),
        Err(err) => {
            tracing::warn!(error = %err, "the data store's slots could not be taken; starting without");
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// The `_since` of an export: the one requested, else (incremental) the
/// `transactionTime` of the last completed export of the same data store
/// and selection; none for a full export, or for the first incremental one
/// (which exports everything and so starts the chain).
async fn since_for(history: &impl JobHistory, export: &ExportRequest) -> Result<Option<Timestamp>, HlxError> {
    let selection = &export.selection;
    if selection.mode == ExportMode::Full {
        return Ok(None);
    }
    if let Some(since) = selection.since {
        return Ok(Some(since));
    }
    // Unlike the run-time estimate, a wrong `_since` would lose or repeat
    // data: history that cannot be read fails the start (and is retried).
    history
        .last_transaction_time(&export.datastore_id, &selection.chain())
        .await
}

/// A kick-off that starts at most one job per execution. It has no
/// ClientToken, so before sending again after an attempt whose answer may
/// have been lost (a retry, or a call that got no answer), it looks for
/// the job by its execution-unique name.
async fn kick_off_once(
    jobs: &impl HealthLakeJobs,
    job: &RestExportJob,
    retry_count: u32,
) -> Result<StartedJob, HlxError> {
    if retry_count > 0
        && let Some(found) = jobs.find_export_by_name(&job.datastore_id, &job.job_name).await?
    {
        tracing::info!(job_id = %found.job_id, "an earlier kick-off of this execution started the job");
        return Ok(found);
    }
    match jobs.start_rest_export(job).await {
        Ok(started) => Ok(started),
        Err(err @ HlxError::HealthLakeUnavailable(_)) => {
            match jobs.find_export_by_name(&job.datastore_id, &job.job_name).await {
                Ok(Some(found)) => {
                    tracing::info!(job_id = %found.job_id, "the kick-off's answer was lost; its job was found by name");
                    Ok(found)
                }
                _ => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}

/// Describes a job of either kind through the SDK.
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

/// Describes the job through the API that started it.
async fn describe_progress(
    jobs: &impl HealthLakeJobs,
    progress: &JobProgress,
) -> Result<JobDescription, HlxError> {
    match progress.api {
        ExportApi::Rest => {
            jobs.describe_rest_export(&progress.datastore_id, &progress.job_id)
                .await
        }
        ExportApi::Sdk => describe_job(jobs, progress.kind, &progress.datastore_id, &progress.job_id).await,
    }
}

/// Describes the job once and decides: ended, timed out, or when to look again.
pub async fn check_job(
    jobs: &impl HealthLakeJobs,
    manifests: &impl ManifestStore,
    schedule: &PollSchedule,
    input: &CheckJobInput,
) -> Result<JobProgress, HlxError> {
    let previous = &input.progress;
    let now = input.now;
    let mut described = describe_progress(jobs, previous).await?;
    let given = described.manifest.take();
    let mut progress = next_progress(schedule, previous, described, now);
    if progress.outcome == Outcome::TimedOut && progress.kind == JobKind::Export {
        progress.cancel = Some(cancel_timed_out(jobs, &progress).await);
    }
    if progress.outcome == Outcome::Succeeded {
        progress.manifest = match progress.output.clone() {
            Some(target) => Some(Box::pin(write_manifest(manifests, &progress, given, &target)).await),
            // No output folder known (an import): HealthLake's manifest, if any, is only summarized.
            None => given.map(|m| m.summary()).or(progress.manifest.take()),
        };
    }
    Ok(progress)
}

/// Writes the completed export's `manifest.json` next to its files and
/// summarizes it. A REST export's manifest is HealthLake's; a full SDK
/// export's is built by listing its folder (no counts: HealthLake gives
/// none, and reading every file is not the orchestrator's job), with the
/// job's submit time as `transactionTime` (what the next incremental
/// export may start from without missing a change). A manifest that cannot
/// be written (or listed) is noted in the summary, never a failed export:
/// the files are complete.
async fn write_manifest(
    manifests: &impl ManifestStore,
    progress: &JobProgress,
    given: Option<ExportManifest>,
    target: &OutputTarget,
) -> ManifestSummary {
    let manifest = match given {
        Some(manifest) => Ok(manifest),
        None => manifests
            .list_export(&target.location)
            .await
            .map(|(output, error)| ExportManifest {
                transaction_time: progress.submit_time,
                request: format!("StartFHIRExportJob {}", progress.job_id),
                requires_access_token: false,
                output,
                error,
            }),
    };
    let manifest = match manifest {
        Ok(manifest) => manifest,
        Err(err) => {
            tracing::warn!(error_type = %err.error_name(), error = %err, "the export folder could not be listed");
            return ManifestSummary {
                transaction_time: progress.submit_time,
                files: 0,
                error_files: 0,
                resources: Default::default(),
                counts_incomplete: true,
                uri: None,
                write_error: Some(err.to_string()),
            };
        }
    };
    let mut summary = manifest.summary();
    match manifests
        .put_manifest(&target.location, &manifest, &target.kms_key_id)
        .await
    {
        Ok(uri) => summary.uri = Some(uri),
        Err(err) => {
            tracing::warn!(error_type = %err.error_name(), error = %err, "manifest.json could not be written");
            summary.write_error = Some(err.to_string());
        }
    }
    summary
}

/// Asks HealthLake to cancel an export hlx has given up on, so that nothing
/// keeps running (and billing) after hlx stopped waiting. A refusal (data
/// stores created before 2023-06-01 cannot cancel) is kept to be shown, not
/// swallowed; it never hides the timeout itself.
async fn cancel_timed_out(jobs: &impl HealthLakeJobs, progress: &JobProgress) -> CancelRequested {
    match jobs.cancel_export(&progress.datastore_id, &progress.job_id).await {
        Ok(status) => {
            tracing::info!(job_id = %progress.job_id, %status, "timed-out export cancelled in HealthLake");
            CancelRequested {
                status: Some(status.to_string()),
                refused: None,
            }
        }
        Err(err) => {
            tracing::warn!(job_id = %progress.job_id, error_type = %err.error_name(), error = %err, "HealthLake did not cancel the timed-out export");
            CancelRequested {
                status: None,
                refused: Some(err.to_string()),
            }
        }
    }
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
        api: previous.api,
        since: previous.since,
        // The manifest is check_job's: written, then summarized once.
        manifest: previous.manifest.clone(),
        cancel: previous.cancel.clone(),
        output: previous.output.clone(),
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
