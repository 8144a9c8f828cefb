//! Snapshot and restore workflows at the model level: the object store clusters share,
//! repository validation, what a restore replaces, renames, row counts, partition columns and
//! restore failures (docs/cratedb-behaviour.md#snapshots-and-restores).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratesim::cratedb::{
    Auth, ClusterSpec, CrateCluster, NodeSpec, SqlReply, TableSpec, Timings, partition_ident,
};
use serde_json::{Value, json};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn spec(name: &str) -> ClusterSpec {
    ClusterSpec {
        name: name.into(),
        version: "5.10.3".into(),
        nodes: (0..3)
            .map(|i| NodeSpec {
                name: format!("data-hot-{i}"),
                master_eligible: true,
                data: true,
            })
            .collect(),
        tables: vec![TableSpec {
            schema: "doc".into(),
            name: "t1".into(),
            shards: 4,
            replicas: "1".into(),
            partitions: vec![],
            partitioned_by: vec![],
            rows: Some(1001),
        }],
        system_password: "pw".into(),
        timings: Timings::default(),
    }
}

fn send(c: &mut CrateCluster, stmt: &str, args: Value, now: Duration) -> SqlReply {
    let body = serde_json::to_vec(&json!({"stmt": stmt, "args": args})).unwrap();
    c.sql(
        "data-hot-0",
        false,
        false,
        &body,
        Some(&Auth::basic("system", "pw")),
        now,
    )
}

fn query_args(c: &mut CrateCluster, stmt: &str, args: Value, now: Duration) -> Value {
    let reply = send(c, stmt, args, now);
    assert_eq!(reply.status, 200, "{stmt}: {:?}", reply.body);
    reply.json_body().unwrap().clone()
}

fn query(c: &mut CrateCluster, stmt: &str, now: Duration) -> Value {
    query_args(c, stmt, json!([]), now)
}

fn rows(c: &mut CrateCluster, stmt: &str, now: Duration) -> Value {
    query(c, stmt, now)["rows"].clone()
}

/// `(status, message, code)` of an error reply.
fn error(c: &mut CrateCluster, stmt: &str, args: Value, now: Duration) -> (u16, String, i64) {
    let reply = send(c, stmt, args, now);
    let body = reply.json_body().unwrap();
    (
        reply.status,
        body["error"]["message"].as_str().unwrap_or_default().to_string(),
        body["error"]["code"].as_i64().unwrap_or_default(),
    )
}

/// Two clusters sharing one object store, as every cluster of a simulation does.
fn pair() -> (CrateCluster, CrateCluster) {
    let a = CrateCluster::new(spec("a"), Duration::ZERO);
    let mut b = CrateCluster::new(spec("b"), Duration::ZERO);
    b.set_object_store(a.object_store());
    (a, b)
}

