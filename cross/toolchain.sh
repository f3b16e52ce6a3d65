# Sourced by the cross scripts: Debian's Rust 1.85 as cross/setup.sh unpacked it under
# target/cross/toolchain/, for this shell only. Sets $cargo, RUSTC, RUSTDOC and the library path
# rustc needs (its driver and LLVM-linked libraries live beside it, not in the system).
toolchain=${root:?}/target/cross/toolchain/usr
[ -x "$toolchain/bin/cargo" ] || { echo "cross: run cross/setup.sh first (no toolchain in $toolchain)" >&2; exit 1; }
export LD_LIBRARY_PATH=$toolchain/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTC=$toolchain/bin/rustc RUSTDOC=$toolchain/bin/rustdoc
export PATH=$toolchain/bin:$PATH
cargo=$toolchain/bin/cargo
