//! The duroxide adapter: the default, embedded engine, storing everything in one SQLite file
//! under the state directory. The CLI and a worker may be separate processes on that file.
//!
//! duroxide traps this adapter designs around (duroxide 0.1.32, docs.rs/duroxide; ARCHITECTURE §3):
//! * an instance exists in duroxide's tables only once a worker has picked it up, and a
//!   duplicate start is silently ignored: [`DuroxideClient::start`] therefore records each id
//!   in a start registry (`<state-dir>/started/<id>`, created exclusively) and refuses an id that
//!   is there, which also makes a started-but-not-picked-up instance visible as `pending`;
//! * mailbox signals use `enqueue_event`/`dequeue_event`, never `raise_event` (dropped early);
//! * cancel is a `Failed` with `AppErrorKind::Cancelled`: mapped to [`InstanceState::Cancelled`]
//!   with `cancelled: <reason>` as given; a cancel is also recorded in `<state-dir>/cancelled/`,
//!   so an instance no worker has picked up yet reads as cancelled at once;
//! * the compensation record of [`EngineClient::mark_compensated`] is `<state-dir>/compensated/`,
//!   and the claim of [`EngineClient::claim_compensation`] a locked file in
//!   `<state-dir>/compensating/`;
//! * a nondeterminism failure is terminal (`Configuration`): reported as failed with its message.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::duroxide::providers::Provider;
use ::duroxide::runtime::registry::{ActivityRegistry, ActivityRegistryBuilder};
use ::duroxide::runtime::{self, OrchestrationRegistry, OrchestrationStatus, RuntimeOptions};
use ::duroxide::{
    AppErrorKind, BackoffStrategy, Client, Either2, ErrorDetails, OrchestrationContext, RetryPolicy,
};
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::Store;
use super::{
    Activity, ActivityError, ActivityOptions, ActivitySink, Engine, EngineClient, EngineError, EngineWorker,
    InstanceState, InstanceStatus, RunActivity, WfError, WfResult, WorkerLimits, WorkflowCtx,
};

/// The SQLite file in the state directory.
pub const STORE_FILE: &str = "cratectl.db";
const STARTED_DIR: &str = "started";
const CANCELLED_DIR: &str = "cancelled";
const COMPENSATED_DIR: &str = "compensated";
/// Where compensation claims are locked ([`EngineClient::claim_compensation`]).
const COMPENSATING_DIR: &str = "compensating";

/// A workflow id as one file name in the state directory: ids are `[A-Za-z0-9._-]`, anything
/// else becomes `%`.
pub fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '%'
            }
        })
        .collect()
}

/// The workflow context on duroxide.
#[derive(Clone)]
pub struct DxCtx(pub OrchestrationContext);

