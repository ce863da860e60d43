//! The runner's S3 for Distributed Maps: its `ItemReader` lists and its
//! `ResultWriter` writes through the real S3 client at the emulator's S3
//! API, as Step Functions reaches S3 in AWS.

use aws_sdk_s3::error::ProvideErrorMetadata;
use hlx_asl_runner::{BoxFuture, ListedObject, MapStorage, TaskError};

/// [`MapStorage`] over the S3 SDK client.
pub(crate) struct S3MapStorage {
    pub(crate) client: aws_sdk_s3::Client,
}

fn s3_error<E: ProvideErrorMetadata + std::fmt::Debug>(call: &str, e: &E) -> TaskError {
    TaskError::new(
        format!("S3.{}", e.code().unwrap_or("Unknown")),
        format!("{call}: {}", e.message().unwrap_or("no message")),
    )
}

impl MapStorage for S3MapStorage {
    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ListedObject>, TaskError>> {
        Box::pin(async move {
            let objects = hlx_aws::s3::list_all(&self.client, bucket, prefix)
                .await
                .map_err(|e| s3_error("ListObjectsV2", &e))?;
            Ok(objects
                .iter()
                .filter_map(|object| {
                    Some(ListedObject {
                        key: object.key()?.to_owned(),
                        size: object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        etag: object.e_tag().unwrap_or_default().to_owned(),
                        last_modified: object.last_modified().map_or(0, |t| t.secs()),
                        storage_class: object
                            .storage_class()
                            .map_or("STANDARD".to_owned(), |c| c.as_str().to_owned()),
                    })
                })
                .collect())
        })
    }

    fn put_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(body.into())
                .send()
                .await
                .map_err(|e| s3_error("PutObject", &e))?;
            Ok(())
        })
    }
}
