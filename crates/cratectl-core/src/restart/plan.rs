//! Which pods a restart visits, in which order, which it skips, how it stops each one and how
//! long each should take.
//!
//! The order is policy (`--order`), not the API's listing order:
//!
//! * **masters-first** (the default): every pod of a master group, then every pod of a data
//!   group; **data-first** the other way round. Groups keep the order they have in the input
//!   (the order the caller discovered them in: the resource's `spec.nodes`), and within a group
//!   pods go by StatefulSet ordinal as a number (`-2` before `-10`, unlike the lexicographic
//!   order of the API, the operator and the Python tool); pods without an ordinal come after the
//!   numbered ones, by name. Sorting is by pod, so a master pod listed in a data group still goes
//!   with the masters.
//! * With `--only-on-suspended-nodes`, pods whose Kubernetes node is not suspended are planned
//!   but skipped, with the reason [`NOT_ON_SUSPENDED_NODE`]; they stay in the plan, in their
//!   place, so the report lists them.
//!
//! How a node is stopped ([`StopMethod`]): when its pod has a dc_util preStop hook, deleting the
//! pod decommissions the node, so the pod is deleted with a grace period long enough for the
//! hook (its timeout plus [`HOOK_GRACE_MARGIN`], never shorter than the pod's own
//! `terminationGracePeriodSeconds`); otherwise cratectl decommissions the node itself with the
//! chosen `graceful_stop.min_availability` before deleting the pod.
//!
//! The estimate of a pod's restart, used when no restart of this cluster has been observed yet,
//! is the hook's timeout (or [`DECOMMISSION_ESTIMATE`] without a hook) plus the start-up time.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::maintenance::MinAvailability;
use crate::sql::Literal;

/// Added to a dc_util hook's timeout to get the pod's deletion grace period: the hook's own
/// start (downloading dc_util, connecting) and CrateDB's shutdown after it both need time, and a
/// grace period that ends while the hook runs kills the node mid-decommission.
pub const HOOK_GRACE_MARGIN: Duration = Duration::from_secs(60);

/// How long our own decommission is expected to take when nothing better is known.
pub const DECOMMISSION_ESTIMATE: Duration = Duration::from_secs(120);

/// The skip reason of a pod that `--only-on-suspended-nodes` leaves alone.
pub const NOT_ON_SUSPENDED_NODE: &str = "not on a suspended node";

/// The order pods are restarted in (`--order`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Master groups first, then data groups.
    #[default]
    MastersFirst,
    /// Data groups first, then master groups.
    DataFirst,
}

impl Order {
    /// Every order, for help texts and error messages.
    pub const ALL: [Order; 2] = [Order::MastersFirst, Order::DataFirst];

    /// `masters-first` or `data-first`, as the command line writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Order::MastersFirst => "masters-first",
            Order::DataFirst => "data-first",
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not an [`Order`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown order \"{0}\": expected masters-first or data-first")]
pub struct UnknownOrder(pub String);

impl FromStr for Order {
    type Err = UnknownOrder;

    /// `masters-first` or `data-first`, in any case, with `-` or `_`.
    fn from_str(text: &str) -> Result<Order, UnknownOrder> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Order::ALL
            .into_iter()
            .find(|order| order.as_str() == wanted)
            .ok_or_else(|| UnknownOrder(text.to_string()))
    }
}

// `MinAvailability` is the maintenance file's type (one type for one CrateDB setting); what a
// restart needs of it in addition is here. These impls could move next to the type.
impl FromStr for MinAvailability {
    type Err = String;

    /// `NONE`, `PRIMARIES` or `FULL`, in any case (see [`MinAvailability::parse`]).
    fn from_str(text: &str) -> Result<MinAvailability, String> {
        MinAvailability::parse(text)
    }
}

impl MinAvailability {
    /// The value for `SET GLOBAL "cluster.graceful_stop.min_availability" = …` (`'PRIMARIES'`).
    pub fn as_sql_literal(self) -> Literal {
        Literal::text(self.as_str())
    }
}

/// The `graceful_stop.min_availability` cratectl decommissions a node with: `--min-availability`
/// (`flag`), else the maintenance file's `min_availability` for the cluster (`file`), else
/// `PRIMARIES`.
pub fn effective_min_availability(
    flag: Option<MinAvailability>,
    file: Option<MinAvailability>,
) -> MinAvailability {
    flag.or(file).unwrap_or(MinAvailability::Primaries)
}