impl WorkflowCtx for DxCtx {
    fn activity<A: Activity>(
        &self,
        input: &A::In,
        options: ActivityOptions,
    ) -> impl Future<Output = WfResult<A::Out>> {
        let ctx = self.0.clone();
        let input = serde_json::to_string(input);
        async move {
            let input =
                input.map_err(|e| WfError::new(format!("cannot encode the input of {}: {e}", A::NAME)))?;
            // duroxide's own retry policy retries every error; ours retries only retryable
            // ones, with the same history shape (attempt, timer, attempt, …).
            let once = RetryPolicy {
                max_attempts: 1,
                backoff: BackoffStrategy::None,
                timeout: options.timeout,
            };
            let mut attempt = 1;
            let out = loop {
                match ctx
                    .schedule_activity_with_retry(A::NAME, input.clone(), once.clone())
                    .await
                {
                    Ok(out) => break out,
                    Err(text) => {
                        let (pause, note) =
                            options.after_failure(A::NAME, ActivityError::decode(&text), attempt)?;
                        ctx.trace_warn(note);
                        ctx.schedule_timer(pause).await;
                        attempt += 1;
                    }
                }
            };
            serde_json::from_str(&out).map_err(|e| {
                let shown: String = out.chars().take(200).collect();
                WfError::new(format!(
                    "cannot decode the output of {} ({shown:?}): {e}",
                    A::NAME
                ))
            })
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        self.0.schedule_timer(duration)
    }

    fn recv_or_timeout(&self, mailbox: &str, timeout: Duration) -> impl Future<Output = Option<String>> {
        let ctx = self.0.clone();
        let mailbox = mailbox.to_string();
        async move {
            match ctx
                .select2(ctx.dequeue_event(mailbox), ctx.schedule_timer(timeout))
                .await
            {
                Either2::First(message) => Some(message),
                Either2::Second(()) => None,
            }
        }
    }

    fn set_progress<P: Serialize>(&self, progress: &P) {
        match serde_json::to_string(progress) {
            Ok(json) => self.0.set_custom_status(json),
            Err(e) => self.0.trace_warn(format!("cannot encode progress: {e}")),
        }
    }

    fn now(&self) -> impl Future<Output = WfResult<Timestamp>> {
        let now = self.0.utc_now();
        async move {
            let now = now.await.map_err(WfError::new)?;
            system_time(now).ok_or_else(|| WfError::new("the engine's clock is out of range"))
        }
    }

    fn child<I: Serialize, O: DeserializeOwned>(
        &self,
        name: &str,
        id: &str,
        input: &I,
    ) -> impl Future<Output = WfResult<O>> {
        let ctx = self.0.clone();
        let name = name.to_string();
        let id = id.to_string();
        let input = serde_json::to_string(input);
        async move {
            let input = input.map_err(|e| WfError::new(format!("cannot encode the input of {id}: {e}")))?;
            let out = ctx
                .schedule_sub_orchestration_with_id(name, id.clone(), input)
                .await
                .map_err(WfError::new)?;
            serde_json::from_str(&out)
                .map_err(|e| WfError::new(format!("cannot decode the output of {id}: {e}")))
        }
    }

    fn join<F: Future>(&self, futures: Vec<F>) -> impl Future<Output = Vec<F::Output>> {
        let ctx = self.0.clone();
        async move { ctx.join(futures).await }
    }

    fn log(&self, message: &str) {
        self.0.trace_info(message.to_string());
    }
}

fn system_time(t: SystemTime) -> Option<Timestamp> {
    Timestamp::try_from(t).ok()
}

/// Milliseconds since the epoch; 0 is "not recorded".
fn millis(ms: u64) -> Option<Timestamp> {
    if ms == 0 {
        return None;
    }
    Timestamp::from_millisecond(i64::try_from(ms).ok()?).ok()
}

/// Collects activities for a worker.
pub struct DxActivities<E> {
    builder: ActivityRegistryBuilder,
    env: Arc<E>,
}

impl<E: Send + Sync + 'static> DxActivities<E> {
    pub fn new(env: Arc<E>) -> DxActivities<E> {
        DxActivities {
            builder: ActivityRegistry::builder(),
            env,
        }
    }

    fn build(self) -> ActivityRegistry {
        self.builder.build()
    }
}

impl<E: Send + Sync + 'static> ActivitySink<E> for DxActivities<E> {
    fn add<A: RunActivity<E>>(mut self) -> Self {
        let env = self.env.clone();
        // Untyped registration with our own serde_json both ways: duroxide's typed codec
        // unwraps JSON strings, so a unit enum variant would not round-trip.
        self.builder = self.builder.register(A::NAME, move |_ctx, input: String| {
            let env = env.clone();
            async move {
                let input: A::In = serde_json::from_str(&input).map_err(|e| {
                    ActivityError::permanent(format!("cannot decode the input of {}: {e}", A::NAME)).encode()
                })?;
                let began = std::time::Instant::now();
                let out = A::run(env, input).await;
                tracing::debug!(
                    activity = A::NAME,
                    ms = began.elapsed().as_millis() as u64,
                    ok = out.is_ok(),
                    "activity ran"
                );
                let out = out.map_err(|e| e.encode())?;
                serde_json::to_string(&out).map_err(|e| {
                    ActivityError::permanent(format!("cannot encode the output of {}: {e}", A::NAME)).encode()
                })
            }
        });
        self
    }
}

