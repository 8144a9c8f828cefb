//! `cargo bench -p cratectl --bench cluster_list`: how long `cratectl cluster list` takes on 50
//! simulated clusters over loopback (the target: under a second), as a user runs it —
//! the release binary, a kubeconfig, one discovery, and one port-forwarded health reading per
//! cluster. Prints figures; asserts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{kubeconfig, start, write_kubeconfig};

fn main() {
    let clusters = 50;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shapes: Vec<ClusterShape> = (0..clusters)
        .map(|i| {
            let mut shape = ClusterShape::new(&format!("c{i:02}"), "cratedb");
            shape.dc_util_hook = i % 2 == 0;
            shape
        })
        .collect();
    let running = runtime
        .block_on(start("127.0.0.1:0", Clock::new(1.0), &shapes))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("kubeconfig");
    write_kubeconfig(&config, &kubeconfig(running.addr, "cratedb")).unwrap();

    let run = || {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_cratectl"))
            .arg("--kubeconfig")
            .arg(&config)
            .args(["cluster", "list", "-o", "json"])
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), clusters);
        assert!(
            rows.as_array().unwrap().iter().all(|r| r["health"] == "GREEN"),
            "{rows}"
        );
        took
    };
    run(); // warm up (page cache, first connections)
    let mut samples: Vec<Duration> = (0..10).map(|_| run()).collect();
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "cratectl cluster list, {clusters} clusters x 3 pods over loopback: n={} mean {:.0} ms, min {:.0} ms, max {:.0} ms",
        samples.len(),
        mean.as_secs_f64() * 1000.0,
        samples[0].as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}
