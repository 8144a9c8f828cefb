//! What a scale reads and writes in Kubernetes: the `CrateDB` resource (its replica counts, the
//! operator's markers and progress annotations), the StatefulSets (replicas, update strategy,
//! the `crate` container's command, labels), and the guarded writes.
//!
//! Every write is idempotent and guarded (ARCHITECTURE §1.4): a JSON patch (RFC 6902) whose
//! `test` op fails the request when the object is not in the state the write was planned for
//! (another actor changed it), skipped when the object is already at the target — so a re-run
//! after a crash writes nothing twice. Labels are JSON merge patches of `metadata.labels` (one
//! key, no read needed).

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::config::Kube;
use crate::crd::CrateDB;
use crate::error::KubeError;

/// kopf's finalizer on a resource the operator manages.
pub const OPERATOR_FINALIZER: &str = "operator.cloud.crate.io/finalizer";
/// kopf's diff base: the spec the operator last handled.
pub const OPERATOR_LAST: &str = "operator.cloud.crate.io/last";
/// Prefix of the operator's progress annotations for a resource update (kopf's progress
/// storage: `operator.cloud.crate.io/<handler id with / as .>`).
pub const OPERATOR_UPDATE_PROGRESS: &str = "operator.cloud.crate.io/cluster_update";
/// The StatefulSet label that makes dc_util's hooks exit before any SQL
/// (crate-operator `utils/dc_util/dc_util.go`, `labelDisabled`).
pub const DC_UTIL_DISABLED_LABEL: &str = "dc-util-disabled";
/// The name of the CrateDB container in the operator's pod template.
pub const CRATE_CONTAINER: &str = "crate";

/// One node group of the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceGroup {
    /// `master` or the data group's name.
    pub name: String,
    /// Index in `spec.nodes.data` (`None` for `master`).
    pub data_index: Option<usize>,
    pub replicas: u64,
}

/// The resource as a scale sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceFacts {
    pub generation: Option<i64>,
    pub operator_managed: bool,
    /// Dedicated masters first, then data groups in spec order.
    pub groups: Vec<ResourceGroup>,
    /// The operator's update-handler progress annotations: (key, JSON value).
    pub progress: Vec<(String, Value)>,
    /// The spec the operator last handled (its diff base annotation), as JSON `{"spec": …}`.
    pub last_handled: Option<Value>,
}

impl ResourceFacts {
    /// A group's replicas in the spec the operator last handled.
    pub fn handled_replicas(&self, data_index: Option<usize>) -> Option<u64> {
        let path = resource_replicas_path(data_index);
        self.last_handled
            .as_ref()?
            .pointer(&path)?
            .as_f64()
            .map(|r| r.max(0.0) as u64)
    }
}

/// Reads resource `name`.
pub async fn read_resource(kube: &Kube, namespace: &str, name: &str) -> Result<ResourceFacts, KubeError> {
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    let cr = api
        .get(name)
        .await
        .map_err(|e| KubeError::api(format!("reading CrateDB {namespace}/{name}"), &kube.context, e))?;
    Ok(resource_facts(&cr))
}

/// [`ResourceFacts`] of a resource.
pub fn resource_facts(cr: &CrateDB) -> ResourceFacts {
    let meta = &cr.metadata;
    let annotations = meta.annotations.clone().unwrap_or_default();
    let operator_managed = meta
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == OPERATOR_FINALIZER))
        || annotations.contains_key(OPERATOR_LAST);
    let mut groups = Vec::new();
    if let Some(master) = &cr.spec.nodes.master {
        groups.push(ResourceGroup {
            name: "master".into(),
            data_index: None,
            replicas: u64::from(master.replica_count()),
        });
    }
    for (i, g) in cr.spec.nodes.data.iter().enumerate() {
        groups.push(ResourceGroup {
            name: g.name.clone().unwrap_or_default(),
            data_index: Some(i),
            replicas: u64::from(g.replica_count()),
        });
    }
    let progress = annotations
        .iter()
        .filter(|(k, _)| k.starts_with(OPERATOR_UPDATE_PROGRESS))
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::from_str(v).unwrap_or(Value::String(v.clone())),
            )
        })
        .collect();
    ResourceFacts {
        generation: meta.generation,
        operator_managed,
        groups,
        progress,
        last_handled: annotations
            .get(OPERATOR_LAST)
            .and_then(|v| serde_json::from_str(v).ok()),
    }
}

