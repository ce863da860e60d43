//! Section 7: verified exports. The verification's throughput on one core
//! against a Python peer (`json.loads` per line) over the same files, its
//! peak RSS against the file's size, the duplicate check's memory per
//! resource (one shard of the distributed path), and
//! what verifying a 10 GB and a 500 GB export costs: the transitions
//! measured on the real definition on virtual time (both paths), the
//! Lambda time from the throughput measured here.
//!
//! Every measurement of hlx runs in a child process of this binary (its own
//! peak RSS): `verify-file` reads a file from disk, `verify-s3` reads the
//! same file through verify-export's S3 path (the SDK client streaming
//! GetObject from the emulator's S3 API over HTTP), `verify-shard` checks
//! one shard of synthetic children's id lists for duplicates as the
//! distributed path's `FindDuplicates` does.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use hlx_asl_runner::EventKind;
use hlx_aws::export_objects::RANGES_IN_FLIGHT;
use hlx_clock::{SharedClock, VirtualClock};
use hlx_core::verification::ids::SortedIds;
use hlx_core::verification::shards::{duplicates_in_sections, encode_id_list, resource_files, shard_count};
use hlx_core::verification::storage::ExportObjects;
use hlx_core::verification::verdict::Expectations;
use hlx_core::verification::{FileKind, FileReport, FileVerifier, VerificationPath, VerifyPolicy, fold};
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobProfile};
use hlx_local_stack::{LocalStack, StackConfig, first_night};
use hlx_report::pricing::{PRICE_PER_REQUEST, PRICE_PER_S3_GET, PRICE_PER_S3_PUT, PRICE_PER_TRANSITION};
use serde_json::{Value, json};

use crate::stats::Summary;

/// The files measured (MiB): a file HealthLake writes (about 5,000
/// resources), and two far larger ones for the RSS against size.
pub const SIZES_MIB: [u64; 3] = [8, 64, 512];
/// The resource type of the files.
const TYPE: &str = "Observation";
/// The emulator's bucket the files sit in.
const BUCKET: &str = "bench-verify";
/// Bytes read from disk at a time (S3's body arrives in chunks of this order).
const CHUNK: usize = 64 * 1024;
/// HealthLake's resources per export file (../shared notes: up to about 5,000).
const RESOURCES_PER_FILE: f64 = 5_000.0;
/// verify-export's memory as deployed (infra/sam/template.yaml, infra/cdk).
const VERIFY_MEMORY_MB: f64 = hlx_report::pricing::VERIFY_EXPORT_MEMORY_MB as f64;
/// Lambda gives a function one vCPU at 1,769 MB, a share of one below it.
const ONE_VCPU_MB: f64 = 1769.0;
/// Lambda's largest memory setting.
const LAMBDA_MAX_MB: f64 = 10_240.0;
/// Ids in the shard of each run of `verify-shard` (millions).
const SHARD_MILLIONS: [u64; 3] = [1, 4, 16];
/// The states of the job state machine that verify (the parent's share;
/// `FindDuplicates` is entered once a shard, in the parent's inline Map).
const VERIFY_STATES: [&str; 8] = [
    "Verify?",
    "BeginVerification",
    "Distributed?",
    "VerifyFiles",
    "CheckDuplicates",
    "FindDuplicates",
    "FoldVerification",
    "VerificationFailed",
];
/// The measured Distributed Map run's shards of the duplicate check (its
/// export is about 170 kB).
const MEASURED_SHARD_BYTES: u64 = 60_000;
/// A file's report in the fold and the shard checks (key, type, counts):
/// what they hold of every file beside the ids.
const REPORT_BYTES: f64 = 300.0;
/// The two exports priced, in bytes (decimal GB).
const PRICED: [(&str, f64); 2] = [("10 GB", 10e9), ("500 GB", 500e9)];

/// One child's answer.
#[derive(Debug, Clone, Copy)]
struct Pass {
    lines: u64,
    resources: u64,
    problems: u64,
    seconds: f64,
    rss_kib: u64,
}

impl Pass {
    fn parse(stdout: &[u8]) -> Result<Pass, String> {
        let text = String::from_utf8_lossy(stdout);
        let v: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("a child's answer is not JSON ({e}): {text}"))?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Ok(Pass {
            lines: n("lines"),
            resources: n("resources"),
            problems: n("problems") + n("duplicates"),
            seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
            rss_kib: n("vmhwm_kib"),
        })
    }
}

/// The sides measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// hlx's FileVerifier over a file on disk.
    HlxDisk,
    /// verify-export's S3 path: the SDK client at the emulator's S3 API.
    HlxS3,
    /// Python, json.loads per line.
    Peer,
}

