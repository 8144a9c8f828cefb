//! The inputs and records of the scale's workflows (no credentials, ever: see
//! [`crate::model`]).

use std::time::Duration;

use cratectl_core::scale::plan::{GroupChange, Mode, Request};
use cratectl_core::scale::report::{GroupReport, GroupState, ScaleClusterReport};
use serde::{Deserialize, Serialize};

use crate::model::{ClusterRef, Common, Gate, MaintenanceSpec, TargetSpec, new_cluster_common};

/// The registered workflow names (a changed workflow gets a new name: ARCHITECTURE §3). v2:
/// another actor on the cluster is looked for before each node joins or leaves.
pub const SCALE_REQUEST: &str = "scale_request.v2";
pub const SCALE_CLUSTER: &str = "scale_cluster.v2";
/// Names of earlier versions: their records are still read (`status`, `list`), never run.
pub const SCALE_REQUEST_V1: &str = "scale_request.v1";

/// Per-step limits; each is reported by name when hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Waiting for stable GREEN (before each removal, after each addition, at the end).
    pub health: Duration,
    /// The whole drain of a group's leaving nodes.
    pub drain: Duration,
    /// A drain in which no shard copy left a leaving node for this long fails, with CrateDB's
    /// explanation.
    pub drain_stall: Duration,
    /// A new node joins / a removed node's pod is gone and the node left.
    pub node: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            health: Duration::from_secs(15 * 60),
            drain: Duration::from_secs(6 * 3600),
            drain_stall: Duration::from_secs(30 * 60),
            node: Duration::from_secs(15 * 60),
        }
    }
}

/// How to scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleOptions {
    /// The `GROUP=N` pairs, mode and gateway choice (what the plan is made from).
    pub request: Request,
    /// Acknowledge node check 1 on the nodes that still run the old command line.
    pub ack_node_checks: bool,
    pub maintenance: Option<MaintenanceSpec>,
    pub ignore_maintenance_windows: bool,
    pub gate: Gate,
    pub timeouts: Timeouts,
    pub lease_duration: Duration,
    /// The resource's `metadata.generation` when the CLI planned: a different one at the
    /// workflow's start means someone changed the resource since (fail, re-plan).
    pub planned_generation: Option<i64>,
    /// The group changes the CLI planned (`group`, `from`, `to`); the workflow re-plans and
    /// fails if its plan differs.
    pub planned: Vec<(String, u64, u64)>,
}

impl Default for ScaleOptions {
    fn default() -> ScaleOptions {
        ScaleOptions {
            request: Request {
                gateway_patch: true,
                ..Request::default()
            },
            ack_node_checks: false,
            maintenance: None,
            ignore_maintenance_windows: false,
            gate: Gate::default(),
            timeouts: Timeouts::default(),
            lease_duration: Duration::from_secs(10 * 60),
            planned_generation: None,
            planned: Vec::new(),
        }
    }
}

impl ScaleOptions {
    /// What the shared harness needs of these options.
    pub fn common(&self) -> Common {
        Common {
            gate: self.gate.clone(),
            health_timeout: self.timeouts.health,
            lease_duration: self.lease_duration,
            maintenance: self.maintenance.clone(),
            ignore_maintenance_windows: self.ignore_maintenance_windows,
        }
    }
}

/// The input of the top-level workflow (one cluster: `scale CLUSTER GROUP=N …`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleRequest {
    pub request_id: String,
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
    pub options: ScaleOptions,
}

/// The input of one cluster's child workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleClusterInput {
    pub request_id: String,
    pub child_id: String,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
    pub options: ScaleOptions,
    #[serde(default)]
    pub forced: Option<String>,
}

/// A cluster's report before anything ran.
pub fn new_cluster_report(cluster: &ClusterRef, child_id: &str) -> ScaleClusterReport {
    ScaleClusterReport {
        common: new_cluster_common(cluster, child_id),
        ..Default::default()
    }
}

/// A planned group's report entry.
pub fn group_report(change: &GroupChange) -> GroupReport {
    GroupReport {
        group: change.group.clone(),
        statefulset: change.statefulset.clone(),
        from: change.from,
        to: change.to,
        state: GroupState::Pending,
    }
}

/// The mode a plan resolved to, for the report.
pub fn mode_of(mode: Mode) -> Option<Mode> {
    (mode != Mode::Auto).then_some(mode)
}
