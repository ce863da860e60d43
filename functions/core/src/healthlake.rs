//! HealthLake export jobs behind a small trait, and its SDK adapter.

use std::future::Future;

use aws_sdk_healthlake::operation::describe_fhir_export_job::DescribeFHIRExportJobError;
use aws_sdk_healthlake::operation::start_fhir_export_job::StartFHIRExportJobError;
use aws_sdk_healthlake::types::{OutputDataConfig, S3Configuration};
use jiff::Timestamp;

use crate::error::HlxError;
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

/// What `StartFHIRExportJob` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedJob {
    pub job_id: String,
    pub status: JobStatus,
}

/// What `DescribeFHIRExportJob` answers, as far as hlx needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDescription {
    pub job_id: String,
    pub status: JobStatus,
    pub submit_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub message: Option<String>,
}

/// HealthLake's export operations.
pub trait ExportJobs: Send + Sync {
    fn start_export(&self, job: &StartExportJob)
    -> impl Future<Output = Result<StartedJob, HlxError>> + Send;

    fn describe_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> impl Future<Output = Result<JobDescription, HlxError>> + Send;
}

/// [`ExportJobs`] over the AWS SDK client.
#[derive(Debug, Clone)]
pub struct SdkExportJobs {
    client: aws_sdk_healthlake::Client,
}

impl SdkExportJobs {
    pub fn new(client: aws_sdk_healthlake::Client) -> Self {
        Self { client }
    }
}

impl ExportJobs for SdkExportJobs {
    async fn start_export(&self, job: &StartExportJob) -> Result<StartedJob, HlxError> {
        let s3 = S3Configuration::builder()
            .s3_uri(&job.s3_uri)
            .kms_key_id(&job.kms_key_id)
            .build()
            .map_err(|e| HlxError::InvalidInput(e.to_string()))?;
        let output = self
            .client
            .start_fhir_export_job()
            .datastore_id(&job.datastore_id)
            .job_name(&job.job_name)
            .output_data_config(OutputDataConfig::S3Configuration(s3))
            .data_access_role_arn(&job.data_access_role_arn)
            .client_token(&job.client_token)
            .send()
            .await
            .map_err(|e| HlxError::from_healthlake(e, start_error_code))?;
        Ok(StartedJob {
            job_id: output.job_id().to_owned(),
            status: JobStatus::from(output.job_status()),
        })
    }

    async fn describe_export(&self, datastore_id: &str, job_id: &str) -> Result<JobDescription, HlxError> {
        let output = self
            .client
            .describe_fhir_export_job()
            .datastore_id(datastore_id)
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| HlxError::from_healthlake(e, describe_error_code))?;
        let props = output
            .export_job_properties()
            .ok_or_else(|| HlxError::HealthLakeUnavailable("the answer has no ExportJobProperties".into()))?;
        Ok(JobDescription {
            job_id: props.job_id().to_owned(),
            status: JobStatus::from(props.job_status()),
            submit_time: to_timestamp(props.submit_time())?,
            end_time: props.end_time().map(to_timestamp).transpose()?,
            message: props.message().map(str::to_owned),
        })
    }
}

/// The modeled errors by the names HealthLake gives them; the error's metadata
/// for anything newer than this SDK.
fn start_error_code(err: &StartFHIRExportJobError) -> Option<&'static str> {
    use StartFHIRExportJobError as E;
    Some(match err {
        E::AccessDeniedException(_) => "AccessDeniedException",
        E::FailedDependencyException(_) => "FailedDependencyException",
        E::InternalServerException(_) => "InternalServerException",
        E::ResourceNotFoundException(_) => "ResourceNotFoundException",
        E::ThrottlingException(_) => "ThrottlingException",
        E::ValidationException(_) => "ValidationException",
        _ => return None,
    })
}

fn describe_error_code(err: &DescribeFHIRExportJobError) -> Option<&'static str> {
    use DescribeFHIRExportJobError as E;
    Some(match err {
        E::InternalServerException(_) => "InternalServerException",
        E::ResourceNotFoundException(_) => "ResourceNotFoundException",
        E::ThrottlingException(_) => "ThrottlingException",
        E::ValidationException(_) => "ValidationException",
        _ => return None,
    })
}

fn to_timestamp(dt: &aws_smithy_types::DateTime) -> Result<Timestamp, HlxError> {
    let nanos = dt.as_nanos();
    Timestamp::from_nanosecond(nanos)
        .map_err(|e| HlxError::HealthLakeUnavailable(format!("HealthLake sent a time out of range: {e}")))
}
