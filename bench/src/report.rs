//! The tables, as Markdown, and RESULTS.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hlx_report::Table;
use hlx_report::pricing::PRICE_PER_TRANSITION;

use crate::cost::{self, CostRun, Schedule};
use crate::invoke::{FLOOR, FUNCTIONS, Results, Side};
use crate::machine::Machine;
use crate::size;
use crate::stats::{self, Summary, bytes, ms, range, ratio};

/// Targets from the issue.
const INIT_TARGET_MS: f64 = 20.0;
const INIT_SPEEDUP_TARGET: f64 = 10.0;
const RSS_TARGET_KIB: u64 = 32 * 1024;
const TRANSITIONS_TARGET_6H: u64 = 40;
/// Issue 11: a 6-hour export woken by its event in at most this many transitions...
const EVENT_TRANSITIONS_TARGET_6H: u64 = 20;
/// ... and seen ended within this many seconds of its end.
const EVENT_DETECTION_TARGET_S: i64 = 5;

pub struct PackageSize {
    pub raw: u64,
    pub zipped: u64,
}

/// Deployment package sizes per function.
pub struct Sizes {
    pub hlx: BTreeMap<&'static str, PackageSize>,
    /// The handler file alone (the Lambda runtime provides boto3).
    pub peer: BTreeMap<&'static str, PackageSize>,
    /// The handler with boto3 and its dependencies vendored.
    pub peer_vendored: BTreeMap<&'static str, PackageSize>,
}

impl Sizes {
    pub fn measure(bin_dir: &Path, peer_dir: &Path, peer_python: &Path) -> Result<Sizes, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let sdk = match crate::invoke::site_packages(peer_python) {
            Some(site) => size::vendored_sdk(&site).map_err(|e| io("the peer's site-packages", e))?,
            None => return Err(format!("{} has no site-packages", peer_python.display())),
        };
        let mut sizes = Sizes {
            hlx: BTreeMap::new(),
            peer: BTreeMap::new(),
            peer_vendored: BTreeMap::new(),
        };
        for function in FUNCTIONS {
            let (raw, zipped) = size::rust_package(&bin_dir.join(function)).map_err(|e| io(function, e))?;
            sizes.hlx.insert(function, PackageSize { raw, zipped });
            let module = format!("{}.py", function.replace('-', "_"));
            let handler = size::Entry {
                name: module.clone(),
                path: peer_dir.join(&module),
                mode: 0o644,
            };
            let alone = std::slice::from_ref(&handler);
            sizes.peer.insert(
                function,
                PackageSize {
                    raw: size::raw_size(alone).map_err(|e| io(&module, e))?,
                    zipped: size::zipped_size(alone).map_err(|e| io(&module, e))?,
                },
            );
            let mut all = vec![handler];
            all.extend(sdk.iter().map(|e| size::Entry {
                name: e.name.clone(),
                path: e.path.clone(),
                mode: e.mode,
            }));
            sizes.peer_vendored.insert(
                function,
                PackageSize {
                    raw: size::raw_size(&all).map_err(|e| io("boto3", e))?,
                    zipped: size::zipped_size(&all).map_err(|e| io("boto3", e))?,
                },
            );
        }
        Ok(sizes)
    }
}

pub struct Report {
    pub machine: Machine,
    pub processes: Option<(Results, Sizes)>,
    pub cost: Vec<CostRun>,
    pub cold_runs: usize,
    pub warm_runs: usize,
    pub elapsed: Duration,
}

fn mib(kib: f64) -> String {
    if kib.is_finite() {
        format!("{:.1}", kib / 1024.0)
    } else {
        "–".into()
    }
}

fn opt_seconds(s: Option<i64>) -> String {
    s.map_or_else(|| "–".into(), stats::seconds)
}

fn job_label(job: Duration) -> String {
    match job.as_secs() {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} min", s / 60),
    }
}

fn verdict(met: bool, miss: String) -> String {
    if met {
        "met".into()
    } else {
        format!("**missed** by {miss}")
    }
}

