//! HealthLake's EventBridge events: envelope and detail, order, faults,
//! virtual-time delivery, and routing by the deployed event pattern.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_healthlake::types::{InputDataConfig, OutputDataConfig, S3Configuration};
use hlx_clock::VirtualClock;
use hlx_healthlake_emulator::{
    DETAIL_TYPES, DeliveredEvent, Emulator, EmulatorConfig, EventFaults, EventRecord, FaultSpec, Faults,
    JobProfile, Operation, Outcome, check_pattern, pattern_matches,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::common::*;

fn profile(queue_secs: u64, run_secs: u64) -> JobProfile {
    JobProfile::default().with_timing(Duration::from_secs(queue_secs), Duration::from_secs(run_secs))
}

/// Advances the clock through every scheduled change.
fn run_out(emulator: &Emulator, clock: &VirtualClock) {
    while let Some(at) = emulator.next_change_at() {
        clock.advance_to(at);
        emulator.advance();
    }
}

fn types_of(events: &[EventRecord], job_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event.detail.job_id == job_id)
        .map(|e| e.event.detail_type.clone())
        .collect()
}

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

async fn start_import(h: &Harness, datastore_id: &str, input: &str) -> String {
    h.client
        .start_fhir_import_job()
        .datastore_id(datastore_id)
        .input_data_config(InputDataConfig::S3Uri(input.into()))
        .job_output_data_config(OutputDataConfig::S3Configuration(
            S3Configuration::builder()
                .s3_uri("s3://hlx-imports/out/")
                .kms_key_id(KMS)
                .build()
                .unwrap(),
        ))
        .data_access_role_arn(ROLE)
        .send()
        .await
        .expect("import")
        .job_id
}

/// Three data stores whose exports end three ways, started over HTTP at
/// t0 + 1.234 s; the second and third queue behind the first.
struct ThreeWays {
    h: Harness,
    t0: Timestamp,
    ids: [String; 3],
    datastores: [String; 3],
}

async fn three_ways(tweak: impl FnOnce(&mut EmulatorConfig)) -> ThreeWays {
    let h = Harness::with_config(profile(5, 60), tweak).await;
    let with_errors = h
        .emulator
        .create_datastore(
            "errors",
            Some(profile(5, 60).with_outcome(Outcome::completed_with_errors())),
        )
        .unwrap();
    let failing = h
        .emulator
        .create_datastore("failing", Some(profile(5, 60).with_outcome(Outcome::failed())))
        .unwrap();
    let t0 = h.clock.now();
    h.clock.advance_by(SignedDuration::from_millis(1234));
    let datastores = [h.datastore_id.clone(), with_errors, failing];
    let mut ids = Vec::new();
    for datastore in &datastores {
        let job = h
            .start_export(|a| StartArgs {
                datastore_id: datastore.clone(),
                ..a
            })
            .await
            .unwrap();
        ids.push(job.job_id().to_owned());
    }
    run_out(&h.emulator, &h.clock);
    ThreeWays {
        h,
        t0,
        ids: ids.try_into().unwrap(),
        datastores,
    }
}

