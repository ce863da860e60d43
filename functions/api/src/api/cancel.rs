//! `DELETE /exports/{id}`: HealthLake asked to cancel an export's job.

use hlx_core::{CancelError, HlxError, JobKind, JobStore};
use lambda_http::Body;
use lambda_http::http::{Response, StatusCode};

use super::Api;
use super::answers::record_from_execution;
use super::http::json_response;
use crate::error::{ApiError, sfn_error, store_error};
use crate::executions::ExecutionStarter;
use crate::naming::is_possible_execution_name;

impl<S: JobStore, E: ExecutionStarter> Api<S, E> {
    /// `DELETE /exports/{id}`: asks HealthLake to cancel the export's job.
    /// 202 with HealthLake's answer; HealthLake's refusal is a 409 that
    /// carries its words (data stores created before 2023-06-01 cannot cancel).
    pub(super) async fn cancel(
        &self,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let Some(healthlake) = &self.healthlake else {
            return Err(ApiError::not_configured(
                "cancelling is not configured on this API (no HealthLake client)",
            ));
        };
        if !is_possible_execution_name(id) {
            return Err(ApiError::not_found(format!("no export has the id {id:?}")));
        }
        match hlx_core::cancel_export_by_id(&self.store, healthlake, id).await {
            Ok(accepted) => Ok(json_response(StatusCode::ACCEPTED, &accepted)),
            // No record yet: an execution that has not written one has no HealthLake job to cancel.
            Err(CancelError::NotFound(_)) => match self
                .executions
                .describe(id)
                .await
                .map_err(|e| sfn_error("DescribeExecution", e, request_id))?
            {
                Some(execution)
                    if record_from_execution(&execution, self.clock.now()).kind == JobKind::Export =>
                {
                    Err(ApiError::not_cancellable(format!(
                        "export {id} has no HealthLake job yet (its execution is {}); cancel it once it has started",
                        execution.status
                    )))
                }
                _ => Err(ApiError::not_found(format!("no export has the id {id:?}"))),
            },
            Err(err @ (CancelError::NotStarted { .. } | CancelError::AlreadyEnded { .. })) => {
                Err(ApiError::not_cancellable(err.to_string()))
            }
            Err(CancelError::Failed(HlxError::HealthLake { code, message }))
                if code == "ThrottlingException" =>
            {
                tracing::warn!(%message, "HealthLake throttled the cancel");
                Err(ApiError::throttled("HealthLake"))
            }
            Err(CancelError::Failed(HlxError::HealthLake { code, message })) => {
                tracing::warn!(%code, %message, "HealthLake refused the cancel");
                Err(ApiError::not_cancellable(format!(
                    "HealthLake refused to cancel: {code}: {message}"
                )))
            }
            Err(CancelError::Failed(HlxError::HealthLakeUnavailable(detail))) => {
                tracing::error!(%detail, "HealthLake did not answer the cancel");
                Err(ApiError::unavailable("HealthLake"))
            }
            Err(CancelError::Failed(other)) => Err(store_error(other, request_id)),
        }
    }
}
