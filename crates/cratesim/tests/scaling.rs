//! Scaling as a real cluster does it, in-process under tokio's paused clock: kube-rs changes the
//! StatefulSet scale or the `CrateDB` resource, and SQL by the direct route (Basic auth) shows
//! what CrateDB sees: a node added on scale-out joins and gets shards, a node removed on scale-in
//! leaves for good (with or without the operator's deallocation first), and suspend/resume brings
//! the same nodes back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
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

fn sim(dc_util_hook: bool) -> Sim {
    Sim::new(Clock::new(1.0), &[common::shape("alpha", dc_util_hook, PASSWORD)]).unwrap()
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

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `spec.nodes.data[0].replicas` of the resource, as the operator's own tests patch it.
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

/// Polls once per simulated second until `done` holds for a reading (and returns it), or
/// panics naming `what` with the last reading.
async fn wait_for(sim: &Sim, what: &str, mut done: impl FnMut(&Reading) -> bool) -> Reading {
    let mut last = None;
    for _ in 0..3600 {
        let now = reading(sim, POD, PASSWORD).await;
        if done(&now) {
            return now;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("never {what}: last {last:?}");
}

fn settled(nodes: &[&str], health: &str) -> impl FnMut(&Reading) -> bool {
    let nodes = names(nodes);
    let health = health.to_string();
    move |r| r.nodes == nodes && r.health == health && r.moving == 0
}

async fn sts_replicas(sim: &Sim) -> i32 {
    let sets: Api<StatefulSet> = Api::default_namespaced(client(sim));
    sets.get(STS).await.unwrap().spec.replicas.unwrap()
}

#[tokio::test(start_paused = true)]
async fn statefulset_scale_out_adds_a_node_with_shards_and_scale_in_leaves_it_out_for_good() {
    let sim = sim(false);
    let sets: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    sets.patch_scale(
        STS,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    let four = ["data-hot-0", "data-hot-1", "data-hot-2", "data-hot-3"];
    wait_for(&sim, "4 nodes and GREEN", settled(&four, "GREEN")).await;
    let on_new = copies_on(&sim, POD, PASSWORD, "data-hot-3").await;
    // 20 copies over 4 nodes: the balancer gives the new node its share.
    assert_eq!(on_new, 5, "the new node got shards");
    let row = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT hostname, roles FROM sys.nodes WHERE name = 'data-hot-3'",
        json!([]),
    )
    .await;
    assert_eq!(
        row["rows"][0],
        json!(["crate-data-hot-alpha-3", ["master_eligible", "data"]])
    );
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    let pod = pods.get("crate-data-hot-alpha-3").await.unwrap();
    assert!(
        pod.status
            .unwrap()
            .container_statuses
            .unwrap()
            .iter()
            .any(|s| s.name == "crate" && s.ready),
        "Ready once its node answers"
    );
    assert_eq!(
        sim.report()["clusters"][0]["max_unavailable_nodes"],
        0,
        "a joining node is not a node down"
    );

    // Scale in directly, without deallocating first: the node stops with its copies.
    sets.patch_scale(
        STS,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap();
    let three = ["data-hot-0", "data-hot-1", "data-hot-2"];
    let gone = wait_for(&sim, "data-hot-3 gone", |r| r.nodes == names(&three)).await;
    assert_eq!(gone.health, "YELLOW", "its copies are missing: replicas promoted");
    // Still YELLOW within unassigned.node_left.delayed_timeout (1 min), then rebuilt on the
    // three nodes left: GREEN, and the node stays out.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(reading(&sim, POD, PASSWORD).await.health, "YELLOW");
    wait_for(&sim, "3 nodes and GREEN", settled(&three, "GREEN")).await;
    assert_eq!(copies_on(&sim, POD, PASSWORD, "data-hot-3").await, 0);
    assert!(pods.get_opt("crate-data-hot-alpha-3").await.unwrap().is_none());
    assert_eq!(
        sim.report()["clusters"][0]["max_unavailable_nodes"],
        1,
        "the node that left counted while it stopped, not after it was gone for good"
    );
    assert!(!health_timeline(&sim).iter().any(|h| h == "RED"));
    // The operator stand-in left the StatefulSet alone: the resource still says 3.
    assert_eq!(sts_replicas(&sim).await, 3);
}

#[tokio::test(start_paused = true)]
async fn scale_in_without_deallocation_of_a_table_without_replicas_is_red() {
    let sim = sim(false);
    sql(
        &sim,
        POD,
        PASSWORD,
        "ALTER TABLE doc.events SET (number_of_replicas = 0)",
        json!([]),
    )
    .await;
    wait_for(
        &sim,
        "GREEN",
        settled(&["data-hot-0", "data-hot-1", "data-hot-2"], "GREEN"),
    )
    .await;
    let held = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT count(*) FROM sys.shards WHERE table_name = 'events' AND node['name'] = 'data-hot-2'",
        json!([]),
    )
    .await["rows"][0][0]
        .as_i64()
        .unwrap();
    assert!(held > 0, "data-hot-2 holds the only copy of some events shards");
    let sets: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    sets.patch_scale(
        STS,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 2}})),
    )
    .await
    .unwrap();
    let two = names(&["data-hot-0", "data-hot-1"]);
    wait_for(&sim, "data-hot-2 gone", |r| r.nodes == two).await;
    // Long after the delayed timeout: the other tables are whole again, events is not.
    tokio::time::sleep(Duration::from_secs(600)).await;
    let now = reading(&sim, POD, PASSWORD).await;
    assert_eq!((now.nodes, now.health.as_str()), (two, "RED"));
    let missing = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT table_name, health, missing_shards FROM sys.health ORDER BY table_name",
        json!([]),
    )
    .await;
    assert_eq!(missing["rows"][0], json!(["events", "RED", held]), "{missing}");
    assert!(
        missing["rows"].as_array().unwrap()[1..]
            .iter()
            .all(|r| r[1] == "GREEN"),
        "{missing}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_made_before_the_operator_first_looked_is_still_acted_on() {
    let sim = sim(false);
    // No await since creation: the controllers have not run a pass yet.
    {
        let mut store = sim.server.store();
        let mut cr = store.get("cratedbs", "cratedb", "alpha").cloned().unwrap();
        cr["spec"]["nodes"]["data"][0]["replicas"] = json!(4);
        store
            .replace("cratedbs", "cratedbs.cloud.crate.io", "cratedb", "alpha", cr)
            .unwrap();
    }
    let four = ["data-hot-0", "data-hot-1", "data-hot-2", "data-hot-3"];
    wait_for(&sim, "4 nodes and GREEN", settled(&four, "GREEN")).await;
    assert_eq!(sts_replicas(&sim).await, 4);
}

