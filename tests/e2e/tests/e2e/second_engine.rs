//! The local runner held against an engine we did not write: the core export
//! scenarios run once on hlx's runner and once on moto's Step Functions
//! executor (LocalStack's ASL interpreter), both calling the same
//! binaries, the HealthLake emulator and moto's DynamoDB. For each scenario
//! the two must visit the same states in the same order, end each
//! `AwaitJob` callback the same way (the same event, or the timeout), give
//! it the same timeout (read by `TimeoutSecondsPath`), and leave the same job
//! record.
//!
//! moto's engine waits in real time, so the poll schedule and the fallback
//! are shortened to seconds by configuration, and the export jobs take one
//! to four seconds. The timings are chosen so that each scenario has one
//! path whatever the wall-clock jitter of moto (a second or more of margin
//! at every race), see each scenario's comment.
//!
//! Which Step Functions the functions call (`SendTaskSuccess` from
//! `job-events` and `await-job`): the runner's own on the runner; moto's
//! on moto (`StackConfig::functions_sfn_endpoint`). The local event bus
//! delivers the emulator's events to `job-events` in both runs (virtual time
//! on the runner, real time on moto).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hlx_asl_runner::EventKind;
use hlx_core::{PollSchedule, WakeBy};
use hlx_e2e::{LateInvoker, MotoServer, serve_invoke_api};
use hlx_healthlake_emulator::{EventFaults, FaultSpec, Faults, JobProfile, Operation, Outcome};
use hlx_local_stack::{FUNCTIONS, History, Lambdas, LocalStack, StackConfig, Time, function_arn};
use serde_json::{Value, json};

#[derive(Clone)]
struct Scenario {
    name: &'static str,
    outcome: Outcome,
    faults: Faults,
    crash: Option<(&'static str, u64)>,
    /// Changes the valid request (to make it invalid).
    input: fn(Value) -> Value,
    /// How long the job stays `SUBMITTED`, then `IN_PROGRESS`.
    queue_delay: Duration,
    run_duration: Duration,
    schedule: PollSchedule,
    event_faults: EventFaults,
}

#[derive(Debug, PartialEq)]
struct EngineRun {
    status: String,
    states: Vec<String>,
    /// What ended each `AwaitJob` callback: `event: <detail-type>`,
    /// `await-job: <status>` or `timeout`.
    wakes: Vec<String>,
    /// The timeout each `AwaitJob` callback was given (its
    /// `TaskScheduled` event's `timeoutInSeconds`).
    callback_timeouts: Vec<Option<u64>>,
    record: Value,
    /// What the local bus delivered to `job-events` and its answer
    /// (`detail-type outcome`).
    deliveries: Vec<String>,
    /// Events the emulator produced, and how many of them it dropped.
    events: (usize, usize),
    /// Retries the engine made (known for hlx's runner only).
    retries: Option<u64>,
}

impl EngineRun {
    /// The deliveries that woke the execution (the others, `NOT_AWAITED` or
    /// `ALREADY_SEEN` for the `Submitted` event, depend on whether the token
    /// was stored when it came: a real-time race that changes nothing).
    /// The job status each callback's wake stands for, whoever brought it:
    /// `event: Export Job In Progress` and `await-job: IN_PROGRESS` are the
    /// same move; a timeout stays a timeout.
    fn status_moves(&self) -> Vec<String> {
        self.wakes
            .iter()
            .map(|wake| match wake.strip_prefix("event: ") {
                Some(detail_type) => detail_type_status(detail_type),
                None => wake
                    .strip_prefix("await-job: ")
                    .map_or_else(|| wake.clone(), str::to_owned),
            })
            .collect()
    }

