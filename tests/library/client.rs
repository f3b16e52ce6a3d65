//! The client against syncws's own server (and, for misbehaviour no real server shows, small
//! scripted servers on a loopback socket): messages both ways, pings, closes both ways,
//! typed errors, permessage-deflate, reconnect.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::*;
use crossbeam_channel::{Receiver, Sender};
use syncws::{
    Client, ClientConfig, CloseCode, CloseReason, Config, Error, Frame, Handler, HandshakeError, Message,
    Opcode, ProtocolError, RawHandler, Reconnect, Route, Server, Session,
};

/// What a client's handler saw.
#[derive(Debug)]
enum Seen {
    Open(Session),
    Message(Message),
    Error(String),
    Close(CloseReason),
}

/// A client handler that reports every event (and echoes nothing).
struct Tap(Sender<Seen>);

impl Handler for Tap {
    fn on_open(&mut self, session: &Session) {
        let _ = self.0.send(Seen::Open(session.clone()));
    }
    fn on_message(&mut self, _: &Session, message: Message) {
        let _ = self.0.send(Seen::Message(message));
    }
    fn on_error(&mut self, _: &Session, error: &Error) {
        let _ = self.0.send(Seen::Error(error.to_string()));
    }
    fn on_close(&mut self, _: &Session, reason: &CloseReason) {
        let _ = self.0.send(Seen::Close(reason.clone()));
    }
}

fn tap() -> (Tap, Receiver<Seen>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (Tap(tx), rx)
}

fn seen(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(READ_TIMEOUT).expect("no client event in time")
}

fn opened(rx: &Receiver<Seen>) -> Session {
    match seen(rx) {
        Seen::Open(s) => s,
        other => panic!("expected open, got {other:?}"),
    }
}