/// What the caller discovered about one pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodFacts {
    pub name: String,
    /// The pod's UID now; a pod is only deleted while it still has this UID (ARCHITECTURE §1.4).
    pub uid: String,
    /// The node group (`master`, `hot`, …), as the caller names it.
    pub group: String,
    /// True for a pod of a master group.
    pub master: bool,
    /// The StatefulSet ordinal (`topology::pod_ordinal`).
    pub ordinal: Option<u32>,
    /// `Some(reason)` when the pod's Kubernetes node is suspended (`topology::node_condition`).
    pub on_suspended_node: Option<String>,
    /// `Some(timeout)` when the pod's preStop hook runs dc_util: how long the hook may take
    /// (`prestop::DcUtilCall::timeout`).
    pub dc_util_timeout: Option<Duration>,
    /// The pod's `terminationGracePeriodSeconds`.
    pub termination_grace_period_s: i64,
}

/// How a node is stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum StopMethod {
    /// Delete the pod and let its dc_util preStop hook decommission the node; `grace` is the
    /// deletion's grace period.
    PreStopHook { timeout: Duration, grace: Duration },
    /// Decommission the node ourselves, then delete the pod.
    Decommission { min_availability: MinAvailability },
}

/// One pod of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPod {
    pub name: String,
    pub uid: String,
    pub group: String,
    pub master: bool,
    pub stop: StopMethod,
    /// `Some(reason)` when the pod is not restarted.
    pub skip: Option<String>,
    /// Something worth showing about a pod that is restarted (why its node is suspended).
    pub note: Option<String>,
    /// Expected duration of its restart when nothing has been observed yet.
    pub estimate: Duration,
}

