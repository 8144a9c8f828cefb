//! The `/_sql` endpoint without HTTP: request-body parsing, HTTP Basic auth, the statement
//! catalogue, bind arguments, bulk requests, and replies shaped exactly as CrateDB's
//! (docs/cratedb-behaviour.md#http-endpoint), plus the `GET /` body.
//!
//! serde_json here sorts object keys, so the key order CrateDB writes (`cols, col_types,
//! rows, rowcount, duration`) is restored by [`SqlReply::body_text`] and [`root_body_text`].

mod ast;
pub(crate) mod error;
mod eval;
mod exec;
mod lexer;
mod parser;
pub(crate) mod types;

use serde_json::{Map, Value, json};

use super::spec::Peer;
use super::{Auth, CrateCluster};
use error::SqlError;

/// `?types` and `?error_trace`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    pub(crate) types: bool,
    pub(crate) error_trace: bool,
}

/// Something a statement started that CrateDB finishes before it answers (DECOMMISSION waits
/// for its health check; snapshot and restore with `wait_for_completion = true`). An HTTP
/// layer that wants to be exact holds the response until [`CrateCluster::wait_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    Decommission { node: String },
    Snapshot { repository: String, snapshot: String },
    Restore { repository: String, snapshot: String },
}

/// The body of a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// `Content-Type: application/json; charset=UTF-8`.
    Json(Value),
    /// Plain text (auth failures, a decommissioning node). `www_authenticate` asks for the
    /// header `WWW-Authenticate: Basic realm="CrateDB Authenticator"`; `close_connection` for
    /// closing the connection after the reply.
    PlainText {
        text: String,
        www_authenticate: bool,
        close_connection: bool,
    },
}

/// The answer to `POST /_sql`.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlReply {
    pub status: u16,
    pub body: ReplyBody,
    pub wait: Option<Wait>,
}

impl SqlReply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: ReplyBody::Json(body),
            wait: None,
        }
    }

    fn text(status: u16, text: String, www_authenticate: bool) -> Self {
        Self {
            status,
            body: ReplyBody::PlainText {
                text,
                www_authenticate,
                close_connection: true,
            },
            wait: None,
        }
    }

    /// The JSON body, if it is one.
    pub fn json_body(&self) -> Option<&Value> {
        match &self.body {
            ReplyBody::Json(v) => Some(v),
            ReplyBody::PlainText { .. } => None,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self.body {
            ReplyBody::Json(_) => "application/json; charset=UTF-8",
            ReplyBody::PlainText { .. } => "text/plain; charset=UTF-8",
        }
    }

    /// The body as sent, with CrateDB's key order.
    pub fn body_text(&self) -> String {
        match &self.body {
            ReplyBody::Json(v) => ordered_json(v, false),
            ReplyBody::PlainText { text, .. } => text.clone(),
        }
    }
}

/// Key order CrateDB writes; keys not listed follow in alphabetical order.
const KEY_ORDER: &[&str] = &[
    "ok",
    "status",
    "name",
    "cluster_name",
    "number",
    "build_hash",
    "build_timestamp",
    "build_snapshot",
    "lucene_version",
    "cols",
    "col_types",
    "rows",
    "rowcount",
    "duration",
    "results",
    "error",
    "message",
    "code",
    "error_trace",
    "version",
];

fn key_rank(k: &str) -> (usize, &str) {
    (
        KEY_ORDER.iter().position(|x| *x == k).unwrap_or(KEY_ORDER.len()),
        k,
    )
}

/// Serialises `v` with objects' keys in CrateDB's order; `pretty` indents by two spaces.
pub(crate) fn ordered_json(v: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write_ordered(v, pretty, 0, &mut out);
    out
}

fn write_ordered(v: &Value, pretty: bool, depth: usize, out: &mut String) {
    let (nl, ind, ind_in, sep) = if pretty {
        ("\n", "  ".repeat(depth), "  ".repeat(depth + 1), " : ")
    } else {
        ("", String::new(), String::new(), ":")
    };
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| key_rank(a).cmp(&key_rank(b)));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                out.push_str(if i > 0 { "," } else { "" });
                out.push_str(nl);
                out.push_str(&ind_in);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(sep);
                if let Some(child) = m.get(*k) {
                    write_ordered(child, pretty, depth + 1, out);
                }
            }
            if !keys.is_empty() {
                out.push_str(nl);
                out.push_str(&ind);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Body of `GET /` for `node` (503/`ok: false` without an elected master).
pub(crate) fn root_body(cluster: &CrateCluster, node: &str) -> Value {
    let n = cluster.nodes.iter().find(|n| n.name == node);
    let version = n
        .map(|n| n.version.clone())
        .unwrap_or_else(|| cluster.version_of_cluster());
    let has_master = n.is_some_and(|n| n.is_member()) && cluster.master.is_some();
    let status = if has_master { 200 } else { 503 };
    json!({
        "ok": has_master,
        "status": status,
        "name": node,
        "cluster_name": cluster.name,
        "version": {
            "number": version,
            "build_hash": super::systables::build_hash(&version),
            "build_timestamp": "2026-01-01T00:00:00Z",
            "build_snapshot": false,
            "lucene_version": lucene_version(&version),
        },
    })
}

/// The pretty-printed `GET /` body with CrateDB's key order.
pub fn root_body_text(root: &Value) -> String {
    ordered_json(root, true)
}

fn lucene_version(version: &str) -> &'static str {
    match version.split('.').next() {
        Some("6") => "10.2.2",
        Some("5") => "9.12.1",
        _ => "9.0.0",
    }
}

