//! `GET /exports/{id}`, `GET /imports/{id}`: the job record, or, before the
//! first write, the record its execution stands for.

use hlx_core::{JobKind, JobStore};
use lambda_http::Body;
use lambda_http::http::{Response, StatusCode};

use super::Api;
use super::answers::{record_answer, record_from_execution};
use super::http::json_response;
use crate::error::{ApiError, sfn_error, store_error};
use crate::executions::ExecutionStarter;
use crate::naming::is_possible_execution_name;

impl<S: JobStore, E: ExecutionStarter> Api<S, E> {
    /// `GET /exports/{id}`, `GET /imports/{id}`.
    pub(super) async fn get(
        &self,
        kind: JobKind,
        id: &str,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let unknown = || ApiError::not_found(format!("no {kind} has the id {id:?}"));
        if !is_possible_execution_name(id) {
            return Err(unknown());
        }
        if let Some(record) = self
            .store
            .get(kind, id)
            .await
            .map_err(|e| store_error(e, request_id))?
        {
            return Ok(json_response(StatusCode::OK, &record_answer(&record)));
        }
        // No record yet: the execution may have started and not reached its
        // first write (or may have ended without one). The same state machine
        // runs both kinds: an execution of the other kind is not this one's.
        match self
            .executions
            .describe(id)
            .await
            .map_err(|e| sfn_error("DescribeExecution", e, request_id))?
        {
            Some(execution) => {
                let record = record_from_execution(&execution, self.clock.now());
                if record.kind != kind {
                    return Err(unknown());
                }
                Ok(json_response(StatusCode::OK, &record_answer(&record)))
            }
            None => Err(unknown()),
        }
    }
}
