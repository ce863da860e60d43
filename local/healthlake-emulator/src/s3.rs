//! A minimal Amazon S3 (REST, path-style) over the output root:
//! PutObject, GetObject, HeadObject and ListObjectsV2, every request
//! SigV4-verified for the signing name `s3`, errors as S3's XML.
//!
//! `s3://bucket/key` is `<output_root>/bucket/key` ([`s3_uri_to_path`]); the
//! bytes live on disk, the metadata of objects put over S3 (content type,
//! server-side encryption) in memory.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::error::ErrorKind;
use crate::fhir::instant;
use crate::sigv4::{self, Received};
use crate::{Emulator, s3_uri_to_path};

/// The namespace of S3's XML documents.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// One object as the emulator's S3 holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// The object's bytes (read from disk).
    pub bytes: Vec<u8>,
    /// The `Content-Type` it was put with.
    pub content_type: Option<String>,
    /// The `x-amz-server-side-encryption` it was put with (`aws:kms`, `AES256`).
    pub sse: Option<String>,
    /// The `x-amz-server-side-encryption-aws-kms-key-id` it was put with.
    pub kms_key_id: Option<String>,
}

/// What a PutObject recorded about an object.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectMeta {
    content_type: Option<String>,
    sse: Option<String>,
    kms_key_id: Option<String>,
}

/// The in-memory side of the emulator's S3: metadata by file path, and the
/// request ids (a counter of their own, so the seeded ids of HealthLake
/// calls do not depend on S3 traffic).
#[derive(Debug, Default)]
pub(crate) struct S3Store {
    meta: HashMap<PathBuf, ObjectMeta>,
    requests: u64,
    /// `bucket/key-prefix`es whose reads and listings answer `AccessDenied`.
    pub(crate) denied_reads: Vec<String>,
}

/// An S3 answer.
pub(crate) struct S3Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

struct S3Error {
    status: u16,
    code: &'static str,
    message: String,
    resource: String,
}

fn err(status: u16, code: &'static str, message: impl Into<String>, resource: &str) -> S3Error {
    S3Error {
        status,
        code,
        message: message.into(),
        resource: resource.to_owned(),
    }
}

const NO_SUCH_KEY: &str = "The specified key does not exist.";
const NO_SUCH_BUCKET: &str = "The specified bucket does not exist";

impl Emulator {
    /// The object at `s3_uri` (`s3://bucket/key`) under the output root: its
    /// bytes from disk and what PutObject recorded about it. Files written by
    /// exports and imports themselves carry no metadata (`content_type`,
    /// `sse` and `kms_key_id` are `None`). `None` when there is no output
    /// root or no regular file there.
    pub fn s3_object(&self, s3_uri: &str) -> Option<S3Object> {
        let root = self.state().config.output_root.clone()?;
        let path = s3_uri_to_path(&root, s3_uri);
        if !is_file(&path) {
            return None;
        }
        let bytes = fs::read(&path).ok()?;
        let meta = self.s3_store().meta.get(&path).cloned().unwrap_or_default();
        Some(S3Object {
            bytes,
            content_type: meta.content_type,
            sse: meta.sse,
            kms_key_id: meta.kms_key_id,
        })
    }

