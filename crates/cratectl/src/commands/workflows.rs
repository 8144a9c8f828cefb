//! `cratectl worker|status|list|cancel|force-restart|stop`: running and steering recorded
//! operations of every kind.
//!
//! The engine is chosen here, in one place ([`engine`]): the embedded one, recording
//! operations in one SQLite file in the state directory ([`state_dir`]). Everything else reaches
//! it through the engine trait: `status` and `list` read the records with no worker running
//! (progress is in the records, ARCHITECTURE §3). Commands that only read never create records:
//! an empty state directory means no operations. `worker` runs whatever is recorded until
//! SIGINT/SIGTERM; several may share a directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::op::OperationKind;
use cratectl_core::op::report::{AnyReport, RequestState, common_lines};
use cratectl_core::restart::report::ClusterReport;
use cratectl_core::restore::report::RestoreClusterReport;
use cratectl_core::scale::report::ScaleClusterReport;
use cratectl_flow::engine::any::AnyEngine;
use cratectl_flow::engine::duroxide::Duroxide;
use cratectl_flow::engine::{Engine, EngineError, WorkerLimits};
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::Control;
use cratectl_flow::operations::{self as service, Operations};
use serde::Serialize;

use crate::cli::{
    CancelArgs, EngineKind, ForceRestartArgs, GlobalArgs, ListWorkflowsArgs, OutputFormat, StateFilter,
    StatusArgs, StopArgs, WorkerArgs,
};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured, render, table};

/// How long in-flight activities get to finish when a worker stops. They are idempotent: one
/// cut short runs again when a worker next runs the restart.
pub const WORKER_GRACE: Duration = Duration::from_secs(5);

/// How long `cancel` waits for a live worker to stop the restart before compensating.
const CANCEL_SETTLE: Duration = Duration::from_secs(30);

// ---- the state directory ----------------------------------------------------------------

/// The state directory: `--state-dir`, else `CRATECTL_STATE_DIR`, else
/// `$XDG_STATE_HOME/cratectl`, else `~/.local/state/cratectl`; made absolute, so the commands
/// printed for resuming work from any directory.
pub fn state_dir(global: &GlobalArgs) -> CliResult<PathBuf> {
    let dir = resolve_state_dir(
        global.state_dir.as_deref(),
        std::env::var_os("CRATECTL_STATE_DIR"),
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
    )
    .ok_or_else(|| {
        CliError::invalid(
            "cannot tell where to keep workflow records: HOME is not set; pass --state-dir DIR or set CRATECTL_STATE_DIR",
        )
    })?;
    std::path::absolute(&dir)
        .map_err(|e| CliError::invalid(format!("state directory {}: {e}", dir.display())))
}

/// The resolution rules of [`state_dir`], as a pure function. Empty values count as unset, and
/// a relative `XDG_STATE_HOME` is ignored, as the XDG specification says.
fn resolve_state_dir(
    flag: Option<&Path>,
    env_dir: Option<OsString>,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(flag) = flag.filter(|p| !p.as_os_str().is_empty()) {
        return Some(flag.to_path_buf());
    }
    if let Some(dir) = env_dir.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = xdg_state_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Some(xdg.join("cratectl"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local").join("state").join("cratectl"))
}

/// The engine operations run on, as the user chose it.
pub type Ops = Operations<AnyEngine>;

/// Where operations are recorded, as the user chose it: the engine, and the options that
/// select it again in the commands cratectl suggests (`cratectl status ID {place}`).
#[derive(Clone, Debug)]
pub struct Place {
    pub engine: AnyEngine,
    flags: String,
}

impl Place {
    /// For messages: "the state directory …" or "Temporal at … (namespace …)".
    pub fn location(&self) -> String {
        self.engine.location()
    }
}

/// The options that select this engine again: `--state-dir DIR`, or `--engine temporal` with
/// the address, namespace and task queue when they are not the defaults.
impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.flags)
    }
}

