//! What the CLI uses: start a restart, read its report (with no worker running), list, signal,
//! cancel with compensation, and run a worker.
//!
//! Compensation (ARCHITECTURE §3: cancel is a hard stop, so the cancelled workflow cannot clean
//! up after itself): a cluster workflow publishes its open side effects ([`OpenEffects`]) with
//! its progress. `cancel` waits for the instance to stop and then undoes them; a worker does
//! the same at start-up for every stopped instance that still shows open effects (a cancel sent
//! while no worker ran, a workflow failed by the engine). `<state-dir>/compensated/<id>` records
//! that it was done, so an old saga is never replayed over later changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restart::report::{ClusterState, RequestState, RestartReport};

use crate::activities::{
    self, At, ClearRoutingOwner, LabelsIn, LeaseIn, ReleaseLease, RestoreIn, RestoreSettings,
};
use crate::engine::duroxide::{self as dx, DuroxideClient, DxActivities, DxWorker, WorkerOptions};
use crate::engine::{EngineClient, EngineError, InstanceState, InstanceStatus, RunActivity};
use crate::env::ActivityEnv;
use crate::model::{
    CONTROL_MAILBOX, ClusterProgress, ClusterRef, Control, RESTART_CLUSTER, RESTART_REQUEST, RequestProgress,
    RestartRequest, new_cluster_report,
};
use crate::workflow::{child_id, restart_cluster, restart_request};

const COMPENSATED_DIR: &str = "compensated";
const CANCELLED_DIR: &str = "cancelled";

/// What compensation did for one cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CompensationNote {
    pub namespace: String,
    pub cluster: String,
    /// What was undone ("settings restored", "Lease released", …); empty: nothing was open.
    pub undone: Vec<String>,
    /// Why something could not be undone (the cluster needs attention: `cratectl doctor`).
    pub error: Option<String>,
}

impl std::fmt::Display for CompensationNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}: ", self.namespace, self.cluster)?;
        match (&self.error, self.undone.is_empty()) {
            (Some(e), _) => write!(f, "NOT undone: {e}"),
            (None, true) => f.write_str("nothing to undo"),
            (None, false) => f.write_str(&self.undone.join(", ")),
        }
    }
}

/// The restarts recorded in one state directory.
#[derive(Clone)]
pub struct Restarts {
    client: DuroxideClient,
    state_dir: PathBuf,
}

/// A top-level instance with its request.
struct Root {
    status: InstanceStatus,
    request: Option<RestartRequest>,
}

