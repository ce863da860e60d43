//! Serving the API over plain HTTP on this machine (`api-local`), with the
//! handler the Lambda runs.
//!
//! A plain HTTP request is turned into the event API Gateway (REST, proxy
//! integration) would send for it, and that event into a `lambda_http::Request`
//! by `lambda_http`'s own conversion: the handler sees what it sees in AWS,
//! resource path and path parameters included.
//!
//! The job store and the state machine are in memory by default
//! ([`InMemoryJobStore`], [`FakeStateMachine`]); with a DynamoDB or Step
//! Functions endpoint configured (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SFN`, or `AWS_ENDPOINT_URL` for both) the real SDK
//! adapters are used against it.

use std::sync::atomic::{AtomicU64, Ordering};

use hlx_core::JobRecord;
use lambda_http::Request;
use lambda_http::http::request::Parts;
use serde_json::{Map, Value, json};

use crate::api::percent_decode;
use crate::executions::{ExecutionInfo, ExecutionStarter, SdkExecutionStarter, SfnError, StartedExecution};
use crate::fake::FakeStateMachine;

/// The stage name the local events carry (`$default` keeps paths unprefixed).
pub const LOCAL_STAGE: &str = "$default";

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// The API Gateway resources the description defines, each with its `{id}` item.
const COLLECTIONS: [&str; 2] = ["/exports", "/imports"];

/// The API Gateway resource a path matches, and its path parameters.
fn match_resource(path: &str) -> (String, Option<Value>) {
    for collection in COLLECTIONS {
        if path == collection {
            return (collection.into(), None);
        }
        if let Some(id) = path
            .strip_prefix(collection)
            .and_then(|rest| rest.strip_prefix('/'))
            && !id.is_empty()
            && !id.contains('/')
            && let Some(id) = percent_decode(id)
        {
            return (format!("{collection}/{{id}}"), Some(json!({ "id": id })));
        }
    }
    // API Gateway would refuse the path itself (or its id is not UTF-8 once
    // decoded); the handler answers 404.
    (path.to_owned(), None)
}

/// `a=1&b=x+y&a=2` → single-value (last wins) and multi-value maps, decoded.
fn query_maps(query: Option<&str>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // `+` is a space, as in forms; text that does not decode to UTF-8
        // stays as sent (and fails the parameter's own rules).
        let decode = |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_else(|| s.to_owned());
        let (name, value) = (decode(name), decode(value));
        single.insert(name.clone(), Value::String(value.clone()));
        match multi.entry(name).or_insert_with(|| Value::Array(vec![])) {
            Value::Array(values) => values.push(Value::String(value)),
            _ => unreachable!("only arrays are inserted"),
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

/// The API Gateway REST proxy event for a plain HTTP request.
pub fn api_gateway_event(parts: &Parts, body: &[u8]) -> Value {
    let path = parts.uri.path();
    let (resource, path_parameters) = match_resource(path);
    let (query, multi_query) = query_maps(parts.uri.query());
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = value.as_ref();
        headers.insert(name.as_str().to_owned(), Value::String(value.to_owned()));
        match multi_headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(vec![]))
        {
            Value::Array(values) => values.push(Value::String(value.to_owned())),
            _ => unreachable!("only arrays are inserted"),
        }
    }
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(aws_smithy_types::base64::encode(body)), true),
    };
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let request_id = format!("local-{:08}", REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed));
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "resourceId": "local",
            "stage": LOCAL_STAGE,
            "requestId": request_id,
            "resourcePath": resource,
            "httpMethod": parts.method.as_str(),
            "path": path,
            "protocol": "HTTP/1.1",
            "domainName": host,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "api-local"},
            "requestTimeEpoch": jiff::Timestamp::now().as_millisecond()
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

/// The `lambda_http::Request` the Lambda runtime would hand the handler.
pub fn lambda_request(parts: &Parts, body: &[u8]) -> Result<Request, String> {
    let event = api_gateway_event(parts, body);
    lambda_http::request::from_str(&event.to_string())
        .map_err(|e| format!("the event could not be read: {e}"))
}

/// The job store `api-local` uses.
pub type LocalStore = hlx_aws::AnyJobStore;

/// The state machine `api-local` starts.
#[derive(Debug)]
pub enum LocalStateMachine {
    Fake(FakeStateMachine),
    StepFunctions(SdkExecutionStarter),
}

impl ExecutionStarter for LocalStateMachine {
    async fn start(&self, name: &str, input: &str) -> Result<StartedExecution, SfnError> {
        match self {
            Self::Fake(sfn) => sfn.start(name, input).await,
            Self::StepFunctions(sfn) => sfn.start(name, input).await,
        }
    }

