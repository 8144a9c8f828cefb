//! cratectl-flow: cratectl's durable workflows and their activities.
//!
//! * [`engine`] — the thin engine trait (workflow context, activities with typed errors, the
//!   client and worker an engine provides) and the duroxide (SQLite) adapter.
//! * [`harness`] — the per-cluster harness every operation runs on: Lease, settings saga,
//!   gates, waits that publish what they saw, control, cleanup.
//! * [`activities`] — the side effects and readings every operation shares.
//! * [`ops`] — one module per operation (`restart` today): its workflows, its own activities,
//!   its inputs and its dry run.
//! * [`request`] — the top-level workflow of every operation: one child per cluster.
//! * [`model`] — what every operation records: cluster, control messages, open effects,
//!   progress (no credentials, ever).
//! * [`env`] — what activities run with on a worker (Kubernetes connections, credentials).
//! * [`operations`] — what the CLI uses for any operation: start, report, list, signal, cancel
//!   with compensation, and the worker.
pub mod activities;
pub mod engine;
pub mod env;
pub mod harness;
pub mod model;
pub mod operations;
pub mod ops;
pub mod request;
