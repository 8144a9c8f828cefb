//! `cratectl doctor`: what operations leave behind, and the exact command that clears each.
//!
//! A restart or scale that dies half-way (ours, the operator's, dc_util's, the Python
//! rolling-restart tool's) leaves state that quietly changes how the cluster behaves: shard
//! allocation held at `primaries` keeps the cluster YELLOW after the next node restart; a leftover
//! exclusion keeps shards off a node forever; a stale ownership label or Lease blocks or misleads
//! the next operation. [`diagnose`] reads what the adapters fetched and returns one [`Finding`] per
//! leftover, each with a stable `code`, a message, and the exact fix: an SQL statement built with
//! [`crate::sql`] or a `kubectl` command.
//!
//! What is checked, and what counts as left behind:
//!
//! * **Cluster settings** ([`crate::readings::TOUCHED_SETTINGS`]), by *effective* value — CrateDB
//!   shows transient over persistent over default and not the levels, so a setting that was
//!   never set, or was RESET, reads as its default. "Unset" therefore means "at its default" and
//!   is fine. A setting missing from the reading (or null) means the adapter did not read it:
//!   that is reported (`setting_not_read`), never assumed fine.
//!   `allocation.enable` must be `all` (any case); `graceful_stop.min_availability` `PRIMARIES`
//!   (CrateDB renders it upper-case), `graceful_stop.timeout` 2 h (compared as a duration, so
//!   `7200s` is fine) and `graceful_stop.force` false. The fix is `RESET GLOBAL "<setting>"`,
//!   which clears both levels.
//! * **Allocation exclusions** (`allocation.exclude._name`), name by name against the nodes in
//!   `sys.nodes` ([`DoctorInput::nodes`]; an entry is a pattern where `*` matches any text, as
//!   CrateDB reads it). An entry that matches no node names a node that no longer exists: an
//!   operation excluded it and never lifted it, and it would keep shards off any node that takes
//!   that name later (`allocation_exclusions`); the fix removes exactly those entries and keeps
//!   the others (the saga's [`crate::op::saga::exclusion_statements`], so `RESET` only when
//!   nothing is left). An entry that matches a member may be on purpose — a person or script
//!   draining the node, the crate-operator scaling the cluster down, an operation in progress —
//!   so it is reported (`allocation_exclusions_live`) with the command to lift it by hand, and
//!   never changed. Without `sys.nodes`, no entry is judged and none is changed.
//!   dc_util's preStop writes the three `graceful_stop` settings and never resets them, so on
//!   clusters with that hook these findings are expected after every pod restart.
//! * **The `dc-util-routing-owner` label**
//!   (docs/crate-operator-behaviour.md#routing-allocation-ownership). The operator writes
//!   `dc-util-routing-owner=operator-<unix seconds>` on **every StatefulSet** of the cluster
//!   before each pod it restarts, and removes it when the restart ends; dc_util reads it from its
//!   own StatefulSet, splits the value at its first `-`, and honours it only when the owner is
//!   exactly `operator` and |now − timestamp| ≤ 2 h (crate/crate-operator,
//!   `utils/dc_util/dc_util.go`, `operatorOwnsRoutingAllocation`; [`dc_util_honours`]). So a
//!   label on a StatefulSet is *stale* when its timestamp is more than 2 h away from now, when it
//!   names another owner (`cratectl-<unix seconds>`, which cratectl wrote before it spoke the
//!   protocol), or when it is unreadable: dc_util ignores it and it only misleads people
//!   (`stale_routing_owner_label`). A fresh one means a restart is running right now (the
//!   operator's, or cratectl's, which writes the same value), which is not a finding. The label
//!   on a pod or on the CrateDB resource is never read by anyone: `misplaced_routing_owner_label`.
//! * **The operation Lease** (`cratectl-<resource>`, held by the cratectl workflow that operates
//!   on the cluster): held (a holder is set) but not renewed within `leaseDurationSeconds` of
//!   `now` is expired (`expired_lease`); held without a renew time or duration cannot expire by
//!   itself (`lease_without_expiry`). A released Lease (no holder) is fine.
//!
//! While an operation appears to be running ([`running_operation`]), changed settings may be held
//! on purpose: those findings carry a [`Finding::caution`] naming who holds them, and nothing
//! should apply their fix automatically. The Lease is looked at first: a held one names the
//! cratectl workflow. Only without it does a fresh routing-owner label on a StatefulSet point at
//! the crate-operator, since the label's value no longer tells the two apart.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use crate::op::ownership::{
    LeaseReading, ROUTING_OWNER_LABEL, ROUTING_OWNER_MAX_AGE, ROUTING_OWNER_OPERATOR, dc_util_honours,
    fresh_owner_age, parse_routing_owner,
};
use crate::op::saga;
use crate::readings::{SettingsReading, TOUCHED_SETTINGS};
use crate::sql;
use crate::text;

/// Every finding code, stable for scripts.
pub const CODES: &[&str] = &[
    "allocation_not_all",
    "allocation_exclusions",
    "allocation_exclusions_live",
    "graceful_stop_changed",
    "setting_not_read",
    "stale_routing_owner_label",
    "misplaced_routing_owner_label",
    "expired_lease",
    "lease_without_expiry",
    "suspended",
];

/// What `doctor` examines, as the adapters read it.
#[derive(Clone, Debug, PartialEq)]
pub struct DoctorInput {
    /// The namespace of the CrateDB resource (for the `kubectl` fixes).
    pub namespace: String,
    /// The CrateDB cluster's name (`spec.cluster.name`, else the resource name), which ends the
    /// ids of cratectl's per-cluster workflows.
    pub cluster: String,
    /// `None` when the settings could not be read: no settings finding is made then (the
    /// caller reports the gap).
    pub settings: Option<SettingsReading>,
    /// The names of the CrateDB nodes in `sys.nodes` now, to tell an exclusion of a node that no
    /// longer exists from one of a member; `None` when they could not be read.
    ///
    /// Which exclusions a recorded cratectl operation added would tell more (its saga records
    /// them), but that is in the state store of the machine that ran it, which doctor does not
    /// read yet.
    pub nodes: Option<Vec<String>>,
    /// Every `dc-util-routing-owner` label seen, and where.
    pub owner_labels: Vec<OwnerLabel>,
    /// The cluster's operation Lease, when one exists.
    pub lease: Option<LeaseReading>,
    /// The suspend record on the resource, when there is one (or the error reading it).
    pub suspend_record: Option<Result<crate::suspend::record::SuspendRecord, String>>,
    pub now: Timestamp,
}

