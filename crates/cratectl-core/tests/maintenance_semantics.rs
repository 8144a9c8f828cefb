//! One test (or more) per semantic rule of maintenance windows, numbered as in the README
//! section "Maintenance windows → Semantics". The fixture of the Python rolling-restart tool's
//! tests (`tests/test_maintenance_windows.py` in WalBeh/crate-rolling-restart) is among them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratectl_core::maintenance::{Decision, LookupError, MaintenanceConfig, decide};
use jiff::Timestamp;

fn config(text: &str) -> MaintenanceConfig {
    match MaintenanceConfig::parse("test.toml", text) {
        Ok(config) => config,
        Err(errors) => panic!("config should be valid:\n{errors}"),
    }
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn check(config: &MaintenanceConfig, cluster: &str, at: &str) -> Decision {
    decide(config, cluster, ts(at), Duration::ZERO).unwrap()
}

fn is_open(config: &MaintenanceConfig, cluster: &str, at: &str) -> bool {
    check(config, cluster, at).in_window
}

fn next_start(config: &MaintenanceConfig, cluster: &str, at: &str) -> Option<Timestamp> {
    check(config, cluster, at).next_window.map(|w| w.start)
}

const WEEKDAY_EVENINGS: &str = r#"
[c]
min_window_duration = 0
[[c.windows]]
time = "18:00-22:00"
weekdays = ["mon", "tue", "wed"]
description = "Evening maintenance"
"#;

// Rule 1: wall-clock times in the cluster's zone; the end is exclusive; 24:00 ends the day.

#[test]
fn rule1_issue_example_weekday_evenings_in_utc() {
    let cfg = config(WEEKDAY_EVENINGS);
    // 2024-01-01 is a Monday.
    let inside = check(&cfg, "c", "2024-01-01T19:00:00Z");
    assert!(inside.in_window && !inside.should_wait);
    let window = inside.window.unwrap();
    assert_eq!(window.description, "Evening maintenance");
    assert_eq!(
        (window.start, window.end),
        (ts("2024-01-01T18:00:00Z"), Some(ts("2024-01-01T22:00:00Z")))
    );

    let before = check(&cfg, "c", "2024-01-01T17:00:00Z");
    assert!(!before.in_window && before.should_wait);
    assert_eq!(before.next_window.unwrap().start, ts("2024-01-01T18:00:00Z"));
    // Thursday is not a window day.
    assert!(!is_open(&cfg, "c", "2024-01-04T19:00:00Z"));
}

#[test]
fn rule1_issue_example_berlin_night_window() {
    let cfg = config(
        r#"
[c]
timezone = "Europe/Berlin"
[[c.windows]]
time = "02:00-04:00"
"#,
    );
    // 01:30Z is 02:30 CET.
    assert!(is_open(&cfg, "c", "2024-01-06T01:30:00Z"));
    // 02:30Z is 03:30 CET: still open; 03:00Z is 04:00 CET: closed.
    assert!(is_open(&cfg, "c", "2024-01-06T02:30:00Z"));
    assert!(!is_open(&cfg, "c", "2024-01-06T03:00:00Z"));
    // 00:30Z is 01:30 CET: not yet.
    assert!(!is_open(&cfg, "c", "2024-01-06T00:30:00Z"));
    assert_eq!(check(&cfg, "c", "2024-01-06T01:30:00Z").timezone, "Europe/Berlin");
}

#[test]
fn rule1_the_end_is_exclusive_and_24_00_is_the_end_of_the_day() {
    let cfg = config(WEEKDAY_EVENINGS);
    assert!(is_open(&cfg, "c", "2024-01-01T21:59:59.999Z"));
    assert!(!is_open(&cfg, "c", "2024-01-01T22:00:00Z"));
    assert!(
        is_open(&cfg, "c", "2024-01-01T18:00:00Z"),
        "the start is inclusive"
    );

    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "18:00-24:00"
weekdays = "mon"
"#,
    );
    assert!(is_open(&cfg, "c", "2024-01-01T23:59:59Z"));
    assert!(!is_open(&cfg, "c", "2024-01-02T00:00:00Z"));
    assert_eq!(
        check(&cfg, "c", "2024-01-01T23:00:00Z").window.unwrap().end,
        Some(ts("2024-01-02T00:00:00Z"))
    );
}

