//! The job state machine end to end: the real definition on the local
//! runner (virtual time), the real binaries of hlx's functions as
//! processes behind a local Lambda Runtime API, the HealthLake emulator over
//! HTTP, and job history in a real DynamoDB-compatible server (moto).
//!
//! Each scenario asserts the final DynamoDB record, the number of HealthLake
//! export jobs started, the state transitions and the execution's end.
//! `cargo test -p hlx-e2e --test e2e export_scenarios:: -- --nocapture` prints the
//! transition count of each.

use std::time::Duration;

use hlx_asl_runner::ExecutionStatus;
use hlx_core::{JobStatus, PollSchedule, RecordStatus};
use hlx_e2e::scenario::{report, scenario};
use hlx_healthlake_emulator::{FaultSpec, Faults, JobKind, JobProfile, Operation, Outcome};

use serde_json::{Value, json};

#[tokio::test]
async fn happy_path() {
    let s = scenario("happy", |_| {}).await;
    let input = s.stack.export_request(s.datastore());
    let done = s.run("nightly-happy", input).await;
    report("happy path (3 h job)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let record = s.record("nightly-happy").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(record.trigger.as_deref(), Some("schedule"));
    assert_eq!(record.start_attempts, 1);
    assert!(record.checks >= 3);
    let job = &s.stack.emulator.export_jobs()[0];
    assert_eq!(record.job_id.as_deref(), Some(job.job_id.as_str()));
    assert_eq!(
        record.output_location.as_deref(),
        Some(
            format!(
                "s3://hlx-local-exports/nightly/{}-FHIR_EXPORT-{}/",
                s.datastore(),
                job.job_id
            )
            .as_str()
        )
    );
    assert_eq!(record.ended_at, job.end_time);
    assert!(!job.files.is_empty(), "the export wrote its files");
    assert_eq!(s.exports_started(), 1);
    assert_eq!(done.output.as_ref().unwrap()["status"], "COMPLETED");
    // A 3-hour job stays within the poll budget: start, record, eight checks, record.
    assert!(
        done.stats.state_transitions <= 40,
        "{}",
        done.stats.state_transitions
    );
}

#[tokio::test]
async fn completed_with_errors_succeeds_but_is_marked() {
    let s = scenario("cwe", |c| c.profile.outcome = Outcome::completed_with_errors()).await;
    let done = s.run("nightly-cwe", s.stack.export_request(s.datastore())).await;
    report("COMPLETED_WITH_ERRORS", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output.as_ref().unwrap()["status"], "COMPLETED_WITH_ERRORS");
    let record = s.record("nightly-cwe").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::CompletedWithErrors));
    assert!(record.message.unwrap().contains("could not be exported"));
}

#[tokio::test]
async fn failed_carries_healthlakes_message() {
    let s = scenario("failed", |c| {
        c.profile.outcome = Outcome::Failed {
            message: "Export failed: the data access role cannot write to the bucket".into(),
        }
    })
    .await;
    let done = s
        .run("nightly-failed", s.stack.export_request(s.datastore()))
        .await;
    report("FAILED", &done);
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("hlx.JobFailed"));
    let record = s.record("nightly-failed").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Failed));
    assert_eq!(
        record.message.as_deref(),
        Some("Export failed: the data access role cannot write to the bucket")
    );
    assert_eq!(s.exports_started(), 1);
}

