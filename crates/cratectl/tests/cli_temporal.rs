//! `--engine temporal` as an operator would meet it, through the binary, against a real Temporal
//! dev server: `kill -9` of the worker running a restart while a second worker is up (the
//! second finishes it: every pod restarted exactly once, one node down at most, settings back),
//! and the CLI reading, listing and cancelling with no worker running.
//!
//! Needs the `temporal` CLI (`scripts/install-temporal-cli.sh`); skipped with a printed reason
//! without it or in a build without the `temporal` feature, and failed instead with CI or
//! REQUIRE_TEMPORAL set.

#![cfg(feature = "temporal")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Child;

use common::{Env, FAST_RESTART, json_of, shape};
use cratectl_flow::engine::temporal_dev::{DevServer, DevServerOptions, find_cli};
use serde_json::Value;

/// The dev server for a test, or `None` (with the reason printed) when there is no CLI.
fn dev_server(env: &Env, test: &str) -> Option<DevServer> {
    let installed = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("temporal-venv/bin/temporal");
    let Some(cli) = find_cli(&[installed]) else {
        let required = ["CI", "REQUIRE_TEMPORAL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"));
        assert!(
            !required,
            "{test}: no `temporal` CLI, and CI or REQUIRE_TEMPORAL is set"
        );
        eprintln!("skipping {test}: no `temporal` CLI (scripts/install-temporal-cli.sh)");
        return None;
    };
    Some(
        env.runtime
            .block_on(DevServer::start(&cli, &DevServerOptions::default()))
            .unwrap(),
    )
}

/// `args` with the engine options of `server` and task queue `queue`.
fn on(server: &DevServer, queue: &str, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(
        [
            "--engine",
            "temporal",
            "--temporal-address",
            &server.address,
            "--task-queue",
            queue,
        ]
        .map(String::from),
    );
    all
}

fn run(env: &Env, args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.cratectl(&args)
}

