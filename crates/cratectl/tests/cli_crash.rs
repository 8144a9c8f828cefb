//! Crash safety, as an operator would meet it: `kill -9` of the worker after pod 1 finished and
//! again while pod 2 is being waited for; a worker started again completes the restart, every
//! pod is restarted exactly once, at most one node is down at any instant, and the settings are
//! back at both levels (ARCHITECTURE §1.1, §1.3, §1.4).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Child;

use common::{Env, FAST_RESTART, json_of, shape};
use serde_json::Value;

fn with_state(env: &Env, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.push("--state-dir".into());
    all.push(env.state_dir().display().to_string());
    all
}

fn status(env: &Env, id: &str) -> Value {
    let args = with_state(env, &["status", id, "-o", "json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_slice(&env.cratectl(&args).stdout).unwrap_or(Value::Null)
}

fn worker(env: &Env) -> Child {
    let state = env.state_dir().display().to_string();
    env.spawn_cratectl(&["worker", "--state-dir", &state])
}

/// SIGKILL: no shutdown code runs.
fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

fn pod(report: &Value, index: usize) -> &Value {
    &report["clusters"][0]["pods"][index]
}

#[test]
fn a_killed_worker_resumes_without_repeating_or_skipping_a_pod() {
    let env = Env::start("crash", &[shape("gamma", "gamma-pw", false)]);
    let before = env.report();
    let settings_before = before["clusters"][0]["settings"].clone();

    let mut args = vec!["restart", "gamma", "--async", "-o", "json"];
    args.extend_from_slice(FAST_RESTART);
    let args = with_state(&env, &args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = json_of(&env.cratectl(&args), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();

    // 1. Kill the worker once pod 1 is restarted.
    let first = worker(&env);
    let mut last = Value::Null;
    let pod1_done = env.wait_until(120, || {
        last = status(&env, &id);
        pod(&last, 0)["result"] == "restarted"
    });
    kill_9(first);
    assert!(pod1_done, "pod 1 never finished: {last}");

    // 2. Again, while pod 2 is being waited for (its old pod stopped, the new one not yet back).
    let second = worker(&env);
    let pod2_waiting = env.wait_until(120, || {
        last = status(&env, &id);
        pod(&last, 1)["old_uid"].is_string() && pod(&last, 1)["result"] == "pending"
    });
    kill_9(second);
    assert!(pod2_waiting, "pod 2 never started: {last}");

    // 3. A third worker finishes it.
    let third = worker(&env);
    let finished = env.wait_until(240, || {
        last = status(&env, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(third);
    assert!(finished, "not finished after the crashes: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    for i in 0..3 {
        assert_eq!(pod(&last, i)["result"], "restarted", "{last}");
        assert_ne!(pod(&last, i)["old_uid"], pod(&last, i)["new_uid"], "{last}");
    }

    let sim = env.report();
    let seen = &sim["clusters"][0];
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    for p in seen["pods"].as_array().unwrap() {
        assert_eq!(
            p["uids"].as_array().unwrap().len(),
            2,
            "each pod restarted exactly once: {p}"
        );
    }
    assert_eq!(seen["settings"], settings_before, "settings back at both levels");
}
