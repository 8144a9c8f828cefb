//! One cluster's maintenance schedule and the questions asked of it: is it open at `t`, when
//! does it open next, how long does the open time last, what are the next openings.
//!
//! An *occurrence* is a window rule placed on a day ([`super::calendar`]). An *opening* is an
//! occurrence with the blackouts cut out of it: blackouts win over windows, so one occurrence
//! yields zero, one or several openings. Every answer here is about openings.
//!
//! An `unrestricted` schedule has no windows: it is open at every instant that is not in a
//! blackout. Its openings are the gaps between blackouts and have no window behind them.

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::calendar::{Occurrence, Window, occurrences_on};
use super::spec::MinAvailability;

/// How far ahead `next_opening` and friends look, in days from the local date of the instant.
pub const HORIZON_DAYS: i32 = 400;

/// The default `min_window_duration`: 30 minutes.
pub const DEFAULT_MIN_WINDOW: Duration = Duration::from_secs(30 * 60);

/// A `[[<cluster>.blackouts]]` entry: no window is open in `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Blackout {
    /// 1-based position in the file.
    pub index: usize,
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: Option<String>,
}

impl Blackout {
    /// True when `t` lies in `[start, end)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The reason, or `blackout <index>` when there is none.
    pub fn label(&self) -> String {
        match &self.reason {
            Some(text) if !text.trim().is_empty() => text.clone(),
            _ => format!("blackout {}", self.index),
        }
    }
}

/// An occurrence with blackouts cut out, or (for an unrestricted schedule) a gap between
/// blackouts. `[start, end)`; `end` is `None` only for an unrestricted schedule with no later
/// blackout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    /// The occurrence it was cut from; `None` for an unrestricted schedule.
    pub occurrence: Option<Occurrence>,
}

impl Opening {
    /// True when `t` lies in `[start, end)`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && self.end.is_none_or(|end| t < end)
    }

    /// True when a blackout moved the start or the end of the underlying occurrence.
    pub fn is_cut(&self) -> bool {
        self.occurrence
            .is_some_and(|o| o.start != self.start || Some(o.end) != self.end)
    }
}

/// One cluster's (or the `[defaults]`) maintenance settings, validated.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub timezone: TimeZone,
    /// The IANA name as written in the file (or `UTC`).
    pub timezone_name: String,
    pub min_window_duration: Duration,
    pub dc_util_timeout: Option<Duration>,
    pub min_availability: Option<MinAvailability>,
    /// Always open (outside blackouts); windows, if any, are ignored.
    pub unrestricted: bool,
    pub windows: Vec<Window>,
    /// Sorted by start.
    pub blackouts: Vec<Blackout>,
}

impl Schedule {
    /// The local calendar date of `t` in this schedule's zone.
    pub fn local_date(&self, t: Timestamp) -> Date {
        self.timezone.to_datetime(t).date()
    }

    /// The blackout in force at `t`, if any (the one ending last when several overlap).
    pub fn blackout_at(&self, t: Timestamp) -> Option<&Blackout> {
        self.blackouts
            .iter()
            .filter(|b| b.contains(t))
            .max_by_key(|b| b.end)
    }

    /// The first instant at or after `t` that is not in a blackout (chained blackouts are
    /// followed to their last end).
    pub fn after_blackouts(&self, t: Timestamp) -> Timestamp {
        let mut cur = t;
        while let Some(b) = self.blackout_at(cur) {
            cur = b.end;
        }
        cur
    }

    /// The start of the first blackout that begins strictly after `t`.
    pub fn next_blackout_start(&self, t: Timestamp) -> Option<Timestamp> {
        self.blackouts.iter().map(|b| b.start).filter(|s| *s > t).min()
    }

