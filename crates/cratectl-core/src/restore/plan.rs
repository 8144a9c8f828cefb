//! Every check a restore makes before it writes anything, as one pure function of what was
//! read: the snapshot (state, version, tables), the cluster's tables and partitions, restores
//! already running and the operator's own restore request. The result is the plan (what is
//! restored, which internal `gc.*` tables are renamed away first) or the refusals, each naming
//! what is wrong and what would be valid.
//!
//! Rules (CrateDB's `RestoreService`: an existing table is `RelationAlreadyExists`, an existing
//! partition `PartitionAlreadyExistsException`; a snapshot written by a newer CrateDB cannot be
//! read):
//! * a whole table conflicts when it exists; a partition when that partition exists;
//! * internal `gc.*` tables (grand-central's) that exist are renamed to `<t>_temp` under
//!   `--gc-tables auto` and are conflicts under `skip`; a leftover `gc.<t>_temp` is refused
//!   (an earlier failed run left it; the operator then fails half-way);
//! * partition columns must be the table's `PARTITION BY` columns when the cluster knows them.

use serde::{Deserialize, Serialize};

use super::input::{PartitionSpec, Scope, TableName, version_tuple};

/// `--gc-tables`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GcMode {
    #[default]
    Auto,
    Skip,
}

impl GcMode {
    pub fn parse(input: &str) -> Result<GcMode, String> {
        match input {
            "auto" => Ok(GcMode::Auto),
            "skip" => Ok(GcMode::Skip),
            other => Err(format!("--gc-tables {other:?}: use auto or skip")),
        }
    }
}

/// The schema of grand-central's internal tables.
pub const GC_SCHEMA: &str = "gc";

/// A snapshot as `sys.snapshots` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFacts {
    pub repository: String,
    pub name: String,
    pub state: String,
    pub version: Option<String>,
    pub tables: Vec<TableName>,
    /// `table_partitions`: each partition's values in `PARTITION BY` order, as text.
    pub partitions: Vec<(TableName, Vec<Option<String>>)>,
}

/// A table of the cluster (`information_schema.tables`, base tables).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingTable {
    pub table: TableName,
    /// `partitioned_by` (empty when not partitioned).
    pub partitioned_by: Vec<String>,
    /// Each partition's values in `partitioned_by` order, as text.
    pub partitions: Vec<Vec<Option<String>>>,
}

/// Everything the checks read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub cluster_name: String,
    pub cluster_version: String,
    /// `None` when it cannot be read (a dry run that would have to create the repository).
    pub snapshot: Option<SnapshotFacts>,
    pub tables: Vec<ExistingTable>,
    /// `repository.snapshot` of each restore in `sys.snapshot_restore`.
    pub restores_running: Vec<String>,
    /// The resource's `spec.cluster.restoreSnapshot.snapshot`, when non-empty.
    pub operator_restore: Option<String>,
}

/// What the request asks, beyond its scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub scope: Scope,
    pub allow_partial: bool,
    pub gc_tables: GcMode,
}

/// One relation the restore creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relation {
    Table { table: TableName },
    Partition { spec: PartitionSpec },
}

impl Relation {
    pub fn table(&self) -> &TableName {
        match self {
            Relation::Table { table } => table,
            Relation::Partition { spec } => &spec.table,
        }
    }
}

/// One internal table renamed away before the restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcRename {
    pub table: TableName,
    pub renamed_to: TableName,
}

impl GcRename {
    fn of(table: &TableName) -> GcRename {
        GcRename {
            table: table.clone(),
            renamed_to: TableName::new(table.schema.clone(), format!("{}_temp", table.name)),
        }
    }
}

/// The checked plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestorePlan {
    pub relations: Vec<Relation>,
    pub gc_renames: Vec<GcRename>,
    pub warnings: Vec<String>,
}

