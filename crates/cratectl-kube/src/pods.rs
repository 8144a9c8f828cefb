//! Pods, as a rolling restart needs them: one read, the two ways to stop one, and watch-driven
//! waits for a pod to go and for its replacement to be Ready.
//!
//! Every stop names the UID recorded before the step in `deleteOptions.preconditions`
//! (ARCHITECTURE §1.4), so the API server itself refuses to stop a pod that has already replaced
//! the one meant. A re-run after a crash therefore never restarts a node twice: it learns
//! [`StopOutcome::AlreadyGone`] and goes on to wait.
//!
//! Eviction asks the pod's PodDisruptionBudget first, and a refusal is an outcome, not an error
//! ([`StopOutcome::Blocked`], naming the budgets), because the workflow reports it and waits or
//! stops; delete never asks. kube-rs 5's `Api::evict` cannot carry the options (it sends them as
//! `delete_options`, which the API server drops as an unknown field), so the Eviction is posted
//! as the API defines it.
//!
//! The waits follow the pod through a watch (kube-rs' `watcher`, field-selected on the name)
//! rather than by polling: the watcher lists again on 410 Gone and watches again when the server
//! closes the stream, and the wait backs off on errors (briefly: see `RetryBackoff`), so it sees
//! every change promptly and survives a flaky API server for as long as its timeout allows.

use std::fmt;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::core::Status;
use kube::runtime::watcher::{self, Event};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Kube;
use crate::error::KubeError;

/// What one read of a pod says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodState {
    pub name: String,
    /// Tells one incarnation of the pod from the next: a StatefulSet recreates a pod under the
    /// same name with a new UID.
    pub uid: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// Has a deletionTimestamp: it is stopping and will be gone.
    pub terminating: bool,
    /// The Kubernetes node it is scheduled on.
    pub node: Option<String>,
    /// `status.phase` (`Pending`, `Running` …), `Unknown` when not reported.
    pub phase: String,
    /// The restart count of its CrateDB container ([`crate_restarts`]): it grows when the
    /// process exits and the kubelet starts it again in the same pod, as after a DECOMMISSION.
    #[serde(default)]
    pub restarts: u32,
}

/// The `restartCount` of the pod's CrateDB container (`crate`, else the first one); 0 when the
/// kubelet has not reported it yet.
pub fn crate_restarts(status: &k8s_openapi::api::core::v1::PodStatus) -> u32 {
    let statuses = status.container_statuses.iter().flatten();
    statuses
        .clone()
        .find(|c| c.name == "crate")
        .or(statuses.clone().next())
        .map(|c| c.restart_count.max(0).unsigned_abs())
        .unwrap_or(0)
}

impl PodState {
    /// Reads what the waits and the workflow need from a pod object.
    pub fn from_pod(pod: &Pod) -> PodState {
        let status = pod.status.as_ref();
        PodState {
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".into()),
            restarts: status.map_or(0, crate_restarts),
        }
    }
}

/// "pod crate-data-hot-alpha-0 uid 1f… Running, not Ready, terminating": for progress and for
/// the last state a timed-out wait saw.
impl fmt::Display for PodState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pod {} uid {} {}, {}",
            self.name,
            self.uid,
            self.phase,
            if self.ready { "Ready" } else { "not Ready" }
        )?;
        if self.terminating {
            f.write_str(", terminating")?;
        }
        Ok(())
    }
}

/// Reads pod `name`; `None` when there is no such pod (404).
pub async fn get_pod(kube: &Kube, namespace: &str, name: &str) -> Result<Option<PodState>, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    api.get_opt(name)
        .await
        .map(|pod| pod.as_ref().map(PodState::from_pod))
        .map_err(|e| KubeError::api(format!("reading pod {namespace}/{name}"), &kube.context, e))
}

/// What asking the API server to stop a pod came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopOutcome {
    /// The API server accepted the eviction/deletion of the pod with that UID.
    Requested,
    /// No pod of that name with that UID exists any more (404, or a UID precondition conflict
    /// 409): a previous attempt already did it.
    AlreadyGone,
    /// A PodDisruptionBudget refused the eviction (429, or the API server's refusal of a pod
    /// that more than one budget selects). `budgets` are the names of the PDBs in the namespace
    /// whose selector matches the pod's labels (found by listing them); `message` is the API
    /// server's message.
    Blocked { budgets: Vec<String>, message: String },
}