impl Restarts {
    pub async fn open(state_dir: &Path) -> Result<Restarts, EngineError> {
        Ok(Restarts {
            client: DuroxideClient::open(state_dir).await?,
            state_dir: state_dir.to_path_buf(),
        })
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Starts `request` under its id; refuses an id that exists.
    pub async fn start(&self, request: &RestartRequest) -> Result<(), EngineError> {
        let input = serde_json::to_string(request).map_err(|e| EngineError::Store {
            store: self.state_dir.display().to_string(),
            message: format!("cannot encode the request: {e}"),
        })?;
        self.client
            .start(RESTART_REQUEST, &request.request_id, input)
            .await
    }

    /// Whether a worker has created instance `id` (children only exist once started).
    async fn exists(&self, id: &str) -> Result<bool, EngineError> {
        Ok(self
            .client
            .status(id)
            .await?
            .is_some_and(|s| s.state != InstanceState::Pending))
    }

    fn marker(&self, dir: &str, id: &str) -> PathBuf {
        self.state_dir.join(dir).join(dx::file_name(id))
    }

    fn set_marker(&self, dir: &str, id: &str) {
        let path = self.marker(dir, id);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = std::fs::write(&path, b"") {
            tracing::warn!("cannot record {dir}/{id} in {}: {e}", path.display());
        }
    }

    async fn root(&self, id: &str) -> Result<Option<Root>, EngineError> {
        let Some(status) = self.client.status(id).await? else {
            return Ok(None);
        };
        if status.parent.is_some() || (status.workflow != RESTART_REQUEST && !status.workflow.is_empty()) {
            return Ok(None);
        }
        let request = status.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
        Ok(Some(Root { status, request }))
    }

    /// The report of restart `id` as recorded now, or `None` if there is no such restart.
    pub async fn report(&self, id: &str) -> Result<Option<RestartReport>, EngineError> {
        let Some(root) = self.root(id).await? else {
            return Ok(None);
        };
        Ok(Some(self.assemble(&root).await?))
    }

    async fn assemble(&self, root: &Root) -> Result<RestartReport, EngineError> {
        let mut cancelled_status;
        let mut status = &root.status;
        // Cancelled before a worker recorded it (none ran yet): it is cancelled all the same.
        if !status.state.is_terminal() && self.marker(CANCELLED_DIR, &status.id).exists() {
            cancelled_status = status.clone();
            cancelled_status.state = InstanceState::Cancelled;
            cancelled_status
                .output
                .get_or_insert_with(|| "cancelled".to_string());
            status = &cancelled_status;
        }
        if status.state == InstanceState::Completed
            && let Some(report) = status
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str::<RestartReport>(o).ok())
        {
            return Ok(report);
        }
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
                        .and_then(|p| serde_json::from_str::<ClusterProgress>(p).ok())
                        .map(|p| p.report)
                        .unwrap_or_else(|| new_cluster_report(cluster, &child));
                    if child_status.state == InstanceState::Cancelled && !report.state.is_terminal() {
                        report.state = ClusterState::Cancelled;
                        report.reason = child_status.output.clone();
                    } else if child_status.state == InstanceState::Failed && !report.state.is_terminal() {
                        report.state = ClusterState::Failed;
                        report.reason = child_status.output.clone();
                    }
                    report
                }
                None => new_cluster_report(cluster, &child),
            };
            if status.state.is_terminal() && !report.state.is_terminal() {
                report.state = if status.state == InstanceState::Cancelled {
                    ClusterState::Cancelled
                } else {
                    ClusterState::Failed
                };
                if report.reason.is_none() {
                    report.reason = status.output.clone();
                }
            }
            reports.push(report);
        }
        let state = match status.state {
            InstanceState::Pending | InstanceState::Running => RequestState::Running,
            InstanceState::Completed => RestartReport::overall(&reports),
            InstanceState::Failed => RequestState::Failed,
            InstanceState::Cancelled => RequestState::Cancelled,
        };
        Ok(RestartReport {
            workflow_id: status.id.clone(),
            state,
            started_at: progress.and_then(|p| p.started_at).or(status.created_at),
            finished_at: if status.state.is_terminal() {
                status.updated_at
            } else {
                None
            },
            clusters: reports,
        })
    }

    /// Every restart, newest first.
    pub async fn list(&self) -> Result<Vec<RestartReport>, EngineError> {
        let mut out = Vec::new();
        for status in self.client.list().await? {
            if status.workflow != RESTART_REQUEST && !status.workflow.is_empty() {
                continue;
            }
            let request = status.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
            out.push(self.assemble(&Root { status, request }).await?);
        }
        Ok(out)
    }

    /// Restarts that are not finished, with their clusters (one operation per cluster).
    pub async fn open_operations(&self) -> Result<Vec<(String, ClusterRef)>, EngineError> {
        let mut out = Vec::new();
        for status in self.client.list().await? {
            let cancelled_unpicked =
                status.state == InstanceState::Pending && self.marker(CANCELLED_DIR, &status.id).exists();
            if status.state.is_terminal() || cancelled_unpicked {
                continue;
            }
            if let Some(request) = status
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str::<RestartRequest>(i).ok())
            {
                for cluster in request.clusters {
                    out.push((status.id.clone(), cluster));
                }
            }
        }
        Ok(out)
    }

    /// Sends `control` to restart `id`: to the top-level instance and every cluster's child
    /// (the user only knows the top-level id).
    pub async fn signal(&self, id: &str, control: &Control) -> Result<(), EngineError> {
        let root = self
            .root(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        let payload = serde_json::to_string(control).map_err(|e| EngineError::Store {
            store: self.state_dir.display().to_string(),
            message: e.to_string(),
        })?;
        self.client.signal(id, CONTROL_MAILBOX, payload.clone()).await?;
        // Only to cluster workflows that exist: a message for an instance that does not exist
        // yet is not buffered by the engine (and can block a worker on it); a cluster started
        // later learns the message from the request, which reads it before starting each one.
        for cluster in root.request.map(|r| r.clusters).unwrap_or_default() {
            let child = child_id(id, &cluster);
            if self.exists(&child).await? {
                self.client
                    .signal(&child, CONTROL_MAILBOX, payload.clone())
                    .await?;
            }
        }
        Ok(())
    }

    /// Cancels restart `id` (a hard stop), waits up to `settle` for it to stop, then undoes what
    /// its clusters left open. Returns one note per cluster.
    pub async fn cancel(
        &self,
        id: &str,
        reason: &str,
        env: &ActivityEnv,
        settle: Duration,
    ) -> Result<Vec<CompensationNote>, EngineError> {
        let root = self
            .root(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))?;
        // Recorded first, so a restart no worker has picked up yet reads as cancelled at once.
        self.set_marker(CANCELLED_DIR, id);
        self.client.cancel(id, reason).await?;
        let clusters = root.request.map(|r| r.clusters).unwrap_or_default();
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
            notes.push(self.compensate_child(&child, cluster, env).await);
        }
        Ok(notes)
    }

    async fn compensate_child(
        &self,
        child: &str,
        cluster: &ClusterRef,
        env: &ActivityEnv,
    ) -> CompensationNote {
        let progress = match self.client.status(child).await {
            Ok(Some(status)) => status
                .progress
                .as_deref()
                .and_then(|p| serde_json::from_str::<ClusterProgress>(p).ok()),
            _ => None,
        };
        let mut note = CompensationNote {
            namespace: cluster.namespace.clone(),
            cluster: cluster.name.clone(),
            undone: Vec::new(),
            error: None,
        };
        let Some(progress) = progress else {
            return note;
        };
        match compensate(env, &progress).await {
            Ok(undone) => {
                self.set_marker(COMPENSATED_DIR, child);
                note.undone = undone;
            }
            Err(e) => note.error = Some(e),
        }
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
                .and_then(|i| serde_json::from_str::<RestartRequest>(i).ok())
            else {
                continue;
            };
            for cluster in &request.clusters {
                let child = child_id(&status.id, cluster);
                if self.marker(COMPENSATED_DIR, &child).exists() {
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
                    .and_then(|p| serde_json::from_str::<ClusterProgress>(p).ok())
                    .is_some_and(|p| !p.open.is_empty());
                if open {
                    notes.push(self.compensate_child(&child, cluster, env).await);
                } else {
                    // Ended clean: never looked at again.
                    self.set_marker(COMPENSATED_DIR, &child);
                }
            }
        }
        Ok(notes)
    }
}

