//! The CrateDB operator stand-in: turns a `CrateDB` resource into the objects the real operator
//! creates, with its names and labels (docs/crate-operator-behaviour.md#names and #labels): a
//! StatefulSet per node group (`crate-master-<name>`, `crate-data-<group>-<name>`), their pods
//! (`<sts>-<ordinal>`), the client and discovery Services, and the `user-system-<name>` Secret.
//!
//! The pods run the operator's `sql-exporter` container first and `crate` second, with the
//! operator's command line (`crate_command`): whatever reads the `crate` container finds it by
//! name ([`crate::databases::crate_container`]).
//!
//! The first pods are created Running and Ready, as in a cluster that has been up for a while;
//! from then on the StatefulSet controller and kubelet ([`crate::controllers`]) recreate, start
//! and stop pods over simulated time. A cluster's shape ([`ClusterShape`]) comes from
//! `cratesim serve` flags or a scenario file ([`crate::scenario`]).

use base64::Engine;
use serde_json::{Value, json};

use crate::cratedb::{ClusterSpec, CrateCluster, GatewaySettings, NodeSpec, TableSpec, Timings};
use crate::kube::ApiServer;
use crate::kube::registry;
use crate::kube::status::ApiError;

/// What to simulate for one cluster.
#[derive(Clone, Debug)]
pub struct ClusterShape {
    pub name: String,
    pub namespace: String,
    pub version: String,
    pub masters: u32,
    /// `(group name, replicas)`.
    pub data_groups: Vec<(String, u32)>,
    /// Whether pods get the dc_util preStop hook.
    pub dc_util_hook: bool,
    /// The hook's shell command (`/bin/sh -c <this>`), when `dc_util_hook` is set.
    pub dc_util_command: String,
    /// Whether pods get dc_util's `--reset-routing` postStart hook
    /// ([`crate::dc_util::DEFAULT_POST_START_COMMAND`]), as the operator adds it on request;
    /// with it, dc_util's preStop holds `cluster.routing.allocation.enable` and the postStart
    /// resets it, unless the operator owns the setting ([`crate::dc_util`]).
    pub dc_util_post_start: bool,
    /// `terminationGracePeriodSeconds` of the pods.
    pub termination_grace_period_seconds: u32,
    pub system_password: String,
    /// The user tables; see [`ClusterShape::default_tables`].
    pub tables: Vec<TableSpec>,
    /// Host-based auth as the operator always configures it (`true`, the default): user
    /// `crate` is trusted from localhost only and everyone else needs a password, so requests
    /// through the API server's pod proxy (which drops the `Authorization` header) get a 401.
    /// `false`: CrateDB's own default, trust for every known user, passwords ignored.
    pub host_based_auth: bool,
    /// Whether the crate-operator manages the cluster (`true`, the default): its resource
    /// carries the operator's finalizer and its `operator.cloud.crate.io/last` diff base, and
    /// the operator stand-in acts on changes of its spec. `false`: the objects exist as the
    /// operator created them, but nothing manages them any more (no finalizer, no diff base; the
    /// stand-in leaves the resource alone), as for a cluster whose operator was uninstalled.
    pub operator: bool,
    /// Whether the operator runs grand-central for the cluster (`false`, the default): the
    /// Deployment `grand-central-<name>` (one replica; no pod is simulated), the Secret
    /// `user-gc-<name>` and the CrateDB user `gc_admin` with that Secret's password
    /// (`cratesim-gc-<name>`), as crate-operator's `grand_central.py` creates them.
    pub grand_central: bool,
    /// Whether the resource has backups configured (`false`, the default): the CronJob
    /// `create-snapshot-<name>` (labels `app.kubernetes.io/component=backup`,
    /// `app.kubernetes.io/name=<name>`, not suspended; it never fires) and the Deployment
    /// `backup-metrics-<name>` (one replica; no pod is simulated), as crate-operator's
    /// `backup.py` creates them.
    pub backups: bool,
    /// CrateDB settings for the command line (crate-operator's `spec.cluster.settings`), each
    /// appended as `-C<key>=<value>`, e.g. `auth.host_based.jwt.iss` (see [`crate::jwt`]).
    pub settings: Vec<(String, String)>,
}

/// The preStop command the operator writes when dc_util is enabled.
pub const DEFAULT_DC_UTIL_COMMAND: &str = "/dc_util -min-availability PRIMARIES -timeout 720s";

