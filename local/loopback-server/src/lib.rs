//! The HTTP server every local stand-in runs (the HealthLake emulator, the
//! runner's Step Functions API): an axum router on an address, usually
//! `127.0.0.1:0`, stopped gracefully on demand or when its handle is dropped.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server. Dropping it (or [`ServerHandle::shutdown`]) stops it gracefully.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// Serves `app` on `addr` in a task of the current Tokio runtime.
pub async fn serve(app: Router, addr: SocketAddr) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
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
        self.wait_task().await
    }

    /// Waits until the server stops (it stops only when shut down).
    pub async fn wait(mut self) -> io::Result<()> {
        self.wait_task().await
    }

    async fn wait_task(&mut self) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn serves_until_shut_down() {
        let app = Router::new().route("/", get(|| async { "ok" }));
        let server = serve(app, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(server.endpoint_url(), format!("http://{addr}"));
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        server.shutdown().await.unwrap();
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "the port is closed after shutdown"
        );
    }
}