fn message(rx: &Receiver<Seen>) -> Message {
    match seen(rx) {
        Seen::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The close reason, after any error event (returned too).
fn closed(rx: &Receiver<Seen>) -> (CloseReason, Option<String>) {
    let mut error = None;
    for _ in 0..100 {
        match seen(rx) {
            Seen::Close(r) => return (r, error),
            Seen::Error(e) => error = Some(e),
            Seen::Message(_) | Seen::Open(_) => {}
        }
    }
    panic!("no close");
}

fn url(server: &syncws::ServerHandle, path: &str) -> String {
    format!("ws://{}{path}", server.local_addr())
}

fn echo_server(config: Config) -> (syncws::ServerHandle, Receiver<Event>) {
    recording(config)
}

#[test]
fn text_binary_and_order_through_our_own_server() {
    let (server, events) = echo_server(Config::default());
    let (handler, rx) = tap();
    let client =
        Client::new(ClientConfig::default()).connect(&url(&server, "/echo?room=1"), handler).unwrap();
    let session = opened(&rx);
    assert_eq!(session.attempt(), 1);
    let response = session.response().expect("a client session has the response");
    assert_eq!(response.status(), 101);
    assert!(response.header("sec-websocket-accept").is_some());
    assert_eq!((session.request().path(), session.request().query()), ("/echo", Some("room=1")));
    assert_eq!(session.request().header("host"), Some(server.local_addr().to_string().as_str()));
    assert_eq!(session.remote_addr(), server.local_addr());
    let Event::Open(on_server) = next(&events) else { panic!() };
    assert_eq!(on_server.request().query(), Some("room=1"));
    for i in 0..200 {
        client.send(format!("m{i}")).unwrap();
    }
    session.send_binary(vec![0, 1, 2, 255]).unwrap();
    for i in 0..200 {
        assert_eq!(message(&rx), Message::Text(format!("m{i}")));
    }
    assert_eq!(message(&rx), Message::Binary(vec![0, 1, 2, 255]));
    client.close(CloseCode::NORMAL, "done");
    let (reason, error) = closed(&rx);
    assert_eq!(
        (reason.code, reason.was_clean, reason.by_peer, error),
        (CloseCode::NORMAL, true, false, None)
    );
    let r = close_event(&events);
    assert_eq!((r.code, r.reason.as_str(), r.by_peer, r.was_clean), (CloseCode::NORMAL, "done", true, true));
    let end = client.wait().unwrap();
    assert_eq!(end.code, CloseCode::NORMAL);
}

#[test]
fn sixteen_mebibytes_each_way() {
    let big = 16 << 20;
    let (server, _events) = echo_server(Config::default().max_frame_size(big + 1).max_message_size(big + 1));
    let (handler, rx) = tap();
    let config = ClientConfig::default().max_frame_size(big + 1).max_message_size(big + 1);
    let client = Client::new(config).connect(&url(&server, "/echo"), handler).unwrap();
    let session = opened(&rx);
    let payload: Vec<u8> = (0..big).map(|i| (i * 7 % 251) as u8).collect();
    session.send_binary(payload.clone()).unwrap();
    assert!(message(&rx) == Message::Binary(payload), "16 MiB came back changed");
    client.close(CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);
}

/// A raw route that sends what the test asks for through `send_frame`, and reports frames.
struct Script {
    seen: Sender<Frame>,
    opened: Sender<Session>,
}

impl RawHandler for Script {
    fn on_open(&mut self, session: &Session) {
        let _ = self.opened.send(session.clone());
    }
    fn on_frame(&mut self, session: &Session, frame: Frame) {
        let _ = self.seen.send(frame.clone());
        match frame.opcode {
            Opcode::Ping => drop(session.send_frame(Frame::pong(frame.payload))),
            Opcode::Close => drop(session.send_frame(frame)),
            _ => {}
        }
    }
}

fn script_server(config: Config) -> (syncws::ServerHandle, Receiver<Session>, Receiver<Frame>) {
    let (seen, frames) = crossbeam_channel::unbounded();
    let (opened, sessions) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(config)
            .route_with("/raw", Route::raw(move || Script { seen: seen.clone(), opened: opened.clone() })),
    );
    (server, sessions, frames)
}

#[test]
fn fragments_pings_and_the_servers_close_code() {
    let (server, sessions, frames) = script_server(Config::default());
    let (handler, rx) = tap();
    let config = ClientConfig::default().ping_period(Some(Duration::from_millis(50)));
    let client = Client::new(config).connect(&url(&server, "/raw"), handler).unwrap();
    opened(&rx);
    let on_server = sessions.recv_timeout(READ_TIMEOUT).unwrap();
    on_server.send_frame(Frame::new(Opcode::Text, false, "Hel")).unwrap();
    on_server.send_frame(Frame::ping("in between")).unwrap();
    on_server.send_frame(Frame::new(Opcode::Continuation, false, "lo, ")).unwrap();
    on_server.send_frame(Frame::new(Opcode::Continuation, true, "board")).unwrap();
    assert_eq!(message(&rx), Message::Text("Hello, board".to_owned()));
    // The client answered the server's ping, and pings by itself (every 50 ms), masked.
    let mut pong = false;
    let mut pings = 0;
    let deadline = Instant::now() + READ_TIMEOUT;
    while (!pong || pings < 2) && Instant::now() < deadline {
        let f = frames.recv_timeout(READ_TIMEOUT).unwrap();
        pong |= f.opcode == Opcode::Pong && f.payload == b"in between";
        pings += usize::from(f.opcode == Opcode::Ping);
    }
    assert!(pong && pings >= 2, "pong {pong}, pings {pings}");
    on_server.send_frame(Frame::close(CloseCode(4002), "server says bye")).unwrap();
    let (reason, error) = closed(&rx);
    assert_eq!((reason.code, reason.reason.as_str()), (CloseCode(4002), "server says bye"));
    assert!(reason.by_peer && reason.was_clean && error.is_none(), "{reason:?} {error:?}");
    let end = client.wait().unwrap();
    assert_eq!(end.code, CloseCode(4002));
}

#[test]
fn a_server_that_never_answers_the_close_is_a_close_timeout() {
    // A scripted server that reads the close frame and never answers.
    let (fake, _thread) = fake_server(accept_ok(""), |s| {
        let mut sink = [0u8; 1024];
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
    });
    let (handler, rx) = tap();
    let config = ClientConfig::default().close_timeout(Duration::from_millis(300));
    let client = Client::new(config).connect(&fake, handler).unwrap();
    opened(&rx);
    let started = Instant::now();
    client.close(CloseCode::NORMAL, "bye");
    let (reason, error) = closed(&rx);
    assert!(started.elapsed() < Duration::from_secs(2), "dropped after the close timeout");
    assert_eq!((reason.code, reason.was_clean), (CloseCode::NORMAL, false));
    assert_eq!(error.as_deref(), Some(Error::CloseTimeout.to_string().as_str()));
    assert!(matches!(client.wait(), Err(Error::CloseTimeout)));
}

#[test]
fn the_client_waits_for_the_servers_fin_within_the_close_timeout() {
    // Answers the close frame but keeps TCP open.
    let (fake, _thread) = fake_server(accept_ok(""), |s| {
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(n >= 2 && buf[0] == 0x88, "a close frame first");
        s.write_all(&[0x88, 0x02, 0x03, 0xe8]).unwrap();
        thread::sleep(Duration::from_millis(1500));
    });
    let (handler, rx) = tap();
    let config = ClientConfig::default().close_timeout(Duration::from_millis(300));
    let client = Client::new(config).connect(&fake, handler).unwrap();
    opened(&rx);
    let started = Instant::now();
    client.close(CloseCode::NORMAL, "");
    let (reason, error) = closed(&rx);
    assert!(reason.was_clean, "both close frames went: {reason:?}");
    assert!(started.elapsed() >= Duration::from_millis(250), "it waited for the FIN");
    assert!(started.elapsed() < Duration::from_millis(1400), "but no longer than the close timeout");
    assert_eq!(error, None, "the closing handshake was complete: a late FIN is no failure");
    assert!(client.wait().unwrap().was_clean);

    // The same when the server closes first: the client answers, then waits for the FIN.
    let (fake, _thread) = fake_server(accept_ok(""), |s| {
        s.write_all(&[0x88, 0x02, 0x0f, 0xa1]).unwrap(); // 4001
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(n >= 2 && buf[0] == 0x88 && buf[1] & 0x80 != 0, "a masked close frame answers");
        thread::sleep(Duration::from_millis(1500));
    });
    let (handler, rx) = tap();
    let config = ClientConfig::default().close_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let client = Client::new(config).connect(&fake, handler).unwrap();
    opened(&rx);
    let (reason, error) = closed(&rx);
    assert_eq!((reason.code, reason.by_peer, reason.was_clean, error), (CloseCode(4001), true, true, None));
    assert!(
        started.elapsed() >= Duration::from_millis(250) && started.elapsed() < Duration::from_millis(1400)
    );
    assert_eq!(client.wait().unwrap().code, CloseCode(4001));
}

#[test]
fn masked_oversized_and_invalid_frames_from_the_server_fail_with_their_codes() {
    // A masking server: RFC 6455 §5.1 forbids it; the client fails with 1002.
    let (server, sessions, frames) = script_server(Config::default().masking(true));
    let (handler, rx) = tap();
    let _client = Client::new(ClientConfig::default()).connect(&url(&server, "/raw"), handler).unwrap();
    opened(&rx);
    sessions
        .recv_timeout(READ_TIMEOUT)
        .unwrap()
        .send_frame(Frame::new(Opcode::Text, true, "masked"))
        .unwrap();
    let (reason, error) = closed(&rx);
    assert_eq!(reason.code, CloseCode::PROTOCOL_ERROR);
    assert_eq!(error, Some(Error::Protocol(ProtocolError::MaskedFrame).to_string()));
    let close = frames.iter().find(|f| f.opcode == Opcode::Close).unwrap();
    assert_eq!(close.close_code(), Some(CloseCode::PROTOCOL_ERROR), "the server was told why");

    for (frame, code) in [
        (Frame::new(Opcode::Binary, true, vec![0; 2000]), CloseCode::TOO_BIG),
        (Frame::new(Opcode::Text, true, vec![0xc3, 0x28]), CloseCode::INVALID_PAYLOAD),
    ] {
        let (server, sessions, frames) = script_server(Config::default());
        let (handler, rx) = tap();
        let config = ClientConfig::default().max_frame_size(1000);
        let _client = Client::new(config).connect(&url(&server, "/raw"), handler).unwrap();
        opened(&rx);
        sessions.recv_timeout(READ_TIMEOUT).unwrap().send_frame(frame).unwrap();
        let (reason, error) = closed(&rx);
        assert_eq!(reason.code, code, "{error:?}");
        let close = frames.iter().find(|f| f.opcode == Opcode::Close).unwrap();
        assert_eq!(close.close_code(), Some(code));
    }
}

#[test]
fn refusals_and_bad_answers_are_typed_errors() {
    let (server, _events) = echo_server(Config::default());
    let connect = |url: &str| Client::new(ClientConfig::default()).connect(url, tap().0).map(|_| ());
    match connect(&url(&server, "/nowhere")) {
        Err(Error::Handshake(HandshakeError::Status { status: 404, body, .. })) => {
            assert!(String::from_utf8_lossy(&body).contains("no WebSocket route"), "{body:?}");
        }
        other => panic!("{other:?}"),
    }
    let origin_checked = start(
        Server::new(Config::default().allowed_origins(Some(["http://good"])))
            .route("/echo", || Recorder { events: crossbeam_channel::unbounded().0 }),
    );
    let bad_origin = Client::new(ClientConfig::default().origin("http://evil"))
        .connect(&url(&origin_checked, "/echo"), tap().0);
    assert!(matches!(bad_origin, Err(Error::Handshake(HandshakeError::Status { status: 403, .. }))));
    let good_origin = Client::new(ClientConfig::default().origin("http://good"))
        .connect(&url(&origin_checked, "/echo"), tap().0);
    assert!(good_origin.is_ok());

    let (fake, _t) = fake_server(
        |_| {
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".to_vec()
        },
        |_| {},
    );
    assert!(matches!(connect(&fake), Err(Error::Handshake(HandshakeError::BadAccept))));
    let (fake, _t) = fake_server(accept_ok("Sec-WebSocket-Protocol: mqtt\r\n"), |_| {});
    assert!(
        matches!(connect(&fake), Err(Error::Handshake(HandshakeError::UnofferedProtocol(p))) if p == "mqtt")
    );
    let (fake, _t) = fake_server(accept_ok("Sec-WebSocket-Extensions: permessage-deflate\r\n"), |_| {});
    assert!(
        matches!(connect(&fake), Err(Error::Handshake(HandshakeError::UnofferedExtension(e))) if e == "permessage-deflate")
    );
    let (fake, _t) = fake_server(|_| b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(), |_| {});
    assert!(matches!(connect(&fake), Err(Error::Handshake(HandshakeError::Malformed(_)))));
    // A server that accepts TCP and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("ws://{}/", silent.local_addr().unwrap());
    let started = Instant::now();
    let config = ClientConfig::default().handshake_timeout(Duration::from_millis(300));
    let r = Client::new(config).connect(&silent_url, tap().0);
    assert!(matches!(r, Err(Error::Handshake(HandshakeError::Timeout))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);
    // Nothing listens: a connect error naming the host.
    let r = connect(&silent_url);
    assert!(matches!(&r, Err(Error::Connect { host, .. }) if silent_url.contains(host.as_str())), "{r:?}");
    assert!(matches!(connect("http://example.com/"), Err(Error::InvalidUrl { .. })));
    #[cfg(not(feature = "tls"))]
    assert!(matches!(connect("wss://example.com/"), Err(Error::InvalidUrl { .. })));
    assert!(matches!(
        Client::new(ClientConfig::default().header("X-Evil", "a\r\nB: c"))
            .connect(&url(&server, "/echo"), tap().0),
        Err(Error::InvalidConfig { option: "header", .. })
    ));
}

#[test]
fn subprotocols_headers_and_the_channel_style() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default()).route_with(
            "/chat",
            Route::channel(move |s: Session| {
                let _ = tx.send((
                    s.protocol().map(str::to_owned),
                    s.request().header("authorization").map(str::to_owned),
                ));
                for m in s.incoming() {
                    let _ = s.send(m);
                }
            })
            .protocols(["v2", "v1"]),
        ),
    );
    let config = ClientConfig::default().protocols(["v1", "v3"]).header("Authorization", "Bearer 42");
    let (got, replies) = crossbeam_channel::unbounded();
    let client = Client::new(config)
        .channel(&url(&server, "/chat"), move |s: Session| {
            assert_eq!(s.protocol(), Some("v1"));
            s.send_text("ping?").unwrap();
            if let Ok(m) = s.incoming().recv_timeout(READ_TIMEOUT) {
                let _ = got.send(m);
            }
        })
        .unwrap();
    assert_eq!(replies.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text("ping?".to_owned()));
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), (Some("v1".to_owned()), Some("Bearer 42".to_owned())));
    // The function returned: the client closed with 1000, and ends.
    let end = client.wait().unwrap();
    assert_eq!((end.code, end.was_clean), (CloseCode::NORMAL, true));
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_as_a_client() {
    let (tx, events) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default())
            .extension(syncws::Deflate::default().client_no_context_takeover(true))
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let (handler, rx) = tap();
    let client = Client::new(ClientConfig::default())
        .extension(syncws::Deflate::default().min_size(0))
        .connect(&url(&server, "/echo"), handler)
        .unwrap();
    let session = opened(&rx);
    assert_eq!(session.extensions(), "permessage-deflate; client_no_context_takeover");
    let Event::Open(on_server) = next(&events) else { panic!() };
    assert!(on_server.extensions().starts_with("permessage-deflate"));
    let texts: Vec<String> = (0..20).map(|i| format!("reading {i}: {}", "21.5C ".repeat(i * 10))).collect();
    for t in &texts {
        session.send_text(t.clone()).unwrap();
    }
    for t in &texts {
        assert_eq!(message(&rx), Message::Text(t.clone()));
    }
    client.close(CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);
}

