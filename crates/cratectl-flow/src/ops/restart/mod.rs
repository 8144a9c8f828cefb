//! The rolling restart: one pod at a time per cluster, gated on CrateDB's own health.
//!
//! * [`workflow`] — the request and per-cluster workflows.
//! * [`activities`] — what only a restart does (its plan, a pod's stop and the waits for it).
//! * [`model`] — its inputs, options and report entries.
//! * [`dry_run`] — the plan `restart --dry-run` prints, from the read-only activities.

pub mod activities;
pub mod dry_run;
pub mod model;
pub mod workflow;
