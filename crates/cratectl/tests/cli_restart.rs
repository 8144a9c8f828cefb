//! `cratectl restart`, `worker`, `status`, `list`, `stop`, run as a user runs them: the built
//! binary against cratesim on a real socket, with the workflow store in a scratch state
//! directory. Refusals must leave no trace (no workflow record, no write to either API); a
//! restart must replace every pod exactly once with at most one node down and put the settings
//! back, as the simulator's evidence report shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, FAST_RESTART, json_of, shape, stderr, stdout};
use serde_json::Value;

/// alpha (dc_util hook) and beta (no hook: cratectl decommissions), three data nodes each.
fn two_clusters(name: &str) -> Env {
    Env::start(
        name,
        &[shape("alpha", "alpha-pw", true), shape("beta", "beta-pw", false)],
    )
}

/// `args` plus `--state-dir <env's state dir>`.
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

/// `restart` with the fast gate settings.
fn restart(env: &Env, args: &[&str]) -> std::process::Output {
    let mut all = vec!["restart"];
    all.extend_from_slice(args);
    all.extend_from_slice(FAST_RESTART);
    run(env, &all)
}

fn cluster<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {report}"))
}

/// Neither API saw a write concerning any cluster.
fn assert_no_writes(env: &Env) {
    let report = env.report();
    for c in report["clusters"].as_array().unwrap() {
        assert_eq!(c["sql_writes"], serde_json::json!([]), "SQL writes: {c}");
        assert_eq!(c["kube_writes"], serde_json::json!([]), "Kubernetes writes: {c}");
    }
}

/// Nothing was recorded: no store, no started restart.
fn assert_no_record(env: &Env) {
    let started = env.state_dir().join("started");
    let entries = std::fs::read_dir(&started).map(|d| d.count()).unwrap_or(0);
    assert_eq!(entries, 0, "a restart was recorded in {}", started.display());
}