// Rule 2: a range with end <= start crosses midnight and belongs to the day it starts on.

#[test]
fn rule2_issue_example_friday_night_is_open_on_saturday_morning() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "23:00-01:00"
weekdays = ["fri"]
"#,
    );
    // 2024-01-05 is a Friday.
    assert!(is_open(&cfg, "c", "2024-01-05T23:30:00Z"));
    assert!(
        is_open(&cfg, "c", "2024-01-06T00:30:00Z"),
        "Saturday 00:30 belongs to Friday's window"
    );
    assert!(
        !is_open(&cfg, "c", "2024-01-05T00:30:00Z"),
        "Friday 00:30 belongs to Thursday, which has none"
    );
    assert!(!is_open(&cfg, "c", "2024-01-06T01:00:00Z"));
    let w = check(&cfg, "c", "2024-01-06T00:30:00Z").window.unwrap();
    assert_eq!(
        (w.start, w.end),
        (ts("2024-01-05T23:00:00Z"), Some(ts("2024-01-06T01:00:00Z")))
    );
}

#[test]
fn rule2_ordinal_rules_are_evaluated_on_the_start_day() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "23:00-01:00"
ordinal_days = "last fri"
"#,
    );
    assert!(
        is_open(&cfg, "c", "2024-01-26T23:30:00Z"),
        "last Friday of January 2024"
    );
    assert!(
        is_open(&cfg, "c", "2024-01-27T00:30:00Z"),
        "after midnight, still the last Friday's window"
    );
    assert!(!is_open(&cfg, "c", "2024-01-05T23:30:00Z"), "first Friday");
    // The last Friday of May 2024 is the 31st: its window runs into June 1st.
    assert!(is_open(&cfg, "c", "2024-06-01T00:30:00Z"));
}

#[test]
fn rule2_start_equal_to_end_is_rejected() {
    let errors =
        MaintenanceConfig::parse("t.toml", "[c]\n[[c.windows]]\ntime = \"10:00-10:00\"\n").unwrap_err();
    assert!(errors.to_string().contains("ambiguous"), "{errors}");
}

// Rule 3: weekdays AND ordinal_days; neither: every day; windows OR'ed; 5th may not exist.

#[test]
fn rule3_weekdays_and_ordinals_must_both_hold() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "15:00-17:00"
weekdays = ["tue", "thu"]
ordinal_days = ["2nd tue", "2nd wed"]
"#,
    );
    assert!(is_open(&cfg, "c", "2024-01-09T16:00:00Z"), "2nd Tuesday");
    assert!(
        !is_open(&cfg, "c", "2024-01-10T16:00:00Z"),
        "2nd Wednesday, but Wednesday is not in weekdays"
    );
    assert!(!is_open(&cfg, "c", "2024-01-16T16:00:00Z"), "3rd Tuesday");
    assert!(
        !is_open(&cfg, "c", "2024-01-11T16:00:00Z"),
        "Thursday, but not a listed ordinal"
    );
}

#[test]
fn rule3_no_day_rule_means_every_day_and_windows_are_ored() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "01:00-02:00"
[[c.windows]]
time = "15:00-17:00"
ordinal_days = ["2nd tue", "4th thu"]
"#,
    );
    for day in 1..=31 {
        assert!(
            is_open(&cfg, "c", &format!("2024-01-{day:02}T01:30:00Z")),
            "day {day}"
        );
    }
    assert!(is_open(&cfg, "c", "2024-01-09T16:00:00Z"));
    assert!(is_open(&cfg, "c", "2024-01-25T16:00:00Z"));
    assert!(!is_open(&cfg, "c", "2024-01-16T16:00:00Z"));
}

#[test]
fn rule3_a_fifth_weekday_does_not_exist_in_months_with_four() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "10:00-11:00"
ordinal_days = ["5th thu"]
"#,
    );
    // February 2023 has four Thursdays; the next 5th Thursday is 2023-03-30.
    assert_eq!(
        next_start(&cfg, "c", "2023-02-01T00:00:00Z"),
        Some(ts("2023-03-30T10:00:00Z"))
    );
    // February 2024 has five (the 29th).
    assert_eq!(
        next_start(&cfg, "c", "2024-02-01T00:00:00Z"),
        Some(ts("2024-02-29T10:00:00Z"))
    );
}

