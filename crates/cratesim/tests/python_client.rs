//! Conformance with the Python Kubernetes client (pinned in `tests/clients/provision.sh`): list with a label selector, read, a 404 `ApiException`, custom objects, delete
//! with the grace period in the query, and a watch with a field selector. Where the client
//! cannot be provisioned (no python3, no PyPI access) the test is skipped with the reason, and
//! fails on CI (`common::require`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

mod common;

use cratesim::clock::Clock;
use cratesim::serve::{kubeconfig, start, write_kubeconfig};

#[test]
fn the_python_client_lists_reads_deletes_and_watches() {
    let Some(venv) = common::require(common::clients_venv()) else {
        return;
    };
    let python = venv.join("bin/python");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shape = common::shape("alpha", false, "pw");
    let running = runtime
        .block_on(start("127.0.0.1:0", Clock::new(10.0), &[shape]))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("cratesim-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("kubeconfig");
    write_kubeconfig(&config, &kubeconfig(running.addr, "cratedb")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/k8s_python.py");
    let out = Command::new(&python)
        .arg(script)
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    running.task.abort();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
