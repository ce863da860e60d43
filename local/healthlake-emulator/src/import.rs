//! An import job's work at its end: read the NDJSON under the input prefix,
//! check every line, write the job's logs, and load the good resources into
//! the data store.
//!
//! The output layout is HealthLake's, as the developer guide's import
//! manifest example shows it ("Manifest JSON file",
//! <https://docs.aws.amazon.com/healthlake/latest/devguide/import-job-manifest.html>):
//!
//! ```text
//! {JobOutputDataConfig.S3Uri}/{DatastoreId}-FHIR_IMPORT-{JobId}/
//!     SUCCESS/{key}.ndjson     one line per resource imported from input file {key}
//!     FAILURE/{key}.ndjson     one line per line of {key} that was rejected
//!     manifest.json            the manifest's documented members
//! ```
//!
//! The folder name, the `SUCCESS` and `FAILURE` folders and the manifest's
//! members are documented; the guide does not show the log files, so their
//! names (one per input file, named by its key below the input prefix) and the
//! shape of their lines are assumed:
//!
//! - success: `{"resourceType", "id", "outcome": "created" | "updated", "file", "line"}`;
//! - failure: `{"file", "line", "content", "operationOutcome"}` where `content`
//!   is the original line and `operationOutcome` a FHIR `OperationOutcome`
//!   with one `error` issue (`code`, `diagnostics`, and `expression` when one
//!   element is at fault). A file that could not be read at all has one
//!   failure line with neither `line` nor `content`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hlx_core::JobStatus;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::fhir::{Content, StoredResource};
use crate::output::{import_folder_name, s3_uri_to_path, write_lines};
use crate::r4;
use crate::{ImportReport, JobInfo};

/// The folder (inside an import's log folder) of the success logs.
pub const SUCCESS_FOLDER: &str = "SUCCESS";
/// The folder (inside an import's log folder) of the failure logs.
pub const FAILURE_FOLDER: &str = "FAILURE";
/// The import manifest, at the top of an import's log folder.
pub const MANIFEST_FILE: &str = "manifest.json";

const BYTES_PER_MB: f64 = 1_048_576.0;

/// The `Message` of an import whose input prefix holds no file (assumed
/// wording: HealthLake's is not documented).
pub fn no_input_message(s3_uri: &str) -> String {
    format!("No files were found at the input location {s3_uri}")
}

/// How an import ended, and what it wrote.
pub(crate) struct ImportRun {
    pub status: JobStatus,
    pub message: Option<String>,
    pub report: ImportReport,
    /// The log folder, when logs were written.
    pub output_dir: Option<PathBuf>,
    /// The logs: `SUCCESS` files, `FAILURE` files, then the manifest.
    pub files: Vec<PathBuf>,
    /// What was stored, in input order: type and id of each upserted line.
    pub loaded: Vec<(String, String)>,
}

impl ImportRun {
    fn failed(message: String, report: ImportReport) -> Self {
        Self {
            status: JobStatus::Failed,
            message: Some(message),
            report,
            output_dir: None,
            files: Vec::new(),
            loaded: Vec::new(),
        }
    }
}

