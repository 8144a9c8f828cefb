//! The reads a restore makes: one snapshot, the cluster's tables and partitions (for conflicts
//! and the partition columns), restores in progress, a repository's type and location, the
//! users, and the restore's progress and result from `sys.shards`.
//!
//! As in [`crate::reads`]: columns named, aggregates aliased, sent as idempotent reads.
//! Repository settings are read only by [`Client::repository`], for the location parameters
//! `sys.repositories` shows unmasked (CrateDB masks the secret ones as `[xxxxx]`).

use std::collections::BTreeMap;

use cratectl_core::restore::input::TableName;
use cratectl_core::restore::plan::{ExistingTable, SnapshotFacts};
use serde_json::Value;

use crate::client::Client;
use crate::error::Error;
use crate::reads::{cell, decision_reasons, expect_columns};

/// The statements, for documentation and tests.
pub mod statements {
    pub const SNAPSHOT: &str = "SELECT name, state, version, tables, table_partitions FROM sys.snapshots \
        WHERE repository = ? AND name = ?";
    /// Base tables of every user schema, with their partition columns.
    pub const BASE_TABLES: &str = "SELECT table_schema, table_name, partitioned_by FROM information_schema.tables \
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('sys', 'information_schema', 'pg_catalog', 'blob') \
        ORDER BY 1, 2";
    pub const PARTITIONS: &str = "SELECT table_schema, table_name, partition_ident, \"values\" \
        FROM information_schema.table_partitions ORDER BY 1, 2, 3";
    pub const RESTORES: &str = "SELECT repository, name, state FROM sys.snapshot_restore ORDER BY 1, 2";
    pub const REPOSITORY: &str = "SELECT type, settings FROM sys.repositories WHERE name = ?";
    pub const USERS: &str = "SELECT name FROM sys.users ORDER BY name";
    /// The lowest recovery percent of shards being restored (NULL when none is).
    pub const RESTORE_PERCENT: &str = "SELECT min(recovery['size']['percent']) AS percent FROM sys.shards \
        WHERE state = 'RECOVERING' AND recovery['type'] = 'SNAPSHOT'";
    /// Primaries per index and routing state.
    pub const PRIMARIES: &str = "SELECT schema_name, table_name, partition_ident, routing_state, count(*) AS shards \
        FROM sys.shards WHERE \"primary\" = true \
        GROUP BY schema_name, table_name, partition_ident, routing_state";
    /// Primaries whose last recovery was from a snapshot (a restore's, once it started).
    pub const SNAPSHOT_PRIMARIES: &str = "SELECT schema_name, table_name, partition_ident FROM sys.shards \
        WHERE \"primary\" = true AND recovery['type'] = 'SNAPSHOT'";
    /// Why primaries are unassigned (CrateDB's allocation deciders).
    /// (`current_state` is compared in code: its case is CrateDB's `ShardRoutingState` name.)
    pub const UNASSIGNED_PRIMARIES: &str = "SELECT table_schema, table_name, partition_ident, shard_id, explanation, \
        decisions, current_state FROM sys.allocations WHERE \"primary\" = true ORDER BY 1, 2, 3, 4";
}

/// One unassigned primary and CrateDB's explanation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnassignedPrimary {
    pub table: TableName,
    pub partition_ident: Option<String>,
    pub shard_id: i64,
    pub explanation: String,
}

/// The cluster's tables with their partitions; also each partition's ident by its values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TablesReading {
    pub tables: Vec<ExistingTable>,
    /// `(table, values in PARTITION BY order)` → `partition_ident`.
    pub idents: Vec<(TableName, Vec<Option<String>>, String)>,
}

/// A value as CrateDB lists partition values in text form.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn texts(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

/// Primaries of one index (a table or one partition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexPrimaries {
    pub table: TableName,
    pub partition_ident: Option<String>,
    pub total: u64,
    /// STARTED or RELOCATING.
    pub active: u64,
    pub unassigned: u64,
}

