//! The restart workflows, written once against [`WorkflowCtx`] on the shared harness
//! ([`crate::harness`], ARCHITECTURE §3, §4).
//!
//! * [`restart_request`] — the top-level workflow the user's id names: runs one child per
//!   cluster, `parallel` lanes at a time, and returns the report. A failed cluster does not stop
//!   the others.
//! * [`restart_cluster`] — one cluster, one pod at a time: discover → Lease → a first reading,
//!   safe → per pod: maintenance window → stable gate → record + hold allocation → graceful stop
//!   → evict/delete (UID-guarded) → new UID Ready → rejoin → restore allocation → stable GREEN.
//!   The harness ends it by restoring every recorded setting, removing the routing-owner label
//!   and releasing the Lease, and says why it stopped.
//!
//! Deterministic code only: time comes from `ctx.now()`, waiting from activities and durable
//! timers, and every decision is a pure function of recorded results.

use std::time::Duration;

use cratectl_core::op::OperationKind;
use cratectl_core::op::report::ClusterState;
use cratectl_core::op::window::estimate_step_duration;
use cratectl_core::restart::plan::{MinAvailability, PlannedPod, StopMethod};
use cratectl_core::restart::report::{ClusterReport, PodResult, RestartReport};
use cratectl_kube::pods::StopOutcome;

use super::activities::*;
use super::model::{ClusterInput, RESTART_CLUSTER, RestartRequest, new_cluster_report, planned_pod_report};
use crate::activities::At;
use crate::engine::{WfResult, WorkflowCtx};
use crate::harness::{ClusterOp, Halt, Step, until};
use crate::request::{Request, run_request};
use cratectl_core::text;

/// How often a blocked eviction is tried again.
const EVICTION_RETRY: Duration = Duration::from_secs(5);
/// The phase of a cluster while its pods are restarted.
const PHASE_RESTART: &str = "restart";

/// The top-level workflow.
pub async fn restart_request<C: WorkflowCtx>(ctx: &C, request: RestartRequest) -> WfResult<RestartReport> {
    let input = |index: usize, child_id: &str, forced: Option<String>| ClusterInput {
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
            kind: OperationKind::Restart,
            request_id: &request.request_id,
            clusters: &request.clusters,
            parallel: request.options.parallel,
            child_workflow: RESTART_CLUSTER,
            input: &input,
            pending: &new_cluster_report,
        },
    )
    .await
}

/// One cluster's workflow.
pub async fn restart_cluster<C: WorkflowCtx>(ctx: &C, input: ClusterInput) -> WfResult<ClusterReport> {
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
    let mut run = RestartRun {
        op,
        input,
        observed: Vec::new(),
        stable_for: None,
    };
    let outcome = run.body().await;
    if let Err(Halt::Stopped(note)) = &outcome {
        for pod in run
            .op
            .report
            .pods
            .iter_mut()
            .filter(|p| p.result == PodResult::Pending)
        {
            pod.reason = Some(note.clone());
        }
    }
    run.op.finish(outcome).await
}

/// What the restart keeps besides the harness.
struct RestartRun<'c, C> {
    op: ClusterOp<'c, C, ClusterReport>,
    input: ClusterInput,
    /// Durations of the pods restarted so far (for estimates).
    observed: Vec<Duration>,
    /// The pod the last stable gate already cleared: the stable-GREEN wait after a pod reads
    /// through a node other than the next pod, so when the next pod follows at once (no
    /// maintenance wait between) its gate is that one, not a second.
    stable_for: Option<String>,
}

