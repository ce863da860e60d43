//! The local stack: everything hlx deploys, on one machine.
//!
//! - the HealthLake emulator on a loopback port, reached by the real
//!   `aws-sdk-healthlake` client over HTTP;
//! - `statemachine/export.asl.json`, the deployed definition, executed by the
//!   local runner on virtual time (or real time), its function ARNs
//!   substituted as `DefinitionSubstitutions` does;
//! - hlx's functions: the handlers in process, or the release binaries behind
//!   a local Lambda Runtime API;
//! - job history in an embedded store or any DynamoDB-compatible server.
//!
//! `hlx local` and the end-to-end tests both stand on this, so what the tests
//! prove is what a user runs.
//!
//! The stack can also be *served* ([`LocalStack::serve`]): the runner's Step
//! Functions API on a loopback port, with the export state machine registered
//! under its ARN, so `hlx start/status/list/watch`, the AWS CLI or any SDK
//! (`AWS_ENDPOINT_URL_SFN`) start and follow exports on it. In virtual time
//! the runner's clock moves only while someone waits on it, so a served stack
//! runs a [`TimeDriver`]: whenever an execution is running it waits on the
//! runner, and virtual time jumps ahead as soon as every execution is idle —
//! an export started over the API runs its hours of polling in milliseconds,
//! and its history and job record carry the virtual times.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hlx_asl_runner::{
    BoxFuture, ExecutionDescription, ExecutionHandle, FunctionConfig, ProcessInvoker, Runner, SfnApi,
    SfnServer, StartError, StateMachine, TaskContext, TaskError, TaskInvoker, TimeDriver,
};
use hlx_clock::{SharedClock, SystemClock, VirtualClock};
use hlx_core::{
    AnyJobStore, DynamoDbJobStore, HlxError, InMemoryJobStore, JobRecord, JobStore, PollSchedule,
    SdkExportJobs,
};
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, Faults, JobProfile, ServerHandle};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// The account and Region local mode stands for.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The functions as the definition's substitutions name them: placeholder, function.
pub const FUNCTIONS: [(&str, &str); 3] = [
    ("StartExportFunctionArn", "start-export"),
    ("CheckExportFunctionArn", "check-export"),
    ("RecordResultFunctionArn", "record-result"),
];

/// The deployed definition, as the repository has it.
pub const DEFINITION_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine/export.asl.json");
/// The same file, built in, for a binary run away from its checkout.
const DEFINITION: &str = include_str!("../../../statemachine/export.asl.json");

/// Where local exports go (the bucket stands for `--output-dir`), the key
/// they are encrypted with and the role HealthLake assumes: the settings a
/// served stack gives `hlx start` (`HLX_EXPORT_*`).
pub const EXPORT_S3_URI: &str = "s3://hlx-local-exports/manual";
pub const EXPORT_KMS_KEY_ID: &str = "alias/hlx-local-exports";

/// The role HealthLake assumes to write local exports.
pub fn data_access_role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/hlx-local-healthlake-export")
}

/// The function's ARN in local mode (`hlx-<name>`, as the stacks name them).
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:hlx-{name}")
}

/// Where job history goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// In memory, for the run's lifetime.
    Embedded,
    /// A DynamoDB-compatible server; the table is created when missing.
    DynamoDb { endpoint: String, table: String },
}

/// How tasks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lambdas {
    /// hlx's handlers, called in process (the code the binaries run).
    InProcess,
    /// The release binaries in `bin_dir`, run as processes behind a local
    /// Lambda Runtime API.
    Process { bin_dir: PathBuf },
}

/// Where the clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Time {
    /// Virtual time, starting at this instant: waits cost no wall time.
    Virtual(Timestamp),
    /// The wall clock.
    Real,
}

/// What a local stack is made of.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub seed: u64,
    /// How each data store's export jobs behave.
    pub profile: JobProfile,
    pub datastores: u32,
    /// Faults on the HealthLake wire.
    pub faults: Faults,
    /// The directory that stands for S3.
    pub output_dir: PathBuf,
    pub history: History,
    pub lambdas: Lambdas,
    pub time: Time,
    /// The definition; `None` for the repository's `statemachine/export.asl.json`.
    pub definition: Option<PathBuf>,
    /// The functions' poll schedule.
    pub schedule: PollSchedule,
}

impl StackConfig {
    /// A stack with the given output directory and everything else at its default.
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        Self {
            seed: 7,
            profile: JobProfile::default(),
            datastores: 1,
            faults: Faults::none(),
            output_dir: output_dir.into(),
            history: History::Embedded,
            lambdas: Lambdas::InProcess,
            time: Time::Virtual(first_night()),
            definition: None,
            schedule: PollSchedule::default(),
        }
    }
}

/// 2026-01-01T02:00:00Z: the first night of a local run.
pub fn first_night() -> Timestamp {
    "2026-01-01T02:00:00Z".parse().expect("a fixed time")
}

