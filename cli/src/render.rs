//! Exports and imports as people read them.

use std::time::Duration;

use hlx_core::verification::Verification;
use hlx_core::{ImportCounts, JobKind, JobRecord, JobStatus, ManifestSummary, RecordStatus};
use jiff::Timestamp;

use crate::cost::human;
use crate::view::{Execution, JobView, Source};

/// The status `api` gives a job whose execution has not written a record yet.
const STARTING: &str = "STARTING";

/// `2026-01-01 02:00:00Z`.
pub fn time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// What an export selected, `incremental group/g1, changes since
/// 2026-01-01T02:00:30.000Z`; none for a full system export, which selects
/// everything. Times are in full so that they can be passed to `--since`.
pub fn selection(r: &JobRecord) -> Option<String> {
    if r.mode.as_deref() != Some("incremental") && r.chain() == "system" {
        return None;
    }
    let since = r
        .since
        .map(|t| format!("changes since {}", hlx_core::time::format(t)))
        .unwrap_or_else(|| "everything (no earlier completed export of this selection)".into());
    let mode = r.mode.as_deref().unwrap_or("full");
    Some(format!("{mode} {}, {since}", r.chain()))
}

/// A manifest's summary, `3 file(s), 31 resource(s): Condition 10, ...;
/// transactionTime ...`: the transactionTime in full, as the next `_since`.
pub fn manifest(m: &ManifestSummary) -> String {
    let per_type: Vec<String> = m.resources.iter().map(|(t, n)| format!("{t} {n}")).collect();
    // HealthLake's own API gives no counts (only the FHIR REST $export does).
    let counts = match (per_type.is_empty(), m.counts_incomplete) {
        (true, _) => "no counts given".to_owned(),
        (false, false) => format!("{} resource(s): {}", m.total_resources(), per_type.join(", ")),
        (false, true) => format!("counts for some types: {}", per_type.join(", ")),
    };
    format!(
        "{} file(s), {counts}; transactionTime {}",
        m.files,
        hlx_core::time::format(m.transaction_time)
    )
}

/// A verification's lines: the verdict and counts, then each named reason
/// (`- CODE: where and what`), then how many more there are.
pub fn verification(v: &Verification) -> Vec<String> {
    let mut lines = vec![v.headline()];
    if !v.resources_by_type.is_empty() {
        let per_type: Vec<String> = v
            .resources_by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        lines[0].push_str(&format!(" ({})", per_type.join(", ")));
    }
    if let Some(baseline) = &v.baseline {
        lines[0].push_str(&format!("; compared with {baseline}"));
    }
    for reason in &v.reasons {
        lines.push(format!("- {}: {}", reason.code(), reason.describe()));
    }
    let unnamed = v.reason_count.saturating_sub(v.reasons.len() as u64);
    if unnamed > 0 {
        lines.push(format!("... and {unnamed} more"));
    }
    lines
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
            format!("the execution is starting the {} (no job record yet)", r.kind)
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
            match r.kind {
                JobKind::Export => format!(
                    "waiting in HealthLake's queue behind another export{how_long}{since} \
                     (queued, not slow: HealthLake runs one export at a time per Region)"
                ),
                JobKind::Import => format!(
                    "waiting in HealthLake's queue{how_long}{since} (queued, not slow: \
                     HealthLake has not started the import yet)"
                ),
            }
        }
        RecordStatus::Job(JobStatus::InProgress) => match running {
            Some(running) => format!("running for {running}{after_queue}"),
            None => format!("running{after_queue}"),
        },
        RecordStatus::Job(JobStatus::Completed) => match running {
            Some(running) => format!("done: ran {running}{after_queue}"),
            None => "done".into(),
        },
        RecordStatus::Job(JobStatus::CompletedWithErrors) => {
            let ran = running.unwrap_or_else(|| "-".into());
            match (r.kind, &r.import_counts) {
                (JobKind::Export, _) => format!(
                    "done with errors: ran {ran}{after_queue}; some resources were not exported (see the output's error files)"
                ),
                (JobKind::Import, Some(c)) => format!(
                    "done with errors: ran {ran}{after_queue}; {} of {} resource(s) refused (see the failure log)",
                    c.resources_with_errors, c.resources_scanned
                ),
                (JobKind::Import, None) => format!(
                    "done with errors: ran {ran}{after_queue}; some resources were refused (see the failure log)"
                ),
            }
        }
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

