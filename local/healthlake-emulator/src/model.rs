//! Snapshots the library hands out: data stores, jobs, transitions and calls.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hlx_core::JobStatus;
use jiff::Timestamp;

use crate::JobProfile;

/// Export or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    Export,
    Import,
}

impl JobKind {
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Export => 0,
            Self::Import => 1,
        }
    }
}

/// One status change of one job, at the time it was scheduled to happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: Timestamp,
    pub job_id: String,
    pub datastore_id: String,
    pub kind: JobKind,
    /// The status the job entered.
    pub status: JobStatus,
}

/// A job as the emulator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    pub kind: JobKind,
    pub job_id: String,
    pub job_name: Option<String>,
    pub datastore_id: String,
    pub status: JobStatus,
    pub submit_time: Timestamp,
    /// When the job entered `IN_PROGRESS`.
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub message: Option<String>,
    /// The output location (exports) or the input location (imports).
    pub s3_uri: String,
    /// The KMS key of the output location (for imports: of `JobOutputDataConfig`).
    pub kms_key_id: String,
    /// For imports: `JobOutputDataConfig`'s location.
    pub job_output_s3_uri: Option<String>,
    pub data_access_role_arn: String,
    pub client_token: Option<String>,
    /// Files an export wrote, NDJSON data files first, then error files.
    pub files: Vec<PathBuf>,
    /// The directory an export wrote to (`.../{DatastoreId}-FHIR_EXPORT-{JobId}`).
    pub output_dir: Option<PathBuf>,
}

/// A data store as the emulator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatastoreInfo {
    pub datastore_id: String,
    pub name: Option<String>,
    pub arn: String,
    pub endpoint: String,
    /// Always `ACTIVE`: data stores are created ready.
    pub status: String,
    pub created_at: Timestamp,
    pub profile: JobProfile,
    /// Resources held, per resource type.
    pub resource_counts: BTreeMap<String, usize>,
}

/// One request that reached the emulator over the wire (or through [`crate::Emulator::call`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The operation's name (`StartFHIRExportJob`), or the raw target of an unknown one.
    pub operation: String,
    /// The emulator's clock when the call arrived.
    pub at: Timestamp,
    /// The HTTP status answered.
    pub status: u16,
    /// The error shape answered, if any (`ThrottlingException`).
    pub error: Option<String>,
}
