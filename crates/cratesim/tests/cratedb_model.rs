//! Behaviour tests of the CrateDB model, at the model level: no HTTP, no
//! Kubernetes; the test drives node processes and the simulated clock directly.

// Helpers outside `#[test]` functions panic on unexpected replies, which is what a test wants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cratesim::cratedb::{
    Auth, ClusterSpec, CrateCluster, Fault, Health, NodeSpec, ReplyBody, SqlReply, TableSpec, Timings, Wait,
    partition_ident,
};
use serde_json::{Value, json};

const PASSWORD: &str = "s3cret";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn spec(data_nodes: usize) -> ClusterSpec {
    ClusterSpec {
        name: "my-cluster".into(),
        version: "5.10.3".into(),
        nodes: (0..data_nodes)
            .map(|i| NodeSpec {
                name: format!("data-hot-{i}"),
                master_eligible: true,
                data: true,
            })
            .collect(),
        tables: vec![
            TableSpec {
                schema: "doc".into(),
                name: "t1".into(),
                shards: 4,
                replicas: "1".into(),
                partitions: vec![],
                partitioned_by: vec![],
                rows: None,
            },
            TableSpec {
                schema: "doc".into(),
                name: "parted".into(),
                shards: 2,
                replicas: "0-1".into(),
                partitions: vec![partition_ident(&[Some("1")]), partition_ident(&[Some("2")])],
                partitioned_by: vec!["day".into()],
                rows: None,
            },
        ],
        system_password: PASSWORD.into(),
        timings: Timings::default(),
    }
}

fn auth() -> Auth {
    Auth::basic("system", PASSWORD)
}

fn request(c: &mut CrateCluster, node: &str, types: bool, body: Value, now: Duration) -> SqlReply {
    let bytes = serde_json::to_vec(&body).unwrap();
    c.sql(node, types, false, &bytes, Some(&auth()), now)
}

/// Runs a statement on a serving node; panics on an error reply.
fn query(c: &mut CrateCluster, stmt: &str, now: Duration) -> Value {
    query_args(c, stmt, json!([]), now)
}

fn query_args(c: &mut CrateCluster, stmt: &str, args: Value, now: Duration) -> Value {
    let node = c
        .member_names()
        .into_iter()
        .find(|n| c.serving(n))
        .expect("a serving node");
    let reply = request(c, &node, false, json!({"stmt": stmt, "args": args}), now);
    assert_eq!(reply.status, 200, "{stmt}: {:?}", reply.body);
    reply.json_body().unwrap().clone()
}

fn scalar(c: &mut CrateCluster, stmt: &str, now: Duration) -> Value {
    query(c, stmt, now)["rows"][0][0].clone()
}

fn node_count(c: &mut CrateCluster, now: Duration) -> i64 {
    scalar(c, "SELECT count(*) FROM sys.nodes", now).as_i64().unwrap()
}

/// The health as a client reads it: the worst `sys.health` row, GREEN if none.
fn sql_health(c: &mut CrateCluster, now: Duration) -> String {
    let v = scalar(
        c,
        "SELECT health FROM sys.health ORDER BY severity DESC LIMIT 1",
        now,
    );
    v.as_str().unwrap_or("GREEN").to_string()
}

/// Advances event by event until nothing is scheduled (or `limit`), calling `check` after each.
fn run_until_quiet(c: &mut CrateCluster, limit: Duration, mut check: impl FnMut(&CrateCluster)) -> Duration {
    let mut now = Duration::ZERO;
    while let Some(t) = c.next_change_at() {
        if t > limit {
            break;
        }
        now = t;
        c.advance(t);
        check(c);
    }
    now.max(limit.min(now + secs(1)))
}

#[test]
fn a_new_cluster_is_green_with_all_nodes() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    assert_eq!(c.health(), Health::Green);
    assert_eq!(node_count(&mut c, secs(1)), 3);
    assert_eq!(sql_health(&mut c, secs(1)), "GREEN");
    assert_eq!(c.nodes_not_serving(), 0);
    assert_eq!(c.next_change_at(), None);
    let shards = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE routing_state = 'STARTED'",
        secs(1),
    );
    // t1: 4 shards × 2 copies; parted: 2 partitions × 2 shards × 2 copies.
    assert_eq!(shards, json!(16));
}

#[test]
fn killed_data_node_is_yellow_while_away_and_green_after_recovery() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.node_killed("data-hot-2", secs(10));
    assert_eq!(node_count(&mut c, secs(10)), 2);
    assert_eq!(c.health(), Health::Yellow);
    assert_eq!(sql_health(&mut c, secs(10)), "YELLOW");
    assert_eq!(
        scalar(&mut c, "SELECT max(severity) FROM sys.health", secs(10)),
        json!(2)
    );
    let missing = scalar(&mut c, "SELECT sum(missing_shards) FROM sys.health", secs(10));
    assert_eq!(missing, json!(0), "replicas were promoted, no primary is missing");
    assert_eq!(c.nodes_not_serving(), 1);

    // Still away 20 s later (within unassigned.node_left.delayed_timeout): still YELLOW.
    c.advance(secs(30));
    assert_eq!(sql_health(&mut c, secs(30)), "YELLOW");

    // The pod comes back: the process starts, joins after join_delay, shards recover.
    c.node_process_started("data-hot-2", secs(30));
    assert_eq!(node_count(&mut c, secs(31)), 2, "not joined yet");
    c.advance(secs(35));
    assert_eq!(node_count(&mut c, secs(35)), 3);
    let recovering = query(
        &mut c,
        "SELECT recovery['type'], count(*) FROM sys.shards WHERE routing_state = 'INITIALIZING' GROUP BY 1",
        secs(35),
    );
    assert!(recovering["rowcount"].as_i64().unwrap() > 0, "{recovering}");
    assert_eq!(recovering["rows"][0][0], "PEER");

    let mut worst = 0;
    run_until_quiet(&mut c, secs(600), |c| worst = worst.max(c.nodes_not_serving()));
    assert!(worst <= 1);
    assert_eq!(node_count(&mut c, secs(600)), 3);
    assert_eq!(c.health(), Health::Green);
    assert_eq!(sql_health(&mut c, secs(600)), "GREEN");
    assert_eq!(c.nodes_not_serving(), 0);
}

