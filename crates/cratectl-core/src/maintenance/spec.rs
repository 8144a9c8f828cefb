//! The small value types a maintenance file is made of, and the parsers that turn one TOML
//! string into each of them.
//!
//! Every parser here takes a single, already-extracted string and returns either the value or a
//! message saying what was wrong and what would be valid. Where in the file the string came from
//! (file, line, cluster, key) is added by [`super::load`], which is the only caller.

use std::fmt;

use jiff::civil::{Date, Weekday};

/// A wall-clock time of day at minute precision, `00:00` to `24:00` inclusive.
///
/// `24:00` is the end of the day; it is only valid as the end of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Minutes in a day; `TimeOfDay(MINUTES_PER_DAY)` is `24:00`.
    pub const MINUTES_PER_DAY: u16 = 24 * 60;
    /// `24:00`, the end of the day.
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(Self::MINUTES_PER_DAY);

    /// The time `hour:minute`, or `None` outside `00:00..=24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        let minutes = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && minutes <= Self::MINUTES_PER_DAY).then_some(TimeOfDay(minutes))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Hours part (0..=24).
    pub fn hour(self) -> u8 {
        // 1440 / 60 = 24 fits in a u8; the constructor guarantees the range.
        (self.0 / 60) as u8
    }

    /// Minutes part (0..=59).
    pub fn minute(self) -> u8 {
        (self.0 % 60) as u8
    }

    /// Parses `H:MM` or `HH:MM` (hours 0–24, minutes 00–59, `24:00` the only time with hour 24).
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        const EXPECTED: &str = "expected HH:MM with hours 00-23 and minutes 00-59 (24:00 allowed as an end)";
        let bad = || format!("invalid time \"{text}\": {EXPECTED}");
        let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
        let digits =
            |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(hours, &[1, 2]) || !digits(minutes, &[2]) {
            return Err(bad());
        }
        let hour: u8 = hours.parse().map_err(|_| bad())?;
        let minute: u8 = minutes.parse().map_err(|_| bad())?;
        if hour > 24 {
            return Err(format!(
                "invalid time \"{text}\": hour {hour} is out of range ({EXPECTED})"
            ));
        }
        if minute > 59 {
            return Err(format!(
                "invalid time \"{text}\": minute {minute} is out of range ({EXPECTED})"
            ));
        }
        TimeOfDay::new(hour, minute)
            .ok_or_else(|| format!("invalid time \"{text}\": only 24:00 may use hour 24 ({EXPECTED})"))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

/// A daily time range `start-end` in wall-clock time; the end is exclusive.
///
/// `end <= start` means the range crosses midnight and ends on the next day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl TimeRange {
    /// Parses `"HH:MM-HH:MM"`; spaces around either time are allowed.
    pub fn parse(text: &str) -> Result<TimeRange, String> {
        let (start, end) = text.split_once('-').ok_or_else(|| {
            format!("invalid time range \"{text}\": expected \"HH:MM-HH:MM\", e.g. \"18:00-22:00\"")
        })?;
        let start = TimeOfDay::parse(start.trim())?;
        let end = TimeOfDay::parse(end.trim())?;
        if start == TimeOfDay::END_OF_DAY {
            return Err(format!(
                "invalid time range \"{text}\": a window cannot start at 24:00; write 00:00"
            ));
        }
        if start == end {
            return Err(format!(
                "invalid time range \"{text}\": start equals end, which is ambiguous; \
                 write 00:00-24:00 for a whole day"
            ));
        }
        Ok(TimeRange { start, end })
    }

    /// True when the range ends on the day after it starts (`end <= start`, or `end` is `24:00`
    /// which is the next day's midnight).
    pub fn ends_next_day(self) -> bool {
        self.end <= self.start || self.end == TimeOfDay::END_OF_DAY
    }

    /// Length in minutes on a day without a DST change.
    pub fn nominal_minutes(self) -> u16 {
        if self.end > self.start {
            self.end.minutes() - self.start.minutes()
        } else {
            TimeOfDay::MINUTES_PER_DAY - self.start.minutes() + self.end.minutes()
        }
    }

    /// The end as a time of day on the day it falls on (`24:00` becomes `00:00`).
    pub fn end_wall_clock(self) -> TimeOfDay {
        TimeOfDay(self.end.minutes() % TimeOfDay::MINUTES_PER_DAY)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Parses a weekday name: `mon`..`sun` or `monday`..`sunday`, any case, surrounding spaces ignored.
pub fn parse_weekday(text: &str) -> Result<Weekday, String> {
    let name = text.trim().to_ascii_lowercase();
    let day = match name.as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => {
            return Err(format!(
                "unknown weekday \"{text}\": expected mon, tue, wed, thu, fri, sat, sun \
                 or the full name (any case)"
            ));
        }
    };
    Ok(day)
}

