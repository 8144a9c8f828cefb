//! The CrateDB operator stand-in: turns a `CrateDB` resource into the objects the real operator
//! creates, with its names and labels (`crate-operator.md` §2): a StatefulSet per node group
//! (`crate-master-<name>`, `crate-data-<group>-<name>`), their pods (`<sts>-<ordinal>`), the
//! client and discovery Services, and the `user-system-<name>` Secret.
//!
//! Today the pods are created Running and Ready; the StatefulSet controller and kubelet that
//! recreate and start them over simulated time come next.

use base64::Engine;
use serde_json::{Value, json};

use crate::cratedb::{ClusterSpec, CrateCluster, NodeSpec, TableSpec, Timings};
use crate::kube::ApiServer;
use crate::kube::registry;
use crate::kube::status::ApiError;

/// What to simulate for one cluster.
#[derive(Clone, Debug)]
pub struct ClusterShape {
    pub name: String,
    pub namespace: String,
    pub version: String,
    pub masters: u32,
    /// `(group name, replicas)`.
    pub data_groups: Vec<(String, u32)>,
    /// Whether pods get the dc_util preStop hook.
    pub dc_util_hook: bool,
    pub system_password: String,
}

fn base_labels(name: &str) -> Value {
    json!({
        "app.kubernetes.io/managed-by": "crate-operator",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "cratedb",
        "app.kubernetes.io/component": "cratedb",
    })
}

/// The `CrateDB` resource for a shape.
pub fn custom_resource(shape: &ClusterShape) -> Value {
    let data: Vec<Value> = shape
        .data_groups
        .iter()
        .map(|(group, replicas)| json!({"name": group, "replicas": replicas, "resources": {"disk": {"count": 1, "size": "32GiB", "storageClass": "default"}, "heapRatio": 0.25, "limits": {"cpu": 2, "memory": "4Gi"}}}))
        .collect();
    let mut nodes = json!({"data": data});
    if shape.masters > 0 {
        nodes["master"] = json!({"replicas": shape.masters, "resources": {"disk": {"count": 1, "size": "8GiB", "storageClass": "default"}, "heapRatio": 0.25, "limits": {"cpu": 1, "memory": "2Gi"}}});
    }
    json!({
        "apiVersion": "cloud.crate.io/v1",
        "kind": "CrateDB",
        "metadata": {"name": shape.name, "namespace": shape.namespace, "labels": {}},
        "spec": {
            "cluster": {"imageRegistry": "crate", "name": shape.name, "version": shape.version},
            "nodes": nodes,
        },
        "status": {"crateDBStatus": {"health": "GREEN"}},
    })
}

/// The container command line, as the operator builds it (abridged to the flags tools read).
fn crate_command(shape: &ClusterShape, node_name: &str, master: bool, data: bool) -> Vec<String> {
    vec![
        "/docker-entrypoint.sh".into(),
        "crate".into(),
        format!("-Ccluster.name={}", shape.name),
        format!("-Cnode.name={node_name}"),
        format!("-Cnode.master={master}"),
        format!("-Cnode.data={data}"),
        "-Chttp.port=4200".into(),
        "-Ctransport.tcp.port=4300".into(),
        format!(
            "-Cdiscovery.seed_providers=srv -Cdiscovery.srv.query=_cluster._tcp.crate-discovery-{}.{}.svc.cluster.local",
            shape.name, shape.namespace
        ),
    ]
}

