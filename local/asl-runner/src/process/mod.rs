//! Real Lambda binaries as tasks: the Lambda Runtime API on loopback and a
//! [`ProcessInvoker`] that runs functions as child processes.
//!
//! Each *sandbox* is one child process with its own Runtime API endpoint
//! (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`), as in Lambda, where every
//! execution environment has its own: the endpoint knows which process took
//! which invocation, so a crash is pinned on the right invocation. Sandboxes
//! start lazily, serve one invocation at a time, and are kept warm for the
//! next; overlapping invocations of a function start more of them. A
//! sandbox whose process exits, crashes, times out or fails to initialise is
//! discarded and the next invocation starts a fresh one.
//!
//! Errors, as Step Functions reports them for Lambda tasks:
//! * the function reports an error (`/invocation/{id}/error`): `Error` is its
//!   `errorType`, `Cause` the error body (`{"errorType", "errorMessage", ...}`);
//! * the process exits or is killed mid-invocation: `Lambda.Unknown`, cause
//!   `{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: ... Error:
//!   Runtime exited with error: exit status 1"}`;
//! * it does not answer within the function timeout (real time): the process
//!   is killed and the error is `Lambda.Unknown` with `"errorMessage": "...
//!   Task timed out after 30.00 seconds"` — what Step Functions reports for a
//!   Lambda timeout (a `States.Timeout` is only the state's own
//!   `TimeoutSeconds`);
//! * the runtime reports an init error (`/init/error`) or never asks for work
//!   within the init timeout (10 s): `Lambda.Unknown`, the cause naming
//!   `Runtime.InitError` / the init timeout.
//!
//! The parts:
//! * `config`: [`FunctionConfig`], how to run one function;
//! * `records`: what is kept of each invocation ([`InvocationRecord`]) and
//!   of each line a process writes ([`LogLine`]);
//! * `runtime_api`: the Runtime API server of one sandbox;
//! * `sandbox`: one child process and its endpoint, spawned and killed;
//! * `invoker`: the [`ProcessInvoker`], its builder and what it reports;
//! * `invocation`: one invocation end to end, and the [`TaskInvoker`]
//!   implementation.
//!
//! [`TaskInvoker`]: crate::invoker::TaskInvoker

mod config;
mod invocation;
mod invoker;
mod records;
mod runtime_api;
mod sandbox;

use std::sync::{Mutex, MutexGuard};

pub use config::FunctionConfig;
pub use invoker::{ProcessInvoker, ProcessInvokerBuilder};
pub use records::{InvocationOutcome, InvocationRecord, LogLine, LogStream};

/// The largest synchronous invocation payload Lambda accepts.
const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
