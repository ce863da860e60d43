//! Incremental and scoped exports against an in-process fake of HealthLake's
//! FHIR REST API: where `_since` comes from, one job per execution even when
//! a kick-off's answer is lost, the manifest carried to the record, and the
//! cancel of a timed-out export. (The end-to-end tests run the same paths
//! over HTTP against the emulator.)

use std::sync::Mutex;

use hlx_core::healthlake::{HealthLakeJobs, JobDescription, StartExportJob, StartImportJob, StartedJob};
use hlx_core::manifest::{ExportManifest, ManifestFile};
use hlx_core::progress::{ExportApi, Outcome};
use hlx_core::record::RecordRequest;
use hlx_core::{
    CheckJobInput, ExportScope, HlxError, InMemoryJobStore, JobKind, JobRecord, JobStatus, JobStore,
    NoHistory, PollSchedule, RestExportJob, StartJobInput, check_job, start_job,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

#[derive(Default)]
struct FakeRest {
    sdk_started: Mutex<Vec<StartExportJob>>,
    /// Every kick-off HealthLake received, answered or not.
    kicked_off: Mutex<Vec<RestExportJob>>,
    /// Kick-offs whose answer is lost (the job is still created).
    lose_answers: Mutex<u32>,
    lookups: Mutex<u32>,
    /// The REST status GET's answer.
    describe: Mutex<Option<JobDescription>>,
    /// `DescribeFHIRExportJob`'s answer, for SDK jobs; a REST job must never ask.
    sdk_describe: Option<JobDescription>,
    cancels: Mutex<Vec<String>>,
    refuse_cancel: bool,
    /// Kick-offs never reach HealthLake (no job is made).
    unreachable: bool,
    /// ListFHIRExportJobs (the lookup by name) is throttled.
    lookup_fails: bool,
}

impl HealthLakeJobs for FakeRest {
    async fn start_export(&self, job: &StartExportJob) -> Result<StartedJob, HlxError> {
        self.sdk_started.lock().unwrap().push(job.clone());
        Ok(StartedJob {
            job_id: "sdk-job".into(),
            status: JobStatus::Submitted,
        })
    }

    async fn describe_export(&self, _: &str, _: &str) -> Result<JobDescription, HlxError> {
        Ok(self
            .sdk_describe
            .clone()
            .expect("a REST job is checked through the REST status GET"))
    }

    async fn start_import(&self, _: &StartImportJob) -> Result<StartedJob, HlxError> {
        unreachable!()
    }

    async fn describe_import(&self, _: &str, _: &str) -> Result<JobDescription, HlxError> {
        unreachable!()
    }

    async fn start_rest_export(&self, job: &RestExportJob) -> Result<StartedJob, HlxError> {
        if self.unreachable {
            return Err(HlxError::HealthLakeUnavailable("connection refused".into()));
        }
        let mut jobs = self.kicked_off.lock().unwrap();
        jobs.push(job.clone());
        let job_id = format!("rest-{}", jobs.len());
        let mut lose = self.lose_answers.lock().unwrap();
        if *lose > 0 {
            *lose -= 1;
            return Err(HlxError::HealthLakeUnavailable("HTTP 504".into()));
        }
        Ok(StartedJob {
            job_id,
            status: JobStatus::Submitted,
        })
    }

    async fn describe_rest_export(&self, _: &str, _: &str) -> Result<JobDescription, HlxError> {
        Ok(self.describe.lock().unwrap().clone().expect("a scripted status"))
    }

    async fn cancel_export(&self, _: &str, job_id: &str) -> Result<JobStatus, HlxError> {
        self.cancels.lock().unwrap().push(job_id.to_owned());
        if self.refuse_cancel {
            return Err(HlxError::HealthLake {
                code: "ValidationException".into(),
                message: "not-supported: cancel is not supported for this data store".into(),
            });
        }
        Ok(JobStatus::CancelSubmitted)
    }

    async fn find_export_by_name(&self, _: &str, job_name: &str) -> Result<Option<StartedJob>, HlxError> {
        *self.lookups.lock().unwrap() += 1;
        if self.lookup_fails {
            return Err(HlxError::HealthLake {
                code: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
            });
        }
        let jobs = self.kicked_off.lock().unwrap();
        Ok(jobs
            .iter()
            .rposition(|j| j.job_name == job_name)
            .map(|i| StartedJob {
                job_id: format!("rest-{}", i + 1),
                status: JobStatus::Submitted,
            }))
    }
}

/// Manifests as S3 would keep them: what was put where, with which key.
#[derive(Default)]
struct FakeManifests {
    put: Mutex<Vec<(String, ExportManifest, String)>>,
    listing: Vec<ManifestFile>,
}

impl hlx_core::ManifestStore for FakeManifests {
    async fn put_manifest(
        &self,
        location: &str,
        manifest: &ExportManifest,
        kms: &str,
    ) -> Result<String, HlxError> {
        self.put
            .lock()
            .unwrap()
            .push((location.to_owned(), manifest.clone(), kms.to_owned()));
        Ok(hlx_core::manifest_store::manifest_uri(location))
    }

    async fn list_export(&self, _: &str) -> Result<(Vec<ManifestFile>, Vec<ManifestFile>), HlxError> {
        Ok((self.listing.clone(), vec![]))
    }
}

fn t0() -> Timestamp {
    "2026-01-02T02:00:00Z".parse().unwrap()
}

fn request(extra: Value) -> Value {
    let mut request = json!({
        "datastoreId": "ds1",
        "s3Uri": "s3://bucket/exports",
        "kmsKeyId": "alias/hlx",
        "dataAccessRoleArn": "arn:aws:iam::123456789012:role/HealthLakeExport",
        "trigger": "schedule"
    });
    request
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    request
}

fn input(request: Value, retry_count: u32) -> StartJobInput {
    serde_json::from_value(json!({
        "request": request,
        "executionName": "nightly-ds1-2026-01-02",
        "now": "2026-01-02T02:00:00Z",
        "retryCount": retry_count
    }))
    .unwrap()
}

/// A completed export of `chain` as record-result writes it, ended `day` days before t0.
async fn record_night(
    store: &InMemoryJobStore,
    id: &str,
    request: Value,
    status: JobStatus,
    transaction: Option<&str>,
) {
    let started: Timestamp = transaction.unwrap_or("2026-01-01T02:00:00Z").parse().unwrap();
    let manifest =
        transaction.map(|t| json!({"transactionTime": t, "files": 1, "resources": {"Patient": 1}}));
    let mut progress = json!({
        "kind": "export", "jobId": format!("job-{id}"), "datastoreId": "ds1", "jobName": id,
        "clientToken": "hlx-x", "jobStatus": status.as_str(), "outcome": "SUCCEEDED", "changed": true,
        "submitTime": started.to_string(), "queuedSeconds": 0, "checks": 3, "statusChecks": 1,
        "startAttempts": 1, "nextCheckSeconds": 60, "api": "rest"
    });
    if let Some(manifest) = manifest {
        progress["manifest"] = manifest;
    }
    let record = JobRecord::from_request(
        serde_json::from_value::<RecordRequest>(json!({
            "id": id,
            "executionArn": format!("arn:aws:states:us-east-1:123456789012:execution:hlx:{id}"),
            "executionStartedAt": started.to_string(),
            "now": (started + SignedDuration::from_hours(1)).to_string(),
            "request": request,
            "progress": progress,
        }))
        .unwrap(),
    )
    .unwrap();
    store.write(&record).await.unwrap();
}

#[tokio::test]
async fn a_plain_full_export_still_goes_through_the_sdk() {
    let fake = FakeRest::default();
    let progress = start_job(
        &fake,
        &NoHistory,
        &PollSchedule::default(),
        &input(request(json!({})), 0),
    )
    .await
    .unwrap();
    assert_eq!(progress.api, ExportApi::Sdk);
    assert_eq!(fake.sdk_started.lock().unwrap().len(), 1);
    assert!(fake.kicked_off.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_first_incremental_export_takes_everything_and_later_ones_continue_the_chain() {
    let fake = FakeRest::default();
    let store = InMemoryJobStore::new();
    let incremental = request(json!({"mode": "incremental"}));
    let first = start_job(
        &fake,
        &store,
        &PollSchedule::default(),
        &input(incremental.clone(), 0),
    )
    .await
    .unwrap();
    assert_eq!(first.api, ExportApi::Rest);
    assert_eq!(first.since, None);
    assert_eq!(fake.kicked_off.lock().unwrap()[0].since, None);

    // Night 1 completed at T1; night 2 failed; night 3 completed with errors;
    // a patient-scope export completed later: only night 1 counts.
    record_night(
        &store,
        "n1",
        incremental.clone(),
        JobStatus::Completed,
        Some("2026-01-01T02:00:05.000Z"),
    )
    .await;
    record_night(&store, "n2", incremental.clone(), JobStatus::Failed, None).await;
    record_night(
        &store,
        "n3",
        incremental.clone(),
        JobStatus::CompletedWithErrors,
        Some("2026-01-01T12:00:00.000Z"),
    )
    .await;
    record_night(
        &store,
        "p1",
        request(json!({"mode": "incremental", "scope": "patient"})),
        JobStatus::Completed,
        Some("2026-01-01T20:00:00.000Z"),
    )
    .await;
    let next = start_job(
        &fake,
        &store,
        &PollSchedule::default(),
        &input(incremental.clone(), 0),
    )
    .await
    .unwrap();
    let since: Timestamp = "2026-01-01T02:00:05Z".parse().unwrap();
    assert_eq!(next.since, Some(since));
    let sent = fake.kicked_off.lock().unwrap()[1].clone();
    assert_eq!(sent.since, Some(since));
    assert!(
        sent.path_and_query()
            .contains("_since=2026-01-01T02%3A00%3A05.000Z"),
        "{}",
        sent.path_and_query()
    );

    // The patient chain continues from its own export.
    let patients = start_job(
        &fake,
        &store,
        &PollSchedule::default(),
        &input(request(json!({"mode": "incremental", "scope": "patient"})), 0),
    )
    .await
    .unwrap();
    assert_eq!(patients.since, Some("2026-01-01T20:00:00Z".parse().unwrap()));
    assert_eq!(fake.kicked_off.lock().unwrap()[2].scope, ExportScope::Patient);

    // An explicit since wins over the history.
    let forced = start_job(
        &fake,
        &store,
        &PollSchedule::default(),
        &input(
            request(json!({"mode": "incremental", "since": "2025-12-01T00:00:00Z"})),
            0,
        ),
    )
    .await
    .unwrap();
    assert_eq!(forced.since, Some("2025-12-01T00:00:00Z".parse().unwrap()));
}

#[tokio::test]
async fn a_job_that_cannot_be_looked_up_is_never_kicked_off_again() {
    let fake = FakeRest {
        lookup_fails: true,
        ..FakeRest::default()
    };
    *fake.lose_answers.lock().unwrap() = 1;
    let scoped = request(json!({"scope": "patient"}));
    // The answer is lost and the lookup fails: the kick-off's own error, for
    // the state machine to retry.
    let err = start_job(
        &fake,
        &NoHistory,
        &PollSchedule::default(),
        &input(scoped.clone(), 0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_name(), "hlx.HealthLakeUnavailable");
    // The retry cannot tell whether the job exists: it fails with the
    // lookup's error and sends nothing, rather than risk a second job.
    let err = start_job(&fake, &NoHistory, &PollSchedule::default(), &input(scoped, 1))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), "HealthLake.ThrottlingException");
    assert_eq!(fake.kicked_off.lock().unwrap().len(), 1);
    assert_eq!(*fake.lookups.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_lost_kick_off_answer_never_makes_a_second_job() {
    let fake = FakeRest::default();
    *fake.lose_answers.lock().unwrap() = 1;
    let scoped = request(json!({"scope": "group/cohort-1", "types": ["Patient", "Observation"]}));
    // The answer is lost; the job is found by its execution-unique name.
    let progress = start_job(
        &fake,
        &NoHistory,
        &PollSchedule::default(),
        &input(scoped.clone(), 0),
    )
    .await
    .unwrap();
    assert_eq!(progress.job_id, "rest-1");
    assert_eq!(fake.kicked_off.lock().unwrap().len(), 1);
    // A retried invocation (the Lambda died after sending) looks first, and finds it.
    let retried = start_job(
        &fake,
        &NoHistory,
        &PollSchedule::default(),
        &input(scoped.clone(), 1),
    )
    .await
    .unwrap();
    assert_eq!(retried.job_id, "rest-1");
    assert_eq!(fake.kicked_off.lock().unwrap().len(), 1);
    assert_eq!(*fake.lookups.lock().unwrap(), 2);
    assert!(
        progress.job_name.starts_with("nightly-ds1-2026-01-02"),
        "{}",
        progress.job_name
    );
}

#[tokio::test]
async fn an_unanswered_kick_off_that_made_no_job_is_an_error_the_state_machine_retries() {
    let healthlake = FakeRest {
        unreachable: true,
        ..FakeRest::default()
    };
    let err = start_job(
        &healthlake,
        &NoHistory,
        &PollSchedule::default(),
        &input(request(json!({"scope": "patient"})), 0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_name(), "hlx.HealthLakeUnavailable");
    // It looked for a job of that name before giving up, and found none.
    assert_eq!(*healthlake.lookups.lock().unwrap(), 1);
}

fn rest_progress() -> hlx_core::JobProgress {
    serde_json::from_value(json!({
        "kind": "export", "jobId": "rest-1", "datastoreId": "ds1", "jobName": "n",
        "clientToken": "hlx-x", "jobStatus": "IN_PROGRESS", "outcome": "WAITING", "changed": true,
        "submitTime": "2026-01-02T02:00:00Z", "runningSince": "2026-01-02T02:00:00Z",
        "queuedSeconds": 0, "runningSeconds": 0, "checks": 1, "statusChecks": 1,
        "startAttempts": 1, "nextCheckSeconds": 60, "api": "rest",
        "since": "2026-01-01T02:00:05.000Z",
        "output": {"location": "s3://bucket/exports/ds1-FHIR_EXPORT-rest-1/", "kmsKeyId": "alias/hlx"}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_completed_rest_export_carries_its_manifest_summary() {
    let fake = FakeRest::default();
    *fake.describe.lock().unwrap() = Some(JobDescription {
        job_id: "rest-1".into(),
        status: JobStatus::Completed,
        submit_time: t0(),
        end_time: Some(t0() + SignedDuration::from_mins(20)),
        message: None,
        import_counts: None,
        manifest: Some(ExportManifest {
            transaction_time: t0() + SignedDuration::from_secs(5),
            request: "https://x/datastore/ds1/r4/$export".into(),
            requires_access_token: false,
            output: vec![
                ManifestFile {
                    resource_type: "Patient".into(),
                    url: "s3://b/p1".into(),
                    count: Some(4),
                },
                ManifestFile {
                    resource_type: "Observation".into(),
                    url: "s3://b/o1".into(),
                    count: Some(7),
                },
                ManifestFile {
                    resource_type: "Observation".into(),
                    url: "s3://b/o2".into(),
                    count: Some(2),
                },
            ],
            error: vec![],
        }),
    });
    let manifests = FakeManifests::default();
    let checked = check_job(
        &fake,
        &manifests,
        &PollSchedule::default(),
        &CheckJobInput {
            progress: rest_progress(),
            now: t0() + SignedDuration::from_mins(21),
        },
    )
    .await
    .unwrap();
    assert_eq!(checked.outcome, Outcome::Succeeded);
    // HealthLake's manifest, as it came, next to the files with the export's key.
    let put = manifests.put.lock().unwrap().clone();
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].0, "s3://bucket/exports/ds1-FHIR_EXPORT-rest-1/");
    assert_eq!(put[0].1.output.len(), 3);
    assert_eq!(put[0].2, "alias/hlx");
    let manifest = checked.manifest.clone().unwrap();
    assert_eq!(manifest.files, 3);
    assert_eq!(manifest.resources.get("Observation"), Some(&9));
    assert_eq!(manifest.total_resources(), 13);
    assert_eq!(
        manifest.uri.as_deref(),
        Some("s3://bucket/exports/ds1-FHIR_EXPORT-rest-1/manifest.json")
    );
    assert_eq!(manifest.write_error, None);
    assert_eq!(checked.since, Some("2026-01-01T02:00:05Z".parse().unwrap()));
    // And the record keeps it, with the chain it continues.
    let record = JobRecord::from_request(
        serde_json::from_value::<RecordRequest>(json!({
            "id": "x", "executionArn": "arn:aws:states:us-east-1:123456789012:execution:hlx:x",
            "executionStartedAt": "2026-01-02T02:00:00Z", "now": "2026-01-02T02:21:00Z",
            "request": request(json!({"mode": "incremental", "types": ["Patient", "Observation"]})),
            "progress": serde_json::to_value(&checked).unwrap(),
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record.chain(), "system?_type=Observation,Patient");
    assert_eq!(record.mode.as_deref(), Some("incremental"));
    assert_eq!(
        record.manifest.unwrap().transaction_time,
        t0() + SignedDuration::from_secs(5)
    );
    assert_eq!(record.kind, JobKind::Export);
}

#[tokio::test]
async fn a_timed_out_export_is_cancelled_in_healthlake_and_a_refusal_is_kept() {
    for refuse in [false, true] {
        let fake = FakeRest {
            refuse_cancel: refuse,
            ..FakeRest::default()
        };
        *fake.describe.lock().unwrap() = Some(JobDescription {
            job_id: "rest-1".into(),
            status: JobStatus::InProgress,
            submit_time: t0(),
            end_time: None,
            message: None,
            import_counts: None,
            manifest: None,
        });
        let schedule = PollSchedule::default();
        let late = t0() + SignedDuration::try_from(schedule.max_run).unwrap() + SignedDuration::from_secs(1);
        let checked = check_job(
            &fake,
            &hlx_core::NoManifests,
            &schedule,
            &CheckJobInput {
                progress: rest_progress(),
                now: late,
            },
        )
        .await
        .unwrap();
        assert_eq!(checked.outcome, Outcome::TimedOut);
        assert_eq!(*fake.cancels.lock().unwrap(), vec!["rest-1".to_owned()]);
        let cancel = checked.cancel.unwrap();
        if refuse {
            assert_eq!(cancel.status, None);
            assert!(cancel.refused.unwrap().contains("not supported"));
        } else {
            assert_eq!(cancel.status.as_deref(), Some("CANCEL_SUBMITTED"));
        }
    }
}

#[tokio::test]
async fn a_full_sdk_export_gets_a_manifest_built_from_its_folder() {
    let healthlake = FakeRest {
        sdk_describe: Some(JobDescription {
            job_id: "sdk-job".into(),
            status: JobStatus::Completed,
            submit_time: t0(),
            end_time: Some(t0() + SignedDuration::from_hours(2)),
            message: None,
            import_counts: None,
            manifest: None,
        }),
        ..FakeRest::default()
    };
    let manifests = FakeManifests {
        listing: vec![
            ManifestFile {
                resource_type: "Patient".into(),
                url: "s3://b/p".into(),
                count: None,
            },
            ManifestFile {
                resource_type: "Observation".into(),
                url: "s3://b/o".into(),
                count: None,
            },
        ],
        ..FakeManifests::default()
    };
    let mut progress = rest_progress();
    progress.api = ExportApi::Sdk;
    progress.since = None;
    let checked = check_job(
        &healthlake,
        &manifests,
        &PollSchedule::default(),
        &CheckJobInput {
            progress,
            now: t0() + SignedDuration::from_hours(3),
        },
    )
    .await
    .unwrap();
    let summary = checked.manifest.unwrap();
    assert_eq!((summary.files, summary.counts_incomplete), (2, true));
    // No transactionTime from HealthLake: the submit time, which can only repeat a change.
    assert_eq!(summary.transaction_time, t0());
    assert_eq!(manifests.put.lock().unwrap()[0].1.output.len(), 2);
}
