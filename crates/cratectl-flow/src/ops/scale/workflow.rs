//! The scale workflows, written once against [`WorkflowCtx`] on the shared harness
//! ([`crate::harness`], ARCHITECTURE §3, §4).
//!
//! * [`scale_request`] — the top-level workflow the user's id names (one cluster).
//! * [`scale_cluster`] — one cluster: Lease → facts → plan (and compare with the CLI's) → a
//!   first reading, safe → stable GREEN → an exclusion-only saga → per group, in the plan's order (masters up,
//!   data up, data down, masters down):
//!   * **up**: gateway settings → replicas (dedicated masters one node at a time; operator
//!     mode: the resource's count, then the operator followed) → every new node joined →
//!     stable GREEN;
//!   * **down**: exclude the leaving nodes (the saga records the names we add) → drain until
//!     `sys.shards` shows none on them (a stall fails with CrateDB's `sys.allocations`
//!     explanation) → gateway settings and `dc-util-disabled` → per node, highest ordinal
//!     first: stable GREEN → replicas − 1 → pod gone and node left → its exclusion lifted;
//!
//!   then stable GREEN and node check 1. The harness ends it by restoring every recorded
//!   setting (our exclusions included), removing our labels and releasing the Lease.
//!
//! StatefulSet replicas already changed are never rolled back: the report says which nodes were
//! added or removed. Deterministic code only.

use std::time::Duration;

use cratectl_core::busy::BusyCode;
use cratectl_core::op::OperationKind;
use cratectl_core::op::report::ClusterState;
use cratectl_core::scale::plan::{GroupChange, MASTER_GROUP, Mode, Plan, Planned, plan};
use cratectl_core::scale::report::{
    GroupState, NodeAction, NodeReport, NodeResult, ScaleClusterReport, ScaleReport,
};

use super::activities::*;
use super::model::{SCALE_CLUSTER, ScaleClusterInput, ScaleRequest, group_report, new_cluster_report};
use crate::activities::At;
use crate::activities::common::{ExcludeIn, ExcludeNodes};
use crate::engine::{WfResult, WorkflowCtx};
use crate::harness::{ClusterOp, Halt, Step, until};
use crate::request::{Request, run_request};

/// The phase of a cluster while its groups change.
const PHASE_SCALE: &str = "scale";
/// Longest wait between two re-assertions of the drain's exclusion (and looks at the mailbox).
const DRAIN_SLICE: Duration = Duration::from_secs(30);

/// The top-level workflow.
pub async fn scale_request<C: WorkflowCtx>(ctx: &C, request: ScaleRequest) -> WfResult<ScaleReport> {
    let input = |index: usize, child_id: &str, forced: Option<String>| ScaleClusterInput {
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
            kind: OperationKind::Scale,
            request_id: &request.request_id,
            clusters: &request.clusters,
            parallel: 1,
            child_workflow: SCALE_CLUSTER,
            input: &input,
            pending: &new_cluster_report,
        },
    )
    .await
}

/// One cluster's workflow.
pub async fn scale_cluster<C: WorkflowCtx>(
    ctx: &C,
    input: ScaleClusterInput,
) -> WfResult<ScaleClusterReport> {
    let op = ClusterOp::start(
        ctx,
        At {
            target: input.target.clone(),
            cluster: input.cluster.clone(),
        },
        input.child_id.clone(),
        input.options.common(),
        new_cluster_report(&input.cluster, &input.child_id),
        input.forced.as_deref(),
    )
    .await?;
    let mut run = ScaleRun {
        op,
        input,
        labelled: Vec::new(),
    };
    let outcome = run.body().await;
    let note = match &outcome {
        Err(Halt::Stopped(note) | Halt::Failed(note)) => Some(note.clone()),
        Ok(()) => None,
    };
    if let Some(note) = note {
        for node in run
            .op
            .report
            .nodes
            .iter_mut()
            .filter(|n| n.result == NodeResult::Pending)
        {
            node.reason = Some(format!("not done: {note}"));
        }
    }
    run.op
        .finish_then(outcome, |report, open| {
            report.exclusions_left = open.saga.as_ref().map(|s| s.excluded.clone()).unwrap_or_default();
        })
        .await
}

