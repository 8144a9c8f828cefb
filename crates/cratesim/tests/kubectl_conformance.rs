//! Conformance with a client nobody here wrote: the oldest and newest of the Google Cloud SDK's
//! versioned kubectl binaries (`kubectl.1.27` … `kubectl.1.33` in its `bin` folder) against
//! `cratesim serve`'s HTTP API, over a real socket. Without those binaries the tests that drive
//! kubectl are skipped with the reason, and fail on CI (`common::require`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

use cratesim::clock::Clock;
use cratesim::serve::{Running, kubeconfig, start, write_kubeconfig};

const VERSIONS: [&str; 2] = ["1.27", "1.33"];

struct Sim {
    _runtime: tokio::runtime::Runtime,
    running: Running,
    dir: PathBuf,
    /// The kubectl binary of each of [`VERSIONS`], in that order (empty without kubectl).
    kubectl: Vec<PathBuf>,
}

impl Sim {
    /// A simulator for a test that drives kubectl, or `None` when the kubectl binaries are not
    /// here and the test is skipped ([`common::require`]; a failure on CI).
    fn with_kubectl(name: &str) -> Option<Sim> {
        let found: Result<Vec<PathBuf>, String> = VERSIONS.into_iter().map(common::kubectl).collect();
        let kubectl = common::require(found)?;
        let mut sim = Sim::start(name);
        sim.kubectl = kubectl;
        Some(sim)
    }

