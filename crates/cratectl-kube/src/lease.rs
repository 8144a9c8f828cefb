//! The Lease cratectl takes per cluster as its operation lock (ARCHITECTURE §1.6): named
//! `cratectl-<resource>` in the cluster's namespace and labelled as managed by cratectl, so one
//! list call finds them all. The workflow id of the operation is the holder, so two machines
//! running operations on the same cluster exclude each other, and a crashed one that resumes
//! finds its own name there and simply carries on.
//!
//! Writes use the API server's optimistic concurrency: create when absent, else replace with the
//! resourceVersion just read. Two cratectl processes racing for the same Lease therefore cannot
//! both win: the loser's write is a 409 Conflict, and it reads again and decides again (a few
//! times, then gives up with an error). Expiry is judged by the one rule in
//! `cratectl_core::doctor::LeaseReading`, against this machine's clock.

use std::time::Duration;

use cratectl_core::doctor::LeaseReading;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use serde::{Deserialize, Serialize};

use crate::config::Kube;
use crate::error::KubeError;

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

    /// Who holds it at `now` (`LeaseReading::holder_at`): the holder, unless the Lease is
    /// released (no or an empty holder) or lapsed.
    pub fn holder_at(&self, now: Timestamp) -> Option<String> {
        self.reading().holder_at(now).map(str::to_string)
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

/// What taking (or renewing) the lock came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acquire {
    /// The holder has the lock until `duration` from now.
    Acquired,
    /// Someone else holds it and it has not lapsed: the operation must not start (or, when
    /// renewing, must stop disrupting: the lock was lost).
    HeldBy {
        holder: String,
        /// When it lapses unless renewed; `None`: never by itself.
        expires_at: Option<Timestamp>,
    },
}

/// How many times a lock operation reads and decides again after losing a race (a 409 on its
/// write, or the Lease vanishing between read and write) before it reports an error. Real
/// contention is two or three processes, so a few rounds settle it.
const RACE_ATTEMPTS: u32 = 5;

/// `leaseDurationSeconds` for `duration`: whole seconds, rounded up (a lock must never be
/// shorter than asked), at least one.
fn lease_seconds(duration: Duration) -> i32 {
    let seconds = duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0));
    i32::try_from(seconds).unwrap_or(i32::MAX).max(1)
}

/// `t` as a Lease's MicroTime (k8s-openapi carries its own jiff version).
fn micro_time(t: Timestamp) -> Result<MicroTime, KubeError> {
    k8s_openapi::jiff::Timestamp::from_nanosecond(t.as_nanosecond())
        .map(MicroTime)
        .map_err(|e| KubeError::Unexpected {
            what: format!("writing the time {t} into a Lease"),
            reason: e.to_string(),
        })
}

/// The Lease as `holder` wants it written: from `current` (keeping its metadata, above all the
/// resourceVersion the replace is conditional on) or new. Renewing our own Lease keeps its
/// acquire time; taking over someone else's lapsed one starts a new tenure, counted in
/// `leaseTransitions` as client-go's leader election does.
fn claimed(
    current: Option<Lease>,
    name: &str,
    holder: &str,
    now: Timestamp,
    duration: Duration,
) -> Result<Lease, KubeError> {
    let mut lease = current.unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: None,
    });
    lease
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("app.kubernetes.io/managed-by".into(), MANAGER.into());
    let previous = lease.spec.take().unwrap_or_default();
    let ours = previous.holder_identity.as_deref() == Some(holder);
    let had_holder = previous.holder_identity.as_deref().is_some_and(|h| !h.is_empty());
    let now_micro = micro_time(now)?;
    let acquire_time = match (&previous.acquire_time, ours) {
        (Some(t), true) => Some(t.clone()),
        _ => Some(now_micro.clone()),
    };
    let transitions = previous.lease_transitions.unwrap_or(0);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(lease_seconds(duration)),
        acquire_time,
        renew_time: Some(now_micro),
        lease_transitions: Some(if had_holder && !ours {
            transitions.saturating_add(1)
        } else {
            transitions
        }),
        ..previous
    });
    Ok(lease)
}

/// Whether `error` means another writer got there first: a 409 (stale resourceVersion on
/// replace, AlreadyExists on create) or a 404 (deleted between our read and our write).
fn lost_race(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 || status.code == 404)
}

/// Takes or renews the lock; `renewing` only changes what is logged when the Lease had to be
/// taken anew.
async fn claim(
    kube: &Kube,
    namespace: &str,
    resource: &str,
    holder: &str,
    duration: Duration,
    renewing: bool,
) -> Result<Acquire, KubeError> {
    let name = lease_name(resource);
    let api: Api<Lease> = Api::namespaced(kube.client.clone(), namespace);
    let what = format!("taking Lease {namespace}/{name} for {holder}");
    for _ in 0..RACE_ATTEMPTS {
        let current = api
            .get_opt(&name)
            .await
            .map_err(|e| KubeError::api(format!("reading Lease {namespace}/{name}"), &kube.context, e))?;
        let now = Timestamp::now();
        let written = match current {
            None => {
                if renewing {
                    tracing::warn!(lease = %name, holder, "the Lease was gone when renewing it: taken again");
                }
                let lease = claimed(None, &name, holder, now, duration)?;
                api.create(&PostParams::default(), &lease).await
            }
            Some(lease) => {
                let info = lease_info(&lease);
                let ours = info.holder.as_deref() == Some(holder);
                if !ours && info.held_at(now) {
                    let expires_at = info.expires_at();
                    return Ok(Acquire::HeldBy {
                        holder: info.holder.unwrap_or_default(),
                        expires_at,
                    });
                }
                if renewing && !ours {
                    tracing::warn!(lease = %name, holder, previous = ?info.holder, "the Lease was free or lapsed when renewing it: taken again");
                }
                let lease = claimed(Some(lease), &name, holder, now, duration)?;
                api.replace(&name, &PostParams::default(), &lease).await
            }
        };
        match written {
            Ok(_) => return Ok(Acquire::Acquired),
            Err(error) if lost_race(&error) => {
                tracing::debug!(lease = %name, holder, %error, "lost a race for the Lease: reading it again");
            }
            Err(error) => return Err(KubeError::api(what, &kube.context, error)),
        }
    }
    Err(KubeError::Unexpected {
        what: format!("{what} ({})", kube.context),
        reason: format!(
            "it changed between every read and write ({RACE_ATTEMPTS} attempts): another process is taking it at the same time; try again"
        ),
    })
}

