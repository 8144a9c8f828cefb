//! The scale's own activities: the cluster's facts for the plan, the guarded writes (a
//! StatefulSet's replicas, the gateway settings on the command lines, the resource's replicas
//! in operator mode), and the waits: new nodes joined, leaving nodes drained, a removed node
//! gone, the operator's handler finished. Every write checks first, so a re-run is a no-op.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::op::saga;
use cratectl_core::scale::gateway::{self, Totals};
use cratectl_core::scale::plan::{ClusterFacts, GroupFacts};
use cratectl_kube::scale::{self as kscale, ResourceGroup};
use cratectl_kube::{Cluster, discovery};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::activities::membership::{AwaitJoined, AwaitNodeGone, GoneIn, NodesIn};
use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, Poller, cratedb_error, kube_error, next_tick};

/// Registers the scale's activities.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<ReadFacts>()
        .add::<SetReplicas>()
        .add::<PatchGateway>()
        .add::<AwaitDrain>()
        .add::<ExplainDrain>()
        .add::<NodeChecks>()
        .add::<SetResourceReplicas>()
        .add::<AwaitOperator>()
}

// ---------------------------------------------------------------------------------------------
// Facts

/// What the plan is made from, recorded in history (replays see the same plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsOut {
    pub facts: ClusterFacts,
    /// The resource's `metadata.generation`.
    pub generation: Option<i64>,
}

/// Reads everything the plan needs: the resource and its StatefulSets from Kubernetes, the
/// members, tables, settings and shards from CrateDB.
pub async fn read_facts(env: &ActivityEnv, at: &At) -> Result<FactsOut, ActivityError> {
    let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
    let resource = kscale::read_resource(&kube, &cluster.namespace, &cluster.resource)
        .await
        .map_err(|e| kube_error(&e))?;
    let mut groups = Vec::new();
    for g in &resource.groups {
        let sts_name = discovery::statefulset_name(
            &cluster.resource,
            &discovery::NodeGroup {
                name: g.name.clone(),
                master: g.data_index.is_none(),
                replicas: 0,
            },
        );
        let sts = kscale::read_statefulset(&kube, &cluster.namespace, &sts_name)
            .await
            .map_err(|e| kube_error(&e))?
            .ok_or_else(|| {
                ActivityError::permanent(format!(
                    "StatefulSet {}/{sts_name} of group {} does not exist",
                    cluster.namespace, g.name
                ))
            })?;
        groups.push(GroupFacts {
            name: g.name.clone(),
            data_index: g.data_index,
            statefulset: sts_name.clone(),
            resource_replicas: g.replicas,
            replicas: sts.replicas,
            update_strategy: sts.update_strategy.clone(),
            dc_util_disabled: sts.dc_util_disabled,
            command: sts.crate_container.map(|(_, c)| c).unwrap_or_default(),
            node_names: node_hints(&cluster, &sts_name),
        });
    }
    let client = env.client_avoiding(&kube, &cluster, None).await?;
    let nodes = client
        .nodes()
        .await
        .map_err(|e| cratedb_error(&e).context("cannot read sys.nodes"))?;
    let tables = client
        .table_replicas()
        .await
        .map_err(|e| cratedb_error(&e).context("cannot read the tables' number_of_replicas"))?;
    let settings = client
        .settings()
        .await
        .map_err(|e| cratedb_error(&e).context("cannot read the cluster settings"))?;
    let shards = client
        .shard_counts()
        .await
        .map_err(|e| cratedb_error(&e).context("cannot read sys.shards"))?;
    let allocation_enable = match settings.effective.get(saga::ALLOCATION_ENABLE) {
        Some(Value::String(s)) => s.to_lowercase(),
        _ => "all".into(),
    };
    Ok(FactsOut {
        facts: ClusterFacts {
            qualified: cluster.qualified(),
            name: cluster.name.clone(),
            groups,
            operator_managed: resource.operator_managed,
            nodes: nodes.into_iter().map(|n| n.name).collect(),
            tables,
            exclusions: saga::exclusion_list(&settings),
            allocation_enable,
            shards_on: shards.into_iter().collect(),
            operator_busy: resource
                .progress
                .iter()
                .map(|(key, value)| {
                    let handler = key.trim_start_matches("operator.cloud.crate.io/");
                    match value.get("started").and_then(Value::as_str) {
                        Some(started) => format!("{handler} since {started}"),
                        None => handler.to_string(),
                    }
                })
                .collect(),
        },
        generation: resource.generation,
    })
}

/// Node names by ordinal from the pods' `-Cnode.name=` of StatefulSet `sts`.
fn node_hints(cluster: &Cluster, sts: &str) -> BTreeMap<u64, String> {
    cluster
        .pods
        .iter()
        .filter(|p| p.statefulset == sts)
        .filter_map(|p| Some((u64::from(p.ordinal?), p.node_name_hint.clone()?)))
        .collect()
}

