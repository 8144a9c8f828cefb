//! Finding CrateDB clusters and what runs them: the `CrateDB` resources, their StatefulSets by the
//! operator's names (or owner reference; failing both, the older names the Python rolling-restart
//! tool tried, such as `crate-<name>`: `rr/activities.py:_process_crd_item` in
//! WalBeh/crate-rolling-restart), their pods by owner reference, the Kubernetes nodes those pods
//! run on, and the Lease cratectl uses as the per-cluster operation lock.
//!
//! One discovery is a handful of list calls (resources, StatefulSets, pods, Leases, nodes),
//! issued concurrently and joined in memory, so listing 50 clusters costs the same round trips
//! as listing one. Only reads happen here.

use std::collections::{BTreeMap, HashMap};

use cratectl_core::prestop::PreStopHook;
use cratectl_core::topology::{
    NodeFacts, PodReadiness, expected_node_names, fallback_statefulset_names, reading_pod,
};
use futures::future::join;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use kube::api::{Api, ListParams, ObjectList};
use kube::{Resource, ResourceExt};
use serde::Serialize;

use crate::config::Kube;
use crate::crd::CrateDB;
use crate::error::KubeError;
use crate::lease::{LeaseInfo, lease_info, lease_name};

/// The label every object the CrateDB operator creates for a cluster carries.
const COMPONENT_SELECTOR: &str = "app.kubernetes.io/component=cratedb";
/// The label on pods and StatefulSets naming the node group.
const NODE_GROUP_LABEL: &str = "cloud.crate.io/node-name";
/// The operator's routing-allocation ownership label (crate-operator's
/// `operations.py:ROUTING_OWNER_LABEL`;
/// docs/crate-operator-behaviour.md#routing-allocation-ownership).
pub const ROUTING_OWNER_LABEL: &str = "dc-util-routing-owner";

/// One node group as the resource declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeGroup {
    /// `master`, or the data group's name.
    pub name: String,
    pub master: bool,
    /// Replicas the resource asks for.
    pub replicas: u32,
}

/// A StatefulSet of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatefulSetInfo {
    pub name: String,
    /// The node group (`master`, `hot`), from the operator's label or the name.
    pub group: String,
    /// `spec.replicas`.
    pub replicas: u32,
    /// `status.readyReplicas`.
    pub ready_replicas: u32,
    /// The value of the `dc-util-routing-owner` label, if set.
    pub routing_owner: Option<String>,
}

/// A pod of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodInfo {
    pub name: String,
    pub uid: String,
    /// The StatefulSet it belongs to.
    pub statefulset: String,
    pub group: String,
    pub ordinal: Option<u32>,
    /// The Kubernetes node it runs on.
    pub node: Option<String>,
    /// `status.phase` (`Pending`, `Running` …).
    pub phase: String,
    /// The Ready condition.
    pub ready: bool,
    /// Container restarts of the `crate` container.
    pub restarts: u32,
    /// Has a deletionTimestamp.
    pub terminating: bool,
    pub prestop: PreStopHook,
    /// `terminationGracePeriodSeconds` (Kubernetes' default is 30).
    pub termination_grace_period_s: i64,
    /// The `-Cnode.name=` of the crate command line, if any (a hint: sys.nodes is the truth).
    pub node_name_hint: Option<String>,
    /// The value of the `dc-util-routing-owner` label, if set.
    pub routing_owner: Option<String>,
}

/// A CrateDB cluster on Kubernetes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cluster {
    /// The resource's `metadata.name`.
    pub resource: String,
    /// The CrateDB cluster name (`spec.cluster.name`, else the resource name).
    pub name: String,
    pub namespace: String,
    /// `spec.cluster.version`.
    pub version: Option<String>,
    /// Master group first (if any), then the data groups in the resource's order.
    pub groups: Vec<NodeGroup>,
    pub statefulsets: Vec<StatefulSetInfo>,
    /// Ordered as the groups, then by ordinal.
    pub pods: Vec<PodInfo>,
    /// `status.crateDBStatus.health` as the operator last wrote it.
    pub operator_health: Option<String>,
    /// The cluster's operation lock, when it exists.
    pub lease: Option<LeaseInfo>,
    /// The resource's `dc-util-routing-owner` label, if set.
    pub routing_owner: Option<String>,
    /// The CrateDB operator's handlers in progress (`operator.cloud.crate.io/<handler>`
    /// progress annotations, not `last`).
    pub operator_handlers: Vec<cratectl_core::busy::OperatorHandler>,
    /// `spec.cluster.restoreSnapshot.snapshot`, when non-empty: a restore the operator runs.
    pub operator_restore: Option<String>,
    /// `status.pendingPods`: pods the operator has queued for a restart.
    pub pending_pods: usize,
    /// The suspend record (annotation `cratectl.io/suspended`), as written.
    pub suspend_record: Option<String>,
}

