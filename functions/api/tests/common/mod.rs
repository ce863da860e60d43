//! What the route tests share: an API over in-memory fakes, requests built as
//! API Gateway sends them, and answers read back as JSON.

#![allow(dead_code)]

use std::sync::Arc;

use api::fake::FakeStateMachine;
use api::{Api, ApiConfig};
use hlx_clock::SystemClock;
use hlx_clock::VirtualClock;
use hlx_core::{
    HlxError, InMemoryJobStore, JobKind, JobRecord, JobStore, RecordPage, RecordStatus, WriteOutcome,
};
use jiff::Timestamp;
use lambda_http::http::{self, Response};
use lambda_http::{Body, Request};
use serde_json::{Value, json};

pub const STATE_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job";
pub const DATASTORE: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
pub const S3_URI: &str = "s3://hlx-exports/api";
pub const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/HealthLakeExport";
pub const IMPORT_INPUT: &str = "s3://hlx-landing/fhir/";
pub const IMPORT_LOGS: &str = "s3://hlx-import-logs/api";

pub fn config() -> ApiConfig {
    ApiConfig {
        state_machine_arn: STATE_MACHINE.into(),
        default_datastore_id: Some(DATASTORE.into()),
        s3_uri: S3_URI.into(),
        kms_key_id: KMS_KEY.into(),
        data_access_role_arn: ROLE.into(),
        import_input_s3_uri: Some(IMPORT_INPUT.into()),
        import_output_s3_uri: Some(IMPORT_LOGS.into()),
        max_body_bytes: api::config::MAX_BODY_BYTES,
        max_jobs_in_flight: hlx_core::admission::DEFAULT_MAX_JOBS_IN_FLIGHT,
    }
}

/// The configuration of a stack without import locations.
pub fn config_without_imports() -> ApiConfig {
    ApiConfig {
        import_input_s3_uri: None,
        import_output_s3_uri: None,
        ..config()
    }
}

pub fn start_time() -> Timestamp {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

pub type TestApi = Api<InMemoryJobStore, FakeStateMachine>;

/// The API over an in-memory store and the state machine fake, at 2026-11-24T10:00Z.
pub fn api() -> (TestApi, VirtualClock) {
    api_with(config())
}

pub fn api_with(config: ApiConfig) -> (TestApi, VirtualClock) {
    let clock = VirtualClock::starting_at(start_time());
    let shared: hlx_clock::SharedClock = Arc::new(clock.clone());
    let sfn = FakeStateMachine::new(config.state_machine_arn.clone(), shared.clone());
    (Api::new(config, InMemoryJobStore::new(), sfn, shared), clock)
}

/// A request as API Gateway's REST proxy integration delivers it.
pub fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    api::local::lambda_request(&parts, body).unwrap()
}

pub fn get(uri: &str) -> Request {
    request("GET", uri, &[], b"")
}

