//! await-job: the function of the state machine's callback task. Stores
//! the task token against the HealthLake job, export or import (DynamoDB,
//! conditional, TTL), then
//! describes the job once and wakes the execution itself if the job has
//! already moved on, so that an event that came first is never lost.

use hlx_aws::{DynamoDbJobStore, SdkHealthLakeJobs, SdkTaskTokens};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let table = hlx_aws::config::table_name()?;
    let config = hlx_aws::config::sdk_config().await;
    let waits = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let jobs = SdkHealthLakeJobs::from_config(&config)?;
    let tokens = SdkTaskTokens::new(aws_sdk_sfn::Client::new(&config));
    let (waits, jobs, tokens) = (&waits, &jobs, &tokens);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::await_job(waits, jobs, tokens, event.payload).await
    }))
    .await
}
