//! The write-and-wait operations of a rolling restart, against the simulator in-process (kube-rs
//! over `Sim::router()`, tokio's paused clock, so a pod's ~20 simulated seconds of restart cost
//! milliseconds): stopping a pod only if it is still the one meant (evict and delete with a UID
//! precondition), PodDisruptionBudgets refusing, waiting by watch for the replacement through
//! dropped and expired watches and API errors, the Lease as a lock, and the routing-owner label.
//! Where it matters, the simulator's own report says what really happened (which UIDs a pod had,
//! which writes were made).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratectl_kube::discovery::discover;
use cratectl_kube::labels::{ROUTING_OWNER_LABEL, routing_owner_value, set_routing_owner};
use cratectl_kube::lease::{acquire_lease, lease_info, lease_name, release_lease, renew_lease};
use cratectl_kube::pods::{delete_pod, evict_pod, get_pod, wait_pod_gone, wait_pod_replaced};
use cratectl_kube::{Acquire, Kube, PodState, StopOutcome, WaitError};
use cratesim::clock::Clock;
use cratesim::faults::Fault;
use cratesim::operator::ClusterShape;
use cratesim::serve::Sim;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

const NS: &str = "cratedb";
const POD: &str = "crate-data-hot-alpha-1";
const STS: &str = "crate-data-hot-alpha";
/// Far longer than a restart takes; under the paused clock it costs nothing.
const LONG: Duration = Duration::from_secs(600);

/// Cluster `alpha`: three data nodes of StatefulSet `crate-data-hot-alpha`, with the operator's
/// PodDisruptionBudget (maxUnavailable 1) and a grace period of 1800 s.
fn sim() -> Sim {
    Sim::new(Clock::new(1.0), &[ClusterShape::new("alpha", NS)]).unwrap()
}

fn kube(sim: &Sim) -> Kube {
    Kube::from_client(Client::new(sim.router(), NS), "cratesim", "http://in-process")
}

fn inject(sim: &Sim, faults: Value) {
    let faults: Vec<Fault> = serde_json::from_value(faults).unwrap();
    cratesim::faults::apply(&sim.server, &faults).unwrap();
}

/// The UIDs the simulator's report says pod `name` has had.
fn uids(sim: &Sim, name: &str) -> Vec<String> {
    let report = sim.report();
    let pods = report["clusters"][0]["pods"].as_array().unwrap();
    let pod = pods.iter().find(|p| p["name"] == name).unwrap();
    serde_json::from_value(pod["uids"].clone()).unwrap()
}

async fn current(kube: &Kube) -> PodState {
    get_pod(kube, NS, POD).await.unwrap().expect("the pod exists")
}

#[tokio::test(start_paused = true)]
async fn evicting_the_recorded_uid_replaces_the_pod_and_a_rerun_only_finds_it_gone() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;
    assert!(old.ready && !old.terminating, "{old}");
    assert_eq!((old.phase.as_str(), old.node.is_some()), ("Running", true));
    assert_eq!(get_pod(&kube, NS, "crate-data-hot-alpha-9").await.unwrap(), None);

    let outcome = evict_pod(&kube, NS, POD, &old.uid, Some(Duration::from_secs(60))).await;
    assert_eq!(outcome.unwrap(), StopOutcome::Requested);
    // The grace period reached the API server (kube-rs' own evict would drop it).
    let pods: Api<Pod> = Api::namespaced(kube.client.clone(), NS);
    let stopping = pods.get(POD).await.unwrap();
    assert_eq!(stopping.metadata.deletion_grace_period_seconds, Some(60));
    // Asking again while it stops (an activity run twice) is harmless.
    assert_eq!(
        evict_pod(&kube, NS, POD, &old.uid, None).await.unwrap(),
        StopOutcome::Requested
    );

    let mut seen: Vec<PodState> = Vec::new();
    let new = wait_pod_replaced(&kube, NS, POD, &old.uid, LONG, |s| seen.push(s.clone()))
        .await
        .unwrap();
    assert_ne!(new.uid, old.uid);
    assert!(new.ready && !new.terminating, "{new}");
    assert_eq!(
        seen.first().map(|s| (&s.uid, s.terminating)),
        Some((&old.uid, true))
    );
    assert!(
        seen.iter().any(|s| s.uid == new.uid && !s.ready),
        "the new pod was seen before it was Ready: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&new));
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "each state is reported once");
    }

    // A re-run of the step after a crash: the recorded UID is gone, nothing is stopped again.
    assert_eq!(
        evict_pod(&kube, NS, POD, &old.uid, None).await.unwrap(),
        StopOutcome::AlreadyGone
    );
    assert_eq!(
        delete_pod(&kube, NS, POD, &old.uid, None).await.unwrap(),
        StopOutcome::AlreadyGone
    );
    wait_pod_gone(&kube, NS, POD, &old.uid, LONG).await.unwrap();
    let again = wait_pod_replaced(&kube, NS, POD, &old.uid, LONG, |_| {})
        .await
        .unwrap();
    assert_eq!(again, new, "a replacement already there is found at once");
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(current(&kube).await, new);
    assert_eq!(uids(&sim, POD), [old.uid, new.uid]);
}