/// A `dc-util-routing-owner` label and the object carrying it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerLabel {
    pub object: LabelledObject,
    pub value: String,
}

/// An object that can carry a label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum LabelledObject {
    StatefulSet(String),
    Pod(String),
    CrateDb(String),
}

impl LabelledObject {
    fn kubectl_resource(&self) -> (&'static str, &str) {
        match self {
            LabelledObject::StatefulSet(name) => ("statefulset", name),
            LabelledObject::Pod(name) => ("pod", name),
            LabelledObject::CrateDb(name) => ("cratedbs.cloud.crate.io", name),
        }
    }
}

impl fmt::Display for LabelledObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelledObject::StatefulSet(name) => write!(f, "StatefulSet {name}"),
            LabelledObject::Pod(name) => write!(f, "pod {name}"),
            LabelledObject::CrateDb(name) => write!(f, "CrateDB {name}"),
        }
    }
}

/// The exact fix for a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "command", rename_all = "snake_case")]
pub enum Fix {
    /// A statement to run against CrateDB.
    Sql(String),
    /// A command to run in a shell.
    Kubectl(String),
    /// No single command: what to do instead.
    Manual(String),
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::Sql(text) | Fix::Kubectl(text) | Fix::Manual(text) => f.write_str(text),
        }
    }
}

/// One leftover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable snake_case id (one of [`CODES`]).
    pub code: String,
    pub message: String,
    pub fix: Fix,
    /// Why applying the fix right now may be wrong (an operation appears to be running).
    pub caution: Option<String>,
    /// What `doctor --fix` does for this finding, in structured form (the `fix` text is for
    /// people).
    #[serde(skip)]
    pub action: Action,
}

/// The fix as something a program can apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Action {
    /// Nothing can be applied automatically.
    #[default]
    None,
    /// Run these statements on CrateDB, in order.
    Sql(Vec<String>),
    /// Remove the routing-owner label from this object.
    RemoveOwnerLabel(LabelledObject),
    /// Delete this Lease.
    DeleteLease(String),
}

fn finding(code: &str, message: String, fix: Fix) -> Finding {
    let action = match &fix {
        Fix::Sql(stmt) => Action::Sql(vec![stmt.clone()]),
        Fix::Kubectl(_) | Fix::Manual(_) => Action::None,
    };
    Finding {
        code: code.to_string(),
        message,
        fix,
        caution: None,
        action,
    }
}

/// Finds leftovers (rules in the module documentation), settings first, then labels, then the Lease.
pub fn diagnose(input: &DoctorInput) -> Vec<Finding> {
    let mut findings = input
        .settings
        .as_ref()
        .map(|settings| settings_findings(settings, input.nodes.as_deref()))
        .unwrap_or_default();
    if let Some(caution) = running_operation(input).map(|op| op.caution()) {
        for finding in &mut findings {
            if finding.code != "setting_not_read" {
                finding.caution = Some(caution.clone());
            }
        }
    }
    for label in &input.owner_labels {
        findings.extend(label_finding(label, &input.namespace, input.now));
    }
    if let Some(lease) = &input.lease {
        findings.extend(lease_finding(lease, &input.namespace, input.now));
    }
    if let Some(record) = &input.suspend_record {
        suspend_findings(&mut findings, record, &input.cluster);
    }
    findings
}

/// A suspended cluster: the record is reported with how to resume, and the settings its saga
/// holds are the resume's to put back, not a leftover to reset by hand (a RESET would let
/// CrateDB rebuild replicas while the nodes come back).
fn suspend_findings(
    findings: &mut Vec<Finding>,
    record: &Result<crate::suspend::record::SuspendRecord, String>,
    cluster: &str,
) {
    let resume = format!("cratectl resume {}", shell_word(cluster));
    let record = match record {
        Err(why) => {
            findings.push(finding(
                "suspended",
                format!("the cluster carries a suspend record that cannot be read: {why}"),
                Fix::Manual(format!(
                    "inspect annotation {} on the resource; resume with --replicas GROUP=N",
                    crate::suspend::record::ANNOTATION
                )),
            ));
            return;
        }
        Ok(record) => record,
    };
    for f in findings.iter_mut() {
        let held = record
            .saga
            .iter()
            .any(|s| f.code == "allocation_not_all" && s.name == saga::ALLOCATION_ENABLE);
        if held {
            f.caution = Some(format!(
                "held by suspend {} on purpose: `{resume}` puts it back once every node is in",
                record.workflow_id
            ));
            f.fix = Fix::Manual(resume.clone());
            f.action = Action::None;
        }
    }
    let held: Vec<&str> = record.saga.iter().map(|s| s.name.as_str()).collect();
    findings.push(finding(
        "suspended",
        format!(
            "suspended by {} at {} with {}{}",
            record.workflow_id,
            record.at,
            record.counts.text(),
            if held.is_empty() {
                String::new()
            } else {
                format!("; the record holds {} to put back", held.join(", "))
            }
        ),
        Fix::Manual(resume),
    ));
}

/// The touched settings doctor judges (a restore's recovery tuning is put back by its saga and
/// has no leftover rule here).
const JUDGED: &[&str] = &[
    "cluster.routing.allocation.enable",
    "cluster.routing.allocation.exclude._name",
    "cluster.graceful_stop.min_availability",
    "cluster.graceful_stop.timeout",
    "cluster.graceful_stop.force",
];