impl Side {
    const ALL: [Side; 3] = [Side::HlxDisk, Side::HlxS3, Side::Peer];

    fn label(self) -> &'static str {
        match self {
            Side::HlxDisk => "hlx, from disk",
            Side::HlxS3 => "hlx, S3 API (SDK over HTTP)",
            Side::Peer => "Python peer, from disk",
        }
    }
}

/// The medians of one side over one file.
#[derive(Debug, Clone)]
struct Measured {
    side: Side,
    mib: u64,
    bytes: u64,
    lines: u64,
    seconds: Summary,
    rss_kib: u64,
}

impl Measured {
    fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.median
    }
    fn resources_per_second(&self) -> f64 {
        self.lines as f64 / self.seconds.median
    }
}

/// One shard check's memory and time for one count of ids.
#[derive(Debug, Clone, Copy)]
struct ShardMemory {
    resources: u64,
    /// Peak RSS with the id lists' sections read (as the ranged GETs leave
    /// them), before the check.
    before_kib: u64,
    /// Peak RSS after the check.
    after_kib: u64,
    seconds: f64,
}

/// One verification path's transitions on virtual time.
#[derive(Debug, Clone)]
struct PathRun {
    verdict: String,
    objects: u64,
    /// The parent's verification states entered (VERIFY_STATES).
    parent: u64,
    /// Shards of the duplicate check, and `FindDuplicates` entered.
    shards: u64,
    shard_checks: u64,
    children: u64,
    child_transitions: u64,
    invocations: u64,
}

/// Section 7's figures.
#[derive(Debug, Clone)]
pub struct VerifyBench {
    runs: usize,
    line_bytes: f64,
    measured: Vec<Measured>,
    shard: Vec<ShardMemory>,
    single: PathRun,
    distributed: PathRun,
}

// ---------------------------------------------------------------- children

/// `hlx-bench verify-file FILE KEY`, `verify-s3 BUCKET KEY RELATIVE`,
/// `verify-shard MILLIONS`: one measurement, printed as one JSON line.
pub fn child(mode: &str, args: &[String]) -> ExitCode {
    let outcome = match (mode, args) {
        ("verify-file", [path, key]) => verify_file(Path::new(path), key),
        ("verify-s3", [bucket, key, relative]) => verify_s3(bucket, key, relative),
        ("verify-shard", [millions]) => millions
            .parse::<u64>()
            .map_err(|e| format!("verify-shard: {e}"))
            .and_then(|m| verify_shard(m * 1_000_000)),
        _ => Err(format!("usage: hlx-bench {mode} ... (bench/src/verify.rs)")),
    };
    match outcome {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hlx-bench {mode}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn peak_rss_kib() -> u64 {
    crate::invoke::vm_hwm_kib(std::process::id()).unwrap_or(0)
}

/// `reports` folded with nothing to compare against, as verify-export folds them.
fn fold_alone(reports: Vec<FileReport>, path: VerificationPath) -> hlx_core::verification::Verification {
    fold(
        reports,
        Vec::new(),
        Expectations::default(),
        &VerifyPolicy::default(),
        path,
        jiff::Timestamp::now(),
    )
}

/// The report folded as verify-export folds one (the duplicate check included).
fn answer(report: FileReport, started: Instant) -> Value {
    let (lines, resources, problems) = (report.lines, report.resources, report.problem_count);
    let verification = fold_alone(vec![report], VerificationPath::Single);
    json!({
        "lines": lines,
        "resources": resources,
        "problems": problems,
        "duplicates": verification.reason_count - problems,
        "verdict": verification.verdict,
        "seconds": started.elapsed().as_secs_f64(),
        "vmhwm_kib": peak_rss_kib(),
    })
}

fn verify_file(path: &Path, key: &str) -> Result<Value, String> {
    let started = Instant::now();
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut verifier = FileVerifier::new(key);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = file
            .read(&mut chunk)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        verifier.push(&chunk[..n]);
    }
    Ok(answer(verifier.finish(), started))
}

fn verify_s3(bucket: &str, key: &str, relative: &str) -> Result<Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no Tokio runtime: {e}"))?;
    runtime.block_on(async {
        // verify-export's client, as its main builds it (AWS_ENDPOINT_URL_S3 at the emulator).
        let objects = hlx_aws::S3ExportObjects::from_config(&hlx_aws::sdk_config().await);
        let started = Instant::now();
        let mut verifier = FileVerifier::new(relative);
        objects
            .read_into(bucket, key, &mut verifier)
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        Ok(answer(verifier.finish(), started))
    })
}

