//! Conformance with CrateDB's own clients (pinned in `tests/clients/provision.sh`): the `crash`
//! shell and the `crate` DB-API client, over a real socket, the two ways a base URL reaches a
//! node: the Kubernetes pod proxy and the direct per-node URL (a client in the cluster dialling
//! the pod IP).
//!
//! The API server drops the `Authorization` header of proxied requests, so through the pod proxy
//! CrateDB runs them as `crate` from a remote address: with the operator's host-based auth that
//! is a 401, without it (CrateDB's default) the clients work. Both are checked.
//!
//! Where the clients cannot be provisioned (no python3, no PyPI access) the test is skipped with
//! the reason, and fails on CI (`common::require`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use cratesim::clock::Clock;
use cratesim::serve::start;

mod common;

const PASSWORD: &str = "pw-gamma-123";

/// `crash --hosts host` as `system` running `stmt`: (exit code, stdout, stderr).
fn crash(venv: &Path, host: &str, stmt: &str) -> (Option<i32>, String, String) {
    let out = Command::new(venv.join("bin/crash"))
        .args([
            "--hosts",
            host,
            "--username",
            "system",
            "--format",
            "json",
            "-c",
            stmt,
        ])
        .env("CRATEPW", PASSWORD)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tests/clients/crate_dbapi.py url PASSWORD extra…` passes.
fn dbapi_checks_pass(venv: &Path, url: &str, extra: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/crate_dbapi.py");
    let out = Command::new(venv.join("bin/python"))
        .args([script, url, PASSWORD])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "{url}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `SELECT name FROM sys.nodes` names the three nodes, and `sys.health` reads GREEN.
fn crash_reads_nodes_and_health(venv: &Path, host: &str) {
    let (code, stdout, stderr) = crash(venv, host, "SELECT name FROM sys.nodes ORDER BY name");
    assert_eq!(code, Some(0), "{host}: {stdout}{stderr}");
    let names: Vec<&str> = ["data-hot-0", "data-hot-1", "data-hot-2"]
        .into_iter()
        .filter(|n| stdout.contains(n))
        .collect();
    assert_eq!(names.len(), 3, "{stdout}");
    let (code, stdout, _) = crash(
        venv,
        host,
        "SELECT health, count(*) AS n FROM sys.health GROUP BY health",
    );
    assert_eq!(code, Some(0));
    assert!(stdout.contains("\"GREEN\""), "{stdout}");
}

#[test]
fn crash_and_the_python_dbapi_client_talk_to_the_simulated_nodes() {
    let Some(venv) = common::require(common::clients_venv()) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // gamma as the operator configures it; delta with CrateDB's default (no host-based auth).
    let gamma = common::shape("gamma", false, PASSWORD);
    let mut delta = common::shape("delta", false, PASSWORD);
    delta.host_based_auth = false;
    let running = runtime
        .block_on(start("127.0.0.1:0", Clock::new(10.0), &[gamma, delta]))
        .unwrap();
    let base = format!("http://{}", running.addr);
    let proxy = |pod: &str| format!("{base}/api/v1/namespaces/cratedb/pods/{pod}:4200/proxy");
    let direct = format!("{base}/_crate/cratedb/crate-data-hot-gamma-0");
    let trusting_proxy = proxy("crate-data-hot-delta-2");

    // By pod IP the password arrives; through the pod proxy of a cluster that trusts the
    // caller, the clients work without it.
    crash_reads_nodes_and_health(&venv, &direct);
    crash_reads_nodes_and_health(&venv, &trusting_proxy);
    // An error is reported with CrateDB's message and a non-zero exit.
    let (code, stdout, stderr) = crash(&venv, &direct, "SELECT * FROM doc.nope");
    assert_ne!(code, Some(0));
    assert!(
        format!("{stdout}{stderr}").contains("RelationUnknown"),
        "{stdout}{stderr}"
    );
    // The trap: with the operator's host-based auth the pod proxy gets CrateDB's 401 (for the
    // user `crate`, although crash sent `system` and its password; crash shows the status).
    let (code, stdout, stderr) = crash(
        &venv,
        &proxy("crate-data-hot-gamma-2"),
        "SELECT name FROM sys.nodes",
    );
    assert_ne!(code, Some(0), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("401 Client Error: Unauthorized"),
        "{stdout}{stderr}"
    );

    dbapi_checks_pass(&venv, &direct, &[]);
    dbapi_checks_pass(&venv, &trusting_proxy, &["--credentials-dropped"]);
    running.task.abort();
}
