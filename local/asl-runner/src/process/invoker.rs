//! The [`ProcessInvoker`] and its builder: the functions it knows, its warm
//! sandboxes, fault injection, and the records and logs it keeps.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use super::config::FunctionConfig;
use super::lock;
use super::records::{InvocationRecord, LogLine};
use super::sandbox::Sandbox;

pub(super) struct Shared {
    pub(super) region: String,
    pub(super) account: String,
    pub(super) inherit_env: bool,
    pub(super) functions: HashMap<String, FunctionConfig>,
    pub(super) idle: Mutex<HashMap<String, Vec<Sandbox>>>,
    pub(super) invocations: Mutex<HashMap<String, u64>>,
    pub(super) crashes: Mutex<HashMap<String, Vec<u64>>>,
    pub(super) records: Mutex<Vec<InvocationRecord>>,
    pub(super) logs: Arc<Mutex<Vec<LogLine>>>,
    pub(super) next_sandbox: AtomicU64,
}

/// Runs Lambda functions as child processes speaking the Runtime API.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct ProcessInvoker {
    pub(super) shared: Arc<Shared>,
}

/// Builds a [`ProcessInvoker`].
pub struct ProcessInvokerBuilder {
    region: String,
    account: String,
    inherit_env: bool,
    functions: HashMap<String, FunctionConfig>,
}

impl ProcessInvokerBuilder {
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// Pass the runner's whole environment to the functions. By default
    /// they get only `PATH`, the Lambda variables and their own `env`, as in
    /// Lambda.
    pub fn inherit_env(mut self, inherit: bool) -> Self {
        self.inherit_env = inherit;
        self
    }

    pub fn function(mut self, config: FunctionConfig) -> Self {
        self.functions.insert(config.name.clone(), config);
        self
    }

    pub fn build(self) -> ProcessInvoker {
        ProcessInvoker {
            shared: Arc::new(Shared {
                region: self.region,
                account: self.account,
                inherit_env: self.inherit_env,
                functions: self.functions,
                idle: Mutex::default(),
                invocations: Mutex::default(),
                crashes: Mutex::default(),
                records: Mutex::default(),
                logs: Arc::default(),
                next_sandbox: AtomicU64::new(0),
            }),
        }
    }
}

impl ProcessInvoker {
    pub fn builder() -> ProcessInvokerBuilder {
        ProcessInvokerBuilder {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            inherit_env: false,
            functions: HashMap::new(),
        }
    }

    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.shared.region, self.shared.account
        )
    }

    /// Fault injection: the process that takes the `nth` invocation (from 1,
    /// counted over every invocation of `function`) is killed after taking
    /// it and before its answer can arrive.
    pub fn crash_on_invocation(&self, function: &str, nth: u64) {
        lock(&self.shared.crashes)
            .entry(function.to_owned())
            .or_default()
            .push(nth);
    }

    /// Every invocation so far, in completion order.
    pub fn invocation_records(&self) -> Vec<InvocationRecord> {
        lock(&self.shared.records).clone()
    }

    /// Everything the function processes wrote to stdout and stderr.
    pub fn logs(&self) -> Vec<LogLine> {
        lock(&self.shared.logs).clone()
    }

    /// One function's output as text, a line each.
    pub fn log_text(&self, function: &str) -> String {
        lock(&self.shared.logs)
            .iter()
            .filter(|l| l.function == function)
            .map(|l| format!("{}\n", l.line))
            .collect()
    }

    /// Kills every idle (warm) process.
    pub fn shutdown(&self) {
        lock(&self.shared.idle).clear();
    }

    /// How many warm processes wait for work.
    pub fn warm_processes(&self, function: &str) -> usize {
        lock(&self.shared.idle).get(function).map_or(0, Vec::len)
    }
}
