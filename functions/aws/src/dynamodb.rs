//! hlx's job table in DynamoDB (in AWS, or any DynamoDB-compatible server):
//! records written with a condition that encodes the record's write rule,
//! listed through the `by-datastore` index. The table's design is
//! [`hlx_core::store`]'s.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use hlx_core::admission::{SlotStore, Slots, slots_key};
use hlx_core::chain::{ChainPoint, chain_key};
use hlx_core::record::{JobRecord, StoredState, WriteOutcome, decide};
use hlx_core::status::TERMINAL_RANK;
use hlx_core::store::{DATASTORE_INDEX, JobStore, MAX_PAGE, RecordPage, datastore_key, record_key, sort_key};
use hlx_core::verification::Verification;
use hlx_core::{HlxError, JobKind, page_token, time};
use serde_json::{Map, Number, Value};

use crate::error::{condition_held, dynamodb_error, dynamodb_error_modeled};

/// Job records in DynamoDB, written with a condition that encodes [`decide`].
#[derive(Debug, Clone)]
pub struct DynamoDbJobStore {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
}

/// The write condition: the same rule as [`decide`], evaluated by DynamoDB so
/// that two concurrent writers cannot both win.
const WRITE_CONDITION: &str = "attribute_not_exists(pk) OR statusRank < :rank \
     OR (statusRank = :rank AND statusRank < :terminal AND checks <= :checks)";

impl DynamoDbJobStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item of key `pk` read (consistently) as a `T`, without its key:
    /// the chain and slots items, which are their JSON as attributes.
    async fn get_item_of<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        what: &str,
    ) -> Result<Option<T>, HlxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamodb_error)?;
        output
            .item()
            .map(|item| {
                let mut value = from_item(item);
                if let Value::Object(map) = &mut value {
                    map.remove("pk");
                }
                serde_json::from_value(value)
                    .map_err(|e| HlxError::InvalidInput(format!("a stored {what} could not be read: {e}")))
            })
            .transpose()
    }

    /// Creates the table as the infrastructure declares it (local mode and tests).
    pub async fn create_table(&self) -> Result<(), HlxError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType,
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema")
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("gsi1pk"))
            .attribute_definitions(attr("gsi1sk"))
            .key_schema(key("pk", KeyType::Hash))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(DATASTORE_INDEX)
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .expect("index"),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match dynamodb_error(err) {
                HlxError::DynamoDb { code, .. } if code == "ResourceInUseException" => Ok(()),
                other => Err(other),
            },
        }
    }

    fn item(record: &JobRecord) -> HashMap<String, AttributeValue> {
        let value = serde_json::to_value(record).expect("a record serializes");
        let mut item = to_item(&value);
        item.insert(
            "pk".into(),
            AttributeValue::S(record_key(record.kind, &record.id)),
        );
        if let Some(datastore_id) = &record.datastore_id {
            item.insert(
                "gsi1pk".into(),
                AttributeValue::S(datastore_key(record.kind, datastore_id)),
            );
            item.insert("gsi1sk".into(), AttributeValue::S(sort_key(record)));
        }
        item.insert(
            "statusRank".into(),
            AttributeValue::N(record.status.rank().to_string()),
        );
        item
    }

    fn record(item: &HashMap<String, AttributeValue>) -> Result<JobRecord, HlxError> {
        let mut value = from_item(item);
        if let Value::Object(map) = &mut value {
            for internal in ["pk", "gsi1pk", "gsi1sk", "statusRank", "expiresAt"] {
                map.remove(internal);
            }
        }
        serde_json::from_value(value)
            .map_err(|e| HlxError::InvalidInput(format!("a stored record could not be read: {e}")))
    }
}

impl SlotStore for DynamoDbJobStore {
    async fn get_slots(&self, datastore_id: &str) -> Result<Option<Slots>, HlxError> {
        self.get_item_of(&slots_key(datastore_id), "slots item").await
    }

    async fn put_slots(&self, slots: &Slots) -> Result<bool, HlxError> {
        let mut written = slots.clone();
        written.version += 1;
        let mut item = to_item(&serde_json::to_value(&written).expect("slots serialize"));
        item.insert("pk".into(), AttributeValue::S(slots_key(&slots.datastore_id)));
        // `holders` may be empty: an empty map is a valid DynamoDB map.
        item.insert(
            "holders".into(),
            AttributeValue::M(
                written
                    .holders
                    .iter()
                    .map(|(holder, expires)| (holder.clone(), AttributeValue::S(expires.clone())))
                    .collect(),
            ),
        );
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = if slots.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :version")
                .expression_attribute_values(":version", AttributeValue::N(slots.version.to_string()))
        };
        condition_held(put.send().await, put_error_code)
    }
}

