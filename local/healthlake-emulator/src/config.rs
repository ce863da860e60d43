//! What the emulator is told: seed, region, output location, job profiles and faults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Churn, EventFaults, Operation};

/// The emulator's settings. `Default` gives a quiet, fault-free us-east-1
/// emulator that writes no files (set [`EmulatorConfig::output_root`] for that).
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// Seeds every random choice: ids, generated resources, fault draws.
    pub seed: u64,
    /// The Region the emulator stands for (ARNs, endpoints).
    pub region: String,
    /// The 12-digit account the emulator stands for (ARNs).
    pub account_id: String,
    /// The local directory standing for S3: `s3://bucket/prefix` is written to
    /// `<output_root>/bucket/prefix`. `None` writes nothing.
    pub output_root: Option<PathBuf>,
    /// How many resources an export writes to one NDJSON file before starting the next.
    pub resources_per_file: usize,
    /// A clinical type (Observation, Condition, Procedure, MedicationRequest)
    /// whose count in a data store's profile is above this is streamed: its
    /// generated resources are not held but generated again, file by file,
    /// by each export that writes them (the same lines, so memory stays flat
    /// however large the export). They exist as of the data store's
    /// creation: churn never updates them, [`crate::Emulator::resources`]
    /// and [`crate::Emulator::resource_ids`] do not list them (the counts
    /// in [`crate::DatastoreInfo::resource_counts`] include them), and an
    /// export records their count, not their ids
    /// ([`crate::JobInfo::exported_counts`]). Resources of such a type that
    /// churn creates or imports store are held, and exported after the
    /// streamed ones; a held one with the id of a streamed one replaces it.
    /// Patient, Encounter and Group (which other resources refer to) are
    /// always held. Default 50,000.
    pub stream_above: usize,
    /// The profile of every data store that is not given its own.
    pub default_profile: JobProfile,
    /// Fault injection on the wire.
    pub faults: Faults,
    /// Answer an unsigned awsJson request (no SigV4 `Authorization` header)
    /// with `MissingAuthenticationTokenException`, as AWS does. FHIR REST
    /// requests are always verified, whatever this says.
    pub require_signature: bool,
    /// Verify the SigV4 signature of awsJson requests too (against
    /// [`EmulatorConfig::credentials`]); off by default, when any signature passes.
    pub verify_signatures: bool,
    /// Access key id → secret access key: the credentials signatures are
    /// verified against (every FHIR REST request; awsJson ones with
    /// [`EmulatorConfig::verify_signatures`]). Default `{"test": "test"}`.
    pub credentials: BTreeMap<String, String>,
    /// How the content of every data store created changes over virtual time.
    pub churn: Churn,
    /// Kick-offs (`$export` POSTs) whose answer is lost: the job is created,
    /// the emulator answers `504 Gateway Timeout` with an empty body.
    pub lost_kickoff_answers: u32,
    /// Injected faults of EventBridge event delivery (drop, delay, duplicate, reorder).
    pub event_faults: EventFaults,
    /// Emit `Export Job Queued` events (their shape is undocumented; default on).
    pub queued_events: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            output_root: None,
            resources_per_file: 5000,
            stream_above: 50_000,
            default_profile: JobProfile::default(),
            faults: Faults::default(),
            require_signature: true,
            verify_signatures: false,
            credentials: [("test".to_owned(), "test".to_owned())].into_iter().collect(),
            churn: Churn::default(),
            lost_kickoff_answers: 0,
            event_faults: EventFaults::default(),
            queued_events: true,
        }
    }
}

/// How the jobs of one data store behave: timing, outcome and content.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProfile {
    /// Time a job spends `SUBMITTED` before it queues (or starts, when nothing runs).
    pub queue_delay: Duration,
    /// Time a job spends `IN_PROGRESS`.
    pub run_duration: Duration,
    /// How the job ends.
    pub outcome: Outcome,
    /// The data store's content: resources per FHIR resource type (see
    /// [`crate::SUPPORTED_RESOURCE_TYPES`]). Generated from the seed when the data
    /// store is created, and again when a new profile changes the counts.
    pub resources: BTreeMap<String, usize>,
    /// What goes wrong in the files (and manifest) of this data store's
    /// exports: hlx's verification must find each.
    pub output_faults: Vec<OutputFault>,
}

/// A fault in an export's output, for the verification's tests. Each names
/// the resource type whose files it touches; the doc says which file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFault {
    /// The type's last file is cut in the middle of its last line (no
    /// trailing newline, half a JSON object).
    TruncatedFile { resource_type: String },
    /// Line 1 of the type's first file is not JSON (an HTML error page).
    MalformedLine { resource_type: String },
    /// Line 1 of the type's first file is a resource of another type (`Group`).
    WrongType { resource_type: String },
    /// The last line of the type's last file repeats the first line of its
    /// first file (same id), in place of its own resource.
    DuplicateId { resource_type: String },
    /// The type is absent from the export: no folder, no manifest entry,
    /// although the data store holds it.
    MissingType { resource_type: String },
    /// The manifest's `count` of the type's first file is off by `delta`.
    ManifestCountMismatch { resource_type: String, delta: i64 },
}

