//! `cratectl restore` as a user meets it, against cratesim through the binary: the refusals
//! (exit 2, each with its message, nothing recorded), the dry run's JSON contract, `kill -9` of
//! the worker right after the RESTORE statement and during the wait (it completes, the statement
//! sent once), `cancel --drop-restored` mid-restore (the temporary repository dropped, the
//! renamed internal table back, the restored table dropped, settings restored), and a grep of every output and log at `--log-level trace`
//! for the Secret's values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Child;

use common::{Env, json_of, shape, stderr, stdout};
use cratesim::cratedb::TableSpec;
use serde_json::Value;

const ACCESS_KEY: &str = "AKIACLIEXAMPLE77";
const SECRET_KEY: &str = "cli-s3cr3t-never-printed";
const FAST: &[&str] = &[
    "--stable-polls",
    "2",
    "--poll-interval",
    "200ms",
    "--health-timeout",
    "60s",
];

fn table(schema: &str, name: &str, rows: u64) -> TableSpec {
    TableSpec {
        schema: schema.into(),
        name: name.into(),
        shards: 2,
        replicas: "0-1".into(),
        partitions: Vec::new(),
        partitioned_by: Vec::new(),
        rows: Some(rows),
    }
}

/// `src` with two tables (one needs quoting) and a gc table; `dst` with its own gc table.
fn env(name: &str) -> Env {
    let mut src = shape("src", "src-pw", false);
    src.tables = vec![
        table("doc", "Orders", 321),
        table("doc", "events", 10),
        table("gc", "scheduled_jobs", 3),
    ];
    src.operator = false;
    let mut dst = shape("dst", "dst-pw", false);
    dst.tables = vec![table("doc", "events", 1), table("gc", "scheduled_jobs", 42)];
    dst.operator = false;
    let env = Env::start(name, &[src, dst]);
    sql(
        &env,
        "src",
        &format!(
            "CREATE REPOSITORY backups TYPE s3 WITH (bucket = 'shared', base_path = 'daily', \
             access_key = '{ACCESS_KEY}', secret_key = '{SECRET_KEY}')"
        ),
    );
    sql(&env, "src", "CREATE SNAPSHOT backups.s1 ALL");
    let mut last = Value::Null;
    assert!(
        env.wait_until(60, || {
            last = json_of(&env.cratectl(&["snapshot", "list", "src", "-o", "json"]), 0);
            last["repositories"][0]["snapshots"][0]["state"] == "SUCCESS"
        }),
        "no snapshot: {last}"
    );
    env.with_kube(async |client| {
        use k8s_openapi::api::core::v1::Secret;
        let api: kube::Api<Secret> = kube::Api::namespaced(client, "cratedb");
        let data: BTreeMap<String, String> = [
            ("access-key-id", ACCESS_KEY),
            ("secret-access-key", SECRET_KEY),
            ("bucket", "shared"),
            ("base-path", "daily"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut partial = data.clone();
        partial.remove("bucket");
        for (name, data) in [("restore-creds", data), ("partial-creds", partial)] {
            let secret = Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                string_data: Some(data),
                ..Default::default()
            };
            api.create(&Default::default(), &secret).await.unwrap();
        }
    });
    env
}

fn sql(env: &Env, cluster: &str, stmt: &str) -> Value {
    json_of(&env.cratectl(&["sql", cluster, stmt, "--write", "-o", "json"]), 0)
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    let state = env.state_dir().display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--state-dir", &state]);
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

/// The statements the simulator saw on `cluster` that start with `prefix`.
fn writes(env: &Env, cluster: &str, prefix: &str) -> Vec<String> {
    let report = env.report();
    let c = report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == cluster)
        .unwrap()
        .clone();
    c["sql_writes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["stmt"].as_str())
        .filter(|s| s.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn count(env: &Env, cluster: &str, table: &str) -> u64 {
    let out = json_of(
        &env.cratectl(&[
            "sql",
            cluster,
            &format!("SELECT count(*) FROM {table}"),
            "-o",
            "json",
        ]),
        0,
    );
    out["rows"][0][0]
        .as_u64()
        .unwrap_or_else(|| panic!("{table}: {out}"))
}

#[test]
fn bad_input_is_refused_with_the_reason_and_nothing_is_recorded() {
    let env = env("restore-refusals");
    let cases: &[(&[&str], &str)] = &[
        (
            &["restore", "dst", "--snapshot", "s1", "--repository", "backups"],
            "choose what to restore: --all, --metadata, --tables-all, --table, --partition or --section",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--all",
                "--repository",
                "backups",
            ],
            "only one of them",
        ),
        (
            &["restore", "dst", "--snapshot", "s1", "--tables-all"],
            "choose where the snapshot is: --repository, --repository-secret or --from-resource",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--table",
                "a.b.c",
                "--repository",
                "backups",
            ],
            r#""a.b.c": a table is SCHEMA.TABLE or TABLE; names cannot contain ".""#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--partition",
                "doc.metrics",
                "--repository",
                "backups",
            ],
            r#""doc.metrics": expected TABLE:COLUMN=VALUE[,COLUMN=VALUE…]"#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "Snap1",
                "--tables-all",
                "--repository",
                "backups",
            ],
            r#""Snap1": snapshot names are lower case"#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository-secret",
                "restore-creds",
                "--recovery-max-bytes-per-sec",
                "fast",
            ],
            r#"--recovery-max-bytes-per-sec "fast": a size per second with a unit"#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository",
                "backups",
                "--max-restore-bytes-per-sec",
                "100mb",
            ],
            "an existing --repository keeps its own",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--section",
                "analyzers",
                "--repository-secret",
                "restore-creds",
            ],
            "restoring ANALYZERS replaces the persistent settings of cratedb/dst and needs confirmation",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--section",
                "bogus",
                "--repository",
                "backups",
            ],
            r#"unknown section "bogus""#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository",
                "backups",
            ],
            r#"repository "backups" does not exist in cratedb/dst (it has none)"#,
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository-secret",
                "partial-creds",
            ],
            "Secret cratedb/partial-creds lacks the key(s) bucket (needed for s3: access-key-id, \
             secret-access-key, bucket, base-path",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository-secret",
                "nope",
            ],
            "Secret cratedb/nope does not exist",
        ),
        (
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--all",
                "--repository-secret",
                "restore-creds",
            ],
            "needs confirmation, but standard input is not a terminal; pass --yes",
        ),
        (
            &[
                "--cluster-url",
                "http://localhost:4200",
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository",
                "backups",
            ],
            "restore needs Kubernetes; --cluster-url is not supported",
        ),
    ];
    for (args, message) in cases {
        let out = run(&env, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let err = stderr(&out);
        assert!(err.contains(message), "{args:?}: expected {message:?} in: {err}");
        for secret in [ACCESS_KEY, SECRET_KEY] {
            assert!(!err.contains(secret) && !stdout(&out).contains(secret));
        }
    }
    // With the repository in dst: an unknown snapshot, and a table that exists.
    sql(
        &env,
        "dst",
        "CREATE REPOSITORY backups TYPE s3 WITH (bucket = 'shared', base_path = 'daily')",
    );
    let out = run(
        &env,
        &[
            "restore",
            "dst",
            "--snapshot",
            "s2",
            "--tables-all",
            "--repository",
            "backups",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(r#"snapshot "s2" is not in repository backups (it has s1)"#),
        "{}",
        stderr(&out)
    );
    let out = run(
        &env,
        &[
            "restore",
            "dst",
            "--snapshot",
            "s1",
            "--table",
            "events",
            "--repository",
            "backups",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "doc.events already exists in cratedb/dst; drop or rename it first (CrateDB refuses to restore over an \
             existing table)"
        ),
        "{}",
        stderr(&out)
    );
    // A quoted name is one identifier, dots and quotes included; CrateDB names cannot hold
    // them, so no snapshot has such a table.
    let out = run(
        &env,
        &[
            "restore",
            "dst",
            "--snapshot",
            "s1",
            "--table",
            "\"a.b\".\"we\"\"ird\"",
            "--repository",
            "backups",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "\"a.b\".\"we\"\"ird\" is not in snapshot s1 (it has doc.\"Orders\", doc.events, gc.scheduled_jobs)"
        ),
        "{}",
        stderr(&out)
    );
    // The CrateDB operator has a restore requested on the resource: busy.
    env.with_kube(async |client| {
        use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
        let resource = ApiResource {
            group: "cloud.crate.io".into(),
            version: "v1".into(),
            api_version: "cloud.crate.io/v1".into(),
            kind: "CrateDB".into(),
            plural: "cratedbs".into(),
        };
        let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client, "cratedb", &resource);
        let patch = serde_json::json!({"spec": {"cluster": {"restoreSnapshot": {"snapshot": "nightly"}}}});
        api.patch("dst", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    });
    let out = run(
        &env,
        &[
            "restore",
            "dst",
            "--snapshot",
            "s1",
            "--table",
            "\"Orders\"",
            "--repository",
            "backups",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "cratedb/dst is busy: the CrateDB operator has a restore of snapshot \"nightly\" requested in \
             spec.cluster.restoreSnapshot"
        ),
        "{}",
        stderr(&out)
    );
    let listed = json_of(&run(&env, &["list", "-o", "json"]), 0);
    assert_eq!(listed, Value::Array(vec![]), "nothing recorded");
}

#[test]
fn the_dry_run_shows_the_statement_and_changes_nothing() {
    let env = env("restore-dry-run");
    sql(
        &env,
        "dst",
        "CREATE REPOSITORY backups TYPE s3 WITH (bucket = 'shared', base_path = 'daily')",
    );
    let writes_before = writes(&env, "dst", "").len();
    let plan = json_of(
        &run(
            &env,
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--table",
                "\"Orders\"",
                "--repository",
                "backups",
                "--dry-run",
                "-o",
                "json",
            ],
        ),
        0,
    );
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["operation"], "restore");
    let c = &plan["clusters"][0];
    assert_eq!(
        c["statement"],
        "RESTORE SNAPSHOT \"backups\".\"s1\" TABLE \"doc\".\"Orders\" WITH (wait_for_completion = false)",
        "{plan}"
    );
    assert_eq!(c["keyword"], "TABLE \"doc\".\"Orders\"");
    assert_eq!(c["repository"]["source"], "existing");
    assert_eq!(c["snapshot"]["state"], "SUCCESS");
    assert_eq!(c["conflicts"], serde_json::json!([]));
    assert_eq!(c["refused"], Value::Null, "{plan}");
    // With a Secret, the snapshot cannot be read without creating a repository.
    let plan = json_of(
        &run(
            &env,
            &[
                "restore",
                "dst",
                "--snapshot",
                "s1",
                "--tables-all",
                "--repository-secret",
                "restore-creds",
                "--dry-run",
                "-o",
                "json",
            ],
        ),
        0,
    );
    assert_eq!(plan["clusters"][0]["snapshot"], Value::Null, "{plan}");
    assert!(!plan.to_string().contains(SECRET_KEY));
    let text = run(
        &env,
        &[
            "restore",
            "dst",
            "--snapshot",
            "s1",
            "--tables-all",
            "--repository-secret",
            "restore-creds",
            "--dry-run",
        ],
    );
    assert!(
        stdout(&text).contains("contents not checked: the repository would have to be created"),
        "{}",
        stdout(&text)
    );
    assert_eq!(
        writes(&env, "dst", "").len(),
        writes_before,
        "the dry run wrote nothing"
    );
    assert_eq!(
        json_of(&run(&env, &["list", "-o", "json"]), 0),
        Value::Array(vec![])
    );
}