#[tokio::test(start_paused = true)]
async fn the_operator_waits_while_tables_have_too_many_replicas_to_scale_in() {
    let sim = sim(false);
    sql(
        &sim,
        POD,
        PASSWORD,
        "ALTER TABLE doc.events SET (number_of_replicas = 2)",
        json!([]),
    )
    .await;
    wait_for(
        &sim,
        "GREEN",
        settled(&["data-hot-0", "data-hot-1", "data-hot-2"], "GREEN"),
    )
    .await;
    patch_data_replicas(&sim, 2).await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        sts_replicas(&sim).await,
        3,
        "the replica guard holds the scale-in"
    );
    let cr = cratedbs(&sim).get("alpha").await.unwrap();
    let progress: Value = serde_json::from_str(
        cr.annotations()
            .get("operator.cloud.crate.io/cluster_update.scale")
            .expect("the handler's progress annotation"),
    )
    .unwrap();
    assert_eq!(
        progress["message"],
        "Some tables have too many replicas to scale down"
    );
    assert!(progress["retries"].as_u64().unwrap() >= 2, "{progress}");
}

#[tokio::test(start_paused = true)]
async fn suspend_and_resume_through_the_resource_bring_back_the_same_nodes() {
    // With the dc_util hook: it skips its decommission at 0 replicas, as the real one does.
    let sim = sim(true);
    let ids = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT name, id FROM sys.nodes ORDER BY name",
        json!([]),
    )
    .await["rows"]
        .clone();
    // One setting at each level: a full stop keeps only the persistent one.
    for stmt in [
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        "SET GLOBAL PERSISTENT \"cluster.graceful_stop.min_availability\" = 'full'",
    ] {
        sql(&sim, POD, PASSWORD, stmt, json!([])).await;
    }
    patch_data_replicas(&sim, 0).await;
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    let services: Api<Service> = Api::default_namespaced(client(&sim));
    let crs = cratedbs(&sim);
    let mut suspended = false;
    for _ in 0..3600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let left = pods.list(&Default::default()).await.unwrap().items.len();
        let health = crs.get("alpha").await.unwrap().data["status"]["crateDBStatus"]["health"].clone();
        let service = services.get_opt("crate-alpha").await.unwrap();
        if left == 0 && health == "SUSPENDED" && service.is_none() {
            suspended = true;
            break;
        }
    }
    assert!(suspended, "pods gone, client Service deleted, status SUSPENDED");
    assert_eq!(sts_replicas(&sim).await, 0);
    assert!(
        crs.get_opt("alpha").await.unwrap().is_some(),
        "the resource remains"
    );
    assert!(
        services.get_opt("crate-discovery-alpha").await.unwrap().is_some(),
        "the discovery Service stays"
    );
    let (status, _) = sql_http::sql_raw(&sim, POD, PASSWORD, "SELECT 1", json!([])).await;
    assert_eq!(status, 404, "no pod to proxy to");
    {
        let databases = sim.server.databases.lock();
        let model = databases
            .get(&("cratedb".to_string(), "alpha".to_string()))
            .unwrap();
        assert!(model.member_names().is_empty(), "every node stopped");
        assert!(model.node_has_departed("data-hot-0"));
        assert_eq!(model.nodes_not_serving(), 0, "departed nodes are not down");
    }
    // dc_util skipped: no DECOMMISSION was sent.
    let writes = sim.report()["clusters"][0]["sql_writes"].clone();
    assert!(!writes.to_string().contains("DECOMMISSION"), "{writes}");

    patch_data_replicas(&sim, 3).await;
    let three = ["data-hot-0", "data-hot-1", "data-hot-2"];
    // The proxy answers 404 until the pod is back, then 503 until its node runs.
    let mut back = None;
    for _ in 0..3600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (status, _) = sql_http::sql_raw(&sim, POD, PASSWORD, "SELECT 1", json!([])).await;
        if status == 200 {
            let now = reading(&sim, POD, PASSWORD).await;
            if settled(&three, "GREEN")(&now) {
                back = Some(now);
                break;
            }
        }
    }
    assert!(back.is_some(), "the cluster came back GREEN with its three nodes");
    let ids_after = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT name, id FROM sys.nodes ORDER BY name",
        json!([]),
    )
    .await["rows"]
        .clone();
    assert_eq!(ids_after, ids, "the same nodes (names and ids) came back");
    let settings = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT settings['cluster']['routing']['allocation']['enable'], \
         settings['cluster']['graceful_stop']['min_availability'] FROM sys.cluster",
        json!([]),
    )
    .await["rows"][0]
        .clone();
    assert_eq!(
        settings,
        json!(["all", "FULL"]),
        "the transient hold did not survive the full stop; the persistent setting did"
    );
    let recovered = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT count(*) FROM sys.shards WHERE primary = true AND recovery['type'] = 'EXISTING_STORE'",
        json!([]),
    )
    .await["rows"][0][0]
        .as_i64()
        .unwrap();
    assert!(recovered > 0, "primaries recovered from the nodes' own disks");
    assert!(
        services.get_opt("crate-alpha").await.unwrap().is_some(),
        "Service back"
    );
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if crs.get("alpha").await.unwrap().data["status"]["crateDBStatus"]["health"] == "GREEN" {
            return;
        }
    }
    panic!("the resource's status never went back to GREEN");
}

