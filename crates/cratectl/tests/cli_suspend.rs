//! `cratectl suspend` and `cratectl resume` as a user meets them, against cratesim through the
//! binary: the refusals (exit 2, nothing recorded), "nothing to do" (exit 0), the record shown
//! by `cluster list`, `cluster info` and `doctor`, other commands refusing a suspended cluster,
//! and `kill -9` of the worker between the StatefulSet writes of a suspend and of a resume:
//! both complete, every node comes back by name and the settings are as before.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Child;

use common::{Env, json_of, shape, stderr, stdout};
use serde_json::Value;

const FAST: &[&str] = &["--stable-polls", "2", "--poll-interval", "200ms"];

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push("--state-dir".into());
    all.push(env.state_dir().display().to_string());
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    env.cratectl(&all)
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

/// Runs a command expecting exit 2; its standard error.
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

/// The cluster's Kubernetes writes of StatefulSet `sts` the simulator saw.
fn sts_writes(env: &Env, sts: &str) -> usize {
    env.report()["clusters"][0]["kube_writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            w["verb"] != "GET"
                && w["path"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with(&format!("/statefulsets/{sts}"))
        })
        .count()
}

fn direct_cluster(name: &str) -> cratesim::operator::ClusterShape {
    let mut s = shape(name, &format!("{name}-pw"), false);
    s.operator = false;
    s.masters = 3;
    s
}

