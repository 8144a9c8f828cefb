//! What every operation's command does around its own plan: read the maintenance file,
//! say where a worker finds the API, refuse a cluster another operation has, record the
//! operation, and then either return (`--async`) or run it in this process with progress until
//! it ends (ARCHITECTURE §4).
//!
//! In the foreground the workflow runs on an embedded worker ([`service::start_worker`]) that
//! runs only this operation, and this module watches its report as `status` would. Ctrl-C
//! stops the worker, not the operation: it stays recorded, and `cratectl worker` resumes it
//! where it stopped.

use std::path::Path;
use std::time::Duration;

use cratectl_core::maintenance::MaintenanceConfig;
use cratectl_core::op::report::RequestState;
use cratectl_core::text;
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::model::{MaintenanceSpec, TargetSpec};
use cratectl_flow::operations as service;
use cratectl_kube::Kube;
use cratectl_kube::discovery::Cluster;
use jiff::Timestamp;
use serde::de::DeserializeOwned;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::commands::progress::{Progress, Steps};
use crate::commands::workflows::{
    Ops, Place, WORKER_GRACE, activity_env, engine_error, print_report, shutdown_signal,
};
use crate::exit::{CliError, CliResult};
use crate::files;
use crate::output::print;

/// How often the foreground reads the report.
const POLL: Duration = Duration::from_millis(250);
/// Consecutive failed reads of the store after which the foreground gives up watching (the
/// operation itself stays recorded).
const MAX_READ_FAILURES: u32 = 40;

/// Who runs the foreground operation: a user (Ctrl-C says how to resume) or the demo (whose
/// simulator and records are gone when it stops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    User,
    Demo,
}

/// Reads and validates the maintenance file; any problem is invalid input (exit 2) naming the
/// file, and for a parse error the line and column.
pub fn load_maintenance(path: &Path) -> CliResult<(MaintenanceSpec, MaintenanceConfig)> {
    let text = files::read_text(path).map_err(|e| {
        CliError::invalid(format!(
            "cannot read maintenance configuration {}: {e}",
            path.display()
        ))
    })?;
    let source = path.display().to_string();
    let config = MaintenanceConfig::parse(&source, &text).map_err(|errors| {
        let count = errors.0.len();
        let noun = if count == 1 { "error" } else { "errors" };
        CliError::invalid(format!(
            "invalid maintenance configuration ({count} {noun}); nothing was started:\n{errors}"
        ))
    })?;
    Ok((
        MaintenanceSpec {
            path: source,
            toml: text,
        },
        config,
    ))
}

/// Where the worker finds the API: the kubeconfig as given (absolute; else `KUBECONFIG` when
/// it names one file, else the worker's own default) and the context resolved now, so a worker
/// started later or elsewhere talks to the same cluster.
pub fn target_spec(global: &GlobalArgs, kube: &Kube) -> CliResult<TargetSpec> {
    let given = global.kubeconfig.clone().or_else(|| {
        let value = std::env::var_os("KUBECONFIG")?;
        let mut paths = std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty());
        let one = paths.next()?;
        paths.next().is_none().then_some(one)
    });
    let kubeconfig = match given {
        Some(path) => Some(
            std::path::absolute(&path)
                .map_err(|e| CliError::invalid(format!("kubeconfig {}: {e}", path.display())))?,
        ),
        None => None,
    };
    Ok(TargetSpec {
        kubeconfig,
        context: Some(kube.context.clone()),
        // Only that a token command is used: never the command, never a credential.
        auth: global
            .token_command
            .is_some()
            .then_some(cratectl_flow::model::AuthSpec::TokenCommand),
    })
}

/// Asks `question` on standard error and reads the answer: `y` or `yes` goes on, anything
/// else refuses (exit 2, nothing started).
pub fn ask(question: &str) -> CliResult {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::invalid(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::invalid("not confirmed; nothing was started")),
    }
}

/// A dry run's "would fail at start" when another operation holds `cluster`'s Lease now,
/// before any other reason.
pub fn note_held_lease(cluster: &Cluster, now: Timestamp, refused: &mut Option<String>) {
    if let Some(holder) = cluster.lease_holder(now) {
        let held = format!("another operation holds the cluster's Lease: {holder}");
        *refused = Some(match refused.take() {
            Some(other) => format!("{held}; {other}"),
            None => held,
        });
    }
}