/// One shard of `resources` ids as `FindDuplicates` meets it: children of
/// 10 files of 5,000 ids, each child's id list section held as its ranged
/// GET returns it, then the check itself (`duplicates_in_sections`).
fn verify_shard(resources: u64) -> Result<Value, String> {
    let per_file = RESOURCES_PER_FILE as u64;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        // xorshift64*: distinct-enough hashes, no duplicates expected.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut children = Vec::new();
    let mut batch: Vec<FileReport> = Vec::new();
    let mut left = resources;
    let mut n = 0;
    while left > 0 {
        let count = left.min(per_file);
        n += 1;
        let ids = SortedIds::from_sorted(
            (0..count)
                .map(|line| hlx_core::verification::file::IdSeen::new(next(), line as u32 + 1))
                .collect(),
        );
        batch.push(FileReport {
            key: format!("{TYPE}/{TYPE}-{n}.ndjson"),
            kind: FileKind::Resources {
                resource_type: TYPE.into(),
            },
            bytes: 0,
            lines: count,
            resources: count,
            operation_outcomes: 0,
            problems: Vec::new(),
            problem_count: 0,
            ids,
        });
        left -= count;
        if batch.len() == 10 || left == 0 {
            let (section, _) = encode_id_list(&resource_files(&batch), 1);
            for report in &mut batch {
                report.ids = SortedIds::default();
            }
            children.push((std::mem::take(&mut batch), section));
        }
    }
    let before = peak_rss_kib();
    let started = Instant::now();
    let found = duplicates_in_sections(children)?;
    Ok(json!({
        "resources": resources,
        "duplicates": found.count,
        "seconds": started.elapsed().as_secs_f64(),
        "before_kib": before,
        "vmhwm_kib": peak_rss_kib(),
    }))
}

// ------------------------------------------------------------------ parent

fn run_child(command: &mut Command) -> Result<Vec<u8>, String> {
    let out = command
        .output()
        .map_err(|e| format!("{command:?} could not start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// Observation lines of the emulator's synthetic data store: the templates
/// the files are written from.
fn templates() -> Result<Vec<(String, String)>, String> {
    let clock: SharedClock = std::sync::Arc::new(VirtualClock::default());
    let emulator = Emulator::new(EmulatorConfig::default(), clock);
    let profile = JobProfile::default().with_resources([("Patient", 200), ("Encounter", 400), (TYPE, 2_000)]);
    let datastore = emulator
        .create_datastore("bench-verify", Some(profile))
        .map_err(|e| format!("the emulator's data store: {e}"))?;
    let lines = emulator
        .resources(&datastore)
        .and_then(|mut r| r.remove(TYPE))
        .ok_or("the emulator generated no observations")?;
    lines
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).map_err(|e| format!("an emulator line: {e}"))?;
            let id = v["id"].as_str().ok_or("an emulator line without id")?;
            let marker = format!("\"id\":\"{id}\"");
            let at = line
                .find(&marker)
                .ok_or("an emulator line's id is not where expected")?;
            Ok((
                format!("{}\"id\":\"", &line[..at]),
                format!("\"{}", &line[at + marker.len()..]),
            ))
        })
        .collect()
}

/// Writes a file of at least `mib` MiB of distinct observations; its line count.
fn write_file(path: &Path, mib: u64, templates: &[(String, String)]) -> Result<u64, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let target = mib << 20;
    let (mut written, mut lines) = (0u64, 0u64);
    while written < target {
        let (head, tail) = &templates[lines as usize % templates.len()];
        let line = format!("{head}bench-{lines:012}{tail}\n");
        out.write_all(line.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written += line.len() as u64;
        lines += 1;
    }
    out.flush().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(lines)
}

