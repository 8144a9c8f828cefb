//! From window rules to occurrences: concrete `[start, end)` instants on the time line.
//!
//! A window rule (`18:00-22:00` on `mon,tue`) is written in wall-clock time in the cluster's
//! zone. This module is the only place that turns wall-clock times into instants, so the
//! daylight-saving rule lives in exactly one function, [`resolve_local`]:
//!
//! * a local time that does not exist (spring forward) means the first instant after the gap,
//!   i.e. the instant of the transition itself;
//! * a local time that occurs twice (fall back) means its first occurrence.
//!
//! Both sides of an occurrence go through that rule, so an occurrence keeps its wall-clock end
//! (its length may grow or shrink on a DST day, and a window lying entirely inside a skipped
//! hour does not occur that day). Because the rule maps later wall-clock times to later or equal
//! instants, occurrences generated day by day come out in start order, which is what lets
//! [`super::schedule`] stop at the first day that has a candidate.

use std::cell::Cell;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::spec::{DayFacts, DayMask, OrdinalDay, TimeOfDay, TimeRange, WeekdaySet};

/// One `[[<cluster>.windows]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// 1-based position in the file, as error messages and listings show it.
    pub index: usize,
    pub description: Option<String>,
    pub range: TimeRange,
    /// `None` means every weekday.
    pub weekdays: Option<WeekdaySet>,
    /// `None` means no monthly rule. When both this and `weekdays` are given, both must hold.
    pub ordinal_days: Option<Vec<OrdinalDay>>,
}

impl Window {
    /// True when an occurrence of this window *starts* on `date` (local calendar day). Weekday
    /// and ordinal rules are evaluated on the start day, also for the part after midnight.
    pub fn occurs_on(&self, date: Date) -> bool {
        self.occurs_on_day(&DayFacts::of(date))
    }

    /// [`Window::occurs_on`] for a day whose facts are already computed.
    pub fn occurs_on_day(&self, day: &DayFacts) -> bool {
        if let Some(days) = self.weekdays
            && !days.contains(day.weekday)
        {
            return false;
        }
        match &self.ordinal_days {
            Some(rules) => rules.iter().any(|rule| rule.matches_day(day)),
            None => true,
        }
    }

    /// The description, or `window <index>` when there is none.
    pub fn label(&self) -> String {
        match &self.description {
            Some(text) if !text.trim().is_empty() => text.clone(),
            _ => format!("window {}", self.index),
        }
    }
}

/// Resolves a wall-clock date-time in `tz` to an instant with the documented DST rule (see the
/// module documentation). `None` only at the edges of the representable range (years ±9999).
pub fn resolve_local(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(local).ok()
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the later offset, the local time lands before the transition; the next
            // transition from there is the first instant after the gap.
            let probe = after.to_timestamp(local).ok()?;
            let transition = tz.following(probe).next()?;
            Some(transition.timestamp())
        }
    }
}

/// [`resolve_local`] with a cache of the current UTC-offset period, so that resolving the many
/// wall-clock times of a schedule costs arithmetic instead of a time-zone lookup each.
///
/// The cache holds an offset and the instants `[from, until)` between two transitions during
/// which it applies. A candidate `local - offset` that lies more than [`Resolver::MARGIN`] inside
/// that period is the only instant with that wall-clock time: any other reading would need a
/// different offset, and offsets differ by at most 26 hours. Everything else goes to
/// [`resolve_local`], which also refreshes the cache.
pub struct Resolver<'tz> {
    tz: &'tz TimeZone,
    /// The cached offset and the instants `[lo, hi)` (Unix seconds) where a candidate may use
    /// it: the period between two transitions, shrunk by the margin on both sides.
    period: Cell<Option<(Offset, i64, i64)>>,
    /// Local midnight of one date read with the cached offset, in Unix seconds (valid while
    /// `period` is).
    midnight: Cell<Option<(Date, i64)>>,
}

impl<'tz> Resolver<'tz> {
    /// Larger than any difference between two UTC offsets (-12:00 to +14:00).
    pub const MARGIN: SignedDuration = SignedDuration::from_hours(48);

    pub fn new(tz: &'tz TimeZone) -> Self {
        Resolver {
            tz,
            period: Cell::new(None),
            midnight: Cell::new(None),
        }
    }