/// The CrateDB model for a shape: nodes named as the operator names them (`master-<n>`,
/// `data-<group>-<n>`), a replicated table and a partitioned one.
pub fn database(shape: &ClusterShape) -> CrateCluster {
    let mut nodes = Vec::new();
    for i in 0..shape.masters {
        nodes.push(NodeSpec {
            name: format!("master-{i}"),
            master_eligible: true,
            data: false,
        });
    }
    for (group, replicas) in &shape.data_groups {
        for i in 0..*replicas {
            nodes.push(NodeSpec {
                name: format!("data-{group}-{i}"),
                master_eligible: shape.masters == 0,
                data: true,
            });
        }
    }
    let tables = vec![
        TableSpec {
            schema: "doc".into(),
            name: "events".into(),
            shards: 6,
            replicas: "1".into(),
            partitions: vec![],
        },
        TableSpec {
            schema: "doc".into(),
            name: "metrics".into(),
            shards: 2,
            replicas: "1".into(),
            partitions: vec![
                "04732cpp6ksjcc9i60o30c1g".into(),
                "04732cpp6ksjcc9i60o30c1h".into(),
            ],
        },
    ];
    let spec = ClusterSpec {
        name: shape.name.clone(),
        version: shape.version.clone(),
        nodes,
        tables,
        system_password: shape.system_password.clone(),
        timings: Timings::default(),
    };
    CrateCluster::new(spec, std::time::Duration::ZERO)
}

