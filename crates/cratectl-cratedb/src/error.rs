//! CrateDB's failures as typed errors (docs/cratedb-behaviour.md#errors and #a-node-shutting-down),
//! and how a failed response is told apart: CrateDB's JSON error, its plain-text 401, a node
//! shutting down, a proxy or gateway that answered instead of CrateDB, or something unexpected.
//!
//! Every message names what was tried (the transport's `describe()`, the statement as it may be
//! logged) and why. None carries credentials: server text is scrubbed before it lands here.

use serde_json::Value;

use crate::redact::Scrubber;
use crate::transport::{TransportError, TransportErrorKind};

/// A failed call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// CrateDB answered with its JSON error: `{"error": {"message": "…", "code": N}}`.
    #[error("CrateDB at {via} refused `{stmt}`: {message} (error code {code}, HTTP {http_status})")]
    Sql {
        via: String,
        /// The statement as it may be logged (secrets masked), shortened.
        stmt: String,
        code: i64,
        /// `ExceptionName[message]`, as CrateDB writes it.
        message: String,
        http_status: u16,
    },
    /// CrateDB refused the credentials: HTTP 401 with a plain-text body (CrateDB does not
    /// answer JSON here), e.g. `password authentication failed for user "system"`.
    #[error("CrateDB at {via} refused the credentials (HTTP 401): {message}")]
    Unauthorized { via: String, message: String },
    /// CrateDB refused a JWT (HTTP 401): a static one, or one from a token command that was
    /// refreshed once and refused again. `reason` is CrateDB's text (`jwt authentication failed
    /// for user bob. Reason: The Token has expired on …`).
    #[error("CrateDB refused the token: {reason}")]
    TokenRefused { via: String, reason: String },
    /// No token could be had from the token command: it failed, timed out, or printed
    /// something that is not a usable token. The request was not sent.
    #[error("{detail}")]
    Token { via: String, detail: String },
    /// CrateDB could not be reached, or is shutting down: connection refused, DNS, timeout,
    /// TLS, a broken connection, the Kubernetes pod proxy's 503 for a pod whose container is
    /// not running, a gateway's 502/503/504.
    #[error("cannot reach CrateDB at {via}: {reason}")]
    Unreachable {
        via: String,
        reason: String,
        cause: UnreachableKind,
    },
    /// An answer this client does not understand (not JSON, a missing field, a wrong type).
    #[error("unexpected answer from CrateDB at {via}: {detail}")]
    Protocol { via: String, detail: String },
}

/// What kind of failure, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Sql(SqlErrorKind),
    Unauthorized,
    Unreachable(UnreachableKind),
    Protocol,
}

/// Why CrateDB was not reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnreachableKind {
    /// No connection (refused, DNS, no route, connect timeout); the request was not sent.
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// No response in time; the statement may have run.
    Timeout,
    /// The connection broke; the statement may have run.
    ConnectionLost,
    /// The request could not be built.
    InvalidRequest,
    /// The node is shutting down (decommissioning): it refuses new sessions with a plain-text
    /// 500 `[name][ip:port][sql] disconnected` (docs/cratedb-behaviour.md#a-node-shutting-down).
    /// The statement did not run.
    ShuttingDown,
    /// Something in between answered instead of CrateDB: the Kubernetes API server (a Status
    /// object, e.g. the pod proxy's 503 `error trying to reach service: dial tcp …: connection
    /// refused`, or 404 for a pod that does not exist) or a gateway. `not_forwarded` when the
    /// request certainly did not reach CrateDB (a Status other than 502–504, or one saying it
    /// could not dial the pod).
    Gateway { status: u16, not_forwarded: bool },
}

impl UnreachableKind {
    /// Worth trying again.
    pub fn is_transient(self) -> bool {
        match self {
            UnreachableKind::Connect
            | UnreachableKind::Timeout
            | UnreachableKind::ConnectionLost
            | UnreachableKind::ShuttingDown => true,
            UnreachableKind::Tls | UnreachableKind::InvalidRequest => false,
            UnreachableKind::Gateway { status, .. } => matches!(status, 429 | 502 | 503 | 504),
        }
    }