/// The pods to visit, in order, with their stop method, skip decision and estimate (rules in the
/// module documentation). The result is a permutation of `pods`.
pub fn plan_pods(
    pods: &[PodFacts],
    order: Order,
    only_on_suspended_nodes: bool,
    min_availability: MinAvailability,
    startup: Duration,
) -> Vec<PlannedPod> {
    let mut group_rank: HashMap<&str, usize> = HashMap::new();
    for pod in pods {
        let next = group_rank.len();
        group_rank.entry(pod.group.as_str()).or_insert(next);
    }
    let class = |pod: &PodFacts| match order {
        Order::MastersFirst => !pod.master,
        Order::DataFirst => pod.master,
    };
    let mut ordered: Vec<&PodFacts> = pods.iter().collect();
    ordered.sort_by(|a, b| {
        let key = |p: &PodFacts| {
            (
                class(p),
                group_rank.get(p.group.as_str()).copied().unwrap_or(usize::MAX),
                p.ordinal.is_none(),
                p.ordinal,
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
    });
    ordered
        .into_iter()
        .map(|pod| plan_one(pod, only_on_suspended_nodes, min_availability, startup))
        .collect()
}

fn plan_one(
    pod: &PodFacts,
    only_on_suspended_nodes: bool,
    min_availability: MinAvailability,
    startup: Duration,
) -> PlannedPod {
    let (stop, stopping) = match pod.dc_util_timeout {
        Some(timeout) => {
            let own = Duration::from_secs(pod.termination_grace_period_s.max(0).unsigned_abs());
            let grace = timeout.saturating_add(HOOK_GRACE_MARGIN).max(own);
            (StopMethod::PreStopHook { timeout, grace }, timeout)
        }
        None => (
            StopMethod::Decommission { min_availability },
            DECOMMISSION_ESTIMATE,
        ),
    };
    let (skip, note) = match (&pod.on_suspended_node, only_on_suspended_nodes) {
        (None, true) => (Some(NOT_ON_SUSPENDED_NODE.to_string()), None),
        (Some(reason), _) => (None, Some(format!("on a suspended node: {reason}"))),
        (None, false) => (None, None),
    };
    PlannedPod {
        name: pod.name.clone(),
        uid: pod.uid.clone(),
        group: pod.group.clone(),
        master: pod.master,
        stop,
        skip,
        note,
        estimate: stopping.saturating_add(startup),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STARTUP: Duration = Duration::from_secs(90);

    fn pod(group: &str, ordinal: Option<u32>) -> PodFacts {
        let master = group == "master";
        let prefix = if master {
            "crate-master-prod".to_string()
        } else {
            format!("crate-data-{group}-prod")
        };
        let name = match ordinal {
            Some(n) => format!("{prefix}-{n}"),
            None => format!("{prefix}-x"),
        };
        PodFacts {
            uid: format!("uid-{name}"),
            name,
            group: group.to_string(),
            master,
            ordinal,
            on_suspended_node: None,
            dc_util_timeout: None,
            termination_grace_period_s: 30,
        }
    }

    fn names(plan: &[PlannedPod]) -> Vec<&str> {
        plan.iter().map(|p| p.name.as_str()).collect()
    }

    fn plan(pods: &[PodFacts], order: Order) -> Vec<PlannedPod> {
        plan_pods(pods, order, false, MinAvailability::Primaries, STARTUP)
    }

    #[test]
    fn min_availability_flag_over_file_over_primaries() {
        use MinAvailability::{Full, None as Nothing, Primaries};
        for (flag, file, expected) in [
            (Some(Full), Some(Nothing), Full),
            (Some(Nothing), None, Nothing),
            (None, Some(Full), Full),
            (None, None, Primaries),
        ] {
            assert_eq!(
                effective_min_availability(flag, file),
                expected,
                "{flag:?} {file:?}"
            );
        }
    }

    #[test]
    fn orders_parse_and_print() {
        assert_eq!("masters-first".parse(), Ok(Order::MastersFirst));
        assert_eq!("Data_First".parse(), Ok(Order::DataFirst));
        assert_eq!(Order::DataFirst.to_string(), "data-first");
        assert_eq!(Order::default(), Order::MastersFirst);
        let err = "random".parse::<Order>().unwrap_err().to_string();
        assert!(
            err.contains("\"random\"") && err.contains("masters-first or data-first"),
            "{err}"
        );
        assert_eq!(
            serde_json::to_string(&Order::MastersFirst).unwrap(),
            "\"masters_first\""
        );
    }

    #[test]
    fn min_availability_parses_and_quotes() {
        assert_eq!("primaries".parse(), Ok(MinAvailability::Primaries));
        assert_eq!(" Full ".parse(), Ok(MinAvailability::Full));
        assert_eq!("NONE".parse(), Ok(MinAvailability::None));
        let err = "some".parse::<MinAvailability>().unwrap_err();
        assert!(err.contains("NONE, PRIMARIES or FULL"), "{err}");
        assert_eq!(MinAvailability::Full.to_string(), "FULL");
        assert_eq!(
            MinAvailability::Primaries.as_sql_literal().to_sql(),
            "'PRIMARIES'"
        );
    }

    #[test]
    fn masters_first_keeps_group_order_and_sorts_ordinals_numerically() {
        let pods = vec![
            pod("hot", Some(10)),
            pod("hot", Some(2)),
            pod("cold", Some(1)),
            pod("master", Some(1)),
            pod("hot", None),
            pod("master", Some(0)),
            pod("cold", Some(0)),
        ];
        assert_eq!(
            names(&plan(&pods, Order::MastersFirst)),
            [
                "crate-master-prod-0",
                "crate-master-prod-1",
                "crate-data-hot-prod-2",
                "crate-data-hot-prod-10",
                "crate-data-hot-prod-x",
                "crate-data-cold-prod-0",
                "crate-data-cold-prod-1",
            ]
        );
        assert_eq!(
            names(&plan(&pods, Order::DataFirst)),
            [
                "crate-data-hot-prod-2",
                "crate-data-hot-prod-10",
                "crate-data-hot-prod-x",
                "crate-data-cold-prod-0",
                "crate-data-cold-prod-1",
                "crate-master-prod-0",
                "crate-master-prod-1",
            ]
        );
    }

    #[test]
    fn pods_without_ordinal_go_last_by_name() {
        let mut a = pod("hot", None);
        a.name = "zeta".into();
        let mut b = pod("hot", None);
        b.name = "alpha".into();
        let pods = vec![a, pod("hot", Some(3)), b];
        assert_eq!(
            names(&plan(&pods, Order::MastersFirst)),
            ["crate-data-hot-prod-3", "alpha", "zeta"]
        );
    }

    #[test]
    fn only_on_suspended_nodes_skips_the_others_with_a_reason() {
        let mut suspended = pod("hot", Some(1));
        suspended.on_suspended_node = Some("taint node.kubernetes.io/unschedulable".into());
        let pods = vec![pod("hot", Some(0)), suspended];
        let planned = plan_pods(
            &pods,
            Order::MastersFirst,
            true,
            MinAvailability::Primaries,
            STARTUP,
        );
        assert_eq!(planned[0].skip.as_deref(), Some(NOT_ON_SUSPENDED_NODE));
        assert_eq!(planned[0].note, None);
        assert_eq!(planned[1].skip, None);
        assert_eq!(
            planned[1].note.as_deref(),
            Some("on a suspended node: taint node.kubernetes.io/unschedulable")
        );

        let all = plan_pods(
            &pods,
            Order::MastersFirst,
            false,
            MinAvailability::Primaries,
            STARTUP,
        );
        assert!(all.iter().all(|p| p.skip.is_none()));
    }

    #[test]
    fn a_dc_util_hook_is_trusted_with_a_margin() {
        let mut hooked = pod("hot", Some(0));
        hooked.dc_util_timeout = Some(Duration::from_secs(720));
        let planned = &plan(&[hooked], Order::MastersFirst)[0];
        assert_eq!(
            planned.stop,
            StopMethod::PreStopHook {
                timeout: Duration::from_secs(720),
                grace: Duration::from_secs(780),
            }
        );
        assert_eq!(planned.estimate, Duration::from_secs(720) + STARTUP);
    }

    #[test]
    fn the_grace_period_never_undercuts_the_pods_own() {
        let mut hooked = pod("hot", Some(0));
        hooked.dc_util_timeout = Some(Duration::from_secs(600));
        hooked.termination_grace_period_s = 7200;
        let planned = &plan(&[hooked], Order::MastersFirst)[0];
        assert_eq!(
            planned.stop,
            StopMethod::PreStopHook {
                timeout: Duration::from_secs(600),
                grace: Duration::from_secs(7200),
            }
        );
    }

    #[test]
    fn without_a_hook_we_decommission() {
        let planned = &plan_pods(
            &[pod("hot", Some(0))],
            Order::MastersFirst,
            false,
            MinAvailability::Full,
            STARTUP,
        )[0];
        assert_eq!(
            planned.stop,
            StopMethod::Decommission {
                min_availability: MinAvailability::Full
            }
        );
        assert_eq!(planned.estimate, DECOMMISSION_ESTIMATE + STARTUP);
        let json = serde_json::to_value(&planned.stop).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"method": "decommission", "min_availability": "FULL"})
        );
    }

    fn arb_pod() -> impl Strategy<Value = PodFacts> {
        (
            prop::sample::select(vec!["master", "hot", "warm", "cold"]),
            prop::option::of(0u32..40),
            "[a-z]{1,3}",
            any::<bool>(),
        )
            .prop_map(|(group, ordinal, suffix, suspended)| {
                let mut p = pod(group, ordinal);
                p.name = format!("{}-{suffix}", p.name);
                p.on_suspended_node = suspended.then(|| "cordoned".to_string());
                p
            })
    }

    /// Pods with unique UIDs (names may repeat), so a planned pod can be traced to its facts.
    fn arb_pods() -> impl Strategy<Value = Vec<PodFacts>> {
        prop::collection::vec(arb_pod(), 0..24).prop_map(|mut pods| {
            for (i, p) in pods.iter_mut().enumerate() {
                p.uid = format!("uid-{i}");
            }
            pods
        })
    }

    fn facts<'a>(pods: &'a [PodFacts], planned: &PlannedPod) -> &'a PodFacts {
        pods.iter().find(|f| f.uid == planned.uid).unwrap()
    }

    fn arb_order() -> impl Strategy<Value = Order> {
        prop::sample::select(Order::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn the_plan_is_a_permutation(
            pods in arb_pods(),
            order in arb_order(),
            only in any::<bool>(),
        ) {
            let planned = plan_pods(&pods, order, only, MinAvailability::Primaries, STARTUP);
            let mut got: Vec<(String, String)> =
                planned.iter().map(|p| (p.name.clone(), p.uid.clone())).collect();
            let mut want: Vec<(String, String)> =
                pods.iter().map(|p| (p.name.clone(), p.uid.clone())).collect();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn masters_first_puts_every_master_before_every_data_pod(
            pods in arb_pods(),
        ) {
            let planned = plan(&pods, Order::MastersFirst);
            let first_data = planned.iter().position(|p| !p.master).unwrap_or(planned.len());
            prop_assert!(planned[first_data..].iter().all(|p| !p.master));
            let planned = plan(&pods, Order::DataFirst);
            let first_master = planned.iter().position(|p| p.master).unwrap_or(planned.len());
            prop_assert!(planned[first_master..].iter().all(|p| p.master));
        }

        #[test]
        fn within_a_group_ordinals_ascend(pods in arb_pods()) {
            let planned = plan(&pods, Order::MastersFirst);
            for pair in planned.windows(2) {
                if pair[0].group == pair[1].group {
                    match (facts(&pods, &pair[0]).ordinal, facts(&pods, &pair[1]).ordinal) {
                        (Some(a), Some(b)) => prop_assert!(a <= b),
                        (None, Some(_)) => prop_assert!(false, "unnumbered before numbered"),
                        _ => {}
                    }
                }
            }
        }

        #[test]
        fn only_suspended_pods_run_when_asked(pods in arb_pods()) {
            let planned = plan_pods(&pods, Order::MastersFirst, true, MinAvailability::Primaries, STARTUP);
            for p in &planned {
                prop_assert_eq!(p.skip.is_none(), facts(&pods, p).on_suspended_node.is_some());
            }
        }
    }
}
