//! The allocation hold is bounded: a restart whose pod never becomes Ready again gives the
//! allocation setting back after `hold` (so CrateDB rebuilds the replicas the missing node held
//! and the cluster is GREEN again while the restart still waits), says so in its report, and
//! still fails in the end with its reason, every setting restored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, fast_options};
use cratectl_core::restart::report::{ClusterState, RequestState};
use cratectl_flow::ops::restart::model::Timeouts;
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_never_comes_back_does_not_keep_the_cluster_under_replicated() {
    let name = "hold-timeout";
    let setup = Setup::start(name, &[ClusterShape::new("alpha", "cratedb")]).await;
    let before = setup.preset_settings("alpha").await;
    setup.faults(&[Fault::NodeNeverRejoins {
        namespace: "cratedb".into(),
        cluster: "alpha".into(),
        node: "data-hot-0".into(),
    }]);
    let mut options = fast_options();
    options.timeouts = Timeouts {
        pod_ready: Duration::from_secs(40),
        hold: Duration::from_secs(2),
        ..Timeouts::default()
    };
    setup
        .restarts
        .start_restart(&setup.request(name, &["alpha"], options))
        .await
        .unwrap();

    // While the restart still waits for the pod: the hold was given back, and said so.
    let waiting = setup
        .until(name, Duration::from_secs(60), |r| {
            r.clusters[0]
                .common
                .warnings
                .iter()
                .any(|w| w.contains("allocation hold released after 2s"))
        })
        .await;
    assert_eq!(waiting.state, RequestState::Running, "{}", waiting.text());
    // ... and CrateDB rebuilt the replicas: GREEN again with the node still away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sim = setup.sim_cluster("alpha");
        let last = sim["health"].as_array().and_then(|h| h.last()).cloned();
        if last.as_ref().is_some_and(|h| h["health"] == "GREEN") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not GREEN again while the pod is away: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let still = setup.restarts.restart_report(name).await.unwrap().unwrap();
    assert_eq!(still.state, RequestState::Running, "GREEN while still waiting");

    // The restart fails in the end, with its reason, and leaves nothing behind.
    let report = setup.finish(name, Duration::from_secs(120)).await;
    let alpha = common::cluster(&report, "alpha");
    assert_eq!(alpha.common.state, ClusterState::Failed, "{}", report.text());
    let reason = alpha.common.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("pod crate-data-hot-alpha-0 with a new UID to be Ready"),
        "{reason}"
    );
    setup
        .assert_cleaned_up("alpha", &before, "after the hold timeout")
        .await;
    setup.stop().await;
}
