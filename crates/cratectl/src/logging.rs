//! Logs on standard error, as text or JSON lines (`--log-level`, `--log-format`).
//!
//! The level applies to cratectl's own crates and kube-rs; the workflow engine (duroxide) logs
//! errors only, unless the level is debug or trace. The HTTP and TLS stacks underneath
//! (hyper, h2, reqwest, rustls) stay at `warn` whatever the level: at debug and trace they can
//! print request headers, and headers carry credentials. Our crates never log credentials.

use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, LogLevel};

/// Installs the global subscriber. Called once, before any work.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
        LogLevel::Trace => "trace",
    };
    // The workflow engine retries SQLite lock contention between the worker and the process
    // reading progress on its own and warns each time; those warnings only show at debug.
    let engine = match level {
        "debug" | "trace" => level,
        _ => "error",
    };
    // The Temporal SDK warns about every record over 2 KB (its hard limit is 2 MB, where
    // `status` reports the workflow as stuck); those warnings only show at debug too.
    let directives = format!(
        "warn,duroxide={engine},temporalio_common::payload_limits={engine},cratectl={level},cratectl_core={level},cratectl_kube={level},cratectl_cratedb={level},cratectl_flow={level},kube={level},kube_client={level},kube_runtime={level},hyper=warn,hyper_util=warn,h2=warn,reqwest=warn,rustls=warn,tower=warn"
    );
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_target(true);
    // A second init (tests calling twice) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
