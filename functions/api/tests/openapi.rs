//! `openapi.yaml` and the code describe the same API: every route, method and
//! status the router serves is described and nothing else is; the schemas have
//! exactly the fields the code writes; the limits are the code's limits.

mod common;

use hlx_core::verification::{Reason, Verdict, Verification, VerificationPath};
use std::collections::{BTreeMap, BTreeSet};

use api::api::{ANY_METHOD, DEFAULT_LIMIT, MAX_TOKEN_CHARS, STARTING};
use api::error::{ERROR_NAMES, GATEWAY_ERROR_NAMES};
use api::fake::Call;
use api::naming::{IDEMPOTENCY_KEY_HEADER, MAX_EXECUTION_NAME, MAX_KEY_CHARS};
use api::requests::body_fields;
use api::{ROUTES, SfnError, Started};
use common::*;
use hlx_core::store::MAX_PAGE;
use hlx_core::validation::{DATASTORE_ID, JOB_NAME, S3_URI};
use hlx_core::{HlxError, JobKind, JobRecord, JobStore, RecordPage};
use serde_json::{Value, json};

/// API Gateway's own refusal, described on every operation but never the function's.
const GATEWAY_STATUS: u16 = 403;
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    serde_norway::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows `$ref`s within the document.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            let target = spec
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} resolves"));
            resolve(spec, target)
        }
        None => value,
    }
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is an array"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// (path, method) → statuses, as the description has them.
fn described_routes(spec: &Value) -> BTreeMap<(String, String), BTreeSet<u16>> {
    let mut routes = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !HTTP_METHODS.contains(&method.as_str()) && method != ANY_METHOD {
                continue;
            }
            let statuses = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|s| {
                    s.parse::<u16>()
                        .unwrap_or_else(|_| panic!("{path} {method}: status {s}"))
                })
                .collect();
            routes.insert((path.clone(), method.clone()), statuses);
        }
    }
    routes
}

fn code_routes() -> BTreeMap<(String, String), BTreeSet<u16>> {
    ROUTES
        .iter()
        .map(|r| {
            (
                (r.path.to_owned(), r.method.to_owned()),
                r.statuses.iter().copied().collect(),
            )
        })
        .collect()
}

#[test]
fn every_route_method_and_status_is_described_and_nothing_else() {
    let spec = spec();
    let described = described_routes(&spec);
    let mut expected = code_routes();
    for statuses in expected.values_mut() {
        statuses.insert(GATEWAY_STATUS);
    }
    assert_eq!(described, expected);
}

#[test]
fn every_operation_is_a_lambda_proxy_integration_signed_with_sigv4() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    assert_eq!(spec["security"], json!([{"sigv4": []}]));
    let scheme = &spec["components"]["securitySchemes"]["sigv4"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["name"], "Authorization");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["x-amazon-apigateway-authtype"], "awsSigv4");
    for ((path, method), _) in described_routes(&spec) {
        let integration = &spec["paths"][&path][&method]["x-amazon-apigateway-integration"];
        assert_eq!(integration["type"], "aws_proxy", "{method} {path}");
        assert_eq!(integration["httpMethod"], "POST", "{method} {path}");
        let uri = integration["uri"].as_str().unwrap();
        assert!(
            uri.starts_with(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            ) && uri.ends_with("/${ApiFunctionArn}/invocations"),
            "{method} {path}: {uri}"
        );
        // Each operation carries its own requirement: API Gateway's import
        // takes a method's authorization from the operation's `security`,
        // not from the document's (which stays, for other tools).
        assert_eq!(
            spec["paths"][&path][&method]["security"],
            json!([{"sigv4": []}]),
            "{method} {path}: security"
        );
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(spec: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    resolve(spec, value);
                }
                map.values().for_each(|v| walk(spec, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(spec, v)),
            _ => {}
        }
    }
    let spec = spec();
    walk(&spec, &spec);
}

