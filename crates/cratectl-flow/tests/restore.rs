//! The restore against cratesim: a snapshot of one cluster restored into another through a
//! repository on the same location (the simulator's object store is shared, as an S3 bucket
//! is), for each scope, with names that need quoting; what the simulator saw afterwards (rows,
//! users, settings, repositories) and what the workflow records (never a Secret value).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Setup, TestEngine};
use cratectl_core::op::report::{ClusterState, RequestState};
use cratectl_core::restore::input::Scope;
use cratectl_core::restore::report::{GcResult, RestoreClusterReport, RestoreReport, TableResult};
use cratectl_core::restore::repository::Provider;
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate};
use cratectl_flow::ops::restore::model::{RESTORE_REQUEST, RepositoryChoice, RestoreOptions, RestoreRequest};
use cratesim::cratedb::{TableSpec, partition_ident};
use cratesim::operator::ClusterShape;
use serde_json::Value;

const ACCESS_KEY: &str = "AKIAEXAMPLEKEY42";
const SECRET_KEY: &str = "s3cr3t-Value-that-must-never-show";

fn table(schema: &str, name: &str, shards: u32, rows: u64) -> TableSpec {
    TableSpec {
        schema: schema.into(),
        name: name.into(),
        shards,
        replicas: "0-1".into(),
        partitions: Vec::new(),
        partitioned_by: Vec::new(),
        rows: Some(rows),
    }
}

fn partitioned(name: &str, days: &[&str], rows: u64) -> TableSpec {
    TableSpec {
        partitions: days.iter().map(|d| partition_ident(&[Some(d)])).collect(),
        partitioned_by: vec!["day".into()],
        ..table("doc", name, 2, rows)
    }
}

/// `src` with tables whose names need quoting, and an empty `dst`.
fn shapes(src_tables: Vec<TableSpec>, dst_tables: Vec<TableSpec>) -> Vec<ClusterShape> {
    let mut src = ClusterShape::new("src", "cratedb");
    src.tables = src_tables;
    src.operator = false;
    let mut dst = ClusterShape::new("dst", "cratedb");
    dst.tables = dst_tables;
    dst.operator = false;
    vec![src, dst]
}

fn quoted_tables() -> Vec<TableSpec> {
    vec![
        table("doc", "Events", 3, 1234),
        table("doc", "select", 2, 77),
        partitioned("mëtrics", &["1700000000000", "1700086400000"], 500),
    ]
}

async fn sql(setup: &Setup, cluster: &str, stmt: &str) -> Vec<Vec<Value>> {
    let env = ActivityEnv::new(None);
    let at = ClusterRef {
        namespace: "cratedb".into(),
        resource: cluster.into(),
        name: cluster.into(),
    };
    let (kube, found) = env.cluster(&setup.target, &at).await.unwrap();
    // As `crate` over a port-forward (trusted from localhost), so a test can change `system`.
    let pod = cratectl_flow::env::reading_pod(&found, None).unwrap();
    let client = cratectl_flow::env::pod_client(&kube, &found, pod, cratectl_cratedb::Credentials::None);
    client
        .sql(stmt, &[])
        .await
        .unwrap_or_else(|e| panic!("{stmt}: {e}"))
        .rows
}

/// A repository `backups` on the shared location in `cluster`.
async fn repository(setup: &Setup, cluster: &str) {
    sql(
        setup,
        cluster,
        &format!(
            "CREATE REPOSITORY \"backups\" TYPE s3 WITH (bucket = 'bkt', base_path = 'nightly', \
             access_key = '{ACCESS_KEY}', secret_key = '{SECRET_KEY}')"
        ),
    )
    .await;
}

/// Snapshot `name` of every table of `src` (with its settings and users), once it is done.
async fn snapshot(setup: &Setup, name: &str) {
    // Waits until it is done (the simulator answers once it is, as CrateDB does).
    sql(
        setup,
        "src",
        &format!("CREATE SNAPSHOT \"backups\".\"{name}\" ALL WITH (wait_for_completion = true)"),
    )
    .await;
}

