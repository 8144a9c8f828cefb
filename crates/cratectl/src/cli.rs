//! The command line, as clap definitions. Only shapes and help text live here; what each command
//! does is in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::{SignedDuration, Timestamp};

use crate::exit::EXIT_CODES_HELP;

/// Day-2 operations on CrateDB clusters running on Kubernetes.
///
/// Rolling restarts gated on CrateDB health, maintenance windows with operator override,
/// scaling, snapshot restore and suspend/resume, run as durable workflows that survive a crash
/// and always restore the cluster settings they changed.
#[derive(Debug, Parser)]
#[command(
    name = "cratectl",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Maintenance windows: check a cluster, list and validate a file, write a sample.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON (a stable contract for scripts).
    Json,
    /// YAML (same fields as JSON).
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Is CLUSTER in a maintenance window at TIME, and should an operation wait?
    ///
    /// Prints the decision a restart would act on: whether a window is open, whether there is
    /// enough time left in it (min_window_duration, or --needed if larger), why, and when the
    /// next window opens. Exits 0 whatever the decision; 2 for an invalid file, an unknown
    /// cluster (no table and no [defaults]) or a bad --at.
    #[command(
        after_help = "Examples:\n  cratectl maintenance check maintenance.toml prod-eu\n  \
        cratectl maintenance check maintenance.toml prod-eu --at 2026-12-24T21:00:00+01:00 -o json"
    )]
    Check(CheckArgs),

    /// Lists every window of every cluster in CONFIG.
    ListWindows(ListWindowsArgs),

    /// Shows the next openings of CLUSTER with UTC and local times: the "why is it closed" view.
    ///
    /// An opening in progress is listed first. Openings are cut by blackouts; a cut one is
    /// marked.
    Next(NextArgs),

    /// Writes a commented sample configuration that passes validation.
    CreateConfig(CreateConfigArgs),

    /// Validates CONFIG: exit 0 with a summary, or 2 with every error found.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// The cluster name (the CrateDB resource's spec.cluster.name, else its metadata.name).
    pub cluster: String,
    /// The instant to decide for, RFC 3339 with an offset or Z (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// Open time the operation needs, e.g. 45m or 1h30m; the decision uses the larger of this
    /// and the cluster's min_window_duration.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub needed: Option<SignedDuration>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ListWindowsArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// The cluster name.
    pub cluster: String,
    /// Start from this instant, RFC 3339 with an offset or Z (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// How many openings to show (1 to 1000).
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub count: u16,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CreateConfigArgs {
    /// Where to write the sample; `-` writes to standard output.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "maintenance-windows.toml"
    )]
    pub output: PathBuf,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// `--at`: RFC 3339 with an offset or `Z`. A time without an offset is refused rather than
/// guessed.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|_| {
        format!("expected RFC 3339 with an offset or Z, e.g. 2026-01-15T19:30:00Z or 2026-01-15T20:30:00+01:00 (got \"{text}\")")
    })
}

/// `--needed`: a non-negative duration such as `45m`, `1h30m` or `PT2H`.
fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    match text.parse::<SignedDuration>() {
        Ok(d) if !d.is_negative() => Ok(d),
        Ok(_) => Err(format!("the duration must not be negative (got \"{text}\")")),
        Err(_) => Err(format!(
            "expected a duration such as 45m, 1h30m or 2h (got \"{text}\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn times_need_an_offset() {
        assert_eq!(
            parse_time("2024-01-01T19:00:00Z").unwrap().to_string(),
            "2024-01-01T19:00:00Z"
        );
        assert_eq!(
            parse_time("2024-01-01T20:00:00+01:00").unwrap().to_string(),
            "2024-01-01T19:00:00Z"
        );
        assert!(
            parse_time("2024-01-01T19:00:00")
                .unwrap_err()
                .contains("with an offset")
        );
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("45m").unwrap(), SignedDuration::from_mins(45));
        assert_eq!(parse_duration("1h30m").unwrap(), SignedDuration::from_mins(90));
        assert_eq!(parse_duration("PT2H").unwrap(), SignedDuration::from_hours(2));
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
