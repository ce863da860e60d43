//! The runner: starts executions of loaded state machines, keeps them, and
//! answers for them (lookup, waiting, driving virtual time).
//!
//! [`Runner`] itself lives here; the rest is split by idea:
//! * `builder`: [`TimeMode`], [`RunnerConfig`] and [`RunnerBuilder`], how a
//!   runner is made;
//! * `execution`: an execution's status, record and [`ExecutionHandle`];
//! * `actor`: actors, tasks outside any execution that share virtual time;
//! * `task_token`: `.waitForTaskToken` callbacks (`SendTask*`);
//! * `interp`: one execution's interpreter, its lifecycle and history;
//! * `states`: the Pass, Wait, Choice, Succeed and Fail states, and the
//!   `InputPath`/`ResultPath`/`OutputPath` processing;
//! * `retry`: `Retry` and `Catch` around a Task state's attempts;
//! * `task`: one attempt of a Task state, the call through the invoker.

mod actor;
mod builder;
mod execution;
mod interp;
mod map;
mod map_run;
mod retry;
mod states;
mod task;
mod task_token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hlx_clock::SharedClock;
use jiff::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::definition::StateMachine;
use crate::error::check_payload_size;
use crate::history::{ExecutionStats, HistoryEvent};
use crate::invoker::TaskInvoker;
use crate::map_storage::MapStorage;
use crate::sched::{ExecTask, Scheduler, WakeSource};

pub use actor::{ActorContext, ActorHandle};
pub use builder::{EventListener, RunnerBuilder, RunnerConfig, TimeMode};
pub use execution::{ExecutionDescription, ExecutionHandle, ExecutionInfo, ExecutionStatus, StartError};
pub use map_run::{MapRunDescription, MapRunStatus};
pub use task_token::TaskTokenError;

use execution::{ExecutionShared, ParentLink, Record};
use interp::Interp;
use task_token::TokenSlot;

struct RunnerInner {
    sched: Arc<Scheduler>,
    invoker: Arc<dyn TaskInvoker>,
    /// S3 for Distributed Maps' ItemReader and ResultWriter.
    map_storage: Option<Arc<dyn MapStorage>>,
    config: RunnerConfig,
    executions: Mutex<Vec<Arc<ExecutionShared>>>,
    /// Every Map Run started, in start order.
    map_runs: Mutex<Vec<MapRunDescription>>,
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

impl Runner {
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
        self.start(machine, name, input, None)
    }

    /// Starts an execution; a Map Run's child tells `parent` when it ends.
    fn start(
        &self,
        machine: &Arc<StateMachine>,
        name: &str,
        input: Value,
        parent: Option<ParentLink>,
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
                parent,
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

    /// Every Map Run started, in start order.
    pub fn map_runs(&self) -> Vec<MapRunDescription> {
        let runs = lock(&self.inner.map_runs).clone();
        runs.into_iter().map(|run| self.as_seen(run)).collect()
    }

    /// The Map Run with this ARN.
    pub fn map_run(&self, arn: &str) -> Option<MapRunDescription> {
        let run = lock(&self.inner.map_runs).iter().find(|r| r.arn == arn).cloned();
        run.map(|run| self.as_seen(run))
    }

    /// A run still marked running whose execution has ended was aborted
    /// with it (the execution was stopped, or timed out, mid-Map).
    fn as_seen(&self, mut run: MapRunDescription) -> MapRunDescription {
        if run.status == MapRunStatus::Running
            && let Some(parent) = self.execution(&run.execution_arn)
            && parent.status() != ExecutionStatus::Running
        {
            run.status = MapRunStatus::Aborted;
            run.stop_date = parent.describe().stop_date;
        }
        run
    }

    fn map_run_started(&self, run: MapRunDescription) {
        lock(&self.inner.map_runs).push(run);
    }

    fn map_run_ended(&self, arn: &str, status: MapRunStatus, at: Timestamp) {
        if let Some(run) = lock(&self.inner.map_runs).iter_mut().find(|r| r.arn == arn) {
            run.status = status;
            run.stop_date = Some(at);
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
