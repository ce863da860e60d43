//! The Lambda Runtime API of one sandbox, on loopback: the process long-polls
//! `/invocation/next` for the pending event and posts its answer to
//! `/invocation/{id}/response` or `/invocation/{id}/error`, or its init
//! failure to `/init/error`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

use super::{PAYLOAD_LIMIT, lock};

pub(super) enum ApiResult {
    Response(Bytes),
    Error { error_type: String, body: Bytes },
    InitError { error_type: String, body: Bytes },
}

pub(super) struct Pending {
    pub(super) request_id: String,
    pub(super) payload: Bytes,
    pub(super) function_arn: String,
    pub(super) trace_id: String,
    pub(super) timeout: Duration,
    pub(super) doomed: bool,
    pub(super) taken: oneshot::Sender<Instant>,
    pub(super) result: oneshot::Sender<ApiResult>,
}

struct InFlight {
    request_id: String,
    doomed: bool,
    result: oneshot::Sender<ApiResult>,
}

#[derive(Default)]
pub(super) struct ApiInner {
    pub(super) pending: Option<Pending>,
    in_flight: Option<InFlight>,
    pub(super) first_next: Option<Instant>,
    pub(super) init_error: Option<(String, Bytes)>,
}

#[derive(Default)]
pub(super) struct ApiState {
    pub(super) inner: Mutex<ApiInner>,
    pub(super) work: Notify,
}

async fn next_invocation(State(api): State<Arc<ApiState>>) -> Response {
    loop {
        let notified = api.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut inner = lock(&api.inner);
            inner.first_next.get_or_insert_with(Instant::now);
            if let Some(p) = inner.pending.take() {
                let deadline = SystemTime::now() + p.timeout;
                let deadline_ms = deadline
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let _ = p.taken.send(Instant::now());
                inner.in_flight = Some(InFlight {
                    request_id: p.request_id.clone(),
                    doomed: p.doomed,
                    result: p.result,
                });
                let mut headers = HeaderMap::new();
                let mut set = |k: &'static str, v: &str| {
                    if let Ok(v) = HeaderValue::from_str(v) {
                        headers.insert(k, v);
                    }
                };
                set("Lambda-Runtime-Aws-Request-Id", &p.request_id);
                set("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string());
                set("Lambda-Runtime-Invoked-Function-Arn", &p.function_arn);
                set("Lambda-Runtime-Trace-Id", &p.trace_id);
                set("Content-Type", "application/json");
                return (StatusCode::OK, headers, p.payload).into_response();
            }
        }
        notified.await;
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn bad_request(error_type: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

fn finish(api: &ApiState, id: &str, result: ApiResult) -> Response {
    let mut inner = lock(&api.inner);
    match inner.in_flight.take() {
        Some(f) if f.request_id == id => {
            // A doomed invocation's process is being killed: its answer,
            // if it still manages one, never reaches the caller.
            if !f.doomed {
                let _ = f.result.send(result);
            }
            accepted()
        }
        other => {
            inner.in_flight = other;
            bad_request("InvalidRequestID", &format!("no invocation {id} is in flight"))
        }
    }
}

async fn invocation_response(
    State(api): State<Arc<ApiState>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    finish(&api, &id, ApiResult::Response(body))
}

fn error_type_of(headers: &HeaderMap, body: &Bytes) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("errorType").and_then(Value::as_str).map(str::to_owned))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            headers
                .get("Lambda-Runtime-Function-Error-Type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "Lambda.Unknown".to_owned())
}

async fn invocation_error(
    State(api): State<Arc<ApiState>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = error_type_of(&headers, &body);
    finish(&api, &id, ApiResult::Error { error_type, body })
}

async fn init_error(State(api): State<Arc<ApiState>>, headers: HeaderMap, body: Bytes) -> Response {
    let error_type = error_type_of(&headers, &body);
    let mut inner = lock(&api.inner);
    let result = inner
        .in_flight
        .take()
        .map(|f| f.result)
        .or_else(|| inner.pending.take().map(|p| p.result));
    match result {
        Some(tx) => {
            let _ = tx.send(ApiResult::InitError { error_type, body });
        }
        None => inner.init_error = Some((error_type, body)),
    }
    accepted()
}

pub(super) fn router(api: Arc<ApiState>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .layer(DefaultBodyLimit::max(PAYLOAD_LIMIT + 1024))
        .with_state(api)
}