/// Per-function summaries of one side.
struct SideFigures {
    init: BTreeMap<&'static str, Summary>,
    first: BTreeMap<&'static str, Summary>,
    warm: BTreeMap<&'static str, Summary>,
    /// Median `VmHWM` after the first invocation, over the cold runs (KiB).
    hwm_first: BTreeMap<&'static str, f64>,
    /// `VmHWM` after one cold and N warm invocations (KiB).
    hwm_warm: BTreeMap<&'static str, f64>,
}

impl SideFigures {
    fn of(results: &Results, side: Side) -> SideFigures {
        let mut f = SideFigures {
            init: BTreeMap::new(),
            first: BTreeMap::new(),
            warm: BTreeMap::new(),
            hwm_first: BTreeMap::new(),
            hwm_warm: BTreeMap::new(),
        };
        for function in FUNCTIONS {
            let m = results.get(side, function);
            let init: Vec<Duration> = m.cold.iter().map(|s| s.init).collect();
            let first: Vec<Duration> = m.cold.iter().map(|s| s.first).collect();
            let hwm: Vec<f64> = m
                .cold
                .iter()
                .filter_map(|s| s.hwm_kib)
                .map(|k| k as f64)
                .collect();
            f.init.insert(function, Summary::of_ms(&init));
            f.first.insert(function, Summary::of_ms(&first));
            f.warm.insert(function, Summary::of_ms(&m.warm));
            f.hwm_first.insert(function, Summary::of(&hwm).median);
            f.hwm_warm
                .insert(function, m.warm_hwm_kib.map_or(f64::NAN, |k| k as f64));
        }
        f
    }

    /// Billed milliseconds per invocation: the warm median, or (every
    /// invocation cold) init plus the first invocation, as Lambda bills init.
    fn billed(&self, cold: bool) -> BTreeMap<String, f64> {
        FUNCTIONS
            .iter()
            .map(|f| {
                let ms = if cold {
                    self.init[f].median + self.first[f].median
                } else {
                    self.warm[f].median
                };
                (f.to_string(), ms)
            })
            .collect()
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("## Machine\n\n");
        out.push_str(&self.machine.markdown());
        out.push_str(&format!(
            "- Functions: x86_64 release builds (`target/release`, lto, codegen-units=1, strip, panic=abort); the Python peer is {}.\n- The run took {:.0} s after the build.\n\n",
            self.machine.python,
            self.elapsed.as_secs_f64()
        ));
        let figures = self.processes.as_ref().map(|(results, _)| {
            (
                SideFigures::of(results, Side::Hlx),
                SideFigures::of(results, Side::Peer),
            )
        });
        if let (Some((results, sizes)), Some((hlx, peer))) = (&self.processes, &figures) {
            self.section_cold(&mut out, results, hlx, peer);
            self.section_ratios(&mut out, hlx, peer);
            self.section_size(&mut out, sizes, hlx, peer);
        } else {
            out.push_str("(Sections 1–3 were skipped: --cost-only.)\n\n");
        }
        self.section_cost(&mut out, figures.as_ref());
        self.section_events(&mut out);
        self.section_targets(&mut out, figures.as_ref());
        out
    }

