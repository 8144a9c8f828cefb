//! Repositories, snapshots and restores (docs/cratedb-behaviour.md#snapshots-and-restores).
//!
//! A repository is a cluster's pointer to a location; the snapshots live in the location, in
//! the [`ObjectStore`] every cluster of a simulation shares, so a snapshot one cluster takes is
//! listed and restorable in every cluster with a repository for the same location. A snapshot
//! records the table layout (and, for `ALL`, persistent settings and users) at creation; it is
//! IN_PROGRESS for `snapshot_per_shard` × shards, then SUCCESS (PARTIAL if a table was missing
//! primaries). A restore creates the tables' indices with SNAPSHOT-sourced primaries that
//! recover over `shard_restore`; `sys.snapshot_restore` lists it while any restored primary is
//! still recovering. Rename patterns are not modelled.
//!
//! Lock order: the object store is locked only briefly, inside a cluster method (itself called
//! under the `Databases` lock), and never calls back into anything that takes another lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::model::{Index, Replicas, Source, Table, partition_ident, uuid_from};
use super::sql::error::SqlError;
use super::{CrateCluster, Health, TableSpec};

/// Settings whose values `sys.repositories` masks and that never identify a location.
pub(crate) const SECRET_SETTINGS: &[&str] = &["access_key", "secret_key", "account", "key", "sas_token"];

const S3_SETTINGS: &[&str] = &[
    "access_key",
    "secret_key",
    "endpoint",
    "protocol",
    "bucket",
    "base_path",
    "chunk_size",
    "compress",
    "server_side_encryption",
    "buffer_size",
    "max_retries",
    "use_throttle_retries",
    "canned_acl",
    "storage_class",
    "readonly",
    "max_restore_bytes_per_sec",
    "max_snapshot_bytes_per_sec",
    "region",
    "use_path_style_access",
];

const AZURE_SETTINGS: &[&str] = &[
    "account",
    "key",
    "sas_token",
    "endpoint",
    "secondary_endpoint",
    "container",
    "base_path",
    "chunk_size",
    "compress",
    "readonly",
    "location_mode",
    "max_retries",
    "timeout",
    "proxy_type",
    "proxy_host",
    "proxy_port",
    "max_restore_bytes_per_sec",
    "max_snapshot_bytes_per_sec",
];

const FS_SETTINGS: &[&str] = &[
    "location",
    "compress",
    "chunk_size",
    "readonly",
    "max_restore_bytes_per_sec",
    "max_snapshot_bytes_per_sec",
];

/// The repository types CrateDB knows; `url` and `gcs` take any parameter here (their
/// parameters are not modelled).
const TYPES: &[&str] = &["fs", "s3", "azure", "url", "gcs"];

/// `CREATE REPOSITORY`'s checks (CrateDB's `RepositoryParamValidator.validate`): a known type,
/// its required parameters (`fs`: `location`), no parameter the type does not know.
pub(crate) fn validate_repository(kind: &str, settings: &BTreeMap<String, String>) -> Result<(), SqlError> {
    if !TYPES.contains(&kind) {
        return Err(SqlError::parse(&format!("Invalid repository type \"{kind}\"")));
    }
    let (known, required): (&[&str], &[&str]) = match kind {
        "fs" => (FS_SETTINGS, &["location"]),
        "s3" => (S3_SETTINGS, &[]),
        "azure" => (AZURE_SETTINGS, &[]),
        _ => return Ok(()),
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !settings.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        return Err(SqlError::parse(&format!(
            "The following required parameters are missing to create a repository of type \"{kind}\": [{}]",
            missing.join(", ")
        )));
    }
    let invalid: Vec<&str> = settings
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !invalid.is_empty() {
        return Err(SqlError::parse(&format!(
            "Invalid parameters specified: [{}]",
            invalid.join(", ")
        )));
    }
    Ok(())
}

/// Where a repository's snapshots live: `s3` → (`s3`, endpoint, bucket, base_path); `azure` →
/// (`azure`, endpoint, container, base_path); `fs` → (`fs`, location); any other type: the type
/// and its settings but the secret ones, sorted.
pub(crate) type Location = Vec<String>;

