//! Misbehaving peers (issue 17, point 3), each with what must hold. Already covered elsewhere,
//! not repeated here: a single trickling handshake cut at `handshake_timeout`
//! (`tests/library/handshake.rs`, `slow_loris_is_cut_by_the_overall_deadline`), a dead peer
//! dropped while the handler is blocked sending to it
//! (`tests/library/lifecycle.rs`), a 1 GiB frame header refused before its payload
//! (`tests/library/protocol.rs`), and floods of refused connections and trickled refusals
//! (`tests/refusals.rs`). Here:
//!
//! - a peer that never reads while the server floods it: the server's memory for it stays
//!   bounded by its queue, `send` blocks and `try_send` reports `Full`, the blocked `send` fails
//!   once the peer goes, and another connection keeps its throughput meanwhile;
//! - 1,000 half-finished handshakes with `max_connections` 1,024: all cut at
//!   `handshake_timeout`, while a well-behaved client is served;
//! - a ping flood, a request and frames written one byte per TCP segment, frame headers that
//!   promise 2^63 - 1 and 2^63 bytes, an RST in the middle of a frame, data after a close frame;
//! - connections to `syncws-echo` opened and reset at once (2,000 by default, the count that
//!   fits CI's time; `SYNCWS_STORM=10000` with the release binary in `scripts/faults.sh`): its
//!   threads and descriptors come back to their baseline, its memory near it, and it serves
//!   the next client.
//!
//! Its own test binary: it raises the process's descriptor limit and measures the process's
//! memory, so its tests take turns.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::*;
use syncws::{CloseCode, Config, Handler, Message, Server, Session, TrySendError};

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Raises the soft descriptor limit to `want` (or fails: the test needs them).
#[allow(unsafe_code)]
fn raise_open_files(want: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the rlimit structs passed by reference.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur >= want {
            return;
        }
        let new = libc::rlimit { rlim_cur: want.min(lim.rlim_max), rlim_max: lim.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
    }
    assert!(lim.rlim_max >= want, "this test needs {want} descriptors; the hard limit is {}", lim.rlim_max);
}

/// 1,000 round trips of 1 KiB on a fresh connection: round trips per second.
fn echo_rate(addr: SocketAddr) -> f64 {
    let mut c = Client::connect(addr, "/echo");
    let payload = vec![7u8; 1024];
    let started = Instant::now();
    for _ in 0..1000 {
        c.send_binary(&payload);
        assert_eq!(c.read_data().expect("echo").payload.len(), 1024);
    }
    1000.0 / started.elapsed().as_secs_f64()
}

/// `/flood`: on "flood", sends 64 KiB messages with `send` until it fails, counting them.
struct Flood {
    sent: Arc<AtomicUsize>,
    ended: crossbeam_channel::Sender<(usize, Session)>,
}

impl Handler for Flood {
    fn on_message(&mut self, session: &Session, message: Message) {
        if message.as_text() == Some("flood") {
            let _ = self.ended.send((usize::MAX, session.clone())); // the session, for try_send
            let mut n = 0;
            while session.send(Message::Binary(vec![1u8; 64 * 1024])).is_ok() {
                n += 1;
                self.sent.store(n, Ordering::SeqCst);
            }
            let _ = self.ended.send((n, session.clone()));
        } else {
            let _ = session.send(message);
        }
    }
}