#[test]
fn snapshots_live_in_the_location_every_cluster_shares() {
    let (mut a, mut b) = pair();
    query(
        &mut a,
        "CREATE REPOSITORY r TYPE s3 WITH (bucket = 'bk', base_path = 'p', access_key = 'AK', secret_key = 'SK')",
        secs(1),
    );
    // Settings from bind parameters, booleans included.
    query_args(
        &mut b,
        "CREATE REPOSITORY \"other\" TYPE s3 WITH (bucket = ?, base_path = ?, readonly = ?, access_key = ?)",
        json!(["bk", "p", true, "AK2"]),
        secs(1),
    );
    query(&mut a, "CREATE SNAPSHOT r.s1 ALL", secs(2));
    // B lists A's snapshot under its own repository name; it sees only its own repositories.
    assert_eq!(
        rows(
            &mut b,
            "SELECT name, repository, state FROM sys.snapshots",
            secs(2)
        ),
        json!([["s1", "other", "IN_PROGRESS"]])
    );
    assert_eq!(
        rows(
            &mut b,
            "SELECT name, settings['access_key'], settings['readonly'] FROM sys.repositories",
            secs(2)
        ),
        json!([["other", "[xxxxx]", "true"]])
    );
    assert_eq!(
        rows(&mut b, "SELECT state FROM sys.snapshots", secs(30)),
        json!([["SUCCESS"]])
    );
    // A read-only repository refuses new snapshots.
    assert_eq!(
        error(&mut b, "CREATE SNAPSHOT other.s2 ALL", json!([]), secs(31)),
        (
            500,
            "RepositoryException[[other] cannot create snapshot in a readonly repository]".into(),
            5000
        )
    );
    // A's snapshot restores in B.
    query(&mut b, "DROP TABLE t1", secs(32));
    query(&mut b, "RESTORE SNAPSHOT other.s1 TABLE t1", secs(33));
    assert_eq!(
        rows(
            &mut b,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 't1'",
            secs(34)
        ),
        json!([[1]])
    );
    // Dropping a repository keeps the snapshots; dropping a snapshot deletes it everywhere.
    query(&mut a, "DROP REPOSITORY r", secs(40));
    assert_eq!(
        query(&mut b, "SELECT name FROM sys.snapshots", secs(40))["rowcount"],
        1
    );
    query(
        &mut a,
        "CREATE REPOSITORY again TYPE s3 WITH (bucket = 'bk', base_path = 'p')",
        secs(41),
    );
    assert_eq!(
        rows(&mut a, "SELECT repository FROM sys.snapshots", secs(41)),
        json!([["again"]])
    );
    query(&mut a, "DROP SNAPSHOT again.s1", secs(42));
    assert_eq!(
        query(&mut b, "SELECT name FROM sys.snapshots", secs(42))["rowcount"],
        0
    );
    // Another location does not see it.
    query(&mut a, "CREATE SNAPSHOT again.s3 ALL", secs(43));
    query(
        &mut b,
        "CREATE REPOSITORY elsewhere TYPE s3 WITH (bucket = 'bk', base_path = 'q')",
        secs(43),
    );
    assert_eq!(
        rows(&mut b, "SELECT repository FROM sys.snapshots", secs(60)),
        json!([["other"]])
    );
}

#[test]
fn private_stores_do_not_share() {
    let mut a = CrateCluster::new(spec("a"), Duration::ZERO);
    let mut b = CrateCluster::new(spec("b"), Duration::ZERO);
    for c in [&mut a, &mut b] {
        query(c, "CREATE REPOSITORY r TYPE fs WITH (location = '/x')", secs(1));
    }
    query(&mut a, "CREATE SNAPSHOT r.s ALL", secs(2));
    assert_eq!(
        query(&mut b, "SELECT name FROM sys.snapshots", secs(3))["rowcount"],
        0
    );
}

#[test]
fn repository_parameters_are_validated() {
    let mut c = CrateCluster::new(spec("a"), Duration::ZERO);
    for (stmt, message) in [
        (
            "CREATE REPOSITORY r TYPE nope",
            "SQLParseException[Invalid repository type \"nope\"]",
        ),
        (
            "CREATE REPOSITORY r TYPE fs",
            "SQLParseException[The following required parameters are missing to create a repository of type \"fs\": [location]]",
        ),
        (
            "CREATE REPOSITORY r TYPE s3 WITH (bucket = 'b', colour = 'red')",
            "SQLParseException[Invalid parameters specified: [colour]]",
        ),
        (
            "CREATE REPOSITORY r TYPE fs WITH (location = '/x', bucket = 'b')",
            "SQLParseException[Invalid parameters specified: [bucket]]",
        ),
        (
            "CREATE REPOSITORY r TYPE azure WITH (container = 'c', region = 'x')",
            "SQLParseException[Invalid parameters specified: [region]]",
        ),
    ] {
        assert_eq!(
            error(&mut c, stmt, json!([]), secs(1)),
            (400, message.into(), 4000),
            "{stmt}"
        );
    }
    query(&mut c, "CREATE REPOSITORY r TYPE s3", secs(1));
    query(
        &mut c,
        "CREATE REPOSITORY az TYPE azure WITH (account = 'a', key = 'k', container = 'c', base_path = 'b')",
        secs(1),
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT settings['account'], settings['key'], settings['container'] FROM sys.repositories WHERE name = 'az'",
            secs(1)
        ),
        json!([["[xxxxx]", "[xxxxx]", "c"]])
    );
    let _ = partition_ident(&[Some("1")]);
}

