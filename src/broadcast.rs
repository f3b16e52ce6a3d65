//! Broadcast to many sessions (Ktor's `SharedFlow` example): a hub that sessions join and
//! leave, with rooms, a bounded queue per member and a slow-consumer policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use crate::connection::Session;
use crate::connection::atomic::AtomicU64;
use crate::connection::broadcast_lane::{BroadcastLane, Pushed};
use crate::connection::shared::Phase;
use crate::protocol::{CloseCode, Message};

/// Hub ids, unique in the process (a session's lane tells its hubs apart by them).
static NEXT_HUB: AtomicU64 = AtomicU64::new(1);

/// What a hub does with a message for a member whose queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowConsumer {
    /// Drop the message being published, for that member only.
    DropNewest,
    /// Drop the oldest message waiting for that member, then queue the new one.
    DropOldest,
    /// Close that member's session with this code (1008 policy or 1013 try again later are
    /// the usual ones) and remove it from the hub.
    Disconnect(CloseCode),
}

/// What one `publish` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Members that got the message queued.
    pub queued: usize,
    /// Messages dropped because of full queues (the new one or an older one).
    pub dropped: usize,
    /// Members disconnected by the policy.
    pub disconnected: usize,
}

/// Totals since the hub was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastStats {
    /// `publish` calls, and messages delivered from other servers through a bridge.
    pub published: u64,
    /// Messages queued to members.
    pub queued: u64,
    /// Messages dropped by the policy.
    pub dropped: u64,
    /// Members disconnected by the policy.
    pub disconnected: u64,
}

/// A broadcast hub: `Clone` it into handlers and into any other thread (a sensor thread on a
/// board, say) and `publish` from anywhere.
///
/// Publishing never blocks and never writes a socket: it pushes the message (shared, not
/// copied) onto each member's bounded queue under one lock, in O(members). Each member's write
/// loop sends it. Every member receives messages in publish order. A member whose queue is full
/// is handled by the [`SlowConsumer`] policy, which never slows the others; every drop is
/// counted ([`stats`](Self::stats)) and logged (the first per member as a warning). Sessions
/// leave automatically when they close.
///
/// Each member's queue holds `queue_capacity` messages (the server's [`Config`](crate::Config)),
/// separate from its own outgoing queue, and shared by every hub it joins, so that a member
/// gets everything published to it in one order, across hubs. `DropOldest` only ever drops a
/// message of its own hub: when a member's queue is full of other hubs' messages, the new one
/// is dropped instead.
///
/// ```no_run
/// use syncws::{Broadcast, CloseCode, Config, Handler, Message, Server, Session, SlowConsumer};
///
/// struct Chat(Broadcast);
/// impl Handler for Chat {
///     fn on_open(&mut self, session: &Session) {
///         self.0.join(session);
///     }
///     fn on_message(&mut self, _session: &Session, message: Message) {
///         self.0.publish(message);
///     }
/// }
///
/// let hub = Broadcast::new(SlowConsumer::Disconnect(CloseCode::TRY_AGAIN_LATER));
/// let h = hub.clone();
/// let server = Server::new(Config::default()).route("/chat", move || Chat(h.clone())).bind("0.0.0.0:8080")?;
/// hub.publish("server says hi"); // from any thread
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Clone)]
pub struct Broadcast {
    hub: Arc<Hub>,
}

/// Where a hub's own publishes also go (an MQTT bridge): called on the publishing thread
/// under the hub's lock, so in the order the members get them; it must not block or touch the
/// hub.
#[cfg(feature = "mqtt")]
pub(crate) trait Forward: Send + Sync {
    fn forward(&self, room: Option<&str>, message: &Arc<Message>);
}

struct Hub {
    id: u64,
    policy: SlowConsumer,
    members: Mutex<HashMap<u64, Member>>,
    /// The hub's bridge, if any (only with the `mqtt` feature: without it a publish takes no
    /// lock but the members').
    #[cfg(feature = "mqtt")]
    forward: Mutex<Option<Arc<dyn Forward>>>,
    published: AtomicU64,
    queued: AtomicU64,
    dropped: AtomicU64,
    disconnected: AtomicU64,
}

