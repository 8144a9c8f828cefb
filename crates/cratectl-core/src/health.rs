//! The health verdict: what one reading of CrateDB says, and whether a node may be disrupted now.
//!
//! Readiness is not safety (ARCHITECTURE §1.2). Before cratectl stops a node it reads CrateDB
//! itself, fresh, from a node other than the target, and this module turns that reading into a
//! [`Verdict`]: a [`Health`] level in the vocabulary the operator writes to the custom resource
//! (`GREEN`, `YELLOW`, `RED`, `UNREACHABLE`, `SUSPENDED`, plus our `UNKNOWN`), whether it is
//! *safe to disrupt a node*, and every reason why not, worded for a status line
//! (ARCHITECTURE §1.8).
//!
//! The level follows the operator's query, so both tools agree on the colour:
//!
//! ```sql
//! SELECT max(severity) FROM (
//!   SELECT CAST(max(severity) AS integer) AS severity FROM sys.health
//!   UNION ALL SELECT 3 FROM sys.cluster WHERE master_node IS NULL) sub
//! ```
//!
//! * suspended (every data node group at 0 replicas) → `SUSPENDED`, whatever was read;
//! * CrateDB did not answer → `UNREACHABLE`; the caller could not tell → `UNKNOWN`;
//! * no elected master → `RED`;
//! * max severity NULL (no tables) or 1 → `GREEN`, 2 → `YELLOW`, 3 → `RED`, other → `UNKNOWN`.
//!
//! *Safe to disrupt* is stricter than GREEN: the expected nodes are all present (by count, and
//! by name when the caller knows the names), a master is elected, the level is GREEN, and no
//! shard copy is INITIALIZING or RELOCATING. Fewer nodes than expected with a GREEN `sys.health`
//! is the **stale GREEN** case (node membership becomes visible before the master recomputes
//! health): the level stays GREEN, because that is what CrateDB said, but the verdict is unsafe
//! and says why.
//!
//! One safe verdict is not enough either: [`StabilityGate`] demands `required` consecutive safe
//! verdicts with the same node set and master (crate-operator PR #887 uses 3). It is pure; the
//! caller polls, sleeps and feeds it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::readings::{ClusterReading, ShardsInFlight, TableHealth};

/// A cluster's health level, as the operator writes it to `status.crateDBStatus.health`, plus
/// `UNKNOWN` for "could not tell".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Health {
    Green,
    Yellow,
    Red,
    Unreachable,
    Suspended,
    Unknown,
}

impl Health {
    /// The upper-case word (`GREEN`, …, `UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Green => "GREEN",
            Health::Yellow => "YELLOW",
            Health::Red => "RED",
            Health::Unreachable => "UNREACHABLE",
            Health::Suspended => "SUSPENDED",
            Health::Unknown => "UNKNOWN",
        }
    }

    /// The level for `max(severity)` of the operator's query: NULL or 1 → GREEN, 2 → YELLOW,
    /// 3 → RED, anything else → UNKNOWN.
    pub fn from_max_severity(severity: Option<i64>) -> Health {
        match severity {
            None | Some(1) => Health::Green,
            Some(2) => Health::Yellow,
            Some(3) => Health::Red,
            Some(_) => Health::Unknown,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not one of the six levels.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown health \"{0}\": expected GREEN, YELLOW, RED, UNREACHABLE, SUSPENDED or UNKNOWN")]
pub struct UnknownHealth(pub String);

impl FromStr for Health {
    type Err = UnknownHealth;

    /// Reads the operator's status word, in any case.
    fn from_str(text: &str) -> Result<Health, UnknownHealth> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GREEN" => Ok(Health::Green),
            "YELLOW" => Ok(Health::Yellow),
            "RED" => Ok(Health::Red),
            "UNREACHABLE" => Ok(Health::Unreachable),
            "SUSPENDED" => Ok(Health::Suspended),
            "UNKNOWN" => Ok(Health::Unknown),
            _ => Err(UnknownHealth(text.to_string())),
        }
    }
}

