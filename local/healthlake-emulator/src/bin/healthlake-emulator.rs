//! `healthlake-emulator`: the HealthLake emulator as a standalone server on wall-clock time.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hlx_clock::SystemClock;
use hlx_healthlake_emulator::{
    Churn, Emulator, EmulatorConfig, EventFaults, FaultSpec, Faults, JobProfile, Operation, Outcome,
    SUPPORTED_RESOURCE_TYPES,
};

/// A local AWS HealthLake API emulator.
///
/// Serves HealthLake's JSON API (Create/Describe/List FHIR data stores,
/// Start/Describe/List FHIR export and import jobs) on real time. Point any
/// AWS SDK or the AWS CLI at it with an endpoint override, e.g.
/// AWS_ENDPOINT_URL_HEALTHLAKE=http://127.0.0.1:4599, and any credentials.
///
/// Also serves the FHIR REST $export API: POST /datastore/ID/r4/$export,
/// /datastore/ID/r4/Patient/$export, /datastore/ID/r4/Group/GID/$export,
/// GET and DELETE /datastore/ID/r4/export/JOB. Those requests must carry a
/// valid SigV4 signature (service healthlake) made with one of --credentials
/// (default test:test); the clock is not checked.
///
/// Every other path is a minimal path-style S3 over --output-root
/// (PutObject, GetObject, HeadObject, ListObjectsV2; SigV4 service s3):
/// AWS_ENDPOINT_URL_S3=http://127.0.0.1:4599 with path-style addressing.
///
/// The first line on stdout is `listening on http://HOST:PORT`; then one line
/// `datastore NAME ID` for every --create-datastore. Logs go to stderr
/// (RUST_LOG sets the level; default info).
#[derive(Debug, Parser)]
#[command(name = "healthlake-emulator", version, about, long_about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "HLX_EMULATOR_HOST")]
    host: IpAddr,

    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4599, env = "HLX_EMULATOR_PORT")]
    port: u16,

    /// Directory standing for S3: s3://bucket/prefix is OUTPUT_ROOT/bucket/prefix (exports and
    /// import logs are written there, import input is read from there).
    #[arg(long, default_value = ".hlx/s3", env = "HLX_EMULATOR_OUTPUT_ROOT")]
    output_root: PathBuf,

    /// Seed of every random choice (ids, generated resources, faults).
    #[arg(long, default_value_t = 0, env = "HLX_EMULATOR_SEED")]
    seed: u64,

    /// Region the emulator stands for (ARNs and endpoints).
    #[arg(long, default_value = "us-east-1")]
    region: String,

    /// 12-digit account id the emulator stands for.
    #[arg(long, default_value = "123456789012")]
    account_id: String,

    /// Share of calls (0.0-1.0) answered with ThrottlingException (HTTP 429).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    throttle_rate: f64,

    /// Share of calls (0.0-1.0) answered with InternalServerException (HTTP 500).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    internal_error_rate: f64,

    /// Share of calls (0.0-1.0) answered with AccessDeniedException (HTTP 403).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    access_denied_rate: f64,

    /// Real milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,

    /// Faults of one operation, overriding the flags above for it:
    /// OPERATION:throttle=RATE,internal=RATE,denied=RATE,latency-ms=MS (any subset; repeatable).
    /// Example: --operation-faults StartFHIRExportJob:throttle=0.5
    #[arg(long = "operation-faults", value_name = "SPEC")]
    operation_faults: Vec<String>,

    /// Time a job stays SUBMITTED before it queues or starts (e.g. 5s, 2m, 1h30m; bare numbers are seconds).
    #[arg(long, alias = "submitted-for", default_value = "5s", value_parser = parse_duration)]
    queue_delay: Duration,

    /// Time a job runs (IN_PROGRESS).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    job_duration: Duration,

    /// How jobs end.
    #[arg(long, value_enum, default_value_t = OutcomeArg::Completed)]
    outcome: OutcomeArg,

    /// The job Message of completed-with-errors and failed jobs (default: a stock message).
    #[arg(long)]
    outcome_message: Option<String>,

    /// Resources per type in every data store, e.g. Patient=100,Observation=500,Group=2.
    /// Types: Patient, Encounter, Observation, Condition, Procedure, MedicationRequest, Group
    /// (each group has about half the patients as members).
    #[arg(long, value_parser = parse_resources,
          default_value = "Patient=10,Encounter=20,Observation=50,Condition=10")]
    resources: BTreeMap<String, usize>,

    /// Resources per NDJSON output file.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    resources_per_file: u64,

    /// Stream a clinical type (Observation, Condition, Procedure, MedicationRequest) whose count
    /// in a data store is above N: its resources are not held in memory but generated again,
    /// file by file, by each export that writes them (the same lines as if held, memory flat
    /// in the export's size). Streamed resources exist as of the data store's creation: churn
    /// never updates them, and what imports add to such a type is exported after them.
    /// Patient, Encounter and Group are always held.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    stream_above: usize,

    /// Create a data store with this name at start (repeatable); its id is printed.
    #[arg(long = "create-datastore", value_name = "NAME")]
    create_datastore: Vec<String>,

    /// Accept awsJson requests without a SigV4 Authorization header (AWS answers them
    /// MissingAuthenticationTokenException). FHIR REST requests are always verified.
    #[arg(long)]
    allow_unsigned: bool,

    /// Verify the SigV4 signature of awsJson requests too (by default any
    /// signature passes there; FHIR REST requests are always verified).
    #[arg(long)]
    verify_signatures: bool,

    /// An access key and its secret signatures are verified against,
    /// ACCESS_KEY:SECRET (repeatable; replaces the default test:test).
    #[arg(long = "credentials", value_name = "KEY:SECRET", value_parser = parse_credentials)]
    credentials: Vec<(String, String)>,

    /// Content changes of every data store over time: created=N,updated=M a
    /// day, evenly spaced from the data store's creation (default none).
    #[arg(long, value_parser = parse_churn, value_name = "created=N,updated=M")]
    churn: Option<Churn>,

    /// Lose the answer of the first N FHIR REST kick-offs: the job is
    /// created, the answer is 504 Gateway Timeout with an empty body.
    #[arg(long, default_value_t = 0, value_name = "N")]
    lose_kickoff_answers: u32,

    /// Append every EventBridge event HealthLake would publish to this file,
    /// one JSON line each, when it is due (after any injected delay).
    #[arg(long, value_name = "PATH", env = "HLX_EMULATOR_EVENTS_FILE")]
    events_file: Option<PathBuf>,

    /// Share of events (0.0-1.0) never delivered.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    drop_events: f64,

    /// Share of events (0.0-1.0) delivered late, by a time drawn from --event-delay.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    delay_events: f64,

    /// The range delays are drawn from: MIN..MAX (e.g. 5s..60s), or one fixed delay.
    #[arg(long, default_value = "5s..60s", value_parser = parse_delay_range, value_name = "MIN..MAX")]
    event_delay: Range<Duration>,

    /// Share of events (0.0-1.0) delivered twice (same event, same id).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    duplicate_events: f64,

    /// Share of events (0.0-1.0) held back and delivered after the job's next event.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    reorder_events: f64,

    /// Do not emit `Export Job Queued` events (their shape is undocumented).
    #[arg(long)]
    no_queued_events: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutcomeArg {
    Completed,
    CompletedWithErrors,
    Failed,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is not between 0.0 and 1.0"))
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"));
    }
    let signed: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("{s:?} is not a duration like 90s, 5m or 1h30m: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{s:?} is negative"))
}