impl Cluster {
    /// What Kubernetes shows of other operations on the cluster, for
    /// [`cratectl_core::busy::assess`] (CrateDB's own readings are added by who reads them).
    pub fn busy_evidence(&self, now: jiff::Timestamp) -> cratectl_core::busy::Evidence {
        cratectl_core::busy::Evidence {
            cluster: self.qualified(),
            now: Some(now),
            lease_holder: self.lease_holder(now),
            handlers: self.operator_handlers.clone(),
            operator_restore: self.operator_restore.clone(),
            pending_pods: self.pending_pods,
            routing_owners: self
                .statefulsets
                .iter()
                .filter_map(|s| s.routing_owner.clone().map(|v| (s.name.clone(), v)))
                .collect(),
            statefulsets_converging: self
                .statefulsets
                .iter()
                .filter(|s| s.ready_replicas < s.replicas)
                .map(|s| format!("{} ({}/{} ready)", s.name, s.ready_replicas, s.replicas))
                .collect(),
            pods_terminating: self
                .pods
                .iter()
                .filter(|p| p.terminating)
                .map(|p| p.name.clone())
                .collect(),
            suspended: self.suspended() || self.suspend_record.is_some(),
            ..Default::default()
        }
    }

    /// CrateDB nodes the cluster should have: the StatefulSets' replicas, else the resource's.
    pub fn desired_nodes(&self) -> u32 {
        if self.statefulsets.is_empty() {
            self.groups.iter().map(|g| g.replicas).sum()
        } else {
            self.statefulsets.iter().map(|s| s.replicas).sum()
        }
    }

    /// Pods that are Ready and not terminating.
    pub fn ready_pods(&self) -> impl Iterator<Item = &PodInfo> {
        self.pods.iter().filter(|p| p.ready && !p.terminating)
    }

    /// Suspended: every data group at 0 replicas (the operator's definition).
    pub fn suspended(&self) -> bool {
        let data: Vec<u32> = self
            .statefulsets
            .iter()
            .filter(|s| s.group != "master")
            .map(|s| s.replicas)
            .collect();
        if data.is_empty() {
            self.groups.iter().filter(|g| !g.master).all(|g| g.replicas == 0)
        } else {
            data.iter().all(|r| *r == 0)
        }
    }

    /// "namespace/name", for messages.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The pod to read the cluster through: the first Ready pod other than `avoid`, else an
    /// error naming the pods (`cratectl_core::topology::reading_pod`).
    pub fn reading_pod(&self, avoid: Option<&str>) -> Result<&PodInfo, String> {
        let pods: Vec<PodReadiness<'_>> = self
            .pods
            .iter()
            .map(|p| PodReadiness {
                name: &p.name,
                ready: p.ready,
                terminating: p.terminating,
                phase: &p.phase,
            })
            .collect();
        let index = reading_pod(&self.qualified(), &pods, avoid)?;
        self.pods
            .get(index)
            .ok_or_else(|| format!("no pod of {} to read through", self.qualified()))
    }

    /// The CrateDB node names the pods' command lines declare, when every pod declares one
    /// (`cratectl_core::topology::expected_node_names`).
    pub fn expected_node_names(&self) -> Vec<String> {
        let hints: Vec<Option<&str>> = self.pods.iter().map(|p| p.node_name_hint.as_deref()).collect();
        expected_node_names(&hints, self.desired_nodes())
    }

    /// The operation holding the cluster's Lease at `now`, if it is held
    /// (`cratectl_core::doctor::LeaseReading::holder_at`).
    pub fn lease_holder(&self, now: jiff::Timestamp) -> Option<String> {
        self.lease.as_ref().and_then(|l| l.holder_at(now))
    }
}

/// Everything one discovery found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    pub clusters: Vec<Cluster>,
    /// Kubernetes nodes by name; empty with `nodes_readable = false` when RBAC forbids listing.
    pub nodes: BTreeMap<String, NodeFacts>,
    pub nodes_readable: bool,
}