/// What the caller knows at one poll: what it expects (from the Kubernetes side) and what it read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Nodes the cluster should have (the StatefulSets' replicas, masters included).
    pub expected_nodes: u32,
    /// The CrateDB node names expected, when known (may be empty: then only the count is checked).
    pub expected_node_names: Vec<String>,
    /// Every data node group is at 0 replicas.
    pub suspended: bool,
    pub reading: Reading,
}

/// The outcome of reading CrateDB once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reading {
    Read(ClusterReading),
    /// No answer: `tried` is the pod or URL, `error` what went wrong (never with credentials).
    Unreachable {
        tried: String,
        error: String,
    },
    /// Something answered but the caller cannot say what it means.
    Unknown {
        why: String,
    },
}

/// What a reading identifies the cluster as: the sorted node names and the elected master.
/// Two safe verdicts only count as "the same answer" when their fingerprints are equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    pub node_names: Vec<String>,
    pub master_node: Option<String>,
}

impl Fingerprint {
    pub fn of(reading: &ClusterReading) -> Fingerprint {
        let mut node_names: Vec<String> = reading.nodes.iter().map(|n| n.name.clone()).collect();
        node_names.sort();
        Fingerprint {
            node_names,
            master_node: reading.master_node.clone(),
        }
    }
}

/// The decision for one [`Observation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub health: Health,
    /// Expected nodes present, a master elected, GREEN, nothing initializing or relocating.
    pub safe_to_disrupt: bool,
    /// Why it is not safe (empty exactly when it is), in the order they matter.
    pub reasons: Vec<String>,
    /// The node set and master read, when CrateDB answered.
    pub fingerprint: Option<Fingerprint>,
}

