//! Does the next disruptive step fit in the maintenance window? An operation asks before every
//! step (a restart before each pod, a scale-down before each node it removes), so a cluster
//! stops at a step boundary when its window runs out and goes on in the next window, instead of
//! starting a disruption it cannot finish in time. The rules are the same for every operation;
//! only the noun in the messages ("pod data-hot-1 needs ~14 min") is the caller's.
//!
//! The windows are one cluster's [`Schedule`] from the maintenance file
//! (`MaintenanceConfig::schedule(cluster)`, the same lookup `cratectl maintenance check` and
//! `next` use), and every calendar question (in a window? when does the open time end? when
//! does the next window open?) is answered by the schedule itself, time zones, DST and blackouts
//! included. This module only adds the operations' rules on top:
//!
//! * A step needs its estimate ([`estimate_step_duration`]: the longest step observed on this
//!   cluster, else the plan's estimate), and at least the schedule's `min_window_duration`
//!   must be left, as for `maintenance check --needed` ([`Schedule::required`]). So a restart and
//!   `check` with the same need give the same answer.
//! * Inside a window with enough open time left (overlapping and back-to-back windows count as
//!   one open time): [`WindowDecision::Proceed`], with the end of that open time.
//! * Otherwise [`WindowDecision::WaitUntil`] the start of the first later opening whose open
//!   time is long enough for the pod; a shorter one would only make the restart wake up and wait
//!   again. When the current window is too short, the search starts after it ends.
//! * No opening long enough within [`HORIZON_DAYS`]: [`WindowDecision::NoWindowAhead`], which
//!   the workflow reports instead of waiting for ever.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::maintenance::{HORIZON_DAYS, Opening, Schedule};
use crate::text;

/// How long the next step is expected to take: the longest of the steps observed on this
/// cluster (conservative: a window cut short costs more than a wait), else `fallback`.
pub fn estimate_step_duration(observed: &[Duration], fallback: Duration) -> Duration {
    observed.iter().copied().max().unwrap_or(fallback)
}

/// What to do before the next pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum WindowDecision {
    /// Restart the pod now. `until` is the end of the open time it runs in; `None` when the
    /// schedule is open without end (unrestricted, no blackout ahead).
    Proceed { until: Option<Timestamp> },
    /// Wait until `at` (the start of an opening long enough for the pod), then decide again.
    WaitUntil { at: Timestamp, reason: String },
    /// No opening long enough within the look-ahead: waiting would never end.
    NoWindowAhead { reason: String },
}

impl WindowDecision {
    /// A short line for a report's `window` field: `in window until 2026-12-07T02:00:00Z`,
    /// `waiting for window until …`, `no window ahead`.
    pub fn summary(&self) -> String {
        match self {
            WindowDecision::Proceed { until: Some(until) } => {
                format!("in window until {}", text::instant(*until))
            }
            WindowDecision::Proceed { until: None } => "in window (open without end)".to_string(),
            WindowDecision::WaitUntil { at, .. } => {
                format!("waiting for window until {}", text::instant(*at))
            }
            WindowDecision::NoWindowAhead { .. } => "no window ahead".to_string(),
        }
    }

    pub fn is_proceed(&self) -> bool {
        matches!(self, WindowDecision::Proceed { .. })
    }
}

/// Decides whether a step that needs `needed` may start at `now` under `schedule` (rules in the
/// module documentation). `step` names it in the reasons (`pod data-hot-1`, `node data-hot-2`).
pub fn decide(schedule: &Schedule, now: Timestamp, needed: Duration, step: &str) -> WindowDecision {
    let required = schedule.required(needed);
    let need = need_text(step, needed, required);
    let near = schedule.near(now);
    if let Some(opening) = near.opening() {
        let Some(end) = near.open_until(opening) else {
            return WindowDecision::Proceed { until: None };
        };
        let left = end.duration_since(now);
        if left >= required {
            return WindowDecision::Proceed { until: Some(end) };
        }
        let closes = if schedule.unrestricted {
            format!("the next blackout starts at {}", text::instant(end))
        } else {
            format!(
                "window '{}' closes at {}",
                schedule.label_of(&opening),
                text::instant(end)
            )
        };
        let why = format!("{need} but {closes} ({} left)", text::span(left));
        return match first_fitting(schedule, end, now, required) {
            Found::Opening(next, _) => WindowDecision::WaitUntil {
                at: next.start,
                reason: format!(
                    "{why}; {}",
                    opens(schedule, &next, now, "the next window long enough")
                ),
            },
            Found::None { skipped } => no_window(&why, skipped),
        };
    }

    let why = match schedule.blackout_at(now) {
        Some(blackout) => format!(
            "blackout '{}' is in force until {}",
            blackout.label(),
            text::instant(schedule.after_blackouts(blackout.end))
        ),
        None => "outside the maintenance window".to_string(),
    };
    match first_fitting(schedule, now, now, required) {
        Found::Opening(next, None) => WindowDecision::WaitUntil {
            at: next.start,
            reason: format!("{why}; {}", opens(schedule, &next, now, "the next window")),
        },
        Found::Opening(next, Some(short)) => WindowDecision::WaitUntil {
            at: next.start,
            reason: format!(
                "{why}; {need}, more than the {} of the opening at {}; {}",
                text::span(short.open),
                text::instant(short.start),
                opens(schedule, &next, now, "the next window long enough")
            ),
        },
        Found::None { skipped } => no_window(&why, skipped),
    }
}