/// The three-letter lower-case name of a weekday, as written back in listings.
pub fn weekday_short(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// A set of weekdays, as a bit mask (bit 0 = Monday).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    fn bit(day: Weekday) -> u8 {
        1 << day.to_monday_zero_offset()
    }

    /// Adds a day.
    pub fn insert(&mut self, day: Weekday) {
        self.0 |= Self::bit(day);
    }

    /// True when the day is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & Self::bit(day) != 0
    }

    /// True when no day is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn days(self) -> impl Iterator<Item = Weekday> {
        (0..7i8)
            .filter_map(|offset| Weekday::from_monday_zero_offset(offset).ok())
            .filter(move |day| self.contains(*day))
    }
}

/// Which occurrence of a weekday within its month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ordinal {
    /// The n-th occurrence, 1 to 5.
    Nth(u8),
    /// The last occurrence in the month.
    Last,
}

impl Ordinal {
    fn parse(text: &str) -> Option<Ordinal> {
        Some(match text {
            "1st" | "first" => Ordinal::Nth(1),
            "2nd" | "second" => Ordinal::Nth(2),
            "3rd" | "third" => Ordinal::Nth(3),
            "4th" | "fourth" => Ordinal::Nth(4),
            "5th" | "fifth" => Ordinal::Nth(5),
            "last" => Ordinal::Last,
            _ => return None,
        })
    }

    fn short(self) -> &'static str {
        match self {
            Ordinal::Nth(1) => "1st",
            Ordinal::Nth(2) => "2nd",
            Ordinal::Nth(3) => "3rd",
            Ordinal::Nth(4) => "4th",
            Ordinal::Nth(_) => "5th",
            Ordinal::Last => "last",
        }
    }
}

/// A monthly rule such as `2nd tue` or `last fri`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrdinalDay {
    pub ordinal: Ordinal,
    pub weekday: Weekday,
}

impl OrdinalDay {
    /// Parses `"<ordinal> <weekday>"`, e.g. `"2nd tue"`, `"Last Friday"`.
    pub fn parse(text: &str) -> Result<OrdinalDay, String> {
        let lower = text.trim().to_ascii_lowercase();
        let mut words = lower.split_whitespace();
        let (Some(ordinal), Some(weekday), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "invalid ordinal day \"{text}\": expected \"<ordinal> <weekday>\", e.g. \"2nd tue\" or \"last fri\""
            ));
        };
        let ordinal = Ordinal::parse(ordinal).ok_or_else(|| {
            format!(
                "invalid ordinal day \"{text}\": unknown ordinal \"{ordinal}\"; expected \
                 1st|first, 2nd|second, 3rd|third, 4th|fourth, 5th|fifth or last"
            )
        })?;
        let weekday = parse_weekday(weekday).map_err(|e| format!("invalid ordinal day \"{text}\": {e}"))?;
        Ok(OrdinalDay { ordinal, weekday })
    }

    /// True for the day `facts` describe; the same answer as [`OrdinalDay::matches`], without
    /// recomputing the calendar facts for every rule.
    pub fn matches_day(self, facts: &DayFacts) -> bool {
        facts.weekday == self.weekday
            && match self.ordinal {
                Ordinal::Nth(n) => facts.nth == n,
                Ordinal::Last => facts.is_last,
            }
    }

    /// True when `date` is this ordinal weekday of its own month. `5th` does not exist in a month
    /// with only four of that weekday.
    pub fn matches(self, date: Date) -> bool {
        if date.weekday() != self.weekday {
            return false;
        }
        match self.ordinal {
            Ordinal::Nth(n) => (date.day() - 1) / 7 + 1 == n as i8,
            Ordinal::Last => date.day() + 7 > date.days_in_month(),
        }
    }
}

impl fmt::Display for OrdinalDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ordinal.short(), weekday_short(self.weekday))
    }
}