fn status(env: &Env, server: &DevServer, queue: &str, id: &str) -> Value {
    let out = run(env, &on(server, queue, &["status", id, "-o", "json"]));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn worker(env: &Env, server: &DevServer, queue: &str) -> Child {
    let args = on(server, queue, &["worker"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.spawn_cratectl(&args)
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
fn a_second_worker_finishes_a_restart_when_the_first_is_killed_mid_pod() {
    let env = Env::start("temporal-crash", &[shape("gamma", "gamma-pw", false)]);
    let Some(server) = dev_server(&env, "a_second_worker_finishes_a_restart") else {
        return;
    };
    let queue = "crash";
    let settings_before = env.report()["clusters"][0]["settings"].clone();

    let mut args = vec!["restart", "gamma", "--async", "--yes", "-o", "json"];
    args.extend_from_slice(FAST_RESTART);
    let started = json_of(&run(&env, &on(&server, queue, &args)), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();

    // The first worker runs it until pod 2 is stopped and not yet back.
    let first = worker(&env, &server, queue);
    let mut last = Value::Null;
    let mid_pod = env.wait_until(120, || {
        last = status(&env, &server, queue, &id);
        pod(&last, 1)["old_uid"].is_string() && pod(&last, 1)["result"] == "pending"
    });
    assert!(mid_pod, "pod 2 never started: {last}");
    // A second worker joins, then the first dies without a word.
    let second = worker(&env, &server, queue);
    std::thread::sleep(std::time::Duration::from_secs(1));
    kill_9(first);

    let finished = env.wait_until(180, || {
        last = status(&env, &server, queue, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(second);
    assert!(finished, "not finished after the crash: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    for i in 0..3 {
        assert_eq!(pod(&last, i)["result"], "restarted", "{last}");
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

#[test]
fn status_list_and_cancel_need_no_worker() {
    let env = Env::start("temporal-noworker", &[shape("delta", "delta-pw", false)]);
    let Some(server) = dev_server(&env, "status_list_and_cancel_need_no_worker") else {
        return;
    };
    let queue = "noworker";
    let out = run(&env, &on(&server, queue, &["list"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No operations recorded in Temporal at"),
        "{out:?}"
    );
    let started = run(
        &env,
        &on(&server, queue, &["restart", "delta", "--async", "--yes"]),
    );
    let text = String::from_utf8_lossy(&started.stdout).to_string();
    assert!(started.status.success(), "{started:?}");
    // The follow-up commands it prints select the same engine.
    assert!(
        text.contains(&format!(
            "cratectl worker --engine temporal --temporal-address {} --task-queue {queue}",
            server.address
        )),
        "{text}"
    );
    let id = text
        .split_whitespace()
        .nth(2)
        .expect("started restart <id>")
        .to_string();
    let report = status(&env, &server, queue, &id);
    assert_eq!(report["state"], "running", "{report}");
    assert_eq!(report["clusters"][0]["state"], "pending", "{report}");

    let cancelled = run(&env, &on(&server, queue, &["cancel", &id]));
    assert!(cancelled.status.success(), "{cancelled:?}");
    let report = status(&env, &server, queue, &id);
    assert_eq!(report["state"], "cancelled", "{report}");
    // Nothing ran, so the cluster was never touched.
    let seen = &env.report()["clusters"][0];
    for p in seen["pods"].as_array().unwrap() {
        assert_eq!(p["uids"].as_array().unwrap().len(), 1, "{p}");
    }
    // The list of another task queue does not show it; its own does.
    let other = run(&env, &on(&server, "elsewhere", &["list"]));
    assert!(
        String::from_utf8_lossy(&other.stdout).contains("No operations recorded"),
        "{other:?}"
    );
    let own = run(&env, &on(&server, queue, &["list"]));
    assert!(String::from_utf8_lossy(&own.stdout).contains(&id), "{own:?}");
}

/// The `temporal` CLI the test's dev server runs on.
fn temporal_cli() -> PathBuf {
    let installed = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("temporal-venv/bin/temporal");
    find_cli(&[installed]).expect("checked by dev_server")
}

fn temporal(server: &DevServer, args: &[&str]) -> String {
    let out = std::process::Command::new(temporal_cli())
        .args(args)
        .args(["--address", &server.address])
        .output()
        .unwrap();
    assert!(out.status.success(), "temporal {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn temporal_s_own_cli_lists_describes_and_forces_a_restart_past_its_window() {
    let env = Env::start("temporal-native", &[shape("zeta", "zeta-pw", false)]);
    let Some(server) = dev_server(&env, "temporal_s_own_cli_lists_describes_and_forces") else {
        return;
    };
    let queue = "native";
    // A window only on the day after tomorrow: the restart waits for it whenever this runs.
    // 1970-01-01 was a Thursday (3 with Monday as 0).
    let days = jiff::Timestamp::now().as_second().div_euclid(86_400);
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(days + 3 + 2).rem_euclid(7) as usize];
    let config = env.dir.join("windows.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\ntimezone = \"UTC\"\nmin_window_duration = 30\n\n[[defaults.windows]]\ntime = \"03:00-05:00\"\nweekdays = [\"{weekday}\"]\ndescription = \"Later\"\n"
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let mut args = vec![
        "restart",
        "zeta",
        "--async",
        "--yes",
        "-o",
        "json",
        "--maintenance-config",
        &config,
    ];
    args.extend_from_slice(FAST_RESTART);
    let started = json_of(&run(&env, &on(&server, queue, &args)), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let child = format!("{id}.cratedb.zeta");
    let running = worker(&env, &server, queue);
    let mut last = Value::Null;
    let waiting = env.wait_until(60, || {
        last = status(&env, &server, queue, &id);
        last["clusters"][0]["window"]
            .as_str()
            .is_some_and(|w| w.contains("waiting for window"))
    });
    assert!(waiting, "never waited for the window: {last}");

    // Temporal's own tools see the operation, its clusters and its progress.
    let listed = temporal(
        &server,
        &["workflow", "list", "--query", &format!("TaskQueue = '{queue}'")],
    );
    assert!(
        listed.contains(&id) && listed.contains("restart_request.v3"),
        "{listed}"
    );
    assert!(
        listed.contains(&child) && listed.contains("restart_cluster.v3"),
        "{listed}"
    );
    let described = temporal(&server, &["workflow", "describe", "--workflow-id", &id]);
    assert!(
        described.contains("cratedb/zeta"),
        "the memo names the cluster: {described}"
    );
    let described = temporal(&server, &["workflow", "describe", "--workflow-id", &child]);
    assert!(
        described.contains("waiting for window"),
        "the memo has the progress: {described}"
    );

    // Forced past the window with Temporal's CLI alone.
    temporal(
        &server,
        &[
            "workflow",
            "signal",
            "--workflow-id",
            &child,
            "--name",
            "force_restart",
            "--input",
            "\"the night shift says go\"",
        ],
    );
    let finished = env.wait_until(120, || {
        last = status(&env, &server, queue, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    kill_9(running);
    assert!(finished, "not finished after force_restart: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    assert!(
        last["clusters"][0]["window"]
            .as_str()
            .is_some_and(|w| w.contains("the night shift says go")),
        "{last}"
    );
}

/// A worker whose standard error is collected as it comes (it logs each activity it runs at
/// debug).
struct LoggedWorker {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

fn logged_worker(env: &Env, server: &DevServer, queue: &str) -> LoggedWorker {
    let args = on(
        server,
        queue,
        &["worker", "--log-level", "debug", "--log-format", "json"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = env.spawn_cratectl(&args);
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    // Read as it comes, so a full pipe never blocks the worker.
    let reader = std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    LoggedWorker { child, log, reader }
}

impl LoggedWorker {
    /// Whether it has started polling (it logs "worker started" once its worker runs).
    fn started(&self) -> bool {
        self.log.lock().unwrap().contains("worker started")
    }

    /// Kills it and returns how many activities it ran.
    fn stop(mut self) -> usize {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = self.reader.join();
        let log = self.log.lock().unwrap();
        log.lines().filter(|l| l.contains("activity ran")).count()
    }
}

#[test]
fn two_workers_share_three_clusters_one_disruption_per_cluster() {
    let shapes = [
        shape("alpha", "alpha-pw", false),
        shape("beta", "beta-pw", true),
        shape("gamma", "gamma-pw", false),
    ];
    let env = Env::start("temporal-two-workers", &shapes);
    let Some(server) = dev_server(&env, "two_workers_share_three_clusters") else {
        return;
    };
    let queue = "two";
    let settings_before: Vec<Value> = env.report()["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["settings"].clone())
        .collect();
    let one = logged_worker(&env, &server, queue);
    let two = logged_worker(&env, &server, queue);
    // Both poll the task queue before there is work: the server shares it among its pollers.
    assert!(
        env.wait_until(60, || one.started() && two.started()),
        "both workers start"
    );
    let mut args = vec![
        "restart",
        "alpha",
        "beta",
        "gamma",
        "--parallel",
        "3",
        "--async",
        "--yes",
        "-o",
        "json",
    ];
    args.extend_from_slice(FAST_RESTART);
    let started = json_of(&run(&env, &on(&server, queue, &args)), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    let finished = env.wait_until(180, || {
        last = status(&env, &server, queue, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    let (ran_one, ran_two) = (one.stop(), two.stop());
    assert!(finished, "not finished: {last}");
    assert_eq!(last["state"], "completed", "{last}");
    assert!(
        ran_one > 0 && ran_two > 0,
        "both workers ran activities: {ran_one} and {ran_two}"
    );
    let sim = env.report();
    for (cluster, before) in sim["clusters"].as_array().unwrap().iter().zip(&settings_before) {
        assert!(
            cluster["max_unavailable_nodes"].as_u64().unwrap() <= 1,
            "one disruption at a time in {}: {cluster}",
            cluster["name"]
        );
        for p in cluster["pods"].as_array().unwrap() {
            assert_eq!(p["uids"].as_array().unwrap().len(), 2, "restarted once: {p}");
        }
        assert_eq!(
            &cluster["settings"], before,
            "settings back in {}",
            cluster["name"]
        );
    }
}

#[test]
fn a_restart_survives_a_kill_9_of_the_temporal_server() {
    // A cluster without the dc_util hook: our own DECOMMISSION, whose node may be back (its
    // container restarted) by the time the worker sees the server again.
    let env = Env::start("temporal-server-crash", &[shape("eta", "eta-pw", false)]);
    let Some(server) = dev_server(&env, "a_restart_survives_a_kill_9_of_the_temporal_server") else {
        return;
    };
    // A file-backed server of its own, on a fixed port, so it can come back with its records.
    drop(server);
    let port = cratectl_flow::engine::temporal_dev::free_port().unwrap();
    let options = DevServerOptions {
        port: Some(port),
        db_file: Some(env.dir.join("temporal.db")),
        ui: false,
    };
    let server = env
        .runtime
        .block_on(DevServer::start(&temporal_cli(), &options))
        .unwrap();
    let queue = "server-crash";
    let settings_before = env.report()["clusters"][0]["settings"].clone();
    let mut args = vec!["restart", "eta", "--async", "--yes", "-o", "json"];
    args.extend_from_slice(FAST_RESTART);
    let started = json_of(&run(&env, &on(&server, queue, &args)), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let running = worker(&env, &server, queue);
    let mut last = Value::Null;
    let mid_pod = env.wait_until(120, || {
        last = status(&env, &server, queue, &id);
        pod(&last, 1)["old_uid"].is_string() && pod(&last, 1)["result"] == "pending"
    });
    assert!(mid_pod, "pod 2 never started: {last}");
    server.kill();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let server = env
        .runtime
        .block_on(DevServer::start(&temporal_cli(), &options))
        .unwrap();
    let finished = env.wait_until(180, || {
        last = status(&env, &server, queue, &id);
        last["state"].is_string() && last["state"] != "running"
    });
    let mut running = running;
    running.kill().unwrap();
    let log = {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(running.stderr.as_mut().unwrap(), &mut text);
        text
    };
    let _ = running.wait();
    let seen = &env.report()["clusters"][0];
    assert!(finished, "not finished after the server came back: {last}");
    assert_eq!(
        last["state"],
        "completed",
        "{last}\nsql writes: {:?}\nworker: {log}",
        seen["sql_writes"].as_array().map(|w| w
            .iter()
            .map(|w| format!("{} {}", w["at"], w["stmt"]))
            .collect::<Vec<_>>())
    );
    let seen = &env.report()["clusters"][0];
    assert!(seen["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{seen}");
    for p in seen["pods"].as_array().unwrap() {
        assert_eq!(p["uids"].as_array().unwrap().len(), 2, "restarted once: {p}");
    }
    assert_eq!(seen["settings"], settings_before, "settings back at both levels");
}

/// Bad engine options are bad input (exit 2) naming the value and what would be valid, before
/// anything is contacted; an unreachable server is exit 1; the API key never shows.
#[test]
fn bad_temporal_options_are_named_and_the_api_key_never_shows() {
    let env = Env::start("temporal-bad-options", &[shape("theta", "theta-pw", false)]);
    let with = |extra: &[&str]| {
        let mut args = vec!["list", "--engine", "temporal"];
        args.extend_from_slice(extra);
        let out = env.cratectl(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let missing = env.dir.join("no-such-ca.pem");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--task-queue", "a b"],
            "task queue \"a b\": use letters, digits",
        ),
        (vec!["--temporal-namespace", "x/y"], "Temporal namespace \"x/y\""),
        (
            vec!["--temporal-address", "http://[::1"],
            "is not host:port or a URL",
        ),
        (
            vec!["--temporal-tls-ca", missing.to_str().unwrap()],
            "cannot read the Temporal TLS CA",
        ),
    ];
    for (args, expected) in cases {
        let (code, text) = with(&args);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains(expected), "{args:?}: {text}");
    }
    let (code, text) = with(&["--temporal-tls-ca", missing.to_str().unwrap()]);
    assert!(text.contains(missing.to_str().unwrap()), "names the file: {text}");
    assert_eq!(code, Some(2));
    // A certificate without its key: clap's own refusal, also exit 2.
    let (code, text) = with(&["--temporal-tls-cert", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--temporal-tls-key"), "{text}");

    // Nothing listens on the port: exit 1, and the key given is nowhere in what is printed.
    let port = cratectl_flow::engine::temporal_dev::free_port().unwrap();
    let address = format!("127.0.0.1:{port}");
    let (code, text) = with(&[
        "--temporal-address",
        &address,
        "--temporal-api-key",
        "sekrit-api-key-123",
        "--log-level",
        "debug",
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(!text.contains("sekrit-api-key-123"), "{text}");
}