impl Discovery {
    /// Clusters whose cluster name or resource name is `name`.
    pub fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Cluster> + 'a {
        self.clusters
            .iter()
            .filter(move |c| c.name == name || c.resource == name)
    }
}

fn list_params(selector: Option<&str>) -> ListParams {
    match selector {
        Some(s) => ListParams::default().labels(s),
        None => ListParams::default(),
    }
}

fn scoped<K>(kube: &Kube, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(kube.client.clone(), ns),
        None => Api::all(kube.client.clone()),
    }
}

fn scope_text(namespace: Option<&str>) -> String {
    namespace.map_or_else(|| "all namespaces".to_string(), |ns| format!("namespace {ns}"))
}

/// Discovers the CrateDB clusters in `namespace` (all namespaces when `None`).
pub async fn discover(kube: &Kube, namespace: Option<&str>) -> Result<Discovery, KubeError> {
    let scope = scope_text(namespace);
    let resources: Api<CrateDB> = scoped(kube, namespace);
    let statefulsets: Api<StatefulSet> = scoped(kube, namespace);
    let pods: Api<Pod> = scoped(kube, namespace);
    let leases: Api<Lease> = scoped(kube, namespace);
    let nodes: Api<Node> = Api::all(kube.client.clone());

    let lease_selector = format!("app.kubernetes.io/managed-by={}", crate::lease::MANAGER);
    let ((crs, sets), ((pod_list, lease_list), node_list)) = join(
        join(
            resources.list(&ListParams::default()),
            statefulsets.list(&list_params(Some(COMPONENT_SELECTOR))),
        ),
        join(
            join(
                pods.list(&list_params(Some(COMPONENT_SELECTOR))),
                leases.list(&list_params(Some(&lease_selector))),
            ),
            nodes.list(&ListParams::default()),
        ),
    )
    .await;

    let crs = crs.map_err(|e| {
        let error = KubeError::api(format!("listing CrateDB resources in {scope}"), &kube.context, e);
        if error.is_not_found() {
            KubeError::Unexpected {
                what: format!("listing CrateDB resources in {scope} ({})", kube.context),
                reason:
                    "the API server does not know cratedbs.cloud.crate.io: is the CrateDB operator installed?"
                        .into(),
            }
        } else {
            error
        }
    })?;
    let sets =
        sets.map_err(|e| KubeError::api(format!("listing StatefulSets in {scope}"), &kube.context, e))?;
    let pod_list =
        pod_list.map_err(|e| KubeError::api(format!("listing pods in {scope}"), &kube.context, e))?;
    // Leases and nodes are context: without the right to read them, discovery still works.
    let lease_list = lease_list.ok();
    let (nodes, nodes_readable) = match node_list {
        Ok(list) => (node_infos(list), true),
        Err(e) => {
            tracing::debug!(error = %e, "cannot list Kubernetes nodes; node conditions unknown");
            (BTreeMap::new(), false)
        }
    };

    let leases_by_key: HashMap<(String, String), &Lease> = lease_list
        .as_ref()
        .map(|list| {
            list.items
                .iter()
                .map(|l| ((l.namespace().unwrap_or_default(), l.name_any()), l))
                .collect()
        })
        .unwrap_or_default();

    let mut clusters = Vec::new();
    for cr in &crs.items {
        let mut cluster = assemble(cr, &sets, &pod_list, &leases_by_key, None);
        if cluster.statefulsets.is_empty() {
            // Not created by the operator as we know it: the names the Python tool tried.
            if let Some(found) = fallback(kube, cr, &cluster, &leases_by_key).await? {
                cluster = found;
            }
        }
        clusters.push(cluster);
    }
    clusters.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(Discovery {
        clusters,
        nodes,
        nodes_readable,
    })
}

fn node_infos(list: ObjectList<Node>) -> BTreeMap<String, NodeFacts> {
    list.items
        .into_iter()
        .map(|node| {
            let name = node.name_any();
            let spec = node.spec.unwrap_or_default();
            let taint_keys = spec
                .taints
                .unwrap_or_default()
                .into_iter()
                .map(|t| t.key)
                .collect();
            let facts = NodeFacts {
                unschedulable: spec.unschedulable.unwrap_or(false),
                taint_keys,
                annotations: node.metadata.annotations.unwrap_or_default(),
            };
            (name, facts)
        })
        .collect()
}

