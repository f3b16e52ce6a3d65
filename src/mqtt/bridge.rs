//! [`MqttBridge`]: a hub's own publishes go to the broker, and what other bridges (or any MQTT
//! client) publish there reaches the hub's members.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, select};

use super::config::{MqttConfig, MqttError};
use super::link::{Incoming, Link, PacketReader};
use super::packet::{self, Packet, Publish, Qos};
use super::seen::{Seen, Verdict};
use super::topic::{self, ENVELOPE_HEAD, Envelope};
use crate::broadcast::{Broadcast, Forward, SlowConsumer, WeakBroadcast};
use crate::connection::atomic::AtomicU64;
use crate::protocol::Message;

/// Messages sent to the broker and not yet acknowledged, at most; the queue waits meanwhile.
const MAX_INFLIGHT: usize = 32;
/// A connection that lasted this long resets the reconnect backoff.
const HEALTHY: Duration = Duration::from_secs(5);
/// How long stopping waits for the bridge thread to say DISCONNECT before cutting the
/// connection.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Joins a [`Broadcast`] hub to the hubs of other processes through an MQTT broker (MQTT
/// 3.1.1, QoS 1): what one server publishes reaches the members of its hub (and room) on every
/// bridged server, in the order the publishing server's members got them, once.
///
/// Local publishing never waits for the broker: messages queue (bounded, see
/// [`MqttConfig::queue_capacity`]) for one bridge thread, which publishes them; a second
/// thread reads the broker and delivers to the hub. While the broker is away local delivery
/// goes on, the bridge reconnects with backoff and sends again what the broker had not
/// acknowledged; what other servers published meanwhile is lost, and counted
/// ([`MqttStats::lost`]). The topic layout and the envelope are in the [module
/// docs](crate::mqtt).
///
/// ```no_run
/// use syncws::{Broadcast, Config, Handler, Message, MqttBridge, MqttConfig, Server, Session, SlowConsumer};
///
/// struct Chat(Broadcast);
/// impl Handler for Chat {
///     fn on_open(&mut self, session: &Session) {
///         self.0.join(session);
///     }
///     fn on_message(&mut self, _session: &Session, message: Message) {
///         self.0.publish(message); // to this server's members and, through the broker, to every other's
///     }
/// }
///
/// let hub = Broadcast::new(SlowConsumer::DropOldest);
/// let bridge = MqttBridge::start(&hub, MqttConfig::new("127.0.0.1:1883").topic_prefix("chat"))?;
/// let h = hub.clone();
/// let server = Server::new(Config::default()).route("/chat", move || Chat(h.clone())).bind("0.0.0.0:8080")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MqttBridge {
    shared: Arc<Shared>,
    hub: Broadcast,
    thread: Option<JoinHandle<()>>,
}

/// Counts since the bridge started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MqttStats {
    /// Whether the bridge is connected to the broker now.
    pub connected: bool,
    /// Connections made to the broker (the first included).
    pub connects: u64,
    /// The hub's publishes queued for the broker.
    pub forwarded: u64,
    /// PUBLISH packets written to the broker, each message once.
    pub sent: u64,
    /// Of those, acknowledged by the broker.
    pub acked: u64,
    /// Messages sent again after a reconnect (the broker had not acknowledged them).
    pub resent: u64,
    /// The hub's publishes dropped for a full queue (the slow-broker policy).
    pub dropped: u64,
    /// Messages from the broker delivered to the hub.
    pub delivered: u64,
    /// Messages from the broker not delivered because they were delivered already.
    pub duplicates: u64,
    /// Messages other bridges published that never arrived here (gaps in their numbers):
    /// published while this bridge was away, or dropped on their side.
    pub lost: u64,
    /// Messages larger than [`MqttConfig::max_message_size`], either way, not forwarded.
    pub too_large: u64,
    /// Messages from the broker dropped as malformed: a topic outside the layout or a bad
    /// envelope.
    pub malformed: u64,
}

