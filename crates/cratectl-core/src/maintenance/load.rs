//! Reading a maintenance file: TOML text to a validated [`MaintenanceConfig`].
//!
//! The document is parsed into toml's spanned tree and walked by hand rather than deserialized
//! with serde, for two reasons: every problem is collected (serde stops at the first), and each
//! message can name the file, line, cluster, window index, key and bad value, with a "did you
//! mean" for misspelt keys. Unknown keys are errors: the old tool ignored them, which is how a
//! typo such as `min_windows_duration` silently became the default.

use std::ops::Range;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::calendar::{Window, resolve_local};
use super::config::{ConfigError, ConfigErrors, DEFAULTS_TABLE, MaintenanceConfig, closest};
use super::schedule::{Blackout, DEFAULT_MIN_WINDOW, Schedule};
use super::spec::{MinAvailability, OrdinalDay, TimeRange, WeekdaySet, parse_weekday};

type Value<'i> = Spanned<DeValue<'i>>;

const SCHEDULE_KEYS: &[&str] = &[
    "timezone",
    "min_window_duration",
    "dc_util_timeout",
    "min_availability",
    "unrestricted",
    "windows",
    "blackouts",
];
const WINDOW_KEYS: &[&str] = &["time", "weekdays", "ordinal_days", "description"];
const BLACKOUT_KEYS: &[&str] = &["start", "end", "reason"];

/// Longest `min_window_duration` accepted: a week, in minutes.
const MAX_MIN_WINDOW_MINUTES: i64 = 7 * 24 * 60;
/// Longest `dc_util_timeout` accepted: a day, in seconds.
const MAX_DC_UTIL_TIMEOUT_SECS: i64 = 24 * 60 * 60;

pub(super) fn load(source: &str, text: &str) -> Result<MaintenanceConfig, ConfigErrors> {
    let mut loader = Loader::new(source, text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            loader.error(span, "", None, format!("invalid TOML: {}", error.message()));
        }
        return Err(ConfigErrors(loader.errors));
    }

    let mut clusters = Vec::new();
    let mut defaults = None;
    for (key, value) in document.get_ref().iter() {
        let name = key.get_ref().as_ref();
        let DeValue::Table(table) = value.get_ref() else {
            let mut message = format!(
                "top-level key '{name}' is a {}, but every top-level entry must be a table: \
                 [<cluster name>] or [{DEFAULTS_TABLE}]",
                value.get_ref().type_str()
            );
            if SCHEDULE_KEYS.contains(&name) {
                message.push_str(&format!("; '{name}' belongs inside one of those tables"));
            }
            loader.error(key.span(), "", None, message);
            continue;
        };
        let context = if name == DEFAULTS_TABLE {
            format!("[{DEFAULTS_TABLE}]")
        } else {
            format!("cluster '{name}'")
        };
        let span = loader.table_span(value, key);
        if let Some(schedule) = loader.schedule(&context, name, table, span) {
            if name == DEFAULTS_TABLE {
                defaults = Some(schedule);
            } else {
                clusters.push((name.to_string(), schedule));
            }
        }
    }
    if loader.errors.is_empty() && clusters.is_empty() && defaults.is_none() {
        loader.error(
            0..0,
            "",
            None,
            format!(
                "the file configures no cluster and no [{DEFAULTS_TABLE}]; add a table per cluster \
                 (see `cratectl maintenance create-config`)"
            ),
        );
    }
    // Report in reading order, whatever order the checks ran in.
    loader.errors.sort_by_key(|e| (e.line, e.column));
    loader.warnings.sort_by_key(|e| (e.line, e.column));
    if loader.errors.is_empty() {
        Ok(MaintenanceConfig {
            source: source.to_string(),
            clusters,
            defaults,
            warnings: loader.warnings,
        })
    } else {
        Err(ConfigErrors(loader.errors))
    }
}

