//! Shared test plumbing: an emulator on a virtual clock behind a real HTTP
//! server, the unmodified `aws-sdk-healthlake` client pointed at it, a raw
//! HTTP client for what the SDK cannot send, and temporary directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_healthlake::Client;
use aws_sdk_healthlake::config::retry::RetryConfig;
use aws_sdk_healthlake::config::{Credentials, Region};
use aws_sdk_healthlake::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_healthlake::operation::start_fhir_export_job::{
    StartFHIRExportJobError, StartFhirExportJobOutput,
};
use aws_sdk_healthlake::types::{ImportJobProperties, InputDataConfig, OutputDataConfig, S3Configuration};
pub use hlx_clock::Clock;
use hlx_clock::VirtualClock;
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobProfile, ServerHandle, s3_uri_to_path};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ROLE: &str = "arn:aws:iam::123456789012:role/HealthLakeExport";
pub const KMS: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const S3: &str = "s3://hlx-exports/nightly/";
/// Where the import tests ask for their logs.
pub const IMPORT_LOGS: &str = "s3://hlx-imports/results/";

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "hlx-emulator-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The SDK client as an application would build it, with retries off so
/// every injected fault surfaces.
pub fn client(endpoint_url: &str) -> Client {
    let config = aws_sdk_healthlake::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

pub struct Harness {
    pub emulator: Emulator,
    pub clock: VirtualClock,
    pub server: ServerHandle,
    pub client: Client,
    pub out: TempDir,
    /// A data store created through the library with the harness's profile.
    pub datastore_id: String,
}

impl Harness {
    pub async fn new(profile: JobProfile) -> Self {
        Self::with_config(profile, |_| {}).await
    }

    pub async fn with_config(profile: JobProfile, tweak: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let out = TempDir::new();
        let mut config = EmulatorConfig {
            seed: 42,
            output_root: Some(out.path().to_path_buf()),
            default_profile: profile.clone(),
            ..EmulatorConfig::default()
        };
        tweak(&mut config);
        let clock = VirtualClock::default();
        let emulator = Emulator::new(config, Arc::new(clock.clone()));
        let datastore_id = emulator
            .create_datastore("harness", Some(profile))
            .expect("data store");
        let server = emulator
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .expect("server");
        let client = client(&server.endpoint_url());
        Self {
            emulator,
            clock,
            server,
            client,
            out,
            datastore_id,
        }
    }

    pub fn url(&self) -> String {
        self.server.endpoint_url()
    }

    pub fn advance_secs(&self, secs: i64) {
        self.clock.advance_by(jiff::SignedDuration::from_secs(secs));
    }

    /// `StartFHIRExportJob` with valid members; `f` may change any of them.
    pub async fn start_export(
        &self,
        f: impl FnOnce(StartArgs) -> StartArgs,
    ) -> Result<StartFhirExportJobOutput, SdkError<StartFHIRExportJobError>> {
        let args = f(StartArgs {
            datastore_id: self.datastore_id.clone(),
            job_name: Some("nightly".into()),
            s3_uri: S3.into(),
            kms_key_id: KMS.into(),
            role: ROLE.into(),
            client_token: None,
        });
        args.send(&self.client).await
    }

    pub async fn describe_export(&self, job_id: &str) -> aws_sdk_healthlake::types::ExportJobProperties {
        self.client
            .describe_fhir_export_job()
            .datastore_id(&self.datastore_id)
            .job_id(job_id)
            .send()
            .await
            .expect("describe")
            .export_job_properties
            .expect("properties")
    }

    /// Writes `lines` (each followed by a newline) as the S3 object `s3_uri`.
    pub fn put_object(&self, s3_uri: &str, lines: &[&str]) -> PathBuf {
        let path = s3_uri_to_path(self.out.path(), s3_uri);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `StartFHIRImportJob` from `input` into `datastore_id`, logs to
    /// [`IMPORT_LOGS`]; returns the job id.
    pub async fn start_import(&self, datastore_id: &str, input: &str) -> String {
        self.client
            .start_fhir_import_job()
            .datastore_id(datastore_id)
            .input_data_config(InputDataConfig::S3Uri(input.into()))
            .job_output_data_config(OutputDataConfig::S3Configuration(
                S3Configuration::builder()
                    .s3_uri(IMPORT_LOGS)
                    .kms_key_id(KMS)
                    .build()
                    .unwrap(),
            ))
            .data_access_role_arn(ROLE)
            .send()
            .await
            .expect("start import")
            .job_id
    }

    pub async fn describe_import(&self, datastore_id: &str, job_id: &str) -> ImportJobProperties {
        self.client
            .describe_fhir_import_job()
            .datastore_id(datastore_id)
            .job_id(job_id)
            .send()
            .await
            .expect("describe import")
            .import_job_properties
            .expect("properties")
    }
}

#[derive(Clone)]
pub struct StartArgs {
    pub datastore_id: String,
    pub job_name: Option<String>,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub role: String,
    pub client_token: Option<String>,
}

impl StartArgs {
    pub async fn send(
        self,
        client: &Client,
    ) -> Result<StartFhirExportJobOutput, SdkError<StartFHIRExportJobError>> {
        client
            .start_fhir_export_job()
            .datastore_id(self.datastore_id)
            .set_job_name(self.job_name)
            .output_data_config(OutputDataConfig::S3Configuration(
                S3Configuration::builder()
                    .s3_uri(self.s3_uri)
                    .kms_key_id(self.kms_key_id)
                    .build()
                    .unwrap(),
            ))
            .data_access_role_arn(self.role)
            .set_client_token(self.client_token)
            .send()
            .await
    }
}

/// The error code and HTTP status of a failed SDK call.
pub fn failure<E: ProvideErrorMetadata, O: std::fmt::Debug>(
    result: Result<O, SdkError<E>>,
) -> (String, u16, String) {
    let error = result.expect_err("the call should fail");
    let status = error
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default();
    let code = error.code().unwrap_or("<no code>").to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    (code, status, message)
}

/// A raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/healthlake/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000";

/// POSTs `body` to `/` with the given target and (optional) Authorization header.
pub async fn raw_post(
    url: &str,
    target: Option<&str>,
    authorization: Option<&str>,
    body: &str,
) -> RawResponse {
    let addr = url.trim_start_matches("http://");
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(target) = target {
        request.push_str(&format!("X-Amz-Target: {target}\r\n"));
    }
    if let Some(auth) = authorization {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let (status, headers, body) = http_exchange(addr, &request).await;
    RawResponse {
        status,
        headers,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    }
}

/// Sends one whole HTTP/1.1 request (written with `connection: close`) to
/// `addr` and reads the answer to the end: status, headers, body text.
pub async fn http_exchange(addr: &str, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A signed raw call to `HealthLake.<operation>`.
pub async fn raw_call(url: &str, operation: &str, body: &Value) -> RawResponse {
    raw_post(
        url,
        Some(&format!("HealthLake.{operation}")),
        Some(SIGNED),
        &body.to_string(),
    )
    .await
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
