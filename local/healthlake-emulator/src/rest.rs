//! HealthLake's FHIR REST `$export`: kick-off (system, Patient, Group),
//! status `GET` and cancel `DELETE` on `/datastore/{id}/r4/...`.
//!
//! Every request is SigV4-verified. Errors after authentication are FHIR
//! `OperationOutcome`s (`application/fhir+json`); authentication errors are
//! AWS's `{"message": ...}` with `x-amzn-errortype`.

use axum::http::{HeaderMap, Method, Uri};
use hlx_core::JobStatus;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorKind};
use crate::sigv4::{self, Received};
use crate::state::{NewJob, State};
use crate::timefmt::{format_healthlake_time, iso_millis, parse_fhir_instant};
use crate::{CallRecord, Emulator, ExportScope, JobInfo, JobKind, Operation, RestExport, r4};

/// The content type of FHIR REST answers.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Data stores created before this instant support only system-level
/// `$export` (no Patient/Group kick-off, no status `GET`, no cancel).
const REST_CUTOFF: &str = "2023-06-01T00:00:00Z";

/// The accepted `_outputFormat` values.
pub const OUTPUT_FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];

/// A FHIR REST answer.
pub(crate) struct RestReply {
    pub status: u16,
    /// `None`: an empty body.
    pub body: Option<Value>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub error_type: Option<&'static str>,
    pub request_id: String,
}

/// What a path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Kickoff(String, ExportScope),
    Status(String, String),
    Cancel(String, String),
    /// A `$export` path with a method other than `POST`.
    KickoffMethod,
    Unknown,
}

impl Route {
    fn operation(&self) -> Option<Operation> {
        match self {
            Route::Kickoff(..) | Route::KickoffMethod => Some(Operation::StartFhirExportJobWithPost),
            Route::Status(..) => Some(Operation::DescribeFhirExportJobWithGet),
            Route::Cancel(..) => Some(Operation::CancelFhirExportJobWithDelete),
            Route::Unknown => None,
        }
    }
}

/// A path with `%24` read as `$`.
fn normalize_path(path: &str) -> String {
    path.replace("%24", "$")
}

fn route(method: &Method, path: &str) -> Route {
    let path = normalize_path(path);
    let Some(rest) = path.strip_prefix("/datastore/") else {
        return Route::Unknown;
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let kickoff = |ds: &str, scope| {
        if *method == Method::POST {
            Route::Kickoff(ds.to_owned(), scope)
        } else {
            Route::KickoffMethod
        }
    };
    match segments[..] {
        [ds, "r4", "$export"] => kickoff(ds, ExportScope::System),
        [ds, "r4", "Patient", "$export"] => kickoff(ds, ExportScope::Patient),
        [ds, "r4", "Group", group, "$export"] => kickoff(ds, ExportScope::Group(group.to_owned())),
        [ds, "r4", "export", job] if *method == Method::GET => Route::Status(ds.to_owned(), job.to_owned()),
        [ds, "r4", "export", job] if *method == Method::DELETE => {
            Route::Cancel(ds.to_owned(), job.to_owned())
        }
        _ => Route::Unknown,
    }
}

/// Whether `path` is on the FHIR REST surface (`/datastore/...`).
pub(crate) fn is_rest_path(path: &str) -> bool {
    path.starts_with("/datastore/")
}

/// An `OperationOutcome` error answer.
struct Outcome {
    status: u16,
    code: &'static str,
    diagnostics: String,
}

fn outcome(status: u16, code: &'static str, diagnostics: impl Into<String>) -> Outcome {
    Outcome {
        status,
        code,
        diagnostics: diagnostics.into(),
    }
}

/// `{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code", "diagnostics"}]}`.
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }]
    })
}