    /// Serves one S3 request (anything that is neither `/` nor under `/datastore/`).
    pub(crate) fn s3(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> S3Reply {
        // Jobs due by now have written their files.
        self.advance();
        let request_id = {
            let mut store = self.s3_store();
            store.requests += 1;
            format!("{:016X}", store.requests)
        };
        let (root, credentials) = {
            let state = self.state();
            (state.config.output_root.clone(), state.config.credentials.clone())
        };
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let received = Received {
            method: method.as_str(),
            uri: path_and_query,
            headers,
            body,
        };
        let result = match sigv4::verify_service(&received, &credentials, sigv4::S3_SERVICE) {
            Err(error) => Err(auth_error(error.kind, error.message, uri.path())),
            Ok(()) => self.s3_operation(root.as_deref(), method, uri, headers, body),
        };
        let mut reply = match result {
            Ok(reply) => reply,
            Err(error) => {
                let body = if *method == Method::HEAD {
                    Vec::new()
                } else {
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{request_id}</RequestId></Error>",
                        error.code,
                        xml_escape(&error.message),
                        xml_escape(&error.resource)
                    )
                    .into_bytes()
                };
                let mut headers = vec![("x-amz-error-code", error.code.to_owned())];
                if !body.is_empty() {
                    headers.push(("content-type", "application/xml".to_owned()));
                }
                S3Reply {
                    status: error.status,
                    headers,
                    body,
                }
            }
        };
        tracing::info!(method = %method, path = %uri.path(), status = reply.status, %request_id, "s3");
        reply.headers.push(("x-amz-request-id", request_id.clone()));
        reply.headers.push(("x-amz-id-2", request_id));
        reply
    }

