//! Workflow ids of an operation: one for the request, one per cluster it works on.
//!
//! Ids are how an operation is found again (`status`, `cancel`, the Kubernetes Lease's holder),
//! and how the engine refuses a duplicate, so they are derived from the request and never
//! random. They start with the operation's kind ([`OperationKind`]), so an id says what it is:
//!
//! * a request for one cluster is `<kind>-<cluster>-<UTC timestamp>`
//!   (`restart-prod-20261206T071500Z`);
//! * a request for several is `<kind>-<UTC timestamp>-<number of clusters>`
//!   (`restart-20261206T071500Z-3`);
//! * each cluster's child workflow is `<request id>.<namespace>.<cluster>`. The child holds the
//!   cluster's Lease, so this is the id `doctor` and `cluster list` show as its holder;
//!   `status` accepts it as well as the request's.
//!
//! The timestamp is the request's start in UTC, to the second, in ISO 8601 basic form
//! (`20261206T071500Z`): sortable, and free of `:` so it is safe in names.
//!
//! duroxide names sub-orchestrations `<parent>::sub::<n>`, so an id of ours must never contain
//! `::sub::` nor start with `sub::`. Kubernetes names cannot contain `:`, but a cluster name from
//! `spec.cluster.name` could; every part is therefore written with `%` as `%25` and `:` as `%3A`.
//! The encoding is injective, leaves ordinary names unchanged, and makes `:` impossible in a
//! result.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What an operation does; the first part of its ids and the `"operation"` of its report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Restart,
    Scale,
    Restore,
    Suspend,
    Resume,
}

