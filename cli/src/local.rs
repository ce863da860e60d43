//! `hlx local`: the whole nightly export on one machine, no AWS account.
//!
//! The HealthLake emulator runs in process on a loopback port; the real
//! state-machine file runs on the local runner, on virtual time by default;
//! its tasks are hlx's Lambda handlers, called in process through the real
//! AWS SDK clients over HTTP, or the release binaries themselves behind a
//! Lambda Runtime API (`--lambdas process`). Job history goes to an embedded
//! store, or to any DynamoDB-compatible server (`--dynamodb-endpoint`).
//!
//! `--serve` keeps the stack up after the nights (or instead of them, with
//! `--nights 0`): the runner's Step Functions API on a loopback port, the
//! job state machine registered, virtual time driven whenever an execution
//! runs; it prints the variables that point `hlx start/status/list/watch`
//! (or the AWS CLI) at it, and stops on Ctrl-C.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, ValueEnum};
use hlx_asl_runner::{EventKind, ExecutionInfo, ExecutionStatus, HistoryEvent};
use hlx_core::verification::VerifyPolicy;
use hlx_core::{ExportSelection, JobRecord, JobStore, PollSchedule, WakeBy};
use hlx_healthlake_emulator::{Churn, EventFaults, FaultSpec, Faults, JobProfile, Outcome, OutputFault};
use hlx_local_stack::{BusDelivery, History, Lambdas, LocalStack, StackConfig, Time};
use serde_json::Value;

