//! The emulator's S3 over real HTTP with the unmodified `aws-sdk-s3` client
//! (path style, SigV4 for `s3`): PutObject with SSE-KMS, GetObject,
//! HeadObject, ListObjectsV2 with pagination and delimiters, the files an
//! export wrote, errors and keys that try to leave the output root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use hlx_clock::{Clock, VirtualClock};
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobProfile, S3Object, ServerHandle, s3_uri_to_path};
use jiff::SignedDuration;
use serde_json::json;

use crate::common::{KMS, ROLE, TempDir, files_under, http_exchange};

const BUCKET: &str = "hlx-exports";

/// The client as an application builds it against the emulator: endpoint
/// override and path-style addressing, retries off.
fn client(endpoint_url: &str, access_key: &str, secret: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint_url)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

struct Harness {
    emulator: Emulator,
    clock: VirtualClock,
    server: ServerHandle,
    client: Client,
    // Dropped last: the files outlive the server.
    out: TempDir,
    /// A directory next to the output root, to see nothing escapes into it.
    _outside: TempDir,
}

impl Harness {
    async fn new() -> Self {
        let outside = TempDir::new();
        let out = TempDir::new();
        let clock = VirtualClock::default();
        let config = EmulatorConfig {
            output_root: Some(out.path().join("root")),
            resources_per_file: 7,
            ..Default::default()
        };
        let emulator = Emulator::new(config, Arc::new(clock.clone()));
        let server = emulator
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .expect("serve");
        let client = client(&server.endpoint_url(), "test", "test");
        Self {
            emulator,
            clock,
            server,
            client,
            out,
            _outside: outside,
        }
    }

    fn root(&self) -> PathBuf {
        self.out.path().join("root")
    }

    async fn put(&self, key: &str, body: &[u8]) {
        self.client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    async fn list_all(&self, prefix: &str, max_keys: i32) -> (Vec<String>, Vec<usize>) {
        let mut keys = Vec::new();
        let mut pages = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(BUCKET)
                .prefix(prefix)
                .max_keys(max_keys)
                .set_continuation_token(token.clone())
                .send()
                .await
                .expect("list");
            let contents = page.contents();
            assert_eq!(page.key_count(), Some(contents.len() as i32));
            pages.push(contents.len());
            keys.extend(contents.iter().map(|o| o.key().unwrap().to_owned()));
            if page.is_truncated() != Some(true) {
                assert!(page.next_continuation_token().is_none());
                break;
            }
            token = page.next_continuation_token().map(str::to_owned);
            assert!(token.is_some());
        }
        (keys, pages)
    }
}

#[tokio::test]
async fn put_with_sse_kms_then_get_and_head_it() {
    let h = Harness::new().await;
    let body = b"{\"manifest\":true}\n".to_vec();
    let put = h
        .client
        .put_object()
        .bucket(BUCKET)
        .key("manifests/2026-01-01/manifest.json")
        .body(ByteStream::from(body.clone()))
        .content_type("application/json")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(KMS)
        .send()
        .await
        .expect("put");
    let etag = put.e_tag().expect("etag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "{etag}"
    );
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(put.ssekms_key_id(), Some(KMS));

    let uri = format!("s3://{BUCKET}/manifests/2026-01-01/manifest.json");
    assert_eq!(
        h.emulator.s3_object(&uri),
        Some(S3Object {
            bytes: body.clone(),
            content_type: Some("application/json".into()),
            sse: Some("aws:kms".into()),
            kms_key_id: Some(KMS.into()),
        })
    );
    assert_eq!(std::fs::read(s3_uri_to_path(&h.root(), &uri)).unwrap(), body);

    let got = h
        .client
        .get_object()
        .bucket(BUCKET)
        .key("manifests/2026-01-01/manifest.json")
        .send()
        .await
        .expect("get");
    assert_eq!(got.e_tag(), Some(etag.as_str()));
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(got.ssekms_key_id(), Some(KMS));
    assert!(got.last_modified().is_some());
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        body.as_slice()
    );

    let head = h
        .client
        .head_object()
        .bucket(BUCKET)
        .key("manifests/2026-01-01/manifest.json")
        .send()
        .await
        .expect("head");
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.ssekms_key_id(), Some(KMS));

    // Overwriting without SSE forgets it.
    h.put("manifests/2026-01-01/manifest.json", b"x").await;
    let object = h.emulator.s3_object(&uri).unwrap();
    assert_eq!(
        (object.bytes.as_slice(), object.sse, object.kms_key_id),
        (&b"x"[..], None, None)
    );
}