// Rule 4: DST — a start in a gap begins after the gap, a repeated time means the first one, an
// occurrence keeps its wall-clock end.

fn window_on(cfg: &MaintenanceConfig, before: &str) -> (Timestamp, Timestamp) {
    let next = check(cfg, "c", before).next_window.unwrap();
    (next.start, next.end.unwrap())
}

#[test]
fn rule4_spring_forward_starts_after_the_gap_and_keeps_the_wall_clock_end() {
    let cfg = config("[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"02:30-04:00\"\n");
    // 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00Z). 02:30 does not exist.
    let (start, end) = window_on(&cfg, "2024-03-30T23:00:00Z");
    assert_eq!(start, ts("2024-03-31T01:00:00Z"), "first instant after the gap");
    assert_eq!(end, ts("2024-03-31T02:00:00Z"), "04:00 CEST");
}

#[test]
fn rule4_fall_back_means_the_first_occurrence() {
    let cfg = config("[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"02:30-04:00\"\n");
    // 2024-10-27: 03:00 CEST falls back to 02:00 CET. 02:30 happens at 00:30Z and 01:30Z.
    let (start, end) = window_on(&cfg, "2024-10-26T23:00:00Z");
    assert_eq!(start, ts("2024-10-27T00:30:00Z"));
    assert_eq!(
        end,
        ts("2024-10-27T03:00:00Z"),
        "04:00 CET: the occurrence is 2.5 h long"
    );
    // A window that ends in the repeated hour ends at its first occurrence too.
    let cfg = config("[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"01:00-02:30\"\n");
    let (start, end) = window_on(&cfg, "2024-10-26T22:00:00Z");
    assert_eq!(
        (start, end),
        (ts("2024-10-26T23:00:00Z"), ts("2024-10-27T00:30:00Z"))
    );
}

#[test]
fn rule4_thirty_minute_dst_on_lord_howe() {
    let cfg = config("[c]\ntimezone = \"Australia/Lord_Howe\"\n[[c.windows]]\ntime = \"02:00-03:00\"\n");
    // 2024-10-06: 02:00 (+10:30) jumps to 02:30 (+11) at 15:30Z on the 5th.
    let (start, end) = window_on(&cfg, "2024-10-05T14:00:00Z");
    assert_eq!(
        (start, end),
        (ts("2024-10-05T15:30:00Z"), ts("2024-10-05T16:00:00Z"))
    );
    // 2024-04-07: 02:00 (+11) falls back to 01:30 (+10:30) at 15:00Z on the 6th; 01:30-02:00
    // happens twice, 02:00 once.
    let cfg = config("[c]\ntimezone = \"Australia/Lord_Howe\"\n[[c.windows]]\ntime = \"01:30-02:30\"\n");
    let (start, end) = window_on(&cfg, "2024-04-06T14:00:00Z");
    assert_eq!(start, ts("2024-04-06T14:30:00Z"), "the first 01:30 (+11)");
    assert_eq!(end, ts("2024-04-06T16:00:00Z"), "02:30 (+10:30)");
}

#[test]
fn rule4_southern_hemisphere_midnight_transitions_in_santiago() {
    // Chile springs forward at 24:00 -> 01:00 (2024-09-08, 04:00Z): midnight does not exist.
    let cfg = config("[c]\ntimezone = \"America/Santiago\"\n[[c.windows]]\ntime = \"00:00-02:00\"\n");
    let (start, end) = window_on(&cfg, "2024-09-08T02:00:00Z");
    assert_eq!(
        (start, end),
        (ts("2024-09-08T04:00:00Z"), ts("2024-09-08T05:00:00Z"))
    );
    // It falls back at 24:00 -> 23:00 (2024-04-07, 03:00Z): 23:00-24:00 on the 6th happens twice.
    let cfg = config(
        "[c]\ntimezone = \"America/Santiago\"\n[[c.windows]]\ntime = \"23:30-00:30\"\nweekdays = \"sat\"\n",
    );
    let (start, end) = window_on(&cfg, "2024-04-06T12:00:00Z");
    assert_eq!(start, ts("2024-04-07T02:30:00Z"), "the first 23:30 (-03)");
    assert_eq!(end, ts("2024-04-07T04:30:00Z"), "00:30 (-04) on Sunday");
    // Saturday's window, so it is open during the repeated hour on the Saturday side.
    assert!(is_open(&cfg, "c", "2024-04-07T03:45:00Z"));
}

