//! A board that reports sensor readings to a server it dials out to, and keeps doing so
//! across network drops and server restarts: the client side of `examples/sensor.rs`.
//!
//! A reading every second goes to the server as JSON text. While the connection is down,
//! readings are not sent: `send` hands each one back, and the latest is kept to go out first
//! once the client has reconnected (older ones are dropped, as a board with little memory
//! would). The server's messages are commands: `interval <ms>` changes the period.
//!
//! Run a server (`cargo run --release --features cli --bin syncws-echo`), then
//! `cargo run --example reporter -- ws://127.0.0.1:8080/echo`; stop and restart the server
//! to watch it reconnect. Ctrl-C stops it with 1001.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signal_hook::consts::{SIGINT, SIGTERM};
use syncws::{Client, ClientConfig, CloseCode, CloseReason, Handler, Message, Reconnect, Session};

/// Handles what the server says; the same handler serves every connection in turn.
struct Commands {
    period_ms: Arc<AtomicU64>,
}

impl Handler for Commands {
    fn on_open(&mut self, session: &Session) {
        let again = if session.attempt() > 1 { " again" } else { "" };
        println!("connected{again} to {} (attempt {})", session.remote_addr(), session.attempt());
    }

    fn on_message(&mut self, _session: &Session, message: Message) {
        let Some(text) = message.as_text() else { return };
        if let Some(ms) = text.strip_prefix("interval ").and_then(|v| v.trim().parse().ok()) {
            self.period_ms.store(ms, Ordering::Relaxed);
        }
    }

    fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
        println!("connection ended: {reason}");
    }
}

/// Stands in for a real sensor.
fn read_temperature(t: f64) -> f64 {
    21.0 + 3.0 * (t / 60.0).sin()
}

fn main() -> Result<(), syncws::Error> {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:8080/echo".to_owned());
    let period_ms = Arc::new(AtomicU64::new(1000));
    let config = ClientConfig::default()
        .ping_period(Some(Duration::from_secs(10)))
        .timeout(Duration::from_secs(5))
        .reconnect(Some(
            Reconnect::default().initial_delay(Duration::from_millis(500)).max_delay(Duration::from_secs(30)),
        ));
    let client = Client::new(config).connect(&url, Commands { period_ms: period_ms.clone() })?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).map_err(syncws::Error::Io)?;
    }
    let mut unsent: Option<Message> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let reading = Message::Text(format!(
            r#"{{"t":{},"celsius":{:.2}}}"#,
            now.as_secs(),
            read_temperature(now.as_secs_f64())
        ));
        // The reading that could not go out last time goes first, then this one.
        for message in unsent.take().into_iter().chain([reading]) {
            if let Err(refused) = client.send(message) {
                unsent = Some(refused.into_inner()); // keep only the latest
            }
        }
        thread::sleep(Duration::from_millis(period_ms.load(Ordering::Relaxed)));
    }
    client.close(CloseCode::GOING_AWAY, "board shutting down");
    let _ = client.wait();
    Ok(())
}
