//! Fixtures for hlx's end-to-end tests: a real DynamoDB-compatible server
//! (moto's, from the virtual environment `tests/run.sh` creates) and the
//! paths of the binaries under test (the `local` profile: see Cargo.toml).

pub mod scenario;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Where the binaries under test are (`HLX_BIN_DIR`, default `target/local`,
/// which `cargo build --profile local` fills).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("HLX_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/local"))
}

/// The path of one of hlx's binaries; panics with the command that builds it.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --profile local --workspace --bins` (tests/run.sh does)",
        path.display()
    );
    path
}

fn python() -> PathBuf {
    let python = std::env::var_os("HLX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: tests/run.sh creates the virtual environment with moto",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// moto's server on a loopback port, stopped when dropped.
pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl MotoServer {
    /// moto's server for DynamoDB (and whatever else moto serves).
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(python())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        Self::wait_for(child, port)
    }

    /// moto's server with its Step Functions executing ASL, Lambda tasks sent
    /// to `lambda_endpoint` (a Lambda Invoke-API server): `tests/e2e/moto_sfn.py`.
    pub fn start_with_step_functions(lambda_endpoint: &str) -> Self {
        let port = free_port();
        let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_sfn.py");
        let child = Command::new(python())
            .arg(launcher)
            .arg(port.to_string())
            .env("HLX_LAMBDA_ENDPOINT", lambda_endpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server starts");
        Self::wait_for(child, port)
    }

    fn wait_for(child: Child, port: u16) -> Self {
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto's server did not listen on {endpoint} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint }
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "hlx-e2e",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// A DynamoDB client of the real SDK, pointed at this server.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }

    /// A Step Functions client of the real SDK, pointed at this server.
    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk_config().await)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process invoker an Invoke-API server forwards to, set once known.
pub type LateInvoker = std::sync::Arc<std::sync::OnceLock<hlx_asl_runner::ProcessInvoker>>;

/// A Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on
/// loopback, serving hlx's binaries through the runner's process
/// invoker, so another Step Functions engine reaches the same functions.
///
/// A failed invocation answers as Lambda does: HTTP 200, header
/// `X-Amz-Function-Error: Unhandled`, body `{"errorType", "errorMessage"}`.
/// Where the process died without an answer, the error type is the one Step
/// Functions reports for it (`Lambda.Unknown`), since the other engine does
/// not make that translation itself.
///
/// The invoker is bound late (`processes` is set once the functions'
/// environment is known), since the other engine needs this endpoint first.
pub async fn serve_invoke_api(processes: LateInvoker) -> String {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use axum::routing::post;

    async fn invoke(
        State(processes): State<LateInvoker>,
        UrlPath(function): UrlPath<String>,
        body: axum::body::Bytes,
    ) -> (StatusCode, HeaderMap, String) {
        let payload: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        let name = function.rsplit(':').next().unwrap_or(&function).to_owned();
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
        let Some(processes) = processes.get() else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                headers,
                "no functions yet".into(),
            );
        };
        match processes.invoke_function(&name, payload, &request_id).await {
            Ok(output) => (StatusCode::OK, headers, output.to_string()),
            Err(err) => {
                headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
                let message = serde_json::from_str::<serde_json::Value>(&err.cause)
                    .ok()
                    .and_then(|c| c.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
                    .unwrap_or(err.cause.clone());
                let body = serde_json::json!({"errorType": err.error, "errorMessage": message});
                (StatusCode::OK, headers, body.to_string())
            }
        }
    }

    let app = axum::Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .with_state(processes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    endpoint
}
