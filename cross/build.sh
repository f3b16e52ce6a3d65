#!/usr/bin/env bash
# Static syncws-echo (and, in the release flavour, syncws-client) binaries for boards: musl, std
# built from source with Debian's Rust 1.85, linked by zig (cargo-zigbuild). Runs cross/setup.sh first, which installs what is missing
# (Debian packages, the toolchain under target/cross/, zig in a venv; pinned, idempotent).
#
#   cross/build.sh TARGETS [release]  unwinding kept: a panicking handler closes only its own
#                                     connection (1011)
#   cross/build.sh TARGETS min-size   panic = abort, the smallest binary
#   cross/build.sh TARGETS tls        both binaries with TLS (feature tls: rustls and ring, whose
#                                     C and assembly zig compiles), unwinding kept; the `tls`
#                                     profile (release's settings, its own folder). Not in CI:
#                                     the tests above run the TLS code on every target.
#   cross/build.sh TARGETS test       the library's tests under qemu-user (those that need no
#                                     peer on the host), sharing the release flavour's std
#   cross/build.sh TARGET cargo ARGS  any cargo command with this target's settings
#
# A binary lands at target/cross/TARGET/FLAVOUR/BINARY (TARGET as a triple), stripped,
# after a check that it is statically linked (no program interpreter, no NEEDED entries) and
# within its size budget. TARGETS is a triple or a short name, a comma-separated list of them,
# or `all`; several targets build in one cargo run, which keeps both cores busy.
# The targets and their settings are in cross/targets.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: cross/build.sh TARGETS [release | min-size | tls | test | cargo ARGS...]"
list=${1:?$usage}
shift
source "$root/cross/targets.sh"
[ "$list" = all ] && list=$all_targets

# Size budgets in KiB, stripped: release 800 everywhere; min-size 384, or 512 on MIPS (MIPS32
# code is about a third larger); tls 2048, or 2560 on MIPS.
budget() {
  case $1/$2 in
    */release) echo 800 ;;
    mips*/tls) echo 2560 ;;
    */tls) echo 2048 ;;
    mips*/min-size) echo 512 ;;
    *) echo 384 ;;
  esac
}

cd "$root"
# Installs what is missing (idempotent, a second or two when all is there; apt needs root).
bash "$root/cross/setup.sh"
source "$root/cross/toolchain.sh"
venv=$root/target/cross/venv
# cargo-zigbuild (build, test, ...) runs $CARGO, and finds zig through the venv's python (the
# ziglang package).
export PATH=$venv/bin:$PATH CARGO=$cargo
# -Zbuild-std on the stable 1.85 compiler: RUSTC_BOOTSTRAP lets it take the unstable flags, and
# Debian's rust-web-src (unpacked by setup.sh) is the source it builds.
export RUSTC_BOOTSTRAP=1
# Global rustc flags would override the per-target ones below (and drop the MIPS relocation
# model, whose binaries would then crash at startup).
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
# CROSS_TARGET_DIR: another build folder (to time a cold build beside a warm one).
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-$root/target/cross/build}
# zig builds musl and its C runtime for each target on first use (about a minute): kept here.
export ZIG_GLOBAL_CACHE_DIR=$root/target/cross/zig-cache