/// The checks of `cratectl restore` (see the module documentation). Every refusal is returned,
/// not only the first.
pub fn check(request: &Request, facts: &Facts) -> Result<RestorePlan, Vec<String>> {
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    if let Err(e) = request.scope.check_version(&facts.cluster_version) {
        refusals.push(e);
    }
    if let Some(snapshot) = &facts.operator_restore {
        refusals.push(format!(
            "{} is busy: the CrateDB operator has a restore of snapshot {snapshot:?} requested in \
             spec.cluster.restoreSnapshot",
            facts.cluster_name
        ));
    }
    for running in &facts.restores_running {
        refusals.push(format!(
            "{} is busy: a restore of {running} is running (sys.snapshot_restore); wait for it or drop \
             the tables it restores",
            facts.cluster_name
        ));
    }
    let mut relations = Vec::new();
    if let Some(snapshot) = &facts.snapshot {
        check_snapshot(request, facts, snapshot, &mut refusals, &mut warnings);
        relations = planned_relations(&request.scope, snapshot, facts, &mut refusals);
    } else if !matches!(request.scope, Scope::Metadata) {
        // Without the snapshot the named tables are still checked against the cluster.
        if let Scope::Tables { tables, partitions } = &request.scope {
            relations.extend(tables.iter().map(|t| Relation::Table { table: t.clone() }));
            relations.extend(partitions.iter().map(|p| Relation::Partition { spec: p.clone() }));
            check_partition_columns(facts, &relations, &mut refusals);
        }
    }
    let (gc_renames, conflicts) = conflicts(request.gc_tables, facts, &relations, &mut refusals);
    if !conflicts.is_empty() {
        let names: Vec<String> = conflicts.iter().map(|c| c.to_string()).collect();
        refusals.push(format!(
            "{} already exist{} in {}; drop or rename {} first (CrateDB refuses to restore over an existing table)",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" },
            facts.cluster_name,
            if names.len() == 1 { "it" } else { "them" },
        ));
    }
    if refusals.is_empty() {
        Ok(RestorePlan {
            relations,
            gc_renames,
            warnings,
        })
    } else {
        Err(refusals)
    }
}

fn check_snapshot(
    request: &Request,
    facts: &Facts,
    snapshot: &SnapshotFacts,
    refusals: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let id = format!("{}.{}", snapshot.repository, snapshot.name);
    match snapshot.state.as_str() {
        "SUCCESS" => {}
        "PARTIAL" if request.allow_partial => warnings.push(format!(
            "snapshot {id} is PARTIAL: tables whose shards are missing in it are restored incompletely"
        )),
        "PARTIAL" => refusals.push(format!(
            "snapshot {id} is PARTIAL (some shards are missing in it); give --allow-partial to restore what it has"
        )),
        other => refusals.push(format!("snapshot {id} is {other}; only a SUCCESS snapshot can be restored")),
    }
    if let Some(version) = &snapshot.version
        && version_tuple(version) > version_tuple(&facts.cluster_version)
    {
        refusals.push(format!(
            "snapshot {id} was written by CrateDB {version}, newer than {}'s {}; CrateDB cannot restore it",
            facts.cluster_name, facts.cluster_version
        ));
    }
}

