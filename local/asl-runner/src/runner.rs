//! The runner: starts executions, interprets states, records history.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use hlx_clock::{SharedClock, VirtualClock};
use jiff::{SignedDuration, Timestamp};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::definition::{
    IoPath, Jitter, Resource, ResultPath, Retrier, Seconds, State, StateKind, StateMachine, TaskState, Text,
    Transition, WaitFor,
};
use crate::error::{StatesError, check_payload_size, error_matches, names};
use crate::history::{EventKind, ExecutionStats, HistoryEvent, format_timestamp};
use crate::intrinsic::EvalEnv;
use crate::invoker::{Integration, TaskContext, TaskError, TaskInvoker, lambda_function_name};
use crate::path::type_name;
use crate::sched::{ExecFlags, ExecTask, Scheduler, WakeSource, sleep_opt};

/// Where the runner's time comes from.
#[derive(Debug, Clone)]
pub enum TimeMode {
    /// Waits, retry intervals and timeouts advance this clock; nothing sleeps
    /// in wall time.
    Virtual(VirtualClock),
    /// Waits sleep for real (tokio timers), reading time from this clock.
    Real(SharedClock),
}

/// Identity of the simulated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    pub region: String,
    pub account: String,
    /// `$$.Execution.RoleArn`.
    pub role_arn: String,
    /// Seeds every execution's randomness (retry jitter, `States.UUID`,
    /// `States.MathRandom`, request ids, task tokens) together with the
    /// execution's ARN: the same seed and name repeat the same run.
    pub seed: u64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/hlx-local-state-machine".into(),
            seed: 0,
        }
    }
}

/// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which execution an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub arn: String,
    pub name: String,
    pub state_machine_name: String,
}

/// Receives every history event as it is recorded.
pub type EventListener = Arc<dyn Fn(&ExecutionInfo, &HistoryEvent) + Send + Sync>;

/// Like `DescribeExecution`, plus the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: ExecutionStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: Timestamp,
    pub stop_date: Option<Timestamp>,
    pub stats: ExecutionStats,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("ExecutionAlreadyExists: an execution named '{name}' already exists ({arn})")]
    ExecutionAlreadyExists { name: String, arn: String },
    #[error("InvalidName: '{0}' is not a valid execution name")]
    InvalidName(String),
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskTokenError {
    #[error("TaskDoesNotExist: no task is waiting for this token")]
    TaskDoesNotExist,
}

/// A stop request's error and cause.
type StopRequest = (Option<String>, Option<String>);

enum TokenOutcome {
    Success(Value),
    Failure(StatesError),
}

struct TokenSlot {
    exec: u64,
    tx: oneshot::Sender<TokenOutcome>,
    heartbeat: Arc<Mutex<Option<Timestamp>>>,
    heartbeat_seconds: Option<u64>,
}

struct RunnerInner {
    sched: Arc<Scheduler>,
    invoker: Arc<dyn TaskInvoker>,
    config: RunnerConfig,
    executions: Mutex<Vec<Arc<ExecutionShared>>>,
    listeners: Mutex<Vec<EventListener>>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs executions of loaded state machines. Cheap to clone (shared).
#[derive(Clone)]
pub struct Runner {
    inner: Arc<RunnerInner>,
}

/// Builds a [`Runner`].
pub struct RunnerBuilder {
    invoker: Arc<dyn TaskInvoker>,
    time: TimeMode,
    config: RunnerConfig,
    listeners: Vec<EventListener>,
    sources: Vec<Arc<dyn WakeSource>>,
}

impl RunnerBuilder {
    pub fn virtual_time(mut self, clock: VirtualClock) -> Self {
        self.time = TimeMode::Virtual(clock);
        self
    }

    pub fn real_time(mut self, clock: SharedClock) -> Self {
        self.time = TimeMode::Real(clock);
        self
    }

    pub fn config(mut self, config: RunnerConfig) -> Self {
        self.config = config;
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = region.into();
        self
    }

    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.config.account = account.into();
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    pub fn listener(
        mut self,
        listener: impl Fn(&ExecutionInfo, &HistoryEvent) + Send + Sync + 'static,
    ) -> Self {
        self.listeners.push(Arc::new(listener));
        self
    }

