//! The pure decisions of a rolling restart, so the workflow in `cratectl-flow` only sequences
//! and the adapters only fetch and apply (ARCHITECTURE §2, §4). What every operation shares
//! (ids, the settings saga, window fit, states and exit codes) is in [`crate::op`].
//!
//! * [`plan`] — which pods, in which order (`--order`), skipped or not
//!   (`--only-on-suspended-nodes`), stopped how (the pod's dc_util preStop hook or our own
//!   decommission) and how long each is expected to take.
//! * [`report`] — the restart's report: each cluster's pods on top of the common fields, and its
//!   text rendering.

pub mod plan;
pub mod report;

pub use plan::{
    DECOMMISSION_ESTIMATE, HOOK_GRACE_MARGIN, Order, PlannedPod, PodFacts, StopMethod, plan_pods,
};
pub use report::{ClusterReport, ClusterState, PodReport, PodResult, RequestState, RestartReport};