/// Opens the store in `state_dir` (created if missing).
async fn open_store(state_dir: &Path) -> Result<Arc<Store>, EngineError> {
    let store_error = |message: String| EngineError::Store {
        store: state_dir.join(STORE_FILE).display().to_string(),
        message,
    };
    std::fs::create_dir_all(state_dir.join(STARTED_DIR))
        .map_err(|e| store_error(format!("cannot create the state directory: {e}")))?;
    let store = Store::open(&state_dir.join(STORE_FILE))
        .await
        .map_err(|e| store_error(format!("cannot open: {e}")))?;
    Ok(store)
}

/// Tuning of a duroxide worker.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub max_concurrent_workflows: usize,
    pub max_concurrent_activities: usize,
    /// How long a crashed worker's in-flight activity stays locked before another worker runs
    /// it again (duroxide's `RuntimeOptions::worker_lock_timeout`). Live workers renew their
    /// locks.
    pub activity_lock_timeout: Duration,
    /// How long an idle dispatcher waits before looking at the store again on its own. Work
    /// queued by this process wakes it at once; this bounds how late it notices work queued by
    /// another process (a `--async` start, a signal) or a crashed worker's expired lock.
    pub poll_interval: Duration,
    /// Run only these instances (a foreground operation's own workflows); `None`: every one.
    pub only: Option<Vec<String>>,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            max_concurrent_workflows: 8,
            max_concurrent_activities: 32,
            activity_lock_timeout: Duration::from_secs(15),
            poll_interval: Duration::from_millis(500),
            only: None,
        }
    }
}

/// The embedded engine: duroxide on one SQLite file in `state_dir`.
#[derive(Clone, Debug)]
pub struct Duroxide {
    state_dir: PathBuf,
    tuning: WorkerOptions,
}

impl Duroxide {
    pub fn new(state_dir: &Path) -> Duroxide {
        Duroxide {
            state_dir: state_dir.to_path_buf(),
            tuning: WorkerOptions::default(),
        }
    }

    /// The same engine with a worker tuned as `tuning` (its limits are replaced by those given
    /// to [`Engine::start_worker`]).
    pub fn with_tuning(mut self, tuning: WorkerOptions) -> Duroxide {
        self.tuning = tuning;
        self
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }
}

impl Engine for Duroxide {
    type Client = DuroxideClient;
    type Worker = DxWorker;

    fn location(&self) -> String {
        self.state_dir.display().to_string()
    }

    fn has_records(&self) -> bool {
        self.state_dir.join(STORE_FILE).exists()
    }

    async fn client(&self) -> Result<DuroxideClient, EngineError> {
        DuroxideClient::open(&self.state_dir).await
    }

    async fn start_worker(
        &self,
        env: Arc<crate::env::ActivityEnv>,
        limits: WorkerLimits,
        only: Option<Vec<String>>,
    ) -> Result<DxWorker, EngineError> {
        let options = WorkerOptions {
            max_concurrent_workflows: limits.max_concurrent_workflows,
            max_concurrent_activities: limits.max_concurrent_activities,
            only,
            ..self.tuning.clone()
        };
        let activities = crate::activities::register(DxActivities::new(env));
        DxWorker::start(&self.state_dir, activities, every_workflow(), &options).await
    }
}

/// Every operation's workflows ([`crate::for_every_workflow`]), as duroxide runs them.
fn every_workflow() -> OrchestrationRegistry {
    macro_rules! dx_register {
        ($($_type:ident: $name:path, $input:ty, $f:path;)*) => {{
            let registry = workflows();
            $(
                let registry = register(registry, $name, |ctx: DxCtx, input: $input| async move {
                    $f(&ctx, input).await
                });
            )*
            registry.build()
        }};
    }
    crate::for_every_workflow!(dx_register)
}

