//! `hlx local`: the whole nightly export on one machine, no AWS account.
//!
//! The HealthLake emulator runs in process on a loopback port; the real
//! state-machine file runs on the local runner, on virtual time by default;
//! its tasks are hlx's Lambda handlers, called in process through the real
//! AWS SDK clients over HTTP, or the release binaries themselves behind a
//! Lambda Runtime API (`--lambdas process`). Job history goes to an embedded
//! store, or to any DynamoDB-compatible server (`--dynamodb-endpoint`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hlx_asl_runner::history::{EventKind, HistoryEvent};
use hlx_asl_runner::{
    BoxFuture, ExecutionInfo, ExecutionStatus, Runner, StateMachine, TaskContext, TaskError, TaskInvoker,
};
use hlx_clock::{SharedClock, SystemClock, VirtualClock};
use hlx_core::{
    DynamoDbJobStore, HlxError, InMemoryJobStore, JobRecord, JobStore, PollSchedule, RecordPage,
    SdkExportJobs, WriteOutcome,
};
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, FaultSpec, Faults, JobProfile, Outcome};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::cost::RunCost;
use crate::scenario::{parse_duration, parse_rate, parse_resources};

/// The deployed definition, as the repository has it.
const DEFINITION_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../statemachine/export.asl.json");
/// The same file, built in, for a binary run away from its checkout.
const DEFINITION: &str = include_str!("../../statemachine/export.asl.json");

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The Lambda functions as the definition's substitutions name them.
pub const FUNCTIONS: [(&str, &str); 3] = [
    ("StartExportFunctionArn", "start-export"),
    ("CheckExportFunctionArn", "check-export"),
    ("RecordResultFunctionArn", "record-result"),
];

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
    /// The release binaries, run as processes behind a local Lambda Runtime API.
    Process,
}

/// `hlx local`'s flags.
#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// How long each export job runs in HealthLake.
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
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
    /// The directory that stands for S3: exports land in it.
    #[arg(long, default_value = ".hlx/s3")]
    pub output_dir: PathBuf,
    /// Keep job history in this DynamoDB-compatible server instead of the embedded store.
    #[arg(long, value_name = "URL")]
    pub dynamodb_endpoint: Option<String>,
    /// The DynamoDB table (created when missing).
    #[arg(long, default_value = "hlx-jobs")]
    pub table: String,
    /// How tasks run: the handlers in process, or the release binaries as processes.
    #[arg(long, value_enum, default_value_t = LambdaMode::InProcess)]
    pub lambdas: LambdaMode,
    /// Where the release binaries are (with --lambdas process).
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Run on the wall clock instead of virtual time (waits really wait).
    #[arg(long)]
    pub real_time: bool,
    /// The state-machine definition to run.
    #[arg(long)]
    pub definition: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Where a local run keeps job history.
enum LocalStore {
    /// In memory, for the run's lifetime: needs no server.
    Embedded(InMemoryJobStore),
    /// Any DynamoDB-compatible server, through the real SDK client.
    DynamoDb(DynamoDbJobStore),
}

impl JobStore for LocalStore {
    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        match self {
            Self::Embedded(store) => store.write(record).await,
            Self::DynamoDb(store) => store.write(record).await,
        }
    }

    async fn get(&self, export_id: &str) -> Result<Option<JobRecord>, HlxError> {
        match self {
            Self::Embedded(store) => store.get(export_id).await,
            Self::DynamoDb(store) => store.get(export_id).await,
        }
    }

    async fn list(
        &self,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        match self {
            Self::Embedded(store) => store.list(datastore_id, limit, next_token).await,
            Self::DynamoDb(store) => store.list(datastore_id, limit, next_token).await,
        }
    }
}

/// The functions, called in process: the same handlers the binaries run.
struct InProcessFunctions {
    jobs: SdkExportJobs,
    schedule: PollSchedule,
    store: Arc<LocalStore>,
    billed: Arc<Mutex<Vec<Duration>>>,
}

impl TaskInvoker for InProcessFunctions {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        Box::pin(async move {
            let function = ctx.function_name.as_deref().unwrap_or(resource);
            let started = Instant::now();
            let result = match function.strip_prefix("hlx-").unwrap_or(function) {
                "start-export" => hlx_handlers::start_export(&self.jobs, &self.schedule, parameters).await,
                "check-export" => hlx_handlers::check_export(&self.jobs, &self.schedule, parameters).await,
                "record-result" => hlx_handlers::record_result(self.store.as_ref(), parameters).await,
                other => {
                    return Err(TaskError::new(
                        "Lambda.ResourceNotFoundException",
                        format!("no function {other} in local mode"),
                    ));
                }
            };
            self.billed.lock().expect("billing lock").push(started.elapsed());
            result.map_err(|e| TaskError::lambda(e.name, e.message))
        })
    }
}