fn settings_findings(settings: &SettingsReading, nodes: Option<&[String]>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, default) in TOUCHED_SETTINGS.iter().filter(|(n, _)| JUDGED.contains(n)) {
        let value = match settings.effective.get(*name) {
            Some(serde_json::Value::Null) | None => {
                findings.push(finding(
                    "setting_not_read",
                    format!("{name} was not in the settings read, so it could not be checked"),
                    Fix::Manual(format!(
                        "read it with: SELECT settings{} FROM sys.cluster",
                        name.split('.')
                            .map(|part| format!("[{}]", sql::quote_literal(part)))
                            .collect::<String>()
                    )),
                ));
                continue;
            }
            Some(value) => value,
        };
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let reset = Fix::Sql(sql::reset_global(name));
        match *name {
            "cluster.routing.allocation.enable" if !text.trim().eq_ignore_ascii_case("all") => {
                let effect = match text.trim().to_ascii_lowercase().as_str() {
                    "primaries" | "new_primaries" => {
                        "replicas are not allocated, so the cluster stays YELLOW after any node restart"
                    }
                    "none" => "no shard is allocated, so a restarted node's shards stay unassigned",
                    _ => "shard allocation is restricted",
                };
                findings.push(finding(
                    "allocation_not_all",
                    format!("{name} is \"{text}\", not \"{default}\": {effect}"),
                    reset,
                ));
            }
            "cluster.routing.allocation.exclude._name" => {
                findings.extend(exclusion_findings(settings, nodes));
            }
            "cluster.graceful_stop.min_availability" if !text.trim().eq_ignore_ascii_case(default) => {
                findings.push(graceful_stop(name, &text, default, reset));
            }
            "cluster.graceful_stop.timeout" if crate_time_value(value) != Some(Duration::from_secs(7200)) => {
                findings.push(graceful_stop(name, &text, default, reset));
            }
            "cluster.graceful_stop.force" if !text.trim().eq_ignore_ascii_case(default) => {
                findings.push(graceful_stop(name, &text, default, reset));
            }
            _ => {}
        }
    }
    findings
}

/// The findings about `allocation.exclude._name` (rules in the module documentation).
fn exclusion_findings(settings: &SettingsReading, nodes: Option<&[String]>) -> Vec<Finding> {
    let name = saga::ALLOCATION_EXCLUDE_NAME;
    let entries = saga::exclusion_list(settings);
    let Some(nodes) = nodes else {
        let Some(first) = entries.first() else {
            return Vec::new();
        };
        return vec![finding(
            "allocation_exclusions",
            format!(
                "{name} keeps shards off {}; sys.nodes could not be read, so doctor cannot tell an exclusion \
                 left behind for a node that no longer exists from one set on purpose",
                entries.join(", ")
            ),
            Fix::Manual(format!(
                "compare with SELECT name FROM sys.nodes; lift one left behind (the others stay) with, for \
                 {first}: {}",
                saga::exclusion_statements(settings, &[], std::slice::from_ref(first)).join("; ")
            )),
        )];
    };
    let (live, gone): (Vec<String>, Vec<String>) = entries
        .into_iter()
        .partition(|entry| nodes.iter().any(|node| name_pattern_matches(entry, node)));
    let mut findings = Vec::new();
    if !gone.is_empty() {
        let statements = saga::exclusion_statements(settings, &[], &gone);
        let (these, nodes_that) = if gone.len() == 1 {
            ("it is", "a node that no longer exists")
        } else {
            ("they are", "nodes that no longer exist")
        };
        findings.push(with_action(
            Action::Sql(statements.clone()),
            finding(
                "allocation_exclusions",
                format!(
                    "{name} excludes {}, and {these} not in sys.nodes: {nodes_that}, left behind by an \
                     operation that did not lift the exclusion; it would keep shards off any node that takes \
                     the name later",
                    gone.join(", ")
                ),
                Fix::Sql(statements.join("; ")),
            ),
        ));
    }
    if let Some(first) = live.first() {
        // Lifting one also drops the entries of nodes that no longer exist, so the command
        // stays right after the fix above was applied.
        let remove: Vec<String> = gone.iter().chain([first]).cloned().collect();
        findings.push(finding(
            "allocation_exclusions_live",
            format!(
                "{name} keeps shards off {}, {} of the cluster: someone may have set this on purpose (a person \
                 or script draining the node, the crate-operator scaling the cluster down, an operation in \
                 progress), so doctor leaves it alone",
                live.join(", "),
                if live.len() == 1 {
                    "a current member"
                } else {
                    "current members"
                }
            ),
            Fix::Manual(format!(
                "once nobody needs it, lift one exclusion (other members' stay) with, for {first}: {}",
                saga::exclusion_statements(settings, &[], &remove).join("; ")
            )),
        ));
    }
    findings
}

/// Whether the exclusion entry `pattern` matches the node name `name` as CrateDB matches it:
/// exactly, case-sensitive, where each `*` stands for any text (also none).
fn name_pattern_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole name must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn graceful_stop(name: &str, text: &str, default: &str, fix: Fix) -> Finding {
    finding(
        "graceful_stop_changed",
        format!(
            "{name} is \"{text}\", not the default \"{default}\": left by a decommission (dc_util's preStop \
             sets it and never resets it)"
        ),
        fix,
    )
}

/// A CrateDB time value (`2h`, `7200s`, `7200000`, a JSON number of milliseconds).
fn crate_time_value(value: &serde_json::Value) -> Option<Duration> {
    let text = match value {
        serde_json::Value::Number(n) => return n.as_u64().map(Duration::from_millis),
        serde_json::Value::String(s) => s.trim().to_ascii_lowercase(),
        _ => return None,
    };
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let nanos_per_unit: u64 = match unit {
        "" | "ms" => 1_000_000,
        "nanos" => 1,
        "micros" => 1_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    number.checked_mul(nanos_per_unit).map(Duration::from_nanos)
}

/// Who appears to be running an operation on the cluster, and so may hold changed settings on
/// purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunningOperation {
    /// The cluster's cratectl Lease `lease` is held by the cratectl workflow `holder`;
    /// `status_id` is the id `cratectl status` takes for it (the request's, when `holder` is one
    /// of its per-cluster workflows).
    Cratectl {
        lease: String,
        holder: String,
        status_id: String,
    },
    /// No cratectl Lease is held, but `object` carries the routing-owner label `value`, which
    /// dc_util honours, set `age` ago (negative: ahead of now).
    Operator {
        object: LabelledObject,
        value: String,
        age: SignedDuration,
    },
}

