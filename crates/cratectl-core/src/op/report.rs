//! What every operation reports, and the exit-code rule over it.
//!
//! An operation's report (`restart`, `status` with `-o json|yaml`) is a contract that scripts
//! parse: fields are added, never renamed or removed, an absent value is `null`, never a missing
//! key, and instants are RFC 3339 in UTC (`2026-12-06T07:15:00Z`). The top level
//! ([`OperationReport`]) and each cluster's common part ([`ClusterCommon`], flattened into the
//! operation's own cluster report) are the same for every operation; each operation adds its
//! own fields per cluster (the restart: its pods).
//!
//! Exit codes (with 2, invalid input or refused, decided before a report exists):
//!
//! * 0: the request completed and no cluster failed or was cancelled, or it is still running
//!   (`--async`, or `status` of a running request). A cluster stopped on request at a step
//!   boundary (`stop`) with no failed step is not a failure.
//! * 1: the request failed or was cancelled, or a cluster failed, was cancelled, or stopped
//!   after a step failed.

use std::fmt;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::OperationKind;

/// The state of the whole request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    #[default]
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Running => "running",
            RequestState::Completed => "completed",
            RequestState::Failed => "failed",
            RequestState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one cluster's restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterState {
    /// Not started yet.
    #[default]
    Pending,
    /// Waiting for a maintenance window (or for another operation's Lease).
    Waiting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Stopped at a pod boundary on request (`stop-after-current`).
    Stopped,
}

impl ClusterState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Pending => "pending",
            ClusterState::Waiting => "waiting",
            ClusterState::Running => "running",
            ClusterState::Succeeded => "succeeded",
            ClusterState::Failed => "failed",
            ClusterState::Cancelled => "cancelled",
            ClusterState::Stopped => "stopped",
        }
    }

    /// True once the cluster's restart has ended, one way or another.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ClusterState::Succeeded | ClusterState::Failed | ClusterState::Cancelled | ClusterState::Stopped
        )
    }
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a cluster's report says in every operation. Flattened into the operation's cluster
/// report, so its fields sit at the top level of each `clusters[]` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterCommon {
    pub name: String,
    pub namespace: String,
    pub state: ClusterState,
    /// Why it failed, was cancelled or stopped.
    pub reason: Option<String>,
    /// What it waits for right now, with the last values seen (ARCHITECTURE §1.8).
    pub waiting_for: Option<String>,
    /// The CrateDB custom resource's `metadata.name`.
    #[serde(default)]
    pub resource: String,
    /// The cluster's workflow id ([`super::ids::child_id`]): the Lease holder while it runs.
    #[serde(default)]
    pub child_id: String,
    /// The phase of the operation: `prepare` (discover, Lease, first health reading), `window`
    /// (waiting for a maintenance window), the operation's own work (`restart` for a restart),
    /// `cleanup` (settings, labels, Lease back), or `done`.
    #[serde(default)]
    pub phase: Option<String>,
    /// The step within the phase (`gate`, `evict`, `wait ready`, `restore settings`, …).
    #[serde(default)]
    pub current_step: Option<String>,
    /// The last health reading, summarised.
    #[serde(default)]
    pub last_readings: Option<String>,
    /// The maintenance window situation (`waiting for window until 2026-12-07T02:00:00Z`).
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Why the workflow engine cannot move this cluster's workflow on although it runs (on
    /// Temporal: a workflow task that keeps failing, such as a nondeterminism after an upgrade).
    /// Filled in when the report is read, never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_problem: Option<String>,
}

/// An operation's report of one cluster: the common part plus the operation's own fields.
pub trait ClusterOutcome {
    fn common(&self) -> &ClusterCommon;
    fn common_mut(&mut self) -> &mut ClusterCommon;
    /// Whether one of the operation's own steps (a pod, a node) failed.
    fn step_failed(&self) -> bool {
        false
    }
    /// True when the cluster failed, was cancelled, or stopped after a failed step (a clean
    /// `stop` is not a failure).
    fn is_failure(&self) -> bool {
        match self.common().state {
            ClusterState::Failed | ClusterState::Cancelled => true,
            ClusterState::Stopped => self.step_failed(),
            _ => false,
        }
    }
}

/// The whole request of any operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationReport<T> {
    pub workflow_id: String,
    /// What the operation does. Records written before the field existed are restarts.
    #[serde(default = "restart_kind")]
    pub operation: OperationKind,
    pub state: RequestState,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub clusters: Vec<T>,
    /// When a worker last recorded progress of this operation (any of its workflows); `null`
    /// until one has. `status` says so when a running operation has not moved for a while.
    #[serde(default)]
    pub progressed_at: Option<Timestamp>,
}

/// How long a running operation may go without recorded progress before `status` says that no
/// worker seems to be running it. Every wait records progress at least every 30 s.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

fn restart_kind() -> OperationKind {
    OperationKind::Restart
}

impl Default for OperationKind {
    /// Only for records that predate the `operation` field (all restarts).
    fn default() -> OperationKind {
        OperationKind::Restart
    }
}

