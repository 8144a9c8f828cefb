//! The inputs and records of the restore's workflows (no credentials and no Secret value, ever:
//! a temporary repository's keys are read from the Secret by the activity that needs them).

use std::time::Duration;

use cratectl_core::restore::input::Scope;
use cratectl_core::restore::plan::GcMode;
use cratectl_core::restore::report::{RepositorySource, RestoreClusterReport};
use cratectl_core::restore::repository::Provider;
use serde::{Deserialize, Serialize};

use crate::model::{ClusterRef, Common, Gate, MaintenanceSpec, TargetSpec, new_cluster_common};

/// The registered workflow names (a changed workflow gets a new name: ARCHITECTURE §3).
pub const RESTORE_REQUEST: &str = "restore_request.v1";
pub const RESTORE_CLUSTER: &str = "restore_cluster.v1";

/// Where the snapshot is read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum RepositoryChoice {
    /// `--repository NAME`: exists; never created or dropped.
    Existing { name: String },
    /// `--repository-secret SECRET`: a temporary repository from the Secret's keys.
    Secret { secret: String, provider: Provider },
    /// `--from-resource`: the Secret references of `spec.cluster.restoreSnapshot`.
    Resource,
}

impl RepositoryChoice {
    pub fn source(&self) -> RepositorySource {
        match self {
            RepositoryChoice::Existing { .. } => RepositorySource::Existing,
            RepositoryChoice::Secret { .. } => RepositorySource::Secret,
            RepositoryChoice::Resource => RepositorySource::Resource,
        }
    }

    /// Whether this restore creates (and drops) the repository.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, RepositoryChoice::Existing { .. })
    }
}

/// The recovery tuning written through the saga while the restore runs (`--no-tune`: none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tuning {
    /// `indices.recovery.max_bytes_per_sec`.
    pub recovery_max_bytes_per_sec: String,
    /// `cluster.routing.allocation.cluster_concurrent_rebalance`.
    pub concurrent_rebalance: u32,
}

/// Per-step limits; each is reported by name when hit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    /// Waiting for stable GREEN (before, and after the restore).
    pub health: Duration,
    /// The restore itself, from the statement until every restored primary is active.
    pub restore: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            health: Duration::from_secs(30 * 60),
            restore: Duration::from_secs(24 * 3600),
        }
    }
}

/// How to restore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreOptions {
    pub snapshot: String,
    pub scope: Scope,
    pub repository: RepositoryChoice,
    /// The temporary repository's `max_restore_bytes_per_sec`.
    pub max_restore_bytes_per_sec: String,
    pub tuning: Option<Tuning>,
    pub gc_tables: GcMode,
    pub allow_partial: bool,
    pub maintenance: Option<MaintenanceSpec>,
    pub ignore_maintenance_windows: bool,
    pub gate: Gate,
    pub timeouts: Timeouts,
    pub lease_duration: Duration,
}

impl Default for RestoreOptions {
    fn default() -> RestoreOptions {
        RestoreOptions {
            snapshot: String::new(),
            scope: Scope::TablesAll,
            repository: RepositoryChoice::Existing { name: String::new() },
            max_restore_bytes_per_sec: "240mb".into(),
            tuning: Some(Tuning {
                recovery_max_bytes_per_sec: "200mb".into(),
                concurrent_rebalance: 6,
            }),
            gc_tables: GcMode::Auto,
            allow_partial: false,
            maintenance: None,
            ignore_maintenance_windows: false,
            gate: Gate::default(),
            timeouts: Timeouts::default(),
            lease_duration: Duration::from_secs(10 * 60),
        }
    }
}

impl RestoreOptions {
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

/// The input of the top-level workflow (one cluster).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub request_id: String,
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
    pub options: RestoreOptions,
}

/// The input of one cluster's child workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreClusterInput {
    pub request_id: String,
    pub child_id: String,
    pub target: TargetSpec,
    pub cluster: ClusterRef,
    pub options: RestoreOptions,
    #[serde(default)]
    pub forced: Option<String>,
}

/// A cluster's report before anything ran.
pub fn new_cluster_report(cluster: &ClusterRef, child_id: &str) -> RestoreClusterReport {
    RestoreClusterReport {
        common: new_cluster_common(cluster, child_id),
        ..Default::default()
    }
}
