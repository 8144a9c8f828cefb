//! The rules every disruptive operation shares (restart today; scale, restore, suspend and
//! resume next), so each operation's own module holds only what is its own:
//!
//! * [`ids`] — what an operation is ([`ids::OperationKind`]) and its workflow ids, per request
//!   and per cluster.
//! * [`saga`] — cluster settings recorded before an operation changes them and put back after
//!   (ARCHITECTURE §1.3), scalar and set-valued.
//! * [`window`] — whether the next disruptive step fits in the maintenance window.
//! * [`report`] — the report's top level, the per-cluster common fields, the request and cluster
//!   states, and the exit-code rule.
//! * [`lanes`] — how a request spreads its clusters over `--parallel` lanes.
//! * [`ownership`] — who operates a cluster now: the cratectl Lease, the routing-owner label.
//!
//! Pure, like the rest of this crate: the workflows in `cratectl-flow` sequence these rules,
//! and the adapters fetch and apply.

pub mod ids;
pub mod lanes;
pub mod ownership;
pub mod report;
pub mod saga;
pub mod window;

pub use ids::{OperationKind, child_id, request_id};
pub use report::{ClusterCommon, ClusterOutcome, ClusterState, OperationReport, RequestState};