fn parse_delay_range(s: &str) -> Result<Range<Duration>, String> {
    match s.split_once("..") {
        Some((min, max)) => {
            let (min, max) = (parse_duration(min.trim())?, parse_duration(max.trim())?);
            if min > max {
                return Err(format!("{s:?}: the minimum is above the maximum"));
            }
            Ok(min..max)
        }
        None => {
            let fixed = parse_duration(s.trim())?;
            Ok(fixed..fixed)
        }
    }
}

fn parse_resources(s: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut counts = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (resource_type, count) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not TYPE=COUNT"))?;
        let resource_type = resource_type.trim();
        if !SUPPORTED_RESOURCE_TYPES.contains(&resource_type) {
            return Err(format!(
                "unsupported resource type {resource_type:?} (one of {})",
                SUPPORTED_RESOURCE_TYPES.join(", ")
            ));
        }
        let count = count
            .trim()
            .parse()
            .map_err(|_| format!("{count:?} is not a count"))?;
        counts.insert(resource_type.to_owned(), count);
    }
    Ok(counts)
}

fn parse_credentials(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((key, secret)) if !key.is_empty() && !secret.is_empty() => {
            Ok((key.to_owned(), secret.to_owned()))
        }
        _ => Err(format!("{s:?} is not ACCESS_KEY:SECRET")),
    }
}

fn parse_churn(s: &str) -> Result<Churn, String> {
    let mut churn = Churn::default();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not created=N or updated=N"))?;
        let n: u32 = value
            .trim()
            .parse()
            .map_err(|_| format!("{value:?} is not a count"))?;
        match key.trim() {
            "created" => churn.created_per_day = n,
            "updated" => churn.updated_per_day = n,
            other => return Err(format!("unknown churn setting {other:?} (created or updated)")),
        }
    }
    Ok(churn)
}

