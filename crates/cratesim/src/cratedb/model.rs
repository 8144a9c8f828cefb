//! The state of a simulated CrateDB cluster: nodes, tables, their indices (a table, or one
//! partition of a partitioned table) and shard copies.
//!
//! Only data and small derived facts live here; how copies move between states is in
//! `allocation.rs`, how nodes come and go in `lifecycle.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use super::spec::{GatewaySettings, NodeSpec, TableSpec};

/// Where a node's process is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    /// No process (never started, killed, or exited).
    Down,
    /// Process up, not yet a cluster member. `None` = never joins (fault).
    Starting { joins_at: Option<Duration> },
    /// A cluster member.
    Member,
    /// A member whose process is exiting; it leaves the cluster at `at`.
    Leaving { at: Duration },
}

/// `cluster.graceful_stop.min_availability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Availability {
    None,
    Primaries,
    Full,
}

impl Availability {
    /// Any unrecognised value silently means NONE (CrateDB's `DataAvailability`;
    /// docs/cratedb-behaviour.md#set-and-reset-global).
    pub(crate) fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "full" => Availability::Full,
            "primaries" => Availability::Primaries,
            _ => Availability::None,
        }
    }
}

/// A running `ALTER CLUSTER DECOMMISSION` of one node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decommission {
    pub(crate) availability: Availability,
    pub(crate) deadline: Duration,
    pub(crate) force: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) hostname: String,
    pub(crate) ip: String,
    pub(crate) version: String,
    pub(crate) master_eligible: bool,
    pub(crate) data: bool,
    pub(crate) phase: Phase,
    pub(crate) decommission: Option<Decommission>,
    /// Set when a requested graceful stop (SIGTERM or decommission) has completed.
    pub(crate) stopped_gracefully: bool,
    /// A SIGTERM was received for the current process.
    pub(crate) stop_requested: bool,
    pub(crate) never_rejoins: bool,
    /// When the current process became a member (for uptime-like columns).
    pub(crate) joined_at: Duration,
    /// The node's pod is gone for good (scale-in, suspend): the node is out of the cluster and
    /// no longer counts as unavailable. Cleared when a pod runs the node again.
    pub(crate) departed: bool,
    /// The node has been a cluster member at least once (a node added on scale-out that has not
    /// joined yet is not "unavailable": it was never there).
    pub(crate) ever_member: bool,
    /// The static gateway settings its current process started with (its command line).
    pub(crate) gateway: GatewaySettings,
    /// Ids of the node checks acknowledged since its process started.
    pub(crate) acknowledged_checks: BTreeSet<u32>,
}

impl Node {
    pub(crate) fn new(spec: &NodeSpec, cluster: &str, index: usize, version: &str) -> Self {
        Self {
            name: spec.name.clone(),
            id: node_id(cluster, &spec.name),
            hostname: default_hostname(cluster, &spec.name),
            ip: format!("10.0.{}.{}", index / 200, index % 200 + 10),
            version: version.to_string(),
            master_eligible: spec.master_eligible,
            data: spec.data,
            phase: Phase::Member,
            decommission: None,
            stopped_gracefully: false,
            stop_requested: false,
            never_rejoins: false,
            joined_at: Duration::ZERO,
            departed: false,
            ever_member: true,
            gateway: GatewaySettings::default(),
            acknowledged_checks: BTreeSet::new(),
        }
    }

    /// A node added after the cluster was created (scale-out): no process yet, never a member.
    pub(crate) fn added(spec: &NodeSpec, cluster: &str, index: usize, version: &str) -> Self {
        Self {
            phase: Phase::Down,
            ever_member: false,
            ..Self::new(spec, cluster, index, version)
        }
    }

    pub(crate) fn is_member(&self) -> bool {
        matches!(self.phase, Phase::Member | Phase::Leaving { .. })
    }

    /// Accepts new HTTP connections and SQL sessions.
    pub(crate) fn serving(&self) -> bool {
        self.phase == Phase::Member && self.decommission.is_none()
    }

