//! `sys.node_checks`: the checks every node runs against the cluster state with its own
//! start-up settings, and their acknowledgement (docs/cratedb-behaviour.md#gateway-settings-and-node-checks).
//!
//! The three gateway checks of crate/crate (`io/crate/expression/reference/sys/check/node/`,
//! `RecoveryExpectedNodesSysCheck` id 1, `RecoveryAfterNodesSysCheck` id 2,
//! `RecoveryAfterTimeSysCheck` id 3) with their ids, severities, descriptions and rules. Each
//! node answers for itself: a node started with an older command line (a pod not restarted
//! since the operator patched its StatefulSet) fails check 1 while a restarted one passes.
//! `acknowledged` lives in the node's memory and is lost when its process restarts
//! (`lifecycle.rs` clears it). Left out: checks 4–7 (disk watermarks, max shards per node),
//! which need disk and shard-limit facts the model does not have.

use std::time::Duration;

use super::CrateCluster;
use super::spec::GatewaySettings;

/// `AbstractSysNodeCheck`'s link, appended to every description after a space.
const LINK: &str = "https://cr8.is/d-node-check-";

/// The node checks modelled: `(id, severity, description)` (`Severity.MEDIUM` is 2).
pub(crate) const CHECKS: [(u32, i64, &str); 3] = [
    (
        1,
        2,
        "It has been detected that the 'gateway.expected_data_nodes' setting (or the deprecated \
         'gateway.recovery_after_nodes' setting) is not configured or it does not match the actual \
         number of (data) nodes in the cluster.",
    ),
    (
        2,
        2,
        "The cluster setting 'gateway.recover_after_data_nodes' (or the deprecated \
         `gateway.recovery_after_nodes` setting) is not configured or it is set to a value that \
         seems low in relation to the the maximum/expected number of (data) nodes in the cluster.",
    ),
    (
        3,
        2,
        "If any of the \"expected data nodes\" recovery settings are set (or the deprecated \
         \"expected nodes\" settings),the value of 'gateway.recover_after_time' must not be zero. \
         Otherwise the \"expected (data) nodes\" setting wouldn't have any effect.",
    ),
];

/// The description as `sys.node_checks` shows it: the text, a space and the check's link.
pub(crate) fn description(text: &str, id: u32) -> String {
    format!("{text} {LINK}{id}")
}

/// The nodes a check counts in the cluster state: `(data nodes, all nodes)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Members {
    pub(crate) data: i64,
    pub(crate) all: i64,
}

/// Whether check `id` passes for a node started with `gateway`, in a cluster of `members`.
pub(crate) fn passes(id: u32, gateway: &GatewaySettings, members: Members) -> bool {
    let unset = |v: Option<i64>| v.unwrap_or(-1);
    match id {
        // RecoveryExpectedNodesSysCheck: data nodes against expected_data_nodes; when that is
        // unset, every node against the deprecated expected_nodes.
        1 => {
            let (actual, expected) = match unset(gateway.expected_data_nodes) {
                -1 => (members.all, unset(gateway.expected_nodes)),
                expected => (members.data, expected),
            };
            actual == 1 || actual == expected
        }
        // RecoveryAfterNodesSysCheck: expected / 2 < after <= expected, with the deprecated
        // pair when either data-node setting is unset.
        2 => {
            let (actual, after, expected) = match (
                unset(gateway.recover_after_data_nodes),
                unset(gateway.expected_data_nodes),
            ) {
                (-1, _) | (_, -1) => (
                    members.all,
                    unset(gateway.recover_after_nodes),
                    unset(gateway.expected_nodes),
                ),
                (after, expected) => (members.data, after, expected),
            };
            actual == 1 || (expected / 2 < after && after <= expected)
        }
        // RecoveryAfterTimeSysCheck: after <= expected, and a recover_after_time above zero
        // whenever expected is set (its default is 5 min when an expected setting exists).
        3 => {
            let (after, expected) = match (
                unset(gateway.recover_after_data_nodes),
                unset(gateway.expected_data_nodes),
            ) {
                (-1, _) | (_, -1) => (unset(gateway.recover_after_nodes), unset(gateway.expected_nodes)),
                pair => pair,
            };
            let time = gateway.recover_after_time.unwrap_or({
                let any_expected = gateway.expected_data_nodes.is_some() || gateway.expected_nodes.is_some();
                if any_expected {
                    Duration::from_secs(300)
                } else {
                    Duration::ZERO
                }
            });
            after <= expected && (expected == -1 || !time.is_zero())
        }
        _ => true,
    }
}

