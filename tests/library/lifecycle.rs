//! Session life: events, panics, dead peers, backpressure, shutdown, channel style, and many
//! clients at once, over real loopback sockets.

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
use syncws::{CloseCode, Config, Message, Route, Server, TrySendError};

#[test]
fn events_come_in_order_and_on_close_runs_once() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.send_text("one");
    c.send_binary(&[2]);
    assert_eq!(c.read_data().unwrap().text(), "one");
    c.send_close(1000, "");
    c.expect_close();
    assert!(matches!(next(&events), Event::Open(_)));
    assert!(matches!(next(&events), Event::Message(Message::Text(t)) if t == "one"));
    assert!(matches!(next(&events), Event::Message(Message::Binary(b)) if b == [2]));
    assert!(matches!(next(&events), Event::Close(r) if r.code == CloseCode::NORMAL && r.was_clean));
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err(), "nothing after on_close");
}

#[test]
fn a_panicking_handler_closes_only_its_connection_with_1011() {
    let (server, events) = recording(Config::default());
    let addr = server.local_addr();
    let mut bystander = Client::connect(addr, "/echo");
    let mut c = Client::connect(addr, "/echo");
    c.send_text("panic");
    assert_eq!(c.expect_close().0, 1011);
    c.send_close(1011, "");
    let mut saw_error = false;
    let mut closes = 0;
    while let Ok(e) = events.recv_timeout(Duration::from_millis(500)) {
        match e {
            Event::Error(e) => saw_error |= e.contains("panicked"),
            Event::Close(r) => {
                assert_eq!(r.code, CloseCode::INTERNAL_ERROR);
                closes += 1;
            }
            _ => {}
        }
    }
    assert!(saw_error, "on_error reports the panic");
    assert_eq!(closes, 1, "on_close still runs, once");
    bystander.send_text("unaffected");
    assert_eq!(bystander.read_data().unwrap().text(), "unaffected");
    assert!(Client::connect_with(addr, &upgrade_request("/echo", "")).is_ok(), "server lives on");
}

#[test]
fn a_dead_peer_is_dropped_within_ping_period_plus_timeout() {
    let period = Duration::from_millis(200);
    let timeout = Duration::from_millis(300);
    let (server, events) = recording(Config::default().ping_period(Some(period)).timeout(timeout));
    // The client completes the handshake, then neither reads nor answers: a pulled cable.
    let c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(_) = next(&events) else { panic!() };
    let opened = Instant::now();
    let r = close_event(&events);
    let took = opened.elapsed();
    assert_eq!((r.code, r.was_clean), (CloseCode::ABNORMAL, false));
    assert!(r.reason.contains("ping"), "{r:?}");
    assert!(took >= period + timeout - Duration::from_millis(50), "too early: {took:?}");
    assert!(took < period + timeout + Duration::from_millis(700), "too late: {took:?}");
    drop(c);
}

#[test]
fn a_live_peer_answering_pings_is_kept() {
    let (server, events) = recording(
        Config::default().ping_period(Some(Duration::from_millis(100))).timeout(Duration::from_millis(150)),
    );
    let mut c = Client::connect(server.local_addr(), "/echo");
    let mut pings = 0;
    let deadline = Instant::now() + Duration::from_millis(900);
    while Instant::now() < deadline {
        let f = c.read_frame().expect("connection must stay up");
        assert_eq!(f.opcode, 9, "only pings expected");
        pings += 1;
        c.send_frame(true, 10, &f.payload, true);
    }
    assert!((4..=12).contains(&pings), "{pings} pings in 900 ms at a 100 ms period");
    assert!(matches!(next(&events), Event::Open(_)));
    assert!(events.try_recv().is_err(), "no close while answering pings");
}

#[test]
fn graceful_shutdown_sends_1001_after_everything_queued() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default().queue_capacity(1000))
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let mut clients: Vec<Client> = (0..5).map(|_| Client::connect(server.local_addr(), "/echo")).collect();
    let sessions: Vec<_> = (0..5)
        .map(|_| match next(&rx) {
            Event::Open(s) => s,
            e => panic!("{e:?}"),
        })
        .collect();
    for s in &sessions {
        for i in 0..500 {
            s.send_text(format!("m{i}")).unwrap();
        }
    }
    let readers: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            thread::spawn(move || {
                let mut got = 0;
                loop {
                    let f = c.read_frame().expect("frames until close");
                    if f.opcode == 8 {
                        c.send_close(1001, "");
                        return (got, f.close().0, c.sees_eof());
                    }
                    assert_eq!(f.text(), format!("m{got}"), "in order, nothing lost");
                    got += 1;
                }
            })
        })
        .collect();
    let started = Instant::now();
    assert_eq!(server.shutdown(), 0, "every connection thread ended");
    assert!(started.elapsed() < Duration::from_secs(5));
    for r in readers {
        let (got, code, eof) = r.join().unwrap();
        assert_eq!((got, code, eof), (500, 1001, true));
    }
    for s in &sessions {
        assert!(s.send_text("after").is_err());
        assert_eq!(s.close_reason().unwrap().code, CloseCode::GOING_AWAY);
    }
}

