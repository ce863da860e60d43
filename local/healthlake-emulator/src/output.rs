//! Job output under a local directory standing for S3: where an S3 URI
//! lives, the folder of each job, and an export's NDJSON files.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use jiff::Timestamp;
use serde_json::json;

use crate::config::OutputFault;
use crate::fhir::{Content, instant};
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

/// Writes one export: `{dir}/{Type}/{Type}-{n}.ndjson`, `per_file` resources a
/// file, `n` from 1; with `errors`, one `OperationOutcome` line per exported
/// type under `{dir}/errors/`.
pub(crate) fn write_export(
    root: &Path,
    job: &JobInfo,
    content: &Content,
    per_file: usize,
    faults: &[OutputFault],
    errors: Option<&str>,
    at: Timestamp,
) -> io::Result<WrittenExport> {
    let job_id = job.job_id.as_str();
    let dir = s3_uri_to_path(root, &job.s3_uri).join(export_folder_name(&job.datastore_id, job_id));
    fs::create_dir_all(&dir)?;
    let per_file = per_file.max(1);
    let mut files = Vec::new();
    for (resource_type, resources) in content {
        let touched: Vec<&OutputFault> = faults
            .iter()
            .filter(|f| f.resource_type() == resource_type)
            .collect();
        let missing = touched
            .iter()
            .any(|f| matches!(f, OutputFault::MissingType { .. }));
        if resources.is_empty() || missing {
            continue;
        }
        let type_dir = dir.join(resource_type);
        fs::create_dir_all(&type_dir)?;
        let chunks: Vec<Vec<String>> = resources
            .chunks(per_file)
            .map(|chunk| chunk.iter().map(|r| r.line.clone()).collect())
            .collect();
        let (chunks, cut) = with_faults(chunks, &touched);
        let last = chunks.len() - 1;
        for (n, lines) in chunks.iter().enumerate() {
            let name = format!("{resource_type}-{}.ndjson", n + 1);
            let path = type_dir.join(&name);
            if cut && n == last {
                write_cut(&path, lines)?;
            } else {
                write_lines(&path, lines.iter().map(String::as_str))?;
            }
            let mut count = lines.len();
            if n == 0 {
                for fault in &touched {
                    if let OutputFault::ManifestCountMismatch { delta, .. } = fault {
                        count = usize::try_from(count as i64 + delta).unwrap_or(0);
                    }
                }
            }
            files.push(OutputFile {
                resource_type: resource_type.clone(),
                url: file_url(job, &[resource_type, &name]),
                path,
                count,
                error: false,
            });
        }
    }
    if let Some(message) = errors {
        let error_dir = dir.join(ERROR_FOLDER);
        fs::create_dir_all(&error_dir)?;
        let lines: Vec<String> = content
            .iter()
            .filter(|(_, resources)| !resources.is_empty())
            .map(|(resource_type, resources)| {
                json!({
                    "resourceType": "OperationOutcome",
                    "id": format!("{job_id}-{resource_type}"),
                    "meta": { "lastUpdated": instant(at) },
                    "issue": [{
                        "severity": "error",
                        "code": "processing",
                        "diagnostics": format!("{message} ({resource_type}/{})", resources[0].id),
                        "expression": [resource_type]
                    }]
                })
                .to_string()
            })
            .collect();
        let name = "OperationOutcome-1.ndjson";
        let path = error_dir.join(name);
        write_lines(&path, lines.iter().map(String::as_str))?;
        files.push(OutputFile {
            resource_type: "OperationOutcome".into(),
            url: file_url(job, &[ERROR_FOLDER, name]),
            path,
            count: lines.len(),
            error: true,
        });
    }
    Ok(WrittenExport { dir, files })
}

/// The lines of a type's files with its faults applied; true when its last
/// file is to be cut.
fn with_faults(mut chunks: Vec<Vec<String>>, faults: &[&OutputFault]) -> (Vec<Vec<String>>, bool) {
    let mut cut = false;
    let last = chunks.len() - 1;
    for fault in faults {
        match fault {
            OutputFault::MalformedLine { .. } => {
                chunks[0][0] = "<html><body>Service Unavailable</body></html>".into();
            }
            OutputFault::WrongType { .. } => {
                chunks[0][0] =
                    json!({"resourceType": "Group", "id": "misplaced-1", "type": "person", "actual": true})
                        .to_string();
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
    (chunks, cut)
}

/// Writes `lines` with the last one cut in half and no trailing newline.
fn write_cut(path: &Path, lines: &[String]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let (last, whole) = lines.split_last().expect("a file has lines");
    for line in whole {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    let half = last
        .char_indices()
        .nth(last.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    out.write_all(&last.as_bytes()[..half])?;
    out.flush()
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
    use super::*;

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
