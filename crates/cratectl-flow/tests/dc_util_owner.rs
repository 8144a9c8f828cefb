//! A rolling restart of a dc_util cluster leaves `cluster.routing.allocation.enable` to cratectl.
//!
//! The cluster's pods have the operator's dc_util preStop hook and its `--reset-routing`
//! postStart hook, so on every pod the hooks write the setting (SET TRANSIENT 'primaries' before
//! the decommission, RESET GLOBAL once the replacement's node answers) unless the StatefulSet's
//! `dc-util-routing-owner` label is one dc_util honours: `operator-<unix seconds>` within two
//! hours (crate/crate-operator, `utils/dc_util/dc_util.go`, `operatorOwnsRoutingAllocation`).
//! The postStart's RESET would drop the hold cratectl placed for the pod while the node is still
//! recovering. cratesim runs both hooks by that rule and records every statement they send, so
//! the proof is that the record stays empty through the whole restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, assert_uids, fast_options, pretty};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratesim::operator::ClusterShape;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_keeps_dc_util_hooks_off_the_allocation_setting() {
    let mut shape = ClusterShape::new("alpha", "cratedb");
    shape.dc_util_hook = true;
    shape.dc_util_post_start = true;
    let setup = Setup::start("dc-util-owner", &[shape]).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let id = "dc-util-owner";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], fast_options()))
        .await
        .unwrap();

    // The labels while a pod is away (checked below, after the proof itself).
    setup
        .until(id, Duration::from_secs(60), |r| {
            r.clusters[0].common.current_step.as_deref() == Some("wait ready")
        })
        .await;
    let labels = setup.routing_owner_labels("alpha");

    let report = setup.finish(id, Duration::from_secs(150)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let alpha = &report.clusters[0];
    assert_eq!(alpha.common.state, ClusterState::Succeeded, "{text}");
    assert!(
        alpha.pods.iter().all(|p| p.result == PodResult::Restarted),
        "{text}"
    );
    let sim = setup.sim_cluster("alpha");
    assert_uids(&sim, 2);
    assert_eq!(
        sim["hook_writes"],
        serde_json::json!([]),
        "dc_util's hooks wrote no allocation setting during the restart: {}",
        pretty(&sim["hook_writes"])
    );
    assert!(
        labels
            .values()
            .all(|l| l.as_deref().is_some_and(|v| v.starts_with("operator-"))),
        "while a pod was away every StatefulSet carried a label dc_util honours: {labels:?}"
    );
    setup
        .assert_cleaned_up("alpha", &settings_before, "after the restart")
        .await;
    setup.stop().await;
}