impl CrateCluster {
    /// The members a node's checks count (every node sees the same cluster state here).
    pub(crate) fn check_members(&self) -> Members {
        let count = |data_only: bool| {
            self.nodes
                .iter()
                .filter(|n| n.is_member() && (n.data || !data_only))
                .count()
        };
        Members {
            data: i64::try_from(count(true)).unwrap_or(i64::MAX),
            all: i64::try_from(count(false)).unwrap_or(i64::MAX),
        }
    }

    /// `UPDATE sys.node_checks SET acknowledged = <value>` for one row: check `id` of the node
    /// with id `node_id`. Returns whether the row exists (a member's modelled check).
    pub(crate) fn acknowledge_node_check(&mut self, node_id: &str, id: u32, value: bool) -> bool {
        if !CHECKS.iter().any(|(check, _, _)| *check == id) {
            return false;
        }
        let Some(node) = self.nodes.iter_mut().find(|n| n.id == node_id && n.is_member()) else {
            return false;
        };
        if value {
            node.acknowledged_checks.insert(id);
        } else {
            node.acknowledged_checks.remove(&id);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(expected: i64) -> GatewaySettings {
        GatewaySettings::from_command_line(
            [
                "/docker-entrypoint.sh".to_string(),
                format!("-Cgateway.recover_after_data_nodes={}", expected / 2 + 1),
                format!("-Cgateway.expected_data_nodes={expected}"),
            ]
            .iter()
            .map(String::as_str),
        )
    }

    const THREE: Members = Members { data: 3, all: 3 };

    #[test]
    fn the_operators_settings_pass_until_the_count_changes() {
        let three = operator(3);
        assert_eq!(three.expected_data_nodes, Some(3));
        assert_eq!(three.recover_after_data_nodes, Some(2));
        assert!([1, 2, 3].iter().all(|id| passes(*id, &three, THREE)));
        // Scaled to 4 data nodes: a node still running with expected 3 fails check 1 only.
        let four = Members { data: 4, all: 4 };
        assert!(!passes(1, &three, four));
        assert!(passes(2, &three, four));
        assert!(passes(1, &operator(4), four));
        // A single data node always passes.
        assert!(passes(1, &three, Members { data: 1, all: 4 }));
        // Dedicated masters do not count for the data-node settings.
        assert!(passes(1, &three, Members { data: 3, all: 6 }));
    }

    #[test]
    fn unset_settings_fail_checks_1_and_2_of_a_multi_node_cluster() {
        let none = GatewaySettings::default();
        assert!(!passes(1, &none, THREE));
        assert!(!passes(2, &none, THREE));
        assert!(
            passes(3, &none, THREE),
            "no expected setting: recover_after_time is irrelevant"
        );
        assert!(passes(1, &none, Members { data: 1, all: 1 }));
    }

    #[test]
    fn the_deprecated_settings_count_every_node() {
        let old = GatewaySettings::from_command_line([
            "-Cgateway.recover_after_nodes=4",
            "-Cgateway.expected_nodes=6",
        ]);
        assert!(passes(1, &old, Members { data: 3, all: 6 }));
        assert!(!passes(1, &old, Members { data: 3, all: 5 }));
        assert!(passes(2, &old, Members { data: 3, all: 6 }));
        let low = GatewaySettings::from_command_line([
            "-Cgateway.recover_after_nodes=3",
            "-Cgateway.expected_nodes=6",
        ]);
        assert!(
            !passes(2, &low, Members { data: 3, all: 6 }),
            "6 / 2 < 3 does not hold"
        );
    }

    #[test]
    fn recover_after_time_must_not_be_zero_when_expected_is_set() {
        let mut zero = operator(3);
        zero.recover_after_time = Some(Duration::ZERO);
        assert!(!passes(3, &zero, THREE));
        let explicit = GatewaySettings::from_command_line([
            "-Cgateway.expected_data_nodes=3",
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.recover_after_time=10m",
        ]);
        assert_eq!(explicit.recover_after_time, Some(Duration::from_secs(600)));
        assert!(passes(3, &explicit, THREE));
    }

    #[test]
    fn descriptions_end_with_their_link() {
        assert!(description(CHECKS[0].2, 1).ends_with("in the cluster. https://cr8.is/d-node-check-1"));
    }
}
