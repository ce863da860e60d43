//! The operations: input parsing, validation as the service does it, and answers.
//!
//! Validation messages follow the AWS JSON front end: `N validation error(s)
//! detected: Value '<v>' at '<member>' failed to satisfy constraint: <rule>`,
//! members named by their lowerCamel path (`outputDataConfig.s3Configuration.kmsKeyId`).

use std::sync::LazyLock;

use hlx_core::JobStatus;
use hlx_core::validation::{
    CLIENT_TOKEN, DATA_ACCESS_ROLE_ARN, DATASTORE_ID, FieldRule, JOB_ID, JOB_NAME, KMS_KEY_ID, S3_URI,
};
use jiff::Timestamp;
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorKind};
use crate::state::{NewJob, State};
use crate::{DatastoreInfo, ImportReport, JobInfo, JobKind, Operation, TARGET_PREFIX};

/// Runs `operation` on `input` at `now` (after the state was brought up to `now`).
pub(crate) fn handle(
    state: &mut State,
    operation: Operation,
    input: &Map<String, Value>,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let input = Input::root(input);
    match operation {
        Operation::CreateFhirDatastore => create_datastore(state, &input, now),
        Operation::DescribeFhirDatastore => describe_datastore(state, &input),
        Operation::ListFhirDatastores => list_datastores(state, &input),
        Operation::StartFhirExportJob => start_job(state, JobKind::Export, &input, now),
        Operation::StartFhirImportJob => start_job(state, JobKind::Import, &input, now),
        Operation::DescribeFhirExportJob => describe_job(state, JobKind::Export, &input),
        Operation::DescribeFhirImportJob => describe_job(state, JobKind::Import, &input),
        Operation::ListFhirExportJobs => list_jobs(state, JobKind::Export, &input),
        Operation::ListFhirImportJobs => list_jobs(state, JobKind::Import, &input),
        Operation::StartFhirExportJobWithPost
        | Operation::DescribeFhirExportJobWithGet
        | Operation::CancelFhirExportJobWithDelete => Err(ApiError::new(
            ErrorKind::UnknownOperation,
            format!("Unknown operation {TARGET_PREFIX}{operation}"),
        )),
    }
}

// ---- input ----

/// A JSON object of the request, with the member path it sits at.
struct Input<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a structure",
    }
}

impl<'a> Input<'a> {
    fn root(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            path: String::new(),
        }
    }

    fn path(&self, member: &str) -> String {
        if self.path.is_empty() {
            lower_camel(member)
        } else {
            format!("{}.{}", self.path, lower_camel(member))
        }
    }

    fn get(&self, member: &str) -> Option<&'a Value> {
        self.map.get(member).filter(|v| !v.is_null())
    }

    fn mismatch(&self, member: &str, expected: &str, found: &Value) -> ApiError {
        ApiError::serialization(format!(
            "Expected {expected} at '{}', found {}",
            self.path(member),
            kind_of(found)
        ))
    }

    fn string(&self, member: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.mismatch(member, "a string", other)),
        }
    }

    fn object(&self, member: &str) -> Result<Option<Input<'a>>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Input {
                map,
                path: self.path(member),
            })),
            Some(other) => Err(self.mismatch(member, "a structure", other)),
        }
    }

    fn integer(&self, member: &str) -> Result<Option<i64>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.mismatch(member, "an integer", &Value::Number(n.clone()))),
            Some(other) => Err(self.mismatch(member, "an integer", other)),
        }
    }

    /// An epoch-seconds timestamp (a JSON number, fractions allowed).
    fn timestamp(&self, member: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let secs = n.as_f64().unwrap_or(f64::NAN);
                let millis = (secs * 1000.0).round();
                if !millis.is_finite() {
                    return Err(self.mismatch(member, "a timestamp", &Value::Number(n.clone())));
                }
                Timestamp::from_millisecond(millis as i64).map(Some).map_err(|_| {
                    ApiError::serialization(format!("Timestamp out of range at '{}'", self.path(member)))
                })
            }
            Some(other) => Err(self.mismatch(member, "a timestamp (epoch seconds)", other)),
        }
    }

    /// The members set (non-null) other than `known`.
    fn other_members(&self, known: &[&str]) -> Vec<String> {
        self.map
            .iter()
            .filter(|(k, v)| !v.is_null() && !known.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

// ---- validation ----

#[derive(Default)]
struct Violations(Vec<String>);

/// `DatastoreName`: 1-256 characters, the id pattern.
const DATASTORE_NAME_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-%@]*)$";
static DATASTORE_NAME_REGEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(DATASTORE_NAME_PATTERN).expect("pattern compiles"));
/// `NextToken`: at most 8192 ASCII characters.
const NEXT_TOKEN_PATTERN: &str = r"^\p{ASCII}{0,8192}$";

