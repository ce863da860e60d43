//! `hlx`: the operator CLI. `hlx local` runs the whole export on this machine.

mod cost;
mod local;
mod scenario;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hlx orchestrates AWS HealthLake FHIR exports: tracked, retried, audited.
#[derive(Debug, Parser)]
#[command(name = "hlx", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the nightly export end to end on this machine, with no AWS account:
    /// a HealthLake emulator, the real state machine on virtual time, and
    /// hlx's functions. Exit code 0 when every export succeeded, 1 otherwise.
    Local(local::LocalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Local(args) => local::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("hlx: {message}");
            ExitCode::from(2)
        }
    }
}
