//! The engine chosen at run time (`--engine duroxide|temporal`): one type the CLI and the tests
//! hold, delegating every call to the selected adapter. The trait's methods return
//! `impl Future`, so a trait object cannot be used; an enum can.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::duroxide::{Duroxide, DuroxideClient, DxWorker};
#[cfg(feature = "temporal")]
use super::temporal::{TWorker, Temporal, TemporalClient};
use super::{Engine, EngineClient, EngineError, EngineWorker, InstanceStatus, WorkerLimits};

/// The engine names `--engine` accepts, in the order `--help` lists them.
pub const ENGINE_NAMES: &[&str] = &["duroxide", "temporal"];

/// Whether this build has the Temporal engine (the cargo feature `temporal`).
pub const HAS_TEMPORAL: bool = cfg!(feature = "temporal");

/// One of the engines.
#[derive(Clone, Debug)]
pub enum AnyEngine {
    Duroxide(Duroxide),
    #[cfg(feature = "temporal")]
    Temporal(Temporal),
}

impl AnyEngine {
    /// `duroxide` or `temporal`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyEngine::Duroxide(_) => "duroxide",
            #[cfg(feature = "temporal")]
            AnyEngine::Temporal(_) => "temporal",
        }
    }
}

impl From<Duroxide> for AnyEngine {
    fn from(engine: Duroxide) -> AnyEngine {
        AnyEngine::Duroxide(engine)
    }
}

#[cfg(feature = "temporal")]
impl From<Temporal> for AnyEngine {
    fn from(engine: Temporal) -> AnyEngine {
        AnyEngine::Temporal(engine)
    }
}

/// The client of one of the engines.
#[derive(Clone)]
pub enum AnyClient {
    Duroxide(DuroxideClient),
    #[cfg(feature = "temporal")]
    Temporal(TemporalClient),
}

/// A worker of one of the engines.
pub enum AnyWorker {
    Duroxide(DxWorker),
    #[cfg(feature = "temporal")]
    Temporal(TWorker),
}

/// Calls `$call` on whichever adapter `$value` holds.
macro_rules! each {
    ($value:expr, $kind:ident, $inner:ident => $call:expr) => {
        match $value {
            $kind::Duroxide($inner) => $call,
            #[cfg(feature = "temporal")]
            $kind::Temporal($inner) => $call,
        }
    };
}

impl Engine for AnyEngine {
    type Client = AnyClient;
    type Worker = AnyWorker;

    fn location(&self) -> String {
        each!(self, AnyEngine, e => e.location())
    }

    fn has_records(&self) -> bool {
        each!(self, AnyEngine, e => e.has_records())
    }

    async fn client(&self) -> Result<AnyClient, EngineError> {
        Ok(match self {
            AnyEngine::Duroxide(e) => AnyClient::Duroxide(e.client().await?),
            #[cfg(feature = "temporal")]
            AnyEngine::Temporal(e) => AnyClient::Temporal(e.client().await?),
        })
    }

    async fn start_worker(
        &self,
        env: Arc<crate::env::ActivityEnv>,
        limits: WorkerLimits,
        only: Option<Vec<String>>,
    ) -> Result<AnyWorker, EngineError> {
        Ok(match self {
            AnyEngine::Duroxide(e) => AnyWorker::Duroxide(e.start_worker(env, limits, only).await?),
            #[cfg(feature = "temporal")]
            AnyEngine::Temporal(e) => AnyWorker::Temporal(e.start_worker(env, limits, only).await?),
        })
    }
}

impl EngineWorker for AnyWorker {
    async fn shutdown(self, grace: Duration) {
        each!(self, AnyWorker, w => w.shutdown(grace).await)
    }
}

impl EngineClient for AnyClient {
    async fn start(&self, workflow: &str, id: &str, input: String) -> Result<(), EngineError> {
        each!(self, AnyClient, c => c.start(workflow, id, input).await)
    }

    async fn status(&self, id: &str) -> Result<Option<InstanceStatus>, EngineError> {
        each!(self, AnyClient, c => c.status(id).await)
    }

    async fn list(&self) -> Result<Vec<InstanceStatus>, EngineError> {
        each!(self, AnyClient, c => c.list().await)
    }

    async fn signal(&self, id: &str, mailbox: &str, payload: String) -> Result<(), EngineError> {
        each!(self, AnyClient, c => c.signal(id, mailbox, payload).await)
    }

    async fn cancel(&self, id: &str, reason: &str) -> Result<(), EngineError> {
        each!(self, AnyClient, c => c.cancel(id, reason).await)
    }

    async fn last_progress(&self, id: &str) -> Option<Timestamp> {
        each!(self, AnyClient, c => c.last_progress(id).await)
    }

    async fn mark_compensated(&self, id: &str) {
        each!(self, AnyClient, c => c.mark_compensated(id).await)
    }

    async fn is_compensated(&self, id: &str) -> bool {
        each!(self, AnyClient, c => c.is_compensated(id).await)
    }

    async fn claim_compensation(&self, id: &str, ttl: Duration) -> Result<bool, EngineError> {
        each!(self, AnyClient, c => c.claim_compensation(id, ttl).await)
    }

    async fn release_compensation(&self, id: &str) {
        each!(self, AnyClient, c => c.release_compensation(id).await)
    }
}
