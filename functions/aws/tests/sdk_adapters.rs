//! The HealthLake and DynamoDB adapters against the real SDK clients with
//! mocked operations: every error the SDK can return gets the name the state
//! machine matches. The S3 manifest store too: pages, keys, encryption; and
//! the Step Functions task tokens.

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, ProvisionedThroughputExceededException,
};
use aws_sdk_healthlake::operation::describe_fhir_export_job::{
    DescribeFHIRExportJobError, DescribeFhirExportJobOutput,
};
use aws_sdk_healthlake::operation::start_fhir_export_job::{
    StartFHIRExportJobError, StartFhirExportJobOutput,
};
use aws_sdk_healthlake::types::error::{
    AccessDeniedException, FailedDependencyException, InternalServerException, ResourceNotFoundException,
    ThrottlingException, ValidationException,
};
use aws_sdk_healthlake::types::{
    ExportJobProperties, JobStatus as SdkStatus, OutputDataConfig, S3Configuration,
};
use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
use aws_sdk_sfn::types::error::{InvalidToken, TaskTimedOut};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use hlx_aws::{DynamoDbJobStore, S3ManifestStore, SdkHealthLakeJobs, SdkTaskTokens};
use hlx_core::healthlake::{HealthLakeJobs, StartExportJob};
use hlx_core::record::JobRecord;
use hlx_core::{HlxError, JobStatus, JobStore, RecordStatus, TaskTokens, TokenAnswer, WriteOutcome};
use serde_json::{Value, json};

type MakeError<E> = fn() -> E;

fn job() -> StartExportJob {
    StartExportJob {
        datastore_id: "ds1".into(),
        job_name: "nightly".into(),
        s3_uri: "s3://bucket/exports".into(),
        kms_key_id: "alias/hlx".into(),
        data_access_role_arn: "arn:aws:iam::123456789012:role/r".into(),
        client_token: "hlx-abc".into(),
    }
}

#[tokio::test]
async fn start_sends_both_s3_members_and_the_client_token() {
    let rule = mock!(aws_sdk_healthlake::Client::start_fhir_export_job)
        .match_requests(|req| {
            let Some(OutputDataConfig::S3Configuration(s3)) = req.output_data_config() else {
                return false;
            };
            s3.s3_uri() == "s3://bucket/exports"
                && s3.kms_key_id() == "alias/hlx"
                && req.client_token() == Some("hlx-abc")
                && req.datastore_id() == Some("ds1")
                && req.job_name() == Some("nightly")
                && req.data_access_role_arn() == Some("arn:aws:iam::123456789012:role/r")
        })
        .then_output(|| {
            StartFhirExportJobOutput::builder()
                .job_id("job-1")
                .job_status(SdkStatus::Submitted)
                .build()
                .unwrap()
        });
    let client = mock_client!(aws_sdk_healthlake, [&rule]);
    let started = SdkHealthLakeJobs::new(client).start_export(&job()).await.unwrap();
    assert_eq!(started.job_id, "job-1");
    assert_eq!(started.status, JobStatus::Submitted);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn every_start_error_is_named_as_step_functions_names_it() {
    let cases: Vec<(MakeError<StartFHIRExportJobError>, &str)> = vec![
        (
            || {
                StartFHIRExportJobError::ThrottlingException(
                    ThrottlingException::builder().message("slow").build(),
                )
            },
            "HealthLake.ThrottlingException",
        ),
        (
            || {
                StartFHIRExportJobError::ValidationException(
                    ValidationException::builder().message("bad").build(),
                )
            },
            "HealthLake.ValidationException",
        ),
        (
            || {
                StartFHIRExportJobError::AccessDeniedException(
                    AccessDeniedException::builder().message("no").build(),
                )
            },
            "HealthLake.AccessDeniedException",
        ),
        (
            || {
                StartFHIRExportJobError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().message("gone").build(),
                )
            },
            "HealthLake.ResourceNotFoundException",
        ),
        (
            || {
                StartFHIRExportJobError::InternalServerException(
                    InternalServerException::builder().message("oops").build(),
                )
            },
            "HealthLake.InternalServerException",
        ),
        (
            || {
                StartFHIRExportJobError::FailedDependencyException(
                    FailedDependencyException::builder().message("kms").build(),
                )
            },
            "HealthLake.FailedDependencyException",
        ),
    ];
    for (make, name) in cases {
        let rule = mock!(aws_sdk_healthlake::Client::start_fhir_export_job).then_error(make);
        let client = mock_client!(aws_sdk_healthlake, [&rule]);
        let err = SdkHealthLakeJobs::new(client)
            .start_export(&job())
            .await
            .unwrap_err();
        assert_eq!(err.error_name(), name, "{err}");
        assert!(matches!(err, HlxError::HealthLake { .. }));
    }
}

