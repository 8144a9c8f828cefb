//! Calendar-grade maintenance windows.
//!
//! A maintenance file (TOML) gives each cluster a time zone, recurring windows written in
//! wall-clock time, and blackouts. This module answers, purely and deterministically, whether a
//! disruption may start at a given instant and, if not, when the next window opens.
//!
//! How the pieces fit, in the order data flows:
//!
//! * [`spec`] — the small value types (`18:00-22:00`, `2nd tue`, `PRIMARIES`) and their parsers;
//! * [`load`] — TOML text to a validated [`MaintenanceConfig`], reporting every problem with
//!   file, line, cluster, window index, key and value;
//! * [`calendar`] — window rules to concrete occurrences, including the one DST rule;
//! * [`schedule`] — one cluster's occurrences with blackouts cut out ("openings"), and the
//!   questions asked of them;
//! * [`decide`] — the decision a workflow acts on: in window, should wait, why, and until when.
//!
//! The exact semantics are listed in the README ("Maintenance windows") and each one has a test
//! in `tests/maintenance_semantics.rs`.

pub mod calendar;
pub mod config;
pub mod decide;
pub mod load;
pub mod sample;
pub mod schedule;
pub mod spec;

pub use calendar::{Occurrence, Window, resolve_local};
pub use config::{ConfigError, ConfigErrors, DEFAULTS_TABLE, LookupError, MaintenanceConfig, closest};
pub use decide::{BlackoutRef, Decision, WindowRef, decide, decide_for};
pub use load::parse_instant;
pub use sample::SAMPLE_CONFIG;
pub use schedule::{Blackout, HORIZON_DAYS, Opening, Schedule};
pub use spec::{MinAvailability, OrdinalDay, TimeOfDay, TimeRange, WeekdaySet};
