//! The Map Runs of Distributed Maps, as Step Functions describes them
//! (`ListMapRuns`, `DescribeMapRun`): one per Distributed Map state entered,
//! with its settings, and its children found by their [`MapRunDescription::arn`].

use jiff::Timestamp;

/// A Map Run's status (`DescribeMapRun`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Aborted => "ABORTED",
        }
    }
}

/// One Map Run.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunDescription {
    pub arn: String,
    /// The execution whose Map state started it.
    pub execution_arn: String,
    /// The state machine its children run (`{machine}/{label}`).
    pub state_machine_arn: String,
    pub status: MapRunStatus,
    pub start_date: Timestamp,
    pub stop_date: Option<Timestamp>,
    /// 0: no limit.
    pub max_concurrency: u64,
    pub tolerated_failure_percentage: f64,
    pub tolerated_failure_count: u64,
    /// Items read (before batching).
    pub items: u64,
    /// Child executions the run starts (one per item, or per batch).
    pub children: u64,
    /// Whether a `ResultWriter` writes the children's results.
    pub writes_results: bool,
}
