//! check-job: describes the HealthLake job (export or import) once and says
//! whether it ended, timed out, or when to look again; writes a completed
//! export's `manifest.json` next to its files.

use hlx_aws::{S3ManifestStore, SdkHealthLakeJobs};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    hlx_handlers::init_logging();
    let schedule = hlx_handlers::schedule_from_env()?;
    let config = hlx_aws::config::sdk_config().await;
    let jobs = SdkHealthLakeJobs::from_config(&config)?;
    let manifests = S3ManifestStore::from_config(&config);
    let (jobs, manifests, schedule) = (&jobs, &manifests, &schedule);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        hlx_handlers::check_job(jobs, manifests, schedule, event.payload).await
    }))
    .await
}
