//! `cratectl restore --dry-run`: what a restore would do, and whether it would start now,
//! without changing anything (ARCHITECTURE §1.7): no repository is created, so with a Secret the
//! snapshot's contents cannot be checked, and the dry run says so. The facts come from the
//! workflow's own read-only activity and the verdict from [`ReadHealth`], called directly,
//! outside any engine: no record, no write.
//!
//! The JSON shape (`restore --dry-run -o json`) is a contract: `{"dry_run": true, "operation":
//! "restore", "workflow_id", "clusters": [{"name", "namespace", "resource", "health",
//! "repository": {"name", "source", "type", "created"}, "snapshot": {"name", "state",
//! "version", "tables"} | null, "restore_type", "keyword", "statement", "tables", "conflicts",
//! "gc_tables", "passwords_reset", "refused", "warnings"}]}`. `statement` is the exact
//! `RESTORE SNAPSHOT` text (with a temporary repository its name holds the placeholder
//! `cratectl_restore_<start>`: the start is not known yet); it never contains a secret.

use cratectl_core::op::OperationKind;
use cratectl_core::restore::input::{RestoreType, restore_statement};
use cratectl_core::restore::plan::{self, GcRename};
use cratectl_core::restore::report::{RepositoryReport, SnapshotReport};
use cratectl_core::restore::repository;
use serde::Serialize;

use super::activities::FactsOut;
use super::model::{RepositoryChoice, RestoreRequest};
use crate::activities::At;
use crate::activities::common::{HealthIn, HealthOut, ReadHealth};
use crate::engine::RunActivity;
use crate::env::ActivityEnv;
use crate::ops::restart::dry_run::HealthNow;

/// The plan of a restore.
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
    pub health: Option<HealthNow>,
    pub repository: RepositoryReport,
    pub snapshot: Option<SnapshotReport>,
    pub restore_type: RestoreType,
    pub keyword: String,
    pub statement: String,
    /// `schema.table` (and `COL=VALUE,…` for partitions) of what would be restored.
    pub tables: Vec<String>,
    /// Of those, the ones that exist already.
    pub conflicts: Vec<String>,
    pub gc_tables: Vec<GcRename>,
    /// Users whose password would be set back right after the statement.
    pub passwords_reset: Vec<String>,
    pub refused: Option<String>,
    pub warnings: Vec<String>,
}

impl DryRun {
    /// Whether the restore would fail at its start (exit 1).
    pub fn refused(&self) -> bool {
        self.clusters.iter().any(|c| c.refused.is_some())
    }

    /// The plan for people.
    pub fn text(&self) -> String {
        let mut out = format!("dry run: {} (nothing was changed)\n", self.workflow_id);
        for c in &self.clusters {
            out.push_str(&format!("\n{} (namespace {})\n", c.name, c.namespace));
            if let Some(h) = &c.health {
                out.push_str(&format!("  health: {}\n", h.summary));
            }
            let how = if c.repository.created || c.repository.source != Default::default() {
                "temporary, from a Secret; created and dropped by the restore"
            } else {
                "existing; never created or dropped"
            };
            out.push_str(&format!("  repository: {} ({how})\n", c.repository.name));
            match &c.snapshot {
                Some(s) => out.push_str(&format!(
                    "  snapshot: {} ({}, CrateDB {}), {} table(s)\n",
                    s.name,
                    s.state.as_deref().unwrap_or("?"),
                    s.version.as_deref().unwrap_or("?"),
                    s.tables.len()
                )),
                None => out
                    .push_str("  snapshot: contents not checked: the repository would have to be created\n"),
            }
            out.push_str(&format!("  statement: {}\n", c.statement));
            if !c.tables.is_empty() {
                out.push_str(&format!("  restores: {}\n", c.tables.join(", ")));
            }
            for g in &c.gc_tables {
                out.push_str(&format!(
                    "  internal table {} renamed to {} first (dropped after success, renamed back otherwise)\n",
                    g.table, g.renamed_to
                ));
            }
            if !c.passwords_reset.is_empty() {
                out.push_str(&format!(
                    "  passwords set back from the cluster's Secrets right after: {}\n",
                    c.passwords_reset.join(", ")
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

/// The dry run of `request` (one cluster) from facts already read.
pub async fn dry_run(env: std::sync::Arc<ActivityEnv>, request: &RestoreRequest, read: &FactsOut) -> DryRun {
    let options = &request.options;
    let mut clusters = Vec::new();
    for cluster in &request.clusters {
        let at = At {
            target: request.target.clone(),
            cluster: cluster.clone(),
        };
        let health: Option<HealthOut> = ReadHealth::run(env.clone(), HealthIn { at, avoid: None })
            .await
            .ok();
        let repo_name = match &options.repository {
            RepositoryChoice::Existing { name } => name.clone(),
            _ => format!("{}<start>", repository::TEMPORARY_PREFIX),
        };
        let plan_request = plan::Request {
            scope: options.scope.clone(),
            allow_partial: options.allow_partial,
            gc_tables: options.gc_tables,
        };
        let mut refused: Vec<String> = read.problems.clone();
        let mut warnings = Vec::new();
        let mut gc_tables = Vec::new();
        match plan::check(&plan_request, &read.facts) {
            Ok(p) => {
                warnings = p.warnings;
                gc_tables = p.gc_renames;
            }
            Err(more) => refused.extend(more),
        }
        match &health {
            Some(h) if !h.safe => refused.insert(0, format!("not safe to start: {}", h.summary)),
            Some(_) => {}
            None => refused.insert(0, "the cluster's health could not be read".to_string()),
        }
        let relations = plan::relations_of(&plan_request, &read.facts);
        let mut passwords = Vec::new();
        if options.scope.replaces_users() {
            passwords.push("system".to_string());
            if read.gc_admin {
                passwords.push("gc_admin".into());
            }
        }
        clusters.push(ClusterPlan {
            name: cluster.name.clone(),
            namespace: cluster.namespace.clone(),
            resource: cluster.resource.clone(),
            health: health.map(|h| HealthNow {
                safe_to_disrupt: h.safe,
                summary: h.summary,
            }),
            repository: RepositoryReport {
                name: repo_name.clone(),
                source: options.repository.source(),
                kind: read.repository_type.clone(),
                created: false,
                dropped: false,
            },
            snapshot: read.facts.snapshot.as_ref().map(|s| SnapshotReport {
                name: s.name.clone(),
                state: Some(s.state.clone()),
                version: s.version.clone(),
                tables: s.tables.iter().map(ToString::to_string).collect(),
            }),
            restore_type: options.scope.restore_type(),
            keyword: options.scope.keyword(),
            statement: restore_statement(&repo_name, &options.snapshot, &options.scope),
            tables: relations
                .iter()
                .map(|r| match r {
                    plan::Relation::Table { table } => table.to_string(),
                    plan::Relation::Partition { spec } => spec.to_string(),
                })
                .collect(),
            conflicts: plan::existing_relations(options.gc_tables, &read.facts, &relations),
            gc_tables,
            passwords_reset: passwords,
            refused: (!refused.is_empty()).then(|| refused.join("; ")),
            warnings,
        });
    }
    DryRun {
        dry_run: true,
        operation: OperationKind::Restore,
        workflow_id: request.request_id.clone(),
        clusters,
    }
}
