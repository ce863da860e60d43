//! The routes: a `lambda_http::Request` in, a JSON answer out.
//!
//! API Gateway (REST, `AWS_IAM`) routes `/exports`, `/exports/{id}`,
//! `/imports` and `/imports/{id}` to the function; the request context's
//! resource path and path parameters say which. Without an API Gateway
//! context (another front end, tests) the raw path is matched instead.
//!
//! Exports and imports take the same routes, run by the same handlers: only
//! the body's fields, the execution names and the records' kind differ.
//!
//! This module holds [`Api`] and its router; each route's handler has its
//! own module (`post`, `get`, `list`, `cancel`), as do the answers' shapes
//! (`answers`), the route table and routing (`routing`) and the HTTP side of
//! a request (`http`). Mapping the services' errors to answers is in
//! [`crate::error`].

mod answers;
mod cancel;
mod get;
mod http;
mod list;
mod post;
mod routing;

use hlx_aws::SdkHealthLakeJobs;
use hlx_clock::SharedClock;
use hlx_core::{JobKind, JobStore};
use lambda_http::http::{Method, Response};
use lambda_http::{Body, Request};

pub use answers::{
    ExportStarted, ImportStarted, STARTING, Started, page_answer, record_answer, record_from_execution,
};
pub use http::{is_json_media_type, json_response};
pub use list::{DEFAULT_LIMIT, MAX_TOKEN_CHARS};
pub use routing::{ANY_METHOD, ROUTES, Resource, RouteSpec, percent_decode, resource};

use crate::config::{ApiConfig, ImportLocations};
use crate::error::ApiError;
use crate::executions::ExecutionStarter;
use http::{check_query, request_id};

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
}
