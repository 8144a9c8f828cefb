//! Shared by the workflow tests: cratesim on a real socket with a scaled clock, a worker on a
//! scratch state directory, and helpers to run a request and read the simulator's evidence.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restart::report::{RequestState, RestartReport};
use cratectl_flow::engine::duroxide::WorkerOptions;
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate, RestartOptions, RestartRequest, TargetSpec};
use cratectl_flow::service::{Restarts, Worker, start_worker};
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
    pub worker: Option<Worker>,
}

impl Setup {
    /// Serves `shapes` (simulator at x20) and starts a worker.
    pub async fn start(name: &str, shapes: &[ClusterShape]) -> Setup {
        let sim = Sim::new(Clock::new(20.0), shapes).unwrap();
        let running = serve("127.0.0.1:0", sim).await.unwrap();
        let dir = std::env::temp_dir().join(format!("cratectl-flow-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kubeconfig");
        write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
        let state = dir.join("state");
        let worker = start_worker(
            &state,
            Arc::new(ActivityEnv::new(None)),
            &WorkerOptions::default(),
        )
        .await
        .unwrap();
        let restarts = Restarts::open(&state).await.unwrap();
        Setup {
            server: running.server.clone(),
            addr: running.addr,
            dir,
            target: TargetSpec {
                kubeconfig: Some(path),
                context: None,
            },
            restarts,
            worker: Some(worker),
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
        loop {
            let report = self
                .restarts
                .report(id)
                .await
                .unwrap()
                .expect("the restart exists");
            if done(&report) {
                return report;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "not there in {limit:?}: {}",
                    serde_json::to_string_pretty(&report).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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

    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.shutdown(Duration::from_secs(1)).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
