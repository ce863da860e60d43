//! Real Lambda binaries as tasks: the Lambda Runtime API on loopback and a
//! [`ProcessInvoker`] that runs functions as child processes.
//!
//! Each *sandbox* is one child process with its own Runtime API endpoint
//! (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`), as in Lambda, where every
//! execution environment has its own: the endpoint knows which process took
//! which invocation, so a crash is pinned on the right invocation. Sandboxes
//! start lazily, serve one invocation at a time, and are kept warm for the
//! next; overlapping invocations of a function start more of them. A
//! sandbox whose process exits, crashes, times out or fails to initialise is
//! discarded and the next invocation starts a fresh one.
//!
//! Errors, as Step Functions reports them for Lambda tasks:
//! * the function reports an error (`/invocation/{id}/error`): `Error` is its
//!   `errorType`, `Cause` the error body (`{"errorType", "errorMessage", ...}`);
//! * the process exits or is killed mid-invocation: `Lambda.Unknown`, cause
//!   `{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: ... Error:
//!   Runtime exited with error: exit status 1"}`;
//! * it does not answer within the function timeout (real time): the process
//!   is killed and the error is `Lambda.Unknown` with `"errorMessage": "...
//!   Task timed out after 30.00 seconds"` — what Step Functions reports for a
//!   Lambda timeout (a `States.Timeout` is only the state's own
//!   `TimeoutSeconds`);
//! * the runtime reports an init error (`/init/error`) or never asks for work
//!   within the init timeout (10 s): `Lambda.Unknown`, the cause naming
//!   `Runtime.InitError` / the init timeout.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, oneshot, watch};

use crate::invoker::{
    BoxFuture, Integration, TaskContext, TaskError, TaskInvoker, check_local_qualifier, lambda_function_name,
};

/// The largest synchronous invocation payload Lambda accepts.
const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// How to run one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    pub executable: PathBuf,
    pub args: Vec<String>,
    /// Extra environment (endpoint URLs, credentials, table names...).
    pub env: BTreeMap<String, String>,
    /// The function timeout, in real time. Default 30 s.
    pub timeout: Duration,
    /// How long a new process may take to ask for its first invocation.
    /// Default 10 s, Lambda's init limit.
    pub init_timeout: Duration,
    pub memory_mb: u32,
    /// `_HANDLER`. Default `bootstrap`.
    pub handler: String,
}

