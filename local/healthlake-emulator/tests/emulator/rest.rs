//! The FHIR REST `$export` surface over real HTTP, signed with the real
//! SigV4 signer (`aws-sigv4`): authentication, kick-off, status, cancel,
//! `_type` / `_since` / `_until`, Patient and Group scopes, churn.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{KMS, ROLE, files_under};
use crate::rest_client::{self, Auth, Harness, S3, send, ts};
use hlx_clock::{Clock, VirtualClock};
use hlx_healthlake_emulator::{
    ChangeKind, Churn, Emulator, EmulatorConfig, ExportScope, FaultSpec, Faults, JobProfile, Operation,
    Outcome, ResourceChange, s3_uri_to_path,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const T0: &str = "2026-01-01T00:00:00Z";

fn clinic() -> JobProfile {
    JobProfile::default().with_timing(Duration::from_secs(5), Duration::from_secs(60))
}

fn clinic_with_groups() -> JobProfile {
    clinic().with_resources([
        ("Patient", 12),
        ("Encounter", 20),
        ("Observation", 40),
        ("Condition", 10),
        ("MedicationRequest", 6),
        ("Group", 2),
    ])
}

fn churning(created: u32, updated: u32) -> impl FnOnce(&mut EmulatorConfig) {
    move |c| {
        c.churn = Churn {
            created_per_day: created,
            updated_per_day: updated,
        }
    }
}

fn lines_of(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

// ---- authentication ----

#[tokio::test]
async fn every_rest_request_is_verified_and_refusals_are_awss() {
    let h = Harness::new(clinic()).await;
    let path = format!("/datastore/{}/r4/$export", h.datastore_id);
    let body = rest_client::kickoff_body("auth");
    let cases = [
        (
            Auth::None,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        (
            Auth::key("test", "not-the-secret"),
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        (
            Auth::key("AKIDUNKNOWN", "test"),
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
    ];
    for (auth, error, message) in cases {
        let answer = send(&h.addr(), &auth, "POST", &path, Some(&body), true).await;
        assert_eq!(answer.status, 403, "{auth:?}: {answer:?}");
        assert_eq!(answer.header("x-amzn-errortype"), Some(error));
        assert_eq!(answer.json(), json!({ "message": message }));
        // Status and cancel are verified too.
        let status = send(
            &h.addr(),
            &auth,
            "GET",
            &format!("/datastore/{}/r4/export/x", h.datastore_id),
            None,
            false,
        )
        .await;
        assert_eq!(status.status, 403);
        assert_eq!(status.header("x-amzn-errortype"), Some(error));
    }
    assert!(
        h.emulator.export_jobs().is_empty(),
        "a refused kick-off makes no job"
    );

    // A signature over another body does not pass either.
    let good = h.kickoff("", "", "auth").await;
    assert_eq!(good.status, 202, "{good:?}");
    let body = good.json();
    let job_id = body["jobId"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({ "datastoreId": h.datastore_id, "jobStatus": "SUBMITTED", "jobId": job_id })
    );
    assert_eq!(
        good.header("content-location"),
        Some(
            format!(
                "https://healthlake.us-east-1.amazonaws.com/datastore/{}/r4/export/{job_id}",
                h.datastore_id
            )
            .as_str()
        )
    );
    assert_eq!(good.header("content-type"), Some("application/fhir+json"));

    // `$` percent-encoded, signed as sent.
    let encoded = h
        .request(
            "POST",
            &format!("/datastore/{}/r4/%24export?_type=Patient", h.datastore_id),
            Some(&rest_client::kickoff_body("encoded")),
        )
        .await;
    assert_eq!(encoded.status, 202, "{encoded:?}");
    let calls: Vec<_> = h
        .emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation == "StartFHIRExportJobWithPost")
        .map(|c| (c.status, c.error))
        .collect();
    assert_eq!(
        calls[0],
        (403, Some("MissingAuthenticationTokenException".into()))
    );
    assert_eq!(calls.last(), Some(&(202, None)));
}

#[tokio::test]
async fn configured_credentials_replace_the_default() {
    let h = Harness::with(VirtualClock::default(), clinic(), |c| {
        c.credentials = [("AKIAEMULATOR".to_owned(), "s3cr3t".to_owned())].into();
    })
    .await;
    let path = format!("/datastore/{}/r4/$export", h.datastore_id);
    let body = rest_client::kickoff_body("creds");
    let ok = send(
        &h.addr(),
        &Auth::key("AKIAEMULATOR", "s3cr3t"),
        "POST",
        &path,
        Some(&body),
        true,
    )
    .await;
    assert_eq!(ok.status, 202, "{ok:?}");
    let old = send(
        &h.addr(),
        &Auth::key("test", "test"),
        "POST",
        &path,
        Some(&body),
        true,
    )
    .await;
    assert_eq!(
        old.header("x-amzn-errortype"),
        Some("UnrecognizedClientException")
    );
}

#[tokio::test]
async fn aws_json_requests_are_verified_only_when_asked() {
    use aws_sdk_healthlake::config::{Credentials, Region};
    use aws_sdk_healthlake::error::ProvideErrorMetadata;
    let sdk = |url: &str, key: &str, secret: &str| {
        aws_sdk_healthlake::Client::from_conf(
            aws_sdk_healthlake::Config::builder()
                .behavior_version_latest()
                .endpoint_url(url)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(key, secret, None, None, "test"))
                .build(),
        )
    };
    let lax = Harness::new(clinic()).await;
    let url = format!("http://{}", lax.addr());
    let listed = sdk(&url, "anyone", "anything")
        .list_fhir_datastores()
        .send()
        .await;
    assert!(listed.is_ok(), "unverified by default: {listed:?}");

    let strict = Harness::with(VirtualClock::default(), clinic(), |c| c.verify_signatures = true).await;
    let url = format!("http://{}", strict.addr());
    assert!(
        sdk(&url, "test", "test")
            .list_fhir_datastores()
            .send()
            .await
            .is_ok()
    );
    let wrong = sdk(&url, "test", "nope")
        .list_fhir_datastores()
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidSignatureException"));
    let unknown = sdk(&url, "who", "test")
        .list_fhir_datastores()
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("UnrecognizedClientException"));
}

// ---- kick-off and status ----

#[tokio::test]
async fn status_shapes_while_submitted_and_once_completed() {
    let h = Harness::new(clinic()).await;
    let job_id = h
        .start(
            "",
            "?_type=Patient,Observation&_outputFormat=application%2Ffhir%2Bndjson",
        )
        .await;
    let submitted = h.status(&job_id).await;
    assert_eq!(submitted.status, 200, "{submitted:?}");
    assert_eq!(
        submitted.json(),
        json!({ "exportJobProperties": {
            "jobId": job_id,
            "jobName": "incremental",
            "jobStatus": "SUBMITTED",
            "submitTime": "Jan 1, 2026 12:00:00 AM",
            "datastoreId": h.datastore_id,
            "outputDataConfig": { "s3Configuration": { "s3Uri": S3, "kmsKeyId": KMS } },
            "dataAccessRoleArn": ROLE,
        } })
    );

    h.run_to_end();
    let done = h.status(&job_id).await.json();
    let props = &done["exportJobProperties"];
    assert_eq!(props["jobStatus"], "COMPLETED");
    assert_eq!(props["endTime"], "Jan 1, 2026 12:01:05 AM");
    assert_eq!(done["transactionTime"], "2026-01-01T00:00:05.000Z");
    assert_eq!(
        done["request"],
        format!(
            "https://healthlake.us-east-1.amazonaws.com/datastore/{}/r4/$export?_type=Patient,Observation&_outputFormat=application%2Ffhir%2Bndjson",
            h.datastore_id
        )
    );
    assert_eq!(done["requiresAccessToken"], false);
    assert_eq!(done["error"], json!([]));
    let output = done["output"].as_array().unwrap();
    let types: BTreeSet<&str> = output.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(types, BTreeSet::from(["Observation", "Patient"]));
    let mut total = 0;
    for entry in output {
        let url = entry["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{S3}{}-FHIR_EXPORT-{job_id}/", h.datastore_id)),
            "{url}"
        );
        assert!(url.ends_with(".ndjson"));
        let path = s3_uri_to_path(h.out.path(), url);
        assert_eq!(
            entry["count"].as_u64().unwrap() as usize,
            lines_of(&path),
            "{url}"
        );
        total += lines_of(&path);
    }
    assert_eq!(total, 10 + 50, "every patient and observation");
    assert_eq!(
        files_under(h.out.path()).len(),
        output.len(),
        "output lists every file written"
    );

    // The same job through the SDK operations.
    let described = h
        .emulator
        .call(
            "DescribeFHIRExportJob",
            json!({ "DatastoreId": h.datastore_id, "JobId": job_id }),
        )
        .await
        .unwrap();
    assert_eq!(described["ExportJobProperties"]["JobStatus"], "COMPLETED");
    assert_eq!(described["ExportJobProperties"]["JobName"], "incremental");
    let listed = h
        .emulator
        .call("ListFHIRExportJobs", json!({ "DatastoreId": h.datastore_id }))
        .await
        .unwrap();
    assert_eq!(listed["ExportJobPropertiesList"][0]["JobId"], json!(job_id));
    let job = h.job(&job_id);
    assert_eq!(job.client_token, None);
    assert_eq!(job.transaction_time, Some(ts("2026-01-01T00:00:05Z")));
    let rest = job.rest.unwrap();
    assert_eq!(rest.scope, ExportScope::System);
    assert_eq!(rest.output_format, "application/fhir+ndjson");
}

