//! The restart's failure and control behaviour, against cratesim, asserting on what the
//! simulator saw: a node that never rejoins fails its cluster safely while the other cluster of
//! the request is restarted; health stuck YELLOW fails with the per-table reason; bursts of API
//! errors are ridden out; a blocking PodDisruptionBudget is reported and then passed; a
//! maintenance wait is released by `force_restart` on the top-level id; `cancel` restores the
//! settings and releases the Lease.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, TestEngine, assert_uids, fast_options};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{Control, MaintenanceSpec};
use cratectl_flow::ops::restart::model::Timeouts;
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;

fn shape(name: &str) -> ClusterShape {
    ClusterShape::new(name, "cratedb")
}

on_both_engines!(a_node_that_never_rejoins_fails_its_cluster_safely_and_the_other_cluster_goes_on);

async fn a_node_that_never_rejoins_fails_its_cluster_safely_and_the_other_cluster_goes_on(
    engine: TestEngine,
) {
    let setup = Setup::start_on(engine, "never-rejoins", &[shape("alpha"), shape("beta")], 20.0).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    setup.faults(&[Fault::NodeNeverRejoins {
        namespace: "cratedb".into(),
        cluster: "alpha".into(),
        node: "data-hot-0".into(),
    }]);
    let mut options = fast_options();
    options.timeouts = Timeouts {
        pod_ready: Duration::from_secs(6),
        rejoin: Duration::from_secs(6),
        ..Timeouts::default()
    };
    setup
        .restarts
        .start_restart(&setup.request("never", &["alpha", "beta"], options))
        .await
        .unwrap();
    let report = setup.finish("never", Duration::from_secs(150)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let alpha = &report.clusters[0];
    assert_eq!(alpha.common.state, ClusterState::Failed, "{text}");
    let reason = alpha.common.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("crate-data-hot-alpha-0") && reason.contains("timed out"),
        "{reason}"
    );
    assert_eq!(alpha.pods[0].result, PodResult::Failed, "{text}");
    assert_eq!(alpha.pods[1].result, PodResult::Pending, "{text}");
    assert_eq!(report.clusters[1].common.state, ClusterState::Succeeded, "{text}");

    let sim = setup.sim_cluster("alpha");
    assert_eq!(
        sim["settings"], settings_before,
        "alpha's settings restored: {sim}"
    );
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    assert_eq!(setup.lease_holder("alpha").await, None, "alpha's Lease released");
    assert_uids(&setup.sim_cluster("beta"), 2);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_stuck_yellow_fails_after_the_timeout_with_the_tables_named() {
    let setup = Setup::start("stuck-yellow", &[shape("gamma")]).await;
    let settings_before = setup.sim_cluster("gamma")["settings"].clone();
    let mut options = fast_options();
    options.timeouts.health = Duration::from_secs(4);
    setup
        .restarts
        .start_restart(&setup.request("yellow", &["gamma"], options))
        .await
        .unwrap();
    // Stuck once the first pod is on its way.
    setup
        .until("yellow", Duration::from_secs(60), |r| {
            r.clusters[0].pods.first().is_some_and(|p| p.old_uid.is_some())
        })
        .await;
    setup.faults(&[Fault::HealthStuckYellow {
        namespace: "cratedb".into(),
        cluster: "gamma".into(),
        stuck: true,
    }]);
    let report = setup.finish("yellow", Duration::from_secs(120)).await;
    let gamma = &report.clusters[0];
    assert_eq!(gamma.common.state, ClusterState::Failed, "{}", report.text());
    let reason = gamma.common.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("timed out after 4s") && reason.contains("YELLOW"),
        "{reason}"
    );
    assert!(
        reason.contains("doc."),
        "the per-table reason names the table: {reason}"
    );
    assert_eq!(
        setup.sim_cluster("gamma")["settings"],
        settings_before,
        "settings restored"
    );
    assert_eq!(setup.lease_holder("gamma").await, None, "Lease released");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_api_errors_are_ridden_out() {
    let setup = Setup::start("bursts", &[shape("delta")]).await;
    setup.faults(&[
        Fault::ApiError {
            verb: None,
            resource: None,
            code: 503,
            count: 6,
        },
        Fault::ApiErrorRate {
            verb: None,
            resource: Some("pods".into()),
            code: 429,
            rate: 0.2,
            seed: Some(7),
        },
    ]);
    setup
        .restarts
        .start_restart(&setup.request("bursts", &["delta"], fast_options()))
        .await
        .unwrap();
    // CrateDB answers 5xx to reads for a while once the restart is under way.
    setup
        .until("bursts", Duration::from_secs(60), |r| {
            r.clusters[0].pods.first().is_some_and(|p| p.old_uid.is_some())
        })
        .await;
    setup.faults(&[Fault::StatementFails {
        namespace: "cratedb".into(),
        cluster: "delta".into(),
        pattern: "sys.health".into(),
        code: 5000,
        message: "simulated internal error".into(),
    }]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    setup.faults(&[
        Fault::ClearStatementFailures {
            namespace: "cratedb".into(),
            cluster: "delta".into(),
        },
        Fault::ClearApiFaults {},
    ]);
    let report = setup.finish("bursts", Duration::from_secs(150)).await;
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    let sim = setup.sim_cluster("delta");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    assert_uids(&sim, 2);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_disruption_budget_is_reported_then_passed() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let mut dc = shape("epsilon");
    dc.dc_util_hook = true;
    let setup = Setup::start("pdb", &[dc]).await;
    // Replace the operator's budget with one that allows no disruption at all.
    let api: kube::Api<PodDisruptionBudget> = kube::Api::namespaced(setup.kube(), "cratedb");
    let budgets = api.list(&Default::default()).await.unwrap();
    let mut blocking = budgets.items.first().expect("the operator's budget").clone();
    for b in &budgets.items {
        api.delete(b.metadata.name.as_deref().unwrap(), &Default::default())
            .await
            .unwrap();
    }
    blocking.metadata = kube::api::ObjectMeta {
        name: Some("freeze".into()),
        namespace: Some("cratedb".into()),
        ..Default::default()
    };
    let mut spec = blocking.spec.clone().unwrap();
    spec.max_unavailable = None;
    spec.min_available = Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(3));
    blocking.spec = Some(spec);
    blocking.status = None;
    api.create(&Default::default(), &blocking).await.unwrap();

    setup
        .restarts
        .start_restart(&setup.request("pdb", &["epsilon"], fast_options()))
        .await
        .unwrap();
    let blocked = setup
        .until("pdb", Duration::from_secs(60), |r| {
            r.clusters[0]
                .common
                .waiting_for
                .as_deref()
                .is_some_and(|w| w.contains("freeze"))
        })
        .await;
    assert_eq!(blocked.clusters[0].common.state, ClusterState::Running);
    assert_uids(&setup.sim_cluster("epsilon"), 1);
    api.delete("freeze", &Default::default()).await.unwrap();
    let report = setup.finish("pdb", Duration::from_secs(150)).await;
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    assert_uids(&setup.sim_cluster("epsilon"), 2);
    setup.stop().await;
}

/// A maintenance file whose only window opens on a day far from now.
fn far_window() -> MaintenanceSpec {
    let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
    let day = today.checked_add(jiff::Span::new().days(3)).unwrap();
    let weekday =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.weekday().to_monday_zero_offset() as usize];
    MaintenanceSpec {
        path: "test.toml".into(),
        toml: format!(
            "[zeta]\ntimezone = \"UTC\"\nmin_window_duration = 30\n\n[[zeta.windows]]\ntime = \"01:00-05:00\"\nweekdays = [\"{weekday}\"]\n"
        ),
    }
}

