//! The suspend and resume workflows, written once against [`WorkflowCtx`] on the shared harness
//! ([`crate::harness`], ARCHITECTURE §3, §4).
//!
//! * [`suspend_cluster`] — Lease → facts (Kubernetes only) → plan (and compare with the CLI's) →
//!   stable GREEN (unless `--allow-unhealthy`) → maintenance window for the whole cluster →
//!   the settings recorded → **the suspend record** written on the resource (counts, saga,
//!   CronJobs, Deployments) → the `primaries` hold (direct mode, unless `--no-hold`) → backup
//!   CronJobs suspended, grand-central and backup-metrics to 0 → *commit* → every data
//!   StatefulSet to 0 at once → no data pod left → masters to 0 → no pod left. Operator mode:
//!   the record, then one guarded patch of every data group to 0, then the operator followed
//!   and the pods (the hold, the CronJob and the Deployments are the operator's).
//!   Before the commit, every way out undoes what was done (the hold, the CronJobs and
//!   Deployments, the record). After it, nothing is rolled back: the record says how to come
//!   back, and `resume` reads it. The saga stays open in the record on purpose.
//! * [`resume_cluster`] — Lease → facts → plan from the record (or `--replicas` without one) →
//!   masters back and Ready → every data StatefulSet back at once (nodes recover the cluster
//!   state together) → every expected node in `sys.nodes` with a master → every primary active
//!   → the recorded settings restored → stable GREEN → CronJobs and Deployments back, the
//!   record removed. Operator mode: one guarded patch of the data counts, the operator
//!   followed, then the same checks. A failure leaves the record for the next `resume`.
//!
//! Deterministic code only.

use cratectl_core::busy::BusyCode;
use cratectl_core::op::OperationKind;
use cratectl_core::op::report::ClusterState;
use cratectl_core::op::saga::{ALLOCATION_DURING_RESTART, ALLOCATION_ENABLE, Saga};
use cratectl_core::scale::plan::Mode;
use cratectl_core::sql::Literal;
use cratectl_core::suspend::plan::{
    Planned, ResumePlan, SuspendFacts, SuspendPlan, plan_resume, plan_suspend,
};
use cratectl_core::suspend::record::{ANNOTATION, Counts, SuspendRecord, VERSION};
use cratectl_core::suspend::report::{
    ClientService, Hold, NodeResult, ResumeClusterReport, ResumeNode, ResumeReport, SuspendClusterReport,
    SuspendReport,
};

use super::activities::*;
use super::model::{
    RESUME_CLUSTER, ResumeClusterInput, ResumeRequest, SUSPEND_CLUSTER, SuspendClusterInput, SuspendRequest,
    new_resume_report, new_suspend_report,
};
use crate::activities::At;
use crate::activities::suspend_effects::{SuspendUndoIn, UndoSuspendEffects};
use crate::engine::{WfResult, WorkflowCtx};
use crate::harness::{ClusterOp, Halt, Step};
use crate::request::{Request, run_request};

/// The phases of these operations' own work.
const PHASE_SUSPEND: &str = "suspend";
const PHASE_RESUME: &str = "resume";

/// The top-level suspend workflow.
pub async fn suspend_request<C: WorkflowCtx>(ctx: &C, request: SuspendRequest) -> WfResult<SuspendReport> {
    let input = |index: usize, child_id: &str, forced: Option<String>| SuspendClusterInput {
        request_id: request.request_id.clone(),
        child_id: child_id.to_string(),
        target: request.target.clone(),
        cluster: request.clusters[index].clone(),
        options: request.options.clone(),
        forced,
    };
    run_request(
        ctx,
        Request {
            kind: OperationKind::Suspend,
            request_id: &request.request_id,
            clusters: &request.clusters,
            parallel: 1,
            child_workflow: SUSPEND_CLUSTER,
            input: &input,
            pending: &new_suspend_report,
        },
    )
    .await
}

/// The top-level resume workflow.
pub async fn resume_request<C: WorkflowCtx>(ctx: &C, request: ResumeRequest) -> WfResult<ResumeReport> {
    let input = |index: usize, child_id: &str, forced: Option<String>| ResumeClusterInput {
        request_id: request.request_id.clone(),
        child_id: child_id.to_string(),
        target: request.target.clone(),
        cluster: request.clusters[index].clone(),
        options: request.options.clone(),
        forced,
    };
    run_request(
        ctx,
        Request {
            kind: OperationKind::Resume,
            request_id: &request.request_id,
            clusters: &request.clusters,
            parallel: 1,
            child_workflow: RESUME_CLUSTER,
            input: &input,
            pending: &new_resume_report,
        },
    )
    .await
}

