//! Exports as people read them.

use std::time::Duration;

use hlx_core::{JobRecord, JobStatus, RecordStatus};
use jiff::Timestamp;

use crate::cost::human;
use crate::view::{Execution, ExportView, Source};

/// The status `api` gives an export whose execution has not written a record yet.
const STARTING: &str = "STARTING";

/// `2026-01-01 02:00:00Z`.
pub fn time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn seconds(s: Option<u64>) -> Option<String> {
    s.map(|s| human(Duration::from_secs(s)))
}

/// What the status means, in a sentence: a queued job reads as queued (for
/// how long, since when), never as slow.
pub fn headline(r: &JobRecord) -> String {
    let queued = seconds(r.queued_seconds.filter(|s| *s > 0));
    let running = seconds(r.running_seconds);
    let after_queue = queued
        .as_ref()
        .map(|q| format!(", after {q} in HealthLake's queue"))
        .unwrap_or_default();
    let cause = || {
        r.error_cause
            .clone()
            .or_else(|| r.message.clone())
            .unwrap_or_else(|| "no details recorded".into())
    };
    let text = match &r.status {
        RecordStatus::Job(JobStatus::Unknown(s)) if s == STARTING => {
            "the execution is starting the export (no job record yet)".to_owned()
        }
        RecordStatus::Job(JobStatus::Submitted) => {
            "HealthLake accepted the job; it has not queued or started yet".into()
        }
        RecordStatus::Job(JobStatus::Queued) => {
            let since = r
                .submitted_at
                .map(|t| format!(" since {}", time(t)))
                .unwrap_or_default();
            let how_long = queued.map(|q| format!(" for {q}")).unwrap_or_default();
            format!(
                "waiting in HealthLake's queue behind another export{how_long}{since} \
                 (queued, not slow: HealthLake runs one export at a time per Region)"
            )
        }
        RecordStatus::Job(JobStatus::InProgress) => match running {
            Some(running) => format!("running for {running}{after_queue}"),
            None => format!("running{after_queue}"),
        },
        RecordStatus::Job(JobStatus::Completed) => match running {
            Some(running) => format!("done: ran {running}{after_queue}"),
            None => "done".into(),
        },
        RecordStatus::Job(JobStatus::CompletedWithErrors) => format!(
            "done with errors: ran {}{after_queue}; some resources were not exported (see the output's error files)",
            running.unwrap_or_else(|| "-".into())
        ),
        RecordStatus::Job(JobStatus::Failed) => format!("HealthLake failed the job: {}", cause()),
        RecordStatus::Job(JobStatus::CancelSubmitted | JobStatus::CancelInProgress) => {
            "the job is being cancelled".into()
        }
        RecordStatus::Job(JobStatus::CancelCompleted) => "the job was cancelled".into(),
        RecordStatus::Job(JobStatus::CancelFailed) => "cancelling the job failed".into(),
        RecordStatus::Job(JobStatus::Unknown(_)) => {
            "a status this hlx does not know; taken as still running".into()
        }
        RecordStatus::Rejected => format!("the request broke a field rule; nothing was started: {}", cause()),
        RecordStatus::TimedOut => format!("hlx stopped waiting: {}", cause()),
        RecordStatus::Error => format!("{}: {}", r.error_name.as_deref().unwrap_or("error"), cause()),
    };
    format!("{} — {text}", r.status)
}

