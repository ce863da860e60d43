//! The routes: a `lambda_http::Request` in, a JSON answer out.
//!
//! API Gateway (REST, `AWS_IAM`) routes `/exports`, `/exports/{id}`,
//! `/imports` and `/imports/{id}` to the function; the request context's
//! resource path and path parameters say which. Without an API Gateway
//! context (another front end, tests) the raw path is matched instead.
//!
//! Exports and imports take the same routes, run by the same handlers: only
//! the body's fields, the execution names and the records' kind differ.

use std::borrow::Cow;
use std::collections::BTreeSet;

use hlx_aws::SdkHealthLakeJobs;
use hlx_clock::SharedClock;
use hlx_core::admission::{SlotAnswer, limit_for, release_slot, take_slot, too_many_jobs};
use hlx_core::store::MAX_PAGE;
use hlx_core::validation::check_datastore_id;
use hlx_core::{CancelError, HlxError, JobKind, JobRecord, JobRequest, JobStore, RecordStatus};
use lambda_http::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{ApiConfig, ImportLocations};
use crate::error::ApiError;
use crate::executions::{ExecutionInfo, ExecutionStarter, SfnError};
use crate::naming::{
    IDEMPOTENCY_KEY_HEADER, check_idempotency_key, is_possible_execution_name, name_for_key, name_for_request,
};
use crate::requests;

/// The method key API Gateway uses for "any other method" on a resource.
pub const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// A route and every status it can answer with; the OpenAPI description must
/// list exactly these (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub path: &'static str,
    /// Lower-case HTTP method, or [`ANY_METHOD`].
    pub method: &'static str,
    pub statuses: &'static [u16],
}

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        path: "/exports",
        method: "post",
        statuses: &[200, 202, 400, 409, 413, 415, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports",
        method: "get",
        statuses: &[200, 400, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: "get",
        statuses: &[200, 400, 404, 429, 500, 503],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: "delete",
        statuses: &[202, 400, 404, 409, 429, 500, 501, 503],
    },
    RouteSpec {
        path: "/exports",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/exports/{id}",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/imports",
        method: "post",
        statuses: &[200, 202, 400, 409, 413, 415, 429, 500, 501, 503],
    },
    RouteSpec {
        path: "/imports",
        method: "get",
        statuses: &[200, 400, 429, 500, 503],
    },
    RouteSpec {
        path: "/imports/{id}",
        method: "get",
        statuses: &[200, 400, 404, 429, 500, 503],
    },
    RouteSpec {
        path: "/imports",
        method: ANY_METHOD,
        statuses: &[405],
    },
    RouteSpec {
        path: "/imports/{id}",
        method: ANY_METHOD,
        statuses: &[405],
    },
];

/// The page size when a list names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The longest `nextToken` accepted (the store's tokens are far shorter).
pub const MAX_TOKEN_CHARS: usize = 4096;

/// The status a freshly started export (or import) reports.
pub const STARTING: &str = "STARTING";

/// A `POST /exports` answer (202 for a new export, 200 for the existing one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportStarted {
    pub export_id: String,
    pub execution_arn: String,
    /// `STARTING` for a new export; the Step Functions execution status
    /// (`RUNNING`, `SUCCEEDED`, ...) of an existing one.
    pub status: String,
}

/// A `POST /imports` answer: as [`ExportStarted`], the id called `importId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStarted {
    pub import_id: String,
    pub execution_arn: String,
    pub status: String,
}

/// A POST's answer, by the kind of job it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Started {
    Export(ExportStarted),
    Import(ImportStarted),
}

impl Started {
    pub fn new(kind: JobKind, id: String, execution_arn: String, status: String) -> Self {
        match kind {
            JobKind::Export => Self::Export(ExportStarted {
                export_id: id,
                execution_arn,
                status,
            }),
            JobKind::Import => Self::Import(ImportStarted {
                import_id: id,
                execution_arn,
                status,
            }),
        }
    }
}

