//! The local runner held against an engine we did not write: the core export
//! scenarios run once on hlx's runner and once on moto's Step Functions
//! executor (LocalStack's ASL interpreter), both calling the same release
//! binaries, the HealthLake emulator and moto's DynamoDB. For each scenario
//! the two must visit the same states in the same order and leave the same
//! job record.
//!
//! moto's engine waits in real time, so the poll schedule is shortened to
//! seconds by configuration, and the export jobs take one second.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hlx_asl_runner::EventKind;
use hlx_core::PollSchedule;
use hlx_e2e::{LateInvoker, MotoServer, serve_invoke_api};
use hlx_healthlake_emulator::{FaultSpec, Faults, JobProfile, Operation, Outcome};
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
}

#[derive(Debug, PartialEq)]
struct EngineRun {
    status: String,
    states: Vec<String>,
    record: Value,
    /// Retries the engine made (known for hlx's runner only).
    retries: Option<u64>,
}

fn fast_schedule() -> PollSchedule {
    PollSchedule {
        initial_seconds: 1,
        backoff_rate: 1.0,
        max_interval_seconds: 2,
        submitted_seconds: 2,
        queued_initial_seconds: 1,
        ..PollSchedule::default()
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
        .with_timing(Duration::ZERO, Duration::from_secs(1))
        .with_outcome(scenario.outcome.clone());
    config.faults = scenario.faults.clone();
    config.history = History::DynamoDb {
        endpoint: moto.endpoint.clone(),
        table: table.into(),
    };
    config.lambdas = Lambdas::Process {
        bin_dir: hlx_e2e::bin_dir(),
    };
    config.time = time;
    config.schedule = fast_schedule();
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
    value
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
    let handle = stack.start_export(scenario.name, input).unwrap();
    let done = handle.wait().await;
    let states = handle
        .history()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateEntered { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    let record = stack.record(scenario.name).await.unwrap().expect("a record");
    EngineRun {
        status: done.status.as_str().to_owned(),
        states,
        record: comparable(&record),
        retries: Some(done.stats.retries),
    }
}

async fn on_moto(scenario: &Scenario, dir: &std::path::Path) -> EngineRun {
    let late: LateInvoker = Arc::new(OnceLock::new());
    let invoke_endpoint = serve_invoke_api(late.clone()).await;
    let moto = MotoServer::start_with_step_functions(&invoke_endpoint);
    let stack = LocalStack::start(config(scenario, dir, &moto, "hlx-jobs-moto", Time::Real))
        .await
        .unwrap();
    let processes = stack.processes.clone().unwrap();
    if let Some((function, nth)) = scenario.crash {
        processes.crash_on_invocation(function, nth);
    }
    late.set(processes).ok().expect("set once");

    let definition = std::fs::read_to_string(hlx_local_stack::DEFINITION_PATH).unwrap();
    let definition = FUNCTIONS.iter().fold(definition, |text, (placeholder, name)| {
        text.replace(&format!("${{{placeholder}}}"), &function_arn(name))
    });
    let sfn = moto.sfn().await;
    let machine = sfn
        .create_state_machine()
        .name("hlx-export")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/hlx-export-state-machine")
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
    let record = stack.record(scenario.name).await.unwrap().expect("a record");
    EngineRun {
        status,
        states,
        record: comparable(&record),
        retries: None,
    }
}

fn scenarios() -> Vec<Scenario> {
    let unchanged: fn(Value) -> Value = |v| v;
    vec![
        Scenario {
            name: "happy",
            outcome: Outcome::Completed,
            faults: Faults::none(),
            crash: None,
            input: unchanged,
        },
        Scenario {
            name: "throttled-start",
            outcome: Outcome::Completed,
            faults: Faults::none().with(
                Operation::StartFhirExportJob,
                FaultSpec {
                    throttle_rate: 0.7,
                    ..FaultSpec::default()
                },
            ),
            crash: None,
            input: unchanged,
        },
        Scenario {
            name: "failed",
            outcome: Outcome::Failed {
                message: "Export failed: the KMS key is disabled".into(),
            },
            faults: Faults::none(),
            crash: None,
            input: unchanged,
        },
        Scenario {
            name: "rejected",
            outcome: Outcome::Completed,
            faults: Faults::none(),
            crash: None,
            input: |mut v| {
                v["s3Uri"] = json!("https://not-s3/bucket");
                v
            },
        },
        Scenario {
            name: "crashed-check",
            outcome: Outcome::Completed,
            faults: Faults::none(),
            crash: Some(("hlx-check-export", 1)),
            input: unchanged,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_visit_the_same_states_and_leave_the_same_record() {
    let mut report = BTreeMap::new();
    for scenario in scenarios() {
        let dir = std::env::temp_dir().join(format!(
            "hlx-e2e-engines-{}-{}",
            scenario.name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let moto = MotoServer::start();
        let ours = on_runner(&scenario, &moto, &dir.join("runner")).await;
        let theirs = on_moto(&scenario, &dir.join("moto")).await;
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "scenario {:<16} {:<9} {} states: {}",
            scenario.name,
            ours.status,
            ours.states.len(),
            ours.states.join(" → ")
        );
        assert_eq!(
            ours.states, theirs.states,
            "{}: the engines took different paths",
            scenario.name
        );
        assert_eq!(
            ours.record, theirs.record,
            "{}: the engines left different records",
            scenario.name
        );
        assert_eq!(ours.status, theirs.status, "{}", scenario.name);
        report.insert(
            scenario.name,
            (ours.status, ours.record["startAttempts"].clone(), ours.retries),
        );
    }
    println!("{report:?}");
    assert_eq!(report["happy"].0, "SUCCEEDED");
    assert_eq!(report["happy"].2, Some(0));
    assert_eq!(report["throttled-start"].0, "SUCCEEDED");
    assert!(
        report["throttled-start"].1.as_u64().unwrap() > 1,
        "the start really was throttled and retried"
    );
    assert_eq!(report["failed"].0, "FAILED");
    assert_eq!(report["rejected"].0, "FAILED");
    assert_eq!(report["crashed-check"].0, "SUCCEEDED");
    assert_eq!(
        report["crashed-check"].2,
        Some(1),
        "the crashed check was retried"
    );
}
