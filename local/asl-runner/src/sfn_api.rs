//! Step Functions' API for the runner, over HTTP on loopback.
//!
//! [`SfnApi`] answers the Step Functions operations that hlx and its
//! operators use, on a [`Runner`] and the state machines registered with it;
//! [`SfnApi::serve`] speaks the service's wire protocol (awsJson1_0: `POST /`,
//! `X-Amz-Target: AWSStepFunctions.<Operation>`, camelCase JSON members,
//! timestamps in epoch seconds, errors as HTTP 400 with
//! `{"__type": "<Name>", "message": "..."}`), so the unmodified
//! `aws-sdk-sfn` client, boto3 or the AWS CLI pointed at it
//! (`AWS_ENDPOINT_URL_SFN`) start and inspect executions that run on the
//! runner like any other.
//!
//! Operations: `StartExecution`, `DescribeExecution`, `ListExecutions`,
//! `GetExecutionHistory`, `SendTaskSuccess`, `SendTaskFailure`,
//! `SendTaskHeartbeat`, `DescribeStateMachine`, `ListStateMachines`. Any
//! other target is `UnknownOperationException`.
//!
//! In virtual time the runner's clock moves only while someone waits on it
//! ([`Runner::wait_all`]); a server whose clients start executions needs a
//! [`TimeDriver`], which waits on the runner whenever an execution is
//! running, so virtual time jumps ahead as soon as every execution is idle.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::definition::StateMachine;
use crate::history::{EventKind, HistoryEvent};
use crate::runner::{
    ExecutionDescription, ExecutionHandle, ExecutionStatus, MapRunDescription, MapRunStatus, Runner,
};

/// The content type of every awsJson1_0 request and answer.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// `X-Amz-Target` is this prefix and the operation's name.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";
/// The operations served.
pub const OPERATIONS: [&str; 11] = [
    "StartExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "DescribeStateMachine",
    "ListStateMachines",
    "ListMapRuns",
    "DescribeMapRun",
];

/// A page when the request names no size (or 0), as Step Functions does.
pub const DEFAULT_PAGE: usize = 100;
/// The largest page Step Functions returns.
pub const MAX_PAGE: usize = 1000;
/// Step Functions' limit on execution input, task output and the like.
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// An error as the service answers it: `code` is the `__type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SfnApiError {
    pub code: String,
    pub message: String,
}

impl SfnApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The HTTP status the service answers with: 400 for every modeled error.
    pub fn http_status(&self) -> u16 {
        400
    }

    fn validation(member: &str, value: impl std::fmt::Display, constraint: &str) -> Self {
        Self::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    fn missing(member: &str) -> Self {
        Self::validation(member, "null", "Member must not be null")
    }

    fn serialization(member: &str, expected: &str) -> Self {
        Self::new(
            "SerializationException",
            format!("the member '{member}' must be {expected}"),
        )
    }

    fn invalid_arn(arn: &str) -> Self {
        Self::new("InvalidArn", format!("Invalid Arn: '{arn}'"))
    }

    fn invalid_token(detail: &str) -> Self {
        Self::new("InvalidToken", format!("Invalid Token: '{detail}'"))
    }

    /// A runner error whose text is `Name: message` (`StartError`,
    /// `TaskTokenError`) under its own name.
    fn from_named(text: &str) -> Self {
        match text.split_once(": ") {
            Some((code, message)) if !code.is_empty() && !code.contains(' ') => Self::new(code, message),
            _ => Self::new("InternalFailure", text),
        }
    }
}

struct Registered {
    arn: String,
    machine: Arc<StateMachine>,
    created: Timestamp,
}

struct Inner {
    runner: Runner,
    machines: Mutex<Vec<Registered>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Step Functions' API over a runner and the state machines registered with
/// it. Cheap to clone (shared).
#[derive(Clone)]
pub struct SfnApi {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SfnApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SfnApi")
            .field("state_machines", &self.state_machine_arns())
            .finish()
    }
}

/// A well-formed Step Functions ARN's resource kind and the rest.
struct Arn<'a> {
    kind: &'a str,
    rest: &'a str,
}

fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(partition), Some("states"), Some(region), Some(account), Some(kind), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let well_formed = partition.starts_with("aws")
        && !region.is_empty()
        && !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && !rest.is_empty();
    well_formed.then_some(Arn { kind, rest })
}

impl SfnApi {
    /// The API over `runner`, with no state machine registered yet.
    pub fn new(runner: Runner) -> Self {
        Self {
            inner: Arc::new(Inner {
                runner,
                machines: Mutex::default(),
            }),
        }
    }

    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    /// Makes `machine` available under its ARN
    /// (`arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`, the runner's
    /// account), which it returns. Registering a name again replaces the
    /// definition for new executions.
    pub fn register(&self, machine: Arc<StateMachine>) -> String {
        let arn = self.inner.runner.state_machine_arn(&machine);
        let created = self.inner.runner.clock().now();
        let mut machines = lock(&self.inner.machines);
        match machines.iter_mut().find(|m| m.arn == arn) {
            Some(existing) => existing.machine = machine,
            None => machines.push(Registered {
                arn: arn.clone(),
                machine,
                created,
            }),
        }
        arn
    }

    /// The registered state machines' ARNs, in registration order.
    pub fn state_machine_arns(&self) -> Vec<String> {
        lock(&self.inner.machines).iter().map(|m| m.arn.clone()).collect()
    }

    /// Runs one operation on its JSON input and returns its JSON output, as
    /// the HTTP server does (timestamps are epoch seconds). Must be called
    /// within a tokio runtime (`StartExecution` spawns the execution).
    pub fn call(&self, operation: &str, input: &Value) -> Result<Value, SfnApiError> {
        let Value::Object(map) = input else {
            return Err(SfnApiError::new(
                "SerializationException",
                "the request body must be a JSON object",
            ));
        };
        let input = Input(map);
        match operation {
            "StartExecution" => self.start_execution(&input),
            "DescribeExecution" => self.describe_execution(&input),
            "ListExecutions" => self.list_executions(&input),
            "GetExecutionHistory" => self.get_execution_history(&input),
            "SendTaskSuccess" => self.send_task_success(&input),
            "SendTaskFailure" => self.send_task_failure(&input),
            "SendTaskHeartbeat" => self.send_task_heartbeat(&input),
            "DescribeStateMachine" => self.describe_state_machine(&input),
            "ListStateMachines" => self.list_state_machines(&input),
            "ListMapRuns" => self.list_map_runs(&input),
            "DescribeMapRun" => self.describe_map_run(&input),
            other => Err(unknown_operation(other)),
        }
    }

