//! Faults injected at run time: `POST /_sim/faults` with `{"faults": [{"kind": …}, …]}`, or
//! [`apply`] in-process. Unknown kinds and fields are refused with a 400 naming them.
//!
//! | kind | fields | effect |
//! |---|---|---|
//! | `api_error` | `verb`?, `resource`?, `code`, `count` | the next `count` matching API requests fail with `code` (429, 500, 503, 504, 409) |
//! | `clear_api_errors` | | drop every `api_error` rule |
//! | `node_crash` | `namespace`, `cluster`, `node` | the node's process dies now (its container restarts) |
//! | `node_never_rejoins` | `namespace`, `cluster`, `node` | the node starts but never joins again |
//! | `node_rejoins` | `namespace`, `cluster`, `node` | undo `node_never_rejoins` |
//! | `slow_recovery` | `namespace`, `cluster`, `factor` | recoveries and relocations take `factor` times longer |
//! | `health_stuck_yellow` | `namespace`, `cluster`, `stuck` | health never gets better than YELLOW |
//! | `statement_fails` | `namespace`, `cluster`, `pattern`, `code`, `message` | matching SQL fails with that CrateDB error |
//! | `clear_statement_failures` | `namespace`, `cluster` | drop every `statement_fails` |

use std::sync::Mutex;

use serde::Deserialize;

use crate::cratedb::Fault as DbFault;
use crate::kube::ApiServer;
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
    // A struct variant, not a unit one: serde enforces `deny_unknown_fields` only on those.
    ClearApiErrors {},
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
}

/// The request body of `POST /_sim/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub faults: Vec<Fault>,
}

/// A burst of API errors still to be served.
#[derive(Clone, Debug)]
struct ApiErrorRule {
    verb: Option<String>,
    resource: Option<String>,
    code: u16,
    remaining: u32,
}

/// The API error rules in force.
#[derive(Default)]
pub struct ApiFaults {
    rules: Mutex<Vec<ApiErrorRule>>,
}

impl ApiFaults {
    /// The error to answer a `verb` request on `resource` (a plural, e.g. `pods`) with, if a rule
    /// matches; each use counts down its rule.
    pub fn take(&self, verb: &str, resource: Option<&str>) -> Option<ApiError> {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rule = rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.verb.as_deref().is_none_or(|v| v.eq_ignore_ascii_case(verb))
                && r.resource.as_deref().is_none_or(|want| Some(want) == resource)
        })?;
        rule.remaining -= 1;
        Some(ApiError::injected(rule.code))
    }
}

/// Applies `faults` in order; stops at the first that names an unknown cluster or node.
pub fn apply(server: &ApiServer, faults: &[Fault]) -> Result<(), ApiError> {
    let now = server.clock.elapsed();
    for fault in faults {
        let (namespace, cluster, db_fault) = match fault.clone() {
            Fault::ApiError {
                verb,
                resource,
                code,
                count,
            } => {
                if ![409, 429, 500, 503, 504].contains(&code) {
                    return Err(ApiError::bad_request(format!(
                        "api_error code {code} is not injectable: use 409, 429, 500, 503 or 504"
                    )));
                }
                let rule = ApiErrorRule {
                    verb,
                    resource,
                    code,
                    remaining: count,
                };
                server
                    .api_faults
                    .rules
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(rule);
                continue;
            }
            Fault::ClearApiErrors {} => {
                server
                    .api_faults
                    .rules
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
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
    fn api_error_rules_count_down_and_match_verb_and_resource() {
        let faults = ApiFaults::default();
        faults.rules.lock().unwrap().push(ApiErrorRule {
            verb: Some("DELETE".into()),
            resource: Some("pods".into()),
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
}
