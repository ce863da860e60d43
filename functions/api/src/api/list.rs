//! `GET /exports`, `GET /imports`: a data store's job records, newest first,
//! a page at a time (`limit`, `nextToken`).

use hlx_core::store::MAX_PAGE;
use hlx_core::validation::check_datastore_id;
use hlx_core::{JobKind, JobStore};
use lambda_http::http::{Response, StatusCode};
use lambda_http::{Body, Request, RequestExt};

use super::Api;
use super::answers::page_answer;
use super::http::{json_response, truncate};
use crate::error::{ApiError, store_error};
use crate::executions::ExecutionStarter;

/// The page size when a list names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// The longest `nextToken` accepted (the store's tokens are far shorter).
pub const MAX_TOKEN_CHARS: usize = 4096;

impl<S: JobStore, E: ExecutionStarter> Api<S, E> {
    /// `GET /exports`, `GET /imports`.
    pub(super) async fn list(
        &self,
        kind: JobKind,
        request: &Request,
        request_id: Option<&str>,
    ) -> Result<Response<Body>, ApiError> {
        let query = request.query_string_parameters();
        let datastore_id = match query.first("datastoreId") {
            Some(given) => given.to_owned(),
            None => self.config.default_datastore_id.clone().ok_or_else(|| {
                ApiError::invalid("datastoreId", "is required (the API has no default data store)")
            })?,
        };
        check_datastore_id("datastoreId", &datastore_id).map_err(|e| ApiError::invalid(e.field, e.rule))?;
        let limit = match query.first("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => parse_limit(text)?,
        };
        let next_token = query.first("nextToken");
        if let Some(token) = next_token {
            let chars = token.chars().count();
            if chars == 0 || chars > MAX_TOKEN_CHARS {
                return Err(ApiError::invalid(
                    "nextToken",
                    format!("must be between 1 and {MAX_TOKEN_CHARS} characters long, got {chars}"),
                ));
            }
        }
        let page = self
            .store
            .list(kind, &datastore_id, limit, next_token)
            .await
            .map_err(|e| store_error(e, request_id))?;
        Ok(json_response(StatusCode::OK, &page_answer(&page)))
    }
}

fn parse_limit(text: &str) -> Result<u32, ApiError> {
    let bad = || {
        ApiError::invalid(
            "limit",
            format!(
                "must be an integer between 1 and {MAX_PAGE}, got {:?}",
                truncate(text, 20)
            ),
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u32>() {
        Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        _ => Err(bad()),
    }
}
