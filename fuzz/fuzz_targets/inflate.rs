//! Fuzz target `inflate`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::inflate_from_bytes` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::inflate_from_bytes(data);
});
