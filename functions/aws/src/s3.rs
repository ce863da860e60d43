//! [`ManifestStore`] over S3's SDK client.

use aws_sdk_s3::types::ServerSideEncryption;
use hlx_core::HlxError;
use hlx_core::manifest::{ExportManifest, ManifestFile};
use hlx_core::manifest_store::{ManifestStore, manifest_uri, resource_type_of, split_s3_uri};

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
        Self::new(client_from_config(config))
    }
}

/// The S3 client the SDK configuration describes; path-style addressing
/// when an endpoint is overridden (`AWS_ENDPOINT_URL_S3` at a local stand-in).
pub fn client_from_config(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let overridden = crate::rest::service_endpoint(config, "S3").is_some();
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(overridden)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
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
        let listed = list_all(&self.client, bucket, &prefix)
            .await
            .map_err(|e| s3_error("ListObjectsV2", e))?;
        for object in &listed {
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
        Ok((data, errors))
    }
}

/// Every object under `prefix`, all of ListObjectsV2's pages (the SDK's
/// paginator follows the continuation tokens).
pub async fn list_all(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<
    Vec<aws_sdk_s3::types::Object>,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        objects.extend(page?.contents.unwrap_or_default());
    }
    Ok(objects)
}
