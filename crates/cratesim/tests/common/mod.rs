//! Shared by the integration tests: the cluster they simulate, and the third-party clients the
//! conformance tests drive — found, or skipped with the reason (a failure on CI: [`require`]).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use cratesim::operator::ClusterShape;

/// A three-data-node cluster `name` in namespace `cratedb`, as most tests simulate.
pub fn shape(name: &str, dc_util_hook: bool, system_password: &str) -> ClusterShape {
    let mut shape = ClusterShape::new(name, "cratedb");
    shape.dc_util_hook = dc_util_hook;
    shape.system_password = system_password.into();
    shape
}

/// Whether this run is CI's: `CI` set to anything but empty, `0` or `false` (CI services set
/// `CI=true`; `.ci/run` sets it when it is unset).
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// The one place a conformance test decides what to do about a third-party client it needs:
/// `Some(client)` when it was found; when it was not, `None` after printing
/// `skipping <test>: <reason>` on standard error (the test then returns and passes), or, on CI,
/// a panic with the reason, so that a CI machine without the clients fails instead of passing
/// without having checked anything.
pub fn require<T>(client: Result<T, String>) -> Option<T> {
    let reason = match client {
        Ok(client) => return Some(client),
        Err(reason) => reason,
    };
    let current = std::thread::current();
    let test = current.name().unwrap_or("this test");
    if on_ci() {
        panic!("{test}: {reason} (CI is set: the conformance clients are required)");
    }
    eprintln!("skipping {test}: {reason}");
    None
}

/// `name` found on `PATH`.
pub fn program(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("{name} not found on PATH"))
}

/// The Google Cloud SDK's versioned `kubectl.<version>` binary: in `CRATESIM_KUBECTL_DIR`, else
/// in `/usr/lib/google-cloud-sdk/bin`.
pub fn kubectl(version: &str) -> Result<PathBuf, String> {
    let dir =
        std::env::var("CRATESIM_KUBECTL_DIR").unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin".into());
    let path = PathBuf::from(dir).join(format!("kubectl.{version}"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found (the versioned kubectl binaries come with the Google Cloud SDK, in its \
             `bin` folder; set CRATESIM_KUBECTL_DIR to that folder)",
            path.display()
        ))
    }
}

/// The virtualenv with the pinned Python clients (`tests/clients/provision.sh` creates it on
/// first use, which needs python3 with venv and pip, and PyPI access), or `CRATESIM_CLIENTS_VENV`
/// if set. Provisioning runs once per test binary; a failure is remembered.
pub fn clients_venv() -> Result<PathBuf, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Ok(venv) = std::env::var("CRATESIM_CLIENTS_VENV") {
            let venv = PathBuf::from(venv);
            return if venv.join("bin/python").is_file() {
                Ok(venv)
            } else {
                Err(format!(
                    "CRATESIM_CLIENTS_VENV={} has no bin/python",
                    venv.display()
                ))
            };
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/provision.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .map_err(|e| format!("cannot run bash {script}: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = last[last.len().saturating_sub(3)..].join(" | ");
            return Err(format!(
                "provisioning the Python test clients failed (needs python3 with venv and pip, and \
                 PyPI access): {tail}"
            ));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
    .clone()
}
