//! Scale benchmark (a bench binary printing figures; `cargo bench -p cratectl-flow --bench
//! scale`): 6 → 3 data nodes holding 60 shards (15 tables × 4 shards, one replica each: 120
//! copies), direct mode, against cratesim in the same process at x20.
//!
//! The limit is the simulator's own time, read from its evidence: the drain (from the exclusion
//! written to the cluster settled again — GREEN, nothing initializing or relocating), then per
//! removed node its departure (from the StatefulSet's replicas patch to the node gone from
//! `sys.nodes`), plus the stable gates' deliberate windows (`(polls − 1) × interval`: one
//! before the scale, one before each removal, one at the end). Overhead = wall time − limit, also per
//! removed node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cratectl_core::op::report::RequestState;
use cratectl_core::scale::plan::{Mode, Request};
use cratectl_core::scale::report::{NodeResult, ScaleClusterReport};
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::engine::duroxide::Duroxide;
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate, TargetSpec};
use cratectl_flow::operations::{Operations, start_worker};
use cratectl_flow::ops::scale::model::{SCALE_REQUEST, ScaleOptions, ScaleRequest};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use jiff::Timestamp;
use serde_json::Value;

const SCALE: f64 = 20.0;
const GATE: Gate = Gate {
    polls: 3,
    interval: Duration::from_millis(100),
};
const FROM: u32 = 6;
const TO: u64 = 3;

fn ts(v: &Value) -> Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

/// Simulated span `from` → `to` in real time.
fn real(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from))
        .unwrap_or_default()
        .div_f64(SCALE)
}

/// The drain's simulated time: the first exclusion written → the cluster settled after it.
fn drain_limit(cluster: &Value) -> Duration {
    let excluded = cluster["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["stmt"].as_str().unwrap_or("").contains("exclude._name"))
        .map(|w| ts(&w["at"]))
        .expect("the scale excluded the leaving nodes");
    let settled = cluster["settled"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["settled"].as_bool() == Some(true))
        .map(|s| ts(&s["at"]))
        .find(|at| *at > excluded)
        .expect("the cluster settles after the drain");
    real(excluded, settled)
}

/// Per removed node, the simulated time from the last StatefulSet patch before it left to the
/// member list without it.
fn departure_limits(cluster: &Value, nodes: &[String]) -> Vec<Duration> {
    let members: Vec<(Timestamp, Vec<String>)> = cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let names = m["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            (ts(&m["at"]), names)
        })
        .collect();
    let patches: Vec<Timestamp> = cluster["kube_writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["verb"].as_str().unwrap_or("").eq_ignore_ascii_case("patch"))
        .filter(|w| {
            w["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("statefulsets/crate-data-hot-bench")
        })
        .map(|w| ts(&w["at"]))
        .collect();
    nodes
        .iter()
        .map(|node| {
            let left = members
                .iter()
                .skip_while(|(_, m)| !m.contains(node))
                .find(|(_, m)| !m.contains(node))
                .map(|(at, _)| *at)
                .unwrap_or_else(|| panic!("{node} left: {}", cluster["members"]));
            let patched = patches
                .iter()
                .rev()
                .find(|at| **at <= left)
                .copied()
                .expect("a StatefulSet patch before the node left");
            real(patched, left)
        })
        .collect()
}

async fn bench() {
    let mut shape = ClusterShape::new("bench", "cratedb");
    shape.data_groups = vec![("hot".into(), FROM)];
    shape.tables = ClusterShape::numbered_tables(15);
    shape.operator = false;
    let sim = Sim::new(Clock::new(SCALE), &[shape]).unwrap();
    let running = serve("127.0.0.1:0", sim).await.unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-bench-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
    let engine = Duroxide::new(&dir.join("state"));
    let worker = start_worker(
        &engine,
        Arc::new(ActivityEnv::new(None)),
        WorkerLimits::default(),
        None,
    )
    .await
    .unwrap();
    let ops = Operations::open(&engine).await.unwrap();
    let request = ScaleRequest {
        request_id: "bench-scale".into(),
        target: TargetSpec {
            kubeconfig: Some(path),
            context: None,
            auth: None,
        },
        clusters: vec![ClusterRef {
            namespace: "cratedb".into(),
            resource: "bench".into(),
            name: "bench".into(),
        }],
        options: ScaleOptions {
            request: Request {
                targets: vec![("hot".into(), TO)],
                mode: Mode::Direct,
                force_direct: false,
                gateway_patch: true,
            },
            gate: GATE,
            ..ScaleOptions::default()
        },
    };
    let started = Instant::now();
    ops.start(SCALE_REQUEST, &request.request_id, &request)
        .await
        .unwrap();
    let report = loop {
        let any = ops.report(&request.request_id).await.unwrap().unwrap();
        if any.state != RequestState::Running {
            break any.typed::<ScaleClusterReport>().expect("a scale report");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed();
    worker.shutdown(Duration::from_secs(1)).await;
    let sim = running.server.report();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    let cluster = &sim["clusters"][0];
    let removed = report.clusters[0]
        .nodes
        .iter()
        .filter(|n| n.result == NodeResult::Removed)
        .count();
    assert_eq!(removed as u64, u64::from(FROM) - TO, "{}", report.text());
    assert!(
        cluster["max_unavailable_nodes"].as_u64().unwrap() <= 1,
        "{cluster}"
    );

    let drain = drain_limit(cluster);
    let names: Vec<String> = report.clusters[0].nodes.iter().map(|n| n.name.clone()).collect();
    let departures = departure_limits(cluster, &names);
    let departed: Duration = departures.iter().sum();
    let windows = GATE.interval * (GATE.polls - 1) * (removed as u32 + 2);
    let limit = drain + departed + windows;
    let over = wall.saturating_sub(limit);
    println!(
        "scale: {FROM} -> {TO} data nodes, 60 shards (120 copies), simulator at x{SCALE}, gate {} polls {:?} apart",
        GATE.polls, GATE.interval
    );
    println!(
        "  wall {:.2} s = limit {:.2} s (drain {:.2} s + {removed} departures {:.2} s + gate windows {:.2} s) + overhead {:.2} s",
        wall.as_secs_f64(),
        limit.as_secs_f64(),
        drain.as_secs_f64(),
        departed.as_secs_f64(),
        windows.as_secs_f64(),
        over.as_secs_f64()
    );
    println!(
        "  overhead {:.1} % of the limit; {:.0} ms per removed node",
        100.0 * over.as_secs_f64() / limit.as_secs_f64(),
        over.as_secs_f64() * 1000.0 / removed as f64
    );
    for (node, departure) in report.clusters[0].nodes.iter().zip(&departures) {
        println!(
            "  {} {} in {:.2} s (gate, patch, gone; the simulator's departure {:.2} s), {} copies at start",
            node.name,
            node.result.as_str(),
            node.duration_s.unwrap_or_default(),
            departure.as_secs_f64(),
            node.shards_at_start.unwrap_or_default()
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}
