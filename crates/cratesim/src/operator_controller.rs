//! The operator stand-in's reconcile loop: what crate-operator does when the replica counts of a
//! `cloud.crate.io/v1` `CrateDB` change (`handle_update_cratedb.py:update_cratedb`,
//! `scale.py:scale_cluster`, `operations.py:suspend_or_start_cluster`;
//! docs/crate-operator-behaviour.md#scaling-and-suspend), run in the controllers' pass on
//! simulated time.
//!
//! **What it may touch**: the StatefulSets of the resource (`crate-master-<name>`,
//! `crate-data-<group>-<name>`: `spec.replicas`, the `crate` container's command and the
//! `dc-util-routing-owner` label), the client Service `crate-<name>` (deleted on suspend,
//! recreated on resume), the resource's annotations (kopf's progress and diff base) and
//! `status.crateDBStatus.health`, and the CrateDB cluster, only through SQL as the `system` user
//! with the password from the `user-system-<name>` Secret, on a node that serves (the operator
//! connects through the discovery Service, which resolves to Ready pods). Its SQL writes are
//! recorded like any client's. It never deletes pods itself: the StatefulSet controller and the
//! kubelet do.
//!
//! Like the operator (kopf), it acts on *changes of the spec*: the diff between the replica
//! counts it last handled and the current ones. A StatefulSet scaled directly is left alone
//! (the resource is then stale, as with the real operator, W26). A change `update_cratedb`
//! refuses (another number of data groups, masters not odd and at least 3, masters to or from 0
//! outside a suspend or resume) counts as handled at once, with nothing done. Otherwise the
//! update runs kopf's sub-handlers in order:
//!
//! 1. **`before_cluster_update`** (not for a resume; module `cluster_update`): every StatefulSet of
//!    the cluster labelled `dc-util-routing-owner=operator-<unix seconds>`, then
//!    `cluster.routing.allocation.enable` held at `primaries`, TRANSIENT then PERSISTENT.
//! 2. **`scale`**, re-run from the top after each wait (a kopf `TemporaryError` with the
//!    operator's delays) until it completes, fails permanently, or is still waiting when it runs
//!    again after the 4 h `SCALING_TIMEOUT` (`@crate.timeout`: "ScaleSubHandler.handle has timed
//!    out after 4:00:15."):
//!    * *Scale* (`scale_cluster`): master count changes first (no deallocation), then every
//!      data group that grows (StatefulSet patched, then wait until the new nodes are in
//!      `sys.nodes`), then every group that shrinks: the health gate (as many nodes as the
//!      StatefulSets want, GREEN), the replica guard (`max(number_of_replicas) + 1` must not
//!      exceed the data nodes left, lower bound of ranges), `SET GLOBAL
//!      "cluster.routing.allocation.exclude._name"` with the leaving nodes added, wait until
//!      `sys.shards` shows none on them ("Pending allocation"), patch the StatefulSet, wait until
//!      one of them has left. Each StatefulSet patch also rewrites the gateway items of the
//!      `crate` command of every StatefulSet for the running total (`update_statefulset`,
//!      `scale_cluster_patch_total_nodes`; data nodes from 4.7.0 on, every node before). Finally
//!      the leaving names are removed from the exclusion again (others' are kept) and `UPDATE
//!      sys.node_checks SET acknowledged = TRUE WHERE id = 1`. Under the `primaries` hold the
//!      replicas on a leaving node cannot move anywhere, so such a scale-in waits for "Pending
//!      allocation" until the timeout: the real W1 bug, reproduced; one whose leaving nodes were
//!      emptied beforehand completes.
//!    * *Suspend* (every data group to 0): the health gate once, every data StatefulSet to 0,
//!      wait until no data pod is left, delete the client Service, then masters to 0. The pods'
//!      preStop hooks skip their decommission (dc_util does at 0 replicas), so nodes just stop.
//!      The resource stays, with health `SUSPENDED`.
//!    * *Resume* (every data group from 0): masters first (wait for them Ready), then the
//!      client Service back, every data StatefulSet to its count, and wait until the nodes (the
//!      same names, so the same nodes with their data) are in `sys.nodes`.
//! 3. **`after_cluster_update`** (not for a suspend, whose hold and label stay until the resume;
//!    also after the scale failed, `run_on_dep_failures`): `RESET GLOBAL
//!    cluster.routing.allocation.enable`, then the label removed. It polls the scale every 30 s
//!    from the update's start (`StateBasedSubHandler`), so it runs at its first poll after the
//!    scale finished.
//!
//! * **Progress**: the resource carries kopf's progress record of the scale sub-handler,
//!   `operator.cloud.crate.io/cluster_update.scale` (kopf's `ProgressRecord`: `started`,
//!   `delayed`, `purpose`, `retries`, `success`, `failure`, `message`, `stopped`): while it
//!   waits (`"message": "Pending allocation"`, `"delayed"`), and once it finished, with
//!   `"success": true`, or `"failure": true`, `"stopped"` and the error as `message`, until
//!   `after_cluster_update` has run. When every sub-handler has finished, successfully or not,
//!   kopf purges the progress and stores the diff base (`process_changing_cause`: `state.done`
//!   → `state.purge`), so a failure stays visible on the resource only that long (kopf also
//!   logs it and posts a Kubernetes Event, not simulated); the change then counts as handled,
//!   whatever state it left behind (a failed scale-in's exclusion included, as the operator
//!   leaves it).
//! * **Ownership markers**: a resource the operator manages carries kopf's finalizer
//!   `operator.cloud.crate.io/finalizer` and its diff base `operator.cloud.crate.io/last` (the
//!   spec last handled, rewritten when a change has been handled); the stand-in acts only on
//!   resources with the finalizer, so a cluster created unmanaged ([`crate::operator::ClusterShape::operator`]
//!   `false`) is left alone. Deleting a resource does not wait for finalizers (not modelled).
//! * **Status**: like the operator's 60 s ping timer, `status.crateDBStatus.health` is the
//!   worst `sys.health` (`GREEN`/`YELLOW`/`RED`), `UNREACHABLE` without a serving node, and
//!   `SUSPENDED` when the data replicas sum to 0; written only when it changes.
//!
//! Left out: webhooks, backup CronJobs and Jobs, the `sys.jobs` snapshot wait, the progress
//! records of the other sub-handlers, grand-central, volume expansion, compute changes, the
//! spec changing again while an update runs (the running update takes the new counts at its
//! next run, as kopf's diff would, but keeps its kind), and creating the objects of a resource
//! created through the API (only [`crate::operator::materialise`] creates clusters). The
//! exclusion list is written sorted (the operator's set order is unspecified).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::cratedb::{Auth, CrateCluster};
use crate::databases::Clusters;
use crate::kube::ApiServer;
use crate::kube::store::{Store, metadata_mut, object_name};
use crate::operator::{OPERATOR_FINALIZER, OPERATOR_LAST, gateway_counts_data_nodes, last_handled};

