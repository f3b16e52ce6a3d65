#!/usr/bin/env bash
# Runs every test of syncws: unit, integration (loopback, Python `websockets` in a venv the
# tests create under target/), doc tests, and the Autobahn conformance suite.
# Installs what it needs itself; needs cargo, python3 (with venv) and the package registries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "test: installing python3-venv"
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
cargo test --all-features
scripts/autobahn.sh
