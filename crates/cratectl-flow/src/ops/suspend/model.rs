//! The inputs of the suspend's and the resume's workflows (no credentials, ever: see
//! [`crate::model`]).

use std::collections::BTreeMap;
use std::time::Duration;

use cratectl_core::scale::plan::Mode;
use cratectl_core::suspend::record::Counts;
use cratectl_core::suspend::report::{ResumeClusterReport, SuspendClusterReport};
use serde::{Deserialize, Serialize};

use crate::model::{ClusterRef, Common, Gate, MaintenanceSpec, TargetSpec, new_cluster_common};

/// The registered workflow names (a changed workflow gets a new name: ARCHITECTURE §3).
pub const SUSPEND_REQUEST: &str = "suspend_request.v1";
pub const SUSPEND_CLUSTER: &str = "suspend_cluster.v1";
pub const RESUME_REQUEST: &str = "resume_request.v1";
pub const RESUME_CLUSTER: &str = "resume_cluster.v1";

/// Per-step limits; each is reported by name when hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Stable GREEN (before a suspend, at the end of a resume).
    pub health: Duration,
    /// Every pod gone after the StatefulSets went to 0 (suspend).
    pub stop: Duration,
    /// Masters Ready, every node in `sys.nodes` (resume).
    pub start: Duration,
    /// Every primary active after the nodes are back (resume).
    pub recovery: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            health: Duration::from_secs(30 * 60),
            stop: Duration::from_secs(15 * 60),
            start: Duration::from_secs(15 * 60),
            recovery: Duration::from_secs(3600),
        }
    }
}

/// How to suspend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendOptions {
    pub mode: Mode,
    pub force_direct: bool,
    /// Hold `cluster.routing.allocation.enable` at `primaries` through the suspended period
    /// (direct mode; `--no-hold` turns it off).
    pub hold: bool,
    /// Suspend a cluster that is not GREEN.
    pub allow_unhealthy: bool,
    /// Save the client Service in the record and delete it once the data nodes are gone
    /// (direct mode; the resume recreates it).
    #[serde(default)]
    pub delete_client_service: bool,
    pub maintenance: Option<MaintenanceSpec>,
    pub ignore_maintenance_windows: bool,
    pub gate: Gate,
    pub timeouts: Timeouts,
    pub lease_duration: Duration,
    /// The counts the CLI planned; the workflow plans again and fails if they differ.
    pub planned: Option<Counts>,
}

impl Default for SuspendOptions {
    fn default() -> SuspendOptions {
        SuspendOptions {
            mode: Mode::Auto,
            force_direct: false,
            hold: true,
            allow_unhealthy: false,
            delete_client_service: false,
            maintenance: None,
            ignore_maintenance_windows: false,
            gate: Gate::default(),
            timeouts: Timeouts::default(),
            lease_duration: Duration::from_secs(10 * 60),
            planned: None,
        }
    }
}

impl SuspendOptions {
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

/// How to resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeOptions {
    pub mode: Mode,
    pub force_direct: bool,
    /// `--replicas` (only without a record, or equal to it).
    pub replicas: Option<BTreeMap<String, u64>>,
    pub gate: Gate,
    pub timeouts: Timeouts,
    pub lease_duration: Duration,
    /// The counts the CLI planned; the workflow plans again and fails if they differ.
    pub planned: Option<Counts>,
}

impl Default for ResumeOptions {
    fn default() -> ResumeOptions {
        ResumeOptions {
            mode: Mode::Auto,
            force_direct: false,
            replicas: None,
            gate: Gate::default(),
            timeouts: Timeouts::default(),
            lease_duration: Duration::from_secs(10 * 60),
            planned: None,
        }
    }
}

impl ResumeOptions {
    /// What the shared harness needs of these options (a resume has no maintenance gate: a
    /// suspended cluster serves nothing, so bringing it back cannot wait for a window).
    pub fn common(&self) -> Common {
        Common {
            gate: self.gate.clone(),
            health_timeout: self.timeouts.health,
            lease_duration: self.lease_duration,
            maintenance: None,
            ignore_maintenance_windows: true,
        }
    }
}

/// The input of the top-level suspend workflow (one cluster).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendRequest {
    pub request_id: String,
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
    pub options: SuspendOptions,
}

/// The input of one cluster's suspend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendClusterInput {
    pub request_id: String,
    pub child_id: String,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
    pub options: SuspendOptions,
    #[serde(default)]
    pub forced: Option<String>,
}

/// The input of the top-level resume workflow (one cluster).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeRequest {
    pub request_id: String,
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
    pub options: ResumeOptions,
}

/// The input of one cluster's resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeClusterInput {
    pub request_id: String,
    pub child_id: String,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
    pub options: ResumeOptions,
    #[serde(default)]
    pub forced: Option<String>,
}

/// A suspend's cluster report before anything ran.
pub fn new_suspend_report(cluster: &ClusterRef, child_id: &str) -> SuspendClusterReport {
    SuspendClusterReport {
        common: new_cluster_common(cluster, child_id),
        ..Default::default()
    }
}

/// A resume's cluster report before anything ran.
pub fn new_resume_report(cluster: &ClusterRef, child_id: &str) -> ResumeClusterReport {
    ResumeClusterReport {
        common: new_cluster_common(cluster, child_id),
        ..Default::default()
    }
}