/// Which resource a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/exports`, `/imports`.
    Jobs(JobKind),
    /// `/exports/{id}`, `/imports/{id}`.
    Job(JobKind, String),
}

impl Resource {
    pub fn template(&self) -> &'static str {
        match self {
            Self::Jobs(JobKind::Export) => "/exports",
            Self::Job(JobKind::Export, _) => "/exports/{id}",
            Self::Jobs(JobKind::Import) => "/imports",
            Self::Job(JobKind::Import, _) => "/imports/{id}",
        }
    }
}

/// The collection path of a kind's jobs, without its slash: `exports`, `imports`.
fn collection(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "exports",
        JobKind::Import => "imports",
    }
}

/// The API: its configuration, the job store, the state machine and a clock.
pub struct Api<S, E> {
    config: ApiConfig,
    store: S,
    executions: E,
    clock: SharedClock,
    /// HealthLake's FHIR REST API, for `DELETE /exports/{id}`.
    healthlake: Option<SdkHealthLakeJobs>,
}

impl<S: JobStore, E: ExecutionStarter> Api<S, E> {
    pub fn new(config: ApiConfig, store: S, executions: E, clock: SharedClock) -> Self {
        Self {
            config,
            store,
            executions,
            clock,
            healthlake: None,
        }
    }

    /// The same API able to cancel exports (`DELETE /exports/{id}`).
    pub fn with_healthlake(mut self, healthlake: SdkHealthLakeJobs) -> Self {
        self.healthlake = Some(healthlake);
        self
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn executions(&self) -> &E {
        &self.executions
    }

    /// Answers one request. Never fails: every error is an HTTP answer.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let method = request.method().clone();
        let resource = resource(&request);
        let request_id = request_id(&request);
        let result = match &resource {
            None => Err(ApiError::not_found(
                "no such route: the API serves /exports, /exports/{id}, /imports and /imports/{id}",
            )),
            Some(resource) => self.route(resource, &request, request_id.as_deref()).await,
        };
        let response = result.unwrap_or_else(ApiError::into_response);
        tracing::info!(
            method = %method,
            resource = resource.as_ref().map_or("(none)", Resource::template),
            status = response.status().as_u16(),
            request_id = request_id.as_deref().unwrap_or(""),
            "request answered"
        );
        response
    }

    async fn route(
        &self,
        resource: &Resource,
        request: &Request,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        match (resource, request.method()) {
            (Resource::Jobs(kind), &Method::POST) => {
                check_query(request, &[])?;
                self.create(*kind, request, request_id).await
            }
            (Resource::Jobs(kind), &Method::GET) => {
                check_query(request, &["datastoreId", "limit", "nextToken"])?;
                self.list(*kind, request, request_id).await
            }
            (Resource::Job(kind, id), &Method::GET) => {
                check_query(request, &[])?;
                self.get(*kind, id, request_id).await
            }
            (Resource::Job(JobKind::Export, id), &Method::DELETE) => {
                check_query(request, &[])?;
                self.cancel(id, request_id).await
            }
            (Resource::Jobs(_), method) => Err(ApiError::method_not_allowed(method.as_str(), "GET, POST")),
            (Resource::Job(JobKind::Export, _), method) => {
                Err(ApiError::method_not_allowed(method.as_str(), "GET, DELETE"))
            }
            (Resource::Job(..), method) => Err(ApiError::method_not_allowed(method.as_str(), "GET")),
        }
    }

