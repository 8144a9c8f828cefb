//! What suspend and resume read and write in Kubernetes besides the StatefulSets
//! ([`crate::scale`]): the suspend record annotation on the `CrateDB` resource, the resource's
//! data counts in one guarded patch (operator mode), the backup CronJobs, and the data volume
//! claims (a hint when there is no record).
//!
//! Every write is idempotent and guarded like the scale's: a re-run after a crash writes
//! nothing twice, and an object someone else changed meanwhile fails the request rather than
//! being overwritten.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::config::Kube;
use crate::crd::CrateDB;
use crate::error::KubeError;
use cratectl_core::suspend::record::ANNOTATION;

/// The annotation's key as a JSON pointer segment (`/` written `~1`, RFC 6901).
fn annotation_pointer() -> String {
    format!(
        "/metadata/annotations/{}",
        ANNOTATION.replace('~', "~0").replace('/', "~1")
    )
}

/// The suspend record's text on resource `name`, when there is one.
pub async fn read_record(kube: &Kube, namespace: &str, name: &str) -> Result<Option<String>, KubeError> {
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    let cr = api
        .get(name)
        .await
        .map_err(|e| KubeError::api(format!("reading CrateDB {namespace}/{name}"), &kube.context, e))?;
    Ok(cr
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .cloned())
}

/// Writes the record `text` (a JSON merge patch of one annotation): nothing when it is there
/// already; a record of another workflow (`workflow_id` differs) is never overwritten.
pub async fn write_record(
    kube: &Kube,
    namespace: &str,
    name: &str,
    text: &str,
    workflow_id: &str,
) -> Result<(), KubeError> {
    let what = format!("writing the suspend record on CrateDB {namespace}/{name}");
    if let Some(current) = read_record(kube, namespace, name).await? {
        if current == text {
            return Ok(());
        }
        if record_workflow(&current).as_deref() != Some(workflow_id) {
            return Err(KubeError::Unexpected {
                what,
                reason: format!(
                    "it carries the record of another operation ({}): someone else suspended it",
                    record_workflow(&current).unwrap_or_else(|| "unreadable".into())
                ),
            });
        }
    }
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {ANNOTATION: text}}})),
    )
    .await
    .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// Removes the record when it is the one of `workflow_id` (or any record, with `None`):
/// a JSON patch whose `test` of the current text guards against a record written meanwhile.
/// Returns whether a record was removed.
pub async fn remove_record(
    kube: &Kube,
    namespace: &str,
    name: &str,
    workflow_id: Option<&str>,
) -> Result<bool, KubeError> {
    let Some(current) = read_record(kube, namespace, name).await? else {
        return Ok(false);
    };
    if let Some(id) = workflow_id
        && record_workflow(&current).as_deref() != Some(id)
    {
        return Ok(false);
    }
    let what = format!("removing the suspend record of CrateDB {namespace}/{name}");
    let pointer = annotation_pointer();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": pointer, "value": current},
        {"op": "remove", "path": pointer},
    ]))
    .map_err(|e| KubeError::Unexpected {
        what: what.clone(),
        reason: e.to_string(),
    })?;
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(true)
}

/// The `workflow_id` of a record's text.
fn record_workflow(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .ok()?
        .get("workflow_id")?
        .as_str()
        .map(str::to_string)
}

