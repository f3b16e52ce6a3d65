#!/usr/bin/env bash
# ARM boards, tested: sets up Debian's cross toolchain (cross/setup-debian.sh), then for
# aarch64 and armv7 (hard float): builds syncws-echo, runs the library's tests under qemu, and
# runs the ARM echo binary under qemu against Python `websockets` on the host (text, binary,
# 1 MB, fragments, ping, close). Checks that 32-bit MIPS (no 64-bit atomics) compiles. Prints
# stripped sizes and needed glibc versions.
# Needs the venv made by the host tests (target/pyenv, from tests/python_peer.rs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/echo-server.sh
bash cross/setup-debian.sh
# rust-version = "1.85", checked: the whole workspace (all features, tests, examples, the bench
# tool and the tests' client) on the host with Debian's Rust 1.85.
(
  source cross/toolchain.sh
  echo "cross-test: cargo check with $($RUSTC --version)"
  CARGO_TARGET_DIR=$root/target/cross/host-1.85 $cargo check --locked --workspace --all-features --all-targets
  # 32-bit MIPS has no 64-bit atomics (portable-atomic stands in): the echo binary and the
  # library must still compile. Their std is built from source (-Zbuild-std, Debian's
  # rust-web-src; RUSTC_BOOTSTRAP lets the stable compiler take the flag).
  for target in mipsel-unknown-linux-musl mips-unknown-linux-musl; do
    echo "cross-test: cargo check for $target"
    RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$root/target/cross/check \
      $cargo check --locked -Zbuild-std=std,panic_abort --target "$target" --features cli --bin syncws-echo --lib
  done
)
python=$root/target/pyenv/bin/python
[ -x "$python" ] || { echo "cross-test: run the host tests first (they make target/pyenv)" >&2; exit 1; }
summary=$root/target/cross/summary.txt
: >"$summary"
for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  case $target in
    aarch64-*) qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu); objdump=aarch64-linux-gnu-objdump ;;
    armv7-*) qemu=(qemu-arm -L /usr/arm-linux-gnueabihf); objdump=arm-linux-gnueabihf-objdump ;;
  esac
  echo "cross-test: $target"
  cross/build.sh "$target"
  cross/build.sh "$target" test
  bin=target/cross/$target/syncws-echo
  log=$(mktemp)
  start_echo "$log" "${qemu[@]}" "$bin" --listen 127.0.0.1:0 --log-level info
  "$python" tests/peers/python_client.py echo "$ECHO_URL"
  stop_echo
  rm -f "$log"
  size=$(stat -c %s "$bin")
  glibc=$($objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
  echo "$target: syncws-echo $size bytes stripped, needs $glibc" | tee -a "$summary"
done
echo "cross-test: passed"