const JOB_STATUSES: &[&str] = &[
    "SUBMITTED",
    "QUEUED",
    "IN_PROGRESS",
    "COMPLETED_WITH_ERRORS",
    "COMPLETED",
    "FAILED",
    "CANCEL_SUBMITTED",
    "CANCEL_IN_PROGRESS",
    "CANCEL_COMPLETED",
    "CANCEL_FAILED",
];
const DATASTORE_STATUSES: &[&str] = &["CREATING", "ACTIVE", "DELETING", "DELETED", "CREATE_FAILED"];

impl Violations {
    fn fail(&mut self, path: &str, value: &str, constraint: &str) {
        self.0.push(format!(
            "Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    fn null(&mut self, path: &str) {
        self.0.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    fn required<T>(&mut self, path: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.null(path);
        }
        value
    }

    fn length_and_pattern(
        &mut self,
        path: &str,
        value: &str,
        (min, max): (usize, usize),
        pattern: &str,
        matches: bool,
    ) {
        let chars = value.chars().count();
        if chars < min {
            self.fail(
                path,
                value,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if chars > max {
            self.fail(
                path,
                value,
                &format!("Member must have length less than or equal to {max}"),
            );
        } else if !matches {
            self.fail(
                path,
                value,
                &format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// Checks `value` against one of hlx-core's HealthLake field rules.
    fn rule(&mut self, path: &str, value: &str, rule: &FieldRule) {
        if rule.check(path, value).is_err() {
            // The rule failed; report the constraint it broke (length first).
            self.length_and_pattern(path, value, (rule.min_chars, rule.max_chars), rule.pattern, false);
        }
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(
                path,
                value,
                &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    fn range(&mut self, path: &str, value: i64, min: i64, max: i64) {
        if value < min {
            self.fail(
                path,
                &value.to_string(),
                &format!("Member must have value greater than or equal to {min}"),
            );
        } else if value > max {
            self.fail(
                path,
                &value.to_string(),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

/// A required string member checked against `rule`.
fn required_rule<'a>(
    v: &mut Violations,
    input: &Input<'a>,
    member: &str,
    rule: &FieldRule,
) -> Result<Option<&'a str>, ApiError> {
    let path = input.path(member);
    let value = v.required(&path, input.string(member)?);
    if let Some(value) = value {
        v.rule(&path, value, rule);
    }
    Ok(value)
}

/// An optional string member checked against `rule`.
fn optional_rule<'a>(
    v: &mut Violations,
    input: &Input<'a>,
    member: &str,
    rule: &FieldRule,
) -> Result<Option<&'a str>, ApiError> {
    let value = input.string(member)?;
    if let Some(value) = value {
        v.rule(&input.path(member), value, rule);
    }
    Ok(value)
}

/// `OutputDataConfig`: a union whose one member, `S3Configuration`, requires
/// `S3Uri` and `KmsKeyId`.
fn output_data_config<'a>(
    v: &mut Violations,
    input: &Input<'a>,
    member: &str,
) -> Result<Option<(&'a str, &'a str)>, ApiError> {
    let Some(config) = input.object(member)? else {
        v.null(&input.path(member));
        return Ok(None);
    };
    let others = config.other_members(&["S3Configuration"]);
    if !others.is_empty() {
        v.fail(
            &config.path,
            &format!("{{{}}}", others.join(", ")),
            "Member must be one of the union members: [s3Configuration]",
        );
    }
    let Some(s3) = config.object("S3Configuration")? else {
        v.null(&config.path("S3Configuration"));
        return Ok(None);
    };
    let uri = required_rule(v, &s3, "S3Uri", &S3_URI)?;
    let key = required_rule(v, &s3, "KmsKeyId", &KMS_KEY_ID)?;
    Ok(uri.zip(key))
}

/// The body of a FHIR REST `$export` kick-off, checked with the rules of
/// `StartFHIRExportJob`: `JobName` (optional), `OutputDataConfig`,
/// `DataAccessRoleArn`. Returns name, S3 URI, KMS key and role.
pub(crate) fn rest_kickoff_body(
    body: &Map<String, Value>,
) -> Result<(Option<String>, String, String, String), ApiError> {
    let input = Input::root(body);
    let mut v = Violations::default();
    let job_name = optional_rule(&mut v, &input, "JobName", &JOB_NAME)?;
    let output = output_data_config(&mut v, &input, "OutputDataConfig")?;
    let role = required_rule(&mut v, &input, "DataAccessRoleArn", &DATA_ACCESS_ROLE_ARN)?;
    v.finish()?;
    match (output, role) {
        (Some((uri, key)), Some(role)) => Ok((
            job_name.map(str::to_owned),
            uri.to_owned(),
            key.to_owned(),
            role.to_owned(),
        )),
        _ => Err(ApiError::validation("1 validation error detected")),
    }
}

fn max_results(v: &mut Violations, input: &Input) -> Result<usize, ApiError> {
    Ok(match input.integer("MaxResults")? {
        Some(n) => {
            v.range(&input.path("MaxResults"), n, 1, 500);
            n.clamp(1, 500) as usize
        }
        None => 500,
    })
}

fn next_token<'a>(v: &mut Violations, input: &Input<'a>) -> Result<Option<&'a str>, ApiError> {
    let token = input.string("NextToken")?;
    if let Some(token) = token {
        v.length_and_pattern(
            &input.path("NextToken"),
            token,
            (0, 8192),
            NEXT_TOKEN_PATTERN,
            token.is_ascii(),
        );
    }
    Ok(token)
}

/// One page of `items` starting at the item whose key is `token`.
fn page<'a, T>(
    items: Vec<&'a T>,
    key: impl Fn(&T) -> &str,
    token: Option<&str>,
    max: usize,
) -> Result<(Vec<&'a T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(token) => items
            .iter()
            .position(|item| key(item) == token)
            .ok_or_else(|| ApiError::validation("Invalid pagination token"))?,
    };
    let rest = &items[start..];
    let next = rest.get(max).map(|item| key(item).to_owned());
    Ok((rest.iter().take(max).copied().collect(), next))
}

fn epoch(ts: Timestamp) -> Value {
    json!(ts.as_millisecond() as f64 / 1000.0)
}

fn datastore_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Datastore {id} does not exist"))
}

fn find_datastore(state: &State, id: &str) -> Result<usize, ApiError> {
    state
        .datastore_position(id)
        .ok_or_else(|| datastore_not_found(id))
}

// ---- data stores ----

fn create_datastore(state: &mut State, input: &Input, now: Timestamp) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let name = input.string("DatastoreName")?;
    if let Some(name) = name {
        v.length_and_pattern(
            "datastoreName",
            name,
            (1, 256),
            DATASTORE_NAME_PATTERN,
            DATASTORE_NAME_REGEX.is_match(name),
        );
    }
    let version = v.required("datastoreTypeVersion", input.string("DatastoreTypeVersion")?);
    if let Some(version) = version {
        v.one_of("datastoreTypeVersion", version, &["R4"]);
    }
    let token = optional_rule(&mut v, input, "ClientToken", &CLIENT_TOKEN)?;
    if let Some(sse) = input.object("SseConfiguration")? {
        match sse.object("KmsEncryptionConfig")? {
            None => v.null(&sse.path("KmsEncryptionConfig")),
            Some(kms) => {
                let path = kms.path("CmkType");
                if let Some(cmk) = v.required(&path, kms.string("CmkType")?) {
                    v.one_of(&path, cmk, &["CUSTOMER_MANAGED_KMS_KEY", "AWS_OWNED_KMS_KEY"]);
                }
                optional_rule(&mut v, &kms, "KmsKeyId", &KMS_KEY_ID)?;
            }
        }
    }
    if let Some(preload) = input.object("PreloadDataConfig")? {
        let path = preload.path("PreloadDataType");
        if let Some(kind) = v.required(&path, preload.string("PreloadDataType")?) {
            v.one_of(&path, kind, &["SYNTHEA"]);
        }
    }
    if let Some(idp) = input.object("IdentityProviderConfiguration")? {
        let path = idp.path("AuthorizationStrategy");
        if let Some(strategy) = v.required(&path, idp.string("AuthorizationStrategy")?) {
            v.one_of(
                &path,
                strategy,
                &["SMART_ON_FHIR_V1", "SMART_ON_FHIR", "AWS_AUTH"],
            );
        }
    }
    v.finish()?;

    let mut fingerprint = input.map.clone();
    fingerprint.remove("ClientToken");
    let fingerprint = Value::Object(fingerprint).to_string();
    let index = match token.and_then(|t| state.datastore_tokens.get(t)) {
        Some((seen, index)) if *seen == fingerprint => *index,
        Some(_) => {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                "The ClientToken was already used with a different request",
            ));
        }
        None => {
            let extras: Map<String, Value> = [
                "SseConfiguration",
                "PreloadDataConfig",
                "IdentityProviderConfiguration",
            ]
            .into_iter()
            .filter_map(|k| input.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
            let profile = state.config.default_profile.clone();
            let churn = state.config.churn;
            let index = state.create_datastore(name.map(str::to_owned), profile, extras, churn, now);
            if let Some(token) = token {
                state
                    .datastore_tokens
                    .insert(token.to_owned(), (fingerprint, index));
            }
            index
        }
    };
    let info = &state.datastores[index].info;
    Ok(json!({
        "DatastoreId": info.datastore_id,
        "DatastoreArn": info.arn,
        "DatastoreStatus": info.status,
        "DatastoreEndpoint": info.endpoint,
    }))
}

fn datastore_properties(info: &DatastoreInfo, extras: &Map<String, Value>) -> Value {
    let mut props = json!({
        "DatastoreId": info.datastore_id,
        "DatastoreArn": info.arn,
        "DatastoreStatus": info.status,
        "CreatedAt": epoch(info.created_at),
        "DatastoreTypeVersion": "R4",
        "DatastoreEndpoint": info.endpoint,
        "SseConfiguration": { "KmsEncryptionConfig": { "CmkType": "AWS_OWNED_KMS_KEY" } },
        "IdentityProviderConfiguration": {
            "AuthorizationStrategy": "AWS_AUTH",
            "FineGrainedAuthorizationEnabled": false
        },
    });
    if let Some(name) = &info.name {
        props["DatastoreName"] = json!(name);
    }
    for (k, value) in extras {
        props[k] = value.clone();
    }
    props
}

fn describe_datastore(state: &State, input: &Input) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let id = required_rule(&mut v, input, "DatastoreId", &DATASTORE_ID)?;
    v.finish()?;
    let datastore = &state.datastores[find_datastore(state, id.unwrap_or_default())?];
    Ok(json!({ "DatastoreProperties": datastore_properties(&datastore.info, &datastore.extras) }))
}