#[test]
fn allocation_enable_primaries_keeps_yellow_until_reset() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        secs(1),
    );
    let enable = query(
        &mut c,
        "SELECT settings['cluster']['routing']['allocation']['enable'] FROM sys.cluster",
        secs(1),
    );
    assert_eq!(
        enable["cols"],
        json!(["settings['cluster']['routing']['allocation']['enable']"])
    );
    assert_eq!(enable["rows"], json!([["primaries"]]));
    assert_eq!(c.settings().0["cluster.routing.allocation.enable"], "primaries");

    c.node_killed("data-hot-1", secs(5));
    c.node_process_started("data-hot-1", secs(6));
    run_until_quiet(&mut c, secs(300), |_| {});
    c.advance(secs(300));
    assert_eq!(node_count(&mut c, secs(300)), 3);
    assert_eq!(
        c.health(),
        Health::Yellow,
        "replicas are never reassigned under 'primaries'"
    );
    let allocations = query(
        &mut c,
        "SELECT explanation, decisions FROM sys.allocations LIMIT 1",
        secs(300),
    );
    let text = allocations["rows"].to_string();
    assert!(
        text.contains("replica allocations are forbidden due to cluster setting"),
        "{text}"
    );

    query(
        &mut c,
        "RESET GLOBAL \"cluster.routing.allocation.enable\"",
        secs(301),
    );
    assert!(c.settings().0.is_empty());
    run_until_quiet(&mut c, secs(900), |_| {});
    assert_eq!(c.health(), Health::Green);
}

#[test]
fn decommission_full_moves_shards_off_first_then_the_node_leaves() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.graceful_stop.min_availability\" = 'full'",
        secs(1),
    );
    let before = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE node['name'] = 'data-hot-2'",
        secs(1),
    );
    assert!(before.as_i64().unwrap() > 0);

    let reply = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "ALTER CLUSTER DECOMMISSION 'data-hot-2'"}),
        secs(2),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json_body().unwrap()["rowcount"], 1);
    let wait = reply
        .wait
        .clone()
        .expect("decommission waits for its health check");
    assert_eq!(
        wait,
        Wait::Decommission {
            node: "data-hot-2".into()
        }
    );
    assert!(!c.wait_done(&wait));
    assert!(!c.serving("data-hot-2"));
    let refused = c.sql(
        "data-hot-2",
        false,
        false,
        br#"{"stmt":"SELECT 1"}"#,
        Some(&auth()),
        secs(2),
    );
    assert_eq!(refused.status, 500);
    assert!(
        matches!(&refused.body, ReplyBody::PlainText { text, .. } if text.ends_with("[sql] disconnected"))
    );
    let relocating = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE routing_state = 'RELOCATING'",
        secs(2),
    );
    assert!(relocating.as_i64().unwrap() > 0);

    // Step through every event: the node must hold no copy when it leaves, health stays
    // GREEN (relocation does not change health), and at most one node is down.
    let mut last_count_while_member = usize::MAX;
    let mut left = false;
    let mut worst_unavailable = 0;
    let mut worst_health = Health::Green;
    run_until_quiet(&mut c, secs(600), |c| {
        worst_unavailable = worst_unavailable.max(c.nodes_not_serving());
        worst_health = worst_health.max(c.health());
        if c.member_names().contains(&"data-hot-2".to_string()) {
            let mut probe = c.clone();
            let n = query(
                &mut probe,
                "SELECT count(*) FROM sys.shards WHERE node['name'] = 'data-hot-2'",
                secs(0),
            );
            last_count_while_member = n["rows"][0][0].as_u64().unwrap() as usize;
        } else {
            left = true;
        }
    });
    assert!(left, "the node left the cluster");
    assert_eq!(
        last_count_while_member, 0,
        "every copy moved off before the node left"
    );
    assert_eq!(worst_health, Health::Green);
    assert!(worst_unavailable <= 1);
    assert!(c.wait_done(&wait));
    assert!(c.node_stopped_gracefully("data-hot-2"));
    assert!(!c.node_process_running("data-hot-2"));
    assert_eq!(c.health(), Health::Green);
    assert!(
        c.sql_writes()
            .iter()
            .any(|w| w.stmt.contains("DECOMMISSION") && w.node == "data-hot-0")
    );

    // The pod restarts the process; the node rejoins and the cluster is whole again.
    c.node_process_started("data-hot-2", secs(700));
    c.advance(secs(800));
    assert_eq!(c.member_names().len(), 3);
    assert_eq!(c.nodes_not_serving(), 0);
}

