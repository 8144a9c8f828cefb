//! The suspend's and resume's own activities: the facts from Kubernetes alone (a suspended
//! cluster has no CrateDB to ask), the record, the backup CronJobs and Deployments stopped, the
//! resource's data counts in one patch (operator mode), and the waits: every pod gone, a
//! StatefulSet's pods Ready, every primary active. The StatefulSets' replicas are written with
//! the scale's guarded [`SetReplicas`], nodes are awaited with [`AwaitJoined`], and the
//! operator is followed with [`AwaitOperator`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::suspend::plan::{GroupFacts, SuspendFacts};
use cratectl_core::suspend::record::SuspendRecord;
use cratectl_kube::restore::{deployment_replicas, grand_central_deployment, set_deployment_replicas};
use cratectl_kube::scale as kscale;
use cratectl_kube::suspend::{
    backup_cronjobs, backup_metrics_deployment, claim_names, claim_ordinals, client_service_name,
    delete_service, read_service, recreate_service, set_cronjob_suspended, set_data_replicas, write_record,
};
use cratectl_kube::{Cluster, discovery};
use serde::{Deserialize, Serialize};

pub use crate::activities::membership::{AwaitJoined, NodesIn};
use crate::activities::{At, Waited};
use crate::engine::{Activity, ActivityError, ActivitySink, RunActivity};
use crate::env::{ActivityEnv, cratedb_error, kube_error, next_tick};
pub use crate::ops::scale::activities::{AwaitOperator, OperatorIn, ReplicasIn, SetReplicas};

/// Registers the activities only these operations have.
pub fn register<S: ActivitySink<ActivityEnv>>(sink: S) -> S {
    sink.add::<ReadSuspendFacts>()
        .add::<WriteRecord>()
        .add::<StopAuxiliaries>()
        .add::<SetDataReplicas>()
        .add::<AwaitPodsGone>()
        .add::<AwaitPodsReady>()
        .add::<AwaitPrimaries>()
        .add::<DeleteClientService>()
        .add::<RecreateClientService>()
}

// ---------------------------------------------------------------------------------------------
// Facts

/// What the plan and the record are made from, recorded in history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsOut {
    pub facts: SuspendFacts,
    /// Backup CronJobs that are not suspended.
    pub cronjobs_running: Vec<String>,
    /// grand-central and backup-metrics Deployments with replicas, by name.
    pub deployments_running: BTreeMap<String, i32>,
}

/// Reads the facts: the resource (counts, operator markers, record), the StatefulSets and
/// their pods, the data volume claims, the backup CronJobs and the Deployments.
pub async fn read_facts(env: &ActivityEnv, at: &At) -> Result<FactsOut, ActivityError> {
    let (kube, cluster) = env.cluster(&at.target, &at.cluster).await?;
    let ns = &cluster.namespace;
    let resource = kscale::read_resource(&kube, ns, &cluster.resource)
        .await
        .map_err(|e| kube_error(&e))?;
    let claims = claim_names(&kube, ns).await;
    let groups = resource
        .groups
        .iter()
        .map(|g| {
            let statefulset = discovery::statefulset_name(
                &cluster.resource,
                &discovery::NodeGroup {
                    name: g.name.clone(),
                    master: g.data_index.is_none(),
                    replicas: 0,
                },
            );
            group_facts(&cluster, &claims, g, statefulset)
        })
        .collect();
    let record = match &cluster.suspend_record {
        Some(text) => {
            Some(SuspendRecord::parse(text, &cluster.qualified()).map_err(ActivityError::permanent)?)
        }
        None => None,
    };
    let cronjobs_running = backup_cronjobs(&kube, ns, &cluster.resource)
        .await
        .map_err(|e| kube_error(&e))?
        .into_iter()
        .filter(|(_, suspended)| !suspended)
        .map(|(name, _)| name)
        .collect();
    let mut deployments_running = BTreeMap::new();
    for name in [
        grand_central_deployment(&cluster.resource),
        backup_metrics_deployment(&cluster.resource),
    ] {
        if let Some(replicas) = deployment_replicas(&kube, ns, &name)
            .await
            .map_err(|e| kube_error(&e))?
            .filter(|r| *r > 0)
        {
            deployments_running.insert(name, replicas);
        }
    }
    Ok(FactsOut {
        facts: SuspendFacts {
            qualified: cluster.qualified(),
            name: cluster.name.clone(),
            groups,
            operator_managed: resource.operator_managed,
            record,
        },
        cronjobs_running,
        deployments_running,
    })
}