/// What window rules need to know about a calendar day, computed once per day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayFacts {
    pub date: Date,
    pub weekday: Weekday,
    /// Which occurrence of its weekday in the month (1 to 5).
    pub nth: u8,
    /// The last occurrence of its weekday in the month.
    pub is_last: bool,
}

impl DayFacts {
    /// The bits of [`DayMask`] this day sets: its (weekday, n-th) and, in the last week of the
    /// month, its (weekday, last).
    pub fn mask(&self) -> DayMask {
        let mut mask = DayMask::bit(self.weekday, Ordinal::Nth(self.nth));
        if self.is_last {
            mask.0 |= DayMask::bit(self.weekday, Ordinal::Last).0;
        }
        mask
    }

    pub fn of(date: Date) -> DayFacts {
        // day() is 1..=31, so nth is 1..=5 and fits a u8.
        let nth = ((date.day() - 1) / 7 + 1) as u8;
        DayFacts {
            date,
            weekday: date.weekday(),
            nth,
            is_last: date.day() + 7 > date.days_in_month(),
        }
    }
}

/// A set of days described by (weekday, which one in the month): 7 weekdays times 1st..5th and
/// last, one bit each. A window's rules compile to one mask; a day sets one or two bits
/// ([`DayFacts::mask`]); the window occurs that day when the two intersect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayMask(pub u64);

impl DayMask {
    const KINDS: u32 = 6;

    /// The bit for one (weekday, ordinal) pair.
    pub fn bit(weekday: Weekday, ordinal: Ordinal) -> DayMask {
        let kind = match ordinal {
            Ordinal::Nth(n) => u32::from(n.clamp(1, 5)) - 1,
            Ordinal::Last => 5,
        };
        DayMask(1 << (weekday.to_monday_zero_offset() as u32 * Self::KINDS + kind))
    }

    /// Every day of the given weekdays.
    pub fn weekdays(days: WeekdaySet) -> DayMask {
        let all_kinds = (1u64 << Self::KINDS) - 1;
        DayMask(days.days().fold(0, |mask, day| {
            mask | (all_kinds << (day.to_monday_zero_offset() as u32 * Self::KINDS))
        }))
    }

    /// The days matching `weekdays` (if given) and any of `ordinal_days` (if given).
    pub fn of_rules(weekdays: Option<WeekdaySet>, ordinal_days: Option<&[OrdinalDay]>) -> DayMask {
        let by_weekday = DayMask::weekdays(weekdays.unwrap_or(WeekdaySet(0x7f)));
        match ordinal_days {
            None => by_weekday,
            Some(rules) => DayMask(
                rules
                    .iter()
                    .fold(0, |mask, rule| mask | DayMask::bit(rule.weekday, rule.ordinal).0)
                    & by_weekday.0,
            ),
        }
    }

    pub fn intersects(self, other: DayMask) -> bool {
        self.0 & other.0 != 0
    }
}

/// CrateDB's `graceful_stop.min_availability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MinAvailability {
    /// No guarantee: the node stops without moving shards.
    None,
    /// Every primary stays available.
    Primaries,
    /// Every primary and replica stays available.
    Full,
}

impl MinAvailability {
    /// Parses `NONE`, `PRIMARIES` or `FULL` in any case.
    pub fn parse(text: &str) -> Result<MinAvailability, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "NONE" => Ok(MinAvailability::None),
            "PRIMARIES" => Ok(MinAvailability::Primaries),
            "FULL" => Ok(MinAvailability::Full),
            _ => Err(format!(
                "invalid min_availability \"{text}\": expected NONE, PRIMARIES or FULL (any case)"
            )),
        }
    }

    /// The value as CrateDB spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MinAvailability::None => "NONE",
            MinAvailability::Primaries => "PRIMARIES",
            MinAvailability::Full => "FULL",
        }
    }
}