/// Runs `job` (an import that ran for `ran_for`) against the S3 stand-in at
/// `root`: reads its input, writes its logs, and upserts the resources it
/// accepted into `content`.
///
/// - No regular file under the input prefix, or none readable: `FAILED`,
///   nothing written or loaded.
/// - Some line rejected (or some file unreadable): `COMPLETED_WITH_ERRORS`
///   with the counts in the message; the good lines are loaded.
/// - Otherwise `COMPLETED`.
///
/// Logs that cannot be written make the job `FAILED` and load nothing.
pub(crate) fn run(
    root: &Path,
    job: &JobInfo,
    content: &mut Content,
    ran_for: Duration,
    at: Timestamp,
) -> ImportRun {
    let files: Vec<ScannedFile> = list_input(root, &job.s3_uri).into_iter().map(scan).collect();
    let mut report = count(&files, ran_for);
    if files.is_empty() {
        return ImportRun::failed(no_input_message(&job.s3_uri), report);
    }
    if files.iter().all(|f| f.read_error.is_some()) {
        return ImportRun::failed(
            format!(
                "None of the {} files at the input location {} could be read",
                files.len(),
                job.s3_uri
            ),
            report,
        );
    }
    let updates = plan(content, &files);
    let written = match &job.job_output_s3_uri {
        Some(output_uri) => match write_logs(root, job, output_uri, &files, &updates, &report) {
            Ok(written) => Some(written),
            Err(error) => {
                tracing::warn!(%error, "could not write import logs");
                report.imported_resources = 0;
                report.imported_files = 0;
                report.throughput = 0.0;
                return ImportRun::failed(
                    format!("Could not write to the output location: {}", error.kind()),
                    report,
                );
            }
        },
        None => None,
    };
    let loaded = upsert(content, &files, at);

    let unreadable = report.files_read_with_customer_error;
    let rejected = report.resources_with_customer_error;
    let (status, message) = if rejected == 0 && unreadable == 0 {
        (JobStatus::Completed, None)
    } else {
        let mut message = format!(
            "{} of {} resources were imported; {rejected} had errors",
            report.imported_resources, report.scanned_resources
        );
        if unreadable > 0 {
            message.push_str(&format!(
                "; {unreadable} of {} files could not be read",
                report.scanned_files
            ));
        }
        if let Some(output_uri) = &job.job_output_s3_uri {
            message.push_str(&format!(
                ". See the {FAILURE_FOLDER} folder at {}{FAILURE_FOLDER}/",
                log_folder_uri(output_uri, job)
            ));
        }
        (JobStatus::CompletedWithErrors, Some(message))
    };
    let (output_dir, files) = written.map_or((None, Vec::new()), |w| (Some(w.dir), w.files));
    ImportRun {
        status,
        message,
        report,
        output_dir,
        files,
        loaded,
    }
}

// ---- input ----

/// One regular file under the input prefix.
struct InputFile {
    path: PathBuf,
    /// Its key below the listed folder, `/`-separated (`Patient/Patient-1.ndjson`).
    key: String,
    s3_uri: String,
}

/// The regular files `s3_uri` names under `root`, in key order (as S3 lists them).
///
/// A URI that ends in `/`, or names a bucket alone, is a folder: every file
/// below it, at any depth. Otherwise its last segment is a key prefix, as in
/// S3: `s3://b/in/batch` holds `in/batch-1.ndjson` and `in/batch/x.ndjson`.
/// Symbolic links are not followed.
fn list_input(root: &Path, s3_uri: &str) -> Vec<InputFile> {
    let rest = s3_uri.strip_prefix("s3://").unwrap_or(s3_uri);
    let (folder_uri, name_prefix) = if rest.ends_with('/') || !rest.contains('/') {
        (s3_uri.trim_end_matches('/'), None)
    } else {
        let (folder, last) = s3_uri.rsplit_once('/').expect("the key has a '/'");
        (folder, Some(last))
    };
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(s3_uri_to_path(root, folder_uri)) else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name_prefix.is_none_or(|prefix| name.starts_with(prefix)) {
            collect(entry.path(), name, &mut found);
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(key, path)| InputFile {
            s3_uri: format!("{folder_uri}/{key}"),
            path,
            key,
        })
        .collect()
}

/// `path` if it is a regular file, every regular file below it if it is a folder.
fn collect(path: PathBuf, key: String, found: &mut Vec<(String, PathBuf)>) {
    let Ok(kind) = fs::symlink_metadata(&path).map(|m| m.file_type()) else {
        return;
    };
    if kind.is_file() {
        found.push((key, path));
    } else if kind.is_dir()
        && let Ok(entries) = fs::read_dir(&path)
    {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            collect(entry.path(), format!("{key}/{name}"), found);
        }
    }
}

/// A line an import accepted: its type and the resource to store.
struct Accepted {
    resource_type: String,
    resource: StoredResource,
}

/// Why a line was rejected: a FHIR issue-type code, the element at fault, a diagnostic.
#[derive(Debug, PartialEq, Eq)]
struct Rejection {
    code: &'static str,
    expression: Option<&'static str>,
    diagnostics: String,
}

