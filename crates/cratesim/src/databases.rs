//! The CrateDB clusters of the simulation, and which pod runs which of their nodes.
//!
//! A pod runs the node its labels and command line name: `app.kubernetes.io/name` is the
//! cluster, and the node is the `crate` container's `-Cnode.name=` (the operator writes
//! `data-hot-$(hostname | awk -F- '{print $NF}')`, which the shell expands to the pod's ordinal;
//! any `$(…)` is read so). The `crate` container is found by name, never by position: the
//! operator's pods run a `sql-exporter` container first. Without that flag the ordinal rule applies:
//! `cloud.crate.io/node-name` is the node group, and `crate-data-hot-<cluster>-2` runs
//! `data-hot-2` (`crate-master-<cluster>-0` runs `master-0`), as the CrateDB operator arranges
//! it. Roles come from `-Cnode.master=` and `-Cnode.data=` (CrateDB's default: both true).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use crate::cratedb::{CrateCluster, GatewaySettings, NodeSpec, SharedObjectStore};

/// `(namespace, cluster name)` → the cluster's model.
pub type Clusters = BTreeMap<(String, String), CrateCluster>;

/// The CrateDB clusters, shared by the kubelet (which starts and stops nodes) and the HTTP
/// layer (which serves `/` and `/_sql`), and the object store where their snapshots live.
#[derive(Default)]
pub struct Databases {
    clusters: Mutex<Clusters>,
    /// Every cluster added with [`Databases::insert`] shares it (docs/cratedb-behaviour.md#snapshots-and-restores).
    objects: SharedObjectStore,
}

impl Databases {
    /// Adds (or replaces) a cluster; it shares the simulation's object store, so snapshots one
    /// cluster writes to a location are there for every cluster with a repository for it.
    pub fn insert(&self, key: (String, String), mut cluster: CrateCluster) {
        cluster.set_object_store(self.objects.clone());
        self.lock().insert(key, cluster);
    }

    /// The object store every cluster shares.
    pub fn object_store(&self) -> SharedObjectStore {
        self.objects.clone()
    }

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
    let node = match crate_flag(pod, "node.name") {
        Some(value) => match value.split_once("$(") {
            // A shell substitution: the operator's `$(hostname | awk -F- '{print $NF}')` is
            // the ordinal.
            Some((prefix, _)) => format!("{prefix}{ordinal}"),
            None => value.split_whitespace().next().unwrap_or_default().to_string(),
        },
        None if group == "master" => format!("master-{ordinal}"),
        None => format!("data-{group}-{ordinal}"),
    };
    if node.is_empty() {
        return None;
    }
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

/// The CrateDB node `pod` runs with its roles (`-Cnode.master=`, `-Cnode.data=`; CrateDB's
/// default for a missing flag is true).
pub fn node_spec_of_pod(pod: &Value) -> Option<NodeSpec> {
    let node = node_of_pod(pod)?;
    let role = |flag: &str| crate_flag(pod, flag).is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    Some(NodeSpec {
        name: node.node,
        master_eligible: role("node.master"),
        data: role("node.data"),
    })
}

/// The static gateway settings on the pod's `crate` command line (`-Cgateway.*`), which its
/// node takes when its process starts.
pub fn gateway_of_pod(pod: &Value) -> GatewaySettings {
    let command = pod
        .get("spec")
        .and_then(crate_container)
        .and_then(|c| c.get("command"))
        .and_then(Value::as_array);
    GatewaySettings::from_command_line(command.into_iter().flatten().filter_map(Value::as_str))
}

/// The `crate` container of a pod spec (a pod's `spec` or a StatefulSet's
/// `spec.template.spec`), found by name as the operator and dc_util find it: the operator puts
/// a `sql-exporter` container first. A spec with a single container and none named `crate`
/// (a pod a test wrote by hand) has that one.
pub fn crate_container(pod_spec: &Value) -> Option<&Value> {
    let containers = pod_spec.get("containers")?.as_array()?;
    containers
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some("crate"))
        .or(match containers.as_slice() {
            [only] => Some(only),
            _ => None,
        })
}

