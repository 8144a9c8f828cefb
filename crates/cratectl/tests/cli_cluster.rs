//! `cratectl cluster …`, `sql` and `doctor`, run as a user runs them: the built binary against
//! cratesim on a real socket (kubeconfig, port-forward to the pods, the Secret's password), in
//! text and JSON, healthy and not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, json_of, shape, stderr, stdout};
use cratesim::faults::Fault;
use serde_json::{Value, json};

const PASSWORD: &str = "s3cret-alpha-Pw";

fn fault(value: Value) -> Fault {
    serde_json::from_value(value).unwrap()
}

/// alpha (dc_util hook) and beta (no hook), three data nodes each.
fn two_clusters(name: &str) -> Env {
    Env::start(
        name,
        &[shape("alpha", PASSWORD, true), shape("beta", "beta-pw", false)],
    )
}

#[test]
fn list_shows_every_cluster_with_the_json_contract() {
    let env = two_clusters("list");
    let out = env.cratectl(&["cluster", "list", "-o", "json"]);
    let rows = json_of(&out, 0);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for key in [
        "name",
        "namespace",
        "version",
        "nodes_ready",
        "nodes_desired",
        "health",
        "has_dc_util",
        "operation",
    ] {
        assert!(rows[0].get(key).is_some(), "missing {key}: {}", rows[0]);
    }
    assert_eq!(rows[0]["name"], "alpha");
    assert_eq!(rows[0]["namespace"], "cratedb");
    assert_eq!(rows[0]["version"], "5.10.3");
    assert_eq!(rows[0]["nodes_ready"], 3);
    assert_eq!(rows[0]["nodes_desired"], 3);
    assert_eq!(rows[0]["health"], "GREEN");
    assert_eq!(rows[0]["has_dc_util"], true);
    assert_eq!(rows[0]["operation"], Value::Null);
    assert_eq!(rows[1]["name"], "beta");
    assert_eq!(rows[1]["has_dc_util"], false);

    // Text, with -o before the subcommand accepted too.
    let text = env.cratectl(&["-o", "text", "cluster", "list"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.trim_start().starts_with("NAME"), "{text}");
    assert!(
        text.contains("alpha") && text.contains("3/3") && text.contains("GREEN"),
        "{text}"
    );

    // YAML has the same fields.
    let yaml = env.cratectl(&["cluster", "list", "-o", "yaml"]);
    assert!(stdout(&yaml).contains("nodes_desired: 3"), "{}", stdout(&yaml));
}

#[test]
fn list_and_info_show_what_the_operator_is_doing() {
    let env = two_clusters("busy");
    let rows = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(rows[1]["busy"], json!([]), "idle: {rows}");
    // What the CrateDB operator writes while it works: a handler's progress annotation (kopf's
    // naive UTC time), a requested restore and its restart queue.
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
        let progress = json!({"started": "2026-12-07T09:58:12.123456", "retries": 3, "message": "Pending allocation"});
        let patch = json!({
            "metadata": {"annotations": {"operator.cloud.crate.io/cluster_update.scale": progress.to_string()}},
            "spec": {"cluster": {"restoreSnapshot": {"snapshot": "nightly"}}},
            "status": {"pendingPods": [{"uid": "x"}]},
        });
        api.patch("beta", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    });
    let rows = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(rows[0]["busy"], json!([]), "alpha is idle: {rows}");
    assert_eq!(
        rows[1]["busy"],
        json!([
            "operator_handler",
            "operator_restore_requested",
            "operator_restart_queue"
        ]),
        "{rows}"
    );
    // A restart is refused with the evidence, and nothing is recorded.
    let state = env.state_dir().display().to_string();
    let out = env.cratectl(&["restart", "beta", "--state-dir", &state]);
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    for evidence in [
        "refused: cratedb/beta is busy: the CrateDB operator is running cluster_update.scale",
        "refused: cratedb/beta is busy: the CrateDB operator has a restore of snapshot \"nightly\" requested",
        "refused: cratedb/beta is busy: the CrateDB operator has 1 pod(s) queued for restart",
    ] {
        assert!(stderr(&out).contains(evidence), "{evidence}: {}", stderr(&out));
    }
    // So is every other mutating command.
    for args in [
        vec!["scale", "beta", "hot=4"],
        vec![
            "restore",
            "beta",
            "--snapshot",
            "s",
            "--repository",
            "r",
            "--tables-all",
        ],
        vec!["suspend", "beta", "--yes"],
    ] {
        let mut args = args;
        args.extend(["--state-dir", &state]);
        let out = env.cratectl(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(
                "refused: cratedb/beta is busy: the CrateDB operator is running cluster_update.scale"
            ),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let listed = json_of(&env.cratectl(&["list", "-o", "json", "--state-dir", &state]), 0);
    assert_eq!(listed, json!([]), "nothing recorded");
    // alpha is not held up by beta.
    let out = env.cratectl(&["restart", "alpha", "--dry-run", "--state-dir", &state]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = env.cratectl(&["cluster", "info", "beta"]);
    assert!(
        stdout(&info).contains(
            "cratedb/beta is busy: the CrateDB operator is running cluster_update.scale since \
             2026-12-07T09:58:12.123456Z (retries 3: \"Pending allocation\")"
        ),
        "{}",
        stdout(&info)
    );
}

#[test]
fn info_shows_pods_nodes_master_and_settings() {
    let env = two_clusters("info");
    let info = json_of(&env.cratectl(&["cluster", "info", "alpha", "-o", "json"]), 0);
    assert_eq!(info["resource"], "alpha");
    assert_eq!(info["pods"].as_array().unwrap().len(), 3);
    let pod = &info["pods"][0];
    assert_eq!(pod["name"], "crate-data-hot-alpha-0");
    assert_eq!(pod["ready"], true);
    assert_eq!(pod["has_dc_util"], true);
    assert_eq!(pod["dc_util_timeout_s"], 720);
    assert!(pod["uid"].as_str().unwrap().len() > 8);
    assert_eq!(info["cratedb"]["reachable"], true);
    assert_eq!(info["cratedb"]["nodes"].as_array().unwrap().len(), 3);
    assert!(
        info["cratedb"]["master"]
            .as_str()
            .unwrap()
            .starts_with("data-hot-")
    );
    assert_eq!(
        info["cratedb"]["settings"]["effective"]["cluster.routing.allocation.enable"],
        "all"
    );
    assert_eq!(info["health"]["health"], "GREEN");

    let text = env.cratectl(&["cluster", "info", "beta"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    for needle in [
        "crate-data-hot-beta-0",
        "data-hot-2",
        "Master:",
        "cluster.routing.allocation.enable",
        "Every table is GREEN",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}

/// A preStop hook that runs dc_util with a timeout nobody can read: a restart decommissions
/// such a pod itself, so `cluster list` and `cluster info` must not call it dc_util either.
#[test]
fn an_unreadable_dc_util_hook_is_not_dc_util_anywhere() {
    let mut gamma = shape("gamma", "gamma-pw", true);
    gamma.dc_util_command = "./dc_util --min-availability PRIMARIES --timeout \"$(cat /t)\"".into();
    let env = Env::start("unreadable-hook", &[shape("alpha", PASSWORD, true), gamma]);

    let rows = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(rows[0]["has_dc_util"], true, "{rows}");
    assert_eq!(rows[1]["name"], "gamma");
    assert_eq!(rows[1]["has_dc_util"], false, "{rows}");
    let text = stdout(&env.cratectl(&["cluster", "list"]));
    let gamma_row = text
        .lines()
        .find(|l| l.contains("gamma"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(gamma_row.contains(" no "), "{text}");

    let info = json_of(&env.cratectl(&["cluster", "info", "gamma", "-o", "json"]), 0);
    for pod in info["pods"].as_array().unwrap() {
        assert_eq!(pod["has_dc_util"], false, "{pod}");
        assert_eq!(pod["dc_util_timeout_s"], Value::Null, "{pod}");
        assert!(
            pod["prestop_error"]
                .as_str()
                .unwrap()
                .contains("is not a duration"),
            "{pod}"
        );
    }
    let text = stdout(&env.cratectl(&["cluster", "info", "gamma"]));
    assert!(text.contains("unreadable (cratectl decommissions)"), "{text}");
    // The alpha hook's timeout reads as every other duration does.
    let text = stdout(&env.cratectl(&["cluster", "info", "alpha"]));
    assert!(text.contains("dc_util 12m"), "{text}");

    // The restart's plan agrees: cratectl decommissions gamma's pods, and says why.
    let state = env.dir.join("state").display().to_string();
    let plan = json_of(
        &env.cratectl(&[
            "restart",
            "gamma",
            "--dry-run",
            "-o",
            "json",
            "--state-dir",
            &state,
        ]),
        0,
    );
    let plan = &plan["clusters"][0];
    for pod in plan["pods"].as_array().unwrap() {
        assert_eq!(pod["stop"]["method"], "decommission", "{pod}");
    }
    let warnings = plan["warnings"].to_string();
    assert!(
        warnings.contains("preStop hook not understood") && warnings.contains("decommissions it itself"),
        "{warnings}"
    );
}

#[test]
fn health_of_a_cluster_with_a_pod_away_is_yellow_with_two_of_three_nodes() {
    let env = two_clusters("away");
    let healthy = json_of(&env.cratectl(&["cluster", "health", "alpha", "-o", "json"]), 0);
    assert_eq!(healthy["health"], "GREEN");
    assert_eq!(healthy["safe_to_disrupt"], true);
    assert_eq!(healthy["readings"]["nodes"].as_array().unwrap().len(), 3);
    let via = healthy["via"].as_str().unwrap();
    assert!(
        via.contains("crate-data-hot-alpha-0") && via.contains("port-forward"),
        "{via}"
    );

    // data-hot-2's pod goes and its node never comes back.
    env.faults(&[fault(json!({"kind": "node_never_rejoins", "namespace": "cratedb", "cluster": "beta", "node": "data-hot-2"}))]);
    env.delete_pod("cratedb", "crate-data-hot-beta-2");
    let mut last = Value::Null;
    let settled = env.wait_until(30, || {
        last = serde_json::from_slice(&env.cratectl(&["cluster", "health", "beta", "-o", "json"]).stdout)
            .unwrap_or(Value::Null);
        last["health"] == "YELLOW" && last["readings"]["nodes"].as_array().map(Vec::len) == Some(2)
    });
    assert!(settled, "never YELLOW with 2 nodes: {last}");
    let out = env.cratectl(&["cluster", "health", "beta", "-o", "json"]);
    let away = json_of(&out, 1);
    assert_eq!(away["safe_to_disrupt"], false);
    let reasons = away["reasons"].to_string();
    assert!(reasons.contains("2 of 3 nodes"), "{reasons}");
    assert!(reasons.contains("underreplicated"), "{reasons}");

    let text = env.cratectl(&["cluster", "health", "beta"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(stdout(&text).contains("YELLOW"), "{}", stdout(&text));
    assert!(
        stderr(&text).is_empty(),
        "the verdict is the output: {}",
        stderr(&text)
    );

    let list = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[1]["health"], "YELLOW");
    assert_eq!(list[1]["nodes_ready"], 2);
}

#[test]
fn a_suspended_cluster_is_reported_as_such() {
    let env = Env::scenario(
        "suspended",
        "clusters:\n  - name: alpha\n  - name: idle\n    data_groups: [{name: hot, replicas: 0}]\n",
    );
    let list = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[1]["name"], "idle");
    assert_eq!(list[1]["health"], "SUSPENDED");
    assert_eq!(list[1]["nodes_desired"], 0);
    let health = env.cratectl(&["cluster", "health", "idle", "-o", "json"]);
    let health = json_of(&health, 1);
    assert_eq!(health["health"], "SUSPENDED");
}

#[test]
fn an_unreachable_cluster_and_an_unreachable_api_server() {
    let env = two_clusters("unreachable");
    // Every node of beta down for good: no pod is Ready.
    for node in ["data-hot-0", "data-hot-1", "data-hot-2"] {
        env.faults(&[
            fault(json!({"kind": "node_never_rejoins", "namespace": "cratedb", "cluster": "beta", "node": node})),
            fault(json!({"kind": "node_crash", "namespace": "cratedb", "cluster": "beta", "node": node})),
        ]);
    }
    let mut last = Value::Null;
    assert!(
        env.wait_until(30, || {
            last = serde_json::from_slice(&env.cratectl(&["cluster", "health", "beta", "-o", "json"]).stdout)
                .unwrap_or(Value::Null);
            last["health"] == "UNREACHABLE"
        }),
        "{last}"
    );
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("no pod of cratedb/beta is Ready"),
        "{last}"
    );
    let list = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[0]["health"], "GREEN", "the other cluster is unaffected");
    assert_eq!(list[1]["health"], "UNREACHABLE");

    // The API server failing: exit 1 naming the context and what failed.
    env.faults(&[fault(
        json!({"kind": "api_error", "verb": "GET", "resource": "pods", "code": 500, "count": 100}),
    )]);
    let out = env.cratectl(&["cluster", "info", "alpha"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("listing pods") && err.contains("cratesim"), "{err}");
}

#[test]
fn unknown_names_exit_2_with_the_closest_names() {
    let env = two_clusters("unknown");
    let out = env.cratectl(&["cluster", "info", "alpah"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown cluster \"alpah\""), "{err}");
    assert!(err.contains("did you mean alpha"), "{err}");
    assert!(stdout(&out).is_empty());

    let out = env.cratectl(&["cluster", "health"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--cluster-url"), "{}", stderr(&out));

    let out = env.cratectl(&["--context", "nope", "cluster", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("context \"nope\""), "{}", stderr(&out));
}

#[test]
fn ping_reaches_every_node() {
    let env = two_clusters("ping");
    let rows = json_of(&env.cratectl(&["cluster", "ping", "alpha", "-o", "json"]), 0);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["target"], format!("crate-data-hot-alpha-{i}"));
        assert_eq!(row["node"], format!("data-hot-{i}"));
        assert_eq!(row["reachable"], true);
        assert!(row["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    let text = env.cratectl(&["cluster", "ping", "beta"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(
        text.contains("crate-data-hot-beta-2") && text.contains("data-hot-2") && text.contains(" ms"),
        "{text}"
    );
}

#[test]
fn sql_reads_refuses_writes_without_the_flag_and_prints_csv() {
    let env = two_clusters("sql");
    let out = env.cratectl(&[
        "sql",
        "alpha",
        "SELECT name FROM sys.nodes ORDER BY name",
        "-o",
        "json",
    ]);
    let result = json_of(&out, 0);
    assert_eq!(result["cols"], json!(["name"]));
    assert_eq!(
        result["rows"],
        json!([["data-hot-0"], ["data-hot-1"], ["data-hot-2"]])
    );

    let table = stdout(&env.cratectl(&["sql", "alpha", "SELECT name FROM sys.nodes ORDER BY name"]));
    assert!(
        table.contains("data-hot-0") && table.ends_with("(3 rows)\n"),
        "{table}"
    );

    let csv = env.cratectl(&[
        "sql",
        "alpha",
        "SELECT name, hostname FROM sys.nodes WHERE name = ?",
        "--arg",
        "data-hot-1",
        "-o",
        "csv",
    ]);
    assert_eq!(csv.status.code(), Some(0), "{}", stderr(&csv));
    let text = stdout(&csv);
    assert!(text.starts_with("name,hostname\ndata-hot-1,"), "{text}");

    let write = "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'";
    let refused = env.cratectl(&["sql", "alpha", write]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--write"), "{}", stderr(&refused));
    let settings = |env: &Env| {
        json_of(&env.cratectl(&["cluster", "info", "alpha", "-o", "json"]), 0)["cratedb"]["settings"]["effective"]
            ["cluster.routing.allocation.enable"]
            .clone()
    };
    assert_eq!(settings(&env), "all", "nothing ran");
    let ran = env.cratectl(&["sql", "alpha", write, "--write"]);
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert!(stdout(&ran).contains("OK, 1 row affected"), "{}", stdout(&ran));
    assert_eq!(settings(&env), "primaries");

    let bad = env.cratectl(&["sql", "alpha", "SELECT * FROM doc.nope"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("4041") || stderr(&bad).contains("nope"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn doctor_finds_leftovers_prints_fixes_and_fixes_them() {
    let env = two_clusters("doctor");
    let clean = env.cratectl(&["doctor", "alpha"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    assert!(stdout(&clean).contains("nothing left behind"));

    // data-hot-2 is a member (excluded on purpose, maybe); data-hot-9 no longer exists.
    for stmt in [
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        "SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2,data-hot-9'",
    ] {
        let out = env.cratectl(&["sql", "alpha", stmt, "--write"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let found = env.cratectl(&["doctor", "alpha", "-o", "json"]);
    let found = json_of(&found, 1);
    let codes: Vec<&str> = found["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "allocation_not_all",
            "allocation_exclusions",
            "allocation_exclusions_live"
        ]
    );
    assert_eq!(
        found["findings"][0]["fix"]["command"],
        "RESET GLOBAL \"cluster.routing.allocation.enable\""
    );
    // Only the gone node's entry is removed; the member's stays.
    assert_eq!(
        found["findings"][1]["fix"]["command"],
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2'; \
         SET GLOBAL PERSISTENT \"cluster.routing.allocation.exclude._name\" = 'data-hot-2'"
    );
    assert_eq!(found["findings"][2]["fix"]["kind"], "manual");
    let text = stdout(&env.cratectl(&["doctor", "alpha"]));
    assert!(text.contains("run with --fix"), "{text}");
    assert!(
        text.contains("keeps shards off data-hot-2, a current member"),
        "{text}"
    );

    // --fix applies the two fixes and leaves the member's exclusion alone, so the answer is
    // still "something to look at".
    let fixed = env.cratectl(&["doctor", "alpha", "--fix", "-o", "json"]);
    let fixed = json_of(&fixed, 1);
    let applied: Vec<&str> = fixed["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["applied"].as_str().unwrap())
        .collect();
    assert_eq!(
        applied,
        ["fixed", "fixed", "skipped: no automatic fix; do it by hand"],
        "{fixed}"
    );
    let after = json_of(&env.cratectl(&["doctor", "alpha", "-o", "json"]), 1);
    assert_eq!(after["findings"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after["findings"][0]["code"], "allocation_exclusions_live");
    let settings_of_alpha = || {
        let report = env.report();
        report["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "alpha")
            .unwrap()["settings"]
            .clone()
    };
    let settings = settings_of_alpha();
    assert_eq!(
        settings["persistent"],
        json!({"cluster.routing.allocation.exclude._name": "data-hot-2"}),
        "{settings}"
    );

    // The manual fix lifts it, as its message says.
    let manual = after["findings"][0]["fix"]["command"].as_str().unwrap();
    let stmt = manual.split_once("data-hot-2: ").unwrap().1;
    assert_eq!(stmt, "RESET GLOBAL \"cluster.routing.allocation.exclude._name\"");
    let out = env.cratectl(&["sql", "alpha", stmt, "--write"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let clean = env.cratectl(&["doctor", "alpha"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    let settings = settings_of_alpha();
    assert_eq!(settings["transient"], json!({}), "{settings}");
    assert_eq!(settings["persistent"], json!({}), "{settings}");
}

#[test]
fn a_wrong_password_fails_without_showing_it() {
    let env = two_clusters("password");
    let out = env.cratectl_with(
        &["cluster", "health", "alpha"],
        &[("CRATEDB_PASSWORD", "not-the-Pw-123")],
    );
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("401") || all.to_lowercase().contains("password authentication failed"),
        "{all}"
    );
    assert!(!all.contains("not-the-Pw-123"), "{all}");

    let out = env.cratectl(&["sql", "alpha", "SELECT 1", "--password", "not-the-Pw-123"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains("not-the-Pw-123"));
}

#[test]
fn a_url_and_a_dotenv_file_address_a_cluster_without_kubernetes() {
    let env = two_clusters("url");
    let url = env.direct_url("cratedb", "crate-data-hot-alpha-1");
    std::fs::write(
        env.dir.join(".env"),
        format!("CRATEDB_USERNAME=system\nCRATEDB_PASSWORD={PASSWORD}\n"),
    )
    .unwrap();
    let health = json_of(
        &env.cratectl(&["--cluster-url", &url, "cluster", "health", "-o", "json"]),
        0,
    );
    assert_eq!(health["health"], "GREEN");
    assert_eq!(health["readings"]["nodes"].as_array().unwrap().len(), 3);

    // The flag beats the environment, which beats .env.
    let out = env.cratectl_with(
        &["--cluster-url", &url, "sql", "SELECT 1"],
        &[("CRATEDB_PASSWORD", "wrong-from-env")],
    );
    assert_eq!(out.status.code(), Some(1), "the environment overrides .env");
    let out = env.cratectl_with(
        &[
            "--cluster-url",
            &url,
            "--password",
            PASSWORD,
            "sql",
            "SELECT 1",
            "-o",
            "json",
        ],
        &[("CRATEDB_PASSWORD", "wrong-from-env")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the flag overrides the environment: {}",
        stderr(&out)
    );
}

#[test]
fn doctor_finds_and_removes_stale_labels_and_expired_leases() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, Patch, PatchParams, PostParams};
    let env = two_clusters("doctor-kube");
    env.with_kube(async |client| {
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "cratedb");
        sets.patch(
            "crate-data-hot-alpha",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"dc-util-routing-owner": "operator-1700000000"}}})),
        )
        .await
        .unwrap();
        let leases: Api<Lease> = Api::namespaced(client, "cratedb");
        let lease = serde_json::from_value(json!({
            "metadata": {"name": "cratectl-alpha", "labels": {"app.kubernetes.io/managed-by": "cratectl"}},
            "spec": {"holderIdentity": "restart-alpha-20260101T000000Z", "leaseDurationSeconds": 60,
                     "renewTime": "2026-01-01T00:00:00.000000Z"},
        }))
        .unwrap();
        leases.create(&PostParams::default(), &lease).await.unwrap();
    });
    let found = json_of(&env.cratectl(&["doctor", "alpha", "-o", "json"]), 1);
    let codes: Vec<&str> = found["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["stale_routing_owner_label", "expired_lease"], "{found}");
    assert_eq!(
        found["findings"][0]["fix"]["command"],
        "kubectl -n cratedb label statefulset crate-data-hot-alpha dc-util-routing-owner-"
    );
    let text = stdout(&env.cratectl(&["doctor", "alpha"]));
    assert!(
        text.contains("kubectl -n cratedb delete lease cratectl-alpha"),
        "{text}"
    );

    let fixed = env.cratectl(&["doctor", "alpha", "--fix"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
    assert!(stdout(&fixed).contains("--fix: fixed"), "{}", stdout(&fixed));
    let (label, lease) = env.with_kube(async |client| {
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "cratedb");
        let sts = sets.get("crate-data-hot-alpha").await.unwrap();
        let leases: Api<Lease> = Api::namespaced(client, "cratedb");
        (
            sts.metadata
                .labels
                .unwrap_or_default()
                .get("dc-util-routing-owner")
                .cloned(),
            leases.get_opt("cratectl-alpha").await.unwrap(),
        )
    });
    assert_eq!(label, None);
    assert!(lease.is_none());
    let list = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[0]["operation"], Value::Null);
}

#[test]
fn a_held_lease_shows_as_the_operation_and_doctor_leaves_it() {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, PostParams};
    let env = two_clusters("lease");
    let renewed = jiff::Timestamp::now().to_string();
    env.with_kube(async |client| {
        let leases: Api<Lease> = Api::namespaced(client, "cratedb");
        let lease = serde_json::from_value(json!({
            "metadata": {"name": "cratectl-beta", "labels": {"app.kubernetes.io/managed-by": "cratectl"}},
            "spec": {"holderIdentity": "restart-beta-20261206T050000Z", "leaseDurationSeconds": 3600, "renewTime": renewed},
        }))
        .unwrap();
        leases.create(&PostParams::default(), &lease).await.unwrap();
    });
    let list = json_of(&env.cratectl(&["cluster", "list", "-o", "json"]), 0);
    assert_eq!(list[1]["operation"], "restart-beta-20261206T050000Z");
    let text = stdout(&env.cratectl(&["cluster", "list"]));
    assert!(text.contains("restart-beta-20261206T050000Z"), "{text}");
    let doctor = env.cratectl(&["doctor", "beta"]);
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "a live Lease is not a leftover: {}",
        stdout(&doctor)
    );
}

#[test]
fn doctor_names_the_cratectl_operation_that_holds_allocation() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Api, Patch, PatchParams, PostParams};
    // What cratectl's own restart leaves while a pod is away: allocation held, the StatefulSet
    // labelled as the operator labels it, and the Lease held by the cluster's workflow.
    let env = two_clusters("doctor-own-restart");
    let out = env.cratectl(&[
        "sql",
        "beta",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        "--write",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let now = jiff::Timestamp::now();
    let holder = "restart-beta-20261206T050000Z.cratedb.beta";
    env.with_kube(async |client| {
        let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "cratedb");
        let label = format!("operator-{}", now.as_second());
        sets.patch(
            "crate-data-hot-beta",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"dc-util-routing-owner": label}}})),
        )
        .await
        .unwrap();
        let leases: Api<Lease> = Api::namespaced(client, "cratedb");
        let lease = serde_json::from_value(json!({
            "metadata": {"name": "cratectl-beta", "labels": {"app.kubernetes.io/managed-by": "cratectl"}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600, "renewTime": now.to_string()},
        }))
        .unwrap();
        leases.create(&PostParams::default(), &lease).await.unwrap();
    });
    let found = json_of(&env.cratectl(&["doctor", "beta", "-o", "json"]), 1);
    let findings = found["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{found}");
    assert_eq!(findings[0]["code"], "allocation_not_all");
    let caution = findings[0]["caution"].as_str().unwrap();
    assert!(
        caution.contains(&format!(
            "held by cratectl operation {holder}; see `cratectl status restart-beta-20261206T050000Z`"
        )),
        "{caution}"
    );
    assert!(!caution.contains("crate-operator"), "{caution}");
    let fix = env.cratectl(&["doctor", "beta", "--fix"]);
    assert!(stdout(&fix).contains("skipped"), "{}", stdout(&fix));
}

#[test]
fn the_context_comes_from_the_flag_or_k8s_context() {
    let env = two_clusters("context");
    let ok = env.cratectl_with(&["cluster", "list"], &[("K8S_CONTEXT", "cratesim")]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let bad = env.cratectl_with(&["cluster", "list"], &[("K8S_CONTEXT", "prod")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("context \"prod\"") && stderr(&bad).contains("cratesim"),
        "{}",
        stderr(&bad)
    );
    let flag_wins = env.cratectl_with(
        &["--context", "cratesim", "cluster", "list"],
        &[("K8S_CONTEXT", "prod")],
    );
    assert_eq!(flag_wins.status.code(), Some(0), "{}", stderr(&flag_wins));
}

#[test]
fn the_kubeconfig_comes_from_kubeconfig_when_no_flag_is_given() {
    let env = two_clusters("kubeconfig-env");
    let run = |kubeconfig: &std::ffi::OsStr| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cratectl"))
            .current_dir(&env.dir)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", &env.dir)
            .env_remove("K8S_CONTEXT")
            .args(["cluster", "list", "-o", "json"])
            .output()
            .unwrap()
    };
    // A list of files as kubectl takes it: a missing first entry is skipped.
    let mut paths = env.dir.join("missing").into_os_string();
    paths.push(":");
    paths.push(env.kubeconfig.as_os_str());
    let rows = json_of(&run(&paths), 0);
    assert_eq!(rows.as_array().unwrap().len(), 2);

    let none = run(env.dir.join("missing").as_os_str());
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    assert!(stderr(&none).contains("kubeconfig"), "{}", stderr(&none));
}

/// No command, at any log level, in any format, prints the Secret's password.
#[test]
fn the_secret_never_appears_in_any_output() {
    let env = two_clusters("secrets");
    env.cratectl(&[
        "sql",
        "alpha",
        "SET GLOBAL TRANSIENT \"cluster.routing.allocation.enable\" = 'primaries'",
        "--write",
    ]);
    let url = env.direct_url("cratedb", "crate-data-hot-alpha-0");
    let runs: Vec<Vec<&str>> = vec![
        vec!["cluster", "list"],
        vec!["cluster", "list", "-o", "json"],
        vec!["cluster", "info", "alpha"],
        vec!["cluster", "info", "alpha", "-o", "yaml"],
        vec!["cluster", "health", "alpha", "-o", "json"],
        vec!["cluster", "ping", "alpha"],
        vec!["sql", "alpha", "SELECT name FROM sys.users"],
        vec!["sql", "alpha", "SELECT 1", "--password", "wrong"],
        vec!["doctor", "alpha", "-o", "json"],
        vec!["--cluster-url", &url, "--password", PASSWORD, "cluster", "health"],
        vec![
            "--cluster-url",
            &url,
            "--password",
            PASSWORD,
            "sql",
            "SELECT nope FROM sys.nodes",
        ],
    ];
    for args in runs {
        for format in ["text", "json"] {
            let mut full = vec!["--log-level", "trace", "--log-format", format];
            full.extend(args.iter().copied());
            let out = env.cratectl(&full);
            let all = format!("{}{}", stdout(&out), stderr(&out));
            assert!(!all.contains(PASSWORD), "{args:?} printed the password:\n{all}");
            let encoded = base64_of(&format!("system:{PASSWORD}"));
            assert!(
                !all.contains(&encoded),
                "{args:?} printed the Basic header:\n{all}"
            );
        }
    }
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