    fn s3_operation(
        &self,
        root: Option<&Path>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<S3Reply, S3Error> {
        let raw_path = uri.path();
        let trimmed = raw_path.strip_prefix('/').unwrap_or(raw_path);
        let (raw_bucket, raw_key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let bucket = percent_decode(raw_bucket)
            .ok_or_else(|| err(400, "InvalidURI", "Couldn't parse the specified URI.", raw_path))?;
        let key = percent_decode(raw_key)
            .ok_or_else(|| err(400, "InvalidURI", "Couldn't parse the specified URI.", raw_path))?;
        if bucket.is_empty() || bucket == "." || bucket == ".." || bucket.contains(['\\', '/']) {
            return Err(err(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
                raw_path,
            ));
        }
        let query = parse_query(uri.query().unwrap_or(""));
        let resource = format!(
            "/{bucket}{}",
            if key.is_empty() {
                String::new()
            } else {
                format!("/{key}")
            }
        );
        let Some(root) = root else {
            return Err(err(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist (the emulator has no output root)",
                &resource,
            ));
        };
        let bucket_dir = s3_uri_to_path(root, &format!("s3://{bucket}"));
        let read = *method == Method::GET || *method == Method::HEAD;
        let read_of = if key.is_empty() {
            format!(
                "{bucket}/{}",
                query.get("prefix").map(String::as_str).unwrap_or_default()
            )
        } else {
            format!("{bucket}/{key}")
        };
        if read
            && self
                .s3_store()
                .denied_reads
                .iter()
                .any(|denied| read_of.starts_with(denied.as_str()))
        {
            return Err(err(403, "AccessDenied", "Access Denied", &resource));
        }
        if key.is_empty() {
            return match *method {
                Method::GET if query.get("list-type").map(String::as_str) == Some("2") => {
                    list_objects_v2(&bucket, &bucket_dir, &query, &resource)
                }
                Method::POST if query.contains_key("delete") => {
                    if !bucket_dir.is_dir() {
                        return Err(err(404, "NoSuchBucket", NO_SUCH_BUCKET, &resource));
                    }
                    self.delete_objects(root, &bucket, body, &resource)
                }
                Method::HEAD if query.is_empty() => {
                    if bucket_dir.is_dir() {
                        Ok(S3Reply {
                            status: 200,
                            headers: Vec::new(),
                            body: Vec::new(),
                        })
                    } else {
                        Err(err(404, "NoSuchBucket", NO_SUCH_BUCKET, &resource))
                    }
                }
                _ => Err(not_implemented(method, &resource)),
            };
        }
        if query.keys().any(|k| k != "x-id") {
            return Err(not_implemented(method, &resource));
        }
        let path = s3_uri_to_path(root, &format!("s3://{bucket}/{key}"));
        match *method {
            Method::PUT => self.put_object(&path, headers, body, &resource),
            Method::GET | Method::HEAD => {
                if !is_file(&path) {
                    return Err(if bucket_dir.is_dir() {
                        err(404, "NoSuchKey", NO_SUCH_KEY, &resource)
                    } else {
                        err(404, "NoSuchBucket", NO_SUCH_BUCKET, &resource)
                    });
                }
                let file = fs::metadata(&path).map_err(|e| internal(&e, &resource))?;
                let len = usize::try_from(file.len()).unwrap_or(usize::MAX);
                let meta = self.s3_store().meta.get(&path).cloned().unwrap_or_default();
                let range = match headers.get("range").and_then(|v| v.to_str().ok()) {
                    None => None,
                    Some(asked) => Some(byte_range(asked, len).ok_or_else(|| {
                        err(
                            416,
                            "InvalidRange",
                            "The requested range is not satisfiable",
                            &resource,
                        )
                    })?),
                };
                let part = range.clone().unwrap_or(0..len);
                // What is sent, and only that, is read (a HEAD reads nothing).
                let bytes = if *method == Method::HEAD {
                    Vec::new()
                } else {
                    read_part(&path, &part).map_err(|e| internal(&e, &resource))?
                };
                let mut headers = vec![
                    ("etag", etag(&path, &file)),
                    ("content-length", part.len().to_string()),
                    (
                        "content-type",
                        meta.content_type
                            .clone()
                            .unwrap_or_else(|| "binary/octet-stream".to_owned()),
                    ),
                    ("last-modified", http_date(file.modified().ok())),
                    ("accept-ranges", "bytes".to_owned()),
                ];
                if range.is_some() {
                    headers.push((
                        "content-range",
                        format!("bytes {}-{}/{len}", part.start, part.end - 1),
                    ));
                }
                sse_headers(&meta, &mut headers);
                Ok(S3Reply {
                    status: if range.is_some() { 206 } else { 200 },
                    headers,
                    body: bytes,
                })
            }
            _ => Err(not_implemented(method, &resource)),
        }
    }

    /// `DeleteObjects` (`POST /{bucket}?delete`): each `<Key>` of the
    /// `<Delete>` body removed; a key with no object counts as deleted, as
    /// in S3. `<Quiet>true</Quiet>` answers errors only (there are none).
    fn delete_objects(
        &self,
        root: &Path,
        bucket: &str,
        body: &[u8],
        resource: &str,
    ) -> Result<S3Reply, S3Error> {
        let malformed = || {
            err(
                400,
                "MalformedXML",
                "The XML you provided was not well-formed",
                resource,
            )
        };
        let text = std::str::from_utf8(body).map_err(|_| malformed())?;
        if !text.contains("<Delete") {
            return Err(malformed());
        }
        let keys = xml_elements(text, "Key").ok_or_else(malformed)?;
        if keys.is_empty() || keys.len() > 1000 {
            return Err(malformed());
        }
        let quiet =
            xml_elements(text, "Quiet").is_some_and(|q| q.first().map(String::as_str) == Some("true"));
        let mut deleted = String::new();
        for key in &keys {
            let path = s3_uri_to_path(root, &format!("s3://{bucket}/{key}"));
            if is_file(&path) {
                fs::remove_file(&path).map_err(|e| internal(&e, resource))?;
                self.s3_store().meta.remove(&path);
            }
            if !quiet {
                deleted.push_str(&format!("<Deleted><Key>{}</Key></Deleted>", xml_escape(key)));
            }
        }
        Ok(S3Reply {
            status: 200,
            headers: vec![("content-type", "application/xml".to_owned())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{deleted}</DeleteResult>"
            )
            .into_bytes(),
        })
    }

    fn put_object(
        &self,
        path: &Path,
        headers: &HeaderMap,
        body: &[u8],
        resource: &str,
    ) -> Result<S3Reply, S3Error> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_sha = text("x-amz-content-sha256");
        let chunked = text("content-encoding")
            .is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
            || content_sha
                .as_deref()
                .is_some_and(|h| h.starts_with("STREAMING-"));
        let (bytes, trailers) = if chunked {
            decode_aws_chunked(body).ok_or_else(|| {
                err(
                    400,
                    "IncompleteBody",
                    "The request body is not valid aws-chunked content.",
                    resource,
                )
            })?
        } else {
            (body.to_vec(), BTreeMap::new())
        };
        if let Some(length) = text("x-amz-decoded-content-length")
            && length.parse::<usize>().ok() != Some(bytes.len())
        {
            return Err(err(
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header",
                resource,
            ));
        }
        if let Some(hash) = content_sha.as_deref().filter(|h| h.len() == 64 && !chunked)
            && !hash.eq_ignore_ascii_case(&hex::encode(Sha256::digest(&bytes)))
        {
            return Err(err(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                resource,
            ));
        }
        let crc = text("x-amz-checksum-crc32").or_else(|| trailers.get("x-amz-checksum-crc32").cloned());
        if let Some(expected) = crc
            && expected != checksum_crc32(&bytes)
        {
            return Err(err(
                400,
                "BadDigest",
                "The CRC32 you specified did not match the calculated checksum.",
                resource,
            ));
        }
        let sse = text("x-amz-server-side-encryption");
        let kms_key_id = text("x-amz-server-side-encryption-aws-kms-key-id");
        match sse.as_deref() {
            None | Some("aws:kms" | "aws:kms:dsse" | "AES256") => {}
            Some(other) => {
                return Err(err(
                    400,
                    "InvalidArgument",
                    format!("The encryption method specified is not supported: {other}"),
                    resource,
                ));
            }
        }
        if kms_key_id.is_some() && !sse.as_deref().is_some_and(|s| s.starts_with("aws:kms")) {
            return Err(err(
                400,
                "InvalidArgument",
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                resource,
            ));
        }
        let cannot_store = |e: io::Error| {
            err(
                400,
                "InvalidArgument",
                format!("The emulator cannot store this key next to the existing objects: {e}"),
                resource,
            )
        };
        if path.is_dir() {
            return Err(cannot_store(io::Error::other("a prefix of other keys")));
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(cannot_store)?;
        }
        fs::write(path, &bytes).map_err(cannot_store)?;
        let meta = ObjectMeta {
            content_type: text("content-type"),
            sse,
            kms_key_id,
        };
        let written = fs::metadata(path).map_err(|e| internal(&e, resource))?;
        let mut headers = vec![("etag", etag(path, &written))];
        sse_headers(&meta, &mut headers);
        self.s3_store().meta.insert(path.to_path_buf(), meta);
        Ok(S3Reply {
            status: 200,
            headers,
            body: Vec::new(),
        })
    }
}

fn sse_headers(meta: &ObjectMeta, headers: &mut Vec<(&'static str, String)>) {
    if let Some(sse) = &meta.sse {
        headers.push(("x-amz-server-side-encryption", sse.clone()));
    }
    if let Some(key) = &meta.kms_key_id {
        headers.push(("x-amz-server-side-encryption-aws-kms-key-id", key.clone()));
    }
}

fn auth_error(kind: ErrorKind, message: String, resource: &str) -> S3Error {
    match kind {
        ErrorKind::MissingAuthenticationToken => err(403, "AccessDenied", "Access Denied", resource),
        ErrorKind::UnrecognizedClient => err(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            resource,
        ),
        ErrorKind::IncompleteSignature => err(400, "AuthorizationHeaderMalformed", message, resource),
        _ => err(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            resource,
        ),
    }
}

fn not_implemented(method: &Method, resource: &str) -> S3Error {
    err(
        501,
        "NotImplemented",
        format!("The emulator's S3 does not implement this request ({method} with these parameters)"),
        resource,
    )
}

/// The bytes a `Range: bytes=first-last` header asks of an object of `len`
/// bytes (one range; `first-` to the end, `-n` the last n), as S3 reads it;
/// `None` when it cannot be satisfied or is not a single byte range.
fn byte_range(asked: &str, len: usize) -> Option<std::ops::Range<usize>> {
    let spec = asked.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => {
            let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
            if b < a {
                return None;
            }
            (a, (b + 1).min(len))
        }
    };
    (start < len && start < end).then_some(start..end)
}

/// Bytes `part` of the file at `path`, read alone.
fn read_part(path: &Path, part: &std::ops::Range<usize>) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    file.seek(SeekFrom::Start(part.start as u64))?;
    let mut bytes = vec![0; part.len()];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn internal(e: &io::Error, resource: &str) -> S3Error {
    err(
        500,
        "InternalError",
        format!("We encountered an internal error: {e}"),
        resource,
    )
}

fn is_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// An object's ETag: opaque, as S3's is for objects under SSE-KMS (not an
/// MD5 of the content), and drawn from the file's key, size and modification
/// time, so a listing of a large export reads no file and GET, HEAD, PUT
/// and LIST agree until the object is written again.
fn etag(path: &Path, file: &fs::Metadata) -> String {
    let len = file.len();
    let modified = file
        .modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(path.to_string_lossy().as_bytes());
    hasher.update(len.to_le_bytes());
    hasher.update(modified.to_le_bytes());
    format!("\"{}\"", hex::encode(&hasher.finalize()[..16]))
}

fn http_date(time: Option<SystemTime>) -> String {
    let ts = time
        .and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    ts.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn iso_time(time: Option<SystemTime>) -> String {
    instant(
        time.and_then(|t| Timestamp::try_from(t).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH),
    )
}

/// Percent-decodes `text` with the `percent-encoding` crate (`+` stays `+`).
/// `None`, which S3 answers with `InvalidURI`, for a `%` not followed by two
/// hex digits (the crate would keep it as written) or for bytes that are not
/// UTF-8 (never replaced: the API's decoder refuses them too).
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let escapes_well_formed = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_well_formed {
        return None;
    }
    percent_decode_str(text).decode_utf8().ok().map(Cow::into_owned)
}

/// Query parameters, decoded (`+` is a space, as in forms; the SDK sends
/// `+` as `%2B` and a space as `%20`, so its values read the same either
/// way); a name or value that does not decode stays as sent.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode(&s.replace('+', " ")).unwrap_or_else(|| s.to_owned());
            (decode(k), decode(v))
        })
        .collect()
}