/// Measures section 7. `peer_python` runs bench/peer/verify_file.py.
pub async fn measure(runs: usize, peer_python: &Path, peer_dir: &Path) -> Result<VerifyBench, String> {
    let root = std::env::temp_dir().join(format!("hlx-bench-verify-{}", std::process::id()));
    let result = measure_in(&root, runs, peer_python, peer_dir).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn measure_in(
    root: &Path,
    runs: usize,
    peer_python: &Path,
    peer_dir: &Path,
) -> Result<VerifyBench, String> {
    let me = std::env::current_exe().map_err(|e| format!("this executable: {e}"))?;
    let templates = templates()?;
    let relative = format!("{TYPE}/{TYPE}-1.ndjson");
    let mut files: Vec<(u64, PathBuf, String, u64)> = Vec::new();
    let (mut all_bytes, mut all_lines) = (0u64, 0u64);
    for mib in SIZES_MIB {
        let key = format!("size-{mib}/{relative}");
        let path = root.join(BUCKET).join(&key);
        eprintln!("writing a {mib} MiB export file");
        let lines = write_file(&path, mib, &templates)?;
        let bytes = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        all_bytes += bytes;
        all_lines += lines;
        files.push((mib, path, key, bytes));
    }

    // The emulator's S3 API serves the same files from disk.
    let clock: SharedClock = std::sync::Arc::new(VirtualClock::default());
    let emulator = Emulator::new(
        EmulatorConfig {
            output_root: Some(root.to_path_buf()),
            ..EmulatorConfig::default()
        },
        clock,
    );
    let server = emulator
        .serve("127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("the emulator could not listen: {e}"))?;
    let endpoint = server.endpoint_url();

    let mut measured = Vec::new();
    for (mib, path, key, bytes) in &files {
        eprintln!("verifying the {mib} MiB file: hlx (disk, S3 API) and the Python peer, {runs} runs each");
        let mut samples: Vec<(Side, Vec<Pass>)> = Side::ALL.iter().map(|s| (*s, Vec::new())).collect();
        for _ in 0..runs {
            for (side, passes) in &mut samples {
                let mut command = match side {
                    Side::HlxDisk => {
                        let mut c = Command::new(&me);
                        c.arg("verify-file").arg(path).arg(&relative);
                        c
                    }
                    Side::HlxS3 => {
                        let mut c = Command::new(&me);
                        c.args(["verify-s3", BUCKET, key, &relative])
                            .env("AWS_ENDPOINT_URL_S3", &endpoint)
                            .env("AWS_ACCESS_KEY_ID", "test")
                            .env("AWS_SECRET_ACCESS_KEY", "test")
                            .env("AWS_REGION", "us-east-1")
                            .env_remove("AWS_PROFILE");
                        c
                    }
                    Side::Peer => {
                        let mut c = Command::new(peer_python);
                        c.arg(peer_dir.join("verify_file.py")).arg(path).arg(TYPE);
                        c
                    }
                };
                let pass = Pass::parse(&run_child(&mut command)?)?;
                if pass.problems != 0 || pass.resources != pass.lines {
                    return Err(format!(
                        "{} found {} problem(s) in a clean file of {} lines",
                        side.label(),
                        pass.problems,
                        pass.lines
                    ));
                }
                passes.push(pass);
            }
        }
        for (side, passes) in samples {
            let lines = passes[0].lines;
            if passes.iter().any(|p| p.lines != lines) {
                return Err(format!("{} counted different lines across runs", side.label()));
            }
            let seconds: Vec<f64> = passes.iter().map(|p| p.seconds).collect();
            let mut rss: Vec<u64> = passes.iter().map(|p| p.rss_kib).collect();
            rss.sort_unstable();
            measured.push(Measured {
                side,
                mib: *mib,
                bytes: *bytes,
                lines,
                seconds: Summary::of(&seconds),
                rss_kib: rss[rss.len() / 2],
            });
        }
    }
    drop(server);

    let mut shard_memory = Vec::new();
    for millions in SHARD_MILLIONS {
        eprintln!("checking a shard of {millions} million ids");
        let out = run_child(Command::new(&me).args(["verify-shard", &millions.to_string()]))?;
        let v: Value = serde_json::from_slice(&out).map_err(|e| format!("verify-shard's answer: {e}"))?;
        if v["duplicates"].as_u64() != Some(0) {
            return Err(format!("verify-shard found duplicates among distinct ids: {v}"));
        }
        shard_memory.push(ShardMemory {
            resources: v["resources"].as_u64().unwrap_or(0),
            before_kib: v["before_kib"].as_u64().unwrap_or(0),
            after_kib: v["vmhwm_kib"].as_u64().unwrap_or(0),
            seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
        });
    }

    eprintln!("both verification paths on virtual time");
    let single = path_run(root, false).await?;
    let distributed = path_run(root, true).await?;
    Ok(VerifyBench {
        runs,
        line_bytes: all_bytes as f64 / all_lines as f64,
        measured,
        shard: shard_memory,
        single,
        distributed,
    })
}

/// One nightly export verified by one invocation, or (`distributed`) by
/// the Distributed Map: 24 data files and the manifest, so three children.
async fn path_run(root: &Path, distributed: bool) -> Result<PathRun, String> {
    let dir = root.join(if distributed {
        "stack-distributed"
    } else {
        "stack-single"
    });
    let mut config = StackConfig::new(&dir);
    config.resources_per_file = 10;
    config.profile = JobProfile::default()
        .with_timing(Duration::from_secs(5), Duration::from_secs(3600))
        .with_resources([("Patient", 40), (TYPE, 200)]);
    if distributed {
        config.verify = VerifyPolicy {
            single_max_files: 2,
            shard_bytes: MEASURED_SHARD_BYTES,
            ..VerifyPolicy::default()
        };
    }
    let stack = LocalStack::start(config).await?;
    stack.advance_to(first_night());
    let datastore = stack.datastores[0].clone();
    let handle = stack
        .start_execution("nightly-verify-bench", stack.export_request(&datastore))
        .map_err(|e| format!("the execution could not start: {e}"))?;
    stack.runner.wait_all().await;
    let done = handle.describe();
    let history = handle.history();
    let entered = |states: &[&str]| {
        history
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::StateEntered { name, .. } if states.contains(&name.as_str())))
            .count() as u64
    };
    let parent = entered(&VERIFY_STATES);
    let shard_checks = entered(&["FindDuplicates"]);
    let shards = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateEntered { name, input, .. } if name == "FindDuplicates" => {
                input["shard"].as_u64()
            }
            _ => None,
        })
        .collect::<std::collections::BTreeSet<u64>>()
        .len() as u64;
    let children: Vec<_> = stack
        .runner
        .executions()
        .into_iter()
        .map(|e| e.describe())
        .filter(|e| e.name != "nightly-verify-bench")
        .collect();
    let verify_invocations = |stats: &hlx_asl_runner::ExecutionStats| -> u64 {
        stats
            .task_invocations
            .iter()
            .filter(|(arn, _)| arn.ends_with("verify-export"))
            .map(|(_, n)| n)
            .sum()
    };
    let objects = stack
        .emulator
        .export_jobs()
        .last()
        .map(|j| j.files.len() as u64 + 1)
        .unwrap_or(0);
    let verdict = stack
        .record("nightly-verify-bench")
        .await
        .map_err(|e| format!("the job record: {e}"))?
        .and_then(|r| r.verification)
        .map(|v| {
            serde_json::to_value(v.verdict)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?")
                .to_owned()
        });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(PathRun {
        verdict: verdict.unwrap_or_else(|| format!("none ({})", done.status.as_str())),
        objects,
        parent,
        shards,
        shard_checks,
        children: children.len() as u64,
        child_transitions: children.iter().map(|c| c.stats.state_transitions).sum(),
        invocations: verify_invocations(&done.stats)
            + children.iter().map(|c| verify_invocations(&c.stats)).sum::<u64>(),
    })
}

