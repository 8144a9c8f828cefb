//! cratectl-flow: cratectl's durable workflows and their activities.
//!
//! * [`engine`] — the thin engine trait and the duroxide (SQLite) adapter.
pub mod engine;
