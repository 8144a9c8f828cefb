//! The commented sample that `cratectl maintenance create-config` writes. It is also shipped as
//! `examples/maintenance-windows.toml`; a test keeps the two identical and checks that the
//! sample passes validation.

/// A complete, valid maintenance file that explains every key.
pub const SAMPLE_CONFIG: &str = r#"# cratectl maintenance windows
#
# Every top-level table is a cluster, named as cratectl names it: the CrateDB resource's
# spec.cluster.name, else its metadata.name. A cluster without a table uses [defaults];
# without [defaults] it is refused (cratectl never proceeds "without restrictions").
#
# Semantics (the README has them in full):
#  - times are wall-clock times in the cluster's time zone; the end is exclusive and 24:00 is
#    the end of the day;
#  - a range whose end is not after its start (23:00-01:00) crosses midnight and belongs to the
#    day it starts on: weekdays and ordinal_days are checked on that day;
#  - weekdays and ordinal_days together: both must hold; neither: every day; windows of one
#    cluster add up (OR);
#  - on DST days a start that does not exist begins right after the gap, a time that happens
#    twice means the first time, and an occurrence keeps its wall-clock end;
#  - blackouts win over windows;
#  - with less than min_window_duration minutes left in a window, cratectl waits for the next.

# Used for every cluster that has no table of its own. Remove it to make unknown clusters an
# error.
[defaults]
timezone = "UTC"
min_window_duration = 30          # minutes that must be left in a window to start a node

[[defaults.windows]]
time = "02:00-05:00"
weekdays = ["sat", "sun"]
description = "Weekend night"

# A production cluster in Berlin: weeknights, plus a longer slot once a month.
[prod-eu]
timezone = "Europe/Berlin"        # IANA name; DST is handled as described above
min_window_duration = 60
dc_util_timeout = 900             # seconds the dc_util preStop hook may take
min_availability = "PRIMARIES"    # graceful_stop.min_availability: NONE, PRIMARIES or FULL

[[prod-eu.windows]]
time = "22:00-02:00"              # crosses midnight: Friday's window ends Saturday 02:00
weekdays = "mon,tue,wed,thu,fri"  # a list, or one comma-separated string
description = "Weeknight maintenance"

[[prod-eu.windows]]
time = "10:00-16:00"
ordinal_days = ["2nd sat", "last sun"]   # 1st..5th (or first..fifth) or last, plus a weekday
description = "Monthly long slot"

# No window opens during a blackout. Bounds are local date-times in the cluster's zone, or
# RFC 3339 with an offset; quoted strings and TOML date-times both work. The end is exclusive.
[[prod-eu.blackouts]]
start = 2026-12-19T00:00:00
end = 2027-01-04T00:00:00
reason = "Year-end change freeze"

[[prod-eu.blackouts]]
start = "2026-11-27T00:00:00-05:00"
end = "2026-11-30T12:00:00Z"
reason = "Black Friday"

# A cluster in New York with one evening window on Tuesdays and Thursdays.
[analytics-us]
timezone = "America/New_York"
min_window_duration = 45
min_availability = "full"

[[analytics-us.windows]]
time = "19:00-23:30"
weekdays = ["Tuesday", "Thursday"]
description = "Evening window"

# A scratch cluster that may be disrupted at any time (blackouts would still apply).
[dev-scratch]
unrestricted = true
"#;