/// What S3 leaves unescaped in a listing with `encoding-type=url`: RFC 3986's
/// unreserved characters and `/`.
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// S3's URL encoding of a key in a listing with `encoding-type=url`
/// (uppercase hex, as S3 writes it).
fn url_encode(text: &str) -> String {
    utf8_percent_encode(text, URL_ENCODE_SET).to_string()
}

pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// The text of every `<name>...</name>` element in `xml`, unescaped;
/// `None` when one is not closed or holds an entity this does not know.
fn xml_elements(xml: &str, name: &str) -> Option<Vec<String>> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close)?;
        found.push(xml_unescape(&after[..end])?);
        rest = &after[end + close.len()..];
    }
    Some(found)
}

/// `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` and numeric references.
fn xml_unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';')? + at;
        let entity = &rest[at + 1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => entity.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(code)?
            }
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Decodes an `aws-chunked` body: `{hex size}[;chunk-signature=…]\r\n{data}\r\n`
/// chunks up to a zero-sized one, then trailer lines `name:value\r\n` and a
/// blank line. Chunk signatures are not verified. Returns the data and the
/// trailers (lowercase names).
pub(crate) fn decode_aws_chunked(body: &[u8]) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    fn line(body: &[u8], at: usize) -> Option<(&str, usize)> {
        let rest = body.get(at..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((std::str::from_utf8(&rest[..end]).ok()?, at + end + 2))
    }
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let (head, next) = line(body, at)?;
        let size = head.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        at = next;
        if size == 0 {
            break;
        }
        data.extend_from_slice(body.get(at..at.checked_add(size)?)?);
        at += size;
        if body.get(at..at + 2)? != b"\r\n" {
            return None;
        }
        at += 2;
    }
    let mut trailers = BTreeMap::new();
    while at < body.len() {
        let Some((text, next)) = line(body, at) else {
            // A last trailer without its CRLF.
            let text = std::str::from_utf8(&body[at..]).ok()?;
            if let Some((k, v)) = text.split_once(':') {
                trailers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
            break;
        };
        at = next;
        if text.is_empty() {
            break;
        }
        let (k, v) = text.split_once(':')?;
        trailers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    Some((data, trailers))
}

/// `x-amz-checksum-crc32`: the CRC-32 (IEEE 802.3) of `bytes`, big-endian,
/// in standard base64 with padding.
fn checksum_crc32(bytes: &[u8]) -> String {
    STANDARD.encode(crc32fast::hash(bytes).to_be_bytes())
}

/// Every regular file under `dir`, as keys relative to it (`/`-separated).
fn keys_under(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry.file_type()?;
        let key = format!("{prefix}{name}");
        if kind.is_dir() {
            keys_under(&entry.path(), &format!("{key}/"), out)?;
        } else if kind.is_file() {
            out.push((key, entry.path()));
        }
    }
    Ok(())
}

