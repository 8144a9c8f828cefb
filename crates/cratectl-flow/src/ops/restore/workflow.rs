//! The restore workflows, written once against [`WorkflowCtx`] on the shared harness
//! ([`crate::harness`], ARCHITECTURE §3, §4).
//!
//! * [`restore_request`] — the top-level workflow the user's id names (one cluster).
//! * [`restore_cluster`] — one cluster: Lease → facts and every check (nothing written before
//!   they pass) → a first reading, safe → stable GREEN with allocation `all` → maintenance
//!   window → the temporary repository (recorded first; then the snapshot is checked through
//!   it) → grand-central to 0 and internal `gc.*` tables renamed away (recorded first) → the
//!   recovery tuning through the saga → one `RESTORE SNAPSHOT` → passwords set back at once
//!   (restores that replace users) → the wait, bounded by `--restore-timeout` → stable GREEN →
//!   the renamed originals dropped → the settings the snapshot replaced, reported.
//!
//!   The harness ends it: a rename still open is undone (the partial table dropped first), the
//!   repository dropped, grand-central scaled back, settings restored, the Lease released.
//!
//! Restored tables are never dropped by the workflow (CrateDB's way to cancel a restore is to
//! drop them: that is the user's decision). Deterministic code only.

use std::collections::BTreeMap;

use cratectl_core::op::OperationKind;
use cratectl_core::op::report::ClusterState;
use cratectl_core::readings::TOUCHED_SETTINGS;
use cratectl_core::restore::input::restore_statement;
use cratectl_core::restore::plan::{self, Relation, RestorePlan};
use cratectl_core::restore::report::{
    GcResult, GcTableReport, RepositoryReport, RestoreClusterReport, RestoreReport, SettingChange,
    SnapshotReport, TableReport,
};
use cratectl_core::restore::repository;
use cratectl_core::sql::Literal;
use serde_json::Value;

use super::activities::*;
use super::model::{
    RESTORE_CLUSTER, RepositoryChoice, RestoreClusterInput, RestoreRequest, new_cluster_report,
};
use crate::activities::At;
use crate::activities::common::ReadSettings;
use crate::engine::{WfResult, WorkflowCtx};
use crate::harness::{ClusterOp, Halt, Step};
use crate::request::{Request, run_request};

/// The phase of a cluster while the restore runs.
const PHASE_RESTORE: &str = "restore";
/// The settings the recovery tuning writes.
pub const RECOVERY_MAX_BYTES: &str = "indices.recovery.max_bytes_per_sec";
pub const CONCURRENT_REBALANCE: &str = "cluster.routing.allocation.cluster_concurrent_rebalance";

/// The top-level workflow.
pub async fn restore_request<C: WorkflowCtx>(ctx: &C, request: RestoreRequest) -> WfResult<RestoreReport> {
    let input = |index: usize, child_id: &str, forced: Option<String>| RestoreClusterInput {
        request_id: request.request_id.clone(),
        child_id: child_id.to_string(),
        target: request.target.clone(),
        cluster: request.clusters[index].clone(),
        options: request.options.clone(),
        forced,
    };
    run_request(
        ctx,
        Request {
            kind: OperationKind::Restore,
            request_id: &request.request_id,
            clusters: &request.clusters,
            parallel: 1,
            child_workflow: RESTORE_CLUSTER,
            input: &input,
            pending: &new_cluster_report,
        },
    )
    .await
}

/// One cluster's workflow.
pub async fn restore_cluster<C: WorkflowCtx>(
    ctx: &C,
    input: RestoreClusterInput,
) -> WfResult<RestoreClusterReport> {
    let op = ClusterOp::start(
        ctx,
        At {
            target: input.target.clone(),
            cluster: input.cluster.clone(),
        },
        input.child_id.clone(),
        input.options.common(),
        new_cluster_report(&input.cluster, &input.child_id),
        input.forced.as_deref(),
    )
    .await?;
    let mut run = RestoreRun {
        op,
        input,
        renamed: false,
    };
    let outcome = run.body().await;
    let created = run.op.report.repository.as_ref().is_some_and(|r| r.created);
    let renamed = run.renamed;
    run.op
        .finish_then(outcome, |report, open| {
            if let Some(repo) = report.repository.as_mut() {
                repo.dropped = created && open.repository_created.is_none();
            }
            for g in report
                .gc_tables
                .iter_mut()
                .filter(|g| renamed && g.result == GcResult::Pending)
            {
                if !open.tables_renamed.iter().any(|(t, _)| t.to_string() == g.table) {
                    g.result = GcResult::RenamedBack;
                }
            }
        })
        .await
}

