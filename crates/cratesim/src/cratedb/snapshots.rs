//! Repositories, snapshots and restores (docs/cratedb-behaviour.md#snapshots-and-restores).
//!
//! A snapshot records the table layout (and, for `ALL`, persistent settings and users) at
//! creation; it is IN_PROGRESS for `snapshot_per_shard` × shards, then SUCCESS (PARTIAL if a
//! table was missing primaries). A restore creates the tables' indices with SNAPSHOT-sourced
//! primaries that recover over `shard_restore`; `sys.snapshot_restore` lists it until every
//! restored primary is active. Rename patterns are not modelled.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{Index, Replicas, Source, Table, uuid_from};
use super::sql::error::SqlError;
use super::{CrateCluster, Health, TableSpec};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Repository {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) repo: String,
    pub(crate) name: String,
    pub(crate) uuid: String,
    pub(crate) tables: Vec<TableSpec>,
    pub(crate) started: Duration,
    pub(crate) finishes: Duration,
    pub(crate) done: bool,
    pub(crate) partial: bool,
    pub(crate) include_global_state: bool,
    pub(crate) settings: BTreeMap<String, String>,
    pub(crate) users: BTreeMap<String, Option<String>>,
    pub(crate) version: String,
    pub(crate) total_shards: u32,
}

impl Snapshot {
    pub(crate) fn state(&self) -> &'static str {
        match (self.done, self.partial) {
            (false, _) => "IN_PROGRESS",
            (true, true) => "PARTIAL",
            (true, false) => "SUCCESS",
        }
    }
}

/// One running restore; the indices it creates are identified by their uuids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Restore {
    pub(crate) uuid: String,
    pub(crate) repo: String,
    pub(crate) snapshot: String,
    pub(crate) index_uuids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Store {
    pub(crate) repos: Vec<Repository>,
    pub(crate) snapshots: Vec<Snapshot>,
    pub(crate) restores: Vec<Restore>,
}

impl Store {
    pub(crate) fn progress(&mut self, t: Duration) {
        for s in &mut self.snapshots {
            if !s.done && s.finishes <= t {
                s.done = true;
            }
        }
    }

    pub(crate) fn next_event(&self) -> Option<Duration> {
        self.snapshots
            .iter()
            .filter(|s| !s.done)
            .map(|s| s.finishes)
            .min()
    }

    fn repo(&self, name: &str) -> Result<&Repository, SqlError> {
        self.repos
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| SqlError::repository_missing(name))
    }

    pub(crate) fn snapshot(&self, repo: &str, name: &str) -> Result<&Snapshot, SqlError> {
        self.repo(repo)?;
        self.snapshots
            .iter()
            .find(|s| s.repo == repo && s.name == name)
            .ok_or_else(|| SqlError::snapshot_missing(repo, name))
    }
}

/// What a snapshot or restore covers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scope {
    All,
    Metadata,
    /// `(schema, table, partition ident)`.
    Tables(Vec<(String, String, Option<String>)>),
    Sections(Vec<String>),
}

/// Snapshot names must be lowercase, without whitespace, `,` or `#`, not start with `_`.
fn check_snapshot_name(repo: &str, name: &str) -> Result<(), SqlError> {
    let reason = if name.chars().any(|c| c.is_uppercase()) {
        Some("must be lowercase")
    } else if name.contains(|c: char| c.is_whitespace() || c == ',' || c == '#') {
        Some("must not contain whitespace, ',' or '#'")
    } else if name.starts_with('_') {
        Some("must not start with '_'")
    } else {
        None
    };
    match reason {
        Some(r) => Err(SqlError::invalid_snapshot_name(repo, name, r)),
        None => Ok(()),
    }
}

/// Restore sections known to a CrateDB version (docs/cratedb-behaviour.md#snapshots-and-restores).
fn section_known(version: &str, section: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    match section {
        "tables" | "views" | "analyzers" | "udfs" => true,
        "users" | "privileges" => v < (6, 5),
        "usermanagement" => v >= (5, 6),
        _ => false,
    }
}

impl CrateCluster {
    pub(crate) fn create_repository(
        &mut self,
        name: &str,
        kind: &str,
        settings: BTreeMap<String, String>,
    ) -> Result<(), SqlError> {
        if self.snaps.repos.iter().any(|r| r.name == name) {
            return Err(SqlError::repository_exists(name));
        }
        self.snaps.repos.push(Repository {
            name: name.to_string(),
            kind: kind.to_string(),
            settings,
        });
        Ok(())
    }