#[test]
fn reconnects_to_a_restarted_server_and_backs_off_without_one() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let serve = || {
        let (tx, rx) = crossbeam_channel::unbounded();
        let server = Server::new(Config::default())
            .route("/echo", move || Recorder { events: tx.clone() })
            .bind(addr)
            .unwrap();
        (server, rx)
    };
    let (server, _events) = serve();
    let (handler, rx) = tap();
    let policy =
        Reconnect::default().initial_delay(Duration::from_millis(100)).max_delay(Duration::from_millis(400));
    let client = Client::new(ClientConfig::default().reconnect(Some(policy)))
        .connect(&format!("ws://{addr}/echo"), handler)
        .unwrap();
    let first = opened(&rx);
    assert_eq!(first.attempt(), 1);
    client.send("before").unwrap();
    assert_eq!(message(&rx), Message::Text("before".to_owned()));
    // The server goes away: its shutdown closes with 1001.
    server.shutdown();
    let (reason, _) = closed(&rx);
    assert_eq!(reason.code, CloseCode::GOING_AWAY);
    // While it is away, sends are refused and handed back.
    match client.send("while away") {
        Err(e) => assert_eq!(e.into_inner(), Message::Text("while away".to_owned())),
        Ok(()) => panic!("a send while disconnected was accepted"),
    }
    thread::sleep(Duration::from_millis(1200));
    let attempts_while_down = client.attempts();
    // 1.2 s with steps 100, 200, 400, 400 ... ms, each waited between half and all: from 3 to
    // about 9 tries, never a busy loop.
    assert!((3..=10).contains(&attempts_while_down), "{attempts_while_down} attempts in 1.2 s");
    let (_server, _events) = serve();
    let again = opened(&rx);
    assert!(again.attempt() > 1, "attempt {}", again.attempt());
    client.wait_open(READ_TIMEOUT).expect("reconnected").send_text("after").unwrap();
    assert_eq!(message(&rx), Message::Text("after".to_owned()));
    client.close(CloseCode::NORMAL, "");
    let end = client.wait().unwrap();
    assert_eq!(end.code, CloseCode::NORMAL);
}

