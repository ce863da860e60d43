//! hlx's HTTP API, behind API Gateway (REST API, `AWS_IAM` auth, Lambda proxy
//! integration):
//!
//! - `POST /exports` starts an export of the configured bucket, key and role,
//!   idempotently (an `Idempotency-Key`, or the request and the UTC day, name
//!   the Step Functions execution);
//! - `GET /exports/{id}` reads an export's job record;
//! - `GET /exports` lists a data store's exports, newest first;
//! - `POST /imports`, `GET /imports/{id}` and `GET /imports` do the same for
//!   imports: from the configured input prefix (or a location inside it), logs
//!   to the configured output location, with the same key and role. Imports
//!   are optional (see [`config`]).
//!
//! The routing and the domain live here, free of the Lambda runtime; the
//! `api` binary runs [`Api::handle`] under `lambda_http`, and `api-local`
//! serves the same handler over HTTP on loopback.

pub mod api;
pub mod config;
pub mod error;
pub mod executions;
pub mod fake;
pub mod local;
pub mod naming;
pub mod requests;

pub use api::{Api, ExportStarted, ImportStarted, ROUTES, RouteSpec, Started};
pub use config::{ApiConfig, ImportLocations};
pub use error::ApiError;
pub use executions::{ExecutionInfo, ExecutionStarter, SdkExecutionStarter, SfnError, StartedExecution};
pub use fake::FakeStateMachine;
