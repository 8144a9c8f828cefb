//! The controllers that make pods behave over simulated time, as a real cluster's do:
//!
//! * the **operator stand-in** ([`crate::operator_controller`]) reconciles changed `CrateDB`
//!   resources into StatefulSet replica counts (scale, suspend, resume);
//! * the **StatefulSet controller** keeps one pod per ordinal `0..spec.replicas`: a missing pod
//!   is recreated from the template (same name, new UID), pods above the count are deleted
//!   gracefully, and `status` counts ready pods;
//! * the **kubelet** takes a new pod from Pending to Running after a delay and starts its
//!   CrateDB node; a pod of a new ordinal (scale-out) adds its node to the cluster first, named
//!   and given roles by its command line ([`crate::databases::node_spec_of_pod`]). The pod is
//!   Ready while the node answers. Deleting a pod runs its preStop hook (dc_util decommissions
//!   the node first, unless the StatefulSet is down to 0 or 1 replicas or labelled
//!   `dc-util-disabled=true`, as dc_util skips
//!   then) and stops the node; the pod goes when the node has stopped, or when the grace period
//!   ends and the node is killed. dc_util's hooks also hold and reset
//!   `cluster.routing.allocation.enable` by upstream's rules ([`crate::dc_util`]): the preStop
//!   sets it before the decommission and leaves a lock file on the pod's volume, and a postStart
//!   hook of a later container of the pod resets it once the node answers, before the pod is
//!   Ready. A node whose pod is gone and whose StatefulSet no longer wants that ordinal
//!   (scale-in, suspend, a deleted StatefulSet) has departed for good; a
//!   node whose pod vanished without stopping it (a force deletion) is killed, as the kubelet
//!   kills an orphaned container. Pods of no simulated CrateDB cluster become Ready after a
//!   delay and stop after a fixed time.
//!
//! All of them are one reconcile pass over the store, run whenever the store changes (changes
//! announced while a pass ran are looked at by one more pass, not one each), a deadline falls
//! due, or a request to CrateDB brought a node's next event forward (a decommissioned node's
//! process exits on its own, and the kubelet restarts its container: [`ApiServer::wake_if_sooner`]);
//! each pass only writes when something changes, so passes settle.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cratedb::CrateCluster;
use crate::cratedb::spec::{Auth, Peer};
use crate::databases::{NodeRef, dc_util_hook, gateway_of_pod, node_of_pod, node_spec_of_pod};
use crate::dc_util;
use crate::evidence::HookWrite;
use crate::kube::ApiServer;
use crate::kube::pods;
use crate::kube::store::{metadata_mut, object_name};
use crate::operator_controller::{self, OperatorState};

/// Delays of the simulated cluster, in simulated time.
#[derive(Clone, Debug)]
pub struct Timings {
    /// From a pod going missing to the StatefulSet controller creating its replacement.
    pub recreate_delay: Duration,
    /// From Pending to Running (image pull, container start).
    pub start_delay: Duration,
    /// From Running to Ready (the readiness probe passing).
    pub ready_delay: Duration,
    /// How long a pod takes to stop after deletion, bounded by its grace period.
    pub stop_time: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            recreate_delay: Duration::from_secs(1),
            start_delay: Duration::from_secs(3),
            ready_delay: Duration::from_secs(5),
            stop_time: Duration::from_secs(10),
        }
    }
}