    /// The HTTP application (every path; only `POST` with a known target is an operation).
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Serves the API on `addr` (`127.0.0.1:0` for an ephemeral port) in a
    /// task of the current tokio runtime.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<SfnServer> {
        let server = hlx_loopback_server::serve(self.router(), addr).await?;
        tracing::info!(addr = %server.local_addr(), "Step Functions API listening");
        Ok(server)
    }

    // ---- lookups ----

    fn machine(&self, arn: &str) -> Result<Arc<StateMachine>, SfnApiError> {
        match parse_arn(arn) {
            Some(parsed) if parsed.kind == "stateMachine" => {}
            _ => return Err(SfnApiError::invalid_arn(arn)),
        }
        lock(&self.inner.machines)
            .iter()
            .find(|m| m.arn == arn)
            .map(|m| m.machine.clone())
            .ok_or_else(|| {
                SfnApiError::new(
                    "StateMachineDoesNotExist",
                    format!("State Machine Does Not Exist: '{arn}'"),
                )
            })
    }

    fn is_registered(&self, state_machine_arn: &str) -> bool {
        lock(&self.inner.machines)
            .iter()
            .any(|m| m.arn == state_machine_arn)
    }

    fn execution(&self, arn: &str) -> Result<ExecutionHandle, SfnApiError> {
        match parse_arn(arn) {
            Some(parsed) if parsed.kind == "execution" && parsed.rest.contains(':') => {}
            _ => return Err(SfnApiError::invalid_arn(arn)),
        }
        self.inner
            .runner
            .execution(arn)
            .filter(|h| h.arn() == arn && self.is_served(h))
            .ok_or_else(|| {
                SfnApiError::new(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })
    }

    /// An execution of a registered machine, or a child of a Map Run one of
    /// those started.
    fn is_served(&self, execution: &ExecutionHandle) -> bool {
        if self.is_registered(&execution.describe().state_machine_arn) {
            return true;
        }
        execution
            .map_run_arn()
            .and_then(|run| self.inner.runner.map_run(run))
            .and_then(|run| self.inner.runner.execution(&run.execution_arn))
            .is_some_and(|parent| self.is_served(&parent))
    }

    /// Every execution served, in start order.
    fn served_executions(&self) -> Vec<ExecutionHandle> {
        self.inner
            .runner
            .executions()
            .into_iter()
            .filter(|h| self.is_served(h))
            .collect()
    }

    fn map_run(&self, arn: &str) -> Result<MapRunDescription, SfnApiError> {
        let not_found = || SfnApiError::new("ResourceNotFound", format!("Map Run Does Not Exist: '{arn}'"));
        match parse_arn(arn) {
            Some(parsed) if parsed.kind == "mapRun" => {}
            _ => return Err(SfnApiError::invalid_arn(arn)),
        }
        let run = self.inner.runner.map_run(arn).ok_or_else(not_found)?;
        // Served when the execution that started it is.
        self.execution(&run.execution_arn).map_err(|_| not_found())?;
        Ok(run)
    }

    // ---- operations ----

    fn start_execution(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.required_string("stateMachineArn")?;
        check_length("stateMachineArn", arn, 1, 256)?;
        let machine = self.machine(arn)?;
        let name = match input.string("name")? {
            Some(name) => name.to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let text = input.string("input")?.unwrap_or("{}");
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(SfnApiError::new(
                "InvalidExecutionInput",
                format!("Invalid State Machine Execution Input: the input is over {MAX_PAYLOAD_BYTES} bytes"),
            ));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            SfnApiError::new(
                "InvalidExecutionInput",
                format!("Invalid State Machine Execution Input: '{e}'"),
            )
        })?;
        let handle = self
            .inner
            .runner
            .start_execution(&machine, &name, value)
            .map_err(|e| SfnApiError::from_named(&e.to_string()))?;
        let description = handle.describe();
        Ok(json!({
            "executionArn": description.arn,
            "startDate": epoch(description.start_date),
        }))
    }

    fn describe_execution(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.required_string("executionArn")?;
        let with_data = included_data(input)?;
        let handle = self.execution(arn)?;
        let d = handle.describe();
        let mut out = Map::new();
        out.insert("executionArn".into(), json!(d.arn));
        out.insert("stateMachineArn".into(), json!(d.state_machine_arn));
        out.insert("name".into(), json!(d.name));
        out.insert("status".into(), json!(d.status.as_str()));
        out.insert("startDate".into(), epoch(d.start_date));
        if let Some(stop) = d.stop_date {
            out.insert("stopDate".into(), epoch(stop));
        }
        if with_data {
            out.insert("input".into(), json!(d.input.to_string()));
            out.insert("inputDetails".into(), json!({"included": true}));
            if let Some(output) = &d.output {
                out.insert("output".into(), json!(output.to_string()));
                out.insert("outputDetails".into(), json!({"included": true}));
            }
        }
        if let Some(error) = &d.error {
            out.insert("error".into(), json!(error));
        }
        if let Some(cause) = &d.cause {
            out.insert("cause".into(), json!(cause));
        }
        if let Some(run) = handle.map_run_arn() {
            out.insert("mapRunArn".into(), json!(run));
        }
        out.insert("redriveCount".into(), json!(0));
        out.insert("redriveStatus".into(), json!("NOT_REDRIVABLE"));
        out.insert(
            "redriveStatusReason".into(),
            json!("The local runner does not redrive executions"),
        );
        Ok(Value::Object(out))
    }

    fn list_executions(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.string("stateMachineArn")?;
        let map_run = input.string("mapRunArn")?;
        let arn = match (arn, map_run) {
            (Some(arn), None) => {
                self.machine(arn)?;
                arn
            }
            (None, Some(map_run)) => {
                self.map_run(map_run)?;
                map_run
            }
            _ => {
                return Err(SfnApiError::new(
                    "ValidationException",
                    "Must provide exactly one of a StateMachine ARN or a MapRun ARN",
                ));
            }
        };
        let status = match input.string("statusFilter")? {
            None => None,
            Some(s @ ("RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE")) => {
                Some(s)
            }
            Some(other) => {
                return Err(SfnApiError::validation(
                    "statusFilter",
                    format!("'{other}'"),
                    "Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]",
                ));
            }
        };
        let only_redriven = match input.string("redriveFilter")? {
            None | Some("NOT_REDRIVEN") => false,
            Some("REDRIVEN") => true,
            Some(other) => {
                return Err(SfnApiError::validation(
                    "redriveFilter",
                    format!("'{other}'"),
                    "Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]",
                ));
            }
        };
        let limit = page_size(input)?;
        let scope = format!("ListExecutions\n{arn}\n{}", status.unwrap_or(""));
        // Executions only ever append to the runner's list, so a position in
        // it stays valid while new executions start: newest first, a page
        // continues below the last position it returned.
        let all: Vec<ExecutionHandle> = self
            .inner
            .runner
            .executions()
            .into_iter()
            .filter(|h| match map_run {
                Some(run) => h.map_run_arn() == Some(run),
                None => h.describe().state_machine_arn == arn,
            })
            .collect();
        let below = match input.string("nextToken")? {
            Some(token) => decode_token(token, &scope)?,
            None => all.len(),
        };
        let mut items = Vec::new();
        let mut next = None;
        for index in (0..below.min(all.len())).rev() {
            let d = all[index].describe();
            if only_redriven || status.is_some_and(|s| s != d.status.as_str()) {
                continue;
            }
            if items.len() == limit {
                next = Some(index + 1);
                break;
            }
            let mut item = json!({
                "executionArn": d.arn,
                "stateMachineArn": d.state_machine_arn,
                "name": d.name,
                "status": d.status.as_str(),
                "startDate": epoch(d.start_date),
                "redriveCount": 0,
            });
            if let Some(stop) = d.stop_date {
                item["stopDate"] = epoch(stop);
            }
            if let Some(run) = all[index].map_run_arn() {
                item["mapRunArn"] = json!(run);
            }
            items.push(item);
        }
        let mut out = json!({ "executions": items });
        if let Some(position) = next {
            out["nextToken"] = json!(encode_token(&scope, position));
        }
        Ok(out)
    }

    fn list_map_runs(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.required_string("executionArn")?;
        self.execution(arn)?;
        let limit = page_size(input)?;
        let scope = format!("ListMapRuns\n{arn}");
        let runs: Vec<MapRunDescription> = self
            .inner
            .runner
            .map_runs()
            .into_iter()
            .filter(|r| r.execution_arn == arn)
            .collect();
        let from = match input.string("nextToken")? {
            Some(token) => decode_token(token, &scope)?,
            None => 0,
        };
        let page: Vec<Value> = runs
            .iter()
            .skip(from)
            .take(limit)
            .map(|r| {
                let mut item = json!({
                    "executionArn": r.execution_arn,
                    "mapRunArn": r.arn,
                    "stateMachineArn": r.state_machine_arn,
                    "startDate": epoch(r.start_date),
                });
                if let Some(stop) = r.stop_date {
                    item["stopDate"] = epoch(stop);
                }
                item
            })
            .collect();
        let mut out = json!({ "mapRuns": page });
        if from + limit < runs.len() {
            out["nextToken"] = json!(encode_token(&scope, from + limit));
        }
        Ok(out)
    }

    fn describe_map_run(&self, input: &Input) -> Result<Value, SfnApiError> {
        let run = self.map_run(input.required_string("mapRunArn")?)?;
        // Each child with the items it was given (a batch counts all of its).
        let children: Vec<(ExecutionDescription, u64)> = self
            .inner
            .runner
            .executions()
            .into_iter()
            .filter(|h| h.map_run_arn() == Some(run.arn.as_str()))
            .map(|h| (h.describe(), h.map_run_items().unwrap_or(1) as u64))
            .collect();
        let items_of = |(_, items): &(ExecutionDescription, u64)| *items;
        let counts = |weight: &dyn Fn(&(ExecutionDescription, u64)) -> u64, total: u64| {
            let of = |status: ExecutionStatus| -> u64 {
                children
                    .iter()
                    .filter(|(d, _)| d.status == status)
                    .map(weight)
                    .sum()
            };
            let started: u64 = children.iter().map(weight).sum();
            let (succeeded, failed) = (of(ExecutionStatus::Succeeded), of(ExecutionStatus::Failed));
            let written = if run.writes_results && run.status != MapRunStatus::Running {
                succeeded + failed + of(ExecutionStatus::TimedOut) + of(ExecutionStatus::Aborted)
            } else {
                0
            };
            json!({
                "pending": total.saturating_sub(started),
                "running": of(ExecutionStatus::Running),
                "succeeded": succeeded,
                "failed": failed,
                "timedOut": of(ExecutionStatus::TimedOut),
                "aborted": of(ExecutionStatus::Aborted),
                "total": total,
                "resultsWritten": written,
                "failuresNotRedrivable": 0,
                "pendingRedrive": 0,
            })
        };
        let mut out = json!({
            "mapRunArn": run.arn,
            "executionArn": run.execution_arn,
            "status": run.status.as_str(),
            "startDate": epoch(run.start_date),
            "maxConcurrency": run.max_concurrency,
            "toleratedFailurePercentage": run.tolerated_failure_percentage,
            "toleratedFailureCount": run.tolerated_failure_count,
            "itemCounts": counts(&items_of, run.items),
            "executionCounts": counts(&|_| 1, run.children),
            "redriveCount": 0,
        });
        if let Some(stop) = run.stop_date {
            out["stopDate"] = epoch(stop);
        }
        Ok(out)
    }

    fn get_execution_history(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.required_string("executionArn")?;
        let reverse = input.bool("reverseOrder")?.unwrap_or(false);
        let with_data = input.bool("includeExecutionData")?.unwrap_or(true);
        let limit = page_size(input)?;
        let history: Vec<HistoryEvent> = self
            .execution(arn)?
            .history()
            .into_iter()
            // AWS shows a retry only as the task being scheduled again.
            .filter(|e| e.kind.is_aws_event())
            .collect();
        let scope = format!("GetExecutionHistory\n{arn}\n{reverse}");
        // The position is an event id: the page starts after it (forward) or
        // before it (reverse).
        let from = match input.string("nextToken")? {
            Some(token) => Some(decode_token(token, &scope)? as u64),
            None => None,
        };
        let mut selected: Vec<&HistoryEvent> = if reverse {
            history
                .iter()
                .rev()
                .filter(|e| from.is_none_or(|id| e.id < id))
                .collect()
        } else {
            history
                .iter()
                .filter(|e| from.is_none_or(|id| e.id > id))
                .collect()
        };
        let more = selected.len() > limit;
        selected.truncate(limit);
        let events: Vec<Value> = selected.iter().map(|e| event_json(e, with_data)).collect();
        let mut out = json!({ "events": events });
        if more && let Some(last) = selected.last() {
            out["nextToken"] = json!(encode_token(&scope, last.id as usize));
        }
        Ok(out)
    }

    fn send_task_success(&self, input: &Input) -> Result<Value, SfnApiError> {
        let token = task_token(input)?;
        let output = input.required_string("output")?;
        if output.len() > MAX_PAYLOAD_BYTES {
            return Err(SfnApiError::validation(
                "output",
                "(over 256 KiB)",
                "Member must have length less than or equal to 262144",
            ));
        }
        let value: Value = serde_json::from_str(output)
            .map_err(|e| SfnApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
        self.inner
            .runner
            .send_task_success(token, value)
            .map_err(|e| self.token_error(token, &e.to_string()))?;
        Ok(json!({}))
    }

    fn send_task_failure(&self, input: &Input) -> Result<Value, SfnApiError> {
        let token = task_token(input)?;
        let error = input.string("error")?.unwrap_or("");
        check_length("error", error, 0, 256)?;
        let cause = input.string("cause")?.unwrap_or("");
        check_length("cause", cause, 0, 32_768)?;
        self.inner
            .runner
            .send_task_failure(token, error, cause)
            .map_err(|e| self.token_error(token, &e.to_string()))?;
        Ok(json!({}))
    }

    fn send_task_heartbeat(&self, input: &Input) -> Result<Value, SfnApiError> {
        let token = task_token(input)?;
        self.inner
            .runner
            .send_task_heartbeat(token)
            .map_err(|e| self.token_error(token, &e.to_string()))?;
        Ok(json!({}))
    }

    /// The runner's answer for a token no task is waiting on, as Step
    /// Functions names it: a token some task of a served execution was given
    /// (its task has since closed: it succeeded, failed, timed out, or the
    /// execution ended) is `TaskTimedOut`; a token of the runner's form that
    /// no task was given is `TaskDoesNotExist`; anything else `InvalidToken`.
    fn token_error(&self, token: &str, runner_error: &str) -> SfnApiError {
        let error = SfnApiError::from_named(runner_error);
        if error.code != "TaskDoesNotExist" {
            return error;
        }
        let issued = self.served_executions().iter().any(|h| {
            h.history().iter().any(|e| match &e.kind {
                EventKind::TaskScheduled { parameters, .. } => contains_string(parameters, token),
                EventKind::LambdaFunctionScheduled { input, .. } => contains_string(input, token),
                _ => false,
            })
        });
        if issued {
            SfnApiError::new(
                "TaskTimedOut",
                "Task Timed Out: the task token's task has already been closed",
            )
        } else if looks_like_runner_token(token) {
            SfnApiError::new(
                "TaskDoesNotExist",
                "Task Does Not Exist: no task was given this token",
            )
        } else {
            SfnApiError::invalid_token("Invalid token")
        }
    }

    fn describe_state_machine(&self, input: &Input) -> Result<Value, SfnApiError> {
        let arn = input.required_string("stateMachineArn")?;
        self.machine(arn)?;
        let machines = lock(&self.inner.machines);
        let m = machines
            .iter()
            .find(|m| m.arn == arn)
            .expect("looked up above; machines are never removed");
        Ok(json!({
            "stateMachineArn": m.arn,
            "name": m.machine.name(),
            "status": "ACTIVE",
            "definition": m.machine.definition().to_string(),
            "roleArn": self.inner.runner.config().role_arn,
            "type": "STANDARD",
            "creationDate": epoch(m.created),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
        }))
    }

    fn list_state_machines(&self, input: &Input) -> Result<Value, SfnApiError> {
        let limit = page_size(input)?;
        let scope = "ListStateMachines";
        let from = match input.string("nextToken")? {
            Some(token) => decode_token(token, scope)?,
            None => 0,
        };
        let machines = lock(&self.inner.machines);
        let items: Vec<Value> = machines
            .iter()
            .skip(from)
            .take(limit)
            .map(|m| {
                json!({
                    "stateMachineArn": m.arn,
                    "name": m.machine.name(),
                    "type": "STANDARD",
                    "creationDate": epoch(m.created),
                })
            })
            .collect();
        let mut out = json!({ "stateMachines": items });
        if from + limit < machines.len() {
            out["nextToken"] = json!(encode_token(scope, from + limit));
        }
        Ok(out)
    }
}

