//! Naming and Kubernetes-side rules: which names the operator gives a cluster's objects, how
//! pods are ordered, which pod a cluster is read through and which node names it should have,
//! what a Kubernetes node's taints and annotations say about it, and "did you mean" for cluster
//! names.
//!
//! Names follow crate-operator (`operations.py:NodeGroup.statefulset_name`,
//! `create.py:get_statefulset_crate_command`; docs/crate-operator-behaviour.md#names), where
//! `<name>` is the custom resource's `metadata.name` (not `spec.cluster.name`):
//!
//! | object | name |
//! |---|---|
//! | StatefulSet of the dedicated masters | `crate-master-<name>` |
//! | StatefulSet of data group `<g>` | `crate-data-<g>-<name>` |
//! | pod | `<statefulset>-<ordinal>` |
//! | CrateDB node | `master-<ordinal>`, `data-<g>-<ordinal>` |
//!
//! The CrateDB node name derived from a pod name is a **hint** ([`NodeNameHint`]): the operator
//! computes `node.name` in a shell substitution at start-up and `spec.cluster.settings` may
//! override it, so operations read the real name from `sys.nodes` and use the hint only to find
//! the row. The type has no way to be passed where a node name is expected by accident.
//!
//! Pods sort by ordinal ([`ordinal_order`]): `-2` before `-10`, unlike the API's lexicographic
//! order that both the operator and the Python rolling-restart tool
//! (WalBeh/crate-rolling-restart) use.
//!
//! Kubernetes node conditions ([`node_condition`]) follow the Python tool's
//! `--only-on-suspended-nodes` rules (`rr/activities.py:is_pod_on_suspended_node`), with these
//! deliberate changes:
//!
//! * `cluster-autoscaler.kubernetes.io/scale-down-disabled` (taint or annotation) no longer
//!   counts: it asks the autoscaler to *keep* the node, so restarting its pods to move them off
//!   is a needless disruption.
//! * An annotation counts only when its value is not `false`/`0`/`no` (any case); the Python
//!   tool counted `node.kubernetes.io/suspend: "false"` as suspended.
//! * Two more taints mean the node is going away: `ToBeDeletedByClusterAutoscaler` (the cluster
//!   autoscaler is draining it) and `karpenter.sh/disrupted` (Karpenter is).
//!
//! Unchanged: `spec.unschedulable`; the taints `node.kubernetes.io/unschedulable`,
//! `node.kubernetes.io/not-ready`, `node.kubernetes.io/unreachable`,
//! `aws.amazon.com/spot-instance-terminating`, `node.kubernetes.io/suspend`; the annotations
//! `node.kubernetes.io/suspend` and `node.kubernetes.io/suspended`. Taint values and effects are
//! ignored, as before.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The cluster's name: `spec.cluster.name` when present and not empty, else `metadata.name`.
pub fn cluster_name<'a>(spec_cluster_name: Option<&'a str>, metadata_name: &'a str) -> &'a str {
    match spec_cluster_name {
        Some(name) if !name.trim().is_empty() => name,
        _ => metadata_name,
    }
}

/// A node group of a CrateDB resource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeGroup {
    /// The dedicated masters (`spec.nodes.master`).
    Master,
    /// A data group (`spec.nodes.data[].name`).
    Data(String),
}

impl NodeGroup {
    /// The StatefulSet the operator creates for this group of resource `cr_name`.
    pub fn statefulset_name(&self, cr_name: &str) -> String {
        match self {
            NodeGroup::Master => format!("crate-master-{cr_name}"),
            NodeGroup::Data(group) => format!("crate-data-{group}-{cr_name}"),
        }
    }

    /// The value of the `cloud.crate.io/node-name` label (`master` or the group name).
    pub fn label_value(&self) -> &str {
        match self {
            NodeGroup::Master => "master",
            NodeGroup::Data(group) => group,
        }
    }

