//! `cratectl cluster list|info|health|ping`: the read-only cluster API.
//!
//! Kubernetes is read once per command (one discovery), CrateDB through a port-forward to a
//! Ready pod. The verdict comes from `cratectl_core::health::assess`; nothing here decides
//! anything. The JSON shapes are contracts: add fields, never rename or remove one.

use std::time::{Duration, Instant};

use cratectl_core::health::{Health, Observation, Reading, Verdict, assess};
use cratectl_core::prestop::{HookDecision, stop_by_hook};
use cratectl_core::readings::{ClusterReading, NodeReading, SettingsReading, TableHealth};
use cratectl_core::text;
use cratectl_core::topology::{NodeCondition, node_condition};
use cratectl_cratedb::{Client, RetryPolicy};
use cratectl_kube::Kube;
use cratectl_kube::discovery::{Cluster, Discovery};
use futures::StreamExt;
use serde::Serialize;

use cratectl_core::suspend::record::SuspendRecord;

use crate::cli::{ClusterCommand, GlobalArgs, HealthArgs, InfoArgs, ListArgs, OutputFormat, PingArgs};
use crate::connect::{self, Target};
use crate::exit::{CliError, CliResult};
use crate::output::{key_values, print, print_structured, render, table};

/// How many clusters `list` reads at once.
const LIST_CONCURRENCY: usize = 16;

pub async fn run(command: ClusterCommand, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = |own: Option<OutputFormat>| own.or(top).unwrap_or_default();
    match command {
        ClusterCommand::List(args) => list(format(args.output), &args, &global).await,
        ClusterCommand::Info(args) => info(format(args.output), &args, &global).await,
        ClusterCommand::Health(args) => health(format(args.output), &args, &global).await,
        ClusterCommand::Ping(args) => ping(format(args.output), &args, &global).await,
    }
}

// ---- observing a cluster ----------------------------------------------------------------

/// A verdict and what it was made from.
pub struct Observed {
    pub verdict: Verdict,
    pub expected_nodes: u32,
    pub reading: Option<ClusterReading>,
    /// Why CrateDB could not be read, when it could not.
    pub error: Option<String>,
    /// What the reading went through (pod and context, or URL).
    pub via: Option<String>,
}

/// Reads `cluster` through Kubernetes and CrateDB and gives the verdict.
pub async fn observe(kube: &Kube, cluster: &Cluster, global: &GlobalArgs) -> Observed {
    let expected_nodes = cluster.desired_nodes();
    let done = |reading: Reading, via: Option<String>| {
        let (stored, error) = match &reading {
            Reading::Read(r) => (Some(r.clone()), None),
            Reading::Unreachable { error, .. } => (None, Some(error.clone())),
            Reading::Unknown { why } => (None, Some(why.clone())),
        };
        Observed {
            verdict: assess(&Observation {
                expected_nodes,
                // Hints that let reasons name a missing node; never used to address one.
                expected_node_names: cluster.expected_node_names(),
                suspended: cluster.suspended(),
                reading,
            }),
            expected_nodes,
            reading: stored,
            error,
            via,
        }
    };
    if cluster.suspended() {
        return done(
            Reading::Unknown {
                why: "suspended: every data group is at 0 replicas".into(),
            },
            None,
        );
    }
    let pod = match cluster.reading_pod(None) {
        Ok(pod) => pod,
        Err(why) => {
            return done(
                Reading::Unreachable {
                    tried: cluster.qualified(),
                    error: why,
                },
                None,
            );
        }
    };
    let credentials = match connect::credentials(kube, cluster, global).await {
        Ok(c) => c,
        Err(e) => return done(Reading::Unknown { why: e.message }, None),
    };
    let client = connect::pod_client(kube, cluster, pod, credentials);
    read_with(&client, done).await
}

async fn read_with(client: &Client, done: impl FnOnce(Reading, Option<String>) -> Observed) -> Observed {
    let via = client.via();
    match client.cluster_reading().await {
        Ok(reading) => done(Reading::Read(reading), Some(via)),
        Err(e) => done(
            Reading::Unreachable {
                tried: via.clone(),
                error: e.to_string(),
            },
            Some(via),
        ),
    }
}

