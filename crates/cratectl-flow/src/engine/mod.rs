//! The thin engine trait (ARCHITECTURE §3): workflows are plain async functions over
//! [`WorkflowCtx`], activities are typed [`Activity`] definitions run by [`RunActivity`] whose
//! failures say whether a retry can help ([`ActivityError`]), and the CLI talks to whatever
//! engine runs them through [`EngineClient`]. Nothing here names duroxide; [`duroxide`] is one
//! adapter (embedded, one SQLite file), `temporal` (cargo feature `temporal`) is the other (a
//! Temporal server), and [`any`] holds whichever the user chose; neither touches workflow code.
//!
//! For a server engine (no state directory, workers on other hosts):
//! * **progress stays readable with no worker running**: [`WorkflowCtx::set_progress`] must be
//!   stored by the server (on Temporal: the workflow's memo or a search attribute upserted by
//!   the workflow, not a query, which needs a live worker);
//! * **cancel is a hard stop**: the client terminates the instance; the open effects it
//!   published are then undone by the caller of `cancel` and by the workers' compensation scan,
//!   exactly once thanks to [`EngineClient::claim_compensation`] (one process at a time) and
//!   [`EngineClient::mark_compensated`] (never again once done), which the server keeps (on
//!   Temporal: bookkeeping workflows no worker runs);
//! * **compensation runs on a worker or the CLI**, never inside the cancelled workflow;
//! * activity failures of kind [`ErrorKind::Permanent`] or [`ErrorKind::Refused`] are
//!   non-retryable application errors.
//!
//! What the trait deliberately does not promise:
//! * signals are **mailbox** messages: buffered once the instance exists, lost if sent before;
//! * `cancel` is a hard stop at a turn boundary: compensation is the worker's job, not the
//!   cancelled workflow's;
//! * no in-place versioning: a changed workflow is a new registered name.
//!
//! (duroxide's documentation on docs.rs/duroxide describes its mailbox events, cancellation and
//! versioning; Temporal's at <https://docs.temporal.io/workflows>.)
//!
//! Workflow code must be deterministic: no clocks (use [`WorkflowCtx::now`]), no randomness, no
//! I/O and no tokio/futures combinators (use [`WorkflowCtx::join`]).

pub mod any;
pub mod duroxide;
pub mod store;
#[cfg(feature = "temporal")]
pub mod temporal;
#[cfg(feature = "temporal")]
pub mod temporal_dev;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What kind of failure an activity had, which decides whether it is tried again. The model
/// is Temporal's non-retryable application errors and Strimzi's split of a rolling restart's
/// problems into forceable and fatal ones: only a failure that time can heal is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Transient: a 5xx or 429 answer, a timeout, a refused or lost connection. Tried again
    /// within the step's budget ([`ActivityOptions`]).
    Retryable,
    /// A refusal that a retry cannot change: a missing privilege, an unknown table, a 403, a
    /// CrateDB resource that no longer exists. Fails the step at once.
    Permanent,
    /// Refused by one of our own safety rules (another operation holds the cluster, a
    /// setting we do not own). Fails the step at once.
    Refused,
}

