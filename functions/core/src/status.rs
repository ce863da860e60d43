//! Job statuses: HealthLake's ten, and the states of an hlx record.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A HealthLake export job status, including one HealthLake may add later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Submitted,
    Queued,
    InProgress,
    CompletedWithErrors,
    Completed,
    Failed,
    CancelSubmitted,
    CancelInProgress,
    CancelCompleted,
    CancelFailed,
    /// A status this version of hlx does not know: treated as still running.
    Unknown(String),
}

/// What a status means for the orchestration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, not yet queued or running.
    Submitted,
    /// Waiting in HealthLake's FIFO queue behind another export.
    Queued,
    /// Running (or being cancelled, or in a state hlx does not know).
    Running,
    /// Ended as the SDK waiter counts success.
    Succeeded,
    /// Ended as the SDK waiter counts failure.
    Failed,
}

impl JobStatus {
    pub const ALL_KNOWN: [JobStatus; 10] = [
        JobStatus::Submitted,
        JobStatus::Queued,
        JobStatus::InProgress,
        JobStatus::CompletedWithErrors,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::CancelSubmitted,
        JobStatus::CancelInProgress,
        JobStatus::CancelCompleted,
        JobStatus::CancelFailed,
    ];

    pub fn parse(value: &str) -> Self {
        match value {
            "SUBMITTED" => Self::Submitted,
            "QUEUED" => Self::Queued,
            "IN_PROGRESS" => Self::InProgress,
            "COMPLETED_WITH_ERRORS" => Self::CompletedWithErrors,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "CANCEL_SUBMITTED" => Self::CancelSubmitted,
            "CANCEL_IN_PROGRESS" => Self::CancelInProgress,
            "CANCEL_COMPLETED" => Self::CancelCompleted,
            "CANCEL_FAILED" => Self::CancelFailed,
            other => Self::Unknown(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Submitted => "SUBMITTED",
            Self::Queued => "QUEUED",
            Self::InProgress => "IN_PROGRESS",
            Self::CompletedWithErrors => "COMPLETED_WITH_ERRORS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::CancelSubmitted => "CANCEL_SUBMITTED",
            Self::CancelInProgress => "CANCEL_IN_PROGRESS",
            Self::CancelCompleted => "CANCEL_COMPLETED",
            Self::CancelFailed => "CANCEL_FAILED",
            Self::Unknown(other) => other,
        }
    }

    /// The SDK waiter's classification: `COMPLETED` and `COMPLETED_WITH_ERRORS`
    /// succeed; `FAILED`, `CANCEL_COMPLETED` and `CANCEL_FAILED` fail.
    pub fn phase(&self) -> Phase {
        match self {
            Self::Submitted => Phase::Submitted,
            Self::Queued => Phase::Queued,
            Self::InProgress | Self::CancelSubmitted | Self::CancelInProgress | Self::Unknown(_) => {
                Phase::Running
            }
            Self::Completed | Self::CompletedWithErrors => Phase::Succeeded,
            Self::Failed | Self::CancelCompleted | Self::CancelFailed => Phase::Failed,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.phase(), Phase::Succeeded | Phase::Failed)
    }

    /// Where the status stands in a job's life (the record's rank): a job
    /// only moves to a higher one, so a lower or equal one is old news.
    pub fn rank(&self) -> u8 {
        RecordStatus::Job(self.clone()).rank()
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self::parse(&s))
    }
}

/// The status of an hlx job record: HealthLake's, or one hlx decided.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    Job(JobStatus),
    /// The request broke a field rule; nothing was started.
    Rejected,
    /// hlx stopped waiting: the job ran or queued past its limit.
    TimedOut,
    /// The orchestration itself failed (see the record's error name and cause).
    Error,
}

impl RecordStatus {
    pub fn parse(value: &str) -> Self {
        match value {
            "REJECTED" => Self::Rejected,
            "TIMED_OUT" => Self::TimedOut,
            "ERROR" => Self::Error,
            other => Self::Job(JobStatus::parse(other)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Job(status) => status.as_str(),
            Self::Rejected => "REJECTED",
            Self::TimedOut => "TIMED_OUT",
            Self::Error => "ERROR",
        }
    }

    pub fn is_terminal(&self) -> bool {
        match self {
            Self::Job(status) => status.is_terminal(),
            Self::Rejected | Self::TimedOut | Self::Error => true,
        }
    }

    /// Where the status stands in a record's life. A record only ever moves to
    /// an equal or higher rank; terminal statuses share the highest rank.
    pub fn rank(&self) -> u8 {
        if self.is_terminal() {
            return TERMINAL_RANK;
        }
        match self {
            Self::Job(JobStatus::Submitted) => 1,
            Self::Job(JobStatus::Queued) => 2,
            Self::Job(JobStatus::InProgress) | Self::Job(JobStatus::Unknown(_)) => 3,
            Self::Job(JobStatus::CancelSubmitted) => 4,
            Self::Job(JobStatus::CancelInProgress) => 5,
            _ => TERMINAL_RANK,
        }
    }
}

/// The rank every terminal status has.
pub const TERMINAL_RANK: u8 = 9;

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RecordStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RecordStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_round_trips() {
        for status in JobStatus::ALL_KNOWN {
            assert_eq!(JobStatus::parse(status.as_str()), status);
        }
    }

    #[test]
    fn phases_follow_the_sdk_waiter() {
        use JobStatus::*;
        let expect = [
            (Submitted, Phase::Submitted),
            (Queued, Phase::Queued),
            (InProgress, Phase::Running),
            (CompletedWithErrors, Phase::Succeeded),
            (Completed, Phase::Succeeded),
            (Failed, Phase::Failed),
            (CancelSubmitted, Phase::Running),
            (CancelInProgress, Phase::Running),
            (CancelCompleted, Phase::Failed),
            (CancelFailed, Phase::Failed),
        ];
        for (status, phase) in expect {
            assert_eq!(status.phase(), phase, "{status}");
        }
        let future = JobStatus::parse("PAUSED");
        assert_eq!(future, JobStatus::Unknown("PAUSED".into()));
        assert_eq!(future.phase(), Phase::Running);
        assert!(!future.is_terminal());
        assert_eq!(future.to_string(), "PAUSED");
    }

    #[test]
    fn record_ranks_never_put_a_terminal_status_below_a_running_one() {
        let running = [
            RecordStatus::Job(JobStatus::Submitted),
            RecordStatus::Job(JobStatus::Queued),
            RecordStatus::Job(JobStatus::InProgress),
            RecordStatus::Job(JobStatus::CancelSubmitted),
            RecordStatus::Job(JobStatus::CancelInProgress),
        ];
        for pair in running.windows(2) {
            assert!(pair[0].rank() < pair[1].rank());
        }
        for terminal in [
            RecordStatus::Rejected,
            RecordStatus::TimedOut,
            RecordStatus::Error,
            RecordStatus::Job(JobStatus::Completed),
            RecordStatus::Job(JobStatus::CancelFailed),
        ] {
            assert!(terminal.is_terminal());
            assert_eq!(terminal.rank(), TERMINAL_RANK);
            assert_eq!(RecordStatus::parse(terminal.as_str()), terminal);
        }
    }
}