/// Reads a cluster addressed by URL. Without Kubernetes the expected node count is unknown, so
/// it is taken as the count read (a missing node cannot be seen this way).
async fn observe_url(client: &Client) -> Observed {
    let via = client.via();
    let reading = client.cluster_reading().await;
    let expected_nodes = reading.as_ref().map_or(0, |r| r.nodes.len() as u32);
    let (reading, stored, error) = match reading {
        Ok(r) => (Reading::Read(r.clone()), Some(r), None),
        Err(e) => (
            Reading::Unreachable {
                tried: via.clone(),
                error: e.to_string(),
            },
            None,
            Some(e.to_string()),
        ),
    };
    Observed {
        verdict: assess(&Observation {
            expected_nodes,
            expected_node_names: Vec::new(),
            suspended: false,
            reading,
        }),
        expected_nodes,
        reading: stored,
        error,
        via: Some(via),
    }
}

/// The CrateDB versions the nodes report, else what the resource declares.
fn version(cluster: Option<&Cluster>, reading: Option<&ClusterReading>) -> Option<String> {
    let mut versions: Vec<String> = reading
        .map(|r| r.nodes.iter().filter_map(|n| n.version.clone()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.dedup();
    if versions.is_empty() {
        cluster.and_then(|c| c.version.clone())
    } else {
        Some(versions.join(", "))
    }
}

/// Whether any pod of the cluster is stopped by a dc_util preStop hook, as a restart would
/// decide it (`stop_by_hook`): a hook cratectl cannot read is not dc_util, since the restart
/// decommissions such a pod itself.
fn has_dc_util(cluster: &Cluster) -> bool {
    cluster.pods.iter().any(|p| stop_by_hook(&p.prestop).is_dc_util())
}

// ---- list -------------------------------------------------------------------------------

/// One row of `cluster list -o json` (contract).
#[derive(Serialize)]
struct ListRow {
    name: String,
    namespace: String,
    version: Option<String>,
    /// Pods Ready (a pod is Ready while its CrateDB node answers).
    nodes_ready: u32,
    /// The StatefulSets' replicas.
    nodes_desired: u32,
    health: Health,
    /// Some pod is stopped by its dc_util preStop hook, as a restart decides it.
    has_dc_util: bool,
    /// The workflow id holding the cluster's Lease.
    operation: Option<String>,
    // Additions (not in the minimum contract).
    resource: String,
    /// Why the health is what it is, when not safe to disrupt.
    reasons: Vec<String>,
    /// Evidence that another operation is changing the cluster, as codes
    /// (`cratectl_core::busy::BusyCode`: `lease_held`, `operator_handler`, …); Kubernetes'
    /// evidence only.
    busy: Vec<cratectl_core::busy::BusyCode>,
    /// The suspend record on the resource (annotation `cratectl.io/suspended`), when there is
    /// one and it can be read.
    suspend_record: Option<SuspendRecord>,
}

/// The suspend record of `cluster`, when it has a readable one.
fn suspend_record(cluster: &cratectl_kube::Cluster) -> Option<SuspendRecord> {
    SuspendRecord::parse(cluster.suspend_record.as_deref()?, &cluster.qualified()).ok()
}

async fn list(format: OutputFormat, _args: &ListArgs, global: &GlobalArgs) -> CliResult {
    if global.cluster_url.is_some() {
        return Err(CliError::invalid(
            "cluster list needs Kubernetes; --cluster-url addresses one cluster (use cluster info or health)",
        ));
    }
    let kube = connect::kube(global).await?;
    let discovery = connect::discovery(&kube, global).await?;
    let rows: Vec<ListRow> = futures::stream::iter(discovery.clusters.iter())
        .map(|cluster| {
            let kube = &kube;
            async move {
                let observed = observe(kube, cluster, global).await;
                ListRow {
                    name: cluster.name.clone(),
                    namespace: cluster.namespace.clone(),
                    version: version(Some(cluster), observed.reading.as_ref()),
                    nodes_ready: cluster.ready_pods().count() as u32,
                    nodes_desired: cluster.desired_nodes(),
                    health: observed.verdict.health,
                    has_dc_util: has_dc_util(cluster),
                    operation: cluster.lease_holder(jiff::Timestamp::now()),
                    resource: cluster.resource.clone(),
                    reasons: observed.verdict.reasons.clone(),
                    busy: cratectl_core::busy::assess(&cluster.busy_evidence(jiff::Timestamp::now()))
                        .into_iter()
                        .map(|b| b.code)
                        .collect(),
                    suspend_record: suspend_record(cluster),
                }
            }
        })
        .buffered(LIST_CONCURRENCY)
        .collect()
        .await;
    if format != OutputFormat::Text {
        return print_structured(format, &rows);
    }
    if rows.is_empty() {
        return print(&format!(
            "No CrateDB clusters in {} ({}).\n",
            global
                .namespace
                .as_deref()
                .map_or_else(|| "any namespace".to_string(), |ns| format!("namespace {ns}")),
            kube.describe()
        ));
    }
    let mut t = table([
        "NAME",
        "NAMESPACE",
        "VERSION",
        "NODES",
        "HEALTH",
        "DC_UTIL",
        "OPERATION",
    ]);
    for row in &rows {
        t.add_row(vec![
            row.name.clone(),
            row.namespace.clone(),
            row.version.clone().unwrap_or_else(|| "-".into()),
            format!("{}/{}", row.nodes_ready, row.nodes_desired),
            row.health.to_string(),
            if row.has_dc_util { "yes" } else { "no" }.to_string(),
            row.operation.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    print(&render(&t))
}

// ---- info -------------------------------------------------------------------------------

#[derive(Serialize)]
struct InfoView {
    name: String,
    namespace: Option<String>,
    resource: Option<String>,
    /// CrateDB versions the nodes report (else the resource's).
    version: Option<String>,
    groups: Vec<GroupView>,
    statefulsets: Vec<StatefulSetView>,
    pods: Vec<PodView>,
    operation: Option<String>,
    /// Evidence that another operation is changing the cluster (Kubernetes' evidence).
    busy: Vec<cratectl_core::busy::Busy>,
    /// The suspend record on the resource, when there is one.
    suspend_record: Option<SuspendRecord>,
    health: HealthView,
    cratedb: CrateView,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    master: bool,
    replicas: u32,
}

#[derive(Serialize)]
struct StatefulSetView {
    name: String,
    group: String,
    replicas: u32,
    ready_replicas: u32,
}

#[derive(Serialize)]
struct PodView {
    name: String,
    uid: String,
    group: String,
    /// The Kubernetes node.
    node: Option<String>,
    phase: String,
    ready: bool,
    terminating: bool,
    restarts: u32,
    termination_grace_period_s: i64,
    /// Stopped by its dc_util preStop hook, as a restart decides it: a hook cratectl cannot
    /// read is not (cratectl decommissions the node itself).
    has_dc_util: bool,
    /// dc_util's timeout in seconds (with a dc_util hook).
    dc_util_timeout_s: Option<u64>,
    /// Why the hook could not be read, if it could not.
    prestop_error: Option<String>,
    node_condition: Option<NodeCondition>,
}

#[derive(Serialize)]
struct CrateView {
    reachable: bool,
    via: Option<String>,
    error: Option<String>,
    /// The master's node name (id if the name is unknown).
    master: Option<String>,
    nodes: Vec<NodeReading>,
    /// Effective values: CrateDB does not expose the transient and persistent levels.
    settings: Option<SettingsReading>,
    unhealthy_tables: Vec<TableHealth>,
}

#[derive(Serialize)]
struct HealthView {
    health: Health,
    safe_to_disrupt: bool,
    reasons: Vec<String>,
    expected_nodes: u32,
}

fn health_view(observed: &Observed) -> HealthView {
    HealthView {
        health: observed.verdict.health,
        safe_to_disrupt: observed.verdict.safe_to_disrupt,
        reasons: observed.verdict.reasons.clone(),
        expected_nodes: observed.expected_nodes,
    }
}

fn master_name(reading: &ClusterReading) -> Option<String> {
    let id = reading.master_node.as_ref()?;
    Some(
        reading
            .nodes
            .iter()
            .find(|n| &n.id == id)
            .map_or_else(|| id.clone(), |n| n.name.clone()),
    )
}

fn pod_views(cluster: &Cluster, discovery: &Discovery) -> Vec<PodView> {
    cluster
        .pods
        .iter()
        .map(|p| {
            let stop = stop_by_hook(&p.prestop);
            PodView {
                name: p.name.clone(),
                uid: p.uid.clone(),
                group: p.group.clone(),
                node: p.node.clone(),
                phase: p.phase.clone(),
                ready: p.ready,
                terminating: p.terminating,
                restarts: p.restarts,
                termination_grace_period_s: p.termination_grace_period_s,
                has_dc_util: stop.is_dc_util(),
                dc_util_timeout_s: stop.timeout().map(|t| t.as_secs()),
                prestop_error: match &stop {
                    HookDecision::OwnDecommission { unreadable } => {
                        unreadable.as_ref().map(ToString::to_string)
                    }
                    HookDecision::Hook { .. } => None,
                },
                node_condition: p
                    .node
                    .as_ref()
                    .and_then(|n| discovery.nodes.get(n))
                    .map(node_condition),
            }
        })
        .collect()
}

async fn info(format: OutputFormat, args: &InfoArgs, global: &GlobalArgs) -> CliResult {
    let target = connect::target(global, args.cluster.name.as_deref()).await?;
    let (observed, client) = match &target {
        Target::Kube { kube, cluster, .. } => {
            let observed = observe(kube, cluster, global).await;
            let client = if observed.reading.is_some() {
                connect::client(&target, global).await.ok()
            } else {
                None
            };
            (observed, client)
        }
        Target::Url { client, .. } => (observe_url(client).await, Some(client.clone())),
    };
    let settings = match &client {
        Some(client) => client.settings().await.ok(),
        None => None,
    };
    let reading = observed.reading.as_ref();
    let crate_view = CrateView {
        reachable: reading.is_some(),
        via: observed.via.clone(),
        error: observed.error.clone(),
        master: reading.and_then(master_name),
        nodes: reading.map(|r| r.nodes.clone()).unwrap_or_default(),
        settings,
        unhealthy_tables: reading.map(|r| r.unhealthy_tables.clone()).unwrap_or_default(),
    };
    let view = match &target {
        Target::Kube {
            cluster, discovery, ..
        } => InfoView {
            name: cluster.name.clone(),
            namespace: Some(cluster.namespace.clone()),
            resource: Some(cluster.resource.clone()),
            version: version(Some(cluster), reading),
            groups: cluster
                .groups
                .iter()
                .map(|g| GroupView {
                    name: g.name.clone(),
                    master: g.master,
                    replicas: g.replicas,
                })
                .collect(),
            statefulsets: cluster
                .statefulsets
                .iter()
                .map(|s| StatefulSetView {
                    name: s.name.clone(),
                    group: s.group.clone(),
                    replicas: s.replicas,
                    ready_replicas: s.ready_replicas,
                })
                .collect(),
            pods: pod_views(cluster, discovery),
            operation: cluster.lease_holder(jiff::Timestamp::now()),
            busy: cratectl_core::busy::assess(&cluster.busy_evidence(jiff::Timestamp::now())),
            suspend_record: suspend_record(cluster),
            health: health_view(&observed),
            cratedb: crate_view,
        },
        Target::Url { url, .. } => InfoView {
            name: url.clone(),
            namespace: None,
            resource: None,
            version: version(None, reading),
            groups: Vec::new(),
            statefulsets: Vec::new(),
            pods: Vec::new(),
            operation: None,
            busy: Vec::new(),
            suspend_record: None,
            health: health_view(&observed),
            cratedb: crate_view,
        },
    };
    if format != OutputFormat::Text {
        return print_structured(format, &view);
    }
    print(&info_text(&view))
}

fn info_text(view: &InfoView) -> String {
    let mut out = String::new();
    let mut rows = vec![("Cluster", view.name.clone())];
    if let (Some(ns), Some(resource)) = (&view.namespace, &view.resource) {
        rows.push(("Resource", format!("{ns}/{resource} (cloud.crate.io/v1 CrateDB)")));
    }
    rows.push((
        "Version",
        view.version.clone().unwrap_or_else(|| "unknown".into()),
    ));
    if !view.groups.is_empty() {
        rows.push((
            "Node groups",
            view.groups
                .iter()
                .map(|g| format!("{} ×{}", g.name, g.replicas))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    rows.push(("Health", view.health.health.to_string()));
    rows.push((
        "Safe to disrupt",
        if view.health.safe_to_disrupt {
            "yes".to_string()
        } else {
            format!("no: {}", view.health.reasons.join("; "))
        },
    ));
    rows.push((
        "Operation",
        view.operation.clone().unwrap_or_else(|| "none".into()),
    ));
    for busy in &view.busy {
        rows.push(("Busy", busy.message.clone()));
    }
    if let Some(record) = &view.suspend_record {
        rows.push((
            "Suspended",
            format!(
                "by {} at {} with {} (`cratectl resume {}` brings it back)",
                record.workflow_id,
                record.at,
                record.counts.text(),
                view.name
            ),
        ));
    }
    if let Some(via) = &view.cratedb.via {
        rows.push(("Read via", via.clone()));
    }
    if let Some(master) = &view.cratedb.master {
        rows.push(("Master", master.clone()));
    }
    out.push_str(&key_values(&rows));

    if !view.statefulsets.is_empty() {
        let mut t = table(["STATEFULSET", "GROUP", "READY"]);
        for s in &view.statefulsets {
            t.add_row(vec![
                s.name.clone(),
                s.group.clone(),
                format!("{}/{}", s.ready_replicas, s.replicas),
            ]);
        }
        out.push('\n');
        out.push_str(&render(&t));
    }
    if !view.pods.is_empty() {
        let mut t = table([
            "POD",
            "K8S NODE",
            "UID",
            "READY",
            "RESTARTS",
            "PRESTOP",
            "NODE STATE",
        ]);
        for p in &view.pods {
            let prestop = match (&p.prestop_error, p.dc_util_timeout_s) {
                (Some(_), _) => "unreadable (cratectl decommissions)".to_string(),
                (None, Some(t)) => format!("dc_util {}", text::duration(Duration::from_secs(t))),
                (None, None) => "-".to_string(),
            };
            let state = p
                .node_condition
                .as_ref()
                .map(|c| {
                    let mut flags = Vec::new();
                    if c.cordoned {
                        flags.push("cordoned");
                    }
                    if c.spot_terminating {
                        flags.push("spot-terminating");
                    }
                    if c.suspended && flags.is_empty() {
                        flags.push("suspended");
                    }
                    if flags.is_empty() {
                        "ok".to_string()
                    } else {
                        flags.join(",")
                    }
                })
                .unwrap_or_else(|| "?".into());
            t.add_row(vec![
                p.name.clone(),
                p.node.clone().unwrap_or_else(|| "-".into()),
                p.uid.clone(),
                if p.terminating {
                    "terminating".to_string()
                } else if p.ready {
                    "yes".to_string()
                } else {
                    format!("no ({})", p.phase)
                },
                p.restarts.to_string(),
                prestop,
                state,
            ]);
        }
        out.push('\n');
        out.push_str(&render(&t));
    }
    out.push('\n');
    if let Some(error) = &view.cratedb.error {
        out.push_str(&format!("CrateDB: not read: {error}\n"));
        return out;
    }
    let mut t = table(["CRATEDB NODE", "ID", "HOSTNAME", "VERSION"]);
    for n in &view.cratedb.nodes {
        t.add_row(vec![
            n.name.clone(),
            n.id.clone(),
            n.hostname.clone().unwrap_or_default(),
            n.version.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&render(&t));
    if let Some(settings) = &view.cratedb.settings {
        out.push_str("\nSettings operations touch (effective values; CrateDB does not show the transient/persistent level):\n");
        let rows: Vec<(&str, String)> = settings
            .effective
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    match v {
                        serde_json::Value::String(s) if s.is_empty() => "\"\"".to_string(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                )
            })
            .collect();
        for line in key_values(&rows).lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
    if view.cratedb.unhealthy_tables.is_empty() {
        out.push_str("\nEvery table is GREEN.\n");
    } else {
        let mut t = table(["TABLE", "PARTITION", "HEALTH", "MISSING", "UNDERREPLICATED"]);
        for h in &view.cratedb.unhealthy_tables {
            t.add_row(vec![
                format!("{}.{}", h.schema, h.table),
                h.partition_ident.clone().unwrap_or_else(|| "-".into()),
                h.health.as_str().to_string(),
                h.missing_shards.to_string(),
                h.underreplicated_shards.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&render(&t));
    }
    out
}

// ---- health -----------------------------------------------------------------------------

#[derive(Serialize)]
struct HealthOut {
    name: String,
    namespace: Option<String>,
    health: Health,
    safe_to_disrupt: bool,
    reasons: Vec<String>,
    expected_nodes: u32,
    via: Option<String>,
    error: Option<String>,
    readings: Option<ClusterReading>,
}

async fn observe_target(target: &Target, global: &GlobalArgs) -> Observed {
    match target {
        Target::Kube { kube, cluster, .. } => observe(kube, cluster, global).await,
        Target::Url { client, .. } => observe_url(client).await,
    }
}

fn health_out(target: &Target, observed: Observed) -> HealthOut {
    let (name, namespace) = match target {
        Target::Kube { cluster, .. } => (cluster.name.clone(), Some(cluster.namespace.clone())),
        Target::Url { url, .. } => (url.clone(), None),
    };
    HealthOut {
        name,
        namespace,
        health: observed.verdict.health,
        safe_to_disrupt: observed.verdict.safe_to_disrupt,
        reasons: observed.verdict.reasons,
        expected_nodes: observed.expected_nodes,
        via: observed.via,
        error: observed.error,
        readings: observed.reading,
    }
}

fn health_text(out: &HealthOut) -> String {
    let mut rows = vec![
        (
            "Cluster",
            out.namespace
                .as_ref()
                .map_or_else(|| out.name.clone(), |ns| format!("{ns}/{}", out.name)),
        ),
        ("Health", out.health.to_string()),
        (
            "Safe to disrupt",
            if out.safe_to_disrupt {
                "yes".into()
            } else {
                "no".into()
            },
        ),
    ];
    for reason in &out.reasons {
        rows.push(("Because", reason.clone()));
    }
    if let Some(r) = &out.readings {
        rows.push((
            "Nodes",
            format!("{} of {} expected", r.nodes.len(), out.expected_nodes),
        ));
        rows.push(("Master", master_name(r).unwrap_or_else(|| "none elected".into())));
        rows.push((
            "Max severity",
            r.max_severity
                .map_or_else(|| "none (no table reports)".into(), |s| s.to_string()),
        ));
        rows.push((
            "Shards moving",
            format!(
                "{} initializing, {} relocating",
                r.in_flight.initializing, r.in_flight.relocating
            ),
        ));
        for t in &r.unhealthy_tables {
            rows.push((
                "Table",
                format!(
                    "{}.{}{} {}: {} missing, {} underreplicated",
                    t.schema,
                    t.table,
                    t.partition_ident
                        .as_ref()
                        .map_or_else(String::new, |p| format!(" ({p})")),
                    t.health.as_str(),
                    t.missing_shards,
                    t.underreplicated_shards
                ),
            ));
        }
    }
    if let Some(via) = &out.via {
        rows.push(("Read via", via.clone()));
    }
    key_values(&rows)
}

async fn health(format: OutputFormat, args: &HealthArgs, global: &GlobalArgs) -> CliResult {
    let target = connect::target(global, args.cluster.name.as_deref()).await?;
    if args.watch {
        return watch(&target, args, global).await;
    }
    let out = health_out(&target, observe_target(&target, global).await);
    let safe = out.safe_to_disrupt;
    if format == OutputFormat::Text {
        print(&health_text(&out))?;
    } else {
        print_structured(format, &out)?;
    }
    if safe {
        Ok(())
    } else {
        Err(CliError::silent_failure())
    }
}

/// `--watch`: one status line, redrawn in place on a terminal (a line per change otherwise),
/// until Ctrl-C. Kubernetes is re-read every time, so a replaced pod is followed.
async fn watch(target: &Target, args: &HealthArgs, global: &GlobalArgs) -> CliResult {
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal();
    let interval = Duration::try_from(args.interval)
        .unwrap_or(Duration::from_secs(2))
        .max(Duration::from_millis(200));
    let mut last = String::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let observed = match target {
            Target::Kube { kube, cluster, .. } => {
                // Re-discover: pods come and go while watching.
                let fresh = cratectl_kube::discovery::discover(kube, Some(&cluster.namespace)).await;
                let current = fresh
                    .ok()
                    .and_then(|d| {
                        d.matching(&cluster.name)
                            .find(|c| c.namespace == cluster.namespace)
                            .cloned()
                    })
                    .unwrap_or_else(|| (**cluster).clone());
                observe(kube, &current, global).await
            }
            Target::Url { client, .. } => observe_url(client).await,
        };
        let nodes = observed
            .reading
            .as_ref()
            .map_or_else(|| "?".to_string(), |r| r.nodes.len().to_string());
        let stamp = jiff::Timestamp::now().strftime("%H:%M:%S");
        let line = format!(
            "{stamp} {} {} nodes {nodes}/{} {}",
            target.label(),
            observed.verdict.health,
            observed.expected_nodes,
            if observed.verdict.safe_to_disrupt {
                "safe to disrupt".to_string()
            } else {
                observed.verdict.reasons.join("; ")
            }
        );
        if tty {
            print(&format!("\r\x1b[2K{line}"))?;
        } else if line.split_once(' ').map(|(_, rest)| rest) != last.split_once(' ').map(|(_, rest)| rest) {
            print(&format!("{line}\n"))?;
        }
        last = line;
        tokio::select! {
            _ = &mut ctrl_c => {
                if tty {
                    print("\n")?;
                }
                return Ok(());
            }
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

// ---- ping -------------------------------------------------------------------------------

#[derive(Serialize)]
struct PingRow {
    /// The pod (or the URL).
    target: String,
    /// The CrateDB node name that answered.
    node: Option<String>,
    reachable: bool,
    latency_ms: Option<f64>,
    error: Option<String>,
}

async fn ping_one(label: String, client: Client) -> PingRow {
    let client = client
        .with_retry_policy(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .with_request_timeout(Duration::from_secs(10));
    let started = Instant::now();
    match client.root().await {
        Ok(root) => PingRow {
            target: label,
            node: Some(root.name),
            reachable: true,
            latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
            error: None,
        },
        Err(e) => PingRow {
            target: label,
            node: None,
            reachable: false,
            latency_ms: None,
            error: Some(e.to_string()),
        },
    }
}

async fn ping(format: OutputFormat, args: &PingArgs, global: &GlobalArgs) -> CliResult {
    let target = connect::target(global, args.cluster.name.as_deref()).await?;
    let rows: Vec<PingRow> = match &target {
        Target::Url { url, client } => vec![ping_one(url.clone(), client.clone()).await],
        Target::Kube { kube, cluster, .. } => {
            let credentials = connect::credentials(kube, cluster, global).await?;
            futures::stream::iter(cluster.pods.iter())
                .map(|pod| {
                    let client = connect::pod_client(kube, cluster, pod, credentials.clone());
                    ping_one(pod.name.clone(), client)
                })
                .buffered(LIST_CONCURRENCY)
                .collect()
                .await
        }
    };
    let all = !rows.is_empty() && rows.iter().all(|r| r.reachable);
    if format != OutputFormat::Text {
        print_structured(format, &rows)?;
    } else {
        let mut t = table(["TARGET", "CRATEDB NODE", "REACHABLE", "LATENCY"]);
        for r in &rows {
            t.add_row(vec![
                r.target.clone(),
                r.node.clone().unwrap_or_else(|| "-".into()),
                if r.reachable {
                    "yes".to_string()
                } else {
                    format!("no: {}", r.error.clone().unwrap_or_default())
                },
                r.latency_ms
                    .map_or_else(|| "-".into(), |ms| format!("{ms:.1} ms")),
            ]);
        }
        print(&render(&t))?;
    }
    if all {
        Ok(())
    } else {
        Err(CliError::silent_failure())
    }
}
