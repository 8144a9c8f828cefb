//! Nodes coming and going, master election and the voting configuration, `ALTER CLUSTER
//! DECOMMISSION`, and the simulated clock (`advance` processes every event in time order so
//! cascades come out right).
//!
//! Nodes are never removed from the model (copies refer to them by index): a node added on
//! scale-out is appended, and a node whose pod is gone for good (scale-in, suspend) is marked
//! departed. It left the cluster when its process stopped, like any stopped node: its copies
//! were failed then (replicas promoted, lost copies unassigned), so a departed node that held
//! the only copy of a shard leaves that primary missing (RED) until it comes back.
//!
//! Master election follows Zen2 (CrateDB ≥ 4): a master needs a quorum of the *voting
//! configuration*, which the master keeps in step with the live master-eligible nodes as
//! Elasticsearch's `Reconfigurator` does with `cluster.auto_shrink_voting_configuration`
//! (default true): the largest odd number of live master-eligible nodes, but never shrunk below
//! three automatically. So scaling 4 → 3 keeps a quorum, while 3 → 2 → 1 loses it at the last
//! step (the third voter is still in the configuration), as with a real cluster without voting
//! exclusions (which the model, like the operator, does not use).

use std::collections::BTreeSet;
use std::time::Duration;

use super::CrateCluster;
use super::model::{Availability, Copy, Decommission, Phase, Routing, Source};

/// Upper bound on events processed by one `advance`, against accidental livelock.
const MAX_STEPS: usize = 1_000_000;

impl CrateCluster {
    pub(super) fn process_started(&mut self, i: usize, now: Duration) {
        let node = &mut self.nodes[i];
        if node.phase != Phase::Down {
            return;
        }
        node.stopped_gracefully = false;
        node.stop_requested = false;
        node.decommission = None;
        node.departed = false;
        // Node checks are acknowledged in the process's memory only.
        node.acknowledged_checks.clear();
        node.phase = Phase::Starting {
            joins_at: (!node.never_rejoins).then_some(now + self.timings.join_delay),
        };
    }

    pub(super) fn stop_requested(&mut self, i: usize, now: Duration) {
        let shutdown = self.timings.shutdown_delay;
        let node = &mut self.nodes[i];
        node.stop_requested = true;
        match node.phase {
            Phase::Down | Phase::Starting { .. } => {
                node.phase = Phase::Down;
                node.stopped_gracefully = true;
            }
            // A running decommission finishes first (the preStop hook waits for it).
            Phase::Member if node.decommission.is_some() => {}
            Phase::Member => node.phase = Phase::Leaving { at: now + shutdown },
            Phase::Leaving { .. } => {}
        }
    }

    pub(super) fn kill(&mut self, i: usize, now: Duration) {
        let was_member = self.nodes[i].is_member();
        let node = &mut self.nodes[i];
        node.phase = Phase::Down;
        node.decommission = None;
        node.stopped_gracefully = false;
        if was_member {
            self.leave(i, now);
        }
    }

    pub(super) fn set_never_rejoins(&mut self, name: &str, on: bool) {
        let join_delay = self.timings.join_delay;
        let clock = self.clock;
        if let Some(i) = self.node_index(name) {
            let node = &mut self.nodes[i];
            node.never_rejoins = on;
            if let Phase::Starting { .. } = node.phase {
                node.phase = Phase::Starting {
                    joins_at: (!on).then_some(clock + join_delay),
                };
            }
        }
    }

    /// A pod's node is gone for good (its pod was deleted and the StatefulSet does not want it
    /// back). A process still running is killed first (a force-deleted pod's container).
    pub(super) fn depart(&mut self, i: usize, now: Duration) {
        if self.nodes[i].phase != Phase::Down {
            self.kill(i, now);
        }
        let node = &mut self.nodes[i];
        node.departed = true;
        node.decommission = None;
        node.stop_requested = false;
    }

