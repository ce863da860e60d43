//! Every field rule at both sides of its limit, through the wire.
//!
//! A value just inside a limit passes validation: the call succeeds, or fails
//! later for another reason (an unknown data store is `ResourceNotFoundException`,
//! which the service only checks after validation). A value just outside is a
//! `ValidationException` (400) whose message names the member.

use aws_sdk_healthlake::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_healthlake::types::{FhirVersion, JobStatus};
use hlx_healthlake_emulator::JobProfile;
use serde_json::{Value, json};

use crate::common::*;

fn assert_invalid<O: std::fmt::Debug, E: ProvideErrorMetadata>(
    result: Result<O, SdkError<E>>,
    member: &str,
    constraint: &str,
) {
    let (code, status, message) = failure(result);
    assert_eq!(
        (code.as_str(), status),
        ("ValidationException", 400),
        "{member}: {message}"
    );
    assert!(
        message.contains(&format!("at '{member}' failed to satisfy constraint")),
        "{member}: {message}"
    );
    assert!(message.contains(constraint), "{member}: {message}");
}

fn assert_not_found<O: std::fmt::Debug, E: ProvideErrorMetadata>(result: Result<O, SdkError<E>>) {
    let (code, status, message) = failure(result);
    assert_eq!(
        (code.as_str(), status),
        ("ResourceNotFoundException", 404),
        "{message}"
    );
}

const LONGER: &str = "Member must have length less than or equal to";
const SHORTER: &str = "Member must have length greater than or equal to";
const PATTERN: &str = "Member must satisfy regular expression pattern";

#[tokio::test]
async fn datastore_id_is_1_to_32_characters_of_the_id_pattern() {
    let h = Harness::new(JobProfile::default()).await;
    let with_id = |id: &str| StartArgs {
        datastore_id: id.to_owned(),
        job_name: Some("n".into()),
        s3_uri: S3.into(),
        kms_key_id: KMS.into(),
        role: ROLE.into(),
        client_token: None,
    };
    assert_not_found(with_id(&"d".repeat(32)).send(&h.client).await);
    assert_not_found(with_id("d").send(&h.client).await);
    assert_invalid(
        with_id(&"d".repeat(33)).send(&h.client).await,
        "datastoreId",
        &format!("{LONGER} 32"),
    );
    assert_invalid(
        with_id("").send(&h.client).await,
        "datastoreId",
        &format!("{SHORTER} 1"),
    );
    assert_invalid(
        with_id("semi;colon").send(&h.client).await,
        "datastoreId",
        PATTERN,
    );
    // Same rule on the other operations.
    assert_not_found(
        h.client
            .describe_fhir_datastore()
            .datastore_id("d".repeat(32))
            .send()
            .await,
    );
    assert_invalid(
        h.client
            .describe_fhir_datastore()
            .datastore_id("d".repeat(33))
            .send()
            .await,
        "datastoreId",
        LONGER,
    );
    assert_invalid(
        h.client
            .list_fhir_export_jobs()
            .datastore_id("d".repeat(33))
            .send()
            .await,
        "datastoreId",
        LONGER,
    );
    assert_invalid(
        h.client.list_fhir_import_jobs().datastore_id("").send().await,
        "datastoreId",
        SHORTER,
    );
    assert!(h.emulator.export_jobs().is_empty());
}

#[tokio::test]
async fn job_id_is_1_to_32_characters() {
    let h = Harness::new(JobProfile::default()).await;
    let describe = |id: String| {
        h.client
            .describe_fhir_export_job()
            .datastore_id(&h.datastore_id)
            .job_id(id)
            .send()
    };
    assert_not_found(describe("j".repeat(32)).await);
    assert_not_found(describe("j".into()).await);
    assert_invalid(describe("j".repeat(33)).await, "jobId", &format!("{LONGER} 32"));
    assert_invalid(describe(String::new()).await, "jobId", SHORTER);
    assert_invalid(describe("a\tb".into()).await, "jobId", PATTERN);
    assert_invalid(
        h.client
            .describe_fhir_import_job()
            .datastore_id(&h.datastore_id)
            .job_id("j".repeat(33))
            .send()
            .await,
        "jobId",
        LONGER,
    );
}

