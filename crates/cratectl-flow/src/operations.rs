//! What the CLI uses for every operation, through the engine trait only: start one, read its
//! report (with no worker running), list them, signal, cancel with compensation, and run a
//! worker.
//!
//! Compensation (ARCHITECTURE §3: cancel is a hard stop, so the cancelled workflow cannot clean
//! up after itself): a cluster workflow publishes its open side effects ([`OpenEffects`]) with
//! its progress, whatever the operation. `cancel` waits for the instance to stop and then
//! undoes them; a worker does the same at start-up and every [`COMPENSATION_SCAN`] for every
//! stopped instance that still shows open effects (a cancel sent while no worker ran, a
//! workflow failed by the engine). The engine keeps a record that it was done
//! ([`EngineClient::mark_compensated`]), so an old saga is never replayed over later changes.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::op::OperationKind;
use cratectl_core::op::report::{AnyCluster, AnyReport, ClusterState, OperationReport, RequestState};
use serde::{Deserialize, Serialize};

use crate::activities::At;
use crate::activities::common::{
    ClearRoutingOwner, LabelIn, LabelsIn, LeaseIn, ReleaseLease, RestoreIn, RestoreSettings, SetLabel,
};
use crate::activities::membership::{AwaitNodeGone, GoneIn};
use crate::activities::restore_effects::{UndoIn, UndoRestoreEffects};
use crate::activities::suspend_effects::{SuspendUndoIn, UndoSuspendEffects};
use crate::engine::{
    Engine, EngineClient, EngineError, EngineWorker, InstanceState, InstanceStatus, RunActivity, WorkerLimits,
};
use crate::env::ActivityEnv;
use crate::model::{
    CONTROL_MAILBOX, ClusterProgress, ClusterRef, Control, OpenState, RequestProgress, TargetSpec, child_id,
    new_cluster_common,
};
use crate::ops::restart::model::{RESTART_REQUEST, RESTART_REQUEST_V1, RESTART_REQUEST_V2};
use crate::ops::restore::model::RESTORE_REQUEST;
use crate::ops::scale::model::{SCALE_REQUEST, SCALE_REQUEST_V1};
use crate::ops::suspend::model::{RESUME_REQUEST, SUSPEND_REQUEST};
use cratectl_core::restore::input::TableName;

/// What every operation's request carries, read without knowing the operation (each request
/// type has these fields and more).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestHead {
    pub request_id: String,
    #[serde(default)]
    pub target: TargetSpec,
    pub clusters: Vec<ClusterRef>,
}

/// A cluster's report before anything ran: pending.
fn pending_report(cluster: &ClusterRef, child_id: &str) -> AnyCluster {
    AnyCluster {
        common: new_cluster_common(cluster, child_id),
        rest: serde_json::Map::new(),
    }
}

/// The registered request workflows of each operation kind, current and earlier versions
/// (earlier ones are read, never run).
const REQUEST_WORKFLOWS: &[(&str, OperationKind)] = &[
    (RESTART_REQUEST, OperationKind::Restart),
    (RESTART_REQUEST_V1, OperationKind::Restart),
    (RESTART_REQUEST_V2, OperationKind::Restart),
    (SCALE_REQUEST_V1, OperationKind::Scale),
    (SCALE_REQUEST, OperationKind::Scale),
    (RESTORE_REQUEST, OperationKind::Restore),
    (SUSPEND_REQUEST, OperationKind::Suspend),
    (RESUME_REQUEST, OperationKind::Resume),
];

/// The operation kind of a request workflow name; `None` for a child or an unknown name.
pub fn kind_of_workflow(workflow: &str) -> Option<OperationKind> {
    REQUEST_WORKFLOWS
        .iter()
        .find(|(name, _)| *name == workflow)
        .map(|(_, kind)| *kind)
}