/// An import's counts: the resources' line and the files' line.
fn counts(c: &ImportCounts) -> [String; 2] {
    [
        format!(
            "{} imported, {} with errors, of {} scanned",
            c.resources_imported, c.resources_with_errors, c.resources_scanned
        ),
        format!(
            "{} imported, {} with errors, of {} scanned",
            c.files_imported, c.files_with_errors, c.files_scanned
        ),
    ]
}

/// `hlx status`: the record, field by field.
pub fn status(view: &JobView) -> String {
    let r = &view.record;
    let mut lines: Vec<(&str, String)> = vec![(r.kind.as_str(), r.id.clone()), ("status", headline(r))];
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
    if let Some(input) = &r.input_s3_uri {
        lines.push(("input", input.clone()));
    }
    match (r.kind, &r.output_location, &r.s3_uri) {
        (JobKind::Export, Some(location), _) => lines.push(("output", location.clone())),
        // An import's logs: the job's folder once it has an id, else where they will go.
        (JobKind::Import, Some(location), _) | (JobKind::Import, None, Some(location)) => {
            lines.push(("logs", location.clone()));
        }
        _ => {}
    }
    if let Some(c) = &r.import_counts {
        let [resources, files] = counts(c);
        lines.push(("resources", resources));
        lines.push(("files", files));
    }
    if let Some(selection) = selection(r) {
        lines.push(("selection", selection));
    }
    if let Some(m) = &r.manifest {
        lines.push(("manifest", manifest(m)));
        match (&m.uri, &m.write_error) {
            (Some(uri), _) => lines.push(("manifest file", uri.clone())),
            (None, Some(error)) => lines.push(("manifest file", format!("not written: {error}"))),
            _ => {}
        }
    }
    if let Some(v) = &r.verification {
        let mut text = verification(v).into_iter();
        if let Some(first) = text.next() {
            lines.push(("verification", first));
        }
        for more in text {
            lines.push(("", more));
        }
    }
    if let Some(cancel) = &r.cancel {
        match (&cancel.status, &cancel.refused) {
            (Some(status), _) => lines.push(("cancelled", format!("after the timeout: HealthLake {status}"))),
            (None, Some(refused)) => lines.push(("cancel refused", refused.clone())),
            _ => {}
        }
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
    if let Some(c) = &r.import_counts {
        parts.push(format!(
            "{}/{} resource(s) imported",
            c.resources_imported, c.resources_scanned
        ));
        if c.resources_with_errors > 0 {
            parts.push(format!("{} with errors", c.resources_with_errors));
        }
    }
    if r.checks > 0 {
        parts.push(format!("{} check(s)", r.checks));
    }
    parts.join(" · ")
}

/// The id column's header: `EXPORT ID`, `IMPORT ID`.
pub fn id_header(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "EXPORT ID",
        JobKind::Import => "IMPORT ID",
    }
}

/// The header of `hlx list --datastore-id` (an import's row adds its resources).
pub fn record_header(kind: JobKind) -> Vec<&'static str> {
    let mut header = vec![id_header(kind), "STATUS", "STARTED", "QUEUED", "RAN"];
    if kind == JobKind::Import {
        header.push("IMPORTED");
    }
    header.push("TRIGGER");
    header
}

