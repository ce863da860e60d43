//! What the data store's past jobs say about the next one: how long an
//! export (or an import) usually runs, so that the wait lands just after the
//! expected end. Exports learn from exports, imports from imports.

use std::future::Future;

use jiff::Timestamp;

use crate::admission::SlotAnswer;
use crate::error::HlxError;
use crate::kind::JobKind;
use crate::record::JobRecord;
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

    /// Takes a slot of the data store for `holder` ([`crate::admission`]).
    fn take_slot(
        &self,
        datastore_id: &str,
        holder: &str,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<SlotAnswer, HlxError>> + Send;
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
    async fn take_slot(&self, _: &str, _: &str, _: u32, _: Timestamp) -> Result<SlotAnswer, HlxError> {
        Ok(SlotAnswer::Taken { newly: false })
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
        crate::chain::current_point(self, datastore_id, chain).await
    }

    async fn take_slot(
        &self,
        datastore_id: &str,
        holder: &str,
        limit: u32,
        now: Timestamp,
    ) -> Result<SlotAnswer, HlxError> {
        crate::admission::take_slot(self, datastore_id, holder, limit, now).await
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
