//! Every operation through the real SDK, and every error shape with its HTTP status.

use aws_sdk_healthlake::primitives::DateTime;
use aws_sdk_healthlake::types::{
    DatastoreFilter, DatastoreStatus, FhirVersion, InputDataConfig, JobStatus, OutputDataConfig,
    S3Configuration,
};
use hlx_healthlake_emulator::{FaultSpec, Faults, JobProfile, Operation};
use serde_json::json;

use crate::common::*;

fn epoch(ts: jiff::Timestamp) -> DateTime {
    DateTime::from_millis(ts.as_millisecond())
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[tokio::test]
async fn data_store_operations_round_trip() {
    let h = Harness::new(JobProfile::default()).await;
    let created = h
        .client
        .create_fhir_datastore()
        .datastore_name("research")
        .datastore_type_version(FhirVersion::R4)
        .send()
        .await
        .expect("create");
    let id = created.datastore_id().to_owned();
    assert!(is_hex32(&id), "{id}");
    assert_ne!(id, h.datastore_id);
    assert_eq!(
        created.datastore_arn(),
        format!("arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/{id}")
    );
    assert_eq!(created.datastore_status(), &DatastoreStatus::Active);
    assert_eq!(
        created.datastore_endpoint(),
        format!("https://healthlake.us-east-1.amazonaws.com/datastore/{id}/r4/")
    );

    let described = h
        .client
        .describe_fhir_datastore()
        .datastore_id(&id)
        .send()
        .await
        .expect("describe");
    let props = described.datastore_properties().expect("properties");
    assert_eq!(props.datastore_id(), id);
    assert_eq!(props.datastore_name(), Some("research"));
    assert_eq!(props.datastore_status(), &DatastoreStatus::Active);
    assert_eq!(props.datastore_type_version(), &FhirVersion::R4);
    assert_eq!(props.created_at(), Some(&epoch(h.clock.now())));
    assert!(props.sse_configuration().is_some());

    let all = h.client.list_fhir_datastores().send().await.expect("list");
    let ids: Vec<_> = all
        .datastore_properties_list()
        .iter()
        .map(|d| d.datastore_id().to_owned())
        .collect();
    assert_eq!(ids, vec![h.datastore_id.clone(), id.clone()]);
    let filtered = h
        .client
        .list_fhir_datastores()
        .filter(DatastoreFilter::builder().datastore_name("research").build())
        .send()
        .await
        .expect("filtered list");
    assert_eq!(filtered.datastore_properties_list().len(), 1);
    assert_eq!(filtered.datastore_properties_list()[0].datastore_id(), id);

    let first_page = h
        .client
        .list_fhir_datastores()
        .max_results(1)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first_page.datastore_properties_list().len(), 1);
    let token = first_page.next_token().expect("a second page").to_owned();
    let second_page = h
        .client
        .list_fhir_datastores()
        .max_results(1)
        .next_token(token)
        .send()
        .await
        .expect("page 2");
    assert_eq!(second_page.datastore_properties_list()[0].datastore_id(), id);
    assert_eq!(second_page.next_token(), None);
}

#[tokio::test]
async fn create_data_store_is_idempotent_on_its_client_token() {
    let h = Harness::new(JobProfile::default()).await;
    let create = |name: &str| {
        h.client
            .create_fhir_datastore()
            .datastore_name(name)
            .datastore_type_version(FhirVersion::R4)
            .client_token("create-once")
            .send()
    };
    let a = create("one").await.expect("first");
    let b = create("one").await.expect("repeat");
    assert_eq!(a.datastore_id(), b.datastore_id());
    let (code, status, _) = failure(create("two").await);
    assert_eq!((code.as_str(), status), ("ConflictException", 409));
    assert_eq!(h.emulator.datastores().len(), 2);
}

