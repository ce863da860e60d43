//! The verdict on an export: the files' reports folded into one judgement,
//! apart from HealthLake's status (which stays what HealthLake said).
//!
//! Both ways of verifying (one invocation, or a Distributed Map of children)
//! end in [`fold`], over the same reports in the same order, so the same files
//! give the same verdict whichever way they were read.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::file::{FileKind, FileReport, resources_by_type};
use super::reason::Reason;
use crate::manifest::ManifestSummary;
use crate::time;

/// At most this many reasons are named in a record; all are counted.
pub const REASONS_NAMED: usize = 50;

/// What hlx concluded about an export's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every file read back whole, every line a resource of its folder's type
    /// with a unique valid id, counts as HealthLake and the previous night say.
    Verified,
    /// Read back, and something is wrong: see the reasons.
    Suspect,
    /// Could not be read back (see `why`).
    Unverifiable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "VERIFIED",
            Self::Suspect => "SUSPECT",
            Self::Unverifiable => "UNVERIFIABLE",
        }
    }
}

/// How the files were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationPath {
    /// One invocation read every file.
    Single,
    /// A Distributed Map read the files in child executions.
    Distributed,
    /// The verification could not run (see `why`).
    None,
}

/// The verification of one export, as the job record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub verdict: Verdict,
    pub path: VerificationPath,
    #[serde(with = "time")]
    pub verified_at: Timestamp,
    /// Files read (data and error files).
    pub files: u64,
    pub bytes: u64,
    /// Resources in the data files.
    pub resources: u64,
    pub resources_by_type: BTreeMap<String, u64>,
    /// `OperationOutcome`s in the `errors/` files.
    #[serde(default)]
    pub operation_outcomes: u64,
    /// The first [`REASONS_NAMED`] reasons, files in key order, then types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// All reasons, named or not.
    #[serde(default)]
    pub reason_count: u64,
    /// Why the export is unverifiable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The previous export of the same scope the counts were compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

impl Verification {
    /// An export that could not be verified at all.
    pub fn unverifiable(why: impl Into<String>, now: Timestamp) -> Self {
        Self {
            verdict: Verdict::Unverifiable,
            path: VerificationPath::None,
            verified_at: now,
            files: 0,
            bytes: 0,
            resources: 0,
            resources_by_type: BTreeMap::new(),
            operation_outcomes: 0,
            reasons: Vec::new(),
            reason_count: 0,
            why: Some(why.into()),
            baseline: None,
        }
    }

    /// One line for people: `VERIFIED: 90 resources in 4 files`.
    pub fn headline(&self) -> String {
        match self.verdict {
            Verdict::Unverifiable => format!(
                "UNVERIFIABLE: {}",
                self.why.as_deref().unwrap_or("the files could not be read")
            ),
            verdict => format!(
                "{}: {} resources in {} files{}",
                verdict.as_str(),
                self.resources,
                self.files,
                match self.reason_count {
                    0 => String::new(),
                    n => format!(", {n} reason(s)"),
                }
            ),
        }
    }
}

/// The previous export of the same scope, as its verification counted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub export_id: String,
    pub resources_by_type: BTreeMap<String, u64>,
}