fn unknown_operation(operation: &str) -> SfnApiError {
    SfnApiError::new(
        "UnknownOperationException",
        format!("Unknown operation {operation:?}: this endpoint serves {OPERATIONS:?}"),
    )
}

/// Epoch seconds with millisecond precision, as awsJson1_0 sends timestamps.
fn epoch(ts: Timestamp) -> Value {
    json!(ts.as_millisecond() as f64 / 1000.0)
}

/// An event in `GetExecutionHistory`'s wire shape.
fn event_json(event: &HistoryEvent, with_data: bool) -> Value {
    let mut value = event.to_json();
    if let Value::Object(map) = &mut value {
        map.insert("timestamp".into(), epoch(event.timestamp));
        for (key, details) in map.iter_mut() {
            if !key.ends_with("EventDetails") {
                continue;
            }
            if let Value::Object(details) = details {
                details.retain(|_, v| !v.is_null());
                if !with_data {
                    details.remove("input");
                    details.remove("output");
                }
            }
        }
    }
    value
}

fn included_data(input: &Input) -> Result<bool, SfnApiError> {
    match input.string("includedData")? {
        None | Some("ALL_DATA") => Ok(true),
        Some("METADATA_ONLY") => Ok(false),
        Some(other) => Err(SfnApiError::validation(
            "includedData",
            format!("'{other}'"),
            "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]",
        )),
    }
}

