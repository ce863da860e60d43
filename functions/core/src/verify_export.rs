//! The verify-export function's steps, as the state machine calls them:
//! `begin` (list, and verify in this invocation when the export is small),
//! a Distributed Map child's batch (`Items` and `BatchInput`), `duplicates`
//! (one shard of the duplicate check over the children's id lists) and
//! `fold` (the children's results and the shards' findings into the
//! verdict). `begin` and `fold` answer the [`VerifyState`] the state machine
//! carries to the record and the notice.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HlxError;
use crate::kind::JobKind;
use crate::progress::JobProgress;
use crate::record::{JobRecord, RecordRequest};
use crate::status::{JobStatus, RecordStatus};
use crate::store::JobStore;
use crate::verification::run::{
    Begun, S3Folder, batch_items, begin, duplicates_in_shard, fold_distributed, storage_error, verify_batch,
};
use crate::verification::shards::id_lists_prefix;
use crate::verification::storage::ExportObjects;
use crate::verification::verdict::{
    Baseline, Duplicates, Expectations, Verdict, Verification, VerificationPath, VerifyPolicy, judge,
};

/// How many reasons a notice names.
const REASONS_IN_NOTICE: usize = 10;

/// The first and last steps' input: the job as the state machine knows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyJobInput {
    /// The record's id (the execution's name).
    pub id: String,
    #[serde(with = "crate::time")]
    pub now: Timestamp,
    pub request: Value,
    pub progress: JobProgress,
}

/// The fold's input: the job, what `begin` answered, and the Map's result.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldInput {
    #[serde(flatten)]
    pub job: VerifyJobInput,
    pub verify: VerifyState,
    /// The Distributed Map's output: `{"ResultWriterDetails": {"Bucket", "Key"}}`.
    pub map: Value,
}

/// What a Distributed Map child is given with its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchContext {
    pub export_bucket: String,
    pub export_prefix: String,
    pub results_bucket: String,
    pub results_prefix: String,
    pub kms_key_id: String,
    /// How many shards the id lists are split into.
    #[serde(default = "one_shard")]
    pub shards: u32,
}

fn one_shard() -> u32 {
    1
}

/// One shard of the duplicate check: its input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardInput {
    pub shard: u32,
    pub results: S3Folder,
    pub kms_key_id: String,
    /// The Distributed Map's output: `{"ResultWriterDetails": {"Bucket", "Key"}}`.
    pub map: Value,
}

/// What one shard's check answers; its findings are in S3
/// ([`duplicates_key`]), for the fold: all shards' named duplicates
/// together could exceed what a state may carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardChecked {
    pub shard: u32,
    pub duplicates: u64,
}

/// Where the check of `shard` keeps its findings.
pub fn duplicates_key(results: &S3Folder, shard: u32) -> String {
    format!("{}duplicates/shard-{shard:04}.json", results.prefix)
}

/// One step's input.
#[derive(Debug, Clone)]
pub enum VerifyStep {
    Begin(Box<VerifyJobInput>),
    Batch {
        items: Vec<Value>,
        context: BatchContext,
    },
    Duplicates(Box<ShardInput>),
    Fold(Box<FoldInput>),
}

impl VerifyStep {
    /// Tells the steps apart: a child's input has `Items`; the others an `action`.
    pub fn from_value(value: Value) -> Result<Self, HlxError> {
        let invalid = |e: serde_json::Error| HlxError::InvalidInput(e.to_string());
        if let Some(items) = value.get("Items").and_then(Value::as_array) {
            let context = value
                .get("BatchInput")
                .cloned()
                .ok_or_else(|| HlxError::InvalidInput("a batch without BatchInput".into()))?;
            return Ok(Self::Batch {
                items: items.clone(),
                context: serde_json::from_value(context).map_err(invalid)?,
            });
        }
        match value.get("action").and_then(Value::as_str) {
            Some("begin") => Ok(Self::Begin(Box::new(
                serde_json::from_value(value).map_err(invalid)?,
            ))),
            Some("duplicates") => Ok(Self::Duplicates(Box::new(
                serde_json::from_value(value).map_err(invalid)?,
            ))),
            Some("fold") => Ok(Self::Fold(Box::new(
                serde_json::from_value(value).map_err(invalid)?,
            ))),
            other => Err(HlxError::InvalidInput(format!(
                "unknown verification step {other:?}: expected action begin, duplicates or fold, or Items"
            ))),
        }
    }
}