/// Creates the CrateDB resource and everything the operator derives from it, and the CrateDB
/// cluster its pods run.
pub fn materialise(server: &ApiServer, shape: &ClusterShape) -> Result<(), ApiError> {
    let mut model = database(shape);
    model.set_epoch_ms(server.clock.now().as_millisecond() - server.clock.elapsed().as_millis() as i64);
    server
        .databases
        .lock()
        .insert((shape.namespace.clone(), shape.name.clone()), model);
    let now = server.clock.rfc3339();
    let create = |plural: &str, namespace: &str, object: Value| -> Result<Value, ApiError> {
        let resource = registry::RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .ok_or_else(|| ApiError::no_route(plural))?;
        server.store().create(
            resource.store_key(),
            &resource.qualified_plural(),
            namespace,
            object,
            &now,
        )
    };
    if server.store().get("namespaces", "", &shape.namespace).is_none() {
        create(
            "namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": shape.namespace}, "status": {"phase": "Active"}}),
        )?;
    }
    // The Kubernetes nodes pods are placed on (`node-<ordinal % 3>`).
    for node in 0..3 {
        let node_name = format!("node-{node}");
        if server.store().get("nodes", "", &node_name).is_none() {
            create(
                "nodes",
                "",
                json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": node_name, "labels": {"kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux"}},
                    "spec": {},
                    "status": {
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                        "nodeInfo": {"kubeletVersion": "v1.32.0-cratesim", "kubeProxyVersion": "v1.32.0-cratesim", "architecture": "amd64", "operatingSystem": "linux", "osImage": "cratesim", "kernelVersion": "6.1", "containerRuntimeVersion": "cratesim://1", "bootID": "", "machineID": "", "systemUUID": ""},
                        "addresses": [{"type": "InternalIP", "address": format!("192.168.0.{}", 10 + node)}, {"type": "Hostname", "address": node_name}],
                    },
                }),
            )?;
        }
    }
    let cr = create("cratedbs", &shape.namespace, custom_resource(shape))?;
    let owner = json!([{
        "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB", "name": shape.name,
        "uid": cr.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let labels = base_labels(&shape.name);
    let password = base64::engine::general_purpose::STANDARD.encode(&shape.system_password);
    create(
        "secrets",
        &shape.namespace,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": format!("user-system-{}", shape.name), "labels": labels, "ownerReferences": owner},
            "data": {"password": password},
        }),
    )?;
    for (service, headless) in [
        (format!("crate-{}", shape.name), false),
        (format!("crate-discovery-{}", shape.name), true),
    ] {
        let mut spec = json!({
            "selector": {"app.kubernetes.io/component": "cratedb", "app.kubernetes.io/name": shape.name},
            "ports": [{"name": "http", "port": 4200, "protocol": "TCP", "targetPort": 4200}, {"name": "psql", "port": 5432, "protocol": "TCP", "targetPort": 5432}],
            "type": "ClusterIP",
        });
        if headless {
            spec["clusterIP"] = json!("None");
            spec["ports"] = json!([{"name": "cluster", "port": 4300, "protocol": "TCP", "targetPort": 4300}, {"name": "http", "port": 4200, "protocol": "TCP", "targetPort": 4200}]);
        }
        create(
            "services",
            &shape.namespace,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "labels": labels, "ownerReferences": owner}, "spec": spec}),
        )?;
    }

    let mut groups: Vec<(String, String, u32, bool, bool)> = Vec::new();
    if shape.masters > 0 {
        groups.push((
            format!("crate-master-{}", shape.name),
            "master".into(),
            shape.masters,
            true,
            false,
        ));
    }
    for (group, replicas) in &shape.data_groups {
        groups.push((
            format!("crate-data-{group}-{}", shape.name),
            group.clone(),
            *replicas,
            shape.masters == 0,
            true,
        ));
    }
    for (sts_name, node_group, replicas, master, data) in groups {
        let mut pod_labels = labels.clone();
        pod_labels["cloud.crate.io/node-name"] = json!(node_group);
        pod_labels["cloud.crate.io/node-data"] = json!(data.to_string());
        let selector = json!({"app.kubernetes.io/component": "cratedb", "app.kubernetes.io/name": shape.name, "cloud.crate.io/node-name": node_group});
        let node_prefix = if node_group == "master" {
            "master".to_string()
        } else {
            format!("data-{node_group}")
        };
        let mut container = json!({
            "name": "crate",
            "image": format!("crate:{}", shape.version),
            "command": crate_command(shape, &format!("{node_prefix}-$(ORDINAL)"), master, data),
            "ports": [{"containerPort": 4200, "name": "http"}, {"containerPort": 4300, "name": "cluster"}, {"containerPort": 5432, "name": "psql"}],
        });
        if shape.dc_util_hook {
            container["lifecycle"] = json!({"preStop": {"exec": {"command": ["/bin/sh", "-c", "/dc_util -min-availability PRIMARIES -timeout 720s"]}}});
        }
        let template = json!({"metadata": {"labels": pod_labels}, "spec": {"containers": [container], "terminationGracePeriodSeconds": 1800}});
        let sts = create(
            "statefulsets",
            &shape.namespace,
            json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": sts_name, "labels": pod_labels, "ownerReferences": owner},
                "spec": {
                    "replicas": replicas, "serviceName": format!("crate-discovery-{}", shape.name),
                    "selector": {"matchLabels": selector}, "podManagementPolicy": "Parallel",
                    "updateStrategy": {"type": "OnDelete"}, "template": template,
                },
                "status": {"replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 1},
            }),
        )?;
        // One budget per StatefulSet, as crate-operator >= 2.63 creates.
        create(
            "poddisruptionbudgets",
            &shape.namespace,
            json!({
                "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": sts_name, "labels": labels, "ownerReferences": owner},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            }),
        )?;
        for ordinal in 0..replicas {
            let mut pod_container = container.clone();
            pod_container["command"] = json!(crate_command(
                shape,
                &format!("{node_prefix}-{ordinal}"),
                master,
                data
            ));
            let mut labels = pod_labels.clone();
            labels["statefulset.kubernetes.io/pod-name"] = json!(format!("{sts_name}-{ordinal}"));
            create(
                "pods",
                &shape.namespace,
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {
                        "name": format!("{sts_name}-{ordinal}"), "labels": labels,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts_name, "uid": sts.pointer("/metadata/uid").cloned().unwrap_or(Value::Null), "controller": true, "blockOwnerDeletion": true}],
                    },
                    "spec": {"containers": [pod_container], "nodeName": format!("node-{}", ordinal % 3), "terminationGracePeriodSeconds": 1800},
                    "status": {
                        "phase": "Running", "podIP": format!("10.0.{}.{}", ordinal / 200, ordinal % 200 + 10),
                        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                        "containerStatuses": [{"name": "crate", "image": format!("crate:{}", shape.version), "imageID": format!("docker.io/library/crate@sha256:{:064x}", ordinal), "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}}}],
                    },
                }),
            )?;
        }
    }
    Ok(())
}