/// A successful answer: status, body, extra headers.
type Success = (u16, Option<Value>, Vec<(&'static str, String)>);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Emulator {
    /// Serves one FHIR REST request: route, signature, faults, operation.
    pub(crate) async fn rest(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> RestReply {
        let now = self.now();
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let route = route(method, uri.path());
        let operation = route.operation();
        let (request_id, credentials) = {
            let mut state = self.processed_state(now);
            (state.next_request_id(), state.config.credentials.clone())
        };
        let name = operation.map_or_else(|| format!("{method} {}", uri.path()), |op| op.name().to_owned());
        let received = Received {
            method: method.as_str(),
            uri: path_and_query,
            headers,
            body,
        };
        let reply = match sigv4::verify(&received, &credentials) {
            Err(error) => RestReply {
                status: error.kind.status(),
                body: Some(json!({ "message": error.message })),
                content_type: "application/json",
                headers: Vec::new(),
                error_type: Some(error.kind.name()),
                request_id,
            },
            Ok(()) => {
                self.rest_operation(route, operation, uri, headers, body, request_id)
                    .await
            }
        };
        tracing::info!(operation = %name, status = reply.status, error = ?reply.error_type, request_id = %reply.request_id, "call");
        self.state().calls.push(CallRecord {
            operation: name,
            at: now,
            status: reply.status,
            error: reply.error_type.map(str::to_owned),
        });
        reply
    }

    async fn rest_operation(
        &self,
        route: Route,
        operation: Option<Operation>,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        request_id: String,
    ) -> RestReply {
        let (fault, latency) = match operation {
            Some(op) => self.state().draw_fault(op),
            None => (None, Default::default()),
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let fhir = |status: u16, body: Option<Value>, headers, error_type| RestReply {
            status,
            body,
            content_type: FHIR_JSON,
            headers,
            error_type,
            request_id: request_id.clone(),
        };
        if let Some(kind) = fault {
            let (code, text) = match kind {
                ErrorKind::Throttling => ("throttled", "Rate exceeded"),
                ErrorKind::AccessDenied => (
                    "forbidden",
                    "User is not authorized to perform this operation on the data store",
                ),
                _ => ("exception", "An internal error occurred. Try again later."),
            };
            return fhir(
                kind.status(),
                Some(operation_outcome(code, text)),
                Vec::new(),
                Some(kind.name()),
            );
        }
        let now = self.now();
        let result = {
            let mut state = self.processed_state(now);
            match route {
                Route::Kickoff(ds, scope) => kickoff(&mut state, &ds, scope, uri, headers, body, now),
                Route::Status(ds, job) => status(&state, &ds, &job),
                Route::Cancel(ds, job) => cancel(&mut state, &ds, &job, now),
                Route::KickoffMethod => Err(outcome(
                    400,
                    "not-supported",
                    "Only POST kick-offs of $export are emulated (GET kick-offs are not)",
                )),
                Route::Unknown => Err(outcome(
                    404,
                    "not-found",
                    format!("No FHIR REST operation at {}", uri.path()),
                )),
            }
        };
        match result {
            Ok((status, body, headers)) => fhir(status, body, headers, None),
            Err(error) => fhir(
                error.status,
                Some(operation_outcome(error.code, &error.diagnostics)),
                Vec::new(),
                None,
            ),
        }
    }
}

fn datastore(state: &State, ds: &str) -> Result<usize, Outcome> {
    state
        .datastore_position(ds)
        .ok_or_else(|| outcome(404, "not-found", format!("Datastore {ds} does not exist")))
}

fn before_cutoff(state: &State, index: usize) -> bool {
    let cutoff: Timestamp = REST_CUTOFF.parse().expect("cutoff parses");
    state.datastores[index].info.created_at < cutoff
}

fn old_datastore(what: &str) -> Outcome {
    outcome(
        400,
        "not-supported",
        format!("{what} is not supported for data stores created before June 1, 2023"),
    )
}

fn endpoint(state: &State) -> String {
    format!("https://healthlake.{}.amazonaws.com", state.config.region)
}

fn kickoff(
    state: &mut State,
    ds: &str,
    scope: ExportScope,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: Timestamp,
) -> Result<Success, Outcome> {
    let prefer = header(headers, "prefer").unwrap_or_default();
    if !prefer
        .split([',', ';'])
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
    {
        return Err(outcome(
            400,
            "invalid",
            "The Prefer header must be 'respond-async' for $export",
        ));
    }
    let index = datastore(state, ds)?;
    if scope != ExportScope::System && before_cutoff(state, index) {
        return Err(old_datastore(match scope {
            ExportScope::Patient => "Patient-level export",
            _ => "Group-level export",
        }));
    }
    let params = parse_params(uri)?;
    let input: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(outcome(400, "invalid", "The request body must be a JSON object")),
            Err(error) => {
                return Err(outcome(
                    400,
                    "invalid",
                    format!("The request body is not valid JSON: {error}"),
                ));
            }
        }
    };
    let (job_name, s3_uri, kms_key_id, role) =
        crate::api::rest_kickoff_body(&input).map_err(|e: ApiError| outcome(400, "invalid", e.message))?;
    if let ExportScope::Group(group_id) = &scope {
        let exists = state.datastores[index]
            .content
            .get("Group")
            .is_some_and(|groups| groups.iter().any(|g| &g.id == group_id));
        if !exists {
            return Err(outcome(
                404,
                "not-found",
                format!("Group/{group_id} does not exist in datastore {ds}"),
            ));
        }
    }
    let mut request_url = format!("{}{}", endpoint(state), normalize_path(uri.path()));
    if let Some(query) = uri.query() {
        request_url = format!("{request_url}?{query}");
    }
    let job = state.submit(
        NewJob {
            kind: JobKind::Export,
            datastore: index,
            job_name,
            s3_uri,
            kms_key_id,
            job_output_s3_uri: None,
            data_access_role_arn: role,
            client_token: None,
            rest: Some(RestExport {
                scope,
                types: params.types,
                since: params.since,
                until: params.until,
                output_format: params.output_format,
                request_url,
            }),
        },
        String::new(),
        now,
    );
    state.process_writing_inline(now);
    if state.lost_kickoff_answers > 0 {
        state.lost_kickoff_answers -= 1;
        return Ok((504, None, Vec::new()));
    }
    let job = state.job_at(job);
    let location = format!("{}/datastore/{ds}/r4/export/{}", endpoint(state), job.job_id);
    Ok((
        202,
        Some(json!({
            "datastoreId": job.datastore_id,
            "jobStatus": JobStatus::Submitted.as_str(),
            "jobId": job.job_id,
        })),
        vec![("content-location", location)],
    ))
}

struct Params {
    types: Option<Vec<String>>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    output_format: String,
}

fn parse_params(uri: &Uri) -> Result<Params, Outcome> {
    let pairs: Vec<(String, String)> = match uri.query() {
        None => Vec::new(),
        Some(_) => {
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
                .map_err(|e| outcome(400, "invalid", format!("The query string cannot be read: {e}")))?
                .0
        }
    };
    let mut params = Params {
        types: None,
        since: None,
        until: None,
        output_format: OUTPUT_FORMATS[0].to_owned(),
    };
    let instant = |name: &str, value: &str| {
        parse_fhir_instant(value).map_err(|e| outcome(400, "value", format!("Invalid {name}: {e}")))
    };
    for (name, value) in pairs {
        match name.as_str() {
            "_outputFormat" => {
                // An unencoded `+` reads as a space in a query string.
                let value = value.replace(' ', "+");
                if !OUTPUT_FORMATS.contains(&value.as_str()) {
                    return Err(outcome(
                        400,
                        "value",
                        format!(
                            "Invalid _outputFormat '{value}': one of {}",
                            OUTPUT_FORMATS.join(", ")
                        ),
                    ));
                }
                params.output_format = value;
            }
            "_type" => {
                let types = params.types.get_or_insert_with(Vec::new);
                for resource_type in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !r4::is_resource_type(resource_type) {
                        return Err(outcome(
                            400,
                            "value",
                            format!("Invalid _type: '{resource_type}' is not a FHIR R4 resource type"),
                        ));
                    }
                    if !types.iter().any(|t| t == resource_type) {
                        types.push(resource_type.to_owned());
                    }
                }
            }
            "_since" => params.since = Some(instant("_since", &value)?),
            "_until" => params.until = Some(instant("_until", &value)?),
            other => {
                return Err(outcome(
                    400,
                    "not-supported",
                    format!("The parameter {other} is not supported"),
                ));
            }
        }
    }
    Ok(params)
}

