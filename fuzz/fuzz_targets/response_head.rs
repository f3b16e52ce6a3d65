//! Fuzz target `response_head`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::response_head` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::response_head(data);
});
