//! Each node's static gateway settings, as the command line of the pod incarnation it started
//! from gave them, seen through `sys.node_checks` and `sys.cluster.settings['gateway']`, and the
//! checks' acknowledgement (docs/cratedb-behaviour.md#gateway-settings-and-node-checks). In
//! process under tokio's paused clock; kube-rs changes the StatefulSet, SQL goes by the direct
//! route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

mod common;
mod sql_http;

use cratesim::clock::Clock;
use cratesim::serve::Sim;
use sql_http::{reading, sql, sql_raw};

const PASSWORD: &str = "pw-alpha";
const POD: &str = "crate-data-hot-alpha-0";
const STS: &str = "crate-data-hot-alpha";

fn sim() -> Sim {
    Sim::new(Clock::new(1.0), &[common::shape("alpha", false, PASSWORD)]).unwrap()
}

/// `node name → [(check id, passed, acknowledged)]`, from `sys.node_checks` asked on `pod`.
async fn checks(sim: &Sim, pod: &str) -> BTreeMap<String, Vec<(i64, bool, bool)>> {
    let ids = sql(sim, pod, PASSWORD, "SELECT id, name FROM sys.nodes", json!([])).await;
    let name_of: BTreeMap<String, String> = ids["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    let rows = sql(
        sim,
        pod,
        PASSWORD,
        "SELECT node_id, id, passed, acknowledged FROM sys.node_checks ORDER BY node_id, id",
        json!([]),
    )
    .await;
    let mut out: BTreeMap<String, Vec<(i64, bool, bool)>> = BTreeMap::new();
    for r in rows["rows"].as_array().unwrap() {
        let node = name_of[r[0].as_str().unwrap()].clone();
        out.entry(node).or_default().push((
            r[1].as_i64().unwrap(),
            r[2].as_bool().unwrap(),
            r[3].as_bool().unwrap(),
        ));
    }
    out
}

/// Whether check 1 passes on each node.
async fn check_1(sim: &Sim, pod: &str) -> BTreeMap<String, bool> {
    checks(sim, pod)
        .await
        .into_iter()
        .map(|(node, rows)| (node, rows.iter().any(|r| r.0 == 1 && r.1)))
        .collect()
}

