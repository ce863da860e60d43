//! The `api-local` binary: its stdout contract, and the handler answering over
//! plain HTTP on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api-local"));
    command.args(args);
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SFN",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "HLX_API_PORT",
        "HLX_API_SEED",
        "HLX_DEFAULT_DATASTORE_ID",
        "HLX_IMPORT_INPUT_S3_URI",
        "HLX_IMPORT_OUTPUT_S3_URI",
    ] {
        command.env_remove(name);
    }
    command
}

fn start(args: &[&str]) -> Server {
    start_with(args, &[])
}

fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = command(args);
    command.envs(env.iter().copied());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("api-local starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    Server { child, address }
}

/// One HTTP/1.1 exchange: the status, the headers (lower-case names) and the body.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.address,
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {body:?}"))
    };
    (status, head.to_lowercase(), body)
}

fn seed_file(records: &[Value]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hlx-api-local-seed-{}.json", std::process::id()));
    std::fs::write(&path, Value::Array(records.to_vec()).to_string()).unwrap();
    path
}

fn record(id: &str, minute: u32) -> Value {
    json!({
        "id": id,
        "executionArn": format!("arn:aws:states:us-east-1:000000000000:execution:hlx-job:{id}"),
        "status": "COMPLETED",
        "datastoreId": "local-datastore",
        "executionStartedAt": format!("2026-11-24T10:{minute:02}:00.000Z"),
        "updatedAt": format!("2026-11-24T10:{minute:02}:30.000Z"),
        "checks": 2,
        "startAttempts": 1
    })
}

#[test]
fn the_first_line_is_the_address_and_the_handler_answers_over_http() {
    let seed = seed_file(&[record("seeded-1", 1), record("seeded-2", 2)]);
    let server = start(&["--port", "0", "--seed", seed.to_str().unwrap()]);

    let (status, _, page) = call(&server, "GET", "/exports?limit=1", &[], "");
    assert_eq!(status, 200);
    assert_eq!(page["records"][0]["exportId"], "seeded-2");
    assert!(page["nextToken"].is_string());

    let key = [
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "bin-test"),
    ];
    let (status, head, started) = call(&server, "POST", "/exports", &key, r#"{"jobName":"from-test"}"#);
    assert_eq!(status, 202, "{started}");
    let id = started["exportId"].as_str().unwrap();
    assert!(head.contains(&format!("location: /exports/{id}")), "{head}");
    let (status, _, again) = call(&server, "POST", "/exports", &key, r#"{"jobName":"from-test"}"#);
    assert_eq!((status, &again["exportId"]), (200, &started["exportId"]));

    let (status, _, starting) = call(&server, "GET", &format!("/exports/{id}"), &[], "");
    assert_eq!(status, 200);
    assert_eq!(starting["status"], "STARTING");
    assert_eq!(starting["jobName"], "from-test");

    let (status, _, error) = call(&server, "GET", "/exports/unknown", &[], "");
    assert_eq!((status, &error["error"]), (404, &json!("NotFound")));
    let (status, head, _) = call(&server, "PATCH", "/exports/unknown", &[], "");
    assert_eq!(status, 405);
    assert!(head.contains("allow: get, delete"), "{head}");
    // Without a HealthLake endpoint there is nothing to cancel with.
    let (status, _, error) = call(&server, "DELETE", "/exports/unknown", &[], "");
    assert_eq!((status, &error["error"]), (501, &json!("NotConfigured")));
    let json = [("Content-Type", "application/json")];
    let (status, _, error) = call(&server, "POST", "/exports", &json, "{oops");
    assert_eq!((status, &error["field"]), (400, &json!("body")));
    let _ = std::fs::remove_file(seed);
}

#[test]
fn imports_are_served_with_local_locations_unless_switched_off() {
    let server = start(&["--port", "0"]);
    let json = [("Content-Type", "application/json")];
    let (status, head, started) = call(
        &server,
        "POST",
        "/imports",
        &json,
        r#"{"inputS3Uri":"s3://hlx-local-landing/fhir/batch-1/"}"#,
    );
    assert_eq!(status, 202, "{started}");
    let import_id = started["importId"].as_str().unwrap();
    assert!(
        import_id.starts_with("api-import-local-datastore-"),
        "{import_id}"
    );
    assert!(
        head.contains(&format!("location: /imports/{import_id}")),
        "{head}"
    );
    let (status, _, starting) = call(&server, "GET", &format!("/imports/{import_id}"), &[], "");
    assert_eq!(status, 200);
    assert_eq!(starting["kind"], "import");
    assert_eq!(starting["inputS3Uri"], "s3://hlx-local-landing/fhir/batch-1/");
    let (status, _, _) = call(&server, "GET", &format!("/exports/{import_id}"), &[], "");
    assert_eq!(status, 404, "an import is not an export");
    let (status, _, error) = call(
        &server,
        "POST",
        "/imports",
        &json,
        r#"{"inputS3Uri":"s3://elsewhere/x/"}"#,
    );
    assert_eq!((status, &error["field"]), (400, &json!("inputS3Uri")));
    drop(server);

    // Empty import locations switch imports off; exports keep working.
    let server = start_with(
        &["--port", "0"],
        &[("HLX_IMPORT_INPUT_S3_URI", ""), ("HLX_IMPORT_OUTPUT_S3_URI", "")],
    );
    let (status, _, error) = call(&server, "POST", "/imports", &json, "{}");
    assert_eq!((status, &error["error"]), (501, &json!("NotConfigured")));
    let (status, _, _) = call(&server, "POST", "/exports", &json, "{}");
    assert_eq!(status, 202);
}

#[test]
fn bad_flags_and_seeds_stop_it_with_a_message() {
    let status = command(&["--port", "nope"]).output().unwrap().status;
    assert_eq!(status.code(), Some(2));
    let path = std::env::temp_dir().join(format!("hlx-api-local-bad-seed-{}.json", std::process::id()));
    std::fs::write(&path, "[{\"id\": 1}]").unwrap();
    let output = command(&["--port", "0", "--seed", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("api-local:") && stderr.contains("job records"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    let output = command(&["--port", "0"])
        .env("HLX_EXPORT_S3_URI", "https://not-s3")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("HLX_EXPORT_S3_URI"));
    let _ = std::fs::remove_file(path);
}