/// What compensation did for one cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CompensationNote {
    pub namespace: String,
    pub cluster: String,
    /// What was undone ("settings restored", "Lease released", …); empty: nothing was open.
    pub undone: Vec<String>,
    /// Why something could not be undone (the cluster needs attention: `cratectl doctor`).
    pub error: Option<String>,
    /// Why this process did not undo it: another one is, or one already did.
    pub skipped: Option<String>,
}

impl std::fmt::Display for CompensationNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}: ", self.namespace, self.cluster)?;
        if let Some(why) = &self.skipped {
            return f.write_str(why);
        }
        match (&self.error, self.undone.is_empty()) {
            (Some(e), _) => write!(f, "NOT undone: {e}"),
            (None, true) => f.write_str("nothing to undo"),
            (None, false) => f.write_str(&self.undone.join(", ")),
        }
    }
}

/// The operations recorded by one engine.
#[derive(Clone)]
pub struct Operations<E: Engine> {
    engine: E,
    client: E::Client,
}

/// A top-level instance with its request.
struct Root {
    status: InstanceStatus,
    request: Option<RequestHead>,
}

impl Root {
    /// The clusters of the request (none when its input cannot be read).
    fn clusters(&self) -> Vec<ClusterRef> {
        self.request
            .as_ref()
            .map(|r| r.clusters.clone())
            .unwrap_or_default()
    }
}

