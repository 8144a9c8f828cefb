//! `cratectl suspend` and `cratectl resume`: read what Kubernetes shows (a suspended cluster has
//! no CrateDB to ask), decide with `cratectl_core::suspend::plan` (refusals are exit 2, nothing
//! recorded; "nothing to do" is exit 0), then record the operation as a durable workflow and
//! either return (`--async`) or run it here with progress ([`crate::commands::run`]). The
//! workflow reads the same facts with the same activity and plans again once it holds the
//! Lease.

use std::io::IsTerminal;

use cratectl_core::op::{OperationKind, request_id};
use cratectl_core::scale::plan::Mode;
use cratectl_core::suspend::plan::{Planned, parse_replicas, plan_resume, plan_suspend};
use cratectl_core::suspend::record::{ANNOTATION, Counts};
use cratectl_core::suspend::report::{NodeResult, ResumeClusterReport, SuspendClusterReport};
use cratectl_flow::activities::At;
use cratectl_flow::engine::EngineError;
use cratectl_flow::model::{ClusterRef, Gate};
use cratectl_flow::ops::suspend::activities::{FactsOut, read_facts};
use cratectl_flow::ops::suspend::model::{
    RESUME_REQUEST, ResumeOptions, ResumeRequest, SUSPEND_REQUEST, SuspendOptions, SuspendRequest, Timeouts,
};
use jiff::Timestamp;
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat, ResumeArgs, ScaleModeArg, SuspendArgs};
use crate::commands::progress::Steps;
use crate::commands::run::{
    Mode as RunMode, ask, foreground, full_busy_problems, load_maintenance, note_held_lease, print_dry_run,
    print_started, refuse_open_operations, target_spec,
};
use crate::commands::workflows::{activity_env, engine_error, open_store, place};
use crate::connect;
use crate::exit::{CliError, CliResult};
use crate::output::{print, print_structured};

/// What `suspend`/`resume` print when there is nothing to do.
#[derive(Serialize)]
struct NothingToDo<'a> {
    operation: OperationKind,
    nothing_to_do: bool,
    message: &'a str,
}

/// What a dry run prints: the plan, and why it would be refused now.
#[derive(Serialize)]
struct DryRun {
    operation: OperationKind,
    dry_run: bool,
    cluster: String,
    namespace: String,
    /// Suspend and resume take every node down or up at once.
    disruption: &'static str,
    mode: Mode,
    /// The counts recorded (suspend) or brought back (resume).
    replicas: Counts,
    /// The steps, in order.
    steps: Vec<String>,
    warnings: Vec<String>,
    refused: Option<String>,
}

impl DryRun {
    /// Prints the dry run of `operation` (`plan`: mode, counts, warnings); exit 1 when it
    /// would be refused now.
    async fn print(
        operation: OperationKind,
        found: &Found,
        global: &GlobalArgs,
        now: Timestamp,
        plan: (Mode, &Counts, &[String]),
        steps: Vec<String>,
        format: OutputFormat,
    ) -> CliResult {
        let cluster = &found.cluster;
        // Why the run would be refused now: another actor at work, then a held Lease.
        let busy = full_busy_problems(cluster, now, operation, &found.at.target, global).await;
        let busy: Vec<&str> = busy.iter().map(|b| b.trim_start_matches("refused: ")).collect();
        let mut refused = (!busy.is_empty()).then(|| busy.join("; "));
        note_held_lease(cluster, now, &mut refused);
        let dry = DryRun {
            operation,
            dry_run: true,
            cluster: cluster.name.clone(),
            namespace: cluster.namespace.clone(),
            disruption: "full",
            mode: plan.0,
            replicas: plan.1.clone(),
            steps,
            warnings: plan.2.to_vec(),
            refused,
        };
        print_dry_run(format, &dry.text(), &dry, dry.refused.is_some())
    }

    fn text(&self) -> String {
        let mut out = format!(
            "{} {} (namespace {}), {} mode, disruption: {} (every node)\n",
            self.operation, self.cluster, self.namespace, self.mode, self.disruption
        );
        out.push_str(&format!("  counts: {}\n", self.replicas.text()));
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {step}\n", i + 1));
        }
        for w in &self.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        match &self.refused {
            Some(why) => out.push_str(&format!("would be refused now: {why}\n")),
            None => out.push_str("nothing was changed (dry run)\n"),
        }
        out
    }
}

