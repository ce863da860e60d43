//! What the figures were measured on.

use std::path::Path;
use std::process::Command;

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub python: String,
    pub boto3: String,
    pub date: String,
    pub commit: String,
    /// `/proc/loadavg` when the run started: other work on a shared machine.
    pub load: String,
}

fn command(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

impl Machine {
    pub fn detect(peer_python: &Path, root: &Path) -> Machine {
        let memory = proc_field("/proc/meminfo", "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".into());
        let python = peer_python.display().to_string();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
            memory,
            kernel: command("uname", &["-sr"]).unwrap_or_else(|| "unknown".into()),
            rustc: command("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            python: command(&python, &["--version"]).unwrap_or_else(|| "unknown".into()),
            boto3: command(&python, &["-c", "import boto3; print(boto3.__version__)"])
                .unwrap_or_else(|| "unknown".into()),
            date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            commit: command(
                "git",
                &["-C", &root.display().to_string(), "rev-parse", "--short", "HEAD"],
            )
            .unwrap_or_else(|| "unknown".into()),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| "unknown".into()),
        }
    }

    pub fn markdown(&self) -> String {
        format!(
            "- CPU: {} × {} (`nproc` = {})\n- Memory: {}\n- Kernel: {}\n- Rust: {}\n- Peer: {}, boto3 {}\n- Date: {}, commit {}\n- Load average at the start (1, 5, 15 min): {}\n",
            self.cpus,
            self.cpu_model,
            self.cpus,
            self.memory,
            self.kernel,
            self.rustc,
            self.python,
            self.boto3,
            self.date,
            self.commit,
            self.load
        )
    }
}