fn list_datastores(state: &State, input: &Input) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let (mut name, mut status, mut before, mut after) = (None, None, None, None);
    if let Some(filter) = input.object("Filter")? {
        name = filter.string("DatastoreName")?;
        if let Some(name) = name {
            v.length_and_pattern(
                &filter.path("DatastoreName"),
                name,
                (1, 256),
                DATASTORE_NAME_PATTERN,
                DATASTORE_NAME_REGEX.is_match(name),
            );
        }
        status = filter.string("DatastoreStatus")?;
        if let Some(status) = status {
            v.one_of(&filter.path("DatastoreStatus"), status, DATASTORE_STATUSES);
        }
        before = filter.timestamp("CreatedBefore")?;
        after = filter.timestamp("CreatedAfter")?;
    }
    let max = max_results(&mut v, input)?;
    let token = next_token(&mut v, input)?;
    v.finish()?;
    let matching: Vec<_> = state
        .datastores
        .iter()
        .filter(|d| name.is_none_or(|n| d.info.name.as_deref() == Some(n)))
        .filter(|d| status.is_none_or(|s| d.info.status == s))
        .filter(|d| before.is_none_or(|t| d.info.created_at < t))
        .filter(|d| after.is_none_or(|t| d.info.created_at > t))
        .collect();
    let (items, next) = page(matching, |d| &d.info.datastore_id, token, max)?;
    let mut out = json!({
        "DatastorePropertiesList": items
            .iter()
            .map(|d| datastore_properties(&d.info, &d.extras))
            .collect::<Vec<_>>()
    });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

