//! start and check against an in-process fake of HealthLake: validation
//! before any call, idempotent tokens, status bookkeeping, deadlines.

use std::collections::VecDeque;
use std::sync::Mutex;

use hlx_core::healthlake::{HealthLakeJobs, JobDescription, StartExportJob, StartImportJob, StartedJob};
use hlx_core::history::expected_run_seconds_of;
use hlx_core::job::{human_duration, next_progress};
use hlx_core::progress::{JobProgress, Outcome};
use hlx_core::{
    CheckJobInput, HlxError, InMemoryJobStore, JobHistory, JobKind, JobRecord, JobStatus, JobStore,
    NoHistory, PollSchedule, RecordStatus, StartJobInput, WakeBy, check_job, start_job,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

#[derive(Default)]
struct FakeHealthLake {
    started: Mutex<Vec<StartExportJob>>,
    imports_started: Mutex<Vec<StartImportJob>>,
    descriptions: Mutex<VecDeque<Result<JobDescription, HlxError>>>,
    /// Which Describe each check called.
    described_kinds: Mutex<Vec<JobKind>>,
}

impl HealthLakeJobs for FakeHealthLake {
    async fn start_export(&self, job: &StartExportJob) -> Result<StartedJob, HlxError> {
        let mut started = self.started.lock().unwrap();
        started.push(job.clone());
        // Idempotency as HealthLake has it: the same token gives the same job.
        let first = started
            .iter()
            .position(|j| j.client_token == job.client_token)
            .unwrap();
        Ok(StartedJob {
            job_id: format!("job-{first}"),
            status: JobStatus::Submitted,
        })
    }

    async fn describe_export(&self, _: &str, _: &str) -> Result<JobDescription, HlxError> {
        self.described_kinds.lock().unwrap().push(JobKind::Export);
        self.descriptions
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted description")
    }

    async fn start_import(&self, job: &StartImportJob) -> Result<StartedJob, HlxError> {
        let mut started = self.imports_started.lock().unwrap();
        started.push(job.clone());
        let first = started
            .iter()
            .position(|j| j.client_token == job.client_token)
            .unwrap();
        Ok(StartedJob {
            job_id: format!("import-{first}"),
            status: JobStatus::Submitted,
        })
    }

    async fn describe_import(&self, _: &str, _: &str) -> Result<JobDescription, HlxError> {
        self.described_kinds.lock().unwrap().push(JobKind::Import);
        self.descriptions
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted description")
    }
}

fn t0() -> Timestamp {
    "2026-01-01T02:00:00Z".parse().unwrap()
}

fn input(request: serde_json::Value) -> StartJobInput {
    serde_json::from_value(json!({
        "request": request,
        "executionName": "nightly-ds1-2026-01-01",
        "now": "2026-01-01T02:00:00Z",
        "retryCount": 0
    }))
    .unwrap()
}

fn valid_request() -> serde_json::Value {
    json!({
        "datastoreId": "ds1",
        "s3Uri": "s3://bucket/exports",
        "kmsKeyId": "alias/hlx",
        "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
        "trigger": "schedule"
    })
}

#[tokio::test]
async fn invalid_requests_are_refused_before_any_call() {
    let fake = FakeHealthLake::default();
    let mut bad = valid_request();
    bad["s3Uri"] = json!("not-a-uri");
    let err = start_job(&fake, &NoHistory, &PollSchedule::default(), &input(bad))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidRequest");
    assert!(err.to_string().contains("s3Uri: must match"), "{err}");
    assert!(fake.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_execution_always_sends_the_same_token() {
    let fake = FakeHealthLake::default();
    let schedule = PollSchedule::polling();
    let first = start_job(&fake, &NoHistory, &schedule, &input(valid_request()))
        .await
        .unwrap();
    let mut retry = input(valid_request());
    retry.retry_count = 2;
    let second = start_job(&fake, &NoHistory, &schedule, &retry).await.unwrap();
    assert_eq!(first.job_id, second.job_id);
    assert_eq!(first.client_token, second.client_token);
    assert_eq!(second.start_attempts, 3);
    let started = fake.started.lock().unwrap();
    assert_eq!(started[0], started[1]);
    assert_eq!(started[0].job_name, "nightly-ds1-2026-01-01");
    assert_eq!(first.outcome, Outcome::Waiting);
    assert_eq!(first.next_check_seconds, schedule.submitted_seconds);
    assert_eq!(first.submit_time, t0());
}

fn progress() -> JobProgress {
    JobProgress {
        kind: JobKind::Export,
        job_id: "job-0".into(),
        datastore_id: "ds1".into(),
        job_name: "nightly".into(),
        client_token: "hlx-x".into(),
        job_status: JobStatus::Submitted,
        outcome: Outcome::Waiting,
        changed: true,
        submit_time: t0(),
        running_since: None,
        end_time: None,
        queued_seconds: 0,
        running_seconds: None,
        checks: 0,
        status_checks: 1,
        start_attempts: 1,
        next_check_seconds: 60,
        wake_by: WakeBy::Poll,
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

fn described(status: JobStatus) -> JobDescription {
    JobDescription {
        job_id: "job-0".into(),
        status,
        submit_time: t0(),
        end_time: None,
        message: None,
        import_counts: None,
        manifest: None,
    }
}

fn after(seconds: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(seconds)
}

#[test]
fn queued_time_ends_when_the_job_is_first_seen_running() {
    let s = PollSchedule::polling();
    let queued = next_progress(&s, &progress(), described(JobStatus::Queued), after(60));
    assert!(queued.changed);
    assert_eq!(queued.queued_seconds, 60);
    assert_eq!(queued.next_check_seconds, 300);
    let still = next_progress(&s, &queued, described(JobStatus::Queued), after(360));
    assert!(!still.changed);
    assert_eq!(still.status_checks, 2);
    assert_eq!(still.next_check_seconds, 600);
    let running = next_progress(&s, &still, described(JobStatus::InProgress), after(960));
    assert_eq!(running.running_since, Some(after(960)));
    assert_eq!(running.queued_seconds, 960);
    assert_eq!(running.running_seconds, Some(0));
    assert_eq!(running.next_check_seconds, 120);
    assert_eq!(running.checks, 3);
    let later = next_progress(&s, &running, described(JobStatus::InProgress), after(1080));
    assert_eq!(
        later.queued_seconds, 960,
        "queued time stops growing once running"
    );
    assert_eq!(later.running_seconds, Some(120));
    assert_eq!(later.next_check_seconds, 240);
}

#[test]
fn terminal_statuses_end_the_wait_with_the_right_outcome() {
    let s = PollSchedule::default();
    let cases = [
        (JobStatus::Completed, Outcome::Succeeded),
        (JobStatus::CompletedWithErrors, Outcome::Succeeded),
        (JobStatus::Failed, Outcome::Failed),
        (JobStatus::CancelCompleted, Outcome::Failed),
        (JobStatus::CancelFailed, Outcome::Failed),
        (JobStatus::CancelSubmitted, Outcome::Waiting),
        (JobStatus::CancelInProgress, Outcome::Waiting),
        (JobStatus::InProgress, Outcome::Waiting),
        (JobStatus::Queued, Outcome::Waiting),
        (JobStatus::Submitted, Outcome::Waiting),
        (JobStatus::Unknown("PAUSED".into()), Outcome::Waiting),
    ];
    for (status, outcome) in cases {
        let mut d = described(status.clone());
        d.end_time = Some(after(600));
        d.message = Some("HealthLake says".into());
        let next = next_progress(&s, &progress(), d, after(700));
        assert_eq!(next.outcome, outcome, "{status}");
        assert_eq!(next.message.as_deref(), Some("HealthLake says"));
    }
}

#[test]
fn a_job_that_ends_unseen_is_timed_from_its_end() {
    let s = PollSchedule::default();
    let mut d = described(JobStatus::Completed);
    d.end_time = Some(after(500));
    let next = next_progress(&s, &progress(), d, after(900));
    assert_eq!(next.running_since, Some(after(500)));
    assert_eq!(next.queued_seconds, 500);
    assert_eq!(next.running_seconds, Some(0));
}

#[test]
fn the_running_deadline_counts_from_the_end_of_the_queue() {
    let s = PollSchedule {
        max_run: std::time::Duration::from_secs(3600),
        max_queue: std::time::Duration::from_secs(7200),
        ..PollSchedule::polling()
    };
    // Queued for 1.5 h: under the queue limit, and not counted against the run limit.
    let queued = next_progress(&s, &progress(), described(JobStatus::Queued), after(5400));
    assert_eq!(queued.outcome, Outcome::Waiting);
    let running = next_progress(&s, &queued, described(JobStatus::InProgress), after(5400));
    assert_eq!(running.outcome, Outcome::Waiting);
    let near = next_progress(&s, &running, described(JobStatus::InProgress), after(5400 + 3500));
    assert_eq!(near.outcome, Outcome::Waiting);
    assert_eq!(
        near.next_check_seconds, 100,
        "the next check lands on the deadline"
    );
    let over = next_progress(&s, &near, described(JobStatus::InProgress), after(5400 + 3600));
    assert_eq!(over.outcome, Outcome::TimedOut);
    let reason = over.timed_out_reason.unwrap();
    assert!(
        reason.contains("has run for 1h 00m, past the limit of 1h 00m"),
        "{reason}"
    );
}

#[test]
fn a_job_queued_past_its_limit_times_out_with_the_reason() {
    let s = PollSchedule {
        max_queue: std::time::Duration::from_secs(3600),
        ..PollSchedule::default()
    };
    let next = next_progress(&s, &progress(), described(JobStatus::Queued), after(3600));
    assert_eq!(next.outcome, Outcome::TimedOut);
    assert!(
        next.timed_out_reason
            .unwrap()
            .contains("waited in HealthLake's queue")
    );
    assert_eq!(human_duration(42), "42s");
    assert_eq!(human_duration(125), "2m 05s");
}

#[tokio::test]
async fn check_passes_healthlake_errors_through_with_their_names() {
    let fake = FakeHealthLake::default();
    fake.descriptions
        .lock()
        .unwrap()
        .push_back(Err(HlxError::HealthLake {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        }));
    let input = CheckJobInput {
        progress: progress(),
        now: after(60),
    };
    let err = check_job(&fake, &hlx_core::NoManifests, &PollSchedule::default(), &input)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "HealthLake.ThrottlingException");
}

#[test]
fn progress_round_trips_through_the_state_machine_json() {
    let p = progress();
    let value = serde_json::to_value(&p).unwrap();
    assert_eq!(value["jobStatus"], "SUBMITTED");
    assert_eq!(value["outcome"], "WAITING");
    assert_eq!(value["submitTime"], "2026-01-01T02:00:00.000Z");
    assert_eq!(value["nextCheckSeconds"], 60);
    assert!(value.get("runningSince").is_none());
    let back: JobProgress = serde_json::from_value(value).unwrap();
    assert_eq!(back, p);
}

fn completed_record(id: &str, started: &str, status: JobStatus, running_seconds: Option<u64>) -> JobRecord {
    let at: Timestamp = started.parse().unwrap();
    JobRecord {
        id: id.into(),
        kind: JobKind::Export,
        input_s3_uri: None,
        import_counts: None,
        execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}"),
        status: RecordStatus::Job(status),
        datastore_id: Some("ds1".into()),
        trigger: None,
        job_id: Some(format!("job-{id}")),
        job_name: None,
        job_status: None,
        s3_uri: None,
        kms_key_id: None,
        data_access_role_arn: None,
        output_location: None,
        message: None,
        error_name: None,
        error_cause: None,
        execution_started_at: at,
        submitted_at: Some(at),
        running_since: Some(at),
        ended_at: Some(at),
        updated_at: at,
        queued_seconds: Some(0),
        running_seconds,
        checks: 3,
        start_attempts: 1,
        mode: None,
        chain: None,
        since: None,
        until: None,
        manifest: None,
        cancel: None,
        verification: None,
    }
}

#[test]
fn the_expected_run_is_the_median_of_the_last_five_completed_exports() {
    let hours = |h: u64| Some(h * 3600);
    let records = vec![
        completed_record("n7", "2026-01-07T02:00:00Z", JobStatus::Failed, hours(1)),
        completed_record("n6", "2026-01-06T02:00:00Z", JobStatus::Completed, hours(7)),
        completed_record(
            "n5",
            "2026-01-05T02:00:00Z",
            JobStatus::CompletedWithErrors,
            hours(5),
        ),
        completed_record("n4", "2026-01-04T02:00:00Z", JobStatus::Completed, hours(6)),
        completed_record("n3", "2026-01-03T02:00:00Z", JobStatus::Completed, None),
        completed_record("n2", "2026-01-02T02:00:00Z", JobStatus::Completed, hours(20)),
        completed_record("n1", "2026-01-01T02:00:00Z", JobStatus::Completed, hours(6)),
        completed_record("n0", "2025-12-31T02:00:00Z", JobStatus::Completed, hours(1)),
    ];
    // n6, n5, n4, n2, n1 → 5, 6, 6, 7, 20: the median is 6 h (a slow night does not move it).
    assert_eq!(expected_run_seconds_of(&records), hours(6));
    assert_eq!(
        expected_run_seconds_of(&records[..1]),
        None,
        "a failed export says nothing"
    );
    assert_eq!(expected_run_seconds_of(&[]), None);
}

#[tokio::test]
async fn start_learns_the_expected_run_from_the_store_and_check_lands_after_it() {
    let store = InMemoryJobStore::new();
    for (n, h) in [(1, 6), (2, 5), (3, 7)] {
        let record = completed_record(
            &format!("n{n}"),
            &format!("2026-01-0{n}T02:00:00Z"),
            JobStatus::Completed,
            Some(h * 3600),
        );
        store.write(&record).await.unwrap();
    }
    assert_eq!(
        store.expected_run_seconds(JobKind::Export, "ds1").await.unwrap(),
        Some(6 * 3600)
    );
    assert_eq!(
        store
            .expected_run_seconds(JobKind::Export, "another")
            .await
            .unwrap(),
        None
    );

    let fake = FakeHealthLake::default();
    let schedule = PollSchedule::default();
    let started = start_job(&fake, &store, &schedule, &input(valid_request()))
        .await
        .unwrap();
    assert_eq!(started.expected_run_seconds, Some(6 * 3600));
    assert_eq!(started.wake_by, WakeBy::Events);
    assert_eq!(started.next_check_seconds, 3600, "SUBMITTED: the first fallback");
    // Woken as soon as it runs: the fallback lands at the cap, then just after the expected end.
    let running = next_progress(&schedule, &started, described(JobStatus::InProgress), after(10));
    assert_eq!(running.next_check_seconds, 4 * 3600);
    let later = next_progress(
        &schedule,
        &running,
        described(JobStatus::InProgress),
        after(10 + 4 * 3600),
    );
    assert_eq!(later.next_check_seconds, 2 * 3600 + 18 * 60);
    // Overdue: a quarter of the run, then shrinking.
    let overdue = next_progress(
        &schedule,
        &later,
        described(JobStatus::InProgress),
        after(10 + 6 * 3600 + 1080),
    );
    assert_eq!(overdue.overdue_checks, 1);
    assert_eq!(overdue.next_check_seconds, 5400);
    let more = next_progress(
        &schedule,
        &overdue,
        described(JobStatus::InProgress),
        after(10 + 8 * 3600),
    );
    assert_eq!((more.overdue_checks, more.next_check_seconds), (2, 2700));
}

struct BrokenHistory;

impl JobHistory for BrokenHistory {
    async fn expected_run_seconds(
        &self,
        _kind: JobKind,
        _datastore_id: &str,
    ) -> Result<Option<u64>, HlxError> {
        Err(HlxError::DynamoDbUnavailable("connection refused".into()))
    }

    async fn last_transaction_time(&self, _: &str, _: &str) -> Result<Option<Timestamp>, HlxError> {
        Err(HlxError::DynamoDbUnavailable("connection refused".into()))
    }

    async fn admit(
        &self,
        _: &hlx_core::JobRequest,
        _: &str,
        _: u32,
        _: Timestamp,
    ) -> Result<Option<bool>, HlxError> {
        Err(HlxError::DynamoDbUnavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn unreadable_history_never_fails_the_start() {
    let fake = FakeHealthLake::default();
    let started = start_job(
        &fake,
        &BrokenHistory,
        &PollSchedule::default(),
        &input(valid_request()),
    )
    .await
    .unwrap();
    assert_eq!(started.expected_run_seconds, None);
    assert_eq!(fake.started.lock().unwrap().len(), 1);
}

fn import_request() -> serde_json::Value {
    json!({
        "kind": "import",
        "datastoreId": "ds1",
        "inputS3Uri": "s3://landing/nightly/",
        "outputS3Uri": "s3://logs/imports",
        "kmsKeyId": "alias/hlx",
        "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeImport",
        "trigger": "schedule"
    })
}

#[tokio::test]
async fn an_import_request_starts_an_import_never_an_export_and_is_checked_as_one() {
    let fake = FakeHealthLake::default();
    let schedule = PollSchedule::default();
    let started = start_job(&fake, &NoHistory, &schedule, &input(import_request()))
        .await
        .unwrap();
    assert!(fake.started.lock().unwrap().is_empty(), "no export was started");
    let imports = fake.imports_started.lock().unwrap().clone();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].input_s3_uri, "s3://landing/nightly/");
    assert_eq!(imports[0].output_s3_uri, "s3://logs/imports");
    assert_eq!(imports[0].kms_key_id, "alias/hlx");
    assert_eq!(started.kind, JobKind::Import);
    assert_eq!(started.job_id, "import-0");
    // The same execution retried: the same token, so HealthLake's idempotency holds.
    let again = start_job(&fake, &NoHistory, &schedule, &input(import_request()))
        .await
        .unwrap();
    assert_eq!(again.job_id, "import-0");
    assert_eq!(imports[0].client_token, again.client_token);

    let counts = hlx_core::ImportCounts {
        files_scanned: 2,
        files_imported: 2,
        resources_scanned: 10,
        resources_imported: 8,
        resources_with_errors: 2,
        ..Default::default()
    };
    let mut done = described(JobStatus::CompletedWithErrors);
    done.import_counts = Some(counts.clone());
    fake.descriptions.lock().unwrap().push_back(Ok(done));
    let checked = check_job(
        &fake,
        &hlx_core::NoManifests,
        &schedule,
        &serde_json::from_value(json!({"progress": started, "now": "2026-01-01T03:00:00Z"})).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(*fake.described_kinds.lock().unwrap(), vec![JobKind::Import]);
    assert_eq!(checked.outcome, Outcome::Succeeded);
    assert_eq!(checked.import_counts, Some(counts.clone()));

    // The record keeps the kind, both locations and the counts.
    let record = JobRecord::from_request(
        serde_json::from_value(json!({
            "id": "import-ds1-2026-01-01",
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:hlx:import-ds1-2026-01-01",
            "executionStartedAt": "2026-01-01T02:00:00Z",
            "now": "2026-01-01T03:00:00Z",
            "request": import_request(),
            "progress": checked
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record.kind, JobKind::Import);
    assert_eq!(record.status, RecordStatus::Job(JobStatus::CompletedWithErrors));
    assert_eq!(record.input_s3_uri.as_deref(), Some("s3://landing/nightly/"));
    assert_eq!(record.s3_uri.as_deref(), Some("s3://logs/imports"));
    assert_eq!(
        record.output_location.as_deref(),
        Some("s3://logs/imports/ds1-FHIR_IMPORT-import-0/")
    );
    assert_eq!(record.import_counts, Some(counts));
}

#[tokio::test]
async fn a_bad_import_request_is_refused_before_any_call_naming_the_field() {
    let fake = FakeHealthLake::default();
    let mut bad = import_request();
    bad["s3Uri"] = json!("s3://exports/x");
    let err = start_job(&fake, &NoHistory, &PollSchedule::default(), &input(bad))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "hlx.InvalidRequest");
    assert!(
        err.to_string()
            .contains("s3Uri: is not a field of an import request"),
        "{err}"
    );
    assert!(fake.imports_started.lock().unwrap().is_empty());
    assert!(fake.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn exports_learn_from_exports_and_imports_from_imports() {
    let store = InMemoryJobStore::new();
    let mut import = completed_record("i1", "2026-01-01T01:00:00Z", JobStatus::Completed, Some(600));
    import.kind = JobKind::Import;
    store.write(&import).await.unwrap();
    store
        .write(&completed_record(
            "n1",
            "2026-01-01T02:00:00Z",
            JobStatus::Completed,
            Some(7200),
        ))
        .await
        .unwrap();
    assert_eq!(
        store.expected_run_seconds(JobKind::Export, "ds1").await.unwrap(),
        Some(7200)
    );
    assert_eq!(
        store.expected_run_seconds(JobKind::Import, "ds1").await.unwrap(),
        Some(600)
    );
    // Same execution name, different kinds: two records, each listed with its kind only.
    let mut twin = completed_record("n1", "2026-01-01T02:00:00Z", JobStatus::Failed, None);
    twin.kind = JobKind::Import;
    store.write(&twin).await.unwrap();
    assert_eq!(
        store.get(JobKind::Export, "n1").await.unwrap().unwrap().status,
        RecordStatus::Job(JobStatus::Completed)
    );
    assert_eq!(
        store.get(JobKind::Import, "n1").await.unwrap().unwrap().status,
        RecordStatus::Job(JobStatus::Failed)
    );
    let imports = store
        .list(JobKind::Import, "ds1", 10, None)
        .await
        .unwrap()
        .records;
    assert_eq!(
        imports.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["n1", "i1"]
    );
}

#[test]
fn an_import_waiting_behind_another_backs_off_as_a_queued_export_does() {
    // Imports have no QUEUED: one waiting behind another stays SUBMITTED.
    let schedule = PollSchedule::polling();
    let mut import = progress();
    import.kind = JobKind::Import;
    let mut export = progress();
    let (mut import_waits, mut export_waits) = (Vec::new(), Vec::new());
    for n in 1..=4 {
        import = next_progress(&schedule, &import, described(JobStatus::Submitted), after(60 * n));
        export = next_progress(&schedule, &export, described(JobStatus::Submitted), after(60 * n));
        import_waits.push(import.next_check_seconds);
        export_waits.push(export.next_check_seconds);
    }
    assert!(
        import_waits.windows(2).all(|w| w[1] > w[0]),
        "the import backs off: {import_waits:?}"
    );
    assert!(
        import_waits[3] > export_waits[3],
        "{import_waits:?} vs {export_waits:?}"
    );
}