    /// Where imports read and write, or the answer that they are not configured.
    fn import_locations(&self) -> Result<ImportLocations<'_>, ApiError> {
        self.config.import_locations().map_err(|missing| {
            ApiError::not_configured(format!(
                "imports are not configured on this API: the function has no {} \
                 (the stack's ImportInputS3Uri and ImportOutputS3Uri); exports are unaffected",
                missing.join(" and ")
            ))
        })
    }

    /// `POST /exports`, `POST /imports`.
    async fn create(
        &self,
        kind: JobKind,
        request: &Request,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let imports = match kind {
            JobKind::Export => None,
            JobKind::Import => Some(self.import_locations()?),
        };
        let key = idempotency_key(request.headers())?;
        let body = read_body(request, self.config.max_body_bytes)?;
        let job = match imports {
            None => requests::export_request(&self.config, &body)?,
            Some(locations) => requests::import_request(&self.config, locations, &body)?,
        };
        job.check_at(self.clock.now())
            .map_err(|e| ApiError::invalid(e.field, e.rule))?;
        let input = requests::execution_input(&job);
        let name = match &key {
            Some(key) => name_for_key(kind, key),
            None => name_for_request(kind, job.datastore_id(), &input, self.clock.now()),
        };
        let location = location(request, &name);

        // An execution of that name answers for itself: the same request is
        // the same job (200), another request under the same key is a 409.
        let existing = self.executions.describe(&name).await;
        if let Some(existing) = existing.map_err(|e| sfn_error("DescribeExecution", e, request_id))? {
            return existing_job(kind, existing, &input, key.is_some(), &location);
        }
        let slot = self.take_slot(&job, &name).await?;
        let started = self.executions.start(&name, &input).await;
        let failed = matches!(&started, Err(err) if !matches!(err, SfnError::AlreadyExists(_)));
        if failed && slot == Some(SlotAnswer::Taken { newly: true }) {
            // Nothing was started under this slot (an execution of this name
            // that exists holds it): give it back.
            if let Err(err) = release_slot(&self.store, job.datastore_id(), &name).await {
                tracing::warn!(error = %err, id = %name, "a slot could not be given back; it expires by itself");
            }
        }
        match started {
            Ok(started) => {
                tracing::info!(
                    kind = %kind,
                    id = %name,
                    datastore_id = %job.datastore_id(),
                    idempotency_key = key.is_some(),
                    "job started"
                );
                let answer = Started::new(kind, name, started.execution_arn, STARTING.to_owned());
                Ok(with_location(
                    json_response(StatusCode::ACCEPTED, &answer),
                    &location,
                ))
            }
            // Started by a concurrent request between the look and the start.
            Err(SfnError::AlreadyExists(_)) => {
                match self
                    .executions
                    .describe(&name)
                    .await
                    .map_err(|e| sfn_error("DescribeExecution", e, request_id))?
                {
                    Some(existing) => existing_job(kind, existing, &input, key.is_some(), &location),
                    None => {
                        tracing::error!(kind = %kind, id = %name, "StartExecution said the execution exists, DescribeExecution did not find it");
                        Err(ApiError::internal(request_id))
                    }
                }
            }
            Err(err) => Err(sfn_error("StartExecution", err, request_id)),
        }
    }

    /// Takes the new execution's slot of its data store, or refuses the
    /// request (429 `TooManyJobs`); `None` when no limit is set. Slots that
    /// cannot be read leave the limit to start-job (which holds it too).
    async fn take_slot(&self, job: &JobRequest, name: &str) -> Result<Option<SlotAnswer>, ApiError> {
        if self.config.max_jobs_in_flight == 0 {
            return Ok(None);
        }
        let limit = limit_for(self.config.max_jobs_in_flight, job.trigger());
        match take_slot(&self.store, job.datastore_id(), name, limit, self.clock.now()).await {
            Ok(SlotAnswer::Full { in_flight, limit }) => {
                tracing::info!(datastore_id = %job.datastore_id(), in_flight, limit, "too many jobs in flight");
                let refusal = too_many_jobs(job.datastore_id(), in_flight, limit);
                Err(ApiError::too_many_jobs(refusal.to_string()))
            }
            Ok(taken) => Ok(Some(taken)),
            Err(err) => {
                tracing::warn!(error = %err, "the data store's slots could not be taken; start-job will try");
                Ok(None)
            }
        }
    }

    /// `GET /exports/{id}`, `GET /imports/{id}`.
    async fn get(
        &self,
        kind: JobKind,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let unknown = || ApiError::not_found(format!("no {kind} has the id {id:?}"));
        if !is_possible_execution_name(id) {
            return Err(unknown());
        }
        if let Some(record) = self
            .store
            .get(kind, id)
            .await
            .map_err(|e| store_error(e, request_id))?
        {
            return Ok(json_response(StatusCode::OK, &record_answer(&record)));
        }
        // No record yet: the execution may have started and not reached its
        // first write (or may have ended without one). The same state machine
        // runs both kinds: an execution of the other kind is not this one's.
        match self
            .executions
            .describe(id)
            .await
            .map_err(|e| sfn_error("DescribeExecution", e, request_id))?
        {
            Some(execution) => {
                let record = record_from_execution(&execution, self.clock.now());
                if record.kind != kind {
                    return Err(unknown());
                }
                Ok(json_response(StatusCode::OK, &record_answer(&record)))
            }
            None => Err(unknown()),
        }
    }

    /// `DELETE /exports/{id}`: asks HealthLake to cancel the export's job.
    /// 202 with HealthLake's answer; HealthLake's refusal is a 409 that
    /// carries its words (data stores created before 2023-06-01 cannot cancel).
    async fn cancel(&self, id: &str, request_id: Option<&str>) -> Result<Response<Body>, ApiError> {
        let Some(healthlake) = &self.healthlake else {
            return Err(ApiError::not_configured(
                "cancelling is not configured on this API (no HealthLake client)",
            ));
        };
        if !is_possible_execution_name(id) {
            return Err(ApiError::not_found(format!("no export has the id {id:?}")));
        }
        match hlx_core::cancel_export_by_id(&self.store, healthlake, id).await {
            Ok(accepted) => Ok(json_response(StatusCode::ACCEPTED, &accepted)),
            // No record yet: an execution that has not written one has no HealthLake job to cancel.
            Err(CancelError::NotFound(_)) => match self
                .executions
                .describe(id)
                .await
                .map_err(|e| sfn_error("DescribeExecution", e, request_id))?
            {
                Some(execution)
                    if record_from_execution(&execution, self.clock.now()).kind == JobKind::Export =>
                {
                    Err(ApiError::not_cancellable(format!(
                        "export {id} has no HealthLake job yet (its execution is {}); cancel it once it has started",
                        execution.status
                    )))
                }
                _ => Err(ApiError::not_found(format!("no export has the id {id:?}"))),
            },
            Err(err @ (CancelError::NotStarted { .. } | CancelError::AlreadyEnded { .. })) => {
                Err(ApiError::not_cancellable(err.to_string()))
            }
            Err(CancelError::Failed(HlxError::HealthLake { code, message }))
                if code == "ThrottlingException" =>
            {
                tracing::warn!(%message, "HealthLake throttled the cancel");
                Err(ApiError::throttled("HealthLake"))
            }
            Err(CancelError::Failed(HlxError::HealthLake { code, message })) => {
                tracing::warn!(%code, %message, "HealthLake refused the cancel");
                Err(ApiError::not_cancellable(format!(
                    "HealthLake refused to cancel: {code}: {message}"
                )))
            }
            Err(CancelError::Failed(HlxError::HealthLakeUnavailable(detail))) => {
                tracing::error!(%detail, "HealthLake did not answer the cancel");
                Err(ApiError::unavailable("HealthLake"))
            }
            Err(CancelError::Failed(other)) => Err(store_error(other, request_id)),
        }
    }

    /// `GET /exports`, `GET /imports`.
    async fn list(
        &self,
        kind: JobKind,
        request: &Request,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let query = request.query_string_parameters();
        let datastore_id = match query.first("datastoreId") {
            Some(given) => given.to_owned(),
            None => self.config.default_datastore_id.clone().ok_or_else(|| {
                ApiError::invalid("datastoreId", "is required (the API has no default data store)")
            })?,
        };
        check_datastore_id("datastoreId", &datastore_id).map_err(|e| ApiError::invalid(e.field, e.rule))?;
        let limit = match query.first("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => parse_limit(text)?,
        };
        let next_token = query.first("nextToken");
        if let Some(token) = next_token {
            let chars = token.chars().count();
            if chars == 0 || chars > MAX_TOKEN_CHARS {
                return Err(ApiError::invalid(
                    "nextToken",
                    format!("must be between 1 and {MAX_TOKEN_CHARS} characters long, got {chars}"),
                ));
            }
        }
        let page = self
            .store
            .list(kind, &datastore_id, limit, next_token)
            .await
            .map_err(|e| store_error(e, request_id))?;
        let records: Vec<Value> = page.records.iter().map(record_answer).collect();
        let mut answer = json!({ "records": records });
        if let Some(token) = page.next_token {
            answer["nextToken"] = json!(token);
        }
        Ok(json_response(StatusCode::OK, &answer))
    }
}

