//! Shard allocation: where copies may go (the deciders), and the reroute that keeps replica
//! counts, moves copies off excluded or decommissioning nodes, assigns unassigned copies and
//! finishes recoveries over simulated time.
//!
//! The deciders follow CrateDB/Elasticsearch (docs/cratedb-behaviour.md#allocation):
//! * same shard: a node holds at most one copy of a shard (primary and replica never together);
//! * `cluster.routing.allocation.enable`: `all`; `primaries` = primaries only (also from local
//!   disk); `new_primaries` = only inactive primaries not recovering from an existing store;
//!   `none` = nothing (the decider's code; the docs' "local primaries still recover" note is
//!   not modelled);
//! * filters: `exclude/include/require._name` (globs) and `._id`; exclusion also moves
//!   existing copies away;
//! * decommission: a decommissioning node accepts nothing; FULL moves every copy off it,
//!   PRIMARIES moves its primaries;
//! * a replica needs an active primary; a primary that was active before can only come back
//!   on the node that has its data; a delayed replica (node left < delayed_timeout ago) only
//!   goes back to its node;
//! * throttling: `node_concurrent_recoveries` incoming peer recoveries and
//!   `node_initial_primaries_recoveries` local primary recoveries per node.
//!
//! Unassigned copies go to the least loaded node that may take them (so a node added on
//! scale-out gets unassigned replicas first). Then the balancer (ES `BalancedShardsAllocator`,
//! simplified) relocates STARTED copies from heavier to lighter nodes:
//! * a node's weight for an index is `0.45 × copies on the node + 0.55 × copies of the index
//!   on the node` (the default `balance.shard`/`balance.index` factors; the averages of the
//!   real formula cancel out in a difference); a copy moves when the difference between its
//!   node and the target exceeds the default threshold 1.0, best difference first, which
//!   strictly lowers the imbalance, so balancing settles;
//! * `cluster.routing.rebalance.enable` (`all|primaries|replicas|none`) says which copies may
//!   move; `cluster.routing.allocation.allow_rebalance` (`always`, `indices_primaries_active`,
//!   default `indices_all_active`: nothing unassigned or initializing, relocation targets
//!   aside) when; `cluster_concurrent_rebalance` (2) bounds relocations in flight; the target
//!   must pass the deciders above (so `allocation.enable = primaries` holds replicas in place).
//!
//! Not modelled: disk watermarks and shard sizes (every copy weighs the same), awareness
//! attributes, per-table allocation settings, outgoing recovery limits, and the per-index
//! search order of the real balancer (it may pick a different, equally good move). A fresh
//! cluster starts balanced by these rules, so it is quiet until something changes.

use std::time::Duration;

use super::CrateCluster;
use super::model::{Availability, Copy, Routing, ShardGroup, Source};
use super::settings::{CONCURRENT_RECOVERIES, INITIAL_PRIMARIES};

/// Where a shard group is: table, index (partition), group.
#[derive(Debug, Clone, Copy)]
struct Loc {
    table: usize,
    index: usize,
    group: usize,
}

/// What the deciders say about putting a copy on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Yes,
    Throttle,
    No,
}

/// Cluster-wide inputs to the deciders, computed once per reroute.
struct Deciders {
    enable: String,
    exclude_name: Vec<String>,
    exclude_id: Vec<String>,
    include_name: Vec<String>,
    require_name: Vec<String>,
    peer_limit: usize,
    primary_limit: usize,
}

/// Matches a CrateDB/ES simple glob (`*` only), case-sensitive.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_match(tail, &rest[i..]))
        }
    }
}

