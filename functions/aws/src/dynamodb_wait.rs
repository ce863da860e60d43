//! Wait items in the job table (see [`hlx_core::wait`]): stored, read and
//! woken with conditions DynamoDB evaluates, so two writers cannot both win.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use hlx_core::wait::{StoredWait, WaitItem, WaitStore, wait_key};
use hlx_core::{HlxError, JobKind, JobStatus, time};
use jiff::Timestamp;

use crate::dynamodb::{DynamoDbJobStore, from_item, to_item};
use crate::error::{condition_held, dynamodb_error};

/// The condition of a store: no item, or one of the same export and an
/// earlier (or the same) check. DynamoDB evaluates it, so two writers
/// cannot both win.
const PUT_CONDITION: &str = "attribute_not_exists(pk) OR (#id = :export AND checks <= :checks)";
/// The condition of a wake: the same token, and news to it.
const WOKEN_CONDITION: &str = "taskToken = :token AND statusRank < :rank";

impl DynamoDbJobStore {
    fn wait_item(item: &WaitItem) -> HashMap<String, AttributeValue> {
        let value = serde_json::to_value(item).expect("a wait item serializes");
        let mut attributes = to_item(&value);
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
            .expression_attribute_names("#id", "id")
            .expression_attribute_values(":export", AttributeValue::S(item.id.clone()))
            .expression_attribute_values(":checks", AttributeValue::N(item.checks.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        Ok(if condition_held(result, |_| None)? {
            StoredWait::Stored
        } else {
            StoredWait::Stale
        })
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
            .map_err(dynamodb_error)?;
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
        condition_held(result, |_| None)
    }
}
