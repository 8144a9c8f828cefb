//! The Temporal adapter (`--features temporal`): the same workflows and activities on a
//! Temporal server, through the official Rust SDK (crates `temporalio-*`). Workers on several
//! hosts share one task queue; the CLI is a client that needs no worker to read, signal or stop.
//!
//! How the trait maps (ARCHITECTURE §3, "Temporal"):
//! * **activities** run with a heartbeat (every fifth of [`TemporalOptions::heartbeat_timeout`]),
//!   so a worker that dies mid-activity is noticed after that timeout and the activity runs
//!   again elsewhere. Our failures are non-retryable application failures at the server: the
//!   adapter retries the retryable ones itself on durable timers, counting the call's
//!   `attempts`, so only a crash (a heartbeat timeout) is retried by the server, and it does
//!   not use up an attempt;
//! * **progress** is the workflow's memo (`progress`), readable with no worker running; the
//!   input of a root workflow is in the memo too (`input`), because describe has no input;
//! * **mailboxes** are one signal, `cratectl.mailbox`, carrying `{mailbox, payload}`; the
//!   signal handler queues it in the workflow's state, so a message sent before a worker picked
//!   the instance up is kept;
//! * **cancel** is a terminate (needs no worker, stops the children through the parent-close
//!   policy); Temporal's cooperative cancel would make the workflow fail, not stop;
//! * **compensated** records are marker workflows `cratectl.compensated/<id>` on a task queue no
//!   worker polls, started with "reject duplicate" and terminated at once: the server keeps
//!   them for every host; a **compensation claim** is a running one, `cratectl.compensating/<id>`,
//!   with an execution timeout (its holder may die) and "allow duplicate failed only";
//! * **timers** shorter than one second take about one second on a Temporal server; a zero
//!   sleep is skipped and a zero mailbox wait creates no timer.
//!
//! A workflow task that keeps failing (a nondeterminism after an upgrade, an oversized record)
//! leaves the instance running on Temporal: [`TemporalClient::status`] reports it as
//! [`InstanceStatus::stuck`].

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{self, IntoRequest};
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, NamespacedClient, TlsOptions,
    WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::{
    Payload, Payloads, WorkflowExecution, WorkflowType,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    HistoryEventFilterType, TaskQueueKind, WorkflowExecutionStatus, WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy,
};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest, ListWorkflowExecutionsRequest, SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};
use temporalio_common::{ActivityDefinition, HasWorkflowDefinition, WorkflowDefinition};
use temporalio_sdk::activities::{
    ActivityContext, ActivityDefinitions, ActivityImplementer, ExecutableActivity,
};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{ApplicationFailure, Worker, WorkerOptions};
use temporalio_workflow::{
    ActivityOptions as TActivityOptions, CancellableFuture, ChildWorkflowOptions, MemoValue, WorkflowContext,
};

use super::{
    Activity, ActivityError, ActivityOptions, ActivitySink, Engine, EngineClient, EngineError, EngineWorker,
    InstanceState, InstanceStatus, RunActivity, WfError, WfResult, WorkerLimits, WorkflowCtx,
};

/// The signal that carries every mailbox message.
pub const MAILBOX_SIGNAL: &str = "cratectl.mailbox";
/// Memo keys.
const MEMO_INPUT: &str = "input";
const MEMO_PROGRESS: &str = "progress";
const MEMO_CLUSTERS: &str = "clusters";
/// The workflow type and id prefix of compensation records.
const COMPENSATED_TYPE: &str = "cratectl.compensated";
/// The workflow type and id prefix of compensation claims.
const COMPENSATING_TYPE: &str = "cratectl.compensating";
/// How long an activity may run in all; a crash is noticed by the heartbeat, not by this.
const ACTIVITY_START_TO_CLOSE: Duration = Duration::from_secs(24 * 3600);

/// Where the Temporal server is and how workers behave.
#[derive(Clone)]
pub struct TemporalOptions {
    /// `host:port`, or a URL (`https://…` for TLS).
    pub address: String,
    pub namespace: String,
    pub task_queue: String,
    /// TLS: the server's CA, and a client certificate and key for mutual TLS (PEM files).
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// An API key (Temporal Cloud); never printed.
    pub api_key: Option<String>,
    /// How long a worker may be silent during an activity before the server gives the
    /// activity to another worker.
    pub heartbeat_timeout: Duration,
    /// How long a workflow task waits on the worker that ran the workflow last before any
    /// worker may take it (Temporal's sticky queue; the SDK's default is 10 s).
    pub sticky_timeout: Duration,
}

impl std::fmt::Debug for TemporalOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalOptions")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("task_queue", &self.task_queue)
            .field("tls_ca", &self.tls_ca)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("sticky_timeout", &self.sticky_timeout)
            .finish()
    }
}

impl Default for TemporalOptions {
    fn default() -> TemporalOptions {
        TemporalOptions {
            address: "localhost:7233".into(),
            namespace: "default".into(),
            task_queue: "cratectl".into(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            api_key: None,
            heartbeat_timeout: Duration::from_secs(10),
            sticky_timeout: Duration::from_secs(2),
        }
    }
}

impl TemporalOptions {
    fn uses_tls(&self) -> bool {
        self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self.api_key.is_some()
            || self.address.starts_with("https://")
    }

