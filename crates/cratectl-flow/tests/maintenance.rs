//! Maintenance windows in a running restart: outside its window a cluster waits (holding its
//! Lease, disrupting nothing) until the window opens or an operator forces it; a window that
//! closes during the restart pauses it at a pod boundary, and the next window resumes it.
//!
//! Windows are judged on the engine's clock (real time), while the simulator runs faster, so
//! the windows here are built around the test's start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
use common::RestartOps;

use std::time::Duration;

use common::{Setup, TestEngine, child_id, fast_options, kube_writes, sql_writes, uid_counts};
use cratectl_core::restart::report::{ClusterState, PodResult, RequestState};
use cratectl_flow::model::{Control, MaintenanceSpec};
use cratesim::operator::ClusterShape;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// `HH:MM` of minute-of-day `minute` (wrapped into one day).
fn hhmm(minute: i64) -> String {
    let minute = minute.rem_euclid(24 * 60);
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Minute of the day of `t` in UTC.
fn minute_of_day(t: Timestamp) -> i64 {
    let time = TimeZone::UTC.to_datetime(t).time();
    i64::from(time.hour()) * 60 + i64::from(time.minute())
}

/// `t` rounded up to a whole second.
fn whole_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() + 1).unwrap()
}

on_both_engines!(outside_its_window_a_cluster_waits_disrupting_nothing_until_forced);

