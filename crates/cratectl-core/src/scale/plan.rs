//! The plan of a scale: from what the cluster looks like now and the `GROUP=N` pairs asked for,
//! the group changes in the order they run, the nodes that join and leave, the replica guard,
//! the gateway settings, and every reason to refuse — before anything is recorded or written.
//!
//! Order (one disruption at a time, quorum kept): dedicated masters up, data groups up, data
//! groups down, dedicated masters down. A group that shrinks loses its highest ordinals first,
//! one node per step; a group of master-eligible nodes never goes below 2 from 2 or more (with
//! fewer than 3 live members of a 3-member voting configuration there is no quorum: Zen2 never
//! shrinks the configuration below 3, CrateDB `Reconfigurator.java`), and dedicated masters are
//! an odd number of at least 3 (the operator's own rule, `handle_update_cratedb.py`).
//!
//! Refusals here are the user's input or a target the cluster cannot take (exit 2, nothing
//! recorded); [`Plan::start_problems`] are states of the cluster that make the workflow fail at
//! its start (exit 1): a leaving node that is not a member, allocation not `all`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::gateway::{self, Change, Totals};
use super::replicas::{Replicas, TableReplicas, guard};

/// The name of the dedicated master group, reserved (never a data group's name).
pub const MASTER_GROUP: &str = "master";

/// Who changes the StatefulSets (docs: `--mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `operator` when the resource carries the operator's markers, else `direct`.
    #[default]
    Auto,
    /// cratectl patches the resource's replicas one step at a time and follows the operator.
    Operator,
    /// cratectl patches the StatefulSets and settings itself.
    Direct,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Operator => "operator",
            Mode::Direct => "direct",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node group as the cluster shows it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupFacts {
    /// `master` or the data group's name (`spec.nodes.data[].name`).
    pub name: String,
    /// Its index in `spec.nodes.data` (`None` for `master`): the path operator mode patches.
    pub data_index: Option<usize>,
    pub statefulset: String,
    /// The resource's `replicas` for the group.
    pub resource_replicas: u64,
    /// The StatefulSet's `spec.replicas` (what runs).
    pub replicas: u64,
    /// `spec.updateStrategy.type` (`None`: the field is absent, Kubernetes' default
    /// `RollingUpdate`).
    pub update_strategy: Option<String>,
    /// The `crate` container's command (found by name), empty when there is none.
    pub command: Vec<String>,
    /// Node names by ordinal, from the pods' `-Cnode.name=` (a hint; `sys.nodes` decides).
    pub node_names: BTreeMap<u64, String>,
    /// The StatefulSet carries `dc-util-disabled=true` already (someone else's).
    #[serde(default)]
    pub dc_util_disabled: bool,
}

impl GroupFacts {
    pub fn is_master(&self) -> bool {
        self.name == MASTER_GROUP
    }

    /// Whether its nodes are master-eligible (`-Cnode.master`, default true).
    pub fn master_eligible(&self) -> bool {
        self.is_master() || gateway::master_eligible(&self.command)
    }

    /// The CrateDB node name of ordinal `i`: the pod's hint, else the operator's naming
    /// (`master-<i>`, `data-<group>-<i>`).
    pub fn node_name(&self, i: u64) -> String {
        self.node_names.get(&i).cloned().unwrap_or_else(|| {
            if self.is_master() {
                format!("master-{i}")
            } else {
                format!("data-{}-{i}", self.name)
            }
        })
    }

    fn on_delete(&self) -> bool {
        self.update_strategy.as_deref() == Some("OnDelete")
    }
}

/// The cluster as it is now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterFacts {
    /// `namespace/name`, for messages.
    pub qualified: String,
    /// The CrateDB cluster name (what users type).
    pub name: String,
    /// Dedicated masters first (if any), then the data groups in spec order.
    pub groups: Vec<GroupFacts>,
    /// The resource carries the operator's finalizer or its last-handled annotation.
    pub operator_managed: bool,
    /// Names in `sys.nodes`.
    pub nodes: Vec<String>,
    /// Every table and partition with its `number_of_replicas`.
    pub tables: Vec<TableReplicas>,
    /// The effective `cluster.routing.allocation.exclude._name` entries.
    pub exclusions: Vec<String>,
    /// The effective `cluster.routing.allocation.enable`.
    pub allocation_enable: String,
    /// Shard copies per node name (`sys.shards`).
    pub shards_on: BTreeMap<String, u64>,
    /// The CrateDB operator's handlers running on the resource now (`cluster_update.scale
    /// since 2026-12-07T09:58:12Z`), from its progress annotations.
    #[serde(default)]
    pub operator_busy: Vec<String>,
}