#[derive(Default)]
struct Counters {
    connects: AtomicU64,
    forwarded: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    resent: AtomicU64,
    dropped: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    skipped: AtomicU64,
    late: AtomicU64,
    too_large: AtomicU64,
    malformed: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A message for the broker.
struct Outgoing {
    topic: String,
    payload: Vec<u8>,
}

/// What the reading thread tells the bridge thread.
enum Event {
    Acked(u16),
    Subscribed(Vec<u8>),
    Pong,
    Ended(MqttError),
}

struct Shared {
    config: MqttConfig,
    client_id: String,
    /// This bridge's id in envelopes: random, new at each start.
    origin: u64,
    hub: WeakBroadcast,
    next_seq: AtomicU64,
    queue_tx: Sender<Outgoing>,
    queue_rx: Receiver<Outgoing>,
    /// Dropped to stop the bridge: every wait on `stop_rx` ends.
    stop_tx: Mutex<Option<Sender<()>>>,
    stop_rx: Receiver<()>,
    stopping: AtomicBool,
    connected: AtomicBool,
    /// The connection now, to cut it (the `Disconnect` policy, and stopping).
    link: Mutex<Option<Arc<Link>>>,
    /// Other bridges' numbers seen, held by the reading thread.
    seen: Mutex<Seen>,
    counters: Counters,
}

impl MqttBridge {
    /// Bridges `hub` to the broker of `config` and returns at once; the bridge connects (and
    /// reconnects) in the background. Fails for a setting that cannot work, or if `hub` has a
    /// bridge already.
    pub fn start(hub: &Broadcast, config: MqttConfig) -> Result<MqttBridge, MqttError> {
        config.validate()?;
        let mut random = [0; 8];
        crate::protocol::random::fill(&mut random)?;
        let origin = u64::from_ne_bytes(random);
        let client_id = config.client_id.clone().unwrap_or_else(|| format!("syncws-{origin:016x}"));
        let (queue_tx, queue_rx) = crossbeam_channel::bounded(config.queue_capacity);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        let shared = Arc::new(Shared {
            config,
            client_id,
            origin,
            hub: hub.downgrade(),
            next_seq: AtomicU64::new(1),
            queue_tx,
            queue_rx,
            stop_tx: Mutex::new(Some(stop_tx)),
            stop_rx,
            stopping: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            link: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
            counters: Counters::default(),
        });
        if !hub.attach(shared.clone()) {
            return Err(MqttError::Config("this hub has a bridge already".to_owned()));
        }
        let s = shared.clone();
        let thread = thread::Builder::new().name("syncws-mqtt".into()).spawn(move || run(&s));
        match thread {
            Ok(thread) => Ok(MqttBridge { shared, hub: hub.clone(), thread: Some(thread) }),
            Err(e) => {
                hub.detach();
                Err(e.into())
            }
        }
    }

    /// The counts since the bridge started.
    pub fn stats(&self) -> MqttStats {
        let c = &self.shared.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MqttStats {
            connected: self.shared.connected.load(Ordering::Acquire),
            connects: get(&c.connects),
            forwarded: get(&c.forwarded),
            sent: get(&c.sent),
            acked: get(&c.acked),
            resent: get(&c.resent),
            dropped: get(&c.dropped),
            delivered: get(&c.delivered),
            duplicates: get(&c.duplicates),
            lost: get(&c.skipped).saturating_sub(get(&c.late)),
            too_large: get(&c.too_large),
            malformed: get(&c.malformed),
        }
    }

