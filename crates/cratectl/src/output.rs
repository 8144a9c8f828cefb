//! Printing results: JSON and YAML from one serde view per command, text tables, and the time
//! formats every command shares.

use std::io::{self, Write};

use comfy_table::{LineStyle, Table, TableStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::exit::{CliError, CliResult};

/// Writes `text` to standard output. A closed pipe (`cratectl … | head`) is not an error.
pub fn print(text: &str) -> CliResult {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(CliError::failed(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints `value` as JSON or YAML. Callers handle `Text` themselves.
pub fn print_structured<T: Serialize>(format: OutputFormat, value: &T) -> CliResult {
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| e.to_string()),
        OutputFormat::Yaml => serde_yaml_ng::to_string(value).map_err(|e| e.to_string()),
        OutputFormat::Text => Err("text output has no structured form".to_string()),
    }
    .map_err(|e| CliError::failed(format!("cannot render output: {e}")))?;
    print(&text)
}

/// The house style: a rule under the header, nothing else.
const STYLE: TableStyle = TableStyle::new().header_separator(LineStyle::new('─', '─', '─', '─'));

/// A table in the house style.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(STYLE).set_header(header);
    table
}

/// A table as text, without the padding comfy-table leaves at line ends.
pub fn render(table: &Table) -> String {
    table
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// Rows of `label: value`, labels padded to one width.
pub fn key_values(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$} {value}\n", format!("{label}:")))
        .collect()
}

/// RFC 3339 in UTC, e.g. `2024-01-01T19:00:00Z`.
pub fn utc(t: Timestamp) -> String {
    t.to_string()
}

/// RFC 3339 with the zone's offset at that instant, e.g. `2024-01-01T20:00:00+01:00`.
pub fn local_rfc3339(tz: &TimeZone, t: Timestamp) -> String {
    t.display_with_offset(tz.to_offset(t)).to_string()
}

/// A short local reading for people, e.g. `Mon 2024-01-01 20:00 CET`.
pub fn local_human(tz: &TimeZone, t: Timestamp) -> String {
    t.to_zoned_datetime(tz.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let t: Timestamp = "2024-01-01T19:00:00Z".parse().unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(utc(t), "2024-01-01T19:00:00Z");
        assert_eq!(local_rfc3339(&berlin, t), "2024-01-01T20:00:00+01:00");
        assert_eq!(local_human(&berlin, t), "Mon 2024-01-01 20:00 CET");
    }

    #[test]
    fn key_values_align() {
        let text = key_values(&[("A", "1".into()), ("Longer", "2".into())]);
        assert_eq!(text, "A:      1\nLonger: 2\n");
    }
}