/// The Secret `restore-creds` with the S3 keys of the shared location.
async fn secret(setup: &Setup) {
    use k8s_openapi::api::core::v1::Secret;
    let api: kube::Api<Secret> = kube::Api::namespaced(setup.kube(), "cratedb");
    let data: BTreeMap<String, String> = [
        ("access-key-id", ACCESS_KEY),
        ("secret-access-key", SECRET_KEY),
        ("bucket", "bkt"),
        ("base-path", "nightly"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("restore-creds".into()),
            ..Default::default()
        },
        string_data: Some(data),
        ..Default::default()
    };
    api.create(&Default::default(), &secret).await.unwrap();
}

fn request(setup: &Setup, id: &str, scope: Scope, repository: RepositoryChoice) -> RestoreRequest {
    RestoreRequest {
        request_id: id.into(),
        target: setup.target.clone(),
        clusters: vec![ClusterRef {
            namespace: "cratedb".into(),
            resource: "dst".into(),
            name: "dst".into(),
        }],
        options: RestoreOptions {
            snapshot: "s1".into(),
            scope,
            repository,
            gate: Gate {
                polls: 2,
                interval: Duration::from_millis(100),
            },
            ..RestoreOptions::default()
        },
    }
}

async fn run(setup: &Setup, request: &RestoreRequest) -> RestoreReport {
    setup
        .restarts
        .start(RESTORE_REQUEST, &request.request_id, request)
        .await
        .unwrap();
    until(setup, &request.request_id, |r| r.state != RequestState::Running).await
}

