//! Property tests for the maintenance-window model.
//!
//! Random but valid maintenance files are generated as TOML *text* and read with
//! [`MaintenanceConfig::parse`], so the loader is exercised on every case. The answers of the
//! [`Schedule`] are then compared with brute-force models built here, independently of the
//! library where that is practical:
//!
//! * which days a window occurs on (weekday and ordinal rules evaluated by counting days);
//! * how a blackout cuts an occurrence (plain interval subtraction);
//! * the DST rule, characterised as "the earliest instant whose wall-clock time is at or after
//!   the requested local time".
//!
//! Instants are drawn from 2023–2026 and deliberately biased towards the DST transitions of the
//! generated zone and towards the boundaries of occurrences and blackouts.
//!
//! The second half feeds arbitrary bytes, TOML-like text and mutated samples to the parsers:
//! they may return `Ok` or `Err`, but must never panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;
use std::time::Duration;

use cratectl_core::maintenance::{
    MaintenanceConfig, MinAvailability, OrdinalDay, SAMPLE_CONFIG, Schedule, TimeOfDay, TimeRange, decide,
    decide_for, parse_instant, resolve_local,
};
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// Zones and their DST transitions
// ---------------------------------------------------------------------------------------------

/// The zones configs are generated in: no DST, northern DST at 02:00/03:00, 30-minute DST,
/// southern-hemisphere DST at midnight, US DST, a half-hour offset without DST, and Samoa,
/// which skipped the whole of 2011-12-30 (its transitions are taken from 2011, the only zone
/// whose biased instants lie outside 2023–2026).
const ZONES: [&str; 7] = [
    "UTC",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/New_York",
    "Asia/Kolkata",
    "Pacific/Apia",
];

struct Zone {
    name: &'static str,
    tz: TimeZone,
    /// Transitions from December 2022 to January 2027 (2011 for Samoa).
    transitions: Vec<Timestamp>,
}

static ZONE_INFO: LazyLock<Vec<Zone>> = LazyLock::new(|| {
    ZONES
        .iter()
        .map(|name| {
            let (from, until) = if *name == "Pacific/Apia" {
                (ts("2011-01-01T00:00:00Z"), ts("2012-01-01T00:00:00Z"))
            } else {
                (ts("2022-12-01T00:00:00Z"), ts("2027-02-01T00:00:00Z"))
            };
            let tz = TimeZone::get(name).unwrap();
            let transitions = tz
                .following(from)
                .map(|transition| transition.timestamp())
                .take_while(|t| *t < until)
                .collect();
            Zone {
                name,
                tz,
                transitions,
            }
        })
        .collect()
});

/// First instant of the generated range (2023-01-01T00:00Z).
const RANGE_START: &str = "2023-01-01T00:00:00Z";
/// Length of the generated range: 2023 to 2026 inclusive.
const RANGE_SECS: i64 = (365 * 4 + 1) * 86_400;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap()
}

fn nanos(n: i64) -> SignedDuration {
    SignedDuration::from_nanos(n)
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn days_before(date: Date, n: i64) -> Date {
    date.checked_sub(n.days()).unwrap()
}

fn days_after(date: Date, n: i64) -> Date {
    date.checked_add(n.days()).unwrap()
}

/// A point of interest: uniform in 2023–2026, or within a few hours of a DST transition of the
/// zone (uniform when the zone has none).
#[derive(Clone, Debug)]
enum Focus {
    Uniform(i64),
    Transition(Index, i64),
}

impl Focus {
    fn resolve(&self, zone: &Zone) -> Timestamp {
        let start = ts(RANGE_START);
        match self {
            Focus::Transition(index, offset) if !zone.transitions.is_empty() => add(
                zone.transitions[index.index(zone.transitions.len())],
                SignedDuration::from_secs(*offset),
            ),
            Focus::Transition(index, offset) => {
                let secs = i64::try_from(index.index(usize::try_from(RANGE_SECS).unwrap())).unwrap();
                add(start, SignedDuration::from_secs(secs + offset))
            }
            Focus::Uniform(secs) => add(start, SignedDuration::from_secs(*secs)),
        }
    }
}

fn focus() -> impl Strategy<Value = Focus> {
    prop_oneof![
        1 => (0..RANGE_SECS).prop_map(Focus::Uniform),
        2 => (any::<Index>(), -6 * 3600i64..=6 * 3600).prop_map(|(i, off)| Focus::Transition(i, off)),
    ]
}

// ---------------------------------------------------------------------------------------------
// Generated configurations
// ---------------------------------------------------------------------------------------------

const SHORT_DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const LONG_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn weekday(day: u8) -> Weekday {
    Weekday::from_monday_zero_offset(i8::try_from(day).unwrap()).unwrap()
}

/// Applies one of three spellings: as is, upper case, capitalised.
fn spelled(word: &str, style: u8) -> String {
    match (style >> 1) % 3 {
        0 => word.to_string(),
        1 => word.to_uppercase(),
        _ => {
            let mut chars = word.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        }
    }
}

fn weekday_name(day: u8, style: u8) -> String {
    let base = if style & 1 == 0 {
        SHORT_DAYS[usize::from(day)]
    } else {
        LONG_DAYS[usize::from(day)]
    };
    spelled(base, style)
}

/// `ord` is 1..=5 or 6 for `last`.
fn ordinal_name(ord: u8, style: u8) -> String {
    let base = match (ord, style & 1) {
        (1, 0) => "1st",
        (1, _) => "first",
        (2, 0) => "2nd",
        (2, _) => "second",
        (3, 0) => "3rd",
        (3, _) => "third",
        (4, 0) => "4th",
        (4, _) => "fourth",
        (5, 0) => "5th",
        (5, _) => "fifth",
        _ => "last",
    };
    spelled(base, style)
}

/// How the library prints an ordinal day (`2nd tue`, `last fri`).
fn ordinal_canonical(ord: u8, day: u8) -> String {
    let ord = match ord {
        1 => "1st",
        2 => "2nd",
        3 => "3rd",
        4 => "4th",
        5 => "5th",
        _ => "last",
    };
    format!("{ord} {}", SHORT_DAYS[usize::from(day)])
}

fn hhmm(minutes: u16, short_hour: bool) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    if short_hour && h < 10 {
        format!("{h}:{m:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

/// Interesting start times: midnight, the 02:00–03:00 hour that Berlin and New York skip, Lord
/// Howe's 02:00–02:30 gap, Santiago's midnight, and late evening for windows crossing midnight.
const INTERESTING_STARTS: [u16; 15] = [
    0, 30, 60, 90, 120, 135, 150, 165, 180, 210, 1320, 1380, 1410, 1439, 1425,
];
const INTERESTING_ENDS: [u16; 15] = [
    0, 30, 60, 90, 120, 150, 165, 180, 210, 240, 1380, 1410, 1439, 1440, 1440,
];

/// (ordinal 1..=5 or 6 for last, weekday 0..7 from Monday, spelling).
type OrdinalSpec = (u8, u8, u8);

#[derive(Clone, Debug)]
struct WindowSpec {
    start: u16,
    end: u16,
    time_style: u8,
    /// (weekday 0..7 from Monday, spelling); one comma-separated string when the flag is set.
    weekdays: Option<(Vec<(u8, u8)>, bool)>,
    /// (ordinal 1..=5 or 6 for last, weekday, spelling); one string when the flag is set.
    ordinals: Option<(Vec<OrdinalSpec>, bool)>,
    description: Option<String>,
}

impl WindowSpec {
    /// The weekdays as written: when both rules are given and no ordinal falls on one of the
    /// weekdays (which the loader rightly rejects as a window that can never open), the first
    /// ordinal's weekday is added.
    fn weekdays_written(&self) -> Option<(Vec<(u8, u8)>, bool)> {
        let (mut days, as_string) = self.weekdays.clone()?;
        if let Some((rules, _)) = &self.ordinals
            && !rules.iter().any(|(_, day, _)| days.iter().any(|(d, _)| d == day))
        {
            days.push((rules[0].1, rules[0].2));
        }
        Some((days, as_string))
    }

    fn time_text(&self) -> String {
        let short = self.time_style == 2;
        let (start, end) = (hhmm(self.start, short), hhmm(self.end, short));
        match self.time_style {
            1 => format!(" {start} - {end} "),
            _ => format!("{start}-{end}"),
        }
    }

    fn model(&self) -> ModelWindow {
        ModelWindow {
            start: self.start,
            end: self.end,
            weekdays: self
                .weekdays_written()
                .map(|(days, _)| days.iter().map(|(d, _)| weekday(*d)).collect()),
            ordinals: self
                .ordinals
                .as_ref()
                .map(|(rules, _)| rules.iter().map(|(ord, day, _)| (*ord, weekday(*day))).collect()),
        }
    }

    /// The window's keys as `key = value` pairs.
    fn entries(&self) -> Vec<(String, String)> {
        let mut out = vec![("time".to_string(), toml_string(&self.time_text()))];
        if let Some((days, as_string)) = self.weekdays_written() {
            let names: Vec<String> = days.iter().map(|(d, style)| weekday_name(*d, *style)).collect();
            out.push(("weekdays".to_string(), list(&names, as_string)));
        }
        if let Some((rules, as_string)) = &self.ordinals {
            let names: Vec<String> = rules
                .iter()
                .map(|(ord, day, style)| {
                    format!(
                        "{} {}",
                        ordinal_name(*ord, *style),
                        weekday_name(*day, style >> 3)
                    )
                })
                .collect();
            out.push(("ordinal_days".to_string(), list(&names, *as_string)));
        }
        if let Some(description) = &self.description {
            out.push(("description".to_string(), toml_string(description)));
        }
        out
    }
}

fn list(items: &[String], as_one_string: bool) -> String {
    if as_one_string {
        toml_string(&items.join(","))
    } else {
        format!(
            "[{}]",
            items
                .iter()
                .map(|item| toml_string(item))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A TOML basic string with everything that needs it escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn start_minute() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => select(INTERESTING_STARTS.to_vec()),
        2 => (0u16..96).prop_map(|q| q * 15),
        1 => 0u16..1440,
    ]
}

fn end_minute() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => select(INTERESTING_ENDS.to_vec()),
        2 => (0u16..=96).prop_map(|q| q * 15),
        1 => 0u16..=1440,
    ]
}

fn window_spec() -> impl Strategy<Value = WindowSpec> {
    (
        start_minute(),
        end_minute(),
        0u8..3,
        option::weighted(
            0.4,
            (prop::collection::vec((0u8..7, any::<u8>()), 1..4), any::<bool>()),
        ),
        option::weighted(
            0.3,
            (
                prop::collection::vec((1u8..=6, 0u8..7, any::<u8>()), 1..3),
                any::<bool>(),
            ),
        ),
        option::of("[a-zA-Z0-9 é'\"\\\\]{0,12}"),
    )
        .prop_filter("start equals end is rejected", |(start, end, ..)| start != end)
        .prop_map(
            |(start, end, time_style, weekdays, ordinals, description)| WindowSpec {
                start,
                end,
                time_style,
                weekdays,
                ordinals,
                description,
            },
        )
}

#[derive(Clone, Debug)]
struct BlackoutSpec {
    /// Start relative to the focus, in minutes.
    offset_min: i64,
    duration_min: i64,
    start_format: u8,
    end_format: u8,
    reason: Option<String>,
}

fn blackout_spec() -> impl Strategy<Value = BlackoutSpec> {
    (
        -14 * 1440i64..=14 * 1440,
        prop_oneof![3 => 120i64..=720, 2 => 720i64..=14_400, 1 => 14_400i64..=86_400],
        0u8..6,
        0u8..6,
        option::of("[a-z ]{0,10}"),
    )
        .prop_map(
            |(offset_min, duration_min, start_format, end_format, reason)| BlackoutSpec {
                offset_min,
                duration_min,
                start_format,
                end_format,
                reason,
            },
        )
}

fn fmt_local(dt: DateTime, seconds: bool) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    );
    if seconds {
        out.push_str(&format!(":{:02}", dt.second()));
    }
    out
}

