//! `cratectl restart`: resolve the clusters, refuse what must be refused, then record the
//! restart as a durable workflow and either return (`--async`) or run it in this process with
//! progress until it ends (ARCHITECTURE §4).
//!
//! Everything that can be refused is checked before anything is recorded (fail closed,
//! ARCHITECTURE §1.5): `--cluster-url`, an unreadable or invalid maintenance file, unknown or
//! ambiguous names (all of them named, with the closest names), a cluster the file has no
//! schedule for, a cluster already in an open restart or whose Lease another operation holds,
//! and `all` without confirmation. `--dry-run` stops before the state store is even opened.
//!
//! In the foreground the workflow runs on an embedded worker ([`service::start_worker`]), and
//! this module only watches its report, as `status` would. Ctrl-C stops the worker, not the
//! restart: it stays recorded, and `cratectl worker` resumes it where it stopped.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use cratectl_core::maintenance::MaintenanceConfig;
use cratectl_core::op::{OperationKind, request_id};
use cratectl_core::restart::report::{ClusterReport, PodResult, RequestState, RestartReport};
use cratectl_core::text;
use cratectl_flow::engine::EngineError;
use cratectl_flow::engine::WorkerLimits;
use cratectl_flow::model::{ClusterRef, Gate, MaintenanceSpec, TargetSpec};
use cratectl_flow::operations as service;
use cratectl_flow::ops::restart::dry_run::{self, DryRun};
use cratectl_flow::ops::restart::model::{RestartOptions, RestartRequest, Timeouts};
use cratectl_kube::Kube;
use cratectl_kube::discovery::{Cluster, Discovery};
use jiff::Timestamp;

use crate::cli::{GlobalArgs, OutputFormat, RestartArgs};
use crate::commands::progress::{Progress, Steps};
use crate::commands::workflows::{
    Ops, WORKER_GRACE, activity_env, engine_error, open_store, print_report, shutdown_signal, state_dir,
};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::files;
use crate::output::{print, print_structured, render, table};

/// How often the foreground reads the report.
const POLL: Duration = Duration::from_millis(250);
/// Consecutive failed reads of the store after which the foreground gives up watching (the
/// restart itself stays recorded).
const MAX_READ_FAILURES: u32 = 40;

/// Who runs the foreground restart: a user (Ctrl-C says how to resume) or the demo (whose
/// simulator and records are gone when it stops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    User,
    Demo,
}

pub async fn run(args: RestartArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    execute(args, &global, format, Mode::User).await
}

/// Runs `restart` with parsed arguments (the demo calls this with its own).
pub async fn execute(args: RestartArgs, global: &GlobalArgs, format: OutputFormat, mode: Mode) -> CliResult {
    if global.cluster_url.is_some() {
        return Err(CliError::invalid(
            "restart needs Kubernetes (it restarts pods); --cluster-url addresses CrateDB only",
        ));
    }
    let maintenance = match &args.maintenance_config {
        Some(path) => Some(load_maintenance(path)?),
        None => None,
    };
    let kube = connect::kube(global).await?;
    let discovery = connect::discovery(&kube, global).await?;
    let (clusters, all) = resolve(&args.clusters, &discovery, &kube, global)?;
    if let (Some((_, config)), false) = (&maintenance, args.ignore_maintenance_windows) {
        let missing: Vec<String> = clusters
            .iter()
            .filter_map(|c| config.schedule(&c.name).err().map(|e| e.to_string()))
            .collect();
        if !missing.is_empty() {
            return Err(CliError::invalid(missing.join("\n")));
        }
    }
    let now = Timestamp::now();
    let names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let request = RestartRequest {
        request_id: request_id(OperationKind::Restart, &names, now),
        target: target_spec(global, &kube)?,
        clusters: clusters
            .iter()
            .map(|c| ClusterRef {
                namespace: c.namespace.clone(),
                resource: c.resource.clone(),
                name: c.name.clone(),
            })
            .collect(),
        options: options(&args, maintenance.map(|(spec, _)| spec)),
    };

    if args.dry_run {
        let mut plan = dry_run::plan(activity_env(global), &request, now).await;
        note_leases(&mut plan, &clusters, now);
        return print_plan(format, &plan);
    }

    let confirm_on_terminal = all && !args.yes;
    if confirm_on_terminal && !std::io::stdin().is_terminal() {
        return Err(CliError::invalid(format!(
            "`restart all` would restart {} clusters and needs confirmation, but standard input is not a terminal; pass --yes (nothing was started)",
            clusters.len()
        )));
    }
    let dir = state_dir(global)?;
    let restarts = open_store(&dir).await?;
    refuse_open_operations(&restarts, &clusters, now).await?;
    if confirm_on_terminal {
        confirm(&clusters, &kube)?;
    }
    restarts.start(&request).await.map_err(|e| match e {
        EngineError::AlreadyExists(id) => CliError::invalid(format!(
            "restart {id} already exists (one was started for the same clusters in the same second); try again"
        )),
        other => engine_error(other),
    })?;
    let id = request.request_id.clone();
    tracing::info!(workflow_id = %id, "restart recorded");

    if args.run_async {
        return print_started(format, &restarts, &id, &dir).await;
    }
    foreground(&restarts, &id, global, format, mode, &dir).await
}

