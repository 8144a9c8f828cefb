//! Suspending and resuming a cluster: every node stops, and later every node comes back with
//! its data, the settings as they were and CrateDB's health checked.
//!
//! * [`record`] — the suspend record (annotation `cratectl.io/suspended` on the `CrateDB`
//!   resource): the node counts, the settings to put back and what else was stopped. It is
//!   written before the first change and removed by `resume` after stable GREEN, so whoever
//!   resumes (another machine, a lost state directory) knows what to bring back.
//! * [`plan`] — the decisions before anything is written: `--replicas` parsed and checked
//!   against the record, "nothing to do", the PVC hint when there is no record.
//! * [`report`] — the reports `suspend`, `resume` and `status` print.

pub mod plan;
pub mod record;
pub mod report;