fn find_job<'a>(state: &'a State, ds: &str, job_id: &str) -> Result<(usize, &'a JobInfo), Outcome> {
    state
        .job_index_of(JobKind::Export, ds, job_id)
        .map(|i| (i, state.job_at(i)))
        .ok_or_else(|| {
            outcome(
                404,
                "not-found",
                format!("Export job {job_id} does not exist in datastore {ds}"),
            )
        })
}

fn status(state: &State, ds: &str, job_id: &str) -> Result<Success, Outcome> {
    let index = datastore(state, ds)?;
    if before_cutoff(state, index) {
        return Err(old_datastore(
            "Getting export job status on the data store endpoint",
        ));
    }
    let (_, job) = find_job(state, ds, job_id)?;
    Ok((200, Some(status_body(job, &endpoint(state))), Vec::new()))
}

/// The status `GET` body: `exportJobProperties` and, once the job completed,
/// the Bulk Data manifest beside it.
fn status_body(job: &JobInfo, endpoint: &str) -> Value {
    let mut props = json!({
        "jobId": job.job_id,
        "jobStatus": job.status.as_str(),
        "submitTime": format_healthlake_time(job.submit_time),
        "datastoreId": job.datastore_id,
        "outputDataConfig": { "s3Configuration": { "s3Uri": job.s3_uri, "kmsKeyId": job.kms_key_id } },
        "dataAccessRoleArn": job.data_access_role_arn,
    });
    if let Some(name) = &job.job_name {
        props["jobName"] = json!(name);
    }
    if let Some(end) = job.end_time {
        props["endTime"] = json!(format_healthlake_time(end));
    }
    if let Some(message) = &job.message {
        props["message"] = json!(message);
    }
    let mut body = json!({ "exportJobProperties": props });
    if matches!(job.status, JobStatus::Completed | JobStatus::CompletedWithErrors) {
        let files = |error: bool| -> Vec<Value> {
            job.output_files
                .iter()
                .filter(|f| f.error == error)
                .map(|f| json!({ "type": f.resource_type, "url": f.url, "count": f.count }))
                .collect()
        };
        body["transactionTime"] = json!(job.transaction_time.map(iso_millis));
        body["request"] = json!(job.rest.as_ref().map_or_else(
            || format!("{endpoint}/datastore/{}/r4/$export", job.datastore_id),
            |r| r.request_url.clone()
        ));
        body["requiresAccessToken"] = json!(false);
        body["output"] = json!(files(false));
        body["error"] = json!(files(true));
    }
    body
}

