//! The restart's own activities: its plan, and what it does to one pod — the pod's identity,
//! our own decommission, the UID-guarded eviction, and the waits for the node to leave, the new
//! pod to be Ready and the node to rejoin.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::op::saga;
use cratectl_core::restart::plan::{MinAvailability, PlannedPod, PodFacts, plan_pods};
use cratectl_core::sql::{self, Literal};
use cratectl_cratedb::{ErrorKind, UnreachableKind};
use cratectl_kube::pods::{self, PodState, StopOutcome, WaitError};
use serde::{Deserialize, Serialize};

use super::model::RestartOptions;
use crate::activities::common::MIN_AVAILABILITY;
use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, Poller, cratedb_error, kube_error, next_tick};

/// Registers the restart's activities.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<Discover>()
        .add::<PodIdentity>()
        .add::<Decommission>()
        .add::<AwaitNodeLeft>()
        .add::<StopPod>()
        .add::<AwaitPodReplaced>()
        .add::<AwaitRejoin>()
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
    async fn run(env: Arc<ActivityEnv>, input: DiscoverIn) -> Result<ClusterSnapshot, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let discovery_nodes = if input.options.only_on_suspended_nodes {
            cratectl_kube::discover(&kube, Some(&cluster.namespace))
                .await
                .map_err(|e| kube_error(&e))?
                .nodes
        } else {
            Default::default()
        };
        let mut warnings = Vec::new();
        let facts: Vec<PodFacts> = cluster
            .pods
            .iter()
            .map(|pod| {
                let stop = cratectl_core::prestop::stop_by_hook(&pod.prestop);
                if let Some(warning) = stop.warning() {
                    warnings.push(format!("pod {}: {warning}", pod.name));
                }
                let on_suspended_node = pod.node.as_ref().and_then(|n| {
                    discovery_nodes
                        .get(n)
                        .and_then(|facts| cratectl_core::topology::suspended_node_reason(n, facts))
                });
                PodFacts {
                    name: pod.name.clone(),
                    uid: pod.uid.clone(),
                    group: pod.group.clone(),
                    master: cluster.groups.iter().any(|g| g.master && g.name == pod.group),
                    ordinal: pod.ordinal,
                    on_suspended_node,
                    dc_util_timeout: stop.timeout(),
                    termination_grace_period_s: pod.termination_grace_period_s,
                }
            })
            .collect();
        let min_availability = cratectl_core::restart::plan::effective_min_availability(
            input.options.min_availability,
            input.config_min_availability,
        );
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
    async fn run(env: Arc<ActivityEnv>, input: PodIn) -> Result<Option<PodState>, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        pods::get_pod(&kube, &input.at.cluster.namespace, &input.pod)
            .await
            .map_err(|e| kube_error(&e))
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
/// to leave (minutes to hours: up to `cluster.graceful_stop.timeout`, 2 h by default, see
/// <https://cratedb.com/docs/crate/reference/en/latest/sql/statements/alter-cluster.html>), so
/// nothing waits for the answer here; a
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
    async fn run(env: Arc<ActivityEnv>, input: DecommissionIn) -> Result<DecommissionOut, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, Some(&input.pod)).await?;
        let nodes = client
            .nodes()
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read sys.nodes"))?;
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
                .map_err(|e| cratedb_error(&e).context(&stmt))?;
        }
        // DECOMMISSION answers only after CrateDB's own health wait (minutes to hours:
        // up to `cluster.graceful_stop.timeout`, 2 h by default), and then the node exits.
        // Whether it left is what matters, and
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
    /// Waiting for the node to leave after our DECOMMISSION: the pod as it was before the
    /// statement was sent. The node may leave and come back between two polls (the process
    /// exits, the kubelet starts the container again in the same pod); a grown restart count
    /// or a new pod UID tells that it did ([`left_and_back`]).
    #[serde(default)]
    pub before: Option<PodRun>,
}

/// Which run of a pod's CrateDB process: the pod's incarnation and its container's restart
/// count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRun {
    pub uid: String,
    pub restarts: u32,
}

impl From<&PodState> for PodRun {
    fn from(pod: &PodState) -> PodRun {
        PodRun {
            uid: pod.uid.clone(),
            restarts: pod.restarts,
        }
    }
}

/// What a decommissioned node found in `sys.nodes` again has been through since `before`.
enum Back {
    /// Nothing: it has not left yet.
    NotLeft,
    /// It left (the pod was replaced, or its process exited and was started again) and holds
    /// no shard copy now: as good as gone, the pod may be stopped.
    Empty(String),
    /// It left and came back, and holds copies again (a rebalance or a new partition's
    /// primary under the allocation hold): it must be drained again.
    HoldsCopies { now: PodRun, copies: u64, note: String },
}

