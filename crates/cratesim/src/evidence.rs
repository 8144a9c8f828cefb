//! Evidence: what happened in the simulation, recorded as it happens, for tests to assert on
//! (`GET /_sim/report`, or [`Evidence::report`] in-process).
//!
//! Per cluster: the largest number of CrateDB nodes that were not serving at the same time, the
//! distinct UIDs each pod had, the current settings, every state-changing SQL statement, every
//! Kubernetes write made through the API that concerns the cluster, the health timeline, and
//! the settings writes dc_util's lifecycle hooks sent (see [`crate::dc_util`]).
//! The JSON shape is a contract (extend it, don't rename): see `report`.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::cratedb::{CrateCluster, Health};
use crate::databases::Clusters;

/// One Kubernetes write made through the API.
#[derive(Clone, Debug)]
struct KubeWrite {
    at: Timestamp,
    verb: String,
    path: String,
    namespace: Option<String>,
    name: Option<String>,
}

/// One settings statement a pod's dc_util hook sent to its own node.
#[derive(Clone, Debug, PartialEq)]
pub struct HookWrite {
    pub at: Timestamp,
    pub pod: String,
    pub node: String,
    /// `preStop` or `postStart`.
    pub hook: &'static str,
    pub stmt: String,
    /// CrateDB's HTTP status, `None` when the node did not answer.
    pub status: Option<u16>,
}

#[derive(Default)]
struct ClusterEvidence {
    max_unavailable: usize,
    health: Vec<(Timestamp, Health)>,
    /// Whether the cluster is settled (GREEN with no shard initializing or relocating), as it
    /// changes.
    settled: Vec<(Timestamp, bool)>,
    /// Pod name → its UIDs, in the order they appeared.
    uids: BTreeMap<String, Vec<String>>,
    /// Settings statements sent by dc_util hooks, in order.
    hook_writes: Vec<HookWrite>,
    /// The members (rows of `sys.nodes`), as they change.
    members: Vec<(Timestamp, Vec<String>)>,
}

#[derive(Default)]
struct Records {
    clusters: BTreeMap<(String, String), ClusterEvidence>,
    kube_writes: Vec<KubeWrite>,
}

/// The recorder, shared by the kubelet, the HTTP layer and the report.
#[derive(Default)]
pub struct Evidence {
    records: Mutex<Records>,
}

impl Evidence {
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a cluster's state after it changed: nodes not serving and health.
    pub fn observe(&self, key: &(String, String), model: &CrateCluster, at: Timestamp) {
        let mut records = self.lock();
        let cluster = records.clusters.entry(key.clone()).or_default();
        cluster.max_unavailable = cluster.max_unavailable.max(model.nodes_not_serving());
        let health = model.health();
        if cluster.health.last().is_none_or(|(_, last)| *last != health) {
            cluster.health.push((at, health));
        }
        let settled = health == Health::Green && model.shards_in_flight() == 0;
        if cluster.settled.last().is_none_or(|(_, last)| *last != settled) {
            cluster.settled.push((at, settled));
        }
        let mut members = model.member_names();
        members.sort();
        if cluster.members.last().is_none_or(|(_, last)| *last != members) {
            cluster.members.push((at, members));
        }
    }

    /// Notes that pod `name` of cluster `key` exists with `uid`.
    pub fn pod_uid(&self, key: &(String, String), name: &str, uid: &str) {
        let mut records = self.lock();
        let uids = records
            .clusters
            .entry(key.clone())
            .or_default()
            .uids
            .entry(name.to_string())
            .or_default();
        if !uids.iter().any(|u| u == uid) {
            uids.push(uid.to_string());
        }
    }

    /// Notes a settings statement a dc_util hook of cluster `key` sent.
    pub fn hook_write(&self, key: &(String, String), write: HookWrite) {
        self.lock()
            .clusters
            .entry(key.clone())
            .or_default()
            .hook_writes
            .push(write);
    }

    /// Notes a successful write through the API (`verb` on `path`).
    pub fn kube_write(
        &self,
        at: Timestamp,
        verb: &str,
        path: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) {
        self.lock().kube_writes.push(KubeWrite {
            at,
            verb: verb.to_string(),
            path: path.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
        });
    }

