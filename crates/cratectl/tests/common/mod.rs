//! Shared by the cratectl end-to-end tests: a simulator on a real socket (its own runtime, a
//! scaled clock), its kubeconfig in a scratch directory, and the built binary run against it
//! as a user would run it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use cratesim::clock::Clock;
use cratesim::faults::Fault;
use cratesim::kube::ApiServer;
use cratesim::operator::ClusterShape;
use cratesim::scenario::Scenario;
use cratesim::serve::{Sim, kubeconfig, serve, write_kubeconfig};
use serde_json::Value;

/// A running simulator and a scratch directory with its kubeconfig.
pub struct Env {
    pub runtime: tokio::runtime::Runtime,
    pub server: Arc<ApiServer>,
    pub addr: std::net::SocketAddr,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

/// Simulated seconds per real second: pod restarts take well under a second.
pub const TIME_SCALE: f64 = 20.0;

impl Env {
    /// Serves `shapes` on 127.0.0.1 with a scaled clock.
    pub fn start(name: &str, shapes: &[ClusterShape]) -> Env {
        Env::build(name, TIME_SCALE, |clock| Sim::new(clock, shapes).unwrap())
    }

    /// As [`Env::start`] with the simulated clock running `scale` times real time (1.0: the
    /// simulator's wall clock is cratectl's, as a real CrateDB's is).
    pub fn start_scaled(name: &str, shapes: &[ClusterShape], scale: f64) -> Env {
        Env::build(name, scale, |clock| Sim::new(clock, shapes).unwrap())
    }

    /// Serves a scenario given as YAML text.
    pub fn scenario(name: &str, yaml: &str) -> Env {
        let scenario = Scenario::parse(yaml, name).unwrap();
        Env::build(name, TIME_SCALE, |clock| {
            Sim::from_scenario(clock, &scenario).unwrap()
        })
    }

    fn build(name: &str, scale: f64, sim: impl FnOnce(Clock) -> Sim) -> Env {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime.block_on(async {
            let sim = sim(Clock::new(scale));
            serve("127.0.0.1:0", sim).await.unwrap()
        });
        let dir = std::env::temp_dir().join(format!("cratectl-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &kubeconfig_value(running.addr)).unwrap();
        Env {
            server: running.server.clone(),
            addr: running.addr,
            runtime,
            dir,
            kubeconfig,
        }
    }

    /// Runs `cratectl` with this environment's kubeconfig, in the scratch directory, with no
    /// cratectl-related variables inherited from the caller.
    pub fn cratectl(&self, args: &[&str]) -> Output {
        self.cratectl_with(args, &[])
    }

    /// As [`Env::cratectl`], with extra environment variables.
    pub fn cratectl_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cratectl"));
        command
            .current_dir(&self.dir)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args);
        for var in [
            "KUBECONFIG",
            "K8S_CONTEXT",
            "CRATEDB_CLUSTER_URL",
            "CRATEDB_USERNAME",
            "CRATEDB_PASSWORD",
            "CRATEDB_TOKEN",
            "CRATEDB_TOKEN_COMMAND",
            "CRATECTL_ENGINE",
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "TEMPORAL_TASK_QUEUE",
            "TEMPORAL_API_KEY",
        ] {
            command.env_remove(var);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("cratectl runs")
    }

    /// A state directory for workflow records, inside the scratch directory (not created).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Starts `cratectl` in the background with this environment's kubeconfig, as
    /// [`Env::cratectl`] runs it, with its output discarded.
    pub fn spawn_cratectl(&self, args: &[&str]) -> std::process::Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cratectl"));
        command
            .current_dir(&self.dir)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for var in [
            "KUBECONFIG",
            "K8S_CONTEXT",
            "CRATEDB_CLUSTER_URL",
            "CRATEDB_USERNAME",
            "CRATEDB_PASSWORD",
            "CRATEDB_TOKEN",
            "CRATEDB_TOKEN_COMMAND",
            "CRATECTL_STATE_DIR",
            "CRATECTL_ENGINE",
            "TEMPORAL_ADDRESS",
            "TEMPORAL_NAMESPACE",
            "TEMPORAL_TASK_QUEUE",
            "TEMPORAL_API_KEY",
        ] {
            command.env_remove(var);
        }
        command.spawn().expect("cratectl starts")
    }

    /// Applies faults as `POST /_sim/faults` would.
    pub fn faults(&self, faults: &[Fault]) {
        cratesim::faults::apply(&self.server, faults).unwrap();
    }

    /// The simulator's evidence report.
    pub fn report(&self) -> Value {
        self.server.report()
    }

    /// The direct URL of a pod's CrateDB node.
    pub fn direct_url(&self, namespace: &str, pod: &str) -> String {
        format!("http://{}/_crate/{namespace}/{pod}", self.addr)
    }

    /// Deletes a pod through the Kubernetes API (as `kubectl delete pod` would).
    pub fn delete_pod(&self, namespace: &str, pod: &str) {
        let url = format!("http://{}/api/v1/namespaces/{namespace}/pods/{pod}", self.addr);
        let status = Command::new("curl")
            .args(["-sf", "-X", "DELETE", &url, "-o", "/dev/null"])
            .status()
            .expect("curl runs");
        assert!(status.success(), "DELETE {url}");
    }

    /// Runs `f` with a kube-rs client for this simulator, on the simulator's runtime.
    pub fn with_kube<T>(&self, f: impl AsyncFnOnce(kube::Client) -> T) -> T {
        let url = format!("http://{}", self.addr).parse().unwrap();
        self.runtime.block_on(async {
            let client = kube::Client::try_from(kube::Config::new(url)).unwrap();
            f(client).await
        })
    }

    /// Waits (real time, polling) until `check` holds, up to `seconds`.
    pub fn wait_until(&self, seconds: u64, mut check: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn kubeconfig_value(addr: std::net::SocketAddr) -> Value {
    kubeconfig(addr, "cratedb")
}

/// Restart flags that keep end-to-end restarts fast: two stable readings 200 ms apart, and
/// limits that end a stuck test within a minute or two.
pub const FAST_RESTART: &[&str] = &[
    "--stable-polls",
    "2",
    "--poll-interval",
    "200ms",
    "--health-timeout",
    "60s",
    "--pod-ready-timeout",
    "60s",
    "--rejoin-timeout",
    "60s",
    "--decommission-timeout",
    "120s",
];

/// A cluster `name` of three data nodes in namespace `cratedb` with `password`.
pub fn shape(name: &str, password: &str, dc_util: bool) -> ClusterShape {
    let mut shape = ClusterShape::new(name, "cratedb");
    shape.system_password = password.into();
    shape.dc_util_hook = dc_util;
    shape
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON on stdout of a run that must have exited with `code`.
pub fn json_of(output: &Output, code: i32) -> Value {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}