/// The operator's StatefulSet name for `group` of resource `resource`.
pub fn statefulset_name(resource: &str, group: &NodeGroup) -> String {
    if group.master {
        format!("crate-master-{resource}")
    } else {
        format!("crate-data-{}-{resource}", group.name)
    }
}

/// For a resource whose StatefulSets are not where the operator puts them: the first of the
/// fallback names (`cratectl_core::topology::fallback_statefulset_names`) that exists, with the
/// pods it owns. Only this rare path costs extra calls.
async fn fallback(
    kube: &Kube,
    cr: &CrateDB,
    cluster: &Cluster,
    leases: &HashMap<(String, String), &Lease>,
) -> Result<Option<Cluster>, KubeError> {
    let namespace = &cluster.namespace;
    let sets: Api<StatefulSet> = Api::namespaced(kube.client.clone(), namespace);
    for name in fallback_statefulset_names(&cluster.resource, &cluster.name) {
        let what = format!("reading StatefulSet {namespace}/{name}");
        let Some(set) = sets
            .get_opt(&name)
            .await
            .map_err(|e| KubeError::api(what, &kube.context, e))?
        else {
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(kube.client.clone(), namespace);
        let pod_list = pods.list(&ListParams::default()).await.map_err(|e| {
            KubeError::api(format!("listing pods in namespace {namespace}"), &kube.context, e)
        })?;
        let set_list = ObjectList {
            types: Default::default(),
            metadata: Default::default(),
            items: vec![set],
        };
        return Ok(Some(assemble(cr, &set_list, &pod_list, leases, Some(&name))));
    }
    Ok(None)
}

fn assemble(
    cr: &CrateDB,
    sets: &ObjectList<StatefulSet>,
    pods: &ObjectList<Pod>,
    leases: &HashMap<(String, String), &Lease>,
    also: Option<&str>,
) -> Cluster {
    let resource = cr.name_any();
    let namespace = cr.namespace().unwrap_or_default();
    let uid = cr.uid();
    let mut groups = Vec::new();
    if let Some(master) = &cr.spec.nodes.master {
        groups.push(NodeGroup {
            name: "master".into(),
            master: true,
            replicas: master.replica_count(),
        });
    }
    for data in &cr.spec.nodes.data {
        groups.push(NodeGroup {
            name: data.name.clone().unwrap_or_default(),
            master: false,
            replicas: data.replica_count(),
        });
    }

    // StatefulSets: the operator's names, or anything the resource owns.
    let expected: Vec<String> = groups.iter().map(|g| statefulset_name(&resource, g)).collect();
    let owned_by_cr = |s: &StatefulSet| {
        uid.is_some()
            && s.owner_references()
                .iter()
                .any(|o| o.kind == "CrateDB" && Some(&o.uid) == uid.as_ref())
    };
    let mut statefulsets: Vec<(usize, StatefulSetInfo)> = sets
        .items
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|s| expected.contains(&s.name_any()) || owned_by_cr(s) || also == Some(s.name_any().as_str()))
        .map(|s| {
            let name = s.name_any();
            let position = expected.iter().position(|e| *e == name).unwrap_or(usize::MAX);
            let group = s
                .labels()
                .get(NODE_GROUP_LABEL)
                .cloned()
                .or_else(|| groups.get(position).map(|g| g.name.clone()))
                .unwrap_or_default();
            let info = StatefulSetInfo {
                group,
                replicas: s.spec.replicas.unwrap_or(1).max(0).unsigned_abs(),
                ready_replicas: s
                    .status
                    .as_ref()
                    .and_then(|st| st.ready_replicas)
                    .unwrap_or(0)
                    .max(0)
                    .unsigned_abs(),
                routing_owner: s.labels().get(ROUTING_OWNER_LABEL).cloned(),
                name,
            };
            (position, info)
        })
        .collect();
    statefulsets.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    let statefulsets: Vec<StatefulSetInfo> = statefulsets.into_iter().map(|(_, s)| s).collect();

    let mut cluster_pods: Vec<(usize, PodInfo)> = pods
        .items
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(namespace.as_str()))
        .filter_map(|p| {
            let owner = p
                .owner_references()
                .iter()
                .find(|o| o.kind == "StatefulSet")?
                .name
                .clone();
            let index = statefulsets.iter().position(|s| s.name == owner)?;
            Some((index, pod_info(p, &owner, &statefulsets[index].group)))
        })
        .collect();
    cluster_pods.sort_by(|a, b| (a.0, a.1.ordinal, &a.1.name).cmp(&(b.0, b.1.ordinal, &b.1.name)));

    Cluster {
        name: cr.cluster_name(),
        version: cr.spec.cluster.version.clone(),
        groups,
        statefulsets,
        pods: cluster_pods.into_iter().map(|(_, p)| p).collect(),
        operator_health: cr.operator_health(),
        lease: leases
            .get(&(namespace.clone(), lease_name(&resource)))
            .map(|l| lease_info(l)),
        routing_owner: cr.labels().get(ROUTING_OWNER_LABEL).cloned(),
        operator_handlers: operator_handlers(cr),
        operator_restore: cr
            .spec
            .cluster
            .other
            .get("restoreSnapshot")
            .and_then(|r| r.get("snapshot"))
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        pending_pods: cr
            .status
            .as_ref()
            .and_then(|s| s.get("pendingPods"))
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len),
        suspend_record: cr
            .annotations()
            .get(cratectl_core::suspend::record::ANNOTATION)
            .cloned(),
        resource,
        namespace,
    }
}

