//! Fuzz target `mqtt_stream`: the input's layout and the invariants asserted are documented on
//! `syncws::fuzzing::mqtt_stream` (docs/RELIABILITY.md, "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = syncws::fuzzing::mqtt_stream(data);
});
