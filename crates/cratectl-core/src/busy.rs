//! One answer to "is another operation running on this cluster?": a pure assessment of what the
//! adapters read (Kubernetes objects and CrateDB's system tables) into the evidence that someone
//! else — another cratectl workflow, the CrateDB operator, a backup — is changing the cluster now.
//!
//! Each [`Busy`] has a stable `code` (a contract: `cluster list -o json` shows the codes) and a
//! message naming its evidence. Which operation a code blocks follows the table below; an expired
//! Lease and a stale routing-owner label (older than 2 h) are not busy (`doctor` reports them).
//!
//! | code | evidence | blocks |
//! |---|---|---|
//! | `lease_held` | the cluster's Lease held, not expired, by someone other than us | all |
//! | `operator_handler` | an `operator.cloud.crate.io/<handler>` progress annotation (not `last`) | all |
//! | `operator_restore_requested` | `spec.cluster.restoreSnapshot.snapshot` non-empty | all |
//! | `operator_restart_queue` | `status.pendingPods` non-empty | all |
//! | `routing_owner_fresh` | a `dc-util-routing-owner` label within 2 h of now, not ours | all |
//! | `pods_converging` | a StatefulSet with fewer ready replicas than wanted, or a pod terminating | scale, restore, suspend |
//! | `restore_running` | a row in `sys.snapshot_restore` | all |
//! | `snapshot_running` | a snapshot `IN_PROGRESS` in `sys.snapshots` | scale, restore, suspend |
//! | `backup_job_active` | an active backup Job of the cluster | scale, restore, suspend |
//! | `decommission_running` | an `ALTER CLUSTER DECOMMISSION` in `sys.jobs` | all |
//! | `suspended` | every data StatefulSet at 0 replicas | all but resume |

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::op::OperationKind;
use crate::op::ownership::ROUTING_OWNER_MAX_AGE;
use crate::op::ownership::parse_routing_owner;

/// Why a cluster is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyCode {
    LeaseHeld,
    OperatorHandler,
    OperatorRestoreRequested,
    OperatorRestartQueue,
    RoutingOwnerFresh,
    PodsConverging,
    RestoreRunning,
    SnapshotRunning,
    BackupJobActive,
    DecommissionRunning,
    Suspended,
}

impl BusyCode {
    /// Whether this evidence keeps `operation` from starting.
    pub fn blocks(self, operation: OperationKind) -> bool {
        use BusyCode::*;
        match self {
            PodsConverging | SnapshotRunning | BackupJobActive => matches!(
                operation,
                OperationKind::Scale | OperationKind::Restore | OperationKind::Suspend
            ),
            Suspended => operation != OperationKind::Resume,
            _ => true,
        }
    }
}

/// One piece of evidence that someone else is operating the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    pub code: BusyCode,
    /// What was seen, for people: `the CrateDB operator is running cluster_update.scale since …`.
    pub message: String,
    pub since: Option<Timestamp>,
}

/// A handler of the CrateDB operator in progress (its progress annotation).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorHandler {
    /// `cluster_update.scale`.
    pub name: String,
    pub started: Option<Timestamp>,
    pub retries: Option<u64>,
    pub message: Option<String>,
}

/// What the adapters read. CrateDB readings are `None` when they were not made (e.g. `cluster
/// list` reads Kubernetes only) — unknown, not idle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// `namespace/resource`, for messages.
    pub cluster: String,
    pub now: Option<Timestamp>,
    /// The Lease's holder while held (not expired).
    pub lease_holder: Option<String>,
    /// Our own identity (a workflow re-checking ignores its own Lease and label).
    pub own_holder: Option<String>,
    pub handlers: Vec<OperatorHandler>,
    pub operator_restore: Option<String>,
    pub pending_pods: usize,
    /// `(StatefulSet, dc-util-routing-owner value)`.
    pub routing_owners: Vec<(String, String)>,
    /// Our own routing-owner label value, when we set one.
    pub own_routing_owner: Option<String>,
    /// StatefulSets with fewer ready replicas than wanted, as `name (ready/wanted)`.
    pub statefulsets_converging: Vec<String>,
    pub pods_terminating: Vec<String>,
    /// `repository.snapshot` of restores in `sys.snapshot_restore`.
    pub restores: Option<Vec<String>>,
    /// `repository.snapshot` of snapshots IN_PROGRESS.
    pub snapshots: Option<Vec<String>>,
    pub backup_jobs: Vec<String>,
    /// DECOMMISSION statements in `sys.jobs`.
    pub decommissions: Option<Vec<String>>,
    pub suspended: bool,
}