struct Loader<'a> {
    source: &'a str,
    text: &'a str,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl<'a> Loader<'a> {
    fn new(source: &'a str, text: &'a str) -> Self {
        Loader {
            source,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn located(&self, span: Range<usize>, context: &str, key: Option<&str>, message: String) -> ConfigError {
        let offset = span.start.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        ConfigError {
            file: self.source.to_string(),
            line,
            column,
            context: context.to_string(),
            key: key.map(str::to_string),
            message,
        }
    }

    fn error(&mut self, span: Range<usize>, context: &str, key: Option<&str>, message: String) {
        let error = self.located(span, context, key, message);
        self.errors.push(error);
    }

    fn warn(&mut self, span: Range<usize>, context: &str, key: Option<&str>, message: String) {
        let warning = self.located(span, context, key, message);
        self.warnings.push(warning);
    }

    /// Where to point for a table: its own span, or its key's when the table is implicit (a
    /// cluster that only appears as `[[name.windows]]` has no header of its own).
    fn table_span(&self, value: &Value<'_>, key: &Spanned<std::borrow::Cow<'_, str>>) -> Range<usize> {
        let span = value.span();
        if span.is_empty() { key.span() } else { span }
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], context: &str, what: &str) {
        for key in table.keys() {
            let name = key.get_ref().as_ref();
            if allowed.contains(&name) {
                continue;
            }
            let mut message = format!("unknown key '{name}' in {what}");
            match closest(name, allowed.iter().copied()).first() {
                Some(suggestion) => message.push_str(&format!("; did you mean '{suggestion}'?")),
                None => message.push_str(&format!("; valid keys are {}", allowed.join(", "))),
            }
            self.error(key.span(), context, None, message);
        }
    }

    fn type_error(&mut self, value: &Value<'_>, context: &str, key: &str, expected: &str) {
        let message = format!(
            "expected {expected}, found {} {}",
            value.get_ref().type_str(),
            shown(value)
        );
        self.error(value.span(), context, Some(key), message);
    }

    fn string<'v>(&mut self, value: &'v Value<'_>, context: &str, key: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.type_error(value, context, key, "a string");
                None
            }
        }
    }

    fn integer(
        &mut self,
        value: &Value<'_>,
        context: &str,
        key: &str,
        unit: &str,
        range: (i64, i64),
    ) -> Option<i64> {
        let expected = format!("a whole number of {unit} from {} to {}", range.0, range.1);
        let DeValue::Integer(integer) = value.get_ref() else {
            self.type_error(value, context, key, &expected);
            return None;
        };
        match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(n) if (range.0..=range.1).contains(&n) => Some(n),
            _ => {
                let message = format!("{} is out of range: expected {expected}", integer.as_str());
                self.error(value.span(), context, Some(key), message);
                None
            }
        }
    }

    /// A list given either as an array of strings or as one comma-separated string; each item is
    /// returned trimmed, with the span to point at when it is wrong.
    fn string_list(
        &mut self,
        value: &Value<'_>,
        context: &str,
        key: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let items: Vec<(String, Range<usize>)> = match value.get_ref() {
            DeValue::String(s) => s
                .split(',')
                .map(|item| (item.trim().to_string(), value.span()))
                .collect(),
            DeValue::Array(array) => {
                let mut items = Vec::new();
                for item in array.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => items.push((s.trim().to_string(), item.span())),
                        _ => {
                            self.type_error(item, context, key, "a string in the list");
                            return None;
                        }
                    }
                }
                items
            }
            _ => {
                self.type_error(
                    value,
                    context,
                    key,
                    "a list of strings or one comma-separated string",
                );
                return None;
            }
        };
        if items.is_empty() || items.iter().all(|(item, _)| item.is_empty()) {
            let message = format!("'{key}' is empty; leave the key out to mean every day");
            self.error(value.span(), context, Some(key), message);
            return None;
        }
        if let Some((_, span)) = items.iter().find(|(item, _)| item.is_empty()) {
            let message = format!("empty entry in {}", shown(value));
            self.error(span.clone(), context, Some(key), message);
            return None;
        }
        Some(items)
    }

    fn schedule(
        &mut self,
        context: &str,
        name: &str,
        table: &DeTable<'_>,
        span: Range<usize>,
    ) -> Option<Schedule> {
        let errors_before = self.errors.len();
        self.unknown_keys(table, SCHEDULE_KEYS, context, "a cluster table");

        let mut timezone = Some((TimeZone::UTC, "UTC".to_string()));
        if let Some(value) = table.get("timezone") {
            timezone = self
                .string(value, context, "timezone")
                .and_then(|tz| self.timezone(value, tz, context));
        }
        let mut min_window_duration = DEFAULT_MIN_WINDOW;
        if let Some(value) = table.get("min_window_duration")
            && let Some(minutes) = self.integer(
                value,
                context,
                "min_window_duration",
                "minutes",
                (0, MAX_MIN_WINDOW_MINUTES),
            )
        {
            min_window_duration = Duration::from_secs(minutes.unsigned_abs() * 60);
        }
        let dc_util_timeout = table.get("dc_util_timeout").and_then(|value| {
            self.integer(
                value,
                context,
                "dc_util_timeout",
                "seconds",
                (1, MAX_DC_UTIL_TIMEOUT_SECS),
            )
            .map(|secs| Duration::from_secs(secs.unsigned_abs()))
        });
        let min_availability = table.get("min_availability").and_then(|value| {
            let text = self.string(value, context, "min_availability")?;
            MinAvailability::parse(text)
                .map_err(|message| self.error(value.span(), context, Some("min_availability"), message))
                .ok()
        });
        let mut unrestricted = false;
        if let Some(value) = table.get("unrestricted") {
            match value.get_ref() {
                DeValue::Boolean(b) => unrestricted = *b,
                _ => self.type_error(value, context, "unrestricted", "true or false"),
            }
        }

        let mut windows = Vec::new();
        for (index, window_table, window_span) in self.array_of_tables(table, "windows", name, context) {
            let window_context = format!("{context}, window {index}");
            if let Some(window) = self.window(&window_context, index, window_table, window_span) {
                windows.push(window);
            }
        }
        let mut blackouts = Vec::new();
        // With an invalid zone (already reported), blackouts are still checked, read as UTC.
        let blackout_tz = timezone.as_ref().map_or(TimeZone::UTC, |(tz, _)| tz.clone());
        for (index, blackout_table, blackout_span) in self.array_of_tables(table, "blackouts", name, context)
        {
            let blackout_context = format!("{context}, blackout {index}");
            if let Some(blackout) = self.blackout(
                &blackout_context,
                index,
                blackout_table,
                blackout_span,
                &blackout_tz,
            ) {
                blackouts.push(blackout);
            }
        }

        if windows.is_empty() && !unrestricted && !table.contains_key("windows") {
            let header = if name == DEFAULTS_TABLE {
                name.to_string()
            } else {
                format!("\"{name}\"")
            };
            let message = format!(
                "no maintenance windows: add [[{header}.windows]] entries, or set unrestricted = true \
                 to allow maintenance at any time (a cluster without windows is never treated as unrestricted)"
            );
            self.error(span.clone(), context, None, message);
        }
        if unrestricted && !windows.is_empty() {
            let message = format!(
                "unrestricted = true: the {} window(s) are ignored; the cluster is open at any time outside blackouts",
                windows.len()
            );
            self.warn(span.clone(), context, Some("unrestricted"), message);
        }
        for window in &windows {
            let length = window.range.nominal_minutes();
            if !unrestricted && u64::from(length) * 60 < min_window_duration.as_secs() {
                let message = format!(
                    "window {} ({}) lasts {length} min, less than min_window_duration ({} min): \
                     on its own it can never be used",
                    window.index,
                    window.range,
                    min_window_duration.as_secs() / 60
                );
                self.warn(span.clone(), context, None, message);
            }
        }

        if self.errors.len() > errors_before {
            return None;
        }
        let (timezone, timezone_name) = timezone?;
        Some(Schedule::new(
            timezone,
            timezone_name,
            min_window_duration,
            dc_util_timeout,
            min_availability,
            unrestricted,
            windows,
            blackouts,
        ))
    }

    fn timezone(&mut self, value: &Value<'_>, name: &str, context: &str) -> Option<(TimeZone, String)> {
        match TimeZone::get(name) {
            Ok(tz) => Some((tz, name.to_string())),
            Err(_) => {
                let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
                let mut message = format!(
                    "unknown time zone \"{name}\": expected an IANA name such as \"Europe/Berlin\" or \"UTC\""
                );
                let suggestions = closest(name, names.iter().map(String::as_str));
                if !suggestions.is_empty() {
                    message.push_str(&format!("; did you mean \"{}\"?", suggestions.join("\", \"")));
                }
                self.error(value.span(), context, Some("timezone"), message);
                None
            }
        }
    }

    /// The entries of `[[<name>.<key>]]`, with their 1-based index and span. A wrong shape is
    /// reported and yields nothing.
    fn array_of_tables<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
        name: &str,
        context: &str,
    ) -> Vec<(usize, &'t DeTable<'i>, Range<usize>)> {
        let Some(value) = table.get(key) else {
            return Vec::new();
        };
        let header = if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            format!("[[{name}.{key}]]")
        } else {
            format!("[[\"{name}\".{key}]]")
        };
        let DeValue::Array(array) = value.get_ref() else {
            self.type_error(
                value,
                context,
                key,
                &format!("an array of tables, written {header}"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in array.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(entry) => out.push((i + 1, entry, item.span())),
                _ => self.type_error(item, context, key, &format!("a table, written {header}")),
            }
        }
        if out.is_empty() && array.iter().next().is_none() {
            let message = format!("'{key}' is an empty array; write {header} entries or leave the key out");
            self.error(value.span(), context, Some(key), message);
        }
        out
    }

    fn window(
        &mut self,
        context: &str,
        index: usize,
        table: &DeTable<'_>,
        span: Range<usize>,
    ) -> Option<Window> {
        let errors_before = self.errors.len();
        self.unknown_keys(table, WINDOW_KEYS, context, "a window");
        let range = match table.get("time") {
            None => {
                let message = "missing key 'time': every window needs time = \"HH:MM-HH:MM\"".to_string();
                self.error(span, context, None, message);
                None
            }
            Some(value) => self.string(value, context, "time").and_then(|text| {
                TimeRange::parse(text)
                    .map_err(|message| self.error(value.span(), context, Some("time"), message))
                    .ok()
            }),
        };
        let weekdays = table.get("weekdays").and_then(|value| {
            let items = self.string_list(value, context, "weekdays")?;
            let mut set = WeekdaySet::default();
            let mut ok = true;
            for (item, item_span) in items {
                match parse_weekday(&item) {
                    Ok(day) => set.insert(day),
                    Err(message) => {
                        self.error(item_span, context, Some("weekdays"), message);
                        ok = false;
                    }
                }
            }
            ok.then_some(set)
        });
        let ordinal_days = table.get("ordinal_days").and_then(|value| {
            let items = self.string_list(value, context, "ordinal_days")?;
            let mut rules = Vec::new();
            let mut ok = true;
            for (item, item_span) in items {
                match OrdinalDay::parse(&item) {
                    Ok(rule) => rules.push(rule),
                    Err(message) => {
                        self.error(item_span, context, Some("ordinal_days"), message);
                        ok = false;
                    }
                }
            }
            ok.then_some(rules)
        });
        let description = table
            .get("description")
            .and_then(|value| self.string(value, context, "description").map(str::to_string));

        if let (Some(days), Some(rules)) = (weekdays, &ordinal_days)
            && rules.iter().all(|rule| !days.contains(rule.weekday))
            && let Some(value) = table.get("ordinal_days")
        {
            let message = format!(
                "the window can never open: no ordinal day ({}) falls on one of its weekdays ({}); \
                 both rules must hold when both are given",
                rules
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                days.days()
                    .map(super::spec::weekday_short)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.error(value.span(), context, Some("ordinal_days"), message);
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Window {
            index,
            description,
            range: range?,
            weekdays,
            ordinal_days,
        })
    }

    fn blackout(
        &mut self,
        context: &str,
        index: usize,
        table: &DeTable<'_>,
        span: Range<usize>,
        tz: &TimeZone,
    ) -> Option<Blackout> {
        let errors_before = self.errors.len();
        self.unknown_keys(table, BLACKOUT_KEYS, context, "a blackout");
        let mut instant = |key: &str| -> Option<(Timestamp, Range<usize>)> {
            let Some(value) = table.get(key) else {
                let message = format!("missing key '{key}': a blackout needs start and end");
                self.error(span.clone(), context, None, message);
                return None;
            };
            let text = match value.get_ref() {
                DeValue::Datetime(datetime) => datetime.to_string(),
                DeValue::String(s) => s.to_string(),
                _ => {
                    self.type_error(value, context, key, "a date-time");
                    return None;
                }
            };
            parse_instant(&text, tz)
                .map(|t| (t, value.span()))
                .map_err(|message| self.error(value.span(), context, Some(key), message))
                .ok()
        };
        let start = instant("start");
        let end = instant("end");
        let reason = table
            .get("reason")
            .and_then(|value| self.string(value, context, "reason").map(str::to_string));
        if let (Some((start, _)), Some((end, end_span))) = (&start, &end)
            && end <= start
        {
            let message = format!("end {end} is not after start {start} (both in UTC)");
            self.error(end_span.clone(), context, Some("end"), message);
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Blackout {
            index,
            start: start?.0,
            end: end?.0,
            reason,
        })
    }
}

