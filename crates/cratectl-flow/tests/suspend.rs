//! Suspend and resume against cratesim, asserting on their reports and on what the simulator
//! saw: a cluster with dedicated masters and two data groups stops completely (the record
//! written before the first StatefulSet change, data StatefulSets before the masters, the
//! backup CronJob suspended and the Deployments at 0) and comes back with the same nodes, its
//! data, its settings as before and the record gone; in operator mode through the resource.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Setup, TestEngine, kube_writes};
use cratectl_core::op::report::{ClusterOutcome, ClusterState, OperationReport, RequestState};
use cratectl_core::scale::plan::Mode;
use cratectl_core::suspend::record::{ANNOTATION, SuspendRecord};
use cratectl_core::suspend::report::{NodeResult, ResumeClusterReport, SuspendClusterReport};
use cratectl_flow::model::{ClusterRef, Gate};
use cratectl_flow::ops::suspend::model::{
    RESUME_REQUEST, ResumeOptions, ResumeRequest, SUSPEND_REQUEST, SuspendOptions, SuspendRequest,
};
use cratesim::operator::ClusterShape;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn shape(name: &str, managed: bool) -> ClusterShape {
    let mut shape = ClusterShape::new(name, "cratedb");
    shape.operator = managed;
    shape.masters = 3;
    shape.data_groups = vec![("hot".into(), 3), ("cold".into(), 2)];
    shape.backups = true;
    shape.grand_central = true;
    shape.termination_grace_period_seconds = 60;
    shape.tables[0].rows = Some(12_345);
    shape
}

/// `SELECT count(*)` of `doc.events`, as CrateDB answers.
async fn events(setup: &Setup, name: &str) -> i64 {
    let env = cratectl_flow::env::ActivityEnv::new(None);
    let (kube, found) = env.cluster(&setup.target, &cluster(name)).await.unwrap();
    let client = env.client_avoiding(&kube, &found, None).await.unwrap();
    let result = client
        .sql_idempotent("SELECT count(*) FROM doc.events", &[])
        .await
        .unwrap();
    result.rows[0][0].as_i64().unwrap()
}

/// The persistent volume claims of the namespace.
async fn claims(setup: &Setup) -> Vec<String> {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let api: kube::Api<PersistentVolumeClaim> = kube::Api::namespaced(setup.kube(), "cratedb");
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    names.sort();
    names
}

fn cluster(name: &str) -> ClusterRef {
    ClusterRef {
        namespace: "cratedb".into(),
        resource: name.into(),
        name: name.into(),
    }
}

fn gate() -> Gate {
    Gate {
        polls: 3,
        interval: Duration::from_millis(100),
    }
}

fn suspend_request(setup: &Setup, id: &str, name: &str) -> SuspendRequest {
    SuspendRequest {
        request_id: id.into(),
        target: setup.target.clone(),
        clusters: vec![cluster(name)],
        options: SuspendOptions {
            gate: gate(),
            delete_client_service: true,
            ..SuspendOptions::default()
        },
    }
}

/// The client Service `crate-<name>`, when it exists.
async fn client_service(setup: &Setup, name: &str) -> Option<Value> {
    use k8s_openapi::api::core::v1::Service;
    let api: kube::Api<Service> = kube::Api::namespaced(setup.kube(), "cratedb");
    api.get_opt(&format!("crate-{name}"))
        .await
        .unwrap()
        .map(|s| serde_json::to_value(s).unwrap())
}

fn resume_request(setup: &Setup, id: &str, name: &str) -> ResumeRequest {
    ResumeRequest {
        request_id: id.into(),
        target: setup.target.clone(),
        clusters: vec![cluster(name)],
        options: ResumeOptions {
            gate: gate(),
            ..ResumeOptions::default()
        },
    }
}

/// The report of `id` once it no longer runs.
async fn finish<R: ClusterOutcome + DeserializeOwned>(setup: &Setup, id: &str) -> OperationReport<R> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let report = setup
            .restarts
            .report(id)
            .await
            .unwrap()
            .expect("the operation exists")
            .typed::<R>()
            .expect("a report of its kind");
        if report.state != RequestState::Running {
            return report;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The resource's annotations.
async fn annotations(setup: &Setup, name: &str) -> std::collections::BTreeMap<String, String> {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        setup.kube(),
        "cratedb",
        &kube::api::ApiResource {
            group: "cloud.crate.io".into(),
            version: "v1".into(),
            api_version: "cloud.crate.io/v1".into(),
            kind: "CrateDB".into(),
            plural: "cratedbs".into(),
        },
    );
    api.get(name)
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default()
}