/// Every piece of evidence, in the order of the table.
pub fn assess(e: &Evidence) -> Vec<Busy> {
    let mut out = Vec::new();
    let mut push = |code, message: String, since| {
        out.push(Busy { code, message, since });
    };
    let c = &e.cluster;
    if let Some(holder) = &e.lease_holder
        && e.own_holder.as_ref() != Some(holder)
    {
        push(
            BusyCode::LeaseHeld,
            format!("{c} is busy: cratectl operation {holder} holds its Lease"),
            None,
        );
    }
    for h in &e.handlers {
        let mut message = format!("{c} is busy: the CrateDB operator is running {}", h.name);
        if let Some(started) = h.started {
            message.push_str(&format!(" since {started}"));
        }
        match (h.retries, &h.message) {
            (Some(r), Some(m)) if r > 0 => message.push_str(&format!(" (retries {r}: {m:?})")),
            (Some(r), None) if r > 0 => message.push_str(&format!(" (retries {r})")),
            _ => {}
        }
        push(BusyCode::OperatorHandler, message, h.started);
    }
    if let Some(snapshot) = &e.operator_restore {
        push(
            BusyCode::OperatorRestoreRequested,
            format!(
                "{c} is busy: the CrateDB operator has a restore of snapshot {snapshot:?} requested in \
                 spec.cluster.restoreSnapshot"
            ),
            None,
        );
    }
    if e.pending_pods > 0 {
        push(
            BusyCode::OperatorRestartQueue,
            format!(
                "{c} is busy: the CrateDB operator has {} pod(s) queued for restart (status.pendingPods)",
                e.pending_pods
            ),
            None,
        );
    }
    if let Some(now) = e.now {
        for (sts, value) in &e.routing_owners {
            if e.own_routing_owner.as_ref() == Some(value) {
                continue;
            }
            let Some((owner, at)) = parse_routing_owner(value) else {
                continue;
            };
            if now.duration_since(at).abs() <= ROUTING_OWNER_MAX_AGE {
                push(
                    BusyCode::RoutingOwnerFresh,
                    format!("{c} is busy: {owner} owns shard allocation on StatefulSet {sts} since {at}"),
                    Some(at),
                );
            }
        }
    }
    if !e.statefulsets_converging.is_empty() || !e.pods_terminating.is_empty() {
        let mut what: Vec<String> = e.statefulsets_converging.clone();
        what.extend(e.pods_terminating.iter().map(|p| format!("pod {p} terminating")));
        push(
            BusyCode::PodsConverging,
            format!("{c} is busy: its pods are changing ({})", what.join(", ")),
            None,
        );
    }
    for r in e.restores.iter().flatten() {
        push(
            BusyCode::RestoreRunning,
            format!("{c} is busy: a restore of {r} is running (sys.snapshot_restore)"),
            None,
        );
    }
    for s in e.snapshots.iter().flatten() {
        push(
            BusyCode::SnapshotRunning,
            format!("{c} is busy: snapshot {s} is being taken"),
            None,
        );
    }
    for j in &e.backup_jobs {
        push(
            BusyCode::BackupJobActive,
            format!("{c} is busy: backup Job {j} is running"),
            None,
        );
    }
    for d in e.decommissions.iter().flatten() {
        push(
            BusyCode::DecommissionRunning,
            format!("{c} is busy: a decommission is running ({d})"),
            None,
        );
    }
    if e.suspended {
        push(
            BusyCode::Suspended,
            format!(
                "{c} is suspended (no data node runs, or a suspend record is on it): resume it first \
                 (cratectl resume)"
            ),
            None,
        );
    }
    out
}

/// The running statements (`sys.jobs.stmt`) that are evidence: `(decommissions, snapshots)`,
/// an `ALTER CLUSTER DECOMMISSION …` and a `CREATE SNAPSHOT …` (keywords in any case, leading
/// blanks ignored).
pub fn classify_statements(statements: &[String]) -> (Vec<String>, Vec<String>) {
    let starts = |stmt: &str, words: &[&str]| {
        let mut rest = stmt.trim_start();
        for word in words {
            let Some(head) = rest.get(..word.len()) else {
                return false;
            };
            if !head.eq_ignore_ascii_case(word) {
                return false;
            }
            rest = rest[word.len()..].trim_start();
        }
        true
    };
    let mut decommissions = Vec::new();
    let mut snapshots = Vec::new();
    for stmt in statements {
        if starts(stmt, &["ALTER", "CLUSTER", "DECOMMISSION"]) {
            decommissions.push(stmt.trim().to_string());
        } else if starts(stmt, &["CREATE", "SNAPSHOT"]) {
            snapshots.push(stmt.trim().to_string());
        }
    }
    (decommissions, snapshots)
}

/// The evidence that keeps `operation` from starting.
///
/// A resume of a suspended cluster is not held up by a routing-owner label: the CrateDB
/// operator labels every StatefulSet when it suspends a cluster and removes the label only in
/// its resume, so the label is part of being suspended, not another actor at work.
pub fn blocking(busy: &[Busy], operation: OperationKind) -> Vec<&Busy> {
    let suspended = busy.iter().any(|b| b.code == BusyCode::Suspended);
    busy.iter()
        .filter(|b| b.code.blocks(operation))
        .filter(|b| {
            !(operation == OperationKind::Resume && suspended && b.code == BusyCode::RoutingOwnerFresh)
        })
        .collect()
}

