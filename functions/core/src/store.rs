//! Job history behind a small trait: DynamoDB in AWS (and against any
//! DynamoDB-compatible server), or in memory for local mode and tests.
//!
//! Table design (one table, room for other item types later):
//! - `pk` (S), the partition key: `EXPORT#<exportId>` (or `IMPORT#<importId>`);
//!   one item per export or import.
//! - GSI `by-datastore`: `gsi1pk` = `DATASTORE#<datastoreId>` for exports,
//!   `DATASTORE#<datastoreId>#IMPORT` for imports, `gsi1sk` =
//!   `<executionStartedAt>#<exportId>` (fixed-width UTC), so a data store's
//!   exports (or imports) list newest first. Records without a data store (a
//!   request rejected before one was known) stay out of the index.
//! - `expiresAt` (N, epoch seconds) is the table's TTL attribute, set on
//!   items that expire; job records never do.
//! - Wait items (`pk` = `AWAIT#EXPORT#<datastoreId>#<jobId>` or `AWAIT#IMPORT#...`, see
//!   [`crate::wait`]) hold the task token of an execution waiting for its
//!   job's event; they expire a day after their wait would have ended.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::error::HlxError;
use crate::kind::JobKind;
use crate::record::{JobRecord, StoredState, WriteOutcome, decide};
use crate::status::TERMINAL_RANK;
use crate::time;

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
pub trait JobStore: Send + Sync {
    /// Writes `record` if the write rule lets it ([`decide`]).
    fn write(&self, record: &JobRecord) -> impl Future<Output = Result<WriteOutcome, HlxError>> + Send;

    fn get(
        &self,
        kind: JobKind,
        export_id: &str,
    ) -> impl Future<Output = Result<Option<JobRecord>, HlxError>> + Send;

    /// A data store's exports (or imports), newest first; `next_token` continues a list.
    fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<RecordPage, HlxError>> + Send;
}

/// A record's partition key: `EXPORT#<id>`, `IMPORT#<id>`.
pub fn record_key(kind: JobKind, export_id: &str) -> String {
    format!("{}#{export_id}", kind.key())
}

/// The index key of a data store's records of one kind.
fn datastore_key(kind: JobKind, datastore_id: &str) -> String {
    match kind {
        JobKind::Export => format!("DATASTORE#{datastore_id}"),
        JobKind::Import => format!("DATASTORE#{datastore_id}#IMPORT"),
    }
}

fn sort_key(record: &JobRecord) -> String {
    format!(
        "{}#{}",
        time::format(record.execution_started_at),
        record.export_id
    )
}

/// Job records in memory: local mode's embedded store.
#[derive(Debug, Default)]
pub struct InMemoryJobStore {
    /// Records by [`record_key`].
    records: Mutex<HashMap<String, JobRecord>>,
    /// Wait items (see [`crate::wait`]), by key.
    pub(crate) waits: Mutex<HashMap<String, crate::wait::WaitItem>>,
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
    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        let mut records = self.records.lock().expect("store lock");
        let key = record_key(record.kind, &record.export_id);
        let existing = records.get(&key).map(StoredState::from);
        let outcome = decide(existing.as_ref(), record, &record.export_id)?;
        if outcome == WriteOutcome::Written {
            records.insert(key, record.clone());
        }
        Ok(outcome)
    }

    async fn get(&self, kind: JobKind, export_id: &str) -> Result<Option<JobRecord>, HlxError> {
        Ok(self
            .records
            .lock()
            .expect("store lock")
            .get(&record_key(kind, export_id))
            .cloned())
    }

    async fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let after = next_token.map(decode_memory_token).transpose()?;
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
        let next_token =
            more.then(|| encode_token(&Value::String(matching.last().expect("a page").0.clone())));
        Ok(RecordPage {
            records: matching.into_iter().map(|(_, r)| r).collect(),
            next_token,
        })
    }
}

/// The store a process chose at start-up: in memory (local mode, tests) or
/// DynamoDB (AWS, or any DynamoDB-compatible server).
#[derive(Debug)]
pub enum AnyJobStore {
    Memory(InMemoryJobStore),
    DynamoDb(DynamoDbJobStore),
}

impl JobStore for AnyJobStore {
    async fn write(&self, record: &JobRecord) -> Result<WriteOutcome, HlxError> {
        match self {
            Self::Memory(store) => store.write(record).await,
            Self::DynamoDb(store) => store.write(record).await,
        }
    }

    async fn get(&self, kind: JobKind, export_id: &str) -> Result<Option<JobRecord>, HlxError> {
        match self {
            Self::Memory(store) => store.get(kind, export_id).await,
            Self::DynamoDb(store) => store.get(kind, export_id).await,
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

fn decode_memory_token(token: &str) -> Result<String, HlxError> {
    match decode_token(token)? {
        Value::String(key) => Ok(key),
        _ => Err(bad_token()),
    }
}

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
            Err(err) => match HlxError::from_dynamodb(err) {
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
            AttributeValue::S(record_key(record.kind, &record.export_id)),
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

impl JobStore for DynamoDbJobStore {
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
            Err(err) => match HlxError::from_dynamodb_modeled(err, put_error_code) {
                HlxError::DynamoDb { code, .. } if code == "ConditionalCheckFailedException" => {
                    // The condition refused: classify by the same rule, from what is stored.
                    let existing = self.get(record.kind, &record.export_id).await?;
                    let existing = existing.as_ref().map(StoredState::from);
                    match decide(existing.as_ref(), record, &record.export_id)? {
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

    async fn get(&self, kind: JobKind, export_id: &str) -> Result<Option<JobRecord>, HlxError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(record_key(kind, export_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(HlxError::from_dynamodb)?;
        output.item().map(Self::record).transpose()
    }

    async fn list(
        &self,
        kind: JobKind,
        datastore_id: &str,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<RecordPage, HlxError> {
        let start_key = next_token
            .map(|token| match decode_token(token)? {
                Value::Object(map) => Ok(to_item(&Value::Object(map))),
                _ => Err(bad_token()),
            })
            .transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DATASTORE_INDEX)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(datastore_key(kind, datastore_id)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, MAX_PAGE)).expect("small limit"))
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(HlxError::from_dynamodb)?;
        let records = output
            .items()
            .iter()
            .map(Self::record)
            .collect::<Result<Vec<_>, _>>()?;
        let next_token = output
            .last_evaluated_key()
            .filter(|key| !key.is_empty())
            .map(|key| encode_token(&from_item(key)));
        Ok(RecordPage { records, next_token })
    }
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

fn encode_token(value: &Value) -> String {
    aws_smithy_types::base64::encode(value.to_string())
}

fn decode_token(token: &str) -> Result<Value, HlxError> {
    let bytes = aws_smithy_types::base64::decode(token).map_err(|_| bad_token())?;
    serde_json::from_slice(&bytes).map_err(|_| bad_token())
}

fn bad_token() -> HlxError {
    HlxError::InvalidRequest(crate::FieldError::new(
        "nextToken",
        "is not a token this list returned",
    ))
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