struct Member {
    session: Session,
    /// Rooms joined; empty for a member that only gets messages published to all.
    rooms: Vec<String>,
    lane: Arc<BroadcastLane>,
    dropped: u64,
}

impl Broadcast {
    /// An empty hub with `policy` for slow members.
    pub fn new(policy: SlowConsumer) -> Self {
        let hub = Hub {
            id: NEXT_HUB.fetch_add(1, Ordering::Relaxed),
            policy,
            members: Mutex::new(HashMap::new()),
            #[cfg(feature = "mqtt")]
            forward: Mutex::new(None),
            published: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            disconnected: AtomicU64::new(0),
        };
        Broadcast { hub: Arc::new(hub) }
    }

    /// Adds `session` to the hub; it gets messages published to all. Joining twice is a
    /// no-op. A closed session is not added.
    pub fn join(&self, session: &Session) {
        self.add(session, None);
    }

    /// Adds `session` to `room` (it also gets messages published to all).
    pub fn join_room(&self, session: &Session, room: &str) {
        self.add(session, Some(room));
    }

    /// Joining never blocks, and a member that joins (or changes rooms) again and again costs
    /// nothing more: its one end hook per hub is registered once.
    fn add(&self, session: &Session, room: Option<&str>) {
        let conn = session.conn();
        {
            let mut members = self.lock();
            let member = members.entry(session.id()).or_insert_with(|| Member {
                session: session.clone(),
                rooms: Vec::new(),
                lane: conn.broadcast_lane(),
                dropped: 0,
            });
            if let Some(room) = room {
                if !member.rooms.iter().any(|r| r == room) {
                    member.rooms.push(room.to_owned());
                }
            }
        }
        let hub: Weak<Hub> = Arc::downgrade(&self.hub);
        let id = session.id();
        conn.on_end(
            self.hub.id,
            Box::new(move || {
                if let Some(hub) = hub.upgrade() {
                    hub.members.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                }
            }),
        );
        // A session that closed while joining has already run its hooks.
        if conn.phase() >= Phase::Done {
            self.leave(session);
        }
    }

    /// Removes `session` from the hub (and all its rooms).
    pub fn leave(&self, session: &Session) {
        self.lock().remove(&session.id());
    }

    /// Removes `session` from `room`; it stays in the hub.
    pub fn leave_room(&self, session: &Session, room: &str) {
        if let Some(m) = self.lock().get_mut(&session.id()) {
            m.rooms.retain(|r| r != room);
        }
    }

    /// Queues `message` for every member (the session that publishes it included, if it is
    /// a member: see [`publish_except`](Self::publish_except)).
    pub fn publish(&self, message: impl Into<Message>) -> Published {
        self.send(None, None, message.into(), true)
    }

    /// Queues `message` for the members of `room`.
    pub fn publish_to(&self, room: &str, message: impl Into<Message>) -> Published {
        self.send(Some(room), None, message.into(), true)
    }

    /// Queues `message` for every member but `sender`: a chat message goes to the others.
    ///
    /// ```no_run
    /// # use syncws::{Broadcast, Handler, Message, Session};
    /// struct Chat(Broadcast);
    /// impl Handler for Chat {
    ///     fn on_open(&mut self, session: &Session) {
    ///         self.0.join(session);
    ///     }
    ///     fn on_message(&mut self, session: &Session, message: Message) {
    ///         self.0.publish_except(session, message); // not echoed to its sender
    ///     }
    /// }
    /// ```
    pub fn publish_except(&self, sender: &Session, message: impl Into<Message>) -> Published {
        self.send(None, Some(sender.id()), message.into(), true)
    }

    /// Queues `message` for the members of `room` but `sender`.
    pub fn publish_to_except(&self, room: &str, sender: &Session, message: impl Into<Message>) -> Published {
        self.send(Some(room), Some(sender.id()), message.into(), true)
    }