/// A blackout bound in one of the accepted spellings. `local` is what the user means; `instant`
/// is what it resolves to in `tz`.
fn fmt_bound(format: u8, local: DateTime, instant: Timestamp, tz: &TimeZone) -> String {
    let with_offset = || {
        let offset = tz.to_offset(instant);
        let secs = offset.seconds();
        let sign = if secs < 0 { '-' } else { '+' };
        let abs = secs.unsigned_abs();
        format!(
            "{}{sign}{:02}:{:02}",
            fmt_local(offset.to_datetime(instant), true),
            abs / 3600,
            abs % 3600 / 60
        )
    };
    let utc = || format!("{}Z", fmt_local(TimeZone::UTC.to_datetime(instant), true));
    match format {
        0 => toml_string(&fmt_local(local, true)),
        1 => fmt_local(local, true),
        2 => toml_string(&with_offset()),
        3 => utc(),
        4 => toml_string(&fmt_local(local, false)),
        _ => with_offset(),
    }
}

#[derive(Clone, Debug)]
struct ScheduleSpec {
    zone: usize,
    omit_utc: bool,
    /// Minutes and the integer notation they are written in.
    min_window: Option<(u16, u8)>,
    dc_util_timeout: Option<u32>,
    min_availability: Option<u8>,
    /// `None`: key absent.
    unrestricted: Option<bool>,
    windows: Vec<WindowSpec>,
    /// Leave the windows out (only when unrestricted).
    drop_windows: bool,
    /// `windows = [{...}, ...]` instead of `[[name.windows]]`.
    inline_windows: bool,
    blackouts: Vec<BlackoutSpec>,
    focus: Focus,
}

fn schedule_spec() -> impl Strategy<Value = ScheduleSpec> {
    (
        0usize..ZONES.len(),
        any::<bool>(),
        option::of((0u16..=240, 0u8..6)),
        option::of(1u32..=86_400),
        option::of(0u8..6),
        prop_oneof![6 => Just(None), 1 => Just(Some(false)), 2 => Just(Some(true))],
        prop::collection::vec(window_spec(), 1..=6),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop_oneof![
            2 => Just(Vec::new()),
            2 => prop::collection::vec(blackout_spec(), 1),
            1 => prop::collection::vec(blackout_spec(), 2..=3),
        ],
        focus(),
    )
        .prop_map(
            |(
                zone,
                omit_utc,
                min_window,
                dc_util_timeout,
                min_availability,
                unrestricted,
                windows,
                drop_windows,
                inline_windows,
                blackouts,
                focus,
            )| ScheduleSpec {
                zone,
                omit_utc,
                min_window,
                dc_util_timeout,
                min_availability,
                unrestricted,
                windows,
                drop_windows,
                inline_windows,
                blackouts,
                focus,
            },
        )
}

const AVAILABILITY: [(&str, MinAvailability); 6] = [
    ("NONE", MinAvailability::None),
    ("primaries", MinAvailability::Primaries),
    ("Full", MinAvailability::Full),
    ("none", MinAvailability::None),
    ("PRIMARIES", MinAvailability::Primaries),
    ("full", MinAvailability::Full),
];

/// An integer in one of TOML's notations.
fn toml_integer(n: u16, notation: u8) -> String {
    match notation {
        0 => n.to_string(),
        1 => format!("+{n}"),
        2 => format!("0x{n:X}"),
        3 => format!("0o{n:o}"),
        4 => format!("0b{n:b}"),
        _ => {
            let digits = n.to_string();
            if digits.len() > 1 {
                format!("{}_{}", &digits[..1], &digits[1..])
            } else {
                digits
            }
        }
    }
}

