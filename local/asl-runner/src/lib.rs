//! A local executor of Amazon States Language.
//!
//! It runs the deployed `statemachine/*.asl.json` definition itself, as
//! Step Functions does, on virtual time (a 24-hour export runs in
//! milliseconds) or on real time. Tasks go through a [`TaskInvoker`]: async
//! Rust closures ([`InProcessInvoker`]) or real Lambda binaries speaking the
//! Lambda Runtime API ([`ProcessInvoker`]). See the crate's README for what
//! is supported and what is refused.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{collections::BTreeMap, sync::Arc};
//! use hlx_asl_runner::{InProcessInvoker, Runner, StateMachine, TaskError};
//! use hlx_clock::VirtualClock;
//! use serde_json::json;
//!
//! let machine = Arc::new(StateMachine::load(
//!     r#"{"StartAt": "Hello", "States": {"Hello": {"Type": "Task",
//!        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hello", "End": true}}}"#,
//!     &BTreeMap::new(),
//! )?);
//! let invoker = InProcessInvoker::new()
//!     .function("hello", |payload, _ctx| async move { Ok::<_, TaskError>(json!({"got": payload})) });
//! let runner = Runner::virtual_time(invoker, VirtualClock::default());
//! let execution = runner.start_execution(&machine, "run-1", json!({"x": 1}))?;
//! let done = execution.wait().await;
//! println!("{} {:?} {} transitions", done.status, done.output, done.stats.state_transitions);
//! # Ok(()) }
//! ```

pub mod choice;
pub mod definition;
pub mod error;
pub mod history;
pub mod intrinsic;
pub mod invoker;
pub mod map_storage;
pub mod path;
pub mod process;
mod runner;
mod sched;
pub mod sfn_api;
pub mod template;

pub use definition::{LoadError, StateMachine};
pub use error::StatesError;
pub use history::{EventKind, ExecutionStats, HistoryEvent, format_timestamp};
pub use invoker::{BoxFuture, InProcessInvoker, Integration, TaskContext, TaskError, TaskInvoker};
pub use map_storage::{InMemoryMapStorage, ListedObject, MapStorage};
pub use process::{
    FunctionConfig, InvocationOutcome, InvocationRecord, LogLine, LogStream, ProcessInvoker,
    ProcessInvokerBuilder,
};
pub use runner::{
    ActorContext, ActorHandle, EventListener, ExecutionDescription, ExecutionHandle, ExecutionInfo,
    ExecutionStatus, MapRunDescription, MapRunStatus, Runner, RunnerBuilder, RunnerConfig, StartError,
    TaskTokenError, TimeMode,
};
pub use sched::WakeSource;
pub use sfn_api::{SfnApi, SfnApiError, SfnServer, TimeDriver};
