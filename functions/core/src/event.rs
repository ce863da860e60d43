//! HealthLake's EventBridge events, as `job-events` reads them.
//!
//! HealthLake puts an event on the default bus at every job state change
//! (source `aws.healthlake`). The status travels only in the detail-type;
//! `detail` has the job id, the data store id, the submit time and the
//! output (or input) location. There are no events for cancellations.

use jiff::Timestamp;
use serde_json::Value;

use crate::error::HlxError;
use crate::status::JobStatus;

/// The source of HealthLake's events.
pub const SOURCE: &str = "aws.healthlake";

pub use crate::kind::JobKind;

/// A HealthLake job event, as far as hlx reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    /// The envelope's `id` (the same in a duplicate delivery).
    pub id: String,
    pub detail_type: String,
    /// The envelope's `time`.
    pub time: Option<Timestamp>,
    pub kind: JobKind,
    pub status: JobStatus,
    pub job_id: String,
    pub datastore_id: String,
}

/// The kind and status a detail-type stands for (`Export Job Completed With
/// Errors` → export, `COMPLETED_WITH_ERRORS`); `None` for one hlx does not know.
pub fn status_of_detail_type(detail_type: &str) -> Option<(JobKind, JobStatus)> {
    let (kind, rest) = if let Some(rest) = detail_type.strip_prefix("Export Job ") {
        (JobKind::Export, rest)
    } else if let Some(rest) = detail_type.strip_prefix("Import Job ") {
        (JobKind::Import, rest)
    } else {
        return None;
    };
    let status = match rest {
        "Submitted" => JobStatus::Submitted,
        "Queued" => JobStatus::Queued,
        "In Progress" => JobStatus::InProgress,
        "Completed" => JobStatus::Completed,
        "Completed With Errors" => JobStatus::CompletedWithErrors,
        "Failed" => JobStatus::Failed,
        _ => return None,
    };
    Some((kind, status))
}

/// What an event turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedEvent {
    Job(JobEvent),
    /// A HealthLake event hlx does not act on (a detail-type it does not
    /// know yet); the reason is logged.
    Ignored {
        id: String,
        reason: String,
    },
}

/// Reads an EventBridge event. Anything that is not a HealthLake event with
/// the documented fields is [`HlxError::InvalidEvent`] naming what is wrong;
/// a HealthLake event of an unknown detail-type is [`ParsedEvent::Ignored`].
pub fn parse_event(event: &Value) -> Result<ParsedEvent, HlxError> {
    let text = |value: &Value, field: &str| -> Result<String, HlxError> {
        match value.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(HlxError::InvalidEvent(format!(
                "{field}: must be a non-empty string"
            ))),
            None => Err(HlxError::InvalidEvent(format!("{field}: is required"))),
        }
    };
    if !event.is_object() {
        return Err(HlxError::InvalidEvent("the event must be a JSON object".into()));
    }
    let source = text(event, "source")?;
    if source != SOURCE {
        return Err(HlxError::InvalidEvent(format!(
            "source: must be {SOURCE}, got {source:?}"
        )));
    }
    let id = text(event, "id")?;
    let detail_type = text(event, "detail-type")?;
    let Some((kind, status)) = status_of_detail_type(&detail_type) else {
        return Ok(ParsedEvent::Ignored {
            id,
            reason: format!("detail-type {detail_type:?} is not a job status hlx knows"),
        });
    };
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| HlxError::InvalidEvent("detail: is required and must be an object".into()))?;
    let job_id = text(detail, "jobId").map_err(|e| prefixed(e, "detail."))?;
    let datastore_id = text(detail, "datastoreId").map_err(|e| prefixed(e, "detail."))?;
    let time = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok());
    Ok(ParsedEvent::Job(JobEvent {
        id,
        detail_type,
        time,
        kind,
        status,
        job_id,
        datastore_id,
    }))
}

fn prefixed(err: HlxError, prefix: &str) -> HlxError {
    match err {
        HlxError::InvalidEvent(message) => HlxError::InvalidEvent(format!("{prefix}{message}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str) -> Value {
        json!({
            "version": "0", "id": "d7629aa7-e63a-4b84-858c-96a62b57ebc8", "detail-type": detail_type,
            "source": "aws.healthlake", "account": "123456789012", "time": "2023-12-08T02:14:42Z",
            "region": "us-east-1",
            "resources": ["arn:aws:healthlake:us-east-1:123456789012:datastore/fhir/eeb8005725ae22b35b4edbdc68cf2dfd"],
            "detail": {"jobId": "45e899e545bf774710388260fc60b143", "submitTime": "2023-12-08T01:50:50.986Z",
                       "datastoreId": "eeb8005725ae22b35b4edbdc68cf2dfd",
                       "outputDataConfig": {"s3Uri": "s3://example-bucket/output/"}}
        })
    }

    #[test]
    fn the_documented_event_reads_with_its_status_from_the_detail_type() {
        let ParsedEvent::Job(job) = parse_event(&event("Export Job Completed")).unwrap() else {
            panic!("a job event");
        };
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.kind, JobKind::Export);
        assert_eq!(job.job_id, "45e899e545bf774710388260fc60b143");
        assert_eq!(job.datastore_id, "eeb8005725ae22b35b4edbdc68cf2dfd");
        assert_eq!(job.id, "d7629aa7-e63a-4b84-858c-96a62b57ebc8");
        assert_eq!(job.time, Some("2023-12-08T02:14:42Z".parse().unwrap()));
    }

    #[test]
    fn every_detail_type_maps_to_its_status() {
        let cases = [
            ("Submitted", JobStatus::Submitted),
            ("Queued", JobStatus::Queued),
            ("In Progress", JobStatus::InProgress),
            ("Completed", JobStatus::Completed),
            ("Completed With Errors", JobStatus::CompletedWithErrors),
            ("Failed", JobStatus::Failed),
        ];
        for (suffix, status) in cases {
            assert_eq!(
                status_of_detail_type(&format!("Export Job {suffix}")),
                Some((JobKind::Export, status.clone()))
            );
            assert_eq!(
                status_of_detail_type(&format!("Import Job {suffix}")),
                Some((JobKind::Import, status))
            );
        }
        assert_eq!(status_of_detail_type("Export Job Cancelled"), None);
        assert_eq!(status_of_detail_type("Datastore Created"), None);
    }

    #[test]
    fn an_unknown_detail_type_is_ignored_not_an_error() {
        let parsed = parse_event(&event("Export Job Paused")).unwrap();
        assert!(
            matches!(parsed, ParsedEvent::Ignored { reason, .. } if reason.contains("Export Job Paused"))
        );
    }

    #[test]
    fn a_malformed_event_names_the_field() {
        let mut no_job = event("Export Job Completed");
        no_job["detail"].as_object_mut().unwrap().remove("jobId");
        let mut other_source = event("Export Job Completed");
        other_source["source"] = json!("aws.s3");
        let mut no_detail = event("Export Job Completed");
        no_detail.as_object_mut().unwrap().remove("detail");
        for (bad, field) in [
            (no_job, "detail.jobId: is required"),
            (other_source, "source: must be aws.healthlake"),
            (no_detail, "detail: is required"),
            (json!("text"), "must be a JSON object"),
        ] {
            let err = parse_event(&bad).unwrap_err();
            assert_eq!(err.error_name(), "hlx.InvalidEvent");
            assert!(err.to_string().contains(field), "{err} should say {field}");
        }
    }
}