/// What the user asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `GROUP=N` pairs in the order given.
    pub targets: Vec<(String, u64)>,
    pub mode: Mode,
    pub force_direct: bool,
    /// Rewrite the gateway settings on the command lines (`--no-gateway-patch` turns it off).
    pub gateway_patch: bool,
}

/// Parses one `GROUP=N` argument.
pub fn parse_target(arg: &str) -> Result<(String, u64), String> {
    let Some((group, count)) = arg.split_once('=') else {
        return Err(format!("{arg:?}: expected GROUP=REPLICAS, e.g. hot=3"));
    };
    let group = group.trim();
    if group.is_empty() {
        return Err(format!(
            "{arg:?}: the group name is missing (GROUP=REPLICAS, e.g. hot=3)"
        ));
    }
    let count = count.trim();
    if count.is_empty() {
        return Err(format!("{arg:?}: expected GROUP=REPLICAS, e.g. {group}=3"));
    }
    match count.parse::<u64>() {
        Ok(n) if n <= 1000 => Ok((group.to_string(), n)),
        Ok(_) => Err(format!("{arg:?}: at most 1000 nodes per group")),
        Err(_) => Err(format!("{arg:?}: replicas must be a whole number ≥ 0")),
    }
}

/// Parses every pair; a group given twice is refused.
pub fn parse_targets(args: &[String]) -> Result<Vec<(String, u64)>, String> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for arg in args {
        let (group, n) = parse_target(arg)?;
        if out.iter().any(|(g, _)| *g == group) {
            return Err(format!("group {group:?} given twice"));
        }
        out.push((group, n));
    }
    if out.is_empty() {
        return Err("no GROUP=REPLICAS given, e.g. hot=3".into());
    }
    Ok(out)
}

/// The mode an operation runs in: `auto` is `operator` when the resource carries the operator's
/// markers, else `direct`; `--mode operator` on a resource the operator does not manage, and
/// `--mode direct` on one it does without `--force-direct`, are refused. `force_note` says what
/// `--force-direct` would do (it differs per operation).
pub fn resolve_mode(
    requested: Mode,
    force_direct: bool,
    operator_managed: bool,
    qualified: &str,
    force_note: &str,
) -> Result<Mode, String> {
    match (requested, operator_managed) {
        (Mode::Auto, true) | (Mode::Operator, true) => Ok(Mode::Operator),
        (Mode::Auto, false) | (Mode::Direct, false) => Ok(Mode::Direct),
        (Mode::Operator, false) => Err(format!(
            "--mode operator: {qualified} is not managed by the CrateDB operator (no finalizer \
             operator.cloud.crate.io/finalizer, no annotation operator.cloud.crate.io/last); \
             use --mode direct"
        )),
        (Mode::Direct, true) if !force_direct => Err(format!(
            "--mode direct: {qualified} is managed by the CrateDB operator, which would keep acting \
             on the replica counts of its resource; use --mode operator (or auto), or \
             --force-direct {force_note}"
        )),
        (Mode::Direct, true) => Ok(Mode::Direct),
    }
}

/// One group's change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupChange {
    pub group: String,
    pub statefulset: String,
    pub from: u64,
    pub to: u64,
    pub master_eligible: bool,
    pub update_strategy: Option<String>,
    /// Index in `spec.nodes.data` (operator mode's patch path); `None` for `master`.
    pub data_index: Option<usize>,
    /// Node names that join (ordinals `from..to`).
    pub joining: Vec<String>,
    /// Node names that leave, highest ordinal first.
    pub leaving: Vec<String>,
}

impl GroupChange {
    pub fn is_up(&self) -> bool {
        self.to > self.from
    }
}

/// One table or partition in the replica check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCheck {
    pub table: String,
    pub partition_ident: Option<String>,
    pub number_of_replicas: String,
    pub required_data_nodes: Option<u64>,
    pub ok: bool,
}

/// The replica guard's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaCheck {
    pub ok: bool,
    /// Data nodes the allocation filters allow after the scale.
    pub eligible_data_nodes_after: u64,
    pub tables: Vec<TableCheck>,
}

