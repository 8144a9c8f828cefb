//! `cratectl snapshot list` against cratesim through the binary: repositories and snapshots
//! created with CrateDB's own statements are listed newest first, `--repository` narrows the
//! list, an unknown one is refused naming those there are, and repository settings (which can
//! hold keys) never appear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, json_of, shape, stderr, stdout};

fn sql(env: &Env, stmt: &str) {
    let out = env.cratectl(&["sql", "gamma", stmt, "--write"]);
    assert_eq!(out.status.code(), Some(0), "{stmt}: {}", stderr(&out));
}

#[test]
fn repositories_and_their_snapshots_are_listed_newest_first() {
    let env = Env::start("snapshot-list", &[shape("gamma", "gamma-pw", false)]);
    sql(
        &env,
        "CREATE REPOSITORY backups TYPE fs WITH (location = '/snapshots/sekrit-path')",
    );
    sql(&env, "CREATE REPOSITORY empty TYPE fs WITH (location = '/other')");
    sql(&env, "CREATE SNAPSHOT backups.first ALL");
    let mut out = serde_json::Value::Null;
    assert!(
        env.wait_until(60, || {
            out = json_of(&env.cratectl(&["snapshot", "list", "gamma", "-o", "json"]), 0);
            out["repositories"][0]["snapshots"][0]["state"] == "SUCCESS"
        }),
        "the first snapshot never finished: {out}"
    );
    sql(&env, "CREATE SNAPSHOT backups.second TABLE doc.events");
    assert!(
        env.wait_until(60, || {
            out = json_of(&env.cratectl(&["snapshot", "list", "gamma", "-o", "json"]), 0);
            out["repositories"][0]["snapshots"]
                .as_array()
                .is_some_and(|s| s.len() == 2 && s.iter().all(|s| s["state"] == "SUCCESS"))
        }),
        "the second snapshot never finished: {out}"
    );
    assert_eq!(out["cluster"], "cratedb/gamma", "{out}");
    let repos = out["repositories"].as_array().unwrap();
    let names: Vec<&str> = repos.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["backups", "empty"], "{out}");
    assert_eq!(repos[0]["type"], "fs");
    let snaps = repos[0]["snapshots"].as_array().unwrap();
    let snap_names: Vec<&str> = snaps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(snap_names, ["second", "first"], "newest first: {out}");
    assert_eq!(snaps[0]["state"], "SUCCESS", "{out}");
    assert_eq!(snaps[0]["tables"], serde_json::json!(["doc.events"]), "{out}");
    assert!(
        snaps[0]["started"].is_string() && snaps[0]["version"].is_string(),
        "{out}"
    );
    assert!(repos[1]["snapshots"].as_array().unwrap().is_empty(), "{out}");
    assert!(
        !out.to_string().contains("sekrit") && repos[0].get("settings").is_none(),
        "no repository setting is shown: {out}"
    );

    let only = json_of(
        &env.cratectl(&["snapshot", "list", "gamma", "--repository", "empty", "-o", "json"]),
        0,
    );
    assert_eq!(only["repositories"].as_array().unwrap().len(), 1, "{only}");

    let text = env.cratectl(&["snapshot", "list", "gamma"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert!(stdout(&text).contains("second"), "{}", stdout(&text));
    assert!(!stdout(&text).contains("sekrit"));

    let unknown = env.cratectl(&["snapshot", "list", "gamma", "--repository", "backup"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stdout(&unknown));
    assert!(
        stderr(&unknown).contains(r#"no repository "backup"; repositories: backups, empty"#),
        "{}",
        stderr(&unknown)
    );
}
