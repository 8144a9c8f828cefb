//! The restart workflows, written once against [`WorkflowCtx`] (ARCHITECTURE §3, §4).
//!
//! * [`restart_request`] — the top-level workflow the user's id names: runs one child per
//!   cluster, `parallel` lanes at a time, and returns the report. A failed cluster does not stop
//!   the others.
//! * [`restart_cluster`] — one cluster, one pod at a time: discover → refuse unless safe →
//!   Lease → maintenance gate → per pod: stable gate → record + hold allocation → graceful stop →
//!   evict/delete (UID-guarded) → new UID Ready → rejoin → restore allocation → stable GREEN.
//!   Whatever happens, it ends by restoring every recorded setting, removing the routing-owner
//!   label and releasing the Lease, and says why it stopped.
//!
//! Deterministic code only: time comes from `ctx.now()`, waiting from activities and durable
//! timers, and every decision is a pure function of recorded results.

use std::time::Duration;

use cratectl_core::maintenance::{MaintenanceConfig, Schedule};
use cratectl_core::restart::plan::{MinAvailability, PlannedPod, StopMethod};
use cratectl_core::restart::report::{ClusterReport, ClusterState, PodResult, RestartReport};
use cratectl_core::restart::saga;
use cratectl_core::restart::window::{WindowDecision, decide, estimate_pod_duration};
use cratectl_kube::lease::Acquire;
use cratectl_kube::pods::StopOutcome;
use jiff::{SignedDuration, Timestamp};

use crate::activities::*;
use crate::engine::{Activity, ActivityOptions, WfError, WfResult, WorkflowCtx};
use crate::model::{
    CONTROL_MAILBOX, ClusterInput, ClusterProgress, ClusterRef, Control, OpenEffects, RESTART_CLUSTER,
    RequestProgress, RestartRequest, new_cluster_report, planned_pod_report,
};

/// Longest slice a waiting activity runs before the workflow publishes what it saw.
const WAIT_SLICE: Duration = Duration::from_secs(30);
/// How often a blocked eviction is tried again.
const EVICTION_RETRY: Duration = Duration::from_secs(5);
/// Reads and idempotent writes are retried this often before a step fails.
const RETRIED: ActivityOptions = ActivityOptions::retried(5);

/// The child workflow id of `cluster` in request `request_id`.
pub fn child_id(request_id: &str, cluster: &ClusterRef) -> String {
    cratectl_core::restart::ids::child_id(request_id, &cluster.namespace, &cluster.name)
}

/// The top-level workflow.
pub async fn restart_request<C: WorkflowCtx>(ctx: &C, request: RestartRequest) -> WfResult<RestartReport> {
    let started_at = ctx.now().await?;
    let child_ids: Vec<String> = request
        .clusters
        .iter()
        .map(|c| child_id(&request.request_id, c))
        .collect();
    ctx.set_progress(&RequestProgress {
        request_id: request.request_id.clone(),
        started_at: Some(started_at),
        clusters: request.clusters.clone(),
        child_ids: child_ids.clone(),
    });
    let lanes = request.options.parallel.clamp(1, request.clusters.len().max(1));
    let mut lane_work: Vec<Vec<usize>> = vec![Vec::new(); lanes];
    for index in 0..request.clusters.len() {
        lane_work[index % lanes].push(index);
    }
    let control = std::sync::Mutex::new(RequestControl::default());
    let futures: Vec<_> = lane_work
        .into_iter()
        .map(|indices| run_lane(ctx, &request, &child_ids, indices, &control))
        .collect();
    let mut results: Vec<(usize, ClusterReport)> = ctx.join(futures).await.into_iter().flatten().collect();
    results.sort_by_key(|(index, _)| *index);
    let clusters: Vec<ClusterReport> = results.into_iter().map(|(_, report)| report).collect();
    let finished_at = ctx.now().await?;
    let report = RestartReport {
        workflow_id: request.request_id.clone(),
        state: RestartReport::overall(&clusters),
        started_at: Some(started_at),
        finished_at: Some(finished_at),
        clusters,
    };
    ctx.set_progress(&report);
    Ok(report)
}