#[test]
fn unknown_names_are_refused_with_exit_2_and_nothing_recorded() {
    let env = two_clusters("restart-unknown");
    let out = restart(&env, &["alpah", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\"alpah\"") && err.contains("did you mean alpha"),
        "{err}"
    );
    assert!(err.contains("\"nope\""), "every unknown name is named: {err}");
    assert!(err.contains("nothing was started"), "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    // A known name beside an unknown one starts nothing either.
    let out = restart(&env, &["alpha", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!env.state_dir().exists(), "the state store was not even opened");
    assert_no_record(&env);
    assert_no_writes(&env);
}

#[test]
fn a_dry_run_prints_the_plan_and_writes_nothing() {
    let env = two_clusters("restart-dry");
    let out = restart(&env, &["alpha", "beta", "--dry-run", "-o", "json"]);
    let plan = json_of(&out, 0);
    assert_eq!(plan["dry_run"], true);
    let id = plan["workflow_id"].as_str().unwrap();
    assert!(id.starts_with("restart-") && id.ends_with("-2"), "{id}");

    let alpha = cluster(&plan, "alpha");
    assert_eq!(alpha["namespace"], "cratedb");
    assert_eq!(alpha["health"]["safe_to_disrupt"], true, "{alpha}");
    assert_eq!(alpha["window"], Value::Null, "no maintenance file: no window");
    let pods = alpha["pods"].as_array().unwrap();
    let names: Vec<&str> = pods.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "crate-data-hot-alpha-0",
            "crate-data-hot-alpha-1",
            "crate-data-hot-alpha-2"
        ]
    );
    for (i, pod) in pods.iter().enumerate() {
        assert_eq!(pod["order"], i + 1);
        assert_eq!(pod["skip"], Value::Null);
        assert_eq!(pod["stop"]["method"], "prestop_hook", "{pod}");
        assert_eq!(pod["stop"]["timeout_s"], 720);
        assert!(pod["estimate_s"].as_f64().unwrap() > 0.0);
    }
    let sum: f64 = pods.iter().map(|p| p["estimate_s"].as_f64().unwrap()).sum();
    assert_eq!(alpha["estimate_s"].as_f64().unwrap(), sum);

    let beta = cluster(&plan, "beta");
    assert_eq!(beta["pods"][0]["stop"]["method"], "decommission", "{beta}");
    assert_eq!(beta["pods"][0]["stop"]["min_availability"], "PRIMARIES");

    // Flags reach the plan; `all` needs no confirmation for a dry run; text names the method.
    let out = restart(&env, &["all", "--dry-run", "--min-availability", "full"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "Dry run: nothing was changed",
        "crate-data-hot-beta-2",
        "decommission (min_availability FULL)",
        "dc_util preStop hook (timeout 12m",
        "Estimated total",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }

    assert!(!env.state_dir().exists(), "a dry run opens no state store");
    assert_no_writes(&env);
}

#[test]
fn maintenance_files_are_checked_before_anything_starts() {
    let env = two_clusters("restart-maint");
    let bad = env.dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[alpha]\ntimezone = \"UTC\"\n\n[[alpha.windows]]\ntime = \"25:00-02:00\"\n",
    )
    .unwrap();
    let out = restart(&env, &["alpha", "--maintenance-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.toml:5:"), "names the file and line: {err}");
    assert!(err.contains("25:00"), "{err}");

    let out = restart(&env, &["alpha", "--maintenance-config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.toml"), "{}", stderr(&out));

    // A valid file without a schedule for beta (and no [defaults]) fails closed.
    let only_alpha = env.dir.join("alpha.toml");
    std::fs::write(&only_alpha, "[alpha]\nunrestricted = true\n").unwrap();
    let out = restart(
        &env,
        &["beta", "--maintenance-config", only_alpha.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no maintenance windows for cluster 'beta'"),
        "{}",
        stderr(&out)
    );

    // The dry run shows the window decision now.
    let out = restart(
        &env,
        &[
            "alpha",
            "--maintenance-config",
            only_alpha.to_str().unwrap(),
            "--dry-run",
            "-o",
            "json",
        ],
    );
    let plan = json_of(&out, 0);
    let window = &cluster(&plan, "alpha")["window"];
    assert_eq!(window["decision"], "proceed", "{window}");
    assert!(
        window["summary"].as_str().unwrap().starts_with("in window"),
        "{window}"
    );

    assert_no_record(&env);
    assert_no_writes(&env);
}

#[test]
fn restart_all_without_a_terminal_needs_yes() {
    let env = two_clusters("restart-all");
    let out = restart(&env, &["all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--yes") && err.contains("not a terminal"), "{err}");
    let out = restart(&env, &["all", "alpha"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_no_record(&env);
    assert_no_writes(&env);
}

#[test]
fn a_synchronous_restart_replaces_every_pod_once_and_restores_the_settings() {
    let env = two_clusters("restart-sync");
    let before = env.report();
    let out = restart(&env, &["alpha", "-o", "json"]);
    let report = json_of(&out, 0);
    assert_eq!(report["state"], "completed", "{report}");
    let id = report["workflow_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("restart-alpha-"), "{id}");
    let alpha = cluster(&report, "alpha");
    assert_eq!(alpha["state"], "succeeded", "{alpha}");
    let pods = alpha["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 3);
    for pod in pods {
        assert_eq!(pod["result"], "restarted", "{pod}");
        let (old, new) = (pod["old_uid"].as_str().unwrap(), pod["new_uid"].as_str().unwrap());
        assert_ne!(old, new, "{pod}");
    }
    // Progress went to standard error, as plain lines (no terminal here).
    assert!(stderr(&out).contains("cratedb/alpha"), "{}", stderr(&out));

    let sim = env.report();
    let seen = cluster(&sim, "alpha");
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    for pod in seen["pods"].as_array().unwrap() {
        assert_eq!(
            pod["uids"].as_array().unwrap().len(),
            2,
            "replaced exactly once: {pod}"
        );
    }
    assert_eq!(
        seen["settings"],
        cluster(&before, "alpha")["settings"],
        "settings restored"
    );
    let untouched = cluster(&sim, "beta");
    assert!(
        untouched["pods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["uids"].as_array().unwrap().len() == 1),
        "beta was not restarted: {untouched}"
    );

    // The record outlives the process: status and list read it without a worker.
    let status = json_of(&run(&env, &["status", &id, "-o", "json"]), 0);
    assert_eq!(status["state"], "completed");
    assert_eq!(status["clusters"][0]["pods"], alpha["pods"]);
    assert_eq!(status["operation"], "restart");
    let list = json_of(&run(&env, &["list", "-o", "json"]), 0);
    assert_eq!(list[0]["workflow_id"], id.as_str());
    assert_eq!(list[0]["operation"], "restart");
    assert_eq!(list[0]["state"], "completed");
    // A cluster's id within the restart (the Lease holder `cluster list` shows) finds it too.
    let child = alpha["child_id"].as_str().unwrap().to_string();
    assert_ne!(child, id);
    let by_child = json_of(&run(&env, &["status", &child, "-o", "json"]), 0);
    assert_eq!(by_child["workflow_id"], id.as_str());
    assert_eq!(by_child["state"], "completed");
    let failed = json_of(
        &run(&env, &["list-workflows", "--state", "failed", "-o", "json"]),
        0,
    );
    assert_eq!(failed, serde_json::json!([]));
    // Steering a finished restart is refused.
    let out = run(&env, &["stop", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already finished"), "{}", stderr(&out));
}

#[test]
fn an_async_restart_is_pending_until_a_worker_runs_it() {
    let env = two_clusters("restart-async");
    let out = restart(&env, &["beta", "--async", "-o", "json"]);
    let started = json_of(&out, 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    assert_eq!(started["state"], "running", "{started}");
    assert_eq!(cluster(&started, "beta")["state"], "pending", "{started}");

    let status = json_of(&run(&env, &["status", &id, "-o", "json"]), 0);
    assert_eq!(status["state"], "running");
    assert_eq!(status["clusters"][0]["state"], "pending");
    let text = run(&env, &["status", &id]);
    assert!(stdout(&text).contains("pending"), "{}", stdout(&text));
    // Recorded moments ago: no note about a missing worker yet (that comes after a minute).
    assert!(
        !stderr(&text).contains("no worker has advanced"),
        "{}",
        stderr(&text)
    );
    // Its cluster's id, before any worker created that workflow, leads to it as well.
    let child = cluster(&started, "beta")["child_id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_child = json_of(&run(&env, &["status", &child, "-o", "json"]), 0);
    assert_eq!(by_child["workflow_id"], id.as_str());
    let list = run(&env, &["list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(
        stdout(&list).contains(&id) && stdout(&list).contains("running"),
        "{}",
        stdout(&list)
    );

    // One operation per cluster: a second restart of beta is refused, naming the first.
    let out = restart(&env, &["beta"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&id), "{}", stderr(&out));
    let out = run(&env, &["status", "restart-nope", "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no operation with id restart-nope"),
        "{}",
        stderr(&out)
    );

    // Nothing happened to the cluster yet (the Lease is only taken by a worker).
    assert_no_writes(&env);

    // A worker runs it to the end and stops cleanly on SIGTERM.
    let state = env.state_dir().display().to_string();
    let worker = env.spawn_cratectl(&["worker", "--state-dir", &state]);
    let mut last = Value::Null;
    let done = env.wait_until(180, || {
        last =
            serde_json::from_slice(&run(&env, &["status", &id, "-o", "json"]).stdout).unwrap_or(Value::Null);
        last["state"] != "running" && last["state"] != Value::Null
    });
    let term = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = worker.wait_with_output().unwrap();
    assert!(done, "the worker did not finish the restart: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    assert_eq!(
        exit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&exit.stderr)
    );
    let sim = env.report();
    let seen = cluster(&sim, "beta");
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    for pod in seen["pods"].as_array().unwrap() {
        assert_eq!(pod["uids"].as_array().unwrap().len(), 2, "{pod}");
    }
}

#[test]
fn a_foreground_restart_runs_only_its_own_workflows() {
    let env = two_clusters("restart-own-only");
    // beta: recorded for a worker, none runs.
    let started = json_of(&restart(&env, &["beta", "--async", "-o", "json"]), 0);
    let beta_id = started["workflow_id"].as_str().unwrap().to_string();
    // alpha in the foreground: its process runs alpha's restart, and leaves beta's alone.
    let out = restart(&env, &["alpha", "-o", "json"]);
    let report = json_of(&out, 0);
    assert_eq!(report["state"], "completed", "{report}");
    assert!(
        stderr(&out).contains(&beta_id) && stderr(&out).contains("left to `cratectl worker`"),
        "{}",
        stderr(&out)
    );
    let beta = json_of(&run(&env, &["status", &beta_id, "-o", "json"]), 0);
    assert_eq!(beta["state"], "running", "{beta}");
    assert_eq!(beta["clusters"][0]["state"], "pending", "{beta}");
    let sim = env.report();
    let untouched = cluster(&sim, "beta");
    assert!(
        untouched["pods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["uids"].as_array().unwrap().len() == 1),
        "beta was not restarted: {untouched}"
    );
}

#[test]
fn an_operation_no_worker_moves_is_noted_and_a_cancel_reason_is_shown_as_given() {
    let env = two_clusters("restart-stalled");
    let started = json_of(&restart(&env, &["beta", "--async", "-o", "json"]), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    // Recorded two minutes ago (the engine's start record says when), and no worker ran since.
    let marker = env.state_dir().join("started").join(&id);
    let text = std::fs::read_to_string(&marker).unwrap();
    let mut record: Value = serde_json::from_str(&text).unwrap();
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(120);
    record["started_at"] = Value::String(long_ago.to_string());
    std::fs::write(&marker, record.to_string()).unwrap();
    let out = run(&env, &["status", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let note = stderr(&out);
    assert!(note.contains(&format!("no worker has advanced {id}")), "{note}");
    assert!(note.contains("cratectl worker --state-dir"), "{note}");
    // The JSON on standard output is untouched by the note.
    let status = json_of(&run(&env, &["status", &id, "-o", "json"]), 0);
    assert_eq!(status["progressed_at"], Value::Null, "{status}");

    let out = run(&env, &["cancel", &id, "--reason", "the change window moved"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = json_of(&run(&env, &["status", &id, "-o", "json"]), 0);
    assert_eq!(status["state"], "cancelled", "{status}");
    assert_eq!(
        status["clusters"][0]["reason"], "cancelled: the change window moved",
        "{status}"
    );
    let out = run(&env, &["status", &id]);
    assert!(
        !stderr(&out).contains("no worker has advanced"),
        "a cancelled operation is not waiting for a worker: {}",
        stderr(&out)
    );
    assert_no_writes(&env);
}