# Per target: rustc flags and how its tests run (qemu-user, binfmt not assumed).
targets=()
target_args=()
for name in ${list//,/ }; do
  target_settings "$name" || exit 2
  t=$target
  upper=$(echo "$t" | tr 'a-z-' 'A-Z_')
  # zig brings musl and the C runtime objects; rustc must not look for its own (none here).
  export "CARGO_TARGET_${upper}_RUSTFLAGS=-C link-self-contained=no${extra:+ $extra}"
  [ -z "$runner" ] || export "CARGO_TARGET_${upper}_RUNNER=$runner"
  targets+=("$t")
  target_args+=(--target "$t")
done

std=(-Zbuild-std=std,panic_abort)
# std's features for the release flavour and the tests (which share its build): unwinding and
# std's defaults (runtime CPU feature detection), but not "backtrace", which cargo adds by
# default: the binaries are stripped, so a backtrace could not name a function anyway, and
# leaving the symbolizer out (addr2line, gimli, object, miniz_oxide) saves 100 to 350 KiB.
std_release=(-Zbuild-std-features=panic-unwind,default)
# min-size: panic_immediate_abort leaves out std's panic machinery (messages, formatting);
# optimize_for_size picks std's smaller algorithms (sorting, ...).
std_min=(-Zbuild-std-features=panic_immediate_abort,optimize_for_size)

# Fails unless $1 is a static, stripped executable. readelf's output is taken whole first, so
# that a readelf failure fails the check instead of passing it.
check_static() {
  local bin=$1 program dynamic sections
  program=$(readelf -lW "$bin") || return 1
  dynamic=$(readelf -dW "$bin") || return 1
  sections=$(readelf -SW "$bin") || return 1
  if grep -q 'INTERP' <<<"$program"; then
    echo "cross: $bin asks for a program interpreter (not static)" >&2; return 1
  fi
  if grep -q '(NEEDED)' <<<"$dynamic"; then
    echo "cross: $bin needs shared libraries:" >&2; grep NEEDED <<<"$dynamic" >&2; return 1
  fi
  if grep -q ' \.symtab ' <<<"$sections"; then
    echo "cross: $bin is not stripped" >&2; return 1
  fi
}

flavour=${1:-release}
case $flavour in
  release)
    bins=(syncws-echo syncws-client)
    cargo-zigbuild build --locked --release "${std[@]}" "${std_release[@]}" --features cli --bin syncws-echo \
      --bin syncws-client "${target_args[@]}"
    ;;
  tls)
    bins=(syncws-echo syncws-client)
    cargo-zigbuild build --locked --profile tls "${std[@]}" "${std_release[@]}" --features cli,tls --bin syncws-echo \
      --bin syncws-client "${target_args[@]}"
    ;;
  min-size)
    bins=(syncws-echo)
    cargo-zigbuild build --locked --profile min-size "${std[@]}" "${std_min[@]}" --features cli --bin syncws-echo \
      "${target_args[@]}"
    ;;
  test)
    # The release profile, so that the tests share std and the dependencies with the release
    # binary. Unit tests and tests/library (one binary: each link is a whole-program LTO).
    # Symbolizing a backtrace under qemu takes seconds, longer than the tests' read timeouts;
    # the panics that tests provoke on purpose print their message only.
    RUST_BACKTRACE=0 cargo-zigbuild test --locked --release --no-fail-fast "${std[@]}" "${std_release[@]}" \
      --features json,tls --lib --test library "${target_args[@]}"
    exit
    ;;
  cargo)
    shift
    sub=${1:?$usage}
    shift
    cargo-zigbuild "$sub" "${std[@]}" "${target_args[@]}" "$@"
    exit
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

for t in "${targets[@]}"; do
  out=target/cross/$t/$flavour
  mkdir -p "$out"
  for bin in "${bins[@]}"; do
    # The profiles strip at link time (strip = true). MIPS objects also carry .pdr, procedure
    # descriptors for debuggers that the linker's strip keeps (90 KiB): removed, as OpenWrt's
    # strip does.
    objcopy --remove-section=.pdr "$CARGO_TARGET_DIR/$t/$flavour/$bin" "$out/$bin"
    check_static "$out/$bin"
    size=$(stat -c %s "$out/$bin")
    budget=$(budget "$t" "$flavour")
    if [ "$size" -gt $((budget * 1024)) ]; then
      echo "cross: $out/$bin is $size bytes, over its budget of $budget KiB" >&2
      exit 1
    fi
    echo "cross: $out/$bin $size bytes (budget $budget KiB), static"
  done
done