/// A record with every optional field set, and one with none.
fn full_and_minimal_records() -> (Value, Value) {
    let full = serde_json::to_value(record("e1", DATASTORE, 0)).unwrap();
    let mut everything = full.clone();
    for field in ["runningSince", "message", "errorName", "errorCause", "inputS3Uri"] {
        everything[field] = if field == "runningSince" {
            json!("2026-11-24T10:01:00.000Z")
        } else {
            json!("text")
        };
    }
    everything["importCounts"] = json!({
        "filesScanned": 1, "filesImported": 1, "filesWithErrors": 0,
        "resourcesScanned": 3, "resourcesImported": 2, "resourcesWithErrors": 1
    });
    for field in ["mode", "chain"] {
        everything[field] = json!("incremental");
    }
    everything["chain"] = json!("group/g1?_type=Patient");
    everything["since"] = json!("2026-11-23T10:00:00.000Z");
    everything["until"] = json!("2026-11-24T09:00:00.000Z");
    everything["manifest"] = json!({
        "transactionTime": "2026-11-24T10:00:05.000Z", "files": 2, "errorFiles": 0,
        "resources": {"Patient": 3}, "countsIncomplete": true,
        "uri": "s3://b/x/manifest.json", "writeError": "text"
    });
    everything["cancel"] = json!({"status": "CANCEL_SUBMITTED", "refused": "text"});
    everything["verification"] = serde_json::to_value(every_verification_field()).unwrap();
    let back: JobRecord = serde_json::from_value(everything.clone()).unwrap();
    let full = serde_json::to_value(back).unwrap();
    assert_eq!(full, everything, "every field round-trips");
    let minimal: JobRecord = serde_json::from_value(json!({
        "id": "e1",
        "executionArn": "arn",
        "status": "SUBMITTED",
        "executionStartedAt": "2026-11-24T10:00:00Z",
        "updatedAt": "2026-11-24T10:00:00Z"
    }))
    .unwrap();
    (full, serde_json::to_value(minimal).unwrap())
}

/// A record of `kind` as the API answers it.
fn answered(record: &Value, kind: JobKind) -> Value {
    let mut record: JobRecord = serde_json::from_value(record.clone()).unwrap();
    record.kind = kind;
    api::api::record_answer(&record)
}

#[test]
fn the_record_schemas_have_exactly_the_fields_hlx_core_writes_and_the_api_answers() {
    let spec = spec();
    let (full, minimal) = full_and_minimal_records();
    for (kind, name, id_field) in [
        (JobKind::Export, "ExportRecord", "exportId"),
        (JobKind::Import, "ImportRecord", "importId"),
    ] {
        let (mut full, minimal) = (answered(&full, kind), answered(&minimal, kind));
        if kind == JobKind::Import {
            // Only a completed export is verified (record-result, set_verification).
            full.as_object_mut().unwrap().remove("verification");
        }
        assert!(full.get(id_field).is_some() && full.get("id").is_none(), "{full}");
        record_schema_matches(&spec, name, &full, &minimal);
    }
}

fn record_schema_matches(spec: &Value, name: &str, full: &Value, minimal: &Value) {
    let job_record = schema(spec, name);
    assert_eq!(keys(&job_record["properties"]), keys(full));
    assert_eq!(strings(&job_record["required"]), keys(minimal));
    assert_eq!(job_record["additionalProperties"], false, "{name}");
    for (field, value) in full.as_object().unwrap() {
        let property = &job_record["properties"][field];
        let expected = match value {
            Value::String(_) => "string",
            Value::Number(_) => "integer",
            Value::Object(counts) => {
                let counts_schema = resolve(spec, property);
                assert_eq!(keys(&counts_schema["properties"]), keys(value), "{field}");
                assert_eq!(counts_schema["additionalProperties"], false, "{field}");
                if field == "importCounts" {
                    assert!(counts.values().all(Value::is_u64), "{field}");
                }
                continue;
            }
            other => panic!("{field}: unexpected {other}"),
        };
        assert_eq!(property["type"], expected, "{field}");
        if field.ends_with("At") || ["runningSince", "since", "until"].contains(&field.as_str()) {
            assert_eq!(property["format"], "date-time", "{field}");
        }
    }
}

/// A verification with every field set, and one reason of each code.
fn every_verification_field() -> Verification {
    let reasons = every_reason();
    Verification {
        verdict: Verdict::Suspect,
        path: VerificationPath::Distributed,
        verified_at: "2026-11-24T10:00:05Z".parse().unwrap(),
        files: 3,
        bytes: 1000,
        resources: 9,
        resources_by_type: [("Patient".to_owned(), 9)].into(),
        operation_outcomes: 1,
        reason_count: reasons.len() as u64,
        reasons,
        why: Some("text".into()),
        baseline: Some("nightly-1".into()),
    }
}

