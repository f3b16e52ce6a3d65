//! Soak (issue 17, point 5): churn against the `syncws-echo` binary, then a check that its
//! threads and file descriptors are back to their idle baseline and its memory did not grow.
//!
//! Workers connect one connection after another, half of them with permessage-deflate, send 1
//! to 5 messages of 1 byte to 8 KiB and check each echo, then end the connection one of three
//! ways: a clean close (close frame, the server's answer, EOF), an RST (SO_LINGER 0), or a
//! plain drop with no close frame (FIN). The server's resident memory, threads and descriptors
//! are sampled every second (a line a minute). After a warm-up of a tenth of the run the churn pauses until the
//! server is quiet, for a first reference; at the end, again. Fails on any failed connection or
//! wrong echo, unless threads and descriptors come back to the idle baseline, or if the memory
//! at the end is more than 25% + 4 MiB above the reference after warm-up.
//!
//! `SYNCWS_SOAK_SECONDS` sets the length (4 s by default, the short run that CI's test command
//! makes; at most 3,600); `SYNCWS_SOAK_WORKERS` the workers (8); `SYNCWS_ECHO_BIN` the binary
//! (`scripts/soak.sh` runs the release build for 20 minutes by default).
#![cfg(feature = "cli")]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Client, EchoProcess, ProcessSample, reset_on_drop};

/// Waits (at most 60 s) until threads and descriptors stop changing and are at most `idle`'s
/// (the write loops park after 2 s quiet; sessions that were dropped end at once).
fn quiet(echo: &EchoProcess, idle: Option<ProcessSample>) -> ProcessSample {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = echo.sample();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = echo.sample();
        let stable = (now.threads, now.fds) == (last.threads, last.fds);
        let at_idle = idle.is_none_or(|i| now.threads <= i.threads && now.fds <= i.fds);
        if (stable && at_idle) || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    deflate: AtomicU64,
    messages: AtomicU64,
    clean: AtomicU64,
    resets: AtomicU64,
    drops: AtomicU64,
    failures: AtomicU64,
}