/// A record as a row of `hlx list --datastore-id`, under [`record_header`].
pub fn record_row(kind: JobKind, r: &JobRecord) -> Vec<String> {
    let mut row = vec![
        r.id.clone(),
        r.status.to_string(),
        time(r.execution_started_at),
        seconds(r.queued_seconds).unwrap_or_else(|| "-".into()),
        seconds(r.running_seconds).unwrap_or_else(|| "-".into()),
    ];
    if kind == JobKind::Import {
        row.push(
            r.import_counts
                .as_ref()
                .map_or("-".into(), |c| match c.resources_with_errors {
                    0 => c.resources_imported.to_string(),
                    refused => format!("{} ({refused} refused)", c.resources_imported),
                }),
        );
    }
    row.push(r.trigger.clone().unwrap_or_else(|| "-".into()));
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlx_core::JobStatus;

    fn record(status: RecordStatus) -> JobRecord {
        JobRecord {
            id: "api-k-1".into(),
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
            mode: None,
            chain: None,
            since: None,
            until: None,
            manifest: None,
            cancel: None,
            verification: None,
        }
    }

    #[test]
    fn an_incremental_export_shows_its_selection_manifest_and_cancel() {
        let mut r = record(RecordStatus::TimedOut);
        r.mode = Some("incremental".into());
        r.chain = Some("group/g1".into());
        r.since = Some("2026-01-01T02:00:30Z".parse().unwrap());
        r.manifest = Some(hlx_core::ManifestSummary {
            transaction_time: "2026-01-02T02:00:30Z".parse().unwrap(),
            files: 2,
            error_files: 0,
            resources: [("Patient".to_owned(), 3)].into(),
            counts_incomplete: false,
            uri: None,
            write_error: Some("S3 AccessDenied: PutObject".into()),
        });
        r.cancel = Some(hlx_core::progress::CancelRequested {
            status: None,
            refused: Some("HealthLake ValidationException: not-supported".into()),
        });
        let text = status(&JobView {
            record: r,
            source: crate::view::Source::Record,
            execution: None,
        });
        assert!(
            text.contains("incremental group/g1, changes since 2026-01-01T02:00:30.000Z"),
            "{text}"
        );
        assert!(
            text.contains("2 file(s), 3 resource(s): Patient 3; transactionTime 2026-01-02T02:00:30.000Z"),
            "{text}"
        );
        assert!(text.contains("not written: S3 AccessDenied"), "{text}");
        assert!(
            text.contains("cancel refused") && text.contains("not-supported"),
            "{text}"
        );
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

    fn import(status: RecordStatus) -> JobRecord {
        let mut r = record(status);
        r.id = "api-import-k-1".into();
        r.kind = JobKind::Import;
        r.input_s3_uri = Some("s3://landing/fhir/batch-7/".into());
        r.s3_uri = Some("s3://logs/imports".into());
        r.queued_seconds = Some(0);
        r.running_seconds = Some(90);
        r
    }

    fn some_counts() -> ImportCounts {
        ImportCounts {
            files_scanned: 2,
            files_imported: 2,
            files_with_errors: 0,
            resources_scanned: 7,
            resources_imported: 6,
            resources_with_errors: 1,
        }
    }

    #[test]
    fn an_import_shows_its_input_logs_and_counts() {
        let mut r = import(RecordStatus::Job(JobStatus::CompletedWithErrors));
        r.output_location = Some("s3://logs/imports/ds1-FHIR_IMPORT-job-1/".into());
        r.import_counts = Some(some_counts());
        assert_eq!(
            headline(&r),
            "COMPLETED_WITH_ERRORS — done with errors: ran 1m 30s; 1 of 7 resource(s) refused (see the failure log)"
        );
        let view = JobView {
            record: r.clone(),
            source: Source::Record,
            execution: None,
        };
        let text = status(&view);
        for expected in [
            "import      api-import-k-1\n",
            "input       s3://landing/fhir/batch-7/\n",
            "logs        s3://logs/imports/ds1-FHIR_IMPORT-job-1/\n",
            "resources   6 imported, 1 with errors, of 7 scanned\n",
            "files       2 imported, 0 with errors, of 2 scanned\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        assert!(!text.contains("output"), "{text}");
        assert_eq!(
            progress(&r),
            "COMPLETED_WITH_ERRORS · running 1m 30s · 6/7 resource(s) imported · 1 with errors · 4 check(s)"
        );
        assert_eq!(
            record_row(JobKind::Import, &r),
            [
                "api-import-k-1",
                "COMPLETED_WITH_ERRORS",
                "2026-01-01 02:00:00Z",
                "0s",
                "1m 30s",
                "6 (1 refused)",
                "manual"
            ]
        );
        assert_eq!(
            record_header(JobKind::Import),
            [
                "IMPORT ID",
                "STATUS",
                "STARTED",
                "QUEUED",
                "RAN",
                "IMPORTED",
                "TRIGGER"
            ]
        );
        assert_eq!(record_row(JobKind::Export, &record(RecordStatus::Error)).len(), 6);
    }

    #[test]
    fn a_starting_import_is_starting_and_says_where_its_logs_will_go() {
        let r = import(RecordStatus::parse("STARTING"));
        assert!(
            headline(&r).starts_with("STARTING — the execution is starting the import"),
            "{}",
            headline(&r)
        );
        let text = status(&JobView {
            record: r,
            source: Source::Execution,
            execution: None,
        });
        assert!(text.contains("logs        s3://logs/imports\n"), "{text}");
    }
}
