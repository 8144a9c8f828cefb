//! The restart's report: each cluster's common part ([`ClusterCommon`]) plus its pods, what
//! `restart` and `status` print with `-o json`/`yaml`, rendered as text for `-o text`. The
//! top level, the states and the exit-code rule are every operation's
//! ([`crate::op::report`]).
//!
//! The JSON shape is a contract that scripts parse: `workflow_id`, `operation`, `state`,
//! `started_at`, `finished_at`, `clusters[]` with `name`, `namespace`, `state`, `reason`,
//! `waiting_for`, `pods[]` and the other fields below are never renamed or removed; fields
//! added later default when an older record lacks them.

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::text;

pub use crate::op::report::{ClusterCommon, ClusterOutcome, ClusterState, OperationReport, RequestState};

/// What happened to one pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodResult {
    #[default]
    Pending,
    Restarted,
    Skipped,
    Failed,
}

impl PodResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PodResult::Pending => "pending",
            PodResult::Restarted => "restarted",
            PodResult::Skipped => "skipped",
            PodResult::Failed => "failed",
        }
    }
}

impl fmt::Display for PodResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One pod of a cluster's restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodReport {
    pub name: String,
    /// The UID before the restart.
    pub old_uid: Option<String>,
    /// The UID of the pod that replaced it.
    pub new_uid: Option<String>,
    pub result: PodResult,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Seconds from stop to rejoined and stable.
    pub duration_s: Option<f64>,
}

/// One cluster of the request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    #[serde(flatten)]
    pub common: ClusterCommon,
    #[serde(default)]
    pub pods: Vec<PodReport>,
    /// 1-based position of the pod being restarted.
    #[serde(default)]
    pub pod_index: Option<usize>,
    #[serde(default)]
    pub pod_total: usize,
}

impl ClusterOutcome for ClusterReport {
    fn common(&self) -> &ClusterCommon {
        &self.common
    }

    fn common_mut(&mut self) -> &mut ClusterCommon {
        &mut self.common
    }

    fn step_failed(&self) -> bool {
        self.pods.iter().any(|p| p.result == PodResult::Failed)
    }
}

/// The whole request.
pub type RestartReport = OperationReport<ClusterReport>;

impl OperationReport<ClusterReport> {
    /// The report for people (`-o text`): a header, then one block per cluster with its state,
    /// reason, what it waits for, and a line per pod (result, UIDs shortened to 8 characters,
    /// duration, reason).
    pub fn text(&self) -> String {
        let mut out = self.header_text();
        for cluster in &self.clusters {
            out.push('\n');
            cluster_text(&mut out, cluster);
        }
        out
    }
}