    fn woken_by_events(&self) -> Vec<String> {
        self.deliveries
            .iter()
            .filter_map(|d| d.strip_suffix(" WOKEN").map(str::to_owned))
            .collect()
    }
}

/// The poll schedule in seconds (wake_by: poll). The job of the first five
/// scenarios starts running at once (the emulator's start already answers
/// `IN_PROGRESS` with no queue delay) and ends 1 s later; every wait is 2 s
/// (`SUBMITTED` or running alike), so the callback times out a second after
/// the end and the check finds it, on both engines. (A first wait of 1 s
/// would tie with the end: the runner's tie rule settles it, moto's wall
/// clock does not.)
fn poll_schedule() -> PollSchedule {
    PollSchedule {
        initial_seconds: 2,
        backoff_rate: 1.0,
        max_interval_seconds: 2,
        submitted_seconds: 2,
        queued_initial_seconds: 2,
        wake_by: WakeBy::Poll,
        ..PollSchedule::default()
    }
}

/// Events end the waits; the fallback (the callback's timeout) is
/// `fallback` seconds, the same in every status (backoff rate 1).
fn events_schedule(fallback: u64) -> PollSchedule {
    PollSchedule {
        wake_by: WakeBy::Events,
        fallback_initial_seconds: fallback,
        fallback_max_seconds: fallback,
        ..poll_schedule()
    }
}

fn config(
    scenario: &Scenario,
    dir: &std::path::Path,
    moto: &MotoServer,
    table: &str,
    time: Time,
) -> StackConfig {
    let mut config = StackConfig::new(dir.join("s3"));
    config.seed = 11;
    config.profile = JobProfile::default()
        .with_timing(scenario.queue_delay, scenario.run_duration)
        .with_outcome(scenario.outcome.clone());
    config.faults = scenario.faults.clone();
    config.event_faults = scenario.event_faults.clone();
    config.history = History::DynamoDb {
        endpoint: moto.endpoint.clone(),
        table: table.into(),
    };
    config.lambdas = Lambdas::Process {
        bin_dir: hlx_e2e::bin_dir(),
    };
    config.time = time;
    config.schedule = scenario.schedule.clone();
    config
}

/// The record without what differs between two runs (times, the execution's ARN).
fn comparable(record: &hlx_core::JobRecord) -> Value {
    let mut value = serde_json::to_value(record).unwrap();
    let object = value.as_object_mut().unwrap();
    for field in [
        "executionArn",
        "executionStartedAt",
        "submittedAt",
        "runningSince",
        "endedAt",
        "updatedAt",
        "queuedSeconds",
        "runningSeconds",
    ] {
        object.remove(field);
    }
    // Verified when each engine's clock said (virtual, or the wall clock).
    if let Some(verification) = object.get_mut("verification").and_then(Value::as_object_mut) {
        verification.remove("verifiedAt");
    }
    // A full export's manifest takes its submit time as transactionTime.
    if let Some(manifest) = object.get_mut("manifest").and_then(Value::as_object_mut) {
        manifest.remove("transactionTime");
    }
    value
}

/// The job status a HealthLake event's detail type announces
/// (`Export Job In Progress` → `IN_PROGRESS`).
fn detail_type_status(detail_type: &str) -> String {
    let status = detail_type
        .strip_prefix("Export Job ")
        .or_else(|| detail_type.strip_prefix("Import Job "))
        .unwrap_or(detail_type);
    status.to_uppercase().replace(' ', "_")
}

/// A woken callback's output (`$.wake`) as a label.
fn wake_label(output: &Value) -> String {
    match output["wokenBy"].as_str() {
        Some("event") => format!("event: {}", output["detailType"].as_str().unwrap_or("?")),
        Some(by) => format!("{by}: {}", output["jobStatus"].as_str().unwrap_or("?")),
        None => format!("unexpected output {output}"),
    }
}

/// What the stack's bus and emulator saw of HealthLake's events, once every
/// event handed out has its answer (the bus logs a delivery when job-events
/// returns, which may be after the execution it woke has ended).
async fn bus_report(stack: &LocalStack) -> (Vec<String>, (usize, usize)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let handed_out: usize = stack
            .emulator
            .events()
            .iter()
            .map(|e| usize::from(e.delivered))
            .sum();
        if stack.event_deliveries().len() >= handed_out {
            break;
        }
        assert!(Instant::now() < deadline, "job-events did not answer every event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = stack
        .event_deliveries()
        .iter()
        .map(|d| format!("{} {}", d.detail_type, d.outcome()))
        .collect();
    let events = stack.emulator.events();
    let dropped = events.iter().filter(|e| e.dropped).count();
    (deliveries, (events.len(), dropped))
}

async fn on_runner(scenario: &Scenario, moto: &MotoServer, dir: &std::path::Path) -> EngineRun {
    let stack = LocalStack::start(config(
        scenario,
        dir,
        moto,
        "hlx-jobs-runner",
        Time::Virtual(hlx_local_stack::first_night()),
    ))
    .await
    .unwrap();
    if let Some((function, nth)) = scenario.crash {
        stack
            .processes
            .as_ref()
            .unwrap()
            .crash_on_invocation(function, nth);
    }
    let input = (scenario.input)(stack.export_request(&stack.datastores[0]));
    let handle = stack.start_execution(scenario.name, input).unwrap();
    let done = handle.wait().await;
    let history = handle.history();
    let states = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateEntered { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    // AwaitJob is the one Lambda service integration: its Task* events are
    // the callback's (NotifyVerification's are SNS's).
    let wakes = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskSucceeded {
                output,
                resource_type,
                ..
            } if resource_type == "lambda" => Some(wake_label(output)),
            EventKind::TaskTimedOut { .. } => Some("timeout".to_owned()),
            EventKind::TaskFailed { error, .. } => Some(format!("failed: {error}")),
            _ => None,
        })
        .collect();
    let callback_timeouts = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskScheduled {
                timeout_in_seconds,
                resource_type,
                ..
            } if resource_type == "lambda" => Some(*timeout_in_seconds),
            _ => None,
        })
        .collect();
    let record = stack.record(scenario.name).await.unwrap().expect("a record");
    let (deliveries, events) = bus_report(&stack).await;
    EngineRun {
        status: done.status.as_str().to_owned(),
        states,
        wakes,
        callback_timeouts,
        record: comparable(&record),
        deliveries,
        events,
        retries: Some(done.stats.retries),
    }
}

