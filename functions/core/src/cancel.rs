//! Cancelling an export on an operator's or the API's request: the job
//! record says which HealthLake job, the FHIR REST `DELETE` asks HealthLake
//! to stop it, and the running execution records the `CANCEL_*` status it
//! then sees. HealthLake's refusal (data stores created before 2023-06-01
//! cannot cancel) is handed back as HealthLake worded it.

use serde::Serialize;

use crate::error::HlxError;
use crate::healthlake::HealthLakeJobs;
use crate::kind::JobKind;
use crate::store::JobStore;

/// Why an export could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no export has the id {0}")]
    NotFound(String),
    #[error("export {export_id} has no HealthLake job yet (status {status}); cancel it once it has started")]
    NotStarted { export_id: String, status: String },
    #[error("export {export_id} already ended as {status}; there is nothing to cancel")]
    AlreadyEnded { export_id: String, status: String },
    /// HealthLake refused, or could not be asked (the store or HealthLake did not answer).
    #[error(transparent)]
    Failed(#[from] HlxError),
}

/// A cancel HealthLake accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelAccepted {
    pub export_id: String,
    pub datastore_id: String,
    pub job_id: String,
    /// What HealthLake answered: `CANCEL_SUBMITTED` (or the status the job already had).
    pub job_status: String,
}

/// Asks HealthLake to cancel the export `export_id` (an execution name).
pub async fn cancel_export_by_id(
    store: &impl JobStore,
    jobs: &impl HealthLakeJobs,
    export_id: &str,
) -> Result<CancelAccepted, CancelError> {
    let record = store
        .get(JobKind::Export, export_id)
        .await?
        .ok_or_else(|| CancelError::NotFound(export_id.to_owned()))?;
    if record.status.is_terminal() {
        return Err(CancelError::AlreadyEnded {
            export_id: export_id.to_owned(),
            status: record.status.to_string(),
        });
    }
    let (Some(datastore_id), Some(job_id)) = (record.datastore_id.clone(), record.job_id.clone()) else {
        return Err(CancelError::NotStarted {
            export_id: export_id.to_owned(),
            status: record.status.to_string(),
        });
    };
    let status = jobs.cancel_export(&datastore_id, &job_id).await?;
    tracing::info!(%export_id, %job_id, %status, "export cancel requested");
    Ok(CancelAccepted {
        export_id: export_id.to_owned(),
        datastore_id,
        job_id,
        job_status: status.to_string(),
    })
}
