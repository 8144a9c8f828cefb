//! The scale's report: each cluster's common part ([`ClusterCommon`]) plus its groups, nodes,
//! exclusions and gateway settings — what `scale` and `status` print with `-o json`/`yaml`,
//! rendered as text for `-o text`. A contract like the restart's: fields are added, never
//! renamed or removed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::gateway::Change;
use super::plan::{Mode, ReplicaCheck};
use crate::op::report::{ClusterCommon, ClusterOutcome, OperationReport, common_lines};

/// What a node does in the scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeAction {
    Add,
    Remove,
}

/// What happened to a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeResult {
    #[default]
    Pending,
    Added,
    Removed,
    Failed,
    Skipped,
}

impl NodeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeResult::Pending => "pending",
            NodeResult::Added => "added",
            NodeResult::Removed => "removed",
            NodeResult::Failed => "failed",
            NodeResult::Skipped => "skipped",
        }
    }
}

/// One node that joins or leaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub group: String,
    pub action: NodeAction,
    pub result: NodeResult,
    /// Shard copies it held when the scale started (leaving nodes).
    pub shards_at_start: Option<u64>,
    pub reason: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_s: Option<f64>,
}

/// State of one group's change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    #[default]
    Pending,
    Running,
    Done,
    Failed,
}

impl GroupState {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Pending => "pending",
            GroupState::Running => "running",
            GroupState::Done => "done",
            GroupState::Failed => "failed",
        }
    }
}

/// One group's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    pub group: String,
    pub statefulset: String,
    pub from: u64,
    pub to: u64,
    pub state: GroupState,
}

/// One cluster of a scale (a record missing a field reads it as its default: a cluster whose
/// workflow has not started has only the common part).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleClusterReport {
    #[serde(flatten)]
    pub common: ClusterCommon,
    /// `direct` or `operator` (`null` before the plan).
    pub mode: Option<Mode>,
    pub groups: Vec<GroupReport>,
    pub nodes: Vec<NodeReport>,
    /// Exclusion names this scale added (`cluster.routing.allocation.exclude._name`).
    pub exclusions_added: Vec<String>,
    /// Of those, the ones still excluded (`[]` once cleaned up).
    pub exclusions_left: Vec<String>,
    /// The gateway settings' change (keys without `gateway.`).
    pub gateway: BTreeMap<String, Change>,
    pub replica_check: Option<ReplicaCheck>,
    /// Nodes whose node check 1 fails because they still run the old command line.
    pub node_checks_failing: Vec<String>,
}

impl ClusterOutcome for ScaleClusterReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }

    fn step_failed(&self) -> bool {
        self.nodes.iter().any(|n| n.result == NodeResult::Failed)
    }
}

/// The whole scale.
pub type ScaleReport = OperationReport<ScaleClusterReport>;

impl ScaleReport {
    /// The report for people: a header, then per cluster its state, groups and nodes.
    pub fn text(&self) -> String {
        let mut out = self.header_text();
        for c in &self.clusters {
            out.push('\n');
            cluster_text(&mut out, c);
        }
        out
    }
}

fn cluster_text(out: &mut String, report: &ScaleClusterReport) {
    let c = &report.common;
    let _ = write!(out, "{} (namespace {}): {}", c.name, c.namespace, c.state);
    if let Some(mode) = report.mode {
        let _ = write!(out, ", {mode} mode");
    }
    out.push('\n');
    common_lines(out, c);
    for g in &report.groups {
        let _ = writeln!(
            out,
            "  group {}: {} -> {} ({})",
            g.group,
            g.from,
            g.to,
            g.state.as_str()
        );
    }
    let width = report
        .nodes
        .iter()
        .map(|n| n.name.chars().count())
        .max()
        .unwrap_or(0);
    for n in &report.nodes {
        let action = match n.action {
            NodeAction::Add => "add",
            NodeAction::Remove => "remove",
        };
        let mut line = format!("  {:<width$}  {action:<6}  {:<8}", n.name, n.result.as_str());
        if let Some(shards) = n.shards_at_start {
            let _ = write!(line, "  {shards} shard copies at start");
        }
        if let Some(seconds) = n.duration_s {
            let _ = write!(line, "  {seconds:.1}s");
        }
        if let Some(reason) = &n.reason {
            let _ = write!(line, "  ({reason})");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if !report.exclusions_left.is_empty() {
        let _ = writeln!(
            out,
            "  exclusions still in place: {} (run cratectl doctor)",
            report.exclusions_left.join(", ")
        );
    }
    for (name, change) in &report.gateway {
        let from = change.from.map_or_else(|| "unset".to_string(), |v| v.to_string());
        let _ = writeln!(out, "  gateway.{name}: {from} -> {}", change.to);
    }
    if !report.node_checks_failing.is_empty() {
        let _ = writeln!(
            out,
            "  node check 1 fails on {} until they restart with the new gateway settings",
            report.node_checks_failing.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::report::ClusterState;

    #[test]
    fn the_json_shape_is_the_contract() {
        let report = ScaleClusterReport {
            common: ClusterCommon {
                name: "prod".into(),
                state: ClusterState::Succeeded,
                ..Default::default()
            },
            mode: Some(Mode::Direct),
            nodes: vec![NodeReport {
                name: "data-hot-2".into(),
                group: "hot".into(),
                action: NodeAction::Remove,
                result: NodeResult::Removed,
                shards_at_start: Some(7),
                reason: None,
                started_at: None,
                finished_at: None,
                duration_s: Some(12.0),
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&report).unwrap();
        for key in [
            "name",
            "state",
            "mode",
            "groups",
            "nodes",
            "exclusions_added",
            "exclusions_left",
            "gateway",
            "replica_check",
            "node_checks_failing",
            "waiting_for",
            "reason",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {v}");
        }
        assert_eq!(v["mode"], "direct");
        assert_eq!(v["nodes"][0]["action"], "remove");
        assert_eq!(v["nodes"][0]["result"], "removed");
        let mut stopped = report.clone();
        stopped.common.state = ClusterState::Stopped;
        assert!(!stopped.is_failure());
        stopped.nodes[0].result = NodeResult::Failed;
        assert!(stopped.is_failure());
    }
}
