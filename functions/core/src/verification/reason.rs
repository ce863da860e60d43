//! Why an export is `SUSPECT` (or `UNVERIFIABLE`): each reason names where.
//! Reasons name files, lines, types and counts, never a resource's content.

use serde::{Deserialize, Serialize};

/// One reason of a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "code",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum Reason {
    /// A line that is not a JSON object with a string `resourceType`.
    MalformedLine {
        file: String,
        line: u32,
        problem: String,
    },
    /// The file's last line is unfinished: the file was cut.
    TruncatedFile {
        file: String,
        line: u32,
        problem: String,
    },
    /// A resource of another type than its folder says.
    WrongType {
        file: String,
        line: u32,
        expected: String,
        found: String,
    },
    /// A resource without an id, or one that breaks FHIR's rule.
    InvalidId {
        file: String,
        line: u32,
        problem: String,
    },
    /// An id seen twice for one type within the export.
    DuplicateId {
        resource_type: String,
        file: String,
        line: u32,
        first_file: String,
        first_line: u32,
    },
    /// HealthLake's manifest counts otherwise than the files hold.
    CountMismatch {
        resource_type: String,
        manifest: u64,
        files: u64,
    },
    /// A type the previous export of the same scope had is absent.
    TypeMissing {
        resource_type: String,
        previous_export: String,
        previous_count: u64,
    },
    /// A full export's count for a type fell by more than the allowed share.
    CountDropped {
        resource_type: String,
        previous_export: String,
        previous_count: u64,
        count: u64,
        dropped_percent: u64,
    },
    /// Files the verification could not read (S3 refused, or a child failed).
    FilesUnread {
        files: u64,
        first_file: String,
        problem: String,
    },
}

impl Reason {
    /// The reason's code (`MALFORMED_LINE`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedLine { .. } => "MALFORMED_LINE",
            Self::TruncatedFile { .. } => "TRUNCATED_FILE",
            Self::WrongType { .. } => "WRONG_TYPE",
            Self::InvalidId { .. } => "INVALID_ID",
            Self::DuplicateId { .. } => "DUPLICATE_ID",
            Self::CountMismatch { .. } => "COUNT_MISMATCH",
            Self::TypeMissing { .. } => "TYPE_MISSING",
            Self::CountDropped { .. } => "COUNT_DROPPED",
            Self::FilesUnread { .. } => "FILES_UNREAD",
        }
    }

    /// One line for people: the CLI, the notification.
    pub fn describe(&self) -> String {
        match self {
            Self::MalformedLine { file, line, problem } => format!("{file} line {line}: {problem}"),
            Self::TruncatedFile { file, line, problem } => {
                format!("{file} is cut: its last line ({line}) is unfinished ({problem})")
            }
            Self::WrongType {
                file,
                line,
                expected,
                found,
            } => format!("{file} line {line}: a {found} where {expected} belongs"),
            Self::InvalidId { file, line, problem } => format!("{file} line {line}: {problem}"),
            Self::DuplicateId {
                resource_type,
                file,
                line,
                first_file,
                first_line,
            } => format!("{resource_type} id at {file} line {line} repeats {first_file} line {first_line}"),
            Self::CountMismatch {
                resource_type,
                manifest,
                files,
            } => format!("{resource_type}: HealthLake's manifest counts {manifest}, the files hold {files}"),
            Self::TypeMissing {
                resource_type,
                previous_export,
                previous_count,
            } => format!("{resource_type} is missing; export {previous_export} had {previous_count}"),
            Self::CountDropped {
                resource_type,
                previous_export,
                previous_count,
                count,
                dropped_percent,
            } => format!(
                "{resource_type} fell by {dropped_percent}% to {count}; export {previous_export} had {previous_count}"
            ),
            Self::FilesUnread {
                files,
                first_file,
                problem,
            } => format!("{files} file(s) could not be read, first {first_file}: {problem}"),
        }
    }

    /// Where the reason sits, for a stable order: file then line.
    pub(crate) fn place(&self) -> (&str, u32) {
        match self {
            Self::MalformedLine { file, line, .. }
            | Self::TruncatedFile { file, line, .. }
            | Self::WrongType { file, line, .. }
            | Self::InvalidId { file, line, .. }
            | Self::DuplicateId { file, line, .. } => (file, *line),
            Self::CountMismatch { resource_type, .. }
            | Self::TypeMissing { resource_type, .. }
            | Self::CountDropped { resource_type, .. } => (resource_type, 0),
            Self::FilesUnread { first_file, .. } => (first_file, 0),
        }
    }
}
