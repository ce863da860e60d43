//! [`HealthLakeJobs`] over HealthLake's SDK client, and the signed FHIR REST
//! client for what the SDK cannot do (`$export` with `_since`, scopes, cancel).

use aws_sdk_healthlake::operation::describe_fhir_export_job::DescribeFHIRExportJobError;
use aws_sdk_healthlake::operation::describe_fhir_import_job::DescribeFHIRImportJobError;
use aws_sdk_healthlake::operation::start_fhir_export_job::StartFHIRExportJobError;
use aws_sdk_healthlake::operation::start_fhir_import_job::StartFHIRImportJobError;
use aws_sdk_healthlake::types::{InputDataConfig, JobProgressReport, OutputDataConfig, S3Configuration};
use hlx_core::healthlake::{
    HealthLakeJobs, JobDescription, RestExportJob, StartExportJob, StartImportJob, StartedJob, no_rest,
};
use hlx_core::{HlxError, ImportCounts, JobStatus};
use jiff::Timestamp;

use crate::error::healthlake_error;
use crate::rest::RestExportClient;

/// HealthLake's status as hlx's (a status newer than hlx is kept by name).
pub fn job_status(status: &aws_sdk_healthlake::types::JobStatus) -> JobStatus {
    JobStatus::parse(status.as_str())
}

/// [`HealthLakeJobs`] over the AWS SDK client, and the signed FHIR REST
/// client for what the SDK cannot do.
#[derive(Debug, Clone)]
pub struct SdkHealthLakeJobs {
    client: aws_sdk_healthlake::Client,
    rest: Option<RestExportClient>,
}

impl SdkHealthLakeJobs {
    /// The SDK operations only (no REST `$export`, no cancel).
    pub fn new(client: aws_sdk_healthlake::Client) -> Self {
        Self { client, rest: None }
    }

    /// Both APIs, from one SDK configuration (endpoints, Region, credentials).
    pub fn from_config(config: &aws_config::SdkConfig) -> Result<Self, HlxError> {
        Ok(Self {
            client: aws_sdk_healthlake::Client::new(config),
            rest: Some(RestExportClient::from_sdk_config(config)?),
        })
    }

    /// The same with this REST client.
    pub fn with_rest(mut self, rest: RestExportClient) -> Self {
        self.rest = Some(rest);
        self
    }

    fn rest(&self, operation: &str) -> Result<&RestExportClient, HlxError> {
        self.rest.as_ref().ok_or_else(|| no_rest(operation))
    }
}