/// `gracePeriodSeconds` for `grace`: whole seconds, rounded up, because rounding down could turn
/// a short grace period into 0, which kills the pod at once without its preStop hook.
fn grace_seconds(grace: Duration) -> u32 {
    let seconds = grace
        .as_secs()
        .saturating_add(u64::from(grace.subsec_nanos() > 0));
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// Whether an eviction error is a disruption budget's refusal rather than the API server being
/// busy: a 429 whose cause is `DisruptionBudget` (an overloaded server's 429 has none), or the
/// refusal of a pod more than one budget selects (a 500 that no retry will change).
fn budget_refusal(status: &Status) -> bool {
    let by_cause = status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "DisruptionBudget"));
    (status.code == 429 && (by_cause || status.message.contains("disruption budget")))
        || (status.code == 500 && status.message.contains("more than one PodDisruptionBudget"))
}

/// The API server's message with its causes ("… The disruption budget X needs 3 healthy pods
/// and has 3 currently"), which is where it says which budget and why.
fn refusal_message(status: &Status) -> String {
    let causes: Vec<&str> = status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if causes.is_empty() {
        status.message.clone()
    } else {
        format!("{} ({})", status.message, causes.join("; "))
    }
}

/// Whether `selector` selects `labels`, with policy/v1's reading of a PodDisruptionBudget's
/// selector: an empty one selects every pod, a missing one none.
fn selects(selector: Option<&LabelSelector>, labels: &std::collections::BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let by_labels = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or_default();
        let value = labels.get(&r.key);
        match r.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            // An operator this code does not know: do not claim the budget selects the pod.
            _ => false,
        }
    });
    by_labels && by_expressions
}

/// The names of the budgets in `namespace` that select `pod`. Best effort: the refusal is known
/// already, so a budget list the user may not read only leaves the names out.
async fn budgets_selecting(kube: &Kube, namespace: &str, pod: &Pod) -> Vec<String> {
    let api: Api<PodDisruptionBudget> = Api::namespaced(kube.client.clone(), namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter(|b| selects(b.spec.as_ref().and_then(|s| s.selector.as_ref()), pod.labels()))
            .map(ResourceExt::name_any)
            .collect(),
        Err(error) => {
            tracing::warn!(namespace, %error, "cannot list PodDisruptionBudgets: the refusal names none");
            Vec::new()
        }
    }
}

/// After the API server refused to stop pod `name` (`uid`): reads the pod to tell "that pod is
/// gone already" (`None`) from a refusal that stands (the pod, still there with `uid`).
async fn still_there(kube: &Kube, namespace: &str, name: &str, uid: &str) -> Result<Option<Pod>, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let pod = api
        .get_opt(name)
        .await
        .map_err(|e| KubeError::api(format!("reading pod {namespace}/{name}"), &kube.context, e))?;
    Ok(pod.filter(|p| p.uid().as_deref() == Some(uid)))
}

/// Maps the answer to a stop request. 404: gone. 409: a UID precondition that did not hold means
/// gone, but a 409 can also be another conflict, so the pod is read to be sure; if the pod with
/// `uid` still exists, the error is returned for the caller to retry. With `evicting`, a budget's
/// refusal is `Blocked` (or `AlreadyGone`, see below); everything else is an error.
async fn stop_outcome(
    kube: &Kube,
    namespace: &str,
    name: &str,
    uid: &str,
    evicting: bool,
    what: String,
    result: Result<(), kube::Error>,
) -> Result<StopOutcome, KubeError> {
    let error = match result {
        Ok(()) => return Ok(StopOutcome::Requested),
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(StopOutcome::AlreadyGone),
        Err(error) => error,
    };
    let kube::Error::Api(status) = &error else {
        return Err(KubeError::api(what, &kube.context, error));
    };
    let refused = evicting && budget_refusal(status);
    // A real API server asks the budget before it checks the UID, so a refusal may concern a pod
    // that already replaced ours: then ours is gone, which is what the caller wants to know.
    if status.code == 409 || refused {
        let Some(pod) = still_there(kube, namespace, name, uid).await? else {
            return Ok(StopOutcome::AlreadyGone);
        };
        if refused {
            return Ok(StopOutcome::Blocked {
                budgets: budgets_selecting(kube, namespace, &pod).await,
                message: refusal_message(status),
            });
        }
        // Our pod is still there: the 409 was another conflict, for the caller to retry.
    }
    Err(KubeError::api(what, &kube.context, error))
}