    pub fn wake_source(mut self, source: impl WakeSource + 'static) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    pub fn build(self) -> Runner {
        let sched = match self.time {
            TimeMode::Virtual(clock) => Scheduler::new_virtual(clock),
            TimeMode::Real(clock) => Scheduler::new_real(clock),
        };
        for source in self.sources {
            sched.add_source(source);
        }
        Runner {
            inner: Arc::new(RunnerInner {
                sched,
                invoker: self.invoker,
                config: self.config,
                executions: Mutex::default(),
                listeners: Mutex::new(self.listeners),
                tokens: Mutex::default(),
            }),
        }
    }
}

impl Runner {
    /// A builder: virtual time on a fresh [`VirtualClock`] (2026-01-01) unless
    /// told otherwise.
    pub fn builder(invoker: impl TaskInvoker + 'static) -> RunnerBuilder {
        RunnerBuilder {
            invoker: Arc::new(invoker),
            time: TimeMode::Virtual(VirtualClock::default()),
            config: RunnerConfig::default(),
            listeners: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// A runner on virtual time with the default account.
    pub fn virtual_time(invoker: impl TaskInvoker + 'static, clock: VirtualClock) -> Runner {
        Runner::builder(invoker).virtual_time(clock).build()
    }

    /// A runner on real time with the default account.
    pub fn real_time(invoker: impl TaskInvoker + 'static, clock: SharedClock) -> Runner {
        Runner::builder(invoker).real_time(clock).build()
    }

    pub fn clock(&self) -> SharedClock {
        self.inner.sched.clock()
    }

    pub fn is_virtual(&self) -> bool {
        self.inner.sched.is_virtual()
    }

    pub fn config(&self) -> &RunnerConfig {
        &self.inner.config
    }

    /// Adds a listener for every event of every execution.
    pub fn on_event(&self, listener: impl Fn(&ExecutionInfo, &HistoryEvent) + Send + Sync + 'static) {
        lock(&self.inner.listeners).push(Arc::new(listener));
    }

    /// Adds a wake-up source (see [`WakeSource`]); a closure
    /// `Fn(Timestamp) -> Option<Timestamp>` is one.
    pub fn add_wake_source(&self, source: impl WakeSource + 'static) {
        self.inner.sched.add_source(Arc::new(source));
    }

    pub fn state_machine_arn(&self, machine: &StateMachine) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.inner.config.region,
            self.inner.config.account,
            machine.name()
        )
    }

    pub fn execution_arn(&self, machine: &StateMachine, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            self.inner.config.region,
            self.inner.config.account,
            machine.name()
        )
    }

    /// Starts an execution (`StartExecution`). Starting a name that is still
    /// running with the same input returns that execution; a different input,
    /// or a name whose execution has ended, is `ExecutionAlreadyExists`.
    /// Must be called within a tokio runtime.
    pub fn start_execution(
        &self,
        machine: &Arc<StateMachine>,
        name: &str,
        input: Value,
    ) -> Result<ExecutionHandle, StartError> {
        validate_execution_name(name)?;
        check_payload_size("execution input", &input)
            .map_err(|e| StartError::InvalidExecutionInput(e.cause.unwrap_or_default()))?;
        let arn = self.execution_arn(machine, name);
        let shared = {
            let mut executions = lock(&self.inner.executions);
            if let Some(existing) = executions.iter().find(|e| e.info.arn == arn) {
                let running = lock(&existing.record).status == ExecutionStatus::Running;
                if running && existing.input == input {
                    return Ok(self.handle(existing.clone()));
                }
                return Err(StartError::ExecutionAlreadyExists {
                    name: name.to_owned(),
                    arn,
                });
            }
            let (stop_tx, stop_rx) = oneshot::channel();
            let shared = Arc::new(ExecutionShared {
                info: ExecutionInfo {
                    arn: arn.clone(),
                    name: name.to_owned(),
                    state_machine_name: machine.name().to_owned(),
                },
                state_machine_arn: self.state_machine_arn(machine),
                machine: machine.clone(),
                input,
                start: self.inner.sched.now(),
                flags: self.inner.sched.register(),
                record: Mutex::new(Record::default()),
                stop_tx: Mutex::new(Some(stop_tx)),
            });
            executions.push(shared.clone());
            (shared, stop_rx)
        };
        let (shared, stop_rx) = shared;
        let interp = Interp {
            rng: ChaCha8Rng::seed_from_u64(self.inner.config.seed ^ fnv1a(arn.as_bytes())),
            rt: self.inner.clone(),
            ex: shared.clone(),
        };
        let flags = shared.flags.clone();
        tokio::spawn(ExecTask::new(flags, interp.run_execution(stop_rx)));
        Ok(self.handle(shared))
    }

    fn handle(&self, shared: Arc<ExecutionShared>) -> ExecutionHandle {
        ExecutionHandle {
            shared,
            runner: self.clone(),
        }
    }

    /// The execution with this name or ARN.
    pub fn execution(&self, name_or_arn: &str) -> Option<ExecutionHandle> {
        let executions = lock(&self.inner.executions);
        let found = executions
            .iter()
            .find(|e| e.info.arn == name_or_arn)
            .or_else(|| executions.iter().find(|e| e.info.name == name_or_arn))
            .cloned();
        drop(executions);
        found.map(|s| self.handle(s))
    }

    /// Every execution, in start order.
    pub fn executions(&self) -> Vec<ExecutionHandle> {
        let all = lock(&self.inner.executions).clone();
        all.into_iter().map(|s| self.handle(s)).collect()
    }

    /// Waits for every execution started so far to end, driving virtual time.
    pub async fn wait_all(&self) -> Vec<ExecutionDescription> {
        let all = self.executions();
        self.inner
            .sched
            .drive_until(|| all.iter().all(|h| h.status() != ExecutionStatus::Running))
            .await;
        all.iter().map(ExecutionHandle::describe).collect()
    }

    /// Moves virtual time on to `at` (or as far as anything is scheduled),
    /// with every execution, timer and actor doing what falls due on the
    /// way: what happens after the executions have ended (a late event).
    /// No-op on real time.
    pub async fn run_until(&self, at: Timestamp) {
        if self.inner.sched.is_virtual() {
            self.inner.sched.drive_to(at).await;
        }
    }