#[test]
fn reconnect_gives_up_after_max_attempts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    drop(listener);
    let policy = Reconnect::default()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(40))
        .max_attempts(Some(3));
    let started = Instant::now();
    let client = Client::new(ClientConfig::default().reconnect(Some(policy))).connect(&url, tap().0).unwrap();
    let end = client.wait();
    assert!(matches!(end, Err(Error::Connect { .. })), "{end:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A server for one connection that answers the upgrade with `respond(accept key)` and then
/// runs `then` on the socket. Returns its URL.
fn fake_server(
    respond: impl FnOnce(&str) -> Vec<u8> + Send + 'static,
    then: impl FnOnce(&mut TcpStream) + Send + 'static,
) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let thread = thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else { return };
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("the client sends a key")
            .to_owned();
        s.write_all(&respond(&accept(&key))).unwrap();
        then(&mut s);
    });
    (url, thread)
}

/// A correct 101 answer with `extra` header lines.
fn accept_ok(extra: &'static str) -> impl FnOnce(&str) -> Vec<u8> + Send + 'static {
    move |accept| {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n")
            .into_bytes()
    }
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
fn accept(key: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let digest = h.finalize();
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in digest.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63])
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn closing_while_waiting_to_reconnect_ends_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    drop(listener);
    // Long steps: the client is asleep between attempts when it is closed.
    let policy =
        Reconnect::default().initial_delay(Duration::from_secs(20)).max_delay(Duration::from_secs(40));
    let client = Client::new(ClientConfig::default().reconnect(Some(policy))).connect(&url, tap().0).unwrap();
    assert!(wait_until(READ_TIMEOUT, || client.attempts() >= 1));
    thread::sleep(Duration::from_millis(100));
    assert!(!client.is_connected());
    let started = Instant::now();
    client.close(CloseCode::NORMAL, "");
    let end = client.wait();
    assert!(matches!(end, Err(Error::Connect { .. })), "the last attempt's error: {end:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "close woke the wait");
}

#[test]
fn host_names_and_ipv6_addresses_are_dialed() {
    // A name, resolved by the system (localhost is in every /etc/hosts).
    let (server, events) = echo_server(Config::default());
    let (handler, rx) = tap();
    let url = format!("ws://localhost:{}/echo", server.local_addr().port());
    let client = Client::new(ClientConfig::default()).connect(&url, handler).unwrap();
    let session = opened(&rx);
    assert_eq!(
        session.request().header("host"),
        Some(format!("localhost:{}", server.local_addr().port()).as_str())
    );
    let Event::Open(on_server) = next(&events) else { panic!() };
    assert_eq!(on_server.request().header("host"), session.request().header("host"));
    client.close(CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);

    // An IPv6 literal, in brackets in the URL and in the Host header.
    let (tx, events) = crossbeam_channel::unbounded();
    let server = Server::new(Config::default())
        .route("/echo", move || Recorder { events: tx.clone() })
        .bind("[::1]:0")
        .expect("this test needs IPv6 on the loopback interface (::1)");
    let (handler, rx) = tap();
    let url = format!("ws://[::1]:{}/echo", server.local_addr().port());
    let client = Client::new(ClientConfig::default()).connect(&url, handler).unwrap();
    let session = opened(&rx);
    assert!(session.remote_addr().is_ipv6());
    let Event::Open(on_server) = next(&events) else { panic!() };
    assert_eq!(
        on_server.request().header("host"),
        Some(format!("[::1]:{}", server.local_addr().port()).as_str())
    );
    session.send_text("over v6").unwrap();
    assert_eq!(message(&rx), Message::Text("over v6".to_owned()));
    client.close(CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);
}

#[test]
fn a_close_from_the_handler_ends_a_reconnecting_client() {
    struct CloseOnFirst;
    impl Handler for CloseOnFirst {
        fn on_message(&mut self, session: &Session, _: Message) {
            session.close(CloseCode(4100), "enough");
        }
    }
    let (server, events) = echo_server(Config::default());
    let policy = Reconnect::default().initial_delay(Duration::from_millis(20));
    let client = Client::new(ClientConfig::default().reconnect(Some(policy)))
        .connect(&url(&server, "/echo"), CloseOnFirst)
        .unwrap();
    client.wait_open(READ_TIMEOUT).expect("open").send_text("hi").unwrap();
    let end = client.wait().unwrap();
    assert_eq!((end.code, end.by_peer, end.was_clean), (CloseCode(4100), false, true));
    assert_eq!(client_attempts_seen(&events), 1, "no reconnect after the client's own close");
}

/// How many sessions the recording server opened.
fn client_attempts_seen(events: &Receiver<Event>) -> usize {
    let mut opens = 0;
    while let Ok(e) = events.recv_timeout(Duration::from_millis(300)) {
        opens += usize::from(matches!(e, Event::Open(_)));
    }
    opens
}

#[test]
fn closing_during_a_handshake_cuts_it() {
    // Accepts TCP and never answers; the handshake timeout is long.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", silent.local_addr().unwrap());
    let config = ClientConfig::default()
        .handshake_timeout(Duration::from_secs(30))
        .reconnect(Some(Reconnect::default()));
    let client = Client::new(config).connect(&url, tap().0).unwrap();
    let (_held, _) = silent.accept().unwrap();
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    drop(client); // closes with 1001 and waits
    assert!(started.elapsed() < Duration::from_secs(2), "the handshake was cut: {:?}", started.elapsed());
}

#[test]
fn masked_messages_queued_behind_a_full_socket_keep_their_bytes_and_order() {
    // The server's handler sleeps on the first message, so the client's sends fill the socket
    // and some go back from a direct write to the queue (unmasked again) or leave a partial
    // frame for the write loop.
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(Server::new(Config::default().max_message_size(1 << 20)).route_with(
        "/slow",
        Route::channel(move |s: Session| {
            let mut first = true;
            for m in s.incoming() {
                if first {
                    thread::sleep(Duration::from_millis(500));
                    first = false;
                }
                let _ = tx.send(m);
            }
        }),
    ));
    let (handler, events) = tap();
    let client = Client::new(ClientConfig::default().queue_capacity(4))
        .connect(&url(&server, "/slow"), handler)
        .unwrap();
    let session = opened(&events);
    let payload = |i: usize| -> Vec<u8> { (0..64 * 1024).map(|j| (i * 31 + j * 7) as u8).collect() };
    let texts = |i: usize| format!("text {i} {}", "é".repeat(i % 50));
    for i in 0..64 {
        session.send_binary(payload(i)).unwrap();
        session.send_text(texts(i)).unwrap();
    }
    for i in 0..64 {
        assert!(rx.recv_timeout(READ_TIMEOUT).unwrap() == Message::Binary(payload(i)), "binary {i} changed");
        assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), Message::Text(texts(i)));
    }
    client.close(CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);
}