#[tokio::test]
async fn a_streamed_body_is_decoded_and_its_checksum_checked() {
    let h = Harness::new().await;
    let source = h.out.path().join("source.ndjson");
    let body: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
        .collect();
    std::fs::write(&source, &body).unwrap();
    h.client
        .put_object()
        .bucket(BUCKET)
        .key("streamed/big.ndjson")
        .body(ByteStream::from_path(&source).await.unwrap())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(KMS)
        .send()
        .await
        .expect("put");
    let object = h
        .emulator
        .s3_object(&format!("s3://{BUCKET}/streamed/big.ndjson"))
        .unwrap();
    assert_eq!(object.bytes.len(), body.len());
    assert!(object.bytes == body);
    assert_eq!(object.kms_key_id.as_deref(), Some(KMS));
}

#[tokio::test]
async fn list_objects_v2_pages_in_key_order() {
    let h = Harness::new().await;
    for key in ["p/e", "p/a", "p/c", "p/d", "p/b", "q/z", "pz"] {
        h.put(key, key.as_bytes()).await;
    }
    let (keys, pages) = h.list_all("p/", 2).await;
    assert_eq!(keys, ["p/a", "p/b", "p/c", "p/d", "p/e"]);
    assert_eq!(pages, [2, 2, 1]);
    let (keys, pages) = h.list_all("", 1000).await;
    assert_eq!(keys, ["p/a", "p/b", "p/c", "p/d", "p/e", "pz", "q/z"]);
    assert_eq!(pages, [7]);

    let page = h
        .client
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("p/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.max_keys(), Some(1000));
    assert_eq!(page.name(), Some(BUCKET));
    assert_eq!(page.prefix(), Some("p/"));
    let first = &page.contents()[0];
    assert_eq!(first.size(), Some(3));
    assert!(first.e_tag().unwrap().starts_with('"'));
    assert!(first.last_modified().is_some());

    let page = h
        .client
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = page.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["p/", "q/"]);
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["pz"]);
    assert_eq!(page.key_count(), Some(3));

    let err = h
        .client
        .list_objects_v2()
        .bucket("no-such-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn an_exports_files_are_listed_and_read_over_s3() {
    let h = Harness::new().await;
    let datastore_id = h
        .emulator
        .create_datastore("clinic", Some(JobProfile::default()))
        .unwrap();
    let s3_uri = format!("s3://{BUCKET}/nightly/");
    let started = h
        .emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": datastore_id,
                "OutputDataConfig": {"S3Configuration": {"S3Uri": s3_uri, "KmsKeyId": KMS}},
                "DataAccessRoleArn": ROLE,
            }),
        )
        .await
        .expect("start");
    let job_id = started["JobId"].as_str().unwrap().to_owned();
    while let Some(at) = h.emulator.next_change_at() {
        h.clock.advance_to(at);
        h.emulator.advance();
    }
    h.clock.advance_by(SignedDuration::from_secs(1));
    let job = h
        .emulator
        .export_jobs()
        .into_iter()
        .find(|j| j.job_id == job_id)
        .unwrap();
    assert_eq!(job.status, hlx_core::JobStatus::Completed);
    assert!(job.files.len() > 4, "{:?}", job.files);

    let prefix = format!("nightly/{datastore_id}-FHIR_EXPORT-{job_id}/");
    let (keys, pages) = h.list_all(&prefix, 3).await;
    assert!(pages.iter().all(|&n| n <= 3));
    let listed: BTreeSet<PathBuf> = keys
        .iter()
        .map(|k| s3_uri_to_path(&h.root(), &format!("s3://{BUCKET}/{k}")))
        .collect();
    let written: BTreeSet<PathBuf> = job.files.iter().cloned().collect();
    assert_eq!(listed, written);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    let key = &keys[0];
    let got = h
        .client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("get");
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        bytes.as_ref(),
        std::fs::read(s3_uri_to_path(&h.root(), &format!("s3://{BUCKET}/{key}"))).unwrap()
    );
    // Files written by the export itself carry no S3 metadata.
    let object = h.emulator.s3_object(&format!("s3://{BUCKET}/{key}")).unwrap();
    assert_eq!((object.sse, object.content_type), (None, None));

    // A manifest put next to the export lists with it.
    h.put(&format!("{prefix}manifest.json"), b"{}").await;
    let (keys, _) = h.list_all(&prefix, 1000).await;
    assert_eq!(keys.len(), job.files.len() + 1);
}