#[test]
fn shutdown_is_bounded_even_if_peers_never_answer() {
    let (server, _events) = recording(Config::default().close_timeout(Duration::from_millis(200)));
    let _silent: Vec<Client> = (0..3).map(|_| Client::connect(server.local_addr(), "/echo")).collect();
    let _half = TcpStream::connect(server.local_addr()).unwrap(); // never sends a request
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    assert_eq!(server.shutdown(), 0);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn channel_style_route_iterates_incoming() {
    let server = start(Server::new(Config::default()).channel_route("/ktor", |session| {
        for message in session.incoming() {
            if message.as_text() == Some("bye") {
                session.close(CloseCode::NORMAL, "Client said BYE");
                break;
            }
            let reply = format!("YOU SAID: {}", message.as_text().unwrap_or("<binary>"));
            if session.send_text(reply).is_err() {
                break;
            }
        }
    }));
    let mut c = Client::connect(server.local_addr(), "/ktor");
    c.send_text("hello");
    assert_eq!(c.read_data().unwrap().text(), "YOU SAID: hello");
    c.send_text("bye");
    assert_eq!(c.expect_close(), (1000, "Client said BYE".to_owned()));
}

#[test]
fn channel_function_returning_closes_with_1000_and_panicking_with_1011() {
    let server = start(
        Server::new(Config::default())
            .channel_route("/once", |s| {
                let first = s.incoming().recv().unwrap();
                s.send(first).unwrap();
            })
            .channel_route("/boom", |_| panic!("boom")),
    );
    let mut c = Client::connect(server.local_addr(), "/once");
    c.send_text("only");
    assert_eq!(c.read_data().unwrap().text(), "only");
    assert_eq!(c.expect_close().0, 1000);
    let mut c = Client::connect(server.local_addr(), "/boom");
    assert_eq!(c.expect_close().0, 1011);
}

#[test]
fn try_send_reports_full_and_send_unblocks_when_the_peer_reads() {
    let (server, events) = recording(Config::default().queue_capacity(4));
    let mut c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(s) = next(&events) else { panic!() };
    // The client reads nothing: fill the socket buffers, then the queue, until try_send has
    // kept failing for 200 ms (the kernel may still take a little while the writer writes).
    let big = vec![7u8; 256 * 1024];
    let (mut sent, mut full_streak) = (0, 0);
    for _ in 0..2000 {
        match s.try_send(Message::Binary(big.clone())) {
            Ok(()) => {
                sent += 1;
                full_streak = 0;
            }
            Err(e) => {
                assert!(e.is_full(), "{e:?}");
                assert_eq!(e.into_inner().len(), big.len(), "the message is handed back");
                full_streak += 1;
                if full_streak == 40 {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
    }
    assert_eq!(full_streak, 40, "the queue must stay full while nobody reads");
    let queued = sent;
    let sender = s.clone();
    let blocked = thread::spawn(move || sender.send(Message::Text("last".into())).is_ok());
    thread::sleep(Duration::from_millis(100));
    assert!(!blocked.is_finished(), "send blocks while the queue is full");
    for _ in 0..queued {
        assert_eq!(c.read_data().unwrap().payload.len(), big.len());
    }
    assert!(blocked.join().unwrap());
    assert_eq!(c.read_data().unwrap().text(), "last");
    s.close(CloseCode::NORMAL, "");
    assert!(matches!(s.try_send("x"), Err(TrySendError::Closed(_))));
}

#[test]
fn sessions_can_send_from_other_threads() {
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(s) = next(&events) else { panic!() };
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    s.send_text(format!("{t}:{i}")).unwrap();
                }
            })
        })
        .collect();
    for h in senders {
        h.join().unwrap();
    }
    let mut last = [-1i32; 4];
    for _ in 0..200 {
        let f = c.read_data().unwrap();
        let (t, i) = f.text().split_once(':').unwrap();
        let (t, i): (usize, i32) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, last[t] + 1, "each thread's messages stay in order");
        last[t] = i;
    }
    assert_eq!(last, [49; 4]);
}