#[test]
fn decommission_of_an_unknown_node_is_an_error() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let reply = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "ALTER CLUSTER DECOMMISSION ?", "args": ["nope"]}),
        secs(1),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json_body().unwrap(),
        &json!({"error": {"message": "SQLParseException[Node: 'nope' could not be found]", "code": 4000}})
    );
}

#[test]
fn exclusion_moves_shards_away() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    query(
        &mut c,
        "SET GLOBAL \"cluster.routing.allocation.exclude._name\" = 'data-hot-1'",
        secs(1),
    );
    run_until_quiet(&mut c, secs(600), |c| assert_eq!(c.health(), Health::Green));
    let left = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE node['name'] = 'data-hot-1'",
        secs(600),
    );
    assert_eq!(left, json!(0));
    let name = scalar(
        &mut c,
        "SELECT settings['cluster']['routing']['allocation']['exclude']['_name'] FROM sys.cluster",
        secs(600),
    );
    assert_eq!(name, "data-hot-1");
}

fn error_of(reply: &SqlReply) -> (u16, String, i64) {
    let body = reply.json_body().unwrap();
    (
        reply.status,
        body["error"]["message"].as_str().unwrap().to_string(),
        body["error"]["code"].as_i64().unwrap(),
    )
}

#[test]
fn sql_error_shapes_and_codes() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let parse = request(&mut c, "data-hot-0", false, json!({"stmt": "SELEC 1"}), secs(1));
    let (status, message, code) = error_of(&parse);
    assert_eq!((status, code), (400, 4000));
    assert!(
        message.starts_with("SQLParseException[line 1:1: mismatched input 'SELEC' expecting"),
        "{message}"
    );
    assert!(parse.json_body().unwrap().get("error_trace").is_none());
    assert_eq!(parse.content_type(), "application/json; charset=UTF-8");

    let unknown = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SELECT * FROM sys.nope"}),
        secs(1),
    );
    assert_eq!(
        error_of(&unknown),
        (404, "RelationUnknown[Relation 'sys.nope' unknown]".into(), 4041)
    );
    let schema = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SELECT * FROM nope.t"}),
        secs(1),
    );
    assert_eq!(
        error_of(&schema),
        (404, "SchemaUnknownException[Schema 'nope' unknown]".into(), 4045)
    );
    let column = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SELECT nope FROM sys.nodes"}),
        secs(1),
    );
    assert_eq!(
        error_of(&column),
        (404, "ColumnUnknownException[Column nope unknown]".into(), 4043)
    );

    let unsupported = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "INSERT INTO doc.t1 (a) VALUES (1)"}),
        secs(1),
    );
    let (status, message, code) = error_of(&unsupported);
    assert_eq!((status, code), (400, 4000));
    assert_eq!(
        message,
        "SQLParseException[cratesim: unsupported statement: INSERT INTO doc.t1 (a) VALUES (1)]"
    );

    let setting = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SET GLOBAL nope.x = 1"}),
        secs(1),
    );
    assert_eq!(
        error_of(&setting),
        (
            400,
            "SQLParseException[Setting 'nope.x' is not supported]".into(),
            4000
        )
    );

    let traced = c.sql(
        "data-hot-0",
        false,
        true,
        br#"{"stmt":"SELEC 1"}"#,
        Some(&auth()),
        secs(1),
    );
    assert!(traced.json_body().unwrap()["error_trace"].is_string());
    assert!(
        traced
            .body_text()
            .starts_with(r#"{"error":{"message":"SQLParseException["#)
    );

    let empty = c.sql("data-hot-0", false, false, b"", Some(&auth()), secs(1));
    assert_eq!(
        error_of(&empty),
        (400, "SQLParseException[Missing request body]".into(), 4000)
    );
    let no_stmt = c.sql(
        "data-hot-0",
        false,
        false,
        br#"{"args":[]}"#,
        Some(&auth()),
        secs(1),
    );
    assert_eq!(
        error_of(&no_stmt),
        (
            500,
            "SQLParseSourceException[Field [stmt] is missing]".into(),
            5000
        )
    );

    let bulk_select = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SELECT 1", "bulk_args": [[1], [2]]}),
        secs(1),
    );
    assert_eq!(error_of(&bulk_select).2, 4004);
}

#[test]
fn injected_statement_failure() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.set_fault(Fault::StatementFails {
        pattern: "set global".into(),
        code: 5000,
        message: "SQLActionException[boom]".into(),
    });
    let reply = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SET  GLOBAL stats.enabled = false"}),
        secs(1),
    );
    assert_eq!(error_of(&reply), (500, "SQLActionException[boom]".into(), 5000));
    assert!(c.sql_writes().is_empty());
}

