//! The restart workflow end to end, in-process: cratesim on a real socket with a scaled clock,
//! a worker on a scratch state directory, and assertions on the simulator's evidence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cratectl_core::restart::report::{ClusterState, PodResult, RequestState, RestartReport};
use cratectl_flow::engine::duroxide::WorkerOptions;
use cratectl_flow::env::ActivityEnv;
use cratectl_flow::model::{ClusterRef, Gate, RestartOptions, RestartRequest, TargetSpec};
use cratectl_flow::service::{Restarts, start_worker};
use cratesim::clock::Clock;
use cratesim::operator::ClusterShape;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use serde_json::Value;

struct Setup {
    server: Arc<cratesim::kube::ApiServer>,
    dir: PathBuf,
    target: TargetSpec,
}

async fn setup(name: &str, shapes: &[ClusterShape]) -> Setup {
    let sim = Sim::new(Clock::new(20.0), shapes).unwrap();
    let running = serve("127.0.0.1:0", sim).await.unwrap();
    let dir = std::env::temp_dir().join(format!("cratectl-flow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    write_kubeconfig(&path, &kubeconfig(running.addr, "cratedb")).unwrap();
    Setup {
        server: running.server.clone(),
        dir,
        target: TargetSpec {
            kubeconfig: Some(path),
            context: None,
        },
    }
}

fn fast_options() -> RestartOptions {
    RestartOptions {
        gate: Gate {
            polls: 3,
            interval: Duration::from_millis(100),
        },
        ..RestartOptions::default()
    }
}

async fn wait_terminal(restarts: &Restarts, id: &str, limit: Duration) -> RestartReport {
    let deadline = tokio::time::Instant::now() + limit;
    let start = std::time::Instant::now();
    let mut seen = String::new();
    loop {
        let report = restarts.report(id).await.unwrap().expect("the restart exists");
        if std::env::var("TRACE_STEPS").is_ok() {
            for c in &report.clusters {
                let now = format!(
                    "{} {:?} {:?} {:?}",
                    c.name, c.pod_index, c.current_step, c.waiting_for
                );
                if now != seen {
                    eprintln!("{:>7.2}s {now}", start.elapsed().as_secs_f64());
                    seen = now;
                }
            }
        }
        if report.state != RequestState::Running {
            return report;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "not finished in {limit:?}: {}",
                serde_json::to_string_pretty(&report).unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sim_cluster<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_restart_one_at_a_time_and_settings_come_back() {
    let shape = ClusterShape::new("alpha", "cratedb");
    let setup = setup("three-nodes", &[shape]).await;
    let before = setup.server.report();
    let settings_before = sim_cluster(&before, "alpha")["settings"].clone();
    let state = setup.dir.join("state");
    let worker = start_worker(
        &state,
        Arc::new(ActivityEnv::new(None)),
        &WorkerOptions::default(),
    )
    .await
    .unwrap();
    let restarts = Restarts::open(&state).await.unwrap();
    let request = RestartRequest {
        request_id: "restart-alpha-test".into(),
        target: setup.target.clone(),
        clusters: vec![ClusterRef {
            namespace: "cratedb".into(),
            resource: "alpha".into(),
            name: "alpha".into(),
        }],
        options: fast_options(),
    };
    restarts.start(&request).await.unwrap();
    assert!(
        restarts.start(&request).await.is_err(),
        "a second start of the same id is refused"
    );
    let report = wait_terminal(&restarts, "restart-alpha-test", Duration::from_secs(150)).await;
    worker.shutdown(Duration::from_secs(1)).await;
    let text = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(report.state, RequestState::Completed, "{text}");
    let cluster = &report.clusters[0];
    assert_eq!(cluster.state, ClusterState::Succeeded, "{text}");
    assert_eq!(cluster.pods.len(), 3, "{text}");
    for pod in &cluster.pods {
        assert_eq!(pod.result, PodResult::Restarted, "{text}");
        assert_ne!(pod.old_uid, pod.new_uid, "{text}");
    }
    let after = setup.server.report();
    let sim = sim_cluster(&after, "alpha");
    assert!(sim["max_unavailable_nodes"].as_u64().unwrap() <= 1, "{sim}");
    for pod in sim["pods"].as_array().unwrap() {
        assert_eq!(
            pod["uids"].as_array().unwrap().len(),
            2,
            "each pod restarted exactly once: {pod}"
        );
    }
    assert_eq!(sim["settings"], settings_before, "settings back at both levels");
    let _ = std::fs::remove_dir_all(&setup.dir);
}