/// A peer that never reads: the server's sends block once its queue (64 messages of 64 KiB)
/// and the socket buffers are full; its memory grows by about the queue, not more; `try_send`
/// says `Full`; another connection's echo rate stays; when the peer goes, the blocked `send`
/// fails and the handler returns.
#[test]
fn a_peer_that_never_reads_costs_its_queue_and_slows_no_one_else() {
    let _turn = turn();
    let sent = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = crossbeam_channel::unbounded();
    let s2 = sent.clone();
    let (echo_tx, _) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default().queue_capacity(64))
            .route("/echo", move || Flood { sent: Arc::new(AtomicUsize::new(0)), ended: echo_tx.clone() })
            .route("/flood", move || Flood { sent: s2.clone(), ended: tx.clone() }),
    );
    let addr = server.local_addr();
    let before_rate = echo_rate(addr);
    let rss_before = ProcessSample::of("self").rss_kib;
    let mut stalled = Client::connect(addr, "/flood");
    stalled.send_text("flood");
    let (_, session) = rx.recv_timeout(READ_TIMEOUT).unwrap();
    // Wait until the count stops growing: the send is blocked.
    let mut last = usize::MAX;
    assert!(wait_until(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_millis(300));
        let now = sent.load(Ordering::SeqCst);
        std::mem::replace(&mut last, now) == now && now > 0
    }));
    let blocked_at = sent.load(Ordering::SeqCst);
    let rss_stalled = ProcessSample::of("self").rss_kib;
    let during_rate = echo_rate(addr);
    let full = matches!(session.try_send(Message::Text("more".into())), Err(TrySendError::Full(_)));
    assert_eq!(sent.load(Ordering::SeqCst), blocked_at, "still blocked");
    let grown = rss_stalled.saturating_sub(rss_before);
    println!(
        "never-reading peer: send blocked after {blocked_at} messages of 64 KiB (queue 64, the rest \
         in socket buffers), the process grew by {grown} KiB; try_send full: {full}; another \
         connection's echo: {before_rate:.0} round trips/s before, {during_rate:.0} during"
    );
    assert!(full, "try_send reports Full while the queue is full");
    // 64 queued messages of 64 KiB are 4 MiB; the socket buffers are kernel memory. 12 MiB of
    // margin for the allocator and the other connection.
    assert!(grown < 16 * 1024, "memory grew by {grown} KiB");
    assert!(blocked_at < 64 + 200, "{blocked_at} messages taken before send blocked");
    assert!(during_rate > before_rate / 4.0, "throughput {during_rate:.0} against {before_rate:.0}");
    let gone = Instant::now();
    reset_on_drop(&stalled.stream);
    drop(stalled);
    let (n, _) = rx.recv_timeout(Duration::from_secs(10)).expect("the blocked send fails once the peer goes");
    assert_eq!(n, blocked_at);
    println!("the blocked send failed {:?} after the peer's RST", gone.elapsed());
    assert!(wait_until(Duration::from_secs(10), || server.connections() == 0));
}