fn mode_of(arg: ScaleModeArg) -> Mode {
    match arg {
        ScaleModeArg::Auto => Mode::Auto,
        ScaleModeArg::Operator => Mode::Operator,
        ScaleModeArg::Direct => Mode::Direct,
    }
}

/// The cluster, its reference, and the facts the workflow's first activity reads.
struct Found {
    cluster: cratectl_kube::Cluster,
    cluster_ref: ClusterRef,
    at: At,
    read: FactsOut,
}

async fn find(global: &GlobalArgs, name: &str, command: &str) -> CliResult<Found> {
    if global.cluster_url.is_some() {
        return Err(CliError::invalid(format!(
            "{command} needs Kubernetes; --cluster-url is not supported"
        )));
    }
    let (kube, _, cluster) = connect::find(global, name).await?;
    let cluster_ref = ClusterRef {
        namespace: cluster.namespace.clone(),
        resource: cluster.resource.clone(),
        name: cluster.name.clone(),
    };
    let at = At {
        target: target_spec(global, &kube)?,
        cluster: cluster_ref.clone(),
    };
    let read = read_facts(&activity_env(global), &at).await.map_err(|e| {
        CliError::failed(format!(
            "cannot read what the plan needs from {}: {}; nothing was started",
            cluster.qualified(),
            e.message
        ))
    })?;
    Ok(Found {
        cluster,
        cluster_ref,
        at,
        read,
    })
}

fn nothing_to_do(format: OutputFormat, operation: OperationKind, message: &str) -> CliResult {
    match format {
        OutputFormat::Text => print(&format!("{message}\n")),
        structured => print_structured(
            structured,
            &NothingToDo {
                operation,
                nothing_to_do: true,
                message,
            },
        ),
    }
}

fn already_exists(noun: &'static str) -> impl Fn(EngineError) -> CliError {
    move |e| match e {
        EngineError::AlreadyExists(id) => CliError::invalid(format!(
            "{noun} {id} already exists (one was started for this cluster in the same second); try again"
        )),
        other => engine_error(other),
    }
}

