//! `Table` responses for `kubectl get` (requested with `Accept: …;as=Table;g=meta.k8s.io`).
//! Without them kubectl falls back to `NAME AGE`; with them it prints the usual columns, and
//! adds NAMESPACE for `-A` from each row's object metadata.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::registry::Resource;

/// True when the client asked for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

fn column(name: &str, kind: &str, format: &str, description: &str) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": 0})
}

fn columns(resource: &Resource) -> Vec<Value> {
    let name = column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
    );
    let age = column(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match resource.kind {
        "Pod" => vec![
            name,
            column(
                "Ready",
                "string",
                "",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            column(
                "Status",
                "string",
                "",
                "The aggregate status of the containers in this pod.",
            ),
            column(
                "Restarts",
                "string",
                "",
                "The number of times the containers in this pod have been restarted.",
            ),
            age,
        ],
        "StatefulSet" => vec![
            name,
            column("Ready", "string", "", "Number of the pod with ready state"),
            age,
        ],
        "Node" => vec![
            name,
            column("Status", "string", "", "The status of the node"),
            column("Roles", "string", "", "The roles of the node"),
            age,
            column("Version", "string", "", "Kubelet Version reported by the node."),
        ],
        "CrateDB" => vec![
            name,
            column("Cluster", "string", "", "The CrateDB cluster name."),
            column("Version", "string", "", "The CrateDB version."),
            column("Nodes", "integer", "", "Configured data and master nodes."),
            age,
        ],
        _ => vec![name, age],
    }
}

/// `3s`, `5m`, `2h`, `4d`: kubectl's short age.
pub fn age(created: Option<&str>, now: Timestamp) -> String {
    let Some(created) = created.and_then(|c| c.parse::<Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = now.duration_since(created).as_secs().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn cells(resource: &Resource, object: &Value, now: Timestamp) -> Vec<Value> {
    let str_at = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = json!(str_at("/metadata/name"));
    let age = json!(age(
        object
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now
    ));
    match resource.kind {
        "Pod" => {
            let statuses = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let containers = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"] == json!(true)).count();
            let restarts: i64 = statuses.iter().filter_map(|s| s["restartCount"].as_i64()).sum();
            let status = if object.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating".to_string()
            } else {
                let phase = str_at("/status/phase");
                if phase.is_empty() { "Pending".into() } else { phase }
            };
            vec![
                name,
                json!(format!("{ready}/{containers}")),
                json!(status),
                json!(restarts.to_string()),
                age,
            ]
        }
        "StatefulSet" => {
            let ready = object
                .pointer("/status/readyReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let want = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            vec![name, json!(format!("{ready}/{want}")), age]
        }
        "Node" => {
            let ready = object
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            let mut status = if ready {
                "Ready".to_string()
            } else {
                "NotReady".to_string()
            };
            if object.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
                status.push_str(",SchedulingDisabled");
            }
            let version = str_at("/status/nodeInfo/kubeletVersion");
            vec![name, json!(status), json!("<none>"), age, json!(version)]
        }
        "CrateDB" => {
            let cluster = object
                .pointer("/spec/cluster/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let version = object
                .pointer("/spec/cluster/version")
                .and_then(Value::as_str)
                .unwrap_or("");
            let data: i64 = object
                .pointer("/spec/nodes/data")
                .and_then(Value::as_array)
                .map_or(0, |groups| {
                    groups.iter().filter_map(|g| g["replicas"].as_i64()).sum()
                });
            let masters = object
                .pointer("/spec/nodes/master/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            vec![name, json!(cluster), json!(version), json!(data + masters), age]
        }
        _ => vec![name, age],
    }
}

/// A Table of `objects`.
pub fn table(resource: &Resource, objects: &[&Value], resource_version: u64, now: Timestamp) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cells(resource, o, now),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o.get("metadata").cloned().unwrap_or(json!({})),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": columns(resource),
        "rows": rows,
    })
}