fn cancel(state: &mut State, ds: &str, job_id: &str, now: Timestamp) -> Result<Success, Outcome> {
    let index = datastore(state, ds)?;
    if before_cutoff(state, index) {
        return Err(old_datastore("Cancelling export jobs"));
    }
    let (job, info) = find_job(state, ds, job_id)?;
    let ended = info.status.clone();
    match state.cancel(job, now) {
        None => Err(outcome(
            400,
            "not-supported",
            format!(
                "Export job {job_id} cannot be cancelled: it already ended with status {}",
                ended.as_str()
            ),
        )),
        Some(status) => Ok((
            202,
            Some(json!({ "exportJobProperties": {
                "jobId": job_id,
                "jobStatus": status.as_str(),
                "datastoreId": ds,
            } })),
            Vec::new(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_accept_a_literal_or_encoded_dollar() {
        let post = Method::POST;
        assert_eq!(
            route(&post, "/datastore/d/r4/$export"),
            Route::Kickoff("d".into(), ExportScope::System)
        );
        assert_eq!(
            route(&post, "/datastore/d/r4/%24export"),
            Route::Kickoff("d".into(), ExportScope::System)
        );
        assert_eq!(
            route(&post, "/datastore/d/r4/Patient/%24export"),
            Route::Kickoff("d".into(), ExportScope::Patient)
        );
        assert_eq!(
            route(&post, "/datastore/d/r4/Group/g1/$export"),
            Route::Kickoff("d".into(), ExportScope::Group("g1".into()))
        );
        assert_eq!(
            route(&Method::GET, "/datastore/d/r4/export/j"),
            Route::Status("d".into(), "j".into())
        );
        assert_eq!(
            route(&Method::DELETE, "/datastore/d/r4/export/j"),
            Route::Cancel("d".into(), "j".into())
        );
        assert_eq!(
            route(&Method::GET, "/datastore/d/r4/$export"),
            Route::KickoffMethod
        );
        assert_eq!(
            route(&post, "/datastore/d/r4/Observation/$export"),
            Route::Unknown
        );
    }

    #[test]
    fn parameters_are_checked() {
        let uri: Uri = "/x?_type=Patient,Observation&_since=2024-01-01T00:00:00Z&_outputFormat=ndjson"
            .parse()
            .unwrap();
        let p = parse_params(&uri).ok().unwrap();
        assert_eq!(p.types, Some(vec!["Patient".into(), "Observation".into()]));
        assert_eq!(p.since, Some("2024-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(p.output_format, "ndjson");
        let unencoded: Uri = "/x?_outputFormat=application/fhir+ndjson".parse().unwrap();
        assert_eq!(
            parse_params(&unencoded).ok().unwrap().output_format,
            "application/fhir+ndjson"
        );
        for (query, code) in [
            ("_typeFilter=Patient%3Factive%3Dtrue", "not-supported"),
            ("_elements=id", "not-supported"),
            ("_count=5", "not-supported"),
            ("_type=Patient,Nope", "value"),
            ("_since=yesterday", "value"),
            ("_outputFormat=text/csv", "value"),
        ] {
            let uri: Uri = format!("/x?{query}").parse().unwrap();
            let err = parse_params(&uri).err().unwrap();
            assert_eq!((err.status, err.code), (400, code), "{query}");
        }
    }
}
