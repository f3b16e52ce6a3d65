//! Broadcast hubs over real sockets: ordering at scale, rooms, leaving on close, publishing
//! from a thread that is no handler, and each slow-consumer policy with a client that never
//! reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;
/// Messages published in the slow-consumer tests.
const MESSAGES: usize = 500;

use syncws::{Broadcast, CloseCode, Config, Handler, Message, Server, Session, SlowConsumer};

/// Joins the hub on open (and the room named by the query string, if any).
struct Member(Broadcast);

impl Handler for Member {
    fn on_open(&mut self, session: &Session) {
        match session.request().query() {
            Some(room) => self.0.join_room(session, room),
            None => self.0.join(session),
        }
    }
    fn on_message(&mut self, _session: &Session, message: Message) {
        self.0.publish(message);
    }
}

fn hub_server(policy: SlowConsumer, queue: usize) -> (syncws::ServerHandle, Broadcast) {
    let hub = Broadcast::new(policy);
    let h = hub.clone();
    let config = Config::default().queue_capacity(queue).max_message_size(1 << 20);
    (start(Server::new(config).route("/hub", move || Member(h.clone()))), hub)
}

#[test]
fn every_fast_client_gets_every_message_in_order() {
    const CLIENTS: usize = 300;
    const MESSAGES: usize = 100;
    let (server, hub) = hub_server(SlowConsumer::DropNewest, 256);
    let mut clients: Vec<Client> =
        (0..CLIENTS).map(|_| Client::connect(server.local_addr(), "/hub")).collect();
    assert!(wait_until(Duration::from_secs(5), || hub.len() == CLIENTS));
    // Publish from a plain thread, as a sensor thread on a board would.
    let publisher = {
        let hub = hub.clone();
        thread::spawn(move || {
            for i in 0..MESSAGES {
                let p = hub.publish(format!("reading {i}"));
                assert_eq!(p.queued, CLIENTS);
            }
        })
    };
    publisher.join().unwrap();
    for c in &mut clients {
        for i in 0..MESSAGES {
            assert_eq!(c.read_data().unwrap().text(), format!("reading {i}"));
        }
    }
    let s = hub.stats();
    assert_eq!((s.published, s.queued, s.dropped), (MESSAGES as u64, (CLIENTS * MESSAGES) as u64, 0));
}

#[test]
fn rooms_get_only_their_messages_and_members_leave_on_close() {
    let (server, hub) = hub_server(SlowConsumer::DropNewest, 64);
    let mut kitchen = Client::connect(server.local_addr(), "/hub?kitchen");
    let mut garage = Client::connect(server.local_addr(), "/hub?garage");
    assert!(wait_until(Duration::from_secs(5), || hub.len() == 2));
    assert_eq!(hub.publish_to("kitchen", "oven on").queued, 1);
    assert_eq!(hub.publish("all lights off").queued, 2);
    assert_eq!(kitchen.read_data().unwrap().text(), "oven on");
    assert_eq!(kitchen.read_data().unwrap().text(), "all lights off");
    assert_eq!(garage.read_data().unwrap().text(), "all lights off");
    // A member's message goes to everyone, itself included.
    garage.send_text("door open");
    assert_eq!(kitchen.read_data().unwrap().text(), "door open");
    assert_eq!(garage.read_data().unwrap().text(), "door open");
    garage.send_close(1000, "");
    garage.expect_close();
    assert!(wait_until(Duration::from_secs(5), || hub.len() == 1), "members leave on close");
    drop(kitchen);
    assert!(wait_until(Duration::from_secs(5), || hub.is_empty()), "also on a dropped connection");
}

/// Three fast readers and one client that never reads; 500 messages of 32 KiB (more than the
/// stuck client's socket buffers hold). The publisher stays at most `WINDOW` messages ahead of
/// the slowest fast reader, so on a loaded machine the fast clients' 16-deep lanes never fill
/// (with a fixed pacing they sometimes did, and dropped for them). Returns the longest single
/// publish, the stuck client, and the fast clients (still connected).
fn run_with_a_stuck_client(
    policy: SlowConsumer,
) -> (syncws::ServerHandle, Broadcast, Duration, Client, Vec<Client>) {
    let (server, hub) = hub_server(policy, 16);
    let stuck = Client::connect(server.local_addr(), "/hub");
    let fast: Vec<Client> = (0..3).map(|_| Client::connect(server.local_addr(), "/hub")).collect();
    assert!(wait_until(Duration::from_secs(5), || hub.len() == 4));
    const WINDOW: usize = 8;
    let progress: Vec<Arc<AtomicUsize>> = (0..fast.len()).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let readers: Vec<_> = fast
        .into_iter()
        .zip(progress.iter().cloned())
        .map(|(mut c, read)| {
            thread::spawn(move || {
                for i in 0..MESSAGES {
                    let f = c.read_data().expect("fast readers get everything");
                    assert_eq!(&f.payload[..8], &(i as u64).to_be_bytes(), "in publish order");
                    read.store(i + 1, Ordering::Release);
                }
                c
            })
        })
        .collect();
    let mut longest = Duration::ZERO;
    for i in 0..MESSAGES {
        let slowest = || progress.iter().map(|p| p.load(Ordering::Acquire)).min().unwrap_or(MESSAGES);
        let deadline = Instant::now() + Duration::from_secs(10);
        while slowest() + WINDOW <= i {
            assert!(Instant::now() < deadline, "fast readers stalled at message {i}");
            thread::sleep(Duration::from_micros(200));
        }
        let mut payload = vec![0u8; 32 * 1024];
        payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let started = Instant::now();
        hub.publish(payload);
        longest = longest.max(started.elapsed());
    }
    let fast = readers.into_iter().map(|r| r.join().unwrap()).collect();
    (server, hub, longest, stuck, fast)
}

#[test]
fn drop_newest_drops_only_for_the_stuck_client() {
    let (_server, hub, longest, _stuck, _fast) = run_with_a_stuck_client(SlowConsumer::DropNewest);
    let s = hub.stats();
    assert!(s.dropped > 0, "{s:?}");
    assert_eq!(s.disconnected, 0);
    assert_eq!(s.queued + s.dropped, MESSAGES as u64 * 4, "every message was queued or dropped, per member");
    assert!(longest < Duration::from_secs(1), "publish never blocks on the stuck client: {longest:?}");
    assert_eq!(hub.len(), 4);
}

#[test]
fn drop_oldest_keeps_the_newest_for_the_stuck_client() {
    let (_server, hub, longest, mut stuck, _fast) = run_with_a_stuck_client(SlowConsumer::DropOldest);
    let s = hub.stats();
    assert!(s.dropped > 0, "{s:?}");
    assert!(longest < Duration::from_secs(1), "{longest:?}");
    // When the stuck client finally reads, the last message published is among what it gets.
    let mut last = None;
    while let Some(f) = {
        stuck.stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        stuck.read_data()
    } {
        last = Some(u64::from_be_bytes(f.payload[..8].try_into().unwrap()));
    }
    assert_eq!(last, Some(MESSAGES as u64 - 1));
}

#[test]
fn disconnect_closes_the_stuck_client_with_its_code() {
    let (_server, hub, longest, mut stuck, _fast) =
        run_with_a_stuck_client(SlowConsumer::Disconnect(CloseCode::TRY_AGAIN_LATER));
    let s = hub.stats();
    assert_eq!((s.disconnected, hub.len()), (1, 3), "{s:?}");
    assert!(longest < Duration::from_secs(1), "{longest:?}");
    assert_eq!(stuck.expect_close().0, 1013);
}