    /// The CrateDB node name the operator gives ordinal `ordinal` of this group (a hint).
    pub fn node_name_hint(&self, ordinal: u32) -> NodeNameHint {
        NodeNameHint(match self {
            NodeGroup::Master => format!("master-{ordinal}"),
            NodeGroup::Data(group) => format!("data-{group}-{ordinal}"),
        })
    }
}

/// The operator's StatefulSets for a resource: masters first (when it has dedicated masters),
/// then the data groups in spec order.
pub fn operator_statefulset_names(cr_name: &str, has_masters: bool, data_groups: &[&str]) -> Vec<String> {
    let masters = has_masters.then_some(NodeGroup::Master);
    masters
        .into_iter()
        .chain(data_groups.iter().map(|g| NodeGroup::Data(g.to_string())))
        .map(|group| group.statefulset_name(cr_name))
        .collect()
}

/// The names the Python tool tried, in its order (`rr/activities.py:_process_crd_item`), without
/// repeats: for hand-made deployments whose resource does not list its node groups.
pub fn fallback_statefulset_names(crd_name: &str, cluster_name: &str) -> Vec<String> {
    let candidates = [
        format!("crate-data-hot-{crd_name}"),
        format!("crate-{crd_name}"),
        crd_name.to_string(),
        format!("crate-{cluster_name}"),
        format!("crate-data-hot-{cluster_name}"),
    ];
    let mut names: Vec<String> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if !names.contains(&candidate) {
            names.push(candidate);
        }
    }
    names
}

/// A CrateDB node name guessed from a pod name. Find the real name in `sys.nodes` before using it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeNameHint(String);

impl NodeNameHint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeNameHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The node group and ordinal of an operator pod of resource `cr_name`:
/// `crate-data-hot-<cr>-2` → (`Data("hot")`, 2), `crate-master-<cr>-0` → (`Master`, 0).
pub fn pod_group(pod_name: &str, cr_name: &str) -> Option<(NodeGroup, u32)> {
    let ordinal = pod_ordinal(pod_name)?;
    let (statefulset, _) = pod_name.rsplit_once('-')?;
    let middle = statefulset
        .strip_prefix("crate-")?
        .strip_suffix(cr_name)?
        .strip_suffix('-')?;
    if middle == "master" {
        return Some((NodeGroup::Master, ordinal));
    }
    let group = middle.strip_prefix("data-").filter(|g| !g.is_empty())?;
    Some((NodeGroup::Data(group.to_string()), ordinal))
}

/// The CrateDB node name the operator gives a pod: `crate-data-hot-<cr>-2` → `data-hot-2`,
/// `crate-master-<cr>-0` → `master-0`. `None` for pods that do not follow the operator's names.
pub fn node_name_hint(pod_name: &str, cr_name: &str) -> Option<NodeNameHint> {
    pod_group(pod_name, cr_name).map(|(group, ordinal)| group.node_name_hint(ordinal))
}

