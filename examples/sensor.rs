//! A sensor thread publishes a reading every second to every connected client: publishing
//! from outside any handler. Clients that fall behind lose their oldest readings.
//!
//! Run: `cargo run --example sensor`, then connect to ws://127.0.0.1:8080/sensor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use signal_hook::consts::{SIGINT, SIGTERM};
use syncws::{Broadcast, Config, Handler, Message, Server, Session, SlowConsumer};

struct Subscriber(Broadcast);

impl Handler for Subscriber {
    fn on_open(&mut self, session: &Session) {
        self.0.join(session);
    }

    fn on_message(&mut self, _session: &Session, _message: Message) {}
}

/// Stands in for a real sensor: a slow sine wave around 21 °C.
fn read_temperature(t: f64) -> f64 {
    21.0 + 3.0 * (t / 60.0).sin()
}

fn main() -> Result<(), syncws::Error> {
    let hub = Broadcast::new(SlowConsumer::DropOldest);
    let h = hub.clone();
    let server = Server::new(Config::default())
        .route("/sensor", move || Subscriber(h.clone()))
        .bind("127.0.0.1:8080")?;
    println!("readings on ws://{}/sensor", server.local_addr());
    // Publish until Ctrl-C (or SIGTERM), then close every session with 1001.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    while !stop.load(Ordering::Relaxed) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let reading = format!("{{\"t\":{now:.0},\"celsius\":{:.2}}}", read_temperature(now));
        let sent = hub.publish(reading);
        if sent.dropped > 0 {
            println!("{} slow clients lost a reading", sent.dropped);
        }
        thread::sleep(Duration::from_secs(1));
    }
    server.shutdown();
    Ok(())
}