    /// Whether the request may have reached CrateDB (and a write may have been applied).
    pub fn may_have_executed(self) -> bool {
        match self {
            UnreachableKind::Connect
            | UnreachableKind::Tls
            | UnreachableKind::InvalidRequest
            | UnreachableKind::ShuttingDown => false,
            UnreachableKind::Timeout | UnreachableKind::ConnectionLost => true,
            UnreachableKind::Gateway { not_forwarded, .. } => !not_forwarded,
        }
    }
}

impl From<TransportErrorKind> for UnreachableKind {
    fn from(kind: TransportErrorKind) -> UnreachableKind {
        match kind {
            TransportErrorKind::Connect => UnreachableKind::Connect,
            TransportErrorKind::Tls => UnreachableKind::Tls,
            TransportErrorKind::Timeout => UnreachableKind::Timeout,
            TransportErrorKind::Io => UnreachableKind::ConnectionLost,
            TransportErrorKind::Request => UnreachableKind::InvalidRequest,
        }
    }
}

/// CrateDB's error codes, grouped by what a caller does about them (CrateDB's
/// `HttpErrorStatus.java`, docs/cratedb-behaviour.md#errors; the first three digits of a code are
/// its HTTP status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlErrorKind {
    /// 4000: a syntax error, or an invalid value (CrateDB turns every IllegalArgumentException
    /// into 4000: an unknown node in DECOMMISSION, an unsupported setting, a bad replica range).
    Parse,
    /// 4004: a feature CrateDB does not support.
    Unsupported,
    /// Other 400 codes (40000, 4001–4003, 4005–4008, 40010–40013).
    InvalidStatement,
    /// 4010: the user may not run this statement.
    Unauthorized,
    /// 4011: the user lacks a privilege.
    MissingPrivilege,
    /// 403x: read-only node, closed relation, an operation restricted to some statement types.
    Forbidden,
    /// 4041: unknown relation.
    UnknownRelation,
    /// 4043: unknown column.
    UnknownColumn,
    /// 4045: unknown schema.
    UnknownSchema,
    /// Other 404 codes: unknown partition, repository (4047), snapshot (4048), user, …
    NotFound,
    /// 409x: already exists, duplicate key, version conflict.
    Conflict,
    /// 4290: too many requests (transient).
    TooManyRequests,
    /// 5000: unhandled (also transport errors between nodes: NodeDisconnected, NodeClosed).
    Unhandled,
    /// 5001, 5004, 5006: a task, snapshot or repository verification failed.
    TaskFailed,
    /// 5002, 5033: shards not available (transient while a node restarts).
    ShardsUnavailable,
    /// 5003: the query failed on some shards.
    ShardFailure,
    /// 5005: the job was killed (KILL, or a participating node disconnected; transient).
    JobKilled,
    /// 5030–5035 except 5033: the cluster is unavailable: a cluster block, no master
    /// discovered (5031), no node (5032), cluster event timeout (5034), state not recovered
    /// (5035). Transient.
    ClusterUnavailable,
    /// Anything else.
    Other,
}

impl SqlErrorKind {
    pub fn from_code(code: i64) -> SqlErrorKind {
        match code {
            4000 => SqlErrorKind::Parse,
            4004 => SqlErrorKind::Unsupported,
            4010 => SqlErrorKind::Unauthorized,
            4011 => SqlErrorKind::MissingPrivilege,
            4041 => SqlErrorKind::UnknownRelation,
            4043 => SqlErrorKind::UnknownColumn,
            4045 => SqlErrorKind::UnknownSchema,
            4290 => SqlErrorKind::TooManyRequests,
            5000 => SqlErrorKind::Unhandled,
            5001 | 5004 | 5006 => SqlErrorKind::TaskFailed,
            5002 | 5033 => SqlErrorKind::ShardsUnavailable,
            5003 => SqlErrorKind::ShardFailure,
            5005 => SqlErrorKind::JobKilled,
            5030..=5035 => SqlErrorKind::ClusterUnavailable,
            _ => match http_family(code) {
                Some(400) => SqlErrorKind::InvalidStatement,
                Some(403) => SqlErrorKind::Forbidden,
                Some(404) => SqlErrorKind::NotFound,
                Some(409) => SqlErrorKind::Conflict,
                _ => SqlErrorKind::Other,
            },
        }
    }

