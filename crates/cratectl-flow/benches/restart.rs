//! Restart benchmarks (a bench binary printing figures; `cargo bench -p cratectl-flow --bench
//! restart`, or `-- overhead` / `-- fleet` for one of them). With `--features temporal` every
//! figure is measured on both engines in the same run, side by side (the Temporal runs start
//! a dev server of their own with the `temporal` CLI: `scripts/install-temporal-cli.sh`);
//! `BENCH_ENGINES=temporal` (or `duroxide`) measures one.
//!
//! (a) overhead: a 5-pod restart against cratesim with its fixed simulated delays, the worker
//!     in the bench's process. The physical limit of a pod is the simulated time from its first
//!     disruptive write (the allocation hold) until the cluster is GREEN again, read from the
//!     simulator's evidence, plus the deliberate stable-reading windows (two gates per pod,
//!     `(polls - 1) × interval` each), reported separately. Overhead = wall time − the sum of
//!     the limits.
//! (b) fleet: 100 clusters × 3 pods with `parallel` 20, run by one and then by two workers:
//!     total time against the limit (the slowest lane's sum of per-pod limits) and the peak
//!     memory. Each worker is a process of its own (this binary started again with
//!     `--as-worker`), its peak memory (VmHWM) read before it is stopped; the bench's own holds
//!     the simulator and the polling client. `BENCH_STALL_DUMP=1` prints what the unfinished
//!     clusters wait for, and what the simulator saw of them, when none finished for a minute.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cratectl_core::restart::report::{RequestState, RestartReport};
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::engine::any::AnyEngine;
use cratectl_flow::engine::duroxide::{Duroxide, WorkerOptions};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate, TargetSpec};
use cratectl_flow::operations::{Operations as Restarts, start_worker};
use cratectl_flow::ops::restart::model::{RESTART_REQUEST, RestartOptions, RestartRequest};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use jiff::Timestamp;
use serde_json::Value;

/// Simulated seconds per real second: the overhead run is fast; the fleet runs slower so that
/// 300 simulated pods on two cores still see the simulator's delays, not our CPU starvation.
const SCALE: f64 = 20.0;
const FLEET_SCALE: f64 = 5.0;
const GATE: Gate = Gate {
    polls: 3,
    interval: Duration::from_millis(100),
};

struct Run {
    wall: Duration,
    report: RestartReport,
    sim: Value,
    /// Peak memory of each worker process (MiB), for runs with worker processes.
    worker_mib: Vec<f64>,
}

/// The engines measured in this build (`BENCH_ENGINES` narrows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Duroxide,
    #[cfg(feature = "temporal")]
    Temporal,
}

impl Kind {
    fn all() -> Vec<Kind> {
        #[cfg(feature = "temporal")]
        let all = vec![Kind::Duroxide, Kind::Temporal];
        #[cfg(not(feature = "temporal"))]
        let all = vec![Kind::Duroxide];
        let only = std::env::var("BENCH_ENGINES").unwrap_or_default();
        all.into_iter()
            .filter(|k| only.is_empty() || only.split(',').any(|o| o == k.name()))
            .collect()
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Duroxide => "duroxide",
            #[cfg(feature = "temporal")]
            Kind::Temporal => "temporal",
        }
    }
}

/// An engine for one run: its records (a state directory, or a task queue of its own on the
/// Temporal dev server) and how a worker process finds them again.
struct Backend {
    engine: AnyEngine,
    worker_args: Vec<String>,
}

/// The Temporal runs' dev server, stopped at the end of `main`.
#[cfg(feature = "temporal")]
static DEV_SERVER: std::sync::Mutex<Option<cratectl_flow::engine::temporal_dev::DevServer>> =
    std::sync::Mutex::new(None);

#[cfg(feature = "temporal")]
fn dev_server_address() -> Option<String> {
    DEV_SERVER.lock().unwrap().as_ref().map(|s| s.address.clone())
}