/// How large a simulation may be. Everything is simulated in one process: every CrateDB node is
/// a pod the controllers look after at every tick, and the allocation model does work
/// proportional to a cluster's data nodes times the square of its shard copies at every reroute
/// (each copy is weighed on every node against every other copy). Within these limits the
/// largest simulation allowed is created in a few seconds and a reroute takes well under a
/// second in an unoptimised build (`cargo run -p cratesim`), as measured on the shapes the
/// limits allow; a scenario beyond them is refused when it is loaded, naming the field, the
/// value and the limit, instead of starting something that looks hung.
pub mod limits {
    /// CrateDB clusters in one simulation.
    pub const CLUSTERS: usize = 100;
    /// Kubernetes nodes of a scenario (`nodes:`).
    pub const KUBE_NODES: usize = 1000;
    /// CrateDB nodes of one cluster: dedicated masters plus every data group's replicas.
    pub const NODES_PER_CLUSTER: u64 = 1000;
    /// CrateDB nodes (pods) of every cluster together.
    pub const NODES: u64 = 2000;
    /// User tables of one cluster.
    pub const TABLES_PER_CLUSTER: usize = 1000;
    /// Partitions of one table.
    pub const PARTITIONS_PER_TABLE: usize = 1000;
    /// Shards of one table (of each partition of a partitioned one).
    pub const SHARDS_PER_TABLE: u32 = 1000;
    /// Shard copies of one cluster (primaries and replicas of every table and partition).
    pub const SHARD_COPIES_PER_CLUSTER: u64 = 10_000;
    /// Shard copies of every cluster together.
    pub const SHARD_COPIES: u64 = 100_000;
    /// Data nodes times the square of the shard copies, of one cluster and summed over every
    /// cluster: the allocation work of a reroute (1000 data nodes with 316 copies, 100 with
    /// 1000, 3 with 5773).
    pub const ALLOCATION_WORK: u64 = 100_000_000;
}

impl ClusterShape {
    /// A cluster `name` in `namespace` with the defaults: CrateDB 5.10.3, three data nodes in
    /// group `hot`, no dedicated masters, no dc_util hooks, a grace period of 1800 s, the
    /// [default tables](ClusterShape::default_tables) and the operator's host-based auth.
    pub fn new(name: &str, namespace: &str) -> ClusterShape {
        ClusterShape {
            name: name.into(),
            namespace: namespace.into(),
            version: "5.10.3".into(),
            masters: 0,
            data_groups: vec![("hot".into(), 3)],
            dc_util_hook: false,
            dc_util_command: DEFAULT_DC_UTIL_COMMAND.into(),
            dc_util_post_start: false,
            termination_grace_period_seconds: 1800,
            system_password: format!("cratesim-{name}"),
            tables: ClusterShape::default_tables(),
            host_based_auth: true,
            operator: true,
            grand_central: false,
            backups: false,
            settings: Vec::new(),
        }
    }

    /// `doc.events` (6 shards) and `doc.metrics` (2 shards, partitioned in two), one replica
    /// each.
    pub fn default_tables() -> Vec<TableSpec> {
        vec![
            TableSpec {
                schema: "doc".into(),
                name: "events".into(),
                shards: 6,
                replicas: "1".into(),
                partitions: vec![],
                partitioned_by: vec![],
                rows: None,
            },
            TableSpec {
                schema: "doc".into(),
                name: "metrics".into(),
                shards: 2,
                replicas: "1".into(),
                partitions: vec![
                    "04732cpp6ksjcc9i60o30c1g".into(),
                    "04732cpp6ksjcc9i60o30c1h".into(),
                ],
                // The idents encode timestamps (1395961200000 is the first one's value).
                partitioned_by: vec!["day".into()],
                rows: None,
            },
        ]
    }

    /// `count` tables `doc.t1` … `doc.t<count>`, 4 shards and one replica each.
    pub fn numbered_tables(count: u32) -> Vec<TableSpec> {
        (1..=count)
            .map(|i| TableSpec {
                schema: "doc".into(),
                name: format!("t{i}"),
                shards: 4,
                replicas: "1".into(),
                partitions: vec![],
                partitioned_by: vec![],
                rows: None,
            })
            .collect()
    }

