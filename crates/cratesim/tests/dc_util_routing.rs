//! dc_util's hooks and `cluster.routing.allocation.enable`, by upstream's rule (crate/crate-operator,
//! `utils/dc_util/dc_util.go`, `operatorOwnsRoutingAllocation`): on a cluster whose pods have
//! dc_util's preStop hook and its `--reset-routing` postStart hook, a pod deleted with kube-rs
//! while its StatefulSet's `dc-util-routing-owner` label is absent, names another owner than
//! `operator` (`cratectl-…`), or is stale, has its preStop set the TRANSIENT setting to
//! `primaries` before the decommission, and the replacement pod's postStart RESET it; with a
//! fresh `operator-<unix seconds>` neither hook writes anything. In-process under tokio's paused
//! clock, over HTTP: the Kubernetes API and the report through the router, SQL by the direct
//! route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;
mod sql_http;

use cratesim::clock::Clock;
use cratesim::serve::Sim;
use sql_http::{reading, sql};

const PASSWORD: &str = "pw-alpha";
const STATEFULSET: &str = "crate-data-hot-alpha";
/// The pod that is deleted.
const POD: &str = "crate-data-hot-alpha-2";
/// A pod that stays: every statement of the test goes here.
const OTHER: &str = "crate-data-hot-alpha-0";
const SET_PRIMARIES: &str = "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries';";
const RESET: &str = "RESET GLOBAL cluster.routing.allocation.enable;";

/// Cluster `alpha` with both of dc_util's hooks.
fn sim() -> Sim {
    let mut shape = common::shape("alpha", true, PASSWORD);
    shape.dc_util_post_start = true;
    Sim::new(Clock::new(1.0), &[shape]).unwrap()
}

fn client(sim: &Sim) -> Client {
    Client::new(sim.router(), "cratedb")
}

/// Sets (or with `None` removes) the routing-owner label on the data StatefulSet.
async fn label(sim: &Sim, value: Option<String>) {
    let api: Api<StatefulSet> = Api::default_namespaced(client(sim));
    let patch = json!({"metadata": {"labels": {"dc-util-routing-owner": value}}});
    api.patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// `operator-<unix seconds>` for the simulated now shifted by `offset_s`.
fn operator_label(sim: &Sim, offset_s: i64) -> String {
    format!("operator-{}", sim.server.clock.now().as_second() + offset_s)
}

/// The report, as `GET /_sim/report` answers it.
async fn report(sim: &Sim) -> Value {
    let request = Request::get("/_sim/report").body(Body::empty()).unwrap();
    let response = sim.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `(hook, pod, stmt, status)` of each statement dc_util's hooks sent, in order.
async fn hook_writes(sim: &Sim) -> Vec<(String, String, String, Value)> {
    let report = report(sim).await;
    report["clusters"][0]["hook_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["hook"].as_str().unwrap().to_string(),
                w["pod"].as_str().unwrap().to_string(),
                w["stmt"].as_str().unwrap().to_string(),
                w["status"].clone(),
            )
        })
        .collect()
}

/// The effective `cluster.routing.allocation.enable`, read through [`OTHER`].
async fn allocation(sim: &Sim) -> String {
    sql(
        sim,
        OTHER,
        PASSWORD,
        "SELECT settings['cluster']['routing']['allocation']['enable'] FROM sys.cluster",
        json!([]),
    )
    .await["rows"][0][0]
        .as_str()
        .unwrap()
        .to_string()
}

/// Deletes [`POD`] and waits until its replacement is Ready and its node is back with the
/// cluster GREEN; returns every allocation value seen meanwhile.
async fn restart_pod(sim: &Sim) -> Vec<String> {
    let pods: Api<Pod> = Api::default_namespaced(client(sim));
    let old = pods.get(POD).await.unwrap().uid().unwrap();
    pods.delete(POD, &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let value = allocation(sim).await;
        if seen.last() != Some(&value) {
            seen.push(value);
        }
        let replaced = pods.get_opt(POD).await.unwrap().is_some_and(|pod| {
            pod.uid().as_deref() != Some(old.as_str())
                && pod
                    .status
                    .and_then(|s| s.container_statuses)
                    .is_some_and(|c| c.iter().all(|c| c.ready))
        });
        let now = reading(sim, OTHER, PASSWORD).await;
        if replaced && now.nodes.len() == 3 && now.health == "GREEN" && now.moving == 0 {
            return seen;
        }
    }
    panic!("{POD} was not replaced and back in the cluster; allocation seen: {seen:?}");
}

