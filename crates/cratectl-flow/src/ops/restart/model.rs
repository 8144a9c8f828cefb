//! The inputs and records of the restart's workflows (no credentials, ever: see
//! [`crate::model`]).

use std::time::Duration;

use cratectl_core::restart::plan::{MinAvailability, Order, PlannedPod};
use cratectl_core::restart::report::{ClusterReport, PodReport, PodResult};
use serde::{Deserialize, Serialize};

use crate::model::{ClusterRef, Common, Gate, MaintenanceSpec, TargetSpec, new_cluster_common};

/// The registered workflow names (a changed workflow gets a new name: ARCHITECTURE §3). v2:
/// activity errors are typed and only retryable ones retried, the start-up reading is awaited,
/// and the allocation hold is bounded. v3: another actor on the cluster is looked for before
/// each pod.
pub const RESTART_REQUEST: &str = "restart_request.v3";
pub const RESTART_CLUSTER: &str = "restart_cluster.v3";
/// Names of earlier versions: their records are still read (`status`, `list`), never run.
pub const RESTART_REQUEST_V1: &str = "restart_request.v1";
pub const RESTART_REQUEST_V2: &str = "restart_request.v2";

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
    /// How long allocation stays held at `primaries` while the pod being restarted has not
    /// rejoined; then the setting is restored so CrateDB rebuilds the missing replicas.
    #[serde(default = "default_hold")]
    pub hold: Duration,
}

fn default_hold() -> Duration {
    Duration::from_secs(5 * 60)
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            health: Duration::from_secs(15 * 60),
            pod_ready: Duration::from_secs(15 * 60),
            rejoin: Duration::from_secs(10 * 60),
            decommission: Duration::from_secs(2 * 3600),
            eviction: Duration::from_secs(30 * 60),
            hold: default_hold(),
        }
    }
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

impl RestartOptions {
    /// What the shared harness needs of these options.
    pub fn common(&self) -> Common {
        Common {
            gate: self.gate.clone(),
            health_timeout: self.timeouts.health,
            lease_duration: self.lease_duration,
            maintenance: self.maintenance.clone(),
            ignore_maintenance_windows: self.ignore_maintenance_windows,
        }
    }
}

/// A cluster's report before anything ran: pending, no pods known yet.
pub fn new_cluster_report(cluster: &ClusterRef, child_id: &str) -> ClusterReport {
    ClusterReport {
        common: new_cluster_common(cluster, child_id),
        pods: Vec::new(),
        pod_index: None,
        pod_total: 0,
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
