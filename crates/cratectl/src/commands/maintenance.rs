//! `cratectl maintenance …`: the maintenance-window commands.
//!
//! Every decision comes from `cratectl_core::maintenance`; this module reads files, picks the
//! instant, and renders. The JSON shapes here are a contract (later tools parse them): add
//! fields, never rename or remove one.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use cratectl_core::maintenance::{
    ConfigError, DEFAULTS_TABLE, Decision, MaintenanceConfig, Opening, SAMPLE_CONFIG, Schedule, WindowRef,
    decide, spec::weekday_short,
};
use cratectl_core::text;
use jiff::tz::TimeZone;
use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit};
use serde::Serialize;

use crate::cli::{
    CheckArgs, CreateConfigArgs, ListWindowsArgs, MaintenanceCommand, NextArgs, OutputFormat, ValidateArgs,
};
use crate::exit::{CliError, CliResult};
use crate::files;
use crate::output::{self, key_values, local_human, local_rfc3339, print, print_structured, utc};

/// Runs `command`; `top` is the `-o` given before the subcommand (the command's own wins).
pub fn run(command: MaintenanceCommand, top: Option<OutputFormat>) -> CliResult {
    let format = |own: Option<OutputFormat>| own.or(top).unwrap_or_default();
    match command {
        MaintenanceCommand::Check(args) => check(format(args.output), args),
        MaintenanceCommand::ListWindows(args) => list_windows(format(args.output), args),
        MaintenanceCommand::Next(args) => next(format(args.output), args),
        MaintenanceCommand::CreateConfig(args) => create_config(args),
        MaintenanceCommand::Validate(args) => validate(format(args.output), args),
    }
}

/// Reads and validates a maintenance file; any problem is invalid input (exit 2).
fn load(path: &Path) -> CliResult<MaintenanceConfig> {
    let text = read(path)?;
    MaintenanceConfig::parse(&path.display().to_string(), &text).map_err(|errors| {
        let count = errors.0.len();
        let noun = if count == 1 { "error" } else { "errors" };
        CliError::invalid(format!(
            "invalid maintenance configuration ({count} {noun}):\n{errors}"
        ))
    })
}

/// Reads a maintenance file (bounded, see [`files`]); a file that cannot be read is invalid
/// input naming it and why.
fn read(path: &Path) -> CliResult<String> {
    files::read_text(path).map_err(|e| {
        CliError::invalid(format!(
            "cannot read maintenance configuration {}: {e}",
            path.display()
        ))
    })
}

/// The instant to decide for: `--at`, or now truncated to the second.
fn instant(at: Option<Timestamp>) -> Timestamp {
    at.unwrap_or_else(|| {
        let now = Timestamp::now();
        now.round(
            TimestampRound::new()
                .smallest(Unit::Second)
                .mode(RoundMode::Trunc),
        )
        .unwrap_or(now)
    })
}

fn schedule<'c>(config: &'c MaintenanceConfig, cluster: &str) -> CliResult<(&'c Schedule, bool)> {
    config
        .schedule(cluster)
        .map_err(|e| CliError::invalid(e.to_string()))
}

// ---- check ------------------------------------------------------------------------------

#[derive(Serialize)]
struct WindowView {
    description: String,
    start: String,
    /// Null only for an unrestricted cluster with no later blackout.
    end: Option<String>,
}

impl From<&WindowRef> for WindowView {
    fn from(w: &WindowRef) -> Self {
        WindowView {
            description: w.description.clone(),
            start: utc(w.start),
            end: w.end.map(utc),
        }
    }
}

#[derive(Serialize)]
struct BlackoutView {
    reason: String,
    start: String,
    end: String,
}

