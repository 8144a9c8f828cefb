#!/usr/bin/env bash
# Provisions the third-party clients cratesim's conformance tests drive, pinned, in a virtualenv
# under the build directory: the Python Kubernetes client, and CrateDB's `crate` (DB-API) and
# `crash` (shell). Idempotent and safe to run concurrently (a lock); prints the venv's path.
# Needs python3 with venv and pip, flock, and access to PyPI. When it fails, the tests that need
# the clients are skipped with its message, or fail when CI is set (tests/common/mod.rs).
set -euo pipefail
for tool in python3 flock; do
  command -v "$tool" >/dev/null || { echo "provision.sh: $tool not found" >&2; exit 1; }
done
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../../target}"
venv="$target/test-clients/venv"
stamp="$venv/.provisioned-v1"
mkdir -p "$target/test-clients"
exec 9>"$target/test-clients/lock"
flock 9
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    kubernetes==37.0.2 crate==2.3.0 crash==0.32.0 >&2
  touch "$stamp"
fi
echo "$venv"