// ----------------------------------------------------------------- report

/// One priced export.
#[derive(Debug, Clone)]
struct Priced {
    label: &'static str,
    resources: f64,
    files: f64,
    distributed: bool,
    children: f64,
    invocations: f64,
    transitions: f64,
    gb_seconds: f64,
    gets: f64,
    puts: f64,
    dollars: f64,
    /// Shards of the duplicate check (1 on the single path: all ids at once).
    shards: f64,
    /// The duplicate check's memory: the whole export's ids on the single
    /// path, one shard's (and every file's report) on the Distributed Map.
    check_mb: f64,
}

impl VerifyBench {
    fn find(&self, side: Side, mib: u64) -> Option<&Measured> {
        self.measured.iter().find(|m| m.side == side && m.mib == mib)
    }

    /// Bytes of a shard check's peak per resource, over the largest measured.
    fn shard_bytes_per_resource(&self) -> f64 {
        let (first, last) = match (self.shard.first(), self.shard.last()) {
            (Some(f), Some(l)) if l.resources > f.resources => (f, l),
            _ => return f64::NAN,
        };
        (last.after_kib as f64 - first.after_kib as f64) * 1024.0 / (last.resources - first.resources) as f64
    }

    /// Seconds of a shard check per million ids (the largest run measured).
    fn shard_seconds_per_million(&self) -> f64 {
        self.shard
            .last()
            .map(|l| l.seconds / (l.resources as f64 / 1e6))
            .unwrap_or(f64::NAN)
    }