    /// One master among the master-eligible members, if they hold a quorum of the voting
    /// configuration; the current master stays while it is a member. A master then adapts the
    /// voting configuration to the live master-eligible nodes.
    pub(super) fn elect_master(&mut self) {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].master_eligible && self.nodes[i].is_member())
            .collect();
        if !has_quorum(&self.voting, &live) {
            self.master = None;
            return;
        }
        if !self.master.is_some_and(|m| live.contains(&m)) {
            self.master = live.first().copied();
        }
        if let Some(master) = self.master {
            self.voting = reconfigure(&self.voting, &live, master);
        }
    }

    fn join(&mut self, i: usize, now: Duration) {
        self.nodes[i].phase = Phase::Member;
        self.nodes[i].ever_member = true;
        self.nodes[i].joined_at = now;
        self.state_version += 1;
        self.elect_master();
    }

    /// The node leaves the cluster: its copies are failed
    /// (docs/cratedb-behaviour.md#during-a-rolling-restart).
    pub(super) fn leave(&mut self, i: usize, now: Duration) {
        let delay = self.timings.node_left_delayed_timeout;
        for table in &mut self.tables {
            for index in &mut table.indices {
                for group in &mut index.groups {
                    fail_copies_on(&mut group.copies, group.primary_ever_active, i, now + delay);
                }
            }
        }
        self.state_version += 1;
        self.elect_master();
        // The last master-eligible node is gone: the cluster state in memory is lost, and the
        // next one is recovered from disk, which holds persistent settings only
        // (docs/cratedb-behaviour.md#cluster-settings).
        if !self.nodes.iter().any(|n| n.master_eligible && n.is_member()) {
            self.settings.drop_transient();
        }
    }

    /// Starts `ALTER CLUSTER DECOMMISSION` of node `i` (availability `None` = the setting).
    pub(super) fn start_decommission(&mut self, i: usize, availability: Option<Availability>, now: Duration) {
        if !matches!(self.nodes[i].phase, Phase::Member) || self.nodes[i].decommission.is_some() {
            return;
        }
        let availability = availability.unwrap_or_else(|| self.settings.availability());
        let deadline = now + self.settings.graceful_timeout();
        let force = self.settings.get(super::settings::GRACEFUL_FORCE) == "true";
        self.nodes[i].decommission = Some(Decommission {
            availability,
            deadline,
            force,
        });
        if availability == Availability::None || self.data_member_count() <= 1 {
            self.nodes[i].phase = Phase::Leaving {
                at: now + self.timings.decommission_exit_delay,
            };
            return;
        }
        self.reroute(now);
    }

    /// Decommissions whose health wait is satisfied exit; timed-out ones stay up (or exit
    /// with `graceful_stop.force`).
    pub(super) fn check_decommissions(&mut self, now: Duration) {
        for i in 0..self.nodes.len() {
            let Some(dc) = self.nodes[i].decommission.clone() else {
                continue;
            };
            if self.nodes[i].phase != Phase::Member {
                continue;
            }
            if self.decommission_satisfied(i, dc.availability) {
                self.nodes[i].phase = Phase::Leaving {
                    at: now + self.timings.decommission_exit_delay,
                };
            } else if now >= dc.deadline {
                if dc.force {
                    self.nodes[i].phase = Phase::Leaving {
                        at: now + self.timings.decommission_exit_delay,
                    };
                } else if self.nodes[i].stop_requested {
                    // The preStop hook gave up; the SIGTERM that follows stops the node at once.
                    self.nodes[i].decommission = None;
                    self.nodes[i].phase = Phase::Leaving {
                        at: now + self.timings.shutdown_delay,
                    };
                } else {
                    self.nodes[i].decommission = None;
                }
            }
        }
    }

    /// The health wait of DecommissioningService: no relocating shards anywhere, YELLOW
    /// (PRIMARIES) or GREEN (FULL), and the node holds no copy it may not keep.
    fn decommission_satisfied(&self, i: usize, availability: Availability) -> bool {
        let mut relocating = false;
        let mut holds_forbidden = false;
        for copy in self.all_copies() {
            relocating |= copy.routing == Routing::Relocating;
            if copy.node == Some(i) {
                holds_forbidden |= availability == Availability::Full || copy.primary;
            }
        }
        let health_ok = match availability {
            Availability::Full => self.cluster_health() == super::Health::Green,
            _ => self.cluster_health() <= super::Health::Yellow,
        };
        !relocating && !holds_forbidden && health_ok
    }

    pub(super) fn all_copies(&self) -> impl Iterator<Item = &Copy> {
        self.tables
            .iter()
            .flat_map(|t| t.indices.iter())
            .flat_map(|i| i.groups.iter())
            .flat_map(|g| g.copies.iter())
    }

    pub(super) fn data_member_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.data && n.is_member()).count()
    }

    // ---- the clock ----

    pub(super) fn advance_to(&mut self, now: Duration) {
        for _ in 0..MAX_STEPS {
            match self.next_event() {
                Some(t) if t <= now => {
                    self.clock = self.clock.max(t);
                    self.step(t);
                }
                _ => break,
            }
        }
        self.clock = self.clock.max(now);
        self.reroute(self.clock);
    }

    /// Everything that happens at `t`.
    fn step(&mut self, t: Duration) {
        for i in 0..self.nodes.len() {
            match self.nodes[i].phase {
                Phase::Starting { joins_at: Some(at) } if at <= t => self.join(i, t),
                Phase::Leaving { at } if at <= t => {
                    let node = &mut self.nodes[i];
                    node.phase = Phase::Down;
                    node.decommission = None;
                    node.stopped_gracefully = true;
                    self.leave(i, t);
                }
                _ => {}
            }
        }
        self.complete_recoveries(t);
        for copy in self.copies_mut() {
            if copy.delayed_until.is_some_and(|d| d <= t) {
                copy.delayed_until = None;
            }
        }
        self.reroute(t);
    }

    pub(super) fn next_event(&self) -> Option<Duration> {
        let node_events = self.nodes.iter().filter_map(|n| match n.phase {
            Phase::Starting { joins_at } => joins_at,
            Phase::Leaving { at } => Some(at),
            Phase::Member => n.decommission.as_ref().map(|d| d.deadline),
            Phase::Down => None,
        });
        let copy_events = self.all_copies().filter_map(|c| match c.routing {
            Routing::Initializing => c.recovery.map(|(_, done)| done),
            Routing::Unassigned => c.delayed_until,
            _ => None,
        });
        node_events
            .chain(copy_events)
            .chain(self.snapshot_next_event())
            .min()
    }

    pub(super) fn copies_mut(&mut self) -> impl Iterator<Item = &mut Copy> {
        self.tables
            .iter_mut()
            .flat_map(|t| t.indices.iter_mut())
            .flat_map(|i| i.groups.iter_mut())
            .flat_map(|g| g.copies.iter_mut())
    }
}

