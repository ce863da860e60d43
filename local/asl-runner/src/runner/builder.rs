//! How a [`Runner`] is made: where its time comes from ([`TimeMode`]), the
//! simulated account ([`RunnerConfig`]), and the [`RunnerBuilder`].

use std::sync::{Arc, Mutex};

use hlx_clock::{SharedClock, VirtualClock};

use super::execution::ExecutionInfo;
use super::{Runner, RunnerInner};
use crate::history::HistoryEvent;
use crate::invoker::TaskInvoker;
use crate::map_storage::MapStorage;
use crate::sched::{Scheduler, WakeSource};

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

/// Receives every history event as it is recorded.
pub type EventListener = Arc<dyn Fn(&ExecutionInfo, &HistoryEvent) + Send + Sync>;

/// Builds a [`Runner`].
pub struct RunnerBuilder {
    invoker: Arc<dyn TaskInvoker>,
    map_storage: Option<Arc<dyn MapStorage>>,
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

    /// S3 for Distributed Maps (`ItemReader`, `ResultWriter`); without it
    /// they fail with `States.ItemReaderFailed` / `States.ResultWriterFailed`.
    pub fn map_storage(mut self, storage: Arc<dyn MapStorage>) -> Self {
        self.map_storage = Some(storage);
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
                map_storage: self.map_storage,
                config: self.config,
                executions: Mutex::default(),
                map_runs: Mutex::default(),
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
            map_storage: None,
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
}
