//! permessage-deflate (RFC 7692) and custom extensions, over real loopback sockets.
#![cfg(feature = "deflate")]

use crate::support::*;
use syncws::{
    Accepted, CloseCode, Config, Deflate, Extension, ExtensionError, ExtensionOffer, MessageDecoder,
    MessageEncoder, RSV2, Request, Route, Server,
};

fn deflate_server(config: Config, deflate: Deflate) -> syncws::ServerHandle {
    let (tx, _rx) = crossbeam_channel::unbounded();
    start(
        Server::new(config)
            .extension(deflate)
            .route("/echo", move || Recorder { events: tx.clone() })
            .route_with(
                "/plain",
                Route::channel(|s| {
                    for m in s.incoming() {
                        let _ = s.send(m);
                    }
                })
                .no_extensions(),
            ),
    )
}

/// The `Sec-WebSocket-Extensions` answer to `offer` (None: no header).
fn negotiated(server: &syncws::ServerHandle, offer: &str) -> Option<String> {
    let extra =
        if offer.is_empty() { String::new() } else { format!("Sec-WebSocket-Extensions: {offer}\r\n") };
    let c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", &extra)).expect("upgrade");
    c.header("sec-websocket-extensions")
}

#[test]
fn negotiation_answers_each_parameter() {
    let server = deflate_server(Config::default(), Deflate::default());
    let cases = [
        ("", None),
        ("permessage-deflate", Some("permessage-deflate")),
        ("permessage-deflate; client_max_window_bits", Some("permessage-deflate")),
        (
            "permessage-deflate; client_max_window_bits=10",
            Some("permessage-deflate; client_max_window_bits=10"),
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            Some("permessage-deflate; client_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_max_window_bits=15",
            Some("permessage-deflate; server_max_window_bits=15"),
        ),
        (
            "permessage-deflate; server_max_window_bits=\"10\"",
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        ("x-unknown, permessage-deflate", Some("permessage-deflate")),
    ];
    for (offer, want) in cases {
        assert_eq!(negotiated(&server, offer).as_deref(), want, "offer {offer:?}");
    }
}

#[test]
fn bad_offers_are_declined_without_failing_the_handshake() {
    let server = deflate_server(Config::default(), Deflate::default());
    for offer in [
        "permessage-deflate; mystery_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_no_context_takeover=yes",
        "permessage-deflate; a=\"unterminated",
    ] {
        assert_eq!(negotiated(&server, offer), None, "offer {offer:?} must be declined, connection kept");
    }
}

#[test]
fn the_first_acceptable_of_several_offers_wins() {
    let server = deflate_server(Config::default(), Deflate::default());
    let offer = "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover, permessage-deflate";
    assert_eq!(negotiated(&server, offer).as_deref(), Some("permessage-deflate; client_no_context_takeover"));
    // Offers spread over two header lines count as one list.
    let extra = "Sec-WebSocket-Extensions: permessage-deflate; bogus\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    let c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    assert_eq!(
        c.header("sec-websocket-extensions").as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
}

#[test]
fn server_options_show_in_the_answer_and_routes_can_opt_out() {
    let server = deflate_server(
        Config::default(),
        Deflate::default().server_no_context_takeover(true).client_no_context_takeover(true),
    );
    assert_eq!(
        negotiated(&server, "permessage-deflate").as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let c = Client::connect_with(server.local_addr(), &upgrade_request("/plain", extra)).unwrap();
    assert_eq!(c.header("sec-websocket-extensions"), None);
}

#[test]
fn compressed_messages_round_trip_with_context_takeover() {
    let server = deflate_server(Config::default(), Deflate::default().min_size(10));
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    let mut d = Inflater::new();
    let text = "compress me, compress me, compress me, compress me!".repeat(20);
    for round in 0..5 {
        c.send_raw(&encode(true, 4, 1, &compress(text.as_bytes()), true));
        let f = c.read_data().unwrap();
        assert_eq!((f.opcode, f.rsv), (1, 4), "round {round}: compressed text");
        assert!(f.payload.len() < text.len() / 4, "round {round}: {} bytes", f.payload.len());
        assert_eq!(d.inflate(&f.payload).unwrap(), text.as_bytes(), "round {round}");
    }
    // Short messages go uncompressed; uncompressed client messages are fine too.
    c.send_text("tiny");
    let f = c.read_data().unwrap();
    assert_eq!((f.rsv, f.text()), (0, "tiny"));
}

#[test]
fn fragmented_compressed_message_is_reassembled_then_inflated() {
    let server = deflate_server(Config::default(), Deflate::default());
    let extra = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    let z = compress(&data);
    let (a, b) = z.split_at(z.len() / 2);
    c.send_raw(&encode(false, 4, 2, a, true));
    c.send_raw(&encode(true, 0, 0, b, true));
    let f = c.read_data().unwrap();
    assert_eq!(f.rsv, 4);
    assert_eq!(Inflater::new().inflate(&f.payload).unwrap(), data);
}

/// 1 KiB of noise repeated 8 times: every match lies 1 KiB back.
fn repeats_1k_back() -> Vec<u8> {
    let mut x = 0x9e37_79b9_u32;
    let block: Vec<u8> = (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    block.repeat(8)
}

#[test]
fn a_small_window_is_real() {
    let server = deflate_server(Config::default(), Deflate::default().min_size(1));
    let data = repeats_1k_back();
    for (offer, answer, longest) in [
        // A 512-byte window cannot reach 1 KiB back: the message compresses barely.
        (
            "permessage-deflate; server_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=9",
            None,
        ),
        // A 32 KiB window finds every repeat.
        ("permessage-deflate", "permessage-deflate", Some(2_000)),
    ] {
        let extra = format!("Sec-WebSocket-Extensions: {offer}\r\n");
        let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", &extra)).unwrap();
        assert_eq!(c.header("sec-websocket-extensions").as_deref(), Some(answer));
        c.send_binary(&data);
        let f = c.read_data().unwrap();
        assert_eq!(f.rsv, 4, "{offer}: compressed");
        match longest {
            Some(max) => assert!(f.payload.len() < max, "{offer}: {} bytes", f.payload.len()),
            None => assert!(
                f.payload.len() > 7_000,
                "{offer}: {} bytes: a window over 512 bytes",
                f.payload.len()
            ),
        }
        assert_eq!(Inflater::new().inflate(&f.payload).unwrap(), data);
    }
    // 8 bits: zlib has no 256-byte raw window, so only messages that fit 256 bytes are
    // compressed, each on its own.
    let extra = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    assert_eq!(
        c.header("sec-websocket-extensions").as_deref(),
        Some("permessage-deflate; server_max_window_bits=8")
    );
    c.send_binary(&[b'a'; 256]);
    let f = c.read_data().unwrap();
    assert_eq!(f.rsv, 4, "a message within the 256-byte window is compressed");
    assert_eq!(Inflater::new().inflate(&f.payload).unwrap(), [b'a'; 256]);
    c.send_binary(&[b'a'; 257]);
    let f = c.read_data().unwrap();
    assert_eq!((f.rsv, f.payload.len()), (0, 257), "a longer one goes uncompressed");
}

#[test]
fn a_decompression_bomb_closes_with_1009() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default().max_message_size(1 << 20))
            .extension(Deflate::default())
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    let bomb = compress(&vec![0u8; 64 << 20]); // 64 MiB of zeros in about 64 KiB
    assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
    c.send_raw(&encode(true, 4, 2, &bomb, true));
    assert_eq!(c.expect_close().0, 1009);
    drop(c);
    assert_eq!(close_event(&rx).code, CloseCode::TOO_BIG);
}

#[test]
fn corrupt_compressed_data_closes_with_1007() {
    let server = deflate_server(Config::default(), Deflate::default());
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    c.send_raw(&encode(true, 4, 2, &[0xff, 0xfe, 0xfd, 0x00, 0x13], true));
    assert_eq!(c.expect_close().0, 1007);
}

#[test]
fn compressed_invalid_utf8_closes_with_1007() {
    let server = deflate_server(Config::default(), Deflate::default());
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    c.send_raw(&encode(true, 4, 1, &compress(b"ok then \xff\xfe"), true));
    assert_eq!(c.expect_close().0, 1007);
}

#[test]
fn rsv1_where_deflate_does_not_allow_it_is_1002() {
    let server = deflate_server(Config::default(), Deflate::default());
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let cases: [(&str, Vec<u8>); 3] = [
        ("RSV1 on a ping", encode(true, 4, 9, b"", true)),
        (
            "RSV1 on a continuation",
            [encode(false, 4, 2, &compress(b"abc"), true), encode(true, 4, 0, b"", true)].concat(),
        ),
        ("RSV2, not claimed", encode(true, 2, 2, b"x", true)),
    ];
    for (what, bytes) in cases {
        let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
        c.send_raw(&bytes);
        assert_eq!(c.expect_close().0, 1002, "{what}");
    }
    // And RSV1 without deflate negotiated.
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_raw(&encode(true, 4, 2, &compress(b"abc"), true));
    assert_eq!(c.expect_close().0, 1002);
}

/// A custom extension on the public trait: flips every bit, marks messages with RSV2.
struct Invert;
struct Flip;

impl MessageEncoder for Flip {
    fn encode(&mut self, payload: &mut Vec<u8>, _text: bool) -> Result<u8, ExtensionError> {
        payload.iter_mut().for_each(|b| *b = !*b);
        Ok(RSV2)
    }
}

impl MessageDecoder for Flip {
    fn decode(&mut self, mut payload: Vec<u8>, rsv: u8, _max: usize) -> Result<Vec<u8>, ExtensionError> {
        if rsv & RSV2 == 0 {
            return Err(ExtensionError::InvalidData("x-invert messages must set RSV2".into()));
        }
        payload.iter_mut().for_each(|b| *b = !*b);
        Ok(payload)
    }
}

impl Extension for Invert {
    fn name(&self) -> &str {
        "x-invert"
    }
    fn accept(&self, offer: &ExtensionOffer, request: &Request) -> Option<Accepted> {
        assert_eq!(request.path(), "/echo");
        (offer.param("mode") == Some(Some("all"))).then(|| Accepted {
            params: vec![("mode".into(), Some("all".into()))],
            rsv: RSV2,
            encoder: Box::new(Flip),
            decoder: Box::new(Flip),
        })
    }
}

#[test]
fn a_custom_extension_runs_beside_deflate_in_the_clients_order() {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default())
            .extension(Deflate::default().min_size(1_000_000))
            .extension(Invert)
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let extra = "Sec-WebSocket-Extensions: x-invert; mode=none, x-invert; mode=all, permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    assert_eq!(
        c.header("sec-websocket-extensions").as_deref(),
        Some("x-invert; mode=all, permessage-deflate")
    );
    let flipped: Vec<u8> = b"hello".iter().map(|b| !b).collect();
    c.send_raw(&encode(true, 2, 2, &flipped, true));
    let f = c.read_data().unwrap();
    assert_eq!((f.rsv, f.payload.clone()), (2, flipped), "decoded, echoed, encoded again");
    c.send_raw(&encode(true, 0, 2, b"plain", true));
    assert_eq!(c.expect_close().0, 1007, "the extension's own error closes with its code");
}