/// A POST met an execution of its name.
fn existing_job(
    kind: JobKind,
    existing: ExecutionInfo,
    input: &str,
    keyed: bool,
    location: &str,
) -> Result<Response<Body>, ApiError> {
    let same = existing
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str::<Value>(i).ok())
        .is_some_and(|i| serde_json::from_str::<Value>(input).ok() == Some(i));
    if !same {
        let reason = if keyed {
            "the Idempotency-Key was already used for a different request".to_owned()
        } else {
            format!("an {kind} of that name already exists for a different request")
        };
        return Err(ApiError::conflict(format!("{reason} ({kind} {})", existing.name)));
    }
    tracing::info!(kind = %kind, id = %existing.name, status = %existing.status, "job already exists");
    let answer = Started::new(kind, existing.name, existing.execution_arn, existing.status);
    Ok(with_location(json_response(StatusCode::OK, &answer), location))
}

/// A job record as the API answers it: its `id` called by its route's name
/// (`exportId`, `importId`), the other members as the record has them.
pub fn record_answer(record: &JobRecord) -> Value {
    let mut value = serde_json::to_value(record).expect("a record serializes");
    if let Value::Object(map) = &mut value
        && let Some(id) = map.remove("id")
    {
        let mut answer = serde_json::Map::with_capacity(map.len() + 1);
        answer.insert(record.kind.id_field().to_owned(), id);
        answer.extend(std::mem::take(map));
        return Value::Object(answer);
    }
    value
}