#[test]
fn suspend_and_resume_survive_a_killed_worker_between_their_statefulset_writes() {
    let env = Env::start("suspend-crash", &[direct_cluster("delta")]);
    let settings_before = env.report()["clusters"][0]["settings"].clone();

    let mut args = vec!["suspend", "delta", "--yes", "--async", "-o", "json"];
    args.extend_from_slice(FAST);
    let started = json_of(&run(&env, &args), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();

    // Killed right after the data StatefulSet was written (the masters are written later).
    let first = worker(&env);
    let written = env.wait_until(120, || sts_writes(&env, "crate-data-hot-delta") > 0);
    kill_9(first);
    assert!(
        written,
        "the data StatefulSet was never written: {}",
        status(&env, &id)
    );
    assert_eq!(
        sts_writes(&env, "crate-master-delta"),
        0,
        "killed before the masters"
    );
    let second = worker(&env);
    let mut last = Value::Null;
    let finished = env.wait_until(240, || {
        last = status(&env, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(second);
    assert!(finished, "suspend not finished: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    assert_eq!(last["clusters"][0]["committed"], true, "{last}");

    // What people see of a suspended cluster.
    let list = json_of(&run(&env, &["cluster", "list", "-o", "json"]), 0);
    let row = &list.as_array().unwrap()[0];
    assert!(
        row["busy"]
            .as_array()
            .unwrap()
            .contains(&Value::from("suspended")),
        "{row}"
    );
    assert_eq!(row["suspend_record"]["data"]["hot"], 3, "{row}");
    assert_eq!(row["suspend_record"]["master"], 3, "{row}");
    let info = stdout(&run(&env, &["cluster", "info", "delta"]));
    assert!(
        info.contains("Suspended")
            && info.contains("master=3, hot=3")
            && info.contains("cratectl resume delta"),
        "{info}"
    );
    let doctor = json_of(&run(&env, &["doctor", "delta", "-o", "json"]), 1);
    assert!(doctor.to_string().contains("\"suspended\""), "{doctor}");

    // Other operations refuse it; a resume to other counts too; a second suspend has nothing
    // to do.
    let e = refused(&env, &["restart", "delta", "--yes"]);
    assert!(e.contains("refused: cratedb/delta is suspended"), "{e}");
    let e = refused(
        &env,
        &[
            "restore",
            "delta",
            "--snapshot",
            "s",
            "--repository",
            "r",
            "--tables-all",
        ],
    );
    assert!(e.contains("refused: cratedb/delta is suspended"), "{e}");
    let e = refused(&env, &["scale", "delta", "hot=4"]);
    assert!(
        e.contains("refused: cratedb/delta is suspended") && e.contains("cratectl resume"),
        "{e}"
    );
    let e = refused(
        &env,
        &["resume", "delta", "--replicas", "hot=5", "--replicas", "master=3"],
    );
    assert!(
        e.contains(
            "delta was suspended with master=3, hot=3: resume with master=3, hot=3, then `cratectl scale`"
        ),
        "{e}"
    );
    let e = refused(&env, &["resume", "delta", "--replicas", "hot"]);
    assert!(e.contains("--replicas"), "{e}");
    let again = run(&env, &["suspend", "delta", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing to do: delta is already suspended"));

    // The resume, killed after the masters' StatefulSet was written and before the data one.
    let data_writes = sts_writes(&env, "crate-data-hot-delta");
    let master_writes = sts_writes(&env, "crate-master-delta");
    let mut args = vec!["resume", "delta", "--async", "-o", "json"];
    args.extend_from_slice(FAST);
    let started = json_of(&run(&env, &args), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let third = worker(&env);
    let written = env.wait_until(120, || sts_writes(&env, "crate-master-delta") > master_writes);
    kill_9(third);
    assert!(written, "the masters were never written: {}", status(&env, &id));
    assert_eq!(
        sts_writes(&env, "crate-data-hot-delta"),
        data_writes,
        "killed before the data StatefulSet"
    );
    let fourth = worker(&env);
    let finished = env.wait_until(240, || {
        last = status(&env, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(fourth);
    assert!(finished, "resume not finished: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    let nodes: Vec<&str> = last["clusters"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["result"] == "joined")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        [
            "master-0",
            "master-1",
            "master-2",
            "data-hot-0",
            "data-hot-1",
            "data-hot-2"
        ],
        "{last}"
    );
    assert_eq!(
        env.report()["clusters"][0]["settings"],
        settings_before,
        "settings as before"
    );
    let list = json_of(&run(&env, &["cluster", "list", "-o", "json"]), 0);
    let row = &list.as_array().unwrap()[0];
    assert_eq!(row["suspend_record"], Value::Null, "{row}");
    assert_eq!(row["busy"], Value::Array(Vec::new()), "{row}");
    let again = run(&env, &["resume", "delta"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing to do: delta is not suspended"));
}

#[test]
fn suspend_refusals_and_the_dry_run() {
    let env = Env::start("suspend-refusals", &[shape("eps", "eps-pw", false)]);
    // No terminal and no --yes.
    let e = refused(&env, &["suspend", "eps"]);
    assert!(e.contains("pass --yes"), "{e}");
    let e = refused(&env, &["suspend", "nope", "--yes"]);
    assert!(e.contains("unknown cluster"), "{e}");
    let e = refused(&env, &["suspend", "eps", "--mode", "direct", "--yes"]);
    assert!(e.contains("--force-direct"), "{e}");
    let e = refused(&env, &["resume", "eps", "--replicas", "hot=x"]);
    assert!(e.contains("--replicas"), "{e}");
    let plan = json_of(&run(&env, &["suspend", "eps", "--dry-run", "-o", "json"]), 0);
    assert_eq!(plan["disruption"], "full", "{plan}");
    assert_eq!(plan["mode"], "operator", "{plan}");
    assert_eq!(plan["replicas"]["data"]["hot"], 3, "{plan}");
    assert_eq!(plan["refused"], Value::Null, "{plan}");
    // A dry run writes nothing: no record, the StatefulSet untouched.
    assert_eq!(sts_writes(&env, "crate-data-hot-eps"), 0);
    let list = json_of(&run(&env, &["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[0]["suspend_record"], Value::Null);
    // A backup Job running (as the operator's CronJob creates it): suspend and scale refuse,
    // naming it (a restart does not wait for backups), and so does the dry run; once it is
    // done they do not.
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "create-snapshot-eps-29000000", "labels": {
            "app.kubernetes.io/component": "backup", "app.kubernetes.io/name": "eps"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "backup", "image": "crate/crate-backup"}]}}},
        "status": {"active": 1},
    });
    env.with_kube(async |client| {
        let api: kube::Api<k8s_openapi::api::batch::v1::Job> = kube::Api::namespaced(client, "cratedb");
        api.create(&Default::default(), &serde_json::from_value(job).unwrap())
            .await
            .unwrap();
    });
    let e = refused(&env, &["suspend", "eps", "--yes"]);
    assert!(
        e.contains("refused: cratedb/eps is busy: backup Job create-snapshot-eps-29000000 is running"),
        "{e}"
    );
    let e = refused(&env, &["scale", "eps", "hot=4"]);
    assert!(e.contains("backup Job create-snapshot-eps-29000000"), "{e}");
    let plan = json_of(&run(&env, &["suspend", "eps", "--dry-run", "-o", "json"]), 1);
    assert!(
        plan["refused"]
            .as_str()
            .unwrap()
            .starts_with("cratedb/eps is busy: backup Job create-snapshot-eps-29000000 is running"),
        "{plan}"
    );
    env.with_kube(async |client| {
        let api: kube::Api<k8s_openapi::api::batch::v1::Job> = kube::Api::namespaced(client, "cratedb");
        api.delete("create-snapshot-eps-29000000", &Default::default())
            .await
            .unwrap();
    });
    let plan = json_of(&run(&env, &["suspend", "eps", "--dry-run", "-o", "json"]), 0);
    assert_eq!(plan["refused"], Value::Null, "{plan}");

    // Not suspended: nothing to do, exit 0.
    let out = run(&env, &["resume", "eps"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("nothing to do: eps is not suspended"));

    // Operator mode, the default here, end to end through the CLI: the operator's own
    // routing-owner label on the suspended cluster does not hold up the resume.
    let e = refused(&env, &["suspend", "eps", "--yes", "--delete-client-service"]);
    assert!(
        e.contains("in operator mode the CrateDB operator handles the client Service"),
        "{e}"
    );
    let mut args = vec!["suspend", "eps", "--yes", "-o", "json"];
    args.extend_from_slice(FAST);
    let report = json_of(&run(&env, &args), 0);
    assert_eq!(report["clusters"][0]["mode"], "operator", "{report}");
    let list = json_of(&run(&env, &["cluster", "list", "-o", "json"]), 0);
    let busy = list[0]["busy"].as_array().unwrap();
    assert!(
        busy.contains(&Value::from("suspended")) && busy.contains(&Value::from("routing_owner_fresh")),
        "the operator's suspend leaves its label: {list}"
    );
    let mut args = vec!["resume", "eps", "-o", "json"];
    args.extend_from_slice(FAST);
    let report = json_of(&run(&env, &args), 0);
    assert_eq!(report["state"], "completed", "{report}");
    assert_eq!(
        report["clusters"][0]["nodes"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    let list = json_of(&run(&env, &["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[0]["busy"], Value::Array(Vec::new()), "{list}");
    assert_eq!(list[0]["suspend_record"], Value::Null, "{list}");
}
