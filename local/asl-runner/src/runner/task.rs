//! One attempt of a Task state: input processing, the call through the
//! [`TaskInvoker`](crate::invoker::TaskInvoker) (with its timeout, heartbeat
//! and task token), the task events in the history, and output processing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::interp::Interp;
use super::lock;
use super::states::{add_seconds, apply_io_path, apply_result_path};
use super::task_token::{TokenOutcome, TokenSlot};
use crate::definition::{Resource, Seconds, State, TaskState};
use crate::error::{StatesError, check_payload_size, names};
use crate::history::EventKind;
use crate::intrinsic::EvalEnv;
use crate::invoker::{Integration, TaskContext, TaskError, lambda_function_name};
use crate::sched::sleep_opt;

/// How a task shows up in the history.
struct TaskLabels {
    lambda_function: bool,
    resource_type: String,
    resource: String,
}

impl TaskLabels {
    fn new(task: &TaskState) -> TaskLabels {
        match &task.resource {
            Resource::LambdaFunction { .. } => TaskLabels {
                lambda_function: true,
                resource_type: "lambda".into(),
                resource: task.resource_text.clone(),
            },
            Resource::LambdaInvoke { wait_for_task_token } => TaskLabels {
                lambda_function: false,
                resource_type: "lambda".into(),
                resource: if *wait_for_task_token {
                    "invoke.waitForTaskToken".into()
                } else {
                    "invoke".into()
                },
            },
            Resource::Service { .. } => {
                // arn:aws:states:::SERVICE:ACTION[.waitForTaskToken]
                let mut parts = task.resource_text.splitn(7, ':').skip(5);
                TaskLabels {
                    lambda_function: false,
                    resource_type: parts.next().unwrap_or_default().to_owned(),
                    resource: parts.next().unwrap_or_default().to_owned(),
                }
            }
        }
    }

    fn failed(&self, err: &StatesError) -> EventKind {
        let timed_out = err.error == names::TIMEOUT || err.error == names::HEARTBEAT_TIMEOUT;
        match (self.lambda_function, timed_out) {
            (true, false) => EventKind::LambdaFunctionFailed {
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (true, true) => EventKind::LambdaFunctionTimedOut {
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (false, false) => EventKind::TaskFailed {
                resource_type: self.resource_type.clone(),
                resource: self.resource.clone(),
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
            (false, true) => EventKind::TaskTimedOut {
                resource_type: self.resource_type.clone(),
                resource: self.resource.clone(),
                error: err.error.clone(),
                cause: err.cause.clone(),
            },
        }
    }
}

impl Interp {
    fn seconds(
        &self,
        spec: Option<&Seconds>,
        effective: &Value,
        field: &str,
    ) -> Result<Option<u64>, StatesError> {
        match spec {
            None => Ok(None),
            Some(Seconds::Fixed(n)) => Ok(Some(*n)),
            Some(Seconds::Path(p)) => match p.select(effective).as_ref().and_then(Value::as_u64) {
                Some(n) if n > 0 => Ok(Some(n)),
                other => Err(StatesError::runtime(format!(
                    "The {field} '{p}' must reference a positive integer, found {}",
                    other.map_or("nothing".to_owned(), |v| v.to_string())
                ))),
            },
        }
    }

    /// One attempt of a Task state: input processing, the call, output
    /// processing.
    pub(super) async fn task_attempt(
        &mut self,
        state: &State,
        task: &TaskState,
        raw: &Value,
        entered: Timestamp,
        retry_count: u64,
    ) -> Result<Value, StatesError> {
        let effective = apply_io_path(raw, &task.input_path, "InputPath")?;
        let timeout = self.seconds(task.timeout.as_ref(), &effective, "TimeoutSecondsPath")?;
        let heartbeat = self.seconds(task.heartbeat.as_ref(), &effective, "HeartbeatSecondsPath")?;
        let token = task.resource.waits_for_task_token().then(|| self.random_hex(48));
        let ctx_obj = self.context(&state.name, entered, retry_count, token.as_deref());
        let parameters = match &task.parameters {
            Some(t) => t.eval(&mut EvalEnv {
                input: &effective,
                context: &ctx_obj,
                rng: &mut self.rng,
            })?,
            None => effective.clone(),
        };
        check_payload_size("task parameters", &parameters)?;

        let region = self.rt.config.region.clone();
        let (target, function_name, payload, integration) = match &task.resource {
            Resource::LambdaFunction { arn, function_name } => (
                arn.clone(),
                Some(function_name.clone()),
                parameters.clone(),
                Integration::LambdaFunction,
            ),
            Resource::LambdaInvoke { .. } => {
                let reference = match parameters.get("FunctionName") {
                    Some(Value::String(s)) => s.clone(),
                    other => {
                        return Err(StatesError::runtime(format!(
                            "lambda:invoke needs a string FunctionName, found {}",
                            other.map_or("nothing".to_owned(), |v| v.to_string())
                        )));
                    }
                };
                let name = lambda_function_name(&reference).to_owned();
                let arn = if reference.starts_with("arn:") {
                    reference.clone()
                } else {
                    format!(
                        "arn:aws:lambda:{region}:{}:function:{reference}",
                        self.rt.config.account
                    )
                };
                let payload = parameters.get("Payload").cloned().unwrap_or(json!({}));
                (arn, Some(name), payload, Integration::LambdaInvoke)
            }
            Resource::Service { resource, .. } => {
                (resource.clone(), None, parameters.clone(), Integration::Service)
            }
        };

        let labels = TaskLabels::new(task);
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionScheduled {
                resource: target.clone(),
                input: parameters.clone(),
                timeout_in_seconds: timeout,
            });
        } else {
            self.emit(EventKind::TaskScheduled {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
                region,
                parameters: parameters.clone(),
                timeout_in_seconds: timeout,
                heartbeat_in_seconds: heartbeat,
            });
        }
        let scheduled = self.now();
        let deadline = timeout.map(|s| add_seconds(scheduled, s));
        let heartbeat_at = Arc::new(Mutex::new(heartbeat.map(|s| add_seconds(scheduled, s))));
        let flags = self.ex.flags.clone();
        let request_id = self.request_id();
        let tctx = TaskContext {
            execution_arn: self.ex.info.arn.clone(),
            execution_name: self.ex.info.name.clone(),
            state_machine_arn: self.ex.state_machine_arn.clone(),
            state_name: state.name.clone(),
            state_entered_time: entered,
            retry_count,
            integration,
            function_name,
            request_id: request_id.clone(),
            task_token: token.clone(),
            deadline,
            flags: flags.clone(),
        };
        let token_rx = token.as_ref().map(|token| {
            let (tx, rx) = oneshot::channel();
            lock(&self.rt.tokens).insert(
                token.clone(),
                TokenSlot {
                    exec: flags.id(),
                    tx,
                    heartbeat: heartbeat_at.clone(),
                    heartbeat_seconds: heartbeat,
                },
            );
            rx
        });
        self.stats(|s| *s.task_invocations.entry(target.clone()).or_default() += 1);
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionStarted);
        } else {
            self.emit(EventKind::TaskStarted {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
            });
        }

