//! The restart's activities: every side effect and every reading of the outside world. Each is
//! idempotent (engines run an activity again after a crash, ARCHITECTURE §1.4), each bounds its
//! own waiting with a `budget`, and each error is a sentence that says what was observed.
//!
//! Waiting activities return [`Waited`] when their budget runs out instead of failing: the
//! workflow publishes what was last seen (status explains itself) and decides whether to go on
//! waiting, so no single activity holds a worker for the whole of a long wait.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::health::StabilityGate;
use cratectl_core::restart::plan::{MinAvailability, PlannedPod, PodFacts, plan_pods};
use cratectl_core::restart::saga::{self, Saga};
use cratectl_core::sql::{self, Literal};
use cratectl_core::topology::node_condition;
use cratectl_cratedb::{ErrorKind, UnreachableKind};
use cratectl_kube::labels;
use cratectl_kube::lease::{self, Acquire};
use cratectl_kube::pods::{self, PodState, StopOutcome, WaitError};
use serde::{Deserialize, Serialize};

use crate::engine::{Activity, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, Poller, next_tick, verdict_through};
use crate::model::{ClusterRef, RestartOptions, TargetSpec};

/// Registers every activity of this module.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<Discover>()
        .add::<ReadHealth>()
        .add::<AwaitStable>()
        .add::<TakeLease>()
        .add::<ReleaseLease>()
        .add::<RecordSettings>()
        .add::<HoldAllocation>()
        .add::<RestoreSettings>()
        .add::<ClearRoutingOwner>()
        .add::<PodIdentity>()
        .add::<Decommission>()
        .add::<AwaitNodeLeft>()
        .add::<StopPod>()
        .add::<AwaitPodReplaced>()
        .add::<AwaitRejoin>()
}

/// What a waiting activity saw when its budget ran out, or the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Waited<T> {
    pub done: Option<T>,
    /// What was last observed, for status ("2 underreplicated shards in doc.t1 …").
    pub last: String,
}

/// Every activity names the cluster the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct At {
    pub target: TargetSpec,
    pub cluster: ClusterRef,
}

// ---------------------------------------------------------------------------------------------
// Discover

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscoverIn {
    pub at: At,
    pub options: RestartOptions,
    /// The maintenance config's `min_availability` for this cluster, if any.
    pub config_min_availability: Option<MinAvailability>,
}

/// The cluster as planned at start (recorded in history: replays see the same plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    pub pods: Vec<PlannedPod>,
    pub statefulsets: Vec<String>,
    pub expected_nodes: u32,
    pub suspended: bool,
    pub warnings: Vec<String>,
}

