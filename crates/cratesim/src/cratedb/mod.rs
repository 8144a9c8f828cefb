//! The CrateDB cluster model: a pure, synchronous, I/O-free simulation of what a CrateDB
//! cluster answers and how it changes over simulated time.
//!
//! The Kubernetes side drives node processes (`ensure_node`, `node_process_started`,
//! `node_stop_requested`, `node_killed`, `node_departed`) and the clock (`advance`,
//! `next_change_at`); the HTTP layer turns `root` and `sql` into responses. Nothing here
//! blocks, spawns or reads a clock: time is always passed in.
//!
//! * [`spec`] — the inputs: cluster, node and table specs, timings, faults.
//! * `model` — nodes, tables, indices (table or partition), shard copies.
//! * `settings` — cluster settings, transient/persistent levels, `sys.cluster.settings`.
//! * `lifecycle` — nodes joining and leaving, added on scale-out and departed on scale-in,
//!   master election with the voting configuration, decommission, the clock.
//! * `allocation` — the deciders, the reroute that assigns, recovers and relocates copies, and
//!   the balancer that spreads them over the nodes.
//! * `health` — `sys.health` per index, by CrateDB's rules.
//! * `node_checks` — `sys.node_checks`: each node's gateway checks with its own start-up
//!   settings, and their acknowledgement.
//! * `snapshots` — repositories, snapshots and restores.
//! * `systables` — rows and column types of the system tables.
//! * `sql` — the `/_sql` endpoint: request parsing, statement catalogue, evaluator, replies.

mod allocation;
mod health;
mod lifecycle;
mod model;
mod node_checks;
mod settings;
mod snapshots;
pub mod spec;
mod sql;
mod systables;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value};

pub use model::partition_ident;
pub use snapshots::{ObjectStore, SharedObjectStore};
pub use spec::{
    Auth, BearerStats, ClusterSpec, DEFAULT_ROWS, Fault, GatewaySettings, Health, JwtProps, NodeSpec,
    SqlWrite, TableSpec, Timings,
};
pub use sql::{ReplyBody, SqlReply, Wait};

use model::{Node, Table};
use settings::Settings;

/// Epoch milliseconds of simulated time zero unless told otherwise (2026-01-01T00:00:00Z).
const DEFAULT_EPOCH_MS: i64 = 1_767_225_600_000;

/// Faults currently switched on.
#[derive(Debug, Clone, Default)]
struct Faults {
    slow_recovery: Option<f64>,
    stuck_yellow: bool,
    statement_failures: Vec<(String, u32, String)>,
    /// `schema.table` whose restores fail.
    restore_fails: Vec<String>,
}

/// One simulated CrateDB cluster.
#[derive(Debug, Clone)]
pub struct CrateCluster {
    name: String,
    cluster_id: String,
    nodes: Vec<Node>,
    tables: Vec<Table>,
    settings: Settings,
    /// User name → password (`None` = no password).
    users: BTreeMap<String, Option<String>>,
    /// Users' `jwt` properties, by user name.
    user_jwt: BTreeMap<String, JwtProps>,
    bearer: BearerStats,
    /// Host-based auth as the operator configures it (password for everyone not local).
    hba_enabled: bool,
    snaps: snapshots::Store,
    /// Where snapshots live: shared by every cluster of a simulation (see `snapshots.rs`).
    objects: SharedObjectStore,
    master: Option<usize>,
    /// The voting configuration (Zen2): the master-eligible nodes whose majority elects a master.
    voting: BTreeSet<usize>,
    clock: Duration,
    epoch_ms: i64,
    timings: Timings,
    faults: Faults,
    writes: Vec<SqlWrite>,
    state_version: u64,
}