#[test]
fn a_restore_replaces_persistent_settings_and_users() {
    let mut c = CrateCluster::new(spec("a"), Duration::ZERO);
    query(
        &mut c,
        "CREATE REPOSITORY r TYPE fs WITH (location = '/x')",
        secs(1),
    );
    query(
        &mut c,
        "SET GLOBAL PERSISTENT cluster.graceful_stop.timeout = '1h'",
        secs(1),
    );
    query(&mut c, "CREATE USER alice WITH (password = 'a')", secs(1));
    query(&mut c, "CREATE SNAPSHOT r.s ALL", secs(2));
    query(
        &mut c,
        "SET GLOBAL PERSISTENT cluster.routing.allocation.enable = 'primaries'",
        secs(3),
    );
    query(
        &mut c,
        "SET GLOBAL TRANSIENT cluster.routing.allocation.node_concurrent_recoveries = 7",
        secs(3),
    );
    query(&mut c, "DROP USER alice", secs(3));
    query(&mut c, "CREATE USER bob", secs(3));
    query(&mut c, "DROP TABLE t1", secs(3));
    query(&mut c, "RESTORE SNAPSHOT r.s ALL", secs(30));
    let (transient, persistent) = c.settings();
    assert_eq!(
        persistent.keys().collect::<Vec<_>>(),
        ["cluster.graceful_stop.timeout"],
        "the snapshot's persistent settings, nothing else"
    );
    assert_eq!(
        transient["cluster.routing.allocation.node_concurrent_recoveries"],
        json!("7")
    );
    // METADATA keeps only the snapshot's analyzer settings: none here, so none at all.
    query(
        &mut c,
        "SET GLOBAL PERSISTENT cluster.routing.allocation.enable = 'primaries'",
        secs(31),
    );
    query(&mut c, "CREATE USER carol", secs(31));
    query(&mut c, "RESTORE SNAPSHOT r.s METADATA", secs(32));
    assert!(c.settings().1.is_empty());
    let users = rows(
        &mut c,
        "SELECT name, password FROM sys.users ORDER BY name",
        secs(33),
    );
    assert_eq!(
        users,
        json!([["alice", "********"], ["crate", null], ["system", "********"]])
    );
}

#[test]
fn sys_users_lists_users_with_masked_passwords() {
    let mut c = CrateCluster::new(spec("a"), Duration::ZERO);
    query(&mut c, "CREATE USER dave", secs(1));
    assert_eq!(
        rows(
            &mut c,
            "SELECT name, superuser, password, jwt FROM sys.users ORDER BY name",
            secs(1)
        ),
        json!([
            ["crate", true, null, null],
            ["dave", false, null, null],
            ["system", false, "********", null]
        ])
    );
}

fn with_tables(name: &str, tables: Vec<TableSpec>) -> CrateCluster {
    let mut s = spec(name);
    s.tables = tables;
    CrateCluster::new(s, Duration::ZERO)
}

fn table(schema: &str, name: &str, partitions: Vec<String>) -> TableSpec {
    TableSpec {
        schema: schema.into(),
        name: name.into(),
        shards: 2,
        replicas: "1".into(),
        partitioned_by: if partitions.is_empty() {
            vec![]
        } else {
            vec!["day".into()]
        },
        partitions,
        rows: None,
    }
}

