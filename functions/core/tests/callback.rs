//! Event-driven completion against in-process fakes of HealthLake and Step
//! Functions and the in-memory wait store: what await-job stores and when
//! it wakes the execution itself, and what job-events does with each kind of
//! event (the DynamoDB store and the SDK adapters are tested against moto and
//! aws-smithy-mocks, and the whole path end to end in tests/e2e).

use std::collections::VecDeque;
use std::sync::Mutex;

use hlx_core::callback::AwaitOutcome;
use hlx_core::healthlake::{HealthLakeJobs, JobDescription, StartExportJob, StartImportJob, StartedJob};
use hlx_core::progress::{JobProgress, Outcome};
use hlx_core::{
    AwaitJobInput, EventOutcome, HlxError, InMemoryJobStore, JobKind, JobStatus, TaskTokens, TokenAnswer,
    WaitStore, WakeBy, await_job, handle_job_event,
};
use jiff::Timestamp;
use serde_json::{Value, json};

#[derive(Default)]
struct FakeHealthLake {
    statuses: Mutex<VecDeque<Result<JobStatus, HlxError>>>,
    describes: Mutex<u32>,
    imports_described: Mutex<u32>,
}

impl FakeHealthLake {
    fn answering(answers: Vec<Result<JobStatus, HlxError>>) -> Self {
        Self {
            statuses: Mutex::new(answers.into()),
            describes: Mutex::new(0),
            imports_described: Mutex::new(0),
        }
    }
}

impl HealthLakeJobs for FakeHealthLake {
    async fn start_export(&self, _job: &StartExportJob) -> Result<StartedJob, HlxError> {
        unreachable!("the callback never starts a job")
    }

    async fn describe_export(&self, _datastore_id: &str, job_id: &str) -> Result<JobDescription, HlxError> {
        *self.describes.lock().unwrap() += 1;
        let status = self.statuses.lock().unwrap().pop_front().expect("an answer")?;
        Ok(JobDescription {
            job_id: job_id.into(),
            status,
            submit_time: t0(),
            end_time: None,
            message: None,
            import_counts: None,
            manifest: None,
        })
    }

    async fn start_import(&self, _job: &StartImportJob) -> Result<StartedJob, HlxError> {
        unreachable!("the callback never starts a job")
    }

    async fn describe_import(&self, datastore_id: &str, job_id: &str) -> Result<JobDescription, HlxError> {
        *self.imports_described.lock().unwrap() += 1;
        self.describe_export(datastore_id, job_id).await
    }
}

/// Step Functions' callback API: answers in order, and keeps what was sent.
#[derive(Default)]
struct FakeStepFunctions {
    answers: Mutex<VecDeque<Result<TokenAnswer, HlxError>>>,
    sent: Mutex<Vec<(String, Value)>>,
}

impl FakeStepFunctions {
    fn answering(answers: Vec<Result<TokenAnswer, HlxError>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            sent: Mutex::default(),
        }
    }

    fn sent(&self) -> Vec<(String, Value)> {
        self.sent.lock().unwrap().clone()
    }
}

impl TaskTokens for FakeStepFunctions {
    async fn send_task_success(&self, token: &str, output: &Value) -> Result<TokenAnswer, HlxError> {
        self.sent.lock().unwrap().push((token.into(), output.clone()));
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Ok(TokenAnswer::Delivered))
    }
}

fn t0() -> Timestamp {
    "2026-01-01T02:00:00Z".parse().unwrap()
}

fn progress(status: JobStatus, checks: u32) -> JobProgress {
    JobProgress {
        kind: JobKind::Export,
        job_id: "job-1".into(),
        datastore_id: "ds1".into(),
        job_name: "nightly".into(),
        client_token: "hlx-x".into(),
        job_status: status,
        outcome: Outcome::Waiting,
        changed: false,
        submit_time: t0(),
        running_since: None,
        end_time: None,
        queued_seconds: 0,
        running_seconds: None,
        checks,
        status_checks: 1,
        start_attempts: 1,
        next_check_seconds: 3600,
        wake_by: WakeBy::Events,
        expected_run_seconds: None,
        overdue_checks: 0,
        message: None,
        timed_out_reason: None,
        import_counts: None,
        api: Default::default(),
        since: None,
        manifest: None,
        cancel: None,
        output: None,
    }
}

