//! The in-memory job store: local mode's embedded store and the tests'.
//! It applies the same write rule ([`decide`]) and the same wait rule as
//! the DynamoDB adapter's conditions.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::admission::{SlotStore, Slots};
use crate::chain::{ChainPoint, chain_key};
use crate::error::HlxError;
use crate::kind::JobKind;
use crate::page_token;
use crate::record::{JobRecord, StoredState, WriteOutcome, decide};
use crate::status::JobStatus;
use crate::store::{JobStore, MAX_PAGE, RecordPage, datastore_key, record_key, sort_key, verifiable};
use crate::verification::Verification;
use crate::wait::{StoredWait, WaitItem, WaitStore, replaces, wait_key};

/// Job records in memory: local mode's embedded store.
#[derive(Debug, Default)]
pub struct InMemoryJobStore {
    /// Records by [`record_key`].
    records: Mutex<HashMap<String, JobRecord>>,
    /// Wait items (see [`crate::wait`]), by key.
    waits: Mutex<HashMap<String, WaitItem>>,
    /// Slots items, by data store.
    slots: Mutex<HashMap<String, Slots>>,
    /// Chain items, by [`chain_key`].
    chains: Mutex<HashMap<String, ChainPoint>>,
}

impl InMemoryJobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, oldest first.
    pub fn all(&self) -> Vec<JobRecord> {
        let mut all: Vec<JobRecord> = self
            .records
            .lock()
            .expect("store lock")
            .values()
            .cloned()
            .collect();
        all.sort_by_key(sort_key);
        all
    }
}

impl JobStore for InMemoryJobStore {
    async fn set_verification(&self, id: &str, verification: &Verification) -> Result<bool, HlxError> {
        let mut records = self.records.lock().expect("store lock");
        match records.get_mut(&record_key(JobKind::Export, id)) {
            Some(record) if verifiable(record) => {
                record.verification = Some(verification.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        let mut records = self.records.lock().expect("store lock");
        let key = record_key(record.kind, &record.id);
        let existing = records.get(&key).map(StoredState::from);
        let outcome = decide(existing.as_ref(), record, &record.id)?;
        if outcome == WriteOutcome::Written {
            records.insert(key, record.clone());
        }
        Ok(outcome)
    }

    async fn get(&self, kind: JobKind, id: &str) -> Result<Option<JobRecord>, HlxError> {
        Ok(self
            .records
            .lock()
            .expect("store lock")
            .get(&record_key(kind, id))
            .cloned())
    }

    async fn get_chain(&self, datastore_id: &str, chain: &str) -> Result<Option<ChainPoint>, HlxError> {
        let chains = self.chains.lock().expect("store lock");
        Ok(chains.get(&chain_key(datastore_id, chain)).cloned())
    }

    async fn advance_chain(&self, point: &ChainPoint) -> Result<bool, HlxError> {
        let mut chains = self.chains.lock().expect("store lock");
        let key = chain_key(&point.datastore_id, &point.chain);
        if chains.get(&key).is_some_and(|stored| stored.point >= point.point) {
            return Ok(false);
        }
        chains.insert(key, point.clone());
        Ok(true)
    }

    async fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let list = datastore_key(kind, datastore_id);
        let after = next_token
            .map(|token| match page_token::decode(token, &list)? {
                Value::String(key) => Ok(key),
                _ => Err(page_token::invalid("it is not a token a list returned")),
            })
            .transpose()?;
        let mut matching: Vec<(String, JobRecord)> = self
            .records
            .lock()
            .expect("store lock")
            .values()
            .filter(|r| r.kind == kind && r.datastore_id.as_deref() == Some(datastore_id))
            .map(|r| (sort_key(r), r.clone()))
            .filter(|(key, _)| after.as_ref().is_none_or(|after| key < after))
            .collect();
        matching.sort_by(|a, b| b.0.cmp(&a.0));
        let more = matching.len() > limit;
        matching.truncate(limit);
        let next_token = more
            .then(|| page_token::encode(&list, &Value::String(matching.last().expect("a page").0.clone())));
        Ok(RecordPage {
            records: matching.into_iter().map(|(_, r)| r).collect(),
            next_token,
        })
    }
}

impl SlotStore for InMemoryJobStore {
    async fn get_slots(&self, datastore_id: &str) -> Result<Option<Slots>, HlxError> {
        Ok(self.slots.lock().expect("store lock").get(datastore_id).cloned())
    }

    async fn put_slots(&self, slots: &Slots) -> Result<bool, HlxError> {
        let mut all = self.slots.lock().expect("store lock");
        let stored_version = all.get(&slots.datastore_id).map_or(0, |s| s.version);
        if stored_version != slots.version {
            return Ok(false);
        }
        let mut written = slots.clone();
        written.version += 1;
        all.insert(slots.datastore_id.clone(), written);
        Ok(true)
    }
}

impl WaitStore for InMemoryJobStore {
    async fn put_wait(&self, item: &WaitItem) -> Result<StoredWait, HlxError> {
        let mut waits = self.waits.lock().expect("store lock");
        let key = wait_key(item.kind, &item.datastore_id, &item.job_id);
        if !replaces(waits.get(&key), item) {
            return Ok(StoredWait::Stale);
        }
        waits.insert(key, item.clone());
        Ok(StoredWait::Stored)
    }

    async fn get_wait(
        &self,
        kind: JobKind,
        datastore_id: &str,
        job_id: &str,
    ) -> Result<Option<WaitItem>, HlxError> {
        let waits = self.waits.lock().expect("store lock");
        Ok(waits.get(&wait_key(kind, datastore_id, job_id)).cloned())
    }

    async fn mark_woken(&self, item: &WaitItem, status: &JobStatus, by: &str) -> Result<bool, HlxError> {
        let mut waits = self.waits.lock().expect("store lock");
        match waits.get_mut(&wait_key(item.kind, &item.datastore_id, &item.job_id)) {
            Some(stored)
                if stored.task_token == item.task_token && status.rank() > stored.job_status.rank() =>
            {
                stored.job_status = status.clone();
                stored.woken_by = Some(by.to_owned());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
