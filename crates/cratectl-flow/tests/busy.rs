//! Another actor appearing while an operation runs: the CrateDB operator starts a handler on
//! the resource (its kopf progress annotation, written through the API as the operator writes
//! it) while a restart is on its first pod. The restart stops before the next pod, names the
//! operator's handler, and puts every setting, label and the Lease back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{RestartOps, Setup, at_step, fast_options, uid_counts};
use cratectl_core::op::report::{ClusterState, RequestState};
use cratesim::operator::ClusterShape;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_handler_appearing_mid_restart_stops_it_at_the_next_pod() {
    let setup = Setup::start("busy-mid-restart", &[ClusterShape::new("alpha", "cratedb")]).await;
    let settings_before = setup.preset_settings("alpha").await;
    let id = "busy-mid-restart";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], fast_options()))
        .await
        .unwrap();
    setup
        .until(id, Duration::from_secs(30), |r| {
            at_step(r, "alpha", 1, &["wait ready", "wait rejoin"])
        })
        .await;

    // The operator starts its update handler (kopf's progress storage on the resource).
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        setup.kube(),
        "cratedb",
        &kube::api::ApiResource {
            group: "cloud.crate.io".into(),
            version: "v1".into(),
            api_version: "cloud.crate.io/v1".into(),
            kind: "CrateDB".into(),
            plural: "cratedbs".into(),
        },
    );
    let progress =
        json!({"started": "2026-12-07T09:58:12.000000", "retries": 0, "success": false, "failure": false});
    api.patch(
        "alpha",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"annotations": {
            "operator.cloud.crate.io/cluster_update.scale": progress.to_string()
        }}})),
    )
    .await
    .unwrap();

    let report = setup.finish(id, Duration::from_secs(120)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Failed, "{text}");
    let reason = c.common.reason.as_deref().unwrap();
    assert!(
        reason.contains("stopped before the next disruption")
            && reason
                .contains("the CrateDB operator is running cluster_update.scale since 2026-12-07T09:58:12Z"),
        "{reason}"
    );
    // The first pod finished; the others were never touched.
    let uids = uid_counts(&setup.sim_cluster("alpha"));
    assert_eq!(uids["crate-data-hot-alpha-0"], 2, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-1"], 1, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-2"], 1, "{uids:?}");
    setup
        .assert_cleaned_up("alpha", &settings_before, "after the stop")
        .await;
    setup.stop().await;
}