impl RunningOperation {
    /// Why applying a settings fix now may be wrong, naming who holds the settings.
    pub fn caution(&self) -> String {
        match self {
            RunningOperation::Cratectl {
                lease,
                holder,
                status_id,
            } => format!(
                "Lease {lease} is held by cratectl operation {holder}; see `cratectl status {status_id}`: it \
                 may hold these settings on purpose; fix only once it has finished"
            ),
            RunningOperation::Operator { object, value, age } => {
                let when = if age.is_negative() {
                    format!("{} in the future", text::span(-*age))
                } else {
                    format!("{} ago", text::span(*age))
                };
                format!(
                    "{object} carries {ROUTING_OWNER_LABEL}={value} set {when} and no cratectl Lease is held: \
                     the crate-operator is probably restarting the cluster and holds these settings on \
                     purpose; fix only once it has finished"
                )
            }
        }
    }
}

/// Who appears to be running an operation, if anyone: the cluster's cratectl Lease first (held,
/// and not lapsed), then a routing-owner label dc_util honours on a StatefulSet. cratectl writes
/// the same `operator-<unix seconds>` label as the crate-operator, and only while it holds its
/// Lease, so a fresh label points at the operator only when no cratectl Lease is held.
pub fn running_operation(input: &DoctorInput) -> Option<RunningOperation> {
    if let Some(lease) = &input.lease
        && let Some(holder) = lease.holder_at(input.now)
    {
        let status_id = crate::op::ids::request_of_child(holder, &input.namespace, &input.cluster)
            .unwrap_or_else(|| holder.to_string());
        return Some(RunningOperation::Cratectl {
            lease: lease.name.clone(),
            holder: holder.to_string(),
            status_id,
        });
    }
    input.owner_labels.iter().find_map(|label| match label.object {
        LabelledObject::StatefulSet(_) => {
            fresh_owner_age(&label.value, input.now).map(|age| RunningOperation::Operator {
                object: label.object.clone(),
                value: label.value.clone(),
                age,
            })
        }
        LabelledObject::Pod(_) | LabelledObject::CrateDb(_) => None,
    })
}

fn label_finding(label: &OwnerLabel, namespace: &str, now: Timestamp) -> Option<Finding> {
    let (resource, name) = label.object.kubectl_resource();
    let fix = Fix::Kubectl(format!(
        "kubectl -n {} label {resource} {} {ROUTING_OWNER_LABEL}-",
        shell_word(namespace),
        shell_word(name)
    ));
    let remove = Action::RemoveOwnerLabel(label.object.clone());
    if !matches!(label.object, LabelledObject::StatefulSet(_)) {
        return Some(with_action(
            remove,
            finding(
                "misplaced_routing_owner_label",
                format!(
                    "{} carries {ROUTING_OWNER_LABEL}={}: dc_util reads this label only from its StatefulSet, so \
                 here it has no effect",
                    label.object, label.value
                ),
                fix,
            ),
        ));
    }
    let why = match parse_routing_owner(&label.value) {
        None => "is not <owner>-<unix seconds> (the operator writes operator-<seconds>), so dc_util \
                 cannot honour it"
            .to_string(),
        Some((owner, _)) if owner != ROUTING_OWNER_OPERATOR => format!(
            "names owner \"{owner}\"; dc_util honours only \"{ROUTING_OWNER_OPERATOR}\" \
             ({ROUTING_OWNER_OPERATOR}-<unix seconds>), so it has no effect"
        ),
        Some((_, at)) => {
            let age = now.duration_since(at);
            if age.abs() <= ROUTING_OWNER_MAX_AGE {
                return None;
            }
            let when = if age.is_negative() {
                format!("{} in the future", text::span(-age))
            } else {
                format!("{} ago", text::span(age))
            };
            format!(
                "was set {when}; dc_util ignores it beyond {}, so it is left over from a restart that did \
                 not clean up",
                text::span(ROUTING_OWNER_MAX_AGE)
            )
        }
    };
    Some(with_action(
        remove,
        finding(
            "stale_routing_owner_label",
            format!(
                "{} carries {ROUTING_OWNER_LABEL}={}, which {why}",
                label.object, label.value
            ),
            fix,
        ),
    ))
}

fn with_action(action: Action, mut finding: Finding) -> Finding {
    finding.action = action;
    finding
}

fn lease_finding(lease: &LeaseReading, namespace: &str, now: Timestamp) -> Option<Finding> {
    let holder = lease.holder.as_deref().filter(|h| !h.is_empty())?;
    let fix = Fix::Kubectl(format!(
        "kubectl -n {} delete lease {}",
        shell_word(namespace),
        shell_word(&lease.name)
    ));
    let delete = Action::DeleteLease(lease.name.clone());
    match lease.expires_at() {
        Some(expiry) if expiry < now => Some(with_action(
            delete,
            finding(
                "expired_lease",
                format!(
                    "Lease {} is held by {holder} but expired {} ago (renewed {}, duration {}): the operation that \
                 held it is gone",
                    lease.name,
                    text::span(now.duration_since(expiry)),
                    lease.renew_time.map_or_else(String::new, text::instant),
                    text::span(SignedDuration::from_secs(
                        lease.lease_duration_seconds.unwrap_or_default()
                    ))
                ),
                fix,
            ),
        )),
        Some(_) => None,
        None => Some(finding(
            "lease_without_expiry",
            format!(
                "Lease {} is held by {holder} without a renew time or duration, so it never expires; make sure \
                 no operation is running before deleting it",
                lease.name
            ),
            fix,
        )),
    }
}

