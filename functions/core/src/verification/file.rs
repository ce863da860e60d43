//! One file of an export read back as a stream of chunks: each line judged
//! ([`super::line`]), counted, and its id kept as a hash for the duplicate
//! check across the export. Only the unfinished last line of a chunk is
//! buffered, so memory stays flat in the file's size.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::SortedIds;
use super::line::{LineCheck, check_line, id_hash};
use super::reason::Reason;
use crate::manifest::MANIFEST_FILE;

/// At most this many problems of one file are named; the rest are counted.
pub const PROBLEMS_NAMED_PER_FILE: usize = 10;

/// What a key under an export's folder holds, by its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileKind {
    /// `{Type}/{Type}-{n}.ndjson`: resources of one type.
    Resources {
        #[serde(rename = "resourceType")]
        resource_type: String,
    },
    /// `errors/*.ndjson`: HealthLake's `OperationOutcome`s.
    Errors,
    /// Not part of the export's data (`manifest.json`, which hlx writes).
    Ignored,
}

impl FileKind {
    /// The kind of `key`, relative to the export's folder or absolute.
    pub fn of_key(key: &str) -> Self {
        let mut parts = key.rsplit('/');
        let file = parts.next().unwrap_or_default();
        let folder = parts.next().unwrap_or_default();
        if file == MANIFEST_FILE || !file.ends_with(".ndjson") {
            return Self::Ignored;
        }
        if folder == "errors" {
            return Self::Errors;
        }
        Self::Resources {
            resource_type: folder.to_owned(),
        }
    }
}

/// An id seen in a file: its hash and the line it is on, in 12 bytes
/// (packed: a file of a million resources keeps 12 MB of ids, not 16).
/// Ordered by hash, then line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C, packed(4))]
pub struct IdSeen {
    hash: u64,
    line: u32,
}

impl IdSeen {
    pub fn new(hash: u64, line: u32) -> Self {
        Self { hash, line }
    }

    /// The id's FNV-1a hash.
    pub fn hash(self) -> u64 {
        self.hash
    }

    /// The line it is on (1-based).
    pub fn line(self) -> u32 {
        self.line
    }

    /// Bytes of one id as id lists and spilled runs keep it.
    pub const BYTES: usize = 12;

    /// Its hash then its line, little-endian.
    pub fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        out[..8].copy_from_slice(&self.hash().to_le_bytes());
        out[8..].copy_from_slice(&self.line().to_le_bytes());
        out
    }

    /// The id [`IdSeen::to_bytes`] wrote.
    pub fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        Self::new(
            u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
            u32::from_le_bytes(bytes[8..].try_into().expect("4 bytes")),
        )
    }
}

/// One file verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    /// The key relative to the export's folder (`Patient/Patient-1.ndjson`).
    pub key: String,
    #[serde(flatten)]
    pub kind: FileKind,
    pub bytes: u64,
    pub lines: u64,
    /// Resources of the file's type (lines that read as one, valid id or not).
    pub resources: u64,
    /// `OperationOutcome` lines of an `errors/` file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub operation_outcomes: u64,
    /// The first [`PROBLEMS_NAMED_PER_FILE`] problems, in line order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Reason>,
    /// All problems, named or not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub problem_count: u64,
    /// The ids of the file's resources, sorted: for the duplicate check (not
    /// serialized; the distributed path keeps them beside the report in S3).
    #[serde(skip)]
    pub ids: SortedIds,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reads one file chunk by chunk.
#[derive(Debug)]
pub struct FileVerifier {
    report: FileReport,
    /// The unfinished line carried to the next chunk.
    partial: Vec<u8>,
}

impl FileVerifier {
    /// A verifier of the file at `key` (relative to the export's folder).
    pub fn new(key: &str) -> Self {
        Self {
            report: FileReport {
                key: key.to_owned(),
                kind: FileKind::of_key(key),
                bytes: 0,
                lines: 0,
                resources: 0,
                operation_outcomes: 0,
                problems: Vec::new(),
                problem_count: 0,
                ids: SortedIds::default(),
            },
            partial: Vec::new(),
        }
    }

    /// Reads the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) {
        self.report.bytes += chunk.len() as u64;
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end);
            if self.partial.is_empty() {
                self.line(line, false);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, false);
            }
            rest = &after[1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// The report, once the whole file has been pushed.
    pub fn finish(mut self) -> FileReport {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last, true);
        }
        self.report.ids.seal();
        self.report
    }

    fn line(&mut self, raw: &[u8], unterminated: bool) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        self.report.lines += 1;
        let line = u32::try_from(self.report.lines).unwrap_or(u32::MAX);
        let file = &self.report.key;
        let wrong_type = |expected: String, found: Cow<'_, str>| Reason::WrongType {
            file: file.clone(),
            line,
            expected,
            found: found.into_owned(),
        };
        let problem = match (&self.report.kind, check_line(raw)) {
            (FileKind::Ignored, _) => None,
            (_, LineCheck::Malformed(problem)) if unterminated => Some(Reason::TruncatedFile {
                file: file.clone(),
                line,
                problem,
            }),
            (_, LineCheck::Malformed(problem)) => Some(Reason::MalformedLine {
                file: file.clone(),
                line,
                problem,
            }),
            (
                FileKind::Errors,
                LineCheck::Resource { resource_type, .. } | LineCheck::InvalidId { resource_type, .. },
            ) => {
                if resource_type == "OperationOutcome" {
                    self.report.operation_outcomes += 1;
                    None
                } else {
                    Some(wrong_type("OperationOutcome".into(), resource_type))
                }
            }
            (
                FileKind::Resources {
                    resource_type: expected,
                },
                LineCheck::Resource { resource_type, id },
            ) => {
                if resource_type == expected.as_str() {
                    self.report.resources += 1;
                    self.report.ids.push(IdSeen::new(id_hash(&id), line));
                    None
                } else {
                    Some(wrong_type(expected.clone(), resource_type))
                }
            }
            (
                FileKind::Resources {
                    resource_type: expected,
                },
                LineCheck::InvalidId {
                    resource_type,
                    problem,
                },
            ) => {
                if resource_type == expected.as_str() {
                    self.report.resources += 1;
                    Some(Reason::InvalidId {
                        file: file.clone(),
                        line,
                        problem,
                    })
                } else {
                    Some(wrong_type(expected.clone(), resource_type))
                }
            }
        };
        if let Some(problem) = problem {
            self.report.problem_count += 1;
            if self.report.problems.len() < PROBLEMS_NAMED_PER_FILE {
                self.report.problems.push(problem);
            }
        }
    }
}