#[tokio::test]
async fn a_throttling_storm_still_completes_with_one_job() {
    let s = scenario("throttle", |c| {
        c.faults = Faults::uniform(FaultSpec {
            throttle_rate: 0.8,
            ..FaultSpec::default()
        })
    })
    .await;
    let done = s
        .run("nightly-throttled", s.stack.export_request(s.datastore()))
        .await;
    report("throttling storm (80% of calls)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    let calls = s.stack.emulator.calls();
    let throttled = calls
        .iter()
        .filter(|c| c.error.as_deref() == Some("ThrottlingException"))
        .count();
    assert!(
        throttled * 2 >= calls.len(),
        "at least half of all HealthLake calls were throttled: {throttled} of {}",
        calls.len()
    );
    assert!(done.stats.retries > 0);
    assert_eq!(s.exports_started(), 1, "retried starts never make a second job");
    assert_eq!(
        s.record("nightly-throttled").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

#[tokio::test]
async fn internal_server_error_bursts_are_retried() {
    let s = scenario("ise", |c| {
        c.faults = Faults::none().with(
            Operation::DescribeFhirExportJob,
            FaultSpec {
                internal_error_rate: 0.3,
                ..FaultSpec::default()
            },
        )
    })
    .await;
    let done = s.run("nightly-ise", s.stack.export_request(s.datastore())).await;
    report("InternalServerException bursts (30%)", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert!(
        s.stack
            .emulator
            .calls()
            .iter()
            .any(|c| c.error.as_deref() == Some("InternalServerException")),
        "the scenario really injected errors"
    );
    assert_eq!(
        s.record("nightly-ise").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

#[tokio::test]
async fn a_job_that_never_finishes_times_out_after_its_queue_time() {
    let s = scenario("never", |c| {
        c.datastores = 2;
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(3600));
        c.schedule = PollSchedule {
            max_run: Duration::from_secs(2 * 3600),
            ..PollSchedule::default()
        };
    })
    .await;
    // The second data store's job never finishes; it is ready a little after
    // the first, so it queues behind it (1 h) whichever start arrives first.
    let forever = JobProfile::default().with_timing(Duration::from_secs(50), Duration::from_secs(100 * 3600));
    s.stack
        .emulator
        .set_profile(&s.stack.datastores[1], forever)
        .unwrap();
    let first = s
        .stack
        .start_execution("nightly-a", s.stack.export_request(&s.stack.datastores[0]))
        .unwrap();
    let second = s
        .stack
        .start_execution("nightly-b", s.stack.export_request(&s.stack.datastores[1]))
        .unwrap();
    s.stack.runner.wait_all().await;
    let (first, second) = (first.describe(), second.describe());
    report("never finishes → TIMED_OUT", &second);
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    assert_eq!(second.status, ExecutionStatus::Failed);
    assert_eq!(second.error.as_deref(), Some("hlx.JobTimedOut"));
    let record = s.record("nightly-b").await;
    assert_eq!(record.status, RecordStatus::TimedOut);
    assert_eq!(record.job_status.as_deref(), Some("IN_PROGRESS"));
    let queued = record.queued_seconds.unwrap();
    assert!(
        (3600..3600 + 1800).contains(&queued),
        "queued behind the first job: {queued}s"
    );
    let running_since = record.running_since.unwrap();
    let ended = record.ended_at.unwrap();
    assert_eq!(
        ended.duration_since(running_since).as_secs(),
        2 * 3600,
        "the deadline counts from the end of the queue"
    );
    assert!(record.error_cause.unwrap().contains("past the limit of 2h 00m"));
    assert_eq!(s.exports_started(), 2);
}

#[tokio::test]
async fn two_data_stores_queue_in_healthlake_and_both_complete() {
    let s = scenario("two", |c| {
        c.datastores = 2;
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(2 * 3600));
    })
    .await;
    let done = s.stack.run_night(0).await.unwrap();
    for d in &done {
        report(&format!("two data stores: {}", &d.name[..16]), d);
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    }
    // Both were submitted at once; whichever HealthLake took second waited QUEUED.
    let jobs = s.stack.emulator.export_jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].submit_time, jobs[1].submit_time);
    let transitions = s.stack.emulator.transitions();
    let queued: Vec<&str> = transitions
        .iter()
        .filter(|t| t.status == JobStatus::Queued)
        .map(|t| t.job_id.as_str())
        .collect();
    assert_eq!(queued.len(), 1, "exactly one job waited in the queue");
    // Never two exports IN_PROGRESS at once.
    let mut running = 0i32;
    for t in transitions.iter().filter(|t| t.kind == JobKind::Export) {
        match t.status {
            JobStatus::InProgress => running += 1,
            JobStatus::Completed | JobStatus::CompletedWithErrors | JobStatus::Failed => running -= 1,
            _ => {}
        }
        assert!(running <= 1, "two exports ran at once at {}", t.at);
    }
    for d in &done {
        let record = s.record(&d.name).await;
        let queued_seconds = record.queued_seconds.unwrap();
        if record.job_id.as_deref() == Some(queued[0]) {
            assert!(
                queued_seconds >= 2 * 3600,
                "the queued export shows its wait: {record:?}"
            );
            assert!(
                record.running_seconds.unwrap() <= 2 * 3600,
                "and is not called slow: {record:?}"
            );
        } else {
            assert!(queued_seconds < 600, "{record:?}");
        }
    }
}

#[tokio::test]
async fn a_job_queued_past_its_limit_times_out_without_a_second_job() {
    let s = scenario("queuelimit", |c| {
        c.datastores = 2;
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(5 * 3600));
        c.schedule = PollSchedule {
            max_queue: Duration::from_secs(2 * 3600),
            ..PollSchedule::default()
        };
    })
    .await;
    let mut done = s.stack.run_night(0).await.unwrap();
    // HealthLake takes the two starts in whichever order they arrive.
    done.sort_by_key(|d| d.status != ExecutionStatus::Succeeded);
    report("queued past its limit", &done[1]);
    assert_eq!(done[0].status, ExecutionStatus::Succeeded, "{:?}", done[0]);
    assert_eq!(done[1].status, ExecutionStatus::Failed, "{:?}", done[1]);
    let record = s.record(&done[1].name).await;
    assert_eq!(record.status, RecordStatus::TimedOut);
    assert_eq!(record.job_status.as_deref(), Some("QUEUED"));
    assert!(
        record
            .error_cause
            .unwrap()
            .contains("waited in HealthLake's queue")
    );
    assert!(record.running_since.is_none());
    assert_eq!(record.queued_seconds, Some(2 * 3600));
    assert_eq!(s.exports_started(), 2, "no second job for the timed-out export");
}

#[tokio::test]
async fn the_same_execution_started_twice_makes_one_job() {
    let s = scenario("twice", |_| {}).await;
    let input = s.stack.export_request(s.datastore());
    let first = s.stack.start_execution("nightly-twice", input.clone()).unwrap();
    let again = s.stack.start_execution("nightly-twice", input.clone()).unwrap();
    assert_eq!(first.arn(), again.arn());
    s.stack.runner.wait_all().await;
    report("same name started twice", &first.describe());
    let err = s.stack.start_execution("nightly-twice", input).unwrap_err();
    assert!(
        err.to_string().contains("ExecutionAlreadyExists") || format!("{err:?}").contains("AlreadyExists")
    );
    assert_eq!(s.exports_started(), 1);
    assert_eq!(s.calls("StartFHIRExportJob"), 1);
}

#[tokio::test]
async fn invalid_input_is_rejected_and_recorded_with_no_healthlake_call() {
    let s = scenario("invalid", |_| {}).await;
    let valid = s.stack.export_request(s.datastore());
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    for field in ["datastoreId", "s3Uri", "kmsKeyId", "dataAccessRoleArn"] {
        let mut input = valid.clone();
        input.as_object_mut().unwrap().remove(field);
        cases.push((field, input, "is required"));
    }
    let bad = |field: &str, value: Value| {
        let mut input = valid.clone();
        input[field] = value;
        input
    };
    cases.push((
        "datastoreId",
        bad("datastoreId", json!("x".repeat(33))),
        "between 1 and 32",
    ));
    cases.push(("s3Uri", bad("s3Uri", json!("https://bucket/x")), "pattern"));
    cases.push((
        "dataAccessRoleArn",
        bad("dataAccessRoleArn", json!("arn:aws:iam::1:role/x")),
        "pattern",
    ));
    cases.push((
        "jobName",
        bad("jobName", json!("n".repeat(65))),
        "between 1 and 64",
    ));
    cases.push(("trigger", bad("trigger", json!("cron")), "must be one of"));
    cases.push(("request", json!(["not", "an", "object"]), "must be a JSON object"));
    cases.push(("datastoreID", bad("datastoreID", json!("x")), "is not a field"));
    for (i, (field, input, rule)) in cases.into_iter().enumerate() {
        let name = format!("rejected-{i}");
        let done = s.run(&name, input).await;
        if i == 0 {
            report("invalid input → REJECTED", &done);
        }
        assert_eq!(done.status, ExecutionStatus::Failed, "{field}");
        assert_eq!(done.error.as_deref(), Some("hlx.JobRejected"), "{field}");
        let record = s.record(&name).await;
        assert_eq!(record.status, RecordStatus::Rejected, "{field}");
        assert_eq!(record.error_name.as_deref(), Some("hlx.InvalidRequest"));
        let cause = record.error_cause.unwrap();
        assert!(cause.contains(field) && cause.contains(rule), "{field}: {cause}");
        assert!(record.job_id.is_none());
    }
    assert_eq!(s.calls("StartFHIRExportJob"), 0, "nothing was started");
    assert_eq!(s.exports_started(), 0);
}

#[tokio::test]
async fn a_function_process_that_crashes_mid_invocation_is_retried() {
    let s = scenario("crash", |_| {}).await;
    let processes = s.stack.processes.as_ref().expect("the stack runs the binaries");
    // The start's first attempt dies after taking the invocation, and so does
    // the second check: Step Functions sees Lambda.Unknown and retries.
    processes.crash_on_invocation("hlx-start-job", 1);
    processes.crash_on_invocation("hlx-check-job", 2);
    let done = s
        .run("nightly-crash", s.stack.export_request(s.datastore()))
        .await;
    report("crashed function processes", &done);
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.stats.retries, 2);
    let crashed = processes
        .invocation_records()
        .iter()
        .filter(|r| matches!(r.outcome, hlx_asl_runner::InvocationOutcome::Crashed(_)))
        .count();
    assert_eq!(crashed, 2);
    let record = s.record("nightly-crash").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(record.start_attempts, 2, "the record counts the crashed start");
    assert!(
        s.exports_started() <= 1 && s.calls("StartFHIRExportJob") <= 2,
        "a start retried after a crash reuses the client token"
    );
    assert_eq!(s.exports_started(), 1);
}

