//! The per-cluster harness every operation's workflow runs on, so the machinery that keeps a
//! cluster safe exists once (ARCHITECTURE §1):
//!
//! * **the Lease** — taken before anything else is read or changed, renewed inside every long
//!   wait (a quarter of its duration at a time, counted in the waits' budgets), released last;
//! * **the settings saga** — recorded once before the first change, restored on every way out;
//! * **the gates** — the first reading CrateDB itself gives (transient failures to read are
//!   retried within the health budget; only an answer counts as "not safe"), the stable-GREEN
//!   gate, and the maintenance-window gate with `force_restart`;
//! * **waits that publish what they saw** — a waiting activity runs in slices, and after each
//!   the report says what it waits for and the last values seen;
//! * **control** — `stop` ends the run at the next step boundary, `force_restart` lifts the
//!   window gate;
//! * **cleanup** — whatever happened: settings restored, routing-owner label removed, Lease
//!   released, and the report says what could not be undone.
//!
//! An operation's workflow creates a [`ClusterOp`] with its own report type, runs its steps
//! through it, and ends with [`ClusterOp::finish`]. Deterministic code only, like every
//! workflow: time comes from `ctx.now()`, waiting from activities and durable timers.

use std::time::Duration;

use cratectl_core::busy::BusyCode;
use cratectl_core::maintenance::Schedule;
use cratectl_core::op::OperationKind;
use cratectl_core::op::report::{ClusterOutcome, ClusterState};
use cratectl_core::op::saga;
use cratectl_core::op::window::{WindowDecision, decide};
use cratectl_core::text;
use cratectl_kube::lease::Acquire;
use cratectl_kube::scale::DC_UTIL_DISABLED_LABEL;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::activities::common::{
    AwaitReading, AwaitStable, BusyIn, ClearRoutingOwner, ExcludeIn, ExcludeNodes, HealthOut, HoldAllocation,
    HoldIn, LabelIn, LabelsIn, LeaseIn, ReadBusy, ReadExclusions, ReadSettings, ReadingIn, RecordSettings,
    ReleaseLease, RestoreIn, RestoreSettings, SetIn, SetLabel, SetSettings, StableIn, TakeLease,
};
use crate::activities::membership::{AwaitNodeGone, GoneIn};
use crate::activities::restore_effects::{UndoIn, UndoRestoreEffects};
use crate::activities::suspend_effects::{SuspendUndoIn, UndoSuspendEffects};
use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityOptions, WfError, WfResult, WorkflowCtx};
use crate::model::{CONTROL_MAILBOX, ClusterProgress, Common, Control, Departing, OpenEffects};
use cratectl_core::sql::Literal;

/// Longest slice a waiting activity runs before the workflow publishes what it saw.
const WAIT_SLICE: Duration = Duration::from_secs(30);
/// How long a step keeps trying a read or an idempotent write through transient failures (a 5xx
/// or 429, a refused or lost connection) before it fails; a permanent failure ends it at once.
pub const STEP_RETRY_BUDGET: Duration = Duration::from_secs(120);
/// Cleanup (settings back, label off, Lease released) keeps trying longer: a setting left
/// behind changes how the cluster behaves until someone notices.
pub const CLEANUP_RETRY_BUDGET: Duration = Duration::from_secs(600);

/// Why a cluster run ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Halt {
    Failed(String),
    /// `stop` was received; the reason as the report shows it.
    Stopped(String),
}

impl From<WfError> for Halt {
    fn from(e: WfError) -> Halt {
        Halt::Failed(e.message)
    }
}

/// A step of a cluster run: its value, or why the run ends here.
pub type Step<T> = Result<T, Halt>;

/// One cluster's run of an operation whose per-cluster report is `R`.
pub struct ClusterOp<'c, C, R> {
    pub ctx: &'c C,
    /// The cluster, as every activity names it.
    pub at: At,
    /// This workflow's id: the Lease holder.
    pub child_id: String,
    pub common: Common,
    pub report: R,
    /// What is in place and must be undone (published, so compensation can undo it after a
    /// hard stop).
    pub open: OpenEffects,
    /// `force_restart` received: maintenance windows no longer apply.
    pub forced: bool,
    /// Waiting done since the Lease was last renewed, counted in the budgets of the wait slices
    /// and pauses since (each in full; no clock read, so replay gives the same count).
    unrenewed: Duration,
}

