//! When to look at a job again, and when to stop waiting for it.
//!
//! The schedule starts at the SDK waiter's 120 s and doubles towards a cap
//! while the job keeps the same status; a job that has only been `SUBMITTED`
//! is looked at sooner than one `QUEUED` behind another Region-wide export,
//! which may wait for hours. Deadlines are hlx's: time queued and time running
//! have separate limits, and the running limit counts from when the job left
//! the queue, so a job waiting its turn is never called slow.
//!
//! With event-driven completion ([`WakeBy::Events`], the default) a wait is
//! a callback task that HealthLake's own event ends; the schedule then only
//! sets the *fallback*, which finds a lost event or a cancellation (which has
//! no event). The fallback starts at an hour and doubles to a cap of four
//! hours. Either way the schedule learns from the data store's past exports:
//! with an expected run time, the first wait of a running job lands just
//! after the expected end, and later ones shrink.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::status::Phase;

/// What ends a wait: HealthLake's event (with a fallback), or only time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WakeBy {
    /// The callback waits for HealthLake's event; the timeout is the fallback.
    #[default]
    Events,
    /// No events: every wait runs to its end (the poll schedule).
    Poll,
}

impl WakeBy {
    pub fn as_str(self) -> &'static str {
        match self {
            WakeBy::Events => "events",
            WakeBy::Poll => "poll",
        }
    }
}

/// The poll schedule and deadlines (configurable per deployment).
#[derive(Debug, Clone, PartialEq)]
pub struct PollSchedule {
    /// First wait while running, and the base of the backoff (s).
    pub initial_seconds: u64,
    /// Factor between successive waits in the same status.
    pub backoff_rate: f64,
    /// The longest wait between two checks (s): the worst detection delay.
    pub max_interval_seconds: u64,
    /// Wait while the job is `SUBMITTED` (s).
    pub submitted_seconds: u64,
    /// First wait while the job is `QUEUED` (s); backs off like a running job.
    pub queued_initial_seconds: u64,
    /// How long a job may run once it left the queue.
    pub max_run: Duration,
    /// How long a job may wait (`SUBMITTED` or `QUEUED`) before it runs.
    pub max_queue: Duration,
    /// Whether HealthLake's events end waits.
    pub wake_by: WakeBy,
    /// With events: the first fallback (s); it doubles in one status.
    pub fallback_initial_seconds: u64,
    /// With events: the longest fallback (s).
    pub fallback_max_seconds: u64,
    /// The most hlx jobs in flight per data store ([`crate::admission`]); 0: no limit.
    pub max_jobs_in_flight: u32,
}

impl Default for PollSchedule {
    fn default() -> Self {
        Self {
            initial_seconds: 120,
            backoff_rate: 2.0,
            max_interval_seconds: 3600,
            submitted_seconds: 60,
            queued_initial_seconds: 300,
            max_run: Duration::from_secs(24 * 3600),
            max_queue: Duration::from_secs(24 * 3600),
            wake_by: WakeBy::Events,
            fallback_initial_seconds: 3600,
            fallback_max_seconds: 4 * 3600,
            max_jobs_in_flight: crate::admission::DEFAULT_MAX_JOBS_IN_FLIGHT,
        }
    }
}

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ScheduleError {
    pub name: String,
    pub problem: String,
}

/// The environment variables that set the schedule, with their meaning.
pub const SCHEDULE_VARIABLES: [(&str, &str); 11] = [
    (
        "HLX_POLL_INITIAL_SECONDS",
        "first wait while running (default 120)",
    ),
    (
        "HLX_POLL_BACKOFF_RATE",
        "factor between waits in one status (default 2.0)",
    ),
    (
        "HLX_POLL_MAX_SECONDS",
        "longest wait between checks (default 3600)",
    ),
    ("HLX_POLL_SUBMITTED_SECONDS", "wait while SUBMITTED (default 60)"),
    ("HLX_POLL_QUEUED_SECONDS", "first wait while QUEUED (default 300)"),
    ("HLX_MAX_RUN_HOURS", "how long a job may run (default 24)"),
    (
        "HLX_MAX_QUEUE_HOURS",
        "how long a job may wait in the queue (default 24)",
    ),
    (
        "HLX_WAKE_BY",
        "events (HealthLake's events end waits, default) or poll",
    ),
    (
        "HLX_FALLBACK_INITIAL_SECONDS",
        "with events: first fallback wait (default 3600)",
    ),
    (
        "HLX_FALLBACK_MAX_SECONDS",
        "with events: longest fallback wait (default 14400)",
    ),
    (
        "HLX_MAX_JOBS_IN_FLIGHT",
        "most hlx jobs in flight per data store, 0 for no limit, 1 kept for the schedule (default 8)",
    ),
];

