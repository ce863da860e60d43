//! The local stack: everything hlx deploys, on one machine.
//!
//! - the HealthLake emulator on a loopback port, reached by the real
//!   `aws-sdk-healthlake` client over HTTP;
//! - `statemachine/job.asl.json`, the deployed definition, executed by the
//!   local runner on virtual time (or real time), its function ARNs
//!   substituted as `DefinitionSubstitutions` does;
//! - hlx's functions: the handlers in process, or the release binaries behind
//!   a local Lambda Runtime API;
//! - job history in an embedded store or any DynamoDB-compatible server.
//!
//! - HealthLake's EventBridge events, which the emulator emits at every job
//!   state change, routed by a local event bus to `job-events` with the
//!   deployed event pattern (`statemachine/healthlake-events.pattern.json`),
//!   at their virtual time; the functions wake executions through the real
//!   `aws-sdk-sfn` client and the runner's Step Functions API.
//!
//! `hlx local` and the end-to-end tests both stand on this, so what the tests
//! prove is what a user runs.
//!
//! The stack can also be *served* ([`LocalStack::serve`]): the runner's Step
//! Functions API on a loopback port, with the job state machine registered
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
    ActorHandle, BoxFuture, ExecutionDescription, ExecutionHandle, FunctionConfig, ProcessInvoker, Runner,
    SfnApi, SfnServer, StartError, StateMachine, TaskContext, TaskError, TaskInvoker, TimeDriver, WakeSource,
};
use hlx_aws::{
    AnyJobStore, DynamoDbJobStore, RestExportClient, S3ManifestStore, SdkHealthLakeJobs, SdkTaskTokens,
};
use hlx_clock::{SharedClock, SystemClock, VirtualClock};
use hlx_core::{ExportSelection, HlxError, InMemoryJobStore, JobKind, JobRecord, JobStore, PollSchedule};
use hlx_healthlake_emulator::{
    Churn, Emulator, EmulatorConfig, EventFaults, Faults, JobProfile, ServerHandle, pattern_matches,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// The account and Region local mode stands for.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The functions as the definition's substitutions name them: placeholder, function.
pub const FUNCTIONS: [(&str, &str); 4] = [
    ("StartJobFunctionArn", "start-job"),
    ("CheckJobFunctionArn", "check-job"),
    ("RecordResultFunctionArn", "record-result"),
    ("AwaitJobFunctionArn", "await-job"),
];

/// The function the event bus delivers HealthLake's events to.
pub const EVENTS_FUNCTION: &str = "job-events";

/// The deployed event pattern, as the repository has it.
pub const EVENT_PATTERN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../statemachine/healthlake-events.pattern.json"
);
const EVENT_PATTERN: &str = include_str!("../../../statemachine/healthlake-events.pattern.json");

/// The deployed definition, as the repository has it.
pub const DEFINITION_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine/job.asl.json");
/// The same file, built in, for a binary run away from its checkout.
const DEFINITION: &str = include_str!("../../../statemachine/job.asl.json");

/// Where local exports go (the bucket stands for `--output-dir`), the key
/// they are encrypted with and the role HealthLake assumes: the settings a
/// served stack gives `hlx start` (`HLX_EXPORT_*`).
pub const EXPORT_S3_URI: &str = "s3://hlx-local-exports/manual";
pub const EXPORT_KMS_KEY_ID: &str = "alias/hlx-local-exports";

/// The role HealthLake assumes to write local exports.
/// The credentials everything in the local stack signs with (and the
/// emulator verifies FHIR REST signatures against).
pub const LOCAL_ACCESS_KEY: &str = "hlx-local";
pub const LOCAL_SECRET_KEY: &str = "hlx-local-secret";

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
    /// The definition; `None` for the repository's `statemachine/job.asl.json`.
    pub definition: Option<PathBuf>,
    /// The functions' poll schedule (and whether events end waits).
    pub schedule: PollSchedule,
    /// Faults of HealthLake's EventBridge events: drop, delay, duplicate, reorder.
    pub event_faults: EventFaults,
    /// The Step Functions endpoint the functions call (`SendTaskSuccess`);
    /// `None` for the runner's own. Another engine (moto's) sets its own.
    pub functions_sfn_endpoint: Option<String>,
    /// How every data store's content changes per virtual day (resources
    /// created and updated), so that consecutive nights export different data.
    pub churn: Churn,
    /// What the nightly exports select (full system by default; the
    /// scheduled nightly export of a deployed stack is incremental).
    pub nightly: ExportSelection,
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
            event_faults: EventFaults::none(),
            functions_sfn_endpoint: None,
            churn: Churn::none(),
            nightly: ExportSelection::default(),
        }
    }
}