/// The engine of `global`: `--engine` (default the embedded one, in [`state_dir`]).
pub fn place(global: &GlobalArgs) -> CliResult<Place> {
    match global.engine {
        EngineKind::Duroxide => {
            let dir = state_dir(global)?;
            Ok(Place {
                flags: format!("--state-dir {}", dir.display()),
                engine: Duroxide::new(&dir).into(),
            })
        }
        EngineKind::Temporal => temporal_place(global),
    }
}

#[cfg(feature = "temporal")]
fn temporal_place(global: &GlobalArgs) -> CliResult<Place> {
    use cratectl_flow::engine::temporal::{Temporal, TemporalOptions};
    let options = TemporalOptions {
        address: global.temporal_address.clone(),
        namespace: global.temporal_namespace.clone(),
        task_queue: global.task_queue.clone(),
        tls_ca: global.temporal_tls_ca.clone(),
        tls_cert: global.temporal_tls_cert.clone(),
        tls_key: global.temporal_tls_key.clone(),
        api_key: global.temporal_api_key.clone(),
        ..TemporalOptions::default()
    };
    let defaults = TemporalOptions::default();
    let mut flags = "--engine temporal".to_string();
    if options.address != defaults.address {
        flags.push_str(&format!(" --temporal-address {}", options.address));
    }
    if options.namespace != defaults.namespace {
        flags.push_str(&format!(" --temporal-namespace {}", options.namespace));
    }
    if options.task_queue != defaults.task_queue {
        flags.push_str(&format!(" --task-queue {}", options.task_queue));
    }
    let engine = Temporal::new(options).map_err(CliError::invalid)?;
    Ok(Place {
        engine: engine.into(),
        flags,
    })
}

#[cfg(not(feature = "temporal"))]
fn temporal_place(_global: &GlobalArgs) -> CliResult<Place> {
    Err(CliError::invalid(
        "this cratectl was built without the Temporal engine: build it with \
         `cargo build --release -p cratectl --features temporal` (needs rust >= 1.92), or use --engine duroxide",
    ))
}

/// Opens (on the embedded engine: creating if needed) the records of `place`.
pub async fn open_store(place: &Place) -> CliResult<Ops> {
    Operations::open(&place.engine).await.map_err(engine_error)
}

/// Opens the records of `place` if there are any; `None` when nothing was ever recorded there.
async fn existing_store(place: &Place) -> CliResult<Option<Ops>> {
    if place.engine.has_records() {
        open_store(place).await.map(Some)
    } else {
        Ok(None)
    }
}

/// Maps engine errors to the exit-code table: an id that exists or does not is the user's
/// input (2); a store that cannot be used is a failure (1).
pub fn engine_error(error: EngineError) -> CliError {
    match error {
        EngineError::AlreadyExists(_) | EngineError::NotFound(_) => CliError::invalid(error.to_string()),
        EngineError::Store { .. } => CliError::failed(error.to_string()),
    }
}

/// The operation `id` in `dir`, or exit 2 naming the id and where it was looked for.
async fn find(dir: &Place, id: &str) -> CliResult<(Ops, AnyReport)> {
    let not_found = || CliError::invalid(format!("no operation with id {id} in {}", dir.location()));
    let restarts = existing_store(dir).await?.ok_or_else(not_found)?;
    let report = restarts
        .report(id)
        .await
        .map_err(engine_error)?
        .ok_or_else(not_found)?;
    Ok((restarts, report))
}

/// Refuses (exit 2) to steer a restart that has ended.
fn still_running(report: &AnyReport, what: &str) -> CliResult {
    if report.state == RequestState::Running {
        return Ok(());
    }
    Err(CliError::invalid(format!(
        "operation {} has already finished ({}{}); nothing to {what}",
        report.workflow_id,
        report.state,
        report.finished_at.map(|t| format!(" at {t}")).unwrap_or_default()
    )))
}