    /// Lets what is under way at this virtual instant finish (an actor's
    /// delivery after the last execution ended), without moving the clock.
    /// No-op on real time.
    pub async fn settle(&self) {
        if self.inner.sched.is_virtual() {
            self.inner.sched.settle().await;
        }
    }

    /// Counts summed over every execution.
    pub fn stats(&self) -> ExecutionStats {
        let mut total = ExecutionStats::default();
        for e in lock(&self.inner.executions).iter() {
            total.add(&lock(&e.record).stats);
        }
        total
    }

    /// Spawns an *actor*: a task outside any execution that takes part in
    /// virtual time (a local event bus, an emulator's background work). It
    /// gets a turn whenever the clock moves and whenever a wake-up source is
    /// [`WakeSource::due`]; while it works, time stands still, so what it does
    /// happens at the virtual time it was woken for. The body waits for its
    /// next turn with [`ActorContext::next_turn`]. On real time the turns
    /// come from a real timer instead. Dropping the handle stops the actor.
    pub fn spawn_actor<F, Fut>(&self, body: F) -> ActorHandle
    where
        F: FnOnce(ActorContext) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (flags, turn) = self.inner.sched.register_actor();
        let ctx = ActorContext {
            flags: flags.clone(),
            turn,
            sched: self.inner.sched.clone(),
        };
        let task = tokio::spawn(ExecTask::new(flags, body(ctx)));
        ActorHandle { task }
    }

    /// `SendTaskSuccess`: completes the `.waitForTaskToken` task holding `token`.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), TaskTokenError> {
        self.complete_token(token, TokenOutcome::Success(output))
    }

    /// `SendTaskFailure`.
    pub fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), TaskTokenError> {
        self.complete_token(token, TokenOutcome::Failure(StatesError::new(error, cause)))
    }

    /// `SendTaskHeartbeat`: restarts the task's `HeartbeatSeconds`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), TaskTokenError> {
        let tokens = lock(&self.inner.tokens);
        let slot = tokens.get(token).ok_or(TaskTokenError::TaskDoesNotExist)?;
        if let Some(seconds) = slot.heartbeat_seconds {
            *lock(&slot.heartbeat) = Some(
                self.inner
                    .sched
                    .now()
                    .checked_add(SignedDuration::from_secs(seconds as i64))
                    .unwrap_or(Timestamp::MAX),
            );
        }
        Ok(())
    }

    fn complete_token(&self, token: &str, outcome: TokenOutcome) -> Result<(), TaskTokenError> {
        let slot = lock(&self.inner.tokens)
            .remove(token)
            .ok_or(TaskTokenError::TaskDoesNotExist)?;
        self.inner.sched.wake(slot.exec);
        slot.tx
            .send(outcome)
            .map_err(|_| TaskTokenError::TaskDoesNotExist)
    }
}

/// What an actor ([`Runner::spawn_actor`]) waits with.
pub struct ActorContext {
    flags: ExecFlags,
    turn: Arc<tokio::sync::Notify>,
    sched: Arc<Scheduler>,
}

impl ActorContext {
    /// The runner's clock.
    pub fn now(&self) -> Timestamp {
        self.sched.now()
    }

    /// Waits for the actor's next turn. On virtual time that is the next move
    /// of the clock (or a due wake-up source); on real time, `deadline` or
    /// `poll` from now, whichever comes first.
    pub async fn next_turn(&self, deadline: Option<Timestamp>, poll: std::time::Duration) {
        if self.sched.is_virtual() {
            self.flags.idle(self.turn.notified()).await;
            return;
        }
        let now = self.sched.now();
        let until_deadline = deadline
            .map(|d| std::time::Duration::try_from(d.duration_since(now)).unwrap_or_default())
            .unwrap_or(poll);
        tokio::time::sleep(until_deadline.min(poll)).await;
    }
}

/// A running actor; dropping it stops the actor.
#[derive(Debug)]
pub struct ActorHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ActorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn validate_execution_name(name: &str) -> Result<(), StartError> {
    let bad = name.is_empty()
        || name.chars().count() > 80
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c));
    if bad {
        Err(StartError::InvalidName(name.to_owned()))
    } else {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Record {
    status: Status,
    history: Vec<HistoryEvent>,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    stop: Option<Timestamp>,
    stats: ExecutionStats,
}

#[derive(Debug, Clone, Copy)]
struct Status(ExecutionStatus);

impl Default for Status {
    fn default() -> Self {
        Status(ExecutionStatus::Running)
    }
}

impl PartialEq<ExecutionStatus> for Status {
    fn eq(&self, other: &ExecutionStatus) -> bool {
        self.0 == *other
    }
}

struct ExecutionShared {
    info: ExecutionInfo,
    state_machine_arn: String,
    machine: Arc<StateMachine>,
    input: Value,
    start: Timestamp,
    flags: ExecFlags,
    record: Mutex<Record>,
    stop_tx: Mutex<Option<oneshot::Sender<StopRequest>>>,
}

/// A started execution.
#[derive(Clone)]
pub struct ExecutionHandle {
    shared: Arc<ExecutionShared>,
    runner: Runner,
}

impl fmt::Debug for ExecutionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionHandle")
            .field("arn", &self.shared.info.arn)
            .field("status", &self.status())
            .finish()
    }
}