fn cluster_text(out: &mut String, report: &ClusterReport) {
    let c = &report.common;
    let _ = write!(out, "{} (namespace {}): {}", c.name, c.namespace, c.state);
    if let Some(index) = report.pod_index {
        let _ = write!(out, ", pod {index} of {}", report.pod_total);
    }
    out.push('\n');
    crate::op::report::common_lines(out, c);
    let width = report
        .pods
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    for pod in &report.pods {
        let mut line = format!("  {:<width$}  {:<9}", pod.name, pod.result.as_str());
        match (&pod.old_uid, &pod.new_uid) {
            (Some(old), Some(new)) => {
                let _ = write!(line, "  {} -> {}", short(old), short(new));
            }
            (Some(old), None) => {
                let _ = write!(line, "  {}", short(old));
            }
            (None, Some(new)) => {
                let _ = write!(line, "  -> {}", short(new));
            }
            (None, None) => {}
        }
        if let Some(seconds) = pod.duration_s {
            let _ = write!(line, "  {}", duration_text(seconds));
        }
        if let Some(reason) = &pod.reason {
            let _ = write!(line, "  ({reason})");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The first 8 characters of a UID.
fn short(uid: &str) -> &str {
    uid.char_indices().nth(8).map_or(uid, |(i, _)| &uid[..i])
}

/// A pod's `duration_s` as [`text::duration`] writes it (`42.5s`, `3m05s`, `1h02m`).
fn duration_text(seconds: f64) -> String {
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) => text::duration(d),
        // Negative or not a number: a record this version did not write; show it as it is.
        Err(_) => format!("{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::ids::OperationKind;
    use serde_json::json;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn cluster(state: ClusterState) -> ClusterReport {
        ClusterReport {
            common: ClusterCommon {
                name: "prod".into(),
                namespace: "crate".into(),
                state,
                ..ClusterCommon::default()
            },
            ..ClusterReport::default()
        }
    }

    fn report(state: RequestState, clusters: Vec<ClusterReport>) -> RestartReport {
        RestartReport {
            workflow_id: "restart-prod-20261206T071500Z".into(),
            state,
            clusters,
            ..RestartReport::default()
        }
    }

    #[test]
    fn json_has_every_contract_field_with_nulls() {
        let r = RestartReport {
            workflow_id: "restart-prod-20261206T071500Z".into(),
            state: RequestState::Running,
            started_at: Some(ts("2026-12-06T08:15:00+01:00")),
            finished_at: None,
            clusters: vec![ClusterReport {
                pods: vec![PodReport {
                    name: "crate-data-hot-prod-0".into(),
                    old_uid: Some("0f1e2d3c-aaaa".into()),
                    ..PodReport::default()
                }],
                ..cluster(ClusterState::Waiting)
            }],
            ..RestartReport::default()
        };
        let value = serde_json::to_value(&r).unwrap();
        assert_eq!(value["workflow_id"], "restart-prod-20261206T071500Z");
        assert_eq!(value["operation"], "restart");
        assert_eq!(value["state"], "running");
        assert_eq!(value["started_at"], "2026-12-06T07:15:00Z");
        assert_eq!(value["finished_at"], json!(null));
        let c = &value["clusters"][0];
        for key in ["name", "namespace", "state", "reason", "waiting_for", "pods"] {
            assert!(c.get(key).is_some(), "cluster lacks {key}");
        }
        assert_eq!(c["state"], "waiting");
        assert_eq!(c["reason"], json!(null));
        let p = &c["pods"][0];
        assert_eq!(
            *p,
            json!({
                "name": "crate-data-hot-prod-0", "old_uid": "0f1e2d3c-aaaa", "new_uid": null,
                "result": "pending", "reason": null, "started_at": null, "finished_at": null,
                "duration_s": null
            })
        );
        let back: RestartReport = serde_json::from_value(value).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn older_records_without_extensions_still_read() {
        let value = json!({
            "workflow_id": "w", "state": "completed", "started_at": null, "finished_at": null,
            "clusters": [{"name": "a", "namespace": "n", "state": "stopped", "reason": null,
                          "waiting_for": null, "pods": []}]
        });
        let r: RestartReport = serde_json::from_value(value).unwrap();
        assert_eq!(r.operation, OperationKind::Restart);
        assert_eq!(r.clusters[0].common.state, ClusterState::Stopped);
        assert_eq!(r.clusters[0].pod_total, 0);
    }

    #[test]
    fn states_serialize_snake_case() {
        for (state, word) in [
            (ClusterState::Pending, "pending"),
            (ClusterState::Waiting, "waiting"),
            (ClusterState::Running, "running"),
            (ClusterState::Succeeded, "succeeded"),
            (ClusterState::Failed, "failed"),
            (ClusterState::Cancelled, "cancelled"),
            (ClusterState::Stopped, "stopped"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), word);
            assert_eq!(state.to_string(), word);
        }
        for (result, word) in [
            (PodResult::Pending, "pending"),
            (PodResult::Restarted, "restarted"),
            (PodResult::Skipped, "skipped"),
            (PodResult::Failed, "failed"),
        ] {
            assert_eq!(serde_json::to_value(result).unwrap(), word);
        }
        assert_eq!(
            serde_json::to_value(RequestState::Cancelled).unwrap(),
            "cancelled"
        );
    }

    #[test]
    fn overall_state() {
        use ClusterState::*;
        let overall = |states: &[ClusterState]| {
            RestartReport::overall(&states.iter().map(|s| cluster(*s)).collect::<Vec<_>>())
        };
        assert_eq!(overall(&[]), RequestState::Completed);
        assert_eq!(overall(&[Succeeded, Succeeded]), RequestState::Completed);
        assert_eq!(overall(&[Succeeded, Stopped]), RequestState::Completed);
        assert_eq!(overall(&[Failed, Running]), RequestState::Running);
        assert_eq!(overall(&[Pending, Succeeded]), RequestState::Running);
        assert_eq!(overall(&[Waiting]), RequestState::Running);
        assert_eq!(overall(&[Failed, Cancelled, Succeeded]), RequestState::Failed);
        assert_eq!(overall(&[Cancelled, Succeeded]), RequestState::Cancelled);

        let mut stopped = cluster(Stopped);
        stopped.pods.push(PodReport {
            result: PodResult::Failed,
            ..PodReport::default()
        });
        assert_eq!(
            RestartReport::overall(&[stopped, cluster(Succeeded)]),
            RequestState::Failed
        );
    }

    #[test]
    fn exit_codes() {
        use ClusterState::*;
        assert_eq!(
            report(RequestState::Completed, vec![cluster(Succeeded)]).exit_code(),
            0
        );
        assert_eq!(report(RequestState::Completed, vec![]).exit_code(), 0);
        assert_eq!(
            report(RequestState::Running, vec![cluster(Running)]).exit_code(),
            0
        );
        assert_eq!(
            report(RequestState::Running, vec![cluster(Failed)]).exit_code(),
            0
        );
        assert_eq!(
            report(RequestState::Failed, vec![cluster(Succeeded)]).exit_code(),
            1
        );
        assert_eq!(report(RequestState::Cancelled, vec![]).exit_code(), 1);
        assert_eq!(
            report(RequestState::Completed, vec![cluster(Succeeded), cluster(Failed)]).exit_code(),
            1
        );
        assert_eq!(
            report(RequestState::Completed, vec![cluster(Cancelled)]).exit_code(),
            1
        );
        assert_eq!(
            report(RequestState::Completed, vec![cluster(Stopped)]).exit_code(),
            0
        );
        let mut stopped = cluster(Stopped);
        stopped.pods.push(PodReport {
            result: PodResult::Failed,
            ..PodReport::default()
        });
        assert_eq!(report(RequestState::Completed, vec![stopped]).exit_code(), 1);
    }

    #[test]
    fn text_summary() {
        let r = RestartReport {
            workflow_id: "restart-prod-20261206T071500Z".into(),
            state: RequestState::Running,
            // Recorded to the nanosecond; text shows whole seconds.
            started_at: Some(ts("2026-12-06T07:15:00.700204536Z")),
            finished_at: None,
            clusters: vec![ClusterReport {
                common: ClusterCommon {
                    waiting_for: Some(
                        "GREEN: 2 underreplicated shards in doc.t1, 1 of 3 stable readings".into(),
                    ),
                    window: Some("in window until 2026-12-07T02:00:00Z".into()),
                    ..cluster(ClusterState::Running).common
                },
                pod_index: Some(2),
                pod_total: 3,
                pods: vec![
                    PodReport {
                        name: "crate-data-hot-prod-0".into(),
                        old_uid: Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()),
                        new_uid: Some("9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4".into()),
                        result: PodResult::Restarted,
                        duration_s: Some(134.4),
                        ..PodReport::default()
                    },
                    PodReport {
                        name: "crate-data-hot-prod-1".into(),
                        old_uid: Some("11112222-3333".into()),
                        result: PodResult::Pending,
                        ..PodReport::default()
                    },
                    PodReport {
                        name: "crate-data-hot-prod-10".into(),
                        result: PodResult::Skipped,
                        reason: Some("not on a suspended node".into()),
                        duration_s: Some(0.31),
                        ..PodReport::default()
                    },
                ],
            }],
            ..RestartReport::default()
        };
        assert_eq!(
            r.text(),
            "restart-prod-20261206T071500Z: running, started 2026-12-06T07:15:00Z\n\
             \n\
             prod (namespace crate): running, pod 2 of 3\n\
             \x20 waiting for: GREEN: 2 underreplicated shards in doc.t1, 1 of 3 stable readings\n\
             \x20 window: in window until 2026-12-07T02:00:00Z\n\
             \x20 crate-data-hot-prod-0   restarted  0f1e2d3c -> 9a8b7c6d  2m14s\n\
             \x20 crate-data-hot-prod-1   pending    11112222\n\
             \x20 crate-data-hot-prod-10  skipped    0.3s  (not on a suspended node)\n"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_text(42.46), "42.5s");
        assert_eq!(duration_text(185.0), "3m05s");
        assert_eq!(duration_text(3720.0), "1h02m");
        assert_eq!(duration_text(-1.0), "-1s");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("0123456789"), "01234567");
    }
}