/// A running worker; stop it with [`EngineWorker::shutdown`].
pub struct DxWorker {
    runtime: Arc<runtime::Runtime>,
}

impl EngineWorker for DxWorker {
    async fn shutdown(self, grace: Duration) {
        let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.runtime.shutdown(Some(ms)).await;
    }
}

impl DxWorker {
    /// Starts a worker on the store in `state_dir` with the given activities and workflows.
    pub async fn start<E: Send + Sync + 'static>(
        state_dir: &Path,
        activities: DxActivities<E>,
        workflows: OrchestrationRegistry,
        options: &WorkerOptions,
    ) -> Result<DxWorker, EngineError> {
        let store = open_store(state_dir).await?;
        store.restrict_to(options.only.as_ref().map(|ids| ids.iter().cloned().collect()));
        let store: Arc<dyn Provider> = store;
        let runtime_options = RuntimeOptions {
            orchestration_concurrency: options.max_concurrent_workflows.max(1),
            worker_concurrency: options.max_concurrent_activities.max(1),
            worker_lock_timeout: options.activity_lock_timeout,
            worker_lock_renewal_buffer: options.activity_lock_timeout / 3,
            // The store waits for work itself (store.rs); the minimum only spaces out a
            // dispatcher that was woken for work another one took.
            dispatcher_min_poll_interval: Duration::from_millis(2),
            dispatcher_long_poll_timeout: options.poll_interval,
            ..RuntimeOptions::default()
        };
        let runtime =
            runtime::Runtime::start_with_options(store, activities.build(), workflows, runtime_options).await;
        Ok(DxWorker { runtime })
    }
}

/// The client side, usable with no worker running.
#[derive(Clone)]
pub struct DuroxideClient {
    client: Client,
    state_dir: PathBuf,
    /// Compensation claims held by this process: locked files in `<state-dir>/compensating/`
    /// ([`EngineClient::claim_compensation`]); the lock goes with the file, or with the process.
    claims: Arc<std::sync::Mutex<std::collections::HashMap<String, std::fs::File>>>,
}

impl DuroxideClient {
    pub async fn open(state_dir: &Path) -> Result<DuroxideClient, EngineError> {
        let store = open_store(state_dir).await?;
        Ok(DuroxideClient {
            client: Client::new(store),
            state_dir: state_dir.to_path_buf(),
            claims: Arc::default(),
        })
    }

    fn store_error(&self, message: impl std::fmt::Display) -> EngineError {
        EngineError::Store {
            store: self.state_dir.join(STORE_FILE).display().to_string(),
            message: message.to_string(),
        }
    }

    fn started_marker(&self, id: &str) -> PathBuf {
        self.state_dir.join(STARTED_DIR).join(file_name(id))
    }

