//! Scenario files: what `cratesim serve --scenario FILE` simulates. YAML (JSON is YAML too):
//! the Kubernetes nodes, the CrateDB clusters with their node groups, dc_util hooks and tables,
//! and the faults in force from the start. `scenarios/example.yaml` in this crate documents every key.
//!
//! Parsing is strict: an unknown key, a value of the wrong type or a name Kubernetes would refuse
//! is an error naming the file, the place and what would be valid; nothing falls back to a
//! default silently.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::cratedb::{TableSpec, partition_ident};
use crate::faults::Fault;
use crate::nodes::KubeNode;
use crate::operator::{
    ClusterShape, DEFAULT_DC_UTIL_COMMAND, dns_label, limits, validate_cluster_count, validate_fleet,
};

/// A whole scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Kubernetes nodes; empty means the default three (`node-0` … `node-2`).
    #[serde(default)]
    pub nodes: Vec<KubeNode>,
    pub clusters: Vec<ClusterDef>,
    /// Applied in order once the clusters exist (see [`crate::faults`]).
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// One CrateDB cluster as the file writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterDef {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub masters: u32,
    #[serde(default = "default_data_groups")]
    pub data_groups: Vec<DataGroup>,
    #[serde(default)]
    pub dc_util_hook: bool,
    #[serde(default = "default_dc_util_command")]
    pub dc_util_command: String,
    /// dc_util's `--reset-routing` postStart hook; see [`ClusterShape::dc_util_post_start`].
    #[serde(default)]
    pub dc_util_post_start: bool,
    #[serde(default = "default_grace")]
    pub termination_grace_period_seconds: u32,
    /// Default: `cratesim-<name>`.
    pub system_password: Option<String>,
    /// Absent: `doc.events` and the partitioned `doc.metrics`; `[]`: no tables.
    pub tables: Option<Vec<TableDef>>,
    /// The operator's host-based auth (default `true`); see [`ClusterShape::host_based_auth`].
    #[serde(default = "default_true")]
    pub host_based_auth: bool,
    /// Whether the crate-operator manages the cluster (default `true`); see
    /// [`ClusterShape::operator`].
    #[serde(default = "default_true")]
    pub operator: bool,
    /// Whether the cluster runs grand-central (default `false`); see
    /// [`ClusterShape::grand_central`].
    #[serde(default)]
    pub grand_central: bool,
    /// Whether the cluster has backups configured (default `false`); see
    /// [`ClusterShape::backups`].
    #[serde(default)]
    pub backups: bool,
}

/// A data node group.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataGroup {
    pub name: String,
    pub replicas: u32,
}

/// A user table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    #[serde(default = "default_schema")]
    pub schema: String,
    pub name: String,
    #[serde(default = "default_shards")]
    pub shards: u32,
    #[serde(default = "default_replicas")]
    pub replicas: Replicas,
    /// Values of the partition column, one partition each; empty: not partitioned.
    #[serde(default)]
    pub partitions: Vec<String>,
    /// The partition column's name (default `day`); one column, as `partitions` gives one
    /// value per partition.
    pub partitioned_by: Option<String>,
    /// Rows of the table, or of each partition (default 1000).
    pub rows: Option<u64>,
}

/// `number_of_replicas`: a number (`1`) or CrateDB's text (`"0-1"`, `"0-all"`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Replicas {
    Count(u32),
    Text(String),
}

fn default_true() -> bool {
    true
}
fn default_namespace() -> String {
    "cratedb".into()
}
fn default_version() -> String {
    "5.10.3".into()
}
fn default_data_groups() -> Vec<DataGroup> {
    vec![DataGroup {
        name: "hot".into(),
        replicas: 3,
    }]
}
fn default_dc_util_command() -> String {
    DEFAULT_DC_UTIL_COMMAND.into()
}
fn default_grace() -> u32 {
    1800
}
fn default_schema() -> String {
    "doc".into()
}
fn default_shards() -> u32 {
    4
}
fn default_replicas() -> Replicas {
    Replicas::Count(1)
}

