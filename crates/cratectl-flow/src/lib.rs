//! cratectl-flow: cratectl's durable workflows and their activities.
//!
//! * [`engine`] — the thin engine trait and the duroxide (SQLite) adapter.
//! * [`model`] — workflow inputs and progress records (no credentials, ever).
//! * [`workflow`] — the restart workflows, written once against the engine trait.
//! * [`activities`] — every side effect and reading, idempotent and self-bounded.
//! * [`env`] — what activities run with on a worker (Kubernetes connections, credentials).
//! * [`service`] — what the CLI uses: start, report, list, signal, cancel, worker.
//! * [`dry_run`] — the plan of a restart from the read-only activities, recording nothing.
pub mod activities;
pub mod dry_run;
pub mod engine;
pub mod env;
pub mod model;
pub mod service;
pub mod workflow;