    /// The server's URL: `address` as given when it has a scheme.
    pub fn url(&self) -> Result<url::Url, String> {
        let text = if self.address.contains("://") {
            self.address.clone()
        } else if self.uses_tls() {
            format!("https://{}", self.address)
        } else {
            format!("http://{}", self.address)
        };
        url::Url::parse(&text).map_err(|e| {
            format!(
                "Temporal address {:?} is not host:port or a URL: {e}",
                self.address
            )
        })
    }

    fn tls(&self) -> Result<Option<TlsOptions>, String> {
        if !self.uses_tls() {
            return Ok(None);
        }
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
        };
        let ca = self
            .tls_ca
            .as_ref()
            .map(|p| read(p, "Temporal TLS CA"))
            .transpose()?;
        let client = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(
                ClientTlsOptions::builder()
                    .client_cert(read(cert, "Temporal TLS certificate")?)
                    .client_private_key(read(key, "Temporal TLS key")?)
                    .build(),
            ),
            (None, None) => None,
            _ => return Err("--temporal-tls-cert and --temporal-tls-key go together".into()),
        };
        Ok(Some(
            TlsOptions::builder()
                .maybe_server_root_ca_cert(ca)
                .maybe_client_tls_options(client)
                .build(),
        ))
    }

    /// For messages: where operations are recorded.
    pub fn location(&self) -> String {
        format!(
            "Temporal at {} (namespace {}, task queue {})",
            self.address, self.namespace, self.task_queue
        )
    }

    fn error(&self, message: impl std::fmt::Display) -> EngineError {
        EngineError::Store {
            store: self.location(),
            message: message.to_string(),
        }
    }

    /// A client of the server; fails when it cannot be reached.
    pub async fn connect(&self) -> Result<Client, EngineError> {
        let url = self.url().map_err(|e| self.error(e))?;
        let tls = self.tls().map_err(|e| self.error(e))?;
        let options = ConnectionOptions::new(url)
            .maybe_tls_options(tls)
            .maybe_api_key(self.api_key.clone())
            .connect_timeout(Duration::from_secs(10))
            .build();
        let connection = Connection::connect(options)
            .await
            .map_err(|e| self.error(format!("cannot connect: {e}")))?;
        Client::new(connection, ClientOptions::new(self.namespace.clone()).build())
            .map_err(|e| self.error(format!("cannot connect: {e}")))
    }
}

// ---- workflows ---------------------------------------------------------------------------

/// A message for a mailbox, as the signal carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MailboxMessage {
    pub mailbox: String,
    pub payload: String,
}

/// The messages a workflow has received and not yet taken, per mailbox.
#[derive(Default, Debug)]
pub struct Mailboxes(HashMap<String, VecDeque<String>>);

impl Mailboxes {
    pub fn push(&mut self, message: MailboxMessage) {
        self.0
            .entry(message.mailbox)
            .or_default()
            .push_back(message.payload);
    }

    fn has(&self, mailbox: &str) -> bool {
        self.0.get(mailbox).is_some_and(|q| !q.is_empty())
    }

    fn pop(&mut self, mailbox: &str) -> Option<String> {
        self.0.get_mut(mailbox).and_then(VecDeque::pop_front)
    }
}

/// A workflow's state as the adapter needs it: its mailboxes.
pub trait HasMailboxes: 'static {
    fn mailboxes(&self) -> &Mailboxes;
    fn mailboxes_mut(&mut self) -> &mut Mailboxes;
}

/// The workflow context on Temporal.
pub struct TCtx<W> {
    ctx: WorkflowContext<W>,
    heartbeat: Duration,
    /// The last progress record published: an identical one is not published again (each is a
    /// history event).
    last_progress: RefCell<Option<Value>>,
}

impl<W: HasMailboxes> TCtx<W> {
    pub fn new(ctx: WorkflowContext<W>, heartbeat: Duration) -> TCtx<W> {
        TCtx {
            ctx,
            heartbeat,
            last_progress: RefCell::new(None),
        }
    }
}

/// An activity as a workflow calls it: JSON in, JSON out, named `A::NAME`.
struct Call<A>(PhantomData<fn() -> A>);

impl<A: Activity> ActivityDefinition for Call<A> {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &str {
        A::NAME
    }
}

/// A workflow by name, JSON in and out (children, and starts from the client).
pub struct JsonWorkflow(pub String);

impl WorkflowDefinition for JsonWorkflow {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &str {
        &self.0
    }
}

impl HasWorkflowDefinition for JsonWorkflow {
    type Run = JsonWorkflow;
}

/// The innermost message of a failure chain: our own text, without Temporal's wrappers.
fn innermost(failure: &Failure) -> &str {
    let mut at = failure;
    while let Some(cause) = at.cause.as_deref() {
        at = cause;
    }
    &at.message
}

/// The server's retry policy for our activities: unlimited attempts, because only a timeout
/// (a worker that died mid-activity) reaches it; our own failures are non-retryable and
/// retried, if at all, by the adapter within the call's `attempts`.
fn server_retry_policy() -> temporalio_common::RetryPolicy {
    temporalio_common::RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(30))
        .build()
}