/// The StatefulSet ordinal at the end of a pod name (`…-12` → 12). `None` without one, or with
/// a leading zero, which StatefulSets never write.
pub fn pod_ordinal(pod_name: &str) -> Option<u32> {
    let (_, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// Orders pod names by StatefulSet, then ordinal as a number: `x-2` before `x-10`. Names
/// without an ordinal sort by name after the numbered pods of the same prefix.
pub fn ordinal_order(a: &str, b: &str) -> Ordering {
    fn key(name: &str) -> (&str, Option<u32>) {
        match pod_ordinal(name) {
            Some(ordinal) => (
                name.rsplit_once('-').map_or(name, |(prefix, _)| prefix),
                Some(ordinal),
            ),
            None => (name, None),
        }
    }
    let (prefix_a, ordinal_a) = key(a);
    let (prefix_b, ordinal_b) = key(b);
    prefix_a
        .cmp(prefix_b)
        .then_with(|| match (ordinal_a, ordinal_b) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.cmp(b))
}

/// Sorts pod names with [`ordinal_order`].
pub fn sort_by_ordinal<T: AsRef<str>>(names: &mut [T]) {
    names.sort_by(|a, b| ordinal_order(a.as_ref(), b.as_ref()));
}

/// What cratectl reads of a Kubernetes node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// `spec.taints[].key`.
    pub taint_keys: Vec<String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// What a Kubernetes node's state means for the pods on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCondition {
    /// `spec.unschedulable`, or the `node.kubernetes.io/unschedulable` taint.
    pub cordoned: bool,
    /// The AWS spot interruption taint.
    pub spot_terminating: bool,
    /// Any sign the node is going away or unusable (the `--only-on-suspended-nodes` test).
    pub suspended: bool,
    /// Each fact that counted, e.g. `taint node.kubernetes.io/not-ready`.
    pub reasons: Vec<String>,
}

const CORDON_TAINT: &str = "node.kubernetes.io/unschedulable";
const SPOT_TAINT: &str = "aws.amazon.com/spot-instance-terminating";
const SUSPEND_TAINTS: &[&str] = &[
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/suspend",
    "ToBeDeletedByClusterAutoscaler",
    "karpenter.sh/disrupted",
];
const SUSPEND_ANNOTATIONS: &[&str] = &["node.kubernetes.io/suspend", "node.kubernetes.io/suspended"];

/// Reads a Kubernetes node's condition (rules in the module documentation).
pub fn node_condition(facts: &NodeFacts) -> NodeCondition {
    let mut condition = NodeCondition::default();
    if facts.unschedulable {
        condition.cordoned = true;
        condition
            .reasons
            .push("spec.unschedulable is true (cordoned)".to_string());
    }
    for key in &facts.taint_keys {
        let key = key.as_str();
        if key == CORDON_TAINT {
            condition.cordoned = true;
        } else if key == SPOT_TAINT {
            condition.spot_terminating = true;
        } else if !SUSPEND_TAINTS.contains(&key) {
            continue;
        }
        condition.reasons.push(format!("taint {key}"));
    }
    for (key, value) in &facts.annotations {
        let off = matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no");
        if SUSPEND_ANNOTATIONS.contains(&key.as_str()) && !off {
            condition.reasons.push(format!("annotation {key}={value}"));
        }
    }
    condition.suspended = !condition.reasons.is_empty();
    condition
}

/// Why a pod on the Kubernetes node `node` (whose facts are `facts`) is on a suspended node, as
/// a restart's plan notes it and `--only-on-suspended-nodes` tests it: `node <name>: <each
/// reason>`; `None` when the node is not suspended ([`node_condition`]).
pub fn suspended_node_reason(node: &str, facts: &NodeFacts) -> Option<String> {
    let condition = node_condition(facts);
    condition
        .suspended
        .then(|| format!("node {node}: {}", condition.reasons.join(", ")))
}

/// A pod, as the choice of the pod to read a cluster through sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodReadiness<'a> {
    pub name: &'a str,
    /// The Ready condition.
    pub ready: bool,
    /// Has a deletionTimestamp.
    pub terminating: bool,
    /// `status.phase` (`Pending`, `Running` …).
    pub phase: &'a str,
}