/// Evicts pod `name` if it is still the pod with `uid`: `POST pods/<name>/eviction` with
/// `deleteOptions { preconditions: { uid }, gracePeriodSeconds }` (`None`: the pod's own
/// `terminationGracePeriodSeconds`, which its preStop hook may need in full).
pub async fn evict_pod(
    kube: &Kube,
    namespace: &str,
    name: &str,
    uid: &str,
    grace: Option<Duration>,
) -> Result<StopOutcome, KubeError> {
    // Without transparent retries: a budget's refusal (429) is the answer to report.
    let api: Api<Pod> = Api::namespaced(kube.once.clone(), namespace);
    let mut delete_options = json!({"preconditions": {"uid": uid}});
    if let Some(grace) = grace {
        delete_options["gracePeriodSeconds"] = json!(grace_seconds(grace));
    }
    let eviction = json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
        "deleteOptions": delete_options,
    });
    let result = api
        .create_subresource::<_, serde_json::Value>("eviction", name, &PostParams::default(), &eviction)
        .await
        .map(|_| ());
    let what = format!("evicting pod {namespace}/{name} (uid {uid})");
    stop_outcome(kube, namespace, name, uid, true, what, result).await
}

/// Deletes pod `name` if it is still the pod with `uid` (`preconditions.uid`), with
/// `gracePeriodSeconds` (`None`: the pod's own). Budgets are not asked, so never `Blocked`: for
/// when the operator chose to stop a pod whatever its budget says.
pub async fn delete_pod(
    kube: &Kube,
    namespace: &str,
    name: &str,
    uid: &str,
    grace: Option<Duration>,
) -> Result<StopOutcome, KubeError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let params = DeleteParams {
        grace_period_seconds: grace.map(grace_seconds),
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let result = api.delete(name, &params).await.map(|_| ());
    let what = format!("deleting pod {namespace}/{name} (uid {uid})");
    stop_outcome(kube, namespace, name, uid, false, what, result).await
}

/// Why a wait ended without what it waited for.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The time ran out. `last` describes the last state of the pod seen (or that there was no
    /// pod of that name), and the last API error when the watch was failing.
    #[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    /// An error no retry will cure (permission denied, a bad request).
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// HTTP statuses a watch does not retry: the request itself is wrong or not allowed, and will be
/// on every retry. Everything else (no answer, 410, 429, 5xx) is transient.
fn permanent(code: u16) -> bool {
    matches!(code, 400 | 401 | 403 | 404 | 405 | 406 | 415 | 422)
}

/// The watcher's error as a [`KubeError`] when it is permanent; `Ok` when the watcher should go
/// on (on its next poll it lists again or watches again).
fn permanent_error(kube: &Kube, what: &str, error: watcher::Error) -> Result<(), KubeError> {
    let error = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => kube::Error::Api(status),
        watcher::Error::NoResourceVersion => return Ok(()),
    };
    match &error {
        kube::Error::Api(status) if permanent(status.code) => Err(KubeError::api(what, &kube.context, error)),
        _ => Ok(()),
    }
}

/// A watch error in a line ("503 ServiceUnavailable: …"): kube-rs' own text for an API error
/// repeats the whole Status object.
fn describe(error: &watcher::Error) -> String {
    let status = |s: &Status| format!("{} {}: {}", s.code, s.reason, s.message);
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => status(s),
        other => other.to_string(),
    }
}

/// How long a wait's watch pauses after an error before it tries again: 500 ms, doubling, at
/// most 5 s, and from 500 ms again after any event.
///
/// kube-rs' default backoff climbs to 30 s and resets only on an event, so after a few errors a
/// watch that came back quietly (nothing changed yet) would answer the next error with a pause
/// of half a minute, and a replacement turning Ready meanwhile would be noticed that late, for
/// every pod of a restart. One field-selected watch retrying every few seconds costs the API
/// server little.
struct RetryBackoff {
    next: Duration,
}

