//! Fuzz target `request_head`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::request_head` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::request_head(data);
});
