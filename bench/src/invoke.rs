//! Sections 1–3: the release binaries and the Python peer behind the same
//! local Lambda Runtime API (the runner's `ProcessInvoker`), with the same
//! payloads, against the same HealthLake emulator and the same DynamoDB (moto).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use hlx_asl_runner::{FunctionConfig, InvocationRecord, ProcessInvoker, format_timestamp};
use hlx_clock::SystemClock;
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobProfile, ServerHandle};
use hlx_local_stack::{ACCOUNT, REGION};
use serde_json::{Value, json};

/// The three functions, in the order an export calls them.
pub const FUNCTIONS: [&str; 3] = ["start-job", "check-job", "record-result"];
/// The floor of each side: a Runtime API client with no SDK (hlx's
/// std-only `hlx-fake-lambda`; bootstrap.py with an empty handler).
pub const FLOOR: &str = "floor";
const HLX_TABLE: &str = "hlx-jobs";
const PEER_TABLE: &str = "peer-jobs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Hlx,
    Peer,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Hlx => "hlx",
            Side::Peer => "peer",
        }
    }

    fn function_name(self, function: &str) -> String {
        format!("{}-{function}", self.label())
    }
}

/// Where things are and how many runs to make.
pub struct Setup {
    pub bin_dir: PathBuf,
    pub peer_python: PathBuf,
    pub peer_dir: PathBuf,
    pub dynamodb_endpoint: String,
    pub cold_runs: usize,
    pub warm_runs: usize,
}

/// One cold start: init (spawn → first `/next`), the first invocation, and
/// the process's peak RSS (`VmHWM`) right after it.
#[derive(Debug, Clone, Copy)]
pub struct ColdSample {
    pub init: Duration,
    pub first: Duration,
    pub hwm_kib: Option<u64>,
}

/// Everything measured for one function of one side.
#[derive(Debug, Default)]
pub struct Measured {
    pub cold: Vec<ColdSample>,
    pub warm: Vec<Duration>,
    /// `VmHWM` after the cold invocation and every warm one.
    pub warm_hwm_kib: Option<u64>,
}

pub struct Results {
    pub by: BTreeMap<(Side, &'static str), Measured>,
    /// How each side was seen to reach the emulator and moto.
    pub endpoint_checks: Vec<String>,
    /// Invocations that never returned and were taken again (see `Bench::invoke`).
    pub hung: usize,
}

impl Results {
    pub fn get(&self, side: Side, function: &'static str) -> &Measured {
        &self.by[&(side, function)]
    }
}

/// A process's peak resident set size, in KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Whether a process is gone (or only a zombie waiting to be reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn now() -> String {
    format_timestamp(jiff::Timestamp::now())
}

fn export_request(datastore_id: &str) -> Value {
    json!({
        "datastoreId": datastore_id,
        "s3Uri": "s3://hlx-bench-exports/nightly",
        "kmsKeyId": "alias/hlx-bench-exports",
        "dataAccessRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/hlx-bench-healthlake-export"),
        "trigger": "schedule"
    })
}

/// How long one invocation may take before the harness gives up on it: far
/// beyond any invocation here (under 1 s even cold), see [`Bench::invoke`].
const INVOKE_GUARD: Duration = Duration::from_secs(10);
/// Attempts at a sample when invocations hang.
const ATTEMPTS: usize = 3;