mod cluster_update;

/// `SCALING_TIMEOUT`: a handler still waiting after this long gives up.
const SCALING_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// `CRATEDB_STATUS_CHECK_INTERVAL`: the status ping timer.
const PING_INTERVAL: Duration = Duration::from_secs(60);
/// kopf's default delay for a `TemporaryError` without one.
const DEFAULT_RETRY: Duration = Duration::from_secs(60);
/// How often a `StateBasedSubHandler` re-checks the sub-handlers it waits for.
const AFTER_POLL: Duration = Duration::from_secs(30);

/// The replica counts of a `CrateDB` resource: the part of the spec this loop acts on.
#[derive(Clone, Debug, PartialEq)]
struct Replicas {
    master: Option<u64>,
    /// `(group name, replicas)` in spec order.
    data: Vec<(String, u64)>,
}

impl Replicas {
    fn of(cr: &Value) -> Option<Replicas> {
        let count = |v: &Value| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64));
        let data = cr
            .pointer("/spec/nodes/data")?
            .as_array()?
            .iter()
            .map(|g| {
                let name = g.get("name").and_then(Value::as_str)?.to_string();
                Some((name, g.get("replicas").and_then(count)?))
            })
            .collect::<Option<Vec<_>>>()?;
        let master = cr.pointer("/spec/nodes/master/replicas").and_then(count);
        Some(Replicas { master, data })
    }

    fn data_total(&self) -> u64 {
        self.data.iter().map(|(_, r)| r).sum()
    }
}

/// One resource as the loop remembers it (kopf keeps the same in annotations).
struct Tracked {
    /// The replica counts last handled: the diff base.
    handled: Replicas,
    /// The update being handled, if any.
    update: Option<Update>,
    /// When the status ping may write next.
    next_ping: Duration,
}

/// What an update of the replica counts is, which decides its sub-handlers
/// (`handle_update_cratedb.py:update_cratedb`): a resume has no `before_cluster_update`, a
/// suspend no `after_cluster_update`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Scale,
    Suspend,
    Resume,
}

/// Where a running update is.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    /// `before_cluster_update`: the owner label and the `primaries` hold.
    Before,
    /// The `scale` sub-handler (scale, suspend or resume).
    Scale,
    /// `after_cluster_update`, once the scale has finished (succeeded, or failed with this
    /// message at `stopped`).
    After {
        failure: Option<String>,
        stopped: Duration,
    },
}

/// One update being handled: kopf's sub-handlers of the `cluster_update` handler.
struct Update {
    kind: Kind,
    step: Step,
    /// When the update started (kopf's `started`; the scale's timeout counts from it).
    started: Duration,
    /// Runs of the scale sub-handler so far (kopf's `retries`).
    retries: u64,
    /// When the current step runs again.
    retry_at: Duration,
}

/// What the operator stand-in remembers between passes.
#[derive(Default)]
pub struct OperatorState {
    clusters: HashMap<(String, String), Tracked>,
    /// Client Services deleted on suspend, to recreate on resume.
    services: HashMap<(String, String), Value>,
}