/// Sets every listed data group's replicas in resource `name` in one JSON patch (operator
/// mode: the operator must see one change, a suspend or a resume, not a scale per group):
/// `(data index, from, to)`; nothing when every group is at `to` already; each `from` guarded
/// by a `test`.
pub async fn set_data_replicas(
    kube: &Kube,
    namespace: &str,
    name: &str,
    changes: &[(usize, u64, u64)],
) -> Result<(), KubeError> {
    let what = format!("setting the data replicas of CrateDB {namespace}/{name}");
    let facts = crate::scale::read_resource(kube, namespace, name).await?;
    let now = |index: usize| {
        facts
            .groups
            .iter()
            .find(|g| g.data_index == Some(index))
            .map(|g| g.replicas)
    };
    if changes.iter().all(|(i, _, to)| now(*i) == Some(*to)) {
        return Ok(());
    }
    let mut ops = Vec::new();
    for (index, from, to) in changes {
        let path = crate::scale::resource_replicas_path(Some(*index));
        ops.push(json!({"op": "test", "path": path, "value": from}));
        ops.push(json!({"op": "replace", "path": path, "value": to}));
    }
    let patch: json_patch::Patch =
        serde_json::from_value(Value::Array(ops)).map_err(|e| KubeError::Unexpected {
            what: what.clone(),
            reason: e.to_string(),
        })?;
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// The label selector of a resource's backup CronJob (crate-operator `backup.py`).
pub fn backup_selector(resource: &str) -> String {
    format!("app.kubernetes.io/component=backup,app.kubernetes.io/name={resource}")
}

/// The backup CronJobs of resource `resource` with whether each is suspended. A cluster (or
/// simulator) that does not serve CronJobs has none.
pub async fn backup_cronjobs(
    kube: &Kube,
    namespace: &str,
    resource: &str,
) -> Result<Vec<(String, bool)>, KubeError> {
    let api: Api<CronJob> = Api::namespaced(kube.client.clone(), namespace);
    match api
        .list(&ListParams::default().labels(&backup_selector(resource)))
        .await
    {
        Ok(list) => Ok(list
            .items
            .iter()
            .filter_map(|c| {
                let name = c.metadata.name.clone()?;
                let suspended = c.spec.suspend.unwrap_or(false);
                Some((name, suspended))
            })
            .collect()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        Err(e) => Err(KubeError::api(
            format!("listing the backup CronJobs of {namespace}/{resource}"),
            &kube.context,
            e,
        )),
    }
}

/// The backup Jobs of resource `resource` that are running (`status.active > 0`). A cluster
/// (or simulator) that does not serve Jobs has none.
pub async fn active_backup_jobs(
    kube: &Kube,
    namespace: &str,
    resource: &str,
) -> Result<Vec<String>, KubeError> {
    let api: Api<Job> = Api::namespaced(kube.client.clone(), namespace);
    match api
        .list(&ListParams::default().labels(&backup_selector(resource)))
        .await
    {
        Ok(list) => Ok(list
            .items
            .iter()
            .filter(|j| j.status.as_ref().and_then(|s| s.active).unwrap_or(0) > 0)
            .filter_map(|j| j.metadata.name.clone())
            .collect()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        Err(e) => Err(KubeError::api(
            format!("listing the backup Jobs of {namespace}/{resource}"),
            &kube.context,
            e,
        )),
    }
}

/// Sets CronJob `name`'s `spec.suspend`; nothing when it is gone or already so.
pub async fn set_cronjob_suspended(
    kube: &Kube,
    namespace: &str,
    name: &str,
    suspend: bool,
) -> Result<(), KubeError> {
    let what = format!(
        "{} CronJob {namespace}/{name}",
        if suspend { "suspending" } else { "resuming" }
    );
    let api: Api<CronJob> = Api::namespaced(kube.client.clone(), namespace);
    let current = match api.get_opt(name).await {
        Ok(c) => c,
        Err(kube::Error::Api(status)) if status.code == 404 => None,
        Err(e) => return Err(KubeError::api(what, &kube.context, e)),
    };
    let Some(current) = current else {
        return Ok(());
    };
    if current.spec.suspend.unwrap_or(false) == suspend {
        return Ok(());
    }
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": suspend}})),
    )
    .await
    .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// The names of the persistent volume claims in `namespace` (none when they cannot be listed:
/// they are only a hint).
pub async fn claim_names(kube: &Kube, namespace: &str) -> Vec<String> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(kube.client.clone(), namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => list.items.into_iter().filter_map(|c| c.metadata.name).collect(),
        Err(_) => Vec::new(),
    }
}

/// The ordinals of StatefulSet `statefulset`'s data claims (`data0-<statefulset>-<i>`, the
/// operator's first disk) among `claims`.
pub fn claim_ordinals(claims: &[String], statefulset: &str) -> Vec<u64> {
    let prefix = format!("data0-{statefulset}-");
    let mut out: Vec<u64> = claims
        .iter()
        .filter_map(|c| c.strip_prefix(&prefix)?.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

/// The client Service of a resource (crate-operator `create.py`, `crate-<name>`).
pub fn client_service_name(resource: &str) -> String {
    format!("crate-{resource}")
}

/// `service` as it can be created again: its name, labels, annotations, owner references and
/// spec, without what the API server assigns (uid, resourceVersion, the cluster IPs, node ports,
/// a LoadBalancer's health-check node port, status).
pub fn sanitize_service(service: &Value) -> Value {
    let meta = service.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut kept = serde_json::Map::new();
    for key in ["name", "namespace", "labels", "annotations", "ownerReferences"] {
        if let Some(v) = meta.get(key) {
            kept.insert(key.to_string(), v.clone());
        }
    }
    let mut spec = service.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        for key in ["clusterIP", "clusterIPs", "healthCheckNodePort"] {
            spec.remove(key);
        }
        // Node ports were allocated too; another Service may hold them by the time of the resume.
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                port.remove("nodePort");
            }
        }
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": kept, "spec": spec})
}

/// Service `name` as it can be created again ([`sanitize_service`]), `None` when it does not
/// exist.
pub async fn read_service(kube: &Kube, namespace: &str, name: &str) -> Result<Option<Value>, KubeError> {
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(kube.client.clone(), namespace);
    let service = api
        .get_opt(name)
        .await
        .map_err(|e| KubeError::api(format!("reading Service {namespace}/{name}"), &kube.context, e))?;
    Ok(match service {
        Some(s) => Some(sanitize_service(&serde_json::to_value(s).map_err(|e| {
            KubeError::Unexpected {
                what: format!("reading Service {namespace}/{name}"),
                reason: e.to_string(),
            }
        })?)),
        None => None,
    })
}

/// Deletes Service `name`; nothing when it is gone.
pub async fn delete_service(kube: &Kube, namespace: &str, name: &str) -> Result<(), KubeError> {
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(kube.client.clone(), namespace);
    match api.delete(name, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(KubeError::api(
            format!("deleting Service {namespace}/{name}"),
            &kube.context,
            e,
        )),
    }
}

/// Creates `service` (a [`sanitize_service`] result) unless a Service of its name exists.
/// Returns whether it created it.
pub async fn recreate_service(kube: &Kube, namespace: &str, service: &Value) -> Result<bool, KubeError> {
    let name = service
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let what = format!("creating Service {namespace}/{name}");
    let api: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(kube.client.clone(), namespace);
    if api
        .get_opt(&name)
        .await
        .map_err(|e| KubeError::api(what.clone(), &kube.context, e))?
        .is_some()
    {
        return Ok(false);
    }
    let object: k8s_openapi::api::core::v1::Service =
        serde_json::from_value(service.clone()).map_err(|e| KubeError::Unexpected {
            what: what.clone(),
            reason: format!("the saved Service cannot be read: {e}"),
        })?;
    match api.create(&Default::default(), &object).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(KubeError::api(what, &kube.context, e)),
    }
}

/// The backup-metrics Deployment of a resource (crate-operator `backup.py`).
pub fn backup_metrics_deployment(resource: &str) -> String {
    format!("backup-metrics-{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotation_is_escaped_as_a_json_pointer() {
        assert_eq!(
            annotation_pointer(),
            "/metadata/annotations/cratectl.io~1suspended"
        );
    }

    #[test]
    fn claims_are_matched_by_statefulset_and_ordinal() {
        let claims: Vec<String> = [
            "data0-crate-data-hot-prod-0",
            "data0-crate-data-hot-prod-2",
            "data0-crate-data-hot-prod-10",
            "data0-crate-data-hot-prod2-0",
            "data1-crate-data-hot-prod-1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(claim_ordinals(&claims, "crate-data-hot-prod"), [0, 2, 10]);
    }

    #[test]
    fn a_saved_service_keeps_what_can_be_created_again() {
        let service = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "crate-prod", "namespace": "db", "uid": "u-1", "resourceVersion": "7",
                         "labels": {"app": "crate"}, "managedFields": [{}]},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                     "healthCheckNodePort": 31000, "ports": [{"port": 4200, "nodePort": 30001}], "selector": {"app": "crate"}},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
        });
        assert_eq!(
            sanitize_service(&service),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "crate-prod", "namespace": "db", "labels": {"app": "crate"}},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 4200}], "selector": {"app": "crate"}},
            })
        );
    }

    #[test]
    fn a_record_names_its_workflow() {
        assert_eq!(
            record_workflow(r#"{"version":1,"workflow_id":"w-1"}"#).as_deref(),
            Some("w-1")
        );
        assert_eq!(record_workflow("not json"), None);
    }
}
