//! Framing rules of RFC 6455 and the close codes they lead to, over real loopback sockets.

use std::time::{Duration, Instant};

use crate::support::*;
use syncws::{CloseCode, Config};

/// Sends `bytes` and expects a close frame with `code`, then the server closing TCP.
fn expect_failure(config: Config, bytes: &[u8], code: u16) -> syncws::CloseReason {
    let (server, events) = recording(config);
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_raw(bytes);
    let (got, reason) = c.expect_close();
    assert_eq!(got, code, "close reason {reason:?}");
    c.send_close(code, "");
    assert!(c.sees_eof(), "server must close TCP after failing the connection");
    drop(c);
    let r = close_event(&events);
    assert_eq!(r.code, CloseCode(code));
    assert!(!r.was_clean);
    r
}

#[test]
fn unmasked_client_frame_is_1002() {
    expect_failure(Config::default(), &encode(true, 0, 1, b"naked", false), 1002);
}

#[test]
fn unmasked_frames_can_be_allowed() {
    let (server, _events) = recording(Config::default().accept_unmasked_frames(true));
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_frame(true, 1, b"naked", false);
    assert_eq!(c.read_data().unwrap().text(), "naked");
}

#[test]
fn reserved_bits_are_1002() {
    expect_failure(Config::default(), &encode(true, 4, 1, b"rsv1", true), 1002);
    expect_failure(Config::default(), &encode(true, 1, 2, b"rsv3", true), 1002);
}

#[test]
fn reserved_opcodes_are_1002() {
    expect_failure(Config::default(), &encode(true, 0, 3, b"", true), 1002);
    expect_failure(Config::default(), &encode(true, 0, 0xb, b"", true), 1002);
}

#[test]
fn fragmented_control_frame_is_1002() {
    expect_failure(Config::default(), &encode(false, 0, 9, b"ping", true), 1002);
}

#[test]
fn oversized_control_frame_is_1002() {
    expect_failure(Config::default(), &encode(true, 0, 9, &[0u8; 126], true), 1002);
}

#[test]
fn continuation_without_start_is_1002() {
    expect_failure(Config::default(), &encode(true, 0, 0, b"orphan", true), 1002);
}

#[test]
fn new_message_inside_a_fragmented_one_is_1002() {
    let mut bytes = encode(false, 0, 1, b"part", true);
    bytes.extend(encode(true, 0, 1, b"new", true));
    expect_failure(Config::default(), &bytes, 1002);
}

#[test]
fn invalid_utf8_is_1007() {
    expect_failure(Config::default(), &encode(true, 0, 1, b"bad \xff byte", true), 1007);
}

#[test]
fn invalid_utf8_across_fragments_fails_before_the_last_fragment() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    // "€" split over two fragments is fine ...
    c.send_frame(false, 1, &[0xe2, 0x82], true);
    c.send_frame(true, 0, &[0xac], true);
    assert_eq!(c.read_data().unwrap().text(), "€");
    // ... but an invalid continuation byte fails at once, with no final fragment sent.
    c.send_frame(false, 1, b"ok", true);
    c.send_frame(false, 0, &[0xe2, 0x28], true);
    assert_eq!(c.expect_close().0, 1007);
    drop(c);
    assert_eq!(close_event(&events).code, CloseCode::INVALID_PAYLOAD);
}

#[test]
fn invalid_close_payloads_are_1002_or_1007() {
    expect_failure(Config::default(), &encode(true, 0, 8, &[3], true), 1002);
    expect_failure(Config::default(), &encode(true, 0, 8, &1005u16.to_be_bytes(), true), 1002);
    expect_failure(Config::default(), &encode(true, 0, 8, &999u16.to_be_bytes(), true), 1002);
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.push(0xff);
    expect_failure(Config::default(), &encode(true, 0, 8, &p, true), 1007);
}

#[test]
fn frame_over_max_frame_size_is_1009() {
    let r =
        expect_failure(Config::default().max_frame_size(1000), &encode(true, 0, 2, &[0; 1001], true), 1009);
    assert!(r.reason.contains("max_frame_size"), "{r:?}");
}

#[test]
fn message_over_max_message_size_is_1009() {
    let config = Config::default().max_frame_size(1000).max_message_size(1500);
    let mut bytes = encode(false, 0, 2, &[0; 1000], true);
    bytes.extend(encode(true, 0, 0, &[0; 1000], true));
    expect_failure(config, &bytes, 1009);
}

#[test]
fn oversized_frame_is_refused_before_its_payload_arrives() {
    let (server, _events) = recording(Config::default().max_frame_size(1 << 20));
    let mut c = Client::connect(server.local_addr(), "/echo");
    // Announce 1 GiB, send none of it: the close must come without waiting for the payload.
    c.send_raw(&encode_header(true, 0, 2, 1 << 30, true));
    assert_eq!(c.expect_close().0, 1009);
}

