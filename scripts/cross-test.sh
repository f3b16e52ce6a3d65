#!/usr/bin/env bash
# Boards, tested: static syncws-echo for every target of cross/build.sh, in both flavours, the
# library's tests (the client's included) under qemu-user on aarch64, ARMv6 and big-endian MIPS
# (by default; see below), and each binary under qemu against
# Python `websockets` on the host (tests/peers/python_client.py: text, binary, 1 MB, fragments,
# ping, close 4000, permessage-deflate, 1007 and 1009, and SIGTERM -> 1001), and the release
# syncws-client under qemu sending two lines through it. Also checks the whole workspace with
# Debian's Rust 1.85 (rust-version). Prints a table of sizes and times, also written to
# target/cross/summary.md.
#   scripts/cross-test.sh [TARGETS]    TARGETS as for cross/build.sh (default: all)
# Installs what it needs itself (cross/setup.sh; the Python venv target/pyenv); run it as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/echo-server.sh
source cross/targets.sh
list=${1:-all}
bash cross/setup.sh

# rust-version = "1.85", checked for real: the whole workspace (all features, tests, examples,
# the bench tool and the tests' client) on the host with Debian's Rust 1.85.
(
  source cross/toolchain.sh
  echo "cross-test: cargo check with $($RUSTC --version)"
  CARGO_TARGET_DIR=$root/target/cross/host-1.85 $cargo check --locked --workspace --all-features --all-targets
)

python=$root/target/pyenv/bin/python
requirement=$(cat tests/peers/requirements.txt)
if ! "$python" -c "import websockets, sys; sys.exit(websockets.version.version != '${requirement#websockets==}')" 2>/dev/null; then
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q "$requirement"
fi

# Every target in one cargo run per step: the two cores stay busy while one target waits on a
# single-threaded step (its LTO link, core's one codegen unit).
seconds() { date +%s; }
t0=$(seconds)
bash cross/build.sh "$list" release
t1=$(seconds)
# The library's tests, by default on three boards that span what differs: 64-bit ARM, 32-bit
# ARM on the slowest CPU (ARMv6, where timing faults show first) and 32-bit big-endian MIPS
# with emulated 64-bit atomics. ARMv7 and little-endian MIPS share their word size, atomics and
# (but for byte order) code paths with ARMv6 and MIPS, and x86_64's code is the host's (glibc
# there); their binaries are still built and probed below. About 4 minutes less in CI than
# testing all five boards. An explicit TARGETS list tests every target in it.
tests_list=$list
[ "$list" = all ] && tests_list=aarch64,armv6,mips
# The min-size builds run beside the tests, at the lowest priority and in a build folder of
# their own (cargo locks a folder for one run; they share little with the release flavour
# anyway: their std is built with other features, and only the host's build scripts are
# compiled twice). The tests under qemu wait on sockets and timeouts much of the time, and the
# builds take what CPU they leave; at nice 19 they get little of a core that a test wants. A
# build that fails is reported once the tests are done.
min_log=$root/target/cross/min-size.log
min_pid=$root/target/cross/min-size.pid
mkdir -p "$root/target/cross"
# A run killed outright (SIGKILL) cannot stop its builds: the next run stops them first, so that
# they neither hold the folder's lock nor share the cores.
# (Only if that group still runs cross/build.sh: the number may have been reused since.)
if [ -s "$min_pid" ] && ps -o args= -g "$(cat "$min_pid")" 2>/dev/null | grep -q 'cross/build.sh'; then
  kill -- "-$(cat "$min_pid")" 2>/dev/null || true
fi
# setsid: a process group of their own (a non-interactive shell's background job is no group
# leader, so setsid does not fork and $! is the group's id), so that a failure below can stop
# cargo and rustc too.
CROSS_TARGET_DIR=$root/target/cross/build-min-size setsid nice -n 19 bash cross/build.sh "$list" min-size \
  >"$min_log" 2>&1 &
