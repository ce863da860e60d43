//! The ways a verification runs: one invocation reads every file
//! ([`begin`]), or, above the policy's size, a Distributed Map's children
//! each read a batch ([`verify_batch`]), a step folds what they wrote
//! ([`fold_distributed`]), the duplicate check runs shard by shard
//! ([`duplicates_in_shard`]), and [`judge`](super::verdict::judge) gives the
//! verdict. Both end in the same judgement over the same reports.
//!
//! A child keeps its files' ids beside its report as an id list in S3
//! (see [`super::shards`]), since a Step Functions result holds at most
//! 256 KiB; each shard's check reads its section of every child's list.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::{FileKind, FileReport, FileVerifier};
use super::ids::SortedIds;
use super::shards::{
    IdList, duplicates_in_sections, encode_id_list, id_list_key, resource_files, shard_count,
};
use super::storage::{ExportObjects, ObjectInfo, StorageError};
use super::verdict::{
    Duplicates, Expectations, FilesFolded, UnreadFile, Verification, VerificationPath, VerifyPolicy, fold,
    fold_files,
};
use crate::error::HlxError;
use crate::manifest_store::split_s3_uri;

/// An export's folder in S3, or the folder a verification writes into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Folder {
    pub bucket: String,
    /// The key prefix, ending with `/`.
    pub prefix: String,
}

impl S3Folder {
    /// `s3://bucket/a/b` → bucket `bucket`, prefix `a/b/`.
    pub fn parse(uri: &str) -> Result<Self, HlxError> {
        let (bucket, key) =
            split_s3_uri(uri).ok_or_else(|| HlxError::InvalidInput(format!("not an S3 location: {uri}")))?;
        let prefix = match key.trim_end_matches('/') {
            "" => String::new(),
            key => format!("{key}/"),
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// Where the verification of the export in this folder writes its
    /// results: beside the export, under `hlx-verification/`, so the
    /// export's own folder holds only what HealthLake (and its manifest) put there.
    pub fn verification_results(&self, id: &str) -> Self {
        let trimmed = self.prefix.trim_end_matches('/');
        let (parent, folder) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let parent = if parent.is_empty() {
            String::new()
        } else {
            format!("{parent}/")
        };
        Self {
            bucket: self.bucket.clone(),
            prefix: format!("{parent}hlx-verification/{folder}/{id}/"),
        }
    }

    fn relative<'a>(&self, key: &'a str) -> &'a str {
        key.strip_prefix(self.prefix.as_str()).unwrap_or(key)
    }
}

pub(crate) fn storage_error(e: StorageError) -> HlxError {
    match e {
        StorageError::Refused { code, message } => HlxError::S3 { code, message },
        StorageError::Unavailable(why) => HlxError::VerificationUnavailable(why),
    }
}

/// What the first step found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Begun {
    /// Verified (or found unverifiable) in this invocation.
    Done(Verification),
    /// Too large for one invocation: the Distributed Map reads these files,
    /// and their ids are checked for duplicates in `shards` shards.
    Distributed { files: u64, bytes: u64, shards: u32 },
}

/// Lists the export and, when it fits one invocation, verifies it.
pub async fn begin(
    objects: &impl ExportObjects,
    export: &S3Folder,
    expect: Expectations<'_>,
    policy: &VerifyPolicy,
    now: Timestamp,
) -> Result<Begun, HlxError> {
    let listing = match objects.list(&export.bucket, &export.prefix).await {
        Ok(listing) => listing,
        Err(StorageError::Refused { code, message }) => {
            return Ok(Begun::Done(Verification::unverifiable(
                format!(
                    "S3 refused to list s3://{}/{}: {code}: {message}",
                    export.bucket, export.prefix
                ),
                now,
            )));
        }
        Err(StorageError::Unavailable(why)) => return Err(HlxError::VerificationUnavailable(why)),
    };
    if listing.is_empty() {
        return Ok(Begun::Done(Verification::unverifiable(
            format!("no files under s3://{}/{}", export.bucket, export.prefix),
            now,
        )));
    }
    let files = listing.len() as u64;
    let bytes = listing.iter().map(|o| o.size).sum();
    if !policy.fits_one_invocation(files, bytes) {
        let shards = shard_count(bytes, policy.shard_bytes);
        return Ok(Begun::Distributed { files, bytes, shards });
    }
    let (reports, unread) = read_files(objects, export, &listing).await?;
    Ok(Begun::Done(fold(
        reports,
        unread,
        expect,
        policy,
        VerificationPath::Single,
        now,
    )))
}

