//! Fuzz target `extension_offer`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::extension_offer` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::extension_offer(data);
});