    /// Started ids with their workflow name and start time, from the registry.
    fn started(&self) -> Vec<(String, String, Option<Timestamp>)> {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join(STARTED_DIR)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            if let Ok(marker) = serde_json::from_str::<StartedMarker>(&text) {
                out.push((marker.id, marker.workflow, marker.started_at.parse().ok()));
            }
        }
        out
    }

    fn marker(&self, id: &str) -> Option<StartedMarker> {
        let text = std::fs::read_to_string(self.started_marker(id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn note_path(&self, dir: &str, id: &str) -> PathBuf {
        self.state_dir.join(dir).join(file_name(id))
    }

    fn write_note(&self, dir: &str, id: &str, text: &str) -> Result<(), EngineError> {
        let path = self.note_path(dir, id);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| self.store_error(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| self.store_error(format!("cannot record {}: {e}", path.display())))
    }

    /// The reason a cancel of `id` was recorded with, if one was.
    fn cancel_reason(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.note_path(CANCELLED_DIR, id)).ok()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StartedMarker {
    id: String,
    workflow: String,
    started_at: String,
    /// The input as started (inputs hold no credentials), so a pending instance can be shown.
    #[serde(default)]
    input: Option<String>,
}

fn state_of(status: &OrchestrationStatus) -> (InstanceState, Option<String>, Option<String>) {
    match status {
        OrchestrationStatus::NotFound => (InstanceState::Pending, None, None),
        OrchestrationStatus::Running { custom_status, .. } => {
            (InstanceState::Running, custom_status.clone(), None)
        }
        OrchestrationStatus::Completed {
            output,
            custom_status,
            ..
        } => (
            InstanceState::Completed,
            custom_status.clone(),
            Some(output.clone()),
        ),
        OrchestrationStatus::Failed {
            details,
            custom_status,
            ..
        } => match details {
            ErrorDetails::Application {
                kind: AppErrorKind::Cancelled { reason },
                ..
            } => (
                InstanceState::Cancelled,
                custom_status.clone(),
                Some(format!("cancelled: {reason}")),
            ),
            _ => (
                InstanceState::Failed,
                custom_status.clone(),
                Some(details.display_message()),
            ),
        },
    }
}

impl EngineClient for DuroxideClient {
    async fn start(&self, workflow: &str, id: &str, input: String) -> Result<(), EngineError> {
        use std::io::Write;
        let marker = StartedMarker {
            id: id.to_string(),
            workflow: workflow.to_string(),
            started_at: Timestamp::now().to_string(),
            input: Some(input.clone()),
        };
        let path = self.started_marker(id);
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(EngineError::AlreadyExists(id.to_string()));
            }
            Err(e) => return Err(self.store_error(format!("cannot record {}: {e}", path.display()))),
        };
        let text = serde_json::to_string(&marker).map_err(|e| self.store_error(e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| self.store_error(format!("cannot record {}: {e}", path.display())))?;
        // An id the store knows from before the registry existed is refused too.
        match self.client.get_orchestration_status(id).await {
            Ok(OrchestrationStatus::NotFound) => {}
            Ok(_) => return Err(EngineError::AlreadyExists(id.to_string())),
            Err(e) => return Err(self.store_error(e)),
        }
        self.client
            .start_orchestration(id, workflow, input)
            .await
            .map_err(|e| self.store_error(e))
    }

    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>, EngineError> {
        let status = self
            .client
            .get_orchestration_status(id)
            .await
            .map_err(|e| self.store_error(e))?;
        if matches!(status, OrchestrationStatus::NotFound) {
            // Started and not yet picked up by a worker (cancelled already, perhaps), or unknown.
            let cancelled = self.cancel_reason(id);
            return Ok(self.marker(id).map(|m| InstanceStatus {
                id: m.id,
                workflow: m.workflow,
                state: if cancelled.is_some() {
                    InstanceState::Cancelled
                } else {
                    InstanceState::Pending
                },
                progress: None,
                output: cancelled.map(|reason| format!("cancelled: {reason}")),
                created_at: m.started_at.parse().ok(),
                updated_at: None,
                parent: None,
                input: m.input,
                stuck: None,
            }));
        }
        let (state, progress, output) = state_of(&status);
        let info = self.client.get_instance_info(id).await.ok();
        let updated_at = info.as_ref().and_then(|i| millis(i.updated_at));
        Ok(Some(InstanceStatus {
            id: id.to_string(),
            workflow: info
                .as_ref()
                .map(|i| i.orchestration_name.clone())
                .unwrap_or_default(),
            state,
            progress,
            output,
            created_at: info.as_ref().and_then(|i| millis(i.created_at)),
            updated_at,
            parent: info.and_then(|i| i.parent_instance_id),
            input: self.marker(id).and_then(|m| m.input),
            stuck: None,
        }))
    }

    async fn list(&self) -> Result<Vec<InstanceStatus>, EngineError> {
        let mut out = Vec::new();
        for (id, _, _) in self.started() {
            if let Some(status) = self.status(&id).await?
                && status.parent.is_none()
            {
                out.push(status);
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    async fn signal(&self, id: &str, mailbox: &str, payload: String) -> Result<(), EngineError> {
        self.client
            .enqueue_event(id, mailbox, payload)
            .await
            .map_err(|e| self.store_error(e))
    }

    async fn cancel(&self, id: &str, reason: &str) -> Result<(), EngineError> {
        // Recorded first, so an instance no worker has picked up yet reads as cancelled at once.
        self.write_note(CANCELLED_DIR, id, reason)?;
        self.client
            .cancel_instance(id, reason)
            .await
            .map_err(|e| self.store_error(e))
    }

    async fn last_progress(&self, id: &str) -> Option<Timestamp> {
        // The instance row's update time is not kept current; the newest event of its history is
        // when a worker last moved it.
        let info = self.client.get_instance_info(id).await.ok()?;
        let events = self
            .client
            .read_execution_history(id, info.current_execution_id)
            .await
            .ok()?;
        events.iter().map(|e| e.timestamp_ms).max().and_then(millis)
    }

    async fn mark_compensated(&self, id: &str) {
        if let Err(e) = self.write_note(COMPENSATED_DIR, id, "") {
            tracing::warn!("{e}");
        }
    }

    async fn is_compensated(&self, id: &str) -> bool {
        self.note_path(COMPENSATED_DIR, id).exists()
    }

    /// An exclusive lock (`flock`) on `<state-dir>/compensating/<id>`: the state directory is
    /// one machine's, and the operating system releases the lock of a process that dies, so no
    /// `ttl` is needed.
    async fn claim_compensation(&self, id: &str, _ttl: Duration) -> Result<bool, EngineError> {
        let path = self.note_path(COMPENSATING_DIR, id);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| self.store_error(format!("cannot create {}: {e}", parent.display())))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| self.store_error(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {
                self.claims
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_string(), file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(self.store_error(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }

    async fn release_compensation(&self, id: &str) {
        // Closing the file releases the lock; the empty file stays for the next claim.
        self.claims.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// Registers workflows: `register(registry, name, f)` where `f(ctx, input)` is the workflow.
/// Inputs and outputs are JSON both ways (not duroxide's typed codec, see [`DxActivities`]).
pub fn register<I, O, F, Fut>(
    builder: ::duroxide::runtime::registry::OrchestrationRegistryBuilder,
    name: &str,
    f: F,
) -> ::duroxide::runtime::registry::OrchestrationRegistryBuilder
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(DxCtx, I) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = WfResult<O>> + Send + 'static,
{
    let workflow = name.to_string();
    builder.register(name, move |ctx: OrchestrationContext, input: String| {
        let f = f.clone();
        let workflow = workflow.clone();
        async move {
            let input: I = serde_json::from_str(&input)
                .map_err(|e| format!("cannot decode the input of {workflow}: {e}"))?;
            let out = f(DxCtx(ctx), input).await.map_err(|e| e.message)?;
            serde_json::to_string(&out).map_err(|e| format!("cannot encode the output of {workflow}: {e}"))
        }
    })
}

/// A fresh orchestration registry builder.
pub fn workflows() -> ::duroxide::runtime::registry::OrchestrationRegistryBuilder {
    OrchestrationRegistry::builder()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// One claim at a time among the clients of a state directory; released, or closed with its
    /// holder (what the operating system does when the holder's process dies), it can be taken.
    #[tokio::test]
    async fn a_compensation_claim_has_one_holder() {
        let dir = std::env::temp_dir().join(format!("cratectl-claim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let one = DuroxideClient::open(&dir).await.unwrap();
        let two = DuroxideClient::open(&dir).await.unwrap();
        let ttl = Duration::from_secs(60);
        assert!(one.claim_compensation("op.ns.a", ttl).await.unwrap());
        assert!(!two.claim_compensation("op.ns.a", ttl).await.unwrap());
        assert!(
            two.claim_compensation("op.ns.b", ttl).await.unwrap(),
            "per instance"
        );
        one.release_compensation("op.ns.a").await;
        assert!(two.claim_compensation("op.ns.a", ttl).await.unwrap());
        drop(two);
        assert!(one.claim_compensation("op.ns.a", ttl).await.unwrap());
        assert!(one.claim_compensation("op.ns.b", ttl).await.unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