    /// Checks what the operator and CrateDB would refuse, naming the field and the value.
    pub fn validate(&self) -> Result<(), String> {
        let context = format!("cluster {:?}", self.name);
        dns_label(&self.name).map_err(|e| format!("{context}: name: {e}"))?;
        dns_label(&self.namespace).map_err(|e| format!("{context}: namespace: {e}"))?;
        if self.data_groups.is_empty() {
            return Err(format!(
                "{context}: data_groups: at least one data group is needed"
            ));
        }
        let mut groups = std::collections::BTreeSet::new();
        for (group, _) in &self.data_groups {
            dns_label(group).map_err(|e| format!("{context}: data group name: {e}"))?;
            if group == "master" {
                return Err(format!(
                    "{context}: data group name \"master\" is reserved for the master nodes"
                ));
            }
            if !groups.insert(group) {
                return Err(format!("{context}: data group {group:?} appears twice"));
            }
        }
        if self.system_password.is_empty() {
            return Err(format!("{context}: system_password must not be empty"));
        }
        if self.dc_util_hook && self.dc_util_command.trim().is_empty() {
            return Err(format!("{context}: dc_util_command must not be empty"));
        }
        let nodes = self.nodes();
        if nodes > limits::NODES_PER_CLUSTER {
            return Err(format!(
                "{context}: {nodes} CrateDB nodes (masters {} + data_groups {}) is over the limit of {} per cluster",
                self.masters,
                self.data_nodes(),
                limits::NODES_PER_CLUSTER
            ));
        }
        if self.tables.len() > limits::TABLES_PER_CLUSTER {
            return Err(format!(
                "{context}: tables: {} tables is over the limit of {} per cluster",
                self.tables.len(),
                limits::TABLES_PER_CLUSTER
            ));
        }
        let mut tables = std::collections::BTreeSet::new();
        for table in &self.tables {
            let fqn = format!("{}.{}", table.schema, table.name);
            if table.schema.is_empty() || table.name.is_empty() {
                return Err(format!(
                    "{context}: table {fqn:?}: schema and name must not be empty"
                ));
            }
            if table.shards == 0 {
                return Err(format!("{context}: table {fqn}: shards must be at least 1"));
            }
            if !valid_replicas(&table.replicas) {
                return Err(format!(
                    "{context}: table {fqn}: replicas {:?} is not a number of replicas (\"1\", \"0-1\", \"0-all\")",
                    table.replicas
                ));
            }
            if table.shards > limits::SHARDS_PER_TABLE {
                return Err(format!(
                    "{context}: table {fqn}: shards {} is over the limit of {}",
                    table.shards,
                    limits::SHARDS_PER_TABLE
                ));
            }
            if table.partitions.len() > limits::PARTITIONS_PER_TABLE {
                return Err(format!(
                    "{context}: table {fqn}: partitions: {} partitions is over the limit of {}",
                    table.partitions.len(),
                    limits::PARTITIONS_PER_TABLE
                ));
            }
            if !tables.insert(fqn.clone()) {
                return Err(format!("{context}: table {fqn} appears twice"));
            }
        }
        let copies = self.shard_copies();
        if copies > limits::SHARD_COPIES_PER_CLUSTER {
            return Err(format!(
                "{context}: tables: {copies} shard copies (shards × partitions × (1 + replicas), over every table) \
                 is over the limit of {} per cluster",
                limits::SHARD_COPIES_PER_CLUSTER
            ));
        }
        let data_nodes = self.data_nodes();
        let work = self.allocation_work();
        if work > limits::ALLOCATION_WORK {
            let most = (limits::ALLOCATION_WORK / data_nodes.max(1)).isqrt();
            return Err(format!(
                "{context}: {data_nodes} data nodes with {copies} shard copies are too many to simulate promptly: \
                 data nodes × copies² is {work}, over the limit of {}; with {data_nodes} data nodes, use at most \
                 {most} shard copies (fewer tables, shards, partitions or replicas) or fewer nodes",
                limits::ALLOCATION_WORK
            ));
        }
        Ok(())
    }

    /// CrateDB nodes: dedicated masters and data nodes.
    fn nodes(&self) -> u64 {
        u64::from(self.masters).saturating_add(self.data_nodes())
    }

    /// Data nodes times the square of the shard copies (see [`limits::ALLOCATION_WORK`]).
    fn allocation_work(&self) -> u64 {
        let copies = self.shard_copies();
        self.data_nodes().saturating_mul(copies.saturating_mul(copies))
    }

    /// Data nodes: every data group's replicas.
    fn data_nodes(&self) -> u64 {
        self.data_groups.iter().fold(0u64, |sum, (_, replicas)| {
            sum.saturating_add(u64::from(*replicas))
        })
    }

    /// Shard copies at creation: for every table, shards × partitions (1 if not partitioned) ×
    /// (1 + the replicas for this many data nodes). Saturates rather than overflows.
    pub fn shard_copies(&self) -> u64 {
        let data_nodes = self.data_nodes();
        self.tables.iter().fold(0u64, |sum, table| {
            let partitions = u64::try_from(table.partitions.len().max(1)).unwrap_or(u64::MAX);
            let copies = u64::from(table.shards)
                .saturating_mul(partitions)
                .saturating_mul(replica_count(&table.replicas, data_nodes).saturating_add(1));
            sum.saturating_add(copies)
        })
    }
}

/// Checks the number of clusters (before anything is built for each).
pub fn validate_cluster_count(count: usize) -> Result<(), String> {
    if count > limits::CLUSTERS {
        return Err(format!(
            "clusters: {count} clusters is over the limit of {}",
            limits::CLUSTERS
        ));
    }
    Ok(())
}

/// Checks what no single cluster shows: how many clusters, and their nodes, shard copies and
/// allocation work together.
pub fn validate_fleet(clusters: &[ClusterShape]) -> Result<(), String> {
    validate_cluster_count(clusters.len())?;
    let sum =
        |each: fn(&ClusterShape) -> u64| clusters.iter().fold(0u64, |sum, c| sum.saturating_add(each(c)));
    let nodes = sum(ClusterShape::nodes);
    if nodes > limits::NODES {
        return Err(format!(
            "clusters: {nodes} CrateDB nodes in all clusters is over the limit of {}",
            limits::NODES
        ));
    }
    let copies = sum(ClusterShape::shard_copies);
    if copies > limits::SHARD_COPIES {
        return Err(format!(
            "clusters: {copies} shard copies in all clusters is over the limit of {}",
            limits::SHARD_COPIES
        ));
    }
    let work = sum(ClusterShape::allocation_work);
    if work > limits::ALLOCATION_WORK {
        return Err(format!(
            "clusters: the clusters together are too large to simulate promptly: data nodes × shard copies², \
             summed over the clusters, is {work}, over the limit of {} (fewer clusters, nodes, tables, \
             shards, partitions or replicas)",
            limits::ALLOCATION_WORK
        ));
    }
    Ok(())
}

