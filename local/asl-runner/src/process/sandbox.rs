//! Sandboxes: one child process each, with its own Runtime API endpoint and
//! Lambda environment; spawning it, capturing its output, watching for its
//! exit, and killing it.

use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{oneshot, watch};

use super::config::FunctionConfig;
use super::invoker::ProcessInvoker;
use super::lock;
use super::records::{LogLine, LogStream};
use super::runtime_api::{ApiState, router};
use crate::invoker::TaskError;

pub(super) struct Sandbox {
    pub(super) id: u64,
    pub(super) pid: Option<u32>,
    pub(super) api: Arc<ApiState>,
    spawned_at: Instant,
    server: tokio::task::JoinHandle<()>,
    kill: Option<oneshot::Sender<()>>,
    exit: watch::Receiver<Option<String>>,
    pub(super) served: u64,
}

impl Sandbox {
    pub(super) fn exited(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    pub(super) fn kill(&mut self) {
        if let Some(tx) = self.kill.take() {
            let _ = tx.send(());
        }
    }

    pub(super) async fn wait_exit(&mut self) -> String {
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if self.exit.changed().await.is_err() {
                return self.exited().unwrap_or_else(|| "the process disappeared".into());
            }
        }
    }

    pub(super) fn init_duration(&self) -> Option<Duration> {
        lock(&self.api.inner)
            .first_next
            .map(|t| t.duration_since(self.spawned_at))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

fn describe_exit(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => {
            if let Some(code) = s.code() {
                return format!("exit status {code}");
            }
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(signal) = s.signal() {
                    let name = match signal {
                        6 => "aborted",
                        9 => "killed",
                        11 => "segmentation fault",
                        15 => "terminated",
                        _ => "",
                    };
                    return if name.is_empty() {
                        format!("signal: {signal}")
                    } else {
                        format!("signal: {name}")
                    };
                }
            }
            s.to_string()
        }
        Err(e) => format!("wait failed: {e}"),
    }
}

impl ProcessInvoker {
    pub(super) async fn spawn(&self, config: &FunctionConfig) -> Result<Sandbox, TaskError> {
        let unknown = |message: String| {
            TaskError::new(
                "Lambda.Unknown",
                json!({"errorType": "Runtime.Unknown", "errorMessage": message}).to_string(),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| unknown(format!("cannot open a Runtime API port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| unknown(format!("cannot open a Runtime API port: {e}")))?
            .port();
        let api = Arc::new(ApiState::default());
        let app = router(api.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let id = self.shared.next_sandbox.fetch_add(1, Ordering::SeqCst) + 1;

        let mut cmd = tokio::process::Command::new(&config.executable);
        cmd.args(&config.args);
        if !self.shared.inherit_env {
            cmd.env_clear();
            if let Some(path) = std::env::var_os("PATH") {
                cmd.env("PATH", path);
            }
        }
        let task_root = config
            .executable
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let date = jiff::Timestamp::now().strftime("%Y/%m/%d").to_string();
        let stream_id = format!(
            "{:032x}",
            u128::from(id) * 0x9e37_79b9_7f4a_7c15 + u128::from(port)
        );
        cmd.env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", &config.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string())
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.name),
            )
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("{date}/[$LATEST]{stream_id}"),
            )
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("_HANDLER", &config.handler)
            .env("AWS_REGION", &self.shared.region)
            .env("AWS_DEFAULT_REGION", &self.shared.region)
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("LAMBDA_RUNTIME_DIR", &task_root)
            .env("TZ", ":UTC")
            .envs(&config.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                return Err(unknown(format!(
                    "cannot start {}: {e}",
                    config.executable.display()
                )));
            }
        };
        let pid = child.id();
        for (stream, kind) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                LogStream::Stdout,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                LogStream::Stderr,
            ),
        ] {
            let Some(stream) = stream else { continue };
            let logs = self.shared.logs.clone();
            let function = config.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(function = %function, sandbox = id, "{line}");
                    lock(&logs).push(LogLine {
                        function: function.clone(),
                        sandbox: id,
                        pid,
                        stream: kind,
                        line,
                        at: SystemTime::now(),
                    });
                }
            });
        }
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let (exit_tx, exit_rx) = watch::channel(None);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let _ = exit_tx.send(Some(describe_exit(status)));
        });
        Ok(Sandbox {
            id,
            pid,
            api,
            spawned_at,
            server,
            kill: Some(kill_tx),
            exit: exit_rx,
            served: 0,
        })
    }
}