/// Reads `files` (keys under `export`); refused files are unread, not errors.
pub async fn read_files(
    objects: &impl ExportObjects,
    export: &S3Folder,
    files: &[ObjectInfo],
) -> Result<(Vec<FileReport>, Vec<UnreadFile>), HlxError> {
    let mut reports = Vec::with_capacity(files.len());
    let mut unread = Vec::new();
    for object in files {
        let relative = export.relative(&object.key);
        let mut verifier = FileVerifier::new(relative);
        if FileKind::of_key(relative) == FileKind::Ignored {
            reports.push(verifier.finish());
            continue;
        }
        match objects
            .read_into(&export.bucket, &object.key, &mut verifier)
            .await
        {
            Ok(()) => reports.push(verifier.finish()),
            Err(StorageError::Refused { code, message }) => unread.push(UnreadFile {
                key: relative.to_owned(),
                problem: format!("S3 {code}: {message}"),
            }),
            Err(StorageError::Unavailable(why)) => return Err(HlxError::VerificationUnavailable(why)),
        }
    }
    Ok((reports, unread))
}

/// One child's work: its files' reports (the ids stay in S3, in `id_list`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub files: Vec<FileReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<UnreadFile>,
    /// The ids of the batch's resource files, shard by shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_list: Option<IdList>,
}

/// A Distributed Map child: reads its batch and keeps its files' ids in S3,
/// split into `shards`.
pub async fn verify_batch(
    objects: &impl ExportObjects,
    export: &S3Folder,
    results: &S3Folder,
    kms_key_id: &str,
    files: &[ObjectInfo],
    shards: u32,
) -> Result<BatchResult, HlxError> {
    let (mut reports, unread) = read_files(objects, export, files).await?;
    let resources = resource_files(&reports);
    let id_list = match resources.first() {
        None => None,
        Some(first) => {
            let key = id_list_key(results, &first.key);
            let (bytes, offsets) = encode_id_list(&resources, shards);
            objects
                .put(&results.bucket, &key, bytes, kms_key_id)
                .await
                .map_err(storage_error)?;
            Some(IdList { key, offsets })
        }
    };
    for report in &mut reports {
        report.ids = SortedIds::default();
    }
    Ok(BatchResult {
        files: reports,
        unread,
        id_list,
    })
}

/// The items of a batch as the Distributed Map's `ItemReader` lists them.
pub fn batch_items(items: &[Value]) -> Result<Vec<ObjectInfo>, HlxError> {
    items
        .iter()
        .map(|item| {
            let key = item
                .get("Key")
                .and_then(Value::as_str)
                .ok_or_else(|| HlxError::InvalidInput("a batch item without Key".into()))?;
            Ok(ObjectInfo {
                key: key.to_owned(),
                size: item.get("Size").and_then(Value::as_u64).unwrap_or(0),
            })
        })
        .collect()
}

/// What the Distributed Map's `ResultWriter` wrote: each child's result, and
/// the files of the children that failed.
struct MapResults {
    batches: Vec<BatchResult>,
    failed: Vec<UnreadFile>,
}

/// Reads the `ResultWriter`'s `manifest.json` at `results_manifest` and the
/// result files it names.
async fn read_map_results(
    objects: &impl ExportObjects,
    results_manifest: (&str, &str),
) -> Result<MapResults, HlxError> {
    let (bucket, key) = results_manifest;
    let manifest: Value = read_json(objects, bucket, key).await?;
    let keys_of = |status: &str| -> Vec<String> {
        manifest
            .pointer(&format!("/ResultFiles/{status}"))
            .and_then(Value::as_array)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| f.get("Key").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut batches = Vec::new();
    for result_key in keys_of("SUCCEEDED") {
        let entries: Value = read_json(objects, bucket, &result_key).await?;
        for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
            let output = embedded_json(entry.get("Output")).ok_or_else(|| {
                HlxError::InvalidInput(format!("a child result without Output in {result_key}"))
            })?;
            batches.push(
                serde_json::from_value(output)
                    .map_err(|e| HlxError::InvalidInput(format!("a child result in {result_key}: {e}")))?,
            );
        }
    }
    let mut failed = Vec::new();
    for result_key in keys_of("FAILED") {
        let entries: Value = read_json(objects, bucket, &result_key).await?;
        for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
            let error = entry
                .get("Error")
                .and_then(Value::as_str)
                .unwrap_or("States.TaskFailed");
            let input = embedded_json(entry.get("Input")).unwrap_or(Value::Null);
            let items = input
                .get("Items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let export = S3Folder {
                bucket: String::new(),
                prefix: input
                    .pointer("/BatchInput/exportPrefix")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            };
            for item in batch_items(&items)? {
                failed.push(UnreadFile {
                    key: export.relative(&item.key).to_owned(),
                    problem: format!("the child that read it failed: {error}"),
                });
            }
        }
    }
    Ok(MapResults { batches, failed })
}

