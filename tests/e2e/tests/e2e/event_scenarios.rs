//! Event-driven completion end to end: the real definition on the local
//! runner (virtual time), the real binaries (start-job, await-job,
//! check-job, record-result, job-events) as processes, the HealthLake
//! emulator emitting HealthLake's EventBridge events, the local bus routing
//! them by the deployed pattern, the runner's Step Functions API answering
//! the functions' `SendTaskSuccess`, and moto's DynamoDB.
//!
//! `cargo test -p hlx-e2e --test e2e event_scenarios:: -- --nocapture` prints each
//! scenario's detection delay, transitions and events.

use std::time::Duration;

use hlx_asl_runner::{EventKind, ExecutionDescription, ExecutionHandle, ExecutionStatus, HistoryEvent};
use hlx_core::{JobRecord, JobStatus, RecordStatus};
use hlx_e2e::scenario::{Scenario, scenario};
use hlx_healthlake_emulator::{EventFaults, JobProfile};
use hlx_local_stack::BusDelivery;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const HOUR: u64 = 3600;

fn job_of(hours: f64) -> JobProfile {
    JobProfile::default().with_timing(
        Duration::from_secs(20),
        Duration::from_secs_f64(hours * HOUR as f64),
    )
}

struct Run {
    handle: ExecutionHandle,
    done: ExecutionDescription,
}

impl Run {
    fn history(&self) -> Vec<HistoryEvent> {
        self.handle.history()
    }

    /// When the execution first saw the job ended (the CheckJob whose outcome is not WAITING).
    fn detected_at(&self) -> Timestamp {
        self.history()
            .into_iter()
            .find_map(|event| match &event.kind {
                EventKind::StateExited { name, output, .. }
                    if name == "CheckJob" && output["progress"]["outcome"] != "WAITING" =>
                {
                    Some(event.timestamp)
                }
                _ => None,
            })
            .expect("the execution saw the job end")
    }

    /// What ended each callback wait: the woken task's output, or `timeout`.
    fn wakes(&self) -> Vec<String> {
        self.history()
            .into_iter()
            .filter_map(|event| match &event.kind {
                EventKind::TaskSucceeded { output, .. } if output.get("wokenBy").is_some() => Some(
                    output["detailType"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("by {}", output["wokenBy"].as_str().unwrap_or("?"))),
                ),
                EventKind::TaskTimedOut { .. } => Some("timeout".into()),
                _ => None,
            })
            .collect()
    }

    fn transitions(&self) -> u64 {
        self.done.stats.state_transitions
    }
}

async fn run(s: &Scenario, name: &str) -> Run {
    let handle = s
        .stack
        .start_execution(name, s.stack.export_request(s.datastore()))
        .expect("the execution starts");
    s.stack.runner.wait_all().await;
    // Let the bus finish what fell due at the end (a duplicate right after the last event).
    let end = s.stack.clock.now();
    s.stack.runner.run_until(end + SignedDuration::from_secs(1)).await;
    let done = handle.describe();
    Run { handle, done }
}

fn job_end(s: &Scenario) -> Timestamp {
    s.stack.emulator.export_jobs()[0].end_time.expect("the job ended")
}

fn outcomes(deliveries: &[BusDelivery], detail_type: &str) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| d.detail_type == detail_type)
        .map(BusDelivery::outcome)
        .collect()
}

fn print(scenario: &str, s: &Scenario, run: &Run) {
    let delay = run.detected_at().duration_since(job_end(s)).as_secs();
    println!(
        "scenario {scenario:<44} {:<9} {:>3} transitions, detected {:>5}s after the end, wakes {:?}",
        run.done.status.as_str(),
        run.transitions(),
        delay,
        run.wakes()
    );
    for d in s.stack.event_deliveries() {
        println!(
            "    {} {:<34} {} {:?}",
            d.at,
            d.detail_type,
            d.outcome(),
            d.result.as_ref().and_then(|r| r.as_ref().err())
        );
    }
}