min_size=$!
echo "$min_size" >"$min_pid"
# Failed tests, or a signal, leave no build behind.
stop_min_size() { [ -z "${min_size:-}" ] || kill -- "-$min_size" 2>/dev/null || true; }
trap stop_min_size EXIT
trap 'stop_min_size; exit 1' INT TERM
bash cross/build.sh "$tests_list" test
t2=$(seconds)
wait "$min_size" || { cat "$min_log"; echo "cross-test: the min-size builds failed" >&2; exit 1; }
min_size=
rm -f "$min_pid"
trap - INT TERM
cat "$min_log"
t3=$(seconds)

# Runs the Python probe against one binary under qemu, and the board's syncws-client (if
# given, under qemu too) against it.
probe() {
  local bin=$1 client=$2 log out
  shift 2
  log=$(mktemp)
  out=$(mktemp)
  start_echo "$log" "$@" "$bin" --listen 127.0.0.1:0 --log-level info
  "$python" tests/peers/python_client.py echo "$ECHO_URL"
  "$python" tests/peers/python_client.py deflate "$ECHO_URL"
  "$python" tests/peers/python_client.py close_codes "$ECHO_URL"
  if [ -n "$client" ]; then
    local echoed
    echoed=$(printf 'one\ntwo\n' | timeout 60 "$@" "$client" "$ECHO_URL") || { echo "cross-test: $client failed" >&2; return 1; }
    [ "$echoed" = $'one\ntwo' ] || { echo "cross-test: $client printed: $echoed" >&2; return 1; }
    echo "client ok"
  fi
  # SIGTERM while a client is connected: it must see 1001, and the server must exit cleanly.
  "$python" tests/peers/python_client.py shutdown "$ECHO_URL" >"$out" 2>&1 &
  local client=$!
  for _ in $(seq 1 100); do grep -q waiting "$out" && break; sleep 0.1; done
  grep -q waiting "$out" || { echo "cross-test: the shutdown client did not get ready" >&2; cat "$out" >&2; return 1; }
  stop_echo
  ECHO_PID=
  wait "$client" || { cat "$out" >&2; return 1; }
  grep -q "shutdown ok" "$out" || { cat "$out" >&2; return 1; }
  echo "shutdown ok"
  rm -f "$log" "$out"
}

# A failed probe leaves no server behind.
trap '[ -z "${ECHO_PID:-}" ] || kill "$ECHO_PID" 2>/dev/null || true' EXIT
summary=$root/target/cross/summary.md
{
  echo "| target | flavour | bytes | libc | panic | probe |"
  echo "| --- | --- | ---: | --- | --- | --- |"
} >"$summary"
[ "$list" = all ] && list=$all_targets
for name in ${list//,/ }; do
  target_settings "$name" || exit 2
  t=$target
  read -r -a qemu <<<"$runner"
  for flavour in release min-size; do
    bin=target/cross/$t/$flavour/syncws-echo
    client=
    [ "$flavour" = release ] && client=target/cross/$t/$flavour/syncws-client
    echo "cross-test: probing $bin ${qemu[*]:+under ${qemu[*]}}"
    start=$(seconds)
    probe "$bin" "$client" "${qemu[@]}"
    panic=unwind
    [ "$flavour" = min-size ] && panic=abort
    echo "| $t | $flavour | $(stat -c %s "$bin") | musl, static | $panic | passed in $(($(seconds) - start)) s |" >>"$summary"
    if [ -n "$client" ]; then
      echo "| $t | $flavour, syncws-client | $(stat -c %s "$client") | musl, static | $panic | echoed through the board's server |" >>"$summary"
    fi
  done
done
t4=$(seconds)
{
  echo
  echo "Times: release builds $((t1 - t0)) s, tests (build and qemu runs) $((t2 - t1)) s," \
    "min-size builds after the tests $((t3 - t2)) s (they start with the tests), probes $((t4 - t3)) s."
} >>"$summary"
cat "$summary"
echo "cross-test: passed"
