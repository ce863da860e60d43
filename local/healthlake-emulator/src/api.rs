//! The operations: input parsing, validation as the service does it, and answers.
//!
//! Every request is first checked against HealthLake's Smithy model
//! ([`ServiceModel`]): wrong JSON types are `SerializationException`s, broken
//! constraints one `ValidationException` naming each member by its
//! lowerCamel path (`outputDataConfig.s3Configuration.kmsKeyId`). The
//! operations below read input that passed.

use hlx_core::JobStatus;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorKind};
use crate::service_model::{ServiceModel, kind_of, lower_camel};
use crate::state::{NewJob, State};
use crate::{DatastoreInfo, ImportReport, JobInfo, JobKind, Operation, TARGET_PREFIX};

/// Runs `operation` on `input` at `now` (after the state was brought up to `now`).
pub(crate) fn handle(
    state: &mut State,
    operation: Operation,
    input: &Map<String, Value>,
    now: Timestamp,
) -> Result<Value, ApiError> {
    if !operation.is_rest() {
        ServiceModel::healthlake().check_input(operation.name(), input)?;
    }
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

    /// A member the model requires: present once validation passed.
    fn required(&self, member: &str) -> Result<&'a str, ApiError> {
        self.string(member)?.ok_or_else(|| missing(&self.path(member)))
    }

    /// `S3Uri` and `KmsKeyId` of the `OutputDataConfig` union at `member`.
    fn s3_configuration(&self, member: &str) -> Result<(&'a str, &'a str), ApiError> {
        let s3 = match self.object(member)? {
            Some(config) => config.object("S3Configuration")?,
            None => None,
        };
        let s3 = s3.ok_or_else(|| missing(&format!("{}.s3Configuration", self.path(member))))?;
        Ok((s3.required("S3Uri")?, s3.required("KmsKeyId")?))
    }
}

/// What validation answers for a missing required member (which it lets
/// no request through with).
fn missing(path: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The body of a FHIR REST `$export` kick-off, checked with the rules of
/// `StartFHIRExportJob`: `JobName` (optional), `OutputDataConfig`,
/// `DataAccessRoleArn`. Returns name, S3 URI, KMS key and role.
pub(crate) fn rest_kickoff_body(
    body: &Map<String, Value>,
) -> Result<(Option<String>, String, String, String), ApiError> {
    ServiceModel::healthlake().check_some_input(
        Operation::StartFhirExportJob.name(),
        body,
        &["JobName", "OutputDataConfig", "DataAccessRoleArn"],
    )?;
    let input = Input::root(body);
    let job_name = input.string("JobName")?;
    let (uri, key) = input.s3_configuration("OutputDataConfig")?;
    let role = input.required("DataAccessRoleArn")?;
    Ok((
        job_name.map(str::to_owned),
        uri.to_owned(),
        key.to_owned(),
        role.to_owned(),
    ))
}

/// `MaxResults` (the model keeps it within 1-500), 500 when absent.
fn max_results(input: &Input) -> Result<usize, ApiError> {
    Ok(input
        .integer("MaxResults")?
        .map_or(500, |n| n.clamp(1, 500) as usize))
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
    let name = input.string("DatastoreName")?;
    let token = input.string("ClientToken")?;
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
    let id = input.required("DatastoreId")?;
    let datastore = &state.datastores[find_datastore(state, id)?];
    Ok(json!({ "DatastoreProperties": datastore_properties(&datastore.info, &datastore.extras) }))
}

fn list_datastores(state: &State, input: &Input) -> Result<Value, ApiError> {
    let (mut name, mut status, mut before, mut after) = (None, None, None, None);
    if let Some(filter) = input.object("Filter")? {
        name = filter.string("DatastoreName")?;
        status = filter.string("DatastoreStatus")?;
        before = filter.timestamp("CreatedBefore")?;
        after = filter.timestamp("CreatedAfter")?;
    }
    let max = max_results(input)?;
    let token = input.string("NextToken")?;
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
    let job_name = input.string("JobName")?;
    let (s3_uri, kms_key_id, job_output_s3_uri) = match kind {
        JobKind::Export => {
            let (uri, key) = input.s3_configuration("OutputDataConfig")?;
            (uri, key, None)
        }
        JobKind::Import => {
            let config = input.object("InputDataConfig")?;
            let input_uri = match config {
                Some(config) => config.required("S3Uri")?,
                None => return Err(missing("inputDataConfig")),
            };
            let (output_uri, key) = input.s3_configuration("JobOutputDataConfig")?;
            (input_uri, key, Some(output_uri))
        }
    };
    let datastore_id = input.required("DatastoreId")?;
    let role = input.required("DataAccessRoleArn")?;
    let token = input.string("ClientToken")?;

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
            state.process_writing_inline(now);
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
    let datastore_id = input.required("DatastoreId")?;
    let job_id = input.required("JobId")?;
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
    let datastore_id = input.required("DatastoreId")?;
    let max = max_results(input)?;
    let token = input.string("NextToken")?;
    let job_name = input.string("JobName")?;
    let status = input.string("JobStatus")?;
    let before = input.timestamp("SubmittedBefore")?;
    let after = input.timestamp("SubmittedAfter")?;
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