pub fn post_json(body: &Value) -> Request {
    request(
        "POST",
        "/exports",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub fn post_with_key(key: &str, body: &Value) -> Request {
    request(
        "POST",
        "/exports",
        &[("content-type", "application/json"), ("idempotency-key", key)],
        body.to_string().as_bytes(),
    )
}

pub fn post_import(body: &Value) -> Request {
    request(
        "POST",
        "/imports",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub fn post_import_with_key(key: &str, body: &Value) -> Request {
    request(
        "POST",
        "/imports",
        &[("content-type", "application/json"), ("idempotency-key", key)],
        body.to_string().as_bytes(),
    )
}

/// An answer's status, and its body as JSON (`null` when empty).
pub fn read(response: &Response<Body>) -> (u16, Value) {
    let body: &[u8] = response.body().as_ref();
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body).expect("a JSON body")
    };
    (response.status().as_u16(), value)
}

/// Checks an error answer: its status, JSON shape and name; returns the body.
pub fn expect_error(response: &Response<Body>, status: u16, name: &str) -> Value {
    let (got, body) = read(response);
    assert_eq!(got, status, "{body}");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(body["error"], name, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

/// A 400 naming `field`; returns the rule text.
pub fn expect_invalid(response: &Response<Body>, field: &str) -> String {
    let body = expect_error(response, 400, "InvalidRequest");
    assert_eq!(body["field"], field, "{body}");
    body["message"].as_str().unwrap().to_owned()
}

/// A finished job record of `datastore_id`, started `minutes` after the start time.
pub fn record(id: &str, datastore_id: &str, minutes: i64) -> JobRecord {
    let started = start_time() + jiff::SignedDuration::from_mins(minutes);
    serde_json::from_value(json!({
        "id": id,
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}"),
        "status": "COMPLETED",
        "datastoreId": datastore_id,
        "trigger": "schedule",
        "jobId": "job-1",
        "jobName": id,
        "jobStatus": "COMPLETED",
        "s3Uri": S3_URI,
        "kmsKeyId": KMS_KEY,
        "dataAccessRoleArn": ROLE,
        "outputLocation": format!("{S3_URI}/{datastore_id}-FHIR_EXPORT-job-1/"),
        "executionStartedAt": hlx_core::time::format(started),
        "submittedAt": hlx_core::time::format(started),
        "endedAt": hlx_core::time::format(started + jiff::SignedDuration::from_mins(5)),
        "updatedAt": hlx_core::time::format(started + jiff::SignedDuration::from_mins(5)),
        "queuedSeconds": 0,
        "runningSeconds": 300,
        "checks": 3,
        "startAttempts": 1
    }))
    .unwrap()
}

/// A finished import record of `datastore_id`, started `minutes` after the start time.
pub fn import_record(import_id: &str, datastore_id: &str, minutes: i64) -> JobRecord {
    let started = start_time() + jiff::SignedDuration::from_mins(minutes);
    serde_json::from_value(json!({
        "id": import_id,
        "kind": "import",
        "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{import_id}"),
        "status": "COMPLETED_WITH_ERRORS",
        "datastoreId": datastore_id,
        "trigger": "api",
        "jobId": "import-job-1",
        "jobName": import_id,
        "jobStatus": "COMPLETED_WITH_ERRORS",
        "s3Uri": IMPORT_LOGS,
        "inputS3Uri": IMPORT_INPUT,
        "kmsKeyId": KMS_KEY,
        "dataAccessRoleArn": ROLE,
        "outputLocation": format!("{IMPORT_LOGS}/{datastore_id}-FHIR_IMPORT-import-job-1/"),
        "executionStartedAt": hlx_core::time::format(started),
        "endedAt": hlx_core::time::format(started + jiff::SignedDuration::from_mins(5)),
        "updatedAt": hlx_core::time::format(started + jiff::SignedDuration::from_mins(5)),
        "checks": 2,
        "startAttempts": 1,
        "importCounts": {
            "filesScanned": 2, "filesImported": 2, "filesWithErrors": 0,
            "resourcesScanned": 7, "resourcesImported": 6, "resourcesWithErrors": 1
        }
    }))
    .unwrap()
}

/// A job store whose every call fails with the error `make` builds.
pub struct FailingStore(pub fn() -> HlxError);

impl hlx_core::admission::SlotStore for FailingStore {
    async fn get_slots(&self, _: &str) -> Result<Option<hlx_core::admission::Slots>, HlxError> {
        Err((self.0)())
    }
    async fn put_slots(&self, _: &hlx_core::admission::Slots) -> Result<bool, HlxError> {
        Err((self.0)())
    }
}

impl JobStore for FailingStore {
    async fn write(&self, _: &JobRecord) -> Result<WriteOutcome, HlxError> {
        Err((self.0)())
    }
    async fn get(&self, _: JobKind, _: &str) -> Result<Option<JobRecord>, HlxError> {
        Err((self.0)())
    }
    async fn get_chain(&self, _: &str, _: &str) -> Result<Option<hlx_core::chain::ChainPoint>, HlxError> {
        Err((self.0)())
    }
    async fn advance_chain(&self, _: &hlx_core::chain::ChainPoint) -> Result<bool, HlxError> {
        Err((self.0)())
    }
    async fn list(&self, _: JobKind, _: &str, _: u32, _: Option<&str>) -> Result<RecordPage, HlxError> {
        Err((self.0)())
    }
    async fn set_verification(
        &self,
        _: &str,
        _: &hlx_core::verification::Verification,
    ) -> Result<bool, HlxError> {
        Err((self.0)())
    }
}

pub fn failing_api(make: fn() -> HlxError) -> Api<FailingStore, FakeStateMachine> {
    let clock: hlx_clock::SharedClock = Arc::new(SystemClock);
    Api::new(
        config(),
        FailingStore(make),
        FakeStateMachine::new(STATE_MACHINE, clock.clone()),
        clock,
    )
}

/// A HealthLake emulator served over HTTP with one export running, and the
/// hlx client of its FHIR REST API: what `DELETE /exports/{id}` calls.
pub struct CancelFixture {
    pub emulator: hlx_healthlake_emulator::Emulator,
    _server: hlx_healthlake_emulator::ServerHandle,
    pub healthlake: hlx_aws::SdkHealthLakeJobs,
    pub datastore_id: String,
    pub job_id: String,
}

/// The emulator's default test credentials, as the REST client signs with them.
pub fn test_credentials() -> aws_credential_types::provider::SharedCredentialsProvider {
    aws_credential_types::provider::SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
        "test", "test", None, None, "test",
    ))
}

