//! kube-rs 5 (the client cratectl uses) against the simulator in-process: the router is the
//! client's tower service, so these tests run under tokio's paused clock and a pod restart that
//! takes ~20 simulated seconds costs milliseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams, PostParams,
};
use kube::discovery::Discovery;
use kube::runtime::watcher;
use kube::runtime::watcher::Event;
use kube::{Client, ResourceExt};

mod common;

use cratesim::clock::Clock;
use cratesim::serve::Sim;

fn sim() -> Sim {
    let shape = common::shape("alpha", true, "pw");
    Sim::new(Clock::new(1.0), &[shape]).unwrap()
}

fn client(sim: &Sim) -> Client {
    Client::new(sim.router(), "cratedb")
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .is_some_and(|c| c.ready)
}

#[tokio::test(start_paused = true)]
async fn discovery_legacy_and_aggregated() {
    let sim = sim();
    for aggregated in [false, true] {
        let discovery = Discovery::new(client(&sim));
        let discovery = if aggregated {
            discovery.run_aggregated().await
        } else {
            discovery.run().await
        }
        .unwrap();
        let groups: Vec<String> = discovery.groups().map(|g| g.name().to_string()).collect();
        for group in ["", "apps", "policy", "coordination.k8s.io", "cloud.crate.io"] {
            assert!(
                groups.iter().any(|g| g == group),
                "aggregated={aggregated}: {groups:?}"
            );
        }
        let (crd, _) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(
                "cloud.crate.io",
                "v1",
                "CrateDB",
            ))
            .unwrap();
        assert_eq!(crd.plural, "cratedbs");
    }
    let version = client(&sim).apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
}

#[tokio::test(start_paused = true)]
async fn list_get_and_not_found() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    let list = pods
        .list(&ListParams::default().labels("app.kubernetes.io/name=alpha"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 3);
    assert!(list.metadata.resource_version.is_some_and(|rv| !rv.is_empty()));
    let pod = pods.get("crate-data-hot-alpha-0").await.unwrap();
    assert!(is_ready(&pod));
    let err = pods.get("nope").await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.reason, "NotFound");
        }
        other => panic!("expected a 404 Status, got {other:?}"),
    }
    let crs: Api<DynamicObject> = Api::namespaced_with(
        client(&sim),
        "cratedb",
        &ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("cloud.crate.io", "v1", "CrateDB"),
            "cratedbs",
        ),
    );
    let alpha = crs.get("alpha").await.unwrap();
    assert_eq!(alpha.data["spec"]["cluster"]["name"], "alpha");
}

#[tokio::test(start_paused = true)]
async fn a_deleted_pod_is_replaced_with_a_new_uid_observed_by_a_watcher() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    let old = pods.get("crate-data-hot-alpha-1").await.unwrap();
    let old_uid = old.uid().unwrap();
    let config = watcher::Config::default().fields("metadata.name=crate-data-hot-alpha-1");
    let mut stream = watcher(pods.clone(), config).boxed();
    pods.delete(
        "crate-data-hot-alpha-1",
        &DeleteParams::default().preconditions(kube::api::Preconditions {
            uid: Some(old_uid.clone()),
            resource_version: None,
        }),
    )
    .await
    .unwrap();
    let mut saw_terminating = false;
    let mut saw_delete = false;
    loop {
        match stream.try_next().await.unwrap().unwrap() {
            Event::Apply(pod) | Event::InitApply(pod) => {
                if pod.uid().as_deref() == Some(&old_uid) && pod.metadata.deletion_timestamp.is_some() {
                    saw_terminating = true;
                }
                if pod.uid().as_deref() != Some(&old_uid) && is_ready(&pod) {
                    break;
                }
            }
            Event::Delete(pod) => saw_delete |= pod.uid().as_deref() == Some(&old_uid),
            Event::Init | Event::InitDone => {}
        }
    }
    assert!(saw_terminating && saw_delete);
    // A delete with a stale UID precondition is a conflict.
    let err = pods
        .delete(
            "crate-data-hot-alpha-1",
            &DeleteParams::default().preconditions(kube::api::Preconditions {
                uid: Some(old_uid),
                resource_version: None,
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 409), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn eviction_respects_the_disruption_budget() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    pods.evict("crate-data-hot-alpha-0", &EvictParams::default())
        .await
        .unwrap();
    let err = pods
        .evict("crate-data-hot-alpha-2", &EvictParams::default())
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 429);
            assert!(status.message.contains("disruption budget"), "{}", status.message);
        }
        other => panic!("expected 429, got {other:?}"),
    }
}

