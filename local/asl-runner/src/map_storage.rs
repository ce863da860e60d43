//! What a Distributed Map needs of S3: its `ItemReader`
//! (`arn:aws:states:::s3:listObjectsV2`) lists objects, its `ResultWriter`
//! (`arn:aws:states:::s3:putObject`) writes the Map Run's results. The runner
//! takes it as a trait ([`RunnerBuilder::map_storage`](crate::RunnerBuilder::map_storage)),
//! so the runner needs no AWS SDK: local mode gives it the SDK's S3 client
//! at the emulator, tests an in-memory bucket.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::invoker::{BoxFuture, TaskError};

/// One object of a listing, as `ListObjectsV2` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: i64,
    pub storage_class: String,
}

impl ListedObject {
    /// The item a Distributed Map's ItemReader gives for this object.
    pub fn to_item(&self) -> Value {
        json!({
            "Etag": self.etag,
            "Key": self.key,
            "LastModified": self.last_modified,
            "Size": self.size,
            "StorageClass": self.storage_class,
        })
    }
}

/// S3 as a Distributed Map reads and writes it. Errors name the S3 error
/// code (`S3.AccessDenied`, `S3.NoSuchBucket`, ...).
pub trait MapStorage: Send + Sync {
    /// Every object under `prefix`, in key order, all pages.
    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ListedObject>, TaskError>>;

    /// Writes an object.
    fn put_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
}

/// A bucket in memory, for tests.
#[derive(Debug, Default)]
pub struct InMemoryMapStorage {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl InMemoryMapStorage {
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.lock()
            .insert((bucket.to_owned(), key.to_owned()), body.into());
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.lock().get(&(bucket.to_owned(), key.to_owned())).cloned()
    }

    /// Every key of `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MapStorage for InMemoryMapStorage {
    fn list_objects<'a>(
        &'a self,
        bucket: &'a str,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ListedObject>, TaskError>> {
        let listed = self
            .lock()
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, key), body)| ListedObject {
                key: key.clone(),
                size: body.len() as u64,
                etag: format!("\"{:032x}\"", body.len()),
                last_modified: 0,
                storage_class: "STANDARD".into(),
            })
            .collect();
        Box::pin(async move { Ok(listed) })
    }

    fn put_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.insert(bucket, key, body);
        Box::pin(async { Ok(()) })
    }
}