fn every_reason() -> Vec<Reason> {
    let (file, problem) = ("Patient/Patient-1.ndjson".to_owned(), "not JSON".to_owned());
    vec![
        Reason::MalformedLine {
            file: file.clone(),
            line: 1,
            problem: problem.clone(),
        },
        Reason::TruncatedFile {
            file: file.clone(),
            line: 2,
            problem: problem.clone(),
        },
        Reason::WrongType {
            file: file.clone(),
            line: 3,
            expected: "Patient".into(),
            found: "Group".into(),
        },
        Reason::InvalidId {
            file: file.clone(),
            line: 4,
            problem: problem.clone(),
        },
        Reason::DuplicateId {
            resource_type: "Patient".into(),
            file: file.clone(),
            line: 5,
            first_file: file.clone(),
            first_line: 1,
        },
        Reason::CountMismatch {
            resource_type: "Patient".into(),
            manifest: 10,
            files: 9,
        },
        Reason::TypeMissing {
            resource_type: "Condition".into(),
            previous_export: "n1".into(),
            previous_count: 4,
        },
        Reason::CountDropped {
            resource_type: "Patient".into(),
            previous_export: "n1".into(),
            previous_count: 20,
            count: 9,
            dropped_percent: 55,
        },
        Reason::FilesUnread {
            files: 1,
            first_file: file,
            problem,
        },
    ]
}