/// Where a local run keeps job history: in memory, or a DynamoDB-compatible server.
pub type LocalStore = AnyJobStore;

/// hlx's functions, called in process: the same handlers the binaries run.
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
                        format!("Function not found: {other}"),
                    ));
                }
            };
            self.billed.lock().expect("billing lock").push(started.elapsed());
            result.map_err(|e| TaskError::lambda(e.name, e.message))
        })
    }
}

/// A running local stack. Dropping it stops the emulator.
pub struct LocalStack {
    pub emulator: Emulator,
    server: ServerHandle,
    pub runner: Runner,
    pub store: Arc<LocalStore>,
    pub machine: Arc<StateMachine>,
    /// The Step Functions API over the runner, the export machine registered.
    pub sfn: SfnApi,
    /// The export state machine's ARN (`...:stateMachine:hlx-export`).
    pub state_machine_arn: String,
    /// Where job history goes.
    pub history: History,
    pub clock: SharedClock,
    virtual_clock: Option<VirtualClock>,
    /// The data stores created, in order.
    pub datastores: Vec<String>,
    billed: Arc<Mutex<Vec<Duration>>>,
    /// The function processes, when the stack runs the release binaries.
    pub processes: Option<ProcessInvoker>,
}

impl LocalStack {
    /// Starts the emulator, creates the data stores, prepares the history
    /// store and the functions, and loads the definition.
    pub async fn start(config: StackConfig) -> Result<Self, String> {
        let (clock, virtual_clock): (SharedClock, Option<VirtualClock>) = match config.time {
            Time::Virtual(start) => {
                let clock = VirtualClock::starting_at(start - SignedDuration::from_mins(1));
                (Arc::new(clock.clone()), Some(clock))
            }
            Time::Real => (Arc::new(SystemClock), None),
        };
        std::fs::create_dir_all(&config.output_dir)
            .map_err(|e| format!("{}: {e}", config.output_dir.display()))?;
        let emulator = Emulator::new(
            EmulatorConfig {
                seed: config.seed,
                region: REGION.into(),
                account_id: ACCOUNT.into(),
                output_root: Some(config.output_dir.clone()),
                faults: config.faults.clone(),
                ..EmulatorConfig::default()
            },
            clock.clone(),
        );
        let server = emulator
            .serve("127.0.0.1:0".parse().expect("loopback"))
            .await
            .map_err(|e| format!("the HealthLake emulator could not listen: {e}"))?;
        let datastores = (1..=config.datastores)
            .map(|n| emulator.create_datastore(&format!("clinic-{n}"), Some(config.profile.clone())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a data store could not be created: {e}"))?;
        let machine = load_definition(config.definition.as_deref())?;

        let sdk = hlx_core::aws::sdk_config_loader()
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
        let store = Arc::new(match &config.history {
            History::Embedded => LocalStore::Memory(InMemoryJobStore::new()),
            History::DynamoDb { endpoint, table } => {
                let client = aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&sdk)
                        .endpoint_url(endpoint)
                        .build(),
                );
                let store = DynamoDbJobStore::new(client, table);
                store
                    .create_table()
                    .await
                    .map_err(|e| format!("the table {table} could not be created at {endpoint}: {e}"))?;
                LocalStore::DynamoDb(store)
            }
        });
        let billed = Arc::new(Mutex::new(Vec::new()));
        let mut process_invoker = None;
        let invoker: Box<dyn TaskInvoker> = match &config.lambdas {
            Lambdas::InProcess => {
                let healthlake = aws_sdk_healthlake::Client::from_conf(
                    aws_sdk_healthlake::config::Builder::from(&sdk)
                        .endpoint_url(server.endpoint_url())
                        .build(),
                );
                Box::new(InProcessFunctions {
                    jobs: SdkExportJobs::new(healthlake),
                    schedule: config.schedule.clone(),
                    store: store.clone(),
                    billed: billed.clone(),
                })
            }
            Lambdas::Process { bin_dir } => {
                let History::DynamoDb { endpoint, table } = &config.history else {
                    return Err("the function processes keep history in DynamoDB: \
                        give a DynamoDB-compatible endpoint (hlx local --dynamodb-endpoint URL)"
                        .into());
                };
                let mut env: Vec<(String, String)> = vec![
                    ("AWS_ENDPOINT_URL_HEALTHLAKE".into(), server.endpoint_url()),
                    ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.clone()),
                    ("AWS_ACCESS_KEY_ID".into(), "hlx-local".into()),
                    ("AWS_SECRET_ACCESS_KEY".into(), "hlx-local".into()),
                    ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
                    ("HLX_TABLE_NAME".into(), table.clone()),
                    ("RUST_LOG".into(), "info".into()),
                ];
                env.extend(config.schedule.to_env());
                let mut builder = ProcessInvoker::builder().region(REGION).account(ACCOUNT);
                for (_, name) in FUNCTIONS {
                    let executable = bin_dir.join(name);
                    if !executable.is_file() {
                        return Err(format!(
                            "{} is missing: build the functions with `cargo build --release`",
                            executable.display()
                        ));
                    }
                    builder = builder
                        .function(FunctionConfig::new(format!("hlx-{name}"), executable).envs(env.clone()));
                }
                let processes = builder.build();
                process_invoker = Some(processes.clone());
                Box::new(processes)
            }
        };
        let builder = Runner::builder(BoxedInvoker(invoker))
            .seed(config.seed)
            .region(REGION)
            .account(ACCOUNT);
        let builder = match &virtual_clock {
            Some(clock) => builder.virtual_time(clock.clone()),
            None => builder.real_time(clock.clone()),
        };
        let runner = builder.build();
        let sfn = SfnApi::new(runner.clone());
        let state_machine_arn = sfn.register(machine.clone());
        Ok(Self {
            emulator,
            server,
            runner,
            store,
            machine,
            sfn,
            state_machine_arn,
            history: config.history.clone(),
            clock,
            virtual_clock,
            datastores,
            billed,
            processes: process_invoker,
        })
    }

    /// The emulator's endpoint (`AWS_ENDPOINT_URL_HEALTHLAKE` for a client).
    pub fn healthlake_endpoint(&self) -> String {
        self.server.endpoint_url()
    }

    /// A nightly export request for a data store, as the schedule sends it.
    pub fn export_request(&self, datastore_id: &str) -> Value {
        json!({
            "datastoreId": datastore_id,
            "s3Uri": "s3://hlx-local-exports/nightly",
            "kmsKeyId": "alias/hlx-local-exports",
            "dataAccessRoleArn": data_access_role_arn(),
            "trigger": "schedule"
        })
    }

    /// Starts an execution of the export state machine.
    pub fn start_export(&self, name: &str, input: Value) -> Result<ExecutionHandle, StartError> {
        self.runner.start_execution(&self.machine, name, input)
    }

    /// Moves virtual time to `at` (no-op on real time).
    pub fn advance_to(&self, at: Timestamp) {
        if let Some(clock) = &self.virtual_clock {
            clock.advance_to(at);
        }
    }

    /// Starts one night's exports (`nightly-<datastore>-<date>`) for every
    /// data store at 02:00 of night `n` (0 = the first), and waits for them.
    pub async fn run_night(&self, night: u32) -> Result<Vec<ExecutionDescription>, String> {
        let start = match self.virtual_clock {
            Some(_) => first_night() + SignedDuration::from_hours(24 * i64::from(night)),
            None => self.clock.now(),
        };
        self.advance_to(start);
        let date = start.strftime("%Y-%m-%d").to_string();
        let mut handles = Vec::new();
        for datastore in &self.datastores {
            let name = format!("nightly-{datastore}-{date}");
            let handle = self
                .start_export(&name, self.export_request(datastore))
                .map_err(|e| format!("{name} could not start: {e}"))?;
            handles.push(handle);
        }
        self.runner.wait_all().await;
        Ok(handles.iter().map(ExecutionHandle::describe).collect())
    }

    /// Serves the Step Functions API on `addr` (`127.0.0.1:0` for an
    /// ephemeral port) and, in virtual time, drives the clock whenever an
    /// execution is running; both stop when the returned value is dropped.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServedStack, String> {
        let server = self
            .sfn
            .serve(addr)
            .await
            .map_err(|e| format!("the Step Functions API could not listen on {addr}: {e}"))?;
        Ok(ServedStack {
            server,
            _driver: TimeDriver::spawn(&self.runner),
        })
    }

    /// The job record of an export (its execution name).
    pub async fn record(&self, export_id: &str) -> Result<Option<JobRecord>, HlxError> {
        self.store.get(export_id).await
    }

    /// How long every invocation ran, as Lambda would bill it: the handler's
    /// time in process, or the function process's own time.
    pub fn billed_durations(&self) -> Vec<Duration> {
        match &self.processes {
            Some(processes) => processes
                .invocation_records()
                .iter()
                .map(|r| r.duration)
                .collect(),
            None => self.billed.lock().expect("billing lock").clone(),
        }
    }
}

/// A served stack's Step Functions API and the driver of its virtual time.
#[derive(Debug)]
pub struct ServedStack {
    pub server: SfnServer,
    _driver: TimeDriver,
}

impl ServedStack {
    /// `AWS_ENDPOINT_URL_SFN` for a client.
    pub fn sfn_endpoint(&self) -> String {
        self.server.endpoint_url()
    }
}

/// A boxed invoker, so the stack can choose one at run time.
struct BoxedInvoker(Box<dyn TaskInvoker>);

impl TaskInvoker for BoxedInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        self.0.invoke(resource, parameters, ctx)
    }
}

/// Loads the definition with the local function ARNs substituted.
pub fn load_definition(path: Option<&Path>) -> Result<Arc<StateMachine>, String> {
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
