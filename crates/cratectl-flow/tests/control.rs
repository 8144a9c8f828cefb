//! An operator's control over a running restart, and one operation per cluster:
//!
//! * `cancel` (a hard stop) while the cluster waits for its window holding the Lease, and in
//!   the middle of a pod after the settings were changed: the restart reads as cancelled, what
//!   it had changed is undone (settings at both levels, routing-owner label, Lease) and the
//!   returned notes say so;
//! * `stop`: the pod under way finishes, the cluster ends `stopped` with the other pods pending
//!   and the reason, everything undone;
//! * a second request for a cluster another request holds is refused, naming the holder, and
//!   disrupts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, TestEngine, at_step, child_id, fast_options, sql_writes, uid_counts};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{Control, MaintenanceSpec};
use cratectl_flow::ops::restart::model::RestartOptions;
use cratesim::operator::ClusterShape;

/// Options whose maintenance windows are blacked out for the next 20 days: the restart takes
/// the Lease, then waits.
fn waiting_options(cluster: &str) -> RestartOptions {
    let today = jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date();
    let far = today.checked_add(jiff::Span::new().days(20)).unwrap();
    let mut options = fast_options();
    options.maintenance = Some(MaintenanceSpec {
        path: "freeze.toml".into(),
        toml: format!(
            "[{cluster}]\ntimezone = \"UTC\"\nmin_window_duration = 30\n\n[[{cluster}.windows]]\ntime = \"01:00-05:00\"\n\n[[{cluster}.blackouts]]\nstart = \"{today}T00:00:00Z\"\nend = \"{far}T00:00:00Z\"\nreason = \"Freeze\"\n"
        ),
    });
    options
}

async fn waiting_with_the_lease(setup: &Setup, id: &str, cluster: &str) {
    let waiting = setup
        .until(id, Duration::from_secs(30), |r| {
            r.clusters[0].common.state == ClusterState::Waiting
        })
        .await;
    assert_eq!(
        waiting.clusters[0].common.current_step.as_deref(),
        Some("maintenance window"),
        "{}",
        waiting.text()
    );
    assert_eq!(
        setup.lease_holder(cluster).await,
        Some(Some(child_id(id, cluster))),
        "the Lease is taken before the window wait"
    );
}

on_both_engines!(cancel_while_waiting_for_a_window_releases_the_lease);

async fn cancel_while_waiting_for_a_window_releases_the_lease(engine: TestEngine) {
    let setup = Setup::start_on(
        engine,
        "cancel-waiting",
        &[ClusterShape::new("alpha", "cratedb")],
        20.0,
    )
    .await;
    let before = setup.sim_cluster("alpha");
    let id = "cancel-waiting";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], waiting_options("alpha")))
        .await
        .unwrap();
    waiting_with_the_lease(&setup, id, "alpha").await;

    let notes = setup
        .restarts
        .cancel(
            id,
            "changed my mind",
            &ActivityEnv::new(None),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = &notes[0];
    assert_eq!(note.error, None, "{note}");
    assert_eq!(note.undone, vec!["Lease released".to_string()], "{note}");
    assert_eq!(note.to_string(), "cratedb/alpha: Lease released");

    let report = setup.restarts.restart_report(id).await.unwrap().unwrap();
    let text = report.text();
    assert_eq!(report.state, RequestState::Cancelled, "{text}");
    assert_eq!(report.clusters[0].common.state, ClusterState::Cancelled, "{text}");
    let after = setup.sim_cluster("alpha");
    assert_eq!(uid_counts(&after), uid_counts(&before), "no pod restarted");
    assert_eq!(sql_writes(&after), sql_writes(&before), "no SQL written");
    setup
        .assert_cleaned_up("alpha", &before["settings"], "cancelled while waiting")
        .await;
    setup.stop().await;
}

on_both_engines!(cancel_mid_pod_restores_the_settings_at_both_levels_and_says_so);

