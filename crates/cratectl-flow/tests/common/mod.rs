//! Shared by the workflow tests: cratesim on a real socket with a scaled clock, a worker on a
//! scratch state directory, and helpers to run a request and read the simulator's evidence.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restart::report::{ClusterReport, RequestState, RestartReport};
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::engine::any::{AnyEngine, AnyWorker};
use cratectl_flow::engine::duroxide::Duroxide;
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate, TargetSpec};
use cratectl_flow::operations::{Operations, Worker, start_worker};

pub mod temporal_server;
pub use temporal_server::TestEngine;

/// The operations of the engine under test, as the tests use them.
pub type Restarts = Operations<AnyEngine>;
use cratectl_flow::ops::restart::model::{RestartOptions, RestartRequest};
use cratesim::clock::Clock;
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use serde_json::Value;

pub struct Setup {
    pub server: Arc<cratesim::kube::ApiServer>,
    pub addr: std::net::SocketAddr,
    pub dir: PathBuf,
    pub target: TargetSpec,
    pub restarts: Restarts,
    pub worker: Option<Worker<AnyWorker>>,
    pub engine: AnyEngine,
    /// The Temporal dev server of a test on Temporal (stopped with the setup).
    pub temporal: Option<temporal_server::TemporalServer>,
}

impl Setup {
    /// Serves `shapes` (simulator at x20) and starts a worker.
    pub async fn start(name: &str, shapes: &[ClusterShape]) -> Setup {
        Setup::start_at(name, shapes, 20.0).await
    }

    /// Serves `shapes` with the simulator's clock `scale` times real time, and starts a worker.
    pub async fn start_at(name: &str, shapes: &[ClusterShape], scale: f64) -> Setup {
        Setup::start_on(TestEngine::Duroxide, name, shapes, scale).await
    }