/// A handler step that cannot complete yet: run again after a delay, with a message (a kopf
/// `TemporaryError`), or never (a `PermanentError`, with its message).
#[derive(Debug)]
enum Wait {
    Retry(Duration, String),
    Permanent(String),
}

impl Wait {
    /// When to run again: the error's delay, kopf's default for any other error.
    fn delay(&self) -> Duration {
        match self {
            Wait::Retry(delay, _) => *delay,
            Wait::Permanent(_) => DEFAULT_RETRY,
        }
    }
}

fn retry(delay: u64, message: impl Into<String>) -> Wait {
    Wait::Retry(Duration::from_secs(delay), message.into())
}

/// One pass over every `CrateDB` resource. Returns when it wants to run again.
pub fn reconcile(
    server: &ApiServer,
    store: &mut Store,
    databases: &mut Clusters,
    state: &mut OperatorState,
    now: Duration,
) -> Option<Duration> {
    let mut next: Option<Duration> = None;
    let mut wake = |at: Duration| next = Some(next.map_or(at, |n: Duration| n.min(at)));
    let resources: Vec<Value> = store.list("cratedbs", None).into_iter().cloned().collect();
    for cr in resources {
        let (Some(name), Some(desired)) = (object_name(&cr), Replicas::of(&cr)) else {
            continue;
        };
        // Only resources the operator handles (kopf's finalizer on them): an unmanaged cluster
        // is left alone.
        let managed = cr
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|v| v.as_str() == Some(OPERATOR_FINALIZER)));
        if !managed {
            continue;
        }
        let namespace = cr
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let key = (namespace.clone(), name.clone());
        let tracked = state.clusters.entry(key.clone()).or_insert_with(|| Tracked {
            handled: deployed(store, &namespace, &name, &desired),
            update: None,
            next_ping: now,
        });
        let mut ctx = Ctx {
            store: &mut *store,
            model: databases.get_mut(&key),
            services: &mut state.services,
            namespace,
            name,
            now,
            stamp: server.clock.rfc3339(),
            unix_seconds: server.clock.now().as_second(),
            version: cr
                .pointer("/spec/cluster/version")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        };
        if tracked.update.is_none() && tracked.handled != desired {
            match classify(&tracked.handled, &desired) {
                Some(kind) => {
                    let step = if kind == Kind::Resume {
                        Step::Scale
                    } else {
                        Step::Before
                    };
                    tracked.update = Some(Update {
                        kind,
                        step,
                        started: now,
                        retries: 0,
                        retry_at: now,
                    });
                }
                // `update_cratedb` refuses the change before registering any sub-handler
                // (a kopf `PermanentError`, logged): it counts as handled, nothing is done.
                None => {
                    tracked.handled = desired.clone();
                    ctx.write_last_handled();
                }
            }
        }
        if let Some(update) = tracked.update.as_mut() {
            if now < update.retry_at {
                wake(update.retry_at);
            } else if handle(&mut ctx, update, &tracked.handled, &desired, server) {
                // Every sub-handler has finished, successfully or not: kopf purges the
                // progress and stores the diff base, so the change counts as handled whatever
                // state it left behind (a failed scale's exclusion included).
                tracked.handled = desired.clone();
                tracked.update = None;
                ctx.write_progress(None);
                ctx.write_last_handled();
            } else {
                wake(update.retry_at);
            }
        }
        // The status ping.
        let health = ctx.status_health(&desired);
        let current = cr.pointer("/status/crateDBStatus/health").and_then(Value::as_str);
        if current != Some(health) {
            if now >= tracked.next_ping {
                tracked.next_ping = now + PING_INTERVAL;
                ctx.write_status_health(health);
            } else {
                wake(tracked.next_ping);
            }
        }
    }
    next
}

/// The kind of an update from `old` to `new`, or `None` when `update_cratedb` refuses it
/// (a changed number of data groups, a master count that is not odd and at least 3, or masters
/// to or from 0 outside a suspend or resume).
fn classify(old: &Replicas, new: &Replicas) -> Option<Kind> {
    if old.data.len() != new.data.len() || old.data.iter().zip(&new.data).any(|(a, b)| a.0 != b.0) {
        return None;
    }
    let resuming = old.data.iter().all(|(_, r)| *r == 0) && !new.data.iter().all(|(_, r)| *r == 0);
    let suspending = new.data.iter().all(|(_, r)| *r == 0) && !old.data.iter().all(|(_, r)| *r == 0);
    if let (Some(before), Some(after)) = (old.master, new.master)
        && before != after
    {
        let to_or_from_zero = before == 0 || after == 0;
        if to_or_from_zero && !(resuming || suspending) {
            return None;
        }
        if !to_or_from_zero && (after < 3 || after % 2 == 0) {
            return None;
        }
    }
    Some(if resuming {
        Kind::Resume
    } else if suspending {
        Kind::Suspend
    } else {
        Kind::Scale
    })
}

