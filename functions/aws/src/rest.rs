//! HealthLake's FHIR REST `$export`: kick-off, status and cancel, signed with
//! SigV4 by the `aws-sigv4` crate.
//!
//! The SDK has no operation for incremental or scoped exports, nor for
//! cancelling one: they exist only on the data store's FHIR endpoint
//! (`…/datastore/{id}/r4/$export`). The endpoint, Region and credentials
//! come from the same `aws_config` defaults as the SDK clients, so
//! `AWS_ENDPOINT_URL_HEALTHLAKE` points these calls at a local stand-in too.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use serde_json::Value;

use hlx_core::healthlake::{JobDescription, RestExportJob, StartedJob};
use hlx_core::healthlake_json::{member, parse_healthlake_time};
use hlx_core::{ExportManifest, HlxError, JobStatus};

/// The signing name of HealthLake.
pub const SIGNING_NAME: &str = "healthlake";
/// How long one REST call may take before it counts as unanswered.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The signed HTTP client of the FHIR REST API.
#[derive(Clone)]
pub struct RestExportClient {
    http: HttpsClient,
    credentials: SharedCredentialsProvider,
    region: String,
    endpoint: String,
}

impl std::fmt::Debug for RestExportClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestExportClient")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A service's endpoint override as the SDK resolves it: a client-level
/// `endpoint_url`, else `AWS_ENDPOINT_URL_<SERVICE>` (or the profile's
/// `endpoint_url` for the service), else `AWS_ENDPOINT_URL`. `None`: the
/// service's public endpoint.
pub fn service_endpoint(config: &SdkConfig, service_id: &str) -> Option<String> {
    if config.get_origin("endpoint_url").is_client_config() {
        return config.endpoint_url().map(str::to_owned);
    }
    config
        .service_config()
        .and_then(|conf| {
            let key = aws_types::service_config::ServiceConfigKey::builder()
                .service_id(service_id)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .ok()?;
            conf.load_config(key)
        })
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// HealthLake's endpoint: the override ([`service_endpoint`]), else the Region's.
pub fn healthlake_endpoint(config: &SdkConfig, region: &str) -> String {
    service_endpoint(config, "HealthLake")
        .unwrap_or_else(|| format!("https://healthlake.{region}.amazonaws.com"))
        .trim_end_matches('/')
        .to_owned()
}

impl RestExportClient {
    /// The client the SDK configuration describes (endpoint, Region, credentials).
    pub fn from_sdk_config(config: &SdkConfig) -> Result<Self, HlxError> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| HlxError::InvalidInput("no AWS Region is configured".into()))?;
        let credentials = config
            .credentials_provider()
            .ok_or_else(|| HlxError::InvalidInput("no AWS credentials provider is configured".into()))?;
        let endpoint = healthlake_endpoint(config, &region);
        Self::new(credentials, region, endpoint)
    }

    /// A client for `endpoint` (`https://healthlake.us-east-1.amazonaws.com`, or a local stand-in).
    pub fn new(
        credentials: SharedCredentialsProvider,
        region: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Result<Self, HlxError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| HlxError::InvalidInput(format!("TLS setup failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            http,
            credentials,
            region: region.into(),
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// POST `$export`: HealthLake answers 202 with the job id in the body and
    /// in `Content-Location`.
    pub async fn kick_off(&self, job: &RestExportJob) -> Result<StartedJob, HlxError> {
        let body = serde_json::to_vec(&job.body()).expect("a body serializes");
        let answer = self.send(Method::POST, &job.path_and_query(), Some(body)).await?;
        let value = answer.json_or_empty();
        let job_id = value
            .get("jobId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                answer
                    .headers
                    .get(http::header::CONTENT_LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| location.trim_end_matches('/').rsplit('/').next())
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                HlxError::HealthLakeUnavailable(
                    "the $export kick-off answer has no job id (body or Content-Location)".into(),
                )
            })?;
        let status = value
            .get("jobStatus")
            .and_then(Value::as_str)
            .map_or(JobStatus::Submitted, JobStatus::parse);
        Ok(StartedJob { job_id, status })
    }

    /// GET `…/r4/export/{jobId}`: the job's properties and, once complete, its manifest.
    pub async fn status(&self, datastore_id: &str, job_id: &str) -> Result<JobDescription, HlxError> {
        let path = format!("/datastore/{datastore_id}/r4/export/{job_id}");
        let answer = self.send(Method::GET, &path, None).await?;
        parse_status(&answer.json_or_empty(), job_id)
    }

    /// DELETE `…/r4/export/{jobId}`: asks HealthLake to cancel; answers the status it reports.
    pub async fn cancel(&self, datastore_id: &str, job_id: &str) -> Result<JobStatus, HlxError> {
        let path = format!("/datastore/{datastore_id}/r4/export/{job_id}");
        let answer = self.send(Method::DELETE, &path, None).await?;
        let value = answer.json_or_empty();
        let status = value
            .pointer("/exportJobProperties/jobStatus")
            .or_else(|| value.get("jobStatus"))
            .and_then(Value::as_str)
            .map_or(JobStatus::CancelSubmitted, JobStatus::parse);
        Ok(status)
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, HlxError> {
        let uri = format!("{}{path_and_query}", self.endpoint);
        let body = body.unwrap_or_default();
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(http::header::ACCEPT, "application/fhir+json")
            .header("prefer", "respond-async");
        if method == Method::POST {
            request = request.header(http::header::CONTENT_TYPE, "application/fhir+json");
        }
        let mut request = request
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| HlxError::InvalidInput(format!("bad HealthLake REST request: {e}")))?;
        let host =
            request.uri().authority().map(|a| a.to_string()).ok_or_else(|| {
                HlxError::InvalidInput(format!("the HealthLake endpoint {uri} has no host"))
            })?;
        request.headers_mut().insert(
            http::header::HOST,
            host.parse().expect("an authority is a header value"),
        );
        self.sign(&mut request, &body).await?;
        let call = async {
            let response =
                self.http.request(request).await.map_err(|e| {
                    HlxError::HealthLakeUnavailable(format!("the FHIR REST call failed: {e}"))
                })?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| HlxError::HealthLakeUnavailable(format!("the FHIR REST answer broke off: {e}")))?
                .to_bytes();
            Ok::<_, HlxError>(Answer {
                status,
                headers,
                body: bytes,
            })
        };
        // Boxed: the hyper future is deep, and the handlers' futures nest it.
        let answer = tokio::time::timeout(CALL_TIMEOUT, Box::pin(call))
            .await
            .map_err(|_| {
                HlxError::HealthLakeUnavailable(format!("no FHIR REST answer within {CALL_TIMEOUT:?}"))
            })??;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(answer.error())
        }
    }

    async fn sign(&self, request: &mut Request<Full<Bytes>>, body: &[u8]) -> Result<(), HlxError> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| HlxError::InvalidInput(format!("no AWS credentials: {e}")))?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| HlxError::InvalidInput(format!("SigV4 parameters: {e}")))?
            .into();
        let uri = request.uri().to_string();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| HlxError::InvalidInput(format!("SigV4 request: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| HlxError::InvalidInput(format!("SigV4 signing failed: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json_or_empty(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A refused call as hlx names HealthLake's errors: the error type the
    /// service sent, else one by HTTP status; an `OperationOutcome`'s
    /// diagnostics as the message.
    fn error(&self) -> HlxError {
        let value = self.json_or_empty();
        let message = outcome_message(&value)
            .or_else(|| value.get("message").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| value.get("Message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {}", self.status.as_u16()));
        let sent = self
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split(':').next().unwrap_or(t).to_owned());
        let code = match (sent, self.status.as_u16()) {
            (Some(code), _) => code,
            (None, 400) => "ValidationException".into(),
            (None, 401 | 403) => "AccessDeniedException".into(),
            (None, 404) => "ResourceNotFoundException".into(),
            (None, 409) => "ConflictException".into(),
            (None, 429) => "ThrottlingException".into(),
            (None, 500) => "InternalServerException".into(),
            (None, status) => {
                return HlxError::HealthLakeUnavailable(format!(
                    "the FHIR REST API answered HTTP {status}: {message}"
                ));
            }
        };
        HlxError::HealthLake { code, message }
    }
}

/// The diagnostics of a FHIR `OperationOutcome`'s issues, joined.
fn outcome_message(value: &Value) -> Option<String> {
    if value.get("resourceType").and_then(Value::as_str) != Some("OperationOutcome") {
        return None;
    }
    let issues: Vec<String> = value
        .get("issue")?
        .as_array()?
        .iter()
        .map(|issue| {
            let code = issue.get("code").and_then(Value::as_str).unwrap_or("unknown");
            let text = issue
                .get("diagnostics")
                .or_else(|| issue.pointer("/details/text"))
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{code}: {text}")
        })
        .collect();
    Some(issues.join("; "))
}

/// Reads a status GET body leniently: camelCase or PascalCase members,
/// HealthLake's `Aug 26, 2023 1:46:56 PM` times or RFC 3339, unknown members ignored.
pub fn parse_status(value: &Value, job_id: &str) -> Result<JobDescription, HlxError> {
    let props = member(value, "exportJobProperties").unwrap_or(value);
    let text = |name: &str| member(props, name).and_then(Value::as_str);
    let status = text("jobStatus")
        .map(JobStatus::parse)
        .ok_or_else(|| HlxError::HealthLakeUnavailable("the export status answer has no jobStatus".into()))?;
    let time = |name: &str| -> Result<Option<Timestamp>, HlxError> {
        match member(props, name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => parse_healthlake_time(v).map(Some).ok_or_else(|| {
                HlxError::HealthLakeUnavailable(format!("unreadable {name} in the export status: {v}"))
            }),
        }
    };
    let submit_time = time("submitTime")?.ok_or_else(|| {
        HlxError::HealthLakeUnavailable("the export status answer has no submitTime".into())
    })?;
    let manifest = match status {
        JobStatus::Completed | JobStatus::CompletedWithErrors => ExportManifest::from_status_body(value),
        _ => None,
    };
    Ok(JobDescription {
        job_id: text("jobId").unwrap_or(job_id).to_owned(),
        status,
        submit_time,
        end_time: time("endTime")?,
        message: text("message").map(str::to_owned),
        import_counts: None,
        manifest,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_status_body_reads_with_unknown_members_and_its_manifest() {
        let body = json!({
            "exportJobProperties": {
                "jobId": "j1", "jobName": "n", "jobStatus": "COMPLETED",
                "submitTime": "Aug 26, 2023 1:46:56 PM", "endTime": "Aug 26, 2023 1:50:02 PM",
                "datastoreId": "ds1", "somethingNew": {"x": 1},
                "outputDataConfig": {"s3Configuration": {"s3Uri": "s3://b/x", "kmsKeyId": "k"}}
            },
            "transactionTime": "2023-08-26T13:46:58.123Z",
            "request": "https://healthlake.us-east-1.amazonaws.com/datastore/ds1/r4/$export?_since=x",
            "requiresAccessToken": false,
            "output": [
                {"type": "Patient", "url": "s3://b/x/ds1-FHIR_EXPORT-j1/Patient/Patient-1.ndjson", "count": 3},
                {"type": "Observation", "url": "s3://b/x/ds1-FHIR_EXPORT-j1/Observation/Observation-1.ndjson", "count": 5},
                {"type": "Observation", "url": "s3://b/x/ds1-FHIR_EXPORT-j1/Observation/Observation-2.ndjson"}
            ],
            "error": []
        });
        let status = parse_status(&body, "j1").unwrap();
        assert_eq!(status.status, JobStatus::Completed);
        assert_eq!(
            hlx_core::time::format(status.submit_time),
            "2023-08-26T13:46:56.000Z"
        );
        let manifest = status.manifest.unwrap();
        assert_eq!(
            hlx_core::time::format(manifest.transaction_time),
            "2023-08-26T13:46:58.123Z"
        );
        assert_eq!(manifest.output.len(), 3);
        let summary = manifest.summary();
        assert_eq!(summary.files, 3);
        assert_eq!(summary.resources.get("Patient"), Some(&3));
        // A file without a count leaves its type's total unknown.
        assert_eq!(summary.resources.get("Observation"), None);
        assert!(summary.counts_incomplete);
    }

    #[test]
    fn refusals_are_named_as_healthlake_names_them() {
        let answer = |status: u16, body: Value, header: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(h) = header {
                headers.insert("x-amzn-errortype", h.parse().unwrap());
            }
            Answer {
                status: StatusCode::from_u16(status).unwrap(),
                headers,
                body: Bytes::from(body.to_string()),
            }
            .error()
        };
        let outcome = json!({"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "_typeFilter is not supported"}]});
        let err = answer(400, outcome, None);
        assert_eq!(err.error_name(), "HealthLake.ValidationException");
        assert!(err.to_string().contains("not-supported: _typeFilter"), "{err}");
        let err = answer(
            403,
            json!({"message": "sig"}),
            Some("InvalidSignatureException:http://x"),
        );
        assert_eq!(err.error_name(), "HealthLake.InvalidSignatureException");
        assert_eq!(
            answer(429, json!({}), None).error_name(),
            "HealthLake.ThrottlingException"
        );
        assert_eq!(
            answer(504, Value::Null, None).error_name(),
            "hlx.HealthLakeUnavailable"
        );
    }
}