/// Prints a dry run (its text, or the JSON/YAML contract); exit 1 when it would be refused.
pub fn print_dry_run<T: serde::Serialize>(
    format: OutputFormat,
    text: &str,
    plan: &T,
    refused: bool,
) -> CliResult {
    match format {
        OutputFormat::Text => print(text)?,
        structured => crate::output::print_structured(structured, plan)?,
    }
    if refused {
        Err(CliError::silent_failure())
    } else {
        Ok(())
    }
}

/// One operation per cluster (ARCHITECTURE §1.6): a cluster in an open operation of this state
/// directory, or whose Lease another operation holds now, is refused, naming the operation; so is
/// one where Kubernetes shows another actor at work that blocks `kind`
/// ([`cratectl_core::busy`]: the CrateDB operator's handlers, its requested restore or restart
/// queue, a fresh routing-owner label, pods still changing, a suspended cluster), each with its
/// evidence.
pub async fn refuse_open_operations(
    ops: &Ops,
    clusters: &[Cluster],
    now: Timestamp,
    kind: cratectl_core::op::OperationKind,
    target: &TargetSpec,
    global: &GlobalArgs,
) -> CliResult {
    let open = ops.open_operations().await.map_err(engine_error)?;
    let mut problems = Vec::new();
    for cluster in clusters {
        if let Some((id, _)) = open
            .iter()
            .find(|(_, c)| c.namespace == cluster.namespace && c.resource == cluster.resource)
        {
            problems.push(format!(
                "{} is already in operation {id} (`cratectl status {id}`; `cratectl cancel {id}` ends it)",
                cluster.qualified()
            ));
            continue;
        }
        if let Some(holder) = cluster.lease_holder(now) {
            problems.push(format!(
                "{} is in another operation: its Lease is held by {holder} (see `cratectl cluster info {}`)",
                cluster.qualified(),
                cluster.name
            ));
            continue;
        }
        problems.extend(full_busy_problems(cluster, now, kind, target, global).await);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.push("nothing was started".into());
        Err(CliError::invalid(problems.join("\n")))
    }
}

/// What Kubernetes shows of another actor at work on `cluster` that blocks `kind`
/// ([`cratectl_core::busy`]), one `refused: …` line each. A suspended cluster blocks everything
/// but a resume.
fn busy_problems(cluster: &Cluster, now: Timestamp, kind: cratectl_core::op::OperationKind) -> Vec<String> {
    let busy = cratectl_core::busy::assess(&cluster.busy_evidence(now));
    cratectl_core::busy::blocking(&busy, kind)
        .into_iter()
        .map(|b| format!("refused: {}", b.message))
        .collect()
}

/// [`busy_problems`] with CrateDB's evidence too (a restore or snapshot running, a
/// decommission in `sys.jobs`) and active backup Jobs, read as a running workflow reads them
/// ([`cratectl_flow::activities::common::ReadBusy`]); when CrateDB cannot be reached now,
/// Kubernetes' evidence alone (the workflow reads CrateDB again before its first disruption and
/// fails closed); a refusal to read (a missing permission) refuses.
pub async fn full_busy_problems(
    cluster: &Cluster,
    now: Timestamp,
    kind: cratectl_core::op::OperationKind,
    target: &TargetSpec,
    global: &GlobalArgs,
) -> Vec<String> {
    use cratectl_flow::activities::common::{BusyIn, ReadBusy};
    use cratectl_flow::engine::RunActivity;
    let at = cratectl_flow::activities::At {
        target: target.clone(),
        cluster: cratectl_flow::model::ClusterRef {
            namespace: cluster.namespace.clone(),
            resource: cluster.resource.clone(),
            name: cluster.name.clone(),
        },
    };
    let input = BusyIn {
        at,
        own_holder: String::new(),
        own_labels: Vec::new(),
    };
    match ReadBusy::run(activity_env(global), input).await {
        Ok(busy) => cratectl_core::busy::blocking(&busy, kind)
            .into_iter()
            .map(|b| format!("refused: {}", b.message))
            .collect(),
        // CrateDB not reachable now (no Ready pod, a lost connection): Kubernetes' evidence.
        Err(e) if e.is_retryable() => {
            tracing::debug!(error = %e.message, "CrateDB's evidence of other operations not read");
            busy_problems(cluster, now, kind)
        }
        // A refusal (a missing permission to list backup Jobs, a CrateDB user that may not
        // read sys.jobs): the workflow would fail on it before its first disruption.
        Err(e) => vec![format!(
            "refused: cannot tell whether another operation is running on {}: {}",
            cluster.qualified(),
            e.message
        )],
    }
}