    /// Whether the bridge is connected to the broker (and subscribed) now.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` for the bridge to be connected; returns whether it is.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        while !self.is_connected() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops forwarding, tells the broker (DISCONNECT) and ends the bridge's threads: at once,
    /// or after half a second if a write to the broker is stuck (the connection is then cut),
    /// or once a connection attempt under way ends (at most the connect timeout). Messages
    /// still queued for the broker are not sent. Dropping the bridge does the same.
    pub fn stop(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.hub.detach();
        self.shared.stopping.store(true, Ordering::Release);
        drop(self.shared.stop_tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let Some(thread) = self.thread.take() else { return };
        // The bridge thread sends DISCONNECT and ends at once, unless a write to a broker that
        // stopped reading holds it: then the connection is cut after a short grace.
        let grace = Instant::now() + STOP_GRACE;
        while !thread.is_finished() && Instant::now() < grace {
            thread::sleep(Duration::from_millis(5));
        }
        if !thread.is_finished() {
            if let Some(link) = self.shared.link.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                link.shutdown();
            }
        }
        let _ = thread.join();
    }
}

impl Drop for MqttBridge {
    fn drop(&mut self) {
        self.end();
    }
}

impl std::fmt::Debug for MqttBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttBridge")
            .field("broker", &self.shared.config.broker)
            .field("client_id", &self.shared.client_id)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Forward for Shared {
    fn forward(&self, room: Option<&str>, message: &Arc<Message>) {
        let c = &self.counters;
        if message.len() > self.config.max_message_size {
            add(&c.too_large, 1);
            log::warn!(
                "mqtt: a message of {} bytes stays local (max_message_size {})",
                message.len(),
                self.config.max_message_size
            );
            return;
        }
        let topic = topic::bridge_topic(&self.config.topic_prefix, room);
        // A topic's length is a 16-bit field; a packet's at most 256 MiB.
        if topic.len() > usize::from(u16::MAX)
            || !packet::fits(4 + topic.len() + ENVELOPE_HEAD + message.len())
        {
            add(&c.too_large, 1);
            log::warn!(
                "mqtt: a message for a room whose name makes a topic of {} bytes stays local",
                topic.len()
            );
            return;
        }
        // Numbered and queued in one step (under the hub's lock): numbers enter the queue in order.
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let out = Outgoing { topic, payload: Envelope::wrap(self.origin, seq, message) };
        let out = match self.queue_tx.try_send(out) {
            Ok(()) => {
                add(&c.forwarded, 1);
                return;
            }
            Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(out)) => out,
        };
        match self.config.slow_broker {
            SlowConsumer::DropNewest => self.note_drop(1, "the newest message"),
            SlowConsumer::DropOldest => {
                if self.queue_rx.try_recv().is_ok() {
                    self.note_drop(1, "the oldest message");
                }
                match self.queue_tx.try_send(out) {
                    Ok(()) => add(&c.forwarded, 1),
                    Err(_) => self.note_drop(1, "the newest message"),
                }
            }
            SlowConsumer::Disconnect(_) => {
                let queued = self.queue_rx.try_iter().count() as u64;
                self.note_drop(queued + 1, "the queue and its connection");
                if let Some(link) = self.link.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    link.shutdown();
                }
            }
        }
    }
}

impl Shared {
    fn note_drop(&self, n: u64, what: &str) {
        let before = self.counters.dropped.fetch_add(n, Ordering::Relaxed);
        if before == 0 {
            log::warn!("mqtt: the queue for the broker is full, dropping {what}");
        } else {
            log::debug!("mqtt: queue full, dropping {what} ({} dropped in all)", before + n);
        }
    }