/// Whether the live nodes hold a majority of the voting configuration.
pub(super) fn has_quorum(config: &BTreeSet<usize>, live: &[usize]) -> bool {
    let votes = config.iter().filter(|i| live.contains(i)).count();
    !config.is_empty() && votes * 2 > config.len()
}

/// Elasticsearch's `Reconfigurator.reconfigure` with auto-shrink on and no voting exclusions:
/// the target size is the largest odd number of live master-eligible nodes when there are at
/// least three, else 3 (or 1 if the configuration is already smaller than 3); members are taken
/// live ones in the configuration first (the master first), then live ones outside it, then
/// departed ones still in it. A configuration without a quorum among the live nodes is not
/// adopted.
pub(super) fn reconfigure(current: &BTreeSet<usize>, live: &[usize], master: usize) -> BTreeSet<usize> {
    let target = if live.len() >= 3 {
        live.len() - (1 - live.len() % 2)
    } else if current.len() < 3 {
        1
    } else {
        3
    };
    let mut order: Vec<usize> = Vec::new();
    if live.contains(&master) && current.contains(&master) {
        order.push(master);
    }
    order.extend(live.iter().filter(|i| current.contains(i) && **i != master));
    if live.contains(&master) && !current.contains(&master) {
        order.push(master);
    }
    order.extend(live.iter().filter(|i| !current.contains(i) && **i != master));
    order.extend(current.iter().filter(|i| !live.contains(i)));
    let proposed: BTreeSet<usize> = order.into_iter().take(target).collect();
    if has_quorum(&proposed, live) {
        proposed
    } else {
        current.clone()
    }
}

/// Fails every copy of one shard that involves node `gone`
/// (docs/cratedb-behaviour.md#during-a-rolling-restart): relocations to or from it are cancelled, a
/// lost active primary is replaced by an active replica if there is one, and the lost copies become
/// unassigned (replicas delayed until `delayed`).
fn fail_copies_on(copies: &mut Vec<Copy>, primary_ever_active: bool, gone: usize, delayed: Duration) {
    // Relocation targets on the node: cancel, the source keeps its copy.
    let targets_gone: Vec<usize> = copies
        .iter()
        .filter(|c| c.is_relocation_target() && c.node == Some(gone))
        .filter_map(|c| c.relocation_source)
        .collect();
    copies.retain(|c| !(c.is_relocation_target() && c.node == Some(gone)));
    for c in copies.iter_mut() {
        if c.routing == Routing::Relocating && c.node.is_some_and(|n| targets_gone.contains(&n)) {
            c.routing = Routing::Started;
            c.relocating_to = None;
        }
    }
    // Relocations away from the node are aborted with it.
    copies.retain(|c| c.relocation_source != Some(gone));
    let Some(pos) = copies.iter().position(|c| c.node == Some(gone)) else {
        return;
    };
    let lost = copies[pos].clone();
    if lost.primary {
        fail_primary(copies, pos, &lost, primary_ever_active, gone, delayed);
    } else {
        copies[pos] = unassigned_replica(gone, delayed);
    }
}

