//! The gateway settings on a node's command line, and how a scale changes them.
//!
//! The crate-operator starts CrateDB with `-Cgateway.expected_data_nodes=<data nodes>` and
//! `-Cgateway.recover_after_data_nodes=<quorum>` (CrateDB ≥ 4.7; below, `expected_nodes` and
//! `recover_after_nodes` over every node), and on a scale rewrites exactly those items of the
//! `crate` container's command (`crate/operator/scale.py` `patch_command`: an item matching
//! `^-Cgateway.recover_after(_data)?_nodes=` becomes `<prefix><quorum(total)>`, one matching
//! `^-Cgateway.expected(_data)?_nodes=` becomes `<prefix><total>`, every other item and the
//! order unchanged; `quorum(n) = n / 2 + 1`, `utils/__init__.py`).
//!
//! The settings are static (read when the node starts; CrateDB `docs/config/cluster.rst`
//! §Metadata gateway), so a running node keeps its old values and its node check 1
//! (`RecoveryExpectedNodesSysCheck`) fails until it restarts: the report names those nodes.
//! Which total an item gets follows its own name (`_data_nodes`: data nodes; `_nodes`: every
//! node), so no version has to be guessed. Clusters from before CrateDB 4.0 (Zen1 discovery)
//! also carry `-Cdiscovery.zen.minimum_master_nodes=`, the master quorum: it becomes a majority
//! of the master-eligible nodes, so a scale of master-eligible nodes cannot leave a quorum that
//! the remaining nodes can never reach (or two halves that can each elect a master).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `quorum(n)` of the operator: a majority of `n`.
pub fn quorum(n: u64) -> u64 {
    n / 2 + 1
}

/// Node totals a command line is patched to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub data_nodes: u64,
    pub all_nodes: u64,
    /// Master-eligible nodes (for the Zen1 master quorum).
    #[serde(default)]
    pub master_eligible: u64,
}

/// The gateway items of a command line this module rewrites, by setting name.
const ITEMS: [(&str, Kind); 5] = [
    ("gateway.expected_data_nodes", Kind::Expected { data: true }),
    (
        "gateway.recover_after_data_nodes",
        Kind::RecoverAfter { data: true },
    ),
    ("gateway.expected_nodes", Kind::Expected { data: false }),
    ("gateway.recover_after_nodes", Kind::RecoverAfter { data: false }),
    ("discovery.zen.minimum_master_nodes", Kind::MasterQuorum),
];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Expected { data: bool },
    RecoverAfter { data: bool },
    MasterQuorum,
}

impl Kind {
    fn value(self, totals: Totals) -> u64 {
        let pick = |data: bool| if data { totals.data_nodes } else { totals.all_nodes };
        match self {
            Kind::Expected { data } => pick(data),
            Kind::RecoverAfter { data } => quorum(pick(data)),
            Kind::MasterQuorum => quorum(totals.master_eligible),
        }
    }
}

/// The gateway setting an item sets, with its value text (`-Cgateway.expected_data_nodes=3` →
/// (`gateway.expected_data_nodes`, `3`)).
fn gateway_item(item: &str) -> Option<(&'static str, Kind, &str)> {
    let rest = item.strip_prefix("-C")?;
    let (name, value) = rest.split_once('=')?;
    ITEMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, kind)| (*n, *kind, value))
}

/// `command` with its gateway items set for `totals` (the operator's `patch_command`).
pub fn patch_command(command: &[String], totals: Totals) -> Vec<String> {
    command
        .iter()
        .map(|item| match gateway_item(item) {
            Some((name, kind, _)) => format!("-C{name}={}", kind.value(totals)),
            None => item.clone(),
        })
        .collect()
}

/// The gateway settings a command line carries, by name (`gateway.expected_data_nodes` → 3);
/// a value that is not a number is left out.
pub fn settings_of(command: &[String]) -> BTreeMap<String, u64> {
    command
        .iter()
        .filter_map(|item| gateway_item(item))
        .filter_map(|(name, _, value)| value.trim().parse().ok().map(|v| (name.to_string(), v)))
        .collect()
}

/// One setting's change, as the report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub from: Option<u64>,
    pub to: u64,
}