/// Where `hlx local --import` lands the folder it loads.
pub const LANDING_S3_URI: &str = "s3://hlx-local-landing/import/";

/// Where local imports write their logs.
pub const IMPORT_LOGS_S3_URI: &str = "s3://hlx-local-import-logs/imports";

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<usize> {
    let mut copied = 0;
    if from.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)?;
        return Ok(1);
    }
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copied += copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// 2026-01-01T02:00:00Z: the first night of a local run.
pub fn first_night() -> Timestamp {
    "2026-01-01T02:00:00Z".parse().expect("a fixed time")
}

/// Where a local run keeps job history: in memory, or a DynamoDB-compatible server.
pub type LocalStore = AnyJobStore;

/// hlx's functions, called in process: the same handlers the binaries run,
/// with the same SDK clients over HTTP.
struct InProcessFunctions {
    jobs: SdkHealthLakeJobs,
    manifests: S3ManifestStore,
    tokens: SdkTaskTokens,
    schedule: PollSchedule,
    store: Arc<LocalStore>,
    billed: Arc<Mutex<Vec<(String, Duration)>>>,
}

impl InProcessFunctions {
    async fn call(&self, function: &str, payload: Value) -> Result<Value, TaskError> {
        let name = function.strip_prefix("hlx-").unwrap_or(function);
        let started = Instant::now();
        let store = self.store.as_ref();
        let result = match name {
            "start-job" => hlx_handlers::start_job(&self.jobs, store, &self.schedule, payload).await,
            "check-job" => {
                hlx_handlers::check_job(&self.jobs, &self.manifests, &self.schedule, payload).await
            }
            "record-result" => hlx_handlers::record_result(store, payload).await,
            "await-job" => hlx_handlers::await_job(store, &self.jobs, &self.tokens, payload).await,
            "job-events" => hlx_handlers::job_events(store, &self.tokens, payload).await,
            other => {
                return Err(TaskError::new(
                    "Lambda.ResourceNotFoundException",
                    format!("Function not found: {other}"),
                ));
            }
        };
        self.billed
            .lock()
            .expect("billing lock")
            .push((name.to_owned(), started.elapsed()));
        result.map_err(|e| TaskError::lambda(e.name, e.message))
    }
}

/// The functions, however they run: what the event bus invokes `job-events` through.
#[derive(Clone)]
enum Functions {
    InProcess(Arc<InProcessFunctions>),
    Process(ProcessInvoker),
}

impl Functions {
    async fn call(&self, name: &str, payload: Value, request_id: &str) -> Result<Value, TaskError> {
        match self {
            Functions::InProcess(functions) => functions.call(name, payload).await,
            Functions::Process(processes) => {
                processes
                    .invoke_function(&format!("hlx-{name}"), payload, request_id)
                    .await
            }
        }
    }
}

/// One event the local bus handed out, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusDelivery {
    /// When it arrived (virtual time in virtual mode).
    pub at: Timestamp,
    pub event_id: String,
    pub detail_type: String,
    pub job_id: String,
    pub datastore_id: String,
    /// The second copy of a duplicated event.
    pub duplicate: bool,
    /// Whether the deployed pattern routed it to `job-events`.
    pub routed: bool,
    /// `job-events`' answer (`{"outcome": "WOKEN", ...}`) or its error;
    /// `None` while it is being delivered, or when it was not routed.
    pub result: Option<Result<Value, TaskError>>,
    /// Listeners hear of an event twice: as it arrives (false), and once
    /// job-events has answered (true). The log keeps the second.
    pub handled: bool,
}

impl BusDelivery {
    /// `WOKEN`, `ALREADY_SEEN`, ... or the error's name.
    pub fn outcome(&self) -> String {
        match &self.result {
            None => "NOT_ROUTED".into(),
            Some(Ok(answer)) => answer["outcome"].as_str().unwrap_or("?").to_owned(),
            Some(Err(err)) => err.error.clone(),
        }
    }
}

type DeliveryListener = Arc<dyn Fn(&BusDelivery) + Send + Sync>;