/// The operator's progress annotations (kopf's `operator.cloud.crate.io/<handler id with "/" as
/// ".">`, JSON with `started`, `retries`, `message`), but its diff base `last`.
fn operator_handlers(cr: &CrateDB) -> Vec<cratectl_core::busy::OperatorHandler> {
    const PREFIX: &str = "operator.cloud.crate.io/";
    cr.annotations()
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(PREFIX)?;
            if name == "last" || name.is_empty() {
                return None;
            }
            let progress: serde_json::Value = serde_json::from_str(v).unwrap_or(serde_json::Value::Null);
            Some(cratectl_core::busy::OperatorHandler {
                name: name.to_string(),
                started: progress
                    .get("started")
                    .and_then(serde_json::Value::as_str)
                    // kopf writes a naive UTC time (`datetime.utcnow().isoformat()`).
                    .and_then(|s| {
                        s.parse::<jiff::Timestamp>()
                            .or_else(|_| format!("{s}Z").parse::<jiff::Timestamp>())
                            .ok()
                    }),
                retries: progress.get("retries").and_then(serde_json::Value::as_u64),
                message: progress
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect()
}

fn pod_info(pod: &Pod, statefulset: &str, group: &str) -> PodInfo {
    let name = pod.name_any();
    let ordinal = name
        .strip_prefix(statefulset)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse().ok());
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let crate_container: Option<&Container> = spec
        .containers
        .iter()
        .find(|c| c.name == "crate")
        .or(spec.containers.first());
    let prestop = match crate_container
        .and_then(|c| c.lifecycle.as_ref())
        .and_then(|l| l.pre_stop.as_ref())
    {
        None => PreStopHook::None,
        Some(handler) => match (&handler.exec, &handler.http_get, &handler.sleep) {
            (Some(exec), _, _) => PreStopHook::Exec {
                command: exec.command.clone().unwrap_or_default(),
            },
            (_, Some(get), _) => PreStopHook::HttpGet {
                path: get.path.clone(),
            },
            (_, _, Some(_)) => PreStopHook::Other { kind: "sleep".into() },
            _ => PreStopHook::Other {
                kind: "tcpSocket".into(),
            },
        },
    };
    let node_name_hint = crate_container
        .into_iter()
        .flat_map(|c| c.command.iter().flatten().chain(c.args.iter().flatten()))
        .find_map(|arg| arg.strip_prefix("-Cnode.name="))
        .and_then(|raw| cratectl_core::topology::resolve_node_name(raw, &name));
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let restarts = crate::pods::crate_restarts(&status);
    PodInfo {
        uid: pod.uid().unwrap_or_default(),
        statefulset: statefulset.into(),
        group: group.into(),
        ordinal,
        node: spec.node_name.clone(),
        phase: status.phase.clone().unwrap_or_else(|| "Unknown".into()),
        ready,
        restarts,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        prestop,
        termination_grace_period_s: spec.termination_grace_period_seconds.unwrap_or(30),
        node_name_hint,
        routing_owner: pod.labels().get(ROUTING_OWNER_LABEL).cloned(),
        name,
    }
}