    fn price(&self, label: &'static str, bytes: f64) -> Priced {
        let policy = VerifyPolicy::default();
        let resources = bytes / self.line_bytes;
        let files = (resources / RESOURCES_PER_FILE).ceil();
        let distributed = files > policy.single_max_files as f64 || bytes > policy.single_max_bytes as f64;
        // The Distributed Map's batches of 10 objects (the definition's MaxItemsPerBatch).
        let children = if distributed {
            ((files + 1.0) / 10.0).ceil()
        } else {
            0.0
        };
        let shards = if distributed {
            f64::from(shard_count(bytes as u64, policy.shard_bytes))
        } else {
            1.0
        };
        let per_child = self.distributed.child_transitions as f64 / self.distributed.children.max(1) as f64;
        // The parent's verification states: the measured ones, with the
        // measured run's FindDuplicates replaced by one per shard here.
        let per_shard = self.distributed.shard_checks as f64 / self.distributed.shards.max(1) as f64;
        let (parent, invocations) = if distributed {
            (
                (self.distributed.parent - self.distributed.shard_checks) as f64 + shards * per_shard,
                2.0 + children + shards,
            )
        } else {
            (self.single.parent as f64, 1.0)
        };
        let transitions = parent + children * per_child;
        // Lambda time: CPU-bound, at the S3 path's rate on one core scaled to 1024 MB's vCPU share.
        let vcpu = VERIFY_MEMORY_MB / ONE_VCPU_MB;
        let rate = self
            .find(Side::HlxS3, SIZES_MIB[0])
            .map(Measured::mb_per_second)
            .unwrap_or(f64::NAN)
            * 1e6
            * vcpu;
        let check_seconds = if distributed {
            resources / 1e6 * self.shard_seconds_per_million() / vcpu
        } else {
            0.0
        };
        let gb_seconds = (bytes / rate + check_seconds) * (VERIFY_MEMORY_MB / 1024.0);
        // GETs: each file once; on the Distributed Map each shard's section of
        // every child's id list (ranged), the ResultWriter's manifest and
        // result file by each shard check and the fold, the shards' findings
        // by the fold. PUTs: one id list a child, ResultWriter's two files,
        // one finding a shard, and (priced as PUTs) the LISTs that find the
        // id lists to delete once judged, 1,000 a page (deletes are free).
        let (gets, puts) = if distributed {
            (
                files + children * shards + 2.0 * (shards + 1.0) + shards,
                children + 2.0 + shards + (children / 1000.0).ceil(),
            )
        } else {
            (files, 0.0)
        };
        let dollars = transitions * PRICE_PER_TRANSITION
            + invocations * PRICE_PER_REQUEST
            + gb_seconds * hlx_report::pricing::PRICE_PER_GB_SECOND_ARM64
            + gets * PRICE_PER_S3_GET
            + puts * PRICE_PER_S3_PUT;
        let per_resource = self.shard_bytes_per_resource();
        let check_mb = if distributed {
            (resources / shards * per_resource + files * REPORT_BYTES) / 1e6
        } else {
            resources * per_resource / 1e6
        };
        Priced {
            label,
            resources,
            files,
            distributed,
            children,
            invocations,
            transitions,
            gb_seconds,
            gets,
            puts,
            dollars,
            shards,
            check_mb,
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("## 7. Verified exports\n\n");
        out.push_str(&format!(
            "One NDJSON file of distinct Observations (the emulator's resources, {:.0} bytes a line) at \
             each size, read on one core by hlx's FileVerifier (each line parsed once by serde_json into \
             `resourceType` and `id`, every other member checked for syntax; the ids kept as 12-byte \
             hashes and folded for duplicates) and by the Python peer (`bench/peer/verify_file.py`: \
             `json.loads` per line, the same checks, a `set` of ids). \"S3 API\" is verify-export's own \
             path: the SDK client streaming GetObject from the emulator's S3 over HTTP on this machine. \
             Medians of {} runs; each run is a fresh process, whose `VmHWM` is its peak RSS.\n\n",
            self.line_bytes, self.runs
        ));
        out.push_str(
            "| file | side | resources | median s | MB/s | resources/s | peak RSS |\n\
             |---:|---|---:|---:|---:|---:|---:|\n",
        );
        for mib in SIZES_MIB {
            for side in Side::ALL {
                if let Some(m) = self.find(side, mib) {
                    out.push_str(&format!(
                        "| {mib} MiB | {} | {} | {:.3} | {:.0} | {:.0} | {:.1} MiB |\n",
                        side.label(),
                        m.lines,
                        m.seconds.median,
                        m.mb_per_second(),
                        m.resources_per_second(),
                        m.rss_kib as f64 / 1024.0
                    ));
                }
            }
        }
        out.push_str("\nRatios, hlx against the peer (throughput: above 1 means hlx is faster; RSS: below 1 means smaller):\n\n");
        out.push_str("| file | MB/s, disk | MB/s, S3 API against the peer's disk | peak RSS, disk |\n|---:|---:|---:|---:|\n");
        for mib in SIZES_MIB {
            if let (Some(h), Some(s), Some(p)) = (
                self.find(Side::HlxDisk, mib),
                self.find(Side::HlxS3, mib),
                self.find(Side::Peer, mib),
            ) {
                out.push_str(&format!(
                    "| {mib} MiB | {:.1}× | {:.1}× | {:.2} |\n",
                    h.mb_per_second() / p.mb_per_second(),
                    s.mb_per_second() / p.mb_per_second(),
                    h.rss_kib as f64 / p.rss_kib.max(1) as f64
                ));
            }
        }
        let (small, large) = (SIZES_MIB[0], SIZES_MIB[SIZES_MIB.len() - 1]);
        let growth = |side: Side| match (self.find(side, small), self.find(side, large)) {
            (Some(a), Some(b)) => format!(
                "{:+.1} MiB ({:.1} bytes per resource)",
                (b.rss_kib as f64 - a.rss_kib as f64) / 1024.0,
                (b.rss_kib as f64 - a.rss_kib as f64) * 1024.0 / (b.lines - a.lines).max(1) as f64
            ),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "\nPeak RSS from the {small} MiB file to the {large} MiB one ({}× the bytes): hlx from disk {}, \
             hlx over the S3 API {}, the peer {}. hlx reads in chunks and never holds a file; the duplicate \
             check's ids (12 bytes each) stay in memory up to {} a file, beyond that they go to sorted runs \
             in temporary files (Lambda's /tmp), merged back through small buffers.\n\n",
            large / small,
            growth(Side::HlxDisk),
            growth(Side::HlxS3),
            growth(Side::Peer),
            hlx_core::verification::ids::IDS_IN_MEMORY,
        ));

        out.push_str(
            "### The duplicate check\n\nAn id twice within a type is found by merging every file's sorted ids \
             (12 bytes each: hash and line). One invocation holds all of a small export's; on the Distributed \
             Map the ids are split by hash into shards (`CheckDuplicates`, one `FindDuplicates` invocation per \
             `HLX_VERIFY_SHARD_BYTES`, 8 GiB, of export), each reading its section of every child's id list by \
             ranged GET. One shard check's memory, measured on synthetic id lists of children of 10 files of \
             5,000 ids, the sections held as the GETs return them (`hlx-bench verify-shard`):\n\n\
             | ids | RSS with the sections read | peak RSS | check s |\n|---:|---:|---:|---:|\n",
        );
        for f in &self.shard {
            out.push_str(&format!(
                "| {} M | {:.0} MiB | {:.0} MiB | {:.2} |\n",
                f.resources / 1_000_000,
                f.before_kib as f64 / 1024.0,
                f.after_kib as f64 / 1024.0,
                f.seconds
            ));
        }
        let per = self.shard_bytes_per_resource();
        out.push_str(&format!(
            "\n{per:.1} bytes of peak RSS per id: at verify-export's {VERIFY_MEMORY_MB:.0} MB one check holds about \
             {:.0} million ids; the default shard (8 GiB of export) holds {:.0} million at this section's {:.0} \
             bytes a resource, {:.0} million at 200.\n\n",
            VERIFY_MEMORY_MB * 1e6 / per / 1e6,
            VerifyPolicy::default().shard_bytes as f64 / self.line_bytes / 1e6,
            self.line_bytes,
            VerifyPolicy::default().shard_bytes as f64 / 200.0 / 1e6,
        ));

        out.push_str(&format!(
            "### Transitions, measured\n\nOne nightly export on virtual time, hlx's handlers in process, the \
             definition as deployed: the single path ({} objects, verdict {}) and the Distributed Map \
             ({} objects in batches of 10, the duplicate check in {} shards, verdict {}).\n\n\
             | path | parent's verification transitions | child executions | their transitions | verify-export invocations |\n\
             |---|---:|---:|---:|---:|\n\
             | one invocation | {} | {} | {} | {} |\n\
             | Distributed Map | {} | {} | {} | {} |\n\n",
            self.single.objects,
            self.single.verdict,
            self.distributed.objects,
            self.distributed.shards,
            self.distributed.verdict,
            self.single.parent,
            self.single.children,
            self.single.child_transitions,
            self.single.invocations,
            self.distributed.parent,
            self.distributed.children,
            self.distributed.child_transitions,
            self.distributed.invocations,
        ));

        let hlx_rate = self
            .find(Side::HlxS3, small)
            .map(Measured::mb_per_second)
            .unwrap_or(f64::NAN);
        out.push_str(&format!(
            "### What verifying an export costs\n\n\
             Resources at {:.0} bytes; files of {RESOURCES_PER_FILE:.0} resources (HealthLake's); the path \
             and the shards as `VerifyPolicy`'s defaults choose them; children of 10 objects, each with the \
             transitions measured above, and one `FindDuplicates` per shard; Lambda time CPU-bound at the S3 \
             path's {hlx_rate:.0} MB/s on one core plus the shard checks' measured time, scaled to the {:.2} \
             vCPU Lambda gives {VERIFY_MEMORY_MB:.0} MB (slower S3 reads cost proportionally more GB-s); S3 \
             GETs of every file and, on the Distributed Map, of each shard's section of every child's id list \
             (ranged) and the small result objects; PUTs of one id list a child, ResultWriter's files and one \
             finding a shard, and the LISTs of the id lists deleted once judged (DeleteObjects is free); list prices of `hlx_report::pricing`. The duplicate check's memory is the \
             measured bytes per id above for the export's ids (one invocation) or one shard's (Distributed \
             Map), plus {REPORT_BYTES:.0} bytes a file for the reports it reads.\n\n\
             | export | resources | files | path | child executions | shards | invocations | transitions | Lambda GB-s | S3 GET / PUT | $ per export | duplicate check's memory |\n\
             |---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.line_bytes,
            VERIFY_MEMORY_MB / ONE_VCPU_MB
        ));
        let priced: Vec<Priced> = PRICED.iter().map(|(l, b)| self.price(l, *b)).collect();
        for p in &priced {
            let fits = if p.check_mb <= VERIFY_MEMORY_MB {
                "fits 1024 MB"
            } else if p.check_mb <= LAMBDA_MAX_MB {
                "over 1024 MB"
            } else {
                "over Lambda's 10,240 MB"
            };
            out.push_str(&format!(
                "| {} | {:.1} M | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | ${:.3} | {:.0} MB ({fits}) |\n",
                p.label,
                p.resources / 1e6,
                p.files,
                if p.distributed { "Distributed Map" } else { "one invocation" },
                p.children,
                p.shards,
                p.invocations,
                p.transitions,
                p.gb_seconds,
                p.gets,
                p.puts,
                p.dollars,
                p.check_mb,
            ));
        }
        for p in priced.iter().filter(|p| p.distributed) {
            let ids = p.resources / p.shards;
            out.push_str(&format!(
                "\nThe {} export: each of its {:.0} shard checks merges {:.1} million ids in about {:.0} s of CPU \
                 at {VERIFY_MEMORY_MB:.0} MB and reads {:.0} ranged sections ({RANGES_IN_FLIGHT} at a time), well \
                 within one 900-second invocation{}.\n",
                p.label,
                p.shards,
                ids / 1e6,
                ids / 1e6 * self.shard_seconds_per_million() / (VERIFY_MEMORY_MB / ONE_VCPU_MB),
                p.children,
                if p.check_mb > VERIFY_MEMORY_MB {
                    "; its memory is not: lower HLX_VERIFY_SHARD_BYTES"
                } else {
                    ""
                },
            ));
        }
        out.push_str("\nTargets of this section:\n\n");
        for line in self.targets() {
            out.push_str(&format!("- {line}\n"));
        }
        out.push('\n');
        out
    }