fn page_size(input: &Input) -> Result<usize, SfnApiError> {
    match input.int("maxResults")? {
        None | Some(0) => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(SfnApiError::validation(
            "maxResults",
            format!("'{n}'"),
            "Member must have value less than or equal to 1000 and greater than or equal to 0",
        )),
    }
}

fn task_token<'a>(input: &Input<'a>) -> Result<&'a str, SfnApiError> {
    let token = input.required_string("taskToken")?;
    check_length("taskToken", token, 1, 2048)?;
    Ok(token)
}

fn check_length(member: &str, value: &str, min: usize, max: usize) -> Result<(), SfnApiError> {
    let chars = value.chars().count();
    if chars < min {
        return Err(SfnApiError::validation(
            member,
            format!("'{value}'"),
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if chars > max {
        return Err(SfnApiError::validation(
            member,
            "(too long)",
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// The runner's task tokens are 96 lowercase hexadecimal digits.
fn looks_like_runner_token(token: &str) -> bool {
    token.len() == 96
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn contains_string(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s == needle,
        Value::Array(items) => items.iter().any(|v| contains_string(v, needle)),
        Value::Object(map) => map.values().any(|v| contains_string(v, needle)),
        _ => false,
    }
}

/// A page token: the operation and its scope (so a token is only good for
/// the listing that gave it) and a position, base64url.
fn encode_token(scope: &str, position: usize) -> String {
    URL_SAFE_NO_PAD.encode(json!({"s": scope, "p": position}).to_string())
}

fn decode_token(token: &str, scope: &str) -> Result<usize, SfnApiError> {
    check_length("nextToken", token, 1, 1024)?;
    let decoded: Option<Value> = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    match decoded {
        Some(v) if v["s"] == scope => v["p"]
            .as_u64()
            .map(|p| p as usize)
            .ok_or_else(|| SfnApiError::invalid_token(token)),
        _ => Err(SfnApiError::invalid_token(token)),
    }
}

/// A request's members, typed as the service reads them: a member of the
/// wrong JSON type is a `SerializationException`, a missing required one a
/// `ValidationException`; `null` is absent; unknown members are ignored.
struct Input<'a>(&'a Map<String, Value>);

impl<'a> Input<'a> {
    fn get(&self, member: &str) -> Option<&'a Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    fn string(&self, member: &str) -> Result<Option<&'a str>, SfnApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(SfnApiError::serialization(member, "a string")),
        }
    }

    fn required_string(&self, member: &str) -> Result<&'a str, SfnApiError> {
        self.string(member)?.ok_or_else(|| SfnApiError::missing(member))
    }

    fn int(&self, member: &str) -> Result<Option<i64>, SfnApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| SfnApiError::serialization(member, "an integer")),
        }
    }

    fn bool(&self, member: &str) -> Result<Option<bool>, SfnApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(SfnApiError::serialization(member, "a boolean")),
        }
    }
}

