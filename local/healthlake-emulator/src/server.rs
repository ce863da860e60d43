//! HTTP: `POST /` with `X-Amz-Target: HealthLake.<Operation>` (awsJson1_0),
//! the FHIR REST `$export` surface under `/datastore/{id}/r4/`, and S3
//! (path-style) on every other path.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;

use crate::Emulator;
use crate::rest::{self, RestReply};
use crate::s3::S3Reply;
use crate::sigv4::Received;

/// The content type of every awsJson1_0 answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

pub use hlx_loopback_server::ServerHandle;

/// The largest request body accepted (an S3 PutObject of export-sized files).
const MAX_BODY: usize = 1 << 30;

impl Emulator {
    /// Serves the emulator on `addr` (`127.0.0.1:0` for an ephemeral port) in a
    /// task of the current Tokio runtime.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<ServerHandle> {
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone());
        let server = hlx_loopback_server::serve(app, addr).await?;
        tracing::info!(addr = %server.local_addr(), "HealthLake emulator listening");
        Ok(server)
    }
}

async fn handle(
    State(emulator): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if rest::is_rest_path(uri.path()) {
        return rest_response(emulator.rest(&method, &uri, &headers, &body).await);
    }
    if uri.path() != "/" {
        return s3_response(emulator.s3(&method, &uri, &headers, &body));
    }
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let received = Received {
        method: method.as_str(),
        uri: path_and_query,
        headers: &headers,
        body: &body,
    };
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let target = if method == Method::POST {
        text(header::HeaderName::from_static("x-amz-target"))
    } else {
        None
    };
    let reply = emulator.dispatch(target.as_deref(), Some(&received), &body).await;
    let mut response = Response::new(Body::from(reply.body.to_string()));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&reply.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(kind) = reply.error {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind.name()));
    }
    response
}

fn s3_response(reply: S3Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn rest_response(reply: RestReply) -> Response {
    let body = match &reply.body {
        Some(body) => Body::from(body.to_string()),
        None => Body::empty(),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if reply.body.is_some() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    }
    if let Ok(id) = HeaderValue::from_str(&reply.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(kind) = reply.error_type {
        headers.insert("x-amzn-errortype", HeaderValue::from_static(kind));
    }
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