/// Control messages the request itself received. A message is sent to the request and to the
/// cluster workflows that exist at that moment; a cluster started later learns it from here.
#[derive(Default)]
struct RequestControl {
    forced: Option<String>,
    stopped: Option<String>,
}

async fn run_lane<C: WorkflowCtx>(
    ctx: &C,
    request: &RestartRequest,
    child_ids: &[String],
    indices: Vec<usize>,
    control: &std::sync::Mutex<RequestControl>,
) -> Vec<(usize, ClusterReport)> {
    let mut out = Vec::new();
    for index in indices {
        let cluster = &request.clusters[index];
        while let Some(message) = ctx.recv_or_timeout(CONTROL_MAILBOX, Duration::ZERO).await {
            let mut flags = control.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match serde_json::from_str::<Control>(&message) {
                Ok(Control::ForceRestart { reason }) => flags.forced = Some(reason),
                Ok(Control::Stop { reason }) => flags.stopped = Some(reason),
                Err(e) => ctx.log(&format!("ignoring an unreadable control message: {e}")),
            }
        }
        let (forced, stopped) = {
            let flags = control.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (flags.forced.clone(), flags.stopped.clone())
        };
        if let Some(reason) = stopped {
            let mut report = new_cluster_report(cluster, &child_ids[index]);
            report.state = ClusterState::Stopped;
            report.reason = Some(format!("stopped by operator before it started: {reason}"));
            out.push((index, report));
            continue;
        }
        let input = ClusterInput {
            request_id: request.request_id.clone(),
            child_id: child_ids[index].clone(),
            target: request.target.clone(),
            cluster: cluster.clone(),
            options: request.options.clone(),
            forced,
        };
        let report = match ctx
            .child::<_, ClusterReport>(RESTART_CLUSTER, &child_ids[index], &input)
            .await
        {
            Ok(report) => report,
            Err(e) => {
                let mut report = new_cluster_report(cluster, &child_ids[index]);
                report.state = ClusterState::Failed;
                report.reason = Some(format!("the cluster's workflow ended abnormally: {}", e.message));
                report
            }
        };
        out.push((index, report));
    }
    out
}

/// Why a cluster run ended early.
enum Halt {
    Failed(String),
    Stopped(String),
}

impl From<WfError> for Halt {
    fn from(e: WfError) -> Halt {
        Halt::Failed(e.message)
    }
}

type Step<T> = Result<T, Halt>;

/// One cluster's workflow.
pub async fn restart_cluster<C: WorkflowCtx>(ctx: &C, input: ClusterInput) -> WfResult<ClusterReport> {
    let mut run = ClusterRun {
        ctx,
        report: new_cluster_report(&input.cluster, &input.child_id),
        open: OpenEffects::default(),
        at: At {
            target: input.target.clone(),
            cluster: input.cluster.clone(),
        },
        forced: input.forced.is_some(),
        input,
        observed: Vec::new(),
        stable_for: None,
        unrenewed: Duration::ZERO,
    };
    if let Some(reason) = &run.input.forced {
        run.report.window = Some(format!("maintenance windows overridden: {reason}"));
    }
    run.report.started_at = Some(ctx.now().await?);
    run.report.state = ClusterState::Running;
    run.publish();
    let outcome = run.body().await;
    let cleanup = run.cleanup().await;
    run.report.current_step = None;
    run.report.waiting_for = None;
    match outcome {
        Ok(()) => run.report.state = ClusterState::Succeeded,
        Err(Halt::Failed(reason)) => {
            run.report.state = ClusterState::Failed;
            run.report.reason = Some(reason);
        }
        Err(Halt::Stopped(reason)) => {
            run.report.state = ClusterState::Stopped;
            run.report.reason = Some(reason);
        }
    }
    if let Err(problems) = cleanup {
        run.report.state = ClusterState::Failed;
        let mut reason = run
            .report
            .reason
            .take()
            .map(|r| format!("{r}; "))
            .unwrap_or_default();
        reason.push_str(&format!("cleanup incomplete: {problems}"));
        run.report.reason = Some(reason);
    }
    run.report.finished_at = Some(ctx.now().await?);
    run.publish();
    Ok(run.report)
}