    fn stopped(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// The bridge thread: connects, runs a session, and reconnects with backoff until stopped.
fn run(shared: &Arc<Shared>) {
    let (first, max) = shared.config.backoff;
    let mut backoff = first;
    let mut inflight: VecDeque<(u16, Outgoing)> = VecDeque::new();
    let mut next_id = 0u16;
    while !shared.stopped() {
        match Link::open(&shared.config, &shared.client_id) {
            Ok(link) if shared.stopped() => {
                link.shutdown();
                return;
            }
            Ok(link) => {
                let began = Instant::now();
                add(&shared.counters.connects, 1);
                log::info!("mqtt: connected to {} as {}", shared.config.broker, shared.client_id);
                let link = Arc::new(link);
                *shared.link.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
                let ended = session(shared, &link, &mut inflight, &mut next_id);
                // The wait starts again from the first only after a connection that held: one
                // the broker drops at once (a refused subscription, a client id in use twice)
                // backs off like a failed dial.
                if began.elapsed() >= HEALTHY {
                    backoff = first;
                }
                shared.connected.store(false, Ordering::Release);
                *shared.link.lock().unwrap_or_else(|e| e.into_inner()) = None;
                link.shutdown();
                match ended {
                    Ok(()) => return,
                    Err(e) if !shared.stopped() => log::warn!("mqtt: {e}; reconnecting in {backoff:?}"),
                    Err(_) => return,
                }
            }
            Err(e) => {
                log::warn!("mqtt: cannot connect to {}: {e}; again in {backoff:?}", shared.config.broker)
            }
        }
        if shared.stop_rx.recv_timeout(backoff).is_err_and(|e| e.is_disconnected()) {
            return;
        }
        backoff = (backoff * 2).min(max);
    }
}

/// One connection's life: subscribe, send again what was not acknowledged, then publish the
/// queue and keep the connection alive until it fails or the bridge stops (`Ok`).
fn session(
    shared: &Arc<Shared>,
    link: &Arc<Link>,
    inflight: &mut VecDeque<(u16, Outgoing)>,
    next_id: &mut u16,
) -> Result<(), MqttError> {
    let prefix = &shared.config.topic_prefix;
    let subscribe_id = alloc_id(next_id, inflight);
    link.send(&Packet::Subscribe {
        id: subscribe_id,
        filters: vec![(topic::filter(prefix), Qos::AtLeastOnce)],
    })?;
    for (id, out) in inflight.iter() {
        link.publish(&out.topic, *id, true, &out.payload)?;
        add(&shared.counters.resent, 1);
    }
    let (events_tx, events) = crossbeam_channel::unbounded();
    let reader = {
        let (shared, link) = (shared.clone(), link.clone());
        thread::Builder::new()
            .name("syncws-mqtt-read".into())
            .spawn(move || read(&shared, &link, &events_tx))?
    };
    let ended = publish_queue(shared, link, inflight, next_id, &events);
    link.shutdown();
    let _ = reader.join();
    ended
}

fn publish_queue(
    shared: &Shared,
    link: &Link,
    inflight: &mut VecDeque<(u16, Outgoing)>,
    next_id: &mut u16,
    events: &Receiver<Event>,
) -> Result<(), MqttError> {
    let keep_alive = shared.config.keep_alive;
    let never = crossbeam_channel::never();
    let mut last_write = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    loop {
        let queue = if inflight.len() < MAX_INFLIGHT { &shared.queue_rx } else { &never };
        let wake = ping_sent.unwrap_or(last_write) + keep_alive;
        select! {
            recv(queue) -> out => {
                let Ok(out) = out else { return Ok(()) };
                let id = alloc_id(next_id, inflight);
                link.publish(&out.topic, id, false, &out.payload)?;
                add(&shared.counters.sent, 1);
                inflight.push_back((id, out));
                last_write = Instant::now();
            }
            recv(events) -> event => match event {
                Ok(Event::Acked(id)) => {
                    if let Some(at) = inflight.iter().position(|(i, _)| *i == id) {
                        inflight.remove(at);
                        add(&shared.counters.acked, 1);
                    }
                }
                Ok(Event::Subscribed(codes)) => {
                    if codes.contains(&0x80) {
                        return Err(MqttError::Config(format!(
                            "the broker refused the subscription to {}",
                            topic::filter(&shared.config.topic_prefix)
                        )));
                    }
                    shared.connected.store(true, Ordering::Release);
                }
                Ok(Event::Pong) => ping_sent = None,
                Ok(Event::Ended(e)) => return Err(e),
                Err(_) => return Err(MqttError::Io(std::io::Error::other("the reading thread ended"))),
            },
            recv(shared.stop_rx) -> _ => {
                let _ = link.send(&Packet::Disconnect);
                return Ok(());
            }
            default(wake.saturating_duration_since(Instant::now())) => {}
        }
        let now = Instant::now();
        match ping_sent {
            Some(sent) if now >= sent + keep_alive => return Err(MqttError::Timeout("a ping")),
            Some(_) => {}
            None if now >= last_write + keep_alive => {
                link.send(&Packet::PingReq)?;
                ping_sent = Some(now);
                last_write = now;
            }
            None => {}
        }
    }
}

/// The next packet identifier that is neither 0 nor waiting for its PUBACK.
fn alloc_id(next_id: &mut u16, inflight: &VecDeque<(u16, Outgoing)>) -> u16 {
    loop {
        *next_id = next_id.wrapping_add(1);
        if *next_id != 0 && !inflight.iter().any(|(id, _)| id == next_id) {
            return *next_id;
        }
    }
}

/// The reading thread: acknowledges and delivers PUBLISHes, passes the rest on.
fn read(shared: &Shared, link: &Link, events: &Sender<Event>) {
    let config = &shared.config;
    // A topic (at most 65,535 bytes and its length), an identifier, an envelope, a message.
    let limit = config.max_message_size.saturating_add(2 + 65_535 + 2 + ENVELOPE_HEAD);
    let mut reader = PacketReader::default();
    // Kept across connections: a gap over a reconnect is counted too.
    let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let event = match reader.next(&mut link.stream(), limit) {
            Ok(Incoming::Packet(Packet::Publish(p))) => {
                if let Some(id) = p.id {
                    if let Err(e) = link.send(&Packet::PubAck(id)) {
                        let _ = events.send(Event::Ended(e.into()));
                        return;
                    }
                }
                deliver(shared, &mut seen, p);
                continue;
            }
            Ok(Incoming::SkippedPublish { len, id }) => {
                add(&shared.counters.too_large, 1);
                log::warn!("mqtt: skipped a message of {len} bytes from the broker (max_message_size)");
                match id.map(|id| link.send(&Packet::PubAck(id))) {
                    Some(Err(e)) => Event::Ended(e.into()),
                    _ => continue,
                }
            }
            Ok(Incoming::Packet(Packet::PubAck(id))) => Event::Acked(id),
            Ok(Incoming::Packet(Packet::SubAck { codes, .. })) => Event::Subscribed(codes),
            Ok(Incoming::Packet(Packet::PingResp)) => Event::Pong,
            Ok(Incoming::Packet(other)) => {
                Event::Ended(super::packet::PacketError(format!("unexpected {other:?}")).into())
            }
            Err(e) => Event::Ended(e),
        };
        let ended = matches!(event, Event::Ended(_));
        if events.send(event).is_err() || ended {
            return;
        }
    }
}

/// Delivers one message from the broker to the hub, unless it is this bridge's own, seen
/// already, too large or malformed.
fn deliver(shared: &Shared, seen: &mut Seen, publish: Publish) {
    let c = &shared.counters;
    if publish.retain {
        // A retained message comes again with every subscription, so after every reconnect:
        // members would get it again and again. Bridges never retain.
        add(&c.malformed, 1);
        log::warn!("mqtt: dropped a retained message on {:?} (publish without retain)", publish.topic);
        return;
    }
    let Some(target) = topic::parse(&shared.config.topic_prefix, &publish.topic) else {
        add(&c.malformed, 1);
        log::warn!("mqtt: dropped a message on {:?}, outside the topic layout", publish.topic);
        return;
    };
    let message = if target.from_bridge {
        let envelope = match Envelope::unwrap(publish.payload) {
            Ok(envelope) => envelope,
            Err(why) => {
                add(&c.malformed, 1);
                log::warn!("mqtt: dropped a message on {:?}: {why}", publish.topic);
                return;
            }
        };
        if envelope.origin == shared.origin {
            // The broker's copy of this bridge's own message: the hub had it first.
            return;
        }
        match seen.check(envelope.origin, envelope.seq) {
            Verdict::Duplicate => {
                add(&c.duplicates, 1);
                return;
            }
            Verdict::Fresh { skipped } => add(&c.skipped, skipped),
            Verdict::Late => add(&c.late, 1),
            Verdict::Implausible => {
                add(&c.malformed, 1);
                log::warn!("mqtt: dropped a message on {:?} numbered far beyond its bridge's", publish.topic);
                return;
            }
        }
        envelope.message
    } else {
        topic::plain_message(publish.payload)
    };
    if message.len() > shared.config.max_message_size {
        add(&c.too_large, 1);
        log::warn!("mqtt: skipped a message of {} bytes from the broker (max_message_size)", message.len());
        return;
    }
    if let Some(hub) = shared.hub.upgrade() {
        // Counted first, so that a member who got it finds it counted.
        add(&c.delivered, 1);
        hub.deliver_remote(target.room.as_deref(), message);
    }
}