on_both_engines!(outside_its_window_a_cluster_waits_until_force_restart_on_the_top_level_id);

async fn outside_its_window_a_cluster_waits_until_force_restart_on_the_top_level_id(engine: TestEngine) {
    let setup = Setup::start_on(engine, "window", &[shape("zeta")], 20.0).await;
    let mut options = fast_options();
    options.maintenance = Some(far_window());
    setup
        .restarts
        .start_restart(&setup.request("window", &["zeta"], options))
        .await
        .unwrap();
    let waiting = setup
        .until("window", Duration::from_secs(60), |r| {
            r.clusters[0].common.state == ClusterState::Waiting
        })
        .await;
    let zeta = &waiting.clusters[0];
    let until = zeta.common.waiting_for.clone().unwrap_or_default();
    assert!(
        until.contains("maintenance window") && until.contains("01:00:00Z"),
        "{until}"
    );
    assert_uids(&setup.sim_cluster("zeta"), 1);

    setup
        .restarts
        .signal(
            "window",
            &Control::ForceRestart {
                reason: "test".into(),
            },
        )
        .await
        .unwrap();
    let report = setup.finish("window", Duration::from_secs(150)).await;
    assert_eq!(report.state, RequestState::Completed, "{}", report.text());
    assert_uids(&setup.sim_cluster("zeta"), 2);
    setup.stop().await;
}

on_both_engines!(cancel_mid_restart_restores_the_settings_and_releases_the_lease);

async fn cancel_mid_restart_restores_the_settings_and_releases_the_lease(engine: TestEngine) {
    let setup = Setup::start_on(engine, "cancel", &[shape("eta")], 20.0).await;
    let settings_before = setup.sim_cluster("eta")["settings"].clone();
    setup
        .restarts
        .start_restart(&setup.request("cancel", &["eta"], fast_options()))
        .await
        .unwrap();
    // Settings are changed once a pod is being restarted.
    setup
        .until("cancel", Duration::from_secs(60), |r| {
            r.clusters[0].pods.first().is_some_and(|p| p.old_uid.is_some())
        })
        .await;
    assert_eq!(
        setup.lease_holder("eta").await,
        Some(Some("cancel.cratedb.eta".into()))
    );
    let notes = setup
        .restarts
        .cancel("cancel", "test", &ActivityEnv::new(None), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].error.is_none(), "{}", notes[0]);
    assert!(
        notes[0].undone.iter().any(|u| u.contains("settings")),
        "{}",
        notes[0]
    );
    let report = setup.restarts.restart_report("cancel").await.unwrap().unwrap();
    assert_eq!(report.state, RequestState::Cancelled, "{}", report.text());
    // Let the interrupted pod come back before reading the settings.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        setup.sim_cluster("eta")["settings"],
        settings_before,
        "settings restored"
    );
    assert_eq!(setup.lease_holder("eta").await, None, "Lease released");
    setup.stop().await;
}
