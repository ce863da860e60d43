//! record-result: writes the export's job record to DynamoDB; a record only
//! ever moves forward, and a repeated terminal write is a no-op. An export
//! recorded `SUSPECT` or `UNVERIFIABLE` counts in the `hlx`
//! `ExportsNotVerified` metric (an Embedded Metric Format log line) that the
//! stack's alarm watches.

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
        let metric =
            hlx_handlers::not_verified_metric(&event.payload, jiff::Timestamp::now().as_millisecond());
        let written = hlx_handlers::record_result(store, event.payload).await?;
        if let Some(line) = metric {
            // CloudWatch reads an Embedded Metric Format line from the log: the alarm counts it.
            println!("{line}");
        }
        Ok::<Value, hlx_handlers::FunctionError>(written)
    }))
    .await
}
