//! check-export: describes the export job once and says whether it ended,
//! timed out, or when to look again.

use hlx_core::SdkHealthLakeJobs;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let schedule = hlx_handlers::schedule_from_env()?;
    let config = hlx_core::aws::sdk_config().await;
    let jobs = SdkHealthLakeJobs::from_config(&config)?;
    let (jobs, schedule) = (&jobs, &schedule);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::check_export(jobs, schedule, event.payload).await
    }))
    .await
}