pub struct Discover;
impl Activity for Discover {
    const NAME: &'static str = "discover_cluster";
    type In = DiscoverIn;
    type Out = ClusterSnapshot;
}
impl RunActivity<ActivityEnv> for Discover {
    async fn run(env: Arc<ActivityEnv>, input: DiscoverIn) -> Result<ClusterSnapshot, String> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let discovery_nodes = if input.options.only_on_suspended_nodes {
            cratectl_kube::discover(&kube, Some(&cluster.namespace))
                .await
                .map_err(|e| e.to_string())?
                .nodes
        } else {
            Default::default()
        };
        let mut warnings = Vec::new();
        let facts: Vec<PodFacts> = cluster
            .pods
            .iter()
            .map(|pod| {
                let dc_util_timeout = match cratectl_core::prestop::analyze(&pod.prestop) {
                    Ok(analysis) if analysis.has_dc_util() => Some(analysis.timeout()),
                    Ok(_) => None,
                    Err(e) => {
                        warnings.push(format!(
                            "pod {}: preStop hook not understood ({e}); cratectl decommissions it itself",
                            pod.name
                        ));
                        None
                    }
                };
                let on_suspended_node = pod
                    .node
                    .as_ref()
                    .and_then(|n| discovery_nodes.get(n).map(|facts| (n, node_condition(facts))))
                    .filter(|(_, c)| c.suspended)
                    .map(|(n, c)| format!("node {n}: {}", c.reasons.join(", ")));
                PodFacts {
                    name: pod.name.clone(),
                    uid: pod.uid.clone(),
                    group: pod.group.clone(),
                    master: cluster.groups.iter().any(|g| g.master && g.name == pod.group),
                    ordinal: pod.ordinal,
                    on_suspended_node,
                    dc_util_timeout,
                    termination_grace_period_s: pod.termination_grace_period_s,
                }
            })
            .collect();
        let min_availability = input
            .options
            .min_availability
            .or(input.config_min_availability)
            .unwrap_or(MinAvailability::Primaries);
        let pods = plan_pods(
            &facts,
            input.options.order,
            input.options.only_on_suspended_nodes,
            min_availability,
            input.options.startup_estimate,
        );
        Ok(ClusterSnapshot {
            pods,
            statefulsets: cluster.statefulsets.iter().map(|s| s.name.clone()).collect(),
            expected_nodes: cluster.desired_nodes(),
            suspended: cluster.suspended(),
            warnings,
        })
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
    async fn run(env: Arc<ActivityEnv>, input: HealthIn) -> Result<HealthOut, String> {
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
    async fn run(env: Arc<ActivityEnv>, input: StableIn) -> Result<Waited<String>, String> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut gate = StabilityGate::new(input.polls.max(1));
        let mut last;
        let mut poller = Poller::new(&env, &input.at.target, &input.at.cluster, input.avoid.as_deref());
        loop {
            match poller.reader().await {
                Ok((cluster, client)) => {
                    let verdict = verdict_through(client, cluster).await;
                    if verdict.fingerprint.is_none() {
                        // No answer: the pod read through may be going; find another next time.
                        poller.invalidate();
                    }
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
                Err(why) => {
                    last = why;
                    gate.reset();
                    poller.invalidate();
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
    async fn run(env: Arc<ActivityEnv>, input: LeaseIn) -> Result<Acquire, String> {
        let kube = env.kube(&input.at.target).await?;
        let (namespace, resource) = (&input.at.cluster.namespace, &input.at.cluster.resource);
        let outcome = if input.renew {
            lease::renew_lease(&kube, namespace, resource, &input.holder, input.duration).await
        } else {
            lease::acquire_lease(&kube, namespace, resource, &input.holder, input.duration).await
        };
        outcome.map_err(|e| e.to_string())
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
    async fn run(env: Arc<ActivityEnv>, input: LeaseIn) -> Result<bool, String> {
        let kube = env.kube(&input.at.target).await?;
        lease::release_lease(
            &kube,
            &input.at.cluster.namespace,
            &input.at.cluster.resource,
            &input.holder,
        )
        .await
        .map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Settings saga

/// Settings a restart may change (ARCHITECTURE §1.3).
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
    async fn run(env: Arc<ActivityEnv>, at: At) -> Result<Saga, String> {
        let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let reading = client
            .settings()
            .await
            .map_err(|e| format!("cannot read the cluster settings: {e}"))?;
        Ok(saga::record(&reading, SAGA_SETTINGS))
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
    async fn run(env: Arc<ActivityEnv>, input: HoldIn) -> Result<(), String> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let owner = labels::routing_owner_value(jiff::Timestamp::now());
        labels::set_routing_owner(&kube, &cluster.namespace, &input.statefulsets, Some(&owner))
            .await
            .map_err(|e| {
                format!(
                    "cannot label the StatefulSets with {}: {e}",
                    labels::ROUTING_OWNER_LABEL
                )
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
                .map_err(|e| format!("{stmt}: {e}"))?;
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
    async fn run(env: Arc<ActivityEnv>, input: RestoreIn) -> Result<(), String> {
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
            }
        };
        // Through any node that answers: the pod just stopped may still look Ready.
        let mut last = format!("no pod of {} is Ready", cluster.qualified());
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
async fn restore_through(client: &cratectl_cratedb::Client, saga: &Saga) -> Result<(), (String, bool)> {
    let unreachable = |e: &cratectl_cratedb::Error| matches!(e, cratectl_cratedb::Error::Unreachable { .. });
    for stmt in saga::restore_statements(saga) {
        client
            .sql_idempotent(&stmt, &[])
            .await
            .map_err(|e| (format!("{stmt}: {e}"), unreachable(&e)))?;
    }
    let now = client
        .settings()
        .await
        .map_err(|e| (format!("cannot read the settings back: {e}"), unreachable(&e)))?;
    saga::is_restored(saga, &now)
        .map_err(|wrong| (format!("settings not restored: {}", wrong.join("; ")), false))
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
    async fn run(env: Arc<ActivityEnv>, input: LabelsIn) -> Result<(), String> {
        let kube = env.kube(&input.at.target).await?;
        labels::set_routing_owner(&kube, &input.at.cluster.namespace, &input.statefulsets, None)
            .await
            .map_err(|e| format!("cannot remove the {} label: {e}", labels::ROUTING_OWNER_LABEL))
    }
}

// ---------------------------------------------------------------------------------------------
// Pods

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PodIn {
    pub at: At,
    pub pod: String,
}

/// The pod as it is now (its UID is recorded in history before any disruption).
pub struct PodIdentity;
impl Activity for PodIdentity {
    const NAME: &'static str = "pod_identity";
    type In = PodIn;
    type Out = Option<PodState>;
}
impl RunActivity<ActivityEnv> for PodIdentity {
    async fn run(env: Arc<ActivityEnv>, input: PodIn) -> Result<Option<PodState>, String> {
        let kube = env.kube(&input.at.target).await?;
        pods::get_pod(&kube, &input.at.cluster.namespace, &input.pod)
            .await
            .map_err(|e| e.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecommissionIn {
    pub at: At,
    pub pod: String,
    pub min_availability: MinAvailability,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecommissionOut {
    /// The CrateDB node name read from `sys.nodes` (by the pod's hostname).
    pub node: Option<String>,
    /// Whether we issued DECOMMISSION (false: the node was not a member any more).
    pub issued: bool,
    /// The call's id on the worker that sent it ([`ActivityEnv::decommission_sent`]).
    #[serde(default)]
    pub call: Option<String>,
}

/// Our own graceful stop when the pod has no dc_util hook: set
/// `graceful_stop.min_availability` (recorded in the saga beforehand), then
/// `ALTER CLUSTER DECOMMISSION '<node>'` through another pod.
pub struct Decommission;

/// The statement itself may run as long as `graceful_stop.timeout` (2 h by default).
const DECOMMISSION_REQUEST_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// How often a DECOMMISSION that did not reach CrateDB is sent again.
const DECOMMISSION_SENDS: u32 = 2;

/// A broken connection or a timeout is what a node going away looks like.
fn lost_with_the_node(e: &cratectl_cratedb::Error) -> bool {
    matches!(
        e,
        cratectl_cratedb::Error::Unreachable {
            cause: UnreachableKind::Timeout | UnreachableKind::ConnectionLost,
            ..
        }
    )
}

/// Sends `ALTER CLUSTER DECOMMISSION '<node>'` through `client` in the background as call `id`,
/// and records how it ended for [`AwaitNodeLeft`]. CrateDB answers only when the node is about
/// to leave (minutes to hours: cratedb-api.md §3.3), so nothing waits for the answer here; a
/// refusal (a missing privilege, an unknown node) is final, a statement that did not reach
/// CrateDB is sent again [`DECOMMISSION_SENDS`] times.
fn send_decommission(env: &ActivityEnv, client: &cratectl_cratedb::Client, node: &str, id: &str) {
    let stmt = sql::decommission(node);
    let long = client.with_request_timeout(DECOMMISSION_REQUEST_TIMEOUT);
    let call = env.decommission_sent(id);
    tokio::spawn(async move {
        let mut attempt = 0;
        let answer = loop {
            match long.sql(&stmt, &[]).await {
                Ok(_) => break Ok(()),
                Err(e) if lost_with_the_node(&e) => break Ok(()),
                Err(e) if matches!(e.kind(), ErrorKind::Sql(_) | ErrorKind::Unauthorized) => {
                    break Err(e.to_string());
                }
                Err(e) if attempt < DECOMMISSION_SENDS => {
                    attempt += 1;
                    tracing::warn!("{e}; sending it again");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
                Err(e) => break Err(e.to_string()),
            }
        };
        if let Err(why) = &answer {
            tracing::warn!("{why}");
        }
        let _ = call.set(answer);
    });
}

impl Activity for Decommission {
    const NAME: &'static str = "decommission";
    type In = DecommissionIn;
    type Out = DecommissionOut;
}
impl RunActivity<ActivityEnv> for Decommission {
    async fn run(env: Arc<ActivityEnv>, input: DecommissionIn) -> Result<DecommissionOut, String> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, Some(&input.pod)).await?;
        let nodes = client
            .nodes()
            .await
            .map_err(|e| format!("cannot read sys.nodes: {e}"))?;
        let Some(node) = nodes
            .iter()
            .find(|n| n.hostname.as_deref() == Some(input.pod.as_str()))
            .map(|n| n.name.clone())
        else {
            // Already left (a re-run after a crash): nothing to decommission.
            return Ok(DecommissionOut {
                node: None,
                issued: false,
                call: None,
            });
        };
        for stmt in saga::set_statements(
            MIN_AVAILABILITY,
            &Literal::text(input.min_availability.to_string()),
        ) {
            client
                .sql_idempotent(&stmt, &[])
                .await
                .map_err(|e| format!("{stmt}: {e}"))?;
        }
        // DECOMMISSION answers only after CrateDB's own health wait (minutes to hours:
        // cratedb-api.md §3.3), and then the node exits. Whether it left is what matters, and
        // AwaitNodeLeft watches sys.nodes for that. So the statement is sent and left running;
        // its answer is recorded for AwaitNodeLeft, which fails the step on a refusal (a missing
        // privilege, an unknown node) instead of waiting for a departure that will not come.
        let id = env.decommission_id(&node);
        send_decommission(&env, &client, &node, &id);
        Ok(DecommissionOut {
            node: Some(node),
            issued: true,
            call: Some(id),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeWaitIn {
    pub at: At,
    pub pod: String,
    /// The CrateDB node name, when known; else the pod name is matched as hostname.
    pub node: Option<String>,
    pub interval: Duration,
    pub budget: Duration,
    /// Waiting for the node to leave after our DECOMMISSION: the call's id, to fail as soon as
    /// the call did.
    #[serde(default)]
    pub decommission: Option<String>,
}

fn node_present(nodes: &[cratectl_core::readings::NodeReading], input: &NodeWaitIn) -> bool {
    nodes.iter().any(|n| match &input.node {
        Some(name) => &n.name == name,
        None => n.hostname.as_deref() == Some(input.pod.as_str()),
    })
}

async fn await_membership(
    env: &ActivityEnv,
    input: &NodeWaitIn,
    want_present: bool,
) -> Result<Waited<bool>, String> {
    let deadline = tokio::time::Instant::now() + input.budget;
    let mut tick = tokio::time::Instant::now();
    let who = input.node.clone().unwrap_or_else(|| input.pod.clone());
    let mut poller = Poller::new(env, &input.at.target, &input.at.cluster, Some(&input.pod));
    let mut last;
    loop {
        // A node whose DECOMMISSION failed is not going anywhere.
        if !want_present
            && let Some(id) = &input.decommission
            && let Some(why) = env.decommission_failed(id)
        {
            return Err(why);
        }
        let read = match poller.reader().await {
            Ok((_, client)) => client
                .nodes()
                .await
                .map(|nodes| (nodes, client.clone()))
                .map_err(|e| format!("cannot read sys.nodes: {e}")),
            Err(why) => Err(why),
        };
        match read {
            Ok((nodes, client)) => {
                let present = node_present(&nodes, input);
                // Still there, and the DECOMMISSION was sent by a worker that is gone (killed
                // before the statement left it, or the node came back after leaving while no
                // worker watched): send it again, once per worker — as a re-run of the
                // Decommission activity after a crash always did.
                if !want_present
                    && present
                    && let (Some(id), Some(node)) = (&input.decommission, &input.node)
                    && !env.decommission_known(id)
                {
                    tracing::warn!(
                        "node {node} is still a member and its DECOMMISSION was sent by another worker: sending it again"
                    );
                    send_decommission(env, &client, node, id);
                }
                last = format!(
                    "node {who} {} sys.nodes ({} members)",
                    if present { "is in" } else { "is not in" },
                    nodes.len()
                );
                if present == want_present {
                    return Ok(Waited {
                        done: Some(true),
                        last,
                    });
                }
            }
            Err(why) => {
                last = why;
                poller.invalidate();
            }
        }
        if !next_tick(&mut tick, input.interval, deadline).await {
            return Ok(Waited { done: None, last });
        }
    }
}

/// Waits until the decommissioned node has left `sys.nodes` (it really stopped).
pub struct AwaitNodeLeft;
impl Activity for AwaitNodeLeft {
    const NAME: &'static str = "await_node_left";
    type In = NodeWaitIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitNodeLeft {
    async fn run(env: Arc<ActivityEnv>, input: NodeWaitIn) -> Result<Waited<bool>, String> {
        await_membership(&env, &input, false).await
    }
}

/// Waits until the restarted node is a member again.
pub struct AwaitRejoin;
impl Activity for AwaitRejoin {
    const NAME: &'static str = "await_rejoin";
    type In = NodeWaitIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitRejoin {
    async fn run(env: Arc<ActivityEnv>, input: NodeWaitIn) -> Result<Waited<bool>, String> {
        await_membership(&env, &input, true).await
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopIn {
    pub at: At,
    pub pod: String,
    /// Only this incarnation of the pod is stopped (ARCHITECTURE §1.4).
    pub uid: String,
    pub grace: Option<Duration>,
    /// Evict (honouring PodDisruptionBudgets) rather than delete.
    pub evict: bool,
}

/// Evicts or deletes the pod if, and only if, it still has `uid`.
pub struct StopPod;
impl Activity for StopPod {
    const NAME: &'static str = "stop_pod";
    type In = StopIn;
    type Out = StopOutcome;
}
impl RunActivity<ActivityEnv> for StopPod {
    async fn run(env: Arc<ActivityEnv>, input: StopIn) -> Result<StopOutcome, String> {
        let kube = env.kube(&input.at.target).await?;
        let ns = &input.at.cluster.namespace;
        let outcome = if input.evict {
            pods::evict_pod(&kube, ns, &input.pod, &input.uid, input.grace).await
        } else {
            pods::delete_pod(&kube, ns, &input.pod, &input.uid, input.grace).await
        };
        outcome.map_err(|e| e.to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplacedIn {
    pub at: At,
    pub pod: String,
    pub old_uid: String,
    pub budget: Duration,
}

/// Waits (watching) for a pod of that name with a new UID to be Ready.
pub struct AwaitPodReplaced;
impl Activity for AwaitPodReplaced {
    const NAME: &'static str = "await_pod_replaced";
    type In = ReplacedIn;
    type Out = Waited<PodState>;
}
impl RunActivity<ActivityEnv> for AwaitPodReplaced {
    async fn run(env: Arc<ActivityEnv>, input: ReplacedIn) -> Result<Waited<PodState>, String> {
        let kube = env.kube(&input.at.target).await?;
        let result = pods::wait_pod_replaced(
            &kube,
            &input.at.cluster.namespace,
            &input.pod,
            &input.old_uid,
            input.budget,
            |_| {},
        )
        .await;
        match result {
            Ok(state) => Ok(Waited {
                last: format!("pod {} uid {} Ready", state.name, state.uid),
                done: Some(state),
            }),
            Err(WaitError::Timeout { last, .. }) => Ok(Waited { done: None, last }),
            Err(WaitError::Kube(e)) => Err(e.to_string()),
        }
    }
}
