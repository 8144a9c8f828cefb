//! The pure decisions of scaling node groups (`cratectl scale`); the workflow runs them on the
//! shared harness. What every operation shares is in [`crate::op`].
//!
//! * [`plan`] — from the cluster's state and the `GROUP=N` pairs: the group changes in order,
//!   nodes joining and leaving, the mode, refusals and start problems.
//! * [`replicas`] — the replica guard: which tables and partitions stop a scale-down to `n`
//!   data nodes, each named with its setting and the data nodes it needs.
//! * [`gateway`] — the gateway settings on the `crate` container's command line.
//! * [`report`] — what `scale` and `status` print.

pub mod gateway;
pub mod plan;
pub mod replicas;
pub mod report;