#[tokio::test]
async fn export_operations_round_trip() {
    let h = Harness::new(JobProfile::default()).await;
    let started = h.start_export(|a| a).await.expect("start");
    assert!(is_hex32(started.job_id()));
    assert_eq!(started.job_status(), &JobStatus::Submitted);
    assert_eq!(started.datastore_id(), Some(h.datastore_id.as_str()));

    let props = h.describe_export(started.job_id()).await;
    assert_eq!(props.job_id(), started.job_id());
    assert_eq!(props.job_name(), Some("nightly"));
    assert_eq!(props.job_status(), &JobStatus::Submitted);
    assert_eq!(props.submit_time(), &epoch(h.clock.now()));
    assert_eq!(props.end_time(), None);
    assert_eq!(props.datastore_id(), h.datastore_id);
    assert_eq!(props.data_access_role_arn(), Some(ROLE));
    let s3 = props.output_data_config().unwrap().as_s3_configuration().unwrap();
    assert_eq!((s3.s3_uri(), s3.kms_key_id()), (S3, KMS));
    assert_eq!(props.message(), None);

    let listed = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .send()
        .await
        .expect("list");
    assert_eq!(listed.export_job_properties_list(), [props]);
}

#[tokio::test]
async fn import_operations_round_trip() {
    let h = Harness::new(JobProfile::default()).await;
    let started = h
        .client
        .start_fhir_import_job()
        .job_name("backfill")
        .datastore_id(&h.datastore_id)
        .input_data_config(InputDataConfig::S3Uri("s3://hlx-imports/batch-1/".into()))
        .job_output_data_config(OutputDataConfig::S3Configuration(
            S3Configuration::builder()
                .s3_uri("s3://hlx-imports/results/")
                .kms_key_id(KMS)
                .build()
                .unwrap(),
        ))
        .data_access_role_arn(ROLE)
        .send()
        .await
        .expect("start import");
    assert_eq!(started.job_status(), &JobStatus::Submitted);

    let props = h
        .client
        .describe_fhir_import_job()
        .datastore_id(&h.datastore_id)
        .job_id(started.job_id())
        .send()
        .await
        .expect("describe import")
        .import_job_properties
        .expect("properties");
    assert_eq!(props.job_name(), Some("backfill"));
    assert_eq!(
        props.input_data_config().unwrap().as_s3_uri().unwrap(),
        "s3://hlx-imports/batch-1/"
    );
    let output = props
        .job_output_data_config()
        .unwrap()
        .as_s3_configuration()
        .unwrap();
    assert_eq!(output.s3_uri(), "s3://hlx-imports/results/");

    let listed = h
        .client
        .list_fhir_import_jobs()
        .datastore_id(&h.datastore_id)
        .send()
        .await
        .expect("list imports");
    assert_eq!(listed.import_job_properties_list(), [props]);
    // An import is not an export.
    let (code, status, _) = failure(
        h.client
            .describe_fhir_export_job()
            .datastore_id(&h.datastore_id)
            .job_id(started.job_id())
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
}

#[tokio::test]
async fn unknown_data_stores_and_jobs_are_not_found() {
    let h = Harness::new(JobProfile::default()).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    let (code, status, message) = failure(
        h.client
            .describe_fhir_datastore()
            .datastore_id(unknown)
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    assert!(message.contains(unknown), "{message}");

    let (code, _, _) = failure(
        h.start_export(|a| StartArgs {
            datastore_id: unknown.into(),
            ..a
        })
        .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    assert!(h.emulator.export_jobs().is_empty());

    let err = h
        .client
        .describe_fhir_export_job()
        .datastore_id(&h.datastore_id)
        .job_id(unknown)
        .send()
        .await
        .expect_err("unknown job");
    assert!(err.into_service_error().is_resource_not_found_exception());

    for result in [
        failure(
            h.client
                .list_fhir_export_jobs()
                .datastore_id(unknown)
                .send()
                .await,
        ),
        failure(
            h.client
                .list_fhir_import_jobs()
                .datastore_id(unknown)
                .send()
                .await,
        ),
    ] {
        assert_eq!((result.0.as_str(), result.1), ("ResourceNotFoundException", 404));
    }
    let (code, _, _) = failure(
        h.client
            .describe_fhir_import_job()
            .datastore_id(&h.datastore_id)
            .job_id(unknown)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn export_lists_page_newest_first_and_filter() {
    let h = Harness::new(JobProfile::default()).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let job = h
            .start_export(|a| StartArgs {
                job_name: Some(format!("job-{n}")),
                ..a
            })
            .await
            .expect("start");
        ids.push(job.job_id().to_owned());
        h.advance_secs(1);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = h
            .client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        pages += 1;
        seen.extend(
            page.export_job_properties_list()
                .iter()
                .map(|j| j.job_id().to_owned()),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let named = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .job_name("job-3")
        .send()
        .await
        .unwrap();
    assert_eq!(named.export_job_properties_list().len(), 1);
    assert_eq!(named.export_job_properties_list()[0].job_id(), ids[1]);

    // Submitted at start+0..4 s; after start+1.5 s leaves jobs 2, 3, 4.
    let start = h.clock.now() - jiff::SignedDuration::from_secs(5);
    let after = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .submitted_after(DateTime::from_millis(start.as_millisecond() + 1500))
        .send()
        .await
        .unwrap();
    assert_eq!(after.export_job_properties_list().len(), 3);
    let before = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .submitted_before(DateTime::from_millis(start.as_millisecond() + 1500))
        .send()
        .await
        .unwrap();
    assert_eq!(before.export_job_properties_list().len(), 2);

    // The first job runs (queue delay 5 s); the others are still submitted.
    let running = h
        .client
        .list_fhir_export_jobs()
        .datastore_id(&h.datastore_id)
        .job_status(JobStatus::InProgress)
        .send()
        .await
        .unwrap();
    assert_eq!(running.export_job_properties_list().len(), 1);
    assert_eq!(running.export_job_properties_list()[0].job_id(), ids[4]);

    let (code, status, message) = failure(
        h.client
            .list_fhir_export_jobs()
            .datastore_id(&h.datastore_id)
            .next_token("not-a-token")
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("ValidationException", 400));
    assert!(message.contains("token"), "{message}");
}

#[tokio::test]
async fn timestamps_are_epoch_seconds_with_fractions() {
    let h = Harness::new(JobProfile::default()).await;
    h.clock.advance_by(jiff::SignedDuration::from_millis(250));
    let job = h.start_export(|a| a).await.unwrap();
    let raw = raw_call(
        &h.url(),
        "DescribeFHIRExportJob",
        &json!({ "DatastoreId": h.datastore_id, "JobId": job.job_id() }),
    )
    .await;
    let submit = &raw.body["ExportJobProperties"]["SubmitTime"];
    assert!(submit.is_f64(), "{submit}");
    assert_eq!(
        submit.as_f64().unwrap(),
        h.clock.now().as_millisecond() as f64 / 1000.0
    );
    let props = h.describe_export(job.job_id()).await;
    assert_eq!(props.submit_time().subsec_nanos(), 250_000_000);
}

/// Every error shape: `__type`, `x-amzn-errortype`, HTTP status, request id.
#[tokio::test]
async fn every_error_shape_has_its_status_type_and_headers() {
    let h = Harness::new(JobProfile::default()).await;
    let url = h.url();
    let start = json!({
        "DatastoreId": h.datastore_id,
        "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
        "DataAccessRoleArn": ROLE,
        "ClientToken": "token-1",
    });
    let ok = raw_call(&url, "StartFHIRExportJob", &start).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("application/x-amz-json-1.0"));
    assert_eq!(ok.header("x-amzn-errortype"), None);

    let mut cases = Vec::new();
    let mut bad_role = start.clone();
    bad_role["DataAccessRoleArn"] = json!("not-a-role-arn-at-all");
    cases.push((
        raw_call(&url, "StartFHIRExportJob", &bad_role).await,
        "com.amazonaws.healthlake#ValidationException",
        400,
    ));
    cases.push((
        raw_call(
            &url,
            "DescribeFHIRDatastore",
            &json!({ "DatastoreId": "missing" }),
        )
        .await,
        "com.amazonaws.healthlake#ResourceNotFoundException",
        404,
    ));
    let mut conflicting = start.clone();
    conflicting["JobName"] = json!("another");
    cases.push((
        raw_call(&url, "StartFHIRExportJob", &conflicting).await,
        "com.amazonaws.healthlake#ConflictException",
        409,
    ));
    cases.push((
        raw_call(&url, "ListFHIRExportJobs", &json!({"DatastoreId": 7})).await,
        "com.amazon.coral.service#SerializationException",
        400,
    ));
    cases.push((
        raw_post(
            &url,
            Some("HealthLake.ListFHIRDatastores"),
            Some(SIGNED),
            "{not json",
        )
        .await,
        "com.amazon.coral.service#SerializationException",
        400,
    ));
    cases.push((
        raw_call(&url, "DeleteFHIRDatastore", &json!({})).await,
        "com.amazon.coral.service#UnknownOperationException",
        400,
    ));
    cases.push((
        raw_post(&url, None, Some(SIGNED), "{}").await,
        "com.amazon.coral.service#UnknownOperationException",
        400,
    ));
    cases.push((
        raw_post(&url, Some("HealthLake.ListFHIRDatastores"), None, "{}").await,
        "com.amazon.coral.service#MissingAuthenticationTokenException",
        403,
    ));
    for (kind, set) in [
        ("com.amazonaws.healthlake#ThrottlingException", 429),
        ("com.amazonaws.healthlake#InternalServerException", 500),
        ("com.amazonaws.healthlake#AccessDeniedException", 403),
    ] {
        let spec = match set {
            429 => FaultSpec {
                throttle_rate: 1.0,
                ..FaultSpec::default()
            },
            500 => FaultSpec {
                internal_error_rate: 1.0,
                ..FaultSpec::default()
            },
            _ => FaultSpec {
                access_denied_rate: 1.0,
                ..FaultSpec::default()
            },
        };
        h.emulator
            .set_faults(Faults::none().with(Operation::ListFhirDatastores, spec));
        cases.push((raw_call(&url, "ListFHIRDatastores", &json!({})).await, kind, set));
    }
    h.emulator.set_faults(Faults::none());

    let mut request_ids = vec![ok.header("x-amzn-requestid").unwrap().to_owned()];
    for (response, type_id, status) in &cases {
        assert_eq!(response.status, *status, "{type_id}: {response:?}");
        assert_eq!(response.body["__type"], json!(type_id), "{response:?}");
        let name = type_id.split('#').nth(1).unwrap();
        assert_eq!(response.header("x-amzn-errortype"), Some(name));
        assert!(
            response.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{response:?}"
        );
        request_ids.push(
            response
                .header("x-amzn-requestid")
                .expect("request id")
                .to_owned(),
        );
    }
    request_ids.sort();
    request_ids.dedup();
    assert_eq!(request_ids.len(), cases.len() + 1, "request ids are unique");
}

/// The SDK maps each error to its modeled variant.
#[tokio::test]
async fn the_sdk_sees_modeled_errors() {
    let h = Harness::new(JobProfile::default()).await;
    let err = h
        .start_export(|a| StartArgs {
            role: "arn:aws:iam::123:role/x".into(),
            ..a
        })
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    for (spec, check) in [
        (
            FaultSpec {
                throttle_rate: 1.0,
                ..FaultSpec::default()
            },
            (|e: &aws_sdk_healthlake::operation::start_fhir_export_job::StartFHIRExportJobError| {
                e.is_throttling_exception()
            }) as fn(&_) -> bool,
        ),
        (
            FaultSpec {
                internal_error_rate: 1.0,
                ..FaultSpec::default()
            },
            |e| e.is_internal_server_exception(),
        ),
        (
            FaultSpec {
                access_denied_rate: 1.0,
                ..FaultSpec::default()
            },
            |e| e.is_access_denied_exception(),
        ),
    ] {
        h.emulator.set_faults(Faults::uniform(spec));
        let err = h.start_export(|a| a).await.unwrap_err().into_service_error();
        assert!(check(&err), "{err:?}");
    }
    assert!(h.emulator.export_jobs().is_empty(), "no fault created a job");
}

#[tokio::test]
async fn calls_are_recorded_with_their_results() {
    let h = Harness::new(JobProfile::default()).await;
    h.start_export(|a| a).await.unwrap();
    let _ = h
        .client
        .describe_fhir_datastore()
        .datastore_id("nope")
        .send()
        .await;
    let _ = raw_call(&h.url(), "Bogus", &json!({})).await;
    let calls = h.emulator.calls();
    let summary: Vec<_> = calls
        .iter()
        .map(|c| (c.operation.as_str(), c.status, c.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("StartFHIRExportJob", 200, None),
            ("DescribeFHIRDatastore", 404, Some("ResourceNotFoundException")),
            ("HealthLake.Bogus", 400, Some("UnknownOperationException")),
        ]
    );
    assert!(calls.iter().all(|c| c.at == h.clock.now()));
    let counts = h.emulator.call_counts();
    assert_eq!(counts["StartFHIRExportJob"], 1);
    assert_eq!(counts.values().sum::<usize>(), 3);
}

#[tokio::test]
async fn the_server_shuts_down_gracefully() {
    let h = Harness::new(JobProfile::default()).await;
    let url = h.url();
    h.server.shutdown().await.expect("clean shutdown");
    let addr = url.trim_start_matches("http://").to_owned();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
