//! job-events: the target of the EventBridge rule on HealthLake's job
//! events. Looks up the token of the execution waiting for the event's job
//! and sends it back when the event says the job moved on; duplicates,
//! strangers' jobs and tokens whose task has moved on are logged no-ops, and
//! any other failure fails the invocation so that EventBridge retries it.

use hlx_aws::{DynamoDbJobStore, SdkTaskTokens};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let table = hlx_aws::config::table_name()?;
    let config = hlx_aws::config::sdk_config().await;
    let waits = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let tokens = SdkTaskTokens::new(aws_sdk_sfn::Client::new(&config));
    let (waits, tokens) = (&waits, &tokens);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::job_events(waits, tokens, event.payload).await
    }))
    .await
}