/// The record an execution without a job record stands for: `STARTING` while
/// it runs; `ERROR` (`hlx.NoRecord`) if it ended without writing one.
pub fn record_from_execution(execution: &ExecutionInfo, now: jiff::Timestamp) -> JobRecord {
    let input: Value = execution
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    let parsed = JobRequest::from_value(&input).ok();
    let raw = |field: &str| {
        input
            .get(field)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect::<String>())
    };
    let (status, error_name, error_cause, ended_at) = if execution.is_running() {
        (RecordStatus::parse(STARTING), None, None, None)
    } else {
        (
            RecordStatus::Error,
            Some("hlx.NoRecord".to_owned()),
            Some(format!(
                "the execution ended as {} without writing a job record",
                execution.status
            )),
            Some(execution.stop_date.unwrap_or(now)),
        )
    };
    // A request the domain refuses still says its kind (absent: an export).
    let kind = parsed
        .as_ref()
        .map(JobRequest::kind)
        .or_else(|| raw("kind").as_deref().and_then(JobKind::parse))
        .unwrap_or_default();
    let selection = match &parsed {
        Some(JobRequest::Export(export)) => Some(&export.selection),
        _ => None,
    };
    JobRecord {
        id: execution.name.clone(),
        execution_arn: execution.execution_arn.clone(),
        kind,
        status,
        datastore_id: raw("datastoreId"),
        trigger: raw("trigger"),
        job_id: None,
        job_name: raw("jobName"),
        job_status: None,
        s3_uri: parsed
            .as_ref()
            .map(|r| r.output_s3_uri().to_owned())
            .or_else(|| raw("s3Uri")),
        input_s3_uri: raw("inputS3Uri"),
        kms_key_id: parsed.as_ref().map(|r| r.kms_key_id().to_owned()),
        data_access_role_arn: parsed.as_ref().map(|r| r.data_access_role_arn().to_owned()),
        output_location: None,
        message: None,
        error_name,
        error_cause,
        execution_started_at: execution.start_date,
        submitted_at: None,
        running_since: None,
        ended_at,
        updated_at: execution.stop_date.unwrap_or(execution.start_date),
        queued_seconds: None,
        running_seconds: None,
        checks: 0,
        start_attempts: 0,
        import_counts: None,
        mode: selection.map(|s| s.mode.as_str().to_owned()),
        chain: selection.map(|s| s.chain()),
        since: selection.and_then(|s| s.since),
        until: selection.and_then(|s| s.until),
        manifest: None,
        cancel: None,
    }
}