/// Names for the generated cluster; the last one makes the generated table `[defaults]`.
const CLUSTER_NAMES: [&str; 5] = ["prod", "prod-eu", "analytics_us", "db.main", "defaults"];

#[derive(Clone, Debug)]
struct ConfigSpec {
    schedule: ScheduleSpec,
    name: usize,
    /// Add a `[defaults]` table (when the generated table is not itself the defaults).
    extra_defaults: bool,
    /// Add another cluster before the generated one.
    extra_cluster: bool,
}

fn config_spec() -> impl Strategy<Value = ConfigSpec> {
    (
        schedule_spec(),
        0..CLUSTER_NAMES.len(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(schedule, name, extra_defaults, extra_cluster)| ConfigSpec {
            schedule,
            name,
            extra_defaults,
            extra_cluster,
        })
}

/// A window as the models here see it.
#[derive(Clone, Debug)]
struct ModelWindow {
    start: u16,
    end: u16,
    weekdays: Option<Vec<Weekday>>,
    ordinals: Option<Vec<(u8, Weekday)>>,
}

impl ModelWindow {
    fn occurs_on(&self, date: Date) -> bool {
        if let Some(days) = &self.weekdays
            && !days.contains(&date.weekday())
        {
            return false;
        }
        match &self.ordinals {
            None => true,
            Some(rules) => rules.iter().any(|(ord, day)| ordinal_matches(*ord, *day, date)),
        }
    }
}

/// By counting: `date` is the `ord`-th `day` of its month (6 = the last one).
fn ordinal_matches(ord: u8, day: Weekday, date: Date) -> bool {
    if date.weekday() != day {
        return false;
    }
    if ord == 6 {
        return days_after(date, 7).month() != date.month();
    }
    let nth = (1..=date.day())
        .filter(|d| date.with().day(*d).build().unwrap().weekday() == day)
        .count();
    nth == usize::from(ord)
}

/// Everything the tests know about a generated config.
struct Rendered {
    text: String,
    /// The name to look the generated schedule up with.
    cluster: String,
    is_defaults: bool,
    has_defaults: bool,
    zone_name: &'static str,
    tz: TimeZone,
    focus: Timestamp,
    unrestricted: bool,
    min_window: Duration,
    dc_util_timeout: Option<Duration>,
    min_availability: Option<MinAvailability>,
    windows: Vec<ModelWindow>,
    descriptions: Vec<Option<String>>,
    ordinal_texts: Vec<Option<Vec<String>>>,
    /// `[start, end)`, sorted.
    blackouts: Vec<(Timestamp, Timestamp)>,
}

fn render(spec: &ConfigSpec) -> Rendered {
    let s = &spec.schedule;
    let zone = &ZONE_INFO[s.zone];
    let tz = zone.tz.clone();
    let focus = s.focus.resolve(zone);
    let name = CLUSTER_NAMES[spec.name];
    let is_defaults = name == "defaults";
    let has_defaults = is_defaults || spec.extra_defaults;
    let header = if name.contains('.') {
        format!("\"{name}\"")
    } else {
        name.to_string()
    };
    let unrestricted = s.unrestricted == Some(true);
    let windows: &[WindowSpec] = if unrestricted && s.drop_windows {
        &[]
    } else {
        &s.windows
    };

    let mut text = String::from("# generated\n");
    if spec.extra_cluster {
        text.push_str(
            "[other]\ntimezone = \"America/New_York\"\n\n[[other.windows]]\ntime = \"01:00-02:00\"\n\n",
        );
    }
    if spec.extra_defaults && !is_defaults {
        text.push_str("[defaults]\ntimezone = \"Asia/Kolkata\"\nunrestricted = true\n\n");
    }
    text.push_str(&format!("[{header}]\n"));
    if !(zone.name == "UTC" && s.omit_utc) {
        text.push_str(&format!("timezone = {}\n", toml_string(zone.name)));
    }
    if let Some((minutes, notation)) = s.min_window {
        text.push_str(&format!(
            "min_window_duration = {}\n",
            toml_integer(minutes, notation)
        ));
    }
    if let Some(secs) = s.dc_util_timeout {
        text.push_str(&format!("dc_util_timeout = {secs}\n"));
    }
    if let Some(i) = s.min_availability {
        text.push_str(&format!(
            "min_availability = {}\n",
            toml_string(AVAILABILITY[usize::from(i)].0)
        ));
    }
    if let Some(flag) = s.unrestricted {
        text.push_str(&format!("unrestricted = {flag}\n"));
    }
    if s.inline_windows && !windows.is_empty() {
        let tables: Vec<String> = windows
            .iter()
            .map(|w| {
                let pairs: Vec<String> = w.entries().iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            })
            .collect();
        text.push_str(&format!("windows = [{}]\n", tables.join(", ")));
    }
    text.push('\n');
    if !s.inline_windows {
        for w in windows {
            text.push_str(&format!("[[{header}.windows]]\n"));
            for (k, v) in w.entries() {
                text.push_str(&format!("{k} = {v}\n"));
            }
            text.push('\n');
        }
    }
    let mut blackouts = Vec::new();
    for b in &s.blackouts {
        let at = add(focus, mins(b.offset_min));
        let local_start = tz
            .to_datetime(at)
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .unwrap();
        let local_end = local_start.checked_add(mins(b.duration_min)).unwrap();
        let start = resolve_local(&tz, local_start).unwrap();
        let end = resolve_local(&tz, local_end).unwrap();
        text.push_str(&format!("[[{header}.blackouts]]\n"));
        text.push_str(&format!(
            "start = {}\n",
            fmt_bound(b.start_format, local_start, start, &tz)
        ));
        text.push_str(&format!(
            "end = {}\n",
            fmt_bound(b.end_format, local_end, end, &tz)
        ));
        if let Some(reason) = &b.reason {
            text.push_str(&format!("reason = {}\n", toml_string(reason)));
        }
        text.push('\n');
        blackouts.push((start, end));
    }
    blackouts.sort();

    Rendered {
        text,
        cluster: name.to_string(),
        is_defaults,
        has_defaults,
        zone_name: zone.name,
        tz,
        focus,
        unrestricted,
        min_window: Duration::from_secs(u64::from(s.min_window.map_or(30, |(m, _)| m)) * 60),
        dc_util_timeout: s.dc_util_timeout.map(|secs| Duration::from_secs(u64::from(secs))),
        min_availability: s.min_availability.map(|i| AVAILABILITY[usize::from(i)].1),
        windows: windows.iter().map(WindowSpec::model).collect(),
        descriptions: windows.iter().map(|w| w.description.clone()).collect(),
        ordinal_texts: windows
            .iter()
            .map(|w| {
                w.ordinals.as_ref().map(|(rules, _)| {
                    rules
                        .iter()
                        .map(|(ord, day, _)| ordinal_canonical(*ord, *day))
                        .collect()
                })
            })
            .collect(),
        blackouts,
    }
}

/// Renders and parses; a generated config is valid, so parsing must succeed.
fn load(spec: &ConfigSpec) -> Result<(Rendered, MaintenanceConfig), TestCaseError> {
    let rendered = render(spec);
    match MaintenanceConfig::parse("generated.toml", &rendered.text) {
        Ok(config) => Ok((rendered, config)),
        Err(errors) => Err(TestCaseError::fail(format!(
            "a valid config was rejected:\n{errors}\n--- config ---\n{}",
            rendered.text
        ))),
    }
}

/// The generated schedule, found where the loader must have put it.
fn generated<'c>(config: &'c MaintenanceConfig, r: &Rendered) -> &'c Schedule {
    if r.is_defaults {
        config.defaults.as_ref().unwrap()
    } else {
        &config
            .clusters
            .iter()
            .find(|(name, _)| *name == r.cluster)
            .unwrap()
            .1
    }
}