impl ExecutionHandle {
    pub fn arn(&self) -> &str {
        &self.shared.info.arn
    }

    pub fn name(&self) -> &str {
        &self.shared.info.name
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.shared.info
    }

    pub fn status(&self) -> ExecutionStatus {
        lock(&self.shared.record).status.0
    }

    /// The history so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        lock(&self.shared.record).history.clone()
    }

    pub fn stats(&self) -> ExecutionStats {
        lock(&self.shared.record).stats.clone()
    }

    pub fn describe(&self) -> ExecutionDescription {
        let r = lock(&self.shared.record);
        ExecutionDescription {
            arn: self.shared.info.arn.clone(),
            name: self.shared.info.name.clone(),
            state_machine_arn: self.shared.state_machine_arn.clone(),
            status: r.status.0,
            input: self.shared.input.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            cause: r.cause.clone(),
            start_date: self.shared.start,
            stop_date: r.stop,
            stats: r.stats.clone(),
        }
    }

    /// Waits for the execution to end. In virtual mode this is what moves
    /// time: while some `wait` runs, the clock jumps ahead whenever every
    /// execution is waiting on it.
    pub async fn wait(&self) -> ExecutionDescription {
        self.runner
            .inner
            .sched
            .drive_until(|| self.status() != ExecutionStatus::Running)
            .await;
        self.describe()
    }

    /// `StopExecution`: ends a running execution as `ABORTED`.
    pub fn stop(&self, error: Option<&str>, cause: Option<&str>) {
        if let Some(tx) = lock(&self.shared.stop_tx).take() {
            self.runner.inner.sched.wake(self.shared.flags.id());
            let _ = tx.send((error.map(str::to_owned), cause.map(str::to_owned)));
        }
    }
}

/// How a state ended.
enum Step {
    Next {
        output: Value,
        next: String,
    },
    End {
        output: Value,
    },
    Fail {
        error: Option<String>,
        cause: Option<String>,
    },
}

enum Terminal {
    Succeeded(Value),
    Failed {
        error: Option<String>,
        cause: Option<String>,
    },
}

struct Interp {
    rt: Arc<RunnerInner>,
    ex: Arc<ExecutionShared>,
    rng: ChaCha8Rng,
}

/// How a task shows up in the history.
struct TaskLabels {
    lambda_function: bool,
    resource_type: String,
    resource: String,
}

impl TaskLabels {
    fn new(task: &TaskState) -> TaskLabels {
        match &task.resource {
            Resource::LambdaFunction { .. } => TaskLabels {
                lambda_function: true,
                resource_type: "lambda".into(),
                resource: task.resource_text.clone(),
            },
            Resource::LambdaInvoke { wait_for_task_token } => TaskLabels {
                lambda_function: false,
                resource_type: "lambda".into(),
                resource: if *wait_for_task_token {
                    "invoke.waitForTaskToken".into()
                } else {
                    "invoke".into()
                },
            },
            Resource::Service { .. } => {
                // arn:aws:states:::SERVICE:ACTION[.waitForTaskToken]
                let mut parts = task.resource_text.splitn(7, ':').skip(5);
                TaskLabels {
                    lambda_function: false,
                    resource_type: parts.next().unwrap_or_default().to_owned(),
                    resource: parts.next().unwrap_or_default().to_owned(),
                }
            }
        }
    }