/// How often a worker looks for stopped cluster workflows that left something open.
const COMPENSATION_SCAN: Duration = Duration::from_secs(30);

/// A running worker: the engine's, plus the compensation scan.
pub struct Worker {
    engine: DxWorker,
    scan: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Stops the worker; in-flight activities get up to `grace` (they run again on resume).
    pub async fn shutdown(self, grace: Duration) {
        self.scan.abort();
        self.engine.shutdown(grace).await;
    }
}

/// Undoes `progress`'s open effects: settings back, label off, Lease released. Idempotent.
pub async fn compensate(env: &ActivityEnv, progress: &ClusterProgress) -> Result<Vec<String>, String> {
    let env = Arc::new(ActivityEnv::new(env.credentials.clone()));
    let at = At {
        target: progress.target.clone(),
        cluster: progress.cluster.clone(),
    };
    let mut done = Vec::new();
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
        done.push("settings restored");
    }
    if !progress.open.routing_owner_on.is_empty() {
        ClearRoutingOwner::run(
            env.clone(),
            LabelsIn {
                at: at.clone(),
                statefulsets: progress.open.routing_owner_on.clone(),
            },
        )
        .await?;
        done.push("routing-owner label removed");
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
        .await?;
        done.push("Lease released");
    }
    Ok(done.into_iter().map(str::to_string).collect())
}

/// Starts a worker on `state_dir`: first undoes what stopped instances left open, then runs
/// (and resumes) every restart recorded there.
pub async fn start_worker(
    state_dir: &Path,
    env: Arc<ActivityEnv>,
    options: &WorkerOptions,
) -> Result<Worker, EngineError> {
    let restarts = Restarts::open(state_dir).await?;
    for note in restarts.compensate_stopped(&env).await? {
        tracing::warn!("undid what a stopped restart left open: {note}");
    }
    let workflows = dx::register(
        dx::workflows(),
        RESTART_REQUEST,
        |ctx: dx::DxCtx, request: RestartRequest| async move { restart_request(&ctx, request).await },
    );
    let workflows = dx::register(workflows, RESTART_CLUSTER, |ctx: dx::DxCtx, input| async move {
        restart_cluster(&ctx, input).await
    })
    .build();
    let activities = activities::register(DxActivities::new(env.clone()));
    let engine = DxWorker::start(state_dir, activities, workflows, options).await?;
    // While it runs, too: a cluster workflow the engine itself failed (a store error, a
    // nondeterminism after an upgrade) could not clean up after itself.
    let scan = tokio::spawn(async move {
        loop {
            tokio::time::sleep(COMPENSATION_SCAN).await;
            match restarts.compensate_stopped(&env).await {
                Ok(notes) => {
                    for note in notes {
                        tracing::warn!("undid what a stopped restart left open: {note}");
                    }
                }
                Err(e) => tracing::warn!("cannot look for stopped restarts: {e}"),
            }
        }
    });
    Ok(Worker { engine, scan })
}
