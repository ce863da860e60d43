//! The README's main command, `hlx local`, run as a user runs it: the real
//! binary, its output and its exit code.

use std::process::Command;

use hlx_e2e::{MotoServer, binary};

fn hlx(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let output = Command::new(binary("hlx"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("hlx runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn workdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hlx-local-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hlx_local_runs_one_nightly_export_and_shows_it() {
    let dir = workdir("default");
    let (code, stdout, stderr) = hlx(&["local"], &dir);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for expected in [
        "StartJob",
        "└ job SUBMITTED",
        "AwaitJob         waiting for HealthLake's event, fallback in 1h 00m",
        "⚡ Export Job Completed",
        "└ woken by the event \"Export Job Completed\"",
        "└ job IN_PROGRESS",
        "└ recorded COMPLETED",
        "execution SUCCEEDED",
        "record: COMPLETED",
        "Patient                1 file(s), 25 resource(s)",
        "Observation            1 file(s), 200 resource(s)",
        "In AWS this run would bill",
        "HealthLake events: 3 produced, 0 dropped, 3 delivered, 2 woke an execution",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    // The files are really there, under the directory that stands for S3.
    let patients: Vec<_> = walk(&dir.join(".hlx/s3"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/Patient/"))
        .collect();
    assert_eq!(patients.len(), 1);
    let lines = std::fs::read_to_string(&patients[0]).unwrap();
    assert_eq!(lines.lines().count(), 25);
    assert!(lines.lines().all(|l| l.contains("\"resourceType\":\"Patient\"")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hlx_local_with_the_function_binaries_and_dynamodb() {
    let moto = MotoServer::start();
    let dir = workdir("process");
    let bin_dir = hlx_e2e::bin_dir();
    let (code, stdout, stderr) = hlx(
        &[
            "local",
            "--lambdas",
            "process",
            "--bin-dir",
            bin_dir.to_str().unwrap(),
            "--dynamodb-endpoint",
            &moto.endpoint,
            "--datastores",
            "2",
            "--job-duration",
            "1h",
            "--throttle-rate",
            "0.5",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary = stdout.split("== Summary").nth(1).expect("a summary");
    assert_eq!(summary.matches(": execution SUCCEEDED").count(), 2, "{stdout}");
    assert_eq!(summary.matches("record: COMPLETED").count(), 2, "{stdout}");
    assert!(
        stdout.contains("retry in"),
        "throttled calls were retried:\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hlx_local_import_loads_a_folder_before_the_nights_export() {
    let dir = workdir("import");
    let examples = hlx_e2e::workspace_root().join("examples/import");
    // One refused line beside the examples: counted, logged, not loaded.
    let landing = dir.join("landing");
    std::fs::create_dir_all(&landing).unwrap();
    for file in ["Patient.ndjson", "Observation.ndjson"] {
        std::fs::copy(examples.join(file), landing.join(file)).unwrap();
    }
    std::fs::write(landing.join("broken.ndjson"), "{\"resourceType\": \"Patient\"}\n").unwrap();
    let (code, stdout, stderr) = hlx(&["local", "--import", "landing", "--quiet"], &dir);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary = stdout.split("== Summary").nth(1).expect("a summary");
    for expected in [
        "-2025-12-31: execution SUCCEEDED",
        "record: COMPLETED_WITH_ERRORS",
        "input: s3://hlx-local-landing/import/",
        "imported 9 of 10 resource(s) from 3 file(s); 1 refused",
        // The export after it holds the imported patients too.
        "Patient                1 file(s), 28 resource(s)",
        "import job ",
    ] {
        assert!(summary.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    let exported: String = walk(&dir.join(".hlx/s3/hlx-local-exports"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/Patient/"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(exported.contains("landing-p2"), "{exported}");
    let (code, _, stderr) = hlx(&["local", "--import", "no-such-dir", "--quiet"], &dir);
    assert_ne!(code, 0);
    assert!(stderr.contains("no-such-dir"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_export_exits_1_and_bad_flags_exit_2() {
    let dir = workdir("failed");
    let (code, stdout, _) = hlx(&["local", "--outcome", "failed", "--quiet"], &dir);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("record: FAILED"), "{stdout}");
    assert!(!stdout.contains("WaitForJob"), "--quiet prints only the summary");
    let (code, _, stderr) = hlx(&["local", "--throttle-rate", "2"], &dir);
    assert_eq!(code, 2);
    assert!(stderr.contains("a rate is a number from 0.0 to 1.0"), "{stderr}");
    let (code, _, stderr) = hlx(&["local", "--lambdas", "process"], &dir);
    assert_eq!(code, 2);
    assert!(stderr.contains("--dynamodb-endpoint"), "{stderr}");
    let (code, stdout, _) = hlx(&["--help"], &dir);
    assert_eq!(code, 0);
    assert!(stdout.contains("local"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}