/// A StatefulSet as a scale sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatefulSetFacts {
    pub name: String,
    pub replicas: u64,
    pub ready_replicas: u64,
    pub update_strategy: Option<String>,
    /// Index of the `crate` container in the pod template, and its command.
    pub crate_container: Option<(usize, Vec<String>)>,
    pub dc_util_disabled: bool,
}

/// Reads StatefulSet `name`; `None` when it does not exist.
pub async fn read_statefulset(
    kube: &Kube,
    namespace: &str,
    name: &str,
) -> Result<Option<StatefulSetFacts>, KubeError> {
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let sts = api.get_opt(name).await.map_err(|e| {
        KubeError::api(
            format!("reading StatefulSet {namespace}/{name}"),
            &kube.context,
            e,
        )
    })?;
    Ok(sts.map(|s| statefulset_facts(name, &s)))
}

/// [`StatefulSetFacts`] of a StatefulSet.
pub fn statefulset_facts(name: &str, sts: &StatefulSet) -> StatefulSetFacts {
    let spec = &sts.spec;
    let containers = spec
        .template
        .spec
        .as_ref()
        .map(|p| p.containers.clone())
        .unwrap_or_default();
    let crate_container = containers
        .iter()
        .position(|c| c.name == CRATE_CONTAINER)
        .map(|i| (i, containers[i].command.clone().unwrap_or_default()));
    StatefulSetFacts {
        name: name.to_string(),
        replicas: spec.replicas.map_or(1, |r| r.max(0).unsigned_abs().into()),
        ready_replicas: sts
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .map_or(0, |r| r.max(0).unsigned_abs().into()),
        update_strategy: spec.update_strategy.as_ref().and_then(|u| u.type_.clone()),
        crate_container,
        dc_util_disabled: sts
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(DC_UTIL_DISABLED_LABEL))
            .is_some_and(|v| v == "true"),
    }
}

fn json_patch(ops: Value) -> Result<json_patch::Patch, KubeError> {
    serde_json::from_value(ops).map_err(|e| KubeError::Unexpected {
        what: "building a JSON patch".into(),
        reason: e.to_string(),
    })
}

