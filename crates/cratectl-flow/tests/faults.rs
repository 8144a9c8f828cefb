//! A pod that never becomes Ready again fails its cluster, and only its cluster: two clusters in
//! one request, restarted one after the other (`parallel` 1) and side by side (`parallel` 2).
//!
//! cratesim's `node_never_rejoins` is the fault: the node's next process starts but never joins
//! the cluster, and a CrateDB pod is Ready only while its node serves, so the pod that replaces
//! the stopped one stays Running and not Ready for good.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, TestEngine, fast_options, uid_counts};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratectl_flow::ops::restart::model::Timeouts;
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;

async fn never_ready_in_one_of_two_clusters(engine: TestEngine, parallel: usize) {
    let name = format!("never-ready-p{parallel}");
    let setup = Setup::start_on(
        engine,
        &name,
        &[
            ClusterShape::new("alpha", "cratedb"),
            ClusterShape::new("beta", "cratedb"),
        ],
        20.0,
    )
    .await;
    let alpha_before = setup.preset_settings("alpha").await;
    let beta_before = setup.preset_settings("beta").await;
    setup.faults(&[Fault::NodeNeverRejoins {
        namespace: "cratedb".into(),
        cluster: "alpha".into(),
        node: "data-hot-0".into(),
    }]);
    let mut options = fast_options();
    options.parallel = parallel;
    options.timeouts = Timeouts {
        pod_ready: Duration::from_secs(5),
        ..Timeouts::default()
    };
    setup
        .restarts
        .start_restart(&setup.request(&name, &["alpha", "beta"], options))
        .await
        .unwrap();
    let report = setup.finish(&name, Duration::from_secs(120)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");

    // alpha: failed on the pod that never came back, saying what it saw of it.
    let alpha = common::cluster(&report, "alpha");
    assert_eq!(alpha.common.state, ClusterState::Failed, "{text}");
    let reason = alpha.common.reason.clone().unwrap_or_default();
    for needle in [
        "timed out after 5s",
        "pod crate-data-hot-alpha-0 with a new UID to be Ready",
        "Running, not Ready",
    ] {
        assert!(reason.contains(needle), "{needle:?} in the reason: {reason}");
    }
    let failed: Vec<_> = alpha
        .pods
        .iter()
        .filter(|p| p.result == PodResult::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert_eq!(failed[0].name, "crate-data-hot-alpha-0", "{text}");
    assert!(
        alpha
            .pods
            .iter()
            .filter(|p| p.name != "crate-data-hot-alpha-0")
            .all(|p| p.result == PodResult::Pending),
        "the other pods of alpha were not touched: {text}"
    );
    let sim = setup.sim_cluster("alpha");
    assert_eq!(
        sim["max_unavailable_nodes"].as_u64(),
        Some(1),
        "one node down, never two: {sim}"
    );
    let uids = uid_counts(&sim);
    assert_eq!(uids["crate-data-hot-alpha-0"], 2, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-1"], 1, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-2"], 1, "{uids:?}");
    setup
        .assert_cleaned_up("alpha", &alpha_before, &format!("parallel {parallel}"))
        .await;

    // beta, in the same request: fully restarted all the same.
    let beta = common::cluster(&report, "beta");
    assert_eq!(beta.common.state, ClusterState::Succeeded, "{text}");
    assert!(
        beta.pods.iter().all(|p| p.result == PodResult::Restarted),
        "{text}"
    );
    let sim = setup.sim_cluster("beta");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    let uids = uid_counts(&sim);
    assert_eq!(uids.len(), 3, "{uids:?}");
    assert!(
        uids.values().all(|&n| n == 2),
        "each beta pod restarted once: {uids:?}"
    );
    setup
        .assert_cleaned_up("beta", &beta_before, &format!("parallel {parallel}"))
        .await;
    setup.stop().await;
}

on_both_engines!(a_pod_never_ready_fails_its_cluster_only_one_cluster_at_a_time);

async fn a_pod_never_ready_fails_its_cluster_only_one_cluster_at_a_time(engine: TestEngine) {
    never_ready_in_one_of_two_clusters(engine, 1).await;
}

on_both_engines!(a_pod_never_ready_fails_its_cluster_only_two_clusters_at_once);

async fn a_pod_never_ready_fails_its_cluster_only_two_clusters_at_once(engine: TestEngine) {
    never_ready_in_one_of_two_clusters(engine, 2).await;
}

/// CrateDB refusing the DECOMMISSION (here: a missing privilege) fails the cluster with
/// CrateDB's words as soon as the refusal arrives, instead of waiting up to the decommission
/// timeout for a node that is not leaving; nothing was evicted and everything is put back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_decommission_fails_the_cluster_with_the_refusal() {
    let name = "decommission-refused";
    let setup = Setup::start(name, &[ClusterShape::new("gamma", "cratedb")]).await;
    let before = setup.preset_settings("gamma").await;
    setup.faults(&[Fault::StatementFails {
        namespace: "cratedb".into(),
        cluster: "gamma".into(),
        pattern: "alter cluster decommission".into(),
        code: 4011,
        message: "MissingPrivilegeException[Missing 'AL' privilege for user 'cratectl']".into(),
    }]);
    let options = fast_options();
    assert!(
        options.timeouts.decommission >= Duration::from_secs(3600),
        "the default decommission timeout stays long, so only the refusal can end this early"
    );
    setup
        .restarts
        .start_restart(&setup.request(name, &["gamma"], options))
        .await
        .unwrap();
    let report = setup.finish(name, Duration::from_secs(120)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let gamma = common::cluster(&report, "gamma");
    assert_eq!(gamma.common.state, ClusterState::Failed, "{text}");
    let reason = gamma.common.reason.clone().unwrap_or_default();
    for needle in ["ALTER CLUSTER DECOMMISSION", "Missing 'AL' privilege"] {
        assert!(reason.contains(needle), "{needle:?} in the reason: {reason}");
    }
    assert_eq!(gamma.pods[0].result, PodResult::Failed, "{text}");
    let sim = setup.sim_cluster("gamma");
    let uids = uid_counts(&sim);
    assert!(uids.values().all(|&n| n == 1), "no pod was evicted: {uids:?}");
    assert_eq!(sim["max_unavailable_nodes"].as_u64(), Some(0), "{sim}");
    setup
        .assert_cleaned_up("gamma", &before, "after a refused decommission")
        .await;
    setup.stop().await;
}

/// One transient failure to read the cluster's health at start (an HTTP 500 on the Secret
/// read that precedes the first reading) is not taken for an unhealthy cluster: the reading is
/// tried again within the health timeout, and the restart goes through. Only a reading CrateDB
/// gave may refuse the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_error_on_the_first_reading_is_retried_not_taken_for_unhealthy() {
    let name = "first-reading-500";
    let setup = Setup::start(name, &[ClusterShape::new("delta", "cratedb")]).await;
    setup.faults(&[Fault::ApiError {
        verb: Some("get".into()),
        resource: Some("secrets".into()),
        code: 500,
        count: 1,
    }]);
    setup
        .restarts
        .start_restart(&setup.request(name, &["delta"], fast_options()))
        .await
        .unwrap();
    let report = setup.finish(name, Duration::from_secs(120)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let delta = common::cluster(&report, "delta");
    assert_eq!(delta.common.state, ClusterState::Succeeded, "{text}");
    assert!(
        delta.pods.iter().all(|p| p.result == PodResult::Restarted),
        "{text}"
    );
    setup.stop().await;
}

/// A worker killed right after its Decommission activity completed may not have got the
/// statement out (it is sent in the background). The wait for the node, run by a worker that
/// does not know the call, sends it again when the node is still a member; a wait with no call
/// of ours sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decommission_lost_with_its_worker_is_sent_again_by_the_wait() {
    use std::sync::Arc;

    use cratectl_flow::activities::At;
    use cratectl_flow::engine::RunActivity;
    use cratectl_flow::env::ActivityEnv;
    use cratectl_flow::model::ClusterRef;
    use cratectl_flow::ops::restart::activities::{AwaitNodeLeft, NodeWaitIn};

    let setup = Setup::start("decommission-lost", &[ClusterShape::new("iota", "cratedb")]).await;
    let input = |decommission: Option<&str>, budget: Duration| NodeWaitIn {
        at: At {
            target: setup.target.clone(),
            cluster: ClusterRef {
                namespace: "cratedb".into(),
                resource: "iota".into(),
                name: "iota".into(),
            },
        },
        pod: "crate-data-hot-iota-0".into(),
        node: Some("data-hot-0".into()),
        interval: Duration::from_millis(50),
        budget,
        decommission: decommission.map(str::to_string),
        before: None,
    };
    let decommissions = |setup: &Setup| {
        common::sql_writes(&setup.sim_cluster("iota"))
            .into_iter()
            .filter(|w| w.contains("DECOMMISSION"))
            .count()
    };

    // Not ours to send: it only watches, and the node stays.
    let env = Arc::new(ActivityEnv::new(None));
    let out = AwaitNodeLeft::run(env, input(None, Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(out.done, None, "the node did not leave: {}", out.last);
    assert_eq!(decommissions(&setup), 0);

    // Sent by a worker that is gone: this fresh worker sends it again, once, and the node leaves.
    let env = Arc::new(ActivityEnv::new(None));
    let out = AwaitNodeLeft::run(
        env,
        input(Some("data-hot-0@gone-worker#0"), Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert_eq!(out.done, Some(true), "the node left: {}", out.last);
    assert_eq!(decommissions(&setup), 1, "sent once");
    setup.stop().await;
}

/// After DECOMMISSION the node's process exits and the kubelet starts the container again in
/// the same pod: the node may be back before the wait's next poll (a busy or restarted worker).
/// The wait tells from the pod's restart count that it left: back and holding no shard copy, it
/// has left (no second DECOMMISSION); back and holding copies again, it is drained again and the
/// wait goes on until it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_before_the_wait_saw_it_leave_has_left() {
    use std::sync::Arc;

    use cratectl_flow::activities::At;
    use cratectl_flow::engine::RunActivity;
    use cratectl_flow::env::ActivityEnv;
    use cratectl_flow::model::ClusterRef;
    use cratectl_flow::ops::restart::activities::{AwaitNodeLeft, NodeWaitIn, PodRun};

    const POD: &str = "crate-data-hot-kappa-0";
    const NODE: &str = "data-hot-0";
    let setup = Setup::start("decommission-back", &[ClusterShape::new("kappa", "cratedb")]).await;
    let cluster = ClusterRef {
        namespace: "cratedb".into(),
        resource: "kappa".into(),
        name: "kappa".into(),
    };
    let env = Arc::new(ActivityEnv::new(None));
    let (kube, found) = env.cluster(&setup.target, &cluster).await.unwrap();
    let client = env.client_avoiding(&kube, &found, Some(POD)).await.unwrap();
    let run = || async {
        let pod = cratectl_kube::pods::get_pod(&kube, "cratedb", POD)
            .await
            .unwrap()
            .unwrap();
        PodRun::from(&pod)
    };
    let decommissions = |setup: &Setup| {
        common::sql_writes(&setup.sim_cluster("kappa"))
            .into_iter()
            .filter(|w| w.contains("DECOMMISSION"))
            .count()
    };
    // DECOMMISSION as another worker sent it, then the node's exit and return, unwatched.
    let decommission_and_return = |before: PodRun, with_copies: bool| {
        let (client, kube) = (client.clone(), kube.clone());
        async move {
            let sender = client.clone();
            tokio::spawn(async move {
                let _ = sender
                    .sql(&format!("ALTER CLUSTER DECOMMISSION '{NODE}'"), &[])
                    .await;
            });
            let mut seen = String::new();
            for _ in 0..600 {
                let pod = cratectl_kube::pods::get_pod(&kube, "cratedb", POD).await.unwrap();
                let member = client
                    .nodes()
                    .await
                    .is_ok_and(|nodes| nodes.iter().any(|n| n.name == NODE));
                let counts = client.shard_counts().await;
                let copies = counts
                    .as_ref()
                    .map(|c| c.iter().any(|(n, copies)| n == NODE && *copies > 0))
                    .unwrap_or(false);
                seen = format!("pod {pod:?}, member {member}, copies {counts:?}");
                if pod.is_some_and(|p| p.restarts > before.restarts) && member && copies == with_copies {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("node {NODE} did not leave and come back (copies: {with_copies}); last seen: {seen}");
        }
    };
    let input = |before: PodRun| NodeWaitIn {
        at: At {
            target: setup.target.clone(),
            cluster: cluster.clone(),
        },
        pod: POD.into(),
        node: Some(NODE.into()),
        interval: Duration::from_millis(50),
        budget: Duration::from_secs(60),
        // Sent by a worker that is gone, so that a send by the wait would show.
        decommission: Some(format!("{NODE}@gone-worker#0")),
        before: Some(before),
    };

    // Back and empty: allocation held at `none` while it was away (and no drain needed).
    setup
        .sql(
            "kappa",
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'none'",
        )
        .await;
    setup
        .sql(
            "kappa",
            "SET GLOBAL TRANSIENT \"cluster.graceful_stop.min_availability\" = 'none'",
        )
        .await;
    let before = run().await;
    decommission_and_return(before.clone(), false).await;
    assert_eq!(decommissions(&setup), 1);
    let out = AwaitNodeLeft::run(env.clone(), input(before)).await.unwrap();
    assert_eq!(out.done, Some(true), "{}", out.last);
    assert!(
        out.last.contains("restart count 0 → 1") && out.last.contains("holds no shard copy"),
        "{}",
        out.last
    );
    assert_eq!(decommissions(&setup), 1, "not drained again: it holds nothing");

    // Back and holding copies again (allocation enabled): drained again, and then it leaves.
    setup
        .sql("kappa", "RESET GLOBAL \"cluster.routing.allocation.enable\"")
        .await;
    let before = run().await;
    assert_eq!(before.restarts, 1);
    decommission_and_return(before.clone(), true).await;
    assert_eq!(decommissions(&setup), 2);
    let out = AwaitNodeLeft::run(env.clone(), input(before)).await.unwrap();
    assert_eq!(out.done, Some(true), "{}", out.last);
    assert_eq!(decommissions(&setup), 3, "drained once more: it held copies");
    setup.stop().await;
}