pub struct ReadFacts;
impl Activity for ReadFacts {
    const NAME: &'static str = "scale_read_facts";
    type In = At;
    type Out = FactsOut;
}
impl RunActivity<ActivityEnv> for ReadFacts {
    async fn run(env: Arc<ActivityEnv>, at: At) -> Result<FactsOut, ActivityError> {
        read_facts(&env, &at).await
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicasIn {
    pub at: At,
    pub statefulset: String,
    pub from: u64,
    pub to: u64,
}

/// A StatefulSet's `spec.replicas` from `from` to `to` (nothing when already `to`; refused when
/// someone else changed it).
pub struct SetReplicas;
impl Activity for SetReplicas {
    const NAME: &'static str = "scale_set_replicas";
    type In = ReplicasIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for SetReplicas {
    async fn run(env: Arc<ActivityEnv>, input: ReplicasIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        kscale::set_statefulset_replicas(
            &kube,
            &input.at.cluster.namespace,
            &input.statefulset,
            input.from,
            input.to,
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatewayIn {
    pub at: At,
    pub statefulsets: Vec<String>,
    pub totals: Totals,
}

/// The gateway settings on the `crate` container's command line of each StatefulSet, for
/// `totals` (nothing where they already are). Running pods keep theirs until they restart.
pub struct PatchGateway;
impl Activity for PatchGateway {
    const NAME: &'static str = "scale_patch_gateway";
    type In = GatewayIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for PatchGateway {
    async fn run(env: Arc<ActivityEnv>, input: GatewayIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let namespace = &input.at.cluster.namespace;
        for name in &input.statefulsets {
            let Some(sts) = kscale::read_statefulset(&kube, namespace, name)
                .await
                .map_err(|e| kube_error(&e))?
            else {
                continue;
            };
            let Some((_, command)) = sts.crate_container else {
                continue;
            };
            let patched = gateway::patch_command(&command, input.totals);
            kscale::set_crate_command(&kube, namespace, name, &patched)
                .await
                .map_err(|e| kube_error(&e))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceReplicasIn {
    pub at: At,
    pub group: String,
    pub data_index: Option<usize>,
    pub from: u64,
    pub to: u64,
}

/// A group's replicas in the `CrateDB` resource (operator mode), guarded by a `test` of `from`.
pub struct SetResourceReplicas;
impl Activity for SetResourceReplicas {
    const NAME: &'static str = "scale_set_resource_replicas";
    type In = ResourceReplicasIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for SetResourceReplicas {
    async fn run(env: Arc<ActivityEnv>, input: ResourceReplicasIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        kscale::set_resource_replicas(
            &kube,
            &input.at.cluster.namespace,
            &input.at.cluster.resource,
            &ResourceGroup {
                name: input.group.clone(),
                data_index: input.data_index,
                replicas: input.from,
            },
            input.from,
            input.to,
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}

// ---------------------------------------------------------------------------------------------
// Waits

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrainIn {
    pub at: At,
    /// The leaving nodes.
    pub names: Vec<String>,
    /// Done as soon as fewer copies than this are left (progress), or none.
    pub below: u64,
    pub interval: Duration,
    pub budget: Duration,
}

/// Until the leaving nodes hold fewer than `below` shard copies (or none): returns the count.
/// It only reads: the workflow re-asserts the exclusion between waits, so nothing can write it
/// again after a cancel has taken it out (an activity may outlive its cancelled workflow for a
/// moment; a workflow step does not).
pub struct AwaitDrain;
impl Activity for AwaitDrain {
    const NAME: &'static str = "scale_await_drain";
    type In = DrainIn;
    type Out = Waited<u64>;
}
impl RunActivity<ActivityEnv> for AwaitDrain {
    async fn run(env: Arc<ActivityEnv>, input: DrainIn) -> Result<Waited<u64>, ActivityError> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut poller = Poller::new(&env, &input.at.target, &input.at.cluster, None);
        let mut last;
        loop {
            let read = async {
                let (_, client) = poller.reader().await?;
                let counts = client.shard_counts().await.map_err(|e| cratedb_error(&e))?;
                let in_flight = client.in_flight().await.map_err(|e| cratedb_error(&e))?;
                Ok::<_, ActivityError>((counts, in_flight))
            };
            match read.await {
                Ok((counts, in_flight)) => {
                    let per_node: Vec<(String, u64)> = input
                        .names
                        .iter()
                        .map(|n| (n.clone(), counts.get(n).copied().unwrap_or(0)))
                        .collect();
                    let left: u64 = per_node.iter().map(|(_, c)| c).sum();
                    last = format!(
                        "{left} shard copies left on {} ({} relocating, {} initializing)",
                        per_node
                            .iter()
                            .map(|(n, c)| format!("{n}: {c}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        in_flight.relocating,
                        in_flight.initializing
                    );
                    if left == 0 || left < input.below {
                        return Ok(Waited {
                            done: Some(left),
                            last,
                        });
                    }
                }
                Err(why) if !why.is_retryable() => return Err(why),
                Err(why) => {
                    poller.invalidate();
                    last = why.message;
                }
            }
            if !next_tick(&mut tick, input.interval, deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainIn {
    pub at: At,
    pub names: Vec<String>,
}

/// CrateDB's own explanation of why copies stay on the leaving nodes (`sys.allocations`).
pub struct ExplainDrain;
impl Activity for ExplainDrain {
    const NAME: &'static str = "scale_explain_drain";
    type In = ExplainIn;
    type Out = Vec<String>;
}
impl RunActivity<ActivityEnv> for ExplainDrain {
    async fn run(env: Arc<ActivityEnv>, input: ExplainIn) -> Result<Vec<String>, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let nodes = client.nodes().await.map_err(|e| cratedb_error(&e))?;
        let ids: Vec<String> = nodes
            .into_iter()
            .filter(|n| input.names.contains(&n.name))
            .map(|n| n.id)
            .collect();
        client
            .allocation_explanations(&ids)
            .await
            .map_err(|e| cratedb_error(&e).context("cannot read sys.allocations"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorIn {
    pub at: At,
    /// The group whose count was changed, and the count the operator must have handled.
    pub data_index: Option<usize>,
    pub replicas: u64,
    pub interval: Duration,
    pub budget: Duration,
}

/// Until the operator has handled the change (its diff base shows the new count) and its update
/// handler has finished (no `operator.cloud.crate.io/cluster_update*` progress annotation
/// left); an annotation with `"failure": true` fails.
pub struct AwaitOperator;
impl Activity for AwaitOperator {
    const NAME: &'static str = "scale_await_operator";
    type In = OperatorIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitOperator {
    async fn run(env: Arc<ActivityEnv>, input: OperatorIn) -> Result<Waited<bool>, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        loop {
            let facts = kscale::read_resource(&kube, &input.at.cluster.namespace, &input.at.cluster.resource)
                .await
                .map_err(|e| kube_error(&e))?;
            if let Some((key, value)) = facts
                .progress
                .iter()
                .find(|(_, v)| v.get("failure").and_then(Value::as_bool) == Some(true))
            {
                return Err(ActivityError::permanent(format!(
                    "the CrateDB operator's handler {key} failed: {}",
                    value
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no message")
                )));
            }
            let handled = facts.handled_replicas(input.data_index) == Some(input.replicas);
            let last = match facts.progress.first() {
                None if handled => {
                    return Ok(Waited {
                        done: Some(true),
                        last: "the operator's handler finished".into(),
                    });
                }
                None => format!("the operator has not handled {} replicas yet", input.replicas),
                Some((key, value)) => format!(
                    "the operator is running {} (retries {}, {})",
                    key.trim_start_matches("operator.cloud.crate.io/"),
                    value.get("retries").and_then(Value::as_u64).unwrap_or(0),
                    value
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no message")
                ),
            };
            if !next_tick(&mut tick, input.interval, deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node checks

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChecksIn {
    pub at: At,
    /// Acknowledge check 1 where it fails (`--ack-node-checks`).
    pub acknowledge: bool,
}

/// What node check 1 says after the scale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChecksOut {
    /// Nodes whose check 1 fails (before any acknowledgement).
    pub failing: Vec<String>,
    /// Why the checks could not be read (reported as a warning, never a failure).
    pub error: Option<String>,
}

/// The nodes whose node check 1 (`RecoveryExpectedNodesSysCheck`) fails: they run with the old
/// gateway settings until they restart. With `acknowledge`, acknowledged as the operator does.
pub struct NodeChecks;
impl Activity for NodeChecks {
    const NAME: &'static str = "scale_node_checks";
    type In = ChecksIn;
    type Out = ChecksOut;
}
impl RunActivity<ActivityEnv> for NodeChecks {
    async fn run(env: Arc<ActivityEnv>, input: ChecksIn) -> Result<ChecksOut, ActivityError> {
        let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let client = env.client_avoiding(&kube, &cluster, None).await?;
        let failing = match client.failing_node_checks(1).await {
            Ok(mut failing) => {
                failing.sort();
                failing
            }
            Err(e) => {
                return Ok(ChecksOut {
                    failing: Vec::new(),
                    error: Some(format!("cannot read sys.node_checks: {e}")),
                });
            }
        };
        if input.acknowledge && !failing.is_empty() {
            let nodes = client.nodes().await.map_err(|e| cratedb_error(&e))?;
            let ids: Vec<String> = nodes
                .into_iter()
                .filter(|n| failing.contains(&n.name))
                .map(|n| n.id)
                .collect();
            client
                .acknowledge_node_checks(1, &ids)
                .await
                .map_err(|e| cratedb_error(&e).context("cannot acknowledge node check 1"))?;
        }
        Ok(ChecksOut { failing, error: None })
    }
}
