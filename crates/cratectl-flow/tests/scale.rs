//! The scale against cratesim, asserting on its report and on what the simulator saw: 3→5 and
//! 5→3 data nodes in direct and operator mode with at most one node departing at a time, no
//! copy lost, our exclusions gone and someone else's kept; a drain that cannot finish fails with
//! CrateDB's explanation and leaves nothing behind; cancel during the drain cleans up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Setup, TestEngine};
use cratectl_core::op::report::{ClusterState, RequestState};
use cratectl_core::scale::plan::{Mode, Request};
use cratectl_core::scale::report::{NodeResult, ScaleClusterReport, ScaleReport};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Control, Gate};
use cratectl_flow::ops::scale::model::{SCALE_REQUEST, ScaleOptions, ScaleRequest};
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;
use serde_json::Value;

fn shape(name: &str, managed: bool) -> ClusterShape {
    let mut shape = ClusterShape::new(name, "cratedb");
    shape.operator = managed;
    shape
}

fn request(setup: &Setup, id: &str, name: &str, targets: &[(&str, u64)], mode: Mode) -> ScaleRequest {
    ScaleRequest {
        request_id: id.into(),
        target: setup.target.clone(),
        clusters: vec![ClusterRef {
            namespace: "cratedb".into(),
            resource: name.into(),
            name: name.into(),
        }],
        options: ScaleOptions {
            request: Request {
                targets: targets.iter().map(|(g, n)| (g.to_string(), *n)).collect(),
                mode,
                force_direct: false,
                gateway_patch: true,
            },
            gate: Gate {
                polls: 3,
                interval: Duration::from_millis(100),
            },
            ..ScaleOptions::default()
        },
    }
}

async fn start(setup: &Setup, request: &ScaleRequest) {
    setup
        .restarts
        .start(SCALE_REQUEST, &request.request_id, request)
        .await
        .unwrap();
}