impl<'c, C: WorkflowCtx, R: ClusterOutcome + Clone + Serialize> ClusterOp<'c, C, R> {
    /// Starts the run: the report says running from now.
    pub async fn start(
        ctx: &'c C,
        at: At,
        child_id: String,
        common: Common,
        report: R,
        forced: Option<&str>,
    ) -> WfResult<ClusterOp<'c, C, R>> {
        let mut op = ClusterOp {
            ctx,
            at,
            child_id,
            common,
            report,
            open: OpenEffects::default(),
            forced: forced.is_some(),
            unrenewed: Duration::ZERO,
        };
        if let Some(reason) = forced {
            op.report.common_mut().window = Some(format!("maintenance windows overridden: {reason}"));
        }
        let now = ctx.now().await?;
        let common = op.report.common_mut();
        common.started_at = Some(now);
        common.state = ClusterState::Running;
        common.phase = Some(PHASE_PREPARE.into());
        op.publish();
        Ok(op)
    }

    /// Publishes the report and the open effects as progress.
    pub fn publish(&self) {
        self.ctx.set_progress(&ClusterProgress {
            report: self.report.clone(),
            open: self.open.clone(),
            target: self.at.target.clone(),
            cluster: self.at.cluster.clone(),
        });
    }

    /// Enters step `step` (and says what it waits for), published.
    pub fn step(&mut self, step: &str, waiting_for: Option<String>) {
        let common = self.report.common_mut();
        common.current_step = Some(step.to_string());
        common.waiting_for = waiting_for;
        self.publish();
    }

    /// Enters phase `phase` (see [`cratectl_core::op::report::ClusterCommon::phase`]).
    pub fn phase(&mut self, phase: &str) {
        self.report.common_mut().phase = Some(phase.to_string());
        self.publish();
    }

    /// Runs activity `A`; a failure ends the run, naming the activity.
    pub async fn call<A: Activity>(&self, input: &A::In, options: ActivityOptions) -> Step<A::Out> {
        self.ctx
            .activity::<A>(input, options)
            .await
            .map_err(|e| Halt::Failed(format!("{}: {}", A::NAME, e.message)))
    }

    /// How a step's reads and idempotent writes are retried: transient failures within
    /// [`STEP_RETRY_BUDGET`].
    pub fn retries(&self) -> ActivityOptions {
        ActivityOptions::within(STEP_RETRY_BUDGET)
    }

    /// How often the Lease is renewed while waiting: a quarter of its duration, so a renewal
    /// that fails and is retried still lands well before it lapses.
    pub fn renew_every(&self) -> Duration {
        (self.common.lease_duration / 4).max(Duration::from_millis(100))
    }

    /// Takes (or renews) the Lease; someone else holding it fails the run.
    pub async fn take_lease(&mut self) -> Step<()> {
        let holder = self.child_id.clone();
        let outcome = self
            .call::<TakeLease>(
                &LeaseIn {
                    at: self.at.clone(),
                    holder: holder.clone(),
                    duration: self.common.lease_duration,
                    renew: self.open.lease_holder.is_some(),
                },
                // Not longer than half the Lease: a renewal that cannot get through before the
                // Lease would lapse fails the step (fail closed) rather than hold on blindly.
                ActivityOptions::within(self.common.lease_duration / 2),
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
                self.at.cluster.namespace,
                self.at.cluster.resource,
                expires_at.map(|t| format!(" (until {t})")).unwrap_or_default()
            ))),
        }
    }

    /// Renews the Lease when a quarter of its duration may have passed since the last renewal:
    /// a step's waits can last hours (a decommission, a recovery), and a lapsed Lease could be
    /// taken by another operation while we still have a node down.
    pub async fn renew_lease_if_due(&mut self) -> Step<()> {
        if self.open.lease_holder.is_some() && self.unrenewed >= self.renew_every() {
            self.take_lease().await?;
        }
        Ok(())
    }

    /// A durable pause of `pause` that counts towards the Lease's renewal (and renews it when
    /// due), for an operation's own retry loops.
    pub async fn pause(&mut self, pause: Duration) -> Step<()> {
        self.ctx.sleep(pause).await;
        self.unrenewed += pause;
        self.renew_lease_if_due().await
    }

    /// Reads the mailbox without waiting; `stop` ends the run here, `force_restart` lifts the
    /// maintenance gate.
    pub async fn check_control(&mut self) -> Step<()> {
        while let Some(message) = self.ctx.recv_or_timeout(CONTROL_MAILBOX, Duration::ZERO).await {
            self.handle_control(&message)?;
        }
        Ok(())
    }

    fn handle_control(&mut self, message: &str) -> Step<()> {
        match serde_json::from_str::<Control>(message) {
            Ok(Control::ForceRestart { reason }) => {
                self.forced = true;
                self.report.common_mut().window = Some(format!("maintenance windows overridden: {reason}"));
                self.ctx.log(&format!("force_restart: {reason}"));
                Ok(())
            }
            Ok(Control::Stop { reason }) => Err(Halt::Stopped(format!("stopped by operator: {reason}"))),
            Err(e) => {
                self.ctx
                    .log(&format!("ignoring an unreadable control message: {e}"));
                Ok(())
            }
        }
    }

    /// Whether another actor has appeared on the cluster since the operation started
    /// ([`cratectl_core::busy`], minus this workflow's own Lease and routing-owner label and the
    /// codes in `own`, which this operation causes itself): run before every disruptive step, so
    /// the operation stops safely (cleanup puts everything back) at the next step boundary
    /// instead of disrupting a node while someone else works on the cluster.
    pub async fn check_busy(&mut self, kind: OperationKind, own: &[BusyCode]) -> Step<()> {
        let busy = self
            .call::<ReadBusy>(
                &BusyIn {
                    at: self.at.clone(),
                    own_holder: self.child_id.clone(),
                    own_labels: self.open.routing_owner_on.clone(),
                },
                self.retries(),
            )
            .await?;
        let blocking: Vec<String> = cratectl_core::busy::blocking(&busy, kind)
            .into_iter()
            .filter(|b| !own.contains(&b.code))
            .map(|b| b.message.clone())
            .collect();
        if blocking.is_empty() {
            Ok(())
        } else {
            Err(Halt::Failed(format!(
                "stopped before the next disruption: {}",
                blocking.join("; ")
            )))
        }
    }

    /// The cluster's maintenance schedule, when windows apply. The file is validated by the
    /// CLI before start; a failure here (the time-zone database changed?) fails closed.
    pub fn schedule(&self) -> Step<Option<Schedule>> {
        self.common.schedule(&self.at.cluster.name).map_err(Halt::Failed)
    }

    /// Waits until the next step (`what`, e.g. `pod data-hot-1`) that needs `needed` fits in a
    /// maintenance window (or an operator forces it), holding the Lease; says whether it had to
    /// wait.
    pub async fn window_gate(&mut self, schedule: &Schedule, needed: Duration, what: &str) -> Step<bool> {
        let mut waited = false;
        loop {
            if self.forced {
                return Ok(waited);
            }
            let now = self.ctx.now().await?;
            let decision = decide(schedule, now, needed, what);
            self.report.common_mut().window = Some(decision.summary());
            let at = match decision {
                WindowDecision::Proceed { .. } => {
                    self.publish();
                    return Ok(waited);
                }
                WindowDecision::NoWindowAhead { reason } => return Err(Halt::Failed(reason)),
                WindowDecision::WaitUntil { at, reason } => {
                    let common = self.report.common_mut();
                    common.state = ClusterState::Waiting;
                    common.phase = Some(PHASE_WINDOW.into());
                    self.step(
                        "maintenance window",
                        Some(format!("maintenance window for {what} at {at}: {reason}")),
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
    /// what it saw after each slice; `None` when `total` passed first (the last reading is in
    /// the report), with the time spent, counted in the slices' budgets (the last one in
    /// full). See [`ClusterOp::wait`] for the usual "time out = fail".
    pub async fn wait_up_to<A, T>(
        &mut self,
        step: &str,
        what: &str,
        total: Duration,
        make: impl Fn(Duration) -> A::In,
    ) -> Step<(Option<T>, Duration)>
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
            let gate = &self.common.gate;
            let gate_span = gate.interval * (gate.polls + 1);
            let budget = total
                .saturating_sub(spent)
                .min(WAIT_SLICE)
                .min(self.renew_every().max(gate_span));
            let out = self
                .call::<A>(&make(budget), ActivityOptions::within(budget))
                .await?;
            self.unrenewed += budget;
            spent += budget;
            if let Some(done) = out.done {
                self.report.common_mut().last_readings = Some(out.last);
                return Ok((Some(done), spent));
            }
            let common = self.report.common_mut();
            common.last_readings = Some(out.last.clone());
            common.waiting_for = Some(format!("{what} (last: {})", out.last));
            self.publish();
            if spent >= total {
                return Ok((None, spent));
            }
        }
    }

    /// [`ClusterOp::wait_up_to`], failing the run when `total` passes first, with what was
    /// last seen.
    pub async fn wait<A, T>(
        &mut self,
        step: &str,
        what: &str,
        total: Duration,
        make: impl Fn(Duration) -> A::In,
    ) -> Step<T>
    where
        A: Activity<Out = Waited<T>>,
    {
        match self.wait_up_to::<A, T>(step, what, total, make).await? {
            (Some(done), _) => Ok(done),
            (None, _) => Err(self.timed_out(what, total)),
        }
    }

    /// "timed out after 15m waiting for …; last seen: …".
    pub fn timed_out(&self, what: &str, total: Duration) -> Halt {
        let last = self
            .report
            .common()
            .last_readings
            .clone()
            .unwrap_or_else(|| "nothing".into());
        Halt::Failed(format!(
            "timed out after {} waiting for {what}; last seen: {last}",
            text::duration(total)
        ))
    }

    /// The stable gate (ARCHITECTURE §1.2): the same safe verdict on `gate.polls` consecutive
    /// fresh readings through a pod other than `avoid`, within the health timeout.
    pub async fn await_stable(&mut self, step: &str, what: &str, avoid: Option<String>) -> Step<String> {
        let at = self.at.clone();
        let gate = self.common.gate.clone();
        let total = self.common.health_timeout;
        self.wait::<AwaitStable, String>(step, what, total, |budget| StableIn {
            at: at.clone(),
            avoid: avoid.clone(),
            polls: gate.polls,
            interval: gate.interval,
            budget,
        })
        .await
    }

    /// The first reading: a verdict CrateDB itself gave (a Secret read or a port-forward that
    /// fails is tried again within the health timeout), which must be safe to start from.
    pub async fn validate(&mut self) -> Step<()> {
        let at = self.at.clone();
        let interval = self.common.gate.interval;
        let health: HealthOut = self
            .wait::<AwaitReading, HealthOut>(
                "validate",
                "a first reading of the cluster's health",
                self.common.health_timeout,
                |budget| ReadingIn {
                    at: at.clone(),
                    avoid: None,
                    interval,
                    budget,
                },
            )
            .await?;
        self.report.common_mut().last_readings = Some(health.summary.clone());
        if !health.safe {
            return Err(Halt::Failed(format!("not safe to start: {}", health.summary)));
        }
        Ok(())
    }

    /// Records the settings the saga covers, once, before the first change.
    pub async fn record_settings(&mut self) -> Step<()> {
        if self.open.saga.is_none() {
            self.step("record settings", None);
            let saga = self
                .call::<RecordSettings>(&self.at.clone(), self.retries())
                .await?;
            self.open.saga = Some(saga);
            self.publish();
        }
        Ok(())
    }

    /// Opens a saga that covers node exclusions only, for an operation that writes no scalar
    /// setting (a scale refuses when allocation is not `all`, and never writes it): cleanup then
    /// takes out the names it excluded and puts nothing else back, so a setting someone else
    /// changes meanwhile is left as they set it.
    pub fn open_exclusion_saga(&mut self) {
        if self.open.saga.is_none() {
            self.open.saga = Some(saga::Saga::default());
            self.publish();
        }
    }

    /// Claims routing ownership on `statefulsets` (so dc_util's hooks leave the setting alone)
    /// and holds allocation at `primaries`, reading through a pod other than `avoid`. The
    /// settings must be recorded first ([`ClusterOp::record_settings`]).
    pub async fn hold_allocation(&mut self, statefulsets: &[String], avoid: Option<String>) -> Step<()> {
        if self.open.saga.is_none() {
            return Err(Halt::Failed(
                "internal error: allocation held before the settings were recorded".into(),
            ));
        }
        self.step("hold allocation", None);
        for name in statefulsets {
            if !self.open.routing_owner_on.contains(name) {
                self.open.routing_owner_on.push(name.clone());
            }
        }
        self.publish();
        self.call::<HoldAllocation>(
            &HoldIn {
                at: self.at.clone(),
                statefulsets: statefulsets.to_vec(),
                avoid,
            },
            self.retries(),
        )
        .await
    }

    /// Adds `names` to `cluster.routing.allocation.exclude._name`, recording first (in the
    /// saga, published) the ones we add, so cleanup removes exactly those and exclusions others
    /// write meanwhile survive. The settings must be recorded first.
    pub async fn exclude_nodes(&mut self, names: &[String]) -> Step<()> {
        let Some(mut saga) = self.open.saga.clone() else {
            return Err(Halt::Failed(
                "internal error: nodes excluded before the settings were recorded".into(),
            ));
        };
        self.step("exclude nodes", None);
        let before = self
            .call::<ReadExclusions>(&self.at.clone(), self.retries())
            .await?;
        saga.record_exclusions(&before, names);
        self.open.saga = Some(saga);
        self.publish();
        self.call::<ExcludeNodes>(
            &ExcludeIn {
                at: self.at.clone(),
                add: names.to_vec(),
                remove: Vec::new(),
            },
            self.retries(),
        )
        .await
    }

    /// Takes `names` (ours) out of the exclusion list and then out of the saga, so a crash in
    /// between only means cleanup removes them again. The caller makes sure each node has left
    /// the cluster or is still wanted (never a node that is departing: shards could move onto
    /// it).
    pub async fn unexclude_nodes(&mut self, names: &[String]) -> Step<()> {
        let Some(mut saga) = self.open.saga.clone() else {
            return Ok(());
        };
        let ours: Vec<String> = names
            .iter()
            .filter(|n| saga.excluded.contains(n))
            .cloned()
            .collect();
        if ours.is_empty() {
            return Ok(());
        }
        self.step("lift exclusions", None);
        self.call::<ExcludeNodes>(
            &ExcludeIn {
                at: self.at.clone(),
                add: Vec::new(),
                remove: ours.clone(),
            },
            self.retries(),
        )
        .await?;
        saga.forget_exclusions(&ours);
        self.open.saga = Some(saga);
        self.publish();
        Ok(())
    }

    /// Labels `statefulsets` `dc-util-disabled=true` (recorded first), so dc_util's hooks on a
    /// pod being removed neither decommission it again nor touch allocation settings.
    pub async fn disable_dc_util(&mut self, statefulsets: &[String]) -> Step<()> {
        for name in statefulsets {
            if !self.open.dc_util_disabled_on.contains(name) {
                self.open.dc_util_disabled_on.push(name.clone());
            }
        }
        self.publish();
        self.call::<SetLabel>(
            &LabelIn {
                at: self.at.clone(),
                statefulsets: statefulsets.to_vec(),
                key: DC_UTIL_DISABLED_LABEL.into(),
                value: Some("true".into()),
            },
            self.retries(),
        )
        .await
    }

    /// Removes the `dc-util-disabled` label where we set it.
    pub async fn enable_dc_util(&mut self) -> Step<()> {
        if self.open.dc_util_disabled_on.is_empty() {
            return Ok(());
        }
        self.call::<SetLabel>(&self.dc_util_label_removal(), self.retries())
            .await?;
        self.open.dc_util_disabled_on.clear();
        self.publish();
        Ok(())
    }

    fn dc_util_label_removal(&self) -> LabelIn {
        LabelIn {
            at: self.at.clone(),
            statefulsets: self.open.dc_util_disabled_on.clone(),
            key: DC_UTIL_DISABLED_LABEL.into(),
            value: None,
        }
    }

    /// Puts `cluster.routing.allocation.enable` back to its recorded value (the saga stays
    /// open for the rest).
    pub async fn restore_allocation(&mut self) -> Step<()> {
        self.step("restore allocation", None);
        if let Some(saga) = self.open.saga.clone() {
            self.call::<RestoreSettings>(
                &RestoreIn {
                    at: self.at.clone(),
                    saga,
                    only: vec![saga::ALLOCATION_ENABLE.to_string()],
                },
                self.retries(),
            )
            .await?;
        }
        Ok(())
    }

    /// Records (published) that `pod`'s node is about to depart, before the write that makes
    /// it go: cleanup then waits for it before lifting exclusions.
    pub fn mark_departing(&mut self, pod: &str, node: &str, statefulset: &str, ordinal: u64) {
        self.open.departing = Some(Departing {
            pod: pod.to_string(),
            node: node.to_string(),
            statefulset: Some(statefulset.to_string()),
            ordinal: Some(ordinal),
        });
        self.publish();
    }

    /// The departing node has left.
    pub fn clear_departing(&mut self) {
        if self.open.departing.take().is_some() {
            self.publish();
        }
    }

    fn restore_undo(&self) -> UndoIn {
        UndoIn {
            at: self.at.clone(),
            renamed: self.open.tables_renamed.clone(),
            repository: self.open.repository_created.clone(),
            deployments: self.open.deployments_scaled.clone(),
            drop_tables: Vec::new(),
        }
    }

    /// Records `names` in the saga (their effective values now), before the first change to
    /// any of them; names recorded earlier keep their first value.
    pub async fn record_settings_of(&mut self, names: &[&str]) -> Step<()> {
        let mut saga = self.open.saga.clone().unwrap_or_default();
        if names.iter().all(|n| saga.prior(n).is_some()) {
            return Ok(());
        }
        self.step("record settings", None);
        let reading = self
            .call::<ReadSettings>(&self.at.clone(), self.retries())
            .await?;
        saga.add(&reading, names);
        self.open.saga = Some(saga);
        self.publish();
        Ok(())
    }

    /// Writes `values` at both levels; each must be recorded in the saga first.
    pub async fn change_settings(&mut self, values: &[(String, Literal)]) -> Step<()> {
        let recorded = self.open.saga.as_ref();
        if let Some((name, _)) = values
            .iter()
            .find(|(n, _)| recorded.and_then(|s| s.prior(n)).is_none())
        {
            return Err(Halt::Failed(format!(
                "internal error: {name} changed before it was recorded"
            )));
        }
        self.step("change settings", None);
        self.call::<SetSettings>(
            &SetIn {
                at: self.at.clone(),
                values: values.to_vec(),
            },
            self.retries(),
        )
        .await
    }

    /// Undoes every open effect; returns what could not be undone.
    pub async fn cleanup(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        self.report.common_mut().phase = Some(PHASE_CLEANUP.into());
        if let Some(departing) = self.open.departing.clone() {
            // A node that is leaving keeps its exclusion until it has left (the ECK #1523 race:
            // lifted early, shards move onto a node about to disappear).
            let at = self.at.clone();
            let interval = self.common.gate.interval;
            let what = format!("node {} to leave before its exclusion is lifted", departing.node);
            match self
                .wait_up_to::<AwaitNodeGone, bool>("departure", &what, CLEANUP_RETRY_BUDGET, |budget| {
                    GoneIn {
                        at: at.clone(),
                        pod: departing.pod.clone(),
                        node: departing.node.clone(),
                        interval,
                        budget,
                        or_still_wanted: departing.statefulset.clone().zip(departing.ordinal),
                    }
                })
                .await
            {
                Ok((Some(_), _)) => self.open.departing = None,
                Ok((None, _)) => problems.push(format!(
                    "node {} had not left; its exclusion was lifted anyway",
                    departing.node
                )),
                Err(Halt::Failed(e) | Halt::Stopped(e)) => problems.push(format!(
                    "could not tell whether node {} left ({e})",
                    departing.node
                )),
            }
        }
        if !self.open.restore_effects_closed() {
            self.step("undo restore effects", None);
            match self
                .call::<UndoRestoreEffects>(
                    &self.restore_undo(),
                    ActivityOptions::within(CLEANUP_RETRY_BUDGET),
                )
                .await
            {
                Ok(notes) => {
                    for note in notes {
                        self.ctx.log(&note);
                    }
                    self.open.repository_created = None;
                    self.open.tables_renamed.clear();
                    self.open.deployments_scaled.clear();
                }
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("restore effects NOT undone ({e})"))
                }
            }
        }
        if let Some(record) = self.open.suspend_record.clone() {
            self.step("undo suspend effects", None);
            match self
                .call::<UndoSuspendEffects>(
                    &SuspendUndoIn {
                        at: self.at.clone(),
                        record,
                    },
                    ActivityOptions::within(CLEANUP_RETRY_BUDGET),
                )
                .await
            {
                Ok(notes) => {
                    for note in notes {
                        self.ctx.log(&note);
                    }
                    self.open.suspend_record = None;
                }
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("suspend effects NOT undone ({e})"))
                }
            }
        }
        if let Some(saga) = self.open.saga.clone() {
            self.step("restore settings", None);
            match self
                .call::<RestoreSettings>(
                    &RestoreIn {
                        at: self.at.clone(),
                        saga,
                        only: Vec::new(),
                    },
                    ActivityOptions::within(CLEANUP_RETRY_BUDGET),
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
            match self
                .call::<ClearRoutingOwner>(&input, ActivityOptions::within(CLEANUP_RETRY_BUDGET))
                .await
            {
                Ok(()) => self.open.routing_owner_on.clear(),
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("routing-owner label left ({e})"))
                }
            }
        }
        if !self.open.dc_util_disabled_on.is_empty() {
            match self
                .call::<SetLabel>(
                    &self.dc_util_label_removal(),
                    ActivityOptions::within(CLEANUP_RETRY_BUDGET),
                )
                .await
            {
                Ok(()) => self.open.dc_util_disabled_on.clear(),
                Err(Halt::Failed(e) | Halt::Stopped(e)) => {
                    problems.push(format!("{DC_UTIL_DISABLED_LABEL} label left ({e})"))
                }
            }
        }
        if let Some(holder) = self.open.lease_holder.clone() {
            let input = LeaseIn {
                at: self.at.clone(),
                holder,
                duration: self.common.lease_duration,
                renew: false,
            };
            match self
                .call::<ReleaseLease>(&input, ActivityOptions::within(CLEANUP_RETRY_BUDGET))
                .await
            {
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

    /// Ends the run: cleans up whatever `outcome` was, sets the final state and reason
    /// (cleanup problems make it a failure), publishes, and returns the report.
    pub async fn finish(self, outcome: Step<()>) -> WfResult<R> {
        self.finish_then(outcome, |_, _| {}).await
    }

    /// [`ClusterOp::finish`], letting the operation add to its report what cleanup left open.
    pub async fn finish_then(
        mut self,
        outcome: Step<()>,
        after: impl FnOnce(&mut R, &OpenEffects),
    ) -> WfResult<R> {
        let cleanup = self.cleanup().await;
        after(&mut self.report, &self.open);
        let common = self.report.common_mut();
        common.current_step = None;
        common.waiting_for = None;
        common.phase = Some(PHASE_DONE.into());
        match outcome {
            Ok(()) => common.state = ClusterState::Succeeded,
            Err(Halt::Failed(reason)) => {
                common.state = ClusterState::Failed;
                common.reason = Some(reason);
            }
            Err(Halt::Stopped(reason)) => {
                common.state = ClusterState::Stopped;
                common.reason = Some(reason);
            }
        }
        if let Err(problems) = cleanup {
            common.state = ClusterState::Failed;
            let mut reason = common.reason.take().map(|r| format!("{r}; ")).unwrap_or_default();
            reason.push_str(&format!("cleanup incomplete: {problems}"));
            common.reason = Some(reason);
        }
        self.report.common_mut().finished_at = Some(self.ctx.now().await?);
        self.publish();
        Ok(self.report)
    }
}

/// The phases every operation goes through ([`cratectl_core::op::report::ClusterCommon::phase`]);
/// an operation's own work is a phase named after it.
pub const PHASE_PREPARE: &str = "prepare";
pub const PHASE_WINDOW: &str = "window";
pub const PHASE_CLEANUP: &str = "cleanup";
pub const PHASE_DONE: &str = "done";

/// `to - from`, zero when negative.
pub fn until(from: Timestamp, to: Timestamp) -> Duration {
    let span: SignedDuration = to.duration_since(from);
    Duration::try_from(span).unwrap_or(Duration::ZERO)
}