    /// The targets, met or missed.
    fn targets(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let (Some(h), Some(p)) = (
            self.find(Side::HlxDisk, SIZES_MIB[0]),
            self.find(Side::Peer, SIZES_MIB[0]),
        ) {
            let ratio = h.mb_per_second() / p.mb_per_second();
            lines.push(format!(
                "Verification at least 5× the Python peer per core: {:.1}× on the {} MiB file — {}.",
                ratio,
                SIZES_MIB[0],
                if ratio >= 5.0 { "met" } else { "missed" }
            ));
            lines.push(format!(
                "At least 200 MB/s per core: {:.0} MB/s from disk, {:.0} MB/s over the S3 API — {}.",
                h.mb_per_second(),
                self.find(Side::HlxS3, SIZES_MIB[0])
                    .map(Measured::mb_per_second)
                    .unwrap_or(f64::NAN),
                if h.mb_per_second() >= 200.0 {
                    "met"
                } else {
                    "missed"
                }
            ));
        }
        let (small, large) = (SIZES_MIB[0], SIZES_MIB[SIZES_MIB.len() - 1]);
        if let (Some(a), Some(b)) = (self.find(Side::HlxDisk, small), self.find(Side::HlxDisk, large)) {
            let growth = (b.rss_kib as f64 - a.rss_kib as f64) / 1024.0;
            // Flat: the largest file, 64× the bytes, takes at most 1.5× the smallest's peak.
            let flat = b.rss_kib as f64 <= 1.5 * a.rss_kib as f64;
            lines.push(format!(
                "Peak RSS independent of file size: {:.1} MiB at {small} MiB, {:.1} MiB at {large} MiB ({}× the \
                 bytes, {growth:+.1} MiB) — {}.",
                a.rss_kib as f64 / 1024.0,
                b.rss_kib as f64 / 1024.0,
                large / small,
                if flat {
                    "met".to_owned()
                } else {
                    format!("missed ({:.1}× the smallest file's peak)", b.rss_kib as f64 / a.rss_kib as f64)
                }
            ));
        }
        lines
    }
}
