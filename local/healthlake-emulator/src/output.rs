//! Job output under a local directory standing for S3: where an S3 URI
//! lives, the folder of each job, and an export's NDJSON files.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use serde_json::json;

use crate::config::OutputFault;
use crate::fhir::instant;
use crate::{JobInfo, OutputFile};

/// The folder (inside an export's directory) that holds the error files of a
/// `COMPLETED_WITH_ERRORS` export.
pub const ERROR_FOLDER: &str = "errors";

/// Where `s3://bucket/key/prefix` lives under `root`: `root/bucket/key/prefix`.
///
/// Empty, `.` and `..` key segments cannot leave `root`: empty and `.` segments
/// are dropped, `..` becomes `%2E%2E`.
pub fn s3_uri_to_path(root: &Path, s3_uri: &str) -> PathBuf {
    let rest = s3_uri.strip_prefix("s3://").unwrap_or(s3_uri);
    let mut path = root.to_path_buf();
    for segment in rest.split('/') {
        match segment {
            "" | "." => {}
            ".." => path.push("%2E%2E"),
            other => {
                // A segment is one path component whatever it holds.
                let safe = Path::new(other)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)));
                if safe {
                    path.push(other);
                } else {
                    path.push(other.replace('\\', "%5C"));
                }
            }
        }
    }
    path
}

/// The directory name of one export: `{DatastoreId}-FHIR_EXPORT-{JobId}`.
pub fn export_folder_name(datastore_id: &str, job_id: &str) -> String {
    format!("{datastore_id}-FHIR_EXPORT-{job_id}")
}

/// The directory name of one import's logs: `{DatastoreId}-FHIR_IMPORT-{JobId}`,
/// as HealthLake names it under `JobOutputDataConfig.S3Uri` (the import
/// manifest's `outputDataConfig.s3Uri` in the HealthLake developer guide).
pub fn import_folder_name(datastore_id: &str, job_id: &str) -> String {
    format!("{datastore_id}-FHIR_IMPORT-{job_id}")
}

/// The files of one export: its directory and what it wrote there.
#[derive(Debug)]
pub(crate) struct WrittenExport {
    pub dir: PathBuf,
    pub files: Vec<OutputFile>,
}

/// The S3 URL of a file `relative` to an export's folder.
fn file_url(job: &JobInfo, relative: &[&str]) -> String {
    format!(
        "{}/{}/{}",
        job.s3_uri.trim_end_matches('/'),
        export_folder_name(&job.datastore_id, &job.job_id),
        relative.join("/")
    )
}

