//! The system tables, derived from the model on every query: their column types (for
//! `col_types` and unknown-column errors) and rows (nested JSON objects), with CrateDB's types,
//! casing and NULL/empty conventions (docs/cratedb-behaviour.md#system-tables).

use serde_json::{Map, Value, json};

use super::CrateCluster;
use super::model::{Copy, Routing};
use super::sql::error::SqlError;
use super::sql::types::{ColType, arr, obj};

/// A relation ready for the evaluator: its column types and rows.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    /// Top-level columns, in the order `SELECT *` shows them (alphabetical).
    pub(crate) columns: Vec<(String, ColType)>,
    pub(crate) rows: Vec<Map<String, Value>>,
}

impl Relation {
    fn new(columns: ColType, rows: Vec<Value>) -> Self {
        let mut columns = match columns {
            ColType::Object(children) => children,
            _ => Vec::new(),
        };
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        let rows = rows
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect();
        Self { columns, rows }
    }

    pub(crate) fn column_type(&self, name: &str) -> Option<&ColType> {
        self.columns.iter().find(|(c, _)| c == name).map(|(_, t)| t)
    }
}

use ColType::{Bigint, Boolean, DynObject, Integer, Real, Smallint, Text, Timestamp};

/// System tables CrateDB has that the simulator does not model (a loud error, not RelationUnknown).
const UNMODELLED: &[&str] = &[
    "sys.jobs_log",
    "sys.jobs_metrics",
    "sys.operations",
    "sys.operations_log",
    "sys.summits",
    "sys.roles",
    "sys.privileges",
    "sys.segments",
    "sys.health_checks",
    "information_schema.columns",
    "information_schema.schemata",
    "information_schema.views",
    "information_schema.routines",
    "information_schema.table_constraints",
    "information_schema.key_column_usage",
    "information_schema.referential_constraints",
    "information_schema.sql_features",
    "information_schema.character_sets",
];

/// Modelled system tables, for `information_schema.tables`.
const MODELLED: &[(&str, &str)] = &[
    ("sys", "allocations"),
    ("sys", "checks"),
    ("sys", "cluster"),
    ("sys", "cluster_health"),
    ("sys", "health"),
    ("sys", "jobs"),
    ("sys", "node_checks"),
    ("sys", "nodes"),
    ("sys", "repositories"),
    ("sys", "shards"),
    ("sys", "snapshot_restore"),
    ("sys", "snapshots"),
    ("sys", "users"),
    ("information_schema", "table_partitions"),
    ("information_schema", "tables"),
];

