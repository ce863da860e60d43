//! The two kinds of HealthLake job hlx orchestrates.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Export or import: chosen by the request's `kind`, carried through the
/// state machine in the progress and kept in the record, so that a check,
/// a wait and a record never mix up the two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// `StartFHIRExportJob`; a request without a `kind` is one.
    #[default]
    Export,
    /// `StartFHIRImportJob`.
    Import,
}

impl JobKind {
    pub const ALL: [JobKind; 2] = [JobKind::Export, JobKind::Import];

    /// As the request and the record spell it: `export`, `import`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Import => "import",
        }
    }

    /// As DynamoDB keys spell it: `EXPORT`, `IMPORT`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Export => "EXPORT",
            Self::Import => "IMPORT",
        }
    }

    /// The kind a request's `kind` value names.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// Whether this is the kind a request that omits `kind` gets (serde's
    /// `skip_serializing_if`).
    /// What the API and the CLI call a job's id: `exportId`, `importId`
    /// (a record calls it `id`, whatever its kind).
    pub fn id_field(self) -> &'static str {
        match self {
            Self::Export => "exportId",
            Self::Import => "importId",
        }
    }

    pub fn is_export(&self) -> bool {
        *self == Self::Export
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
