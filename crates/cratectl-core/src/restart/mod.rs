//! The pure decisions of a rolling restart, so the workflow in `cratectl-flow` only sequences
//! and the adapters only fetch and apply (ARCHITECTURE §2, §4).
//!
//! A restart walks each cluster's pods one at a time. Everything it decides from what it has
//! observed lives here, free of I/O, async and clocks (an instant is always a parameter), so it
//! can be unit- and property-tested and replays identically in a durable workflow:
//!
//! * [`plan`] — which pods, in which order (`--order`), skipped or not
//!   (`--only-on-suspended-nodes`), stopped how (the pod's dc_util preStop hook or our own
//!   decommission) and how long each is expected to take.
//! * [`window`] — whether the next pod fits in the maintenance window's time left, and if not,
//!   until when to wait.
//! * [`saga`] — the cluster settings a restart changes, recorded before the change and put back
//!   afterwards (ARCHITECTURE §1.3).
//! * [`ids`] — the workflow ids of a request and of its per-cluster children.
//! * [`report`] — the JSON report `restart` and `status` print (a contract), its exit code and
//!   its text rendering.

pub mod ids;
pub mod plan;
pub mod report;
pub mod saga;
pub mod window;

pub use ids::{child_id, request_id};
pub use plan::{
    DECOMMISSION_ESTIMATE, HOOK_GRACE_MARGIN, Order, PlannedPod, PodFacts, StopMethod, plan_pods,
};
pub use report::{ClusterReport, ClusterState, PodReport, PodResult, RequestState, RestartReport};
pub use saga::{ALLOCATION_DURING_RESTART, ALLOCATION_ENABLE, Saga, SavedSetting};
pub use window::{WindowDecision, estimate_pod_duration};