impl<E: Engine> Operations<E> {
    pub async fn open(engine: &E) -> Result<Operations<E>, EngineError> {
        Ok(Operations {
            client: engine.client().await?,
            engine: engine.clone(),
        })
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Starts `request` of request workflow `workflow` (a restart, a scale …) under `id`;
    /// refuses an id that exists.
    pub async fn start<I: Serialize>(
        &self,
        workflow: &str,
        id: &str,
        request: &I,
    ) -> Result<(), EngineError> {
        let input = serde_json::to_string(request).map_err(|e| EngineError::Store {
            store: self.engine.location(),
            message: format!("cannot encode the request: {e}"),
        })?;
        self.client.start(workflow, id, input).await
    }

    /// Whether a worker has created instance `id` (children only exist once started).
    async fn exists(&self, id: &str) -> Result<bool, EngineError> {
        Ok(self
            .client
            .status(id)
            .await?
            .is_some_and(|s| s.state != InstanceState::Pending))
    }

    async fn root(&self, id: &str) -> Result<Option<Root>, EngineError> {
        let Some(status) = self.client.status(id).await? else {
            return Ok(None);
        };
        if status.parent.is_some()
            || (kind_of_workflow(&status.workflow).is_none() && !status.workflow.is_empty())
        {
            return Ok(None);
        }
        let request = status.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
        Ok(Some(Root { status, request }))
    }

    /// The request id behind `id`: `id` itself for a request, the request a cluster's workflow
    /// belongs to for a cluster id (the Lease holder `cluster list` and `doctor` show).
    pub async fn request_of(&self, id: &str) -> Result<Option<String>, EngineError> {
        if self.root(id).await?.is_some() {
            return Ok(Some(id.to_string()));
        }
        if let Some(status) = self.client.status(id).await?
            && let Some(parent) = status.parent
        {
            return Ok(Some(parent));
        }
        // A cluster workflow no worker has created yet: look for it among the requests.
        for status in self.client.list().await? {
            let request: Option<RequestHead> =
                status.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
            if request.is_some_and(|r| r.clusters.iter().any(|c| child_id(&status.id, c) == id)) {
                return Ok(Some(status.id));
            }
        }
        Ok(None)
    }

    /// The workflow instances of operation `id`: the request and one per cluster.
    pub async fn instances_of(&self, id: &str) -> Result<Vec<String>, EngineError> {
        let root = self
            .root(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let mut ids = vec![id.to_string()];
        ids.extend(root.clusters().iter().map(|c| child_id(id, c)));
        Ok(ids)
    }

    /// The request behind `id` (itself, or the request of a cluster id), or `NotFound`.
    async fn resolve(&self, id: &str) -> Result<(String, Root), EngineError> {
        let not_found = || EngineError::NotFound(id.to_string());
        let request = self.request_of(id).await?.ok_or_else(not_found)?;
        let root = self.root(&request).await?.ok_or_else(not_found)?;
        Ok((request, root))
    }

    /// Where operation `id` runs (the Kubernetes target of its request), if it is known.
    pub async fn target_of(&self, id: &str) -> Result<Option<TargetSpec>, EngineError> {
        let (_, root) = self.resolve(id).await?;
        Ok(root.request.map(|r| r.target))
    }

    /// The report of operation `id` (a request id, or one of its cluster ids) as recorded now,
    /// or `None` if there is no such operation.
    pub async fn report(&self, id: &str) -> Result<Option<AnyReport>, EngineError> {
        let Some(request) = self.request_of(id).await? else {
            return Ok(None);
        };
        let Some(root) = self.root(&request).await? else {
            return Ok(None);
        };
        Ok(Some(self.assemble(&root).await?))
    }

    async fn assemble(&self, root: &Root) -> Result<AnyReport, EngineError> {
        let status = &root.status;
        let operation = kind_of_workflow(&status.workflow)
            .or_else(|| OperationKind::of_id(&status.id))
            .unwrap_or(OperationKind::Restart);
        if status.state == InstanceState::Completed
            && let Some(report) = status
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str::<AnyReport>(o).ok())
        {
            return Ok(report);
        }
        // A cancel reason as the user gave it ("cancelled: <reason>").
        let stopped_because = status.output.clone();
        let progress: Option<RequestProgress> = status
            .progress
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        let clusters: Vec<ClusterRef> = match (&progress, &root.request) {
            (Some(p), _) => p.clusters.clone(),
            (None, Some(r)) => r.clusters.clone(),
            (None, None) => Vec::new(),
        };
        let mut reports = Vec::new();
        for cluster in &clusters {
            let child = child_id(&status.id, cluster);
            let mut report = match self.client.status(&child).await? {
                Some(child_status) => {
                    let mut report = child_status
                        .progress
                        .as_deref()
                        .and_then(|p| serde_json::from_str::<ClusterProgress<AnyCluster>>(p).ok())
                        .map(|p| p.report)
                        .unwrap_or_else(|| pending_report(cluster, &child));
                    let common = &mut report.common;
                    common.engine_problem = child_status.stuck.clone();
                    if child_status.state == InstanceState::Cancelled && !common.state.is_terminal() {
                        common.state = ClusterState::Cancelled;
                        common.reason = child_status.output.clone();
                    } else if child_status.state == InstanceState::Failed && !common.state.is_terminal() {
                        common.state = ClusterState::Failed;
                        common.reason = child_status.output.clone();
                    }
                    report
                }
                None => pending_report(cluster, &child),
            };
            let common = &mut report.common;
            if common.engine_problem.is_none() {
                common.engine_problem = status.stuck.clone();
            }
            if status.state.is_terminal() && !common.state.is_terminal() {
                common.state = if status.state == InstanceState::Cancelled {
                    ClusterState::Cancelled
                } else {
                    ClusterState::Failed
                };
                if common.reason.is_none() {
                    common.reason = stopped_because.clone();
                }
            }
            reports.push(report);
        }
        let state = match status.state {
            InstanceState::Pending | InstanceState::Running => RequestState::Running,
            InstanceState::Completed => OperationReport::overall(&reports),
            InstanceState::Failed => RequestState::Failed,
            InstanceState::Cancelled => RequestState::Cancelled,
        };
        Ok(AnyReport {
            workflow_id: status.id.clone(),
            operation,
            state,
            started_at: progress.and_then(|p| p.started_at).or(status.created_at),
            finished_at: if status.state.is_terminal() {
                status.updated_at
            } else {
                None
            },
            clusters: reports,
            progressed_at: None,
        })
    }

    /// [`Operations::report`] with `progressed_at` filled in: the newest progress any of its
    /// workflows recorded (reads their histories: for `status`, not for polling).
    pub async fn report_with_progress(&self, id: &str) -> Result<Option<AnyReport>, EngineError> {
        let Some(mut report) = self.report(id).await? else {
            return Ok(None);
        };
        if report.progressed_at.is_none() {
            let mut ids = vec![report.workflow_id.clone()];
            ids.extend(report.clusters.iter().map(|c| c.common.child_id.clone()));
            let mut newest = None;
            for instance in ids {
                newest = newest.max(self.client.last_progress(&instance).await);
            }
            report.progressed_at = newest;
        }
        Ok(Some(report))
    }

    /// Every operation, newest first (by the time it was recorded, started or not).
    pub async fn list(&self) -> Result<Vec<AnyReport>, EngineError> {
        let mut out = Vec::new();
        for status in self.client.list().await? {
            if kind_of_workflow(&status.workflow).is_none() && !status.workflow.is_empty() {
                continue;
            }
            let request = status.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
            out.push(self.assemble(&Root { status, request }).await?);
        }
        Ok(out)
    }

    /// Operations that are not finished, with their clusters (one operation per cluster).
    /// The unfinished operations that `env` cannot run (started with a token command, and the
    /// worker has none).
    pub async fn open_needing_more(&self, env: &ActivityEnv) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for status in self.client.list().await? {
            if status.state.is_terminal() {
                continue;
            }
            if let Some(request) = status
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str::<RequestHead>(i).ok())
                && !env.can_run(&request.target)
            {
                out.push(status.id.clone());
            }
        }
        Ok(out)
    }

    pub async fn open_operations(&self) -> Result<Vec<(String, ClusterRef)>, EngineError> {
        let mut out = Vec::new();
        for status in self.client.list().await? {
            if status.state.is_terminal() {
                continue;
            }
            if let Some(request) = status
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str::<RequestHead>(i).ok())
            {
                for cluster in request.clusters {
                    out.push((status.id.clone(), cluster));
                }
            }
        }
        Ok(out)
    }

    /// Sends `control` to operation `id` (a request or one of its cluster ids): to the
    /// top-level instance and every cluster's child.
    pub async fn signal(&self, id: &str, control: &Control) -> Result<(), EngineError> {
        let (id, root) = &self.resolve(id).await?;
        let payload = serde_json::to_string(control).map_err(|e| EngineError::Store {
            store: self.engine.location(),
            message: e.to_string(),
        })?;
        self.client.signal(id, CONTROL_MAILBOX, payload.clone()).await?;
        // Only to cluster workflows that exist: a message for an instance that does not exist
        // yet is not buffered by the engine (and can block a worker on it); a cluster started
        // later learns the message from the request, which reads it before starting each one.
        for cluster in root.clusters() {
            let child = child_id(id, &cluster);
            if self.exists(&child).await? {
                self.client
                    .signal(&child, CONTROL_MAILBOX, payload.clone())
                    .await?;
            }
        }
        Ok(())
    }

    /// Cancels operation `id` (a request or one of its cluster ids; a hard stop), waits up to
    /// `settle` for it to stop, then undoes what its clusters left open. Returns one note per
    /// cluster.
    pub async fn cancel(
        &self,
        id: &str,
        reason: &str,
        env: &ActivityEnv,
        settle: Duration,
    ) -> Result<Vec<CompensationNote>, EngineError> {
        self.cancel_with(id, reason, env, settle, false).await
    }

    /// [`Operations::cancel`]; with `drop_restored`, a restore's restored tables are dropped
    /// first (whole tables the restore created; never a renamed internal table, whose original
    /// comes back under its name).
    pub async fn cancel_with(
        &self,
        id: &str,
        reason: &str,
        env: &ActivityEnv,
        settle: Duration,
        drop_restored: bool,
    ) -> Result<Vec<CompensationNote>, EngineError> {
        let drops = if drop_restored {
            self.restored_tables(id).await?
        } else {
            Vec::new()
        };
        let (id, root) = &self.resolve(id).await?;
        // The engine records it at once, so an operation no worker has picked up yet reads as
        // cancelled (with the reason as given) right away.
        self.client.cancel(id, reason).await?;
        let clusters = root.clusters();
        for cluster in &clusters {
            let child = child_id(id, cluster);
            if self.exists(&child).await? {
                self.client.cancel(&child, reason).await?;
            }
        }
        // A live worker stops the instances at their next turn (in-flight activities are
        // cancelled); without a worker nothing runs, so waiting is only for a live one.
        let deadline = tokio::time::Instant::now() + settle;
        loop {
            let mut settled = true;
            for cluster in &clusters {
                if let Some(status) = self.client.status(&child_id(id, cluster)).await?
                    && !status.state.is_terminal()
                    && status.state != InstanceState::Pending
                {
                    settled = false;
                }
            }
            if settled || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut notes = Vec::new();
        for cluster in &clusters {
            let child = child_id(id, cluster);
            let drop: &[TableName] = drops
                .iter()
                .find(|(c, _)| c.namespace == cluster.namespace && c.resource == cluster.resource)
                .map_or(&[], |(_, tables)| tables.as_slice());
            notes.push(self.compensate_child(&child, cluster, env, drop).await);
        }
        Ok(notes)
    }

    /// Per cluster of restore `id` whose statement was sent, the whole tables it restores (its
    /// report's rows without a partition, less the internal tables it renamed away).
    async fn restored_tables(&self, id: &str) -> Result<Vec<(ClusterRef, Vec<TableName>)>, EngineError> {
        let Some(report) = self
            .report(id)
            .await?
            .and_then(|r| r.typed::<cratectl_core::restore::report::RestoreClusterReport>())
        else {
            return Ok(Vec::new());
        };
        Ok(report
            .clusters
            .iter()
            .filter(|c| c.statement_sent)
            .map(|c| {
                let renamed: Vec<&str> = c.gc_tables.iter().map(|g| g.table.as_str()).collect();
                let tables = c
                    .tables
                    .iter()
                    .filter(|t| t.partition_ident.is_none() && !renamed.contains(&t.table.as_str()))
                    .filter_map(|t| TableName::parse(&t.table).ok())
                    .collect();
                (
                    ClusterRef {
                        namespace: c.common.namespace.clone(),
                        resource: c.common.resource.clone(),
                        name: c.common.name.clone(),
                    },
                    tables,
                )
            })
            .collect())
    }

    async fn compensate_child(
        &self,
        child: &str,
        cluster: &ClusterRef,
        env: &ActivityEnv,
        drop: &[TableName],
    ) -> CompensationNote {
        let progress = match self.client.status(child).await {
            Ok(Some(status)) => status
                .progress
                .as_deref()
                .and_then(|p| serde_json::from_str::<OpenState>(p).ok()),
            _ => None,
        };
        let mut note = CompensationNote {
            namespace: cluster.namespace.clone(),
            cluster: cluster.name.clone(),
            undone: Vec::new(),
            error: None,
            skipped: None,
        };
        let Some(progress) = progress else {
            return note;
        };
        // One process at a time (another host's `cancel`, a worker's scan), and never again once
        // done: another one may have finished between our look and our claim.
        match self.client.claim_compensation(child, COMPENSATION_CLAIM).await {
            Ok(true) => {}
            Ok(false) => {
                note.skipped = Some(
                    "being undone by another cratectl process right now (its `cancel`, or a worker's compensation scan)"
                        .to_string(),
                );
                return note;
            }
            Err(e) => {
                note.error = Some(format!("cannot claim its compensation: {e}"));
                return note;
            }
        }
        if self.client.is_compensated(child).await {
            note.skipped = Some("already undone".to_string());
        } else {
            match compensate(env, &progress, drop).await {
                Ok(undone) => {
                    self.client.mark_compensated(child).await;
                    note.undone = undone;
                }
                Err(e) => note.error = Some(e),
            }
        }
        self.client.release_compensation(child).await;
        note
    }

    /// At worker start-up: undoes what stopped instances left open (cancelled while no worker
    /// ran, or failed by the engine), once each.
    pub async fn compensate_stopped(&self, env: &ActivityEnv) -> Result<Vec<CompensationNote>, EngineError> {
        let mut notes = Vec::new();
        // Every restart, finished or not: a cluster's workflow can end on its own (the engine
        // fails it, it is cancelled) while the request goes on.
        for status in self.client.list().await? {
            let Some(request) = status
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str::<RequestHead>(i).ok())
            else {
                continue;
            };
            for cluster in &request.clusters {
                let child = child_id(&status.id, cluster);
                if self.client.is_compensated(&child).await {
                    continue;
                }
                let Some(child_status) = self.client.status(&child).await? else {
                    continue;
                };
                if !child_status.state.is_terminal() {
                    continue;
                }
                let open = child_status
                    .progress
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<OpenState>(p).ok())
                    .is_some_and(|p| !p.open.is_empty());
                if open {
                    notes.push(self.compensate_child(&child, cluster, env, &[]).await);
                } else {
                    // Ended clean: never looked at again.
                    self.client.mark_compensated(&child).await;
                }
            }
        }
        Ok(notes)
    }
}