pub(crate) fn location_of(kind: &str, settings: &BTreeMap<String, String>) -> Location {
    let get = |k: &str| settings.get(k).cloned().unwrap_or_default();
    match kind {
        "s3" => vec![kind.into(), get("endpoint"), get("bucket"), get("base_path")],
        "azure" => vec![kind.into(), get("endpoint"), get("container"), get("base_path")],
        "fs" => vec![kind.into(), get("location")],
        other => std::iter::once(other.to_string())
            .chain(
                settings
                    .iter()
                    .filter(|(k, _)| !SECRET_SETTINGS.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}={v}")),
            )
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Repository {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) settings: BTreeMap<String, String>,
}

impl Repository {
    pub(crate) fn location(&self) -> Location {
        location_of(&self.kind, &self.settings)
    }

    fn readonly(&self) -> bool {
        self.settings
            .get("readonly")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) name: String,
    pub(crate) uuid: String,
    pub(crate) tables: Vec<TableSpec>,
    pub(crate) started: Duration,
    pub(crate) finishes: Duration,
    pub(crate) partial: bool,
    pub(crate) include_global_state: bool,
    pub(crate) settings: BTreeMap<String, String>,
    pub(crate) users: BTreeMap<String, Option<String>>,
    pub(crate) version: String,
    pub(crate) total_shards: u32,
    /// Rows of each index captured: `(schema, table, partition ident)` → rows.
    pub(crate) rows: BTreeMap<(String, String, Option<String>), u64>,
}

impl Snapshot {
    /// Finished at simulated time `t` (of the cluster looking).
    pub(crate) fn done_at(&self, t: Duration) -> bool {
        self.finishes <= t
    }

    pub(crate) fn state_at(&self, t: Duration) -> &'static str {
        match (self.done_at(t), self.partial) {
            (false, _) => "IN_PROGRESS",
            (true, true) => "PARTIAL",
            (true, false) => "SUCCESS",
        }
    }
}

/// The snapshots of every location, shared by every cluster of a simulation (a bucket or a
/// shared file system outlives the clusters that write to it).
#[derive(Debug, Default)]
pub struct ObjectStore {
    snapshots: BTreeMap<Location, Vec<Snapshot>>,
}

/// A handle on the [`ObjectStore`]; clones share it.
pub type SharedObjectStore = Arc<Mutex<ObjectStore>>;

/// One running restore; the indices it creates are identified by their uuids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Restore {
    pub(crate) uuid: String,
    pub(crate) repo: String,
    pub(crate) snapshot: String,
    pub(crate) index_uuids: Vec<String>,
}

/// A cluster's repositories and running restores.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Store {
    pub(crate) repos: Vec<Repository>,
    pub(crate) restores: Vec<Restore>,
}

impl Store {
    pub(crate) fn repo(&self, name: &str) -> Result<&Repository, SqlError> {
        self.repos
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| SqlError::repository_missing(name))
    }
}

/// What a snapshot or restore covers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scope {
    All,
    Metadata,
    /// `(schema, table, PARTITION (column = value, …))`; a NULL value is `None`.
    Tables(Vec<(String, String, Option<PartitionValues>)>),
    Sections(Vec<String>),
}

/// The `PARTITION (column = value, …)` of a statement, values as text.
pub(crate) type PartitionValues = Vec<(String, Option<String>)>;

/// The ident of the partition `values` name, checked against the table's partition columns as
/// CrateDB's `PartitionPropertiesAnalyzer.toPartitionName` checks them; the values are encoded
/// in `partitioned_by` order. A partitioned table without known columns takes the values in
/// the order written.
pub(crate) fn partition_ident_of(
    fqn: &str,
    partitioned: bool,
    partitioned_by: &[String],
    values: &PartitionValues,
) -> Result<String, SqlError> {
    if !partitioned {
        return Err(SqlError::parse(&format!("table '{fqn}' is not partitioned")));
    }
    if partitioned_by.is_empty() {
        let ordered: Vec<Option<&str>> = values.iter().map(|(_, v)| v.as_deref()).collect();
        return Ok(partition_ident(&ordered));
    }
    if values.len() != partitioned_by.len() {
        return Err(SqlError::parse(&format!(
            "The table \"{fqn}\" is partitioned by {} columns but the PARTITION clause contains {} columns",
            partitioned_by.len(),
            values.len()
        )));
    }
    if let Some((unknown, _)) = values.iter().find(|(c, _)| !partitioned_by.contains(c)) {
        return Err(SqlError::parse(&format!(
            "\"{unknown}\" is no known partition column"
        )));
    }
    let ordered: Vec<Option<&str>> = partitioned_by
        .iter()
        .map(|c| {
            values
                .iter()
                .find(|(name, _)| name == c)
                .and_then(|(_, v)| v.as_deref())
        })
        .collect();
    Ok(partition_ident(&ordered))
}

/// Persistent settings that hold custom analyzers: what `METADATA` and `ANALYZERS` restore.
const ANALYZER_SETTINGS_PREFIX: &str = "crate.analysis.custom.";

/// What a restore does to persistent settings (CrateDB's `RestoreService`: the target's
/// persistent settings are replaced by the snapshot's, all of them or only the analyzers').
#[derive(Debug, Clone, Copy, PartialEq)]
enum SettingsRestore {
    None,
    All,
    Analyzers,
}

