#!/usr/bin/env bash
# Cross-builds syncws with Debian's Rust 1.85 and the sysroot made by cross/setup-debian.sh.
#   cross/build.sh <target>          release syncws-echo, stripped, in target/cross/<target>/
#   cross/build.sh <target> test     the library's tests under qemu (peers that need Python,
#                                    Node or a browser stay on the host)
#   cross/build.sh <target> cargo ARGS...   any cargo command for that target
# Targets: aarch64-unknown-linux-gnu, armv7-unknown-linux-gnueabihf.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: cross/build.sh <target> [test | cargo ARGS...]}
shift
sysroot=$root/target/cross/sysroot
[ -d "$sysroot/lib/rustlib/$target" ] || { echo "cross: run cross/setup-debian.sh first (no std for $target)" >&2; exit 1; }
case $target in
  aarch64-unknown-linux-gnu) strip=aarch64-linux-gnu-strip ;;
  armv7-unknown-linux-gnueabihf) strip=arm-linux-gnueabihf-strip ;;
  *) echo "cross: unsupported target $target" >&2; exit 1 ;;
esac
cd "$root"
# Debian's toolchain as unpacked by setup-debian.sh, not rustup's or any other on PATH; the
# sysroot only for the target (build scripts and proc macros still build for the host with the
# host's std).
source "$root/cross/toolchain.sh"
export CARGO_TARGET_DIR=$root/target/cross/build
upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${upper}_RUSTFLAGS=--sysroot $sysroot"

case ${1:-build} in
  build)
    $cargo build --release --locked --features cli --bin syncws-echo --target "$target"
    mkdir -p "target/cross/$target"
    $strip -o "target/cross/$target/syncws-echo" "$CARGO_TARGET_DIR/$target/release/syncws-echo"
    ls -l "target/cross/$target/syncws-echo"
    ;;
  test)
    $cargo test --locked --features json --target "$target" --lib \
      --test handshake --test protocol --test lifecycle --test raw --test broadcast --test deflate --test convert \
      --test direct_writes
    ;;
  cargo)
    shift
    $cargo "$@" --target "$target"
    ;;
  *) echo "cross: unknown command $1" >&2; exit 1 ;;
esac