#[tokio::test]
async fn a_start_repeated_for_the_same_execution_gets_the_same_job_back() {
    // A start whose answer is lost is repeated with the same execution name.
    // Two state machines run an execution of the same name, so the real
    // start-job binary starts "the same" export twice: HealthLake (the
    // emulator) must see the same ClientToken and return the same job.
    let s = scenario("lost", |_| {}).await;
    let (first, second) = s.start_only_machines();
    let input = s.stack.export_request(s.datastore());
    let a = s
        .stack
        .runner
        .start_execution(&first, "nightly-same", input.clone())
        .unwrap();
    let b = s
        .stack
        .runner
        .start_execution(&second, "nightly-same", input)
        .unwrap();
    s.stack.runner.wait_all().await;
    let (a, b) = (a.describe(), b.describe());
    assert_eq!(a.status, ExecutionStatus::Succeeded, "{a:?}");
    assert_eq!(b.status, ExecutionStatus::Succeeded, "{b:?}");
    let (a, b) = (a.output.unwrap(), b.output.unwrap());
    assert_eq!(a["jobId"], b["jobId"]);
    assert_eq!(a["clientToken"], b["clientToken"]);
    assert_eq!(s.calls("StartFHIRExportJob"), 2);
    assert_eq!(
        s.exports_started(),
        1,
        "one HealthLake job for one execution name"
    );
    let processes = s.stack.processes.as_ref().unwrap();
    let log = processes.log_text("hlx-start-job");
    assert!(log.contains("\"job started\""), "the function logs JSON: {log}");
    assert!(!log.contains("arn:aws:iam"), "no request bodies in logs: {log}");
}