/// The replicas per shard `number_of_replicas` gives with `data_nodes` data nodes (as
/// CrateDB expands a range: `data_nodes - 1`, within it); a number too large for u64 saturates.
/// Text that is not a number of replicas counts 0 (validation refuses it).
fn replica_count(text: &str, data_nodes: u64) -> u64 {
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            Some(s.parse::<u64>().unwrap_or(u64::MAX))
        }
    };
    let available = data_nodes.saturating_sub(1);
    match text.split_once('-') {
        None => number(text).unwrap_or(0),
        Some((low, "all")) => number(low).map_or(0, |low| available.max(low)),
        Some((low, high)) => match (number(low), number(high)) {
            (Some(low), Some(high)) => available.clamp(low, high.max(low)),
            _ => 0,
        },
    }
}

/// `number_of_replicas` as CrateDB accepts it: `N`, `N-M` or `N-all`.
fn valid_replicas(text: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('-') {
        None => number(text),
        Some((low, high)) => number(low) && (high == "all" || number(high)),
    }
}

/// A DNS-1123 label, as Kubernetes requires of names: lower-case alphanumerics and `-`, at most
/// 63 characters, starting and ending alphanumeric.
pub fn dns_label(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a valid name (lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)"
        ))
    }
}

fn base_labels(name: &str) -> Value {
    json!({
        "app.kubernetes.io/managed-by": "crate-operator",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "cratedb",
        "app.kubernetes.io/component": "cratedb",
    })
}

/// The `CrateDB` resource for a shape.
pub fn custom_resource(shape: &ClusterShape) -> Value {
    let data: Vec<Value> = shape
        .data_groups
        .iter()
        .map(|(group, replicas)| json!({"name": group, "replicas": replicas, "resources": {"disk": {"count": 1, "size": "32GiB", "storageClass": "default"}, "heapRatio": 0.25, "limits": {"cpu": 2, "memory": "4Gi"}}}))
        .collect();
    let mut nodes = json!({"data": data});
    if shape.masters > 0 {
        nodes["master"] = json!({"replicas": shape.masters, "resources": {"disk": {"count": 1, "size": "8GiB", "storageClass": "default"}, "heapRatio": 0.25, "limits": {"cpu": 1, "memory": "2Gi"}}});
    }
    let spec = json!({
        "cluster": {"imageRegistry": "crate", "name": shape.name, "version": shape.version},
        "nodes": nodes,
    });
    let mut metadata = json!({"name": shape.name, "namespace": shape.namespace, "labels": {}});
    if shape.operator {
        metadata["finalizers"] = json!([OPERATOR_FINALIZER]);
        metadata["annotations"] = json!({OPERATOR_LAST: last_handled(&spec)});
    }
    json!({
        "apiVersion": "cloud.crate.io/v1",
        "kind": "CrateDB",
        "metadata": metadata,
        "spec": spec,
        "status": {"crateDBStatus": {"health": "GREEN"}},
    })
}

/// The finalizer kopf puts on every resource the operator handles (crate-operator `main.py`:
/// kopf's `settings.persistence.finalizer = "operator.cloud.crate.io/finalizer"`).
pub const OPERATOR_FINALIZER: &str = "operator.cloud.crate.io/finalizer";

/// The annotation holding the spec the operator last handled, kopf's diff base (crate-operator
/// `main.py`: `AnnotationsDiffBaseStorage(prefix="operator.cloud.crate.io", key="last")`).
pub const OPERATOR_LAST: &str = "operator.cloud.crate.io/last";

/// The diff base as kopf writes it: the essence of the resource (its spec) as compact JSON.
pub fn last_handled(spec: &Value) -> String {
    json!({"spec": spec}).to_string()
}

/// `quorum(n)` of crate-operator (`utils/__init__.py`): a majority of `n`, `n / 2 + 1`.
pub fn quorum(n: u64) -> u64 {
    n / 2 + 1
}

/// `GATEWAY_SETTINGS_DATA_NODES_VERSION` (crate-operator `config.py`): from CrateDB 4.7.0 on
/// the operator writes the data-node gateway settings (`gateway.expected_data_nodes`,
/// `gateway.recover_after_data_nodes`) counting data nodes only; before, the deprecated
/// `gateway.expected_nodes` / `gateway.recover_after_nodes` counting every node.
pub fn gateway_counts_data_nodes(version: &str) -> bool {
    version_at_least(version, [4, 7, 0])
}