impl CrateCluster {
    /// The user an HTTP request runs as, or the plain-text 401 message
    /// (docs/cratedb-behaviour.md#authentication).
    /// CrateDB authenticates every HTTP request this way, `GET /` included
    /// (`HttpAuthUpstreamHandler.handleHttpRequest`). `None` is a request without an
    /// `Authorization` header from a remote address.
    pub fn authenticate(&mut self, node: &str, auth: Option<&Auth>) -> Result<String, String> {
        authenticate(self, node, auth)
    }
}

/// See [`CrateCluster::authenticate`].
fn authenticate(cluster: &mut CrateCluster, node: &str, auth: Option<&Auth>) -> Result<String, String> {
    if let Some(token) = auth.and_then(|a| a.token.as_deref()) {
        let outcome = jwt_authenticate(cluster, node, token);
        match &outcome {
            Ok(_) => cluster.bearer.accepted += 1,
            Err((_, expired)) => {
                cluster.bearer.rejected += 1;
                if *expired {
                    cluster.bearer.expired += 1;
                }
            }
        }
        return outcome.map_err(|(text, _)| text);
    }
    let (user, password, peer) = match auth {
        Some(a) => (a.user.as_str(), a.password.as_deref(), a.peer),
        // No header: `auth.trust.http_default_user`.
        None => ("crate", None, Peer::Remote),
    };
    let known = cluster.users.get(user);
    let trust = || {
        known
            .map(|_| user.to_string())
            .ok_or_else(|| format!("trust authentication failed for user \"{user}\""))
    };
    // Host-based auth off (CrateDB's default): every connection is trusted, passwords are
    // ignored, the user must exist (`AlwaysOKAuthentication`, `TrustAuthenticationMethod`).
    if !cluster.hba_enabled {
        return trust();
    }
    // On, as crate-operator configures it (`create.py:get_statefulset_crate_command`), the
    // entries tried in the order of their keys (`HostBasedAuthentication.getEntry`): `0` trusts
    // user `crate` from `_local_` (127.0.0.1 or ::1); `99` asks everyone else for a password.
    // (`98`, JWT, requires TLS in the operator's configuration; TLS is not simulated, so a
    // bearer token is taken as if it came over TLS: see `jwt_authenticate`.)
    if user == "crate" && peer == Peer::Loopback {
        return trust();
    }
    match known {
        Some(Some(expected)) if password == Some(expected.as_str()) => Ok(user.to_string()),
        _ => Err(format!("password authentication failed for user \"{user}\"")),
    }
}

/// CrateDB's `jwt` method (see [`crate::jwt`]) for a request to `node`, at the simulated time:
/// the user, or the plain-text 401 message and whether the token had expired.
fn jwt_authenticate(cluster: &CrateCluster, node: &str, token: &str) -> Result<String, (String, bool)> {
    let settings = cluster
        .node_index(node)
        .map(|i| cluster.nodes[i].gateway.clone())
        .unwrap_or_default();
    let claims = crate::jwt::claims_unverified(token).map_err(|m| (m, false))?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("").to_string();
    // Which user: with `auth.host_based.jwt.iss` the `username` claim names it; else the user
    // whose `jwt` properties carry the token's `iss` and `username`.
    let username = match &settings.jwt_iss {
        Some(_) => claim("username"),
        None => {
            let (iss, name) = (claim("iss"), claim("username"));
            cluster
                .user_jwt
                .iter()
                .find(|(_, p)| p.iss == iss && p.username == name)
                .map(|(user, _)| user.clone())
                .unwrap_or_default()
        }
    };
    if !cluster.users.contains_key(&username) {
        return Err((
            format!("jwt authentication failed for user \"{username}\""),
            false,
        ));
    }
    let default_aud = settings
        .jwt_aud
        .clone()
        .unwrap_or_else(|| cluster.cluster_id.clone());
    let (issuer, name, audience) = match (&settings.jwt_iss, cluster.user_jwt.get(&username)) {
        (Some(iss), _) => (iss.clone(), username.clone(), default_aud),
        (None, Some(p)) => (
            p.iss.clone(),
            p.username.clone(),
            p.aud.clone().unwrap_or(default_aud),
        ),
        // A user found by its jwt properties always has them.
        (None, None) => (String::new(), String::new(), default_aud),
    };
    let now = jiff::Timestamp::from_millisecond(cluster.epoch_ms)
        .ok()
        .and_then(|t| {
            t.checked_add(jiff::SignedDuration::try_from(cluster.clock).ok()?)
                .ok()
        })
        .unwrap_or(jiff::Timestamp::MAX);
    let expected = crate::jwt::Expected {
        issuer: &issuer,
        username: &name,
        audience: &audience,
    };
    crate::jwt::verify(token, &expected, now)
        .map(|()| username.clone())
        .map_err(|r| {
            let expired = matches!(r, crate::jwt::Rejection::Expired(_));
            (
                format!(
                    "jwt authentication failed for user {username}. Reason: {}",
                    r.message()
                ),
                expired,
            )
        })
}