fn major(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

impl CrateCluster {
    /// Resolves `schema.name` (schema default `doc`) to a relation, as seen from `node` (the
    /// node the statement was sent to).
    pub(crate) fn relation(
        &self,
        schema: Option<&str>,
        name: &str,
        stmt: &str,
        node: &str,
    ) -> Result<Relation, SqlError> {
        let written = match schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_string(),
        };
        let schema = schema.unwrap_or("doc");
        let fqn = format!("{schema}.{name}");
        if UNMODELLED.contains(&fqn.as_str()) {
            return Err(SqlError::unsupported(
                &format!("system table {fqn} is not modelled"),
                stmt,
            ));
        }
        let rel = match fqn.as_str() {
            "sys.cluster" => self.sys_cluster(node),
            "sys.nodes" => self.sys_nodes(),
            "sys.node_checks" => self.sys_node_checks(),
            "sys.shards" => self.sys_shards(),
            "sys.health" => self.sys_health(),
            "sys.cluster_health" if major(&self.version_of_cluster()) >= 6 => self.sys_cluster_health(),
            "sys.allocations" => self.sys_allocations(),
            "sys.checks" => sys_checks(),
            "sys.snapshots" => self.sys_snapshots(),
            "sys.repositories" => self.sys_repositories(),
            "sys.snapshot_restore" => self.sys_snapshot_restore(),
            "sys.jobs" => self.sys_jobs(stmt, node),
            "sys.users" => self.sys_users(),
            "information_schema.tables" => self.information_tables(),
            "information_schema.table_partitions" => self.information_partitions(),
            _ if self.table(schema, name).is_some() => {
                return Err(SqlError::unsupported("querying user tables", stmt));
            }
            _ if ["sys", "information_schema", "pg_catalog", "doc"].contains(&schema)
                || self.tables.iter().any(|t| t.schema == schema) =>
            {
                return Err(SqlError::relation_unknown(&written));
            }
            _ => return Err(SqlError::schema_unknown(schema)),
        };
        Ok(rel)
    }

    fn node_name(&self, n: Option<usize>) -> Value {
        n.and_then(|i| self.nodes.get(i))
            .map(|x| Value::String(x.name.clone()))
            .unwrap_or(Value::Null)
    }

    fn node_id_of(&self, n: Option<usize>) -> Value {
        n.and_then(|i| self.nodes.get(i))
            .map(|x| Value::String(x.id.clone()))
            .unwrap_or(Value::Null)
    }

    /// `sys.cluster`; its `settings` are the cluster's, with the static `gateway.*` node
    /// settings of the node answering (each node shows its own start-up values).
    fn sys_cluster(&self, node: &str) -> Relation {
        let columns = obj(vec![
            ("id", Text),
            ("name", Text),
            ("master_node", Text),
            ("settings", super::settings::settings_type()),
            (
                "license",
                obj(vec![
                    ("expiry_date", Timestamp),
                    ("issued_to", Text),
                    ("max_nodes", Integer),
                ]),
            ),
        ]);
        let row = json!({
            "id": self.cluster_id,
            "name": self.name,
            "master_node": self.node_id_of(self.master),
            "settings": self.settings_seen_by(node),
            "license": {"expiry_date": null, "issued_to": null, "max_nodes": null},
        });
        Relation::new(columns, vec![row])
    }

    fn settings_seen_by(&self, node: &str) -> Value {
        let mut nested = self.settings.nested();
        let Some(n) = self.nodes.iter().find(|n| n.name == node) else {
            return nested;
        };
        let g = &n.gateway;
        let gateway = &mut nested["gateway"];
        for (key, value) in [
            ("expected_data_nodes", g.expected_data_nodes),
            ("recover_after_data_nodes", g.recover_after_data_nodes),
            ("expected_nodes", g.expected_nodes),
            ("recover_after_nodes", g.recover_after_nodes),
        ] {
            if let Some(value) = value {
                gateway[key] = json!(value);
            }
        }
        if let Some(time) = g.recover_after_time {
            let secs = time.as_secs();
            gateway["recover_after_time"] = json!(match secs {
                0 => "0s".to_string(),
                s if s % 3600 == 0 => format!("{}h", s / 3600),
                s if s % 60 == 0 => format!("{}m", s / 60),
                s => format!("{s}s"),
            });
        }
        nested
    }

    /// `sys.node_checks`: every member answers for its own checks (rows ordered by node, then
    /// check id), with the settings its process started with.
    fn sys_node_checks(&self) -> Relation {
        let columns = obj(vec![
            ("id", Integer),
            ("node_id", Text),
            ("severity", Integer),
            ("description", Text),
            ("passed", Boolean),
            ("acknowledged", Boolean),
        ]);
        let members = self.check_members();
        let mut rows = Vec::new();
        for n in self.nodes.iter().filter(|n| n.is_member()) {
            for (id, severity, text) in super::node_checks::CHECKS {
                rows.push(json!({
                    "id": id, "node_id": n.id, "severity": severity,
                    "description": super::node_checks::description(text, id),
                    "passed": super::node_checks::passes(id, &n.gateway, members),
                    "acknowledged": n.acknowledged_checks.contains(&id),
                }));
            }
        }
        Relation::new(columns, rows)
    }

    fn sys_nodes(&self) -> Relation {
        let columns = obj(vec![
            ("id", Text),
            ("name", Text),
            ("hostname", Text),
            ("rest_url", Text),
            ("is_master", Boolean),
            ("roles", arr(Text)),
            ("attributes", DynObject),
            ("cluster_state_version", Bigint),
            (
                "port",
                obj(vec![("http", Integer), ("transport", Integer), ("psql", Integer)]),
            ),
            (
                "load",
                obj(vec![
                    ("1", ColType::Double),
                    ("5", ColType::Double),
                    ("15", ColType::Double),
                    ("probe_timestamp", Timestamp),
                ]),
            ),
            (
                "mem",
                obj(vec![
                    ("used", Bigint),
                    ("free", Bigint),
                    ("used_percent", Smallint),
                    ("free_percent", Smallint),
                    ("probe_timestamp", Timestamp),
                ]),
            ),
            (
                "heap",
                obj(vec![
                    ("used", Bigint),
                    ("max", Bigint),
                    ("free", Bigint),
                    ("probe_timestamp", Timestamp),
                ]),
            ),
            (
                "version",
                obj(vec![
                    ("number", Text),
                    ("build_hash", Text),
                    ("build_snapshot", Boolean),
                    ("minimum_index_compatibility_version", Text),
                    ("minimum_wire_compatibility_version", Text),
                ]),
            ),
            (
                "fs",
                obj(vec![
                    (
                        "total",
                        obj(vec![
                            ("size", Bigint),
                            ("used", Bigint),
                            ("available", Bigint),
                            ("reads", Bigint),
                            ("bytes_read", Bigint),
                            ("writes", Bigint),
                            ("bytes_written", Bigint),
                        ]),
                    ),
                    (
                        "disks",
                        arr(obj(vec![
                            ("dev", Text),
                            ("size", Bigint),
                            ("used", Bigint),
                            ("available", Bigint),
                        ])),
                    ),
                    ("data", arr(obj(vec![("dev", Text), ("path", Text)]))),
                ]),
            ),
            (
                "os",
                obj(vec![
                    ("uptime", Bigint),
                    ("timestamp", Timestamp),
                    ("probe_timestamp", Timestamp),
                    (
                        "cpu",
                        obj(vec![("used", Smallint), ("system", Smallint), ("user", Smallint)]),
                    ),
                ]),
            ),
            (
                "os_info",
                obj(vec![
                    ("available_processors", Integer),
                    ("name", Text),
                    ("arch", Text),
                    ("version", Text),
                ]),
            ),
            (
                "process",
                obj(vec![
                    ("open_file_descriptors", Bigint),
                    ("max_open_file_descriptors", Bigint),
                    ("probe_timestamp", Timestamp),
                    ("cpu", obj(vec![("percent", Smallint)])),
                ]),
            ),
            (
                "connections",
                obj(vec![
                    ("http", obj(vec![("open", Bigint), ("total", Bigint)])),
                    ("psql", obj(vec![("open", Bigint), ("total", Bigint)])),
                    ("transport", obj(vec![("open", Bigint)])),
                ]),
            ),
            ("thread_pools", arr(DynObject)),
        ]);
        let rows = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_member())
            .map(|i| self.node_row(i))
            .collect();
        Relation::new(columns, rows)
    }

    fn node_row(&self, i: usize) -> Value {
        let n = &self.nodes[i];
        let now = self.epoch_at(self.clock);
        let uptime = i64::try_from(self.clock.saturating_sub(n.joined_at).as_millis()).unwrap_or(0);
        let mut roles = Vec::new();
        if n.master_eligible {
            roles.push("master_eligible");
        }
        if n.data {
            roles.push("data");
        }
        let group = n
            .name
            .rsplit_once('-')
            .map(|(p, _)| p.trim_start_matches("data-"))
            .unwrap_or("");
        let heap_max: i64 = 4 << 30;
        let shards = self.all_copies().filter(|c| c.node == Some(i)).count() as i64;
        let disk_used = shards * (1 << 20);
        let disk_size: i64 = 100 << 30;
        json!({
            "id": n.id, "name": n.name, "hostname": n.hostname,
            "rest_url": format!("{}:4200", n.ip),
            "is_master": self.master == Some(i),
            "roles": roles,
            "attributes": {"node_name": if n.master_eligible && !n.data { "master" } else { group }},
            "cluster_state_version": self.state_version,
            "port": {"http": 4200, "transport": 4300, "psql": 5432},
            "load": {"1": 0.5, "5": 0.4, "15": 0.3, "probe_timestamp": now},
            "mem": {"used": 6_i64 << 30, "free": 2_i64 << 30, "used_percent": 75, "free_percent": 25, "probe_timestamp": now},
            "heap": {"used": heap_max / 4, "max": heap_max, "free": heap_max - heap_max / 4, "probe_timestamp": now},
            "version": {
                "number": n.version, "build_hash": build_hash(&n.version), "build_snapshot": false,
                "minimum_index_compatibility_version": "5.0.0", "minimum_wire_compatibility_version": "5.0.0",
            },
            "fs": {
                "total": {"size": disk_size, "used": disk_used, "available": disk_size - disk_used,
                          "reads": 0, "bytes_read": 0, "writes": 0, "bytes_written": 0},
                "disks": [{"dev": "/dev/sda1", "size": disk_size, "used": disk_used, "available": disk_size - disk_used}],
                "data": [{"dev": "/dev/sda1", "path": "/data/data0"}],
            },
            "os": {"uptime": uptime, "timestamp": now, "probe_timestamp": now,
                   "cpu": {"used": -1, "system": -1, "user": -1}},
            "os_info": {"available_processors": 4, "name": "Linux", "arch": "amd64", "version": "6.1.0"},
            "process": {"open_file_descriptors": 512, "max_open_file_descriptors": 1_048_576,
                        "probe_timestamp": now, "cpu": {"percent": 3}},
            "connections": {"http": {"open": 1, "total": 1}, "psql": {"open": 0, "total": 0}, "transport": {"open": 0}},
            "thread_pools": [],
        })
    }

    fn sys_shards(&self) -> Relation {
        let pct = obj(vec![
            ("used", Bigint),
            ("reused", Bigint),
            ("recovered", Bigint),
            ("percent", Real),
        ]);
        let columns = obj(vec![
            ("schema_name", Text),
            ("table_name", Text),
            ("id", Integer),
            ("partition_ident", Text),
            ("primary", Boolean),
            ("state", Text),
            ("routing_state", Text),
            ("relocating_node", Text),
            ("orphan_partition", Boolean),
            ("num_docs", Bigint),
            ("size", Bigint),
            ("closed", Boolean),
            ("path", Text),
            ("node", obj(vec![("id", Text), ("name", Text)])),
            (
                "recovery",
                obj(vec![
                    ("stage", Text),
                    ("type", Text),
                    ("total_time", Bigint),
                    ("size", pct.clone()),
                    ("files", pct),
                ]),
            ),
        ]);
        let mut rows = Vec::new();
        for table in &self.tables {
            for index in &table.indices {
                let shards = u64::try_from(index.groups.len()).unwrap_or(1).max(1);
                for group in &index.groups {
                    // The rows split over the shards; a replica holds what its primary holds.
                    let docs = index.rows / shards + u64::from(u64::from(group.id) < index.rows % shards);
                    for copy in &group.copies {
                        rows.push(self.shard_row(
                            (&table.schema, &table.name),
                            index.partition.as_deref(),
                            (group.id, docs),
                            copy,
                        ));
                    }
                }
            }
        }
        Relation::new(columns, rows)
    }

    fn shard_row(
        &self,
        (schema, table): (&str, &str),
        partition: Option<&str>,
        (id, docs): (u32, u64),
        copy: &Copy,
    ) -> Value {
        let assigned = copy.node.is_some();
        let state = match copy.routing {
            Routing::Unassigned => "UNASSIGNED",
            Routing::Initializing => "RECOVERING",
            Routing::Started | Routing::Relocating => "STARTED",
        };
        let node = if assigned {
            json!({"id": self.node_id_of(copy.node), "name": self.node_name(copy.node)})
        } else {
            Value::Null
        };
        json!({
            "schema_name": schema, "table_name": table, "id": id,
            // '' for non-partitioned tables in sys.shards, NULL for unassigned rows
            // (docs/cratedb-behaviour.md#shards).
            "partition_ident": if assigned { Value::from(partition.unwrap_or("")) } else { partition.map(Value::from).unwrap_or(Value::Null) },
            "primary": copy.primary,
            "state": state,
            "routing_state": copy.routing.as_str(),
            "relocating_node": self.node_id_of(copy.relocating_to),
            "orphan_partition": false,
            "num_docs": if assigned { docs } else { 0 },
            "size": if assigned { 1 << 20 } else { 0 },
            "closed": false,
            "path": if assigned { Value::from(format!("/data/data0/nodes/0/indices/{table}/{id}")) } else { Value::Null },
            "node": node,
            "recovery": if assigned { self.recovery_object(copy) } else { Value::Null },
        })
    }

    fn recovery_object(&self, copy: &Copy) -> Value {
        let (started, done) = copy.recovery.unwrap_or_default();
        let total = done.saturating_sub(started).as_secs_f64();
        let elapsed = self.clock.saturating_sub(started).as_secs_f64();
        let fraction = if copy.routing == Routing::Initializing && total > 0.0 {
            (elapsed / total).min(1.0)
        } else {
            1.0
        };
        let stage = match (copy.routing, fraction) {
            (Routing::Initializing, f) if f < 0.8 => "INDEX",
            (Routing::Initializing, _) => "TRANSLOG",
            _ => "DONE",
        };
        let percent = (fraction * 1000.0).round() / 10.0;
        let bytes: i64 = 1 << 20;
        let recovered = (bytes as f64 * fraction) as i64;
        json!({
            "stage": stage,
            "type": copy.source.as_str(),
            "total_time": (elapsed.min(total) * 1000.0) as i64,
            "size": {"used": bytes, "reused": 0, "recovered": recovered, "percent": percent},
            "files": {"used": 10, "reused": 0, "recovered": (10.0 * fraction) as i64, "percent": percent},
        })
    }

    fn sys_health(&self) -> Relation {
        let columns = obj(vec![
            ("table_name", Text),
            ("table_schema", Text),
            ("partition_ident", Text),
            ("health", Text),
            ("severity", Smallint),
            ("missing_shards", Bigint),
            ("underreplicated_shards", Bigint),
        ]);
        let rows = self
            .health_rows()
            .into_iter()
            .map(|r| {
                json!({
                    "table_name": r.table, "table_schema": r.schema, "partition_ident": r.partition,
                    "health": r.health.as_str(), "severity": r.health.severity(),
                    "missing_shards": r.missing, "underreplicated_shards": r.underreplicated,
                })
            })
            .collect();
        Relation::new(columns, rows)
    }

    fn sys_cluster_health(&self) -> Relation {
        let columns = obj(vec![
            ("health", Text),
            ("severity", Smallint),
            ("description", Text),
            ("missing_shards", Bigint),
            ("underreplicated_shards", Bigint),
            ("pending_tasks", Bigint),
        ]);
        let rows = self.health_rows();
        let row = if self.master.is_none() {
            json!({"health": "RED", "severity": 3, "description": "No master node discovered",
                   "missing_shards": -1, "underreplicated_shards": -1, "pending_tasks": 0})
        } else {
            let health = self.cluster_health();
            let missing: i64 = rows.iter().map(|r| r.missing).sum();
            let under: i64 = rows.iter().map(|r| r.underreplicated).sum();
            let description = if health == super::Health::Red || missing > 0 {
                "One or more tables are missing shards"
            } else if health == super::Health::Yellow {
                "One or more tables have underreplicated shards"
            } else {
                ""
            };
            json!({"health": health.as_str(), "severity": health.severity(), "description": description,
                   "missing_shards": missing, "underreplicated_shards": under, "pending_tasks": 0})
        };
        Relation::new(columns, vec![row])
    }

    fn sys_allocations(&self) -> Relation {
        let columns = obj(vec![
            ("table_schema", Text),
            ("table_name", Text),
            ("partition_ident", Text),
            ("shard_id", Integer),
            ("node_id", Text),
            ("primary", Boolean),
            ("current_state", Text),
            ("explanation", Text),
            (
                "decisions",
                arr(obj(vec![
                    ("node_id", Text),
                    ("node_name", Text),
                    ("explanations", arr(Text)),
                ])),
            ),
        ]);
        let mut rows = Vec::new();
        for table in &self.tables {
            for index in &table.indices {
                for group in &index.groups {
                    for copy in &group.copies {
                        let Some((explanation, decisions)) = self.explain(group, copy) else {
                            continue;
                        };
                        rows.push(json!({
                            "table_schema": table.schema, "table_name": table.name,
                            "partition_ident": index.partition, "shard_id": group.id,
                            "node_id": self.node_id_of(copy.node), "primary": copy.primary,
                            "current_state": copy.routing.as_str(), "explanation": explanation,
                            "decisions": decisions,
                        }));
                    }
                }
            }
        }
        Relation::new(columns, rows)
    }

    fn sys_snapshots(&self) -> Relation {
        let columns = obj(vec![
            ("id", Text),
            ("name", Text),
            ("repository", Text),
            ("concrete_indices", arr(Text)),
            ("tables", arr(Text)),
            (
                "relations",
                arr(obj(vec![("table_schema", Text), ("table_name", Text)])),
            ),
            (
                "table_partitions",
                arr(obj(vec![
                    ("table_schema", Text),
                    ("table_name", Text),
                    ("values", arr(Text)),
                ])),
            ),
            ("started", Timestamp),
            ("finished", Timestamp),
            ("version", Text),
            ("state", Text),
            ("failures", arr(Text)),
            ("reason", Text),
            ("total_shards", Integer),
            ("include_global_state", Boolean),
        ]);
        let listed: Vec<(String, super::snapshots::Snapshot)> = self
            .snaps
            .repos
            .iter()
            .flat_map(|r| self.snapshots_of(r).into_iter().map(move |s| (r.name.clone(), s)))
            .collect();
        let rows = listed
            .iter()
            .map(|(repo, s)| {
                let mut concrete = Vec::new();
                let mut partitions = Vec::new();
                for t in &s.tables {
                    let prefix = if t.schema == "doc" { String::new() } else { format!("{}.", t.schema) };
                    if t.partitions.is_empty() {
                        concrete.push(format!("{prefix}{}", t.name));
                    }
                    for p in &t.partitions {
                        concrete.push(format!("{prefix}.partitioned.{}.{p}", t.name));
                        let values = super::model::partition_values(p).unwrap_or_default();
                        partitions.push(json!({"table_schema": t.schema, "table_name": t.name, "values": values}));
                    }
                }
                json!({
                    "id": s.uuid, "name": s.name, "repository": repo,
                    "concrete_indices": concrete,
                    "tables": s.tables.iter().map(|t| format!("{}.{}", t.schema, t.name)).collect::<Vec<_>>(),
                    "relations": s.tables.iter().map(|t| json!({"table_schema": t.schema, "table_name": t.name})).collect::<Vec<_>>(),
                    "table_partitions": partitions,
                    "started": self.epoch_at(s.started),
                    "finished": if s.done_at(self.clock) { self.epoch_at(s.finishes) } else { 0 },
                    "version": s.version, "state": s.state_at(self.clock), "failures": [],
                    "reason": if s.partial { Value::from("Indices don't have primary shards") } else { Value::Null },
                    "total_shards": s.total_shards, "include_global_state": s.include_global_state,
                })
            })
            .collect();
        Relation::new(columns, rows)
    }

    fn sys_repositories(&self) -> Relation {
        use super::snapshots::SECRET_SETTINGS as SECRET;
        let columns = obj(vec![("name", Text), ("type", Text), ("settings", DynObject)]);
        let rows = self
            .snaps
            .repos
            .iter()
            .map(|r| {
                let settings: Map<String, Value> = r
                    .settings
                    .iter()
                    .map(|(k, v)| {
                        let shown = if SECRET.contains(&k.as_str()) {
                            "[xxxxx]".to_string()
                        } else {
                            v.clone()
                        };
                        (k.clone(), Value::String(shown))
                    })
                    .collect();
                json!({"name": r.name, "type": r.kind, "settings": settings})
            })
            .collect();
        Relation::new(columns, rows)
    }

    /// `sys.jobs` (`io/crate/expression/reference/sys/job/JobContext.java`, one row per job
    /// running on the cluster): the query reading it (sent to `node`), and each
    /// `ALTER CLUSTER DECOMMISSION` still running (CrateDB answers it only once the node has
    /// left; dc_util and people send it as SQL). Other jobs are too short to be seen here.
    fn sys_jobs(&self, stmt: &str, node: &str) -> Relation {
        let columns = obj(vec![
            ("id", Text),
            ("node", obj(vec![("id", Text), ("name", Text)])),
            ("started", Timestamp),
            ("stmt", Text),
            ("username", Text),
        ]);
        let now = self.epoch_at(self.clock);
        let node_of = |name: &str| {
            let id = self
                .nodes
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.id.clone())
                .unwrap_or_default();
            json!({"id": id, "name": name})
        };
        let mut rows = vec![json!({
            "id": super::model::uuid_from(&format!("job/{}/{stmt}", self.state_version)),
            "node": node_of(node), "started": now, "stmt": stmt, "username": "crate",
        })];
        for n in self
            .nodes
            .iter()
            .filter(|n| n.decommission.is_some() && n.is_member())
        {
            rows.push(json!({
                "id": super::model::uuid_from(&format!("job/decommission/{}", n.id)),
                "node": node_of(&n.name), "started": now,
                "stmt": format!("ALTER CLUSTER DECOMMISSION '{}'", n.name), "username": "crate",
            }));
        }
        Relation::new(columns, rows)
    }

    fn sys_snapshot_restore(&self) -> Relation {
        let shard = obj(vec![
            ("table_schema", Text),
            ("table_name", Text),
            ("partition_ident", Text),
            ("shard_id", Integer),
            ("state", Text),
        ]);
        let columns = obj(vec![
            ("id", Text),
            ("name", Text),
            ("repository", Text),
            ("state", Text),
            ("shards", arr(shard)),
        ]);
        let rows = self
            .snaps
            .restores
            .iter()
            .map(|r| {
                let mut shards = Vec::new();
                for table in &self.tables {
                    for index in table.indices.iter().filter(|i| r.index_uuids.contains(&i.uuid)) {
                        for group in &index.groups {
                            let state = match group.copies.iter().find(|c| c.primary).map(|c| c.routing) {
                                Some(Routing::Started | Routing::Relocating) => "SUCCESS",
                                Some(Routing::Initializing) => "STARTED",
                                _ => "INIT",
                            };
                            shards.push(json!({"table_schema": table.schema, "table_name": table.name,
                                               "partition_ident": index.partition, "shard_id": group.id, "state": state}));
                        }
                    }
                }
                json!({"id": r.uuid, "name": r.snapshot, "repository": r.repo, "state": "STARTED", "shards": shards})
            })
            .collect();
        Relation::new(columns, rows)
    }

    /// `sys.users` (`io/crate/role/metadata/SysUsersTableInfo.java`): `password` is
    /// `'********'` when a password is set, NULL otherwise; only `crate` is a superuser.
    fn sys_users(&self) -> Relation {
        let columns = obj(vec![
            ("name", Text),
            ("superuser", Boolean),
            ("password", Text),
            ("jwt", obj(vec![("iss", Text), ("username", Text), ("aud", Text)])),
        ]);
        let rows = self
            .users
            .iter()
            .map(|(name, password)| {
                json!({
                    "name": name,
                    "superuser": name == "crate",
                    "password": password.as_ref().map(|_| "********"),
                    "jwt": self.user_jwt.get(name).map(|j| json!({"iss": j.iss, "username": j.username, "aud": j.aud})),
                })
            })
            .collect();
        Relation::new(columns, rows)
    }

    fn information_tables(&self) -> Relation {
        let columns = obj(vec![
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("table_type", Text),
            ("number_of_shards", Integer),
            ("number_of_replicas", Text),
            ("partitioned_by", arr(Text)),
            ("closed", Boolean),
            ("clustered_by", Text),
            ("column_policy", Text),
            ("blobs_path", Text),
            ("settings", DynObject),
            ("version", DynObject),
        ]);
        let version = self.version_of_cluster();
        let mut rows: Vec<Value> = self
            .tables
            .iter()
            .map(|t| {
                json!({
                    "table_catalog": "crate", "table_schema": t.schema, "table_name": t.name,
                    "table_type": "BASE TABLE", "number_of_shards": t.shards,
                    "number_of_replicas": t.replicas.text,
                    "partitioned_by": match (t.partitioned, t.partitioned_by.is_empty()) {
                        (false, _) => Value::Null,
                        (true, false) => json!(t.partitioned_by),
                        (true, true) => json!(["_partition"]),
                    },
                    "closed": false, "clustered_by": "_id", "column_policy": "strict", "blobs_path": null,
                    "settings": {"number_of_replicas": t.replicas.text,
                                 "routing": {"allocation": {"enable": "all"}},
                                 "unassigned": {"node_left": {"delayed_timeout": 60000}}},
                    "version": {"created": version, "upgraded": null},
                })
            })
            .collect();
        let cluster_health = major(&version) >= 6;
        for (schema, name) in MODELLED
            .iter()
            .filter(|(_, n)| *n != "cluster_health" || cluster_health)
        {
            rows.push(json!({
                "table_catalog": "crate", "table_schema": schema, "table_name": name, "table_type": "BASE TABLE",
                "number_of_shards": null, "number_of_replicas": null, "partitioned_by": null, "closed": null,
                "clustered_by": null, "column_policy": "strict", "blobs_path": null, "settings": null, "version": null,
            }));
        }
        Relation::new(columns, rows)
    }

    fn information_partitions(&self) -> Relation {
        let columns = obj(vec![
            ("table_catalog", Text),
            ("table_schema", Text),
            ("table_name", Text),
            ("partition_ident", Text),
            ("values", DynObject),
            ("number_of_shards", Integer),
            ("number_of_replicas", Text),
            ("closed", Boolean),
        ]);
        let rows = self
            .tables
            .iter()
            .flat_map(|t| t.indices.iter().map(move |i| (t, i)))
            .filter_map(|(t, i)| {
                let ident = i.partition.as_ref()?;
                Some(json!({
                    "table_catalog": "crate", "table_schema": t.schema, "table_name": t.name,
                    "partition_ident": ident, "values": partition_object(&t.partitioned_by, ident),
                    "number_of_shards": t.shards,
                    "number_of_replicas": i.replicas.text, "closed": false,
                }))
            })
            .collect();
        Relation::new(columns, rows)
    }
}