#[test]
fn the_verification_schema_has_every_field_and_reason_the_code_writes() {
    let spec = spec();
    let verification = schema(&spec, "Verification");
    let full = serde_json::to_value(every_verification_field()).unwrap();
    assert_eq!(keys(&verification["properties"]), keys(&full));
    assert_eq!(verification["additionalProperties"], false);
    assert_eq!(
        strings(&verification["properties"]["verdict"]["enum"]),
        ["VERIFIED", "SUSPECT", "UNVERIFIABLE"].map(String::from).into()
    );
    assert_eq!(
        strings(&verification["properties"]["path"]["enum"]),
        ["SINGLE", "DISTRIBUTED", "NONE"].map(String::from).into()
    );
    let unverifiable = serde_json::to_value(Verification::unverifiable(
        "why",
        "2026-11-24T10:00:05Z".parse().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        strings(&verification["required"]),
        keys(&unverifiable)
            .into_iter()
            .filter(|k| k != "why" && k != "operationOutcomes")
            .collect()
    );
    let reason = schema(&spec, "VerificationReason");
    let mut codes = BTreeSet::new();
    let mut fields = BTreeSet::new();
    for r in every_reason() {
        let value = serde_json::to_value(&r).unwrap();
        codes.insert(value["code"].as_str().unwrap().to_owned());
        fields.extend(keys(&value));
    }
    assert_eq!(strings(&reason["properties"]["code"]["enum"]), codes);
    assert_eq!(
        keys(&reason["properties"]),
        fields,
        "the reason schema names exactly the fields reasons carry"
    );
    assert_eq!(reason["additionalProperties"], false);
}

#[test]
fn the_answer_schemas_have_exactly_the_fields_the_code_writes() {
    let spec = spec();
    let mut statuses: BTreeSet<String> = aws_sdk_sfn::types::ExecutionStatus::values()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    statuses.insert(STARTING.to_owned());
    for (kind, name) in [
        (JobKind::Export, "ExportStarted"),
        (JobKind::Import, "ImportStarted"),
    ] {
        let started =
            serde_json::to_value(Started::new(kind, "e".into(), "a".into(), STARTING.into())).unwrap();
        let started_schema = schema(&spec, name);
        assert_eq!(keys(&started_schema["properties"]), keys(&started), "{name}");
        assert_eq!(strings(&started_schema["required"]), keys(&started), "{name}");
        assert_eq!(started_schema["additionalProperties"], false, "{name}");
        assert_eq!(
            strings(&started_schema["properties"]["status"]["enum"]),
            statuses,
            "{name}"
        );
    }

    let page = serde_json::to_value(RecordPage {
        records: vec![],
        next_token: Some("t".into()),
    })
    .unwrap();
    for (name, record) in [
        ("ExportRecordPage", "ExportRecord"),
        ("ImportRecordPage", "ImportRecord"),
    ] {
        let page_schema = schema(&spec, name);
        assert_eq!(keys(&page_schema["properties"]), keys(&page));
        assert_eq!(page_schema["properties"]["records"]["maxItems"], MAX_PAGE);
        assert_eq!(
            page_schema["properties"]["records"]["items"]["$ref"],
            format!("#/components/schemas/{record}")
        );
    }

    let error = schema(&spec, "Error");
    assert_eq!(
        keys(&error["properties"]),
        ["error", "field", "message"].map(String::from).into()
    );
    let mut names: BTreeSet<String> = ERROR_NAMES.iter().map(|n| (*n).to_owned()).collect();
    names.extend(GATEWAY_ERROR_NAMES.iter().map(|n| (*n).to_owned()));
    assert_eq!(strings(&error["properties"]["error"]["enum"]), names);
    // API Gateway's own answers use the same shape and names.
    for (kind, response) in spec["x-amazon-apigateway-gateway-responses"].as_object().unwrap() {
        let template = response["responseTemplates"]["application/json"]
            .as_str()
            .unwrap();
        let name = template
            .split('"')
            .nth(3)
            .unwrap_or_else(|| panic!("{kind}: {template}"));
        assert!(names.contains(name), "{kind}: {name}");
        assert!(template.contains("$context.error.messageString"), "{kind}");
    }
}

/// The collection path, its item path, and the names of a kind's operations
/// and schemas in the description.
struct Described {
    kind: JobKind,
    collection: &'static str,
    item: &'static str,
    request_schema: &'static str,
    get_operation: &'static str,
    list_operation: &'static str,
}

const DESCRIBED: [Described; 2] = [
    Described {
        kind: JobKind::Export,
        collection: "/exports",
        item: "/exports/{id}",
        request_schema: "ExportRequest",
        get_operation: "GetExport",
        list_operation: "ListExports",
    },
    Described {
        kind: JobKind::Import,
        collection: "/imports",
        item: "/imports/{id}",
        request_schema: "ImportRequest",
        get_operation: "GetImport",
        list_operation: "ListImports",
    },
];

#[test]
fn the_request_description_matches_the_codes_rules() {
    let spec = spec();
    let datastore = schema(&spec, "DatastoreId");
    assert_eq!(datastore["minLength"], DATASTORE_ID.min_chars);
    assert_eq!(datastore["maxLength"], DATASTORE_ID.max_chars);
    for d in DESCRIBED {
        let body = schema(&spec, d.request_schema);
        let (fields, _) = body_fields(d.kind);
        assert_eq!(
            keys(&body["properties"]),
            fields.iter().map(|f| (*f).to_owned()).collect(),
            "{}",
            d.request_schema
        );
        assert_eq!(body["additionalProperties"], false);
        let job_name = &body["properties"]["jobName"];
        assert_eq!(job_name["minLength"], JOB_NAME.min_chars);
        assert_eq!(job_name["maxLength"], JOB_NAME.max_chars);
        if d.kind == JobKind::Export {
            // `types`: exactly FHIR R4's resource types, as the domain checks them.
            let types = &body["properties"]["types"]["items"]["enum"];
            let described: Vec<&str> = types
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(described, hlx_core::fhir::R4_RESOURCE_TYPES);
        }

        let post = &spec["paths"][d.collection]["post"];
        let request_body = &post["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(resolve(&spec, request_body), body, "{}", d.collection);
        let parameters: Vec<&Value> = post["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| resolve(&spec, p))
            .collect();
        assert_eq!(parameters.len(), 1);
        let key = parameters[0];
        assert_eq!(key["name"], IDEMPOTENCY_KEY_HEADER);
        assert_eq!(key["in"], "header");
        assert_eq!(key["schema"]["maxLength"], MAX_KEY_CHARS);
        assert_eq!(key["schema"]["pattern"], "^[A-Za-z0-9_-]+$");
        for status in ["200", "202"] {
            let response = &post["responses"][status];
            assert_eq!(resolve(&spec, &response["headers"]["Location"])["required"], true);
            let link = response["links"].as_object().unwrap().values().next().unwrap();
            assert_eq!(link["operationId"], d.get_operation, "{} {status}", d.collection);
        }
        assert_eq!(spec["paths"][d.item]["get"]["operationId"], d.get_operation);

        let list = &spec["paths"][d.collection]["get"];
        assert_eq!(list["operationId"], d.list_operation);
        let parameters: BTreeMap<String, &Value> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_owned(), p))
            .collect();
        assert_eq!(
            parameters.keys().cloned().collect::<BTreeSet<_>>(),
            ["datastoreId", "limit", "nextToken"].map(String::from).into()
        );
        assert!(
            parameters
                .values()
                .all(|p| p["in"] == "query" && p["required"] == false)
        );
        let limit = &parameters["limit"]["schema"];
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(1), &json!(MAX_PAGE))
        );
        assert_eq!(limit["default"], DEFAULT_LIMIT);
        assert_eq!(parameters["nextToken"]["schema"]["maxLength"], MAX_TOKEN_CHARS);

        let id = &spec["paths"][d.item]["parameters"][0];
        assert_eq!(
            (&id["name"], &id["in"], &id["required"]),
            (&json!("id"), &json!("path"), &json!(true))
        );
        assert_eq!(id["schema"]["maxLength"], MAX_EXECUTION_NAME);
        // Operations that take no parameters list none (the router refuses others).
        assert!(spec["paths"][d.item]["get"].get("parameters").is_none());
    }
    let input = &schema(&spec, "ImportRequest")["properties"]["inputS3Uri"];
    assert_eq!(input["pattern"], S3_URI.pattern);
    assert_eq!(input["maxLength"], S3_URI.max_chars);

    for (path, item) in spec["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            for status in ["429", "503"] {
                if let Some(response) = operation.get("responses").and_then(|r| r.get(status)) {
                    let response = resolve(&spec, response);
                    assert!(
                        response["headers"].get("Retry-After").is_some(),
                        "{path} {status}"
                    );
                }
            }
        }
    }
}