/// The verification's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyPolicy {
    /// A full export whose count for a type fell by more than this share of
    /// the previous full export's is `SUSPECT` (0.2: a fifth).
    pub max_drop_share: f64,
    /// Above this many files, the Distributed Map reads the export.
    pub single_max_files: u64,
    /// Above this many bytes, the Distributed Map reads the export.
    pub single_max_bytes: u64,
    /// On the Distributed Map, one shard of the duplicate check stands for
    /// this many bytes of export (8 GiB: at 200 bytes a resource, 43 million
    /// ids, 515 MB in the 1024 MB invocation that checks it).
    pub shard_bytes: u64,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        Self {
            max_drop_share: 0.2,
            single_max_files: 500,
            single_max_bytes: 5 * 1024 * 1024 * 1024,
            shard_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// The environment variables of the verification's settings.
pub const MAX_DROP_SHARE_VAR: &str = "HLX_VERIFY_MAX_DROP_SHARE";
pub const SINGLE_MAX_FILES_VAR: &str = "HLX_VERIFY_SINGLE_MAX_FILES";
pub const SINGLE_MAX_BYTES_VAR: &str = "HLX_VERIFY_SINGLE_MAX_BYTES";
pub const SHARD_BYTES_VAR: &str = "HLX_VERIFY_SHARD_BYTES";

impl VerifyPolicy {
    /// The settings from `lookup` (the environment), defaults where unset;
    /// a value that does not read names its variable and rule.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut policy = Self::default();
        if let Some(text) = lookup(MAX_DROP_SHARE_VAR) {
            policy.max_drop_share = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|share| (0.0..=1.0).contains(share))
                .ok_or_else(|| {
                    format!("{MAX_DROP_SHARE_VAR}={text:?}: must be a share from 0 to 1 (0.2: a fifth)")
                })?;
        }
        let count = |name: &str, default: u64| -> Result<u64, String> {
            match lookup(name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}={text:?}: must be a whole number above 0")),
            }
        };
        policy.single_max_files = count(SINGLE_MAX_FILES_VAR, policy.single_max_files)?;
        policy.single_max_bytes = count(SINGLE_MAX_BYTES_VAR, policy.single_max_bytes)?;
        policy.shard_bytes = count(SHARD_BYTES_VAR, policy.shard_bytes)?;
        Ok(policy)
    }

    /// These settings as environment variables (for local function processes).
    pub fn to_env(&self) -> Vec<(String, String)> {
        vec![
            (MAX_DROP_SHARE_VAR.to_owned(), self.max_drop_share.to_string()),
            (SINGLE_MAX_FILES_VAR.to_owned(), self.single_max_files.to_string()),
            (SINGLE_MAX_BYTES_VAR.to_owned(), self.single_max_bytes.to_string()),
            (SHARD_BYTES_VAR.to_owned(), self.shard_bytes.to_string()),
        ]
    }

    /// Whether one invocation reads `files` files of `bytes` bytes.
    pub fn fits_one_invocation(&self, files: u64, bytes: u64) -> bool {
        files <= self.single_max_files && bytes <= self.single_max_bytes
    }
}

/// A file that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadFile {
    pub key: String,
    pub problem: String,
}

/// What a verification compares the files with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expectations<'a> {
    /// HealthLake's manifest, summarized (counts per type when it gave them).
    pub manifest: Option<&'a ManifestSummary>,
    /// The previous export of the same scope, for a full export.
    pub baseline: Option<&'a Baseline>,
}

/// Folds the files' reports into the verdict: [`fold_files`], the
/// duplicate check over every file's ids, then [`judge`]. The distributed
/// path runs the same three apart (the duplicate check in shards).
pub fn fold(
    mut reports: Vec<FileReport>,
    unread: Vec<UnreadFile>,
    expect: Expectations<'_>,
    policy: &VerifyPolicy,
    path: VerificationPath,
    now: Timestamp,
) -> Verification {
    reports.sort_by(|a, b| a.key.cmp(&b.key));
    let duplicates = duplicate_ids(&reports);
    judge(
        fold_files(&reports, unread, expect, policy),
        &[duplicates],
        path,
        now,
    )
}

/// Duplicate ids found by one check (the whole export's, or one shard's):
/// the first [`REASONS_NAMED`] by place, and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Duplicates {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named: Vec<Reason>,
    pub count: u64,
}

impl Duplicates {
    /// Named duplicates merged (the shards' checks in a test), first by place.
    #[cfg(test)]
    pub(crate) fn from_reasons(mut reasons: Vec<Reason>) -> Self {
        let count = reasons.len() as u64;
        reasons.sort_by(|a, b| a.place().cmp(&b.place()));
        reasons.truncate(REASONS_NAMED);
        Self {
            named: reasons,
            count,
        }
    }
}