impl<W: HasMailboxes> WorkflowCtx for TCtx<W> {
    fn activity<A: Activity>(
        &self,
        input: &A::In,
        options: ActivityOptions,
    ) -> impl Future<Output = WfResult<A::Out>> {
        let input = serde_json::to_value(input);
        let ctx = self.ctx.clone();
        let heartbeat = self.heartbeat;
        async move {
            let input =
                input.map_err(|e| WfError::new(format!("cannot encode the input of {}: {e}", A::NAME)))?;
            let mut attempt = 1;
            loop {
                let mut call = TActivityOptions::with_start_to_close_timeout(
                    options.timeout.unwrap_or(ACTIVITY_START_TO_CLOSE),
                )
                .retry_policy(server_retry_policy())
                .build();
                if options.timeout.is_none() {
                    call.heartbeat_timeout = Some(heartbeat);
                } else {
                    // A per-attempt limit is one attempt: the server does not retry it.
                    call.retry_policy = Some(
                        temporalio_common::RetryPolicy::builder()
                            .maximum_attempts(1)
                            .build(),
                    );
                }
                let error = match ctx
                    .execute_activity(Call::<A>(PhantomData), input.clone(), call)
                    .await
                {
                    Ok(out) => {
                        return serde_json::from_value(out).map_err(|e| {
                            WfError::new(format!("cannot decode the output of {}: {e}", A::NAME))
                        });
                    }
                    Err(e) => match e.failure() {
                        Some(failure) => ActivityError::decode(innermost(failure)),
                        None => ActivityError::permanent(format!("activity {}: {e}", A::NAME)),
                    },
                };
                let (pause, note) = options.after_failure(A::NAME, error, attempt)?;
                if !ctx.is_replaying() {
                    tracing::warn!("{note}");
                }
                ctx.timer(pause).await;
                attempt += 1;
            }
        }
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        let ctx = self.ctx.clone();
        async move {
            if !duration.is_zero() {
                ctx.timer(duration).await;
            }
        }
    }

    fn recv_or_timeout(&self, mailbox: &str, timeout: Duration) -> impl Future<Output = Option<String>> {
        let ctx = self.ctx.clone();
        let mailbox = mailbox.to_string();
        async move {
            if let Some(message) = ctx.state_mut(|w| w.mailboxes_mut().pop(&mailbox)) {
                return Some(message);
            }
            if timeout.is_zero() {
                return None;
            }
            let mut timer = ctx.timer(timeout);
            let mut arrived = ctx.wait_condition(|w| w.mailboxes().has(&mailbox));
            let message_first = temporalio_workflow::select! {
                arrived = arrived => arrived.is_ok(),
                _ = timer => false,
            };
            if message_first {
                // The timer is not needed any more: cancelled, so it does not fire later.
                timer.cancel();
                ctx.state_mut(|w| w.mailboxes_mut().pop(&mailbox))
            } else {
                None
            }
        }
    }

    fn set_progress<P: Serialize>(&self, progress: &P) {
        let value = match serde_json::to_value(progress) {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!("cannot encode progress: {e}");
                return;
            }
        };
        if self.last_progress.borrow().as_ref() == Some(&value) {
            return;
        }
        let details = value.to_string();
        if let Err(e) = self
            .ctx
            .upsert_memo([(MEMO_PROGRESS, Some(MemoValue::new(value.clone())))])
        {
            tracing::warn!("cannot record progress: {e}");
            return;
        }
        self.ctx.set_current_details(details);
        *self.last_progress.borrow_mut() = Some(value);
    }

    fn now(&self) -> impl Future<Output = WfResult<Timestamp>> {
        let now = self.ctx.workflow_time();
        async move {
            let now = now.ok_or_else(|| WfError::new("the engine has no workflow time yet"))?;
            Timestamp::try_from(now).map_err(|_| WfError::new("the engine's clock is out of range"))
        }
    }

    fn child<I: Serialize, O: DeserializeOwned>(
        &self,
        name: &str,
        id: &str,
        input: &I,
    ) -> impl Future<Output = WfResult<O>> {
        let ctx = self.ctx.clone();
        let name = name.to_string();
        let id = id.to_string();
        let input = serde_json::to_value(input);
        async move {
            let input = input.map_err(|e| WfError::new(format!("cannot encode the input of {id}: {e}")))?;
            let started = ctx
                .start_child_workflow(
                    JsonWorkflow(name),
                    input,
                    ChildWorkflowOptions::workflow_id(id.clone()),
                )
                .await
                .map_err(|e| match e.failure() {
                    Some(f) => WfError::new(innermost(f).to_string()),
                    None => WfError::new(format!("cannot start {id}: {e}")),
                })?;
            let out = started.result().await.map_err(|e| match e.failure() {
                Some(f) => WfError::new(innermost(f).to_string()),
                None => WfError::new(format!("{id}: {e}")),
            })?;
            serde_json::from_value(out)
                .map_err(|e| WfError::new(format!("cannot decode the output of {id}: {e}")))
        }
    }

    fn join<F: Future>(&self, futures: Vec<F>) -> impl Future<Output = Vec<F::Output>> {
        temporalio_workflow::join_all(futures)
    }

    fn log(&self, message: &str) {
        if !self.ctx.is_replaying() {
            tracing::info!(workflow_id = self.ctx.workflow_id(), "{message}");
        }
    }
}

