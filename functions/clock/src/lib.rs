//! Time, as hlx reads it.
//!
//! The deployed api function, the HealthLake emulator and the state-machine
//! runner read time through [`Clock`]. [`SystemClock`] is wall-clock time: what
//! the deployed functions and the standalone servers use. A [`VirtualClock`]
//! only moves when the runner advances it, so that in local mode and in tests
//! a 24-hour export is simulated in milliseconds and every run repeats
//! exactly. A leaf crate (jiff only), so that the functions need nothing of
//! local mode for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;

    /// True when time moves only when somebody advances it.
    fn is_virtual(&self) -> bool {
        false
    }
}

/// A clock shared between the emulator, the runner and the tests.
pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Time that moves only when advanced. Cloning shares the same clock.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    micros: Arc<AtomicI64>,
}

impl VirtualClock {
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            micros: Arc::new(AtomicI64::new(start.as_microsecond())),
        }
    }

    /// Moves the clock forward to `to`; a time in the past leaves it where it is.
    pub fn advance_to(&self, to: Timestamp) {
        self.micros.fetch_max(to.as_microsecond(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by` (negative durations are ignored).
    pub fn advance_by(&self, by: SignedDuration) {
        if by.is_positive() {
            let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
            self.micros.fetch_add(micros, Ordering::SeqCst);
        }
    }
}

impl Default for VirtualClock {
    /// A fixed, recognisable start: 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self::starting_at(Timestamp::from_second(1_767_225_600).expect("valid timestamp"))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_microsecond(self.micros.load(Ordering::SeqCst))
            .expect("virtual clock stays within jiff's range")
    }

    fn is_virtual(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_forward_and_is_shared_by_clones() {
        let clock = VirtualClock::default();
        let start = clock.now();
        let other = clock.clone();
        other.advance_by(SignedDuration::from_hours(3));
        assert_eq!(clock.now(), start + SignedDuration::from_hours(3));
        clock.advance_to(start);
        assert_eq!(clock.now(), start + SignedDuration::from_hours(3));
        clock.advance_by(SignedDuration::from_secs(-10));
        assert_eq!(clock.now(), start + SignedDuration::from_hours(3));
        assert!(clock.is_virtual());
        assert!(!SystemClock.is_virtual());
    }
}
