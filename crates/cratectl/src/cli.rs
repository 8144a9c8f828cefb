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
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Output format; a command's own -o wins.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the subcommand. Flags override environment
/// variables, which override a `.env` file in the working directory.
#[derive(Clone, Debug, Default, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file [default: the files in KUBECONFIG, else ~/.kube/config].
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: its current context].
    #[arg(long, global = true, env = "K8S_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace to look for clusters in [default: all namespaces].
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Where cratectl keeps its state (workflow records) [default: the user's state directory].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log verbosity on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Warn)]
    pub log_level: LogLevel,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Address CrateDB directly at this URL instead of through Kubernetes (http:// or https://).
    #[arg(long, global = true, env = "CRATEDB_CLUSTER_URL", value_name = "URL")]
    pub cluster_url: Option<String>,
    /// CrateDB user [default: system, with the password from the cluster's Secret].
    #[arg(long, global = true, env = "CRATEDB_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// CrateDB password (prefer the CRATEDB_PASSWORD variable: flags show in process lists).
    #[arg(
        long,
        global = true,
        env = "CRATEDB_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    /// A JWT bearer token for CrateDB instead of a password.
    #[arg(
        long,
        global = true,
        env = "CRATEDB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        conflicts_with = "password"
    )]
    pub token: Option<String>,
}

/// `--log-level`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    #[default]
    Warn,
    Info,
    Debug,
    Trace,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Maintenance windows: check a cluster, list and validate a file, write a sample.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),

    /// Discover and inspect CrateDB clusters: list, info, health, ping.
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Run SQL on a cluster. Statements that change state need --write.
    #[command(
        after_help = "Examples:\n  cratectl sql prod-eu 'SELECT name FROM sys.nodes'\n  \
        cratectl sql prod-eu 'SELECT * FROM sys.health WHERE table_name = ?' --arg t1 -o json\n  \
        cratectl sql prod-eu 'RESET GLOBAL \"cluster.routing.allocation.enable\"' --write"
    )]
    Sql(SqlArgs),

    /// Find what operations leave behind (settings, labels, Leases) and print the fix for each.
    ///
    /// Checks allocation.enable and allocation.exclude._name, graceful_stop.*, stale
    /// dc-util-routing-owner labels and expired cratectl Leases. Exit 0 when nothing is found,
    /// 1 when something is (or could not be checked), 2 for invalid input. Fixes nothing unless
    /// --fix.
    Doctor(DoctorArgs),
}

/// Which cluster a command is about: by name through Kubernetes, or `--cluster-url`.
#[derive(Clone, Debug, Args)]
pub struct ClusterRef {
    /// The cluster: its CrateDB resource name or spec.cluster.name. Optional with --cluster-url.
    #[arg(value_name = "CLUSTER")]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Lists the CrateDB clusters: version, nodes ready/desired, health, dc_util hook, the
    /// operation holding the cluster's Lease.
    List(ListArgs),
    /// Shows one cluster: resource, StatefulSets, pods, CrateDB nodes and master, the settings
    /// operations touch, and tables that are not GREEN.
    Info(InfoArgs),
    /// The health verdict and the readings behind it; with --watch, redraws until Ctrl-C.
    ///
    /// Exit 0 when the cluster is safe to disrupt a node, 1 when it is not (or is unreachable),
    /// 2 for invalid input.
    Health(HealthArgs),
    /// Whether every node answers, with latency. Exit 1 if any does not.
    Ping(PingArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Redraw a status line every --interval until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Time between readings with --watch, e.g. 2s or 1m.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: SignedDuration,
    /// Output format (text only with --watch).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// `cratectl sql -o`: results as a table, JSON or CSV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    #[default]
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The cluster (resource name or spec.cluster.name); with --cluster-url, give the
    /// statement alone.
    #[arg(value_name = "CLUSTER")]
    pub first: String,
    /// The statement, when CLUSTER is given.
    #[arg(value_name = "STATEMENT")]
    pub second: Option<String>,
    /// A parameter for the next `?` / `$n`, in order; JSON if it parses as JSON (42, true,
    /// null, [1,2]), else text.
    #[arg(long = "arg", value_name = "VALUE")]
    pub args: Vec<String>,
    /// Allow a statement that changes state (anything but SELECT, SHOW, EXPLAIN, VALUES).
    #[arg(long)]
    pub write: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<SqlFormat>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub cluster: ClusterRef,
    /// Apply every fix printed (SQL on the cluster, label removal, expired Lease deletion).
    #[arg(long)]
    pub fix: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
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
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args)]
pub struct ListWindowsArgs {
    /// The maintenance configuration file (TOML).
    pub config: PathBuf,
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
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
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
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
    /// Output format [default: text].
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
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
