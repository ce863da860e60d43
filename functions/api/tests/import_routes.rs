//! The import routes through the handler, with in-memory fakes: the same
//! idempotency, errors and paging as the export routes, the input location
//! held to the configured prefix, and the two kinds never read as each other.

mod common;

use api::ApiConfig;
use common::*;
use hlx_core::{ImportRequest, JobKind, JobRequest, JobStore, Trigger};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

fn import_id(body: &Value) -> &str {
    body["importId"].as_str().expect("an importId")
}

fn input_of(api: &TestApi, name: &str) -> Value {
    let execution = api
        .executions()
        .executions()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no execution {name}"));
    serde_json::from_str(execution.input.as_deref().unwrap()).unwrap()
}

// ------------------------------------------------------------- POST /imports

#[tokio::test]
async fn a_post_starts_one_import_of_the_configured_locations_with_kind_import() {
    let (api, _) = api();
    let response = api
        .handle(post_import(&json!({"jobName": "landing batch"})))
        .await;
    let (status, body) = read(&response);
    assert_eq!(status, 202, "{body}");
    let id = import_id(&body);
    assert!(
        id.starts_with(&format!("api-import-{DATASTORE}-20261124-")),
        "{id}"
    );
    assert!(body.get("exportId").is_none(), "{body}");
    assert_eq!(body["status"], "STARTING");
    assert_eq!(
        body["executionArn"],
        format!("arn:aws:states:us-east-1:123456789012:execution:hlx-job:{id}")
    );
    assert_eq!(response.headers()["location"], format!("/imports/{id}"));

    assert_eq!(api.executions().executions().len(), 1);
    let input = input_of(&api, id);
    assert_eq!(
        input,
        json!({
            "kind": "import",
            "datastoreId": DATASTORE,
            "inputS3Uri": IMPORT_INPUT,
            "outputS3Uri": IMPORT_LOGS,
            "kmsKeyId": KMS_KEY,
            "dataAccessRoleArn": ROLE,
            "jobName": "landing batch",
            "trigger": "api"
        })
    );
    let JobRequest::Import(request) = JobRequest::from_value(&input).unwrap() else {
        panic!("an import request: {input}");
    };
    assert_eq!(request.trigger, Trigger::Api);
    request.validate().unwrap();
}

#[tokio::test]
async fn the_same_post_twice_is_one_import() {
    let (api, clock) = api();
    let (status, first) = read(&api.handle(post_import(&json!({}))).await);
    assert_eq!(status, 202, "{first}");
    clock.advance_by(jiff::SignedDuration::from_hours(10));
    let response = api.handle(post_import(&json!({}))).await;
    let (status, again) = read(&response);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["importId"], first["importId"]);
    assert_eq!(again["executionArn"], first["executionArn"]);
    assert_eq!(again["status"], "RUNNING");
    assert_eq!(
        response.headers()["location"],
        format!("/imports/{}", import_id(&first))
    );
    // The default input location spelt out is the same request.
    let (status, spelt) = read(
        &api.handle(post_import(&json!({"inputS3Uri": IMPORT_INPUT})))
            .await,
    );
    assert_eq!((status, &spelt["importId"]), (200, &first["importId"]));
    assert_eq!(api.executions().start_calls(), 1, "no second StartExecution");

    // With a key: the same across days; another request under it is a 409.
    let (status, keyed) = read(&api.handle(post_import_with_key("batch-7", &json!({}))).await);
    assert_eq!(status, 202);
    assert_eq!(
        keyed["importId"],
        api::naming::name_for_key(JobKind::Import, "batch-7")
    );
    clock.advance_by(jiff::SignedDuration::from_hours(48));
    let (status, again) = read(&api.handle(post_import_with_key("batch-7", &json!({}))).await);
    assert_eq!((status, &again["importId"]), (200, &keyed["importId"]));
    let conflict = api
        .handle(post_import_with_key("batch-7", &json!({"jobName": "other"})))
        .await;
    let body = expect_error(&conflict, 409, "IdempotencyConflict");
    assert!(
        body["message"].as_str().unwrap().contains(import_id(&keyed)),
        "{body}"
    );
    assert_eq!(api.executions().start_calls(), 2);
}

#[tokio::test]
async fn an_export_and_an_import_under_the_same_key_are_two_jobs() {
    let (api, _) = api();
    let (status, export) = read(&api.handle(post_with_key("shared-key", &json!({}))).await);
    assert_eq!(status, 202, "{export}");
    let (status, import) = read(&api.handle(post_import_with_key("shared-key", &json!({}))).await);
    assert_eq!(status, 202, "{import}");
    assert_ne!(export["exportId"], import["importId"]);
    assert_eq!(api.executions().executions().len(), 2);
    assert!(
        input_of(&api, export["exportId"].as_str().unwrap())
            .get("kind")
            .is_none()
    );
    assert_eq!(input_of(&api, import_id(&import))["kind"], "import");
}

