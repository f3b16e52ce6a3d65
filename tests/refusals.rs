//! Connections over the limit get their 503 at once, whatever other refused clients do.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use support::{Client, recording, status, upgrade_request};
use syncws::Config;

/// Connects, sends an upgrade request and reads the answer's status line, within `limit`.
fn refused_within(addr: SocketAddr, limit: Duration) -> Result<u16, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(upgrade_request("/echo", "").as_bytes()).map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 256];
    let started = Instant::now();
    while !head.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) => return Err(format!("closed without an answer after {:?}", started.elapsed())),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("no answer after {:?}: {e}", started.elapsed())),
        }
    }
    Ok(status(&String::from_utf8_lossy(&head)))
}

#[test]
fn a_trickling_client_holds_up_no_other_refusal() {
    let (server, _events) =
        recording(Config::default().max_connections(1).close_timeout(Duration::from_millis(500)));
    let addr = server.local_addr();
    let _holder = Client::connect(addr, "/echo");
    // A refused client that keeps sending a byte now and then, for up to 10 s.
    let trickler = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for _ in 0..50 {
            if s.write_all(b"G").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    thread::sleep(Duration::from_millis(300));
    // More refusals at once than the old queue of 64 held.
    let clients: Vec<_> =
        (0..80).map(|_| thread::spawn(move || refused_within(addr, Duration::from_secs(3)))).collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), Ok(503));
    }
    drop(server);
    trickler.join().unwrap();
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_flood_of_refused_connections_holds_a_bounded_number_of_descriptors() {
    let config = Config::default().max_connections(1).close_timeout(Duration::from_millis(500));
    let (server, _events) = recording(config);
    let addr = server.local_addr();
    let _holder = Client::connect(addr, "/echo");
    thread::sleep(Duration::from_millis(100));
    let before = open_fds();
    // Refused clients that stay connected and send nothing: each lingers on the server for
    // its second, unless the server holds too many already. They come in waves over 0.7 s, so
    // that the refusal thread has time to take every one it would take.
    const WAVES: usize = 12;
    const WAVE: usize = 50;
    let mut clients: Vec<TcpStream> = Vec::new();
    for _ in 0..WAVES {
        clients.extend((0..WAVE).filter_map(|_| TcpStream::connect(addr).ok()));
        thread::sleep(Duration::from_millis(60));
    }
    assert_eq!(clients.len(), WAVES * WAVE);
    let server_side = open_fds().saturating_sub(before + clients.len());
    // 256 lingering and 64 waiting to, at most (and a few of the moment).
    assert!(server_side <= 256 + 64 + 8, "the server holds {server_side} refused connections");
    drop(clients);
    drop(server);
}