use crate::cost::{RunCost, human};
use crate::scenario::{parse_delay_range, parse_duration, parse_rate, parse_resources};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WakeMode {
    /// HealthLake's events end each wait; the timeout is the fallback.
    Events,
    /// No events: each wait runs to its end (hlx's poll schedule).
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobOutcome {
    Completed,
    CompletedWithErrors,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LambdaMode {
    /// The handlers, called in process (fast; the same code as the binaries).
    InProcess,
    /// The function binaries, run as processes behind a local Lambda Runtime API.
    Process,
}

/// `hlx local`'s flags.
#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// How long each export job runs in HealthLake.
    #[arg(long, default_value = "2h45m", value_parser = parse_duration)]
    pub job_duration: Duration,
    /// How long each job stays SUBMITTED before it queues or starts.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub queue_delay: Duration,
    /// How each export job ends.
    #[arg(long, value_enum, default_value_t = JobOutcome::Completed)]
    pub outcome: JobOutcome,
    /// Share of HealthLake calls answered with ThrottlingException (0.0-1.0).
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub throttle_rate: f64,
    /// Share of HealthLake calls answered with InternalServerException (0.0-1.0).
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub internal_error_rate: f64,
    /// What ends a wait: HealthLake's events (the fallback timeout covers a
    /// lost one), or only the poll schedule. Default: HLX_WAKE_BY, else events.
    #[arg(long, value_enum)]
    pub wake_by: Option<WakeMode>,
    /// Share of HealthLake's EventBridge events never delivered (0.0-1.0).
    #[arg(long, default_value = "0", value_parser = parse_rate, value_name = "RATE")]
    pub drop_events: f64,
    /// Share of events delivered late, by a delay drawn from --event-delay.
    #[arg(long, default_value = "0", value_parser = parse_rate, value_name = "RATE")]
    pub delay_events: f64,
    /// The range late events are delayed by (`5s..60s`, or one value).
    #[arg(long, default_value = "5s..60s", value_parser = parse_delay_range, value_name = "MIN..MAX")]
    pub event_delay: std::ops::Range<Duration>,
    /// Share of events delivered twice (same event, same id).
    #[arg(long, default_value = "0", value_parser = parse_rate, value_name = "RATE")]
    pub duplicate_events: f64,
    /// Share of events held back and delivered after the job's next one.
    #[arg(long, default_value = "0", value_parser = parse_rate, value_name = "RATE")]
    pub reorder_events: f64,
    /// Seeds every random choice (data, faults, jitter): a seed repeats a run exactly.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Nights to run, one after the other.
    #[arg(long, default_value_t = 1)]
    pub nights: u32,
    /// Data stores exported each night (their exports queue behind each other in HealthLake).
    #[arg(long, default_value_t = 1)]
    pub datastores: u32,
    /// Resources in each data store, per type.
    #[arg(long, default_value = "Patient=25,Encounter=60,Observation=200,Condition=30", value_parser = parse_resources)]
    pub resources: BTreeMap<String, usize>,
    /// Damage a night's export files, to see the verification catch it:
    /// KIND:TYPE@NIGHT, KIND one of truncated-file, malformed-line,
    /// wrong-type, duplicate-id, missing-type, manifest-count (e.g.
    /// missing-type:Condition@2). Repeatable.
    #[arg(long, value_parser = parse_output_fault, value_name = "KIND:TYPE@NIGHT")]
    pub output_fault: Vec<(u32, OutputFault)>,
    /// Resources per NDJSON file of an export (HealthLake writes up to about 5,000).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub resources_per_file: usize,
    /// A full export whose count for a type fell by more than this share of
    /// the previous night's is SUSPECT.
    #[arg(long, default_value_t = 0.2, value_parser = parse_share, value_name = "SHARE")]
    pub verify_max_drop_share: f64,
    /// Exports of more files than this are verified by the Distributed Map
    /// (child executions), smaller ones by one invocation.
    #[arg(long, default_value_t = 500, value_name = "FILES")]
    pub verify_single_max_files: u64,
    /// On the Distributed Map, the duplicate check runs in one invocation per
    /// this many bytes of export (default 8 GiB).
    #[arg(long, default_value_t = 8 * 1024 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..), value_name = "BYTES")]
    pub verify_shard_bytes: u64,
    /// The directory that stands for S3: exports land in it.
    #[arg(long, default_value = ".hlx/s3")]
    pub output_dir: PathBuf,
    /// Keep job history in this DynamoDB-compatible server instead of the embedded store.
    #[arg(long, value_name = "URL")]
    pub dynamodb_endpoint: Option<String>,
    /// The DynamoDB table (created when missing).
    #[arg(long, default_value = "hlx-jobs")]
    pub table: String,
    /// How tasks run: the handlers in process, or the function binaries as processes.
    #[arg(long, value_enum, default_value_t = LambdaMode::InProcess)]
    pub lambdas: LambdaMode,
    /// Where the function binaries are (with --lambdas process); by default
    /// the folder this hlx was built into (`cargo build --profile local
    /// --workspace --bins` fills target/local).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Run on the wall clock instead of virtual time (waits really wait).
    #[arg(long)]
    pub real_time: bool,
    /// The state-machine definition to run.
    #[arg(long)]
    pub definition: Option<PathBuf>,
    /// Print only the summary (and, with --serve, the endpoints).
    #[arg(long, short)]
    pub quiet: bool,
    /// Keep the stack up after the nights (with --nights 0, instead of them),
    /// serving the Step Functions API for `hlx start/status/list/watch` from
    /// another terminal, until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Before the first night, load this folder of NDJSON into the first data
    /// store: an import through the same state machine (lines HealthLake
    /// would refuse are counted and logged, not loaded).
    #[arg(long, value_name = "DIR")]
    pub import: Option<PathBuf>,
    /// Nightly exports are incremental: each exports what changed since the
    /// last completed one (the first exports everything).
    #[arg(long)]
    pub incremental: bool,
    /// The nightly exports' scope: `system` (default), `patient`, `group/<groupId>`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// The nightly exports' resource types (repeat, or comma-separate).
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
    /// How the data stores change per virtual day: `created=N,updated=M`
    /// resources (deletions are not emulated, and `_since` exports would not show them).
    #[arg(long, value_name = "created=N,updated=M", value_parser = parse_churn)]
    pub churn: Option<Churn>,
    /// The Step Functions API's loopback port with --serve (0: any free port).
    #[arg(long, default_value_t = 0, value_name = "PORT", requires = "serve")]
    pub sfn_port: u16,
}

/// `created=N,updated=M` (either may be left out).
pub fn parse_churn(text: &str) -> Result<Churn, String> {
    let mut churn = Churn::none();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected created=N or updated=N"))?;
        let n: u32 = value
            .parse()
            .map_err(|_| format!("{part:?}: {value:?} is not a whole number"))?;
        match key {
            "created" => churn.created_per_day = n,
            "updated" => churn.updated_per_day = n,
            other => return Err(format!("{other:?}: expected created or updated")),
        }
    }
    Ok(churn)
}