fn await_input(token: &str, status: JobStatus, checks: u32) -> AwaitJobInput {
    AwaitJobInput {
        id: "nightly-ds1-2026-01-01".into(),
        task_token: token.into(),
        now: t0(),
        progress: progress(status, checks),
    }
}

fn event(id: &str, detail_type: &str, job_id: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "aws.healthlake",
        "account": "123456789012", "time": "2026-01-01T05:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/ds1"],
        "detail": {"jobId": job_id, "submitTime": "2026-01-01T02:00:00.000Z", "datastoreId": "ds1",
                   "outputDataConfig": {"s3Uri": "s3://bucket/exports/"}}
    })
}

#[tokio::test]
async fn without_events_the_wait_stores_nothing_and_looks_at_nothing() {
    let (store, healthlake, sfn) = (
        InMemoryJobStore::new(),
        FakeHealthLake::default(),
        FakeStepFunctions::default(),
    );
    let mut input = await_input("t1", JobStatus::Submitted, 0);
    input.progress.wake_by = WakeBy::Poll;
    let awaited = await_job(&store, &healthlake, &sfn, &input).await.unwrap();
    assert_eq!(awaited.outcome, AwaitOutcome::Polling);
    assert_eq!(
        store.get_wait(JobKind::Export, "ds1", "job-1").await.unwrap(),
        None
    );
    assert_eq!(*healthlake.describes.lock().unwrap(), 0);
}

#[tokio::test]
async fn the_token_is_stored_with_what_the_execution_saw_and_a_ttl() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    let healthlake = FakeHealthLake::answering(vec![Ok(JobStatus::Submitted)]);
    let awaited = await_job(
        &store,
        &healthlake,
        &sfn,
        &await_input("t1", JobStatus::Submitted, 0),
    )
    .await
    .unwrap();
    assert_eq!(awaited.outcome, AwaitOutcome::Stored);
    let item = store
        .get_wait(JobKind::Export, "ds1", "job-1")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(item.task_token, "t1");
    assert_eq!(item.job_status, JobStatus::Submitted);
    assert_eq!(item.id, "nightly-ds1-2026-01-01");
    assert_eq!(
        item.expires_at,
        "2026-01-02T03:00:00Z".parse::<Timestamp>().unwrap(),
        "wait + a day"
    );
    assert!(sfn.sent().is_empty(), "nothing new: no wake");
}

#[tokio::test]
async fn a_job_that_ended_before_the_token_was_stored_is_woken_at_once() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    let healthlake = FakeHealthLake::answering(vec![Ok(JobStatus::Completed)]);
    let awaited = await_job(
        &store,
        &healthlake,
        &sfn,
        &await_input("t1", JobStatus::InProgress, 2),
    )
    .await
    .unwrap();
    assert_eq!(awaited.outcome, AwaitOutcome::Woken);
    let sent = sfn.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "t1");
    assert_eq!(sent[0].1["wokenBy"], "await-job");
    assert_eq!(sent[0].1["jobStatus"], "COMPLETED");
    // The late event finds the wake recorded: nothing is sent twice.
    let late = handle_job_event(&store, &sfn, &event("e1", "Export Job Completed", "job-1"))
        .await
        .unwrap();
    assert_eq!(late.outcome, EventOutcome::AlreadySeen);
    assert_eq!(sfn.sent().len(), 1);
}