#[tokio::test]
async fn every_describe_error_is_named_as_step_functions_names_it() {
    let cases: Vec<(MakeError<DescribeFHIRExportJobError>, &str)> = vec![
        (
            || {
                DescribeFHIRExportJobError::ThrottlingException(
                    ThrottlingException::builder().message("m").build(),
                )
            },
            "HealthLake.ThrottlingException",
        ),
        (
            || {
                DescribeFHIRExportJobError::ValidationException(
                    ValidationException::builder().message("m").build(),
                )
            },
            "HealthLake.ValidationException",
        ),
        (
            || {
                DescribeFHIRExportJobError::ResourceNotFoundException(
                    ResourceNotFoundException::builder().message("m").build(),
                )
            },
            "HealthLake.ResourceNotFoundException",
        ),
        (
            || {
                DescribeFHIRExportJobError::InternalServerException(
                    InternalServerException::builder().message("m").build(),
                )
            },
            "HealthLake.InternalServerException",
        ),
    ];
    for (make, name) in cases {
        let rule = mock!(aws_sdk_healthlake::Client::describe_fhir_export_job).then_error(make);
        let client = mock_client!(aws_sdk_healthlake, [&rule]);
        let err = SdkHealthLakeJobs::new(client)
            .describe_export("ds1", "job-1")
            .await
            .unwrap_err();
        assert_eq!(err.error_name(), name, "{err}");
    }
}

#[tokio::test]
async fn describe_maps_every_status_and_the_times() {
    for status in SdkStatus::values() {
        let sdk_status = SdkStatus::from(*status);
        let rule = mock!(aws_sdk_healthlake::Client::describe_fhir_export_job)
            .match_requests(|req| req.datastore_id() == Some("ds1") && req.job_id() == Some("job-1"))
            .then_output(move || {
                let props = ExportJobProperties::builder()
                    .job_id("job-1")
                    .job_status(sdk_status.clone())
                    .submit_time(DateTime::from_secs(1_767_225_600))
                    .end_time(DateTime::from_secs(1_767_229_200))
                    .datastore_id("ds1")
                    .message("done")
                    .output_data_config(OutputDataConfig::S3Configuration(
                        S3Configuration::builder()
                            .s3_uri("s3://bucket/x")
                            .kms_key_id("alias/k")
                            .build()
                            .unwrap(),
                    ))
                    .build()
                    .unwrap();
                DescribeFhirExportJobOutput::builder()
                    .export_job_properties(props)
                    .build()
            });
        let client = mock_client!(aws_sdk_healthlake, [&rule]);
        let described = SdkHealthLakeJobs::new(client)
            .describe_export("ds1", "job-1")
            .await
            .unwrap();
        assert_eq!(described.status.as_str(), *status);
        assert!(!matches!(described.status, JobStatus::Unknown(_)));
        assert_eq!(described.submit_time.as_second(), 1_767_225_600);
        assert_eq!(described.end_time.unwrap().as_second(), 1_767_229_200);
        assert_eq!(described.message.as_deref(), Some("done"));
    }
}

fn record(status: &str, checks: u32) -> JobRecord {
    serde_json::from_value(serde_json::json!({
        "id": "nightly-ds1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:hlx:nightly-ds1",
        "status": status,
        "datastoreId": "ds1",
        "executionStartedAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T01:00:00.000Z",
        "checks": checks,
        "startAttempts": 1
    }))
    .unwrap()
}

fn stored(status: &str, checks: u32) -> GetItemOutput {
    let mut item = hlx_aws::dynamodb::to_item(&serde_json::to_value(record(status, checks)).unwrap());
    item.insert("pk".into(), AttributeValue::S("EXPORT#nightly-ds1".into()));
    GetItemOutput::builder().set_item(Some(item)).build()
}

