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

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::spec::{OrdinalDay, TimeOfDay, TimeRange, WeekdaySet};

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
        if let Some(days) = self.weekdays
            && !days.contains(date.weekday())
        {
            return false;
        }
        match &self.ordinal_days {
            Some(rules) => rules.iter().any(|rule| rule.matches(date)),
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

/// `date` at `time` (where `24:00` is not representable: callers pass the wall-clock end).
fn at(date: Date, time: TimeOfDay) -> DateTime {
    // Hours 0..=23 and minutes 0..=59 always make a valid civil time.
    let civil = Time::constant(time.hour() as i8 % 24, time.minute() as i8, 0, 0);
    date.to_datetime(civil)
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
pub fn occurrence_on(tz: &TimeZone, position: usize, window: &Window, date: Date) -> Option<Occurrence> {
    if !window.occurs_on(date) {
        return None;
    }
    let start = resolve_local(tz, at(date, window.range.start))?;
    let end_date = if window.range.ends_next_day() {
        date.tomorrow().ok()?
    } else {
        date
    };
    let end = resolve_local(tz, at(end_date, window.range.end_wall_clock()))?;
    (start < end).then_some(Occurrence {
        window: position,
        date,
        start,
        end,
    })
}

/// Appends the occurrences of all `windows` that start on `date` to `out`, in start order (ties
/// in file order).
pub fn occurrences_on(tz: &TimeZone, windows: &[Window], date: Date, out: &mut Vec<Occurrence>) {
    let first = out.len();
    out.extend(
        windows
            .iter()
            .enumerate()
            .filter_map(|(position, window)| occurrence_on(tz, position, window, date)),
    );
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
        let o = occurrence_on(&berlin, 0, &w, date(2024, 3, 31)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-03-31T01:00:00Z"), ts("2024-03-31T02:00:00Z"))
        );
        // Fall back: starts at the first 02:00 (CEST), ends 04:00 CET: three hours long.
        let o = occurrence_on(&berlin, 0, &w, date(2024, 10, 27)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-10-27T00:00:00Z"), ts("2024-10-27T03:00:00Z"))
        );
        // A window entirely inside the skipped hour does not occur that day.
        assert_eq!(
            occurrence_on(&berlin, 0, &window("02:10-02:50"), date(2024, 3, 31)),
            None
        );
        assert!(occurrence_on(&berlin, 0, &window("02:10-02:50"), date(2024, 3, 30)).is_some());
    }

    #[test]
    fn midnight_crossing_and_end_of_day() {
        let utc = TimeZone::UTC;
        let o = occurrence_on(&utc, 0, &window("23:00-01:00"), date(2024, 1, 5)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (ts("2024-01-05T23:00:00Z"), ts("2024-01-06T01:00:00Z"))
        );
        let o = occurrence_on(&utc, 0, &window("18:00-24:00"), date(2024, 1, 5)).unwrap();
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
        occurrences_on(&TimeZone::UTC, &windows, date(2024, 1, 1), &mut out);
        let order: Vec<usize> = out.iter().map(|o| o.window).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }
}