/// The record without what differs between two runs of the same export.
fn comparable(record: &JobRecord) -> Value {
    json!({
        "status": record.status.to_string(),
        "jobStatus": record.job_status,
        "jobId": record.job_id,
        "outputLocation": record.output_location,
        "endedAt": record.ended_at.map(|t| t.to_string()),
        "message": record.message,
        "startAttempts": record.start_attempts,
        "queuedSeconds": record.queued_seconds,
    })
}

#[tokio::test]
async fn the_event_wakes_the_export_within_seconds_and_a_lost_one_costs_one_fallback() {
    // The event arrives.
    let with_event = scenario("event-arrives", |c| c.profile = job_of(6.0)).await;
    let woken = run(&with_event, "nightly-event").await;
    print("6 h export, the event arrives", &with_event, &woken);
    assert_eq!(woken.done.status, ExecutionStatus::Succeeded, "{:?}", woken.done);
    let delay = woken.detected_at().duration_since(job_end(&with_event));
    assert!(
        delay <= SignedDuration::from_secs(5),
        "detected {delay} after the job ended"
    );
    // 20 for the export, 5 for its verification and notice (Verify?,
    // BeginVerification, Distributed?, Notify?, NotifyVerification).
    assert!(woken.transitions() <= 25, "{} transitions", woken.transitions());
    assert_eq!(
        woken.wakes().last().map(String::as_str),
        Some("Export Job Completed")
    );
    let deliveries = with_event.stack.event_deliveries();
    assert_eq!(outcomes(&deliveries, "Export Job Completed"), ["WOKEN"]);
    assert_eq!(outcomes(&deliveries, "Export Job In Progress"), ["WOKEN"]);
    let record = with_event.record("nightly-event").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(record.ended_at, Some(job_end(&with_event)));

    // The same export with every event lost: the fallback finds the end.
    let lost = scenario("event-lost", |c| {
        c.profile = job_of(6.0);
        c.event_faults = EventFaults {
            drop_rate: 1.0,
            ..EventFaults::none()
        };
    })
    .await;
    let fallback = run(&lost, "nightly-event").await;
    print("6 h export, every event lost", &lost, &fallback);
    assert_eq!(fallback.done.status, ExecutionStatus::Succeeded);
    assert!(lost.stack.event_deliveries().is_empty(), "nothing was delivered");
    assert!(
        fallback.wakes().iter().all(|w| w == "timeout"),
        "{:?}",
        fallback.wakes()
    );
    // Detected at the fallback: no later than the last wait it was in.
    let last_wait = fallback
        .history()
        .into_iter()
        .rev()
        .find_map(|event| match &event.kind {
            EventKind::StateEntered { name, input, .. } if name == "AwaitJob" => Some((
                event.timestamp,
                input["progress"]["nextCheckSeconds"].as_u64().unwrap(),
            )),
            _ => None,
        })
        .unwrap();
    let detected = fallback.detected_at();
    assert_eq!(
        detected,
        last_wait.0 + SignedDuration::from_secs(last_wait.1 as i64)
    );
    assert!(detected.duration_since(job_end(&lost)) <= SignedDuration::from_secs(last_wait.1 as i64));
    // ... and records the same export.
    let lost_record = lost.record("nightly-event").await;
    let mut expected = comparable(&record);
    let mut got = comparable(&lost_record);
    // Without the In Progress event the queued time is split at a fallback check.
    expected.as_object_mut().unwrap().remove("queuedSeconds");
    got.as_object_mut().unwrap().remove("queuedSeconds");
    assert_eq!(got, expected);
}