/// `cratectl suspend`.
pub async fn suspend(args: SuspendArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let maintenance = match &args.maintenance_config {
        Some(path) => Some(load_maintenance(path)?),
        None => None,
    };
    let found = find(&global, &args.cluster, "suspend").await?;
    let cluster = &found.cluster;
    if let (Some((_, config)), false) = (&maintenance, args.ignore_maintenance_windows)
        && let Err(e) = config.schedule(&cluster.name)
    {
        return Err(CliError::invalid(e.to_string()));
    }
    let now = Timestamp::now();
    let plan = match plan_suspend(&found.read.facts, mode_of(args.mode), args.force_direct) {
        Err(refusal) => return Err(CliError::invalid(format!("{refusal}; nothing was started"))),
        Ok(Planned::Nothing(message)) => return nothing_to_do(format, OperationKind::Suspend, &message),
        Ok(Planned::Run(plan)) => plan,
    };
    if args.delete_client_service && plan.mode == Mode::Operator {
        return Err(CliError::invalid(format!(
            "--delete-client-service: in operator mode the CrateDB operator handles the client Service of {} \
             itself; it is for direct mode; nothing was started",
            cluster.qualified()
        )));
    }
    let request = SuspendRequest {
        request_id: request_id(OperationKind::Suspend, std::slice::from_ref(&cluster.name), now),
        target: found.at.target.clone(),
        clusters: vec![found.cluster_ref.clone()],
        options: SuspendOptions {
            mode: mode_of(args.mode),
            force_direct: args.force_direct,
            hold: !args.no_hold,
            allow_unhealthy: args.allow_unhealthy,
            delete_client_service: args.delete_client_service,
            maintenance: maintenance.map(|(spec, _)| spec),
            ignore_maintenance_windows: args.ignore_maintenance_windows,
            gate: Gate {
                polls: args.stable_polls,
                interval: args.poll_interval,
            },
            timeouts: Timeouts {
                health: args.health_timeout,
                stop: args.stop_timeout,
                ..Timeouts::default()
            },
            planned: Some(plan.counts.clone()),
            ..SuspendOptions::default()
        },
    };

    if args.dry_run {
        let read = &found.read;
        let direct = plan.mode == Mode::Direct;
        let mut steps = Vec::new();
        if !args.allow_unhealthy {
            steps.push("stable GREEN".to_string());
        }
        if request.options.maintenance.is_some() && !args.ignore_maintenance_windows {
            steps.push("a maintenance window of at least its minimum length".into());
        }
        steps.push(format!("write the suspend record (annotation {ANNOTATION})"));
        if direct && !args.no_hold {
            steps.push(
                "hold cluster.routing.allocation.enable at 'primaries' (transient and persistent)".into(),
            );
        }
        if direct && !read.cronjobs_running.is_empty() {
            steps.push(format!(
                "suspend backup CronJob(s) {}",
                read.cronjobs_running.join(", ")
            ));
        }
        if direct && !read.deployments_running.is_empty() {
            let names: Vec<&str> = read.deployments_running.keys().map(String::as_str).collect();
            steps.push(format!("scale Deployment(s) {} to 0", names.join(", ")));
        }
        if direct {
            let data: Vec<&str> = read
                .facts
                .groups
                .iter()
                .filter(|g| !g.is_master())
                .map(|g| g.statefulset.as_str())
                .collect();
            steps.push(format!(
                "StatefulSet(s) {} to 0 replicas at once; wait until no pod is left",
                data.join(", ")
            ));
            if args.delete_client_service {
                steps.push(format!(
                    "save the client Service crate-{} in the record and delete it",
                    cluster.resource
                ));
            }
            if let Some(master) = read.facts.groups.iter().find(|g| g.is_master()) {
                steps.push(format!(
                    "StatefulSet {} to 0 replicas; wait until no pod is left",
                    master.statefulset
                ));
            }
        } else {
            steps.push(
                "one patch of the resource: every data group to 0; follow the operator until no pod is left"
                    .into(),
            );
        }
        return DryRun::print(
            OperationKind::Suspend,
            &found,
            &global,
            now,
            (plan.mode, &plan.counts, &plan.warnings),
            steps,
            format,
        )
        .await;
    }

    let dir = place(&global)?;
    let ops = open_store(&dir).await?;
    refuse_open_operations(
        &ops,
        std::slice::from_ref(cluster),
        now,
        OperationKind::Suspend,
        &request.target,
        &global,
    )
    .await?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::invalid(format!(
                "suspending stops every node of {} and needs confirmation, but standard input is not a \
                 terminal; pass --yes (nothing was started)",
                cluster.qualified()
            )));
        }
        eprintln!(
            "suspend stops every node of {} ({}); it serves nothing until `cratectl resume {}`.",
            cluster.qualified(),
            plan.counts.text(),
            cluster.name
        );
        ask("Suspend?")?;
    }
    let run = Run {
        ops: &ops,
        dir: &dir,
        global: &global,
        format,
        run_async: args.run_async,
    };
    run.start::<_, SuspendClusterReport>(SUSPEND_REQUEST, &request.request_id, &request, "suspend")
        .await
}

/// Where and how a recorded operation runs.
struct Run<'a> {
    ops: &'a crate::commands::workflows::Ops,
    dir: &'a crate::commands::workflows::Place,
    global: &'a GlobalArgs,
    format: OutputFormat,
    run_async: bool,
}

impl Run<'_> {
    /// Records the operation, then returns (`--async`) or runs it here with progress.
    async fn start<I: Serialize, R: Steps + serde::de::DeserializeOwned>(
        &self,
        workflow: &str,
        id: &str,
        input: &I,
        noun: &'static str,
    ) -> CliResult {
        self.ops
            .start(workflow, id, input)
            .await
            .map_err(already_exists(noun))?;
        tracing::info!(workflow_id = %id, "{noun} recorded");
        if self.run_async {
            return print_started(self.format, self.ops, id, self.dir, noun).await;
        }
        foreground::<R>(
            self.ops,
            id,
            self.global,
            self.format,
            RunMode::User,
            self.dir,
            noun,
        )
        .await
    }
}

