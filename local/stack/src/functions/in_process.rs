//! hlx's functions called in process: the same handlers the binaries run,
//! with the same SDK clients over HTTP — HealthLake and S3 at the emulator,
//! Step Functions at the runner's API — and each invocation's duration
//! kept, as Lambda would bill it.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use hlx_asl_runner::{BoxFuture, TaskContext, TaskError, TaskInvoker};
use hlx_aws::{RestExportClient, S3ExportObjects, S3ManifestStore, SdkHealthLakeJobs, SdkTaskTokens};
use hlx_core::PollSchedule;
use hlx_core::verification::VerifyPolicy;
use serde_json::Value;

use super::Billed;
use crate::job_store::LocalStore;
use crate::names::REGION;

/// hlx's functions, called in process: the same handlers the binaries run,
/// with the same SDK clients over HTTP.
pub(crate) struct InProcessFunctions {
    jobs: SdkHealthLakeJobs,
    manifests: S3ManifestStore,
    tokens: SdkTaskTokens,
    schedule: PollSchedule,
    objects: S3ExportObjects,
    verify: VerifyPolicy,
    store: Arc<LocalStore>,
    billed: Billed,
}

impl InProcessFunctions {
    /// The functions' clients: HealthLake (its FHIR REST API too) and S3 at
    /// `healthlake_endpoint`, Step Functions at `sfn_endpoint`.
    pub(super) fn new(
        sdk: &SdkConfig,
        healthlake_endpoint: &str,
        sfn_endpoint: &str,
        schedule: PollSchedule,
        verify: VerifyPolicy,
        store: Arc<LocalStore>,
        billed: Billed,
    ) -> Result<Self, String> {
        let healthlake = aws_sdk_healthlake::Client::from_conf(
            aws_sdk_healthlake::config::Builder::from(sdk)
                .endpoint_url(healthlake_endpoint)
                .build(),
        );
        let sfn_client = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(sdk)
                .endpoint_url(sfn_endpoint)
                .build(),
        );
        let rest = RestExportClient::new(
            sdk.credentials_provider().expect("local credentials are set"),
            REGION,
            healthlake_endpoint,
        )
        .map_err(|e| format!("the FHIR REST client could not be built: {e}"))?;
        // The emulator also serves S3 over its output directory (path style).
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .endpoint_url(healthlake_endpoint)
                .force_path_style(true)
                .build(),
        );
        let manifests = S3ManifestStore::new(s3.clone());
        Ok(Self {
            jobs: SdkHealthLakeJobs::new(healthlake).with_rest(rest),
            manifests,
            tokens: SdkTaskTokens::new(sfn_client),
            schedule,
            objects: S3ExportObjects::new(s3),
            verify,
            store,
            billed,
        })
    }

    pub(crate) async fn call(&self, function: &str, payload: Value) -> Result<Value, TaskError> {
        let name = function.strip_prefix("hlx-").unwrap_or(function);
        let started = Instant::now();
        let store = self.store.as_ref();
        let result = match name {
            "start-job" => hlx_handlers::start_job(&self.jobs, store, &self.schedule, payload).await,
            "check-job" => {
                hlx_handlers::check_job(&self.jobs, &self.manifests, &self.schedule, payload).await
            }
            "record-result" => hlx_handlers::record_result(store, payload).await,
            "verify-export" => hlx_handlers::verify_export(&self.objects, store, &self.verify, payload).await,
            "await-job" => hlx_handlers::await_job(store, &self.jobs, &self.tokens, payload).await,
            "job-events" => hlx_handlers::job_events(store, &self.tokens, payload).await,
            other => {
                return Err(TaskError::new(
                    "Lambda.ResourceNotFoundException",
                    format!("Function not found: {other}"),
                ));
            }
        };
        self.billed
            .lock()
            .expect("billing lock")
            .push((name.to_owned(), started.elapsed()));
        result.map_err(|e| TaskError::lambda(e.name, e.message))
    }
}

/// The in-process functions, shared by the runner and the event bus.
pub(super) struct SharedInvoker(pub(super) Arc<InProcessFunctions>);

impl TaskInvoker for SharedInvoker {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        parameters: Value,
        ctx: &'a TaskContext,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        Box::pin(
            self.0
                .call(ctx.function_name.as_deref().unwrap_or(resource), parameters),
        )
    }
}
