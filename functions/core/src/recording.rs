//! record-result's step: the job record built from what the execution saw,
//! written by the forward-only rule.

use serde::Serialize;

use crate::error::HlxError;
use crate::record::{JobRecord, RecordRequest, WriteOutcome};
use crate::status::RecordStatus;
use crate::store::JobStore;

/// record-result's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordWritten {
    pub id: String,
    pub status: RecordStatus,
    pub write: WriteOutcome,
}

/// Builds the record and writes it by the forward-only rule.
pub async fn record_result(store: &impl JobStore, input: RecordRequest) -> Result<RecordWritten, HlxError> {
    let record = JobRecord::from_request(input)?;
    let write = store.write(&record).await?;
    // Also when the record was already written: a retry after a crash
    // between the two writes still moves the chain (forward only, so twice
    // is once).
    crate::history::advance_chain_after(store, &record).await?;
    // A terminal record gives its job's slot back (a no-op for a job that had none).
    if record.status.is_terminal()
        && let Some(datastore_id) = &record.datastore_id
    {
        crate::admission::release_slot(store, datastore_id, &record.id).await?;
    }
    tracing::info!(
        kind = %record.kind,
        id = %record.id,
        status = %record.status,
        write = ?write,
        "job record written"
    );
    Ok(RecordWritten {
        id: record.id,
        status: record.status,
        write,
    })
}
