//! Section 4: what one export costs, on the local runner's virtual time, with
//! the deployed definition and hlx's handlers in process (the counts do not
//! depend on how fast the functions are).

use std::collections::BTreeMap;
use std::time::Duration;

use hlx_asl_runner::EventKind;
use hlx_core::PollSchedule;
use hlx_healthlake_emulator::{EventFaults, JobProfile};
use hlx_local_stack::{LocalStack, StackConfig, first_night};
use hlx_report::pricing::{PRICE_PER_TRANSITION, invocation_dollars};

/// One nightly export a month.
pub const NIGHTS: f64 = 30.0;

/// The strategies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Event-driven with fallback (the default): HealthLake's event wakes
    /// the callback wait; the fallback starts at 1 h, doubling to 4 h. The
    /// data store's first export (no history).
    Events,
    /// The same, on the second night: the fallback learned the expected run
    /// from the first night's record.
    EventsLearned,
    /// Event-driven, but every event lost: the fallback alone finds the end.
    EventsLost,
    /// Poll only, hlx's schedule (`HLX_WAKE_BY=poll`): 60 s while SUBMITTED,
    /// 300 s doubling while QUEUED, 120 s doubling while running, capped at 3600 s.
    Default,
    /// The AWS job-poller sample's approach: the same definition, 60 s everywhere, no backoff, no events.
    Fixed60,
}

impl Schedule {
    pub const ALL: [Schedule; 5] = [
        Schedule::Events,
        Schedule::EventsLearned,
        Schedule::EventsLost,
        Schedule::Default,
        Schedule::Fixed60,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Schedule::Events => "events + fallback",
            Schedule::EventsLearned => "events, 2nd night",
            Schedule::EventsLost => "events all lost",
            Schedule::Default => "poll only (hlx)",
            Schedule::Fixed60 => "fixed 60 s",
        }
    }

    pub fn poll(self) -> PollSchedule {
        match self {
            Schedule::Events | Schedule::EventsLearned | Schedule::EventsLost => PollSchedule::default(),
            Schedule::Default => PollSchedule::polling(),
            Schedule::Fixed60 => PollSchedule {
                initial_seconds: 60,
                backoff_rate: 1.0,
                max_interval_seconds: 60,
                submitted_seconds: 60,
                queued_initial_seconds: 60,
                ..PollSchedule::polling()
            },
        }
    }

    fn event_faults(self) -> EventFaults {
        match self {
            Schedule::EventsLost => EventFaults {
                drop_rate: 1.0,
                ..EventFaults::none()
            },
            _ => EventFaults::none(),
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
    /// Invocations per function (`start-job`, ...).
    pub invocations: BTreeMap<String, u64>,
    pub describes: usize,
    /// From the job's end (emulator `EndTime`) to the check that saw it ended.
    pub seen_delay: Option<i64>,
    /// From the job's end to the execution's end.
    pub end_delay: Option<i64>,
    /// The wait the execution was in when it saw the end (s): with events,
    /// the fallback interval a lost event costs at most.
    pub last_wait: Option<u64>,
}

impl CostRun {
    pub fn total_invocations(&self) -> u64 {
        self.invocations.values().sum()
    }

    /// The price of one export at [`hlx_report::pricing`]'s prices, given each
    /// function's milliseconds per invocation (rounded up to 1 ms as Lambda bills).
    pub fn dollars(&self, billed_ms: &BTreeMap<String, f64>) -> f64 {
        let mut total = self.transitions as f64 * PRICE_PER_TRANSITION;
        for (function, n) in &self.invocations {
            // A function not measured in sections 1-3 is priced as the slowest one that was.
            let slowest = billed_ms.values().copied().fold(f64::NAN, f64::max);
            let ms = billed_ms.get(function).copied().unwrap_or(slowest);
            total += *n as f64 * invocation_dollars(ms);
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
    config.event_faults = schedule.event_faults();
    let stack = LocalStack::start(config).await?;
    stack.advance_to(first_night());
    let datastore = stack.datastores[0].clone();
    if schedule == Schedule::EventsLearned {
        // The night before, the same export: its record is the history.
        stack
            .start_execution("nightly-bench-before", stack.export_request(&datastore))
            .map_err(|e| format!("the execution could not start: {e}"))?;
        stack.runner.wait_all().await;
        stack.advance_to(first_night() + jiff::SignedDuration::from_hours(48));
    }
    let describes_before = describes(&stack);
    let deliveries_before = stack.event_deliveries().len();
    let handle = stack
        .start_execution("nightly-bench", stack.export_request(&datastore))
        .map_err(|e| format!("the execution could not start: {e}"))?;
    stack.runner.wait_all().await;
    let done = handle.describe();
    let end_time = stack.emulator.export_jobs().last().and_then(|j| j.end_time);
    let history = handle.history();
    let seen = history.iter().find_map(|event| match &event.kind {
        EventKind::StateExited { name, output, .. }
            if name == "CheckJob" && output["progress"]["outcome"].as_str() != Some("WAITING") =>
        {
            Some(event.timestamp)
        }
        _ => None,
    });
    let last_wait = history
        .iter()
        .rev()
        .filter(|event| seen.is_none_or(|seen| event.timestamp <= seen))
        .find_map(|event| match &event.kind {
            EventKind::StateEntered { name, input, .. } if name == "AwaitJob" || name == "WaitForJob" => {
                input["progress"]["nextCheckSeconds"].as_u64()
            }
            _ => None,
        });
    let delay = |at: Option<jiff::Timestamp>| match (at, end_time) {
        (Some(at), Some(end)) => Some(at.as_second() - end.as_second()),
        _ => None,
    };
    let mut invocations: BTreeMap<String, u64> = done
        .stats
        .task_invocations
        .iter()
        .map(|(arn, n)| {
            let name = arn.rsplit(':').next().unwrap_or(arn);
            (name.strip_prefix("hlx-").unwrap_or(name).to_owned(), *n)
        })
        .collect();
    let job_events = stack.event_deliveries()[deliveries_before..]
        .iter()
        .filter(|d| d.routed)
        .count() as u64;
    if job_events > 0 {
        invocations.insert("job-events".into(), job_events);
    }
    Ok(CostRun {
        job,
        schedule,
        status: done.status.as_str().to_owned(),
        transitions: done.stats.state_transitions,
        invocations,
        describes: describes(&stack) - describes_before,
        seen_delay: delay(seen),
        end_delay: delay(done.stop_date),
        last_wait,
    })
}

fn describes(stack: &LocalStack) -> usize {
    stack
        .emulator
        .call_counts()
        .get("DescribeFHIRExportJob")
        .copied()
        .unwrap_or(0)
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
            invocations: [("check-job".to_owned(), 2)].into(),
            describes: 2,
            seen_delay: Some(0),
            end_delay: Some(0),
            last_wait: None,
        };
        let billed = [("check-job".to_owned(), 2.2)].into();
        let expected = 40.0 * 0.000_025 + 2.0 * (0.000_000_2 + 0.003 * 0.125 * 0.000_013_333_4);
        assert!((run.dollars(&billed) - expected).abs() < 1e-15);
    }
}