// ---- HTTP ----

async fn handle(State(api): State<SfnApi>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .filter(|_| method == Method::POST);
    let result = match target.and_then(|t| t.strip_prefix(TARGET_PREFIX)) {
        None => Err(unknown_operation(target.unwrap_or("(none)"))),
        Some(operation) if !OPERATIONS.contains(&operation) => Err(unknown_operation(operation)),
        Some(operation) => parse_body(&body).and_then(|input| {
            let result = api.call(operation, &input);
            if let Err(e) = &result {
                tracing::debug!(operation, code = %e.code, "Step Functions API error");
            }
            result
        }),
    };
    let (status, body, error) = match result {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => (
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"__type": e.code, "message": e.message}),
            Some(e.code),
        ),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(code) = error.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    response
}

fn parse_body(body: &[u8]) -> Result<Value, SfnApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(SfnApiError::new(
            "SerializationException",
            "the request body must be a JSON object",
        )),
        Err(e) => Err(SfnApiError::new(
            "SerializationException",
            format!("the request body is not valid JSON: {e}"),
        )),
    }
}

/// A running Step Functions API server. Dropping it (or
/// [`hlx_loopback_server::ServerHandle::shutdown`]) stops it gracefully;
/// `endpoint_url()` is `AWS_ENDPOINT_URL_SFN` for a client.
pub type SfnServer = hlx_loopback_server::ServerHandle;