// ---- jobs ----

fn start_job(state: &mut State, kind: JobKind, input: &Input, now: Timestamp) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let job_name = optional_rule(&mut v, input, "JobName", &JOB_NAME)?;
    let (s3_uri, kms_key_id, job_output_s3_uri) = match kind {
        JobKind::Export => {
            let output = output_data_config(&mut v, input, "OutputDataConfig")?;
            (output.map(|o| o.0), output.map(|o| o.1), None)
        }
        JobKind::Import => {
            let input_uri = match input.object("InputDataConfig")? {
                None => {
                    v.null("inputDataConfig");
                    None
                }
                Some(config) => {
                    let others = config.other_members(&["S3Uri"]);
                    if !others.is_empty() {
                        v.fail(
                            &config.path,
                            &format!("{{{}}}", others.join(", ")),
                            "Member must be one of the union members: [s3Uri]",
                        );
                    }
                    required_rule(&mut v, &config, "S3Uri", &S3_URI)?
                }
            };
            let output = output_data_config(&mut v, input, "JobOutputDataConfig")?;
            (input_uri, output.map(|o| o.1), output.map(|o| o.0))
        }
    };
    let datastore_id = required_rule(&mut v, input, "DatastoreId", &DATASTORE_ID)?;
    let role = required_rule(&mut v, input, "DataAccessRoleArn", &DATA_ACCESS_ROLE_ARN)?;
    let token = optional_rule(&mut v, input, "ClientToken", &CLIENT_TOKEN)?;
    if kind == JobKind::Import
        && let Some(level) = input.string("ValidationLevel")?
    {
        v.one_of("validationLevel", level, &["strict", "structure-only", "minimal"]);
    }
    v.finish()?;
    // All required members are present once validation passed.
    let (Some(datastore_id), Some(s3_uri), Some(kms_key_id), Some(role)) =
        (datastore_id, s3_uri, kms_key_id, role)
    else {
        return Err(ApiError::validation("1 validation error detected"));
    };

    let datastore = find_datastore(state, datastore_id)?;
    let fingerprint = json!([job_name, s3_uri, kms_key_id, job_output_s3_uri, role]).to_string();
    let existing = token.and_then(|t| {
        state
            .token_lookup(&(datastore_id.to_owned(), kind, t.to_owned()))
            .cloned()
    });
    let index = match existing {
        Some((seen, index)) if seen == fingerprint => index,
        Some(_) => {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                "The ClientToken was already used with a different request",
            ));
        }
        None => {
            let index = state.submit(
                NewJob {
                    kind,
                    datastore,
                    job_name: job_name.map(str::to_owned),
                    s3_uri: s3_uri.to_owned(),
                    kms_key_id: kms_key_id.to_owned(),
                    job_output_s3_uri: job_output_s3_uri.map(str::to_owned),
                    data_access_role_arn: role.to_owned(),
                    client_token: token.map(str::to_owned),
                    rest: None,
                },
                fingerprint,
                now,
            );
            // A job with no queue delay starts (or queues) at once.
            state.process(now);
            index
        }
    };
    let job = state.job_at(index);
    Ok(json!({
        "JobId": job.job_id,
        "JobStatus": job.status.as_str(),
        "DatastoreId": job.datastore_id,
    }))
}