#[tokio::test]
async fn a_stale_wait_never_replaces_a_later_one() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    let healthlake = FakeHealthLake::answering(vec![Ok(JobStatus::InProgress)]);
    await_job(
        &store,
        &healthlake,
        &sfn,
        &await_input("t-later", JobStatus::InProgress, 3),
    )
    .await
    .unwrap();
    let stale = await_job(
        &store,
        &healthlake,
        &sfn,
        &await_input("t-earlier", JobStatus::Submitted, 1),
    )
    .await
    .unwrap();
    assert_eq!(stale.outcome, AwaitOutcome::Stale);
    assert_eq!(
        store
            .get_wait(JobKind::Export, "ds1", "job-1")
            .await
            .unwrap()
            .unwrap()
            .task_token,
        "t-later"
    );
    assert_eq!(
        *healthlake.describes.lock().unwrap(),
        1,
        "a stale wait does not look"
    );
    let mut other = await_input("t-other", JobStatus::Submitted, 9);
    other.id = "another-export".into();
    let outcome = await_job(&store, &healthlake, &sfn, &other)
        .await
        .unwrap()
        .outcome;
    assert_eq!(
        outcome,
        AwaitOutcome::Stale,
        "another export's wait for the same job id"
    );
}

#[tokio::test]
async fn a_describe_that_fails_leaves_the_wait_to_the_event() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    let healthlake = FakeHealthLake::answering(vec![Err(HlxError::HealthLake {
        code: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
    })]);
    let awaited = await_job(
        &store,
        &healthlake,
        &sfn,
        &await_input("t1", JobStatus::Submitted, 0),
    )
    .await
    .unwrap();
    assert_eq!(awaited.outcome, AwaitOutcome::Stored);
    let woken = handle_job_event(&store, &sfn, &event("e1", "Export Job Completed", "job-1"))
        .await
        .unwrap();
    assert_eq!(woken.outcome, EventOutcome::Woken);
}

async fn waiting(store: &InMemoryJobStore, token: &str, status: JobStatus, checks: u32) {
    let healthlake = FakeHealthLake::answering(vec![Ok(status.clone())]);
    let outcome = await_job(
        store,
        &healthlake,
        &FakeStepFunctions::default(),
        &await_input(token, status, checks),
    )
    .await
    .unwrap()
    .outcome;
    assert_eq!(outcome, AwaitOutcome::Stored);
}

#[tokio::test]
async fn an_event_wakes_once_and_duplicates_and_late_events_are_no_ops() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    waiting(&store, "t1", JobStatus::InProgress, 1).await;
    let completed = event("e-done", "Export Job Completed", "job-1");
    let woken = handle_job_event(&store, &sfn, &completed).await.unwrap();
    assert_eq!(woken.outcome, EventOutcome::Woken);
    assert_eq!(woken.id.as_deref(), Some("nightly-ds1-2026-01-01"));
    let sent = sfn.sent();
    assert_eq!(sent[0].0, "t1");
    assert_eq!(
        sent[0].1,
        json!({"wokenBy": "event", "jobStatus": "COMPLETED", "eventId": "e-done",
               "detailType": "Export Job Completed", "at": "2026-01-01T05:00:00.000Z"})
    );
    let duplicate = handle_job_event(&store, &sfn, &completed).await.unwrap();
    assert_eq!(duplicate.outcome, EventOutcome::AlreadySeen);
    let late = handle_job_event(&store, &sfn, &event("e-run", "Export Job In Progress", "job-1"))
        .await
        .unwrap();
    assert_eq!(late.outcome, EventOutcome::AlreadySeen);
    let submitted = handle_job_event(&store, &sfn, &event("e-sub", "Export Job Submitted", "job-1"))
        .await
        .unwrap();
    assert_eq!(submitted.outcome, EventOutcome::AlreadySeen);
    assert_eq!(sfn.sent().len(), 1, "one wake for four events");
}

#[tokio::test]
async fn progress_events_wake_too_so_the_execution_records_them() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    waiting(&store, "t1", JobStatus::Submitted, 0).await;
    let queued = handle_job_event(&store, &sfn, &event("e-q", "Export Job Queued", "job-1"))
        .await
        .unwrap();
    assert_eq!(queued.outcome, EventOutcome::Woken);
    assert_eq!(sfn.sent()[0].1["jobStatus"], "QUEUED");
}