struct ScaleRun<'c, C> {
    op: ClusterOp<'c, C, ScaleClusterReport>,
    input: ScaleClusterInput,
    /// StatefulSets that carried `dc-util-disabled=true` before we started (not ours to set or
    /// remove).
    labelled: Vec<String>,
}

impl<C: WorkflowCtx> ScaleRun<'_, C> {
    async fn body(&mut self) -> Step<()> {
        let options = self.input.options.clone();
        let schedule = self.op.schedule()?;

        // The Lease first: the plan is made from what the cluster looks like while no other
        // operation can change it.
        self.op.step("lease", None);
        self.op.take_lease().await?;
        self.op.step("plan", None);
        let read = self
            .op
            .call::<ReadFacts>(&self.op.at.clone(), self.op.retries())
            .await?;
        if options.planned_generation.is_some() && read.generation != options.planned_generation {
            return Err(Halt::Failed(format!(
                "the CrateDB resource changed since the plan (generation {} then, {} now): plan again",
                options.planned_generation.unwrap_or_default(),
                read.generation.map_or_else(|| "none".into(), |g| g.to_string())
            )));
        }
        let plan = match plan(&read.facts, &options.request) {
            Err(refusal) => return Err(Halt::Failed(format!("refused now: {refusal}"))),
            Ok(Planned::Nothing(message)) => {
                self.op.report.common.warnings.push(message);
                return Ok(());
            }
            Ok(Planned::Run(plan)) => *plan,
        };
        let now: Vec<(String, u64, u64)> = plan
            .groups
            .iter()
            .map(|g| (g.group.clone(), g.from, g.to))
            .collect();
        if !options.planned.is_empty() && now != options.planned {
            return Err(Halt::Failed(format!(
                "the cluster changed since the plan: planned {}, now {}; plan again",
                changes_text(&options.planned),
                changes_text(&now)
            )));
        }
        self.fill_report(&plan, &read.facts.shards_on);
        self.labelled = read
            .facts
            .groups
            .iter()
            .filter(|g| g.dc_util_disabled)
            .map(|g| g.statefulset.clone())
            .collect();
        if !plan.start_problems.is_empty() {
            return Err(Halt::Failed(format!(
                "not safe to start: {}",
                plan.start_problems.join("; ")
            )));
        }

        self.op.validate().await?;
        self.op
            .await_stable("gate", "stable GREEN before the scale", None)
            .await?;
        self.op.open_exclusion_saga();

        for (index, change) in plan.groups.iter().enumerate() {
            self.op.check_control().await?;
            self.op.report.common.state = ClusterState::Running;
            self.op.phase(PHASE_SCALE);
            self.op.report.groups[index].state = GroupState::Running;
            let result = if change.is_up() {
                self.scale_up(&plan, index, change, schedule.as_ref()).await
            } else {
                self.scale_down(&plan, index, change, schedule.as_ref()).await
            };
            self.op.report.groups[index].state = if result.is_ok() {
                GroupState::Done
            } else {
                GroupState::Failed
            };
            result?;
        }

        if plan.sync_resource {
            self.sync_resource(&plan).await?;
        }
        self.op
            .await_stable("final gate", "stable GREEN after the scale", None)
            .await?;
        self.op.step("node checks", None);
        let checks = self
            .op
            .call::<NodeChecks>(
                &ChecksIn {
                    at: self.op.at.clone(),
                    acknowledge: options.ack_node_checks,
                },
                self.op.retries(),
            )
            .await?;
        self.op.report.node_checks_failing = checks.failing;
        if let Some(error) = checks.error {
            self.op.report.common.warnings.push(error);
        }
        // The scale never writes `allocation.enable`; in operator mode the operator's own hold
        // must be gone again (its after-update handler resets it).
        let after = self
            .op
            .call::<ReadFacts>(&self.op.at.clone(), self.op.retries())
            .await?;
        if after.facts.allocation_enable != "all" {
            self.op.report.common.warnings.push(format!(
                "cluster.routing.allocation.enable is '{}' after the scale (not set by cratectl; \
                 the operator's hold?): see cratectl doctor",
                after.facts.allocation_enable
            ));
        }
        Ok(())
    }

    /// The report's groups, nodes, gateway and replica check from the plan.
    fn fill_report(&mut self, plan: &Plan, shards_on: &std::collections::BTreeMap<String, u64>) {
        let report = &mut self.op.report;
        report.mode = Some(plan.mode);
        report.groups = plan.groups.iter().map(group_report).collect();
        report.nodes = plan
            .groups
            .iter()
            .flat_map(|g| {
                let joining = g.joining.iter().map(move |n| (g, n, NodeAction::Add));
                let leaving = g.leaving.iter().map(move |n| (g, n, NodeAction::Remove));
                joining.chain(leaving)
            })
            .map(|(g, name, action)| NodeReport {
                name: name.clone(),
                group: g.group.clone(),
                action,
                result: NodeResult::Pending,
                shards_at_start: (action == NodeAction::Remove)
                    .then(|| shards_on.get(name).copied().unwrap_or(0)),
                reason: None,
                started_at: None,
                finished_at: None,
                duration_s: None,
            })
            .collect();
        report.gateway = plan.gateway.clone();
        report.replica_check = Some(plan.replica_check.clone());
        report.common.warnings.extend(plan.warnings.iter().cloned());
        self.op.publish();
    }

    async fn node_started(&mut self, name: &str) -> Step<()> {
        let now = self.op.ctx.now().await?;
        if let Some(node) = self.op.report.nodes.iter_mut().find(|n| n.name == name) {
            node.started_at = Some(now);
        }
        self.op.publish();
        Ok(())
    }

    async fn node_done(&mut self, name: &str, result: NodeResult) -> Step<()> {
        let now = self.op.ctx.now().await?;
        if let Some(node) = self.op.report.nodes.iter_mut().find(|n| n.name == name) {
            node.result = result;
            node.finished_at = Some(now);
            node.duration_s = node
                .started_at
                .map(|s| now.duration_since(s).as_secs_f64().max(0.0));
        }
        self.op.publish();
        Ok(())
    }

    fn fail_node(&mut self, name: &str, halt: &Halt) {
        if let (Halt::Failed(reason), Some(node)) =
            (halt, self.op.report.nodes.iter_mut().find(|n| n.name == name))
        {
            node.result = NodeResult::Failed;
            node.reason = Some(reason.clone());
        }
    }

    /// Another actor on the cluster stops the scale before the next node joins or leaves
    /// (the pods this scale changes are its own doing, not evidence).
    async fn check_busy(&mut self) -> Step<()> {
        self.op
            .check_busy(OperationKind::Scale, &[BusyCode::PodsConverging])
            .await
    }

    /// The maintenance gate before a step (`what`): it must start inside a window (how long a
    /// drain or a join takes is not known, so the window's minimum length is what is asked).
    async fn window(
        &mut self,
        schedule: Option<&cratectl_core::maintenance::Schedule>,
        what: &str,
    ) -> Step<()> {
        if let Some(schedule) = schedule {
            self.op
                .window_gate(schedule, schedule.min_window_duration, what)
                .await?;
            self.op.report.common.state = ClusterState::Running;
            self.op.phase(PHASE_SCALE);
        }
        Ok(())
    }

    /// Sets the group's count from `from` to `to`: the StatefulSet (direct) or the resource,
    /// then follows the operator until it has handled it (operator mode).
    async fn set_count(&mut self, plan: &Plan, change: &GroupChange, from: u64, to: u64) -> Step<()> {
        match plan.mode {
            Mode::Operator => {
                self.op.step(
                    &format!("resource {} replicas {from} -> {to}", change.group),
                    None,
                );
                self.op
                    .call::<SetResourceReplicas>(
                        &ResourceReplicasIn {
                            at: self.op.at.clone(),
                            group: change.group.clone(),
                            data_index: change.data_index,
                            from,
                            to,
                        },
                        self.op.retries(),
                    )
                    .await
            }
            _ => {
                self.op.step(
                    &format!("StatefulSet {} replicas {from} -> {to}", change.statefulset),
                    None,
                );
                self.op
                    .call::<SetReplicas>(
                        &ReplicasIn {
                            at: self.op.at.clone(),
                            statefulset: change.statefulset.clone(),
                            from,
                            to,
                        },
                        self.op.retries(),
                    )
                    .await
            }
        }
    }

    /// Operator mode: waits until the operator has handled count `to` of the group.
    async fn follow_operator(&mut self, change: &GroupChange, to: u64) -> Step<()> {
        let at = self.op.at.clone();
        let interval = self.op.common.gate.interval;
        let data_index = change.data_index;
        let total = self.input.options.timeouts.node + self.input.options.timeouts.health;
        self.op
            .wait::<AwaitOperator, bool>(
                "operator",
                &format!("the CrateDB operator to handle {}={to}", change.group),
                total,
                |budget| OperatorIn {
                    at: at.clone(),
                    data_index,
                    replicas: to,
                    interval,
                    budget,
                },
            )
            .await
            .map(|_| ())
    }

    /// Sets the gateway settings on the command lines for the node counts once group `index`
    /// has `count` nodes (groups before it at their targets, groups after it as they were), so
    /// a scale that stops midway leaves command lines that match the nodes there are.
    async fn patch_gateway(&mut self, plan: &Plan, index: usize, count: u64) -> Step<()> {
        if plan.gateway_statefulsets.is_empty() {
            return Ok(());
        }
        self.op.step("gateway settings", None);
        self.op
            .call::<PatchGateway>(
                &GatewayIn {
                    at: self.op.at.clone(),
                    statefulsets: plan.gateway_statefulsets.clone(),
                    totals: plan.totals_at(index, count),
                },
                self.op.retries(),
            )
            .await
    }

    async fn scale_up(
        &mut self,
        plan: &Plan,
        index: usize,
        change: &GroupChange,
        schedule: Option<&cratectl_core::maintenance::Schedule>,
    ) -> Step<()> {
        self.window(
            schedule,
            &format!("adding {} node(s) to {}", change.joining.len(), change.group),
        )
        .await?;
        // Dedicated masters join one at a time (each changes the voting configuration); data
        // nodes all at once.
        let steps: Vec<(u64, u64, Vec<String>)> = if change.group == MASTER_GROUP {
            change
                .joining
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        change.from + i as u64,
                        change.from + i as u64 + 1,
                        vec![n.clone()],
                    )
                })
                .collect()
        } else {
            vec![(change.from, change.to, change.joining.clone())]
        };
        for (from, to, names) in steps {
            self.op.check_control().await?;
            self.check_busy().await?;
            self.patch_gateway(plan, index, to).await?;
            for name in &names {
                self.node_started(name).await?;
            }
            let joined = self.join(plan, change, from, to, &names).await;
            if let Err(halt) = &joined {
                for name in &names {
                    self.fail_node(name, halt);
                }
            }
            joined?;
            for name in &names {
                self.node_done(name, NodeResult::Added).await?;
            }
        }
        self.op
            .await_stable(
                "gate",
                &format!("stable GREEN after {} grew to {}", change.group, change.to),
                None,
            )
            .await?;
        Ok(())
    }

    async fn join(
        &mut self,
        plan: &Plan,
        change: &GroupChange,
        from: u64,
        to: u64,
        names: &[String],
    ) -> Step<()> {
        self.set_count(plan, change, from, to).await?;
        let at = self.op.at.clone();
        let interval = self.op.common.gate.interval;
        let names = names.to_vec();
        self.op
            .wait::<AwaitJoined, bool>(
                "join",
                &format!("{} to join the cluster", names.join(", ")),
                self.input.options.timeouts.node,
                |budget| NodesIn {
                    at: at.clone(),
                    names: names.clone(),
                    avoid: None,
                    interval,
                    budget,
                },
            )
            .await?;
        if plan.mode == Mode::Operator {
            self.follow_operator(change, to).await?;
        }
        Ok(())
    }

    async fn scale_down(
        &mut self,
        plan: &Plan,
        index: usize,
        change: &GroupChange,
        schedule: Option<&cratectl_core::maintenance::Schedule>,
    ) -> Step<()> {
        let leaving = change.leaving.clone();
        self.window(schedule, &format!("draining {}", leaving.join(", ")))
            .await?;
        self.op.exclude_nodes(&leaving).await?;
        if let Some(saga) = &self.op.open.saga {
            for name in &saga.excluded {
                if !self.op.report.exclusions_added.contains(name) {
                    self.op.report.exclusions_added.push(name.clone());
                }
            }
        }
        self.drain(&leaving).await?;
        // dc_util's hooks on a removed pod must neither decommission it again nor touch
        // allocation (in both modes: the operator's StatefulSets carry the hooks too). A label
        // someone else set stays theirs.
        if !self.labelled.contains(&change.statefulset) {
            self.op
                .disable_dc_util(std::slice::from_ref(&change.statefulset))
                .await?;
        }
        for (k, node) in leaving.iter().enumerate() {
            self.op.check_control().await?;
            self.window(schedule, &format!("removing node {node}")).await?;
            self.check_busy().await?;
            // Hours may have passed since the drain: this node and the ones after it must
            // still be excluded and empty (an exclusion reset meanwhile lets shards come back).
            self.drain(&leaving[k..]).await?;
            let current = change.from - k as u64;
            if plan.mode == Mode::Direct {
                self.patch_gateway(plan, index, current - 1).await?;
            }
            let pod = format!("{}-{}", change.statefulset, current - 1);
            self.node_started(node).await?;
            let removed = self.remove_node(plan, change, current, node, &pod).await;
            if let Err(halt) = &removed {
                self.fail_node(node, halt);
            }
            removed?;
            self.node_done(node, NodeResult::Removed).await?;
            // Gone from the cluster: lifting its exclusion can no longer move a shard onto it.
            self.op.unexclude_nodes(std::slice::from_ref(node)).await?;
        }
        self.op.enable_dc_util().await?;
        Ok(())
    }

    async fn remove_node(
        &mut self,
        plan: &Plan,
        change: &GroupChange,
        current: u64,
        node: &str,
        pod: &str,
    ) -> Step<()> {
        self.op
            .await_stable(
                "gate",
                &format!("stable GREEN before removing node {node}"),
                Some(pod.to_string()),
            )
            .await?;
        self.op
            .mark_departing(pod, node, &change.statefulset, current - 1);
        self.set_count(plan, change, current, current - 1).await?;
        let at = self.op.at.clone();
        let interval = self.op.common.gate.interval;
        let (pod, node) = (pod.to_string(), node.to_string());
        self.op
            .wait::<AwaitNodeGone, bool>(
                "departure",
                &format!("pod {pod} to be gone and node {node} to leave the cluster"),
                self.input.options.timeouts.node,
                |budget| GoneIn {
                    at: at.clone(),
                    pod: pod.clone(),
                    node: node.clone(),
                    interval,
                    budget,
                    or_still_wanted: None,
                },
            )
            .await?;
        self.op.clear_departing();
        if plan.mode == Mode::Operator {
            self.follow_operator(change, current - 1).await?;
        }
        Ok(())
    }

    /// Waits until the leaving nodes hold no shard copy, re-asserting their exclusion before
    /// every slice (a full restart drops the transient level; someone may reset it) and
    /// reading the control mailbox between slices (`stop` ends a long drain). A stretch of
    /// `drain_stall` without a copy leaving fails with CrateDB's explanation; the whole drain is
    /// bounded by `drain`. Both are measured with the workflow's clock (`ctx.now()`, recorded,
    /// so a replay takes the same decisions), not by adding up wait budgets: a slice that ends
    /// early on progress costs only the time it took.
    async fn drain(&mut self, leaving: &[String]) -> Step<()> {
        let timeouts = self.input.options.timeouts.clone();
        let at = self.op.at.clone();
        let interval = self.op.common.gate.interval;
        let what = format!("shard copies to leave {}", leaving.join(", "));
        let started = self.op.ctx.now().await?;
        let mut progressed = started;
        let mut best = u64::MAX;
        loop {
            self.op.check_control().await?;
            self.op
                .call::<ExcludeNodes>(
                    &ExcludeIn {
                        at: self.op.at.clone(),
                        add: leaving.to_vec(),
                        remove: Vec::new(),
                    },
                    self.op.retries(),
                )
                .await?;
            let names = leaving.to_vec();
            let slice = DRAIN_SLICE.min(timeouts.drain_stall);
            let (left, _) = self
                .op
                .wait_up_to::<AwaitDrain, u64>("drain", &what, slice, |budget| DrainIn {
                    at: at.clone(),
                    names: names.clone(),
                    below: best,
                    interval,
                    budget,
                })
                .await?;
            let now = self.op.ctx.now().await?;
            match left {
                Some(0) => return Ok(()),
                Some(n) => {
                    best = n;
                    progressed = now;
                }
                None => {}
            }
            if until(started, now) >= timeouts.drain {
                return Err(self.op.timed_out(&what, timeouts.drain));
            }
            if until(progressed, now) >= timeouts.drain_stall {
                let explanations = self
                    .op
                    .call::<ExplainDrain>(
                        &ExplainIn {
                            at: self.op.at.clone(),
                            names: leaving.to_vec(),
                        },
                        self.op.retries(),
                    )
                    .await?;
                let last = self.op.report.common.last_readings.clone().unwrap_or_default();
                return Err(Halt::Failed(format!(
                    "the drain stalled: no shard copy left {} for {} ({last}); CrateDB says: {}",
                    leaving.join(", "),
                    cratectl_core::text::duration(timeouts.drain_stall),
                    if explanations.is_empty() {
                        "nothing (no allocation decision recorded)".to_string()
                    } else {
                        explanations.join("; ")
                    }
                )));
            }
        }
    }

    /// Direct mode on an operator's resource (`--force-direct`): its counts follow, so the
    /// operator's diff base does not go stale.
    async fn sync_resource(&mut self, plan: &Plan) -> Step<()> {
        for change in &plan.groups {
            self.op.step(&format!("resource {} replicas", change.group), None);
            self.op
                .call::<SetResourceReplicas>(
                    &ResourceReplicasIn {
                        at: self.op.at.clone(),
                        group: change.group.clone(),
                        data_index: change.data_index,
                        from: change.from,
                        to: change.to,
                    },
                    self.op.retries(),
                )
                .await?;
        }
        Ok(())
    }
}

/// `hot 3->5, master 3->5`.
fn changes_text(changes: &[(String, u64, u64)]) -> String {
    changes
        .iter()
        .map(|(g, from, to)| format!("{g} {from}->{to}"))
        .collect::<Vec<_>>()
        .join(", ")
}