impl Verdict {
    /// One line: `GREEN, safe to disrupt a node` or `YELLOW: 2 underreplicated shards in doc.t1`.
    pub fn summary(&self) -> String {
        if self.safe_to_disrupt {
            format!("{}, safe to disrupt a node", self.health)
        } else {
            format!("{}: {}", self.health, self.reasons.join(", "))
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// Decides the health level and whether a node may be disrupted, with reasons.
pub fn assess(observation: &Observation) -> Verdict {
    if observation.suspended {
        return Verdict {
            health: Health::Suspended,
            safe_to_disrupt: false,
            reasons: vec!["cluster is suspended (every data node group has 0 replicas)".to_string()],
            fingerprint: match &observation.reading {
                Reading::Read(reading) => Some(Fingerprint::of(reading)),
                _ => None,
            },
        };
    }
    let reading = match &observation.reading {
        Reading::Read(reading) => reading,
        Reading::Unreachable { tried, error } => {
            return Verdict {
                health: Health::Unreachable,
                safe_to_disrupt: false,
                reasons: vec![format!("CrateDB did not answer via {tried}: {error}")],
                fingerprint: None,
            };
        }
        Reading::Unknown { why } => {
            return Verdict {
                health: Health::Unknown,
                safe_to_disrupt: false,
                reasons: vec![format!("health unknown: {why}")],
                fingerprint: None,
            };
        }
    };

    let mut reasons = Vec::new();
    membership_reasons(observation, reading, &mut reasons);

    let health = match &reading.master_node {
        None => {
            reasons.push("no master elected".to_string());
            Health::Red
        }
        Some(master) => {
            if !reading.nodes.iter().any(|n| &n.id == master) {
                reasons.push(format!("elected master {master} is not among the nodes read"));
            }
            Health::from_max_severity(reading.max_severity)
        }
    };

    match health {
        Health::Green => {}
        Health::Unknown => reasons.push(format!(
            "sys.health reported severity {}, expected 1, 2 or 3",
            reading
                .max_severity
                .map_or_else(|| "NULL".to_string(), |s| s.to_string())
        )),
        _ if reading.master_node.is_some() => table_reasons(health, &reading.unhealthy_tables, &mut reasons),
        // No master: the tables are not the story, and sys.health may be empty.
        _ => {}
    }

    if let Some(in_flight) = in_flight_reason(reading.in_flight) {
        reasons.push(in_flight);
    }

    if health == Health::Green
        && !reasons.is_empty()
        && reading.nodes.len() < observation.expected_nodes as usize
    {
        reasons.push("sys.health says GREEN but cannot be trusted until every node is back".to_string());
    }

    Verdict {
        health,
        safe_to_disrupt: reasons.is_empty(),
        reasons,
        fingerprint: Some(Fingerprint::of(reading)),
    }
}

/// "2 of 3 nodes present (missing data-hot-2)", or the names that differ at the right count.
fn membership_reasons(observation: &Observation, reading: &ClusterReading, reasons: &mut Vec<String>) {
    let present = reading.nodes.len();
    let expected = observation.expected_nodes as usize;
    let names: BTreeSet<&str> = reading.nodes.iter().map(|n| n.name.as_str()).collect();

    let mut details = Vec::new();
    if !observation.expected_node_names.is_empty() {
        let wanted: BTreeSet<&str> = observation
            .expected_node_names
            .iter()
            .map(String::as_str)
            .collect();
        let missing: Vec<&str> = wanted.difference(&names).copied().collect();
        let unexpected: Vec<&str> = names.difference(&wanted).copied().collect();
        if !missing.is_empty() {
            details.push(format!("missing {}", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            details.push(format!("unexpected {}", unexpected.join(", ")));
        }
    }
    if names.len() != present {
        details.push("duplicate node names".to_string());
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    };

    if present != expected {
        reasons.push(format!("{present} of {expected} nodes present{details}"));
    } else if !details.is_empty() {
        reasons.push(format!(
            "{present} nodes present but not the expected ones{details}"
        ));
    }
}

/// One reason per unhealthy table or partition; a bare level when no table explains it.
fn table_reasons(health: Health, tables: &[TableHealth], reasons: &mut Vec<String>) {
    let before = reasons.len();
    for table in tables {
        let mut name = format!("{}.{}", table.schema, table.table);
        if let Some(partition) = &table.partition_ident {
            name.push_str(&format!(" partition {partition}"));
        }
        let mut said = false;
        if table.missing_shards != 0 {
            reasons.push(format!(
                "{} in {name}",
                count_words(table.missing_shards, "missing shard")
            ));
            said = true;
        }
        if table.underreplicated_shards != 0 {
            reasons.push(format!(
                "{} in {name}",
                count_words(table.underreplicated_shards, "underreplicated shard")
            ));
            said = true;
        }
        if !said {
            reasons.push(format!("{name} is {}", table.health.as_str()));
        }
    }
    if reasons.len() == before {
        reasons.push(format!("sys.health is {health}"));
    }
}

fn count_words(count: i64, what: &str) -> String {
    match count {
        1 => format!("1 {what}"),
        // sys.health documents -1 for "cannot be computed".
        c if c < 0 => format!("an unknown number of {what}s"),
        c => format!("{c} {what}s"),
    }
}

fn in_flight_reason(in_flight: ShardsInFlight) -> Option<String> {
    if in_flight.initializing == 0 && in_flight.relocating == 0 {
        return None;
    }
    let noun = if in_flight.initializing == 1 {
        "shard"
    } else {
        "shards"
    };
    Some(format!(
        "{} {noun} initializing, {} relocating",
        in_flight.initializing, in_flight.relocating
    ))
}

/// Where a [`StabilityGate`] stands after a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Stability {
    /// `streak` (≥ `required`) consecutive safe verdicts with the same fingerprint.
    Stable { streak: u32, required: u32 },
    /// Not yet: `why` says what the last verdict lacked, or that the node set or master changed
    /// (empty when the streak is merely still growing).
    Waiting {
        streak: u32,
        required: u32,
        why: Vec<String>,
    },
}

impl Stability {
    pub fn is_stable(&self) -> bool {
        matches!(self, Stability::Stable { .. })
    }

    /// `"2 of 3 stable readings"`.
    pub fn progress(&self) -> String {
        let (streak, required) = match self {
            Stability::Stable { streak, required } | Stability::Waiting { streak, required, .. } => {
                (*streak, *required)
            }
        };
        format!("{} of {required} stable readings", streak.min(required))
    }
}

impl fmt::Display for Stability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stability::Stable { .. } => write!(f, "stable: {}", self.progress()),
            Stability::Waiting { why, .. } if why.is_empty() => write!(f, "{}", self.progress()),
            Stability::Waiting { why, .. } => write!(f, "{}, {}", why.join(", "), self.progress()),
        }
    }
}

/// Demands `required` consecutive safe verdicts with an unchanged node set and master before it
/// reports [`Stability::Stable`]. An unsafe verdict resets the streak to 0; a safe verdict with a
/// different fingerprint restarts it at 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StabilityGate {
    required: u32,
    streak: u32,
    last: Option<Fingerprint>,
}