#[tokio::test(start_paused = true)]
async fn a_stale_uid_stops_nothing() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;
    assert_eq!(
        evict_pod(&kube, NS, POD, "0-stale-uid", None).await.unwrap(),
        StopOutcome::AlreadyGone
    );
    assert_eq!(
        delete_pod(&kube, NS, POD, "0-stale-uid", Some(Duration::ZERO))
            .await
            .unwrap(),
        StopOutcome::AlreadyGone
    );
    // A pod that does not exist at all is gone too.
    assert_eq!(
        evict_pod(&kube, NS, "crate-data-hot-alpha-9", "u", None)
            .await
            .unwrap(),
        StopOutcome::AlreadyGone
    );
    assert_eq!(
        delete_pod(&kube, NS, "crate-data-hot-alpha-9", "u", None)
            .await
            .unwrap(),
        StopOutcome::AlreadyGone
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    let after = current(&kube).await;
    assert_eq!(after, old, "the pod was not touched");
    assert_eq!(uids(&sim, POD), [old.uid.as_str()], "never restarted");
    // wait_pod_gone on a UID that is not there returns at once.
    wait_pod_gone(&kube, NS, POD, "0-stale-uid", LONG).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn delete_with_a_grace_period_stops_the_pod_and_wait_pod_gone_sees_it_go() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;
    let outcome = delete_pod(&kube, NS, POD, &old.uid, Some(Duration::from_millis(4500))).await;
    assert_eq!(outcome.unwrap(), StopOutcome::Requested);
    let pods: Api<Pod> = Api::namespaced(kube.client.clone(), NS);
    let stopping = pods.get(POD).await.unwrap();
    assert_eq!(
        stopping.metadata.deletion_grace_period_seconds,
        Some(5),
        "rounded up, never down to an immediate kill"
    );
    assert!(current(&kube).await.terminating);
    wait_pod_gone(&kube, NS, POD, &old.uid, LONG).await.unwrap();
    let now = get_pod(&kube, NS, POD).await.unwrap();
    assert!(now.as_ref().is_none_or(|p| p.uid != old.uid), "{now:?}");
}

#[tokio::test(start_paused = true)]
async fn a_budget_blocks_the_eviction_by_name_until_it_is_deleted() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(kube.client.clone(), NS);
    // A budget allowing no disruption at all, over the operator's pods.
    let selector = budgets.get(STS).await.unwrap().spec.unwrap().selector.unwrap();
    let strict: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "all-or-nothing"},
        "spec": {"minAvailable": 3, "selector": selector},
    }))
    .unwrap();
    budgets.create(&PostParams::default(), &strict).await.unwrap();

    // Two budgets over one pod: the API server refuses whatever they allow, and both are named.
    let StopOutcome::Blocked {
        budgets: mut names,
        message,
    } = evict_pod(&kube, NS, POD, &old.uid, None).await.unwrap()
    else {
        panic!("not blocked")
    };
    names.sort();
    assert_eq!(names, ["all-or-nothing", STS]);
    assert!(message.contains("more than one PodDisruptionBudget"), "{message}");

    // The strict one alone.
    budgets.delete(STS, &DeleteParams::default()).await.unwrap();
    let blocked = evict_pod(&kube, NS, POD, &old.uid, None).await.unwrap();
    let StopOutcome::Blocked {
        budgets: names,
        message,
    } = &blocked
    else {
        panic!("not blocked: {blocked:?}")
    };
    assert_eq!(names, &["all-or-nothing"]);
    assert!(
        message.contains("would violate the pod's disruption budget")
            && message.contains("all-or-nothing needs 3 healthy pods and has 3 currently"),
        "{message}"
    );
    assert!(!current(&kube).await.terminating, "a refusal stops nothing");
    // The API server asks the budget before it checks the UID: a stale UID still learns the
    // truth (that pod is gone), not a refusal.
    assert_eq!(
        evict_pod(&kube, NS, POD, "0-stale-uid", None).await.unwrap(),
        StopOutcome::AlreadyGone
    );

    budgets
        .delete("all-or-nothing", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        evict_pod(&kube, NS, POD, &old.uid, None).await.unwrap(),
        StopOutcome::Requested
    );
    let new = wait_pod_replaced(&kube, NS, POD, &old.uid, LONG, |_| {})
        .await
        .unwrap();
    assert_ne!(new.uid, old.uid);
    assert_eq!(uids(&sim, POD), [old.uid, new.uid]);
}

