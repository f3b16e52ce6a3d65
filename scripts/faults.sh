#!/usr/bin/env bash
# The fault and misbehaving-peer tests of docs/RELIABILITY.md with their slow settings, against
# the release build of syncws-echo: real network faults in network namespaces (tests/faults.rs:
# needs root, installs nftables with apt if missing), shutdown under load
# (tests/shutdown_load.rs), misbehaving peers with a storm of 10,000 connections reset at once
# (tests/misbehaving.rs; three in a row; CI's test command runs one of 2,000). Each prints its figures.
# --soak [MINUTES] runs scripts/soak.sh afterwards (20 minutes by default).
#
# Usage: scripts/faults.sh [--soak [MINUTES]]
# Environment: SYNCWS_STORM (10000), SYNCWS_STORM_ROUNDS (3), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
soak=
if [[ ${1:-} == --soak ]]; then
  soak=${2:-20}
elif [[ -n ${1:-} ]]; then
  echo "usage: scripts/faults.sh [--soak [MINUTES]]" >&2
  exit 1
fi
[[ $(id -u) == 0 ]] || { echo "scripts/faults.sh: the namespace tests need root" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-target}
cargo build --release --features cli --bin syncws-echo
export SYNCWS_ECHO_BIN="$target/release/syncws-echo"
run() { echo "== $*"; timeout 900 "$@"; }
run env SYNCWS_PEER_TESTS=1 cargo test --all-features --test faults -- --include-ignored --nocapture
run cargo test --all-features --test shutdown_load -- --nocapture
run env SYNCWS_STORM="${SYNCWS_STORM:-10000}" SYNCWS_STORM_ROUNDS="${SYNCWS_STORM_ROUNDS:-3}" cargo test --all-features --test misbehaving -- --nocapture
if [[ -n $soak ]]; then
  scripts/soak.sh "$soak"
fi
