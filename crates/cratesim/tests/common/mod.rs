//! Shared by the integration tests: the cluster they simulate, and the third-party clients.

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

/// The virtualenv with the pinned clients (`tests/clients/provision.sh` creates it on first use),
/// or `CRATESIM_CLIENTS_VENV` if set.
pub fn clients_venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Ok(venv) = std::env::var("CRATESIM_CLIENTS_VENV") {
            return PathBuf::from(venv);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/provision.sh");
        let out = Command::new("bash").arg(script).output().expect("bash runs");
        assert!(
            out.status.success(),
            "provisioning the test clients failed (needs python3 with venv and PyPI access):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}