/// The directory of one export: `{output}/{DatastoreId}-FHIR_EXPORT-{JobId}`, created.
pub(crate) fn export_dir(root: &Path, job: &JobInfo) -> io::Result<PathBuf> {
    let dir = s3_uri_to_path(root, &job.s3_uri).join(export_folder_name(&job.datastore_id, &job.job_id));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes the NDJSON files of one resource type of an export,
/// `{dir}/{Type}/{Type}-{n}.ndjson`, `per_file` lines a file, `n` from 1,
/// from `lines` as they come: nothing but the type's first line (for the
/// faults) and one line of lookahead (to know the last) is held, whatever
/// the count. Writes nothing (not even the folder) when `lines` is empty.
///
/// `faults` are those of this type, applied in their order as they read
/// ([`OutputFault`]): line 1 of the first file replaced (malformed, wrong
/// type), the last line of the last file replaced by line 1 as it stands
/// then (duplicate id) or cut in half with no trailing newline (truncated),
/// the first file's manifest count shifted (count mismatch).
pub(crate) fn write_type(
    dir: &Path,
    job: &JobInfo,
    resource_type: &str,
    lines: impl Iterator<Item = String>,
    per_file: usize,
    faults: &[&OutputFault],
) -> io::Result<Vec<OutputFile>> {
    let per_file = per_file.max(1);
    let mut lines = lines.peekable();
    if lines.peek().is_none() {
        return Ok(Vec::new());
    }
    let type_dir = dir.join(resource_type);
    fs::create_dir_all(&type_dir)?;
    let cut = faults
        .iter()
        .any(|f| matches!(f, OutputFault::TruncatedFile { .. }));
    let mut first_line: Option<String> = None;
    let mut files = Vec::new();
    let mut index = 0_usize;
    while let Some(original) = lines.next() {
        let in_file = index % per_file;
        if in_file == 0 {
            let name = format!("{resource_type}-{}.ndjson", index / per_file + 1);
            let path = type_dir.join(&name);
            files.push((
                BufWriter::new(File::create(&path)?),
                OutputFile {
                    resource_type: resource_type.to_owned(),
                    url: file_url(job, &[resource_type, &name]),
                    path,
                    count: 0,
                    error: false,
                },
            ));
        }
        let last = lines.peek().is_none();
        let line = match &first_line {
            None => {
                let faulted = faulted_first_line(&original, faults);
                first_line = Some(original);
                faulted
            }
            Some(first) if last => faulted_last_line(original, first, faults),
            Some(_) => original,
        };
        let (out, file) = files.last_mut().expect("a file is open");
        if cut && last {
            out.write_all(&line.as_bytes()[..half_of(&line)])?;
        } else {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        file.count += 1;
        if last || in_file + 1 == per_file {
            out.flush()?;
        }
        index += 1;
    }
    let mut files: Vec<OutputFile> = files.into_iter().map(|(_, file)| file).collect();
    for fault in faults {
        if let OutputFault::ManifestCountMismatch { delta, .. } = fault {
            let first = &mut files[0].count;
            *first = usize::try_from(*first as i64 + delta).unwrap_or(0);
        }
    }
    Ok(files)
}

/// Line 1 of a type's first file: `original` with the faults that replace it
/// applied in their order (the last one wins).
fn faulted_first_line(original: &str, faults: &[&OutputFault]) -> String {
    faults.iter().fold(original.to_owned(), |line, fault| {
        first_line_fault(fault).unwrap_or(line)
    })
}

/// What a fault puts in place of line 1 of the first file, if anything.
fn first_line_fault(fault: &OutputFault) -> Option<String> {
    match fault {
        OutputFault::MalformedLine { .. } => Some("<html><body>Service Unavailable</body></html>".into()),
        OutputFault::WrongType { .. } => Some(
            json!({"resourceType": "Group", "id": "misplaced-1", "type": "person", "actual": true})
                .to_string(),
        ),
        _ => None,
    }
}

/// The last line of a type's last file (not its first line): `original`,
/// or line 1 as it stood when a duplicate-id fault copied it (the faults
/// listed before that one applied to `first`).
fn faulted_last_line(original: String, first: &str, faults: &[&OutputFault]) -> String {
    let mut line_one = first.to_owned();
    let mut last = original;
    for fault in faults {
        if matches!(fault, OutputFault::DuplicateId { .. }) {
            last = line_one.clone();
        } else if let Some(replaced) = first_line_fault(fault) {
            line_one = replaced;
        }
    }
    last
}

/// Where a truncated file's last line is cut: the byte offset of its middle character.
fn half_of(line: &str) -> usize {
    line.char_indices()
        .nth(line.chars().count() / 2)
        .map_or(0, |(i, _)| i)
}

/// Writes an export's error file, `{dir}/errors/OperationOutcome-1.ndjson`:
/// one `OperationOutcome` with `message` for each type and the first id
/// it selected, last updated `at`.
pub(crate) fn write_errors(
    dir: &Path,
    job: &JobInfo,
    first_ids: &[(&str, &str)],
    message: &str,
    at: Timestamp,
) -> io::Result<OutputFile> {
    let error_dir = dir.join(ERROR_FOLDER);
    fs::create_dir_all(&error_dir)?;
    let lines: Vec<String> = first_ids
        .iter()
        .map(|(resource_type, first_id)| {
            json!({
                "resourceType": "OperationOutcome",
                "id": format!("{}-{resource_type}", job.job_id),
                "meta": { "lastUpdated": instant(at) },
                "issue": [{
                    "severity": "error",
                    "code": "processing",
                    "diagnostics": format!("{message} ({resource_type}/{first_id})"),
                    "expression": [resource_type]
                }]
            })
            .to_string()
        })
        .collect();
    let name = "OperationOutcome-1.ndjson";
    let path = error_dir.join(name);
    write_lines(&path, lines.iter().map(String::as_str))?;
    Ok(OutputFile {
        resource_type: "OperationOutcome".into(),
        url: file_url(job, &[ERROR_FOLDER, name]),
        path,
        count: lines.len(),
        error: true,
    })
}

/// Writes `lines` to `path`, each followed by a newline.
pub(crate) fn write_lines<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for line in lines {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The chunk-at-a-time fault application `write_type` replaced (all of a
    /// type's files in memory), kept as its specification: the files' text
    /// and manifest counts.
    fn held_reference(lines: &[String], per_file: usize, faults: &[&OutputFault]) -> Vec<(String, usize)> {
        let mut chunks: Vec<Vec<String>> = lines.chunks(per_file).map(<[String]>::to_vec).collect();
        let last = chunks.len() - 1;
        let mut cut = false;
        for fault in faults {
            match fault {
                OutputFault::MalformedLine { .. } | OutputFault::WrongType { .. } => {
                    chunks[0][0] = first_line_fault(fault).unwrap();
                }
                OutputFault::DuplicateId { .. } => {
                    let first = chunks[0][0].clone();
                    let end = chunks[last].len() - 1;
                    chunks[last][end] = first;
                }
                OutputFault::TruncatedFile { .. } => cut = true,
                OutputFault::MissingType { .. } | OutputFault::ManifestCountMismatch { .. } => {}
            }
        }
        chunks
            .iter()
            .enumerate()
            .map(|(n, chunk)| {
                let mut text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
                if cut && n == last {
                    let whole: String = chunk[..chunk.len() - 1]
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect();
                    let line = &chunk[chunk.len() - 1];
                    text = format!("{whole}{}", &line[..half_of(line)]);
                }
                let mut count = chunk.len();
                for fault in faults.iter().filter(|_| n == 0) {
                    if let OutputFault::ManifestCountMismatch { delta, .. } = fault {
                        count = usize::try_from(count as i64 + delta).unwrap_or(0);
                    }
                }
                (text, count)
            })
            .collect()
    }

    #[test]
    fn faults_are_applied_line_by_line_as_they_were_chunk_by_chunk() {
        let t = || "Observation".to_owned();
        let sequences: Vec<Vec<OutputFault>> = vec![
            vec![],
            vec![OutputFault::TruncatedFile { resource_type: t() }],
            vec![OutputFault::ManifestCountMismatch {
                resource_type: t(),
                delta: -4,
            }],
            vec![
                OutputFault::WrongType { resource_type: t() },
                OutputFault::DuplicateId { resource_type: t() },
                OutputFault::MalformedLine { resource_type: t() },
            ],
            vec![
                OutputFault::DuplicateId { resource_type: t() },
                OutputFault::MalformedLine { resource_type: t() },
                OutputFault::TruncatedFile { resource_type: t() },
                OutputFault::ManifestCountMismatch {
                    resource_type: t(),
                    delta: 3,
                },
            ],
            vec![
                OutputFault::MalformedLine { resource_type: t() },
                OutputFault::DuplicateId { resource_type: t() },
                OutputFault::WrongType { resource_type: t() },
                OutputFault::DuplicateId { resource_type: t() },
            ],
        ];
        let dir = std::env::temp_dir().join(format!("hlx-write-type-{}", std::process::id()));
        let job = JobInfo {
            kind: crate::JobKind::Export,
            job_id: "j".into(),
            job_name: None,
            datastore_id: "d".into(),
            status: hlx_core::JobStatus::InProgress,
            submit_time: Timestamp::UNIX_EPOCH,
            start_time: None,
            end_time: None,
            message: None,
            s3_uri: "s3://b/p".into(),
            kms_key_id: String::new(),
            job_output_s3_uri: None,
            data_access_role_arn: String::new(),
            client_token: None,
            files: Vec::new(),
            output_dir: None,
            import_report: None,
            transaction_time: None,
            rest: None,
            exported: BTreeMap::new(),
            exported_counts: BTreeMap::new(),
            output_files: Vec::new(),
        };
        for total in [1, 2, 5, 7] {
            let lines: Vec<String> = (0..total).map(|i| format!("{{\"id\":\"r{i}-é\"}}")).collect();
            for per_file in [1, 3, 5, 10] {
                for faults in &sequences {
                    let faults: Vec<&OutputFault> = faults.iter().collect();
                    let _ = fs::remove_dir_all(&dir);
                    let files = write_type(
                        &dir,
                        &job,
                        "Observation",
                        lines.iter().cloned(),
                        per_file,
                        &faults,
                    )
                    .unwrap();
                    let written: Vec<(String, usize)> = files
                        .iter()
                        .map(|f| (fs::read_to_string(&f.path).unwrap(), f.count))
                        .collect();
                    let expected = held_reference(&lines, per_file, &faults);
                    assert_eq!(written, expected, "{total} lines, {per_file} a file, {faults:?}");
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        assert!(
            write_type(&dir, &job, "Observation", std::iter::empty(), 3, &[])
                .unwrap()
                .is_empty()
        );
        assert!(!dir.join("Observation").exists(), "no folder for no lines");
    }

    #[test]
    fn s3_uris_map_under_the_root_and_cannot_escape_it() {
        let root = Path::new("/out");
        assert_eq!(
            s3_uri_to_path(root, "s3://bucket/exports/nightly/"),
            Path::new("/out/bucket/exports/nightly")
        );
        assert_eq!(s3_uri_to_path(root, "s3://bucket"), Path::new("/out/bucket"));
        let sneaky = s3_uri_to_path(root, "s3://bucket/../../etc/./x");
        assert_eq!(sneaky, Path::new("/out/bucket/%2E%2E/%2E%2E/etc/x"));
        assert!(sneaky.starts_with(root));
    }
}