/// 1,000 connections send part of a request head, then a byte every 500 ms; `handshake_timeout`
/// is 2 s (the default 10 s, scaled: the deadline is for the whole head, so trickling does not
/// extend it). Every one must be cut between 2 s and 2 s + 5 s of slack (a loaded machine) after it connected,
/// and a well-behaved client connecting in the middle must be served at once (1,000 < 1,024).
#[test]
fn a_thousand_slowloris_handshakes_are_cut_while_a_good_client_is_served() {
    let _turn = turn();
    raise_open_files(4096);
    let timeout = Duration::from_secs(2);
    let (server, events) = recording(Config::default().max_connections(1024).handshake_timeout(timeout));
    let addr = server.local_addr();
    const N: usize = 1000;
    let mut loris = Vec::with_capacity(N);
    for _ in 0..N {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n").unwrap();
        s.set_nonblocking(true).unwrap();
        loris.push((s, Instant::now(), None::<Duration>));
    }
    let opened = Instant::now();
    // A well-behaved client, now.
    let good = Instant::now();
    let mut c = Client::open(addr, "/echo", READ_TIMEOUT).expect("served while 1,000 handshakes hang");
    c.send_text("served");
    assert_eq!(c.read_data().unwrap().text(), "served");
    let good_took = good.elapsed();
    let live_during = server.connections();
    let mut buf = [0u8; 512];
    let mut rounds = 0;
    while loris.iter().any(|l| l.2.is_none()) && opened.elapsed() < timeout + Duration::from_secs(10) {
        rounds += 1;
        for (s, at, cut) in loris.iter_mut().filter(|l| l.2.is_none()) {
            let ended = match s.read(&mut buf) {
                Ok(0) => true,
                Ok(_) => false, // the 408 answer; EOF follows
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Trickle a header byte every 5 rounds (about 500 ms).
                    rounds % 5 == 0 && s.write_all(b"X").is_err()
                }
                Err(_) => true,
            };
            if ended {
                *cut = Some(at.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let cuts: Vec<Duration> = loris.iter().filter_map(|l| l.2).collect();
    let (first, last) = (cuts.iter().min().copied(), cuts.iter().max().copied());
    let after = Instant::now();
    let mut c2 = Client::open(addr, "/echo", READ_TIMEOUT).unwrap();
    c2.send_text("after");
    assert_eq!(c2.read_data().unwrap().text(), "after");
    println!(
        "slowloris: {} of {N} cut, {first:?} to {last:?} after connecting (handshake_timeout \
         {timeout:?}); a good client served in {good_took:?} with {live_during} connections \
         live, another in {:?} after",
        cuts.len(),
        after.elapsed()
    );
    assert_eq!(cuts.len(), N, "every half-made handshake is cut");
    assert!(first.unwrap() >= timeout - Duration::from_millis(100), "cut too early: {first:?}");
    assert!(last.unwrap() <= timeout + Duration::from_secs(5), "cut too late: {last:?}");
    assert!(good_took < Duration::from_secs(2), "the good client waited {good_took:?}");
    drop((c, c2));
    drop(events);
}

/// 20,000 pings of 125 bytes written as fast as the socket takes them, read meanwhile: the
/// server answers pongs (perhaps fewer: RFC 6455 lets it answer the latest), each pong is the
/// payload of a ping it got, in order, and a text message after the flood is echoed.
#[test]
fn a_ping_flood_is_answered_in_order_and_the_connection_works_after() {
    let _turn = turn();
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    let mut writer = c.stream.try_clone().unwrap();
    const N: u32 = 20_000;
    let started = Instant::now();
    let flood = std::thread::spawn(move || {
        let mut out = Vec::new();
        for i in 0..N {
            let mut payload = i.to_be_bytes().to_vec();
            payload.resize(125, b'p');
            out.extend(wsclient::encode(true, 0, 9, &payload, true));
            if out.len() > 64 * 1024 || i == N - 1 {
                writer.write_all(&out).unwrap();
                out.clear();
            }
        }
        writer.write_all(&wsclient::encode(true, 0, 1, b"after the flood", true)).unwrap();
    });
    let (mut pongs, mut last) = (0u32, None::<u32>);
    let echo = loop {
        let f = c.read_frame().expect("frames until the echo");
        match f.opcode {
            10 => {
                let i = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
                assert!(i < N && last.is_none_or(|l| i > l), "pong {i} after {last:?}");
                assert_eq!(f.payload.len(), 125);
                (pongs, last) = (pongs + 1, Some(i));
            }
            1 => break f,
            other => panic!("opcode {other}"),
        }
    };
    flood.join().unwrap();
    println!("ping flood: {N} pings, {pongs} pongs in order, then the echo, in {:?}", started.elapsed());
    assert_eq!(echo.text(), "after the flood");
    assert_eq!(last, Some(N - 1), "the last ping is answered ({pongs} pongs)");
    assert!(matches!(next(&events), Event::Open(_)));
    assert!(matches!(next(&events), Event::Message(m) if m.as_text() == Some("after the flood")));
}

/// The upgrade request and three frames (text, ping, a 300-byte binary) written one byte per
/// write with TCP_NODELAY and a pause, so one byte per TCP segment: all answered as whole.
#[test]
fn one_byte_per_segment_is_reassembled() {
    let _turn = turn();
    let (server, _events) = recording(Config::default());
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let binary: Vec<u8> = (0..300).map(|i| i as u8).collect();
    let mut bytes = upgrade_request("/echo", "").into_bytes();
    bytes.extend(wsclient::encode(true, 0, 1, "héllo, one byte at a time".as_bytes(), true));
    bytes.extend(wsclient::encode(true, 0, 9, b"ping!", true));
    bytes.extend(wsclient::encode(true, 0, 2, &binary, true));
    let started = Instant::now();
    for b in &bytes {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_micros(500));
    }
    let mut input = Vec::new();
    let mut frames = Vec::new();
    let mut buf = [0u8; 4096];
    while frames.len() < 3 && started.elapsed() < Duration::from_secs(20) {
        let n = s.read(&mut buf).expect("answers");
        assert!(n > 0, "EOF after {} frames", frames.len());
        input.extend_from_slice(&buf[..n]);
        if let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n").filter(|_| frames.is_empty()) {
            if input.starts_with(b"HTTP/1.1 101") {
                input.drain(..end + 4);
                frames.push(None);
            } else {
                panic!("{}", String::from_utf8_lossy(&input));
            }
        }
        while let Ok((f, used)) = wsclient::parse(&input) {
            input.drain(..used);
            frames.push(Some(f));
        }
    }
    println!("{} bytes one per segment in {:?}", bytes.len(), started.elapsed());
    let frames: Vec<_> = frames.into_iter().flatten().collect();
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!((frames[0].opcode, frames[0].text()), (1, "héllo, one byte at a time"));
    assert_eq!((frames[1].opcode, &frames[1].payload[..]), (10, &b"ping!"[..]));
    assert_eq!((frames[2].opcode, &frames[2].payload), (2, &binary));
}

/// A frame header announcing 2^63 - 1 bytes (the largest legal length) is refused with 1009
/// at once; one announcing 2^63 (the most significant bit set, which RFC 6455 forbids) is
/// refused too, with nothing allocated for either.
#[test]
fn a_frame_header_promising_2_pow_63_bytes_is_refused_at_once() {
    let _turn = turn();
    let (server, events) = recording(Config::default());
    let rss_before = ProcessSample::of("self").rss_kib;
    for (len, codes) in [(u64::MAX >> 1, &[1009][..]), (1u64 << 63, &[1002, 1009][..])] {
        let mut c = Client::connect(server.local_addr(), "/echo");
        let started = Instant::now();
        c.send_raw(&wsclient::encode_header(true, 0, 2, len, true));
        let (code, reason) = c.expect_close();
        println!("length {len:#x}: closed with {code} ({reason}) in {:?}", started.elapsed());
        assert!(codes.contains(&code), "length {len:#x}: {code}");
        c.send_close(code, "");
        assert!(c.sees_eof());
        drop(c); // the server waits for our FIN (up to close_timeout) before on_close
        let r = close_event(&events);
        // Not clean: the server failed the connection, and reads nothing after it.
        assert_eq!((r.code.0, r.was_clean), (code, false), "on_close: {r:?}");
    }
    let grown = ProcessSample::of("self").rss_kib.saturating_sub(rss_before);
    assert!(grown < 8 * 1024, "grew by {grown} KiB");
}

/// Half a frame, then an RST (SO_LINGER 0): the session ends with 1006, not clean, and the
/// server holds no connection for it.
#[test]
fn an_rst_in_the_middle_of_a_frame_ends_the_session() {
    let _turn = turn();
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    assert!(matches!(next(&events), Event::Open(_)));
    let frame = wsclient::encode(true, 0, 2, &[5u8; 1000], true);
    c.send_raw(&frame[..500]);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    reset_on_drop(&c.stream);
    drop(c);
    let r = close_event(&events);
    println!("RST mid frame: on_close {} ({}) after {:?}", r.code, r.reason, started.elapsed());
    assert_eq!((r.code, r.was_clean), (CloseCode::ABNORMAL, false));
    assert!(wait_until(Duration::from_secs(5), || server.connections() == 0));
}

/// A close frame and a text frame after it in one write: the close is answered, the session
/// ends clean, and the text never reaches the handler.
#[test]
fn data_after_a_close_frame_is_ignored() {
    let _turn = turn();
    let (server, events) = recording(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    let mut bytes = wsclient::encode(true, 0, 8, &[0x03, 0xe8, b'b', b'y', b'e'], true);
    bytes.extend(wsclient::encode(true, 0, 1, b"too late", true));
    bytes.extend(wsclient::encode(true, 0, 2, &[1, 2, 3], true));
    c.send_raw(&bytes);
    assert_eq!(c.expect_close().0, 1000);
    assert!(c.sees_eof());
    assert!(matches!(next(&events), Event::Open(_)));
    let r = close_event(&events);
    assert_eq!((r.code, r.was_clean, r.by_peer), (CloseCode::NORMAL, true, true));
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err(), "nothing after the close");
}

/// `SYNCWS_STORM` connections (2,000 by default; 10,000 in `scripts/faults.sh`) to
/// `syncws-echo` (`--max-connections 12000`, so each gets its thread, and a
/// `--handshake-timeout` of 120 s, so that none is cut before the resets),
/// half of them after a complete upgrade request and half in the middle of one, all reset
/// (SO_LINGER 0) at once: the server's threads and descriptors come back to their baseline,
/// its memory close to it, and the next client is served. `SYNCWS_STORM_ROUNDS` (1 by default,
/// 3 in `scripts/faults.sh`) storms one after another: a later one must not leave the server
/// more memory than the first did (10% + 4 MiB of slack).
#[cfg(feature = "cli")]
#[test]
fn ten_thousand_connections_reset_at_once_leave_nothing_behind() {
    let _turn = turn();
    let n: usize = std::env::var("SYNCWS_STORM").map_or(2_000, |n| n.parse().expect("SYNCWS_STORM: a count"));
    // The test holds the client ends, syncws-echo (which inherits the limit) the others.
    raise_open_files(n as u64 + 2048);
    // Half-made handshakes stay until the resets, however long the opening takes.
    let echo = EchoProcess::start(&["--max-connections", "12000", "--handshake-timeout", "120s"]);
    let addr = echo.addr();
    let counts = || {
        let s = echo.sample();
        (s.threads, s.fds, s.rss_kib)
    };
    // Baseline after one served client.
    echo_rate(addr);
    let mut last = (0, 0);
    assert!(wait_until(Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_millis(500));
        let now = counts();
        std::mem::replace(&mut last, (now.0, now.1)) == (now.0, now.1)
    }));
    let base = counts();
    let rounds: usize =
        std::env::var("SYNCWS_STORM_ROUNDS").map_or(1, |n| n.parse().expect("SYNCWS_STORM_ROUNDS: a count"));
    assert!((1..=10).contains(&rounds));
    let mut after_first = 0;
    for round in 1..=rounds {
        let started = Instant::now();
        let opened: Vec<TcpStream> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(move || {
                        (0..n / 8)
                            .map(|i| {
                                let mut s = TcpStream::connect(addr).expect("connect");
                                let request = if i % 2 == 0 {
                                    upgrade_request("/echo", "")
                                } else {
                                    "GET /echo HTTP/1.1\r\n".into()
                                };
                                let _ = s.write_all(request.as_bytes());
                                s
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let connected = started.elapsed();
        assert_eq!(opened.len(), n / 8 * 8);
        let peak = counts();
        let reset_at = Instant::now();
        for s in opened {
            reset_on_drop(&s);
        }
        let mut now = (0, 0, 0);
        let back = wait_until(Duration::from_secs(60), || {
            now = counts();
            now.0 <= base.0 && now.1 <= base.1
        });
        let recovered = reset_at.elapsed();
        let rate = echo_rate(addr);
        println!(
            "storm {round}/{rounds}: {n} connections opened in {connected:?} (server at {} threads, \
             {} fds, {} KiB), reset at once; back to {} threads, {} fds, {} KiB (baseline {} \
             threads, {} fds, {} KiB) {recovered:?} after the resets; the next client: {rate:.0} \
             round trips/s",
            peak.0, peak.1, peak.2, now.0, now.1, now.2, base.0, base.1, base.2
        );
        assert!(back, "threads and descriptors back to the baseline");
        assert!(peak.1 > base.1 + n as u64 / 2, "the server held the connections: {peak:?}");
        // glibc keeps some of what thousands of threads freed (arenas, cached stacks): a bound,
        // not a baseline; a later round must not keep more than the first (a leak would).
        assert!(now.2 < base.2 + 64 * 1024, "memory {} KiB against {} at the start", now.2, base.2);
        if round == 1 {
            after_first = now.2;
        } else {
            assert!(
                now.2 <= after_first + after_first / 10 + 4096,
                "round {round} ends at {} KiB, the first at {after_first} KiB",
                now.2
            );
        }
    }
    drop(echo);
}