/// The `check` JSON contract: the first eight fields are the stable contract documented in the
/// README ("`check` JSON (contract)"); the rest extend it.
#[derive(Serialize)]
struct CheckView {
    cluster: String,
    at: String,
    timezone: String,
    in_window: bool,
    should_wait: bool,
    reason: String,
    window: Option<WindowView>,
    next_window: Option<WindowView>,
    /// End of the continuous open time (merged windows), null when closed or open without end.
    open_until: Option<String>,
    /// The blackout in force at `at`.
    blackout: Option<BlackoutView>,
    /// Open time required to start: max(min_window_duration, --needed), in minutes.
    required_minutes: u64,
    /// True when the cluster has no table and `[defaults]` decided.
    from_defaults: bool,
}

impl From<&Decision> for CheckView {
    fn from(d: &Decision) -> Self {
        CheckView {
            cluster: d.cluster.clone(),
            at: utc(d.at),
            timezone: d.timezone.clone(),
            in_window: d.in_window,
            should_wait: d.should_wait,
            reason: d.reason.clone(),
            window: d.window.as_ref().map(WindowView::from),
            next_window: d.next_window.as_ref().map(WindowView::from),
            open_until: d.open_until.map(utc),
            blackout: d.blackout.as_ref().map(|b| BlackoutView {
                reason: b.reason.clone(),
                start: utc(b.start),
                end: utc(b.end),
            }),
            required_minutes: d.required.as_secs() / 60,
            from_defaults: d.from_defaults,
        }
    }
}

fn check(output: OutputFormat, args: CheckArgs) -> CliResult {
    let config = load(&args.config)?;
    let at = instant(args.at);
    let needed = args.needed.map_or(Duration::ZERO, SignedDuration::unsigned_abs);
    let decision =
        decide(&config, &args.cluster, at, needed).map_err(|e| CliError::invalid(e.to_string()))?;
    if output != OutputFormat::Text {
        return print_structured(output, &CheckView::from(&decision));
    }
    let (schedule, _) = schedule(&config, &args.cluster)?;
    let tz = &schedule.timezone;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut cluster = decision.cluster.clone();
    if decision.from_defaults {
        cluster.push_str(&format!(" (no table of its own: [{DEFAULTS_TABLE}] applies)"));
    }
    let mut rows = vec![
        ("Cluster", cluster),
        ("At", format!("{} ({})", text::instant(at), local_human(tz, at))),
        ("Time zone", decision.timezone.clone()),
        ("In window", yes_no(decision.in_window).to_string()),
    ];
    if let Some(w) = &decision.window {
        rows.push(("Window", window_text(tz, w)));
    }
    if decision.in_window {
        let until = match decision.open_until {
            Some(t) => format!(
                "{} ({}, {} left)",
                text::instant(t),
                local_human(tz, t),
                text::span(t.duration_since(at))
            ),
            None => "no end (unrestricted, no blackout ahead)".to_string(),
        };
        rows.push(("Open until", until));
    }
    if let Some(b) = &decision.blackout {
        rows.push((
            "Blackout",
            format!(
                "'{}' until {} ({})",
                b.reason,
                text::instant(b.end),
                local_human(tz, b.end)
            ),
        ));
    }
    rows.push((
        "Required",
        text::span(SignedDuration::try_from(decision.required).unwrap_or(SignedDuration::MAX)),
    ));
    rows.push(("Should wait", yes_no(decision.should_wait).to_string()));
    rows.push(("Reason", decision.reason.clone()));
    rows.push((
        "Next window",
        decision
            .next_window
            .as_ref()
            .map_or_else(|| "none within 400 days".to_string(), |w| window_text(tz, w)),
    ));
    print(&key_values(&rows))
}

fn window_text(tz: &TimeZone, w: &WindowRef) -> String {
    match w.end {
        Some(end) => format!(
            "'{}' {} to {} ({} to {})",
            w.description,
            text::instant(w.start),
            text::instant(end),
            local_human(tz, w.start),
            local_human(tz, end)
        ),
        None => format!(
            "'{}' from {} ({}), no end",
            w.description,
            text::instant(w.start),
            local_human(tz, w.start)
        ),
    }
}

