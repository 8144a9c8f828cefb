//! What every operation's workflows record: the cluster they work on, the options every
//! operation shares (the stable gate, the Lease, maintenance windows), the control messages
//! they listen for, the side effects they have open, and the progress record around each
//! operation's own report. Everything here is serialized into the engine's history or status,
//! so it holds no credentials: the worker reads those from the cluster's Secret (or its own
//! environment) when an activity runs.

use std::path::PathBuf;
use std::time::Duration;

use cratectl_core::op::saga::Saga;
use cratectl_core::restore::input::TableName;
use serde::{Deserialize, Serialize};

/// The one mailbox every operation's workflows listen on; messages are [`Control`] as JSON.
pub const CONTROL_MAILBOX: &str = "control";

/// An operator's message to a running operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Control {
    /// Leave the maintenance wait now (and ignore windows for the rest of the run).
    ForceRestart { reason: String },
    /// Finish the current step (a restart: the pod in progress), then stop cleanly.
    Stop { reason: String },
}

/// Which Kubernetes API to talk to, as the user chose it (no credentials: the kubeconfig file
/// is read by the worker).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetSpec {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// How the CLI authenticated to CrateDB, when the worker must do the same: only that it
    /// used a token command, never the command or a credential. Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSpec>,
}

/// What a worker needs to run an operation's CrateDB requests (see [`TargetSpec::auth`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthSpec {
    /// Started with `--token-command`: a static token may expire before the operation ends,
    /// so the worker needs a token command too.
    TokenCommand,
}

/// Why a worker without a token command refuses an operation started with one.
pub const NEEDS_TOKEN_COMMAND: &str = "this operation was started with --token-command: give the \
     worker --token-command (or CRATEDB_TOKEN_COMMAND) too";

/// A cluster as the CLI resolved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRef {
    pub namespace: String,
    /// The CrateDB resource's `metadata.name`.
    pub resource: String,
    /// The CrateDB cluster name (what users type).
    pub name: String,
}

/// The child workflow id of `cluster` in request `request_id` (the cluster's Lease holder).
pub fn child_id(request_id: &str, cluster: &ClusterRef) -> String {
    cratectl_core::op::ids::child_id(request_id, &cluster.namespace, &cluster.name)
}

/// The stable-reading gate (ARCHITECTURE §1.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// The same safe verdict this many polls in a row.
    pub polls: u32,
    pub interval: Duration,
}

impl Default for Gate {
    fn default() -> Gate {
        Gate {
            polls: 3,
            interval: Duration::from_secs(2),
        }
    }
}

/// A maintenance configuration, carried as text so a worker on another machine needs no file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceSpec {
    /// Where the CLI read it (for messages).
    pub path: String,
    pub toml: String,
}

/// What every operation's cluster workflow is given besides its own options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Common {
    pub gate: Gate,
    /// Waiting for stable GREEN (before a disruption, and after it).
    pub health_timeout: Duration,
    /// How long the cluster's Lease lasts without renewal.
    pub lease_duration: Duration,
    pub maintenance: Option<MaintenanceSpec>,
    pub ignore_maintenance_windows: bool,
}

impl Common {
    /// The maintenance schedule of `cluster` (its CrateDB name) when windows apply: `None` with
    /// no file or with `--ignore-maintenance-windows`. The one lookup for the workflows and the
    /// dry runs; an error names the file.
    pub fn schedule(&self, cluster: &str) -> Result<Option<cratectl_core::maintenance::Schedule>, String> {
        let (Some(spec), false) = (&self.maintenance, self.ignore_maintenance_windows) else {
            return Ok(None);
        };
        let config = cratectl_core::maintenance::MaintenanceConfig::parse(&spec.path, &spec.toml)
            .map_err(|e| format!("maintenance config {}: {e}", spec.path))?;
        let (schedule, _) = config
            .schedule(cluster)
            .map_err(|e| format!("maintenance config {}: {e}", spec.path))?;
        Ok(Some(schedule.clone()))
    }
}

/// What a cluster workflow publishes as progress: the operation's report, plus what
/// compensation needs if the workflow is cancelled (hard stop) before it could clean up itself.
/// Compensation reads only [`OpenState`], the same for every operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterProgress<R> {
    pub report: R,
    pub open: OpenEffects,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
}

/// The part of any operation's [`ClusterProgress`] that compensation needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenState {
    pub open: OpenEffects,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
}

/// Side effects that are in place and must be undone (the saga's state).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenEffects {
    /// Settings recorded before we changed them; `Some` until restored.
    pub saga: Option<Saga>,
    /// The Lease holder identity while we hold it.
    pub lease_holder: Option<String>,
    /// StatefulSets carrying our routing-owner label.
    pub routing_owner_on: Vec<String>,
    /// StatefulSets carrying our `dc-util-disabled=true` label (nodes being removed).
    #[serde(default)]
    pub dc_util_disabled_on: Vec<String>,
    /// A node whose StatefulSet was scaled below it and that may not have left yet: its
    /// exclusion is lifted only once it has (lifting it earlier could move shards onto it).
    #[serde(default)]
    pub departing: Option<Departing>,
    /// A restore's temporary repository, created by us (dropped at the end).
    #[serde(default)]
    pub repository_created: Option<String>,
    /// A restore's internal tables renamed away: `(original, renamed to)` (renamed back unless
    /// the restore succeeded).
    #[serde(default)]
    pub tables_renamed: Vec<(TableName, TableName)>,
    /// Deployments we scaled to 0: `(name, replicas to put back)`.
    #[serde(default)]
    pub deployments_scaled: Vec<(String, i32)>,
    /// A suspend's record, written and not committed yet (no StatefulSet changed): undone on
    /// the way out (CronJobs and Deployments back, the record removed). Once the suspend
    /// commits, the record is the resume's to undo.
    #[serde(default)]
    pub suspend_record: Option<cratectl_core::suspend::record::SuspendRecord>,
}

/// A node on its way out of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departing {
    pub pod: String,
    /// Its CrateDB node name.
    pub node: String,
    /// Its StatefulSet and ordinal: while the StatefulSet still wants it (`spec.replicas` above
    /// the ordinal: the decrease never happened), it is not departing and its exclusion may go.
    #[serde(default)]
    pub statefulset: Option<String>,
    #[serde(default)]
    pub ordinal: Option<u64>,
}

impl OpenEffects {
    pub fn is_empty(&self) -> bool {
        self.saga.is_none()
            && self.lease_holder.is_none()
            && self.routing_owner_on.is_empty()
            && self.dc_util_disabled_on.is_empty()
            && self.departing.is_none()
            && self.restore_effects_closed()
            && self.suspend_record.is_none()
    }

    /// Whether no restore effect is open.
    pub fn restore_effects_closed(&self) -> bool {
        self.repository_created.is_none()
            && self.tables_renamed.is_empty()
            && self.deployments_scaled.is_empty()
    }
}

/// What the top-level workflow publishes: the request (the children hold the details).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestProgress {
    pub request_id: String,
    pub started_at: Option<jiff::Timestamp>,
    pub clusters: Vec<ClusterRef>,
    pub child_ids: Vec<String>,
}

/// The common part of a cluster's report before anything ran: pending.
pub fn new_cluster_common(cluster: &ClusterRef, child_id: &str) -> cratectl_core::op::report::ClusterCommon {
    cratectl_core::op::report::ClusterCommon {
        name: cluster.name.clone(),
        namespace: cluster.namespace.clone(),
        state: cratectl_core::op::report::ClusterState::Pending,
        resource: cluster.resource.clone(),
        child_id: child_id.to_string(),
        ..Default::default()
    }
}
