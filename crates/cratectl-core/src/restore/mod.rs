//! The pure decisions of restoring snapshots (`cratectl snapshot list`, `cratectl restore`).
//!
//! * [`snapshots`] — what `snapshot list` shows: repositories and their snapshots, newest
//!   first.
//! * [`input`] — the scope options parsed (tables, partitions, sections), the snapshot name
//!   rules, and the `RESTORE SNAPSHOT` statement.
//! * [`repository`] — the temporary repository from a Secret: key sets, the `CREATE
//!   REPOSITORY` statement with bind arguments only, and "is this existing one ours".
//! * [`plan`] — every check before anything is written, and the plan it yields.
//! * [`report`] — the restore's report (a contract).

pub mod input;
pub mod plan;
pub mod report;
pub mod repository;
pub mod snapshots;
