//! Strategic merge patch (`application/strategic-merge-patch+json`), as the API server applies it
//! to the built-in types cratesim serves: a JSON merge patch (RFC 7386), except that a list whose
//! field has a patch merge key is merged item by item on that key instead of being replaced
//! (Kubernetes `k8s.io/apimachinery/pkg/util/strategicpatch`, the `patchMergeKey` /
//! `patchStrategy:"merge"` tags of `k8s.io/api/core/v1/types.go`;
//! <https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>).
//!
//! So patching `spec.template.spec.containers: [{name: crate, command: [...]}]` changes the
//! command of the container named `crate` and keeps its image, ports and hooks, and the other
//! containers, where a merge patch would leave one container with only a command.
//!
//! Modelled: the merge keys of the lists cratesim's objects have (below), `$patch: delete` on a
//! list item (removes the item with that key), `$patch: replace` on an object or list item
//! (replaces it whole), a list of primitives with the `merge` strategy (`metadata.finalizers`:
//! union), and the `$setElementOrder/<field>` and `$retainKeys` directives kubectl sends (read
//! and dropped: the order of merged items is the target's, new items appended). Lists without a
//! merge key are replaced, as the API server does.

use serde_json::{Map, Value};

/// The merge key of list field `field` whose items look like `items`: containers, volumes,
/// env and the like by `name`, container ports by `containerPort`, Service ports by `port`,
/// volume mounts by `mountPath`, owner references by `uid`, conditions by `type`.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "envFrom" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        _ => None,
    }
}

/// Lists of primitives merged as sets (`patchStrategy:"merge"` on a `[]string`).
fn merges_primitives(field: &str) -> bool {
    field == "finalizers"
}

/// Applies strategic merge patch `patch` to `target`.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut whole = patch.clone();
        whole.remove("$patch");
        *target = Value::Object(whole);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        if key.starts_with('$') {
            // $setElementOrder/<field>, $retainKeys, $patch: directives, not fields.
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Array(items) => {
                let merged = match (map.get(key), merge_key(key, items)) {
                    (Some(Value::Array(current)), Some(list_key)) => merge_list(current, items, list_key),
                    (Some(Value::Array(current)), None) if merges_primitives(key) => {
                        let mut union = current.clone();
                        for item in items {
                            if !union.contains(item) {
                                union.push(item.clone());
                            }
                        }
                        union
                    }
                    (None, Some(list_key)) => merge_list(&[], items, list_key),
                    _ => items.clone(),
                };
                map.insert(key.clone(), Value::Array(merged));
            }
            _ => strategic_merge_patch(map.entry(key.clone()).or_insert(Value::Null), value),
        }
    }
}

/// `current` with each item of `patch` merged into the item of the same `key` (or appended, or
/// removed with `$patch: delete`).
fn merge_list(current: &[Value], patch: &[Value], key: &str) -> Vec<Value> {
    let mut out: Vec<Value> = current.to_vec();
    for item in patch {
        let Some(id) = item.get(key) else {
            // No key: nothing to match it with; kept as given.
            out.push(item.clone());
            continue;
        };
        let at = out.iter().position(|c| c.get(key) == Some(id));
        let directive = item.get("$patch").and_then(Value::as_str);
        match (at, directive) {
            (Some(at), Some("delete")) => {
                out.remove(at);
            }
            (None, Some("delete")) => {}
            (Some(at), _) => strategic_merge_patch(&mut out[at], item),
            (None, _) => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge_patch(&mut fresh, item);
                out.push(fresh);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_keep_their_other_fields() {
        let mut sts = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sql-exporter", "image": "exporter:1"},
            {"name": "crate", "image": "crate:5.10.3", "command": ["crate", "-Cold=1"],
             "ports": [{"containerPort": 4200, "name": "http"}, {"containerPort": 4300, "name": "transport"}],
             "lifecycle": {"preStop": {"exec": {"command": ["/dc_util"]}}}}
        ]}}}});
        strategic_merge_patch(
            &mut sts,
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sql-exporter"}, {"name": "crate"}],
                "containers": [{"name": "crate", "command": ["crate", "-Cnew=2"],
                                "ports": [{"containerPort": 4200, "name": "web"}]}]
            }}}}),
        );
        let containers = &sts["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 2, "{containers}");
        assert_eq!(
            containers[0],
            json!({"name": "sql-exporter", "image": "exporter:1"})
        );
        let crate_ = &containers[1];
        assert_eq!(
            crate_["command"],
            json!(["crate", "-Cnew=2"]),
            "lists of strings are replaced"
        );
        assert_eq!(crate_["image"], "crate:5.10.3");
        assert_eq!(
            crate_["lifecycle"]["preStop"]["exec"]["command"],
            json!(["/dc_util"])
        );
        assert_eq!(
            crate_["ports"],
            json!([{"containerPort": 4200, "name": "web"}, {"containerPort": 4300, "name": "transport"}]),
            "ports merge by containerPort"
        );
        assert!(
            sts["spec"]["template"]["spec"]
                .get("$setElementOrder/containers")
                .is_none()
        );
    }

    #[test]
    fn delete_replace_null_and_lists_without_a_key() {
        let mut pod = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
                             "spec": {"tolerations": [{"key": "k1"}], "containers": [{"name": "a"}, {"name": "b"}]}});
        strategic_merge_patch(
            &mut pod,
            &json!({"metadata": {"finalizers": ["b", "a"], "labels": {"x": null}},
                    "spec": {"tolerations": [{"key": "k2"}],
                             "containers": [{"name": "a", "$patch": "delete"}, {"name": "c", "image": "i"}]}}),
        );
        assert_eq!(
            pod["metadata"]["finalizers"],
            json!(["a", "b"]),
            "finalizers: a set"
        );
        assert_eq!(pod["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([{"key": "k2"}]),
            "no merge key: replaced"
        );
        assert_eq!(
            pod["spec"]["containers"],
            json!([{"name": "b"}, {"name": "c", "image": "i"}])
        );
        strategic_merge_patch(
            &mut pod,
            &json!({"metadata": {"labels": {"$patch": "replace", "z": "3"}}}),
        );
        assert_eq!(pod["metadata"]["labels"], json!({"z": "3"}));
    }
}