/// The (route, method, status) of an answer: methods other than the
/// described ones count as `x-amazon-apigateway-any-method`.
fn key(path: &str, method: &str, status: u16) -> (String, String, u16) {
    let described = ROUTES
        .iter()
        .any(|r| r.path == path && r.method == method.to_lowercase());
    let method = if described {
        method.to_lowercase()
    } else {
        ANY_METHOD.to_owned()
    };
    (path.to_owned(), method, status)
}

/// A POST of `body` to `path`, with an idempotency key when given.
fn post_to(path: &str, key: Option<&str>, body: &Value) -> lambda_http::Request {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    request("POST", path, &headers, body.to_string().as_bytes())
}

/// Every answer of `DELETE /exports/{id}`.
async fn serve_cancels(serve: &mut impl FnMut(&str, &str, &lambda_http::Response<lambda_http::Body>)) {
    let item = "/exports/{id}";
    let fixture = cancel_fixture().await;
    let (api, _) = api();
    let api = api.with_healthlake(fixture.healthlake.clone());
    let delete = |path: &str| request("DELETE", path, &[], b"");
    api.store()
        .write(&running_record("c1", &fixture.datastore_id, &fixture.job_id))
        .await
        .unwrap();
    api.store()
        .write(&record("c2", &fixture.datastore_id, 0))
        .await
        .unwrap();
    let accepted = api.handle(delete("/exports/c1")).await;
    assert_eq!(accepted.status(), 202);
    serve(item, "DELETE", &accepted);
    serve(item, "DELETE", &api.handle(delete("/exports/c1?force=1")).await);
    serve(item, "DELETE", &api.handle(delete("/exports/nope")).await);
    serve(item, "DELETE", &api.handle(delete("/exports/c2")).await);
    fixture
        .emulator
        .set_faults(hlx_healthlake_emulator::Faults::none().with(
            hlx_healthlake_emulator::Operation::CancelFhirExportJobWithDelete,
            hlx_healthlake_emulator::FaultSpec {
                throttle_rate: 1.0,
                ..Default::default()
            },
        ));
    serve(item, "DELETE", &api.handle(delete("/exports/c1")).await);
    let (unconfigured, _) = api_with(config());
    serve(item, "DELETE", &unconfigured.handle(delete("/exports/c1")).await);
    let (nowhere, _) = api_with(config());
    let nowhere = nowhere.with_healthlake(healthlake_at("http://127.0.0.1:9"));
    nowhere
        .store()
        .write(&running_record("c1", &fixture.datastore_id, &fixture.job_id))
        .await
        .unwrap();
    serve(item, "DELETE", &nowhere.handle(delete("/exports/c1")).await);
    let failing = failing_api(|| HlxError::DynamoDb {
        code: "AccessDeniedException".into(),
        message: "m".into(),
    })
    .with_healthlake(fixture.healthlake.clone());
    serve(item, "DELETE", &failing.handle(delete("/exports/c1")).await);
}