/// Folds what the Distributed Map's children reported (everything but the
/// duplicate check, which runs by shard); `listed` is how many objects the
/// first step listed, so a child that left no result is seen.
pub async fn fold_distributed(
    objects: &impl ExportObjects,
    results_manifest: (&str, &str),
    listed: u64,
    expect: Expectations<'_>,
    policy: &VerifyPolicy,
) -> Result<FilesFolded, HlxError> {
    let MapResults { batches, failed } = read_map_results(objects, results_manifest).await?;
    let mut reports: Vec<FileReport> = Vec::new();
    let mut unread = failed;
    for batch in batches {
        reports.extend(batch.files);
        unread.extend(batch.unread);
    }
    let accounted = (reports.len() + unread.len()) as u64;
    if accounted < listed {
        unread.push(UnreadFile {
            key: "(unknown)".into(),
            problem: format!("{} listed file(s) have no result", listed - accounted),
        });
    }
    Ok(fold_files(&reports, unread, expect, policy))
}

/// The duplicate check of one shard: that shard's section of every child's
/// id list (one ranged GET each), merged across the files of each type.
pub async fn duplicates_in_shard(
    objects: &impl ExportObjects,
    results: &S3Folder,
    results_manifest: (&str, &str),
    shard: u32,
) -> Result<Duplicates, HlxError> {
    let MapResults { batches, .. } = read_map_results(objects, results_manifest).await?;
    let mut files = Vec::new();
    let mut ranges = Vec::new();
    for batch in batches {
        let Some(list) = batch.id_list else { continue };
        let range = list.section(shard).ok_or_else(|| {
            HlxError::InvalidInput(format!(
                "the id list {} has {} shards, not shard {shard}",
                list.key,
                list.shards()
            ))
        })?;
        files.push(
            resource_files(&batch.files)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>(),
        );
        ranges.push(range);
    }
    let sections = objects
        .get_ranges(&results.bucket, &ranges)
        .await
        .map_err(storage_error)?;
    duplicates_in_sections(files.into_iter().zip(sections).collect()).map_err(HlxError::InvalidInput)
}

async fn read_json(objects: &impl ExportObjects, bucket: &str, key: &str) -> Result<Value, HlxError> {
    let bytes = objects.get(bucket, key).await.map_err(storage_error)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| HlxError::InvalidInput(format!("s3://{bucket}/{key} is not JSON: {e}")))
}

