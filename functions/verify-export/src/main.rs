//! verify-export: reads a completed export back from S3 and judges it
//! (`VERIFIED`, `SUSPECT` with its reasons, `UNVERIFIABLE`). One binary for
//! the three steps the state machine calls: `begin` (verifies a small export
//! in this invocation), a Distributed Map child's batch of files, and
//! `fold`. It reads the job history (`HLX_TABLE_NAME`) for the previous
//! export of the same scope; settings in `HLX_VERIFY_*`.

use hlx_aws::{DynamoDbJobStore, S3ExportObjects};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    hlx_handlers::remove_stale_id_runs();
    let policy = hlx_handlers::verify_policy_from_env()?;
    let table = hlx_aws::config::table_name()?;
    let config = hlx_aws::config::sdk_config().await;
    let store = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&config), table);
    let objects = S3ExportObjects::from_config(&config);
    let (store, objects, policy) = (&store, &objects, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::verify_export(objects, store, policy, event.payload).await
    }))
    .await
}
