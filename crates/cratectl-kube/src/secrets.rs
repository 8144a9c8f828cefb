//! The `system` user's password, from the Secret the operator creates for every cluster
//! (`user-system-<resource>`, key `password`; crate-operator's
//! `create.py:get_system_user_secret`). The value is returned wrapped so that it cannot be
//! printed by accident; errors name the Secret, never its content.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::config::Kube;
use crate::discovery::Cluster;
use crate::error::KubeError;

/// The Secret holding the `system` password of the cluster whose resource is `resource`.
pub fn system_secret_name(resource: &str) -> String {
    format!("user-system-{resource}")
}

/// Reads the `system` user's password of `cluster`.
pub async fn system_password(kube: &Kube, cluster: &Cluster) -> Result<String, KubeError> {
    let name = system_secret_name(&cluster.resource);
    let what = format!("reading Secret {}/{name}", cluster.namespace);
    let secrets: Api<Secret> = Api::namespaced(kube.client.clone(), &cluster.namespace);
    let secret = secrets
        .get(&name)
        .await
        .map_err(|e| KubeError::api(what.clone(), &kube.context, e))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get("password"))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get("password"))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| KubeError::Unexpected {
            what: what.clone(),
            reason: "it has no key \"password\"".into(),
        })?;
    String::from_utf8(bytes).map_err(|_| KubeError::Unexpected {
        what,
        reason: "the key \"password\" is not UTF-8 text".into(),
    })
}
