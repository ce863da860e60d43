//! `POST /exports`, `POST /imports`: a job started idempotently. The
//! `Idempotency-Key` (or the request and the UTC day) names the execution; an
//! execution of that name answers for itself (200, or 409 for another
//! request); a new one first takes a slot of its data store's admission limit.

use hlx_core::admission::{admit, release_slot};
use hlx_core::{HlxError, JobKind, JobRequest, JobStore};
use lambda_http::http::{HeaderMap, Response, StatusCode};
use lambda_http::{Body, Request};
use serde_json::Value;

use super::Api;
use super::answers::{STARTING, Started};
use super::http::{json_response, location, read_body, with_location};
use crate::error::{ApiError, sfn_error};
use crate::executions::{ExecutionInfo, ExecutionStarter, SfnError};
use crate::naming::{IDEMPOTENCY_KEY_HEADER, check_idempotency_key, name_for_key, name_for_request};
use crate::requests;

impl<S: JobStore, E: ExecutionStarter> Api<S, E> {
    /// `POST /exports`, `POST /imports`.
    pub(super) async fn create(
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
        if failed && slot == Some(true) {
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

    /// Admits the new execution's job ([`admit`]), or refuses the request
    /// (429 `TooManyJobs`); `Some(true)` when this call took its slot. Slots
    /// that cannot be read leave the limit to start-job (which holds it too).
    async fn take_slot(&self, job: &JobRequest, name: &str) -> Result<Option<bool>, ApiError> {
        let now = self.clock.now();
        match admit(&self.store, job, name, self.config.max_jobs_in_flight, now).await {
            Ok(admitted) => Ok(admitted),
            Err(refused @ HlxError::TooManyJobs(_)) => {
                tracing::info!(datastore_id = %job.datastore_id(), "too many jobs in flight");
                Err(ApiError::too_many_jobs(refused.to_string()))
            }
            Err(err) => {
                tracing::warn!(error = %err, "the data store's slots could not be taken; start-job will try");
                Ok(None)
            }
        }
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
