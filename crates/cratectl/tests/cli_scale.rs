//! `cratectl scale` as a user meets it, against cratesim through the binary: the refusals (exit
//! 2, each with its message, nothing recorded), "nothing to do", the dry run's JSON contract, and
//! `kill -9` of the worker during the drain and during a node's departure — the scale completes,
//! no node is removed twice, and nothing of ours is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Child;

use common::{Env, json_of, shape, stderr, stdout};
use cratesim::faults::Fault;
use serde_json::Value;

const FAST: &[&str] = &[
    "--stable-polls",
    "2",
    "--poll-interval",
    "200ms",
    "--health-timeout",
    "60s",
];

fn with_state(env: &Env, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push("--state-dir".into());
    all.push(env.state_dir().display().to_string());
    all
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let args = with_state(env, args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.cratectl(&args)
}

fn status(env: &Env, id: &str) -> Value {
    serde_json::from_slice(&run(env, &["status", id, "-o", "json"]).stdout).unwrap_or(Value::Null)
}

fn worker(env: &Env) -> Child {
    let state = env.state_dir().display().to_string();
    env.spawn_cratectl(&["worker", "--state-dir", &state])
}

fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs `scale` expecting exit 2 and returns its standard error.
fn refused(env: &Env, args: &[&str]) -> String {
    let out = run(env, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

#[test]
fn bad_input_is_refused_with_the_reason_and_nothing_is_recorded() {
    let env = Env::start("scale-refusals", &[shape("gamma", "gamma-pw", false)]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["scale", "gamma", "hot"],
            r#""hot": expected GROUP=REPLICAS, e.g. hot=3"#,
        ),
        (
            &["scale", "gamma", "hot=2.5"],
            r#""hot=2.5": replicas must be a whole number ≥ 0"#,
        ),
        (
            &["scale", "gamma", "hot=-1"],
            r#""hot=-1": replicas must be a whole number ≥ 0"#,
        ),
        (
            &["scale", "gamma", "hot=x"],
            r#""hot=x": replicas must be a whole number ≥ 0"#,
        ),
        (
            &["scale", "gamma", "hot=2", "hot=3"],
            r#"group "hot" given twice"#,
        ),
        (
            &["scale", "gamma", "hott=2"],
            r#"unknown node group "hott" of gamma (cratedb/gamma); did you mean "hot"? groups: hot"#,
        ),
        (
            &["scale", "gamma", "hot=0"],
            "scaling every data group to 0 suspends the cluster: use cratectl suspend gamma",
        ),
        (&["scale", "gamma", "master=3"], "has no dedicated master nodes"),
        (
            &["scale", "gamma", "hot=1"],
            "doc.events (number_of_replicas \"1\") needs 2 data nodes",
        ),
        (
            &["scale", "gamma", "hot=1"],
            "hot is master-eligible and 1 node cannot keep a master elected",
        ),
        (&["scale", "gamma", "hot=5", "--mode", "direct"], "--force-direct"),
        (
            &[
                "--cluster-url",
                "http://localhost:4200",
                "scale",
                "gamma",
                "hot=2",
            ],
            "scale needs Kubernetes; --cluster-url is not supported",
        ),
    ];
    for (args, message) in cases {
        let err = refused(&env, args);
        assert!(err.contains(message), "{args:?}: expected {message:?} in: {err}");
    }
    // Nothing to do: said, exit 0, nothing recorded.
    let out = run(&env, &["scale", "gamma", "hot=3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "nothing to do: gamma already has hot=3\n");
    let listed = json_of(&run(&env, &["list", "-o", "json"]), 0);
    assert_eq!(listed, Value::Array(vec![]), "nothing recorded");
}

#[test]
fn the_dry_run_shows_the_plan_and_changes_nothing() {
    let env = Env::start("scale-dry-run", &[shape("gamma", "gamma-pw", false)]);
    let before = env.report();
    let plan = json_of(
        &run(&env, &["scale", "gamma", "hot=2", "--dry-run", "-o", "json"]),
        0,
    );
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["operation"], "scale");
    assert!(
        plan["workflow_id"].as_str().unwrap().starts_with("scale-gamma-"),
        "{plan}"
    );
    let c = &plan["clusters"][0];
    assert_eq!(c["mode"], "operator", "the simulated operator manages gamma: {c}");
    assert_eq!(c["groups"][0]["group"], "hot");
    assert_eq!(c["groups"][0]["from"], 3);
    assert_eq!(c["groups"][0]["to"], 2);
    assert_eq!(c["remove_nodes"], serde_json::json!(["data-hot-2"]));
    assert!(c["shards_to_move"].as_u64().unwrap() > 0, "{c}");
    assert_eq!(c["replica_check"]["ok"], true, "{c}");
    assert_eq!(c["replica_check"]["eligible_data_nodes_after"], 2, "{c}");
    assert_eq!(c["gateway"]["expected_data_nodes"]["to"], 2, "{c}");
    assert_eq!(c["allocation_enable"], "all");
    assert_eq!(c["health"]["safe_to_disrupt"], true, "{c}");
    assert_eq!(c["refused"], Value::Null, "{c}");
    for key in [
        "window",
        "add_nodes",
        "exclusions_now",
        "warnings",
        "namespace",
        "resource",
    ] {
        assert!(c.get(key).is_some(), "missing {key}: {c}");
    }
    let after = env.report();
    assert_eq!(
        after["clusters"][0]["kube_writes"], before["clusters"][0]["kube_writes"],
        "no Kubernetes write"
    );
    assert_eq!(
        after["clusters"][0]["sql_writes"], before["clusters"][0]["sql_writes"],
        "no SQL write"
    );
    let listed = json_of(&run(&env, &["list", "-o", "json"]), 0);
    assert_eq!(listed, Value::Array(vec![]), "nothing recorded");

    // Allocation held by someone: the scale would fail at its start, so the dry run exits 1.
    let hold = run(
        &env,
        &[
            "sql",
            "gamma",
            "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
            "--write",
        ],
    );
    assert_eq!(hold.status.code(), Some(0), "{}", stderr(&hold));
    let plan = json_of(
        &run(&env, &["scale", "gamma", "hot=2", "--dry-run", "-o", "json"]),
        1,
    );
    let refused = plan["clusters"][0]["refused"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        refused.contains("cluster.routing.allocation.enable is 'primaries'"),
        "{plan}"
    );
    assert_eq!(plan["clusters"][0]["allocation_enable"], "primaries");
}

#[test]
fn a_killed_worker_resumes_the_scale_without_removing_a_node_twice() {
    let mut unmanaged = shape("gamma", "gamma-pw", false);
    unmanaged.operator = false;
    let env = Env::start("scale-crash", &[unmanaged]);
    // Five nodes first, in the foreground.
    let mut up = vec!["scale", "gamma", "hot=5", "-o", "json"];
    up.extend_from_slice(FAST);
    let report = json_of(&run(&env, &up), 0);
    assert_eq!(report["state"], "completed", "{report}");
    let settings_before = env.report()["clusters"][0]["settings"].clone();
    env.faults(&[Fault::SlowRecovery {
        namespace: "cratedb".into(),
        cluster: "gamma".into(),
        factor: 20.0,
    }]);

    let mut down = vec!["scale", "gamma", "hot=3", "--async", "-o", "json"];
    down.extend_from_slice(FAST);
    let started = json_of(&run(&env, &down), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let cluster = |r: &Value| r["clusters"][0].clone();

    // 1. Kill the worker during the drain.
    let first = worker(&env);
    let mut last = Value::Null;
    let draining = env.wait_until(120, || {
        last = status(&env, &id);
        cluster(&last)["current_step"] == "drain"
    });
    kill_9(first);
    assert!(draining, "never drained: {last}");

    // 2. Again while the first node departs.
    let second = worker(&env);
    let departing = env.wait_until(240, || {
        last = status(&env, &id);
        cluster(&last)["current_step"] == "departure"
    });
    kill_9(second);
    assert!(departing, "no node ever departed: {last}");

    // 3. A third worker finishes it.
    let third = worker(&env);
    let finished = env.wait_until(300, || {
        last = status(&env, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(third);
    assert!(finished, "not finished after the crashes: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    let c = cluster(&last);
    let removed: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["result"] == "removed")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["data-hot-4", "data-hot-3"], "{last}");
    assert_eq!(c["exclusions_left"], serde_json::json!([]), "{last}");

    let sim = env.report();
    let seen = &sim["clusters"][0];
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    // No node removed twice (the StatefulSet is at 3, not below) and none restarted: the three
    // that stay kept their only incarnation.
    let pods: Vec<&Value> = seen["pods"].as_array().unwrap().iter().collect();
    for i in 0..3 {
        let name = format!("crate-data-hot-gamma-{i}");
        let pod = pods
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name}: {seen}"));
        assert_eq!(
            pod["uids"].as_array().unwrap().len(),
            1,
            "{name} never restarted: {pod}"
        );
    }
    let replicas = env.with_kube(async |client| {
        use k8s_openapi::api::apps::v1::StatefulSet;
        let api: kube::Api<StatefulSet> = kube::Api::namespaced(client, "cratedb");
        api.get("crate-data-hot-gamma").await.unwrap().spec.replicas
    });
    assert_eq!(replicas, Some(3), "{seen}");
    assert_eq!(
        seen["settings"], settings_before,
        "no exclusion of ours left, at both levels"
    );
    let lease = env.with_kube(async |client| {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: kube::Api<Lease> = kube::Api::namespaced(client, "cratedb");
        api.get_opt("cratectl-gamma")
            .await
            .unwrap()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    });
    assert_eq!(lease, None, "Lease released");
}
