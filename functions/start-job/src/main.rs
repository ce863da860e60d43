//! start-job: validates a job request (an export, or an import with
//! `"kind": "import"`) and starts the HealthLake job, idempotently (the
//! client token comes from the execution name), then reads how long the data
//! store's recent jobs of that kind ran (`HLX_TABLE_NAME`; without it, the
//! configured schedule alone).

use hlx_aws::{DynamoDbJobStore, SdkHealthLakeJobs};
use hlx_core::{JobHistory, NoHistory, PollSchedule};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let schedule = hlx_handlers::schedule_from_env()?;
    let config = hlx_aws::config::sdk_config().await;
    let jobs = SdkHealthLakeJobs::from_config(&config)?;
    match hlx_aws::config::table_name() {
        Ok(table) => {
            let history = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(&config), table);
            serve(&jobs, &history, &schedule).await
        }
        Err(_) => serve(&jobs, &NoHistory, &schedule).await,
    }
}

async fn serve(
    jobs: &SdkHealthLakeJobs,
    history: &impl JobHistory,
    schedule: &PollSchedule,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::start_job(jobs, history, schedule, event.payload).await
    }))
    .await
}
