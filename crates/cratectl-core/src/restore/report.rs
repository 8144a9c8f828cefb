//! The restore's report: each cluster's common part ([`ClusterCommon`]) plus the repository, the
//! snapshot, what was restored, the internal tables renamed away, the passwords set back and the
//! settings the snapshot replaced. What `restore` and `status` print with `-o json`/`yaml`,
//! rendered as text for `-o text`. A contract: fields are added, never renamed or removed.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::input::RestoreType;
use crate::op::report::{ClusterCommon, ClusterOutcome, OperationReport, common_lines};

/// Where the repository came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositorySource {
    /// `--repository`: used, never created or dropped.
    #[default]
    Existing,
    /// `--repository-secret`: a temporary read-only repository.
    Secret,
    /// `--from-resource`: the same, with the Secret references of the resource.
    Resource,
}

/// The repository a restore reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryReport {
    pub name: String,
    pub source: RepositorySource,
    /// `s3`, `azure`, … (`null` when not known yet).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Whether this restore created it.
    pub created: bool,
    /// Whether this restore dropped it again.
    pub dropped: bool,
}

/// The snapshot restored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReport {
    pub name: String,
    pub state: Option<String>,
    pub version: Option<String>,
    pub tables: Vec<String>,
}

/// What happened to one restored table or partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableResult {
    #[default]
    Pending,
    Restored,
    Failed,
}

impl TableResult {
    pub fn as_str(self) -> &'static str {
        match self {
            TableResult::Pending => "pending",
            TableResult::Restored => "restored",
            TableResult::Failed => "failed",
        }
    }
}

/// One restored table or partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableReport {
    /// `schema.table`.
    pub table: String,
    /// The partition (`COL=VALUE,…` as given), `null` for a whole table.
    pub partition_ident: Option<String>,
    pub shards: Option<u64>,
    pub primaries_active: Option<u64>,
    pub result: TableResult,
    /// Why it failed or is stuck (`sys.allocations`).
    pub reason: Option<String>,
}

/// What happened to one internal table renamed away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GcResult {
    #[default]
    Pending,
    /// The restore succeeded: the renamed original was dropped.
    Dropped,
    /// The restore failed or was cancelled: the original is back under its name.
    RenamedBack,
}

/// One internal `gc.*` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcTableReport {
    pub table: String,
    pub renamed_to: String,
    pub result: GcResult,
}

/// A persistent setting the snapshot replaced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingChange {
    pub name: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// One cluster of a restore (a record missing a field reads it as its default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestoreClusterReport {
    #[serde(flatten)]
    pub common: ClusterCommon,
    pub repository: Option<RepositoryReport>,
    pub snapshot: Option<SnapshotReport>,
    pub restore_type: Option<RestoreType>,
    /// The keyword of the statement (`TABLES`, `TABLE "doc"."t1"`, …).
    pub keyword: Option<String>,
    /// The statement sent (it never holds a secret).
    pub statement: Option<String>,
    /// Whether the statement was sent (only then are `tables` the restore's own: `cancel
    /// --drop-restored` drops nothing before).
    pub statement_sent: bool,
    pub tables: Vec<TableReport>,
    /// Of the shards being restored, the lowest recovery percent (`null` before the restore).
    pub progress_percent: Option<u8>,
    /// Users whose password was set back from the cluster's Secrets.
    pub passwords_reset: Vec<String>,
    pub gc_tables: Vec<GcTableReport>,
    pub settings_changed_by_snapshot: Vec<SettingChange>,
}

impl ClusterOutcome for RestoreClusterReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }

    fn step_failed(&self) -> bool {
        self.tables.iter().any(|t| t.result == TableResult::Failed)
    }
}

/// The whole restore.
pub type RestoreReport = OperationReport<RestoreClusterReport>;

impl RestoreReport {
    /// The report for people: a header, then per cluster what was restored.
    pub fn text(&self) -> String {
        let mut out = self.header_text();
        for c in &self.clusters {
            out.push('\n');
            cluster_text(&mut out, c);
        }
        out
    }
}

fn cluster_text(out: &mut String, r: &RestoreClusterReport) {
    let c = &r.common;
    let _ = writeln!(out, "{} (namespace {}): {}", c.name, c.namespace, c.state);
    common_lines(out, c);
    if let (Some(repo), Some(snap)) = (&r.repository, &r.snapshot) {
        let mut line = format!("  snapshot {}.{}", repo.name, snap.name);
        if let Some(v) = &snap.version {
            let _ = write!(line, " (CrateDB {v})");
        }
        if repo.created {
            let _ = write!(
                line,
                ", temporary repository {}",
                if repo.dropped { "dropped" } else { "still present" }
            );
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(k) = &r.keyword {
        let _ = writeln!(out, "  restoring {k}");
    }
    if let Some(p) = r.progress_percent {
        let _ = writeln!(out, "  progress {p}%");
    }
    for t in &r.tables {
        let mut line = format!("  {}", t.table);
        if let Some(p) = &t.partition_ident {
            let _ = write!(line, " partition {p}");
        }
        let _ = write!(line, "  {}", t.result.as_str());
        if let (Some(active), Some(shards)) = (t.primaries_active, t.shards) {
            let _ = write!(line, "  {active}/{shards} primaries active");
        }
        if let Some(reason) = &t.reason {
            let _ = write!(line, "  ({reason})");
        }
        let _ = writeln!(out, "{line}");
    }
    for g in &r.gc_tables {
        let what = match g.result {
            GcResult::Pending => "renamed away, pending",
            GcResult::Dropped => "original dropped after the restore",
            GcResult::RenamedBack => "original renamed back",
        };
        let _ = writeln!(out, "  {} (as {}): {what}", g.table, g.renamed_to);
    }
    if !r.passwords_reset.is_empty() {
        let _ = writeln!(
            out,
            "  passwords set back from the cluster's Secrets: {}",
            r.passwords_reset.join(", ")
        );
    }
    for s in &r.settings_changed_by_snapshot {
        let _ = writeln!(
            out,
            "  setting {} replaced by the snapshot: {} -> {}",
            s.name, s.before, s.after
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::report::ClusterState;

    #[test]
    fn the_json_shape_is_the_contract() {
        let report = RestoreClusterReport {
            common: ClusterCommon {
                name: "prod".into(),
                state: ClusterState::Succeeded,
                ..Default::default()
            },
            restore_type: Some(RestoreType::TablesAll),
            tables: vec![TableReport {
                table: "doc.t1".into(),
                result: TableResult::Restored,
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&report).expect("json");
        for key in [
            "name",
            "state",
            "repository",
            "snapshot",
            "restore_type",
            "keyword",
            "tables",
            "progress_percent",
            "passwords_reset",
            "gc_tables",
            "settings_changed_by_snapshot",
        ] {
            assert!(v.get(key).is_some(), "missing {key}: {v}");
        }
        assert_eq!(v["restore_type"], "tables_all");
        assert_eq!(v["tables"][0]["result"], "restored");
        assert_eq!(v["tables"][0]["partition_ident"], serde_json::Value::Null);
        let mut stopped = report.clone();
        stopped.common.state = ClusterState::Stopped;
        assert!(!stopped.is_failure());
        stopped.tables[0].result = TableResult::Failed;
        assert!(stopped.is_failure());
        let back: RestoreClusterReport = serde_json::from_value(
            serde_json::json!({"name": "x", "namespace": "crate", "state": "pending"}),
        )
        .expect("partial");
        assert_eq!(back.common.name, "x");
    }
}
