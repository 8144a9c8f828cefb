//! The pure domain of cratectl.
//!
//! Everything here is a function of its inputs: no I/O (beyond the system time-zone database,
//! which jiff reads and caches), no async, no clocks. Decisions that can be computed from
//! observed state live here so they can be unit- and property-tested without a cluster; the
//! adapters (`cratectl-kube`, `cratectl-cratedb`) only fetch and apply, and the workflows in
//! `cratectl-flow` only sequence.
//!
//! * [`busy`] — "is another operation running on this cluster?": the evidence, its codes and
//!   which operation each blocks.
//! * [`maintenance`] — maintenance windows: the file format, the calendar, the decision.
//! * [`readings`] — what cratectl reads from CrateDB, as plain data for the decisions here.
//! * [`health`] — the health verdict, "safe to disrupt a node" with its reasons, and the gate
//!   that demands N consecutive stable readings.
//! * [`prestop`] — what the `crate` container's preStop hook does: dc_util, its timeout and
//!   min-availability.
//! * [`sql`] — identifier and literal quoting, the statements operations send, and the
//!   read-only test behind `cratectl sql --write`.
//! * [`topology`] — the operator's names, pod ordinals, the pod to read a cluster through,
//!   Kubernetes node conditions, "did you mean".
//! * [`op`] — what every disruptive operation shares: workflow ids, the settings saga, window
//!   fit, the report's common part, states and exit codes, lanes.
//! * [`restart`] — a rolling restart's own decisions: pod order and skips, and its report.
//! * [`restore`] — restoring snapshots: what `snapshot list` shows.
//! * [`scale`] — scaling's own decisions (so far the replica guard).
//! * [`suspend`] — suspend and resume: the record on the resource, the counts a resume brings
//!   back, their reports.
//! * [`doctor`] — leftovers of operations (settings, ownership labels, Leases) and their fixes.
//! * [`text`] — the one way text for people writes a duration and an instant.

pub mod busy;
pub mod doctor;
pub mod health;
pub mod jwt;
pub mod maintenance;
pub mod op;
pub mod prestop;
pub mod readings;
pub mod restart;
pub mod restore;
pub mod scale;
pub mod sql;
pub mod suspend;
pub mod text;
pub mod topology;
