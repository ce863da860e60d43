//! hlx's export domain.
//!
//! Everything the Lambdas decide lives here, free of `lambda_runtime`: the
//! request and its validation, HealthLake's job statuses, the poll schedule and
//! deadlines, the job record and the rules that keep it moving forward, and the
//! HealthLake and DynamoDB adapters behind small traits.

pub mod request;
pub mod status;
pub mod validation;

pub use request::{ExportRequest, Trigger, client_token_for, output_location};
pub use status::{JobStatus, Phase, RecordStatus};
pub use validation::FieldError;