/// How long a compensation claim lasts if its holder dies: the longest compensation (a
/// departing node's wait, then every undo with its retries) with room to spare.
const COMPENSATION_CLAIM: Duration = crate::harness::CLEANUP_RETRY_BUDGET.saturating_mul(3);

/// How often compensation looks whether a departing node has left.
const DEPARTURE_POLL: Duration = Duration::from_secs(1);

/// How often a worker looks for stopped cluster workflows that left something open.
const COMPENSATION_SCAN: Duration = Duration::from_secs(30);

/// A running worker: the engine's, plus the compensation scan.
pub struct Worker<W> {
    engine: W,
    scan: tokio::task::JoinHandle<()>,
}

impl<W: EngineWorker> Worker<W> {
    /// Stops the worker; in-flight activities get up to `grace` (they run again on resume).
    pub async fn shutdown(self, grace: Duration) {
        self.scan.abort();
        self.engine.shutdown(grace).await;
    }
}

/// Undoes `progress`'s open effects: settings back, label off, Lease released (a restore: with
/// `drop_tables` dropped first). Idempotent.
pub async fn compensate(
    env: &ActivityEnv,
    progress: &OpenState,
    drop_tables: &[TableName],
) -> Result<Vec<String>, String> {
    let env = Arc::new(ActivityEnv::new(env.credentials.clone()));
    let at = At {
        target: progress.target.clone(),
        cluster: progress.cluster.clone(),
    };
    let mut done: Vec<String> = Vec::new();
    if let Some(departing) = &progress.open.departing {
        // Its exclusion stays until it has left (see `harness::ClusterOp::cleanup`).
        let left = AwaitNodeGone::run(
            env.clone(),
            GoneIn {
                at: at.clone(),
                pod: departing.pod.clone(),
                node: departing.node.clone(),
                interval: DEPARTURE_POLL,
                budget: crate::harness::CLEANUP_RETRY_BUDGET,
                or_still_wanted: departing.statefulset.clone().zip(departing.ordinal),
            },
        )
        .await
        .map_err(|e| format!("cannot tell whether node {} left: {}", departing.node, e.message))?;
        if left.done.is_some() {
            done.push("waited for the departing node to leave".to_string());
        } else {
            return Err(format!(
                "node {} has not left (last: {}); its exclusion stays: run cancel again or cratectl doctor",
                departing.node, left.last
            ));
        }
    }
    // A restore effect that cannot be undone now (a repository a restore still reads from) must
    // not keep the settings changed or the Lease held: it is reported after the rest.
    let mut left_open = None;
    if !progress.open.restore_effects_closed() || !drop_tables.is_empty() {
        match UndoRestoreEffects::run(
            env.clone(),
            UndoIn {
                at: at.clone(),
                renamed: progress.open.tables_renamed.clone(),
                repository: progress.open.repository_created.clone(),
                deployments: progress.open.deployments_scaled.clone(),
                drop_tables: drop_tables.to_vec(),
            },
        )
        .await
        {
            Ok(notes) => done.extend(notes),
            Err(e) => left_open = Some(format!("restore effects NOT undone: {}", e.message)),
        }
    }
    if let Some(record) = &progress.open.suspend_record {
        // Like a restore effect: one that cannot be undone now must not keep the settings
        // changed or the Lease held; it is reported after the rest.
        match UndoSuspendEffects::run(
            env.clone(),
            SuspendUndoIn {
                at: at.clone(),
                record: record.clone(),
            },
        )
        .await
        {
            Ok(notes) => done.extend(notes),
            Err(e) => {
                let problem = format!("suspend effects NOT undone: {}", e.message);
                left_open = Some(match left_open.take() {
                    Some(other) => format!("{other}; {problem}"),
                    None => problem,
                });
            }
        }
    }
    if let Some(saga) = &progress.open.saga {
        RestoreSettings::run(
            env.clone(),
            RestoreIn {
                at: at.clone(),
                saga: saga.clone(),
                only: Vec::new(),
            },
        )
        .await
        .map_err(|e| format!("settings NOT restored: {e}"))?;
        done.push("settings restored".to_string());
    }
    if !progress.open.routing_owner_on.is_empty() {
        ClearRoutingOwner::run(
            env.clone(),
            LabelsIn {
                at: at.clone(),
                statefulsets: progress.open.routing_owner_on.clone(),
            },
        )
        .await
        .map_err(|e| e.message)?;
        done.push("routing-owner label removed".to_string());
    }
    if !progress.open.dc_util_disabled_on.is_empty() {
        SetLabel::run(
            env.clone(),
            LabelIn {
                at: at.clone(),
                statefulsets: progress.open.dc_util_disabled_on.clone(),
                key: cratectl_kube::scale::DC_UTIL_DISABLED_LABEL.into(),
                value: None,
            },
        )
        .await
        .map_err(|e| e.message)?;
        done.push("dc-util-disabled label removed".to_string());
    }
    if let Some(holder) = &progress.open.lease_holder {
        ReleaseLease::run(
            env.clone(),
            LeaseIn {
                at,
                holder: holder.clone(),
                duration: Duration::ZERO,
                renew: false,
            },
        )
        .await
        .map_err(|e| e.message)?;
        done.push("Lease released".to_string());
    }
    if let Some(problem) = left_open {
        return Err(format!("{problem}; undone: {}", done.join(", ")));
    }
    Ok(done)
}

