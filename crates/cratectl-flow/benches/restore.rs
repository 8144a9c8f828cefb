//! Restore benchmark (a bench binary printing figures; `cargo bench -p cratectl-flow --bench
//! restore`): a snapshot of 20 tables × 6 shards (one replica each once restored) taken in one
//! simulated cluster and restored (`TABLES`, through a repository on the same location) into
//! another of three data nodes, against cratesim in the same process at x20.
//!
//! The limit is the simulator's own time, read from its evidence: the recovery (from the
//! `RESTORE SNAPSHOT` statement to the target settled again — GREEN, nothing initializing or
//! relocating, so the restored replicas are built too), plus the stable gates' deliberate
//! windows (`(polls − 1) × interval`, one before the restore and one after). Overhead = wall
//! time − limit: the checks, the repository, the tuning and its restore, the polling.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cratectl_core::op::report::RequestState;
use cratectl_core::restore::input::Scope;
use cratectl_core::restore::report::RestoreClusterReport;
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::engine::duroxide::Duroxide;
use cratectl_flow::env::{ActivityEnv, pod_client, reading_pod};
use cratectl_flow::model::{ClusterRef, Gate, TargetSpec};
use cratectl_flow::operations::{Operations, start_worker};
use cratectl_flow::ops::restore::model::{RESTORE_REQUEST, RepositoryChoice, RestoreOptions, RestoreRequest};
use cratesim::clock::Clock;
use cratesim::cratedb::TableSpec;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use jiff::Timestamp;
use serde_json::Value;

const SCALE: f64 = 20.0;
const GATE: Gate = Gate {
    polls: 3,
    interval: Duration::from_millis(100),
};
const TABLES: u32 = 20;
const SHARDS: u32 = 6;

fn ts(v: &Value) -> Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

/// Simulated span `from` → `to` in real time.
fn real(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from))
        .unwrap_or_default()
        .div_f64(SCALE)
}

/// The recovery's simulated time: the RESTORE statement → the cluster settled after it.
fn recovery_limit(cluster: &Value) -> Duration {
    let issued = cluster["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["stmt"].as_str().unwrap_or("").starts_with("RESTORE SNAPSHOT"))
        .map(|w| ts(&w["at"]))
        .expect("the restore was issued");
    let settled = cluster["settled"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["settled"].as_bool() == Some(true))
        .map(|s| ts(&s["at"]))
        .find(|at| *at > issued)
        .expect("the cluster settles after the restore");
    real(issued, settled)
}

fn shape(name: &str, tables: Vec<TableSpec>) -> ClusterShape {
    let mut shape = ClusterShape::new(name, "cratedb");
    shape.tables = tables;
    shape.operator = false;
    shape
}

async fn sql(env: &ActivityEnv, target: &TargetSpec, cluster: &str, stmt: &str) {
    let at = ClusterRef {
        namespace: "cratedb".into(),
        resource: cluster.into(),
        name: cluster.into(),
    };
    let (kube, found) = env.cluster(target, &at).await.unwrap();
    let pod = reading_pod(&found, None).unwrap();
    pod_client(&kube, &found, pod, cratectl_cratedb::Credentials::None)
        .sql(stmt, &[])
        .await
        .unwrap();
}

async fn bench() {
    let tables: Vec<TableSpec> = (0..TABLES)
        .map(|i| TableSpec {
            schema: "doc".into(),
            name: format!("t{i:02}"),
            shards: SHARDS,
            replicas: "1".into(),
            partitions: Vec::new(),
            partitioned_by: Vec::new(),
            rows: Some(10_000),
        })
        .collect();
    let sim = Sim::new(
        Clock::new(SCALE),
        &[shape("src", tables), shape("bench", Vec::new())],
    )
    .unwrap();
    let running = serve("127.0.0.1:0", sim).await.unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-bench-restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
    let target = TargetSpec {
        kubeconfig: Some(path),
        context: None,
        auth: None,
    };
    let env = ActivityEnv::new(None);
    for cluster in ["src", "bench"] {
        sql(
            &env,
            &target,
            cluster,
            "CREATE REPOSITORY backups TYPE fs WITH (location = '/backups/bench')",
        )
        .await;
    }
    sql(
        &env,
        &target,
        "src",
        "CREATE SNAPSHOT backups.s1 ALL WITH (wait_for_completion = true)",
    )
    .await;

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
    let request = RestoreRequest {
        request_id: "bench-restore".into(),
        target,
        clusters: vec![ClusterRef {
            namespace: "cratedb".into(),
            resource: "bench".into(),
            name: "bench".into(),
        }],
        options: RestoreOptions {
            snapshot: "s1".into(),
            scope: Scope::TablesAll,
            repository: RepositoryChoice::Existing {
                name: "backups".into(),
            },
            gate: GATE,
            ..RestoreOptions::default()
        },
    };
    let started = Instant::now();
    ops.start(RESTORE_REQUEST, &request.request_id, &request)
        .await
        .unwrap();
    let report = loop {
        let any = ops.report(&request.request_id).await.unwrap().unwrap();
        if any.state != RequestState::Running {
            break any.typed::<RestoreClusterReport>().expect("a restore report");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed();
    worker.shutdown(Duration::from_secs(1)).await;
    let sim = running.server.report();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    let cluster = sim["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "bench")
        .unwrap();
    assert_eq!(report.clusters[0].tables.len(), TABLES as usize);

    let recovery = recovery_limit(cluster);
    let windows = GATE.interval * (GATE.polls - 1) * 2;
    let limit = recovery + windows;
    let over = wall.saturating_sub(limit);
    println!(
        "restore: {TABLES} tables x {SHARDS} shards ({} primaries, as many replicas) into 3 data nodes, simulator \
         at x{SCALE}, gate {} polls {:?} apart",
        TABLES * SHARDS,
        GATE.polls,
        GATE.interval
    );
    println!(
        "  wall {:.2} s = limit {:.2} s (the simulator's recovery {:.2} s + gate windows {:.2} s) + overhead {:.2} s",
        wall.as_secs_f64(),
        limit.as_secs_f64(),
        recovery.as_secs_f64(),
        windows.as_secs_f64(),
        over.as_secs_f64()
    );
    println!(
        "  overhead {:.1} % of the limit",
        100.0 * over.as_secs_f64() / limit.as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}
