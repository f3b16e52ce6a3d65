//! Test support: servers on 127.0.0.1:0, a recording handler, and the raw WebSocket client
//! (the `wsclient` crate beside this file, shared with syncws-bench), with which tests break
//! every rule on purpose. Every read has a timeout.
#![allow(dead_code)]

use std::time::{Duration, Instant};

pub use wsclient::*;

use syncws::{Server, ServerHandle};

pub fn start(server: Server) -> ServerHandle {
    server.bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// The environment variable that lets tests install peers (apt, PyPI, npm) and run Chromium.
pub const PEER_TESTS: &str = "SYNCWS_PEER_TESTS";

/// Called by every test that installs a peer. Such tests are `#[ignore]`d, so that a plain
/// `cargo test` needs no root and no network and lists them as ignored, with the reason;
/// `scripts/test.sh` sets `SYNCWS_PEER_TESTS=1` and runs them with `--include-ignored`. Run
/// with `--include-ignored` alone, they fail here instead of installing anything.
pub fn require_peer_tests(what: &str) {
    assert_eq!(
        std::env::var(PEER_TESTS).as_deref(),
        Ok("1"),
        "this test {what}: set {PEER_TESTS}=1 to allow it (scripts/test.sh does)"
    );
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

use crossbeam_channel::{Receiver, Sender};
use syncws::{CloseReason, Config, Handler, Message, Session};

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone)]
pub enum Event {
    Open(Session),
    Message(Message),
    Error(String),
    Close(CloseReason),
}

/// A handler that echoes and reports every event on a channel.
pub struct Recorder {
    pub events: Sender<Event>,
}

impl Handler for Recorder {
    fn on_open(&mut self, session: &Session) {
        let _ = self.events.send(Event::Open(session.clone()));
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = self.events.send(Event::Message(message.clone()));
        if message.as_text() == Some("panic") {
            panic!("handler asked to panic");
        }
        let _ = session.send(message);
    }
    fn on_error(&mut self, _session: &Session, error: &syncws::Error) {
        let _ = self.events.send(Event::Error(error.to_string()));
    }
    fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

/// A server with a recording echo handler on `/echo`.
pub fn recording(config: Config) -> (ServerHandle, Receiver<Event>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(Server::new(config).route("/echo", move || Recorder { events: tx.clone() }));
    (server, rx)
}

/// The next event, within the read timeout.
pub fn next(events: &Receiver<Event>) -> Event {
    events.recv_timeout(READ_TIMEOUT).expect("no event in time")
}

/// Skips events until the close event; returns its reason.
pub fn close_event(events: &Receiver<Event>) -> CloseReason {
    for _ in 0..1000 {
        if let Event::Close(r) = next(events) {
            return r;
        }
    }
    panic!("no close event");
}