async fn get(setup: &Setup, plural: &str, group: &str, kind: &str, name: &str) -> Value {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        setup.kube(),
        "cratedb",
        &kube::api::ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: if group.is_empty() {
                "v1".into()
            } else {
                format!("{group}/v1")
            },
            kind: kind.into(),
            plural: plural.into(),
        },
    );
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

async fn pods(setup: &Setup, name: &str) -> Vec<String> {
    use k8s_openapi::api::core::v1::Pod;
    let api: kube::Api<Pod> = kube::Api::namespaced(setup.kube(), "cratedb");
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .filter(|n| n.ends_with(&format!("-{name}-0")) || n.contains(&format!("-{name}-")))
        .collect();
    names.sort();
    names
}

/// Node name → id, as `sys.nodes` answers.
async fn node_ids(setup: &Setup, name: &str) -> Vec<(String, String)> {
    let env = cratectl_flow::env::ActivityEnv::new(None);
    let (kube, found) = env.cluster(&setup.target, &cluster(name)).await.unwrap();
    let client = env.client_avoiding(&kube, &found, None).await.unwrap();
    let mut out: Vec<(String, String)> = client
        .nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.name, n.id))
        .collect();
    out.sort();
    out
}

async fn suspend_and_resume(engine: TestEngine, managed: bool, expected: Mode, tag: &str) {
    let setup = Setup::start_on(
        engine,
        &format!("suspend-{tag}"),
        &[shape("alpha", managed)],
        20.0,
    )
    .await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    let ids_before = node_ids(&setup, "alpha").await;
    let service_before = client_service(&setup, "alpha").await.expect("a client Service");
    assert_eq!(events(&setup, "alpha").await, 12_345);
    let claims_before = claims(&setup).await;
    assert_eq!(
        claims_before.len(),
        8,
        "one data claim per node: {claims_before:?}"
    );
    assert!(claims_before.contains(&"data0-crate-data-cold-alpha-1".to_string()));
    assert_eq!(ids_before.len(), 8, "{ids_before:?}");

    let suspend = suspend_request(&setup, &format!("suspend-alpha-{tag}"), "alpha");
    setup
        .restarts
        .start(SUSPEND_REQUEST, &suspend.request_id, &suspend)
        .await
        .unwrap();
    let report = finish::<SuspendClusterReport>(&setup, &suspend.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{text}");
    assert_eq!(c.mode, Some(expected), "{text}");
    assert_eq!(
        c.replicas_before.as_ref().unwrap().text(),
        "master=3, cold=2, hot=3",
        "{text}"
    );
    assert!(pods(&setup, "alpha").await.is_empty(), "no pod left: {text}");
    assert_eq!(claims(&setup).await, claims_before, "PVCs are never touched");
    let record = annotations(&setup, "alpha").await[ANNOTATION].clone();
    let record = SuspendRecord::parse(&record, "cratedb/alpha").unwrap();
    assert_eq!(record.counts, c.replicas_before.clone().unwrap());
    assert_eq!(record.workflow_id, c.common.child_id);
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");

    let writes = kube_writes(&setup.sim_cluster("alpha"));
    if expected == Mode::Direct {
        // The hold survives the full stop (its persistent copy), and the CronJob and
        // Deployments are stopped as recorded.
        let persistent = setup.sim_cluster("alpha")["settings"]["persistent"].clone();
        assert_eq!(
            persistent["cluster.routing.allocation.enable"], "primaries",
            "{persistent}"
        );
        assert_eq!(c.hold.as_ref().unwrap().value, "primaries");
        assert_eq!(record.cronjobs, ["create-snapshot-alpha"]);
        assert_eq!(
            record.deployments.keys().collect::<Vec<_>>(),
            ["backup-metrics-alpha", "grand-central-alpha"]
        );
        let cronjob = get(&setup, "cronjobs", "batch", "CronJob", "create-snapshot-alpha").await;
        assert_eq!(cronjob["spec"]["suspend"], true);
        // --delete-client-service: saved in the record, then deleted.
        assert_eq!(client_service(&setup, "alpha").await, None);
        assert_eq!(
            c.client_service,
            cratectl_core::suspend::report::ClientService::Deleted
        );
        let saved = record.client_service.as_ref().expect("the Service in the record");
        assert_eq!(saved["spec"]["ports"], service_before["spec"]["ports"]);
        assert!(saved["spec"].get("clusterIP").is_none(), "{saved}");
        let gc = get(&setup, "deployments", "apps", "Deployment", "grand-central-alpha").await;
        assert_eq!(gc["spec"]["replicas"], 0);
        // The record is written before the first StatefulSet change, data before masters.
        let position = |needle: &str| {
            writes
                .iter()
                .position(|w| w.contains(needle))
                .unwrap_or_else(|| panic!("no write {needle}: {writes:#?}"))
        };
        let record_at = position("cratedbs/alpha");
        let hot = position("statefulsets/crate-data-hot-alpha");
        let cold = position("statefulsets/crate-data-cold-alpha");
        let master = position("statefulsets/crate-master-alpha");
        assert!(record_at < hot && hot < master && cold < master, "{writes:#?}");
    }

    // A second suspend has nothing to do.
    let again = suspend_request(&setup, &format!("suspend-again-{tag}"), "alpha");
    setup
        .restarts
        .start(SUSPEND_REQUEST, &again.request_id, &again)
        .await
        .unwrap();
    let report = finish::<SuspendClusterReport>(&setup, &again.request_id).await;
    assert!(
        report.clusters[0].common.warnings[0].contains("already suspended"),
        "{}",
        report.text()
    );

    let resume = resume_request(&setup, &format!("resume-alpha-{tag}"), "alpha");
    setup
        .restarts
        .start(RESUME_REQUEST, &resume.request_id, &resume)
        .await
        .unwrap();
    let report = finish::<ResumeClusterReport>(&setup, &resume.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let c = &report.clusters[0];
    assert_eq!(c.nodes.len(), 8, "{text}");
    assert!(c.nodes.iter().all(|n| n.result == NodeResult::Joined), "{text}");
    assert_eq!(
        node_ids(&setup, "alpha").await,
        ids_before,
        "the same nodes came back"
    );
    assert_eq!(events(&setup, "alpha").await, 12_345, "the data is intact");
    assert_eq!(claims(&setup).await, claims_before, "the same claims");
    assert!(
        !annotations(&setup, "alpha").await.contains_key(ANNOTATION),
        "record removed: {text}"
    );
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "settings as before: {text}"
    );
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    let cronjob = get(&setup, "cronjobs", "batch", "CronJob", "create-snapshot-alpha").await;
    assert_eq!(cronjob["spec"]["suspend"], false);
    let gc = get(&setup, "deployments", "apps", "Deployment", "grand-central-alpha").await;
    assert_eq!(gc["spec"]["replicas"], 1);
    assert_eq!(pods(&setup, "alpha").await.len(), 8, "{text}");
    let service_after = client_service(&setup, "alpha")
        .await
        .expect("the client Service is back");
    assert_eq!(
        service_after["spec"]["ports"], service_before["spec"]["ports"],
        "{text}"
    );
    assert_eq!(
        service_after["spec"]["selector"], service_before["spec"]["selector"],
        "{text}"
    );
    setup.stop().await;
}

on_both_engines!(a_cluster_is_suspended_and_resumed_directly, worker_threads = 4);

async fn a_cluster_is_suspended_and_resumed_directly(engine: TestEngine) {
    suspend_and_resume(engine, false, Mode::Direct, "direct").await;
}

on_both_engines!(
    a_cluster_is_suspended_and_resumed_through_the_operator,
    worker_threads = 4
);

async fn a_cluster_is_suspended_and_resumed_through_the_operator(engine: TestEngine) {
    suspend_and_resume(engine, true, Mode::Operator, "operator").await;
}

/// A suspend that fails before its first StatefulSet change (the API server refuses the
/// CronJob patch) undoes everything it did: the hold, the record; nothing was stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspend_failing_before_its_first_statefulset_change_undoes_everything() {
    let setup = Setup::start("suspend-undo", &[shape("alpha", false)]).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    setup.faults(&[cratesim::faults::Fault::ApiError {
        verb: Some("PATCH".into()),
        resource: Some("cronjobs".into()),
        code: 409,
        count: 1,
    }]);
    let suspend = suspend_request(&setup, "suspend-undo", "alpha");
    setup
        .restarts
        .start(SUSPEND_REQUEST, &suspend.request_id, &suspend)
        .await
        .unwrap();
    let report = finish::<SuspendClusterReport>(&setup, &suspend.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let c = &report.clusters[0];
    assert!(!c.committed, "{text}");
    assert!(
        c.common
            .reason
            .as_deref()
            .unwrap()
            .contains("suspend_stop_auxiliaries"),
        "{text}"
    );
    // The hold was set (and is put back), the record written (and removed).
    let sql = common::sql_writes(&setup.sim_cluster("alpha"));
    assert!(
        sql.iter()
            .any(|w| w.contains("cluster.routing.allocation.enable") && w.contains("primaries")),
        "the hold was set: {sql:#?}"
    );
    let writes = kube_writes(&setup.sim_cluster("alpha"));
    assert!(
        writes.iter().filter(|w| w.contains("cratedbs/alpha")).count() >= 2,
        "the record written, then removed: {writes:#?}"
    );
    assert!(
        !annotations(&setup, "alpha").await.contains_key(ANNOTATION),
        "{text}"
    );
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "the hold is put back: {text}"
    );
    assert!(
        !writes.iter().any(|w| w.contains("statefulsets/")),
        "no StatefulSet touched: {writes:#?}"
    );
    let cronjob = get(&setup, "cronjobs", "batch", "CronJob", "create-snapshot-alpha").await;
    assert_eq!(cronjob["spec"]["suspend"], false);
    let gc = get(&setup, "deployments", "apps", "Deployment", "grand-central-alpha").await;
    assert_eq!(gc["spec"]["replicas"], 1);
    assert_eq!(pods(&setup, "alpha").await.len(), 8);
    assert_eq!(setup.lease_holder("alpha").await, None, "Lease released");
    setup.stop().await;
}