/// Adds the config text to a failure.
fn with_config<T>(r: &Rendered, result: Result<T, TestCaseError>) -> Result<T, TestCaseError> {
    result.map_err(|e| TestCaseError::fail(format!("{e}\n--- config ---\n{}", r.text)))
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ModelOccurrence {
    window: usize,
    date: Date,
    start: Timestamp,
    end: Timestamp,
}

fn civil_time(minutes: u16) -> Time {
    let minutes = minutes % 1440;
    Time::new(
        i8::try_from(minutes / 60).unwrap(),
        i8::try_from(minutes % 60).unwrap(),
        0,
        0,
    )
    .unwrap()
}

/// The occurrences of the generated windows starting on local dates `from..=until`: day by day,
/// within a day by (start, window).
fn model_occurrences(r: &Rendered, from: Date, until: Date) -> Vec<ModelOccurrence> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= until {
        let mut day = Vec::new();
        for (window, w) in r.windows.iter().enumerate() {
            if !w.occurs_on(date) {
                continue;
            }
            let end_date = if w.end <= w.start || w.end == 1440 {
                date.tomorrow().unwrap()
            } else {
                date
            };
            let start = resolve_local(&r.tz, date.to_datetime(civil_time(w.start))).unwrap();
            let end = resolve_local(&r.tz, end_date.to_datetime(civil_time(w.end))).unwrap();
            if start < end {
                day.push(ModelOccurrence {
                    window,
                    date,
                    start,
                    end,
                });
            }
        }
        day.sort_by_key(|o| (o.start, o.window));
        out.extend(day);
        date = date.tomorrow().unwrap();
    }
    out
}

/// `[start, end)` minus every blackout, in order.
fn cut(
    start: Timestamp,
    end: Timestamp,
    blackouts: &[(Timestamp, Timestamp)],
) -> Vec<(Timestamp, Timestamp)> {
    let mut pieces = vec![(start, end)];
    for &(b_start, b_end) in blackouts {
        pieces = pieces
            .into_iter()
            .flat_map(|(s, e)| {
                let mut kept = Vec::new();
                if s < b_start.min(e) {
                    kept.push((s, b_start.min(e)));
                }
                if b_end.max(s) < e {
                    kept.push((b_end.max(s), e));
                }
                kept
            })
            .collect();
    }
    pieces.sort();
    pieces
}

/// The openings of the occurrences starting on `from..=until`, as `(start, end)`.
fn model_openings(r: &Rendered, from: Date, until: Date) -> Vec<(Timestamp, Timestamp)> {
    model_occurrences(r, from, until)
        .iter()
        .flat_map(|o| cut(o.start, o.end, &r.blackouts))
        .collect()
}

