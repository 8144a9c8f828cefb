//! The parts of a cluster update around the scale itself, as crate-operator runs them
//! (`operations.py`: `BeforeClusterUpdateSubHandler`, `AfterClusterUpdateSubHandler`,
//! `hold_routing_allocation`, `set_routing_allocation_owner`; `scale.py`: `update_statefulset`,
//! `patch_command`, `scale_cluster_patch_total_nodes`;
//! docs/crate-operator-behaviour.md#scaling-and-suspend).
//!
//! **What it may touch**: the `dc-util-routing-owner` label of the cluster's StatefulSets, the
//! `crate` container's command (found by name) and `spec.replicas` of the StatefulSets, and
//! `cluster.routing.allocation.enable` through SQL as the `system` user.
//!
//! * `before_cluster_update` (every scale and suspend, not a resume): label every StatefulSet
//!   of the cluster `dc-util-routing-owner=operator-<unix seconds>`, then
//!   `SET GLOBAL TRANSIENT cluster.routing.allocation.enable = 'primaries'` and the same
//!   `PERSISTENT`. A statement CrateDB refuses is only logged by the operator
//!   (`set_cluster_setting` catches it); no node to connect to is a retry.
//! * `after_cluster_update` (every scale and resume, not a suspend; also after the scale failed):
//!   `RESET GLOBAL cluster.routing.allocation.enable`, then the label is removed, even when the
//!   reset could not be sent.
//! * `update_statefulset`: a StatefulSet's `replicas` and its `crate` container's command with
//!   the gateway items for the new total ([`patch_command`]), in one strategic-merge patch;
//!   `scale_cluster_patch_total_nodes` then gives every StatefulSet of the cluster the same
//!   command items. Pods keep the command they were created with (`OnDelete`).
//!
//! Left out: the backup CronJobs and Jobs (suspended and waited for), the wait for running
//! `CREATE SNAPSHOT` jobs (`sys.jobs` is not modelled), webhooks, and the progress annotations
//! of these sub-handlers (only the scale's is written).

use serde_json::{Value, json};

use super::{Ctx, Wait, retry};
use crate::dc_util::{ALLOCATION_ENABLE, ROUTING_OWNER_LABEL, ROUTING_OWNER_OPERATOR};
use crate::kube::store::{metadata_mut, object_name};
use crate::operator::quorum;

/// `ROUTING_ALLOCATION_DURING_RESTART`: the value the operator holds during an update.
const HOLD: &str = "primaries";

/// `patch_command`: the items `-Cgateway.recover_after[_data]_nodes=` get `quorum(total)`,
/// `-Cgateway.expected[_data]_nodes=` get `total`; every other item and the order stay.
pub(super) fn patch_command(command: &[Value], total: u64) -> Vec<Value> {
    command
        .iter()
        .map(|item| {
            let Some(text) = item.as_str() else {
                return item.clone();
            };
            for prefix in [
                "-Cgateway.recover_after_nodes=",
                "-Cgateway.recover_after_data_nodes=",
            ] {
                if text.starts_with(prefix) {
                    return json!(format!("{prefix}{}", quorum(total)));
                }
            }
            for prefix in ["-Cgateway.expected_nodes=", "-Cgateway.expected_data_nodes="] {
                if text.starts_with(prefix) {
                    return json!(format!("{prefix}{total}"));
                }
            }
            item.clone()
        })
        .collect()
}