/// Parses a blackout bound: RFC 3339 with an offset (`2024-12-24T00:00:00+01:00`, `…Z`), or a
/// local date-time in the cluster's zone (`2024-12-24T00:00:00`, seconds optional), resolved
/// with the same DST rule as windows.
pub fn parse_instant(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let expected = "expected a local date-time in the cluster's time zone such as \
                    2024-12-24T00:00:00, or RFC 3339 with an offset such as 2024-12-24T00:00:00+01:00";
    let trimmed = text.trim();
    if trimmed.contains('[') {
        return Err(format!(
            "invalid date-time \"{text}\": time zone annotations are not supported; {expected}"
        ));
    }
    if let Ok(t) = trimmed.parse::<Timestamp>() {
        return Ok(t);
    }
    // jiff's `Date` parser also accepts a date-time (ignoring the time), so look for the
    // separator between date and time instead.
    if trimmed.parse::<Date>().is_ok() && !trimmed.contains(['T', 't', ' ']) {
        return Err(format!(
            "invalid date-time \"{text}\": a date needs a time of day (the end is exclusive); {expected}"
        ));
    }
    match trimmed.parse::<DateTime>() {
        Ok(local) => resolve_local(tz, local)
            .ok_or_else(|| format!("invalid date-time \"{text}\": out of the supported range")),
        Err(_) => Err(format!("invalid date-time \"{text}\": {expected}")),
    }
}

/// A short rendering of a value for messages: strings quoted, other scalars as written.
fn shown(value: &Value<'_>) -> String {
    match value.get_ref() {
        DeValue::String(s) => format!("\"{s}\""),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}