/// `version >= at`, comparing `major.minor.patch` numerically as the operator's
/// `CrateVersion` does for release versions (a missing or non-numeric part counts 0).
pub fn version_at_least(version: &str, at: [u64; 3]) -> bool {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
    let have = [(); 3].map(|_| parts.next().unwrap_or(0));
    have >= at
}

/// The two gateway items of the command line for `total` nodes, as
/// `get_statefulset_crate_command` writes them: `-Cgateway.recover_after_data_nodes=<quorum>`
/// and `-Cgateway.expected_data_nodes=<total>` (before 4.7: the `_nodes` forms).
pub fn gateway_flags(version: &str, total: u64) -> [String; 2] {
    let (after, expected) = if gateway_counts_data_nodes(version) {
        ("gateway.recover_after_data_nodes", "gateway.expected_data_nodes")
    } else {
        ("gateway.recover_after_nodes", "gateway.expected_nodes")
    };
    [
        format!("-C{after}={}", quorum(total)),
        format!("-C{expected}={total}"),
    ]
}

/// The operator's `node.name` value for a group's pods: the prefix and a shell substitution
/// that takes the ordinal from the pod's host name (`crate-data-hot-x-2` runs `data-hot-2`).
pub const NODE_NAME_FROM_HOSTNAME: &str = "$(hostname | awk -F- '{print $NF}')";

/// One StatefulSet's view of its cluster, for its command line.
struct CommandFor<'a> {
    /// `master`, or the data group's name (`node.attr.node_name`).
    group: &'a str,
    master: bool,
    data: bool,
    /// The nodes `gateway.expected*` counts when the StatefulSet is created.
    gateway_total: u64,
    /// `cluster.initial_master_nodes`.
    initial_masters: &'a [String],
}

/// The `crate` container's command line, item for item as crate-operator's
/// `create.py:get_statefulset_crate_command` builds it (each `-C` setting one argv element,
/// in its order), abridged to what a simulated node or a tool reads: no TLS, JWT, zone or
/// user settings. Host-based auth only when the shape has it
/// (docs/crate-operator-behaviour.md#host-based-authentication).
fn crate_command(shape: &ClusterShape, of: &CommandFor<'_>) -> Vec<String> {
    let prefix = if of.group == "master" {
        "master-".to_string()
    } else {
        format!("data-{}-", of.group)
    };
    let mut command: Vec<String> = vec![
        "/docker-entrypoint.sh".into(),
        "crate".into(),
        "-Cstats.enabled=true".into(),
        format!("-Ccluster.name={}", shape.name),
        format!("-Cnode.name={prefix}{NODE_NAME_FROM_HOSTNAME}"),
        format!("-Ccluster.initial_master_nodes={}", of.initial_masters.join(",")),
        "-Cdiscovery.seed_providers=srv".into(),
        format!(
            "-Cdiscovery.srv.query=_cluster._tcp.crate-discovery-{}.{}.svc.cluster.local",
            shape.name, shape.namespace
        ),
    ];
    command.extend(gateway_flags(&shape.version, of.gateway_total));
    if shape.host_based_auth {
        command.extend(
            [
                "-Cauth.host_based.enabled=true",
                "-Cauth.host_based.config.0.user=crate",
                "-Cauth.host_based.config.0.address=_local_",
                "-Cauth.host_based.config.0.method=trust",
                "-Cauth.host_based.config.99.method=password",
            ]
            .map(String::from),
        );
    }
    let processors = if of.group == "master" { 1 } else { 2 };
    command.extend([
        "-Cpath.data=/data/data0".into(),
        "-Cblobs.path=/data/data0/blobs".into(),
        format!("-Cprocessors={processors}"),
        format!("-Cnode.master={}", of.master),
        format!("-Cnode.data={}", of.data),
        format!("-Cnode.attr.node_name={}", of.group),
    ]);
    command.extend(shape.settings.iter().map(|(k, v)| format!("-C{k}={v}")));
    command
}

/// `get_master_nodes_names`: the dedicated masters, else the first data group's nodes.
fn initial_master_nodes(shape: &ClusterShape) -> Vec<String> {
    if shape.masters > 0 {
        return (0..shape.masters).map(|i| format!("master-{i}")).collect();
    }
    shape
        .data_groups
        .first()
        .map(|(group, replicas)| (0..*replicas).map(|i| format!("data-{group}-{i}")).collect())
        .unwrap_or_default()
}

/// What `gateway.expected*` counts at creation (`get_total_nodes_count`): the data nodes from
/// 4.7 on, every node before.
fn gateway_total(shape: &ClusterShape) -> u64 {
    if gateway_counts_data_nodes(&shape.version) {
        shape.data_nodes()
    } else {
        shape.nodes()
    }
}

/// The `sql-exporter` container the operator puts first in every pod
/// (`create.py:get_statefulset_containers`), so `crate` is the second: anything that wants
/// the `crate` container finds it by name.
fn sql_exporter_container() -> Value {
    json!({
        "name": "sql-exporter",
        "image": "burningalchemist/sql_exporter:0.24.3",
        "command": ["/bin/sql_exporter", "-config.file=/config/sql-exporter.yaml",
                    "-web.listen-address=:9399", "-web.metrics-path=/metrics"],
        "ports": [{"containerPort": 9399, "name": "sql-exporter"}],
        "volumeMounts": [{"mountPath": "/config", "name": "crate-sql-exporter", "readOnly": true}],
    })
}

