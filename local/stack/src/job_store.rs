//! The job store choice: job history in memory for the run's lifetime, or
//! in a DynamoDB-compatible server (the table created when missing), behind
//! the one [`LocalStore`] the functions and the stack share.

use hlx_aws::{AnyJobStore, DynamoDbJobStore};
use hlx_core::InMemoryJobStore;

use crate::config::History;

/// Where a local run keeps job history: in memory, or a DynamoDB-compatible server.
pub type LocalStore = AnyJobStore;

/// Opens the store `history` names, with the stack's SDK configuration.
pub(crate) async fn open(history: &History, sdk: &aws_config::SdkConfig) -> Result<LocalStore, String> {
    Ok(match history {
        History::Embedded => LocalStore::Memory(InMemoryJobStore::new()),
        History::DynamoDb { endpoint, table } => {
            let client = aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .endpoint_url(endpoint)
                    .build(),
            );
            let store = DynamoDbJobStore::new(client, table);
            store
                .create_table()
                .await
                .map_err(|e| format!("the table {table} could not be created at {endpoint}: {e}"))?;
            LocalStore::DynamoDb(store)
        }
    })
}