/// `pod needs ~14 min`, plus the minimum the file demands when that is more.
fn need_text(step: &str, needed: Duration, required: SignedDuration) -> String {
    let needed = SignedDuration::try_from(needed).unwrap_or(SignedDuration::MAX);
    if required > needed {
        format!(
            "{step} needs ~{} and {} must be left to start (min_window_duration)",
            text::span(needed),
            text::span(required)
        )
    } else {
        format!("{step} needs ~{}", text::span(needed))
    }
}

/// `next window 'Weeknight maintenance' opens at 2026-12-07T21:00:00Z (in 20 h)`.
fn opens(schedule: &Schedule, next: &Opening, now: Timestamp, what: &str) -> String {
    let label = if schedule.unrestricted {
        String::new()
    } else {
        format!(" '{}'", schedule.label_of(next))
    };
    format!(
        "{what}{label} opens at {} (in {})",
        text::instant(next.start),
        text::span(next.start.duration_since(now))
    )
}

fn no_window(why: &str, skipped: Option<Short>) -> WindowDecision {
    let detail = match skipped {
        Some(short) => format!(
            "no opening in the next {HORIZON_DAYS} days is long enough (the first, at {}, lasts {})",
            text::instant(short.start),
            text::span(short.open)
        ),
        None => format!("no window opens in the next {HORIZON_DAYS} days"),
    };
    WindowDecision::NoWindowAhead {
        reason: format!("{why}; {detail}"),
    }
}

/// An opening passed over because its open time is shorter than required.
#[derive(Clone, Copy, Debug)]
struct Short {
    start: Timestamp,
    open: SignedDuration,
}

enum Found {
    /// The first opening long enough, and the first shorter one passed over before it.
    Opening(Opening, Option<Short>),
    None {
        skipped: Option<Short>,
    },
}