/// Which resource the request is for, from API Gateway's routing or the path.
pub fn resource(request: &Request) -> Option<Resource> {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        && let Some(resource_path) = context.resource_path.as_deref()
    {
        let (kind, item) = JobKind::ALL.into_iter().find_map(|kind| {
            let rest = resource_path.strip_prefix('/')?.strip_prefix(collection(kind))?;
            match rest {
                "" => Some((kind, false)),
                "/{id}" => Some((kind, true)),
                _ => None,
            }
        })?;
        if !item {
            return Some(Resource::Jobs(kind));
        }
        return request
            .path_parameters_ref()
            .and_then(|p| p.first("id"))
            .map(|id| Resource::Job(kind, id.to_owned()));
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    let (kind, rest) = JobKind::ALL.into_iter().find_map(|kind| {
        let rest = path.strip_prefix('/')?.strip_prefix(collection(kind))?;
        Some((kind, rest))
    })?;
    if rest.is_empty() {
        return Some(Resource::Jobs(kind));
    }
    let id = rest.strip_prefix('/')?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    Some(Resource::Job(kind, percent_decode(id)?))
}

/// `%XX` escapes decoded, by the `percent-encoding` crate (a `%` not followed
/// by two hex digits stays as it is; `+` stays `+`). `None` when the decoded
/// bytes are not UTF-8: no job has such an id (API Gateway would refuse the
/// request), so the path matches no route, as the emulator's S3 refuses such
/// a key (`InvalidURI`) rather than replacing the bytes.
pub fn percent_decode(text: &str) -> Option<String> {
    percent_decode_str(text).decode_utf8().ok().map(Cow::into_owned)
}

/// The request id API Gateway gave the request (or the Lambda invocation's).
fn request_id(request: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        && let Some(id) = &context.request_id
    {
        return Some(id.clone());
    }
    request.lambda_context_ref().map(|c| c.request_id.clone())
}

/// Refuses query parameters a route does not define, and repeated ones.
fn check_query(request: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let query = request.query_string_parameters();
    let names: BTreeSet<&str> = query.iter().map(|(k, _)| k).collect();
    for name in names {
        if !allowed.contains(&name) {
            let rule = if allowed.is_empty() {
                "is not a parameter of this route (it takes none)".to_owned()
            } else {
                format!("is not a parameter of this route (expected one of {allowed:?})")
            };
            return Err(ApiError::invalid(name, rule));
        }
        if query.all(name).is_some_and(|values| values.len() > 1) {
            return Err(ApiError::invalid(name, "must be given at most once"));
        }
    }
    Ok(())
}

fn parse_limit(text: &str) -> Result<u32, ApiError> {
    let bad = || {
        ApiError::invalid(
            "limit",
            format!(
                "must be an integer between 1 and {MAX_PAGE}, got {:?}",
                truncate(text, 20)
            ),
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u32>() {
        Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        _ => Err(bad()),
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid(
            IDEMPOTENCY_KEY_HEADER,
            "must be given at most once",
        ));
    }
    let key = value.to_str().map_err(|_| {
        ApiError::invalid(
            IDEMPOTENCY_KEY_HEADER,
            "must contain only ASCII letters, digits, '-' and '_'",
        )
    })?;
    check_idempotency_key(key).map_err(|rule| ApiError::invalid(IDEMPOTENCY_KEY_HEADER, rule))?;
    Ok(Some(key.to_owned()))
}

/// The POST body as a JSON object (an empty body is `{}`).
fn read_body(request: &Request, max_bytes: usize) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::too_large(max_bytes));
    }
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let text = content_type.to_str().unwrap_or("(not text)");
        if !is_json_media_type(text) {
            return Err(ApiError::unsupported_media_type(&truncate(text, 100)));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match hlx_core::fields::parse_json_body(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid(
            "body",
            format!(
                "must be a JSON object, got {}",
                hlx_core::fields::json_kind(&other)
            ),
        )),
        // serde's message gives the line and column, never the content.
        Err(err) => {
            let field = hlx_core::FieldError::from(err);
            Err(ApiError::invalid(field.field, field.rule))
        }
    }
}