    fn section_cold(&self, out: &mut String, results: &Results, hlx: &SideFigures, peer: &SideFigures) {
        out.push_str(&format!(
            "## 1. Cold start and invocation time\n\n\
             Init: from spawning the process to its first `GET /runtime/invocation/next` on the local \
             Runtime API (the runner's `ProcessInvoker`), over {} cold starts per function and side \
             (the process killed between runs; one discarded warm-up round first; hlx and peer alternate). \
             First: the cold process's first invocation, from taking the event to posting the answer, \
             against the HealthLake emulator (start/check) or moto's DynamoDB (record). \
             Warm: {} more invocations of one warm process. Milliseconds.\n\n",
            self.cold_runs, self.warm_runs
        ));
        let mut t = Table::new([
            "function",
            "impl",
            "init median",
            "init p10–p90",
            "init min–max",
            "first median",
            "first p10–p90",
            "warm median",
            "warm p10–p90",
        ]);
        for function in FUNCTIONS {
            for (side, f) in [(Side::Hlx, hlx), (Side::Peer, peer)] {
                let (i, fi, w) = (&f.init[function], &f.first[function], &f.warm[function]);
                t.row([
                    function.to_string(),
                    side.label().to_string(),
                    ms(i.median),
                    range(i.p10, i.p90),
                    range(i.min, i.max),
                    ms(fi.median),
                    range(fi.p10, fi.p90),
                    ms(w.median),
                    range(w.p10, w.p90),
                ]);
            }
        }
        out.push_str(&t.to_markdown());
        out.push_str(
            "\nFloors: the same rounds, for a Runtime API client with no AWS SDK: hlx's std-only test \
             function (`hlx-fake-lambda`) and bootstrap.py with an empty handler (bench/peer/floor.py). \
             What each side's init spends above its floor is its own: for hlx the Tokio runtime, logging \
             and the SDK configuration; for the peer importing boto3 and building the client.\n\n",
        );
        let mut t = Table::new([
            "floor",
            "init median",
            "init p10–p90",
            "init min–max",
            "peak RSS after 1st (MiB)",
        ]);
        for (side, label) in [(Side::Hlx, "Rust, std only"), (Side::Peer, "Python, no boto3")] {
            let m = results.get(side, FLOOR);
            let init: Vec<Duration> = m.cold.iter().map(|s| s.init).collect();
            let hwm: Vec<f64> = m
                .cold
                .iter()
                .filter_map(|s| s.hwm_kib)
                .map(|k| k as f64)
                .collect();
            let i = Summary::of_ms(&init);
            t.row([
                label.to_string(),
                ms(i.median),
                range(i.p10, i.p90),
                range(i.min, i.max),
                mib(Summary::of(&hwm).median),
            ]);
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
        for check in &results.endpoint_checks {
            out.push_str(&format!("- Endpoints: {check}.\n"));
        }
        out.push_str(&format!(
            "- Invocations that never returned and were taken again (a race in `ProcessInvoker`, \
             see RESULTS.md): {}.\n",
            results.hung
        ));
        out.push('\n');
    }

    fn section_ratios(&self, out: &mut String, hlx: &SideFigures, peer: &SideFigures) {
        out.push_str(
            "## 2. hlx / Python peer\n\n\
             Ratios of medians (below 1 means hlx is faster or smaller); peak RSS is `VmHWM` after one \
             cold and the warm invocations. The peer is bench/peer (Python + boto3, one handler per \
             function, clients created at import) under bench/peer/bootstrap.py, measured in the same run \
             with the same payloads and endpoints.\n\n",
        );
        let mut t = Table::new([
            "function",
            "init",
            "first invocation",
            "warm invocation",
            "peak RSS",
            "peer init ÷ hlx init",
        ]);
        for function in FUNCTIONS {
            t.row([
                function.to_string(),
                ratio(hlx.init[function].median, peer.init[function].median),
                ratio(hlx.first[function].median, peer.first[function].median),
                ratio(hlx.warm[function].median, peer.warm[function].median),
                ratio(hlx.hwm_warm[function], peer.hwm_warm[function]),
                ratio(peer.init[function].median, hlx.init[function].median),
            ]);
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
    }

    fn section_size(&self, out: &mut String, sizes: &Sizes, hlx: &SideFigures, peer: &SideFigures) {
        out.push_str(
            "## 3. Size and memory\n\n\
             hlx: the release binary zipped as cargo-lambda does (one entry `bootstrap`, mode 0755, \
             deflate); these are x86_64 builds, users build arm64. Peer: the handler file zipped (the \
             Lambda Python runtime provides boto3), and with boto3 and its dependencies vendored from \
             the peer's virtual environment (no `__pycache__`). Peak RSS: `VmHWM` of the function \
             process from /proc, read after the invocation and before the process is killed; MiB.\n\n",
        );
        let mut t = Table::new([
            "function",
            "impl",
            "unzipped",
            "zipped",
            "zipped, boto3 vendored",
            "peak RSS after 1st (median)",
            "peak RSS after 1 + warm",
        ]);
        for function in FUNCTIONS {
            let h = &sizes.hlx[function];
            t.row([
                function.to_string(),
                "hlx".into(),
                bytes(h.raw),
                bytes(h.zipped),
                "–".into(),
                mib(hlx.hwm_first[function]),
                mib(hlx.hwm_warm[function]),
            ]);
            let p = &sizes.peer[function];
            let v = &sizes.peer_vendored[function];
            t.row([
                function.to_string(),
                "peer".into(),
                bytes(p.raw),
                bytes(p.zipped),
                bytes(v.zipped),
                mib(peer.hwm_first[function]),
                mib(peer.hwm_warm[function]),
            ]);
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
    }

    fn find(&self, job: u64, schedule: Schedule) -> Option<&CostRun> {
        self.cost
            .iter()
            .find(|r| r.job.as_secs() == job && r.schedule == schedule)
    }

    fn section_cost(&self, out: &mut String, figures: Option<&(SideFigures, SideFigures)>) {
        out.push_str(
            "## 4. Cost of an export\n\n\
             The deployed definition (statemachine/job.asl.json) on the local runner's virtual time, \
             hlx's handlers in process, the HealthLake emulator over HTTP; the job is SUBMITTED for 5 s, \
             then runs for the given time, with no events (`HLX_WAKE_BY=poll`; section 5 adds them). \
             \"fixed 60 s\" runs the same definition with a schedule of 60 s \
             everywhere and backoff 1.0 (the AWS job-poller sample's approach). Delay: from the job's \
             `EndTime` to the check that saw it ended, and to the execution's end.\n\n",
        );
        let mut t = Table::new([
            "job",
            "schedule",
            "status",
            "state transitions",
            "Lambda invocations",
            "Describe calls",
            "delay to the check",
            "delay to the end",
        ]);
        for run in self
            .cost
            .iter()
            .filter(|r| matches!(r.schedule, Schedule::Default | Schedule::Fixed60))
        {
            t.row([
                job_label(run.job),
                run.schedule.label().to_string(),
                run.status.clone(),
                run.transitions.to_string(),
                run.total_invocations().to_string(),
                run.describes.to_string(),
                opt_seconds(run.seen_delay),
                opt_seconds(run.end_delay),
            ]);
        }
        out.push_str(&t.to_markdown());
        out.push_str("\npoll only (hlx) ÷ fixed 60 s:\n\n");
        let mut t = Table::new([
            "job",
            "state transitions",
            "Lambda invocations",
            "Describe calls",
            "delay to the check",
        ]);
        for job in [600, 3600, 6 * 3600, 24 * 3600] {
            if let (Some(d), Some(f)) = (
                self.find(job, Schedule::Default),
                self.find(job, Schedule::Fixed60),
            ) {
                let delay = match (d.seen_delay, f.seen_delay) {
                    (Some(a), Some(b)) if b != 0 => ratio(a as f64, b as f64),
                    (Some(a), Some(b)) => format!("{} vs {}", stats::seconds(a), stats::seconds(b)),
                    _ => "–".into(),
                };
                t.row([
                    job_label(d.job),
                    ratio(d.transitions as f64, f.transitions as f64),
                    ratio(d.total_invocations() as f64, f.total_invocations() as f64),
                    ratio(d.describes as f64, f.describes as f64),
                    delay,
                ]);
            }
        }
        out.push_str(&t.to_markdown());
        out.push('\n');

        let Some((hlx, peer)) = figures else {
            out.push_str("(The monthly price needs the measured durations of sections 1–3.)\n\n");
            return;
        };
        out.push_str(&format!(
            "Monthly price of one nightly export ({} nights), US dollars: Step Functions Standard \
             ($0.025 per 1,000 transitions) + Lambda arm64 at 128 MB ($0.20 per 1M requests, \
             $0.0000133334 per GB-s), each invocation billed at the measured median duration rounded up \
             to 1 ms: warm, or \"cold\" = init + first invocation for every invocation (Lambda bills the \
             init phase; after an hour's wait an environment is usually gone). The durations are this \
             machine's x86_64 figures, priced at arm64 rates.\n\n",
            cost::NIGHTS
        ));
        let (hlx_warm, hlx_cold) = (hlx.billed(false), hlx.billed(true));
        let (peer_warm, peer_cold) = (peer.billed(false), peer.billed(true));
        let mut t = Table::new([
            "job",
            "hlx events, warm",
            "hlx poll only, warm",
            "hlx poll only, cold",
            "hlx fixed 60 s, warm",
            "peer fixed 60 s, warm",
            "peer fixed 60 s, cold",
            "of which Step Functions (hlx poll only)",
        ]);
        for job in [600, 3600, 6 * 3600, 24 * 3600] {
            if let (Some(e), Some(d), Some(f)) = (
                self.find(job, Schedule::Events),
                self.find(job, Schedule::Default),
                self.find(job, Schedule::Fixed60),
            ) {
                let month = |run: &CostRun, billed: &BTreeMap<String, f64>| {
                    format!("{:.4}", cost::NIGHTS * run.dollars(billed))
                };
                t.row([
                    job_label(d.job),
                    month(e, &hlx_warm),
                    month(d, &hlx_warm),
                    month(d, &hlx_cold),
                    month(f, &hlx_warm),
                    month(f, &peer_warm),
                    month(f, &peer_cold),
                    format!(
                        "{:.4}",
                        cost::NIGHTS * d.transitions as f64 * PRICE_PER_TRANSITION
                    ),
                ]);
            }
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
    }

    fn section_events(&self, out: &mut String) {
        out.push_str(
            "## 5. Event-driven completion against polling\n\n\
             The same export (SUBMITTED 5 s, then the given run) with three strategies: **events + \
             fallback** (the default: HealthLake's EventBridge event, routed by the deployed pattern to \
             job-events, wakes the callback wait; the fallback timeout starts at 1 h and doubles to 4 h), \
             on the data store's first night and on its second (the fallback learned the expected run \
             from the first night's record), and with every event lost (the fallback alone); **poll only** \
             (hlx's schedule, no events); **fixed 60 s** (no events). Lambda invocations include \
             job-events'. Detection: from the job's `EndTime` to the check that saw it ended; \"wait\" is \
             the wait the execution was in then (for a lost event, the most it can cost).\n\n",
        );
        let mut t = Table::new([
            "job",
            "strategy",
            "state transitions",
            "Lambda invocations",
            "Describe calls",
            "detection",
            "wait",
        ]);
        for job in [600, 3600, 6 * 3600, 24 * 3600] {
            for schedule in Schedule::ALL {
                if let Some(run) = self.find(job, schedule) {
                    t.row([
                        job_label(run.job),
                        schedule.label().to_string(),
                        run.transitions.to_string(),
                        run.total_invocations().to_string(),
                        run.describes.to_string(),
                        opt_seconds(run.seen_delay),
                        run.last_wait
                            .map(|w| stats::seconds(w as i64))
                            .unwrap_or_else(|| "–".into()),
                    ]);
                }
            }
        }
        out.push_str(&t.to_markdown());
        out.push_str(
            "
events + fallback ÷ poll only (hlx) and ÷ fixed 60 s, state transitions:

",
        );
        let mut t = Table::new(["job", "÷ poll only", "÷ fixed 60 s", "2nd night ÷ poll only"]);
        for job in [600, 3600, 6 * 3600, 24 * 3600] {
            if let (Some(e), Some(l), Some(p), Some(f)) = (
                self.find(job, Schedule::Events),
                self.find(job, Schedule::EventsLearned),
                self.find(job, Schedule::Default),
                self.find(job, Schedule::Fixed60),
            ) {
                t.row([
                    job_label(e.job),
                    ratio(e.transitions as f64, p.transitions as f64),
                    ratio(e.transitions as f64, f.transitions as f64),
                    ratio(l.transitions as f64, p.transitions as f64),
                ]);
            }
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
    }

    fn section_targets(&self, out: &mut String, figures: Option<&(SideFigures, SideFigures)>) {
        out.push_str("## Targets\n\n");
        let mut t = Table::new(["target", "measured", "verdict"]);
        if let Some((hlx, peer)) = figures {
            let (worst_fn, worst) = FUNCTIONS
                .iter()
                .map(|f| (*f, hlx.init[f].median))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("three functions");
            t.row([
                "init ≤ 20 ms (hlx, median)".to_string(),
                format!("{} ms at most ({worst_fn})", ms(worst)),
                verdict(
                    worst <= INIT_TARGET_MS,
                    format!("{} ms", ms(worst - INIT_TARGET_MS)),
                ),
            ]);
            let (slow_fn, speedup) = FUNCTIONS
                .iter()
                .map(|f| (*f, peer.init[f].median / hlx.init[f].median))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("three functions");
            t.row([
                "init ≥ 10× faster than the peer".to_string(),
                format!("{speedup:.0}× at least ({slow_fn})"),
                verdict(
                    speedup >= INIT_SPEEDUP_TARGET,
                    format!("{:.1}×", INIT_SPEEDUP_TARGET - speedup),
                ),
            ]);
            let (big_fn, rss) = FUNCTIONS
                .iter()
                .map(|f| (*f, hlx.hwm_warm[f]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("three functions");
            t.row([
                "peak RSS ≤ 32 MB (hlx)".to_string(),
                format!("{} MiB at most ({big_fn})", mib(rss)),
                verdict(
                    rss <= RSS_TARGET_KIB as f64,
                    format!("{} MiB", mib(rss - RSS_TARGET_KIB as f64)),
                ),
            ]);
        }
        if let Some(run) = self.find(6 * 3600, Schedule::Default) {
            t.row([
                "≤ 40 state transitions, 6-hour export".to_string(),
                run.transitions.to_string(),
                verdict(
                    run.transitions <= TRANSITIONS_TARGET_6H,
                    format!("{}", run.transitions.saturating_sub(TRANSITIONS_TARGET_6H)),
                ),
            ]);
        }
        let cap = hlx_core::PollSchedule::default().max_interval_seconds as i64;
        let worst = self
            .cost
            .iter()
            .filter(|r| r.schedule == Schedule::Default)
            .filter_map(|r| r.seen_delay.map(|d| (r, d)))
            .max_by_key(|(_, d)| *d);
        if let Some((run, delay)) = worst {
            t.row([
                format!("detection delay ≤ poll cap ({cap} s), hlx default"),
                format!("{} at most ({} job)", stats::seconds(delay), job_label(run.job)),
                verdict(delay <= cap, stats::seconds(delay - cap)),
            ]);
        }
        if let Some(run) = self.find(6 * 3600, Schedule::Events) {
            t.row([
                format!("≤ {EVENT_TRANSITIONS_TARGET_6H} state transitions, 6-hour export, events"),
                run.transitions.to_string(),
                verdict(
                    run.transitions <= EVENT_TRANSITIONS_TARGET_6H,
                    format!("{}", run.transitions.saturating_sub(EVENT_TRANSITIONS_TARGET_6H)),
                ),
            ]);
            let delay = run.seen_delay.unwrap_or(i64::MAX);
            t.row([
                format!("detection ≤ {EVENT_DETECTION_TARGET_S} s when the event arrives, 6-hour export"),
                opt_seconds(run.seen_delay),
                verdict(
                    delay <= EVENT_DETECTION_TARGET_S,
                    stats::seconds(delay.saturating_sub(EVENT_DETECTION_TARGET_S)),
                ),
            ]);
        }
        for run in self.cost.iter().filter(|r| r.schedule == Schedule::EventsLost) {
            let (delay, wait) = (
                run.seen_delay.unwrap_or(i64::MAX),
                run.last_wait.unwrap_or(0) as i64,
            );
            t.row([
                format!(
                    "event lost: detection ≤ the fallback interval, {} job",
                    job_label(run.job)
                ),
                format!(
                    "{} (fallback {})",
                    opt_seconds(run.seen_delay),
                    stats::seconds(wait)
                ),
                verdict(delay <= wait, stats::seconds(delay.saturating_sub(wait))),
            ]);
        }
        out.push_str(&t.to_markdown());
        out.push('\n');
    }
}

const BEGIN: &str = "<!-- BEGIN generated by bench/run.sh: edits between these markers are overwritten -->";
const END: &str = "<!-- END generated -->";

/// Writes the figures into RESULTS.md between the markers, keeping whatever
/// was written around them by hand (the explanations of the targets).
pub fn write_results(path: &Path, generated: &str) -> std::io::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n\n{}\n{END}", generated.trim_end());
    let text = match (existing.find(BEGIN), existing.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &existing[..b], &existing[e + END.len()..]),
        _ => format!(
            "# hlx benchmark results\n\nRegenerate with `bash bench/run.sh` (see bench/README.md).\n\n{block}\n"
        ),
    };
    std::fs::write(path, text)
}