/// The deliveries so far, and who is told of each.
#[derive(Default)]
struct BusLog {
    deliveries: Mutex<Vec<BusDelivery>>,
    listeners: Mutex<Vec<DeliveryListener>>,
}

impl BusLog {
    fn tell(&self, delivery: &BusDelivery) {
        let listeners = self.listeners.lock().expect("bus lock").clone();
        for listener in listeners {
            listener(delivery);
        }
    }

    fn push(&self, delivery: BusDelivery) {
        self.tell(&delivery);
        self.deliveries.lock().expect("bus lock").push(delivery);
    }
}

/// The emulator as a wake-up source: the clock stops at each of its job
/// transitions and event deliveries, and stays put while a delivery is due.
struct EmulatorClock(Emulator);

impl WakeSource for EmulatorClock {
    fn next_wake(&self, _now: Timestamp) -> Option<Timestamp> {
        self.0.next_change_at()
    }

    fn due(&self, now: Timestamp) -> bool {
        self.0.next_event_at().is_some_and(|at| at <= now)
    }
}

/// The local EventBridge bus: routes an event by the deployed patterns to
/// `job-events`. A failed delivery is retried twice, as Lambda retries an
/// asynchronous invocation; what still fails is kept in the log (the
/// deployed stack's dead-letter queue).
struct EventBus {
    /// One per data store the stack serves (the deployed rule's data store ids).
    patterns: Mutex<Vec<Value>>,
    functions: Functions,
    log: BusLog,
    sent: std::sync::atomic::AtomicU64,
}

impl EventBus {
    async fn deliver(&self, at: Timestamp, event: Value, duplicate: bool) -> BusDelivery {
        let routed = self
            .patterns
            .lock()
            .expect("bus lock")
            .iter()
            .any(|p| pattern_matches(p, &event));
        let text = |pointer: &str| {
            event
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let mut delivery = BusDelivery {
            at,
            event_id: text("/id"),
            detail_type: text("/detail-type"),
            job_id: text("/detail/jobId"),
            datastore_id: text("/detail/datastoreId"),
            duplicate,
            routed,
            result: None,
            handled: false,
        };
        self.log.tell(&delivery);
        let mut result = None;
        if routed {
            for _attempt in 0..3 {
                let n = self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let attempt = self
                    .functions
                    .call(EVENTS_FUNCTION, event.clone(), &format!("event-{n:08}"))
                    .await;
                let failed = attempt.is_err();
                result = Some(attempt);
                if !failed {
                    break;
                }
            }
        }
        delivery.result = result;
        delivery.handled = true;
        self.log.push(delivery.clone());
        delivery
    }
}

/// Runs the bus as an actor of the runner: it takes the emulator's events
/// as they fall due, at their virtual time, and delivers them.
fn spawn_event_bus(runner: &Runner, emulator: Emulator, bus: Arc<EventBus>) -> ActorHandle {
    runner.add_wake_source(EmulatorClock(emulator.clone()));
    runner.spawn_actor(move |ctx| async move {
        loop {
            for delivered in emulator.take_due_events(ctx.now()) {
                bus.deliver(ctx.now(), delivered.event.to_json(), delivered.duplicate)
                    .await;
            }
            ctx.next_turn(emulator.next_change_at(), Duration::from_millis(100))
                .await;
        }
    })
}

/// The event pattern for one data store, as the infrastructure deploys it.
pub fn event_pattern(datastore_id: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(EVENT_PATTERN_PATH).unwrap_or_else(|_| EVENT_PATTERN.to_owned());
    let text = text.replace("${DatastoreId}", datastore_id);
    serde_json::from_str(&text).map_err(|e| format!("the event pattern is not JSON: {e}"))
}

/// An invoker chosen after the runner is built (the function processes need
/// the runner's Step Functions endpoint in their environment).
#[derive(Clone, Default)]
struct LateInvoker(Arc<std::sync::OnceLock<Box<dyn TaskInvoker>>>);

impl TaskInvoker for LateInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        match self.0.get() {
            Some(invoker) => invoker.invoke(resource, parameters, ctx),
            None => Box::pin(async {
                Err(TaskError::new(
                    "Lambda.ServiceException",
                    "the functions are not set up",
                ))
            }),
        }
    }
}

