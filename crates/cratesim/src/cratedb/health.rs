//! `sys.health` by CrateDB's rules (its `TableHealth` and `ClusterShardHealth`;
//! docs/cratedb-behaviour.md#health): active copies (STARTED, RELOCATING) are ignored; each
//! inactive replica is underreplicated; each inactive primary is missing and is "new" (YELLOW) if
//! its last allocation was not a deciders' NO and it recovers from EMPTY_STORE or SNAPSHOT, else
//! "used" (RED). Relocation targets are not counted, so relocation does not change health.

use super::model::{Copy, Index, Source};
use super::{CrateCluster, Health};

/// One `sys.health` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexHealth {
    pub(crate) schema: String,
    pub(crate) table: String,
    pub(crate) partition: Option<String>,
    pub(crate) health: Health,
    pub(crate) missing: i64,
    pub(crate) underreplicated: i64,
}

fn primary_is_new(copy: &Copy) -> bool {
    !copy.decided_no && matches!(copy.source, Source::EmptyStore | Source::Snapshot)
}

/// Health of one index (a table or a partition).
pub(crate) fn index_health(index: &Index) -> (Health, i64, i64) {
    let (mut missing, mut under, mut red, mut yellow) = (0, 0, false, false);
    for copy in index.groups.iter().flat_map(|g| g.copies.iter()) {
        if copy.routing.active() || copy.is_relocation_target() {
            continue;
        }
        if copy.primary {
            missing += 1;
            if primary_is_new(copy) {
                yellow = true;
            } else {
                red = true;
            }
        } else {
            under += 1;
            yellow = true;
        }
    }
    let health = if red {
        Health::Red
    } else if yellow {
        Health::Yellow
    } else {
        Health::Green
    };
    (health, missing, under)
}

impl CrateCluster {
    /// The rows of `sys.health`, with the HealthStuckYellow fault applied.
    pub(crate) fn health_rows(&self) -> Vec<IndexHealth> {
        let mut rows = Vec::new();
        for table in &self.tables {
            for index in &table.indices {
                let (mut health, missing, mut underreplicated) = index_health(index);
                if self.faults.stuck_yellow && health == Health::Green {
                    health = Health::Yellow;
                    underreplicated = underreplicated.max(1);
                }
                rows.push(IndexHealth {
                    schema: table.schema.clone(),
                    table: table.name.clone(),
                    partition: index.partition.clone(),
                    health,
                    missing,
                    underreplicated,
                });
            }
        }
        rows
    }

    /// The worst table health; RED without an elected master; GREEN without tables.
    pub(crate) fn cluster_health(&self) -> Health {
        if self.master.is_none() {
            return Health::Red;
        }
        self.health_rows()
            .iter()
            .map(|r| r.health)
            .max()
            .unwrap_or(Health::Green)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cratedb::model::{Replicas, Routing, ShardGroup};

    fn index(copies: Vec<Copy>) -> Index {
        Index {
            rows: 0,
            partition: None,
            uuid: String::new(),
            replicas: Replicas::parse("1").unwrap(),
            groups: vec![ShardGroup {
                id: 0,
                copies,
                primary_ever_active: true,
                restore_failed: None,
            }],
            failing_restore: None,
        }
    }

    #[test]
    fn rules() {
        let green = index(vec![
            Copy::started(true, 0, Source::EmptyStore),
            Copy::started(false, 1, Source::Peer),
        ]);
        assert_eq!(index_health(&green), (Health::Green, 0, 0));
        let yellow = index(vec![
            Copy::started(true, 0, Source::EmptyStore),
            Copy::unassigned(false, Source::Peer),
        ]);
        assert_eq!(index_health(&yellow), (Health::Yellow, 0, 1));
        let red = index(vec![Copy::unassigned(true, Source::ExistingStore)]);
        assert_eq!(index_health(&red), (Health::Red, 1, 0));
        let new_primary = index(vec![Copy::unassigned(true, Source::EmptyStore)]);
        assert_eq!(index_health(&new_primary).0, Health::Yellow);
        let restoring = index(vec![Copy::unassigned(true, Source::Snapshot)]);
        assert_eq!(index_health(&restoring).0, Health::Yellow);
        let mut refused = Copy::unassigned(true, Source::EmptyStore);
        refused.decided_no = true;
        assert_eq!(index_health(&index(vec![refused])).0, Health::Red);
        let mut relocating = Copy::started(true, 0, Source::EmptyStore);
        relocating.routing = Routing::Relocating;
        let mut target = Copy::unassigned(true, Source::Peer);
        target.routing = Routing::Initializing;
        target.relocation_source = Some(0);
        assert_eq!(index_health(&index(vec![relocating, target])).0, Health::Green);
    }
}
