//! Event-driven completion: the two halves of a callback wait.
//!
//! The state machine waits for a job in a `.waitForTaskToken` task whose
//! timeout is the fallback. [`await_job`] (the task's function) stores the
//! task token against the job, then describes the job once: if the job has
//! already moved past what the execution last saw, HealthLake's event may
//! have come before the token was stored, so it wakes the execution itself.
//! [`handle_job_event`] (`job-events`, the target of the EventBridge rule)
//! looks the token up when an event arrives and wakes the execution when the
//! event says something new. The event is a reason to look, not the record:
//! once woken, the execution describes the job and records what HealthLake
//! says, progress and end alike.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::HlxError;
use crate::event::{ParsedEvent, parse_event};
use crate::healthlake::HealthLakeJobs;
use crate::job::describe_job;
use crate::poll::WakeBy;
use crate::progress::JobProgress;
use crate::status::JobStatus;
use crate::tasks::{TaskTokens, TokenAnswer};
use crate::time;
use crate::wait::{StoredWait, WAIT_ITEM_GRACE, WaitItem, WaitStore};

/// await-job's input, built by the state machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitJobInput {
    pub id: String,
    /// `$$.Task.Token`.
    pub task_token: String,
    #[serde(with = "time")]
    pub now: Timestamp,
    pub progress: JobProgress,
}

/// What await-job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AwaitOutcome {
    /// Events are off: the wait runs to its timeout.
    Polling,
    /// The token is stored; HealthLake's event (or the timeout) ends the wait.
    Stored,
    /// A later wait of this job is stored already: this invocation is stale.
    Stale,
    /// The job had already moved on: the execution was woken at once.
    Woken,
}

/// await-job's answer (Step Functions ignores it; it is logged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Awaited {
    pub id: String,
    pub job_id: String,
    pub outcome: AwaitOutcome,
    /// What the describe saw, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
}

/// The output a woken callback task gets (`$.wake`).
pub fn wake_output(
    by: &str,
    status: &JobStatus,
    event: Option<(&str, &str)>,
    at: Option<Timestamp>,
) -> Value {
    let mut output = json!({"wokenBy": by, "jobStatus": status.as_str()});
    if let Some((id, detail_type)) = event {
        output["eventId"] = json!(id);
        output["detailType"] = json!(detail_type);
    }
    if let Some(at) = at {
        output["at"] = json!(time::format(at));
    }
    output
}

/// Stores the wait, then looks once, so that an event that came before the
/// token was stored is never lost. Only storing can fail the invocation (the
/// state machine retries it, then falls back to polling); a describe or a
/// wake that fails leaves the wait to the event or the timeout.
pub async fn await_job(
    waits: &impl WaitStore,
    jobs: &impl HealthLakeJobs,
    tokens: &impl TaskTokens,
    input: &AwaitJobInput,
) -> Result<Awaited, HlxError> {
    let progress = &input.progress;
    let answer = |outcome, job_status| Awaited {
        id: input.id.clone(),
        job_id: progress.job_id.clone(),
        outcome,
        job_status,
    };
    if progress.wake_by == WakeBy::Poll {
        return Ok(answer(AwaitOutcome::Polling, None));
    }
    let wait_seconds = i64::try_from(progress.next_check_seconds).unwrap_or(i64::MAX / 2);
    let item = WaitItem {
        kind: progress.kind,
        datastore_id: progress.datastore_id.clone(),
        job_id: progress.job_id.clone(),
        id: input.id.clone(),
        task_token: input.task_token.clone(),
        job_status: progress.job_status.clone(),
        checks: progress.checks,
        stored_at: input.now,
        expires_at: input
            .now
            .saturating_add(jiff::SignedDuration::from_secs(wait_seconds))
            .and_then(|t| t.checked_add(WAIT_ITEM_GRACE))
            .unwrap_or(Timestamp::MAX),
        woken_by: None,
    };
    if waits.put_wait(&item).await? == StoredWait::Stale {
        tracing::info!(id = %input.id, job_id = %item.job_id, "a later wait is stored; nothing to do");
        return Ok(answer(AwaitOutcome::Stale, None));
    }
    let described = match describe_job(jobs, item.kind, &item.datastore_id, &item.job_id).await {
        Ok(described) => described,
        Err(err) => {
            tracing::warn!(error_type = %err.error_name(), error = %err, "describe failed; the event or the fallback will wake the wait");
            return Ok(answer(AwaitOutcome::Stored, None));
        }
    };
    let status = described.status;
    // A terminal status always needs the execution's check, even one the
    // execution has heard of (a start that answered with it).
    if !status.is_terminal() && status.rank() <= progress.job_status.rank() {
        return Ok(answer(AwaitOutcome::Stored, Some(status)));
    }
    let output = wake_output("await-job", &status, None, Some(input.now));
    match tokens.send_task_success(&item.task_token, &output).await {
        Ok(TokenAnswer::Delivered) => {
            if let Err(err) = waits.mark_woken(&item, &status, "await-job").await {
                tracing::warn!(error = %err, "the wake could not be marked; a duplicate event will find the token gone");
            }
            Ok(answer(AwaitOutcome::Woken, Some(status)))
        }
        Ok(TokenAnswer::Gone { code }) => {
            tracing::info!(%code, "the task was gone before it could be woken");
            Ok(answer(AwaitOutcome::Stale, Some(status)))
        }
        Err(err) => {
            tracing::warn!(error_type = %err.error_name(), error = %err, "the wake failed; the fallback will end the wait");
            Ok(answer(AwaitOutcome::Stored, Some(status)))
        }
    }
}