/// The value of `-C<flag>=` on the command line of the pod's `crate` container
/// ([`crate_container`]): everything after `=` up to the end of that argument.
pub fn crate_flag<'a>(pod: &'a Value, flag: &str) -> Option<&'a str> {
    let container = crate_container(pod.get("spec")?)?;
    let needle = format!("-C{flag}=");
    container
        .get("command")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|arg| {
            let at = arg.find(&needle)?;
            // Only a flag at the start of a word (not `-Cfoo.node.name=`).
            let word_start = at == 0 || arg[..at].ends_with(char::is_whitespace);
            word_start.then(|| &arg[at + needle.len()..])
        })
}

/// The `-min-availability` a pod's dc_util preStop hook passes, if it has such a hook.
pub fn dc_util_hook(pod: &Value) -> Option<Option<String>> {
    let command = crate_container(pod.get("spec")?)?
        .pointer("/lifecycle/preStop/exec/command")?
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
    fn every_cluster_inserted_shares_the_object_store() {
        use crate::cratedb::{ClusterSpec, Timings};
        let cluster = |name: &str| {
            CrateCluster::new(
                ClusterSpec {
                    name: name.into(),
                    version: "5.10.3".into(),
                    nodes: Vec::new(),
                    tables: Vec::new(),
                    system_password: "pw".into(),
                    timings: Timings::default(),
                },
                std::time::Duration::ZERO,
            )
        };
        let databases = Databases::default();
        let (a, b) = (cluster("a"), cluster("b"));
        assert!(!std::sync::Arc::ptr_eq(&a.object_store(), &b.object_store()));
        databases.insert(("ns".into(), "a".into()), a);
        databases.insert(("ns".into(), "b".into()), b);
        let clusters = databases.lock();
        for model in clusters.values() {
            assert!(std::sync::Arc::ptr_eq(
                &model.object_store(),
                &databases.object_store()
            ));
        }
    }

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
    fn the_command_line_names_the_node_and_its_roles() {
        let pod = |command: Value| {
            json!({"metadata": {"name": "crate-data-hot-alpha-4", "namespace": "ns",
                "labels": {"app.kubernetes.io/name": "alpha", "cloud.crate.io/node-name": "hot"}},
                "spec": {"containers": [{"name": "sql-exporter", "command": ["-Cnode.name=wrong"]},
                    {"name": "crate", "command": command}]}})
        };
        // The operator's shell substitution expands to the ordinal.
        let operator = pod(json!([
            "/docker-entrypoint.sh",
            "crate",
            "-Cnode.name=data-hot-$(hostname | awk -F- '{print $NF}')",
            "-Cnode.master=false",
            "-Cnode.data=true"
        ]));
        let spec = node_spec_of_pod(&operator).unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.master_eligible, spec.data),
            ("data-hot-4", false, true)
        );
        // A literal name wins over the ordinal rule; missing roles default to true.
        let literal = node_spec_of_pod(&pod(json!(["crate", "-Cnode.name=big-one"]))).unwrap();
        assert_eq!(
            (literal.name.as_str(), literal.master_eligible, literal.data),
            ("big-one", true, true)
        );
        assert_eq!(
            node_of_pod(&pod(json!(["crate", "-Cnode.name=data-hot-$(ORDINAL)"])))
                .unwrap()
                .node,
            "data-hot-4"
        );
        // No flag: the ordinal rule.
        assert_eq!(node_of_pod(&pod(json!(["crate"]))).unwrap().node, "data-hot-4");
    }

    #[test]
    fn dc_util_hooks_and_their_availability() {
        let pod = |cmd: Value| {
            json!({"spec": {"containers": [{"name": "sql-exporter"},
                {"name": "crate", "lifecycle": {"preStop": {"exec": {"command": cmd}}}}]}})
        };
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
