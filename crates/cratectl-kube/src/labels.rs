//! The crate-operator's routing-allocation ownership protocol, spoken by cratectl.
//!
//! dc_util, the operator's preStop (and, with `--reset-routing`, postStart) hook, reads the label
//! `dc-util-routing-owner` on the StatefulSet of the pod it runs in, splits the value at its
//! *first* `-`, and leaves `cluster.routing.allocation.enable` alone only when the part before is
//! exactly `operator` and the part after is unix seconds at most two hours away from now, either
//! way (crate/crate-operator, `utils/dc_util/dc_util.go`, function
//! `operatorOwnsRoutingAllocation`, constants `routingOwnerOperator = "operator"` and
//! `routingOwnerTTL`; its test `decommission_test.go`, case "Unknown owner", pins that any other
//! owner is ignored). Without such a label (none, another owner, malformed, stale) the preStop
//! hook sets `allocation.enable` TRANSIENT to `primaries` before decommissioning and leaves a lock
//! file, and the replacement pod's postStart hook sends `RESET GLOBAL
//! "cluster.routing.allocation.enable"`, which clears both levels: it would drop a restart's own
//! hold while the node is still recovering.
//!
//! So cratectl writes `operator-<unix seconds>`, the only value dc_util honours, and the label
//! therefore no longer tells cratectl and the operator apart; the cluster's cratectl Lease
//! (`cratectl-<resource>`, see [`crate::lease`]) does. A restart that holds allocation at
//! `primaries` writes the label first, so a node's own hooks cannot reset the setting behind its
//! back, refreshes it before every pod (the two hours run from the value, not from the write),
//! and removes it when the setting is restored.
//!
//! Leaving a label behind is harmless after two hours (dc_util ignores it) but misleads people
//! until then, which is why `doctor` reports it and every path of a restart removes it.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::config::Kube;
use crate::error::KubeError;

/// The label dc_util reads on the StatefulSet of the pod it runs in. One name across the
/// workspace: the pure rules about it live in `cratectl_core::doctor`.
pub const ROUTING_OWNER_LABEL: &str = cratectl_core::doctor::ROUTING_OWNER_LABEL;

/// The label value cratectl writes: `operator-<unix seconds>`, the only owner dc_util honours
/// (see the module documentation); the seconds are when the setting was last claimed.
pub fn routing_owner_value(now: Timestamp) -> String {
    format!(
        "{}-{}",
        cratectl_core::doctor::ROUTING_OWNER_OPERATOR,
        now.as_second()
    )
}

/// Sets the routing-owner label on each named StatefulSet to `value`, or removes it with `None`.
///
/// A JSON merge patch of `metadata.labels` touches only this label (a `null` removes it), so it
/// needs no read and cannot undo a concurrent change to other labels, and writing the same value
/// twice is harmless: a re-run after a crash may simply call this again. A StatefulSet that does
/// not exist (404) is skipped: there is nothing for its pods' hooks to read, and a cluster that
/// lost a StatefulSet mid-operation must still be able to clean up the others. Any other error
/// stops at that StatefulSet and is returned; the ones before it keep the new value.
pub async fn set_routing_owner(
    kube: &Kube,
    namespace: &str,
    statefulsets: &[String],
    value: Option<&str>,
) -> Result<(), KubeError> {
    set_statefulset_label(kube, namespace, statefulsets, ROUTING_OWNER_LABEL, value).await
}

/// Sets (or with `None` removes) label `key` on each named StatefulSet, as
/// [`set_routing_owner`] describes.
pub async fn set_statefulset_label(
    kube: &Kube,
    namespace: &str,
    statefulsets: &[String],
    key: &str,
    value: Option<&str>,
) -> Result<(), KubeError> {
    let api: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    let patch = json!({"metadata": {"labels": {key: value}}});
    for name in statefulsets {
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {
                tracing::debug!(namespace, statefulset = %name, "no such StatefulSet: label {key} not written");
            }
            Err(error) => {
                let what = match value {
                    Some(v) => format!("labelling StatefulSet {namespace}/{name} {key}={v}"),
                    None => format!("removing label {key} from StatefulSet {namespace}/{name}"),
                };
                return Err(KubeError::api(what, &kube.context, error));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_value_is_the_operator_owner_and_the_unix_seconds() {
        let now: Timestamp = "2026-01-01T00:00:00.9Z".parse().unwrap();
        assert_eq!(routing_owner_value(now), "operator-1767225600");
        assert!(cratectl_core::doctor::dc_util_honours(
            &routing_owner_value(now),
            now
        ));
        assert_eq!(ROUTING_OWNER_LABEL, "dc-util-routing-owner");
    }
}