/// A running local stack. Dropping it stops the emulator.
pub struct LocalStack {
    pub emulator: Emulator,
    server: ServerHandle,
    pub runner: Runner,
    pub store: Arc<LocalStore>,
    pub machine: Arc<StateMachine>,
    /// The Step Functions API over the runner, the job state machine registered.
    pub sfn: SfnApi,
    /// The job state machine's ARN (`...:stateMachine:hlx-job`).
    pub state_machine_arn: String,
    /// Where job history goes.
    pub history: History,
    pub clock: SharedClock,
    virtual_clock: Option<VirtualClock>,
    /// The data stores created, in order.
    pub datastores: Vec<String>,
    /// The directory that stands for S3.
    pub output_dir: PathBuf,
    billed: Arc<Mutex<Vec<(String, Duration)>>>,
    /// The function processes, when the stack runs the release binaries.
    pub processes: Option<ProcessInvoker>,
    /// The Step Functions API the functions call (`SendTaskSuccess`).
    functions_sfn: SfnServer,
    bus: Arc<EventBus>,
    _bus: ActorHandle,
    /// What the nightly exports select.
    pub nightly: ExportSelection,
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
                churn: config.churn,
                // The functions sign with the stack's credentials; the
                // emulator verifies every FHIR REST request against them.
                credentials: [(LOCAL_ACCESS_KEY.to_owned(), LOCAL_SECRET_KEY.to_owned())].into(),
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

        let sdk = hlx_aws::config::sdk_config_loader()
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
                LOCAL_ACCESS_KEY,
                LOCAL_SECRET_KEY,
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
        let late = LateInvoker::default();
        let builder = Runner::builder(late.clone())
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
        // The functions' own Step Functions endpoint, for SendTaskSuccess.
        let functions_sfn = sfn
            .serve("127.0.0.1:0".parse().expect("loopback"))
            .await
            .map_err(|e| format!("the Step Functions API could not listen: {e}"))?;