fn list_objects_v2(
    bucket: &str,
    bucket_dir: &Path,
    query: &BTreeMap<String, String>,
    resource: &str,
) -> Result<S3Reply, S3Error> {
    if !bucket_dir.is_dir() {
        return Err(err(404, "NoSuchBucket", NO_SUCH_BUCKET, resource));
    }
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let delimiter = query.get("delimiter").cloned().filter(|d| !d.is_empty());
    let max_keys = match query.get("max-keys") {
        None => 1000,
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| {
                err(
                    400,
                    "InvalidArgument",
                    "Provided max-keys not an integer or within integer range",
                    resource,
                )
            })?
            .min(1000),
    };
    let url = match query.get("encoding-type").map(String::as_str) {
        None => false,
        Some("url") => true,
        Some(_) => {
            return Err(err(
                400,
                "InvalidArgument",
                "Invalid Encoding Method specified in Request",
                resource,
            ));
        }
    };
    let token = query.get("continuation-token");
    // The token is the last key or common prefix of the page before, in hex.
    let after = match token {
        None => query.get("start-after").cloned(),
        Some(t) => Some(unhex(t).ok_or_else(|| {
            err(
                400,
                "InvalidArgument",
                "The continuation token provided is incorrect",
                resource,
            )
        })?),
    };
    let mut all = Vec::new();
    keys_under(bucket_dir, "", &mut all).map_err(|e| internal(&e, resource))?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut contents = Vec::new();
    let mut common: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last = None::<String>;
    for (key, path) in all {
        if !key.starts_with(&prefix) {
            continue;
        }
        if let Some(after) = &after
            && (key.as_str() <= after.as_str()
                || (delimiter.is_some()
                    && after.ends_with(delimiter.as_deref().unwrap_or(""))
                    && key.starts_with(after.as_str())))
        {
            continue;
        }
        let group = delimiter.as_deref().and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|at| key[..prefix.len() + at + d.len()].to_owned())
        });
        if let Some(group) = &group
            && common.last() == Some(group)
        {
            continue;
        }
        if contents.len() + common.len() >= max_keys {
            truncated = true;
            break;
        }
        match group {
            Some(group) => {
                last = Some(group.clone());
                common.push(group);
            }
            None => {
                let meta = fs::metadata(&path).map_err(|e| internal(&e, resource))?;
                last = Some(key.clone());
                contents.push((
                    key,
                    etag(&path, &meta),
                    meta.len() as usize,
                    iso_time(meta.modified().ok()),
                ));
            }
        }
    }
    let enc = |s: &str| if url { url_encode(s) } else { xml_escape(s) };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{S3_XMLNS}\"><Name>{}</Name><Prefix>{}</Prefix>",
        xml_escape(bucket),
        enc(&prefix)
    );
    if let Some(after) = query.get("start-after") {
        xml.push_str(&format!("<StartAfter>{}</StartAfter>", enc(after)));
    }
    if let Some(token) = token {
        xml.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(token)
        ));
    }
    xml.push_str(&format!(
        "<KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
        contents.len() + common.len()
    ));
    if let Some(d) = &delimiter {
        xml.push_str(&format!("<Delimiter>{}</Delimiter>", enc(d)));
    }
    if url {
        xml.push_str("<EncodingType>url</EncodingType>");
    }
    xml.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
    for (key, etag, size, modified) in &contents {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{modified}</LastModified><ETag>{}</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            enc(key),
            xml_escape(etag)
        ));
    }
    for group in &common {
        xml.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            enc(group)
        ));
    }
    if truncated && let Some(last) = last {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            hex::encode(last.as_bytes())
        ));
    }
    xml.push_str("</ListBucketResult>");
    Ok(S3Reply {
        status: 200,
        headers: vec![("content-type", "application/xml".to_owned())],
        body: xml.into_bytes(),
    })
}