    /// Worth trying again (the cluster is recovering, not the statement wrong).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            SqlErrorKind::TooManyRequests
                | SqlErrorKind::ShardsUnavailable
                | SqlErrorKind::JobKilled
                | SqlErrorKind::ClusterUnavailable
        )
    }
}

/// The HTTP status a CrateDB error code belongs to: its first three digits (4041 → 404,
/// 40410 → 404).
fn http_family(code: i64) -> Option<u16> {
    let digits = code.to_string();
    if !(4..=5).contains(&digits.len()) {
        return None;
    }
    digits.get(..3)?.parse().ok()
}

/// Codes that mean a cluster block refused the statement before it ran (no master, state not
/// recovered, service unavailable): a write refused this way was not applied.
pub(crate) fn refused_before_running(code: i64) -> bool {
    matches!(code, 5030 | 5031 | 5035)
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Sql { code, .. } => ErrorKind::Sql(SqlErrorKind::from_code(*code)),
            Error::Unauthorized { .. } | Error::TokenRefused { .. } | Error::Token { .. } => {
                ErrorKind::Unauthorized
            }
            Error::Unreachable { cause, .. } => ErrorKind::Unreachable(*cause),
            Error::Protocol { .. } => ErrorKind::Protocol,
        }
    }

    /// The classification of a CrateDB error code, `None` for other errors.
    pub fn sql_kind(&self) -> Option<SqlErrorKind> {
        match self.kind() {
            ErrorKind::Sql(kind) => Some(kind),
            _ => None,
        }
    }

    /// The CrateDB error code, for [`Error::Sql`].
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Sql { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// What the request went to.
    pub fn via(&self) -> &str {
        match self {
            Error::Sql { via, .. }
            | Error::Unauthorized { via, .. }
            | Error::TokenRefused { via, .. }
            | Error::Token { via, .. }
            | Error::Unreachable { via, .. }
            | Error::Protocol { via, .. } => via,
        }
    }

    /// A failure that may go away by itself (see [`crate::retry`]).
    pub fn is_transient(&self) -> bool {
        match self.kind() {
            ErrorKind::Sql(kind) => kind.is_transient(),
            ErrorKind::Unreachable(kind) => kind.is_transient(),
            ErrorKind::Unauthorized | ErrorKind::Protocol => false,
        }
    }

    /// Whether the statement may have run (so a write may have been applied). `false` only
    /// when it certainly did not.
    pub fn may_have_executed(&self) -> bool {
        match self {
            Error::Sql { code, .. } => !refused_before_running(*code),
            Error::Unreachable { cause, .. } => cause.may_have_executed(),
            // Authentication happens before any statement runs.
            Error::Unauthorized { .. } | Error::TokenRefused { .. } | Error::Token { .. } => false,
            Error::Protocol { .. } => true,
        }
    }

    pub(crate) fn unreachable(via: &str, e: &TransportError, scrub: &Scrubber) -> Error {
        Error::Unreachable {
            via: via.to_string(),
            reason: scrub.apply(&e.detail),
            cause: e.kind.into(),
        }
    }

    pub(crate) fn protocol(via: &str, detail: impl Into<String>) -> Error {
        Error::Protocol {
            via: via.to_string(),
            detail: detail.into(),
        }
    }
}