impl OperationKind {
    pub const ALL: [OperationKind; 5] = [
        OperationKind::Restart,
        OperationKind::Scale,
        OperationKind::Restore,
        OperationKind::Suspend,
        OperationKind::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Restart => "restart",
            OperationKind::Scale => "scale",
            OperationKind::Restore => "restore",
            OperationKind::Suspend => "suspend",
            OperationKind::Resume => "resume",
        }
    }

    /// The kind an id of ours starts with (`restart-prod-20261206T071500Z` → restart).
    pub fn of_id(id: &str) -> Option<OperationKind> {
        let (prefix, _) = id.split_once('-')?;
        OperationKind::ALL.into_iter().find(|k| k.as_str() == prefix)
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request's start as `20261206T071500Z` (UTC, whole seconds).
pub fn utc_basic(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The workflow id of a `kind` request started at `at` for `clusters` (see the module
/// documentation): `<kind>-<cluster>-<ts>` for one cluster, `<kind>-<ts>-<n>` otherwise.
pub fn request_id(kind: OperationKind, clusters: &[String], at: Timestamp) -> String {
    let stamp = utc_basic(at);
    match clusters {
        [one] => format!("{kind}-{}-{stamp}", encode(one)),
        many => format!("{kind}-{stamp}-{}", many.len()),
    }
}

/// The workflow id of one cluster's part of request `request_id`:
/// `<request_id>.<namespace>.<cluster>`.
///
/// Namespaces are DNS labels (no `.`), so for one request the id tells the (namespace, cluster)
/// pair apart even when the cluster's name contains dots.
pub fn child_id(request_id: &str, namespace: &str, cluster: &str) -> String {
    format!("{}.{}.{}", encode(request_id), encode(namespace), encode(cluster))
}

/// The request id whose child workflow for cluster `cluster` in `namespace` is `child` (the
/// inverse of [`child_id`]; this is what `cratectl status` takes), or `None` when `child` is
/// not such an id.
pub fn request_of_child(child: &str, namespace: &str, cluster: &str) -> Option<String> {
    let encoded = child.strip_suffix(&format!(".{}.{}", encode(namespace), encode(cluster)))?;
    let request = decode(encoded)?;
    (!request.is_empty()).then_some(request)
}

/// The inverse of [`encode`]; `None` for a `%` that `encode` does not write.
fn decode(part: &str) -> Option<String> {
    let mut out = String::with_capacity(part.len());
    let mut rest = part;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        if let Some(after) = escape.strip_prefix("%25") {
            out.push('%');
            rest = after;
        } else if let Some(after) = escape.strip_prefix("%3A") {
            out.push(':');
            rest = after;
        } else {
            return None;
        }
    }
    out.push_str(rest);
    Some(out)
}

/// `%` → `%25`, `:` → `%3A`; everything else as it is.
fn encode(part: &str) -> String {
    if !part.contains(['%', ':']) {
        return part.to_string();
    }
    let mut out = String::with_capacity(part.len() + 8);
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at() -> Timestamp {
        "2026-12-06T07:15:00.750Z".parse().unwrap()
    }

    #[test]
    fn one_cluster_names_it() {
        assert_eq!(
            request_id(OperationKind::Restart, &["prod".to_string()], at()),
            "restart-prod-20261206T071500Z"
        );
    }

    #[test]
    fn several_clusters_are_counted() {
        let clusters = ["a", "b", "c"].map(String::from);
        assert_eq!(
            request_id(OperationKind::Restart, &clusters, at()),
            "restart-20261206T071500Z-3"
        );
        assert_eq!(
            request_id(OperationKind::Restart, &[], at()),
            "restart-20261206T071500Z-0"
        );
    }

    #[test]
    fn the_kind_starts_the_id_and_is_read_back() {
        for kind in OperationKind::ALL {
            let id = request_id(kind, &["prod-eu".to_string()], at());
            assert_eq!(id, format!("{kind}-prod-eu-20261206T071500Z"));
            assert_eq!(OperationKind::of_id(&id), Some(kind));
            assert_eq!(OperationKind::of_id(&child_id(&id, "ns", "prod-eu")), Some(kind));
        }
        assert_eq!(OperationKind::of_id("upgrade-prod-20261206T071500Z"), None);
        assert_eq!(OperationKind::of_id("restart"), None);
    }

    #[test]
    fn timestamp_is_utc_whatever_the_input_offset() {
        let at: Timestamp = "2026-12-06T08:15:00+01:00".parse().unwrap();
        assert_eq!(utc_basic(at), "20261206T071500Z");
    }

    #[test]
    fn child_ids() {
        assert_eq!(
            child_id("restart-20261206T071500Z-3", "crate", "prod-eu"),
            "restart-20261206T071500Z-3.crate.prod-eu"
        );
        assert_eq!(child_id("r", "ns", "a.b"), "r.ns.a.b");
    }

    #[test]
    fn colons_cannot_form_duroxide_sub_ids() {
        let id = child_id("sub::x", "ns", "a::sub::1");
        assert_eq!(id, "sub%3A%3Ax.ns.a%3A%3Asub%3A%3A1");
        assert!(!id.contains("::sub::") && !id.starts_with("sub::"));
        assert_eq!(
            request_id(OperationKind::Restart, &["a:b%".to_string()], at()),
            "restart-a%3Ab%25-20261206T071500Z"
        );
    }

    #[test]
    fn child_ids_lead_back_to_their_request() {
        let request = "restart-prod-20261206T071500Z";
        let child = child_id(request, "db", "prod");
        assert_eq!(child, "restart-prod-20261206T071500Z.db.prod");
        assert_eq!(request_of_child(&child, "db", "prod").as_deref(), Some(request));
        assert_eq!(request_of_child(&child, "db", "other"), None);
        assert_eq!(request_of_child(&child, "other", "prod"), None);
        assert_eq!(request_of_child(request, "db", "prod"), None);
        assert_eq!(request_of_child(".db.prod", "db", "prod"), None);
        assert_eq!(request_of_child("a%zz.db.prod", "db", "prod"), None);
        let odd = child_id("restart-a:b%-x", "db", "a:b");
        assert_eq!(
            request_of_child(&odd, "db", "a:b").as_deref(),
            Some("restart-a:b%-x")
        );
    }

    proptest! {
        #[test]
        fn ids_never_look_like_sub_orchestrations(
            request in ".{0,20}", namespace in "[a-z0-9:-]{0,12}", cluster in ".{0,20}"
        ) {
            let id = child_id(&request, &namespace, &cluster);
            prop_assert!(!id.contains(':'));
            let rid = request_id(OperationKind::Scale, std::slice::from_ref(&cluster), at());
            prop_assert!(!rid.contains(':'));
        }

        #[test]
        fn the_request_comes_back_from_a_child_id(
            request in ".{1,20}", namespace in "[a-z0-9-]{1,12}", cluster in ".{0,20}"
        ) {
            let child = child_id(&request, &namespace, &cluster);
            prop_assert_eq!(request_of_child(&child, &namespace, &cluster), Some(request));
        }

        #[test]
        fn encoding_is_injective(a in "[a:%2-5A]{0,8}", b in "[a:%2-5A]{0,8}") {
            prop_assume!(a != b);
            prop_assert_ne!(encode(&a), encode(&b));
        }
    }
}