#[test]
fn basic_auth_and_alter_user() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let body = br#"{"stmt":"SELECT name FROM sys.nodes"}"#;
    let wrong = c.sql(
        "data-hot-0",
        false,
        false,
        body,
        Some(&Auth::basic("system", "bad")),
        secs(1),
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.body,
        ReplyBody::PlainText {
            text: "password authentication failed for user \"system\"\n".into(),
            www_authenticate: true,
            close_connection: true,
        }
    );
    let anonymous = c.sql("data-hot-0", false, false, body, None, secs(1));
    assert_eq!(
        anonymous.body_text(),
        "password authentication failed for user \"crate\"\n"
    );
    let header = Auth::from_authorization_header("Basic c3lzdGVtOnMzY3JldA==").unwrap();
    assert_eq!(header, auth());
    assert_eq!(
        c.sql("data-hot-0", false, false, body, Some(&header), secs(1))
            .status,
        200
    );

    let changed = query_args(
        &mut c,
        "ALTER USER \"system\" SET (password = ?)",
        json!(["n3w"]),
        secs(2),
    );
    assert_eq!(changed["rowcount"], 1);
    assert_eq!(
        c.sql("data-hot-0", false, false, body, Some(&auth()), secs(3))
            .status,
        401
    );
    let fresh = c.sql(
        "data-hot-0",
        false,
        false,
        body,
        Some(&Auth::basic("system", "n3w")),
        secs(3),
    );
    assert_eq!(fresh.status, 200);
    let write = c.sql_writes().last().unwrap();
    assert_eq!(write.args, vec![json!("n3w")]);
}

#[test]
fn col_types_only_with_types() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let stmt = "SELECT name, port['http'], roles, heap['max'] FROM sys.nodes ORDER BY name DESC LIMIT 1";
    let typed = request(&mut c, "data-hot-0", true, json!({"stmt": stmt}), secs(1));
    let body = typed.json_body().unwrap();
    assert_eq!(
        body["cols"],
        json!(["name", "port['http']", "roles", "heap['max']"])
    );
    assert_eq!(body["col_types"], json!([4, 9, [100, 4], 10]));
    assert_eq!(body["rows"][0][0], "data-hot-2");
    assert_eq!(body["rowcount"], 1);
    assert!(body["duration"].is_f64());
    assert!(
        typed
            .body_text()
            .starts_with(r#"{"cols":["name","port['http']","roles","heap['max']"],"col_types":"#)
    );

    let plain = request(&mut c, "data-hot-0", false, json!({"stmt": stmt}), secs(1));
    assert!(plain.json_body().unwrap().get("col_types").is_none());

    let set = request(
        &mut c,
        "data-hot-0",
        true,
        json!({"stmt": "SET GLOBAL stats.enabled = true"}),
        secs(1),
    );
    assert_eq!(
        set.body_text(),
        r#"{"cols":[],"col_types":[],"rows":[[]],"rowcount":1,"duration":0.25}"#
    );
}

#[test]
fn crash_connect_query_and_root() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let body = query(
        &mut c,
        "SELECT current_user, current_schema, name FROM sys.cluster",
        secs(1),
    );
    assert_eq!(body["cols"], json!(["current_user", "current_schema", "name"]));
    assert_eq!(body["rows"], json!([["system", "doc", "my-cluster"]]));
    let root = c.root("data-hot-1");
    assert_eq!(root["ok"], true);
    assert_eq!(root["status"], 200);
    assert_eq!(root["name"], "data-hot-1");
    assert_eq!(root["version"]["number"], "5.10.3");
    assert!(
        c.root_text("data-hot-1")
            .starts_with("{\n  \"ok\" : true,\n  \"status\" : 200,")
    );
    let answer = query(&mut c, "SELECT 42 AS availability_check", secs(1));
    assert_eq!(answer["rows"], json!([[42]]));
    let plain = query(&mut c, "SELECT 42", secs(1));
    assert_eq!(plain["cols"], json!(["42"]));
}

#[test]
fn master_loss_blocks_writes_and_root_reports_503() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.node_killed("data-hot-0", secs(1));
    c.node_killed("data-hot-1", secs(1));
    assert_eq!(c.health(), Health::Red);
    assert_eq!(c.root("data-hot-2")["status"], 503);
    let rows = query(
        &mut c,
        "SELECT 3 FROM sys.cluster WHERE master_node IS NULL",
        secs(2),
    );
    assert_eq!(rows["rowcount"], 1);
    let set = request(
        &mut c,
        "data-hot-2",
        false,
        json!({"stmt": "SET GLOBAL stats.enabled = false"}),
        secs(2),
    );
    assert_eq!(error_of(&set).2, 5031);
    assert_eq!(set.status, 503);
}

#[test]
fn zero_replica_table_is_red_while_its_node_is_away() {
    let mut s = spec(3);
    s.tables = vec![TableSpec {
        schema: "doc".into(),
        name: "r0".into(),
        shards: 3,
        replicas: "0".into(),
        partitions: vec![],
        partitioned_by: vec![],
        rows: None,
    }];
    let mut c = CrateCluster::new(s, Duration::ZERO);
    c.node_killed("data-hot-0", secs(1));
    assert_eq!(c.health(), Health::Red);
    let missing = scalar(&mut c, "SELECT sum(missing_shards) FROM sys.health", secs(1));
    assert_eq!(missing, json!(1));
    // With new_primaries the returning node cannot recover its existing-store primary.
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'new_primaries'",
        secs(2),
    );
    c.node_process_started("data-hot-0", secs(3));
    run_until_quiet(&mut c, secs(300), |_| {});
    assert_eq!(c.health(), Health::Red);
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        secs(301),
    );
    run_until_quiet(&mut c, secs(600), |_| {});
    assert_eq!(c.health(), Health::Green);
}

