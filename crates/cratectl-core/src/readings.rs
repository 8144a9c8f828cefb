//! What cratectl reads from a CrateDB cluster, as plain data: the adapters (`cratectl-cratedb`)
//! fill these from `/_sql`, and the pure decisions ([`crate::health`], [`crate::doctor`]) take
//! them as input. Nothing here talks to anything.
//!
//! Cluster settings are **effective** values (`sys.cluster.settings`: transient over persistent
//! over default). CrateDB does not expose the transient and persistent levels separately over
//! SQL, so no reading here pretends to know them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One row of `sys.nodes`: a node that is currently a cluster member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReading {
    /// The node id (what `sys.cluster.master_node` names).
    pub id: String,
    /// The node name (`data-hot-0`, `master-1`), what `ALTER CLUSTER DECOMMISSION` takes.
    pub name: String,
    pub hostname: Option<String>,
    /// `version['number']`, NULL when the node did not answer in time.
    pub version: Option<String>,
}

/// `sys.health`'s three levels; `severity` is 1, 2, 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TableHealthLevel {
    Green,
    Yellow,
    Red,
}

impl TableHealthLevel {
    /// From `sys.health.severity` (GREEN=1, YELLOW=2, RED=3).
    pub fn from_severity(severity: i64) -> Option<TableHealthLevel> {
        match severity {
            1 => Some(TableHealthLevel::Green),
            2 => Some(TableHealthLevel::Yellow),
            3 => Some(TableHealthLevel::Red),
            _ => None,
        }
    }

    /// As CrateDB writes it (`GREEN`, `YELLOW`, `RED`).
    pub fn as_str(self) -> &'static str {
        match self {
            TableHealthLevel::Green => "GREEN",
            TableHealthLevel::Yellow => "YELLOW",
            TableHealthLevel::Red => "RED",
        }
    }
}

/// One row of `sys.health`: a table or one partition of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableHealth {
    pub schema: String,
    pub table: String,
    /// NULL for tables that are not partitioned.
    pub partition_ident: Option<String>,
    pub health: TableHealthLevel,
    pub missing_shards: i64,
    pub underreplicated_shards: i64,
}

/// Shard copies that are moving or being built (`sys.shards.routing_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardsInFlight {
    pub initializing: u64,
    pub relocating: u64,
}

/// The cluster settings day-2 operations touch, as CrateDB reports them: the effective value
/// (transient over persistent over default), keyed by the dotted name
/// (`cluster.routing.allocation.enable`). Values are CrateDB's rendering (`"all"`,
/// `"PRIMARIES"`, `""` for an empty exclusion list, `false`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsReading {
    pub effective: BTreeMap<String, serde_json::Value>,
}

/// The settings operations change, with CrateDB's defaults.
pub const TOUCHED_SETTINGS: &[(&str, &str)] = &[
    ("cluster.routing.allocation.enable", "all"),
    ("cluster.routing.allocation.exclude._name", ""),
    ("cluster.graceful_stop.min_availability", "PRIMARIES"),
    ("cluster.graceful_stop.timeout", "2h"),
    ("cluster.graceful_stop.force", "false"),
    // A restore's recovery tuning (the operator's values: 200mb and 6).
    ("indices.recovery.max_bytes_per_sec", "40mb"),
    ("cluster.routing.allocation.cluster_concurrent_rebalance", "2"),
];

/// Shard copies per node (`sys.shards` grouped by `node['name']`), for deallocation.
pub type ShardCounts = BTreeMap<String, u64>;

/// Everything one health poll reads, from one node, at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterReading {
    /// The pod or URL the reading came through (never the node being disrupted).
    pub via: String,
    /// `sys.nodes`.
    pub nodes: Vec<NodeReading>,
    /// `sys.cluster.master_node` (a node id), `None` when no master is elected.
    pub master_node: Option<String>,
    /// `max(sys.health.severity)`: `None` when `sys.health` has no rows (no user tables).
    pub max_severity: Option<i64>,
    /// The `sys.health` rows that are not GREEN.
    pub unhealthy_tables: Vec<TableHealth>,
    pub in_flight: ShardsInFlight,
}
