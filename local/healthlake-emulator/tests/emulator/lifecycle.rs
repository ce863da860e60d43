//! Job lifecycles on virtual time: statuses, FIFO queueing, idempotency, outcomes.

use std::time::{Duration, Instant};

use aws_sdk_healthlake::primitives::DateTime;
use aws_sdk_healthlake::types::{InputDataConfig, JobStatus, OutputDataConfig, S3Configuration};
use hlx_core::JobStatus as Status;
use hlx_healthlake_emulator::{JobKind, JobProfile, Outcome, Transition};
use jiff::{SignedDuration, Timestamp};

use crate::common::*;

fn profile(queue_secs: u64, run_secs: u64) -> JobProfile {
    JobProfile::default().with_timing(Duration::from_secs(queue_secs), Duration::from_secs(run_secs))
}

fn at(ts: Timestamp) -> DateTime {
    DateTime::from_millis(ts.as_millisecond())
}

fn of_job<'a>(transitions: &'a [Transition], job_id: &str) -> Vec<(&'a Status, Timestamp)> {
    transitions
        .iter()
        .filter(|t| t.job_id == job_id)
        .map(|t| (&t.status, t.at))
        .collect()
}

#[tokio::test]
async fn a_three_hour_export_completes_when_the_clock_is_advanced() {
    let wall = Instant::now();
    let h = Harness::new(profile(10, 3 * 3600)).await;
    let t0 = h.clock.now();
    let job = h.start_export(|a| a).await.unwrap();
    let id = job.job_id();
    assert_eq!(h.describe_export(id).await.job_status(), &JobStatus::Submitted);

    h.advance_secs(9);
    assert_eq!(h.describe_export(id).await.job_status(), &JobStatus::Submitted);
    h.advance_secs(1);
    assert_eq!(h.describe_export(id).await.job_status(), &JobStatus::InProgress);

    h.advance_secs(3 * 3600 - 1);
    let running = h.describe_export(id).await;
    assert_eq!(running.job_status(), &JobStatus::InProgress);
    assert_eq!(running.end_time(), None);

    // Well past the end: the job ended at its scheduled time, not at this call.
    h.advance_secs(3600);
    let done = h.describe_export(id).await;
    assert_eq!(done.job_status(), &JobStatus::Completed);
    let end = t0 + SignedDuration::from_secs(10 + 3 * 3600);
    assert_eq!(done.end_time(), Some(&at(end)));
    assert_eq!(
        of_job(&h.emulator.transitions(), id),
        [
            (&Status::Submitted, t0),
            (&Status::InProgress, t0 + SignedDuration::from_secs(10)),
            (&Status::Completed, end),
        ]
    );
    assert!(
        wall.elapsed() < Duration::from_secs(20),
        "virtual time is instant"
    );
}

#[tokio::test]
async fn a_second_export_queues_and_starts_exactly_when_the_first_ends() {
    let h = Harness::new(profile(5, 600)).await;
    let t0 = h.clock.now();
    let first = h.start_export(|a| a).await.unwrap().job_id().to_owned();
    h.advance_secs(5);
    assert_eq!(
        h.describe_export(&first).await.job_status(),
        &JobStatus::InProgress
    );

    let second = h.start_export(|a| a).await.unwrap().job_id().to_owned();
    h.advance_secs(1);
    let third = h.start_export(|a| a).await.unwrap().job_id().to_owned();
    h.advance_secs(10);
    for queued in [&second, &third] {
        assert_eq!(h.describe_export(queued).await.job_status(), &JobStatus::Queued);
    }
    let first_end = t0 + SignedDuration::from_secs(605);
    assert_eq!(h.emulator.next_change_at(), Some(first_end));

    // Jump past all three in one step: every change lands at its own time.
    h.advance_secs(3 * 600);
    let listed = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .export_job_properties_list()
            .iter()
            .all(|j| j.job_status() == &JobStatus::Completed)
    );
    let transitions = h.emulator.transitions();
    let second_start = first_end;
    let third_start = second_start + SignedDuration::from_secs(600);
    assert_eq!(
        of_job(&transitions, &second),
        [
            (&Status::Submitted, t0 + SignedDuration::from_secs(5)),
            (&Status::Queued, t0 + SignedDuration::from_secs(10)),
            (&Status::InProgress, second_start),
            (&Status::Completed, third_start),
        ]
    );
    assert_eq!(
        of_job(&transitions, &third)[2..],
        [
            (&Status::InProgress, third_start),
            (&Status::Completed, third_start + SignedDuration::from_secs(600)),
        ]
    );
    assert_never_two_running(&transitions, JobKind::Export);
    assert_eq!(h.emulator.next_change_at(), None);
}

