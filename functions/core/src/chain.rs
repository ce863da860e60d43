//! The incremental chain: where an incremental export of a data store and
//! selection (scope and types) continues.
//!
//! The point is an item of its own in the job store, moved only forward, and
//! only by a `COMPLETED` export that covered everything since the chain's
//! current point: a full export, the chain's own incremental export, or one
//! whose explicit `since` is not later than the point. An explicit `since`
//! later than the point leaves a gap before it, so such an export never moves
//! the chain (the next incremental export still starts at the old point and
//! exports the gap). Starting an incremental export reads the one item; a
//! store without one (histories written before the item existed) has its
//! point found once from the records and written (reading and moving the
//! item through the job store is the `history` module's).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::kind::JobKind;
use crate::record::JobRecord;
use crate::status::{JobStatus, RecordStatus};
use crate::time;

/// How many pages of records are read, once, to find a chain without an item.
pub const MIGRATION_PAGES: usize = 100;
/// Records read per page then.
pub const MIGRATION_PAGE: u32 = 100;

/// Where a chain continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainPoint {
    pub datastore_id: String,
    /// The selection chain (`system`, `patient`, `group/{id}?_type=…`).
    pub chain: String,
    /// The next incremental export's `_since`.
    #[serde(with = "time")]
    pub point: Timestamp,
    /// The export that moved the chain here.
    pub moved_by: String,
}

/// The key of a chain's item in the job table.
pub fn chain_key(datastore_id: &str, chain: &str) -> String {
    format!("CHAIN#{datastore_id}#{chain}")
}

/// How far `record` reaches in its chain, if it can move one: a `COMPLETED`
/// export, up to its `transactionTime` (a full SDK export has no manifest
/// from HealthLake: its submit time, which can only repeat a change, never
/// miss one), or its `until` when that is earlier.
pub fn reach(record: &JobRecord) -> Option<Timestamp> {
    if record.kind != JobKind::Export || record.status != RecordStatus::Job(JobStatus::Completed) {
        return None;
    }
    let reached = record
        .manifest
        .as_ref()
        .map(|m| m.transaction_time)
        .or(record.submitted_at)?;
    Some(record.until.map_or(reached, |until| until.min(reached)))
}

/// Where `record` moves a chain that stands at `current`: forward only, and
/// only when the export covered everything since `current` (no `since`, or
/// a `since` not later than `current`).
pub fn advanced_point(record: &JobRecord, current: Option<Timestamp>) -> Option<Timestamp> {
    let reached = reach(record)?;
    let covered = match record.since {
        None => true,
        Some(since) => current.is_some_and(|point| since <= point),
    };
    (covered && current.is_none_or(|point| reached > point)).then_some(reached)
}

/// The chain's point from a data store's export records (newest first), as
/// the item would hold it had it existed: each completed export applied in
/// the order the exports started.
pub fn point_from_records(records: &[JobRecord], chain: &str) -> Option<(Timestamp, String)> {
    let mut current: Option<(Timestamp, String)> = None;
    for record in records.iter().rev().filter(|r| r.chain() == chain) {
        if let Some(point) = advanced_point(record, current.as_ref().map(|(at, _)| *at)) {
            current = Some((point, record.id.clone()));
        }
    }
    current
}