#[cfg(test)]
mod statement_tests {
    use super::*;

    #[test]
    fn decommissions_and_snapshots_are_told_from_other_statements() {
        let stmts: Vec<String> = [
            "  alter  cluster\tdecommission 'data-hot-1'",
            "CREATE SNAPSHOT repo.s1 ALL",
            "SELECT stmt FROM sys.jobs",
            "ALTER CLUSTER REROUTE RETRY FAILED",
            "ALTER",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (decommissions, snapshots) = classify_statements(&stmts);
        assert_eq!(decommissions, ["alter  cluster\tdecommission 'data-hot-1'"]);
        assert_eq!(snapshots, ["CREATE SNAPSHOT repo.s1 ALL"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn codes(e: &Evidence) -> Vec<BusyCode> {
        assess(e).into_iter().map(|b| b.code).collect()
    }

    #[test]
    fn idle_is_empty_and_unknown_readings_are_not_busy() {
        let e = Evidence {
            cluster: "crate/prod".into(),
            now: Some(at("2026-12-07T10:00:00Z")),
            ..Default::default()
        };
        assert!(assess(&e).is_empty());
    }

    #[test]
    fn each_piece_of_evidence_has_its_code_and_message() {
        let now = at("2026-12-07T10:00:00Z");
        let e = Evidence {
            cluster: "crate/prod".into(),
            now: Some(now),
            lease_holder: Some("restart-prod-1.crate.prod".into()),
            handlers: vec![crate::busy::OperatorHandler {
                name: "cluster_update.scale".into(),
                started: Some(at("2026-12-07T09:58:12Z")),
                retries: Some(3),
                message: Some("Pending allocation".into()),
            }],
            operator_restore: Some("nightly".into()),
            pending_pods: 2,
            routing_owners: vec![
                (
                    "crate-data-hot-prod".into(),
                    format!("operator-{}", now.as_second() - 60),
                ),
                (
                    "crate-data-cold-prod".into(),
                    format!("operator-{}", now.as_second() - 3 * 3600),
                ),
            ],
            statefulsets_converging: vec!["crate-data-hot-prod (2/3 ready)".into()],
            pods_terminating: vec!["crate-data-hot-prod-2".into()],
            restores: Some(vec!["backups.s1".into()]),
            snapshots: Some(vec!["backups.s2".into()]),
            backup_jobs: vec!["create-snapshot-prod-1".into()],
            decommissions: Some(vec!["ALTER CLUSTER DECOMMISSION 'data-hot-2'".into()]),
            suspended: true,
            ..Default::default()
        };
        let busy = assess(&e);
        use BusyCode::*;
        assert_eq!(
            busy.iter().map(|b| b.code).collect::<Vec<_>>(),
            vec![
                LeaseHeld,
                OperatorHandler,
                OperatorRestoreRequested,
                OperatorRestartQueue,
                RoutingOwnerFresh,
                PodsConverging,
                RestoreRunning,
                SnapshotRunning,
                BackupJobActive,
                DecommissionRunning,
                Suspended
            ],
            "the stale routing label is not busy"
        );
        assert_eq!(
            busy[1].message,
            "crate/prod is busy: the CrateDB operator is running cluster_update.scale since 2026-12-07T09:58:12Z \
             (retries 3: \"Pending allocation\")"
        );
        assert_eq!(
            serde_json::to_value(busy[0].code).expect("json"),
            serde_json::json!("lease_held")
        );
        let restart: Vec<BusyCode> = blocking(&busy, OperationKind::Restart)
            .iter()
            .map(|b| b.code)
            .collect();
        assert!(!restart.contains(&PodsConverging) && !restart.contains(&SnapshotRunning));
        assert!(restart.contains(&Suspended));
        let resume: Vec<BusyCode> = blocking(&busy, OperationKind::Resume)
            .iter()
            .map(|b| b.code)
            .collect();
        assert!(!resume.contains(&Suspended) && resume.contains(&LeaseHeld));
        // The operator's label of its own suspend does not hold up the resume.
        assert!(!resume.contains(&RoutingOwnerFresh));
        let running: Vec<Busy> = busy.iter().filter(|b| b.code != Suspended).cloned().collect();
        let resume_running: Vec<BusyCode> = blocking(&running, OperationKind::Resume)
            .iter()
            .map(|b| b.code)
            .collect();
        assert!(resume_running.contains(&RoutingOwnerFresh));
        assert_eq!(blocking(&busy, OperationKind::Scale).len(), busy.len());
    }

    #[test]
    fn our_own_lease_and_label_are_not_busy() {
        let now = at("2026-12-07T10:00:00Z");
        let label = format!("cratectl-{}", now.as_second());
        let e = Evidence {
            cluster: "crate/prod".into(),
            now: Some(now),
            lease_holder: Some("me".into()),
            own_holder: Some("me".into()),
            routing_owners: vec![("sts".into(), label.clone())],
            own_routing_owner: Some(label),
            ..Default::default()
        };
        assert!(codes(&e).is_empty());
    }
}
