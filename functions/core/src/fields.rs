//! Reading a request's JSON: the object and its known fields, strings
//! checked against their rules, who asked, and the job's name.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::validation::{FieldError, FieldRule, JOB_NAME};

/// Who asked for the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Api,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Api => "api",
            Self::Manual => "manual",
        }
    }
}

/// A job name from the execution name, cleaned to HealthLake's job name rule:
/// each character the rule refuses becomes `-` (`fallback` when nothing is
/// left). The rule takes Unicode letters, numbers and separators, not the
/// marks and symbols Rust's `is_alphanumeric` also takes (`\u{93f}`, `Ⓐ`).
pub fn derived_job_name(execution_name: &str, fallback: &str) -> String {
    let cleaned: String = execution_name
        .chars()
        .map(|c| {
            if JOB_NAME.check("jobName", c.encode_utf8(&mut [0; 4])).is_ok() {
                c
            } else {
                '-'
            }
        })
        .take(JOB_NAME.max_chars)
        .collect();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

/// A job name no other execution gets: the execution name itself when it
/// fits HealthLake's rule unchanged and no name was requested, else a
/// prefix (the requested name or the cleaned execution name) and a hash of
/// the execution name.
pub fn unique_job_name(requested: Option<&str>, execution_name: &str) -> String {
    let cleaned = derived_job_name(execution_name, "hlx-job");
    if requested.is_none() && cleaned == execution_name {
        return cleaned;
    }
    let digest = Sha256::digest(execution_name.as_bytes());
    let hash = hex::encode(&digest[..4]);
    let prefix: String = requested
        .unwrap_or(&cleaned)
        .chars()
        .take(JOB_NAME.max_chars - hash.len() - 1)
        .collect();
    format!("{prefix}-{hash}")
}

/// The request as an object holding only `allowed` fields; an unknown field
/// is refused by name, so a misspelt optional field is never dropped.
pub fn request_object<'a>(
    value: &'a Value,
    allowed: &[&str],
    what: &str,
) -> Result<&'a Map<String, Value>, FieldError> {
    let Some(object) = value.as_object() else {
        return Err(FieldError::new(
            "request",
            format!("must be a JSON object, got {}", json_kind(value)),
        ));
    };
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(FieldError::new(
            unknown.clone(),
            format!("is not a field of {what} (expected one of {allowed:?})"),
        ));
    }
    Ok(object)
}

/// A required string field, checked against its rule.
pub fn checked(object: &Map<String, Value>, field: &str, rule: &FieldRule) -> Result<String, FieldError> {
    let value = required_string(object, field)?;
    rule.check(field, &value)?;
    Ok(value)
}

/// The optional `jobName`, checked against HealthLake's rule.
pub fn job_name_of(object: &Map<String, Value>) -> Result<Option<String>, FieldError> {
    let job_name = optional_string(object, "jobName")?;
    if let Some(name) = &job_name {
        JOB_NAME.check("jobName", name)?;
    }
    Ok(job_name)
}

/// The request's `trigger`: `manual` when absent.
pub fn trigger_of(object: &Map<String, Value>) -> Result<Trigger, FieldError> {
    match optional_string(object, "trigger")?.as_deref() {
        None => Ok(Trigger::Manual),
        Some("schedule") => Ok(Trigger::Schedule),
        Some("api") => Ok(Trigger::Api),
        Some("manual") => Ok(Trigger::Manual),
        Some(other) => Err(FieldError::new(
            "trigger",
            format!("must be one of \"schedule\", \"api\", \"manual\", got {other:?}"),
        )),
    }
}

pub fn required_string(object: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    optional_string(object, field)?.ok_or_else(|| FieldError::missing(field))
}

pub fn optional_string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(FieldError::new(
            field,
            format!("must be a string, got {}", json_kind(other)),
        )),
    }
}

/// How a JSON value's kind reads in an error message (`a number`).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What reading a request body as JSON found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBodyError {
    /// A key appears twice in one object: JSON parsers disagree on which one
    /// wins, so hlx takes neither.
    DuplicateKey(String),
    /// Not JSON; serde's message (line and column, never the content).
    Syntax(String),
}

impl From<JsonBodyError> for FieldError {
    fn from(err: JsonBodyError) -> Self {
        match err {
            JsonBodyError::DuplicateKey(key) => FieldError::new(
                key,
                "appears more than once in the JSON body; give each field once",
            ),
            JsonBodyError::Syntax(message) => {
                FieldError::new("body", format!("is not valid JSON ({message})"))
            }
        }
    }
}

/// Marks the duplicate key in serde's error message, which adds a position.
const DUPLICATE_KEY: &str = "hlx duplicate key: ";

/// Parses a request body as JSON, refusing a key that appears twice in an
/// object (serde_json's `Value` would silently keep the last one).
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, JsonBodyError> {
    match serde_json::from_slice::<UniqueKeys>(bytes) {
        Ok(UniqueKeys(value)) => Ok(value),
        Err(err) => {
            let message = err.to_string();
            match message.strip_prefix(DUPLICATE_KEY) {
                Some(rest) => {
                    let key = rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key);
                    Err(JsonBodyError::DuplicateKey(key.to_owned()))
                }
                None => Err(JsonBodyError::Syntax(message)),
            }
        }
    }
}

/// A JSON value whose objects have unique keys.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE_KEY}{key}")));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_body_with_a_key_twice_is_refused_by_the_keys_name() {
        assert_eq!(
            parse_json_body(br#"{"datastoreId": "a", "datastoreId": "x"}"#),
            Err(JsonBodyError::DuplicateKey("datastoreId".into()))
        );
        assert_eq!(
            parse_json_body(br#"{"a": [{"types": 1, "types": 2}]}"#),
            Err(JsonBodyError::DuplicateKey("types".into()))
        );
        let err = FieldError::from(JsonBodyError::DuplicateKey("datastoreId".into()));
        assert_eq!(err.field, "datastoreId");
    }

    #[test]
    fn other_bodies_read_as_serde_json_reads_them() {
        let text = br#"{"a": 1, "b": [true, null, -2, 1.5, "s"], "c": {"a": 2}}"#;
        assert_eq!(
            parse_json_body(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
        assert_eq!(parse_json_body(b"[]").unwrap(), json!([]));
        assert!(matches!(
            parse_json_body(b"{\"a\": }"),
            Err(JsonBodyError::Syntax(_))
        ));
    }
}