fn parse_operation_faults(spec: &str, base: FaultSpec) -> Result<(Operation, FaultSpec), String> {
    let (operation, settings) = spec
        .split_once(':')
        .ok_or_else(|| format!("{spec:?} is not OPERATION:key=value,..."))?;
    let operation: Operation = operation.trim().parse()?;
    let mut faults = base;
    for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("{setting:?} is not key=value"))?;
        match key.trim() {
            "throttle" => faults.throttle_rate = parse_rate(value.trim())?,
            "internal" => faults.internal_error_rate = parse_rate(value.trim())?,
            "denied" => faults.access_denied_rate = parse_rate(value.trim())?,
            "latency-ms" => {
                let ms: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{value:?} is not milliseconds"))?;
                faults.latency = Duration::from_millis(ms);
            }
            other => {
                return Err(format!(
                    "unknown fault {other:?} (throttle, internal, denied or latency-ms)"
                ));
            }
        }
    }
    Ok((operation, faults))
}

impl Cli {
    fn config(&self) -> Result<EmulatorConfig, String> {
        let outcome = match (self.outcome, self.outcome_message.clone()) {
            (OutcomeArg::Completed, _) => Outcome::Completed,
            (OutcomeArg::CompletedWithErrors, None) => Outcome::completed_with_errors(),
            (OutcomeArg::CompletedWithErrors, Some(message)) => Outcome::CompletedWithErrors { message },
            (OutcomeArg::Failed, None) => Outcome::failed(),
            (OutcomeArg::Failed, Some(message)) => Outcome::Failed { message },
        };
        let base = FaultSpec {
            throttle_rate: self.throttle_rate,
            internal_error_rate: self.internal_error_rate,
            access_denied_rate: self.access_denied_rate,
            latency: Duration::from_millis(self.latency_ms),
        };
        let mut faults = Faults::uniform(base);
        for spec in &self.operation_faults {
            let (operation, spec) = parse_operation_faults(spec, base)?;
            faults = faults.with(operation, spec);
        }
        Ok(EmulatorConfig {
            seed: self.seed,
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            output_root: Some(self.output_root.clone()),
            resources_per_file: usize::try_from(self.resources_per_file).unwrap_or(usize::MAX),
            stream_above: self.stream_above,
            default_profile: JobProfile {
                queue_delay: self.queue_delay,
                run_duration: self.job_duration,
                outcome,
                resources: self.resources.clone(),
                output_faults: Vec::new(),
            },
            faults,
            require_signature: !self.allow_unsigned,
            verify_signatures: self.verify_signatures,
            credentials: if self.credentials.is_empty() {
                EmulatorConfig::default().credentials
            } else {
                self.credentials.iter().cloned().collect()
            },
            churn: self.churn.unwrap_or_default(),
            lost_kickoff_answers: self.lose_kickoff_answers,
            event_faults: EventFaults {
                drop_rate: self.drop_events,
                delay_rate: self.delay_events,
                delay: self.event_delay.clone(),
                duplicate_rate: self.duplicate_events,
                reorder_rate: self.reorder_events,
            },
            queued_events: !self.no_queued_events,
        })
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
    let config = match cli.config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("healthlake-emulator: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut events_file = match &cli.events_file {
        None => None,
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(file),
            Err(error) => {
                eprintln!("healthlake-emulator: {}: {error}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        },
    };

    let emulator = Emulator::new(config, Arc::new(SystemClock));
    let server = match emulator.serve(SocketAddr::new(cli.host, cli.port)).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "healthlake-emulator: cannot listen on {}:{}: {error}",
                cli.host, cli.port
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", server.endpoint_url());
    for name in &cli.create_datastore {
        match emulator.create_datastore(name, None) {
            Ok(id) => {
                let _ = writeln!(out, "datastore {name} {id}");
            }
            Err(error) => {
                eprintln!("healthlake-emulator: {error}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let _ = out.flush();
    drop(out);

    // Apply transitions and deliver events as they fall due, so output and
    // events appear without polling.
    let ticker = emulator.clone();
    // Events produced by a call are due at once: with an events file, look
    // often enough that they appear promptly.
    let longest_sleep = if events_file.is_some() {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    tokio::spawn(async move {
        loop {
            ticker.advance();
            if let Some(file) = events_file.as_mut() {
                for delivered in ticker.take_due_events(ticker.now()) {
                    let line = format!("{}\n", delivered.event.to_json());
                    if let Err(error) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                        tracing::warn!(%error, "could not write an event to the events file");
                    }
                }
            }
            let wait = ticker
                .next_change_at()
                .map(|at| at.duration_since(ticker.now()))
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or(Duration::from_secs(1));
            tokio::time::sleep(wait.clamp(Duration::from_millis(5), longest_sleep)).await;
        }
    });

    tokio::select! {
        result = server.wait() => {
            if let Err(error) = result {
                eprintln!("healthlake-emulator: {error}");
                return std::process::ExitCode::FAILURE;
            }
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
        }
    }
    std::process::ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_credentials_and_groups_parse() {
        assert_eq!(
            parse_churn("created=5,updated=20").unwrap(),
            Churn {
                created_per_day: 5,
                updated_per_day: 20
            }
        );
        assert_eq!(parse_churn("updated=3").unwrap().created_per_day, 0);
        assert!(parse_churn("deleted=1").is_err());
        assert!(parse_churn("created=many").is_err());
        assert_eq!(
            parse_credentials("AKID:se:cret").unwrap(),
            ("AKID".to_owned(), "se:cret".to_owned())
        );
        assert!(parse_credentials("nosecret").is_err());
        assert_eq!(parse_resources("Patient=4,Group=2").unwrap()["Group"], 2);
        let cli = Cli::parse_from([
            "healthlake-emulator",
            "--credentials",
            "a:b",
            "--credentials",
            "c:d",
            "--verify-signatures",
            "--churn",
            "created=1,updated=2",
        ]);
        let config = cli.config().unwrap();
        assert_eq!(config.credentials.len(), 2);
        assert_eq!(config.credentials["c"], "d");
        assert!(config.verify_signatures);
        assert_eq!(config.churn.updated_per_day, 2);
        let default = Cli::parse_from(["healthlake-emulator"]).config().unwrap();
        assert_eq!(default.credentials, EmulatorConfig::default().credentials);
        assert!(!default.verify_signatures);
    }

    #[test]
    fn durations_take_units_or_bare_seconds() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn resources_are_type_count_pairs_of_known_types() {
        let counts = parse_resources("Patient=100, Observation=500").unwrap();
        assert_eq!(counts["Patient"], 100);
        assert_eq!(counts["Observation"], 500);
        assert!(parse_resources("Patient").is_err());
        assert!(parse_resources("Spaceship=3").is_err());
        assert!(parse_resources("Patient=lots").is_err());
    }

    #[test]
    fn operation_faults_override_the_base() {
        let base = FaultSpec {
            throttle_rate: 0.1,
            ..FaultSpec::default()
        };
        let (op, spec) =
            parse_operation_faults("StartFHIRExportJob:internal=0.5,latency-ms=20", base).unwrap();
        assert_eq!(op, Operation::StartFhirExportJob);
        assert_eq!(spec.throttle_rate, 0.1);
        assert_eq!(spec.internal_error_rate, 0.5);
        assert_eq!(spec.latency, Duration::from_millis(20));
        assert!(parse_operation_faults("Nope:throttle=0.1", base).is_err());
        assert!(parse_operation_faults("StartFHIRExportJob:throttle=2", base).is_err());
    }

    #[test]
    fn event_delays_are_a_range_or_one_value() {
        let secs = Duration::from_secs;
        assert_eq!(parse_delay_range("5s..60s").unwrap(), secs(5)..secs(60));
        assert_eq!(parse_delay_range("0..2m").unwrap(), secs(0)..secs(120));
        assert_eq!(parse_delay_range("30s").unwrap(), secs(30)..secs(30));
        assert!(parse_delay_range("60s..5s").is_err());
        assert!(parse_delay_range("soon..later").is_err());
    }

    #[test]
    fn event_flags_reach_the_config() {
        let cli = Cli::try_parse_from([
            "healthlake-emulator",
            "--drop-events",
            "0.1",
            "--delay-events",
            "0.2",
            "--event-delay",
            "1s..3s",
            "--duplicate-events",
            "0.3",
            "--reorder-events",
            "0.4",
            "--no-queued-events",
        ])
        .unwrap();
        let config = cli.config().unwrap();
        assert_eq!(
            config.event_faults,
            EventFaults {
                drop_rate: 0.1,
                delay_rate: 0.2,
                delay: Duration::from_secs(1)..Duration::from_secs(3),
                duplicate_rate: 0.3,
                reorder_rate: 0.4,
            }
        );
        assert!(!config.queued_events);
        let defaults = Cli::try_parse_from(["healthlake-emulator"])
            .unwrap()
            .config()
            .unwrap();
        assert_eq!(defaults.event_faults, EventFaults::default());
        assert!(defaults.queued_events);
        assert!(Cli::try_parse_from(["healthlake-emulator", "--drop-events", "2"]).is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