fn sys_checks() -> Relation {
    let columns = obj(vec![
        ("id", Integer),
        ("severity", Integer),
        ("description", Text),
        ("passed", Boolean),
    ]);
    let rows = vec![
        json!({"id": 2, "severity": 2, "passed": true,
               "description": "The total number of partitions of one or more partitioned tables should not be greater than 1000. A large amount of shards can significantly reduce performance."}),
        json!({"id": 3, "severity": 3, "passed": true,
               "description": "The following tables need to be recreated for compatibility with future major versions of CrateDB: []"}),
    ];
    Relation::new(columns, rows)
}

/// A stable 40-hex build hash per version.
pub(crate) fn build_hash(version: &str) -> String {
    let a = super::model::fnv64(version.as_bytes());
    let b = super::model::fnv64(format!("{version}/b").as_bytes());
    let c = super::model::fnv64(format!("{version}/c").as_bytes());
    format!("{a:016x}{b:016x}{c:08x}").chars().take(40).collect()
}

/// `information_schema.table_partitions.values`: each partition column with its value (as text:
/// the simulator does not type columns), decoded from the ident.
fn partition_object(partitioned_by: &[String], ident: &str) -> Value {
    let values = super::model::partition_values(ident).unwrap_or_default();
    let map: Map<String, Value> = partitioned_by
        .iter()
        .zip(values)
        .map(|(column, value)| (column.clone(), value.map_or(Value::Null, Value::String)))
        .collect();
    Value::Object(map)
}