/// The pod to read the cluster `cluster` ("namespace/name", for the message) through: the
/// first of `pods` that is Ready, not terminating and not `avoid` (the pod being disrupted:
/// never read through it, ARCHITECTURE §1.2). Its index in `pods`, else an error naming every
/// pod and its state.
pub fn reading_pod(cluster: &str, pods: &[PodReadiness<'_>], avoid: Option<&str>) -> Result<usize, String> {
    if let Some(index) = pods
        .iter()
        .position(|p| p.ready && !p.terminating && Some(p.name) != avoid)
    {
        return Ok(index);
    }
    if pods.is_empty() {
        return Err(format!("{cluster} has no pods"));
    }
    Err(format!(
        "no pod of {cluster} is Ready{} ({})",
        avoid.map(|a| format!(" besides {a}")).unwrap_or_default(),
        pods.iter()
            .map(|p| format!(
                "{} {}",
                p.name,
                if p.terminating { "Terminating" } else { p.phase }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The shell substitution the crate-operator puts in `-Cnode.name=` to take the ordinal from the
/// pod's host name (`create.py` `get_statefulset_crate_command`: `node.name=data-hot-$(hostname |
/// awk -F- '{print $NF}')`; the image's entrypoint runs the command through a shell).
pub const NODE_NAME_FROM_HOSTNAME: &str = "$(hostname | awk -F- '{print $NF}')";

/// The node name a `-Cnode.name=` value gives pod `pod_name` (a StatefulSet pod's host name is
/// its name): the operator's hostname substitution resolved to the pod name's last `-` field;
/// `None` for any other shell substitution (`$(`, `${`, a backquote), which cratectl cannot
/// evaluate and does not guess.
pub fn resolve_node_name(raw: &str, pod_name: &str) -> Option<String> {
    let ordinal = pod_name.rsplit('-').next().unwrap_or(pod_name);
    let resolved = raw.replace(NODE_NAME_FROM_HOSTNAME, ordinal);
    if resolved.contains("$(") || resolved.contains("${") || resolved.contains('`') || resolved.is_empty() {
        None
    } else {
        Some(resolved)
    }
}

/// The CrateDB node names a cluster should have, from its pods' command lines (`-Cnode.name`,
/// one hint per pod, `None` where a pod declares none): all of them when every pod declares
/// one and there are as many pods as `desired_nodes`, else none. They let a health reason name
/// a missing node; they never address one (sys.nodes is the truth).
pub fn expected_node_names(hints: &[Option<&str>], desired_nodes: u32) -> Vec<String> {
    let names: Vec<String> = hints.iter().flatten().map(|h| h.to_string()).collect();
    if names.len() == hints.len() && names.len() == desired_nodes as usize {
        names
    } else {
        Vec::new()
    }
}

/// Up to three of `existing` closest to `wanted`, best first, for "unknown cluster, did you mean …".
pub fn closest_names<S: AsRef<str>>(wanted: &str, existing: &[S]) -> Vec<String> {
    crate::maintenance::closest(wanted, existing.iter().map(AsRef::as_ref))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_resolve_the_operators_hostname_substitution_only() {
        let raw = format!("data-hot-{NODE_NAME_FROM_HOSTNAME}");
        assert_eq!(
            resolve_node_name(&raw, "crate-data-hot-prod-2").as_deref(),
            Some("data-hot-2")
        );
        assert_eq!(
            resolve_node_name("data-hot-0", "crate-data-hot-prod-0").as_deref(),
            Some("data-hot-0")
        );
        assert_eq!(resolve_node_name("node-$(cat /etc/n)", "p-1"), None);
        assert_eq!(resolve_node_name("node-${HOSTNAME}", "p-1"), None);
        assert_eq!(resolve_node_name("", "p-1"), None);
    }

    #[test]
    fn cluster_names() {
        assert_eq!(cluster_name(Some("prod"), "prod-cr"), "prod");
        assert_eq!(cluster_name(None, "prod-cr"), "prod-cr");
        assert_eq!(cluster_name(Some(""), "prod-cr"), "prod-cr");
    }

    #[test]
    fn statefulset_names() {
        assert_eq!(
            operator_statefulset_names("demo", true, &["hot", "cold"]),
            ["crate-master-demo", "crate-data-hot-demo", "crate-data-cold-demo"]
        );
        assert_eq!(
            operator_statefulset_names("demo", false, &["hot"]),
            ["crate-data-hot-demo"]
        );
        assert_eq!(
            fallback_statefulset_names("my-cr", "prod"),
            [
                "crate-data-hot-my-cr",
                "crate-my-cr",
                "my-cr",
                "crate-prod",
                "crate-data-hot-prod"
            ]
        );
        assert_eq!(
            fallback_statefulset_names("demo", "demo"),
            ["crate-data-hot-demo", "crate-demo", "demo"]
        );
        assert_eq!(NodeGroup::Data("hot".into()).label_value(), "hot");
        assert_eq!(NodeGroup::Master.label_value(), "master");
    }

    #[test]
    fn node_name_hints() {
        let hint = |pod: &str, cr: &str| node_name_hint(pod, cr).map(|h| h.to_string());
        assert_eq!(
            hint("crate-data-hot-demo-2", "demo").as_deref(),
            Some("data-hot-2")
        );
        assert_eq!(hint("crate-master-demo-0", "demo").as_deref(), Some("master-0"));
        // Dashes in the group and in the resource name.
        assert_eq!(
            hint("crate-data-hot-ssd-my-db-11", "my-db").as_deref(),
            Some("data-hot-ssd-11")
        );
        assert_eq!(
            hint("crate-data-x-master-db-1", "db").as_deref(),
            Some("data-x-master-1")
        );
        for (pod, cr) in [
            ("crate-data-hot-demo-2", "other"),
            ("crate-data--demo-2", "demo"),
            ("crate-data-hot-demo", "demo"),
            ("crate-demo-0", "demo"),
            ("data-hot-demo-0", "demo"),
            ("crate-data-hot-demo-02", "demo"),
            ("crate-datahot-demo-0", "demo"),
        ] {
            assert_eq!(hint(pod, cr), None, "{pod}");
        }
        assert_eq!(
            pod_group("crate-data-hot-demo-2", "demo"),
            Some((NodeGroup::Data("hot".into()), 2))
        );
    }

    #[test]
    fn ordinals() {
        assert_eq!(pod_ordinal("crate-data-hot-demo-10"), Some(10));
        assert_eq!(pod_ordinal("x-0"), Some(0));
        assert_eq!(pod_ordinal("x-01"), None);
        assert_eq!(pod_ordinal("x-"), None);
        assert_eq!(pod_ordinal("x"), None);
        assert_eq!(pod_ordinal("x-1a"), None);
        assert_eq!(pod_ordinal("x-99999999999"), None);

        let mut pods = vec!["s-10", "s-2", "s-1", "s-0", "r-3", "s-x", "s"];
        sort_by_ordinal(&mut pods);
        assert_eq!(pods, ["r-3", "s-0", "s-1", "s-2", "s-10", "s", "s-x"]);
        let mut owned: Vec<String> = ["a-10", "a-9"].iter().map(|s| s.to_string()).collect();
        sort_by_ordinal(&mut owned);
        assert_eq!(owned, ["a-9", "a-10"]);
    }

    fn facts(unschedulable: bool, taints: &[&str], annotations: &[(&str, &str)]) -> NodeFacts {
        NodeFacts {
            unschedulable,
            taint_keys: taints.iter().map(|t| t.to_string()).collect(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn suspended_node_reasons() {
        assert_eq!(
            suspended_node_reason("n1", &facts(false, &["cratedb"], &[])),
            None
        );
        assert_eq!(
            suspended_node_reason("n1", &facts(true, &[SPOT_TAINT], &[])).as_deref(),
            Some(
                "node n1: spec.unschedulable is true (cordoned), taint \
                 aws.amazon.com/spot-instance-terminating"
            )
        );
        assert_eq!(
            suspended_node_reason(
                "n2",
                &facts(false, &[], &[("node.kubernetes.io/suspend", "true")])
            )
            .as_deref(),
            Some("node n2: annotation node.kubernetes.io/suspend=true")
        );
    }

    #[test]
    fn the_pod_to_read_through() {
        let pod = |name, ready, terminating, phase| PodReadiness {
            name,
            ready,
            terminating,
            phase,
        };
        let pods = [
            pod("p-0", false, false, "Pending"),
            pod("p-1", true, true, "Running"),
            pod("p-2", true, false, "Running"),
            pod("p-3", true, false, "Running"),
        ];
        assert_eq!(reading_pod("db/x", &pods, None), Ok(2));
        assert_eq!(
            reading_pod("db/x", &pods, Some("p-2")),
            Ok(3),
            "never the avoided pod"
        );
        assert_eq!(
            reading_pod("db/x", &pods[..3], Some("p-2")),
            Err("no pod of db/x is Ready besides p-2 (p-0 Pending, p-1 Terminating, p-2 Running)".into())
        );
        assert_eq!(
            reading_pod("db/x", &pods[..2], None),
            Err("no pod of db/x is Ready (p-0 Pending, p-1 Terminating)".into())
        );
        assert_eq!(reading_pod("db/x", &[], None), Err("db/x has no pods".into()));
    }

    #[test]
    fn expected_names_only_when_every_pod_declares_one() {
        let all = [Some("data-hot-0"), Some("data-hot-1")];
        assert_eq!(expected_node_names(&all, 2), ["data-hot-0", "data-hot-1"]);
        assert!(expected_node_names(&all, 3).is_empty(), "a pod is missing");
        assert!(expected_node_names(&[Some("data-hot-0"), None], 2).is_empty());
        assert!(expected_node_names(&[], 0).is_empty());
    }

    #[test]
    fn node_conditions() {
        let plain = node_condition(&facts(false, &["cratedb"], &[("x", "y")]));
        assert_eq!(plain, NodeCondition::default());

        let cordoned = node_condition(&facts(true, &[], &[]));
        assert!(cordoned.cordoned && cordoned.suspended && !cordoned.spot_terminating);
        assert_eq!(cordoned.reasons, ["spec.unschedulable is true (cordoned)"]);

        let tainted = node_condition(&facts(false, &[CORDON_TAINT], &[]));
        assert!(tainted.cordoned && tainted.suspended);

        let spot = node_condition(&facts(false, &[SPOT_TAINT], &[]));
        assert!(spot.spot_terminating && spot.suspended && !spot.cordoned);
        assert_eq!(spot.reasons, ["taint aws.amazon.com/spot-instance-terminating"]);

        for taint in SUSPEND_TAINTS {
            let condition = node_condition(&facts(false, &[taint], &[]));
            assert!(condition.suspended, "{taint}");
            assert!(!condition.cordoned && !condition.spot_terminating);
            assert_eq!(condition.reasons, [format!("taint {taint}")]);
        }

        let annotated = node_condition(&facts(false, &[], &[("node.kubernetes.io/suspended", "true")]));
        assert!(annotated.suspended);
        assert_eq!(
            annotated.reasons,
            ["annotation node.kubernetes.io/suspended=true"]
        );
        assert!(node_condition(&facts(false, &[], &[("node.kubernetes.io/suspend", "")])).suspended);
    }

    #[test]
    fn deliberate_changes_from_the_python_tool() {
        let keep = "cluster-autoscaler.kubernetes.io/scale-down-disabled";
        assert!(!node_condition(&facts(false, &[keep], &[(keep, "true")])).suspended);
        for off in ["false", "FALSE", "0", "no"] {
            assert!(!node_condition(&facts(false, &[], &[("node.kubernetes.io/suspend", off)])).suspended);
        }
        assert!(node_condition(&facts(false, &["ToBeDeletedByClusterAutoscaler"], &[])).suspended);
    }

    #[test]
    fn did_you_mean() {
        let existing = ["prod-eu", "prod-us", "staging"];
        assert_eq!(closest_names("prd-eu", &existing), ["prod-eu"]);
        assert_eq!(closest_names("prod-ue", &existing), ["prod-us"]);
        assert_eq!(closest_names("stagin", &existing), ["staging"]);
        assert!(closest_names("zzzzzzzz", &existing).is_empty());
        let owned: Vec<String> = existing.iter().map(|s| s.to_string()).collect();
        assert_eq!(closest_names("staging1", &owned), ["staging"]);
    }
}
