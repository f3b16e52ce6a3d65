# Sourced by the test scripts: starts syncws-echo in the background and finds its address.
# Usage: start_echo LOG COMMAND...   sets ECHO_PID and ECHO_URL (ws://127.0.0.1:PORT/echo);
# the command must include --listen 127.0.0.1:0. Fails after 10 s without a listening line.
start_echo() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  ECHO_PID=$!
  ECHO_URL=
  for _ in $(seq 1 100); do
    ECHO_URL=$(grep -o 'wss\?://127.0.0.1:[0-9]*/echo' "$log" | head -n1 || true)
    [ -n "$ECHO_URL" ] && return 0
    sleep 0.1
  done
  echo "echo server did not start: $*" >&2
  cat "$log" >&2
  kill "$ECHO_PID" 2>/dev/null
  return 1
}

# Stops the server with SIGTERM; fails unless it exits cleanly (it sends 1001 to its clients).
stop_echo() {
  kill -TERM "$ECHO_PID"
  wait "$ECHO_PID" || { echo "echo server did not exit cleanly on SIGTERM" >&2; return 1; }
}
