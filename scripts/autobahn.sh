#!/usr/bin/env bash
# Runs the Autobahn|Testsuite (through kosoku, see ../shared/autobahn/README.md) and fails on
# any FAILED or UNIMPLEMENTED case or unclean close.
#
# Usage: [DEFLATE_LEVEL=N] scripts/autobahn.sh [KOSOKU_ARGS...]
#   The server: the release syncws-echo binary, every case 1.* to 13.* by default (517 cases;
#   12.* and 13.*, permessage-deflate, take about 4 minutes on 2 cores). E.g. -x '12.*' -x '13.*'
#   for the core. The server compresses at DEFLATE_LEVEL, 1 by default, as the client below:
#   zlib's level 6 (the library's default, which the peer tests of `cargo test` use) takes the
#   server about 3 times the CPU of level 1 on 12.3.* (text), and no verdict depends on it.
#   Report in target/autobahn-report/, verdict counts in its summary.txt.
# Usage: scripts/autobahn.sh --install   installs kosoku into target/autobahn and exits.
# Usage: [DEFLATE_LEVEL=N] scripts/autobahn.sh --client [KOSOKU_ARGS...]
#   The client: the release syncws-client binary (--echo) against kosoku's fuzzingserver, every
#   case by default. A fuzzingserver runs its cases one after another, so three run side by
#   side: the core cases, and the permessage-deflate cases 12.* and 13.* split in two halves of
#   about equal time (with KOSOKU_ARGS, one runs them all). The client compresses at
#   DEFLATE_LEVEL, 1 by default: the cases' verdicts do not depend on the level, and at the
#   library's default of 6 the client spends 2.5 times the CPU on the incompressible cases
#   (the whole run takes about 11 minutes instead of 5 here; DEFLATE_LEVEL=6 runs it so).
#   Reports in target/autobahn-client-report/GROUP/, counts in its summary.txt.
# Usage: scripts/autobahn.sh --tls [KOSOKU_ARGS...]
#        scripts/autobahn.sh --client --tls [KOSOKU_ARGS...]
#   The same over TLS, cases 1.* to 10.* by default. kosoku has no TLS of its own, so a
#   TLS-terminating proxy (tests/peers/tls_proxy.py, Python's ssl) sits beside it: kosoku ->
#   proxy -> wss:// server, or wss:// client -> proxy -> fuzzingserver. Every case then runs
#   over syncws's TLS stream on the syncws side. Reports in target/autobahn-tls-report/ and
#   target/autobahn-client-tls-report/.
# The binaries are built with `--features cli,tls` in every mode, so that runs side by side share
# one build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SYNCWS_SHARED:-$root/../shared}
venv=$root/target/autobahn
cd "$root"

if [ ! -x "$venv/bin/kosoku" ]; then
  [ -f "$shared/autobahn/install.sh" ] || { echo "autobahn: $shared/autobahn/install.sh not found (set SYNCWS_SHARED)" >&2; exit 1; }
  bash "$shared/autobahn/install.sh" "$venv"
fi
# --install: only the above (so that two runs side by side do not both install).
[ "${1:-}" = "--install" ] && exit 0
client_mode=
tls=
while [ $# -gt 0 ]; do
  case $1 in
    --client) client_mode=1 ;;
    --tls) tls=1 ;;
    *) break ;;
  esac
  shift
done
features=cli,tls
# The TLS proxy: start_proxy MODE TARGET_PORT sets PROXY_PORT (and PROXY_PID).
start_proxy() {
  local out
  out=$(mktemp)
  python3 tests/peers/tls_proxy.py "$1" "$2" >"$out" 2>&1 &
  PROXY_PID=$!
  PROXY_PORT=
  for _ in $(seq 1 100); do
    PROXY_PORT=$(sed -n 's/^listening //p' "$out")
    [ -n "$PROXY_PORT" ] && break
    sleep 0.1
  done
  rm -f "$out"
  [ -n "$PROXY_PORT" ] || { echo "autobahn: the TLS proxy did not start" >&2; return 1; }
}

# Prints the verdict counts of the reports (index.json files) given and fails on a case that
# does not pass.
summarize() {
  "$venv/bin/python" - "$@" <<'PY'
import collections, json, sys
cases = {}
for path in sys.argv[1:]:
    idx = json.load(open(path))
    cases.update(next(iter(idx.values())))
beh = collections.Counter(c["behavior"] for c in cases.values())
close = collections.Counter(c["behaviorClose"] for c in cases.values())
print(f"autobahn: {len(cases)} cases; behavior {dict(sorted(beh.items()))}; close {dict(sorted(close.items()))}")
bad = sorted(k for k, c in cases.items() if c["behavior"] in ("FAILED", "UNIMPLEMENTED")
             or c["behaviorClose"] not in ("OK", "INFORMATIONAL"))
if bad:
    print("autobahn: not passing:", " ".join(bad))
    sys.exit(1)
PY
}