/// CrateDB ≥ 4.4: an auto-expanding replica range counts only the data nodes the allocation
/// filters allow. Excluding one node of three shrinks a `0-all` table to one replica at once
/// (its copies on the excluded node are dropped, nothing to move), so the node drains; lifting
/// the exclusion brings the second replica back. A fixed count is not affected.
#[tokio::test(start_paused = true)]
async fn auto_expanded_replicas_shrink_over_excluded_nodes() {
    let sim = sim(false);
    let three = ["data-hot-0", "data-hot-1", "data-hot-2"];
    sql(
        &sim,
        POD,
        PASSWORD,
        "ALTER TABLE doc.events SET (number_of_replicas = '0-all')",
        json!([]),
    )
    .await;
    wait_for(&sim, "GREEN with 0-all", settled(&three, "GREEN")).await;
    assert_eq!(copies_per_shard(&sim).await, 3, "0-all on 3 nodes: 2 replicas");

    sql(
        &sim,
        POD,
        PASSWORD,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2'",
        json!([]),
    )
    .await;
    wait_for(&sim, "data-hot-2 drained, GREEN", |r| {
        r.health == "GREEN" && r.moving == 0
    })
    .await;
    assert_eq!(copies_per_shard(&sim).await, 2, "2 eligible nodes: 1 replica");
    assert_eq!(
        sql(
            &sim,
            POD,
            PASSWORD,
            "SELECT count(*) FROM sys.shards WHERE table_name = 'events' AND node['name'] = 'data-hot-2'",
            json!([]),
        )
        .await["rows"][0][0],
        json!(0),
        "no copy of events left on the excluded node"
    );

    sql(
        &sim,
        POD,
        PASSWORD,
        "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"",
        json!([]),
    )
    .await;
    wait_for(&sim, "GREEN again", settled(&three, "GREEN")).await;
    assert_eq!(copies_per_shard(&sim).await, 3, "back to 2 replicas");
}