async fn wait_for_nodes(sim: &Sim, pod: &str, count: usize) {
    for _ in 0..600 {
        let (status, _) = sql_raw(sim, pod, PASSWORD, "SELECT 1", json!([])).await;
        if status == 200 {
            let now = reading(sim, pod, PASSWORD).await;
            if now.nodes.len() == count && now.health == "GREEN" && now.moving == 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("never {count} nodes and GREEN");
}

fn gateway_of(command: &[String]) -> Vec<&str> {
    command
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("-Cgateway."))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn node_checks_follow_each_nodes_own_command_line_and_acknowledgements_last_until_a_restart() {
    let sim = sim();
    let client = Client::new(sim.router(), "cratedb");
    let sets: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client);

    // Created with expected 3, recover after 2: every check passes on every node.
    let all = checks(&sim, POD).await;
    assert_eq!(all.len(), 3, "{all:?}");
    for rows in all.values() {
        assert_eq!(rows, &vec![(1, true, false), (2, true, false), (3, true, false)]);
    }
    let described = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT severity, description FROM sys.node_checks WHERE id = 1 LIMIT 1",
        json!([]),
    )
    .await;
    assert_eq!(described["rows"][0][0], 2);
    assert!(
        described["rows"][0][1]
            .as_str()
            .unwrap()
            .starts_with("It has been detected that the 'gateway.expected_data_nodes' setting"),
        "{described}"
    );
    assert!(
        described["rows"][0][1]
            .as_str()
            .unwrap()
            .ends_with(" https://cr8.is/d-node-check-1")
    );

    // Scaled out directly: the fourth node starts with the template's command line (expected 3),
    // so check 1 fails on all four.
    sets.patch_scale(
        STS,
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    wait_for_nodes(&sim, POD, 4).await;
    let after = check_1(&sim, POD).await;
    assert_eq!(after.len(), 4);
    assert!(after.values().all(|passed| !passed), "{after:?}");

    // The operator's acknowledgement, then one node's only: row counts as CrateDB answers them.
    let acked = sql(
        &sim,
        POD,
        PASSWORD,
        "UPDATE sys.node_checks SET acknowledged = TRUE WHERE id = 1",
        json!([]),
    )
    .await;
    assert_eq!(acked["rowcount"], 4, "{acked}");
    assert_eq!(acked["cols"], json!([]));
    let ids = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT id FROM sys.nodes WHERE name = 'data-hot-1'",
        json!([]),
    )
    .await;
    let one = sql(
        &sim,
        POD,
        PASSWORD,
        "UPDATE sys.node_checks SET acknowledged = false WHERE id = 1 AND node_id = ANY(?)",
        json!([[ids["rows"][0][0]]]),
    )
    .await;
    assert_eq!(one["rowcount"], 1);
    let now = checks(&sim, POD).await;
    assert!(now["data-hot-0"].contains(&(1, false, true)));
    assert!(now["data-hot-1"].contains(&(1, false, false)));
    assert!(
        now["data-hot-0"].contains(&(2, true, false)),
        "only check 1 was acknowledged"
    );

    // The template gets the new totals (as the operator's patch_command writes them); running
    // pods keep their command line until they restart (OnDelete).
    let sts = sets.get(STS).await.unwrap();
    let mut containers = sts.spec.template.spec.unwrap().containers;
    let crate_container = containers.iter_mut().find(|c| c.name == "crate").unwrap();
    let command: Vec<String> = crate_container
        .command
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| match a.split_once('=') {
            Some(("-Cgateway.recover_after_data_nodes", _)) => "-Cgateway.recover_after_data_nodes=3".into(),
            Some(("-Cgateway.expected_data_nodes", _)) => "-Cgateway.expected_data_nodes=4".into(),
            _ => a,
        })
        .collect();
    assert_eq!(
        gateway_of(&command),
        [
            "-Cgateway.recover_after_data_nodes=3",
            "-Cgateway.expected_data_nodes=4"
        ]
    );
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "crate", "command": command}]}}}});
    sets.patch(STS, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let unchanged = check_1(&sim, POD).await;
    assert!(
        unchanged.values().all(|passed| !passed),
        "no pod restarted yet: {unchanged:?}"
    );
    let running = pods.get("crate-data-hot-alpha-0").await.unwrap();
    let running_command = running
        .spec
        .unwrap()
        .containers
        .into_iter()
        .find(|c| c.name == "crate")
        .unwrap()
        .command
        .unwrap();
    assert_eq!(
        gateway_of(&running_command),
        [
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3"
        ],
        "the pod keeps the command line it was created with"
    );

    // data-hot-2's pod is replaced from the new template: its node passes check 1 and has
    // forgotten its acknowledgement; the others still fail, acknowledged.
    pods.delete("crate-data-hot-alpha-2", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    wait_for_nodes(&sim, POD, 4).await;
    let restarted = checks(&sim, POD).await;
    assert_eq!(restarted["data-hot-2"][0], (1, true, false), "{restarted:?}");
    assert_eq!(restarted["data-hot-0"][0], (1, false, true), "{restarted:?}");
    assert_eq!(restarted["data-hot-3"][0], (1, false, true), "{restarted:?}");

    // Each node shows its own start-up values in sys.cluster.settings.
    let gateway = |pod: &'static str| {
        let sim = &sim;
        async move {
            sql(
                sim,
                pod,
                PASSWORD,
                "SELECT settings['gateway']['expected_data_nodes'], settings['gateway']['recover_after_data_nodes'] FROM sys.cluster",
                json!([]),
            )
            .await["rows"][0]
                .clone()
        }
    };
    assert_eq!(gateway("crate-data-hot-alpha-0").await, json!([3, 2]));
    assert_eq!(gateway("crate-data-hot-alpha-2").await, json!([4, 3]));
}

#[tokio::test(start_paused = true)]
async fn only_acknowledged_of_sys_node_checks_can_be_updated() {
    let sim = sim();
    let refused = |stmt: &'static str| {
        let sim = &sim;
        async move {
            let (status, body) = sql_raw(sim, POD, PASSWORD, stmt, json!([])).await;
            let body: Value = serde_json::from_str(&body).unwrap();
            (status, body["error"].clone())
        }
    };
    let (status, error) = refused("UPDATE sys.nodes SET name = 'x'").await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], 4007);
    assert_eq!(
        error["message"],
        "OperationOnInaccessibleRelationException[The relation \"sys.nodes\" doesn't support or allow UPDATE operations]"
    );
    let (_, error) = refused("UPDATE sys.node_checks SET nope = true").await;
    assert_eq!(error["code"], 4043, "{error}");
    let (_, error) = refused("UPDATE sys.node_checks SET passed = true").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("cratesim: unsupported"),
        "{error}"
    );
    let none = sql(
        &sim,
        POD,
        PASSWORD,
        "UPDATE sys.node_checks c SET acknowledged = true WHERE c.id = 42",
        json!([]),
    )
    .await;
    assert_eq!(none["rowcount"], 0);
    let writes = sim.report()["clusters"][0]["sql_writes"].clone();
    assert!(writes.to_string().contains("UPDATE sys.node_checks"), "{writes}");
}
