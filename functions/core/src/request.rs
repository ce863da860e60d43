//! The export request: what a schedule, the API or an operator asks for, and
//! what start-job turns into a HealthLake `StartFHIRExportJob` call.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fields::{
    Trigger, checked, derived_job_name, job_name_of, json_kind, request_object, trigger_of, unique_job_name,
};
use crate::import::ImportRequest;
use crate::kind::JobKind;
use crate::selection::{ExportSelection, SELECTION_FIELDS};
use crate::validation::{
    CLIENT_TOKEN, DATA_ACCESS_ROLE_ARN, DATASTORE_ID, FieldError, KMS_KEY_ID, S3_URI, check_datastore_id,
};

/// A validated export request (the state machine's execution input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    pub datastore_id: String,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub trigger: Trigger,
    /// Full or incremental, scope, types, since/until (absent: a full system export).
    #[serde(flatten)]
    pub selection: ExportSelection,
}

/// The fields of an export request, in the order they are checked.
pub const REQUEST_FIELDS: [&str; 11] = [
    "datastoreId",
    "s3Uri",
    "kmsKeyId",
    "dataAccessRoleArn",
    "jobName",
    "trigger",
    SELECTION_FIELDS[0],
    SELECTION_FIELDS[1],
    SELECTION_FIELDS[2],
    SELECTION_FIELDS[3],
    SELECTION_FIELDS[4],
];

impl ExportRequest {
    /// Validates raw execution input. The error names the first field that
    /// breaks a rule; unknown fields are refused too, so a misspelt optional
    /// field is never silently dropped.
    pub fn from_value(value: &Value) -> Result<Self, FieldError> {
        let object = request_object(value, &REQUEST_FIELDS, "an export request")?;
        let datastore_id = checked(object, "datastoreId", &DATASTORE_ID)?;
        check_datastore_id("datastoreId", &datastore_id)?;
        let s3_uri = checked(object, "s3Uri", &S3_URI)?;
        let kms_key_id = checked(object, "kmsKeyId", &KMS_KEY_ID)?;
        let data_access_role_arn = checked(object, "dataAccessRoleArn", &DATA_ACCESS_ROLE_ARN)?;
        let job_name = job_name_of(object)?;
        let trigger = trigger_of(object)?;
        let selection = ExportSelection::from_object(object)?;
        Ok(Self {
            datastore_id,
            s3_uri,
            kms_key_id,
            data_access_role_arn,
            job_name,
            trigger,
            selection,
        })
    }

    /// Checks an already-typed request (as the API builds it) by the same rules.
    pub fn validate(&self) -> Result<(), FieldError> {
        let value = serde_json::to_value(self).expect("a request serializes");
        Self::from_value(&value).map(|_| ())
    }

    /// The job name sent to HealthLake: the requested one, or one derived from
    /// the execution name so that HealthLake's own job list reads well.
    pub fn job_name_for(&self, execution_name: &str) -> String {
        match &self.job_name {
            Some(name) => name.clone(),
            None => derived_job_name(execution_name, "hlx-job"),
        }
    }

    /// The job name of a FHIR REST kick-off, which has no ClientToken: one
    /// that only this execution uses, so that a retry can find the job an
    /// unanswered kick-off may have started. The requested name, when given,
    /// leads it.
    pub fn unique_job_name_for(&self, execution_name: &str) -> String {
        unique_job_name(self.job_name.as_deref(), execution_name)
    }

    /// Where HealthLake writes this job's files.
    pub fn output_location(&self, job_id: &str) -> String {
        output_location(&self.s3_uri, &self.datastore_id, job_id)
    }
}

/// An export or an import request: the execution input, told apart by its
/// `kind` (absent: an export). Each kind refuses the other's fields, so an
/// import request can never start an export, nor the reverse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JobRequest {
    Export(ExportRequest),
    Import(ImportRequest),
}

