//! The CrateDB clusters of the simulation, and which pod runs which of their nodes.
//!
//! A pod runs the node its labels and ordinal name: `app.kubernetes.io/name` is the cluster,
//! `cloud.crate.io/node-name` the node group, and `crate-data-hot-<cluster>-2` runs `data-hot-2`
//! (`crate-master-<cluster>-0` runs `master-0`), as the CrateDB operator arranges it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use crate::cratedb::CrateCluster;

/// `(namespace, cluster name)` → the cluster's model.
pub type Clusters = BTreeMap<(String, String), CrateCluster>;

/// The CrateDB clusters, shared by the kubelet (which starts and stops nodes) and the HTTP
/// layer (which serves `/` and `/_sql`).
#[derive(Default)]
pub struct Databases {
    clusters: Mutex<Clusters>,
}

impl Databases {
    /// The clusters, locked. Callers hold the lock for one step only.
    pub fn lock(&self) -> MutexGuard<'_, Clusters> {
        // A panic mid-step leaves a model that is still self-consistent per call, so a
        // poisoned lock is safe to keep using.
        self.clusters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where a pod's CrateDB node lives: namespace, cluster and node name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef {
    pub namespace: String,
    pub cluster: String,
    pub node: String,
}

impl NodeRef {
    pub fn key(&self) -> (String, String) {
        (self.namespace.clone(), self.cluster.clone())
    }
}

/// The CrateDB node `pod` runs, if it is a CrateDB pod.
pub fn node_of_pod(pod: &Value) -> Option<NodeRef> {
    let label = |k: &str| {
        pod.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
    };
    let cluster = label("app.kubernetes.io/name")?;
    let group = label("cloud.crate.io/node-name")?;
    let name = pod.pointer("/metadata/name").and_then(Value::as_str)?;
    let ordinal: u32 = name.rsplit_once('-')?.1.parse().ok()?;
    let node = if group == "master" {
        format!("master-{ordinal}")
    } else {
        format!("data-{group}-{ordinal}")
    };
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some(NodeRef {
        namespace,
        cluster: cluster.to_string(),
        node,
    })
}

/// The `-min-availability` a pod's dc_util preStop hook passes, if it has such a hook.
pub fn dc_util_hook(pod: &Value) -> Option<Option<String>> {
    let command = pod
        .pointer("/spec/containers/0/lifecycle/preStop/exec/command")?
        .as_array()?;
    let words: Vec<&str> = command
        .iter()
        .filter_map(Value::as_str)
        .flat_map(str::split_whitespace)
        .collect();
    if !words.iter().any(|w| w.ends_with("dc_util")) {
        return None;
    }
    let availability = words
        .iter()
        .position(|w| *w == "-min-availability" || *w == "--min-availability")
        .and_then(|i| words.get(i + 1))
        .map(|s| s.to_string());
    Some(availability)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_map_to_the_nodes_the_operator_names() {
        let pod = |name: &str, group: &str| {
            json!({"metadata": {"name": name, "namespace": "ns",
                "labels": {"app.kubernetes.io/name": "alpha", "cloud.crate.io/node-name": group}}})
        };
        let data = node_of_pod(&pod("crate-data-hot-alpha-2", "hot")).unwrap();
        assert_eq!(
            (data.cluster.as_str(), data.node.as_str()),
            ("alpha", "data-hot-2")
        );
        assert_eq!(
            node_of_pod(&pod("crate-master-alpha-0", "master")).unwrap().node,
            "master-0"
        );
        assert_eq!(node_of_pod(&json!({"metadata": {"name": "other-0"}})), None);
    }

    #[test]
    fn dc_util_hooks_and_their_availability() {
        let pod = |cmd: Value| json!({"spec": {"containers": [{"lifecycle": {"preStop": {"exec": {"command": cmd}}}}]}});
        let hook = pod(json!([
            "/bin/sh",
            "-c",
            "/dc_util -min-availability PRIMARIES -timeout 720s"
        ]));
        assert_eq!(dc_util_hook(&hook), Some(Some("PRIMARIES".into())));
        assert_eq!(dc_util_hook(&pod(json!(["/bin/sh", "-c", "sleep 5"]))), None);
        assert_eq!(dc_util_hook(&json!({"spec": {}})), None);
    }
}
