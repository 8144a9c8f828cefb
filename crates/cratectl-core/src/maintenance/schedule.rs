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

use super::calendar::{CompiledWindow, Occurrence, Resolver, Window, compile, occurrences_on};
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
    /// Read with [`Schedule::windows`]; private so `compiled` cannot go stale.
    windows: Vec<Window>,
    /// Sorted by start. Read with [`Schedule::blackouts`].
    blackouts: Vec<Blackout>,
    /// `windows` compiled for generating occurrences (see [`compile`]); set by [`Schedule::new`].
    compiled: Vec<CompiledWindow>,
}

impl Schedule {
    /// A schedule from validated parts (the loader is the caller). Blackouts are sorted here.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        timezone: TimeZone,
        timezone_name: String,
        min_window_duration: Duration,
        dc_util_timeout: Option<Duration>,
        min_availability: Option<MinAvailability>,
        unrestricted: bool,
        windows: Vec<Window>,
        mut blackouts: Vec<Blackout>,
    ) -> Schedule {
        blackouts.sort_by_key(|b| (b.start, b.end));
        let compiled = compile(&windows);
        Schedule {
            timezone,
            timezone_name,
            min_window_duration,
            dc_util_timeout,
            min_availability,
            unrestricted,
            windows,
            blackouts,
            compiled,
        }
    }

    /// The windows, in file order.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The blackouts, sorted by start.
    pub fn blackouts(&self) -> &[Blackout] {
        &self.blackouts
    }

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
            resolver: Resolver::new(&self.timezone),
            next_date: Some(from),
            until,
            buffer: Vec::with_capacity(self.windows.len()),
            pos: 0,
        }
    }

    /// The openings `occurrence` yields after blackouts are cut out, in start order.
    pub fn openings_of(&self, occurrence: Occurrence) -> Vec<Opening> {
        self.openings(occurrence).collect()
    }

    /// [`Schedule::openings_of`] without allocating.
    pub fn openings(&self, occurrence: Occurrence) -> Openings<'_> {
        Openings {
            schedule: self,
            occurrence,
            cur: self.after_blackouts(occurrence.start),
        }
    }

    /// The last local date `next_opening` and friends look at, counted from `t`.
    fn horizon(&self, t: Timestamp) -> Date {
        let date = self.local_date(t);
        date.checked_add(HORIZON_DAYS.days()).unwrap_or(Date::MAX)
    }

    /// The first local date whose occurrences may contain or start after `t`: the day before
    /// `t`'s (a crossing window). An occurrence that starts on date `d` ends by `d+2 00:00` local,
    /// which resolves to no later than `t` for every `d` before that.
    fn first_relevant_date(&self, t: Timestamp) -> Date {
        self.local_date(t).yesterday().unwrap_or(Date::MIN)
    }

    /// The occurrences around `t`, generated once, for asking several questions about `t`
    /// (as [`super::decide`] does). The `Schedule` methods below are shorthands for one question.
    pub fn near(&self, t: Timestamp) -> Near<'_> {
        let first = self.first_relevant_date(t);
        let last = self.local_date(t).tomorrow().unwrap_or(Date::MAX);
        let mut prefix = Vec::with_capacity(3 * self.windows.len());
        prefix.extend(self.occurrences_between(first, last));
        Near {
            schedule: self,
            t,
            prefix,
            last,
        }
    }

    /// The opening that contains `t`, if the schedule is open at `t`. When several overlapping
    /// windows contain `t`, the one that ends last.
    pub fn opening_at(&self, t: Timestamp) -> Option<Opening> {
        self.near(t).opening()
    }

    /// True when the schedule is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        self.opening_at(t).is_some()
    }

    /// The earliest opening that starts strictly after `t`, looking [`HORIZON_DAYS`] ahead.
    pub fn next_opening(&self, t: Timestamp) -> Option<Opening> {
        self.near(t).next_opening()
    }

    /// The end of the continuous open time that contains `t` (overlapping or back-to-back
    /// openings count as one), or `None` when the schedule is closed at `t`. The inner `None`
    /// means open with no end (unrestricted, no later blackout). Looks [`HORIZON_DAYS`] ahead;
    /// open time that runs past the horizon ends at the last opening seen.
    pub fn open_until(&self, t: Timestamp) -> Option<Option<Timestamp>> {
        let near = self.near(t);
        near.opening().map(|opening| near.open_until(opening))
    }

    /// [`Schedule::open_until`] for an `opening` already known to contain `t`: `None` means open
    /// with no end.
    pub fn open_until_from(&self, t: Timestamp, opening: Opening) -> Option<Timestamp> {
        self.near(t).open_until(opening)
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
                self.openings(occurrence)
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
    resolver: Resolver<'s>,
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
            occurrences_on(&self.resolver, &self.schedule.compiled, date, &mut self.buffer);
        }
        let occurrence = self.buffer[self.pos];
        self.pos += 1;
        Some(occurrence)
    }
}

impl Occurrences<'_> {
    /// Continues with the occurrences of local date `date`, dropping those not yet returned from
    /// earlier dates. Does nothing when `date` is not ahead of the iterator.
    pub fn skip_to(&mut self, date: Date) {
        if self.next_date.is_some_and(|next| date > next) {
            self.next_date = Some(date);
            self.buffer.clear();
            self.pos = 0;
        }
    }
}

/// Iterator over the openings of one occurrence. See [`Schedule::openings`].
pub struct Openings<'s> {
    schedule: &'s Schedule,
    occurrence: Occurrence,
    /// The first instant not yet handed out and not in a blackout.
    cur: Timestamp,
}

