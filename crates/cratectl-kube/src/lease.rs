//! The Lease cratectl takes per cluster as its operation lock (ARCHITECTURE §1.6): named
//! `cratectl-<resource>` in the cluster's namespace and labelled as managed by cratectl, so one
//! list call finds them all. This module reads them; taking and releasing them belongs to the
//! operations that need the lock.

use cratectl_core::doctor::LeaseReading;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::ResourceExt;
use serde::Serialize;

/// The value of `app.kubernetes.io/managed-by` on cratectl's Leases.
pub const MANAGER: &str = "cratectl";

/// The Lease name for the cluster whose resource is `resource`.
pub fn lease_name(resource: &str) -> String {
    format!("cratectl-{resource}")
}

/// What a Lease says about who holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaseInfo {
    pub name: String,
    /// `spec.holderIdentity` (for cratectl: the workflow id).
    pub holder: Option<String>,
    pub acquired_at: Option<Timestamp>,
    pub renewed_at: Option<Timestamp>,
    pub duration_s: Option<i32>,
}

impl LeaseInfo {
    /// As the pure rules read it (`cratectl_core::doctor::LeaseReading`): the renew time, else
    /// the acquire time, as the last sign of life.
    pub fn reading(&self) -> LeaseReading {
        LeaseReading {
            name: self.name.clone(),
            holder: self.holder.clone(),
            renew_time: self.renewed_at.or(self.acquired_at),
            lease_duration_seconds: self.duration_s.map(i64::from),
        }
    }

    /// When the Lease lapses unless renewed.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.reading().expires_at()
    }

    /// Held by someone, and not lapsed at `now`.
    pub fn held_at(&self, now: Timestamp) -> bool {
        self.reading().held_at(now)
    }
}

fn timestamp(t: &MicroTime) -> Option<Timestamp> {
    Timestamp::from_nanosecond(t.0.as_nanosecond()).ok()
}

/// Reads a Lease object.
pub fn lease_info(lease: &Lease) -> LeaseInfo {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseInfo {
        name: lease.name_any(),
        holder: spec.holder_identity,
        acquired_at: spec.acquire_time.as_ref().and_then(timestamp),
        renewed_at: spec.renew_time.as_ref().and_then(timestamp),
        duration_s: spec.lease_duration_seconds,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn info(holder: Option<&str>, renewed: Option<&str>, duration: Option<i32>) -> LeaseInfo {
        LeaseInfo {
            name: "cratectl-a".into(),
            holder: holder.map(str::to_string),
            acquired_at: None,
            renewed_at: renewed.map(|t| t.parse().unwrap()),
            duration_s: duration,
        }
    }

    #[test]
    fn held_until_it_lapses() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        assert!(info(Some("restart-a-1"), Some("2026-01-01T00:00:30Z"), Some(60)).held_at(now));
        assert!(!info(Some("restart-a-1"), Some("2026-01-01T00:00:00Z"), Some(60)).held_at(now));
        assert!(!info(None, Some("2026-01-01T00:00:30Z"), Some(60)).held_at(now));
        assert!(!info(Some(""), None, None).held_at(now));
        assert!(info(Some("x"), None, None).held_at(now), "no duration: held");
    }
}