/// A scale that can run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `operator` or `direct` (never `auto`).
    pub mode: Mode,
    /// Changed groups in the order they run.
    pub groups: Vec<GroupChange>,
    pub add_nodes: Vec<String>,
    pub remove_nodes: Vec<String>,
    /// Shard copies on the leaving nodes now.
    pub shards_to_move: u64,
    pub replica_check: ReplicaCheck,
    /// What the gateway settings become (keys without `gateway.`), by our patch (direct mode)
    /// or the operator's; empty with `--no-gateway-patch`.
    pub gateway: BTreeMap<String, Change>,
    /// Node totals after the scale.
    pub totals_after: Totals,
    /// StatefulSets whose command lines get the new gateway settings (every one of the
    /// cluster's, direct mode with the patch on).
    pub gateway_statefulsets: Vec<String>,
    /// The resource is the operator's but the user forced direct mode: its replicas are set
    /// to the new counts at the end, so it does not go stale.
    pub sync_resource: bool,
    pub warnings: Vec<String>,
    /// Why the workflow would fail at its start in the cluster's current state.
    pub start_problems: Vec<String>,
}

impl Plan {
    /// The node totals once the change at `index` has `count` nodes: changes before it at their
    /// targets, changes after it at their starting counts, unchanged groups as they are (the
    /// gateway settings of each step, so a scale that stops midway leaves command lines that
    /// match the nodes there are).
    pub fn totals_at(&self, index: usize, count: u64) -> Totals {
        let mut totals = self.totals_after;
        for (j, change) in self.groups.iter().enumerate() {
            let now = match j.cmp(&index) {
                std::cmp::Ordering::Less => change.to,
                std::cmp::Ordering::Equal => count,
                std::cmp::Ordering::Greater => change.from,
            };
            let adjust = |total: &mut u64| *total = (*total + now).saturating_sub(change.to);
            if change.group != MASTER_GROUP {
                adjust(&mut totals.data_nodes);
            }
            adjust(&mut totals.all_nodes);
            if change.master_eligible {
                adjust(&mut totals.master_eligible);
            }
        }
        totals
    }
}

/// The outcome of planning.
#[derive(Clone, Debug, PartialEq)]
pub enum Planned {
    /// Every group is already at its target: the message says so.
    Nothing(String),
    Run(Box<Plan>),
}

/// `a, b, c`.
fn join(items: &[String]) -> String {
    items.join(", ")
}