async fn outside_its_window_a_cluster_waits_disrupting_nothing_until_forced(engine: TestEngine) {
    let setup = Setup::start_on(
        engine,
        "far-window",
        &[ClusterShape::new("alpha", "cratedb")],
        20.0,
    )
    .await;
    let before = setup.sim_cluster("alpha");
    // The only window: every day, one hour, opening about 12 hours from now.
    let now = Timestamp::now();
    let opens_minute = (minute_of_day(now) / 60 + 12) % 24 * 60;
    let today = TimeZone::UTC.to_datetime(now).date();
    let mut opens = TimeZone::UTC
        .to_timestamp(today.at((opens_minute / 60) as i8, 0, 0, 0))
        .unwrap();
    if opens <= now {
        opens = opens.checked_add(24.hours()).unwrap();
    }
    let mut options = fast_options();
    options.maintenance = Some(MaintenanceSpec {
        path: "far.toml".into(),
        toml: format!(
            "[alpha]\ntimezone = \"UTC\"\nmin_window_duration = 30\n\n[[alpha.windows]]\ntime = \"{}-{}\"\ndescription = \"Far away\"\n",
            hhmm(opens_minute),
            hhmm(opens_minute + 60)
        ),
    });
    let id = "far-window";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], options))
        .await
        .unwrap();
    let waiting = setup
        .until(id, Duration::from_secs(30), |r| {
            r.clusters[0].common.state == ClusterState::Waiting
        })
        .await;
    let alpha = &waiting.clusters[0];
    let text = waiting.text();
    assert_eq!(waiting.state, RequestState::Running, "{text}");
    assert_eq!(
        alpha.common.window.as_deref(),
        Some(format!("waiting for window until {opens}").as_str()),
        "{text}"
    );
    let waiting_for = alpha.common.waiting_for.clone().unwrap_or_default();
    for needle in [
        format!("maintenance window for pod crate-data-hot-alpha-0 at {opens}"),
        "outside the maintenance window".to_string(),
        format!("the next window 'Far away' opens at {opens}"),
    ] {
        assert!(waiting_for.contains(&needle), "{needle:?} in {waiting_for}");
    }
    assert!(
        alpha.pods.iter().all(|p| p.result == PodResult::Pending),
        "{text}"
    );
    // The Lease is taken before the wait (one operation per cluster), nothing else happens.
    assert_eq!(
        setup.lease_holder("alpha").await,
        Some(Some(child_id(id, "alpha")))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = setup.sim_cluster("alpha");
    assert_eq!(
        uid_counts(&during),
        uid_counts(&before),
        "no pod restarted while waiting"
    );
    assert_eq!(
        sql_writes(&during),
        sql_writes(&before),
        "no SQL write while waiting"
    );
    assert_eq!(during["settings"], before["settings"]);
    assert!(
        kube_writes(&during).iter().all(|w| w.contains("/leases")),
        "only the Lease is written while waiting: {:?}",
        kube_writes(&during)
    );
    assert_eq!(setup.routing_owner_labels("alpha").values().flatten().count(), 0);

    // force_restart on the top-level id (the only id the user knows).
    setup
        .restarts
        .signal(
            id,
            &Control::ForceRestart {
                reason: "urgent security patch".into(),
            },
        )
        .await
        .unwrap();
    let report = setup.finish(id, Duration::from_secs(90)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let alpha = &report.clusters[0];
    assert_eq!(alpha.common.state, ClusterState::Succeeded, "{text}");
    assert_eq!(
        alpha.common.window.as_deref(),
        Some("maintenance windows overridden: urgent security patch"),
        "{text}"
    );
    let sim = setup.sim_cluster("alpha");
    assert!(uid_counts(&sim).values().all(|&n| n == 2), "{sim}");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    setup
        .assert_cleaned_up("alpha", &before["settings"], "forced restart")
        .await;
    setup.stop().await;
}

/// A window open now whose open time ends (a blackout cuts it) `closes_in` from now, and opens
/// again `reopens_after` later, until half an hour from now.
fn closing_window(
    closes_in: SignedDuration,
    reopens_after: SignedDuration,
) -> (MaintenanceSpec, Timestamp, Timestamp) {
    let now = Timestamp::now();
    let closes = whole_second(now.checked_add(closes_in).unwrap());
    let reopens = closes.checked_add(reopens_after).unwrap();
    let minute = minute_of_day(now);
    let toml = format!(
        r#"[alpha]
timezone = "UTC"
min_window_duration = 0

[[alpha.windows]]
time = "{}-{}"
description = "Short window"

[[alpha.blackouts]]
start = "{closes}"
end = "{reopens}"
reason = "Gap between windows"
"#,
        hhmm(minute - 1),
        hhmm(minute + 30)
    );
    (
        MaintenanceSpec {
            path: "short.toml".into(),
            toml,
        },
        closes,
        reopens,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_closes_mid_restart_pauses_at_a_pod_boundary_and_the_next_resumes() {
    // Before any pod was observed, a pod is estimated at its dc_util hook's timeout plus the
    // start-up estimate: 2 s + 1 s here. At x5 a pod takes about 6 s. The window's open time
    // ends 8 s from now: the first pod fits; once one took ~6 s, a pod no longer fits in what is
    // left, and the restart waits for the window to open again 10 s later (long enough that a slow
    // first pod on a loaded machine still meets the gap).
    let mut shape = ClusterShape::new("alpha", "cratedb");
    shape.dc_util_hook = true;
    shape.dc_util_command = "/dc_util -min-availability PRIMARIES -timeout 2s".into();
    let setup = Setup::start_at("closing-window", &[shape], 5.0).await;
    let before = setup.sim_cluster("alpha");
    let (spec, closes, reopens) = closing_window(SignedDuration::from_secs(8), SignedDuration::from_secs(10));
    let mut options = fast_options();
    options.maintenance = Some(spec);
    options.startup_estimate = Duration::from_secs(1);
    let id = "closing-window";
    setup
        .restarts
        .start_restart(&setup.request(id, &["alpha"], options))
        .await
        .unwrap();
    let paused = setup
        .until(id, Duration::from_secs(40), |r| {
            r.clusters[0].common.state == ClusterState::Waiting
        })
        .await;
    let text = paused.text();
    let alpha = &paused.clusters[0];
    assert!(
        Timestamp::now() < reopens,
        "the pause is seen before the window reopens: {text}"
    );
    let restarted: Vec<_> = alpha
        .pods
        .iter()
        .filter(|p| p.result == PodResult::Restarted)
        .map(|p| p.name.clone())
        .collect();
    let pending: Vec<_> = alpha
        .pods
        .iter()
        .filter(|p| p.result == PodResult::Pending)
        .map(|p| p.name.clone())
        .collect();
    assert!(
        !restarted.is_empty() && !pending.is_empty() && restarted.len() + pending.len() == 3,
        "paused at a pod boundary, some pods restarted, the others pending: {}",
        common::pretty(&paused)
    );
    assert_eq!(
        alpha.common.current_step.as_deref(),
        Some("maintenance window"),
        "{text}"
    );
    assert_eq!(
        alpha.common.window.as_deref(),
        Some(format!("waiting for window until {reopens}").as_str()),
        "{text}"
    );
    let waiting_for = alpha.common.waiting_for.clone().unwrap_or_default();
    assert!(
        waiting_for.contains(&format!("maintenance window for pod {} at {reopens}", pending[0])),
        "{waiting_for}"
    );
    // Either the open time left was too short for the estimate (the pod boundary came before
    // the window closed), or the window had closed already.
    assert!(
        waiting_for.contains(&format!("window 'Short window' closes at {closes}"))
            || waiting_for.contains("blackout 'Gap between windows' is in force"),
        "{waiting_for}"
    );
    // Nothing is down during the pause: the restarted pods are back, the others untouched.
    let sim = setup.sim_cluster("alpha");
    let uids = uid_counts(&sim);
    for pod in &restarted {
        assert_eq!(uids[pod], 2, "{uids:?}");
    }
    for pod in &pending {
        assert_eq!(uids[pod], 1, "{uids:?}");
    }
    assert_eq!(
        setup.lease_holder("alpha").await,
        Some(Some(child_id(id, "alpha"))),
        "the Lease is held through the pause"
    );

    // The window opens again: the restart goes on by itself and finishes.
    let report = setup.finish(id, Duration::from_secs(60)).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    assert!(
        report.clusters[0]
            .pods
            .iter()
            .filter(|p| pending.contains(&p.name))
            .all(|p| p.result == PodResult::Restarted && p.started_at.is_some_and(|t| t >= reopens)),
        "the pending pods restarted once the window reopened: {text}"
    );
    let sim = setup.sim_cluster("alpha");
    assert!(uid_counts(&sim).values().all(|&n| n == 2), "{sim}");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    setup
        .assert_cleaned_up("alpha", &before["settings"], "after the second window")
        .await;
    setup.stop().await;
}