impl Rejection {
    fn new(code: &'static str, expression: Option<&'static str>, diagnostics: impl Into<String>) -> Self {
        Self {
            code,
            expression,
            diagnostics: diagnostics.into(),
        }
    }
}

struct ScannedLine {
    /// 1-based, counting every line of the file (empty ones too).
    number: usize,
    /// The original text (invalid UTF-8 replaced).
    text: String,
    verdict: Result<Accepted, Rejection>,
}

struct ScannedFile {
    file: InputFile,
    size: u64,
    /// Why the file could not be read, if it could not.
    read_error: Option<String>,
    /// Its non-empty lines.
    lines: Vec<ScannedLine>,
}

impl ScannedFile {
    fn accepted(&self) -> impl Iterator<Item = (&ScannedLine, &Accepted)> {
        self.lines
            .iter()
            .filter_map(|line| line.verdict.as_ref().ok().map(|accepted| (line, accepted)))
    }

    fn rejected(&self) -> impl Iterator<Item = (&ScannedLine, &Rejection)> {
        self.lines
            .iter()
            .filter_map(|line| line.verdict.as_ref().err().map(|rejection| (line, rejection)))
    }
}

fn scan(file: InputFile) -> ScannedFile {
    let size = fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
    let bytes = match fs::read(&file.path) {
        Ok(bytes) => bytes,
        Err(error) => {
            return ScannedFile {
                file,
                size,
                read_error: Some(format!("The file could not be read: {}", error.kind())),
                lines: Vec::new(),
            };
        }
    };
    let lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(n, raw)| (n + 1, raw.strip_suffix(b"\r").unwrap_or(raw)))
        .filter(|(_, raw)| !raw.iter().all(u8::is_ascii_whitespace))
        .map(|(number, raw)| match std::str::from_utf8(raw) {
            Ok(text) => ScannedLine {
                number,
                text: text.to_owned(),
                verdict: check_line(text.trim()),
            },
            Err(_) => ScannedLine {
                number,
                text: String::from_utf8_lossy(raw).into_owned(),
                verdict: Err(Rejection::new("structure", None, "The line is not valid UTF-8")),
            },
        })
        .collect();
    ScannedFile {
        file,
        size,
        read_error: None,
        lines,
    }
}

/// Checks one NDJSON line: a JSON object with an R4 `resourceType` and a valid `id`.
fn check_line(line: &str) -> Result<Accepted, Rejection> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| Rejection::new("structure", None, format!("The line is not valid JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(Rejection::new(
            "structure",
            None,
            "The line is not a JSON object, so not a FHIR resource",
        ));
    };
    let resource_type = match map.get("resourceType") {
        None | Some(Value::Null) => {
            return Err(Rejection::new(
                "required",
                Some("resourceType"),
                "The resource has no resourceType",
            ));
        }
        Some(Value::String(t)) => t,
        Some(_) => {
            return Err(Rejection::new(
                "structure",
                Some("resourceType"),
                "resourceType is not a string",
            ));
        }
    };
    if !r4::is_resource_type(resource_type) {
        return Err(Rejection::new(
            "not-supported",
            Some("resourceType"),
            format!("'{resource_type}' is not a FHIR R4 resource type"),
        ));
    }
    match map.get("id") {
        None | Some(Value::Null) => Err(Rejection::new(
            "required",
            Some("id"),
            format!("The {resource_type} has no id"),
        )),
        Some(Value::String(id)) if r4::is_valid_id(id) => Ok(Accepted {
            resource_type: resource_type.clone(),
            resource: StoredResource::new(&value, line.to_owned()),
        }),
        Some(Value::String(id)) => Err(Rejection::new(
            "value",
            Some("id"),
            format!(
                "The {resource_type} id '{id}' does not match FHIR's id rule {}",
                r4::ID_PATTERN
            ),
        )),
        Some(_) => Err(Rejection::new(
            "structure",
            Some("id"),
            format!("The {resource_type} id is not a string"),
        )),
    }
}