#[tokio::test]
async fn completed_with_errors_lists_the_error_files_and_sdk_jobs_answer_too() {
    let h = Harness::new(clinic().with_outcome(Outcome::completed_with_errors())).await;
    let job_id = h.start("", "").await;
    let sdk = h
        .emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": h.datastore_id,
                "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
                "DataAccessRoleArn": ROLE,
            }),
        )
        .await
        .unwrap();
    h.run_to_end();
    let done = h.status(&job_id).await.json();
    assert_eq!(done["exportJobProperties"]["jobStatus"], "COMPLETED_WITH_ERRORS");
    assert!(done["exportJobProperties"]["message"].is_string());
    let errors = done["error"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["type"], "OperationOutcome");
    assert!(errors[0]["url"].as_str().unwrap().contains("/errors/"));
    let path = s3_uri_to_path(h.out.path(), errors[0]["url"].as_str().unwrap());
    assert_eq!(errors[0]["count"].as_u64().unwrap() as usize, lines_of(&path));

    let sdk_id = sdk["JobId"].as_str().unwrap();
    let sdk_status = h.status(sdk_id).await;
    assert_eq!(sdk_status.status, 200);
    assert_eq!(sdk_status.json()["exportJobProperties"]["jobId"], sdk_id);
    assert!(sdk_status.json()["exportJobProperties"].get("jobName").is_none());
}

