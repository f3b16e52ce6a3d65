#!/usr/bin/env bash
# Sets up static cross builds of syncws for boards (cross/build.sh), with no rustup:
#   - Debian bookworm's own Rust 1.85 (rustc-web, cargo-web and their std, main suite) with the
#     standard library's source (rust-web-src), for -Zbuild-std: every target LLVM knows is then
#     reachable, tier 3 ones included. Downloaded with a private apt state and unpacked under
#     target/cross/toolchain/: nothing lands on PATH, so the user's own cargo and rustc stay.
#   - zig (which brings musl and the C runtime objects) and cargo-zigbuild, pinned, from PyPI
#     into a venv under target/cross/venv.
#   - system packages (no Rust compiler among them): qemu-user (tests and probes),
#     binutils-multiarch (readelf and objcopy for every target's ELF), python3-venv, gcc (links
#     the host's build scripts), and the shared libraries the toolchain links against (LLVM 19,
#     curl, ssh2, ...).
# Idempotent (each part has a stamp); run as root.
set -euo pipefail
shopt -s inherit_errexit
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/cross
suite=bookworm
ziglang_version=0.17.1
zigbuild_version=0.24.1
export DEBIAN_FRONTEND=noninteractive

need=()
# What the toolchain links against and runs: no cargo or rustc. gcc links the host's build
# scripts and proc macros.
for p in qemu-user binutils-multiarch python3-venv gcc libc6-dev libllvm19 \
  libcurl4 libhttp-parser2.9 libpcre3 libsqlite3-0 libssh2-1 libssl3 zlib1g; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "cross: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

# The toolchain: Rust 1.85 as bookworm's main suite carries it. The upstream version is pinned;
# the Debian revision is whichever main has (Debian replaces it for fixes and keeps only the
# latest), and the stamp records it. Nothing is downloaded while the stamp matches.
rust_upstream=1.85
toolchain=$work/toolchain
if ! grep -q "^$rust_upstream\..* with rust-web-src\$" "$toolchain/version" 2>/dev/null; then
  # A private apt state that sees bookworm main only, from the machine's own mirror.
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
  state=$work/apt
  rm -rf "$state" && mkdir -p "$state/lists/partial" "$state/debs"
  echo "deb [arch=amd64] $mirror $suite main" >"$state/sources.list"
  apt_private=(-o "APT::Sandbox::User=root" -o "Dir::State::Lists=$state/lists"
    -o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "APT::Architectures::=amd64")
  apt-get "${apt_private[@]}" update -qq
  version=$(apt-cache "${apt_private[@]}" madison rustc-web | awk '{ print $3; exit }')
  case $version in
    "$rust_upstream".*) ;;
    *) echo "cross: $suite main has rustc-web '$version', not $rust_upstream" >&2; exit 1 ;;
  esac
  # The compiler, cargo, the host's std, and the standard library's source (for -Zbuild-std).
  (cd "$state/debs" && apt-get "${apt_private[@]}" download -q "rustc-web=$version" "cargo-web=$version" \
    "libstd-rust-web-$rust_upstream=$version" "libstd-rust-web-dev=$version" "rust-web-src=$version")
  rm -rf "$toolchain" && mkdir -p "$toolchain"
  for deb in "$state/debs"/*.deb; do
    dpkg-deb -x "$deb" "$toolchain"
  done
  echo "$version with rust-web-src" >"$toolchain/version"
fi
LD_LIBRARY_PATH=$toolchain/usr/lib/x86_64-linux-gnu "$toolchain/usr/bin/rustc" --version >/dev/null ||
  { echo "cross: the unpacked toolchain does not run" >&2; exit 1; }
[ -f "$toolchain/usr/lib/rustlib/src/rust/library/Cargo.lock" ] ||
  { echo "cross: rust-web-src did not unpack the standard library's source" >&2; exit 1; }

# zig and cargo-zigbuild, pinned, in their own venv.
venv=$work/venv
pins="ziglang==$ziglang_version cargo-zigbuild==$zigbuild_version"
if [ "$(cat "$venv/pins" 2>/dev/null)" != "$pins" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $pins
  echo "$pins" >"$venv/pins"
fi
"$venv/bin/python" -m ziglang version >/dev/null || { echo "cross: zig does not run" >&2; exit 1; }
# Old layouts of this directory (the glibc route of earlier versions) are not used any more.
rm -rf "$work/sysroot" "$work/std-arm64" "$work/std-armhf"
echo "cross: ready (rustc $(cut -d' ' -f1 "$toolchain/version") in $toolchain; zig $ziglang_version, cargo-zigbuild $zigbuild_version in $venv)"
