//! Who operates a cluster right now, as every command decides it: the cluster's cratectl Lease
//! (`cratectl-<resource>`, held by the workflow of the operation that works on it) and the
//! crate-operator's `dc-util-routing-owner` label, which dc_util honours only when it names the
//! operator and is fresh. `cluster list`, `cluster info`, `doctor` and the refusal of a second
//! operation all read a Lease through [`LeaseReading::holder_at`].

use jiff::{SignedDuration, Timestamp};

/// The label the operator and dc_util use to agree who owns `cluster.routing.allocation.enable`.
pub const ROUTING_OWNER_LABEL: &str = "dc-util-routing-owner";

/// How long dc_util honours a routing-owner label (either side of now; crate/crate-operator,
/// `utils/dc_util/dc_util.go`, `routingOwnerTTL`).
pub const ROUTING_OWNER_MAX_AGE: SignedDuration = SignedDuration::from_hours(2);

/// The only owner dc_util honours in a routing-owner label (crate/crate-operator,
/// `utils/dc_util/dc_util.go`, `routingOwnerOperator`).
pub const ROUTING_OWNER_OPERATOR: &str = "operator";

/// A `coordination.k8s.io/v1` Lease, as far as the rules care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseReading {
    pub name: String,
    /// `spec.holderIdentity` (`None` or empty: released).
    pub holder: Option<String>,
    /// `spec.renewTime`.
    pub renew_time: Option<Timestamp>,
    /// `spec.leaseDurationSeconds`.
    pub lease_duration_seconds: Option<i64>,
}

impl LeaseReading {
    /// When the Lease lapses unless renewed: renew time plus duration; `None` when either is
    /// missing (such a Lease never lapses by itself).
    pub fn expires_at(&self) -> Option<Timestamp> {
        let renewed = self.renew_time?;
        let seconds = self.lease_duration_seconds?;
        renewed.checked_add(SignedDuration::from_secs(seconds)).ok()
    }

    /// Held by someone and not lapsed at `now` (a Lease without expiry counts as held).
    pub fn held_at(&self, now: Timestamp) -> bool {
        self.holder_at(now).is_some()
    }

    /// Who holds the Lease at `now`: its holder when one is set (not empty) and the Lease has
    /// not lapsed (one without expiry has not). `cluster list`, `cluster info`, the restart's
    /// refusal and doctor all ask this.
    pub fn holder_at(&self, now: Timestamp) -> Option<&str> {
        self.holder
            .as_deref()
            .filter(|h| !h.is_empty())
            .filter(|_| self.expires_at().is_none_or(|expiry| expiry > now))
    }
}

/// `operator-1712345678` → (`operator`, that instant), read as dc_util reads it: split at the
/// first `-`, the rest a decimal number of seconds (Go's `strconv.ParseInt`, so a sign is
/// allowed). `None` when that fails, the owner is empty or the instant is out of range.
pub fn parse_routing_owner(value: &str) -> Option<(&str, Timestamp)> {
    let (owner, seconds) = value.split_once('-')?;
    if owner.is_empty() {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    Timestamp::from_second(seconds).ok().map(|at| (owner, at))
}

/// Whether dc_util honours the routing-owner label `value` at `now`, leaving
/// `cluster.routing.allocation.enable` alone: the owner is exactly `operator` and the time at most
/// 2 h from now, either way (crate/crate-operator, `utils/dc_util/dc_util.go`,
/// `operatorOwnsRoutingAllocation`).
pub fn dc_util_honours(value: &str, now: Timestamp) -> bool {
    fresh_owner_age(value, now).is_some()
}

/// The age of a routing-owner label when dc_util would honour it.
pub fn fresh_owner_age(value: &str, now: Timestamp) -> Option<SignedDuration> {
    let (owner, at) = parse_routing_owner(value)?;
    if owner != ROUTING_OWNER_OPERATOR {
        return None;
    }
    let age = now.duration_since(at);
    (age.abs() <= ROUTING_OWNER_MAX_AGE).then_some(age)
}
