//! Retries with exponential backoff, for transient failures only.
//!
//! # What is transient
//!
//! * **Not reached**: connection refused, DNS, no route, connect timeout; a broken connection;
//!   a request timeout; a node shutting down (its plain-text 500 `[…][sql] disconnected`,
//!   docs/cratedb-behaviour.md#a-node-shutting-down); the Kubernetes pod proxy's or a
//!   gateway's 429, 502, 503, 504 (the pod proxy answers 503 for a pod whose container is not
//!   running).
//! * **CrateDB says "try again"**: 4290 (too many requests), 5002 and 5033 (shards not
//!   available, while a node restarts), 5005 (job killed because a participating node
//!   disconnected), 5030–5035 (cluster blocks: no master discovered, state not recovered,
//!   no node, cluster event timeout).
//!
//! Never retried: every 4xxx code (the statement is wrong or not allowed: retrying cannot fix
//! it), 401 (wrong credentials; retrying risks a lockout and changes nothing), 5000 (unhandled:
//! usually not transient, and callers that poll will ask again anyway), 5001, 5003, 5004, 5006,
//! TLS failures, and answers this client does not understand.
//!
//! # Writes
//!
//! Retrying a statement that may already have run can apply it twice. So whether a transient
//! failure is retried also depends on [`Idempotency`]:
//!
//! * [`Idempotency::Idempotent`] (reads; writes that set an absolute value, like `SET GLOBAL
//!   TRANSIENT … = 'primaries'`; `GET /`): every transient failure is retried.
//! * [`Idempotency::NotIdempotent`] (the default of [`crate::Client::sql`]): retried only when
//!   the statement **certainly did not run**: no connection was made, TLS failed, the node
//!   refused the session because it is shutting down, the pod proxy reports that it could not
//!   dial the pod, or a cluster block refused the statement (5030, 5031, 5035). A timeout, a
//!   broken connection, a gateway 502/504 and 5002/5005/5034 are returned to the caller, who
//!   must look at the cluster before trying again.
//!
//! Delays double from [`RetryPolicy::initial_backoff`] up to [`RetryPolicy::max_backoff`],
//! without jitter (one client per cluster: there is no herd to spread), and are slept with
//! `tokio::time::sleep`, so tests under tokio's paused clock do not wait.

use std::time::Duration;

use crate::error::Error;

/// Whether a statement may run twice without harm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Idempotency {
    Idempotent,
    NotIdempotent,
}

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 = no retries; 0 counts as 1).
    pub max_attempts: u32,
    /// The delay before the second attempt.
    pub initial_backoff: Duration,
    /// The longest delay between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 250 ms doubling to at most 4 s (at most 250+500+1000+2000 ms of waiting).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay after failed attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Whether to try again after `error` on attempt `attempt` (1-based).
    pub fn should_retry(&self, error: &Error, idempotency: Idempotency, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
            && error.is_transient()
            && (idempotency == Idempotency::Idempotent || !error.may_have_executed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UnreachableKind;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let delays: Vec<u64> = (1..=7).map(|a| p.backoff(a).as_millis() as u64).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(p.backoff(200), Duration::from_secs(4));
    }

    fn unreachable(cause: UnreachableKind) -> Error {
        Error::Unreachable {
            via: "x".into(),
            reason: "r".into(),
            cause,
        }
    }

    fn sql(code: i64) -> Error {
        Error::Sql {
            via: "x".into(),
            stmt: "s".into(),
            code,
            message: "m".into(),
            http_status: 500,
        }
    }

    #[test]
    fn writes_are_retried_only_when_they_certainly_did_not_run() {
        use Idempotency::*;
        let p = RetryPolicy::default();
        let refused = unreachable(UnreachableKind::Connect);
        let timeout = unreachable(UnreachableKind::Timeout);
        assert!(p.should_retry(&refused, NotIdempotent, 1));
        assert!(!p.should_retry(&timeout, NotIdempotent, 1));
        assert!(p.should_retry(&timeout, Idempotent, 1));
        assert!(p.should_retry(&sql(5031), NotIdempotent, 1));
        assert!(!p.should_retry(&sql(5002), NotIdempotent, 1));
        assert!(p.should_retry(&sql(5002), Idempotent, 1));
        assert!(!p.should_retry(&sql(4041), Idempotent, 1));
        assert!(!p.should_retry(&sql(5000), Idempotent, 1));
        assert!(!p.should_retry(&refused, Idempotent, 5), "attempts are bounded");
        assert!(!RetryPolicy::none().should_retry(&refused, Idempotent, 1));
    }
}