    /// The report (contract): `{"clusters": [{"name", "namespace", "max_unavailable_nodes",
    /// "pods": [{"name", "uids"}], "settings": {"transient", "persistent"}, "sql_writes": [{"at",
    /// "node", "stmt"}], "kube_writes": [{"at", "verb", "path"}], "health": [{"at", "health"}], "members": [{"at",
    /// "nodes"}] (the rows of `sys.nodes` whenever they change),
    /// "settled": [{"at", "settled"}], "hook_writes": [{"at", "pod", "node", "hook", "stmt",
    /// "status"}], "bearer": {"accepted", "rejected", "expired"}}]}` (bearer: the requests with a
    /// bearer token CrateDB accepted and refused, and of those refused the ones whose token had
    /// expired by the simulated clock; settled: GREEN with no shard initializing or relocating; hook_writes: the
    /// settings statements dc_util's preStop and postStart hooks sent, `status` null when the
    /// node did not answer; they are in `sql_writes` too when CrateDB ran them).
    /// A Kubernetes write concerns a cluster when it is in the cluster's namespace and the
    /// object's name contains the cluster's name (or names no object).
    pub fn report(&self, clusters: &Clusters, epoch: Timestamp) -> Value {
        let records = self.lock();
        let at = |elapsed: Duration| {
            let offset = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
            epoch.checked_add(offset).unwrap_or(Timestamp::MAX).to_string()
        };
        let mut out = Vec::new();
        for ((namespace, name), model) in clusters {
            let key = (namespace.clone(), name.clone());
            let evidence = records.clusters.get(&key);
            let (transient, persistent) = model.settings();
            let pods: Vec<Value> = evidence
                .map(|e| {
                    e.uids
                        .iter()
                        .map(|(pod, uids)| json!({"name": pod, "uids": uids}))
                        .collect()
                })
                .unwrap_or_default();
            let sql_writes: Vec<Value> = model
                .sql_writes()
                .iter()
                .map(|w| json!({"at": at(w.at), "node": w.node, "stmt": w.stmt}))
                .collect();
            let kube_writes: Vec<Value> = records
                .kube_writes
                .iter()
                .filter(|w| {
                    w.namespace.as_deref() == Some(namespace)
                        && w.name.as_deref().is_none_or(|n| n.contains(name.as_str()))
                })
                .map(|w| json!({"at": w.at.to_string(), "verb": w.verb, "path": w.path}))
                .collect();
            let health: Vec<Value> = evidence
                .map(|e| {
                    e.health
                        .iter()
                        .map(|(t, h)| json!({"at": t.to_string(), "health": h.as_str()}))
                        .collect()
                })
                .unwrap_or_default();
            let settled: Vec<Value> = evidence
                .map(|e| {
                    e.settled
                        .iter()
                        .map(|(t, s)| json!({"at": t.to_string(), "settled": s}))
                        .collect()
                })
                .unwrap_or_default();
            let members: Vec<Value> = evidence
                .map(|e| {
                    e.members
                        .iter()
                        .map(|(t, m)| json!({"at": t.to_string(), "nodes": m}))
                        .collect()
                })
                .unwrap_or_default();
            let hook_writes: Vec<Value> = evidence
                .map(|e| {
                    e.hook_writes
                        .iter()
                        .map(|w| {
                            json!({"at": w.at.to_string(), "pod": w.pod, "node": w.node, "hook": w.hook,
                                "stmt": w.stmt, "status": w.status})
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(json!({
                "name": name,
                "namespace": namespace,
                "max_unavailable_nodes": evidence.map_or(0, |e| e.max_unavailable),
                "pods": pods,
                "settings": {"transient": transient, "persistent": persistent},
                "sql_writes": sql_writes,
                "kube_writes": kube_writes,
                "health": health,
                "settled": settled,
                "hook_writes": hook_writes,
                "members": members,
                "bearer": model.bearer_stats(),
            }));
        }
        json!({"clusters": out})
    }
}