/// The definition as moto's engine takes it: the function and topic ARNs
/// substituted, and the two Distributed Map fields moto 5.2.5's parser
/// refuses rewritten to what it reads. It refuses `ItemBatcher` outright
/// ("mismatched input '\"ItemBatcher\"'"): each item becomes a batch of one
/// through `ItemSelector` (`{"Items": [item], "BatchInput": ...}`, the input
/// a batched child gets). It refuses an integer `ToleratedFailurePercentage`
/// ("no viable alternative at input '\"ToleratedFailurePercentage\":10'"),
/// and takes it as a decimal, which it then ignores ("currently have no
/// effect on the program evaluation").
fn moto_definition(text: &str) -> String {
    let text = FUNCTIONS
        .iter()
        .fold(text.to_owned(), |text, (placeholder, name)| {
            text.replace(&format!("${{{placeholder}}}"), &function_arn(name))
        });
    let text = text.replace("${AlarmTopicArn}", &hlx_local_stack::topic_arn());
    let mut definition: Value = serde_json::from_str(&text).unwrap();
    for state in definition["States"].as_object_mut().unwrap().values_mut() {
        let Some(map) = state.as_object_mut() else {
            continue;
        };
        if let Some(batcher) = map.remove("ItemBatcher") {
            let mut selector = serde_json::Map::new();
            selector.insert("Items.$".into(), json!("States.Array($$.Map.Item.Value)"));
            selector.insert("BatchInput".into(), batcher["BatchInput"].clone());
            map.insert("ItemSelector".into(), Value::Object(selector));
        }
        if let Some(share) = map.get("ToleratedFailurePercentage").and_then(Value::as_u64) {
            map.insert("ToleratedFailurePercentage".into(), json!(share as f64));
        }
    }
    definition.to_string()
}