        let sfn_endpoint = config
            .functions_sfn_endpoint
            .clone()
            .unwrap_or_else(|| functions_sfn.endpoint_url());
        let mut process_invoker = None;
        let functions = match &config.lambdas {
            Lambdas::InProcess => {
                let healthlake = aws_sdk_healthlake::Client::from_conf(
                    aws_sdk_healthlake::config::Builder::from(&sdk)
                        .endpoint_url(server.endpoint_url())
                        .build(),
                );
                let sfn_client = aws_sdk_sfn::Client::from_conf(
                    aws_sdk_sfn::config::Builder::from(&sdk)
                        .endpoint_url(&sfn_endpoint)
                        .build(),
                );
                let rest = RestExportClient::new(
                    sdk.credentials_provider().expect("local credentials are set"),
                    REGION,
                    server.endpoint_url(),
                )
                .map_err(|e| format!("the FHIR REST client could not be built: {e}"))?;
                // The emulator also serves S3 over its output directory (path style).
                let manifests = S3ManifestStore::new(aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&sdk)
                        .endpoint_url(server.endpoint_url())
                        .force_path_style(true)
                        .build(),
                ));
                Functions::InProcess(Arc::new(InProcessFunctions {
                    jobs: SdkHealthLakeJobs::new(healthlake).with_rest(rest),
                    manifests,
                    tokens: SdkTaskTokens::new(sfn_client),
                    schedule: config.schedule.clone(),
                    store: store.clone(),
                    billed: billed.clone(),
                }))
            }
            Lambdas::Process { bin_dir } => {
                let History::DynamoDb { endpoint, table } = &config.history else {
                    return Err("the function processes keep history in DynamoDB: \
                        give a DynamoDB-compatible endpoint (hlx local --dynamodb-endpoint URL)"
                        .into());
                };
                let mut env: Vec<(String, String)> = vec![
                    ("AWS_ENDPOINT_URL_HEALTHLAKE".into(), server.endpoint_url()),
                    ("AWS_ENDPOINT_URL_S3".into(), server.endpoint_url()),
                    ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.clone()),
                    ("AWS_ENDPOINT_URL_SFN".into(), sfn_endpoint.clone()),
                    ("AWS_ACCESS_KEY_ID".into(), LOCAL_ACCESS_KEY.into()),
                    ("AWS_SECRET_ACCESS_KEY".into(), LOCAL_SECRET_KEY.into()),
                    ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
                    ("HLX_TABLE_NAME".into(), table.clone()),
                    ("RUST_LOG".into(), "info".into()),
                ];
                env.extend(config.schedule.to_env());
                let mut builder = ProcessInvoker::builder().region(REGION).account(ACCOUNT);
                let names = FUNCTIONS.iter().map(|(_, name)| *name).chain([EVENTS_FUNCTION]);
                for name in names {
                    let executable = bin_dir.join(name);
                    if !executable.is_file() {
                        return Err(format!(
                            "{} is missing: build the functions with `cargo build --profile local --workspace --bins`",
                            executable.display()
                        ));
                    }
                    builder = builder
                        .function(FunctionConfig::new(format!("hlx-{name}"), executable).envs(env.clone()));
                }
                let processes = builder.build();
                process_invoker = Some(processes.clone());
                Functions::Process(processes)
            }
        };
        let invoker: Box<dyn TaskInvoker> = match &functions {
            Functions::InProcess(functions) => Box::new(SharedInvoker(functions.clone())),
            Functions::Process(processes) => Box::new(processes.clone()),
        };
        if late.0.set(invoker).is_err() {
            return Err("the functions were set up twice".into());
        }
        emulator.set_event_faults(config.event_faults.clone());
        let patterns = datastores
            .iter()
            .map(|id| event_pattern(id))
            .collect::<Result<Vec<_>, _>>()?;
        let bus = Arc::new(EventBus {
            patterns: Mutex::new(patterns),
            functions,
            log: BusLog::default(),
            sent: Default::default(),
        });
        let bus_actor = spawn_event_bus(&runner, emulator.clone(), bus.clone());
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
            output_dir: config.output_dir.clone(),
            billed,
            processes: process_invoker,
            functions_sfn,
            bus,
            _bus: bus_actor,
            nightly: config.nightly.clone(),
        })
    }

    /// Every event the local bus handed out so far, in order.
    pub fn event_deliveries(&self) -> Vec<BusDelivery> {
        self.bus.log.deliveries.lock().expect("bus lock").clone()
    }

    /// Calls `listener` with each event the bus hands out, as it does.
    pub fn on_event_delivered(&self, listener: impl Fn(&BusDelivery) + Send + Sync + 'static) {
        self.bus
            .log
            .listeners
            .lock()
            .expect("bus lock")
            .push(Arc::new(listener));
    }

    /// Puts an event on the local bus now (EventBridge's `PutEvents`), routed
    /// by the same patterns: how a test replays an event late or sends one
    /// for a job hlx did not start.
    pub async fn put_event(&self, event: Value) -> BusDelivery {
        self.bus.deliver(self.clock.now(), event, false).await
    }

    /// The Step Functions endpoint the functions call.
    pub fn functions_sfn_endpoint(&self) -> String {
        self.functions_sfn.endpoint_url()
    }

    /// The emulator's endpoint (`AWS_ENDPOINT_URL_HEALTHLAKE` for a client).
    pub fn healthlake_endpoint(&self) -> String {
        self.server.endpoint_url()
    }

    /// A nightly export request for a data store, as the schedule sends it.
    pub fn export_request(&self, datastore_id: &str) -> Value {
        let mut request = json!({
            "datastoreId": datastore_id,
            "s3Uri": "s3://hlx-local-exports/nightly",
            "kmsKeyId": "alias/hlx-local-exports",
            "dataAccessRoleArn": data_access_role_arn(),
            "trigger": "schedule"
        });
        if let Value::Object(selection) = serde_json::to_value(&self.nightly).expect("a selection serializes")
        {
            request.as_object_mut().expect("an object").extend(selection);
        }
        request
    }

    /// An import request for a data store, as the import schedule sends it:
    /// load what lies under `input_s3_uri`, logs to the local log bucket.
    pub fn import_request(&self, datastore_id: &str, input_s3_uri: &str) -> Value {
        json!({
            "kind": "import",
            "datastoreId": datastore_id,
            "inputS3Uri": input_s3_uri,
            "outputS3Uri": IMPORT_LOGS_S3_URI,
            "kmsKeyId": "alias/hlx-local-exports",
            "dataAccessRoleArn": data_access_role_arn(),
            "trigger": "schedule"
        })
    }

    /// Writes an object (NDJSON, say) at `s3_uri` in the directory that
    /// stands for S3, as a landing bucket would receive it.
    pub fn put_object(&self, s3_uri: &str, contents: &str) -> std::io::Result<PathBuf> {
        let path = hlx_healthlake_emulator::s3_uri_to_path(&self.output_dir, s3_uri);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents)?;
        Ok(path)
    }

    /// Copies every file under `dir` to `s3_uri` (keeping relative paths), as
    /// `aws s3 cp --recursive` would; returns how many.
    pub fn upload_dir(&self, dir: &Path, s3_uri: &str) -> std::io::Result<usize> {
        let target = hlx_healthlake_emulator::s3_uri_to_path(&self.output_dir, s3_uri);
        copy_tree(dir, &target)
    }

    /// Creates another data store in the emulator (`resources` empty: an
    /// empty one, as a new data store without preloaded data is).
    /// Its events are routed as the stack's first data stores' are.
    pub fn create_datastore(&self, name: &str, profile: JobProfile) -> Result<String, String> {
        let id = self
            .emulator
            .create_datastore(name, Some(profile))
            .map_err(|e| format!("a data store could not be created: {e}"))?;
        self.bus
            .patterns
            .lock()
            .expect("bus lock")
            .push(event_pattern(&id)?);
        Ok(id)
    }

    /// Starts an execution of the state machine: an export, or an import
    /// (`"kind": "import"`), by its input.
    pub fn start_execution(&self, name: &str, input: Value) -> Result<ExecutionHandle, StartError> {
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
                .start_execution(&name, self.export_request(datastore))
                .map_err(|e| format!("{name} could not start: {e}"))?;
            handles.push(handle);
        }
        self.runner.wait_all().await;
        // The bus may still be handing out what fell due at the end.
        self.runner.settle().await;
        Ok(handles.iter().map(ExecutionHandle::describe).collect())
    }

    /// Loads a folder of NDJSON into a data store, as a landing bucket and
    /// the import schedule would: copies `dir` to [`LANDING_S3_URI`] and runs
    /// the import `import-<datastore>-<date>` now (a stack that imports before
    /// its first night starts its clock earlier), through the same state
    /// machine, to its end.
    pub async fn run_import(&self, dir: &Path, datastore_id: &str) -> Result<ExecutionDescription, String> {
        let files = self
            .upload_dir(dir, LANDING_S3_URI)
            .map_err(|e| format!("{} could not be copied to the landing bucket: {e}", dir.display()))?;
        if files == 0 {
            return Err(format!("{} holds no files to import", dir.display()));
        }
        let start = self.clock.now();
        let name = format!("import-{datastore_id}-{}", start.strftime("%Y-%m-%d"));
        let handle = self
            .start_execution(&name, self.import_request(datastore_id, LANDING_S3_URI))
            .map_err(|e| format!("{name} could not start: {e}"))?;
        self.runner.wait_all().await;
        self.runner.settle().await;
        Ok(handle.describe())
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
    pub async fn record(&self, id: &str) -> Result<Option<JobRecord>, HlxError> {
        self.store.get(JobKind::Export, id).await
    }

    /// The job record of an import (its execution name).
    pub async fn import_record(&self, import_id: &str) -> Result<Option<JobRecord>, HlxError> {
        self.store.get(JobKind::Import, import_id).await
    }

    /// How long every invocation ran, as Lambda would bill it: the handler's
    /// time in process, or the function process's own time. The event bus's
    /// `job-events` invocations are included.
    pub fn billed_durations(&self) -> Vec<Duration> {
        self.billed_invocations().into_iter().map(|(_, d)| d).collect()
    }

    /// The same, with each invocation's function name (`check-job`, ...).
    pub fn billed_invocations(&self) -> Vec<(String, Duration)> {
        match &self.processes {
            Some(processes) => processes
                .invocation_records()
                .iter()
                .map(|r| {
                    let name = r.function.strip_prefix("hlx-").unwrap_or(&r.function);
                    (name.to_owned(), r.duration)
                })
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

/// The in-process functions, shared by the runner and the event bus.
struct SharedInvoker(Arc<InProcessFunctions>);

impl TaskInvoker for SharedInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        Box::pin(
            self.0
                .call(ctx.function_name.as_deref().unwrap_or(resource), parameters),
        )
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
        .map(|machine| Arc::new(machine.with_name("hlx-job")))
        .map_err(|e| format!("the state machine definition was refused: {e}"))
}
