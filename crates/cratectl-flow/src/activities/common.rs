//! The activities every operation uses: health readings and the stable gate, the cluster's
//! Lease, the settings saga and the routing-owner label.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::health::StabilityGate;
use cratectl_core::op::saga::{self, Saga};
use cratectl_core::sql::Literal;
use cratectl_kube::labels;
use cratectl_kube::lease::{self, Acquire};
use serde::{Deserialize, Serialize};

use super::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, Poller, cratedb_error, kube_error, next_tick};

/// Registers the activities of this module.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<ReadHealth>()
        .add::<AwaitReading>()
        .add::<AwaitStable>()
        .add::<TakeLease>()
        .add::<ReleaseLease>()
        .add::<RecordSettings>()
        .add::<ReadSettings>()
        .add::<SetSettings>()
        .add::<HoldAllocation>()
        .add::<RestoreSettings>()
        .add::<ClearRoutingOwner>()
        .add::<ReadExclusions>()
        .add::<ExcludeNodes>()
        .add::<SetLabel>()
        .add::<ReadBusy>()
}

// ---------------------------------------------------------------------------------------------
// Another actor at work

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BusyIn {
    pub at: At,
    /// This workflow's id: its own Lease is not evidence.
    pub own_holder: String,
    /// StatefulSets carrying this workflow's routing-owner label: not evidence either.
    pub own_labels: Vec<String>,
}

/// Everything that says someone else is operating the cluster now ([`cratectl_core::busy`]):
/// Kubernetes' evidence (the operator's handlers, requested restore and restart queue, a fresh
/// routing-owner label, pods changing, a suspended cluster, an active backup Job) and CrateDB's
/// (a restore or snapshot running, a decommission in `sys.jobs`). CrateDB's evidence must be
/// read: a cluster that cannot be read fails the step (after retries) rather than look idle.
pub struct ReadBusy;
impl Activity for ReadBusy {
    const NAME: &'static str = "read_busy";
    type In = BusyIn;
    type Out = Vec<cratectl_core::busy::Busy>;
}
impl RunActivity<ActivityEnv> for ReadBusy {
    async fn run(
        env: Arc<ActivityEnv>,
        input: BusyIn,
    ) -> Result<Vec<cratectl_core::busy::Busy>, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let mut evidence = cluster.busy_evidence(jiff::Timestamp::now());
        evidence.own_holder = Some(input.own_holder.clone());
        evidence
            .routing_owners
            .retain(|(sts, _)| !input.own_labels.contains(sts));
        evidence.backup_jobs =
            cratectl_kube::suspend::active_backup_jobs(&kube, &cluster.namespace, &cluster.resource)
                .await
                .map_err(|e| kube_error(&e))?;
        if !cluster.suspended() {
            let client = env.client_avoiding(&kube, &cluster, None).await?;
            let read = |e: cratectl_cratedb::Error, what: &str| {
                cratedb_error(&e).context(format!("cannot read {what}"))
            };
            let restores = client
                .restores_running()
                .await
                .map_err(|e| read(e, "sys.snapshot_restore"))?
                .into_iter()
                .map(|(repository, snapshot, _)| format!("{repository}.{snapshot}"))
                .collect();
            let mut snapshots = client
                .snapshots_in_progress()
                .await
                .map_err(|e| read(e, "sys.snapshots"))?;
            let statements = client
                .running_statements()
                .await
                .map_err(|e| read(e, "sys.jobs"))?;
            let (decommissions, creating) = cratectl_core::busy::classify_statements(&statements);
            snapshots.extend(creating);
            evidence.restores = Some(restores);
            evidence.snapshots = Some(snapshots);
            evidence.decommissions = Some(decommissions);
        }
        Ok(cratectl_core::busy::assess(&evidence))
    }
}