impl Ctx<'_> {
    /// Every StatefulSet of the cluster, as `_patch_routing_owner_label` selects them.
    fn cluster_statefulsets(&self) -> Vec<String> {
        self.store
            .list("statefulsets", Some(&self.namespace))
            .into_iter()
            .filter(|s| {
                let label = |k: &str| crate::dc_util::label(s, k);
                label("app.kubernetes.io/component") == Some("cratedb")
                    && label("app.kubernetes.io/managed-by") == Some("crate-operator")
                    && label("app.kubernetes.io/name") == Some(self.name.as_str())
                    && label("app.kubernetes.io/part-of") == Some("cratedb")
            })
            .filter_map(object_name)
            .collect()
    }

    /// Writes (`Some`) or removes (`None`) the routing-owner label on every StatefulSet of the
    /// cluster; a failure is only logged by the operator, so it is ignored here too.
    fn label_routing_owner(&mut self, value: Option<String>) {
        for sts in self.cluster_statefulsets() {
            let Some(mut object) = self.store.get("statefulsets", &self.namespace, &sts).cloned() else {
                continue;
            };
            let meta = metadata_mut(&mut object);
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            let Some(map) = labels.as_object_mut() else {
                continue;
            };
            let changed = match &value {
                Some(v) => map.insert(ROUTING_OWNER_LABEL.into(), json!(v)).as_ref() != Some(&json!(v)),
                None => map.remove(ROUTING_OWNER_LABEL).is_some(),
            };
            if changed {
                meta.remove("resourceVersion");
                let _ =
                    self.store
                        .replace("statefulsets", "statefulsets.apps", &self.namespace, &sts, object);
            }
        }
    }

    /// `BeforeClusterUpdateSubHandler`: the owner label, then the `primaries` hold at both
    /// levels (TRANSIENT first).
    pub(super) fn before_cluster_update(&mut self) -> Result<(), Wait> {
        let stamp = format!("{ROUTING_OWNER_OPERATOR}-{}", self.unix_seconds);
        self.label_routing_owner(Some(stamp));
        for mode in ["TRANSIENT", "PERSISTENT"] {
            // psycopg interpolates the parameter: CrateDB sees the literal.
            let stmt = format!("SET GLOBAL {mode} {ALLOCATION_ENABLE} = '{HOLD}'");
            self.sql_logged(&stmt)?;
        }
        Ok(())
    }

    /// `AfterClusterUpdateSubHandler`: `RESET GLOBAL cluster.routing.allocation.enable`, then
    /// the label goes whatever happened (`finally`). No node to send the reset to is a retry of
    /// the handler, which resets and unlabels again.
    pub(super) fn after_cluster_update(&mut self) -> Result<(), Wait> {
        let reset = self.sql_logged(&format!("RESET GLOBAL {ALLOCATION_ENABLE}"));
        self.label_routing_owner(None);
        reset
    }

    /// `update_statefulset`: the `crate` container's command patched for `total` and, when
    /// given, `spec.replicas`. Written only when something changes.
    pub(super) fn update_statefulset(
        &mut self,
        sts: &str,
        replicas: Option<u64>,
        total: u64,
    ) -> Result<(), Wait> {
        let Some(mut object) = self.store.get("statefulsets", &self.namespace, sts).cloned() else {
            return Err(retry(15, format!("StatefulSet {sts} not found")));
        };
        let before = object.clone();
        let containers = object
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let named: Vec<usize> = (0..containers.len())
            .filter(|&i| containers[i].get("name").and_then(Value::as_str) == Some("crate"))
            .collect();
        // `get_container` insists on exactly one container named `crate`.
        let [at] = named.as_slice() else {
            return Err(retry(
                15,
                format!("StatefulSet {sts} has no single container named crate"),
            ));
        };
        let command = containers[*at]
            .get("command")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        object["spec"]["template"]["spec"]["containers"][*at]["command"] =
            json!(patch_command(&command, total));
        if let Some(replicas) = replicas {
            object["spec"]["replicas"] = json!(replicas);
        }
        if object == before {
            return Ok(());
        }
        metadata_mut(&mut object).remove("resourceVersion");
        self.store
            .replace("statefulsets", "statefulsets.apps", &self.namespace, sts, object)
            .map(|_| ())
            .map_err(|e| retry(15, e.message))
    }

    /// `scale_cluster_patch_total_nodes`: every StatefulSet of the spec (the masters', if it
    /// has them, and each data group's) gets the command items for `total`.
    pub(super) fn patch_total_nodes(
        &mut self,
        groups: &[String],
        masters: bool,
        total: u64,
    ) -> Result<(), Wait> {
        let mut names: Vec<String> = Vec::new();
        if masters {
            names.push(self.master_sts());
        }
        names.extend(groups.iter().map(|g| self.data_sts(g)));
        for sts in names {
            self.update_statefulset(&sts, None, total)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// upstream's `test_patch_sts_command` and `_deprecated`: only the gateway items change.
    #[test]
    fn only_the_gateway_items_change() {
        let command = json!([
            "/docker-entrypoint.sh",
            "crate",
            "-Cnode.name=data-hot-$(hostname | awk -F- '{print $NF}')",
            "-Ccluster.initial_master_nodes=data-hot-0,data-hot-1,data-hot-2",
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3",
            "-Cgateway.recover_after_nodes=2",
            "-Cgateway.expected_nodes=3",
            "-Cnode.data=true"
        ]);
        let patched = patch_command(command.as_array().unwrap(), 5);
        assert_eq!(
            json!(patched),
            json!([
                "/docker-entrypoint.sh",
                "crate",
                "-Cnode.name=data-hot-$(hostname | awk -F- '{print $NF}')",
                "-Ccluster.initial_master_nodes=data-hot-0,data-hot-1,data-hot-2",
                "-Cgateway.recover_after_data_nodes=3",
                "-Cgateway.expected_data_nodes=5",
                "-Cgateway.recover_after_nodes=3",
                "-Cgateway.expected_nodes=5",
                "-Cnode.data=true"
            ])
        );
    }
}