#[tokio::test]
async fn duplicate_and_out_of_order_events_wake_once_per_status() {
    let s = scenario("event-dupes", |c| {
        c.profile = job_of(2.0);
        c.event_faults = EventFaults {
            duplicate_rate: 1.0,
            reorder_rate: 1.0,
            ..EventFaults::none()
        };
    })
    .await;
    let run = run(&s, "nightly-dupes").await;
    print("duplicated and reordered events", &s, &run);
    assert_eq!(run.done.status, ExecutionStatus::Succeeded);
    let deliveries = s.stack.event_deliveries();
    // Every event came twice; Submitted was held back and came after In Progress.
    assert_eq!(
        outcomes(&deliveries, "Export Job In Progress"),
        ["WOKEN", "ALREADY_SEEN"]
    );
    assert_eq!(
        outcomes(&deliveries, "Export Job Submitted"),
        ["ALREADY_SEEN", "ALREADY_SEEN"]
    );
    assert_eq!(
        outcomes(&deliveries, "Export Job Completed"),
        ["WOKEN", "ALREADY_SEEN"]
    );
    let order: Vec<&str> = deliveries.iter().map(|d| d.detail_type.as_str()).collect();
    let first_submitted = order.iter().position(|t| *t == "Export Job Submitted").unwrap();
    let first_running = order.iter().position(|t| *t == "Export Job In Progress").unwrap();
    assert!(first_running < first_submitted, "reordered: {order:?}");
    assert_eq!(
        run.wakes(),
        ["Export Job In Progress", "timeout", "Export Job Completed"]
    );

    // An In Progress event after Completed (replayed late) changes nothing.
    let in_progress = s
        .stack
        .emulator
        .events()
        .into_iter()
        .find(|e| e.event.detail_type == "Export Job In Progress")
        .unwrap()
        .event
        .to_json();
    let late = s.stack.put_event(in_progress).await;
    assert_eq!(late.outcome(), "ALREADY_SEEN");
    let record = s.record("nightly-dupes").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::Completed));
    assert_eq!(s.exports_started(), 1);
}

#[tokio::test]
async fn a_job_that_ends_before_the_token_is_stored_is_woken_by_the_wait_itself() {
    let s = scenario("event-early", |c| {
        c.profile = JobProfile::default().with_timing(Duration::ZERO, Duration::ZERO);
    })
    .await;
    // The first record write crashes: while it is retried, the job's events
    // arrive with no token stored yet.
    s.stack
        .processes
        .as_ref()
        .unwrap()
        .crash_on_invocation("hlx-record-result", 1);
    let run = run(&s, "nightly-early").await;
    print("job ended before the token was stored", &s, &run);
    assert_eq!(run.done.status, ExecutionStatus::Succeeded, "{:?}", run.done);
    let deliveries = s.stack.event_deliveries();
    assert_eq!(
        outcomes(&deliveries, "Export Job Completed"),
        ["NOT_AWAITED"],
        "the event came before the token was stored"
    );
    assert_eq!(run.wakes(), ["by await-job"]);
    assert!(run.detected_at().duration_since(job_end(&s)) <= SignedDuration::from_secs(5));
    assert_eq!(
        s.record("nightly-early").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

#[tokio::test]
async fn an_event_for_a_job_hlx_did_not_start_is_a_no_op() {
    let s = scenario("event-stranger", |c| c.profile = job_of(1.0)).await;
    // Somebody else's export on the same data store, started outside hlx.
    s.stack
        .emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": s.datastore(),
                "JobName": "someone-elses-export",
                "OutputDataConfig": {"S3Configuration": {"S3Uri": "s3://other-bucket/x", "KmsKeyId": "alias/other"}},
                "DataAccessRoleArn": "arn:aws:iam::123456789012:role/other",
                "ClientToken": "not-hlx"
            }),
        )
        .await
        .expect("the stranger's export starts");
    let run = run(&s, "nightly-ours").await;
    print("a stranger's job on the same data store", &s, &run);
    assert_eq!(run.done.status, ExecutionStatus::Succeeded, "{:?}", run.done);
    let stranger = s.stack.emulator.export_jobs()[0].job_id.clone();
    let deliveries = s.stack.event_deliveries();
    let theirs: Vec<String> = deliveries
        .iter()
        .filter(|d| d.job_id == stranger)
        .map(BusDelivery::outcome)
        .collect();
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|o| o == "NOT_AWAITED"), "{theirs:?}");
    // A made-up job id is answered the same way, and an event of another data store is not routed.
    let mut made_up = s.stack.emulator.events()[0].event.to_json();
    made_up["detail"]["jobId"] = json!("0123456789abcdef0123456789abcdef");
    assert_eq!(s.stack.put_event(made_up.clone()).await.outcome(), "NOT_AWAITED");
    made_up["detail"]["datastoreId"] = json!("not-our-datastore");
    assert_eq!(s.stack.put_event(made_up).await.outcome(), "NOT_ROUTED");
    assert!(deliveries.iter().all(|d| matches!(d.result, Some(Ok(_)))));
}

