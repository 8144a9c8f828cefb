//! Conformance with CrateDB's own clients (pinned in `tests/clients/provision.sh`): the `crash`
//! shell and the `crate` DB-API client, through the Kubernetes pod proxy and through the direct
//! per-node URL, over a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use cratesim::clock::Clock;
use cratesim::serve::start;

mod common;

const PASSWORD: &str = "pw-gamma-123";

#[test]
fn crash_and_the_python_dbapi_client_talk_to_the_simulated_nodes() {
    let venv = common::clients_venv();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shape = common::shape("gamma", false, PASSWORD);
    let running = runtime
        .block_on(start("127.0.0.1:0", Clock::new(10.0), &[shape]))
        .unwrap();
    let base = format!("http://{}", running.addr);
    let direct = format!("{base}/_crate/cratedb/crate-data-hot-gamma-0");
    let proxied = format!("{base}/api/v1/namespaces/cratedb/pods/crate-data-hot-gamma-2:4200/proxy");

    let crash = |host: &str, stmt: &str| {
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
    };
    for host in [&direct, &proxied] {
        let (code, stdout, stderr) = crash(host, "SELECT name FROM sys.nodes ORDER BY name");
        assert_eq!(code, Some(0), "{host}: {stdout}{stderr}");
        let names: Vec<&str> = ["data-hot-0", "data-hot-1", "data-hot-2"]
            .into_iter()
            .filter(|n| stdout.contains(n))
            .collect();
        assert_eq!(names.len(), 3, "{stdout}");
        let (code, stdout, _) = crash(
            host,
            "SELECT health, count(*) AS n FROM sys.health GROUP BY health",
        );
        assert_eq!(code, Some(0));
        assert!(stdout.contains("\"GREEN\""), "{stdout}");
    }
    // An error is reported with CrateDB's message and a non-zero exit.
    let (code, stdout, stderr) = crash(&direct, "SELECT * FROM doc.nope");
    assert_ne!(code, Some(0));
    assert!(
        format!("{stdout}{stderr}").contains("RelationUnknown"),
        "{stdout}{stderr}"
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/crate_dbapi.py");
    for url in [&direct, &proxied] {
        let out = Command::new(venv.join("bin/python"))
            .args([script, url, PASSWORD])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all checks passed"),
            "{url}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    running.task.abort();
}