/// A word safe to paste into a POSIX shell: as is when plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b'='));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-09-01T12:00:00Z".parse().unwrap()
    }

    fn defaults() -> SettingsReading {
        let mut settings = SettingsReading::default();
        settings
            .effective
            .insert("cluster.routing.allocation.enable".into(), json!("all"));
        settings
            .effective
            .insert("cluster.routing.allocation.exclude._name".into(), json!(""));
        settings.effective.insert(
            "cluster.graceful_stop.min_availability".into(),
            json!("PRIMARIES"),
        );
        settings
            .effective
            .insert("cluster.graceful_stop.timeout".into(), json!("2h"));
        settings
            .effective
            .insert("cluster.graceful_stop.force".into(), json!(false));
        settings
    }

    fn input(settings: SettingsReading) -> DoctorInput {
        DoctorInput {
            namespace: "db".into(),
            cluster: "demo".into(),
            settings: Some(settings),
            nodes: Some(vec![
                "data-hot-0".into(),
                "data-hot-1".into(),
                "data-hot-2".into(),
            ]),
            owner_labels: vec![],
            lease: None,
            suspend_record: None,
            now: now(),
        }
    }

    fn with(name: &str, value: serde_json::Value) -> DoctorInput {
        let mut settings = defaults();
        settings.effective.insert(name.into(), value);
        input(settings)
    }

    fn owner(seconds_ago: i64) -> String {
        format!("operator-{}", now().as_second() - seconds_ago)
    }

    #[test]
    fn clean_cluster_has_no_findings() {
        assert_eq!(diagnose(&input(defaults())), []);
        // Other renderings of the defaults.
        let mut settings = defaults();
        settings
            .effective
            .insert("cluster.routing.allocation.enable".into(), json!("ALL"));
        settings.effective.insert(
            "cluster.graceful_stop.min_availability".into(),
            json!("primaries"),
        );
        settings
            .effective
            .insert("cluster.graceful_stop.timeout".into(), json!("7200s"));
        settings
            .effective
            .insert("cluster.graceful_stop.force".into(), json!("false"));
        assert_eq!(diagnose(&input(settings)), []);
        assert_eq!(
            diagnose(&with("cluster.graceful_stop.timeout", json!(7_200_000))),
            []
        );
        assert_eq!(
            diagnose(&with("cluster.graceful_stop.timeout", json!("120m"))),
            []
        );
    }

    #[test]
    fn allocation_held() {
        let findings = diagnose(&with("cluster.routing.allocation.enable", json!("primaries")));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "allocation_not_all");
        assert!(
            findings[0]
                .message
                .starts_with("cluster.routing.allocation.enable is \"primaries\"")
        );
        assert_eq!(
            findings[0].fix,
            Fix::Sql("RESET GLOBAL \"cluster.routing.allocation.enable\"".into())
        );
        assert_eq!(findings[0].caution, None);
    }

    #[test]
    fn a_hold_of_a_suspend_is_the_resume_s_to_put_back() {
        let mut input = with("cluster.routing.allocation.enable", json!("primaries"));
        let record = crate::suspend::record::SuspendRecord::parse(
            r#"{"version":1,"workflow_id":"suspend-demo-20261207T101500Z.db.demo","at":"2026-12-07T10:15:00Z",
               "master":null,"data":{"hot":3},
               "saga":[{"name":"cluster.routing.allocation.enable","prior":"all"}]}"#,
            "db/demo",
        )
        .unwrap();
        input.suspend_record = Some(Ok(record));
        let findings = diagnose(&input);
        let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["allocation_not_all", "suspended"]);
        assert_eq!(findings[0].fix, Fix::Manual("cratectl resume demo".into()));
        assert_eq!(findings[0].action, Action::None, "never reset by --fix");
        assert!(
            findings[0]
                .caution
                .as_deref()
                .unwrap()
                .contains("held by suspend suspend-demo-20261207T101500Z.db.demo"),
            "{findings:?}"
        );
        assert_eq!(
            findings[1].message,
            "suspended by suspend-demo-20261207T101500Z.db.demo at 2026-12-07T10:15:00Z with hot=3; \
             the record holds cluster.routing.allocation.enable to put back"
        );
        input.suspend_record = Some(Err("not JSON".into()));
        let findings = diagnose(&input);
        assert_eq!(
            findings[0].fix,
            Fix::Sql("RESET GLOBAL \"cluster.routing.allocation.enable\"".into())
        );
        assert!(findings[1].message.contains("cannot be read: not JSON"));
    }

    /// Exclusions, entry by entry against sys.nodes (data-hot-0 to -2 are members):
    /// (exclude._name, codes, the fix of each).
    #[test]
    fn exclusions_of_gone_nodes_are_fixed_and_of_members_left_alone() {
        const SET_HOT_1: &str = "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-1'; \
                                 SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-1'";
        const RESET: &str = "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"";
        let cases: Vec<(&str, Vec<&str>, Vec<String>)> = vec![
            ("", vec![], vec![]),
            (" , ", vec![], vec![]),
            (
                "data-hot-3, data-hot-4",
                vec!["allocation_exclusions"],
                vec![RESET.to_string()],
            ),
            (
                "data-cold-*",
                vec!["allocation_exclusions"],
                vec![RESET.to_string()],
            ),
            (
                "data-hot-1",
                vec!["allocation_exclusions_live"],
                vec![format!(
                    "once nobody needs it, lift one exclusion (other members' stay) with, for data-hot-1: {RESET}"
                )],
            ),
            (
                "data-hot-*",
                vec!["allocation_exclusions_live"],
                vec![format!(
                    "once nobody needs it, lift one exclusion (other members' stay) with, for data-hot-*: {RESET}"
                )],
            ),
            (
                "data-hot-9,data-hot-1",
                vec!["allocation_exclusions", "allocation_exclusions_live"],
                vec![
                    SET_HOT_1.to_string(),
                    format!(
                        "once nobody needs it, lift one exclusion (other members' stay) with, for data-hot-1: {RESET}"
                    ),
                ],
            ),
        ];
        for (value, codes, fixes) in cases {
            let findings = diagnose(&with("cluster.routing.allocation.exclude._name", json!(value)));
            let got: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
            assert_eq!(got, codes, "{value:?}");
            let got: Vec<String> = findings.iter().map(|f| f.fix.to_string()).collect();
            assert_eq!(got, fixes, "{value:?}");
        }

        let findings = diagnose(&with(
            "cluster.routing.allocation.exclude._name",
            json!("data-hot-9,data-hot-2,data-hot-1"),
        ));
        assert_eq!(
            findings[0].message,
            "cluster.routing.allocation.exclude._name excludes data-hot-9, and it is not in sys.nodes: a node that \
             no longer exists, left behind by an operation that did not lift the exclusion; it would keep shards off \
             any node that takes the name later"
        );
        // The fix keeps the members' entries, at both levels, and is applied as two statements.
        assert_eq!(
            findings[0].action,
            Action::Sql(vec![
                "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-1,data-hot-2'".into(),
                "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-1,data-hot-2'".into(),
            ])
        );
        assert!(
            findings[1]
                .message
                .starts_with("cluster.routing.allocation.exclude._name keeps shards off data-hot-1, data-hot-2, current members of the cluster: someone may have set this on purpose"),
            "{}",
            findings[1].message
        );
        assert_eq!(
            findings[1].action,
            Action::None,
            "a member's exclusion is never lifted by --fix"
        );
        // Lifting data-hot-1 by hand also drops data-hot-9, and keeps data-hot-2.
        assert!(
            findings[1].fix.to_string().ends_with(
                "for data-hot-1: SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2'; \
                 SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2'"
            ),
            "{}",
            findings[1].fix
        );
    }

    #[test]
    fn without_sys_nodes_no_exclusion_is_judged() {
        let mut doctor = with(
            "cluster.routing.allocation.exclude._name",
            json!("data-hot-9,data-hot-1"),
        );
        doctor.nodes = None;
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "allocation_exclusions");
        assert!(
            findings[0].message.contains("sys.nodes could not be read"),
            "{}",
            findings[0].message
        );
        assert!(matches!(findings[0].fix, Fix::Manual(_)));
        assert_eq!(findings[0].action, Action::None);
    }

    #[test]
    fn exclusion_patterns() {
        for (pattern, name, matches) in [
            ("data-hot-1", "data-hot-1", true),
            ("data-hot-1", "data-hot-10", false),
            ("data-hot-1", "Data-hot-1", false),
            ("data-hot-*", "data-hot-10", true),
            ("*", "anything", true),
            ("*-hot-*", "data-hot-0", true),
            ("data-*-0", "data-hot-0", true),
            ("data-*-0", "data-hot-1", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("**", "", true),
        ] {
            assert_eq!(name_pattern_matches(pattern, name), matches, "{pattern} {name}");
        }
    }

    #[test]
    fn graceful_stop_changes() {
        for (name, value) in [
            ("cluster.graceful_stop.min_availability", json!("FULL")),
            ("cluster.graceful_stop.timeout", json!("1080s")),
            ("cluster.graceful_stop.timeout", json!("2.5h")),
            ("cluster.graceful_stop.force", json!(true)),
        ] {
            let findings = diagnose(&with(name, value.clone()));
            assert_eq!(findings.len(), 1, "{name} {value}");
            assert_eq!(findings[0].code, "graceful_stop_changed");
            assert!(findings[0].message.starts_with(name));
            assert_eq!(findings[0].fix, Fix::Sql(sql::reset_global(name)));
        }
    }

    #[test]
    fn unread_settings_are_reported() {
        let mut settings = defaults();
        settings.effective.remove("cluster.routing.allocation.enable");
        settings
            .effective
            .insert("cluster.graceful_stop.force".into(), serde_json::Value::Null);
        let findings = diagnose(&input(settings));
        assert_eq!(findings.len(), 2);
        assert!(findings.iter().all(|f| f.code == "setting_not_read"));
        assert_eq!(
            findings[0].fix,
            Fix::Manual(
                "read it with: SELECT settings['cluster']['routing']['allocation']['enable'] FROM sys.cluster"
                    .into()
            )
        );
    }

    #[test]
    fn stale_label_on_a_statefulset() {
        let mut doctor = input(defaults());
        doctor.owner_labels = vec![
            OwnerLabel {
                object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
                value: owner(5 * 3600),
            },
            OwnerLabel {
                object: LabelledObject::StatefulSet("crate-master-demo".into()),
                value: owner(-3 * 3600),
            },
            OwnerLabel {
                object: LabelledObject::StatefulSet("crate-data-cold-demo".into()),
                value: "someone".into(),
            },
        ];
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 3);
        assert!(findings.iter().all(|f| f.code == "stale_routing_owner_label"));
        assert!(
            findings[0].message.contains("was set 5h ago"),
            "{}",
            findings[0].message
        );
        assert_eq!(
            findings[0].fix,
            Fix::Kubectl("kubectl -n db label statefulset crate-data-hot-demo dc-util-routing-owner-".into())
        );
        assert!(
            findings[1].message.contains("3h in the future"),
            "{}",
            findings[1].message
        );
        assert!(findings[2].message.contains("is not <owner>-<unix seconds>"));
    }

    /// dc_util's rule, case by case (the cases of upstream's `TestOperatorOwnsRoutingAllocation`
    /// in crate/crate-operator `utils/dc_util/decommission_test.go`, and a few more).
    #[test]
    fn dc_util_honours_only_a_fresh_operator_label() {
        let stamp = |owner: &str, seconds_ago: i64| format!("{owner}-{}", now().as_second() - seconds_ago);
        let ttl = ROUTING_OWNER_MAX_AGE.as_secs();
        for (value, honoured) in [
            (stamp("operator", 0), true),
            (stamp("operator", ttl - 60), true),
            (stamp("operator", ttl), true),
            (stamp("operator", ttl + 60), false),
            (stamp("operator", -60), true),
            (stamp("operator", -ttl - 60), false),
            (stamp("cratectl", 0), false),
            ("someone-else-1786000000".to_string(), false),
            (stamp("Operator", 0), false),
            ("operator".to_string(), false),
            ("operator-not-a-number".to_string(), false),
            (String::new(), false),
        ] {
            assert_eq!(dc_util_honours(&value, now()), honoured, "{value:?}");
        }
    }

    #[test]
    fn a_label_naming_another_owner_is_stale_however_fresh() {
        let mut doctor = input(defaults());
        doctor.owner_labels = vec![OwnerLabel {
            object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
            value: format!("cratectl-{}", now().as_second() - 60),
        }];
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "stale_routing_owner_label");
        assert!(
            findings[0]
                .message
                .contains("names owner \"cratectl\"; dc_util honours only \"operator\""),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn fresh_label_means_a_restart_is_running() {
        let mut doctor = with("cluster.routing.allocation.enable", json!("primaries"));
        doctor.owner_labels = vec![OwnerLabel {
            object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
            value: owner(600),
        }];
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "allocation_not_all");
        let caution = findings[0].caution.as_deref().unwrap();
        assert!(caution.contains("set 10m ago"), "{caution}");
        assert!(caution.contains("no cratectl Lease is held: the crate-operator is probably restarting"));
    }

    /// cratectl's own restart labels the StatefulSets `operator-<ts>` while it holds its Lease:
    /// the caution names the workflow, not the crate-operator.
    #[test]
    fn a_held_cratectl_lease_is_named_before_a_fresh_label() {
        let mut doctor = with("cluster.routing.allocation.enable", json!("primaries"));
        doctor.owner_labels = vec![OwnerLabel {
            object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
            value: owner(60),
        }];
        doctor.lease = Some(lease(
            Some(10),
            Some(60),
            Some("restart-demo-20260901T115000Z.db.demo"),
        ));
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let caution = findings[0].caution.as_deref().unwrap();
        assert!(
            caution.contains(
                "held by cratectl operation restart-demo-20260901T115000Z.db.demo; see `cratectl status \
                 restart-demo-20260901T115000Z`"
            ),
            "{caution}"
        );
        assert!(!caution.contains("crate-operator"), "{caution}");
    }

    /// [`running_operation`], case by case: the Lease is looked at before the labels.
    #[test]
    fn who_runs_an_operation() {
        let child = "restart-demo-20260901T115000Z.db.demo";
        let request = "restart-demo-20260901T115000Z";
        let sts = |value: String| OwnerLabel {
            object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
            value,
        };
        let pod = |value: String| OwnerLabel {
            object: LabelledObject::Pod("crate-data-hot-demo-0".into()),
            value,
        };
        let cratectl = |holder: &str, status_id: &str| {
            Some(RunningOperation::Cratectl {
                lease: "cratectl-demo".into(),
                holder: holder.into(),
                status_id: status_id.into(),
            })
        };
        let operator = |seconds_ago: i64| {
            Some(RunningOperation::Operator {
                object: LabelledObject::StatefulSet("crate-data-hot-demo".into()),
                value: owner(seconds_ago),
                age: SignedDuration::from_secs(seconds_ago),
            })
        };
        let live = lease(Some(10), Some(60), Some(child));
        let expired = lease(Some(3600), Some(60), Some(child));
        let released = lease(Some(10), Some(60), None);
        type Case = (
            &'static str,
            Vec<OwnerLabel>,
            Option<LeaseReading>,
            Option<RunningOperation>,
        );
        let cases: Vec<Case> = vec![
            ("nothing", vec![], None, None),
            (
                "held Lease, no label",
                vec![],
                Some(live.clone()),
                cratectl(child, request),
            ),
            (
                "held Lease and a fresh label: cratectl's own restart",
                vec![sts(owner(60))],
                Some(live.clone()),
                cratectl(child, request),
            ),
            (
                "a holder that is no child id of this cluster is named as it is",
                vec![sts(owner(60))],
                Some(lease(Some(10), Some(60), Some("laptop-1"))),
                cratectl("laptop-1", "laptop-1"),
            ),
            ("fresh label, no Lease", vec![sts(owner(60))], None, operator(60)),
            (
                "fresh label, expired Lease",
                vec![sts(owner(60))],
                Some(expired),
                operator(60),
            ),
            (
                "fresh label, released Lease",
                vec![sts(owner(60))],
                Some(released),
                operator(60),
            ),
            ("stale label", vec![sts(owner(3 * 3600))], None, None),
            (
                "a fresh label of another owner is ignored, as dc_util ignores it",
                vec![sts(format!("cratectl-{}", now().as_second() - 60))],
                None,
                None,
            ),
            (
                "a fresh label on a pod counts for nothing",
                vec![pod(owner(60))],
                None,
                None,
            ),
        ];
        for (name, labels, lease, expected) in cases {
            let mut doctor = input(defaults());
            doctor.owner_labels = labels;
            doctor.lease = lease;
            assert_eq!(running_operation(&doctor), expected, "{name}");
        }
    }

    #[test]
    fn misplaced_labels() {
        let mut doctor = input(defaults());
        doctor.namespace = "my ns".into();
        doctor.owner_labels = vec![
            OwnerLabel {
                object: LabelledObject::Pod("crate-data-hot-demo-0".into()),
                value: owner(60),
            },
            OwnerLabel {
                object: LabelledObject::CrateDb("demo".into()),
                value: owner(60),
            },
        ];
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 2);
        assert!(findings.iter().all(|f| f.code == "misplaced_routing_owner_label"));
        assert_eq!(
            findings[0].fix.to_string(),
            "kubectl -n 'my ns' label pod crate-data-hot-demo-0 dc-util-routing-owner-"
        );
        assert_eq!(
            findings[1].fix.to_string(),
            "kubectl -n 'my ns' label cratedbs.cloud.crate.io demo dc-util-routing-owner-"
        );
    }

    fn lease(renewed_ago: Option<i64>, duration: Option<i64>, holder: Option<&str>) -> LeaseReading {
        LeaseReading {
            name: "cratectl-demo".into(),
            holder: holder.map(str::to_string),
            renew_time: renewed_ago.map(|s| now().checked_sub(SignedDuration::from_secs(s)).unwrap()),
            lease_duration_seconds: duration,
        }
    }

    #[test]
    fn who_holds_a_lease_now() {
        for (lease, expected) in [
            (lease(Some(10), Some(60), Some("laptop-1")), Some("laptop-1")),
            (lease(Some(3600), Some(60), Some("laptop-1")), None),
            (lease(None, None, Some("laptop-1")), Some("laptop-1")),
            (lease(Some(10), Some(60), Some("")), None),
            (lease(Some(10), Some(60), None), None),
        ] {
            assert_eq!(lease.holder_at(now()), expected, "{lease:?}");
            assert_eq!(lease.held_at(now()), expected.is_some(), "{lease:?}");
        }
    }

    #[test]
    fn leases() {
        let mut doctor = input(defaults());
        doctor.lease = Some(lease(Some(3 * 3600), Some(60), Some("laptop-1")));
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "expired_lease");
        assert!(
            findings[0]
                .message
                .contains("expired 2h59m ago (renewed 2026-09-01T09:00:00Z, duration 1m)"),
            "{}",
            findings[0].message
        );
        assert_eq!(
            findings[0].fix,
            Fix::Kubectl("kubectl -n db delete lease cratectl-demo".into())
        );

        doctor.lease = Some(lease(Some(30), Some(60), Some("laptop-1")));
        assert_eq!(diagnose(&doctor), []);
        doctor.lease = Some(lease(Some(3600), Some(60), None));
        assert_eq!(diagnose(&doctor), []);
        doctor.lease = Some(lease(Some(3600), Some(60), Some("")));
        assert_eq!(diagnose(&doctor), []);

        doctor.lease = Some(lease(None, Some(60), Some("laptop-1")));
        let findings = diagnose(&doctor);
        assert_eq!(findings[0].code, "lease_without_expiry");
    }

    #[test]
    fn live_lease_cautions_settings_findings() {
        let mut doctor = with("cluster.graceful_stop.force", json!(true));
        doctor.lease = Some(lease(Some(10), Some(60), Some("laptop-1")));
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0]
                .caution
                .as_deref()
                .unwrap()
                .contains("held by cratectl operation laptop-1; see `cratectl status laptop-1`")
        );

        doctor.lease = Some(lease(Some(3600), Some(60), Some("laptop-1")));
        let findings = diagnose(&doctor);
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].caution, None);
    }

    #[test]
    fn every_code_is_listed() {
        let mut doctor = with("cluster.routing.allocation.enable", json!("none"));
        let settings = doctor.settings.as_mut().unwrap();
        settings.effective.insert(
            "cluster.routing.allocation.exclude._name".into(),
            json!("n1,data-hot-0"),
        );
        settings
            .effective
            .insert("cluster.graceful_stop.force".into(), json!(true));
        settings.effective.remove("cluster.graceful_stop.timeout");
        doctor.owner_labels = vec![
            OwnerLabel {
                object: LabelledObject::StatefulSet("s".into()),
                value: owner(10 * 3600),
            },
            OwnerLabel {
                object: LabelledObject::Pod("p".into()),
                value: owner(10 * 3600),
            },
        ];
        doctor.lease = Some(lease(Some(3600), Some(1), Some("x")));
        let mut codes: Vec<String> = diagnose(&doctor).into_iter().map(|f| f.code).collect();
        doctor.lease = Some(lease(None, None, Some("x")));
        doctor.suspend_record = Some(Err("unreadable".into()));
        codes.extend(diagnose(&doctor).into_iter().map(|f| f.code));
        for code in CODES {
            assert!(codes.iter().any(|c| c == code), "{code} never produced");
        }
        assert!(codes.iter().all(|c| CODES.contains(&c.as_str())));
    }

    #[test]
    fn owner_values() {
        let (holder, at) = parse_routing_owner("operator-1700000000").unwrap();
        assert_eq!(holder, "operator");
        assert_eq!(at.as_second(), 1_700_000_000);
        // Split at the first '-', as dc_util does.
        assert_eq!(parse_routing_owner("cratectl-5").unwrap().0, "cratectl");
        assert_eq!(parse_routing_owner("operator-+5").unwrap().1.as_second(), 5);
        assert_eq!(parse_routing_owner("operator--5").unwrap().1.as_second(), -5);
        for bad in [
            "operator",
            "operator-",
            "-5",
            "operator-12x",
            "my-tool-5",
            "operator-1700000000-x",
            "operator-99999999999999999999",
        ] {
            assert!(parse_routing_owner(bad).is_none(), "{bad}");
        }
        assert_eq!(shell_word("a-b.c"), "a-b.c");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn unread_settings_give_no_settings_findings() {
        let mut unread = input(defaults());
        unread.settings = None;
        assert_eq!(diagnose(&unread), []);
    }

    #[test]
    fn actions_say_what_doctor_fix_applies() {
        let mut inp = with("cluster.routing.allocation.enable", json!("primaries"));
        inp.owner_labels.push(OwnerLabel {
            object: LabelledObject::StatefulSet("crate-data-hot-a".into()),
            value: "operator-1".into(),
        });
        inp.lease = Some(LeaseReading {
            name: "cratectl-a".into(),
            holder: Some("restart-a".into()),
            renew_time: Some("2026-09-01T10:00:00Z".parse().unwrap()),
            lease_duration_seconds: Some(60),
        });
        let findings = diagnose(&inp);
        let action = |code: &str| findings.iter().find(|f| f.code == code).map(|f| f.action.clone());
        assert_eq!(
            action("allocation_not_all"),
            Some(Action::Sql(vec![
                "RESET GLOBAL \"cluster.routing.allocation.enable\"".into()
            ]))
        );
        assert_eq!(
            action("stale_routing_owner_label"),
            Some(Action::RemoveOwnerLabel(LabelledObject::StatefulSet(
                "crate-data-hot-a".into()
            )))
        );
        assert_eq!(
            action("expired_lease"),
            Some(Action::DeleteLease("cratectl-a".into()))
        );

        inp.lease.as_mut().unwrap().lease_duration_seconds = None;
        let findings = diagnose(&inp);
        let never = findings
            .iter()
            .find(|f| f.code == "lease_without_expiry")
            .unwrap();
        assert_eq!(
            never.action,
            Action::None,
            "a Lease that may be live is never deleted automatically"
        );
    }
}