/// [`busy_problems`] as an early refusal, for a command that must read CrateDB before it can
/// plan (exit 2, nothing recorded): a suspended cluster has no CrateDB to read.
pub fn refuse_busy(cluster: &Cluster, now: Timestamp, kind: cratectl_core::op::OperationKind) -> CliResult {
    let mut problems = busy_problems(cluster, now, kind);
    if problems.is_empty() {
        return Ok(());
    }
    problems.push("nothing was started".into());
    Err(CliError::invalid(problems.join("\n")))
}

// ---- --async ----------------------------------------------------------------------------

/// `--async`: the report as recorded (`-o json|yaml`) or how to run, watch and cancel it.
pub async fn print_started(format: OutputFormat, ops: &Ops, id: &str, dir: &Place, noun: &str) -> CliResult {
    if format != OutputFormat::Text {
        let report =
            ops.report(id).await.map_err(engine_error)?.ok_or_else(|| {
                CliError::failed(format!("{noun} {id} was recorded but cannot be read back"))
            })?;
        return print_report(format, &report);
    }
    print(&format!(
        "started {noun} {id}\n\
         A worker runs it:  cratectl worker {dir}\n\
         Watch it:          cratectl status {id} {dir}\n\
         Cancel it:         cratectl cancel {id} {dir}\n"
    ))
}

// ---- foreground -------------------------------------------------------------------------

enum Outcome {
    Done(cratectl_core::op::report::AnyReport),
    Interrupted(&'static str),
    Lost(String),
}

/// Runs operation `id` (a `noun`: restart, scale …) on an embedded worker, showing progress,
/// until it ends; prints its report and returns its exit code.
pub async fn foreground<R: Steps + DeserializeOwned>(
    ops: &Ops,
    id: &str,
    global: &GlobalArgs,
    format: OutputFormat,
    mode: Mode,
    dir: &Place,
    noun: &str,
) -> CliResult {
    // This process runs this operation only; other open operations stay for `cratectl worker`.
    let others: Vec<String> = ops
        .open_operations()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(other, _)| other)
        .filter(|other| other != id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !others.is_empty() {
        eprintln!(
            "note: other open operations in {} are left to `cratectl worker`: {}",
            dir.location(),
            others.join(", ")
        );
    }
    let worker = service::start_worker(
        ops.engine(),
        activity_env(global),
        WorkerLimits::default(),
        Some(id),
    )
    .await
    .map_err(engine_error)?;
    let mut progress = Progress::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut ticker = tokio::time::interval(POLL);
    let mut failures = 0;
    let outcome = loop {
        tokio::select! {
            name = &mut signal => break Outcome::Interrupted(name),
            _ = ticker.tick() => {
                match ops.report(id).await {
                    Ok(Some(any)) => {
                        failures = 0;
                        if let Some(report) = any.typed::<R>() {
                            progress.update(&report);
                        }
                        if any.state != RequestState::Running {
                            break Outcome::Done(any);
                        }
                    }
                    Ok(None) => {
                        failures += 1;
                        if failures >= MAX_READ_FAILURES {
                            break Outcome::Lost(format!("{noun} {id} is no longer in {}", dir.location()));
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if failures >= MAX_READ_FAILURES {
                            break Outcome::Lost(e.to_string());
                        }
                    }
                }
            }
        }
    };
    progress.finish(matches!(outcome, Outcome::Done(_)));
    if let Outcome::Interrupted(name) = &outcome {
        eprintln!(
            "\n{name}: stopping this process's worker (the step in flight gets {}; it runs again on resume)…",
            text::duration(WORKER_GRACE)
        );
    }
    tokio::select! {
        () = worker.shutdown(WORKER_GRACE) => {}
        _ = shutdown_signal() => eprintln!("stopping at once"),
    }
    match outcome {
        Outcome::Done(report) => {
            print_report(format, &report)?;
            if report.exit_code() == 0 {
                Ok(())
            } else {
                Err(CliError::silent_failure())
            }
        }
        Outcome::Interrupted(_) => {
            match mode {
                Mode::User => eprintln!(
                    "The {noun} {id} is recorded and stopped where it was; nothing is lost, and the settings it changed stay \
                     changed until it goes on or is cancelled.\n\
                     Resume it:  cratectl worker {dir}\n\
                     Watch it:   cratectl status {id} {dir}\n\
                     Or end it:  cratectl cancel {id} {dir}   (puts the settings back)"
                ),
                Mode::Demo => eprintln!("Demo interrupted."),
            }
            Err(CliError::interrupted())
        }
        Outcome::Lost(why) => Err(CliError::failed(format!(
            "cannot follow {noun} {id} any more: {why}; it stays recorded: `cratectl status {id} {dir}`"
        ))),
    }
}