impl Iterator for Openings<'_> {
    type Item = Opening;

    fn next(&mut self) -> Option<Opening> {
        if self.cur >= self.occurrence.end {
            return None;
        }
        let end = match self.schedule.next_blackout_start(self.cur) {
            Some(b) if b < self.occurrence.end => b,
            _ => self.occurrence.end,
        };
        let opening = Opening {
            start: self.cur,
            end: Some(end),
            occurrence: Some(self.occurrence),
        };
        self.cur = self.schedule.after_blackouts(end);
        Some(opening)
    }
}

/// The occurrences of the local days around one instant (the day before to the day after),
/// generated once and shared by the questions asked about that instant. Each question reads them
/// and continues, lazily, with later days when it needs to.
pub struct Near<'s> {
    schedule: &'s Schedule,
    t: Timestamp,
    prefix: Vec<Occurrence>,
    /// The last local date `prefix` covers.
    last: Date,
}

impl<'s> Near<'s> {
    /// The occurrences from the day before `t` on, up to the horizon.
    fn scan(&self) -> Scan<'_> {
        let horizon = self.schedule.horizon(self.t);
        let rest_from = self.last.tomorrow().unwrap_or(Date::MAX);
        Scan {
            prefix: &self.prefix,
            rest: self.schedule.occurrences_between(rest_from, horizon),
        }
    }

    /// See [`Schedule::opening_at`].
    pub fn opening(&self) -> Option<Opening> {
        let (schedule, t) = (self.schedule, self.t);
        if schedule.blackout_at(t).is_some() {
            return None;
        }
        if schedule.unrestricted {
            let start = schedule
                .blackouts
                .iter()
                .map(|b| b.end)
                .filter(|end| *end <= t)
                .max()
                .unwrap_or(Timestamp::MIN);
            return Some(Opening {
                start,
                end: schedule.next_blackout_start(t),
                occurrence: None,
            });
        }
        self.scan()
            .take_while(|o| o.start <= t)
            .filter(|o| o.contains(t))
            .flat_map(|o| schedule.openings(o))
            .filter(|opening| opening.contains(t))
            .max_by_key(|opening| opening.end)
    }

    /// See [`Schedule::next_opening`].
    pub fn next_opening(&self) -> Option<Opening> {
        let (schedule, t) = (self.schedule, self.t);
        if schedule.unrestricted {
            // Openings of an unrestricted schedule start where blackouts end.
            let start = schedule
                .blackouts
                .iter()
                .map(|b| b.end)
                .filter(|end| *end > t && schedule.blackout_at(*end).is_none())
                .min()?;
            return Some(Opening {
                start,
                end: schedule.next_blackout_start(start),
                occurrence: None,
            });
        }
        let mut best: Option<Opening> = None;
        // Nothing opens inside a blackout, so the scan may start where the blackouts around `t`
        // end, and may jump over any later blackout an occurrence starts in.
        let mut occurrences = self.scan();
        occurrences.skip_to(schedule.first_relevant_date(schedule.after_blackouts(t)));
        while let Some(occurrence) = occurrences.next() {
            if best.is_some_and(|b| occurrence.start > b.start) {
                break;
            }
            // Openings never start before their occurrence, and occurrences come in start order,
            // so once an occurrence starts after the best candidate nothing later can beat it.
            if let Some(candidate) = schedule.openings(occurrence).find(|o| o.start > t) {
                if best.is_none_or(|b| candidate.start < b.start) {
                    best = Some(candidate);
                }
            } else if schedule.blackout_at(occurrence.start).is_some() {
                // Occurrences of the skipped days end before the blackouts do (see
                // `first_relevant_date`), so they could not open either.
                let resume = schedule.after_blackouts(occurrence.start);
                occurrences.skip_to(schedule.first_relevant_date(resume));
            }
        }
        best
    }

    /// See [`Schedule::open_until_from`]; `opening` must contain the instant.
    pub fn open_until(&self, opening: Opening) -> Option<Timestamp> {
        let mut end = opening.end?;
        if self.schedule.unrestricted {
            return Some(end);
        }
        // One pass is enough: `end` only grows, occurrences come in start order, and an opening
        // never spans a blackout, so open time cannot continue past a blackout's start.
        for occurrence in self.scan() {
            if occurrence.start > end {
                break;
            }
            for piece in self.schedule.openings(occurrence) {
                if let Some(piece_end) = piece.end
                    && piece.start <= end
                    && piece_end > end
                {
                    end = piece_end;
                }
            }
        }
        Some(end)
    }
}

/// A [`Near`]'s occurrences followed by later days. See [`Near::scan`].
struct Scan<'a> {
    prefix: &'a [Occurrence],
    rest: Occurrences<'a>,
}

impl Scan<'_> {
    /// Continues with the occurrences of local date `date` (see [`Occurrences::skip_to`]).
    fn skip_to(&mut self, date: Date) {
        let skipped = self.prefix.iter().take_while(|o| o.date < date).count();
        self.prefix = &self.prefix[skipped..];
        self.rest.skip_to(date);
    }
}

impl Iterator for Scan<'_> {
    type Item = Occurrence;

    fn next(&mut self) -> Option<Occurrence> {
        match self.prefix.split_first() {
            Some((first, rest)) => {
                self.prefix = rest;
                Some(*first)
            }
            None => self.rest.next(),
        }
    }
}