/// The largest scenario file read: 16 MiB, more than a scenario at every [limit](limits)
/// takes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The text of the regular file at `path`, at most [`MAX_FILE_BYTES`]. A path that is not a
/// regular file (`/dev/zero`, a directory, a FIFO) is refused before it is opened (a FIFO would
/// block until a writer came), a larger file by its size, and the read stops one byte past the
/// limit whatever the size said. cratectl reads its own files the same way; cratesim depends on
/// no other crate of the workspace, so it does not share that code.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;

    let check = |metadata: std::fs::Metadata| {
        if !metadata.is_file() {
            let kind = if metadata.is_dir() {
                "a directory"
            } else {
                "a device, FIFO or socket"
            };
            return Err(format!("not a regular file (it is {kind})"));
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(format!(
                "it is {} bytes; the limit is {MAX_FILE_BYTES} bytes (16 MiB)",
                metadata.len()
            ));
        }
        Ok(())
    };
    check(std::fs::metadata(path).map_err(|e| e.to_string())?)?;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    check(file.metadata().map_err(|e| e.to_string())?)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
        return Err(format!(
            "it holds more than {MAX_FILE_BYTES} bytes (16 MiB), the limit"
        ));
    }
    Ok(text)
}

impl ClusterDef {
    /// The shape the operator stand-in materialises.
    pub fn shape(&self) -> ClusterShape {
        let tables = match &self.tables {
            None => ClusterShape::default_tables(),
            Some(tables) => tables.iter().map(TableDef::spec).collect(),
        };
        ClusterShape {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            version: self.version.clone(),
            masters: self.masters,
            data_groups: self
                .data_groups
                .iter()
                .map(|g| (g.name.clone(), g.replicas))
                .collect(),
            dc_util_hook: self.dc_util_hook,
            dc_util_command: self.dc_util_command.clone(),
            dc_util_post_start: self.dc_util_post_start,
            termination_grace_period_seconds: self.termination_grace_period_seconds,
            system_password: self
                .system_password
                .clone()
                .unwrap_or_else(|| format!("cratesim-{}", self.name)),
            tables,
            host_based_auth: self.host_based_auth,
            operator: self.operator,
            grand_central: self.grand_central,
            backups: self.backups,
            settings: Vec::new(),
        }
    }
}

impl TableDef {
    fn spec(&self) -> TableSpec {
        TableSpec {
            schema: self.schema.clone(),
            name: self.name.clone(),
            shards: self.shards,
            replicas: match &self.replicas {
                Replicas::Count(n) => n.to_string(),
                Replicas::Text(text) => text.clone(),
            },
            partitions: self
                .partitions
                .iter()
                .map(|value| partition_ident(&[Some(value.as_str())]))
                .collect(),
            partitioned_by: if self.partitions.is_empty() {
                Vec::new()
            } else {
                vec![self.partitioned_by.clone().unwrap_or_else(|| "day".into())]
            },
            rows: self.rows,
        }
    }
}

impl Scenario {
    /// Parses and checks a scenario; `origin` names it in errors (a file path).
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, String> {
        let scenario: Scenario =
            serde_yaml_ng::from_str(text).map_err(|e| format!("scenario {origin}: {e}"))?;
        scenario.check().map_err(|e| format!("scenario {origin}: {e}"))?;
        Ok(scenario)
    }

