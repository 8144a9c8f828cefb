//! Faults injected through `POST /_sim/faults`, observed the way cratectl would observe them:
//! kube-rs errors, CrateDB error codes through the pod proxy, pods and nodes that misbehave.

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

fn sim() -> Sim {
    Sim::new(Clock::new(1.0), &[common::shape("alpha", false, "pw")]).unwrap()
}

async fn post(sim: &Sim, path: &str, body: Value, auth: bool) -> (u16, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if auth {
        let basic = base64::engine::general_purpose::STANDARD.encode("system:pw");
        request = request.header("authorization", format!("Basic {basic}"));
    }
    let response = sim
        .router()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn inject(sim: &Sim, faults: Value) {
    let (status, body) = post(sim, "/_sim/faults", json!({ "faults": faults }), false).await;
    assert_eq!(status, 200, "{body}");
}

async fn sql(sim: &Sim, stmt: &str) -> (u16, Value) {
    post(
        sim,
        "/api/v1/namespaces/cratedb/pods/crate-data-hot-alpha-0:4200/proxy/_sql",
        json!({ "stmt": stmt }),
        true,
    )
    .await
}

async fn node_count(sim: &Sim) -> i64 {
    sql(sim, "SELECT count(*) FROM sys.nodes").await.1["rows"][0][0]
        .as_i64()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn api_error_bursts_fail_the_next_matching_requests() {
    let sim = sim();
    inject(
        &sim,
        json!([{"kind": "api_error", "verb": "DELETE", "resource": "pods", "code": 503, "count": 2}]),
    )
    .await;
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    // Reads are not affected.
    pods.get("crate-data-hot-alpha-0").await.unwrap();
    for _ in 0..2 {
        let err = pods
            .delete("crate-data-hot-alpha-0", &DeleteParams::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 503 && s.reason == "ServiceUnavailable"),
            "{err:?}"
        );
    }
    pods.delete("crate-data-hot-alpha-0", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn bad_fault_requests_are_refused_with_the_reason() {
    let sim = sim();
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "meteor"}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("meteor"), "{body}");
    let (status, body) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "node_crash", "namespace": "cratedb", "cluster": "nope", "node": "x"}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("cratedb/nope"),
        "{body}"
    );
    let (status, _) = post(
        &sim,
        "/_sim/faults",
        json!({"faults": [{"kind": "api_error", "code": 418, "count": 1}]}),
        false,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(start_paused = true)]
async fn a_statement_can_be_made_to_fail_with_a_cratedb_error() {
    let sim = sim();
    inject(
        &sim,
        json!([{"kind": "statement_fails", "namespace": "cratedb", "cluster": "alpha",
        "pattern": "DECOMMISSION", "code": 5000, "message": "SQLParseException[boom]"}]),
    )
    .await;
    let (status, body) = sql(&sim, "ALTER CLUSTER DECOMMISSION 'data-hot-2'").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], 5000);
    assert_eq!(node_count(&sim).await, 3, "nothing was decommissioned");
}

#[tokio::test(start_paused = true)]
async fn a_crashed_node_restarts_its_container_and_rejoins() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    let uid = pods.get("crate-data-hot-alpha-1").await.unwrap().uid();
    inject(
        &sim,
        json!([{"kind": "node_crash", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-1"}]),
    )
    .await;
    assert_eq!(node_count(&sim).await, 2);
    let mut restarted = None;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pod = pods.get("crate-data-hot-alpha-1").await.unwrap();
        let status = pod.status.clone().unwrap().container_statuses.unwrap().remove(0);
        if status.restart_count == 1 && status.ready && node_count(&sim).await == 3 {
            restarted = Some(pod);
            break;
        }
    }
    let pod = restarted.expect("the container restarted and the node rejoined");
    assert_eq!(pod.uid(), uid, "a container restart keeps the pod");
}

#[tokio::test(start_paused = true)]
async fn a_node_that_never_rejoins_keeps_its_pod_unready_until_released() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(Client::new(sim.router(), "cratedb"));
    inject(&sim, json!([{"kind": "node_never_rejoins", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-2"}])).await;
    pods.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();
    let ready = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| c[0].ready)
    };
    tokio::time::sleep(Duration::from_secs(600)).await;
    let pod = pods.get("crate-data-hot-alpha-2").await.unwrap();
    assert!(
        pod.metadata.deletion_timestamp.is_none() && !ready(&pod),
        "replaced but never Ready"
    );
    assert_eq!(node_count(&sim).await, 2);
    inject(
        &sim,
        json!([{"kind": "node_rejoins", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-2"}]),
    )
    .await;
    let mut back = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if ready(&pods.get("crate-data-hot-alpha-2").await.unwrap()) && node_count(&sim).await == 3 {
            back = true;
            break;
        }
    }
    assert!(back);
}