/// The relations the restore creates; tables and partitions asked for must be in the snapshot.
fn planned_relations(
    scope: &Scope,
    snapshot: &SnapshotFacts,
    facts: &Facts,
    refusals: &mut Vec<String>,
) -> Vec<Relation> {
    if scope.restores_every_table() {
        return snapshot
            .tables
            .iter()
            .map(|t| Relation::Table { table: t.clone() })
            .collect();
    }
    let Scope::Tables { tables, partitions } = scope else {
        return Vec::new();
    };
    let listing = || {
        let names: Vec<String> = snapshot.tables.iter().map(ToString::to_string).collect();
        if names.is_empty() {
            "it has no tables".to_string()
        } else {
            format!("it has {}", names.join(", "))
        }
    };
    let mut out = Vec::new();
    for table in tables {
        if !snapshot.tables.contains(table) {
            refusals.push(format!(
                "{table} is not in snapshot {} ({})",
                snapshot.name,
                listing()
            ));
        }
        out.push(Relation::Table { table: table.clone() });
    }
    for spec in partitions {
        if !snapshot.tables.contains(&spec.table) {
            refusals.push(format!(
                "{} is not in snapshot {} ({})",
                spec.table,
                snapshot.name,
                listing()
            ));
        }
        out.push(Relation::Partition { spec: spec.clone() });
    }
    check_partition_columns(facts, &out, refusals);
    // Partition membership in the snapshot, when the cluster tells the column order.
    for relation in &out {
        let Relation::Partition { spec } = relation else {
            continue;
        };
        let Some(existing) = facts.tables.iter().find(|t| t.table == spec.table) else {
            continue;
        };
        let Some(values) = spec.values_in_order(&existing.partitioned_by) else {
            continue;
        };
        let in_snapshot: Vec<&Vec<Option<String>>> = snapshot
            .partitions
            .iter()
            .filter(|(t, v)| *t == spec.table && !v.is_empty())
            .map(|(_, v)| v)
            .collect();
        if !in_snapshot.is_empty() && !in_snapshot.contains(&&values) {
            // CrateDB lists partition values as text (a timestamp as its epoch milliseconds):
            // showing them says how to write the one meant.
            let listed: Vec<String> = in_snapshot
                .iter()
                .map(|values| {
                    existing
                        .partitioned_by
                        .iter()
                        .zip(values.iter())
                        .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("null")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            refusals.push(format!(
                "partition {spec} is not in snapshot {} (its partitions of {}: {}; write the values as listed)",
                snapshot.name,
                spec.table,
                listed.join("; ")
            ));
        }
    }
    out
}

/// A partition's columns must be exactly the table's `PARTITION BY` columns (when known).
fn check_partition_columns(facts: &Facts, relations: &[Relation], refusals: &mut Vec<String>) {
    for relation in relations {
        let Relation::Partition { spec } = relation else {
            continue;
        };
        let Some(existing) = facts.tables.iter().find(|t| t.table == spec.table) else {
            continue;
        };
        if existing.partitioned_by.is_empty() {
            refusals.push(format!(
                "{} is not partitioned; restore it with --table {}",
                spec.table, spec.table
            ));
            continue;
        }
        let mut given: Vec<&String> = spec.columns.iter().map(|(c, _)| c).collect();
        let mut wanted: Vec<&String> = existing.partitioned_by.iter().collect();
        given.sort();
        wanted.sort();
        if given != wanted {
            refusals.push(format!(
                "partition {spec}: {} is partitioned by {}; give a value for each of them and nothing else",
                spec.table,
                existing.partitioned_by.join(", ")
            ));
        }
    }
}

/// The relations of `relations` that exist in the cluster (gc tables renamed away under
/// `auto` are not conflicts), as the dry run lists them.
pub fn existing_relations(gc: GcMode, facts: &Facts, relations: &[Relation]) -> Vec<String> {
    conflicts(gc, facts, relations, &mut Vec::new()).1
}

/// The relations a request names or implies: those of the plan when it passes, else the ones
/// it can tell without the snapshot.
pub fn relations_of(request: &Request, facts: &Facts) -> Vec<Relation> {
    match &facts.snapshot {
        Some(snapshot) => planned_relations(&request.scope, snapshot, facts, &mut Vec::new()),
        None => match &request.scope {
            Scope::Tables { tables, partitions } => tables
                .iter()
                .map(|t| Relation::Table { table: t.clone() })
                .chain(partitions.iter().map(|p| Relation::Partition { spec: p.clone() }))
                .collect(),
            _ => Vec::new(),
        },
    }
}

/// The gc renames and the relations that already exist (conflicts).
fn conflicts(
    gc: GcMode,
    facts: &Facts,
    relations: &[Relation],
    refusals: &mut Vec<String>,
) -> (Vec<GcRename>, Vec<String>) {
    let mut renames = Vec::new();
    let mut conflicts = Vec::new();
    let exists = |t: &TableName| facts.tables.iter().find(|e| &e.table == t);
    for relation in relations {
        match relation {
            Relation::Table { table } => {
                if exists(table).is_none() {
                    continue;
                }
                if table.schema == GC_SCHEMA && gc == GcMode::Auto {
                    let rename = GcRename::of(table);
                    if exists(&rename.renamed_to).is_some() {
                        refusals.push(format!(
                            "{} exists (left by an earlier restore); compare it with {table}, then drop the one \
                             that is not wanted",
                            rename.renamed_to
                        ));
                    }
                    renames.push(rename);
                } else {
                    conflicts.push(table.to_string());
                }
            }
            Relation::Partition { spec } => {
                let Some(existing) = exists(&spec.table) else {
                    continue;
                };
                let Some(values) = spec.values_in_order(&existing.partitioned_by) else {
                    continue;
                };
                if existing.partitions.contains(&values) {
                    conflicts.push(format!("partition {spec}"));
                }
            }
        }
    }
    (renames, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tn(s: &str) -> TableName {
        TableName::parse(s).expect(s)
    }

    fn facts() -> Facts {
        Facts {
            cluster_name: "crate/prod".into(),
            cluster_version: "5.10.3".into(),
            snapshot: Some(SnapshotFacts {
                repository: "backups".into(),
                name: "s1".into(),
                state: "SUCCESS".into(),
                version: Some("5.10.1".into()),
                tables: vec![tn("doc.events"), tn("doc.metrics"), tn("gc.scheduled_jobs")],
                partitions: vec![
                    (tn("doc.metrics"), vec![Some("1".into())]),
                    (tn("doc.metrics"), vec![Some("2".into())]),
                ],
            }),
            tables: vec![
                ExistingTable {
                    table: tn("doc.metrics"),
                    partitioned_by: vec!["day".into()],
                    partitions: vec![vec![Some("2".into())]],
                },
                ExistingTable {
                    table: tn("gc.scheduled_jobs"),
                    partitioned_by: vec![],
                    partitions: vec![],
                },
            ],
            restores_running: vec![],
            operator_restore: None,
        }
    }

    fn request(scope: Scope) -> Request {
        Request {
            scope,
            allow_partial: false,
            gc_tables: GcMode::Auto,
        }
    }

    fn tables(t: &[&str], p: &[&str]) -> Scope {
        Scope::Tables {
            tables: t.iter().map(|s| tn(s)).collect(),
            partitions: p.iter().map(|s| PartitionSpec::parse(s).expect(s)).collect(),
        }
    }

    #[test]
    fn a_table_and_a_new_partition_pass() {
        let plan = check(&request(tables(&["events"], &["metrics:day=1"])), &facts()).expect("plan");
        assert_eq!(plan.relations.len(), 2);
        assert!(plan.gc_renames.is_empty());
    }

    #[test]
    fn existing_relations_are_listed() {
        let err = check(&request(tables(&["metrics"], &["metrics:day=2"])), &facts()).unwrap_err();
        assert_eq!(
            err,
            vec![
                "doc.metrics, partition doc.metrics:day=2 already exist in crate/prod; drop or rename them first \
                 (CrateDB refuses to restore over an existing table)"
            ]
        );
    }

    #[test]
    fn gc_tables_are_renamed_under_auto_and_conflicts_under_skip() {
        let mut f = facts();
        f.tables.retain(|t| t.table.schema == "gc");
        let plan = check(&request(Scope::TablesAll), &f).expect("plan");
        assert_eq!(plan.gc_renames, vec![GcRename::of(&tn("gc.scheduled_jobs"))]);
        assert_eq!(plan.gc_renames[0].renamed_to, tn("gc.scheduled_jobs_temp"));
        let mut skip = request(Scope::TablesAll);
        skip.gc_tables = GcMode::Skip;
        assert!(check(&skip, &f).unwrap_err()[0].starts_with("gc.scheduled_jobs already exists"));
        f.tables.push(ExistingTable {
            table: tn("gc.scheduled_jobs_temp"),
            partitioned_by: vec![],
            partitions: vec![],
        });
        assert!(check(&request(Scope::TablesAll), &f).unwrap_err()[0].contains("left by an earlier restore"));
    }

    #[test]
    fn snapshot_state_version_and_membership() {
        let mut f = facts();
        f.tables.clear();
        let s = f.snapshot.as_mut().expect("snapshot");
        s.state = "PARTIAL".into();
        s.version = Some("6.0.0".into());
        let err = check(&request(tables(&["nope"], &[])), &f).unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].contains("--allow-partial"));
        assert!(err[1].contains("newer than crate/prod's 5.10.3"));
        assert_eq!(
            err[2],
            "doc.nope is not in snapshot s1 (it has doc.events, doc.metrics, gc.scheduled_jobs)"
        );
        let mut partial = request(tables(&["events"], &[]));
        partial.allow_partial = true;
        f.snapshot.as_mut().expect("snapshot").version = None;
        assert_eq!(check(&partial, &f).expect("plan").warnings.len(), 1);
    }

    #[test]
    fn partitions_need_the_partition_columns_and_must_be_in_the_snapshot() {
        let err = check(&request(tables(&[], &["metrics:hour=1"])), &facts()).unwrap_err();
        assert!(err[0].contains("partitioned by day"), "{err:?}");
        let err = check(&request(tables(&[], &["metrics:day=3"])), &facts()).unwrap_err();
        assert_eq!(
            err,
            vec![
                "partition doc.metrics:day=3 is not in snapshot s1 (its partitions of doc.metrics: day=1; day=2; write \
                  the values as listed)"
            ]
        );
        let mut f = facts();
        f.tables[1].partitioned_by.clear();
        f.snapshot
            .as_mut()
            .expect("snapshot")
            .tables
            .push(tn("doc.events"));
        f.tables.push(ExistingTable {
            table: tn("doc.events"),
            partitioned_by: vec![],
            partitions: vec![],
        });
        let err = check(&request(tables(&[], &["events:day=1"])), &f).unwrap_err();
        assert!(err[0].contains("is not partitioned"), "{err:?}");
    }

    #[test]
    fn busy_and_sections_by_version() {
        let mut f = facts();
        f.restores_running = vec!["backups.s0".into()];
        f.operator_restore = Some("s9".into());
        f.cluster_version = "6.5.0".into();
        let scope = Scope::Sections {
            sections: vec![super::super::input::Section::Users],
        };
        let err = check(&request(scope), &f).unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].contains("use \"usermanagement\""));
        assert!(err[1].contains("spec.cluster.restoreSnapshot"));
        assert!(err[2].contains("a restore of backups.s0 is running"));
    }

    #[test]
    fn without_the_snapshot_named_tables_are_still_checked() {
        let mut f = facts();
        f.snapshot = None;
        assert!(check(&request(tables(&["metrics"], &[])), &f).is_err());
        assert!(
            check(&request(Scope::All), &f)
                .expect("plan")
                .relations
                .is_empty()
        );
    }
}