#[test]
fn hundreds_of_concurrent_clients() {
    const CLIENTS: usize = 300;
    const MESSAGES: usize = 20;
    let (server, _events) = recording(Config::default().ping_period(Some(Duration::from_secs(1))));
    let addr = server.local_addr();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut c = Client::connect(addr, "/echo");
                    for i in 0..MESSAGES {
                        let text = format!("client {n} message {i}");
                        c.send_text(&text);
                        assert_eq!(c.read_data().unwrap().text(), text);
                    }
                    c.send_close(1000, "");
                    assert_eq!(c.expect_close().0, 1000);
                    assert!(c.sees_eof());
                })
                .unwrap()
        })
        .collect();
    let mut ok = 0;
    for h in clients {
        ok += usize::from(h.join().is_ok());
    }
    assert_eq!(ok, CLIENTS);
    assert!(wait_until(Duration::from_secs(5), || server.connections() == 0));
}

#[test]
fn idle_connection_without_pings_stays_open() {
    let (server, _events) = recording(Config::default().ping_period(None));
    let mut c = Client::connect(server.local_addr(), "/echo");
    c.stream.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut buf = [0u8; 16];
    let r = c.stream.read(&mut buf);
    assert!(r.is_err(), "no ping, no close: {r:?}");
    c.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    c.send_text("still open");
    assert_eq!(c.read_data().unwrap().text(), "still open");
}

#[test]
fn routes_with_options_coexist() {
    let server = start(
        Server::new(Config::default())
            .route_with(
                "/a",
                Route::channel(|s| {
                    for m in s.incoming() {
                        let _ = s.send_text(format!("a:{}", m.as_text().unwrap_or("")));
                    }
                }),
            )
            .route_with(
                "/b",
                Route::channel(|s| {
                    for m in s.incoming() {
                        let _ = s.send_text(format!("b:{}", m.as_text().unwrap_or("")));
                    }
                }),
            ),
    );
    let mut a = Client::connect(server.local_addr(), "/a");
    let mut b = Client::connect(server.local_addr(), "/b");
    a.send_text("x");
    b.send_text("y");
    assert_eq!(a.read_data().unwrap().text(), "a:x");
    assert_eq!(b.read_data().unwrap().text(), "b:y");
}

/// Sleeps in `on_message` for the number of milliseconds the message says, then echoes it;
/// `flood` sends 64 KiB messages until sending fails.
struct Slow(crossbeam_channel::Sender<syncws::CloseReason>);

impl syncws::Handler for Slow {
    fn on_message(&mut self, session: &syncws::Session, message: Message) {
        match message.as_text() {
            Some("flood") => while session.send_binary(vec![0u8; 64 * 1024]).is_ok() {},
            Some(ms) => {
                thread::sleep(Duration::from_millis(ms.parse().unwrap()));
                let _ = session.send(message);
            }
            None => {}
        }
    }
    fn on_close(&mut self, _session: &syncws::Session, reason: &syncws::CloseReason) {
        let _ = self.0.send(reason.clone());
    }
}

fn slow_server(
    period_ms: u64,
    timeout_ms: u64,
) -> (syncws::ServerHandle, crossbeam_channel::Receiver<syncws::CloseReason>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let config = Config::default()
        .ping_period(Some(Duration::from_millis(period_ms)))
        .timeout(Duration::from_millis(timeout_ms))
        .queue_capacity(4);
    (start(Server::new(config).route("/slow", move || Slow(tx.clone()))), rx)
}

#[test]
fn a_slow_handler_is_not_mistaken_for_a_dead_peer() {
    let (server, closes) = slow_server(100, 200);
    let mut c = Client::connect(server.local_addr(), "/slow");
    // The handler sleeps 1.2 s: several ping periods and timeouts. The client answers every
    // ping, but the pongs wait unread in the server's socket until the handler returns.
    c.send_text("1200");
    let reply = loop {
        let f = c.read_frame().expect("the connection must survive the slow handler");
        match f.opcode {
            9 => c.send_frame(true, 10, &f.payload, true),
            _ => break f,
        }
    };
    assert_eq!(reply.text(), "1200");
    assert!(closes.try_recv().is_err());
}

#[test]
fn a_dead_peer_is_dropped_even_while_the_handler_is_blocked_sending_to_it() {
    let (server, closes) = slow_server(200, 300);
    let mut c = Client::connect(server.local_addr(), "/slow");
    // The handler floods a client that never reads again: its send blocks on the full queue.
    c.send_text("flood");
    let started = Instant::now();
    let r = closes.recv_timeout(Duration::from_secs(5)).expect("dead peer must be dropped");
    assert!(r.reason.contains("ping"), "{r:?}");
    assert!(started.elapsed() < Duration::from_millis(200 + 300 + 1000), "{:?}", started.elapsed());
    drop(c);
}
