//! What the API server itself does to pods: graceful deletion (mark, let the kubelet finish)
//! and eviction, which first asks every PodDisruptionBudget that selects the pod.

use serde_json::{Value, json};

use super::selectors::LabelSelector;
use super::status::ApiError;
use super::store::{Store, check_preconditions, metadata_mut};
use crate::clock::Clock;

/// Deletes a pod as the API server does: with a grace period (from the request, else the pod's
/// `terminationGracePeriodSeconds`, else 30) it only sets `deletionTimestamp = now + grace` and
/// the kubelet removes the pod when it has stopped; with grace 0 it removes the pod at once.
/// Deleting a pod that is already terminating returns it unchanged. Returns the pod as the
/// DELETE response shows it.
pub fn delete(
    store: &mut Store,
    clock: &Clock,
    namespace: &str,
    name: &str,
    grace: Option<i64>,
) -> Result<Value, ApiError> {
    let current = store
        .get("pods", namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    let grace = grace
        .or_else(|| {
            current
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0);
    if grace == 0 {
        return store.remove("pods", "pods", namespace, name);
    }
    if current.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(current);
    }
    let mut terminating = current;
    let deadline = clock.now().as_second().saturating_add(grace);
    let deadline = jiff::Timestamp::from_second(deadline).unwrap_or(jiff::Timestamp::MAX);
    let meta = metadata_mut(&mut terminating);
    meta.insert("deletionTimestamp".into(), json!(deadline.to_string()));
    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    meta.remove("resourceVersion");
    store.replace("pods", "pods", namespace, name, terminating)
}

/// True when the pod counts as healthy for a disruption budget: Ready and not terminating.
pub fn is_healthy(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none() && is_ready(pod)
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Why a budget refuses a disruption: its name and the message a real server gives.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub budget: String,
    pub message: String,
}

/// The pods `budget` selects.
fn budget_selector(budget: &Value) -> LabelSelector {
    // policy/v1: a budget without a selector selects every pod of its namespace.
    let empty = serde_json::Map::new();
    let labels = budget
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    LabelSelector::from_match_labels(labels)
}

/// Whether `budget` allows evicting `pod`, given the pods of its namespace.
pub fn budget_allows(budget: &Value, pods: &[&Value], pod: &Value) -> Result<(), Refusal> {
    let selector = budget_selector(budget);
    if !selector.matches(pod) {
        return Ok(());
    }
    let selected: Vec<&&Value> = pods.iter().filter(|p| selector.matches(p)).collect();
    let expected = selected.len() as i64;
    let healthy = selected.iter().filter(|p| is_healthy(p)).count() as i64;
    let desired = match (
        budget.pointer("/spec/minAvailable"),
        budget.pointer("/spec/maxUnavailable"),
    ) {
        (Some(min), _) => count(min, expected),
        (None, Some(max)) => expected - count(max, expected),
        (None, None) => expected,
    };
    let allowed = healthy - desired;
    // An unhealthy pod may go when the budget is met (unhealthyPodEvictionPolicy IfHealthyBudget).
    if allowed >= 1 || (!is_healthy(pod) && healthy >= desired) {
        return Ok(());
    }
    let name = budget
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Err(Refusal {
        message: format!(
            "The disruption budget {name} needs {desired} healthy pods and has {healthy} currently"
        ),
        budget: name,
    })
}

/// An integer or a percentage of `total` (rounded up, as Kubernetes does for minAvailable).
fn count(value: &Value, total: i64) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(0, |p| (p * total + 99) / 100),
        _ => 0,
    }
}

/// `POST pods/<name>/eviction` with the Eviction's `deleteOptions`, in the API server's order:
/// a pod already terminating skips the budgets; otherwise more than one budget selecting the pod
/// is a 500 (the eviction subresource does not support that) and a budget that would be
/// violated a 429. Only then are the options' preconditions checked (a 409 when the pod is not
/// the one they name) and the pod deleted gracefully.
pub fn evict(
    store: &mut Store,
    clock: &Clock,
    namespace: &str,
    name: &str,
    options: &Value,
) -> Result<(), ApiError> {
    let pod = store
        .get("pods", namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("pods", name))?;
    if pod.pointer("/metadata/deletionTimestamp").is_none() {
        let pods = store.list("pods", Some(namespace));
        let budgets: Vec<&Value> = store
            .list("poddisruptionbudgets", Some(namespace))
            .into_iter()
            .filter(|b| budget_selector(b).matches(&pod))
            .collect();
        if budgets.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
                    .into(),
            ));
        }
        for budget in budgets {
            if let Err(refusal) = budget_allows(budget, &pods, &pod) {
                return Err(ApiError::too_many_requests(
                    "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                    json!({"causes": [{"reason": "DisruptionBudget", "message": refusal.message}]}),
                ));
            }
        }
    }
    check_preconditions("pods", name, &pod, options)?;
    let grace = options.get("gracePeriodSeconds").and_then(Value::as_i64);
    delete(store, clock, namespace, name, grace).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": "crate"}},
               "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn budget(spec: Value) -> Value {
        let mut b = json!({"metadata": {"name": "crate-data-hot-x"}, "spec": {"selector": {"matchLabels": {"app": "crate"}}}});
        for (k, v) in spec.as_object().unwrap() {
            b["spec"][k] = v.clone();
        }
        b
    }

    #[test]
    fn max_unavailable_one_allows_one_disruption_at_a_time() {
        let b = budget(json!({"maxUnavailable": 1}));
        let all_ready = [pod("a", true), pod("b", true), pod("c", true)];
        let refs: Vec<&Value> = all_ready.iter().collect();
        assert_eq!(budget_allows(&b, &refs, &all_ready[0]), Ok(()));
        let one_down = [pod("a", true), pod("b", false), pod("c", true)];
        let refs: Vec<&Value> = one_down.iter().collect();
        let refusal = budget_allows(&b, &refs, &one_down[0]).unwrap_err();
        assert_eq!(refusal.budget, "crate-data-hot-x");
        assert_eq!(
            refusal.message,
            "The disruption budget crate-data-hot-x needs 2 healthy pods and has 2 currently"
        );
        // The unready pod itself may go: the budget is met without it.
        assert_eq!(budget_allows(&b, &refs, &one_down[1]), Ok(()));
    }

    #[test]
    fn min_available_and_percentages() {
        let pods = [pod("a", true), pod("b", true)];
        let refs: Vec<&Value> = pods.iter().collect();
        assert!(budget_allows(&budget(json!({"minAvailable": 2})), &refs, &pods[0]).is_err());
        assert!(budget_allows(&budget(json!({"minAvailable": "50%"})), &refs, &pods[0]).is_ok());
        assert!(budget_allows(&budget(json!({"maxUnavailable": "0%"})), &refs, &pods[0]).is_err());
    }
}