    fn failed(&self, err: &StatesError) -> EventKind {
        let timed_out = err.error == names::TIMEOUT || err.error == names::HEARTBEAT_TIMEOUT;
        match (self.lambda_function, timed_out) {
            (true, false) => EventKind::LambdaFunctionFailed {
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (true, true) => EventKind::LambdaFunctionTimedOut {
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (false, false) => EventKind::TaskFailed {
                resource_type: self.resource_type.clone(),
                resource: self.resource.clone(),
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (false, true) => EventKind::TaskTimedOut {
                resource_type: self.resource_type.clone(),
                resource: self.resource.clone(),
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
        }
    }
}

fn apply_io_path(value: &Value, path: &IoPath, field: &str) -> Result<Value, StatesError> {
    match path {
        IoPath::Identity => Ok(value.clone()),
        IoPath::Null => Ok(Value::Object(Map::new())),
        IoPath::Path(p) => p.select(value).ok_or_else(|| {
            StatesError::runtime(format!(
                "Invalid path '{p}' : The {field} could not be found in the input '{value}'"
            ))
        }),
    }
}

fn apply_result_path(raw: &Value, path: &ResultPath, result: Value) -> Result<Value, StatesError> {
    match path {
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::Path(p) if p.is_root() => Ok(result),
        ResultPath::Path(p) => {
            let mut out = raw.clone();
            p.set(&mut out, result).map_err(|e| {
                StatesError::new(
                    names::RESULT_PATH_MATCH_FAILURE,
                    format!("Unable to apply ResultPath '{p}' to input '{raw}': {e}"),
                )
            })?;
            Ok(out)
        }
    }
}

impl Interp {
    fn now(&self) -> Timestamp {
        self.rt.sched.now()
    }

    fn emit(&self, kind: EventKind) {
        let event = {
            let mut r = lock(&self.ex.record);
            let id = r.history.len() as u64 + 1;
            let event = HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: self.now(),
                kind,
            };
            r.history.push(event.clone());
            event
        };
        tracing::debug!(execution = %self.ex.info.name, "{event}");
        let listeners = lock(&self.rt.listeners).clone();
        for listener in listeners {
            listener(&self.ex.info, &event);
        }
    }

    fn stats(&self, f: impl FnOnce(&mut ExecutionStats)) {
        f(&mut lock(&self.ex.record).stats);
    }

    fn context(&self, state: &str, entered: Timestamp, retry_count: u64, token: Option<&str>) -> Value {
        let mut ctx = json!({
            "Execution": {
                "Id": self.ex.info.arn,
                "Input": self.ex.input,
                "Name": self.ex.info.name,
                "RoleArn": self.rt.config.role_arn,
                "StartTime": format_timestamp(self.ex.start),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": format_timestamp(entered),
                "Name": state,
                "RetryCount": retry_count,
            },
            "StateMachine": {
                "Id": self.ex.state_machine_arn,
                "Name": self.ex.info.state_machine_name,
            },
        });
        if let Some(token) = token {
            ctx["Task"] = json!({ "Token": token });
        }
        ctx
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        (0..bytes)
            .map(|_| format!("{:02x}", self.rng.random::<u8>()))
            .collect()
    }

    fn request_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }

    async fn run_execution(mut self, stop_rx: oneshot::Receiver<StopRequest>) {
        let machine = self.ex.machine.clone();
        self.emit(EventKind::ExecutionStarted {
            input: self.ex.input.clone(),
            role_arn: self.rt.config.role_arn.clone(),
            state_machine_arn: self.ex.state_machine_arn.clone(),
        });
        let flags = self.ex.flags.clone();
        let deadline = machine.timeout_seconds().map(|s| {
            self.ex
                .start
                .checked_add(SignedDuration::from_secs(s as i64))
                .unwrap_or(Timestamp::MAX)
        });
        // Not an idle wait: a stop request is an outside signal racing the
        // states, which `ExecutionHandle::stop` announces with `wake`.
        let stop = stop_rx;
        enum End {
            Done(Terminal),
            Stopped(Option<String>, Option<String>),
            TimedOut,
        }
        let end = {
            let run = self.run_states();
            tokio::pin!(run);
            tokio::select! {
                biased;
                Ok((error, cause)) = stop => End::Stopped(error, cause),
                () = sleep_opt(&flags, deadline) => End::TimedOut,
                terminal = &mut run => End::Done(terminal),
            }
        };
        let (status, kind, output, error, cause) = match end {
            End::Done(Terminal::Succeeded(output)) => (
                ExecutionStatus::Succeeded,
                EventKind::ExecutionSucceeded {
                    output: output.clone(),
                },
                Some(output),
                None,
                None,
            ),
            End::Done(Terminal::Failed { error, cause }) => (
                ExecutionStatus::Failed,
                EventKind::ExecutionFailed {
                    error: error.clone(),
                    cause: cause.clone(),
                },
                None,
                error,
                cause,
            ),
            End::Stopped(error, cause) => (
                ExecutionStatus::Aborted,
                EventKind::ExecutionAborted {
                    error: error.clone(),
                    cause: cause.clone(),
                },
                None,
                error,
                cause,
            ),
            End::TimedOut => {
                let error = Some(names::TIMEOUT.to_owned());
                let cause = Some("The execution ran longer than its TimeoutSeconds".to_owned());
                (
                    ExecutionStatus::TimedOut,
                    EventKind::ExecutionTimedOut {
                        error: error.clone(),
                        cause: cause.clone(),
                    },
                    None,
                    error,
                    cause,
                )
            }
        };
        self.emit(kind);
        lock(&self.rt.tokens).retain(|_, slot| slot.exec != flags.id());
        {
            let mut r = lock(&self.ex.record);
            r.status = Status(status);
            r.output = output;
            r.error = error;
            r.cause = cause;
            r.stop = Some(self.now());
        }
        lock(&self.ex.stop_tx).take();
        self.rt.sched.notify();
    }

    async fn run_states(&mut self) -> Terminal {
        let machine = self.ex.machine.clone();
        let mut current = machine.start_at().to_owned();
        let mut input = self.ex.input.clone();
        loop {
            let state = machine
                .state(&current)
                .expect("transitions were validated at load time");
            let entered = self.now();
            self.stats(|s| s.state_transitions += 1);
            self.emit(EventKind::StateEntered {
                state_type: state.kind.type_name(),
                name: state.name.clone(),
                input: input.clone(),
            });
            let step = self
                .run_state(state, &input, entered)
                .await
                .and_then(|step| match &step {
                    Step::Next { output, .. } | Step::End { output } => {
                        check_payload_size("state output", output).map(|()| step)
                    }
                    Step::Fail { .. } => Ok(step),
                });
            match step {
                Ok(Step::Next { output, next }) => {
                    self.emit(EventKind::StateExited {
                        state_type: state.kind.type_name(),
                        name: state.name.clone(),
                        output: output.clone(),
                    });
                    input = output;
                    current = next;
                }
                Ok(Step::End { output }) => {
                    self.emit(EventKind::StateExited {
                        state_type: state.kind.type_name(),
                        name: state.name.clone(),
                        output: output.clone(),
                    });
                    return Terminal::Succeeded(output);
                }
                Ok(Step::Fail { error, cause }) => return Terminal::Failed { error, cause },
                Err(e) => {
                    return Terminal::Failed {
                        error: Some(e.error),
                        cause: e.cause,
                    };
                }
            }
        }
    }

    fn finish(transition: &Transition, output: Value) -> Step {
        match transition {
            Transition::Next(next) => Step::Next {
                output,
                next: next.clone(),
            },
            Transition::End => Step::End { output },
        }
    }

    async fn run_state(
        &mut self,
        state: &State,
        raw: &Value,
        entered: Timestamp,
    ) -> Result<Step, StatesError> {
        match &state.kind {
            StateKind::Pass(p) => {
                let effective = apply_io_path(raw, &p.input_path, "InputPath")?;
                let result = match (&p.result, &p.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => {
                        let ctx = self.context(&state.name, entered, 0, None);
                        t.eval(&mut EvalEnv {
                            input: &effective,
                            context: &ctx,
                            rng: &mut self.rng,
                        })?
                    }
                    (None, None) => effective,
                };
                let output = apply_result_path(raw, &p.result_path, result)?;
                let output = apply_io_path(&output, &p.output_path, "OutputPath")?;
                Ok(Self::finish(&p.transition, output))
            }
            StateKind::Wait(w) => {
                let effective = apply_io_path(raw, &w.input_path, "InputPath")?;
                let until = match &w.wait {
                    WaitFor::Seconds(s) => add_seconds(entered, *s),
                    WaitFor::SecondsPath(p) => {
                        let v = p.select(&effective);
                        match v.as_ref().and_then(Value::as_u64) {
                            Some(s) => add_seconds(entered, s),
                            None => {
                                return Err(StatesError::runtime(format!(
                                    "The SecondsPath parameter does not reference a valid non-negative integer: '{p}' is {}",
                                    v.map_or("missing".to_owned(), |v| v.to_string())
                                )));
                            }
                        }
                    }
                    WaitFor::Timestamp(t) => *t,
                    WaitFor::TimestampPath(p) => {
                        let v = p.select(&effective);
                        match v
                            .as_ref()
                            .and_then(Value::as_str)
                            .and_then(crate::choice::parse_timestamp)
                        {
                            Some(t) => t,
                            None => {
                                return Err(StatesError::runtime(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: '{p}' is {}",
                                    v.map_or("missing".to_owned(), |v| v.to_string())
                                )));
                            }
                        }
                    }
                };
                let flags = self.ex.flags.clone();
                flags.idle(flags.sleep_until(until)).await;
                let output = apply_io_path(&effective, &w.output_path, "OutputPath")?;
                Ok(Self::finish(&w.transition, output))
            }
            StateKind::Choice(c) => {
                let effective = apply_io_path(raw, &c.input_path, "InputPath")?;
                let ctx = self.context(&state.name, entered, 0, None);
                let mut next = None;
                for (rule, target) in &c.choices {
                    if rule.eval(&effective, &ctx)? {
                        next = Some(target.clone());
                        break;
                    }
                }
                let Some(next) = next.or_else(|| c.default.clone()) else {
                    return Err(StatesError::new(names::NO_CHOICE_MATCHED, "No Matches!"));
                };
                let output = apply_io_path(&effective, &c.output_path, "OutputPath")?;
                Ok(Step::Next { output, next })
            }
            StateKind::Succeed(s) => {
                let effective = apply_io_path(raw, &s.input_path, "InputPath")?;
                let output = apply_io_path(&effective, &s.output_path, "OutputPath")?;
                Ok(Step::End { output })
            }
            StateKind::Fail(f) => {
                let ctx = self.context(&state.name, entered, 0, None);
                let error = self.fail_text(f.error.as_ref(), raw, &ctx, "ErrorPath")?;
                let cause = self.fail_text(f.cause.as_ref(), raw, &ctx, "CausePath")?;
                Ok(Step::Fail { error, cause })
            }
            StateKind::Task(task) => self.run_task_state(state, task, raw, entered).await,
        }
    }

    fn fail_text(
        &mut self,
        text: Option<&Text>,
        raw: &Value,
        ctx: &Value,
        field: &str,
    ) -> Result<Option<String>, StatesError> {
        match text {
            None => Ok(None),
            Some(Text::Literal(s)) => Ok(Some(s.clone())),
            Some(Text::Dynamic(source)) => {
                let v = source.eval(
                    &mut EvalEnv {
                        input: raw,
                        context: ctx,
                        rng: &mut self.rng,
                    },
                    field,
                )?;
                match v {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(StatesError::runtime(format!(
                        "The {field} '{}' must resolve to a string, not a {}",
                        source.text(),
                        type_name(&other)
                    ))),
                }
            }
        }
    }

    async fn run_task_state(
        &mut self,
        state: &State,
        task: &TaskState,
        raw: &Value,
        entered: Timestamp,
    ) -> Result<Step, StatesError> {
        let mut attempts = vec![0u64; task.retry.len()];
        let mut retry_count = 0u64;
        loop {
            let err = match self.task_attempt(state, task, raw, entered, retry_count).await {
                Ok(output) => return Ok(Self::finish(&task.transition, output)),
                Err(err) => err,
            };
            if err.is_terminal() {
                return Err(err);
            }
            let retrier = task
                .retry
                .iter()
                .enumerate()
                .find(|(_, r)| r.error_equals.iter().any(|p| error_matches(p, &err.error)));
            if let Some((i, retrier)) = retrier
                && attempts[i] < retrier.max_attempts
            {
                let delay = self.retry_delay(retrier, attempts[i]);
                attempts[i] += 1;
                retry_count += 1;
                let wake_at = self.now().checked_add(delay).unwrap_or(Timestamp::MAX);
                self.stats(|s| {
                    s.state_transitions += 1;
                    s.retries += 1;
                });
                self.emit(EventKind::RetryScheduled {
                    state: state.name.clone(),
                    error: err.error.clone(),
                    cause: err.cause.clone(),
                    retrier: i,
                    attempt: attempts[i],
                    delay_seconds: delay.as_secs_f64(),
                    wake_at,
                });
                let flags = self.ex.flags.clone();
                flags.idle(flags.sleep_until(wake_at)).await;
                continue;
            }
            if let Some(catcher) = task
                .catch
                .iter()
                .find(|c| c.error_equals.iter().any(|p| error_matches(p, &err.error)))
            {
                let output = apply_result_path(raw, &catcher.result_path, err.to_catch_output())?;
                return Ok(Step::Next {
                    output,
                    next: catcher.next.clone(),
                });
            }
            return Err(err);
        }
    }

    /// `IntervalSeconds × BackoffRate^attempt`, capped by `MaxDelaySeconds`,
    /// then, with `JitterStrategy: FULL`, drawn uniformly from `[0, delay]`.
    fn retry_delay(&mut self, r: &Retrier, attempt: u64) -> SignedDuration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut delay = r.interval_seconds as f64 * r.backoff_rate.powi(exponent);
        if let Some(max) = r.max_delay_seconds {
            delay = delay.min(max as f64);
        }
        delay = delay.min(MAX_DELAY_SECONDS);
        if r.jitter == Jitter::Full {
            delay = self.rng.random_range(0.0..=delay);
        }
        // Virtual timers have microsecond resolution.
        SignedDuration::from_micros((delay * 1e6).round() as i64)
    }

