# Sourced by cross/build.sh and scripts/cross-test.sh: the board targets, one place.
#   x86_64  x86_64-unknown-linux-musl        PCs, x86 boards
#   aarch64 aarch64-unknown-linux-musl       64-bit ARM (Raspberry Pi 3/4/5 64-bit, Jetson)
#   armv7   armv7-unknown-linux-musleabihf   32-bit ARMv7 with hard float (Pi 2/3/4 32-bit, BeagleBone)
#   armv6   arm-unknown-linux-musleabihf     ARMv6 with hard float (Pi 1, Pi Zero)
#   mipsel  mipsel-unknown-linux-musl        little-endian MIPS32 routers (OpenWrt ramips, ...)
#   mips    mips-unknown-linux-musl          big-endian MIPS32 routers (OpenWrt ath79, ...)
all_targets=x86_64,aarch64,armv7,armv6,mipsel,mips

# Sets target (the triple), runner (how its programs run here: qemu-user, binfmt not assumed;
# empty for x86_64) and extra (its rustc flags) for a short name or a triple; fails on others.
target_settings() {
  extra=
  case $1 in
    x86_64 | x86_64-unknown-linux-musl) target=x86_64-unknown-linux-musl runner= ;;
    aarch64 | aarch64-unknown-linux-musl) target=aarch64-unknown-linux-musl runner=qemu-aarch64 ;;
    # Thumb-2 code, as Debian and Raspberry Pi OS compile for ARMv7: a quarter smaller than
    # ARM code (every ARMv7-A CPU runs it). rustc warns that `thumb-mode` is not a stable
    # target feature; LLVM honours it, and the tests run in Thumb-2 under qemu.
    armv7 | armv7-unknown-linux-musleabihf)
      target=armv7-unknown-linux-musleabihf runner=qemu-arm extra="-C target-feature=+thumb-mode" ;;
    # The Pi 1's CPU, so that an ARMv7 instruction would fault instead of passing.
    armv6 | arm-unknown-linux-musleabihf) target=arm-unknown-linux-musleabihf runner="qemu-arm -cpu arm1176" ;;
    # A static-pie MIPS binary linked by zig crashed at startup under qemu; a position-dependent
    # static executable is what OpenWrt's own toolchain makes, and it works.
    mipsel | mipsel-unknown-linux-musl)
      target=mipsel-unknown-linux-musl runner=qemu-mipsel extra="-C relocation-model=static" ;;
    mips | mips-unknown-linux-musl) target=mips-unknown-linux-musl runner=qemu-mips extra="-C relocation-model=static" ;;
    *) echo "cross: unsupported target $1 (see cross/targets.sh)" >&2; return 2 ;;
  esac
}