impl StabilityGate {
    /// A gate needing `required` readings in a row; 0 is taken as 1 (one safe reading is the least).
    pub fn new(required: u32) -> StabilityGate {
        StabilityGate {
            required: required.max(1),
            streak: 0,
            last: None,
        }
    }

    pub fn required(&self) -> u32 {
        self.required
    }

    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Forget the streak (after a disruption, or when the caller starts waiting afresh).
    pub fn reset(&mut self) {
        self.streak = 0;
        self.last = None;
    }

    /// Feeds one verdict.
    pub fn observe(&mut self, verdict: &Verdict) -> Stability {
        let required = self.required;
        let fingerprint = match (&verdict.fingerprint, verdict.safe_to_disrupt) {
            (Some(fingerprint), true) => fingerprint,
            (_, safe) => {
                self.reset();
                let mut why = verdict.reasons.clone();
                if why.is_empty() {
                    why.push(if safe {
                        "no node set was read".to_string()
                    } else {
                        format!("health is {}", verdict.health)
                    });
                }
                return Stability::Waiting {
                    streak: 0,
                    required,
                    why,
                };
            }
        };
        let mut why = Vec::new();
        match &self.last {
            Some(last) if last == fingerprint => self.streak = self.streak.saturating_add(1),
            Some(last) => {
                why.push(change_words(last, fingerprint));
                self.streak = 1;
            }
            None => self.streak = 1,
        }
        self.last = Some(fingerprint.clone());
        if self.streak >= required {
            Stability::Stable {
                streak: self.streak,
                required,
            }
        } else {
            Stability::Waiting {
                streak: self.streak,
                required,
                why,
            }
        }
    }
}