#[tokio::test]
async fn type_limits_the_output() {
    let h = Harness::new(clinic()).await;
    let job_id = h.start("", "?_type=Condition,Patient").await;
    h.run_to_end();
    let written = h.written_ids(&job_id);
    let data = h.emulator.resource_ids(&h.datastore_id).unwrap();
    assert_eq!(written.keys().collect::<Vec<_>>(), ["Condition", "Patient"]);
    assert_eq!(written["Condition"], data["Condition"]);
    assert_eq!(written["Patient"], data["Patient"]);
    assert_eq!(h.job(&job_id).exported, written);
    let dir = h.job(&job_id).output_dir.unwrap();
    assert!(
        !dir.join("Observation").exists(),
        "no folder for a type not asked for"
    );
}

// ---- content over time ----

/// Type → ids of the churn changes (creates and updates) in `[from, to]`.
fn changed_between(
    changes: &[ResourceChange],
    from: Timestamp,
    to: Timestamp,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.at >= from && c.at <= to) {
        out.entry(c.resource_type.clone())
            .or_default()
            .insert(c.id.clone());
    }
    out
}

#[tokio::test]
async fn since_exports_exactly_what_changed_since_as_of_the_transaction_time() {
    let two_hours = clinic().with_timing(Duration::from_secs(5), Duration::from_secs(2 * 3600));
    let h = Harness::with(VirtualClock::default(), two_hours, churning(24, 48)).await;
    h.advance_secs(86_400 + 3_600);
    let since = ts("2026-01-01T12:00:00Z");
    let job_id = h.start("", "?_since=2026-01-01T12:00:00.000Z").await;
    h.run_to_end();
    let job = h.job(&job_id);
    let tt = job.transaction_time.unwrap();
    assert_eq!(tt, ts("2026-01-02T01:00:05Z"));
    let changes = h.emulator.changes(&h.datastore_id).unwrap();
    assert!(changes.iter().any(|c| c.kind == ChangeKind::Created));
    assert!(changes.iter().any(|c| c.kind == ChangeKind::Updated));
    assert!(
        changes.iter().any(|c| c.at > tt),
        "churn went on while the job ran"
    );
    let expected = changed_between(&changes, since, tt);
    assert!(!expected.is_empty());
    let written = h.written(&job_id);
    let written_ids: BTreeMap<String, BTreeSet<String>> = written
        .iter()
        .map(|(t, m)| (t.clone(), m.keys().cloned().collect()))
        .collect();
    assert_eq!(written_ids, expected);
    assert_eq!(job.exported, expected);
    // Every line is the version of the transaction time.
    let data = h.data();
    for (t, by_id) in &written {
        for (id, value) in by_id {
            let updated: Timestamp = value["meta"]["lastUpdated"].as_str().unwrap().parse().unwrap();
            assert!(updated >= since && updated <= tt, "{t}/{id} at {updated}");
            let later = changes.iter().any(|c| &c.id == id && c.at > tt);
            let current = &data[t][id];
            assert_eq!(
                later,
                current != value,
                "{t}/{id}: only a later change makes the line differ"
            );
        }
    }
    // Counts in the manifest are the lines written.
    let done = h.status(&job_id).await.json();
    let total: u64 = done["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        total as usize,
        expected.values().map(BTreeSet::len).sum::<usize>()
    );
}

