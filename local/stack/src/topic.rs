//! The stack's SNS topic, local: what the state machine publishes through
//! Step Functions' `arn:aws:states:::sns:publish` integration (a verdict
//! other than `VERIFIED`, a nightly export's verdict) is kept in order, for
//! `hlx local` to print and the tests to read. SNS's rules on a publish are
//! kept: the topic must exist, a message is required (at most 256 KiB), a
//! subject is at most 100 printable ASCII characters on one line.

use std::sync::{Arc, Mutex};

use hlx_asl_runner::{BoxFuture, TaskContext, TaskError, TaskInvoker};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::names::{ACCOUNT, REGION};

/// The resource of Step Functions' SNS publish integration.
pub const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";

/// The local topic's ARN (`${AlarmTopicArn}` in the definition).
pub fn topic_arn() -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:hlx-alarms")
}

/// One message published to the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: Option<String>,
    pub message: String,
    /// The execution that published it.
    pub execution: String,
    /// When (the runner's clock).
    pub published_at: Timestamp,
}

/// The topic's messages.
#[derive(Debug, Clone, Default)]
pub struct LocalTopic(Arc<Mutex<Vec<Notice>>>);

impl LocalTopic {
    pub fn notices(&self) -> Vec<Notice> {
        self.0.lock().expect("topic").clone()
    }

    fn publish(&self, parameters: &Value, ctx: &TaskContext) -> Result<Value, TaskError> {
        let invalid = |message: String| TaskError::new("SNS.InvalidParameterException", message);
        let topic = parameters
            .get("TopicArn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if topic != topic_arn() {
            return Err(TaskError::new(
                "SNS.NotFoundException",
                format!("Topic does not exist: {topic:?}"),
            ));
        }
        let message = parameters
            .get("Message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| invalid("Invalid parameter: Empty message".into()))?;
        if message.len() > 256 * 1024 {
            return Err(invalid("Invalid parameter: Message too long".into()));
        }
        let subject = parameters.get("Subject").and_then(Value::as_str);
        if let Some(subject) = subject {
            let printable = subject.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
            if subject.is_empty() || subject.len() > 100 || !printable {
                return Err(invalid("Invalid parameter: Subject".into()));
            }
        }
        let mut notices = self.0.lock().expect("topic");
        notices.push(Notice {
            subject: subject.map(str::to_owned),
            message: message.to_owned(),
            execution: ctx.execution_arn.clone(),
            published_at: ctx.state_entered_time,
        });
        Ok(json!({ "MessageId": format!("local-{:08}", notices.len()) }))
    }
}

/// The runner's invoker: SNS publishes to the local topic, every other task
/// to the functions.
pub(crate) struct StackInvoker {
    pub(crate) topic: LocalTopic,
    pub(crate) functions: Box<dyn TaskInvoker>,
}

impl TaskInvoker for StackInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        if resource == SNS_PUBLISH {
            let answer = self.topic.publish(&parameters, ctx);
            return Box::pin(async move { answer });
        }
        self.functions.invoke(resource, parameters, ctx)
    }
}
