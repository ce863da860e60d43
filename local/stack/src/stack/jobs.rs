//! Running jobs on a [`LocalStack`]: the requests the export and import
//! schedules send, executions started on the job state machine, whole
//! nights of exports and folder imports run to their end on virtual time,
//! and the job records they leave.

use std::path::Path;

use hlx_asl_runner::{ExecutionDescription, ExecutionHandle, StartError};
use hlx_core::{HlxError, JobKind, JobRecord, JobStore};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::LocalStack;
use crate::config::first_night;
use crate::names::{IMPORT_LOGS_S3_URI, LANDING_S3_URI, data_access_role_arn};

impl LocalStack {
    /// A nightly export request for a data store, as the schedule sends it.
    pub fn export_request(&self, datastore_id: &str) -> Value {
        let mut request = json!({
            "datastoreId": datastore_id,
            "s3Uri": "s3://hlx-local-exports/nightly",
            "kmsKeyId": "alias/hlx-local-exports",
            "dataAccessRoleArn": data_access_role_arn(),
            "trigger": "schedule"
        });
        if let Value::Object(selection) = serde_json::to_value(&self.nightly).expect("a selection serializes")
        {
            request.as_object_mut().expect("an object").extend(selection);
        }
        request
    }

    /// An import request for a data store, as the import schedule sends it:
    /// load what lies under `input_s3_uri`, logs to the local log bucket.
    pub fn import_request(&self, datastore_id: &str, input_s3_uri: &str) -> Value {
        json!({
            "kind": "import",
            "datastoreId": datastore_id,
            "inputS3Uri": input_s3_uri,
            "outputS3Uri": IMPORT_LOGS_S3_URI,
            "kmsKeyId": "alias/hlx-local-exports",
            "dataAccessRoleArn": data_access_role_arn(),
            "trigger": "schedule"
        })
    }

    /// Starts an execution of the state machine: an export, or an import
    /// (`"kind": "import"`), by its input.
    pub fn start_execution(&self, name: &str, input: Value) -> Result<ExecutionHandle, StartError> {
        self.runner.start_execution(&self.machine, name, input)
    }

    /// Moves virtual time to `at` (no-op on real time).
    pub fn advance_to(&self, at: Timestamp) {
        if let Some(clock) = &self.virtual_clock {
            clock.advance_to(at);
        }
    }

    /// Starts one night's exports (`nightly-<datastore>-<date>`) for every
    /// data store at 02:00 of night `n` (0 = the first), and waits for them.
    pub async fn run_night(&self, night: u32) -> Result<Vec<ExecutionDescription>, String> {
        let start = match self.virtual_clock {
            Some(_) => first_night() + SignedDuration::from_hours(24 * i64::from(night)),
            None => self.clock.now(),
        };
        self.advance_to(start);
        let date = start.strftime("%Y-%m-%d").to_string();
        let mut handles = Vec::new();
        for datastore in &self.datastores {
            let name = format!("nightly-{datastore}-{date}");
            let handle = self
                .start_execution(&name, self.export_request(datastore))
                .map_err(|e| format!("{name} could not start: {e}"))?;
            handles.push(handle);
        }
        self.runner.wait_all().await;
        // The bus may still be handing out what fell due at the end.
        self.runner.settle().await;
        Ok(handles.iter().map(ExecutionHandle::describe).collect())
    }

    /// Loads a folder of NDJSON into a data store, as a landing bucket and
    /// the import schedule would: copies `dir` to [`LANDING_S3_URI`] and runs
    /// the import `import-<datastore>-<date>` now (a stack that imports before
    /// its first night starts its clock earlier), through the same state
    /// machine, to its end.
    pub async fn run_import(&self, dir: &Path, datastore_id: &str) -> Result<ExecutionDescription, String> {
        let files = self
            .upload_dir(dir, LANDING_S3_URI)
            .map_err(|e| format!("{} could not be copied to the landing bucket: {e}", dir.display()))?;
        if files == 0 {
            return Err(format!("{} holds no files to import", dir.display()));
        }
        let start = self.clock.now();
        let name = format!("import-{datastore_id}-{}", start.strftime("%Y-%m-%d"));
        let handle = self
            .start_execution(&name, self.import_request(datastore_id, LANDING_S3_URI))
            .map_err(|e| format!("{name} could not start: {e}"))?;
        self.runner.wait_all().await;
        self.runner.settle().await;
        Ok(handle.describe())
    }

    /// The job record of an export (its execution name).
    pub async fn record(&self, id: &str) -> Result<Option<JobRecord>, HlxError> {
        self.store.get(JobKind::Export, id).await
    }

    /// Verifies a completed export again in this process (`hlx verify`'s
    /// path: every file read by one reader, whatever the size), through the
    /// real S3 client at the emulator; `record` keeps the verdict in the record.
    pub async fn verify_again(
        &self,
        id: &str,
        policy: &hlx_core::verification::VerifyPolicy,
        record: bool,
    ) -> Result<hlx_core::verification::Verification, String> {
        let sdk = super::sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .endpoint_url(self.healthlake_endpoint())
                .force_path_style(true)
                .build(),
        );
        let objects = hlx_aws::S3ExportObjects::new(s3);
        let now = self.clock.now();
        hlx_core::verify_export::reverify(&objects, self.store.as_ref(), id, policy, now, record)
            .await
            .map_err(|e| e.to_string())
    }

    /// The job record of an import (its execution name).
    pub async fn import_record(&self, import_id: &str) -> Result<Option<JobRecord>, HlxError> {
        self.store.get(JobKind::Import, import_id).await
    }
}
