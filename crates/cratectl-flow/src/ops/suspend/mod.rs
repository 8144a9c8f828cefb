//! Suspending and resuming a cluster: every node stops (the data volumes stay), and later every
//! node comes back with its data, the settings as they were, and CrateDB's health checked.
//!
//! * [`workflow`] — the request and per-cluster workflows of both.
//! * [`activities`] — what only these do (Kubernetes-only facts, the record, the backup
//!   CronJobs and Deployments, waits for pods to go and come, for primaries to be active).
//! * [`model`] — their inputs and options.

pub mod activities;
pub mod model;
pub mod workflow;
