//! The OpenAPI-driven fuzzer (issue 13): schemathesis, pinned in `scripts/schemathesis` (which
//! installs it from PyPI into `target/` the first time), sends generated requests, valid and
//! invalid, to every operation of `/openapi.json` with a valid owner token, against the real
//! service on SQLite and on PostgreSQL. Any 5xx, or any status the document does not declare for
//! that operation, fails the test with schemathesis's report (each failure with a curl line that
//! reproduces it). Examples per operation are bounded and the seed is fixed, so the run is short
//! and the same each time.

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use switchboard_testkit::{on_both_engines, TestApp};

/// Generated cases per operation and phase: enough to reach each parameter's edges, small enough
/// to keep CI short (see README, "Testing").
const EXAMPLES: &str = "6";

/// The `st` program: `SWITCHBOARD_SCHEMATHESIS`, or the pinned one `scripts/schemathesis` finds
/// (installing it the first time).
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SWITCHBOARD_SCHEMATHESIS") {
        return path.into();
    }
    static ST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ST.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(root.join("scripts/schemathesis")).stderr(Stdio::inherit()).output().expect("scripts/schemathesis runs");
        assert!(out.status.success(), "scripts/schemathesis could not install the fuzzer");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// Operations that end the session they are called with (signing out; an owner resetting a
/// sign-in, which may be their own): fuzzed last, in a run of their own, so that every other
/// operation is reached with a token that works.
const ENDING: [&str; 2] = ["/v1/auth/logout", "/v1/staff/{id}/reset-sign-in"];

/// One schemathesis run over `/openapi.json` with `token`: only `ENDING` when `ending`, all the
/// others otherwise. The report when it found something.
async fn fuzz(app: &TestApp, token: &str, ending: bool) -> Result<String, String> {
    let st = tokio::task::spawn_blocking(schemathesis).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(&st);
    command
        .arg("run")
        .arg(format!("{}/openapi.json", app.base))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", EXAMPLES, "--seed", "13", "--workers", "2", "--request-timeout", "10"])
        .args(["--no-color", "--suppress-health-check", "all"]);
    for path in ENDING {
        command.args([if ending { "--include-path" } else { "--exclude-path" }, path]);
    }
    let out = command.current_dir(dir.path()).stdin(Stdio::null()).output().await.expect("schemathesis runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

/// How many operations a run tested (its summary's `Tested: N`).
fn tested(report: &str) -> usize {
    report.lines().find_map(|l| l.trim().strip_prefix("Tested: ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// The summary's `Selected: N/M`: the operations this run chose, of all the document has.
fn selected(report: &str) -> (usize, usize) {
    let line = report.lines().find_map(|l| l.trim().strip_prefix("Selected: ")).unwrap_or_else(|| panic!("no summary in:\n{report}"));
    let (n, m) = line.trim().split_once('/').expect("N/M");
    (n.parse().unwrap(), m.parse().unwrap())
}

on_both_engines! {

spawn = TestApp::spawn;

/// Every operation, fuzzed with a valid owner token: no server error, no undocumented status.
async fn the_fuzzer_finds_no_server_error_and_no_undocumented_status(app: TestApp) {
    let owner = app.signup("fuzz").await;
    let report = fuzz(&app, &owner.access, false).await.unwrap_or_else(|report| panic!("the fuzzer found problems:\n{report}"));
    let (chosen, total) = selected(&report);
    assert_eq!((tested(&report), chosen), (total - ENDING.len(), total - ENDING.len()), "every operation but the session-ending ones was tested:\n{report}");
    let r = app.call(reqwest::Method::GET, "/v1/me", Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::OK, "the token worked to the end of the run: {r:?}");

    // The run spent this address's sign-in attempts; the service's clock moves on a few minutes.
    app.advance(std::time::Duration::from_secs(5 * 60));
    let token = app.login(&owner.email, &owner.password).await;
    let report = fuzz(&app, &token, true).await.unwrap_or_else(|report| panic!("the fuzzer found problems:\n{report}"));
    assert_eq!((tested(&report), selected(&report).0), (ENDING.len(), ENDING.len()), "{report}");
    let r = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "the service still answers after the runs");
}

}
