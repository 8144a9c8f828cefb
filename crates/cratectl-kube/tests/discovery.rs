//! Discovery against the simulator, in-process (kube-rs over `Sim::router()`, tokio's paused
//! clock): the example scenario's two clusters, their groups, StatefulSets, pods, hooks and
//! nodes; the cluster name from `spec.cluster.name`; Leases; suspension; the Secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cratectl_core::prestop::PreStopHook;
use cratectl_kube::discovery::discover;
use cratectl_kube::secrets::system_password;
use cratectl_kube::{Kube, KubeError};
use cratesim::clock::Clock;
use cratesim::scenario::Scenario;
use cratesim::serve::Sim;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn sim() -> Sim {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../cratesim/scenarios/example.yaml");
    let scenario = Scenario::load(Path::new(path)).unwrap();
    Sim::from_scenario(Clock::new(1.0), &scenario).unwrap()
}

fn kube(sim: &Sim) -> Kube {
    Kube::from_client(
        Client::new(sim.router(), "default"),
        "cratesim",
        "http://in-process",
    )
}

#[tokio::test(start_paused = true)]
async fn finds_every_cluster_with_its_groups_pods_and_hooks() {
    let sim = sim();
    let found = discover(&kube(&sim), None).await.unwrap();
    let names: Vec<String> = found.clusters.iter().map(|c| c.qualified()).collect();
    assert_eq!(names, ["cratedb/alpha", "cratedb-prod/beta"]);

    let alpha = &found.clusters[0];
    assert_eq!(alpha.version.as_deref(), Some("5.10.3"));
    assert_eq!(alpha.desired_nodes(), 3);
    assert_eq!(alpha.ready_pods().count(), 3);
    assert!(!alpha.suspended());
    assert_eq!(alpha.statefulsets[0].name, "crate-data-hot-alpha");
    let pod = &alpha.pods[1];
    assert_eq!(pod.name, "crate-data-hot-alpha-1");
    assert_eq!(pod.ordinal, Some(1));
    assert_eq!(pod.node.as_deref(), Some("node-b"));
    assert_eq!(pod.node_name_hint.as_deref(), Some("data-hot-1"));
    assert_eq!(pod.termination_grace_period_s, 1800);
    assert_eq!(
        pod.prestop,
        PreStopHook::Exec {
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                "/dc_util -min-availability PRIMARIES -timeout 720s".into()
            ]
        }
    );

    // beta: masters first, then the data groups in the resource's order, then by ordinal.
    let beta = &found.clusters[1];
    let groups: Vec<&str> = beta.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["master", "hot", "cold"]);
    let pods: Vec<&str> = beta.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        pods,
        [
            "crate-master-beta-0",
            "crate-master-beta-1",
            "crate-master-beta-2",
            "crate-data-hot-beta-0",
            "crate-data-hot-beta-1",
            "crate-data-cold-beta-0",
            "crate-data-cold-beta-1"
        ]
    );
    assert_eq!(beta.pods[0].prestop, PreStopHook::None);
    assert_eq!(beta.desired_nodes(), 7);

    // The Kubernetes nodes, with what the suspended-node rules read.
    assert!(found.nodes_readable);
    assert_eq!(
        found.nodes["node-b"].taint_keys,
        ["aws.amazon.com/spot-instance-terminating"]
    );
    assert_eq!(
        found.nodes["node-c"].annotations["node.kubernetes.io/suspend"],
        "true"
    );
    assert!(found.nodes["node-d"].unschedulable);
}

