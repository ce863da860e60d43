//! hlx-bench: cold start, invocation time, memory and size of hlx's release
//! Lambdas against a Python/boto3 peer, and what one export costs on the
//! local runner's virtual time. `bash bench/run.sh` builds and runs it; see
//! bench/README.md. It prints figures and ratios and never asserts timings.

mod cost;
mod incremental;
mod invoke;
mod machine;
mod moto;
mod report;
mod size;
mod stats;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: hlx-bench [--cold-runs N] [--warm-runs N] [--bin-dir DIR] \
[--peer-python PATH] [--moto-python PATH] [--results FILE] [--cost-only] [--verify-runs N] [--verify-only]";

struct Args {
    cold_runs: usize,
    warm_runs: usize,
    bin_dir: PathBuf,
    peer_python: PathBuf,
    moto_python: PathBuf,
    results: Option<PathBuf>,
    cost_only: bool,
    verify_runs: usize,
    verify_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = bench.join("..");
    let mut args = Args {
        cold_runs: 20,
        warm_runs: 20,
        bin_dir: root.join("target/release"),
        peer_python: bench.join(".venv/bin/python"),
        moto_python: root.join(".venv/bin/python"),
        results: None,
        cost_only: false,
        verify_runs: 7,
        verify_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--cold-runs" => {
                args.cold_runs = value(&arg)?.parse().map_err(|e| format!("--cold-runs: {e}"))?
            }
            "--warm-runs" => {
                args.warm_runs = value(&arg)?.parse().map_err(|e| format!("--warm-runs: {e}"))?
            }
            "--bin-dir" => args.bin_dir = value(&arg)?.into(),
            "--peer-python" => args.peer_python = value(&arg)?.into(),
            "--moto-python" => args.moto_python = value(&arg)?.into(),
            "--results" => args.results = Some(value(&arg)?.into()),
            "--cost-only" => args.cost_only = true,
            "--verify-runs" => {
                args.verify_runs = value(&arg)?.parse().map_err(|e| format!("--verify-runs: {e}"))?
            }
            "--verify-only" => args.verify_only = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.cold_runs == 0 || args.warm_runs == 0 || args.verify_runs == 0 {
        return Err("--cold-runs, --warm-runs and --verify-runs must be at least 1".into());
    }
    if args.verify_only && args.results.is_some() {
        return Err("--verify-only prints section 7 alone and writes no results file".into());
    }
    Ok(args)
}

async fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = bench
        .join("..")
        .canonicalize()
        .map_err(|e| format!("the checkout: {e}"))?;
    let machine = machine::Machine::detect(&args.peer_python, &root);
    let peer_dir = bench
        .join("peer")
        .canonicalize()
        .map_err(|e| format!("bench/peer: {e}"))?;
    if args.verify_only {
        let section = verify::measure(args.verify_runs, &args.peer_python, &peer_dir).await?;
        println!("{}", section.markdown());
        return Ok(());
    }

    let processes = if args.cost_only {
        None
    } else {
        for python in [&args.peer_python, &args.moto_python] {
            if !python.is_file() {
                return Err(format!(
                    "{} is missing: bash bench/run.sh creates the virtual environments",
                    python.display()
                ));
            }
        }
        eprintln!("starting moto's server (DynamoDB)");
        let moto = moto::Moto::start(&args.moto_python)?;
        let setup = invoke::Setup {
            bin_dir: args.bin_dir.clone(),
            peer_python: args.peer_python.clone(),
            peer_dir: peer_dir.clone(),
            dynamodb_endpoint: moto.endpoint.clone(),
            cold_runs: args.cold_runs,
            warm_runs: args.warm_runs,
        };
        let results = invoke::measure(&setup).await;
        drop(moto);
        let results = results?;
        eprintln!("zipping the deployment packages");
        let sizes = report::Sizes::measure(&args.bin_dir, &setup.peer_dir, &args.peer_python)?;
        Some((results, sizes))
    };

    let mut runs = Vec::new();
    for job in [600, 3600, 6 * 3600, 24 * 3600].map(Duration::from_secs) {
        for schedule in cost::Schedule::ALL {
            eprintln!(
                "export of a {} job, {} (virtual time)",
                stats::seconds(job.as_secs() as i64),
                schedule.label()
            );
            runs.push(cost::run(job, schedule).await?);
        }
    }

    eprintln!(
        "full and incremental nightly exports, {} nights each (virtual time)",
        incremental::NIGHTS_RUN
    );
    let full = incremental::run(hlx_core::ExportMode::Full).await?;
    let delta = incremental::run(hlx_core::ExportMode::Incremental).await?;

    eprintln!("verified exports: throughput, memory, cost");
    let verified = verify::measure(args.verify_runs, &args.peer_python, &peer_dir).await?;

    let report = report::Report {
        machine,
        processes,
        cost: runs,
        cold_runs: args.cold_runs,
        warm_runs: args.warm_runs,
        elapsed: started.elapsed(),
    };
    let text = format!(
        "{}\n{}\n{}",
        report.markdown(),
        incremental::markdown(&full, &delta),
        verified.markdown()
    );
    println!("{text}");
    if let Some(path) = &args.results {
        report::write_results(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

fn main() -> ExitCode {
    // A measurement of section 7 in a process of its own (bench/src/verify.rs).
    let argv: Vec<String> = std::env::args().collect();
    if let Some(mode) = argv.get(1).filter(|m| m.starts_with("verify-")) {
        return verify::child(mode, &argv[2..]);
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // On Ctrl-C or SIGTERM the run is dropped: moto's server and the
    // function processes are killed with it.
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = run(args) => result,
            signal = interrupted() => Err(format!("stopped by {signal}")),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hlx-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