/// The `JobProgressReport` of `files`.
fn count(files: &[ScannedFile], ran_for: Duration) -> ImportReport {
    let size: u64 = files.iter().map(|f| f.size).sum();
    let imported = files.iter().map(|f| f.accepted().count() as u64).sum();
    let seconds = ran_for.as_secs_f64();
    ImportReport {
        scanned_files: files.len() as u64,
        scanned_size_mb: megabytes(size),
        imported_files: files.iter().filter(|f| f.accepted().next().is_some()).count() as u64,
        scanned_resources: files.iter().map(|f| f.lines.len() as u64).sum(),
        imported_resources: imported,
        resources_with_customer_error: files.iter().map(|f| f.rejected().count() as u64).sum(),
        files_read_with_customer_error: files.iter().filter(|f| f.read_error.is_some()).count() as u64,
        throughput: if seconds > 0.0 {
            imported as f64 / seconds
        } else {
            0.0
        },
    }
}

/// Bytes in MB, to six decimals (as the manifest shows sizes).
fn megabytes(bytes: u64) -> f64 {
    (bytes as f64 / BYTES_PER_MB * 1e6).round() / 1e6
}

// ---- loading ----

/// For every accepted line, in input order: whether it replaces a resource
/// (already stored, or given earlier in the same import).
fn plan(content: &Content, files: &[ScannedFile]) -> Vec<bool> {
    let mut known: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut updates = Vec::new();
    for (_, accepted) in files.iter().flat_map(ScannedFile::accepted) {
        let ids = known.entry(&accepted.resource_type).or_insert_with(|| {
            content
                .get(&accepted.resource_type)
                .map(|resources| resources.iter().map(|r| r.id.as_str()).collect())
                .unwrap_or_default()
        });
        updates.push(!ids.insert(&accepted.resource.id));
    }
    updates
}

/// Stores every accepted line of `files` in order: a resource with the id of
/// one already held replaces it in place (the earlier version is kept in its
/// history), a new one is added at the end of its type. Every stored line is
/// last updated `at` (the import's end). Returns the type and id of each.
fn upsert(content: &mut Content, files: &[ScannedFile], at: Timestamp) -> Vec<(String, String)> {
    let mut loaded = Vec::new();
    let mut positions: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for (_, accepted) in files.iter().flat_map(ScannedFile::accepted) {
        let resources = content.entry(accepted.resource_type.clone()).or_default();
        let index = positions
            .entry(accepted.resource_type.clone())
            .or_insert_with(|| {
                resources
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.id.clone(), i))
                    .collect()
            });
        let mut resource = accepted.resource.clone();
        resource.last_updated = at;
        loaded.push((accepted.resource_type.clone(), resource.id.clone()));
        match index.get(&resource.id) {
            Some(&i) => resources[i].replace_with(resource),
            None => {
                index.insert(resource.id.clone(), resources.len());
                resources.push(resource);
            }
        }
    }
    loaded
}

// ---- logs ----

struct WrittenLogs {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

/// `s3://.../{DatastoreId}-FHIR_IMPORT-{JobId}/`.
fn log_folder_uri(output_uri: &str, job: &JobInfo) -> String {
    format!(
        "{}/{}/",
        output_uri.trim_end_matches('/'),
        import_folder_name(&job.datastore_id, &job.job_id)
    )
}

/// A log's path for input `key`: the key, with `.ndjson` added unless it ends so.
fn log_path(folder: &Path, key: &str) -> PathBuf {
    let mut path = folder.to_path_buf();
    path.extend(key.split('/'));
    if !key.ends_with(".ndjson") {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".ndjson");
        path.set_file_name(name);
    }
    path
}

fn write_log(path: &Path, lines: &[String]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    write_lines(path, lines.iter().map(String::as_str))
}

fn operation_outcome(rejection: &Rejection) -> Value {
    let mut issue = json!({
        "severity": "error",
        "code": rejection.code,
        "diagnostics": rejection.diagnostics,
    });
    if let Some(expression) = rejection.expression {
        issue["expression"] = json!([expression]);
    }
    json!({ "resourceType": "OperationOutcome", "issue": [issue] })
}