impl<C: WorkflowCtx> RestartRun<'_, C> {
    async fn body(&mut self) -> Step<()> {
        let options = self.input.options.clone();
        let schedule = self.op.schedule()?;
        let config_min_availability = schedule.as_ref().and_then(|s| s.min_availability);

        self.op.step("discover", None);
        let snapshot = self
            .op
            .call::<Discover>(
                &DiscoverIn {
                    at: self.op.at.clone(),
                    options: options.clone(),
                    config_min_availability,
                },
                self.op.retries(),
            )
            .await?;
        self.op.report.pod_total = snapshot.pods.len();
        self.op.report.pods = snapshot.pods.iter().map(planned_pod_report).collect();
        if !options.skip_hook_warning {
            self.op.report.common.warnings = snapshot.warnings.clone();
        }
        if snapshot.suspended {
            return Err(Halt::Failed(
                "the cluster is suspended (every data group has 0 replicas)".into(),
            ));
        }

        // The Lease first: while another operation has a node down, the cluster is not healthy,
        // and the user must hear about the other operation, not only about the health.
        self.op.step("lease", None);
        self.op.take_lease().await?;
        self.op.validate().await?;

        for index in 0..snapshot.pods.len() {
            let pod = snapshot.pods[index].clone();
            if pod.skip.is_some() {
                continue;
            }
            self.op.check_control().await?;
            if let Some(schedule) = &schedule {
                let needed = estimate_step_duration(&self.observed, pod.estimate);
                if self
                    .op
                    .window_gate(schedule, needed, &format!("pod {}", pod.name))
                    .await?
                {
                    self.stable_for = None;
                }
            }
            // Someone else at work on the cluster now (the operator's handler, a restore, a
            // decommission …) stops the restart here, with every setting put back.
            self.op.check_busy(OperationKind::Restart, &[]).await?;
            self.op.report.pod_index = Some(index + 1);
            self.op.report.common.state = ClusterState::Running;
            self.op.phase(PHASE_RESTART);
            let next = snapshot.pods[index + 1..]
                .iter()
                .find(|p| p.skip.is_none())
                .map(|p| p.name.clone());
            if let Err(halt) = self.restart_pod(index, &pod, &snapshot, next).await {
                if let Halt::Failed(reason) = &halt {
                    let entry = &mut self.op.report.pods[index];
                    entry.result = PodResult::Failed;
                    entry.reason = Some(reason.clone());
                }
                return Err(halt);
            }
        }
        Ok(())
    }

    async fn restart_pod(
        &mut self,
        index: usize,
        pod: &PlannedPod,
        snapshot: &ClusterSnapshot,
        next: Option<String>,
    ) -> Step<()> {
        let options = self.input.options.clone();
        let name = pod.name.clone();
        self.op.take_lease().await?;

        // 1. Fresh, stable readings from another node (unless the previous pod's closing gate,
        //    moments ago, was exactly that).
        if self.stable_for.take().as_deref() != Some(name.as_str()) {
            self.op
                .await_stable(
                    "gate",
                    &format!("stable GREEN before restarting pod {name}"),
                    Some(name.clone()),
                )
                .await?;
        }

        // 2. Record (once), then hold allocation.
        self.op.record_settings().await?;
        self.op
            .hold_allocation(&snapshot.statefulsets, Some(name.clone()))
            .await?;

        // The incarnation we are about to restart: recorded before any disruption.
        let identity = self
            .op
            .call::<PodIdentity>(
                &PodIn {
                    at: self.op.at.clone(),
                    pod: name.clone(),
                },
                self.op.retries(),
            )
            .await?
            .ok_or_else(|| Halt::Failed(format!("pod {name} does not exist")))?;
        let started = self.op.ctx.now().await?;
        {
            let entry = &mut self.op.report.pods[index];
            entry.old_uid = Some(identity.uid.clone());
            entry.started_at = Some(started);
        }

        // 3. Graceful stop.
        let (grace, node) = match pod.stop {
            StopMethod::PreStopHook { grace, .. } => (Some(grace), None),
            StopMethod::Decommission { min_availability } => {
                let node = self
                    .decommission(&name, min_availability, PodRun::from(&identity))
                    .await?;
                (None, node)
            }
        };

        // 4. Evict (or delete), only this incarnation.
        self.stop_pod(&name, &identity.uid, grace).await?;

        // 5. A new incarnation Ready, then the node back in the cluster — with allocation held
        //    for at most the hold timeout (`released` once given back).
        let mut hold = HoldClock::new(options.timeouts.hold);
        let at = self.op.at.clone();
        let old_uid = identity.uid.clone();
        let pod_name = name.clone();
        let what = format!("pod {name} with a new UID to be Ready");
        let replaced = self
            .held_wait::<AwaitPodReplaced, _>(
                &mut hold,
                "wait ready",
                &what,
                options.timeouts.pod_ready,
                |budget| ReplacedIn {
                    at: at.clone(),
                    pod: pod_name.clone(),
                    old_uid: old_uid.clone(),
                    budget,
                },
            )
            .await?;
        self.op.report.pods[index].new_uid = Some(replaced.uid.clone());
        self.op.publish();
        let interval = membership_poll(&options.gate);
        let what = format!("the CrateDB node of pod {name} to rejoin");
        self.held_wait::<AwaitRejoin, bool>(
            &mut hold,
            "wait rejoin",
            &what,
            options.timeouts.rejoin,
            |budget| NodeWaitIn {
                at: at.clone(),
                pod: pod_name.clone(),
                node: node.clone(),
                interval,
                budget,
                decommission: None,
                before: None,
            },
        )
        .await?;

        // 6. Allocation back, then stable GREEN with nothing in flight.
        self.op.restore_allocation().await?;
        self.op
            .await_stable(
                "wait green",
                &format!("stable GREEN after pod {name}"),
                next.clone(),
            )
            .await?;
        self.stable_for = next;

        // 7. Result and timings.
        let finished = self.op.ctx.now().await?;
        let took = until(started, finished);
        self.observed.push(took);
        let entry = &mut self.op.report.pods[index];
        entry.result = PodResult::Restarted;
        entry.finished_at = Some(finished);
        entry.duration_s = Some(took.as_secs_f64());
        self.op.report.common.current_step = None;
        self.op.report.common.waiting_for = None;
        self.op.publish();
        Ok(())
    }

    /// A wait while the pod is away and allocation is held: when the hold has lasted its
    /// timeout, allocation is restored (CrateDB rebuilds the replicas the node held, so the
    /// cluster is not left under-replicated for the rest of a long wait), the report says so,
    /// and the wait goes on for the rest of `total`. The hold is taken again before the next
    /// disruption only.
    async fn held_wait<A, T>(
        &mut self,
        hold: &mut HoldClock,
        step: &str,
        what: &str,
        total: Duration,
        make: impl Fn(Duration) -> A::In,
    ) -> Step<T>
    where
        A: crate::engine::Activity<Out = crate::activities::Waited<T>>,
    {
        let mut left = total;
        if let Some(hold_left) = hold.left() {
            let first = left.min(hold_left);
            let (done, spent) = self.op.wait_up_to::<A, T>(step, what, first, &make).await?;
            hold.spent(spent);
            if let Some(done) = done {
                return Ok(done);
            }
            left = left.saturating_sub(spent);
            if hold.left().is_none() {
                self.release_hold().await?;
            }
        }
        if left.is_zero() {
            return Err(self.op.timed_out(what, total));
        }
        match self.op.wait_up_to::<A, T>(step, what, left, &make).await? {
            (Some(done), _) => Ok(done),
            (None, _) => Err(self.op.timed_out(what, total)),
        }
    }

    /// The hold timeout passed with the node still away: allocation back to its recorded value.
    async fn release_hold(&mut self) -> Step<()> {
        let hold = text::duration(self.input.options.timeouts.hold);
        self.op.restore_allocation().await?;
        let note = format!(
            "allocation hold released after {hold} (the node has not rejoined): CrateDB is rebuilding its replicas"
        );
        self.op.ctx.log(&note);
        self.op.report.common.warnings.push(note);
        self.op.publish();
        Ok(())
    }

    /// Our own decommission of the pod's node (`before`: the pod as it is now); returns the node
    /// name once it has left.
    async fn decommission(
        &mut self,
        pod: &str,
        min_availability: MinAvailability,
        before: PodRun,
    ) -> Step<Option<String>> {
        self.op.step(
            "decommission",
            Some(format!("pod {pod}'s CrateDB node to decommission")),
        );
        let out = self
            .op
            .call::<Decommission>(
                &DecommissionIn {
                    at: self.op.at.clone(),
                    pod: pod.to_string(),
                    min_availability,
                },
                self.op.retries(),
            )
            .await?;
        let node = out.node.clone();
        let call = out.call.clone();
        let at = self.op.at.clone();
        let interval = membership_poll(&self.input.options.gate);
        let pod_name = pod.to_string();
        let who = node.clone().unwrap_or_else(|| pod.to_string());
        self.op
            .wait::<AwaitNodeLeft, bool>(
                "decommission",
                &format!("node {who} to leave the cluster (decommission)"),
                self.input.options.timeouts.decommission,
                |budget| NodeWaitIn {
                    at: at.clone(),
                    pod: pod_name.clone(),
                    node: node.clone(),
                    interval,
                    budget,
                    decommission: call.clone(),
                    before: Some(before.clone()),
                },
            )
            .await?;
        Ok(out.node)
    }

    async fn stop_pod(&mut self, pod: &str, uid: &str, grace: Option<Duration>) -> Step<()> {
        let evict = !self.input.options.no_eviction;
        let mut waited = Duration::ZERO;
        self.op.step(
            if evict { "evict" } else { "delete" },
            Some(format!(
                "the API server to accept the {} of pod {pod}",
                if evict { "eviction" } else { "deletion" }
            )),
        );
        loop {
            let outcome = self
                .op
                .call::<StopPod>(
                    &StopIn {
                        at: self.op.at.clone(),
                        pod: pod.to_string(),
                        uid: uid.to_string(),
                        grace,
                        evict,
                    },
                    self.op.retries(),
                )
                .await?;
            let (budgets, message) = match outcome {
                StopOutcome::Requested | StopOutcome::AlreadyGone => return Ok(()),
                StopOutcome::Blocked { budgets, message } => (budgets, message),
            };
            let blocked = format!(
                "eviction of pod {pod} blocked by PodDisruptionBudget {}: {message}",
                if budgets.is_empty() {
                    "(unknown)".to_string()
                } else {
                    budgets.join(", ")
                }
            );
            self.op.report.common.waiting_for = Some(blocked.clone());
            self.op.publish();
            if waited >= self.input.options.timeouts.eviction {
                return Err(Halt::Failed(format!(
                    "timed out after {}: {blocked}",
                    text::duration(self.input.options.timeouts.eviction)
                )));
            }
            let pause = EVICTION_RETRY.min(self.op.renew_every());
            self.op.pause(pause).await?;
            waited += pause;
        }
    }
}

/// How long allocation may still be held while the pod is away, counted in the waits' budgets
/// (no clock reads). `None` once the hold timeout has passed.
struct HoldClock {
    left: Option<Duration>,
}

impl HoldClock {
    fn new(timeout: Duration) -> HoldClock {
        HoldClock { left: Some(timeout) }
    }

    fn left(&self) -> Option<Duration> {
        self.left
    }

    fn spent(&mut self, d: Duration) {
        self.left = self.left.and_then(|l| l.checked_sub(d)).filter(|l| !l.is_zero());
    }
}

/// How often `sys.nodes` is polled while a node leaves or rejoins: nothing is decided on one
/// reading there (the stable gate follows), so it is polled faster than the gate, for less
/// dead time between the node's move and ours.
fn membership_poll(gate: &crate::model::Gate) -> Duration {
    (gate.interval / 2).min(Duration::from_millis(250))
}
