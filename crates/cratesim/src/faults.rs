//! Faults injected at run time: `POST /_sim/faults` with `{"faults": [{"kind": …}, …]}`, or
//! [`apply`] in-process. Unknown kinds and fields are refused with a 400 naming them, and so are
//! invalid values, each named with its field, value and the valid range: a code that cannot be
//! injected, a `count` of 0, a `rate` outside (0, 1], a `latency_ms` or `jitter_ms` over one hour
//! ([`MAX_LATENCY_MS`]), a `slow_recovery` `factor` that is not a number above 0 and at most
//! [`MAX_SLOW_RECOVERY_FACTOR`] (`inf`, `NaN`, `1e308`, `0`, negative), a `statement_fails`
//! `code` that is not a CrateDB error code (4000–5999, 40000–59999), a verb that is not an HTTP
//! method, a resource that is not simulated. Then no fault of the request is applied.
//!
//! | kind | fields | effect |
//! |---|---|---|
//! | `api_error` | `verb`?, `resource`?, `code`, `count` | the next `count` (≥ 1) matching API requests fail with `code` (409, 429, 500, 503, 504) |
//! | `api_error_rate` | `verb`?, `resource`?, `code`, `rate`, `seed`? | each matching API request fails with `code` with probability `rate` (0 < rate ≤ 1), until cleared |
//! | `api_latency` | `verb`?, `resource`?, `latency_ms`, `jitter_ms`?, `seed`? | each matching API request is answered `latency_ms` (plus up to `jitter_ms`; each 0 to 3 600 000) of simulated time later, until cleared |
//! | `clear_api_errors` | | drop every `api_error` and `api_error_rate` rule (latencies stay) |
//! | `clear_api_faults` | | drop every `api_error`, `api_error_rate` and `api_latency` rule |
//! | `drop_watches` | `resource`? | every open watch (of that resource) ends now, as when the API server closes it |
//! | `expire_watches` | | compact the event log: a watch from any older resourceVersion gets 410 Gone (Expired) |
//! | `node_crash` | `namespace`, `cluster`, `node` | the node's process dies now (its container restarts) |
//! | `node_never_rejoins` | `namespace`, `cluster`, `node` | the node starts but never joins again |
//! | `node_rejoins` | `namespace`, `cluster`, `node` | undo `node_never_rejoins` |
//! | `slow_recovery` | `namespace`, `cluster`, `factor` | recoveries and relocations take `factor` (0 < factor ≤ 1000) times longer |
//! | `health_stuck_yellow` | `namespace`, `cluster`, `stuck` | health never gets better than YELLOW |
//! | `statement_fails` | `namespace`, `cluster`, `pattern`, `code`, `message` | matching SQL fails with that CrateDB error (`code` 4000–5999 or 40000–59999) |
//! | `clear_statement_failures` | `namespace`, `cluster` | drop every `statement_fails` |
//! | `restore_fails` | `namespace`, `cluster`, `table` (`schema.table`) | restores of that table started from now on fail when their primaries' recovery would finish: the primaries stay UNASSIGNED with CrateDB's restore-failure explanation |
//!
//! Matching: `verb` is the HTTP method (`GET` covers get, list and watch), compared
//! case-insensitively; `resource` is the plural (`pods`, `statefulsets`), which also covers the
//! resource's subresources (`pods/eviction`, `statefulsets/scale`) but not the pod proxy to
//! CrateDB; a field left out matches everything. Discovery and `/_sim/*` are never affected.
//!
//! A rule with the same `verb` and `resource` as an earlier rule of the same kind replaces it
//! (`api_error_rate`, `api_latency`); latencies of different rules that match one request add up.
//!
//! Randomness is reproducible: every `api_error_rate` and `api_latency` rule draws from its own
//! generator seeded with its `seed` (0 when left out), so the same sequence of matching requests
//! meets the same failures and delays on every run.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::distr::Bernoulli;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::cratedb::Fault as DbFault;
use crate::kube::ApiServer;
use crate::kube::registry::RESOURCES;
use crate::kube::status::ApiError;