    /// The same answer as [`resolve_local`].
    pub fn resolve(&self, local: DateTime) -> Option<Timestamp> {
        if let Some((offset, lo, hi)) = self.period.get()
            && let Ok(candidate) = offset.to_timestamp(local)
            && (lo..hi).contains(&candidate.as_second())
        {
            return Some(candidate);
        }
        self.resolve_exactly(local)
    }

    /// [`Resolver::resolve`] of `date` plus `minutes` (up to two days, for ends on the next
    /// day): while the cached period applies this is integer arithmetic.
    pub fn resolve_minutes(&self, date: Date, minutes: u16) -> Option<Timestamp> {
        let seconds = i64::from(minutes) * 60;
        if let Some((offset, lo, hi)) = self.period.get() {
            let midnight = match self.midnight.get() {
                Some((cached, midnight)) if cached == date => Some(midnight),
                _ => offset
                    .to_timestamp(date.to_datetime(Time::midnight()))
                    .ok()
                    .map(|m| {
                        self.midnight.set(Some((date, m.as_second())));
                        m.as_second()
                    }),
            };
            if let Some(candidate) = midnight.map(|m| m + seconds)
                && (lo..hi).contains(&candidate)
                && let Ok(t) = Timestamp::from_second(candidate)
            {
                return Some(t);
            }
        }
        let local = date
            .to_datetime(Time::midnight())
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()?;
        self.resolve_exactly(local)
    }

    /// [`resolve_local`], then cache the period around the answer.
    fn resolve_exactly(&self, local: DateTime) -> Option<Timestamp> {
        let exact = resolve_local(self.tz, local)?;
        // A transition exactly at `exact` is found by probing one second later (transitions fall
        // on whole seconds); the margin makes the exact boundary semantics irrelevant anyway.
        let probe = exact.checked_add(SignedDuration::from_secs(1)).unwrap_or(exact);
        let from = self
            .tz
            .preceding(probe)
            .next()
            .map_or(Timestamp::MIN, |t| t.timestamp());
        let until = self
            .tz
            .following(exact)
            .next()
            .map_or(Timestamp::MAX, |t| t.timestamp());
        let margin = Self::MARGIN.as_secs();
        let lo = from.as_second().saturating_add(margin);
        let hi = until.as_second().saturating_sub(margin);
        self.midnight.set(None);
        self.period.set(Some((self.tz.to_offset(exact), lo, hi)));
        Some(exact)
    }
}

/// One concrete occurrence of a window: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// Position of the window in its schedule's `windows` (0-based).
    pub window: usize,
    /// The local day the occurrence starts on.
    pub date: Date,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Occurrence {
    /// True when `t` lies in `[start, end)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }
}

/// The occurrence of `window` that starts on `date`, if the window occurs that day and the
/// occurrence is not empty (a window entirely inside a skipped hour is empty).
pub fn occurrence_on(
    resolver: &Resolver<'_>,
    position: usize,
    window: &Window,
    date: Date,
) -> Option<Occurrence> {
    occurrence_on_day(resolver, position, window, &DayFacts::of(date))
}

/// [`occurrence_on`] for a day whose facts are already computed.
fn occurrence_on_day(
    resolver: &Resolver<'_>,
    position: usize,
    window: &Window,
    day: &DayFacts,
) -> Option<Occurrence> {
    if !window.occurs_on_day(day) {
        return None;
    }
    let date = day.date;
    let start = resolver.resolve_minutes(date, window.range.start.minutes())?;
    let end_minutes = if window.range.ends_next_day() {
        TimeOfDay::MINUTES_PER_DAY + window.range.end_wall_clock().minutes()
    } else {
        window.range.end.minutes()
    };
    let end = resolver.resolve_minutes(date, end_minutes)?;
    (start < end).then_some(Occurrence {
        window: position,
        date,
        start,
        end,
    })
}

/// A window reduced to what generating its occurrences needs. [`compile`] makes them, in the
/// order [`occurrences_on`] visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompiledWindow {
    /// Position in the schedule's `windows`.
    pub position: usize,
    /// The days it occurs on.
    pub days: DayMask,
    /// Start and end in minutes from the start day's midnight (the end may be on the next day).
    pub start: u16,
    pub end: u16,
}