#[test]
fn rule4_a_window_inside_the_skipped_hour_does_not_occur_that_day() {
    let cfg = config("[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"02:10-02:50\"\n");
    // The next occurrence after the evening of 2024-03-30 is on April 1st, not March 31st.
    let (start, _) = window_on(&cfg, "2024-03-30T12:00:00Z");
    assert_eq!(start, ts("2024-04-01T00:10:00Z"));
}

// Rule 5: blackouts win over windows.

const WITH_BLACKOUT: &str = r#"
[c]
timezone = "Europe/Berlin"
min_window_duration = 0
[[c.windows]]
time = "18:00-22:00"
[[c.blackouts]]
start = 2024-12-24T00:00:00
end = "2024-12-26T20:00:00"
reason = "Christmas"
"#;

#[test]
fn rule5_no_window_is_open_during_a_blackout() {
    let cfg = config(WITH_BLACKOUT);
    assert!(is_open(&cfg, "c", "2024-12-23T18:00:00Z"));
    let inside = check(&cfg, "c", "2024-12-24T18:00:00Z");
    assert!(!inside.in_window && inside.should_wait);
    assert!(inside.reason.contains("Christmas"), "{}", inside.reason);
    let blackout = inside.blackout.unwrap();
    assert_eq!(blackout.reason, "Christmas");
    assert_eq!(blackout.end, ts("2024-12-26T19:00:00Z"));
    // On the 26th the window opens when the blackout ends (20:00 CET = 19:00Z), not at 18:00.
    let next = inside.next_window.unwrap();
    assert_eq!(
        (next.start, next.end),
        (ts("2024-12-26T19:00:00Z"), Some(ts("2024-12-26T21:00:00Z")))
    );
    assert!(is_open(&cfg, "c", "2024-12-26T19:30:00Z"));
}

#[test]
fn rule5_a_blackout_that_starts_inside_a_window_cuts_it_short() {
    let cfg = config(
        r#"
[c]
min_window_duration = 30
[[c.windows]]
time = "18:00-22:00"
[[c.blackouts]]
start = "2024-06-01T19:00:00Z"
end = "2024-06-01T23:00:00Z"
"#,
    );
    let d = check(&cfg, "c", "2024-06-01T18:45:00Z");
    assert!(d.in_window && d.should_wait, "only 15 minutes until the blackout");
    assert_eq!(d.window.unwrap().end, Some(ts("2024-06-01T19:00:00Z")));
    assert_eq!(d.next_window.unwrap().start, ts("2024-06-02T18:00:00Z"));
}

#[test]
fn rule5_blackouts_apply_to_unrestricted_clusters_too() {
    let cfg = config(
        r#"
[c]
unrestricted = true
[[c.blackouts]]
start = "2024-06-01T00:00:00Z"
end = "2024-06-02T00:00:00Z"
"#,
    );
    let open = check(&cfg, "c", "2024-05-01T00:00:00Z");
    assert!(open.in_window && !open.should_wait);
    assert_eq!(
        open.window, None,
        "an unrestricted cluster has no window to report"
    );
    assert_eq!(open.open_until, Some(ts("2024-06-01T00:00:00Z")));
    let blocked = check(&cfg, "c", "2024-06-01T12:00:00Z");
    assert!(!blocked.in_window && blocked.should_wait);
    let next = blocked.next_window.unwrap();
    assert_eq!((next.start, next.end), (ts("2024-06-02T00:00:00Z"), None));
    let after = check(&cfg, "c", "2024-07-01T00:00:00Z");
    assert!(after.in_window && !after.should_wait && after.open_until.is_none());
}