#[test]
fn sigterm_stops_without_moving_shards() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.node_stop_requested("data-hot-1", secs(1));
    assert!(!c.serving("data-hot-1"));
    assert!(!c.node_stopped_gracefully("data-hot-1"));
    c.advance(secs(3));
    assert!(c.node_stopped_gracefully("data-hot-1"));
    assert_eq!(c.health(), Health::Yellow);
    assert_eq!(c.member_names().len(), 2);
}

#[test]
fn never_rejoining_node_and_slow_recovery() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.set_fault(Fault::NodeNeverRejoins("data-hot-2".into()));
    c.node_killed("data-hot-2", secs(1));
    c.node_process_started("data-hot-2", secs(2));
    c.advance(secs(50));
    assert_eq!(c.member_names().len(), 2);
    c.set_fault(Fault::SlowRecovery(10.0));
    c.set_fault(Fault::NodeRejoins("data-hot-2".into()));
    c.advance(secs(56));
    assert_eq!(c.member_names().len(), 3);
    let done = run_until_quiet(&mut c, secs(10_000), |_| {});
    assert!(done > secs(56 + 20), "recoveries took 10× longer: {done:?}");
    assert_eq!(c.health(), Health::Green);
    c.set_fault(Fault::HealthStuckYellow(true));
    assert_eq!(c.health(), Health::Yellow);
}

/// `faults::apply` refuses such factors; a model given one anyway (in-process) saturates the
/// recovery time instead of panicking in `Duration::mul_f64`.
#[test]
fn a_recovery_slowed_beyond_measure_never_ends_and_never_panics() {
    for factor in [1e308, f64::INFINITY, f64::MAX] {
        let mut c = CrateCluster::new(spec(3), Duration::ZERO);
        c.set_fault(Fault::SlowRecovery(factor));
        c.node_killed("data-hot-2", secs(1));
        c.node_process_started("data-hot-2", secs(2));
        c.advance(secs(60));
        assert_eq!(c.member_names().len(), 3, "{factor}: the node rejoined");
        c.advance(secs(1_000_000));
        let initializing = scalar(
            &mut c,
            "SELECT count(*) FROM sys.shards WHERE routing_state = 'INITIALIZING'",
            secs(1_000_000),
        );
        assert!(
            initializing.as_i64().unwrap() > 0,
            "{factor}: its copies are still recovering"
        );
        assert_ne!(c.health(), Health::Green, "{factor}");
    }
}

#[test]
fn snapshot_and_restore() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    query(
        &mut c,
        "CREATE REPOSITORY backups TYPE fs WITH (location = '/snapshots', compress = true)",
        secs(1),
    );
    let dup = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "CREATE REPOSITORY backups TYPE fs"}),
        secs(1),
    );
    assert_eq!(
        error_of(&dup),
        (
            409,
            "RepositoryAlreadyExistsException[Repository 'backups' already exists]".into(),
            4095
        )
    );
    let reply = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "CREATE SNAPSHOT backups.s1 ALL WITH (wait_for_completion = true)"}),
        secs(2),
    );
    let wait = reply.wait.clone().unwrap();
    assert_eq!(
        scalar(
            &mut c,
            "SELECT state FROM sys.snapshots WHERE name = 's1'",
            secs(2)
        ),
        "IN_PROGRESS"
    );
    assert_eq!(
        scalar(&mut c, "SELECT finished FROM sys.snapshots", secs(2)),
        json!(0)
    );
    c.advance(secs(10));
    assert!(c.wait_done(&wait));
    assert_eq!(
        scalar(
            &mut c,
            "SELECT state FROM sys.snapshots WHERE name = 's1'",
            secs(10)
        ),
        "SUCCESS"
    );
    let repo = query(
        &mut c,
        "SELECT name, type, settings['location'] FROM sys.repositories",
        secs(10),
    );
    assert_eq!(repo["rows"], json!([["backups", "fs", "/snapshots"]]));

    let exists = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "RESTORE SNAPSHOT backups.s1 TABLE t1"}),
        secs(11),
    );
    assert_eq!(
        error_of(&exists),
        (
            409,
            "RelationAlreadyExists[Relation 'doc.t1' already exists.]".into(),
            4093
        )
    );
    let missing = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "RESTORE SNAPSHOT backups.nope ALL"}),
        secs(11),
    );
    assert_eq!(
        error_of(&missing),
        (
            404,
            "SnapshotMissingException[[backups:nope] is missing]".into(),
            4048
        )
    );

    query(&mut c, "DROP TABLE t1", secs(12));
    query(&mut c, "RESTORE SNAPSHOT backups.s1 TABLE doc.t1", secs(13));
    assert_eq!(c.health(), Health::Yellow, "a restore in progress is YELLOW");
    let restoring = query(
        &mut c,
        "SELECT name, repository, state FROM sys.snapshot_restore",
        secs(13),
    );
    assert_eq!(restoring["rows"], json!([["s1", "backups", "STARTED"]]));
    run_until_quiet(&mut c, secs(600), |_| {});
    assert_eq!(c.health(), Health::Green);
    assert_eq!(
        query(&mut c, "SELECT * FROM sys.snapshot_restore", secs(600))["rowcount"],
        0
    );

    // A single partition.
    let ident = partition_ident(&[Some("1")]);
    query(&mut c, "DROP TABLE parted", secs(601));
    query(
        &mut c,
        "RESTORE SNAPSHOT backups.s1 TABLE parted PARTITION (day = 1)",
        secs(602),
    );
    let parts = query(
        &mut c,
        "SELECT partition_ident FROM information_schema.table_partitions",
        secs(602),
    );
    assert_eq!(parts["rows"], json!([[ident]]));
    let bad = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "RESTORE SNAPSHOT backups.s1 BOGUS"}),
        secs(603),
    );
    assert_eq!(
        error_of(&bad).1,
        "SQLParseException[Unknown metadata type 'BOGUS']"
    );
    query(&mut c, "DROP SNAPSHOT backups.s1", secs(604));
    assert_eq!(
        query(&mut c, "SELECT * FROM sys.snapshots", secs(604))["rowcount"],
        0
    );
}