/// The first opening that starts strictly after `after`, no later than [`HORIZON_DAYS`] after
/// `now`, whose continuous open time lasts at least `required`.
fn first_fitting(schedule: &Schedule, after: Timestamp, now: Timestamp, required: SignedDuration) -> Found {
    let limit = now
        .saturating_add(SignedDuration::from_hours(24 * i64::from(HORIZON_DAYS)))
        .unwrap_or(Timestamp::MAX);
    let mut skipped: Option<Short> = None;
    let mut t = after;
    while let Some(next) = schedule.next_opening(t) {
        if next.start > limit {
            break;
        }
        let Some(end) = schedule.open_until_from(next.start, next) else {
            return Found::Opening(next, skipped);
        };
        let open = end.duration_since(next.start);
        if open >= required {
            return Found::Opening(next, skipped);
        }
        skipped.get_or_insert(Short {
            start: next.start,
            open,
        });
        // The open time is merged, so nothing opens again before `end`.
        if end <= t {
            break;
        }
        t = end;
    }
    Found::None { skipped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maintenance::{MaintenanceConfig, SAMPLE_CONFIG, decide_for};
    use proptest::prelude::*;

    const MIN: Duration = Duration::from_secs(60);

    fn config(text: &str) -> MaintenanceConfig {
        match MaintenanceConfig::parse("test.toml", text) {
            Ok(config) => config,
            Err(errors) => panic!("config should be valid:\n{errors}"),
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    // 2026-12-07 is a Monday.
    const NIGHTS: &str = r#"
[c]
timezone = "UTC"
min_window_duration = 0
[[c.windows]]
time = "01:00-02:00"
description = "Night"
[[c.windows]]
time = "03:00-03:10"
description = "Short"
[[c.windows]]
time = "05:00-05:30"
weekdays = ["mon"]
description = "Monday"
"#;

    fn decide_in(text: &str, now: &str, needed: Duration) -> WindowDecision {
        let config = config(text);
        let (schedule, _) = config.schedule("c").unwrap();
        decide(schedule, ts(now), needed, "pod")
    }

    #[test]
    fn estimates_are_conservative() {
        let fallback = Duration::from_secs(900);
        assert_eq!(estimate_step_duration(&[], fallback), fallback);
        assert_eq!(
            estimate_step_duration(&[60 * MIN, 2 * MIN, 5 * MIN], fallback),
            60 * MIN
        );
        assert_eq!(estimate_step_duration(&[2 * MIN], fallback), 2 * MIN);
    }

    #[test]
    fn inside_with_time_left_proceeds_until_the_window_ends() {
        let decision = decide_in(NIGHTS, "2026-12-07T01:10:00Z", 14 * MIN);
        assert_eq!(
            decision,
            WindowDecision::Proceed {
                until: Some(ts("2026-12-07T02:00:00Z"))
            }
        );
        assert_eq!(decision.summary(), "in window until 2026-12-07T02:00:00Z");
        // Exactly enough is enough.
        assert!(decide_in(NIGHTS, "2026-12-07T01:46:00Z", 14 * MIN).is_proceed());
    }

    #[test]
    fn inside_without_time_left_waits_for_a_window_long_enough() {
        // 9 minutes left of "Night"; "Short" (03:00-03:10) is too short for 14 minutes, so the
        // wait is for Monday's 05:00.
        let decision = decide_in(NIGHTS, "2026-12-07T01:51:00Z", 14 * MIN);
        let WindowDecision::WaitUntil { at, reason } = &decision else {
            panic!("{decision:?}");
        };
        assert_eq!(*at, ts("2026-12-07T05:00:00Z"));
        assert_eq!(
            reason,
            "pod needs ~14m but window 'Night' closes at 2026-12-07T02:00:00Z (9m left); \
             the next window long enough 'Monday' opens at 2026-12-07T05:00:00Z (in 3h09m)"
        );
        assert_eq!(
            decision.summary(),
            "waiting for window until 2026-12-07T05:00:00Z"
        );
        // A pod short enough for "Short" waits only for it.
        let decision = decide_in(NIGHTS, "2026-12-07T01:55:00Z", 8 * MIN);
        assert!(
            matches!(&decision, WindowDecision::WaitUntil { at, .. } if *at == ts("2026-12-07T03:00:00Z")),
            "{decision:?}"
        );
    }

    #[test]
    fn outside_waits_for_the_next_window() {
        let decision = decide_in(NIGHTS, "2026-12-07T00:30:00Z", 14 * MIN);
        assert_eq!(
            decision,
            WindowDecision::WaitUntil {
                at: ts("2026-12-07T01:00:00Z"),
                reason: "outside the maintenance window; the next window 'Night' opens at \
                         2026-12-07T01:00:00Z (in 30m)"
                    .into()
            }
        );
        // Between "Night" and "Short", needing more than "Short" gives: Monday 05:00, and why.
        let decision = decide_in(NIGHTS, "2026-12-07T02:30:00Z", 14 * MIN);
        let WindowDecision::WaitUntil { at, reason } = &decision else {
            panic!("{decision:?}");
        };
        assert_eq!(*at, ts("2026-12-07T05:00:00Z"));
        assert!(
            reason.starts_with(
                "outside the maintenance window; pod needs ~14m, more than the 10m of the \
                 opening at 2026-12-07T03:00:00Z; the next window long enough 'Monday' opens at"
            ),
            "{reason}"
        );
    }

    #[test]
    fn min_window_duration_counts_as_in_maintenance_check() {
        let text = NIGHTS.replace("min_window_duration = 0", "min_window_duration = 30");
        // 20 minutes left, pod needs 5: the file demands 30 to start.
        let decision = decide_in(&text, "2026-12-07T01:40:00Z", 5 * MIN);
        let WindowDecision::WaitUntil { at, reason } = &decision else {
            panic!("{decision:?}");
        };
        assert_eq!(*at, ts("2026-12-07T05:00:00Z"));
        assert!(
            reason.starts_with(
                "pod needs ~5m and 30m must be left to start (min_window_duration) but window \
                 'Night' closes at 2026-12-07T02:00:00Z (20m left)"
            ),
            "{reason}"
        );
    }

    #[test]
    fn back_to_back_windows_are_one_open_time() {
        let text = r#"
[c]
timezone = "UTC"
min_window_duration = 0
[[c.windows]]
time = "22:00-24:00"
[[c.windows]]
time = "00:00-02:00"
"#;
        assert_eq!(
            decide_in(text, "2026-12-07T23:30:00Z", 90 * MIN),
            WindowDecision::Proceed {
                until: Some(ts("2026-12-08T02:00:00Z"))
            }
        );
    }

    #[test]
    fn a_blackout_is_named() {
        let text = r#"
[c]
timezone = "UTC"
min_window_duration = 0
[[c.windows]]
time = "01:00-02:00"
[[c.blackouts]]
start = "2026-12-06T00:00:00Z"
end = "2026-12-08T00:00:00Z"
reason = "Freeze"
"#;
        let decision = decide_in(text, "2026-12-07T01:30:00Z", MIN);
        let WindowDecision::WaitUntil { at, reason } = &decision else {
            panic!("{decision:?}");
        };
        assert_eq!(*at, ts("2026-12-08T01:00:00Z"));
        assert!(
            reason.starts_with("blackout 'Freeze' is in force until 2026-12-08T00:00:00Z; the next window"),
            "{reason}"
        );
    }

    #[test]
    fn unrestricted_proceeds_until_the_next_blackout_or_for_ever() {
        let text = r#"
[c]
unrestricted = true
min_window_duration = 0
[[c.blackouts]]
start = "2026-12-08T00:00:00Z"
end = "2026-12-09T00:00:00Z"
"#;
        assert_eq!(
            decide_in(text, "2026-12-07T12:00:00Z", MIN),
            WindowDecision::Proceed {
                until: Some(ts("2026-12-08T00:00:00Z"))
            }
        );
        let late = decide_in(text, "2026-12-07T23:55:00Z", 10 * MIN);
        let WindowDecision::WaitUntil { at, reason } = &late else {
            panic!("{late:?}");
        };
        assert_eq!(*at, ts("2026-12-09T00:00:00Z"));
        assert!(
            reason.contains("the next blackout starts at 2026-12-08T00:00:00Z (5m left)"),
            "{reason}"
        );
        let always = decide_in(text, "2026-12-10T00:00:00Z", MIN);
        assert_eq!(always, WindowDecision::Proceed { until: None });
        assert_eq!(always.summary(), "in window (open without end)");
    }

    #[test]
    fn no_window_long_enough_is_said_not_waited_for() {
        let decision = decide_in(NIGHTS, "2026-12-07T00:30:00Z", 3 * 60 * MIN);
        let WindowDecision::NoWindowAhead { reason } = &decision else {
            panic!("{decision:?}");
        };
        assert!(
            reason.starts_with(
                "outside the maintenance window; no opening in the next 400 days is long enough \
                 (the first, at 2026-12-07T01:00:00Z, lasts 1h)"
            ),
            "{reason}"
        );
        assert_eq!(decision.summary(), "no window ahead");
    }

    #[test]
    fn decisions_serialize_tagged() {
        let json = serde_json::to_value(WindowDecision::WaitUntil {
            at: ts("2026-12-07T02:00:00Z"),
            reason: "r".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"decision": "wait_until", "at": "2026-12-07T02:00:00Z", "reason": "r"})
        );
    }

    fn sample() -> MaintenanceConfig {
        config(SAMPLE_CONFIG)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Proceed exactly when `maintenance check` with the same need says "don't wait", across
        /// the sample's zones (Berlin and New York DST included), blackouts and merged windows.
        #[test]
        fn agrees_with_maintenance_check(
            cluster in prop::sample::select(vec!["prod-eu", "analytics-us", "defaults", "dev-scratch"]),
            offset_min in 0i64..(2 * 366 * 24 * 60),
            needed_min in 0u64..(8 * 60),
        ) {
            let config = sample();
            let (schedule, _) = config.schedule(cluster).unwrap();
            let now = ts("2026-01-01T00:00:00Z") + SignedDuration::from_mins(offset_min);
            let needed = Duration::from_secs(needed_min * 60);
            let ours = decide(schedule, now, needed, "pod");
            let check = decide_for(schedule, cluster, false, now, needed);
            prop_assert_eq!(ours.is_proceed(), !check.should_wait, "{:?} vs {}", ours, check.reason);
            if let WindowDecision::Proceed { until } = ours {
                prop_assert_eq!(until, check.open_until);
            }
        }

        /// Waiting until the decided instant is enough: deciding again then proceeds.
        #[test]
        fn waiting_until_the_answer_then_proceeds(
            cluster in prop::sample::select(vec!["prod-eu", "analytics-us", "defaults"]),
            offset_min in 0i64..(2 * 366 * 24 * 60),
            needed_min in 0u64..(6 * 60),
        ) {
            let config = sample();
            let (schedule, _) = config.schedule(cluster).unwrap();
            let now = ts("2026-01-01T00:00:00Z") + SignedDuration::from_mins(offset_min);
            let needed = Duration::from_secs(needed_min * 60);
            if let WindowDecision::WaitUntil { at, .. } = decide(schedule, now, needed, "pod") {
                prop_assert!(at > now);
                let again = decide(schedule, at, needed, "pod");
                prop_assert!(again.is_proceed(), "at {}: {:?}", at, again);
            }
        }
    }
}