/// `application/json`, `application/<anything>+json`, with any parameters.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Where the job will be read: the path the caller used (stage or base
/// path included) with the id appended.
fn location(request: &Request, id: &str) -> String {
    let context_path = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.path.clone(),
        _ => None,
    };
    let base = context_path.unwrap_or_else(|| match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    });
    format!("{}/{id}", base.trim_end_matches('/'))
}

fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A JSON answer that no cache keeps.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("answers serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .expect("a valid response")
}

fn sfn_error(operation: &str, err: SfnError, request_id: Option<&str>) -> ApiError {
    match err {
        SfnError::Throttled { code, .. } => {
            tracing::warn!(operation, code = %code, "Step Functions throttled");
            ApiError::throttled("Step Functions")
        }
        SfnError::Unavailable(detail) => {
            tracing::error!(operation, detail = %detail, "Step Functions did not answer");
            ApiError::unavailable("Step Functions")
        }
        other => {
            tracing::error!(operation, error = %other, "Step Functions call failed");
            ApiError::internal(request_id)
        }
    }
}

/// DynamoDB's throttling codes.
const DYNAMODB_THROTTLING: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];

fn store_error(err: HlxError, request_id: Option<&str>) -> ApiError {
    match err {
        HlxError::InvalidRequest(field) => ApiError::invalid(field.field, field.rule),
        HlxError::InvalidNextToken(message) => ApiError::invalid_next_token(message),
        HlxError::DynamoDb { code, .. } if DYNAMODB_THROTTLING.contains(&code.as_str()) => {
            tracing::warn!(code = %code, "DynamoDB throttled");
            ApiError::throttled("DynamoDB")
        }
        HlxError::DynamoDbUnavailable(detail) => {
            tracing::error!(detail = %detail, "DynamoDB did not answer");
            ApiError::unavailable("DynamoDB")
        }
        other => {
            tracing::error!(error_type = %other.error_name(), error = %other, "job store call failed");
            ApiError::internal(request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape_and_refuses_what_is_not_utf8() {
        assert_eq!(percent_decode("api-k-%41").as_deref(), Some("api-k-A"));
        assert_eq!(percent_decode("a%20b+c%2Fd").as_deref(), Some("a b+c/d"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        // Not escapes: kept as written. The hand-written decoder this
        // replaced read `%+4` as the byte 4 (`u8::from_str_radix` takes a sign).
        assert_eq!(percent_decode("a%+4").as_deref(), Some("a%+4"));
        assert_eq!(percent_decode("50%").as_deref(), Some("50%"));
        assert_eq!(percent_decode("bad%zz").as_deref(), Some("bad%zz"));
        // Bytes that are not UTF-8: no id at all (it replaced them with U+FFFD).
        assert_eq!(percent_decode("x%FF"), None);
    }
}