fn change_words(before: &Fingerprint, after: &Fingerprint) -> String {
    if before.node_names != after.node_names {
        format!(
            "node set changed from [{}] to [{}]",
            before.node_names.join(", "),
            after.node_names.join(", ")
        )
    } else {
        format!(
            "elected master changed from {} to {}",
            before.master_node.as_deref().unwrap_or("none"),
            after.master_node.as_deref().unwrap_or("none")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readings::{NodeReading, TableHealthLevel};

    fn node(name: &str) -> NodeReading {
        NodeReading {
            id: format!("id-{name}"),
            name: name.to_string(),
            hostname: None,
            version: Some("5.10.3".to_string()),
        }
    }

    fn reading(names: &[&str]) -> ClusterReading {
        ClusterReading {
            via: "crate-data-hot-demo-0".to_string(),
            nodes: names.iter().map(|n| node(n)).collect(),
            master_node: names.first().map(|n| format!("id-{n}")),
            max_severity: Some(1),
            unhealthy_tables: vec![],
            in_flight: ShardsInFlight::default(),
        }
    }

    fn observe(reading: ClusterReading) -> Observation {
        Observation {
            expected_nodes: 3,
            expected_node_names: vec!["data-hot-0".into(), "data-hot-1".into(), "data-hot-2".into()],
            suspended: false,
            reading: Reading::Read(reading),
        }
    }

    const ALL: &[&str] = &["data-hot-0", "data-hot-1", "data-hot-2"];

    fn table(name: &str, health: TableHealthLevel, missing: i64, under: i64) -> TableHealth {
        TableHealth {
            schema: "doc".into(),
            table: name.into(),
            partition_ident: None,
            health,
            missing_shards: missing,
            underreplicated_shards: under,
        }
    }

    #[test]
    fn healthy_cluster_is_green_and_safe() {
        let verdict = assess(&observe(reading(ALL)));
        assert_eq!(verdict.health, Health::Green);
        assert!(verdict.safe_to_disrupt);
        assert!(verdict.reasons.is_empty());
        assert_eq!(verdict.summary(), "GREEN, safe to disrupt a node");
    }

    #[test]
    fn no_tables_null_severity_is_green() {
        let mut r = reading(ALL);
        r.max_severity = None;
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Green);
        assert!(verdict.safe_to_disrupt);
    }

    #[test]
    fn severity_levels() {
        for (severity, health) in [
            (Some(2), Health::Yellow),
            (Some(3), Health::Red),
            (Some(0), Health::Unknown),
            (Some(4), Health::Unknown),
            (Some(-1), Health::Unknown),
        ] {
            let mut r = reading(ALL);
            r.max_severity = severity;
            let verdict = assess(&observe(r));
            assert_eq!(verdict.health, health, "{severity:?}");
            assert!(!verdict.safe_to_disrupt);
            assert!(!verdict.reasons.is_empty());
        }
        let mut r = reading(ALL);
        r.max_severity = Some(7);
        assert_eq!(
            assess(&observe(r)).reasons,
            ["sys.health reported severity 7, expected 1, 2 or 3"]
        );
    }

    #[test]
    fn yellow_names_the_tables() {
        let mut r = reading(ALL);
        r.max_severity = Some(2);
        r.unhealthy_tables = vec![
            table("t1", TableHealthLevel::Yellow, 0, 2),
            TableHealth {
                partition_ident: Some("04132".into()),
                ..table("parted", TableHealthLevel::Yellow, 0, 1)
            },
        ];
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Yellow);
        assert_eq!(
            verdict.reasons,
            [
                "2 underreplicated shards in doc.t1",
                "1 underreplicated shard in doc.parted partition 04132"
            ]
        );
        assert_eq!(
            verdict.summary(),
            "YELLOW: 2 underreplicated shards in doc.t1, 1 underreplicated shard in doc.parted partition 04132"
        );
    }

    #[test]
    fn red_names_missing_shards_and_bare_levels() {
        let mut r = reading(ALL);
        r.max_severity = Some(3);
        r.unhealthy_tables = vec![
            table("t2", TableHealthLevel::Red, 1, 3),
            table("t3", TableHealthLevel::Yellow, 0, 0),
            table("t4", TableHealthLevel::Red, -1, 0),
        ];
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Red);
        assert_eq!(
            verdict.reasons,
            [
                "1 missing shard in doc.t2",
                "3 underreplicated shards in doc.t2",
                "doc.t3 is YELLOW",
                "an unknown number of missing shards in doc.t4"
            ]
        );

        let mut r = reading(ALL);
        r.max_severity = Some(2);
        assert_eq!(assess(&observe(r)).reasons, ["sys.health is YELLOW"]);
    }

    #[test]
    fn no_master_is_red_whatever_sys_health_says() {
        let mut r = reading(ALL);
        r.master_node = None;
        r.max_severity = None;
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Red);
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(verdict.reasons, ["no master elected"]);
    }

    #[test]
    fn master_not_among_nodes_is_unsafe() {
        let mut r = reading(ALL);
        r.master_node = Some("id-elsewhere".into());
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Green);
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(
            verdict.reasons,
            ["elected master id-elsewhere is not among the nodes read"]
        );
    }

    #[test]
    fn stale_green_is_green_but_not_safe() {
        let verdict = assess(&observe(reading(&["data-hot-0", "data-hot-1"])));
        assert_eq!(verdict.health, Health::Green);
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(
            verdict.reasons,
            [
                "2 of 3 nodes present (missing data-hot-2)",
                "sys.health says GREEN but cannot be trusted until every node is back"
            ]
        );
    }

    #[test]
    fn count_only_when_names_unknown() {
        let mut observation = observe(reading(&["data-hot-0", "data-hot-1"]));
        observation.expected_node_names.clear();
        let verdict = assess(&observation);
        assert_eq!(verdict.reasons[0], "2 of 3 nodes present");
    }

    #[test]
    fn more_nodes_or_other_names_are_unsafe() {
        let verdict = assess(&observe(reading(&[
            "data-hot-0",
            "data-hot-1",
            "data-hot-2",
            "data-hot-3",
        ])));
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(verdict.reasons, ["4 of 3 nodes present (unexpected data-hot-3)"]);

        let verdict = assess(&observe(reading(&["data-hot-0", "data-hot-1", "data-hot-9"])));
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(
            verdict.reasons,
            ["3 nodes present but not the expected ones (missing data-hot-2; unexpected data-hot-9)"]
        );

        let mut observation = observe(reading(&["data-hot-0", "data-hot-1", "data-hot-1"]));
        observation.expected_node_names.clear();
        assert_eq!(
            assess(&observation).reasons,
            ["3 nodes present but not the expected ones (duplicate node names)"]
        );
    }

    #[test]
    fn shards_in_flight_are_unsafe() {
        let mut r = reading(ALL);
        r.in_flight = ShardsInFlight {
            initializing: 1,
            relocating: 0,
        };
        let verdict = assess(&observe(r));
        assert_eq!(verdict.health, Health::Green);
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(verdict.reasons, ["1 shard initializing, 0 relocating"]);

        let mut r = reading(ALL);
        r.in_flight = ShardsInFlight {
            initializing: 0,
            relocating: 2,
        };
        assert_eq!(
            assess(&observe(r)).reasons,
            ["0 shards initializing, 2 relocating"]
        );
    }

    #[test]
    fn suspended_wins() {
        let mut observation = observe(reading(ALL));
        observation.suspended = true;
        let verdict = assess(&observation);
        assert_eq!(verdict.health, Health::Suspended);
        assert!(!verdict.safe_to_disrupt);

        observation.reading = Reading::Unreachable {
            tried: "x".into(),
            error: "refused".into(),
        };
        assert_eq!(assess(&observation).health, Health::Suspended);
    }

    #[test]
    fn unreachable_and_unknown() {
        let mut observation = observe(reading(ALL));
        observation.reading = Reading::Unreachable {
            tried: "pod crate-data-hot-demo-1".into(),
            error: "connection refused".into(),
        };
        let verdict = assess(&observation);
        assert_eq!(verdict.health, Health::Unreachable);
        assert!(!verdict.safe_to_disrupt);
        assert_eq!(
            verdict.reasons,
            ["CrateDB did not answer via pod crate-data-hot-demo-1: connection refused"]
        );

        observation.reading = Reading::Unknown {
            why: "sys.health returned no column".into(),
        };
        let verdict = assess(&observation);
        assert_eq!(verdict.health, Health::Unknown);
        assert_eq!(verdict.reasons, ["health unknown: sys.health returned no column"]);
        assert!(verdict.fingerprint.is_none());
    }

    #[test]
    fn several_reasons_in_order() {
        let mut r = reading(&["data-hot-0", "data-hot-1"]);
        r.max_severity = Some(2);
        r.unhealthy_tables = vec![table("t1", TableHealthLevel::Yellow, 0, 2)];
        r.in_flight.initializing = 1;
        let verdict = assess(&observe(r));
        assert_eq!(
            verdict.summary(),
            "YELLOW: 2 of 3 nodes present (missing data-hot-2), 2 underreplicated shards in doc.t1, \
             1 shard initializing, 0 relocating"
        );
    }

    #[test]
    fn health_words() {
        for health in [
            Health::Green,
            Health::Yellow,
            Health::Red,
            Health::Unreachable,
            Health::Suspended,
            Health::Unknown,
        ] {
            assert_eq!(health.as_str().parse::<Health>().unwrap(), health);
            assert_eq!(health.to_string(), health.as_str());
            assert_eq!(
                serde_json::to_string(&health).unwrap(),
                format!("\"{}\"", health.as_str())
            );
        }
        assert_eq!("yellow".parse::<Health>().unwrap(), Health::Yellow);
        assert!(
            "PURPLE"
                .parse::<Health>()
                .unwrap_err()
                .to_string()
                .contains("PURPLE")
        );
    }

    #[test]
    fn gate_needs_consecutive_safe_readings() {
        let mut gate = StabilityGate::new(3);
        let safe = assess(&observe(reading(ALL)));
        let first = gate.observe(&safe);
        assert!(!first.is_stable());
        assert_eq!(first.progress(), "1 of 3 stable readings");
        assert_eq!(first.to_string(), "1 of 3 stable readings");
        assert!(!gate.observe(&safe).is_stable());
        let third = gate.observe(&safe);
        assert!(third.is_stable());
        assert_eq!(third.to_string(), "stable: 3 of 3 stable readings");
        assert!(gate.observe(&safe).is_stable());
    }

    #[test]
    fn gate_resets_on_an_unsafe_reading() {
        let mut gate = StabilityGate::new(3);
        let safe = assess(&observe(reading(ALL)));
        let stale = assess(&observe(reading(&["data-hot-0", "data-hot-1"])));
        gate.observe(&safe);
        gate.observe(&safe);
        let state = gate.observe(&stale);
        assert_eq!(gate.streak(), 0);
        assert_eq!(
            state.to_string(),
            "2 of 3 nodes present (missing data-hot-2), sys.health says GREEN but cannot be trusted \
             until every node is back, 0 of 3 stable readings"
        );
        assert!(!gate.observe(&safe).is_stable());
        assert!(!gate.observe(&safe).is_stable());
        assert!(gate.observe(&safe).is_stable());
    }

    #[test]
    fn gate_restarts_when_the_fingerprint_changes() {
        let mut gate = StabilityGate::new(2);
        let safe = assess(&observe(reading(ALL)));
        assert!(!gate.observe(&safe).is_stable());
        let mut other_master = reading(ALL);
        other_master.master_node = Some("id-data-hot-2".into());
        let moved = assess(&observe(other_master));
        assert!(moved.safe_to_disrupt);
        let state = gate.observe(&moved);
        assert_eq!(
            state,
            Stability::Waiting {
                streak: 1,
                required: 2,
                why: vec!["elected master changed from id-data-hot-0 to id-data-hot-2".into()]
            }
        );
        assert!(gate.observe(&moved).is_stable());

        let mut observation = observe(reading(&["data-hot-0", "data-hot-1", "data-hot-3"]));
        observation.expected_node_names.clear();
        let renamed = assess(&observation);
        let state = gate.observe(&renamed);
        assert!(!state.is_stable());
        assert!(
            state
                .to_string()
                .starts_with("node set changed from [data-hot-0, data-hot-1, data-hot-2]")
        );
    }

    #[test]
    fn gate_of_zero_needs_one_and_reset_forgets() {
        let mut gate = StabilityGate::new(0);
        assert_eq!(gate.required(), 1);
        let safe = assess(&observe(reading(ALL)));
        assert!(gate.observe(&safe).is_stable());
        gate.reset();
        assert_eq!(gate.streak(), 0);
        let mut observation = observe(reading(ALL));
        observation.reading = Reading::Unreachable {
            tried: "x".into(),
            error: "y".into(),
        };
        let state = gate.observe(&assess(&observation));
        assert_eq!(state.progress(), "0 of 1 stable readings");
        assert!(gate.observe(&safe).is_stable());
    }
}