/// Runs workflow function `f` on Temporal: decodes the input, encodes the output, and turns a
/// failure into a non-retryable application failure carrying our message.
pub async fn run_workflow<W, I, O, Fut>(
    ctx: &WorkflowContext<W>,
    heartbeat: Duration,
    workflow: &str,
    input: Value,
    f: impl FnOnce(TCtx<W>, I) -> Fut,
) -> temporalio_workflow::WorkflowResult<Value>
where
    W: HasMailboxes,
    I: DeserializeOwned,
    O: Serialize,
    Fut: Future<Output = WfResult<O>>,
{
    let input: I = serde_json::from_value(input).map_err(|e| {
        ApplicationFailure::non_retryable(format!("cannot decode the input of {workflow}: {e}"))
    })?;
    match f(TCtx::new(ctx.clone(), heartbeat), input).await {
        Ok(out) => serde_json::to_value(out).map_err(|e| {
            ApplicationFailure::non_retryable(format!("cannot encode the output of {workflow}: {e}")).into()
        }),
        Err(e) => Err(ApplicationFailure::non_retryable(e.message).into()),
    }
}

/// The control message (`crate::model::Control`) that a Temporal-native signal `force_restart`
/// or `stop` stands for, as `temporal workflow signal --name force_restart [--input '"why"']`
/// sends it: the input, if it is a string, is the reason.
fn control_message(signal: &str, reason: Value) -> MailboxMessage {
    let reason = match reason {
        Value::String(reason) if !reason.is_empty() => reason,
        _ => format!("{signal} signal sent through Temporal"),
    };
    MailboxMessage {
        mailbox: crate::model::CONTROL_MAILBOX.to_string(),
        payload: serde_json::json!({ "signal": signal, "reason": reason }).to_string(),
    }
}

/// The heartbeat timeout workflows give their activities, set once per worker process.
static HEARTBEAT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

fn heartbeat() -> Duration {
    HEARTBEAT
        .get()
        .copied()
        .unwrap_or(TemporalOptions::default().heartbeat_timeout)
}

/// Generates one Temporal workflow type per registered workflow ([`crate::for_every_workflow`])
/// and a function that registers them all.
macro_rules! temporal_workflows {
    ($($type:ident: $name:path, $input:ty, $f:path;)*) => {
        $(
            #[temporalio_workflow::workflow]
            #[derive(Default)]
            pub struct $type {
                mailboxes: Mailboxes,
            }

            impl HasMailboxes for $type {
                fn mailboxes(&self) -> &Mailboxes {
                    &self.mailboxes
                }
                fn mailboxes_mut(&mut self) -> &mut Mailboxes {
                    &mut self.mailboxes
                }
            }

            #[temporalio_workflow::workflow_methods]
            impl $type {
                #[run(name = $name)]
                pub async fn run(
                    ctx: &mut WorkflowContext<Self>,
                    input: Value,
                ) -> temporalio_workflow::WorkflowResult<Value> {
                    run_workflow(ctx, heartbeat(), $name, input, |tctx, input: $input| async move {
                        $f(&tctx, input).await
                    })
                    .await
                }

                #[signal(name = MAILBOX_SIGNAL)]
                pub fn mailbox(
                    &mut self,
                    _ctx: &mut temporalio_workflow::SyncWorkflowContext<Self>,
                    message: MailboxMessage,
                ) {
                    self.mailboxes.push(message);
                }

                #[signal(name = "force_restart")]
                pub fn force_restart(
                    &mut self,
                    _ctx: &mut temporalio_workflow::SyncWorkflowContext<Self>,
                    reason: Value,
                ) {
                    self.mailboxes.push(control_message("force_restart", reason));
                }

                #[signal(name = "stop")]
                pub fn stop(
                    &mut self,
                    _ctx: &mut temporalio_workflow::SyncWorkflowContext<Self>,
                    reason: Value,
                ) {
                    self.mailboxes.push(control_message("stop", reason));
                }
            }
        )*

        /// Registers every workflow on a worker.
        fn register_workflows(options: &mut WorkerOptions) -> Result<(), String> {
            $(
                options.register_workflow::<$type>().map_err(|e| e.to_string())?;
            )*
            Ok(())
        }
    };
}

crate::for_every_workflow!(temporal_workflows);

// ---- activities --------------------------------------------------------------------------

/// What every activity of a worker runs with.
pub struct TEnv<E>(Arc<E>);

impl<E> ActivityImplementer for TEnv<E> {
    fn register_all(self: Arc<Self>, _defs: &mut ActivityDefinitions) {}
}

/// Activity `A` as a worker runs it with environment `E`.
pub struct TActivity<E, A>(PhantomData<fn() -> (E, A)>);

impl<E, A: Activity> ActivityDefinition for TActivity<E, A> {
    type Input = Value;
    type Output = Value;
    fn name(&self) -> &str {
        A::NAME
    }
}

