//! The inputs and progress records of the restart workflows. Everything here is serialized into
//! the engine's history or status, so it holds no credentials: the worker reads those from the
//! cluster's Secret (or its own environment) when an activity runs.

use std::path::PathBuf;
use std::time::Duration;

use cratectl_core::restart::plan::{MinAvailability, Order, PlannedPod};
use cratectl_core::restart::report::{ClusterReport, ClusterState, PodReport, PodResult};
use cratectl_core::restart::saga::Saga;
use serde::{Deserialize, Serialize};

/// The registered workflow names (a changed workflow gets a new name: ARCHITECTURE §3).
pub const RESTART_REQUEST: &str = "restart_request.v1";
pub const RESTART_CLUSTER: &str = "restart_cluster.v1";

/// The one mailbox a restart listens on; messages are [`Control`] as JSON.
pub const CONTROL_MAILBOX: &str = "control";

/// An operator's message to a running restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Control {
    /// Leave the maintenance wait now (and ignore windows for the rest of the run).
    ForceRestart { reason: String },
    /// Finish the current pod, then stop cleanly.
    Stop { reason: String },
}

/// Which Kubernetes API to talk to, as the user chose it (no credentials: the kubeconfig file
/// is read by the worker).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetSpec {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A cluster as the CLI resolved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRef {
    pub namespace: String,
    /// The CrateDB resource's `metadata.name`.
    pub resource: String,
    /// The CrateDB cluster name (what users type).
    pub name: String,
}

/// Per-step limits; each is reported by name when hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Waiting for stable GREEN (before a pod, and after it rejoined).
    pub health: Duration,
    /// Waiting for a pod with a new UID to be Ready.
    pub pod_ready: Duration,
    /// Waiting for the restarted CrateDB node to rejoin.
    pub rejoin: Duration,
    /// Our own decommission, until the node has left (dc_util's own timeout applies to hooks).
    pub decommission: Duration,
    /// Waiting while a PodDisruptionBudget refuses the eviction.
    pub eviction: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            health: Duration::from_secs(15 * 60),
            pod_ready: Duration::from_secs(15 * 60),
            rejoin: Duration::from_secs(10 * 60),
            decommission: Duration::from_secs(2 * 3600),
            eviction: Duration::from_secs(30 * 60),
        }
    }
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

/// How to restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartOptions {
    pub order: Order,
    pub only_on_suspended_nodes: bool,
    /// Leave preStop-hook warnings out of the report.
    pub skip_hook_warning: bool,
    /// `--min-availability`; `None` = the maintenance config's, else PRIMARIES.
    pub min_availability: Option<MinAvailability>,
    pub maintenance: Option<MaintenanceSpec>,
    pub ignore_maintenance_windows: bool,
    /// Clusters restarted at once (each cluster: one pod at a time, always).
    pub parallel: usize,
    /// Delete pods instead of evicting them (bypasses PodDisruptionBudgets).
    pub no_eviction: bool,
    pub gate: Gate,
    pub timeouts: Timeouts,
    /// How long a pod takes to start and rejoin, for estimates when none was observed.
    pub startup_estimate: Duration,
    /// How long the cluster's Lease lasts without renewal.
    pub lease_duration: Duration,
}

impl Default for RestartOptions {
    fn default() -> RestartOptions {
        RestartOptions {
            order: Order::MastersFirst,
            only_on_suspended_nodes: false,
            skip_hook_warning: false,
            min_availability: None,
            maintenance: None,
            ignore_maintenance_windows: false,
            parallel: 1,
            no_eviction: false,
            gate: Gate::default(),
            timeouts: Timeouts::default(),
            startup_estimate: Duration::from_secs(120),
            lease_duration: Duration::from_secs(10 * 60),
        }
    }
}

/// The input of the top-level workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartRequest {
    pub request_id: String,
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
    pub options: RestartOptions,
}

/// The input of one cluster's child workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterInput {
    pub request_id: String,
    pub child_id: String,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
    pub options: RestartOptions,
    /// `force_restart` reached the request before this cluster's workflow existed.
    #[serde(default)]
    pub forced: Option<String>,
}

/// What a cluster workflow publishes as progress: the report, plus what compensation needs if
/// the workflow is cancelled (hard stop) before it could clean up itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterProgress {
    pub report: ClusterReport,
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
}

impl OpenEffects {
    pub fn is_empty(&self) -> bool {
        self.saga.is_none() && self.lease_holder.is_none() && self.routing_owner_on.is_empty()
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

/// A cluster's report before anything ran: pending, no pods known yet.
pub fn new_cluster_report(cluster: &ClusterRef, child_id: &str) -> ClusterReport {
    ClusterReport {
        name: cluster.name.clone(),
        namespace: cluster.namespace.clone(),
        state: ClusterState::Pending,
        reason: None,
        waiting_for: None,
        pods: Vec::new(),
        resource: cluster.resource.clone(),
        child_id: child_id.to_string(),
        phase: None,
        current_step: None,
        pod_index: None,
        pod_total: 0,
        last_readings: None,
        window: None,
        started_at: None,
        finished_at: None,
        warnings: Vec::new(),
    }
}

/// A planned pod's report entry: pending, or skipped with the plan's reason.
pub fn planned_pod_report(pod: &PlannedPod) -> PodReport {
    PodReport {
        name: pod.name.clone(),
        old_uid: None,
        new_uid: None,
        result: if pod.skip.is_some() {
            PodResult::Skipped
        } else {
            PodResult::Pending
        },
        reason: pod.skip.clone().or_else(|| pod.note.clone()),
        started_at: None,
        finished_at: None,
        duration_s: None,
    }
}
