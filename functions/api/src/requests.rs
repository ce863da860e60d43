//! What a POST body may ask for, and the execution input it becomes.
//!
//! A caller chooses only the data store, the job name and, for an import,
//! where inside the configured input prefix to read; the rest (where
//! HealthLake writes, the KMS key, the data access role, the trigger) is the
//! function's configuration. The request is then checked by the domain's
//! rules (`ExportRequest` / `ImportRequest`), so a 400 names the field and
//! the rule before anything starts.

use hlx_core::validation::S3_URI;
use hlx_core::{ExportRequest, ImportRequest, JobKind, JobRequest};
use serde_json::{Map, Value};

use crate::config::{ApiConfig, ImportLocations, is_inside};
use crate::error::ApiError;

/// The fields a `POST /exports` body may have: the data store, the job
/// name, and the selection (mode, scope, types, since, until).
pub const EXPORT_BODY_FIELDS: [&str; 7] = [
    "datastoreId",
    "jobName",
    "mode",
    "scope",
    "types",
    "since",
    "until",
];
/// The export request fields only the function's configuration sets.
pub const EXPORT_CONFIGURED_FIELDS: [&str; 4] = ["s3Uri", "kmsKeyId", "dataAccessRoleArn", "trigger"];
/// The fields a `POST /imports` body may have.
pub const IMPORT_BODY_FIELDS: [&str; 3] = ["datastoreId", "inputS3Uri", "jobName"];
/// The import request fields only the function's configuration sets.
pub const IMPORT_CONFIGURED_FIELDS: [&str; 4] = ["outputS3Uri", "kmsKeyId", "dataAccessRoleArn", "trigger"];

/// The fields a body of `kind` may have, and those the configuration sets.
pub fn body_fields(kind: JobKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        JobKind::Export => (&EXPORT_BODY_FIELDS, &EXPORT_CONFIGURED_FIELDS),
        JobKind::Import => (&IMPORT_BODY_FIELDS, &IMPORT_CONFIGURED_FIELDS),
    }
}

/// The export a `POST /exports` body asks for.
pub fn export_request(config: &ApiConfig, body: &Map<String, Value>) -> Result<JobRequest, ApiError> {
    check_fields(JobKind::Export, body)?;
    let mut value = Map::new();
    value.insert("datastoreId".into(), datastore_id(config, body)?);
    value.insert("s3Uri".into(), Value::String(config.s3_uri.clone()));
    for field in hlx_core::selection::SELECTION_FIELDS {
        if let Some(given) = body.get(field) {
            value.insert(field.into(), given.clone());
        }
    }
    insert_configured(config, body, &mut value);
    ExportRequest::from_value(&Value::Object(value))
        .map(JobRequest::Export)
        .map_err(|e| ApiError::invalid(e.field, e.rule))
}

/// The import a `POST /imports` body asks for: from `inputS3Uri` (default:
/// the configured input prefix, and never outside it), logs to the
/// configured output location.
pub fn import_request(
    config: &ApiConfig,
    locations: ImportLocations<'_>,
    body: &Map<String, Value>,
) -> Result<JobRequest, ApiError> {
    check_fields(JobKind::Import, body)?;
    let mut value = Map::new();
    value.insert("datastoreId".into(), datastore_id(config, body)?);
    let input = match body.get("inputS3Uri") {
        None | Some(Value::Null) => Value::String(locations.input_s3_uri.to_owned()),
        Some(Value::String(given)) => {
            check_input_location(given, locations.input_s3_uri)?;
            Value::String(given.clone())
        }
        // Not a string: the domain's rule names the field and the type.
        Some(other) => other.clone(),
    };
    value.insert("inputS3Uri".into(), input);
    value.insert(
        "outputS3Uri".into(),
        Value::String(locations.output_s3_uri.to_owned()),
    );
    insert_configured(config, body, &mut value);
    ImportRequest::from_value(&Value::Object(value))
        .map(JobRequest::Import)
        .map_err(|e| ApiError::invalid(e.field, e.rule))
}

/// The execution input of a request: an export exactly as before imports
/// existed (no `kind`, so that key-less export names do not change), an
/// import with `"kind": "import"`.
pub fn execution_input(request: &JobRequest) -> String {
    match request {
        JobRequest::Export(export) => serde_json::to_string(export),
        JobRequest::Import(_) => serde_json::to_string(request),
    }
    .expect("a request serializes")
}

/// A given `inputS3Uri` must be an S3 URI inside the configured prefix,
/// segment by segment, without `.` or `..` segments: the data access role
/// may read only there.
fn check_input_location(given: &str, prefix: &str) -> Result<(), ApiError> {
    S3_URI
        .check("inputS3Uri", given)
        .map_err(|e| ApiError::invalid(e.field, e.rule))?;
    let dotted = given
        .trim_start_matches("s3://")
        .split('/')
        .any(|segment| segment == "." || segment == "..");
    if dotted || !is_inside(given, prefix) {
        return Err(ApiError::invalid(
            "inputS3Uri",
            format!(
                "must lie inside {prefix} (segment by segment, without . or .. segments): \
                 the data access role may read only there"
            ),
        ));
    }
    Ok(())
}

/// Refuses the fields the configuration sets, then any other unknown field.
fn check_fields(kind: JobKind, body: &Map<String, Value>) -> Result<(), ApiError> {
    let (allowed, configured) = body_fields(kind);
    if let Some(field) = body.keys().find(|k| configured.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            field.clone(),
            "is set by the API's configuration and may not be given in the request",
        ));
    }
    if let Some(field) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            field.clone(),
            format!("is not a field of an {kind} request (expected one of {allowed:?})"),
        ));
    }
    Ok(())
}

/// The body's `datastoreId` (as given: the domain checks it), or the default.
fn datastore_id(config: &ApiConfig, body: &Map<String, Value>) -> Result<Value, ApiError> {
    match body.get("datastoreId") {
        None | Some(Value::Null) => config
            .default_datastore_id
            .clone()
            .map(Value::String)
            .ok_or_else(|| {
                ApiError::invalid("datastoreId", "is required (the API has no default data store)")
            }),
        Some(given) => Ok(given.clone()),
    }
}

/// The key, the role, the optional job name and `trigger: api`.
fn insert_configured(config: &ApiConfig, body: &Map<String, Value>, value: &mut Map<String, Value>) {
    value.insert("kmsKeyId".into(), Value::String(config.kms_key_id.clone()));
    value.insert(
        "dataAccessRoleArn".into(),
        Value::String(config.data_access_role_arn.clone()),
    );
    if let Some(job_name) = body.get("jobName") {
        value.insert("jobName".into(), job_name.clone());
    }
    value.insert("trigger".into(), Value::String("api".into()));
}