/// One cluster's suspend.
pub async fn suspend_cluster<C: WorkflowCtx>(
    ctx: &C,
    input: SuspendClusterInput,
) -> WfResult<SuspendClusterReport> {
    let mut op = ClusterOp::start(
        ctx,
        At {
            target: input.target.clone(),
            cluster: input.cluster.clone(),
        },
        input.child_id.clone(),
        input.options.common(),
        new_suspend_report(&input.cluster, &input.child_id),
        input.forced.as_deref(),
    )
    .await?;
    let outcome = suspend_body(&mut op, &input).await;
    op.finish(outcome).await
}

/// `planned` (the CLI's) and `now` must agree.
fn same_plan(planned: Option<&Counts>, now: &Counts) -> Step<()> {
    match planned {
        Some(planned) if planned != now => Err(Halt::Failed(format!(
            "the cluster changed since the plan: planned {}, now {}; plan again",
            planned.text(),
            now.text()
        ))),
        _ => Ok(()),
    }
}

async fn read_facts<C: WorkflowCtx, R>(op: &mut ClusterOp<'_, C, R>) -> Step<FactsOut>
where
    R: cratectl_core::op::report::ClusterOutcome + Clone + serde::Serialize,
{
    op.step("plan", None);
    op.call::<ReadSuspendFacts>(&op.at.clone(), op.retries()).await
}

async fn suspend_body<C: WorkflowCtx>(
    op: &mut ClusterOp<'_, C, SuspendClusterReport>,
    input: &SuspendClusterInput,
) -> Step<()> {
    let options = &input.options;
    let schedule = op.schedule()?;
    op.step("lease", None);
    op.take_lease().await?;
    let read = read_facts(op).await?;
    let plan: SuspendPlan = match plan_suspend(&read.facts, options.mode, options.force_direct) {
        Err(refusal) => return Err(Halt::Failed(format!("refused now: {refusal}"))),
        Ok(Planned::Nothing(message)) => {
            op.report.common.warnings.push(message);
            return Ok(());
        }
        Ok(Planned::Run(plan)) => plan,
    };
    same_plan(options.planned.as_ref(), &plan.counts)?;
    op.report.mode = Some(plan.mode);
    op.report.replicas_before = Some(plan.counts.clone());
    op.report.common.warnings.extend(plan.warnings.iter().cloned());
    op.publish();

    if !options.allow_unhealthy {
        op.validate().await?;
        op.await_stable("gate", "stable GREEN before the suspend", None)
            .await?;
    }
    if let Some(schedule) = &schedule {
        op.window_gate(
            schedule,
            schedule.min_window_duration,
            "suspending the whole cluster",
        )
        .await?;
        op.report.common.state = ClusterState::Running;
    }
    op.phase(PHASE_SUSPEND);
    // The gates may have taken hours: what is written next is planned from the cluster as it
    // is now, and must still be the plan.
    let read = read_facts(op).await?;
    match plan_suspend(&read.facts, options.mode, options.force_direct) {
        Ok(Planned::Run(now)) if now.counts == plan.counts && now.mode == plan.mode => {}
        Ok(Planned::Run(now)) => {
            return Err(Halt::Failed(format!(
                "the cluster changed while the suspend waited: planned {} ({} mode), now {} ({} mode); \
                 nothing was changed",
                plan.counts.text(),
                plan.mode,
                now.counts.text(),
                now.mode
            )));
        }
        Ok(Planned::Nothing(message)) => {
            return Err(Halt::Failed(format!(
                "the cluster changed while the suspend waited ({message}); nothing was changed"
            )));
        }
        Err(refusal) => return Err(Halt::Failed(format!("refused now: {refusal}"))),
    }

    // The record, before the first change: what to bring back, and the settings to put back.
    let direct = plan.mode == Mode::Direct;
    let hold = options.hold && direct;
    if hold {
        op.record_settings_of(&[ALLOCATION_ENABLE]).await?;
    }
    let record = SuspendRecord {
        version: VERSION,
        workflow_id: op.child_id.clone(),
        at: op.ctx.now().await?,
        counts: plan.counts.clone(),
        saga: op.open.saga.as_ref().map(|s| s.saved.clone()).unwrap_or_default(),
        client_service: None,
        mode: plan.mode,
        // The operator suspends the backup CronJob and scales its Deployments down itself (and
        // brings them back on its own schedule after a resume): only direct mode does it.
        cronjobs: if direct {
            read.cronjobs_running.clone()
        } else {
            Vec::new()
        },
        deployments: if direct {
            read.deployments_running.clone()
        } else {
            Default::default()
        },
    };
    op.open.suspend_record = Some(record.clone());
    op.step("write record", None);
    op.call::<WriteRecord>(
        &RecordIn {
            at: op.at.clone(),
            record: record.clone(),
        },
        op.retries(),
    )
    .await?;
    op.report.record = Some(ANNOTATION.to_string());
    op.publish();
    if hold {
        op.change_settings(&[(
            ALLOCATION_ENABLE.to_string(),
            Literal::text(ALLOCATION_DURING_RESTART),
        )])
        .await?;
        op.report.hold = Some(Hold {
            name: ALLOCATION_ENABLE.into(),
            value: ALLOCATION_DURING_RESTART.into(),
        });
    }
    if !record.cronjobs.is_empty() || !record.deployments.is_empty() {
        op.step("stop backups and grand-central", None);
        op.call::<StopAuxiliaries>(
            &RecordIn {
                at: op.at.clone(),
                record: record.clone(),
            },
            op.retries(),
        )
        .await?;
        op.report.cronjobs_suspended = record.cronjobs.clone();
        op.report.deployments_stopped = record.deployments.keys().cloned().collect();
    }
    // The last moment to stop without a trace: a `stop`, or another actor at work (the pods
    // and the record are this suspend's own).
    op.check_control().await?;
    op.check_busy(OperationKind::Suspend, &[BusyCode::Suspended])
        .await?;

    // Commit: from here on the record is the resume's to undo, and the hold stays (a hard stop
    // during the first write must not undo them under a cluster that is stopping).
    let saga = op.open.saga.take();
    let open_record = op.open.suspend_record.take();
    op.report.committed = true;
    op.publish();
    let first = match plan.mode {
        Mode::Operator => set_resource_data(op, operator_changes(&read.facts)).await,
        _ => match read.facts.groups.iter().find(|g| !g.is_master()) {
            Some(g) => set_statefulset(op, &g.statefulset, g.replicas, 0).await,
            None => Ok(()),
        },
    };
    if let Err(halt) = first {
        // The first write failed: if the cluster shows it was not made (a guard that did not
        // hold, a refused patch), nothing was stopped, and the way out undoes everything. If
        // that cannot be told, the record stays: `resume` finishes from it.
        if let Ok(now) = op.call::<ReadSuspendFacts>(&op.at.clone(), op.retries()).await
            && now.facts.counts(plan.mode) == plan.counts
        {
            op.open.saga = saga;
            op.open.suspend_record = open_record;
            op.report.committed = false;
            op.publish();
        }
        return Err(halt);
    }
    match plan.mode {
        Mode::Operator => suspend_by_operator(op, &read.facts, input).await,
        _ => suspend_direct(op, &read.facts, input, &record).await,
    }
}

/// Operator mode's one patch: every data group from its count to 0.
fn operator_changes(facts: &SuspendFacts) -> Vec<(usize, u64, u64)> {
    facts
        .groups
        .iter()
        .filter_map(|g| Some((g.data_index?, g.resource_replicas, 0)))
        .collect()
}

/// Direct mode: every data StatefulSet to 0, no data pod left, then the masters.
async fn suspend_direct<C: WorkflowCtx>(
    op: &mut ClusterOp<'_, C, SuspendClusterReport>,
    facts: &SuspendFacts,
    input: &SuspendClusterInput,
    record: &SuspendRecord,
) -> Step<()> {
    let data: Vec<_> = facts.groups.iter().filter(|g| !g.is_master()).collect();
    // The first was written at the commit.
    for g in data.iter().skip(1) {
        set_statefulset(op, &g.statefulset, g.replicas, 0).await?;
    }
    let names: Vec<String> = data.iter().map(|g| g.statefulset.clone()).collect();
    await_pods_gone(op, &names, input.options.timeouts.stop).await?;
    if input.options.delete_client_service {
        op.step("delete client Service", None);
        op.call::<DeleteClientService>(
            &RecordIn {
                at: op.at.clone(),
                record: record.clone(),
            },
            op.retries(),
        )
        .await?;
        op.report.client_service = ClientService::Deleted;
        op.publish();
    }
    if let Some(master) = facts.groups.iter().find(|g| g.is_master()) {
        set_statefulset(op, &master.statefulset, master.replicas, 0).await?;
        await_pods_gone(
            op,
            std::slice::from_ref(&master.statefulset),
            input.options.timeouts.stop,
        )
        .await?;
    }
    Ok(())
}

/// Operator mode: one patch of every data group to 0; the operator stops the pods (masters
/// last) and is followed until its handler has finished and no pod is left.
async fn suspend_by_operator<C: WorkflowCtx>(
    op: &mut ClusterOp<'_, C, SuspendClusterReport>,
    facts: &SuspendFacts,
    input: &SuspendClusterInput,
) -> Step<()> {
    // The patch was written at the commit.
    let changes = operator_changes(facts);
    follow_operator(op, changes[0].0, 0, input.options.timeouts.stop).await?;
    let all: Vec<String> = facts.groups.iter().map(|g| g.statefulset.clone()).collect();
    await_pods_gone(op, &all, input.options.timeouts.stop).await
}

async fn set_statefulset<C: WorkflowCtx, R>(
    op: &mut ClusterOp<'_, C, R>,
    statefulset: &str,
    from: u64,
    to: u64,
) -> Step<()>
where
    R: cratectl_core::op::report::ClusterOutcome + Clone + serde::Serialize,
{
    op.step(
        &format!("StatefulSet {statefulset} replicas {from} -> {to}"),
        None,
    );
    op.call::<SetReplicas>(
        &ReplicasIn {
            at: op.at.clone(),
            statefulset: statefulset.to_string(),
            from,
            to,
        },
        op.retries(),
    )
    .await
}

async fn set_resource_data<C: WorkflowCtx, R>(
    op: &mut ClusterOp<'_, C, R>,
    changes: Vec<(usize, u64, u64)>,
) -> Step<()>
where
    R: cratectl_core::op::report::ClusterOutcome + Clone + serde::Serialize,
{
    op.step("resource data replicas", None);
    op.call::<SetDataReplicas>(
        &DataReplicasIn {
            at: op.at.clone(),
            changes,
        },
        op.retries(),
    )
    .await
}

async fn follow_operator<C: WorkflowCtx, R>(
    op: &mut ClusterOp<'_, C, R>,
    data_index: usize,
    replicas: u64,
    total: std::time::Duration,
) -> Step<()>
where
    R: cratectl_core::op::report::ClusterOutcome + Clone + serde::Serialize,
{
    let at = op.at.clone();
    let interval = op.common.gate.interval;
    op.wait::<AwaitOperator, bool>(
        "operator",
        "the CrateDB operator to handle the change",
        total,
        |budget| OperatorIn {
            at: at.clone(),
            data_index: Some(data_index),
            replicas,
            interval,
            budget,
        },
    )
    .await
    .map(|_| ())
}

async fn await_pods_gone<C: WorkflowCtx, R>(
    op: &mut ClusterOp<'_, C, R>,
    statefulsets: &[String],
    total: std::time::Duration,
) -> Step<()>
where
    R: cratectl_core::op::report::ClusterOutcome + Clone + serde::Serialize,
{
    let at = op.at.clone();
    let interval = op.common.gate.interval;
    let statefulsets = statefulsets.to_vec();
    op.wait::<AwaitPodsGone, bool>(
        "stop",
        &format!("every pod of {} to be gone", statefulsets.join(", ")),
        total,
        |budget| PodsIn {
            at: at.clone(),
            statefulsets: statefulsets.clone(),
            count: 0,
            interval,
            budget,
        },
    )
    .await
    .map(|_| ())
}

/// One cluster's resume.
pub async fn resume_cluster<C: WorkflowCtx>(
    ctx: &C,
    input: ResumeClusterInput,
) -> WfResult<ResumeClusterReport> {
    let mut op = ClusterOp::start(
        ctx,
        At {
            target: input.target.clone(),
            cluster: input.cluster.clone(),
        },
        input.child_id.clone(),
        input.options.common(),
        new_resume_report(&input.cluster, &input.child_id),
        input.forced.as_deref(),
    )
    .await?;
    let outcome = resume_body(&mut op, &input).await;
    op.finish(outcome).await
}

async fn resume_body<C: WorkflowCtx>(
    op: &mut ClusterOp<'_, C, ResumeClusterReport>,
    input: &ResumeClusterInput,
) -> Step<()> {
    let options = &input.options;
    op.step("lease", None);
    op.take_lease().await?;
    let read = read_facts(op).await?;
    let plan: ResumePlan = match plan_resume(
        &read.facts,
        options.replicas.as_ref(),
        options.mode,
        options.force_direct,
    ) {
        Err(refusal) => return Err(Halt::Failed(format!("refused now: {refusal}"))),
        Ok(Planned::Nothing(message)) => {
            op.report.common.warnings.push(message);
            return Ok(());
        }
        Ok(Planned::Run(plan)) => plan,
    };
    same_plan(options.planned.as_ref(), &plan.counts)?;
    let facts = &read.facts;
    op.report.mode = Some(plan.mode);
    op.report.replicas = Some(plan.counts.clone());
    op.report.record = facts.record.as_ref().map(|_| ANNOTATION.to_string());
    op.report.nodes = plan
        .nodes
        .iter()
        .map(|n| ResumeNode {
            name: n.clone(),
            result: NodeResult::Missing,
        })
        .collect();
    op.report.common.warnings.extend(plan.warnings.iter().cloned());
    op.phase(PHASE_RESUME);

    let timeouts = &options.timeouts;
    if let Some(service) = facts.record.as_ref().and_then(|r| r.client_service.clone()) {
        op.step("recreate client Service", None);
        op.call::<RecreateClientService>(
            &ServiceIn {
                at: op.at.clone(),
                service,
            },
            op.retries(),
        )
        .await?;
        op.report.client_service = ClientService::Recreated;
    }
    match plan.mode {
        Mode::Operator => {
            let changes: Vec<(usize, u64, u64)> = facts
                .groups
                .iter()
                .filter_map(|g| Some((g.data_index?, g.resource_replicas, plan.counts.of(&g.name)?)))
                .collect();
            set_resource_data(op, changes).await?;
        }
        _ => {
            if let Some(master) = facts.groups.iter().find(|g| g.is_master()) {
                let count = plan.counts.of(&master.name).unwrap_or(master.replicas);
                set_statefulset(op, &master.statefulset, master.replicas, count).await?;
                let at = op.at.clone();
                let interval = op.common.gate.interval;
                let sts = master.statefulset.clone();
                op.wait::<AwaitPodsReady, bool>(
                    "masters",
                    &format!("{count} Ready pod(s) of {sts}"),
                    timeouts.start,
                    |budget| PodsIn {
                        at: at.clone(),
                        statefulsets: vec![sts.clone()],
                        count,
                        interval,
                        budget,
                    },
                )
                .await?;
            }
            // `stop` before the data nodes: the masters are back and stay.
            op.check_control().await?;
            // Every data group at once: the nodes recover the cluster state together.
            for g in facts.groups.iter().filter(|g| !g.is_master()) {
                let count = plan.counts.of(&g.name).unwrap_or(g.replicas);
                set_statefulset(op, &g.statefulset, g.replicas, count).await?;
            }
        }
    }

    let at = op.at.clone();
    let interval = op.common.gate.interval;
    let names = plan.nodes.clone();
    op.wait::<AwaitJoined, bool>(
        "join",
        "every node back in sys.nodes and a master elected",
        timeouts.start,
        |budget| NodesIn {
            at: at.clone(),
            names: names.clone(),
            avoid: None,
            interval,
            budget,
        },
    )
    .await?;
    for node in &mut op.report.nodes {
        node.result = NodeResult::Joined;
    }
    op.publish();
    if plan.mode == Mode::Operator
        && let Some(index) = facts.groups.iter().find_map(|g| g.data_index)
    {
        let count = facts
            .groups
            .iter()
            .find(|g| g.data_index == Some(index))
            .and_then(|g| plan.counts.of(&g.name))
            .unwrap_or(0);
        follow_operator(op, index, count, timeouts.start).await?;
    }
    let at = op.at.clone();
    op.wait::<AwaitPrimaries, bool>("recovery", "every primary active", timeouts.recovery, |budget| {
        PrimariesIn {
            at: at.clone(),
            interval,
            budget,
        }
    })
    .await?;

    // The settings the suspend held come back once every node is in (replicas could be
    // rebuilt elsewhere before).
    if let Some(record) = &facts.record
        && !record.saga.is_empty()
    {
        op.open.saga = Some(Saga {
            saved: record.saga.clone(),
            excluded: Vec::new(),
        });
        op.publish();
        op.restore_allocation().await?;
        if record.saga.iter().any(|s| s.name == ALLOCATION_ENABLE) {
            op.report.hold = Some(Hold {
                name: ALLOCATION_ENABLE.into(),
                value: ALLOCATION_DURING_RESTART.into(),
            });
        }
    }
    op.await_stable("final gate", "stable GREEN after the resume", None)
        .await?;
    if let Some(record) = &facts.record {
        op.step("undo suspend effects", None);
        let notes = op
            .call::<UndoSuspendEffects>(
                &SuspendUndoIn {
                    at: op.at.clone(),
                    record: record.clone(),
                },
                op.retries(),
            )
            .await?;
        for note in notes {
            op.ctx.log(&note);
        }
        op.report.cronjobs_resumed = record.cronjobs.clone();
        op.report.deployments_started = record.deployments.keys().cloned().collect();
    }
    Ok(())
}
