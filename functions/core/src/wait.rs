//! Wait items: the task token of an execution waiting for its job's event.
//!
//! `await-job` stores the token of the state machine's callback task
//! against the job; `job-events` looks it up when HealthLake's event for the
//! job arrives and sends it back. An item also says which status the
//! execution last saw, so that an event that says nothing new (a duplicate,
//! an `In Progress` after `Completed`) wakes nothing. Items live in the job
//! table under `AWAIT#<EXPORT|IMPORT>#<datastoreId>#<jobId>`, with a TTL.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::HlxError;
use crate::kind::JobKind;
use crate::status::JobStatus;
use crate::store::{AnyJobStore, DynamoDbJobStore, InMemoryJobStore, from_item};
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
    pub export_id: String,
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

fn replaces(existing: Option<&WaitItem>, new: &WaitItem) -> bool {
    existing.is_none_or(|old| old.export_id == new.export_id && old.checks <= new.checks)
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

/// The condition of a store: no item, or one of the same export and an
/// earlier (or the same) check. DynamoDB evaluates it, so two writers
/// cannot both win.
const PUT_CONDITION: &str = "attribute_not_exists(pk) OR (exportId = :export AND checks <= :checks)";
/// The condition of a wake: the same token, and news to it.
const WOKEN_CONDITION: &str = "taskToken = :token AND statusRank < :rank";

impl DynamoDbJobStore {
    fn wait_item(item: &WaitItem) -> HashMap<String, AttributeValue> {
        let value = serde_json::to_value(item).expect("a wait item serializes");
        let mut attributes = crate::store::to_item(&value);
        attributes.insert(
            "pk".into(),
            AttributeValue::S(wait_key(item.kind, &item.datastore_id, &item.job_id)),
        );
        attributes.insert(
            "statusRank".into(),
            AttributeValue::N(item.job_status.rank().to_string()),
        );
        attributes.insert(
            "expiresAt".into(),
            AttributeValue::N(item.expires_at.as_second().to_string()),
        );
        attributes
    }

    fn read_wait(attributes: &HashMap<String, AttributeValue>) -> Result<WaitItem, HlxError> {
        let mut value = from_item(attributes);
        if let serde_json::Value::Object(map) = &mut value {
            for internal in ["pk", "statusRank"] {
                map.remove(internal);
            }
            // The TTL attribute is epoch seconds, as DynamoDB's TTL needs it.
            let expires = map
                .get("expiresAt")
                .and_then(serde_json::Value::as_i64)
                .and_then(|s| Timestamp::from_second(s).ok());
            if let Some(expires) = expires {
                map.insert(
                    "expiresAt".into(),
                    serde_json::Value::String(time::format(expires)),
                );
            }
        }
        serde_json::from_value(value)
            .map_err(|e| HlxError::InvalidInput(format!("a stored wait item could not be read: {e}")))
    }
}

impl WaitStore for DynamoDbJobStore {
    async fn put_wait(&self, item: &WaitItem) -> Result<StoredWait, HlxError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::wait_item(item)))
            .condition_expression(PUT_CONDITION)
            .expression_attribute_values(":export", AttributeValue::S(item.export_id.clone()))
            .expression_attribute_values(":checks", AttributeValue::N(item.checks.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(StoredWait::Stored),
            Err(err) => match HlxError::from_dynamodb(err) {
                HlxError::DynamoDb { code, .. } if code == "ConditionalCheckFailedException" => {
                    Ok(StoredWait::Stale)
                }
                other => Err(other),
            },
        }
    }

    async fn get_wait(
        &self,
        kind: JobKind,
        datastore_id: &str,
        job_id: &str,
    ) -> Result<Option<WaitItem>, HlxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(wait_key(kind, datastore_id, job_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(HlxError::from_dynamodb)?;
        output.item().map(Self::read_wait).transpose()
    }

    async fn mark_woken(&self, item: &WaitItem, status: &JobStatus, by: &str) -> Result<bool, HlxError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(wait_key(item.kind, &item.datastore_id, &item.job_id)),
            )
            .update_expression("SET jobStatus = :status, statusRank = :rank, wokenBy = :by")
            .condition_expression(WOKEN_CONDITION)
            .expression_attribute_values(":token", AttributeValue::S(item.task_token.clone()))
            .expression_attribute_values(":status", AttributeValue::S(status.to_string()))
            .expression_attribute_values(":rank", AttributeValue::N(status.rank().to_string()))
            .expression_attribute_values(":by", AttributeValue::S(by.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match HlxError::from_dynamodb(err) {
                HlxError::DynamoDb { code, .. } if code == "ConditionalCheckFailedException" => Ok(false),
                other => Err(other),
            },
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