/// The CrateDB model for a shape: nodes named as the operator names them (`master-<n>`,
/// `data-<group>-<n>`), a replicated table and a partitioned one.
pub fn database(shape: &ClusterShape) -> CrateCluster {
    let mut nodes = Vec::new();
    for i in 0..shape.masters {
        nodes.push(NodeSpec {
            name: format!("master-{i}"),
            master_eligible: true,
            data: false,
        });
    }
    for (group, replicas) in &shape.data_groups {
        for i in 0..*replicas {
            nodes.push(NodeSpec {
                name: format!("data-{group}-{i}"),
                master_eligible: shape.masters == 0,
                data: true,
            });
        }
    }
    let tables = shape.tables.clone();
    let spec = ClusterSpec {
        name: shape.name.clone(),
        version: shape.version.clone(),
        nodes,
        tables,
        system_password: shape.system_password.clone(),
        timings: Timings::default(),
    };
    let mut model = CrateCluster::new(spec, std::time::Duration::ZERO);
    model.set_host_based_auth(shape.host_based_auth);
    if shape.grand_central {
        model.add_user("gc_admin", Some(gc_admin_password(&shape.name)));
    }
    // Every node runs with the gateway settings of the command line it was created with.
    let mut flags = gateway_flags(&shape.version, gateway_total(shape)).to_vec();
    flags.extend(shape.settings.iter().map(|(k, v)| format!("-C{k}={v}")));
    let gateway = GatewaySettings::from_command_line(flags.iter().map(String::as_str));
    for name in model.member_names() {
        model.set_node_gateway(&name, gateway.clone());
    }
    model
}

/// The `gc_admin` password of a cluster with grand-central.
pub fn gc_admin_password(cluster: &str) -> String {
    format!("cratesim-gc-{cluster}")
}