async fn until(setup: &Setup, id: &str, done: impl Fn(&RestoreReport) -> bool) -> RestoreReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let report = setup
            .restarts
            .report(id)
            .await
            .unwrap()
            .expect("the restore exists")
            .typed::<RestoreClusterReport>()
            .expect("a restore report");
        if done(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not there: {}",
            report.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(rows: &[Vec<Value>]) -> u64 {
    rows[0][0].as_u64().unwrap()
}

async fn repositories(setup: &Setup, cluster: &str) -> Vec<String> {
    sql(setup, cluster, "SELECT name FROM sys.repositories ORDER BY name")
        .await
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect()
}

on_both_engines!(
    tables_and_a_partition_with_quoted_names_from_a_secret_repository,
    worker_threads = 4
);

async fn tables_and_a_partition_with_quoted_names_from_a_secret_repository(engine: TestEngine) {
    let setup = Setup::start_on(
        engine,
        "restore-tables",
        &shapes(quoted_tables(), Vec::new()),
        20.0,
    )
    .await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    secret(&setup).await;
    let settings_before = setup.sim_cluster("dst")["settings"].clone();
    let scope = Scope::from_options(
        false,
        false,
        false,
        &["\"Events\"".into(), "doc.\"select\"".into()],
        &["\"mëtrics\":day=1700086400000".into()],
        &[],
    )
    .unwrap();
    let req = request(
        &setup,
        "restore-dst-1",
        scope,
        RepositoryChoice::Secret {
            secret: "restore-creds".into(),
            provider: Provider::S3,
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    assert_eq!(
        c.statement.as_deref().unwrap(),
        format!(
            "RESTORE SNAPSHOT \"{}\".\"s1\" TABLE \"doc\".\"Events\", \"doc\".\"select\", \"doc\".\"mëtrics\" \
             PARTITION (\"day\" = 1700086400000) WITH (wait_for_completion = false)",
            c.repository.as_ref().unwrap().name
        )
    );
    assert!(
        c.tables.iter().all(|t| t.result == TableResult::Restored),
        "{}",
        report.text()
    );
    let repo = c.repository.as_ref().unwrap();
    assert!(
        repo.name.starts_with("cratectl_restore_") && repo.created && repo.dropped,
        "{repo:?}"
    );
    assert_eq!(c.progress_percent, Some(100));
    assert!(c.passwords_reset.is_empty(), "a tables restore keeps users");

    // The data is there; only the partition asked for; nothing left behind.
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"doc\".\"Events\"").await),
        1234
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM doc.\"select\"").await),
        77
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"mëtrics\"").await),
        500
    );
    assert_eq!(repositories(&setup, "dst").await, Vec::<String>::new());
    assert_eq!(
        setup.sim_cluster("dst")["settings"],
        settings_before,
        "tuning put back"
    );
    assert_eq!(setup.lease_holder("dst").await, None);

    // The other partition alone, into the table that exists now (a partitions-only restore).
    let scope = Scope::from_options(
        false,
        false,
        false,
        &[],
        &["doc.\"mëtrics\":\"day\"=1700000000000".into()],
        &[],
    )
    .unwrap();
    let second = request(
        &setup,
        "restore-dst-1b",
        scope,
        RepositoryChoice::Secret {
            secret: "restore-creds".into(),
            provider: Provider::S3,
        },
    );
    let again = run(&setup, &second).await;
    assert_eq!(
        again.clusters[0].common.state,
        ClusterState::Succeeded,
        "{}",
        again.text()
    );
    assert_eq!(
        again.clusters[0].restore_type,
        Some(cratectl_core::restore::input::RestoreType::Partitions)
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"mëtrics\"").await),
        1000
    );

    // Never a Secret value: not in the report, not in the engine's records.
    let json = serde_json::to_string(&report).unwrap();
    let records = setup.engine_records();
    assert!(
        records.contains("restore-creds"),
        "the engine's records are read (they name the Secret)"
    );
    for value in [ACCESS_KEY, SECRET_KEY] {
        assert!(!json.contains(value), "report holds a secret: {json}");
        assert!(!records.contains(value), "the engine's records hold a secret");
    }
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_sets_the_system_password_back_and_reports_replaced_settings() {
    let setup = Setup::start("restore-all", &shapes(quoted_tables(), Vec::new())).await;
    repository(&setup, "src").await;
    // The source's own system password and a persistent setting travel in an ALL snapshot.
    sql(
        &setup,
        "src",
        "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-9'",
    )
    .await;
    // Last: after this, `system` no longer logs in to src with its Secret's password.
    sql(
        &setup,
        "src",
        "ALTER USER \"system\" SET (password = 'source-only-password')",
    )
    .await;
    snapshot(&setup, "s1").await;
    repository(&setup, "dst").await;
    let req = request(
        &setup,
        "restore-dst-2",
        Scope::All,
        RepositoryChoice::Existing {
            name: "backups".into(),
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    assert_eq!(c.passwords_reset, vec!["system".to_string()]);
    assert!(
        c.settings_changed_by_snapshot
            .iter()
            .any(|s| s.name == "cluster.routing.allocation.exclude._name" && s.after == "data-hot-9"),
        "{}",
        report.text()
    );
    // `system` logs in with the cluster's own Secret again.
    setup.sql("dst", "SELECT 1").await;
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"doc\".\"Events\"").await),
        1234
    );
    // An existing repository is never dropped.
    assert_eq!(repositories(&setup, "dst").await, vec!["backups".to_string()]);
    assert!(!c.repository.as_ref().unwrap().created);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_tables_are_renamed_away_and_the_originals_dropped_after_success() {
    let mut src = quoted_tables();
    src.push(table("gc", "scheduled_jobs", 1, 11));
    let setup = Setup::start(
        "restore-gc",
        &shapes(src, vec![table("gc", "scheduled_jobs", 1, 99)]),
    )
    .await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    repository(&setup, "dst").await;
    let req = request(
        &setup,
        "restore-dst-3",
        Scope::TablesAll,
        RepositoryChoice::Existing {
            name: "backups".into(),
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    assert_eq!(c.keyword.as_deref(), Some("TABLES"));
    assert_eq!(c.gc_tables.len(), 1);
    assert_eq!(c.gc_tables[0].result, GcResult::Dropped);
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM gc.scheduled_jobs").await),
        11
    );
    let left = sql(&setup, "dst", "SHOW TABLES FROM \"gc\"").await;
    assert_eq!(
        left,
        vec![vec![Value::from("scheduled_jobs")]],
        "the renamed original is gone"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_existing_table_is_refused_before_anything_is_written() {
    let setup = Setup::start(
        "restore-conflict",
        &shapes(quoted_tables(), vec![table("doc", "Events", 1, 5)]),
    )
    .await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    repository(&setup, "dst").await;
    let writes_before = common::sql_writes(&setup.sim_cluster("dst")).len();
    let req = request(
        &setup,
        "restore-dst-4",
        Scope::TablesAll,
        RepositoryChoice::Existing {
            name: "backups".into(),
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Failed);
    let reason = c.common.reason.clone().unwrap();
    assert!(
        reason.contains("doc.\"Events\" already exists in cratedb/dst"),
        "{reason}"
    );
    assert_eq!(
        common::sql_writes(&setup.sim_cluster("dst")).len(),
        writes_before,
        "nothing written: {:?}",
        common::sql_writes(&setup.sim_cluster("dst"))
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"doc\".\"Events\"").await),
        5
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_restore_puts_the_original_gc_table_back_under_its_name() {
    let mut src = quoted_tables();
    src.push(table("gc", "scheduled_jobs", 1, 11));
    let setup = Setup::start(
        "restore-gc-fails",
        &shapes(src, vec![table("gc", "scheduled_jobs", 1, 99)]),
    )
    .await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    repository(&setup, "dst").await;
    let settings_before = setup.sim_cluster("dst")["settings"].clone();
    setup.faults(&[cratesim::faults::Fault::RestoreFails {
        namespace: "cratedb".into(),
        cluster: "dst".into(),
        table: "gc.scheduled_jobs".into(),
    }]);
    let req = request(
        &setup,
        "restore-dst-5",
        Scope::TablesAll,
        RepositoryChoice::Existing {
            name: "backups".into(),
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Failed, "{}", report.text());
    let reason = c.common.reason.clone().unwrap();
    assert!(
        reason.contains("gc.scheduled_jobs") && reason.contains("failed to be restored from the snapshot"),
        "{reason}"
    );
    let gc = c.tables.iter().find(|t| t.table == "gc.scheduled_jobs").unwrap();
    assert_eq!(gc.result, TableResult::Failed);
    assert_eq!(c.gc_tables[0].result, GcResult::RenamedBack, "{}", report.text());
    // The original is back under its name (the partial restore dropped first), its rows intact.
    assert_eq!(
        sql(&setup, "dst", "SHOW TABLES FROM \"gc\"").await,
        vec![vec![Value::from("scheduled_jobs")]]
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM gc.scheduled_jobs").await),
        99
    );
    // The other tables were restored and stay (cratectl never drops them).
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"doc\".\"Events\"").await),
        1234
    );
    assert_eq!(
        setup.sim_cluster("dst")["settings"],
        settings_before,
        "tuning put back"
    );
    assert_eq!(setup.lease_holder("dst").await, None);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_and_sections_through_the_resource_and_a_secret() {
    let setup = Setup::start("restore-scopes", &shapes(quoted_tables(), Vec::new())).await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    secret(&setup).await;
    // The operator's restore block, with Secret references and no snapshot requested.
    {
        use kube::api::{Patch, PatchParams};
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
        let reference =
            |key: &str| serde_json::json!({"secretKeyRef": {"name": "restore-creds", "key": key}});
        let patch = serde_json::json!({"spec": {"cluster": {"restoreSnapshot": {
            "snapshot": "",
            "backupProvider": "aws",
            "accessKeyId": reference("access-key-id"),
            "secretAccessKey": reference("secret-access-key"),
            "bucket": reference("bucket"),
            "basePath": reference("base-path"),
        }}}});
        api.patch("dst", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }
    // METADATA: no table, users replaced (the system password set back).
    let req = request(
        &setup,
        "restore-dst-6",
        Scope::Metadata,
        RepositoryChoice::Secret {
            secret: "restore-creds".into(),
            provider: Provider::S3,
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    assert!(c.tables.is_empty());
    assert_eq!(c.passwords_reset, vec!["system".to_string()], "{}", report.text());
    setup.sql("dst", "SELECT 1").await;
    assert!(
        sql(&setup, "dst", "SHOW TABLES").await.is_empty(),
        "METADATA restores no table"
    );

    // Sections TABLES and VIEWS, the repository from the resource's references.
    let scope =
        Scope::from_options(false, false, false, &[], &[], &["tables".into(), "views".into()]).unwrap();
    let req = request(&setup, "restore-dst-7", scope, RepositoryChoice::Resource);
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    assert_eq!(c.keyword.as_deref(), Some("TABLES, VIEWS"));
    assert_eq!(c.tables.len(), 3, "{}", report.text());
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"doc\".\"Events\"").await),
        1234
    );
    assert_eq!(
        count(&sql(&setup, "dst", "SELECT count(*) FROM \"mëtrics\"").await),
        1000
    );
    assert!(c.repository.as_ref().unwrap().dropped);
    assert_eq!(repositories(&setup, "dst").await, Vec::<String>::new());
    setup.stop().await;
}

/// grand-central's Deployment replicas, read from the simulated API.
async fn grand_central(setup: &Setup, name: &str) -> Option<i32> {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: kube::Api<Deployment> = kube::Api::namespaced(setup.kube(), "cratedb");
    api.get(&format!("grand-central-{name}"))
        .await
        .unwrap()
        .spec
        .replicas
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grand_central_stops_for_the_restore_of_its_tables_and_gc_admin_gets_its_password_back() {
    let mut src = quoted_tables();
    src.push(table("gc", "scheduled_jobs", 1, 11));
    let mut shapes = shapes(src, vec![table("gc", "scheduled_jobs", 1, 99)]);
    shapes[0].grand_central = true;
    shapes[1].grand_central = true;
    let setup = Setup::start("restore-grand-central", &shapes).await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    repository(&setup, "dst").await;
    assert_eq!(grand_central(&setup, "dst").await, Some(1));
    let req = request(
        &setup,
        "restore-dst-8",
        Scope::All,
        RepositoryChoice::Existing {
            name: "backups".into(),
        },
    );
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Succeeded, "{}", report.text());
    // Scaled to 0 before the renames and back to 1 at the end: two patches, ending at 1.
    let patches: Vec<String> = common::kube_writes(&setup.sim_cluster("dst"))
        .into_iter()
        .filter(|w| w.contains("deployments/grand-central-dst"))
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert_eq!(
        grand_central(&setup, "dst").await,
        Some(1),
        "back after the restore"
    );
    // Both passwords were replaced by the snapshot's and set back from dst's Secrets.
    assert_eq!(
        c.passwords_reset,
        vec!["system".to_string(), "gc_admin".to_string()]
    );
    assert_eq!(c.gc_tables[0].result, GcResult::Dropped);
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_that_times_out_still_restoring_leaves_its_repository_and_says_so() {
    let setup = Setup::start("restore-timeout", &shapes(quoted_tables(), Vec::new())).await;
    repository(&setup, "src").await;
    snapshot(&setup, "s1").await;
    secret(&setup).await;
    // Nothing can take the restored primaries: CrateDB keeps restoring.
    sql(
        &setup,
        "dst",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-*'",
    )
    .await;
    let scope = Scope::from_options(false, false, false, &["\"Events\"".into()], &[], &[]).unwrap();
    let mut req = request(
        &setup,
        "restore-dst-9",
        scope,
        RepositoryChoice::Secret {
            secret: "restore-creds".into(),
            provider: Provider::S3,
        },
    );
    req.options.timeouts.restore = Duration::from_secs(2);
    let report = run(&setup, &req).await;
    let c = &report.clusters[0];
    assert_eq!(c.common.state, ClusterState::Failed, "{}", report.text());
    let reason = c.common.reason.clone().unwrap();
    assert!(
        reason.contains("timed out after 2s waiting for the restore"),
        "{reason}"
    );
    assert!(
        reason.contains("cleanup incomplete")
            && reason.contains("is still used by a restore in progress")
            && reason.contains("DROP REPOSITORY \"cratectl_restore_"),
        "{reason}"
    );
    let repo = c.repository.as_ref().unwrap();
    assert!(repo.created && !repo.dropped, "{repo:?}");
    // Once its table is dropped, the restore is over and the statement given works.
    sql(&setup, "dst", "DROP TABLE \"doc\".\"Events\"").await;
    sql(&setup, "dst", &format!("DROP REPOSITORY \"{}\"", repo.name)).await;
    assert_eq!(repositories(&setup, "dst").await, Vec::<String>::new());
    setup.stop().await;
}
