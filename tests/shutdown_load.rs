//! Shutdown under load, nothing lost (issue 17, point 4): 100 clients stream messages to the
//! `syncws-echo` binary, half of them with permessage-deflate; SIGTERM; every client must get
//! back an unbroken, in-order prefix of what it sent (every message the server accepted before
//! its 1001, none skipped, none twice), then a close frame with 1001, then EOF, and the binary
//! must exit 0 (no connection left behind). Both counts are printed and asserted.
//!
//! It runs the binary that cargo builds for the tests (`CARGO_BIN_EXE_syncws-echo`), or the one
//! named by `SYNCWS_ECHO_BIN` (the fault script points it at the release build).
#![cfg(feature = "cli")]

mod support;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Client, EchoProcess};

const CLIENTS: usize = 100;
/// Messages in flight per client (sent and not yet echoed): the stream keeps the server's
/// queues and both socket buffers busy without growing without bound.
const WINDOW: usize = 16;
/// Streaming time before the SIGTERM.
const STREAM: Duration = Duration::from_secs(2);
/// Upper bound on what one client sends (the loop's bound; never reached in 2 s here).
const MAX_MESSAGES: usize = 1_000_000;

/// Message `seq` of client `id`: its numbers first, then a filler whose length and bytes
/// depend on both (16 to 1,040 bytes), so that a message from elsewhere or cut short shows.
fn message(id: usize, seq: usize) -> Vec<u8> {
    let mut m = format!("{id}:{seq}:").into_bytes();
    let len = 16 + (id * 7919 + seq * 104_729) % 1024;
    m.extend((m.len()..len).map(|i| b'a' + ((i + id + seq) % 26) as u8));
    m
}

/// What one client saw.
#[derive(Debug)]
struct Outcome {
    sent: usize,
    echoed: usize,
    close_code: Option<u16>,
    eof: bool,
}

/// Streams until the server closes: keeps `WINDOW` messages in flight, checks every echo
/// against the next one expected, answers the close and waits for EOF.
fn stream(addr: SocketAddr, id: usize, deflate: bool, ready: &AtomicUsize) -> Result<Outcome, String> {
    let timeout = Duration::from_secs(30);
    let mut c = if deflate {
        Client::open_deflate(addr, "/echo", timeout)
    } else {
        Client::open(addr, "/echo", timeout)
    }
    .map_err(|e| format!("client {id}: open: {e}"))?;
    ready.fetch_add(1, Ordering::SeqCst);
    let (mut sent, mut echoed) = (0, 0);
    let mut writable = true;
    let close_code = loop {
        // Keep the window full while the server takes messages.
        while writable && sent < echoed + WINDOW && sent < MAX_MESSAGES {
            if c.send_message(&message(id, sent), false).is_err() {
                writable = false; // the server closed its side: only reading is left
            } else {
                sent += 1;
            }
        }
        match c.recv_message() {
            Ok(frame) => {
                if frame.payload != message(id, echoed) {
                    let head =
                        String::from_utf8_lossy(&frame.payload[..frame.payload.len().min(24)]).into_owned();
                    return Err(format!("client {id}: echo {echoed} expected, got {head:?}"));
                }
                echoed += 1;
                if echoed > sent {
                    return Err(format!("client {id}: more echoes than messages"));
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {
                // "server closed: CODE reason"
                let code = e.to_string().split_whitespace().nth(2).and_then(|c| c.parse().ok());
                break code;
            }
            Err(e) => return Err(format!("client {id}: read after {echoed} echoes: {e}")),
        }
    };
    // Answer the close (the write may fail if the server gave up on us: then EOF shows it).
    let _ = c.write_frame(true, 0, 8, &1001u16.to_be_bytes(), true);
    let eof = c.sees_eof();
    Ok(Outcome { sent, echoed, close_code, eof })
}

#[test]
fn sigterm_under_load_delivers_every_accepted_message_then_1001_to_every_client() {
    let started = Instant::now();
    let mut echo = EchoProcess::start(&[]);
    let addr = echo.addr();
    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (ready, failed) = (ready.clone(), failed.clone());
            std::thread::Builder::new()
                .spawn(move || {
                    let outcome = stream(addr, id, id % 2 == 1, &ready);
                    if outcome.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    outcome
                })
                .unwrap()
        })
        .collect();
    assert!(
        support::wait_until(Duration::from_secs(30), || ready.load(Ordering::SeqCst) == CLIENTS
            || failed.load(Ordering::SeqCst)),
        "only {} of {CLIENTS} clients connected",
        ready.load(Ordering::SeqCst)
    );
    assert!(!failed.load(Ordering::SeqCst), "a client failed before the signal");
    std::thread::sleep(STREAM);
    let signalled = Instant::now();
    echo.signal(libc::SIGTERM);
    let outcomes: Vec<Outcome> = clients.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    let all_closed = signalled.elapsed();
    let status = echo.wait_exit(Duration::from_secs(30).saturating_sub(signalled.elapsed()));
    let exited = signalled.elapsed();
    let sent: usize = outcomes.iter().map(|o| o.sent).sum();
    let echoed: usize = outcomes.iter().map(|o| o.echoed).sum();
    let with_1001 = outcomes.iter().filter(|o| o.close_code == Some(1001)).count();
    let eofs = outcomes.iter().filter(|o| o.eof).count();
    let least = outcomes.iter().map(|o| o.echoed).min().unwrap();
    println!(
        "{CLIENTS} clients: {sent} messages sent, {echoed} echoed in order before the close \
         (least per client {least}), {} not taken by the server; 1001 seen by {with_1001}, EOF \
         by {eofs}; all closed {all_closed:?} and the server exited {exited:?} after SIGTERM; \
         {:?} in all",
        sent - echoed,
        started.elapsed()
    );
    assert!(status.success(), "syncws-echo exited with {status}");
    assert_eq!(
        with_1001,
        CLIENTS,
        "close codes: {:?}",
        outcomes.iter().map(|o| o.close_code).collect::<Vec<_>>()
    );
    assert_eq!(eofs, CLIENTS, "every client sees the server close TCP after the handshake");
    assert!(least > 0, "every client streamed before the signal");
}