    async fn describe(&self, name: &str) -> Result<Option<ExecutionInfo>, SfnError> {
        match self {
            Self::Fake(sfn) => sfn.describe(name).await,
            Self::StepFunctions(sfn) => sfn.describe(name).await,
        }
    }
}

/// Job records from a seed file: a JSON array of records, or one record per line.
pub fn parse_seed(text: &str) -> Result<Vec<JobRecord>, String> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| format!("not a JSON array of job records: {e}"));
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| format!("line {}: not a job record: {e}", n + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use lambda_http::http;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn an_export_path_becomes_the_templated_resource_with_its_decoded_id() {
        let request = lambda_request(&parts("GET", "/exports/api%2Dx%20y", &[]), b"").unwrap();
        assert_eq!(request.path_parameters().first("id"), Some("api-x y"));
        assert_eq!(request.raw_http_path(), "/exports/api%2Dx%20y");
        let Some(lambda_http::request::RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        else {
            panic!("an API Gateway REST context");
        };
        assert_eq!(context.resource_path.as_deref(), Some("/exports/{id}"));
        assert!(context.request_id.as_deref().unwrap().starts_with("local-"));
    }

    #[test]
    fn ids_decode_to_their_last_escape_and_one_that_is_not_utf8_matches_no_resource() {
        let request = lambda_request(&parts("GET", "/exports/api-k-%41", &[]), b"").unwrap();
        assert_eq!(request.path_parameters().first("id"), Some("api-k-A"));
        let request = lambda_request(&parts("GET", "/exports/api-k-%FF", &[]), b"").unwrap();
        assert_eq!(request.path_parameters().first("id"), None);
        assert_eq!(crate::api::resource(&request), None);
    }

    #[test]
    fn an_import_path_becomes_its_own_templated_resource() {
        let request = lambda_request(&parts("GET", "/imports/api-import-k-1", &[]), b"").unwrap();
        assert_eq!(request.path_parameters().first("id"), Some("api-import-k-1"));
        let Some(lambda_http::request::RequestContext::ApiGatewayV1(context)) = request.request_context_ref()
        else {
            panic!("an API Gateway REST context");
        };
        assert_eq!(context.resource_path.as_deref(), Some("/imports/{id}"));
        let list = lambda_request(&parts("GET", "/imports", &[]), b"").unwrap();
        assert_eq!(
            crate::api::resource(&list),
            Some(crate::api::Resource::Jobs(hlx_core::JobKind::Import))
        );
    }

    #[test]
    fn query_headers_and_body_arrive_as_api_gateway_sends_them() {
        let request = lambda_request(
            &parts(
                "POST",
                "/exports?limit=5&nextToken=a%2Bb%3D&x=1&x=2&q=a+b",
                &[("content-type", "application/json"), ("idempotency-key", "k1")],
            ),
            br#"{"jobName":"n"}"#,
        )
        .unwrap();
        let query = request.query_string_parameters();
        assert_eq!(query.first("limit"), Some("5"));
        assert_eq!(query.first("nextToken"), Some("a+b="));
        assert_eq!(query.first("q"), Some("a b"));
        assert_eq!(query.all("x"), Some(vec!["1", "2"]));
        assert_eq!(request.method(), "POST");
        assert_eq!(request.headers()["idempotency-key"], "k1");
        assert_eq!(request.body().as_ref(), br#"{"jobName":"n"}"#);
        assert_eq!(request.uri().path(), "/exports");
    }

    #[test]
    fn binary_bodies_travel_base64_encoded_and_arrive_as_bytes() {
        let bytes = [0xff, 0x00, 0xfe];
        let request = lambda_request(&parts("POST", "/exports", &[]), &bytes).unwrap();
        assert_eq!(request.body().as_ref(), &bytes);
        let empty = lambda_request(&parts("POST", "/exports", &[]), b"").unwrap();
        assert!(empty.body().is_empty());
    }

    #[test]
    fn other_paths_keep_their_own_resource() {
        for path in [
            "/",
            "/exports/",
            "/exports/a/b",
            "/other",
            "/imports/",
            "/imports/a/b",
            "/importsx",
        ] {
            let request = lambda_request(&parts("GET", path, &[]), b"").unwrap();
            assert!(request.path_parameters_ref().is_none(), "{path}");
            assert_eq!(crate::api::resource(&request), None, "{path}");
        }
    }

    #[test]
    fn seeds_are_arrays_or_lines() {
        let record = r#"{"id":"e1","executionArn":"arn:x","status":"COMPLETED","executionStartedAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T01:00:00Z"}"#;
        assert_eq!(parse_seed(&format!("[{record}]")).unwrap().len(), 1);
        assert_eq!(parse_seed(&format!("{record}\n\n{record}\n")).unwrap().len(), 2);
        assert!(parse_seed("{\"exportId\": 1}").unwrap_err().starts_with("line 1"));
        assert!(parse_seed("[1]").is_err());
    }
}
