#!/usr/bin/env bash
# Soak: MINUTES (20 by default, 1 to 60) of churn against the release build of syncws-echo
# (tests/soak.rs: connections opened one after another by 8 workers, half with
# permessage-deflate, a few echoes each, then a clean close, an RST or a plain drop), sampling
# the server's RSS, threads and descriptors; it fails on any failed connection or wrong echo,
# unless threads and descriptors return to their idle baseline, or if memory grew by more than
# 25% + 4 MiB over the run. Prints a line a minute and the figures at the end.
#
# Usage: scripts/soak.sh [MINUTES]        Environment: SYNCWS_SOAK_WORKERS (8), CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-20}
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1 || minutes > 60)); then
  echo "usage: scripts/soak.sh [MINUTES]   (1 to 60, default 20)" >&2
  exit 1
fi
target=${CARGO_TARGET_DIR:-target}
cargo build --release --features cli --bin syncws-echo
cargo test --release --features cli --test soak --no-run
echo "soak: $minutes minutes against $target/release/syncws-echo"
# The test bounds itself; the timeout is a second bound (the run, its quiet waits, 10 minutes).
SYNCWS_ECHO_BIN="$target/release/syncws-echo" SYNCWS_SOAK_SECONDS=$((minutes * 60)) \
  timeout $((minutes * 60 + 600)) \
  cargo test --release --features cli --test soak -- --nocapture