/// An SDK-less HealthLake client whose REST calls go to `endpoint`.
pub fn healthlake_at(endpoint: &str) -> hlx_aws::SdkHealthLakeJobs {
    let config = aws_sdk_healthlake_config(endpoint);
    let rest = hlx_aws::RestExportClient::new(test_credentials(), "us-east-1", endpoint).unwrap();
    hlx_aws::SdkHealthLakeJobs::new(aws_sdk_healthlake::Client::from_conf(config)).with_rest(rest)
}

fn aws_sdk_healthlake_config(endpoint: &str) -> aws_sdk_healthlake::Config {
    aws_sdk_healthlake::Config::builder()
        .behavior_version(aws_sdk_healthlake::config::BehaviorVersion::latest())
        .region(aws_sdk_healthlake::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build()
}

pub async fn cancel_fixture() -> CancelFixture {
    let clock = hlx_clock::VirtualClock::starting_at(start_time());
    let emulator = hlx_healthlake_emulator::Emulator::new(
        hlx_healthlake_emulator::EmulatorConfig::default(),
        Arc::new(clock),
    );
    let datastore_id = emulator.create_datastore("clinic", None).unwrap();
    let started = emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": datastore_id,
                "OutputDataConfig": {"S3Configuration": {"S3Uri": S3_URI, "KmsKeyId": KMS_KEY}},
                "DataAccessRoleArn": ROLE,
                "ClientToken": "hlx-cancel-fixture",
            }),
        )
        .await
        .unwrap();
    let job_id = started["JobId"].as_str().unwrap().to_owned();
    let server = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let healthlake = healthlake_at(&server.endpoint_url());
    CancelFixture {
        emulator,
        _server: server,
        healthlake,
        datastore_id,
        job_id,
    }
}

/// A record of an export still running as `job_id` of `datastore_id`.
pub fn running_record(id: &str, datastore_id: &str, job_id: &str) -> JobRecord {
    let mut record = record(id, datastore_id, 0);
    record.status = RecordStatus::Job(hlx_core::JobStatus::InProgress);
    record.job_status = Some("IN_PROGRESS".into());
    record.job_id = Some(job_id.to_owned());
    record.ended_at = None;
    record
}

/// A record as the API answered it (`exportId` or `importId`), read back as
/// the job record it is (`id`).
pub fn record_from_answer(answer: &Value) -> JobRecord {
    let mut value = answer.clone();
    let map = value.as_object_mut().expect("a record is an object");
    let id = map
        .remove("exportId")
        .or_else(|| map.remove("importId"))
        .expect("the answer names its id by its route");
    map.insert("id".into(), id);
    serde_json::from_value(value).expect("the JobRecord shape")
}
