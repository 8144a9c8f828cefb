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
use crate::operator::{ClusterShape, materialise};

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

/// A running simulator.
pub struct Running {
    pub addr: SocketAddr,
    pub server: Arc<ApiServer>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Builds the simulator with `clusters`, binds `listen` and serves it in the background.
pub async fn start(listen: &str, clock: Clock, clusters: &[ClusterShape]) -> Result<Running, String> {
    let server = Arc::new(ApiServer::new(clock));
    for shape in clusters {
        materialise(&server, shape)
            .map_err(|e| format!("cannot create cluster {}: {}", shape.name, e.message))?;
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let controllers = tokio::spawn(controllers::run(server.clone(), Timings::default()));
    let app = api::router(server.clone());
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).await;
        controllers.abort();
        served
    });
    Ok(Running { addr, server, task })
}