/// Everything a local run set up, for the summary.
struct LocalRun {
    emulator: Emulator,
    store: Arc<LocalStore>,
    runner: Runner,
    billed: Arc<Mutex<Vec<Duration>>>,
    first_night: Timestamp,
}

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:hlx-{name}")
}

fn load_definition(path: Option<&Path>) -> Result<Arc<StateMachine>, String> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => std::fs::read_to_string(DEFINITION_PATH).unwrap_or_else(|_| DEFINITION.to_owned()),
    };
    let substitutions: BTreeMap<String, String> = FUNCTIONS
        .iter()
        .map(|(placeholder, name)| (placeholder.to_string(), function_arn(name)))
        .collect();
    StateMachine::load(&text, &substitutions)
        .map(|machine| Arc::new(machine.with_name("hlx-export")))
        .map_err(|e| format!("the state machine definition was refused: {e}"))
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
    }
}

/// The first night starts at 02:00 UTC, a minute after the run's clock starts.
fn night_start(first: Timestamp, night: u32) -> Timestamp {
    first + SignedDuration::from_hours(24 * i64::from(night))
}

/// Runs `hlx local`; the exit code is 0 when every export succeeded, 1 otherwise.
pub async fn run(args: LocalArgs) -> Result<u8, String> {
    let first_night: Timestamp = "2026-01-01T02:00:00Z".parse().expect("a fixed time");
    let (clock, virtual_clock): (SharedClock, Option<VirtualClock>) = if args.real_time {
        (Arc::new(SystemClock), None)
    } else {
        let clock = VirtualClock::starting_at(first_night - SignedDuration::from_mins(1));
        (Arc::new(clock.clone()), Some(clock))
    };
    let first_night = if args.real_time { clock.now() } else { first_night };

    std::fs::create_dir_all(&args.output_dir).map_err(|e| format!("{}: {e}", args.output_dir.display()))?;
    let faults = Faults::uniform(FaultSpec {
        throttle_rate: args.throttle_rate,
        internal_error_rate: args.internal_error_rate,
        ..FaultSpec::default()
    });
    let emulator = Emulator::new(
        EmulatorConfig {
            seed: args.seed,
            region: REGION.into(),
            account_id: ACCOUNT.into(),
            output_root: Some(args.output_dir.clone()),
            faults,
            ..EmulatorConfig::default()
        },
        clock.clone(),
    );
    let server = emulator
        .serve("127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("the HealthLake emulator could not listen: {e}"))?;
    let datastores: Vec<String> = (1..=args.datastores)
        .map(|n| emulator.create_datastore(&format!("clinic-{n}"), Some(profile(&args))))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the data store could not be created: {e}"))?;

    let machine = load_definition(args.definition.as_deref())?;
    let billed = Arc::new(Mutex::new(Vec::new()));
    let config = hlx_core::aws::sdk_config_loader()
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
            "hlx-local",
            "hlx-local",
            None,
            None,
            "hlx-local",
        ))
        .load()
        .await;
    let healthlake = aws_sdk_healthlake::Client::from_conf(
        aws_sdk_healthlake::config::Builder::from(&config)
            .endpoint_url(server.endpoint_url())
            .build(),
    );
    let schedule = PollSchedule::from_env().map_err(|e| format!("bad poll schedule setting {e}"))?;

    let store = Arc::new(match &args.dynamodb_endpoint {
        None => LocalStore::Embedded(InMemoryJobStore::new()),
        Some(endpoint) => {
            let dynamodb = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&config)
                    .endpoint_url(endpoint)
                    .build(),
            );
            let store = DynamoDbJobStore::new(dynamodb, &args.table);
            store
                .create_table()
                .await
                .map_err(|e| format!("the table {} could not be created at {endpoint}: {e}", args.table))?;
            LocalStore::DynamoDb(store)
        }
    });
    let functions = InProcessFunctions {
        jobs: SdkExportJobs::new(healthlake),
        schedule,
        store: store.clone(),
        billed: billed.clone(),
    };
    let runner = build_runner(&args, clock.clone(), virtual_clock.clone(), functions);
    if args.lambdas == LambdaMode::Process {
        return Err("--lambdas process is not available in this build".into());
    }

    if !args.quiet {
        println!(
            "hlx local: HealthLake emulator on {}, {} data store(s), jobs of {} ending {:?}, {} time",
            server.endpoint_url(),
            datastores.len(),
            crate::cost::human(args.job_duration),
            args.outcome,
            if args.real_time { "real" } else { "virtual" }
        );
        println!("exports land in {}", args.output_dir.display());
        println!();
    }
    let run = LocalRun {
        emulator,
        store,
        runner,
        billed,
        first_night,
    };
    for night in 0..args.nights {
        let start = night_start(run.first_night, night);
        if let Some(clock) = &virtual_clock {
            clock.advance_to(start);
        }
        let date = start.strftime("%Y-%m-%d").to_string();
        for datastore in &datastores {
            let input = json!({
                "datastoreId": datastore,
                "s3Uri": "s3://hlx-local-exports/nightly",
                "kmsKeyId": "alias/hlx-local-exports",
                "dataAccessRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/hlx-local-healthlake-export"),
                "trigger": "schedule"
            });
            let name = format!("nightly-{datastore}-{date}");
            run.runner
                .start_execution(&machine, &name, input)
                .map_err(|e| format!("{name} could not start: {e}"))?;
        }
        run.runner.wait_all().await;
    }
    let code = summary(&run).await?;
    drop(server);
    Ok(code)
}