#[tokio::test]
async fn job_name_is_1_to_64_characters() {
    let h = Harness::new(JobProfile::default()).await;
    let named = |name: String| {
        move |a: StartArgs| StartArgs {
            job_name: Some(name),
            ..a
        }
    };
    h.start_export(named("n".repeat(64)))
        .await
        .expect("64 characters");
    h.start_export(named("n".into())).await.expect("1 character");
    h.start_export(named("nightly 2026-01-01 ds:1/a=b+c%d@e".into()))
        .await
        .expect("the whole pattern");
    assert_invalid(
        h.start_export(named("n".repeat(65))).await,
        "jobName",
        &format!("{LONGER} 64"),
    );
    assert_invalid(h.start_export(named(String::new())).await, "jobName", SHORTER);
    assert_invalid(
        h.start_export(named("nightly#1".into())).await,
        "jobName",
        PATTERN,
    );
    assert_eq!(h.emulator.export_jobs().len(), 3);
    assert_invalid(
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .job_name("n".repeat(65))
            .send()
            .await,
        "jobName",
        LONGER,
    );
}

#[tokio::test]
async fn client_token_is_1_to_64_ascii_letters_digits_and_dashes() {
    let h = Harness::new(JobProfile::default()).await;
    let token = |t: String| {
        move |a: StartArgs| StartArgs {
            client_token: Some(t),
            ..a
        }
    };
    h.start_export(token("t".repeat(64)))
        .await
        .expect("64 characters");
    h.start_export(token("a-1".into())).await.expect("short");
    assert_invalid(
        h.start_export(token("t".repeat(65))).await,
        "clientToken",
        &format!("{LONGER} 64"),
    );
    assert_invalid(
        h.start_export(token("under_score".into())).await,
        "clientToken",
        PATTERN,
    );
    assert_invalid(h.start_export(token(String::new())).await, "clientToken", SHORTER);
    assert_eq!(h.emulator.export_jobs().len(), 2);
}

#[tokio::test]
async fn s3_uri_is_at_most_1024_characters_of_a_bucket_and_prefix() {
    let h = Harness::new(JobProfile::default()).await;
    let uri = |u: String| move |a: StartArgs| StartArgs { s3_uri: u, ..a };
    let at_limit = format!("s3://bucket/{}", "k".repeat(1024 - 12));
    assert_eq!(at_limit.len(), 1024);
    h.start_export(uri(at_limit.clone()))
        .await
        .expect("1024 characters");
    h.start_export(uri("s3://abc".into()))
        .await
        .expect("shortest bucket");
    let member = "outputDataConfig.s3Configuration.s3Uri";
    assert_invalid(
        h.start_export(uri(format!("{at_limit}k"))).await,
        member,
        &format!("{LONGER} 1024"),
    );
    assert_invalid(h.start_export(uri("s3://ab".into())).await, member, PATTERN);
    assert_invalid(
        h.start_export(uri("https://bucket/x".into())).await,
        member,
        PATTERN,
    );
    assert_invalid(h.start_export(uri("s3://Bucket/x".into())).await, member, PATTERN);
    assert_eq!(h.emulator.export_jobs().len(), 2);
}

#[tokio::test]
async fn kms_key_id_is_1_to_400_characters_of_a_key_or_alias() {
    let h = Harness::new(JobProfile::default()).await;
    let key = |k: String| move |a: StartArgs| StartArgs { kms_key_id: k, ..a };
    h.start_export(key("k".repeat(400)))
        .await
        .expect("400 characters");
    h.start_export(key("k".into())).await.expect("1 character");
    h.start_export(key("alias/hlx-exports".into()))
        .await
        .expect("alias");
    let member = "outputDataConfig.s3Configuration.kmsKeyId";
    assert_invalid(
        h.start_export(key("k".repeat(401))).await,
        member,
        &format!("{LONGER} 400"),
    );
    assert_invalid(h.start_export(key(String::new())).await, member, SHORTER);
    assert_invalid(h.start_export(key("not a key!".into())).await, member, PATTERN);
    assert_eq!(h.emulator.export_jobs().len(), 3);
}

