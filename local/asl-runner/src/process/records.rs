//! What the invoker keeps: a record of each invocation (timing, sandbox,
//! outcome), for benchmarks and tests, and each line a function process
//! writes.

use std::fmt;
use std::time::{Duration, SystemTime};

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationOutcome {
    Succeeded,
    /// The function reported this `errorType`.
    FunctionError(String),
    /// The process exited (or was killed) before answering.
    Crashed(String),
    TimedOut,
    InitFailed(String),
}

/// Timing of one invocation (for benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub function: String,
    pub request_id: String,
    /// Which sandbox (process) served it; numbered from 1.
    pub sandbox: u64,
    pub pid: Option<u32>,
    /// The first invocation of a fresh process.
    pub cold_start: bool,
    /// For cold starts: time from spawning the process to its first
    /// `/invocation/next`.
    pub init_duration: Option<Duration>,
    /// From the process taking the invocation to its answer (or failure).
    pub duration: Duration,
    /// From `invoke` being called to it returning (includes init).
    pub wall_time: Duration,
    pub outcome: InvocationOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A line a function process wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub function: String,
    pub sandbox: u64,
    pub pid: Option<u32>,
    pub stream: LogStream,
    pub line: String,
    pub at: SystemTime,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}#{}] {}", self.function, self.sandbox, self.line)
    }
}
