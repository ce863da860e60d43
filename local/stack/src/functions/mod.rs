//! hlx's functions as the stack runs them, and the invokers that reach them.
//!
//! The functions run either in process ([`in_process`]: the handlers the
//! binaries run, with the same SDK clients over HTTP) or as the release
//! binaries behind a local Lambda Runtime API ([`process`]). Either way the
//! runner's tasks reach them through a [`LateInvoker`] — the runner is built
//! first, since the function processes need its Step Functions endpoint in
//! their environment — and the event bus invokes `job-events` through
//! [`Functions`].

mod in_process;
mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use hlx_asl_runner::{BoxFuture, ProcessInvoker, TaskContext, TaskError, TaskInvoker};
use serde_json::Value;

use crate::config::{Lambdas, StackConfig};
use crate::job_store::LocalStore;

use self::in_process::{InProcessFunctions, SharedInvoker};

/// Each in-process invocation's function name and how long it ran.
pub(crate) type Billed = Arc<Mutex<Vec<(String, Duration)>>>;

/// The functions, however they run: what the event bus invokes `job-events` through.
#[derive(Clone)]
pub(crate) enum Functions {
    InProcess(Arc<InProcessFunctions>),
    Process(ProcessInvoker),
}

impl Functions {
    /// Sets up the functions `config.lambdas` names, calling the emulator at
    /// `healthlake_endpoint` and Step Functions at `sfn_endpoint`; in
    /// process they keep history in `store` and their billing in `billed`.
    pub(crate) fn set_up(
        config: &StackConfig,
        sdk: &SdkConfig,
        healthlake_endpoint: &str,
        sfn_endpoint: &str,
        store: &Arc<LocalStore>,
        billed: &Billed,
    ) -> Result<Self, String> {
        Ok(match &config.lambdas {
            Lambdas::InProcess => Functions::InProcess(Arc::new(InProcessFunctions::new(
                sdk,
                healthlake_endpoint,
                sfn_endpoint,
                config.schedule.clone(),
                config.verify.clone(),
                store.clone(),
                billed.clone(),
            )?)),
            Lambdas::Process { bin_dir } => Functions::Process(process::invoker(
                bin_dir,
                &config.history,
                &config.schedule,
                &config.verify,
                healthlake_endpoint,
                sfn_endpoint,
            )?),
        })
    }

    /// The function processes, when the functions are the release binaries.
    pub(crate) fn processes(&self) -> Option<ProcessInvoker> {
        match self {
            Functions::InProcess(_) => None,
            Functions::Process(processes) => Some(processes.clone()),
        }
    }

    /// The runner's invoker for the same functions.
    pub(crate) fn task_invoker(&self) -> Box<dyn TaskInvoker> {
        match self {
            Functions::InProcess(functions) => Box::new(SharedInvoker(functions.clone())),
            Functions::Process(processes) => Box::new(processes.clone()),
        }
    }

    /// Invokes function `name` (`job-events`, ...) with `payload`.
    pub(crate) async fn call(
        &self,
        name: &str,
        payload: Value,
        request_id: &str,
    ) -> Result<Value, TaskError> {
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

/// An invoker chosen after the runner is built (the function processes need
/// the runner's Step Functions endpoint in their environment).
#[derive(Clone, Default)]
pub(crate) struct LateInvoker(Arc<std::sync::OnceLock<Box<dyn TaskInvoker>>>);

impl LateInvoker {
    /// Sets the invoker, once.
    pub(crate) fn set(&self, invoker: Box<dyn TaskInvoker>) -> Result<(), String> {
        self.0
            .set(invoker)
            .map_err(|_| "the functions were set up twice".to_owned())
    }
}

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