impl CrateCluster {
    /// Places every copy of every table as STARTED, spread evenly (cluster creation).
    pub(super) fn place_started(&mut self) {
        let data_nodes: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].accepts_shards())
            .collect();
        let mut next = 0usize;
        for table in &mut self.tables {
            for index in &mut table.indices {
                let replicas = index.replicas.effective(data_nodes.len()) as usize;
                index.groups = (0..table.shards)
                    .map(|id| {
                        let mut copies = Vec::new();
                        for k in 0..=replicas {
                            let source = if k == 0 { Source::EmptyStore } else { Source::Peer };
                            if k < data_nodes.len() {
                                let node = data_nodes[(next + k) % data_nodes.len()];
                                copies.push(Copy::started(k == 0, node, source));
                            } else {
                                copies.push(Copy::unassigned(k == 0, source));
                            }
                        }
                        next += 1;
                        ShardGroup {
                            id,
                            copies,
                            primary_ever_active: true,
                            restore_failed: None,
                        }
                    })
                    .collect();
            }
        }
        self.settle_balance();
    }

    /// Creates the shard groups of a new index with unassigned copies of the given source.
    pub(super) fn new_groups(&self, shards: u32, replicas: u32, source: Source) -> Vec<ShardGroup> {
        (0..shards)
            .map(|id| {
                let mut copies = vec![Copy::unassigned(true, source)];
                copies.extend((0..replicas).map(|_| Copy::unassigned(false, Source::Peer)));
                ShardGroup {
                    id,
                    copies,
                    primary_ever_active: false,
                    restore_failed: None,
                }
            })
            .collect()
    }

    /// Brings allocation up to date at time `t`.
    pub(super) fn reroute(&mut self, t: Duration) {
        self.sync_replica_counts();
        let deciders = self.deciders();
        for ti in 0..self.tables.len() {
            for ii in 0..self.tables[ti].indices.len() {
                for g in 0..self.tables[ti].indices[ii].groups.len() {
                    let at = Loc {
                        table: ti,
                        index: ii,
                        group: g,
                    };
                    self.move_off_forbidden(at, &deciders, t);
                    self.assign_unassigned(at, &deciders, t);
                }
            }
        }
        self.rebalance(&deciders, t);
        self.check_decommissions(t);
        self.finish_restores();
    }

    fn deciders(&self) -> Deciders {
        let limit = |name| usize::try_from(self.settings.int(name)).unwrap_or(0);
        Deciders {
            enable: self.settings.allocation_enable(),
            exclude_name: self.settings.list(super::settings::EXCLUDE_NAME),
            exclude_id: self.settings.list(super::settings::EXCLUDE_ID),
            include_name: self.settings.list("cluster.routing.allocation.include._name"),
            require_name: self.settings.list("cluster.routing.allocation.require._name"),
            peer_limit: limit(CONCURRENT_RECOVERIES),
            primary_limit: limit(INITIAL_PRIMARIES),
        }
    }

    /// Adds or removes replicas so that each shard has `1 + effective replicas` copies.
    /// Sets each index's replica count from its `number_of_replicas`. An auto-expanding range
    /// counts only the data members the cluster's allocation filters allow (CrateDB ≥ 4.4,
    /// `AutoExpandReplicas.getDesiredNumberOfReplicas` asking
    /// `FilterAllocationDecider.shouldAutoExpandToNode`; docs/cratedb-behaviour.md#replica-counts):
    /// excluding a node shrinks `0-all` at once, and the copies on the excluded node are the
    /// ones dropped, not moved.
    fn sync_replica_counts(&mut self) {
        let deciders = self.deciders();
        let filtered: Vec<bool> = (0..self.nodes.len())
            .map(|n| self.filtered(&deciders, n))
            .collect();
        let data_nodes = self
            .nodes
            .iter()
            .zip(&filtered)
            .filter(|(node, out)| node.data && node.is_member() && !**out)
            .count();
        for table in &mut self.tables {
            for index in &mut table.indices {
                let want = index.replicas.effective(data_nodes) as usize;
                for group in &mut index.groups {
                    resize_replicas(group, want, |copy| copy.node.is_some_and(|n| filtered[n]));
                }
            }
        }
    }

    /// Whether node `n` filters out copies (exclude/include/require).
    fn filtered(&self, d: &Deciders, n: usize) -> bool {
        let node = &self.nodes[n];
        let any = |list: &[String], text: &str| list.iter().any(|p| glob_match(p, text));
        any(&d.exclude_name, &node.name)
            || any(&d.exclude_id, &node.id)
            || (!d.include_name.is_empty() && !any(&d.include_name, &node.name))
            || (!d.require_name.is_empty() && !any(&d.require_name, &node.name))
    }

    /// May this copy stay on its node?
    fn can_remain(&self, d: &Deciders, copy: &Copy) -> bool {
        let Some(n) = copy.node else { return true };
        if self.filtered(d, n) {
            return false;
        }
        match self.nodes[n].decommission.as_ref().map(|dc| dc.availability) {
            Some(Availability::Full) => false,
            Some(Availability::Primaries) => !copy.primary,
            _ => true,
        }
    }

    fn enable_allows(d: &Deciders, copy: &Copy) -> bool {
        match d.enable.as_str() {
            "none" => false,
            "primaries" => copy.primary,
            "new_primaries" => copy.primary && !copy.routing.active() && copy.source != Source::ExistingStore,
            _ => true,
        }
    }

    /// The deciders for putting `copy` (of `group`) on node `n`.
    fn decide(&self, d: &Deciders, group: &ShardGroup, copy: &Copy, n: usize) -> Decision {
        if !self.nodes[n].accepts_shards() || self.filtered(d, n) || group.on_node(n) {
            return Decision::No;
        }
        if !Self::enable_allows(d, copy) || (!copy.primary && !group.active_primary()) {
            return Decision::No;
        }
        if copy.primary && copy.source == Source::Snapshot && group.restore_failed.is_some() {
            return Decision::No;
        }
        let local_primary =
            copy.primary && copy.routing == Routing::Unassigned && copy.source != Source::Peer;
        let (limit, busy) = if local_primary {
            (d.primary_limit, self.incoming(n, true))
        } else {
            (d.peer_limit, self.incoming(n, false))
        };
        if busy >= limit {
            Decision::Throttle
        } else {
            Decision::Yes
        }
    }

    /// Copies initializing on node `n` (local primary recoveries, or peer recoveries).
    fn incoming(&self, n: usize, local_primaries: bool) -> usize {
        self.all_copies()
            .filter(|c| c.node == Some(n) && c.routing == Routing::Initializing)
            .filter(|c| {
                (c.primary && c.source != Source::Peer && !c.is_relocation_target()) == local_primaries
            })
            .count()
    }

    /// Copies (of any shard) on node `n`, for balancing.
    fn load(&self, n: usize) -> usize {
        self.all_copies().filter(|c| c.node == Some(n)).count()
    }

    /// Candidate nodes for a copy, best first.
    fn candidates(&self, copy: &Copy, t: Duration) -> Vec<usize> {
        let pinned = copy.routing == Routing::Unassigned
            && ((copy.primary && copy.source == Source::ExistingStore)
                || copy.delayed_until.is_some_and(|d| d > t));
        if pinned {
            return copy.last_node.into_iter().collect();
        }
        let mut nodes: Vec<usize> = (0..self.nodes.len()).collect();
        nodes.sort_by_key(|&n| (Some(n) != copy.last_node, self.load(n), n));
        nodes
    }

    fn recovery_time(&self, source: Source, relocation: bool) -> Duration {
        let base = if relocation {
            self.timings.shard_relocation
        } else {
            match source {
                Source::EmptyStore => self.timings.new_shard,
                Source::Snapshot => self.timings.shard_restore,
                Source::ExistingStore | Source::Peer => self.timings.shard_recovery,
            }
        };
        match self.faults.slow_recovery {
            // `mul_f64` panics when the product does not fit (a factor of 1e308 or infinity);
            // `faults::apply` refuses such factors, and this saturates whatever gets here.
            Some(factor) => Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(Duration::MAX),
            None => base,
        }
    }

    fn group(&self, at: Loc) -> &ShardGroup {
        &self.tables[at.table].indices[at.index].groups[at.group]
    }

    fn group_mut(&mut self, at: Loc) -> &mut ShardGroup {
        &mut self.tables[at.table].indices[at.index].groups[at.group]
    }

    /// The first node the deciders say YES to, and whether any said THROTTLE.
    fn choose(&self, d: &Deciders, group: &ShardGroup, copy: &Copy, t: Duration) -> (Option<usize>, bool) {
        let mut throttled = false;
        for n in self.candidates(copy, t) {
            match self.decide(d, group, copy, n) {
                Decision::Yes => return (Some(n), throttled),
                Decision::Throttle => throttled = true,
                Decision::No => {}
            }
        }
        (None, throttled)
    }

    fn assign_unassigned(&mut self, at: Loc, d: &Deciders, t: Duration) {
        // Primaries first: replicas need an active primary anyway.
        let mut order: Vec<usize> = (0..self.group(at).copies.len()).collect();
        order.sort_by_key(|&c| !self.group(at).copies[c].primary);
        for c in order {
            let copy = self.group(at).copies[c].clone();
            if copy.routing != Routing::Unassigned {
                continue;
            }
            let (chosen, throttled) = self.choose(d, self.group(at), &copy, t);
            let source = if copy.primary { copy.source } else { Source::Peer };
            let done = t.saturating_add(self.recovery_time(source, false));
            let slot = &mut self.group_mut(at).copies[c];
            match chosen {
                Some(n) => {
                    slot.node = Some(n);
                    slot.routing = Routing::Initializing;
                    slot.source = source;
                    slot.recovery = Some((t, done));
                    slot.decided_no = false;
                    slot.delayed_until = None;
                }
                None => {
                    let delayed = copy.delayed_until.is_some_and(|x| x > t);
                    slot.decided_no = !throttled && !delayed;
                }
            }
        }
    }

    /// Starts relocations for active copies that may not remain where they are.
    fn move_off_forbidden(&mut self, at: Loc, d: &Deciders, t: Duration) {
        for c in 0..self.group(at).copies.len() {
            let copy = self.group(at).copies[c].clone();
            if copy.routing != Routing::Started || copy.is_relocation_target() || self.can_remain(d, &copy) {
                continue;
            }
            let probe = Copy {
                last_node: None,
                ..copy.clone()
            };
            let (target, _) = self.choose(d, self.group(at), &probe, t);
            if let Some(target) = target {
                self.start_relocation(at, c, target, t);
            }
        }
    }

    /// Copy `c` of the group at `at` starts relocating to node `target`: the source shows
    /// RELOCATING, the target an INITIALIZING copy recovering from it.
    fn start_relocation(&mut self, at: Loc, c: usize, target: usize, t: Duration) {
        let done = t.saturating_add(self.recovery_time(Source::Peer, true));
        let group = self.group_mut(at);
        let copy = &mut group.copies[c];
        let Some(source_node) = copy.node else {
            return;
        };
        copy.routing = Routing::Relocating;
        copy.relocating_to = Some(target);
        let mut moving = Copy::unassigned(copy.primary, Source::Peer);
        moving.node = Some(target);
        moving.routing = Routing::Initializing;
        moving.relocation_source = Some(source_node);
        moving.recovery = Some((t, done));
        group.copies.push(moving);
    }

    /// Whether the balancer may run now (`rebalance.enable`, `allow_rebalance`).
    fn rebalance_allowed(&self) -> bool {
        if self.settings.get("cluster.routing.rebalance.enable") == "none" {
            return false;
        }
        // Relocation targets are not "inactive" for these rules (ES RoutingNodes).
        let settled = |c: &Copy| c.routing.active() || c.is_relocation_target();
        match self
            .settings
            .get("cluster.routing.allocation.allow_rebalance")
            .as_str()
        {
            "always" => true,
            "indices_primaries_active" => self.all_copies().all(|c| !c.primary || settled(c)),
            _ => self.all_copies().all(settled),
        }
    }

    /// Starts relocations toward a balanced cluster, up to `cluster_concurrent_rebalance` in
    /// flight (counting relocations of any cause, as the real decider does).
    fn rebalance(&mut self, d: &Deciders, t: Duration) {
        if !self.rebalance_allowed() {
            return;
        }
        let limit = usize::try_from(
            self.settings
                .int("cluster.routing.allocation.cluster_concurrent_rebalance"),
        )
        .unwrap_or(0);
        let mut in_flight = self
            .all_copies()
            .filter(|c| c.routing == Routing::Relocating)
            .count();
        while in_flight < limit {
            let Some((at, c, target)) = self.best_move(d, true) else {
                break;
            };
            self.start_relocation(at, c, target, t);
            in_flight += 1;
        }
    }

    /// At creation: moves copies (STARTED in place, no relocation) until the balancer has
    /// nothing to do, so that a new cluster is quiet.
    fn settle_balance(&mut self) {
        let d = self.deciders();
        let bound = self.all_copies().count() * self.nodes.len().max(1);
        for _ in 0..bound {
            let Some((at, c, target)) = self.best_move(&d, false) else {
                break;
            };
            self.group_mut(at).copies[c].node = Some(target);
        }
    }

    /// The balancer's best move: the STARTED copy and target node with the largest weight
    /// difference above the threshold that the deciders accept (YES, not THROTTLE);
    /// `rebalance.enable` limits the copies when `honour_enable`.
    fn best_move(&self, d: &Deciders, honour_enable: bool) -> Option<(Loc, usize, usize)> {
        let rebalance_enable = self.settings.get("cluster.routing.rebalance.enable");
        let nodes: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].data && self.nodes[n].is_member())
            .collect();
        // A relocating copy counts on its target only (it is leaving its source).
        let counts = |copies: &mut dyn Iterator<Item = &Copy>| {
            let mut per_node = vec![0i64; self.nodes.len()];
            for c in copies {
                if let (Some(n), false) = (c.node, c.routing == Routing::Relocating) {
                    per_node[n] += 1;
                }
            }
            per_node
        };
        let total = counts(&mut self.all_copies());
        let mut best: Option<(i64, Loc, usize, usize)> = None;
        for (ti, table) in self.tables.iter().enumerate() {
            for (ii, index) in table.indices.iter().enumerate() {
                let mut copies = index.groups.iter().flat_map(|g| g.copies.iter());
                let per_index = counts(&mut copies);
                let weight = |n: usize| 45 * total[n] + 55 * per_index[n];
                for (gi, group) in index.groups.iter().enumerate() {
                    for (c, copy) in group.copies.iter().enumerate() {
                        let movable = match (honour_enable, rebalance_enable.as_str()) {
                            (false, _) | (true, "all") => true,
                            (true, "primaries") => copy.primary,
                            (true, "replicas") => !copy.primary,
                            _ => false,
                        };
                        let Some(from) = copy.node else { continue };
                        if !movable || copy.routing != Routing::Started || copy.is_relocation_target() {
                            continue;
                        }
                        for &to in &nodes {
                            // Weights ×100: a move needs a difference above the threshold 1.0.
                            let delta = weight(from) - weight(to);
                            if to == from || delta <= 100 || best.is_some_and(|b| b.0 >= delta) {
                                continue;
                            }
                            let probe = Copy {
                                last_node: None,
                                ..copy.clone()
                            };
                            if self.decide(d, group, &probe, to) == Decision::Yes {
                                let at = Loc {
                                    table: ti,
                                    index: ii,
                                    group: gi,
                                };
                                best = Some((delta, at, c, to));
                            }
                        }
                    }
                }
            }
        }
        best.map(|(_, at, c, to)| (at, c, to))
    }

    /// `sys.allocations` for one copy: the explanation and per-node decisions, for unassigned
    /// copies and for started copies that may not remain where they are.
    pub(super) fn explain(&self, group: &ShardGroup, copy: &Copy) -> Option<(String, serde_json::Value)> {
        let d = self.deciders();
        let t = self.clock;
        let explanation = match copy.routing {
            Routing::Unassigned => match copy.delayed_until.filter(|x| *x > t) {
                Some(until) => format!(
                    "cannot allocate because the cluster is still waiting {}s for the departed node holding a \
                     replica to rejoin",
                    until.saturating_sub(t).as_secs()
                ),
                None => "cannot allocate because allocation is not permitted to any of the nodes".to_string(),
            },
            Routing::Started if !self.can_remain(&d, copy) => {
                "cannot move shard to another node, even though it is not allowed to remain on its current node"
                    .to_string()
            }
            _ => return None,
        };
        // A move decision weighs the other nodes only (`BalancedShardsAllocator.decideMove`).
        let moving = copy.routing == Routing::Started;
        let decisions: Vec<serde_json::Value> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].data && self.nodes[n].is_member())
            .filter(|&n| !moving || copy.node != Some(n))
            .map(|n| {
                serde_json::json!({
                    "node_id": self.nodes[n].id,
                    "node_name": self.nodes[n].name,
                    "explanations": self.reasons(&d, group, copy, n),
                })
            })
            .collect();
        Some((explanation, serde_json::Value::Array(decisions)))
    }

    /// Why the deciders refuse node `n`: the texts of the deciders that say NO, in the order
    /// CrateDB asks them (`ClusterModule.createAllocationDeciders`: replica after primary,
    /// enable, filter, same shard, then CrateDB's decommission decider).
    fn reasons(&self, d: &Deciders, group: &ShardGroup, copy: &Copy, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        if let (true, Some(snapshot)) = (
            copy.primary && copy.source == Source::Snapshot,
            &group.restore_failed,
        ) {
            out.push(restore_failed_text(snapshot, &self.index_name(group)));
        }
        if !copy.primary && !group.active_primary() {
            out.push("primary shard for this replica is not yet active".to_string());
        }
        let setting = format!("cluster setting [cluster.routing.allocation.enable={}]", d.enable);
        if !Self::enable_allows(d, copy) {
            out.push(match d.enable.as_str() {
                "none" => format!("no allocations are allowed due to {setting}"),
                "primaries" => format!("replica allocations are forbidden due to {setting}"),
                _ => format!("non-new primary allocations are forbidden due to {setting}"),
            });
        }
        if let Some(reason) = self.filter_reason(d, n) {
            out.push(reason);
        }
        if let Some(there) = group.copies.iter().find(|c| c.node == Some(n)) {
            out.push(format!(
                "a copy of this shard is already allocated to this node [{}]",
                self.shard_routing(group, there)
            ));
        }
        if self.nodes[n].decommission.is_some() {
            out.push("node is being decommissioned".to_string());
        }
        out
    }

    /// `FilterAllocationDecider.shouldClusterFilter`'s NO for node `n`, if any: require, then
    /// include, then exclude, each naming its filters as `DiscoveryNodeFilters.toString` does
    /// (`_name:"a OR b"`; CrateDB's include text really lacks its "match").
    fn filter_reason(&self, d: &Deciders, n: usize) -> Option<String> {
        let node = &self.nodes[n];
        let any = |list: &[String], text: &str| list.iter().any(|p| glob_match(p, text));
        let filters = |entries: &[(&str, &[String])]| {
            entries
                .iter()
                .filter(|(_, values)| !values.is_empty())
                .map(|(attr, values)| format!("{attr}:\"{}\"", values.join(" OR ")))
                .collect::<Vec<_>>()
                .join(",")
        };
        if !d.require_name.is_empty() && !any(&d.require_name, &node.name) {
            return Some(format!(
                "node does not match cluster setting [cluster.routing.allocation.require] filters [{}]",
                filters(&[("_name", &d.require_name)])
            ));
        }
        if !d.include_name.is_empty() && !any(&d.include_name, &node.name) {
            return Some(format!(
                "node does not cluster setting [cluster.routing.allocation.include] filters [{}]",
                filters(&[("_name", &d.include_name)])
            ));
        }
        if any(&d.exclude_name, &node.name) || any(&d.exclude_id, &node.id) {
            return Some(format!(
                "node matches cluster setting [cluster.routing.allocation.exclude] filters [{}]",
                filters(&[("_name", &d.exclude_name), ("_id", &d.exclude_id)])
            ));
        }
        None
    }

    /// `ShardRouting.toString`, abridged: `[index][shard], node[id], [P|R], s[STATE]`.
    fn shard_routing(&self, group: &ShardGroup, copy: &Copy) -> String {
        let index = self.index_name(group);
        let node = copy.node.map(|n| self.nodes[n].id.as_str()).unwrap_or_default();
        let kind = if copy.primary { "P" } else { "R" };
        format!(
            "[{index}][{}], node[{node}], [{kind}], s[{}]",
            group.id,
            copy.routing.as_str()
        )
    }

    /// The index name of `group`: the table's (schema-qualified outside `doc`), or its
    /// partition's.
    fn index_name(&self, group: &ShardGroup) -> String {
        self.tables
            .iter()
            .flat_map(|t| t.indices.iter().map(move |i| (t, i)))
            .find(|(_, i)| i.groups.iter().any(|g| std::ptr::eq(g, group)))
            .map(|(t, i)| {
                let prefix = if t.schema == "doc" {
                    String::new()
                } else {
                    format!("{}.", t.schema)
                };
                match &i.partition {
                    Some(ident) => format!("{prefix}.partitioned.{}.{ident}", t.name),
                    None => format!("{prefix}{}", t.name),
                }
            })
            .unwrap_or_default()
    }

    /// Finishes every recovery due at or before `t`.
    pub(super) fn complete_recoveries(&mut self, t: Duration) {
        for table in &mut self.tables {
            for index in &mut table.indices {
                for group in &mut index.groups {
                    if let Some(snapshot) = &index.failing_restore {
                        fail_restored_primary(group, snapshot, t);
                    }
                    complete_group(group, t);
                }
            }
        }
    }
}