#[tokio::test]
async fn an_input_inside_the_configured_prefix_is_taken() {
    let (api, _) = api();
    for given in [
        "s3://hlx-landing/fhir/batch-7/",
        "s3://hlx-landing/fhir/batch-7/patients.ndjson",
        "s3://hlx-landing/fhir",
    ] {
        let (status, body) = read(
            &api.handle(post_import(
                &json!({"inputS3Uri": given, "datastoreId": "other-ds"}),
            ))
            .await,
        );
        assert_eq!(status, 202, "{given}: {body}");
        let input = input_of(&api, import_id(&body));
        assert_eq!(input["inputS3Uri"], given);
        assert_eq!(
            input["outputS3Uri"], IMPORT_LOGS,
            "the logs' location is the configured one"
        );
        ImportRequest::from_value(&{
            let mut rest = input.clone();
            rest.as_object_mut().unwrap().remove("kind");
            rest
        })
        .unwrap();
    }
}

#[tokio::test]
async fn an_input_outside_the_configured_prefix_is_a_400_naming_the_field_and_starts_nothing() {
    let (api, _) = api();
    for outside in [
        "s3://hlx-landing/fhirx/",
        "s3://hlx-landing/",
        "s3://hlx-landing",
        "s3://other-bucket/fhir/",
        "s3://hlx-landing/fhir/../secret/",
        "s3://hlx-landing/fhir/./batch/",
        "s3://hlx-import-logs/api/",
    ] {
        let response = api.handle(post_import(&json!({"inputS3Uri": outside}))).await;
        let message = expect_invalid(&response, "inputS3Uri");
        assert!(
            message.contains("must lie inside s3://hlx-landing/fhir/"),
            "{outside}: {message}"
        );
        assert!(message.contains("data access role"), "{message}");
    }
    for (given, rule) in [
        (json!("https://hlx-landing/fhir/"), "pattern"),
        (json!("hlx-landing/fhir/"), "pattern"),
        (json!(7), "must be a string"),
        (json!(["s3://hlx-landing/fhir/"]), "must be a string"),
    ] {
        let response = api.handle(post_import(&json!({ "inputS3Uri": given }))).await;
        let message = expect_invalid(&response, "inputS3Uri");
        assert!(message.contains(rule), "{given}: {message}");
    }
    assert_eq!(api.executions().start_calls(), 0, "nothing started");
}

