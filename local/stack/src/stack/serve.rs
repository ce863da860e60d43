//! Serving a stack: the runner's Step Functions API on a loopback port, the
//! job state machine registered under its ARN, and — in virtual time — a
//! [`TimeDriver`] that moves the clock whenever an execution is running.

use std::net::SocketAddr;

use hlx_asl_runner::{SfnServer, TimeDriver};

use super::LocalStack;

impl LocalStack {
    /// Serves the Step Functions API on `addr` (`127.0.0.1:0` for an
    /// ephemeral port) and, in virtual time, drives the clock whenever an
    /// execution is running; both stop when the returned value is dropped.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServedStack, String> {
        let server = self
            .sfn
            .serve(addr)
            .await
            .map_err(|e| format!("the Step Functions API could not listen on {addr}: {e}"))?;
        Ok(ServedStack {
            server,
            _driver: TimeDriver::spawn(&self.runner),
        })
    }
}

/// A served stack's Step Functions API and the driver of its virtual time.
#[derive(Debug)]
pub struct ServedStack {
    pub server: SfnServer,
    _driver: TimeDriver,
}

impl ServedStack {
    /// `AWS_ENDPOINT_URL_SFN` for a client.
    pub fn sfn_endpoint(&self) -> String {
        self.server.endpoint_url()
    }
}
