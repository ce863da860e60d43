//! `hlx watch` and `hlx import watch`: follow an export (or an import)
//! until it ends.
//!
//! On a terminal, a spinner line shows the status and its numbers, and each
//! change leaves a line above it; otherwise (a pipe, a log) only the changes
//! are printed, one plain line each; with `--json`, one JSON object per
//! change. The exit code says how the job ended.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use hlx_core::JobKind;

use crate::aws::GlobalArgs;
use crate::ops::TargetArgs;
use crate::render;
use crate::view::{JobView, Outcome, unknown};
use crate::{CliError, scenario};

pub const WATCH_HELP: &str = "\
Polls the job record (--table or HLX_TABLE_NAME) and the execution
(--state-machine-arn or HLX_STATE_MACHINE_ARN) every --interval. Exit code 0
when the export succeeded, 1 when it failed, timed out, was rejected or ended
in error, 2 for an unknown id, 3 when AWS could not be asked three times in a
row.

Examples:
  hlx watch api-k-3f2a...
  hlx watch api-k-3f2a... --interval 30s --json > progress.jsonl";

pub const IMPORT_WATCH_HELP: &str = "\
As `hlx watch`, for an import: each change shows the status and, once
HealthLake reports them, the resources imported and refused. Exit code 0 when
the import completed (with errors included: the failure log lists the refused
resources), 1 when it failed, timed out, was rejected or ended in error, 2 for
an unknown id (an export's id included), 3 when AWS could not be asked three
times in a row.

Examples:
  hlx import watch api-import-k-3f2a...
  hlx import watch import-0123456789abcdef0123456789abcdef-2026-12-01 --json";

/// Failed polls in a row that end the watch.
const MAX_FAILURES: u32 = 3;
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The id (the execution name) or the execution ARN.
    pub id: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How often to look: 5s, 1m, 500ms.
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: Duration,
}

/// `5s`, `1m`, `500ms` or a number of seconds; at least 100 ms.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if let Some(ms) = text.strip_suffix("ms") {
        ms.parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("{text:?}: expected a whole number of milliseconds before ms"))?
    } else if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(format!("{text:?}: an interval is a positive duration"));
        }
        Duration::from_secs_f64(seconds)
    } else {
        scenario::parse_duration(text)?
    };
    if duration < Duration::from_millis(100) {
        return Err(format!("{text:?}: the interval must be at least 100ms"));
    }
    Ok(duration)
}

/// What a change is made of: a new line is printed when it differs.
fn signature(view: &JobView) -> (String, u32, Option<String>) {
    (
        view.record.status.to_string(),
        view.record.checks,
        view.execution.as_ref().map(|e| e.status.clone()),
    )
}

/// `hlx watch`, `hlx import watch`.
pub async fn watch(global: &GlobalArgs, kind: JobKind, args: WatchArgs) -> Result<u8, CliError> {
    let backend = args.target.backend(global).await?;
    let live = !global.json && std::io::stdout().is_terminal();
    let mut last = None;
    let mut failures = 0;
    let mut frame = 0usize;
    loop {
        let view = match backend.job(kind, &args.id).await {
            Ok(Some(view)) => {
                failures = 0;
                view
            }
            Ok(None) => return Err(unknown(kind, &args.id)),
            Err(CliError::Aws(message)) if failures + 1 < MAX_FAILURES => {
                failures += 1;
                eprintln!("hlx: {message} (retrying)");
                tokio::time::sleep(args.interval).await;
                continue;
            }
            Err(err) => return Err(err),
        };
        let outcome = view.outcome();
        let sig = signature(&view);
        if last.as_ref() != Some(&sig) {
            last = Some(sig);
            if live {
                print!("\r\x1b[2K");
            }
            if global.json {
                println!("{}", view.to_json());
            } else {
                println!(
                    "{}  {}",
                    render::time(view.record.updated_at),
                    render::progress(&view.record)
                );
            }
        }
        if outcome != Outcome::Running {
            if live {
                print!("\r\x1b[2K");
            }
            if !global.json {
                println!();
                print!("{}", render::status(&view));
            }
            return Ok(outcome.exit_code());
        }
        if live {
            // Animate until the next poll.
            let tick = Duration::from_millis(100);
            let mut waited = Duration::ZERO;
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(80);
            let line = format!("{}  {}", view.record.id, render::headline(&view.record));
            // One line that never wraps, so \r redraws it in place.
            let line: String = line.chars().take(width.saturating_sub(3)).collect();
            while waited < args.interval {
                print!("\r\x1b[2K{} {line}", SPINNER[frame % SPINNER.len()]);
                let _ = std::io::stdout().flush();
                frame += 1;
                tokio::time::sleep(tick.min(args.interval - waited)).await;
                waited += tick;
            }
        } else {
            tokio::time::sleep(args.interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_interval("10ms").unwrap_err().contains("at least 100ms"));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("-1").is_err());
    }
}
