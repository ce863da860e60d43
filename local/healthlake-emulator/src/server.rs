//! HTTP: `POST /` with `X-Amz-Target: HealthLake.<Operation>` (awsJson1_0).

use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::Emulator;

/// The content type of every awsJson1_0 answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

pub use hlx_loopback_server::ServerHandle;

impl Emulator {
    /// Serves the emulator on `addr` (`127.0.0.1:0` for an ephemeral port) in a
    /// task of the current Tokio runtime.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<ServerHandle> {
        let app = Router::new().fallback(handle).with_state(self.clone());
        let server = hlx_loopback_server::serve(app, addr).await?;
        tracing::info!(addr = %server.local_addr(), "HealthLake emulator listening");
        Ok(server)
    }
}

async fn handle(
    State(emulator): State<Emulator>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let target = if method == Method::POST {
        text(header::HeaderName::from_static("x-amz-target"))
    } else {
        None
    };
    let authorization = text(header::AUTHORIZATION);
    let reply = emulator
        .dispatch(target.as_deref(), Some(authorization.as_deref()), &body)
        .await;
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
