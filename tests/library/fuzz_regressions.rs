//! Regression tests for what fuzzing found (docs/RELIABILITY.md, "Fuzzing"), each over a real
//! loopback socket. The inputs the fuzzer found are in fuzz/regressions/TARGET/, which
//! scripts/fuzz.sh adds to each run's corpus.

use std::time::Duration;

use crate::support::*;

/// F1: a server with permessage-deflate and a `max_message_size` under 63 bytes panicked in
/// the decoder (`clamp(64, max + 1)`) on the first compressed message, instead of delivering
/// it (or closing with 1009 when it inflates past the limit). Found by the `frames` and
/// `inflate` targets (fuzz/regressions/{frames,inflate}/f1-deflate-limit-under-63).
#[cfg(feature = "deflate")]
#[test]
#[ignore = "fuzz finding F1 (src/extensions/deflate.rs, Inflater::decode): fails until fixed"]
fn deflate_with_a_tiny_max_message_size_delivers_and_limits() {
    use syncws::{Config, Deflate, Server};
    let (tx, events) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default().max_message_size(10))
            .extension(Deflate::default())
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let mut c = Client::open_deflate(server.local_addr(), "/echo", Duration::from_secs(5)).expect("open");
    assert!(matches!(next(&events), Event::Open(_)));
    c.send_message(b"hi", true).unwrap();
    assert_eq!(c.recv_message().expect("the echo of a 2-byte message").text(), "hi");
    c.send_message(&[b'x'; 40], false).unwrap();
    assert_eq!(c.expect_close().0, 1009, "40 bytes inflated past max_message_size 10");
    server.shutdown();
}
