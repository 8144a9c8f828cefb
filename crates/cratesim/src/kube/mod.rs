//! The Kubernetes API machinery of the simulator.
//!
//! * [`registry`] — the resource kinds served, with their discovery metadata;
//! * [`store`] — objects as JSON, the global resourceVersion, the event log and watch fan-out;
//! * [`discovery`], [`table`], [`status`] — what kubectl and client libraries need besides CRUD;
//! * [`query`], [`selectors`] — request parameters as real clients send them;
//! * [`pods`] — graceful deletion and eviction under PodDisruptionBudgets;
//! * [`api`] — the HTTP router tying them together.

pub mod api;
pub mod discovery;
pub mod pods;
pub mod query;
pub mod registry;
pub mod selectors;
pub mod status;
pub mod store;
pub mod strategic;
pub mod table;

use std::sync::{Mutex, MutexGuard};

use crate::clock::Clock;
use crate::databases::Databases;
use crate::evidence::Evidence;
use crate::faults::ApiFaults;
use store::Store;

/// The shared state behind the API: the store, the clock, and the CrateDB clusters the pods run
/// (reached through the pods' `proxy` subresource).
pub struct ApiServer {
    store: Mutex<Store>,
    pub clock: Clock,
    pub databases: Databases,
    /// What happened, for tests (`GET /_sim/report`). Locked after the store and the databases.
    pub evidence: Evidence,
    /// API faults injected through `POST /_sim/faults` (error bursts and rates, latency) and the
    /// signal that ends open watches.
    pub api_faults: ApiFaults,
    /// Wakes the controllers when a request brought a CrateDB model's next event forward
    /// ([`ApiServer::wake_if_sooner`]).
    pub wake: tokio::sync::Notify,
    /// When the controllers will look next, in simulated milliseconds since the start
    /// (`u64::MAX`: while they are looking, or when nothing is due).
    pub controllers_due: std::sync::atomic::AtomicU64,
}

impl ApiServer {
    pub fn new(clock: Clock) -> ApiServer {
        ApiServer {
            store: Mutex::new(Store::new()),
            clock,
            databases: Databases::default(),
            evidence: Evidence::default(),
            api_faults: ApiFaults::default(),
            wake: tokio::sync::Notify::new(),
            controllers_due: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Wakes the controllers if a CrateDB model's next event (`next`, from `next_change_at`)
    /// comes before they would look anyway. They sleep until the earliest event they know of,
    /// and a request to CrateDB changes a model without touching the store: a node told to
    /// DECOMMISSION exits later, and a real kubelet sees its container exit when it does.
    /// While the controllers are looking every change wakes them again afterwards (the
    /// notification is kept), so none is missed between their look and their sleep.
    pub fn wake_if_sooner(&self, next: Option<std::time::Duration>) {
        let due = self.controllers_due.load(std::sync::atomic::Ordering::Acquire);
        if let Some(next) = next
            && u64::try_from(next.as_millis()).unwrap_or(u64::MAX) < due
        {
            self.wake.notify_one();
        }
    }

    /// The evidence report (see [`crate::evidence::Evidence::report`]).
    /// Every model is first brought up to now and observed, so the report's health timeline
    /// ends with the state the clusters are in now, not the last one a controller pass noted.
    pub fn report(&self) -> serde_json::Value {
        let mut databases = self.databases.lock();
        let elapsed = self.clock.elapsed();
        for (key, model) in databases.iter_mut() {
            model.advance(elapsed);
            self.wake_if_sooner(model.next_change_at());
            self.evidence.observe(key, model, self.clock.now());
        }
        self.evidence.report(&databases, self.clock.epoch())
    }

    /// The store, locked. Handlers hold it only for the duration of one operation.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written (every write is a
        // single insert), so a poisoned lock is still safe to use.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
