//! Typed reads of the system tables operations gate on, returning `cratectl_core::readings`.
//!
//! Every read names its columns (never `SELECT *`: column sets differ between versions during
//! a rolling upgrade, as CrateDB's system-information docs warn), aliases aggregates (their
//! output names changed in 6.0; docs/cratedb-behaviour.md#general-rules), and is sent as
//! idempotent, so every transient failure is retried.
//!
//! A [`ClusterReading`] is several statements, not one snapshot: CrateDB has no transactions.
//! Where two reads can disagree the result errs towards "not healthy" (see
//! [`Client::health`]); the caller's stability window (N equal consecutive readings) covers
//! the rest.

use cratectl_core::readings::{
    ClusterReading, NodeReading, SettingsReading, ShardCounts, ShardsInFlight, TOUCHED_SETTINGS, TableHealth,
    TableHealthLevel,
};
use cratectl_core::restore::snapshots::{RepositoryRow, SnapshotRow};
use cratectl_core::scale::replicas::TableReplicas;
use serde_json::Value;

use crate::client::{Client, SqlResult};
use crate::error::Error;

/// The statements the reads send, for documentation and tests.
pub mod statements {
    /// `sys.nodes`: members only (a node that left has no row; one that did not answer in
    /// 3 s has NULLs except `id` and `name`).
    pub const NODES: &str = "SELECT id, name, hostname, version['number'] FROM sys.nodes ORDER BY name";
    /// The elected master's node id, NULL without a master.
    pub const MASTER_NODE: &str = "SELECT master_node FROM sys.cluster";
    /// NULL when `sys.health` is empty (no user tables).
    pub const MAX_SEVERITY: &str = "SELECT max(severity) AS max_severity FROM sys.health";
    pub const UNHEALTHY_TABLES: &str = "SELECT table_schema, table_name, partition_ident, health, severity, \
        missing_shards, underreplicated_shards FROM sys.health WHERE severity > 1 \
        ORDER BY severity DESC, table_schema, table_name, partition_ident";
    pub const IN_FLIGHT: &str = "SELECT routing_state, count(*) AS shards FROM sys.shards \
        WHERE routing_state IN ('INITIALIZING', 'RELOCATING') GROUP BY routing_state";
    /// Primaries not active yet (unassigned or initializing), e.g. while a cluster recovers
    /// from a full stop: a relocating primary is active.
    pub const INACTIVE_PRIMARIES: &str = "SELECT count(*) AS primaries FROM sys.shards \
        WHERE \"primary\" = true AND routing_state NOT IN ('STARTED', 'RELOCATING')";
    /// Snapshots being taken.
    pub const SNAPSHOTS_IN_PROGRESS: &str =
        "SELECT repository, name FROM sys.snapshots WHERE state = 'IN_PROGRESS' ORDER BY 1, 2";
    /// The statements running now (this query among them).
    pub const JOBS: &str = "SELECT stmt FROM sys.jobs";
    /// Copies per node: assigned copies only (unassigned rows have a NULL node), counting a
    /// relocation's source on its node and its target (INITIALIZING) on the other.
    pub const SHARD_COUNTS: &str = "SELECT node['name'] AS node_name, count(*) AS shards FROM sys.shards \
        WHERE node['name'] IS NOT NULL GROUP BY node['name']";

    /// Every table's `number_of_replicas` (tables only: views and system tables have no
    /// shards).
    pub const TABLE_REPLICAS: &str = "SELECT table_schema, table_name, number_of_replicas \
        FROM information_schema.tables WHERE number_of_shards IS NOT NULL ORDER BY 1, 2";
    /// Every partition's own `number_of_replicas`.
    pub const PARTITION_REPLICAS: &str = "SELECT table_schema, table_name, partition_ident, \
        number_of_replicas FROM information_schema.table_partitions ORDER BY 1, 2, 3";
    /// Why copies on the given nodes (ids) stay where they are (CrateDB's allocation deciders).
    pub const ALLOCATIONS_ON: &str = "SELECT table_schema, table_name, partition_ident, shard_id, \"primary\", \
        explanation, decisions FROM sys.allocations WHERE node_id = ANY(?) ORDER BY 1, 2, 3, 4";
    /// Repositories: name and type only (their settings can hold an object store's keys).
    pub const REPOSITORIES: &str = "SELECT name, type FROM sys.repositories ORDER BY name";
    /// Every snapshot of every repository.
    pub const SNAPSHOTS: &str = "SELECT repository, name, state, version, started, finished, tables \
        FROM sys.snapshots ORDER BY repository, name";
    /// Nodes whose node check `?` fails and is not acknowledged.
    pub const FAILING_NODE_CHECKS: &str = "SELECT node_id FROM sys.node_checks \
        WHERE id = ? AND passed = false ORDER BY 1";
    /// Acknowledges node check `?` on the given nodes (ids); lost when a node restarts.
    pub const ACK_NODE_CHECKS: &str = "UPDATE sys.node_checks SET acknowledged = true \
        WHERE id = ? AND node_id = ANY(?)";