#[tokio::test]
async fn an_event_for_a_job_hlx_did_not_start_is_a_no_op() {
    let (store, sfn) = (InMemoryJobStore::new(), FakeStepFunctions::default());
    waiting(&store, "t1", JobStatus::InProgress, 1).await;
    let stranger = handle_job_event(&store, &sfn, &event("e1", "Export Job Completed", "job-not-ours"))
        .await
        .unwrap();
    assert_eq!(stranger.outcome, EventOutcome::NotAwaited);
    assert!(sfn.sent().is_empty());
    // An import's event never wakes an export waiting for a job of the same id.
    let import = handle_job_event(&store, &sfn, &event("e2", "Import Job Completed", "job-1"))
        .await
        .unwrap();
    assert_eq!(import.outcome, EventOutcome::NotAwaited);
    let unknown = handle_job_event(&store, &sfn, &event("e3", "Export Job Paused", "job-1"))
        .await
        .unwrap();
    assert_eq!(unknown.outcome, EventOutcome::Ignored);
    assert!(sfn.sent().is_empty());
}

#[tokio::test]
async fn a_token_whose_task_moved_on_is_a_no_op_and_other_errors_fail_the_invocation() {
    let store = InMemoryJobStore::new();
    waiting(&store, "t1", JobStatus::InProgress, 1).await;
    let sfn = FakeStepFunctions::answering(vec![
        Ok(TokenAnswer::Gone {
            code: "TaskTimedOut".into(),
        }),
        Err(HlxError::StepFunctions {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        }),
    ]);
    let gone = handle_job_event(&store, &sfn, &event("e1", "Export Job Completed", "job-1"))
        .await
        .unwrap();
    assert_eq!(gone.outcome, EventOutcome::TokenGone);
    assert_eq!(gone.reason.as_deref(), Some("TaskTimedOut"));
    let err = handle_job_event(&store, &sfn, &event("e2", "Export Job Failed", "job-1"))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "StepFunctions.ThrottlingException");
    let err = handle_job_event(
        &store,
        &sfn,
        &json!({"source": "aws.healthlake", "id": "x", "detail-type": "Export Job Completed"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidEvent");
}

#[tokio::test]
async fn an_import_waits_and_wakes_by_its_own_describe_and_events() {
    let store = InMemoryJobStore::new();
    let jobs = FakeHealthLake::answering(vec![Ok(JobStatus::InProgress)]);
    let sfn = FakeStepFunctions::default();
    let mut input = await_input("t-import", JobStatus::InProgress, 1);
    input.progress.kind = JobKind::Import;
    let awaited = await_job(&store, &jobs, &sfn, &input).await.unwrap();
    assert_eq!(awaited.outcome, AwaitOutcome::Stored);
    assert_eq!(
        *jobs.imports_described.lock().unwrap(),
        1,
        "an import is described as an import"
    );
    assert_eq!(
        store.get_wait(JobKind::Export, "ds1", "job-1").await.unwrap(),
        None
    );
    let stored = store
        .get_wait(JobKind::Import, "ds1", "job-1")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.kind, JobKind::Import);
    // An export's event for the same id is not this import's.
    let export = handle_job_event(&store, &sfn, &event("e1", "Export Job Completed", "job-1"))
        .await
        .unwrap();
    assert_eq!(export.outcome, EventOutcome::NotAwaited);
    let import = handle_job_event(
        &store,
        &sfn,
        &event("e2", "Import Job Completed With Errors", "job-1"),
    )
    .await
    .unwrap();
    assert_eq!(import.outcome, EventOutcome::Woken);
    assert_eq!(sfn.sent()[0].0, "t-import");
    assert_eq!(sfn.sent()[0].1["jobStatus"], "COMPLETED_WITH_ERRORS");
}
