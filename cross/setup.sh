#!/usr/bin/env bash
# Sets up static cross builds of syncws for boards (cross/build.sh), with no rustup:
#   - Debian bookworm's own Rust 1.85 (rustc-web, cargo-web and their std, main suite) with the
#     standard library's source (rust-web-src), for -Zbuild-std: every target LLVM knows is then
#     reachable, tier 3 ones included. Downloaded with a private apt state and unpacked under
#     target/cross/toolchain/: nothing lands on PATH, so the user's own cargo and rustc stay.
#   - zig (which brings musl and the C runtime objects) and cargo-zigbuild, pinned, from PyPI
#     into a venv under target/cross/venv.
#   - system packages that put no compiler on PATH: qemu-user (tests and probes),
#     binutils-multiarch (readelf and objcopy for every target's ELF), python3-venv, and the shared libraries the toolchain
#     links against (LLVM 19, curl, ssh2, ...).
# Idempotent (each part has a stamp); run as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/cross
suite=bookworm
ziglang_version=0.17.1
zigbuild_version=0.24.1
export DEBIAN_FRONTEND=noninteractive

# The 1.85 toolchain from the main suite (the security suite may carry a newer one).
version=$(apt-cache madison rustc-web | awk -v s="$suite/main" '$0 ~ s { print $3; exit }')
if [ -z "$version" ]; then
  apt-get update -qq
  version=$(apt-cache madison rustc-web | awk -v s="$suite/main" '$0 ~ s { print $3; exit }')
fi
[ -n "$version" ] || { echo "cross: no rustc-web in $suite/main" >&2; exit 1; }
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

# The toolchain, from the main suite only, with a private apt state.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
state=$work/apt
mkdir -p "$state/lists/partial" "$state/debs"
echo "deb [arch=amd64] $mirror $suite main" >"$state/sources.list"
apt_private=(-o "APT::Sandbox::User=root" -o "Dir::State::Lists=$state/lists" -o "Dir::Etc::SourceList=$state/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null" -o "APT::Architectures::=amd64")
# Downloads package $1 (name:arch, arch `all` for sources) of $version into the private state;
# prints the .deb's path.
fetch() {
  local name=${1%:*} arch=${1#*:} deb spec=$1
  [ "$arch" = all ] && spec=$name
  deb=$(ls "$state/debs/${name}_$(echo "$version" | sed 's/:/%3a/')_$arch.deb" 2>/dev/null || true)
  if [ -z "$deb" ]; then
    [ -f "$state/updated" ] || { apt-get "${apt_private[@]}" update -qq; touch "$state/updated"; }
    (cd "$state/debs" && apt-get "${apt_private[@]}" download -q "$spec=$version" >&2)
    deb=$(ls "$state/debs/${name}_"*"_$arch.deb" | head -n1)
  fi
  echo "$deb"
}
toolchain=$work/toolchain
stamp="$version with rust-web-src"
if [ "$(cat "$toolchain/version" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$toolchain" && mkdir -p "$toolchain"
  for p in rustc-web cargo-web libstd-rust-web-1.85 libstd-rust-web-dev; do
    dpkg-deb -x "$(fetch "$p:amd64")" "$toolchain"
  done
  # The standard library's source, for -Zbuild-std.
  dpkg-deb -x "$(fetch rust-web-src:all)" "$toolchain"
  echo "$stamp" >"$toolchain/version"
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
echo "cross: ready (rustc $version in $toolchain; zig $ziglang_version, cargo-zigbuild $zigbuild_version in $venv)"