    /// A simulator for a test that does not drive kubectl.
    fn start(name: &str) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shape = common::shape("alpha", true, "secret-password");
        let running = runtime
            .block_on(start("127.0.0.1:0", Clock::new(1.0), &[shape]))
            .unwrap();
        let dir = std::env::temp_dir().join(format!("cratesim-kubectl-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_kubeconfig(&dir.join("kubeconfig"), &kubeconfig(running.addr, "cratedb")).unwrap();
        Sim {
            _runtime: runtime,
            running,
            dir,
            kubectl: Vec::new(),
        }
    }

    fn kubectl(&self, version: &str, args: &[&str]) -> Output {
        let index = VERSIONS
            .iter()
            .position(|v| *v == version)
            .expect("a version of VERSIONS");
        let path = self.kubectl.get(index).expect("a Sim made by Sim::with_kubectl");
        Command::new(path)
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            // A discovery cache per version and test, so no run sees another's.
            .arg("--cache-dir")
            .arg(self.dir.join(format!("cache-{version}")))
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.running.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn get_lists_cratedbs_statefulsets_and_pods_with_columns() {
    let Some(sim) = Sim::with_kubectl("get") else {
        return;
    };
    for version in VERSIONS {
        let out = sim.kubectl(version, &["get", "cratedbs,statefulsets,pods", "-A"]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "kubectl {version}: {}", text(&out.stderr));
        assert!(
            stdout.contains("cratedb.cloud.crate.io/alpha"),
            "{version}: {stdout}"
        );
        assert!(
            stdout.contains("statefulset.apps/crate-data-hot-alpha   3/3"),
            "{version}: {stdout}"
        );
        for i in 0..3 {
            assert!(
                stdout.contains(&format!("pod/crate-data-hot-alpha-{i}   2/2     Running")),
                "{version}: {stdout}"
            );
        }
        assert!(
            stdout.contains("NAMESPACE") && stdout.contains("RESTARTS"),
            "Table columns: {stdout}"
        );
    }
}

#[test]
fn errors_and_selectors() {
    let Some(sim) = Sim::with_kubectl("errors") else {
        return;
    };
    for version in VERSIONS {
        let out = sim.kubectl(version, &["get", "pod", "nope"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("Error from server (NotFound): pods \"nope\" not found"),
            "{}",
            text(&out.stderr)
        );
        let out = sim.kubectl(
            version,
            &[
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/name=alpha,cloud.crate.io/node-name=hot",
                "-o",
                "name",
            ],
        );
        assert_eq!(text(&out.stdout).lines().count(), 3, "{}", text(&out.stdout));
        let out = sim.kubectl(
            version,
            &[
                "get",
                "pods",
                "--field-selector",
                "metadata.name=crate-data-hot-alpha-1",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ],
        );
        assert_eq!(text(&out.stdout), "crate-data-hot-alpha-1");
    }
}

fn wait_for(sim: &Sim, version: &str, args: &[&str], expected: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        let out = sim.kubectl(version, args);
        last = text(&out.stdout);
        if last.trim() == expected {
            return last;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("waited for {expected:?} from kubectl {args:?}, last saw {last:?}");
}

#[test]
fn a_deleted_pod_comes_back_with_a_new_uid_and_becomes_ready() {
    let Some(sim) = Sim::with_kubectl("delete") else {
        return;
    };
    for version in VERSIONS {
        let uid = |sim: &Sim| {
            text(
                &sim.kubectl(
                    version,
                    &[
                        "get",
                        "pod",
                        "crate-data-hot-alpha-1",
                        "-o",
                        "jsonpath={.metadata.uid}",
                    ],
                )
                .stdout,
            )
        };
        let before = uid(&sim);
        assert!(!before.is_empty());
        // kubectl waits (with a watch) until the pod is gone: the graceful stop takes 10
        // simulated seconds.
        let out = sim.kubectl(version, &["delete", "pod", "crate-data-hot-alpha-1"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("pod \"crate-data-hot-alpha-1\" deleted"),
            "{}",
            text(&out.stdout)
        );
        let ready = "{.status.containerStatuses[0].ready}";
        wait_for(
            &sim,
            version,
            &[
                "get",
                "pod",
                "crate-data-hot-alpha-1",
                "-o",
                &format!("jsonpath={ready}"),
            ],
            "true",
        );
        let after = uid(&sim);
        assert!(
            !after.is_empty() && after != before,
            "same name, new UID: {before} -> {after}"
        );
        wait_for(
            &sim,
            version,
            &[
                "get",
                "sts",
                "crate-data-hot-alpha",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ],
            "3",
        );
    }
}

#[test]
fn scale_up_and_down() {
    let Some(sim) = Sim::with_kubectl("scale") else {
        return;
    };
    let version = VERSIONS[0];
    let out = sim.kubectl(version, &["scale", "sts", "crate-data-hot-alpha", "--replicas=4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for(
        &sim,
        version,
        &[
            "get",
            "sts",
            "crate-data-hot-alpha",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ],
        "4",
    );
    let version = VERSIONS[1];
    let out = sim.kubectl(
        version,
        &[
            "scale",
            "sts",
            "crate-data-hot-alpha",
            "--replicas=3",
            "--current-replicas=4",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for(
        &sim,
        version,
        &["get", "pods", "-o", "name"],
        "pod/crate-data-hot-alpha-0\npod/crate-data-hot-alpha-1\npod/crate-data-hot-alpha-2",
    );
    // A precondition that does not hold is refused by kubectl itself, from the scale GET.
    let out = sim.kubectl(
        version,
        &[
            "scale",
            "sts",
            "crate-data-hot-alpha",
            "--replicas=5",
            "--current-replicas=9",
        ],
    );
    assert!(!out.status.success());
}

#[test]
fn watch_lists_pods_as_a_table_until_its_timeout() {
    let Some(sim) = Sim::with_kubectl("watch") else {
        return;
    };
    for version in VERSIONS {
        let out = sim.kubectl(version, &["get", "pods", "-w", "--request-timeout=2s"]);
        let stdout = text(&out.stdout);
        for i in 0..3 {
            assert!(
                stdout.contains(&format!("crate-data-hot-alpha-{i}   2/2     Running")),
                "{version}: {stdout}"
            );
        }
        assert!(stdout.starts_with("NAME"), "{version}: {stdout}");
    }
}

#[test]
fn drain_evicts_through_the_disruption_budget_and_avoids_the_cordoned_node() {
    let Some(sim) = Sim::with_kubectl("drain") else {
        return;
    };
    for version in VERSIONS {
        let out = sim.kubectl(
            version,
            &[
                "get",
                "pdb",
                "crate-data-hot-alpha",
                "-o",
                "jsonpath={.spec.maxUnavailable}",
            ],
        );
        assert_eq!(
            text(&out.stdout),
            "1",
            "one budget per StatefulSet: {}",
            text(&out.stderr)
        );
    }
    let version = VERSIONS[1];
    let out = sim.kubectl(
        version,
        &["drain", "node-1", "--ignore-daemonsets", "--timeout=30s"],
    );
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("pod/crate-data-hot-alpha-1 evicted"),
        "{}",
        text(&out.stdout)
    );
    let out = sim.kubectl(version, &["get", "node", "node-1"]);
    assert!(
        text(&out.stdout).contains("Ready,SchedulingDisabled"),
        "{}",
        text(&out.stdout)
    );
    // The replacement is scheduled elsewhere and becomes Ready.
    wait_for(
        &sim,
        version,
        &[
            "get",
            "pod",
            "crate-data-hot-alpha-1",
            "-o",
            "jsonpath={.status.containerStatuses[0].ready}",
        ],
        "true",
    );
    let node = text(
        &sim.kubectl(
            version,
            &[
                "get",
                "pod",
                "crate-data-hot-alpha-1",
                "-o",
                "jsonpath={.spec.nodeName}",
            ],
        )
        .stdout,
    );
    assert_ne!(node, "node-1");
}

#[test]
fn eviction_is_refused_with_429_while_the_budget_is_spent() {
    let Some(curl) = common::require(common::program("curl")) else {
        return;
    };
    let sim = Sim::start("evict");
    let url = format!("http://{}/api/v1/namespaces/cratedb/pods", sim.running.addr);
    let evict = |pod: &str| {
        let body = format!(r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}"}}}}"#);
        Command::new(&curl)
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                &body,
            ])
            .arg(format!("{url}/{pod}/eviction"))
            .output()
            .unwrap()
    };
    let first = text(&evict("crate-data-hot-alpha-0").stdout);
    assert!(first.ends_with("\n201"), "{first}");
    let second = text(&evict("crate-data-hot-alpha-2").stdout);
    assert!(second.ends_with("\n429"), "{second}");
    assert!(
        second.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{second}"
    );
    assert!(
        second
            .contains("The disruption budget crate-data-hot-alpha needs 2 healthy pods and has 2 currently"),
        "{second}"
    );
}

/// Applies `faults` (the JSON of `POST /_sim/faults`) to the running simulator.
fn inject(sim: &Sim, faults: serde_json::Value) {
    let request: cratesim::faults::FaultRequest =
        serde_json::from_value(serde_json::json!({ "faults": faults })).unwrap();
    cratesim::faults::apply(&sim.running.server, &request.faults).unwrap();
}

#[test]
fn injected_api_latency_and_error_rates_reach_kubectl() {
    let Some(sim) = Sim::with_kubectl("faults") else {
        return;
    };
    inject(
        &sim,
        serde_json::json!([
            {"kind": "api_latency", "verb": "GET", "resource": "pods", "latency_ms": 300},
            {"kind": "api_error_rate", "verb": "DELETE", "resource": "pods", "code": 500, "rate": 1.0},
        ]),
    );
    for version in VERSIONS {
        let started = std::time::Instant::now();
        let out = sim.kubectl(version, &["get", "pods", "--request-timeout=5s", "-o", "name"]);
        assert!(out.status.success(), "kubectl {version}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).lines().count(), 3, "{}", text(&out.stdout));
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "the GET waited for the injected latency"
        );
        let out = sim.kubectl(version, &["get", "pods", "--request-timeout=100ms"]);
        assert!(!out.status.success(), "a shorter client timeout gives up");
        // Go reports the client timeout in either words, depending on when it fires.
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("context deadline exceeded") || stderr.contains("Client.Timeout exceeded"),
            "{version}: {stderr}"
        );
        let out = sim.kubectl(
            version,
            &["delete", "pod", "crate-data-hot-alpha-0", "--wait=false"],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("Error from server (InternalError): cratesim: injected fault"),
            "{version}: {}",
            text(&out.stderr)
        );
    }
}

/// `kubectl port-forward` speaks SPDY (1.27) or SPDY tunnelled over WebSocket, falling back to
/// SPDY (1.31 and later); neither is simulated (only the WebSocket `v4.channel.k8s.io` protocol
/// kube-rs uses is, see `tests/portforward.rs`). kubectl must say so plainly, not hang.
#[test]
fn port_forward_is_refused_with_a_message_saying_spdy_is_not_simulated() {
    let Some(sim) = Sim::with_kubectl("port-forward") else {
        return;
    };
    for version in VERSIONS {
        let out = sim.kubectl(version, &["port-forward", "pod/crate-data-hot-alpha-0", ":4200"]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "kubectl {version}: {}", text(&out.stdout));
        assert!(
            stderr.contains("port-forward over SPDY (Upgrade: SPDY/3.1) is not simulated"),
            "kubectl {version}: {stderr}"
        );
    }
}