#[test]
fn alter_table_replicas_and_information_schema() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let r = query(
        &mut c,
        "ALTER TABLE doc.t1 SET (number_of_replicas = '0-all')",
        secs(1),
    );
    assert_eq!(r["rowcount"], -1);
    assert_eq!(c.health(), Health::Yellow, "new replicas are initializing");
    run_until_quiet(&mut c, secs(600), |_| {});
    assert_eq!(c.health(), Health::Green);
    let t = query(
        &mut c,
        "SELECT number_of_shards, number_of_replicas FROM information_schema.tables \
         WHERE table_schema = 'doc' AND table_name = 't1'",
        secs(600),
    );
    assert_eq!(t["rows"], json!([[4, "0-all"]]));
    let n = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE table_name = 't1'",
        secs(600),
    );
    assert_eq!(n, json!(12));
    let bad = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "ALTER TABLE t1 SET (number_of_replicas = 'x')"}),
        secs(601),
    );
    assert_eq!(
        error_of(&bad).1,
        "SQLParseException[The \"number_of_replicas\" range \"x\" isn't valid]"
    );
    let user_tables = scalar(
        &mut c,
        "SELECT count(*) FROM information_schema.tables WHERE number_of_shards IS NOT NULL",
        secs(601),
    );
    assert_eq!(user_tables, json!(2));
}

#[test]
fn group_by_order_by_and_in() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let r = query(
        &mut c,
        "SELECT node['name'] AS n, count(*) AS c FROM sys.shards \
         WHERE routing_state IN ('STARTED', 'RELOCATING') AND \"primary\" = true GROUP BY node['name'] ORDER BY n",
        secs(1),
    );
    assert_eq!(r["cols"], json!(["n", "c"]));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], "data-hot-0");
    let total: i64 = rows.iter().map(|r| r[1].as_i64().unwrap()).sum();
    assert_eq!(total, 8);
    let any = query_args(
        &mut c,
        "SELECT node['name'], count(*) FROM sys.shards WHERE node['name'] = ANY(?) GROUP BY 1",
        json!([["data-hot-1"]]),
        secs(1),
    );
    assert_eq!(any["rowcount"], 1);
    let bulk = request(
        &mut c,
        "data-hot-0",
        false,
        json!({"stmt": "SET GLOBAL TRANSIENT stats.jobs_log_size = ?", "bulk_args": [[10], ["x"]]}),
        secs(2),
    );
    let results = &bulk.json_body().unwrap()["results"];
    assert_eq!(results[0], json!({"rowcount": 1}));
    assert_eq!(results[1]["rowcount"], -2);
}

#[test]
fn prestop_decommission_with_primaries_then_sigterm() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.node_decommission_requested("data-hot-0", Some("primaries"), secs(1));
    c.node_stop_requested("data-hot-0", secs(1));
    assert!(!c.serving("data-hot-0"));
    let mut primaries_on_node_when_leaving = None;
    let mut health_just_after = None;
    run_until_quiet(&mut c, secs(600), |c| {
        if c.member_names().contains(&"data-hot-0".to_string()) {
            let mut probe = c.clone();
            let n = query(
                &mut probe,
                "SELECT count(*) FROM sys.shards WHERE node['name'] = 'data-hot-0' AND \"primary\" = true",
                secs(0),
            );
            primaries_on_node_when_leaving = n["rows"][0][0].as_i64();
        } else if health_just_after.is_none() {
            health_just_after = Some(c.health());
        }
    });
    assert_eq!(primaries_on_node_when_leaving, Some(0));
    assert!(c.node_stopped_gracefully("data-hot-0"));
    // Its replicas left with it: YELLOW, until unassigned.node_left.delayed_timeout has
    // passed and the replicas are rebuilt on the two remaining nodes.
    assert_eq!(health_just_after, Some(Health::Yellow));
    assert_eq!(c.health(), Health::Green);
}

#[test]
fn select_star_orders_columns_alphabetically() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    let r = query(
        &mut c,
        "SELECT * FROM sys.health ORDER BY table_name LIMIT 1",
        secs(1),
    );
    assert_eq!(
        r["cols"],
        json!([
            "health",
            "missing_shards",
            "partition_ident",
            "severity",
            "table_name",
            "table_schema",
            "underreplicated_shards"
        ])
    );
    assert_eq!(r["rows"][0][0], "GREEN");
}

fn node(name: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        master_eligible: true,
        data: true,
    }
}

/// Copies on `name` (assigned: started, initializing or relocating).
fn copies_on(c: &mut CrateCluster, name: &str, now: Duration) -> i64 {
    query_args(
        c,
        "SELECT count(*) FROM sys.shards WHERE node['name'] = ?",
        json!([name]),
        now,
    )["rows"][0][0]
        .as_i64()
        .unwrap()
}