impl FunctionConfig {
    pub fn new(name: impl Into<String>, executable: impl Into<PathBuf>) -> FunctionConfig {
        FunctionConfig {
            name: name.into(),
            executable: executable.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            init_timeout: Duration::from_secs(10),
            memory_mb: 128,
            handler: "bootstrap".into(),
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> FunctionConfig {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn envs(mut self, env: impl IntoIterator<Item = (String, String)>) -> FunctionConfig {
        self.env.extend(env);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> FunctionConfig {
        self.timeout = timeout;
        self
    }

    pub fn init_timeout(mut self, timeout: Duration) -> FunctionConfig {
        self.init_timeout = timeout;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> FunctionConfig {
        self.args.push(arg.into());
        self
    }
}

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationOutcome {
    Succeeded,
    /// The function reported this `errorType`.
    FunctionError(String),
    /// The process exited (or was killed) before answering.
    Crashed(String),
    TimedOut,
    InitFailed(String),
}

/// Timing of one invocation (for benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub function: String,
    pub request_id: String,
    /// Which sandbox (process) served it; numbered from 1.
    pub sandbox: u64,
    pub pid: Option<u32>,
    /// The first invocation of a fresh process.
    pub cold_start: bool,
    /// For cold starts: time from spawning the process to its first
    /// `/invocation/next`.
    pub init_duration: Option<Duration>,
    /// From the process taking the invocation to its answer (or failure).
    pub duration: Duration,
    /// From `invoke` being called to it returning (includes init).
    pub wall_time: Duration,
    pub outcome: InvocationOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A line a function process wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub function: String,
    pub sandbox: u64,
    pub pid: Option<u32>,
    pub stream: LogStream,
    pub line: String,
    pub at: SystemTime,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}#{}] {}", self.function, self.sandbox, self.line)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// The Runtime API of one sandbox.

enum ApiResult {
    Response(Bytes),
    Error { error_type: String, body: Bytes },
    InitError { error_type: String, body: Bytes },
}

struct Pending {
    request_id: String,
    payload: Bytes,
    function_arn: String,
    trace_id: String,
    timeout: Duration,
    doomed: bool,
    taken: oneshot::Sender<Instant>,
    result: oneshot::Sender<ApiResult>,
}

struct InFlight {
    request_id: String,
    doomed: bool,
    result: oneshot::Sender<ApiResult>,
}

#[derive(Default)]
struct ApiInner {
    pending: Option<Pending>,
    in_flight: Option<InFlight>,
    first_next: Option<Instant>,
    init_error: Option<(String, Bytes)>,
}

#[derive(Default)]
struct ApiState {
    inner: Mutex<ApiInner>,
    work: Notify,
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

fn router(api: Arc<ApiState>) -> Router {
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

// ---------------------------------------------------------------------------
// Sandboxes.

struct Sandbox {
    id: u64,
    pid: Option<u32>,
    api: Arc<ApiState>,
    spawned_at: Instant,
    server: tokio::task::JoinHandle<()>,
    kill: Option<oneshot::Sender<()>>,
    exit: watch::Receiver<Option<String>>,
    served: u64,
}

impl Sandbox {
    fn exited(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    fn kill(&mut self) {
        if let Some(tx) = self.kill.take() {
            let _ = tx.send(());
        }
    }

    async fn wait_exit(&mut self) -> String {
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if self.exit.changed().await.is_err() {
                return self.exited().unwrap_or_else(|| "the process disappeared".into());
            }
        }
    }

    fn init_duration(&self) -> Option<Duration> {
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

struct Shared {
    region: String,
    account: String,
    inherit_env: bool,
    functions: HashMap<String, FunctionConfig>,
    idle: Mutex<HashMap<String, Vec<Sandbox>>>,
    invocations: Mutex<HashMap<String, u64>>,
    crashes: Mutex<HashMap<String, Vec<u64>>>,
    records: Mutex<Vec<InvocationRecord>>,
    logs: Arc<Mutex<Vec<LogLine>>>,
    next_sandbox: AtomicU64,
}

/// Runs Lambda functions as child processes speaking the Runtime API.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct ProcessInvoker {
    shared: Arc<Shared>,
}

/// Builds a [`ProcessInvoker`].
pub struct ProcessInvokerBuilder {
    region: String,
    account: String,
    inherit_env: bool,
    functions: HashMap<String, FunctionConfig>,
}

impl ProcessInvokerBuilder {
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// Pass the runner's whole environment to the functions. By default
    /// they get only `PATH`, the Lambda variables and their own `env`, as in
    /// Lambda.
    pub fn inherit_env(mut self, inherit: bool) -> Self {
        self.inherit_env = inherit;
        self
    }

    pub fn function(mut self, config: FunctionConfig) -> Self {
        self.functions.insert(config.name.clone(), config);
        self
    }

    pub fn build(self) -> ProcessInvoker {
        ProcessInvoker {
            shared: Arc::new(Shared {
                region: self.region,
                account: self.account,
                inherit_env: self.inherit_env,
                functions: self.functions,
                idle: Mutex::default(),
                invocations: Mutex::default(),
                crashes: Mutex::default(),
                records: Mutex::default(),
                logs: Arc::default(),
                next_sandbox: AtomicU64::new(0),
            }),
        }
    }
}

impl ProcessInvoker {
    pub fn builder() -> ProcessInvokerBuilder {
        ProcessInvokerBuilder {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            inherit_env: false,
            functions: HashMap::new(),
        }
    }

    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.shared.region, self.shared.account
        )
    }

    /// Fault injection: the process that takes the `nth` invocation (from 1,
    /// counted over every invocation of `function`) is killed after taking
    /// it and before its answer can arrive.
    pub fn crash_on_invocation(&self, function: &str, nth: u64) {
        lock(&self.shared.crashes)
            .entry(function.to_owned())
            .or_default()
            .push(nth);
    }

    /// Every invocation so far, in completion order.
    pub fn invocation_records(&self) -> Vec<InvocationRecord> {
        lock(&self.shared.records).clone()
    }

    /// Everything the function processes wrote to stdout and stderr.
    pub fn logs(&self) -> Vec<LogLine> {
        lock(&self.shared.logs).clone()
    }

    /// One function's output as text, a line each.
    pub fn log_text(&self, function: &str) -> String {
        lock(&self.shared.logs)
            .iter()
            .filter(|l| l.function == function)
            .map(|l| format!("{}\n", l.line))
            .collect()
    }

    /// Kills every idle (warm) process.
    pub fn shutdown(&self) {
        lock(&self.shared.idle).clear();
    }

    /// How many warm processes wait for work.
    pub fn warm_processes(&self, function: &str) -> usize {
        lock(&self.shared.idle).get(function).map_or(0, Vec::len)
    }

    async fn spawn(&self, config: &FunctionConfig) -> Result<Sandbox, TaskError> {
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

    /// Invokes a function by name outside any execution, as Lambda's Invoke
    /// API does (a local Invoke endpoint for another engine uses this).
    pub async fn invoke_function(
        &self,
        name: &str,
        payload: Value,
        request_id: &str,
    ) -> Result<Value, TaskError> {
        let called = Instant::now();
        let Some(config) = self.shared.functions.get(name) else {
            return Err(TaskError::new(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {}", self.function_arn(name)),
            ));
        };
        let body = Bytes::from(payload.to_string());
        if body.len() > PAYLOAD_LIMIT {
            return Err(TaskError::new(
                "Lambda.RequestTooLargeException",
                format!(
                    "Request must be smaller than {PAYLOAD_LIMIT} bytes for the InvokeFunction operation"
                ),
            ));
        }
        let nth = {
            let mut counts = lock(&self.shared.invocations);
            let n = counts.entry(name.to_owned()).or_default();
            *n += 1;
            *n
        };
        let doomed = lock(&self.shared.crashes)
            .get(name)
            .is_some_and(|list| list.contains(&nth));

        let reused = {
            let mut idle = lock(&self.shared.idle);
            let pool = idle.entry(name.to_owned()).or_default();
            // Drop warm processes that died while idle.
            pool.retain(|s| s.exited().is_none());
            pool.pop()
        };
        let mut sandbox = match reused {
            Some(s) => s,
            None => self.spawn(config).await?,
        };
        let cold = sandbox.served == 0;
        sandbox.served += 1;
        let request_id = request_id.to_owned();
        let (taken_tx, mut taken_rx) = oneshot::channel();
        let (result_tx, mut result_rx) = oneshot::channel::<ApiResult>();
        {
            let mut inner = lock(&sandbox.api.inner);
            if let Some((error_type, body)) = inner.init_error.take() {
                let _ = result_tx.send(ApiResult::InitError { error_type, body });
            } else {
                inner.pending = Some(Pending {
                    request_id: request_id.clone(),
                    payload: body,
                    function_arn: self.function_arn(name),
                    trace_id: trace_id(&request_id),
                    timeout: config.timeout,
                    doomed,
                    taken: taken_tx,
                    result: result_tx,
                });
            }
        }
        sandbox.api.work.notify_waiters();

        let unknown = |error_type: &str, message: String| {
            TaskError::new(
                "Lambda.Unknown",
                json!({"errorType": error_type, "errorMessage": message}).to_string(),
            )
        };
        let wait_limit = if cold { config.init_timeout } else { config.timeout };
        let crashed = |status: String| {
            Err((
                InvocationOutcome::Crashed(status.clone()),
                unknown(
                    "Runtime.ExitError",
                    format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
                ),
            ))
        };
        let init_failed = |error_type: String, body: &Bytes| {
            Err((
                InvocationOutcome::InitFailed(error_type.clone()),
                unknown(
                    "Runtime.InitError",
                    format!(
                        "RequestId: {request_id} Error: the runtime failed to initialise ({error_type}): {}",
                        String::from_utf8_lossy(body)
                    ),
                ),
            ))
        };

        let settle = |answer: ApiResult| match answer {
            ApiResult::Response(body) => Ok(body),
            ApiResult::Error { error_type, body } => {
                let cause = serde_json::from_slice::<Value>(&body)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| {
                        json!({"errorType": error_type,
                               "errorMessage": String::from_utf8_lossy(&body)})
                        .to_string()
                    });
                Err((
                    InvocationOutcome::FunctionError(error_type.clone()),
                    TaskError::new(error_type, cause),
                ))
            }
            ApiResult::InitError { error_type, body } => init_failed(error_type, &body),
        };

        // Phase 1: the process takes the invocation (after its init, if cold).
        let first = tokio::select! {
            biased;
            r = &mut result_rx => Waited::Result(r.ok()),
            Ok(t) = &mut taken_rx => Waited::Taken(t),
            status = sandbox.wait_exit() => Waited::Exited(status),
            () = tokio::time::sleep(wait_limit) => Waited::Timeout,
        };
        let mut duration_from = Instant::now();
        let outcome: Result<Bytes, (InvocationOutcome, TaskError)> = match first {
            Waited::Result(Some(ApiResult::InitError { error_type, body })) => init_failed(error_type, &body),
            Waited::Exited(status) => crashed(status),
            // A fast function took the event and answered before this task
            // was polled again: the answer counts, timed from the take.
            Waited::Result(Some(answer)) if !doomed => {
                if let Ok(taken_at) = taken_rx.try_recv() {
                    duration_from = taken_at;
                }
                settle(answer)
            }
            Waited::Result(_) => {
                let status = sandbox.wait_exit().await;
                crashed(status)
            }
            Waited::Timeout => {
                sandbox.kill();
                Err((
                    InvocationOutcome::InitFailed("init timeout".into()),
                    unknown(
                        "Runtime.InitTimeout",
                        format!(
                            "RequestId: {request_id} Error: the runtime did not ask for an invocation within {:.2} seconds",
                            wait_limit.as_secs_f64()
                        ),
                    ),
                ))
            }
            Waited::Taken(taken_at) => {
                duration_from = taken_at;
                if doomed {
                    sandbox.kill();
                }
                // Phase 2: its answer, its death, or the function timeout.
                let deadline = tokio::time::Instant::from_std(taken_at + config.timeout);
                let second = tokio::select! {
                    biased;
                    r = &mut result_rx => Waited::Result(r.ok()),
                    status = sandbox.wait_exit() => Waited::Exited(status),
                    () = tokio::time::sleep_until(deadline) => Waited::Timeout,
                };
                match second {
                    Waited::Result(Some(answer)) => settle(answer),
                    // The answer was swallowed (a doomed invocation) or the
                    // process died: report how it ended.
                    Waited::Exited(status) => crashed(status),
                    Waited::Result(None) | Waited::Taken(_) => {
                        let status = sandbox.wait_exit().await;
                        crashed(status)
                    }
                    Waited::Timeout => {
                        sandbox.kill();
                        let elapsed = taken_at.elapsed().as_secs_f64();
                        Err((
                            InvocationOutcome::TimedOut,
                            TaskError::new(
                                "Lambda.Unknown",
                                json!({"errorMessage": format!(
                                    "{} {request_id} Task timed out after {elapsed:.2} seconds",
                                    crate::history::format_timestamp(jiff::Timestamp::now())
                                )})
                                .to_string(),
                            ),
                        ))
                    }
                }
            }
        };
        let record = InvocationRecord {
            function: name.to_owned(),
            request_id: request_id.clone(),
            sandbox: sandbox.id,
            pid: sandbox.pid,
            cold_start: cold,
            init_duration: if cold { sandbox.init_duration() } else { None },
            duration: duration_from.elapsed(),
            wall_time: called.elapsed(),
            outcome: match &outcome {
                Ok(_) => InvocationOutcome::Succeeded,
                Err((o, _)) => o.clone(),
            },
        };
        lock(&self.shared.records).push(record);
        let healthy = matches!(&outcome, Ok(_) | Err((InvocationOutcome::FunctionError(_), _)))
            && sandbox.exited().is_none();
        if healthy {
            lock(&self.shared.idle)
                .entry(name.to_owned())
                .or_default()
                .push(sandbox);
        }
        match outcome {
            Ok(body) => {
                if body.is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_slice(&body).map_err(|e| {
                    TaskError::new(
                        "Lambda.Unknown",
                        json!({"errorType": "Runtime.InvalidResponse",
                               "errorMessage": format!("the function returned a response that is not JSON: {e}")})
                        .to_string(),
                    )
                })
            }
            Err((_, error)) => Err(error),
        }
    }
}

enum Waited {
    Taken(Instant),
    Result(Option<ApiResult>),
    Exited(String),
    Timeout,
}

fn trace_id(request_id: &str) -> String {
    let hash = request_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "Root=1-{seconds:08x}-{hash:016x}{:08x};Parent={:016x};Sampled=0",
        hash >> 32,
        hash.rotate_left(17)
    )
}

impl TaskInvoker for ProcessInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        Box::pin(async move {
            match ctx.integration {
                Integration::LambdaFunction | Integration::LambdaInvoke => {
                    check_local_qualifier(resource)?;
                    let name = ctx
                        .function_name
                        .clone()
                        .unwrap_or_else(|| lambda_function_name(resource).to_owned());
                    self.invoke_function(&name, parameters, &ctx.request_id).await
                }
                Integration::Service => Err(TaskError::new(
                    "States.Runtime",
                    format!("the process invoker runs Lambda functions only, not '{resource}'"),
                )),
            }
        })
    }
}
