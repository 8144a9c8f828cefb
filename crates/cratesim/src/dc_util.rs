//! What the crate-operator's `dc_util` does to `cluster.routing.allocation.enable` from a pod's
//! lifecycle hooks, as the kubelet ([`crate::controllers`]) runs them. The rules are upstream's
//! (crate/crate-operator, `utils/dc_util/dc_util.go`):
//!
//! * **Ownership** (`operatorOwnsRoutingAllocation`): dc_util keeps its hands off the setting only
//!   while the pod's StatefulSet carries `dc-util-routing-owner=<owner>-<unix seconds>` whose
//!   value, split at its *first* `-`, has the owner exactly `operator` (`routingOwnerOperator`)
//!   and a timestamp (Go's `strconv.ParseInt`: decimal, optional sign) at most two hours from
//!   now, either way (`routingOwnerTTL`). A missing label, any other owner (`cratectl-…`,
//!   `someone-else-…`), a malformed value or a stale one: dc_util owns the setting.
//! * **preStop** (`run`, `shouldSetPreStopRoutingAllocation`): when dc_util owns the setting and
//!   the StatefulSet's pod template has a postStart hook running dc_util with `--reset-routing`
//!   (`hasPostStartHookWithResetRouting`), it sends
//!   `SET GLOBAL TRANSIENT "cluster.routing.allocation.enable" = '<value>'` to its own node
//!   before decommissioning (`<value>` from the StatefulSet label
//!   `dc-util-pre-stop-routing-allocation` when it is `primaries`, `new_primaries` or `all`,
//!   else `primaries`), and creates its lock file (on the pod's volume, so the next container
//!   of the same pod finds it) whether or not the statement succeeded.
//! * **postStart** (`handleResetRouting`): with no lock file, nothing. Otherwise, when the
//!   operator owns the setting, nothing (the lock file stays, for a later postStart that owns
//!   it); with 0 or 1 replicas the lock file is removed; with `dc-util-no-poststart=true`,
//!   nothing; else, once the node answers SQL (waiting up to 10 minutes, after which the lock
//!   file is removed), `RESET GLOBAL cluster.routing.allocation.enable;`, which clears both
//!   levels, and the lock file is removed.
//!
//! * **Disabled** (`getDisabledFromLabels`): with `dc-util-disabled` `true` (`TRUE`, `True`) on
//!   its StatefulSet, the preStop exits after reading the StatefulSet, before any SQL: no
//!   allocation write, no lock file, no decommission (the kubelet's SIGTERM then stops the node
//!   without moving shards). Upstream's postStart does not read the label: it still resets when
//!   it finds a lock file an earlier preStop left (with the label set before the preStop, it
//!   finds none).
//!
//! Left out: the graceful_stop settings dc_util writes before its DECOMMISSION (the simulated
//! decommission takes the hook's `-min-availability` directly), and the labels
//! `dc-util-min-availability` and `dc-util-graceful-stop`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The StatefulSet label that says who owns `cluster.routing.allocation.enable`.
pub const ROUTING_OWNER_LABEL: &str = "dc-util-routing-owner";

/// The only owner dc_util honours (`routingOwnerOperator`).
pub const ROUTING_OWNER_OPERATOR: &str = "operator";

/// How far from now a routing-owner timestamp may be and still be honoured (`routingOwnerTTL`).
pub const ROUTING_OWNER_TTL: SignedDuration = SignedDuration::from_hours(2);

/// The StatefulSet label with the value the preStop hook writes
/// (`labelPreStopRoutingAllocation`).
pub const PRE_STOP_ROUTING_ALLOCATION_LABEL: &str = "dc-util-pre-stop-routing-allocation";

/// The StatefulSet label that turns the preStop off (`labelDisabled`).
pub const DISABLED_LABEL: &str = "dc-util-disabled";

/// The StatefulSet label that turns the postStart reset off (`labelNoPostStart`).
pub const NO_POST_START_LABEL: &str = "dc-util-no-poststart";

/// How long the postStart hook waits for its node to answer SQL (`postStartTimeout`).
pub const POST_START_TIMEOUT: Duration = Duration::from_secs(600);