#[test]
fn alter_table_rename_keeps_the_shards() {
    let mut c = with_tables(
        "a",
        vec![
            table("gc", "scheduled_jobs", vec![]),
            table("doc", "parted", vec![partition_ident(&[Some("1")])]),
            table("doc", "taken", vec![]),
        ],
    );
    let shards = |c: &mut CrateCluster, t: &str| {
        rows(
            c,
            &format!(
                "SELECT id, node['name'], primary FROM sys.shards WHERE table_name = '{t}' ORDER BY 1, 2"
            ),
            secs(1),
        )
    };
    let before = shards(&mut c, "scheduled_jobs");
    let r = query(
        &mut c,
        "ALTER TABLE \"gc\".\"scheduled_jobs\" RENAME TO \"scheduled_jobs_temp\"",
        secs(1),
    );
    assert_eq!(r["rowcount"], -1);
    assert_eq!(shards(&mut c, "scheduled_jobs_temp"), before);
    assert_eq!(
        rows(
            &mut c,
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'scheduled_jobs_temp'",
            secs(1)
        ),
        json!([["gc"]])
    );
    assert!(c.sql_writes().iter().any(|w| w.stmt.contains("RENAME TO")));
    query(
        &mut c,
        "ALTER TABLE gc.scheduled_jobs_temp RENAME TO gc.scheduled_jobs",
        secs(2),
    );
    query(&mut c, "ALTER TABLE parted RENAME TO parted2", secs(2));
    assert_eq!(
        rows(
            &mut c,
            "SELECT table_name FROM information_schema.table_partitions",
            secs(2)
        ),
        json!([["parted2"]])
    );
    assert_eq!(
        error(&mut c, "ALTER TABLE nope RENAME TO x", json!([]), secs(3)),
        (404, "RelationUnknown[Relation 'nope' unknown]".into(), 4041)
    );
    assert_eq!(
        error(&mut c, "ALTER TABLE parted2 RENAME TO taken", json!([]), secs(3)),
        (
            409,
            "RelationAlreadyExists[Relation 'doc.taken' already exists.]".into(),
            4093
        )
    );
    assert_eq!(
        error(
            &mut c,
            "ALTER TABLE gc.scheduled_jobs RENAME TO doc.x",
            json!([]),
            secs(3)
        )
        .1,
        "SQLParseException[Cannot rename a table to a different schema]"
    );
}

#[test]
fn show_tables_lists_a_schemas_base_tables() {
    let mut c = with_tables(
        "a",
        vec![
            table("gc", "scheduled_jobs", vec![]),
            table("gc", "alembic_version", vec![]),
            table("doc", "parted", vec![partition_ident(&[Some("1")])]),
            table("doc", "events", vec![]),
        ],
    );
    let shown = query(&mut c, "SHOW TABLES", secs(1));
    assert_eq!(shown["cols"], json!(["table_name"]));
    // Without FROM: every schema but the system ones.
    assert_eq!(
        shown["rows"],
        json!([["alembic_version"], ["events"], ["parted"], ["scheduled_jobs"]])
    );
    assert_eq!(
        rows(&mut c, "SHOW TABLES FROM doc", secs(1)),
        json!([["events"], ["parted"]])
    );
    assert_eq!(
        rows(&mut c, "SHOW TABLES FROM gc", secs(1)),
        json!([["alembic_version"], ["scheduled_jobs"]])
    );
    assert_eq!(
        rows(&mut c, "SHOW TABLES IN \"gc\" LIKE 'sched%'", secs(1)),
        json!([["scheduled_jobs"]])
    );
    assert_eq!(query(&mut c, "SHOW TABLES FROM nowhere", secs(1))["rowcount"], 0);
    assert_eq!(
        rows(
            &mut c,
            "SELECT table_type, partitioned_by FROM information_schema.tables WHERE table_schema = 'gc' ORDER BY table_name",
            secs(1)
        ),
        json!([["BASE TABLE", null], ["BASE TABLE", null]])
    );
}