/// One fault, as the JSON names it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    ApiError {
        verb: Option<String>,
        resource: Option<String>,
        code: u16,
        count: u32,
    },
    ApiErrorRate {
        verb: Option<String>,
        resource: Option<String>,
        code: u16,
        rate: f64,
        seed: Option<u64>,
    },
    ApiLatency {
        verb: Option<String>,
        resource: Option<String>,
        latency_ms: u64,
        jitter_ms: Option<u64>,
        seed: Option<u64>,
    },
    // A struct variant, not a unit one: serde enforces `deny_unknown_fields` only on those.
    ClearApiErrors {},
    ClearApiFaults {},
    DropWatches {
        resource: Option<String>,
    },
    ExpireWatches {},
    NodeCrash {
        namespace: String,
        cluster: String,
        node: String,
    },
    NodeNeverRejoins {
        namespace: String,
        cluster: String,
        node: String,
    },
    NodeRejoins {
        namespace: String,
        cluster: String,
        node: String,
    },
    SlowRecovery {
        namespace: String,
        cluster: String,
        factor: f64,
    },
    HealthStuckYellow {
        namespace: String,
        cluster: String,
        stuck: bool,
    },
    StatementFails {
        namespace: String,
        cluster: String,
        pattern: String,
        code: u32,
        message: String,
    },
    ClearStatementFailures {
        namespace: String,
        cluster: String,
    },
    /// Restores of `table` (`schema.table`) started from now on fail when their primaries'
    /// recovery from the snapshot would finish.
    RestoreFails {
        namespace: String,
        cluster: String,
        table: String,
    },
}

/// The codes `api_error` and `api_error_rate` may inject.
const INJECTABLE_CODES: [u16; 5] = [409, 429, 500, 503, 504];

/// The longest `api_latency` (and `jitter_ms`): one hour of simulated time. Every client timeout
/// of kube-rs, kubectl and cratectl is shorter, so a longer wait cannot show anything an hour
/// does not, and a request held longer looks like a hang rather than a slow API server.
pub const MAX_LATENCY_MS: u64 = 3_600_000;

/// The largest `slow_recovery` factor: recoveries 1000 times slower turn the default 2 s shard
/// recovery into more than half an hour of simulated time, far past any health-gate timeout.
pub const MAX_SLOW_RECOVERY_FACTOR: f64 = 1000.0;

/// The HTTP methods the API serves, which `verb` may name.
const VERBS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

impl Fault {
    /// Checks the values a fault carries, before any fault of a request is applied; the error
    /// names the kind, the field and the value.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::ApiError {
                verb,
                resource,
                code,
                count,
            } => {
                check_selector("api_error", verb.as_deref(), resource.as_deref())?;
                check_code("api_error", *code)?;
                if *count == 0 {
                    return Err(format!(
                        "api_error count 0 is out of range: use 1 to {} (the number of matching requests to fail)",
                        u32::MAX
                    ));
                }
                Ok(())
            }
            Fault::ApiErrorRate {
                verb,
                resource,
                code,
                rate,
                ..
            } => {
                check_selector("api_error_rate", verb.as_deref(), resource.as_deref())?;
                check_code("api_error_rate", *code)?;
                if !(*rate > 0.0 && *rate <= 1.0) {
                    return Err(format!(
                        "api_error_rate rate {rate} is out of range: use a probability above 0 and at most 1"
                    ));
                }
                Ok(())
            }
            Fault::ApiLatency {
                verb,
                resource,
                latency_ms,
                jitter_ms,
                ..
            } => {
                check_selector("api_latency", verb.as_deref(), resource.as_deref())?;
                check_millis("latency_ms", *latency_ms)?;
                check_millis("jitter_ms", jitter_ms.unwrap_or(0))
            }
            Fault::DropWatches { resource } => check_selector("drop_watches", None, resource.as_deref()),
            Fault::SlowRecovery { factor, .. } => {
                // Written so that NaN, which compares false with everything, is refused too.
                if factor.is_finite() && *factor > 0.0 && *factor <= MAX_SLOW_RECOVERY_FACTOR {
                    Ok(())
                } else {
                    Err(format!(
                        "slow_recovery factor {factor:?} is out of range: use a number above 0 and at most \
                         {MAX_SLOW_RECOVERY_FACTOR} (1 is normal speed, 4 four times slower)"
                    ))
                }
            }
            Fault::StatementFails { code, .. } => {
                // CrateDB's error codes are four digits, or five for a finer kind (40410); the
                // first three are the HTTP status, which must be a client or server error.
                if (4000..=5999).contains(code) || (40_000..=59_999).contains(code) {
                    Ok(())
                } else {
                    Err(format!(
                        "statement_fails code {code} is not a CrateDB error code: use 4000 to 5999, or a \
                         five-digit code from 40000 to 59999 such as 40410 (the first three digits are the \
                         HTTP status)"
                    ))
                }
            }
            Fault::ClearApiErrors {}
            | Fault::ClearApiFaults {}
            | Fault::ExpireWatches {}
            | Fault::NodeCrash { .. }
            | Fault::NodeNeverRejoins { .. }
            | Fault::NodeRejoins { .. }
            | Fault::HealthStuckYellow { .. }
            | Fault::ClearStatementFailures { .. } => Ok(()),
            Fault::RestoreFails { table, .. } => match table.split_once('.') {
                Some((schema, name)) if !schema.is_empty() && !name.is_empty() && !name.contains('.') => {
                    Ok(())
                }
                _ => Err(format!("restore_fails table {table:?}: write it as schema.table")),
            },
        }
    }
}