#[tokio::test]
async fn callers_may_not_redirect_the_logs_or_set_the_key_role_or_trigger() {
    let (api, _) = api();
    for field in ["outputS3Uri", "kmsKeyId", "dataAccessRoleArn", "trigger"] {
        let response = api
            .handle(post_import(&json!({ field: "s3://elsewhere/x" })))
            .await;
        let message = expect_invalid(&response, field);
        assert!(message.contains("configuration"), "{message}");
    }
    // An export's field, the kind, a misspelt field: unknown, by name.
    for field in ["s3Uri", "kind", "inputS3URI"] {
        let response = api.handle(post_import(&json!({ field: "x" }))).await;
        let message = expect_invalid(&response, field);
        assert!(message.contains("not a field of an import request"), "{message}");
    }
    // And the reverse: an import's input is not a field of an export.
    let response = api.handle(post_json(&json!({"inputS3Uri": IMPORT_INPUT}))).await;
    let message = expect_invalid(&response, "inputS3Uri");
    assert!(message.contains("not a field of an export request"), "{message}");
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn the_domain_rules_apply_to_an_import_body() {
    let (api, _) = api();
    let cases = [
        (
            json!({"datastoreId": "x".repeat(33)}),
            "datastoreId",
            "between 1 and 32",
        ),
        (json!({"datastoreId": 7}), "datastoreId", "must be a string"),
        (json!({"jobName": "n".repeat(65)}), "jobName", "between 1 and 64"),
        (json!({"jobName": "nightly#1"}), "jobName", "pattern"),
    ];
    for (body, field, rule) in cases {
        let message = expect_invalid(&api.handle(post_import(&body)).await, field);
        assert!(message.contains(rule), "{body}: {message}");
    }
    let (api, _) = api_with(ApiConfig {
        default_datastore_id: None,
        ..config()
    });
    let message = expect_invalid(&api.handle(post_import(&json!({}))).await, "datastoreId");
    assert!(message.contains("is required"), "{message}");
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn malformed_and_oversized_import_bodies_are_refused_as_for_exports() {
    let (api, _) = api();
    let response = api
        .handle(request(
            "POST",
            "/imports",
            &[("content-type", "application/json")],
            b"{",
        ))
        .await;
    expect_invalid(&response, "body");
    let response = api
        .handle(request(
            "POST",
            "/imports",
            &[("content-type", "text/plain")],
            b"{}",
        ))
        .await;
    expect_error(&response, 415, "UnsupportedMediaType");
    let big = format!("{{\"jobName\": \"{}\"}}", "n".repeat(16 * 1024));
    let response = api.handle(request("POST", "/imports", &[], big.as_bytes())).await;
    expect_error(&response, 413, "PayloadTooLarge");
    let response = api
        .handle(request(
            "POST",
            "/imports",
            &[("idempotency-key", "bad key")],
            b"{}",
        ))
        .await;
    expect_invalid(&response, "Idempotency-Key");
    let response = api
        .handle(request("POST", "/imports?datastoreId=x", &[], b"{}"))
        .await;
    expect_invalid(&response, "datastoreId");
    assert_eq!(api.executions().start_calls(), 0);
}

#[tokio::test]
async fn without_import_locations_post_imports_is_a_501_and_exports_keep_working() {
    let (api, _) = api_with(config_without_imports());
    let response = api.handle(post_import(&json!({}))).await;
    let body = expect_error(&response, 501, "NotConfigured");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("imports are not configured"), "{message}");
    assert!(
        message.contains("HLX_IMPORT_INPUT_S3_URI and HLX_IMPORT_OUTPUT_S3_URI"),
        "{message}"
    );
    assert_eq!(api.executions().start_calls(), 0);
    // Exports are unaffected; imports already recorded stay readable.
    assert_eq!(read(&api.handle(post_json(&json!({}))).await).0, 202);
    api.store()
        .write(&import_record("import-ds-1", DATASTORE, 0))
        .await
        .unwrap();
    assert_eq!(read(&api.handle(get("/imports/import-ds-1")).await).0, 200);
    let (status, page) = read(&api.handle(get("/imports")).await);
    assert_eq!((status, page["records"].as_array().unwrap().len()), (200, 1));

    // Half a configuration names the missing half.
    let (api, _) = api_with(ApiConfig {
        import_output_s3_uri: None,
        ..config()
    });
    let body = expect_error(&api.handle(post_import(&json!({}))).await, 501, "NotConfigured");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("no HLX_IMPORT_OUTPUT_S3_URI "), "{message}");
    assert!(!message.contains("HLX_IMPORT_INPUT_S3_URI"), "{message}");
}

// --------------------------------------------------------- GET /imports/{id}

#[tokio::test]
async fn a_recorded_import_is_answered_with_its_record_and_counts() {
    let (api, _) = api();
    let stored = import_record("import-ds-2026-11-24", DATASTORE, 0);
    api.store().write(&stored).await.unwrap();
    let (status, body) = read(&api.handle(get("/imports/import-ds-2026-11-24")).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, api::api::record_answer(&stored));
    assert_eq!(body["importId"], "import-ds-2026-11-24");
    assert!(
        body.get("id").is_none() && body.get("exportId").is_none(),
        "{body}"
    );
    assert_eq!(body["kind"], "import");
    assert_eq!(body["inputS3Uri"], IMPORT_INPUT);
    assert_eq!(body["importCounts"]["resourcesWithErrors"], 1);
    assert_eq!(record_from_answer(&body), stored);
}