/// `cratectl resume`.
pub async fn resume(args: ResumeArgs, global: GlobalArgs, top: Option<OutputFormat>) -> CliResult {
    let format = args.output.or(top).unwrap_or_default();
    let replicas =
        parse_replicas(&args.replicas).map_err(|e| CliError::invalid(format!("--replicas: {e}")))?;
    let found = find(&global, &args.cluster, "resume").await?;
    let cluster = &found.cluster;
    let now = Timestamp::now();
    let plan = match plan_resume(
        &found.read.facts,
        replicas.as_ref(),
        mode_of(args.mode),
        args.force_direct,
    ) {
        Err(refusal) => return Err(CliError::invalid(format!("{refusal}; nothing was started"))),
        Ok(Planned::Nothing(message)) => return nothing_to_do(format, OperationKind::Resume, &message),
        Ok(Planned::Run(plan)) => plan,
    };
    let request = ResumeRequest {
        request_id: request_id(OperationKind::Resume, std::slice::from_ref(&cluster.name), now),
        target: found.at.target.clone(),
        clusters: vec![found.cluster_ref.clone()],
        options: ResumeOptions {
            mode: mode_of(args.mode),
            force_direct: args.force_direct,
            replicas,
            gate: Gate {
                polls: args.stable_polls,
                interval: args.poll_interval,
            },
            timeouts: Timeouts {
                health: args.health_timeout,
                start: args.start_timeout,
                recovery: args.recovery_timeout,
                ..Timeouts::default()
            },
            planned: Some(plan.counts.clone()),
            ..ResumeOptions::default()
        },
    };

    if args.dry_run {
        let facts = &found.read.facts;
        let mut steps = Vec::new();
        if plan.mode == Mode::Direct {
            if let Some(master) = facts.groups.iter().find(|g| g.is_master()) {
                steps.push(format!(
                    "StatefulSet {} to {} replicas; wait until they are Ready",
                    master.statefulset,
                    plan.counts.master.unwrap_or(0)
                ));
            }
            if facts.record.as_ref().is_some_and(|r| r.client_service.is_some()) {
                steps.push(format!(
                    "recreate the client Service crate-{} from the record",
                    cluster.resource
                ));
            }
            steps.push(format!(
                "every data StatefulSet to its count at once ({})",
                plan.counts
                    .data
                    .iter()
                    .map(|(g, n)| format!("{g}={n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            steps
                .push("one patch of the resource: every data group to its count; follow the operator".into());
        }
        steps.push(format!(
            "wait until {} are in sys.nodes with a master elected",
            plan.nodes.join(", ")
        ));
        steps.push("wait until every primary is active".into());
        if let Some(record) = &facts.record
            && !record.saga.is_empty()
        {
            let names: Vec<&str> = record.saga.iter().map(|s| s.name.as_str()).collect();
            steps.push(format!("restore {} as recorded", names.join(", ")));
        }
        steps.push("stable GREEN".into());
        if let Some(record) = &facts.record {
            let mut back: Vec<String> = record.cronjobs.iter().map(|c| format!("CronJob {c}")).collect();
            back.extend(
                record
                    .deployments
                    .iter()
                    .map(|(d, n)| format!("Deployment {d} to {n}")),
            );
            if !back.is_empty() {
                steps.push(format!("bring back {}", back.join(", ")));
            }
            steps.push(format!("remove the suspend record ({ANNOTATION})"));
        }
        return DryRun::print(
            OperationKind::Resume,
            &found,
            &global,
            now,
            (plan.mode, &plan.counts, &plan.warnings),
            steps,
            format,
        )
        .await;
    }

    let dir = place(&global)?;
    let ops = open_store(&dir).await?;
    refuse_open_operations(
        &ops,
        std::slice::from_ref(cluster),
        now,
        OperationKind::Resume,
        &request.target,
        &global,
    )
    .await?;
    let run = Run {
        ops: &ops,
        dir: &dir,
        global: &global,
        format,
        run_async: args.run_async,
    };
    run.start::<_, ResumeClusterReport>(RESUME_REQUEST, &request.request_id, &request, "resume")
        .await
}

/// A suspend's progress: one step, the cluster stopped.
impl Steps for SuspendClusterReport {
    fn done_total(&self) -> (usize, usize) {
        let done = usize::from(self.common.state.is_terminal() && self.common.reason.is_none());
        (done, 1)
    }

    fn step_results(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A resume's progress: nodes back of expected.
impl Steps for ResumeClusterReport {
    fn done_total(&self) -> (usize, usize) {
        let done = self
            .nodes
            .iter()
            .filter(|n| n.result == NodeResult::Joined)
            .count();
        (done, self.nodes.len())
    }

    fn step_results(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