impl<E: Send + Sync + 'static, A: RunActivity<E>> ExecutableActivity for TActivity<E, A> {
    type Implementer = TEnv<E>;
    const REQUIRES_INSTANCE: bool = true;

    fn definition() -> Self {
        TActivity(PhantomData)
    }

    fn execute(
        receiver: Option<Arc<TEnv<E>>>,
        ctx: ActivityContext,
        input: Value,
    ) -> BoxFuture<'static, Result<Value, temporalio_sdk::activities::ActivityError>> {
        async move {
            let fail = |e: ActivityError| {
                temporalio_sdk::activities::ActivityError::application(ApplicationFailure::non_retryable(
                    e.encode(),
                ))
            };
            let env = receiver
                .map(|r| r.0.clone())
                .ok_or_else(|| fail(ActivityError::permanent("the worker has no activity environment")))?;
            let input: A::In = serde_json::from_value(input).map_err(|e| {
                fail(ActivityError::permanent(format!(
                    "cannot decode the input of {}: {e}",
                    A::NAME
                )))
            })?;
            let every = ctx
                .info()
                .heartbeat_timeout
                .unwrap_or(heartbeat())
                .checked_div(5)
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_millis(200));
            let began = std::time::Instant::now();
            let run = A::run(env, input);
            let beat = async {
                loop {
                    tokio::time::sleep(every).await;
                    let _ = ctx.record_heartbeat(()).await;
                }
            };
            let out = tokio::select! {
                out = run => out,
                () = beat => Err(ActivityError::permanent("the heartbeat loop stopped")),
                () = ctx.cancelled() => {
                    return Err(temporalio_sdk::activities::ActivityError::cancelled());
                }
            };
            tracing::debug!(
                activity = A::NAME,
                ms = began.elapsed().as_millis() as u64,
                ok = out.is_ok(),
                "activity ran"
            );
            let out = out.map_err(fail)?;
            serde_json::to_value(&out).map_err(|e| {
                fail(ActivityError::permanent(format!(
                    "cannot encode the output of {}: {e}",
                    A::NAME
                )))
            })
        }
        .boxed()
    }
}

/// Collects activities for a Temporal worker.
pub struct TActivities<E> {
    options: WorkerOptions,
    env: Arc<TEnv<E>>,
}

impl<E: Send + Sync + 'static> ActivitySink<E> for TActivities<E> {
    fn add<A: RunActivity<E>>(mut self) -> Self {
        self.options
            .register_activity::<TActivity<E, A>>(self.env.clone());
        self
    }
}

// ---- the engine, its client and its workers ------------------------------------------------

/// A JSON payload as Temporal's default converter writes it.
fn json_payload(value: &impl Serialize) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(value).unwrap_or_default(),
        ..Payload::default()
    }
}

/// A payload's JSON text (`None` for a payload that is not JSON).
fn payload_text(payload: &Payload) -> Option<String> {
    let text = String::from_utf8(payload.data.clone()).ok()?;
    serde_json::from_str::<Value>(&text).ok()?;
    Some(text)
}

/// A protobuf timestamp's seconds and nanoseconds as a time.
fn timestamp(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Timestamp::new(seconds, nanos).ok()
}

/// The Temporal engine: a server at [`TemporalOptions::address`].
#[derive(Clone, Debug)]
pub struct Temporal {
    options: Arc<TemporalOptions>,
}

impl Temporal {
    /// Refuses options that cannot work (a task queue or namespace that needs quoting in a
    /// visibility query, a certificate without its key).
    pub fn new(options: TemporalOptions) -> Result<Temporal, String> {
        let name_ok =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !name_ok(&options.task_queue) {
            return Err(format!(
                "task queue {:?}: use letters, digits, '.', '_' and '-'",
                options.task_queue
            ));
        }
        if !name_ok(&options.namespace) {
            return Err(format!(
                "Temporal namespace {:?}: use letters, digits, '.', '_' and '-'",
                options.namespace
            ));
        }
        options.url()?;
        if options.tls_cert.is_some() != options.tls_key.is_some() {
            return Err("--temporal-tls-cert and --temporal-tls-key go together".into());
        }
        // The TLS files are read now, so a wrong path is bad input, named, before anything runs.
        options.tls()?;
        Ok(Temporal {
            options: Arc::new(options),
        })
    }

    pub fn options(&self) -> &TemporalOptions {
        &self.options
    }
}

impl Engine for Temporal {
    type Client = TemporalClient;
    type Worker = TWorker;

    fn location(&self) -> String {
        self.options.location()
    }

    /// A server may always hold operations.
    fn has_records(&self) -> bool {
        true
    }

    async fn client(&self) -> Result<TemporalClient, EngineError> {
        Ok(TemporalClient {
            client: self.options.connect().await?,
            options: self.options.clone(),
        })
    }

    /// `only` is not honoured: a Temporal worker polls the whole task queue, so a foreground
    /// command's worker takes part in every operation of the queue while it runs (what it has
    /// in hand when it stops is taken over by the other workers).
    async fn start_worker(
        &self,
        env: Arc<crate::env::ActivityEnv>,
        limits: WorkerLimits,
        _only: Option<Vec<String>>,
    ) -> Result<TWorker, EngineError> {
        TWorker::start(self.options.clone(), env, limits).await
    }
}

