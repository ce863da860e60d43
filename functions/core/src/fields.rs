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