#[tokio::test]
async fn data_access_role_arn_is_20_to_2048_characters_of_an_iam_role() {
    let h = Harness::new(JobProfile::default()).await;
    let role = |r: String| move |a: StartArgs| StartArgs { role: r, ..a };
    let long = format!("arn:aws:iam::123456789012:role/{}", "r".repeat(2048 - 31));
    assert_eq!(long.len(), 2048);
    h.start_export(role(long.clone())).await.expect("2048 characters");
    h.start_export(role("arn:aws:iam::123456789012:role/r".into()))
        .await
        .expect("shortest role ARN");
    assert_invalid(
        h.start_export(role(format!("{long}r"))).await,
        "dataAccessRoleArn",
        &format!("{LONGER} 2048"),
    );
    assert_invalid(
        h.start_export(role("arn:aws:iam::1:role".into())).await,
        "dataAccessRoleArn",
        &format!("{SHORTER} 20"),
    );
    assert_invalid(
        h.start_export(role("arn:aws:iam::123456789012:user/someone".into()))
            .await,
        "dataAccessRoleArn",
        PATTERN,
    );
    assert_eq!(h.emulator.export_jobs().len(), 2);
}

#[tokio::test]
async fn max_results_is_1_to_500() {
    let h = Harness::new(JobProfile::default()).await;
    let jobs = |n: i32| {
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .max_results(n)
            .send()
    };
    jobs(1).await.expect("1");
    jobs(500).await.expect("500");
    let over = "Member must have value less than or equal to 500";
    let under = "Member must have value greater than or equal to 1";
    assert_invalid(jobs(0).await, "maxResults", under);
    assert_invalid(jobs(501).await, "maxResults", over);
    let stores = |n: i32| h.client.list_fhir_datastores().max_results(n).send();
    stores(500).await.expect("500");
    assert_invalid(stores(501).await, "maxResults", over);
    let imports = |n: i32| {
        h.client
            .list_fhir_import_jobs()
            .datastore_id(&h.datastore_id)
            .max_results(n)
            .send()
    };
    imports(1).await.expect("1");
    assert_invalid(imports(0).await, "maxResults", under);
}

#[tokio::test]
async fn next_token_is_at_most_8192_ascii_characters() {
    let h = Harness::new(JobProfile::default()).await;
    let list = |t: String| {
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .next_token(t)
            .send()
    };
    assert_invalid(
        list("t".repeat(8193)).await,
        "nextToken",
        &format!("{LONGER} 8192"),
    );
    assert_invalid(list("é".into()).await, "nextToken", PATTERN);
    // 8192 ASCII characters pass validation and are then an unknown token.
    let (code, _, message) = failure(list("t".repeat(8192)).await);
    assert_eq!(code, "ValidationException");
    assert!(message.contains("pagination token"), "{message}");
}

#[tokio::test]
async fn data_store_name_and_version() {
    let h = Harness::new(JobProfile::default()).await;
    let create = |name: String, version: FhirVersion| {
        h.client
            .create_fhir_datastore()
            .datastore_name(name)
            .datastore_type_version(version)
            .send()
    };
    create("n".repeat(256), FhirVersion::R4)
        .await
        .expect("256 characters");
    create("n".into(), FhirVersion::R4).await.expect("1 character");
    assert_invalid(
        create("n".repeat(257), FhirVersion::R4).await,
        "datastoreName",
        &format!("{LONGER} 256"),
    );
    assert_invalid(
        create(String::new(), FhirVersion::R4).await,
        "datastoreName",
        SHORTER,
    );
    assert_invalid(
        create("ok".into(), FhirVersion::from("R5")).await,
        "datastoreTypeVersion",
        "Member must satisfy enum value set: [R4]",
    );
    assert_eq!(h.emulator.datastores().len(), 3);
    let missing = raw_call(&h.url(), "CreateFHIRDatastore", &json!({ "DatastoreName": "x" })).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body["message"],
        "1 validation error detected: Value null at 'datastoreTypeVersion' failed to satisfy constraint: Member must not be null"
    );
}

#[tokio::test]
async fn status_filters_take_only_known_statuses() {
    let h = Harness::new(JobProfile::default()).await;
    for status in JobStatus::values() {
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .job_status(JobStatus::from(*status))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{status}: {e:?}"));
    }
    assert_invalid(
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .job_status(JobStatus::from("PAUSED"))
            .send()
            .await,
        "jobStatus",
        "Member must satisfy enum value set",
    );
}