/// Creates the CrateDB resource and everything the operator derives from it, and the CrateDB
/// cluster its pods run.
pub fn materialise(server: &ApiServer, shape: &ClusterShape) -> Result<(), ApiError> {
    let mut model = database(shape);
    model.set_epoch_ms(server.clock.now().as_millisecond() - server.clock.elapsed().as_millis() as i64);
    server
        .databases
        .insert((shape.namespace.clone(), shape.name.clone()), model);
    let now = server.clock.rfc3339();
    let create = |plural: &str, namespace: &str, object: Value| -> Result<Value, ApiError> {
        let resource = registry::RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .ok_or_else(|| ApiError::no_route(plural))?;
        server.store().create(
            resource.store_key(),
            &resource.qualified_plural(),
            namespace,
            object,
            &now,
        )
    };
    if server.store().get("namespaces", "", &shape.namespace).is_none() {
        create(
            "namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": shape.namespace}, "status": {"phase": "Active"}}),
        )?;
    }
    // The Kubernetes nodes pods are placed on.
    crate::nodes::ensure_some(server)?;
    let cr = create("cratedbs", &shape.namespace, custom_resource(shape))?;
    let owner = json!([{
        "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB", "name": shape.name,
        "uid": cr.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let labels = base_labels(&shape.name);
    let password = base64::engine::general_purpose::STANDARD.encode(&shape.system_password);
    create(
        "secrets",
        &shape.namespace,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": format!("user-system-{}", shape.name), "labels": labels, "ownerReferences": owner},
            "data": {"password": password},
        }),
    )?;
    if shape.grand_central {
        let gc_password = base64::engine::general_purpose::STANDARD.encode(gc_admin_password(&shape.name));
        create(
            "secrets",
            &shape.namespace,
            json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": format!("user-gc-{}", shape.name), "labels": labels, "ownerReferences": owner},
                "data": {"password": gc_password},
            }),
        )?;
        let name = format!("grand-central-{}", shape.name);
        create(
            "deployments",
            &shape.namespace,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "labels": labels, "ownerReferences": owner},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app.kubernetes.io/component": "grand-central", "app.kubernetes.io/name": shape.name}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/component": "grand-central", "app.kubernetes.io/name": shape.name}},
                        "spec": {"containers": [{"name": "grand-central", "image": "cloud.registry.cr8.net/crate/grand-central:latest"}]},
                    },
                },
            }),
        )?;
    }
    if shape.backups {
        let backup_labels =
            json!({"app.kubernetes.io/component": "backup", "app.kubernetes.io/name": shape.name});
        create(
            "cronjobs",
            &shape.namespace,
            json!({
                "apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": format!("create-snapshot-{}", shape.name), "labels": backup_labels, "ownerReferences": owner},
                "spec": {
                    "schedule": "@hourly", "suspend": false, "concurrencyPolicy": "Forbid",
                    "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "backup", "image": "crate/crate-backup:latest"}]}}}},
                },
            }),
        )?;
        let metrics_labels =
            json!({"app.kubernetes.io/component": "backup", "app.kubernetes.io/name": shape.name});
        create(
            "deployments",
            &shape.namespace,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("backup-metrics-{}", shape.name), "labels": metrics_labels, "ownerReferences": owner},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app.kubernetes.io/component": "backup-metrics", "app.kubernetes.io/name": shape.name}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/component": "backup-metrics", "app.kubernetes.io/name": shape.name}},
                        "spec": {"containers": [{"name": "metrics-exporter", "image": "crate/crate-backup-metrics:latest"}]},
                    },
                },
            }),
        )?;
    }
    for (service, headless) in [
        (format!("crate-{}", shape.name), false),
        (format!("crate-discovery-{}", shape.name), true),
    ] {
        let mut spec = json!({
            "selector": {"app.kubernetes.io/component": "cratedb", "app.kubernetes.io/name": shape.name},
            "ports": [{"name": "http", "port": 4200, "protocol": "TCP", "targetPort": 4200}, {"name": "psql", "port": 5432, "protocol": "TCP", "targetPort": 5432}],
            "type": "ClusterIP",
        });
        if headless {
            spec["clusterIP"] = json!("None");
            spec["ports"] = json!([{"name": "cluster", "port": 4300, "protocol": "TCP", "targetPort": 4300}, {"name": "http", "port": 4200, "protocol": "TCP", "targetPort": 4200}]);
        }
        create(
            "services",
            &shape.namespace,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "labels": labels, "ownerReferences": owner}, "spec": spec}),
        )?;
    }

    let mut groups: Vec<(String, String, u32, bool, bool)> = Vec::new();
    if shape.masters > 0 {
        groups.push((
            format!("crate-master-{}", shape.name),
            "master".into(),
            shape.masters,
            true,
            false,
        ));
    }
    for (group, replicas) in &shape.data_groups {
        groups.push((
            format!("crate-data-{group}-{}", shape.name),
            group.clone(),
            *replicas,
            shape.masters == 0,
            true,
        ));
    }
    for (sts_name, node_group, replicas, master, data) in groups {
        let mut pod_labels = labels.clone();
        pod_labels["cloud.crate.io/node-name"] = json!(node_group);
        pod_labels["cloud.crate.io/node-data"] = json!(data.to_string());
        let selector = json!({"app.kubernetes.io/component": "cratedb", "app.kubernetes.io/name": shape.name, "cloud.crate.io/node-name": node_group});
        let initial_masters = initial_master_nodes(shape);
        let command = crate_command(
            shape,
            &CommandFor {
                group: &node_group,
                master,
                data,
                gateway_total: gateway_total(shape),
                initial_masters: &initial_masters,
            },
        );
        let mut container = json!({
            "name": "crate",
            "image": format!("crate:{}", shape.version),
            "command": command,
            "ports": [{"containerPort": 4200, "name": "http"}, {"containerPort": 6666, "name": "jmx"},
                      {"containerPort": 5432, "name": "postgres"}, {"containerPort": 7071, "name": "prometheus"},
                      {"containerPort": 4300, "name": "transport"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 7071}, "initialDelaySeconds": 30, "periodSeconds": 10},
        });
        if shape.dc_util_hook {
            container["lifecycle"]["preStop"] =
                json!({"exec": {"command": ["/bin/sh", "-c", shape.dc_util_command]}});
        }
        if shape.dc_util_post_start {
            container["lifecycle"]["postStart"] = json!({"exec": {"command": [
                "/bin/sh", "-c", crate::dc_util::DEFAULT_POST_START_COMMAND
            ]}});
        }
        let containers = json!([sql_exporter_container(), container]);
        let template = json!({"metadata": {"labels": pod_labels}, "spec": {"containers": containers, "terminationGracePeriodSeconds": shape.termination_grace_period_seconds}});
        let sts = create(
            "statefulsets",
            &shape.namespace,
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": sts_name, "labels": pod_labels, "ownerReferences": owner},
                "spec": {
                    "replicas": replicas, "serviceName": format!("crate-discovery-{}", shape.name),
                    "selector": {"matchLabels": selector}, "podManagementPolicy": "Parallel",
                    "updateStrategy": {"type": "OnDelete"}, "template": template,
                    // One disk per node, as crate-operator's `get_statefulset_pvc` declares
                    // (`data0`); claims outlive the pods (no retention policy: Retain).
                    "volumeClaimTemplates": [{
                        "metadata": {"name": "data0"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Gi"}}},
                    }],
                },
                "status": {"replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 1},
            }),
        )?;
        // One budget per StatefulSet, as crate-operator >= 2.63 creates.
        create(
            "poddisruptionbudgets",
            &shape.namespace,
            json!({
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": sts_name, "labels": labels, "ownerReferences": owner},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            }),
        )?;
        for ordinal in 0..replicas {
            let mut labels = pod_labels.clone();
            labels["statefulset.kubernetes.io/pod-name"] = json!(format!("{sts_name}-{ordinal}"));
            let node_name = crate::nodes::initial_placement(server, ordinal);
            create(
                "pods",
                &shape.namespace,
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {
                        "name": format!("{sts_name}-{ordinal}"), "labels": labels,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts_name, "uid": sts.pointer("/metadata/uid").cloned().unwrap_or(Value::Null), "controller": true, "blockOwnerDeletion": true}],
                    },
                    "spec": {"containers": containers, "nodeName": node_name, "hostname": format!("{sts_name}-{ordinal}"), "terminationGracePeriodSeconds": shape.termination_grace_period_seconds},
                    "status": {
                        "phase": "Running", "podIP": format!("10.0.{}.{}", ordinal / 200, ordinal % 200 + 10),
                        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                        "containerStatuses": crate::controllers::container_statuses(&containers, true, 0, &now),
                    },
                }),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_command(shape: &ClusterShape) -> Vec<String> {
        let initial = initial_master_nodes(shape);
        crate_command(
            shape,
            &CommandFor {
                group: "hot",
                master: shape.masters == 0,
                data: true,
                gateway_total: gateway_total(shape),
                initial_masters: &initial,
            },
        )
    }

    /// Item for item what `get_statefulset_crate_command` builds: one argv element per
    /// setting, the data-node gateway settings from 4.7.0 on.
    #[test]
    fn the_command_line_is_the_operators() {
        let shape = ClusterShape::new("alpha", "ns");
        let command = data_command(&shape);
        let expected = [
            "/docker-entrypoint.sh",
            "crate",
            "-Cstats.enabled=true",
            "-Ccluster.name=alpha",
            "-Cnode.name=data-hot-$(hostname | awk -F- '{print $NF}')",
            "-Ccluster.initial_master_nodes=data-hot-0,data-hot-1,data-hot-2",
            "-Cdiscovery.seed_providers=srv",
            "-Cdiscovery.srv.query=_cluster._tcp.crate-discovery-alpha.ns.svc.cluster.local",
            "-Cgateway.recover_after_data_nodes=2",
            "-Cgateway.expected_data_nodes=3",
            "-Cauth.host_based.enabled=true",
            "-Cauth.host_based.config.0.user=crate",
            "-Cauth.host_based.config.0.address=_local_",
            "-Cauth.host_based.config.0.method=trust",
            "-Cauth.host_based.config.99.method=password",
            "-Cpath.data=/data/data0",
            "-Cblobs.path=/data/data0/blobs",
            "-Cprocessors=2",
            "-Cnode.master=true",
            "-Cnode.data=true",
            "-Cnode.attr.node_name=hot",
        ];
        assert_eq!(command, expected);
    }

    /// Before 4.7 the deprecated settings count every node, masters included; with dedicated
    /// masters those are the initial master nodes.
    #[test]
    fn before_4_7_the_gateway_counts_every_node() {
        let mut shape = ClusterShape::new("alpha", "ns");
        shape.version = "4.6.7".into();
        shape.masters = 3;
        shape.data_groups = vec![("hot".into(), 4), ("cold".into(), 2)];
        let command = data_command(&shape);
        assert!(
            command.contains(&"-Cgateway.recover_after_nodes=5".to_string()),
            "{command:?}"
        );
        assert!(
            command.contains(&"-Cgateway.expected_nodes=9".to_string()),
            "{command:?}"
        );
        assert!(command.contains(&"-Ccluster.initial_master_nodes=master-0,master-1,master-2".to_string()));
        shape.version = "4.7.0".into();
        let command = data_command(&shape);
        assert!(
            command.contains(&"-Cgateway.recover_after_data_nodes=4".to_string()),
            "{command:?}"
        );
        assert!(
            command.contains(&"-Cgateway.expected_data_nodes=6".to_string()),
            "{command:?}"
        );
    }

    #[test]
    fn quorum_and_versions() {
        assert_eq!([1, 2, 3, 4, 5, 6].map(quorum), [1, 2, 2, 3, 3, 4]);
        assert!(version_at_least("4.7.0", [4, 7, 0]));
        assert!(version_at_least("5.10.3", [4, 7, 0]));
        assert!(version_at_least("4.10.0", [4, 7, 0]));
        assert!(!version_at_least("4.6.7", [4, 7, 0]));
        assert!(version_at_least("6.0.0-SNAPSHOT", [6, 0, 0]));
    }

    /// The operator's pods run `sql-exporter` first and `crate` second.
    #[test]
    fn the_crate_container_comes_second() {
        let containers = json!([sql_exporter_container(), {"name": "crate", "image": "crate:5.10.3"}]);
        let statuses = crate::controllers::container_statuses(&containers, false, 2, "t");
        let names: Vec<&str> = statuses
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["crate", "sql-exporter"],
            "the kubelet sorts statuses by name"
        );
        assert_eq!(statuses[0]["ready"], false);
        assert_eq!(statuses[0]["restartCount"], 2);
        assert_eq!(statuses[1]["ready"], true);
    }
}