/// Runs the update's due step(s). Returns true when every sub-handler has finished.
fn handle(
    ctx: &mut Ctx<'_>,
    update: &mut Update,
    old: &Replicas,
    new: &Replicas,
    server: &ApiServer,
) -> bool {
    let now = ctx.now;
    loop {
        match update.step.clone() {
            Step::Before => match ctx.before_cluster_update() {
                Ok(()) => update.step = Step::Scale,
                Err(wait) => {
                    update.retry_at = now + wait.delay();
                    return false;
                }
            },
            Step::Scale => {
                let runtime = now.saturating_sub(update.started);
                // `@crate.timeout(SCALING_TIMEOUT)`: checked when the handler runs again.
                let outcome = if runtime >= SCALING_TIMEOUT {
                    Err(Wait::Permanent(format!(
                        "ScaleSubHandler.handle has timed out after {}.",
                        timedelta(runtime)
                    )))
                } else {
                    scale(ctx, old, new)
                };
                update.retries += 1;
                let record = |success: bool, failure: bool| {
                    json!({
                        "started": stamp_at(server, update.started), "stopped": stamp_at(server, now),
                        "purpose": "update", "retries": update.retries, "success": success, "failure": failure,
                    })
                };
                match outcome {
                    Err(Wait::Retry(delay, message)) => {
                        update.retry_at = now + delay;
                        ctx.write_progress(Some(json!({
                            "started": stamp_at(server, update.started), "delayed": stamp_at(server, update.retry_at),
                            "purpose": "update", "retries": update.retries, "success": false, "failure": false,
                            "message": message,
                        })));
                        return false;
                    }
                    Ok(()) => {
                        ctx.write_progress(Some(record(true, false)));
                        update.step = Step::After {
                            failure: None,
                            stopped: now,
                        };
                    }
                    Err(Wait::Permanent(message)) => {
                        let mut failed = record(false, true);
                        failed["message"] = json!(message);
                        ctx.write_progress(Some(failed));
                        update.step = Step::After {
                            failure: Some(message),
                            stopped: now,
                        };
                    }
                }
                if update.kind == Kind::Suspend {
                    // No `after_cluster_update` for a suspend: the hold and the label stay.
                    return true;
                }
                // `after_cluster_update` has been waiting for the scale since the update
                // started, re-checking every 30 s (`StateBasedSubHandler`: "Waiting for
                // 'cluster_update/scale'."): it runs at its next check.
                let polls = now.saturating_sub(update.started).as_secs() / AFTER_POLL.as_secs() + 1;
                update.retry_at = update.started + AFTER_POLL * u32::try_from(polls).unwrap_or(u32::MAX);
                return false;
            }
            Step::After { .. } => {
                return match ctx.after_cluster_update() {
                    Ok(()) => true,
                    Err(wait) => {
                        update.retry_at = now + wait.delay();
                        false
                    }
                };
            }
        }
    }
}

