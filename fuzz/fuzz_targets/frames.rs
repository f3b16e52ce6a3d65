//! Fuzz target `frames`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::frames_from_bytes` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::frames_from_bytes(data);
});