/// Takes the cluster's lock for `holder` for `duration`: when the Lease does not exist, has no
/// holder, has lapsed (`LeaseReading::held_at`, against this machine's clock), or is already
/// `holder`'s (then it is renewed, so a re-run after a crash gets its own lock back). Otherwise
/// `HeldBy`, naming the holder and when its claim lapses.
pub async fn acquire_lease(
    kube: &Kube,
    namespace: &str,
    resource: &str,
    holder: &str,
    duration: Duration,
) -> Result<Acquire, KubeError> {
    claim(kube, namespace, resource, holder, duration, false).await
}

/// Renews `holder`'s lock (renewTime = now, for `duration` more). The outcome is read as for
/// [`acquire_lease`]: `HeldBy` when someone else holds it now, which means this holder lost it
/// (it lapsed and was taken) and must stop disrupting. A Lease found gone or lapsed and free is
/// taken again, with a warning: nobody else holds it, so the lock still excludes the others.
pub async fn renew_lease(
    kube: &Kube,
    namespace: &str,
    resource: &str,
    holder: &str,
    duration: Duration,
) -> Result<Acquire, KubeError> {
    claim(kube, namespace, resource, holder, duration, true).await
}

/// Releases `holder`'s lock by deleting the Lease, if and only if `holder` holds it (lapsed or
/// not: nobody else took it). The delete is conditional on the uid and resourceVersion just read,
/// so a Lease someone took over in between is never deleted. Returns whether it deleted it:
/// `false` when there was no Lease or another holder has it (left untouched).
pub async fn release_lease(
    kube: &Kube,
    namespace: &str,
    resource: &str,
    holder: &str,
) -> Result<bool, KubeError> {
    let name = lease_name(resource);
    let api: Api<Lease> = Api::namespaced(kube.client.clone(), namespace);
    for _ in 0..RACE_ATTEMPTS {
        let Some(lease) = api
            .get_opt(&name)
            .await
            .map_err(|e| KubeError::api(format!("reading Lease {namespace}/{name}"), &kube.context, e))?
        else {
            return Ok(false);
        };
        if lease_info(&lease).holder.as_deref() != Some(holder) {
            return Ok(false);
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: lease.uid(),
                resource_version: lease.resource_version(),
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(false),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::debug!(lease = %name, holder, "the Lease changed before the release: reading it again");
            }
            Err(error) => {
                return Err(KubeError::api(
                    format!("releasing Lease {namespace}/{name} held by {holder}"),
                    &kube.context,
                    error,
                ));
            }
        }
    }
    Err(KubeError::Unexpected {
        what: format!(
            "releasing Lease {namespace}/{name} held by {holder} ({})",
            kube.context
        ),
        reason: format!(
            "it changed between every read and delete ({RACE_ATTEMPTS} attempts): another process is writing it; try again"
        ),
    })
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

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(lease_seconds(Duration::from_secs(60)), 60);
        assert_eq!(lease_seconds(Duration::from_millis(60_001)), 61);
        assert_eq!(lease_seconds(Duration::ZERO), 1);
        assert_eq!(lease_seconds(Duration::from_secs(u64::MAX)), i32::MAX);
    }

    #[test]
    fn renewing_keeps_the_tenure_and_taking_over_starts_a_new_one() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:05:00.123456Z".parse().unwrap();
        let fresh = claimed(None, "cratectl-a", "w1", t0, Duration::from_secs(60)).unwrap();
        assert_eq!(fresh.labels()["app.kubernetes.io/managed-by"], "cratectl");
        let info = lease_info(&fresh);
        assert_eq!(
            (info.holder.as_deref(), info.acquired_at, info.renewed_at),
            (Some("w1"), Some(t0), Some(t0))
        );
        assert_eq!(fresh.spec.as_ref().unwrap().lease_transitions, Some(0));

        let renewed = claimed(
            Some(fresh.clone()),
            "cratectl-a",
            "w1",
            t1,
            Duration::from_secs(90),
        )
        .unwrap();
        let info = lease_info(&renewed);
        assert_eq!(
            (info.acquired_at, info.renewed_at, info.duration_s),
            (Some(t0), Some(t1), Some(90))
        );
        assert_eq!(renewed.spec.as_ref().unwrap().lease_transitions, Some(0));

        let taken = claimed(Some(fresh), "cratectl-a", "w2", t1, Duration::from_secs(60)).unwrap();
        let info = lease_info(&taken);
        assert_eq!((info.holder.as_deref(), info.acquired_at), (Some("w2"), Some(t1)));
        assert_eq!(taken.spec.as_ref().unwrap().lease_transitions, Some(1));
    }
}