    /// Can receive new shard copies.
    pub(crate) fn accepts_shards(&self) -> bool {
        self.data && self.phase == Phase::Member && self.decommission.is_none()
    }

    /// Counts as unavailable: stopping, stopped or not yet rejoined, but neither departed for
    /// good nor newly added and still joining for the first time.
    pub(crate) fn unavailable(&self) -> bool {
        !self.serving() && !self.departed && self.ever_member
    }
}

/// A stable 22-character node id derived from the names (CrateDB persists node ids on disk,
/// so a restarted node keeps its id).
pub(crate) fn node_id(cluster: &str, node: &str) -> String {
    use base64::Engine;
    let a = fnv64(format!("{cluster}/{node}").as_bytes());
    let b = fnv64(format!("{node}@{cluster}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A UUID-shaped text derived from a seed.
pub(crate) fn uuid_from(seed: &str) -> String {
    let a = fnv64(seed.as_bytes());
    let b = fnv64(format!("{seed}#").as_bytes());
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The operator's pod name for a node: `data-hot-2` of cluster `c` runs in `crate-data-hot-c-2`.
pub(crate) fn default_hostname(cluster: &str, node: &str) -> String {
    match node.rsplit_once('-') {
        Some((prefix, ordinal)) if ordinal.chars().all(|c| c.is_ascii_digit()) => {
            format!("crate-{prefix}-{cluster}-{ordinal}")
        }
        _ => format!("crate-{node}-{cluster}"),
    }
}

/// CrateDB's partition ident for partition values: the values serialised as a vint count and,
/// per value, a vint `len + 1` (0 = NULL) and the UTF-8 bytes, then encoded as lowercase
/// base32hex without padding (`04732cpp6ksjcc9i60o30c1g` for `1395961200000`).
pub fn partition_ident(values: &[Option<&str>]) -> String {
    let mut bytes = Vec::new();
    push_vint(&mut bytes, values.len());
    for value in values {
        match value {
            Some(text) => {
                push_vint(&mut bytes, text.len() + 1);
                bytes.extend_from_slice(text.as_bytes());
            }
            None => push_vint(&mut bytes, 0),
        }
    }
    base32hex_lower(&bytes)
}

/// The values a [`partition_ident`] encodes; `None` when `ident` is not one.
pub fn partition_values(ident: &str) -> Option<Vec<Option<String>>> {
    let mut bytes = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in ident.chars() {
        let digit = c.to_digit(32)?;
        buffer = ((buffer << 5) | digit) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    let mut at = 0;
    let vint = |at: &mut usize| -> Option<usize> {
        let mut value = 0usize;
        let mut shift = 0;
        loop {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
        }
    };
    let count = vint(&mut at)?;
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        match vint(&mut at)? {
            0 => values.push(None),
            len => {
                let end = at + len - 1;
                values.push(Some(String::from_utf8(bytes.get(at..end)?.to_vec()).ok()?));
                at = end;
            }
        }
    }
    Some(values)
}

fn push_vint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn base32hex_lower(input: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in input {
        buffer = ((buffer << 8) | u32::from(*byte)) & 0xffff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// `number_of_replicas`: a fixed count or an auto-expanding range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replicas {
    pub(crate) text: String,
    min: u32,
    /// `None` = `all`.
    max: Option<u32>,
}

impl Replicas {
    /// Parses `"1"`, `"0-1"`, `"0-all"`; the error is CrateDB's message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("The \"number_of_replicas\" range \"{text}\" isn't valid");
        if let Ok(n) = text.parse::<u32>() {
            return Ok(Self {
                text: text.to_string(),
                min: n,
                max: Some(n),
            });
        }
        let (min, max) = text.split_once('-').ok_or_else(invalid)?;
        let min = min.parse::<u32>().map_err(|_| invalid())?;
        let max = if max == "all" {
            None
        } else {
            Some(max.parse::<u32>().map_err(|_| invalid())?)
        };
        if max.is_some_and(|m| m < min) {
            return Err(invalid());
        }
        Ok(Self {
            text: text.to_string(),
            min,
            max,
        })
    }

    /// Replica count for this many data nodes: `clamp(data_nodes - 1, min, max)` for ranges.
    pub(crate) fn effective(&self, data_nodes: usize) -> u32 {
        if self.max == Some(self.min) {
            return self.min;
        }
        let available = u32::try_from(data_nodes.saturating_sub(1)).unwrap_or(u32::MAX);
        let upper = self.max.unwrap_or(u32::MAX);
        available.clamp(self.min, upper.max(self.min))
    }
}

/// `routing_state` of a shard copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    Unassigned,
    Initializing,
    Started,
    Relocating,
}

impl Routing {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Routing::Unassigned => "UNASSIGNED",
            Routing::Initializing => "INITIALIZING",
            Routing::Started => "STARTED",
            Routing::Relocating => "RELOCATING",
        }
    }

    pub(crate) fn active(self) -> bool {
        matches!(self, Routing::Started | Routing::Relocating)
    }
}

/// Recovery source type, written UPPERCASE in `sys.shards.recovery['type']`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    EmptyStore,
    ExistingStore,
    Peer,
    Snapshot,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::EmptyStore => "EMPTY_STORE",
            Source::ExistingStore => "EXISTING_STORE",
            Source::Peer => "PEER",
            Source::Snapshot => "SNAPSHOT",
        }
    }
}

