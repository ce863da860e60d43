//! The public handle, [`LocalStack`]: starting the whole stack — emulator,
//! history store, runner, functions and event bus, wired as in AWS — and
//! reaching its parts. Running jobs on it is in [`jobs`], its S3 stand-in
//! in [`s3`], serving it in [`serve`].

mod jobs;
mod s3;
mod serve;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hlx_asl_runner::{ActorHandle, ProcessInvoker, Runner, SfnApi, SfnServer, StateMachine};
use hlx_clock::{SharedClock, VirtualClock};
use hlx_core::ExportSelection;
use hlx_healthlake_emulator::{Emulator, JobProfile, ServerHandle};
use serde_json::Value;

pub use self::serve::ServedStack;
use crate::config::{History, StackConfig};
use crate::definition::load_definition;
use crate::emulator::StartedEmulator;
use crate::event_bus::{BusDelivery, EventBus, event_pattern, spawn_event_bus};
use crate::functions::{Billed, Functions, LateInvoker};
use crate::job_store::{self, LocalStore};
use crate::names::{LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, REGION};
use crate::runner::StartedRunner;
use crate::topic::{LocalTopic, Notice, StackInvoker};

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
    billed: Billed,
    /// The function processes, when the stack runs the release binaries.
    pub processes: Option<ProcessInvoker>,
    /// The Step Functions API the functions call (`SendTaskSuccess`).
    functions_sfn: SfnServer,
    bus: Arc<EventBus>,
    _bus: ActorHandle,
    /// What the nightly exports select.
    pub nightly: ExportSelection,
    /// The stack's SNS topic: the notices the state machine published.
    topic: LocalTopic,
}

impl LocalStack {
    /// Starts the emulator, creates the data stores, prepares the history
    /// store and the functions, and loads the definition.
    pub async fn start(config: StackConfig) -> Result<Self, String> {
        let (clock, virtual_clock) = crate::runner::clock(&config.time);
        let StartedEmulator {
            emulator,
            server,
            datastores,
        } = crate::emulator::start(&config, clock.clone()).await?;
        let machine = load_definition(config.definition.as_deref())?;

        let sdk = sdk_config().await;
        let store = Arc::new(job_store::open(&config.history, &sdk).await?);
        let billed = Arc::new(Mutex::new(Vec::new()));
        let late = LateInvoker::default();
        let StartedRunner {
            runner,
            sfn,
            state_machine_arn,
            functions_sfn,
        } = crate::runner::start(
            config.seed,
            &clock,
            virtual_clock.as_ref(),
            late.clone(),
            machine.clone(),
            Arc::new(crate::map_storage::S3MapStorage {
                client: aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&sdk)
                        .endpoint_url(server.endpoint_url())
                        .force_path_style(true)
                        .build(),
                ),
            }),
        )
        .await?;

        let sfn_endpoint = config
            .functions_sfn_endpoint
            .clone()
            .unwrap_or_else(|| functions_sfn.endpoint_url());
        let functions = Functions::set_up(
            &config,
            &sdk,
            &server.endpoint_url(),
            &sfn_endpoint,
            &store,
            &billed,
        )?;
        let process_invoker = functions.processes();
        let topic = LocalTopic::default();
        late.set(Box::new(StackInvoker {
            topic: topic.clone(),
            functions: functions.task_invoker(),
        }))?;
        emulator.set_event_faults(config.event_faults.clone());
        let patterns = datastores
            .iter()
            .map(|id| event_pattern(id))
            .collect::<Result<Vec<_>, _>>()?;
        let bus = Arc::new(EventBus::new(patterns, functions));
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
            topic,
        })
    }

    /// Every event the local bus handed out so far, in order.
    pub fn event_deliveries(&self) -> Vec<BusDelivery> {
        self.bus.deliveries()
    }

    /// Calls `listener` with each event the bus hands out, as it does.
    pub fn on_event_delivered(&self, listener: impl Fn(&BusDelivery) + Send + Sync + 'static) {
        self.bus.add_listener(Arc::new(listener));
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

    /// Creates another data store in the emulator (`resources` empty: an
    /// empty one, as a new data store without preloaded data is).
    /// Its events are routed as the stack's first data stores' are.
    pub fn create_datastore(&self, name: &str, profile: JobProfile) -> Result<String, String> {
        let id = self
            .emulator
            .create_datastore(name, Some(profile))
            .map_err(|e| format!("a data store could not be created: {e}"))?;
        self.bus.add_pattern(event_pattern(&id)?);
        Ok(id)
    }

    /// The notices published to the stack's topic, in order.
    pub fn notices(&self) -> Vec<Notice> {
        self.topic.notices()
    }

    /// Every invocation, its function's name (`check-job`, ...) and how long
    /// it ran, as Lambda would bill it: the handler's time in process, or the
    /// function process's own time. The event bus's `job-events`
    /// invocations are included.
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

/// The SDK configuration the stack's own clients start from: the local
/// Region and credentials (endpoints are set per client).
pub(super) async fn sdk_config() -> aws_config::SdkConfig {
    hlx_aws::config::sdk_config_loader()
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
            LOCAL_ACCESS_KEY,
            LOCAL_SECRET_KEY,
            None,
            None,
            "hlx-local",
        ))
        .load()
        .await
}
