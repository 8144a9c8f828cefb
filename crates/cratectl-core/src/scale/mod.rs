//! The pure decisions of scaling node groups (in progress: the workflow and the command come
//! next, on the shared harness). What every operation shares is in [`crate::op`].
//!
//! * [`replicas`] — the replica guard: which tables and partitions stop a scale-down to `n`
//!   data nodes, each named with its setting and the data nodes it needs.

pub mod replicas;