impl<T> OperationReport<T> {
    /// The first line of the text report: `<id>: <state>, started …, finished …`.
    pub fn header_text(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{}: {}", self.workflow_id, self.state);
        if let Some(started) = self.started_at {
            let _ = write!(out, ", started {}", crate::text::instant(started));
        }
        if let Some(finished) = self.finished_at {
            let _ = write!(out, ", finished {}", crate::text::instant(finished));
        }
        out.push('\n');
        out
    }
}

/// The lines every operation's text report shows for a cluster under its title: reason, what
/// it waits for, step, window, last readings, warnings.
pub fn common_lines(out: &mut String, c: &ClusterCommon) {
    let lines = [
        ("reason", c.reason.as_deref()),
        ("engine", c.engine_problem.as_deref()),
        ("waiting for", c.waiting_for.as_deref()),
        ("step", c.current_step.as_deref()),
        ("window", c.window.as_deref()),
        ("last readings", c.last_readings.as_deref()),
    ];
    for (label, value) in lines {
        if let Some(value) = value {
            let _ = writeln!(out, "  {label}: {value}");
        }
    }
    for warning in &c.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
}

/// Any operation's cluster report, read without knowing the operation: the common part, and
/// the operation's own fields kept as they are (so `status`, `list` and `cancel` work on every
/// kind, and `-o json` prints every field).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnyCluster {
    #[serde(flatten)]
    pub common: ClusterCommon,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl ClusterOutcome for AnyCluster {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }

    /// The operation's own rows (`pods`, `nodes`, `tables`) say a step failed with
    /// `"result": "failed"`.
    fn step_failed(&self) -> bool {
        ["pods", "nodes", "tables"].iter().any(|key| {
            self.rest
                .get(*key)
                .and_then(serde_json::Value::as_array)
                .is_some_and(|rows| {
                    rows.iter()
                        .any(|r| r.get("result").and_then(|v| v.as_str()) == Some("failed"))
                })
        })
    }
}

/// Any operation's report (see [`AnyCluster`]).
pub type AnyReport = OperationReport<AnyCluster>;

impl AnyReport {
    /// The report as operation `T`'s own (`None` when a cluster's record does not read as one).
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Option<OperationReport<T>> {
        let clusters = self
            .clusters
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| serde_json::from_value(v).ok())
            })
            .collect::<Option<Vec<T>>>()?;
        Some(OperationReport {
            workflow_id: self.workflow_id.clone(),
            operation: self.operation,
            state: self.state,
            started_at: self.started_at,
            finished_at: self.finished_at,
            clusters,
            progressed_at: self.progressed_at,
        })
    }
}

impl<T: ClusterOutcome> OperationReport<T> {
    /// The request's state from its clusters': running while any cluster has not ended; then
    /// failed when any failed (or stopped after a step failed), else cancelled when any was
    /// cancelled, else completed.
    pub fn overall(clusters: &[T]) -> RequestState {
        if !clusters.iter().all(|c| c.common().state.is_terminal()) {
            RequestState::Running
        } else if clusters
            .iter()
            .any(|c| c.is_failure() && c.common().state != ClusterState::Cancelled)
        {
            RequestState::Failed
        } else if clusters
            .iter()
            .any(|c| c.common().state == ClusterState::Cancelled)
        {
            RequestState::Cancelled
        } else {
            RequestState::Completed
        }
    }

    /// Whether the operation is running but no worker recorded progress for more than
    /// [`STALE_AFTER`] before `now` (or ever, when it was recorded that long ago).
    pub fn stalled(&self, now: Timestamp) -> bool {
        if self.state != RequestState::Running {
            return false;
        }
        let Some(last) = self.progressed_at.or(self.started_at) else {
            return false;
        };
        now.duration_since(last)
            > jiff::SignedDuration::try_from(STALE_AFTER).unwrap_or(jiff::SignedDuration::MAX)
    }

    /// The process exit code for this report (module documentation).
    pub fn exit_code(&self) -> i32 {
        match self.state {
            RequestState::Failed | RequestState::Cancelled => 1,
            RequestState::Running => 0,
            RequestState::Completed => i32::from(self.clusters.iter().any(ClusterOutcome::is_failure)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Plain(ClusterCommon);

    impl ClusterOutcome for Plain {
        fn common(&self) -> &ClusterCommon {
            &self.0
        }
        fn common_mut(&mut self) -> &mut ClusterCommon {
            &mut self.0
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_running_operation_is_stalled_after_a_minute_without_progress() {
        let report = OperationReport::<Plain> {
            state: RequestState::Running,
            started_at: Some(ts("2026-12-07T10:00:00Z")),
            progressed_at: Some(ts("2026-12-07T10:05:00Z")),
            ..OperationReport::default()
        };
        assert!(!report.stalled(ts("2026-12-07T10:06:00Z")));
        assert!(report.stalled(ts("2026-12-07T10:06:01Z")));
        // Never picked up: counted from its start.
        let unpicked = OperationReport::<Plain> {
            progressed_at: None,
            ..report.clone()
        };
        assert!(unpicked.stalled(ts("2026-12-07T10:01:01Z")));
        let done = OperationReport::<Plain> {
            state: RequestState::Completed,
            ..report
        };
        assert!(!done.stalled(ts("2026-12-08T00:00:00Z")));
    }
}