#[tokio::test(start_paused = true)]
async fn a_namespace_limits_the_search_and_names_match_either_way() {
    let sim = sim();
    let kube = kube(&sim);
    let found = discover(&kube, Some("cratedb-prod")).await.unwrap();
    assert_eq!(found.clusters.len(), 1);
    assert_eq!(found.clusters[0].name, "beta");

    // spec.cluster.name wins over the resource name; both address the cluster.
    let crs = Api::<cratectl_kube::crd::CrateDB>::namespaced(kube.client.clone(), "cratedb");
    crs.patch(
        "alpha",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"cluster": {"name": "alpha-prod"}}})),
    )
    .await
    .unwrap();
    let found = discover(&kube, None).await.unwrap();
    let alpha = found.matching("alpha-prod").next().unwrap();
    assert_eq!(alpha.resource, "alpha");
    assert_eq!(
        found.matching("alpha").count(),
        1,
        "the resource name matches too"
    );
    assert_eq!(
        alpha.pods.len(),
        3,
        "pods still found through the resource's StatefulSets"
    );
}

#[tokio::test(start_paused = true)]
async fn leases_suspension_and_the_system_password() {
    let sim = sim();
    let kube = kube(&sim);
    let leases: Api<Lease> = Api::namespaced(kube.client.clone(), "cratedb");
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "cratectl-alpha", "labels": {"app.kubernetes.io/managed-by": "cratectl"}},
                "spec": {"holderIdentity": "restart-alpha-20260101T000000Z", "leaseDurationSeconds": 60, "renewTime": "2026-01-01T00:00:00.000000Z"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(kube.client.clone(), "cratedb");
    sets.patch(
        "crate-data-hot-alpha",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();

    let found = discover(&kube, Some("cratedb")).await.unwrap();
    let alpha = &found.clusters[0];
    let lease = alpha.lease.as_ref().unwrap();
    assert_eq!(lease.holder.as_deref(), Some("restart-alpha-20260101T000000Z"));
    assert_eq!(lease.expires_at().unwrap().to_string(), "2026-01-01T00:01:00Z");
    assert!(alpha.suspended());
    assert_eq!(alpha.desired_nodes(), 0);

    assert_eq!(system_password(&kube, alpha).await.unwrap(), "alpha-secret");
}

#[tokio::test(start_paused = true)]
async fn errors_say_what_was_tried() {
    let sim = sim();
    let kube = kube(&sim);
    let mut gone = discover(&kube, None).await.unwrap().clusters.remove(0);
    gone.resource = "nope".into();
    let error = system_password(&kube, &gone).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("Secret cratedb/user-system-nope"), "{text}");
    assert!(text.contains("cratesim"), "names the context: {text}");
    assert!(matches!(
        error,
        KubeError::Api {
            status: Some(404),
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_resource_without_operator_statefulsets_falls_back_to_the_older_names() {
    let sim = sim();
    let kube = kube(&sim);
    let crs = Api::<cratectl_kube::crd::CrateDB>::namespaced(kube.client.clone(), "cratedb");
    crs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "cloud.crate.io/v1", "kind": "CrateDB",
            "metadata": {"name": "legacy"},
            "spec": {"cluster": {"name": "legacy", "version": "4.8.4"}, "nodes": {"data": [{"name": "hot", "replicas": 1}]}},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(kube.client.clone(), "cratedb");
    sets.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "crate-legacy"},
            "spec": {
                "replicas": 1, "serviceName": "crate-legacy",
                "selector": {"matchLabels": {"app": "crate"}},
                "template": {"metadata": {"labels": {"app": "crate"}}, "spec": {"containers": [{"name": "crate", "image": "crate:4.8.4"}]}},
            },
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    // The StatefulSet controller creates its pod.
    let mut legacy = None;
    for _ in 0..100 {
        let found = discover(&kube, Some("cratedb")).await.unwrap();
        legacy = found.matching("legacy").next().cloned();
        if legacy.as_ref().is_some_and(|c| !c.pods.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let legacy = legacy.unwrap();
    assert_eq!(legacy.statefulsets.len(), 1);
    assert_eq!(legacy.statefulsets[0].name, "crate-legacy");
    assert_eq!(legacy.pods[0].name, "crate-legacy-0");
    assert_eq!(legacy.desired_nodes(), 1);
}