impl HealthLakeJobs for SdkHealthLakeJobs {
    async fn start_export(&self, job: &StartExportJob) -> Result<StartedJob, HlxError> {
        let output = self
            .client
            .start_fhir_export_job()
            .datastore_id(&job.datastore_id)
            .job_name(&job.job_name)
            .output_data_config(s3_output(&job.s3_uri, &job.kms_key_id)?)
            .data_access_role_arn(&job.data_access_role_arn)
            .client_token(&job.client_token)
            .send()
            .await
            .map_err(|e| healthlake_error(e, start_error_code))?;
        Ok(StartedJob {
            job_id: output.job_id().to_owned(),
            status: job_status(output.job_status()),
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
            .map_err(|e| healthlake_error(e, describe_error_code))?;
        let props = output
            .export_job_properties()
            .ok_or_else(|| HlxError::HealthLakeUnavailable("the answer has no ExportJobProperties".into()))?;
        Ok(JobDescription {
            job_id: props.job_id().to_owned(),
            status: job_status(props.job_status()),
            submit_time: to_timestamp(props.submit_time())?,
            end_time: props.end_time().map(to_timestamp).transpose()?,
            message: props.message().map(str::to_owned),
            import_counts: None,
            manifest: None,
        })
    }

    async fn start_import(&self, job: &StartImportJob) -> Result<StartedJob, HlxError> {
        let output = self
            .client
            .start_fhir_import_job()
            .datastore_id(&job.datastore_id)
            .job_name(&job.job_name)
            .input_data_config(InputDataConfig::S3Uri(job.input_s3_uri.clone()))
            .job_output_data_config(s3_output(&job.output_s3_uri, &job.kms_key_id)?)
            .data_access_role_arn(&job.data_access_role_arn)
            .client_token(&job.client_token)
            .send()
            .await
            .map_err(|e| healthlake_error(e, start_import_error_code))?;
        Ok(StartedJob {
            job_id: output.job_id().to_owned(),
            status: job_status(output.job_status()),
        })
    }

    async fn describe_import(&self, datastore_id: &str, job_id: &str) -> Result<JobDescription, HlxError> {
        let output = self
            .client
            .describe_fhir_import_job()
            .datastore_id(datastore_id)
            .job_id(job_id)
            .send()
            .await
            .map_err(|e| healthlake_error(e, describe_import_error_code))?;
        let props = output
            .import_job_properties()
            .ok_or_else(|| HlxError::HealthLakeUnavailable("the answer has no ImportJobProperties".into()))?;
        Ok(JobDescription {
            job_id: props.job_id().to_owned(),
            status: job_status(props.job_status()),
            submit_time: to_timestamp(props.submit_time())?,
            end_time: props.end_time().map(to_timestamp).transpose()?,
            message: props.message().map(str::to_owned),
            import_counts: props.job_progress_report().map(import_counts),
            manifest: None,
        })
    }

    async fn start_rest_export(&self, job: &RestExportJob) -> Result<StartedJob, HlxError> {
        self.rest("start_rest_export")?.kick_off(job).await
    }

    async fn describe_rest_export(
        &self,
        datastore_id: &str,
        job_id: &str,
    ) -> Result<JobDescription, HlxError> {
        self.rest("describe_rest_export")?
            .status(datastore_id, job_id)
            .await
    }

    async fn cancel_export(&self, datastore_id: &str, job_id: &str) -> Result<JobStatus, HlxError> {
        self.rest("cancel_export")?.cancel(datastore_id, job_id).await
    }

    async fn find_export_by_name(
        &self,
        datastore_id: &str,
        job_name: &str,
    ) -> Result<Option<StartedJob>, HlxError> {
        let output = self
            .client
            .list_fhir_export_jobs()
            .datastore_id(datastore_id)
            .job_name(job_name)
            .max_results(50)
            .send()
            .await
            .map_err(|e| healthlake_error(e, list_error_code))?;
        Ok(output
            .export_job_properties_list()
            .iter()
            .filter(|props| props.job_name() == Some(job_name))
            .max_by_key(|props| props.submit_time().as_nanos())
            .map(|props| StartedJob {
                job_id: props.job_id().to_owned(),
                status: job_status(props.job_status()),
            }))
    }
}

fn list_error_code(
    err: &aws_sdk_healthlake::operation::list_fhir_export_jobs::ListFHIRExportJobsError,
) -> Option<&'static str> {
    use aws_sdk_healthlake::operation::list_fhir_export_jobs::ListFHIRExportJobsError as E;
    Some(match err {
        E::AccessDeniedException(_) => "AccessDeniedException",
        E::InternalServerException(_) => "InternalServerException",
        E::ResourceNotFoundException(_) => "ResourceNotFoundException",
        E::ThrottlingException(_) => "ThrottlingException",
        E::ValidationException(_) => "ValidationException",
        _ => return None,
    })
}

/// An `OutputDataConfig` of both kinds: the S3 location and its KMS key,
/// both of which HealthLake requires.
fn s3_output(s3_uri: &str, kms_key_id: &str) -> Result<OutputDataConfig, HlxError> {
    let s3 = S3Configuration::builder()
        .s3_uri(s3_uri)
        .kms_key_id(kms_key_id)
        .build()
        .map_err(|e| HlxError::InvalidInput(e.to_string()))?;
    Ok(OutputDataConfig::S3Configuration(s3))
}

/// The counts hlx keeps from a `JobProgressReport` (absent ones as 0).
fn import_counts(report: &JobProgressReport) -> ImportCounts {
    let count = |n: Option<i64>| n.map_or(0, |n| u64::try_from(n).unwrap_or(0));
    ImportCounts {
        files_scanned: count(report.total_number_of_scanned_files()),
        files_imported: count(report.total_number_of_imported_files()),
        files_with_errors: count(report.total_number_of_files_read_with_customer_error()),
        resources_scanned: count(report.total_number_of_resources_scanned()),
        resources_imported: count(report.total_number_of_resources_imported()),
        resources_with_errors: count(report.total_number_of_resources_with_customer_error()),
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

fn start_import_error_code(err: &StartFHIRImportJobError) -> Option<&'static str> {
    use StartFHIRImportJobError as E;
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

fn describe_import_error_code(err: &DescribeFHIRImportJobError) -> Option<&'static str> {
    use DescribeFHIRImportJobError as E;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_status_is_one_hlx_knows() {
        for status in JobStatus::ALL_KNOWN {
            let sdk = aws_sdk_healthlake::types::JobStatus::from(status.as_str());
            assert!(
                aws_sdk_healthlake::types::JobStatus::values().contains(&status.as_str()),
                "{status} is a status the SDK knows"
            );
            assert_eq!(job_status(&sdk), status);
        }
        assert_eq!(
            aws_sdk_healthlake::types::JobStatus::values().len(),
            JobStatus::ALL_KNOWN.len(),
            "the SDK knows a status hlx does not map"
        );
    }
}
