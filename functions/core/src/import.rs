//! The import request: what a schedule, the API or an operator asks for to
//! load NDJSON from S3 into a data store, and what start-job turns into a
//! HealthLake `StartFHIRImportJob` call; and the counts an import reports.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::{Trigger, checked, derived_job_name, job_name_of, request_object, trigger_of};
use crate::validation::{
    DATA_ACCESS_ROLE_ARN, DATASTORE_ID, FieldError, KMS_KEY_ID, S3_URI, check_datastore_id,
};

/// A validated import request (the state machine's execution input, with
/// `"kind": "import"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRequest {
    pub datastore_id: String,
    /// `InputDataConfig.S3Uri`: the NDJSON to load.
    pub input_s3_uri: String,
    /// `JobOutputDataConfig.S3Configuration.S3Uri`: where HealthLake writes
    /// the import's success and failure logs.
    pub output_s3_uri: String,
    /// The KMS key of the log location.
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub trigger: Trigger,
}

/// The fields of an import request, in the order they are checked.
pub const IMPORT_REQUEST_FIELDS: [&str; 7] = [
    "datastoreId",
    "inputS3Uri",
    "outputS3Uri",
    "kmsKeyId",
    "dataAccessRoleArn",
    "jobName",
    "trigger",
];

impl ImportRequest {
    /// Validates raw execution input (without its `kind`). The error names the
    /// first field that breaks a rule; an export's fields are refused by name.
    pub fn from_value(value: &Value) -> Result<Self, FieldError> {
        let object = request_object(value, &IMPORT_REQUEST_FIELDS, "an import request")?;
        let datastore_id = checked(object, "datastoreId", &DATASTORE_ID)?;
        check_datastore_id("datastoreId", &datastore_id)?;
        let input_s3_uri = checked(object, "inputS3Uri", &S3_URI)?;
        let output_s3_uri = checked(object, "outputS3Uri", &S3_URI)?;
        if inside(&output_s3_uri, &input_s3_uri) {
            return Err(FieldError::new(
                "outputS3Uri",
                format!(
                    "must not be inside inputS3Uri ({input_s3_uri}): the next import would load this one's logs"
                ),
            ));
        }
        let kms_key_id = checked(object, "kmsKeyId", &KMS_KEY_ID)?;
        let data_access_role_arn = checked(object, "dataAccessRoleArn", &DATA_ACCESS_ROLE_ARN)?;
        let job_name = job_name_of(object)?;
        let trigger = trigger_of(object)?;
        Ok(Self {
            datastore_id,
            input_s3_uri,
            output_s3_uri,
            kms_key_id,
            data_access_role_arn,
            job_name,
            trigger,
        })
    }

    /// Checks an already-typed request (as the API builds it) by the same rules.
    pub fn validate(&self) -> Result<(), FieldError> {
        let value = serde_json::to_value(self).expect("a request serializes");
        Self::from_value(&value).map(|_| ())
    }

    /// The job name sent to HealthLake: the requested one, or the execution's.
    pub fn job_name_for(&self, execution_name: &str) -> String {
        match &self.job_name {
            Some(name) => name.clone(),
            None => derived_job_name(execution_name, "hlx-import"),
        }
    }

    /// Where HealthLake writes this job's logs.
    pub fn log_location(&self, job_id: &str) -> String {
        import_log_location(&self.output_s3_uri, &self.datastore_id, job_id)
    }
}

/// `{S3Uri}/{DatastoreId}-FHIR_IMPORT-{JobId}/`: the folder of an import's
/// `SUCCESS/` and `FAILURE/` logs.
pub fn import_log_location(s3_uri: &str, datastore_id: &str, job_id: &str) -> String {
    format!(
        "{}/{datastore_id}-FHIR_IMPORT-{job_id}/",
        s3_uri.trim_end_matches('/')
    )
}

