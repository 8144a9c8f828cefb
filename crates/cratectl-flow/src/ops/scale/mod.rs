//! Scaling node groups: nodes join, or leave one at a time after CrateDB moved every shard
//! copy off them, gated on CrateDB's own health.
//!
//! * [`workflow`] — the request and per-cluster workflows.
//! * [`activities`] — what only a scale does (read the cluster's facts, patch replicas and
//!   command lines, drain, wait for nodes to join and leave, follow the operator).
//! * [`model`] — its inputs, options and report entries.
//! * [`dry_run`] — the plan `scale --dry-run` prints, from the read-only activities.

pub mod activities;
pub mod dry_run;
pub mod model;
pub mod workflow;