// Rule 6: the next window is the earliest start strictly after the instant, 400+ days ahead.

#[test]
fn rule6_the_next_window_is_the_earliest_not_the_first_in_the_file() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "20:00-22:00"
[[c.windows]]
time = "10:00-12:00"
"#,
    );
    assert_eq!(
        next_start(&cfg, "c", "2024-01-01T08:00:00Z"),
        Some(ts("2024-01-01T10:00:00Z"))
    );
    // A window in progress is not "next": from 10:30 the next start is 20:00.
    assert_eq!(
        next_start(&cfg, "c", "2024-01-01T10:30:00Z"),
        Some(ts("2024-01-01T20:00:00Z"))
    );
    // Strictly after: at exactly 20:00 the next start is tomorrow's 10:00.
    assert_eq!(
        next_start(&cfg, "c", "2024-01-01T20:00:00Z"),
        Some(ts("2024-01-02T10:00:00Z"))
    );
}

#[test]
fn rule6_the_search_looks_at_least_400_days_ahead() {
    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "10:00-11:00"
[[c.blackouts]]
start = "2024-01-01T00:00:00Z"
end = "2025-01-30T00:00:00Z"
"#,
    );
    // 395 days of blackout: the next window is still found.
    assert_eq!(
        next_start(&cfg, "c", "2024-01-01T00:00:00Z"),
        Some(ts("2025-01-30T10:00:00Z"))
    );

    let cfg = config(
        r#"
[c]
[[c.windows]]
time = "10:00-11:00"
[[c.blackouts]]
start = "2024-01-01T00:00:00Z"
end = "2026-01-01T00:00:00Z"
"#,
    );
    let d = check(&cfg, "c", "2024-01-01T00:00:00Z");
    assert_eq!(d.next_window, None);
    assert!(d.should_wait);
    assert!(
        d.reason.contains("no window opens in the next 400 days"),
        "{}",
        d.reason
    );
}

// Rule 7: fail closed.

#[test]
fn rule7_a_cluster_without_a_table_or_defaults_is_an_error() {
    let cfg = config(WEEKDAY_EVENINGS);
    let err = decide(&cfg, "d", ts("2024-01-01T19:00:00Z"), Duration::ZERO).unwrap_err();
    let LookupError::UnknownCluster { cluster, .. } = &err;
    assert_eq!(cluster, "d");
    assert!(err.to_string().contains("no [defaults]"), "{err}");
    // A near miss is suggested.
    let cfg = config("[prod-eu]\n[[prod-eu.windows]]\ntime = \"01:00-02:00\"\n");
    let err = decide(&cfg, "prod-e", ts("2024-01-01T00:00:00Z"), Duration::ZERO).unwrap_err();
    assert!(err.to_string().contains("did you mean 'prod-eu'?"), "{err}");
}

#[test]
fn rule7_defaults_are_used_for_clusters_without_a_table() {
    let cfg = config(
        r#"
[defaults]
[[defaults.windows]]
time = "02:00-03:00"
[c]
[[c.windows]]
time = "10:00-11:00"
"#,
    );
    let d = check(&cfg, "other", "2024-01-01T02:30:00Z");
    assert!(d.in_window && d.from_defaults);
    assert_eq!(d.cluster, "other");
    // A cluster with its own table does not inherit the defaults' windows.
    let own = check(&cfg, "c", "2024-01-01T02:30:00Z");
    assert!(!own.in_window && !own.from_defaults);
}

#[test]
fn rule7_a_cluster_without_windows_must_say_unrestricted() {
    let errors = MaintenanceConfig::parse("t.toml", "[c]\ntimezone = \"UTC\"\n").unwrap_err();
    let text = errors.to_string();
    assert!(
        text.contains("t.toml:1:") && text.contains("cluster 'c'") && text.contains("unrestricted = true"),
        "{text}"
    );
    let errors = MaintenanceConfig::parse("t.toml", "[defaults]\nmin_window_duration = 10\n").unwrap_err();
    assert!(errors.to_string().contains("[defaults]"), "{errors}");
    let cfg = config("[c]\nunrestricted = true\n");
    let d = check(&cfg, "c", "2024-01-01T00:00:00Z");
    assert!(d.in_window && !d.should_wait && d.next_window.is_none());
}