fn write_logs(
    root: &Path,
    job: &JobInfo,
    output_uri: &str,
    files: &[ScannedFile],
    updates: &[bool],
    report: &ImportReport,
) -> io::Result<WrittenLogs> {
    let dir = s3_uri_to_path(root, output_uri).join(import_folder_name(&job.datastore_id, &job.job_id));
    fs::create_dir_all(&dir)?;
    let mut updates = updates.iter();
    let mut successes = Vec::new();
    let mut failures = Vec::new();
    let mut imported_bytes = 0u64;
    for file in files {
        let uri = &file.file.s3_uri;
        let lines: Vec<String> = file
            .accepted()
            .map(|(line, accepted)| {
                imported_bytes += line.text.len() as u64 + 1;
                let updated = updates.next().copied().unwrap_or(false);
                json!({
                    "resourceType": accepted.resource_type,
                    "id": accepted.resource.id,
                    "outcome": if updated { "updated" } else { "created" },
                    "file": uri,
                    "line": line.number,
                })
                .to_string()
            })
            .collect();
        if !lines.is_empty() {
            let path = log_path(&dir.join(SUCCESS_FOLDER), &file.file.key);
            write_log(&path, &lines)?;
            successes.push(path);
        }
        let mut lines: Vec<String> = file
            .rejected()
            .map(|(line, rejection)| {
                json!({
                    "file": uri,
                    "line": line.number,
                    "content": line.text,
                    "operationOutcome": operation_outcome(rejection),
                })
                .to_string()
            })
            .collect();
        if let Some(error) = &file.read_error {
            let rejection = Rejection::new("exception", None, error.clone());
            lines.push(json!({ "file": uri, "operationOutcome": operation_outcome(&rejection) }).to_string());
        }
        if !lines.is_empty() {
            let path = log_path(&dir.join(FAILURE_FOLDER), &file.file.key);
            write_log(&path, &lines)?;
            failures.push(path);
        }
    }
    let folder_uri = log_folder_uri(output_uri, job);
    let manifest = manifest(job, &folder_uri, report, imported_bytes);
    let manifest_path = dir.join(MANIFEST_FILE);
    fs::write(&manifest_path, format!("{manifest:#}\n"))?;
    let mut written = successes;
    written.extend(failures);
    written.push(manifest_path);
    Ok(WrittenLogs { dir, files: written })
}