/// Classifies a non-2xx answer (`stmt` is the loggable statement, empty for `GET /`).
pub(crate) fn from_failed_response(
    via: &str,
    stmt: &str,
    response: &http::Response<Vec<u8>>,
    scrub: &Scrubber,
) -> Error {
    let status = response.status().as_u16();
    let body = response.body();
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        // CrateDB's error shape.
        let error = json.get("error");
        if let (Some(code), Some(message)) = (
            error.and_then(|e| e.get("code")).and_then(Value::as_i64),
            error.and_then(|e| e.get("message")).and_then(Value::as_str),
        ) {
            return Error::Sql {
                via: via.to_string(),
                stmt: stmt.to_string(),
                code,
                message: scrub.apply(message),
                http_status: status,
            };
        }
        // The Kubernetes API server answered (pod proxy): a Status object.
        if json.get("kind").and_then(Value::as_str) == Some("Status") {
            let message = json
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let reason = json.get("reason").and_then(Value::as_str).unwrap_or("");
            // The API server answered itself: it forwarded nothing unless the pod's answer
            // was a gateway error (it then may have). A 503 that says it could not dial the
            // pod forwarded nothing either.
            let not_forwarded = !matches!(status, 502..=504)
                || message.contains("dial ")
                || message.contains("connection refused");
            return Error::Unreachable {
                via: via.to_string(),
                reason: format!(
                    "the Kubernetes API answered {status} {reason}: {}",
                    scrub.apply(&message)
                ),
                cause: UnreachableKind::Gateway {
                    status,
                    not_forwarded,
                },
            };
        }
    }
    let text = scrub.snippet(body);
    if status == 401 {
        return Error::Unauthorized {
            via: via.to_string(),
            message: text,
        };
    }
    if status == 500 && text.starts_with('[') && text.ends_with("[sql] disconnected") {
        return Error::Unreachable {
            via: via.to_string(),
            reason: format!("the node is shutting down and refuses new sessions: {text}"),
            cause: UnreachableKind::ShuttingDown,
        };
    }
    if matches!(status, 429 | 502 | 503 | 504) {
        return Error::Unreachable {
            via: via.to_string(),
            reason: format!("HTTP {status} from a gateway, not CrateDB: {text}"),
            cause: UnreachableKind::Gateway {
                status,
                not_forwarded: false,
            },
        };
    }
    Error::protocol(
        via,
        format!("HTTP {status} with a body that is not CrateDB's error: {text}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify_by_kind_and_family() {
        use SqlErrorKind::*;
        for (code, kind) in [
            (4000, Parse),
            (4004, Unsupported),
            (4008, InvalidStatement),
            (40013, InvalidStatement),
            (4010, Unauthorized),
            (4011, MissingPrivilege),
            (4031, Forbidden),
            (4041, UnknownRelation),
            (4043, UnknownColumn),
            (4045, UnknownSchema),
            (4047, NotFound),
            (40410, NotFound),
            (4093, Conflict),
            (40911, Conflict),
            (4290, TooManyRequests),
            (5000, Unhandled),
            (5002, ShardsUnavailable),
            (5033, ShardsUnavailable),
            (5005, JobKilled),
            (5031, ClusterUnavailable),
            (5035, ClusterUnavailable),
            (1234, Other),
        ] {
            assert_eq!(SqlErrorKind::from_code(code), kind, "{code}");
        }
        assert!(!Parse.is_transient() && !Unhandled.is_transient());
        assert!(ClusterUnavailable.is_transient() && ShardsUnavailable.is_transient());
    }

    fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
        let mut r = http::Response::new(body.as_bytes().to_vec());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        r
    }

    #[test]
    fn failed_responses_are_told_apart() {
        let s = Scrubber::new(vec!["hunter2".into()]);
        let e = from_failed_response(
            "x",
            "SELECT 1",
            &response(
                404,
                r#"{"error":{"message":"RelationUnknown[Relation 't' unknown]","code":4041}}"#,
            ),
            &s,
        );
        assert_eq!(e.kind(), ErrorKind::Sql(SqlErrorKind::UnknownRelation));
        let e = from_failed_response(
            "x",
            "",
            &response(
                503,
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503,
                    "message":"error trying to reach service: dial tcp 10.0.0.1:4200: connect: connection refused"}"#,
            ),
            &s,
        );
        assert_eq!(
            e.kind(),
            ErrorKind::Unreachable(UnreachableKind::Gateway {
                status: 503,
                not_forwarded: true
            })
        );
        assert!(e.is_transient() && !e.may_have_executed());
        let e = from_failed_response(
            "x",
            "",
            &response(
                401,
                "password authentication failed for user \"system\" hunter2\n",
            ),
            &s,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = from_failed_response(
            "x",
            "",
            &response(500, "[data-hot-1][10.0.0.2:4300][sql] disconnected\n"),
            &s,
        );
        assert_eq!(e.kind(), ErrorKind::Unreachable(UnreachableKind::ShuttingDown));
        let e = from_failed_response("x", "", &response(502, "<html>bad gateway</html>"), &s);
        assert!(e.is_transient() && e.may_have_executed());
        let e = from_failed_response("x", "", &response(500, "oops"), &s);
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }
}