/// Verifies a whole file held in memory (tests and small files).
pub fn verify_bytes(key: &str, bytes: &[u8]) -> FileReport {
    let mut verifier = FileVerifier::new(key);
    verifier.push(bytes);
    verifier.finish()
}

/// The resource counts of `reports`, per type.
pub fn resources_by_type(reports: &[FileReport]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for report in reports {
        if let FileKind::Resources { resource_type } = &report.kind {
            *counts.entry(resource_type.clone()).or_default() += report.resources;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = concat!(
        r#"{"resourceType":"Patient","id":"p1","name":[{"family":"A"}]}"#,
        "\n",
        r#"{"resourceType":"Patient","id":"p2"}"#,
        "\n"
    );

    #[test]
    fn keys_say_what_a_file_holds() {
        assert_eq!(
            FileKind::of_key("exports/ds-FHIR_EXPORT-j/Patient/Patient-1.ndjson"),
            FileKind::Resources {
                resource_type: "Patient".into()
            }
        );
        assert_eq!(
            FileKind::of_key("errors/OperationOutcome-1.ndjson"),
            FileKind::Errors
        );
        assert_eq!(FileKind::of_key("a/manifest.json"), FileKind::Ignored);
    }

    #[test]
    fn a_good_file_counts_and_keeps_ids() {
        let report = verify_bytes("Patient/Patient-1.ndjson", GOOD.as_bytes());
        assert_eq!((report.lines, report.resources, report.problem_count), (2, 2, 0));
        assert_eq!(report.bytes, GOOD.len() as u64);
        assert_eq!(report.ids.len(), 2);
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_report() {
        let whole = verify_bytes("Patient/Patient-1.ndjson", GOOD.as_bytes());
        for size in 1..GOOD.len() {
            let mut verifier = FileVerifier::new("Patient/Patient-1.ndjson");
            for chunk in GOOD.as_bytes().chunks(size) {
                verifier.push(chunk);
            }
            assert_eq!(verifier.finish(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_cut_last_line_is_a_truncated_file() {
        let cut = &GOOD[..GOOD.len() - 10];
        let report = verify_bytes("Patient/Patient-1.ndjson", cut.as_bytes());
        assert_eq!(report.resources, 1);
        assert!(
            matches!(&report.problems[..], [Reason::TruncatedFile { line: 2, .. }]),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn wrong_types_and_bad_lines_are_named_by_line() {
        let text = concat!(
            r#"{"resourceType":"Patient","id":"p1"}"#,
            "\n",
            r#"{"resourceType":"Observation","id":"o1"}"#,
            "\n",
            "garbage\n",
            r#"{"resourceType":"Patient","id":"bad id"}"#,
            "\n"
        );
        let report = verify_bytes("Patient/Patient-1.ndjson", text.as_bytes());
        assert_eq!((report.lines, report.resources, report.problem_count), (4, 2, 3));
        assert!(
            matches!(&report.problems[0], Reason::WrongType { line: 2, found, .. } if found == "Observation")
        );
        assert!(matches!(
            &report.problems[1],
            Reason::MalformedLine { line: 3, .. }
        ));
        assert!(matches!(&report.problems[2], Reason::InvalidId { line: 4, .. }));
    }

    #[test]
    fn problems_are_named_up_to_a_limit_and_all_counted() {
        let text = "x\n".repeat(25);
        let report = verify_bytes("Patient/Patient-1.ndjson", text.as_bytes());
        assert_eq!(report.problem_count, 25);
        assert_eq!(report.problems.len(), PROBLEMS_NAMED_PER_FILE);
    }

    #[test]
    fn error_files_count_operation_outcomes() {
        let text = concat!(
            r#"{"resourceType":"OperationOutcome","id":"e1","issue":[]}"#,
            "\n",
            r#"{"resourceType":"OperationOutcome","id":"e2","issue":[]}"#,
            "\n"
        );
        let report = verify_bytes("errors/OperationOutcome-1.ndjson", text.as_bytes());
        assert_eq!((report.operation_outcomes, report.problem_count), (2, 0));
    }

    #[test]
    fn reports_travel_as_json_without_their_ids() {
        let report = verify_bytes("Patient/Patient-1.ndjson", b"x\n");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["kind"], "RESOURCES");
        assert_eq!(json["resourceType"], "Patient");
        assert_eq!(json["problems"][0]["code"], "MALFORMED_LINE");
        assert!(json.get("ids").is_none());
        let back: FileReport = serde_json::from_value(json).unwrap();
        assert_eq!(back.problems, report.problems);
    }
}