#[test]
fn count_star_answers_the_rows_and_num_docs_split_them() {
    let mut c = with_tables(
        "a",
        vec![
            TableSpec {
                rows: Some(10),
                ..table(
                    "doc",
                    "parted",
                    vec![partition_ident(&[Some("1")]), partition_ident(&[Some("2")])],
                )
            },
            TableSpec {
                shards: 4,
                rows: Some(1001),
                ..table("doc", "t1", vec![])
            },
        ],
    );
    assert_eq!(
        rows(&mut c, "SELECT count(*) FROM doc.t1", secs(1)),
        json!([[1001]])
    );
    let counted = query(&mut c, "SELECT count(*) AS n FROM \"doc\".\"parted\"", secs(1));
    assert_eq!(
        (counted["cols"].clone(), counted["rows"].clone()),
        (json!(["n"]), json!([[20]]))
    );
    assert_eq!(
        query(&mut c, "SELECT count(*) FROM parted", secs(1))["cols"],
        json!(["count(*)"])
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT id, num_docs FROM sys.shards WHERE table_name = 't1' AND primary ORDER BY id",
            secs(1)
        ),
        json!([[0, 251], [1, 250], [2, 250], [3, 250]])
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT sum(num_docs) FROM sys.shards WHERE table_name = 't1'",
            secs(1)
        ),
        json!([[2002]]),
        "replicas hold what their primaries hold"
    );
    // Snapshots capture the rows and restores bring them back.
    query(
        &mut c,
        "CREATE REPOSITORY r TYPE fs WITH (location = '/x')",
        secs(1),
    );
    query(&mut c, "CREATE SNAPSHOT r.s ALL", secs(2));
    query(&mut c, "DROP TABLE t1", secs(10));
    query(&mut c, "RESTORE SNAPSHOT r.s TABLE t1", secs(11));
    assert_eq!(
        error(&mut c, "SELECT count(*) FROM t1", json!([]), secs(11)),
        (
            500,
            "UnavailableShardsException[the shard 0 of table doc.t1 is not available]".into(),
            5002
        )
    );
    assert_eq!(rows(&mut c, "SELECT count(*) FROM t1", secs(60)), json!([[1001]]));
    assert!(
        error(&mut c, "SELECT * FROM t1", json!([]), secs(60))
            .1
            .contains("cratesim: unsupported")
    );
}

#[test]
fn restore_partition_clauses_name_the_partition_columns() {
    let mut c = with_tables(
        "a",
        vec![
            TableSpec {
                partitioned_by: vec!["region".into(), "day".into()],
                ..table(
                    "doc",
                    "two",
                    vec![
                        partition_ident(&[Some("eu"), Some("1")]),
                        partition_ident(&[Some("us"), Some("2")]),
                    ],
                )
            },
            table("doc", "flat", vec![]),
        ],
    );
    query(
        &mut c,
        "CREATE REPOSITORY r TYPE fs WITH (location = '/x')",
        secs(1),
    );
    query(&mut c, "CREATE SNAPSHOT r.s ALL", secs(2));
    query(&mut c, "DROP TABLE two", secs(10));
    // Values in any order, numbers bare or quoted: encoded in partitioned_by order.
    query(
        &mut c,
        "RESTORE SNAPSHOT r.s TABLE two PARTITION (day = 1, region = 'eu')",
        secs(11),
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT partition_ident FROM information_schema.table_partitions",
            secs(11)
        ),
        json!([[partition_ident(&[Some("eu"), Some("1")])]])
    );
    assert_eq!(
        rows(
            &mut c,
            "SELECT partitioned_by FROM information_schema.tables WHERE table_name = 'two'",
            secs(11)
        ),
        json!([[["region", "day"]]])
    );
    query(
        &mut c,
        "RESTORE SNAPSHOT r.s TABLE two PARTITION (region = 'us', day = '2')",
        secs(12),
    );
    for (stmt, message) in [
        (
            "RESTORE SNAPSHOT r.s TABLE two PARTITION (colour = 'x', day = 1)",
            "SQLParseException[\"colour\" is no known partition column]",
        ),
        (
            "RESTORE SNAPSHOT r.s TABLE two PARTITION (day = 1)",
            "SQLParseException[The table \"doc.two\" is partitioned by 2 columns but the PARTITION clause contains 1 columns]",
        ),
        (
            "RESTORE SNAPSHOT r.s TABLE flat PARTITION (day = 1)",
            "SQLParseException[table 'doc.flat' is not partitioned]",
        ),
    ] {
        assert_eq!(
            error(&mut c, stmt, json!([]), secs(13)),
            (400, message.into(), 4000),
            "{stmt}"
        );
    }
    assert_eq!(
        error(
            &mut c,
            "RESTORE SNAPSHOT r.s TABLE two PARTITION (region = 'eu', day = 9)",
            json!([]),
            secs(13)
        )
        .2,
        4046
    );
}