impl CrateCluster {
    /// A running cluster: every node joined, every shard copy STARTED, health GREEN.
    /// Tables whose spec is invalid (bad replica text) are skipped.
    pub fn new(spec: ClusterSpec, now: Duration) -> Self {
        let nodes: Vec<Node> = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut node = Node::new(n, &spec.name, i, &spec.version);
                node.joined_at = now;
                node
            })
            .collect();
        // Bootstrapped from every master-eligible node (the operator's
        // `cluster.initial_master_nodes`); the first master trims it to an odd size.
        let voting = (0..nodes.len()).filter(|&i| nodes[i].master_eligible).collect();
        let mut users = BTreeMap::new();
        users.insert("crate".to_string(), None);
        users.insert("system".to_string(), Some(spec.system_password.clone()));
        let mut cluster = Self {
            cluster_id: model::uuid_from(&format!("cluster/{}", spec.name)),
            name: spec.name,
            nodes,
            tables: Vec::new(),
            settings: Settings::default(),
            users,
            user_jwt: BTreeMap::new(),
            bearer: BearerStats::default(),
            hba_enabled: true,
            snaps: snapshots::Store::default(),
            objects: SharedObjectStore::default(),
            master: None,
            voting,
            clock: now,
            epoch_ms: DEFAULT_EPOCH_MS,
            timings: spec.timings,
            faults: Faults::default(),
            writes: Vec::new(),
            state_version: 1,
        };
        cluster.elect_master();
        for table in &spec.tables {
            if let Ok(t) = Table::from_spec(table) {
                cluster.tables.push(t);
            }
        }
        cluster.place_started();
        cluster
    }

    // ---- lifecycle, driven by the Kubernetes side (see lifecycle.rs) ----

    /// A pod is about to run node `spec.name`. A node the cluster does not know yet (a pod
    /// added on scale-out) is added without a process, never having been a member; it joins
    /// once `node_process_started` is called, and gets shards as CrateDB allocates them:
    /// unassigned copies first, then rebalancing (see allocation.rs). A known node keeps its
    /// id, roles and data (a node coming back after a scale-in or a suspend is the same node).
    pub fn ensure_node(&mut self, spec: &NodeSpec, now: Duration) {
        self.advance(now);
        if self.node_index(&spec.name).is_some() {
            return;
        }
        let index = self.nodes.len();
        let version = self.nodes.first().map(|n| n.version.clone()).unwrap_or_default();
        self.nodes
            .push(model::Node::added(spec, &self.name, index, &version));
    }

    /// The node's pod is gone for good (scale-in, suspend; a still running process is killed):
    /// the node stays out of the cluster and no longer counts as unavailable. What it held was
    /// failed when it left: replicas elsewhere were promoted, its copies are unassigned (so
    /// YELLOW, or RED where it held the only copy) until CrateDB rebuilds replicas elsewhere
    /// after `unassigned.node_left.delayed_timeout`. A pod that later runs the node again
    /// (`node_process_started`) brings it back.
    pub fn node_departed(&mut self, node: &str, now: Duration) {
        self.advance(now);
        if let Some(i) = self.node_index(node) {
            self.depart(i, now);
            self.reroute(now);
        }
    }

    /// Whether the node's pod is gone for good (see `node_departed`).
    pub fn node_has_departed(&self, node: &str) -> bool {
        self.node_index(node).is_some_and(|i| self.nodes[i].departed)
    }

    /// The node's process is up; it joins after `timings.join_delay`.
    pub fn node_process_started(&mut self, node: &str, now: Duration) {
        self.advance(now);
        if let Some(i) = self.node_index(node) {
            self.process_started(i, now);
        }
    }

    /// Like `node_process_started`, with the version of the new image (rolling upgrade).
    pub fn node_process_started_with_version(&mut self, node: &str, version: &str, now: Duration) {
        if let Some(i) = self.node_index(node) {
            self.nodes[i].version = version.to_string();
        }
        self.node_process_started(node, now);
    }

    /// Kubernetes asks the node to stop (preStop, then SIGTERM). CrateDB stops on SIGTERM without
    /// moving shards (docs/cratedb-behaviour.md#decommission); a decommission that is already
    /// running (started over SQL or by `node_decommission_requested`) is completed first.
    pub fn node_stop_requested(&mut self, node: &str, now: Duration) {
        self.advance(now);
        if let Some(i) = self.node_index(node) {
            self.stop_requested(i, now);
        }
    }

    /// A dc_util-style preStop hook: decommission the node with the given min_availability
    /// (`None` = the cluster setting), as `ALTER CLUSTER DECOMMISSION` would.
    pub fn node_decommission_requested(&mut self, node: &str, availability: Option<&str>, now: Duration) {
        self.advance(now);
        if let Some(i) = self.node_index(node) {
            let availability = availability.map(model::Availability::parse);
            self.start_decommission(i, availability, now);
        }
    }

    /// The process is gone: it leaves at once, its copies become unassigned or are replaced
    /// by promoted replicas.
    pub fn node_killed(&mut self, node: &str, now: Duration) {
        self.advance(now);
        if let Some(i) = self.node_index(node) {
            self.kill(i, now);
        }
    }

    /// True once a requested graceful stop (SIGTERM or decommission) has finished and the
    /// process has exited.
    pub fn node_stopped_gracefully(&mut self, node: &str) -> bool {
        self.node_index(node)
            .is_some_and(|i| self.nodes[i].stopped_gracefully && self.nodes[i].phase == model::Phase::Down)
    }

    /// Whether the node's process runs (false after a decommission made it exit, so the
    /// kubelet can restart the container).
    pub fn node_process_running(&self, node: &str) -> bool {
        self.node_index(node)
            .is_some_and(|i| self.nodes[i].phase != model::Phase::Down)
    }

    /// The static gateway settings of the node's process that starts now (from its pod's command
    /// line as the container starts; [`GatewaySettings::from_command_line`]), or, for a cluster
    /// created running, of its current process. They hold until the process restarts, whatever
    /// the pod template says meanwhile.
    pub fn set_node_gateway(&mut self, node: &str, gateway: GatewaySettings) {
        if let Some(i) = self.node_index(node) {
            self.nodes[i].gateway = gateway;
        }
    }

    /// The static gateway settings the node's current process started with.
    pub fn node_gateway(&self, node: &str) -> Option<&GatewaySettings> {
        self.node_index(node).map(|i| &self.nodes[i].gateway)
    }

    /// Sets the host name shown in sys.nodes (default: the operator's pod name).
    pub fn set_node_hostname(&mut self, node: &str, hostname: &str) {
        if let Some(i) = self.node_index(node) {
            self.nodes[i].hostname = hostname.to_string();
        }
    }

    /// Epoch milliseconds of simulated time zero (for timestamps in sys tables).
    pub fn set_epoch_ms(&mut self, epoch_ms: i64) {
        self.epoch_ms = epoch_ms;
    }

    /// Host-based auth on (default, as the operator configures it: password for every remote
    /// user) or off (CrateDB's own default: trust, passwords ignored, the user must exist).
    pub fn set_host_based_auth(&mut self, enabled: bool) {
        self.hba_enabled = enabled;
    }

    /// Adds (or replaces) a user, as `CREATE USER name WITH (password = …)` would.
    pub fn add_user(&mut self, name: &str, password: Option<String>) {
        self.users.insert(name.to_string(), password);
    }

    /// Adds (or replaces) a user whose bearer tokens carry `jwt`'s issuer and username, as
    /// `CREATE USER name WITH (jwt = {"iss" = …, "username" = …, "aud" = …})` would.
    pub fn add_jwt_user(&mut self, name: &str, jwt: JwtProps) {
        self.users.insert(name.to_string(), None);
        self.user_jwt.insert(name.to_string(), jwt);
    }

    /// What the cluster made of bearer tokens so far.
    pub fn bearer_stats(&self) -> BearerStats {
        self.bearer
    }

    /// The cluster id (`sys.cluster.id`): the audience a token must name when neither the user's
    /// `jwt` nor `auth.host_based.jwt.aud` says otherwise.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Shares `store` as the place snapshots live (every cluster of a simulation gets the
    /// same one; a new cluster has a private store of its own).
    pub fn set_object_store(&mut self, store: SharedObjectStore) {
        self.objects = store;
    }

    /// The handle on the store snapshots live in.
    pub fn object_store(&self) -> SharedObjectStore {
        self.objects.clone()
    }

    // ---- time ----

    /// Progress joins, departures, recoveries, relocations, decommissions, snapshots up to `now`.
    pub fn advance(&mut self, now: Duration) {
        self.advance_to(now);
    }

    /// When `advance` would next change something.
    pub fn next_change_at(&self) -> Option<Duration> {
        self.next_event()
    }

    // ---- HTTP-level semantics ----

    /// Whether the cluster has a node of this name (member or not).
    pub fn has_node(&self, node: &str) -> bool {
        self.node_index(node).is_some()
    }

    /// Whether the node accepts new HTTP connections.
    pub fn serving(&self, node: &str) -> bool {
        self.node_index(node).is_some_and(|i| self.nodes[i].serving())
    }

    /// The plain-text 500 body a decommissioning node answers a new connection with
    /// (docs/cratedb-behaviour.md#a-node-shutting-down), `None` if the node is not in that state.
    pub fn refused_connection_body(&self, node: &str) -> Option<String> {
        let n = &self.nodes[self.node_index(node)?];
        (n.is_member() && !n.serving()).then(|| format!("[{}][{}:4300][sql] disconnected", n.name, n.ip))
    }

    /// Body of `GET /`, exactly as CrateDB (docs/cratedb-behaviour.md#the-root-endpoint).
    /// `status`/`ok` say 503/false when the node sees no elected master.
    pub fn root(&self, node: &str) -> Value {
        sql::root_body(self, node)
    }

    /// `GET /` as sent: pretty-printed, CrateDB's key order.
    pub fn root_text(&self, node: &str) -> String {
        sql::root_body_text(&self.root(node))
    }

    /// `POST /_sql` without HTTP.
    pub fn sql(
        &mut self,
        node: &str,
        query_types: bool,
        error_trace: bool,
        body: &[u8],
        auth: Option<&Auth>,
        now: Duration,
    ) -> SqlReply {
        self.advance(now);
        sql::handle(
            self,
            node,
            sql::Flags {
                types: query_types,
                error_trace,
            },
            body,
            auth,
        )
    }

    /// Whether an operation a reply asked the HTTP layer to wait for has finished.
    pub fn wait_done(&self, wait: &Wait) -> bool {
        self.is_wait_done(wait)
    }

    // ---- evidence ----

    /// GREEN/YELLOW/RED as the worst `sys.health` row (GREEN without tables; RED without master).
    pub fn health(&self) -> Health {
        self.cluster_health()
    }

    /// (transient, persistent), keyed by dotted names.
    pub fn settings(&self) -> (Map<String, Value>, Map<String, Value>) {
        self.settings.levels()
    }

    /// Shard copies initializing or relocating now (what a rolling restart waits out).
    pub fn shards_in_flight(&self) -> usize {
        self.all_copies()
            .filter(|c| {
                matches!(
                    c.routing,
                    model::Routing::Initializing | model::Routing::Relocating
                )
            })
            .count()
    }

    /// Nodes that are stopping, stopped, or not yet rejoined; neither departed nodes (their
    /// pods are gone for good) nor added nodes that have not joined for the first time count.
    pub fn nodes_not_serving(&self) -> usize {
        self.nodes.iter().filter(|n| n.unavailable()).count()
    }

    /// Every state-changing statement, in order.
    pub fn sql_writes(&self) -> &[SqlWrite] {
        &self.writes
    }

    /// Names of the nodes that are cluster members (rows of sys.nodes).
    pub fn member_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.is_member())
            .map(|n| n.name.clone())
            .collect()
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn set_fault(&mut self, fault: Fault) {
        match fault {
            Fault::NodeNeverRejoins(node) => self.set_never_rejoins(&node, true),
            Fault::NodeRejoins(node) => self.set_never_rejoins(&node, false),
            Fault::SlowRecovery(factor) => {
                self.faults.slow_recovery = (factor > 0.0 && factor != 1.0).then_some(factor)
            }
            Fault::HealthStuckYellow(on) => self.faults.stuck_yellow = on,
            Fault::StatementFails {
                pattern,
                code,
                message,
            } => self
                .faults
                .statement_failures
                .push((pattern.to_lowercase(), code, message)),
            Fault::ClearStatementFailures => self.faults.statement_failures.clear(),
            Fault::RestoreFails(table) => self.faults.restore_fails.push(table),
        }
    }

    fn is_wait_done(&self, wait: &Wait) -> bool {
        match wait {
            Wait::Decommission { node } => self.node_index(node).is_none_or(|i| {
                let n = &self.nodes[i];
                n.decommission.is_none() || n.phase != model::Phase::Member
            }),
            Wait::Snapshot { repository, snapshot } => self
                .find_snapshot(repository, snapshot)
                .map(|s| s.done_at(self.clock))
                .unwrap_or(true),
            Wait::Restore { repository, snapshot } => !self
                .snaps
                .restores
                .iter()
                .any(|r| &r.repo == repository && &r.snapshot == snapshot),
        }
    }

    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn record_write(&mut self, node: &str, stmt: &str, args: &[Value]) {
        self.writes.push(SqlWrite {
            at: self.clock,
            node: node.to_string(),
            stmt: stmt.to_string(),
            args: args.to_vec(),
        });
    }

    /// Simulated time as epoch milliseconds.
    fn epoch_at(&self, t: Duration) -> i64 {
        self.epoch_ms + i64::try_from(t.as_millis()).unwrap_or(i64::MAX / 2)
    }
}