#[tokio::test]
async fn the_router_answers_every_described_status_and_no_other() {
    let mut served = BTreeSet::new();
    let mut serve = |path: &str, method: &str, response: &lambda_http::Response<lambda_http::Body>| {
        served.insert(key(path, method, response.status().as_u16()));
    };
    let (api, _) = api();
    let throttled = || SfnError::Throttled {
        code: "ThrottlingException".into(),
        message: "m".into(),
    };

    for d in DESCRIBED {
        let (collection, item) = (d.collection, d.item);
        // POST
        let post = |key: Option<&str>, body: &Value| post_to(collection, key, body);
        serve(collection, "POST", &api.handle(post(Some("k"), &json!({}))).await);
        serve(collection, "POST", &api.handle(post(Some("k"), &json!({}))).await);
        serve(
            collection,
            "POST",
            &api.handle(post(Some("k"), &json!({"jobName": "x"}))).await,
        );
        serve(
            collection,
            "POST",
            &api.handle(post(None, &json!({"kmsKeyId": "alias/x"}))).await,
        );
        let big = vec![b' '; 20_000];
        serve(
            collection,
            "POST",
            &api.handle(request("POST", collection, &[], &big)).await,
        );
        let text = request("POST", collection, &[("content-type", "text/plain")], b"{}");
        serve(collection, "POST", &api.handle(text).await);
        api.executions().fail_next(Call::Start, throttled());
        serve(collection, "POST", &api.handle(post(None, &json!({}))).await);
        api.executions().fail_next(
            Call::Start,
            SfnError::Service {
                code: "AccessDeniedException".into(),
                message: "m".into(),
            },
        );
        serve(collection, "POST", &api.handle(post(None, &json!({}))).await);
        api.executions()
            .fail_next(Call::Start, SfnError::Unavailable("timeout".into()));
        serve(collection, "POST", &api.handle(post(None, &json!({}))).await);
        let (unconfigured, _) = api_with(config_without_imports());
        serve(
            collection,
            "POST",
            &unconfigured.handle(post(None, &json!({}))).await,
        );

        // GET the list and an item
        let stored = match d.kind {
            JobKind::Export => record("e1", DATASTORE, 0),
            JobKind::Import => import_record("e1", DATASTORE, 0),
        };
        api.store().write(&stored).await.unwrap();
        let uri = |suffix: &str| format!("{collection}{suffix}");
        serve(collection, "GET", &api.handle(get(&uri(""))).await);
        serve(collection, "GET", &api.handle(get(&uri("?limit=0"))).await);
        serve(item, "GET", &api.handle(get(&uri("/e1"))).await);
        serve(item, "GET", &api.handle(get(&uri("/e1?x=1"))).await);
        serve(item, "GET", &api.handle(get(&uri("/e2"))).await);
        let failures: [fn() -> HlxError; 3] = [
            || HlxError::DynamoDb {
                code: "ThrottlingException".into(),
                message: "m".into(),
            },
            || HlxError::DynamoDb {
                code: "AccessDeniedException".into(),
                message: "m".into(),
            },
            || HlxError::DynamoDbUnavailable("timeout".into()),
        ];
        for make in failures {
            let failing = failing_api(make);
            assert!(failing.store().get(d.kind, "e1").await.is_err());
            serve(collection, "GET", &failing.handle(get(&uri(""))).await);
            serve(item, "GET", &failing.handle(get(&uri("/e1"))).await);
        }

        // DELETE an export: HealthLake's FHIR REST cancel, over HTTP to the emulator.
        if d.kind == JobKind::Export {
            serve_cancels(&mut serve).await;
        }

        // Any other method
        for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
            serve(
                collection,
                method,
                &api.handle(request(method, collection, &[], b"")).await,
            );
            serve(
                item,
                method,
                &api.handle(request(method, &uri("/e1"), &[], b"")).await,
            );
        }
        serve(
            item,
            "POST",
            &api.handle(request("POST", &uri("/e1"), &[], b"{}")).await,
        );
    }

    let expected: BTreeSet<(String, String, u16)> = ROUTES
        .iter()
        .flat_map(|r| {
            r.statuses
                .iter()
                .map(|s| (r.path.to_owned(), r.method.to_owned(), *s))
        })
        .collect();
    assert_eq!(served, expected);
}