/// Drives a virtual-time runner for clients that cannot: a background task
/// that, whenever an execution is running, waits on the runner
/// ([`Runner::wait_all`]), so that time jumps ahead as soon as every running
/// execution is idle, and otherwise sleeps until an execution starts. An
/// execution started over the API then runs to its end in milliseconds of
/// wall time, unless it waits on a task token (it waits until one of the
/// `SendTask*` calls comes). Nothing tells virtual time when a caller will
/// answer, so a callback task's `TimeoutSeconds` or `HeartbeatSeconds` runs
/// out as soon as its execution waits on the token: serve a real-time runner
/// for callbacks with deadlines. On a real-time runner the driver does
/// nothing. Stops when dropped.
#[derive(Debug)]
pub struct TimeDriver {
    task: Option<JoinHandle<()>>,
}

impl TimeDriver {
    /// Starts driving `runner` in a task of the current tokio runtime.
    pub fn spawn(runner: &Runner) -> TimeDriver {
        if !runner.is_virtual() {
            return TimeDriver { task: None };
        }
        let started = Arc::new(Notify::new());
        let signal = started.clone();
        runner.on_event(move |_, event| {
            if matches!(event.kind, EventKind::ExecutionStarted { .. }) {
                signal.notify_one();
            }
        });
        let runner = runner.clone();
        let task = tokio::spawn(async move {
            loop {
                let running = runner
                    .executions()
                    .iter()
                    .any(|h| h.status() == ExecutionStatus::Running);
                if running {
                    runner.wait_all().await;
                } else {
                    // A start after the check leaves a permit: no start is missed.
                    started.notified().await;
                }
            }
        });
        TimeDriver { task: Some(task) }
    }
}