impl OutputFault {
    /// The resource type the fault touches.
    pub fn resource_type(&self) -> &str {
        match self {
            Self::TruncatedFile { resource_type }
            | Self::MalformedLine { resource_type }
            | Self::WrongType { resource_type }
            | Self::DuplicateId { resource_type }
            | Self::MissingType { resource_type }
            | Self::ManifestCountMismatch { resource_type, .. } => resource_type,
        }
    }
}

impl Default for JobProfile {
    /// 5 s submitted, 60 s running, `COMPLETED`, and a small clinic:
    /// 10 patients, 20 encounters, 50 observations, 10 conditions.
    fn default() -> Self {
        Self {
            queue_delay: Duration::from_secs(5),
            run_duration: Duration::from_secs(60),
            outcome: Outcome::Completed,
            resources: [
                ("Patient", 10),
                ("Encounter", 20),
                ("Observation", 50),
                ("Condition", 10),
            ]
            .into_iter()
            .map(|(t, n)| (t.to_owned(), n))
            .collect(),
            output_faults: Vec::new(),
        }
    }
}

impl JobProfile {
    /// The same profile with `resources` replaced.
    pub fn with_resources<'a>(mut self, resources: impl IntoIterator<Item = (&'a str, usize)>) -> Self {
        self.resources = resources.into_iter().map(|(t, n)| (t.to_owned(), n)).collect();
        self
    }

    /// The same profile with the given timing.
    pub fn with_timing(mut self, queue_delay: Duration, run_duration: Duration) -> Self {
        self.queue_delay = queue_delay;
        self.run_duration = run_duration;
        self
    }

    /// The same profile with one more output fault.
    pub fn with_output_fault(mut self, fault: OutputFault) -> Self {
        self.output_faults.push(fault);
        self
    }

    /// The same profile with the given outcome.
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}

/// How a job ends.
///
/// An import that has an output root to read from ends as its data says
/// (`COMPLETED`, `COMPLETED_WITH_ERRORS` or `FAILED`) unless its outcome is
/// `Failed`: `Completed` and `CompletedWithErrors` (its message unused) both
/// let the data decide. Without an output root an import reads nothing and
/// ends as its outcome says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `COMPLETED`; an export writes its files.
    Completed,
    /// `COMPLETED_WITH_ERRORS` with this `Message`; an export writes its files
    /// and an `OperationOutcome` file under `errors/`.
    CompletedWithErrors { message: String },
    /// `FAILED` with this `Message`; nothing is written, an import loads nothing.
    Failed { message: String },
}

impl Outcome {
    /// `COMPLETED_WITH_ERRORS` with a default message.
    pub fn completed_with_errors() -> Self {
        Self::CompletedWithErrors {
            message: "Some resources could not be exported. See the errors folder of the output location"
                .into(),
        }
    }

    /// `FAILED` with a default message.
    pub fn failed() -> Self {
        Self::Failed {
            message: "Export failed: an internal error occurred while reading the data store".into(),
        }
    }
}

/// Injected faults of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultSpec {
    /// Share of calls answered with `ThrottlingException` (0.0–1.0).
    pub throttle_rate: f64,
    /// Share of calls answered with `InternalServerException` (0.0–1.0).
    pub internal_error_rate: f64,
    /// Share of calls answered with `AccessDeniedException` (0.0–1.0), as when
    /// the caller may not act on the data store or pass the data access role.
    pub access_denied_rate: f64,
    /// Real time added before every answer.
    pub latency: Duration,
}

/// Injected faults: one spec for every operation, with per-operation overrides.
///
/// Each call draws one number from the operation's own seeded stream, so a
/// fixed seed and sequence of calls repeats exactly, and calls to one
/// operation never shift the faults of another.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    pub default: FaultSpec,
    pub per_operation: BTreeMap<Operation, FaultSpec>,
}

impl Faults {
    /// No faults anywhere.
    pub fn none() -> Self {
        Self::default()
    }

    /// The same spec for every operation.
    pub fn uniform(spec: FaultSpec) -> Self {
        Self {
            default: spec,
            per_operation: BTreeMap::new(),
        }
    }

    /// Overrides one operation's spec.
    pub fn with(mut self, operation: Operation, spec: FaultSpec) -> Self {
        self.per_operation.insert(operation, spec);
        self
    }

    /// The spec that applies to `operation`.
    pub fn for_operation(&self, operation: Operation) -> FaultSpec {
        self.per_operation
            .get(&operation)
            .copied()
            .unwrap_or(self.default)
    }
}