/// Restart `id` of cluster alpha (its settings preset first) on `engine`, once its first pod is
/// on its way: the settings are recorded and changed (allocation held, min_availability for our
/// own decommission) and the label is on. Returns the setup and the settings before.
async fn restart_mid_pod(engine: TestEngine, id: &str) -> (Setup, serde_json::Value) {
    let setup = Setup::start_on(engine, id, &[ClusterShape::new("alpha", "cratedb")], 20.0).await;
    let settings_before = setup.preset_settings("alpha").await;
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
    (setup, settings_before)
}

async fn cancel_mid_pod_restores_the_settings_at_both_levels_and_says_so(engine: TestEngine) {
    let id = "cancel-mid-pod";
    let (setup, settings_before) = restart_mid_pod(engine, id).await;
    let during = setup.sim_cluster("alpha");
    assert_ne!(during["settings"], settings_before, "changed for the restart");
    assert!(
        setup
            .routing_owner_labels("alpha")
            .values()
            .all(|l| l.as_deref().is_some_and(|v| v.starts_with("operator-"))),
        "{:?}",
        setup.routing_owner_labels("alpha")
    );

    let notes = setup
        .restarts
        .cancel(
            id,
            "wrong cluster",
            &ActivityEnv::new(None),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note = &notes[0];
    assert_eq!(note.error, None, "{note}");
    assert_eq!(
        note.undone,
        vec![
            "settings restored".to_string(),
            "routing-owner label removed".to_string(),
            "Lease released".to_string()
        ],
        "{note}"
    );
    let report = setup.restarts.restart_report(id).await.unwrap().unwrap();
    let text = report.text();
    assert_eq!(report.state, RequestState::Cancelled, "{text}");
    assert_eq!(report.clusters[0].common.state, ClusterState::Cancelled, "{text}");
    setup
        .assert_cleaned_up("alpha", &settings_before, "right after the cancel")
        .await;

    // Nothing of the cancelled workflow comes back later (an activity cut short writing after
    // the compensation): the interrupted pod returns by itself, nothing else is restarted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    setup
        .assert_cleaned_up("alpha", &settings_before, "3 s after the cancel")
        .await;
    let uids = uid_counts(&setup.sim_cluster("alpha"));
    assert_eq!(uids["crate-data-hot-alpha-0"], 2, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-1"], 1, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-2"], 1, "{uids:?}");
    setup.stop().await;
}

on_both_engines!(two_cancels_at_once_undo_once);