/// An extension whose encoder refuses the message "fail".
struct Picky;
struct PickyCodec;

impl MessageEncoder for PickyCodec {
    fn encode(&mut self, payload: &mut Vec<u8>, _text: bool) -> Result<u8, ExtensionError> {
        if payload == b"fail" {
            return Err(ExtensionError::Failed("picky refuses".into()));
        }
        Ok(0)
    }
}

impl MessageDecoder for PickyCodec {
    fn decode(&mut self, payload: Vec<u8>, _rsv: u8, _max: usize) -> Result<Vec<u8>, ExtensionError> {
        Ok(payload)
    }
}

impl Extension for Picky {
    fn name(&self) -> &str {
        "x-picky"
    }
    fn accept(&self, _offer: &ExtensionOffer, _request: &Request) -> Option<Accepted> {
        Some(Accepted {
            params: vec![],
            rsv: 0,
            encoder: Box::new(PickyCodec),
            decoder: Box::new(PickyCodec),
        })
    }
}

#[test]
fn an_encoder_error_closes_with_the_extensions_code_after_queued_messages() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default())
            .extension(Picky)
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let extra = "Sec-WebSocket-Extensions: x-picky\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/echo", extra)).unwrap();
    c.send_text("fine");
    assert_eq!(c.read_data().unwrap().text(), "fine");
    c.send_text("fail");
    let (code, reason) = c.expect_close();
    assert_eq!(code, 1011);
    assert!(reason.contains("picky refuses"), "{reason}");
    c.send_close(1011, "");
    assert!(c.sees_eof());
    drop(c);
    assert_eq!(close_event(&rx).code, CloseCode::INTERNAL_ERROR);
}