/// Per-pod deadlines the controllers keep in memory (a real kubelet keeps them too).
#[derive(Default)]
struct Deadlines {
    /// `(namespace, pod)` → when it may be created again.
    recreate: HashMap<(String, String), Duration>,
    /// `(namespace, pod, uid)` → when the next lifecycle step happens.
    step: HashMap<(String, String, String), Duration>,
    /// `(namespace, pod)` → the node it runs, its StatefulSet and ordinal: what the kubelet
    /// remembers of a CrateDB pod, to notice when it is gone.
    runs: HashMap<(String, String), (NodeRef, String, u64)>,
    /// The operator stand-in's memory.
    operator: OperatorState,
    /// `(namespace, pod)` whose volume holds dc_util's lock file: its preStop hook wrote the
    /// allocation setting, and a postStart hook of the pod is to reset it.
    dc_util_locks: HashSet<(String, String)>,
    /// `(namespace, pod, uid)` → when the container started whose dc_util postStart hook has not
    /// finished (it waits for the node to answer SQL).
    post_start: HashMap<(String, String, String), Duration>,
}

/// Runs the controllers until the task is aborted.
pub async fn run(server: Arc<ApiServer>, timings: Timings) {
    let mut events = server.store().subscribe();
    let mut deadlines = Deadlines::default();
    loop {
        // Looking: any model change from here on wakes them again ([`ApiServer::wake_if_sooner`]).
        server
            .controllers_due
            .store(u64::MAX, std::sync::atomic::Ordering::Release);
        let next = reconcile(&server, &timings, &mut deadlines);
        let due = next.map_or(u64::MAX, |at| u64::try_from(at.as_millis()).unwrap_or(u64::MAX));
        server
            .controllers_due
            .store(due, std::sync::atomic::Ordering::Release);
        let wait = next.map(|at| server.clock.real(at.saturating_sub(server.clock.elapsed())));
        tokio::select! {
            received = events.recv() => {
                if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = sleep_or_forever(wait) => {}
            _ = server.wake.notified() => {}
        }
        // One pass looks at everything: the other changes already announced (this pass's own
        // writes among them) need no pass each.
        loop {
            match events.try_recv() {
                Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
            }
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn key(pod: &Value) -> (String, String, String) {
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"), s("/metadata/uid"))
}

/// One pass of both controllers. Returns the earliest future deadline.
fn reconcile(server: &ApiServer, timings: &Timings, deadlines: &mut Deadlines) -> Option<Duration> {
    let now = server.clock.elapsed();
    let stamp = server.clock.rfc3339();
    let mut next: Option<Duration> = None;
    let mut wake = |at: Duration| next = Some(next.map_or(at, |n: Duration| n.min(at)));
    let mut store = server.store();

    // The CrateDB clusters catch up with simulated time first.
    let mut databases = server.databases.lock();
    for model in databases.values_mut() {
        model.advance(now);
    }

    // Kubelet.
    let pods: Vec<Value> = store.list("pods", None).into_iter().cloned().collect();
    for pod in pods {
        let (namespace, name, uid) = key(&pod);
        let step_key = (namespace.clone(), name.clone(), uid);
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        let ready = pod_ready(&pod);
        let terminating = pod.pointer("/metadata/deletionTimestamp").is_some();
        // A pod of a simulated CrateDB cluster runs its node; other pods get the generic
        // lifecycle.
        let node = node_of_pod(&pod).filter(|n| databases.contains_key(&n.key()));
        if let Some(n) = &node {
            server.evidence.pod_uid(&n.key(), &name, &step_key.2);
            if let Some((sts, ordinal)) = owner_and_ordinal(&pod) {
                deadlines
                    .runs
                    .insert((namespace.clone(), name.clone()), (n.clone(), sts, ordinal));
            }
        }
        let first_seen = !deadlines.step.contains_key(&step_key);
        let due = |deadlines: &mut Deadlines, delay: Duration| {
            *deadlines.step.entry(step_key.clone()).or_insert(now + delay)
        };

        if terminating {
            let grace = Duration::from_secs(
                pod.pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(30),
            );
            let stopped = match (
                &node,
                databases.get_mut(&node.as_ref().map(NodeRef::key).unwrap_or_default()),
            ) {
                (Some(n), Some(model)) => {
                    // The stop begins: the preStop hook (dc_util decommissions first), then SIGTERM.
                    if first_seen {
                        // dc_util skips the decommission when its StatefulSet is down to 0 or 1
                        // replicas (a suspend, or the last node) or has `dc-util-disabled`:
                        // SIGTERM only.
                        let sts = owner_and_ordinal(&pod)
                            .and_then(|(sts, _)| store.get("statefulsets", &namespace, &sts).cloned());
                        let replicas = sts
                            .as_ref()
                            .and_then(|s| s.pointer("/spec/replicas"))
                            .and_then(Value::as_u64);
                        let disabled = sts.as_ref().is_some_and(dc_util::disabled);
                        match dc_util_hook(&pod).filter(|_| replicas.is_none_or(|r| r > 1) && !disabled) {
                            Some(availability) => {
                                if let Some(sts) = &sts
                                    && dc_util_pre_stop(server, model, n, &name, sts, now)
                                {
                                    deadlines.dc_util_locks.insert((namespace.clone(), name.clone()));
                                }
                                model.node_decommission_requested(&n.node, availability.as_deref(), now)
                            }
                            None => model.node_stop_requested(&n.node, now),
                        }
                    }
                    let at = due(deadlines, grace);
                    if model.node_stopped_gracefully(&n.node) || !model.node_process_running(&n.node) {
                        true
                    } else if now >= at {
                        // The grace period is over: the kubelet kills the container.
                        model.node_killed(&n.node, now);
                        true
                    } else {
                        wake(at);
                        false
                    }
                }
                _ => {
                    let at = due(deadlines, timings.stop_time.min(grace));
                    if now >= at {
                        true
                    } else {
                        wake(at);
                        false
                    }
                }
            };
            if stopped {
                deadlines.step.remove(&step_key);
                deadlines.post_start.remove(&step_key);
                let _ = store.remove("pods", "pods", &namespace, &name);
            }
            continue;
        }

        let model = node
            .as_ref()
            .and_then(|n| databases.get_mut(&n.key()).map(|m| (n, m)));
        match (phase, ready, model) {
            ("Pending", _, model) => {
                let at = due(deadlines, timings.start_delay);
                if now >= at {
                    deadlines.step.remove(&step_key);
                    if let Some((_, model)) = model {
                        start_node(model, &pod, &name, now);
                        if has_post_start(&pod) {
                            deadlines.post_start.insert(step_key.clone(), now);
                        }
                    }
                    let _ = store.replace("pods", "pods", &namespace, &name, running(&pod, &stamp, false, 0));
                } else {
                    wake(at);
                }
            }
            // A CrateDB pod is Ready while its node answers (the readiness probe on port 4200).
            ("Running", _, Some((n, model))) => {
                let restarts = main_status(&pod)
                    .and_then(|s| s.get("restartCount"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if !model.node_process_running(&n.node) {
                    // The process exited (e.g. after a decommission): the container restarts,
                    // after the start delay (so a node that never stays up cannot spin this).
                    let at = due(deadlines, timings.start_delay);
                    if now >= at {
                        deadlines.step.remove(&step_key);
                        start_node(model, &pod, &name, now);
                        // A restarted container runs its postStart hook again.
                        if has_post_start(&pod) {
                            deadlines.post_start.insert(step_key.clone(), now);
                        }
                        let restarted = running(&pod, &stamp, false, restarts + 1);
                        let _ = store.replace("pods", "pods", &namespace, &name, restarted);
                    } else {
                        if ready {
                            let unready = running(&pod, &stamp, false, restarts);
                            let _ = store.replace("pods", "pods", &namespace, &name, unready);
                        }
                        wake(at);
                    }
                } else {
                    let serving = model.serving(&n.node);
                    // The container counts as started once its postStart hook has finished,
                    // which waits for the node to answer SQL, so the pod is Ready only after it.
                    if let Some(&started) = deadlines.post_start.get(&step_key) {
                        let lock = (namespace.clone(), name.clone());
                        let give_up = started + dc_util::POST_START_TIMEOUT;
                        if serving {
                            deadlines.post_start.remove(&step_key);
                            if deadlines.dc_util_locks.contains(&lock) {
                                let sts = owner_and_ordinal(&pod)
                                    .and_then(|(sts, _)| store.get("statefulsets", &namespace, &sts));
                                if let Some(sts) = sts
                                    && dc_util_post_start(server, model, n, &name, sts, now)
                                {
                                    deadlines.dc_util_locks.remove(&lock);
                                }
                            }
                        } else if now >= give_up {
                            // dc_util gave up waiting: it removes its lock file, resets nothing.
                            deadlines.post_start.remove(&step_key);
                            deadlines.dc_util_locks.remove(&lock);
                        } else {
                            wake(give_up);
                        }
                    }
                    if serving != ready {
                        let _ = store.replace(
                            "pods",
                            "pods",
                            &namespace,
                            &name,
                            running(&pod, &stamp, serving, restarts),
                        );
                    }
                }
            }
            ("Running", false, None) => {
                let at = due(deadlines, timings.ready_delay);
                if now >= at {
                    deadlines.step.remove(&step_key);
                    let _ = store.replace("pods", "pods", &namespace, &name, running(&pod, &stamp, true, 0));
                } else {
                    wake(at);
                }
            }
            _ => {}
        }
    }
    // Pods that are gone: a node still running is killed (its pod was force-deleted), and a
    // node whose StatefulSet no longer wants its ordinal has departed for good.
    let gone: Vec<(String, String)> = deadlines
        .runs
        .keys()
        .filter(|(ns, pod)| store.get("pods", ns, pod).is_none())
        .cloned()
        .collect();
    for key in gone {
        let Some((n, sts, ordinal)) = deadlines.runs.get(&key).cloned() else {
            continue;
        };
        let Some(model) = databases.get_mut(&n.key()) else {
            deadlines.runs.remove(&key);
            continue;
        };
        let wanted = store
            .get("statefulsets", &n.namespace, &sts)
            .and_then(|s| s.pointer("/spec/replicas"))
            .and_then(Value::as_u64)
            .is_some_and(|replicas| ordinal < replicas);
        if !wanted {
            model.node_departed(&n.node, now);
            deadlines.runs.remove(&key);
        } else if model.node_process_running(&n.node) {
            model.node_killed(&n.node, now);
        }
    }

    // The operator stand-in, between the kubelet and the StatefulSet controller, so that a
    // replica count it changes is acted on in the same pass.
    if let Some(at) =
        operator_controller::reconcile(server, &mut store, &mut databases, &mut deadlines.operator, now)
    {
        wake(at);
    }

    for (key, model) in databases.iter() {
        server.evidence.observe(key, model, server.clock.now());
        if let Some(at) = model.next_change_at() {
            wake(at);
        }
    }
    drop(databases);

    // StatefulSet controller (with the scheduler's one rule that matters here: never place a pod
    // on a cordoned node).
    let schedulable: Vec<String> = store
        .list("nodes", None)
        .into_iter()
        .filter(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true))
        .filter_map(object_name)
        .collect();
    let sets: Vec<Value> = store.list("statefulsets", None).into_iter().cloned().collect();
    for sts in sets {
        let Some(sts_name) = object_name(&sts) else {
            continue;
        };
        let namespace = sts
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let replicas = sts.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1);
        let owned: Vec<Value> = store
            .list("pods", Some(&namespace))
            .into_iter()
            .filter(|p| ordinal_of(p, &sts_name).is_some())
            .cloned()
            .collect();
        for ordinal in 0..replicas {
            ensure_claims(&mut store, &sts, &sts_name, &namespace, ordinal, &stamp);
            let pod_name = format!("{sts_name}-{ordinal}");
            if owned.iter().any(|p| object_name(p).as_deref() == Some(&pod_name)) {
                deadlines.recreate.remove(&(namespace.clone(), pod_name));
                continue;
            }
            let at = *deadlines
                .recreate
                .entry((namespace.clone(), pod_name.clone()))
                .or_insert(now + timings.recreate_delay);
            if now >= at {
                deadlines.recreate.remove(&(namespace.clone(), pod_name.clone()));
                let pod = pod_from_template(&sts, &sts_name, ordinal, &schedulable);
                let _ = store.create("pods", "pods", &namespace, pod, &stamp);
            } else {
                wake(at);
            }
        }
        for pod in &owned {
            if ordinal_of(pod, &sts_name).is_some_and(|o| o >= replicas)
                && pod.pointer("/metadata/deletionTimestamp").is_none()
            {
                let (ns, name, _) = key(pod);
                let _ = pods::delete(&mut store, &server.clock, &ns, &name, None);
            }
        }
        // Status: counts of existing and ready pods.
        let current: Vec<Value> = store
            .list("pods", Some(&namespace))
            .into_iter()
            .filter(|p| ordinal_of(p, &sts_name).is_some())
            .cloned()
            .collect();
        let ready = current
            .iter()
            .filter(|p| pod_ready(p) && p.pointer("/metadata/deletionTimestamp").is_none())
            .count();
        let status = json!({
            "replicas": current.len(), "readyReplicas": ready, "currentReplicas": current.len(),
            "updatedReplicas": current.len(), "availableReplicas": ready,
            "observedGeneration": sts.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        });
        if sts.get("status") != Some(&status) {
            let mut updated = sts.clone();
            updated["status"] = status;
            metadata_mut(&mut updated).remove("resourceVersion");
            let _ = store.replace(
                "statefulsets",
                "statefulsets.apps",
                &namespace,
                &sts_name,
                updated,
            );
        }
    }
    next
}

/// dc_util's preStop, before its decommission ([`crate::dc_util`]): unless the operator owns
/// the setting, and when the StatefulSet has the `--reset-routing` postStart hook, it sets
/// `cluster.routing.allocation.enable` TRANSIENT through its own node. Returns whether it did
/// (dc_util then creates its lock file, whatever CrateDB answered).
fn dc_util_pre_stop(
    server: &ApiServer,
    model: &mut CrateCluster,
    node: &NodeRef,
    pod: &str,
    sts: &Value,
    now: Duration,
) -> bool {
    let owner = dc_util::label(sts, dc_util::ROUTING_OWNER_LABEL);
    if dc_util::operator_owns_routing(owner, server.clock.now()) {
        return false;
    }
    let template = sts.pointer("/spec/template/spec").unwrap_or(&Value::Null);
    if !dc_util::has_reset_routing_post_start(template) {
        return false;
    }
    let stmt = dc_util::pre_stop_statement(dc_util::pre_stop_routing_allocation(sts));
    hook_sql(server, model, node, pod, "preStop", &stmt, now);
    true
}

/// dc_util's postStart (`--reset-routing`) once the node answers, for a pod whose volume has the
/// lock file ([`crate::dc_util`]). Returns whether the lock file is removed.
fn dc_util_post_start(
    server: &ApiServer,
    model: &mut CrateCluster,
    node: &NodeRef,
    pod: &str,
    sts: &Value,
    now: Duration,
) -> bool {
    let owner = dc_util::label(sts, dc_util::ROUTING_OWNER_LABEL);
    if dc_util::operator_owns_routing(owner, server.clock.now()) {
        // The lock file stays for a later postStart that owns the setting.
        return false;
    }
    let replicas = sts.pointer("/spec/replicas").and_then(Value::as_u64);
    if replicas.is_none_or(|r| r <= 1) {
        return true;
    }
    if dc_util::post_start_disabled(sts) {
        return false;
    }
    hook_sql(
        server,
        model,
        node,
        pod,
        "postStart",
        &dc_util::post_start_statement(),
        now,
    );
    true
}

/// A statement a dc_util hook sends to `http://127.0.0.1:4200/_sql` of its own node (user
/// `crate` from the loopback address, which the operator's host-based auth trusts), noted in
/// the evidence. Returns CrateDB's status, `None` when the node does not answer.
fn hook_sql(
    server: &ApiServer,
    model: &mut CrateCluster,
    node: &NodeRef,
    pod: &str,
    hook: &'static str,
    stmt: &str,
    now: Duration,
) -> Option<u16> {
    let status = model.serving(&node.node).then(|| {
        let body = json!({ "stmt": stmt }).to_string();
        let auth = Auth::http_default_user(Peer::Loopback);
        model
            .sql(&node.node, false, false, body.as_bytes(), Some(&auth), now)
            .status
    });
    server.evidence.hook_write(
        &node.key(),
        HookWrite {
            at: server.clock.now(),
            pod: pod.to_string(),
            node: node.node.clone(),
            hook,
            stmt: stmt.to_string(),
            status,
        },
    );
    status
}

/// Whether the pod's containers have dc_util's `--reset-routing` postStart hook.
fn has_post_start(pod: &Value) -> bool {
    dc_util::has_reset_routing_post_start(pod.get("spec").unwrap_or(&Value::Null))
}

/// Starts the node `pod` runs: added to the cluster first if new (scale-out), its host name
/// the pod's, its static gateway settings those of the pod's command line now (a template
/// patched since the pod was created does not reach it: OnDelete).
fn start_node(model: &mut CrateCluster, pod: &Value, pod_name: &str, now: Duration) {
    let Some(spec) = node_spec_of_pod(pod) else {
        return;
    };
    model.ensure_node(&spec, now);
    model.set_node_hostname(&spec.name, pod_name);
    model.set_node_gateway(&spec.name, gateway_of_pod(pod));
    model.node_process_started(&spec.name, now);
}

/// The StatefulSet owning `pod` and the pod's ordinal in it.
fn owner_and_ordinal(pod: &Value) -> Option<(String, u64)> {
    let owner = pod
        .pointer("/metadata/ownerReferences/0/name")
        .and_then(Value::as_str)?;
    Some((owner.to_string(), ordinal_of(pod, owner)?))
}

/// The ordinal of `pod` if it belongs to StatefulSet `sts_name` (`<sts>-<n>`).
fn ordinal_of(pod: &Value, sts_name: &str) -> Option<u64> {
    let owner = pod
        .pointer("/metadata/ownerReferences/0/name")
        .and_then(Value::as_str);
    if owner != Some(sts_name) {
        return None;
    }
    object_name(pod)?
        .strip_prefix(sts_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// The persistent volume claims of `ordinal`, one per `spec.volumeClaimTemplates` entry, named
/// `<template>-<statefulset>-<ordinal>` and created when missing, as the StatefulSet controller
/// does before the pod. They are never deleted here: without a
/// `persistentVolumeClaimRetentionPolicy` Kubernetes keeps them on scale-down, so a pod of the
/// same ordinal comes back to the same data.
fn ensure_claims(
    store: &mut crate::kube::store::Store,
    sts: &Value,
    sts_name: &str,
    namespace: &str,
    ordinal: u64,
    stamp: &str,
) {
    let Some(templates) = sts
        .pointer("/spec/volumeClaimTemplates")
        .and_then(Value::as_array)
    else {
        return;
    };
    for template in templates {
        let Some(claim) = template.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let name = format!("{claim}-{sts_name}-{ordinal}");
        if store.get("persistentvolumeclaims", namespace, &name).is_some() {
            continue;
        }
        let labels = sts
            .pointer("/spec/selector/matchLabels")
            .cloned()
            .unwrap_or(json!({}));
        let pvc = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": labels},
            "spec": template.get("spec").cloned().unwrap_or(json!({})),
            "status": {"phase": "Bound"},
        });
        let _ = store.create(
            "persistentvolumeclaims",
            "persistentvolumeclaims",
            namespace,
            pvc,
            stamp,
        );
    }
}

/// A new pod for `ordinal` from the StatefulSet's template: Pending, with a fresh UID to come.
/// The pod is placed on `node-<ordinal % 3>` when that node is schedulable, else on the first
/// schedulable node; with none it stays Pending without a node.
fn pod_from_template(sts: &Value, sts_name: &str, ordinal: u64, schedulable: &[String]) -> Value {
    let template = sts.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    labels["statefulset.kubernetes.io/pod-name"] = json!(format!("{sts_name}-{ordinal}"));
    // The command lines stay as the template has them (the operator's `node.name` takes the
    // ordinal from the host name when the shell runs it: [`crate::databases::node_of_pod`]).
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    let preferred = format!("node-{}", ordinal % 3);
    let node = if schedulable.contains(&preferred) {
        Some(preferred)
    } else {
        schedulable.first().cloned()
    };
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    spec["hostname"] = json!(format!("{sts_name}-{ordinal}"));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{sts_name}-{ordinal}"),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts_name,
                "uid": sts.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
    })
}

/// `pod` Running, ready or not, with `restarts` restarts of its main container.
fn running(pod: &Value, stamp: &str, ready: bool, restarts: i64) -> Value {
    let mut updated = pod.clone();
    let flag = if ready { "True" } else { "False" };
    let started = main_status(pod)
        .and_then(|s| s.pointer("/state/running/startedAt"))
        .and_then(Value::as_str)
        .unwrap_or(stamp)
        .to_string();
    let containers = pod.pointer("/spec/containers").cloned().unwrap_or(json!([]));
    updated["status"] = json!({
        "phase": "Running",
        "podIP": pod.pointer("/status/podIP").cloned().unwrap_or(json!("10.0.9.9")),
        "startTime": started,
        "conditions": [{"type": "Ready", "status": flag}, {"type": "ContainersReady", "status": flag}, {"type": "PodScheduled", "status": "True"}],
        "containerStatuses": container_statuses(&containers, ready, restarts, &started),
    });
    metadata_mut(&mut updated).remove("resourceVersion");
    updated
}

/// `status.containerStatuses` for a pod's containers as the kubelet reports them: one per
/// container, sorted by name (the kubelet sorts them, so `crate` comes before `sql-exporter`
/// whatever the spec's order). The main container ([`crate::databases::crate_container`]) is
/// `ready` with `restarts` restarts; the others (the operator's `sql-exporter`) run and are
/// ready throughout.
pub fn container_statuses(containers: &Value, ready: bool, restarts: i64, started: &str) -> Value {
    let spec = json!({"containers": containers});
    let main = crate::databases::crate_container(&spec)
        .and_then(|c| c.get("name"))
        .cloned();
    let mut statuses: Vec<Value> = containers
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let name = c.get("name").cloned().unwrap_or(json!("crate"));
            let image = c.get("image").and_then(Value::as_str).unwrap_or("crate");
            let is_main = main.as_ref() == Some(&name);
            json!({
                "name": name, "image": image,
                "imageID": format!("docker.io/library/{image}@sha256:{:064x}", 7),
                "ready": !is_main || ready, "started": true,
                "restartCount": if is_main { restarts } else { 0 },
                "state": {"running": {"startedAt": started}},
            })
        })
        .collect();
    statuses.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Value::Array(statuses)
}

/// The status of the pod's main container (the `crate` container, found by name).
fn main_status(pod: &Value) -> Option<&Value> {
    let name = crate::databases::crate_container(pod.get("spec")?)?.get("name")?;
    pod.pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|s| s.get("name") == Some(name))
}

/// Whether the pod's `Ready` condition is true.
fn pod_ready(pod: &Value) -> bool {
    crate::kube::pods::is_ready(pod)
}