fn assert_never_two_running(transitions: &[Transition], kind: JobKind) {
    let mut running: Option<&str> = None;
    for t in transitions.iter().filter(|t| t.kind == kind) {
        match t.status {
            Status::InProgress => {
                assert!(running.is_none(), "{} started while {running:?} ran", t.job_id);
                running = Some(&t.job_id);
            }
            ref s if s.is_terminal() && running == Some(t.job_id.as_str()) => running = None,
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_queue_is_fifo_by_submit_order_across_data_stores() {
    let h = Harness::new(profile(0, 100)).await;
    let other = h
        .emulator
        .create_datastore("other", Some(profile(30, 100)))
        .unwrap();
    let t0 = h.clock.now();
    let running = h.start_export(|a| a).await.unwrap();
    assert_eq!(
        running.job_status(),
        &JobStatus::InProgress,
        "no queue delay, nothing running"
    );
    // Submitted first but ready later (30 s queue delay) ...
    let early = h
        .start_export(|a| StartArgs {
            datastore_id: other.clone(),
            ..a
        })
        .await
        .unwrap()
        .job_id()
        .to_owned();
    h.advance_secs(1);
    // ... versus submitted later but ready at once.
    let late = h.start_export(|a| a).await.unwrap();
    assert_eq!(late.job_status(), &JobStatus::Queued);
    h.advance_secs(400);
    h.emulator.advance();
    let transitions = h.emulator.transitions();
    let start_of = |id: &str| {
        of_job(&transitions, id)
            .into_iter()
            .find(|(s, _)| **s == Status::InProgress)
            .unwrap()
            .1
    };
    assert_eq!(start_of(&early), t0 + SignedDuration::from_secs(100));
    assert_eq!(start_of(late.job_id()), t0 + SignedDuration::from_secs(200));
    assert_never_two_running(&transitions, JobKind::Export);
}

#[tokio::test]
async fn imports_have_their_own_queue_and_wait_as_submitted() {
    let h = Harness::new(profile(0, 100)).await;
    h.put_object(
        "s3://hlx-imports/in/patients.ndjson",
        &[r#"{"resourceType":"Patient","id":"queued-import"}"#],
    );
    let import = || {
        h.client
            .start_fhir_import_job()
            .datastore_id(&h.datastore_id)
            .input_data_config(InputDataConfig::S3Uri("s3://hlx-imports/in/".into()))
            .job_output_data_config(OutputDataConfig::S3Configuration(
                S3Configuration::builder()
                    .s3_uri("s3://hlx-imports/out/")
                    .kms_key_id(KMS)
                    .build()
                    .unwrap(),
            ))
            .data_access_role_arn(ROLE)
            .send()
    };
    let export = h.start_export(|a| a).await.unwrap();
    let first = import().await.unwrap();
    let second = import().await.unwrap();
    assert_eq!(export.job_status(), &JobStatus::InProgress);
    assert_eq!(
        first.job_status(),
        &JobStatus::InProgress,
        "an export does not block an import"
    );
    assert_eq!(
        second.job_status(),
        &JobStatus::Submitted,
        "a waiting import stays SUBMITTED"
    );
    let waiting = h.describe_import(&h.datastore_id, second.job_id()).await;
    assert_eq!(waiting.job_status(), &JobStatus::Submitted);
    assert_eq!(
        waiting.job_progress_report(),
        None,
        "a waiting import reports nothing"
    );
    h.advance_secs(100);
    let described = h.describe_import(&h.datastore_id, second.job_id()).await;
    assert_eq!(described.job_status(), &JobStatus::InProgress);
    let first_done = h.describe_import(&h.datastore_id, first.job_id()).await;
    assert_eq!(first_done.job_status(), &JobStatus::Completed);
    assert_eq!(
        first_done
            .job_progress_report()
            .and_then(|r| r.total_number_of_resources_imported()),
        Some(1)
    );
    assert!(
        h.emulator.resource_ids(&h.datastore_id).unwrap()["Patient"].contains("queued-import"),
        "loaded while the export still runs"
    );
    assert_eq!(
        h.describe_export(export.job_id()).await.job_status(),
        &JobStatus::Completed,
        "the export ran alongside the first import"
    );
    h.advance_secs(100);
    h.emulator.advance();
    let transitions = h.emulator.transitions();
    assert!(
        !transitions
            .iter()
            .any(|t| t.kind == JobKind::Import && t.status == Status::Queued)
    );
    assert_never_two_running(&transitions, JobKind::Import);
    let imports = h.emulator.import_jobs();
    assert!(imports.iter().all(|j| j.status == Status::Completed));
    assert_eq!(imports[1].start_time, imports[0].end_time);
    assert!(
        imports
            .iter()
            .all(|j| j.import_report.is_some_and(|r| r.imported_resources == 1))
    );
    let patients = h.emulator.datastores()[0].resource_counts["Patient"];
    assert_eq!(patients, 11, "the second import replaced what the first loaded");
}

#[tokio::test]
async fn start_is_idempotent_per_data_store_and_operation() {
    let h = Harness::new(profile(5, 60)).await;
    let token = |a: StartArgs| StartArgs {
        client_token: Some("nightly-2026-01-01".into()),
        ..a
    };
    let first = h.start_export(token).await.unwrap();
    assert_eq!(first.job_status(), &JobStatus::Submitted);
    h.advance_secs(5);
    let again = h.start_export(token).await.unwrap();
    assert_eq!(again.job_id(), first.job_id());
    assert_eq!(again.job_status(), &JobStatus::InProgress, "the current status");
    assert_eq!(h.emulator.export_jobs().len(), 1);

    let (code, status, message) = failure(
        h.start_export(|a| StartArgs {
            job_name: Some("other".into()),
            ..token(a)
        })
        .await,
    );
    assert_eq!((code.as_str(), status), ("ConflictException", 409));
    assert!(message.contains("ClientToken"), "{message}");
    let (code, _, _) = failure(
        h.start_export(|a| StartArgs {
            s3_uri: "s3://elsewhere/".into(),
            ..token(a)
        })
        .await,
    );
    assert_eq!(code, "ConflictException");

    // Tokens are scoped to a data store ...
    let other = h.emulator.create_datastore("other", None).unwrap();
    let elsewhere = h
        .start_export(|a| StartArgs {
            datastore_id: other.clone(),
            ..token(a)
        })
        .await
        .unwrap();
    assert_ne!(elsewhere.job_id(), first.job_id());
    // ... and to an operation.
    let import = h
        .client
        .start_fhir_import_job()
        .datastore_id(&h.datastore_id)
        .input_data_config(InputDataConfig::S3Uri("s3://hlx-imports/in/".into()))
        .job_output_data_config(OutputDataConfig::S3Configuration(
            S3Configuration::builder()
                .s3_uri("s3://hlx-imports/out/")
                .kms_key_id(KMS)
                .build()
                .unwrap(),
        ))
        .data_access_role_arn(ROLE)
        .client_token("nightly-2026-01-01")
        .send()
        .await
        .unwrap();
    assert_ne!(import.job_id(), first.job_id());

    // Without a token the SDK makes up a fresh one per call.
    let a = h.start_export(|a| a).await.unwrap();
    let b = h.start_export(|a| a).await.unwrap();
    assert_ne!(a.job_id(), b.job_id());
    assert_eq!(h.emulator.export_jobs().len(), 4);
    assert!(h.emulator.export_jobs()[2].client_token.is_some());
}

#[tokio::test]
async fn failed_and_completed_with_errors_jobs_carry_a_message() {
    let h = Harness::new(profile(0, 60)).await;
    h.emulator
        .set_profile(
            &h.datastore_id,
            profile(0, 60).with_outcome(Outcome::Failed {
                message: "Access denied to the output bucket".into(),
            }),
        )
        .unwrap();
    let failed = h.start_export(|a| a).await.unwrap();
    h.advance_secs(60);
    let props = h.describe_export(failed.job_id()).await;
    assert_eq!(props.job_status(), &JobStatus::Failed);
    assert_eq!(props.message(), Some("Access denied to the output bucket"));
    assert!(props.end_time().is_some());

    h.emulator
        .set_profile(
            &h.datastore_id,
            profile(0, 60).with_outcome(Outcome::completed_with_errors()),
        )
        .unwrap();
    let partial = h.start_export(|a| a).await.unwrap();
    h.advance_secs(60);
    let props = h.describe_export(partial.job_id()).await;
    assert_eq!(props.job_status(), &JobStatus::CompletedWithErrors);
    assert!(props.message().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn jobs_keep_the_profile_they_were_submitted_with() {
    let h = Harness::new(profile(0, 60)).await;
    let job = h.start_export(|a| a).await.unwrap();
    h.emulator.set_profile(&h.datastore_id, profile(0, 6000)).unwrap();
    h.advance_secs(60);
    assert_eq!(
        h.describe_export(job.job_id()).await.job_status(),
        &JobStatus::Completed
    );
}

/// How a virtual-time runner drives the emulator: jump to each next change.
#[tokio::test]
async fn a_runner_can_jump_from_change_to_change() {
    let h = Harness::new(profile(30, 7200)).await;
    let jobs: Vec<String> = futures_join(&h, 3).await;
    let mut steps = 0;
    while let Some(next) = h.emulator.next_change_at() {
        assert!(next > h.clock.now() || steps == 0);
        h.clock.advance_to(next);
        let applied = h.emulator.advance();
        assert!(!applied.is_empty(), "every scheduled change applies something");
        assert!(applied.iter().all(|t| t.at == next));
        steps += 1;
        assert!(steps < 20);
    }
    // 3 jobs ready at the same instant, then 3 ends (each starting the next).
    assert_eq!(steps, 4);
    let done = h.emulator.export_jobs();
    assert!(done.iter().all(|j| j.status == Status::Completed));
    assert_eq!(done.iter().map(|j| j.job_id.clone()).collect::<Vec<_>>(), jobs);
    assert_eq!(
        done[2].end_time.unwrap(),
        done[0].submit_time + SignedDuration::from_secs(30 + 3 * 7200)
    );
}

async fn futures_join(h: &Harness, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(h.start_export(|a| a).await.unwrap().job_id().to_owned());
    }
    ids
}

#[tokio::test]
async fn a_cancelled_export_goes_through_the_cancel_statuses_without_events_and_frees_its_slot() {
    let h = Harness::new(profile(5, 3600)).await;
    let t0 = h.clock.now();
    let running = h.start_export(|a| a).await.unwrap().job_id().to_owned();
    h.advance_secs(5);
    let queued = h.start_export(|a| a).await.unwrap().job_id().to_owned();
    h.advance_secs(600);
    assert_eq!(h.describe_export(&queued).await.job_status(), &JobStatus::Queued);

    let cancelled = h.emulator.cancel_export(&h.datastore_id, &running).unwrap();
    assert_eq!(cancelled, Some(Status::CancelSubmitted));
    assert_eq!(
        h.describe_export(&running).await.job_status(),
        &JobStatus::CancelSubmitted
    );
    h.advance_secs(30);
    assert_eq!(
        h.describe_export(&running).await.job_status(),
        &JobStatus::CancelInProgress
    );
    assert_eq!(
        h.describe_export(&queued).await.job_status(),
        &JobStatus::Queued,
        "the slot is still held"
    );
    h.advance_secs(30);
    let described = h.describe_export(&running).await;
    assert_eq!(described.job_status(), &JobStatus::CancelCompleted);
    assert_eq!(
        described.end_time(),
        Some(&at(t0 + SignedDuration::from_secs(665)))
    );
    assert_eq!(
        h.describe_export(&queued).await.job_status(),
        &JobStatus::InProgress,
        "the next export starts when the cancellation completes"
    );
    // A job that ended cannot be cancelled; an unknown one is an error.
    assert_eq!(h.emulator.cancel_export(&h.datastore_id, &running).unwrap(), None);
    assert!(h.emulator.cancel_export(&h.datastore_id, "nope").is_err());
    // HealthLake sends no events for the cancel statuses.
    let detail_types: Vec<String> = h
        .emulator
        .events()
        .iter()
        .filter(|e| e.event.detail.job_id == running)
        .map(|e| e.event.detail_type.clone())
        .collect();
    assert_eq!(detail_types, ["Export Job Submitted", "Export Job In Progress"]);
}