    /// The occurrences of all windows that start on local dates `from..=until`, in start order.
    pub fn occurrences_between(&self, from: Date, until: Date) -> Occurrences<'_> {
        Occurrences {
            schedule: self,
            next_date: Some(from),
            until,
            buffer: Vec::new(),
            pos: 0,
        }
    }

    /// The openings `occurrence` yields after blackouts are cut out, in start order.
    pub fn openings_of(&self, occurrence: Occurrence) -> Vec<Opening> {
        let mut out = Vec::new();
        let mut cur = self.after_blackouts(occurrence.start);
        while cur < occurrence.end {
            let end = match self.next_blackout_start(cur) {
                Some(b) if b < occurrence.end => b,
                _ => occurrence.end,
            };
            out.push(Opening {
                start: cur,
                end: Some(end),
                occurrence: Some(occurrence),
            });
            cur = self.after_blackouts(end);
        }
        out
    }

    /// The last local date `next_opening` and friends look at, counted from `t`.
    fn horizon(&self, t: Timestamp) -> Date {
        let date = self.local_date(t);
        date.checked_add(HORIZON_DAYS.days()).unwrap_or(Date::MAX)
    }

    /// The first local date whose occurrences may contain `t` (a crossing window started the day
    /// before; one more day of margin for zones that once skipped a whole day).
    fn first_relevant_date(&self, t: Timestamp) -> Date {
        let date = self.local_date(t);
        date.checked_sub(2.days()).unwrap_or(Date::MIN)
    }

    /// The opening that contains `t`, if the schedule is open at `t`. When several overlapping
    /// windows contain `t`, the one that ends last.
    pub fn opening_at(&self, t: Timestamp) -> Option<Opening> {
        if self.blackout_at(t).is_some() {
            return None;
        }
        if self.unrestricted {
            let start = self
                .blackouts
                .iter()
                .map(|b| b.end)
                .filter(|end| *end <= t)
                .max()
                .unwrap_or(Timestamp::MIN);
            return Some(Opening {
                start,
                end: self.next_blackout_start(t),
                occurrence: None,
            });
        }
        let last_date = self.local_date(t).tomorrow().unwrap_or(Date::MAX);
        self.occurrences_between(self.first_relevant_date(t), last_date)
            .filter(|o| o.contains(t))
            .flat_map(|o| self.openings_of(o))
            .filter(|opening| opening.contains(t))
            .max_by_key(|opening| opening.end)
    }

    /// True when the schedule is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        self.opening_at(t).is_some()
    }

    /// The earliest opening that starts strictly after `t`, looking [`HORIZON_DAYS`] ahead.
    pub fn next_opening(&self, t: Timestamp) -> Option<Opening> {
        if self.unrestricted {
            // Openings of an unrestricted schedule start where blackouts end.
            let start = self
                .blackouts
                .iter()
                .map(|b| b.end)
                .filter(|end| *end > t && self.blackout_at(*end).is_none())
                .min()?;
            return Some(Opening {
                start,
                end: self.next_blackout_start(start),
                occurrence: None,
            });
        }
        let horizon = self.horizon(t);
        let mut best: Option<Opening> = None;
        for occurrence in self.occurrences_between(self.first_relevant_date(t), horizon) {
            if best.is_some_and(|b| occurrence.start > b.start) {
                break;
            }
            // Openings never start before their occurrence, and occurrences come in start order,
            // so once an occurrence starts after the best candidate nothing later can beat it.
            if let Some(candidate) = self.openings_of(occurrence).into_iter().find(|o| o.start > t)
                && best.is_none_or(|b| candidate.start < b.start)
            {
                best = Some(candidate);
            }
        }
        best
    }

    /// The end of the continuous open time that contains `t` (overlapping or back-to-back
    /// openings count as one), or `None` when the schedule is closed at `t`. The inner `None`
    /// means open with no end (unrestricted, no later blackout). Looks [`HORIZON_DAYS`] ahead;
    /// open time that runs past the horizon ends at the last opening seen.
    pub fn open_until(&self, t: Timestamp) -> Option<Option<Timestamp>> {
        let opening = self.opening_at(t)?;
        let Some(mut end) = opening.end else {
            return Some(None);
        };
        if self.unrestricted {
            return Some(Some(end));
        }
        let horizon = self.horizon(t);
        // One pass is enough: `end` only grows, occurrences come in start order, and an opening
        // never spans a blackout, so open time cannot continue past a blackout's start.
        for occurrence in self.occurrences_between(self.first_relevant_date(t), horizon) {
            if occurrence.start > end {
                break;
            }
            for piece in self.openings_of(occurrence) {
                if let Some(piece_end) = piece.end
                    && piece.start <= end
                    && piece_end > end
                {
                    end = piece_end;
                }
            }
        }
        Some(Some(end))
    }

    /// The next `count` openings that end after `t` (so an opening in progress comes first), in
    /// start order, looking [`HORIZON_DAYS`] ahead.
    pub fn upcoming(&self, t: Timestamp, count: usize) -> Vec<Opening> {
        if count == 0 {
            return Vec::new();
        }
        if self.unrestricted {
            let mut out = Vec::new();
            let mut cur = self.opening_at(t).or_else(|| self.next_opening(t));
            while let Some(opening) = cur {
                out.push(opening);
                if out.len() == count {
                    break;
                }
                cur = opening.end.and_then(|end| self.next_opening(end));
            }
            return out;
        }
        let horizon = self.horizon(t);
        let mut found: Vec<Opening> = Vec::new();
        for occurrence in self.occurrences_between(self.first_relevant_date(t), horizon) {
            // Once `count` openings are known, an occurrence starting after the latest of them
            // cannot contribute an earlier one.
            if found.len() >= count && found.iter().all(|o| o.start < occurrence.start) {
                break;
            }
            found.extend(
                self.openings_of(occurrence)
                    .into_iter()
                    .filter(|o| o.end.is_none_or(|end| end > t)),
            );
            found.sort_by_key(|o| o.start);
            found.truncate(count);
        }
        found
    }

    /// The window an opening was cut from.
    pub fn window_of(&self, opening: &Opening) -> Option<&Window> {
        opening.occurrence.and_then(|o| self.windows.get(o.window))
    }

    /// How an opening is called in messages: the window's description, `window <n>`, or
    /// `unrestricted`.
    pub fn label_of(&self, opening: &Opening) -> String {
        self.window_of(opening)
            .map_or_else(|| "unrestricted".to_string(), Window::label)
    }

    /// The minimum time that must be left in a window before a disruption starts: the larger of
    /// `min_window_duration` and what the caller says it needs.
    pub fn required(&self, needed: Duration) -> SignedDuration {
        let required = self.min_window_duration.max(needed);
        SignedDuration::try_from(required).unwrap_or(SignedDuration::MAX)
    }
}

/// Iterator over a schedule's occurrences, day by day, in start order. See
/// [`Schedule::occurrences_between`].
pub struct Occurrences<'s> {
    schedule: &'s Schedule,
    next_date: Option<Date>,
    until: Date,
    buffer: Vec<Occurrence>,
    pos: usize,
}

impl Iterator for Occurrences<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        while self.pos == self.buffer.len() {
            let date = self.next_date.filter(|date| *date <= self.until)?;
            self.next_date = date.tomorrow().ok();
            self.buffer.clear();
            self.pos = 0;
            occurrences_on(
                &self.schedule.timezone,
                &self.schedule.windows,
                date,
                &mut self.buffer,
            );
        }
        let occurrence = self.buffer[self.pos];
        self.pos += 1;
        Some(occurrence)
    }
}
