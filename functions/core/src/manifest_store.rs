//! Where an export's `manifest.json` goes: next to its files in S3,
//! encrypted with the export's KMS key, behind a small trait.
//!
//! A FHIR REST export's manifest is HealthLake's own (its status answer); a
//! full SDK export has none, so hlx builds the same shape by listing the
//! output prefix (files and types; counts only where HealthLake gave them).

use std::future::Future;

use aws_sdk_s3::types::ServerSideEncryption;

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
fn resource_type_of(key: &str) -> Option<String> {
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

/// [`ManifestStore`] over the S3 SDK client.
#[derive(Debug, Clone)]
pub struct S3ManifestStore {
    client: aws_sdk_s3::Client,
}

impl S3ManifestStore {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// The client the SDK configuration describes; path-style addressing
    /// when an endpoint is overridden (`AWS_ENDPOINT_URL_S3` at a local stand-in).
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let overridden = crate::rest::service_endpoint(config, "S3").is_some();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(overridden)
            .build();
        Self::new(aws_sdk_s3::Client::from_conf(s3))
    }
}

fn s3_error<E, R>(call: &str, err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> HlxError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => HlxError::S3 {
            code: service.code().unwrap_or("Unknown").to_owned(),
            message: format!("{call}: {}", service.message().unwrap_or_default()),
        },
        None => HlxError::S3 {
            code: "Unavailable".into(),
            message: format!("{call} got no answer: {err}"),
        },
    }
}

impl ManifestStore for S3ManifestStore {
    async fn put_manifest(
        &self,
        location: &str,
        manifest: &ExportManifest,
        kms_key_id: &str,
    ) -> Result<String, HlxError> {
        let uri = manifest_uri(location);
        let (bucket, key) = split_s3_uri(&uri)
            .ok_or_else(|| HlxError::InvalidInput(format!("not an S3 location: {location}")))?;
        let body = serde_json::to_vec_pretty(manifest).expect("a manifest serializes");
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms_key_id)
            .body(body.into())
            .send()
            .await
            .map_err(|e| s3_error("PutObject", e))?;
        Ok(uri)
    }

    async fn list_export(&self, location: &str) -> Result<(Vec<ManifestFile>, Vec<ManifestFile>), HlxError> {
        let (bucket, prefix) = split_s3_uri(location)
            .ok_or_else(|| HlxError::InvalidInput(format!("not an S3 location: {location}")))?;
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        let (mut data, mut errors) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(resource_type) = resource_type_of(key) else {
                    continue;
                };
                let file = ManifestFile {
                    resource_type,
                    url: format!("s3://{bucket}/{key}"),
                    count: None,
                };
                if key[prefix.len()..].starts_with("errors/") {
                    errors.push(file);
                } else {
                    data.push(file);
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok((data, errors))
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