#[test]
fn a_killed_worker_completes_the_restore_and_sends_the_statement_once() {
    let env = env("restore-crash");
    // Restored primaries cannot be allocated while every data node is excluded: the restore
    // waits until the exclusion is lifted.
    sql(
        &env,
        "dst",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-*'",
    );
    let mut args = vec![
        "restore",
        "dst",
        "--snapshot",
        "s1",
        "--table",
        "\"Orders\"",
        "--repository-secret",
        "restore-creds",
        "--async",
        "-o",
        "json",
    ];
    args.extend_from_slice(FAST);
    let started = json_of(&run(&env, &args), 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();

    // 1. Kill the worker as soon as the RESTORE statement went through.
    let first = worker(&env);
    assert!(
        env.wait_until(120, || !writes(&env, "dst", "RESTORE SNAPSHOT").is_empty()),
        "no RESTORE: {}",
        status(&env, &id)
    );
    kill_9(first);
    // 2. Again while it waits.
    let second = worker(&env);
    let mut last = Value::Null;
    assert!(
        env.wait_until(120, || {
            last = status(&env, &id);
            last["clusters"][0]["current_step"] == "restore"
                && last["clusters"][0]["last_readings"]
                    .as_str()
                    .is_some_and(|w| w.contains("0 of 2 primaries active"))
                // Progress while it waits: nothing allocated yet.
                && last["clusters"][0]["progress_percent"] == 0
                && last["clusters"][0]["tables"][0]["shards"] == 2
        }),
        "never waited: {last}"
    );
    kill_9(second);
    sql(
        &env,
        "dst",
        "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"",
    );
    let third = worker(&env);
    assert!(
        env.wait_until(180, || {
            last = status(&env, &id);
            last["state"].is_string() && last["state"] != "running"
        }),
        "not finished: {last}"
    );
    kill_9(third);
    assert_eq!(last["state"], "completed", "{last}");
    let text = run(&env, &["status", &id]);
    assert!(
        stdout(&text).contains("restoring TABLE \"doc\".\"Orders\"")
            && stdout(&text).contains("doc.\"Orders\"  restored  2/2 primaries active"),
        "{}",
        stdout(&text)
    );
    assert_eq!(writes(&env, "dst", "RESTORE SNAPSHOT").len(), 1, "sent once");
    assert_eq!(writes(&env, "dst", "CREATE REPOSITORY").len(), 1, "created once");
    assert_eq!(count(&env, "dst", "\"Orders\""), 321);
    let repos = sql(&env, "dst", "SELECT name FROM sys.repositories");
    assert_eq!(
        repos["rows"],
        serde_json::json!([]),
        "temporary repository dropped"
    );
}

#[test]
fn cancel_mid_restore_undoes_renames_drops_the_repository_and_logs_no_secret() {
    let env = env("restore-cancel");
    let settings_before = env.report()["clusters"][1]["settings"].clone();
    sql(
        &env,
        "dst",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-*'",
    );
    let mut args = vec![
        "--log-level",
        "trace",
        "restore",
        "dst",
        "--snapshot",
        "s1",
        "--table",
        "gc.scheduled_jobs",
        "--table",
        "\"Orders\"",
        "--repository-secret",
        "restore-creds",
        "--async",
        "-o",
        "json",
    ];
    args.extend_from_slice(FAST);
    let started_out = run(&env, &args);
    let started = json_of(&started_out, 0);
    let id = started["workflow_id"].as_str().unwrap().to_string();
    let state = env.state_dir().display().to_string();
    let log = env.dir.join("worker.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cratectl"))
        .current_dir(&env.dir)
        .args(["--kubeconfig", &env.kubeconfig.display().to_string()])
        .args(["--log-level", "trace", "worker", "--state-dir", &state])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(env.dir.join("worker.err")).unwrap())
        .spawn()
        .unwrap();
    let mut last = Value::Null;
    assert!(
        env.wait_until(120, || {
            last = status(&env, &id);
            last["clusters"][0]["current_step"] == "restore"
        }),
        "never restoring: {last}"
    );
    let tables = sql(&env, "dst", "SHOW TABLES FROM gc");
    assert_eq!(
        tables["rows"],
        serde_json::json!([["scheduled_jobs"], ["scheduled_jobs_temp"]]),
        "renamed away, restore created the new one"
    );
    let cancelled = run(
        &env,
        &[
            "--log-level",
            "trace",
            "cancel",
            &id,
            "--reason",
            "test",
            "--drop-restored",
        ],
    );
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    assert!(
        stdout(&cancelled).contains("restored table doc.\"Orders\" dropped"),
        "{}",
        stdout(&cancelled)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    sql(
        &env,
        "dst",
        "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"",
    );
    let tables = sql(&env, "dst", "SHOW TABLES FROM gc");
    assert_eq!(
        tables["rows"],
        serde_json::json!([["scheduled_jobs"]]),
        "the original is back"
    );
    assert_eq!(
        count(&env, "dst", "gc.scheduled_jobs"),
        42,
        "the original, not the snapshot's"
    );
    let doc = sql(&env, "dst", "SHOW TABLES FROM doc");
    assert_eq!(
        doc["rows"],
        serde_json::json!([["events"]]),
        "the restored table dropped, ours kept"
    );
    let repos = sql(&env, "dst", "SELECT name FROM sys.repositories");
    assert_eq!(
        repos["rows"],
        serde_json::json!([]),
        "temporary repository dropped"
    );
    assert_eq!(
        env.report()["clusters"][1]["settings"],
        settings_before,
        "settings back"
    );
    let report = status(&env, &id);
    assert_eq!(report["state"], "cancelled", "{report}");

    // Not a Secret value anywhere: outputs, logs, the report, the records.
    let mut everything = String::new();
    for out in [&started_out, &cancelled] {
        everything.push_str(&stdout(out));
        everything.push_str(&stderr(out));
    }
    for file in ["worker.log", "worker.err"] {
        everything.push_str(&std::fs::read_to_string(env.dir.join(file)).unwrap_or_default());
    }
    everything.push_str(&report.to_string());
    everything.push_str(&files_text(&env.state_dir()));
    assert!(
        everything.contains("CREATE REPOSITORY") && everything.contains("RESTORE SNAPSHOT"),
        "the trace log shows the statements (without their arguments)"
    );
    for secret in [ACCESS_KEY, SECRET_KEY] {
        assert!(!everything.contains(secret), "{secret} printed");
    }
}

/// Every file under `dir`, as text where it is (the engine's records).
fn files_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&files_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}