impl PollSchedule {
    /// Reads the schedule from `lookup` (the process environment in Lambda),
    /// with the defaults for whatever is unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ScheduleError> {
        let defaults = Self::default();
        let seconds = |name: &str, default: u64| -> Result<u64, ScheduleError> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(ScheduleError {
                        name: name.into(),
                        problem: format!("must be a whole number of seconds >= 1, got {v:?}"),
                    }),
                },
            }
        };
        let hours = |name: &str, default: Duration| -> Result<Duration, ScheduleError> {
            match lookup(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(h) if h > 0.0 && h <= 24.0 * 365.0 => Ok(Duration::from_secs_f64(h * 3600.0)),
                    _ => Err(ScheduleError {
                        name: name.into(),
                        problem: format!("must be a number of hours > 0, got {v:?}"),
                    }),
                },
            }
        };
        let backoff_rate = match lookup("HLX_POLL_BACKOFF_RATE") {
            None => defaults.backoff_rate,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(r) if (1.0..=10.0).contains(&r) => r,
                _ => {
                    return Err(ScheduleError {
                        name: "HLX_POLL_BACKOFF_RATE".into(),
                        problem: format!("must be a number from 1.0 to 10.0, got {v:?}"),
                    });
                }
            },
        };
        let wake_by = match lookup("HLX_WAKE_BY").as_deref().map(str::trim) {
            None => defaults.wake_by,
            Some("events") => WakeBy::Events,
            Some("poll") => WakeBy::Poll,
            Some(other) => {
                return Err(ScheduleError {
                    name: "HLX_WAKE_BY".into(),
                    problem: format!("must be events or poll, got {other:?}"),
                });
            }
        };
        let schedule = Self {
            initial_seconds: seconds("HLX_POLL_INITIAL_SECONDS", defaults.initial_seconds)?,
            backoff_rate,
            max_interval_seconds: seconds("HLX_POLL_MAX_SECONDS", defaults.max_interval_seconds)?,
            submitted_seconds: seconds("HLX_POLL_SUBMITTED_SECONDS", defaults.submitted_seconds)?,
            queued_initial_seconds: seconds("HLX_POLL_QUEUED_SECONDS", defaults.queued_initial_seconds)?,
            max_run: hours("HLX_MAX_RUN_HOURS", defaults.max_run)?,
            max_queue: hours("HLX_MAX_QUEUE_HOURS", defaults.max_queue)?,
            wake_by,
            fallback_initial_seconds: seconds(
                "HLX_FALLBACK_INITIAL_SECONDS",
                defaults.fallback_initial_seconds,
            )?,
            fallback_max_seconds: seconds("HLX_FALLBACK_MAX_SECONDS", defaults.fallback_max_seconds)?,
            max_jobs_in_flight: match lookup("HLX_MAX_JOBS_IN_FLIGHT") {
                None => defaults.max_jobs_in_flight,
                Some(text) => {
                    crate::admission::parse_max_jobs_in_flight(&text).map_err(|problem| ScheduleError {
                        name: "HLX_MAX_JOBS_IN_FLIGHT".into(),
                        problem,
                    })?
                }
            },
        };
        if schedule.fallback_initial_seconds > schedule.fallback_max_seconds {
            return Err(ScheduleError {
                name: "HLX_FALLBACK_INITIAL_SECONDS".into(),
                problem: format!(
                    "{} is above HLX_FALLBACK_MAX_SECONDS ({})",
                    schedule.fallback_initial_seconds, schedule.fallback_max_seconds
                ),
            });
        }
        if schedule.initial_seconds > schedule.max_interval_seconds {
            return Err(ScheduleError {
                name: "HLX_POLL_INITIAL_SECONDS".into(),
                problem: format!(
                    "{} is above HLX_POLL_MAX_SECONDS ({})",
                    schedule.initial_seconds, schedule.max_interval_seconds
                ),
            });
        }
        Ok(schedule)
    }

    /// The schedule as the environment variables [`PollSchedule::from_lookup`]
    /// reads: how local mode configures the function processes it starts.
    pub fn to_env(&self) -> Vec<(String, String)> {
        [
            ("HLX_POLL_INITIAL_SECONDS", self.initial_seconds.to_string()),
            ("HLX_POLL_BACKOFF_RATE", self.backoff_rate.to_string()),
            ("HLX_POLL_MAX_SECONDS", self.max_interval_seconds.to_string()),
            ("HLX_POLL_SUBMITTED_SECONDS", self.submitted_seconds.to_string()),
            ("HLX_POLL_QUEUED_SECONDS", self.queued_initial_seconds.to_string()),
            (
                "HLX_MAX_RUN_HOURS",
                (self.max_run.as_secs_f64() / 3600.0).to_string(),
            ),
            (
                "HLX_MAX_QUEUE_HOURS",
                (self.max_queue.as_secs_f64() / 3600.0).to_string(),
            ),
            ("HLX_WAKE_BY", self.wake_by.as_str().to_owned()),
            (
                "HLX_FALLBACK_INITIAL_SECONDS",
                self.fallback_initial_seconds.to_string(),
            ),
            ("HLX_FALLBACK_MAX_SECONDS", self.fallback_max_seconds.to_string()),
            ("HLX_MAX_JOBS_IN_FLIGHT", self.max_jobs_in_flight.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn from_env() -> Result<Self, ScheduleError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The default schedule without events: every wait runs to its end.
    pub fn polling() -> Self {
        Self {
            wake_by: WakeBy::Poll,
            ..Self::default()
        }
    }

    /// The longest wait: the poll cap, or with events the fallback cap.
    pub fn cap_seconds(&self) -> u64 {
        match self.wake_by {
            WakeBy::Events => self.fallback_max_seconds,
            WakeBy::Poll => self.max_interval_seconds,
        }
    }

    /// Seconds to wait before the next check of a job in `phase` that has been
    /// seen in its current status `streak` times in a row (1 for the first),
    /// with no history to go by.
    pub fn interval(&self, phase: Phase, streak: u32) -> u64 {
        let base = match (self.wake_by, phase) {
            (WakeBy::Events, _) => self.fallback_initial_seconds,
            (WakeBy::Poll, Phase::Submitted) => {
                return self.submitted_seconds.min(self.max_interval_seconds);
            }
            (WakeBy::Poll, Phase::Queued) => self.queued_initial_seconds,
            (WakeBy::Poll, Phase::Running | Phase::Succeeded | Phase::Failed) => self.initial_seconds,
        };
        self.backed_off(base, streak)
    }

    fn backed_off(&self, base: u64, streak: u32) -> u64 {
        let exponent = i32::try_from(streak.saturating_sub(1).min(64)).unwrap_or(64);
        let wait = base as f64 * self.backoff_rate.powi(exponent);
        if wait >= self.cap_seconds() as f64 {
            self.cap_seconds()
        } else {
            (wait.round() as u64).max(1)
        }
    }

    /// The wait of a running job whose data store's exports usually run
    /// `expected` seconds, `ran` seconds after it left the queue, `overdue`
    /// checks after its expected end: until just after the expected end
    /// (a margin of a twentieth, at least a minute), then shrinking by half
    /// from a quarter of the expected run to a floor of a sixteenth (at least
    /// the poll schedule's first wait); never above the cap.
    pub fn learned_interval(&self, expected: u64, ran: u64, overdue: u32) -> u64 {
        let margin = (expected / 20).max(60);
        let wait = if ran < expected {
            expected - ran + margin
        } else {
            let floor = (expected / 16).max(self.initial_seconds);
            let shrinking = (expected / 4) >> overdue.min(63);
            shrinking.max(floor)
        };
        wait.clamp(1, self.cap_seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn running_jobs_back_off_from_120_seconds_to_the_cap() {
        let s = PollSchedule::polling();
        let waits: Vec<u64> = (1..=7).map(|n| s.interval(Phase::Running, n)).collect();
        assert_eq!(waits, [120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(s.interval(Phase::Running, u32::MAX), 3600);
    }

    #[test]
    fn submitted_is_checked_sooner_than_queued() {
        let s = PollSchedule::polling();
        assert!(s.interval(Phase::Submitted, 1) < s.interval(Phase::Queued, 1));
        assert_eq!(s.interval(Phase::Submitted, 5), 60);
        assert_eq!(s.interval(Phase::Queued, 1), 300);
        assert_eq!(s.interval(Phase::Queued, 2), 600);
        assert_eq!(s.interval(Phase::Queued, 10), 3600);
    }

    #[test]
    fn settings_come_from_the_environment_with_defaults() {
        let env: HashMap<&str, &str> = [
            ("HLX_POLL_INITIAL_SECONDS", "5"),
            ("HLX_POLL_MAX_SECONDS", "30"),
            ("HLX_MAX_RUN_HOURS", "0.5"),
        ]
        .into();
        let s = PollSchedule::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.wake_by, WakeBy::Events);
        let s = PollSchedule {
            wake_by: WakeBy::Poll,
            ..s
        };
        assert_eq!(s.initial_seconds, 5);
        assert_eq!(s.max_interval_seconds, 30);
        assert_eq!(s.max_run, Duration::from_secs(1800));
        assert_eq!(s.max_queue, PollSchedule::default().max_queue);
        assert_eq!(s.interval(Phase::Running, 4), 30);
    }

    #[test]
    fn the_environment_form_round_trips() {
        let schedule = PollSchedule {
            initial_seconds: 7,
            backoff_rate: 1.5,
            max_interval_seconds: 90,
            submitted_seconds: 3,
            queued_initial_seconds: 11,
            max_run: Duration::from_secs(5400),
            max_queue: Duration::from_secs(900),
            wake_by: WakeBy::Poll,
            fallback_initial_seconds: 600,
            fallback_max_seconds: 7200,
            max_jobs_in_flight: 4,
        };
        let env: HashMap<String, String> = schedule.to_env().into_iter().collect();
        assert_eq!(env.len(), SCHEDULE_VARIABLES.len());
        for (name, _) in SCHEDULE_VARIABLES {
            assert!(env.contains_key(name), "{name}");
        }
        assert_eq!(
            PollSchedule::from_lookup(|k| env.get(k).cloned()).unwrap(),
            schedule
        );
    }

    #[test]
    fn bad_settings_name_the_variable() {
        for (name, value) in [
            ("HLX_POLL_INITIAL_SECONDS", "0"),
            ("HLX_POLL_MAX_SECONDS", "ten"),
            ("HLX_POLL_BACKOFF_RATE", "0.5"),
            ("HLX_MAX_QUEUE_HOURS", "-1"),
            ("HLX_WAKE_BY", "sometimes"),
            ("HLX_FALLBACK_MAX_SECONDS", "0"),
        ] {
            let err = PollSchedule::from_lookup(|k| (k == name).then(|| value.to_string())).unwrap_err();
            assert_eq!(err.name, name);
        }
        let err = PollSchedule::from_lookup(|k| (k == "HLX_POLL_INITIAL_SECONDS").then(|| "7200".into()))
            .unwrap_err();
        assert!(err.problem.contains("above HLX_POLL_MAX_SECONDS"));
        let err =
            PollSchedule::from_lookup(|k| (k == "HLX_FALLBACK_INITIAL_SECONDS").then(|| "20000".into()))
                .unwrap_err();
        assert!(err.problem.contains("above HLX_FALLBACK_MAX_SECONDS"));
    }

    #[test]
    fn with_events_the_fallback_starts_at_an_hour_and_doubles_to_four() {
        let s = PollSchedule::default();
        for phase in [Phase::Submitted, Phase::Queued, Phase::Running] {
            let waits: Vec<u64> = (1..=4).map(|n| s.interval(phase, n)).collect();
            assert_eq!(waits, [3600, 7200, 14400, 14400], "{phase:?}");
        }
    }

    #[test]
    fn history_puts_the_first_wait_just_after_the_expected_end_then_shrinks() {
        let s = PollSchedule::default();
        let six_hours = 6 * 3600;
        // Just out of the queue: until the expected end plus 5 %, capped at 4 h.
        assert_eq!(s.learned_interval(six_hours, 0, 0), 14400);
        // 4 h in: the rest of the run plus 18 minutes.
        assert_eq!(s.learned_interval(six_hours, 4 * 3600, 0), 2 * 3600 + 1080);
        // Overdue: a quarter of the run, halving, down to a sixteenth.
        let overdue: Vec<u64> = (0..5)
            .map(|k| s.learned_interval(six_hours, six_hours + 1, k))
            .collect();
        assert_eq!(overdue, [5400, 2700, 1350, 1350, 1350]);
        // A short export: the margin is at least a minute, the floor the poll start.
        assert_eq!(s.learned_interval(600, 0, 0), 660);
        assert_eq!(s.learned_interval(600, 700, 3), 120);
        // Without events the poll cap bounds it.
        assert_eq!(PollSchedule::polling().learned_interval(six_hours, 0, 0), 3600);
    }
}