impl JobStore for DynamoDbJobStore {
    async fn set_verification(&self, id: &str, verification: &Verification) -> Result<bool, HlxError> {
        let value = serde_json::json!({ "v": verification });
        let attribute = to_item(&value).remove("v").expect("a verification is an object");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(record_key(JobKind::Export, id)))
            .update_expression("SET verification = :verification")
            .condition_expression("attribute_exists(pk) AND #status IN (:completed, :with_errors)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":verification", attribute)
            .expression_attribute_values(":completed", AttributeValue::S("COMPLETED".into()))
            .expression_attribute_values(":with_errors", AttributeValue::S("COMPLETED_WITH_ERRORS".into()))
            .send()
            .await;
        condition_held(result, |_| None)
    }

    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(record)))
            .condition_expression(WRITE_CONDITION)
            .expression_attribute_values(":rank", AttributeValue::N(record.status.rank().to_string()))
            .expression_attribute_values(":terminal", AttributeValue::N(TERMINAL_RANK.to_string()))
            .expression_attribute_values(":checks", AttributeValue::N(record.checks.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(WriteOutcome::Written),
            Err(err) => match dynamodb_error_modeled(err, put_error_code) {
                HlxError::DynamoDb { code, .. } if code == "ConditionalCheckFailedException" => {
                    // The condition refused: classify by the same rule, from what is stored.
                    let existing = self.get(record.kind, &record.id).await?;
                    let existing = existing.as_ref().map(StoredState::from);
                    match decide(existing.as_ref(), record, &record.id)? {
                        // The item changed between the write and the read; the
                        // caller's retry will see the new state.
                        WriteOutcome::Written => Err(HlxError::DynamoDb {
                            code: "ConditionalCheckFailedException".into(),
                            message: "the record changed during the write; retry".into(),
                        }),
                        other => Ok(other),
                    }
                }
                other => Err(other),
            },
        }
    }

    async fn get_chain(&self, datastore_id: &str, chain: &str) -> Result<Option<ChainPoint>, HlxError> {
        self.get_item_of(&chain_key(datastore_id, chain), "chain item")
            .await
    }

    async fn advance_chain(&self, point: &ChainPoint) -> Result<bool, HlxError> {
        let value = serde_json::to_value(point).expect("a chain item serializes");
        let mut item = to_item(&value);
        item.insert(
            "pk".into(),
            AttributeValue::S(chain_key(&point.datastore_id, &point.chain)),
        );
        // `point` is fixed-width UTC, so string order is time order.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #point < :point")
            .expression_attribute_names("#point", "point")
            .expression_attribute_values(":point", AttributeValue::S(time::format(point.point)))
            .send()
            .await;
        condition_held(result, put_error_code)
    }

    async fn get(&self, kind: JobKind, id: &str) -> Result<Option<JobRecord>, HlxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(record_key(kind, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamodb_error)?;
        output.item().map(Self::record).transpose()
    }

    async fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        let list = datastore_key(kind, datastore_id);
        let start_key = next_token
            .map(|token| start_key(&page_token::decode(token, &list)?, &list))
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DATASTORE_INDEX)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(list.clone()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, MAX_PAGE)).expect("small limit"))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(dynamodb_error)?;
        let records = output
            .items()
            .iter()
            .map(Self::record)
            .collect::<Result<Vec<_>, _>>()?;
        let next_token = output
            .last_evaluated_key()
            .filter(|key| !key.is_empty())
            .map(|key| page_token::encode(&list, &from_item(key)));
        Ok(RecordPage { records, next_token })
    }
}

/// The start key a token's position stands for: exactly the index's keys
/// and the table's, all strings, in `list`'s partition; anything else is a
/// token this list did not return (and would be DynamoDB's error, a 500).
fn start_key(position: &Value, list: &str) -> Result<HashMap<String, AttributeValue>, HlxError> {
    let refused = || page_token::invalid("it is not a token a list returned");
    let Value::Object(map) = position else {
        return Err(refused());
    };
    let strings = map.len() == 3
        && ["pk", "gsi1pk", "gsi1sk"]
            .iter()
            .all(|k| map.get(*k).is_some_and(Value::is_string));
    if !strings || map["gsi1pk"] != list {
        return Err(refused());
    }
    Ok(to_item(position))
}

fn put_error_code(err: &aws_sdk_dynamodb::operation::put_item::PutItemError) -> Option<&'static str> {
    use aws_sdk_dynamodb::operation::put_item::PutItemError as E;
    Some(match err {
        E::ConditionalCheckFailedException(_) => "ConditionalCheckFailedException",
        E::ProvisionedThroughputExceededException(_) => "ProvisionedThroughputExceededException",
        E::RequestLimitExceeded(_) => "RequestLimitExceeded",
        E::ResourceNotFoundException(_) => "ResourceNotFoundException",
        E::InternalServerError(_) => "InternalServerError",
        E::TransactionConflictException(_) => "TransactionConflictException",
        _ => return None,
    })
}

/// A JSON object as a DynamoDB item (nulls are left out).
pub fn to_item(value: &Value) -> HashMap<String, AttributeValue> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| to_attribute(v).map(|a| (k.clone(), a)))
            .collect(),
        _ => HashMap::new(),
    }
}

fn to_attribute(value: &Value) -> Option<AttributeValue> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().filter_map(to_attribute).collect()),
        Value::Object(_) => AttributeValue::M(to_item(value)),
    })
}

/// A DynamoDB item as a JSON object.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Value {
    let sorted: BTreeMap<&String, &AttributeValue> = item.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), from_attribute(v)))
            .collect::<Map<String, Value>>(),
    )
}

fn from_attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attribute).collect()),
        AttributeValue::M(map) => from_item(map),
        _ => Value::Null,
    }
}
