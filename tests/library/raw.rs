//! Raw routes: every frame reaches the handler, nothing is answered automatically.

use std::time::Duration;

use crate::support::*;
use crossbeam_channel::{Receiver, Sender};
use syncws::{CloseCode, CloseReason, Config, Error, Frame, Opcode, RawHandler, Route, Server, Session};

#[derive(Debug)]
enum Seen {
    Open(Session),
    Frame(Frame),
    Close(CloseReason),
}

/// Reports every frame; echoes data frames as they come (fragments stay fragments); answers a
/// close only when told to by a text frame "answer-close" first.
struct Tap {
    seen: Sender<Seen>,
    answer_close: bool,
}

impl RawHandler for Tap {
    fn on_open(&mut self, session: &Session) {
        let _ = self.seen.send(Seen::Open(session.clone()));
    }
    fn on_frame(&mut self, session: &Session, frame: Frame) {
        let _ = self.seen.send(Seen::Frame(frame.clone()));
        match frame.opcode {
            Opcode::Text if frame.payload == b"answer-close" => self.answer_close = true,
            Opcode::Text | Opcode::Binary | Opcode::Continuation => session.send_frame(frame).unwrap(),
            Opcode::Close if self.answer_close => session.send_frame(frame).unwrap(),
            _ => {}
        }
    }
    fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
        let _ = self.seen.send(Seen::Close(reason.clone()));
    }
}

fn raw_server(config: Config) -> (syncws::ServerHandle, Receiver<Seen>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(config)
            .extension(syncws_deflate())
            .route_with("/raw", Route::raw(move || Tap { seen: tx.clone(), answer_close: false }))
            .channel_route("/cooked", |s| {
                for m in s.incoming() {
                    let _ = s.send(m);
                }
            }),
    );
    (server, rx)
}

#[cfg(feature = "deflate")]
fn syncws_deflate() -> syncws::Deflate {
    syncws::Deflate::default()
}

#[cfg(not(feature = "deflate"))]
fn syncws_deflate() -> impl syncws::Extension {
    struct Never;
    impl syncws::Extension for Never {
        fn name(&self) -> &str {
            "permessage-deflate"
        }
        fn accept(&self, _: &syncws::ExtensionOffer, _: &syncws::Request) -> Option<syncws::Accepted> {
            None
        }
    }
    Never
}

