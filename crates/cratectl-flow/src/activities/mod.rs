//! Every side effect and every reading of the outside world that a workflow makes. Each
//! activity is idempotent (engines run an activity again after a crash, ARCHITECTURE §1.4),
//! each bounds its own waiting with a `budget`, and each failure says whether trying again can
//! help ([`crate::engine::ActivityError`]) in a sentence that says what was observed.
//!
//! Waiting activities return [`Waited`] when their budget runs out instead of failing: the
//! workflow publishes what was last seen (status explains itself) and decides whether to go on
//! waiting, so no single activity holds a worker for the whole of a long wait.
//!
//! * [`common`] — what every operation uses: health readings and the stable gate, the Lease,
//!   the settings saga, the routing-owner label.
//! * [`restore_effects`] — undoing what a restore left open (renames, repository,
//!   Deployments), for cleanup and compensation alike.
//! * [`suspend_effects`] — undoing what a suspend stopped besides the nodes (CronJobs,
//!   Deployments) and removing its record, for the resume and a suspend's cleanup.
//! * [`membership`] — nodes joining and leaving (`sys.nodes`, the master, the pod).
//! * each operation's own activities live with it (`crate::ops::<operation>::activities`).

pub mod common;
pub mod membership;
pub mod restore_effects;
pub mod suspend_effects;

use serde::{Deserialize, Serialize};

use crate::engine::ActivitySink;
use crate::env::ActivityEnv;
use crate::model::{ClusterRef, TargetSpec};

/// Registers every activity of every operation.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    let sink = common::register(sink);
    let sink = membership::register(sink);
    let sink = restore_effects::register(sink);
    let sink = suspend_effects::register(sink);
    let sink = crate::ops::suspend::activities::register(sink);
    let sink = crate::ops::restart::activities::register(sink);
    let sink = crate::ops::restore::activities::register(sink);
    crate::ops::scale::activities::register(sink)
}

/// What a waiting activity saw when its budget ran out, or the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Waited<T> {
    pub done: Option<T>,
    /// What was last observed, for status ("2 underreplicated shards in doc.t1 …").
    pub last: String,
}

/// Every activity names the cluster the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct At {
    pub target: TargetSpec,
    pub cluster: ClusterRef,
}
