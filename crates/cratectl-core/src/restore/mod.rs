//! The pure decisions of restoring snapshots (`cratectl snapshot list`, `cratectl restore`).
//!
//! * [`snapshots`] — what `snapshot list` shows: repositories and their snapshots, newest
//!   first.

pub mod snapshots;
