#!/usr/bin/env bash
# Runs the fuzz targets of fuzz/ (cargo fuzz, libFuzzer with AddressSanitizer and
# LeakSanitizer) for SECONDS each, one after another, and fails on any crash, leak, timeout
# or out-of-memory input. See docs/RELIABILITY.md, "Fuzzing".
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS defaults to 60; the targets default to all of them (frames, request_head,
#   extension_offer, inflate, response_head).
#   Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz from crates.io into
#   target/tools the first time (a few minutes), then builds the targets into target/fuzz.
#   Each target starts from its committed seeds (fuzz/corpus/TARGET) and its regression
#   inputs (fuzz/regressions/TARGET), copied to a working corpus in target/fuzz-corpus/TARGET
#   that runs add to (the committed seeds never change). A failing input is saved in
#   target/fuzz-artifacts/TARGET/ and the run's log in target/fuzz-logs/TARGET.log.
#   Env: FUZZ_NICE (nice level, default 0), FUZZ_RSS_MB (libFuzzer -rss_limit_mb, default
#   1024), FUZZ_MALLOC_MB (-malloc_limit_mb: the largest single allocation, default 4; the
#   targets' limits are at most 64 KiB).
# Prints per target: seconds, executions, crashes; exits 1 if any target failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
all=(frames request_head extension_offer inflate response_head mqtt_stream)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
case $seconds in *[!0-9]* | '') echo "fuzz.sh: SECONDS must be a number (got '$seconds')" >&2; exit 2 ;; esac

tools=$root/target/tools
export PATH=$tools/bin:$PATH
export CARGO_TARGET_DIR=$root/target/fuzz
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
    echo "fuzz.sh: installing cargo-fuzz into $tools"
    cargo install cargo-fuzz --locked --root "$tools"
fi

cd "$root"
# A panic's own backtrace allocates megabytes (debug info) and would be reported as an
# out-of-memory input; libFuzzer prints the stack of the failure anyway.
export RUST_BACKTRACE=0
# Release with debug assertions and overflow checks (-a), AddressSanitizer (cargo fuzz's
# default); one build for every target.
build_flags=(--release --debug-assertions)
echo "fuzz.sh: building the targets (nightly, ASan) into $CARGO_TARGET_DIR"
build=(nice -n "${FUZZ_NICE:-0}" cargo +nightly fuzz build "${build_flags[@]}")
if [ ${#targets[@]} -eq ${#all[@]} ]; then
    "${build[@]}"
else
    for t in "${targets[@]}"; do "${build[@]}" "$t"; done
fi

failed=0
summary=()
for t in "${targets[@]}"; do
    [ -d "fuzz/corpus/$t" ] || { echo "fuzz.sh: no target $t (no fuzz/corpus/$t)" >&2; exit 2; }
    work=$root/target/fuzz-corpus/$t
    artifacts=$root/target/fuzz-artifacts/$t
    logs=$root/target/fuzz-logs
    mkdir -p "$work" "$artifacts" "$logs"
    cp -n "fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
    [ -d "fuzz/regressions/$t" ] && cp -n "fuzz/regressions/$t"/* "$work"/ 2>/dev/null || true
    dict=()
    [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="$root/fuzz/dicts/$t.dict")
    before=$(find "$artifacts" -type f | wc -l)
    log=$logs/$t.log
    echo "fuzz.sh: $t for ${seconds}s (log: $log)"
    start=$(date +%s)
    set +e
    nice -n "${FUZZ_NICE:-0}" cargo +nightly fuzz run "${build_flags[@]}" "$t" "$work" -- \
        -max_total_time="$seconds" -timeout=10 -max_len=4096 \
        -rss_limit_mb="${FUZZ_RSS_MB:-1024}" -malloc_limit_mb="${FUZZ_MALLOC_MB:-4}" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
    rc=$?
    set -e
    # libFuzzer's own count of the time it fuzzed (the wall clock includes a rebuild, if any).
    elapsed=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' "$log" | tail -1)
    [ -n "$elapsed" ] || elapsed=$(($(date +%s) - start))
    execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    crashes=$(($(find "$artifacts" -type f | wc -l) - before))
    line="$t: ${elapsed} s, ${execs} executions, ${crashes} crashes (exit $rc)"
    summary+=("$line")
    echo "fuzz.sh: $line"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        grep -E 'ERROR|panicked|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
    fi
done
echo "fuzz.sh: summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"