async fn backend(kind: Kind, name: &str, dir: &Path, options: &WorkerOptions) -> Backend {
    match kind {
        Kind::Duroxide => {
            let state = dir.join(format!("state-{name}"));
            Backend {
                engine: Duroxide::new(&state).with_tuning(options.clone()).into(),
                worker_args: vec!["duroxide".into(), state.display().to_string()],
            }
        }
        #[cfg(feature = "temporal")]
        Kind::Temporal => {
            use cratectl_flow::engine::temporal::{Temporal, TemporalOptions};
            use cratectl_flow::engine::temporal_dev::{DevServer, find_cli};
            if dev_server_address().is_none() {
                let installed = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../target/temporal-venv/bin/temporal");
                let cli =
                    find_cli(&[installed]).expect("the `temporal` CLI (scripts/install-temporal-cli.sh)");
                let server = DevServer::start(&cli, &Default::default()).await.unwrap();
                *DEV_SERVER.lock().unwrap() = Some(server);
            }
            let address = dev_server_address().unwrap();
            let queue = format!("bench-{name}");
            let engine = Temporal::new(TemporalOptions {
                address: address.clone(),
                task_queue: queue.clone(),
                ..TemporalOptions::default()
            })
            .unwrap();
            Backend {
                engine: engine.into(),
                worker_args: vec!["temporal".into(), address, queue],
            }
        }
    }
}

/// This binary as a worker of `args` ([`Backend::worker_args`]) until it is killed.
fn as_worker(args: &[String]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine: AnyEngine = match args.first().map(String::as_str) {
            Some("duroxide") => Duroxide::new(Path::new(&args[1])).into(),
            #[cfg(feature = "temporal")]
            Some("temporal") => cratectl_flow::engine::temporal::Temporal::new(
                cratectl_flow::engine::temporal::TemporalOptions {
                    address: args[1].clone(),
                    task_queue: args[2].clone(),
                    ..Default::default()
                },
            )
            .unwrap()
            .into(),
            other => panic!("--as-worker {other:?}"),
        };
        let _worker = start_worker(
            &engine,
            Arc::new(ActivityEnv::new(None)),
            WorkerLimits::default(),
            None,
        )
        .await
        .unwrap();
        std::future::pending::<()>().await;
    });
}

/// A worker process; its peak memory is read before it is killed.
struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    fn start(args: &[String]) -> WorkerProcess {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--as-worker")
            .args(args)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        WorkerProcess(child)
    }

    fn stop(mut self) -> Option<f64> {
        let mib = peak_memory_mib_of(&format!("/proc/{}/status", self.0.id()));
        let _ = self.0.kill();
        let _ = self.0.wait();
        mib
    }
}

/// Where the workers run: `n` in the bench's process, or `n` processes of their own.
#[derive(Clone, Copy)]
enum Workers {
    InProcess(usize),
    Processes(usize),
}