#[tokio::test]
async fn every_export_detail_type_has_the_documented_envelope_and_detail() {
    let run = three_ways(|_| {}).await;
    let events = run.h.emulator.events();
    let uuid =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    let time = |s: i64| (run.t0 + secs(s)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Job 1 runs 6.234..66.234; job 2 queues at 6.234 and runs to 126.234; job 3 to 186.234.
    let expected: [&[(&str, i64)]; 3] = [
        &[
            ("Export Job Submitted", 1),
            ("Export Job In Progress", 6),
            ("Export Job Completed", 66),
        ],
        &[
            ("Export Job Submitted", 1),
            ("Export Job Queued", 6),
            ("Export Job In Progress", 66),
            ("Export Job Completed With Errors", 126),
        ],
        &[
            ("Export Job Submitted", 1),
            ("Export Job Queued", 6),
            ("Export Job In Progress", 126),
            ("Export Job Failed", 186),
        ],
    ];
    let mut seen_ids = HashSet::new();
    for ((job_id, datastore_id), expected) in run.ids.iter().zip(&run.datastores).zip(expected) {
        let of_job: Vec<&EventRecord> = events
            .iter()
            .filter(|e| &e.event.detail.job_id == job_id)
            .collect();
        assert_eq!(of_job.len(), expected.len(), "{job_id}");
        for (record, (detail_type, at)) in of_job.iter().zip(expected) {
            let json = record.event.to_json();
            let id = json["id"].as_str().unwrap().to_owned();
            assert!(uuid.is_match(&id), "{id}");
            assert!(seen_ids.insert(id.clone()), "ids are unique");
            // The whole event, field for field: nothing more, nothing less.
            assert_eq!(
                json,
                json!({
                    "version": "0",
                    "id": id,
                    "detail-type": detail_type,
                    "source": "aws.healthlake",
                    "account": "123456789012",
                    "time": time(*at),
                    "region": "us-east-1",
                    "resources": [format!("arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/{datastore_id}")],
                    "detail": {
                        "jobId": job_id,
                        "submitTime": "2026-01-01T00:00:01.234Z",
                        "datastoreId": datastore_id,
                        "outputDataConfig": {"s3Uri": S3},
                    },
                }),
            );
            assert!(!record.dropped && !record.duplicated && !record.reordered && record.delay.is_none());
            assert_eq!(record.deliver_at, Some(record.transition.at));
        }
    }
    // The time is the transition's, cut to the second.
    assert_eq!(events[0].event.time, "2026-01-01T00:00:01Z");
    assert_eq!(
        events[0].transition.at,
        run.t0 + SignedDuration::from_millis(1234)
    );
}

#[tokio::test]
async fn import_events_carry_the_input_location_and_have_no_queued_event() {
    let h = Harness::new(profile(5, 60)).await;
    for input in ["s3://hlx-imports/in/", "s3://hlx-imports/in2/"] {
        h.put_object(
            &format!("{input}patients.ndjson"),
            &[r#"{"resourceType":"Patient","id":"p1"}"#],
        );
    }
    let first = start_import(&h, &h.datastore_id, "s3://hlx-imports/in/").await;
    let second = start_import(&h, &h.datastore_id, "s3://hlx-imports/in2/").await;
    run_out(&h.emulator, &h.clock);
    let events = h.emulator.events();
    assert_eq!(
        types_of(&events, &first),
        [
            "Import Job Submitted",
            "Import Job In Progress",
            "Import Job Completed"
        ]
    );
    // The second waits SUBMITTED (imports have no QUEUED), so no Queued event.
    assert_eq!(types_of(&events, &second), types_of(&events, &first));
    let last = events.last().unwrap().event.to_json();
    assert_eq!(
        last["detail"],
        json!({
            "jobId": second,
            "submitTime": "2026-01-01T00:00:00.000Z",
            "datastoreId": h.datastore_id,
            "inputDataConfig": {"s3Uri": "s3://hlx-imports/in2/"},
        })
    );
}

#[tokio::test]
async fn a_jobs_events_follow_its_lifecycle_with_one_submit_time() {
    let run = three_ways(|_| {}).await;
    let events = run.h.emulator.events();
    // Produced in the order of the transition log, one per status change.
    let transitions = run.h.emulator.transitions();
    assert_eq!(events.len(), transitions.len());
    for (event, transition) in events.iter().zip(&transitions) {
        assert_eq!(&event.transition, transition);
    }
    let mut submit_times: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in &events {
        submit_times
            .entry(&e.event.detail.job_id)
            .or_default()
            .insert(&e.event.detail.submit_time);
    }
    assert!(submit_times.values().all(|times| times.len() == 1));
    // Delivered in time order: by job, the lifecycle.
    let delivered = run.h.emulator.take_due_events(run.h.clock.now());
    assert_eq!(delivered.len(), events.len());
    let of_third: Vec<&str> = delivered
        .iter()
        .filter(|d| d.event.detail.job_id == run.ids[2])
        .map(|d| d.event.detail_type.as_str())
        .collect();
    assert_eq!(
        of_third,
        [
            "Export Job Submitted",
            "Export Job Queued",
            "Export Job In Progress",
            "Export Job Failed"
        ]
    );
    assert!(delivered.windows(2).all(|w| w[0].deliver_at <= w[1].deliver_at));
    // Each delivery is handed out once.
    assert!(run.h.emulator.take_due_events(run.h.clock.now()).is_empty());
}

#[tokio::test]
async fn queued_events_can_be_turned_off() {
    let run = three_ways(|c| c.queued_events = false).await;
    let events = run.h.emulator.events();
    assert!(events.iter().all(|e| !e.event.detail_type.ends_with("Queued")));
    assert_eq!(
        types_of(&events, &run.ids[1]),
        [
            "Export Job Submitted",
            "Export Job In Progress",
            "Export Job Completed With Errors"
        ]
    );
    // The QUEUED status itself is still there.
    assert!(
        run.h
            .emulator
            .transitions()
            .iter()
            .any(|t| t.status == hlx_core::JobStatus::Queued)
    );
}

#[tokio::test]
async fn failed_refused_or_repeated_start_calls_make_no_events() {
    let h = Harness::with_config(profile(5, 60), |c| {
        c.faults = Faults::none().with(
            Operation::StartFhirExportJob,
            FaultSpec {
                throttle_rate: 1.0,
                ..FaultSpec::default()
            },
        );
    })
    .await;
    for _ in 0..5 {
        assert_eq!(failure(h.start_export(|a| a).await).1, 429);
    }
    h.emulator.set_faults(Faults::none().with(
        Operation::StartFhirExportJob,
        FaultSpec {
            internal_error_rate: 1.0,
            ..FaultSpec::default()
        },
    ));
    assert_eq!(failure(h.start_export(|a| a).await).1, 500);
    h.emulator.set_faults(Faults::none());
    let invalid = h
        .start_export(|a| StartArgs {
            s3_uri: "not-s3".into(),
            ..a
        })
        .await;
    assert_eq!(failure(invalid).1, 400);
    let unknown = h
        .start_export(|a| StartArgs {
            datastore_id: "0123456789abcdef0123456789abcdef".into(),
            ..a
        })
        .await;
    assert_eq!(failure(unknown).1, 404);
    h.advance_secs(3600);
    assert!(h.emulator.events().is_empty());
    assert_eq!(h.emulator.next_event_at(), None);

    // An idempotent retry returns the same job: still one Submitted event.
    let token = |a: StartArgs| StartArgs {
        client_token: Some("nightly-2026-01-01".into()),
        ..a
    };
    let job = h.start_export(token).await.unwrap();
    let again = h.start_export(token).await.unwrap();
    assert_eq!(job.job_id(), again.job_id());
    let events = h.emulator.events();
    assert_eq!(types_of(&events, job.job_id()), ["Export Job Submitted"]);
    assert_eq!(events.len(), 1);
}

// ---- faults and delivery, through the library ----

fn library(seed: u64, faults: EventFaults) -> (Emulator, VirtualClock, String) {
    let clock = VirtualClock::default();
    let emulator = Emulator::new(
        EmulatorConfig {
            seed,
            event_faults: faults,
            default_profile: profile(5, 60),
            ..EmulatorConfig::default()
        },
        Arc::new(clock.clone()),
    );
    let datastore_id = emulator.create_datastore("clinic", None).unwrap();
    (emulator, clock, datastore_id)
}

fn export_input(datastore_id: &str) -> Value {
    json!({
        "DatastoreId": datastore_id,
        "OutputDataConfig": {"S3Configuration": {"S3Uri": S3, "KmsKeyId": KMS}},
        "DataAccessRoleArn": ROLE,
    })
}

/// `jobs` exports started at once (one runs, the rest queue), run to the end
/// while a bus takes every delivery the moment it is due.
async fn many_jobs(
    seed: u64,
    faults: EventFaults,
    jobs: usize,
) -> (Emulator, Vec<(Timestamp, DeliveredEvent)>) {
    let (emulator, clock, datastore_id) = library(seed, faults);
    emulator.set_profile(&datastore_id, profile(0, 1)).unwrap();
    for _ in 0..jobs {
        emulator
            .call("StartFHIRExportJob", export_input(&datastore_id))
            .await
            .expect("start");
    }
    // The runner's loop: deliver what is due now (the calls above made
    // events too), then sleep until the next change.
    let mut taken = Vec::new();
    loop {
        taken.extend(
            emulator
                .take_due_events(clock.now())
                .into_iter()
                .map(|d| (clock.now(), d)),
        );
        let Some(at) = emulator.next_change_at() else {
            break;
        };
        clock.advance_to(at);
        emulator.advance();
    }
    (emulator, taken)
}

fn rate(hits: usize, of: usize) -> f64 {
    hits as f64 / of as f64
}

fn faults_of_every_kind() -> EventFaults {
    EventFaults {
        drop_rate: 0.1,
        delay_rate: 0.2,
        delay: Duration::from_secs(1)..Duration::from_secs(10),
        duplicate_rate: 0.15,
        reorder_rate: 0.25,
    }
}

#[tokio::test]
async fn each_event_fault_holds_its_rate_and_a_seed_repeats_exactly() {
    let (emulator, taken) = many_jobs(5, faults_of_every_kind(), 300).await;
    let events = emulator.events();
    assert!(events.len() > 1000, "{}", events.len());
    let kept: Vec<&EventRecord> = events.iter().filter(|e| !e.dropped).collect();
    let dropped = rate(events.len() - kept.len(), events.len());
    let delayed = rate(kept.iter().filter(|e| e.delay.is_some()).count(), kept.len());
    let duplicated = rate(kept.iter().filter(|e| e.duplicated).count(), kept.len());
    // Reordering applies to an event that has a next one and does not release a held one.
    let mut holding = HashSet::new();
    let (mut eligible, mut reordered) = (0, 0);
    for e in &events {
        let job = e.event.detail.job_id.as_str();
        let releases = holding.remove(job);
        if !e.dropped && !releases && !e.event.detail_type.contains("Complete") {
            eligible += 1;
        }
        if e.reordered {
            assert!(!releases && !e.dropped);
            reordered += 1;
            holding.insert(job);
        }
    }
    let reordered = rate(reordered, eligible);
    for (name, measured, target) in [
        ("drop", dropped, 0.1),
        ("delay", delayed, 0.2),
        ("duplicate", duplicated, 0.15),
        ("reorder", reordered, 0.25),
    ] {
        assert!(
            (measured - target).abs() <= 0.04,
            "{name}: {measured} vs {target}"
        );
    }
    for e in &events {
        if let Some(delay) = e.delay {
            assert!(
                (Duration::from_secs(1)..Duration::from_secs(10)).contains(&delay),
                "{delay:?}"
            );
        }
        assert_eq!(e.dropped, e.deliver_at.is_none());
        assert_eq!(
            e.delivered,
            if e.dropped { 0 } else { 1 + u8::from(e.duplicated) }
        );
    }
    // Every kept event delivered, duplicates twice, dropped ones never.
    assert_eq!(
        taken.len(),
        kept.len() + kept.iter().filter(|e| e.duplicated).count()
    );

    // The same seed repeats exactly; another seed does not.
    let (again, taken_again) = many_jobs(5, faults_of_every_kind(), 300).await;
    assert_eq!(again.events(), events);
    assert_eq!(taken_again, taken);
    let (other, _) = many_jobs(6, faults_of_every_kind(), 300).await;
    let flags = |events: &[EventRecord]| -> Vec<(bool, bool, bool)> {
        events
            .iter()
            .map(|e| (e.dropped, e.duplicated, e.reordered))
            .collect()
    };
    assert_ne!(flags(&other.events()), flags(&events));
}

#[tokio::test]
async fn each_fault_draws_from_its_own_stream() {
    let only_drops = EventFaults {
        drop_rate: 0.1,
        ..EventFaults::none()
    };
    let (a, _) = many_jobs(3, only_drops, 60).await;
    let (b, _) = many_jobs(3, faults_of_every_kind(), 60).await;
    let dropped = |e: &Emulator| -> Vec<bool> { e.events().iter().map(|r| r.dropped).collect() };
    assert_eq!(dropped(&a), dropped(&b));
    assert!(dropped(&a).contains(&true));
    // And ids do not depend on faults.
    let ids = |e: &Emulator| -> Vec<String> { e.events().into_iter().map(|r| r.event.id).collect() };
    assert_eq!(ids(&a), ids(&b));
}

#[tokio::test]
async fn event_faults_never_shift_wire_faults() {
    let mut runs = Vec::new();
    for event_faults in [EventFaults::none(), faults_of_every_kind()] {
        let (emulator, clock, datastore_id) = library(21, event_faults);
        emulator.set_faults(Faults::uniform(FaultSpec {
            throttle_rate: 0.3,
            internal_error_rate: 0.1,
            ..FaultSpec::default()
        }));
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            let started = emulator
                .call("StartFHIRExportJob", export_input(&datastore_id))
                .await;
            outcomes.push(started.map(|v| v["JobId"].clone()).map_err(|e| e.kind));
            clock.advance_by(secs(7));
            let described = emulator
                .call("DescribeFHIRDatastore", json!({"DatastoreId": datastore_id}))
                .await;
            outcomes.push(described.map(|_| Value::Null).map_err(|e| e.kind));
            let _ = emulator.take_due_events(clock.now());
        }
        runs.push((outcomes, emulator.calls(), emulator.transitions()));
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn a_delayed_event_is_due_exactly_at_its_delivery_time() {
    let fixed = Duration::from_secs(30);
    let (emulator, clock, datastore_id) = library(
        1,
        EventFaults {
            delay_rate: 1.0,
            delay: fixed..fixed,
            ..EventFaults::none()
        },
    );
    let t0 = clock.now();
    emulator
        .call("StartFHIRExportJob", export_input(&datastore_id))
        .await
        .unwrap();
    // Submitted at t0, due t0+30. The next change is the job starting at t0+5.
    assert_eq!(emulator.next_event_at(), Some(t0 + secs(30)));
    assert_eq!(emulator.next_change_at(), Some(t0 + secs(5)));
    clock.advance_to(t0 + secs(5));
    assert!(emulator.take_due_events(clock.now()).is_empty());
    // In Progress (t0+5) is due t0+35; the Submitted delivery comes first.
    assert_eq!(emulator.next_change_at(), Some(t0 + secs(30)));

    clock.advance_to(t0 + secs(30) - SignedDuration::from_millis(1));
    assert!(emulator.take_due_events(clock.now()).is_empty());
    // A later `now` than the clock delivers nothing beyond the clock.
    assert!(emulator.take_due_events(t0 + secs(3600)).is_empty());
    clock.advance_to(t0 + secs(30));
    let due = emulator.take_due_events(clock.now());
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event.detail_type, "Export Job Submitted");
    assert_eq!(due[0].event.time, (t0).strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    assert_eq!(due[0].deliver_at, t0 + secs(30));
    assert_eq!(emulator.next_change_at(), Some(t0 + secs(35)));

    // Past everything: the rest at once, in delivery order, and nothing left.
    clock.advance_to(t0 + secs(3600));
    let rest: Vec<(String, Timestamp)> = emulator
        .take_due_events(clock.now())
        .into_iter()
        .map(|d| (d.event.detail_type, d.deliver_at))
        .collect();
    assert_eq!(
        rest,
        [
            ("Export Job In Progress".to_owned(), t0 + secs(35)),
            ("Export Job Completed".to_owned(), t0 + secs(95)),
        ]
    );
    assert_eq!(emulator.next_event_at(), None);
    assert_eq!(emulator.next_change_at(), None);
}

#[tokio::test]
async fn a_virtual_time_runner_wakes_exactly_when_each_event_is_due() {
    let (emulator, taken) = many_jobs(9, faults_of_every_kind(), 40).await;
    assert!(!taken.is_empty());
    // Taken at the very instant it was due, never later.
    let records: HashMap<String, EventRecord> = emulator
        .events()
        .into_iter()
        .map(|r| (r.event.id.clone(), r))
        .collect();
    for (at, delivered) in &taken {
        assert_eq!(*at, delivered.deliver_at, "{:?}", records[&delivered.event.id]);
    }
    for (_, d) in &taken {
        assert_eq!(Some(d.deliver_at), records[&d.event.id].deliver_at);
    }
}

#[tokio::test]
async fn duplicates_repeat_the_event_and_reordered_events_follow_the_next_one() {
    let (emulator, clock, datastore_id) = library(
        2,
        EventFaults {
            duplicate_rate: 1.0,
            ..EventFaults::none()
        },
    );
    emulator
        .call("StartFHIRExportJob", export_input(&datastore_id))
        .await
        .unwrap();
    clock.advance_by(secs(3600));
    let delivered = emulator.take_due_events(clock.now());
    let shape: Vec<(&str, bool)> = delivered
        .iter()
        .map(|d| (d.event.detail_type.as_str(), d.duplicate))
        .collect();
    assert_eq!(
        shape,
        [
            ("Export Job Submitted", false),
            ("Export Job Submitted", true),
            ("Export Job In Progress", false),
            ("Export Job In Progress", true),
            ("Export Job Completed", false),
            ("Export Job Completed", true),
        ]
    );
    for pair in delivered.chunks(2) {
        assert_eq!(pair[0].event, pair[1].event, "same event, same id");
        assert_eq!(pair[0].deliver_at, pair[1].deliver_at);
    }

    let (emulator, clock, datastore_id) = library(
        2,
        EventFaults {
            reorder_rate: 1.0,
            ..EventFaults::none()
        },
    );
    let t0 = clock.now();
    emulator
        .call("StartFHIRExportJob", export_input(&datastore_id))
        .await
        .unwrap();
    // Held: not due, not counted as pending, until the next event of the job.
    assert_eq!(emulator.events()[0].deliver_at, None);
    assert_eq!(emulator.next_event_at(), None);
    assert!(emulator.take_due_events(clock.now()).is_empty());
    clock.advance_by(secs(3600));
    let order: Vec<(String, Timestamp)> = emulator
        .take_due_events(clock.now())
        .into_iter()
        .map(|d| (d.event.detail_type, d.deliver_at))
        .collect();
    // Submitted is held and goes right after In Progress (which releases it
    // and so is not held); the last event is never held.
    assert_eq!(
        order,
        [
            ("Export Job In Progress".to_owned(), t0 + secs(5)),
            ("Export Job Submitted".to_owned(), t0 + secs(5)),
            ("Export Job Completed".to_owned(), t0 + secs(65)),
        ]
    );
    let flags: Vec<bool> = emulator.events().iter().map(|e| e.reordered).collect();
    assert_eq!(flags, [true, false, false]);

    // Everything dropped: produced, recorded, never delivered.
    let (emulator, clock, datastore_id) = library(
        2,
        EventFaults {
            drop_rate: 1.0,
            ..EventFaults::none()
        },
    );
    emulator
        .call("StartFHIRExportJob", export_input(&datastore_id))
        .await
        .unwrap();
    clock.advance_by(secs(3600));
    assert!(emulator.take_due_events(clock.now()).is_empty());
    let events = emulator.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.dropped && e.deliver_at.is_none()));
}

#[tokio::test]
async fn set_event_faults_applies_to_events_produced_from_then_on() {
    let (emulator, clock, datastore_id) = library(4, EventFaults::none());
    emulator
        .call("StartFHIRExportJob", export_input(&datastore_id))
        .await
        .unwrap();
    emulator.set_event_faults(EventFaults {
        drop_rate: 1.0,
        ..EventFaults::none()
    });
    assert_eq!(emulator.config().event_faults.drop_rate, 1.0);
    clock.advance_by(secs(3600));
    let dropped: Vec<bool> = emulator.events().iter().map(|e| e.dropped).collect();
    assert_eq!(dropped, [false, true, true]);
}

// ---- the deployed event pattern ----

fn deployed_pattern(datastore_id: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/healthlake-events.pattern.json"
    );
    let text = std::fs::read_to_string(path).expect("the pattern file");
    assert!(text.contains("${DatastoreId}"), "the placeholder is in the file");
    let pattern: Value = serde_json::from_str(&text.replace("${DatastoreId}", datastore_id)).unwrap();
    check_pattern(&pattern).expect("a well-formed pattern");
    pattern
}

