//! Direct writes (a sender writing to the socket itself when nothing is queued): frames stay
//! whole and in order when the socket fills up mid-frame, when several threads send, and with
//! control frames queued ahead; the same holds with direct writes turned off.

use std::thread;
use std::time::Duration;

use crate::support::*;
use syncws::{Config, Handler, Message, Route, Server, Session};

const BIG: usize = 256 * 1024;
const BIG_COUNT: usize = 40;

/// Message `i` of a burst: its index in the first 4 bytes, then a pattern that depends on it.
fn big(i: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..BIG).map(|j| (j.wrapping_mul(31) ^ i) as u8).collect();
    v[..4].copy_from_slice(&(i as u32).to_be_bytes());
    v
}

/// Sends a 10 MiB burst as soon as the session opens, far more than the socket buffers hold
/// while the client is not reading: direct writes meet a full socket mid-frame.
struct Burst;

impl Handler for Burst {
    fn on_open(&mut self, session: &Session) {
        for i in 0..BIG_COUNT {
            session.send_binary(big(i)).unwrap();
        }
    }
    fn on_message(&mut self, _: &Session, _: Message) {}
}

fn burst_arrives_whole_and_in_order(config: Config) {
    let server = start(Server::new(config.queue_capacity(BIG_COUNT)).route("/burst", || Burst));
    let mut c = Client::connect(server.local_addr(), "/burst");
    // Let the server fill the socket before reading anything.
    thread::sleep(Duration::from_millis(300));
    for i in 0..BIG_COUNT {
        let f = c.read_data().unwrap_or_else(|| panic!("message {i} missing"));
        assert_eq!((f.opcode, f.fin, f.payload.len()), (2, true, BIG), "message {i}");
        assert!(f.payload == big(i), "message {i} corrupted or out of order");
    }
    drop(c);
    server.shutdown();
}

#[test]
fn a_full_socket_mid_frame_loses_nothing() {
    burst_arrives_whole_and_in_order(Config::default());
}

#[test]
fn without_direct_writes_the_write_loop_sends_everything() {
    burst_arrives_whole_and_in_order(Config::default().direct_writes(false));
}

/// Two threads send numbered messages at once: each thread's order must hold.
struct TwoSenders;

const PER_THREAD: usize = 2_000;

impl Handler for TwoSenders {
    fn on_open(&mut self, session: &Session) {
        let other = session.clone();
        let helper = thread::spawn(move || {
            for i in 0..PER_THREAD {
                other.send_text(format!("b{i}")).unwrap();
            }
        });
        for i in 0..PER_THREAD {
            session.send_text(format!("a{i}")).unwrap();
        }
        helper.join().unwrap();
    }
    fn on_message(&mut self, _: &Session, _: Message) {}
}

#[test]
fn each_senders_order_holds_when_threads_race() {
    let server = start(Server::new(Config::default()).route("/two", || TwoSenders));
    let mut c = Client::connect(server.local_addr(), "/two");
    let (mut next_a, mut next_b) = (0, 0);
    for _ in 0..2 * PER_THREAD {
        let f = c.read_data().expect("a message");
        let text = f.text();
        let (expected, n) = if let Some(n) = text.strip_prefix('a') {
            (&mut next_a, n)
        } else {
            (&mut next_b, text.strip_prefix('b').expect("a or b"))
        };
        assert_eq!(n.parse::<usize>().unwrap(), *expected, "order broken at {text}");
        *expected += 1;
    }
    assert_eq!((next_a, next_b), (PER_THREAD, PER_THREAD));
    drop(c);
    server.shutdown();
}

/// A ping sent by the handler goes before a message sent after it (pings may overtake
/// queued messages, never the reverse).
struct PingThenSend;

impl Handler for PingThenSend {
    fn on_message(&mut self, session: &Session, message: Message) {
        for _ in 0..50 {
            session.ping(b"p".to_vec()).unwrap();
            session.send(message.clone()).unwrap();
        }
    }
}

#[test]
fn a_queued_ping_is_not_overtaken_by_a_later_message() {
    let server = start(Server::new(Config::default()).route_with("/p", Route::handler(|| PingThenSend)));
    let mut c = Client::connect(server.local_addr(), "/p");
    c.send_text("m");
    let (mut pings, mut messages) = (0, 0);
    for _ in 0..100 {
        let f = c.read_frame().expect("a frame");
        match f.opcode {
            9 => pings += 1,
            1 => {
                messages += 1;
                assert!(pings >= messages, "message {messages} arrived before its ping");
            }
            op => panic!("unexpected opcode {op}"),
        }
    }
    assert_eq!((pings, messages), (50, 50));
    drop(c);
    server.shutdown();
}
