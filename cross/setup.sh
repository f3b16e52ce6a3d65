#!/usr/bin/env bash
# Sets up cross-compiling syncws for ARM boards with Debian bookworm's own Rust 1.85 (no rustup):
#   - the toolchain, rustc-web and cargo-web 1.85 (main suite) with their standard library and
#     its source (rust-web-src, for targets whose std is built with -Zbuild-std),
#     downloaded with a private apt state and unpacked under target/cross/toolchain/: nothing
#     lands on PATH, so the user's own cargo and rustc stay what they were;
#   - system packages that put no compiler on PATH: the gcc cross linkers, qemu-user, and the
#     shared libraries the toolchain links against (LLVM 19, curl, ssh2, ...);
#   - the Rust standard library for arm64 and armhf (libstd-rust-web-dev of the same version),
#     unpacked the same way (installing foreign packages with multiarch apt fails on version
#     skew);
#   - a sysroot of links, target/cross/sysroot, holding the host's and both ARM std libraries.
# Idempotent; run as root. Then: cross/build.sh <target> (see cross/README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/cross
suite=bookworm
export DEBIAN_FRONTEND=noninteractive

# The 1.85 toolchain from the main suite (the security suite may carry a newer one).
version=$(apt-cache madison rustc-web | awk -v s="$suite/main" '$0 ~ s { print $3; exit }')
if [ -z "$version" ]; then
  apt-get update -qq
  version=$(apt-cache madison rustc-web | awk -v s="$suite/main" '$0 ~ s { print $3; exit }')
fi
[ -n "$version" ] || { echo "cross: no rustc-web in $suite/main" >&2; exit 1; }
need=()
# What the toolchain links against and runs (libraries, linkers, qemu): no cargo or rustc.
for p in gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user gcc libc6-dev binutils libllvm19 \
  libcurl4 libhttp-parser2.9 libpcre3 libsqlite3-0 libssh2-1 libssl3 zlib1g; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "cross: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

# The toolchain and the foreign standard libraries, from the main suite only, with a private
# apt state.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
state=$work/apt
mkdir -p "$state/lists/partial" "$state/debs"
echo "deb [arch=amd64,arm64,armhf] $mirror $suite main" >"$state/sources.list"
apt_private=(-o "APT::Sandbox::User=root" -o "Dir::State::Lists=$state/lists" -o "Dir::Etc::SourceList=$state/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
  -o "APT::Architectures::=armhf")
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
  # The standard library's source, for targets built with -Zbuild-std (no prebuilt std).
  dpkg-deb -x "$(fetch rust-web-src:all)" "$toolchain"
  echo "$stamp" >"$toolchain/version"
fi
for arch in arm64 armhf; do
  rm -rf "$work/std-$arch" && mkdir -p "$work/std-$arch"
  dpkg-deb -x "$(fetch "libstd-rust-web-dev:$arch")" "$work/std-$arch"
done

# A sysroot of links: host std plus both ARM std libraries.
sysroot=$work/sysroot
rm -rf "$sysroot" && mkdir -p "$sysroot/lib/rustlib"
ln -s "$toolchain/usr/lib/rustlib/x86_64-unknown-linux-gnu" "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu"
ln -s "$work/std-arm64/usr/lib/rustlib/aarch64-unknown-linux-gnu" "$sysroot/lib/rustlib/aarch64-unknown-linux-gnu"
ln -s "$work/std-armhf/usr/lib/rustlib/armv7-unknown-linux-gnueabihf" "$sysroot/lib/rustlib/armv7-unknown-linux-gnueabihf"
for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  [ -d "$sysroot/lib/rustlib/$t/lib" ] || { echo "cross: no std for $t in the downloaded package" >&2; exit 1; }
done
LD_LIBRARY_PATH=$toolchain/usr/lib/x86_64-linux-gnu "$toolchain/usr/bin/rustc" --version >/dev/null ||
  { echo "cross: the unpacked toolchain does not run" >&2; exit 1; }
echo "cross: ready (rustc $version in $toolchain, sysroot $sysroot)"