#[test]
fn a_node_added_on_scale_out_joins_and_gets_shards_by_rebalancing() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.ensure_node(&node("data-hot-3"), secs(10));
    assert!(c.has_node("data-hot-3"));
    assert_eq!(node_count(&mut c, secs(10)), 3, "known, but no process yet");
    assert_eq!(c.nodes_not_serving(), 0, "a node that never joined is not 'down'");
    c.node_process_started("data-hot-3", secs(10));
    assert_eq!(c.nodes_not_serving(), 0);
    c.advance(secs(15));
    assert_eq!(node_count(&mut c, secs(15)), 4);
    let relocating = scalar(
        &mut c,
        "SELECT count(*) FROM sys.shards WHERE routing_state = 'RELOCATING'",
        secs(15),
    );
    assert_eq!(
        relocating,
        json!(2),
        "the balancer moves copies to the new node, cluster_concurrent_rebalance (2) at a time"
    );
    let mut worst = Health::Green;
    let mut most_relocating = 0;
    run_until_quiet(&mut c, secs(600), |c| {
        worst = worst.max(c.health());
        let mut probe = c.clone();
        let n = scalar(
            &mut probe,
            "SELECT count(*) FROM sys.shards WHERE routing_state = 'RELOCATING'",
            secs(0),
        );
        most_relocating = most_relocating.max(n.as_i64().unwrap());
    });
    assert_eq!(worst, Health::Green, "relocation does not change health");
    assert!(most_relocating <= 2, "{most_relocating}");
    // 16 copies over 4 nodes: 4 each.
    for i in 0..4 {
        assert_eq!(
            copies_on(&mut c, &format!("data-hot-{i}"), secs(600)),
            4,
            "data-hot-{i}"
        );
    }
    assert_eq!(
        scalar(
            &mut c,
            "SELECT count(*) FROM sys.shards WHERE routing_state <> 'STARTED'",
            secs(600)
        ),
        json!(0)
    );
    assert_eq!(c.nodes_not_serving(), 0);
}

#[test]
fn rebalance_enable_none_keeps_a_new_node_empty_until_reset() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.rebalance.enable\" = 'none'",
        secs(1),
    );
    c.ensure_node(&node("data-hot-3"), secs(1));
    c.node_process_started("data-hot-3", secs(1));
    run_until_quiet(&mut c, secs(300), |_| {});
    assert_eq!(node_count(&mut c, secs(300)), 4);
    assert_eq!(copies_on(&mut c, "data-hot-3", secs(300)), 0);
    assert_eq!(c.health(), Health::Green);
    // `replicas` moves only replicas; `allocation.enable = primaries` then forbids them.
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        secs(301),
    );
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.rebalance.enable\" = 'replicas'",
        secs(301),
    );
    c.advance(secs(400));
    assert_eq!(copies_on(&mut c, "data-hot-3", secs(400)), 0);
    query(&mut c, "RESET GLOBAL \"cluster.routing\"", secs(401));
    run_until_quiet(&mut c, secs(900), |_| {});
    assert_eq!(copies_on(&mut c, "data-hot-3", secs(900)), 4);
}

#[test]
fn an_added_node_gets_unassigned_replicas_first() {
    // Two nodes and a table with 2 replicas: one replica per shard cannot be placed.
    let mut s = spec(2);
    s.tables = vec![TableSpec {
        schema: "doc".into(),
        name: "r2".into(),
        shards: 2,
        replicas: "2".into(),
        partitions: vec![],
        partitioned_by: vec![],
        rows: None,
    }];
    let mut c = CrateCluster::new(s, Duration::ZERO);
    assert_eq!(c.health(), Health::Yellow);
    c.ensure_node(&node("data-hot-2"), secs(1));
    c.node_process_started("data-hot-2", secs(1));
    c.advance(secs(6));
    let rows = query(
        &mut c,
        "SELECT routing_state, recovery['type'] FROM sys.shards WHERE node['name'] = 'data-hot-2'",
        secs(6),
    );
    assert_eq!(
        rows["rows"],
        json!([["INITIALIZING", "PEER"], ["INITIALIZING", "PEER"]])
    );
    run_until_quiet(&mut c, secs(300), |_| {});
    assert_eq!(c.health(), Health::Green);
}

#[test]
fn a_departed_node_is_out_for_good_and_its_replicas_are_rebuilt_elsewhere() {
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    // Scale-in without deallocation: SIGTERM, the process exits, the pod is gone for good.
    c.node_stop_requested("data-hot-2", secs(1));
    c.advance(secs(3));
    c.node_departed("data-hot-2", secs(3));
    assert!(c.node_has_departed("data-hot-2"));
    assert_eq!(node_count(&mut c, secs(3)), 2);
    assert_eq!(c.health(), Health::Yellow, "replicas promoted, copies missing");
    assert_eq!(c.nodes_not_serving(), 0, "a departed node is not 'down'");
    // After unassigned.node_left.delayed_timeout the replicas are rebuilt on the two left.
    c.advance(secs(30));
    assert_eq!(c.health(), Health::Yellow);
    run_until_quiet(&mut c, secs(600), |_| {});
    assert_eq!(c.health(), Health::Green);
    assert_eq!(copies_on(&mut c, "data-hot-0", secs(600)), 8);
    // The same node comes back (same name, same id) when a pod runs it again.
    let id =
        |c: &mut CrateCluster| scalar(c, "SELECT id FROM sys.nodes WHERE name = 'data-hot-0'", secs(600));
    let before = id(&mut c);
    c.node_process_started("data-hot-2", secs(600));
    c.advance(secs(610));
    assert!(!c.node_has_departed("data-hot-2"));
    assert_eq!(node_count(&mut c, secs(610)), 3);
    assert_eq!(id(&mut c), before);
}