/// Everything the files say but their duplicate ids: what the fold keeps of
/// the reports (no ids), for [`judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesFolded {
    pub files: u64,
    pub bytes: u64,
    pub resources_by_type: BTreeMap<String, u64>,
    pub operation_outcomes: u64,
    /// The files' own problems: the first [`REASONS_NAMED`] by place.
    pub problems: Vec<Reason>,
    pub problem_count: u64,
    /// Counts against the manifest and the previous export.
    pub count_reasons: Vec<Reason>,
    /// Files that could not be read: how many, and the first in key order.
    pub unread_files: u64,
    pub first_unread: Option<UnreadFile>,
    pub baseline: Option<String>,
}

/// Folds the files' reports (ids aside) and the unread files.
pub fn fold_files(
    reports: &[FileReport],
    mut unread: Vec<UnreadFile>,
    expect: Expectations<'_>,
    policy: &VerifyPolicy,
) -> FilesFolded {
    unread.sort_by(|a, b| a.key.cmp(&b.key));
    let mut problems: Vec<Reason> = reports.iter().flat_map(|r| r.problems.iter().cloned()).collect();
    problems.sort_by(|a, b| a.place().cmp(&b.place()));
    problems.truncate(REASONS_NAMED);
    let counts = resources_by_type(reports);
    let data = reports.iter().filter(|r| r.kind != FileKind::Ignored);
    FilesFolded {
        files: data.clone().count() as u64,
        bytes: data.clone().map(|r| r.bytes).sum(),
        operation_outcomes: data.map(|r| r.operation_outcomes).sum(),
        problems,
        problem_count: reports.iter().map(|r| r.problem_count).sum(),
        count_reasons: count_reasons(&counts, expect, policy, unread.is_empty()),
        resources_by_type: counts,
        unread_files: unread.len() as u64,
        first_unread: unread.into_iter().next(),
        baseline: expect.baseline.map(|b| b.export_id.clone()),
    }
}

/// The verdict: the folded files and the duplicate checks' findings.
pub fn judge(
    folded: FilesFolded,
    duplicates: &[Duplicates],
    path: VerificationPath,
    now: Timestamp,
) -> Verification {
    let mut reasons = folded.problems;
    let mut reason_count = folded.problem_count;
    for found in duplicates {
        reason_count += found.count;
        reasons.extend(found.named.iter().cloned());
    }
    // File problems and duplicates in file and line order.
    reasons.sort_by(|a, b| a.place().cmp(&b.place()));
    reasons.truncate(REASONS_NAMED);
    reason_count += folded.count_reasons.len() as u64;
    reasons.extend(folded.count_reasons);

    let suspect = reason_count > 0;
    let why = folded.first_unread.as_ref().map(|first| {
        format!(
            "{} file(s) could not be read, first {}: {}",
            folded.unread_files, first.key, first.problem
        )
    });
    if let Some(first) = folded.first_unread {
        reason_count += 1;
        reasons.push(Reason::FilesUnread {
            files: folded.unread_files,
            first_file: first.key,
            problem: first.problem,
        });
    }
    reasons.truncate(REASONS_NAMED);
    let verdict = match (suspect, why.is_some()) {
        (true, _) => Verdict::Suspect,
        (false, true) => Verdict::Unverifiable,
        (false, false) => Verdict::Verified,
    };
    Verification {
        verdict,
        path,
        verified_at: now,
        files: folded.files,
        bytes: folded.bytes,
        resources: folded.resources_by_type.values().sum(),
        resources_by_type: folded.resources_by_type,
        operation_outcomes: folded.operation_outcomes,
        reasons,
        reason_count,
        why,
        baseline: folded.baseline,
    }
}