# One fuzzingserver and the client through its cases: run_client_group NAME [KOSOKU_ARGS...]
run_client_group() {
  local name=$1
  shift
  local client=target/release/syncws-client
  local port
  port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local base="ws://127.0.0.1:$port"
  "$venv/bin/kosoku" -m fuzzingserver -o "$report/$name" "$@" "127.0.0.1:$port" >"$report/$name.log" 2>&1 &
  local kosoku=$!
  local tls_args=()
  if [ -n "$tls" ]; then
    start_proxy from-tls "$port"
    base="wss://127.0.0.1:$PROXY_PORT"
    tls_args=(--ca tests/certs/ca.pem)
  fi
  local count=
  for _ in $(seq 1 100); do
    count=$("$client" ${tls_args[@]+"${tls_args[@]}"} --listen "$base/getCaseCount" 2>/dev/null || true)
    [ -n "$count" ] && break
    sleep 0.1
  done
  [ -n "$count" ] || { echo "autobahn: the fuzzingserver for $name did not start" >&2; cat "$report/$name.log" >&2; kill "$kosoku"; return 1; }
  echo "autobahn: client, $name: $count cases"
  # Cases 9.* send up to 16 MiB; a case the client fails on purpose (bad frames) exits 3.
  for case in $(seq 1 "$count"); do
    timeout 120 "$client" ${tls_args[@]+"${tls_args[@]}"} --echo --ping-period 0 --max-message-size 20M --deflate-level "${DEFLATE_LEVEL:-1}" \
      "$base/runCase?case=$case&agent=syncws" 2>>"$report/$name.client.log" || true
  done
  "$client" ${tls_args[@]+"${tls_args[@]}"} --listen "$base/updateReports?agent=syncws" 2>>"$report/$name.client.log" || true
  timeout 60 tail --pid="$kosoku" -f /dev/null || { kill "$kosoku"; echo "autobahn: $name did not write its report" >&2; return 1; }
  [ -z "$tls" ] || kill "$PROXY_PID" 2>/dev/null || true
  tail -n 1 "$report/$name.log"
}

if [ -n "$client_mode" ]; then
  report=$root/target/autobahn-client${tls:+-tls}-report
  rm -rf "$report"
  mkdir -p "$report"
  cargo build --release --features "$features" --bin syncws-client
  started=$SECONDS
  if [ -n "$tls" ]; then
    if [ $# -gt 0 ]; then run_client_group all "$@"; else run_client_group core -x '12.*' -x '13.*'; fi
  elif [ $# -gt 0 ]; then
    run_client_group all "$@"
  else
    run_client_group core -x '12.*' -x '13.*' &
    core=$!
    # Halves of about equal time (at level 1: 12.2 98 s, 12.4 32 s, 13.1 to 13.5 107 s; 12.1
    # 30 s, 12.3 86 s, 12.5 77 s, 13.6 and 13.7 38 s).
    run_client_group deflate-a -i '12.2.*' -i '12.4.*' -i '13.1.*' -i '13.2.*' -i '13.3.*' -i '13.4.*' -i '13.5.*' &
    half_a=$!
    run_client_group deflate-b -i '12.1.*' -i '12.3.*' -i '12.5.*' -i '13.6.*' -i '13.7.*' &
    half_b=$!
    status=0
    for group in "$core" "$half_a" "$half_b"; do
      wait "$group" || status=$?
    done
    [ "$status" -eq 0 ] || exit "$status"
  fi
  summarize "$report"/*/index.json | tee "$report/summary.txt"
  echo "autobahn: client${tls:+ over TLS} passed in $((SECONDS - started)) s"
  exit 0
fi

report=$root/target/autobahn${tls:+-tls}-report

cargo build --release --features "$features" --bin syncws-echo
source "$root/scripts/echo-server.sh"
log=$(mktemp)
tls_flags=()
[ -z "$tls" ] || tls_flags=(--tls-cert tests/certs/server.pem --tls-key tests/certs/server.key)
# Cases 9.* send up to 16 MiB messages: raise the limits above that.
start_echo "$log" target/release/syncws-echo --listen 127.0.0.1:0 --log-level info --ping-period 0 \
  --max-frame-size 20000000 --max-message-size 20000000 --deflate-level "${DEFLATE_LEVEL:-1}" \
  ${tls_flags[@]+"${tls_flags[@]}"}
trap 'kill $ECHO_PID 2>/dev/null; wait $ECHO_PID 2>/dev/null; rm -f "$log"' EXIT
url=$ECHO_URL
args=("$@")
if [ -n "$tls" ]; then
  port=${url#*127.0.0.1:}
  port=${port%%/*}
  start_proxy to-tls "$port"
  trap 'kill $ECHO_PID $PROXY_PID 2>/dev/null; wait $ECHO_PID 2>/dev/null; rm -f "$log"' EXIT
  url="ws://127.0.0.1:$PROXY_PORT/echo"
  [ ${#args[@]} -gt 0 ] || args=(-x '12.*' -x '13.*')
fi

rm -rf "$report"
echo "autobahn: running kosoku ${args[*]:-(all cases)} against $url"
started=$SECONDS
status=0
timeout 1500 "$venv/bin/kosoku" -o "$report" -p 2 ${args[@]+"${args[@]}"} "$url" >"$report.log" 2>&1 || status=$?
tail -n 2 "$report.log"

summarize "$report/index.json" | tee "$report/summary.txt"
[ "$status" -eq 0 ] || { echo "autobahn: kosoku exited $status"; exit "$status"; }
stop_echo
[ -z "$tls" ] || kill "$PROXY_PID" 2>/dev/null || true
trap 'rm -f "$log"' EXIT
echo "autobahn: passed in $((SECONDS - started)) s"