/// An `api_latency` duration in milliseconds: 0 to [`MAX_LATENCY_MS`].
fn check_millis(field: &str, ms: u64) -> Result<(), String> {
    if ms <= MAX_LATENCY_MS {
        Ok(())
    } else {
        Err(format!(
            "api_latency {field} {ms} is out of range: use 0 to {MAX_LATENCY_MS} (one hour of simulated time)"
        ))
    }
}

fn check_code(kind: &str, code: u16) -> Result<(), String> {
    if INJECTABLE_CODES.contains(&code) {
        Ok(())
    } else {
        Err(format!(
            "{kind} code {code} is not injectable: use 409, 429, 500, 503 or 504"
        ))
    }
}

fn check_selector(kind: &str, verb: Option<&str>, resource: Option<&str>) -> Result<(), String> {
    if let Some(verb) = verb
        && !VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
    {
        return Err(format!(
            "{kind} verb {verb:?} is not an HTTP method: use GET (get, list and watch), POST, PUT, PATCH, DELETE or HEAD"
        ));
    }
    if let Some(resource) = resource
        && !RESOURCES.iter().any(|r| r.plural == resource)
    {
        let mut known: Vec<&str> = RESOURCES.iter().map(|r| r.plural).collect();
        known.sort_unstable();
        known.dedup();
        return Err(format!(
            "{kind} resource {resource:?} is not a simulated resource: use a plural, one of {}",
            known.join(", ")
        ));
    }
    Ok(())
}

/// The request body of `POST /_sim/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub faults: Vec<Fault>,
}

/// Which API requests a rule applies to: `None` matches every verb or resource.
#[derive(Clone, Debug, PartialEq)]
struct Matcher {
    /// Upper case.
    verb: Option<String>,
    resource: Option<String>,
}

impl Matcher {
    fn new(verb: Option<String>, resource: Option<String>) -> Matcher {
        Matcher {
            verb: verb.map(|v| v.to_ascii_uppercase()),
            resource,
        }
    }

    fn matches(&self, verb: &str, resource: Option<&str>) -> bool {
        self.verb.as_deref().is_none_or(|v| v.eq_ignore_ascii_case(verb))
            && self.resource.as_deref().is_none_or(|want| Some(want) == resource)
    }
}

/// A burst of API errors still to be served.
#[derive(Clone, Debug)]
struct ApiErrorRule {
    matcher: Matcher,
    code: u16,
    remaining: u32,
}

/// Matching requests fail with `code` with a fixed probability.
#[derive(Debug)]
struct ApiErrorRate {
    matcher: Matcher,
    code: u16,
    fails: Bernoulli,
    rng: StdRng,
}

/// Matching requests are answered late.
#[derive(Debug)]
struct ApiLatency {
    matcher: Matcher,
    /// Simulated time.
    latency: Duration,
    jitter_ms: u64,
    rng: StdRng,
}

#[derive(Debug, Default)]
struct ApiRules {
    bursts: Vec<ApiErrorRule>,
    rates: Vec<ApiErrorRate>,
    latencies: Vec<ApiLatency>,
}

/// The API faults in force, and the signal that ends open watches.
pub struct ApiFaults {
    rules: Mutex<ApiRules>,
    /// `drop_watches`: `None` ends every watch, `Some(plural)` the watches of that resource.
    watch_drops: broadcast::Sender<Option<String>>,
}