// ---- input ------------------------------------------------------------------------------

/// Reads and validates the maintenance file; any problem is invalid input (exit 2) naming the
/// file, and for a parse error the line and column.
fn load_maintenance(path: &Path) -> CliResult<(MaintenanceSpec, MaintenanceConfig)> {
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

/// The clusters the arguments name, in the order given (duplicates once), or every discovered
/// cluster for `all` (suspended ones left out: they have no pod to restart). Every unknown or
/// ambiguous name is reported at once. The flag says whether `all` was asked for.
fn resolve(
    names: &[String],
    discovery: &Discovery,
    kube: &Kube,
    global: &GlobalArgs,
) -> CliResult<(Vec<Cluster>, bool)> {
    if names.iter().any(|n| n == "all") {
        if names.len() > 1 {
            return Err(CliError::invalid(
                "`all` restarts every cluster; it cannot be combined with cluster names",
            ));
        }
        let (suspended, active): (Vec<&Cluster>, Vec<&Cluster>) =
            discovery.clusters.iter().partition(|c| c.suspended());
        for cluster in &suspended {
            eprintln!(
                "note: leaving out {}: it is suspended (no node to restart)",
                cluster.qualified()
            );
        }
        if active.is_empty() {
            let scope = global
                .namespace
                .as_deref()
                .map_or_else(|| "any namespace".to_string(), |ns| format!("namespace {ns}"));
            return Err(CliError::invalid(format!(
                "no CrateDB cluster to restart in {scope} ({})",
                kube.describe()
            )));
        }
        return Ok((active.into_iter().cloned().collect(), true));
    }
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for name in names {
        match connect::pick(discovery, name, kube, global) {
            Ok(cluster) => {
                if seen.insert((cluster.namespace.clone(), cluster.resource.clone())) {
                    found.push(cluster.clone());
                }
            }
            Err(e) => problems.push(e.message),
        }
    }
    if !problems.is_empty() {
        problems.push("nothing was started".into());
        return Err(CliError::invalid(problems.join("\n")));
    }
    Ok((found, false))
}

/// Where the worker finds the API: the kubeconfig as given (absolute; else `KUBECONFIG` when
/// it names one file, else the worker's own default) and the context resolved now, so a worker
/// started later or elsewhere talks to the same cluster.
fn target_spec(global: &GlobalArgs, kube: &Kube) -> CliResult<TargetSpec> {
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
    })
}

/// The workflow's options from the flags.
fn options(args: &RestartArgs, maintenance: Option<MaintenanceSpec>) -> RestartOptions {
    let tuning = &args.tuning;
    RestartOptions {
        order: args.order.into(),
        only_on_suspended_nodes: args.only_on_suspended_nodes,
        skip_hook_warning: args.skip_hook_warning,
        min_availability: args.min_availability,
        maintenance,
        ignore_maintenance_windows: args.ignore_maintenance_windows,
        parallel: usize::from(args.parallel),
        no_eviction: args.no_eviction,
        gate: Gate {
            polls: tuning.stable_polls,
            interval: tuning.poll_interval,
        },
        timeouts: Timeouts {
            health: tuning.health_timeout,
            pod_ready: tuning.pod_ready_timeout,
            rejoin: tuning.rejoin_timeout,
            decommission: tuning.decommission_timeout,
            eviction: tuning.eviction_timeout,
            hold: tuning.hold_timeout,
        },
        ..RestartOptions::default()
    }
}

