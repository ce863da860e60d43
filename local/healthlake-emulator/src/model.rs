//! Snapshots the library hands out: data stores, jobs, transitions and calls.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Files the job wrote. An export: its NDJSON data files, then its error
    /// files. An import: its `SUCCESS` logs, then its `FAILURE` logs, then
    /// `manifest.json`.
    pub files: Vec<PathBuf>,
    /// The directory the job wrote to: an export's
    /// `.../{DatastoreId}-FHIR_EXPORT-{JobId}`, an import's
    /// `.../{DatastoreId}-FHIR_IMPORT-{JobId}` (under `JobOutputDataConfig`).
    pub output_dir: Option<PathBuf>,
    /// An import's `JobProgressReport`: `None` until the import is
    /// `IN_PROGRESS`, zeros while it runs, its counts once it ended.
    /// Always `None` for exports.
    pub import_report: Option<ImportReport>,
    /// An export's `transactionTime`: the instant it entered `IN_PROGRESS`.
    /// It writes every resource as it was then.
    pub transaction_time: Option<Timestamp>,
    /// What an export started through the FHIR REST `$export` was asked
    /// for; `None` for jobs started through the SDK operations.
    pub rest: Option<RestExport>,
    /// The ids an export selected, per held resource type (data files only;
    /// filled when the export ends, also without an output root). Streamed
    /// types ([`crate::EmulatorConfig::stream_above`]) are left out, so a
    /// million ids are never held: [`JobInfo::exported_counts`] counts every type.
    pub exported: BTreeMap<String, BTreeSet<String>>,
    /// How many resources an export selected, per resource type, held and
    /// streamed alike (filled with [`JobInfo::exported`]).
    pub exported_counts: BTreeMap<String, usize>,
    /// The files an export wrote with their S3 URL and line count: data files,
    /// then error files (the Bulk Data manifest's `output` and `error`).
    pub output_files: Vec<OutputFile>,
}

impl JobInfo {
    /// How many resources an export selected, all types together.
    pub fn exported_total(&self) -> usize {
        self.exported_counts.values().sum()
    }
}

/// One file an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The resource type of its lines (`OperationOutcome` for error files).
    pub resource_type: String,
    /// `s3://bucket/prefix/{DatastoreId}-FHIR_EXPORT-{JobId}/{Type}/{Type}-{n}.ndjson`.
    pub url: String,
    /// Where it is under the output root.
    pub path: PathBuf,
    /// Its lines (resources).
    pub count: usize,
    /// Whether it is an error file (under `errors/`).
    pub error: bool,
}

/// What a FHIR REST `$export` kick-off asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestExport {
    pub scope: ExportScope,
    /// `_type`: only these resource types (`None`: all).
    pub types: Option<Vec<String>>,
    /// `_since`: only resources last updated at or after it.
    pub since: Option<Timestamp>,
    /// `_until`: only resources last updated at or before it.
    pub until: Option<Timestamp>,
    /// `_outputFormat` as given (default `application/fhir+ndjson`).
    pub output_format: String,
    /// The kick-off URL with its query string (the manifest's `request`):
    /// `https://healthlake.{region}.amazonaws.com/datastore/{id}/r4/$export?...`.
    pub request_url: String,
}

/// Which resources a `$export` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportScope {
    /// `.../r4/$export`: everything.
    System,
    /// `.../r4/Patient/$export`: every patient and the resources of patients.
    Patient,
    /// `.../r4/Group/{id}/$export`: the group's member patients and their resources.
    Group(String),
}

/// How a data store's content changes over virtual time (see [`crate::Emulator::changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Churn {
    /// New resources per day.
    pub created_per_day: u32,
    /// Updates of existing resources per day.
    pub updated_per_day: u32,
}

impl Churn {
    /// No changes.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_none(&self) -> bool {
        self.created_per_day == 0 && self.updated_per_day == 0
    }
}

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Made by churn.
    Created,
    /// A new version made by churn.
    Updated,
    /// Stored by an import (new or replacing).
    Imported,
}

/// One change of a data store's content, at its instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub at: Timestamp,
    pub resource_type: String,
    pub id: String,
    pub kind: ChangeKind,
}

/// What an import read and loaded: its `JobProgressReport`, member by member.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ImportReport {
    /// `TotalNumberOfScannedFiles`: regular files found under the input prefix.
    pub scanned_files: u64,
    /// `TotalSizeOfScannedFilesInMB`: their size, in MB of 2^20 bytes.
    pub scanned_size_mb: f64,
    /// `TotalNumberOfImportedFiles`: files with at least one resource imported.
    pub imported_files: u64,
    /// `TotalNumberOfResourcesScanned`: non-empty lines read.
    pub scanned_resources: u64,
    /// `TotalNumberOfResourcesImported`: lines stored (a resource given twice counts twice).
    pub imported_resources: u64,
    /// `TotalNumberOfResourcesWithCustomerError`: lines rejected (see the `FAILURE` logs).
    pub resources_with_customer_error: u64,
    /// `TotalNumberOfFilesReadWithCustomerError`: files that could not be read at all.
    pub files_read_with_customer_error: u64,
    /// `Throughput`: resources imported per second of the job's `IN_PROGRESS`
    /// time (0 when it took no time).
    pub throughput: f64,
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
    /// Resources per resource type: held and streamed
    /// ([`crate::EmulatorConfig::stream_above`]).
    pub resource_counts: BTreeMap<String, usize>,
    /// How its content changes over time (fixed at creation).
    pub churn: Churn,
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