/// A label dc_util does not honour: the preStop holds allocation at `primaries` before its
/// decommission, and the replacement pod's postStart resets it, so the setting is gone again.
async fn unowned(value: Option<fn(&Sim) -> String>) {
    let sim = sim();
    let before = report(&sim).await["clusters"][0]["settings"].clone();
    if let Some(value) = value {
        label(&sim, Some(value(&sim))).await;
    }
    let seen = restart_pod(&sim).await;
    assert!(
        seen.iter().any(|v| v == "primaries"),
        "held while the node was away: {seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("all"), "{seen:?}");
    let writes = hook_writes(&sim).await;
    assert_eq!(
        writes,
        [
            ("preStop".into(), POD.into(), SET_PRIMARIES.into(), json!(200)),
            ("postStart".into(), POD.into(), RESET.into(), json!(200)),
        ],
    );
    let report = report(&sim).await;
    let cluster = &report["clusters"][0];
    let times: Vec<&str> = cluster["hook_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["at"].as_str().unwrap())
        .collect();
    assert!(times[0] < times[1], "{times:?}");
    assert_eq!(
        cluster["settings"], before,
        "the RESET cleared what the preStop set"
    );
    // CrateDB ran both, on the pod's own node.
    let on_node: Vec<(&str, &str)> = cluster["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["node"].as_str().unwrap(), w["stmt"].as_str().unwrap()))
        .collect();
    assert_eq!(
        on_node,
        [("data-hot-2", SET_PRIMARIES), ("data-hot-2", RESET)],
        "{cluster:#}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_label_the_hooks_hold_and_reset_allocation() {
    unowned(None).await;
}

#[tokio::test(start_paused = true)]
async fn a_cratectl_owner_is_not_honoured() {
    unowned(Some(|sim| {
        format!("cratectl-{}", sim.server.clock.now().as_second())
    }))
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_stale_operator_label_is_not_honoured() {
    unowned(Some(|sim| operator_label(sim, -3 * 3600))).await;
}

#[tokio::test(start_paused = true)]
async fn a_fresh_operator_label_keeps_both_hooks_off_the_setting() {
    let sim = sim();
    let before = report(&sim).await["clusters"][0]["settings"].clone();
    label(&sim, Some(operator_label(&sim, 0))).await;
    let seen = restart_pod(&sim).await;
    assert_eq!(seen, ["all"], "never held by the hook");
    assert_eq!(
        hook_writes(&sim).await,
        [],
        "the hooks wrote no allocation setting"
    );
    let report = report(&sim).await;
    assert_eq!(report["clusters"][0]["settings"], before);
    // The decommission still ran: the node left and came back.
    let uids = report["clusters"][0]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == POD)
        .unwrap()["uids"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(uids, 2);
}

#[tokio::test(start_paused = true)]
async fn a_post_start_that_finds_the_operator_owning_leaves_the_held_value() {
    // The preStop runs without a label and holds allocation; the operator labels the
    // StatefulSet before the replacement starts: its postStart keeps its hands off (upstream
    // keeps the lock file for a later postStart), so the value stays held.
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    pods.delete(POD, &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if !hook_writes(&sim).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let writes = hook_writes(&sim).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "preStop");
    label(&sim, Some(operator_label(&sim, 0))).await;
    let mut back = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = reading(&sim, OTHER, PASSWORD).await;
        if now.nodes.len() == 3 {
            back = true;
            break;
        }
    }
    assert!(back, "the node came back");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        hook_writes(&sim).await.len(),
        1,
        "no RESET while the operator owns it"
    );
    assert_eq!(allocation(&sim).await, "primaries");
}

/// `dc-util-disabled=true` on the StatefulSet: the preStop exits before any SQL (upstream's
/// `getDisabledFromLabels`, read right after the replica count): no allocation write, no lock
/// file, no decommission, so the node stops on SIGTERM with its copies (YELLOW while away), and
/// the replacement's postStart, finding no lock file, writes nothing either.
#[tokio::test(start_paused = true)]
async fn a_disabled_dc_util_sends_no_sql_from_either_hook() {
    let sim = sim();
    let before = report(&sim).await["clusters"][0]["settings"].clone();
    let api: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    let patch = json!({"metadata": {"labels": {"dc-util-disabled": "true"}}});
    api.patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    pods.delete(POD, &DeleteParams::default()).await.unwrap();
    // Without a decommission the node is gone within the shutdown delay, its copies missing.
    let mut away = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = reading(&sim, OTHER, PASSWORD).await;
        if now.nodes.len() == 2 {
            away = Some(now);
            break;
        }
    }
    let away = away.expect("the node stopped");
    assert_eq!(away.health, "YELLOW", "stopped without moving its shards");
    let mut back = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(allocation(&sim).await, "all", "never held by the hook");
        let now = reading(&sim, OTHER, PASSWORD).await;
        if now.nodes.len() == 3 && now.health == "GREEN" && now.moving == 0 {
            back = true;
            break;
        }
    }
    assert!(back, "the replacement's node came back");
    assert_eq!(hook_writes(&sim).await, [], "neither hook sent SQL");
    let report = report(&sim).await;
    let cluster = &report["clusters"][0];
    assert_eq!(cluster["settings"], before);
    assert_eq!(
        cluster["sql_writes"],
        json!([]),
        "no DECOMMISSION, no graceful_stop or allocation write"
    );
}

/// Upstream's postStart does not read `dc-util-disabled`: a lock file an earlier preStop left
/// is still reset, though the label was set in between.
#[tokio::test(start_paused = true)]
async fn a_post_start_resets_a_held_value_even_when_disabled_since() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    pods.delete(POD, &DeleteParams::default()).await.unwrap();
    for _ in 0..100 {
        if !hook_writes(&sim).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hook_writes(&sim).await.len(), 1, "the preStop held allocation");
    let api: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    let patch = json!({"metadata": {"labels": {"dc-util-disabled": "true"}}});
    api.patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if hook_writes(&sim).await.len() == 2 {
            break;
        }
    }
    let writes = hook_writes(&sim).await;
    assert_eq!(
        writes
            .iter()
            .map(|w| (w.0.as_str(), w.2.as_str()))
            .collect::<Vec<_>>(),
        [("preStop", SET_PRIMARIES), ("postStart", RESET)]
    );
    assert_eq!(allocation(&sim).await, "all");
}