/// An activity's failure: its kind and a sentence for the user, never containing credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct ActivityError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ActivityError {
    pub fn retryable(message: impl Into<String>) -> ActivityError {
        ActivityError {
            kind: ErrorKind::Retryable,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> ActivityError {
        ActivityError {
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn refused(message: impl Into<String>) -> ActivityError {
        ActivityError {
            kind: ErrorKind::Refused,
            message: message.into(),
        }
    }

    /// Retryable when `transient`, else permanent.
    pub fn transient_if(transient: bool, message: impl Into<String>) -> ActivityError {
        if transient {
            ActivityError::retryable(message)
        } else {
            ActivityError::permanent(message)
        }
    }

    /// The same failure with `what` in front: `what: message`.
    pub fn context(self, what: impl std::fmt::Display) -> ActivityError {
        ActivityError {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }

    /// Whether the engine should try the activity again.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }

    /// The error as an engine carries it (engines carry activity errors as text).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.message.clone())
    }

    /// Reads an error an engine carried back. Text that is not one of ours came from the
    /// engine itself (a per-attempt timeout, an unregistered activity): it is not retried.
    pub fn decode(text: &str) -> ActivityError {
        serde_json::from_str(text).unwrap_or_else(|_| ActivityError::permanent(text))
    }
}

/// A failure a workflow sees or returns: a message for the user, never containing credentials,
/// and, for an activity's failure, its kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct WfError {
    pub message: String,
    #[serde(default = "permanent")]
    pub kind: ErrorKind,
}

fn permanent() -> ErrorKind {
    ErrorKind::Permanent
}

impl WfError {
    pub fn new(message: impl Into<String>) -> WfError {
        WfError {
            message: message.into(),
            kind: ErrorKind::Permanent,
        }
    }
}

impl From<ActivityError> for WfError {
    fn from(e: ActivityError) -> WfError {
        WfError {
            message: e.message,
            kind: e.kind,
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
/// once (at-least-once on every engine): each must be idempotent. A failure says whether a
/// retry could help ([`ActivityError`]).
pub trait RunActivity<E: Send + Sync + 'static>: Activity {
    fn run(env: Arc<E>, input: Self::In) -> impl Future<Output = Result<Self::Out, ActivityError>> + Send;
}

/// Where a worker registers its activities; each engine adapter implements it.
pub trait ActivitySink<E: Send + Sync + 'static>: Sized {
    fn add<A: RunActivity<E>>(self) -> Self;
}

/// How an activity call is scheduled. No engine defaults: every call says what it wants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityOptions {
    /// Attempts in all (1 = no retry). Only a [`ErrorKind::Retryable`] failure is tried again;
    /// a permanent or refused one, or the per-attempt timeout, ends the call at once.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time, capped at 30 s.
    pub backoff: Duration,
    /// Per-attempt limit enforced by a durable timer; `None` when the activity bounds itself.
    pub timeout: Option<Duration>,
}

impl ActivityOptions {
    /// `attempts` tries with exponential backoff from 1 s.
    pub const fn retried(attempts: u32) -> ActivityOptions {
        ActivityOptions {
            attempts,
            backoff: Duration::from_secs(1),
            timeout: None,
        }
    }

    /// As many tries as fit in `budget`: the backoffs between them (from 1 s, doubled, capped
    /// at [`MAX_BACKOFF`]) add up to no more than `budget`, and there is always at least one.
    /// A step's retries are the step's budget, not a fixed count.
    pub fn within(budget: Duration) -> ActivityOptions {
        let backoff = Duration::from_secs(1);
        let mut attempts = 1u32;
        let mut waited = Duration::ZERO;
        loop {
            let next = backoff_for(backoff, attempts);
            if waited + next > budget || attempts >= 1000 {
                break;
            }
            waited += next;
            attempts += 1;
        }
        ActivityOptions {
            attempts,
            backoff,
            timeout: None,
        }
    }

    /// The pause before try `attempt + 1`.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        backoff_for(self.backoff, attempt)
    }

    /// What every adapter does when try `attempt` of `activity` failed with `error`: the pause
    /// before the next try and the line to log, or the call's failure (not retryable, or the
    /// last attempt).
    pub fn after_failure(
        &self,
        activity: &str,
        error: ActivityError,
        attempt: u32,
    ) -> Result<(Duration, String), WfError> {
        let attempts = self.attempts.max(1);
        if !error.is_retryable() || attempt >= attempts {
            return Err(WfError::from(error));
        }
        Ok((
            self.backoff_after(attempt),
            format!(
                "activity {activity} attempt {attempt}/{attempts} failed: {}; trying again",
                error.message
            ),
        ))
    }
}

/// The longest pause between two tries of an activity.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `base` doubled `attempt - 1` times, capped at [`MAX_BACKOFF`].
fn backoff_for(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(MAX_BACKOFF)
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
    /// Why the engine cannot move the instance on although it is running (on Temporal, a
    /// workflow task that keeps failing: a nondeterminism, an oversized record).
    pub stuck: Option<String>,
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
pub trait EngineClient: Clone + Send + Sync + 'static {
    /// Starts `workflow` as instance `id`; fails if `id` exists in any state.
    fn start(
        &self,
        workflow: &str,
        id: &str,
        input: String,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn status(&self, id: &str) -> impl Future<Output = Result<Option<InstanceStatus>, EngineError>> + Send;
    /// Root instances (not children), newest first (by the time they were recorded).
    fn list(&self) -> impl Future<Output = Result<Vec<InstanceStatus>, EngineError>> + Send;
    /// Puts `payload` in the instance's `mailbox`.
    fn signal(
        &self,
        id: &str,
        mailbox: &str,
        payload: String,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Hard-stops the instance (and its children) at the next turn boundary. The cancel is
    /// recorded at once: an instance no worker has picked up reads as cancelled from then on,
    /// and a cancelled instance's output is `cancelled: <reason>` with the reason as given.
    fn cancel(&self, id: &str, reason: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// When a worker last recorded anything for instance `id` (progress, an activity's result,
    /// a timer); `None` when none has yet. May cost a read of the instance's history: for
    /// `status`, not for polling.
    fn last_progress(&self, id: &str) -> impl Future<Output = Option<Timestamp>> + Send;
    /// Records that what instance `id` left open was undone (or that it ended clean), so
    /// compensation never runs twice and an old saga is never replayed over later changes.
    /// Kept by the engine, not by a CLI machine: every worker and CLI of the engine sees it.
    fn mark_compensated(&self, id: &str) -> impl Future<Output = ()> + Send;
    /// Whether [`EngineClient::mark_compensated`] was recorded for `id`.
    fn is_compensated(&self, id: &str) -> impl Future<Output = bool> + Send;
    /// Claims the compensation of instance `id` for this process for at most `ttl`:
    /// `Ok(false)` while another process holds a live claim. Kept by the engine like the record
    /// of [`EngineClient::mark_compensated`], so two hosts never undo one instance at once;
    /// the claim of a holder that died lapses after `ttl`.
    fn claim_compensation(
        &self,
        id: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, EngineError>> + Send;
    /// Gives up a claim of [`EngineClient::claim_compensation`] (done, or failed to undo).
    fn release_compensation(&self, id: &str) -> impl Future<Output = ()> + Send;
}

/// How much a worker runs at once; every engine has both limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Workflow instances (each cluster of an operation is one) advanced at once.
    pub max_concurrent_workflows: usize,
    /// Activities run at once.
    pub max_concurrent_activities: usize,
}

impl Default for WorkerLimits {
    fn default() -> WorkerLimits {
        WorkerLimits {
            max_concurrent_workflows: 8,
            max_concurrent_activities: 32,
        }
    }
}

/// A running worker of an engine.
pub trait EngineWorker: Send + 'static {
    /// Stops dispatching; in-flight activities get up to `grace` to finish (they are
    /// idempotent, so one cut short runs again when a worker resumes the workflow).
    fn shutdown(self, grace: Duration) -> impl Future<Output = ()> + Send;
}

/// An engine as the CLI selected it: where its records are, its client, and its workers. The
/// service ([`crate::operations`]) and the binary reach an engine through this only.
pub trait Engine: Clone + Send + Sync + 'static {
    type Client: EngineClient;
    type Worker: EngineWorker;
    /// Where its records are, for messages ("state directory /home/me/.local/state/cratectl").
    fn location(&self) -> String;
    /// Whether it holds any record yet; a read-only command with nothing to read creates
    /// nothing.
    fn has_records(&self) -> bool;
    /// A client; needs no worker running.
    fn client(&self) -> impl Future<Output = Result<Self::Client, EngineError>> + Send;
    /// Starts a worker that runs every operation's workflows and activities, the activities
    /// with `env`: every instance, or with `only` just those (a foreground operation runs its
    /// own workflows and leaves the others to the workers).
    fn start_worker(
        &self,
        env: Arc<crate::env::ActivityEnv>,
        limits: WorkerLimits,
        only: Option<Vec<String>>,
    ) -> impl Future<Output = Result<Self::Worker, EngineError>> + Send;
}
