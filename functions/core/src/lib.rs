//! hlx's domain: HealthLake export and import jobs.
//!
//! Everything the Lambdas decide lives here, free of `lambda_runtime` and of
//! the AWS SDK: the request and its rules, HealthLake's job statuses, the
//! poll schedule and deadlines, the job record and the rule that keeps it
//! moving forward, selections and incremental chains, manifests, and the two
//! halves of event-driven completion (the callback wait and the handling of
//! HealthLake's events). What the domain needs of AWS it asks through small
//! traits ([`HealthLakeJobs`], [`JobStore`], [`WaitStore`], [`ManifestStore`],
//! [`TaskTokens`]); the `hlx-aws` crate implements them over the SDK, and
//! [`InMemoryJobStore`] implements the stores for local mode and tests.

pub mod admission;
pub mod callback;
pub mod cancel;
pub mod chain;
pub mod error;
pub mod event;
pub mod fhir;
pub mod fields;
pub mod healthlake;
pub mod healthlake_json;
pub mod history;
pub mod import;
pub mod job;
pub mod kind;
pub mod manifest;
pub mod manifest_store;
pub mod memory;
pub mod page_token;
pub mod poll;
pub mod progress;
pub mod record;
pub mod recording;
pub mod request;
pub mod selection;
pub mod status;
pub mod store;
pub mod tasks;
pub mod time;
pub mod validation;
pub mod verification;
pub mod verify_export;
pub mod wait;

pub use callback::{AwaitJobInput, Awaited, EventHandled, EventOutcome, await_job, handle_job_event};
pub use cancel::{CancelAccepted, CancelError, cancel_export_by_id};
pub use error::HlxError;
pub use fields::Trigger;
pub use healthlake::{HealthLakeJobs, RestExportJob};
pub use history::{JobHistory, NoHistory};
pub use import::{ImportCounts, ImportRequest};
pub use job::{CheckJobInput, StartJobInput, check_job, start_job};
pub use kind::JobKind;
pub use manifest::{ExportManifest, ManifestSummary};
pub use manifest_store::{ManifestStore, NoManifests};
pub use memory::InMemoryJobStore;
pub use poll::{PollSchedule, WakeBy};
pub use progress::{JobProgress, Outcome};
pub use record::{JobRecord, RecordRequest, WriteOutcome};
pub use recording::{RecordWritten, record_result};
pub use request::{ExportRequest, JobRequest, client_token_for, output_location};
pub use selection::{ExportMode, ExportScope, ExportSelection};
pub use status::{JobStatus, Phase, RecordStatus};
pub use store::{JobStore, RecordPage};
pub use tasks::{TaskTokens, TokenAnswer};
pub use validation::FieldError;
pub use wait::{WaitItem, WaitStore};