    /// [`Setup::start_at`] on `engine` (on Temporal: a dev server of its own).
    pub async fn start_on(engine: TestEngine, name: &str, shapes: &[ClusterShape], scale: f64) -> Setup {
        let sim = Sim::new(Clock::new(scale), shapes).unwrap();
        let running = serve("127.0.0.1:0", sim).await.unwrap();
        let dir =
            std::env::temp_dir().join(format!("cratectl-flow-{name}-{engine:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kubeconfig");
        write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
        let state = dir.join("state");
        let (engine, temporal): (AnyEngine, _) = match engine {
            TestEngine::Duroxide => (Duroxide::new(&state).into(), None),
            TestEngine::Temporal => {
                let server = temporal_server::TemporalServer::start().await;
                (server.engine(name), Some(server))
            }
        };
        let worker = start_worker(
            &engine,
            Arc::new(ActivityEnv::new(None)),
            WorkerLimits::default(),
            None,
        )
        .await
        .unwrap();
        let restarts = Restarts::open(&engine).await.unwrap();
        Setup {
            server: running.server.clone(),
            addr: running.addr,
            dir,
            target: TargetSpec {
                kubeconfig: Some(path),
                context: None,
                auth: None,
            },
            restarts,
            worker: Some(worker),
            engine,
            temporal,
        }
    }

    /// A request for `clusters` (names = resources, namespace `cratedb`).
    pub fn request(&self, id: &str, clusters: &[&str], options: RestartOptions) -> RestartRequest {
        RestartRequest {
            request_id: id.to_string(),
            target: self.target.clone(),
            clusters: clusters
                .iter()
                .map(|c| ClusterRef {
                    namespace: "cratedb".into(),
                    resource: c.to_string(),
                    name: c.to_string(),
                })
                .collect(),
            options,
        }
    }

    pub fn faults(&self, faults: &[Fault]) {
        cratesim::faults::apply(&self.server, faults).unwrap();
    }

    pub fn sim(&self) -> Value {
        self.server.report()
    }

    pub fn sim_cluster(&self, name: &str) -> Value {
        sim_cluster(&self.sim(), name).clone()
    }

    /// The report once the request is no longer running.
    pub async fn finish(&self, id: &str, limit: Duration) -> RestartReport {
        self.until(id, limit, |r| r.state != RequestState::Running).await
    }

    /// The report once `done` holds.
    pub async fn until(
        &self,
        id: &str,
        limit: Duration,
        done: impl Fn(&RestartReport) -> bool,
    ) -> RestartReport {
        let deadline = tokio::time::Instant::now() + limit;
        let start = std::time::Instant::now();
        let mut seen = String::new();
        loop {
            let report = self
                .restarts
                .restart_report(id)
                .await
                .unwrap()
                .expect("the restart exists");
            if std::env::var_os("TRACE_STEPS").is_some() {
                trace_steps(id, &report, start, &mut seen);
            }
            if done(&report) {
                return report;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "not there in {limit:?}: {}",
                    serde_json::to_string_pretty(&report).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A kube-rs client for the simulator.
    pub fn kube(&self) -> kube::Client {
        kube::Client::try_from(kube::Config::new(
            format!("http://{}", self.addr).parse().unwrap(),
        ))
        .unwrap()
    }

    /// Who holds the cluster's Lease (`cratectl-<resource>`), if it exists.
    pub async fn lease_holder(&self, resource: &str) -> Option<Option<String>> {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: kube::Api<Lease> = kube::Api::namespaced(self.kube(), "cratedb");
        let lease = api.get_opt(&format!("cratectl-{resource}")).await.unwrap()?;
        Some(lease.spec.and_then(|s| s.holder_identity))
    }

    /// Everything the engine recorded, as text: on duroxide the files of the state
    /// directory; on Temporal every workflow's listing and history from the server (the test's
    /// own dev server), payloads decoded.
    pub fn engine_records(&self) -> String {
        match &self.temporal {
            Some(server) => server.records(),
            None => files_text(&self.dir),
        }
    }

    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.shutdown(Duration::from_secs(1)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every file under `dir`, as text where it is.
fn files_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.push_str(&files_text(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

pub fn sim_cluster<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// Fast gates and short limits, for tests.
pub fn fast_options() -> RestartOptions {
    RestartOptions {
        gate: Gate {
            polls: 3,
            interval: Duration::from_millis(100),
        },
        ..RestartOptions::default()
    }
}

/// Each pod of the simulated cluster has had exactly `n` UIDs.
pub fn assert_uids(cluster: &Value, n: usize) {
    for pod in cluster["pods"].as_array().unwrap() {
        assert_eq!(pod["uids"].as_array().unwrap().len(), n, "{pod}");
    }
}

/// `TRACE_STEPS=1`: prints each change of a cluster's step while a test waits.
fn trace_steps(id: &str, report: &RestartReport, start: std::time::Instant, seen: &mut String) {
    let now: Vec<String> = report
        .clusters
        .iter()
        .map(|c| {
            format!(
                "{} {} {:?} {:?} {:?}",
                c.common.name, c.common.state, c.pod_index, c.common.current_step, c.common.waiting_for
            )
        })
        .collect();
    let now = now.join(" | ");
    if now != *seen {
        eprintln!("{:>7.2}s {id}: {now}", start.elapsed().as_secs_f64());
        *seen = now;
    }
}

impl Setup {
    /// The StatefulSets of cluster `name` (`crate-…-<name>`) with their routing-owner label
    /// (`dc-util-routing-owner`) value, if they carry it.
    pub fn routing_owner_labels(&self, name: &str) -> BTreeMap<String, Option<String>> {
        let suffix = format!("-{name}");
        self.server
            .store()
            .list("statefulsets", Some("cratedb"))
            .into_iter()
            .filter_map(|sts| {
                let sts_name = sts.pointer("/metadata/name")?.as_str()?;
                sts_name.ends_with(&suffix).then(|| {
                    let label = sts
                        .pointer("/metadata/labels")
                        .and_then(|l| l.get(ROUTING_OWNER_LABEL))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    (sts_name.to_string(), label)
                })
            })
            .collect()
    }

    /// Runs `stmt` on cluster `name` as an operator would: through a Ready pod, with the
    /// cluster's own credentials.
    pub async fn sql(&self, name: &str, stmt: &str) {
        let env = ActivityEnv::new(None);
        let cluster = ClusterRef {
            namespace: "cratedb".into(),
            resource: name.into(),
            name: name.into(),
        };
        let (kube, found) = env.cluster(&self.target, &cluster).await.unwrap();
        let client = env.client_avoiding(&kube, &found, None).await.unwrap();
        client.sql_idempotent(stmt, &[]).await.unwrap();
    }

    /// Sets `cluster.graceful_stop.min_availability` (which a restart without dc_util changes)
    /// to FULL at both levels, so a test sees a value that is not the default come back at both.
    /// (The saga restores effective values: a value held at one level only comes back at both,
    /// and a default written explicitly comes back as a RESET, so only this kind of value can
    /// be compared level by level.)
    pub async fn preset_settings(&self, name: &str) -> Value {
        for level in ["TRANSIENT", "PERSISTENT"] {
            self.sql(
                name,
                &format!("SET GLOBAL {level} \"cluster.graceful_stop.min_availability\" = 'FULL'"),
            )
            .await;
        }
        let settings = self.sim_cluster(name)["settings"].clone();
        for level in ["transient", "persistent"] {
            assert!(
                settings[level].to_string().to_lowercase().contains("full"),
                "preset at level {level}: {settings}"
            );
        }
        settings
    }

    /// Asserts what every ending of a cluster's restart must leave: the settings as `before`
    /// (both levels), no Lease `cratectl-<name>`, no routing-owner label on its StatefulSets.
    pub async fn assert_cleaned_up(&self, name: &str, before: &Value, context: &str) {
        let sim = self.sim_cluster(name);
        assert_eq!(
            &sim["settings"], before,
            "{name}: settings back at both levels; {context}"
        );
        assert_eq!(
            self.lease_holder(name).await,
            None,
            "{name}: Lease cratectl-{name} released; {context}"
        );
        let labels = self.routing_owner_labels(name);
        assert!(!labels.is_empty(), "{name} has StatefulSets");
        assert!(
            labels.values().all(Option::is_none),
            "{name}: routing-owner label removed: {labels:?}; {context}"
        );
    }
}

/// The label cratectl (and the operator) put on StatefulSets while they own allocation.
pub const ROUTING_OWNER_LABEL: &str = "dc-util-routing-owner";

/// The child workflow id of cluster `name` (namespace `cratedb`) in request `id`.
pub fn child_id(id: &str, name: &str) -> String {
    cratectl_flow::model::child_id(
        id,
        &ClusterRef {
            namespace: "cratedb".into(),
            resource: name.into(),
            name: name.into(),
        },
    )
}

/// Whether cluster `name` of `report` is restarting its pod number `index` (1-based) at one of
/// `steps`.
pub fn at_step(report: &RestartReport, name: &str, index: usize, steps: &[&str]) -> bool {
    report.clusters.iter().any(|c| {
        c.common.name == name
            && c.pod_index == Some(index)
            && c.common
                .current_step
                .as_deref()
                .is_some_and(|s| steps.contains(&s))
    })
}

/// The cluster `name` of `report`.
pub fn cluster<'r>(report: &'r RestartReport, name: &str) -> &'r ClusterReport {
    report
        .clusters
        .iter()
        .find(|c| c.common.name == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {}", report.text()))
}

/// Pod name → how many UIDs the simulator has seen it with.
pub fn uid_counts(cluster: &Value) -> BTreeMap<String, usize> {
    cluster["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["uids"].as_array().unwrap().len(),
            )
        })
        .collect()
}

/// The state-changing SQL the simulator recorded for the cluster.
pub fn sql_writes(cluster: &Value) -> Vec<String> {
    cluster["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["stmt"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The Kubernetes writes the simulator recorded for the cluster, as `VERB path`.
pub fn kube_writes(cluster: &Value) -> Vec<String> {
    cluster["kube_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w["verb"].as_str().unwrap_or_default(),
                w["path"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// `value` as indented JSON, for failure messages.
pub fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// The restart's typed view of the operation records, for tests.
#[allow(async_fn_in_trait, dead_code)]
pub trait RestartOps {
    async fn start_restart(&self, request: &RestartRequest)
    -> Result<(), cratectl_flow::engine::EngineError>;
    async fn restart_report(
        &self,
        id: &str,
    ) -> Result<Option<RestartReport>, cratectl_flow::engine::EngineError>;
}

impl RestartOps for Operations<AnyEngine> {
    async fn start_restart(
        &self,
        request: &RestartRequest,
    ) -> Result<(), cratectl_flow::engine::EngineError> {
        self.start(
            cratectl_flow::ops::restart::model::RESTART_REQUEST,
            &request.request_id,
            request,
        )
        .await
    }

    async fn restart_report(
        &self,
        id: &str,
    ) -> Result<Option<RestartReport>, cratectl_flow::engine::EngineError> {
        Ok(self
            .report(id)
            .await?
            .map(|r| r.typed::<ClusterReport>().expect("a restart report")))
    }
}