impl JobRequest {
    /// Validates raw execution input of either kind; the error names the
    /// first field that breaks a rule, `kind` included.
    pub fn from_value(value: &Value) -> Result<Self, FieldError> {
        let Some(object) = value.as_object() else {
            return ExportRequest::from_value(value).map(Self::Export);
        };
        let kind = match object.get("kind") {
            None | Some(Value::Null) => JobKind::Export,
            Some(Value::String(s)) => JobKind::parse(s).ok_or_else(|| {
                FieldError::new(
                    "kind",
                    format!("must be one of \"export\", \"import\", got {s:?}"),
                )
            })?,
            Some(other) => {
                return Err(FieldError::new(
                    "kind",
                    format!("must be a string, got {}", json_kind(other)),
                ));
            }
        };
        let mut rest = object.clone();
        rest.remove("kind");
        let rest = Value::Object(rest);
        match kind {
            JobKind::Export => ExportRequest::from_value(&rest).map(Self::Export),
            JobKind::Import => ImportRequest::from_value(&rest).map(Self::Import),
        }
    }

    /// The rules that need the time of the request (see
    /// [`ExportSelection::check_at`]); every front end applies them at its door.
    pub fn check_at(&self, now: jiff::Timestamp) -> Result<(), FieldError> {
        match self {
            Self::Export(export) => export.selection.check_at(now),
            Self::Import(_) => Ok(()),
        }
    }

    /// [`JobRequest::from_value`], then [`JobRequest::check_at`].
    pub fn from_value_at(value: &Value, now: jiff::Timestamp) -> Result<Self, FieldError> {
        let request = Self::from_value(value)?;
        request.check_at(now)?;
        Ok(request)
    }

    pub fn kind(&self) -> JobKind {
        match self {
            Self::Export(_) => JobKind::Export,
            Self::Import(_) => JobKind::Import,
        }
    }

    pub fn datastore_id(&self) -> &str {
        match self {
            Self::Export(r) => &r.datastore_id,
            Self::Import(r) => &r.datastore_id,
        }
    }

    pub fn trigger(&self) -> Trigger {
        match self {
            Self::Export(r) => r.trigger,
            Self::Import(r) => r.trigger,
        }
    }

    pub fn kms_key_id(&self) -> &str {
        match self {
            Self::Export(r) => &r.kms_key_id,
            Self::Import(r) => &r.kms_key_id,
        }
    }

    pub fn data_access_role_arn(&self) -> &str {
        match self {
            Self::Export(r) => &r.data_access_role_arn,
            Self::Import(r) => &r.data_access_role_arn,
        }
    }

    /// Where HealthLake writes: an export's files, an import's logs.
    pub fn output_s3_uri(&self) -> &str {
        match self {
            Self::Export(r) => &r.s3_uri,
            Self::Import(r) => &r.output_s3_uri,
        }
    }

    /// The folder of this job's output (files or logs) once it has an id.
    pub fn output_location(&self, job_id: &str) -> String {
        match self {
            Self::Export(r) => r.output_location(job_id),
            Self::Import(r) => r.log_location(job_id),
        }
    }

    pub fn job_name_for(&self, execution_name: &str) -> String {
        match self {
            Self::Export(r) => r.job_name_for(execution_name),
            Self::Import(r) => r.job_name_for(execution_name),
        }
    }
}

/// `{S3Uri}/{DatastoreId}-FHIR_EXPORT-{JobId}/`, HealthLake's output layout.
pub fn output_location(s3_uri: &str, datastore_id: &str, job_id: &str) -> String {
    format!(
        "{}/{datastore_id}-FHIR_EXPORT-{job_id}/",
        s3_uri.trim_end_matches('/')
    )
}