impl Client {
    /// Snapshot `repository.name`, `None` when it is not there.
    pub async fn snapshot(&self, repository: &str, name: &str) -> Result<Option<SnapshotFacts>, Error> {
        let via = self.via();
        let result = self
            .sql_idempotent(
                statements::SNAPSHOT,
                &[Value::from(repository), Value::from(name)],
            )
            .await?;
        expect_columns(&via, statements::SNAPSHOT, &result, 5)?;
        let Some(row) = result.rows.first() else {
            return Ok(None);
        };
        let partitions = row
            .get(4)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let schema = p.get("table_schema")?.as_str()?;
                let table = p.get("table_name")?.as_str()?;
                let values = p
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| vs.iter().map(value_text).collect())
                    .unwrap_or_default();
                Some((TableName::new(schema, table), values))
            })
            .collect();
        Ok(Some(SnapshotFacts {
            repository: repository.to_string(),
            name: cell(&via, "sys.snapshots.name", row, 0).required_text()?,
            state: cell(&via, "sys.snapshots.state", row, 1)
                .text()?
                .unwrap_or_default(),
            version: cell(&via, "sys.snapshots.version", row, 2).text()?,
            tables: texts(row.get(3))
                .iter()
                .map(|t| TableName::from_snapshot_entry(t))
                .collect(),
            partitions,
        }))
    }

    /// The cluster's base tables, their partition columns and partitions.
    pub async fn tables_and_partitions(&self) -> Result<TablesReading, Error> {
        let via = self.via();
        let tables = self.sql_idempotent(statements::BASE_TABLES, &[]).await?;
        expect_columns(&via, statements::BASE_TABLES, &tables, 3)?;
        let partitions = self.sql_idempotent(statements::PARTITIONS, &[]).await?;
        expect_columns(&via, statements::PARTITIONS, &partitions, 4)?;
        let mut out = TablesReading::default();
        for row in &tables.rows {
            out.tables.push(ExistingTable {
                table: TableName::new(
                    cell(&via, "table_schema", row, 0).required_text()?,
                    cell(&via, "table_name", row, 1).required_text()?,
                ),
                partitioned_by: texts(row.get(2)),
                partitions: Vec::new(),
            });
        }
        for row in &partitions.rows {
            let table = TableName::new(
                cell(&via, "table_schema", row, 0).required_text()?,
                cell(&via, "table_name", row, 1).required_text()?,
            );
            let ident = cell(&via, "partition_ident", row, 2).required_text()?;
            let Some(existing) = out.tables.iter_mut().find(|t| t.table == table) else {
                continue;
            };
            let values: Vec<Option<String>> = existing
                .partitioned_by
                .iter()
                .map(|c| row.get(3).and_then(|v| v.get(c)).and_then(value_text))
                .collect();
            existing.partitions.push(values.clone());
            out.idents.push((table, values, ident));
        }
        Ok(out)
    }

    /// `repository.snapshot` of every restore in progress.
    pub async fn restores_running(&self) -> Result<Vec<(String, String, String)>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::RESTORES, &[]).await?;
        expect_columns(&via, statements::RESTORES, &result, 3)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok((
                    cell(&via, "repository", row, 0).text()?.unwrap_or_default(),
                    cell(&via, "name", row, 1).text()?.unwrap_or_default(),
                    cell(&via, "state", row, 2).text()?.unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// Repository `name`'s type and settings as `sys.repositories` shows them (secret ones
    /// masked), `None` when it does not exist.
    pub async fn repository(&self, name: &str) -> Result<Option<(String, Value)>, Error> {
        let via = self.via();
        let result = self
            .sql_idempotent(statements::REPOSITORY, &[Value::from(name)])
            .await?;
        expect_columns(&via, statements::REPOSITORY, &result, 2)?;
        Ok(match result.rows.first() {
            None => None,
            Some(row) => Some((
                cell(&via, "sys.repositories.type", row, 0)
                    .text()?
                    .unwrap_or_default(),
                row.get(1).cloned().unwrap_or(Value::Null),
            )),
        })
    }

    /// The names of the cluster's users.
    pub async fn users(&self) -> Result<Vec<String>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::USERS, &[]).await?;
        expect_columns(&via, statements::USERS, &result, 1)?;
        result
            .rows
            .iter()
            .map(|row| cell(&via, "sys.users.name", row, 0).required_text())
            .collect()
    }

    /// The lowest recovery percent of the shards being restored, floored; `None` when no shard
    /// is being restored.
    pub async fn restore_percent(&self) -> Result<Option<u8>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::RESTORE_PERCENT, &[]).await?;
        expect_columns(&via, statements::RESTORE_PERCENT, &result, 1)?;
        Ok(result
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_f64)
            .map(|p| p.clamp(0.0, 100.0).floor() as u8))
    }

    /// The indices (table, partition ident) with a primary recovered, or recovering, from a
    /// snapshot.
    pub async fn snapshot_primaries(&self) -> Result<Vec<(TableName, Option<String>)>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::SNAPSHOT_PRIMARIES, &[]).await?;
        expect_columns(&via, statements::SNAPSHOT_PRIMARIES, &result, 3)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok((
                    TableName::new(
                        cell(&via, "schema_name", row, 0).required_text()?,
                        cell(&via, "table_name", row, 1).required_text()?,
                    ),
                    cell(&via, "partition_ident", row, 2)
                        .text()?
                        .filter(|p| !p.is_empty()),
                ))
            })
            .collect()
    }

    /// Every unassigned primary with CrateDB's explanation.
    pub async fn unassigned_primaries(&self) -> Result<Vec<UnassignedPrimary>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::UNASSIGNED_PRIMARIES, &[]).await?;
        expect_columns(&via, statements::UNASSIGNED_PRIMARIES, &result, 7)?;
        result
            .rows
            .iter()
            .filter(|row| {
                row.get(6)
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("unassigned"))
            })
            .map(|row| {
                // The deciders' distinct reasons say why (a failed restore, a filter).
                let reasons = decision_reasons(row.get(5));
                let explanation = cell(&via, "explanation", row, 4).text()?.unwrap_or_default();
                Ok(UnassignedPrimary {
                    table: TableName::new(
                        cell(&via, "table_schema", row, 0).required_text()?,
                        cell(&via, "table_name", row, 1).required_text()?,
                    ),
                    partition_ident: cell(&via, "partition_ident", row, 2)
                        .text()?
                        .filter(|p| !p.is_empty()),
                    shard_id: cell(&via, "shard_id", row, 3).required_int()?,
                    explanation: if reasons.is_empty() {
                        explanation
                    } else {
                        format!("{explanation} [{}]", reasons.join("; "))
                    },
                })
            })
            .collect()
    }

    /// Primaries per index: how many, how many active, how many unassigned.
    pub async fn primaries(&self) -> Result<Vec<IndexPrimaries>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::PRIMARIES, &[]).await?;
        expect_columns(&via, statements::PRIMARIES, &result, 5)?;
        let mut out: BTreeMap<(TableName, Option<String>), IndexPrimaries> = BTreeMap::new();
        for row in &result.rows {
            let table = TableName::new(
                cell(&via, "table_schema", row, 0).required_text()?,
                cell(&via, "table_name", row, 1).required_text()?,
            );
            let partition = cell(&via, "partition_ident", row, 2)
                .text()?
                .filter(|p| !p.is_empty());
            let state = cell(&via, "routing_state", row, 3).text()?.unwrap_or_default();
            let n = cell(&via, "shards", row, 4).count()?;
            let entry = out
                .entry((table.clone(), partition.clone()))
                .or_insert_with(|| IndexPrimaries {
                    table,
                    partition_ident: partition,
                    ..Default::default()
                });
            entry.total += n;
            match state.as_str() {
                "STARTED" | "RELOCATING" => entry.active += n,
                "UNASSIGNED" => entry.unassigned += n,
                _ => {}
            }
        }
        Ok(out.into_values().collect())
    }
}