/// Sets StatefulSet `name`'s `spec.replicas` from `from` to `to`: nothing when it is already
/// `to`; a `test` of `from` guards the write, so a StatefulSet someone else changed meanwhile
/// fails the request (422) instead of being overwritten.
pub async fn set_statefulset_replicas(
    kube: &Kube,
    namespace: &str,
    name: &str,
    from: u64,
    to: u64,
) -> Result<(), KubeError> {
    let what = format!("setting StatefulSet {namespace}/{name} replicas {from} -> {to}");
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let current = api
        .get(name)
        .await
        .map_err(|e| KubeError::api(what.clone(), &kube.context, e))?;
    let now = statefulset_facts(name, &current).replicas;
    if now == to {
        return Ok(());
    }
    if now != from {
        return Err(KubeError::Unexpected {
            what,
            reason: format!("it has {now} replicas, not {from}: someone else changed it"),
        });
    }
    let patch = json_patch(json!([
        {"op": "test", "path": "/spec/replicas", "value": from},
        {"op": "replace", "path": "/spec/replicas", "value": to},
    ]))?;
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// Sets the `crate` container's command of StatefulSet `name` to `command`: nothing when it is
/// already that; the container is found by name and a `test` of its name at that index guards
/// the write.
pub async fn set_crate_command(
    kube: &Kube,
    namespace: &str,
    name: &str,
    command: &[String],
) -> Result<(), KubeError> {
    let what = format!("setting the crate container's command of StatefulSet {namespace}/{name}");
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let current = api
        .get(name)
        .await
        .map_err(|e| KubeError::api(what.clone(), &kube.context, e))?;
    let Some((index, now)) = statefulset_facts(name, &current).crate_container else {
        return Err(KubeError::Unexpected {
            what,
            reason: "it has no container named crate".into(),
        });
    };
    if now == command {
        return Ok(());
    }
    let path = format!("/spec/template/spec/containers/{index}");
    let patch = json_patch(json!([
        {"op": "test", "path": format!("{path}/name"), "value": CRATE_CONTAINER},
        {"op": "replace", "path": format!("{path}/command"), "value": command},
    ]))?;
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// The JSON pointer of a group's replicas in the resource.
pub fn resource_replicas_path(data_index: Option<usize>) -> String {
    match data_index {
        Some(i) => format!("/spec/nodes/data/{i}/replicas"),
        None => "/spec/nodes/master/replicas".into(),
    }
}

/// Sets a group's replicas in resource `name` from `from` to `to` (operator mode, and direct
/// mode's final sync): nothing when already `to`; guarded by a `test` of `from`.
pub async fn set_resource_replicas(
    kube: &Kube,
    namespace: &str,
    name: &str,
    group: &ResourceGroup,
    from: u64,
    to: u64,
) -> Result<(), KubeError> {
    let what = format!(
        "setting {} replicas of CrateDB {namespace}/{name} {from} -> {to}",
        group.name
    );
    let facts = read_resource(kube, namespace, name).await?;
    let now = facts
        .groups
        .iter()
        .find(|g| g.name == group.name)
        .map(|g| g.replicas)
        .ok_or_else(|| KubeError::Unexpected {
            what: what.clone(),
            reason: format!("the resource has no group {}", group.name),
        })?;
    if now == to {
        return Ok(());
    }
    if now != from {
        return Err(KubeError::Unexpected {
            what,
            reason: format!("it has {now}, not {from}: someone else changed it"),
        });
    }
    let path = resource_replicas_path(group.data_index);
    let patch = json_patch(json!([
        {"op": "test", "path": path, "value": from},
        {"op": "replace", "path": path, "value": to},
    ]))?;
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_crate_container_is_found_by_name() {
        let sts: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "s", "labels": {"dc-util-disabled": "true"}},
            "spec": {"replicas": 3, "selector": {}, "serviceName": "x",
                     "updateStrategy": {"type": "OnDelete"},
                     "template": {"spec": {"containers": [
                        {"name": "sql-exporter", "command": ["exporter"]},
                        {"name": "crate", "command": ["crate", "-Cnode.master=false"]}]}}},
        }))
        .unwrap();
        let facts = statefulset_facts("s", &sts);
        assert_eq!(facts.replicas, 3);
        assert_eq!(facts.update_strategy.as_deref(), Some("OnDelete"));
        assert_eq!(facts.crate_container.as_ref().unwrap().0, 1);
        assert!(facts.dc_util_disabled);
    }

    #[test]
    fn markers_make_a_resource_the_operators() {
        let cr: CrateDB = serde_json::from_value(json!({
            "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB",
            "metadata": {"name": "r", "generation": 4, "finalizers": [OPERATOR_FINALIZER],
                         "annotations": {"operator.cloud.crate.io/cluster_update.scale": "{\"retries\": 2}"}},
            "spec": {"nodes": {"master": {"replicas": 3}, "data": [{"name": "hot", "replicas": 2}]}},
        }))
        .unwrap();
        let facts = resource_facts(&cr);
        assert!(facts.operator_managed);
        assert_eq!(facts.generation, Some(4));
        assert_eq!(facts.groups[1].data_index, Some(0));
        assert_eq!(facts.progress[0].1["retries"], 2);
        assert_eq!(resource_replicas_path(Some(0)), "/spec/nodes/data/0/replicas");
    }
}
