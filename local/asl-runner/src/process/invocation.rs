//! One invocation end to end: taking a warm sandbox or spawning one, handing
//! it the event, waiting for it to be taken (init) and answered (the function
//! timeout), turning crashes and timeouts into Step Functions' errors, and
//! recording it; and the [`TaskInvoker`] implementation over it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::invoker::ProcessInvoker;
use super::records::{InvocationOutcome, InvocationRecord};
use super::runtime_api::{ApiResult, Pending};
use super::{PAYLOAD_LIMIT, lock};
use crate::invoker::{
    BoxFuture, Integration, TaskContext, TaskError, TaskInvoker, check_local_qualifier, lambda_function_name,
};

impl ProcessInvoker {
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
