//! A minimal SigV4-signing HTTP/1.1 client for the FHIR REST surface, and a
//! harness: an emulator on a virtual clock behind a real server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use hlx_clock::{Clock, VirtualClock};
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, JobInfo, JobProfile, ServerHandle};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::common::{KMS, ROLE, TempDir, http_exchange};

/// Where the REST tests ask for their output.
pub const S3: &str = "s3://hlx-exports/incremental/";

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The first issue of an `OperationOutcome` body: (code, diagnostics).
    pub fn issue(&self) -> (String, String) {
        let body = self.json();
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
        assert_eq!(self.header("content-type"), Some("application/fhir+json"));
        let issue = &body["issue"][0];
        assert_eq!(issue["severity"], "error");
        (
            issue["code"].as_str().unwrap().to_owned(),
            issue["diagnostics"].as_str().unwrap().to_owned(),
        )
    }
}

/// How a request is signed.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Key { access_key: String, secret: String },
}

impl Auth {
    pub fn key(access_key: &str, secret: &str) -> Self {
        Auth::Key {
            access_key: access_key.into(),
            secret: secret.into(),
        }
    }
}

/// Sends one request to `addr` (`host:port`), signed with `auth` for
/// `healthlake` in us-east-1 (headers `host`, `content-type`, `prefer`).
pub async fn send(
    addr: &str,
    auth: &Auth,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
    prefer: bool,
) -> Answer {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut headers: Vec<(String, String)> = vec![("host".into(), addr.into())];
    if !body.is_empty() {
        headers.push(("content-type".into(), "application/fhir+json".into()));
    }
    if prefer {
        headers.push(("prefer".into(), "respond-async".into()));
    }
    if let Auth::Key { access_key, secret } = auth {
        let identity = Credentials::new(access_key, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("healthlake")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let request = SignableRequest::new(
            method,
            path_and_query,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        for header in instructions.into_parts().0 {
            headers.push((header.name().to_owned(), header.value().to_owned()));
        }
    }
    let mut request = format!("{method} {path_and_query} HTTP/1.1\r\n");
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let (status, headers, text) = http_exchange(addr, &request).await;
    Answer {
        status,
        headers,
        text,
    }
}

/// The kick-off body.
pub fn kickoff_body(job_name: &str) -> Value {
    json!({
        "JobName": job_name,
        "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
        "DataAccessRoleArn": ROLE,
    })
}

pub struct Harness {
    pub emulator: Emulator,
    pub clock: VirtualClock,
    pub server: ServerHandle,
    pub out: TempDir,
    pub datastore_id: String,
    pub auth: Auth,
}

impl Harness {
    pub async fn new(profile: JobProfile) -> Self {
        Self::with(VirtualClock::default(), profile, |_| {}).await
    }

    pub async fn new_at(clock: VirtualClock, profile: JobProfile) -> Self {
        Self::with(clock, profile, |_| {}).await
    }

    pub async fn with(
        clock: VirtualClock,
        profile: JobProfile,
        tweak: impl FnOnce(&mut EmulatorConfig),
    ) -> Self {
        let out = TempDir::new();
        let mut config = EmulatorConfig {
            seed: 11,
            output_root: Some(out.path().to_path_buf()),
            default_profile: profile.clone(),
            ..EmulatorConfig::default()
        };
        tweak(&mut config);
        let emulator = Emulator::new(config, Arc::new(clock.clone()));
        let datastore_id = emulator
            .create_datastore("rest", Some(profile))
            .expect("data store");
        let server = emulator
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .expect("server");
        Self {
            emulator,
            clock,
            server,
            out,
            datastore_id,
            auth: Auth::key("test", "test"),
        }
    }

    pub fn addr(&self) -> String {
        self.server.local_addr().to_string()
    }

    pub async fn request(&self, method: &str, path_and_query: &str, body: Option<&Value>) -> Answer {
        send(&self.addr(), &self.auth, method, path_and_query, body, true).await
    }

    /// `POST /datastore/{ds}/r4/{scope}$export{query}` with a valid body.
    pub async fn kickoff(&self, scope: &str, query: &str, job_name: &str) -> Answer {
        let path = format!("/datastore/{}/r4/{scope}$export{query}", self.datastore_id);
        self.request("POST", &path, Some(&kickoff_body(job_name))).await
    }

    /// A kick-off that must succeed; returns the job id.
    pub async fn start(&self, scope: &str, query: &str) -> String {
        let answer = self.kickoff(scope, query, "incremental").await;
        assert_eq!(answer.status, 202, "{answer:?}");
        answer.json()["jobId"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, job_id: &str) -> Answer {
        let path = format!("/datastore/{}/r4/export/{job_id}", self.datastore_id);
        self.request("GET", &path, None).await
    }

    pub async fn cancel(&self, job_id: &str) -> Answer {
        let path = format!("/datastore/{}/r4/export/{job_id}", self.datastore_id);
        self.request("DELETE", &path, None).await
    }

    /// Runs virtual time until nothing is scheduled.
    pub fn run_to_end(&self) {
        while let Some(at) = self.emulator.next_change_at() {
            self.clock.advance_to(at.max(self.clock.now()));
            self.emulator.advance();
        }
    }

    pub fn advance_secs(&self, secs: i64) {
        self.clock.advance_by(SignedDuration::from_secs(secs));
        self.emulator.advance();
    }

    pub fn job(&self, job_id: &str) -> JobInfo {
        self.emulator
            .export_jobs()
            .into_iter()
            .find(|j| j.job_id == job_id)
            .expect("job")
    }

    /// The resources a job's data files hold: type → id → parsed line.
    pub fn written(&self, job_id: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
        let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for file in self.job(job_id).output_files.iter().filter(|f| !f.error) {
            let text = std::fs::read_to_string(&file.path).expect("file");
            for line in text.lines() {
                let value: Value = serde_json::from_str(line).unwrap();
                let t = value["resourceType"].as_str().unwrap().to_owned();
                assert_eq!(t, file.resource_type);
                let id = value["id"].as_str().unwrap().to_owned();
                out.entry(t).or_default().insert(id, value);
            }
        }
        out
    }

    /// Type → ids of what a job wrote.
    pub fn written_ids(&self, job_id: &str) -> BTreeMap<String, BTreeSet<String>> {
        self.written(job_id)
            .into_iter()
            .map(|(t, m)| (t, m.into_keys().collect()))
            .collect()
    }

    /// The data store's current resources, parsed: type → id → value.
    pub fn data(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.emulator
            .resources(&self.datastore_id)
            .unwrap()
            .into_iter()
            .map(|(t, lines)| {
                let by_id = lines
                    .iter()
                    .map(|l| {
                        let v: Value = serde_json::from_str(l).unwrap();
                        (v["id"].as_str().unwrap().to_owned(), v)
                    })
                    .collect();
                (t, by_id)
            })
            .collect()
    }
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