/// Whether `uri` is `prefix` or lies under it, segment-wise
/// (`s3://b/in/x` is inside `s3://b/in`; `s3://b/inbox` is not).
fn inside(uri: &str, prefix: &str) -> bool {
    let (uri, prefix) = (uri.trim_end_matches('/'), prefix.trim_end_matches('/'));
    uri == prefix || uri.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// What an import did, from `DescribeFHIRImportJob`'s `JobProgressReport`:
/// the counts the record keeps, so that `COMPLETED_WITH_ERRORS` says how many.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportCounts {
    pub files_scanned: u64,
    pub files_imported: u64,
    /// Files HealthLake could not read (customer error).
    pub files_with_errors: u64,
    pub resources_scanned: u64,
    pub resources_imported: u64,
    /// Resources refused (customer error): the failure log's lines.
    pub resources_with_errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::JobKind;
    use crate::request::JobRequest;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "kind": "import",
            "datastoreId": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
            "inputS3Uri": "s3://hlx-landing/nightly/",
            "outputS3Uri": "s3://hlx-import-logs/nightly",
            "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeImport",
            "trigger": "schedule"
        })
    }

    fn rejected(mutate: impl FnOnce(&mut serde_json::Map<String, Value>)) -> FieldError {
        let mut value = valid();
        mutate(value.as_object_mut().unwrap());
        JobRequest::from_value(&value).expect_err("should be rejected")
    }

    #[test]
    fn a_valid_import_request_parses_as_an_import() {
        let request = JobRequest::from_value(&valid()).unwrap();
        assert_eq!(request.kind(), JobKind::Import);
        let JobRequest::Import(import) = &request else {
            panic!("an import");
        };
        import.validate().unwrap();
        assert_eq!(
            import.job_name_for("import-ds-2026-12-01"),
            "import-ds-2026-12-01"
        );
        assert_eq!(
            request.output_location("j1"),
            "s3://hlx-import-logs/nightly/a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-FHIR_IMPORT-j1/"
        );
        // It serializes back with its kind: the execution input the API sends.
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value["kind"], "import");
        assert_eq!(JobRequest::from_value(&value).unwrap(), request);
    }

    #[test]
    fn each_required_field_is_named_when_missing() {
        for field in [
            "datastoreId",
            "inputS3Uri",
            "outputS3Uri",
            "kmsKeyId",
            "dataAccessRoleArn",
        ] {
            let err = rejected(|o| {
                o.remove(field);
            });
            assert_eq!((err.field.as_str(), err.rule.as_str()), (field, "is required"));
        }
    }

    #[test]
    fn each_field_is_checked_against_its_rule() {
        let cases = [
            ("inputS3Uri", json!("landing/x"), "pattern"),
            ("outputS3Uri", json!("s3://B/x"), "pattern"),
            (
                "outputS3Uri",
                json!("s3://hlx-landing/nightly/logs"),
                "must not be inside inputS3Uri",
            ),
            (
                "outputS3Uri",
                json!("s3://hlx-landing/nightly"),
                "must not be inside inputS3Uri",
            ),
            ("kmsKeyId", json!(""), "between 1 and 400"),
            ("dataAccessRoleArn", json!("arn:aws:iam::1:role/x"), "pattern"),
            ("jobName", json!("n".repeat(65)), "between 1 and 64"),
            ("trigger", json!("cron"), "must be one of"),
            ("kind", json!("copy"), "must be one of \"export\", \"import\""),
            ("kind", json!(1), "must be a string"),
        ];
        for (field, value, rule) in cases {
            let err = rejected(|o| {
                o.insert(field.into(), value.clone());
            });
            assert_eq!(err.field, field, "{value}");
            assert!(err.rule.contains(rule), "{field}={value}: {}", err.rule);
        }
        // A sibling prefix is not inside.
        let mut sibling = valid();
        sibling["outputS3Uri"] = json!("s3://hlx-landing/nightly-logs");
        JobRequest::from_value(&sibling).unwrap();
    }

    #[test]
    fn an_import_request_never_reads_as_an_export_nor_the_reverse() {
        // An import carrying an export's output field is refused by name.
        let err = rejected(|o| {
            o.insert("s3Uri".into(), json!("s3://hlx-exports/x"));
        });
        assert_eq!(err.field, "s3Uri");
        assert!(
            err.rule.contains("not a field of an import request"),
            "{}",
            err.rule
        );
        // An export (no kind, or kind export) carrying an import's input is refused.
        for kind in [None, Some("export")] {
            let mut export = json!({
                "datastoreId": "ds1",
                "s3Uri": "s3://bucket/x",
                "kmsKeyId": "alias/k",
                "dataAccessRoleArn": "arn:aws:iam::123456789012:role/r",
                "inputS3Uri": "s3://hlx-landing/nightly/"
            });
            if let Some(kind) = kind {
                export["kind"] = json!(kind);
            }
            let err = JobRequest::from_value(&export).unwrap_err();
            assert_eq!(err.field, "inputS3Uri");
            assert!(err.rule.contains("not a field of an export request"));
            export.as_object_mut().unwrap().remove("inputS3Uri");
            assert_eq!(JobRequest::from_value(&export).unwrap().kind(), JobKind::Export);
        }
    }
}
