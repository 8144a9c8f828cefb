//! Scenario files: the shipped example builds the nodes, clusters, tables and faults it
//! describes, as kube-rs and SQL see them (by pod IP, and through the pod proxy for the cluster
//! without host-based auth); `cratesim serve` refuses a bad
//! scenario with exit code 2 and a message naming the place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tower::ServiceExt;

use cratesim::clock::Clock;
use cratesim::scenario::Scenario;
use cratesim::serve::Sim;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.yaml");

fn example() -> Sim {
    let scenario = Scenario::load(Path::new(EXAMPLE)).unwrap();
    Sim::from_scenario(Clock::new(1.0), &scenario).unwrap()
}

/// `POST <base>/_sql` as `system` with `password`; (status, body text).
async fn sql_raw(sim: &Sim, base: &str, password: &str, stmt: &str) -> (u16, String) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("system:{password}"));
    let request = Request::post(format!("{base}/_sql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Basic {auth}"))
        .body(Body::from(json!({ "stmt": stmt }).to_string()))
        .unwrap();
    let response = sim.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A statement that must succeed at `base` (the direct route or the pod proxy).
async fn sql(sim: &Sim, base: &str, password: &str, stmt: &str) -> Value {
    let (status, body) = sql_raw(sim, base, password, stmt).await;
    assert_eq!(status, 200, "{stmt}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The route of a client in the cluster dialling the pod IP.
fn direct(namespace: &str, pod: &str) -> String {
    format!("/_crate/{namespace}/{pod}")
}

/// The API server's pod proxy.
fn proxy(namespace: &str, pod: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:4200/proxy")
}

#[tokio::test(start_paused = true)]
async fn the_example_builds_its_nodes_with_taints_annotations_and_cordons() {
    let sim = example();
    let client = Client::new(sim.router(), "cratedb");
    let nodes: Api<Node> = Api::all(client.clone());
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(
        names,
        ["node-a", "node-b", "node-c", "node-d"],
        "only the scenario's nodes"
    );

    let spot = nodes.get("node-b").await.unwrap();
    let taint = &spot.spec.unwrap().taints.unwrap()[0];
    assert_eq!(taint.key, "aws.amazon.com/spot-instance-terminating");
    assert_eq!(taint.value.as_deref(), Some("true"));
    assert_eq!(taint.effect, "NoSchedule");

    let suspended = nodes.get("node-c").await.unwrap();
    assert_eq!(
        suspended
            .annotations()
            .get("node.kubernetes.io/suspend")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        suspended
            .labels()
            .get("topology.kubernetes.io/zone")
            .map(String::as_str),
        Some("eu-west-1c")
    );
    let cordoned = nodes.get("node-d").await.unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));

    // First pods round-robin over the nodes in name order, taints or not.
    let pods: Api<Pod> = Api::namespaced(client, "cratedb");
    for (ordinal, node) in ["node-a", "node-b", "node-c"].iter().enumerate() {
        let pod = pods
            .get(&format!("crate-data-hot-alpha-{ordinal}"))
            .await
            .unwrap();
        assert_eq!(pod.spec.unwrap().node_name.as_deref(), Some(*node));
    }
}