/// Prints any operation's report: its own text, or the JSON/YAML contract.
pub fn print_report(format: OutputFormat, report: &AnyReport) -> CliResult {
    match format {
        OutputFormat::Text => print(&report_text(report)),
        structured => print_structured(structured, report),
    }
}

/// The text report of each operation kind; one that does not read as its kind (a record of a
/// newer version) shows what every operation has.
fn report_text(report: &AnyReport) -> String {
    let typed = match report.operation {
        OperationKind::Restart => report.typed::<ClusterReport>().map(|r| r.text()),
        OperationKind::Scale => report.typed::<ScaleClusterReport>().map(|r| r.text()),
        OperationKind::Restore => report.typed::<RestoreClusterReport>().map(|r| r.text()),
        OperationKind::Suspend => report
            .typed::<cratectl_core::suspend::report::SuspendClusterReport>()
            .map(|r| r.text()),
        OperationKind::Resume => report
            .typed::<cratectl_core::suspend::report::ResumeClusterReport>()
            .map(|r| r.text()),
    };
    typed.unwrap_or_else(|| {
        let mut out = report.header_text();
        for c in &report.clusters {
            let common = &c.common;
            out.push_str(&format!(
                "\n{} (namespace {}): {}\n",
                common.name, common.namespace, common.state
            ));
            common_lines(&mut out, common);
        }
        out
    })
}

