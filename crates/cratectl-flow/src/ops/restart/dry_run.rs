//! `cratectl restart --dry-run`: the plan a restart would follow, and what it would decide now,
//! without changing anything (ARCHITECTURE §1.7).
//!
//! The plan comes from the same read-only activities the workflow runs first — [`Discover`]
//! (pods in policy order, stop method, skips, estimates) and [`ReadHealth`] (the verdict now,
//! through a Ready pod) — called directly, outside any engine, so no workflow record is made.
//! The maintenance-window decision is the workflow's own ([`decide`]) for the first pod to
//! restart. Nothing here writes: no SQL that changes state, no Kubernetes write, no state
//! store.
//!
//! The JSON shape (`restart --dry-run -o json`) is a contract: `{"dry_run": true,
//! "workflow_id", "clusters": [{"name", "namespace", "health", "window", "pods": [{"name",
//! "order", "stop", "skip", "estimate_s"}], "estimate_s"}]}`; the other fields extend it.

use std::sync::Arc;
use std::time::Duration;

use cratectl_core::op::lanes::lanes;
use cratectl_core::op::window::{WindowDecision, decide, estimate_step_duration};
use cratectl_core::restart::plan::{PlannedPod, StopMethod};
use futures::StreamExt;
use jiff::Timestamp;
use serde::Serialize;

use super::activities::{Discover, DiscoverIn};
use super::model::RestartRequest;
use crate::activities::At;
use crate::activities::common::{HealthIn, ReadHealth};
use crate::engine::RunActivity;
use crate::env::ActivityEnv;
use crate::model::ClusterRef;
use cratectl_core::text;

/// How many clusters are read at once.
const CONCURRENCY: usize = 8;

/// The plan of a whole request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DryRun {
    /// Always true: tells a plan from a report.
    pub dry_run: bool,
    /// The id the restart would get if started now.
    pub workflow_id: String,
    pub clusters: Vec<ClusterPlan>,
    /// Expected duration of the whole request: clusters run in `parallel` lanes, as the
    /// workflow runs them, and the longest lane counts.
    pub estimate_s: f64,
    pub parallel: usize,
}

/// One cluster's plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterPlan {
    pub name: String,
    pub namespace: String,
    /// The health verdict now (`null` when the cluster could not be read at all).
    pub health: Option<HealthNow>,
    /// The maintenance-window decision now for the first pod; `null` when no maintenance
    /// configuration applies.
    pub window: Option<WindowNow>,
    /// Pods in the order they would be restarted.
    pub pods: Vec<PodPlan>,
    /// Sum of the estimates of the pods that would be restarted.
    pub estimate_s: f64,
    // Extensions.
    pub resource: String,
    /// Why the restart would be refused at start, when it would (unhealthy, suspended, not
    /// discoverable); `null` when it would start.
    pub refused: Option<String>,
    pub warnings: Vec<String>,
}

/// The verdict a restart would start from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthNow {
    pub safe_to_disrupt: bool,
    /// `GREEN, safe to disrupt a node` or `YELLOW: 2 underreplicated shards in doc.t1`.
    pub summary: String,
}

/// The maintenance-window decision now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowNow {
    /// One line: `in window until …`, `waiting for window until …`, `maintenance windows
    /// ignored (--ignore-maintenance-windows)`.
    pub summary: String,
    /// The open time the first pod needs, in seconds.
    pub needed_s: Option<f64>,
    /// The decision itself (`"decision": "proceed" | "wait_until" | "no_window_ahead"` with
    /// its fields); absent when windows are ignored or no pod would be restarted.
    #[serde(flatten)]
    pub decision: Option<WindowDecision>,
}

/// One pod of the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodPlan {
    pub name: String,
    /// 1-based position in the restart order.
    pub order: usize,
    pub stop: StopPlan,
    /// Why the pod would be left alone, if it would.
    pub skip: Option<String>,
    /// Expected duration of its restart (stop, start, rejoin), in seconds.
    pub estimate_s: f64,
    // Extensions.
    pub group: String,
    pub uid: String,
    pub note: Option<String>,
}

/// How a pod would be stopped.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum StopPlan {
    /// Deleted with `grace_s`; its dc_util preStop hook decommissions the node
    /// (`timeout_s` is the hook's own limit).
    PrestopHook { timeout_s: u64, grace_s: u64 },
    /// cratectl decommissions the node with this `graceful_stop.min_availability`, then
    /// deletes the pod.
    Decommission { min_availability: String },
}

impl StopPlan {
    /// `dc_util preStop hook (timeout 12m, grace 13m)` / `decommission (min_availability PRIMARIES)`.
    pub fn describe(&self) -> String {
        match self {
            StopPlan::PrestopHook { timeout_s, grace_s } => format!(
                "dc_util preStop hook (timeout {}, grace {})",
                text::duration(Duration::from_secs(*timeout_s)),
                text::duration(Duration::from_secs(*grace_s))
            ),
            StopPlan::Decommission { min_availability } => {
                format!("decommission (min_availability {min_availability})")
            }
        }
    }
}

impl From<&StopMethod> for StopPlan {
    fn from(stop: &StopMethod) -> StopPlan {
        match stop {
            StopMethod::PreStopHook { timeout, grace } => StopPlan::PrestopHook {
                timeout_s: timeout.as_secs(),
                grace_s: grace.as_secs(),
            },
            StopMethod::Decommission { min_availability } => StopPlan::Decommission {
                min_availability: min_availability.to_string(),
            },
        }
    }
}

