//! The operator commands as an operator runs them: the `hlx` binary
//! against a served local stack (`hlx local --serve`: the runner's Step
//! Functions API on virtual time, the HealthLake emulator, job records in
//! moto's DynamoDB), configured only by the variables the served stack
//! prints.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hlx_e2e::{MotoServer, binary};
use serde_json::Value;

/// `hlx local --serve` in the background, stopped when dropped.
struct Served {
    child: Child,
    env: Vec<(String, String)>,
    datastores: Vec<String>,
    dir: PathBuf,
}

impl Served {
    fn start(moto: &MotoServer, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hlx-cli-ops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let table = format!("hlx-cli-{name}-{}", std::process::id());
        let mut child = Command::new(binary("hlx"))
            .args([
                "local",
                "--serve",
                "--nights",
                "0",
                "--quiet",
                "--datastores",
                "2",
                "--job-duration",
                "10m",
                "--dynamodb-endpoint",
                &moto.endpoint,
                "--table",
                &table,
            ])
            .current_dir(&dir)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("hlx local --serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut env = Vec::new();
        let mut datastores = Vec::new();
        let mut seen = Vec::new();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("hlx local --serve did not get ready:\n{}", seen.join("\n")));
            seen.push(line.clone());
            if let Some(assignment) = line.strip_prefix("export ") {
                let (k, v) = assignment.split_once('=').expect("NAME=value");
                env.push((k.to_owned(), v.to_owned()));
            }
            if let Some(list) = line.strip_prefix("data stores") {
                datastores = list.trim().split(", ").map(str::to_owned).collect();
            }
            if line.starts_with("Serving until Ctrl-C") {
                break;
            }
        }
        // Keep draining, so the server never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Self {
            child,
            env,
            datastores,
            dir,
        }
    }

    fn var(&self, name: &str) -> &str {
        &self
            .env
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("{name} was not printed: {:?}", self.env))
            .1
    }

    /// Runs `hlx` with only the printed variables (minus `without`).
    fn hlx_without(&self, without: &[&str], args: &[&str]) -> Run {
        let mut command = Command::new(binary("hlx"));
        command
            .args(args)
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(&self.dir);
        for (k, v) in &self.env {
            if !without.contains(&k.as_str()) {
                command.env(k, v);
            }
        }
        Run::of(command)
    }

    fn hlx(&self, args: &[&str]) -> Run {
        self.hlx_without(&[], args)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(mut command: Command) -> Self {
        let output = command.output().expect("hlx runs");
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

#[test]
fn start_watch_status_list_against_a_served_local_stack() {
    let moto = MotoServer::start();
    let s = Served::start(&moto, "flow");
    assert_eq!(s.datastores.len(), 2);
    assert_eq!(s.var("HLX_DEFAULT_DATASTORE_ID"), s.datastores[0]);
    assert_eq!(s.var("AWS_ENDPOINT_URL_DYNAMODB"), moto.endpoint);
    assert!(s.var("AWS_ENDPOINT_URL_SFN").starts_with("http://127.0.0.1:"));
    assert!(s.var("HLX_TABLE_NAME").starts_with("hlx-cli-flow-"));
    assert_eq!(
        s.var("HLX_STATE_MACHINE_ARN"),
        "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job"
    );

    // start → watch → status → list.
    let started = s.hlx(&["start", "--json"]).ok().json();
    assert_eq!(started["created"], true);
    assert_eq!(started["status"], "STARTING");
    let id = started["exportId"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("api-{}-", s.datastores[0])), "{id}");
    assert!(
        started["executionArn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":execution:hlx-job:{id}"))
    );

    let watched = s.hlx(&["watch", &id, "--interval", "200ms"]).ok();
    assert!(
        watched.stdout.contains("COMPLETED · queued"),
        "{}",
        watched.stdout
    );
    assert!(
        watched.stdout.contains("status         COMPLETED — done: ran "),
        "{}",
        watched.stdout
    );
    assert!(
        watched.stdout.contains("source         the job record"),
        "{}",
        watched.stdout
    );
    assert!(
        !watched.stdout.contains('\r'),
        "no spinner when stdout is not a terminal"
    );

    // --json: one object per change seen; an ended export is one line.
    let lines = s.hlx(&["watch", &id, "--json"]).ok();
    let changes: Vec<Value> = lines
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(changes.len(), 1, "{}", lines.stdout);
    assert_eq!(changes[0]["status"], "COMPLETED");
    assert_eq!(changes[0]["exportId"], id.as_str());

    let status = s.hlx(&["status", &id]).ok();
    for expected in [
        &format!("export         {id}"),
        "status         COMPLETED — done: ran ",
        &format!("data store     {}", s.datastores[0]),
        "(manual)",
        "output         s3://hlx-local-exports/manual/",
    ] {
        assert!(
            status.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            status.stdout
        );
    }
    let record = s.hlx(&["status", &id, "--json"]).ok().json();
    assert_eq!(record["exportId"], id.as_str());
    assert_eq!(record["status"], "COMPLETED");
    assert_eq!(record["source"], "record");
    assert_eq!(record["trigger"], "manual");
    assert!(record["runningSeconds"].as_u64().unwrap() >= 9 * 60, "{record}");
    assert!(record["queuedSeconds"].as_u64().is_some());
    assert_eq!(record["kmsKeyId"], "alias/hlx-local-exports");

    // The same request again (same UTC day) is the same export.
    let again = s.hlx(&["start"]).ok();
    assert!(
        again.stdout.contains(&format!(
            "export {id} already exists (SUCCEEDED): not started again"
        )),
        "{}",
        again.stdout
    );

    // An idempotency key names the export; reused for another request it is refused.
    let keyed = s
        .hlx(&["start", "--idempotency-key", "audit-42", "--json"])
        .ok()
        .json();
    let keyed_id = keyed["exportId"].as_str().unwrap().to_owned();
    assert!(keyed_id.starts_with("api-k-"), "{keyed_id}");
    let repeat = s
        .hlx(&["start", "--idempotency-key", "audit-42", "--json"])
        .ok()
        .json();
    assert_eq!(repeat["exportId"], keyed_id.as_str());
    assert_eq!(repeat["created"], false);
    let conflict = s.hlx(&["start", "--idempotency-key", "audit-42", "--job-name", "other"]);
    assert_eq!(conflict.code, 2, "{}", conflict.stderr);
    assert!(
        conflict
            .stderr
            .contains("the idempotency key was already used for a different request"),
        "{}",
        conflict.stderr
    );

    // The other data store, started and followed in one command.
    let both = s
        .hlx(&[
            "start",
            "--datastore-id",
            &s.datastores[1],
            "--watch",
            "--interval",
            "200ms",
        ])
        .ok();
    assert!(both.stdout.contains("started export api-"), "{}", both.stdout);
    assert!(both.stdout.contains("COMPLETED — done"), "{}", both.stdout);

    // Listing a data store's records, newest first, page by page.
    let list = s.hlx(&["list", "--datastore-id", &s.datastores[0]]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(lines[0].starts_with("EXPORT ID"), "{}", list.stdout);
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(lines[1].starts_with(&keyed_id), "newest first:\n{}", list.stdout);
    assert!(lines[2].starts_with(&id), "{}", list.stdout);
    let page = s
        .hlx(&[
            "list",
            "--datastore-id",
            &s.datastores[0],
            "--limit",
            "1",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(page["records"][0]["exportId"], keyed_id.as_str());
    let token = page["nextToken"].as_str().expect("a next page").to_owned();
    let next = s
        .hlx(&[
            "list",
            "--datastore-id",
            &s.datastores[0],
            "--limit",
            "1",
            "--next-token",
            &token,
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(next["records"][0]["exportId"], id.as_str());
    assert!(next.get("nextToken").is_none(), "{next}");
    let bad_token = s.hlx(&[
        "list",
        "--datastore-id",
        &s.datastores[0],
        "--next-token",
        "bogus",
    ]);
    assert_eq!(bad_token.code, 2, "{}", bad_token.stderr);
    assert!(bad_token.stderr.contains("--next-token"), "{}", bad_token.stderr);

    // Without a data store: the state machine's executions, with their records.
    let executions = s.hlx(&["list", "--json"]).ok().json();
    let items = executions["executions"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["exportId"], id.as_str());
    assert_eq!(items[2]["executionStatus"], "SUCCEEDED");
    assert_eq!(items[2]["record"]["status"], "COMPLETED");
    let text = s.hlx(&["list"]).ok();
    assert!(text.stdout.starts_with("EXPORT ID"), "{}", text.stdout);
    assert!(text.stdout.contains("SUCCEEDED  COMPLETED"), "{}", text.stdout);

    // Without the table, status reads the execution's history: the same record.
    let from_history = s
        .hlx_without(&["HLX_TABLE_NAME"], &["status", &id, "--json"])
        .ok()
        .json();
    assert_eq!(from_history["source"], "history");
    assert_eq!(from_history["executionStatus"], "SUCCEEDED");
    for field in [
        "status",
        "jobId",
        "queuedSeconds",
        "runningSeconds",
        "outputLocation",
        "checks",
    ] {
        assert_eq!(from_history[field], record[field], "{field}");
    }

    // Unknown ids.
    for command in ["status", "watch"] {
        let unknown = s.hlx(&[command, "api-k-nobody"]);
        assert_eq!(unknown.code, 2, "{command}: {}", unknown.stderr);
        assert!(
            unknown.stderr.contains("no export has the id \"api-k-nobody\""),
            "{}",
            unknown.stderr
        );
    }
    let unknown = s.hlx(&["status", "api-k-nobody", "--json"]);
    assert_eq!(unknown.code, 2);
    assert_eq!(unknown.json()["error"], "usage");

    // An export that fails: a data store HealthLake does not have.
    let missing = "ffffffffffffffffffffffffffffffff";
    let failed = s.hlx(&[
        "start",
        "--datastore-id",
        missing,
        "--watch",
        "--interval",
        "200ms",
    ]);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    let failures = s.hlx(&["list", "--datastore-id", missing, "--json"]).ok().json();
    let failed_record = &failures["records"][0];
    assert!(
        ["ERROR", "REJECTED"].contains(&failed_record["status"].as_str().unwrap()),
        "{failed_record}"
    );
    let failed_id = failed_record["exportId"].as_str().unwrap();
    let status = s.hlx(&["status", failed_id]);
    assert_eq!(status.code, 1, "{}", status.stdout);
    assert!(
        status.stdout.contains("ResourceNotFoundException"),
        "the status says why:\n{}",
        status.stdout
    );
}

#[test]
fn import_start_watch_status_list_against_a_served_local_stack() {
    let moto = MotoServer::start();
    let s = Served::start(&moto, "import");
    let datastore = &s.datastores[0];
    // NDJSON in the directory that stands for S3 (`hlx local --output-dir`,
    // .hlx/s3 under the served stack's directory): three patients and a line
    // HealthLake refuses.
    let landing = s.dir.join(".hlx/s3/hlx-local-landing/cli");
    std::fs::create_dir_all(&landing).unwrap();
    let lines: Vec<String> = ["p-1", "p-2", "p-3", "bad id!"]
        .iter()
        .map(|id| serde_json::json!({"resourceType": "Patient", "id": id}).to_string() + "\n")
        .collect();
    std::fs::write(landing.join("patients.ndjson"), lines.concat()).unwrap();
    let locations = [
        "--input-s3-uri",
        "s3://hlx-local-landing/cli/",
        "--output-s3-uri",
        "s3://hlx-local-import-logs/cli",
    ];
    let with_locations = |args: &[&'static str]| -> Vec<&'static str> { [args, &locations[..]].concat() };

    // A bad location names its flag; nothing is started.
    let bad = s.hlx(&[
        "import",
        "start",
        "--input-s3-uri",
        "landing/cli",
        "--output-s3-uri",
        "s3://hlx-local-import-logs/cli",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("invalid import request: --input-s3-uri (inputS3Uri)"),
        "{}",
        bad.stderr
    );

    // start → watch → status.
    let started = s.hlx(&with_locations(&["import", "start", "--json"])).ok().json();
    assert_eq!(started["created"], true);
    assert_eq!(started["status"], "STARTING");
    assert!(started.get("exportId").is_none(), "{started}");
    let id = started["importId"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("api-import-{datastore}-")), "{id}");

    let watched = s.hlx(&["import", "watch", &id, "--interval", "200ms"]).ok();
    for expected in [
        "COMPLETED_WITH_ERRORS · ",
        "3/4 resource(s) imported · 1 with errors",
        "1 of 4 resource(s) refused (see the failure log)",
        "source         the job record",
    ] {
        assert!(
            watched.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            watched.stdout
        );
    }

    let status = s.hlx(&["import", "status", &id]).ok();
    for expected in [
        &format!("import         {id}\n"),
        &format!("data store     {datastore}\n"),
        "(manual)",
        "input          s3://hlx-local-landing/cli/\n",
        &format!("logs           s3://hlx-local-import-logs/cli/{datastore}-FHIR_IMPORT-"),
        "resources      3 imported, 1 with errors, of 4 scanned\n",
        "files          1 imported, 0 with errors, of 1 scanned\n",
    ] {
        assert!(
            status.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            status.stdout
        );
    }
    let record = s.hlx(&["import", "status", &id, "--json"]).ok().json();
    assert_eq!(record["kind"], "import");
    assert_eq!(record["importId"], id.as_str());
    assert_eq!(record["status"], "COMPLETED_WITH_ERRORS");
    assert_eq!(record["source"], "record");
    assert_eq!(record["inputS3Uri"], "s3://hlx-local-landing/cli/");
    assert_eq!(record["importCounts"]["resourcesImported"], 3);
    assert_eq!(record["importCounts"]["resourcesWithErrors"], 1);

    // The same request again is the same import.
    let again = s.hlx(&with_locations(&["import", "start"])).ok();
    assert!(
        again.stdout.contains(&format!(
            "import {id} already exists (SUCCEEDED): not started again"
        )),
        "{}",
        again.stdout
    );

    // An export on the same state machine: neither kind reads as the other.
    let export = s.hlx(&["start", "--json"]).ok().json();
    let export_id = export["exportId"].as_str().unwrap().to_owned();
    s.hlx(&["watch", &export_id, "--interval", "200ms"]).ok();
    let not_an_export = s.hlx(&["status", &id]);
    assert_eq!(not_an_export.code, 2, "{}", not_an_export.stdout);
    assert!(
        not_an_export
            .stderr
            .contains(&format!("no export has the id {id:?}")),
        "{}",
        not_an_export.stderr
    );
    let not_an_import = s.hlx(&["import", "status", &export_id]);
    assert_eq!(not_an_import.code, 2, "{}", not_an_import.stdout);
    assert!(
        not_an_import
            .stderr
            .contains(&format!("no import has the id {export_id:?}")),
        "{}",
        not_an_import.stderr
    );

    // Lists: the data store's import records; the state machine's imports.
    let list = s.hlx(&["import", "list", "--datastore-id", datastore]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(
        lines[0].starts_with("IMPORT ID") && lines[0].contains("IMPORTED"),
        "{}",
        list.stdout
    );
    assert_eq!(lines.len(), 2, "{}", list.stdout);
    assert!(
        lines[1].starts_with(&id) && lines[1].contains("3 (1 refused)"),
        "{}",
        list.stdout
    );
    let page = s
        .hlx(&["import", "list", "--datastore-id", datastore, "--json"])
        .ok()
        .json();
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(page["records"][0]["kind"], "import");
    let exports = s
        .hlx(&["list", "--datastore-id", datastore, "--json"])
        .ok()
        .json();
    assert_eq!(exports["records"].as_array().unwrap().len(), 1);
    assert_eq!(exports["records"][0]["exportId"], export_id.as_str());
    let executions = s.hlx(&["import", "list", "--json"]).ok().json();
    let items = executions["executions"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{executions}");
    assert_eq!(items[0]["importId"], id.as_str());
    assert_eq!(items[0]["record"]["status"], "COMPLETED_WITH_ERRORS");
    let executions = s.hlx(&["list", "--json"]).ok().json();
    let items = executions["executions"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{executions}");
    assert_eq!(items[0]["exportId"], export_id.as_str());

    // Without the table, status reads the import's execution history.
    let from_history = s
        .hlx_without(&["HLX_TABLE_NAME"], &["import", "status", &id, "--json"])
        .ok()
        .json();
    assert_eq!(from_history["source"], "history");
    assert_eq!(from_history["kind"], "import");
    assert_eq!(from_history["importCounts"], record["importCounts"]);
}

#[test]
fn usage_and_transport_errors_have_their_exit_codes() {
    let dir = std::env::temp_dir();
    let hlx = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(binary("hlx"));
        command
            .args(args)
            .env_clear()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(&dir);
        for (k, v) in env {
            command.env(k, v);
        }
        Run::of(command)
    };
    let aws = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        (
            "HLX_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:hlx-job",
        ),
        ("HLX_EXPORT_S3_URI", "s3://bucket/exports"),
        ("HLX_EXPORT_KMS_KEY_ID", "alias/exports"),
        (
            "HLX_DATA_ACCESS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/HealthLakeExport",
        ),
    ];
    let ds = "0123456789abcdef0123456789abcdef";

    // A bad field names the flag and the field; nothing is sent.
    let bad = hlx(
        &["start", "--datastore-id", ds, "--kms-key-id", "not a key!"],
        &aws,
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--kms-key-id (kmsKeyId)"), "{}", bad.stderr);
    let bad = hlx(&["start", "--datastore-id", "semi;colon", "--json"], &aws);
    assert_eq!(bad.code, 2);
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .contains("--datastore-id (datastoreId)")
    );
    let bad = hlx(
        &["start", "--datastore-id", ds, "--idempotency-key", "no/slash"],
        &aws,
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--idempotency-key"), "{}", bad.stderr);
    let bad = hlx(
        &["start", "--datastore-id", ds, "--state-machine-arn", "hlx-job"],
        &aws,
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--state-machine-arn"), "{}", bad.stderr);
    // A missing required setting is clap's usage error.
    let missing = hlx(&["start", "--datastore-id", ds], &aws[..3]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("--state-machine-arn"),
        "{}",
        missing.stderr
    );
    let nothing = hlx(&["status", "x"], &aws[..3]);
    assert_eq!(nothing.code, 2);
    assert!(nothing.stderr.contains("--table"), "{}", nothing.stderr);
    let no_region = hlx(&["status", "x"], &aws[1..]);
    assert_eq!(no_region.code, 2);
    assert!(no_region.stderr.contains("--region"), "{}", no_region.stderr);
    let interval = hlx(&["watch", "x", "--interval", "1ms"], &aws);
    assert_eq!(interval.code, 2);

    // Nothing listens there: a transport error.
    let down = hlx(
        &["status", "api-k-x", "--endpoint-url", "http://127.0.0.1:9"],
        &aws,
    );
    assert_eq!(down.code, 3, "{}", down.stderr);
    assert!(
        down.stderr.contains("DescribeExecution failed"),
        "{}",
        down.stderr
    );
    let down = hlx(
        &[
            "start",
            "--datastore-id",
            ds,
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--json",
        ],
        &aws,
    );
    assert_eq!(down.code, 3, "{}", down.stderr);
    assert_eq!(down.json()["error"], "aws");

    // Help that shows how.
    let help = hlx(&["--help"], &[]);
    assert_eq!(help.code, 0);
    for expected in [
        "start",
        "status",
        "list",
        "watch",
        "local",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(
            help.stdout.contains(expected),
            "missing {expected:?}:\n{}",
            help.stdout
        );
    }
    let help = hlx(&["start", "--help"], &[]);
    assert!(help.stdout.contains("--idempotency-key"), "{}", help.stdout);
    assert!(help.stdout.contains("HLX_EXPORT_S3_URI"), "{}", help.stdout);
}
