//! SQL to a pod's CrateDB node of an in-process simulator, with HTTP Basic auth, by the direct
//! route (`POST /_crate/cratedb/P/_sql`: a client in the cluster dialling the pod IP). The
//! Kubernetes pod proxy would drop the credentials (the operator's host-based auth then answers
//! 401), and a port-forward needs a real socket; `tests/portforward.rs` covers both.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use serde_json::{Value, json};
use tower::ServiceExt;

use cratesim::serve::Sim;

/// `POST /_sql?types` to `pod`; returns (status, body text).
pub async fn sql_raw(sim: &Sim, pod: &str, password: &str, stmt: &str, args: Value) -> (u16, String) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("system:{password}"));
    let request = Request::post(format!("/_crate/cratedb/{pod}/_sql?types"))
        .header("content-type", "application/json")
        .header("authorization", format!("Basic {auth}"))
        .body(Body::from(json!({"stmt": stmt, "args": args}).to_string()))
        .unwrap();
    let response = sim.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A statement that must succeed; its JSON reply.
pub async fn sql(sim: &Sim, pod: &str, password: &str, stmt: &str, args: Value) -> Value {
    let (status, body) = sql_raw(sim, pod, password, stmt, args).await;
    assert_eq!(status, 200, "{stmt}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// What a health gate reads: member names (sorted), health as GREEN/YELLOW/RED, and the
/// number of copies initializing or relocating.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub nodes: Vec<String>,
    pub health: String,
    pub moving: i64,
}

pub async fn reading(sim: &Sim, pod: &str, password: &str) -> Reading {
    let nodes = sql(
        sim,
        pod,
        password,
        "SELECT name FROM sys.nodes ORDER BY name",
        json!([]),
    )
    .await["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    let severity = sql(
        sim,
        pod,
        password,
        "SELECT max(severity) FROM sys.health",
        json!([]),
    )
    .await["rows"][0][0]
        .as_i64();
    let health = match severity {
        None | Some(1) => "GREEN",
        Some(2) => "YELLOW",
        Some(_) => "RED",
    }
    .to_string();
    let moving = sql(
        sim,
        pod,
        password,
        "SELECT count(*) FROM sys.shards WHERE routing_state IN ('INITIALIZING', 'RELOCATING')",
        json!([]),
    )
    .await["rows"][0][0]
        .as_i64()
        .unwrap();
    Reading {
        nodes,
        health,
        moving,
    }
}

/// Shard copies assigned to CrateDB node `node` (any routing state).
pub async fn copies_on(sim: &Sim, pod: &str, password: &str, node: &str) -> i64 {
    sql(
        sim,
        pod,
        password,
        "SELECT count(*) FROM sys.shards WHERE node['name'] = ?",
        json!([node]),
    )
    .await["rows"][0][0]
        .as_i64()
        .unwrap()
}

/// The health timeline of the report's first cluster.
pub fn health_timeline(sim: &Sim) -> Vec<String> {
    sim.report()["clusters"][0]["health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["health"].as_str().unwrap().to_string())
        .collect()
}
