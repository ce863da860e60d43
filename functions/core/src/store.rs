//! Job history behind a small trait: DynamoDB in AWS (and against any
//! DynamoDB-compatible server), or in memory for local mode and tests.
//!
//! Table design (one table, room for other item types later):
//! - `pk` (S), the partition key: `EXPORT#<id>` (or `IMPORT#<id>`);
//!   one item per export or import.
//! - GSI `by-datastore`: `gsi1pk` = `DATASTORE#<datastoreId>` for exports,
//!   `DATASTORE#<datastoreId>#IMPORT` for imports, `gsi1sk` =
//!   `<executionStartedAt>#<id>` (fixed-width UTC), so a data store's
//!   exports (or imports) list newest first. Records without a data store (a
//!   request rejected before one was known) stay out of the index.
//! - `expiresAt` (N, epoch seconds) is the table's TTL attribute, set on
//!   items that expire; job records never do.
//! - Wait items (`pk` = `AWAIT#EXPORT#<datastoreId>#<jobId>` or `AWAIT#IMPORT#...`, see
//!   [`crate::wait`]) hold the task token of an execution waiting for its
//!   job's event; they expire a day after their wait would have ended.

use std::future::Future;

use serde::Serialize;

use crate::admission::SlotStore;
use crate::chain::ChainPoint;
use crate::error::HlxError;
use crate::kind::JobKind;
use crate::record::{JobRecord, WriteOutcome};
use crate::status::{JobStatus, RecordStatus};
use crate::time;
use crate::verification::Verification;

/// The name of the index that lists a data store's exports.
pub const DATASTORE_INDEX: &str = "by-datastore";
/// The largest page a list returns.
pub const MAX_PAGE: u32 = 100;

/// A page of a data store's exports, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    pub records: Vec<JobRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Where job records live.
pub trait JobStore: SlotStore + Send + Sync {
    /// Writes `record` if the write rule lets it ([`crate::record::decide`]).
    fn write(&self, record: &JobRecord) -> impl Future<Output = Result<WriteOutcome, HlxError>> + Send;

    fn get(
        &self,
        kind: JobKind,
        id: &str,
    ) -> impl Future<Output = Result<Option<JobRecord>, HlxError>> + Send;

    /// The item of a chain ([`crate::chain`]), if it has one.
    fn get_chain(
        &self,
        datastore_id: &str,
        chain: &str,
    ) -> impl Future<Output = Result<Option<ChainPoint>, HlxError>> + Send;

    /// Writes `point` if the chain has no item or one at an earlier point
    /// (forward only, evaluated by the store); true when it was written.
    fn advance_chain(&self, point: &ChainPoint) -> impl Future<Output = Result<bool, HlxError>> + Send;

    /// A data store's exports (or imports), newest first; `next_token` continues a list.
    fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<RecordPage, HlxError>> + Send;

    /// Sets the verification of export `id` if its record says HealthLake
    /// completed it (`COMPLETED` or `COMPLETED_WITH_ERRORS`), nothing else of
    /// the record; false when there is no such record (`hlx verify`).
    fn set_verification(
        &self,
        id: &str,
        verification: &Verification,
    ) -> impl Future<Output = Result<bool, HlxError>> + Send;
}

/// Whether a record's verification may be set: a completed export's.
pub fn verifiable(record: &JobRecord) -> bool {
    record.kind == JobKind::Export
        && matches!(
            record.status,
            RecordStatus::Job(JobStatus::Completed | JobStatus::CompletedWithErrors)
        )
}

/// A record's partition key: `EXPORT#<id>`, `IMPORT#<id>`.
pub fn record_key(kind: JobKind, id: &str) -> String {
    format!("{}#{id}", kind.key())
}

/// The index key of a data store's records of one kind.
pub fn datastore_key(kind: JobKind, datastore_id: &str) -> String {
    match kind {
        JobKind::Export => format!("DATASTORE#{datastore_id}"),
        JobKind::Import => format!("DATASTORE#{datastore_id}#IMPORT"),
    }
}

/// The index sort key: newest first when read backwards.
pub fn sort_key(record: &JobRecord) -> String {
    format!("{}#{}", time::format(record.execution_started_at), record.id)
}