async fn start_raw(h: &Harness, body: Value) -> RawResponse {
    raw_call(&h.url(), "StartFHIRExportJob", &body).await
}

/// What the SDK's builders refuse to send, sent raw.
#[tokio::test]
async fn required_members_must_be_present() {
    let h = Harness::new(JobProfile::default()).await;
    let full = json!({
        "DatastoreId": h.datastore_id,
        "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
        "DataAccessRoleArn": ROLE,
    });
    assert_eq!(start_raw(&h, full.clone()).await.status, 200);

    let without = |path: &[&str]| {
        let mut body = full.clone();
        let (last, parents) = path.split_last().unwrap();
        let mut node = &mut body;
        for p in parents {
            node = &mut node[*p];
        }
        node.as_object_mut().unwrap().remove(*last);
        body
    };
    for (path, member) in [
        (&["DatastoreId"][..], "datastoreId"),
        (&["DataAccessRoleArn"][..], "dataAccessRoleArn"),
        (&["OutputDataConfig"][..], "outputDataConfig"),
        (
            &["OutputDataConfig", "S3Configuration"][..],
            "outputDataConfig.s3Configuration",
        ),
        (
            &["OutputDataConfig", "S3Configuration", "S3Uri"][..],
            "outputDataConfig.s3Configuration.s3Uri",
        ),
        (
            &["OutputDataConfig", "S3Configuration", "KmsKeyId"][..],
            "outputDataConfig.s3Configuration.kmsKeyId",
        ),
    ] {
        let answer = start_raw(&h, without(path)).await;
        assert_eq!(answer.status, 400, "{member}");
        assert_eq!(
            answer.body["__type"],
            "com.amazonaws.healthlake#ValidationException"
        );
        assert_eq!(
            answer.body["message"],
            format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ),
        );
    }

    // The 2021 preview shape (a bare S3Uri) is no longer accepted.
    let preview = json!({
        "DatastoreId": h.datastore_id,
        "OutputDataConfig": { "S3Uri": S3 },
        "DataAccessRoleArn": ROLE,
    });
    let answer = start_raw(&h, preview).await;
    assert_eq!(answer.status, 400);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.starts_with("2 validation errors detected"), "{message}");
    assert!(
        message.contains("Value null at 'outputDataConfig.s3Configuration'"),
        "{message}"
    );

    // Everything wrong at once: one message lists every violation.
    let answer = start_raw(&h, json!({ "JobName": "bad#name" })).await;
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.starts_with("4 validation errors detected: "), "{message}");
    for member in ["jobName", "outputDataConfig", "datastoreId", "dataAccessRoleArn"] {
        assert!(message.contains(&format!("at '{member}'")), "{member}: {message}");
    }

    // Describe and import have their own required members.
    let answer = raw_call(
        &h.url(),
        "DescribeFHIRExportJob",
        &json!({ "DatastoreId": h.datastore_id }),
    )
    .await;
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .contains("Value null at 'jobId'")
    );
    let answer = raw_call(
        &h.url(),
        "StartFHIRImportJob",
        &json!({
            "DatastoreId": h.datastore_id,
            "JobOutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
            "DataAccessRoleArn": ROLE,
            "ValidationLevel": "lenient",
        }),
    )
    .await;
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.starts_with("2 validation errors"), "{message}");
    assert!(message.contains("Value null at 'inputDataConfig'"), "{message}");
    assert!(message.contains("at 'validationLevel'"), "{message}");
    assert_eq!(h.emulator.export_jobs().len(), 1);
    assert!(h.emulator.import_jobs().is_empty());
}

#[tokio::test]
async fn wrong_json_types_are_serialization_errors() {
    let h = Harness::new(JobProfile::default()).await;
    for body in [
        json!({ "DatastoreId": 5 }),
        json!({ "DatastoreId": h.datastore_id, "MaxResults": "ten" }),
        json!({ "DatastoreId": h.datastore_id, "SubmittedAfter": "2026-01-01" }),
        json!([1, 2]),
    ] {
        let answer = raw_call(&h.url(), "ListFHIRExportJobs", &body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(
            answer.body["__type"], "com.amazon.coral.service#SerializationException",
            "{body}"
        );
    }
}