/// The nightly exports' selection, checked by the export rules.
fn nightly_selection(args: &LocalArgs) -> Result<ExportSelection, String> {
    let mut value = serde_json::Map::new();
    if args.incremental {
        value.insert("mode".into(), "incremental".into());
    }
    if let Some(scope) = &args.scope {
        value.insert("scope".into(), scope.clone().into());
    }
    if !args.types.is_empty() {
        value.insert("types".into(), args.types.clone().into());
    }
    ExportSelection::from_object(&value).map_err(|e| {
        let flag = match e.field.as_str() {
            "types" => "--type",
            "scope" => "--scope",
            _ => "--incremental",
        };
        format!("{flag}: {}", e.rule)
    })
}

fn profile(args: &LocalArgs) -> JobProfile {
    let outcome = match args.outcome {
        JobOutcome::Completed => Outcome::Completed,
        JobOutcome::CompletedWithErrors => Outcome::completed_with_errors(),
        JobOutcome::Failed => Outcome::failed(),
    };
    JobProfile {
        queue_delay: args.queue_delay,
        run_duration: args.job_duration,
        outcome,
        resources: args.resources.clone(),
        output_faults: Vec::new(),
    }
}

/// The functions' schedule: the `HLX_POLL_*` / `HLX_FALLBACK_*` settings,
/// and `--wake-by` over `HLX_WAKE_BY`.
fn schedule(args: &LocalArgs) -> Result<PollSchedule, String> {
    let mut schedule = PollSchedule::from_env().map_err(|e| format!("bad poll schedule setting {e}"))?;
    match args.wake_by {
        Some(WakeMode::Events) => schedule.wake_by = WakeBy::Events,
        Some(WakeMode::Poll) => schedule.wake_by = WakeBy::Poll,
        None => {}
    }
    Ok(schedule)
}

/// The folder of the running `hlx`: cargo builds the functions next to it.
fn beside_this_binary() -> Result<PathBuf, String> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .ok_or_else(|| "cannot tell where hlx runs from: pass --bin-dir".to_owned())
}

/// Runs `hlx local`; the exit code is 0 when every export succeeded, 1 otherwise.
pub async fn run(args: LocalArgs) -> Result<u8, String> {
    if args.nights == 0 && !args.serve {
        return Err("--nights 0 runs nothing: add --serve to serve the stack instead".into());
    }
    let config = StackConfig {
        resources_per_file: args.resources_per_file,
        verify: VerifyPolicy {
            max_drop_share: args.verify_max_drop_share,
            single_max_files: args.verify_single_max_files,
            shard_bytes: args.verify_shard_bytes,
            ..VerifyPolicy::default()
        },
        seed: args.seed,
        profile: profile(&args),
        datastores: args.datastores,
        faults: Faults::uniform(FaultSpec {
            throttle_rate: args.throttle_rate,
            internal_error_rate: args.internal_error_rate,
            ..FaultSpec::default()
        }),
        output_dir: args.output_dir.clone(),
        history: match &args.dynamodb_endpoint {
            None => History::Embedded,
            Some(endpoint) => History::DynamoDb {
                endpoint: endpoint.clone(),
                table: args.table.clone(),
            },
        },
        lambdas: match args.lambdas {
            LambdaMode::InProcess => Lambdas::InProcess,
            LambdaMode::Process => Lambdas::Process {
                bin_dir: match &args.bin_dir {
                    Some(dir) => dir.clone(),
                    None => beside_this_binary()?,
                },
            },
        },
        time: if args.real_time {
            Time::Real
        } else if args.import.is_some() {
            // The import runs the evening before the first night's export.
            Time::Virtual(hlx_local_stack::first_night() - jiff::SignedDuration::from_hours(4))
        } else {
            Time::Virtual(hlx_local_stack::first_night())
        },
        definition: args.definition.clone(),
        schedule: schedule(&args)?,
        event_faults: EventFaults {
            drop_rate: args.drop_events,
            delay_rate: args.delay_events,
            delay: args.event_delay.clone(),
            duplicate_rate: args.duplicate_events,
            reorder_rate: args.reorder_events,
        },
        functions_sfn_endpoint: None,
        churn: args.churn.unwrap_or_default(),
        nightly: nightly_selection(&args)?,
    };
    let stack = LocalStack::start(config).await?;
    if !args.quiet {
        println!(
            "hlx local: HealthLake emulator on {}, {} data store(s), jobs of {} ending {:?}, {} time",
            stack.healthlake_endpoint(),
            stack.datastores.len(),
            human(args.job_duration),
            args.outcome,
            if args.real_time { "real" } else { "virtual" }
        );
        println!("exports land in {}", args.output_dir.display());
        println!();
        let last = Arc::new(Mutex::new(None::<String>));
        let printer = last.clone();
        stack
            .runner
            .on_event(move |execution, event| print_event(&printer, execution, event));
        stack.on_event_delivered(move |delivery| print_delivery(&last, delivery));
    }
    if let Some(dir) = &args.import {
        let datastore = stack
            .datastores
            .first()
            .cloned()
            .ok_or("no data store to import into")?;
        stack.run_import(dir, &datastore).await?;
    }
    let base_profile = profile(&args);
    for night in 0..args.nights {
        let faults: Vec<OutputFault> = args
            .output_fault
            .iter()
            .filter(|(on, _)| *on == night + 1)
            .map(|(_, fault)| fault.clone())
            .collect();
        for datastore in &stack.datastores {
            let mut tonight = base_profile.clone();
            tonight.output_faults = faults.clone();
            stack
                .emulator
                .set_profile(datastore, tonight)
                .map_err(|e| format!("night {}: {e}", night + 1))?;
        }
        stack.run_night(night).await?;
    }
    let code = if args.nights > 0 || args.import.is_some() {
        summary(&stack).await?
    } else {
        0
    };
    if args.serve {
        serve(&stack, &args).await?;
    }
    Ok(code)
}

