//! hlx's export domain.
//!
//! Everything the Lambdas decide lives here, free of `lambda_runtime`: the
//! request and its validation, HealthLake's job statuses, the poll schedule and
//! deadlines, the job record and the rule that keeps it moving forward, and the
//! HealthLake and DynamoDB adapters behind small traits.

pub mod aws;
pub mod error;
pub mod export;
pub mod healthlake;
pub mod poll;
pub mod record;
pub mod request;
pub mod status;
pub mod store;
pub mod time;
pub mod validation;

pub use error::HlxError;
pub use export::{CheckExportInput, JobProgress, Outcome, StartExportInput, check_export, start_export};
pub use healthlake::{ExportJobs, SdkExportJobs};
pub use poll::PollSchedule;
pub use record::{JobRecord, RecordRequest, RecordWritten, WriteOutcome, record_result};
pub use request::{ExportRequest, Trigger, client_token_for, output_location};
pub use status::{JobStatus, Phase, RecordStatus};
pub use store::{AnyJobStore, DynamoDbJobStore, InMemoryJobStore, JobStore, RecordPage};
pub use validation::FieldError;