struct RestoreRun<'c, C> {
    op: ClusterOp<'c, C, RestoreClusterReport>,
    input: RestoreClusterInput,
    /// The internal tables were renamed away (so a failure renames them back).
    renamed: bool,
}

impl<C: WorkflowCtx> RestoreRun<'_, C> {
    async fn body(&mut self) -> Step<()> {
        let options = self.input.options.clone();
        let schedule = self.op.schedule()?;
        self.op.step("lease", None);
        self.op.take_lease().await?;

        let repo_name = match &options.repository {
            RepositoryChoice::Existing { name } => name.clone(),
            _ => {
                let started = self.op.report.common.started_at.map_or(0, |t| t.as_second());
                repository::temporary_name(started)
            }
        };
        self.op.step("check", None);
        let facts = self.read_facts(None).await?;
        self.op.report.repository = Some(RepositoryReport {
            name: repo_name.clone(),
            source: options.repository.source(),
            kind: facts.repository_type.clone(),
            created: false,
            dropped: false,
        });
        self.op.report.restore_type = Some(options.scope.restore_type());
        let statement = restore_statement(&repo_name, &options.snapshot, &options.scope);
        self.op.report.keyword = Some(options.scope.keyword());
        self.op.report.statement = Some(statement.clone());
        let request = plan::Request {
            scope: options.scope.clone(),
            allow_partial: options.allow_partial,
            gc_tables: options.gc_tables,
        };
        // Everything that can be checked before a write (with an existing repository, all of it).
        let mut checked = self.check(&request, &facts)?;
        let allocation = facts
            .settings
            .get(cratectl_core::op::saga::ALLOCATION_ENABLE)
            .and_then(Value::as_str)
            .unwrap_or("all");
        if !allocation.eq_ignore_ascii_case("all") {
            return Err(Halt::Failed(format!(
                "cluster.routing.allocation.enable is {allocation:?}: restored replicas could not be allocated; \
                 set it back to \"all\" (cratectl doctor) first"
            )));
        }

        self.op.validate().await?;
        self.op
            .await_stable("gate", "stable GREEN before the restore", None)
            .await?;
        if let Some(schedule) = &schedule {
            // How long a restore takes is not known: it starts in a window open for at least the
            // configuration's `min_window_duration` (what a zero need asks for).
            self.op
                .window_gate(schedule, std::time::Duration::ZERO, "the restore")
                .await?;
        }
        self.op.check_control().await?;
        self.op.report.common.state = ClusterState::Running;
        self.op.phase(PHASE_RESTORE);

        let mut facts = facts;
        if options.repository.is_temporary() {
            self.op.open.repository_created = Some(repo_name.clone());
            self.op.publish();
            self.op.step("create repository", None);
            let ours = self
                .op
                .call::<CreateRepository>(
                    &RepositoryIn {
                        at: self.op.at.clone(),
                        name: repo_name.clone(),
                        choice: options.repository.clone(),
                        max_restore_bytes_per_sec: options.max_restore_bytes_per_sec.clone(),
                    },
                    self.op.retries(),
                )
                .await?;
            if !ours {
                self.op.open.repository_created = None;
                self.op.publish();
                return Err(Halt::Failed(format!(
                    "a repository named {repo_name} exists with another type or location; it is not this \
                     restore's and is left alone"
                )));
            }
            if let Some(r) = self.op.report.repository.as_mut() {
                r.created = true;
            }
            self.op.step("check the snapshot", None);
            facts = self.read_facts(Some(repo_name.clone())).await?;
            checked = self.check(&request, &facts)?;
        }
        let snapshot = facts.facts.snapshot.clone();
        self.op.report.snapshot = Some(SnapshotReport {
            name: options.snapshot.clone(),
            state: snapshot.as_ref().map(|s| s.state.clone()),
            version: snapshot.as_ref().and_then(|s| s.version.clone()),
            tables: snapshot
                .as_ref()
                .map(|s| s.tables.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        });
        self.op.report.tables = checked.relations.iter().map(pending_row).collect();
        self.op.report.common.warnings.extend(checked.warnings.clone());

        self.rename_gc_tables(&checked, &facts).await?;
        if let Some(tuning) = &options.tuning {
            self.op
                .record_settings_of(&[RECOVERY_MAX_BYTES, CONCURRENT_REBALANCE])
                .await?;
            self.op
                .change_settings(&[
                    (
                        RECOVERY_MAX_BYTES.to_string(),
                        Literal::text(tuning.recovery_max_bytes_per_sec.clone()),
                    ),
                    (
                        CONCURRENT_REBALANCE.to_string(),
                        Literal::Number(tuning.concurrent_rebalance.into()),
                    ),
                ])
                .await?;
        }
        self.op.check_control().await?;

        self.op.step("restore", None);
        self.op
            .call::<RecheckConflicts>(
                &ConflictsIn {
                    at: self.op.at.clone(),
                    relations: checked.relations.clone(),
                },
                self.op.retries(),
            )
            .await?;
        let issued = self
            .op
            .call::<IssueRestore>(
                &IssueIn {
                    at: self.op.at.clone(),
                    repository: repo_name.clone(),
                    snapshot: options.snapshot.clone(),
                    statement,
                    relations: checked.relations.clone(),
                },
                self.op.retries(),
            )
            .await?;
        self.op.report.statement_sent = true;
        self.op.publish();
        self.op.ctx.log(if issued {
            "RESTORE SNAPSHOT sent"
        } else {
            "RESTORE SNAPSHOT already issued"
        });
        if options.scope.replaces_users() {
            let mut users = vec!["system".to_string()];
            if facts.gc_admin {
                users.push("gc_admin".into());
            }
            self.op.step("passwords", None);
            let set = self
                .op
                .call::<ResetPasswords>(
                    &PasswordsIn {
                        at: self.op.at.clone(),
                        users,
                    },
                    self.op.retries(),
                )
                .await?;
            for user in &set.missing {
                self.op.report.common.warnings.push(format!(
                    "user {user} does not exist after the restore (the snapshot has no such user): its password \
                     could not be set back; create it (CREATE USER) before anything logs in as {user}"
                ));
            }
            self.op.report.passwords_reset = set.set;
        }

        let at = self.op.at.clone();
        let interval = self.op.common.gate.interval;
        let relations = checked.relations.clone();
        let what = format!("the restore of {repo_name}.{}", options.snapshot);
        // Slice by slice, so the report shows the progress and `stop` is read in between.
        let mut left = options.timeouts.restore;
        let end = loop {
            let (seen, spent) = self
                .op
                .wait_up_to::<AwaitRestore, RestoreEnd>("restore", &what, left, |budget| AwaitIn {
                    at: at.clone(),
                    repository: repo_name.clone(),
                    snapshot: options.snapshot.clone(),
                    relations: relations.clone(),
                    interval,
                    budget,
                })
                .await?;
            left = left.saturating_sub(spent);
            match seen {
                Some(end) if end.finished => break end,
                Some(progress) => {
                    self.op.report.tables = progress.tables;
                    self.op.report.progress_percent = progress.percent;
                    let last = self.op.report.common.last_readings.clone().unwrap_or_default();
                    self.op.report.common.waiting_for = Some(format!("{what} (last: {last})"));
                    self.op.publish();
                }
                None => {}
            }
            if left.is_zero() {
                return Err(self.op.timed_out(&what, options.timeouts.restore));
            }
            self.op.check_control().await?;
        };
        self.op.report.tables = end.tables.clone();
        if !end.succeeded {
            let why: Vec<String> = end
                .tables
                .iter()
                .filter(|t| t.result == cratectl_core::restore::report::TableResult::Failed)
                .map(|t| format!("{}: {}", t.table, t.reason.clone().unwrap_or_default()))
                .collect();
            return Err(Halt::Failed(format!("the restore failed: {}", why.join("; "))));
        }
        self.op.report.progress_percent = Some(100);
        self.op
            .await_stable("after", "stable GREEN after the restore", None)
            .await?;

        if !self.op.open.tables_renamed.is_empty() {
            self.op.step("drop renamed originals", None);
            let originals: Vec<_> = self
                .op
                .open
                .tables_renamed
                .iter()
                .map(|(_, to)| to.clone())
                .collect();
            self.op
                .call::<DropTables>(
                    &DropIn {
                        at: self.op.at.clone(),
                        tables: originals,
                    },
                    self.op.retries(),
                )
                .await?;
            self.op.open.tables_renamed.clear();
            for g in &mut self.op.report.gc_tables {
                g.result = GcResult::Dropped;
            }
            self.op.publish();
        }
        let after = self
            .op
            .call::<ReadSettings>(&self.op.at.clone(), self.op.retries())
            .await?
            .effective;
        self.report_setting_changes(&facts.settings, &after, options.tuning.is_some());
        Ok(())
    }

    async fn read_facts(&mut self, read_through: Option<String>) -> Step<FactsOut> {
        let input = FactsIn {
            at: self.op.at.clone(),
            snapshot: self.input.options.snapshot.clone(),
            repository: self.input.options.repository.clone(),
            read_through,
        };
        self.op.call::<ReadRestoreFacts>(&input, self.op.retries()).await
    }

    /// The checks, as refusals.
    fn check(&self, request: &plan::Request, facts: &FactsOut) -> Step<RestorePlan> {
        let mut refusals = facts.problems.clone();
        match plan::check(request, &facts.facts) {
            Ok(plan) if refusals.is_empty() => return Ok(plan),
            Ok(_) => {}
            Err(more) => refusals.extend(more),
        }
        Err(Halt::Failed(format!("refused: {}", refusals.join("; "))))
    }

    /// grand-central to 0 and each internal table renamed away, each recorded before it happens.
    async fn rename_gc_tables(&mut self, checked: &RestorePlan, facts: &FactsOut) -> Step<()> {
        if checked.gc_renames.is_empty() {
            return Ok(());
        }
        self.op.report.gc_tables = checked
            .gc_renames
            .iter()
            .map(|r| GcTableReport {
                table: r.table.to_string(),
                renamed_to: r.renamed_to.to_string(),
                result: GcResult::Pending,
            })
            .collect();
        if let Some(replicas) = facts.grand_central.filter(|r| *r > 0) {
            let name = cratectl_kube::restore::grand_central_deployment(&self.op.at.cluster.resource);
            if !self.op.open.deployments_scaled.iter().any(|(n, _)| *n == name) {
                self.op.open.deployments_scaled.push((name.clone(), replicas));
                self.op.publish();
            }
            self.op.step("stop grand-central", None);
            self.op
                .call::<ScaleDeployment>(
                    &DeploymentIn {
                        at: self.op.at.clone(),
                        name,
                        replicas: 0,
                    },
                    self.op.retries(),
                )
                .await?;
        }
        let renames: Vec<_> = checked
            .gc_renames
            .iter()
            .map(|r| (r.table.clone(), r.renamed_to.clone()))
            .collect();
        for pair in &renames {
            if !self.op.open.tables_renamed.contains(pair) {
                self.op.open.tables_renamed.push(pair.clone());
            }
        }
        self.op.publish();
        self.op.step("rename internal tables", None);
        self.op
            .call::<RenameGcTables>(
                &RenameIn {
                    at: self.op.at.clone(),
                    renames,
                },
                self.op.retries(),
            )
            .await?;
        self.renamed = true;
        Ok(())
    }

    /// Settings whose effective value changed across the restore (a `RESTORE … ALL` or
    /// `METADATA` replaces the persistent ones), as report entries and warnings; the tuning's own
    /// settings are left out (the saga puts them back).
    fn report_setting_changes(
        &mut self,
        before: &BTreeMap<String, Value>,
        after: &BTreeMap<String, Value>,
        tuned: bool,
    ) {
        for (name, _) in TOUCHED_SETTINGS {
            if tuned && (*name == RECOVERY_MAX_BYTES || *name == CONCURRENT_REBALANCE) {
                continue;
            }
            let b = before.get(*name).cloned().unwrap_or(Value::Null);
            let a = after.get(*name).cloned().unwrap_or(Value::Null);
            if b != a {
                self.op.report.common.warnings.push(format!(
                    "the snapshot changed {name}: {b} before, {a} now (run cratectl doctor to review it)"
                ));
                self.op.report.settings_changed_by_snapshot.push(SettingChange {
                    name: name.to_string(),
                    before: b,
                    after: a,
                });
            }
        }
    }
}

/// A planned relation's report row before the restore.
pub fn pending_row(relation: &Relation) -> TableReport {
    TableReport {
        table: relation.table().to_string(),
        partition_ident: match relation {
            Relation::Table { .. } => None,
            Relation::Partition { spec } => Some(spec.columns_text()),
        },
        ..Default::default()
    }
}