/// A duration as Python prints a `timedelta` (`4:00:15`).
fn timedelta(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The diff base at first sight: the replica counts the StatefulSets have (the resource's own
/// where a StatefulSet is missing), so that a change made before the loop first ran is still a
/// change. [`crate::operator::materialise`] creates them in step with the resource.
fn deployed(store: &Store, namespace: &str, name: &str, desired: &Replicas) -> Replicas {
    let replicas = |sts: String| {
        store
            .get("statefulsets", namespace, &sts)
            .and_then(|s| s.pointer("/spec/replicas"))
            .and_then(Value::as_u64)
    };
    Replicas {
        master: desired
            .master
            .map(|m| replicas(format!("crate-master-{name}")).unwrap_or(m)),
        data: desired
            .data
            .iter()
            .map(|(group, r)| {
                let have = replicas(format!("crate-data-{group}-{name}")).unwrap_or(*r);
                (group.clone(), have)
            })
            .collect(),
    }
}

/// What one handler run works with.
struct Ctx<'a> {
    store: &'a mut Store,
    model: Option<&'a mut CrateCluster>,
    services: &'a mut HashMap<(String, String), Value>,
    namespace: String,
    name: String,
    now: Duration,
    stamp: String,
    /// The simulated now in Unix seconds (for the routing-owner label).
    unix_seconds: i64,
    /// `spec.cluster.version` of the resource.
    version: String,
}

impl Ctx<'_> {
    fn master_sts(&self) -> String {
        format!("crate-master-{}", self.name)
    }

    fn data_sts(&self, group: &str) -> String {
        format!("crate-data-{group}-{}", self.name)
    }

    fn sts_replicas(&self, sts: &str) -> Option<u64> {
        self.store
            .get("statefulsets", &self.namespace, sts)
            .and_then(|s| s.pointer("/spec/replicas"))
            .and_then(Value::as_u64)
    }

    /// `update_statefulset` with replicas: patches `spec.replicas` only.
    fn set_sts_replicas(&mut self, sts: &str, replicas: u64) -> Result<(), Wait> {
        let Some(mut object) = self.store.get("statefulsets", &self.namespace, sts).cloned() else {
            return Err(retry(15, format!("StatefulSet {sts} not found")));
        };
        if object.pointer("/spec/replicas").and_then(Value::as_u64) == Some(replicas) {
            return Ok(());
        }
        object["spec"]["replicas"] = json!(replicas);
        metadata_mut(&mut object).remove("resourceVersion");
        self.store
            .replace("statefulsets", "statefulsets.apps", &self.namespace, sts, object)
            .map(|_| ())
            .map_err(|e| retry(15, e.message))
    }

    /// Every StatefulSet of the cluster (label `app.kubernetes.io/name`), for the health gate.
    fn wanted_nodes(&self) -> u64 {
        self.store
            .list("statefulsets", Some(&self.namespace))
            .into_iter()
            .filter(|s| {
                s.pointer("/metadata/labels/app.kubernetes.io~1name")
                    .and_then(Value::as_str)
                    == Some(self.name.as_str())
            })
            .filter_map(|s| s.pointer("/spec/replicas").and_then(Value::as_u64))
            .sum()
    }

    fn password(&self) -> Option<String> {
        let secret = self
            .store
            .get("secrets", &self.namespace, &format!("user-system-{}", self.name))?;
        let encoded = secret.pointer("/data/password")?.as_str()?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        String::from_utf8(bytes).ok()
    }

    /// A statement as the `system` user on a serving node; a refused connection or an error
    /// reply is a wait, as the operator's `TemporaryError`s on connection errors.
    fn sql(&mut self, stmt: &str, args: Value) -> Result<Value, Wait> {
        let password = self.password().unwrap_or_default();
        let now = self.now;
        let model = self
            .model
            .as_deref_mut()
            .ok_or_else(|| retry(15, "no CrateDB cluster"))?;
        let node = model
            .member_names()
            .into_iter()
            .find(|n| model.serving(n))
            .ok_or_else(|| retry(15, "no CrateDB node answers"))?;
        let body = json!({"stmt": stmt, "args": args}).to_string();
        let auth = Auth::basic("system", &password);
        let reply = model.sql(&node, false, false, body.as_bytes(), Some(&auth), now);
        match (reply.status, reply.json_body()) {
            (200, Some(body)) => Ok(body.clone()),
            (status, body) => Err(retry(15, format!("{stmt}: {status} {body:?}"))),
        }
    }

    /// A settings statement as `set_cluster_setting`/`reset_cluster_setting` send it: an
    /// error CrateDB answers is only logged, no node to connect to is a wait.
    fn sql_logged(&mut self, stmt: &str) -> Result<(), Wait> {
        let password = self.password().unwrap_or_default();
        let now = self.now;
        let model = self
            .model
            .as_deref_mut()
            .ok_or_else(|| retry(15, "no CrateDB cluster"))?;
        let node = model
            .member_names()
            .into_iter()
            .find(|n| model.serving(n))
            .ok_or_else(|| Wait::Retry(DEFAULT_RETRY, "no CrateDB node answers".into()))?;
        let body = json!({"stmt": stmt, "args": []}).to_string();
        let auth = Auth::basic("system", &password);
        model.sql(&node, false, false, body.as_bytes(), Some(&auth), now);
        Ok(())
    }

    fn rows(&mut self, stmt: &str, args: Value) -> Result<Vec<Value>, Wait> {
        Ok(self.sql(stmt, args)?["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// `is_cluster_healthy(expected)`: that many nodes, and GREEN.
    fn ensure_cluster_healthy(&mut self) -> Result<(), Wait> {
        let expected = self.wanted_nodes();
        let nodes = self.rows("SELECT count(*) FROM sys.nodes", json!([]))?;
        let severity = self.rows("SELECT max(severity) FROM sys.health", json!([]))?;
        let count = nodes.first().and_then(|r| r[0].as_u64()).unwrap_or(0);
        // NULL (no tables) or 1 is healthy; without a master the statements fail (a wait).
        let green = severity
            .first()
            .is_none_or(|r| r[0].as_i64().is_none_or(|s| s <= 1));
        if count == expected && green {
            Ok(())
        } else {
            Err(retry(30, "cluster is not healthy yet"))
        }
    }

    /// `check_nodes_present_or_gone`: up, every new node present; down, at least one gone.
    fn check_nodes(&mut self, prefix: &str, old: u64, new: u64) -> Result<(), Wait> {
        let names: Vec<String> = (old.min(new)..old.max(new))
            .map(|i| format!("{prefix}-{i}"))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let present = self.rows("SELECT name FROM sys.nodes WHERE name = ANY(?)", json!([names]))?;
        if new > old && present.len() < names.len() {
            return Err(retry(
                15,
                format!("Scaling up from {old} to {new} nodes. Waiting for new node(s) to be present."),
            ));
        }
        if new < old && present.len() == names.len() {
            return Err(retry(
                15,
                format!("Scaling down from {old} to {new} nodes. Waiting for node(s) to be gone."),
            ));
        }
        Ok(())
    }

    fn excluded(&mut self) -> Result<BTreeSet<String>, Wait> {
        let rows = self.rows(
            "SELECT settings['cluster']['routing']['allocation']['exclude']['_name'] FROM sys.cluster",
            json!([]),
        )?;
        let text = rows.first().and_then(|r| r[0].as_str()).unwrap_or("").to_string();
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    fn set_excluded(&mut self, names: &BTreeSet<String>) -> Result<(), Wait> {
        // psycopg2 interpolates parameters client-side: CrateDB sees the literal.
        let joined = names.iter().cloned().collect::<Vec<_>>().join(",");
        let stmt = format!(
            "SET GLOBAL \"cluster.routing.allocation.exclude._name\" = '{}'",
            joined.replace('\'', "''")
        );
        self.sql(&stmt, json!([])).map(|_| ())
    }

    /// `deallocate_nodes`: the replica guard, the exclusion, and the wait for empty nodes.
    fn deallocate(&mut self, data_nodes: u64, excess: &[String]) -> Result<(), Wait> {
        let rows = self.rows(
            "SELECT DISTINCT number_of_replicas FROM information_schema.tables WHERE number_of_shards IS NOT NULL",
            json!([]),
        )?;
        let max_replicas = rows
            .iter()
            .filter_map(|r| r[0].as_str().map(parse_replicas))
            .max()
            .unwrap_or(0);
        if max_replicas.saturating_add(1) > data_nodes {
            return Err(Wait::Retry(
                DEFAULT_RETRY,
                "Some tables have too many replicas to scale down".into(),
            ));
        }
        let mut excluded = self.excluded()?;
        let before = excluded.clone();
        excluded.extend(excess.iter().cloned());
        if excluded != before {
            self.set_excluded(&excluded)?;
        }
        let remaining = self.rows(
            "SELECT node['name'], count(*) FROM sys.shards WHERE node['name'] = ANY(?) GROUP BY 1",
            json!([excess]),
        )?;
        if remaining.is_empty() {
            Ok(())
        } else {
            Err(retry(15, "Pending allocation"))
        }
    }

    /// `reset_allocation`: removes exactly these names from the exclusion.
    fn reset_allocation(&mut self, nodes: &[String]) -> Result<(), Wait> {
        let mut excluded = self.excluded()?;
        let before = excluded.len();
        excluded.retain(|n| !nodes.contains(n));
        if excluded.len() != before {
            self.set_excluded(&excluded)?;
        }
        Ok(())
    }

    /// Pods of the cluster, optionally only data pods.
    fn pods(&self, data_only: bool) -> usize {
        self.store
            .list("pods", Some(&self.namespace))
            .into_iter()
            .filter(|p| {
                let label = |k: &str| {
                    p.pointer("/metadata/labels")
                        .and_then(|l| l.get(k))
                        .and_then(Value::as_str)
                };
                label("app.kubernetes.io/name") == Some(self.name.as_str())
                    && label("app.kubernetes.io/component") == Some("cratedb")
                    && (!data_only || label("cloud.crate.io/node-data") == Some("true"))
            })
            .count()
    }

    fn client_service(&self) -> String {
        format!("crate-{}", self.name)
    }

    fn delete_client_service(&mut self) {
        let service = self.client_service();
        if let Ok(removed) = self
            .store
            .remove("services", "services", &self.namespace, &service)
        {
            self.services
                .insert((self.namespace.clone(), self.name.clone()), removed);
        }
    }

    fn recreate_client_service(&mut self) -> Result<(), Wait> {
        let service = self.client_service();
        if self.store.get("services", &self.namespace, &service).is_some() {
            return Ok(());
        }
        let saved = self.services.remove(&(self.namespace.clone(), self.name.clone()));
        let mut object = saved.unwrap_or_else(|| {
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": service},
                "spec": {
                    "selector": {"app.kubernetes.io/component": "cratedb", "app.kubernetes.io/name": self.name},
                    "ports": [{"name": "http", "port": 4200, "protocol": "TCP", "targetPort": 4200}, {"name": "psql", "port": 5432, "protocol": "TCP", "targetPort": 5432}],
                    "type": "ClusterIP",
                },
            })
        });
        let meta = metadata_mut(&mut object);
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
        ] {
            meta.remove(k);
        }
        self.store
            .create("services", "services", &self.namespace, object, &self.stamp)
            .map(|_| ())
            .map_err(|e| retry(15, e.message))
    }

    fn ready_replicas(&self, sts: &str) -> u64 {
        self.store
            .get("statefulsets", &self.namespace, sts)
            .and_then(|s| s.pointer("/status/readyReplicas"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn status_health(&self, desired: &Replicas) -> &'static str {
        if desired.data_total() == 0 {
            return "SUSPENDED";
        }
        match self.model.as_deref() {
            Some(m) if m.member_names().iter().any(|n| m.serving(n)) => m.health().as_str(),
            _ => "UNREACHABLE",
        }
    }

    /// kopf's progress annotation of the scale handler (`None` removes it).
    fn write_progress(&mut self, progress: Option<Value>) {
        const KEY: &str = "operator.cloud.crate.io/cluster_update.scale";
        let Some(mut cr) = self.store.get("cratedbs", &self.namespace, &self.name).cloned() else {
            return;
        };
        let meta = metadata_mut(&mut cr);
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        let text = progress.map(|p| p.to_string());
        if annotations.get(KEY).and_then(Value::as_str) == text.as_deref() {
            return;
        }
        match (text, annotations.as_object_mut()) {
            (Some(text), Some(map)) => {
                map.insert(KEY.into(), json!(text));
            }
            (None, Some(map)) => {
                map.remove(KEY);
            }
            (_, None) => return,
        }
        meta.remove("resourceVersion");
        let _ = self.store.replace(
            "cratedbs",
            "cratedbs.cloud.crate.io",
            &self.namespace,
            &self.name,
            cr,
        );
    }

    /// kopf's diff base after a handled change: the spec as it is now.
    fn write_last_handled(&mut self) {
        let Some(mut cr) = self.store.get("cratedbs", &self.namespace, &self.name).cloned() else {
            return;
        };
        let last = last_handled(cr.get("spec").unwrap_or(&Value::Null));
        let meta = metadata_mut(&mut cr);
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if annotations.get(OPERATOR_LAST).and_then(Value::as_str) == Some(last.as_str()) {
            return;
        }
        if let Some(map) = annotations.as_object_mut() {
            map.insert(OPERATOR_LAST.into(), json!(last));
        }
        meta.remove("resourceVersion");
        let _ = self.store.replace(
            "cratedbs",
            "cratedbs.cloud.crate.io",
            &self.namespace,
            &self.name,
            cr,
        );
    }

    fn write_status_health(&mut self, health: &str) {
        let Some(mut updated) = self.store.get("cratedbs", &self.namespace, &self.name).cloned() else {
            return;
        };
        updated["status"]["crateDBStatus"]["health"] = json!(health);
        metadata_mut(&mut updated).remove("resourceVersion");
        let _ = self.store.replace(
            "cratedbs",
            "cratedbs.cloud.crate.io",
            &self.namespace,
            &self.name,
            updated,
        );
    }
}

/// Simulated instant `at` as Kubernetes writes timestamps (RFC 3339, seconds).
fn stamp_at(server: &ApiServer, at: Duration) -> String {
    let offset = jiff::SignedDuration::try_from(at).unwrap_or(jiff::SignedDuration::MAX);
    let instant = server
        .clock
        .epoch()
        .checked_add(offset)
        .unwrap_or(jiff::Timestamp::MAX);
    jiff::Timestamp::from_second(instant.as_second())
        .unwrap_or(instant)
        .to_string()
}

/// `parse_replicas`: the lower bound of a range, `all` as unbounded.
fn parse_replicas(text: &str) -> u64 {
    let low = text.split('-').next().unwrap_or(text).trim();
    if low == "all" {
        u64::MAX
    } else {
        low.parse().unwrap_or(0)
    }
}

/// The ScaleSubHandler: suspend and resume, or `scale_cluster`.
fn scale(ctx: &mut Ctx<'_>, old: &Replicas, new: &Replicas) -> Result<(), Wait> {
    if old.data.len() != new.data.len() || old.data.iter().zip(&new.data).any(|(a, b)| a.0 != b.0) {
        return Err(Wait::Permanent(
            "Adding and removing node specs is not supported at this time.".into(),
        ));
    }
    let suspending = new.data.iter().all(|(_, r)| *r == 0);
    let resuming = old.data.iter().all(|(_, r)| *r == 0);
    if suspending && !resuming {
        return suspend(ctx, old, new);
    }
    if resuming && !suspending {
        return resume(ctx, old, new);
    }
    scale_cluster(ctx, old, new)
}

/// `scale_cluster`: masters, then groups that grow, then groups that shrink (each deallocated
/// first); every StatefulSet change also patches every StatefulSet's gateway items for the
/// running total (data nodes from 4.7, every node before); finally the leaving names leave the
/// exclusion and node check 1 is acknowledged.
fn scale_cluster(ctx: &mut Ctx<'_>, old: &Replicas, new: &Replicas) -> Result<(), Wait> {
    let data_only = gateway_counts_data_nodes(&ctx.version);
    let groups: Vec<String> = old.data.iter().map(|(g, _)| g.clone()).collect();
    let has_masters = old.master.is_some();
    let mut masters = old.master.unwrap_or(0);
    let mut total = old.data_total() + if data_only { 0 } else { masters };
    if let Some(after) = new.master.filter(|m| old.master != Some(*m)) {
        let before = old.master.unwrap_or(0);
        if !data_only {
            total = (total + after).saturating_sub(before);
        }
        masters = after;
        let sts = ctx.master_sts();
        if ctx.sts_replicas(&sts) != Some(after) {
            ctx.update_statefulset(&sts, Some(after), total)?;
            ctx.patch_total_nodes(&groups, has_masters, total)?;
        }
        ctx.check_nodes("master", before, after)?;
    }
    // Scale-ups first.
    for ((group, before), (_, after)) in old.data.iter().zip(&new.data) {
        if before < after {
            total += after - before;
            let sts = ctx.data_sts(group);
            if ctx.sts_replicas(&sts) != Some(*after) {
                ctx.update_statefulset(&sts, Some(*after), total)?;
                ctx.patch_total_nodes(&groups, has_masters, total)?;
            }
            ctx.check_nodes(&format!("data-{group}"), *before, *after)?;
        }
    }
    // Then scale-downs, each deallocating its leaving nodes first.
    let mut excess_nodes: Vec<String> = Vec::new();
    for ((group, before), (_, after)) in old.data.iter().zip(&new.data) {
        if before > after {
            ctx.ensure_cluster_healthy()?;
            total = total.saturating_sub(before - after);
            let excess: Vec<String> = (*after..*before).map(|i| format!("data-{group}-{i}")).collect();
            excess_nodes.extend(excess.iter().cloned());
            let sts = ctx.data_sts(group);
            if ctx.sts_replicas(&sts) != Some(*after) {
                let data_nodes = if data_only {
                    total
                } else {
                    total.saturating_sub(masters)
                };
                ctx.deallocate(data_nodes, &excess)?;
                ctx.update_statefulset(&sts, Some(*after), total)?;
                ctx.patch_total_nodes(&groups, has_masters, total)?;
                ctx.check_nodes(&format!("data-{group}"), *before, *after)?;
            }
        }
    }
    if !excess_nodes.is_empty() {
        ctx.reset_allocation(&excess_nodes)?;
    }
    // "The StatefulSets have been adjusted, and once a pod restarts, the node will know."
    ctx.sql(
        "UPDATE sys.node_checks SET acknowledged = TRUE WHERE id = 1",
        json!([]),
    )?;
    Ok(())
}

/// Suspend: the health gate once, data to 0, wait for the pods, the client Service goes,
/// masters last.
fn suspend(ctx: &mut Ctx<'_>, old: &Replicas, new: &Replicas) -> Result<(), Wait> {
    let going_down: Vec<(String, u64)> = old
        .data
        .iter()
        .zip(&new.data)
        .filter(|(a, b)| a.1 > b.1)
        .map(|(_, b)| b.clone())
        .collect();
    let none_scaled_yet = going_down
        .iter()
        .all(|(group, target)| ctx.sts_replicas(&ctx.data_sts(group)) != Some(*target));
    if none_scaled_yet && !going_down.is_empty() {
        ctx.ensure_cluster_healthy()?;
    }
    for (group, target) in &going_down {
        let sts = ctx.data_sts(group);
        ctx.set_sts_replicas(&sts, *target)?;
    }
    if ctx.pods(true) > 0 {
        return Err(retry(5, "Waiting for the data pods to be gone"));
    }
    ctx.delete_client_service();
    if new.master.is_some_and(|m| m > 0) {
        let sts = ctx.master_sts();
        ctx.set_sts_replicas(&sts, 0)?;
        if ctx.pods(false) > 0 {
            return Err(retry(5, "Waiting for the master pods to be gone"));
        }
    }
    Ok(())
}

/// Resume: masters first and Ready, the client Service back, then the data groups, until
/// their nodes are in `sys.nodes`.
fn resume(ctx: &mut Ctx<'_>, old: &Replicas, new: &Replicas) -> Result<(), Wait> {
    if let Some(masters) = new.master.filter(|m| *m > 0) {
        let sts = ctx.master_sts();
        ctx.set_sts_replicas(&sts, masters)?;
        if ctx.ready_replicas(&sts) < masters {
            return Err(retry(15, "Waiting for the master nodes to be ready"));
        }
    }
    for ((group, before), (_, after)) in old.data.iter().zip(&new.data) {
        if before < after {
            ctx.recreate_client_service()?;
            let sts = ctx.data_sts(group);
            ctx.set_sts_replicas(&sts, *after)?;
            ctx.check_nodes(&format!("data-{group}"), 0, *after)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_counts_of_a_resource() {
        let cr = json!({"spec": {"nodes": {"master": {"replicas": 3}, "data": [
            {"name": "hot", "replicas": 3}, {"name": "cold", "replicas": 2.0}]}}});
        let r = Replicas::of(&cr).unwrap();
        assert_eq!(r.master, Some(3));
        assert_eq!(r.data, vec![("hot".to_string(), 3), ("cold".to_string(), 2)]);
        assert_eq!(r.data_total(), 5);
        assert_eq!(Replicas::of(&json!({"spec": {}})), None);
    }

    #[test]
    fn replicas_parse_as_the_operator_does() {
        assert_eq!(parse_replicas("1"), 1);
        assert_eq!(parse_replicas("0-1"), 0);
        assert_eq!(parse_replicas("1-7"), 1);
        assert_eq!(parse_replicas("all"), u64::MAX);
        assert_eq!(parse_replicas("5-all"), 5);
    }
}
