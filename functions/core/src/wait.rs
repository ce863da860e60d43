//! Wait items: the task token of an execution waiting for its job's event.
//!
//! `await-job` stores the token of the state machine's callback task
//! against the job; `job-events` looks it up when HealthLake's event for the
//! job arrives and sends it back. An item also says which status the
//! execution last saw, so that an event that says nothing new (a duplicate,
//! an `In Progress` after `Completed`) wakes nothing. Items live in the job
//! table under `AWAIT#<EXPORT|IMPORT>#<datastoreId>#<jobId>`, with a TTL.

use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::HlxError;
use crate::kind::JobKind;
use crate::status::JobStatus;
use crate::time;

/// How long a wait item outlives its wait (then DynamoDB's TTL removes it).
pub const WAIT_ITEM_GRACE: SignedDuration = SignedDuration::from_hours(24);

/// The key of a job's wait item.
pub fn wait_key(kind: JobKind, datastore_id: &str, job_id: &str) -> String {
    format!("AWAIT#{}#{datastore_id}#{job_id}", kind.key())
}

/// One execution waiting for one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitItem {
    #[serde(default)]
    pub kind: JobKind,
    pub datastore_id: String,
    pub job_id: String,
    /// The export (execution name) that waits.
    pub id: String,
    pub task_token: String,
    /// The status the execution last saw: only a later one wakes it.
    pub job_status: JobStatus,
    /// The execution's checks so far: a stale store never replaces a newer one.
    pub checks: u32,
    #[serde(with = "time")]
    pub stored_at: Timestamp,
    #[serde(with = "time")]
    pub expires_at: Timestamp,
    /// What woke this wait (an event id, or `await-job`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub woken_by: Option<String>,
}

/// What storing a wait did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredWait {
    Stored,
    /// A wait of a later check (or of another export) is stored: this one is stale.
    Stale,
}

/// Where wait items live.
pub trait WaitStore: Send + Sync {
    /// Stores `item` unless the job's item belongs to another export or to a later check.
    fn put_wait(&self, item: &WaitItem) -> impl Future<Output = Result<StoredWait, HlxError>> + Send;

    fn get_wait(
        &self,
        kind: JobKind,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<Option<WaitItem>, HlxError>> + Send;

    /// Records that the wait holding `task_token` was woken for `status`, if
    /// that token is still the stored one and `status` is news to it; true
    /// when it was.
    fn mark_woken(
        &self,
        item: &WaitItem,
        status: &JobStatus,
        by: &str,
    ) -> impl Future<Output = Result<bool, HlxError>> + Send;
}

/// Whether `new` may replace the stored wait: none is stored, or one of the
/// same export and an earlier (or the same) check.
pub fn replaces(existing: Option<&WaitItem>, new: &WaitItem) -> bool {
    existing.is_none_or(|old| old.id == new.id && old.checks <= new.checks)
}
