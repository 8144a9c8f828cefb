//! The `cloud.crate.io/v1` `CrateDB` custom resource, typed for what cratectl reads
//! (crate-operator's `deploy/charts/crate-operator-crds/templates/cratedbs-cloud-crate-io.yaml`;
//! docs/crate-operator-behaviour.md#the-cratedb-custom-resource): the cluster's name and version,
//! and its node groups. Every other field is kept as JSON, so reading a resource never loses or
//! rejects what the operator added.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `spec` of a `CrateDB` resource.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize)]
#[kube(
    group = "cloud.crate.io",
    version = "v1",
    kind = "CrateDB",
    plural = "cratedbs",
    namespaced,
    status = "Value",
    schema = "disabled"
)]
pub struct CrateDBSpec {
    #[serde(default)]
    pub cluster: ClusterSpec,
    #[serde(default)]
    pub nodes: NodesSpec,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `spec.cluster`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// CrateDB's `cluster.name`.
    pub name: Option<String>,
    pub version: Option<String>,
    pub image_registry: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `spec.nodes`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NodesSpec {
    pub master: Option<NodeGroupSpec>,
    #[serde(default)]
    pub data: Vec<NodeGroupSpec>,
}

/// One node group (`spec.nodes.master`, `spec.nodes.data[]`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NodeGroupSpec {
    /// Absent for the master group.
    pub name: Option<String>,
    /// A number in the schema (it accepts `2.5`); read as f64 and rounded down.
    #[serde(default)]
    pub replicas: f64,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl NodeGroupSpec {
    /// Replicas as a count (negative or fractional values as the operator reads them: floor,
    /// at least 0).
    pub fn replica_count(&self) -> u32 {
        if self.replicas.is_finite() && self.replicas > 0.0 {
            self.replicas.floor().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    }
}

impl CrateDB {
    /// The CrateDB cluster name: `spec.cluster.name`, else `metadata.name`.
    pub fn cluster_name(&self) -> String {
        self.spec
            .cluster
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }

    /// What the operator last wrote as health (`status.crateDBStatus.health`, else
    /// `status.health`).
    pub fn operator_health(&self) -> Option<String> {
        let status = self.status.as_ref()?;
        status
            .pointer("/crateDBStatus/health")
            .or_else(|| status.get("health"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_operator_shape_and_keeps_the_rest() {
        let cr: CrateDB = serde_json::from_value(serde_json::json!({
            "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB",
            "metadata": {"name": "res", "namespace": "ns"},
            "spec": {
                "cluster": {"name": "prod", "version": "5.10.3", "imageRegistry": "crate", "settings": {"a": 1}},
                "nodes": {"master": {"replicas": 3, "resources": {}}, "data": [{"name": "hot", "replicas": 2.5, "resources": {}}]},
                "users": [{"name": "u"}],
            },
            "status": {"crateDBStatus": {"health": "GREEN"}},
        }))
        .unwrap();
        assert_eq!(cr.cluster_name(), "prod");
        assert_eq!(cr.spec.nodes.data[0].replica_count(), 2);
        assert_eq!(cr.spec.nodes.master.as_ref().unwrap().replica_count(), 3);
        assert_eq!(cr.operator_health().as_deref(), Some("GREEN"));
        assert!(cr.spec.other.contains_key("users"));
        assert!(cr.spec.cluster.other.contains_key("settings"));
    }

    #[test]
    fn cluster_name_falls_back_to_the_resource_name() {
        let cr: CrateDB = serde_json::from_value(serde_json::json!({
            "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB",
            "metadata": {"name": "res"}, "spec": {"cluster": {}, "nodes": {"data": []}},
        }))
        .unwrap();
        assert_eq!(cr.cluster_name(), "res");
        assert_eq!(cr.operator_health(), None);
    }
}