/// What a scale does to the gateway settings of `command` (keyed without the `gateway.`
/// prefix: `expected_data_nodes`, as the report's `"gateway"` object).
pub fn changes(command: &[String], totals: Totals) -> BTreeMap<String, Change> {
    let before = settings_of(command);
    command
        .iter()
        .filter_map(|item| gateway_item(item))
        .map(|(name, kind, _)| {
            let key = name.trim_start_matches("gateway.").to_string();
            (
                key,
                Change {
                    from: before.get(name).copied(),
                    to: kind.value(totals),
                },
            )
        })
        .collect()
}

/// Whether `-Cnode.master=false` is absent: CrateDB's default makes every node
/// master-eligible (`node.master` defaults to `true`, `docs/config/node.rst`).
pub fn master_eligible(command: &[String]) -> bool {
    !command.iter().any(|item| item.trim() == "-Cnode.master=false")
}

/// Whether `-Cnode.data=false` is absent (CrateDB's default: `node.data` is `true`).
pub fn holds_data(command: &[String]) -> bool {
    !command.iter().any(|item| item.trim() == "-Cnode.data=false")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patches_only_the_gateway_items_in_place() {
        // The operator's own test (`test_patch_sts_command`): order and other items unchanged.
        let before = cmd(&[
            "/docker-entrypoint.sh",
            "crate",
            "-Cnode.name=data-hot-0",
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3",
            "-Ccluster.initial_master_nodes=data-hot-0,data-hot-1,data-hot-2",
        ]);
        let after = patch_command(
            &before,
            Totals {
                data_nodes: 5,
                all_nodes: 8,
                master_eligible: 3,
            },
        );
        assert_eq!(
            after,
            cmd(&[
                "/docker-entrypoint.sh",
                "crate",
                "-Cnode.name=data-hot-0",
                "-Cgateway.recover_after_data_nodes=3",
                "-Cgateway.expected_data_nodes=5",
                "-Ccluster.initial_master_nodes=data-hot-0,data-hot-1,data-hot-2",
            ])
        );
        let changes = changes(
            &before,
            Totals {
                data_nodes: 5,
                all_nodes: 8,
                master_eligible: 3,
            },
        );
        assert_eq!(changes["expected_data_nodes"], Change { from: Some(3), to: 5 });
        assert_eq!(
            changes["recover_after_data_nodes"],
            Change { from: Some(2), to: 3 }
        );
    }

    #[test]
    fn old_forms_count_every_node() {
        let before = cmd(&["-Cgateway.recover_after_nodes=3", "-Cgateway.expected_nodes=6"]);
        let after = patch_command(
            &before,
            Totals {
                data_nodes: 2,
                all_nodes: 5,
                master_eligible: 3,
            },
        );
        assert_eq!(
            after,
            cmd(&["-Cgateway.recover_after_nodes=3", "-Cgateway.expected_nodes=5"])
        );
    }

    #[test]
    fn old_clusters_get_a_majority_of_master_eligible_nodes_as_their_quorum() {
        let before = cmd(&[
            "-Cdiscovery.zen.minimum_master_nodes=2",
            "-Cgateway.expected_nodes=3",
        ]);
        let totals = Totals {
            data_nodes: 5,
            all_nodes: 5,
            master_eligible: 5,
        };
        assert_eq!(
            patch_command(&before, totals),
            cmd(&[
                "-Cdiscovery.zen.minimum_master_nodes=3",
                "-Cgateway.expected_nodes=5"
            ])
        );
        assert_eq!(
            changes(&before, totals)["discovery.zen.minimum_master_nodes"],
            Change { from: Some(2), to: 3 }
        );
    }

    #[test]
    fn lookalikes_are_left_alone() {
        // The operator's regex leaves its dots unescaped; these are not gateway items.
        let before = cmd(&[
            "-Cgatewayxexpected_data_nodes=3",
            "-Cgateway.expected_data_nodes_x=3",
        ]);
        let totals = Totals {
            data_nodes: 9,
            all_nodes: 9,
            master_eligible: 9,
        };
        assert_eq!(patch_command(&before, totals), before);
        assert!(changes(&before, totals).is_empty());
    }

    #[test]
    fn quorum_is_a_majority() {
        assert_eq!([1, 2, 3, 4, 5, 6].map(quorum), [1, 2, 2, 3, 3, 4]);
    }

    #[test]
    fn roles_follow_cratedb_defaults() {
        assert!(master_eligible(&cmd(&["crate"])));
        assert!(!master_eligible(&cmd(&["-Cnode.master=false"])));
        assert!(holds_data(&cmd(&["-Cnode.master=true"])));
        assert!(!holds_data(&cmd(&["-Cnode.data=false"])));
    }
}