/// The setting the hooks write.
pub const ALLOCATION_ENABLE: &str = "cluster.routing.allocation.enable";

/// The postStart command of a StatefulSet created with the operator's `--reset-routing`.
pub const DEFAULT_POST_START_COMMAND: &str = "/dc_util --reset-routing";

/// Whether dc_util leaves `cluster.routing.allocation.enable` to the operator, given the value
/// of the StatefulSet's `dc-util-routing-owner` label (`None`: no label) at `now`.
pub fn operator_owns_routing(label: Option<&str>, now: Timestamp) -> bool {
    let Some((owner, seconds)) = label.and_then(|value| value.split_once('-')) else {
        return false;
    };
    if owner != ROUTING_OWNER_OPERATOR {
        return false;
    }
    let Ok(seconds) = seconds.parse::<i64>() else {
        return false;
    };
    // Beyond jiff's range is beyond two hours of any simulated now.
    let Ok(at) = Timestamp::from_second(seconds) else {
        return false;
    };
    now.duration_since(at).abs() <= ROUTING_OWNER_TTL
}

/// A label of `object` (`metadata.labels`), if set.
pub fn label<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(name))
        .and_then(Value::as_str)
}

/// Whether a pod spec (a StatefulSet's `spec.template.spec`, or a pod's `spec`) has a postStart
/// hook running dc_util with `--reset-routing` or `-reset-routing`, read as
/// `hasPostStartHookWithResetRouting` reads it: any container, the exec command's words joined
/// with spaces, containing `dc_util` and the flag after a space or at the end.
pub fn has_reset_routing_post_start(pod_spec: &Value) -> bool {
    let Some(containers) = pod_spec.get("containers").and_then(Value::as_array) else {
        return false;
    };
    containers.iter().any(|container| {
        let Some(command) = container
            .pointer("/lifecycle/postStart/exec/command")
            .and_then(Value::as_array)
        else {
            return false;
        };
        let full: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
        let full = full.join(" ");
        full.contains("dc_util")
            && (full.contains(" --reset-routing")
                || full.contains(" -reset-routing")
                || full.ends_with("--reset-routing")
                || full.ends_with("-reset-routing"))
    })
}

/// The value the preStop hook sets (`getPreStopRoutingAllocationFromLabels`).
pub fn pre_stop_routing_allocation(statefulset: &Value) -> &str {
    match label(statefulset, PRE_STOP_ROUTING_ALLOCATION_LABEL) {
        Some(value @ ("primaries" | "new_primaries" | "all")) => value,
        _ => "primaries",
    }
}

/// Whether `dc-util-disabled` turns the preStop off (`getDisabledFromLabels`: `TRUE`, `true`
/// or `True`; anything else, or no label, is false).
pub fn disabled(statefulset: &Value) -> bool {
    matches!(label(statefulset, DISABLED_LABEL), Some("TRUE" | "true" | "True"))
}

/// Whether `dc-util-no-poststart` turns the postStart reset off (`getNoPostStartFromLabels`).
pub fn post_start_disabled(statefulset: &Value) -> bool {
    matches!(
        label(statefulset, NO_POST_START_LABEL),
        Some("TRUE" | "true" | "True")
    )
}

/// The statement the preStop hook sends, as dc_util writes it.
pub fn pre_stop_statement(value: &str) -> String {
    format!("SET GLOBAL TRANSIENT \"{ALLOCATION_ENABLE}\" = '{value}';")
}