impl RetryBackoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> RetryBackoff {
        RetryBackoff { next: Self::FIRST }
    }

    /// The pause before the next attempt; the one after it is longer.
    fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = pause.saturating_mul(2).min(Self::MAX);
        pause
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// The next item of `events`, after `pause` if any (a backoff: the stream is not polled, so the
/// watcher makes no request meanwhile).
async fn next_after<S: futures::Stream + Unpin>(events: &mut S, pause: Option<Duration>) -> Option<S::Item> {
    if let Some(pause) = pause {
        tokio::time::sleep(pause).await;
    }
    events.next().await
}

/// What the watch has shown of the pod.
enum View {
    /// No complete listing yet.
    Unknown,
    /// The pod as of the last event (`None`: there is no pod of that name).
    Known(Option<PodState>),
}

/// Watches pod `name` until `done` accepts what is seen (a pod, or `None` for no pod of that
/// name) or `timeout` passes. Decisions are made only on complete views (after a listing, or on
/// a watch event), never half-way through a re-list. `on_change` sees each new state once.
async fn watch_pod<T>(
    kube: &Kube,
    namespace: &str,
    name: &str,
    timeout: Duration,
    what: String,
    mut on_change: impl FnMut(&PodState),
    mut done: impl FnMut(Option<&PodState>) -> Option<T>,
) -> Result<T, WaitError> {
    let api: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = pin!(watcher::watcher(api, config));
    let mut backoff = RetryBackoff::new();
    let mut pause = None;
    let started = tokio::time::Instant::now();
    let deadline = tokio::time::sleep(timeout);
    let mut deadline = pin!(deadline);
    let mut view = View::Unknown;
    // Listing in progress: what it has shown so far.
    let mut listing: Option<Option<PodState>> = None;
    let mut last_error: Option<String> = None;
    loop {
        let event = tokio::select! {
            () = &mut deadline => {
                let mut last = match &view {
                    View::Unknown => "nothing: no listing of the pod has succeeded yet".to_string(),
                    View::Known(None) => "no pod of that name".to_string(),
                    View::Known(Some(state)) => state.to_string(),
                };
                if let Some(error) = &last_error {
                    last.push_str(&format!("; last API error: {error}"));
                }
                return Err(WaitError::Timeout { what, waited: started.elapsed(), last });
            }
            event = next_after(&mut events, pause.take()) => event,
        };
        let seen = match event {
            // The watcher recovers from everything by itself; its stream does not end.
            None => {
                return Err(WaitError::Kube(KubeError::Unexpected {
                    what: format!("watching pod {namespace}/{name} ({})", kube.context),
                    reason: "the watch stream ended".into(),
                }));
            }
            Some(Err(error)) => {
                tracing::debug!(namespace, pod = name, %error, "watch error: the watcher retries");
                // 410 Gone is the API server asking for a new listing, which the watcher makes
                // on the next poll: no pause. Anything else transient: back off.
                let expired = matches!(&error, watcher::Error::WatchError(status) if status.code == 410);
                last_error = Some(describe(&error));
                permanent_error(kube, &format!("watching pod {namespace}/{name}"), error)?;
                if !expired {
                    pause = Some(backoff.pause());
                }
                continue;
            }
            Some(Ok(Event::Init)) => {
                backoff.reset();
                listing = Some(None);
                continue;
            }
            Some(Ok(Event::InitApply(pod))) => {
                if pod.name_any() == name {
                    listing = Some(Some(PodState::from_pod(&pod)));
                }
                continue;
            }
            Some(Ok(Event::InitDone)) => listing.take().flatten(),
            Some(Ok(Event::Apply(pod))) => Some(PodState::from_pod(&pod)),
            Some(Ok(Event::Delete(_))) => None,
        };
        backoff.reset();
        last_error = None;
        if let Some(state) = &seen
            && !matches!(&view, View::Known(Some(previous)) if previous == state)
        {
            on_change(state);
        }
        if let Some(found) = done(seen.as_ref()) {
            return Ok(found);
        }
        view = View::Known(seen);
    }
}

