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
use std::time::Duration;

use cratectl_core::op::{OperationKind, request_id};
use cratectl_core::restart::report::{ClusterReport, PodResult};
use cratectl_core::text;
use cratectl_flow::engine::EngineError;
use cratectl_flow::model::{ClusterRef, Gate, MaintenanceSpec};
use cratectl_flow::ops::restart::dry_run::{self, DryRun};
use cratectl_flow::ops::restart::model::{RESTART_REQUEST, RestartOptions, RestartRequest, Timeouts};
use cratectl_kube::Kube;
use cratectl_kube::discovery::{Cluster, Discovery};
use jiff::Timestamp;

use crate::cli::{GlobalArgs, OutputFormat, RestartArgs};
use crate::commands::progress::Steps;
use crate::commands::run::{
    Mode, foreground, load_maintenance, print_started, refuse_open_operations, target_spec,
};
use crate::commands::workflows::{activity_env, engine_error, open_store, place};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured, render, table};

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
    let dir = place(global)?;
    let restarts = open_store(&dir).await?;
    refuse_open_operations(
        &restarts,
        &clusters,
        now,
        OperationKind::Restart,
        &request.target,
        global,
    )
    .await?;
    if confirm_on_terminal {
        confirm(&clusters, &kube)?;
    }
    restarts
        .start(RESTART_REQUEST, &request.request_id, &request)
        .await
        .map_err(|e| match e {
        EngineError::AlreadyExists(id) => CliError::invalid(format!(
            "restart {id} already exists (one was started for the same clusters in the same second); try again"
        )),
        other => engine_error(other),
    })?;
    let id = request.request_id.clone();
    tracing::info!(workflow_id = %id, "restart recorded");

    if args.run_async {
        return print_started(format, &restarts, &id, &dir, "restart").await;
    }
    foreground::<ClusterReport>(&restarts, &id, global, format, mode, &dir, "restart").await
}

// ---- input ------------------------------------------------------------------------------

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
        let (suspended, active): (Vec<&Cluster>, Vec<&Cluster>) = discovery
            .clusters
            .iter()
            .partition(|c| c.suspended() || c.suspend_record.is_some());
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
    crate::commands::run::ask("Restart them?")
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