#[tokio::test]
async fn a_started_import_without_a_record_reads_as_starting() {
    let (api, clock) = api();
    let (_, started) = read(
        &api.handle(post_import_with_key("k1", &json!({"jobName": "adhoc"})))
            .await,
    );
    let id = import_id(&started).to_owned();
    clock.advance_by(jiff::SignedDuration::from_secs(3));
    let (status, body) = read(&api.handle(get(&format!("/imports/{id}"))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "STARTING");
    assert_eq!(body["kind"], "import");
    assert_eq!(
        body["importId"],
        id.as_str(),
        "an import's record answers its id as importId"
    );
    assert_eq!(body["inputS3Uri"], IMPORT_INPUT);
    assert_eq!(body["s3Uri"], IMPORT_LOGS);
    assert_eq!(body["trigger"], "api");

    // An import that ended without a record reads as an error, still an import.
    api.executions().finish(&id, "FAILED");
    let (status, body) = read(&api.handle(get(&format!("/imports/{id}"))).await);
    assert_eq!(status, 200);
    assert_eq!(
        (body["status"].as_str(), body["kind"].as_str()),
        (Some("ERROR"), Some("import"))
    );
    assert_eq!(body["errorName"], "hlx.NoRecord");
}

#[tokio::test]
async fn an_export_id_under_imports_is_a_404_and_the_reverse() {
    let (api, _) = api();
    let (_, export) = read(&api.handle(post_json(&json!({}))).await);
    let id = export["exportId"].as_str().unwrap().to_owned();
    let (_, import) = read(&api.handle(post_import(&json!({}))).await);
    let import_id = import_id(&import).to_owned();

    // Started, not recorded yet: the execution's input says its kind.
    let body = expect_error(&api.handle(get(&format!("/imports/{id}"))).await, 404, "NotFound");
    assert!(
        body["message"].as_str().unwrap().contains("no import has the id"),
        "{body}"
    );
    let body = expect_error(
        &api.handle(get(&format!("/exports/{import_id}"))).await,
        404,
        "NotFound",
    );
    assert!(
        body["message"].as_str().unwrap().contains("no export has the id"),
        "{body}"
    );
    assert_eq!(read(&api.handle(get(&format!("/exports/{id}"))).await).0, 200);
    assert_eq!(
        read(&api.handle(get(&format!("/imports/{import_id}"))).await).0,
        200
    );

    // Recorded: the records are kept by kind.
    api.store().write(&record(&id, DATASTORE, 0)).await.unwrap();
    api.store()
        .write(&import_record(&import_id, DATASTORE, 1))
        .await
        .unwrap();
    expect_error(&api.handle(get(&format!("/imports/{id}"))).await, 404, "NotFound");
    expect_error(
        &api.handle(get(&format!("/exports/{import_id}"))).await,
        404,
        "NotFound",
    );
    let (_, body) = read(&api.handle(get(&format!("/imports/{import_id}"))).await);
    assert_eq!(body["status"], "COMPLETED_WITH_ERRORS");

    // A recorded export without its execution is no import either.
    api.store()
        .write(&record("nightly-1", DATASTORE, 2))
        .await
        .unwrap();
    expect_error(&api.handle(get("/imports/nightly-1")).await, 404, "NotFound");
    expect_error(&api.handle(get("/imports/a%3Ab")).await, 404, "NotFound");
}

// ------------------------------------------------------------- GET /imports

#[tokio::test]
async fn an_import_list_pages_newest_first_and_holds_only_imports() {
    let (api, _) = api();
    for minute in 0..5 {
        api.store()
            .write(&import_record(&format!("import-{minute}"), DATASTORE, minute))
            .await
            .unwrap();
        api.store()
            .write(&record(&format!("export-{minute}"), DATASTORE, minute))
            .await
            .unwrap();
    }
    api.store()
        .write(&import_record("other-import", "other-ds", 9))
        .await
        .unwrap();
    let ids = |page: &Value| -> Vec<String> {
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["kind"], "import", "{r}");
                r["importId"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let mut seen = Vec::new();
    let mut uri = "/imports?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = read(&api.handle(get(&uri)).await);
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page));
        match page.get("nextToken").and_then(Value::as_str) {
            Some(token) => {
                let escaped = utf8_percent_encode(token, NON_ALPHANUMERIC);
                uri = format!("/imports?limit=2&nextToken={escaped}");
            }
            None => break,
        }
        assert!(pages < 10, "the list ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["import-4", "import-3", "import-2", "import-1", "import-0"]);
    let (_, other) = read(&api.handle(get("/imports?datastoreId=other-ds")).await);
    assert_eq!(ids(&other), ["other-import"]);
    // The export list holds only exports.
    let (_, exports) = read(&api.handle(get("/exports?limit=100")).await);
    let kinds: Vec<&str> = exports["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["export"; 5]);
    for (uri, field) in [
        ("/imports?limit=0", "limit"),
        ("/imports?datastoreId=semi%3Bcolon", "datastoreId"),
        ("/imports?inputS3Uri=x", "inputS3Uri"),
    ] {
        expect_invalid(&api.handle(get(uri)).await, field);
    }
    let body = common::expect_error(
        &api.handle(get("/imports?nextToken=not-a-token")).await,
        400,
        "InvalidNextToken",
    );
    assert_eq!(body["field"], "nextToken");
}

// --------------------------------------------------------- methods and paths

#[tokio::test]
async fn wrong_methods_on_imports_are_405s_and_other_paths_404s() {
    let (api, _) = api();
    for (method, path, allow) in [
        ("DELETE", "/imports", "GET, POST"),
        ("PUT", "/imports", "GET, POST"),
        ("POST", "/imports/i1", "GET"),
        ("DELETE", "/imports/i1", "GET"),
    ] {
        let response = api.handle(request(method, path, &[], b"")).await;
        expect_error(&response, 405, "MethodNotAllowed");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    for path in ["/import", "/imports/a/b", "/importsx"] {
        expect_error(&api.handle(get(path)).await, 404, "NotFound");
    }
}