impl Default for ApiFaults {
    fn default() -> Self {
        ApiFaults {
            rules: Mutex::new(ApiRules::default()),
            watch_drops: broadcast::Sender::new(64),
        }
    }
}

impl ApiFaults {
    fn rules(&self) -> MutexGuard<'_, ApiRules> {
        // Every change is a single push, retain or clear, so a poisoned lock is still consistent.
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The error to answer a `verb` request on `resource` (a plural, e.g. `pods`) with, if a
    /// rule matches: bursts first (each use counts down its rule), then error rates (each
    /// matching rate rule draws once, in order, until one fires).
    pub fn take(&self, verb: &str, resource: Option<&str>) -> Option<ApiError> {
        let mut rules = self.rules();
        if let Some(rule) = rules
            .bursts
            .iter_mut()
            .find(|r| r.remaining > 0 && r.matcher.matches(verb, resource))
        {
            rule.remaining -= 1;
            return Some(ApiError::injected(rule.code));
        }
        rules
            .rates
            .iter_mut()
            .filter(|r| r.matcher.matches(verb, resource))
            .find_map(|r| r.rng.sample(r.fails).then(|| ApiError::injected(r.code)))
    }

    /// How much simulated time a `verb` request on `resource` waits before it is served: the
    /// sum of every matching `api_latency` rule, each with its own jitter.
    pub fn latency(&self, verb: &str, resource: Option<&str>) -> Duration {
        let mut rules = self.rules();
        rules
            .latencies
            .iter_mut()
            .filter(|r| r.matcher.matches(verb, resource))
            .map(|r| {
                let jitter = match r.jitter_ms {
                    0 => 0,
                    max => r.rng.random_range(0..=max),
                };
                r.latency.saturating_add(Duration::from_millis(jitter))
            })
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// The `drop_watches` signal, for a watch to end on: `None` names every resource.
    pub fn watch_drops(&self) -> broadcast::Receiver<Option<String>> {
        self.watch_drops.subscribe()
    }

    fn add_burst(&self, rule: ApiErrorRule) {
        self.rules().bursts.push(rule);
    }

    fn set_rate(&self, rule: ApiErrorRate) {
        let mut rules = self.rules();
        rules.rates.retain(|r| r.matcher != rule.matcher);
        rules.rates.push(rule);
    }

    fn set_latency(&self, rule: ApiLatency) {
        let mut rules = self.rules();
        rules.latencies.retain(|r| r.matcher != rule.matcher);
        rules.latencies.push(rule);
    }

    fn clear_errors(&self) {
        let mut rules = self.rules();
        rules.bursts.clear();
        rules.rates.clear();
    }

    fn clear_all(&self) {
        *self.rules() = ApiRules::default();
    }

    fn drop_watches(&self, resource: Option<String>) {
        // No receiver is fine: no watch is open.
        let _ = self.watch_drops.send(resource);
    }
}

/// Applies `faults` in order. Invalid values refuse the whole request before anything is
/// applied; an unknown cluster or node stops at that fault.
pub fn apply(server: &ApiServer, faults: &[Fault]) -> Result<(), ApiError> {
    for fault in faults {
        fault.validate().map_err(ApiError::bad_request)?;
    }
    let now = server.clock.elapsed();
    let api = &server.api_faults;
    for fault in faults {
        let (namespace, cluster, db_fault) = match fault.clone() {
            Fault::ApiError {
                verb,
                resource,
                code,
                count,
            } => {
                api.add_burst(ApiErrorRule {
                    matcher: Matcher::new(verb, resource),
                    code,
                    remaining: count,
                });
                continue;
            }
            Fault::ApiErrorRate {
                verb,
                resource,
                code,
                rate,
                seed,
            } => {
                let fails = Bernoulli::new(rate).map_err(|e| {
                    ApiError::bad_request(format!("api_error_rate rate {rate} is not a probability: {e}"))
                })?;
                api.set_rate(ApiErrorRate {
                    matcher: Matcher::new(verb, resource),
                    code,
                    fails,
                    rng: StdRng::seed_from_u64(seed.unwrap_or(0)),
                });
                continue;
            }
            Fault::ApiLatency {
                verb,
                resource,
                latency_ms,
                jitter_ms,
                seed,
            } => {
                api.set_latency(ApiLatency {
                    matcher: Matcher::new(verb, resource),
                    latency: Duration::from_millis(latency_ms),
                    jitter_ms: jitter_ms.unwrap_or(0),
                    rng: StdRng::seed_from_u64(seed.unwrap_or(0)),
                });
                continue;
            }
            Fault::ClearApiErrors {} => {
                api.clear_errors();
                continue;
            }
            Fault::ClearApiFaults {} => {
                api.clear_all();
                continue;
            }
            Fault::DropWatches { resource } => {
                api.drop_watches(resource);
                continue;
            }
            Fault::ExpireWatches {} => {
                server.store().compact();
                continue;
            }
            Fault::NodeCrash {
                namespace,
                cluster,
                node,
            } => {
                let mut databases = server.databases.lock();
                let model = databases
                    .get_mut(&(namespace.clone(), cluster.clone()))
                    .ok_or_else(|| unknown_cluster(&namespace, &cluster))?;
                if !model.has_node(&node) {
                    return Err(ApiError::bad_request(format!(
                        "cluster {namespace}/{cluster} has no node {node:?}"
                    )));
                }
                model.node_killed(&node, now);
                continue;
            }
            Fault::NodeNeverRejoins {
                namespace,
                cluster,
                node,
            } => (namespace, cluster, DbFault::NodeNeverRejoins(node)),
            Fault::NodeRejoins {
                namespace,
                cluster,
                node,
            } => (namespace, cluster, DbFault::NodeRejoins(node)),
            Fault::SlowRecovery {
                namespace,
                cluster,
                factor,
            } => (namespace, cluster, DbFault::SlowRecovery(factor)),
            Fault::HealthStuckYellow {
                namespace,
                cluster,
                stuck,
            } => (namespace, cluster, DbFault::HealthStuckYellow(stuck)),
            Fault::StatementFails {
                namespace,
                cluster,
                pattern,
                code,
                message,
            } => (
                namespace,
                cluster,
                DbFault::StatementFails {
                    pattern,
                    code,
                    message,
                },
            ),
            Fault::ClearStatementFailures { namespace, cluster } => {
                (namespace, cluster, DbFault::ClearStatementFailures)
            }
            Fault::RestoreFails {
                namespace,
                cluster,
                table,
            } => (namespace, cluster, DbFault::RestoreFails(table)),
        };
        let mut databases = server.databases.lock();
        let model = databases
            .get_mut(&(namespace.clone(), cluster.clone()))
            .ok_or_else(|| unknown_cluster(&namespace, &cluster))?;
        model.set_fault(db_fault);
    }
    // Wake the controllers: a crash or a rejoin changes what the kubelet should do.
    server.store().touch();
    Ok(())
}

fn unknown_cluster(namespace: &str, cluster: &str) -> ApiError {
    ApiError::bad_request(format!("no simulated CrateDB cluster {namespace}/{cluster}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<Fault>, String> {
        serde_json::from_str::<FaultRequest>(&format!(r#"{{"faults": [{json}]}}"#))
            .map(|r| r.faults)
            .map_err(|e| e.to_string())
    }

    fn one(json: &str) -> Fault {
        parse(json).unwrap().remove(0)
    }

    #[test]
    fn faults_parse_strictly() {
        let request: FaultRequest = serde_json::from_str(
            r#"{"faults": [{"kind": "api_error", "verb": "DELETE", "resource": "pods", "code": 503, "count": 2},
                           {"kind": "node_crash", "namespace": "cratedb", "cluster": "alpha", "node": "data-hot-1"}]}"#,
        )
        .unwrap();
        assert_eq!(request.faults.len(), 2);
        let unknown_kind =
            serde_json::from_str::<FaultRequest>(r#"{"faults": [{"kind": "meteor"}]}"#).unwrap_err();
        assert!(unknown_kind.to_string().contains("meteor"), "{unknown_kind}");
        let unknown_field = serde_json::from_str::<FaultRequest>(
            r#"{"faults": [{"kind": "clear_api_errors", "colour": 1}]}"#,
        )
        .unwrap_err();
        assert!(unknown_field.to_string().contains("colour"), "{unknown_field}");
    }

    #[test]
    fn the_api_and_watch_faults_parse_with_optional_fields_left_out() {
        assert_eq!(
            one(r#"{"kind": "api_latency", "latency_ms": 250}"#),
            Fault::ApiLatency {
                verb: None,
                resource: None,
                latency_ms: 250,
                jitter_ms: None,
                seed: None
            }
        );
        assert_eq!(
            one(
                r#"{"kind": "api_latency", "verb": "get", "resource": "pods", "latency_ms": 250, "jitter_ms": 50, "seed": 3}"#
            ),
            Fault::ApiLatency {
                verb: Some("get".into()),
                resource: Some("pods".into()),
                latency_ms: 250,
                jitter_ms: Some(50),
                seed: Some(3)
            }
        );
        assert_eq!(
            one(r#"{"kind": "api_error_rate", "code": 500, "rate": 0.25}"#),
            Fault::ApiErrorRate {
                verb: None,
                resource: None,
                code: 500,
                rate: 0.25,
                seed: None
            }
        );
        assert_eq!(one(r#"{"kind": "clear_api_faults"}"#), Fault::ClearApiFaults {});
        assert_eq!(
            one(r#"{"kind": "drop_watches"}"#),
            Fault::DropWatches { resource: None }
        );
        assert_eq!(
            one(r#"{"kind": "drop_watches", "resource": "pods"}"#),
            Fault::DropWatches {
                resource: Some("pods".into())
            }
        );
        assert_eq!(one(r#"{"kind": "expire_watches"}"#), Fault::ExpireWatches {});
    }

    #[test]
    fn the_api_and_watch_faults_refuse_unknown_fields_and_bad_types() {
        for (json, named) in [
            (r#"{"kind": "expire_watches", "resource": "pods"}"#, "resource"),
            (r#"{"kind": "clear_api_faults", "all": true}"#, "all"),
            (r#"{"kind": "drop_watches", "after": 3}"#, "after"),
            (r#"{"kind": "api_latency", "latency": 5}"#, "latency"),
            (
                r#"{"kind": "api_error_rate", "code": 500, "rate": 0.5, "count": 1}"#,
                "count",
            ),
            (r#"{"kind": "api_latency", "latency_ms": -5}"#, "-5"),
            (r#"{"kind": "api_latency", "latency_ms": "fast"}"#, "fast"),
            (
                r#"{"kind": "api_error_rate", "code": 500, "rate": "often"}"#,
                "often",
            ),
            (r#"{"kind": "api_error_rate", "code": 500}"#, "rate"),
            (r#"{"kind": "api_latency"}"#, "latency_ms"),
        ] {
            let error = parse(json).unwrap_err();
            assert!(error.contains(named), "{json}: {error}");
        }
    }

    #[test]
    fn invalid_values_are_refused_naming_kind_field_and_value() {
        for (json, named) in [
            (r#"{"kind": "api_error_rate", "code": 500, "rate": 0}"#, "rate 0 "),
            (
                r#"{"kind": "api_error_rate", "code": 500, "rate": 1.5}"#,
                "rate 1.5",
            ),
            (
                r#"{"kind": "api_error_rate", "code": 500, "rate": -0.1}"#,
                "rate -0.1",
            ),
            (
                r#"{"kind": "api_error_rate", "code": 418, "rate": 0.5}"#,
                "api_error_rate code 418",
            ),
            (
                r#"{"kind": "api_error", "code": 404, "count": 1}"#,
                "api_error code 404",
            ),
            (
                r#"{"kind": "api_latency", "verb": "LIST", "latency_ms": 1}"#,
                "api_latency verb \"LIST\"",
            ),
            (
                r#"{"kind": "api_error", "verb": "watch", "code": 503, "count": 1}"#,
                "verb \"watch\"",
            ),
            (
                r#"{"kind": "api_error_rate", "resource": "pod", "code": 500, "rate": 1}"#,
                "resource \"pod\"",
            ),
            (
                r#"{"kind": "drop_watches", "resource": "Pods"}"#,
                "drop_watches resource \"Pods\"",
            ),
            (
                r#"{"kind": "api_error", "code": 503, "count": 0}"#,
                "api_error count 0 is out of range: use 1 to 4294967295",
            ),
            (
                r#"{"kind": "api_latency", "latency_ms": 3600001}"#,
                "api_latency latency_ms 3600001 is out of range: use 0 to 3600000",
            ),
            (
                r#"{"kind": "api_latency", "latency_ms": 1, "jitter_ms": 18446744073709551615}"#,
                "api_latency jitter_ms 18446744073709551615 is out of range: use 0 to 3600000",
            ),
            (
                r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": 1e308}"#,
                "slow_recovery factor 1e308 is out of range: use a number above 0 and at most 1000",
            ),
            (
                r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": 1000.5}"#,
                "factor 1000.5 ",
            ),
            (
                r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": 0}"#,
                "factor 0.0 ",
            ),
            (
                r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": -2}"#,
                "factor -2.0 ",
            ),
            (
                r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 99, "message": "m"}"#,
                "statement_fails code 99 is not a CrateDB error code: use 4000 to 5999",
            ),
            (
                r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 6000, "message": "m"}"#,
                "code 6000 ",
            ),
            (
                r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 30000, "message": "m"}"#,
                "code 30000 ",
            ),
        ] {
            let error = one(json).validate().unwrap_err();
            assert!(error.contains(named), "{json}: {error}");
        }
        for json in [
            r#"{"kind": "api_error_rate", "verb": "get", "resource": "pods", "code": 500, "rate": 1}"#,
            r#"{"kind": "api_error_rate", "code": 429, "rate": 0.001}"#,
            r#"{"kind": "api_latency", "verb": "Patch", "resource": "statefulsets", "latency_ms": 0}"#,
            r#"{"kind": "drop_watches", "resource": "cratedbs"}"#,
            r#"{"kind": "expire_watches"}"#,
            r#"{"kind": "api_error", "code": 503, "count": 4294967295}"#,
            r#"{"kind": "api_latency", "latency_ms": 3600000, "jitter_ms": 3600000}"#,
            r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": 1000}"#,
            r#"{"kind": "slow_recovery", "namespace": "n", "cluster": "c", "factor": 0.25}"#,
            r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 4000, "message": "m"}"#,
            r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 5999, "message": "m"}"#,
            r#"{"kind": "statement_fails", "namespace": "n", "cluster": "c", "pattern": "x", "code": 40410, "message": "m"}"#,
        ] {
            assert_eq!(one(json).validate(), Ok(()), "{json}");
        }
    }

    /// JSON has no infinity or NaN, but a scenario's YAML does (`.inf`, `.nan`).
    #[test]
    fn a_factor_that_is_not_a_number_is_refused() {
        for factor in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            let fault = Fault::SlowRecovery {
                namespace: "n".into(),
                cluster: "c".into(),
                factor,
            };
            let error = fault.validate().unwrap_err();
            assert!(
                error.contains(&format!("slow_recovery factor {factor:?} is out of range")),
                "{error}"
            );
        }
    }

    fn rate_rule(verb: Option<&str>, code: u16, rate: f64, seed: u64) -> ApiErrorRate {
        ApiErrorRate {
            matcher: Matcher::new(verb.map(str::to_string), Some("pods".into())),
            code,
            fails: Bernoulli::new(rate).unwrap(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn latency_rule(verb: Option<&str>, latency_ms: u64, jitter_ms: u64) -> ApiLatency {
        ApiLatency {
            matcher: Matcher::new(verb.map(str::to_string), Some("pods".into())),
            latency: Duration::from_millis(latency_ms),
            jitter_ms,
            rng: StdRng::seed_from_u64(0),
        }
    }

    #[test]
    fn api_error_rules_count_down_and_match_verb_and_resource() {
        let faults = ApiFaults::default();
        faults.add_burst(ApiErrorRule {
            matcher: Matcher::new(Some("DELETE".into()), Some("pods".into())),
            code: 503,
            remaining: 2,
        });
        assert!(faults.take("GET", Some("pods")).is_none());
        assert!(faults.take("DELETE", Some("statefulsets")).is_none());
        assert_eq!(faults.take("delete", Some("pods")).map(|e| e.code), Some(503));
        assert_eq!(faults.take("DELETE", Some("pods")).map(|e| e.code), Some(503));
        assert!(
            faults.take("DELETE", Some("pods")).is_none(),
            "the burst is spent"
        );
    }

    /// Which of `n` GETs on pods fail.
    fn failures(faults: &ApiFaults, n: usize) -> Vec<bool> {
        (0..n)
            .map(|_| faults.take("GET", Some("pods")).is_some())
            .collect()
    }

    #[test]
    fn error_rates_fail_that_share_of_matching_requests_reproducibly() {
        let always = ApiFaults::default();
        always.set_rate(rate_rule(Some("get"), 500, 1.0, 0));
        assert!(failures(&always, 200).iter().all(|&f| f));
        assert!(always.take("DELETE", Some("pods")).is_none());
        assert!(always.take("GET", Some("statefulsets")).is_none());
        assert_eq!(always.take("GET", Some("pods")).map(|e| e.code), Some(500));

        let some = |seed| {
            let faults = ApiFaults::default();
            faults.set_rate(rate_rule(None, 503, 0.3, seed));
            failures(&faults, 1000)
        };
        let first = some(7);
        let failed = first.iter().filter(|&&f| f).count();
        assert!((200..400).contains(&failed), "{failed} of 1000 failed at 0.3");
        assert_eq!(first, some(7), "the same seed fails the same requests");
        assert_ne!(first, some(8), "another seed fails others");
    }

    #[test]
    fn a_burst_is_served_before_a_rate_and_a_new_rate_replaces_the_same_match() {
        let faults = ApiFaults::default();
        faults.set_rate(rate_rule(Some("GET"), 500, 1.0, 0));
        faults.add_burst(ApiErrorRule {
            matcher: Matcher::new(None, None),
            code: 429,
            remaining: 1,
        });
        assert_eq!(faults.take("GET", Some("pods")).map(|e| e.code), Some(429));
        assert_eq!(faults.take("GET", Some("pods")).map(|e| e.code), Some(500));
        faults.set_rate(rate_rule(Some("get"), 504, 1.0, 0));
        assert_eq!(faults.rules().rates.len(), 1, "same verb and resource: replaced");
        assert_eq!(faults.take("GET", Some("pods")).map(|e| e.code), Some(504));
    }

    #[test]
    fn latencies_match_add_up_jitter_within_bounds_and_replace_the_same_match() {
        let faults = ApiFaults::default();
        faults.set_latency(latency_rule(Some("GET"), 250, 0));
        assert_eq!(faults.latency("get", Some("pods")), Duration::from_millis(250));
        assert_eq!(faults.latency("DELETE", Some("pods")), Duration::ZERO);
        assert_eq!(faults.latency("GET", Some("statefulsets")), Duration::ZERO);
        faults.set_latency(latency_rule(None, 1000, 0));
        assert_eq!(faults.latency("GET", Some("pods")), Duration::from_millis(1250));
        assert_eq!(
            faults.latency("DELETE", Some("pods")),
            Duration::from_millis(1000)
        );
        faults.set_latency(latency_rule(Some("get"), 100, 50));
        assert_eq!(
            faults.rules().latencies.len(),
            2,
            "same verb and resource: replaced"
        );
        let seen: Vec<Duration> = (0..100).map(|_| faults.latency("GET", Some("pods"))).collect();
        assert!(
            seen.iter()
                .all(|d| (Duration::from_millis(1100)..=Duration::from_millis(1150)).contains(d)),
            "{seen:?}"
        );
        assert!(seen.iter().any(|d| *d != seen[0]), "jitter varies");
    }

    #[test]
    fn clearing_errors_keeps_latencies_and_clearing_api_faults_drops_everything() {
        let faults = ApiFaults::default();
        faults.set_rate(rate_rule(None, 500, 1.0, 0));
        faults.add_burst(ApiErrorRule {
            matcher: Matcher::new(None, None),
            code: 429,
            remaining: 5,
        });
        faults.set_latency(latency_rule(None, 10, 0));
        faults.clear_errors();
        assert!(faults.take("GET", Some("pods")).is_none());
        assert_eq!(faults.latency("GET", Some("pods")), Duration::from_millis(10));
        faults.set_rate(rate_rule(None, 500, 1.0, 0));
        faults.clear_all();
        assert!(faults.take("GET", Some("pods")).is_none());
        assert_eq!(faults.latency("GET", Some("pods")), Duration::ZERO);
    }

    #[test]
    fn dropping_watches_signals_the_watches_subscribed_before() {
        let faults = ApiFaults::default();
        let mut open = faults.watch_drops();
        faults.drop_watches(Some("pods".into()));
        let mut later = faults.watch_drops();
        assert_eq!(open.try_recv().unwrap(), Some("pods".to_string()));
        assert!(
            later.try_recv().is_err(),
            "a watch opened afterwards is not dropped"
        );
    }
}