/// The closest group names to `wanted`, for "did you mean".
fn closest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (strsim::levenshtein(wanted, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Whether `name` matches the CrateDB allocation filter `pattern` (comma-separated entries of
/// `*` globs, `Regex.simpleMatch`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// Plans `request` against `facts`; `Err` is the refusal (exit 2), naming every problem.
pub fn plan(facts: &ClusterFacts, request: &Request) -> Result<Planned, String> {
    let names: Vec<String> = facts.groups.iter().map(|g| g.name.clone()).collect();
    let mut targets: BTreeMap<&str, u64> = BTreeMap::new();
    for (group, n) in &request.targets {
        if !names.contains(group) {
            if group == MASTER_GROUP {
                return Err(format!(
                    "master={n}: {} has no dedicated master nodes (its data nodes are master-eligible)",
                    facts.qualified
                ));
            }
            let hint = closest(group, &names)
                .map(|c| format!("did you mean {c:?}? "))
                .unwrap_or_default();
            return Err(format!(
                "unknown node group {group:?} of {} ({}); {hint}groups: {}",
                facts.name,
                facts.qualified,
                join(&names)
            ));
        }
        targets.insert(group.as_str(), *n);
    }
    let target = |g: &GroupFacts| targets.get(g.name.as_str()).copied().unwrap_or(g.replicas);

    let mode = resolve_mode(
        request.mode,
        request.force_direct,
        facts.operator_managed,
        &facts.qualified,
        "to scale the StatefulSets anyway and set the resource's counts at the end",
    )?;

    if !facts.operator_busy.is_empty() {
        return Err(format!(
            "{} is busy: the CrateDB operator is running {}; wait until it has finished",
            facts.qualified,
            facts.operator_busy.join(", ")
        ));
    }

    let data: Vec<&GroupFacts> = facts.groups.iter().filter(|g| !g.is_master()).collect();
    if !data.is_empty() && data.iter().all(|g| g.replicas == 0) {
        return Err(format!(
            "{} is suspended (every data group has 0 nodes): use cratectl resume {}",
            facts.qualified, facts.name
        ));
    }
    if !data.is_empty() && data.iter().all(|g| target(g) == 0) {
        return Err(format!(
            "scaling every data group to 0 suspends the cluster: use cratectl suspend {}",
            facts.name
        ));
    }

    let changes: Vec<&GroupFacts> = facts.groups.iter().filter(|g| target(g) != g.replicas).collect();
    if changes.is_empty() {
        let now: Vec<String> = request.targets.iter().map(|(g, n)| format!("{g}={n}")).collect();
        return Ok(Planned::Nothing(format!(
            "nothing to do: {} already has {}",
            facts.name,
            join(&now)
        )));
    }

    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    // The resource and the StatefulSets must agree before anyone changes the resource (operator
    // mode, or --force-direct's final sync): otherwise the operator is still at work, or someone
    // scaled a StatefulSet by hand and the operator's view is stale.
    if mode == Mode::Operator || facts.operator_managed {
        for g in facts.groups.iter().filter(|g| g.resource_replicas != g.replicas) {
            problems.push(format!(
                "the resource says {}={} but StatefulSet {} has {} replicas (the operator has not \
                 caught up, or it was scaled by hand); make them agree first",
                g.name, g.resource_replicas, g.statefulset, g.replicas
            ));
        }
    }
    if mode == Mode::Operator
        && facts
            .groups
            .iter()
            .any(|g| g.is_master() && target(g) != g.replicas)
    {
        // Masters change one node at a time, through even counts the operator refuses
        // (`update_cratedb`: "must be an odd number >= 3").
        problems.push(
            "in operator mode dedicated masters cannot change one node at a time (the operator \
             refuses an even count): use --mode direct --force-direct"
                .to_string(),
        );
    }
    for g in &facts.groups {
        let to = target(g);
        if to == g.replicas {
            continue;
        }
        if g.is_master() && (to < 3 || to % 2 == 0) {
            problems.push(format!(
                "master={to}: dedicated masters must be an odd number ≥ 3"
            ));
        }
        if !g.is_master() && g.master_eligible() && g.replicas >= 2 && to < 2 {
            problems.push(format!(
                "{} is master-eligible and {to} node{} cannot keep a master elected (at least 2 \
                 of a voting configuration of 3 must stay)",
                g.name,
                if to == 1 { "" } else { "s" }
            ));
        }
    }
    // Master-eligible nodes of the whole cluster (data groups without dedicated masters).
    if !facts.groups.iter().any(GroupFacts::is_master) {
        let before: u64 = data
            .iter()
            .filter(|g| g.master_eligible())
            .map(|g| g.replicas)
            .sum();
        let after: u64 = data
            .iter()
            .filter(|g| g.master_eligible())
            .map(|g| target(g))
            .sum();
        if before >= 2 && after < 2 && problems.is_empty() {
            problems.push(format!(
                "{after} master-eligible node{} would remain: a master cannot be elected",
                if after == 1 { "" } else { "s" }
            ));
        } else if after == 2 && before > 2 {
            warnings.push("2 master-eligible nodes remain: losing one more stops master election".into());
        }
    }

    // Node totals and the replica guard.
    let data_after: u64 = data.iter().map(|g| target(g)).sum();
    let masters_after: u64 = facts.groups.iter().filter(|g| g.is_master()).map(&target).sum();
    let eligible_masters_after: u64 = facts
        .groups
        .iter()
        .filter(|g| g.master_eligible())
        .map(&target)
        .sum();
    let totals_after = Totals {
        data_nodes: data_after,
        all_nodes: data_after + masters_after,
        master_eligible: eligible_masters_after,
    };
    let mut group_changes: Vec<GroupChange> = Vec::new();
    for g in &changes {
        let to = target(g);
        let (joining, leaving) = if to > g.replicas {
            ((g.replicas..to).map(|i| g.node_name(i)).collect(), Vec::new())
        } else {
            (
                Vec::new(),
                (to..g.replicas).rev().map(|i| g.node_name(i)).collect(),
            )
        };
        group_changes.push(GroupChange {
            group: g.name.clone(),
            statefulset: g.statefulset.clone(),
            from: g.replicas,
            to,
            master_eligible: g.master_eligible(),
            update_strategy: g.update_strategy.clone(),
            data_index: g.data_index,
            joining,
            leaving,
        });
    }
    let leaving: Vec<String> = group_changes.iter().flat_map(|c| c.leaving.clone()).collect();
    let joining: Vec<String> = group_changes.iter().flat_map(|c| c.joining.clone()).collect();
    // Data nodes the cluster's filters allow after: every data node that stays or joins, minus
    // the ones an exclusion already in place matches (ours are for the leaving ones).
    let staying_data: Vec<String> = data
        .iter()
        .flat_map(|g| (0..target(g)).map(|i| g.node_name(i)))
        .collect();
    let filtered = staying_data
        .iter()
        .filter(|n| facts.exclusions.iter().any(|p| glob_match(p.trim(), n)))
        .count() as u64;
    let eligible_after = data_after.saturating_sub(filtered);
    let shrinking_data = group_changes
        .iter()
        .any(|c| !c.is_up() && c.group != MASTER_GROUP);
    let offenders = if shrinking_data {
        guard(&facts.tables, eligible_after)
    } else {
        Vec::new()
    };
    let replica_check = ReplicaCheck {
        ok: offenders.is_empty(),
        eligible_data_nodes_after: eligible_after,
        tables: facts
            .tables
            .iter()
            .map(|t| {
                let needs = Replicas::parse(&t.number_of_replicas)
                    .ok()
                    .map(Replicas::data_nodes_needed);
                TableCheck {
                    table: format!("{}.{}", t.schema, t.table),
                    partition_ident: t.partition.clone(),
                    number_of_replicas: t.number_of_replicas.clone(),
                    required_data_nodes: needs,
                    ok: !offenders.iter().any(|o| o.what == *t),
                }
            })
            .collect(),
    };
    if !offenders.is_empty() {
        let list: Vec<String> = offenders.iter().map(ToString::to_string).collect();
        let filtered_note = if filtered > 0 {
            format!(
                " ({filtered} of the {data_after} data nodes left are excluded by the allocation filters)"
            )
        } else {
            String::new()
        };
        problems.insert(
            0,
            format!(
                "{eligible_after} data node{} would be left{filtered_note}: {}",
                if eligible_after == 1 { "" } else { "s" },
                list.join("; ")
            ),
        );
    }

    // Gateway settings: every StatefulSet's command line in direct mode (the operator patches
    // its own in operator mode).
    let gateway_patch = request.gateway_patch && mode == Mode::Direct;
    let mut gateway_statefulsets = Vec::new();
    let mut gateway_changes = BTreeMap::new();
    if gateway_patch {
        for g in facts.groups.iter().filter(|g| !g.command.is_empty()) {
            if gateway::changes(&g.command, totals_after).is_empty() {
                continue;
            }
            if !g.on_delete() {
                problems.push(format!(
                    "StatefulSet {} has updateStrategy {}: changing its command line would \
                     restart every pod; use --no-gateway-patch (and set the gateway settings \
                     yourself)",
                    g.statefulset,
                    g.update_strategy
                        .as_deref()
                        .unwrap_or("RollingUpdate (the default)")
                ));
            }
            gateway_statefulsets.push(g.statefulset.clone());
        }
    }
    // What the settings become: patched by us (direct) or by the operator (operator mode).
    if request.gateway_patch
        && let Some(g) = facts.groups.iter().find(|g| !g.command.is_empty())
    {
        gateway_changes = gateway::changes(&g.command, totals_after);
    }

    if !problems.is_empty() {
        let what: Vec<String> = group_changes
            .iter()
            .map(|c| format!("{}={}", c.group, c.to))
            .collect();
        return Err(format!(
            "cannot scale {} to {}: {}",
            facts.name,
            join(&what),
            problems.join("; ")
        ));
    }

    // Run order: masters up, data up, data down, masters down.
    let rank = |c: &GroupChange| match (c.group == MASTER_GROUP, c.is_up()) {
        (true, true) => 0,
        (false, true) => 1,
        (false, false) => 2,
        (true, false) => 3,
    };
    group_changes.sort_by_key(rank);

    let mut start_problems = Vec::new();
    if !leaving.is_empty() {
        let missing: Vec<String> = leaving
            .iter()
            .filter(|n| !facts.nodes.contains(n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            start_problems.push(format!(
                "leaving node{} {} not in sys.nodes (a node of the cluster is missing)",
                if missing.len() == 1 { "" } else { "s" },
                join(&missing)
            ));
        }
        if facts.allocation_enable != "all" {
            start_problems.push(format!(
                "cluster.routing.allocation.enable is '{}': replicas cannot move off {}; it was \
                 not set by this operation (see cratectl doctor)",
                facts.allocation_enable,
                join(&leaving)
            ));
        }
    }
    let shards_to_move = leaving
        .iter()
        .map(|n| facts.shards_on.get(n).copied().unwrap_or(0))
        .sum();
    Ok(Planned::Run(Box::new(Plan {
        mode,
        groups: group_changes,
        add_nodes: joining,
        remove_nodes: leaving,
        shards_to_move,
        replica_check,
        gateway: gateway_changes,
        totals_after,
        gateway_statefulsets,
        sync_resource: mode == Mode::Direct && facts.operator_managed,
        warnings,
        start_problems,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(master: bool) -> Vec<String> {
        vec![
            "/docker-entrypoint.sh".into(),
            "crate".into(),
            format!("-Cnode.master={master}"),
            "-Cgateway.recover_after_data_nodes=2".into(),
            "-Cgateway.expected_data_nodes=3".into(),
        ]
    }

    fn group(name: &str, replicas: u64, master: bool) -> GroupFacts {
        GroupFacts {
            name: name.into(),
            data_index: (name != MASTER_GROUP).then_some(0),
            statefulset: format!(
                "crate-{}-prod",
                if name == MASTER_GROUP {
                    name.to_string()
                } else {
                    format!("data-{name}")
                }
            ),
            resource_replicas: replicas,
            replicas,
            update_strategy: Some("OnDelete".into()),
            command: command(master),
            node_names: BTreeMap::new(),
            dc_util_disabled: false,
        }
    }

    fn table(name: &str, replicas: &str) -> TableReplicas {
        TableReplicas {
            schema: "doc".into(),
            table: name.into(),
            partition: None,
            number_of_replicas: replicas.into(),
        }
    }

    fn legacy(hot: u64) -> ClusterFacts {
        let g = group("hot", hot, true);
        ClusterFacts {
            qualified: "crate/prod".into(),
            name: "prod".into(),
            nodes: (0..hot).map(|i| g.node_name(i)).collect(),
            groups: vec![g],
            tables: vec![table("events", "1"), table("logs", "0-all")],
            allocation_enable: "all".into(),
            ..Default::default()
        }
    }

    fn dedicated() -> ClusterFacts {
        let mut cold = group("cold", 2, false);
        cold.data_index = Some(1);
        ClusterFacts {
            qualified: "crate/prod".into(),
            name: "prod".into(),
            groups: vec![group(MASTER_GROUP, 3, true), group("hot", 3, false), cold],
            nodes: [
                "master-0",
                "master-1",
                "master-2",
                "data-hot-0",
                "data-hot-1",
                "data-hot-2",
                "data-cold-0",
                "data-cold-1",
            ]
            .map(String::from)
            .to_vec(),
            tables: vec![table("events", "1")],
            allocation_enable: "all".into(),
            ..Default::default()
        }
    }

    fn request(pairs: &[(&str, u64)]) -> Request {
        Request {
            targets: pairs.iter().map(|(g, n)| (g.to_string(), *n)).collect(),
            gateway_patch: true,
            ..Default::default()
        }
    }

    fn run(facts: &ClusterFacts, pairs: &[(&str, u64)]) -> Plan {
        match plan(facts, &request(pairs)) {
            Ok(Planned::Run(plan)) => *plan,
            other => panic!("expected a plan, got {other:?}"),
        }
    }

    fn refusal(facts: &ClusterFacts, pairs: &[(&str, u64)]) -> String {
        match plan(facts, &request(pairs)) {
            Err(e) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn pairs_parse_strictly() {
        assert_eq!(parse_target("hot=3"), Ok(("hot".into(), 3)));
        assert_eq!(
            parse_target("hot"),
            Err(r#""hot": expected GROUP=REPLICAS, e.g. hot=3"#.into())
        );
        for bad in ["hot=2.5", "hot=-1", "hot=x"] {
            assert_eq!(
                parse_target(bad),
                Err(format!("{bad:?}: replicas must be a whole number ≥ 0"))
            );
        }
        assert!(
            parse_target("hot=")
                .unwrap_err()
                .contains("expected GROUP=REPLICAS")
        );
        assert!(parse_target("=3").unwrap_err().contains("group name is missing"));
        assert_eq!(
            parse_targets(&["hot=2".into(), "hot=3".into()]),
            Err(r#"group "hot" given twice"#.into())
        );
    }

    #[test]
    fn scale_down_leaves_highest_ordinals_first() {
        let mut facts = legacy(5);
        facts.shards_on.insert("data-hot-4".into(), 4);
        facts.shards_on.insert("data-hot-3".into(), 3);
        let plan = run(&facts, &[("hot", 3)]);
        assert_eq!(plan.mode, Mode::Direct);
        assert_eq!(plan.remove_nodes, vec!["data-hot-4", "data-hot-3"]);
        assert_eq!(plan.shards_to_move, 7);
        assert_eq!(
            plan.gateway["expected_data_nodes"],
            Change { from: Some(3), to: 3 }
        );
        assert!(plan.start_problems.is_empty());
        assert!(plan.replica_check.ok);
        assert_eq!(plan.replica_check.eligible_data_nodes_after, 3);
    }

    #[test]
    fn nothing_to_do_is_said() {
        assert_eq!(
            plan(&legacy(3), &request(&[("hot", 3)])),
            Ok(Planned::Nothing("nothing to do: prod already has hot=3".into()))
        );
    }

    #[test]
    fn unknown_groups_get_the_closest_name() {
        assert_eq!(
            refusal(&dedicated(), &[("hott", 2)]),
            r#"unknown node group "hott" of prod (crate/prod); did you mean "hot"? groups: master, hot, cold"#
        );
        assert!(refusal(&legacy(3), &[("master", 3)]).contains("has no dedicated master nodes"));
    }

    #[test]
    fn the_replica_guard_names_every_offender_and_counts_filters() {
        let mut facts = legacy(3);
        facts.tables.push(TableReplicas {
            partition: Some("04732cpp6ksjcc9i60o30c1g".into()),
            ..table("metrics", "1")
        });
        let e = refusal(&facts, &[("hot", 1)]);
        assert!(
            e.starts_with("cannot scale prod to hot=1: 1 data node would be left: doc.events"),
            "{e}"
        );
        assert!(
            e.contains("doc.metrics partition 04732cpp6ksjcc9i60o30c1g"),
            "{e}"
        );
        assert!(
            e.contains("hot is master-eligible and 1 node cannot keep a master elected"),
            "{e}"
        );
        // 0-all needs only its lower bound; a foreign exclusion of a staying node counts.
        let mut facts = dedicated();
        facts.groups[1].replicas = 4;
        facts.nodes.push("data-hot-3".into());
        facts.exclusions = vec!["data-cold-*".into(), "data-hot-0".into()];
        let e = refusal(&facts, &[("hot", 2)]);
        assert!(
            e.contains("1 data node would be left (3 of the 4 data nodes left are excluded"),
            "{e}"
        );
    }

    #[test]
    fn masters_must_stay_odd_and_order_is_masters_up_data_up_data_down_masters_down() {
        assert_eq!(
            refusal(&dedicated(), &[("master", 4)]),
            "cannot scale prod to master=4: master=4: dedicated masters must be an odd number ≥ 3"
        );
        let plan = run(&dedicated(), &[("hot", 2), ("master", 5), ("cold", 3)]);
        let order: Vec<&str> = plan.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(order, ["master", "cold", "hot"]);
        assert_eq!(plan.add_nodes, vec!["master-3", "master-4", "data-cold-2"]);
        let plan = run(&dedicated(), &[("master", 3), ("hot", 4)]);
        assert_eq!(plan.groups.len(), 1);
        let mut facts = dedicated();
        facts.groups[0].replicas = 5;
        let plan = run(&facts, &[("master", 3), ("hot", 4)]);
        let order: Vec<&str> = plan.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(order, ["hot", "master"]);
    }

    #[test]
    fn each_step_has_the_totals_of_the_nodes_there_are_then() {
        // master 3 -> 5 first, then hot 3 -> 2 (dedicated masters: data nodes are not
        // master-eligible).
        let plan = run(&dedicated(), &[("hot", 2), ("master", 5)]);
        assert_eq!(plan.groups[0].group, "master");
        let t = plan.totals_at(0, 4);
        assert_eq!((t.data_nodes, t.all_nodes, t.master_eligible), (5, 9, 4));
        let t = plan.totals_at(1, 2);
        assert_eq!((t.data_nodes, t.all_nodes, t.master_eligible), (4, 9, 5));
        assert_eq!(plan.totals_at(1, 2), plan.totals_after);
    }

    #[test]
    fn suspend_and_resume_are_other_commands() {
        assert!(refusal(&dedicated(), &[("hot", 0), ("cold", 0)]).contains("use cratectl suspend prod"));
        let mut facts = dedicated();
        facts.groups[1].replicas = 0;
        facts.groups[2].replicas = 0;
        assert!(refusal(&facts, &[("hot", 2)]).contains("use cratectl resume prod"));
    }

    #[test]
    fn modes_follow_the_operators_markers() {
        let mut facts = legacy(3);
        facts.operator_managed = true;
        assert_eq!(run(&facts, &[("hot", 4)]).mode, Mode::Operator);
        let mut direct = request(&[("hot", 4)]);
        direct.mode = Mode::Direct;
        assert!(plan(&facts, &direct).unwrap_err().contains("--force-direct"));
        direct.force_direct = true;
        let Ok(Planned::Run(p)) = plan(&facts, &direct) else {
            panic!()
        };
        assert!(p.sync_resource);
        let mut operator = request(&[("hot", 4)]);
        operator.mode = Mode::Operator;
        assert!(
            plan(&legacy(3), &operator)
                .unwrap_err()
                .contains("not managed by the CrateDB operator")
        );
    }

    #[test]
    fn a_rolling_update_statefulset_is_not_patched_unless_asked() {
        let mut facts = legacy(3);
        facts.groups[0].update_strategy = None;
        let e = refusal(&facts, &[("hot", 4)]);
        assert!(e.contains("RollingUpdate (the default)"), "{e}");
        let mut req = request(&[("hot", 4)]);
        req.gateway_patch = false;
        let Ok(Planned::Run(p)) = plan(&facts, &req) else {
            panic!()
        };
        assert!(p.gateway.is_empty() && p.gateway_statefulsets.is_empty());
    }

    #[test]
    fn start_problems_are_not_refusals() {
        let mut facts = legacy(4);
        facts.allocation_enable = "primaries".into();
        facts.nodes.retain(|n| n != "data-hot-3");
        let plan = run(&facts, &[("hot", 3)]);
        assert_eq!(plan.start_problems.len(), 2, "{:?}", plan.start_problems);
        assert!(plan.start_problems[1].contains("cluster.routing.allocation.enable is 'primaries'"));
    }

    #[test]
    fn operator_mode_needs_agreeing_counts_and_leaves_masters_to_direct_mode() {
        let mut facts = dedicated();
        facts.operator_managed = true;
        assert!(
            refusal(&facts, &[("master", 5)]).contains("use --mode direct --force-direct"),
            "masters step through even counts"
        );
        facts.groups[1].resource_replicas = 4;
        let e = refusal(&facts, &[("hot", 2)]);
        assert!(
            e.contains("the resource says hot=4 but StatefulSet crate-data-hot-prod has 3 replicas"),
            "{e}"
        );
    }

    #[test]
    fn a_running_operator_handler_makes_the_cluster_busy() {
        let mut facts = legacy(3);
        facts.operator_busy = vec!["cluster_update.scale since 2026-12-07T09:58:12Z".into()];
        assert_eq!(
            refusal(&facts, &[("hot", 4)]),
            "crate/prod is busy: the CrateDB operator is running cluster_update.scale since \
             2026-12-07T09:58:12Z; wait until it has finished"
        );
    }

    #[test]
    fn globs_match_as_cratedb_does() {
        assert!(glob_match("data-hot-*", "data-hot-2"));
        assert!(glob_match("*-2", "data-hot-2"));
        assert!(glob_match("d*h*2", "data-hot-2"));
        assert!(!glob_match("data-hot-*", "data-cold-2"));
        assert!(glob_match("exact", "exact") && !glob_match("exact", "exactly"));
    }
}