/// What job-events did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventOutcome {
    /// The waiting execution was woken.
    Woken,
    /// No execution waits for this job: a job hlx did not start, or one whose
    /// execution is not waiting yet (its own look after storing covers that).
    NotAwaited,
    /// The event says nothing the execution has not seen: a duplicate, or an
    /// event out of order (an `In Progress` after `Completed`).
    AlreadySeen,
    /// The token's task is gone (`TaskTimedOut`, `InvalidToken`): the
    /// execution moved on, the fallback already woke it.
    TokenGone,
    /// Not a job event hlx acts on (an unknown detail-type).
    Ignored,
}

/// job-events' answer, logged and returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventHandled {
    pub event_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outcome: EventOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Wakes the execution waiting for the event's job, when the event says the
/// job moved past what the execution last saw. Every no-op is an answer, not
/// an error; an error (DynamoDB or Step Functions failing) fails the
/// invocation so that EventBridge retries it.
pub async fn handle_job_event(
    waits: &impl WaitStore,
    tokens: &impl TaskTokens,
    event: &Value,
) -> Result<EventHandled, HlxError> {
    let job = match parse_event(event)? {
        ParsedEvent::Job(job) => job,
        ParsedEvent::Ignored { id, reason } => {
            return Ok(EventHandled {
                event_id: id,
                job_id: None,
                job_status: None,
                id: None,
                outcome: EventOutcome::Ignored,
                reason: Some(reason),
            });
        }
    };
    let mut handled = EventHandled {
        event_id: job.id.clone(),
        job_id: Some(job.job_id.clone()),
        job_status: Some(job.status.clone()),
        id: None,
        outcome: EventOutcome::Ignored,
        reason: None,
    };
    let Some(wait) = waits.get_wait(job.kind, &job.datastore_id, &job.job_id).await? else {
        handled.outcome = EventOutcome::NotAwaited;
        return Ok(handled);
    };
    handled.id = Some(wait.id.clone());
    if job.status.rank() <= wait.job_status.rank() {
        handled.outcome = EventOutcome::AlreadySeen;
        handled.reason = Some(format!("the execution has seen {} already", wait.job_status));
        return Ok(handled);
    }
    let output = wake_output("event", &job.status, Some((&job.id, &job.detail_type)), job.time);
    match tokens.send_task_success(&wait.task_token, &output).await? {
        TokenAnswer::Delivered => {
            handled.outcome = EventOutcome::Woken;
            if let Err(err) = waits.mark_woken(&wait, &job.status, &job.id).await {
                // The execution is awake; a duplicate will find its token gone.
                tracing::warn!(error = %err, "the wake could not be marked");
            }
        }
        TokenAnswer::Gone { code } => {
            handled.outcome = EventOutcome::TokenGone;
            handled.reason = Some(code);
        }
    }
    Ok(handled)
}