struct ClusterRun<'c, C> {
    ctx: &'c C,
    input: ClusterInput,
    at: At,
    report: ClusterReport,
    open: OpenEffects,
    /// `force_restart` received: maintenance windows no longer apply.
    forced: bool,
    /// Durations of the pods restarted so far (for estimates).
    observed: Vec<Duration>,
    /// The pod the last stable gate already cleared: the stable-GREEN wait after a pod reads
    /// through a node other than the next pod, so when the next pod follows at once (no
    /// maintenance wait between) its gate is that one, not a second.
    stable_for: Option<String>,
    /// Waiting done since the Lease was last renewed, counted in the budgets of the wait slices
    /// and eviction retries since (each in full; no clock read, so replay gives the same
    /// count). Long waits renew the Lease by it: see [`ClusterRun::renew_lease_if_due`].
    unrenewed: Duration,
}

impl<C: WorkflowCtx> ClusterRun<'_, C> {
    fn publish(&self) {
        self.ctx.set_progress(&ClusterProgress {
            report: self.report.clone(),
            open: self.open.clone(),
            target: self.input.target.clone(),
            cluster: self.input.cluster.clone(),
        });
    }

    fn step(&mut self, step: &str, waiting_for: Option<String>) {
        self.report.current_step = Some(step.to_string());
        self.report.waiting_for = waiting_for;
        self.publish();
    }

    /// How often the Lease is renewed while waiting: a quarter of its duration, so a renewal
    /// that fails and is retried still lands well before it lapses.
    fn renew_every(&self) -> Duration {
        (self.input.options.lease_duration / 4).max(Duration::from_millis(100))
    }

    /// Renews the Lease when a quarter of its duration may have passed since the last renewal:
    /// a pod's waits can last hours (a decommission, a recovery), and a lapsed Lease could be
    /// taken by another operation while we still have a node down.
    async fn renew_lease_if_due(&mut self) -> Step<()> {
        if self.open.lease_holder.is_some() && self.unrenewed >= self.renew_every() {
            self.take_lease().await?;
        }
        Ok(())
    }

    async fn call<A: Activity>(&self, input: &A::In, options: ActivityOptions) -> Step<A::Out> {
        self.ctx
            .activity::<A>(input, options)
            .await
            .map_err(|e| Halt::Failed(format!("{}: {}", A::NAME, e.message)))
    }

    async fn body(&mut self) -> Step<()> {
        let options = self.input.options.clone();
        // The maintenance schedule is validated by the CLI before start; a failure here (the
        // time-zone database changed?) fails closed.
        let schedule: Option<Schedule> = match (&options.maintenance, options.ignore_maintenance_windows) {
            (Some(spec), false) => {
                let config = MaintenanceConfig::parse(&spec.path, &spec.toml)
                    .map_err(|e| Halt::Failed(format!("maintenance config {}: {e}", spec.path)))?;
                let (schedule, _) = config
                    .schedule(&self.input.cluster.name)
                    .map_err(|e| Halt::Failed(format!("maintenance config {}: {e}", spec.path)))?;
                Some(schedule.clone())
            }
            _ => None,
        };
        let config_min_availability = schedule.as_ref().and_then(|s| s.min_availability);

        self.step("discover", None);
        let snapshot = self
            .call::<Discover>(
                &DiscoverIn {
                    at: self.at.clone(),
                    options: options.clone(),
                    config_min_availability,
                },
                RETRIED,
            )
            .await?;
        self.report.pod_total = snapshot.pods.len();
        self.report.pods = snapshot.pods.iter().map(planned_pod_report).collect();
        if !options.skip_hook_warning {
            self.report.warnings = snapshot.warnings.clone();
        }
        if snapshot.suspended {
            return Err(Halt::Failed(
                "the cluster is suspended (every data group has 0 replicas)".into(),
            ));
        }

        // The Lease first: while another operation has a node down, the cluster is not healthy,
        // and the user must hear about the other operation, not only about the health.
        self.step("lease", None);
        self.take_lease().await?;

        self.step("validate", Some("a healthy cluster to start from".into()));
        let health = self
            .call::<ReadHealth>(
                &HealthIn {
                    at: self.at.clone(),
                    avoid: None,
                },
                RETRIED,
            )
            .await?;
        self.report.last_readings = Some(health.summary.clone());
        if !health.safe {
            return Err(Halt::Failed(format!("not safe to start: {}", health.summary)));
        }

        for index in 0..snapshot.pods.len() {
            let pod = snapshot.pods[index].clone();
            if pod.skip.is_some() {
                continue;
            }
            self.check_control().await?;
            if let Some(schedule) = &schedule {
                let needed = estimate_pod_duration(&self.observed, pod.estimate);
                if self.window_gate(schedule, needed, &pod.name).await? {
                    self.stable_for = None;
                }
            }
            self.report.pod_index = Some(index + 1);
            self.report.state = ClusterState::Running;
            let next = snapshot.pods[index + 1..]
                .iter()
                .find(|p| p.skip.is_none())
                .map(|p| p.name.clone());
            if let Err(halt) = self.restart_pod(index, &pod, &snapshot, next).await {
                if let Halt::Failed(reason) = &halt {
                    let entry = &mut self.report.pods[index];
                    entry.result = PodResult::Failed;
                    entry.reason = Some(reason.clone());
                }
                return Err(halt);
            }
        }
        Ok(())
    }

    /// Takes (or renews) the Lease; someone else holding it fails the run.
    async fn take_lease(&mut self) -> Step<()> {
        let holder = self.input.child_id.clone();
        let outcome = self
            .call::<TakeLease>(
                &LeaseIn {
                    at: self.at.clone(),
                    holder: holder.clone(),
                    duration: self.input.options.lease_duration,
                    renew: self.open.lease_holder.is_some(),
                },
                RETRIED,
            )
            .await?;
        match outcome {
            Acquire::Acquired => {
                self.unrenewed = Duration::ZERO;
                if self.open.lease_holder.is_none() {
                    self.open.lease_holder = Some(holder);
                    self.publish();
                }
                Ok(())
            }
            Acquire::HeldBy { holder, expires_at } => Err(Halt::Failed(format!(
                "another operation holds the cluster's Lease {}/cratectl-{}: {holder}{}",
                self.input.cluster.namespace,
                self.input.cluster.resource,
                expires_at.map(|t| format!(" (until {t})")).unwrap_or_default()
            ))),
        }
    }

    /// Reads the mailbox without waiting; `stop` ends the run here, `force_restart` lifts the
    /// maintenance gate.
    async fn check_control(&mut self) -> Step<()> {
        while let Some(message) = self.ctx.recv_or_timeout(CONTROL_MAILBOX, Duration::ZERO).await {
            self.handle_control(&message)?;
        }
        Ok(())
    }

    fn handle_control(&mut self, message: &str) -> Step<()> {
        match serde_json::from_str::<Control>(message) {
            Ok(Control::ForceRestart { reason }) => {
                self.forced = true;
                self.report.window = Some(format!("maintenance windows overridden: {reason}"));
                self.ctx.log(&format!("force_restart: {reason}"));
                Ok(())
            }
            Ok(Control::Stop { reason }) => {
                let note = format!("stopped by operator: {reason}");
                for pod in self
                    .report
                    .pods
                    .iter_mut()
                    .filter(|p| p.result == PodResult::Pending)
                {
                    pod.reason = Some(note.clone());
                }
                Err(Halt::Stopped(note))
            }
            Err(e) => {
                self.ctx
                    .log(&format!("ignoring an unreadable control message: {e}"));
                Ok(())
            }
        }
    }

    /// Waits until the next pod fits in a maintenance window (or an operator forces it); says
    /// whether it had to wait.
    async fn window_gate(&mut self, schedule: &Schedule, needed: Duration, pod: &str) -> Step<bool> {
        let mut waited = false;
        loop {
            if self.forced {
                return Ok(waited);
            }
            let now = self.ctx.now().await?;
            let decision = decide(schedule, now, needed);
            self.report.window = Some(decision.summary());
            let at = match decision {
                WindowDecision::Proceed { .. } => {
                    self.publish();
                    return Ok(waited);
                }
                WindowDecision::NoWindowAhead { reason } => return Err(Halt::Failed(reason)),
                WindowDecision::WaitUntil { at, reason } => {
                    self.report.state = ClusterState::Waiting;
                    self.step(
                        "maintenance window",
                        Some(format!("maintenance window for pod {pod} at {at}: {reason}")),
                    );
                    at
                }
            };
            waited = true;
            let left = until(now, at);
            if let Some(message) = self
                .ctx
                .recv_or_timeout(CONTROL_MAILBOX, left.min(self.renew_every()))
                .await
            {
                self.handle_control(&message)?;
            }
            // Keep the Lease alive through a long wait.
            self.take_lease().await?;
        }
    }

    /// Runs a waiting activity in slices until it is done or `total` has passed, publishing
    /// what it saw after each slice.
    async fn wait<A, T>(
        &mut self,
        step: &str,
        what: &str,
        total: Duration,
        make: impl Fn(Duration) -> A::In,
    ) -> Step<T>
    where
        A: Activity<Out = Waited<T>>,
    {
        // Time spent is counted in budgets (an activity that is not done used its budget up), so
        // waiting costs no clock reads: each is a round trip through the engine.
        self.step(step, Some(what.to_string()));
        let mut spent = Duration::ZERO;
        loop {
            self.renew_lease_if_due().await?;
            // Slices no longer than the renewal period (with a short Lease), but long enough
            // for the stable gate's readings to fit in one.
            let gate = &self.input.options.gate;
            let gate_span = gate.interval * (gate.polls + 1);
            let budget = total
                .saturating_sub(spent)
                .min(WAIT_SLICE)
                .min(self.renew_every().max(gate_span));
            let out = self.call::<A>(&make(budget), RETRIED).await?;
            self.unrenewed += budget;
            if let Some(done) = out.done {
                self.report.last_readings = Some(out.last);
                return Ok(done);
            }
            spent += budget;
            self.report.last_readings = Some(out.last.clone());
            self.report.waiting_for = Some(format!("{what} (last: {})", out.last));
            self.publish();
            if spent >= total {
                return Err(Halt::Failed(format!(
                    "timed out after {} waiting for {what}; last seen: {}",
                    human(total),
                    out.last
                )));
            }
        }
    }

    async fn await_stable(&mut self, step: &str, what: &str, avoid: Option<String>) -> Step<String> {
        let at = self.at.clone();
        let gate = self.input.options.gate.clone();
        let total = self.input.options.timeouts.health;
        self.wait::<AwaitStable, String>(step, what, total, |budget| StableIn {
            at: at.clone(),
            avoid: avoid.clone(),
            polls: gate.polls,
            interval: gate.interval,
            budget,
        })
        .await
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
        self.take_lease().await?;

        // 1. Fresh, stable readings from another node (unless the previous pod's closing gate,
        //    moments ago, was exactly that).
        if self.stable_for.take().as_deref() != Some(name.as_str()) {
            self.await_stable(
                "gate",
                &format!("stable GREEN before restarting pod {name}"),
                Some(name.clone()),
            )
            .await?;
        }

        // 2. Record (once), then hold allocation.
        if self.open.saga.is_none() {
            self.step("record settings", None);
            let saga = self.call::<RecordSettings>(&self.at.clone(), RETRIED).await?;
            self.open.saga = Some(saga);
            self.publish();
        }
        self.step("hold allocation", None);
        self.open.routing_owner_on = snapshot.statefulsets.clone();
        self.publish();
        self.call::<HoldAllocation>(
            &HoldIn {
                at: self.at.clone(),
                statefulsets: snapshot.statefulsets.clone(),
                avoid: Some(name.clone()),
            },
            RETRIED,
        )
        .await?;

        // The incarnation we are about to restart: recorded before any disruption.
        let identity = self
            .call::<PodIdentity>(
                &PodIn {
                    at: self.at.clone(),
                    pod: name.clone(),
                },
                RETRIED,
            )
            .await?
            .ok_or_else(|| Halt::Failed(format!("pod {name} does not exist")))?;
        let started = self.ctx.now().await?;
        {
            let entry = &mut self.report.pods[index];
            entry.old_uid = Some(identity.uid.clone());
            entry.started_at = Some(started);
        }

        // 3. Graceful stop.
        let (grace, node) = match pod.stop {
            StopMethod::PreStopHook { grace, .. } => (Some(grace), None),
            StopMethod::Decommission { min_availability } => {
                let node = self.decommission(&name, min_availability).await?;
                (None, node)
            }
        };

        // 4. Evict (or delete), only this incarnation.
        self.stop_pod(&name, &identity.uid, grace).await?;

        // 5. A new incarnation Ready, then the node back in the cluster.
        let at = self.at.clone();
        let old_uid = identity.uid.clone();
        let pod_name = name.clone();
        let replaced = self
            .wait::<AwaitPodReplaced, _>(
                "wait ready",
                &format!("pod {name} with a new UID to be Ready"),
                options.timeouts.pod_ready,
                |budget| ReplacedIn {
                    at: at.clone(),
                    pod: pod_name.clone(),
                    old_uid: old_uid.clone(),
                    budget,
                },
            )
            .await?;
        self.report.pods[index].new_uid = Some(replaced.uid.clone());
        self.publish();
        let interval = membership_poll(&options.gate);
        self.wait::<AwaitRejoin, bool>(
            "wait rejoin",
            &format!("the CrateDB node of pod {name} to rejoin"),
            options.timeouts.rejoin,
            |budget| NodeWaitIn {
                at: at.clone(),
                pod: pod_name.clone(),
                node: node.clone(),
                interval,
                budget,
                decommission: None,
            },
        )
        .await?;

        // 6. Allocation back, then stable GREEN with nothing in flight.
        self.step("restore allocation", None);
        if let Some(saga) = self.open.saga.clone() {
            self.call::<RestoreSettings>(
                &RestoreIn {
                    at: self.at.clone(),
                    saga,
                    only: vec![saga::ALLOCATION_ENABLE.to_string()],
                },
                RETRIED,
            )
            .await?;
        }
        self.await_stable(
            "wait green",
            &format!("stable GREEN after pod {name}"),
            next.clone(),
        )
        .await?;
        self.stable_for = next;

        // 7. Result and timings.
        let finished = self.ctx.now().await?;
        let took = until(started, finished);
        self.observed.push(took);
        let entry = &mut self.report.pods[index];
        entry.result = PodResult::Restarted;
        entry.finished_at = Some(finished);
        entry.duration_s = Some(took.as_secs_f64());
        self.report.current_step = None;
        self.report.waiting_for = None;
        self.publish();
        Ok(())
    }

    /// Our own decommission; returns the node name once it has left.
    async fn decommission(&mut self, pod: &str, min_availability: MinAvailability) -> Step<Option<String>> {
        self.step(
            "decommission",
            Some(format!("pod {pod}'s CrateDB node to decommission")),
        );
        let out = self
            .call::<Decommission>(
                &DecommissionIn {
                    at: self.at.clone(),
                    pod: pod.to_string(),
                    min_availability,
                },
                ActivityOptions::retried(3),
            )
            .await?;
        let node = out.node.clone();
        let call = out.call.clone();
        let at = self.at.clone();
        let interval = membership_poll(&self.input.options.gate);
        let pod_name = pod.to_string();
        let who = node.clone().unwrap_or_else(|| pod.to_string());
        self.wait::<AwaitNodeLeft, bool>(
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
            },
        )
        .await?;
        Ok(out.node)
    }

    async fn stop_pod(&mut self, pod: &str, uid: &str, grace: Option<Duration>) -> Step<()> {
        let evict = !self.input.options.no_eviction;
        let mut waited = Duration::ZERO;
        self.step(
            if evict { "evict" } else { "delete" },
            Some(format!(
                "the API server to accept the {} of pod {pod}",
                if evict { "eviction" } else { "deletion" }
            )),
        );
        loop {
            let outcome = self
                .call::<StopPod>(
                    &StopIn {
                        at: self.at.clone(),
                        pod: pod.to_string(),
                        uid: uid.to_string(),
                        grace,
                        evict,
                    },
                    RETRIED,
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
            self.report.waiting_for = Some(blocked.clone());
            self.publish();
            if waited >= self.input.options.timeouts.eviction {
                return Err(Halt::Failed(format!(
                    "timed out after {}: {blocked}",
                    human(self.input.options.timeouts.eviction)
                )));
            }
            let pause = EVICTION_RETRY.min(self.renew_every());
            self.ctx.sleep(pause).await;
            waited += pause;
            self.unrenewed += pause;
            self.renew_lease_if_due().await?;
        }
    }

    /// Undoes every open effect; returns what could not be undone.
    async fn cleanup(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Some(saga) = self.open.saga.clone() {
            self.step("restore settings", None);
            match self
                .call::<RestoreSettings>(
                    &RestoreIn {
                        at: self.at.clone(),
                        saga,
                        only: Vec::new(),
                    },
                    RETRIED,
                )
                .await
            {
                Ok(()) => self.open.saga = None,
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("settings NOT restored ({e})"))
                }
            }
        }
        if !self.open.routing_owner_on.is_empty() {
            let input = LabelsIn {
                at: self.at.clone(),
                statefulsets: self.open.routing_owner_on.clone(),
            };
            match self.call::<ClearRoutingOwner>(&input, RETRIED).await {
                Ok(()) => self.open.routing_owner_on.clear(),
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("routing-owner label left ({e})"))
                }
            }
        }
        if let Some(holder) = self.open.lease_holder.clone() {
            let input = LeaseIn {
                at: self.at.clone(),
                holder,
                duration: self.input.options.lease_duration,
                renew: false,
            };
            match self.call::<ReleaseLease>(&input, RETRIED).await {
                Ok(_) => self.open.lease_holder = None,
                Err(Halt::Failed(e) | Halt::Stopped(e)) => problems.push(format!("Lease not released ({e})")),
            }
        }
        self.publish();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// How often `sys.nodes` is polled while a node leaves or rejoins: nothing is decided on one
/// reading there (the stable gate follows), so it is polled faster than the gate, for less
/// dead time between the node's move and ours.
fn membership_poll(gate: &crate::model::Gate) -> Duration {
    (gate.interval / 2).min(Duration::from_millis(250))
}

/// `to - from`, zero when negative.
fn until(from: Timestamp, to: Timestamp) -> Duration {
    let span: SignedDuration = to.duration_since(from);
    Duration::try_from(span).unwrap_or(Duration::ZERO)
}

/// `15m`, `2h30m`, `45s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}
