//! Where an export's `manifest.json` goes: next to its files in S3,
//! encrypted with the export's KMS key, behind a small trait; how its
//! locations and file keys read.
//!
//! A FHIR REST export's manifest is HealthLake's own (its status answer); a
//! full SDK export has none, so hlx builds the same shape by listing the
//! output prefix (files and types; counts only where HealthLake gave them).

use std::future::Future;

use crate::error::HlxError;
use crate::manifest::{ExportManifest, MANIFEST_FILE, ManifestFile};

/// An S3 location split: `s3://bucket/key/prefix/` → (`bucket`, `key/prefix/`).
pub fn split_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// Where the manifest of the export whose folder is `location` goes.
pub fn manifest_uri(location: &str) -> String {
    format!("{}/{MANIFEST_FILE}", location.trim_end_matches('/'))
}

/// The resource type of an export file from its key:
/// `…/{ds}-FHIR_EXPORT-{job}/{Type}/{Type}-1.ndjson` → `Type` (`errors/` → `OperationOutcome`).
pub fn resource_type_of(key: &str) -> Option<String> {
    let mut parts = key.rsplit('/');
    let file = parts.next()?;
    let folder = parts.next()?;
    if !file.ends_with(".ndjson") {
        return None;
    }
    Some(if folder == "errors" {
        "OperationOutcome".into()
    } else {
        folder.to_owned()
    })
}

/// Manifests written and export folders listed.
pub trait ManifestStore: Send + Sync {
    /// Writes `manifest` as `{location}/manifest.json`, encrypted with `kms_key_id`; returns its URI.
    fn put_manifest(
        &self,
        location: &str,
        manifest: &ExportManifest,
        kms_key_id: &str,
    ) -> impl Future<Output = Result<String, HlxError>> + Send;

    /// The NDJSON files under an export folder: (data files, error files).
    fn list_export(
        &self,
        location: &str,
    ) -> impl Future<Output = Result<(Vec<ManifestFile>, Vec<ManifestFile>), HlxError>> + Send;
}

/// No manifests (tests and callers without S3).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoManifests;

impl ManifestStore for NoManifests {
    async fn put_manifest(&self, _: &str, _: &ExportManifest, _: &str) -> Result<String, HlxError> {
        Err(HlxError::InvalidInput("no manifest store is configured".into()))
    }

    async fn list_export(&self, _: &str) -> Result<(Vec<ManifestFile>, Vec<ManifestFile>), HlxError> {
        Err(HlxError::InvalidInput("no manifest store is configured".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_split_and_files_are_typed_by_their_folder() {
        assert_eq!(split_s3_uri("s3://b/x/y/"), Some(("b", "x/y/")));
        assert_eq!(split_s3_uri("s3://b"), Some(("b", "")));
        assert_eq!(split_s3_uri("b/x"), None);
        assert_eq!(
            manifest_uri("s3://b/x/ds-FHIR_EXPORT-j/"),
            "s3://b/x/ds-FHIR_EXPORT-j/manifest.json"
        );
        assert_eq!(
            resource_type_of("x/ds-FHIR_EXPORT-j/Patient/Patient-1.ndjson").as_deref(),
            Some("Patient")
        );
        assert_eq!(
            resource_type_of("x/ds-FHIR_EXPORT-j/errors/OperationOutcome-1.ndjson").as_deref(),
            Some("OperationOutcome")
        );
        assert_eq!(resource_type_of("x/ds-FHIR_EXPORT-j/manifest.json"), None);
    }
}
