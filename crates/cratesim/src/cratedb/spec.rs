//! The inputs of the CrateDB model: what a cluster looks like when it is created, how long
//! simulated operations take, and the faults a test can inject.
//!
//! These types are plain data so that the Kubernetes side and scenario files can build them
//! without knowing anything about the model's internals.

use std::time::Duration;

/// A cluster as it is when the simulation starts: every node joined, every shard STARTED.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// `cluster.name` (also used to derive pod host names, `crate-<group>-<name>-<n>`).
    pub name: String,
    /// CrateDB version reported by every node, e.g. `"5.10.3"`.
    pub version: String,
    pub nodes: Vec<NodeSpec>,
    pub tables: Vec<TableSpec>,
    /// Password of the `system` user (the operator's Secret `user-system-<name>`).
    pub system_password: String,
    pub timings: Timings,
}

/// One CrateDB node, named as the operator names them (`master-0`, `data-hot-0`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    pub name: String,
    pub master_eligible: bool,
    pub data: bool,
}

/// A node's static gateway settings (`gateway.*`, `Runtime: no`) and the JWT defaults of its
/// host-based auth (`auth.host_based.jwt.*`), as its configuration or command line gave them
/// when its process started; `None` is unset (CrateDB's `-1`). A node
/// keeps them until its process restarts (docs/cratedb-behaviour.md#gateway-settings-and-node-checks).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewaySettings {
    pub expected_data_nodes: Option<i64>,
    pub recover_after_data_nodes: Option<i64>,
    /// Deprecated: counts master and data nodes.
    pub expected_nodes: Option<i64>,
    /// Deprecated: counts master and data nodes.
    pub recover_after_nodes: Option<i64>,
    pub recover_after_time: Option<Duration>,
    /// `auth.host_based.jwt.iss`: with it set, the token's `username` claim names the user and
    /// users' own `jwt` properties are ignored (see [`crate::jwt`]).
    pub jwt_iss: Option<String>,
    /// `auth.host_based.jwt.aud`: the audience required when a user's `jwt` has none (default:
    /// the cluster id).
    pub jwt_aud: Option<String>,
}

impl GatewaySettings {
    /// The `-Cgateway.*=<value>` (and `-Cauth.host_based.jwt.*`) items of a CrateDB command line (a later item wins, as with
    /// CrateDB's `-C`); anything else is ignored, and so is a value CrateDB would refuse.
    pub fn from_command_line<'a>(args: impl IntoIterator<Item = &'a str>) -> Self {
        let mut settings = GatewaySettings::default();
        for arg in args {
            let Some((key, value)) = arg.strip_prefix("-C").and_then(|kv| kv.split_once('=')) else {
                continue;
            };
            let int = || value.trim().parse::<i64>().ok();
            match key {
                "gateway.expected_data_nodes" => settings.expected_data_nodes = int(),
                "gateway.recover_after_data_nodes" => settings.recover_after_data_nodes = int(),
                "gateway.expected_nodes" => settings.expected_nodes = int(),
                "gateway.recover_after_nodes" => settings.recover_after_nodes = int(),
                "gateway.recover_after_time" => settings.recover_after_time = time_value(value),
                "auth.host_based.jwt.iss" => settings.jwt_iss = Some(value.to_string()),
                "auth.host_based.jwt.aud" => settings.jwt_aud = Some(value.to_string()),
                _ => {}
            }
        }
        settings
    }
}

/// A CrateDB time value: a number with `ms`, `s`, `m`, `h` or `d` (`0` alone is zero).
fn time_value(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" || text == "-1" {
        return Some(Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return Some(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number.saturating_mul(seconds)))
}

/// A user table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub schema: String,
    pub name: String,
    pub shards: u32,
    /// `number_of_replicas` as CrateDB writes it: `"1"`, `"0-1"`, `"0-all"`.
    pub replicas: String,
    /// Partition idents (as in `sys.shards.partition_ident`); empty means not partitioned.
    /// Compute them from values with [`super::partition_ident`] so that
    /// `… PARTITION (c = v)` clauses find them.
    pub partitions: Vec<String>,
    /// The partition columns, in the order the idents encode their values (CrateDB's
    /// `PARTITIONED BY (…)`); empty for a table that is not partitioned. A partitioned table
    /// without them takes `PARTITION (…)` values in the order written, unchecked.
    pub partitioned_by: Vec<String>,
    /// Rows of each index (the table, or each partition); `None` is [`DEFAULT_ROWS`].
    pub rows: Option<u64>,
}

/// Rows per table or partition when a spec does not say.
pub const DEFAULT_ROWS: u64 = 1000;

/// How long simulated things take. All durations are simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// From `node_process_started` until the node is a cluster member (visible in sys.nodes).
    pub join_delay: Duration,
    /// From SIGTERM (`node_stop_requested`) until the process has exited and left the cluster.
    pub shutdown_delay: Duration,
    /// Initialising a brand-new empty primary or replica of a new table (EMPTY_STORE).
    pub new_shard: Duration,
    /// Recovering one shard copy from local disk (EXISTING_STORE) or from its primary (PEER).
    pub shard_recovery: Duration,
    /// Moving one shard copy to another node (exclusion, decommission).
    pub shard_relocation: Duration,
    /// Restoring one shard from a snapshot (SNAPSHOT).
    pub shard_restore: Duration,
    /// Creating a snapshot takes this per shard of the snapshotted tables.
    pub snapshot_per_shard: Duration,
    /// After a successful decommission the node exits this much later (CrateDB polls every
    /// 5 s for active requests, then waits another 5 s).
    pub decommission_exit_delay: Duration,
    /// `unassigned.node_left.delayed_timeout`: replicas of a departed node are not rebuilt
    /// elsewhere for this long (they go back to the node if it returns in time).
    pub node_left_delayed_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            join_delay: Duration::from_secs(5),
            shutdown_delay: Duration::from_secs(1),
            new_shard: Duration::from_millis(200),
            shard_recovery: Duration::from_secs(2),
            shard_relocation: Duration::from_secs(3),
            shard_restore: Duration::from_secs(2),
            snapshot_per_shard: Duration::from_millis(100),
            decommission_exit_delay: Duration::from_secs(5),
            node_left_delayed_timeout: Duration::from_secs(60),
        }
    }
}