    /// Reads and parses the scenario file at `path`: a regular file of at most
    /// [`MAX_FILE_BYTES`] (see [`read_bounded`]).
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = read_bounded(path).map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
        Scenario::parse(&text, &path.display().to_string())
    }

    /// The cluster shapes, in file order.
    pub fn shapes(&self) -> Vec<ClusterShape> {
        self.clusters.iter().map(ClusterDef::shape).collect()
    }

    /// What serde cannot check: names, duplicates, and each cluster's shape.
    fn check(&self) -> Result<(), String> {
        if self.clusters.is_empty() {
            return Err("clusters: at least one cluster is needed".into());
        }
        validate_cluster_count(self.clusters.len())?;
        if self.nodes.len() > limits::KUBE_NODES {
            return Err(format!(
                "nodes: {} Kubernetes nodes is over the limit of {}",
                self.nodes.len(),
                limits::KUBE_NODES
            ));
        }
        let mut nodes = BTreeSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            dns_label(&node.name).map_err(|e| format!("nodes[{i}].name: {e}"))?;
            if !nodes.insert(&node.name) {
                return Err(format!("nodes[{i}]: node {:?} appears twice", node.name));
            }
        }
        let mut clusters = BTreeSet::new();
        for (i, cluster) in self.clusters.iter().enumerate() {
            if let Some(tables) = &cluster.tables {
                for (t, table) in tables.iter().enumerate() {
                    if table.partitioned_by.is_some() && table.partitions.is_empty() {
                        return Err(format!(
                            "clusters[{i}].tables[{t}].partitioned_by: set without partitions (give the \
                             partition values in `partitions`)"
                        ));
                    }
                    if let Replicas::Text(text) = &table.replicas
                        && text.trim().is_empty()
                    {
                        return Err(format!(
                            "clusters[{i}].tables[{t}].replicas: empty (use a number, \"0-1\" or \"0-all\")"
                        ));
                    }
                }
            }
            cluster
                .shape()
                .validate()
                .map_err(|e| format!("clusters[{i}]: {e}"))?;
            if !clusters.insert((&cluster.namespace, &cluster.name)) {
                return Err(format!(
                    "clusters[{i}]: cluster {}/{} appears twice",
                    cluster.namespace, cluster.name
                ));
            }
        }
        validate_fleet(&self.shapes())?;
        for (i, fault) in self.faults.iter().enumerate() {
            fault.validate().map_err(|e| format!("faults[{i}]: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let scenario = Scenario::parse("clusters: [{name: alpha}]", "t.yaml").unwrap();
        let shape = &scenario.shapes()[0];
        assert_eq!(shape.namespace, "cratedb");
        assert_eq!(shape.data_groups, vec![("hot".to_string(), 3)]);
        assert_eq!(shape.tables, ClusterShape::default_tables());
        assert_eq!(shape.system_password, "cratesim-alpha");
        assert!(scenario.nodes.is_empty() && scenario.faults.is_empty());
    }

    #[test]
    fn tables_take_numbers_or_text_for_replicas_and_values_for_partitions() {
        let scenario = Scenario::parse(
            "clusters:\n  - name: a\n    tables:\n      - {name: t, replicas: 2}\n      - {name: p, replicas: \"0-1\", partitions: [\"1395961200000\"]}\n",
            "t.yaml",
        )
        .unwrap();
        let tables = &scenario.shapes()[0].tables;
        assert_eq!(tables[0].replicas, "2");
        assert_eq!(tables[0].shards, 4);
        assert_eq!(tables[1].replicas, "0-1");
        assert_eq!(tables[1].partitions, vec!["04732cpp6ksjcc9i60o30c1g".to_string()]);
        assert_eq!(tables[1].partitioned_by, vec!["day".to_string()]);
        assert_eq!((tables[0].rows, tables[0].partitioned_by.len()), (None, 0));
        let named = Scenario::parse(
            "clusters: [{name: a, tables: [{name: p, partitions: [\"x\"], partitioned_by: region, rows: 7}]}]",
            "t.yaml",
        )
        .unwrap();
        let table = &named.shapes()[0].tables[0];
        assert_eq!(
            (table.partitioned_by.clone(), table.rows),
            (vec!["region".to_string()], Some(7))
        );
        assert!(
            Scenario::parse(
                "clusters: [{name: a, tables: [{name: t, partitioned_by: d}]}]",
                "t.yaml"
            )
            .unwrap_err()
            .contains("partitioned_by: set without partitions")
        );
    }

    #[test]
    fn errors_name_the_file_the_place_and_the_value() {
        let unknown = Scenario::parse("clusters:\n  - name: a\n    colour: red\n", "s.yaml").unwrap_err();
        assert!(unknown.starts_with("scenario s.yaml: "), "{unknown}");
        assert!(
            unknown.contains("colour") && unknown.contains("line 3"),
            "{unknown}"
        );

        let bad_name = Scenario::parse("clusters: [{name: Alpha_1}]", "s.yaml").unwrap_err();
        assert!(
            bad_name.contains("clusters[0]") && bad_name.contains("\"Alpha_1\""),
            "{bad_name}"
        );

        let twice = Scenario::parse("clusters: [{name: a}, {name: a}]", "s.yaml").unwrap_err();
        assert!(
            twice.contains("clusters[1]") && twice.contains("appears twice"),
            "{twice}"
        );

        let replicas = Scenario::parse(
            "clusters: [{name: a, tables: [{name: t, replicas: \"many\"}]}]",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            replicas.contains("\"many\"") && replicas.contains("0-all"),
            "{replicas}"
        );

        let effect = Scenario::parse(
            "nodes: [{name: n, taints: [{key: k, effect: Sometimes}]}]\nclusters: [{name: a}]",
            "s.yaml",
        )
        .unwrap_err();
        assert!(
            effect.contains("Sometimes") && effect.contains("NoSchedule"),
            "{effect}"
        );

        let fault = Scenario::parse("clusters: [{name: a}]\nfaults: [{kind: meteor}]", "s.yaml").unwrap_err();
        assert!(fault.contains("meteor"), "{fault}");

        // YAML, unlike JSON, can write infinity and NaN.
        for (factor, shown) in [(".inf", "inf"), (".nan", "NaN"), ("-1", "-1.0")] {
            let slow = Scenario::parse(
                &format!(
                    "clusters: [{{name: a}}]\nfaults:\n  - {{kind: api_error, code: 503, count: 1}}\n  - {{kind: slow_recovery, namespace: cratedb, cluster: a, factor: {factor}}}\n"
                ),
                "s.yaml",
            )
            .unwrap_err();
            assert!(
                slow.starts_with(&format!(
                    "scenario s.yaml: faults[1]: slow_recovery factor {shown} is out of range"
                )),
                "{slow}"
            );
        }

        let none = Scenario::parse("clusters: []", "s.yaml").unwrap_err();
        assert!(none.contains("at least one cluster"), "{none}");
    }

    /// `clusters:` with `n` clusters written by `cluster(i)`.
    fn fleet(n: usize, cluster: impl Fn(usize) -> String) -> String {
        let mut yaml = String::from("clusters:\n");
        for i in 0..n {
            yaml.push_str(&format!("  - {}\n", cluster(i)));
        }
        yaml
    }

    #[test]
    fn a_scenario_too_large_to_serve_is_refused_naming_the_field_the_value_and_the_limit() {
        let tables =
            |n: usize, table: &dyn Fn(usize) -> String| (0..n).map(table).collect::<Vec<_>>().join(", ");
        let partitions = (0..1001)
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes = (0..1001)
            .map(|n| format!("{{name: n{n}}}"))
            .collect::<Vec<_>>()
            .join(", ");
        for (yaml, expected) in [
            (
                fleet(101, |i| format!("{{name: c{i}}}")),
                "scenario s.yaml: clusters: 101 clusters is over the limit of 100".to_string(),
            ),
            (
                format!("nodes: [{nodes}]\nclusters: [{{name: a}}]"),
                "scenario s.yaml: nodes: 1001 Kubernetes nodes is over the limit of 1000".into(),
            ),
            (
                "clusters: [{name: a, masters: 3, data_groups: [{name: hot, replicas: 500}, {name: cold, replicas: 498}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": 1001 CrateDB nodes (masters 3 + data_groups 998) is over the limit of 1000 per cluster".into(),
            ),
            (
                "clusters: [{name: a, masters: 4294967295, data_groups: [{name: hot, replicas: 4294967295}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": 8589934590 CrateDB nodes".into(),
            ),
            (
                format!(
                    "clusters: [{{name: a, tables: [{}]}}]",
                    tables(1001, &|t| format!("{{name: t{t}, shards: 1, replicas: 0}}"))
                ),
                "scenario s.yaml: clusters[0]: cluster \"a\": tables: 1001 tables is over the limit of 1000 per cluster".into(),
            ),
            (
                "clusters: [{name: a, tables: [{name: t, shards: 1001}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": table doc.t: shards 1001 is over the limit of 1000".into(),
            ),
            (
                format!("clusters: [{{name: a, tables: [{{name: t, shards: 1, partitions: [{partitions}]}}]}}]"),
                "scenario s.yaml: clusters[0]: cluster \"a\": table doc.t: partitions: 1001 partitions is over the limit of 1000".into(),
            ),
            (
                "clusters: [{name: a, tables: [{name: t, shards: 1000, replicas: 10}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": tables: 11000 shard copies (shards × partitions × (1 + replicas), over every table) is over the limit of 10000 per cluster".into(),
            ),
            (
                "clusters: [{name: a, tables: [{name: t, shards: 1, replicas: \"99999999999999999999999\"}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": tables: 18446744073709551615 shard copies".into(),
            ),
            (
                "clusters: [{name: a, data_groups: [{name: hot, replicas: 1000}], tables: [{name: t, shards: 200, replicas: 1}]}]".into(),
                "scenario s.yaml: clusters[0]: cluster \"a\": 1000 data nodes with 400 shard copies are too many to simulate promptly: data nodes × copies² is 160000000, over the limit of 100000000; with 1000 data nodes, use at most 316 shard copies".into(),
            ),
            (
                fleet(3, |i| format!("{{name: c{i}, data_groups: [{{name: hot, replicas: 700}}], tables: []}}")),
                "scenario s.yaml: clusters: 2100 CrateDB nodes in all clusters is over the limit of 2000".into(),
            ),
            (
                fleet(11, |i| format!("{{name: c{i}, data_groups: [{{name: hot, replicas: 1}}], tables: [{{name: t, shards: 1000, replicas: 9}}]}}")),
                "scenario s.yaml: clusters: 110000 shard copies in all clusters is over the limit of 100000".into(),
            ),
            (
                fleet(2, |i| format!("{{name: c{i}, data_groups: [{{name: hot, replicas: 1}}], tables: [{{name: t, shards: 1000, replicas: 7}}]}}")),
                "scenario s.yaml: clusters: the clusters together are too large to simulate promptly: data nodes × shard copies², summed over the clusters, is 128000000, over the limit of 100000000".into(),
            ),
        ] {
            let error = Scenario::parse(&yaml, "s.yaml").unwrap_err();
            assert!(error.starts_with(&expected), "{error}\nexpected: {expected}");
        }
    }

    #[test]
    fn scenarios_at_the_limits_are_accepted() {
        let partitions = (0..1000)
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        for yaml in [
            fleet(100, |i| format!("{{name: c{i}}}")),
            "clusters: [{name: a, masters: 3, data_groups: [{name: hot, replicas: 997}]}]".into(),
            "clusters: [{name: a, data_groups: [{name: hot, replicas: 1000}], tables: [{name: t, shards: 158, replicas: 1}]}]".into(),
            "clusters: [{name: a, data_groups: [{name: hot, replicas: 1}], tables: [{name: t, shards: 1000, replicas: 9}]}]".into(),
            format!("clusters: [{{name: a, data_groups: [{{name: hot, replicas: 1}}], tables: [{{name: t, shards: 1, replicas: 0, partitions: [{partitions}]}}]}}]"),
            fleet(2, |i| format!("{{name: c{i}, data_groups: [{{name: hot, replicas: 1000}}], tables: []}}")),
        ] {
            let scenario = Scenario::parse(&yaml, "s.yaml");
            assert!(scenario.is_ok(), "{}: {:?}", &yaml[..yaml.len().min(120)], scenario.err());
        }
    }

    #[test]
    fn the_shipped_example_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.yaml");
        let scenario = Scenario::load(Path::new(path)).unwrap();
        assert!(scenario.clusters.len() >= 2);
        assert!(scenario.nodes.iter().any(|n| !n.taints.is_empty()));
        assert!(!scenario.faults.is_empty());
    }
}
