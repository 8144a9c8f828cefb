//! The thin engine trait (ARCHITECTURE §3): workflows are plain async functions over
//! [`WorkflowCtx`], activities are typed [`Activity`] definitions run by [`RunActivity`], and the
//! CLI talks to whatever engine runs them through [`EngineClient`]. Nothing here names duroxide;
//! [`duroxide`] is one adapter, and a Temporal adapter can be added beside it without touching
//! workflow code (`../shared/research/engines.md` §7 lists what each method maps to there).
//!
//! What the trait deliberately does not promise (engines.md §7.3):
//! * signals are **mailbox** messages: buffered once the instance exists, lost if sent before;
//! * `cancel` is a hard stop at a turn boundary: compensation is the worker's job, not the
//!   cancelled workflow's;
//! * no in-place versioning: a changed workflow is a new registered name.
//!
//! Workflow code must be deterministic: no clocks (use [`WorkflowCtx::now`]), no randomness, no
//! I/O and no tokio/futures combinators (use [`WorkflowCtx::join`]).

pub mod duroxide;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failure a workflow sees or returns: a message for the user, never containing credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct WfError {
    pub message: String,
}

impl WfError {
    pub fn new(message: impl Into<String>) -> WfError {
        WfError {
            message: message.into(),
        }
    }
}

pub type WfResult<T> = Result<T, WfError>;

/// An activity's stable name and its serde payloads. The name is recorded in history: renaming
/// one breaks replay of instances that are in flight.
pub trait Activity: Send + Sync + 'static {
    const NAME: &'static str;
    type In: Serialize + DeserializeOwned + Send + Sync + 'static;
    type Out: Serialize + DeserializeOwned + Send + 'static;
}

/// The code of an activity, run on a worker with the worker's environment `E` (clients,
/// credentials: things that must not be recorded in history). Activities may run more than
/// once (at-least-once on every engine): each must be idempotent.
pub trait RunActivity<E: Send + Sync + 'static>: Activity {
    fn run(env: Arc<E>, input: Self::In) -> impl Future<Output = Result<Self::Out, String>> + Send;
}

/// Where a worker registers its activities; each engine adapter implements it.
pub trait ActivitySink<E: Send + Sync + 'static>: Sized {
    fn add<A: RunActivity<E>>(self) -> Self;
}

/// How an activity call is scheduled. No engine defaults: every call says what it wants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityOptions {
    /// Attempts in all (1 = no retry). Retries happen on an activity error, not a timeout.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time, capped at 30 s.
    pub backoff: Duration,
    /// Per-attempt limit enforced by a durable timer; `None` when the activity bounds itself.
    pub timeout: Option<Duration>,
}

impl ActivityOptions {
    /// One attempt, bounded by the activity itself.
    pub const ONCE: ActivityOptions = ActivityOptions {
        attempts: 1,
        backoff: Duration::from_secs(1),
        timeout: None,
    };

    /// `attempts` tries with exponential backoff from 1 s.
    pub const fn retried(attempts: u32) -> ActivityOptions {
        ActivityOptions {
            attempts,
            backoff: Duration::from_secs(1),
            timeout: None,
        }
    }
}

/// What a workflow may do. Every method is replay-safe on every engine.
pub trait WorkflowCtx {
    /// Runs activity `A` (recorded in history: on replay the recorded result is returned).
    fn activity<A: Activity>(
        &self,
        input: &A::In,
        options: ActivityOptions,
    ) -> impl Future<Output = WfResult<A::Out>>;

    /// A durable timer.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;

    /// The next message in `mailbox`, or `None` when `timeout` passes first (a durable timer).
    fn recv_or_timeout(&self, mailbox: &str, timeout: Duration) -> impl Future<Output = Option<String>>;

    /// Publishes progress: readable by `status` with no worker running.
    fn set_progress<P: Serialize>(&self, progress: &P);

    /// The current time, recorded in history.
    fn now(&self) -> impl Future<Output = WfResult<Timestamp>>;

    /// Runs workflow `name` as a child with the explicit instance id `id` and awaits its output.
    fn child<I: Serialize, O: DeserializeOwned>(
        &self,
        name: &str,
        id: &str,
        input: &I,
    ) -> impl Future<Output = WfResult<O>>;

    /// Awaits all `futures` concurrently (deterministically), in order.
    fn join<F: Future>(&self, futures: Vec<F>) -> impl Future<Output = Vec<F::Output>>;

    /// A replay-aware log line (not repeated on replay).
    fn log(&self, message: &str);
}

/// The state of a workflow instance as the engine records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Started (recorded) but not yet picked up by a worker.
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl InstanceState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            InstanceState::Completed | InstanceState::Failed | InstanceState::Cancelled
        )
    }
}

/// One instance as the engine reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceStatus {
    pub id: String,
    pub workflow: String,
    pub state: InstanceState,
    /// The last progress published with [`WorkflowCtx::set_progress`].
    pub progress: Option<String>,
    /// The output (completed) or the error (failed, cancelled).
    pub output: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// The parent instance, for children.
    pub parent: Option<String>,
    /// The input it was started with (roots started through this client).
    pub input: Option<String>,
}

/// Engine failures seen by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("workflow {0} already exists (ids are never reused)")]
    AlreadyExists(String),
    #[error("no workflow with id {0}")]
    NotFound(String),
    #[error("workflow store {store}: {message}")]
    Store { store: String, message: String },
}

/// What the CLI needs from an engine; `status` and `list` never need a live worker.
pub trait EngineClient {
    /// Starts `workflow` as instance `id`; fails if `id` exists in any state.
    fn start(&self, workflow: &str, id: &str, input: String)
    -> impl Future<Output = Result<(), EngineError>>;
    fn status(&self, id: &str) -> impl Future<Output = Result<Option<InstanceStatus>, EngineError>>;
    /// Root instances (not children), newest first.
    fn list(&self) -> impl Future<Output = Result<Vec<InstanceStatus>, EngineError>>;
    /// Puts `payload` in the instance's `mailbox`.
    fn signal(
        &self,
        id: &str,
        mailbox: &str,
        payload: String,
    ) -> impl Future<Output = Result<(), EngineError>>;
    /// Hard-stops the instance (and its children) at the next turn boundary.
    fn cancel(&self, id: &str, reason: &str) -> impl Future<Output = Result<(), EngineError>>;
}