/// Two hosts cancel the same restart at the same moment (each with its own client of the
/// engine): the cancel is recorded by both, the compensation runs once, and the other says
/// why it did not run it.
async fn two_cancels_at_once_undo_once(engine: TestEngine) {
    let id = "cancel-twice";
    let (setup, settings_before) = restart_mid_pod(engine, id).await;
    let other_host = common::Restarts::open(&setup.engine).await.unwrap();
    let env = ActivityEnv::new(None);
    let (one, two) = tokio::join!(
        setup
            .restarts
            .cancel(id, "wrong cluster", &env, Duration::from_secs(30)),
        other_host.cancel(id, "wrong cluster", &env, Duration::from_secs(30)),
    );
    let notes: Vec<_> = one.unwrap().into_iter().chain(two.unwrap()).collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let undid: Vec<_> = notes.iter().filter(|n| !n.undone.is_empty()).collect();
    assert_eq!(undid.len(), 1, "undone once: {notes:?}");
    assert!(
        undid[0].undone.contains(&"settings restored".to_string()),
        "{notes:?}"
    );
    let skipped: Vec<_> = notes.iter().filter(|n| n.skipped.is_some()).collect();
    assert_eq!(skipped.len(), 1, "the other says why: {notes:?}");
    assert!(notes.iter().all(|n| n.error.is_none()), "{notes:?}");
    setup
        .assert_cleaned_up("alpha", &settings_before, "after two cancels")
        .await;
    // A third cancel later: already undone, nothing runs again.
    let again = other_host
        .cancel(id, "again", &env, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(again[0].skipped.as_deref(), Some("already undone"), "{again:?}");
    assert!(again[0].undone.is_empty(), "{again:?}");
    setup.stop().await;
}

on_both_engines!(stop_finishes_the_current_pod_then_stops_cleanly);

async fn stop_finishes_the_current_pod_then_stops_cleanly(engine: TestEngine) {
    let setup = Setup::start_on(engine, "stop", &[ClusterShape::new("alpha", "cratedb")], 20.0).await;
    let settings_before = setup.preset_settings("alpha").await;
    let id = "stop";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], fast_options()))
        .await
        .unwrap();
    setup
        .until(id, Duration::from_secs(30), |r| {
            at_step(r, "alpha", 1, &["decommission", "evict", "wait ready"])
        })
        .await;
    setup
        .restarts
        .signal(
            id,
            &Control::Stop {
                reason: "end of the change slot".into(),
            },
        )
        .await
        .unwrap();
    let report = setup.finish(id, Duration::from_secs(60)).await;
    let text = report.text();
    // Stopped on request with no pod failed: not a failure of the request.
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let alpha = &report.clusters[0];
    assert_eq!(alpha.common.state, ClusterState::Stopped, "{text}");
    let why = "stopped by operator: end of the change slot";
    assert_eq!(alpha.common.reason.as_deref(), Some(why), "{text}");
    assert_eq!(alpha.pods[0].name, "crate-data-hot-alpha-0", "{text}");
    assert_eq!(
        alpha.pods[0].result,
        PodResult::Restarted,
        "the current pod finished: {text}"
    );
    for pod in &alpha.pods[1..] {
        assert_eq!(pod.result, PodResult::Pending, "{text}");
        assert_eq!(pod.reason.as_deref(), Some(why), "{text}");
    }
    let sim = setup.sim_cluster("alpha");
    let uids = uid_counts(&sim);
    assert_eq!(uids["crate-data-hot-alpha-0"], 2, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-1"], 1, "{uids:?}");
    assert_eq!(uids["crate-data-hot-alpha-2"], 1, "{uids:?}");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    setup
        .assert_cleaned_up("alpha", &settings_before, "stopped")
        .await;
    setup.stop().await;
}