fn job_properties(job: &JobInfo) -> Value {
    let output = |uri: &str| json!({ "S3Configuration": { "S3Uri": uri, "KmsKeyId": job.kms_key_id } });
    let mut props = json!({
        "JobId": job.job_id,
        "JobStatus": job.status.as_str(),
        "SubmitTime": epoch(job.submit_time),
        "DatastoreId": job.datastore_id,
        "DataAccessRoleArn": job.data_access_role_arn,
    });
    match job.kind {
        JobKind::Export => props["OutputDataConfig"] = output(&job.s3_uri),
        JobKind::Import => {
            props["InputDataConfig"] = json!({ "S3Uri": job.s3_uri });
            if let Some(uri) = &job.job_output_s3_uri {
                props["JobOutputDataConfig"] = output(uri);
            }
        }
    }
    if let Some(name) = &job.job_name {
        props["JobName"] = json!(name);
    }
    if let Some(end) = job.end_time {
        props["EndTime"] = epoch(end);
    }
    if let Some(message) = &job.message {
        props["Message"] = json!(message);
    }
    if let Some(report) = &job.import_report {
        props["JobProgressReport"] = job_progress_report(report);
    }
    props
}

/// `JobProgressReport`, the wire form of an [`ImportReport`].
fn job_progress_report(report: &ImportReport) -> Value {
    json!({
        "TotalNumberOfScannedFiles": report.scanned_files,
        "TotalSizeOfScannedFilesInMB": report.scanned_size_mb,
        "TotalNumberOfImportedFiles": report.imported_files,
        "TotalNumberOfResourcesScanned": report.scanned_resources,
        "TotalNumberOfResourcesImported": report.imported_resources,
        "TotalNumberOfResourcesWithCustomerError": report.resources_with_customer_error,
        "TotalNumberOfFilesReadWithCustomerError": report.files_read_with_customer_error,
        "Throughput": report.throughput,
    })
}

