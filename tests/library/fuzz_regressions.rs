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
    c.send_close(1009, "");
    drop(c);
    server.shutdown();
}

/// F2: a refusal with a chunked body whose second chunk size is near `usize::MAX` overflowed
/// `body.len() + size` in the client's body reader (`read_chunks`): a panic where overflow
/// checks are on (debug builds, the tests), a wrapped length in release builds. The answer
/// must be the typed refusal with the body read so far. Found while writing the
/// `response_head` target, confirmed by it (fuzz/regressions/response_head/f2-chunk-size-overflow).
#[test]
fn a_chunk_size_near_usize_max_is_a_refusal_not_an_overflow() {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use syncws::{Client, ClientConfig, Error, HandshakeError, Message, Session};

    struct Nothing;
    impl syncws::Handler for Nothing {
        fn on_message(&mut self, _: &Session, _: Message) {}
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let answer = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\n";
        s.write_all(answer).unwrap();
    });
    let config = ClientConfig::default().handshake_timeout(Duration::from_secs(5));
    match Client::new(config).connect(&url, Nothing) {
        Err(Error::Handshake(HandshakeError::Status { status: 500, body, .. })) => assert_eq!(body, b"a"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    server.join().unwrap();
}