async fn on_moto(scenario: &Scenario, dir: &std::path::Path) -> EngineRun {
    let late: LateInvoker = Arc::new(OnceLock::new());
    let invoke_endpoint = serve_invoke_api(late.clone()).await;
    let moto = MotoServer::start_with_step_functions(&invoke_endpoint);
    let mut stack_config = config(scenario, dir, &moto, "hlx-jobs-moto", Time::Real);
    // job-events' and await-job's SendTaskSuccess go to moto's Step
    // Functions, where the execution waits, not to the runner's.
    stack_config.functions_sfn_endpoint = Some(moto.endpoint.clone());
    let stack = LocalStack::start(stack_config).await.unwrap();
    let processes = stack.processes.clone().unwrap();
    if let Some((function, nth)) = scenario.crash {
        processes.crash_on_invocation(function, nth);
    }
    late.set(processes).ok().expect("set once");

    let definition = moto_definition(&std::fs::read_to_string(hlx_local_stack::DEFINITION_PATH).unwrap());
    let sfn = moto.sfn().await;
    let machine = sfn
        .create_state_machine()
        .name("hlx-job")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/hlx-job-state-machine")
        .send()
        .await
        .expect("moto takes the definition");
    let input = (scenario.input)(stack.export_request(&stack.datastores[0]));
    let started = sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name(scenario.name)
        .input(input.to_string())
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        let described = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .unwrap();
        if described.status().as_str() != "RUNNING" {
            break described.status().as_str().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{}: moto's execution did not end",
            scenario.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let history = sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let states = history
        .events()
        .iter()
        .filter_map(|e| e.state_entered_event_details().map(|d| d.name().to_owned()))
        .collect();
    // When moto entered each state, from the execution's start: the margins
    // the scenario's timings leave on the wall clock.
    let origin = history.events().first().map(|e| e.timestamp().as_secs_f64());
    let timeline: Vec<String> = history
        .events()
        .iter()
        .filter_map(|e| {
            let name = e.state_entered_event_details()?.name();
            Some(format!("{name}@{:.2}", e.timestamp().as_secs_f64() - origin?))
        })
        .collect();
    println!("    moto timeline (s): {}", timeline.join(" "));
    let wakes = history
        .events()
        .iter()
        .filter_map(|e| {
            if let Some(d) = e
                .task_succeeded_event_details()
                .filter(|d| d.resource_type() == "lambda")
            {
                let output: Value = d
                    .output()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or(Value::Null);
                Some(wake_label(&output))
            } else if e.task_timed_out_event_details().is_some() {
                Some("timeout".to_owned())
            } else {
                e.task_failed_event_details()
                    .map(|d| format!("failed: {}", d.error().unwrap_or("?")))
            }
        })
        .collect();
    let callback_timeouts = history
        .events()
        .iter()
        .filter_map(|e| e.task_scheduled_event_details())
        .filter(|d| d.resource_type() == "lambda")
        .map(|d| d.timeout_in_seconds().map(|s| s as u64))
        .collect();
    let record = stack.record(scenario.name).await.unwrap().expect("a record");
    let (deliveries, events) = bus_report(&stack).await;
    EngineRun {
        status,
        states,
        wakes,
        callback_timeouts,
        record: comparable(&record),
        deliveries,
        events,
        retries: None,
    }
}

fn scenarios() -> Vec<Scenario> {
    let unchanged: fn(Value) -> Value = |v| v;
    // The first five run on the poll schedule (wake_by: poll): await-job
    // stores nothing and returns at once, and the callback task times out
    // after nextCheckSeconds (2 s), caught as States.Timeout into
    // CheckJob. The job (1 s running) has ended by then, so each engine
    // checks once and finds the end: one path. The
    // emulator's events still reach job-events, which finds no wait
    // (NOT_AWAITED). With events these scenarios would race the job's 1 s
    // run against moto's wall clock (a CheckJob woken by `In Progress`
    // may or may not see the end), so they stay on the poll schedule.
    let poll = Scenario {
        name: "happy",
        outcome: Outcome::Completed,
        faults: Faults::none(),
        crash: None,
        input: unchanged,
        queue_delay: Duration::ZERO,
        run_duration: Duration::from_secs(1),
        schedule: poll_schedule(),
        event_faults: EventFaults::none(),
    };
    vec![
        poll.clone(),
        Scenario {
            name: "throttled-start",
            faults: Faults::none().with(
                Operation::StartFhirExportJob,
                FaultSpec {
                    throttle_rate: 0.7,
                    ..FaultSpec::default()
                },
            ),
            ..poll.clone()
        },
        Scenario {
            name: "failed",
            outcome: Outcome::Failed {
                message: "Export failed: the KMS key is disabled".into(),
            },
            ..poll.clone()
        },
        Scenario {
            name: "rejected",
            input: |mut v| {
                v["s3Uri"] = json!("https://not-s3/bucket");
                v
            },
            ..poll.clone()
        },
        Scenario {
            name: "crashed-check",
            crash: Some(("hlx-check-job", 1)),
            ..poll.clone()
        },
        // Events end the waits. The job is SUBMITTED for 2 s, then runs 2 s;
        // the fallback is 20 s, so an event always comes first. The first
        // AwaitJob has stored its token well before `In Progress` (at
        // 2 s; it is entered within a fraction of a second), the woken
        // CheckJob sees IN_PROGRESS (the end is 2 s away), RecordProgress
        // and the second AwaitJob come before `Completed` (at 4 s), which
        // wakes it; the last CheckJob sees COMPLETED. (Were a token stored
        // after its event, await-job's own look would wake the execution:
        // the same states, but another wake, which the test would report.)
        Scenario {
            name: "events",
            queue_delay: Duration::from_secs(2),
            run_duration: Duration::from_secs(2),
            schedule: events_schedule(20),
            ..poll.clone()
        },
        // Every event is lost. The job is SUBMITTED for 2 s (await-job's
        // look, a fraction of a second after the start, sees SUBMITTED and
        // does not wake), runs 1 s and has ended at 3 s; the fallback
        // (5 s after AwaitJob is entered) times the callback out, and the
        // check finds the end.
        Scenario {
            name: "lost-event",
            queue_delay: Duration::from_secs(2),
            run_duration: Duration::from_secs(1),
            schedule: events_schedule(5),
            event_faults: EventFaults {
                drop_rate: 1.0,
                ..EventFaults::none()
            },
            ..poll.clone()
        },
    ]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One scenario on both engines: hlx's runner, then moto's executor.
struct BothRuns {
    scenario: Scenario,
    ours: EngineRun,
    theirs: EngineRun,
    runner_took: Duration,
    moto_took: Duration,
}

async fn on_both_engines(scenario: Scenario) -> BothRuns {
    let dir = std::env::temp_dir().join(format!(
        "hlx-e2e-engines-{}-{}",
        scenario.name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let moto = MotoServer::start();
    let scenario_started = Instant::now();
    let ours = on_runner(&scenario, &moto, &dir.join("runner")).await;
    let runner_took = scenario_started.elapsed();
    let theirs = on_moto(&scenario, &dir.join("moto")).await;
    let moto_took = scenario_started.elapsed() - runner_took;
    let _ = std::fs::remove_dir_all(&dir);
    BothRuns {
        scenario,
        ours,
        theirs,
        runner_took,
        moto_took,
    }
}

/// Scenarios run side by side, this many at a time: each has its own moto
/// servers, emulator, table and execution name, and spends most of its wall
/// time in moto's real waits, so a few together keep the scenarios' timing
/// margins (a second or more) while the whole test takes a fraction of the
/// time one after the other took.
const SCENARIOS_AT_ONCE: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_visit_the_same_states_and_leave_the_same_record() {
    let started = Instant::now();
    let at_once = Arc::new(tokio::sync::Semaphore::new(SCENARIOS_AT_ONCE));
    let tasks: Vec<_> = scenarios()
        .into_iter()
        .map(|scenario| {
            let at_once = at_once.clone();
            tokio::spawn(async move {
                let _turn = at_once.acquire_owned().await.expect("semaphore open");
                on_both_engines(scenario).await
            })
        })
        .collect();
    let mut runs = BTreeMap::new();
    for task in tasks {
        let BothRuns {
            scenario,
            ours,
            theirs,
            runner_took,
            moto_took,
        } = task.await.expect("the scenario ran to its end");
        println!(
            "scenario {:<16} {:<9} {} states: {}",
            scenario.name,
            ours.status,
            ours.states.len(),
            ours.states.join(" → ")
        );
        println!(
            "    wakes {:?}, callback timeouts {:?}; runner {:.1}s, moto {:.1}s",
            ours.wakes,
            ours.callback_timeouts,
            runner_took.as_secs_f64(),
            moto_took.as_secs_f64()
        );
        println!(
            "    events {:?} (produced, dropped); deliveries runner {:?}, moto {:?}",
            ours.events, ours.deliveries, theirs.deliveries
        );
        assert_eq!(
            ours.states, theirs.states,
            "{}: the engines took different paths",
            scenario.name
        );
        // The same status moves ended the callbacks. Which of HealthLake's
        // event or await-job's own look woke a wait may differ: on moto's
        // wall clock, under load, an event can come before the token is
        // stored, and then await-job wakes the execution itself (as designed).
        assert_eq!(
            ours.status_moves(),
            theirs.status_moves(),
            "{}: the engines' callbacks ended differently ({:?} and {:?})",
            scenario.name,
            ours.wakes,
            theirs.wakes
        );
        assert_eq!(
            ours.callback_timeouts, theirs.callback_timeouts,
            "{}: the engines gave the callbacks different timeouts (TimeoutSecondsPath)",
            scenario.name
        );
        assert_eq!(
            ours.record, theirs.record,
            "{}: the engines left different records",
            scenario.name
        );
        assert_eq!(ours.status, theirs.status, "{}", scenario.name);
        for run in [&ours, &theirs] {
            assert_eq!(
                run.woken_by_events(),
                run.wakes
                    .iter()
                    .filter_map(|w| w.strip_prefix("event: ").map(str::to_owned))
                    .collect::<Vec<_>>(),
                "{}: the deliveries job-events answered WOKEN are not the events that woke the callbacks",
                scenario.name
            );
        }
        assert_eq!(
            ours.events, theirs.events,
            "{}: the emulator's events",
            scenario.name
        );
        for run in [&ours, &theirs] {
            for delivery in &run.deliveries {
                assert!(
                    ["WOKEN", "NOT_AWAITED", "ALREADY_SEEN"]
                        .iter()
                        .any(|outcome| delivery.ends_with(&format!(" {outcome}"))),
                    "{}: job-events answered {delivery}",
                    scenario.name
                );
            }
        }
        runs.insert(scenario.name, ours);
    }
    println!(
        "all scenarios, both engines: {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // The poll-schedule scenarios: one timed-out callback of 2 s, then the end.
    for name in ["happy", "throttled-start", "failed", "crashed-check"] {
        assert_eq!(runs[name].wakes, ["timeout"], "{name}");
        assert_eq!(runs[name].callback_timeouts, [Some(2)], "{name}");
        assert!(runs[name].woken_by_events().is_empty(), "{name}");
    }
    assert_eq!(runs["happy"].status, "SUCCEEDED");
    assert_eq!(runs["happy"].retries, Some(0));
    assert_eq!(
        runs["happy"].states,
        strings(&[
            "Accept",
            "StartJob",
            "RecordSubmitted",
            "AwaitJob",
            "CheckJob",
            "JobEnded?",
            "Verify?",
            "BeginVerification",
            "Distributed?",
            "RecordSucceeded",
            "Notify?",
            "NotifyVerification",
            "JobSucceeded"
        ])
    );
    assert_eq!(runs["throttled-start"].status, "SUCCEEDED");
    assert!(
        runs["throttled-start"].record["startAttempts"].as_u64().unwrap() > 1,
        "the start really was throttled and retried"
    );
    assert_eq!(runs["failed"].status, "FAILED");
    assert_eq!(runs["rejected"].status, "FAILED");
    assert!(runs["rejected"].wakes.is_empty(), "a rejected export never waits");
    assert_eq!(runs["crashed-check"].status, "SUCCEEDED");
    assert_eq!(
        runs["crashed-check"].retries,
        Some(1),
        "the crashed check was retried"
    );

    // Events: both waits woken by HealthLake's events through job-events.
    let events = &runs["events"];
    assert_eq!(events.status, "SUCCEEDED");
    assert_eq!(
        events.states,
        strings(&[
            "Accept",
            "StartJob",
            "RecordSubmitted",
            "AwaitJob",
            "CheckJob",
            "JobEnded?",
            "RecordProgress",
            "AwaitJob",
            "CheckJob",
            "JobEnded?",
            "Verify?",
            "BeginVerification",
            "Distributed?",
            "RecordSucceeded",
            "Notify?",
            "NotifyVerification",
            "JobSucceeded"
        ])
    );
    assert_eq!(
        events.wakes,
        ["event: Export Job In Progress", "event: Export Job Completed"]
    );
    assert_eq!(
        events.woken_by_events(),
        ["Export Job In Progress", "Export Job Completed"]
    );
    assert_eq!(events.callback_timeouts, [Some(20), Some(20)]);
    assert_eq!(events.record["checks"], 2);

    // Lost events: the fallback finds the end.
    let lost = &runs["lost-event"];
    assert_eq!(lost.status, "SUCCEEDED");
    assert_eq!(lost.states, runs["happy"].states);
    assert_eq!(lost.wakes, ["timeout"]);
    assert_eq!(lost.callback_timeouts, [Some(5)]);
    assert!(lost.deliveries.is_empty(), "every event was dropped");
    assert!(
        lost.events.0 >= 3 && lost.events.0 == lost.events.1,
        "{:?}",
        lost.events
    );
    assert_eq!(lost.record["checks"], 1);
    assert_eq!(lost.record["status"], runs["happy"].record["status"]);
}