impl fmt::Display for MinAvailability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn times_parse_and_print() {
        assert_eq!(TimeOfDay::parse("18:00").unwrap().minutes(), 18 * 60);
        assert_eq!(TimeOfDay::parse("02:30").unwrap().to_string(), "02:30");
        assert_eq!(TimeOfDay::parse("9:05").unwrap().to_string(), "09:05");
        assert_eq!(TimeOfDay::parse("24:00").unwrap(), TimeOfDay::END_OF_DAY);
    }

    #[test]
    fn bad_times_are_rejected_with_the_value() {
        for bad in [
            "25:00", "10:60", "18:00:00", "aa", "1", "", "24:01", "-1:00", "1:5", "+1:00", "１:00",
        ] {
            let err = TimeOfDay::parse(bad).unwrap_err();
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
        assert!(TimeOfDay::parse("25:00").unwrap_err().contains("hour 25"));
        assert!(TimeOfDay::parse("10:60").unwrap_err().contains("minute 60"));
    }

    #[test]
    fn ranges() {
        let r = TimeRange::parse(" 18:00 - 22:00 ").unwrap();
        assert_eq!(
            (r.start.to_string(), r.end.to_string()),
            ("18:00".into(), "22:00".into())
        );
        assert!(!r.ends_next_day());
        assert!(TimeRange::parse("23:00-01:00").unwrap().ends_next_day());
        assert!(TimeRange::parse("18:00-24:00").unwrap().ends_next_day());
        assert!(TimeRange::parse("00:00-24:00").unwrap().ends_next_day());
        assert_eq!(TimeRange::parse("00:00-24:00").unwrap().nominal_minutes(), 1440);
        assert_eq!(TimeRange::parse("23:00-01:00").unwrap().nominal_minutes(), 120);
        assert_eq!(TimeRange::parse("18:00-22:30").unwrap().nominal_minutes(), 270);
        assert!(
            TimeRange::parse("18:00")
                .unwrap_err()
                .contains("expected \"HH:MM-HH:MM\"")
        );
        assert!(TimeRange::parse("").is_err());
        assert!(TimeRange::parse("10:00-10:00").unwrap_err().contains("ambiguous"));
        assert!(
            TimeRange::parse("24:00-01:00")
                .unwrap_err()
                .contains("cannot start at 24:00")
        );
        assert!(TimeRange::parse("10:00-25:00").unwrap_err().contains("\"25:00\""));
    }

    #[test]
    fn weekdays_accept_short_and_long_names_in_any_case() {
        assert_eq!(parse_weekday(" MON ").unwrap(), Weekday::Monday);
        assert_eq!(parse_weekday("Sunday").unwrap(), Weekday::Sunday);
        assert!(parse_weekday("funday").unwrap_err().contains("\"funday\""));
        let mut set = WeekdaySet::default();
        set.insert(Weekday::Friday);
        set.insert(Weekday::Monday);
        assert_eq!(
            set.days().collect::<Vec<_>>(),
            vec![Weekday::Monday, Weekday::Friday]
        );
    }

    #[test]
    fn ordinal_days() {
        let second_tue = OrdinalDay::parse("2ND TUE").unwrap();
        assert_eq!(second_tue.to_string(), "2nd tue");
        assert!(second_tue.matches(date(2024, 1, 9)));
        assert!(!second_tue.matches(date(2024, 1, 16)));
        let last_fri = OrdinalDay::parse("Last  Friday").unwrap();
        assert!(last_fri.matches(date(2024, 1, 26)));
        assert!(!last_fri.matches(date(2024, 1, 19)));
        // Leap-year February.
        assert!(last_fri.matches(date(2024, 2, 23)));
        assert!(!last_fri.matches(date(2024, 2, 16)));
        // 5th Thursday exists in February 2024 (the 29th) but not in February 2023.
        let fifth_thu = OrdinalDay::parse("fifth thu").unwrap();
        assert!(fifth_thu.matches(date(2024, 2, 29)));
        assert!((1..=28).all(|d| !fifth_thu.matches(date(2023, 2, d))));
        assert!(
            OrdinalDay::parse("6th mon")
                .unwrap_err()
                .contains("unknown ordinal \"6th\"")
        );
        assert!(
            OrdinalDay::parse("2nd funday")
                .unwrap_err()
                .contains("\"funday\"")
        );
        assert!(OrdinalDay::parse("invalid").is_err());
        assert!(OrdinalDay::parse("2nd tue wed").is_err());
    }

    #[test]
    fn min_availability() {
        assert_eq!(
            MinAvailability::parse("primaries").unwrap(),
            MinAvailability::Primaries
        );
        assert_eq!(MinAvailability::parse("FULL").unwrap().as_str(), "FULL");
        assert!(
            MinAvailability::parse("some")
                .unwrap_err()
                .contains("NONE, PRIMARIES or FULL")
        );
    }
}