#[tokio::test(start_paused = true)]
async fn waiting_survives_dropped_and_expired_watches_and_api_errors() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;
    let started = tokio::time::Instant::now();
    let outcome = evict_pod(&kube, NS, POD, &old.uid, Some(Duration::from_secs(10))).await;
    assert_eq!(outcome.unwrap(), StopOutcome::Requested);

    let chaos = async {
        let pods: Api<Pod> = Api::namespaced(kube.client.clone(), NS);
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The API server closes the watch: the watcher watches again from where it was.
        inject(&sim, json!([{"kind": "drop_watches", "resource": "pods"}]));
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Another pod changes (the watch, selecting ours, does not see it), then the event log
        // is compacted and the watch closed: watching again from its resourceVersion is 410
        // Gone, and the watcher must list again.
        let patch = json!({"metadata": {"annotations": {"chaos": "1"}}});
        pods.patch(
            "crate-data-hot-alpha-0",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
        inject(
            &sim,
            json!([{"kind": "expire_watches"}, {"kind": "drop_watches"}]),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A burst of errors on every list and watch, while the watch is closed again.
        inject(
            &sim,
            json!([
                {"kind": "api_error", "verb": "GET", "resource": "pods", "code": 503, "count": 2},
                {"kind": "api_error", "verb": "GET", "resource": "pods", "code": 429, "count": 1},
                {"kind": "api_error", "verb": "GET", "resource": "pods", "code": 500, "count": 1},
                {"kind": "drop_watches", "resource": "pods"},
            ]),
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        inject(
            &sim,
            json!([{"kind": "expire_watches"}, {"kind": "drop_watches"}]),
        );
    };
    let mut seen = Vec::new();
    let wait = wait_pod_replaced(&kube, NS, POD, &old.uid, LONG, |s| seen.push(s.clone()));
    let (replaced, ()) = tokio::join!(wait, chaos);
    let new = replaced.unwrap();
    assert_ne!(new.uid, old.uid);
    assert!(new.ready && !new.terminating);
    assert!(
        started.elapsed() > Duration::from_secs(7),
        "the faults struck while it waited"
    );
    assert!(seen.iter().any(|s| s.uid == old.uid && s.terminating), "{seen:?}");
    // Every injected error was met (and survived) by the wait: none is left for this read.
    assert_eq!(current(&kube).await, new);
    assert_eq!(uids(&sim, POD), [old.uid, new.uid]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_that_times_out_says_what_it_saw_last() {
    let sim = sim();
    let kube = kube(&sim);
    let old = current(&kube).await;

    // Nobody stopped the pod.
    let error = wait_pod_replaced(&kube, NS, POD, &old.uid, Duration::from_secs(30), |_| {})
        .await
        .unwrap_err();
    let WaitError::Timeout { what, waited, last } = &error else {
        panic!("{error:?}")
    };
    assert!(what.contains(POD) && what.contains(&old.uid), "{what}");
    assert!(*waited >= Duration::from_secs(30), "{waited:?}");
    assert_eq!(last, &format!("pod {POD} uid {} Running, Ready", old.uid));
    let text = error.to_string();
    assert!(text.starts_with("timed out after 30"), "{text}");
    assert!(
        text.contains("last seen: pod crate-data-hot-alpha-1 uid"),
        "{text}"
    );

    let error = wait_pod_gone(&kube, NS, POD, &old.uid, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WaitError::Timeout { last, .. } if last.ends_with("Running, Ready")),
        "{error}"
    );

    // No such pod at all.
    let error = wait_pod_replaced(
        &kube,
        NS,
        "crate-data-hot-alpha-7",
        "u",
        Duration::from_secs(5),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, WaitError::Timeout { last, .. } if last == "no pod of that name"),
        "{error}"
    );

    // An API server that fails every read: the wait retries until its time is up, and says why.
    inject(
        &sim,
        json!([{"kind": "api_error_rate", "verb": "GET", "resource": "pods", "code": 503, "rate": 1.0}]),
    );
    let error = wait_pod_replaced(&kube, NS, POD, &old.uid, Duration::from_secs(60), |_| {})
        .await
        .unwrap_err();
    let WaitError::Timeout { last, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(
        last.starts_with("nothing: no listing of the pod has succeeded yet; last API error:"),
        "{last}"
    );
    assert!(
        last.ends_with("503 ServiceUnavailable: cratesim: injected fault (503 ServiceUnavailable)"),
        "{last}"
    );
}

async fn lease(kube: &Kube) -> Option<Lease> {
    let leases: Api<Lease> = Api::namespaced(kube.client.clone(), NS);
    leases.get_opt(&lease_name("alpha")).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_lease_is_a_lock_that_only_its_holder_renews_and_releases() {
    let sim = sim();
    let kube = kube(&sim);
    let minute = Duration::from_secs(60);

    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "restart-alpha-1", minute)
            .await
            .unwrap(),
        Acquire::Acquired
    );
    let first = lease(&kube).await.unwrap();
    assert_eq!(first.labels()["app.kubernetes.io/managed-by"], "cratectl");
    let info = lease_info(&first);
    assert_eq!(info.holder.as_deref(), Some("restart-alpha-1"));
    assert_eq!(info.duration_s, Some(60));
    assert!(info.held_at(jiff::Timestamp::now()));
    let found = discover(&kube, Some(NS)).await.unwrap();
    assert_eq!(
        found.clusters[0].lease.as_ref().unwrap().holder.as_deref(),
        Some("restart-alpha-1")
    );

    // The same holder again (a re-run after a crash): renewed, same tenure.
    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "restart-alpha-1", minute)
            .await
            .unwrap(),
        Acquire::Acquired
    );
    let again = lease_info(&lease(&kube).await.unwrap());
    assert_eq!(again.acquired_at, info.acquired_at);
    assert!(again.renewed_at >= info.renewed_at);

    // Anyone else is told who holds it and until when.
    let held = acquire_lease(&kube, NS, "alpha", "restart-alpha-2", minute)
        .await
        .unwrap();
    assert_eq!(
        held,
        Acquire::HeldBy {
            holder: "restart-alpha-1".into(),
            expires_at: again.expires_at()
        }
    );
    assert!(matches!(
        renew_lease(&kube, NS, "alpha", "restart-alpha-2", minute).await.unwrap(),
        Acquire::HeldBy { holder, .. } if holder == "restart-alpha-1"
    ));
    assert_eq!(
        renew_lease(&kube, NS, "alpha", "restart-alpha-1", Duration::from_secs(90))
            .await
            .unwrap(),
        Acquire::Acquired
    );
    assert_eq!(lease_info(&lease(&kube).await.unwrap()).duration_s, Some(90));

    // Only the holder releases it.
    assert!(
        !release_lease(&kube, NS, "alpha", "restart-alpha-2")
            .await
            .unwrap()
    );
    assert!(lease(&kube).await.is_some(), "left alone");
    assert!(
        release_lease(&kube, NS, "alpha", "restart-alpha-1")
            .await
            .unwrap()
    );
    assert!(lease(&kube).await.is_none());
    assert!(
        !release_lease(&kube, NS, "alpha", "restart-alpha-1")
            .await
            .unwrap(),
        "absent: nothing to do"
    );
    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "restart-alpha-2", minute)
            .await
            .unwrap(),
        Acquire::Acquired
    );
}

