//! The pod-restart behaviour test through the Kubernetes pod proxy
//! (`/api/v1/namespaces/N/pods/P:4200/proxy/_sql`), in-process under tokio's paused clock: the
//! pod is deleted with kube-rs, and the cluster is seen losing a node (2 nodes, YELLOW), then
//! getting it back (3 nodes, GREEN).
//!
//! The API server drops the `Authorization` header of proxied requests, so CrateDB behind the
//! pod proxy runs them as `crate` from a remote address: that works only without host-based
//! auth (CrateDB's default), which is what this cluster has. With the operator's host-based auth
//! the proxy gets CrateDB's 401 (checked below); cratectl uses a port-forward
//! (`tests/portforward.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;

use cratesim::clock::Clock;
use cratesim::serve::Sim;

const PASSWORD: &str = "pw-alpha";

/// Cluster `alpha` without host-based auth, so the pod proxy reaches CrateDB.
fn sim() -> Sim {
    let mut shape = common::shape("alpha", false, PASSWORD);
    shape.host_based_auth = false;
    Sim::new(Clock::new(1.0), &[shape]).unwrap()
}

fn proxy(pod: &str) -> String {
    format!("/api/v1/namespaces/cratedb/pods/{pod}:4200/proxy")
}

fn basic(password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("system:{password}"));
    format!("Basic {token}")
}