/// Asserts that request `second` failed on the Lease `first` holds for `cluster`.
fn assert_refused_naming_the_holder(
    report: &cratectl_core::restart::report::RestartReport,
    first: &str,
    cluster: &str,
) {
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let refused = &report.clusters[0];
    assert_eq!(refused.common.state, ClusterState::Failed, "{text}");
    let reason = refused.common.reason.clone().unwrap_or_default();
    let holder = child_id(first, cluster);
    assert!(
        reason.contains(&format!(
            "another operation holds the cluster's Lease cratedb/cratectl-{cluster}: {holder}"
        )),
        "the reason names the holder {holder}: {reason}"
    );
    assert!(
        refused
            .pods
            .iter()
            .all(|p| p.result == PodResult::Pending && p.old_uid.is_none()),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_for_a_held_cluster_is_refused_naming_the_holder() {
    let setup = Setup::start("second-request", &[ClusterShape::new("alpha", "cratedb")]).await;
    let before = setup.sim_cluster("alpha");
    let first = "first-request";
    setup
        .restarts
        .start_restart(&setup.request(first, &["alpha"], waiting_options("alpha")))
        .await
        .unwrap();
    waiting_with_the_lease(&setup, first, "alpha").await;

    let second = "second-request";
    setup
        .restarts
        .start_restart(&setup.request(second, &["alpha"], fast_options()))
        .await
        .unwrap();
    let report = setup.finish(second, Duration::from_secs(30)).await;
    assert_refused_naming_the_holder(&report, first, "alpha");
    // The refused request disrupted nothing and left the first one's Lease alone.
    let after = setup.sim_cluster("alpha");
    assert_eq!(uid_counts(&after), uid_counts(&before));
    assert_eq!(sql_writes(&after), sql_writes(&before));
    assert_eq!(after["settings"], before["settings"]);
    assert_eq!(
        setup.lease_holder("alpha").await,
        Some(Some(child_id(first, "alpha")))
    );
    let first_report = setup.restarts.restart_report(first).await.unwrap().unwrap();
    assert_eq!(
        first_report.clusters[0].common.state,
        ClusterState::Waiting,
        "{}",
        first_report.text()
    );

    setup
        .restarts
        .cancel(
            first,
            "test over",
            &ActivityEnv::new(None),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    setup
        .assert_cleaned_up("alpha", &before["settings"], "first request cancelled")
        .await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_during_a_pod_restart_is_refused_naming_the_holder() {
    let setup = Setup::start("second-mid-pod", &[ClusterShape::new("alpha", "cratedb")]).await;
    let before = setup.sim_cluster("alpha");
    let first = "first-mid-pod";
    setup
        .restarts
        .start_restart(&setup.request(first, &["alpha"], fast_options()))
        .await
        .unwrap();
    // A node of the cluster is down because of the first request.
    setup
        .until(first, Duration::from_secs(30), |r| {
            at_step(r, "alpha", 1, &["wait ready"])
        })
        .await;
    let second = "second-mid-pod";
    setup
        .restarts
        .start_restart(&setup.request(second, &["alpha"], fast_options()))
        .await
        .unwrap();
    let report = setup.finish(second, Duration::from_secs(30)).await;
    let first_report = setup.finish(first, Duration::from_secs(60)).await;
    assert_eq!(
        first_report.state,
        RequestState::Completed,
        "the first request is not disturbed: {}",
        first_report.text()
    );
    let sim = setup.sim_cluster("alpha");
    assert!(
        uid_counts(&sim).values().all(|&n| n == 2),
        "each pod restarted once, by the first request: {sim}"
    );
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    setup
        .assert_cleaned_up("alpha", &before["settings"], "both requests ended")
        .await;
    assert_refused_naming_the_holder(&report, first, "alpha");
    setup.stop().await;
}

/// A pod's waits can outlast the Lease (a decommission may take hours): the Lease is renewed
/// while the restart waits, so it never lapses for another operation to take while a node is
/// down. Here the Lease lasts 4 s and the first pod's replacement is never Ready for 12 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_is_renewed_through_a_long_wait_and_never_lapses() {
    use k8s_openapi::api::coordination::v1::Lease;

    let name = "lease-renewed";
    let setup = Setup::start(name, &[ClusterShape::new("theta", "cratedb")]).await;
    setup.faults(&[cratesim::faults::Fault::NodeNeverRejoins {
        namespace: "cratedb".into(),
        cluster: "theta".into(),
        node: "data-hot-0".into(),
    }]);
    let mut options = fast_options();
    options.lease_duration = Duration::from_secs(4);
    options.timeouts.pod_ready = Duration::from_secs(12);
    setup
        .restarts
        .start_restart(&setup.request(name, &["theta"], options))
        .await
        .unwrap();
    setup
        .until(name, Duration::from_secs(60), |r| {
            at_step(r, "theta", 1, &["wait ready"])
        })
        .await;

    let api: kube::Api<Lease> = kube::Api::namespaced(setup.kube(), "cratedb");
    let holder = child_id(name, "theta");
    let mut renewals = std::collections::BTreeSet::new();
    let watch_until = std::time::Instant::now() + Duration::from_secs(9);
    while std::time::Instant::now() < watch_until {
        let spec = api.get("cratectl-theta").await.unwrap().spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some(holder.as_str()));
        let seconds = spec.lease_duration_seconds.unwrap();
        assert_eq!(seconds, 4);
        let renewed: jiff::Timestamp = spec.renew_time.unwrap().0.to_string().parse().unwrap();
        let age = jiff::Timestamp::now().duration_since(renewed);
        assert!(
            age < jiff::SignedDuration::from_secs(i64::from(seconds)),
            "the Lease lapsed: renewed {age:?} ago, lasts {seconds}s"
        );
        renewals.insert(renewed);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        renewals.len() >= 5,
        "renewed about every second during 9 s of waiting, saw {} renewals",
        renewals.len()
    );

    let report = setup.finish(name, Duration::from_secs(60)).await;
    let theta = common::cluster(&report, "theta");
    assert_eq!(theta.common.state, ClusterState::Failed, "{}", report.text());
    assert_eq!(setup.lease_holder("theta").await, None, "released at the end");
    setup.stop().await;
}