#[test]
fn a_repository_in_use_by_a_restore_cannot_be_dropped_and_a_failed_restore_is_explained() {
    let (mut a, mut b) = pair();
    for c in [&mut a, &mut b] {
        query(
            c,
            "CREATE REPOSITORY r TYPE fs WITH (location = '/shared')",
            secs(1),
        );
    }
    query(
        &mut a,
        "CREATE SNAPSHOT r.s1 ALL WITH (wait_for_completion = true)",
        secs(1),
    );
    b.advance(secs(60));
    query(&mut b, "DROP TABLE t1", secs(60));
    // Nothing can hold the restored primaries: the restore stays in the cluster state.
    query(
        &mut b,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-*'",
        secs(61),
    );
    query(&mut b, "RESTORE SNAPSHOT r.s1 TABLE t1", secs(62));
    assert_eq!(
        rows(
            &mut b,
            "SELECT repository, name FROM sys.snapshot_restore",
            secs(63)
        ),
        json!([["r", "s1"]])
    );
    assert_eq!(
        error(&mut b, "DROP REPOSITORY r", json!([]), secs(63)),
        (
            500,
            "IllegalStateException[trying to modify or unregister repository that is currently used]".into(),
            5000
        )
    );
    // Dropping what it restores cancels it; then the repository can go.
    query(&mut b, "DROP TABLE t1", secs(64));
    assert_eq!(
        rows(&mut b, "SELECT name FROM sys.snapshot_restore", secs(64)),
        json!([])
    );
    query(&mut b, "DROP REPOSITORY r", secs(64));

    // A restore set to fail: its primaries stay unassigned, explained, and it leaves the state.
    query(
        &mut b,
        "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"",
        secs(65),
    );
    query(
        &mut b,
        "CREATE REPOSITORY r TYPE fs WITH (location = '/shared')",
        secs(65),
    );
    b.set_fault(cratesim::cratedb::Fault::RestoreFails("doc.t1".into()));
    query(&mut b, "RESTORE SNAPSHOT r.s1 TABLE t1", secs(66));
    b.advance(secs(120));
    assert_eq!(
        rows(&mut b, "SELECT name FROM sys.snapshot_restore", secs(120)),
        json!([])
    );
    let unassigned = rows(
        &mut b,
        "SELECT shard_id, current_state, decisions FROM sys.allocations WHERE \"primary\" = true",
        secs(120),
    );
    let all = unassigned.as_array().unwrap();
    assert_eq!(all.len(), 4, "{unassigned}");
    for row in all {
        assert_eq!(row[1], "UNASSIGNED", "{row}");
        let text = row[2].to_string();
        assert!(
            text.contains("shard has failed to be restored from the snapshot [r:s1/")
                && text.contains("manually close or delete the index [t1]"),
            "{text}"
        );
    }
    assert_eq!(
        rows(
            &mut b,
            "SELECT health FROM sys.health WHERE table_name = 't1'",
            secs(120)
        ),
        json!([["RED"]])
    );
}