/// The scale's report once `done` holds.
async fn until(setup: &Setup, id: &str, limit: Duration, done: impl Fn(&ScaleReport) -> bool) -> ScaleReport {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let report = setup
            .restarts
            .report(id)
            .await
            .unwrap()
            .expect("the scale exists")
            .typed::<ScaleClusterReport>()
            .expect("a scale report");
        if done(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not there in {limit:?}: {}",
            report.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn finish(setup: &Setup, id: &str) -> ScaleReport {
    until(setup, id, Duration::from_secs(240), |r| {
        r.state != RequestState::Running
    })
    .await
}

/// Pods of the cluster's data StatefulSet that exist now.
async fn members(setup: &Setup, name: &str) -> Vec<String> {
    use k8s_openapi::api::core::v1::Pod;
    let api: kube::Api<Pod> = kube::Api::namespaced(setup.kube(), "cratedb");
    let prefix = format!("crate-data-hot-{name}-");
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// The gateway items of StatefulSet `sts`'s `crate` container command.
async fn gateway(setup: &Setup, sts: &str) -> Vec<String> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(setup.kube(), "cratedb");
    let sts = api.get(sts).await.unwrap();
    let containers = sts.spec.template.spec.unwrap().containers;
    let crate_container = containers.iter().find(|c| c.name == "crate").unwrap();
    crate_container
        .command
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.starts_with("-Cgateway."))
        .collect()
}

/// The effective exclusion list, as CrateDB's settings show it at both levels.
fn exclusions(setup: &Setup, name: &str) -> (Value, Value) {
    let settings = setup.sim_cluster(name)["settings"].clone();
    let at = |level: &str| {
        settings[level]
            .get("cluster.routing.allocation.exclude._name")
            .cloned()
            .unwrap_or(Value::Null)
    };
    (at("transient"), at("persistent"))
}

/// Every health reading the simulator recorded was GREEN or YELLOW.
fn never_red(setup: &Setup, name: &str) {
    let sim = setup.sim_cluster(name);
    for entry in sim["health"].as_array().unwrap() {
        assert_ne!(entry["health"], "RED", "health went RED: {}", sim["health"]);
    }
}

async fn scale_out_and_in(engine: TestEngine, mode: Mode, managed: bool, expected: Mode, tag: &str) {
    let setup = Setup::start_on(engine, &format!("scale-{tag}"), &[shape("alpha", managed)], 20.0).await;
    // Someone else's exclusion, there before and kept after.
    setup
        .sql(
            "alpha",
            "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'other-node'",
        )
        .await;
    let up = request(&setup, &format!("scale-up-{tag}"), "alpha", &[("hot", 5)], mode);
    start(&setup, &up).await;
    let report = finish(&setup, &up.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let c = &report.clusters[0];
    assert_eq!(c.mode, Some(expected), "{text}");
    let added: Vec<&str> = c
        .nodes
        .iter()
        .filter(|n| n.result == NodeResult::Added)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(added, ["data-hot-3", "data-hot-4"], "{text}");
    assert_eq!(members(&setup, "alpha").await.len(), 5, "{text}");
    // The command line carries the new counts (by us or by the operator); the nodes that ran
    // before still have the old ones, and their node check 1 fails until they restart.
    assert_eq!(
        gateway(&setup, "crate-data-hot-alpha").await,
        [
            "-Cgateway.recover_after_data_nodes=3",
            "-Cgateway.expected_data_nodes=5"
        ],
        "{text}"
    );
    assert_eq!(c.gateway["expected_data_nodes"].to, 5, "{text}");
    assert_eq!(c.gateway["expected_data_nodes"].from, Some(3), "{text}");
    assert_eq!(
        c.node_checks_failing,
        ["data-hot-0", "data-hot-1", "data-hot-2"],
        "{text}"
    );

    let down = request(&setup, &format!("scale-down-{tag}"), "alpha", &[("hot", 3)], mode);
    start(&setup, &down).await;
    // Someone else excludes a node while the scale runs, the way a careful tool does: the list
    // as it is now, plus theirs.
    until(&setup, &down.request_id, Duration::from_secs(60), |r| {
        !r.clusters[0].exclusions_added.is_empty()
    })
    .await;
    let (now, _) = exclusions(&setup, "alpha");
    let list = format!("{},late-node", now.as_str().unwrap_or("other-node"));
    for level in ["TRANSIENT", "PERSISTENT"] {
        setup
            .sql(
                "alpha",
                &format!("SET GLOBAL {level} \"cluster.routing.allocation.exclude._name\" = '{list}'"),
            )
            .await;
    }
    let report = finish(&setup, &down.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let c = &report.clusters[0];
    let removed: Vec<&str> = c
        .nodes
        .iter()
        .filter(|n| n.result == NodeResult::Removed)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(
        removed,
        ["data-hot-4", "data-hot-3"],
        "highest ordinal first: {text}"
    );
    assert!(
        c.nodes.iter().all(|n| n.shards_at_start.is_some_and(|s| s > 0)),
        "the leaving nodes held copies: {text}"
    );
    assert_eq!(c.exclusions_added, ["data-hot-3", "data-hot-4"], "{text}");
    assert!(c.exclusions_left.is_empty(), "{text}");
    assert_eq!(members(&setup, "alpha").await.len(), 3, "{text}");
    assert_eq!(
        gateway(&setup, "crate-data-hot-alpha").await,
        [
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3"
        ],
        "{text}"
    );
    assert!(
        c.node_checks_failing.is_empty(),
        "the first three match again: {text}"
    );

    let sim = setup.sim_cluster("alpha");
    assert_eq!(
        sim["max_unavailable_nodes"], 1,
        "one node departing at a time: {sim}"
    );
    never_red(&setup, "alpha");
    let (transient, persistent) = exclusions(&setup, "alpha");
    assert_eq!(
        persistent, "late-node,other-node",
        "others' exclusions kept, ours gone: {}",
        sim["settings"]
    );
    assert_eq!(transient, "late-node,other-node", "{}", sim["settings"]);
    if expected == Mode::Operator {
        // The operator held allocation at `primaries` for its own handler (its W1 behaviour);
        // the scale drained before changing the resource, so the hold did not stall it.
        let writes = sim["sql_writes"].to_string();
        assert!(writes.contains("primaries"), "the operator's hold: {writes}");
    }
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    // Every table is GREEN (no copy lost).
    let health = sim["health"].as_array().unwrap();
    assert_eq!(health.last().unwrap()["health"], "GREEN", "{}", sim["health"]);
    setup.stop().await;
}

on_both_engines!(direct_mode_adds_two_nodes_and_removes_them_one_at_a_time);

async fn direct_mode_adds_two_nodes_and_removes_them_one_at_a_time(engine: TestEngine) {
    scale_out_and_in(engine, Mode::Direct, false, Mode::Direct, "direct").await;
}

on_both_engines!(operator_mode_patches_the_resource_and_follows_the_operator);

async fn operator_mode_patches_the_resource_and_follows_the_operator(engine: TestEngine) {
    scale_out_and_in(engine, Mode::Auto, true, Mode::Operator, "operator").await;
}

/// A 4-node cluster whose recoveries take `factor` times longer, so a drain takes long enough to
/// act during it.
async fn slow_four(tag: &str, factor: f64) -> Setup {
    let setup = Setup::start(&format!("scale-{tag}"), &[shape("alpha", false)]).await;
    let up = request(
        &setup,
        &format!("scale-{tag}-up"),
        "alpha",
        &[("hot", 4)],
        Mode::Direct,
    );
    start(&setup, &up).await;
    assert_eq!(
        finish(&setup, &up.request_id).await.state,
        RequestState::Completed
    );
    setup.faults(&[Fault::SlowRecovery {
        namespace: "cratedb".into(),
        cluster: "alpha".into(),
        factor,
    }]);
    setup
}

async fn await_drain(setup: &Setup, id: &str) {
    until(setup, id, Duration::from_secs(60), |r| {
        r.clusters[0].common.current_step.as_deref() == Some("drain")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_during_the_drain_lifts_our_exclusions_and_releases_the_lease() {
    let setup = slow_four("cancel", 50.0).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let down = request(&setup, "scale-cancel-down", "alpha", &[("hot", 3)], Mode::Direct);
    start(&setup, &down).await;
    await_drain(&setup, &down.request_id).await;
    let notes = setup
        .restarts
        .cancel(
            &down.request_id,
            "test",
            &ActivityEnv::new(None),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(notes.iter().all(|n| n.error.is_none()), "{notes:?}");
    let report = finish(&setup, &down.request_id).await;
    assert_eq!(
        report.clusters[0].common.state,
        ClusterState::Cancelled,
        "{}",
        report.text()
    );
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "no exclusion of ours left"
    );
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    assert_eq!(members(&setup, "alpha").await.len(), 4, "nothing removed");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_that_cannot_finish_fails_with_cratedbs_explanation_and_leaves_nothing() {
    // Relocations in flight when the hold comes finish (CrateDB lets recoveries under way
    // complete); the copies left then cannot move.
    let setup = slow_four("stall", 5.0).await;
    // One recovery per node at a time, so copies are still waiting their turn when the hold
    // comes.
    setup
        .sql(
            "alpha",
            "SET GLOBAL PERSISTENT \"cluster.routing.allocation.node_concurrent_recoveries\" = 1",
        )
        .await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let mut down = request(&setup, "scale-stall-down", "alpha", &[("hot", 3)], Mode::Direct);
    down.options.timeouts.drain_stall = Duration::from_secs(3);
    start(&setup, &down).await;
    await_drain(&setup, &down.request_id).await;
    // Someone holds allocation at `primaries` mid-drain: replicas cannot leave any more.
    setup
        .sql(
            "alpha",
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        )
        .await;
    let report = finish(&setup, &down.request_id).await;
    let text = report.text();
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Failed, "{text}");
    let reason = c.common.reason.clone().unwrap_or_default();
    assert!(reason.contains("the drain stalled"), "{reason}");
    assert!(reason.contains("CrateDB says"), "{reason}");
    assert!(
        reason.contains("replica allocations are forbidden due to cluster setting [cluster.routing.allocation.enable=primaries]"),
        "CrateDB's own explanation: {reason}"
    );
    assert!(c.exclusions_left.is_empty(), "{text}");
    assert_eq!(c.nodes[0].result, NodeResult::Pending, "{text}");
    setup
        .sql("alpha", "RESET GLOBAL \"cluster.routing.allocation.enable\"")
        .await;
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "no exclusion of ours left"
    );
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_finishes_the_node_in_progress_and_cleans_up() {
    let setup = Setup::start("scale-stop", &[shape("alpha", false)]).await;
    let up = request(&setup, "scale-stop-up", "alpha", &[("hot", 5)], Mode::Direct);
    start(&setup, &up).await;
    assert_eq!(
        finish(&setup, &up.request_id).await.state,
        RequestState::Completed
    );
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let down = request(&setup, "scale-stop-down", "alpha", &[("hot", 3)], Mode::Direct);
    start(&setup, &down).await;
    until(&setup, &down.request_id, Duration::from_secs(60), |r| {
        r.clusters[0].common.current_step.as_deref() == Some("departure")
    })
    .await;
    setup
        .restarts
        .signal(
            &down.request_id,
            &Control::Stop {
                reason: "change freeze".into(),
            },
        )
        .await
        .unwrap();
    let report = finish(&setup, &down.request_id).await;
    let text = report.text();
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Stopped, "{text}");
    assert_eq!(report.exit_code(), 0, "a clean stop is not a failure: {text}");
    assert_eq!(
        c.nodes[0].result,
        NodeResult::Removed,
        "the node in progress finished: {text}"
    );
    assert_eq!(c.nodes[1].result, NodeResult::Pending, "{text}");
    assert!(
        c.nodes[1]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("change freeze"),
        "{text}"
    );
    assert!(c.exclusions_left.is_empty(), "{text}");
    assert_eq!(members(&setup, "alpha").await.len(), 4, "{text}");
    // The command lines match the four nodes there are, not the three that were the target.
    assert_eq!(
        gateway(&setup, "crate-data-hot-alpha").await,
        [
            "-Cgateway.recover_after_data_nodes=3",
            "-Cgateway.expected_data_nodes=4"
        ],
        "{text}"
    );
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "no exclusion of ours left"
    );
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_pods_dc_util_hook_is_disabled_for_the_removal() {
    let mut hooked = shape("alpha", false);
    hooked.dc_util_hook = true;
    hooked.dc_util_post_start = true;
    hooked.data_groups = vec![("hot".into(), 4)];
    let setup = Setup::start("scale-dc-util", &[hooked]).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let down = request(&setup, "scale-dc-util-down", "alpha", &[("hot", 3)], Mode::Direct);
    start(&setup, &down).await;
    let report = finish(&setup, &down.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let sim = setup.sim_cluster("alpha");
    // The hook neither decommissioned the (empty) node again nor held allocation.
    assert_eq!(sim["hook_writes"], Value::Array(vec![]), "{}", sim["hook_writes"]);
    let writes = sim["sql_writes"].to_string();
    assert!(!writes.contains("DECOMMISSION"), "{writes}");
    assert!(!writes.contains("allocation.enable"), "{writes}");
    assert_eq!(sim["settings"], settings_before, "{}", sim["settings"]);
    // And the label is gone again.
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(setup.kube(), "cratedb");
    let labels = api
        .get("crate-data-hot-alpha")
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    assert!(!labels.contains_key("dc-util-disabled"), "{labels:?}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedicated_masters_change_one_node_at_a_time() {
    let mut with_masters = shape("alpha", false);
    with_masters.masters = 3;
    let setup = Setup::start("scale-masters", &[with_masters]).await;
    let up = request(
        &setup,
        "scale-masters-up",
        "alpha",
        &[("master", 5)],
        Mode::Direct,
    );
    start(&setup, &up).await;
    let report = finish(&setup, &up.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let c = &report.clusters[0];
    let added: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(added, ["master-3", "master-4"], "{text}");
    // One at a time: the second joined after the first had finished.
    let first_done = c.nodes[0].finished_at.expect("the first master finished");
    let second_started = c.nodes[1].started_at.expect("the second master started");
    assert!(second_started >= first_done, "{text}");

    let down = request(
        &setup,
        "scale-masters-down",
        "alpha",
        &[("master", 3)],
        Mode::Direct,
    );
    start(&setup, &down).await;
    let report = finish(&setup, &down.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let removed: Vec<&str> = report.clusters[0].nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(removed, ["master-4", "master-3"], "{text}");
    let sim = setup.sim_cluster("alpha");
    assert_eq!(sim["max_unavailable_nodes"], 1, "{sim}");
    let members = sim["members"].as_array().unwrap().last().unwrap()["nodes"].clone();
    assert_eq!(
        members,
        serde_json::json!([
            "data-hot-0",
            "data-hot-1",
            "data-hot-2",
            "master-0",
            "master-1",
            "master-2"
        ]),
        "{sim}"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_direct_on_an_operators_resource_sets_its_counts_at_the_end() {
    let setup = Setup::start("scale-force-direct", &[shape("alpha", true)]).await;
    let mut up = request(&setup, "scale-force-up", "alpha", &[("hot", 4)], Mode::Direct);
    up.options.request.force_direct = true;
    start(&setup, &up).await;
    let report = finish(&setup, &up.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    assert_eq!(report.clusters[0].mode, Some(Mode::Direct), "{text}");
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        setup.kube(),
        "cratedb",
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("cloud.crate.io", "v1", "CrateDB"),
            "cratedbs",
        ),
    );
    let resource = api.get("alpha").await.unwrap();
    assert_eq!(
        resource.data["spec"]["nodes"]["data"][0]["replicas"], 4,
        "{:?}",
        resource.data
    );
    assert_eq!(members(&setup, "alpha").await.len(), 4, "{text}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dc_util_disabled_label_someone_else_set_stays() {
    let mut four = shape("alpha", false);
    four.data_groups = vec![("hot".into(), 4)];
    let setup = Setup::start("scale-foreign-label", &[four]).await;
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(setup.kube(), "cratedb");
    let label = serde_json::json!({"metadata": {"labels": {"dc-util-disabled": "true"}}});
    api.patch(
        "crate-data-hot-alpha",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&label),
    )
    .await
    .unwrap();
    let down = request(
        &setup,
        "scale-foreign-label-down",
        "alpha",
        &[("hot", 3)],
        Mode::Direct,
    );
    start(&setup, &down).await;
    let report = finish(&setup, &down.request_id).await;
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    let labels = api
        .get("crate-data-hot-alpha")
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap_or_default();
    assert_eq!(
        labels.get("dc-util-disabled").map(String::as_str),
        Some("true"),
        "not ours to remove: {labels:?}"
    );
    setup.stop().await;
}
