//! The Kubernetes nodes pods run on: by default three plain nodes `node-0` … `node-2`; a
//! scenario may list its own, with the labels, annotations, taints and cordons that tools read
//! (spot-termination taints, suspension annotations, `unschedulable`).
//!
//! The cluster's first pods are placed round-robin by ordinal over the nodes in name order,
//! whatever their taints or cordons, as if those came after scheduling (a spot-termination taint
//! arrives on a node that already runs pods). Replacement pods go through the StatefulSet
//! controller, which never places a pod on a cordoned node.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::kube::ApiServer;
use crate::kube::status::ApiError;
use crate::kube::store::object_name;

/// A Kubernetes node to create.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubeNode {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Cordoned (`spec.unschedulable`).
    #[serde(default)]
    pub unschedulable: bool,
}

/// A node taint, as `spec.taints[]` holds it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: TaintEffect,
}

/// The effects Kubernetes knows.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// The nodes used when a scenario lists none: `node-0`, `node-1`, `node-2`.
pub fn default_nodes() -> Vec<KubeNode> {
    (0..3)
        .map(|i| KubeNode {
            name: format!("node-{i}"),
            ..KubeNode::default()
        })
        .collect()
}

/// The Node object for `node`; `index` numbers its address.
fn node_object(node: &KubeNode, index: usize, now: &str) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux"});
    for (key, value) in &node.labels {
        labels[key] = json!(value);
    }
    let mut spec = json!({});
    if node.unschedulable {
        spec["unschedulable"] = json!(true);
    }
    if !node.taints.is_empty() {
        let taints: Vec<Value> = node
            .taints
            .iter()
            .map(|t| {
                let mut taint = json!({"key": t.key, "effect": t.effect.as_str()});
                if let Some(value) = &t.value {
                    taint["value"] = json!(value);
                }
                taint
            })
            .collect();
        spec["taints"] = json!(taints);
    }
    let mut metadata = json!({"name": node.name, "labels": labels});
    if !node.annotations.is_empty() {
        metadata["annotations"] = json!(node.annotations);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-cratesim", "kubeProxyVersion": "v1.32.0-cratesim", "architecture": "amd64", "operatingSystem": "linux", "osImage": "cratesim", "kernelVersion": "6.1", "containerRuntimeVersion": "cratesim://1", "bootID": "", "machineID": "", "systemUUID": ""},
            "addresses": [{"type": "InternalIP", "address": format!("192.168.{}.{}", index / 200, 10 + index % 200)}, {"type": "Hostname", "address": node.name}],
        },
    })
}

/// Creates `nodes` (refusing a name that exists already).
pub fn create(server: &ApiServer, nodes: &[KubeNode]) -> Result<(), ApiError> {
    let now = server.clock.rfc3339();
    let mut store = server.store();
    let existing = store.list("nodes", None).len();
    for (i, node) in nodes.iter().enumerate() {
        store.create("nodes", "nodes", "", node_object(node, existing + i, &now), &now)?;
    }
    Ok(())
}

/// Creates the [default nodes](default_nodes) unless some node exists already.
pub fn ensure_some(server: &ApiServer) -> Result<(), ApiError> {
    if server.store().list("nodes", None).is_empty() {
        create(server, &default_nodes())?;
    }
    Ok(())
}

/// Where a cluster's first pod with `ordinal` runs: the nodes in name order, round-robin.
pub fn initial_placement(server: &ApiServer, ordinal: u32) -> Option<String> {
    let store = server.store();
    let names: Vec<String> = store
        .list("nodes", None)
        .into_iter()
        .filter_map(object_name)
        .collect();
    if names.is_empty() {
        return None;
    }
    names.get(ordinal as usize % names.len()).cloned()
}