/// Waits until a pod named `name` exists whose UID is not `old_uid` and which is Ready and not
/// terminating: the StatefulSet recreated the stopped pod and it passed its readiness probe.
/// Returns that pod's state; `on_change` is called with each new state seen, for progress.
///
/// Watch-driven (see the module doc), so it survives the API server closing or expiring the
/// watch and transient errors, until `timeout`; permission and request errors end it at once.
pub async fn wait_pod_replaced(
    kube: &Kube,
    namespace: &str,
    name: &str,
    old_uid: &str,
    timeout: Duration,
    on_change: impl FnMut(&PodState),
) -> Result<PodState, WaitError> {
    let what = format!("pod {namespace}/{name} to be replaced (a new UID, not {old_uid}) and Ready");
    watch_pod(kube, namespace, name, timeout, what, on_change, |seen| {
        seen.filter(|s| s.uid != old_uid && s.ready && !s.terminating)
            .cloned()
    })
    .await
}

/// Waits until no pod named `name` with UID `uid` exists: it was deleted, or already replaced by
/// a pod with another UID. Confirms that a stop took effect. Watch-driven, as
/// [`wait_pod_replaced`].
pub async fn wait_pod_gone(
    kube: &Kube,
    namespace: &str,
    name: &str,
    uid: &str,
    timeout: Duration,
) -> Result<(), WaitError> {
    let what = format!("pod {namespace}/{name} uid {uid} to be gone");
    watch_pod(
        kube,
        namespace,
        name,
        timeout,
        what,
        |_| {},
        |seen| seen.is_none_or(|s| s.uid != uid).then_some(()),
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn grace_rounds_up_so_it_never_becomes_zero() {
        assert_eq!(grace_seconds(Duration::from_millis(1)), 1);
        assert_eq!(grace_seconds(Duration::from_secs(30)), 30);
        assert_eq!(grace_seconds(Duration::ZERO), 0);
        assert_eq!(grace_seconds(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    #[test]
    fn retries_back_off_to_five_seconds_and_start_over_after_an_event() {
        let mut backoff = RetryBackoff::new();
        let pauses: Vec<u128> = (0..6).map(|_| backoff.pause().as_millis()).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.pause(), Duration::from_millis(500));
    }

    #[test]
    fn budget_selectors_as_policy_v1_reads_them() {
        let labels: BTreeMap<String, String> = [("app", "crate"), ("tier", "hot")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let selector = |json: serde_json::Value| serde_json::from_value::<LabelSelector>(json).unwrap();
        assert!(!selects(None, &labels), "no selector: no pods");
        assert!(selects(Some(&selector(json!({}))), &labels), "empty: every pod");
        assert!(selects(
            Some(&selector(json!({"matchLabels": {"app": "crate"}}))),
            &labels
        ));
        assert!(!selects(
            Some(&selector(json!({"matchLabels": {"app": "web"}}))),
            &labels
        ));
        let expression = |op: &str, values: &[&str]| {
            selector(json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]}))
        };
        assert!(selects(Some(&expression("In", &["hot", "warm"])), &labels));
        assert!(!selects(Some(&expression("NotIn", &["hot"])), &labels));
        assert!(selects(Some(&expression("Exists", &[])), &labels));
        assert!(!selects(Some(&expression("DoesNotExist", &[])), &labels));
        assert!(!selects(Some(&expression("Gt", &["1"])), &labels));
    }

    #[test]
    fn a_budget_refusal_is_told_from_a_busy_server() {
        let status = |code: u16, message: &str, cause: Option<&str>| -> Status {
            serde_json::from_value(json!({
                "code": code, "message": message,
                "details": {"causes": cause.map(|r| vec![json!({"reason": r, "message": "The disruption budget b needs 3 healthy pods and has 3 currently"})]).unwrap_or_default()},
            }))
            .unwrap()
        };
        let refused = status(
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.",
            Some("DisruptionBudget"),
        );
        assert!(budget_refusal(&refused));
        assert_eq!(
            refusal_message(&refused),
            "Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget b needs 3 healthy pods and has 3 currently)"
        );
        assert!(!budget_refusal(&status(
            429,
            "Too many requests, please try again later.",
            None
        )));
        assert!(budget_refusal(&status(
            500,
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            None
        )));
        assert!(!budget_refusal(&status(
            500,
            "etcdserver: request timed out",
            None
        )));
    }

    #[test]
    fn a_state_describes_itself() {
        let state = PodState {
            name: "crate-data-hot-a-0".into(),
            uid: "u1".into(),
            ready: false,
            terminating: true,
            node: None,
            phase: "Running".into(),
            restarts: 0,
        };
        assert_eq!(
            state.to_string(),
            "pod crate-data-hot-a-0 uid u1 Running, not Ready, terminating"
        );
    }
}