/// The manifest, with the members the developer guide documents.
fn manifest(job: &JobInfo, folder_uri: &str, report: &ImportReport, imported_bytes: u64) -> Value {
    let mut manifest = Map::new();
    let mut put = |key: &str, value: Value| {
        manifest.insert(key.to_owned(), value);
    };
    put("inputDataConfig", json!({ "s3Uri": job.s3_uri }));
    put(
        "outputDataConfig",
        json!({ "s3Uri": folder_uri, "encryptionKeyID": job.kms_key_id }),
    );
    put(
        "successOutput",
        json!({ "successOutputS3Uri": format!("{folder_uri}{SUCCESS_FOLDER}/") }),
    );
    put(
        "failureOutput",
        json!({ "failureOutputS3Uri": format!("{folder_uri}{FAILURE_FOLDER}/") }),
    );
    put("numberOfScannedFiles", json!(report.scanned_files));
    put("numberOfFilesImported", json!(report.imported_files));
    put("sizeOfScannedFilesInMB", json!(report.scanned_size_mb));
    put(
        "sizeOfDataImportedSuccessfullyInMB",
        json!(megabytes(imported_bytes)),
    );
    put("numberOfResourcesScanned", json!(report.scanned_resources));
    put(
        "numberOfResourcesImportedSuccessfully",
        json!(report.imported_resources),
    );
    put(
        "numberOfResourcesWithCustomerError",
        json!(report.resources_with_customer_error),
    );
    put("numberOfResourcesWithServerError", json!(0));
    Value::Object(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(line: &str) -> Rejection {
        match check_line(line) {
            Ok(accepted) => panic!("accepted {line}: {}", accepted.resource.id),
            Err(rejection) => rejection,
        }
    }

    #[test]
    fn a_line_is_good_when_it_is_an_r4_resource_with_a_valid_id() {
        let line = r#"{"resourceType":"Immunization","id":"imm-1.a","patient":{"reference":"Patient/p"}}"#;
        let accepted = check_line(line).expect("accepted");
        assert_eq!(accepted.resource_type, "Immunization");
        assert_eq!(accepted.resource.id, "imm-1.a");
        assert_eq!(accepted.resource.line, line, "stored as given");
        let with_subject =
            check_line(r#"{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p"}}"#)
                .expect("accepted");
        assert_eq!(with_subject.resource.subject.as_deref(), Some("Patient/p"));

        let cases = [
            ("{not json", "structure", None, "not valid JSON"),
            ("[1, 2]", "structure", None, "not a JSON object"),
            (
                r#"{"id":"x"}"#,
                "required",
                Some("resourceType"),
                "no resourceType",
            ),
            (
                r#"{"resourceType":7,"id":"x"}"#,
                "structure",
                Some("resourceType"),
                "not a string",
            ),
            (
                r#"{"resourceType":"Spaceship","id":"x"}"#,
                "not-supported",
                Some("resourceType"),
                "'Spaceship' is not a FHIR R4",
            ),
            (
                r#"{"resourceType":"patient","id":"x"}"#,
                "not-supported",
                Some("resourceType"),
                "'patient'",
            ),
            (
                r#"{"resourceType":"Patient"}"#,
                "required",
                Some("id"),
                "The Patient has no id",
            ),
            (
                r#"{"resourceType":"Patient","id":"a b"}"#,
                "value",
                Some("id"),
                "'a b' does not match",
            ),
            (
                r#"{"resourceType":"Patient","id":""}"#,
                "value",
                Some("id"),
                "id rule",
            ),
            (
                r#"{"resourceType":"Patient","id":3}"#,
                "structure",
                Some("id"),
                "not a string",
            ),
        ];
        for (line, code, expression, diagnostics) in cases {
            let rejection = rejected(line);
            assert_eq!(
                (rejection.code, rejection.expression),
                (code, expression),
                "{line}"
            );
            assert!(
                rejection.diagnostics.contains(diagnostics),
                "{line}: {}",
                rejection.diagnostics
            );
        }
    }

    #[test]
    fn a_prefix_is_a_folder_or_a_key_prefix_and_files_come_in_key_order() {
        let root = std::env::temp_dir().join(format!("hlx-import-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for file in [
            "b/in/z.ndjson",
            "b/in/a/2.ndjson",
            "b/in/a/10.ndjson",
            "b/in2/x.ndjson",
            "b/batch-1.ndjson",
            "b/batch/y.ndjson",
            "b/other.ndjson",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "{}\n").unwrap();
        }
        let keys =
            |uri: &str| -> Vec<String> { list_input(&root, uri).into_iter().map(|f| f.s3_uri).collect() };
        assert_eq!(
            keys("s3://b/in/"),
            [
                "s3://b/in/a/10.ndjson",
                "s3://b/in/a/2.ndjson",
                "s3://b/in/z.ndjson"
            ]
        );
        assert_eq!(keys("s3://b/in").len(), 4, "a key prefix: in/ and in2/");
        assert_eq!(
            keys("s3://b/batch"),
            ["s3://b/batch-1.ndjson", "s3://b/batch/y.ndjson"]
        );
        assert_eq!(keys("s3://b").len(), 7);
        assert!(keys("s3://b/nothing/").is_empty());
        assert!(keys("s3://elsewhere/").is_empty());
        assert_eq!(list_input(&root, "s3://b/in/")[0].key, "a/10.ndjson");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn log_paths_mirror_the_input_key() {
        let folder = Path::new("/out/SUCCESS");
        assert_eq!(
            log_path(folder, "Patient/Patient-1.ndjson"),
            Path::new("/out/SUCCESS/Patient/Patient-1.ndjson")
        );
        assert_eq!(
            log_path(folder, "data.json"),
            Path::new("/out/SUCCESS/data.json.ndjson")
        );
        assert_eq!(megabytes(1_048_576), 1.0);
        assert_eq!(megabytes(1), 0.000001);
    }
}