    /// `SELECT settings['cluster']['routing']['allocation']['enable'], … FROM sys.cluster`, one
    /// column per [`cratectl_core::readings::TOUCHED_SETTINGS`], in that order.
    pub fn settings() -> String {
        let columns: Vec<String> = super::TOUCHED_SETTINGS
            .iter()
            .map(|(name, _)| subscript(name))
            .collect();
        format!("SELECT {} FROM sys.cluster", columns.join(", "))
    }

    /// `cluster.routing.allocation.exclude._name` →
    /// `settings['cluster']['routing']['allocation']['exclude']['_name']`.
    pub fn subscript(dotted: &str) -> String {
        let mut out = String::from("settings");
        for part in dotted.split('.') {
            out.push_str("['");
            out.push_str(&part.replace('\'', "''"));
            out.push_str("']");
        }
        out
    }
}

/// `sys.health` as one poll reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthReading {
    /// `max(sys.health.severity)`, `None` when `sys.health` has no rows.
    pub max_severity: Option<i64>,
    /// Rows that are not GREEN, worst first.
    pub unhealthy_tables: Vec<TableHealth>,
}

/// Checks the shape of an answer: the expected number of columns in every row.
/// The distinct reasons of `sys.allocations.decisions` (each node's deciders' texts), in order.
pub(crate) fn decision_reasons(decisions: Option<&Value>) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    for decision in decisions.and_then(Value::as_array).into_iter().flatten() {
        for text in decision
            .get("explanations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !reasons.iter().any(|r| r == text) {
                reasons.push(text.to_string());
            }
        }
    }
    reasons
}

pub(crate) fn expect_columns(via: &str, stmt: &str, result: &SqlResult, n: usize) -> Result<(), Error> {
    if result.cols.len() != n || result.rows.iter().any(|r| r.len() != n) {
        return Err(Error::protocol(
            via,
            format!(
                "`{stmt}` answered {} columns ({}), expected {n}",
                result.cols.len(),
                result.cols.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A typed cell: `column` names it in messages.
pub(crate) struct Cell<'a> {
    via: &'a str,
    column: &'a str,
    value: &'a Value,
}

impl Cell<'_> {
    fn wrong(&self, expected: &str) -> Error {
        Error::protocol(
            self.via,
            format!("{} is {}, expected {expected}", self.column, self.value),
        )
    }

    pub(crate) fn text(&self) -> Result<Option<String>, Error> {
        match self.value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(self.wrong("text")),
        }
    }

    pub(crate) fn required_text(&self) -> Result<String, Error> {
        self.text()?.ok_or_else(|| self.wrong("text"))
    }

    pub(crate) fn int(&self) -> Result<Option<i64>, Error> {
        match self.value {
            Value::Null => Ok(None),
            v => v.as_i64().map(Some).ok_or_else(|| self.wrong("an integer")),
        }
    }

    pub(crate) fn required_int(&self) -> Result<i64, Error> {
        self.int()?.ok_or_else(|| self.wrong("an integer"))
    }

    pub(crate) fn count(&self) -> Result<u64, Error> {
        u64::try_from(self.required_int()?).map_err(|_| self.wrong("a count"))
    }
}

pub(crate) fn cell<'a>(via: &'a str, column: &'a str, row: &'a [Value], i: usize) -> Cell<'a> {
    Cell {
        via,
        column,
        value: row.get(i).unwrap_or(&Value::Null),
    }
}

