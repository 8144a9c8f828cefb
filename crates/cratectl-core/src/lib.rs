//! The pure domain of cratectl.
//!
//! Everything here is a function of its inputs: no I/O (beyond the system time-zone database,
//! which jiff reads and caches), no async, no clocks. Decisions that can be computed from
//! observed state live here so they can be unit- and property-tested without a cluster; the
//! adapters (`cratectl-kube`, `cratectl-cratedb`) only fetch and apply, and the workflows in
//! `cratectl-flow` only sequence.
//!
//! Today it holds [`maintenance`] windows. Topology and naming rules, health verdicts, plans,
//! SQL builders and dc_util analysis join it with the issues that need them.

pub mod maintenance;
