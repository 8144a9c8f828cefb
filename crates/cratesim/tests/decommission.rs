//! "Decommission with `min_availability = 'FULL'` moves shards off first", through the HTTP
//! surface cratectl uses, in-process under tokio's paused clock: SQL goes to a node other than
//! the one leaving, with Basic auth, by the direct route (the pod proxy would drop the
//! credentials); the test watches `sys.shards` and
//! `sys.nodes` while the statement runs, then checks the evidence report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;

mod common;
mod sql_http;

use cratesim::clock::Clock;
use cratesim::serve::Sim;
use sql_http::{copies_on, health_timeline, reading, sql};

const PASSWORD: &str = "pw-alpha";
/// A node that is not leaving: every statement goes here.
const POD: &str = "crate-data-hot-alpha-0";

#[tokio::test(start_paused = true)]
async fn decommission_full_moves_every_shard_off_before_the_node_leaves() {
    let sim = Sim::new(Clock::new(1.0), &[common::shape("alpha", false, PASSWORD)]).unwrap();
    let start = reading(&sim, POD, PASSWORD).await;
    assert_eq!(start.nodes, ["data-hot-0", "data-hot-1", "data-hot-2"]);
    assert_eq!(start.health, "GREEN");
    let held = copies_on(&sim, POD, PASSWORD, "data-hot-2").await;
    assert!(held > 0, "the node holds copies to move");

    sql(
        &sim,
        POD,
        PASSWORD,
        "SET GLOBAL TRANSIENT \"cluster.graceful_stop.min_availability\" = 'FULL'",
        json!([]),
    )
    .await;
    let setting = sql(
        &sim,
        POD,
        PASSWORD,
        "SELECT settings['cluster']['graceful_stop']['min_availability'] FROM sys.cluster",
        json!([]),
    )
    .await;
    assert_eq!(setting["rows"][0][0], "FULL");

    // DECOMMISSION answers only after its health wait: run it alongside the observation.
    let decommission = {
        let sim = &sim;
        async move {
            sql(
                sim,
                POD,
                PASSWORD,
                "ALTER CLUSTER DECOMMISSION 'data-hot-2'",
                json!([]),
            )
            .await
        }
    };
    let observe = async {
        let mut copies_while_member = Vec::new();
        let mut relocations_seen = 0;
        let mut healths = Vec::new();
        let mut jobs_seen: Vec<String> = Vec::new();
        for _ in 0..600 {
            let now = reading(&sim, POD, PASSWORD).await;
            // sys.jobs lists the running DECOMMISSION (and this query) while the node drains.
            let jobs = sql(&sim, POD, PASSWORD, "SELECT stmt FROM sys.jobs", json!([])).await;
            for row in jobs["rows"].as_array().unwrap() {
                let stmt = row[0].as_str().unwrap().to_string();
                if !jobs_seen.contains(&stmt) {
                    jobs_seen.push(stmt);
                }
            }
            let relocating = sql(
                &sim,
                POD,
                PASSWORD,
                "SELECT count(*) FROM sys.shards WHERE routing_state = 'RELOCATING' AND node['name'] = 'data-hot-2'",
                json!([]),
            )
            .await["rows"][0][0]
                .as_i64()
                .unwrap();
            relocations_seen = relocations_seen.max(relocating);
            healths.push(now.health.clone());
            if !now.nodes.iter().any(|n| n == "data-hot-2") {
                assert!(
                    jobs_seen.contains(&"ALTER CLUSTER DECOMMISSION 'data-hot-2'".to_string())
                        && jobs_seen.contains(&"SELECT stmt FROM sys.jobs".to_string()),
                    "{jobs_seen:?}"
                );
                let jobs = sql(&sim, POD, PASSWORD, "SELECT stmt FROM sys.jobs", json!([])).await;
                assert_eq!(
                    jobs["rows"],
                    json!([["SELECT stmt FROM sys.jobs"]]),
                    "gone with the node"
                );
                return (copies_while_member, relocations_seen, healths, now);
            }
            copies_while_member.push(copies_on(&sim, POD, PASSWORD, "data-hot-2").await);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("data-hot-2 never left sys.nodes");
    };
    let (reply, (copies, relocations_seen, healths, after)) = tokio::join!(decommission, observe);
    assert_eq!(reply["rowcount"], 1, "{reply}");

    assert!(
        relocations_seen > 0,
        "copies were seen RELOCATING off the node: {copies:?}"
    );
    assert_eq!(
        copies.last(),
        Some(&0),
        "no copy was left on the node when it left: {copies:?}"
    );
    assert_eq!(copies.first(), Some(&held));
    assert_eq!(after.nodes, ["data-hot-0", "data-hot-1"]);
    assert_eq!(after.health, "GREEN", "FULL: everything was on the other nodes");
    assert!(
        healths.iter().all(|h| h == "GREEN"),
        "health stayed GREEN while the node drained: {healths:?}"
    );

    let report = sim.report();
    let cluster = &report["clusters"][0];
    assert_eq!(cluster["max_unavailable_nodes"], 1, "{cluster:#}");
    let timeline = health_timeline(&sim);
    assert!(!timeline.iter().any(|h| h == "RED"), "{timeline:?}");
    assert!(
        cluster["sql_writes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["stmt"] == "ALTER CLUSTER DECOMMISSION 'data-hot-2'" && w["node"] == "data-hot-0"),
        "{cluster:#}"
    );

    // The pod stays: its container restarts and the node rejoins, and the balancer gives it
    // copies again. Still never more than one node down, never RED.
    let mut back = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = reading(&sim, POD, PASSWORD).await;
        if now.nodes.len() == 3 && now.health == "GREEN" && now.moving == 0 {
            back = true;
            break;
        }
    }
    assert!(back, "the node rejoined and the cluster settled");
    assert!(copies_on(&sim, POD, PASSWORD, "data-hot-2").await > 0);
    let report = sim.report();
    assert_eq!(report["clusters"][0]["max_unavailable_nodes"], 1);
    let timeline = health_timeline(&sim);
    assert!(!timeline.iter().any(|h| h == "RED"), "{timeline:?}");
    let restarts = report["clusters"][0]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "crate-data-hot-alpha-2")
        .unwrap()["uids"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(restarts, 1, "the pod itself was never replaced");
}

/// The restart count of pod `name`'s CrateDB container, as the store holds it (read without
/// bringing any model up to date: only the controllers change it).
fn restart_count(sim: &Sim, name: &str) -> i64 {
    let store = sim.server.store();
    let pod = store.get("pods", "cratedb", name).unwrap();
    pod.pointer("/status/containerStatuses")
        .and_then(|s| s.as_array())
        .and_then(|s| s.iter().find(|c| c["name"] == "crate"))
        .and_then(|c| c["restartCount"].as_i64())
        .unwrap()
}

/// A decommissioned node's process exits and the kubelet starts its container again in the same
/// pod at once, as a real kubelet does when it sees the container exit: nothing else has to
/// happen in the cluster for that (the controllers are woken by the statement, not only by
/// changes to Kubernetes objects).
#[tokio::test(start_paused = true)]
async fn the_container_of_a_decommissioned_node_restarts_on_its_own() {
    let sim = Sim::new(Clock::new(1.0), &[common::shape("alpha", false, PASSWORD)]).unwrap();
    // Let the cluster come up and the controllers go to sleep with nothing to do.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(restart_count(&sim, "crate-data-hot-alpha-2"), 0);
    sql(
        &sim,
        POD,
        PASSWORD,
        "SET GLOBAL TRANSIENT \"cluster.graceful_stop.min_availability\" = 'NONE'",
        json!([]),
    )
    .await;
    // With `none` the node exits right away; the statement answers once it has.
    let reply = sql(
        &sim,
        POD,
        PASSWORD,
        "ALTER CLUSTER DECOMMISSION 'data-hot-2'",
        json!([]),
    )
    .await;
    assert_eq!(reply["rowcount"], 1, "{reply}");
    // No request at all from here on: only the kubelet's own reaction can restart it.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(restart_count(&sim, "crate-data-hot-alpha-2"), 1);
    let now = reading(&sim, POD, PASSWORD).await;
    assert_eq!(
        now.nodes,
        ["data-hot-0", "data-hot-1", "data-hot-2"],
        "it rejoined"
    );
}