fn build_runner(
    args: &LocalArgs,
    clock: SharedClock,
    virtual_clock: Option<VirtualClock>,
    functions: impl TaskInvoker + 'static,
) -> Runner {
    let builder = Runner::builder(functions)
        .seed(args.seed)
        .region(REGION)
        .account(ACCOUNT);
    let builder = match virtual_clock {
        Some(clock) => builder.virtual_time(clock),
        None => builder.real_time(clock),
    };
    let runner = builder.build();
    if !args.quiet {
        let start = Arc::new(Mutex::new(None::<String>));
        runner.on_event(move |execution, event| print_event(&start, execution, event));
    }
    runner
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
                    .map(|s| crate::cost::human(Duration::from_secs(s)))
                    .unwrap_or_default()
            ),
            "Task" | "Succeed" | "Fail" => name.clone(),
            _ => return,
        },
        EventKind::LambdaFunctionSucceeded { output } | EventKind::TaskSucceeded { output, .. } => {
            if let Some(status) = output.get("jobStatus").and_then(Value::as_str) {
                let queued = output.get("queuedSeconds").and_then(Value::as_u64).unwrap_or(0);
                let mut line = format!("  └ job {status}");
                if queued > 0 {
                    line.push_str(&format!(
                        ", queued {}",
                        crate::cost::human(Duration::from_secs(queued))
                    ));
                }
                if let Some(running) = output.get("runningSeconds").and_then(Value::as_u64) {
                    line.push_str(&format!(
                        ", running {}",
                        crate::cost::human(Duration::from_secs(running))
                    ));
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

async fn summary(run: &LocalRun) -> Result<u8, String> {
    let executions = run.runner.executions();
    let mut failed = 0;
    println!();
    println!("== Summary");
    for execution in &executions {
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
        let record = run
            .store
            .get(&description.name)
            .await
            .map_err(|e| format!("the job record of {} could not be read: {e}", description.name))?;
        match record {
            Some(record) => print_record(&record),
            None => println!("  no job record"),
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
        println!(
            "job {} ({}): {}{}",
            job.job_id,
            job.datastore_id,
            job.status,
            job.message
                .as_deref()
                .map(|m| format!(" — {m}"))
                .unwrap_or_default()
        );
        if let Some(dir) = &job.output_dir {
            println!("  output {}", dir.display());
        }
        for (kind, (files, lines)) in per_type {
            println!("  {kind:<22} {files} file(s), {lines} resource(s)");
        }
    }
    let stats = run.runner.stats();
    let billed = run.billed.lock().expect("billing lock").clone();
    let cost = RunCost::new(stats.state_transitions, billed);
    println!(
        "In AWS this run would bill {} state transitions, {} Lambda invocations and {:.4} GB-s at 128 MB: ${:.5}",
        cost.transitions,
        cost.invocations,
        cost.gb_seconds,
        cost.dollars()
    );
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

/// Prints a job record as a person reads it.
fn print_record(record: &JobRecord) {
    let seconds = |s: Option<u64>| {
        s.map(|s| crate::cost::human(Duration::from_secs(s)))
            .unwrap_or("-".into())
    };
    println!(
        "  record: {}  job {}  queued {}  ran {}  {} check(s), {} start attempt(s)",
        record.status,
        record.job_id.as_deref().unwrap_or("-"),
        seconds(record.queued_seconds),
        seconds(record.running_seconds),
        record.checks,
        record.start_attempts
    );
    if let Some(location) = &record.output_location {
        println!("  output: {location}");
    }
    if let Some(message) = &record.message {
        println!("  HealthLake: {message}");
    }
    if let (Some(name), Some(cause)) = (&record.error_name, &record.error_cause) {
        println!("  error: {name}: {cause}");
    }
}