/// POSTs an Eviction as the API defines it (`deleteOptions`, camelCase: kube-rs 5's
/// `Api::evict` sends `delete_options`, which a real server ignores as an unknown field).
async fn evict_raw(
    pods: &Api<Pod>,
    name: &str,
    delete_options: serde_json::Value,
) -> Result<(), kube::Error> {
    let body = serde_json::json!({
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": name, "namespace": "cratedb"},
        "deleteOptions": delete_options,
    });
    pods.create_subresource::<_, serde_json::Value>("eviction", name, &PostParams::default(), &body)
        .await
        .map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn eviction_honours_delete_preconditions_after_the_budget_and_refuses_two_budgets() {
    let sim = sim();
    let pods: Api<Pod> = Api::default_namespaced(client(&sim));
    let name = "crate-data-hot-alpha-0";
    let uid = pods.get(name).await.unwrap().uid().unwrap();

    // Not the pod the precondition names: 409, and the pod is left alone.
    let err = evict_raw(
        &pods,
        name,
        serde_json::json!({"preconditions": {"uid": "not-this-one"}}),
    )
    .await
    .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
            assert!(
                status.message.contains("UID in precondition: not-this-one"),
                "{}",
                status.message
            );
        }
        other => panic!("expected 409, got {other:?}"),
    }
    assert!(
        pods.get(name)
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );

    // A second budget selecting the same pods: the eviction subresource refuses outright (500),
    // whatever either budget allows.
    let budgets: Api<DynamicObject> = Api::namespaced_with(
        client(&sim),
        "cratedb",
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "policy",
            "v1",
            "PodDisruptionBudget",
        )),
    );
    let selector = pods.get(name).await.unwrap().labels().clone();
    let second: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "second"},
        "spec": {"maxUnavailable": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": selector["app.kubernetes.io/name"]}}},
    }))
    .unwrap();
    budgets.create(&PostParams::default(), &second).await.unwrap();
    let err = evict_raw(&pods, name, serde_json::json!({"preconditions": {"uid": uid}}))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 500);
            assert!(
                status.message.contains("more than one PodDisruptionBudget"),
                "{}",
                status.message
            );
        }
        other => panic!("expected 500, got {other:?}"),
    }
    budgets.delete("second", &DeleteParams::default()).await.unwrap();

    // The pod the precondition names, with a grace period: accepted, and the pod terminates.
    evict_raw(
        &pods,
        name,
        serde_json::json!({"preconditions": {"uid": uid}, "gracePeriodSeconds": 60}),
    )
    .await
    .unwrap();
    let pod = pods.get(name).await.unwrap();
    assert_eq!(pod.uid().as_deref(), Some(uid.as_str()));
    assert_eq!(pod.metadata.deletion_grace_period_seconds, Some(60));

    // The API server asks the budget before it checks the preconditions: with the budget spent,
    // even a stale UID gets the budget's 429, not a 409.
    let err = evict_raw(
        &pods,
        "crate-data-hot-alpha-2",
        serde_json::json!({"preconditions": {"uid": "not-this-one"}}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 429), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn scale_subresource_and_status() {
    let sim = sim();
    let sets: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    let scale = sets.get_scale("crate-data-hot-alpha").await.unwrap();
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let patch = serde_json::json!({"spec": {"replicas": 4}});
    sets.patch_scale(
        "crate-data-hot-alpha",
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .unwrap();
    let ready = |s: &StatefulSet| s.status.as_ref().and_then(|s| s.ready_replicas) == Some(4);
    let config = watcher::Config::default().fields("metadata.name=crate-data-hot-alpha");
    let mut stream = watcher(sets.clone(), config).boxed();
    loop {
        if let Event::Apply(s) | Event::InitApply(s) = stream.try_next().await.unwrap().unwrap()
            && ready(&s)
        {
            break;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn leases_use_optimistic_concurrency() {
    let sim = sim();
    let leases: Api<Lease> = Api::default_namespaced(client(&sim));
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cratectl-alpha"},
        "spec": {"holderIdentity": "worker-1", "leaseDurationSeconds": 60}
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let err = leases.create(&PostParams::default(), &lease).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );
    let mut mine = created.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("worker-2".into());
    let updated = leases
        .replace("cratectl-alpha", &PostParams::default(), &mine)
        .await
        .unwrap();
    assert_eq!(updated.spec.unwrap().holder_identity.as_deref(), Some("worker-2"));
    // Replacing from the stale copy loses: 409 Conflict.
    let err = leases
        .replace("cratectl-alpha", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn server_side_apply_creates_then_updates_and_json_patch_edits() {
    let sim = sim();
    let leases: Api<Lease> = Api::default_namespaced(client(&sim));
    let apply = |holder: &str| {
        serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "cratectl-beta"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30}
        })
    };
    let params = PatchParams::apply("cratectl").force();
    let created = leases
        .patch("cratectl-beta", &params, &Patch::Apply(apply("a")))
        .await
        .unwrap();
    assert_eq!(created.spec.unwrap().holder_identity.as_deref(), Some("a"));
    let updated = leases
        .patch("cratectl-beta", &params, &Patch::Apply(apply("b")))
        .await
        .unwrap();
    assert_eq!(updated.spec.unwrap().holder_identity.as_deref(), Some("b"));

    let sets: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    let ops: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "add", "path": "/metadata/labels/dc-util-routing-owner", "value": "operator-1"}
    ]))
    .unwrap();
    let patched = sets
        .patch(
            "crate-data-hot-alpha",
            &PatchParams::default(),
            &Patch::Json::<()>(ops),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.labels().get("dc-util-routing-owner").map(String::as_str),
        Some("operator-1")
    );
    // A failing test op is refused and changes nothing.
    let failing: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/labels/dc-util-routing-owner", "value": "someone-else"},
        {"op": "remove", "path": "/metadata/labels/dc-util-routing-owner"}
    ]))
    .unwrap();
    let err = sets
        .patch(
            "crate-data-hot-alpha",
            &PatchParams::default(),
            &Patch::Json::<()>(failing),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 422), "{err:?}");
    let unchanged = sets.get("crate-data-hot-alpha").await.unwrap();
    assert_eq!(
        unchanged
            .labels()
            .get("dc-util-routing-owner")
            .map(String::as_str),
        Some("operator-1")
    );
}