/// The most copies any shard of `doc.events` has.
async fn copies_per_shard(sim: &Sim) -> i64 {
    let rows = sql(
        sim,
        POD,
        PASSWORD,
        "SELECT id, count(*) FROM sys.shards WHERE table_name = 'events' GROUP BY id",
        json!([]),
    )
    .await;
    rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[1].as_i64().unwrap())
        .max()
        .unwrap()
}

/// A cluster the operator manages carries kopf's finalizer and its diff base (the spec last
/// handled), rewritten once a change has been handled; an unmanaged one carries neither, and a
/// change of its resource is acted on by nobody.
#[tokio::test(start_paused = true)]
async fn the_operator_marks_what_it_manages_and_leaves_unmanaged_clusters_alone() {
    let sim = sim(false);
    let cr = cratedbs(&sim).get("alpha").await.unwrap();
    assert_eq!(
        cr.metadata.finalizers.clone().unwrap_or_default(),
        vec!["operator.cloud.crate.io/finalizer".to_string()]
    );
    let last = |cr: &DynamicObject| -> Value {
        let text = cr.annotations()["operator.cloud.crate.io/last"].clone();
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(
        last(&cr)["spec"],
        cr.data["spec"],
        "the diff base is the spec as created"
    );
    patch_data_replicas(&sim, 4).await;
    let four = ["data-hot-0", "data-hot-1", "data-hot-2", "data-hot-3"];
    wait_for(&sim, "4 nodes and GREEN", settled(&four, "GREEN")).await;
    let mut handled = None;
    for _ in 0..600 {
        let cr = cratedbs(&sim).get("alpha").await.unwrap();
        if last(&cr)["spec"]["nodes"]["data"][0]["replicas"] == 4 {
            handled = Some(cr);
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let handled = handled.expect("the diff base follows the handled change");
    assert_eq!(last(&handled)["spec"], handled.data["spec"]);

    let mut shape = common::shape("beta", false, PASSWORD);
    shape.operator = false;
    let unmanaged = Sim::new(Clock::new(1.0), &[shape]).unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cloud.crate.io", "v1", "CrateDB"),
        "cratedbs",
    );
    let crs: Api<DynamicObject> = Api::namespaced_with(client(&unmanaged), "cratedb", &resource);
    let cr = crs.get("beta").await.unwrap();
    assert!(
        cr.metadata.finalizers.clone().unwrap_or_default().is_empty(),
        "no finalizer"
    );
    assert!(
        !cr.annotations().contains_key("operator.cloud.crate.io/last"),
        "no diff base"
    );
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/spec/nodes/data/0/replicas", "value": 4}
    ]))
    .unwrap();
    crs.patch("beta", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    let sets: Api<StatefulSet> = Api::default_namespaced(client(&unmanaged));
    assert_eq!(
        sets.get("crate-data-hot-beta").await.unwrap().spec.replicas,
        Some(3),
        "nobody acted on the unmanaged resource"
    );
}