/// The first StatefulSet write refused (someone changed the StatefulSet, or the API server
/// refuses the patch): nothing was stopped, so the suspend undoes the hold, the CronJob, the
/// Deployments and the record, as before its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_first_statefulset_write_undoes_everything() {
    let setup = Setup::start("suspend-first-write", &[shape("alpha", false)]).await;
    let settings_before = setup.sim_cluster("alpha")["settings"].clone();
    setup.faults(&[cratesim::faults::Fault::ApiError {
        verb: Some("PATCH".into()),
        resource: Some("statefulsets".into()),
        code: 409,
        count: 1,
    }]);
    let suspend = suspend_request(&setup, "suspend-first-write", "alpha");
    setup
        .restarts
        .start(SUSPEND_REQUEST, &suspend.request_id, &suspend)
        .await
        .unwrap();
    let report = finish::<SuspendClusterReport>(&setup, &suspend.request_id).await;
    let text = report.text();
    assert_eq!(report.state, RequestState::Failed, "{text}");
    let c = &report.clusters[0];
    assert!(!c.committed, "handed back to cleanup: {text}");
    assert!(
        c.common.reason.as_deref().unwrap().contains("scale_set_replicas"),
        "{text}"
    );
    assert!(
        !annotations(&setup, "alpha").await.contains_key(ANNOTATION),
        "{text}"
    );
    assert_eq!(
        setup.sim_cluster("alpha")["settings"],
        settings_before,
        "the hold is put back: {text}"
    );
    let cronjob = get(&setup, "cronjobs", "batch", "CronJob", "create-snapshot-alpha").await;
    assert_eq!(cronjob["spec"]["suspend"], false, "{text}");
    let gc = get(&setup, "deployments", "apps", "Deployment", "grand-central-alpha").await;
    assert_eq!(gc["spec"]["replicas"], 1, "{text}");
    assert_eq!(pods(&setup, "alpha").await.len(), 8);
    setup.stop().await;
}
