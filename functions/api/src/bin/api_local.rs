//! `api-local`: the hlx API on loopback, for trying it and for wire tests.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use api::local::{LocalStateMachine, LocalStore, lambda_request, parse_seed};
use api::{Api, ApiConfig, ApiError, FakeStateMachine, SdkExecutionStarter};
use axum::body::Body as AxumBody;
use axum::extract::{Request as AxumRequest, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use clap::Parser;
use hlx_aws::DynamoDbJobStore;
use hlx_clock::SystemClock;
use hlx_core::{InMemoryJobStore, JobStore};

/// The hlx exports and imports API on 127.0.0.1, running the Lambda's handler.
///
/// Each HTTP request is turned into the event API Gateway (REST, proxy
/// integration) would send, and that into the `lambda_http::Request` the
/// function's handler takes. No signature is asked for or checked.
///
/// Configuration: the function's variables (HLX_STATE_MACHINE_ARN,
/// HLX_DEFAULT_DATASTORE_ID, HLX_EXPORT_S3_URI, HLX_EXPORT_KMS_KEY_ID,
/// HLX_DATA_ACCESS_ROLE_ARN, HLX_IMPORT_INPUT_S3_URI, HLX_IMPORT_OUTPUT_S3_URI);
/// any that is unset takes a local placeholder. Set the import ones to the
/// empty string to serve without imports (POST /imports then answers 501).
///
/// Backends: job records are kept in memory and StartExecution goes to an
/// in-memory fake of the state machine's idempotency (executions stay
/// RUNNING), unless AWS_ENDPOINT_URL_DYNAMODB (with HLX_TABLE_NAME) or
/// AWS_ENDPOINT_URL_SFN (AWS_ENDPOINT_URL sets both) point at a real or
/// stand-in service; then the Lambda's SDK adapters are used.
///
/// The first line on stdout is `listening on http://127.0.0.1:PORT`; logs go
/// to stderr (RUST_LOG sets the level; default info).
#[derive(Debug, Parser)]
#[command(name = "api-local", version, about, long_about)]
struct Cli {
    /// Port to listen on (127.0.0.1 only); 0 picks a free one.
    #[arg(long, default_value_t = 8787, env = "HLX_API_PORT")]
    port: u16,

    /// Job records to load at start: a JSON array, or one JSON record per line.
    #[arg(long, env = "HLX_API_SEED")]
    seed: Option<PathBuf>,
}

/// The placeholders for settings left unset.
const LOCAL_DEFAULTS: [(&str, &str); 7] = [
    (
        api::config::ENV_STATE_MACHINE_ARN,
        "arn:aws:states:us-east-1:000000000000:stateMachine:hlx-job",
    ),
    (api::config::ENV_DEFAULT_DATASTORE_ID, "local-datastore"),
    (api::config::ENV_EXPORT_S3_URI, "s3://hlx-local-exports/api"),
    (api::config::ENV_EXPORT_KMS_KEY_ID, "alias/hlx-local"),
    (
        api::config::ENV_DATA_ACCESS_ROLE_ARN,
        "arn:aws:iam::000000000000:role/hlx-local-export",
    ),
    (
        api::config::ENV_IMPORT_INPUT_S3_URI,
        "s3://hlx-local-landing/fhir/",
    ),
    (
        api::config::ENV_IMPORT_OUTPUT_S3_URI,
        "s3://hlx-local-import-logs/api",
    ),
];

/// Bodies larger than this are refused before the handler (API Gateway's own limit is 10 MB).
const LOCAL_BODY_LIMIT: usize = 1024 * 1024;

type LocalApi = Api<LocalStore, LocalStateMachine>;

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty())
}

async fn build(cli: &Cli) -> Result<LocalApi, String> {
    let config = ApiConfig::from_lookup(|name| {
        std::env::var(name).ok().or_else(|| {
            LOCAL_DEFAULTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    })
    .map_err(|e| e.to_string())?;
    let clock = Arc::new(SystemClock);
    let any_endpoint = env_set("AWS_ENDPOINT_URL");
    let sdk = if any_endpoint
        || env_set("AWS_ENDPOINT_URL_DYNAMODB")
        || env_set("AWS_ENDPOINT_URL_SFN")
        || env_set("AWS_ENDPOINT_URL_HEALTHLAKE")
    {
        Some(hlx_aws::config::sdk_config().await)
    } else {
        None
    };
    let store = match &sdk {
        Some(sdk) if any_endpoint || env_set("AWS_ENDPOINT_URL_DYNAMODB") => {
            let table = hlx_aws::config::table_name().map_err(|e| e.to_string())?;
            let store = DynamoDbJobStore::new(aws_sdk_dynamodb::Client::new(sdk), table);
            store
                .create_table()
                .await
                .map_err(|e| format!("cannot create the job table: {e}"))?;
            tracing::info!(table = store.table(), "job store: DynamoDB endpoint");
            LocalStore::DynamoDb(store)
        }
        _ => {
            tracing::info!("job store: in memory");
            LocalStore::Memory(InMemoryJobStore::new())
        }
    };
    let executions = match &sdk {
        Some(sdk) if any_endpoint || env_set("AWS_ENDPOINT_URL_SFN") => {
            tracing::info!(state_machine = %config.state_machine_arn, "state machine: Step Functions endpoint");
            LocalStateMachine::StepFunctions(SdkExecutionStarter::new(
                aws_sdk_sfn::Client::new(sdk),
                config.state_machine_arn.clone(),
            ))
        }
        _ => {
            tracing::info!("state machine: in-memory fake of StartExecution's idempotency");
            LocalStateMachine::Fake(FakeStateMachine::new(
                config.state_machine_arn.clone(),
                clock.clone(),
            ))
        }
    };
    if let Some(path) = &cli.seed {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let records = parse_seed(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for record in &records {
            store
                .write(record)
                .await
                .map_err(|e| format!("cannot seed {}: {e}", record.id))?;
        }
        tracing::info!(records = records.len(), "job store seeded");
    }
    let api = Api::new(config, store, executions, clock);
    match &sdk {
        Some(sdk) if env_set("AWS_ENDPOINT_URL_HEALTHLAKE") => {
            tracing::info!("HealthLake: endpoint (DELETE /exports/{{id}} cancels)");
            let healthlake = hlx_aws::SdkHealthLakeJobs::from_config(sdk).map_err(|e| e.to_string())?;
            Ok(api.with_healthlake(healthlake))
        }
        _ => Ok(api),
    }
}

/// Plain HTTP → the Lambda's request → the handler → plain HTTP.
async fn serve_one(State(api): State<Arc<LocalApi>>, request: AxumRequest) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, LOCAL_BODY_LIMIT).await else {
        return lambda_to_axum(ApiError::too_large(api.config().max_body_bytes).into_response());
    };
    let request = match lambda_request(&parts, &bytes) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(%error, "request conversion failed");
            return lambda_to_axum(ApiError::internal(None).into_response());
        }
    };
    lambda_to_axum(api.handle(request).await)
}

fn lambda_to_axum(response: lambda_http::Response<lambda_http::Body>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    (parts.status, parts.headers, AxumBody::from(bytes)).into_response()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let api = match build(&cli).await {
        Ok(api) => Arc::new(api),
        Err(error) => {
            eprintln!("api-local: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, cli.port));
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("api-local: cannot listen on {address}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().expect("a bound address");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{bound}");
        let _ = out.flush();
    }
    let app = axum::Router::new().fallback(serve_one).with_state(api);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        eprintln!("api-local: {error}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
