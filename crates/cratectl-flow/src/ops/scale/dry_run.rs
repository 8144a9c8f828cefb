//! `cratectl scale --dry-run`: the plan a scale would follow, and what it would decide now,
//! without changing anything (ARCHITECTURE §1.7). The facts come from the workflow's own
//! read-only activity ([`read_facts`]) and the verdict from [`ReadHealth`], called directly,
//! outside any engine: no record, no write.
//!
//! The JSON shape (`scale --dry-run -o json`) is a contract: `{"dry_run": true, "operation":
//! "scale", "workflow_id", "clusters": [{"name", "namespace", "resource", "mode", "health",
//! "window", "groups", "add_nodes", "remove_nodes", "shards_to_move", "replica_check",
//! "gateway", "allocation_enable", "exclusions_now", "refused", "warnings"}]}`.

use std::collections::BTreeMap;

use cratectl_core::op::OperationKind;
use cratectl_core::op::window::decide;
use cratectl_core::scale::gateway::Change;
use cratectl_core::scale::plan::{ClusterFacts, GroupChange, Mode, Plan, ReplicaCheck};
use jiff::Timestamp;
use serde::Serialize;

use super::activities::FactsOut;
use super::model::ScaleRequest;
use crate::activities::At;
use crate::activities::common::{HealthIn, HealthOut, ReadHealth};
use crate::engine::RunActivity;
use crate::env::ActivityEnv;
use crate::ops::restart::dry_run::{HealthNow, WindowNow};

/// The plan of a scale.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DryRun {
    pub dry_run: bool,
    pub operation: OperationKind,
    pub workflow_id: String,
    pub clusters: Vec<ClusterPlan>,
}

/// One cluster's plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterPlan {
    pub name: String,
    pub namespace: String,
    pub resource: String,
    pub mode: Mode,
    pub health: Option<HealthNow>,
    pub window: Option<WindowNow>,
    /// The group changes in the order they run.
    pub groups: Vec<GroupChange>,
    pub add_nodes: Vec<String>,
    pub remove_nodes: Vec<String>,
    pub shards_to_move: u64,
    pub replica_check: ReplicaCheck,
    pub gateway: BTreeMap<String, Change>,
    pub allocation_enable: String,
    pub exclusions_now: Vec<String>,
    /// Why the workflow would fail at its start now; `null` when it would start.
    pub refused: Option<String>,
    pub warnings: Vec<String>,
}

impl DryRun {
    /// Whether the scale would fail at its start (exit 1).
    pub fn refused(&self) -> bool {
        self.clusters.iter().any(|c| c.refused.is_some())
    }

    /// The plan for people.
    pub fn text(&self) -> String {
        let mut out = format!("dry run: {} (nothing was changed)\n", self.workflow_id);
        for c in &self.clusters {
            out.push_str(&format!(
                "\n{} (namespace {}), {} mode\n",
                c.name, c.namespace, c.mode
            ));
            if let Some(h) = &c.health {
                out.push_str(&format!("  health: {}\n", h.summary));
            }
            if let Some(w) = &c.window {
                out.push_str(&format!("  window: {}\n", w.summary));
            }
            for g in &c.groups {
                out.push_str(&format!(
                    "  {} ({}): {} -> {}{}\n",
                    g.group,
                    g.statefulset,
                    g.from,
                    g.to,
                    if g.master_eligible {
                        ", master-eligible"
                    } else {
                        ""
                    }
                ));
            }
            if !c.add_nodes.is_empty() {
                out.push_str(&format!("  add: {}\n", c.add_nodes.join(", ")));
            }
            if !c.remove_nodes.is_empty() {
                out.push_str(&format!(
                    "  remove (one at a time, after draining {} shard copies): {}\n",
                    c.shards_to_move,
                    c.remove_nodes.join(", ")
                ));
            }
            for (name, change) in &c.gateway {
                let from = change.from.map_or_else(|| "unset".into(), |v| v.to_string());
                out.push_str(&format!("  gateway.{name}: {from} -> {}\n", change.to));
            }
            if !c.exclusions_now.is_empty() {
                out.push_str(&format!(
                    "  exclusions now (kept): {}\n",
                    c.exclusions_now.join(", ")
                ));
            }
            if let Some(refused) = &c.refused {
                out.push_str(&format!("  would fail at start: {refused}\n"));
            }
            for w in &c.warnings {
                out.push_str(&format!("  warning: {w}\n"));
            }
        }
        out
    }
}

/// The dry run of `request` (one cluster) from facts already read and the plan made from them.
pub async fn dry_run(
    env: std::sync::Arc<ActivityEnv>,
    request: &ScaleRequest,
    read: &FactsOut,
    plan: &Plan,
    now: Timestamp,
) -> DryRun {
    let mut clusters = Vec::new();
    for cluster in &request.clusters {
        let at = At {
            target: request.target.clone(),
            cluster: cluster.clone(),
        };
        let health: Option<HealthOut> = ReadHealth::run(env.clone(), HealthIn { at, avoid: None })
            .await
            .ok();
        let mut refused: Vec<String> = plan.start_problems.clone();
        match &health {
            Some(h) if !h.safe => refused.insert(0, format!("not safe to start: {}", h.summary)),
            Some(_) => {}
            None => refused.insert(0, "the cluster's health could not be read".to_string()),
        }
        let window = match request.options.common().schedule(&cluster.name) {
            Ok(Some(schedule)) => {
                let decision = decide(&schedule, now, schedule.min_window_duration, "the first step");
                Some(WindowNow {
                    summary: decision.summary(),
                    needed_s: Some(schedule.min_window_duration.as_secs_f64()),
                    decision: Some(decision),
                })
            }
            Ok(None) => None,
            Err(e) => {
                refused.push(e);
                None
            }
        };
        clusters.push(cluster_plan(
            cluster.name.clone(),
            cluster.namespace.clone(),
            cluster.resource.clone(),
            &read.facts,
            plan,
            health.map(|h| HealthNow {
                safe_to_disrupt: h.safe,
                summary: h.summary,
            }),
            window,
            refused,
        ));
    }
    DryRun {
        dry_run: true,
        operation: OperationKind::Scale,
        workflow_id: request.request_id.clone(),
        clusters,
    }
}

#[allow(clippy::too_many_arguments)]
fn cluster_plan(
    name: String,
    namespace: String,
    resource: String,
    facts: &ClusterFacts,
    plan: &Plan,
    health: Option<HealthNow>,
    window: Option<WindowNow>,
    refused: Vec<String>,
) -> ClusterPlan {
    ClusterPlan {
        name,
        namespace,
        resource,
        mode: plan.mode,
        health,
        window,
        groups: plan.groups.clone(),
        add_nodes: plan.add_nodes.clone(),
        remove_nodes: plan.remove_nodes.clone(),
        shards_to_move: plan.shards_to_move,
        replica_check: plan.replica_check.clone(),
        gateway: plan.gateway.clone(),
        allocation_enable: facts.allocation_enable.clone(),
        exclusions_now: facts.exclusions.clone(),
        refused: (!refused.is_empty()).then(|| refused.join("; ")),
        warnings: plan.warnings.clone(),
    }
}
