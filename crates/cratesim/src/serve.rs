//! Serving the simulator over real sockets, and the kubeconfig that points clients at it.
//!
//! The kubeconfig is written only once the listener is bound (it accepts connections from then
//! on), and atomically, so a script can simply wait for the file to appear.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::controllers::{self, Timings};
use crate::kube::{ApiServer, api};
use crate::operator::{ClusterShape, materialise, validate_fleet};
use crate::scenario::Scenario;

/// The kubeconfig for a simulator listening on `addr`: context, cluster and user `cratesim`.
pub fn kubeconfig(addr: SocketAddr, namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cratesim", "cluster": {"server": format!("http://{addr}")}}],
        "users": [{"name": "cratesim", "user": {"token": "cratesim"}}],
        "contexts": [{"name": "cratesim", "context": {"cluster": "cratesim", "user": "cratesim", "namespace": namespace}}],
        "current-context": "cratesim",
        "preferences": {},
    })
}

/// Writes `kubeconfig` to `path` atomically (a temporary file renamed into place).
pub fn write_kubeconfig(path: &Path, kubeconfig: &Value) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-cratesim");
    std::fs::write(&tmp, format!("{kubeconfig:#}\n"))?;
    std::fs::rename(&tmp, path)
}

/// A simulator in this process: the API state, its controllers running on the current tokio
/// runtime, and the router serving it. kube-rs can use the router directly
/// (`kube::Client::new(sim.router(), "ns")`), without a socket, so tests may run under tokio's
/// paused clock.
pub struct Sim {
    pub server: Arc<ApiServer>,
    controllers: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Creates `clusters` and starts the controllers. Must be called inside a tokio runtime.
    pub fn new(clock: Clock, clusters: &[ClusterShape]) -> Result<Sim, String> {
        Sim::build(Arc::new(ApiServer::new(clock)), clusters, &[])
    }

    /// Creates what `scenario` describes: its Kubernetes nodes, its clusters, then its faults.
    /// Must be called inside a tokio runtime.
    pub fn from_scenario(clock: Clock, scenario: &Scenario) -> Result<Sim, String> {
        let server = Arc::new(ApiServer::new(clock));
        crate::nodes::create(&server, &scenario.nodes)
            .map_err(|e| format!("cannot create the nodes: {}", e.message))?;
        Sim::build(server, &scenario.shapes(), &scenario.faults)
    }

    fn build(
        server: Arc<ApiServer>,
        clusters: &[ClusterShape],
        faults: &[crate::faults::Fault],
    ) -> Result<Sim, String> {
        for shape in clusters {
            shape.validate()?;
        }
        validate_fleet(clusters)?;
        for shape in clusters {
            materialise(&server, shape)
                .map_err(|e| format!("cannot create cluster {}: {}", shape.name, e.message))?;
        }
        crate::faults::apply(&server, faults)
            .map_err(|e| format!("cannot apply the scenario's faults: {}", e.message))?;
        let controllers = tokio::spawn(controllers::run(server.clone(), Timings::default()));
        Ok(Sim { server, controllers })
    }

    /// The evidence report: what `GET /_sim/report` answers.
    pub fn report(&self) -> serde_json::Value {
        self.server.report()
    }

    /// The HTTP router of the Kubernetes API.
    pub fn router(&self) -> axum::Router {
        api::router(self.server.clone())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.controllers.abort();
    }
}

/// A running simulator.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Arc<ApiServer>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Builds the simulator with `clusters`, binds `listen` and serves it in the background.
pub async fn start(listen: &str, clock: Clock, clusters: &[ClusterShape]) -> Result<Running, String> {
    serve(listen, Sim::new(clock, clusters)?).await
}

/// Binds `listen` and serves `sim` in the background.
pub async fn serve(listen: &str, sim: Sim) -> Result<Running, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let app = sim.router();
    let server = sim.server.clone();
    // The task owns the simulator: aborting it stops the server and the controllers.
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).await;
        drop(sim);
        served
    });
    Ok(Running { addr, server, task })
}
