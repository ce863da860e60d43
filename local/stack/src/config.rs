//! What a local stack is made of: [`StackConfig`] and its choices — where
//! job history goes ([`History`]), how the functions run ([`Lambdas`]) and
//! where the clock stands ([`Time`]).

use std::path::PathBuf;

use hlx_core::verification::VerifyPolicy;
use hlx_core::{ExportSelection, PollSchedule};
use hlx_healthlake_emulator::{Churn, EventFaults, Faults, JobProfile};
use jiff::Timestamp;

/// Where job history goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// In memory, for the run's lifetime.
    Embedded,
    /// A DynamoDB-compatible server; the table is created when missing.
    DynamoDb { endpoint: String, table: String },
}

/// How tasks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lambdas {
    /// hlx's handlers, called in process (the code the binaries run).
    InProcess,
    /// The release binaries in `bin_dir`, run as processes behind a local
    /// Lambda Runtime API.
    Process { bin_dir: PathBuf },
}

/// Where the clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Time {
    /// Virtual time, starting at this instant: waits cost no wall time.
    Virtual(Timestamp),
    /// The wall clock.
    Real,
}

/// What a local stack is made of.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub seed: u64,
    /// How each data store's export jobs behave.
    pub profile: JobProfile,
    pub datastores: u32,
    /// Faults on the HealthLake wire.
    pub faults: Faults,
    /// The directory that stands for S3.
    pub output_dir: PathBuf,
    pub history: History,
    pub lambdas: Lambdas,
    pub time: Time,
    /// The definition; `None` for the repository's `statemachine/job.asl.json`.
    pub definition: Option<PathBuf>,
    /// The functions' poll schedule (and whether events end waits).
    pub schedule: PollSchedule,
    /// Faults of HealthLake's EventBridge events: drop, delay, duplicate, reorder.
    pub event_faults: EventFaults,
    /// The Step Functions endpoint the functions call (`SendTaskSuccess`);
    /// `None` for the runner's own. Another engine (moto's) sets its own.
    pub functions_sfn_endpoint: Option<String>,
    /// How every data store's content changes per virtual day (resources
    /// created and updated), so that consecutive nights export different data.
    pub churn: Churn,
    /// What the nightly exports select (full system by default; the
    /// scheduled nightly export of a deployed stack is incremental).
    pub nightly: ExportSelection,
    /// How exports are verified: the share a type may drop, and the size
    /// above which the Distributed Map reads an export.
    pub verify: VerifyPolicy,
    /// Resources per NDJSON file of an export (HealthLake writes up to
    /// about 5,000): fewer make more files of the same data.
    pub resources_per_file: usize,
}

impl StackConfig {
    /// A stack with the given output directory and everything else at its default.
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        Self {
            seed: 7,
            profile: JobProfile::default(),
            datastores: 1,
            faults: Faults::none(),
            output_dir: output_dir.into(),
            history: History::Embedded,
            lambdas: Lambdas::InProcess,
            time: Time::Virtual(first_night()),
            definition: None,
            schedule: PollSchedule::default(),
            event_faults: EventFaults::none(),
            functions_sfn_endpoint: None,
            churn: Churn::none(),
            nightly: ExportSelection::default(),
            verify: VerifyPolicy::default(),
            resources_per_file: 5000,
        }
    }
}

/// 2026-01-01T02:00:00Z: the first night of a local run.
pub fn first_night() -> Timestamp {
    "2026-01-01T02:00:00Z".parse().expect("a fixed time")
}