/// `method base/path` with `authorization`; returns (status, body text).
async fn request(
    sim: &Sim,
    method: &str,
    url: &str,
    authorization: Option<&str>,
    body: String,
) -> (u16, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = sim
        .router()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// `POST /_sql?types` to `pod` through the pod proxy; returns (status, body text).
async fn sql_raw(sim: &Sim, pod: &str, stmt: &str) -> (u16, String) {
    let url = format!("{}/_sql?types", proxy(pod));
    request(sim, "POST", &url, None, json!({ "stmt": stmt }).to_string()).await
}

async fn sql(sim: &Sim, pod: &str, stmt: &str) -> Value {
    let (status, body) = sql_raw(sim, pod, stmt).await;
    assert_eq!(status, 200, "{stmt}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn nodes_and_health(sim: &Sim) -> (i64, String) {
    let nodes = sql(sim, "crate-data-hot-alpha-0", "SELECT count(*) FROM sys.nodes").await["rows"][0][0]
        .as_i64()
        .unwrap();
    let health = sql(
        sim,
        "crate-data-hot-alpha-0",
        "SELECT max(severity) FROM sys.health",
    )
    .await["rows"][0][0]
        .clone();
    let health = match health.as_i64() {
        None | Some(1) => "GREEN",
        Some(2) => "YELLOW",
        Some(_) => "RED",
    };
    (nodes, health.to_string())
}

#[tokio::test(start_paused = true)]
async fn root_and_response_shapes_through_the_pod_proxy() {
    let sim = sim();
    let (status, body) = request(
        &sim,
        "GET",
        &format!("{}/", proxy("crate-data-hot-alpha-1")),
        None,
        String::new(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let root: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(root["name"], "data-hot-1");
    assert_eq!(root["cluster_name"], "alpha");
    assert_eq!(root["version"]["number"], "5.10.3");

    let (status, body) = sql_raw(
        &sim,
        "crate-data-hot-alpha-1",
        "SELECT name FROM sys.nodes ORDER BY name",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(r#"{"cols":["name"],"col_types":[4],"rows":"#),
        "CrateDB's key order: {body}"
    );
    // Credentials do not arrive: the request runs as `crate`, whatever the header said.
    let url = format!("{}/_sql", proxy("crate-data-hot-alpha-1"));
    let stmt = json!({"stmt": "SELECT CURRENT_USER"}).to_string();
    let (status, body) = request(&sim, "POST", &url, Some(&basic("wrong")), stmt).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""rows":[["crate"]]"#), "{body}");
    // A pod that does not exist is a Kubernetes NotFound.
    let (status, body) = sql_raw(&sim, "crate-data-hot-alpha-9", "SELECT 1").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(start_paused = true)]
async fn with_the_operators_host_based_auth_the_pod_proxy_gets_a_401_and_the_pod_ip_does_not() {
    let sim = Sim::new(Clock::new(1.0), &[common::shape("alpha", false, PASSWORD)]).unwrap();
    let pod = "crate-data-hot-alpha-1";
    let stmt = || json!({"stmt": "SELECT CURRENT_USER"}).to_string();
    // Through the pod proxy the header is gone: `crate` from the API server's address needs a
    // password (HBA entry 99), so CrateDB answers its plain-text 401, `GET /` included.
    let (status, body) = request(
        &sim,
        "POST",
        &format!("{}/_sql", proxy(pod)),
        Some(&basic(PASSWORD)),
        stmt(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (401, "password authentication failed for user \"crate\"\n")
    );
    let (status, _) = request(
        &sim,
        "GET",
        &format!("{}/", proxy(pod)),
        Some(&basic(PASSWORD)),
        String::new(),
    )
    .await;
    assert_eq!(status, 401);
    // In the cluster, by pod IP, Basic auth works, and a wrong password is refused without
    // echoing it.
    let direct = format!("/_crate/cratedb/{pod}");
    let (status, body) = request(
        &sim,
        "POST",
        &format!("{direct}/_sql"),
        Some(&basic(PASSWORD)),
        stmt(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""rows":[["system"]]"#), "{body}");
    let (status, body) = request(
        &sim,
        "POST",
        &format!("{direct}/_sql"),
        Some(&basic("wrong")),
        stmt(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (401, "password authentication failed for user \"system\"\n")
    );
    let (status, body) = request(
        &sim,
        "GET",
        &format!("{direct}/"),
        Some(&basic(PASSWORD)),
        String::new(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"name\" : \"data-hot-1\""), "{body}");
}

#[tokio::test(start_paused = true)]
async fn deleting_a_data_pod_is_yellow_with_two_nodes_then_green_with_three() {
    let sim = sim();
    assert_eq!(nodes_and_health(&sim).await, (3, "GREEN".to_string()));
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let old_uid = pods.get("crate-data-hot-alpha-2").await.unwrap().uid().unwrap();
    pods.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();

    let mut saw_away = false;
    let mut back = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (nodes, health) = nodes_and_health(&sim).await;
        if nodes == 2 {
            assert_eq!(health, "YELLOW", "replicas are missing while the node is away");
            saw_away = true;
        }
        let pod = pods.get_opt("crate-data-hot-alpha-2").await.unwrap();
        let replaced = pod
            .as_ref()
            .is_some_and(|p| p.uid().as_deref() != Some(old_uid.as_str()));
        if saw_away && replaced && nodes == 3 && health == "GREEN" {
            back = true;
            break;
        }
    }
    assert!(saw_away, "the cluster never showed the node gone");
    assert!(back, "the cluster never got back to 3 nodes and GREEN");
    let pod = pods.get("crate-data-hot-alpha-2").await.unwrap();
    assert!(
        pod.status
            .unwrap()
            .container_statuses
            .unwrap()
            .iter()
            .any(|s| s.name == "crate" && s.ready),
        "Ready once the node answers"
    );
}

#[tokio::test(start_paused = true)]
async fn the_report_records_the_restart_settings_and_writes() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    sql(
        &sim,
        "crate-data-hot-alpha-0",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
    )
    .await;
    pods.delete("crate-data-hot-alpha-1", &DeleteParams::default())
        .await
        .unwrap();
    // Wait until the replacement has rejoined (allocation stays at primaries: YELLOW).
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if nodes_and_health(&sim).await.0 == 3
            && pods
                .get_opt("crate-data-hot-alpha-1")
                .await
                .unwrap()
                .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        {
            break;
        }
    }
    assert_eq!(
        nodes_and_health(&sim).await,
        (3, "YELLOW".to_string()),
        "primaries keeps replicas unassigned"
    );
    sql(
        &sim,
        "crate-data-hot-alpha-0",
        "RESET GLOBAL \"cluster.routing.allocation.enable\"",
    )
    .await;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if nodes_and_health(&sim).await == (3, "GREEN".to_string()) {
            break;
        }
    }

    // The same report in-process and over HTTP.
    let request = Request::get("/_sim/report").body(Body::empty()).unwrap();
    let response = sim.router().oneshot(request).await.unwrap();
    let over_http: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    let report = sim.report();
    assert_eq!(over_http["clusters"][0]["pods"], report["clusters"][0]["pods"]);
    let cluster = &report["clusters"][0];
    assert_eq!(
        (cluster["name"].as_str(), cluster["namespace"].as_str()),
        (Some("alpha"), Some("cratedb"))
    );
    assert_eq!(cluster["max_unavailable_nodes"], 1, "{cluster:#}");
    let uids = |pod: &str| {
        cluster["pods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == pod)
            .unwrap()["uids"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        (
            uids("crate-data-hot-alpha-0"),
            uids("crate-data-hot-alpha-1"),
            uids("crate-data-hot-alpha-2")
        ),
        (1, 2, 1)
    );
    let stmts: Vec<&str> = cluster["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["stmt"].as_str().unwrap())
        .collect();
    assert_eq!(stmts.len(), 2, "{stmts:?}");
    assert!(
        stmts[0].starts_with("SET GLOBAL TRANSIENT") && stmts[1].starts_with("RESET GLOBAL"),
        "{stmts:?}"
    );
    assert_eq!(
        cluster["settings"]["transient"].get("cluster.routing.allocation.enable"),
        None,
        "{:#}",
        cluster["settings"]
    );
    let writes = cluster["kube_writes"].as_array().unwrap();
    assert!(
        writes.iter().any(|w| w["verb"] == "DELETE"
            && w["path"] == "/api/v1/namespaces/cratedb/pods/crate-data-hot-alpha-1"),
        "{writes:?}"
    );
    assert!(
        writes
            .iter()
            .all(|w| !w["path"].as_str().unwrap().contains("/proxy")),
        "SQL through the proxy is not a Kubernetes write"
    );
    let health: Vec<&str> = cluster["health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["health"].as_str().unwrap())
        .collect();
    assert_eq!(health.first(), Some(&"GREEN"));
    assert!(
        health.contains(&"YELLOW") && health.last() == Some(&"GREEN"),
        "{health:?}"
    );
}