#[tokio::test]
async fn jobs_beyond_the_data_stores_limit_are_rejected_and_the_schedule_keeps_its_slot() {
    // Two in flight at most, one kept for the schedule: one ad-hoc job at a time.
    let s = scenario("admission", |c| {
        c.profile = JobProfile::default().with_timing(Duration::from_secs(20), Duration::from_secs(3600));
        c.schedule = PollSchedule {
            max_jobs_in_flight: 2,
            ..PollSchedule::default()
        };
    })
    .await;
    let manual = |trigger: &str| {
        let mut request = s.stack.export_request(s.datastore());
        request["trigger"] = json!(trigger);
        request
    };
    let first = s.stack.start_execution("by-hand-1", manual("manual")).unwrap();
    let second = s.stack.start_execution("by-hand-2", manual("manual")).unwrap();
    let nightly = s.stack.start_execution("nightly-1", manual("schedule")).unwrap();
    s.stack.runner.wait_all().await;
    let (first, second, nightly) = (first.describe(), second.describe(), nightly.describe());
    assert_eq!(
        nightly.status,
        ExecutionStatus::Succeeded,
        "the schedule's slot: {nightly:?}"
    );
    // The two ad-hoc jobs race for the one slot left to them (with the
    // schedule's job first, there is none): at most one runs.
    let (ran, refused): (Vec<_>, Vec<_>) = [first, second]
        .into_iter()
        .partition(|d| d.status == ExecutionStatus::Succeeded);
    assert!(ran.len() <= 1 && !refused.is_empty(), "{ran:?}");
    report("too many jobs in flight → REJECTED", &refused[0]);
    for refused in &refused {
        assert_eq!(refused.status, ExecutionStatus::Failed);
        assert_eq!(refused.error.as_deref(), Some("hlx.JobRejected"));
        let record = s.record(&refused.name).await;
        assert_eq!(record.status, RecordStatus::Rejected);
        assert_eq!(record.error_name.as_deref(), Some("hlx.TooManyJobs"));
        let cause = record.error_cause.unwrap();
        assert!(
            cause.contains("HLX_MAX_JOBS_IN_FLIGHT") && cause.contains("is 1"),
            "{cause}"
        );
        assert!(record.job_id.is_none(), "nothing was started");
    }
    assert_eq!(s.exports_started(), 1 + ran.len());
    // Both ended: their records gave the slots back, so a new job starts.
    let again = s.run("by-hand-3", manual("manual")).await;
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        s.record("by-hand-3").await.error_cause
    );
}