fn fail_primary(
    copies: &mut [Copy],
    pos: usize,
    lost: &Copy,
    primary_ever_active: bool,
    gone: usize,
    delayed: Duration,
) {
    let promoted = copies
        .iter()
        .position(|c| !c.primary && c.routing.active() && !c.is_relocation_target() && c.node != Some(gone));
    if let Some(p) = promoted {
        copies[p].primary = true;
        let promoted_node = copies[p].node;
        for c in copies.iter_mut() {
            if c.relocation_source.is_some() && c.relocation_source == promoted_node {
                c.primary = true;
            }
        }
        copies[pos] = unassigned_replica(gone, delayed);
        return;
    }
    let source = if primary_ever_active || lost.source == Source::ExistingStore {
        Source::ExistingStore
    } else {
        lost.source
    };
    let mut primary = Copy::unassigned(true, source);
    primary.last_node = Some(gone);
    copies[pos] = primary;
    // Replicas that were recovering from the lost primary fail too.
    for c in copies.iter_mut() {
        if !c.primary && c.routing == Routing::Initializing {
            let last = c.node;
            *c = Copy::unassigned(false, Source::Peer);
            c.last_node = last;
        }
    }
}

fn unassigned_replica(last: usize, delayed: Duration) -> Copy {
    let mut copy = Copy::unassigned(false, Source::Peer);
    copy.last_node = Some(last);
    copy.delayed_until = Some(delayed);
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[usize]) -> BTreeSet<usize> {
        items.iter().copied().collect()
    }

    #[test]
    fn the_voting_configuration_shrinks_to_odd_sizes_but_not_below_three() {
        // Four live nodes: three vote.
        assert_eq!(reconfigure(&set(&[0, 1, 2]), &[0, 1, 2, 3], 0), set(&[0, 1, 2]));
        // Five: all vote.
        assert_eq!(reconfigure(&set(&[0, 1, 2]), &[0, 1, 2, 3, 4], 0).len(), 5);
        // A voter departs with three left: the newcomer takes its place.
        assert_eq!(reconfigure(&set(&[0, 1, 2]), &[0, 1, 3], 0), set(&[0, 1, 3]));
        // Two live of three voters: the departed voter stays, two of three is still a quorum.
        assert_eq!(reconfigure(&set(&[0, 1, 2]), &[0, 1], 0), set(&[0, 1, 2]));
        assert!(!has_quorum(&set(&[0, 1, 2]), &[0]));
        // A one-node cluster growing to two keeps one voter, then three.
        assert_eq!(reconfigure(&set(&[0]), &[0, 1], 0), set(&[0]));
        assert_eq!(reconfigure(&set(&[0]), &[0, 1, 2], 0), set(&[0, 1, 2]));
    }

    #[test]
    fn losing_a_primary_promotes_the_replica() {
        let mut copies = vec![
            Copy::started(true, 0, Source::EmptyStore),
            Copy::started(false, 1, Source::Peer),
        ];
        fail_copies_on(&mut copies, true, 0, Duration::from_secs(60));
        assert!(copies[1].primary && copies[1].routing == Routing::Started);
        assert!(!copies[0].primary && copies[0].routing == Routing::Unassigned);
        assert_eq!(copies[0].last_node, Some(0));
    }

    #[test]
    fn losing_the_only_primary_leaves_an_existing_store_primary() {
        let mut copies = vec![Copy::started(true, 0, Source::EmptyStore)];
        fail_copies_on(&mut copies, true, 0, Duration::from_secs(60));
        assert!(copies[0].primary);
        assert_eq!(copies[0].source, Source::ExistingStore);
        assert_eq!(copies[0].routing, Routing::Unassigned);
    }
}
