//! What the data store's past jobs say about the next one: how long an
//! export (or an import) usually runs, so that the wait lands just after the
//! expected end. Exports learn from exports, imports from imports.

use std::future::Future;

use jiff::Timestamp;

use crate::error::HlxError;
use crate::kind::JobKind;
use crate::record::JobRecord;
use crate::request::JobRequest;
use crate::status::{JobStatus, RecordStatus};
use crate::store::JobStore;

/// How many recent completed exports the expectation is taken from.
pub const HISTORY_SAMPLE: usize = 5;
/// How many records are read to find them (failed ones are skipped).
const HISTORY_READ: u32 = 25;

/// Where past jobs are read from.
pub trait JobHistory: Send + Sync {
    /// The median running time of the data store's last completed jobs of
    /// this kind (at most [`HISTORY_SAMPLE`]), if it has any.
    fn expected_run_seconds(
        &self,
        kind: JobKind,
        datastore_id: &str,
    ) -> impl Future<Output = Result<Option<u64>, HlxError>> + Send;

    /// Where the data store's selection chain (see
    /// [`crate::ExportSelection::chain`]) stands: the next incremental
    /// export's `_since` ([`crate::chain`]). `None`: no export has started it.
    fn last_transaction_time(
        &self,
        datastore_id: &str,
        chain: &str,
    ) -> impl Future<Output = Result<Option<Timestamp>, HlxError>> + Send;

    /// Admits `request`'s job, whose execution is `holder`
    /// ([`crate::admission::admit`]).
    fn admit(
        &self,
        request: &JobRequest,
        holder: &str,
        max: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<bool>, HlxError>> + Send;
}

/// No history: the configured schedule alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl JobHistory for NoHistory {
    async fn expected_run_seconds(
        &self,
        _kind: JobKind,
        _datastore_id: &str,
    ) -> Result<Option<u64>, HlxError> {
        Ok(None)
    }

    async fn last_transaction_time(
        &self,
        _datastore_id: &str,
        _chain: &str,
    ) -> Result<Option<Timestamp>, HlxError> {
        Ok(None)
    }

    /// No table, no slots: nothing limits the jobs in flight.
    async fn admit(&self, _: &JobRequest, _: &str, _: u32, _: Timestamp) -> Result<Option<bool>, HlxError> {
        Ok(None)
    }
}

impl<S: JobStore> JobHistory for S {
    async fn expected_run_seconds(&self, kind: JobKind, datastore_id: &str) -> Result<Option<u64>, HlxError> {
        let page = self.list(kind, datastore_id, HISTORY_READ, None).await?;
        Ok(expected_run_seconds_of(&page.records))
    }

    async fn last_transaction_time(
        &self,
        datastore_id: &str,
        chain: &str,
    ) -> Result<Option<Timestamp>, HlxError> {
        current_chain_point(self, datastore_id, chain).await
    }

    async fn admit(
        &self,
        request: &JobRequest,
        holder: &str,
        max: u32,
        now: Timestamp,
    ) -> Result<Option<bool>, HlxError> {
        crate::admission::admit(self, request, holder, max, now).await
    }
}

/// The median running time of the first [`HISTORY_SAMPLE`] completed
/// exports among `records` (newest first); failed, cancelled, timed-out and
/// unfinished exports say nothing about how long a good one takes.
pub fn expected_run_seconds_of(records: &[JobRecord]) -> Option<u64> {
    let mut runs: Vec<u64> = records
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                RecordStatus::Job(JobStatus::Completed | JobStatus::CompletedWithErrors)
            )
        })
        .filter_map(|r| r.running_seconds)
        .filter(|&seconds| seconds > 0)
        .take(HISTORY_SAMPLE)
        .collect();
    if runs.is_empty() {
        return None;
    }
    runs.sort_unstable();
    Some(runs[runs.len() / 2])
}

/// Where the chain stands: its item, or (no item yet) the point found once
/// from the records, then written.
pub async fn current_chain_point(
    store: &impl JobStore,
    datastore_id: &str,
    chain: &str,
) -> Result<Option<Timestamp>, HlxError> {
    if let Some(item) = store.get_chain(datastore_id, chain).await? {
        return Ok(Some(item.point));
    }
    let mut records = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..crate::chain::MIGRATION_PAGES {
        let page = store
            .list(
                JobKind::Export,
                datastore_id,
                crate::chain::MIGRATION_PAGE,
                token.as_deref(),
            )
            .await?;
        records.extend(page.records);
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let Some((point, moved_by)) = crate::chain::point_from_records(&records, chain) else {
        return Ok(None);
    };
    let item = crate::chain::ChainPoint {
        datastore_id: datastore_id.to_owned(),
        chain: chain.to_owned(),
        point,
        moved_by,
    };
    store.advance_chain(&item).await?;
    tracing::info!(chain = %chain, point = %crate::time::format(point), "chain point found from the records");
    Ok(Some(point))
}

/// Moves `record`'s chain if the record lets it ([`advanced_point`]); true
/// when it moved.
pub async fn advance_chain_after(store: &impl JobStore, record: &JobRecord) -> Result<bool, HlxError> {
    let (Some(datastore_id), Some(_)) = (&record.datastore_id, crate::chain::reach(record)) else {
        return Ok(false);
    };
    let chain = record.chain();
    let current = current_chain_point(store, datastore_id, chain).await?;
    let Some(point) = crate::chain::advanced_point(record, current) else {
        return Ok(false);
    };
    let moved = store
        .advance_chain(&crate::chain::ChainPoint {
            datastore_id: datastore_id.clone(),
            chain: chain.to_owned(),
            point,
            moved_by: record.id.clone(),
        })
        .await?;
    if moved {
        tracing::info!(chain = %chain, point = %crate::time::format(point), "chain moved");
    }
    Ok(moved)
}