/// A strategic merge patch merges the StatefulSet's containers by name: patching the `crate`
/// container's command keeps its image, ports and hooks. A custom resource has no merge keys,
/// so the API server refuses a strategic merge patch of it (415), as a real one does.
#[tokio::test(start_paused = true)]
async fn strategic_merge_patches_merge_containers_by_name_and_are_refused_for_custom_resources() {
    let sim = sim();
    let sets: Api<StatefulSet> = Api::default_namespaced(client(&sim));
    let before = sets.get("crate-data-hot-alpha").await.unwrap();
    // The operator's pods run `sql-exporter` first: `crate` is the second container.
    let container = |sts: &StatefulSet| {
        let containers = &sts.spec.template.spec.as_ref().unwrap().containers;
        containers.iter().find(|c| c.name == "crate").unwrap().clone()
    };
    let names: Vec<String> = before
        .spec
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["sql-exporter", "crate"]);
    let old = container(&before);
    let mut command = old.command.clone().unwrap();
    command.push("-Cstats.jobs_log_size=1000".into());
    let patch = serde_json::json!({"spec": {"template": {"spec": {
        "containers": [{"name": "crate", "command": command}]
    }}}});
    let after = sets
        .patch(
            "crate-data-hot-alpha",
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
        .unwrap();
    let new = container(&after);
    assert_eq!(new.command.as_ref(), Some(&command));
    assert_eq!(new.image, old.image, "the image is kept");
    assert_eq!(new.ports, old.ports, "the ports are kept");
    assert_eq!(new.lifecycle, old.lifecycle, "the preStop hook is kept");
    assert_eq!(
        after.spec.template.spec.as_ref().unwrap().containers.len(),
        before.spec.template.spec.as_ref().unwrap().containers.len()
    );

    let resource = ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("cloud.crate.io", "v1", "CrateDB"),
        "cratedbs",
    );
    let crs: Api<DynamicObject> = Api::namespaced_with(client(&sim), "cratedb", &resource);
    let refused = crs
        .patch(
            "alpha",
            &PatchParams::default(),
            &Patch::Strategic(&serde_json::json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap_err();
    match refused {
        kube::Error::Api(status) => assert_eq!(status.code, 415, "{status:?}"),
        other => panic!("expected a 415, got {other:?}"),
    }
}