impl Drop for TimeDriver {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_parsed_strictly() {
        let arn = parse_arn("arn:aws:states:us-east-1:123456789012:execution:m:n").unwrap();
        assert_eq!((arn.kind, arn.rest), ("execution", "m:n"));
        for bad in [
            "",
            "m",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:states:us-east-1:acct:stateMachine:m",
            "arn:aws:states::123456789012:stateMachine:m",
            "arn:aws:states:us-east-1:123456789012:stateMachine:",
        ] {
            assert!(parse_arn(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_bound_to_their_listing() {
        let token = encode_token("ListExecutions\narn\n", 7);
        assert_eq!(decode_token(&token, "ListExecutions\narn\n").unwrap(), 7);
        assert_eq!(
            decode_token(&token, "ListExecutions\narn\nRUNNING")
                .unwrap_err()
                .code,
            "InvalidToken"
        );
        assert_eq!(decode_token("not a token", "x").unwrap_err().code, "InvalidToken");
        assert_eq!(decode_token("", "x").unwrap_err().code, "ValidationException");
    }

    #[test]
    fn runner_errors_keep_their_names() {
        let e = SfnApiError::from_named("ExecutionAlreadyExists: an execution named 'x' already exists");
        assert_eq!(e.code, "ExecutionAlreadyExists");
        assert_eq!(e.message, "an execution named 'x' already exists");
        assert_eq!(SfnApiError::from_named("no name here").code, "InternalFailure");
    }
}