#[tokio::test]
async fn missing_keys_and_bad_signatures_are_s3s_errors() {
    let h = Harness::new().await;
    h.put("exists", b"1").await;
    let err = h
        .client
        .get_object()
        .bucket(BUCKET)
        .key("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert!(err.into_service_error().is_no_such_key());
    let err = h
        .client
        .head_object()
        .bucket(BUCKET)
        .key("missing")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found());

    let endpoint = h.server.endpoint_url();
    let wrong = client(&endpoint, "test", "not-the-secret");
    let err = wrong
        .get_object()
        .bucket(BUCKET)
        .key("exists")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
    let err = wrong
        .put_object()
        .bucket(BUCKET)
        .key("other")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert!(h.emulator.s3_object(&format!("s3://{BUCKET}/other")).is_none());
    let unknown = client(&endpoint, "AKIDUNKNOWN", "test");
    let err = unknown.list_objects_v2().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"));
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);

    // Unsigned: AccessDenied, as S3 answers an anonymous request to a private bucket.
    let addr = endpoint.trim_start_matches("http://");
    let request = format!("GET /{BUCKET}/exists HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let (status, _, raw) = http_exchange(addr, &request).await;
    assert_eq!(status, 403, "{raw}");
    assert!(raw.contains("<Code>AccessDenied</Code>"), "{raw}");
    assert!(raw.contains("<RequestId>"), "{raw}");
}

#[tokio::test]
async fn keys_are_percent_decoded_and_cannot_leave_the_root() {
    let h = Harness::new().await;
    let key = "odd keys/a b+c=d&e%f/ü.ndjson";
    h.put(key, b"odd").await;
    let path = h
        .root()
        .join(BUCKET)
        .join("odd keys")
        .join("a b+c=d&e%f")
        .join("ü.ndjson");
    assert_eq!(std::fs::read(&path).unwrap(), b"odd");
    let got = h
        .client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"odd");
    let (keys, _) = h.list_all("odd keys/", 1000).await;
    assert_eq!(keys, [key]);

    for sneaky in [
        "../../escaped.txt",
        "a/../../../escaped.txt",
        "..\\..\\escaped.txt",
    ] {
        h.put(sneaky, b"sneaky").await;
        let got = h
            .client
            .get_object()
            .bucket(BUCKET)
            .key(sneaky)
            .send()
            .await
            .unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"sneaky");
        let path = s3_uri_to_path(&h.root(), &format!("s3://{BUCKET}/{sneaky}"));
        assert!(path.starts_with(h.root().join(BUCKET)), "{path:?}");
        assert!(path.is_file());
    }
    let escaped = |dir: &Path| {
        files_under(dir)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("escaped"))
            })
            .filter(|p| !p.starts_with(h.root().join(BUCKET)))
            .collect::<Vec<_>>()
    };
    assert_eq!(escaped(h.out.path()), Vec::<PathBuf>::new());
    assert!(!std::env::temp_dir().join("escaped.txt").exists());
}

#[tokio::test]
async fn the_healthlake_surfaces_still_answer_on_the_same_port() {
    let h = Harness::new().await;
    let _ = h.clock.now();
    let config = aws_sdk_healthlake::Config::builder()
        .behavior_version_latest()
        .endpoint_url(h.server.endpoint_url())
        .region(aws_sdk_healthlake::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_healthlake::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let healthlake = aws_sdk_healthlake::Client::from_conf(config);
    let listed = healthlake
        .list_fhir_datastores()
        .send()
        .await
        .expect("list data stores");
    assert!(listed.datastore_properties_list().is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
}