#[tokio::test]
async fn the_deployed_pattern_routes_every_event_of_its_data_store_and_no_other() {
    let h = Harness::new(profile(5, 60)).await;
    let other = h.emulator.create_datastore("other", None).unwrap();
    let with_errors = h
        .emulator
        .create_datastore(
            "errors",
            Some(profile(5, 60).with_outcome(Outcome::completed_with_errors())),
        )
        .unwrap();
    let failing = h
        .emulator
        .create_datastore("failing", Some(profile(5, 60).with_outcome(Outcome::failed())))
        .unwrap();
    for datastore in [&h.datastore_id, &other, &h.datastore_id, &with_errors, &failing] {
        h.start_export(|a| StartArgs {
            datastore_id: datastore.clone(),
            ..a
        })
        .await
        .unwrap();
        start_import(&h, datastore, "s3://hlx-imports/in/").await;
    }
    run_out(&h.emulator, &h.clock);
    let events = h.emulator.events();
    let seen: HashSet<&str> = events.iter().map(|e| e.event.detail_type.as_str()).collect();
    // Every export detail-type occurs (the imports find no input, so they fail).
    for detail_type in DETAIL_TYPES.iter().filter(|t| t.starts_with("Export")) {
        assert!(seen.contains(detail_type), "{detail_type}");
    }

    let mut matched: BTreeMap<String, usize> = BTreeMap::new();
    for datastore in [&h.datastore_id, &other, &with_errors, &failing] {
        let pattern = deployed_pattern(datastore);
        for record in &events {
            let event = record.event.to_json();
            let ours = &record.event.detail.datastore_id == datastore;
            assert_eq!(
                pattern_matches(&pattern, &event),
                ours,
                "{datastore}: {}",
                record.event.detail_type
            );
            if ours {
                *matched.entry(record.event.detail_type.clone()).or_default() += 1;
            }
        }
        // Not another source, nor another detail-type, for the same data store.
        let sample = events
            .iter()
            .find(|r| &r.event.detail.datastore_id == datastore)
            .unwrap()
            .event
            .to_json();
        let mut forged = sample.clone();
        forged["source"] = json!("hlx.local");
        assert!(!pattern_matches(&pattern, &forged));
        let mut cancel = sample;
        cancel["detail-type"] = json!("Export Job Cancel Completed");
        assert!(!pattern_matches(&pattern, &cancel));
    }
    assert_eq!(matched.values().sum::<usize>(), events.len());

    // The file lists exactly the detail-types the emulator knows.
    let pattern = deployed_pattern("x");
    let listed: HashSet<&str> = pattern["detail-type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, DETAIL_TYPES.into_iter().collect());
    assert_eq!(pattern["source"], json!(["aws.healthlake"]));
}