fn properties_member(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "ExportJobProperties",
        JobKind::Import => "ImportJobProperties",
    }
}

fn describe_job(state: &State, kind: JobKind, input: &Input) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let datastore_id = required_rule(&mut v, input, "DatastoreId", &DATASTORE_ID)?;
    let job_id = required_rule(&mut v, input, "JobId", &JOB_ID)?;
    v.finish()?;
    let (datastore_id, job_id) = (datastore_id.unwrap_or_default(), job_id.unwrap_or_default());
    find_datastore(state, datastore_id)?;
    let job = state.job(kind, datastore_id, job_id).ok_or_else(|| {
        let what = match kind {
            JobKind::Export => "Export",
            JobKind::Import => "Import",
        };
        ApiError::not_found(format!(
            "{what} job {job_id} does not exist in datastore {datastore_id}"
        ))
    })?;
    Ok(json!({ properties_member(kind): job_properties(job) }))
}

fn list_jobs(state: &State, kind: JobKind, input: &Input) -> Result<Value, ApiError> {
    let mut v = Violations::default();
    let datastore_id = required_rule(&mut v, input, "DatastoreId", &DATASTORE_ID)?;
    let max = max_results(&mut v, input)?;
    let token = next_token(&mut v, input)?;
    let job_name = optional_rule(&mut v, input, "JobName", &JOB_NAME)?;
    let status = input.string("JobStatus")?;
    if let Some(status) = status {
        v.one_of("jobStatus", status, JOB_STATUSES);
    }
    let before = input.timestamp("SubmittedBefore")?;
    let after = input.timestamp("SubmittedAfter")?;
    v.finish()?;
    let datastore_id = datastore_id.unwrap_or_default();
    find_datastore(state, datastore_id)?;
    let status = status.map(JobStatus::parse);
    // Newest first.
    let matching: Vec<&JobInfo> = state
        .jobs(kind)
        .rev()
        .filter(|job| job.datastore_id == datastore_id)
        .filter(|job| job_name.is_none_or(|n| job.job_name.as_deref() == Some(n)))
        .filter(|job| status.as_ref().is_none_or(|s| &job.status == s))
        .filter(|job| before.is_none_or(|t| job.submit_time < t))
        .filter(|job| after.is_none_or(|t| job.submit_time > t))
        .collect();
    let (items, next) = page(matching, |job| &job.job_id, token, max)?;
    let list_member = match kind {
        JobKind::Export => "ExportJobPropertiesList",
        JobKind::Import => "ImportJobPropertiesList",
    };
    let mut out = json!({ list_member: items.iter().map(|job| job_properties(job)).collect::<Vec<_>>() });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_member_in_lower_camel_case() {
        let mut v = Violations::default();
        v.rule("jobName", &"n".repeat(65), &JOB_NAME);
        let err = v.finish().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert!(err.message.starts_with("1 validation error detected: Value 'nnn"));
        assert!(err.message.ends_with(
            "at 'jobName' failed to satisfy constraint: Member must have length less than or equal to 64"
        ));

        let mut v = Violations::default();
        v.null("datastoreId");
        v.rule("clientToken", "under_score", &CLIENT_TOKEN);
        let err = v.finish().unwrap_err();
        assert!(
            err.message
                .starts_with("2 validation errors detected: Value null at 'datastoreId'")
        );
        assert!(err.message.contains("; Value 'under_score' at 'clientToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-]+$"));
        assert_eq!(lower_camel("S3Configuration"), "s3Configuration");
    }
}
