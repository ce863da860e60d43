//! [`ExportObjects`] over S3's SDK client: an export's folder listed page by
//! page, each file streamed into the verifier chunk by chunk (never whole),
//! and the small objects of a distributed verification read and written.

use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use hlx_core::verification::FileVerifier;
use hlx_core::verification::storage::{ByteRange, ExportObjects, ObjectInfo, StorageError};

/// S3's answers worth asking again.
const BUSY: [&str; 5] = [
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
];

/// Ranged GETs one invocation keeps in flight (the shard check reads a
/// range of every child's id list).
pub const RANGES_IN_FLIGHT: usize = 32;

/// [`ExportObjects`] over the S3 SDK client.
#[derive(Debug, Clone)]
pub struct S3ExportObjects {
    client: aws_sdk_s3::Client,
}

impl S3ExportObjects {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// The client the SDK configuration describes; path-style addressing
    /// when an endpoint is overridden (`AWS_ENDPOINT_URL_S3` at a local stand-in).
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(crate::s3::client_from_config(config))
    }

    /// GetObject's body (of `range` only, a `Range` header's value), to be read.
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        range: Option<String>,
    ) -> Result<aws_sdk_s3::primitives::ByteStream, StorageError> {
        let object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
            .map_err(|e| storage_error("GetObject", e))?;
        Ok(object.body)
    }

    /// An object (or `range` of it) whole.
    async fn read(&self, bucket: &str, key: &str, range: Option<String>) -> Result<Vec<u8>, StorageError> {
        let bytes = self
            .open(bucket, key, range)
            .await?
            .collect()
            .await
            .map_err(|e| StorageError::Unavailable(format!("GetObject {key}: the body broke off: {e}")))?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// One range of an object, checked for its length.
    async fn read_range(&self, bucket: &str, range: &ByteRange) -> Result<Vec<u8>, StorageError> {
        let bytes = self.read(bucket, &range.key, Some(range.header())).await?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(StorageError::Unavailable(format!(
                "GetObject {} {}: {} bytes came back",
                range.key,
                range.header(),
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

fn storage_error<E, R>(call: &str, err: SdkError<E, R>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => {
            let code = service.code().unwrap_or("Unknown").to_owned();
            let message = format!("{call}: {}", service.message().unwrap_or_default());
            if BUSY.contains(&code.as_str()) {
                StorageError::Unavailable(format!("{code}: {message}"))
            } else {
                StorageError::Refused { code, message }
            }
        }
        None => match &err {
            // An answer S3 sent without a modeled error (a 403 to a HEAD, a 5xx page).
            SdkError::ResponseError(_) | SdkError::ServiceError(_) => {
                StorageError::Unavailable(format!("{call}: an unreadable answer: {err}"))
            }
            _ => StorageError::Unavailable(format!("{call} got no answer: {err}")),
        },
    }
}

impl ExportObjects for S3ExportObjects {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let listed = crate::s3::list_all(&self.client, bucket, prefix)
            .await
            .map_err(|e| storage_error("ListObjectsV2", e))?;
        Ok(listed
            .into_iter()
            .filter_map(|object| {
                Some(ObjectInfo {
                    size: object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    key: object.key?,
                })
            })
            .collect())
    }

    async fn read_into(
        &self,
        bucket: &str,
        key: &str,
        verifier: &mut FileVerifier,
    ) -> Result<(), StorageError> {
        let mut body = self.open(bucket, key, None).await?;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StorageError::Unavailable(format!("GetObject {key}: the body broke off: {e}")))?
        {
            verifier.push(&chunk);
        }
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StorageError> {
        self.read(bucket, key, None).await
    }

    async fn get_ranges(&self, bucket: &str, ranges: &[ByteRange]) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut read: Vec<Option<Vec<u8>>> = vec![None; ranges.len()];
        let mut in_flight = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < ranges.len() || !in_flight.is_empty() {
            while next < ranges.len() && in_flight.len() < RANGES_IN_FLIGHT {
                let (objects, bucket, range, n) =
                    (self.clone(), bucket.to_owned(), ranges[next].clone(), next);
                in_flight.spawn(async move { (n, objects.read_range(&bucket, &range).await) });
                next += 1;
            }
            if let Some(done) = in_flight.join_next().await {
                let (n, bytes) =
                    done.map_err(|e| StorageError::Unavailable(format!("a ranged GetObject: {e}")))?;
                read[n] = Some(bytes?);
            }
        }
        Ok(read
            .into_iter()
            .map(|bytes| bytes.expect("every range read"))
            .collect())
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<u64, StorageError> {
        let listed = crate::s3::list_all(&self.client, bucket, prefix)
            .await
            .map_err(|e| storage_error("ListObjectsV2", e))?;
        let keys: Vec<String> = listed.into_iter().filter_map(|o| o.key).collect();
        // DeleteObjects takes at most 1,000 keys a request.
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StorageError::Unavailable(format!("DeleteObjects: {e}")))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StorageError::Unavailable(format!("DeleteObjects: {e}")))?;
            let answer = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| storage_error("DeleteObjects", e))?;
            if let Some(refused) = answer.errors().first() {
                return Err(StorageError::Refused {
                    code: refused.code().unwrap_or("Unknown").to_owned(),
                    message: format!(
                        "DeleteObjects {}: {}",
                        refused.key().unwrap_or("?"),
                        refused.message().unwrap_or_default()
                    ),
                });
            }
        }
        Ok(keys.len() as u64)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        kms_key_id: &str,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(kms_key_id)
            .body(body.into())
            .send()
            .await
            .map_err(|e| storage_error("PutObject", e))?;
        Ok(())
    }
}