/// A restore set to fail: the primary whose recovery from the snapshot is due becomes
/// UNASSIGNED instead of STARTED, and the group remembers why (CrateDB keeps a failed restore's
/// primary unassigned: `RestoreInProgressAllocationDecider`).
fn fail_restored_primary(group: &mut ShardGroup, snapshot: &str, t: Duration) {
    for copy in &mut group.copies {
        let due = copy.routing == Routing::Initializing && copy.recovery.is_some_and(|(_, done)| done <= t);
        if due && copy.primary && copy.source == Source::Snapshot && copy.relocation_source.is_none() {
            copy.routing = Routing::Unassigned;
            copy.last_node = copy.node.take();
            copy.recovery = None;
            copy.decided_no = true;
            group.restore_failed = Some(snapshot.to_string());
        }
    }
}

fn complete_group(group: &mut ShardGroup, t: Duration) {
    let mut finished_relocations = Vec::new();
    for copy in &mut group.copies {
        let due = copy.routing == Routing::Initializing && copy.recovery.is_some_and(|(_, done)| done <= t);
        if !due {
            continue;
        }
        copy.routing = Routing::Started;
        if copy.primary {
            group.primary_ever_active = true;
        }
        if let Some(source) = copy.relocation_source.take() {
            finished_relocations.push((source, copy.node));
        }
    }
    for (source, target) in finished_relocations {
        group
            .copies
            .retain(|c| !(c.node == Some(source) && c.relocating_to == target));
    }
}