/// The idempotency token for an execution: the same execution name always
/// gives the same token, so a retried start returns the job HealthLake already
/// has instead of starting a second one.
pub fn client_token_for(execution_name: &str) -> String {
    let digest = Sha256::digest(execution_name.as_bytes());
    let token = format!("hlx-{}", hex::encode(&digest[..20]));
    debug_assert!(CLIENT_TOKEN.check("ClientToken", &token).is_ok());
    token
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::validation::JOB_NAME;
    use serde_json::json;

    pub(crate) fn valid() -> Value {
        json!({
            "datastoreId": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
            "s3Uri": "s3://hlx-exports/nightly",
            "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
            "trigger": "schedule"
        })
    }

    fn rejected(mutate: impl FnOnce(&mut Map<String, Value>)) -> FieldError {
        let mut value = valid();
        mutate(value.as_object_mut().unwrap());
        ExportRequest::from_value(&value).expect_err("should be rejected")
    }

    #[test]
    fn a_valid_request_parses() {
        let request = ExportRequest::from_value(&valid()).unwrap();
        assert_eq!(request.trigger, Trigger::Schedule);
        assert_eq!(request.job_name, None);
        request.validate().unwrap();
    }

    #[test]
    fn each_required_field_is_named_when_missing() {
        for field in ["datastoreId", "s3Uri", "kmsKeyId", "dataAccessRoleArn"] {
            let err = rejected(|o| {
                o.remove(field);
            });
            assert_eq!(err.field, field);
            assert_eq!(err.rule, "is required");
            assert_eq!(err.to_string(), format!("{field}: is required"));
        }
    }

    #[test]
    fn each_field_is_checked_against_its_rule() {
        let cases = [
            ("datastoreId", json!("x".repeat(33)), "between 1 and 32"),
            ("datastoreId", json!(""), "got 0"),
            ("s3Uri", json!("bucket/prefix"), "pattern"),
            ("kmsKeyId", json!(""), "between 1 and 400"),
            ("dataAccessRoleArn", json!("arn:aws:iam::123:role/x"), "pattern"),
            ("jobName", json!("n".repeat(65)), "between 1 and 64"),
            ("jobName", json!(42), "must be a string, got a number"),
            ("trigger", json!("cron"), "must be one of"),
        ];
        for (field, value, rule) in cases {
            let err = rejected(|o| {
                o.insert(field.into(), value.clone());
            });
            assert_eq!(err.field, field, "{value}");
            assert!(err.rule.contains(rule), "{field}={value}: {}", err.rule);
        }
    }

    #[test]
    fn non_objects_and_unknown_fields_are_refused() {
        let err = ExportRequest::from_value(&json!("s3://x")).unwrap_err();
        assert_eq!(err.field, "request");
        assert!(err.rule.contains("a string"));
        let err = rejected(|o| {
            o.insert("datastoreID".into(), json!("x"));
        });
        assert_eq!(err.field, "datastoreID");
        assert!(err.rule.contains("not a field"));
    }

    #[test]
    fn trigger_defaults_to_manual_and_job_name_is_optional() {
        let request = ExportRequest::from_value(&json!({
            "datastoreId": "ds1",
            "s3Uri": "s3://bucket/x",
            "kmsKeyId": "alias/k",
            "dataAccessRoleArn": "arn:aws:iam::123456789012:role/r",
            "jobName": "weekly full"
        }))
        .unwrap();
        assert_eq!(request.trigger, Trigger::Manual);
        assert_eq!(request.job_name_for("ignored"), "weekly full");
    }

    #[test]
    fn client_tokens_are_deterministic_valid_and_distinct() {
        let a = client_token_for("nightly-ds1-2026-11-24");
        assert_eq!(a, client_token_for("nightly-ds1-2026-11-24"));
        assert_ne!(a, client_token_for("nightly-ds1-2026-11-25"));
        CLIENT_TOKEN.check("ClientToken", &a).unwrap();
        assert_eq!(a.len(), 44);
        // Even an execution name HealthLake could not take as a token works.
        CLIENT_TOKEN
            .check("ClientToken", &client_token_for(&"ü_".repeat(80)))
            .unwrap();
    }

    #[test]
    fn derived_job_names_follow_the_job_name_rule() {
        let request = ExportRequest::from_value(&valid()).unwrap();
        for name in ["nightly-ds1-2026-11-24", "a#b c", &"x".repeat(80), ""] {
            let job_name = request.job_name_for(name);
            JOB_NAME.check("JobName", &job_name).unwrap();
        }
        assert_eq!(request.job_name_for("a#b"), "a-b");
        // Marks and symbols Rust calls alphanumeric are no part of a job name.
        assert_eq!(request.job_name_for("\u{915}\u{93f}\u{24b6}1"), "\u{915}--1");
    }

    #[test]
    fn output_location_follows_healthlakes_layout() {
        assert_eq!(
            output_location("s3://b/exports/", "ds1", "job9"),
            "s3://b/exports/ds1-FHIR_EXPORT-job9/"
        );
        assert_eq!(
            output_location("s3://b", "ds1", "job9"),
            "s3://b/ds1-FHIR_EXPORT-job9/"
        );
    }
}
