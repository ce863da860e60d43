//! Task dispatch: the [`TaskInvoker`] trait and an in-process implementation.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::sched::ExecFlags;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task's failure: `error` is what Retry and Catch match (for a Lambda
/// function, its `errorType`), `cause` the details (for a Lambda function,
/// the JSON error object as a string, as Step Functions reports it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskError {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A Lambda function error as Step Functions reports it: `Error` is the
    /// function's `errorType`, `Cause` the error object as JSON text.
    pub fn lambda(error_type: impl Into<String>, error_message: impl Into<String>) -> TaskError {
        let error_type = error_type.into();
        let cause = json!({"errorType": error_type, "errorMessage": error_message.into()});
        TaskError {
            error: error_type,
            cause: cause.to_string(),
        }
    }
}

/// How the state machine calls the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integration {
    /// `Resource` is a Lambda function ARN.
    LambdaFunction,
    /// `arn:aws:states:::lambda:invoke` (optionally `.waitForTaskToken`).
    LambdaInvoke,
    /// Another `arn:aws:states:::SERVICE:ACTION`.
    Service,
}

/// What an invoker knows about the call besides the resource and payload.
#[derive(Clone)]
pub struct TaskContext {
    pub execution_arn: String,
    pub execution_name: String,
    pub state_machine_arn: String,
    pub state_name: String,
    pub state_entered_time: Timestamp,
    /// `$$.State.RetryCount`: how many retries preceded this attempt.
    pub retry_count: u64,
    pub integration: Integration,
    /// For Lambda integrations, the function's name (from the ARN or the
    /// `FunctionName` parameter).
    pub function_name: Option<String>,
    /// The Lambda request id for this invocation (deterministic per execution).
    pub request_id: String,
    /// `$$.Task.Token` for `.waitForTaskToken` tasks.
    pub task_token: Option<String>,
    /// When the state's `TimeoutSeconds` runs out, on the runner's clock.
    pub deadline: Option<Timestamp>,
    pub(crate) flags: ExecFlags,
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("execution_arn", &self.execution_arn)
            .field("state_name", &self.state_name)
            .field("retry_count", &self.retry_count)
            .field("integration", &self.integration)
            .field("function_name", &self.function_name)
            .field("request_id", &self.request_id)
            .field("task_token", &self.task_token)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl TaskContext {
    /// The runner's current time (virtual or real).
    pub fn now(&self) -> Timestamp {
        self.flags.scheduler().now()
    }

    /// Sleeps on the runner's clock: in virtual mode the task takes `duration`
    /// of virtual time (and can thereby hit its `TimeoutSeconds`) without
    /// waiting in wall time. Await it directly inside `invoke`, not from a
    /// spawned task.
    pub async fn sleep(&self, duration: SignedDuration) {
        let until = self.now().checked_add(duration).unwrap_or(Timestamp::MAX);
        self.sleep_until(until).await;
    }

    pub async fn sleep_until(&self, until: Timestamp) {
        self.flags.idle(self.flags.sleep_until(until)).await;
    }
}

/// Runs tasks. `resource` is, for Lambda integrations, the function's ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`, whichever way the
/// definition named the function) with `parameters` the payload; for other
/// integrations the task's `Resource` (without `.waitForTaskToken`) and its
/// effective parameters. The runner wraps Lambda results for
/// `lambda:invoke` (`{"Payload": ..., "StatusCode": 200, ...}`).
pub trait TaskInvoker: Send + Sync {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>>;
}

impl<T: TaskInvoker + ?Sized> TaskInvoker for Arc<T> {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        (**self).invoke(resource, parameters, ctx)
    }
}

/// The name of the function an ARN, partial ARN or name designates
/// (`arn:aws:lambda:r:a:function:NAME[:QUALIFIER]`, `a:function:NAME`,
/// `NAME[:QUALIFIER]`).
pub fn lambda_function_name(reference: &str) -> &str {
    let parts: Vec<&str> = reference.split(':').collect();
    if let Some(i) = parts.iter().position(|p| *p == "function")
        && let Some(name) = parts.get(i + 1)
    {
        return name;
    }
    parts[0]
}