/// Ids seen twice for one type, each named at its second sighting: the
/// first [`REASONS_NAMED`] by place, and how many in all.
///
/// Each file's ids come in order (by hash, then line; see
/// [`super::ids::SortedIds`]) and are merged across the files of a type, k
/// ways: nothing is copied, so the check needs no memory beyond the ids the
/// reports already hold (12 bytes each, or a run's buffer once spilled).
/// Sightings are kept as positions, at most twice [`REASONS_NAMED`] at a
/// time, so an export of nothing but duplicates costs no more memory.
pub(crate) fn duplicate_ids(reports: &[FileReport]) -> Duplicates {
    /// A second sighting: (file, line, first file, first line), files as indexes.
    type Sighting = (usize, u32, usize, u32);
    let by_place =
        |a: &Sighting, b: &Sighting| (reports[a.0].key.as_str(), a.1).cmp(&(reports[b.0].key.as_str(), b.1));
    let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (n, report) in reports.iter().enumerate() {
        if let FileKind::Resources { resource_type } = &report.kind {
            by_type.entry(resource_type).or_default().push(n);
        }
    }
    let mut count: u64 = 0;
    let mut named: Vec<(&str, Sighting)> = Vec::new();
    for (resource_type, files) in by_type {
        let mut cursors: Vec<_> = files.iter().map(|&file| reports[file].ids.iter()).collect();
        // By hash, then file (reports are in key order), then line.
        let mut heads: BinaryHeap<Reverse<(u64, usize, u32, usize)>> = BinaryHeap::new();
        for (cursor, ids) in cursors.iter_mut().enumerate() {
            if let Some(id) = ids.next() {
                heads.push(Reverse((id.hash(), files[cursor], id.line(), cursor)));
            }
        }
        let mut previous: Option<(u64, usize, u32)> = None;
        while let Some(Reverse((hash, file, line, cursor))) = heads.pop() {
            if let Some((seen, first_file, first_line)) = previous
                && seen == hash
            {
                count += 1;
                named.push((resource_type, (file, line, first_file, first_line)));
                if named.len() >= 2 * REASONS_NAMED {
                    named.sort_by(|a, b| by_place(&a.1, &b.1));
                    named.truncate(REASONS_NAMED);
                }
            }
            previous = Some((hash, file, line));
            if let Some(next) = cursors[cursor].next() {
                heads.push(Reverse((next.hash(), file, next.line(), cursor)));
            }
        }
    }
    named.sort_by(|a, b| by_place(&a.1, &b.1));
    named.truncate(REASONS_NAMED);
    Duplicates {
        named: named
            .into_iter()
            .map(
                |(resource_type, (file, line, first_file, first_line))| Reason::DuplicateId {
                    resource_type: resource_type.to_owned(),
                    file: reports[file].key.clone(),
                    line,
                    first_file: reports[first_file].key.clone(),
                    first_line,
                },
            )
            .collect(),
        count,
    }
}