/// A member Step Functions writes as a JSON string (or, leniently, as JSON).
fn embedded_json(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verification::storage::InMemoryObjects;
    use crate::verification::verdict::{Verdict, judge};

    const EXPORT: &str = "s3://landing/exports/ds1-FHIR_EXPORT-j1";

    fn now() -> Timestamp {
        "2026-12-06T02:00:00Z".parse().unwrap()
    }

    fn lines(resource_type: &str, ids: &[String]) -> String {
        ids.iter()
            .map(|id| {
                format!(
                    "{{\"resourceType\":\"{resource_type}\",\"id\":\"{id}\",\"x\":[1,2,{{\"y\":null}}]}}\n"
                )
            })
            .collect()
    }

    /// 12 Patient files of 5 and 3 Observation files of 4, with one id
    /// repeated across Patient files and one malformed Observation line.
    fn bucket() -> InMemoryObjects {
        let objects = InMemoryObjects::chunked(7);
        let export = S3Folder::parse(EXPORT).unwrap();
        for n in 1..=12 {
            let ids: Vec<String> = (0..5).map(|i| format!("p{}", n * 10 + i)).collect();
            let mut text = lines("Patient", &ids);
            if n == 9 {
                text.push_str(&lines("Patient", &["p13".to_owned()]));
            }
            objects.insert(
                "landing",
                &format!("{}Patient/Patient-{n}.ndjson", export.prefix),
                text,
            );
        }
        for n in 1..=3 {
            let ids: Vec<String> = (0..4).map(|i| format!("o{n}-{i}")).collect();
            let mut text = lines("Observation", &ids);
            if n == 2 {
                text.push_str("{\"resourceType\":\"Observation\",");
            }
            objects.insert(
                "landing",
                &format!("{}Observation/Observation-{n}.ndjson", export.prefix),
                text,
            );
        }
        objects.insert("landing", &format!("{}manifest.json", export.prefix), "{}");
        objects
    }

    /// The distributed path as the state machine runs it: children of
    /// `batch` files (`fail_batch` failing), the duplicate check in `shards`,
    /// then the fold and the judgement.
    async fn distributed(
        objects: &InMemoryObjects,
        batch: usize,
        fail_batch: Option<usize>,
        shards: u32,
    ) -> Verification {
        let export = S3Folder::parse(EXPORT).unwrap();
        let results = export.verification_results("exec-1");
        let listing = objects.list("landing", &export.prefix).await.unwrap();
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for (n, chunk) in listing.chunks(batch).enumerate() {
            let items: Vec<Value> = chunk
                .iter()
                .map(|o| json!({"Key": o.key, "Size": o.size}))
                .collect();
            let input = json!({"Items": items, "BatchInput": {"exportPrefix": export.prefix}});
            if fail_batch == Some(n) {
                failed.push(
                    json!({"Input": input.to_string(), "Error": "States.TaskFailed", "Status": "FAILED"}),
                );
                continue;
            }
            let result = verify_batch(
                objects,
                &export,
                &results,
                "key",
                &batch_items(&input["Items"].as_array().unwrap()[..]).unwrap(),
                shards,
            )
            .await
            .unwrap();
            assert!(result.files.iter().all(|f| f.ids.is_empty()), "ids stay in S3");
            succeeded.push(json!({"Input": input.to_string(), "Output": serde_json::to_string(&result).unwrap(), "Status": "SUCCEEDED"}));
        }
        let run = format!("{}map/run-1/", results.prefix);
        objects.insert(
            "landing",
            &format!("{run}SUCCEEDED_0.json"),
            serde_json::to_vec(&succeeded).unwrap(),
        );
        objects.insert(
            "landing",
            &format!("{run}FAILED_0.json"),
            serde_json::to_vec(&failed).unwrap(),
        );
        let manifest = json!({"ResultFiles": {
            "SUCCEEDED": [{"Key": format!("{run}SUCCEEDED_0.json")}],
            "FAILED": [{"Key": format!("{run}FAILED_0.json")}],
            "PENDING": []}});
        let manifest_key = format!("{run}manifest.json");
        objects.insert("landing", &manifest_key, manifest.to_string());
        let mut duplicates = Vec::new();
        for shard in 0..shards {
            duplicates.push(
                duplicates_in_shard(objects, &results, ("landing", &manifest_key), shard)
                    .await
                    .unwrap(),
            );
        }
        let folded = fold_distributed(
            objects,
            ("landing", &manifest_key),
            listing.len() as u64,
            Expectations::default(),
            &VerifyPolicy::default(),
        )
        .await
        .unwrap();
        judge(folded, &duplicates, VerificationPath::Distributed, now())
    }

    #[tokio::test]
    async fn one_invocation_and_the_distributed_map_agree() {
        let objects = bucket();
        let export = S3Folder::parse(EXPORT).unwrap();
        let Begun::Done(single) = begin(
            &objects,
            &export,
            Expectations::default(),
            &VerifyPolicy::default(),
            now(),
        )
        .await
        .unwrap() else {
            panic!("a small export fits one invocation")
        };
        assert_eq!(single.verdict, Verdict::Suspect);
        let codes: Vec<&str> = single.reasons.iter().map(|r| r.code()).collect();
        assert_eq!(codes, ["TRUNCATED_FILE", "DUPLICATE_ID"]);
        assert_eq!(single.resources_by_type["Patient"], 61);
        assert_eq!(single.resources_by_type["Observation"], 12);
        assert_eq!(single.files, 15);
        for batch in [1, 4, 16] {
            for shards in [1, 2, 5] {
                let mut spread = distributed(&objects, batch, None, shards).await;
                assert_eq!(spread.path, VerificationPath::Distributed);
                spread.path = VerificationPath::Single;
                assert_eq!(spread, single, "batches of {batch}, {shards} shards");
            }
        }
    }

    #[tokio::test]
    async fn large_exports_go_to_the_distributed_map() {
        let objects = bucket();
        let export = S3Folder::parse(EXPORT).unwrap();
        let small = VerifyPolicy {
            single_max_files: 10,
            ..VerifyPolicy::default()
        };
        let begun = begin(&objects, &export, Expectations::default(), &small, now())
            .await
            .unwrap();
        assert!(
            matches!(
                begun,
                Begun::Distributed {
                    files: 16,
                    shards: 1,
                    ..
                }
            ),
            "{begun:?}"
        );
        let sharded = VerifyPolicy {
            shard_bytes: 100,
            ..small
        };
        let begun = begin(&objects, &export, Expectations::default(), &sharded, now())
            .await
            .unwrap();
        let Begun::Distributed { bytes, shards, .. } = begun else {
            panic!("{begun:?}")
        };
        assert_eq!(
            u64::from(shards),
            bytes.div_ceil(100),
            "a shard for each 100 bytes"
        );
    }

    #[tokio::test]
    async fn a_failed_child_leaves_its_files_unread() {
        let objects = bucket();
        let v = distributed(&objects, 4, Some(1), 3).await;
        // The second batch held Patient-10, -11, -12 and -2: they went
        // unread, the cut file and the duplicate are still seen.
        let unread = v.reasons.iter().find(|r| r.code() == "FILES_UNREAD").unwrap();
        assert!(
            unread.describe().starts_with("4 file(s)"),
            "{}",
            unread.describe()
        );
        assert_eq!(v.verdict, Verdict::Suspect);
        let codes: Vec<&str> = v.reasons.iter().map(|r| r.code()).collect();
        assert_eq!(codes, ["TRUNCATED_FILE", "DUPLICATE_ID", "FILES_UNREAD"]);
        // Without the duplicate and the cut file, unread files leave it unverifiable.
        let clean = InMemoryObjects::default();
        for key in objects.keys("landing") {
            if !key.contains("Patient-9") && !key.contains("Observation-2") {
                clean.insert("landing", &key, objects.get("landing", &key).await.unwrap());
            }
        }
        let v = distributed(&clean, 4, Some(1), 3).await;
        assert_eq!(v.verdict, Verdict::Unverifiable, "{v:?}");
    }

    #[tokio::test]
    async fn refusals_make_it_unverifiable_and_busy_s3_is_an_error() {
        let objects = bucket();
        let export = S3Folder::parse(EXPORT).unwrap();
        objects.deny("exports/");
        let Begun::Done(v) = begin(
            &objects,
            &export,
            Expectations::default(),
            &VerifyPolicy::default(),
            now(),
        )
        .await
        .unwrap() else {
            panic!()
        };
        assert_eq!(v.verdict, Verdict::Unverifiable);
        assert!(v.why.as_deref().unwrap().contains("AccessDenied"), "{v:?}");
        let e = storage_error(StorageError::Unavailable("timeout".into()));
        assert_eq!(e.error_name(), "hlx.VerificationUnavailable");
    }

    #[test]
    fn results_sit_beside_the_export() {
        let export = S3Folder::parse("s3://landing/exports/ds1-FHIR_EXPORT-j1/").unwrap();
        assert_eq!(export.prefix, "exports/ds1-FHIR_EXPORT-j1/");
        assert_eq!(
            export.verification_results("nightly-1").prefix,
            "exports/hlx-verification/ds1-FHIR_EXPORT-j1/nightly-1/"
        );
        let top = S3Folder::parse("s3://landing/ds1-FHIR_EXPORT-j1").unwrap();
        assert_eq!(
            top.verification_results("x").prefix,
            "hlx-verification/ds1-FHIR_EXPORT-j1/x/"
        );
    }
}