    pub(crate) fn drop_repository(&mut self, name: &str) -> Result<(), SqlError> {
        self.snaps.repo(name)?;
        self.snaps.repos.retain(|r| r.name != name);
        Ok(())
    }

    pub(crate) fn create_snapshot(&mut self, repo: &str, name: &str, scope: &Scope) -> Result<(), SqlError> {
        self.snaps.repo(repo)?;
        check_snapshot_name(repo, name)?;
        if self
            .snaps
            .snapshots
            .iter()
            .any(|s| s.repo == repo && s.name == name)
        {
            return Err(SqlError::invalid_snapshot_name(
                repo,
                name,
                "snapshot with the same name already exists",
            ));
        }
        let tables = self.snapshot_tables(scope)?;
        let total_shards: u32 = tables
            .iter()
            .map(|t| t.shards * (t.partitions.len().max(1) as u32))
            .sum();
        let partial = self.health_rows().iter().any(|r| {
            r.health == Health::Red && tables.iter().any(|t| t.schema == r.schema && t.name == r.table)
        });
        let all = *scope == Scope::All;
        self.snaps.snapshots.push(Snapshot {
            repo: repo.to_string(),
            name: name.to_string(),
            uuid: uuid_from(&format!("snapshot/{repo}/{name}/{}", self.clock.as_millis())),
            tables,
            started: self.clock,
            finishes: self.clock + self.timings.snapshot_per_shard * total_shards,
            done: false,
            partial,
            include_global_state: all,
            settings: if all {
                self.settings.persistent()
            } else {
                BTreeMap::new()
            },
            users: if all { self.users.clone() } else { BTreeMap::new() },
            version: self.nodes.first().map(|n| n.version.clone()).unwrap_or_default(),
            total_shards,
        });
        self.snaps.progress(self.clock);
        Ok(())
    }

    fn snapshot_tables(&self, scope: &Scope) -> Result<Vec<TableSpec>, SqlError> {
        let Scope::Tables(wanted) = scope else {
            return Ok(self.tables.iter().map(Table::spec).collect());
        };
        let mut out: Vec<TableSpec> = Vec::new();
        for (schema, name, partition) in wanted {
            let table = self
                .table(schema, name)
                .ok_or_else(|| SqlError::relation_unknown(&format!("{schema}.{name}")))?;
            let mut spec = table.spec();
            if let Some(ident) = partition {
                if !spec.partitions.contains(ident) {
                    return Err(SqlError::partition_unknown(&table.fqn(), ident));
                }
                spec.partitions = vec![ident.clone()];
            }
            match out
                .iter_mut()
                .find(|t| t.schema == spec.schema && t.name == spec.name)
            {
                Some(existing) => existing.partitions.extend(spec.partitions),
                None => out.push(spec),
            }
        }
        Ok(out)
    }

    pub(crate) fn drop_snapshot(&mut self, repo: &str, name: &str) -> Result<(), SqlError> {
        self.snaps.snapshot(repo, name)?;
        self.snaps
            .snapshots
            .retain(|s| !(s.repo == repo && s.name == name));
        Ok(())
    }