#[tokio::test(start_paused = true)]
async fn the_example_builds_its_clusters_tables_and_hook() {
    let sim = example();
    let client = Client::new(sim.router(), "cratedb");

    // alpha: the hook command and grace period from the file, the password in its Secret.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "cratedb");
    let pod = pods.get("crate-data-hot-alpha-0").await.unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.termination_grace_period_seconds, Some(1800));
    let crate_container = spec.containers.iter().find(|c| c.name == "crate").unwrap();
    let hook = crate_container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.clone())
        .unwrap();
    assert_eq!(hook[2], "/dc_util -min-availability PRIMARIES -timeout 720s");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "cratedb");
    let secret = secrets.get("user-system-alpha").await.unwrap();
    assert_eq!(secret.data.unwrap()["password"].0, b"alpha-secret");

    // Host-based auth as the operator sets it: on the command line, and the pod proxy (which
    // drops the credentials) gets CrateDB's 401; by pod IP the password works.
    let command = crate_container.command.clone().unwrap();
    assert!(
        command.contains(&"-Cauth.host_based.enabled=true".to_string()),
        "{command:?}"
    );
    let (status, body) = sql_raw(
        &sim,
        &proxy("cratedb", "crate-data-hot-alpha-0"),
        "alpha-secret",
        "SELECT 1",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (401, "password authentication failed for user \"crate\"\n")
    );
    let tables = sql(
        &sim,
        &direct("cratedb", "crate-data-hot-alpha-0"),
        "alpha-secret",
        "SELECT table_name, number_of_shards, number_of_replicas, partitioned_by FROM information_schema.tables WHERE table_schema = 'doc' ORDER BY table_name",
    )
    .await;
    let rows = tables["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(names, ["audit", "events", "metrics"]);
    assert_eq!(rows[0][1], 4, "shards default to 4");
    assert_eq!(rows[0][2], "0");
    assert_eq!(rows[2][2], "0-1");
    let partitions = sql(
        &sim,
        &direct("cratedb", "crate-data-hot-alpha-0"),
        "alpha-secret",
        "SELECT count(DISTINCT partition_ident) FROM sys.shards WHERE table_name = 'metrics'",
    )
    .await;
    assert_eq!(partitions["rows"][0][0], 2);

    // beta: three masters and two data groups in its own namespace, default password, no
    // host-based auth: the pod proxy reaches CrateDB, which runs the request as `crate`.
    let beta = proxy("cratedb-prod", "crate-data-cold-beta-1");
    let user = sql(&sim, &beta, "cratesim-beta", "SELECT CURRENT_USER").await;
    assert_eq!(user["rows"][0][0], "crate", "the proxy dropped the credentials");
    let nodes = sql(
        &sim,
        &beta,
        "cratesim-beta",
        "SELECT name FROM sys.nodes ORDER BY name",
    )
    .await;
    let names: Vec<&str> = nodes["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "data-cold-0",
            "data-cold-1",
            "data-hot-0",
            "data-hot-1",
            "master-0",
            "master-1",
            "master-2"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_example_faults_are_in_force_from_the_start() {
    let sim = example();
    let pods: Api<Pod> = Api::namespaced(Client::new(sim.router(), "cratedb"), "cratedb");
    // api_error DELETE pods 503 ×2: two deletes fail, the third goes through.
    for _ in 0..2 {
        let error = pods
            .delete("crate-data-hot-alpha-0", &DeleteParams::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&error, kube::Error::Api(s) if s.code == 503),
            "{error:?}"
        );
    }
    pods.delete("crate-data-hot-alpha-0", &DeleteParams::default())
        .await
        .unwrap();
}

#[test]
fn serve_refuses_a_bad_scenario_with_exit_code_2_naming_the_place() {
    let dir = std::env::temp_dir().join(format!("cratesim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "clusters:\n  - name: alpha\n    data_groups: [{name: hot, replica: 3}]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cratesim"))
        .args(["serve", "--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    assert!(stderr.contains("clusters[0].data_groups[0]"), "{stderr}");
    assert!(stderr.contains("unknown field `replica`"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");

    let unknown_cluster = dir.join("fault.yaml");
    std::fs::write(
        &unknown_cluster,
        "clusters: [{name: alpha}]\nfaults: [{kind: health_stuck_yellow, namespace: cratedb, cluster: gamma, stuck: true}]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cratesim"))
        .args(["serve", "--scenario"])
        .arg(&unknown_cluster)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cratedb/gamma"), "{stderr}");

    let both = Command::new(env!("CARGO_BIN_EXE_cratesim"))
        .args(["serve", "--clusters", "2", "--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `cratesim serve` with `args`; kills it and fails the test if it has not exited within
/// 20 s (a simulation it accepted would serve until interrupted).
fn serve_refused(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cratesim"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cratesim serve {args:?} was still running after 20 s: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: Vec::new(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn serve_refuses_a_simulation_too_large_to_serve_at_once() {
    let dir = std::env::temp_dir().join(format!("cratesim-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.yaml");
    std::fs::write(
        &big,
        "clusters:\n  - name: alpha\n    data_groups: [{name: hot, replicas: 100000}]\n",
    )
    .unwrap();
    let big = big.display().to_string();
    for (args, expected) in [
        (
            vec!["--scenario", big.as_str()],
            format!(
                "error: scenario {big}: clusters[0]: cluster \"alpha\": 100000 CrateDB nodes (masters 0 + data_groups 100000) is over the limit of 1000 per cluster"
            ),
        ),
        (
            vec!["--clusters", "4294967295"],
            "error: --clusters 4294967295 is over the limit of 100".to_string(),
        ),
        (
            vec!["--data-nodes", "4000000000"],
            "error: --masters 0 and --data-nodes 4000000000 make 4000000000 CrateDB nodes per cluster, over the limit of 1000".into(),
        ),
        (
            vec!["--tables", "4294967295"],
            "error: --tables 4294967295 is over the limit of 1000 per cluster".into(),
        ),
        (
            vec!["--clusters", "21", "--data-nodes", "100"],
            "error: clusters: 2100 CrateDB nodes in all clusters is over the limit of 2000".into(),
        ),
        (
            vec!["--data-nodes", "1000", "--tables", "100"],
            "error: cluster \"cluster-1\": 1000 data nodes with 800 shard copies are too many to simulate promptly".into(),
        ),
    ] {
        let out = serve_refused(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(&expected), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_a_scenario_file_it_cannot_read_at_once() {
    let dir = std::env::temp_dir().join(format!("cratesim-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let large = dir.join("large.yaml");
    // Valid YAML: a scenario followed by comments, one byte over the limit.
    let mut text = String::from("clusters: [{name: alpha}]\n");
    let line = format!("# {}\n", "x".repeat(1000));
    while text.len() + line.len() <= 16 * 1024 * 1024 {
        text.push_str(&line);
    }
    text.push_str(&"#".repeat(16 * 1024 * 1024 + 1 - text.len()));
    std::fs::write(&large, &text).unwrap();
    let large = large.display().to_string();
    let folder = dir.display().to_string();
    for (path, why) in [
        ("/dev/zero", "not a regular file (it is a device, FIFO or socket)"),
        (folder.as_str(), "not a regular file (it is a directory)"),
        (
            large.as_str(),
            "it is 16777217 bytes; the limit is 16777216 bytes (16 MiB)",
        ),
    ] {
        let out = serve_refused(&["--scenario", path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: cannot read scenario {path}: {why}")),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