/// A running Temporal worker: its own thread (the SDK runs workflows on a local task set).
pub struct TWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl TWorker {
    async fn start(
        options: Arc<TemporalOptions>,
        env: Arc<crate::env::ActivityEnv>,
        limits: WorkerLimits,
    ) -> Result<TWorker, EngineError> {
        let _ = HEARTBEAT.set(options.heartbeat_timeout);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), EngineError>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let location = options.location();
        let fail = move |message: String| EngineError::Store {
            store: location.clone(),
            message,
        };
        let thread_fail = fail.clone();
        std::thread::Builder::new()
            .name("temporal-worker".into())
            .spawn(move || {
                let fail = thread_fail;
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("temporal-activity")
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(fail(format!("cannot start a worker runtime: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    // The SDK runtime lives as long as the worker, on this thread.
                    let (_sdk, mut worker) = match build_worker(&options, env, limits).await {
                        Ok(built) => built,
                        Err(e) => {
                            let _ = ready_tx.send(Err(fail(e)));
                            return;
                        }
                    };
                    let stop = worker.shutdown_handle();
                    let _ = ready_tx.send(Ok(()));
                    let run = worker.run();
                    tokio::pin!(run);
                    let ended = tokio::select! {
                        ended = &mut run => ended,
                        _ = stop_rx => {
                            stop();
                            run.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::error!("the Temporal worker stopped: {e}");
                    }
                });
                let _ = done_tx.send(());
            })
            .map_err(|e| fail(format!("cannot start a worker thread: {e}")))?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(TWorker {
                stop: stop_tx,
                done: done_rx,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(fail("the worker thread ended before it started".into())),
        }
    }
}

async fn build_worker(
    options: &TemporalOptions,
    env: Arc<crate::env::ActivityEnv>,
    limits: WorkerLimits,
) -> Result<(temporalio_sdk::Runtime, Worker), String> {
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default())
        .map_err(|e| format!("cannot start the Temporal runtime: {e}"))?;
    let client = options.connect().await.map_err(|e| e.to_string())?;
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(limits.max_concurrent_workflows.max(2)))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(
            limits.max_concurrent_activities.max(1),
        ))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let mut worker_options = WorkerOptions::new(options.task_queue.clone())
        .sticky_queue_schedule_to_start_timeout(options.sticky_timeout)
        .tuner(tuner)
        .build();
    register_workflows(&mut worker_options)?;
    let activities = crate::activities::register(TActivities {
        options: worker_options,
        env: Arc::new(TEnv(env)),
    });
    let worker = Worker::new(&runtime, client, activities.options)
        .map_err(|e| format!("cannot start a Temporal worker: {e}"))?;
    Ok((runtime, worker))
}

impl EngineWorker for TWorker {
    async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(grace + Duration::from_secs(5), self.done).await;
    }
}

/// The client side, usable with no worker running.
#[derive(Clone)]
pub struct TemporalClient {
    client: Client,
    options: Arc<TemporalOptions>,
}

impl TemporalClient {
    /// Starts bookkeeping workflow `id` of type `kind` on a queue no worker polls (it never
    /// runs, it is only recorded), with `reuse` and an execution timeout.
    async fn start_record(
        &self,
        id: &str,
        kind: &str,
        reuse: WorkflowIdReusePolicy,
        timeout: Option<Duration>,
    ) -> Result<(), tonic::Status> {
        let request = StartWorkflowExecutionRequest {
            namespace: self.namespace(),
            workflow_id: id.to_string(),
            workflow_type: Some(WorkflowType {
                name: kind.to_string(),
            }),
            task_queue: Some(TaskQueue {
                name: format!("{}.records", self.options.task_queue),
                kind: TaskQueueKind::Normal as i32,
                ..Default::default()
            }),
            identity: self.client.identity(),
            request_id: format!("{id}.{}", Timestamp::now().as_nanosecond()),
            workflow_id_reuse_policy: reuse as i32,
            workflow_id_conflict_policy: WorkflowIdConflictPolicy::Fail as i32,
            workflow_execution_timeout: timeout.and_then(|t| t.try_into().ok()),
            ..Default::default()
        };
        WorkflowService::start_workflow_execution(&mut self.client.clone(), request.into_request())
            .await
            .map(|_| ())
    }

    fn error(&self, message: impl std::fmt::Display) -> EngineError {
        self.options.error(message)
    }

    fn namespace(&self) -> String {
        self.client.namespace()
    }

    fn execution(id: &str) -> Option<WorkflowExecution> {
        Some(WorkflowExecution {
            workflow_id: id.to_string(),
            run_id: String::new(),
        })
    }

    async fn describe(
        &self,
        id: &str,
    ) -> Result<
        Option<
            temporalio_common::protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionResponse,
        >,
        EngineError,
    > {
        let request = DescribeWorkflowExecutionRequest {
            namespace: self.namespace(),
            execution: Self::execution(id),
        };
        match WorkflowService::describe_workflow_execution(&mut self.client.clone(), request.into_request())
            .await
        {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(self.error(format!("cannot describe {id}: {}", status.message()))),
        }
    }

    /// The close event's attributes of a closed instance.
    async fn close_event(&self, id: &str) -> Result<Option<Attributes>, EngineError> {
        let request = GetWorkflowExecutionHistoryRequest {
            namespace: self.namespace(),
            execution: Self::execution(id),
            history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
            ..Default::default()
        };
        let response =
            WorkflowService::get_workflow_execution_history(&mut self.client.clone(), request.into_request())
                .await
                .map_err(|s| self.error(format!("cannot read the history of {id}: {}", s.message())))?
                .into_inner();
        Ok(response
            .history
            .and_then(|h| h.events.into_iter().last())
            .and_then(|e| e.attributes))
    }

