//! `AtomicU64` on every target. Millisecond clocks and ids are 64-bit, but 32-bit MIPS and
//! PowerPC have no 64-bit atomic instructions: there `portable-atomic` provides the type, with
//! a lock-based fallback, and everywhere else it is std's (the dependency is not even built).

#[cfg(target_has_atomic = "64")]
pub(crate) use std::sync::atomic::AtomicU64;

#[cfg(not(target_has_atomic = "64"))]
pub(crate) use portable_atomic::AtomicU64;
