//! The transports to CrateDB through the Kubernetes API, against cratesim over a real socket
//! (port-forwards upgrade the connection, which in-process calls cannot), with a kube client
//! from a kubeconfig as cratectl builds it and the `system` password read from the cluster's
//! Secret. The cluster has the operator's host-based auth: `crate` trusted from localhost,
//! everyone else needs a password.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use cratectl_cratedb::{
    Client, Credentials, Error, ErrorKind, HttpSend, RetryPolicy, Secret, UnreachableKind,
};
use cratectl_kube::discovery::discover;
use cratectl_kube::secrets::system_password;
use cratectl_kube::transport::{PodProxy, PortForward};
use cratectl_kube::{Kube, KubeTarget};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Running, kubeconfig, start, write_kubeconfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "cratedb";
const PASSWORD: &str = "Sim-Pf-Passw0rd";

struct Env {
    sim: Running,
    kube: Kube,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.sim.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    /// Cluster `alpha` (three data nodes, the operator's host-based auth) served with a clock
    /// running `scale` times real time, and a kube connection from a kubeconfig.
    async fn start(name: &str, scale: f64) -> Env {
        let mut shape = ClusterShape::new("alpha", NAMESPACE);
        shape.system_password = PASSWORD.into();
        let sim = start("127.0.0.1:0", Clock::new(scale), &[shape]).await.unwrap();
        let dir = std::env::temp_dir().join(format!("cratectl-kube-transport-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kubeconfig");
        write_kubeconfig(&path, &kubeconfig(sim.addr, NAMESPACE)).unwrap();
        let kube = Kube::connect(&KubeTarget {
            kubeconfig: Some(path),
            context: None,
        })
        .await
        .unwrap();
        Env { sim, kube, dir }
    }

    /// The `system` credentials, the password read from the cluster's Secret.
    async fn credentials(&self) -> Credentials {
        let found = discover(&self.kube, Some(NAMESPACE)).await.unwrap();
        let password = system_password(&self.kube, &found.clusters[0]).await.unwrap();
        assert_eq!(password, PASSWORD);
        system(&password)
    }

    fn port_forward(&self, pod: u32) -> PortForward {
        PortForward::new(&self.kube, NAMESPACE, &format!("crate-data-hot-alpha-{pod}"))
    }

    async fn faults(&self, faults: Value) {
        let response = reqwest::Client::new()
            .post(format!("http://{}/_sim/faults", self.sim.addr))
            .json(&json!({ "faults": faults }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
}

fn system(password: &str) -> Credentials {
    Credentials::Basic {
        user: "system".into(),
        password: Secret::new(password),
    }
}

fn no_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_user_reads_the_cluster_through_a_port_forward() {
    let env = Env::start("reads", 20.0).await;
    let transport = env.port_forward(1);
    assert_eq!(
        transport.describe(),
        "pod cratedb/crate-data-hot-alpha-1 (port-forward, context cratesim)"
    );
    let client = Client::new(
        Arc::new(transport),
        env.credentials().await,
        RetryPolicy::default(),
    );

    let root = client.root().await.unwrap();
    assert_eq!(root.name, "data-hot-1");
    let reading = client.cluster_reading().await.unwrap();
    let names: Vec<&str> = reading.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["data-hot-0", "data-hot-1", "data-hot-2"]);
    assert!(reading.master_node.is_some());
    let user = client.sql("SELECT CURRENT_USER", &[]).await.unwrap();
    assert_eq!(user.rows, [[json!("system")]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_unauthorized_without_showing_it() {
    let env = Env::start("wrong", 20.0).await;
    let client = Client::new(
        Arc::new(env.port_forward(0)),
        system("not-the-Password-42"),
        RetryPolicy::default(),
    );
    let error = client.sql("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("password authentication failed for user \"system\""),
        "{text}"
    );
    assert!(!text.contains("not-the-Password-42"), "{text}");
    assert!(!format!("{error:?}").contains("not-the-Password-42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_proxy_loses_the_credentials_and_gets_a_401() {
    let env = Env::start("proxy", 20.0).await;
    let transport = PodProxy::new(&env.kube, NAMESPACE, "crate-data-hot-alpha-0");
    let via = transport.describe();
    assert!(
        via.contains("pod proxy") && via.contains("credentials do not reach CrateDB"),
        "{via}"
    );
    let client = Client::new(
        Arc::new(transport),
        env.credentials().await,
        RetryPolicy::default(),
    );
    // The right password, but the API server removed the header: CrateDB saw `crate` from a
    // remote address, which the operator's host-based auth asks for a password.
    let error = client.sql("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    assert!(
        error
            .to_string()
            .contains("password authentication failed for user \"crate\""),
        "{error}"
    );
    let error = client.root().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_does_not_exist_is_unreachable_and_nothing_was_sent() {
    let env = Env::start("missing", 20.0).await;
    let client = Client::new(
        Arc::new(env.port_forward(7)),
        env.credentials().await,
        RetryPolicy::default(),
    );
    let error = client.sql("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Unreachable(UnreachableKind::Gateway {
            status: 404,
            not_forwarded: true
        }),
        "{error}"
    );
    assert!(!error.may_have_executed());
    assert!(
        error
            .to_string()
            .contains("pods \"crate-data-hot-alpha-7\" not found"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_node_is_stopped_refuses_and_nothing_was_sent() {
    // Real time: the replacement pod's node stays down (Pending for 3 s) long enough to look.
    let env = Env::start("stopped", 1.0).await;
    let client = Client::new(
        Arc::new(env.port_forward(2)),
        env.credentials().await,
        no_retries(),
    );
    let pods: Api<Pod> = Api::namespaced(env.kube.client.clone(), NAMESPACE);
    pods.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();
    let mut refused = None;
    for _ in 0..400 {
        match client.sql("SELECT 1", &[]).await {
            Err(e) if e.kind() == ErrorKind::Unreachable(UnreachableKind::Connect) => {
                refused = Some(e);
                break;
            }
            // Still up, or the pod briefly gone (404) between the old one and its replacement.
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let error = refused.expect("the port-forward was refused while the node was down");
    let text = error.to_string();
    assert!(
        text.starts_with("cannot reach CrateDB at pod cratedb/crate-data-hot-alpha-2 (port-forward"),
        "{text}"
    );
    assert!(
        text.contains("error forwarding port 4200") && text.contains("connection refused"),
        "{text}"
    );
    assert!(!error.may_have_executed() && error.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_opening_and_answering() {
    let env = Env::start("timeouts", 1.0).await;
    let credentials = env.credentials().await;
    // The API server is slow to open the tunnel: a connect timeout, nothing sent.
    env.faults(json!([{"kind": "api_latency", "verb": "GET", "resource": "pods", "latency_ms": 2000}]))
        .await;
    let slow = env
        .port_forward(0)
        .with_connect_timeout(Duration::from_millis(100));
    let client = Client::new(Arc::new(slow), credentials.clone(), no_retries());
    let error = client.sql("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Unreachable(UnreachableKind::Connect),
        "{error}"
    );
    assert!(error.to_string().contains("timed out"), "{error}");
    env.faults(json!([{"kind": "clear_api_faults"}])).await;

    // CrateDB answers a decommission only when it is done: the request's own timeout applies,
    // and the statement may have run.
    let client = Client::new(Arc::new(env.port_forward(0)), credentials, no_retries())
        .with_request_timeout(Duration::from_millis(300));
    let error = client
        .sql("ALTER CLUSTER DECOMMISSION 'data-hot-2'", &[])
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Unreachable(UnreachableKind::Timeout),
        "{error}"
    );
    assert!(error.may_have_executed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sequential_requests_leave_no_tunnel_behind() {
    let env = Env::start("many", 20.0).await;
    let client = Client::new(
        Arc::new(env.port_forward(1)),
        env.credentials().await,
        RetryPolicy::default(),
    );
    let metrics = tokio::runtime::Handle::current().metrics();
    client.sql("SELECT 1", &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = metrics.num_alive_tasks();
    for i in 0..50 {
        let result = client
            .sql(
                "SELECT count(*) FROM sys.nodes WHERE name <> ?",
                &[json!(format!("n{i}"))],
            )
            .await
            .unwrap();
        assert_eq!(result.rows, [[json!(3)]]);
    }
    // Both ends of every tunnel (kube-rs' forwarder, the simulator's WebSocket, its HTTP
    // server and pumps) have finished.
    let mut after = metrics.num_alive_tasks();
    for _ in 0..50 {
        if after <= before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = metrics.num_alive_tasks();
    }
    assert!(after <= before, "tasks alive: {before} before, {after} after");
}
