//! The Bulk Data manifest of a completed export, and the summary of it that
//! the job record keeps.
//!
//! HealthLake's `$export` status answers with the manifest once the job has
//! completed: `transactionTime` (the instant the export reflects, and the
//! `_since` of the next incremental export), `request`, `output` (one entry
//! per NDJSON file: `type`, `url`, optional `count`) and `error`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::healthlake_json::{member, parse_healthlake_time};
use crate::time;

/// The file name the manifest is written under, next to the export's files.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// A Bulk Data export manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportManifest {
    #[serde(with = "time")]
    pub transaction_time: Timestamp,
    pub request: String,
    pub requires_access_token: bool,
    pub output: Vec<ManifestFile>,
    pub error: Vec<ManifestFile>,
}

/// What the job record keeps of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSummary {
    /// The instant the export reflects: the next incremental export's `_since`.
    #[serde(with = "time")]
    pub transaction_time: Timestamp,
    /// Data files written.
    pub files: u64,
    /// Error (`OperationOutcome`) files written.
    #[serde(default)]
    pub error_files: u64,
    /// Resources per type, for the types whose every file had a count.
    #[serde(default)]
    pub resources: BTreeMap<String, u64>,
    /// Some file had no `count`: its type is missing from `resources`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counts_incomplete: bool,
    /// Where hlx wrote `manifest.json` (next to the files, KMS-encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Why it could not: the export's files are complete, only the index is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_error: Option<String>,
}

impl ManifestSummary {
    /// Resources exported, over the types counted.
    pub fn total_resources(&self) -> u64 {
        self.resources.values().sum()
    }
}

impl ExportManifest {
    /// The manifest members of a status GET body (beside
    /// `exportJobProperties`), read leniently; `None` without a readable
    /// `transactionTime`.
    pub fn from_status_body(value: &Value) -> Option<Self> {
        let transaction_time = member(value, "transactionTime").and_then(parse_healthlake_time)?;
        let files = |name: &str| -> Vec<ManifestFile> {
            member(value, name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            Some(ManifestFile {
                                resource_type: member(item, "type")?.as_str()?.to_owned(),
                                url: member(item, "url")?.as_str()?.to_owned(),
                                count: member(item, "count").and_then(Value::as_u64),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Self {
            transaction_time,
            request: member(value, "request")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            requires_access_token: member(value, "requiresAccessToken")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            output: files("output"),
            error: files("error"),
        })
    }

    pub fn summary(&self) -> ManifestSummary {
        let mut resources: BTreeMap<String, u64> = BTreeMap::new();
        let mut uncounted: Vec<&str> = Vec::new();
        for file in &self.output {
            match file.count {
                Some(n) => *resources.entry(file.resource_type.clone()).or_default() += n,
                None => uncounted.push(&file.resource_type),
            }
        }
        for resource_type in &uncounted {
            resources.remove(*resource_type);
        }
        ManifestSummary {
            transaction_time: self.transaction_time,
            files: self.output.len() as u64,
            error_files: self.error.len() as u64,
            resources,
            counts_incomplete: !uncounted.is_empty(),
            uri: None,
            write_error: None,
        }
    }
}
