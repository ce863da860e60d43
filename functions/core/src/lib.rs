//! hlx's domain: HealthLake export and import jobs.
//!
//! Everything the Lambdas decide lives here, free of `lambda_runtime`: the
//! request and its validation, HealthLake's job statuses, the poll schedule and
//! deadlines, the job record and the rule that keeps it moving forward, and the
//! HealthLake, DynamoDB and Step Functions adapters behind small traits, and
//! the two halves of event-driven completion (the callback wait and the
//! handling of HealthLake's events).

pub mod aws;
pub mod callback;
pub mod cancel;
pub mod error;
pub mod event;
pub mod export;
pub mod healthlake;
pub mod history;
pub mod import;
pub mod kind;
pub mod manifest;
pub mod manifest_store;
pub mod poll;
pub mod record;
pub mod request;
pub mod rest;
pub mod selection;
pub mod status;
pub mod store;
pub mod tasks;
pub mod time;
pub mod validation;
pub mod wait;

pub use callback::{AwaitJobInput, Awaited, EventHandled, EventOutcome, await_job, handle_job_event};
pub use cancel::{CancelAccepted, CancelError, cancel_export_by_id};
pub use error::HlxError;
pub use export::{CheckJobInput, JobProgress, Outcome, StartJobInput, check_job, start_job};
pub use healthlake::{HealthLakeJobs, SdkHealthLakeJobs};
pub use history::{JobHistory, NoHistory};
pub use import::{ImportCounts, ImportRequest};
pub use kind::JobKind;
pub use manifest::{ExportManifest, ManifestSummary};
pub use manifest_store::{ManifestStore, NoManifests, S3ManifestStore};
pub use poll::{PollSchedule, WakeBy};
pub use record::{JobRecord, RecordRequest, RecordWritten, WriteOutcome, record_result};
pub use request::{ExportRequest, JobRequest, Trigger, client_token_for, output_location};
pub use rest::{RestExportClient, RestExportJob};
pub use selection::{ExportMode, ExportScope, ExportSelection};
pub use status::{JobStatus, Phase, RecordStatus};
pub use store::{AnyJobStore, DynamoDbJobStore, InMemoryJobStore, JobStore, RecordPage};
pub use tasks::{SdkTaskTokens, TaskTokens, TokenAnswer};
pub use validation::FieldError;
pub use wait::{WaitItem, WaitStore};