/// Starts a worker of `engine`: first undoes what stopped instances left open, then runs (and
/// resumes) every operation recorded there, or with `only` just that operation (its request
/// and cluster workflows), leaving the others to `cratectl worker`.
pub async fn start_worker<E: Engine>(
    engine: &E,
    env: Arc<ActivityEnv>,
    limits: WorkerLimits,
    only: Option<&str>,
) -> Result<Worker<E::Worker>, EngineError> {
    let restarts = Operations::open(engine).await?;
    for note in restarts.compensate_stopped(&env).await? {
        tracing::warn!("undid what a stopped operation left open: {note}");
    }
    let scope = match only {
        Some(id) => Some(restarts.instances_of(id).await?),
        None => None,
    };
    let engine = engine.start_worker(env.clone(), limits, scope).await?;
    // While it runs, too: a cluster workflow the engine itself failed (a store error, a
    // nondeterminism after an upgrade) could not clean up after itself.
    let scan = tokio::spawn(async move {
        loop {
            tokio::time::sleep(COMPENSATION_SCAN).await;
            match restarts.compensate_stopped(&env).await {
                Ok(notes) => {
                    for note in notes {
                        tracing::warn!("undid what a stopped operation left open: {note}");
                    }
                }
                Err(e) => tracing::warn!("cannot look for stopped operations: {e}"),
            }
        }
    });
    Ok(Worker { engine, scan })
}