/// The indices to restore (spec, partition), and what else.
#[derive(Debug, Clone, PartialEq)]
struct RestorePlan {
    tables: Vec<(TableSpec, Option<String>)>,
    settings: SettingsRestore,
    users: bool,
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
    /// The shared object store, locked (a poisoned lock is still consistent: every change is a
    /// single push or retain).
    pub(crate) fn objects(&self) -> MutexGuard<'_, ObjectStore> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The snapshots in the location of repository `repo` (a copy: the lock is not kept).
    pub(crate) fn snapshots_of(&self, repo: &Repository) -> Vec<Snapshot> {
        self.objects()
            .snapshots
            .get(&repo.location())
            .cloned()
            .unwrap_or_default()
    }

    /// Snapshot `name` of repository `repo` of this cluster.
    pub(crate) fn find_snapshot(&self, repo: &str, name: &str) -> Result<Snapshot, SqlError> {
        let repository = self.snaps.repo(repo)?;
        self.snapshots_of(repository)
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| SqlError::snapshot_missing(repo, name))
    }

    /// When the next snapshot in one of this cluster's locations finishes.
    pub(crate) fn snapshot_next_event(&self) -> Option<Duration> {
        let locations: Vec<Location> = self.snaps.repos.iter().map(Repository::location).collect();
        let objects = self.objects();
        locations
            .iter()
            .filter_map(|l| objects.snapshots.get(l))
            .flatten()
            .map(|s| s.finishes)
            .filter(|f| *f > self.clock)
            .min()
    }

    pub(crate) fn create_repository(
        &mut self,
        name: &str,
        kind: &str,
        settings: BTreeMap<String, String>,
    ) -> Result<(), SqlError> {
        if self.snaps.repos.iter().any(|r| r.name == name) {
            return Err(SqlError::repository_exists(name));
        }
        validate_repository(kind, &settings)?;
        self.snaps.repos.push(Repository {
            name: name.to_string(),
            kind: kind.to_string(),
            settings,
        });
        Ok(())
    }

    /// `DROP REPOSITORY`: refused while a restore from it, or a snapshot into it, is in the
    /// cluster state (CrateDB's `RepositoriesService.ensureRepositoryNotInUse`).
    pub(crate) fn drop_repository(&mut self, name: &str) -> Result<(), SqlError> {
        let repository = self.snaps.repo(name)?.clone();
        let snapshotting = self
            .snapshots_of(&repository)
            .iter()
            .any(|s| !s.done_at(self.clock));
        if snapshotting || self.snaps.restores.iter().any(|r| r.repo == name) {
            return Err(SqlError::new(
                "IllegalStateException",
                "trying to modify or unregister repository that is currently used",
                5000,
            ));
        }
        self.snaps.repos.retain(|r| r.name != name);
        Ok(())
    }

    pub(crate) fn create_snapshot(&mut self, repo: &str, name: &str, scope: &Scope) -> Result<(), SqlError> {
        let repository = self.snaps.repo(repo)?.clone();
        if repository.readonly() {
            return Err(SqlError::new(
                "RepositoryException",
                &format!("[{repo}] cannot create snapshot in a readonly repository"),
                5000,
            ));
        }
        check_snapshot_name(repo, name)?;
        if self.snapshots_of(&repository).iter().any(|s| s.name == name) {
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
        let mut rows = BTreeMap::new();
        for spec in &tables {
            let Some(table) = self.table(&spec.schema, &spec.name) else {
                continue;
            };
            for index in &table.indices {
                let wanted = match &index.partition {
                    Some(p) => spec.partitions.contains(p),
                    None => true,
                };
                if wanted {
                    rows.insert(
                        (spec.schema.clone(), spec.name.clone(), index.partition.clone()),
                        index.rows,
                    );
                }
            }
        }
        let snapshot = Snapshot {
            name: name.to_string(),
            uuid: uuid_from(&format!("snapshot/{repo}/{name}/{}", self.clock.as_millis())),
            tables,
            started: self.clock,
            finishes: self.clock + self.timings.snapshot_per_shard * total_shards,
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
            rows,
        };
        self.objects()
            .snapshots
            .entry(repository.location())
            .or_default()
            .push(snapshot);
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
            if let Some(values) = partition {
                let ident =
                    partition_ident_of(&table.fqn(), table.partitioned, &table.partitioned_by, values)?;
                if !spec.partitions.contains(&ident) {
                    return Err(SqlError::partition_unknown(&table.fqn(), &ident));
                }
                spec.partitions = vec![ident];
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

    /// Deletes the snapshot from the location, for every cluster that sees it.
    pub(crate) fn drop_snapshot(&mut self, repo: &str, name: &str) -> Result<(), SqlError> {
        self.find_snapshot(repo, name)?;
        let location = self.snaps.repo(repo)?.location();
        if let Some(list) = self.objects().snapshots.get_mut(&location) {
            list.retain(|s| s.name != name);
        }
        Ok(())
    }

    pub(crate) fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.schema == schema && t.name == name)
    }

    /// `RESTORE SNAPSHOT repo.snap …`.
    pub(crate) fn restore_snapshot(&mut self, repo: &str, name: &str, scope: &Scope) -> Result<(), SqlError> {
        let snapshot = self.find_snapshot(repo, name)?;
        let plan = self.restore_plan(&snapshot, scope)?;
        let mut index_uuids = Vec::new();
        for (spec, partition) in &plan.tables {
            let rows = snapshot
                .rows
                .get(&(spec.schema.clone(), spec.name.clone(), partition.clone()))
                .copied()
                .or(spec.rows)
                .unwrap_or(super::spec::DEFAULT_ROWS);
            let uuid = self.restore_index(spec, partition.as_deref(), rows)?;
            if self
                .faults
                .restore_fails
                .contains(&format!("{}.{}", spec.schema, spec.name))
            {
                let failing = format!("{repo}:{name}/{}", snapshot.uuid);
                if let Some(index) = self
                    .tables
                    .iter_mut()
                    .flat_map(|t| t.indices.iter_mut())
                    .find(|i| i.uuid == uuid)
                {
                    index.failing_restore = Some(failing);
                }
            }
            index_uuids.push(uuid);
        }
        match plan.settings {
            SettingsRestore::None => {}
            SettingsRestore::All => self.settings.restore_persistent(&snapshot.settings, None),
            SettingsRestore::Analyzers => self
                .settings
                .restore_persistent(&snapshot.settings, Some(ANALYZER_SETTINGS_PREFIX)),
        }
        // Only what the snapshot holds is put: one taken without global state has no users,
        // and the cluster's stay.
        if plan.users && !snapshot.users.is_empty() {
            self.users = snapshot.users.clone();
            // The superuser is built in: always there, never with a password.
            self.users.insert("crate".to_string(), None);
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

    /// What a restore of `scope` brings back.
    fn restore_plan(&self, snapshot: &Snapshot, scope: &Scope) -> Result<RestorePlan, SqlError> {
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
            Scope::All => Ok(RestorePlan {
                tables: every(snapshot),
                settings: SettingsRestore::All,
                users: true,
            }),
            Scope::Metadata => Ok(RestorePlan {
                tables: Vec::new(),
                settings: SettingsRestore::Analyzers,
                users: true,
            }),
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
                Ok(RestorePlan {
                    tables,
                    settings: if has("analyzers") {
                        SettingsRestore::Analyzers
                    } else {
                        SettingsRestore::None
                    },
                    users: has("users") || has("usermanagement"),
                })
            }
            Scope::Tables(wanted) => {
                let mut out = Vec::new();
                for (schema, name, partition) in wanted {
                    let spec = snapshot
                        .tables
                        .iter()
                        .find(|t| &t.schema == schema && &t.name == name)
                        .ok_or_else(|| SqlError::relation_unknown(&format!("{schema}.{name}")))?;
                    let fqn = format!("{schema}.{name}");
                    let ident = partition
                        .as_ref()
                        .map(|values| {
                            partition_ident_of(
                                &fqn,
                                !spec.partitions.is_empty(),
                                &spec.partitioned_by,
                                values,
                            )
                        })
                        .transpose()?;
                    match ident {
                        Some(p) if !spec.partitions.contains(&p) => {
                            return Err(SqlError::partition_unknown(&fqn, &p));
                        }
                        Some(p) => out.push((spec.clone(), Some(p))),
                        None if spec.partitions.is_empty() => out.push((spec.clone(), None)),
                        None => out.extend(spec.partitions.iter().map(|p| (spec.clone(), Some(p.clone())))),
                    }
                }
                Ok(RestorePlan {
                    tables: out,
                    settings: SettingsRestore::None,
                    users: false,
                })
            }
        }
    }

    pub(crate) fn version_of_cluster(&self) -> String {
        self.nodes.first().map(|n| n.version.clone()).unwrap_or_default()
    }

    /// Creates one restored index (a table or a partition); returns its uuid.
    fn restore_index(
        &mut self,
        spec: &TableSpec,
        partition: Option<&str>,
        rows: u64,
    ) -> Result<String, SqlError> {
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
            rows,
            partition: partition.map(String::from),
            uuid: uuid.clone(),
            replicas,
            groups,
            failing_restore: None,
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
                .is_none_or(|i| {
                    i.groups
                        .iter()
                        .all(|g| g.active_primary() || g.restore_failed.is_some())
                })
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