async fn write_against(
    existing_status: &str,
    existing_checks: u32,
    new: &JobRecord,
) -> Result<WriteOutcome, HlxError> {
    let refused = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ConditionalCheckFailedException(ConditionalCheckFailedException::builder().build())
    });
    let existing_status = existing_status.to_owned();
    let read = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|req| req.consistent_read() == Some(true))
        .then_output(move || stored(&existing_status, existing_checks));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&refused, &read]);
    DynamoDbJobStore::new(client, "hlx-jobs").write(new).await
}

#[tokio::test]
async fn a_refused_write_is_classified_by_what_is_stored() {
    assert_eq!(
        write_against("COMPLETED", 3, &record("COMPLETED", 3))
            .await
            .unwrap(),
        WriteOutcome::Unchanged
    );
    assert_eq!(
        write_against("COMPLETED", 3, &record("IN_PROGRESS", 2))
            .await
            .unwrap(),
        WriteOutcome::Stale
    );
    assert_eq!(
        write_against("IN_PROGRESS", 5, &record("IN_PROGRESS", 4))
            .await
            .unwrap(),
        WriteOutcome::Stale
    );
    let err = write_against("COMPLETED", 3, &record("TIMED_OUT", 3))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "hlx.RecordConflict");
    assert!(err.to_string().contains("already recorded as COMPLETED"), "{err}");
}

#[tokio::test]
async fn a_write_carries_the_keys_and_the_forward_only_condition() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|req| {
            let item = req.item().unwrap();
            let values = req.expression_attribute_values().unwrap();
            req.table_name() == Some("hlx-jobs")
                && item.get("pk") == Some(&AttributeValue::S("EXPORT#nightly-ds1".into()))
                && item.get("gsi1pk") == Some(&AttributeValue::S("DATASTORE#ds1".into()))
                && item.get("gsi1sk")
                    == Some(&AttributeValue::S("2026-01-01T00:00:00.000Z#nightly-ds1".into()))
                && item.get("statusRank") == Some(&AttributeValue::N("9".into()))
                && values.get(":rank") == Some(&AttributeValue::N("9".into()))
                && req
                    .condition_expression()
                    .unwrap()
                    .contains("attribute_not_exists(pk)")
        })
        .then_output(|| PutItemOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, [&put]);
    let outcome = DynamoDbJobStore::new(client, "hlx-jobs")
        .write(&record("COMPLETED", 3))
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::Written);
    assert_eq!(put.num_calls(), 1);
    assert_eq!(
        record("COMPLETED", 3).status,
        RecordStatus::Job(JobStatus::Completed)
    );
}

#[tokio::test]
async fn dynamodb_throttling_is_named_for_the_retry() {
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, [&put]);
    let err = DynamoDbJobStore::new(client, "hlx-jobs")
        .write(&record("IN_PROGRESS", 1))
        .await
        .unwrap_err();
    assert_eq!(
        err.error_name(),
        "DynamoDB.ProvisionedThroughputExceededException"
    );
}

/// An export folder of more than one ListObjectsV2 page: every page is read
/// (the second with the first's continuation token), files are typed by their
/// folder, `errors/` files are kept apart, and what is not NDJSON is skipped.
#[tokio::test]
async fn an_export_folder_is_listed_across_pages() {
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::types::Object;
    use hlx_core::ManifestStore;

    let first = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|req| {
            req.bucket() == Some("hlx-exports")
                && req.prefix() == Some("nightly/ds1-FHIR_EXPORT-job-1/")
                && req.continuation_token().is_none()
        })
        .then_output(|| {
            ListObjectsV2Output::builder()
                .contents(
                    Object::builder()
                        .key("nightly/ds1-FHIR_EXPORT-job-1/Patient/Patient-1.ndjson")
                        .build(),
                )
                .contents(
                    Object::builder()
                        .key("nightly/ds1-FHIR_EXPORT-job-1/manifest.json")
                        .build(),
                )
                .is_truncated(true)
                .next_continuation_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|req| req.continuation_token() == Some("page-2"))
        .then_output(|| {
            ListObjectsV2Output::builder()
                .contents(
                    Object::builder()
                        .key("nightly/ds1-FHIR_EXPORT-job-1/Observation/Observation-1.ndjson")
                        .build(),
                )
                .contents(
                    Object::builder()
                        .key("nightly/ds1-FHIR_EXPORT-job-1/errors/errors-1.ndjson")
                        .build(),
                )
                .is_truncated(false)
                .build()
        });
    let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&first, &second]);
    let store = S3ManifestStore::new(client);
    let (data, errors) = store
        .list_export("s3://hlx-exports/nightly/ds1-FHIR_EXPORT-job-1/")
        .await
        .unwrap();
    let types: Vec<&str> = data.iter().map(|f| f.resource_type.as_str()).collect();
    assert_eq!(types, ["Patient", "Observation"]);
    assert_eq!(
        data[1].url,
        "s3://hlx-exports/nightly/ds1-FHIR_EXPORT-job-1/Observation/Observation-1.ndjson"
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].resource_type, "OperationOutcome");
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

