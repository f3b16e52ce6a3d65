#!/usr/bin/env bash
# Runs the Autobahn|Testsuite (through kosoku, see ../shared/autobahn/README.md) against the
# release syncws-echo binary and fails on any FAILED case or unclean close.
# Usage: scripts/autobahn.sh [KOSOKU_ARGS...]   default: every case, 1.* to 13.* (517 cases; 12.* and
# 13.*, permessage-deflate, take about 4 minutes on 2 cores). E.g. -x '12.*' -x '13.*' for the core.
# Writes the report to target/autobahn-report/ and the verdict counts to its summary.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SYNCWS_SHARED:-$root/../shared}
venv=$root/target/autobahn
report=$root/target/autobahn-report
cd "$root"

if [ ! -x "$venv/bin/kosoku" ]; then
  [ -f "$shared/autobahn/install.sh" ] || { echo "autobahn: $shared/autobahn/install.sh not found (set SYNCWS_SHARED)" >&2; exit 1; }
  bash "$shared/autobahn/install.sh" "$venv"
fi

cargo build --release --features cli --bin syncws-echo
source "$root/scripts/echo-server.sh"
log=$(mktemp)
# Cases 9.* send up to 16 MiB messages: raise the limits above that.
start_echo "$log" target/release/syncws-echo --listen 127.0.0.1:0 --log-level info --ping-period 0 \
  --max-frame-size 20000000 --max-message-size 20000000
trap 'kill $ECHO_PID 2>/dev/null; wait $ECHO_PID 2>/dev/null; rm -f "$log"' EXIT
url=$ECHO_URL

args=("$@")
rm -rf "$report"
echo "autobahn: running kosoku ${args[*]:-(all cases)} against $url"
status=0
timeout 1500 "$venv/bin/kosoku" -o "$report" -p 2 ${args[@]+"${args[@]}"} "$url" >"$report.log" 2>&1 || status=$?
tail -n 2 "$report.log"

"$venv/bin/python" - "$report/index.json" <<'PY' | tee "$report/summary.txt"
import collections, json, sys
idx = json.load(open(sys.argv[1]))
cases = next(iter(idx.values()))
beh = collections.Counter(c["behavior"] for c in cases.values())
close = collections.Counter(c["behaviorClose"] for c in cases.values())
print(f"autobahn: {len(cases)} cases; behavior {dict(sorted(beh.items()))}; close {dict(sorted(close.items()))}")
bad = sorted(k for k, c in cases.items() if c["behavior"] in ("FAILED", "UNIMPLEMENTED")
             or c["behaviorClose"] not in ("OK", "INFORMATIONAL"))
if bad:
    print("autobahn: not passing:", " ".join(bad))
    sys.exit(1)
PY
[ "$status" -eq 0 ] || { echo "autobahn: kosoku exited $status"; exit "$status"; }
stop_echo
trap 'rm -f "$log"' EXIT
echo "autobahn: passed"