// ---------------------------------------------------------------------------------------------
// Health

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthIn {
    pub at: At,
    /// Never read through this pod.
    pub avoid: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthOut {
    pub safe: bool,
    pub summary: String,
}

/// One verdict, now.
pub struct ReadHealth;
impl Activity for ReadHealth {
    const NAME: &'static str = "read_health";
    type In = HealthIn;
    type Out = HealthOut;
}
impl RunActivity<ActivityEnv> for ReadHealth {
    async fn run(env: Arc<ActivityEnv>, input: HealthIn) -> Result<HealthOut, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let verdict = env.verdict(&kube, &cluster, input.avoid.as_deref()).await;
        Ok(HealthOut {
            safe: verdict.safe_to_disrupt,
            summary: verdict.summary(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StableIn {
    pub at: At,
    pub avoid: Option<String>,
    pub polls: u32,
    pub interval: Duration,
    pub budget: Duration,
}

/// Polls until the same safe verdict holds `polls` times in a row (ARCHITECTURE §1.2), each
/// poll a fresh reading through a pod other than `avoid`.
pub struct AwaitStable;
impl Activity for AwaitStable {
    const NAME: &'static str = "await_stable";
    type In = StableIn;
    type Out = Waited<String>;
}
impl RunActivity<ActivityEnv> for AwaitStable {
    async fn run(env: Arc<ActivityEnv>, input: StableIn) -> Result<Waited<String>, ActivityError> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut gate = StabilityGate::new(input.polls.max(1));
        let mut last;
        let mut poller = Poller::new(&env, &input.at.target, &input.at.cluster, input.avoid.as_deref());
        loop {
            match poller.verdict().await {
                Ok(verdict) => {
                    let stability = gate.observe(&verdict);
                    last = format!("{} ({})", verdict.summary(), stability.progress());
                    tracing::trace!(reading = %last, "stable gate");
                    if stability.is_stable() {
                        return Ok(Waited {
                            done: Some(verdict.summary()),
                            last,
                        });
                    }
                }
                // A refusal waiting cannot change (the resource is gone, a 403) fails the gate
                // now instead of at its timeout.
                Err(why) if !why.is_retryable() => return Err(why),
                Err(why) => {
                    last = why.message;
                    gate.reset();
                }
            }
            // Until a first safe reading, look more often: the dead time between the cluster
            // turning healthy and us noticing is pure delay. From that reading on, the polls are
            // `interval` apart, so the window the gate demands is exactly as configured.
            let step = if gate.streak() == 0 {
                first_reading_poll(input.interval)
            } else {
                input.interval
            };
            if !next_tick(&mut tick, step, deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadingIn {
    pub at: At,
    pub avoid: Option<String>,
    pub interval: Duration,
    pub budget: Duration,
}

/// Polls until CrateDB itself gives a reading (safe or not), each poll a fresh one. A reading
/// that did not reach CrateDB (the Secret, the port-forward or the connection failed) is no
/// verdict on the cluster: it is tried again, and only the last such failure is reported when
/// the budget runs out.
pub struct AwaitReading;
impl Activity for AwaitReading {
    const NAME: &'static str = "await_reading";
    type In = ReadingIn;
    type Out = Waited<HealthOut>;
}
impl RunActivity<ActivityEnv> for AwaitReading {
    async fn run(env: Arc<ActivityEnv>, input: ReadingIn) -> Result<Waited<HealthOut>, ActivityError> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut poller = Poller::new(&env, &input.at.target, &input.at.cluster, input.avoid.as_deref());
        loop {
            let last = match poller.verdict().await {
                Ok(verdict) if verdict.fingerprint.is_some() => {
                    return Ok(Waited {
                        last: verdict.summary(),
                        done: Some(HealthOut {
                            safe: verdict.safe_to_disrupt,
                            summary: verdict.summary(),
                        }),
                    });
                }
                Ok(verdict) => verdict.summary(),
                Err(why) if !why.is_retryable() => return Err(why),
                Err(why) => why.message,
            };
            tracing::debug!(reading = %last, "no reading from CrateDB yet");
            if !next_tick(&mut tick, first_reading_poll(input.interval), deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}

/// How often the stable gate polls while it has no safe reading yet: a quarter of its interval
/// (every 500 ms with the default 2 s), never more often than every 20 ms.
pub fn first_reading_poll(interval: Duration) -> Duration {
    (interval / 4).max(Duration::from_millis(20)).min(interval)
}

// ---------------------------------------------------------------------------------------------
// Lease

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaseIn {
    pub at: At,
    pub holder: String,
    pub duration: Duration,
    /// We took it before: a renewal (a Lease found lost or lapsed is then logged as such).
    #[serde(default)]
    pub renew: bool,
}

/// Takes (or renews, when we hold it) the cluster's Lease.
pub struct TakeLease;
impl Activity for TakeLease {
    const NAME: &'static str = "take_lease";
    type In = LeaseIn;
    type Out = Acquire;
}
impl RunActivity<ActivityEnv> for TakeLease {
    async fn run(env: Arc<ActivityEnv>, input: LeaseIn) -> Result<Acquire, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let (namespace, resource) = (&input.at.cluster.namespace, &input.at.cluster.resource);
        let outcome = if input.renew {
            lease::renew_lease(&kube, namespace, resource, &input.holder, input.duration).await
        } else {
            lease::acquire_lease(&kube, namespace, resource, &input.holder, input.duration).await
        };
        outcome.map_err(|e| kube_error(&e))
    }
}

/// Releases the Lease if we hold it.
pub struct ReleaseLease;
impl Activity for ReleaseLease {
    const NAME: &'static str = "release_lease";
    type In = LeaseIn;
    type Out = bool;
}
impl RunActivity<ActivityEnv> for ReleaseLease {
    async fn run(env: Arc<ActivityEnv>, input: LeaseIn) -> Result<bool, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        lease::release_lease(
            &kube,
            &input.at.cluster.namespace,
            &input.at.cluster.resource,
            &input.holder,
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}

// ---------------------------------------------------------------------------------------------
// Settings saga

/// Settings an operation may change through the saga (ARCHITECTURE §1.3).
pub const SAGA_SETTINGS: &[&str] = &[saga::ALLOCATION_ENABLE, MIN_AVAILABILITY];
pub const MIN_AVAILABILITY: &str = "cluster.graceful_stop.min_availability";

/// Reads the effective values of [`SAGA_SETTINGS`] before anything changes them.
pub struct RecordSettings;
impl Activity for RecordSettings {
    const NAME: &'static str = "record_settings";
    type In = At;
    type Out = Saga;
}
impl RunActivity<ActivityEnv> for RecordSettings {
    async fn run(env: Arc<ActivityEnv>, at: At) -> Result<Saga, ActivityError> {
        let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let reading = client
            .settings()
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read the cluster settings"))?;
        Ok(saga::record(&reading, SAGA_SETTINGS))
    }
}

/// The effective values of the touched settings (for [`Saga::add`]).
pub struct ReadSettings;
impl Activity for ReadSettings {
    const NAME: &'static str = "read_settings";
    type In = At;
    type Out = cratectl_core::readings::SettingsReading;
}
impl RunActivity<ActivityEnv> for ReadSettings {
    async fn run(
        env: Arc<ActivityEnv>,
        at: At,
    ) -> Result<cratectl_core::readings::SettingsReading, ActivityError> {
        let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        client
            .settings()
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read the cluster settings"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetIn {
    pub at: At,
    pub values: Vec<(String, Literal)>,
}

/// Writes each setting at both levels (TRANSIENT then PERSISTENT; [`saga::set_statements`]).
pub struct SetSettings;
impl Activity for SetSettings {
    const NAME: &'static str = "set_settings";
    type In = SetIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for SetSettings {
    async fn run(env: Arc<ActivityEnv>, input: SetIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        for (name, value) in &input.values {
            for stmt in saga::set_statements(name, value) {
                client
                    .sql_idempotent(&stmt, &[])
                    .await
                    .map_err(|e| cratedb_error(&e).context(&stmt))?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldIn {
    pub at: At,
    pub statefulsets: Vec<String>,
    /// Read through a pod other than this one.
    pub avoid: Option<String>,
}

/// Claims routing ownership (the operator's label protocol, so dc_util leaves the setting
/// alone), then sets `allocation.enable = 'primaries'` TRANSIENT then PERSISTENT.
pub struct HoldAllocation;
impl Activity for HoldAllocation {
    const NAME: &'static str = "hold_allocation";
    type In = HoldIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for HoldAllocation {
    async fn run(env: Arc<ActivityEnv>, input: HoldIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let owner = labels::routing_owner_value(jiff::Timestamp::now());
        labels::set_routing_owner(&kube, &cluster.namespace, &input.statefulsets, Some(&owner))
            .await
            .map_err(|e| {
                kube_error(&e).context(format!(
                    "cannot label the StatefulSets with {}",
                    labels::ROUTING_OWNER_LABEL
                ))
            })?;
        let client = env
            .client_avoiding(&kube, &cluster, input.avoid.as_deref())
            .await?;
        for stmt in saga::set_statements(
            saga::ALLOCATION_ENABLE,
            &Literal::text(saga::ALLOCATION_DURING_RESTART),
        ) {
            client
                .sql_idempotent(&stmt, &[])
                .await
                .map_err(|e| cratedb_error(&e).context(&stmt))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestoreIn {
    pub at: At,
    pub saga: Saga,
    /// Restore only these settings (all when empty).
    pub only: Vec<String>,
}

/// Puts recorded settings back (RESET for a prior default, else SET at both levels), then
/// reads them again and fails unless they are back.
pub struct RestoreSettings;
impl Activity for RestoreSettings {
    const NAME: &'static str = "restore_settings";
    type In = RestoreIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for RestoreSettings {
    async fn run(env: Arc<ActivityEnv>, input: RestoreIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let saga = if input.only.is_empty() {
            input.saga
        } else {
            Saga {
                saved: input
                    .saga
                    .saved
                    .into_iter()
                    .filter(|s| input.only.contains(&s.name))
                    .collect(),
                excluded: if input.only.iter().any(|n| n == saga::ALLOCATION_EXCLUDE_NAME) {
                    input.saga.excluded
                } else {
                    Vec::new()
                },
            }
        };
        // Through any node that answers: the pod just stopped may still look Ready.
        let mut last = ActivityError::retryable(format!("no pod of {} is Ready", cluster.qualified()));
        for client in env.clients(&kube, &cluster, None).await? {
            match restore_through(&client, &saga).await {
                Ok(()) => return Ok(()),
                Err((e, true)) => last = e,
                Err((e, false)) => return Err(e),
            }
        }
        Err(last)
    }
}

/// Restores and checks through one client; the flag says whether another node may do better.
/// The exclusions we added are removed from the list as it is now, so others' entries survive.
async fn restore_through(
    client: &cratectl_cratedb::Client,
    saga: &Saga,
) -> Result<(), (ActivityError, bool)> {
    let unreachable = |e: &cratectl_cratedb::Error| matches!(e, cratectl_cratedb::Error::Unreachable { .. });
    let mut statements = saga::restore_statements(saga);
    if !saga.excluded.is_empty() {
        let before = client.settings().await.map_err(|e| {
            (
                cratedb_error(&e).context("cannot read the settings"),
                unreachable(&e),
            )
        })?;
        statements.extend(saga::exclusion_statements(&before, &[], &saga.excluded));
    }
    for stmt in statements {
        client
            .sql_idempotent(&stmt, &[])
            .await
            .map_err(|e| (cratedb_error(&e).context(&stmt), unreachable(&e)))?;
    }
    let now = client.settings().await.map_err(|e| {
        (
            cratedb_error(&e).context("cannot read the settings back"),
            unreachable(&e),
        )
    })?;
    // Not restored after our own statements went through: someone changed them again (or
    // CrateDB did not apply them); a retry decides anew from a fresh reading.
    saga::is_restored(saga, &now).map_err(|wrong| {
        (
            ActivityError::retryable(format!("settings not restored: {}", wrong.join("; "))),
            false,
        )
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelsIn {
    pub at: At,
    pub statefulsets: Vec<String>,
}

/// Removes our routing-owner label.
pub struct ClearRoutingOwner;
impl Activity for ClearRoutingOwner {
    const NAME: &'static str = "clear_routing_owner";
    type In = LabelsIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for ClearRoutingOwner {
    async fn run(env: Arc<ActivityEnv>, input: LabelsIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        labels::set_routing_owner(&kube, &input.at.cluster.namespace, &input.statefulsets, None)
            .await
            .map_err(|e| {
                kube_error(&e).context(format!("cannot remove the {} label", labels::ROUTING_OWNER_LABEL))
            })
    }
}

/// The node names in `cluster.routing.allocation.exclude._name` now, sorted.
pub struct ReadExclusions;
impl Activity for ReadExclusions {
    const NAME: &'static str = "read_exclusions";
    type In = At;
    type Out = Vec<String>;
}
impl RunActivity<ActivityEnv> for ReadExclusions {
    async fn run(env: Arc<ActivityEnv>, at: At) -> Result<Vec<String>, ActivityError> {
        let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let reading = client
            .settings()
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read the cluster settings"))?;
        Ok(saga::exclusion_list(&reading))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExcludeIn {
    pub at: At,
    /// Node names to add to the exclusion list (others' entries are kept).
    pub add: Vec<String>,
    /// Node names to take out of it (exactly these; others' entries are kept).
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Adds node names to `cluster.routing.allocation.exclude._name` and takes others out (both
/// levels), keeping every other entry; writes nothing when the list would not change. The saga
/// records the names before they are added, and forgets them after they are taken out.
pub struct ExcludeNodes;
impl Activity for ExcludeNodes {
    const NAME: &'static str = "exclude_nodes";
    type In = ExcludeIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for ExcludeNodes {
    async fn run(env: Arc<ActivityEnv>, input: ExcludeIn) -> Result<(), ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let reading = client
            .settings()
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read the cluster settings"))?;
        for stmt in saga::exclusion_statements(&reading, &input.add, &input.remove) {
            client
                .sql_idempotent(&stmt, &[])
                .await
                .map_err(|e| cratedb_error(&e).context(&stmt))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelIn {
    pub at: At,
    pub statefulsets: Vec<String>,
    pub key: String,
    /// `None` removes the label.
    pub value: Option<String>,
}

/// Sets (or removes) a label on StatefulSets of the cluster (`dc-util-disabled` while nodes
/// are removed); idempotent, a missing StatefulSet is skipped.
pub struct SetLabel;
impl Activity for SetLabel {
    const NAME: &'static str = "set_statefulset_label";
    type In = LabelIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for SetLabel {
    async fn run(env: Arc<ActivityEnv>, input: LabelIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        labels::set_statefulset_label(
            &kube,
            &input.at.cluster.namespace,
            &input.statefulsets,
            &input.key,
            input.value.as_deref(),
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}
