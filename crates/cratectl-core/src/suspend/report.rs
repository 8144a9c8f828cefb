//! The reports of `suspend` and `resume`: each cluster's common part ([`ClusterCommon`]) plus
//! the counts, the hold, the client Service and the record; a resume adds every expected node
//! with whether it joined. What `suspend`, `resume` and `status` print with `-o json`/`yaml`,
//! rendered as text for `-o text`. A contract: fields are added, never renamed or removed.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::record::{ANNOTATION, Counts};
use crate::op::report::{ClusterCommon, ClusterOutcome, OperationReport, common_lines};
use crate::scale::plan::Mode;

/// The setting held while the cluster is down.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub name: String,
    pub value: String,
}

/// What happened to the client Service `crate-<resource>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientService {
    /// Left as it was (the default: no load balancer churn, a stable address).
    #[default]
    Kept,
    /// Deleted by the suspend (`--delete-client-service`), saved in the record.
    Deleted,
    /// Recreated by the resume from the record.
    Recreated,
}

/// Whether an expected node is back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeResult {
    #[default]
    Missing,
    Joined,
}

/// A node a resume expects back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeNode {
    pub name: String,
    pub result: NodeResult,
}

/// One cluster of a suspend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SuspendClusterReport {
    #[serde(flatten)]
    pub common: ClusterCommon,
    /// `direct` or `operator` (`null` before the plan).
    pub mode: Option<Mode>,
    /// The counts recorded (what `resume` brings back).
    pub replicas_before: Option<Counts>,
    /// The setting held through the suspended period (`null`: none, `--no-hold` or operator
    /// mode, where the operator holds it).
    pub hold: Option<Hold>,
    pub client_service: ClientService,
    /// The annotation holding the record (`null` until written).
    pub record: Option<String>,
    /// Backup CronJobs suspended and Deployments scaled to 0 (resumed by `resume`).
    pub cronjobs_suspended: Vec<String>,
    pub deployments_stopped: Vec<String>,
    /// Whether the StatefulSets were changed: from then on the suspend is not rolled back.
    pub committed: bool,
}

impl ClusterOutcome for SuspendClusterReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }
}

/// One cluster of a resume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResumeClusterReport {
    #[serde(flatten)]
    pub common: ClusterCommon,
    pub mode: Option<Mode>,
    /// The counts brought back.
    pub replicas: Option<Counts>,
    /// The setting the suspend held and this resume put back.
    pub hold: Option<Hold>,
    pub client_service: ClientService,
    /// The record read (`null`: resumed from `--replicas`).
    pub record: Option<String>,
    /// Every node expected back.
    pub nodes: Vec<ResumeNode>,
    pub cronjobs_resumed: Vec<String>,
    pub deployments_started: Vec<String>,
}

impl ClusterOutcome for ResumeClusterReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }
}

/// The whole suspend.
pub type SuspendReport = OperationReport<SuspendClusterReport>;
/// The whole resume.
pub type ResumeReport = OperationReport<ResumeClusterReport>;

impl SuspendReport {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = self.header_text();
        for c in &self.clusters {
            out.push('\n');
            head(&mut out, &c.common, c.mode);
            common_lines(&mut out, &c.common);
            if let Some(counts) = &c.replicas_before {
                let _ = writeln!(out, "  counts recorded: {}", counts.text());
            }
            hold_line(&mut out, c.hold.as_ref(), "held");
            if c.client_service == ClientService::Deleted {
                out.push_str("  client Service deleted (saved in the record)\n");
            }
            aux_line(&mut out, "backup CronJobs suspended", &c.cronjobs_suspended);
            aux_line(&mut out, "Deployments scaled to 0", &c.deployments_stopped);
            if let Some(record) = &c.record {
                let _ = writeln!(
                    out,
                    "  record: annotation {record} on the resource (cratectl resume {} reads it)",
                    c.common.name
                );
            }
        }
        out
    }
}

impl ResumeReport {
    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = self.header_text();
        for c in &self.clusters {
            out.push('\n');
            head(&mut out, &c.common, c.mode);
            common_lines(&mut out, &c.common);
            if let Some(counts) = &c.replicas {
                let _ = writeln!(out, "  counts: {}", counts.text());
            }
            if !c.nodes.is_empty() {
                let joined = c.nodes.iter().filter(|n| n.result == NodeResult::Joined).count();
                let _ = writeln!(out, "  nodes back: {joined} of {}", c.nodes.len());
                let missing: Vec<&str> = c
                    .nodes
                    .iter()
                    .filter(|n| n.result == NodeResult::Missing)
                    .map(|n| n.name.as_str())
                    .collect();
                if !missing.is_empty() && c.common.state.is_terminal() {
                    let _ = writeln!(out, "  missing: {}", missing.join(", "));
                }
            }
            hold_line(&mut out, c.hold.as_ref(), "put back from");
            if c.client_service == ClientService::Recreated {
                out.push_str("  client Service recreated from the record\n");
            }
            aux_line(&mut out, "backup CronJobs resumed", &c.cronjobs_resumed);
            aux_line(&mut out, "Deployments started", &c.deployments_started);
            if c.record.is_some() && c.common.state.is_terminal() && c.common.reason.is_some() {
                let _ = writeln!(
                    out,
                    "  the record {ANNOTATION} stays until a resume ends GREEN: run cratectl resume {} again",
                    c.common.name
                );
            }
        }
        out
    }
}

fn head(out: &mut String, c: &ClusterCommon, mode: Option<Mode>) {
    let _ = write!(out, "{} (namespace {}): {}", c.name, c.namespace, c.state);
    if let Some(mode) = mode {
        let _ = write!(out, ", {mode} mode");
    }
    out.push('\n');
}

fn hold_line(out: &mut String, hold: Option<&Hold>, verb: &str) {
    if let Some(h) = hold {
        let _ = writeln!(out, "  {} {verb} '{}'", h.name, h.value);
    }
}

fn aux_line(out: &mut String, what: &str, names: &[String]) {
    if !names.is_empty() {
        let _ = writeln!(out, "  {what}: {}", names.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_contract_has_the_documented_fields() {
        let report = SuspendClusterReport {
            replicas_before: Some(Counts {
                master: Some(3),
                data: [("hot".to_string(), 3)].into(),
            }),
            hold: Some(Hold {
                name: "cluster.routing.allocation.enable".into(),
                value: "primaries".into(),
            }),
            record: Some(ANNOTATION.into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(
            v["replicas_before"],
            serde_json::json!({"master": 3, "data": {"hot": 3}})
        );
        assert_eq!(v["hold"]["value"], "primaries");
        assert_eq!(v["client_service"], "kept");
        assert_eq!(v["record"], "cratectl.io/suspended");
        let resume = ResumeClusterReport {
            nodes: vec![ResumeNode {
                name: "data-hot-0".into(),
                result: NodeResult::Joined,
            }],
            client_service: ClientService::Recreated,
            ..Default::default()
        };
        let v = serde_json::to_value(&resume).unwrap();
        assert_eq!(
            v["nodes"][0],
            serde_json::json!({"name": "data-hot-0", "result": "joined"})
        );
        assert_eq!(v["client_service"], "recreated");
        assert!(v.get("replicas").is_some());
    }
}
