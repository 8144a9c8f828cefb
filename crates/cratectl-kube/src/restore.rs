//! What a restore reads and writes in Kubernetes: the keys of the Secret a temporary repository
//! is made from, the operator's own restore request on the resource
//! (`spec.cluster.restoreSnapshot`, read, never written), the passwords of the users a restore
//! may overwrite, and the grand-central Deployment scaled to 0 while its internal tables are
//! restored.
//!
//! Secret values are returned as [`SecretValues`], whose `Debug` shows only the keys; errors
//! name the Secret and its keys, never a value.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::config::Kube;
use crate::crd::CrateDB;
use crate::error::KubeError;

/// A Secret's values by key (decoded). `Debug` prints the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretValues {
    /// The keys whose value is not empty.
    pub fn non_empty_keys(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Secret `namespace/name`'s values, `None` when it does not exist. A value that is not UTF-8
/// is an error naming the key.
pub async fn read_secret(
    kube: &Kube,
    namespace: &str,
    name: &str,
) -> Result<Option<SecretValues>, KubeError> {
    let what = format!("reading Secret {namespace}/{name}");
    let api: Api<Secret> = Api::namespaced(kube.client.clone(), namespace);
    let secret = match api.get_opt(name).await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => return Err(KubeError::api(what, &kube.context, e)),
    };
    let mut values = BTreeMap::new();
    for (key, bytes) in secret.data.unwrap_or_default() {
        let text = String::from_utf8(bytes.0).map_err(|_| KubeError::Unexpected {
            what: what.clone(),
            reason: format!("the key {key:?} is not UTF-8 text"),
        })?;
        values.insert(key, text);
    }
    for (key, text) in secret.string_data.unwrap_or_default() {
        values.entry(key).or_insert(text);
    }
    Ok(Some(SecretValues(values)))
}

/// A Secret key reference (`secretKeyRef`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub secret: String,
    pub key: String,
}

/// The operator's restore block on the resource, as far as cratectl uses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRestore {
    /// `snapshot`, when non-empty: the operator has a restore requested (or running).
    pub snapshot: Option<String>,
    /// `backupProvider` (`aws` or `azure_blob`; absent means `aws`).
    pub provider: Option<String>,
    /// Field name (`accessKeyId`, `bucket`, …) → its `secretKeyRef`.
    pub refs: BTreeMap<String, KeyRef>,
}

/// Reads `spec.cluster.restoreSnapshot` of resource `name`.
pub async fn read_resource_restore(
    kube: &Kube,
    namespace: &str,
    name: &str,
) -> Result<ResourceRestore, KubeError> {
    let api: Api<CrateDB> = Api::namespaced(kube.client.clone(), namespace);
    let cr = api
        .get(name)
        .await
        .map_err(|e| KubeError::api(format!("reading CrateDB {namespace}/{name}"), &kube.context, e))?;
    Ok(resource_restore(cr.spec.cluster.other.get("restoreSnapshot")))
}

/// [`ResourceRestore`] from the `restoreSnapshot` block.
pub fn resource_restore(block: Option<&Value>) -> ResourceRestore {
    let Some(Value::Object(block)) = block else {
        return ResourceRestore::default();
    };
    let text = |k: &str| {
        block
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let refs = block
        .iter()
        .filter_map(|(field, v)| {
            let r = v.pointer("/secretKeyRef")?;
            Some((
                field.clone(),
                KeyRef {
                    secret: r.get("name")?.as_str()?.to_string(),
                    key: r.get("key")?.as_str()?.to_string(),
                },
            ))
        })
        .collect();
    ResourceRestore {
        snapshot: text("snapshot"),
        provider: text("backupProvider"),
        refs,
    }
}

/// Deployment `namespace/name`'s `spec.replicas`, `None` when it does not exist.
pub async fn deployment_replicas(kube: &Kube, namespace: &str, name: &str) -> Result<Option<i32>, KubeError> {
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(d)) => Ok(Some(d.spec.replicas.unwrap_or(1))),
        Ok(None) => Ok(None),
        // A cluster (or simulator) that does not serve Deployments has none.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(e) => Err(KubeError::api(
            format!("reading Deployment {namespace}/{name}"),
            &kube.context,
            e,
        )),
    }
}

/// Sets Deployment `name`'s `spec.replicas` to `to`; nothing when it is gone or already `to`.
pub async fn set_deployment_replicas(
    kube: &Kube,
    namespace: &str,
    name: &str,
    to: i32,
) -> Result<(), KubeError> {
    if deployment_replicas(kube, namespace, name)
        .await?
        .is_none_or(|now| now == to)
    {
        return Ok(());
    }
    let what = format!("scaling Deployment {namespace}/{name} to {to}");
    let api: Api<Deployment> = Api::namespaced(kube.client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": to}})),
    )
    .await
    .map_err(|e| KubeError::api(what, &kube.context, e))?;
    Ok(())
}

/// The grand-central Deployment of a resource (crate-operator `grand_central.py`).
pub fn grand_central_deployment(resource: &str) -> String {
    format!("grand-central-{resource}")
}

/// The Secret with `gc_admin`'s password (crate-operator `constants.py`, `GC_USER_SECRET_NAME`).
pub fn gc_admin_secret_name(resource: &str) -> String {
    format!("user-gc-{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_block_is_read() {
        let block = json!({
            "snapshot": "snap-1",
            "backupProvider": "azure_blob",
            "accountKey": {"secretKeyRef": {"name": "restore-from-backup-x", "key": "account-key"}},
            "type": "tables",
        });
        let r = resource_restore(Some(&block));
        assert_eq!(r.snapshot.as_deref(), Some("snap-1"));
        assert_eq!(r.provider.as_deref(), Some("azure_blob"));
        assert_eq!(r.refs["accountKey"].key, "account-key");
        assert_eq!(
            resource_restore(Some(&json!({"snapshot": ""}))),
            ResourceRestore::default()
        );
        assert_eq!(resource_restore(None), ResourceRestore::default());
    }

    #[test]
    fn debug_shows_keys_only() {
        let v = SecretValues(BTreeMap::from([(
            "secret-access-key".to_string(),
            "s3cr3t".to_string(),
        )]));
        let shown = format!("{v:?}");
        assert!(shown.contains("secret-access-key") && !shown.contains("s3cr3t"));
    }
}