/// The statement the postStart hook sends, as dc_util writes it.
pub fn post_start_statement() -> String {
    format!("RESET GLOBAL {ALLOCATION_ENABLE};")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The cases of upstream's `TestOperatorOwnsRoutingAllocation`, and a few more.
    #[test]
    fn ownership_is_the_operators_fresh_label_only() {
        let now: Timestamp = "2026-08-10T12:00:00Z".parse().unwrap();
        let stamp = |offset_s: i64| format!("operator-{}", now.as_second() + offset_s);
        let ttl = ROUTING_OWNER_TTL.as_secs();
        let cases: Vec<(String, Option<String>, bool)> = vec![
            ("no label".into(), None, false),
            ("fresh".into(), Some(stamp(0)), true),
            ("just inside".into(), Some(stamp(-ttl + 60)), true),
            ("exactly two hours".into(), Some(stamp(-ttl)), true),
            ("stale".into(), Some(stamp(-ttl - 60)), false),
            ("slightly ahead".into(), Some(stamp(60)), true),
            ("far ahead".into(), Some(stamp(ttl + 60)), false),
            (
                "unknown owner".into(),
                Some("someone-else-1786000000".into()),
                false,
            ),
            (
                "cratectl".into(),
                Some(format!("cratectl-{}", now.as_second())),
                false,
            ),
            ("no timestamp".into(), Some("operator".into()), false),
            ("malformed".into(), Some("operator-not-a-number".into()), false),
            ("empty".into(), Some(String::new()), false),
            (
                "second dash".into(),
                Some(format!("operator-{}-x", now.as_second())),
                false,
            ),
            (
                "plus sign".into(),
                Some(format!("operator-+{}", now.as_second())),
                true,
            ),
            ("negative".into(), Some("operator--5".into()), false),
            (
                "overflow".into(),
                Some("operator-99999999999999999999".into()),
                false,
            ),
            (
                "beyond jiff".into(),
                Some(format!("operator-{}", i64::MAX)),
                false,
            ),
        ];
        for (name, value, owned) in cases {
            assert_eq!(
                operator_owns_routing(value.as_deref(), now),
                owned,
                "{name}: {value:?}"
            );
        }
    }

    #[test]
    fn reset_routing_post_start_hooks() {
        let spec = |command: Value| {
            json!({"containers": [{"name": "sql-exporter"},
                {"name": "crate", "lifecycle": {"postStart": {"exec": {"command": command}}}}]})
        };
        for (command, found) in [
            (json!(["/bin/sh", "-c", "dc_util --reset-routing"]), true),
            (json!(["dc_util", "--reset-routing", "--dry-run"]), true),
            (json!(["dc_util", "-reset-routing", "-dry-run"]), true),
            (json!(["/bin/sh", "-c", "/dc_util --reset-routing"]), true),
            (json!(["/bin/sh", "-c", "echo hello"]), false),
            // Upstream matches the flag as a substring after a space, so this counts too.
            (json!(["/bin/sh", "-c", "dc_util --reset-routing-later"]), true),
            (json!(["/bin/sh", "-c", "dc_util --dry-run"]), false),
            (json!(["/bin/sh", "-c", "other --reset-routing"]), false),
        ] {
            assert_eq!(
                has_reset_routing_post_start(&spec(command.clone())),
                found,
                "{command}"
            );
        }
        assert!(!has_reset_routing_post_start(
            &json!({"containers": [{"name": "crate"}]})
        ));
        assert!(!has_reset_routing_post_start(&json!({})));
    }

    #[test]
    fn labels_that_shape_the_hooks() {
        let sts = |labels: Value| json!({"metadata": {"labels": labels}});
        assert_eq!(pre_stop_routing_allocation(&sts(json!({}))), "primaries");
        assert_eq!(
            pre_stop_routing_allocation(&sts(json!({PRE_STOP_ROUTING_ALLOCATION_LABEL: "new_primaries"}))),
            "new_primaries"
        );
        assert_eq!(
            pre_stop_routing_allocation(&sts(json!({PRE_STOP_ROUTING_ALLOCATION_LABEL: "none"}))),
            "primaries"
        );
        assert!(post_start_disabled(&sts(json!({NO_POST_START_LABEL: "True"}))));
        assert!(disabled(&sts(json!({DISABLED_LABEL: "TRUE"}))));
        assert!(!disabled(&sts(json!({DISABLED_LABEL: "yes"}))));
        assert!(!disabled(&sts(json!({}))));
        assert!(!post_start_disabled(&sts(json!({NO_POST_START_LABEL: "yes"}))));
        assert_eq!(
            pre_stop_statement("primaries"),
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries';"
        );
        assert_eq!(
            post_start_statement(),
            "RESET GLOBAL cluster.routing.allocation.enable;"
        );
    }
}