/// One operation per cluster (ARCHITECTURE §1.6): a cluster in an open restart of this state
/// directory, or whose Lease another operation holds now, is refused, naming the operation.
async fn refuse_open_operations(restarts: &Ops, clusters: &[Cluster], now: Timestamp) -> CliResult {
    let open = restarts.open_operations().await.map_err(engine_error)?;
    let mut problems = Vec::new();
    for cluster in clusters {
        if let Some((id, _)) = open
            .iter()
            .find(|(_, c)| c.namespace == cluster.namespace && c.resource == cluster.resource)
        {
            problems.push(format!(
                "{} is already being restarted by workflow {id} (`cratectl status {id}`; `cratectl cancel {id}` ends it)",
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
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.push("nothing was started".into());
        Err(CliError::invalid(problems.join("\n")))
    }
}

/// `all` without --yes, on a terminal: list the clusters and ask.
fn confirm(clusters: &[Cluster], kube: &Kube) -> CliResult {
    eprintln!(
        "This restarts every pod of {} clusters ({}), one pod at a time per cluster:",
        clusters.len(),
        kube.describe()
    );
    for cluster in clusters {
        eprintln!("  {} ({} pods)", cluster.qualified(), cluster.pods.len());
    }
    eprint!("Restart them? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::invalid(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::invalid("not confirmed; nothing was started")),
    }
}

// ---- dry run ----------------------------------------------------------------------------

/// Adds a warning for each cluster whose Lease another operation holds now.
fn note_leases(plan: &mut DryRun, clusters: &[Cluster], now: Timestamp) {
    for (plan, cluster) in plan.clusters.iter_mut().zip(clusters) {
        if let Some(holder) = cluster.lease_holder(now) {
            plan.warnings.push(format!(
                "the cluster's Lease is held by {holder}: a restart would be refused"
            ));
        }
    }
}

/// Prints the plan. Exit 1 when a cluster would be refused at start (not healthy, not
/// readable), so `restart --dry-run X && restart X` does not start a doomed restart.
fn print_plan(format: OutputFormat, plan: &DryRun) -> CliResult {
    match format {
        OutputFormat::Text => print(&plan_text(plan))?,
        structured => print_structured(structured, plan)?,
    }
    if plan.clusters.iter().any(|c| c.refused.is_some()) {
        Err(CliError::silent_failure())
    } else {
        Ok(())
    }
}

fn plan_text(plan: &DryRun) -> String {
    let mut out = format!(
        "Dry run: nothing was changed. Started now, restart {} would do this:\n",
        plan.workflow_id
    );
    for cluster in &plan.clusters {
        out.push('\n');
        out.push_str(&format!(
            "{} (namespace {}): {}\n",
            cluster.name,
            cluster.namespace,
            cluster
                .health
                .as_ref()
                .map_or_else(|| "health unknown".to_string(), |h| h.summary.clone())
        ));
        out.push_str(&format!(
            "  maintenance window: {}\n",
            cluster.window.as_ref().map_or_else(
                || "not restricted (no --maintenance-config)".to_string(),
                |w| w.summary.clone()
            )
        ));
        if !cluster.pods.is_empty() {
            let mut t = table(["#", "POD", "STOP", "ESTIMATE"]);
            for pod in &cluster.pods {
                let (stop, estimate) = match &pod.skip {
                    Some(reason) => (format!("skipped: {reason}"), "-".to_string()),
                    None => (
                        pod.stop.describe(),
                        text::duration(Duration::from_secs_f64(pod.estimate_s)),
                    ),
                };
                t.add_row(vec![pod.order.to_string(), pod.name.clone(), stop, estimate]);
            }
            for line in render(&t).lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&format!(
                "  estimated: {}\n",
                text::duration(Duration::from_secs_f64(cluster.estimate_s))
            ));
        }
        for warning in &cluster.warnings {
            out.push_str(&format!("  warning: {warning}\n"));
        }
        if let Some(refused) = &cluster.refused {
            out.push_str(&format!("  would be refused: {refused}\n"));
        }
    }
    out.push_str(&format!(
        "\nEstimated total: {} ({} cluster{}, {} at a time). Estimates assume each pod's stop takes its full timeout.\n",
        text::duration(Duration::from_secs_f64(plan.estimate_s)),
        plan.clusters.len(),
        if plan.clusters.len() == 1 { "" } else { "s" },
        plan.parallel
    ));
    out
}

// ---- --async ----------------------------------------------------------------------------

async fn print_started(format: OutputFormat, restarts: &Ops, id: &str, dir: &Path) -> CliResult {
    if format != OutputFormat::Text {
        let report =
            restarts.report(id).await.map_err(engine_error)?.ok_or_else(|| {
                CliError::failed(format!("restart {id} was recorded but cannot be read back"))
            })?;
        return print_report(format, &report);
    }
    let dir = dir.display();
    print(&format!(
        "started restart {id}\n\
         A worker runs it:  cratectl worker --state-dir {dir}\n\
         Watch it:          cratectl status {id} --state-dir {dir}\n\
         Cancel it:         cratectl cancel {id} --state-dir {dir}\n"
    ))
}

// ---- foreground -------------------------------------------------------------------------

enum Outcome {
    Done(RestartReport),
    Interrupted(&'static str),
    Lost(String),
}

async fn foreground(
    restarts: &Ops,
    id: &str,
    global: &GlobalArgs,
    format: OutputFormat,
    mode: Mode,
    dir: &Path,
) -> CliResult {
    // This process runs this restart only; other open operations stay for `cratectl worker`.
    let others: Vec<String> = restarts
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
            dir.display(),
            others.join(", ")
        );
    }
    let worker = service::start_worker(
        restarts.engine(),
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
                match restarts.report(id).await {
                    Ok(Some(report)) => {
                        failures = 0;
                        progress.update(&report);
                        if report.state != RequestState::Running {
                            break Outcome::Done(report);
                        }
                    }
                    Ok(None) => {
                        failures += 1;
                        if failures >= MAX_READ_FAILURES {
                            break Outcome::Lost(format!("restart {id} is no longer in {}", dir.display()));
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
                    "Restart {id} is recorded and stopped where it was; nothing is lost, and the settings it changed stay \
                     changed until it goes on or is cancelled.\n\
                     Resume it:  cratectl worker --state-dir {dir}\n\
                     Watch it:   cratectl status {id} --state-dir {dir}\n\
                     Or end it:  cratectl cancel {id} --state-dir {dir}   (puts the settings back)",
                    dir = dir.display()
                ),
                Mode::Demo => eprintln!("Demo interrupted."),
            }
            Err(CliError::interrupted())
        }
        Outcome::Lost(why) => Err(CliError::failed(format!(
            "cannot follow restart {id} any more: {why}; it stays recorded: `cratectl status {id} --state-dir {}`",
            dir.display()
        ))),
    }
}

/// A restart's progress: pods done of planned, and a line per pod as it ends.
impl Steps for ClusterReport {
    fn done_total(&self) -> (usize, usize) {
        let done = self
            .pods
            .iter()
            .filter(|p| p.result != PodResult::Pending)
            .count();
        (done, self.pod_total.max(self.pods.len()))
    }

    fn step_results(&self) -> Vec<(String, String)> {
        self.pods
            .iter()
            .filter(|p| p.result != PodResult::Pending)
            .map(|pod| {
                let mut line = format!("pod {} {}", pod.name, pod.result);
                if let (Some(old), Some(new)) = (&pod.old_uid, &pod.new_uid) {
                    line.push_str(&format!(" (uid {} -> {})", short(old), short(new)));
                }
                if let Some(seconds) = pod.duration_s {
                    line.push_str(&format!(
                        " in {}",
                        text::duration(Duration::from_secs_f64(seconds))
                    ));
                }
                if let Some(reason) = &pod.reason {
                    line.push_str(&format!(": {reason}"));
                }
                (pod.name.clone(), line)
            })
            .collect()
    }
}

fn short(uid: &str) -> &str {
    uid.char_indices().nth(8).map_or(uid, |(i, _)| &uid[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::progress::{counts, message};
    use cratectl_core::restart::report::ClusterState;
    use cratectl_core::restart::report::PodReport;

    #[test]
    fn messages_say_what_a_cluster_waits_for_or_why_it_ended() {
        let mut cluster = ClusterReport {
            common: cratectl_core::op::ClusterCommon {
                name: "prod".into(),
                namespace: "crate".into(),
                state: ClusterState::Running,
                current_step: Some("gate".into()),
                waiting_for: Some("stable GREEN before restarting pod p-1".into()),
                ..Default::default()
            },
            pod_total: 3,
            pods: vec![
                PodReport {
                    name: "p-0".into(),
                    result: PodResult::Restarted,
                    ..PodReport::default()
                },
                PodReport {
                    name: "p-1".into(),
                    ..PodReport::default()
                },
            ],
            ..ClusterReport::default()
        };
        assert_eq!(
            message(&cluster),
            "running · waiting for stable GREEN before restarting pod p-1 · gate"
        );
        assert_eq!(counts(&cluster), "1/3");
        assert_eq!(
            cluster.step_results(),
            vec![("p-0".to_string(), "pod p-0 restarted".to_string())]
        );
        cluster.common.state = ClusterState::Failed;
        cluster.common.reason = Some("timed out".into());
        assert_eq!(message(&cluster), "failed · timed out");
        cluster.common.state = ClusterState::Pending;
        cluster.pods.clear();
        cluster.pod_total = 0;
        assert_eq!(counts(&cluster), "-/-");
        assert!(message(&cluster).starts_with("pending"));
    }
}