/// One copy (primary or replica) of one shard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Copy {
    pub(crate) primary: bool,
    pub(crate) node: Option<usize>,
    pub(crate) routing: Routing,
    pub(crate) source: Source,
    /// For RELOCATING: the target node.
    pub(crate) relocating_to: Option<usize>,
    /// For an INITIALIZING relocation target: the source node.
    pub(crate) relocation_source: Option<usize>,
    /// Recovery window: `(started, done)` while INITIALIZING, kept afterwards for sys.shards.
    pub(crate) recovery: Option<(Duration, Duration)>,
    /// For UNASSIGNED copies: the node that last held the data.
    pub(crate) last_node: Option<usize>,
    /// For UNASSIGNED replicas of a departed node: not rebuilt elsewhere before this instant.
    pub(crate) delayed_until: Option<Duration>,
    /// The allocation deciders said NO on the last reroute (→ "used", i.e. RED, for primaries).
    pub(crate) decided_no: bool,
}

impl Copy {
    pub(crate) fn unassigned(primary: bool, source: Source) -> Self {
        Self {
            primary,
            node: None,
            routing: Routing::Unassigned,
            source,
            relocating_to: None,
            relocation_source: None,
            recovery: None,
            last_node: None,
            delayed_until: None,
            decided_no: false,
        }
    }

    pub(crate) fn started(primary: bool, node: usize, source: Source) -> Self {
        Self {
            node: Some(node),
            routing: Routing::Started,
            ..Self::unassigned(primary, source)
        }
    }

    /// A relocation target is not counted by health (relocation does not change health:
    /// docs/cratedb-behaviour.md#health).
    pub(crate) fn is_relocation_target(&self) -> bool {
        self.relocation_source.is_some()
    }
}

/// All copies of one shard.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShardGroup {
    pub(crate) id: u32,
    pub(crate) copies: Vec<Copy>,
    /// Once a primary was active, a lost primary must recover from an existing store.
    pub(crate) primary_ever_active: bool,
    /// The primary failed to be restored from this snapshot (`repo:snap/uuid`): it stays
    /// unassigned until the index is deleted.
    pub(crate) restore_failed: Option<String>,
}

impl ShardGroup {
    pub(crate) fn on_node(&self, node: usize) -> bool {
        self.copies.iter().any(|c| c.node == Some(node))
    }

    pub(crate) fn active_primary(&self) -> bool {
        self.copies.iter().any(|c| c.primary && c.routing.active())
    }
}