#[tokio::test]
async fn until_leaves_out_what_changed_after_it() {
    let h = Harness::with(VirtualClock::default(), clinic(), churning(10, 20)).await;
    let initial = h.emulator.resource_ids(&h.datastore_id).unwrap();
    h.advance_secs(86_400);
    let job_id = h.start("", "?_until=2026-01-01T00:00:00Z").await;
    h.run_to_end();
    let tt = h.job(&job_id).transaction_time.unwrap();
    let changes = h.emulator.changes(&h.datastore_id).unwrap();
    let touched = changed_between(&changes, ts(T0), tt);
    let mut expected = initial.clone();
    for (t, ids) in &touched {
        if let Some(kept) = expected.get_mut(t) {
            kept.retain(|id| !ids.contains(id));
        }
    }
    expected.retain(|_, ids| !ids.is_empty());
    assert_ne!(expected, initial, "some resources were updated");
    assert_eq!(h.written_ids(&job_id), expected);

    // `_since` and `_until` together: the changes of a window.
    let job_id = h
        .start(
            "",
            "?_since=2026-01-01T06:00:00Z&_until=2026-01-01T18:00:00%2B00:00",
        )
        .await;
    h.run_to_end();
    assert_eq!(
        h.written_ids(&job_id),
        changed_between(&changes, ts("2026-01-01T06:00:00Z"), ts("2026-01-01T18:00:00Z"))
    );
}

