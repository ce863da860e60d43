//! `hlx`: the operator CLI.
//!
//! `hlx start/status/list/watch` start and follow exports on the deployed
//! state machine and its job table (or on a served local stack), and `hlx
//! import start/status/list/watch` imports, on the same state machine and
//! table; `hlx local` runs the whole export on this machine.

mod aws;
mod cost;
mod local;
mod ops;
mod render;
mod scenario;
mod view;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hlx_core::JobKind;

use crate::aws::GlobalArgs;

const EXAMPLES: &str = "\
Examples:
  # Start an export (the bucket, key and role come from HLX_EXPORT_* as for the API)
  hlx start --datastore-id 0123456789abcdef0123456789abcdef --idempotency-key nightly-fix-42

  # Follow it until it ends; the exit code says how it ended
  hlx watch api-k-3f2a...

  # Its job record, or what its execution says before there is one
  hlx status api-k-3f2a... --json

  # A data store's exports, newest first
  hlx list --datastore-id 0123456789abcdef0123456789abcdef --limit 10

  # Import NDJSON from S3 (locations from HLX_IMPORT_*), then follow it
  hlx import start --input-s3-uri s3://landing/fhir/batch-7/ --watch

  # All of it on this machine: a served local stack in one terminal...
  hlx local --serve --nights 0
  # ...and in another, after the `export` lines it prints:
  hlx start && hlx watch <export id>

Exit codes:
  0  the export (or import) succeeded (or, for start/status/list, the command did its job)
  1  the export (or import) failed, timed out, was rejected or ended in error
  2  usage error: a bad flag or value, an invalid request, an unknown id
  3  an AWS or transport error (credentials, endpoint, throttling, a missing table)

Configuration: --profile/--region or the usual AWS_PROFILE, AWS_REGION and
credentials; --endpoint-url, or AWS_ENDPOINT_URL_SFN / AWS_ENDPOINT_URL_DYNAMODB,
for local stand-ins; HLX_STATE_MACHINE_ARN, HLX_TABLE_NAME, HLX_EXPORT_S3_URI,
HLX_EXPORT_KMS_KEY_ID, HLX_DATA_ACCESS_ROLE_ARN, HLX_DEFAULT_DATASTORE_ID,
HLX_IMPORT_INPUT_S3_URI and HLX_IMPORT_OUTPUT_S3_URI as the functions and the
API read them.";

const IMPORT_HELP: &str = "\
Imports run on the job state machine (an execution input with
\"kind\": \"import\") and are recorded in the same job table, apart from the
exports: `hlx import status/list/watch` show imports only, and an export's id
is unknown to them (and the reverse).

Examples:
  hlx import start --datastore-id $DS --input-s3-uri s3://landing/fhir/batch-7/ \\
    --output-s3-uri s3://logs/imports/ --idempotency-key batch-7
  hlx import watch api-import-k-3f2a...
  hlx import status api-import-k-3f2a... --json | jq .importCounts
  hlx import list --datastore-id $DS";

/// hlx orchestrates AWS HealthLake FHIR exports and imports: tracked, retried, audited.
#[derive(Debug, Parser)]
#[command(name = "hlx", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start an export, idempotently; prints its id.
    #[command(after_help = ops::START_HELP)]
    Start(ops::StartArgs),
    /// Show an export: its job record, or its execution before there is a record.
    #[command(after_help = ops::STATUS_HELP)]
    Status(ops::StatusArgs),
    /// List exports, newest first: a data store's job records, or the state machine's executions.
    #[command(after_help = ops::LIST_HELP)]
    List(ops::ListArgs),
    /// Follow an export until it ends; the exit code says how it ended.
    #[command(after_help = watch::WATCH_HELP)]
    Watch(watch::WatchArgs),
    /// Verify a completed export again: read its files back from S3, judge
    /// them, and keep the verdict in its record.
    #[command(after_help = ops::VERIFY_HELP)]
    Verify(ops::VerifyArgs),
    /// Cancel a running export in HealthLake (FHIR REST DELETE).
    #[command(after_help = ops::CANCEL_HELP)]
    Cancel(ops::CancelArgs),
    /// Start, show, list and follow imports (NDJSON from S3 into a data store).
    #[command(subcommand, after_help = IMPORT_HELP)]
    Import(ImportCommand),
    /// Run the nightly export end to end on this machine, with no AWS account:
    /// a HealthLake emulator, the real state machine on virtual time, and
    /// hlx's functions. Exit code 0 when every export succeeded, 1 otherwise.
    /// With --serve, keeps the stack up and serves the Step Functions API.
    Local(local::LocalArgs),
}

/// `hlx import ...`: the export commands' twins, for imports.
#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Start an import, idempotently; prints its id.
    #[command(after_help = ops::IMPORT_START_HELP)]
    Start(ops::ImportStartArgs),
    /// Show an import: its job record and counts, or its execution before there is a record.
    #[command(after_help = ops::IMPORT_STATUS_HELP)]
    Status(ops::StatusArgs),
    /// List imports, newest first: a data store's import records, or the state machine's imports.
    #[command(after_help = ops::IMPORT_LIST_HELP)]
    List(ops::ListArgs),
    /// Follow an import until it ends; the exit code says how it ended.
    #[command(after_help = watch::IMPORT_WATCH_HELP)]
    Watch(watch::WatchArgs),
}

/// A command's failure, by exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A bad value, an invalid request, an unknown export (exit code 2).
    Usage(String),
    /// AWS answered with an error or could not be reached (exit code 3).
    Aws(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Aws(_) => 3,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Usage(m) | Self::Aws(m) => m,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let json = cli.global.json;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Start(args) => ops::start(&cli.global, args).await,
            Command::Cancel(args) => ops::cancel(&cli.global, args).await,
            Command::Verify(args) => ops::verify(&cli.global, args).await,
            Command::Status(args) => ops::status(&cli.global, JobKind::Export, args).await,
            Command::List(args) => ops::list(&cli.global, JobKind::Export, args).await,
            Command::Watch(args) => watch::watch(&cli.global, JobKind::Export, args).await,
            Command::Import(ImportCommand::Start(args)) => ops::start_import(&cli.global, args).await,
            Command::Import(ImportCommand::Status(args)) => {
                ops::status(&cli.global, JobKind::Import, args).await
            }
            Command::Import(ImportCommand::List(args)) => ops::list(&cli.global, JobKind::Import, args).await,
            Command::Import(ImportCommand::Watch(args)) => {
                watch::watch(&cli.global, JobKind::Import, args).await
            }
            Command::Local(args) => local::run(args).await.map_err(CliError::Usage),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if json {
                let kind = if err.exit_code() == 2 { "usage" } else { "aws" };
                println!("{}", serde_json::json!({"error": kind, "message": err.message()}));
            }
            eprintln!("hlx: {}", err.message());
            ExitCode::from(err.exit_code())
        }
    }
}
