//! The restart workflow end to end, in-process: cratesim on a real socket with a scaled clock,
//! a worker on a scratch state directory, and assertions on the simulator's evidence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, TestEngine, fast_options};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratesim::operator::ClusterShape;

on_both_engines!(three_nodes_restart_one_at_a_time_and_settings_come_back);

async fn three_nodes_restart_one_at_a_time_and_settings_come_back(engine: TestEngine) {
    let setup = Setup::start_on(
        engine,
        "three-nodes",
        &[ClusterShape::new("alpha", "cratedb")],
        20.0,
    )
    .await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let request = setup.request("restart-alpha-test", &["alpha"], fast_options());
    setup.restarts.start_restart(&request).await.unwrap();
    assert!(
        setup.restarts.start_restart(&request).await.is_err(),
        "a second start of the same id is refused"
    );
    let report = setup.finish("restart-alpha-test", Duration::from_secs(150)).await;
    let text = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let cluster = &report.clusters[0];
    assert_eq!(cluster.common.state, ClusterState::Succeeded, "{text}");
    assert_eq!(cluster.pods.len(), 3, "{text}");
    for pod in &cluster.pods {
        assert_eq!(pod.result, PodResult::Restarted, "{text}");
        assert_ne!(pod.old_uid, pod.new_uid, "{text}");
    }
    let sim = setup.sim_cluster("alpha");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    for pod in sim["pods"].as_array().unwrap() {
        assert_eq!(
            pod["uids"].as_array().unwrap().len(),
            2,
            "each pod restarted exactly once: {pod}"
        );
    }
    assert_eq!(sim["settings"], settings_before, "settings back at both levels");
    setup.stop().await;
}
