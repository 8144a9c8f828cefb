//! Restoring a snapshot: checks first, then (only then) a temporary repository, internal tables
//! renamed away, the recovery tuning, one `RESTORE SNAPSHOT`, passwords set back, a watched
//! wait, and cleanup of every effect on every path.
//!
//! * [`workflow`] — the request and per-cluster workflows.
//! * [`activities`] — what only a restore does (facts, repository, renames, the statement,
//!   passwords, the wait, the settings comparison).
//! * [`model`] — its inputs and options.
//! * [`dry_run`] — the plan and statement `restore --dry-run` prints, from read-only activities.

pub mod activities;
pub mod dry_run;
pub mod model;
pub mod workflow;