#[tokio::test]
async fn resources_created_after_the_transaction_time_are_not_exported() {
    let h = Harness::with(
        VirtualClock::default(),
        clinic().with_timing(Duration::from_secs(5), Duration::from_secs(6 * 3600)),
        churning(48, 0),
    )
    .await;
    let job_id = h.start("", "").await;
    h.run_to_end();
    let job = h.job(&job_id);
    let data = h.emulator.resource_ids(&h.datastore_id).unwrap();
    let total = |m: &BTreeMap<String, BTreeSet<String>>| m.values().map(BTreeSet::len).sum::<usize>();
    let created = h.emulator.changes(&h.datastore_id).unwrap();
    assert_eq!(created.len(), 12, "one create every 30 minutes for 6 hours");
    assert_eq!(total(&job.exported), 90, "the content at the transaction time");
    assert_eq!(total(&data), 90 + 12);
}

// ---- scopes ----

fn patient_of(value: &Value) -> Option<String> {
    value["subject"]["reference"]
        .as_str()
        .or(value["patient"]["reference"].as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn patient_scope_is_every_patient_and_what_references_one() {
    let h = Harness::new(clinic_with_groups()).await;
    let job_id = h.start("Patient/", "").await;
    h.run_to_end();
    let data = h.data();
    let patients: BTreeSet<String> = data["Patient"].keys().map(|id| format!("Patient/{id}")).collect();
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, by_id) in &data {
        for (id, value) in by_id {
            let belongs = if t == "Patient" {
                true
            } else {
                patient_of(value).is_some_and(|p| patients.contains(&p))
            };
            if belongs {
                expected.entry(t.clone()).or_default().insert(id.clone());
            }
        }
    }
    assert!(data.contains_key("Group"));
    assert!(
        !expected.contains_key("Group"),
        "groups are not in a patient's compartment"
    );
    assert_eq!(h.written_ids(&job_id), expected);
    assert_eq!(h.job(&job_id).rest.unwrap().scope, ExportScope::Patient);
}

#[tokio::test]
async fn group_scope_is_the_members_and_what_references_them() {
    let h = Harness::new(clinic_with_groups()).await;
    let data = h.data();
    let (group_id, group) = data["Group"].iter().next().unwrap();
    assert_eq!(group["type"], "person");
    assert_eq!(group["actual"], true);
    let members: BTreeSet<String> = group["member"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["entity"]["reference"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !members.is_empty() && members.len() < data["Patient"].len(),
        "{members:?}"
    );
    let job_id = h
        .start(&format!("Group/{group_id}/"), "?_type=Patient,Observation")
        .await;
    h.run_to_end();
    let written = h.written(&job_id);
    let patients: BTreeSet<String> = written["Patient"]
        .keys()
        .map(|id| format!("Patient/{id}"))
        .collect();
    assert_eq!(patients, members);
    let expected_observations: BTreeSet<String> = data["Observation"]
        .iter()
        .filter(|(_, v)| patient_of(v).is_some_and(|p| members.contains(&p)))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!expected_observations.is_empty());
    let observations: BTreeSet<String> = written["Observation"].keys().cloned().collect();
    assert_eq!(observations, expected_observations);
    assert_eq!(written.len(), 2, "only the types asked for");
    assert_eq!(
        h.job(&job_id).rest.unwrap().scope,
        ExportScope::Group(group_id.clone())
    );

    let unknown = h.kickoff("Group/no-such-group/", "", "g").await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let (code, diagnostics) = unknown.issue();
    assert_eq!(code, "not-found");
    assert!(diagnostics.contains("no-such-group"));
}

// ---- refusals ----

#[tokio::test]
async fn bad_kickoffs_are_refused_with_an_operation_outcome_and_make_no_job() {
    let h = Harness::new(clinic()).await;
    for (query, code, names) in [
        (
            "?_typeFilter=Patient%3Factive%3Dtrue",
            "not-supported",
            "_typeFilter",
        ),
        ("?_elements=id", "not-supported", "_elements"),
        ("?_count=10", "not-supported", "_count"),
        ("?_type=Patient,Spaceship", "value", "Spaceship"),
        ("?_since=last-tuesday", "value", "_since"),
        ("?_until=2026-99-01", "value", "_until"),
        ("?_outputFormat=text%2Fcsv", "value", "_outputFormat"),
    ] {
        let answer = h.kickoff("", query, "bad").await;
        assert_eq!(answer.status, 400, "{query}: {answer:?}");
        let (got, diagnostics) = answer.issue();
        assert_eq!(got, code, "{query}");
        assert!(diagnostics.contains(names), "{query}: {diagnostics}");
    }
    let path = format!("/datastore/{}/r4/$export", h.datastore_id);
    let no_prefer = send(
        &h.addr(),
        &h.auth,
        "POST",
        &path,
        Some(&rest_client::kickoff_body("x")),
        false,
    )
    .await;
    assert_eq!(no_prefer.status, 400);
    assert_eq!(no_prefer.issue().0, "invalid");
    let mut body = rest_client::kickoff_body("x");
    body["OutputDataConfig"]["S3Configuration"]["S3Uri"] = json!("https://not-s3/");
    let bad_body = h.request("POST", &path, Some(&body)).await;
    assert_eq!(bad_body.status, 400);
    let (code, diagnostics) = bad_body.issue();
    assert_eq!(code, "invalid");
    assert!(
        diagnostics.contains("outputDataConfig.s3Configuration.s3Uri"),
        "{diagnostics}"
    );
    let no_role = h
        .request(
            "POST",
            &path,
            Some(&json!({ "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } } })),
        )
        .await;
    assert!(no_role.issue().1.contains("dataAccessRoleArn"));
    let unknown_ds = h
        .request(
            "POST",
            "/datastore/0123456789abcdef0123456789abcdef/r4/$export",
            Some(&rest_client::kickoff_body("x")),
        )
        .await;
    assert_eq!(unknown_ds.status, 404);
    assert_eq!(unknown_ds.issue().0, "not-found");
    let unknown_job = h.status("0123456789abcdef0123456789abcdef").await;
    assert_eq!(unknown_job.status, 404);
    assert_eq!(unknown_job.issue().0, "not-found");
    assert!(h.emulator.export_jobs().is_empty());
    // Without JobName is fine.
    let nameless = h
        .request("POST", &path, Some(&json!({ "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } }, "DataAccessRoleArn": ROLE })))
        .await;
    assert_eq!(nameless.status, 202, "{nameless:?}");
}

#[tokio::test]
async fn injected_faults_apply_to_the_rest_operations() {
    let h = Harness::with(VirtualClock::default(), clinic(), |c| {
        c.faults = Faults::none().with(
            Operation::StartFhirExportJobWithPost,
            FaultSpec {
                throttle_rate: 1.0,
                ..FaultSpec::default()
            },
        );
    })
    .await;
    let answer = h.kickoff("", "", "x").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("x-amzn-errortype"), Some("ThrottlingException"));
    assert_eq!(answer.issue().0, "throttled");
    assert!(h.emulator.export_jobs().is_empty());
    assert_eq!(
        h.status("nope").await.status,
        404,
        "other operations are unaffected"
    );
    assert_eq!(h.emulator.call_counts()["StartFHIRExportJobWithPost"], 1);
    assert_eq!(h.emulator.call_counts()["DescribeFHIRExportJobWithGet"], 1);
}

// ---- cancel ----

#[tokio::test]
async fn cancel_mid_run_ends_cancelled_with_no_files() {
    let h = Harness::new(clinic()).await;
    let job_id = h.start("", "").await;
    h.advance_secs(10);
    assert_eq!(
        h.status(&job_id).await.json()["exportJobProperties"]["jobStatus"],
        "IN_PROGRESS"
    );
    let cancelled = h.cancel(&job_id).await;
    assert_eq!(cancelled.status, 202, "{cancelled:?}");
    assert_eq!(
        cancelled.json(),
        json!({ "exportJobProperties": { "jobId": job_id, "jobStatus": "CANCEL_SUBMITTED", "datastoreId": h.datastore_id } })
    );
    h.advance_secs(30);
    assert_eq!(
        h.status(&job_id).await.json()["exportJobProperties"]["jobStatus"],
        "CANCEL_IN_PROGRESS"
    );
    h.run_to_end();
    let done = h.status(&job_id).await.json();
    assert_eq!(done["exportJobProperties"]["jobStatus"], "CANCEL_COMPLETED");
    assert!(done.get("output").is_none());
    assert!(
        files_under(h.out.path()).is_empty(),
        "a cancelled job writes nothing"
    );
    let again = h.cancel(&job_id).await;
    assert_eq!(again.status, 400);
    let (code, diagnostics) = again.issue();
    assert_eq!(code, "not-supported");
    assert!(diagnostics.contains("CANCEL_COMPLETED"), "{diagnostics}");

    let finished = h.start("", "").await;
    h.run_to_end();
    let late = h.cancel(&finished).await;
    assert_eq!(late.status, 400);
    assert!(late.issue().1.contains("already ended with status COMPLETED"));
}

// ---- old data stores ----

#[tokio::test]
async fn data_stores_created_before_june_2023_have_system_export_only() {
    let clock = VirtualClock::starting_at(ts("2023-01-01T00:00:00Z"));
    let h = Harness::new_at(clock, clinic_with_groups()).await;
    let group = h.data()["Group"].keys().next().unwrap().clone();
    assert_eq!(h.kickoff("", "", "old").await.status, 202);
    for scope in ["Patient/".to_owned(), format!("Group/{group}/")] {
        let answer = h.kickoff(&scope, "", "old").await;
        assert_eq!(answer.status, 400, "{scope}");
        let (code, diagnostics) = answer.issue();
        assert_eq!(code, "not-supported");
        assert!(diagnostics.contains("before June 1, 2023"), "{diagnostics}");
    }
    let job = h.emulator.export_jobs()[0].job_id.clone();
    let status = h.status(&job).await;
    assert_eq!((status.status, status.issue().0.as_str()), (400, "not-supported"));
    let cancel = h.cancel(&job).await;
    assert_eq!(cancel.status, 400);
    assert!(
        cancel.issue().1.starts_with(
            "Cancelling export jobs is not supported for data stores created before June 1, 2023"
        )
    );
    assert_eq!(h.emulator.export_jobs().len(), 1);

    // A data store created after the cutoff has them all.
    h.clock.advance_to(ts("2023-06-01T00:00:00Z"));
    let newer = h.emulator.create_datastore("newer", None).unwrap();
    let path = format!("/datastore/{newer}/r4/Patient/$export");
    assert_eq!(
        h.request("POST", &path, Some(&rest_client::kickoff_body("new")))
            .await
            .status,
        202
    );
}

// ---- lost answers and the queue ----

async fn job_status(h: &Harness, job_id: &str) -> Value {
    h.status(job_id).await.json()["exportJobProperties"]["jobStatus"].clone()
}

#[tokio::test]
async fn a_lost_kickoff_answer_still_makes_the_job_and_jobs_queue_fifo() {
    let h = Harness::new(clinic()).await;
    let sdk = h
        .emulator
        .call(
            "StartFHIRExportJob",
            json!({
                "DatastoreId": h.datastore_id,
                "OutputDataConfig": { "S3Configuration": { "S3Uri": S3, "KmsKeyId": KMS } },
                "DataAccessRoleArn": ROLE,
            }),
        )
        .await
        .unwrap();
    h.emulator.lose_next_kickoff_answers(1);
    let lost = h.kickoff("", "", "nightly-2026-01-01").await;
    assert_eq!(lost.status, 504, "{lost:?}");
    assert!(lost.text.is_empty());
    let jobs = h.emulator.export_jobs();
    assert_eq!(jobs.len(), 2, "the job was made");
    assert_eq!(jobs[1].job_name.as_deref(), Some("nightly-2026-01-01"));
    let retry = h.start("", "").await;
    assert_ne!(retry, jobs[1].job_id, "no ClientToken: every POST is a new job");
    h.advance_secs(5);
    assert_eq!(
        job_status(&h, sdk["JobId"].as_str().unwrap()).await,
        "IN_PROGRESS"
    );
    assert_eq!(job_status(&h, &jobs[1].job_id).await, "QUEUED");
    assert_eq!(job_status(&h, &retry).await, "QUEUED");
    h.run_to_end();
    let order: Vec<_> = h
        .emulator
        .export_jobs()
        .iter()
        .map(|j| j.start_time.unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "FIFO: {order:?}");
    let calls: Vec<u16> = h
        .emulator
        .calls()
        .iter()
        .filter(|c| c.operation == "StartFHIRExportJobWithPost")
        .map(|c| c.status)
        .collect();
    assert_eq!(calls, [504, 202]);
}

// ---- churn ----

fn churn_emulator(seed: u64) -> (Emulator, VirtualClock, String) {
    let clock = VirtualClock::default();
    let emulator = Emulator::new(
        EmulatorConfig {
            seed,
            ..EmulatorConfig::default()
        },
        Arc::new(clock.clone()),
    );
    let ds = emulator
        .create_datastore_with_churn(
            "churn",
            None,
            Churn {
                created_per_day: 10,
                updated_per_day: 30,
            },
        )
        .unwrap();
    (emulator, clock, ds)
}

#[tokio::test]
async fn the_same_seed_gives_the_same_changes_however_the_clock_moves() {
    let end = ts("2026-01-04T00:00:00Z");
    let (a, clock_a, ds_a) = churn_emulator(5);
    clock_a.advance_to(end);
    let changes_a = a.changes(&ds_a).unwrap();
    assert_eq!(changes_a.len(), 3 * 40);
    assert_eq!(
        changes_a.iter().filter(|c| c.kind == ChangeKind::Created).count(),
        30
    );
    assert_eq!(
        changes_a[0].at,
        ts("2026-01-01T00:18:00Z"),
        "(0 + 0.5) * 86400 / 40 s after creation"
    );
    assert_eq!(changes_a[1].at, ts("2026-01-01T00:54:00Z"));
    assert!(changes_a.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(a.next_change_at(), None, "churn is not a scheduled change");

    // Irregular steps, reading content in between.
    let (b, clock_b, ds_b) = churn_emulator(5);
    let mut step = 1;
    while clock_b.now() < end {
        let next = (clock_b.now() + SignedDuration::from_secs(step)).min(end);
        clock_b.advance_to(next);
        if step % 3 == 0 {
            b.advance();
        } else {
            let _ = b.resource_ids(&ds_b);
        }
        step = step * 7 % 9_973 + 1;
    }
    assert_eq!(ds_a, ds_b);
    assert_eq!(b.changes(&ds_b).unwrap(), changes_a);
    assert_eq!(b.resources(&ds_b), a.resources(&ds_a));

    let (c, clock_c, ds_c) = churn_emulator(6);
    clock_c.advance_to(end);
    assert_ne!(
        c.changes(&ds_c).unwrap(),
        changes_a,
        "another seed, other changes"
    );

    // Updates bump the version and the last-updated time.
    let resources = a.resources(&ds_a).unwrap();
    let updated = changes_a
        .iter()
        .rev()
        .find(|c| c.kind == ChangeKind::Updated)
        .unwrap();
    let line = resources[&updated.resource_type]
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == updated.id.as_str())
        .unwrap();
    let versions = changes_a
        .iter()
        .filter(|c| c.id == updated.id && c.kind == ChangeKind::Updated)
        .count();
    assert_eq!(line["meta"]["versionId"], (versions + 1).to_string());
    let last: Timestamp = line["meta"]["lastUpdated"].as_str().unwrap().parse().unwrap();
    assert_eq!(last, updated.at);
}

#[tokio::test]
async fn churn_creates_reference_existing_resources() {
    let (a, clock, ds) = churn_emulator(9);
    clock.advance_to(ts("2026-01-03T00:00:00Z"));
    let resources = a.resources(&ds).unwrap();
    let ids = a.resource_ids(&ds).unwrap();
    for (t, lines) in &resources {
        for line in lines {
            let v: Value = serde_json::from_str(line).unwrap();
            for field in ["subject", "encounter"] {
                if let Some(reference) = v[field]["reference"].as_str() {
                    let (rt, id) = reference.split_once('/').unwrap();
                    assert!(ids[rt].contains(id), "{t} {field} {reference}");
                }
            }
        }
    }
}