/// Whether node `node` of pod `input.pod`, present in `sys.nodes`, left and came back since
/// `before`, judged by the pod (Kubernetes' record of the process) and, if it did, by the shard
/// copies it holds now.
async fn left_and_back(
    env: &ActivityEnv,
    input: &NodeWaitIn,
    node: &str,
    before: &PodRun,
    client: &cratectl_cratedb::Client,
) -> Result<Back, String> {
    let kube = env.kube(&input.at.target).await.map_err(|e| e.message)?;
    let pod = pods::get_pod(&kube, &input.at.cluster.namespace, &input.pod)
        .await
        .map_err(|e| e.to_string())?;
    let how = match &pod {
        None => format!("pod {} was deleted", input.pod),
        Some(pod) if pod.uid != before.uid => format!("pod {} was replaced", input.pod),
        Some(pod) if pod.restarts > before.restarts => format!(
            "its process exited and the container of pod {} was started again (restart count {} → {})",
            input.pod, before.restarts, pod.restarts
        ),
        Some(_) => return Ok(Back::NotLeft),
    };
    let copies = client
        .shard_counts()
        .await
        .map_err(|e| format!("cannot read sys.shards: {e}"))?
        .into_iter()
        .find(|(name, _)| name == node)
        .map_or(0, |(_, n)| n);
    let note = format!("node {node} left the cluster and is back in sys.nodes: {how}");
    match pod {
        Some(pod) if copies > 0 => Ok(Back::HoldsCopies {
            now: PodRun::from(&pod),
            copies,
            note,
        }),
        _ => Ok(Back::Empty(format!("{note}; it holds no shard copy"))),
    }
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
) -> Result<Waited<bool>, ActivityError> {
    let deadline = tokio::time::Instant::now() + input.budget;
    let mut tick = tokio::time::Instant::now();
    let who = input.node.clone().unwrap_or_else(|| input.pod.clone());
    let mut poller = Poller::new(env, &input.at.target, &input.at.cluster, Some(&input.pod));
    let mut last;
    // The DECOMMISSION waited for and the pod before it: both move on when the node, back
    // after leaving, has to be drained again.
    let mut call = input.decommission.clone();
    let mut before = input.before.clone();
    loop {
        // A node whose DECOMMISSION failed is not going anywhere.
        if !want_present
            && let Some(id) = &call
            && let Some(why) = env.decommission_failed(id)
        {
            // CrateDB refused it (or it never got through after retries): waiting cannot help.
            return Err(ActivityError::permanent(why));
        }
        let read = match poller.reader().await {
            Ok((_, client)) => client
                .nodes()
                .await
                .map(|nodes| (nodes, client.clone()))
                .map_err(|e| format!("cannot read sys.nodes: {e}")),
            Err(why) => Err(why.message),
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
                    && let (Some(run), Some(node)) = (&before, &input.node)
                {
                    match left_and_back(env, input, node, run, &client).await {
                        Ok(Back::NotLeft) => {}
                        Ok(Back::Empty(note)) => {
                            tracing::info!("{note}");
                            return Ok(Waited {
                                done: Some(true),
                                last: note,
                            });
                        }
                        Ok(Back::HoldsCopies { now, copies, note }) => {
                            tracing::warn!(
                                "{note}; it holds {copies} shard copies again: sending DECOMMISSION again"
                            );
                            let id = env.decommission_id(node);
                            send_decommission(env, &client, node, &id);
                            (call, before) = (Some(id), Some(now));
                            last = format!("{note}, holding {copies} shard copies: decommissioned again");
                            if !next_tick(&mut tick, input.interval, deadline).await {
                                return Ok(Waited { done: None, last });
                            }
                            continue;
                        }
                        Err(why) => {
                            tracing::debug!("cannot tell whether node {node} left and came back: {why}")
                        }
                    }
                }
                if !want_present
                    && present
                    && let (Some(id), Some(node)) = (&call, &input.node)
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
    async fn run(env: Arc<ActivityEnv>, input: NodeWaitIn) -> Result<Waited<bool>, ActivityError> {
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
    async fn run(env: Arc<ActivityEnv>, input: NodeWaitIn) -> Result<Waited<bool>, ActivityError> {
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
    async fn run(env: Arc<ActivityEnv>, input: StopIn) -> Result<StopOutcome, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let ns = &input.at.cluster.namespace;
        let outcome = if input.evict {
            pods::evict_pod(&kube, ns, &input.pod, &input.uid, input.grace).await
        } else {
            pods::delete_pod(&kube, ns, &input.pod, &input.uid, input.grace).await
        };
        outcome.map_err(|e| kube_error(&e))
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
    async fn run(env: Arc<ActivityEnv>, input: ReplacedIn) -> Result<Waited<PodState>, ActivityError> {
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
            Err(WaitError::Kube(e)) => Err(kube_error(&e)),
        }
    }
}