#[allow(clippy::too_many_arguments)]
async fn run(
    kind: Kind,
    name: &str,
    shapes: &[ClusterShape],
    parallel: usize,
    options: WorkerOptions,
    workers: Workers,
    poll: Duration,
    scale: f64,
) -> Run {
    let sim = Sim::new(Clock::new(scale), shapes).unwrap();
    let running = serve("127.0.0.1:0", sim).await.unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
    let limits = WorkerLimits {
        max_concurrent_workflows: options.max_concurrent_workflows,
        max_concurrent_activities: options.max_concurrent_activities,
    };
    let backend = backend(kind, name, &dir, &options).await;
    let engine = backend.engine.clone();
    let mut in_process = Vec::new();
    let mut processes = Vec::new();
    match workers {
        Workers::InProcess(n) => {
            for _ in 0..n {
                in_process.push(
                    start_worker(&engine, Arc::new(ActivityEnv::new(None)), limits, None)
                        .await
                        .unwrap(),
                );
            }
        }
        Workers::Processes(n) => {
            for _ in 0..n {
                processes.push(WorkerProcess::start(&backend.worker_args));
            }
        }
    }
    let restarts = Restarts::open(&engine).await.unwrap();
    let request = RestartRequest {
        request_id: format!("bench-{name}"),
        target: TargetSpec {
            kubeconfig: Some(path),
            context: None,
            auth: None,
        },
        clusters: shapes
            .iter()
            .map(|s| ClusterRef {
                namespace: s.namespace.clone(),
                resource: s.name.clone(),
                name: s.name.clone(),
            })
            .collect(),
        options: RestartOptions {
            gate: GATE,
            parallel,
            ..RestartOptions::default()
        },
    };
    let started = Instant::now();
    restarts
        .start(RESTART_REQUEST, &request.request_id, &request)
        .await
        .unwrap();
    let mut shown = Instant::now();
    let (mut done_before, mut progress_at, mut dumped) = (0, Instant::now(), false);
    let report = loop {
        let report = restarts.report(&request.request_id).await.unwrap().unwrap();
        if report.state != RequestState::Running {
            break report
                .typed::<cratectl_core::restart::report::ClusterReport>()
                .expect("a restart report");
        }
        if shown.elapsed() > Duration::from_secs(10) {
            let done = report
                .clusters
                .iter()
                .filter(|c| c.common.state.is_terminal())
                .count();
            eprintln!(
                "  … {:.0} s: {done} of {} clusters done",
                started.elapsed().as_secs_f64(),
                report.clusters.len()
            );
            shown = Instant::now();
            if done != done_before {
                (done_before, progress_at) = (done, Instant::now());
            } else if !dumped
                && progress_at.elapsed() > Duration::from_secs(60)
                && std::env::var_os("BENCH_STALL_DUMP").is_some()
            {
                // No cluster finished for a minute: what the stuck ones wait for, and what
                // the simulator saw of them.
                dumped = true;
                let sim = running.server.report();
                for cluster in report.clusters.iter().filter(|c| !c.common.state.is_terminal()) {
                    eprintln!("stuck: {}", serde_json::to_string(cluster).unwrap());
                    let name = &cluster.common.name;
                    if let Some(c) = sim["clusters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|c| c["name"] == name.as_str())
                    {
                        eprintln!("  sql: {}", c["sql_writes"]);
                        eprintln!("  members: {}", c["members"]);
                        eprintln!("  kube: {}", c["kube_writes"]);
                    }
                }
            }
        }
        tokio::time::sleep(poll).await;
    };
    let wall = started.elapsed();
    for worker in in_process {
        worker.shutdown(Duration::from_secs(1)).await;
    }
    let worker_mib = processes.into_iter().filter_map(WorkerProcess::stop).collect();
    let sim = running.server.report();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    Run {
        wall,
        report,
        sim,
        worker_mib,
    }
}

fn ts(v: &Value) -> Timestamp {
    v.as_str().unwrap().parse().unwrap()
}

/// Per pod of one cluster, the simulated delays only, from the simulator's evidence: the node
/// leaving after DECOMMISSION (statement → YELLOW), the pod coming back after the eviction
/// (eviction → the RESET of the allocation hold; this includes our watching for the new pod to
/// be Ready, our rejoin detection — at most half a poll interval — and three engine steps), and
/// recovery (RESET → settled: GREEN with no shard initializing or
/// relocating, which the gate rightly waits for). Everything else is ours.
fn pod_limits(cluster: &Value, scale: f64) -> Vec<Duration> {
    let sql = |needle: &str| -> Vec<Timestamp> {
        cluster["sql_writes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["stmt"].as_str().unwrap_or("").contains(needle))
            .map(|w| ts(&w["at"]))
            .collect()
    };
    let decommissions = sql("DECOMMISSION");
    let resets = sql("RESET GLOBAL \"cluster.routing.allocation.enable\"");
    let evictions: Vec<Timestamp> = cluster["kube_writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["path"].as_str().unwrap_or("").ends_with("/eviction"))
        .map(|w| ts(&w["at"]))
        .collect();
    let health: Vec<(Timestamp, String)> = cluster["health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (ts(&h["at"]), h["health"].as_str().unwrap_or("").to_string()))
        .collect();
    let after = |t: Timestamp, green: bool| -> Timestamp {
        health
            .iter()
            .find(|(at, h)| *at > t && (h == "GREEN") == green)
            .map(|(at, _)| *at)
            .expect("every pod's restart shows in the health timeline (give every node shards)")
    };
    // GREEN with nothing initializing or relocating: the rebalance after a node returns is the
    // cluster's own time too.
    let settled: Vec<Timestamp> = cluster["settled"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["settled"].as_bool() == Some(true))
        .map(|s| ts(&s["at"]))
        .collect();
    let settled_after = |t: Timestamp| -> Timestamp {
        *settled
            .iter()
            .find(|at| **at > t)
            .expect("the cluster settles after every pod")
    };
    let real = |from: Timestamp, to: Timestamp| {
        Duration::try_from(to.duration_since(from))
            .unwrap_or_default()
            .div_f64(scale)
    };
    decommissions
        .iter()
        .zip(&evictions)
        .zip(&resets)
        .map(|((decommission, eviction), reset)| {
            real(*decommission, after(*decommission, false))
                + real(*eviction, *reset)
                + real(*reset, settled_after(*reset))
        })
        .collect()
}

/// The gates' deliberate windows: one before the first pod and one after each pod (it also
/// clears the next pod).
fn stable_windows(pods: usize) -> Duration {
    GATE.interval * (GATE.polls - 1) * (pods as u32 + 1)
}

fn peak_memory_mib() -> Option<f64> {
    peak_memory_mib_of("/proc/self/status")
}

fn peak_memory_mib_of(status: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The 5-pod restart on `kind`; returns the overhead per pod.
async fn overhead(kind: Kind) -> Duration {
    let mut shape = ClusterShape::new("bench", "cratedb");
    shape.data_groups = vec![("hot".into(), 5)];
    // Enough shards that every node holds copies, so each pod's restart shows in the health.
    shape.tables = ClusterShape::numbered_tables(3);
    let run = run(
        kind,
        "overhead",
        &[shape],
        1,
        WorkerOptions::default(),
        Workers::InProcess(1),
        Duration::from_millis(20),
        SCALE,
    )
    .await;
    let cluster = &run.sim["clusters"][0];
    let limits = pod_limits(cluster, SCALE);
    if std::env::var_os("BENCH_DEBUG").is_some() {
        for h in cluster["health"].as_array().unwrap() {
            eprintln!("health {} {}", h["at"], h["health"]);
        }
        for w in cluster["sql_writes"].as_array().unwrap() {
            eprintln!("sql {} {}", w["at"], w["stmt"]);
        }
        for w in cluster["kube_writes"].as_array().unwrap() {
            eprintln!("kube {} {} {}", w["at"], w["verb"], w["path"]);
        }
    }
    let pods = run.report.clusters[0].pods.len();
    assert_eq!(limits.len(), pods, "one decommission, eviction and reset per pod");
    let sim_limit: Duration = limits.iter().sum();
    let windows = stable_windows(pods);
    let limit = sim_limit + windows;
    let over = run.wall.saturating_sub(limit);
    let goal = Duration::from_millis(150 * pods as u64).max(limit.mul_f64(0.02));
    println!(
        "overhead on {}: 5-pod restart, simulator at x{SCALE}, gate {} polls {:?} apart",
        kind.name(),
        GATE.polls,
        GATE.interval
    );
    println!("  wall time                 {:>8.2} s", run.wall.as_secs_f64());
    println!("  simulated delays (limit)  {:>8.2} s", sim_limit.as_secs_f64());
    println!(
        "  stable-reading windows    {:>8.2} s (deliberate safety margin)",
        windows.as_secs_f64()
    );
    println!(
        "  overhead                  {:>8.2} s = {:.0} ms per pod, {:.1} % (goal: < {:.2} s)",
        over.as_secs_f64(),
        over.as_secs_f64() * 1000.0 / pods as f64,
        100.0 * over.as_secs_f64() / limit.as_secs_f64(),
        goal.as_secs_f64()
    );
    println!(
        "  max nodes down at once    {:>8}",
        cluster["max_unavailable_nodes"]
    );
    over / pods as u32
}

/// The fleet on `kind` with `workers` worker processes; returns the wall time.
async fn fleet(kind: Kind, workers: usize) -> Duration {
    let clusters = 100;
    let parallel = 20;
    let shapes: Vec<ClusterShape> = (0..clusters)
        .map(|i| ClusterShape::new(&format!("c{i:03}"), &format!("ns{i:03}")))
        .collect();
    // Workers as `cratectl worker` starts them, with their default limits.
    let run = run(
        kind,
        &format!("fleet-{workers}"),
        &shapes,
        parallel,
        WorkerOptions::default(),
        Workers::Processes(workers),
        Duration::from_secs(2),
        FLEET_SCALE,
    )
    .await;
    // The request runs `parallel` lanes, cluster i in lane i % parallel, one after another.
    let mut lanes = vec![Duration::ZERO; parallel];
    for (i, cluster) in run.sim["clusters"].as_array().unwrap().iter().enumerate() {
        let pods = cluster["pods"].as_array().unwrap().len();
        lanes[i % parallel] +=
            pod_limits(cluster, FLEET_SCALE).iter().sum::<Duration>() + stable_windows(pods);
    }
    let limit = lanes.iter().max().copied().unwrap_or_default();
    let max_down = run.sim["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["max_unavailable_nodes"].as_u64())
        .max()
        .unwrap_or(0);
    println!(
        "fleet on {}: {clusters} clusters x 3 pods, parallel {parallel}, {workers} worker process(es), simulator at x{FLEET_SCALE}",
        kind.name()
    );
    println!("  wall time                 {:>8.2} s", run.wall.as_secs_f64());
    println!("  limit (slowest lane)      {:>8.2} s", limit.as_secs_f64());
    println!(
        "  over the limit            {:>8.2} s ({:.1} %)",
        run.wall.saturating_sub(limit).as_secs_f64(),
        100.0 * run.wall.saturating_sub(limit).as_secs_f64() / limit.as_secs_f64()
    );
    println!("  clusters succeeded        {:>8}", run.report.clusters.len());
    println!("  max nodes down in any one {:>8}", max_down);
    for (i, mib) in run.worker_mib.iter().enumerate() {
        println!("  peak memory, worker {}     {mib:>8.1} MiB (VmHWM)", i + 1);
    }
    if let Some(mib) = peak_memory_mib() {
        println!("  peak memory, bench        {mib:>8.1} MiB (VmHWM: the simulator and the polling client)");
    }
    run.wall
}

fn main() {
    // `BENCH_LOG=cratectl_flow=debug` shows each activity's time (and whatever else is asked).
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--as-worker") {
        as_worker(&args[at + 1..]);
        return;
    }
    let which: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let kinds = Kind::all();
    if wanted("overhead") {
        let per_pod: Vec<(Kind, Duration)> = kinds
            .iter()
            .map(|&kind| (kind, runtime.block_on(overhead(kind))))
            .collect();
        if let [(_, duroxide), (_, temporal)] = per_pod[..] {
            let more = temporal.as_secs_f64() - duroxide.as_secs_f64();
            println!(
                "overhead, temporal - duroxide: {:+.0} ms per pod (goal: < 150 ms)\n",
                more * 1000.0
            );
        }
    }
    if wanted("fleet") {
        for &kind in &kinds {
            let one = runtime.block_on(fleet(kind, 1));
            let two = runtime.block_on(fleet(kind, 2));
            println!(
                "fleet on {}: two workers {:.1} s, one worker {:.1} s ({:+.1} %; goal: two faster than one)\n",
                kind.name(),
                two.as_secs_f64(),
                one.as_secs_f64(),
                100.0 * (two.as_secs_f64() - one.as_secs_f64()) / one.as_secs_f64()
            );
        }
    }
    #[cfg(feature = "temporal")]
    drop(DEV_SERVER.lock().unwrap().take());
}