/// Faults a test or scenario can switch on at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The node's process may start but it never joins the cluster again.
    NodeNeverRejoins(String),
    /// Undo `NodeNeverRejoins`; a node waiting to join joins `join_delay` from now.
    NodeRejoins(String),
    /// Every recovery, relocation and restore takes this many times longer (1.0 = normal).
    SlowRecovery(f64),
    /// Health never gets better than YELLOW (GREEN tables are reported YELLOW).
    HealthStuckYellow(bool),
    /// Statements whose normalised text contains `pattern` (case-insensitive) fail with this
    /// code; `message` is used verbatim (write it as CrateDB would: `Cls[text]`).
    StatementFails {
        pattern: String,
        code: u32,
        message: String,
    },
    /// Remove every `StatementFails` fault.
    ClearStatementFailures,
    /// Restores of this table (`schema.table`) started from now on fail: each restored primary
    /// becomes UNASSIGNED when its recovery from the snapshot would have finished, and stays so
    /// (CrateDB's `RestoreInProgressAllocationDecider` refuses it).
    RestoreFails(String),
}

/// Cluster health as `sys.health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    /// The text CrateDB writes (`GREEN`, `YELLOW`, `RED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Green => "GREEN",
            Health::Yellow => "YELLOW",
            Health::Red => "RED",
        }
    }

    /// `sys.health.severity`: GREEN=1, YELLOW=2, RED=3.
    pub fn severity(self) -> i64 {
        match self {
            Health::Green => 1,
            Health::Yellow => 2,
            Health::Red => 3,
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One state-changing statement, for the simulator's evidence report.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWrite {
    /// Simulated time when the statement was executed.
    pub at: Duration,
    /// The node that received it.
    pub node: String,
    /// The statement text as sent.
    pub stmt: String,
    /// Its bind arguments (empty if none).
    pub args: Vec<serde_json::Value>,
}

/// Where an HTTP connection to a node comes from, as CrateDB's host-based auth matches it
/// (`HostBasedAuthentication.Matchers.isValidAddress`: the address `_local_` matches exactly
/// 127.0.0.1 and ::1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Peer {
    /// Another host: a client in the cluster by pod IP, or the API server's pod proxy.
    #[default]
    Remote,
    /// The node's own loopback address: a port-forward, whose runtime dials `localhost:PORT`
    /// inside the pod's network namespace, or `crash` run in the pod.
    Loopback,
}

/// A user's `jwt` property (`CREATE USER u WITH (jwt = {"iss" = …, "username" = …, "aud" = …})`):
/// the token's issuer and `username` claim that map to this user, and the audience required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtProps {
    pub iss: String,
    pub username: String,
    pub aud: Option<String>,
}

/// What the cluster made of bearer tokens, for tests: accepted, refused (for any reason), and
/// of those refused because they had expired (by the simulated clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BearerStats {
    pub accepted: u64,
    pub rejected: u64,
    pub expired: u64,
}

/// Credentials from an HTTP `Authorization` header, and where the connection comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub user: String,
    pub password: Option<String>,
    /// A bearer token (`Authorization: Bearer …`): the user is found from its claims (see
    /// [`crate::jwt`]), `user` is empty.
    pub token: Option<String>,
    pub peer: Peer,
}

impl Auth {
    /// `user:password` from a remote address.
    pub fn basic(user: &str, password: &str) -> Self {
        Self {
            user: user.to_string(),
            password: Some(password.to_string()),
            token: None,
            peer: Peer::Remote,
        }
    }

    /// A request without an `Authorization` header: CrateDB takes the user from
    /// `auth.trust.http_default_user`, `crate` by default (`HttpAuthUpstreamHandler.
    /// credentialsFromRequest`; no TLS client certificate is simulated).
    pub fn http_default_user(peer: Peer) -> Self {
        Self {
            user: "crate".to_string(),
            password: None,
            token: None,
            peer,
        }
    }

    /// The same credentials on a connection from `peer`.
    pub fn from_peer(self, peer: Peer) -> Self {
        Self { peer, ..self }
    }

    /// Parses an `Authorization` header value as CrateDB does (its `Headers.java`). The error
    /// is the text CrateDB answers with a plain-text 401.
    pub fn from_authorization_header(value: &str) -> Result<Auth, String> {
        use base64::Engine;
        let value = value.trim();
        let Some((scheme, rest)) = value.split_once(char::is_whitespace) else {
            return Err(
                "Authorization header must contain auth scheme (basic, bearer) and base64 encoded \
                        value separated by a whitespace"
                    .to_string(),
            );
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(Auth {
                user: String::new(),
                password: None,
                token: Some(rest.trim().to_string()),
                peer: Peer::Remote,
            });
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("Only basic or bearer HTTP Authentication schemes are allowed.".to_string());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| "Authorization header has an invalid base64 value".to_string())?;
        let text = String::from_utf8_lossy(&decoded).into_owned();
        Ok(match text.split_once(':') {
            Some((user, password)) => Auth {
                user: user.to_string(),
                password: Some(password.to_string()),
                token: None,
                peer: Peer::Remote,
            },
            None => Auth {
                user: text,
                password: None,
                token: None,
                peer: Peer::Remote,
            },
        })
    }
}