/// Serves the stack until Ctrl-C (or SIGTERM).
async fn serve(stack: &LocalStack, args: &LocalArgs) -> Result<(), String> {
    let served = stack
        .serve(SocketAddr::from(([127, 0, 0, 1], args.sfn_port)))
        .await?;
    let mut env: Vec<(&str, String)> = vec![("AWS_ENDPOINT_URL_SFN", served.sfn_endpoint())];
    if let History::DynamoDb { endpoint, .. } = &stack.history {
        env.push(("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone()));
    }
    env.extend([
        ("AWS_ENDPOINT_URL_HEALTHLAKE", stack.healthlake_endpoint()),
        ("AWS_REGION", hlx_local_stack::REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", hlx_local_stack::LOCAL_ACCESS_KEY.to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            hlx_local_stack::LOCAL_SECRET_KEY.to_owned(),
        ),
        ("HLX_STATE_MACHINE_ARN", stack.state_machine_arn.clone()),
    ]);
    if let History::DynamoDb { table, .. } = &stack.history {
        env.push(("HLX_TABLE_NAME", table.clone()));
    }
    env.extend([
        ("HLX_EXPORT_S3_URI", hlx_local_stack::EXPORT_S3_URI.to_owned()),
        (
            "HLX_EXPORT_KMS_KEY_ID",
            hlx_local_stack::EXPORT_KMS_KEY_ID.to_owned(),
        ),
        (
            "HLX_DATA_ACCESS_ROLE_ARN",
            hlx_local_stack::data_access_role_arn(),
        ),
    ]);
    if let Some(first) = stack.datastores.first() {
        env.push(("HLX_DEFAULT_DATASTORE_ID", first.clone()));
    }
    println!();
    println!("== Serving");
    println!(
        "Step Functions API  {}  (state machine {})",
        served.sfn_endpoint(),
        stack.state_machine_arn
    );
    println!("HealthLake API      {}", stack.healthlake_endpoint());
    match &stack.history {
        History::DynamoDb { endpoint, table } => println!("job records         {endpoint}  (table {table})"),
        History::Embedded => println!(
            "job records         embedded (hlx status/watch read the execution's history; \
             --dynamodb-endpoint puts them in a table)"
        ),
    }
    println!("data stores         {}", stack.datastores.join(", "));
    println!(
        "time                {}",
        if stack.runner.is_virtual() {
            "virtual: an export runs to its end as soon as it starts"
        } else {
            "real"
        }
    );
    println!();
    println!("In another terminal:");
    for (name, value) in &env {
        println!("export {name}={value}");
    }
    println!("hlx start            # then: hlx watch <export id>, hlx status <export id>, hlx list");
    println!();
    println!("Serving until Ctrl-C.");
    shutdown_signal().await;
    println!("hlx local: stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One line per step a person cares about: a state entered, a task's answer, a retry.
fn print_event(last: &Mutex<Option<String>>, execution: &ExecutionInfo, event: &HistoryEvent) {
    let line = match &event.kind {
        EventKind::StateEntered {
            state_type,
            name,
            input,
        } => match *state_type {
            "Wait" => format!(
                "{name:<16} waiting {}",
                input
                    .pointer("/progress/nextCheckSeconds")
                    .and_then(Value::as_u64)
                    .map(|s| human(Duration::from_secs(s)))
                    .unwrap_or_default()
            ),
            "Task" if name == "AwaitJob" => {
                let wait = input
                    .pointer("/progress/nextCheckSeconds")
                    .and_then(Value::as_u64)
                    .map(|s| human(Duration::from_secs(s)))
                    .unwrap_or_default();
                match input.pointer("/progress/wakeBy").and_then(Value::as_str) {
                    Some("POLL") => format!("{name:<16} waiting {wait}"),
                    _ => format!("{name:<16} waiting for HealthLake's event, fallback in {wait}"),
                }
            }
            "Task" | "Succeed" | "Fail" | "Map" => name.clone(),
            _ => return,
        },
        EventKind::TaskTimedOut { .. } => "  └ wait over: no event, checking".into(),
        EventKind::LambdaFunctionSucceeded { output } | EventKind::TaskSucceeded { output, .. } => {
            if let Some(verification) = output.get("verification").filter(|v| v.is_object()) {
                match serde_json::from_value::<hlx_core::verification::Verification>(verification.clone()) {
                    Ok(v) => format!("  └ {}", v.headline()),
                    Err(_) => return,
                }
            } else if output.get("distributed").and_then(Value::as_bool) == Some(true) {
                let files = output.get("files").and_then(Value::as_u64).unwrap_or(0);
                format!("  └ {files} files: the Distributed Map reads them in child executions")
            } else if let Some(by) = output.get("wokenBy").and_then(Value::as_str) {
                let status = output.get("jobStatus").and_then(Value::as_str).unwrap_or("?");
                match output.get("detailType").and_then(Value::as_str) {
                    Some(detail_type) => format!("  └ woken by the event {detail_type:?}"),
                    None => format!("  └ woken by {by}: the job was {status} already"),
                }
            } else if let Some(status) = output.get("jobStatus").and_then(Value::as_str) {
                let queued = output.get("queuedSeconds").and_then(Value::as_u64).unwrap_or(0);
                let mut line = format!("  └ job {status}");
                if queued > 0 {
                    line.push_str(&format!(", queued {}", human(Duration::from_secs(queued))));
                }
                if let Some(running) = output.get("runningSeconds").and_then(Value::as_u64) {
                    line.push_str(&format!(", running {}", human(Duration::from_secs(running))));
                }
                line
            } else if let Some(status) = output.get("status").and_then(Value::as_str) {
                format!("  └ recorded {status}")
            } else {
                return;
            }
        }
        EventKind::LambdaFunctionFailed { error, .. } | EventKind::TaskFailed { error, .. } => {
            format!("  └ failed: {error}")
        }
        EventKind::RetryScheduled {
            error, delay_seconds, ..
        } => format!("  └ retry in {delay_seconds:.1}s after {error}"),
        EventKind::ExecutionSucceeded { .. } => "execution SUCCEEDED".into(),
        EventKind::ExecutionFailed { error, .. } => {
            format!("execution FAILED ({})", error.as_deref().unwrap_or("no error"))
        }
        _ => return,
    };
    let mut last = last.lock().expect("print lock");
    if last.as_deref() != Some(execution.name.as_str()) {
        *last = Some(execution.name.clone());
        println!("▶ {}", execution.name);
    }
    println!("  {}  {line}", event.timestamp.strftime("%m-%d %H:%M:%S"));
}

/// One line per event the local bus delivers, as it arrives, and what
/// job-events did with it when that was not to wake an execution (a woken
/// execution says so itself).
fn print_delivery(last: &Mutex<Option<String>>, delivery: &BusDelivery) {
    if !delivery.routed {
        return;
    }
    let outcome = delivery.outcome();
    if delivery.handled && outcome == "WOKEN" {
        return;
    }
    let mut last = last.lock().expect("print lock");
    *last = None;
    let what = if delivery.handled {
        format!("  └ job-events: {outcome}")
    } else {
        format!(
            "⚡ {}{}",
            delivery.detail_type,
            if delivery.duplicate { " (again)" } else { "" }
        )
    };
    println!(
        "  {}  {what:<40} job {}…",
        delivery.at.strftime("%m-%d %H:%M:%S"),
        delivery.job_id.chars().take(8).collect::<String>(),
    );
}

async fn summary(run: &LocalStack) -> Result<u8, String> {
    let executions = run.runner.executions();
    let mut failed = 0;
    println!();
    println!("== Summary");
    // A Distributed Map's child executions are told under their parent.
    for execution in executions.iter().filter(|e| e.map_run_arn().is_none()) {
        let description = execution.describe();
        if description.status != ExecutionStatus::Succeeded {
            failed += 1;
        }
        println!(
            "{}: execution {} ({} state transitions, {} invocations)",
            description.name,
            description.status.as_str(),
            description.stats.state_transitions,
            description.stats.total_task_invocations()
        );
        for map_run in run
            .runner
            .map_runs()
            .iter()
            .filter(|r| r.execution_arn == description.arn)
        {
            let children: Vec<_> = executions
                .iter()
                .filter(|e| e.map_run_arn() == Some(map_run.arn.as_str()))
                .map(|e| e.describe())
                .collect();
            let succeeded = children
                .iter()
                .filter(|c| c.status == ExecutionStatus::Succeeded)
                .count();
            println!(
                "  Map Run {}: {} child execution(s) for {} item(s), {succeeded} succeeded ({} state transitions, {} invocations)",
                map_run.status.as_str(),
                children.len(),
                map_run.items,
                children.iter().map(|c| c.stats.state_transitions).sum::<u64>(),
                children
                    .iter()
                    .map(|c| c.stats.total_task_invocations())
                    .sum::<u64>(),
            );
        }
        let kind = hlx_core::JobRequest::from_value(&description.input)
            .map(|r| r.kind())
            .unwrap_or_default();
        let record = run
            .store
            .get(kind, &description.name)
            .await
            .map_err(|e| format!("the job record of {} could not be read: {e}", description.name))?;
        match record {
            Some(record) => print_record(&record),
            None => println!("  no job record"),
        }
    }
    let notices = run.notices();
    if !notices.is_empty() {
        println!();
        println!("== Notices (the stack's SNS topic: the nightly email, SUSPECT and UNVERIFIABLE exports)");
        for notice in notices {
            println!(
                "{}  {}",
                notice.published_at.strftime("%m-%d %H:%M:%S"),
                notice.subject.as_deref().unwrap_or("(no subject)")
            );
            for line in notice.message.lines() {
                println!("    {line}");
            }
        }
    }
    for job in run.emulator.export_jobs() {
        let mut per_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for file in &job.files {
            let kind = file
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lines = std::fs::read_to_string(file)
                .map(|t| t.lines().count())
                .unwrap_or(0);
            let entry = per_type.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += lines;
        }
        print_job("job", "output", &job);
        for (kind, (files, lines)) in per_type {
            println!("  {kind:<22} {files} file(s), {lines} resource(s)");
        }
    }
    for job in run.emulator.import_jobs() {
        print_job("import job", "logs", &job);
    }
    let stats = run.runner.stats();
    let billed = run.billed_invocations();
    let cost = RunCost::new(
        stats.state_transitions,
        billed.iter().map(|(function, d)| (function.as_str(), *d)),
    );
    println!(
        "In AWS this run would bill {} state transitions, {} Lambda invocations and {:.4} GB-s \
         (verify-export at {} MB, the others at {} MB): ${:.5}",
        cost.transitions,
        cost.invocations,
        cost.gb_seconds,
        hlx_report::pricing::VERIFY_EXPORT_MEMORY_MB,
        hlx_report::pricing::FUNCTION_MEMORY_MB,
        cost.dollars()
    );
    let deliveries = run.event_deliveries();
    if !deliveries.is_empty() {
        let woke = deliveries.iter().filter(|d| d.outcome() == "WOKEN").count();
        let events = run.emulator.events();
        let dropped = events.iter().filter(|e| e.dropped).count();
        println!(
            "HealthLake events: {} produced, {} dropped, {} delivered, {} woke an execution",
            events.len(),
            dropped,
            deliveries.len(),
            woke
        );
    }
    let calls = run.emulator.call_counts();
    println!(
        "HealthLake calls: {}",
        calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(if failed == 0 { 0 } else { 1 })
}

/// A HealthLake job as the emulator holds it: status, message, where it wrote.
fn print_job(what: &str, wrote: &str, job: &hlx_healthlake_emulator::JobInfo) {
    println!(
        "{what} {} ({}): {}{}",
        job.job_id,
        job.datastore_id,
        job.status,
        job.message
            .as_deref()
            .map(|m| format!(" — {m}"))
            .unwrap_or_default()
    );
    if let Some(dir) = &job.output_dir {
        println!("  {wrote} {}", dir.display());
    }
}

/// Prints a job record as a person reads it.
fn print_record(record: &JobRecord) {
    let seconds = |s: Option<u64>| s.map(|s| human(Duration::from_secs(s))).unwrap_or("-".into());
    println!(
        "  record: {}  job {}  queued {}  ran {}  {} check(s), {} start attempt(s)",
        record.status,
        record.job_id.as_deref().unwrap_or("-"),
        seconds(record.queued_seconds),
        seconds(record.running_seconds),
        record.checks,
        record.start_attempts
    );
    if let Some(input) = &record.input_s3_uri {
        println!("  input: {input}");
    }
    if let Some(location) = &record.output_location {
        let what = match record.kind {
            hlx_core::JobKind::Export => "output",
            hlx_core::JobKind::Import => "logs",
        };
        println!("  {what}: {location}");
    }
    if let Some(selection) = crate::render::selection(record) {
        println!("  selection: {selection}");
    }
    if let Some(manifest) = &record.manifest {
        println!("  manifest: {}", crate::render::manifest(manifest));
    }
    if let Some(v) = &record.verification {
        let mut text = crate::render::verification(v).into_iter();
        if let Some(first) = text.next() {
            println!("  verification: {first}");
        }
        for more in text {
            println!("    {more}");
        }
    }
    if let Some(cancel) = &record.cancel {
        match (&cancel.status, &cancel.refused) {
            (Some(status), _) => println!("  cancelled in HealthLake after the timeout: {status}"),
            (None, Some(refused)) => println!("  HealthLake refused to cancel: {refused}"),
            _ => {}
        }
    }
    if let Some(counts) = &record.import_counts {
        println!(
            "  imported {} of {} resource(s) from {} file(s); {} refused",
            counts.resources_imported,
            counts.resources_scanned,
            counts.files_scanned,
            counts.resources_with_errors
        );
    }
    if let Some(message) = &record.message {
        println!("  HealthLake: {message}");
    }
    if let (Some(name), Some(cause)) = (&record.error_name, &record.error_cause) {
        println!("  error: {name}: {cause}");
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|share| (0.0..=1.0).contains(share))
        .ok_or_else(|| format!("{text:?} is not a share from 0 to 1"))
}

/// `KIND:TYPE@NIGHT` (see `--output-fault`).
fn parse_output_fault(text: &str) -> Result<(u32, OutputFault), String> {
    let usage = || format!("{text:?}: expected KIND:TYPE@NIGHT, e.g. missing-type:Condition@2");
    let (fault, night) = text.rsplit_once('@').ok_or_else(usage)?;
    let night: u32 = night.parse().ok().filter(|n| *n > 0).ok_or_else(usage)?;
    let (kind, resource_type) = fault.split_once(':').ok_or_else(usage)?;
    let resource_type = resource_type.to_owned();
    let fault = match kind {
        "truncated-file" => OutputFault::TruncatedFile { resource_type },
        "malformed-line" => OutputFault::MalformedLine { resource_type },
        "wrong-type" => OutputFault::WrongType { resource_type },
        "duplicate-id" => OutputFault::DuplicateId { resource_type },
        "missing-type" => OutputFault::MissingType { resource_type },
        "manifest-count" => OutputFault::ManifestCountMismatch {
            resource_type,
            delta: 1,
        },
        other => return Err(format!("{other:?} is not a fault kind: {}", usage())),
    };
    Ok((night, fault))
}