    pub(crate) fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.schema == schema && t.name == name)
    }

    /// `RESTORE SNAPSHOT repo.snap …`.
    pub(crate) fn restore_snapshot(&mut self, repo: &str, name: &str, scope: &Scope) -> Result<(), SqlError> {
        let snapshot = self.snaps.snapshot(repo, name)?.clone();
        let (tables, metadata, users) = self.restore_plan(&snapshot, scope)?;
        let mut index_uuids = Vec::new();
        for (spec, partition) in &tables {
            index_uuids.push(self.restore_index(spec, partition.as_deref())?);
        }
        if metadata {
            self.settings.restore_persistent(&snapshot.settings);
        }
        if users && !snapshot.users.is_empty() {
            self.users = snapshot.users.clone();
        }
        if !index_uuids.is_empty() {
            self.snaps.restores.push(Restore {
                uuid: uuid_from(&format!("restore/{repo}/{name}/{}", self.clock.as_millis())),
                repo: repo.to_string(),
                snapshot: name.to_string(),
                index_uuids,
            });
        }
        self.reroute(self.clock);
        Ok(())
    }

    /// The indices to restore (spec, partition) and whether metadata and users are restored.
    #[allow(clippy::type_complexity)]
    fn restore_plan(
        &self,
        snapshot: &Snapshot,
        scope: &Scope,
    ) -> Result<(Vec<(TableSpec, Option<String>)>, bool, bool), SqlError> {
        let every = |s: &Snapshot| -> Vec<(TableSpec, Option<String>)> {
            s.tables
                .iter()
                .flat_map(|t| {
                    if t.partitions.is_empty() {
                        vec![(t.clone(), None)]
                    } else {
                        t.partitions
                            .iter()
                            .map(|p| (t.clone(), Some(p.clone())))
                            .collect()
                    }
                })
                .collect()
        };
        match scope {
            Scope::All => Ok((every(snapshot), true, true)),
            Scope::Metadata => Ok((Vec::new(), true, true)),
            Scope::Sections(sections) => {
                for s in sections {
                    if !section_known(&self.version_of_cluster(), s) {
                        return Err(SqlError::parse(&format!(
                            "Unknown metadata type '{}'",
                            s.to_uppercase()
                        )));
                    }
                }
                let has = |x: &str| sections.iter().any(|s| s == x);
                let tables = if has("tables") {
                    every(snapshot)
                } else {
                    Vec::new()
                };
                Ok((tables, false, has("users") || has("usermanagement")))
            }
            Scope::Tables(wanted) => {
                let mut out = Vec::new();
                for (schema, name, partition) in wanted {
                    let spec = snapshot
                        .tables
                        .iter()
                        .find(|t| &t.schema == schema && &t.name == name)
                        .ok_or_else(|| SqlError::relation_unknown(&format!("{schema}.{name}")))?;
                    match partition {
                        Some(p) if !spec.partitions.contains(p) => {
                            return Err(SqlError::partition_unknown(&format!("{schema}.{name}"), p));
                        }
                        Some(p) => out.push((spec.clone(), Some(p.clone()))),
                        None if spec.partitions.is_empty() => out.push((spec.clone(), None)),
                        None => out.extend(spec.partitions.iter().map(|p| (spec.clone(), Some(p.clone())))),
                    }
                }
                Ok((out, false, false))
            }
        }
    }

    pub(crate) fn version_of_cluster(&self) -> String {
        self.nodes.first().map(|n| n.version.clone()).unwrap_or_default()
    }

    /// Creates one restored index (a table or a partition); returns its uuid.
    fn restore_index(&mut self, spec: &TableSpec, partition: Option<&str>) -> Result<String, SqlError> {
        let replicas = Replicas::parse(&spec.replicas).map_err(|m| SqlError::parse(&m))?;
        let groups = self.new_groups(
            spec.shards,
            replicas.effective(self.data_member_count()),
            Source::Snapshot,
        );
        let uuid = uuid_from(&format!(
            "{}.{}.{:?}@{}",
            spec.schema,
            spec.name,
            partition,
            self.clock.as_millis()
        ));
        let index = Index {
            partition: partition.map(String::from),
            uuid: uuid.clone(),
            replicas,
            groups,
        };
        let fqn = format!("{}.{}", spec.schema, spec.name);
        match self
            .tables
            .iter_mut()
            .find(|t| t.schema == spec.schema && t.name == spec.name)
        {
            Some(table) if table.partitioned && partition.is_some() => {
                if table.indices.iter().any(|i| i.partition.as_deref() == partition) {
                    return Err(SqlError::partition_exists(&fqn, partition.unwrap_or_default()));
                }
                table.indices.push(index);
            }
            Some(_) => return Err(SqlError::relation_exists(&fqn)),
            None => {
                let mut table = Table::from_spec(&TableSpec {
                    partitions: Vec::new(),
                    ..spec.clone()
                })
                .map_err(|m| SqlError::parse(&m))?;
                table.partitioned = !spec.partitions.is_empty();
                table.indices = vec![index];
                self.tables.push(table);
            }
        }
        Ok(uuid)
    }

    /// Drops restores whose primaries are all active.
    pub(crate) fn finish_restores(&mut self) {
        let active = |uuid: &String| {
            self.tables
                .iter()
                .flat_map(|t| t.indices.iter())
                .find(|i| &i.uuid == uuid)
                .is_none_or(|i| i.groups.iter().all(|g| g.active_primary()))
        };
        let done: Vec<bool> = self
            .snaps
            .restores
            .iter()
            .map(|r| r.index_uuids.iter().all(active))
            .collect();
        let mut it = done.into_iter();
        self.snaps.restores.retain(|_| !it.next().unwrap_or(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sections() {
        assert!(check_snapshot_name("r", "ok-1").is_ok());
        assert!(check_snapshot_name("r", "Bad").is_err());
        assert!(check_snapshot_name("r", "_x").is_err());
        assert!(section_known("5.10.3", "users"));
        assert!(section_known("5.10.3", "usermanagement"));
        assert!(!section_known("6.5.0", "users"));
        assert!(!section_known("5.5.0", "usermanagement"));
        assert!(!section_known("6.0.0", "bogus"));
    }
}