/// Why an invocation gave no figure.
enum Failure {
    /// It never returned (see [`Bench::invoke`]); the sample is taken again.
    Hung,
    Failed(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

impl From<Failure> for String {
    fn from(failure: Failure) -> String {
        match failure {
            Failure::Hung => format!(
                "an invocation did not return within {} s, {ATTEMPTS} times",
                INVOKE_GUARD.as_secs()
            ),
            Failure::Failed(message) => message,
        }
    }
}

struct Bench {
    emulator: Emulator,
    _server: ServerHandle,
    datastore: String,
    hlx: ProcessInvoker,
    peer: ProcessInvoker,
    dynamodb: aws_sdk_dynamodb::Client,
    /// A job's progress as hlx's start-job returned it: the `progress` of
    /// every check-job and record-result payload, for both sides.
    progress: Value,
    counter: u64,
    /// Invocations that never returned and were taken again.
    hung: usize,
}

impl Bench {
    fn invoker(&self, side: Side) -> &ProcessInvoker {
        match side {
            Side::Hlx => &self.hlx,
            Side::Peer => &self.peer,
        }
    }

    /// The payload of the next invocation: what the state machine sends, with
    /// a fresh execution (export) name so every start and every record is new.
    fn payload(&mut self, side: Side, function: &str) -> Value {
        self.counter += 1;
        let id = format!("bench-{}-{:05}", side.label(), self.counter);
        match function {
            "start-job" => json!({
                "request": export_request(&self.datastore),
                "executionName": id,
                "now": now(),
                "retryCount": 0
            }),
            "check-job" => json!({"progress": self.progress, "now": now()}),
            FLOOR => json!({"action": "echo", "id": id}),
            _ => json!({
                "id": id,
                "executionArn": format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:hlx-job:{id}"),
                "executionStartedAt": now(),
                "now": now(),
                "request": export_request(&self.datastore),
                "progress": self.progress
            }),
        }
    }

    async fn invoke(
        &mut self,
        side: Side,
        function: &str,
        payload: Value,
    ) -> Result<(Value, InvocationRecord), Failure> {
        let request_id = format!("00000000-0000-4000-8000-{:012}", self.counter);
        let name = side.function_name(function);
        let invoker = self.invoker(side).clone();
        // A guard against a race in `ProcessInvoker::invoke_function`: when
        // the process takes the event *and* answers before the invoking task
        // looks, the first `select!` sees the answer before the take and then
        // waits, with no timeout, for the (healthy) process to exit. Dropping
        // the call kills that process; the caller takes the sample again.
        let call = invoker.invoke_function(&name, payload, &request_id);
        let output = match tokio::time::timeout(INVOKE_GUARD, call).await {
            Err(_) => {
                invoker.shutdown();
                self.hung += 1;
                eprintln!("\n{name}: invocation {request_id} never returned; taking the sample again");
                return Err(Failure::Hung);
            }
            Ok(result) => result.map_err(|e| {
                format!(
                    "{name} failed: {}: {}\n--- its output ---\n{}",
                    e.error,
                    e.cause,
                    invoker.log_text(&name)
                )
            })?,
        };
        let record = invoker
            .invocation_records()
            .into_iter()
            .rev()
            .find(|r| r.request_id == request_id)
            .ok_or_else(|| format!("{name}: no record of invocation {request_id}"))?;
        Ok((output, record))
    }

    /// Kills the warm processes of a side and waits until `pid` is gone, so
    /// that the next invocation starts cold on a quiet machine.
    async fn stop(&self, side: Side, pid: Option<u32>) {
        self.invoker(side).shutdown();
        if let Some(pid) = pid {
            for _ in 0..2500 {
                if gone(pid) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }

    async fn cold(&mut self, side: Side, function: &str) -> Result<ColdSample, String> {
        for _ in 1..ATTEMPTS {
            match self.cold_once(side, function).await {
                Err(Failure::Hung) => continue,
                other => return other.map_err(String::from),
            }
        }
        self.cold_once(side, function).await.map_err(String::from)
    }

    async fn cold_once(&mut self, side: Side, function: &str) -> Result<ColdSample, Failure> {
        let payload = self.payload(side, function);
        let (_, record) = self.invoke(side, function, payload).await?;
        if !record.cold_start {
            return Err(format!("{function} ({}): expected a cold start", side.label()).into());
        }
        let hwm_kib = record.pid.and_then(vm_hwm_kib);
        self.stop(side, record.pid).await;
        Ok(ColdSample {
            init: record.init_duration.unwrap_or_default(),
            first: record.duration,
            hwm_kib,
        })
    }

    /// One process: a cold invocation, then `runs` warm ones.
    async fn warm(
        &mut self,
        side: Side,
        function: &str,
        runs: usize,
    ) -> Result<(Vec<Duration>, Option<u64>), String> {
        for _ in 1..ATTEMPTS {
            match self.warm_once(side, function, runs).await {
                Err(Failure::Hung) => continue,
                other => return other.map_err(String::from),
            }
        }
        self.warm_once(side, function, runs).await.map_err(String::from)
    }

    async fn warm_once(
        &mut self,
        side: Side,
        function: &str,
        runs: usize,
    ) -> Result<(Vec<Duration>, Option<u64>), Failure> {
        let payload = self.payload(side, function);
        let (_, first) = self.invoke(side, function, payload).await?;
        let mut durations = Vec::with_capacity(runs);
        for _ in 0..runs {
            let payload = self.payload(side, function);
            let (_, record) = self.invoke(side, function, payload).await?;
            if record.cold_start || record.pid != first.pid {
                return Err(format!("{function} ({}): the warm process was replaced", side.label()).into());
            }
            durations.push(record.duration);
        }
        let hwm = first.pid.and_then(vm_hwm_kib);
        self.stop(side, first.pid).await;
        Ok((durations, hwm))
    }

    fn calls(&self, operation: &str) -> usize {
        self.emulator.call_counts().get(operation).copied().unwrap_or(0)
    }

    async fn item_exists(&self, side: Side, id: &str) -> Result<bool, String> {
        let (table, key, value) = match side {
            Side::Hlx => (HLX_TABLE, "pk", format!("EXPORT#{id}")),
            Side::Peer => (PEER_TABLE, "id", id.to_owned()),
        };
        let out = self
            .dynamodb
            .get_item()
            .table_name(table)
            .key(key, AttributeValue::S(value))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("moto's GetItem failed: {e:?}"))?;
        Ok(out.item().is_some())
    }

    /// The warm-up round (discarded): one invocation of each function on each
    /// side, checking that each call reached the emulator or moto through the
    /// `AWS_ENDPOINT_URL_<SERVICE>` variables, and keeping hlx's job progress
    /// for the payloads that need one.
    async fn warm_up(&mut self) -> Result<Vec<String>, String> {
        for _ in 1..ATTEMPTS {
            match self.warm_up_once().await {
                Err(Failure::Hung) => continue,
                other => return other.map_err(String::from),
            }
        }
        self.warm_up_once().await.map_err(String::from)
    }

    async fn warm_up_once(&mut self) -> Result<Vec<String>, Failure> {
        let mut checks = Vec::new();
        for side in [Side::Hlx, Side::Peer] {
            let before = self.calls("StartFHIRExportJob");
            let payload = self.payload(side, "start-job");
            let (output, record) = self.invoke(side, "start-job", payload).await?;
            if self.calls("StartFHIRExportJob") != before + 1 {
                return Err(format!(
                    "{}'s start-job did not reach the emulator (AWS_ENDPOINT_URL_HEALTHLAKE ignored?)",
                    side.label()
                )
                .into());
            }
            if side == Side::Hlx {
                self.progress = output;
            }
            self.stop(side, record.pid).await;

            let before = self.calls("DescribeFHIRExportJob");
            let payload = self.payload(side, "check-job");
            let (_, record) = self.invoke(side, "check-job", payload).await?;
            if self.calls("DescribeFHIRExportJob") != before + 1 {
                return Err(format!(
                    "{}'s check-job did not reach the emulator (AWS_ENDPOINT_URL_HEALTHLAKE ignored?)",
                    side.label()
                )
                .into());
            }
            self.stop(side, record.pid).await;

            let payload = self.payload(side, "record-result");
            let id = payload["id"].as_str().unwrap_or_default().to_owned();
            let (_, record) = self.invoke(side, "record-result", payload).await?;
            if !self.item_exists(side, &id).await.map_err(Failure::Failed)? {
                return Err(format!(
                    "{}'s record-result did not write to moto (AWS_ENDPOINT_URL_DYNAMODB ignored?)",
                    side.label()
                )
                .into());
            }
            self.stop(side, record.pid).await;
            let payload = self.payload(side, FLOOR);
            let (_, record) = self.invoke(side, FLOOR, payload).await?;
            self.stop(side, record.pid).await;
            checks.push(format!(
                "{}: StartFHIRExportJob and DescribeFHIRExportJob reached the emulator, the record reached moto, with no endpoint in the code",
                side.label()
            ));
        }
        Ok(checks)
    }
}

async fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench",
            "bench",
            None,
            None,
            "hlx-bench",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

async fn create_tables(client: &aws_sdk_dynamodb::Client) -> Result<(), String> {
    hlx_aws::DynamoDbJobStore::new(client.clone(), HLX_TABLE)
        .create_table()
        .await
        .map_err(|e| format!("the table {HLX_TABLE} could not be created: {e}"))?;
    let result = client
        .create_table()
        .table_name(PEER_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if format!("{e:?}").contains("ResourceInUse") => Ok(()),
        Err(e) => Err(format!("the table {PEER_TABLE} could not be created: {e:?}")),
    }
}

fn invokers(setup: &Setup, healthlake: &str) -> Result<(ProcessInvoker, ProcessInvoker), String> {
    let common = |config: FunctionConfig| {
        config
            .env("AWS_ENDPOINT_URL_HEALTHLAKE", healthlake)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &setup.dynamodb_endpoint)
            .env("AWS_ACCESS_KEY_ID", "hlx-bench")
            .env("AWS_SECRET_ACCESS_KEY", "hlx-bench")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .timeout(Duration::from_secs(30))
    };
    let mut hlx = ProcessInvoker::builder().region(REGION).account(ACCOUNT);
    let mut peer = ProcessInvoker::builder().region(REGION).account(ACCOUNT);
    let floor = setup.bin_dir.join("hlx-fake-lambda");
    if !floor.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release`",
            floor.display()
        ));
    }
    hlx = hlx.function(common(FunctionConfig::new(Side::Hlx.function_name(FLOOR), floor)));
    let mut config = common(
        FunctionConfig::new(Side::Peer.function_name(FLOOR), &setup.peer_python)
            .arg(setup.peer_dir.join("bootstrap.py").display().to_string())
            .env("LAMBDA_TASK_ROOT", setup.peer_dir.display().to_string()),
    );
    config.handler = "floor.handler".into();
    peer = peer.function(config);
    for function in FUNCTIONS {
        let binary = setup.bin_dir.join(function);
        if !binary.is_file() {
            return Err(format!(
                "{} is missing: build the functions with `cargo build --release`",
                binary.display()
            ));
        }
        hlx = hlx.function(common(
            FunctionConfig::new(Side::Hlx.function_name(function), binary)
                .env("HLX_TABLE_NAME", HLX_TABLE)
                // Every start is a new job that never ends: admission control
                // would refuse the ninth. The peer has none; no limit here.
                .env("HLX_MAX_JOBS_IN_FLIGHT", "0")
                .env("RUST_LOG", "info"),
        ));
        let module = function.replace('-', "_");
        let handler = setup.peer_dir.join(format!("{module}.py"));
        if !handler.is_file() {
            return Err(format!("{} is missing", handler.display()));
        }
        let mut config = common(
            FunctionConfig::new(Side::Peer.function_name(function), &setup.peer_python)
                .arg(setup.peer_dir.join("bootstrap.py").display().to_string())
                .env("LAMBDA_TASK_ROOT", setup.peer_dir.display().to_string())
                .env("TABLE_NAME", PEER_TABLE),
        );
        config.handler = format!("{module}.handler");
        peer = peer.function(config);
    }
    Ok((hlx.build(), peer.build()))
}

/// Runs sections 1–3's measurements. Progress goes to stderr.
pub async fn measure(setup: &Setup) -> Result<Results, String> {
    let emulator = Emulator::new(
        EmulatorConfig {
            seed: 7,
            region: REGION.into(),
            account_id: ACCOUNT.into(),
            ..EmulatorConfig::default()
        },
        Arc::new(SystemClock),
    );
    let server = emulator
        .serve("127.0.0.1:0".parse().expect("a loopback address"))
        .await
        .map_err(|e| format!("the HealthLake emulator could not listen: {e}"))?;
    // Jobs stay SUBMITTED 5 s, then run for hours: every describe answers a live job.
    let datastore = emulator
        .create_datastore(
            "bench",
            Some(JobProfile::default().with_timing(Duration::from_secs(5), Duration::from_secs(6 * 3600))),
        )
        .map_err(|e| format!("the data store could not be created: {e}"))?;
    let dynamodb = dynamodb_client(&setup.dynamodb_endpoint).await;
    create_tables(&dynamodb).await?;
    let (hlx, peer) = invokers(setup, &server.endpoint_url())?;
    let mut bench = Bench {
        emulator,
        _server: server,
        datastore,
        hlx,
        peer,
        dynamodb,
        progress: Value::Null,
        counter: 0,
        hung: 0,
    };

    eprintln!("warm-up round (discarded), endpoint checks");
    let endpoint_checks = bench.warm_up().await?;

    let mut by: BTreeMap<(Side, &'static str), Measured> = BTreeMap::new();
    for round in 1..=setup.cold_runs {
        eprint!("\rcold starts: round {round}/{}", setup.cold_runs);
        // Alternate which side goes first, so neither always follows the other.
        let order = if round % 2 == 0 {
            [Side::Hlx, Side::Peer]
        } else {
            [Side::Peer, Side::Hlx]
        };
        for function in FUNCTIONS.into_iter().chain([FLOOR]) {
            for side in order {
                let sample = bench.cold(side, function).await?;
                by.entry((side, function)).or_default().cold.push(sample);
            }
        }
    }
    eprintln!();
    for function in FUNCTIONS {
        for side in [Side::Hlx, Side::Peer] {
            eprintln!("warm invocations: {function} ({})", side.label());
            let (warm, hwm) = bench.warm(side, function, setup.warm_runs).await?;
            let m = by.entry((side, function)).or_default();
            m.warm = warm;
            m.warm_hwm_kib = hwm;
        }
    }
    Ok(Results {
        by,
        endpoint_checks,
        hung: bench.hung,
    })
}

/// The peer's site-packages (`sysconfig`'s purelib of its interpreter).
pub fn site_packages(python: &Path) -> Option<PathBuf> {
    let out = std::process::Command::new(python)
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_dir().then_some(path)
}