impl Client {
    /// `sys.nodes`: id, name, hostname and version of every member, by name.
    pub async fn nodes(&self) -> Result<Vec<NodeReading>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::NODES, &[]).await?;
        expect_columns(&via, statements::NODES, &result, 4)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok(NodeReading {
                    id: cell(&via, "sys.nodes.id", row, 0).required_text()?,
                    name: cell(&via, "sys.nodes.name", row, 1).required_text()?,
                    hostname: cell(&via, "sys.nodes.hostname", row, 2).text()?,
                    version: cell(&via, "sys.nodes.version['number']", row, 3).text()?,
                })
            })
            .collect()
    }

    /// `sys.cluster.master_node`: the elected master's node id, `None` without a master.
    pub async fn master_node(&self) -> Result<Option<String>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::MASTER_NODE, &[]).await?;
        expect_columns(&via, statements::MASTER_NODE, &result, 1)?;
        match result.rows.as_slice() {
            [row] => cell(&via, "sys.cluster.master_node", row, 0).text(),
            rows => Err(Error::protocol(
                &via,
                format!("sys.cluster has {} rows, expected 1", rows.len()),
            )),
        }
    }

    /// `sys.health`: the highest severity and the rows that are not GREEN.
    ///
    /// Two statements (the maximum, then the non-GREEN rows, so a large partitioned cluster
    /// does not send every GREEN partition on every poll). Health can change between them;
    /// `max_severity` is then the worse of both answers, never better than a row shows.
    pub async fn health(&self) -> Result<HealthReading, Error> {
        let via = self.via();
        let max = self.sql_idempotent(statements::MAX_SEVERITY, &[]).await?;
        expect_columns(&via, statements::MAX_SEVERITY, &max, 1)?;
        let max_severity = match max.rows.as_slice() {
            [row] => cell(&via, "max(sys.health.severity)", row, 0).int()?,
            [] => None,
            rows => {
                return Err(Error::protocol(
                    &via,
                    format!("max(severity) answered {} rows", rows.len()),
                ));
            }
        };
        let result = self.sql_idempotent(statements::UNHEALTHY_TABLES, &[]).await?;
        expect_columns(&via, statements::UNHEALTHY_TABLES, &result, 7)?;
        let mut unhealthy_tables = Vec::with_capacity(result.rows.len());
        let mut worst = max_severity;
        for row in &result.rows {
            let severity = cell(&via, "sys.health.severity", row, 4).required_int()?;
            let health_cell = cell(&via, "sys.health.health", row, 3);
            let health = match health_cell.required_text()?.as_str() {
                "GREEN" => TableHealthLevel::Green,
                "YELLOW" => TableHealthLevel::Yellow,
                "RED" => TableHealthLevel::Red,
                _ => TableHealthLevel::from_severity(severity)
                    .ok_or_else(|| health_cell.wrong("GREEN, YELLOW or RED"))?,
            };
            worst = worst.max(Some(severity));
            unhealthy_tables.push(TableHealth {
                schema: cell(&via, "sys.health.table_schema", row, 0).required_text()?,
                table: cell(&via, "sys.health.table_name", row, 1).required_text()?,
                partition_ident: cell(&via, "sys.health.partition_ident", row, 2).text()?,
                health,
                missing_shards: cell(&via, "sys.health.missing_shards", row, 5).required_int()?,
                underreplicated_shards: cell(&via, "sys.health.underreplicated_shards", row, 6)
                    .required_int()?,
            });
        }
        Ok(HealthReading {
            max_severity: worst,
            unhealthy_tables,
        })
    }

    /// Shard copies INITIALIZING or RELOCATING (`sys.shards.routing_state`).
    pub async fn in_flight(&self) -> Result<ShardsInFlight, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::IN_FLIGHT, &[]).await?;
        expect_columns(&via, statements::IN_FLIGHT, &result, 2)?;
        let mut in_flight = ShardsInFlight::default();
        for row in &result.rows {
            let state = cell(&via, "sys.shards.routing_state", row, 0).required_text()?;
            let count = cell(&via, "count(*)", row, 1).count()?;
            match state.as_str() {
                "INITIALIZING" => in_flight.initializing += count,
                "RELOCATING" => in_flight.relocating += count,
                other => {
                    return Err(Error::protocol(
                        &via,
                        format!("sys.shards.routing_state {other:?} was not asked for"),
                    ));
                }
            }
        }
        Ok(in_flight)
    }

    /// The effective values (transient over persistent over default) of
    /// [`TOUCHED_SETTINGS`], keyed by dotted name, as CrateDB renders them.
    pub async fn settings(&self) -> Result<SettingsReading, Error> {
        let via = self.via();
        let stmt = statements::settings();
        let result = self.sql_idempotent(&stmt, &[]).await?;
        expect_columns(&via, &stmt, &result, TOUCHED_SETTINGS.len())?;
        let [row] = result.rows.as_slice() else {
            return Err(Error::protocol(
                &via,
                format!("sys.cluster has {} rows, expected 1", result.rows.len()),
            ));
        };
        Ok(SettingsReading {
            effective: TOUCHED_SETTINGS
                .iter()
                .zip(row)
                .map(|((name, _), value)| (name.to_string(), value.clone()))
                .collect(),
        })
    }

    /// How many primaries are not active ([`statements::INACTIVE_PRIMARIES`]).
    pub async fn inactive_primaries(&self) -> Result<u64, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::INACTIVE_PRIMARIES, &[]).await?;
        expect_columns(&via, statements::INACTIVE_PRIMARIES, &result, 1)?;
        let [row] = result.rows.as_slice() else {
            return Err(Error::protocol(
                &via,
                format!("count(*) returned {} rows, expected 1", result.rows.len()),
            ));
        };
        cell(&via, "count(*)", row, 0).count()
    }

    /// `repository.snapshot` of every snapshot being taken ([`statements::SNAPSHOTS_IN_PROGRESS`]).
    pub async fn snapshots_in_progress(&self) -> Result<Vec<String>, Error> {
        let via = self.via();
        let result = self
            .sql_idempotent(statements::SNAPSHOTS_IN_PROGRESS, &[])
            .await?;
        expect_columns(&via, statements::SNAPSHOTS_IN_PROGRESS, &result, 2)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok(format!(
                    "{}.{}",
                    cell(&via, "repository", row, 0).required_text()?,
                    cell(&via, "name", row, 1).required_text()?
                ))
            })
            .collect()
    }

    /// The statements running now ([`statements::JOBS`]), this query left out.
    pub async fn running_statements(&self) -> Result<Vec<String>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::JOBS, &[]).await?;
        expect_columns(&via, statements::JOBS, &result, 1)?;
        let mut out = Vec::new();
        for row in &result.rows {
            let stmt = cell(&via, "stmt", row, 0).text()?.unwrap_or_default();
            if stmt != statements::JOBS {
                out.push(stmt);
            }
        }
        Ok(out)
    }

    /// Assigned shard copies per node name. Nodes holding no copy are absent.
    pub async fn shard_counts(&self) -> Result<ShardCounts, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::SHARD_COUNTS, &[]).await?;
        expect_columns(&via, statements::SHARD_COUNTS, &result, 2)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok((
                    cell(&via, "sys.shards.node['name']", row, 0).required_text()?,
                    cell(&via, "count(*)", row, 1).count()?,
                ))
            })
            .collect()
    }

    /// Every table's and partition's `number_of_replicas`, for the replica guard.
    pub async fn table_replicas(&self) -> Result<Vec<TableReplicas>, Error> {
        let via = self.via();
        let tables = self.sql_idempotent(statements::TABLE_REPLICAS, &[]).await?;
        expect_columns(&via, statements::TABLE_REPLICAS, &tables, 3)?;
        let partitions = self.sql_idempotent(statements::PARTITION_REPLICAS, &[]).await?;
        expect_columns(&via, statements::PARTITION_REPLICAS, &partitions, 4)?;
        let mut out = Vec::new();
        for row in &tables.rows {
            out.push(TableReplicas {
                schema: cell(&via, "table_schema", row, 0).required_text()?,
                table: cell(&via, "table_name", row, 1).required_text()?,
                partition: None,
                number_of_replicas: cell(&via, "number_of_replicas", row, 2).required_text()?,
            });
        }
        for row in &partitions.rows {
            out.push(TableReplicas {
                schema: cell(&via, "table_schema", row, 0).required_text()?,
                table: cell(&via, "table_name", row, 1).required_text()?,
                partition: Some(cell(&via, "partition_ident", row, 2).required_text()?),
                number_of_replicas: cell(&via, "number_of_replicas", row, 3).required_text()?,
            });
        }
        Ok(out)
    }

    /// CrateDB's explanations for copies that stay on nodes `node_ids`: one line per shard copy,
    /// its explanation and the distinct reasons its deciders gave per node
    /// (`doc.events shard 2 (replica): cannot move … [replica allocations are forbidden …]`).
    pub async fn allocation_explanations(&self, node_ids: &[String]) -> Result<Vec<String>, Error> {
        let via = self.via();
        let result = self
            .sql_idempotent(statements::ALLOCATIONS_ON, &[Value::from(node_ids.to_vec())])
            .await?;
        expect_columns(&via, statements::ALLOCATIONS_ON, &result, 7)?;
        result
            .rows
            .iter()
            .map(|row| {
                let primary = matches!(row.get(4), Some(Value::Bool(true)));
                let partition = cell(&via, "partition_ident", row, 2)
                    .text()?
                    .map(|p| format!(" partition {p}"))
                    .unwrap_or_default();
                let reasons = decision_reasons(row.get(6));
                let reasons = if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", reasons.join("; "))
                };
                Ok(format!(
                    "{}.{}{partition} shard {} ({}): {}{reasons}",
                    cell(&via, "table_schema", row, 0).required_text()?,
                    cell(&via, "table_name", row, 1).required_text()?,
                    cell(&via, "shard_id", row, 3).required_int()?,
                    if primary { "primary" } else { "replica" },
                    cell(&via, "explanation", row, 5).text()?.unwrap_or_default()
                ))
            })
            .collect()
    }

    /// The repositories (`sys.repositories`, name and type).
    pub async fn repositories(&self) -> Result<Vec<RepositoryRow>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::REPOSITORIES, &[]).await?;
        expect_columns(&via, statements::REPOSITORIES, &result, 2)?;
        result
            .rows
            .iter()
            .map(|row| {
                Ok(RepositoryRow {
                    name: cell(&via, "sys.repositories.name", row, 0).required_text()?,
                    kind: cell(&via, "sys.repositories.type", row, 1)
                        .text()?
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Every snapshot (`sys.snapshots`); `started`/`finished` are CrateDB timestamps
    /// (milliseconds since the epoch).
    pub async fn snapshots(&self) -> Result<Vec<SnapshotRow>, Error> {
        let via = self.via();
        let result = self.sql_idempotent(statements::SNAPSHOTS, &[]).await?;
        expect_columns(&via, statements::SNAPSHOTS, &result, 7)?;
        let instant = |row: &[Value], i: usize, column: &str| -> Result<Option<jiff::Timestamp>, Error> {
            match cell(&via, column, row, i).int()? {
                None => Ok(None),
                Some(ms) => jiff::Timestamp::from_millisecond(ms)
                    .map(Some)
                    .map_err(|_| Error::protocol(&via, format!("{column} is {ms}, not a time"))),
            }
        };
        result
            .rows
            .iter()
            .map(|row| {
                Ok(SnapshotRow {
                    repository: cell(&via, "sys.snapshots.repository", row, 0).required_text()?,
                    name: cell(&via, "sys.snapshots.name", row, 1).required_text()?,
                    state: cell(&via, "sys.snapshots.state", row, 2)
                        .text()?
                        .unwrap_or_default(),
                    version: cell(&via, "sys.snapshots.version", row, 3).text()?,
                    started: instant(row, 4, "sys.snapshots.started")?,
                    finished: instant(row, 5, "sys.snapshots.finished")?,
                    tables: row
                        .get(6)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                })
            })
            .collect()
    }

    /// Names of the nodes whose node check `check` fails.
    pub async fn failing_node_checks(&self, check: i64) -> Result<Vec<String>, Error> {
        let via = self.via();
        let result = self
            .sql_idempotent(statements::FAILING_NODE_CHECKS, &[Value::from(check)])
            .await?;
        expect_columns(&via, statements::FAILING_NODE_CHECKS, &result, 1)?;
        let ids = result
            .rows
            .iter()
            .map(|row| cell(&via, "sys.node_checks.node_id", row, 0).required_text())
            .collect::<Result<Vec<String>, Error>>()?;
        let nodes = self.nodes().await?;
        Ok(ids
            .iter()
            .map(|id| {
                nodes
                    .iter()
                    .find(|n| n.id == *id)
                    .map_or_else(|| id.clone(), |n| n.name.clone())
            })
            .collect())
    }

    /// Acknowledges node check `check` on nodes `node_ids` (idempotent).
    pub async fn acknowledge_node_checks(&self, check: i64, node_ids: &[String]) -> Result<(), Error> {
        self.sql_idempotent(
            statements::ACK_NODE_CHECKS,
            &[Value::from(check), Value::from(node_ids.to_vec())],
        )
        .await
        .map(|_| ())
    }

    /// Everything one health poll reads, through this client: nodes, master, health and
    /// shards in flight (sent concurrently). `via` is the transport's `describe()`, so the
    /// reading says truthfully which node it came through.
    pub async fn cluster_reading(&self) -> Result<ClusterReading, Error> {
        let (nodes, master_node, health, in_flight) =
            futures::try_join!(self.nodes(), self.master_node(), self.health(), self.in_flight())?;
        Ok(ClusterReading {
            via: self.via(),
            nodes,
            master_node,
            max_severity: health.max_severity,
            unhealthy_tables: health.unhealthy_tables,
            in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn settings_select_the_exact_subscripts() {
        assert_eq!(
            statements::subscript("cluster.routing.allocation.exclude._name"),
            "settings['cluster']['routing']['allocation']['exclude']['_name']"
        );
        let stmt = statements::settings();
        assert!(stmt.starts_with("SELECT settings['cluster']['routing']['allocation']['enable'], "));
        assert!(stmt.ends_with(" FROM sys.cluster"));
        assert!(!stmt.contains('*'));
    }
}