/// The blackouts merged into disjoint intervals (back-to-back ones joined).
fn merged_blackouts(r: &Rendered) -> Vec<(Timestamp, Timestamp)> {
    let mut merged: Vec<(Timestamp, Timestamp)> = Vec::new();
    for &(s, e) in &r.blackouts {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

fn in_blackout(r: &Rendered, t: Timestamp) -> bool {
    r.blackouts.iter().any(|(s, e)| *s <= t && t < *e)
}

fn local_date(r: &Rendered, t: Timestamp) -> Date {
    r.tz.to_datetime(t).date()
}

/// Rule (a)'s brute force: no blackout contains `t`, and (unless unrestricted) an occurrence
/// from the library's iterator over the local dates `d-3..=d+1` contains it.
fn brute_open(r: &Rendered, schedule: &Schedule, t: Timestamp) -> bool {
    if in_blackout(r, t) {
        return false;
    }
    if r.unrestricted {
        return true;
    }
    let d = local_date(r, t);
    schedule
        .occurrences_between(days_before(d, 3), days_after(d, 1))
        .any(|o| o.contains(t))
}

/// An instant to ask about: relative to the focus, optionally snapped to (just around) a nearby
/// occurrence or blackout boundary.
#[derive(Clone, Debug)]
struct InstantSpec {
    offset_secs: i64,
    nanos: i64,
    snap: Option<(Index, u8)>,
}

fn instant_spec() -> impl Strategy<Value = InstantSpec> {
    (
        prop_oneof![-3 * 86_400i64..=3 * 86_400, -6 * 3600i64..=6 * 3600],
        prop_oneof![3 => Just(0i64), 1 => 0i64..1_000_000_000],
        option::weighted(0.5, (any::<Index>(), 0u8..5)),
    )
        .prop_map(|(offset_secs, nanos, snap)| InstantSpec {
            offset_secs,
            nanos,
            snap,
        })
}

impl InstantSpec {
    fn resolve(&self, r: &Rendered) -> Timestamp {
        let base = add(
            add(r.focus, SignedDuration::from_secs(self.offset_secs)),
            nanos(self.nanos),
        );
        let Some((index, kind)) = &self.snap else {
            return base;
        };
        let d = local_date(r, base);
        let mut points: Vec<Timestamp> = Vec::new();
        if !r.unrestricted {
            for o in model_occurrences(r, days_before(d, 1), days_after(d, 1)) {
                points.extend([o.start, o.end]);
            }
        }
        for (s, e) in &r.blackouts {
            points.extend([*s, *e]);
        }
        if points.is_empty() {
            return base;
        }
        let point = points[index.index(points.len())];
        match kind {
            0 | 1 => point,
            2 => add(point, nanos(-1)),
            3 => add(point, nanos(1)),
            _ => add(point, mins(-1)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// (loader) The loader reads back exactly what was generated, and lookups fail closed.
fn check_loader(r: &Rendered, config: &MaintenanceConfig) -> Result<(), TestCaseError> {
    let schedule = generated(config, r);
    prop_assert_eq!(&schedule.timezone_name, r.zone_name);
    prop_assert_eq!(schedule.unrestricted, r.unrestricted);
    prop_assert_eq!(schedule.min_window_duration, r.min_window);
    prop_assert_eq!(schedule.dc_util_timeout, r.dc_util_timeout);
    prop_assert_eq!(schedule.min_availability, r.min_availability);
    prop_assert_eq!(schedule.windows().len(), r.windows.len());
    for (i, (window, model)) in schedule.windows().iter().zip(&r.windows).enumerate() {
        prop_assert_eq!(window.index, i + 1);
        prop_assert_eq!(window.range.start.minutes(), model.start);
        prop_assert_eq!(window.range.end.minutes(), model.end);
        let days = model.weekdays.clone().map(|mut days| {
            days.sort_by_key(|d| d.to_monday_zero_offset());
            days.dedup();
            days
        });
        prop_assert_eq!(window.weekdays.map(|set| set.days().collect::<Vec<_>>()), days);
        prop_assert_eq!(
            window
                .ordinal_days
                .as_ref()
                .map(|rules| rules.iter().map(ToString::to_string).collect::<Vec<_>>()),
            r.ordinal_texts[i].clone()
        );
        prop_assert_eq!(&window.description, &r.descriptions[i]);
    }
    let blackouts: Vec<(Timestamp, Timestamp)> =
        schedule.blackouts().iter().map(|b| (b.start, b.end)).collect();
    prop_assert_eq!(&blackouts, &r.blackouts);

    // Lookups: the generated name finds the generated schedule; an unknown name finds
    // [defaults] when there is one, and is an error otherwise (rule 7, fail closed).
    let (found, from_defaults) = config.schedule(&r.cluster).unwrap();
    prop_assert!(std::ptr::eq(found, schedule));
    prop_assert_eq!(from_defaults, r.is_defaults);
    prop_assert_eq!(config.defaults.is_some(), r.has_defaults);
    let at = r.focus;
    match (
        config.schedule("no-such-cluster"),
        decide(config, "no-such-cluster", at, Duration::ZERO),
    ) {
        (Ok((defaults, true)), Ok(decision)) => {
            prop_assert!(r.has_defaults);
            prop_assert!(std::ptr::eq(defaults, config.defaults.as_ref().unwrap()));
            prop_assert!(decision.from_defaults);
        }
        (Err(_), Err(_)) => prop_assert!(!r.has_defaults),
        (lookup, decision) => {
            return Err(TestCaseError::fail(format!(
                "lookup and decide disagree: {:?} vs {:?}",
                lookup.map(|(_, d)| d),
                decision.map(|d| d.from_defaults)
            )));
        }
    }
    Ok(())
}

/// (a) and (c): `is_open` agrees with the brute force, and `opening_at` contains `t` and is the
/// opening (occurrence minus blackouts) containing `t` that ends last.
fn check_open(r: &Rendered, schedule: &Schedule, t: Timestamp) -> Result<(), TestCaseError> {
    let expected = brute_open(r, schedule, t);
    prop_assert_eq!(schedule.is_open(t), expected, "is_open({})", t);
    let opening = schedule.opening_at(t);
    prop_assert_eq!(opening.is_some(), expected, "opening_at({}) = {:?}", t, opening);
    let Some(opening) = opening else {
        return Ok(());
    };
    prop_assert!(
        opening.contains(t),
        "opening_at({}) = {:?} does not contain it",
        t,
        opening
    );
    if r.unrestricted {
        // Open from the end of the last blackout before t to the start of the next one.
        let merged = merged_blackouts(r);
        let start = merged
            .iter()
            .map(|b| b.1)
            .filter(|e| *e <= t)
            .max()
            .unwrap_or(Timestamp::MIN);
        let end = merged.iter().map(|b| b.0).find(|s| *s > t);
        prop_assert_eq!((opening.start, opening.end), (start, end));
        prop_assert!(opening.occurrence.is_none());
    } else {
        let d = local_date(r, t);
        let best = model_openings(r, days_before(d, 3), days_after(d, 1))
            .into_iter()
            .filter(|(s, e)| *s <= t && t < *e)
            .map(|(_, e)| e)
            .max();
        prop_assert_eq!(opening.end, best, "opening_at({}) = {:?}", t, opening);
        let occurrence = opening.occurrence.unwrap();
        prop_assert!(occurrence.start <= opening.start && Some(occurrence.end) >= opening.end);
    }
    Ok(())
}

/// (b): the next opening starts strictly after `t` and no opening starts in between; `None`
/// means nothing opens within the horizon.
fn check_next(r: &Rendered, schedule: &Schedule, t: Timestamp) -> Result<(), TestCaseError> {
    let next = schedule.next_opening(t);
    let d = local_date(r, t);
    if r.unrestricted {
        // Openings of an unrestricted schedule start where merged blackouts end.
        let expected = merged_blackouts(r).iter().map(|b| b.1).find(|e| *e > t);
        prop_assert_eq!(next.map(|n| n.start), expected, "next_opening({})", t);
        if let Some(n) = next {
            prop_assert!(schedule.is_open(n.start) && !schedule.is_open(add(n.start, nanos(-1))));
        }
        return Ok(());
    }
    match next {
        Some(n) => {
            prop_assert!(n.start > t, "next_opening({}) = {:?} is not after it", t, n);
            let until = days_after(local_date(r, n.start), 1);
            let openings = model_openings(r, days_before(d, 3), until);
            prop_assert!(
                openings.contains(&(n.start, n.end.unwrap())),
                "next_opening({}) = {:?} is not an opening",
                t,
                n
            );
            let earlier: Vec<_> = openings.iter().filter(|(s, _)| t < *s && *s < n.start).collect();
            prop_assert!(
                earlier.is_empty(),
                "next_opening({}) = {:?} but {:?} start before it",
                t,
                n,
                earlier
            );
            prop_assert!(local_date(r, n.start) <= days_after(d, 401));
        }
        None => {
            let later: Vec<_> = model_openings(r, days_before(d, 3), days_after(d, 400))
                .into_iter()
                .filter(|(s, _)| *s > t)
                .take(1)
                .collect();
            prop_assert!(
                later.is_empty(),
                "next_opening({}) = None but {:?} opens",
                t,
                later
            );
        }
    }
    Ok(())
}

/// (d): `open_until` reaches at least the end of `opening_at`, the schedule is open at sampled
/// instants up to it, and closed at it (unless the open time runs past the horizon).
fn check_open_until(r: &Rendered, schedule: &Schedule, t: Timestamp) -> Result<(), TestCaseError> {
    let until = schedule.open_until(t);
    let opening = schedule.opening_at(t);
    prop_assert_eq!(
        until.is_some(),
        opening.is_some(),
        "open_until({}) = {:?}",
        t,
        until
    );
    let (Some(until), Some(opening)) = (until, opening) else {
        return Ok(());
    };
    match (until, opening.end) {
        (None, None) => {
            prop_assert!(r.unrestricted && r.blackouts.iter().all(|b| b.0 <= t));
            for days in [1, 30, 1000] {
                prop_assert!(schedule.is_open(add(t, SignedDuration::from_hours(24 * days))));
            }
        }
        (Some(until), Some(end)) => {
            prop_assert!(
                until >= end,
                "open_until({}) = {} before the opening's end {}",
                t,
                until,
                end
            );
            let span = until.duration_since(t);
            for k in 1..=6 {
                let sample = add(t, span / 7 * k);
                prop_assert!(
                    schedule.is_open(sample),
                    "open_until({}) = {} but closed at {}",
                    t,
                    until,
                    sample
                );
                prop_assert!(
                    brute_open(r, schedule, sample),
                    "closed at {} by brute force",
                    sample
                );
            }
            prop_assert!(
                schedule.is_open(add(until, nanos(-1))),
                "closed just before open_until {}",
                until
            );
            if schedule.is_open(until) {
                prop_assert!(
                    until >= add(t, SignedDuration::from_hours(24 * 399)),
                    "open_until({}) = {} but still open then",
                    t,
                    until
                );
            }
        }
        (until, end) => {
            return Err(TestCaseError::fail(format!(
                "open_until {until:?} vs opening end {end:?}"
            )));
        }
    }
    Ok(())
}

/// (e): the decision agrees with the schedule and with rule 8 (fit).
fn check_decision(
    r: &Rendered,
    config: &MaintenanceConfig,
    schedule: &Schedule,
    t: Timestamp,
    needed: Duration,
) -> Result<(), TestCaseError> {
    let decision = decide_for(schedule, "c", false, t, needed);
    let open = brute_open(r, schedule, t);
    prop_assert_eq!(decision.in_window, open);
    prop_assert_eq!(decision.in_window, schedule.is_open(t));
    let required = r.min_window.max(needed);
    prop_assert_eq!(decision.required, required);
    // The blackout in force, reported up to the end of the chain of blackouts it belongs to.
    let chain = merged_blackouts(r).into_iter().find(|(s, e)| *s <= t && t < *e);
    prop_assert_eq!(decision.blackout.as_ref().map(|b| b.end), chain.map(|(_, e)| e));
    prop_assert_eq!(
        decision.next_window.as_ref().map(|w| (w.start, w.end)),
        schedule.next_opening(t).map(|n| (n.start, n.end))
    );
    if decision.in_window {
        let until = schedule.open_until(t).unwrap();
        prop_assert_eq!(decision.open_until, until);
        let too_short =
            until.is_some_and(|u| u.duration_since(t) < SignedDuration::try_from(required).unwrap());
        prop_assert_eq!(decision.should_wait, too_short, "{}", decision.reason);
        match &decision.window {
            Some(w) => {
                prop_assert!(!r.unrestricted);
                prop_assert!(w.start <= t && w.end.is_none_or(|e| t < e));
            }
            None => prop_assert!(r.unrestricted),
        }
    } else {
        prop_assert!(decision.should_wait, "closed at {} but should_wait is false", t);
        prop_assert!(decision.window.is_none() && decision.open_until.is_none());
    }
    // Through the whole file, by name.
    let by_name = decide(config, &r.cluster, t, needed).unwrap();
    prop_assert_eq!(
        (by_name.in_window, by_name.should_wait),
        (decision.in_window, decision.should_wait)
    );
    prop_assert_eq!(by_name.from_defaults, r.is_defaults);
    prop_assert_eq!(&by_name.timezone, r.zone_name);
    Ok(())
}

/// (g): the occurrence iterator yields exactly the modelled occurrences, in non-decreasing
/// start order across days, each starting before it ends, and `openings_of` cuts exactly the
/// blackouts out.
fn check_occurrences(
    r: &Rendered,
    schedule: &Schedule,
    t: Timestamp,
    days: i64,
) -> Result<(), TestCaseError> {
    let d = local_date(r, t);
    let (from, until) = (days_before(d, 3), days_after(d, days));
    let got: Vec<_> = schedule.occurrences_between(from, until).collect();
    let model = model_occurrences(r, from, until);
    let got_tuples: Vec<_> = got.iter().map(|o| (o.window, o.date, o.start, o.end)).collect();
    let model_tuples: Vec<_> = model.iter().map(|o| (o.window, o.date, o.start, o.end)).collect();
    prop_assert_eq!(got_tuples, model_tuples);
    for pair in got.windows(2) {
        prop_assert!(
            pair[0].start <= pair[1].start,
            "out of order: {:?} then {:?}",
            pair[0],
            pair[1]
        );
        prop_assert!(pair[0].date <= pair[1].date);
    }
    for o in &got {
        prop_assert!(o.start < o.end);
        prop_assert!(schedule.windows()[o.window].occurs_on(o.date));
        let openings: Vec<_> = schedule
            .openings_of(*o)
            .iter()
            .map(|p| (p.start, p.end.unwrap()))
            .collect();
        prop_assert_eq!(openings, cut(o.start, o.end, &r.blackouts));
    }
    Ok(())
}

/// (h) `upcoming(t, n)`: the first `n` openings that end after `t`, in start order, as the
/// `next` command lists them.
fn check_upcoming(
    r: &Rendered,
    schedule: &Schedule,
    t: Timestamp,
    count: usize,
) -> Result<(), TestCaseError> {
    let got = schedule.upcoming(t, count);
    prop_assert!(got.len() <= count);
    prop_assert!(
        got.windows(2).all(|pair| pair[0].start <= pair[1].start),
        "not in start order: {:?}",
        got
    );
    prop_assert!(
        got.iter().all(|o| o.end.is_none_or(|e| e > t)),
        "an opening ended before {}: {:?}",
        t,
        got
    );
    let got: Vec<Timestamp> = got.iter().map(|o| o.start).collect();
    let expected: Vec<Timestamp> = if r.unrestricted {
        // The gaps between merged blackouts, starting with the one in progress.
        let merged = merged_blackouts(r);
        let mut starts: Vec<Timestamp> = Vec::new();
        if !in_blackout(r, t) {
            starts.push(
                merged
                    .iter()
                    .map(|b| b.1)
                    .filter(|e| *e <= t)
                    .max()
                    .unwrap_or(Timestamp::MIN),
            );
        }
        starts.extend(merged.iter().map(|b| b.1).filter(|e| *e > t));
        starts.into_iter().take(count).collect()
    } else {
        let d = local_date(r, t);
        let until = match got.last() {
            Some(last) if got.len() == count => days_after(local_date(r, *last), 1),
            _ => days_after(d, 400),
        };
        let mut openings = model_openings(r, days_before(d, 3), until);
        openings.retain(|(_, e)| *e > t);
        openings.sort();
        openings.into_iter().take(count).map(|(s, _)| s).collect()
    };
    prop_assert_eq!(got, expected, "upcoming({}, {})", t, count);
    Ok(())
}

/// The DST rule, characterised without the library's code path: `resolve_local(L)` is the
/// earliest instant whose wall-clock time is at or after `L`. That makes a skipped time the
/// transition instant and a repeated time its first occurrence.
fn check_resolve(tz: &TimeZone, local: DateTime) -> Result<(), TestCaseError> {
    let r = resolve_local(tz, local).unwrap();
    let shown = tz.to_datetime(r);
    prop_assert!(
        shown >= local,
        "{} resolves to {} which shows {}",
        local,
        r,
        shown
    );
    prop_assert!(
        tz.to_datetime(add(r, nanos(-1))) < local,
        "{} resolves to {}, not the earliest",
        local,
        r
    );
    for minutes in 1..=180 {
        let before = add(r, mins(-minutes));
        prop_assert!(
            tz.to_datetime(before) < local,
            "{} resolves to {} but {} already shows it",
            local,
            r,
            before
        );
    }
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { .. } => prop_assert_eq!(shown, local),
        AmbiguousOffset::Gap { .. } => {
            // The first instant after the gap is a transition.
            let transition = tz.preceding(add(r, nanos(1))).next().map(|tr| tr.timestamp());
            prop_assert_eq!(transition, Some(r), "{} is in a gap but resolves to {}", local, r);
            prop_assert!(shown > local);
        }
        AmbiguousOffset::Fold { before, after } => {
            prop_assert_eq!(shown, local);
            let second = add(
                r,
                SignedDuration::from_secs(i64::from(before.seconds() - after.seconds())),
            );
            prop_assert!(second > r, "{} occurs twice; {} is not the earlier", local, r);
            prop_assert_eq!(tz.to_datetime(second), local);
        }
    }
    Ok(())
}

/// A local date-time near a transition of one of the zones.
#[derive(Clone, Debug)]
struct LocalSpec {
    zone: usize,
    focus: Focus,
    minutes: i64,
    seconds: i8,
    nanos: i32,
}

fn local_spec() -> impl Strategy<Value = LocalSpec> {
    (
        0usize..ZONES.len(),
        prop_oneof![
            1 => (0..RANGE_SECS).prop_map(Focus::Uniform),
            4 => any::<Index>().prop_map(|i| Focus::Transition(i, 0)),
        ],
        prop_oneof![-200i64..=200, -70i64..=70],
        prop_oneof![3 => Just(0i8), 1 => 0i8..60],
        prop_oneof![3 => Just(0i32), 1 => 0i32..1_000_000_000],
    )
        .prop_map(|(zone, focus, minutes, seconds, nanos)| LocalSpec {
            zone,
            focus,
            minutes,
            seconds,
            nanos,
        })
}

impl LocalSpec {
    /// The local time `minutes` from the wall-clock time just before the focus (a transition,
    /// mostly), so both sides of a gap or fold are covered.
    fn resolve(&self, minutes: i64) -> (&'static Zone, DateTime) {
        let zone = &ZONE_INFO[self.zone];
        let at = self.focus.resolve(zone);
        let before = zone.tz.to_offset(add(at, nanos(-1)));
        let base = before
            .to_datetime(at)
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .unwrap();
        let local = base
            .checked_add(mins(minutes))
            .unwrap()
            .with()
            .second(self.seconds)
            .subsec_nanosecond(self.nanos)
            .build()
            .unwrap();
        (zone, local)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn zones_have_the_dst_transitions_the_generators_rely_on() {
    for zone in ZONE_INFO.iter() {
        let expected = match zone.name {
            "UTC" | "Asia/Kolkata" => 0..=0,
            // April and September DST changes, and the skipped day in December.
            "Pacific/Apia" => 3..=3,
            // Two a year, four years, plus December 2022 / January 2027 margins.
            _ => 8..=10,
        };
        assert!(
            expected.contains(&zone.transitions.len()),
            "{}: {:?}",
            zone.name,
            zone.transitions
        );
    }
    // Spot checks of the unusual transitions: Lord Howe's half-hour shift, Samoa skipping
    // 30 December 2011, Santiago's southern-hemisphere spring.
    let lord_howe = &ZONE_INFO[2];
    assert!(lord_howe.transitions.contains(&ts("2024-10-05T15:30:00Z")));
    let apia = &ZONE_INFO[6];
    assert!(apia.transitions.contains(&ts("2011-12-30T10:00:00Z")));
    let santiago = &ZONE_INFO[3];
    assert!(santiago.transitions.contains(&ts("2024-09-08T04:00:00Z")));
}

#[test]
fn dst_examples_from_the_issue() {
    // Berlin 02:00-04:00 daily: 2024-01-06T01:30Z is 02:30 CET, open.
    let text = "[c]\ntimezone = \"Europe/Berlin\"\n[[c.windows]]\ntime = \"02:00-04:00\"\n";
    let config = MaintenanceConfig::parse("x.toml", text).unwrap();
    let (schedule, _) = config.schedule("c").unwrap();
    assert!(schedule.is_open(ts("2024-01-06T01:30:00Z")));
    // Spring forward: opens at the transition (03:00 CEST = 01:00Z), ends 04:00 CEST.
    assert!(!schedule.is_open(ts("2024-03-31T00:59:59Z")));
    assert!(schedule.is_open(ts("2024-03-31T01:00:00Z")));
    assert_eq!(
        schedule.open_until(ts("2024-03-31T01:00:00Z")),
        Some(Some(ts("2024-03-31T02:00:00Z")))
    );
    assert_eq!(
        schedule.next_opening(ts("2024-03-30T12:00:00Z")).map(|o| o.start),
        Some(ts("2024-03-31T01:00:00Z"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    /// The loader reads back every generated value and lookups fail closed (rule 7).
    #[test]
    fn loader_reads_generated_configs(spec in config_spec()) {
        let (r, config) = load(&spec)?;
        with_config(&r, check_loader(&r, &config))?;
    }

    /// (a), (c): `is_open` agrees with the occurrence iterator; `opening_at` contains `t`.
    #[test]
    fn is_open_agrees_with_occurrences(spec in config_spec(), instants in prop::collection::vec(instant_spec(), 1..=6)) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        for instant in &instants {
            let t = instant.resolve(&r);
            with_config(&r, check_open(&r, schedule, t))?;
        }
    }

    /// (b): next_opening is the earliest opening start strictly after `t`.
    #[test]
    fn next_opening_is_the_earliest_start_after_t(spec in config_spec(), instants in prop::collection::vec(instant_spec(), 1..=4)) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        for instant in &instants {
            let t = instant.resolve(&r);
            with_config(&r, check_next(&r, schedule, t))?;
        }
    }

    /// (d): open_until covers continuous open time.
    #[test]
    fn open_until_covers_continuous_open_time(spec in config_spec(), instants in prop::collection::vec(instant_spec(), 1..=4)) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        for instant in &instants {
            let t = instant.resolve(&r);
            with_config(&r, check_open_until(&r, schedule, t))?;
        }
    }

    /// (e): decide_for is consistent with the schedule and the fit rule.
    #[test]
    fn decision_is_consistent(
        spec in config_spec(),
        instants in prop::collection::vec(instant_spec(), 1..=4),
        needed_min in prop_oneof![Just(0u64), 0u64..=360],
    ) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        for instant in &instants {
            let t = instant.resolve(&r);
            with_config(&r, check_decision(&r, &config, schedule, t, Duration::from_secs(needed_min * 60)))?;
        }
    }

    /// (h): upcoming lists the next openings in start order.
    #[test]
    fn upcoming_lists_the_next_openings(
        spec in config_spec(),
        instants in prop::collection::vec(instant_spec(), 1..=3),
        count in 1usize..=5,
    ) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        for instant in &instants {
            let t = instant.resolve(&r);
            with_config(&r, check_upcoming(&r, schedule, t, count))?;
        }
    }

    /// (g): occurrences match the model, in non-decreasing start order; openings_of cuts
    /// exactly the blackouts out.
    #[test]
    fn occurrences_match_the_model_in_start_order(spec in config_spec(), instant in instant_spec(), days in prop_oneof![1i64..=3, 28i64..=40]) {
        let (r, config) = load(&spec)?;
        let schedule = generated(&config, &r);
        let t = instant.resolve(&r);
        with_config(&r, check_occurrences(&r, schedule, t, days))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// (f): a skipped local time maps to the transition, a repeated one to its first instant,
    /// any other to itself.
    #[test]
    fn resolve_local_follows_the_dst_rule(spec in local_spec()) {
        let (zone, local) = spec.resolve(spec.minutes);
        check_resolve(&zone.tz, local).map_err(|e| TestCaseError::fail(format!("{}: {e}", zone.name)))?;
    }

    /// (f): later wall-clock times never resolve to earlier instants; distinct existing times
    /// resolve to distinct instants.
    #[test]
    fn resolve_local_is_monotone(spec in local_spec(), other in prop_oneof![-200i64..=200, -70i64..=70], other_seconds in 0i8..60) {
        let (zone, a) = spec.resolve(spec.minutes);
        let (_, b) = spec.resolve(other);
        let b = b.with().second(other_seconds).build().unwrap();
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let (r_low, r_high) = (resolve_local(&zone.tz, low).unwrap(), resolve_local(&zone.tz, high).unwrap());
        prop_assert!(r_low <= r_high, "{}: {} -> {} but {} -> {}", zone.name, low, r_low, high, r_high);
        let exists = |local: DateTime| !matches!(zone.tz.to_ambiguous_timestamp(local).offset(), AmbiguousOffset::Gap { .. });
        if low < high && exists(low) && exists(high) {
            prop_assert!(r_low < r_high, "{}: {} -> {} and {} -> {}", zone.name, low, r_low, high, r_high);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// No panics on arbitrary input
// ---------------------------------------------------------------------------------------------

const SCHEMA_KEYS: [&str; 22] = [
    "timezone",
    "min_window_duration",
    "dc_util_timeout",
    "min_availability",
    "unrestricted",
    "windows",
    "blackouts",
    "time",
    "weekdays",
    "ordinal_days",
    "description",
    "start",
    "end",
    "reason",
    "defaults",
    "min_windows_duration",
    "time_zone",
    "Windows",
    "weekday",
    "ordinal_day",
    "TIMEZONE",
    "blackout",
];

const INTERESTING_STRINGS: [&str; 44] = [
    "18:00-22:00",
    "23:00-01:00",
    "00:00-24:00",
    "24:00-01:00",
    "10:00-10:00",
    "25:00-26:00",
    "10:60-11:00",
    "18:00:00-19:00",
    "aa",
    "18:00",
    "-",
    "mon",
    "Tuesday",
    "funday",
    "mon,tue",
    "mon,,tue",
    ",",
    "2nd tue",
    "last fri",
    "6th mon",
    "fifth sun",
    "2nd",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Mars/Olympus",
    "europe/berlin",
    "UTC",
    "",
    " ",
    "PRIMARIES",
    "full",
    "some",
    "2024-12-24T00:00:00",
    "2024-03-31T02:30:00",
    "2024-12-24T00:00:00+01:00",
    "2024-12-24",
    "2024-12-24T00:00:00[Europe/Berlin]",
    "9999-12-31T23:59:59",
    "-009999-01-01T00:00:00",
    "2024-02-30T00:00:00",
    "9999-12-31T23:59:59-25:59",
    "0000-01-01T00:00:00Z",
    "１８:００-２２:００",
];

fn fuzz_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(INTERESTING_STRINGS.to_vec()).prop_map(String::from),
        1 => "[0-9:\\- ,]{0,14}",
        1 => "\\PC{0,16}",
        1 => ".{0,10}",
    ]
    .boxed()
}

fn fuzz_key() -> BoxedStrategy<String> {
    prop_oneof![
        5 => select(SCHEMA_KEYS.to_vec()).prop_map(String::from),
        1 => "[a-z_]{1,10}",
        1 => fuzz_text().prop_map(|s| toml_string(&s)),
        1 => "[a-z]{1,6}\\.[a-z]{1,6}",
        1 => "[ -~]{0,6}",
    ]
    .boxed()
}

fn fuzz_scalar() -> BoxedStrategy<String> {
    prop_oneof![
        4 => fuzz_text().prop_map(|s| toml_string(&s)),
        1 => fuzz_text().prop_map(|s| format!("'{s}'")),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        2 => select(vec![
            "0", "-1", "30", "10080", "10081", "86400", "86401", "0x1E", "0o7", "0b1", "1_000", "+5",
            "99999999999999999999", "-0", "0x", "1__0", "01",
        ])
        .prop_map(String::from),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => select(vec!["nan", "inf", "-inf", "+nan", "1e10", "3.5", "1e400", "-0.0"]).prop_map(String::from),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        2 => select(vec![
            "2024-12-24T00:00:00",
            "2024-12-24T00:00:00Z",
            "2024-12-24 00:00:00+01:00",
            "2024-12-24",
            "00:30:00",
            "1979-05-27T00:32:00.999999-07:00",
            "2024-12-24T00:00",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00",
            "2024-03-31T02:30:00",
            "2024-02-30T00:00:00",
        ])
        .prop_map(String::from),
        1 => "[ -~]{0,12}",
    ]
    .boxed()
}

fn fuzz_value() -> BoxedStrategy<String> {
    fuzz_scalar()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                prop::collection::vec((fuzz_key(), inner), 0..3).prop_map(|pairs| {
                    let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", pairs.join(", "))
                }),
            ]
        })
        .boxed()
}

fn fuzz_line() -> BoxedStrategy<String> {
    let name = select(vec![
        "prod",
        "defaults",
        "\"a.b\"",
        "\"quoted name\"",
        "x",
        "prod-eu",
        "\"\"",
    ]);
    let header = (name, 0u8..8).prop_map(|(name, form)| match form {
        0 => format!("[{name}]"),
        1 => format!("[[{name}.windows]]"),
        2 => format!("[[{name}.blackouts]]"),
        3 => format!("[{name}.windows]"),
        4 => format!("[{name}.blackouts]"),
        5 => format!("[[{name}]]"),
        6 => format!("[{name}.windows.extra]"),
        _ => format!("[{name}.timezone]"),
    });
    prop_oneof![
        3 => header,
        8 => (fuzz_key(), fuzz_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "[ -~]{0,20}",
        1 => Just(String::new()),
        1 => "# [ -~]{0,10}",
    ]
    .boxed()
}

/// Parses, and when the text is valid asks every question of every schedule; nothing may panic.
fn exercise(text: &str) {
    let Ok(config) = MaintenanceConfig::parse("fuzz.toml", text) else {
        return;
    };
    let mut names: Vec<String> = config.clusters.iter().map(|(name, _)| name.clone()).collect();
    names.push("no-such-cluster".to_string());
    for at in [ts("2024-03-31T01:30:00Z"), ts("2026-10-25T00:59:59Z")] {
        for name in &names {
            if let Ok(decision) = decide(&config, name, at, Duration::from_secs(3600)) {
                assert_eq!(decision.in_window, config.schedule(name).unwrap().0.is_open(at));
            }
        }
        for (_, schedule) in &config.clusters {
            let _ = schedule.upcoming(at, 3);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        exercise(&text);
    }

    #[test]
    fn parser_never_panics_on_toml_like_text(lines in prop::collection::vec(fuzz_line(), 0..25)) {
        exercise(&lines.join("\n"));
    }

    /// Random edits of the shipped sample: deep in the validation paths, still no panic.
    #[test]
    fn parser_never_panics_on_mutated_sample(edits in prop::collection::vec((any::<Index>(), 0u8..3, fuzz_line(), 0usize..20), 1..4)) {
        let mut text = SAMPLE_CONFIG.to_string();
        for (at, op, line, len) in &edits {
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            match op {
                0 => {
                    let mut end = (pos + len).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(pos..end, "");
                }
                1 => text.insert_str(pos, line),
                _ => {
                    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
                    let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
                    text.replace_range(start..end, line);
                }
            }
        }
        exercise(&text);
    }

    /// The single-value parsers accept or reject, never panic; what they accept prints back
    /// to the same value.
    #[test]
    fn value_parsers_never_panic(text in prop_oneof![fuzz_text(), "\\PC{0,30}", ".{0,30}", "[0-9:T\\-+Z ]{0,30}"], zone in 0usize..ZONES.len()) {
        if let Ok(range) = TimeRange::parse(&text) {
            prop_assert!(range.start != range.end && range.start < TimeOfDay::END_OF_DAY);
            prop_assert_eq!(TimeRange::parse(&range.to_string()), Ok(range));
        }
        if let Ok(time) = TimeOfDay::parse(&text) {
            prop_assert_eq!(TimeOfDay::parse(&time.to_string()), Ok(time));
        }
        if let Ok(rule) = OrdinalDay::parse(&text) {
            prop_assert_eq!(OrdinalDay::parse(&rule.to_string()), Ok(rule));
        }
        let _ = MinAvailability::parse(&text);
        let tz = &ZONE_INFO[zone].tz;
        if let (Ok(t), Ok(exact)) = (parse_instant(&text, tz), text.trim().parse::<Timestamp>()) {
            prop_assert_eq!(t, exact);
        }
    }

    /// `HH:MM-HH:MM` with numbers in and out of range: accepted exactly when valid.
    #[test]
    fn time_ranges_are_accepted_exactly_when_valid(h1 in 0u16..=30, m1 in 0u16..=70, h2 in 0u16..=30, m2 in 0u16..=70) {
        let text = format!("{h1:02}:{m1:02}-{h2:02}:{m2:02}");
        let valid_time = |h: u16, m: u16| m < 60 && (h < 24 || (h == 24 && m == 0));
        let valid = valid_time(h1, m1) && valid_time(h2, m2) && h1 < 24 && (h1, m1) != (h2, m2);
        let parsed = TimeRange::parse(&text);
        prop_assert_eq!(parsed.is_ok(), valid, "{} -> {:?}", text, parsed);
        if let Ok(range) = parsed {
            prop_assert_eq!((range.start.minutes(), range.end.minutes()), (h1 * 60 + m1, h2 * 60 + m2));
        }
    }

    /// `<ordinal> <weekday>`: accepted exactly when both words are valid.
    #[test]
    fn ordinal_days_are_accepted_exactly_when_valid(
        ord in select(vec!["1st", "first", "2nd", "Second", "3RD", "third", "4th", "fourth", "5th", "fifth", "last", "6th", "0th", "lst", "", "2"]),
        day in select(vec!["mon", "Tuesday", "WED", "thu", "friday", "sat", "SUNDAY", "funday", "mo", "", "1"]),
        spaces in select(vec![" ", "  ", "\t", ""]),
    ) {
        let text = format!("{ord}{spaces}{day}");
        let valid_ord = !matches!(ord, "6th" | "0th" | "lst" | "" | "2");
        let valid_day = !matches!(day, "funday" | "mo" | "" | "1");
        let parsed = OrdinalDay::parse(&text);
        prop_assert_eq!(parsed.is_ok(), valid_ord && valid_day && !spaces.is_empty(), "{:?} -> {:?}", text, parsed);
    }

    /// Any valid config at any representable instant (including the ends of time): no panic.
    #[test]
    fn decide_never_panics_at_any_instant(
        spec in config_spec(),
        secs in prop_oneof![
            Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            select(vec![Timestamp::MIN.as_second(), Timestamp::MAX.as_second(), Timestamp::MIN.as_second() + 86_400, Timestamp::MAX.as_second() - 86_400]),
        ],
    ) {
        let (r, config) = load(&spec)?;
        let t = Timestamp::from_second(secs).unwrap();
        let decision = decide(&config, &r.cluster, t, Duration::from_secs(1800)).unwrap();
        let schedule = generated(&config, &r);
        prop_assert_eq!(decision.in_window, schedule.is_open(t));
        let _ = schedule.upcoming(t, 3);
    }
}