/// A continuation token back to its key; `None` if it is not hex of UTF-8.
fn unhex(text: &str) -> Option<String> {
    String::from_utf8(hex::decode(text).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode, sign,
    };
    use aws_sigv4::sign::v4;
    use axum::http::{HeaderName, HeaderValue};

    use crate::EmulatorConfig;

    /// Headers of a request signed for `s3` with `payload_hash` as
    /// `x-amz-content-sha256`.
    fn signed(
        secret: &str,
        method: &str,
        uri: &str,
        extra: &[(&str, &str)],
        payload_hash: &str,
    ) -> HeaderMap {
        let identity = Credentials::new("test", secret, None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let mut headers: Vec<(&str, &str)> =
            vec![("host", "localhost"), ("x-amz-content-sha256", payload_hash)];
        headers.extend_from_slice(extra);
        let request = SignableRequest::new(
            method,
            uri,
            headers.iter().copied(),
            SignableBody::Precomputed(payload_hash.to_owned()),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        for header in instructions.into_parts().0 {
            map.insert(header.name(), HeaderValue::from_str(header.value()).unwrap());
        }
        map
    }

    #[tokio::test]
    async fn unsigned_payloads_and_trailers_verify_and_bad_checksums_are_refused() {
        let root = std::env::temp_dir().join(format!("hlx-emulator-s3-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let config = EmulatorConfig {
            output_root: Some(root.clone()),
            ..Default::default()
        };
        let emulator = Emulator::new(config, Arc::new(hlx_clock::VirtualClock::default()));
        let uri: Uri = "/b/dir%20x/k%2Bey?x-id=PutObject".parse().unwrap();
        let crc = checksum_crc32(b"hello world");
        let body = format!("b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n");
        let extra = [
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "11"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-server-side-encryption", "aws:kms"),
        ];
        let trailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
        let headers = signed("test", "PUT", &uri.to_string(), &extra, trailer);
        let reply = emulator.s3(&Method::PUT, &uri, &headers, body.as_bytes());
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let object = emulator.s3_object("s3://b/dir x/k+ey").unwrap();
        assert_eq!(object.bytes, b"hello world");
        assert_eq!(
            (object.sse.as_deref(), object.kms_key_id),
            (Some("aws:kms"), None)
        );

        let bad = body.replace(&crc, "AAAAAA==");
        let reply = emulator.s3(&Method::PUT, &uri, &headers, bad.as_bytes());
        assert_eq!(reply.status, 400);
        assert!(String::from_utf8_lossy(&reply.body).contains("<Code>BadDigest</Code>"));

        let wrong = signed("other", "PUT", &uri.to_string(), &extra, trailer);
        let reply = emulator.s3(&Method::PUT, &uri, &wrong, body.as_bytes());
        assert_eq!(reply.status, 403);
        assert!(String::from_utf8_lossy(&reply.body).contains("<Code>SignatureDoesNotMatch</Code>"));

        let get: Uri = "/b/dir%20x/k%2Bey".parse().unwrap();
        let headers = signed("test", "GET", &get.to_string(), &[], "UNSIGNED-PAYLOAD");
        let reply = emulator.s3(&Method::GET, &get, &headers, b"");
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"hello world"[..]));

        let hash = hex::encode(Sha256::digest(b"abc"));
        let headers = signed("test", "PUT", &uri.to_string(), &[], &hash);
        let reply = emulator.s3(&Method::PUT, &uri, &headers, b"abd");
        assert_eq!(reply.status, 400);
        assert!(String::from_utf8_lossy(&reply.body).contains("XAmzContentSHA256Mismatch"));

        let kms_without_sse = signed(
            "test",
            "PUT",
            &uri.to_string(),
            &[("x-amz-server-side-encryption-aws-kms-key-id", "alias/x")],
            &hash,
        );
        let reply = emulator.s3(&Method::PUT, &uri, &kms_without_sse, b"abc");
        assert_eq!(reply.status, 400);
        assert!(String::from_utf8_lossy(&reply.body).contains("InvalidArgument"));
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn aws_chunked_bodies_decode_with_their_trailers() {
        let body =
            b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let (data, trailers) = decode_aws_chunked(body).unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(trailers["x-amz-checksum-crc32"], "DUoRhQ==");
        assert_eq!(checksum_crc32(b"hello world"), "DUoRhQ==");
        assert!(decode_aws_chunked(b"5\r\nhel").is_none());
        assert_eq!(decode_aws_chunked(b"0\r\n\r\n").unwrap().0, b"");
    }

    #[test]
    fn codecs() {
        assert_eq!(checksum_crc32(b""), "AAAAAA==");
        assert_eq!(checksum_crc32(b"123456789"), "y/Q5Jg==");
        assert_eq!(percent_decode("a%20b+c%2Fd").as_deref(), Some("a b+c/d"));
        assert_eq!(percent_decode("key%41").as_deref(), Some("keyA"));
        assert_eq!(percent_decode("%C3%BC.ndjson").as_deref(), Some("ü.ndjson"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        // The hand-written decoder this replaced read `%+4` as the byte 4
        // (`u8::from_str_radix` takes a sign).
        assert_eq!(percent_decode("a%+4"), None);
        // Not UTF-8: refused, as the API's decoder refuses it.
        assert_eq!(percent_decode("x%FF"), None);
        let query = parse_query("prefix=a%2Bb+c&list-type=2&bad=%FF");
        assert_eq!(query["prefix"], "a+b c");
        assert_eq!(query["list-type"], "2");
        assert_eq!(query["bad"], "%FF");
        assert_eq!(unhex(&hex::encode("a/b")).as_deref(), Some("a/b"));
        assert_eq!(unhex("6"), None);
        assert_eq!(unhex("ff"), None);
        assert_eq!(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
        assert_eq!(url_encode("a b/é"), "a%20b/%C3%A9");
        assert_eq!(url_encode("a~b-c_d.e+f=g"), "a~b-c_d.e%2Bf%3Dg");
    }

    #[test]
    fn byte_ranges_read_as_s3_reads_them() {
        assert_eq!(byte_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(byte_range("bytes=90-200", 100), Some(90..100));
        assert_eq!(byte_range("bytes=95-", 100), Some(95..100));
        assert_eq!(byte_range("bytes=-5", 100), Some(95..100));
        assert_eq!(byte_range("bytes=100-120", 100), None);
        assert_eq!(byte_range("bytes=9-3", 100), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
    }

    #[test]
    fn delete_bodies_read_their_keys() {
        let body = "<Delete xmlns=\"x\"><Object><Key>a/b&amp;c</Key></Object><Object><Key>d&#x41;</Key></Object><Quiet>true</Quiet></Delete>";
        assert_eq!(xml_elements(body, "Key").unwrap(), ["a/b&c", "dA"]);
        assert_eq!(xml_elements(body, "Quiet").unwrap(), ["true"]);
        assert!(xml_elements("<Key>open", "Key").is_none());
        assert!(xml_elements("<Key>&bogus;</Key>", "Key").is_none());
    }
}
