//! The maintenance decision: may a disruption start at `at`, and if not, until when to wait.
//!
//! This is the one function workflows call ([`decide`]); `cratectl maintenance check` prints its
//! result. It is pure: the same configuration, cluster, instant and need give the same answer,
//! which is what a durable workflow needs when it replays.

use std::time::Duration;

use jiff::Timestamp;

use super::config::{LookupError, MaintenanceConfig};
use super::schedule::{HORIZON_DAYS, Opening, Schedule};
use crate::text;

/// A window as reported to users: the opening's label and its instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowRef {
    pub description: String,
    pub start: Timestamp,
    /// `None` only for an unrestricted cluster with no later blackout.
    pub end: Option<Timestamp>,
}

/// A blackout as reported to users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlackoutRef {
    pub reason: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The answer to "may a disruption start now?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The cluster the question was about.
    pub cluster: String,
    /// True when the cluster has no table of its own and `[defaults]` was used.
    pub from_defaults: bool,
    pub at: Timestamp,
    /// IANA name of the zone the windows are written in.
    pub timezone: String,
    /// True when a window (or, unrestricted, no blackout) is open at `at`.
    pub in_window: bool,
    /// True when the caller must not start now.
    pub should_wait: bool,
    /// One sentence a person can act on.
    pub reason: String,
    /// The opening that contains `at`; `None` when closed, and for an unrestricted cluster.
    pub window: Option<WindowRef>,
    /// The earliest opening that starts strictly after `at`.
    pub next_window: Option<WindowRef>,
    /// End of the continuous open time containing `at` (overlapping and back-to-back windows
    /// merged); `None` when closed, or when open with no end (unrestricted, no blackout ahead).
    pub open_until: Option<Timestamp>,
    /// The blackout in force at `at`.
    pub blackout: Option<BlackoutRef>,
    /// The open time that must be left to start: max(`min_window_duration`, needed).
    pub required: Duration,
}

/// Decides whether a disruption that needs `needed` may start on `cluster` at `at`.
///
/// Errors only when the cluster has no table and the file has no `[defaults]` (fail closed).
pub fn decide(
    config: &MaintenanceConfig,
    cluster: &str,
    at: Timestamp,
    needed: Duration,
) -> Result<Decision, LookupError> {
    let (schedule, from_defaults) = config.schedule(cluster)?;
    Ok(decide_for(schedule, cluster, from_defaults, at, needed))
}

/// [`decide`] for a schedule already looked up.
pub fn decide_for(
    schedule: &Schedule,
    cluster: &str,
    from_defaults: bool,
    at: Timestamp,
    needed: Duration,
) -> Decision {
    let required = schedule.required(needed);
    let to_ref = |opening: &Opening| WindowRef {
        description: schedule.label_of(opening),
        start: opening.start,
        end: opening.end,
    };
    let near = schedule.near(at);
    let opening = near.opening();
    let next = near.next_opening();
    let blackout = schedule.blackout_at(at).map(|b| BlackoutRef {
        reason: b.label(),
        start: b.start,
        end: schedule.after_blackouts(b.end).max(b.end),
    });
    let open_until = opening.and_then(|o| near.open_until(o));
    let next_text = || match &next {
        Some(n) => format!(
            "next window '{}' opens at {} ({})",
            schedule.label_of(n),
            text::instant(n.start),
            text::span(n.start.duration_since(at))
        ),
        None => format!(
            "no window opens in the next {HORIZON_DAYS} days; waiting until the configuration changes"
        ),
    };

    let (should_wait, reason) = match (&opening, &blackout) {
        (_, Some(b)) => (
            true,
            format!(
                "blackout '{}' is in force until {}; {}",
                b.reason,
                text::instant(b.end),
                next_text()
            ),
        ),
        (None, None) => (true, format!("outside all maintenance windows; {}", next_text())),
        (Some(open), None) => {
            let what = if schedule.unrestricted {
                "unrestricted (always open outside blackouts)".to_string()
            } else {
                format!("inside window '{}'", schedule.label_of(open))
            };
            match open_until {
                None => (false, format!("{what}; no blackout ahead")),
                Some(until) => {
                    let left = until.duration_since(at);
                    let closes = if schedule.unrestricted {
                        "the next blackout starts"
                    } else {
                        "open time ends"
                    };
                    if left >= required {
                        (
                            false,
                            format!(
                                "{what}; {closes} at {}, {} left, {} required",
                                text::instant(until),
                                text::span(left),
                                text::span(required)
                            ),
                        )
                    } else {
                        (
                            true,
                            format!(
                                "{what}, but {closes} at {}, {} left, less than the {} required; {}",
                                text::instant(until),
                                text::span(left),
                                text::span(required),
                                next_text()
                            ),
                        )
                    }
                }
            }
        }
    };

    Decision {
        cluster: cluster.to_string(),
        from_defaults,
        at,
        timezone: schedule.timezone_name.clone(),
        in_window: opening.is_some(),
        should_wait,
        reason,
        window: opening.filter(|o| o.occurrence.is_some()).as_ref().map(to_ref),
        next_window: next.as_ref().map(to_ref),
        open_until,
        blackout,
        required: required.unsigned_abs(),
    }
}