/// What the state machine carries between the steps and to the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyState {
    /// True: the Distributed Map reads the files, then `fold` judges.
    pub distributed: bool,
    /// The verdict, once there is one.
    #[serde(default)]
    pub verification: Option<Verification>,
    pub export: S3Folder,
    pub results: S3Folder,
    pub kms_key_id: String,
    /// Objects listed under the export's folder.
    pub files: u64,
    pub bytes: u64,
    /// On the Distributed Map, the duplicate check's shards (`shardList`:
    /// 0 to `shards` - 1, the items of the state that checks them).
    #[serde(default = "one_shard")]
    pub shards: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shard_list: Vec<u32>,
    /// Whether to publish the notice: a verdict other than `VERIFIED`, or a nightly export.
    pub notify: bool,
    pub subject: String,
    pub message: String,
}

/// The previous export of the same scope, for a full export: the newest
/// other completed full export of the data store and chain whose
/// verification counted its files.
pub async fn baseline_for(store: &impl JobStore, record: &JobRecord) -> Result<Option<Baseline>, HlxError> {
    if record.mode.as_deref() != Some("full") {
        // An incremental export holds only what changed: a type may rightly be absent.
        return Ok(None);
    }
    let Some(datastore_id) = record.datastore_id.as_deref() else {
        return Ok(None);
    };
    let mut token: Option<String> = None;
    for _ in 0..4 {
        let page = store
            .list(JobKind::Export, datastore_id, 50, token.as_deref())
            .await?;
        for other in &page.records {
            let completed = matches!(
                other.status,
                RecordStatus::Job(JobStatus::Completed | JobStatus::CompletedWithErrors)
            );
            let counted = other
                .verification
                .as_ref()
                .filter(|v| v.verdict != Verdict::Unverifiable);
            if other.id != record.id
                && completed
                && other.mode.as_deref() == Some("full")
                && other.chain() == record.chain()
                && let Some(v) = counted
            {
                return Ok(Some(Baseline {
                    export_id: other.id.clone(),
                    resources_by_type: v.resources_by_type.clone(),
                }));
            }
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok(None)
}

/// The record this job will have: its data store, mode, chain and trigger.
fn record_of(job: &VerifyJobInput) -> Result<JobRecord, HlxError> {
    let request = RecordRequest {
        id: job.id.clone(),
        execution_arn: String::new(),
        execution_started_at: job.now,
        now: job.now,
        request: job.request.clone(),
        progress: Some(job.progress.clone()),
        error: None,
        outcome: None,
        verification: None,
    };
    JobRecord::from_request(request)
}

/// Runs one step.
pub async fn verify_step(
    objects: &impl ExportObjects,
    store: &impl JobStore,
    policy: &VerifyPolicy,
    step: VerifyStep,
) -> Result<Value, HlxError> {
    match step {
        VerifyStep::Begin(job) => {
            let record = record_of(&job)?;
            let output = job.progress.output.as_ref().ok_or_else(|| {
                HlxError::InvalidInput("the export's progress names no output folder".into())
            })?;
            let export = S3Folder::parse(&output.location)?;
            let results = export.verification_results(&job.id);
            let baseline = baseline_for(store, &record).await?;
            let expect = Expectations {
                manifest: job.progress.manifest.as_ref(),
                baseline: baseline.as_ref(),
            };
            let mut state = VerifyState {
                distributed: false,
                verification: None,
                export: export.clone(),
                results,
                kms_key_id: output.kms_key_id.clone(),
                files: 0,
                bytes: 0,
                shards: 1,
                shard_list: Vec::new(),
                notify: false,
                subject: String::new(),
                message: String::new(),
            };
            match begin(objects, &export, expect, policy, job.now).await? {
                Begun::Done(verification) => {
                    state.files = verification.files;
                    state.bytes = verification.bytes;
                    judged(&mut state, &record, verification);
                }
                Begun::Distributed { files, bytes, shards } => {
                    state.distributed = true;
                    state.files = files;
                    state.bytes = bytes;
                    state.shards = shards;
                    state.shard_list = (0..shards).collect();
                }
            }
            Ok(json(&state))
        }
        VerifyStep::Batch { items, context } => {
            let export = S3Folder {
                bucket: context.export_bucket,
                prefix: context.export_prefix,
            };
            let results = S3Folder {
                bucket: context.results_bucket,
                prefix: context.results_prefix,
            };
            let files = batch_items(&items)?;
            let batch = verify_batch(
                objects,
                &export,
                &results,
                &context.kms_key_id,
                &files,
                context.shards,
            )
            .await?;
            Ok(json(&batch))
        }
        VerifyStep::Duplicates(input) => {
            let manifest = result_writer_manifest(&input.map)?;
            let found = duplicates_in_shard(objects, &input.results, manifest, input.shard).await?;
            let body = serde_json::to_vec(&found).expect("duplicates serialize");
            let key = duplicates_key(&input.results, input.shard);
            objects
                .put(&input.results.bucket, &key, body, &input.kms_key_id)
                .await
                .map_err(storage_error)?;
            Ok(json(&ShardChecked {
                shard: input.shard,
                duplicates: found.count,
            }))
        }
        VerifyStep::Fold(input) => {
            let FoldInput { job, mut verify, map } = *input;
            let record = record_of(&job)?;
            let manifest = result_writer_manifest(&map)?;
            let baseline = baseline_for(store, &record).await?;
            let expect = Expectations {
                manifest: job.progress.manifest.as_ref(),
                baseline: baseline.as_ref(),
            };
            let folded = fold_distributed(objects, manifest, verify.files, expect, policy).await?;
            let mut duplicates = Vec::with_capacity(verify.shards as usize);
            for shard in 0..verify.shards {
                let key = duplicates_key(&verify.results, shard);
                let bytes = objects
                    .get(&verify.results.bucket, &key)
                    .await
                    .map_err(storage_error)?;
                let found: Duplicates = serde_json::from_slice(&bytes)
                    .map_err(|e| HlxError::InvalidInput(format!("the duplicate check at {key}: {e}")))?;
                duplicates.push(found);
            }
            let verification = judge(folded, &duplicates, VerificationPath::Distributed, job.now);
            verify.shard_list = Vec::new();
            // The id lists (12 bytes a resource) served the duplicate check
            // only; the children's and the shards' results stay as the audit.
            let ids = id_lists_prefix(&verify.results);
            match objects.delete_prefix(&verify.results.bucket, &ids).await {
                Ok(deleted) => tracing::info!(deleted, prefix = %ids, "id lists deleted"),
                Err(error) => tracing::warn!(%error, prefix = %ids, "the id lists stay: not deleted"),
            }
            judged(&mut verify, &record, verification);
            Ok(json(&verify))
        }
    }
}

/// Sets the verdict and the notice that goes with it.
fn judged(state: &mut VerifyState, record: &JobRecord, verification: Verification) {
    let nightly = record.trigger.as_deref() == Some("schedule");
    state.notify = nightly || verification.verdict != Verdict::Verified;
    state.subject = notice_subject(record, &verification);
    state.message = notice_message(record, &verification);
    state.verification = Some(verification);
}

/// The notice's subject (SNS: at most 100 characters).
pub fn notice_subject(record: &JobRecord, verification: &Verification) -> String {
    let datastore = record.datastore_id.as_deref().unwrap_or("?");
    let what = if record.trigger.as_deref() == Some("schedule") {
        "nightly export"
    } else {
        "export"
    };
    let subject = format!("hlx {what} of {datastore}: {}", verification.verdict.as_str());
    subject.chars().take(100).collect()
}

/// The notice: the verdict, its counts and reasons, where the files are.
pub fn notice_message(record: &JobRecord, verification: &Verification) -> String {
    let mut lines = vec![
        format!(
            "Export {} ({})",
            record.id,
            record.mode.as_deref().unwrap_or("full")
        ),
        format!("Data store: {}", record.datastore_id.as_deref().unwrap_or("?")),
        format!(
            "HealthLake job: {} {}",
            record.job_id.as_deref().unwrap_or("?"),
            record.job_status.as_deref().unwrap_or("?")
        ),
        format!("Verification: {}", verification.headline()),
    ];
    if let Some(location) = &record.output_location {
        lines.push(format!("Files: {location}"));
    }
    if !verification.resources_by_type.is_empty() {
        let counts: Vec<String> = verification
            .resources_by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        lines.push(format!("Resources: {}", counts.join(", ")));
    }
    if let Some(baseline) = &verification.baseline {
        lines.push(format!("Compared with export {baseline}"));
    }
    for reason in verification.reasons.iter().take(REASONS_IN_NOTICE) {
        lines.push(format!("- {}: {}", reason.code(), reason.describe()));
    }
    let unnamed = verification.reason_count.saturating_sub(REASONS_IN_NOTICE as u64);
    if unnamed > 0 {
        lines.push(format!("... and {unnamed} more (hlx status {})", record.id));
    }
    lines.join("\n")
}

/// Where the Distributed Map's `ResultWriter` put its manifest.
fn result_writer_manifest(map: &Value) -> Result<(&str, &str), HlxError> {
    let bucket = map.pointer("/ResultWriterDetails/Bucket").and_then(Value::as_str);
    let key = map.pointer("/ResultWriterDetails/Key").and_then(Value::as_str);
    match (bucket, key) {
        (Some(bucket), Some(key)) => Ok((bucket, key)),
        _ => Err(HlxError::InvalidInput(
            "the Distributed Map's output has no ResultWriterDetails".into(),
        )),
    }
}

fn json(output: &impl Serialize) -> Value {
    serde_json::to_value(output).expect("verification outputs serialize")
}

/// Why `hlx verify` did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReverifyError {
    #[error("no export {0} in the job history")]
    Unknown(String),
    #[error("export {id} is {status}: only an export HealthLake completed can be verified")]
    NotCompleted { id: String, status: String },
    #[error(transparent)]
    Failed(#[from] HlxError),
}

/// Verifies a recorded export again, by hand, in this process whatever its
/// size (no Lambda time limit here), and, with `record`, keeps the new
/// verdict in its record (HealthLake's status is untouched).
pub async fn reverify(
    objects: &impl ExportObjects,
    store: &impl JobStore,
    id: &str,
    policy: &VerifyPolicy,
    now: Timestamp,
    record: bool,
) -> Result<Verification, ReverifyError> {
    let stored = store
        .get(JobKind::Export, id)
        .await?
        .ok_or_else(|| ReverifyError::Unknown(id.to_owned()))?;
    let location = match (&stored.output_location, crate::store::verifiable(&stored)) {
        (Some(location), true) => location.clone(),
        _ => {
            return Err(ReverifyError::NotCompleted {
                id: id.to_owned(),
                status: stored.status.to_string(),
            });
        }
    };
    let export = S3Folder::parse(&location)?;
    let baseline = baseline_for(store, &stored).await?;
    let expect = Expectations {
        manifest: stored.manifest.as_ref(),
        baseline: baseline.as_ref(),
    };
    let whole = VerifyPolicy {
        single_max_files: u64::MAX,
        single_max_bytes: u64::MAX,
        ..policy.clone()
    };
    let verification = match begin(objects, &export, expect, &whole, now).await? {
        Begun::Done(verification) => verification,
        Begun::Distributed { files, .. } => {
            return Err(
                HlxError::InvalidInput(format!("{files} files: more than this process reads")).into(),
            );
        }
    };
    if record && !store.set_verification(id, &verification).await? {
        return Err(ReverifyError::NotCompleted {
            id: id.to_owned(),
            status: "no longer a completed export".into(),
        });
    }
    Ok(verification)
}