#[tokio::test]
async fn a_cancellation_without_an_event_is_found_by_the_fallback() {
    let s = scenario("event-cancel", |c| c.profile = job_of(6.0)).await;
    let handle = s
        .stack
        .start_execution("nightly-cancelled", s.stack.export_request(s.datastore()))
        .unwrap();
    let t0 = s.stack.clock.now();
    s.stack.runner.run_until(t0 + SignedDuration::from_mins(30)).await;
    let job = s.stack.emulator.export_jobs()[0].job_id.clone();
    let cancelled = s.stack.emulator.cancel_export(s.datastore(), &job).unwrap();
    assert_eq!(cancelled, Some(JobStatus::CancelSubmitted));
    s.stack.runner.wait_all().await;
    let run = Run {
        done: handle.describe(),
        handle,
    };
    print("cancelled mid-run (no event)", &s, &run);
    assert_eq!(run.done.status, ExecutionStatus::Failed);
    assert_eq!(run.done.error.as_deref(), Some("hlx.JobFailed"));
    assert_eq!(run.wakes(), ["Export Job In Progress", "timeout"]);
    let record = s.record("nightly-cancelled").await;
    assert_eq!(record.status, RecordStatus::Job(JobStatus::CancelCompleted));
    // Found at the first fallback, an hour after the job started running.
    let running_since = s.stack.emulator.export_jobs()[0].start_time.unwrap();
    assert_eq!(run.detected_at(), running_since + SignedDuration::from_hours(1));
}

#[tokio::test]
async fn an_event_after_the_fallback_fired_finds_the_task_timed_out() {
    let s = scenario("event-late", |c| {
        c.profile = job_of(0.5);
        c.event_faults = EventFaults {
            delay_rate: 1.0,
            delay: Duration::from_secs(2 * HOUR)..Duration::from_secs(2 * HOUR),
            ..EventFaults::none()
        };
    })
    .await;
    let run = run(&s, "nightly-late").await;
    assert_eq!(run.done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        run.wakes(),
        ["timeout"],
        "the fallback found the end before any event came"
    );
    // Let the late events arrive after the execution ended.
    let end = run.done.stop_date.unwrap();
    s.stack
        .runner
        .run_until(end + SignedDuration::from_hours(3))
        .await;
    print("every event 2 h late", &s, &run);
    let deliveries = s.stack.event_deliveries();
    assert_eq!(outcomes(&deliveries, "Export Job In Progress"), ["TOKEN_GONE"]);
    assert_eq!(outcomes(&deliveries, "Export Job Completed"), ["TOKEN_GONE"]);
    let logs = s.stack.processes.as_ref().unwrap().log_text("hlx-job-events");
    assert!(
        logs.contains("TaskTimedOut"),
        "job-events logged Step Functions' answer: {logs}"
    );
    assert!(!logs.contains("taskToken"), "job-events never logs the token");
    assert_eq!(
        s.record("nightly-late").await.status,
        RecordStatus::Job(JobStatus::Completed)
    );
}
