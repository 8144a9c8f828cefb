//! Nodes joining and leaving a cluster, as CrateDB (`sys.nodes`, the elected master) and
//! Kubernetes (the pod) show it: what a scale waits for after changing a StatefulSet, and what
//! cleanup waits for before lifting the exclusion of a node that is departing.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, Poller, cratedb_error, kube_error, next_tick};

/// Registers these activities.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<AwaitJoined>().add::<AwaitNodeGone>()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodesIn {
    pub at: At,
    /// CrateDB node names.
    pub names: Vec<String>,
    /// Never read through this pod (a leaving node's).
    pub avoid: Option<String>,
    pub interval: Duration,
    pub budget: Duration,
}

/// Until every node of `names` is a member of the cluster (`sys.nodes`) and a master is
/// elected.
pub struct AwaitJoined;
impl Activity for AwaitJoined {
    const NAME: &'static str = "scale_await_joined";
    type In = NodesIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitJoined {
    async fn run(env: Arc<ActivityEnv>, input: NodesIn) -> Result<Waited<bool>, ActivityError> {
        poll_members(&env, &input, |members, master| {
            let missing: Vec<&String> = input.names.iter().filter(|n| !members.contains(n)).collect();
            if missing.is_empty() && master {
                Ok(None)
            } else if missing.is_empty() {
                Err("every new node joined; no master elected".to_string())
            } else {
                Err(format!(
                    "not yet in sys.nodes: {}",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ))
            }
        })
        .await
    }
}

/// Polls `sys.nodes` and the master until `judge` says done (`Ok`), within the budget; `judge`
/// describes what is still missing otherwise. (Waits answer `Some(true)` when done: a
/// `Some(())` would be recorded as `null`, which reads back as not done.)
pub async fn poll_members(
    env: &ActivityEnv,
    input: &NodesIn,
    judge: impl Fn(&[String], bool) -> Result<Option<String>, String>,
) -> Result<Waited<bool>, ActivityError> {
    let deadline = tokio::time::Instant::now() + input.budget;
    let mut tick = tokio::time::Instant::now();
    let mut poller = Poller::new(env, &input.at.target, &input.at.cluster, input.avoid.as_deref());
    let mut last;
    loop {
        let read = async {
            let (_, client) = poller.reader().await?;
            let nodes = client.nodes().await.map_err(|e| cratedb_error(&e))?;
            let master = client.master_node().await.map_err(|e| cratedb_error(&e))?;
            Ok::<_, ActivityError>((
                nodes.into_iter().map(|n| n.name).collect::<Vec<_>>(),
                master.is_some(),
            ))
        };
        match read.await {
            Ok((members, master)) => match judge(&members, master) {
                Ok(_) => {
                    return Ok(Waited {
                        done: Some(true),
                        last: format!("{} members", members.len()),
                    });
                }
                Err(why) => last = why,
            },
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoneIn {
    pub at: At,
    pub pod: String,
    pub node: String,
    pub interval: Duration,
    pub budget: Duration,
    /// `(StatefulSet, ordinal)`: also done when the StatefulSet still wants the pod
    /// (`spec.replicas` above its ordinal), i.e. it is not leaving (cleanup after a decrease that
    /// never happened).
    #[serde(default)]
    pub or_still_wanted: Option<(String, u64)>,
}

/// Until pod `pod` no longer exists, node `node` has left `sys.nodes`, and a master is
/// elected.
pub struct AwaitNodeGone;
impl Activity for AwaitNodeGone {
    const NAME: &'static str = "scale_await_node_gone";
    type In = GoneIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitNodeGone {
    async fn run(env: Arc<ActivityEnv>, input: GoneIn) -> Result<Waited<bool>, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        let mut last;
        loop {
            if let Some((sts, ordinal)) = &input.or_still_wanted
                && let Some(facts) =
                    cratectl_kube::scale::read_statefulset(&kube, &input.at.cluster.namespace, sts)
                        .await
                        .map_err(|e| kube_error(&e))?
                && facts.replicas > *ordinal
            {
                return Ok(Waited {
                    done: Some(true),
                    last: format!("pod {} is still wanted by StatefulSet {sts}", input.pod),
                });
            }
            let pod = cratectl_kube::pods::get_pod(&kube, &input.at.cluster.namespace, &input.pod)
                .await
                .map_err(|e| kube_error(&e))?;
            if let Some(pod) = pod {
                last = format!(
                    "pod {} still exists ({}{})",
                    input.pod,
                    pod.phase,
                    if pod.terminating { ", terminating" } else { "" }
                );
            } else {
                let nodes_in = NodesIn {
                    at: input.at.clone(),
                    names: vec![input.node.clone()],
                    avoid: Some(input.pod.clone()),
                    interval: input.interval,
                    budget: Duration::ZERO,
                };
                let (node, pod) = (input.node.clone(), input.pod.clone());
                let seen = poll_members(&env, &nodes_in, |members, master| {
                    if members.contains(&node) {
                        Err(format!("pod {pod} is gone; node {node} is still in sys.nodes"))
                    } else if !master {
                        Err(format!("node {node} left; no master elected"))
                    } else {
                        Ok(None)
                    }
                })
                .await?;
                if seen.done.is_some() {
                    return Ok(Waited {
                        done: Some(true),
                        last: format!("node {} left", input.node),
                    });
                }
                last = seen.last;
            }
            if !next_tick(&mut tick, input.interval, deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}
