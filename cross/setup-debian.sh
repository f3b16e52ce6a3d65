#!/usr/bin/env bash
# Sets up cross-compiling syncws for ARM boards with Debian bookworm's own Rust 1.85 (no rustup):
#   - host packages: rustc-web/cargo-web 1.85 (main suite), the gcc cross linkers, qemu-user;
#   - the Rust standard library for arm64 and armhf (libstd-rust-web-dev of the same version),
#     downloaded with a private apt state restricted to those architectures and unpacked under
#     target/cross/ (installing foreign packages with multiarch apt fails on version skew);
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
[ "$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)" = "$version" ] || need+=("rustc-web=$version" "cargo-web=$version" "libstd-rust-web-dev=$version")
for p in gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "cross: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

# The foreign standard libraries, from the main suite only, with a private apt state.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
state=$work/apt
mkdir -p "$state/lists/partial" "$state/debs"
echo "deb [arch=arm64,armhf] $mirror $suite main" >"$state/sources.list"
apt_private=(-o "APT::Sandbox::User=root" -o "Dir::State::Lists=$state/lists" -o "Dir::Etc::SourceList=$state/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
  -o "APT::Architectures::=armhf")
for arch in arm64 armhf; do
  deb=$(ls "$state/debs"/libstd-rust-web-dev_*_"$arch".deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ] || [[ "$deb" != *"$(echo "$version" | sed 's/:/%3a/')"* ]]; then
    [ -f "$state/updated" ] || { apt-get "${apt_private[@]}" update -qq; touch "$state/updated"; }
    (cd "$state/debs" && apt-get "${apt_private[@]}" download "libstd-rust-web-dev:$arch=$version")
    deb=$(ls "$state/debs"/libstd-rust-web-dev_*_"$arch".deb | head -n1)
  fi
  rm -rf "$work/std-$arch" && mkdir -p "$work/std-$arch"
  dpkg-deb -x "$deb" "$work/std-$arch"
done

# A sysroot of links: host std plus both ARM std libraries.
sysroot=$work/sysroot
rm -rf "$sysroot" && mkdir -p "$sysroot/lib/rustlib"
ln -s /usr/lib/rustlib/x86_64-unknown-linux-gnu "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu"
ln -s "$work/std-arm64/usr/lib/rustlib/aarch64-unknown-linux-gnu" "$sysroot/lib/rustlib/aarch64-unknown-linux-gnu"
ln -s "$work/std-armhf/usr/lib/rustlib/armv7-unknown-linux-gnueabihf" "$sysroot/lib/rustlib/armv7-unknown-linux-gnueabihf"
for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  [ -d "$sysroot/lib/rustlib/$t/lib" ] || { echo "cross: no std for $t in the downloaded package" >&2; exit 1; }
done
echo "cross: ready (rustc $version, sysroot $sysroot)"