/// One connection: open, 1 to 5 echoes, one of the three endings. `Err` on anything unexpected.
fn one(addr: SocketAddr, seed: &mut u64, counts: &Counts) -> Result<(), String> {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let timeout = Duration::from_secs(20);
    let deflate = next() % 2 == 0;
    let mut c = if deflate {
        Client::open_deflate(addr, "/echo", timeout)
    } else {
        Client::open(addr, "/echo", timeout)
    }
    .map_err(|e| format!("open: {e}"))?;
    for _ in 0..1 + next() % 5 {
        let len = 1 + (next() % 8192) as usize;
        let fill = next() as u8;
        // Text compresses well, binary of one byte repeated too: deflate does real work.
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (fill as usize + i / 7) as u8 % 26).collect();
        c.send_message(&payload, true).map_err(|e| format!("send: {e}"))?;
        let echo = c.recv_message().map_err(|e| format!("echo: {e}"))?;
        if echo.payload != payload {
            return Err(format!("echo of {len} bytes differs"));
        }
        counts.messages.fetch_add(1, Ordering::Relaxed);
    }
    counts.connections.fetch_add(1, Ordering::Relaxed);
    if deflate {
        counts.deflate.fetch_add(1, Ordering::Relaxed);
    }
    match next() % 3 {
        0 => {
            c.write_frame(true, 0, 8, &1000u16.to_be_bytes(), true).map_err(|e| format!("close: {e}"))?;
            match c.recv_message() {
                Err(e) if e.to_string().contains("server closed: 1000") => {}
                other => return Err(format!("close answered with {other:?}")),
            }
            if !c.sees_eof() {
                return Err("no EOF after the closing handshake".into());
            }
            counts.clean.fetch_add(1, Ordering::Relaxed);
        }
        1 => {
            reset_on_drop(&c.stream);
            counts.resets.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            counts.drops.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Runs `workers` churning threads until `until`; returns the first failures (at most 10).
fn churn(addr: SocketAddr, workers: usize, until: Instant, counts: &Arc<Counts>) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (counts, stop) = (counts.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seed =
                    0x2545_f491_4f6c_dd1d_u64 ^ ((w as u64 + 1) << 32) ^ u64::from(std::process::id());
                let mut failures = Vec::new();
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    if let Err(e) = one(addr, &mut seed, &counts) {
                        counts.failures.fetch_add(1, Ordering::Relaxed);
                        if failures.len() < 10 {
                            failures.push(e);
                        }
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    failures
}

#[test]
fn churn_leaves_threads_descriptors_and_memory_at_their_baseline() {
    let seconds: u64 =
        std::env::var("SYNCWS_SOAK_SECONDS").map_or(4, |s| s.parse().expect("SYNCWS_SOAK_SECONDS"));
    assert!((1..=3600).contains(&seconds), "SYNCWS_SOAK_SECONDS: 1 to 3,600");
    let workers: usize =
        std::env::var("SYNCWS_SOAK_WORKERS").map_or(8, |s| s.parse().expect("SYNCWS_SOAK_WORKERS"));
    assert!((1..=64).contains(&workers));
    let total = Duration::from_secs(seconds);
    let echo = EchoProcess::start(&[]);
    let addr = echo.addr();
    let idle = quiet(&echo, None);
    println!("idle: {idle:?}");
    let counts = Arc::new(Counts::default());
    // Sampler: every second (for the peak), a line every minute.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak, counts) = (sampling.clone(), peak.clone(), counts.clone());
        let pid = echo.pid().to_string();
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut n = 0u64;
            while sampling.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if started.elapsed() < Duration::from_secs(n + 1) {
                    continue;
                }
                n += 1;
                let s = ProcessSample::of(&pid);
                peak.fetch_max(s.threads, Ordering::Relaxed);
                if n % 60 == 0 {
                    println!(
                        "{:>5} s: {} connections so far; server {} KiB, {} threads, {} fds",
                        started.elapsed().as_secs(),
                        counts.connections.load(Ordering::Relaxed),
                        s.rss_kib,
                        s.threads,
                        s.fds
                    );
                }
            }
        })
    };
    let started = Instant::now();
    let mut failures = churn(addr, workers, started + total / 10, &counts);
    let warm_churn = started.elapsed();
    let warm = quiet(&echo, Some(idle));
    println!("after the warm-up ({:?}): {warm:?}", started.elapsed());
    let churn_from = Instant::now();
    failures.extend(churn(addr, workers, started + total, &counts));
    let churned = warm_churn + churn_from.elapsed();
    let end = quiet(&echo, Some(idle));
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let n = counts.connections.load(Ordering::Relaxed);
    let rate = n as f64 / churned.as_secs_f64();
    let allowed = warm.rss_kib + warm.rss_kib / 4 + 4096;
    println!(
        "soak {seconds} s, {workers} workers: {n} connections ({rate:.0}/s; {} with deflate), {} \
         messages echoed; ended {} clean, {} by RST, {} by a plain drop; {} failed; peak {} \
         threads. Server idle {} KiB / {} threads / {} fds, after warm-up {} KiB / {} / {}, at \
         the end {} KiB / {} / {} (memory allowed up to {allowed} KiB)",
        counts.deflate.load(Ordering::Relaxed),
        counts.messages.load(Ordering::Relaxed),
        counts.clean.load(Ordering::Relaxed),
        counts.resets.load(Ordering::Relaxed),
        counts.drops.load(Ordering::Relaxed),
        counts.failures.load(Ordering::Relaxed),
        peak.load(Ordering::Relaxed),
        idle.rss_kib,
        idle.threads,
        idle.fds,
        warm.rss_kib,
        warm.threads,
        warm.fds,
        end.rss_kib,
        end.threads,
        end.fds
    );
    assert!(failures.is_empty(), "failed connections: {failures:?}");
    assert!(n > 0);
    assert_eq!((end.threads, end.fds), (idle.threads, idle.fds), "threads and descriptors back to idle");
    assert!(
        end.rss_kib <= allowed,
        "memory grew: {} KiB after warm-up, {} at the end",
        warm.rss_kib,
        end.rss_kib
    );
    drop(echo);
}