/// The version or alias a function reference names, if any
/// (`arn:...:function:NAME:QUALIFIER`, `NAME:QUALIFIER`).
pub fn lambda_qualifier(reference: &str) -> Option<&str> {
    let parts: Vec<&str> = reference.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.get(i + 2).copied(),
        None if parts.len() == 2 => Some(parts[1]),
        None => None,
    }
}

/// Local invokers run one version of each function, `$LATEST`: a reference to
/// another version or alias is refused rather than silently redirected.
pub fn check_local_qualifier(reference: &str) -> Result<(), TaskError> {
    match lambda_qualifier(reference) {
        None | Some("$LATEST") => Ok(()),
        Some(q) => Err(TaskError::new(
            "Lambda.ResourceNotFoundException",
            format!("Function not found: {reference} (local functions have only $LATEST, not '{q}')"),
        )),
    }
}

type Handler = Arc<dyn Fn(Value, TaskContext) -> BoxFuture<'static, Result<Value, TaskError>> + Send + Sync>;

/// Runs tasks as async Rust closures: Lambda functions by name, other
/// resources by their resource string. Also counts calls.
#[derive(Clone, Default)]
pub struct InProcessInvoker {
    functions: HashMap<String, Handler>,
    resources: HashMap<String, Handler>,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl InProcessInvoker {
    pub fn new() -> InProcessInvoker {
        InProcessInvoker::default()
    }

    /// Handles the Lambda function `name` (matched by name, whatever ARN or
    /// qualifier the definition uses).
    pub fn function<F, Fut>(mut self, name: &str, handler: F) -> InProcessInvoker
    where
        F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.functions.insert(
            name.to_owned(),
            Arc::new(move |payload, ctx| Box::pin(handler(payload, ctx))),
        );
        self
    }

    /// Handles a non-Lambda resource (`arn:aws:states:::events:putEvents`).
    pub fn resource<F, Fut>(mut self, resource: &str, handler: F) -> InProcessInvoker
    where
        F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.resources.insert(
            resource.to_owned(),
            Arc::new(move |payload, ctx| Box::pin(handler(payload, ctx))),
        );
        self
    }

    /// Every call so far: (function name or resource, payload).
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl TaskInvoker for InProcessInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        let (key, handler) = match ctx.integration {
            Integration::LambdaFunction | Integration::LambdaInvoke => {
                let name = ctx
                    .function_name
                    .clone()
                    .unwrap_or_else(|| lambda_function_name(resource).to_owned());
                let handler = self.functions.get(&name).cloned();
                (name, handler)
            }
            Integration::Service => (resource.to_owned(), self.resources.get(resource).cloned()),
        };
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key.clone(), parameters.clone()));
        Box::pin(async move {
            if ctx.integration != Integration::Service {
                check_local_qualifier(resource)?;
            }
            match handler {
                Some(handler) => handler(parameters, ctx.clone()).await,
                None if ctx.integration == Integration::Service => Err(TaskError::new(
                    "States.Runtime",
                    format!("no in-process handler for the resource '{resource}'"),
                )),
                None => Err(TaskError::new(
                    "Lambda.ResourceNotFoundException",
                    format!("Function not found: {resource}"),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert_eq!(
            lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:start-job"),
            "start-job"
        );
        assert_eq!(
            lambda_function_name("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            "f"
        );
        assert_eq!(lambda_function_name("123456789012:function:f"), "f");
        assert_eq!(lambda_function_name("f:live"), "f");
        assert_eq!(lambda_function_name("f"), "f");
        assert_eq!(
            lambda_qualifier("arn:aws:lambda:r:1:function:f:live"),
            Some("live")
        );
        assert_eq!(lambda_qualifier("arn:aws:lambda:r:1:function:f"), None);
        assert_eq!(lambda_qualifier("1:function:f:3"), Some("3"));
        assert_eq!(lambda_qualifier("f:live"), Some("live"));
        assert_eq!(lambda_qualifier("f"), None);
        assert!(check_local_qualifier("arn:aws:lambda:r:1:function:f:$LATEST").is_ok());
        assert!(check_local_qualifier("f:live").is_err());
    }
}
