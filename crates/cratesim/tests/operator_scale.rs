//! The operator stand-in's scale through the `CrateDB` resource as crate-operator runs it, in
//! process under tokio's paused clock: `before_cluster_update` labels the StatefulSets and holds
//! `cluster.routing.allocation.enable` at `primaries`, the scale patches every StatefulSet's
//! gateway items, and `after_cluster_update` resets the setting and removes the label, also when
//! the scale failed. Under that hold a scale-in whose replicas must leave the excluded nodes
//! stalls until the 4 h timeout (W1); one whose leaving nodes were emptied beforehand completes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

mod common;
mod sql_http;

use cratesim::clock::Clock;
use cratesim::serve::Sim;
use sql_http::{Reading, copies_on, health_timeline, reading, sql};

const PASSWORD: &str = "pw-alpha";
const POD: &str = "crate-data-hot-alpha-0";
const STS: &str = "crate-data-hot-alpha";
const PROGRESS: &str = "operator.cloud.crate.io/cluster_update.scale";
const OWNER: &str = "dc-util-routing-owner";

/// A cluster `alpha` with `data` nodes in group `hot` and the dc_util preStop hook.
fn sim(data: u32) -> Sim {
    let mut shape = common::shape("alpha", true, PASSWORD);
    shape.data_groups = vec![("hot".into(), data)];
    Sim::new(Clock::new(1.0), &[shape]).unwrap()
}

fn client(sim: &Sim) -> Client {
    Client::new(sim.router(), "cratedb")
}

fn cratedbs(sim: &Sim) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cloud.crate.io", "v1", "CrateDB"),
        "cratedbs",
    );
    Api::namespaced_with(client(sim), "cratedb", &resource)
}

async fn patch_data_replicas(sim: &Sim, replicas: u64) {
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/nodes/data/0/replicas", "value": replicas}
    ]))
    .unwrap();
    cratedbs(sim)
        .patch("alpha", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap();
}

/// The scale handler's progress annotation, if present.
async fn progress(sim: &Sim) -> Option<Value> {
    let cr = cratedbs(sim).get("alpha").await.unwrap();
    cr.annotations()
        .get(PROGRESS)
        .map(|p| serde_json::from_str(p).unwrap())
}

/// Whether the change to `replicas` has been handled: the diff base says so and no progress
/// is left.
async fn handled(sim: &Sim, replicas: u64) -> bool {
    let cr = cratedbs(sim).get("alpha").await.unwrap();
    let last: Value = serde_json::from_str(&cr.annotations()["operator.cloud.crate.io/last"]).unwrap();
    last["spec"]["nodes"]["data"][0]["replicas"] == replicas && !cr.annotations().contains_key(PROGRESS)
}

async fn statefulset(sim: &Sim) -> StatefulSet {
    let sets: Api<StatefulSet> = Api::default_namespaced(client(sim));
    sets.get(STS).await.unwrap()
}

fn owner_label(sts: &StatefulSet) -> Option<String> {
    sts.labels().get(OWNER).cloned()
}

/// The `-Cgateway.*` items of a command line.
fn gateway(command: &[String]) -> Vec<String> {
    command
        .iter()
        .filter(|a| a.starts_with("-Cgateway."))
        .cloned()
        .collect()
}

fn template_gateway(sts: &StatefulSet) -> Vec<String> {
    let containers = &sts.spec.template.spec.as_ref().unwrap().containers;
    gateway(
        containers
            .iter()
            .find(|c| c.name == "crate")
            .unwrap()
            .command
            .as_ref()
            .unwrap(),
    )
}

async fn pod_gateway(sim: &Sim, pod: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::default_namespaced(client(sim));
    let containers = pods.get(pod).await.unwrap().spec.unwrap().containers;
    gateway(
        containers
            .iter()
            .find(|c| c.name == "crate")
            .unwrap()
            .command
            .as_ref()
            .unwrap(),
    )
}

