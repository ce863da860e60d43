//! Section 6: full against incremental nightly exports of one data store
//! that changes by 1 % a day, on the local runner's virtual time (hlx's
//! handlers in process, the HealthLake emulator writing real NDJSON): the
//! resources and bytes each night exports, and what a month of it costs in
//! S3 and in orchestration.

use std::path::Path;
use std::time::Duration;

use hlx_core::{ExportMode, ExportSelection};
use hlx_healthlake_emulator::{Churn, JobProfile};
use hlx_local_stack::{LocalStack, StackConfig};
use hlx_report::pricing::{
    PRICE_PER_S3_GB_MONTH, PRICE_PER_S3_PUT, PRICE_PER_TRANSITION, invocation_dollars,
};

use crate::cost::NIGHTS;

/// The data store: 20,000 resources.
pub const RESOURCES: [(&str, usize); 4] = [
    ("Patient", 1_000),
    ("Encounter", 4_000),
    ("Observation", 13_000),
    ("Condition", 2_000),
];
/// 1 % a day: 50 created and 150 updated.
pub const CHURN: Churn = Churn {
    created_per_day: 50,
    updated_per_day: 150,
};
/// Nights run (the monthly figures take their mean × 30).
pub const NIGHTS_RUN: u32 = 7;

/// One night of one mode.
#[derive(Debug, Clone)]
pub struct Night {
    pub resources: u64,
    pub bytes: u64,
    pub files: u64,
    pub transitions: u64,
    pub invocations: u64,
}

/// The nights of one mode.
#[derive(Debug, Clone)]
pub struct ModeRun {
    pub mode: ExportMode,
    pub nights: Vec<Night>,
}

impl ModeRun {
    fn mean(&self, f: impl Fn(&Night) -> u64) -> f64 {
        // Night 1 of an incremental chain is a full export: the steady state is the rest.
        let steady = if self.nights.len() > 1 {
            &self.nights[1..]
        } else {
            &self.nights[..]
        };
        steady.iter().map(&f).sum::<u64>() as f64 / steady.len() as f64
    }

    /// A month's S3 cost of keeping every night's files (written through the
    /// month, so on average half a month each) plus their PUTs, and the
    /// orchestration (transitions, Lambda requests at about 10 ms, 128 MB).
    pub fn monthly(&self) -> (f64, f64, f64) {
        let gb = self.mean(|n| n.bytes) / 1e9;
        let storage = gb * NIGHTS * PRICE_PER_S3_GB_MONTH / 2.0;
        let puts = self.mean(|n| n.files) * NIGHTS * PRICE_PER_S3_PUT;
        let lambda_each = invocation_dollars(10.0);
        let orchestration = NIGHTS
            * (self.mean(|n| n.transitions) * PRICE_PER_TRANSITION
                + self.mean(|n| n.invocations) * lambda_each);
        (storage, puts, orchestration)
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        dir_bytes(&path)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Runs [`NIGHTS_RUN`] nightly exports of `mode`.
pub async fn run(mode: ExportMode) -> Result<ModeRun, String> {
    let dir = std::env::temp_dir().join(format!(
        "hlx-bench-incremental-{}-{}",
        std::process::id(),
        mode.as_str()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let result = run_in(&dir, mode).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &Path, mode: ExportMode) -> Result<ModeRun, String> {
    let mut config = StackConfig::new(dir);
    config.profile = JobProfile::default()
        .with_timing(Duration::from_secs(30), Duration::from_secs(3600))
        .with_resources(RESOURCES);
    config.churn = CHURN;
    config.nightly = ExportSelection {
        mode,
        ..ExportSelection::default()
    };
    let stack = LocalStack::start(config).await?;
    let mut nights = Vec::new();
    for n in 0..NIGHTS_RUN {
        let done = stack.run_night(n).await?;
        let execution = done.first().ok_or("no execution ran")?;
        if execution.status.as_str() != "SUCCEEDED" {
            return Err(format!("night {} ended {}", n + 1, execution.status.as_str()));
        }
        let job = stack
            .emulator
            .export_jobs()
            .last()
            .cloned()
            .ok_or("no export job")?;
        let output = job.output_dir.as_ref().ok_or("no output folder")?;
        nights.push(Night {
            resources: job.exported_total() as u64,
            bytes: dir_bytes(output),
            files: job.output_files.len() as u64,
            transitions: execution.stats.state_transitions,
            invocations: execution.stats.total_task_invocations(),
        });
    }
    Ok(ModeRun { mode, nights })
}

/// The section's markdown.
pub fn markdown(full: &ModeRun, incremental: &ModeRun) -> String {
    let total: usize = RESOURCES.iter().map(|(_, n)| n).sum();
    let mut out = String::new();
    out.push_str(&format!(
        "## 6. Full against incremental nightly exports\n\n\
         One data store of {total} resources (Patient, Encounter, Observation, Condition) that changes by \
         {} created and {} updated resources a day (1 %), {NIGHTS_RUN} nights on virtual time, the \
         emulator writing real NDJSON. Incremental night 1 has no history and exports everything.\n\n\
         | night | full: resources | full: MB | incremental: resources | incremental: MB | ratio (bytes) |\n\
         |---:|---:|---:|---:|---:|---:|\n",
        CHURN.created_per_day, CHURN.updated_per_day
    ));
    for (i, (f, n)) in full.nights.iter().zip(&incremental.nights).enumerate() {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {} | {:.3} | {:.1}× |\n",
            i + 1,
            f.resources,
            f.bytes as f64 / 1e6,
            n.resources,
            n.bytes as f64 / 1e6,
            f.bytes as f64 / n.bytes.max(1) as f64
        ));
    }
    let row = |run: &ModeRun| {
        let (storage, puts, orchestration) = run.monthly();
        format!(
            "| {} | {:.0} | {:.2} | ${storage:.4} | ${puts:.5} | ${orchestration:.5} | ${:.4} |\n",
            run.mode.as_str(),
            run.mean(|n| n.resources),
            run.mean(|n| n.bytes) / 1e6,
            storage + puts + orchestration
        )
    };
    out.push_str(
        "\nA month (30 nights) in the steady state (nights 2 on), every night's files kept in S3 Standard \
         for the rest of the month ($0.023/GB-month), PUTs at $0.005/1,000, Step Functions at $0.025/1,000 \
         transitions, Lambda at 128 MB and ~10 ms an invocation. HealthLake's own export charges are \
         not included.\n\n\
         | mode | resources a night | MB a night | S3 storage | S3 PUTs | orchestration | month |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    out.push_str(&row(full));
    out.push_str(&row(incremental));
    let ratio = full.mean(|n| n.bytes) / incremental.mean(|n| n.bytes).max(1.0);
    out.push_str(&format!(
        "\nIncremental exports write {ratio:.0}× fewer bytes a night than full ones at 1 % daily churn.\n"
    ));
    out
}