/// Counts against HealthLake's manifest and the previous export of the scope.
fn count_reasons(
    counts: &BTreeMap<String, u64>,
    expect: Expectations<'_>,
    policy: &VerifyPolicy,
    all_read: bool,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if !all_read {
        // Counts of a partly read export say nothing.
        return reasons;
    }
    if let Some(manifest) = expect.manifest {
        let mut types: Vec<&String> = manifest.resources.keys().collect();
        if !manifest.counts_incomplete {
            types.extend(counts.keys());
        }
        types.sort();
        types.dedup();
        for resource_type in types {
            let said = manifest.resources.get(resource_type).copied().unwrap_or(0);
            let held = counts.get(resource_type).copied().unwrap_or(0);
            if said != held {
                reasons.push(Reason::CountMismatch {
                    resource_type: resource_type.clone(),
                    manifest: said,
                    files: held,
                });
            }
        }
    }
    if let Some(baseline) = expect.baseline {
        for (resource_type, &previous) in &baseline.resources_by_type {
            let now = counts.get(resource_type).copied().unwrap_or(0);
            if previous == 0 {
                continue;
            }
            if now == 0 {
                reasons.push(Reason::TypeMissing {
                    resource_type: resource_type.clone(),
                    previous_export: baseline.export_id.clone(),
                    previous_count: previous,
                });
            } else if (now as f64) < (previous as f64) * (1.0 - policy.max_drop_share) {
                reasons.push(Reason::CountDropped {
                    resource_type: resource_type.clone(),
                    previous_export: baseline.export_id.clone(),
                    previous_count: previous,
                    count: now,
                    dropped_percent: (previous - now) * 100 / previous,
                });
            }
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verification::file::verify_bytes;

    fn now() -> Timestamp {
        "2026-12-06T02:00:00Z".parse().unwrap()
    }

    fn lines(resource_type: &str, ids: &[&str]) -> String {
        ids.iter()
            .map(|id| format!("{{\"resourceType\":\"{resource_type}\",\"id\":\"{id}\"}}\n"))
            .collect()
    }

    fn export() -> Vec<FileReport> {
        vec![
            verify_bytes(
                "Patient/Patient-1.ndjson",
                lines("Patient", &["p1", "p2"]).as_bytes(),
            ),
            verify_bytes("Patient/Patient-2.ndjson", lines("Patient", &["p3"]).as_bytes()),
            verify_bytes(
                "Observation/Observation-1.ndjson",
                lines("Observation", &["o1"]).as_bytes(),
            ),
            verify_bytes("manifest.json", b"{}"),
        ]
    }

    fn fold_default(reports: Vec<FileReport>, expect: Expectations<'_>) -> Verification {
        fold(
            reports,
            Vec::new(),
            expect,
            &VerifyPolicy::default(),
            VerificationPath::Single,
            now(),
        )
    }

    #[test]
    fn settings_read_from_the_environment_or_say_what_is_wrong() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            VerifyPolicy::from_lookup(env(&[])).unwrap(),
            VerifyPolicy::default()
        );
        let set = VerifyPolicy::from_lookup(env(&[
            ("HLX_VERIFY_MAX_DROP_SHARE", "0.5"),
            ("HLX_VERIFY_SINGLE_MAX_FILES", "3"),
        ]))
        .unwrap();
        assert_eq!((set.max_drop_share, set.single_max_files), (0.5, 3));
        assert_eq!(
            VerifyPolicy::from_lookup(|n| set.to_env().into_iter().find(|(k, _)| k == n).map(|(_, v)| v))
                .unwrap(),
            set
        );
        let bad = VerifyPolicy::from_lookup(env(&[("HLX_VERIFY_MAX_DROP_SHARE", "2")])).unwrap_err();
        assert!(
            bad.contains("HLX_VERIFY_MAX_DROP_SHARE") && bad.contains("from 0 to 1"),
            "{bad}"
        );
        let bad = VerifyPolicy::from_lookup(env(&[("HLX_VERIFY_SINGLE_MAX_BYTES", "0")])).unwrap_err();
        assert!(bad.contains("above 0"), "{bad}");
    }

    #[test]
    fn a_clean_export_is_verified_with_its_counts() {
        let v = fold_default(export(), Expectations::default());
        assert_eq!(v.verdict, Verdict::Verified);
        assert_eq!(v.files, 3);
        assert_eq!(v.resources, 4);
        assert_eq!(v.resources_by_type["Patient"], 3);
        assert_eq!(v.reason_count, 0);
        assert_eq!(v.headline(), "VERIFIED: 4 resources in 3 files");
    }

    #[test]
    fn an_id_twice_across_files_is_named_at_its_second_sighting() {
        let mut reports = export();
        reports.push(verify_bytes(
            "Patient/Patient-3.ndjson",
            lines("Patient", &["p4", "p2"]).as_bytes(),
        ));
        let v = fold_default(reports, Expectations::default());
        assert_eq!(v.verdict, Verdict::Suspect);
        assert_eq!(
            v.reasons,
            vec![Reason::DuplicateId {
                resource_type: "Patient".into(),
                file: "Patient/Patient-3.ndjson".into(),
                line: 2,
                first_file: "Patient/Patient-1.ndjson".into(),
                first_line: 2,
            }]
        );
    }

    #[test]
    fn the_same_id_in_two_types_is_no_duplicate() {
        let mut reports = export();
        reports.push(verify_bytes(
            "Condition/Condition-1.ndjson",
            lines("Condition", &["p1"]).as_bytes(),
        ));
        assert_eq!(
            fold_default(reports, Expectations::default()).verdict,
            Verdict::Verified
        );
    }

    #[test]
    fn an_id_seen_three_times_is_named_at_each_later_sighting() {
        // p2 in three files of one type (twice in the last), in no key order.
        let reports = vec![
            verify_bytes(
                "Patient/Patient-3.ndjson",
                lines("Patient", &["p9", "p2", "p2"]).as_bytes(),
            ),
            verify_bytes(
                "Patient/Patient-1.ndjson",
                lines("Patient", &["p1", "p2"]).as_bytes(),
            ),
            verify_bytes(
                "Patient/Patient-2.ndjson",
                lines("Patient", &["p3", "p4", "p2"]).as_bytes(),
            ),
        ];
        let v = fold_default(reports, Expectations::default());
        assert_eq!(v.verdict, Verdict::Suspect);
        let sightings: Vec<_> = v
            .reasons
            .iter()
            .map(|r| match r {
                Reason::DuplicateId {
                    file,
                    line,
                    first_file,
                    first_line,
                    ..
                } => (file.as_str(), *line, first_file.as_str(), *first_line),
                other => panic!("not a duplicate: {other:?}"),
            })
            .collect();
        assert_eq!(
            sightings,
            [
                ("Patient/Patient-2.ndjson", 3, "Patient/Patient-1.ndjson", 2),
                ("Patient/Patient-3.ndjson", 2, "Patient/Patient-2.ndjson", 3),
                ("Patient/Patient-3.ndjson", 3, "Patient/Patient-3.ndjson", 2),
            ]
        );
    }

    #[test]
    fn an_id_seen_takes_twelve_bytes() {
        assert_eq!(std::mem::size_of::<super::super::file::IdSeen>(), 12);
    }

    #[test]
    fn counts_are_held_to_the_manifest() {
        let manifest = ManifestSummary {
            transaction_time: now(),
            files: 3,
            error_files: 0,
            resources: [("Patient".to_owned(), 4), ("Observation".to_owned(), 1)].into(),
            counts_incomplete: false,
            uri: None,
            write_error: None,
        };
        let v = fold_default(
            export(),
            Expectations {
                manifest: Some(&manifest),
                baseline: None,
            },
        );
        assert_eq!(
            v.reasons,
            vec![Reason::CountMismatch {
                resource_type: "Patient".into(),
                manifest: 4,
                files: 3
            }]
        );
    }

    #[test]
    fn a_lost_type_and_a_drop_beyond_the_share_are_suspect() {
        let baseline = Baseline {
            export_id: "nightly-2026-12-05".into(),
            resources_by_type: [
                ("Patient".to_owned(), 4),
                ("Observation".to_owned(), 1),
                ("Condition".to_owned(), 7),
            ]
            .into(),
        };
        let v = fold_default(
            export(),
            Expectations {
                manifest: None,
                baseline: Some(&baseline),
            },
        );
        assert_eq!(v.verdict, Verdict::Suspect);
        let codes: Vec<&str> = v.reasons.iter().map(Reason::code).collect();
        // Condition is gone; Patient fell by a quarter (more than a fifth).
        assert_eq!(codes, ["TYPE_MISSING", "COUNT_DROPPED"]);
        assert!(
            v.reasons[1].describe().contains("fell by 25%"),
            "{}",
            v.reasons[1].describe()
        );
        assert_eq!(v.baseline.as_deref(), Some("nightly-2026-12-05"));
        let lenient = VerifyPolicy {
            max_drop_share: 0.3,
            ..VerifyPolicy::default()
        };
        let v = fold(
            export(),
            Vec::new(),
            Expectations {
                manifest: None,
                baseline: Some(&baseline),
            },
            &lenient,
            VerificationPath::Single,
            now(),
        );
        assert_eq!(
            v.reasons.iter().map(Reason::code).collect::<Vec<_>>(),
            ["TYPE_MISSING"]
        );
    }

    #[test]
    fn unread_files_make_an_export_unverifiable_unless_it_is_already_suspect() {
        let unread = vec![UnreadFile {
            key: "Patient/Patient-9.ndjson".into(),
            problem: "S3 AccessDenied".into(),
        }];
        let v = fold(
            export(),
            unread.clone(),
            Expectations::default(),
            &VerifyPolicy::default(),
            VerificationPath::Single,
            now(),
        );
        assert_eq!(v.verdict, Verdict::Unverifiable);
        assert!(v.why.as_deref().unwrap().contains("AccessDenied"));
        let mut reports = export();
        reports.push(verify_bytes("Patient/Patient-3.ndjson", b"x\n"));
        let v = fold(
            reports,
            unread,
            Expectations::default(),
            &VerifyPolicy::default(),
            VerificationPath::Single,
            now(),
        );
        assert_eq!(v.verdict, Verdict::Suspect);
        assert_eq!(v.reasons.last().unwrap().code(), "FILES_UNREAD");
    }

    #[test]
    fn the_order_of_the_reports_does_not_change_the_verdict() {
        let mut reports = export();
        reports.push(verify_bytes(
            "Patient/Patient-3.ndjson",
            b"x\n{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n",
        ));
        let forward = fold_default(reports.clone(), Expectations::default());
        reports.reverse();
        assert_eq!(fold_default(reports, Expectations::default()), forward);
        assert_eq!(forward.reason_count, 2);
    }

    #[test]
    fn a_repeated_id_is_found_in_a_file_whose_ids_spilled_to_disk() {
        let lines = crate::verification::ids::IDS_IN_MEMORY + 5_000;
        let mut text: String = (0..lines)
            .map(|i| format!("{{\"resourceType\":\"Patient\",\"id\":\"p{i}\"}}\n"))
            .collect();
        text.push_str("{\"resourceType\":\"Patient\",\"id\":\"p4\"}\n");
        let report = verify_bytes("Patient/Patient-1.ndjson", text.as_bytes());
        assert_eq!(report.ids.spilled_runs(), 1, "past the bound, a run on disk");
        assert_eq!(report.ids.len(), lines as u64 + 1);
        let v = fold(
            vec![report],
            Vec::new(),
            Expectations::default(),
            &VerifyPolicy::default(),
            VerificationPath::Single,
            now(),
        );
        assert_eq!(v.reason_count, 1, "{v:?}");
        match &v.reasons[0] {
            Reason::DuplicateId { line, first_line, .. } => {
                assert_eq!((*line, *first_line), (lines as u32 + 1, 5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_export_of_many_duplicates_names_the_first_by_place_and_counts_all() {
        // Patient-2 repeats all 300 ids of Patient-1, in reverse order.
        let ids: Vec<String> = (0..300).map(|i| format!("p{i}")).collect();
        let reversed: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
        let forward: Vec<&str> = ids.iter().map(String::as_str).collect();
        let reports = vec![
            verify_bytes("Patient/Patient-1.ndjson", lines("Patient", &forward).as_bytes()),
            verify_bytes("Patient/Patient-2.ndjson", lines("Patient", &reversed).as_bytes()),
        ];
        let found = duplicate_ids(&reports);
        assert_eq!(found.count, 300);
        assert_eq!(found.named.len(), REASONS_NAMED);
        let places: Vec<u32> = found
            .named
            .iter()
            .map(|r| match r {
                Reason::DuplicateId { file, line, .. } => {
                    assert_eq!(file, "Patient/Patient-2.ndjson");
                    *line
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(places, (1..=REASONS_NAMED as u32).collect::<Vec<_>>());
    }
}
