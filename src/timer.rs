//! The one timer thread of a server: pings, ping timeouts, handshake and close timeouts for
//! every connection. It sleeps until the earliest deadline; connections wake it when their
//! phase changes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::config::Config;
use crate::conn::{CLOSING, Conn, Ctrl, Cut, DONE, HANDSHAKE, OPEN};

/// Milliseconds since the server started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Self {
        Clock(Instant::now())
    }

    /// Never 0, so 0 can mean "not set".
    pub(crate) fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64 + 1
    }
}

/// Live connections by id, scanned by the timer and by shutdown.
pub(crate) type Registry = Mutex<HashMap<u64, Arc<Conn>>>;

/// Runs until `stop` says so (or its senders are gone).
pub(crate) fn run(
    registry: &Registry,
    config: &Config,
    clock: Clock,
    wake: Receiver<()>,
    stop: &Receiver<()>,
) {
    loop {
        let now = clock.now_ms();
        let next = {
            let conns = registry.lock().unwrap_or_else(|e| e.into_inner());
            conns.values().map(|c| tick(c, now, config)).min().unwrap_or(u64::MAX)
        };
        if !stop.is_empty() {
            return;
        }
        let wait = if next == u64::MAX {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(next - now.min(next))
        };
        crossbeam_channel::select! {
            recv(wake) -> r => if r.is_err() { return },
            recv(stop) -> _ => return,
            default(wait) => {}
        }
        // Coalesce a burst of wake-ups into one scan.
        while wake.try_recv().is_ok() {}
    }
}

/// Does what is due on `conn` at `now` and returns its next deadline.
fn tick(conn: &Conn, now: u64, config: &Config) -> u64 {
    if conn.cut_reason() != Cut::None {
        return u64::MAX;
    }
    match conn.phase() {
        HANDSHAKE => {
            let deadline = conn.created_ms + ms(config.handshake_timeout);
            if now >= deadline {
                conn.cut(Cut::HandshakeTimeout);
                return u64::MAX;
            }
            deadline
        }
        OPEN => match config.ping_period {
            Some(period) if conn.auto_ping.load(Ordering::Relaxed) => {
                ping_tick(conn, now, ms(period), ms(config.timeout))
            }
            _ => u64::MAX,
        },
        CLOSING => {
            let deadline = conn.close_requested_ms() + ms(config.close_timeout);
            if now >= deadline {
                conn.cut(Cut::CloseTimeout);
                return u64::MAX;
            }
            deadline
        }
        DONE => u64::MAX,
        _ => u64::MAX,
    }
}

fn ping_tick(conn: &Conn, now: u64, period: u64, timeout: u64) -> u64 {
    let mut sent = conn.ping_sent_ms.load(Ordering::Relaxed);
    let mut deadline = u64::MAX;
    if sent != 0 {
        if conn.last_rx_ms() >= sent {
            sent = 0;
            conn.ping_sent_ms.store(0, Ordering::Relaxed);
        } else if now >= sent + timeout && conn.silence_unproven(sent) {
            // A slow handler, not a dead peer: look again soon.
            deadline = now + timeout.clamp(1, 1000);
        } else if now >= sent + timeout {
            conn.cut(Cut::PingTimeout);
            return u64::MAX;
        } else {
            deadline = sent + timeout;
        }
    }
    let mut next_ping = conn.next_ping_ms.load(Ordering::Relaxed);
    if next_ping == u64::MAX {
        next_ping = now + period;
        conn.next_ping_ms.store(next_ping, Ordering::Relaxed);
    }
    if now >= next_ping {
        // A full control lane means the writer is stuck; the timeout will tell.
        conn.queue_control(Ctrl::Ping(Vec::new()), false);
        if sent == 0 {
            conn.ping_sent_ms.store(now, Ordering::Relaxed);
            deadline = now + timeout;
        }
        next_ping = now + period;
        conn.next_ping_ms.store(next_ping, Ordering::Relaxed);
    }
    deadline.min(next_ping)
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128 / 4) as u64
}