    /// Members now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the hub has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Totals since the hub was made.
    pub fn stats(&self) -> BroadcastStats {
        let h = &self.hub;
        BroadcastStats {
            published: h.published.load(Ordering::Relaxed),
            queued: h.queued.load(Ordering::Relaxed),
            dropped: h.dropped.load(Ordering::Relaxed),
            disconnected: h.disconnected.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        self.hub.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message that came from another server (through a bridge) for the members of
    /// `room` (or all), without forwarding it again.
    #[cfg(feature = "mqtt")]
    pub(crate) fn deliver_remote(&self, room: Option<&str>, message: Message) -> Published {
        self.send(room, None, message, false)
    }

    /// Makes `forward` (or nobody) get the hub's own publishes; returns whether another was
    /// attached already (then nothing changes).
    #[cfg(feature = "mqtt")]
    pub(crate) fn attach(&self, forward: Arc<dyn Forward>) -> bool {
        let mut slot = self.hub.forward.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return false;
        }
        *slot = Some(forward);
        true
    }

    /// Stops forwarding.
    #[cfg(feature = "mqtt")]
    pub(crate) fn detach(&self) {
        *self.hub.forward.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A handle that does not keep the hub alive.
    #[cfg(feature = "mqtt")]
    pub(crate) fn downgrade(&self) -> WeakBroadcast {
        WeakBroadcast(Arc::downgrade(&self.hub))
    }

    fn send(&self, room: Option<&str>, skip: Option<u64>, message: Message, forward: bool) -> Published {
        let message = Arc::new(message);
        let mut done = Published::default();
        let policy = self.hub.policy;
        let hub_id = self.hub.id;
        #[cfg(feature = "mqtt")]
        let forward =
            if forward { self.hub.forward.lock().unwrap_or_else(|e| e.into_inner()).clone() } else { None };
        let mut members = self.lock();
        // Under the members' lock, so that the bridge gets concurrent publishes in the order
        // the members do (its part never blocks: a non-blocking queue push).
        #[cfg(feature = "mqtt")]
        if let Some(forward) = forward {
            forward.forward(room, &message);
        }
        #[cfg(not(feature = "mqtt"))]
        let _ = forward;
        members.retain(|id, m| {
            if room.is_some_and(|room| !m.rooms.iter().any(|r| r == room)) || skip == Some(*id) {
                return true;
            }
            let drop_oldest = policy == SlowConsumer::DropOldest;
            match m.lane.push(hub_id, &message, drop_oldest) {
                // No wake-up needed: a member's write loop runs from the moment its lane was
                // made until the end (`Conn::broadcast_lane`), and the bell reaches it.
                Pushed::Queued => done.queued += 1,
                Pushed::QueuedDroppingOldest => {
                    m.note_drop(&mut done, "oldest");
                    done.queued += 1;
                }
                Pushed::Closed => return false,
                Pushed::Full => match policy {
                    SlowConsumer::DropNewest | SlowConsumer::DropOldest => m.note_drop(&mut done, "newest"),
                    SlowConsumer::Disconnect(code) => {
                        log::warn!(
                            "{}: broadcast queue full, disconnecting with {code}",
                            m.session.remote_addr()
                        );
                        m.session.close(code, "too slow for broadcast");
                        done.disconnected += 1;
                        return false;
                    }
                },
            }
            m.session.conn().phase() < Phase::Done
        });
        drop(members);
        let h = &self.hub;
        h.published.fetch_add(1, Ordering::Relaxed);
        h.queued.fetch_add(done.queued as u64, Ordering::Relaxed);
        h.dropped.fetch_add(done.dropped as u64, Ordering::Relaxed);
        h.disconnected.fetch_add(done.disconnected as u64, Ordering::Relaxed);
        done
    }
}

/// A [`Broadcast`] that does not keep its hub alive.
#[cfg(feature = "mqtt")]
#[derive(Clone)]
pub(crate) struct WeakBroadcast(Weak<Hub>);

#[cfg(feature = "mqtt")]
impl WeakBroadcast {
    pub(crate) fn upgrade(&self) -> Option<Broadcast> {
        self.0.upgrade().map(|hub| Broadcast { hub })
    }
}

impl Member {
    fn note_drop(&mut self, done: &mut Published, which: &str) {
        self.dropped += 1;
        done.dropped += 1;
        if self.dropped == 1 {
            log::warn!("{}: broadcast queue full, dropping the {which} message", self.session.remote_addr());
        } else {
            log::debug!("{}: broadcast drop #{} ({which})", self.session.remote_addr(), self.dropped);
        }
    }
}

impl fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("policy", &self.hub.policy)
            .field("members", &self.len())
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::connection::shared::{CTRL_CAPACITY, Ctrl};
    use crate::connection::testing;
    use crate::server::Config;

    #[test]
    fn joining_again_and_again_registers_one_end_hook_per_hub() {
        let f = testing::session(Config::default().settings());
        let hub = Broadcast::new(SlowConsumer::DropNewest);
        let other = Broadcast::new(SlowConsumer::DropNewest);
        for i in 0..1000 {
            hub.join(&f.session);
            hub.join_room(&f.session, &format!("room{}", i % 3));
            hub.leave_room(&f.session, &format!("room{}", i % 3));
            if i % 10 == 0 {
                hub.leave(&f.session);
            }
        }
        other.join(&f.session);
        other.join(&f.session);
        assert_eq!(f.conn.end_hooks(), 2, "one hook per hub, however often the session joins");
        assert_eq!((hub.len(), other.len()), (1, 1));
        f.conn.run_end_hooks();
        assert_eq!((hub.len(), other.len()), (0, 0), "the hooks still remove the member");
    }

    #[test]
    fn drop_oldest_never_drops_another_hubs_message() {
        let f = testing::session(Config::default().queue_capacity(2).settings());
        let a = Broadcast::new(SlowConsumer::DropOldest);
        let b = Broadcast::new(SlowConsumer::DropNewest);
        a.join(&f.session);
        b.join(&f.session);
        b.publish("b1");
        b.publish("b2");
        let published = a.publish("a1");
        assert_eq!((published.queued, published.dropped), (0, 1), "a1 itself is dropped");
        let lane = f.conn.broadcast_lane();
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("b1")));
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("b2")));
        // With one of its own waiting, hub A drops its own oldest.
        a.publish("a2");
        a.publish("a3");
        a.publish("a4");
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("a3")));
        assert_eq!(lane.pop().as_deref(), Some(&Message::from("a4")));
    }

    #[test]
    fn joining_never_waits_for_a_stuck_write_loop() {
        let f = testing::session(Config::default().settings());
        // Nobody drains the control lane: a write loop stuck on a peer that does not read.
        for _ in 0..CTRL_CAPACITY {
            f.conn.ctrl_tx.try_send(Ctrl::Flush).unwrap();
        }
        let hub = Broadcast::new(SlowConsumer::DropNewest);
        let (done_tx, done) = crossbeam_channel::bounded(1);
        let (h, s) = (hub.clone(), f.session.clone());
        std::thread::spawn(move || {
            h.join(&s);
            let _ = done_tx.send(());
        });
        assert!(done.recv_timeout(Duration::from_secs(5)).is_ok(), "join blocked on the full control lane");
        assert_eq!(hub.publish("hi").queued, 1);
    }

    #[test]
    fn publish_except_skips_the_sender() {
        let one = testing::session(Config::default().settings());
        let two = testing::session(Config::default().settings());
        let hub = Broadcast::new(SlowConsumer::DropNewest);
        hub.join_room(&one.session, "r");
        hub.join_room(&two.session, "r");
        assert_eq!(hub.publish_except(&one.session, "from one").queued, 1);
        assert_eq!(hub.publish_to_except("r", &two.session, "from two").queued, 1);
        let lane = |f: &testing::Fixture| f.conn.broadcast_lane().pop();
        assert_eq!(lane(&two).as_deref(), Some(&Message::from("from one")));
        assert_eq!(lane(&one).as_deref(), Some(&Message::from("from two")));
        assert_eq!((lane(&one), lane(&two)), (None, None));
        assert_eq!(hub.publish("to all").queued, 2);
    }
}