async fn allocation_enable(sim: &Sim) -> String {
    sql(
        sim,
        POD,
        PASSWORD,
        "SELECT settings['cluster']['routing']['allocation']['enable'] FROM sys.cluster",
        json!([]),
    )
    .await["rows"][0][0]
        .as_str()
        .unwrap()
        .to_string()
}

async fn excluded(sim: &Sim) -> String {
    sql(
        sim,
        POD,
        PASSWORD,
        "SELECT settings['cluster']['routing']['allocation']['exclude']['_name'] FROM sys.cluster",
        json!([]),
    )
    .await["rows"][0][0]
        .as_str()
        .unwrap()
        .to_string()
}

fn writes(sim: &Sim) -> Vec<String> {
    sim.report()["clusters"][0]["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["stmt"].as_str().unwrap().trim().to_string())
        .collect()
}

/// The positions of `stmts` in the writes, in order, each after the previous one.
fn in_order(writes: &[String], stmts: &[&str]) -> bool {
    let mut from = 0;
    for stmt in stmts {
        match writes[from..].iter().position(|w| w == stmt) {
            Some(at) => from += at + 1,
            None => return false,
        }
    }
    true
}

/// Neither level of `cluster.routing.allocation.enable` is set (the report's settings).
fn no_allocation_setting(sim: &Sim) -> bool {
    let settings = &sim.report()["clusters"][0]["settings"];
    settings["transient"]
        .get("cluster.routing.allocation.enable")
        .is_none()
        && settings["persistent"]
            .get("cluster.routing.allocation.enable")
            .is_none()
}

const HOLD: [&str; 2] = [
    "SET GLOBAL TRANSIENT cluster.routing.allocation.enable = 'primaries'",
    "SET GLOBAL PERSISTENT cluster.routing.allocation.enable = 'primaries'",
];
const ACK: &str = "UPDATE sys.node_checks SET acknowledged = TRUE WHERE id = 1";
const RESET: &str = "RESET GLOBAL cluster.routing.allocation.enable";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn settled(r: &Reading, nodes: &[&str]) -> bool {
    r.nodes == names(nodes) && r.health == "GREEN" && r.moving == 0
}

/// Check 1 (passed, acknowledged) per node name.
async fn check_1(sim: &Sim) -> BTreeMap<String, (bool, bool)> {
    let ids = sql(sim, POD, PASSWORD, "SELECT id, name FROM sys.nodes", json!([])).await;
    let name_of: BTreeMap<String, String> = ids["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    let rows = sql(
        sim,
        POD,
        PASSWORD,
        "SELECT node_id, passed, acknowledged FROM sys.node_checks WHERE id = 1",
        json!([]),
    )
    .await;
    rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                name_of[r[0].as_str().unwrap()].clone(),
                (r[1].as_bool().unwrap(), r[2].as_bool().unwrap()),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_scale_out_holds_primaries_patches_every_command_line_and_resets_at_the_end() {
    let sim = sim(3);
    patch_data_replicas(&sim, 4).await;
    let four = ["data-hot-0", "data-hot-1", "data-hot-2", "data-hot-3"];
    let (mut label_seen, mut hold_seen) = (None, false);
    let mut done = false;
    for _ in 0..600 {
        let sts = statefulset(&sim).await;
        label_seen = label_seen.or(owner_label(&sts));
        hold_seen |= allocation_enable(&sim).await == "primaries";
        if handled(&sim, 4).await {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(done, "the update was handled");
    let label = label_seen.expect("every StatefulSet was labelled during the update");
    let (owner, seconds) = label.split_once('-').unwrap();
    assert_eq!(owner, "operator");
    assert!(seconds.parse::<i64>().unwrap() > 1_700_000_000, "{label}");
    assert!(hold_seen, "allocation was held at primaries during the update");
    let sts = statefulset(&sim).await;
    assert_eq!(owner_label(&sts), None, "the label is gone");
    assert_eq!(sts.spec.replicas, Some(4));
    assert_eq!(allocation_enable(&sim).await, "all");
    assert!(
        no_allocation_setting(&sim),
        "{}",
        sim.report()["clusters"][0]["settings"]
    );
    let writes = writes(&sim);
    assert!(in_order(&writes, &[HOLD[0], HOLD[1], ACK, RESET]), "{writes:?}");

    // The template has the new totals; the pods created before keep theirs, the new one was
    // created from the patched template.
    let new_gateway = [
        "-Cgateway.recover_after_data_nodes=3",
        "-Cgateway.expected_data_nodes=4",
    ];
    assert_eq!(template_gateway(&sts), new_gateway);
    assert_eq!(pod_gateway(&sim, "crate-data-hot-alpha-3").await, new_gateway);
    assert_eq!(
        pod_gateway(&sim, POD).await,
        [
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3"
        ]
    );
    // So check 1 fails on the three old nodes, acknowledged by the operator, and passes on
    // the new one.
    let checks = check_1(&sim).await;
    assert_eq!(checks["data-hot-0"], (false, true), "{checks:?}");
    assert!(checks["data-hot-3"].0, "{checks:?}");

    // Replicas rebalance onto the new node once the hold is gone.
    for _ in 0..600 {
        if settled(&reading(&sim, POD, PASSWORD).await, &four)
            && copies_on(&sim, POD, PASSWORD, "data-hot-3").await == 5
        {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the new node never got its share of the copies");
}

/// W1: `before_cluster_update` holds `primaries`, so the replicas on the excluded node cannot
/// move anywhere; the handler retries "Pending allocation" until the 4 h `SCALING_TIMEOUT`,
/// fails (kopf's progress shows `failure`), and `after_cluster_update` still resets the setting
/// and removes the label. The exclusion stays, so the node drains afterwards, but the
/// StatefulSet keeps its 4 replicas.
#[tokio::test(start_paused = true)]
async fn a_scale_in_that_must_move_replicas_stalls_under_the_hold_until_the_timeout() {
    let sim = sim(4);
    let four = ["data-hot-0", "data-hot-1", "data-hot-2", "data-hot-3"];
    assert!(copies_on(&sim, POD, PASSWORD, "data-hot-3").await > 0);
    patch_data_replicas(&sim, 3).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    let waiting = progress(&sim).await.expect("the scale handler is waiting");
    assert_eq!(waiting["message"], "Pending allocation", "{waiting}");
    assert_eq!(
        (waiting["success"].clone(), waiting["failure"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(excluded(&sim).await, "data-hot-3");
    assert_eq!(allocation_enable(&sim).await, "primaries");
    assert!(owner_label(&statefulset(&sim).await).is_some());
    assert!(
        copies_on(&sim, POD, PASSWORD, "data-hot-3").await > 0,
        "its replicas cannot leave"
    );
    let explained = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT explanation, decisions FROM sys.allocations WHERE \"primary\" = false AND current_state = 'STARTED'",
        json!([]),
    )
    .await;
    let row = &explained["rows"][0];
    assert_eq!(
        row[0],
        "cannot move shard to another node, even though it is not allowed to remain on its current node",
        "{explained}"
    );
    assert!(
        row[1].to_string().contains(
            "replica allocations are forbidden due to cluster setting [cluster.routing.allocation.enable=primaries]"
        ),
        "{explained}"
    );

    // Just before the timeout: still waiting, nothing scaled.
    tokio::time::sleep(Duration::from_secs(4 * 3600 - 660)).await;
    assert_eq!(progress(&sim).await.unwrap()["message"], "Pending allocation");
    assert_eq!(statefulset(&sim).await.spec.replicas, Some(4));
    // The next run after 4 h fails the handler: kopf records the failure until
    // after_cluster_update (which polls every 30 s) has run; then every progress goes.
    let mut failure = None;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match progress(&sim).await {
            Some(p) if p["failure"] == true => failure = Some(p),
            None if failure.is_some() => break,
            _ => {}
        }
    }
    let failure = failure.expect("the progress showed the failure");
    assert_eq!(failure["success"], false);
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.starts_with("ScaleSubHandler.handle has timed out after 4:00:"),
        "{message}"
    );
    assert!(
        failure.get("stopped").is_some() && failure.get("delayed").is_none(),
        "{failure}"
    );
    assert!(handled(&sim, 3).await, "the failed change counts as handled");
    assert_eq!(
        allocation_enable(&sim).await,
        "all",
        "after_cluster_update reset the hold"
    );
    assert!(no_allocation_setting(&sim));
    assert_eq!(
        owner_label(&statefulset(&sim).await),
        None,
        "and removed the label"
    );
    let writes = writes(&sim);
    assert!(in_order(&writes, &[HOLD[0], HOLD[1], RESET]), "{writes:?}");
    assert!(
        !writes.iter().any(|w| w == ACK),
        "the scale never finished: {writes:?}"
    );

    // The exclusion the scale wrote stays (TRANSIENT): data-hot-3 now drains, still a member.
    assert_eq!(excluded(&sim).await, "data-hot-3");
    for _ in 0..600 {
        if copies_on(&sim, POD, PASSWORD, "data-hot-3").await == 0
            && settled(&reading(&sim, POD, PASSWORD).await, &four)
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(copies_on(&sim, POD, PASSWORD, "data-hot-3").await, 0);
    assert!(settled(&reading(&sim, POD, PASSWORD).await, &four));
    assert_eq!(statefulset(&sim).await.spec.replicas, Some(4), "never scaled in");
    assert!(!health_timeline(&sim).iter().any(|h| h == "RED"));
}

/// Someone emptied the leaving node before the resource was patched: the scale-in needs no
/// replica to move and completes under the operator's hold.
#[tokio::test(start_paused = true)]
async fn a_scale_in_drained_beforehand_completes_under_the_hold() {
    let sim = sim(4);
    sql(
        &sim,
        POD,
        PASSWORD,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-3'",
        json!([]),
    )
    .await;
    for _ in 0..600 {
        if copies_on(&sim, POD, PASSWORD, "data-hot-3").await == 0
            && reading(&sim, POD, PASSWORD).await.moving == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(copies_on(&sim, POD, PASSWORD, "data-hot-3").await, 0);
    patch_data_replicas(&sim, 3).await;
    let three = ["data-hot-0", "data-hot-1", "data-hot-2"];
    let mut healths = Vec::new();
    let mut done = false;
    for _ in 0..900 {
        healths.push(reading(&sim, POD, PASSWORD).await.health);
        if handled(&sim, 3).await {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(done, "the scale-in completed");
    assert!(settled(&reading(&sim, POD, PASSWORD).await, &three));
    assert!(healths.iter().all(|h| h == "GREEN"), "{healths:?}");
    let sts = statefulset(&sim).await;
    assert_eq!(sts.spec.replicas, Some(3));
    assert_eq!(
        template_gateway(&sts),
        [
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3"
        ]
    );
    assert_eq!(excluded(&sim).await, "", "the operator removed the leaving name");
    assert_eq!(allocation_enable(&sim).await, "all");
    assert_eq!(owner_label(&sts), None);
    let writes = writes(&sim);
    assert!(in_order(&writes, &[HOLD[0], HOLD[1], ACK, RESET]), "{writes:?}");
    assert!(
        !writes
            .iter()
            .any(|w| w.starts_with("SET GLOBAL \"cluster.routing.allocation.exclude._name\" = 'data-hot-3'")),
        "already excluded: the operator wrote no exclusion: {writes:?}"
    );
    assert_eq!(sim.report()["clusters"][0]["max_unavailable_nodes"], 1);
}