    /// The newest events of `id`'s history, newest first.
    async fn newest_events(
        &self,
        id: &str,
        count: i32,
    ) -> Option<Vec<temporalio_common::protos::temporal::api::history::v1::HistoryEvent>> {
        let request = GetWorkflowExecutionHistoryReverseRequest {
            namespace: self.namespace(),
            execution: Self::execution(id),
            maximum_page_size: count,
            ..Default::default()
        };
        let response = WorkflowService::get_workflow_execution_history_reverse(
            &mut self.client.clone(),
            request.into_request(),
        )
        .await
        .ok()?
        .into_inner();
        response.history.map(|h| h.events)
    }

    /// Why the workflow task of `id` keeps failing, from its last `WorkflowTaskFailed` event.
    async fn task_failure(&self, id: &str) -> Option<String> {
        let events = self.newest_events(id, 20).await?;
        events.iter().find_map(|e| match &e.attributes {
            Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
                a.failure.as_ref().map(|f| innermost(f).to_string())
            }
            _ => None,
        })
    }
}

fn compensated_id(id: &str) -> String {
    format!("{COMPENSATED_TYPE}/{id}")
}

fn claim_id(id: &str) -> String {
    format!("{COMPENSATING_TYPE}/{id}")
}

/// `namespace/name` of each cluster of a request's input, for the memo and the summary a
/// Temporal UI shows (best effort: an input without clusters has none).
fn clusters_of(input: &Value) -> Vec<String> {
    input
        .get("clusters")
        .and_then(Value::as_array)
        .map(|clusters| {
            clusters
                .iter()
                .filter_map(|c| {
                    Some(format!(
                        "{}/{}",
                        c.get("namespace")?.as_str()?,
                        c.get("name")?.as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl EngineClient for TemporalClient {
    async fn start(&self, workflow: &str, id: &str, input: String) -> Result<(), EngineError> {
        let value: Value =
            serde_json::from_str(&input).map_err(|e| self.error(format!("the input is not JSON: {e}")))?;
        let clusters = clusters_of(&value);
        let mut memo = temporalio_common::MemoValues::new();
        memo.insert(MEMO_INPUT, value.clone());
        memo.insert(MEMO_CLUSTERS, clusters.clone());
        let summary = if clusters.is_empty() {
            workflow.to_string()
        } else {
            format!("{workflow}: {}", clusters.join(", "))
        };
        let options = WorkflowStartOptions::new(self.options.task_queue.clone(), id.to_string())
            .id_reuse_policy(temporalio_client::WorkflowIdReusePolicy::RejectDuplicate)
            .id_conflict_policy(temporalio_client::WorkflowIdConflictPolicy::Fail)
            .memo(memo)
            .static_summary(summary)
            .build();
        match self
            .client
            .start_workflow(JsonWorkflow(workflow.to_string()), value, options)
            .await
        {
            Ok(_) => Ok(()),
            Err(temporalio_client::errors::WorkflowStartError::AlreadyStarted { .. }) => {
                Err(EngineError::AlreadyExists(id.to_string()))
            }
            Err(e) => Err(self.error(format!("cannot start {id}: {e}"))),
        }
    }

    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>, EngineError> {
        let Some(described) = self.describe(id).await? else {
            return Ok(None);
        };
        let Some(info) = described.workflow_execution_info else {
            return Ok(None);
        };
        let memo = info.memo.as_ref().map(|m| &m.fields);
        let memo_text = |key: &str| memo.and_then(|m| m.get(key)).and_then(payload_text);
        let status =
            WorkflowExecutionStatus::try_from(info.status).unwrap_or(WorkflowExecutionStatus::Unspecified);
        let closed = !matches!(
            status,
            WorkflowExecutionStatus::Running | WorkflowExecutionStatus::Unspecified
        );
        let (state, output) = if closed {
            let event = self.close_event(id).await?;
            match (status, event) {
                (
                    WorkflowExecutionStatus::Completed,
                    Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)),
                ) => (
                    InstanceState::Completed,
                    a.result.and_then(|p| p.payloads.first().and_then(payload_text)),
                ),
                (_, Some(Attributes::WorkflowExecutionFailedEventAttributes(a))) => (
                    InstanceState::Failed,
                    a.failure.as_ref().map(|f| innermost(f).to_string()),
                ),
                (_, Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a))) => {
                    (InstanceState::Cancelled, Some(format!("cancelled: {}", a.reason)))
                }
                (_, Some(Attributes::WorkflowExecutionCanceledEventAttributes(_))) => {
                    (InstanceState::Cancelled, Some("cancelled".to_string()))
                }
                (_, Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_))) => {
                    (InstanceState::Failed, Some("timed out".to_string()))
                }
                (WorkflowExecutionStatus::Completed, _) => (InstanceState::Completed, None),
                (other, _) => (
                    InstanceState::Failed,
                    Some(format!("ended {}", other.as_str_name())),
                ),
            }
        } else if info.history_length <= 2 && described.pending_workflow_task.is_some() {
            (InstanceState::Pending, None)
        } else {
            (InstanceState::Running, None)
        };
        let stuck = match &described.pending_workflow_task {
            Some(task) if !closed && task.attempt > 1 => {
                let why = self
                    .task_failure(id)
                    .await
                    .unwrap_or_else(|| "no reason recorded".to_string());
                Some(format!(
                    "the workflow task has failed {} times and is retried: {why}",
                    task.attempt - 1
                ))
            }
            _ => None,
        };
        Ok(Some(InstanceStatus {
            id: id.to_string(),
            workflow: info.r#type.map(|t| t.name).unwrap_or_default(),
            state,
            progress: memo_text(MEMO_PROGRESS),
            output,
            created_at: info
                .start_time
                .as_ref()
                .and_then(|t| timestamp(t.seconds, t.nanos)),
            updated_at: info
                .close_time
                .as_ref()
                .and_then(|t| timestamp(t.seconds, t.nanos)),
            parent: info.parent_execution.map(|p| p.workflow_id),
            input: memo_text(MEMO_INPUT),
            stuck,
        }))
    }

    async fn list(&self) -> Result<Vec<InstanceStatus>, EngineError> {
        let query = format!(
            "TaskQueue = '{}' AND ParentWorkflowId IS NULL",
            self.options.task_queue
        );
        let mut ids = Vec::new();
        let mut token = Vec::new();
        loop {
            let request = ListWorkflowExecutionsRequest {
                namespace: self.namespace(),
                page_size: 1000,
                next_page_token: token,
                query: query.clone(),
            };
            let response =
                WorkflowService::list_workflow_executions(&mut self.client.clone(), request.into_request())
                    .await
                    .map_err(|s| self.error(format!("cannot list workflows: {}", s.message())))?
                    .into_inner();
            ids.extend(
                response
                    .executions
                    .into_iter()
                    .filter_map(|e| e.execution.map(|x| x.workflow_id)),
            );
            if response.next_page_token.is_empty() {
                break;
            }
            token = response.next_page_token;
        }
        let mut out = Vec::new();
        for id in ids {
            if let Some(status) = self.status(&id).await? {
                out.push(status);
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }

    async fn signal(&self, id: &str, mailbox: &str, payload: String) -> Result<(), EngineError> {
        let message = MailboxMessage {
            mailbox: mailbox.to_string(),
            payload,
        };
        let request = SignalWorkflowExecutionRequest {
            namespace: self.namespace(),
            workflow_execution: Self::execution(id),
            signal_name: MAILBOX_SIGNAL.to_string(),
            input: Some(Payloads {
                payloads: vec![json_payload(&message)],
            }),
            identity: self.client.identity(),
            ..Default::default()
        };
        match WorkflowService::signal_workflow_execution(&mut self.client.clone(), request.into_request())
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == tonic::Code::NotFound => {
                Err(EngineError::NotFound(id.to_string()))
            }
            Err(status) => Err(self.error(format!("cannot signal {id}: {}", status.message()))),
        }
    }

    async fn cancel(&self, id: &str, reason: &str) -> Result<(), EngineError> {
        let request = TerminateWorkflowExecutionRequest {
            namespace: self.namespace(),
            workflow_execution: Self::execution(id),
            reason: reason.to_string(),
            identity: self.client.identity(),
            ..Default::default()
        };
        match WorkflowService::terminate_workflow_execution(&mut self.client.clone(), request.into_request())
            .await
        {
            Ok(_) => Ok(()),
            // Already closed: nothing left to stop.
            Err(status) if status.code() == tonic::Code::NotFound => match self.describe(id).await? {
                Some(_) => Ok(()),
                None => Err(EngineError::NotFound(id.to_string())),
            },
            Err(status) => Err(self.error(format!("cannot stop {id}: {}", status.message()))),
        }
    }

    async fn last_progress(&self, id: &str) -> Option<Timestamp> {
        let events = self.newest_events(id, 1).await?;
        events
            .first()?
            .event_time
            .as_ref()
            .and_then(|t| timestamp(t.seconds, t.nanos))
    }

    async fn mark_compensated(&self, id: &str) {
        let marker = compensated_id(id);
        match self
            .start_record(
                &marker,
                COMPENSATED_TYPE,
                WorkflowIdReusePolicy::RejectDuplicate,
                None,
            )
            .await
        {
            Ok(()) => {
                let _ = self.cancel(&marker, "compensation recorded").await;
            }
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => tracing::warn!("cannot record that {id} was compensated: {}", status.message()),
        }
    }

    async fn is_compensated(&self, id: &str) -> bool {
        matches!(self.describe(&compensated_id(id)).await, Ok(Some(_)))
    }

    /// A running bookkeeping workflow `cratectl.compensating/<id>` with an execution timeout of
    /// `ttl`: the server keeps one run of an id open at most, and "allow duplicate failed only"
    /// lets a new claim start once the last one was terminated (released) or timed out (its
    /// holder died), never while it runs.
    async fn claim_compensation(&self, id: &str, ttl: Duration) -> Result<bool, EngineError> {
        let claim = claim_id(id);
        match self
            .start_record(
                &claim,
                COMPENSATING_TYPE,
                WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
                Some(ttl),
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(false),
            Err(status) => Err(self.error(format!("cannot claim {claim}: {}", status.message()))),
        }
    }

    async fn release_compensation(&self, id: &str) {
        let _ = self.cancel(&claim_id(id), "compensation claim released").await;
    }
}