#[tokio::test(start_paused = true)]
async fn a_lapsed_or_released_lease_is_taken_over() {
    let sim = sim();
    let kube = kube(&sim);
    let leases: Api<Lease> = Api::namespaced(kube.client.clone(), NS);
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let stale: Lease = serde_json::from_value(json!({
        "metadata": {"name": "cratectl-alpha", "labels": {"app.kubernetes.io/managed-by": "cratectl"}},
        "spec": {
            "holderIdentity": "crashed-run", "leaseDurationSeconds": 60, "leaseTransitions": 2,
            "acquireTime": hour_ago.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "renewTime": hour_ago.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        },
    }))
    .unwrap();
    leases.create(&PostParams::default(), &stale).await.unwrap();

    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "restart-alpha-3", Duration::from_secs(60))
            .await
            .unwrap(),
        Acquire::Acquired
    );
    let taken = lease(&kube).await.unwrap();
    let info = lease_info(&taken);
    assert_eq!(info.holder.as_deref(), Some("restart-alpha-3"));
    assert!(info.acquired_at.unwrap() > hour_ago, "a new tenure");
    assert_eq!(taken.spec.unwrap().lease_transitions, Some(3));

    // Released by emptying the holder (as other tools do): free.
    let patch = json!({"spec": {"holderIdentity": ""}});
    leases
        .patch("cratectl-alpha", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "restart-alpha-4", Duration::from_secs(60))
            .await
            .unwrap(),
        Acquire::Acquired
    );
    assert!(
        !release_lease(&kube, NS, "alpha", "restart-alpha-3")
            .await
            .unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn losing_races_for_the_lease_is_retried_a_few_times_then_reported() {
    let sim = sim();
    let kube = kube(&sim);
    // Two writes lose (409 as when another process wrote first), the third wins.
    inject(
        &sim,
        json!([{"kind": "api_error", "verb": "POST", "resource": "leases", "code": 409, "count": 2}]),
    );
    assert_eq!(
        acquire_lease(&kube, NS, "alpha", "w1", Duration::from_secs(60))
            .await
            .unwrap(),
        Acquire::Acquired
    );
    inject(
        &sim,
        json!([{"kind": "api_error", "verb": "PUT", "resource": "leases", "code": 409, "count": 1}]),
    );
    assert_eq!(
        renew_lease(&kube, NS, "alpha", "w1", Duration::from_secs(60))
            .await
            .unwrap(),
        Acquire::Acquired
    );
    inject(
        &sim,
        json!([{"kind": "api_error", "verb": "DELETE", "resource": "leases", "code": 409, "count": 1}]),
    );
    assert!(release_lease(&kube, NS, "alpha", "w1").await.unwrap());

    // A race that never ends is an error that says so.
    inject(
        &sim,
        json!([{"kind": "api_error_rate", "verb": "POST", "resource": "leases", "code": 409, "rate": 1.0}]),
    );
    let error = acquire_lease(&kube, NS, "alpha", "w1", Duration::from_secs(60))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Lease cratedb/cratectl-alpha") && error.contains("another process"),
        "{error}"
    );
    // Other errors are reported as they are.
    inject(
        &sim,
        json!([{"kind": "clear_api_errors"}, {"kind": "api_error", "verb": "POST", "resource": "leases", "code": 503, "count": 1}]),
    );
    let error = acquire_lease(&kube, NS, "alpha", "w1", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            cratectl_kube::KubeError::Api {
                status: Some(503),
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_routing_owner_label_is_set_and_removed_on_the_statefulsets() {
    let sim = sim();
    let kube = kube(&sim);
    let sets: Api<StatefulSet> = Api::namespaced(kube.client.clone(), NS);
    let before = sets.get(STS).await.unwrap().labels().clone();

    let value = routing_owner_value(jiff::Timestamp::now());
    assert!(value.starts_with("operator-1"), "{value}");
    let names = [STS.to_string(), "crate-data-gone-alpha".to_string()];
    set_routing_owner(&kube, NS, &names, Some(&value)).await.unwrap();
    let labelled = sets.get(STS).await.unwrap().labels().clone();
    assert_eq!(labelled[ROUTING_OWNER_LABEL], value);
    assert_eq!(labelled.len(), before.len() + 1, "the other labels are kept");
    let found = discover(&kube, Some(NS)).await.unwrap();
    assert_eq!(
        found.clusters[0].statefulsets[0].routing_owner.as_deref(),
        Some(value.as_str())
    );

    // Writing it again (a refresh before the next pod, or a re-run) is fine.
    set_routing_owner(&kube, NS, &names, Some("operator-2000000000"))
        .await
        .unwrap();
    assert_eq!(
        sets.get(STS).await.unwrap().labels()[ROUTING_OWNER_LABEL],
        "operator-2000000000"
    );

    set_routing_owner(&kube, NS, &names, None).await.unwrap();
    assert_eq!(sets.get(STS).await.unwrap().labels(), &before);
    set_routing_owner(&kube, NS, &names, None).await.unwrap();

    let report = sim.report();
    let patches: Vec<&str> = report["clusters"][0]["kube_writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["verb"] == "PATCH")
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        patches,
        vec![format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{STS}"); 4],
        "one patch per call on the StatefulSet that exists"
    );
}