/// The worker's environment: credentials from the flags (never recorded), else each cluster's
/// Secret.
pub fn activity_env(global: &GlobalArgs) -> Arc<ActivityEnv> {
    Arc::new(ActivityEnv::new(connect::explicit_credentials(global)))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, with the signal's name.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

// ---- worker -----------------------------------------------------------------------------

pub async fn worker(args: WorkerArgs, global: GlobalArgs) -> CliResult {
    let dir = place(&global)?;
    let env = activity_env(&global);
    let restarts = open_store(&dir).await?;
    let needing = restarts.open_needing_more(&env).await.map_err(engine_error)?;
    if !needing.is_empty() {
        return Err(CliError::invalid(format!(
            "{} ({}); nothing was run",
            cratectl_flow::model::NEEDS_TOKEN_COMMAND,
            needing.join(", ")
        )));
    }
    // Undo what stopped restarts left open first, and say so (start_worker does the same, once
    // per restart, but logs it only at info).
    match restarts.compensate_stopped(&env).await {
        Ok(notes) => {
            for note in notes {
                tracing::warn!("compensated a stopped operation: {note}");
            }
        }
        Err(e) => tracing::warn!("cannot check stopped operations for settings left behind: {e}"),
    }
    let limits = WorkerLimits {
        max_concurrent_workflows: usize::from(args.max_concurrent_workflows),
        max_concurrent_activities: usize::from(args.max_concurrent_activities),
    };
    let worker = service::start_worker(restarts.engine(), env, limits, None)
        .await
        .map_err(engine_error)?;
    let open = restarts.open_operations().await.unwrap_or_default();
    let mut ids: Vec<&str> = open.iter().map(|(id, _)| id.as_str()).collect();
    ids.dedup();
    eprintln!(
        "cratectl worker: running the operations recorded in {} ({}); Ctrl-C or SIGTERM stops it, and a stopped worker loses nothing",
        dir.location(),
        if ids.is_empty() {
            "none open now".to_string()
        } else {
            format!("open: {}", ids.join(", "))
        }
    );
    tracing::info!(engine = %dir.location(), "worker started");
    let signal = shutdown_signal().await;
    eprintln!(
        "cratectl worker: {signal}: stopping (in-flight steps get {}s; they run again on the next start)",
        WORKER_GRACE.as_secs()
    );
    tokio::select! {
        () = worker.shutdown(WORKER_GRACE) => {}
        _ = shutdown_signal() => eprintln!("cratectl worker: stopping at once"),
    }
    tracing::info!("worker stopped");
    Ok(())
}

// ---- status, list -----------------------------------------------------------------------

pub async fn status(args: StatusArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let dir = place(&global)?;
    let (restarts, _) = find(&dir, &args.id).await?;
    let report = restarts
        .report_with_progress(&args.id)
        .await
        .map_err(engine_error)?
        .ok_or_else(|| CliError::failed(format!("{} can no longer be read", args.id)))?;
    print_report(format, &report)?;
    if report.stalled(jiff::Timestamp::now()) {
        // On standard error, so the report on standard output stays what scripts parse.
        eprintln!("{}", stalled_note(&report, &dir));
    }
    Ok(())
}

/// "no worker has moved … since …; run `cratectl worker` …".
fn stalled_note(report: &AnyReport, dir: &Place) -> String {
    let since = report
        .progressed_at
        .map(|t| format!("since {}", seconds(Some(t))))
        .unwrap_or_else(|| format!("since it was recorded at {}", seconds(report.started_at)));
    format!(
        "note: no worker has advanced {} {since}; it resumes when a worker runs: cratectl worker {dir}",
        report.workflow_id,
    )
}

/// One row of `list -o json`.
#[derive(Serialize)]
struct ListRow {
    workflow_id: String,
    /// restart, scale, restore, suspend or resume.
    operation: cratectl_core::op::OperationKind,
    state: RequestState,
    clusters: Vec<ListCluster>,
    started_at: Option<jiff::Timestamp>,
    finished_at: Option<jiff::Timestamp>,
}

#[derive(Serialize)]
struct ListCluster {
    name: String,
    namespace: String,
    state: cratectl_core::restart::report::ClusterState,
}

fn matches(filter: Option<StateFilter>, state: RequestState) -> bool {
    match filter {
        None => true,
        Some(StateFilter::Running) => state == RequestState::Running,
        Some(StateFilter::Completed) => state == RequestState::Completed,
        Some(StateFilter::Failed) => state == RequestState::Failed,
        Some(StateFilter::Cancelled) => state == RequestState::Cancelled,
    }
}

pub async fn list(args: ListWorkflowsArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let dir = place(&global)?;
    let reports = match existing_store(&dir).await? {
        Some(restarts) => restarts.list().await.map_err(engine_error)?,
        None => Vec::new(),
    };
    let rows: Vec<ListRow> = reports
        .into_iter()
        .filter(|r| matches(args.state, r.state))
        .take(args.limit)
        .map(|r| ListRow {
            workflow_id: r.workflow_id,
            operation: r.operation,
            state: r.state,
            clusters: r
                .clusters
                .into_iter()
                .map(|c| ListCluster {
                    name: c.common.name,
                    namespace: c.common.namespace,
                    state: c.common.state,
                })
                .collect(),
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
        .collect();
    if format != OutputFormat::Text {
        return print_structured(format, &rows);
    }
    if rows.is_empty() {
        return print(&format!("No operations recorded in {}.\n", dir.location()));
    }
    let mut t = table(["ID", "OPERATION", "STATE", "CLUSTERS", "STARTED", "FINISHED"]);
    for row in &rows {
        let clusters = row
            .clusters
            .iter()
            .map(|c| format!("{} ({})", c.name, c.state))
            .collect::<Vec<_>>()
            .join(", ");
        t.add_row(vec![
            row.workflow_id.clone(),
            row.operation.to_string(),
            row.state.to_string(),
            clusters,
            seconds(row.started_at),
            seconds(row.finished_at),
        ]);
    }
    print(&render(&t))
}

/// An instant to the second (`2026-12-06T07:15:00Z`), or `-`.
fn seconds(t: Option<jiff::Timestamp>) -> String {
    cratectl_core::text::instant_or_dash(t)
}

// ---- cancel, force-restart, stop --------------------------------------------------------

pub async fn cancel(args: CancelArgs, global: GlobalArgs) -> CliResult {
    let dir = place(&global)?;
    let (restarts, report) = find(&dir, &args.id).await?;
    if args.drop_restored && report.operation != OperationKind::Restore {
        return Err(CliError::invalid(format!(
            "--drop-restored applies to restores; {} is a {}",
            report.workflow_id, report.operation
        )));
    }
    still_running(&report, "cancel")?;
    let env = activity_env(&global);
    let notes = restarts
        .cancel_with(&args.id, &args.reason, &env, CANCEL_SETTLE, args.drop_restored)
        .await
        .map_err(engine_error)?;
    let mut out = format!(
        "Cancelled {} {} ({}).\n",
        report.operation, report.workflow_id, args.reason
    );
    if !notes.is_empty() {
        out.push_str("Undone:\n");
        for note in &notes {
            out.push_str(&format!("  {note}\n"));
        }
    }
    let failed = notes.iter().any(|n| n.error.is_some());
    if failed {
        out.push_str(
            "Some changes could NOT be undone (see above): fix them by hand before anything else runs.\n",
        );
    }
    let names: Vec<&str> = report.clusters.iter().map(|c| c.common.name.as_str()).collect();
    if let Some(first) = names.first() {
        out.push_str(&format!(
            "Check for anything left behind with `cratectl doctor {first}`{}.\n",
            if names.len() > 1 {
                " (and the other clusters)"
            } else {
                ""
            }
        ));
    }
    print(&out)?;
    if failed {
        return Err(CliError::silent_failure());
    }
    Ok(())
}

async fn signal(global: GlobalArgs, id: &str, control: Control, what: &str) -> CliResult {
    let dir = place(&global)?;
    let (restarts, report) = find(&dir, id).await?;
    still_running(&report, what)?;
    restarts.signal(id, &control).await.map_err(engine_error)?;
    let pending = report
        .clusters
        .iter()
        .all(|c| c.common.state == cratectl_core::restart::report::ClusterState::Pending);
    let mut out = format!("Sent {what} to {} {id}.\n", report.operation);
    if pending {
        out.push_str(&format!(
            "No worker has picked it up yet; it acts when one runs: cratectl worker {dir}\n"
        ));
    }
    out.push_str(&format!("Follow it with: cratectl status {id} {dir}\n"));
    print(&out)
}

pub async fn force_restart(args: ForceRestartArgs, global: GlobalArgs) -> CliResult {
    let control = Control::ForceRestart { reason: args.reason };
    signal(global, &args.id, control, "force-restart").await
}

pub async fn stop(args: StopArgs, global: GlobalArgs) -> CliResult {
    let control = Control::Stop { reason: args.reason };
    signal(global, &args.id, control, "stop").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn the_state_directory_follows_flag_env_xdg_home() {
        let flag = Path::new("/flag");
        assert_eq!(
            resolve_state_dir(Some(flag), os("/env"), os("/xdg"), os("/home/u")),
            Some(PathBuf::from("/flag"))
        );
        assert_eq!(
            resolve_state_dir(None, os("/env"), os("/xdg"), os("/home/u")),
            Some(PathBuf::from("/env"))
        );
        assert_eq!(
            resolve_state_dir(None, os(""), os("/xdg"), os("/home/u")),
            Some(PathBuf::from("/xdg/cratectl"))
        );
        assert_eq!(
            resolve_state_dir(None, None, os("relative"), os("/home/u")),
            Some(PathBuf::from("/home/u/.local/state/cratectl"))
        );
        assert_eq!(resolve_state_dir(None, None, None, None), None);
    }

    #[test]
    fn store_errors_are_failures_and_ids_are_input() {
        assert_eq!(
            engine_error(EngineError::NotFound("x".into())).exit,
            crate::exit::Exit::Invalid
        );
        assert_eq!(
            engine_error(EngineError::Store {
                store: "s".into(),
                message: "m".into()
            })
            .exit,
            crate::exit::Exit::Failed
        );
    }
}
