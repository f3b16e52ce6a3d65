//! The write loop's thread starts on demand and parks when quiet: an echo with pings on never
//! starts it; a backlog starts it, it parks after its quiet period (2 s) and starts again for
//! the next backlog, in order; a deflate stream keeps its compression context across parked
//! periods. Threads are told apart by name (`syncws-w<session id>`), as `/proc` shows them.

use std::time::Duration;

use crossbeam_channel::Sender;

use crate::support::*;
use syncws::{Config, Handler, Message, Server, Session};

/// Whether this process has a thread named after `session`'s write loop.
fn write_loop_runs(session: u64) -> bool {
    let name = format!("syncws-w{session}");
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim_end() == name)
    })
}

/// Echoes every message, and tells the test its session and every message's arrival.
struct Echo(Sender<Session>);

impl Handler for Echo {
    fn on_open(&mut self, session: &Session) {
        self.0.send(session.clone()).unwrap();
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = session.send(message);
    }
}

#[test]
fn an_echo_with_pings_on_never_starts_the_write_loop() {
    let config = Config::default().ping_period(Some(Duration::from_millis(50)));
    let (tx, sessions) = crossbeam_channel::unbounded();
    let server = start(Server::new(config).route("/echo", move || Echo(tx.clone())));
    let mut c = Client::open(server.local_addr(), "/echo", Duration::from_secs(5)).unwrap();
    let session = sessions.recv_timeout(Duration::from_secs(5)).unwrap();
    for i in 0..200 {
        let text = format!("message {i}");
        c.send_message(text.as_bytes(), true).unwrap();
        // recv_message answers the pings that arrive in between.
        assert_eq!(c.recv_message().unwrap().text(), text);
    }
    // Several pings go out (and are answered) while the connection idles.
    let mut pings = 0;
    c.send_frame(true, 9, b"are you there", true);
    for _ in 0..1_000 {
        let f = c.read_frame().expect("a frame");
        match f.opcode {
            9 => {
                pings += 1;
                c.send_frame(true, 10, &f.payload, true);
                if pings == 5 {
                    break;
                }
            }
            10 => assert_eq!(f.payload, b"are you there"),
            other => panic!("unexpected frame {other}"),
        }
    }
    assert_eq!(pings, 5);
    assert!(session.is_open());
    assert!(!write_loop_runs(session.id()), "the write loop started for direct writes only");
    server.shutdown();
}

/// Sends `count` numbered 256 KiB messages when asked (a message "burst N"), far more than the
/// socket takes while the client does not read.
struct Burst(Sender<Session>);

const BIG: usize = 256 * 1024;
const BURST: usize = 64;

fn big(i: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..BIG).map(|j| (j.wrapping_mul(7) ^ i) as u8).collect();
    v[..4].copy_from_slice(&(i as u32).to_be_bytes());
    v
}

impl Handler for Burst {
    fn on_open(&mut self, session: &Session) {
        self.0.send(session.clone()).unwrap();
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        let (from, count) = message.as_text().and_then(|t| t.split_once(' ')).unwrap();
        let from: usize = from.parse().unwrap();
        for i in from..from + count.parse::<usize>().unwrap() {
            session.send_binary(big(i)).unwrap();
        }
    }
}

fn read_burst(c: &mut Client, from: usize, count: usize) {
    for i in from..from + count {
        let f = c.read_data().unwrap_or_else(|| panic!("message {i} missing"));
        assert_eq!(f.payload.len(), BIG, "message {i}");
        assert!(f.payload == big(i), "message {i} corrupted or out of order");
    }
}

#[test]
fn a_backlog_starts_the_write_loop_which_parks_when_quiet_and_starts_again() {
    let (tx, sessions) = crossbeam_channel::unbounded();
    let server = start(Server::new(Config::default()).route("/burst", move || Burst(tx.clone())));
    let mut c = Client::connect(server.local_addr(), "/burst");
    let session = sessions.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(!write_loop_runs(session.id()), "no write loop before anything waits");
    for round in 0..2 {
        // 16 MiB cannot all go out while the client is not reading (loopback buffers grow to
        // a few MiB at most): the rest waits.
        let from = round * BURST;
        c.send_text(&format!("{from} {BURST}"));
        assert!(
            wait_until(Duration::from_secs(5), || write_loop_runs(session.id())),
            "round {round}: a backlog must start the write loop"
        );
        read_burst(&mut c, from, BURST);
        // Quiet for its quiet period (2 s): the thread parks and exits.
        assert!(
            wait_until(Duration::from_secs(10), || !write_loop_runs(session.id())),
            "round {round}: the write loop did not park when quiet"
        );
        assert!(session.is_open());
    }
    server.shutdown();
}

#[cfg(feature = "deflate")]
#[test]
fn a_deflate_stream_keeps_its_context_across_parked_periods() {
    let (tx, sessions) = crossbeam_channel::unbounded();
    let server = Server::new(Config::default()).extension(syncws::Deflate::default());
    let server = start(server.route("/echo", move || Echo(tx.clone())));
    let mut c = Client::open_deflate(server.local_addr(), "/echo", Duration::from_secs(10)).unwrap();
    let session = sessions.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(!session.extensions().contains("server_no_context_takeover"), "{}", session.extensions());
    let text = "the same words again and again, which context takeover compresses well ".repeat(20);
    for round in 0..2 {
        // Messages through the encoder start the write loop.
        c.send_message(text.as_bytes(), true).unwrap();
        assert_eq!(c.recv_message().unwrap().text(), text, "round {round}");
        assert!(write_loop_runs(session.id()), "round {round}: the encoder runs on the write loop");
        assert!(
            wait_until(Duration::from_secs(10), || !write_loop_runs(session.id())),
            "round {round}: the write loop did not park when quiet"
        );
    }
    // The server's window survived both parks: a later message refers back to the earlier
    // ones, a few bytes on the wire instead of about 100 without the context.
    c.send_message(text.as_bytes(), true).unwrap();
    let f = c.next_frame().unwrap();
    assert_eq!(f.rsv, 0b100, "compressed");
    assert!(f.payload.len() < 40, "{} bytes: the context was lost", f.payload.len());
    server.shutdown();
}

/// Joins a broadcast hub when the session opens.
struct HubMember(syncws::Broadcast, Sender<Session>);

impl Handler for HubMember {
    fn on_open(&mut self, session: &Session) {
        self.0.join(session);
        self.1.send(session.clone()).unwrap();
    }
    fn on_message(&mut self, _: &Session, _: Message) {}
}

/// A session in a broadcast hub starts its write loop when it joins and keeps it past the quiet
/// period: publishing to many members must never start a thread per member.
#[test]
fn a_broadcast_member_keeps_its_write_loop() {
    let hub = syncws::Broadcast::new(syncws::SlowConsumer::DropNewest);
    let (tx, sessions) = crossbeam_channel::unbounded();
    let h = hub.clone();
    let server =
        start(Server::new(Config::default()).route("/hub", move || HubMember(h.clone(), tx.clone())));
    let mut c = Client::connect(server.local_addr(), "/hub");
    let session = sessions.recv_timeout(Duration::from_secs(5)).unwrap();
    // The new thread names itself as it starts.
    assert!(
        wait_until(Duration::from_secs(5), || write_loop_runs(session.id())),
        "joining started the write loop"
    );
    // Longer than the quiet period (2 s): it stays.
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(write_loop_runs(session.id()), "a member's write loop parked");
    assert_eq!(hub.publish("after the quiet period").queued, 1);
    assert_eq!(c.read_data().unwrap().text(), "after the quiet period");
    server.shutdown();
}
