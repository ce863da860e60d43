//! The HTTP side of a request and its answer: the request id, the query
//! parameters a route takes, the JSON body (and its media type), the
//! `Location` header, and a JSON answer.

use std::collections::BTreeSet;

use lambda_http::http::{HeaderValue, Response, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The request id API Gateway gave the request (or the Lambda invocation's).
pub(super) fn request_id(request: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        && let Some(id) = &context.request_id
    {
        return Some(id.clone());
    }
    request.lambda_context_ref().map(|c| c.request_id.clone())
}

/// Refuses query parameters a route does not define, and repeated ones.
pub(super) fn check_query(request: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let query = request.query_string_parameters();
    let names: BTreeSet<&str> = query.iter().map(|(k, _)| k).collect();
    for name in names {
        if !allowed.contains(&name) {
            let rule = if allowed.is_empty() {
                "is not a parameter of this route (it takes none)".to_owned()
            } else {
                format!("is not a parameter of this route (expected one of {allowed:?})")
            };
            return Err(ApiError::invalid(name, rule));
        }
        if query.all(name).is_some_and(|values| values.len() > 1) {
            return Err(ApiError::invalid(name, "must be given at most once"));
        }
    }
    Ok(())
}

pub(super) fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// The POST body as a JSON object (an empty body is `{}`).
pub(super) fn read_body(request: &Request, max_bytes: usize) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > max_bytes {
        return Err(ApiError::too_large(max_bytes));
    }
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let text = content_type.to_str().unwrap_or("(not text)");
        if !is_json_media_type(text) {
            return Err(ApiError::unsupported_media_type(&truncate(text, 100)));
        }
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match hlx_core::fields::parse_json_body(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid(
            "body",
            format!(
                "must be a JSON object, got {}",
                hlx_core::fields::json_kind(&other)
            ),
        )),
        // serde's message gives the line and column, never the content.
        Err(err) => {
            let field = hlx_core::FieldError::from(err);
            Err(ApiError::invalid(field.field, field.rule))
        }
    }
}

/// `application/json`, `application/<anything>+json`, with any parameters.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Where the job will be read: the path the caller used (stage or base
/// path included) with the id appended.
pub(super) fn location(request: &Request, id: &str) -> String {
    let context_path = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.path.clone(),
        _ => None,
    };
    let base = context_path.unwrap_or_else(|| match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    });
    format!("{}/{id}", base.trim_end_matches('/'))
}

pub(super) fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A JSON answer that no cache keeps.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("answers serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .expect("a valid response")
}