/// A parsed request body.
struct Request {
    stmt: String,
    args: Vec<Value>,
    bulk: Option<Vec<Vec<Value>>>,
}

fn parse_body(body: &[u8]) -> Result<Request, SqlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SqlError::parse("Missing request body"));
    }
    let raw = String::from_utf8_lossy(body);
    let cant_parse = || {
        SqlError::parse(&format!(
            "Can't parse [{raw}]. Expecting payload with `stmt` string and `args` or `bulk_args` arrays"
        ))
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(cant_parse());
    };
    if map
        .keys()
        .any(|k| !["stmt", "args", "bulk_args"].contains(&k.as_str()))
    {
        return Err(cant_parse());
    }
    let stmt = match map.get("stmt") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(cant_parse()),
        None => {
            return Err(SqlError::new(
                "SQLParseSourceException",
                "Field [stmt] is missing",
                5000,
            ));
        }
    };
    let args = match map.get("args") {
        Some(Value::Array(a)) => Some(a.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(cant_parse()),
    };
    let bulk = match map.get("bulk_args") {
        Some(Value::Array(rows)) => Some(
            rows.iter()
                .map(|r| match r {
                    Value::Array(a) => Ok(a.clone()),
                    _ => Err(cant_parse()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None | Some(Value::Null) => None,
        Some(_) => return Err(cant_parse()),
    };
    let args_given = args.as_ref().is_some_and(|a| !a.is_empty());
    let bulk_given = bulk.as_ref().is_some_and(|b| !b.is_empty());
    if args_given && bulk_given {
        return Err(SqlError::parse(
            "request body contains args and bulk_args. It's forbidden to provide both",
        ));
    }
    // Simple when `args` is present (even `[]`) or `bulk_args` is absent.
    let bulk = if args.is_some() { None } else { bulk };
    Ok(Request {
        stmt,
        args: args.unwrap_or_default(),
        bulk,
    })
}

fn error_reply(e: &SqlError, flags: Flags) -> SqlReply {
    let mut body = Map::new();
    body.insert(
        "error".into(),
        json!({"message": e.full_message(), "code": e.code}),
    );
    if flags.error_trace {
        body.insert(
            "error_trace".into(),
            Value::from(format!(
                "io.crate.exceptions.{}: {}\n\tat io.crate.cratesim.Simulator.execute(Simulator.java)\n",
                if e.class.is_empty() {
                    "CrateException"
                } else {
                    &e.class
                },
                e.message
            )),
        );
    }
    SqlReply::json(e.status(), Value::Object(body))
}

/// Simulated statement duration in milliseconds (a JSON float).
const DURATION_MS: f64 = 0.25;

fn result_reply(result: exec::QueryResult, flags: Flags) -> SqlReply {
    let mut body = Map::new();
    match result {
        exec::QueryResult::Rows(out) => {
            body.insert("cols".into(), json!(out.cols));
            if flags.types {
                body.insert(
                    "col_types".into(),
                    Value::Array(out.types.iter().map(types::ColType::id).collect()),
                );
            }
            let count = out.rows.len();
            body.insert("rows".into(), json!(out.rows));
            body.insert("rowcount".into(), json!(count));
        }
        exec::QueryResult::Count(n) => {
            body.insert("cols".into(), json!([]));
            if flags.types {
                body.insert("col_types".into(), json!([]));
            }
            body.insert("rows".into(), json!([[]]));
            body.insert("rowcount".into(), json!(n));
        }
    }
    body.insert("duration".into(), json!(DURATION_MS));
    SqlReply::json(200, Value::Object(body))
}

/// Handles one `POST /_sql` on `node`.
pub(crate) fn handle(
    cluster: &mut CrateCluster,
    node: &str,
    flags: Flags,
    body: &[u8],
    auth: Option<&Auth>,
) -> SqlReply {
    let Some(index) = cluster.node_index(node) else {
        return SqlReply::text(503, format!("cratesim: no node named {node}"), false);
    };
    if let Some(text) = cluster.refused_connection_body(node) {
        return SqlReply::text(500, text, false);
    }
    if !cluster.nodes[index].is_member() {
        if cluster.nodes[index].phase == super::model::Phase::Down {
            return SqlReply::text(
                503,
                format!("cratesim: node {node} is not running (connection refused)"),
                false,
            );
        }
        return error_reply(&SqlError::no_master(), flags);
    }
    let user = match authenticate(cluster, node, auth) {
        Ok(user) => user,
        Err(text) => return SqlReply::text(401, format!("{text}\n"), true),
    };
    let request = match parse_body(body) {
        Ok(r) => r,
        Err(e) => return error_reply(&e, flags),
    };
    if let Some(e) = injected_failure(cluster, &request.stmt) {
        return error_reply(&e, flags);
    }
    match request.bulk {
        Some(bulk) => bulk_reply(cluster, node, &request.stmt, &bulk, &user),
        None => match exec::run(cluster, node, &request.stmt, &request.args, &user) {
            Ok((result, wait)) => SqlReply {
                wait,
                ..result_reply(result, flags)
            },
            Err(e) => error_reply(&e, flags),
        },
    }
}

fn injected_failure(cluster: &CrateCluster, stmt: &str) -> Option<SqlError> {
    let normalised = stmt
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    cluster
        .faults
        .statement_failures
        .iter()
        .find(|(pattern, _, _)| normalised.contains(pattern.as_str()))
        .map(|(_, code, message)| SqlError {
            class: String::new(),
            message: message.clone(),
            code: *code,
        })
}

/// A bulk request: only row-count statements; `error_trace` has no effect
/// (docs/cratedb-behaviour.md#results).
fn bulk_reply(
    cluster: &mut CrateCluster,
    node: &str,
    stmt: &str,
    bulk: &[Vec<Value>],
    user: &str,
) -> SqlReply {
    match parser::parse(stmt) {
        Ok(ast::Statement::Select(_)) => {
            let e =
                SqlError::feature("Bulk operations for statements that return result sets is not supported");
            return error_reply(&e, Flags::default());
        }
        Err(e) => return error_reply(&e, Flags::default()),
        Ok(_) => {}
    }
    let results: Vec<Value> = bulk
        .iter()
        .map(|args| match exec::run(cluster, node, stmt, args, user) {
            Ok((exec::QueryResult::Count(n), _)) => json!({"rowcount": n}),
            Ok((exec::QueryResult::Rows(out), _)) => json!({"rowcount": out.rows.len()}),
            Err(e) => json!({"rowcount": -2, "error": {"code": e.code, "message": e.full_message()}}),
        })
        .collect();
    SqlReply::json(
        200,
        json!({"cols": [], "duration": DURATION_MS, "results": results}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_is_cratedb_order() {
        let v = json!({"duration": 1.5, "rows": [[1]], "rowcount": 1, "cols": ["a"], "col_types": [9]});
        assert_eq!(
            ordered_json(&v, false),
            r#"{"cols":["a"],"col_types":[9],"rows":[[1]],"rowcount":1,"duration":1.5}"#
        );
        let e = json!({"error_trace": "t", "error": {"code": 4000, "message": "m"}});
        assert_eq!(
            ordered_json(&e, false),
            r#"{"error":{"message":"m","code":4000},"error_trace":"t"}"#
        );
    }

    #[test]
    fn body_errors() {
        assert_eq!(parse_body(b"").err().unwrap().message, "Missing request body");
        assert_eq!(parse_body(br#"{"args":[]}"#).err().unwrap().code, 5000);
        assert!(
            parse_body(br#"{"stmt":"x","foo":1}"#)
                .err()
                .unwrap()
                .message
                .starts_with("Can't parse")
        );
        assert!(parse_body(br#"{"stmt":"x","args":[1],"bulk_args":[[1]]}"#).is_err());
        assert!(
            parse_body(br#"{"stmt":"x","bulk_args":[]}"#)
                .unwrap()
                .bulk
                .is_some()
        );
        assert!(
            parse_body(br#"{"stmt":"x","args":[],"bulk_args":[[1]]}"#)
                .unwrap()
                .bulk
                .is_none()
        );
    }
}