#[test]
fn a_departed_node_with_the_only_copy_leaves_the_cluster_red() {
    let mut s = spec(3);
    s.tables = vec![TableSpec {
        schema: "doc".into(),
        name: "r0".into(),
        shards: 3,
        replicas: "0".into(),
        partitions: vec![],
        partitioned_by: vec![],
        rows: None,
    }];
    let mut c = CrateCluster::new(s, Duration::ZERO);
    c.node_stop_requested("data-hot-2", secs(1));
    c.advance(secs(3));
    c.node_departed("data-hot-2", secs(3));
    run_until_quiet(&mut c, secs(3600), |_| {});
    assert_eq!(
        c.health(),
        Health::Red,
        "the primary only the departed node had is lost"
    );
    assert_eq!(
        scalar(&mut c, "SELECT sum(missing_shards) FROM sys.health", secs(3600)),
        json!(1)
    );
}

#[test]
fn the_voting_configuration_follows_scale_in_and_out() {
    // 3 → 2 keeps a master; 2 → 1 loses it (the third voter is still configured).
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.node_departed("data-hot-2", secs(1));
    assert_eq!(node_count(&mut c, secs(1)), 2);
    c.node_departed("data-hot-1", secs(2));
    assert_eq!(
        scalar(
            &mut c,
            "SELECT count(*) FROM sys.cluster WHERE master_node IS NULL",
            secs(2)
        ),
        json!(1),
        "one of three voters left: no quorum"
    );

    // 4 nodes, a voter departs: the configuration takes the newcomer, so losing one more of
    // the three left still leaves a quorum.
    let mut c = CrateCluster::new(spec(3), Duration::ZERO);
    c.ensure_node(&node("data-hot-3"), secs(1));
    c.node_process_started("data-hot-3", secs(1));
    c.advance(secs(10));
    c.node_departed("data-hot-0", secs(10));
    c.node_killed("data-hot-1", secs(11));
    assert_eq!(node_count(&mut c, secs(11)), 2);
    assert_eq!(
        scalar(
            &mut c,
            "SELECT count(*) FROM sys.cluster WHERE master_node IS NULL",
            secs(11)
        ),
        json!(0)
    );
}

/// `sys.allocations` for replicas that may not stay on excluded nodes while
/// `cluster.routing.allocation.enable` is `primaries`: the move decision
/// (`MoveDecision.getExplanation`) weighs the other nodes only, with the texts of
/// `EnableAllocationDecider` and `FilterAllocationDecider` (`DiscoveryNodeFilters` joins the
/// values of one attribute with " OR ") and `SameShardAllocationDecider`.
#[test]
fn allocations_explain_replicas_held_on_excluded_nodes() {
    let mut c = CrateCluster::new(spec(4), Duration::ZERO);
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        secs(1),
    );
    query(
        &mut c,
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2,data-hot-3'",
        secs(2),
    );
    run_until_quiet(&mut c, secs(600), |_| {});
    let ids = query(&mut c, "SELECT name, id FROM sys.nodes", secs(600));
    let id_of = |name: &str| {
        ids["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == name)
            .unwrap()[1]
            .clone()
    };
    let rows = query(
        &mut c,
        "SELECT node_id, explanation, decisions FROM sys.allocations \
         WHERE current_state = 'STARTED' AND \"primary\" = false",
        secs(600),
    );
    let held = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == id_of("data-hot-2"))
        .unwrap_or_else(|| panic!("a replica held on data-hot-2: {rows}"));
    assert_eq!(
        held[1],
        "cannot move shard to another node, even though it is not allowed to remain on its current node"
    );
    let decisions = held[2].as_array().unwrap();
    let of = |name: &str| {
        decisions
            .iter()
            .find(|d| d["node_name"] == name)
            .map(|d| d["explanations"].to_string())
    };
    assert_eq!(of("data-hot-2"), None, "the node it is on is not a move target");
    let enable = "replica allocations are forbidden due to cluster setting [cluster.routing.allocation.enable=primaries]";
    let other_excluded = of("data-hot-3").unwrap();
    assert!(other_excluded.contains(enable), "{other_excluded}");
    assert!(
        other_excluded.contains(
            "node matches cluster setting [cluster.routing.allocation.exclude] filters [_name:\\\"data-hot-2 OR data-hot-3\\\"]"
        ),
        "{other_excluded}"
    );
    let allowed = of("data-hot-0").unwrap();
    assert!(allowed.contains(enable), "{allowed}");
    assert!(!allowed.contains("node matches"), "{allowed}");
    let same = decisions
        .iter()
        .map(|d| d["explanations"].to_string())
        .find(|e| e.contains("a copy of this shard is already allocated to this node"));
    if let Some(same) = same {
        assert!(same.contains("], node["), "the shard routing is named: {same}");
    }
}