#[test]
fn reused_buffers_carry_no_bytes_of_earlier_messages() {
    // Sent buffers go back to the read loop, which overwrites them without zeroing: every
    // echo must be exactly its own message, whatever came before it.
    let (server, _events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    for (i, len) in [70_000usize, 5_000, 1_500, 20_000, 1_024, 3].into_iter().enumerate() {
        let payload = vec![i as u8 + 1; len];
        c.send_binary(&payload);
        let echo = c.read_data().unwrap();
        assert_eq!((echo.payload.len(), echo.payload == payload), (len, true), "message {i}");
    }
    // A fragmented message after them.
    c.send_frame(false, 2, &[7; 600], true);
    c.send_frame(true, 0, &[8; 500], true);
    let echo = c.read_data().unwrap();
    assert_eq!(echo.payload.len(), 1_100);
    assert!(echo.payload[..600].iter().all(|&b| b == 7) && echo.payload[600..].iter().all(|&b| b == 8));
}

#[test]
fn fragments_are_reassembled_with_pings_between() {
    let (server, _events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_frame(false, 2, &[1, 2], true);
    c.send_frame(true, 9, b"mid", true);
    c.send_frame(false, 0, &[3], true);
    c.send_frame(true, 0, &[4, 5], true);
    let pong = c.read_frame().unwrap();
    assert_eq!((pong.opcode, pong.payload.as_slice()), (10, &b"mid"[..]));
    let data = c.read_frame().unwrap();
    assert_eq!((data.opcode, data.fin, data.payload), (2, true, vec![1, 2, 3, 4, 5]));
    assert!(!data.masked, "servers do not mask by default");
}

#[test]
fn large_messages_round_trip() {
    let (server, _events) = recording(Config::default().max_message_size(4 << 20).max_frame_size(4 << 20));
    let mut c = Client::connect(server.local_addr(), "/echo");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    c.send_binary(&big);
    let back = c.read_data().unwrap();
    assert_eq!(back.payload.len(), big.len());
    assert!(back.payload == big);
}

#[test]
fn masking_option_masks_server_frames() {
    let (server, _events) = recording(Config::default().masking(true));
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_text("masked please");
    let f = c.read_data().unwrap();
    assert!(f.masked);
    assert_eq!(f.text(), "masked please");
}

#[test]
fn peer_close_is_echoed_then_tcp_is_closed() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_text("before");
    c.send_close(4001, "done here");
    assert_eq!(c.read_data().unwrap().text(), "before");
    assert_eq!(c.expect_close(), (4001, "done here".to_owned()));
    assert!(c.sees_eof(), "RFC 6455 §7.1.1: the server closes TCP first");
    let r = close_event(&events);
    assert_eq!(
        (r.code, r.reason.as_str(), r.was_clean, r.by_peer),
        (CloseCode(4001), "done here", true, true)
    );
}

#[test]
fn close_without_code_is_answered_without_code() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_frame(true, 8, b"", true);
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.payload.len()), (8, 0));
    assert_eq!(close_event(&events).code, CloseCode::NO_STATUS);
}

#[test]
fn server_close_waits_for_the_peer_then_drops_after_close_timeout() {
    let (server, events) = recording(Config::default().close_timeout(Duration::from_millis(300)));
    let mut c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(session) = next(&events) else { panic!() };
    assert!(session.close(CloseCode::POLICY, "go away"));
    assert!(!session.close(CloseCode::NORMAL, "twice"), "first close wins");
    assert_eq!(c.expect_close(), (1008, "go away".to_owned()));
    // We never answer: TCP must still be closed, and the reason says it was not clean.
    let started = Instant::now();
    assert!(c.sees_eof());
    assert!(started.elapsed() < Duration::from_secs(3));
    let r = close_event(&events);
    assert_eq!((r.code, r.was_clean, r.by_peer), (CloseCode::POLICY, false, false));
    assert_eq!(session.close_reason(), Some(r));
    assert!(session.send_text("late").is_err());
}

#[test]
fn server_close_answered_by_the_peer_is_clean() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(session) = next(&events) else { panic!() };
    session.send_text("queued first").unwrap();
    session.close(CloseCode::NORMAL, "bye");
    assert_eq!(c.read_data().unwrap().text(), "queued first");
    assert_eq!(c.expect_close(), (1000, "bye".to_owned()));
    c.send_close(1000, "bye");
    assert!(c.sees_eof());
    let r = close_event(&events);
    assert!(r.was_clean && !r.by_peer, "{r:?}");
}

#[test]
fn pings_are_answered_with_their_payload() {
    let (server, _events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    for i in 0..10u8 {
        c.send_frame(true, 9, &[i; 5], true);
    }
    for i in 0..10u8 {
        let f = c.read_frame().unwrap();
        assert_eq!((f.opcode, f.payload), (10, vec![i; 5]));
    }
}

#[test]
fn session_ping_reaches_the_client() {
    let (server, events) = recording(Config::default().ping_period(None));
    let mut c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(session) = next(&events) else { panic!() };
    session.ping(b"hey".to_vec()).unwrap();
    assert!(session.ping(vec![0; 126]).is_err());
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.payload.as_slice()), (9, &b"hey"[..]));
}

#[test]
fn abrupt_disconnect_is_1006() {
    let (server, events) = recording(Config::default());
    let c = Client::connect(server.local_addr(), "/echo");
    drop(c);
    let r = close_event(&events);
    assert_eq!((r.code, r.was_clean), (CloseCode::ABNORMAL, false));
}