fn group_facts(
    cluster: &Cluster,
    claims: &[String],
    group: &kscale::ResourceGroup,
    statefulset: String,
) -> GroupFacts {
    let replicas = cluster
        .statefulsets
        .iter()
        .find(|s| s.name == statefulset)
        .map_or(0, |s| u64::from(s.replicas));
    GroupFacts {
        name: group.name.clone(),
        data_index: group.data_index,
        replicas,
        resource_replicas: group.replicas,
        pods: cluster
            .pods
            .iter()
            .filter(|p| p.statefulset == statefulset)
            .count() as u64,
        claims: claim_ordinals(claims, &statefulset),
        statefulset,
    }
}

pub struct ReadSuspendFacts;
impl Activity for ReadSuspendFacts {
    const NAME: &'static str = "suspend_read_facts";
    type In = At;
    type Out = FactsOut;
}
impl RunActivity<ActivityEnv> for ReadSuspendFacts {
    async fn run(env: Arc<ActivityEnv>, at: At) -> Result<FactsOut, ActivityError> {
        read_facts(&env, &at).await
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordIn {
    pub at: At,
    pub record: SuspendRecord,
}

/// Writes the suspend record on the resource (nothing when it is there; another operation's
/// record is never overwritten).
pub struct WriteRecord;
impl Activity for WriteRecord {
    const NAME: &'static str = "suspend_write_record";
    type In = RecordIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for WriteRecord {
    async fn run(env: Arc<ActivityEnv>, input: RecordIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        write_record(
            &kube,
            &input.at.cluster.namespace,
            &input.at.cluster.resource,
            &input.record.to_annotation(),
            &input.record.workflow_id,
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}

/// Suspends the record's backup CronJobs and scales its Deployments to 0 (each a no-op when
/// done already).
pub struct StopAuxiliaries;
impl Activity for StopAuxiliaries {
    const NAME: &'static str = "suspend_stop_auxiliaries";
    type In = RecordIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for StopAuxiliaries {
    async fn run(env: Arc<ActivityEnv>, input: RecordIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let ns = &input.at.cluster.namespace;
        for name in &input.record.cronjobs {
            set_cronjob_suspended(&kube, ns, name, true)
                .await
                .map_err(|e| kube_error(&e))?;
        }
        for name in input.record.deployments.keys() {
            set_deployment_replicas(&kube, ns, name, 0)
                .await
                .map_err(|e| kube_error(&e))?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataReplicasIn {
    pub at: At,
    /// `(data index, from, to)` for every data group.
    pub changes: Vec<(usize, u64, u64)>,
}

/// Operator mode: every data group's count in the resource in one guarded patch.
pub struct SetDataReplicas;
impl Activity for SetDataReplicas {
    const NAME: &'static str = "suspend_set_data_replicas";
    type In = DataReplicasIn;
    type Out = ();
}
impl RunActivity<ActivityEnv> for SetDataReplicas {
    async fn run(env: Arc<ActivityEnv>, input: DataReplicasIn) -> Result<(), ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        set_data_replicas(
            &kube,
            &input.at.cluster.namespace,
            &input.at.cluster.resource,
            &input.changes,
        )
        .await
        .map_err(|e| kube_error(&e))
    }
}

/// `--delete-client-service`: the client Service `crate-<resource>` saved in the record (the
/// record written again, same workflow), then deleted. Answers whether a Service was deleted; a
/// re-run after the delete finds none and leaves the record as it is.
pub struct DeleteClientService;
impl Activity for DeleteClientService {
    const NAME: &'static str = "suspend_delete_client_service";
    type In = RecordIn;
    type Out = bool;
}
impl RunActivity<ActivityEnv> for DeleteClientService {
    async fn run(env: Arc<ActivityEnv>, input: RecordIn) -> Result<bool, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        let ns = &input.at.cluster.namespace;
        let name = client_service_name(&input.at.cluster.resource);
        let Some(service) = read_service(&kube, ns, &name).await.map_err(|e| kube_error(&e))? else {
            return Ok(false);
        };
        let mut record = input.record.clone();
        record.client_service = Some(service);
        write_record(
            &kube,
            ns,
            &input.at.cluster.resource,
            &record.to_annotation(),
            &record.workflow_id,
        )
        .await
        .map_err(|e| kube_error(&e))?;
        delete_service(&kube, ns, &name)
            .await
            .map_err(|e| kube_error(&e))?;
        Ok(true)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceIn {
    pub at: At,
    /// The Service as the record saved it.
    pub service: serde_json::Value,
}

/// The client Service back from the record, unless one of its name exists. Answers whether it
/// created it.
pub struct RecreateClientService;
impl Activity for RecreateClientService {
    const NAME: &'static str = "resume_recreate_client_service";
    type In = ServiceIn;
    type Out = bool;
}
impl RunActivity<ActivityEnv> for RecreateClientService {
    async fn run(env: Arc<ActivityEnv>, input: ServiceIn) -> Result<bool, ActivityError> {
        let kube = env.kube(&input.at.target).await?;
        recreate_service(&kube, &input.at.cluster.namespace, &input.service)
            .await
            .map_err(|e| kube_error(&e))
    }
}

// ---------------------------------------------------------------------------------------------
// Waits

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PodsIn {
    pub at: At,
    pub statefulsets: Vec<String>,
    /// For [`AwaitPodsReady`]: how many Ready pods each StatefulSet must have.
    #[serde(default)]
    pub count: u64,
    pub interval: Duration,
    pub budget: Duration,
}

/// Until no pod of `statefulsets` exists.
pub struct AwaitPodsGone;
impl Activity for AwaitPodsGone {
    const NAME: &'static str = "suspend_await_pods_gone";
    type In = PodsIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitPodsGone {
    async fn run(env: Arc<ActivityEnv>, input: PodsIn) -> Result<Waited<bool>, ActivityError> {
        poll_pods(&env, &input, |cluster| {
            let left: Vec<&str> = cluster
                .pods
                .iter()
                .filter(|p| input.statefulsets.contains(&p.statefulset))
                .map(|p| p.name.as_str())
                .collect();
            if left.is_empty() {
                Ok(format!("no pod of {} left", input.statefulsets.join(", ")))
            } else {
                Err(format!("pods left: {}", left.join(", ")))
            }
        })
        .await
    }
}

/// Until each of `statefulsets` has `count` Ready pods.
pub struct AwaitPodsReady;
impl Activity for AwaitPodsReady {
    const NAME: &'static str = "suspend_await_pods_ready";
    type In = PodsIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitPodsReady {
    async fn run(env: Arc<ActivityEnv>, input: PodsIn) -> Result<Waited<bool>, ActivityError> {
        poll_pods(&env, &input, |cluster| {
            let short: Vec<String> = input
                .statefulsets
                .iter()
                .filter_map(|sts| {
                    let ready = cluster
                        .pods
                        .iter()
                        .filter(|p| &p.statefulset == sts && p.ready && !p.terminating)
                        .count() as u64;
                    (ready < input.count).then(|| format!("{sts}: {ready}/{} Ready", input.count))
                })
                .collect();
            if short.is_empty() {
                Ok(format!(
                    "{} Ready pod(s) of {}",
                    input.count,
                    input.statefulsets.join(", ")
                ))
            } else {
                Err(short.join(", "))
            }
        })
        .await
    }
}

/// Polls the cluster's pods until `judge` says done (with what it saw), within the budget.
async fn poll_pods(
    env: &ActivityEnv,
    input: &PodsIn,
    judge: impl Fn(&Cluster) -> Result<String, String>,
) -> Result<Waited<bool>, ActivityError> {
    let deadline = tokio::time::Instant::now() + input.budget;
    let mut tick = tokio::time::Instant::now();
    loop {
        let (_, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
        let last = match judge(&cluster) {
            Ok(seen) => {
                return Ok(Waited {
                    done: Some(true),
                    last: seen,
                });
            }
            Err(last) => last,
        };
        if !next_tick(&mut tick, input.interval, deadline).await {
            return Ok(Waited { done: None, last });
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrimariesIn {
    pub at: At,
    pub interval: Duration,
    pub budget: Duration,
}

/// Until every primary is active (`sys.shards`); a cluster that cannot be read yet (nodes still
/// starting) is waited for, not failed.
pub struct AwaitPrimaries;
impl Activity for AwaitPrimaries {
    const NAME: &'static str = "resume_await_primaries";
    type In = PrimariesIn;
    type Out = Waited<bool>;
}
impl RunActivity<ActivityEnv> for AwaitPrimaries {
    async fn run(env: Arc<ActivityEnv>, input: PrimariesIn) -> Result<Waited<bool>, ActivityError> {
        let deadline = tokio::time::Instant::now() + input.budget;
        let mut tick = tokio::time::Instant::now();
        loop {
            let (kube, cluster) = env.cluster(&input.at.target, &input.at.cluster).await?;
            let last = match env.client_avoiding(&kube, &cluster, None).await {
                Err(e) => format!("cannot read yet: {}", e.message),
                Ok(client) => match client.inactive_primaries().await {
                    Ok(0) => {
                        return Ok(Waited {
                            done: Some(true),
                            last: "every primary active".into(),
                        });
                    }
                    Ok(n) => format!("{n} primaries not active yet"),
                    Err(e) => format!("cannot read sys.shards yet: {}", cratedb_error(&e).message),
                },
            };
            if !next_tick(&mut tick, input.interval, deadline).await {
                return Ok(Waited { done: None, last });
            }
        }
    }
}