/// A table, or one partition of a partitioned table: the unit of `sys.health`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Index {
    pub(crate) partition: Option<String>,
    /// Rows in the table or partition (split over its shards; replicas hold the same).
    pub(crate) rows: u64,
    pub(crate) uuid: String,
    pub(crate) replicas: Replicas,
    pub(crate) groups: Vec<ShardGroup>,
    /// A restore of this index that is set to fail (fault `RestoreFails`): the snapshot as
    /// CrateDB names it, `repo:snap/uuid`.
    pub(crate) failing_restore: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(crate) schema: String,
    pub(crate) name: String,
    pub(crate) shards: u32,
    pub(crate) replicas: Replicas,
    pub(crate) partitioned: bool,
    pub(crate) partitioned_by: Vec<String>,
    pub(crate) indices: Vec<Index>,
}

impl Table {
    /// A table as it is after creation; copies are placed by the caller.
    pub(crate) fn from_spec(spec: &TableSpec) -> Result<Self, String> {
        let replicas = Replicas::parse(&spec.replicas)?;
        let partitioned = !spec.partitions.is_empty();
        let idents: Vec<Option<String>> = if partitioned {
            spec.partitions.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        let indices = idents
            .into_iter()
            .map(|partition| Index {
                rows: spec.rows.unwrap_or(super::spec::DEFAULT_ROWS),
                uuid: uuid_from(&format!("{}.{}.{:?}", spec.schema, spec.name, partition)),
                partition,
                replicas: replicas.clone(),
                groups: Vec::new(),
                failing_restore: None,
            })
            .collect();
        Ok(Self {
            schema: spec.schema.clone(),
            name: spec.name.clone(),
            shards: spec.shards,
            replicas,
            partitioned,
            partitioned_by: spec.partitioned_by.clone(),
            indices,
        })
    }

    pub(crate) fn fqn(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    pub(crate) fn spec(&self) -> TableSpec {
        TableSpec {
            schema: self.schema.clone(),
            name: self.name.clone(),
            shards: self.shards,
            replicas: self.replicas.text.clone(),
            partitions: self.indices.iter().filter_map(|i| i.partition.clone()).collect(),
            partitioned_by: self.partitioned_by.clone(),
            rows: self.indices.first().map(|i| i.rows),
        }
    }

    /// Rows over every partition.
    pub(crate) fn rows(&self) -> u64 {
        self.indices.iter().map(|i| i.rows).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_parse_and_expand() {
        let r = Replicas::parse("0-1").unwrap();
        assert_eq!(r.effective(1), 0);
        assert_eq!(r.effective(3), 1);
        let all = Replicas::parse("0-all").unwrap();
        assert_eq!(all.effective(3), 2);
        assert_eq!(all.effective(2), 1);
        assert_eq!(Replicas::parse("2").unwrap().effective(1), 2);
        assert!(Replicas::parse("x").unwrap_err().contains("isn't valid"));
        assert!(Replicas::parse("3-1").is_err());
    }

    #[test]
    fn ids_are_stable_and_shaped() {
        let id = node_id("c", "data-hot-0");
        assert_eq!(id.len(), 22);
        assert_eq!(id, node_id("c", "data-hot-0"));
        assert_ne!(id, node_id("c", "data-hot-1"));
        assert_eq!(default_hostname("my", "data-hot-2"), "crate-data-hot-my-2");
        assert_eq!(default_hostname("my", "master-0"), "crate-master-my-0");
    }

    #[test]
    fn partition_idents_match_cratedb_encoding() {
        // A CrateDB ident from its documentation, for the timestamp value 1395961200000.
        assert_eq!(
            partition_ident(&[Some("1395961200000")]),
            "04732cpp6ksjcc9i60o30c1g"
        );
        for values in [
            vec![Some("1395961200000")],
            vec![Some("eu"), None, Some("mëtrics, 7")],
            vec![],
        ] {
            let expected: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(partition_values(&partition_ident(&values)), Some(expected));
        }
        assert_eq!(partition_values("not-an-ident!"), None);
    }
}
