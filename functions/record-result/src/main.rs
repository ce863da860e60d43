//! record-result: writes the export's job record to DynamoDB; a record only
//! ever moves forward, and a repeated terminal write is a no-op.

use hlx_aws::DynamoDbJobStore;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let table = hlx_aws::config::table_name()?;
    let config = hlx_aws::config::sdk_config().await;
    let store = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::record_result(store, event.payload).await
    }))
    .await
}
