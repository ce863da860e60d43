//! The store a process chooses at start-up.

use hlx_core::admission::{SlotStore, Slots};
use hlx_core::chain::ChainPoint;
use hlx_core::record::{JobRecord, WriteOutcome};
use hlx_core::store::{JobStore, RecordPage};
use hlx_core::verification::Verification;
use hlx_core::wait::{StoredWait, WaitItem, WaitStore};
use hlx_core::{HlxError, InMemoryJobStore, JobKind, JobStatus};

use crate::dynamodb::DynamoDbJobStore;

/// The store a process chose at start-up: in memory (local mode, tests) or
/// DynamoDB (AWS, or any DynamoDB-compatible server).
#[derive(Debug)]
pub enum AnyJobStore {
    Memory(InMemoryJobStore),
    DynamoDb(DynamoDbJobStore),
}

impl SlotStore for AnyJobStore {
    async fn get_slots(&self, datastore_id: &str) -> Result<Option<Slots>, HlxError> {
        match self {
            Self::Memory(store) => store.get_slots(datastore_id).await,
            Self::DynamoDb(store) => store.get_slots(datastore_id).await,
        }
    }

    async fn put_slots(&self, slots: &Slots) -> Result<bool, HlxError> {
        match self {
            Self::Memory(store) => store.put_slots(slots).await,
            Self::DynamoDb(store) => store.put_slots(slots).await,
        }
    }
}

impl JobStore for AnyJobStore {
    async fn set_verification(&self, id: &str, verification: &Verification) -> Result<bool, HlxError> {
        match self {
            Self::Memory(store) => store.set_verification(id, verification).await,
            Self::DynamoDb(store) => store.set_verification(id, verification).await,
        }
    }

    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        match self {
            Self::Memory(store) => store.write(record).await,
            Self::DynamoDb(store) => store.write(record).await,
        }
    }

    async fn get_chain(&self, datastore_id: &str, chain: &str) -> Result<Option<ChainPoint>, HlxError> {
        match self {
            Self::Memory(store) => store.get_chain(datastore_id, chain).await,
            Self::DynamoDb(store) => store.get_chain(datastore_id, chain).await,
        }
    }

    async fn advance_chain(&self, point: &ChainPoint) -> Result<bool, HlxError> {
        match self {
            Self::Memory(store) => store.advance_chain(point).await,
            Self::DynamoDb(store) => store.advance_chain(point).await,
        }
    }

    async fn get(&self, kind: JobKind, id: &str) -> Result<Option<JobRecord>, HlxError> {
        match self {
            Self::Memory(store) => store.get(kind, id).await,
            Self::DynamoDb(store) => store.get(kind, id).await,
        }
    }

    async fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        match self {
            Self::Memory(store) => store.list(kind, datastore_id, limit, next_token).await,
            Self::DynamoDb(store) => store.list(kind, datastore_id, limit, next_token).await,
        }
    }
}

impl WaitStore for AnyJobStore {
    async fn put_wait(&self, item: &WaitItem) -> Result<StoredWait, HlxError> {
        match self {
            Self::Memory(store) => store.put_wait(item).await,
            Self::DynamoDb(store) => store.put_wait(item).await,
        }
    }

    async fn get_wait(
        &self,
        kind: JobKind,
        datastore_id: &str,
        job_id: &str,
    ) -> Result<Option<WaitItem>, HlxError> {
        match self {
            Self::Memory(store) => store.get_wait(kind, datastore_id, job_id).await,
            Self::DynamoDb(store) => store.get_wait(kind, datastore_id, job_id).await,
        }
    }

    async fn mark_woken(&self, item: &WaitItem, status: &JobStatus, by: &str) -> Result<bool, HlxError> {
        match self {
            Self::Memory(store) => store.mark_woken(item, status, by).await,
            Self::DynamoDb(store) => store.mark_woken(item, status, by).await,
        }
    }
}
