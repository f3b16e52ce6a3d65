//! `syncws-bench mqtt`: rooms across two servers through an MQTT broker. Two syncws servers
//! (in this process, each a hub with its `MqttBridge`) and a broker (`mosquitto`, started on a
//! free loopback port unless `--broker` names one); a client on server A's room sends, a client
//! on server B's room receives. Measured:
//! - latency, one message at a time: from A's client sending to B's client having it, against
//!   the same between two clients of one server (no broker) in the same run;
//! - throughput: messages per second from A's client to B's client, sent as fast as the
//!   bridge takes them (it keeps 32 unacknowledged at most).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use argh::FromArgs;
use syncws::{
    Broadcast, Config, Handler, Message, MqttBridge, MqttConfig, Route, Server, ServerHandle, Session,
    SlowConsumer,
};

use crate::client::{TIMEOUT, WsClient};
use crate::servers::Result;

/// Measure latency and throughput through an MQTT broker (mosquitto).
#[derive(FromArgs)]
#[argh(subcommand, name = "mqtt")]
pub struct MqttArgs {
    /// the broker, host:port (default: start /usr/sbin/mosquitto on a free loopback port)
    #[argh(option)]
    broker: Option<String>,
    /// messages for the latency figures (default 2000)
    #[argh(option, default = "2000")]
    latency_messages: usize,
    /// messages for the throughput figure (default 20000)
    #[argh(option, default = "20000")]
    throughput_messages: usize,
    /// message size in bytes (default 64)
    #[argh(option, default = "64")]
    size: usize,
}

/// A member of the room its path names (`/far` joins `far`) that publishes what it sends to
/// the room, except to itself.
struct Member(Broadcast, String);

impl Handler for Member {
    fn on_open(&mut self, session: &Session) {
        self.1 = session.request().path().trim_start_matches('/').to_owned();
        self.0.join_room(session, &self.1);
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        self.0.publish_to_except(&self.1, session, message);
    }
}

struct Bridged {
    _bridge: MqttBridge,
    server: ServerHandle,
}

fn bridged(broker: &str, queue: usize) -> Result<Bridged> {
    let hub = Broadcast::new(SlowConsumer::DropNewest);
    let config = MqttConfig::new(broker).topic_prefix("syncws-bench").queue_capacity(queue);
    let bridge = MqttBridge::start(&hub, config)?;
    if !bridge.wait_connected(Duration::from_secs(10)) {
        return Err(format!("the bridge did not connect to {broker}").into());
    }
    let server = Server::new(Config::default().queue_capacity(queue))
        .fallback(Route::handler(move || Member(hub.clone(), String::new())))
        .bind("127.0.0.1:0")?;
    Ok(Bridged { _bridge: bridge, server })
}

/// A mosquitto of our own, killed on drop.
struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mosquitto() -> Result<(Mosquitto, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = std::env::temp_dir().join(format!("syncws-bench-mosquitto-{port}.conf"));
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"))?;
    let child = Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("skipped: /usr/sbin/mosquitto ({e}); apt-get install mosquitto"))?;
    let broker = Mosquitto(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err("mosquitto did not start".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((broker, addr.to_string()))
}

/// One-way latencies (µs) of `n` messages from `tx` to `rx`, one at a time.
fn latencies(tx: &mut WsClient, rx: &mut WsClient, n: usize, size: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut payload = vec![b'x'; size.max(8)];
        payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let sent = Instant::now();
        tx.send_message(&payload, false)?;
        let got = rx.recv_message()?.payload;
        if got != payload {
            return Err(format!("message {i} came back different or out of order").into());
        }
        out.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

pub fn mqtt(args: MqttArgs) -> Result<()> {
    let (_own, broker) = match &args.broker {
        Some(b) => (None, b.clone()),
        None => {
            let (m, addr) = start_mosquitto()?;
            (Some(m), addr)
        }
    };
    let queue = args.throughput_messages.max(64);
    let (a, b) = (bridged(&broker, queue)?, bridged(&broker, queue)?);
    let open = |s: &Bridged, room: &str| WsClient::open(s.server.local_addr(), &format!("/{room}"), TIMEOUT);
    // Room `far` has a member on each server, room `near` two on server A.
    let (mut far_tx, mut far_rx) = (open(&a, "far")?, open(&b, "far")?);
    let (mut near_tx, mut near_rx) = (open(&a, "near")?, open(&a, "near")?);
    std::thread::sleep(Duration::from_millis(200)); // the members join
    latencies(&mut far_tx, &mut far_rx, 100, args.size)?; // warm-up
    latencies(&mut near_tx, &mut near_rx, 100, args.size)?;
    // One message at a time, in interleaved rounds of the two paths.
    let (mut through, mut local) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        through.extend(latencies(&mut far_tx, &mut far_rx, args.latency_messages / 4, args.size)?);
        local.extend(latencies(&mut near_tx, &mut near_rx, args.latency_messages / 4, args.size)?);
    }
    through.sort_by(f64::total_cmp);
    local.sort_by(f64::total_cmp);
    println!("syncws-bench mqtt: broker {broker}, {} B messages", args.size);
    println!("| path | messages | p50 µs | p99 µs | max µs |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, l) in [
        ("client on A -> broker -> client on B", &through),
        ("client on A -> client on A (no broker)", &local),
    ] {
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} |",
            l.len(),
            percentile(l, 0.5),
            percentile(l, 0.99),
            l[l.len() - 1]
        );
    }
    // Throughput: a fresh pair, so that nothing of the above is still queued.
    let (mut tx, mut rx) = (open(&a, "throughput")?, open(&b, "throughput")?);
    std::thread::sleep(Duration::from_millis(200));
    let n = args.throughput_messages;
    let payload = vec![b'y'; args.size];
    let receiver = std::thread::spawn(move || -> std::io::Result<(usize, Instant)> {
        let mut got = 0;
        while got < n {
            rx.recv_message()?;
            got += 1;
        }
        Ok((got, Instant::now()))
    });
    let started = Instant::now();
    for _ in 0..n {
        tx.send_message(&payload, false)?;
    }
    let (got, ended) = receiver.join().map_err(|_| "receiver panicked")??;
    let seconds = (ended - started).as_secs_f64();
    println!(
        "throughput: {got} messages of {} B from A to B in {seconds:.2} s: {:.0} messages/s",
        args.size,
        got as f64 / seconds
    );
    Ok(())
}
