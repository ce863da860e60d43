//! `Retry` and `Catch` around a Task or Map state: which retrier matches,
//! the backoff (with jitter) slept on the execution's clock, and the catcher
//! that takes over when retries are spent.

use jiff::{SignedDuration, Timestamp};
use rand::RngExt;
use serde_json::Value;

use super::interp::{Interp, Step};
use super::states::apply_result_path;
use crate::definition::{Catcher, Jitter, MapState, Retrier, State, TaskState, Transition};
use crate::error::{StatesError, error_matches};
use crate::history::EventKind;

/// A state that retries and catches: what one attempt runs.
#[derive(Clone, Copy)]
pub(super) enum Attempted<'a> {
    Task(&'a TaskState),
    Map(&'a MapState),
}

impl Attempted<'_> {
    fn retry(&self) -> &[Retrier] {
        match self {
            Attempted::Task(t) => &t.retry,
            Attempted::Map(m) => &m.retry,
        }
    }

    fn catch(&self) -> &[Catcher] {
        match self {
            Attempted::Task(t) => &t.catch,
            Attempted::Map(m) => &m.catch,
        }
    }

    fn transition(&self) -> &Transition {
        match self {
            Attempted::Task(t) => &t.transition,
            Attempted::Map(m) => &m.transition,
        }
    }
}

impl Interp {
    pub(super) async fn run_retrying(
        &mut self,
        state: &State,
        attempted: Attempted<'_>,
        raw: &Value,
        entered: Timestamp,
    ) -> Result<Step, StatesError> {
        let mut attempts = vec![0u64; attempted.retry().len()];
        let mut retry_count = 0u64;
        loop {
            let result = match attempted {
                Attempted::Task(task) => self.task_attempt(state, task, raw, entered, retry_count).await,
                Attempted::Map(map) => Box::pin(self.map_attempt(state, map, raw, entered)).await,
            };
            let err = match result {
                Ok(output) => return Ok(Self::finish(attempted.transition(), output)),
                Err(err) => err,
            };
            if err.is_terminal() {
                return Err(err);
            }
            let retrier = attempted
                .retry()
                .iter()
                .enumerate()
                .find(|(_, r)| r.error_equals.iter().any(|p| error_matches(p, &err.error)));
            if let Some((i, retrier)) = retrier
                && attempts[i] < retrier.max_attempts
            {
                let delay = self.retry_delay(retrier, attempts[i]);
                attempts[i] += 1;
                retry_count += 1;
                let wake_at = self.now().checked_add(delay).unwrap_or(Timestamp::MAX);
                self.stats(|s| {
                    s.state_transitions += 1;
                    s.retries += 1;
                });
                self.emit(EventKind::RetryScheduled {
                    state: state.name.clone(),
                    error: err.error.clone(),
                    cause: err.cause.clone(),
                    retrier: i,
                    attempt: attempts[i],
                    delay_seconds: delay.as_secs_f64(),
                    wake_at,
                });
                let flags = self.ex.flags.clone();
                flags.idle(flags.sleep_until(wake_at)).await;
                continue;
            }
            if let Some(catcher) = attempted
                .catch()
                .iter()
                .find(|c| c.error_equals.iter().any(|p| error_matches(p, &err.error)))
            {
                let output = apply_result_path(raw, &catcher.result_path, err.to_catch_output())?;
                return Ok(Step::Next {
                    output,
                    next: catcher.next.clone(),
                });
            }
            return Err(err);
        }
    }

    /// `IntervalSeconds × BackoffRate^attempt`, capped by `MaxDelaySeconds`,
    /// then, with `JitterStrategy: FULL`, drawn uniformly from `[0, delay]`.
    fn retry_delay(&mut self, r: &Retrier, attempt: u64) -> SignedDuration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut delay = r.interval_seconds as f64 * r.backoff_rate.powi(exponent);
        if let Some(max) = r.max_delay_seconds {
            delay = delay.min(max as f64);
        }
        delay = delay.min(MAX_DELAY_SECONDS);
        if r.jitter == Jitter::Full {
            delay = self.rng.random_range(0.0..=delay);
        }
        // Virtual timers have microsecond resolution.
        SignedDuration::from_micros((delay * 1e6).round() as i64)
    }
}

/// Retries never wait longer than this (a year), whatever the backoff says.
const MAX_DELAY_SECONDS: f64 = 31_622_400.0;
