//! The library's own tests over loopback sockets, with the raw test client and no outside
//! peer: one test binary, so that it links once (cheaper on the host, and much cheaper for the
//! board targets, where every test binary is a whole-program LTO link; see cross/README.md).
//! The tests that need Python, Node, a browser, the echo binary or process-wide limits stay in
//! their own binaries beside this folder.

#[path = "../support/mod.rs"]
mod support;

mod broadcast;
mod client;
mod convert;
mod deflate;
mod direct_writes;
mod fuzz_regressions;
mod handshake;
mod lifecycle;
mod protocol;
mod raw;
#[cfg(feature = "tls")]
mod tls;
mod write_loop_on_demand;