// ---- list-windows -----------------------------------------------------------------------

/// One entry of the `list-windows` JSON array (contract).
#[derive(Serialize)]
struct ListedWindow {
    cluster: String,
    /// 1-based position among the cluster's windows.
    index: usize,
    description: Option<String>,
    time: String,
    /// Null: every weekday.
    weekdays: Option<Vec<String>>,
    /// Null: no monthly rule.
    ordinal_days: Option<Vec<String>>,
    timezone: String,
}

/// Every schedule in the file, `[defaults]` last under the name `defaults`.
fn schedules(config: &MaintenanceConfig) -> Vec<(&str, &Schedule)> {
    let mut all: Vec<(&str, &Schedule)> = config.clusters.iter().map(|(n, s)| (n.as_str(), s)).collect();
    if let Some(defaults) = &config.defaults {
        all.push((DEFAULTS_TABLE, defaults));
    }
    all
}

fn list_windows(output: OutputFormat, args: ListWindowsArgs) -> CliResult {
    let config = load(&args.config)?;
    let listed: Vec<ListedWindow> = schedules(&config)
        .into_iter()
        .filter(|(_, s)| !s.unrestricted)
        .flat_map(|(name, s)| {
            s.windows().iter().map(move |w| ListedWindow {
                cluster: name.to_string(),
                index: w.index,
                description: w.description.clone(),
                time: w.range.to_string(),
                weekdays: w
                    .weekdays
                    .map(|set| set.days().map(|d| weekday_short(d).to_string()).collect()),
                ordinal_days: w
                    .ordinal_days
                    .as_ref()
                    .map(|rules| rules.iter().map(ToString::to_string).collect()),
                timezone: s.timezone_name.clone(),
            })
        })
        .collect();
    if output != OutputFormat::Text {
        return print_structured(output, &listed);
    }
    let mut windows = output::table(["Cluster", "#", "Time", "Days", "Time zone", "Description"]);
    let mut blackouts = output::table(["Cluster", "#", "Start (UTC)", "End (UTC)", "Reason"]);
    for (name, s) in schedules(&config) {
        if s.unrestricted {
            windows.add_row([
                name,
                "-",
                "any time",
                "every day",
                &s.timezone_name,
                "unrestricted",
            ]);
        }
        for w in s.windows().iter().filter(|_| !s.unrestricted) {
            let mut days = Vec::new();
            if let Some(set) = w.weekdays {
                days.push(set.days().map(weekday_short).collect::<Vec<_>>().join(","));
            }
            if let Some(rules) = &w.ordinal_days {
                days.push(
                    rules
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            let days = if days.is_empty() {
                "every day".to_string()
            } else {
                days.join(" and ")
            };
            windows.add_row([
                name.to_string(),
                w.index.to_string(),
                w.range.to_string(),
                days,
                s.timezone_name.clone(),
                w.description.clone().unwrap_or_default(),
            ]);
        }
        for b in s.blackouts() {
            blackouts.add_row([
                name.to_string(),
                b.index.to_string(),
                text::instant(b.start),
                text::instant(b.end),
                b.label(),
            ]);
        }
    }
    let mut text = output::render(&windows);
    if !blackouts.is_empty() {
        text.push_str(&format!("\nBlackouts:\n{}", output::render(&blackouts)));
    }
    print(&text)
}

// ---- next -------------------------------------------------------------------------------

#[derive(Serialize)]
struct NextOpening {
    description: String,
    /// 1-based window index; null for an unrestricted cluster.
    window_index: Option<usize>,
    /// Null: open since before any blackout (unrestricted clusters only).
    start: Option<String>,
    /// Null: no end (unrestricted, no later blackout).
    end: Option<String>,
    local_start: Option<String>,
    local_end: Option<String>,
    /// The opening contains `at`.
    in_progress: bool,
    /// A blackout moved its start or end.
    cut_by_blackout: bool,
}

#[derive(Serialize)]
struct NextView {
    cluster: String,
    at: String,
    timezone: String,
    unrestricted: bool,
    from_defaults: bool,
    openings: Vec<NextOpening>,
    /// Blackouts that end after `at`.
    blackouts: Vec<BlackoutView>,
}

fn next(output: OutputFormat, args: NextArgs) -> CliResult {
    let config = load(&args.config)?;
    let (schedule, from_defaults) = schedule(&config, &args.cluster)?;
    let at = instant(args.at);
    let tz = &schedule.timezone;
    let openings = schedule.upcoming(at, usize::from(args.count));
    let known_start = |o: &Opening| (o.start != Timestamp::MIN).then_some(o.start);
    let view = NextView {
        cluster: args.cluster.clone(),
        at: utc(at),
        timezone: schedule.timezone_name.clone(),
        unrestricted: schedule.unrestricted,
        from_defaults,
        openings: openings
            .iter()
            .map(|o| NextOpening {
                description: schedule.label_of(o),
                window_index: schedule.window_of(o).map(|w| w.index),
                start: known_start(o).map(utc),
                end: o.end.map(utc),
                local_start: known_start(o).map(|t| local_rfc3339(tz, t)),
                local_end: o.end.map(|t| local_rfc3339(tz, t)),
                in_progress: o.contains(at),
                cut_by_blackout: o.is_cut(),
            })
            .collect(),
        blackouts: schedule
            .blackouts()
            .iter()
            .filter(|b| b.end > at)
            .map(|b| BlackoutView {
                reason: b.label(),
                start: utc(b.start),
                end: utc(b.end),
            })
            .collect(),
    };
    if output != OutputFormat::Text {
        return print_structured(output, &view);
    }

    let mut text = format!(
        "Next openings of {} after {} ({}), time zone {}{}:\n",
        args.cluster,
        text::instant(at),
        local_human(tz, at),
        schedule.timezone_name,
        if from_defaults { ", from [defaults]" } else { "" }
    );
    let mut table = output::table([
        "Window",
        "Local start",
        "Local end",
        "UTC start",
        "UTC end",
        "Note",
    ]);
    for o in &openings {
        let mut notes = Vec::new();
        if o.contains(at) {
            notes.push("open now".to_string());
        }
        if o.is_cut() {
            notes.push("cut by a blackout".to_string());
        }
        match o.end {
            Some(end) if o.contains(at) => notes.push(format!("{} left", text::span(end.duration_since(at)))),
            Some(end) => notes.push(format!("{} long", text::span(end.duration_since(o.start)))),
            None => {}
        }
        let show =
            |t: Option<Timestamp>, f: &dyn Fn(Timestamp) -> String, none: &str| t.map_or(none.to_string(), f);
        table.add_row([
            schedule.label_of(o),
            show(known_start(o), &|t| local_human(tz, t), "-"),
            show(o.end, &|t| local_human(tz, t), "no end"),
            show(known_start(o), &text::instant, "-"),
            show(o.end, &text::instant, "no end"),
            notes.join(", "),
        ]);
    }
    if openings.is_empty() {
        text.push_str("  none within 400 days\n");
    } else {
        text.push_str(&output::render(&table));
    }
    if !view.blackouts.is_empty() {
        let mut blackouts = output::table(["Blackout", "Start (UTC)", "End (UTC)"]);
        for b in schedule.blackouts().iter().filter(|b| b.end > at) {
            blackouts.add_row([b.label(), text::instant(b.start), text::instant(b.end)]);
        }
        text.push_str(&format!("\nBlackouts ahead:\n{}", output::render(&blackouts)));
    }
    print(&text)
}

// ---- create-config ----------------------------------------------------------------------

fn create_config(args: CreateConfigArgs) -> CliResult {
    if args.output.as_os_str() == "-" {
        return print(SAMPLE_CONFIG);
    }
    let path = &args.output;
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        // create_new fails if the file exists, with no window between check and write.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::invalid(format!(
                "{} already exists; use --force to overwrite it",
                path.display()
            ))
        } else {
            CliError::failed(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    file.write_all(SAMPLE_CONFIG.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    eprintln!(
        "Wrote a sample maintenance configuration to {}.\nEdit it, check it with `cratectl maintenance validate {}`, \
         then pass it to operations with --maintenance-config.",
        path.display(),
        path.display()
    );
    Ok(())
}

// ---- validate ---------------------------------------------------------------------------

#[derive(Serialize)]
struct ProblemView {
    file: String,
    line: usize,
    column: usize,
    context: String,
    key: Option<String>,
    message: String,
    /// The whole line as text prints it.
    text: String,
}

impl From<&ConfigError> for ProblemView {
    fn from(e: &ConfigError) -> Self {
        ProblemView {
            file: e.file.clone(),
            line: e.line,
            column: e.column,
            context: e.context.clone(),
            key: e.key.clone(),
            message: e.message.clone(),
            text: e.to_string(),
        }
    }
}

#[derive(Serialize)]
struct ScheduleSummary {
    cluster: String,
    timezone: String,
    unrestricted: bool,
    windows: usize,
    blackouts: usize,
    min_window_duration_minutes: u64,
}

#[derive(Serialize)]
struct ValidateView {
    file: String,
    valid: bool,
    clusters: Vec<ScheduleSummary>,
    errors: Vec<ProblemView>,
    warnings: Vec<ProblemView>,
}

fn validate(output: OutputFormat, args: ValidateArgs) -> CliResult {
    let file = args.config.display().to_string();
    let text = read(&args.config)?;
    let (config, errors) = match MaintenanceConfig::parse(&file, &text) {
        Ok(config) => (Some(config), Vec::new()),
        Err(errors) => (None, errors.0),
    };
    let view = ValidateView {
        file: file.clone(),
        valid: errors.is_empty(),
        clusters: config.as_ref().map_or_else(Vec::new, |c| {
            schedules(c)
                .into_iter()
                .map(|(name, s)| ScheduleSummary {
                    cluster: name.to_string(),
                    timezone: s.timezone_name.clone(),
                    unrestricted: s.unrestricted,
                    windows: s.windows().len(),
                    blackouts: s.blackouts().len(),
                    min_window_duration_minutes: s.min_window_duration.as_secs() / 60,
                })
                .collect()
        }),
        errors: errors.iter().map(ProblemView::from).collect(),
        warnings: config
            .as_ref()
            .map_or_else(Vec::new, |c| c.warnings.iter().map(ProblemView::from).collect()),
    };
    let invalid = || {
        let count = errors.len();
        CliError::invalid(format!(
            "{file}: invalid ({count} error{})",
            if count == 1 { "" } else { "s" }
        ))
    };
    if output != OutputFormat::Text {
        print_structured(output, &view)?;
        return if view.valid { Ok(()) } else { Err(invalid()) };
    }
    if !view.valid {
        let mut text = String::new();
        for e in &view.errors {
            text.push_str(&format!("error: {}\n", e.text));
        }
        eprint!("{text}");
        return Err(invalid());
    }
    let mut text = format!("{file}: valid, {} schedule(s)\n", view.clusters.len());
    for s in &view.clusters {
        let what = if s.unrestricted {
            "unrestricted".to_string()
        } else {
            format!(
                "{} window(s), min_window_duration {} min",
                s.windows, s.min_window_duration_minutes
            )
        };
        let name = if s.cluster == DEFAULTS_TABLE {
            "[defaults]".to_string()
        } else {
            s.cluster.clone()
        };
        text.push_str(&format!(
            "  {name}: {what}, {} blackout(s), {}\n",
            s.blackouts, s.timezone
        ));
    }
    for w in &view.warnings {
        text.push_str(&format!("warning: {}\n", w.text));
    }
    print(&text)
}
