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
//! runs a [`TimeDriver`](hlx_asl_runner::TimeDriver): whenever an execution
//! is running it waits on the runner, and virtual time jumps ahead as soon
//! as every execution is idle — an export started over the API runs its
//! hours of polling in milliseconds, and its history and job record carry
//! the virtual times.

// The crate's modules, one idea each:
//
// - `config`: what a stack is made of (`StackConfig`, `History`,
//   `Lambdas`, `Time`);
// - `names`: the account, Region, function ARNs, buckets and credentials
//   local mode stands in for;
// - `definition`: the job state machine with its local ARNs substituted;
// - `topic`: the stack's SNS topic, which the state machine publishes to;
// - `emulator` and `runner`: starting the HealthLake emulator, and the
//   clock, the runner and its Step Functions API;
// - `job_store`: job history in memory or a DynamoDB-compatible server;
// - `functions`: hlx's functions in process or as processes, and the
//   invokers that reach them;
// - `event_bus`: the local EventBridge bus and its delivery log;
// - `stack`: the public handle, `LocalStack` — starting it, running jobs
//   on it, its S3 stand-in, and serving it (`ServedStack`).

mod config;
mod definition;
mod emulator;
mod event_bus;
mod functions;
mod job_store;
mod map_storage;
mod names;
mod runner;
mod stack;
mod topic;

pub use config::{History, Lambdas, StackConfig, Time, first_night};
pub use definition::{DEFINITION_PATH, load_definition};
pub use event_bus::{BusDelivery, EVENT_PATTERN_PATH, event_pattern};
pub use job_store::LocalStore;
pub use names::{
    ACCOUNT, EVENTS_FUNCTION, EXPORT_KMS_KEY_ID, EXPORT_S3_URI, FUNCTIONS, IMPORT_LOGS_S3_URI,
    LANDING_S3_URI, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, REGION, data_access_role_arn, function_arn,
};
pub use stack::{LocalStack, ServedStack};
pub use topic::{LocalTopic, Notice, SNS_PUBLISH, topic_arn};
