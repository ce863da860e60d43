//! HTTP: `POST /` with `X-Amz-Target: HealthLake.<Operation>` (awsJson1_0).

use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Emulator;

/// The content type of every awsJson1_0 answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// A running server. Dropping it (or [`ServerHandle::shutdown`]) stops it gracefully.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: the endpoint URL to give an SDK.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets open ones finish, and waits for that.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Waits until the server stops (it stops only when shut down).
    pub async fn wait(mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Emulator {
    /// Serves the emulator on `addr` (`127.0.0.1:0` for an ephemeral port) in a
    /// task of the current Tokio runtime.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<ServerHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(self.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, "HealthLake emulator listening");
        Ok(ServerHandle {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
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