        let invoker = self.rt.invoker.clone();
        let call = async {
            let result = invoker
                .invoke(&target, payload, &tctx)
                .await
                .map_err(|TaskError { error, cause }| StatesError::new(error, cause))?;
            let result = if integration == Integration::LambdaInvoke {
                lambda_invoke_output(result, &request_id)
            } else {
                result
            };
            match token_rx {
                None => Ok(result),
                Some(rx) => {
                    self.emit(EventKind::TaskSubmitted {
                        resource_type: labels.resource_type.clone(),
                        resource: labels.resource.clone(),
                        output: result,
                    });
                    match flags.idle(rx).await {
                        Ok(TokenOutcome::Success(v)) => Ok(v),
                        Ok(TokenOutcome::Failure(e)) => Err(e),
                        Err(_) => std::future::pending().await,
                    }
                }
            }
        };
        let heartbeat_watch = async {
            loop {
                let at = *lock(&heartbeat_at);
                sleep_opt(&flags, at).await;
                let at = *lock(&heartbeat_at);
                if at.is_some_and(|at| at <= self.rt.sched.now()) {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            biased;
            r = call => r,
            () = sleep_opt(&flags, deadline) => Err(StatesError::without_cause(names::TIMEOUT)),
            () = heartbeat_watch => Err(StatesError::without_cause(names::HEARTBEAT_TIMEOUT)),
        };
        if let Some(token) = &token {
            lock(&self.rt.tokens).remove(token);
        }
        let result = outcome
            .and_then(|r| check_payload_size("task result", &r).map(|()| r))
            .inspect_err(|err| self.emit(labels.failed(err)))?;
        if labels.lambda_function {
            self.emit(EventKind::LambdaFunctionSucceeded {
                output: result.clone(),
            });
        } else {
            self.emit(EventKind::TaskSucceeded {
                resource_type: labels.resource_type.clone(),
                resource: labels.resource.clone(),
                output: result.clone(),
            });
        }
        let selected = match &task.result_selector {
            Some(t) => t.eval(&mut EvalEnv {
                input: &result,
                context: &ctx_obj,
                rng: &mut self.rng,
            })?,
            None => result,
        };
        let output = apply_result_path(raw, &task.result_path, selected)?;
        apply_io_path(&output, &task.output_path, "OutputPath")
    }
}

/// The output of `arn:aws:states:::lambda:invoke`: the function's result
/// under `Payload`, with the invocation's metadata around it.
fn lambda_invoke_output(payload: Value, request_id: &str) -> Value {
    let headers: BTreeMap<&str, &str> = BTreeMap::from([
        ("Content-Type", "application/json"),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("x-amzn-RequestId", request_id),
    ]);
    let all_headers: BTreeMap<&str, [&str; 1]> = headers.iter().map(|(k, v)| (*k, [*v])).collect();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": all_headers,
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    })
}