fn frame(rx: &Receiver<Seen>) -> Frame {
    match rx.recv_timeout(READ_TIMEOUT).expect("a frame") {
        Seen::Frame(f) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn pings_reach_the_handler_and_are_not_answered() {
    let (server, rx) = raw_server(Config::default());
    let mut c = Client::connect(server.local_addr(), "/raw");
    assert!(matches!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Seen::Open(_)));
    c.send_frame(true, 9, b"ping?", true);
    let f = frame(&rx);
    assert_eq!((f.opcode, f.payload.as_slice()), (Opcode::Ping, &b"ping?"[..]));
    c.send_frame(true, 10, b"unsolicited pong", true);
    assert_eq!(frame(&rx).opcode, Opcode::Pong);
    c.stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    assert!(c.read_frame().is_none(), "syncws must not answer the ping itself");
}

#[test]
fn fragments_arrive_unassembled_and_can_be_sent_as_fragments() {
    let (server, rx) = raw_server(Config::default());
    let mut c = Client::connect(server.local_addr(), "/raw");
    rx.recv_timeout(READ_TIMEOUT).unwrap();
    c.send_frame(false, 1, b"Hel", true);
    c.send_frame(true, 9, b"mid", true);
    c.send_frame(false, 0, b"l", true);
    c.send_frame(true, 0, b"o", true);
    let got: Vec<(Opcode, bool, Vec<u8>)> =
        (0..4).map(|_| frame(&rx)).map(|f| (f.opcode, f.fin, f.payload)).collect();
    assert_eq!(
        got,
        [
            (Opcode::Text, false, b"Hel".to_vec()),
            (Opcode::Ping, true, b"mid".to_vec()),
            (Opcode::Continuation, false, b"l".to_vec()),
            (Opcode::Continuation, true, b"o".to_vec()),
        ]
    );
    // The handler echoed the data frames as frames: the client sees the fragments.
    let echoed: Vec<(u8, bool)> =
        (0..3).map(|_| c.read_frame().unwrap()).map(|f| (f.opcode, f.fin)).collect();
    assert_eq!(echoed, [(1, false), (0, false), (0, true)]);
}

#[test]
fn rsv_bits_are_shown_and_no_extension_is_negotiated() {
    let (server, rx) = raw_server(Config::default());
    let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let mut c = Client::connect_with(server.local_addr(), &upgrade_request("/raw", extra)).unwrap();
    assert_eq!(c.header("sec-websocket-extensions"), None);
    rx.recv_timeout(READ_TIMEOUT).unwrap();
    c.send_raw(&encode(true, 5, 2, b"odd bits", true));
    let f = frame(&rx);
    assert_eq!((f.rsv, f.payload.as_slice()), (5, &b"odd bits"[..]));
}

#[test]
fn the_handler_answers_close_and_tcp_then_closes() {
    let (server, rx) = raw_server(Config::default());
    let mut c = Client::connect(server.local_addr(), "/raw");
    rx.recv_timeout(READ_TIMEOUT).unwrap();
    c.send_text("answer-close");
    frame(&rx);
    c.send_close(4100, "raw bye");
    assert_eq!(frame(&rx).close_code(), Some(CloseCode(4100)));
    assert_eq!(c.expect_close(), (4100, "raw bye".to_owned()));
    assert!(c.sees_eof());
    match rx.recv_timeout(READ_TIMEOUT).unwrap() {
        Seen::Close(r) => assert_eq!((r.code, r.was_clean, r.by_peer), (CloseCode(4100), true, true)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unanswered_close_is_dropped_after_the_close_timeout() {
    let (server, rx) = raw_server(Config::default().close_timeout(Duration::from_millis(300)));
    let mut c = Client::connect(server.local_addr(), "/raw");
    rx.recv_timeout(READ_TIMEOUT).unwrap();
    c.send_close(1000, "");
    assert_eq!(frame(&rx).opcode, Opcode::Close);
    assert!(c.read_frame().is_none(), "nothing answers, the socket is closed");
    match rx.recv_timeout(READ_TIMEOUT).unwrap() {
        Seen::Close(r) => assert!(!r.was_clean, "{r:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn raw_routes_send_no_pings_but_still_require_masks_and_limits() {
    let (server, rx) =
        raw_server(Config::default().ping_period(Some(Duration::from_millis(50))).max_frame_size(100));
    let mut c = Client::connect(server.local_addr(), "/raw");
    rx.recv_timeout(READ_TIMEOUT).unwrap();
    c.stream.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    assert!(c.read_frame().is_none(), "no pings on a raw route");
    c.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    c.send_frame(true, 2, &[0; 101], true);
    assert_eq!(c.expect_close().0, 1009);
    let mut c = Client::connect(server.local_addr(), "/raw");
    c.send_frame(true, 2, b"naked", false);
    assert_eq!(c.expect_close().0, 1002);
}

#[test]
fn send_frame_is_refused_on_message_routes() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server =
        start(Server::new(Config::default()).route("/echo", move || Recorder { events: tx.clone() }));
    let _c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(s) = next(&rx) else { panic!() };
    assert!(matches!(s.send_frame(Frame::ping("x")), Err(Error::NotRaw)));
}

#[test]
fn raw_sessions_send_pings_and_validate_control_frames() {
    let (server, rx) = raw_server(Config::default());
    let mut c = Client::connect(server.local_addr(), "/raw");
    let Seen::Open(s) = rx.recv_timeout(READ_TIMEOUT).unwrap() else { panic!() };
    s.send_frame(Frame::ping("from handler")).unwrap();
    assert!(s.send_frame(Frame::new(Opcode::Ping, false, "x")).is_err(), "fragmented control frame");
    assert!(s.send_frame(Frame::ping(vec![0; 126])).is_err(), "control frame too long");
    let f = c.read_frame().unwrap();
    assert_eq!((f.opcode, f.payload.as_slice()), (9, &b"from handler"[..]));
}
