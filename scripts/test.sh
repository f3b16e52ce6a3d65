#!/usr/bin/env bash
# Runs every test of syncws: unit, integration (loopback; Python `websockets` in a venv and
# Node `ws` in target/node, both installed by the tests, as clients and as servers; Chromium;
# mosquitto, installed with apt by tests/mqtt.rs, for the MQTT bridge),
# doc tests, the Autobahn conformance suite against the server and against the client (all 517
# cases each, and 1.* to 10.* over TLS), then the static board binaries (six targets, two
# flavours), a probe of each under qemu, and the library's tests under qemu on three of them
# (scripts/cross-test.sh). The fault, misbehaving-peer and soak tests run in their short forms
# in the cargo test below (as root: the fault tests make network namespaces).
# Installs what it needs itself (apt, PyPI, npm); run it as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Each step's start, with the time so far.
step() { echo "test: $1 (at $SECONDS s)"; }
# rustup's toolchain first, should another cargo be on PATH (the board toolchain of
# cross/setup.sh is not: it stays under target/cross/).
if [ -d "$HOME/.cargo/bin" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "test: installing python3-venv"
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
if ! command -v npm >/dev/null; then
  echo "test: installing nodejs and npm"
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
# The workspace: syncws, syncws-bench (bench/: a short run of its scenarios) and the tests'
# client (tests/support/wsclient). The tests that install peers (pip, npm, apt) are ignored by a
# plain `cargo test`; SYNCWS_PEER_TESTS=1 and --include-ignored run them here.
# What waits on the network runs in the background while cargo compiles the tests: the board
# toolchain (cross/setup.sh: Debian packages, Rust 1.85 and zig under target/cross/) and the
# Debian packages that the peer tests would install themselves (Chromium, mosquitto). One job,
# so that no two apt-get runs meet; the tests start once it is done.
mkdir -p target
(
  packages=()
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  { [ -x /usr/sbin/mosquitto ] && [ -x /usr/bin/mosquitto_pub ]; } || packages+=(mosquitto mosquitto-clients)
  if [ ${#packages[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
  fi
  bash cross/setup.sh
) >target/setup.log 2>&1 &
setup=$!
step "cargo test, with peers: building (setup in the background)"
SYNCWS_PEER_TESTS=1 cargo test --workspace --all-features --no-run
wait "$setup" || { cat target/setup.log; echo "test: the setup failed"; exit 1; }
step "cargo test, with peers"
SYNCWS_PEER_TESTS=1 cargo test --workspace --all-features -- --include-ignored
# The library without its default features (no deflate) builds and passes its unit tests too.
step "cargo test, no default features"
cargo test --no-default-features --lib
# Autobahn against the server and against the client side by side: each keeps about 1.5 of
# the 2 cores busy alone (kosoku runs its cases in Python), so together they take about 9
# minutes instead of 11. The release binaries are built first, once (with TLS, for the runs
# over TLS after them).
step "Autobahn"
cargo build --release --features cli,tls --bin syncws-echo --bin syncws-client
scripts/autobahn.sh --install
# Each side's run over TLS (cases 1.* to 10.*, through a TLS-terminating proxy beside kosoku,
# which has no TLS; about 50 s each) follows its plain run: the two plain runs take about as
# long (500 s each), so the two chains end together.
(scripts/autobahn.sh && scripts/autobahn.sh --tls) > target/autobahn-server.log 2>&1 &
server=$!
(scripts/autobahn.sh --client && scripts/autobahn.sh --client --tls) > target/autobahn-client.log 2>&1 &
client=$!
status=0
wait "$server" || status=$?
wait "$client" || status=$?
step "Autobahn ended"
cat target/autobahn-server.log target/autobahn-client.log
[ "$status" -eq 0 ] || { echo "test: Autobahn failed"; exit "$status"; }
# Boards: Debian's Rust 1.85 (which also checks rust-version), static binaries, tests and probes
# under qemu.
step "boards"
scripts/cross-test.sh