    fn seconds(
        &self,
        spec: Option<&Seconds>,
        effective: &Value,
        field: &str,
    ) -> Result<Option<u64>, StatesError> {
        match spec {
            None => Ok(None),
            Some(Seconds::Fixed(n)) => Ok(Some(*n)),
            Some(Seconds::Path(p)) => match p.select(effective).as_ref().and_then(Value::as_u64) {
                Some(n) if n > 0 => Ok(Some(n)),
                other => Err(StatesError::runtime(format!(
                    "The {field} '{p}' must reference a positive integer, found {}",
                    other.map_or("nothing".to_owned(), |v| v.to_string())
                ))),
            },
        }
    }

    /// One attempt of a Task state: input processing, the call, output
    /// processing.
    async fn task_attempt(
        &mut self,
        state: &State,
        task: &TaskState,
        raw: &Value,
        entered: Timestamp,
        retry_count: u64,
    ) -> Result<Value, StatesError> {
        let effective = apply_io_path(raw, &task.input_path, "InputPath")?;
        let timeout = self.seconds(task.timeout.as_ref(), &effective, "TimeoutSecondsPath")?;
        let heartbeat = self.seconds(task.heartbeat.as_ref(), &effective, "HeartbeatSecondsPath")?;
        let token = task.resource.waits_for_task_token().then(|| self.random_hex(48));
        let ctx_obj = self.context(&state.name, entered, retry_count, token.as_deref());
        let parameters = match &task.parameters {
            Some(t) => t.eval(&mut EvalEnv {
                input: &effective,
                context: &ctx_obj,
                rng: &mut self.rng,
            })?,
            None => effective.clone(),
        };
        check_payload_size("task parameters", &parameters)?;

        let region = self.rt.config.region.clone();
        let (target, function_name, payload, integration) = match &task.resource {
            Resource::LambdaFunction { arn, function_name } => (
                arn.clone(),
                Some(function_name.clone()),
                parameters.clone(),
                Integration::LambdaFunction,
            ),
            Resource::LambdaInvoke { .. } => {
                let reference = match parameters.get("FunctionName") {
                    Some(Value::String(s)) => s.clone(),
                    other => {
                        return Err(StatesError::runtime(format!(
                            "lambda:invoke needs a string FunctionName, found {}",
                            other.map_or("nothing".to_owned(), |v| v.to_string())
                        )));
                    }
                };
                let name = lambda_function_name(&reference).to_owned();
                let arn = if reference.starts_with("arn:") {
                    reference.clone()
                } else {
                    format!(
                        "arn:aws:lambda:{region}:{}:function:{reference}",
                        self.rt.config.account
                    )
                };
                let payload = parameters.get("Payload").cloned().unwrap_or(json!({}));
                (arn, Some(name), payload, Integration::LambdaInvoke)
            }
            Resource::Service { resource, .. } => {
                (resource.clone(), None, parameters.clone(), Integration::Service)
            }
        };

        let labels = TaskLabels::new(task);
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionScheduled {
                resource: target.clone(),
                input: parameters.clone(),
                timeout_in_seconds: timeout,
            });
        } else {
            self.emit(EventKind::TaskScheduled {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
                region,
                parameters: parameters.clone(),
                timeout_in_seconds: timeout,
                heartbeat_in_seconds: heartbeat,
            });
        }
        let scheduled = self.now();
        let deadline = timeout.map(|s| add_seconds(scheduled, s));
        let heartbeat_at = Arc::new(Mutex::new(heartbeat.map(|s| add_seconds(scheduled, s))));
        let flags = self.ex.flags.clone();
        let request_id = self.request_id();
        let tctx = TaskContext {
            execution_arn: self.ex.info.arn.clone(),
            execution_name: self.ex.info.name.clone(),
            state_machine_arn: self.ex.state_machine_arn.clone(),
            state_name: state.name.clone(),
            state_entered_time: entered,
            retry_count,
            integration,
            function_name,
            request_id: request_id.clone(),
            task_token: token.clone(),
            deadline,
            flags: flags.clone(),
        };
        let token_rx = token.as_ref().map(|token| {
            let (tx, rx) = oneshot::channel();
            lock(&self.rt.tokens).insert(
                token.clone(),
                TokenSlot {
                    exec: flags.id(),
                    tx,
                    heartbeat: heartbeat_at.clone(),
                    heartbeat_seconds: heartbeat,
                },
            );
            rx
        });
        self.stats(|s| *s.task_invocations.entry(target.clone()).or_default() += 1);
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionStarted);
        } else {
            self.emit(EventKind::TaskStarted {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
            });
        }

        let invoker = self.rt.invoker.clone();
        let call = async {
            let result = invoker
                .invoke(&target, payload, &tctx)
                .await
                .map_err(|TaskError { error, cause }| StatesError::new(error, cause))?;
            let result = if integration == Integration::LambdaInvoke {
                lambda_invoke_output(result, &request_id)
            } else {
                result
            };
            match token_rx {
                None => Ok(result),
                Some(rx) => {
                    self.emit(EventKind::TaskSubmitted {
                        resource_type: labels.resource_type.clone(),
                        resource: labels.resource.clone(),
                        output: result,
                    });
                    match flags.idle(rx).await {
                        Ok(TokenOutcome::Success(v)) => Ok(v),
                        Ok(TokenOutcome::Failure(e)) => Err(e),
                        Err(_) => std::future::pending().await,
                    }
                }
            }
        };
        let heartbeat_watch = async {
            loop {
                let at = *lock(&heartbeat_at);
                sleep_opt(&flags, at).await;
                let at = *lock(&heartbeat_at);
                if at.is_some_and(|at| at <= self.rt.sched.now()) {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            biased;
            r = call => r,
            () = sleep_opt(&flags, deadline) => Err(StatesError::without_cause(names::TIMEOUT)),
            () = heartbeat_watch => Err(StatesError::without_cause(names::HEARTBEAT_TIMEOUT)),
        };
        if let Some(token) = &token {
            lock(&self.rt.tokens).remove(token);
        }
        let result = outcome
            .and_then(|r| check_payload_size("task result", &r).map(|()| r))
            .inspect_err(|err| self.emit(labels.failed(err)))?;
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionSucceeded {
                output: result.clone(),
            });
        } else {
            self.emit(EventKind::TaskSucceeded {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
                output: result.clone(),
            });
        }
        let selected = match &task.result_selector {
            Some(t) => t.eval(&mut EvalEnv {
                input: &result,
                context: &ctx_obj,
                rng: &mut self.rng,
            })?,
            None => result,
        };
        let output = apply_result_path(raw, &task.result_path, selected)?;
        apply_io_path(&output, &task.output_path, "OutputPath")
    }
}

/// Retries never wait longer than this (a year), whatever the backoff says.
const MAX_DELAY_SECONDS: f64 = 31_622_400.0;

fn add_seconds(t: Timestamp, seconds: u64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(
        i64::try_from(seconds).unwrap_or(i64::MAX),
    ))
    .unwrap_or(Timestamp::MAX)
}

/// The output of `arn:aws:states:::lambda:invoke`: the function's result
/// under `Payload`, with the invocation's metadata around it.
fn lambda_invoke_output(payload: Value, request_id: &str) -> Value {
    let headers: BTreeMap<&str, &str> = BTreeMap::from([
        ("Content-Type", "application/json"),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-RequestId", request_id),
    ]);
    let all_headers: BTreeMap<&str, [&str; 1]> = headers.iter().map(|(k, v)| (*k, [*v])).collect();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": all_headers,
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    })
}