/// `hlx status`: the record, field by field.
pub fn status(view: &ExportView) -> String {
    let r = &view.record;
    let mut lines: Vec<(&str, String)> = vec![("export", r.export_id.clone()), ("status", headline(r))];
    if let Some(datastore) = &r.datastore_id {
        lines.push(("data store", datastore.clone()));
    }
    if let Some(job) = &r.job_id {
        let name = r
            .job_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        lines.push(("job", format!("{job}{name}")));
    }
    let trigger = r
        .trigger
        .as_deref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    lines.push(("started", format!("{}{trigger}", time(r.execution_started_at))));
    if let Some(t) = r.submitted_at {
        lines.push(("submitted", time(t)));
    }
    if let Some(t) = r.running_since {
        lines.push(("running since", time(t)));
    }
    if let Some(t) = r.ended_at {
        lines.push(("ended", time(t)));
    }
    if let Some(location) = &r.output_location {
        lines.push(("output", location.clone()));
    }
    if r.checks > 0 || r.start_attempts > 0 {
        lines.push((
            "checks",
            format!(
                "{} status check(s), {} start attempt(s), updated {}",
                r.checks,
                r.start_attempts,
                time(r.updated_at)
            ),
        ));
    }
    if let Some(message) = &r.message {
        lines.push(("HealthLake", message.clone()));
    }
    // The headline of a failed export already says why.
    let explained = matches!(
        r.status,
        RecordStatus::Error
            | RecordStatus::Rejected
            | RecordStatus::TimedOut
            | RecordStatus::Job(JobStatus::Failed)
    );
    if let (Some(name), Some(cause), false) = (&r.error_name, &r.error_cause, explained) {
        lines.push(("error", format!("{name}: {cause}")));
    }
    if let Some(execution) = &view.execution {
        lines.push(("execution", execution_line(execution)));
    }
    lines.push((
        "source",
        match view.source {
            Source::Record => "the job record".into(),
            Source::History => "the execution's history (no job record read)".into(),
            Source::Execution => "the execution (it has not written a job record yet)".into(),
        },
    ));
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    lines.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

fn execution_line(e: &Execution) -> String {
    let mut line = format!("{} {}", e.status, e.arn);
    if let Some(error) = &e.error {
        line.push_str(&format!(" ({error})"));
    }
    line
}

/// One line for `hlx watch`: the status and its numbers.
pub fn progress(r: &JobRecord) -> String {
    let mut parts = vec![r.status.to_string()];
    if let Some(q) = seconds(r.queued_seconds.filter(|s| *s > 0)) {
        parts.push(format!("queued {q}"));
    }
    if let Some(running) = seconds(r.running_seconds) {
        parts.push(format!("running {running}"));
    }
    if r.checks > 0 {
        parts.push(format!("{} check(s)", r.checks));
    }
    parts.join(" · ")
}

/// A table with a header, columns as wide as their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// A record as a row of `hlx list`.
pub fn record_row(r: &JobRecord) -> Vec<String> {
    vec![
        r.export_id.clone(),
        r.status.to_string(),
        time(r.execution_started_at),
        seconds(r.queued_seconds).unwrap_or_else(|| "-".into()),
        seconds(r.running_seconds).unwrap_or_else(|| "-".into()),
        r.trigger.clone().unwrap_or_else(|| "-".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlx_core::JobStatus;

    fn record(status: RecordStatus) -> JobRecord {
        JobRecord {
            export_id: "api-k-1".into(),
            execution_arn: "arn:aws:states:us-east-1:1:execution:m:api-k-1".into(),
            kind: hlx_core::JobKind::Export,
            input_s3_uri: None,
            import_counts: None,
            status,
            datastore_id: Some("ds1".into()),
            trigger: Some("manual".into()),
            job_id: Some("job-1".into()),
            job_name: None,
            job_status: None,
            s3_uri: None,
            kms_key_id: None,
            data_access_role_arn: None,
            output_location: None,
            message: None,
            error_name: None,
            error_cause: None,
            execution_started_at: "2026-01-01T02:00:00Z".parse().unwrap(),
            submitted_at: Some("2026-01-01T02:00:01Z".parse().unwrap()),
            running_since: None,
            ended_at: None,
            updated_at: "2026-01-01T02:30:00Z".parse().unwrap(),
            queued_seconds: Some(1800),
            running_seconds: None,
            checks: 4,
            start_attempts: 1,
        }
    }

    #[test]
    fn a_queued_export_reads_as_queued_with_its_time_not_as_slow() {
        let r = record(RecordStatus::Job(JobStatus::Queued));
        let line = headline(&r);
        assert!(
            line.starts_with("QUEUED — waiting in HealthLake's queue"),
            "{line}"
        );
        assert!(line.contains("for 30m 00s since 2026-01-01 02:00:01Z"), "{line}");
        assert!(line.contains("queued, not slow"), "{line}");
        assert_eq!(progress(&r), "QUEUED · queued 30m 00s · 4 check(s)");
    }

    #[test]
    fn running_and_done_say_for_how_long_and_after_what_queue() {
        let mut r = record(RecordStatus::Job(JobStatus::InProgress));
        r.running_seconds = Some(600);
        assert_eq!(
            headline(&r),
            "IN_PROGRESS — running for 10m 00s, after 30m 00s in HealthLake's queue"
        );
        r.status = RecordStatus::Job(JobStatus::Completed);
        r.queued_seconds = Some(0);
        assert_eq!(headline(&r), "COMPLETED — done: ran 10m 00s");
    }

    #[test]
    fn failures_say_why() {
        let mut r = record(RecordStatus::Rejected);
        r.error_name = Some("hlx.InvalidRequest".into());
        r.error_cause = Some("s3Uri must start with s3://".into());
        assert!(headline(&r).contains("nothing was started: s3Uri must start with s3://"));
        r.status = RecordStatus::Error;
        assert_eq!(
            headline(&r),
            "ERROR — hlx.InvalidRequest: s3Uri must start with s3://"
        );
        let mut r = record(RecordStatus::Job(JobStatus::Failed));
        r.message = Some("access denied to the bucket".into());
        assert!(headline(&r).ends_with("HealthLake failed the job: access denied to the bucket"));
    }

    #[test]
    fn a_starting_export_is_starting() {
        let r = record(RecordStatus::parse("STARTING"));
        assert!(headline(&r).starts_with("STARTING — the execution is starting"));
    }

    #[test]
    fn tables_align() {
        let out = table(
            &["ID", "STATUS"],
            &[
                vec!["a".into(), "QUEUED".into()],
                vec!["long-id".into(), "COMPLETED".into()],
            ],
        );
        assert_eq!(out, "ID       STATUS\na        QUEUED\nlong-id  COMPLETED\n");
    }
}
