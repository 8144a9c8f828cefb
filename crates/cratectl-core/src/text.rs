//! How text for people writes durations and instants: one format each, so `cluster info`, the
//! dry-run plan, a report, `list`, the maintenance commands and every message built in this
//! crate read alike.
//!
//! * [`duration`]: `45s`, `14m`, `3m05s`, `2h30m`, `2d04h` — the compact form of the duration
//!   flags (`--hold-timeout 5m`), the largest unit first and the next one after it, two digits
//!   wide; smaller units are cut, never rounded up, so "9m left" never promises more than there
//!   is. Under a minute tenths of a second are kept (`0.3s`, `42.5s`): a skipped pod or a step of
//!   a fast cluster should not read as `0s`.
//! * [`instant`]: RFC 3339 in UTC to the whole second, `2026-12-06T07:15:00Z`.
//!
//! Only text uses these. JSON keeps its own fields: durations as numbers of seconds
//! (`estimate_s`, `dc_util_timeout_s`) and instants at the precision they were recorded.

use std::time::Duration;

use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit};

/// `d` for people (rules in the module documentation): `0s`, `0.3s`, `45s`, `1m`, `3m05s`,
/// `14m`, `1h`, `2h30m`, `2d`, `2d04h`.
pub fn duration(d: Duration) -> String {
    // Tenths of a second, to the nearest: a duration that went through an f64 of seconds
    // (`Duration::from_secs_f64(0.3)`) must still read 0.3s.
    let tenths = d.as_millis().saturating_add(50) / 100;
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            tenth => format!("{}.{tenth}s", tenths / 10),
        };
    }
    let seconds = tenths / 10;
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    let pair = |big: u128, big_unit: &str, small: u128, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small:02}{small_unit}")
        }
    };
    match (days, hours) {
        (0, 0) => pair(minutes, "m", secs, "s"),
        (0, h) => pair(h, "h", minutes, "m"),
        (d, h) => pair(d, "d", h, "h"),
    }
}

/// A signed span as [`duration`]; a negative one reads as `0s` (say "ago" or "in the future"
/// by negating before).
pub fn span(d: SignedDuration) -> String {
    duration(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

/// `t` for people: RFC 3339 in UTC to the whole second (`2026-12-06T07:15:00Z`), the fraction
/// cut.
pub fn instant(t: Timestamp) -> String {
    t.round(
        TimestampRound::new()
            .smallest(Unit::Second)
            .mode(RoundMode::Floor),
    )
    .unwrap_or(t)
    .to_string()
}

/// [`instant`], or `-` for none.
pub fn instant_or_dash(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn durations() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(40), "0s"),
            (Duration::from_millis(50), "0.1s"),
            (Duration::from_secs_f64(0.3), "0.3s"),
            (Duration::from_secs_f64(42.46), "42.5s"),
            (secs(45), "45s"),
            (Duration::from_millis(59_940), "59.9s"),
            (Duration::from_millis(59_960), "1m"),
            (secs(60), "1m"),
            (secs(185), "3m05s"),
            (Duration::from_secs_f64(134.4), "2m14s"),
            (secs(14 * 60), "14m"),
            (secs(3599), "59m59s"),
            (secs(3600), "1h"),
            (secs(3720), "1h02m"),
            (secs(3720 + 59), "1h02m"),
            (secs(9000), "2h30m"),
            (secs(86_399), "23h59m"),
            (secs(86_400), "1d"),
            (secs(52 * 3600), "2d04h"),
            (secs(48 * 3600 + 59 * 60), "2d"),
            (secs(400 * 86_400), "400d"),
        ] {
            assert_eq!(duration(d), text, "{d:?}");
        }
        assert!(duration(Duration::MAX).ends_with('h'));
    }

    #[test]
    fn spans() {
        assert_eq!(span(SignedDuration::from_mins(190)), "3h10m");
        assert_eq!(span(SignedDuration::from_mins(-5)), "0s");
        assert_eq!(span(-SignedDuration::from_mins(-5)), "5m");
    }

    #[test]
    fn instants() {
        let t: Timestamp = "2026-12-06T07:15:00.700204536Z".parse().unwrap();
        assert_eq!(instant(t), "2026-12-06T07:15:00Z");
        let whole: Timestamp = "2026-12-06T07:15:59Z".parse().unwrap();
        assert_eq!(instant(whole), "2026-12-06T07:15:59Z");
        let before_epoch: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(instant(before_epoch), "1969-12-31T23:59:59Z");
        assert_eq!(instant_or_dash(None), "-");
        assert_eq!(instant_or_dash(Some(t)), "2026-12-06T07:15:00Z");
    }
}
