//! Section 4: what one export costs, on the local runner's virtual time, with
//! the deployed definition and hlx's handlers in process (the counts do not
//! depend on how fast the functions are).

use std::collections::BTreeMap;
use std::time::Duration;

use hlx_asl_runner::EventKind;
use hlx_core::PollSchedule;
use hlx_healthlake_emulator::JobProfile;
use hlx_local_stack::{LocalStack, StackConfig, first_night};

/// Step Functions Standard: $0.025 per 1,000 state transitions.
pub const PRICE_PER_TRANSITION: f64 = 0.025 / 1000.0;
/// Lambda: $0.20 per million requests.
pub const PRICE_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
/// Lambda on arm64: $0.0000133334 per GB-second.
pub const PRICE_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// 128 MB.
pub const MEMORY_GB: f64 = 128.0 / 1024.0;
/// One nightly export a month.
pub const NIGHTS: f64 = 30.0;

/// The two schedules compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// hlx's default: 60 s while SUBMITTED, 300 s doubling while QUEUED,
    /// 120 s doubling while running, capped at 3600 s.
    Default,
    /// The AWS job-poller sample's approach: the same definition, 60 s everywhere, no backoff.
    Fixed60,
}

impl Schedule {
    pub fn label(self) -> &'static str {
        match self {
            Schedule::Default => "hlx default",
            Schedule::Fixed60 => "fixed 60 s",
        }
    }

    pub fn poll(self) -> PollSchedule {
        match self {
            Schedule::Default => PollSchedule::default(),
            Schedule::Fixed60 => PollSchedule {
                initial_seconds: 60,
                backoff_rate: 1.0,
                max_interval_seconds: 60,
                submitted_seconds: 60,
                queued_initial_seconds: 60,
                ..PollSchedule::default()
            },
        }
    }
}

/// One export on virtual time.
#[derive(Debug, Clone)]
pub struct CostRun {
    pub job: Duration,
    pub schedule: Schedule,
    pub status: String,
    pub transitions: u64,
    /// Invocations per function (`start-export`, ...).
    pub invocations: BTreeMap<String, u64>,
    pub describes: usize,
    /// From the job's end (emulator `EndTime`) to the check that saw it ended.
    pub seen_delay: Option<i64>,
    /// From the job's end to the execution's end.
    pub end_delay: Option<i64>,
}

impl CostRun {
    pub fn total_invocations(&self) -> u64 {
        self.invocations.values().sum()
    }

    /// The price of one export, given each function's billed milliseconds per
    /// invocation (rounded up to 1 ms as Lambda bills).
    pub fn dollars(&self, billed_ms: &BTreeMap<String, f64>) -> f64 {
        let mut total = self.transitions as f64 * PRICE_PER_TRANSITION;
        for (function, n) in &self.invocations {
            let ms = billed_ms
                .get(function)
                .copied()
                .unwrap_or(f64::NAN)
                .ceil()
                .max(1.0);
            total += *n as f64 * (PRICE_PER_REQUEST + ms / 1000.0 * MEMORY_GB * PRICE_PER_GB_SECOND_ARM64);
        }
        total
    }
}

/// Runs one nightly export whose job runs `job` (after 5 s SUBMITTED).
pub async fn run(job: Duration, schedule: Schedule) -> Result<CostRun, String> {
    let dir = std::env::temp_dir().join(format!(
        "hlx-bench-cost-{}-{}-{}",
        std::process::id(),
        job.as_secs(),
        schedule.label().replace(' ', "-")
    ));
    let result = run_in(&dir, job, schedule).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &std::path::Path, job: Duration, schedule: Schedule) -> Result<CostRun, String> {
    let mut config = StackConfig::new(dir);
    config.profile = JobProfile::default().with_timing(Duration::from_secs(5), job);
    config.schedule = schedule.poll();
    let stack = LocalStack::start(config).await?;
    stack.advance_to(first_night());
    let datastore = stack.datastores[0].clone();
    let handle = stack
        .start_export("nightly-bench", stack.export_request(&datastore))
        .map_err(|e| format!("the execution could not start: {e}"))?;
    stack.runner.wait_all().await;
    let done = handle.describe();
    let end_time = stack.emulator.export_jobs().first().and_then(|j| j.end_time);
    let seen = handle.history().into_iter().find_map(|event| match &event.kind {
        EventKind::StateExited { name, output, .. }
            if name == "CheckExport" && output["progress"]["outcome"].as_str() != Some("WAITING") =>
        {
            Some(event.timestamp)
        }
        _ => None,
    });
    let delay = |at: Option<jiff::Timestamp>| match (at, end_time) {
        (Some(at), Some(end)) => Some(at.as_second() - end.as_second()),
        _ => None,
    };
    let invocations = done
        .stats
        .task_invocations
        .iter()
        .map(|(arn, n)| {
            let name = arn.rsplit(':').next().unwrap_or(arn);
            (name.strip_prefix("hlx-").unwrap_or(name).to_owned(), *n)
        })
        .collect();
    Ok(CostRun {
        job,
        schedule,
        status: done.status.as_str().to_owned(),
        transitions: done.stats.state_transitions,
        invocations,
        describes: stack
            .emulator
            .call_counts()
            .get("DescribeFHIRExportJob")
            .copied()
            .unwrap_or(0),
        seen_delay: delay(seen),
        end_delay: delay(done.stop_date),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_costs_its_transitions_requests_and_gb_seconds() {
        let run = CostRun {
            job: Duration::from_secs(3600),
            schedule: Schedule::Default,
            status: "SUCCEEDED".into(),
            transitions: 40,
            invocations: [("check-export".to_owned(), 2)].into(),
            describes: 2,
            seen_delay: Some(0),
            end_delay: Some(0),
        };
        let billed = [("check-export".to_owned(), 2.2)].into();
        let expected = 40.0 * 0.000_025 + 2.0 * (0.000_000_2 + 0.003 * 0.125 * 0.000_013_333_4);
        assert!((run.dollars(&billed) - expected).abs() < 1e-15);
    }
}