/// Keeps `want` replicas: adds unassigned ones, or drops unassigned, then initializing, then
/// started ones on a node the filters exclude (`on_filtered`), then other started ones.
fn resize_replicas(group: &mut ShardGroup, want: usize, on_filtered: impl Fn(&Copy) -> bool) {
    let is_replica = |c: &Copy| !c.primary && !c.is_relocation_target();
    let have = group.copies.iter().filter(|c| is_replica(c)).count();
    if have < want {
        group
            .copies
            .extend((have..want).map(|_| Copy::unassigned(false, Source::Peer)));
        return;
    }
    let mut surplus = have - want;
    let order: [(Routing, Option<bool>); 4] = [
        (Routing::Unassigned, None),
        (Routing::Initializing, None),
        (Routing::Started, Some(true)),
        (Routing::Started, None),
    ];
    for (state, filtered) in order {
        while surplus > 0 {
            let Some(pos) = group.copies.iter().rposition(|c| {
                is_replica(c) && c.routing == state && filtered.is_none_or(|f| on_filtered(c) == f)
            }) else {
                break;
            };
            group.copies.remove(pos);
            surplus -= 1;
        }
    }
}

/// `RestoreInProgressAllocationDecider`'s NO for a primary whose restore failed.
fn restore_failed_text(snapshot: &str, index: &str) -> String {
    format!(
        "shard has failed to be restored from the snapshot [{snapshot}] because of [restore failed] - manually \
         close or delete the index [{index}] in order to retry to restore the snapshot again or use the reroute \
         API to force the allocation of an empty primary shard"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("data-*", "data-hot-1"));
        assert!(glob_match("*-1", "data-hot-1"));
        assert!(!glob_match("data-*", "master-0"));
        assert!(glob_match("n3", "n3"));
        assert!(!glob_match("N3", "n3"));
    }

    #[test]
    fn resize_prefers_dropping_unassigned() {
        let mut group = ShardGroup {
            id: 0,
            copies: vec![
                Copy::started(true, 0, Source::EmptyStore),
                Copy::started(false, 1, Source::Peer),
                Copy::unassigned(false, Source::Peer),
            ],
            primary_ever_active: true,
            restore_failed: None,
        };
        resize_replicas(&mut group, 1, |_| false);
        assert_eq!(group.copies.len(), 2);
        assert!(group.copies.iter().all(|c| c.routing == Routing::Started));
        resize_replicas(&mut group, 2, |_| false);
        assert_eq!(group.copies.len(), 3);
    }

    #[test]
    fn resize_drops_started_copies_on_filtered_nodes_first() {
        let mut group = ShardGroup {
            id: 0,
            copies: vec![
                Copy::started(true, 0, Source::EmptyStore),
                Copy::started(false, 1, Source::Peer),
                Copy::started(false, 2, Source::Peer),
            ],
            primary_ever_active: true,
            restore_failed: None,
        };
        // Node 1 is excluded: its copy goes, though the last one would be dropped otherwise.
        resize_replicas(&mut group, 1, |c| c.node == Some(1));
        let nodes: Vec<_> = group.copies.iter().map(|c| c.node).collect();
        assert_eq!(nodes, vec![Some(0), Some(2)]);
    }
}