// Rule 8: fit — with less than min_window_duration (or what the caller needs) left, wait.

#[test]
fn rule8_too_little_time_left_means_wait_for_the_next_window() {
    let cfg = config(
        r#"
[c]
min_window_duration = 30
[[c.windows]]
time = "18:00-22:00"
"#,
    );
    let late = check(&cfg, "c", "2024-01-01T21:45:00Z");
    assert!(late.in_window && late.should_wait);
    assert!(
        late.reason.contains("15m left, less than the 30m required"),
        "{}",
        late.reason
    );
    assert_eq!(late.next_window.unwrap().start, ts("2024-01-02T18:00:00Z"));
    // Exactly the minimum left is enough.
    assert!(!check(&cfg, "c", "2024-01-01T21:30:00Z").should_wait);
}

#[test]
fn rule8_the_caller_can_need_more_than_the_minimum() {
    let cfg = config("[c]\nmin_window_duration = 30\n[[c.windows]]\ntime = \"18:00-22:00\"\n");
    let at = ts("2024-01-01T21:00:00Z");
    assert!(
        !decide(&cfg, "c", at, Duration::from_secs(60 * 60))
            .unwrap()
            .should_wait
    );
    let d = decide(&cfg, "c", at, Duration::from_secs(90 * 60)).unwrap();
    assert!(d.should_wait);
    assert_eq!(d.required, Duration::from_secs(90 * 60));
    // A smaller need does not lower the configured minimum.
    assert_eq!(
        decide(&cfg, "c", at, Duration::from_secs(60)).unwrap().required,
        Duration::from_secs(30 * 60)
    );
}

#[test]
fn rule8_back_to_back_and_overlapping_windows_count_as_one_open_time() {
    let cfg = config(
        r#"
[c]
min_window_duration = 60
[[c.windows]]
time = "22:00-24:00"
[[c.windows]]
time = "00:00-01:30"
[[c.windows]]
time = "01:00-02:00"
"#,
    );
    let d = check(&cfg, "c", "2024-01-01T23:50:00Z");
    assert!(d.in_window && !d.should_wait, "{}", d.reason);
    assert_eq!(d.open_until, Some(ts("2024-01-02T02:00:00Z")));
}

// The fixture of the Python tool's tests (`tests/test_maintenance_windows.py` in
// WalBeh/crate-rolling-restart), decided by the new rules.

const OLD_FIXTURE: &str = r#"
[test-cluster]
timezone = "UTC"
min_window_duration = 30
[[test-cluster.windows]]
time = "18:00-22:00"
weekdays = ["mon", "tue", "wed"]
description = "Evening maintenance"
[[test-cluster.windows]]
time = "02:00-04:00"
weekdays = ["sat", "sun"]
description = "Weekend maintenance"
[[test-cluster.windows]]
time = "23:00-01:00"
ordinal_days = ["last fri"]
description = "Month-end maintenance"

[ordinal-cluster]
[[ordinal-cluster.windows]]
time = "15:00-17:00"
ordinal_days = ["2nd tue", "4th thu"]
"#;

#[test]
fn the_old_tools_fixture_under_the_new_rules() {
    let cfg = config(OLD_FIXTURE);
    assert!(is_open(&cfg, "test-cluster", "2024-01-06T03:00:00Z"));
    assert!(!is_open(&cfg, "test-cluster", "2024-01-06T05:00:00Z"));
    assert_eq!(
        next_start(&cfg, "test-cluster", "2024-01-03T23:00:00Z"),
        Some(ts("2024-01-06T02:00:00Z"))
    );
    assert_eq!(
        next_start(&cfg, "ordinal-cluster", "2024-01-01T12:00:00Z"),
        Some(ts("2024-01-09T15:00:00Z"))
    );
    let wait = check(&cfg, "test-cluster", "2024-01-04T19:00:00Z");
    assert!(
        wait.should_wait && wait.reason.contains("outside all maintenance windows"),
        "{}",
        wait.reason
    );
    assert!(wait.reason.contains("Evening maintenance") || wait.reason.contains("Weekend maintenance"));
}
