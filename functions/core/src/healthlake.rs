//! HealthLake's export and import jobs behind a small trait: what hlx asks
//! of HealthLake and what it needs of the answers.

use std::future::Future;

use jiff::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::error::HlxError;
use crate::import::ImportCounts;
use crate::manifest::ExportManifest;
use crate::selection::ExportScope;
use crate::status::JobStatus;

/// What `StartFHIRExportJob` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartExportJob {
    pub datastore_id: String,
    pub job_name: String,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    pub client_token: String,
}

/// What `StartFHIRImportJob` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartImportJob {
    pub datastore_id: String,
    pub job_name: String,
    pub input_s3_uri: String,
    pub output_s3_uri: String,
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    pub client_token: String,
}

/// What `StartFHIRExportJob` (or `StartFHIRImportJob`) answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedJob {
    pub job_id: String,
    pub status: JobStatus,
}

/// What `DescribeFHIRExportJob` (or `DescribeFHIRImportJob`) answers, as far as hlx needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDescription {
    pub job_id: String,
    pub status: JobStatus,
    pub submit_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub message: Option<String>,
    /// An import's `JobProgressReport`, when HealthLake sent one.
    pub import_counts: Option<ImportCounts>,
    /// A completed FHIR REST export's Bulk Data manifest.
    pub manifest: Option<ExportManifest>,
}

/// HealthLake's job operations.
pub trait HealthLakeJobs: Send + Sync {
    fn start_export(&self, job: &StartExportJob)
    -> impl Future<Output = Result<StartedJob, HlxError>> + Send;

    fn describe_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<JobDescription, HlxError>> + Send;

    fn start_import(&self, job: &StartImportJob)
    -> impl Future<Output = Result<StartedJob, HlxError>> + Send;

    fn describe_import(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<JobDescription, HlxError>> + Send;

    /// FHIR REST `$export` kick-off (incremental and scoped exports). No
    /// ClientToken: a repeated call starts another job.
    fn start_rest_export(
        &self,
        job: &RestExportJob,
    ) -> impl Future<Output = Result<StartedJob, HlxError>> + Send {
        let _ = job;
        async { Err(no_rest("start_rest_export")) }
    }

    /// FHIR REST status GET, with the manifest once the job completed.
    fn describe_rest_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<JobDescription, HlxError>> + Send {
        let _ = (datastore_id, job_id);
        async { Err(no_rest("describe_rest_export")) }
    }

    /// FHIR REST DELETE: asks HealthLake to cancel an export; the status it answers.
    fn cancel_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<JobStatus, HlxError>> + Send {
        let _ = (datastore_id, job_id);
        async { Err(no_rest("cancel_export")) }
    }

    /// The data store's export job of this name, newest first, if HealthLake has one.
    fn find_export_by_name(
        &self,
        datastore_id: &str,
        job_name: &str,
    ) -> impl Future<Output = Result<Option<StartedJob>, HlxError>> + Send {
        let _ = (datastore_id, job_name);
        async { Ok(None) }
    }
}

/// The error of a REST operation asked of a client without the REST API.
pub fn no_rest(operation: &str) -> HlxError {
    HlxError::InvalidInput(format!(
        "{operation}: this HealthLake client has no FHIR REST API (build it with a RestExportClient)"
    ))
}

/// What a REST kick-off is given: the body members and the query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestExportJob {
    pub datastore_id: String,
    pub scope: ExportScope,
    pub job_name: String,
    pub s3_uri: String,
    pub kms_key_id: String,
    pub data_access_role_arn: String,
    /// `_type`: resource types, empty for all.
    pub types: Vec<String>,
    /// `_since`: resources changed on or after.
    pub since: Option<Timestamp>,
    /// `_until`: resources changed on or before.
    pub until: Option<Timestamp>,
}

impl RestExportJob {
    /// The kick-off path and query: `/datastore/{id}/r4/[Patient/|Group/{g}/]$export?…`.
    pub fn path_and_query(&self) -> String {
        let scope = match &self.scope {
            ExportScope::System => String::new(),
            ExportScope::Patient => "Patient/".to_owned(),
            ExportScope::Group(id) => format!("Group/{}/", encoded(id)),
        };
        let base = format!("/datastore/{}/r4/{scope}$export", encoded(&self.datastore_id));
        let mut query = vec![("_outputFormat".to_owned(), "application/fhir+ndjson".to_owned())];
        if !self.types.is_empty() {
            query.push(("_type".into(), self.types.join(",")));
        }
        if let Some(since) = self.since {
            query.push(("_since".into(), crate::time::format(since)));
        }
        if let Some(until) = self.until {
            query.push(("_until".into(), crate::time::format(until)));
        }
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encoded(v))).collect();
        format!("{base}?{}", query.join("&"))
    }

    /// The kick-off body: the job's name, its output and the role HealthLake assumes.
    pub fn body(&self) -> Value {
        json!({
            "JobName": self.job_name,
            "OutputDataConfig": {"S3Configuration": {"S3Uri": self.s3_uri, "KmsKeyId": self.kms_key_id}},
            "DataAccessRoleArn": self.data_access_role_arn,
        })
    }
}

/// RFC 3986 percent-encoding: everything but the unreserved characters, so
/// that no id or value can change the URL's path or query.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encoded(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> RestExportJob {
        RestExportJob {
            datastore_id: "ds1".into(),
            scope: ExportScope::System,
            job_name: "n".into(),
            s3_uri: "s3://b/x".into(),
            kms_key_id: "alias/k".into(),
            data_access_role_arn: "arn:aws:iam::123456789012:role/r".into(),
            types: vec![],
            since: None,
            until: None,
        }
    }

    #[test]
    fn kick_off_urls_carry_scope_and_encoded_parameters() {
        assert_eq!(
            job().path_and_query(),
            "/datastore/ds1/r4/$export?_outputFormat=application%2Ffhir%2Bndjson"
        );
        let scoped = RestExportJob {
            scope: ExportScope::Group("g-1".into()),
            types: vec!["Patient".into(), "Observation".into()],
            since: Some("2026-11-24T02:00:00Z".parse().unwrap()),
            ..job()
        };
        assert_eq!(
            scoped.path_and_query(),
            "/datastore/ds1/r4/Group/g-1/$export?_outputFormat=application%2Ffhir%2Bndjson\
             &_type=Patient%2CObservation&_since=2026-11-24T02%3A00%3A00.000Z"
        );
        let patients = RestExportJob {
            scope: ExportScope::Patient,
            ..job()
        };
        assert!(
            patients
                .path_and_query()
                .starts_with("/datastore/ds1/r4/Patient/$export?")
        );
    }

    #[test]
    fn ids_and_values_cannot_change_the_path() {
        let hostile = RestExportJob {
            datastore_id: "../../x".into(),
            scope: ExportScope::Group("a/b?c".into()),
            ..job()
        };
        assert!(
            hostile
                .path_and_query()
                .starts_with("/datastore/..%2F..%2Fx/r4/Group/a%2Fb%3Fc/$export?"),
            "{}",
            hostile.path_and_query()
        );
    }
}