/// The plan of `request` at `now`. Each cluster is read on its own: one that cannot be read
/// has `refused` set and does not hide the others.
pub async fn plan(env: Arc<ActivityEnv>, request: &RestartRequest, now: Timestamp) -> DryRun {
    let clusters: Vec<ClusterPlan> = futures::stream::iter(request.clusters.iter())
        .map(|cluster| plan_cluster(env.clone(), request, cluster, now))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    // The workflow's own lanes: a lane takes as long as its clusters one after the other.
    let lanes = lanes(clusters.len(), request.options.parallel);
    let estimate_s = lanes
        .iter()
        .map(|lane| lane.iter().map(|&i| clusters[i].estimate_s).sum::<f64>())
        .fold(0.0, f64::max);
    DryRun {
        dry_run: true,
        workflow_id: request.request_id.clone(),
        estimate_s,
        parallel: lanes.len(),
        clusters,
    }
}

async fn plan_cluster(
    env: Arc<ActivityEnv>,
    request: &RestartRequest,
    cluster: &ClusterRef,
    now: Timestamp,
) -> ClusterPlan {
    let options = &request.options;
    let at = At {
        target: request.target.clone(),
        cluster: cluster.clone(),
    };
    let mut plan = ClusterPlan {
        name: cluster.name.clone(),
        namespace: cluster.namespace.clone(),
        health: None,
        window: None,
        pods: Vec::new(),
        estimate_s: 0.0,
        resource: cluster.resource.clone(),
        refused: None,
        warnings: Vec::new(),
    };
    // The schedule, as the workflow reads it (the CLI validated the file already).
    let schedule = match options.common().schedule(&cluster.name) {
        Ok(schedule) => schedule,
        Err(e) => {
            plan.refused = Some(e);
            return plan;
        }
    };

    let snapshot = <Discover as RunActivity<ActivityEnv>>::run(
        env.clone(),
        DiscoverIn {
            at: at.clone(),
            options: options.clone(),
            config_min_availability: schedule.as_ref().and_then(|s| s.min_availability),
        },
    )
    .await;
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(e) => {
            plan.refused = Some(format!("cannot discover the cluster: {e}"));
            return plan;
        }
    };
    if !options.skip_hook_warning {
        plan.warnings = snapshot.warnings.clone();
    }
    plan.pods = snapshot
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| pod_plan(i, p))
        .collect();
    plan.estimate_s = snapshot
        .pods
        .iter()
        .filter(|p| p.skip.is_none())
        .map(|p| p.estimate.as_secs_f64())
        .sum();

    let health = <ReadHealth as RunActivity<ActivityEnv>>::run(env, HealthIn { at, avoid: None }).await;
    match health {
        Ok(health) => {
            if !health.safe {
                plan.refused = Some(format!("not safe to start: {}", health.summary));
            }
            plan.health = Some(HealthNow {
                safe_to_disrupt: health.safe,
                summary: health.summary,
            });
        }
        Err(e) => plan.refused = Some(format!("cannot read the cluster's health: {e}")),
    }
    if snapshot.suspended {
        plan.refused = Some("the cluster is suspended (every data group has 0 replicas)".into());
    }

    let first = snapshot.pods.iter().find(|p| p.skip.is_none());
    plan.window = match (
        &options.maintenance,
        options.ignore_maintenance_windows,
        schedule,
        first,
    ) {
        (None, _, _, _) => None,
        (Some(_), true, _, _) => Some(WindowNow {
            summary: "maintenance windows ignored (--ignore-maintenance-windows)".into(),
            needed_s: None,
            decision: None,
        }),
        (Some(_), false, Some(schedule), Some(first)) => {
            let needed = estimate_step_duration(&[], first.estimate);
            let decision = decide(&schedule, now, needed, &format!("pod {}", first.name));
            Some(WindowNow {
                summary: match &decision {
                    WindowDecision::WaitUntil { reason, .. } | WindowDecision::NoWindowAhead { reason } => {
                        format!("{}: {reason}", decision.summary())
                    }
                    WindowDecision::Proceed { .. } => decision.summary(),
                },
                needed_s: Some(needed.as_secs_f64()),
                decision: Some(decision),
            })
        }
        (Some(_), false, _, _) => Some(WindowNow {
            summary: "no pod to restart".into(),
            needed_s: None,
            decision: None,
        }),
    };
    plan
}

fn pod_plan(index: usize, pod: &PlannedPod) -> PodPlan {
    PodPlan {
        name: pod.name.clone(),
        order: index + 1,
        stop: StopPlan::from(&pod.stop),
        skip: pod.skip.clone(),
        estimate_s: pod.estimate.as_secs_f64(),
        group: pod.group.clone(),
        uid: pod.uid.clone(),
        note: pod.note.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_methods_read_well_and_serialize_flat() {
        let hook = StopPlan::PrestopHook {
            timeout_s: 720,
            grace_s: 780,
        };
        assert_eq!(hook.describe(), "dc_util preStop hook (timeout 12m, grace 13m)");
        assert_eq!(
            serde_json::to_value(&hook).unwrap(),
            serde_json::json!({"method": "prestop_hook", "timeout_s": 720, "grace_s": 780})
        );
        let own = StopPlan::Decommission {
            min_availability: "PRIMARIES".into(),
        };
        assert_eq!(own.describe(), "decommission (min_availability PRIMARIES)");
    }

    #[test]
    fn a_window_decision_is_flattened_into_the_window() {
        let window = WindowNow {
            summary: "in window (open without end)".into(),
            needed_s: Some(60.0),
            decision: Some(WindowDecision::Proceed { until: None }),
        };
        let value = serde_json::to_value(&window).unwrap();
        assert_eq!(value["decision"], "proceed");
        assert_eq!(value["summary"], "in window (open without end)");
        let ignored = WindowNow {
            summary: "ignored".into(),
            needed_s: None,
            decision: None,
        };
        assert!(serde_json::to_value(&ignored).unwrap().get("decision").is_none());
    }
}