/// manifest.json goes next to the files, SSE-KMS with the export's key; an
/// S3 refusal keeps S3's code.
#[tokio::test]
async fn a_manifest_is_put_encrypted_and_a_refusal_keeps_s3s_code() {
    use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
    use aws_sdk_s3::types::ServerSideEncryption;
    use hlx_core::ManifestStore;
    use hlx_core::manifest::ExportManifest;

    let manifest = ExportManifest {
        transaction_time: "2026-01-01T02:00:00Z".parse().unwrap(),
        request: "StartFHIRExportJob job-1".into(),
        requires_access_token: false,
        output: vec![],
        error: vec![],
    };
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|req| {
            req.bucket() == Some("hlx-exports")
                && req.key() == Some("nightly/ds1-FHIR_EXPORT-job-1/manifest.json")
                && req.server_side_encryption() == Some(&ServerSideEncryption::AwsKms)
                && req.ssekms_key_id() == Some("alias/hlx")
        })
        .then_output(|| PutObjectOutput::builder().build());
    let store = S3ManifestStore::new(mock_client!(aws_sdk_s3, [&put]));
    let uri = store
        .put_manifest(
            "s3://hlx-exports/nightly/ds1-FHIR_EXPORT-job-1/",
            &manifest,
            "alias/hlx",
        )
        .await
        .unwrap();
    assert_eq!(
        uri,
        "s3://hlx-exports/nightly/ds1-FHIR_EXPORT-job-1/manifest.json"
    );
    assert_eq!(put.num_calls(), 1);

    let denied = mock!(aws_sdk_s3::Client::put_object).then_error(|| {
        PutObjectError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("no s3:PutObject")
                .build(),
        )
    });
    let store = S3ManifestStore::new(mock_client!(aws_sdk_s3, [&denied]));
    let err = store
        .put_manifest(
            "s3://hlx-exports/nightly/ds1-FHIR_EXPORT-job-1/",
            &manifest,
            "alias/hlx",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HlxError::S3 { code, .. } if code == "AccessDenied"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_sdk_adapter_maps_a_moved_on_task_to_gone_and_sends_the_output() {
    let timed_out = mock!(aws_sdk_sfn::Client::send_task_success)
        .match_requests(|req| req.task_token() == Some("t-old"))
        .then_error(|| {
            SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().message("Task Timed Out").build())
        });
    let invalid = mock!(aws_sdk_sfn::Client::send_task_success)
        .match_requests(|req| req.task_token() == Some("garbage"))
        .then_error(|| {
            SendTaskSuccessError::InvalidToken(InvalidToken::builder().message("Invalid Token").build())
        });
    let delivered = mock!(aws_sdk_sfn::Client::send_task_success)
        .match_requests(|req| {
            req.task_token() == Some("t-live")
                && req.output().and_then(|o| serde_json::from_str::<Value>(o).ok())
                    == Some(json!({"wokenBy": "event"}))
        })
        .then_output(|| SendTaskSuccessOutput::builder().build());
    let client = mock_client!(
        aws_sdk_sfn,
        RuleMode::MatchAny,
        [&timed_out, &invalid, &delivered]
    );
    let tokens = SdkTaskTokens::new(client);
    let output = json!({"wokenBy": "event"});
    assert_eq!(
        tokens.send_task_success("t-old", &output).await.unwrap(),
        TokenAnswer::Gone {
            code: "TaskTimedOut".into()
        }
    );
    assert_eq!(
        tokens.send_task_success("garbage", &output).await.unwrap(),
        TokenAnswer::Gone {
            code: "InvalidToken".into()
        }
    );
    assert_eq!(
        tokens.send_task_success("t-live", &output).await.unwrap(),
        TokenAnswer::Delivered
    );
}
