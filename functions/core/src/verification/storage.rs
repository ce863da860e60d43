//! What the verification needs of S3, behind a small trait: list an
//! export's folder, stream a file into a [`FileVerifier`], and get and put
//! the small objects of the distributed path (result files, id lists).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;

use super::file::FileVerifier;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// A part of an object: bytes `start..end` of `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteRange {
    pub key: String,
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// The HTTP `Range` header's value (`bytes=first-last`, inclusive).
    pub fn header(&self) -> String {
        format!("bytes={}-{}", self.start, self.end.saturating_sub(1))
    }
}

/// Why S3 did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// S3 answered and refused (`AccessDenied`, `NoSuchKey`, a KMS refusal):
    /// asking again will not help.
    #[error("S3 {code}: {message}")]
    Refused { code: String, message: String },
    /// S3 did not answer, or answered that it is busy: worth retrying.
    #[error("S3 did not answer: {0}")]
    Unavailable(String),
}

/// An export's objects in S3.
pub trait ExportObjects: Send + Sync {
    /// Every object under `prefix`, in key order.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, StorageError>> + Send;

    /// Streams the object into `verifier`, chunk by chunk.
    fn read_into(
        &self,
        bucket: &str,
        key: &str,
        verifier: &mut FileVerifier,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// A small object whole (result files, id lists).
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// Byte ranges of objects (`key`, `start..end`), each read whole, in the
    /// order asked; an adapter may read them side by side.
    fn get_ranges(
        &self,
        bucket: &str,
        ranges: &[ByteRange],
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StorageError>> + Send;

    /// Deletes every object under `prefix` (the id lists once the verdict
    /// is in); answers how many there were.
    fn delete_prefix(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Writes a small object, encrypted with `kms_key_id`.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        kms_key_id: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Objects in memory, for tests: a bucket of keys, some of them refused.
#[derive(Debug, Default)]
pub struct InMemoryObjects {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    denied: Mutex<BTreeSet<String>>,
    /// Reads chunked in this many bytes (0: whole).
    chunk: usize,
}

impl InMemoryObjects {
    /// Objects whose reads arrive in chunks of `chunk` bytes.
    pub fn chunked(chunk: usize) -> Self {
        Self {
            chunk,
            ..Self::default()
        }
    }

    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.objects
            .lock()
            .expect("objects")
            .insert((bucket.to_owned(), key.to_owned()), body.into());
    }

    /// Refuses reads of keys starting with `prefix` (`AccessDenied`).
    pub fn deny(&self, prefix: &str) {
        self.denied.lock().expect("denied").insert(prefix.to_owned());
    }

    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let objects = self.objects.lock().expect("objects");
        objects
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    fn check(&self, key: &str) -> Result<(), StorageError> {
        let denied = self.denied.lock().expect("denied");
        if denied.iter().any(|p| key.starts_with(p.as_str())) {
            return Err(StorageError::Refused {
                code: "AccessDenied".into(),
                message: "Access Denied".into(),
            });
        }
        Ok(())
    }

    fn body(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StorageError> {
        self.check(key)?;
        let objects = self.objects.lock().expect("objects");
        objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| StorageError::Refused {
                code: "NoSuchKey".into(),
                message: format!("no {key}"),
            })
    }
}

impl ExportObjects for InMemoryObjects {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        self.check(prefix)?;
        let objects = self.objects.lock().expect("objects");
        Ok(objects
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, key), body)| ObjectInfo {
                key: key.clone(),
                size: body.len() as u64,
            })
            .collect())
    }

    async fn read_into(
        &self,
        bucket: &str,
        key: &str,
        verifier: &mut FileVerifier,
    ) -> Result<(), StorageError> {
        let body = self.body(bucket, key)?;
        let size = if self.chunk == 0 {
            body.len().max(1)
        } else {
            self.chunk
        };
        for chunk in body.chunks(size) {
            verifier.push(chunk);
        }
        Ok(())
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StorageError> {
        self.body(bucket, key)
    }

    async fn get_ranges(&self, bucket: &str, ranges: &[ByteRange]) -> Result<Vec<Vec<u8>>, StorageError> {
        ranges
            .iter()
            .map(|range| {
                let body = self.body(bucket, &range.key)?;
                let (start, end) = (range.start as usize, range.end as usize);
                body.get(start..end)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| StorageError::Refused {
                        code: "InvalidRange".into(),
                        message: format!("{} has {} bytes, not {start}..{end}", range.key, body.len()),
                    })
            })
            .collect()
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<u64, StorageError> {
        let mut objects = self.objects.lock().expect("objects");
        let before = objects.len();
        objects.retain(|(b, k), _| b != bucket || !k.starts_with(prefix));
        Ok((before - objects.len()) as u64)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _kms_key_id: &str,
    ) -> Result<(), StorageError> {
        self.insert(bucket, key, body);
        Ok(())
    }
}
