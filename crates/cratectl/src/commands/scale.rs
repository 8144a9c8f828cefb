//! `cratectl scale`: resolve the cluster, read what the plan needs, refuse what must be refused
//! (exit 2, nothing recorded), then record the scale as a durable workflow and either return
//! (`--async`) or run it here with progress ([`crate::commands::run`]).
//!
//! The plan is `cratectl_core::scale::plan` over the facts the workflow's own first activity
//! reads ([`read_facts`]), so what the CLI refuses and what the workflow would refuse are the
//! same decision; the workflow plans again at its start and fails if the cluster changed since.

use std::time::Duration;

use cratectl_core::op::{OperationKind, request_id};
use cratectl_core::scale::plan::{Mode, Planned, Request, parse_targets, plan};
use cratectl_core::scale::report::{NodeAction, NodeResult, ScaleClusterReport};
use cratectl_core::text;
use cratectl_flow::activities::At;
use cratectl_flow::engine::EngineError;
use cratectl_flow::model::{ClusterRef, Gate};
use cratectl_flow::ops::scale::activities::read_facts;
use cratectl_flow::ops::scale::dry_run;
use cratectl_flow::ops::scale::model::{SCALE_REQUEST, ScaleOptions, ScaleRequest, Timeouts};
use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat, ScaleArgs, ScaleModeArg};
use crate::commands::progress::Steps;
use crate::commands::run::{
    Mode as RunMode, foreground, load_maintenance, note_held_lease, print_dry_run, print_started,
    refuse_busy, refuse_open_operations, target_spec,
};
use crate::commands::workflows::{activity_env, engine_error, open_store, place};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured};

/// What `scale` prints when every group is already at its target.
#[derive(Serialize)]
struct NothingToDo<'a> {
    operation: OperationKind,
    nothing_to_do: bool,
    message: &'a str,
}

pub async fn run(args: ScaleArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    if global.cluster_url.is_some() {
        return Err(CliError::invalid(
            "scale needs Kubernetes; --cluster-url is not supported",
        ));
    }
    let targets = parse_targets(&args.targets).map_err(CliError::invalid)?;
    let maintenance = match &args.maintenance_config {
        Some(path) => Some(load_maintenance(path)?),
        None => None,
    };
    let kube = connect::kube(&global).await?;
    let discovery = connect::discovery(&kube, &global).await?;
    let cluster = connect::pick(&discovery, &args.cluster, &kube, &global)?.clone();
    if let (Some((_, config)), false) = (&maintenance, args.ignore_maintenance_windows)
        && let Err(e) = config.schedule(&cluster.name)
    {
        return Err(CliError::invalid(e.to_string()));
    }
    let now = Timestamp::now();
    refuse_busy(&cluster, now, OperationKind::Scale)?;
    let cluster_ref = ClusterRef {
        namespace: cluster.namespace.clone(),
        resource: cluster.resource.clone(),
        name: cluster.name.clone(),
    };
    let target = target_spec(&global, &kube)?;
    let at = At {
        target: target.clone(),
        cluster: cluster_ref.clone(),
    };
    let env = activity_env(&global);
    let read = read_facts(&env, &at).await.map_err(|e| {
        CliError::failed(format!(
            "cannot read what the plan needs from {}: {}; nothing was started",
            cluster.qualified(),
            e.message
        ))
    })?;
    let request = Request {
        targets,
        mode: match args.mode {
            ScaleModeArg::Auto => Mode::Auto,
            ScaleModeArg::Operator => Mode::Operator,
            ScaleModeArg::Direct => Mode::Direct,
        },
        force_direct: args.force_direct,
        gateway_patch: !args.no_gateway_patch,
    };
    let plan = match plan(&read.facts, &request) {
        Err(refusal) => return Err(CliError::invalid(format!("{refusal}; nothing was started"))),
        Ok(Planned::Nothing(message)) => {
            return match format {
                OutputFormat::Text => print(&format!("{message}\n")),
                structured => print_structured(
                    structured,
                    &NothingToDo {
                        operation: OperationKind::Scale,
                        nothing_to_do: true,
                        message: &message,
                    },
                ),
            };
        }
        Ok(Planned::Run(plan)) => *plan,
    };
    let scale = ScaleRequest {
        request_id: request_id(OperationKind::Scale, std::slice::from_ref(&cluster.name), now),
        target,
        clusters: vec![cluster_ref],
        options: ScaleOptions {
            planned: plan
                .groups
                .iter()
                .map(|g| (g.group.clone(), g.from, g.to))
                .collect(),
            planned_generation: read.generation,
            request,
            ack_node_checks: args.ack_node_checks,
            maintenance: maintenance.map(|(spec, _)| spec),
            ignore_maintenance_windows: args.ignore_maintenance_windows,
            gate: Gate {
                polls: args.stable_polls,
                interval: args.poll_interval,
            },
            timeouts: Timeouts {
                health: args.health_timeout,
                drain: args.drain_timeout,
                drain_stall: args.drain_stall_timeout,
                node: args.node_timeout,
            },
            ..ScaleOptions::default()
        },
    };

    if args.dry_run {
        let mut plan = dry_run::dry_run(env, &scale, &read, &plan, now).await;
        for c in &mut plan.clusters {
            note_held_lease(&cluster, now, &mut c.refused);
        }
        return print_dry_run(format, &plan.text(), &plan, plan.refused());
    }

    let dir = place(&global)?;
    let ops = open_store(&dir).await?;
    refuse_open_operations(
        &ops,
        std::slice::from_ref(&cluster),
        now,
        OperationKind::Scale,
        &scale.target,
        &global,
    )
    .await?;
    ops.start(SCALE_REQUEST, &scale.request_id, &scale)
        .await
        .map_err(|e| match e {
            EngineError::AlreadyExists(id) => CliError::invalid(format!(
                "scale {id} already exists (one was started for this cluster in the same second); try again"
            )),
            other => engine_error(other),
        })?;
    let id = scale.request_id.clone();
    tracing::info!(workflow_id = %id, "scale recorded");
    if args.run_async {
        return print_started(format, &ops, &id, &dir, "scale").await;
    }
    foreground::<ScaleClusterReport>(&ops, &id, &global, format, RunMode::User, &dir, "scale").await
}

/// A scale's progress: nodes added or removed of planned, and a line per node as it ends.
impl Steps for ScaleClusterReport {
    fn done_total(&self) -> (usize, usize) {
        let done = self
            .nodes
            .iter()
            .filter(|n| n.result != NodeResult::Pending)
            .count();
        (done, self.nodes.len())
    }

    fn step_results(&self) -> Vec<(String, String)> {
        self.nodes
            .iter()
            .filter(|n| n.result != NodeResult::Pending)
            .map(|n| {
                let verb = match n.action {
                    NodeAction::Add => "add",
                    NodeAction::Remove => "remove",
                };
                let mut line = format!("node {} ({verb}) {}", n.name, n.result.as_str());
                if let Some(seconds) = n.duration_s {
                    line.push_str(&format!(
                        " in {}",
                        text::duration(Duration::from_secs_f64(seconds))
                    ));
                }
                if let Some(reason) = &n.reason {
                    line.push_str(&format!(": {reason}"));
                }
                (n.name.clone(), line)
            })
            .collect()
    }
}
