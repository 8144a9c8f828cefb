//! The suspend record: what a suspended cluster needs to come back as it was.
//!
//! It lives on the `CrateDB` resource as the annotation [`ANNOTATION`], compact JSON, written
//! with a JSON merge patch of `metadata.annotations` before the suspend's first change, so it
//! survives cratectl's state directory being lost and is visible to `cluster info`, `doctor`
//! and another machine:
//!
//! ```json
//! {"version":1,"workflow_id":"suspend-prod-20261207T101500Z","at":"2026-12-07T10:15:00Z",
//!  "master":3,"data":{"hot":3,"cold":2},
//!  "saga":[{"name":"cluster.routing.allocation.enable","prior":"all"}],
//!  "client_service":null,"mode":"direct","cronjobs":["create-snapshot-prod"],
//!  "deployments":{"grand-central-prod":1}}
//! ```
//!
//! `master` is `null` without dedicated masters. `saga` holds the settings the suspend changed
//! (the `primaries` hold) with their prior values: the saga is deliberately left open across
//! the suspended period and `resume` restores it. `cronjobs` are the backup CronJobs the
//! suspend set to `suspend: true` (they were not suspended before); `deployments` the
//! Deployments it scaled to 0, with their prior replicas. Fields are added, never renamed; a
//! record of a newer version is refused rather than half understood.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::op::saga::SavedSetting;
use crate::scale::plan::Mode;

/// The annotation on the `CrateDB` resource.
pub const ANNOTATION: &str = "cratectl.io/suspended";
/// The record's format version this build writes and reads.
pub const VERSION: u32 = 1;

/// Node counts per group: dedicated masters (`None` without them) and each data group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub master: Option<u64>,
    pub data: BTreeMap<String, u64>,
}

impl Counts {
    /// `master=3, hot=3, cold=2` (masters first, data groups by name).
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self.master.iter().map(|m| format!("master={m}")).collect();
        parts.extend(self.data.iter().map(|(g, n)| format!("{g}={n}")));
        parts.join(", ")
    }

    /// The count of group `group` (`master` or a data group).
    pub fn of(&self, group: &str) -> Option<u64> {
        if group == crate::scale::plan::MASTER_GROUP {
            self.master
        } else {
            self.data.get(group).copied()
        }
    }
}

/// The record (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuspendRecord {
    pub version: u32,
    /// The suspend's cluster workflow id.
    pub workflow_id: String,
    /// When the suspend recorded it.
    pub at: Timestamp,
    #[serde(flatten)]
    pub counts: Counts,
    /// The settings changed, with their prior values (restored by `resume`).
    #[serde(default)]
    pub saga: Vec<SavedSetting>,
    /// The client Service as it was, when the suspend deleted it (`--delete-client-service`).
    #[serde(default)]
    pub client_service: Option<Value>,
    /// Who changed the StatefulSets: `direct` or `operator`.
    #[serde(default)]
    pub mode: Mode,
    /// Backup CronJobs the suspend suspended.
    #[serde(default)]
    pub cronjobs: Vec<String>,
    /// Deployments the suspend scaled to 0, with their replicas before.
    #[serde(default)]
    pub deployments: BTreeMap<String, i32>,
}

impl SuspendRecord {
    /// Compact JSON, as the annotation holds it.
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record in annotation `text` of resource `qualified` (for messages); a clear error
    /// naming the annotation and what is wrong.
    pub fn parse(text: &str, qualified: &str) -> Result<SuspendRecord, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("annotation {ANNOTATION} of {qualified} is not JSON ({e})"))?;
        let version = value.get("version").and_then(Value::as_u64);
        match version {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) if v > u64::from(VERSION) => {
                return Err(format!(
                    "annotation {ANNOTATION} of {qualified} is version {v}, newer than this \
                     cratectl understands ({VERSION}): use a newer cratectl"
                ));
            }
            _ => {
                return Err(format!(
                    "annotation {ANNOTATION} of {qualified} has no valid \"version\" (expected {VERSION})"
                ));
            }
        }
        serde_json::from_value(value)
            .map_err(|e| format!("annotation {ANNOTATION} of {qualified} cannot be read: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> SuspendRecord {
        SuspendRecord {
            version: VERSION,
            workflow_id: "suspend-prod-20261207T101500Z.crate.prod".into(),
            at: "2026-12-07T10:15:00Z".parse().unwrap(),
            counts: Counts {
                master: Some(3),
                data: [("hot".to_string(), 3), ("cold".to_string(), 2)].into(),
            },
            saga: vec![SavedSetting {
                name: "cluster.routing.allocation.enable".into(),
                prior: Value::String("all".into()),
            }],
            client_service: None,
            mode: Mode::Direct,
            cronjobs: vec!["create-snapshot-prod".into()],
            deployments: [("grand-central-prod".to_string(), 1)].into(),
        }
    }

    #[test]
    fn the_record_round_trips_as_compact_json_with_the_documented_fields() {
        let r = record();
        let text = r.to_annotation();
        assert!(!text.contains('\n'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["master"], 3);
        assert_eq!(v["data"]["hot"], 3);
        assert_eq!(v["saga"][0]["prior"], "all");
        assert_eq!(v["workflow_id"], "suspend-prod-20261207T101500Z.crate.prod");
        assert_eq!(SuspendRecord::parse(&text, "crate/prod"), Ok(r));
    }

    #[test]
    fn the_proposal_shape_without_later_fields_is_read() {
        let text = r#"{"version":1,"workflow_id":"w","at":"2026-12-07T10:15:00Z","master":null,"data":{"hot":3},"saga":[],"client_service":null}"#;
        let r = SuspendRecord::parse(text, "crate/prod").unwrap();
        assert_eq!(r.counts.master, None);
        assert_eq!(r.counts.text(), "hot=3");
        assert!(r.cronjobs.is_empty() && r.deployments.is_empty());
    }

    #[test]
    fn bad_records_are_refused_with_the_annotation_named() {
        let e = SuspendRecord::parse("{", "crate/prod").unwrap_err();
        assert!(
            e.contains("cratectl.io/suspended of crate/prod is not JSON"),
            "{e}"
        );
        let e = SuspendRecord::parse(r#"{"version":2}"#, "crate/prod").unwrap_err();
        assert!(e.contains("version 2, newer"), "{e}");
        let e = SuspendRecord::parse(r#"{"data":{}}"#, "crate/prod").unwrap_err();
        assert!(e.contains("no valid \"version\""), "{e}");
        let e = SuspendRecord::parse(r#"{"version":1,"data":{"hot":-1}}"#, "crate/prod").unwrap_err();
        assert!(e.contains("cannot be read"), "{e}");
    }

    #[test]
    fn counts_text_puts_masters_first() {
        assert_eq!(record().counts.text(), "master=3, cold=2, hot=3");
        assert_eq!(record().counts.of("master"), Some(3));
        assert_eq!(record().counts.of("cold"), Some(2));
        assert_eq!(record().counts.of("warm"), None);
    }
}