/// The windows compiled and ordered by local start time, ties in file order. Because later
/// wall-clock times never resolve to earlier instants, this is (up to ties) the order of the
/// occurrences' starts on any day.
pub fn compile(windows: &[Window]) -> Vec<CompiledWindow> {
    let mut compiled: Vec<CompiledWindow> = windows
        .iter()
        .enumerate()
        .map(|(position, w)| CompiledWindow {
            position,
            days: DayMask::of_rules(w.weekdays, w.ordinal_days.as_deref()),
            start: w.range.start.minutes(),
            end: if w.range.ends_next_day() {
                TimeOfDay::MINUTES_PER_DAY + w.range.end_wall_clock().minutes()
            } else {
                w.range.end.minutes()
            },
        })
        .collect();
    compiled.sort_by_key(|w| (w.start, w.position));
    compiled
}

/// Appends the occurrences of the `compiled` windows that start on `date` to `out`, in start
/// order, ties in file order.
pub fn occurrences_on(
    resolver: &Resolver<'_>,
    compiled: &[CompiledWindow],
    date: Date,
    out: &mut Vec<Occurrence>,
) {
    let first = out.len();
    let today = DayFacts::of(date).mask();
    for w in compiled.iter().filter(|w| w.days.intersects(today)) {
        if let (Some(start), Some(end)) = (
            resolver.resolve_minutes(date, w.start),
            resolver.resolve_minutes(date, w.end),
        ) && start < end
        {
            out.push(Occurrence {
                window: w.position,
                date,
                start,
                end,
            });
        }
    }
    // Already in start order; different wall-clock starts inside one DST gap resolve to the same
    // instant, and those ties go back to file order. On sorted input this is one comparison per
    // occurrence.
    out[first..].sort_by_key(|occurrence| (occurrence.start, occurrence.window));
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn unambiguous_times_use_the_zone_offset() {
        let berlin = tz("Europe/Berlin");
        let local = date(2024, 1, 6).at(2, 30, 0, 0);
        assert_eq!(resolve_local(&berlin, local), Some(ts("2024-01-06T01:30:00Z")));
    }

    #[test]
    fn a_time_in_a_gap_is_the_first_instant_after_the_gap() {
        // Berlin springs forward 2024-03-31 02:00 CET -> 03:00 CEST (01:00Z).
        let berlin = tz("Europe/Berlin");
        for (h, m) in [(2, 0), (2, 30), (2, 59)] {
            let local = date(2024, 3, 31).at(h, m, 0, 0);
            assert_eq!(
                resolve_local(&berlin, local),
                Some(ts("2024-03-31T01:00:00Z")),
                "{h}:{m}"
            );
        }
        // Lord Howe springs forward by 30 minutes: 2024-10-06 02:00 +10:30 -> 02:30 +11 (15:30Z).
        let lord_howe = tz("Australia/Lord_Howe");
        let local = date(2024, 10, 6).at(2, 15, 0, 0);
        assert_eq!(resolve_local(&lord_howe, local), Some(ts("2024-10-05T15:30:00Z")));
        // Santiago springs forward at midnight: 2024-09-08 00:00 -04 -> 01:00 -03 (04:00Z).
        let santiago = tz("America/Santiago");
        let local = date(2024, 9, 8).at(0, 30, 0, 0);
        assert_eq!(resolve_local(&santiago, local), Some(ts("2024-09-08T04:00:00Z")));
    }

    #[test]
    fn a_time_in_a_fold_is_its_first_occurrence() {
        // Berlin falls back 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 happens at 00:30Z and 01:30Z.
        let berlin = tz("Europe/Berlin");
        let local = date(2024, 10, 27).at(2, 30, 0, 0);
        assert_eq!(resolve_local(&berlin, local), Some(ts("2024-10-27T00:30:00Z")));
        // Santiago falls back 2024-04-07 00:00 -03 -> 23:00 -04 on the 6th: 23:30 on the 6th
        // happens at 02:30Z and 03:30Z.
        let santiago = tz("America/Santiago");
        let local = date(2024, 4, 6).at(23, 30, 0, 0);
        assert_eq!(resolve_local(&santiago, local), Some(ts("2024-04-07T02:30:00Z")));
    }

    #[test]
    fn day_masks_agree_with_the_rules() {
        let rules: Vec<(Option<&str>, Option<&str>)> = vec![
            (None, None),
            (Some("mon,fri"), None),
            (None, Some("2nd tue, last fri, 5th sun")),
            (Some("tue,fri"), Some("2nd tue, last fri, 1st mon")),
        ];
        for (weekdays, ordinals) in rules {
            let mut w = window("10:00-11:00");
            w.weekdays = weekdays.map(|text| {
                let mut set = WeekdaySet::default();
                text.split(',')
                    .for_each(|d| set.insert(super::super::spec::parse_weekday(d).unwrap()));
                set
            });
            w.ordinal_days =
                ordinals.map(|text| text.split(',').map(|r| OrdinalDay::parse(r).unwrap()).collect());
            let mask = compile(std::slice::from_ref(&w))[0].days;
            let mut day = date(2023, 1, 1);
            while day < date(2025, 1, 1) {
                assert_eq!(
                    mask.intersects(DayFacts::of(day).mask()),
                    w.occurs_on(day),
                    "{weekdays:?} {ordinals:?} {day}"
                );
                day = day.tomorrow().unwrap();
            }
        }
    }

    #[test]
    fn the_cached_resolver_agrees_with_the_exact_rule() {
        // Every 10 minutes across two years, forwards and then backwards, in zones with hour,
        // half-hour, midnight and whole-day transitions.
        for name in [
            "Europe/Berlin",
            "Australia/Lord_Howe",
            "America/Santiago",
            "Pacific/Apia",
            "UTC",
        ] {
            let zone = tz(name);
            let resolver = Resolver::new(&zone);
            let start = date(2011, 1, 1).at(0, 0, 0, 0);
            let steps: Vec<DateTime> = (0..(2 * 366 * 24 * 6))
                .map(|i| start.checked_add(SignedDuration::from_mins(10 * i)).unwrap())
                .collect();
            for local in steps.iter().chain(steps.iter().rev()) {
                assert_eq!(
                    resolver.resolve(*local),
                    resolve_local(&zone, *local),
                    "{name} {local}"
                );
            }
        }
    }

    fn window(time: &str) -> Window {
        Window {
            index: 1,
            description: None,
            range: TimeRange::parse(time).unwrap(),
            weekdays: None,
            ordinal_days: None,
        }
    }

    #[test]
    fn occurrences_keep_their_wall_clock_end_across_dst() {
        let berlin = tz("Europe/Berlin");
        let w = window("02:00-04:00");
        // Spring forward: starts after the gap (03:00 CEST), ends 04:00 CEST: one hour long.
        let o = occurrence_on(&Resolver::new(&berlin), 0, &w, date(2024, 3, 31)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-03-31T01:00:00Z"), ts("2024-03-31T02:00:00Z"))
        );
        // Fall back: starts at the first 02:00 (CEST), ends 04:00 CET: three hours long.
        let o = occurrence_on(&Resolver::new(&berlin), 0, &w, date(2024, 10, 27)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-10-27T00:00:00Z"), ts("2024-10-27T03:00:00Z"))
        );
        // A window entirely inside the skipped hour does not occur that day.
        assert_eq!(
            occurrence_on(
                &Resolver::new(&berlin),
                0,
                &window("02:10-02:50"),
                date(2024, 3, 31)
            ),
            None
        );
        assert!(
            occurrence_on(
                &Resolver::new(&berlin),
                0,
                &window("02:10-02:50"),
                date(2024, 3, 30)
            )
            .is_some()
        );
    }

    #[test]
    fn midnight_crossing_and_end_of_day() {
        let utc = TimeZone::UTC;
        let o = occurrence_on(&Resolver::new(&utc), 0, &window("23:00-01:00"), date(2024, 1, 5)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-01-05T23:00:00Z"), ts("2024-01-06T01:00:00Z"))
        );
        let o = occurrence_on(&Resolver::new(&utc), 0, &window("18:00-24:00"), date(2024, 1, 5)).unwrap();
        assert_eq!(o.end, ts("2024-01-06T00:00:00Z"));
        assert!(!o.contains(ts("2024-01-06T00:00:00Z")), "the end is exclusive");
        assert!(o.contains(ts("2024-01-05T23:59:59.999Z")));
    }

    #[test]
    fn occurrences_of_a_day_come_in_start_order() {
        let windows = vec![
            window("20:00-22:00"),
            window("10:00-12:00"),
            window("10:00-11:00"),
        ];
        let mut out = Vec::new();
        occurrences_on(
            &Resolver::new(&TimeZone::UTC),
            &compile(&windows),
            date(2024, 1, 1),
            &mut out,
        );
        let order: Vec<usize> = out.iter().map(|o| o.window).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }
}
