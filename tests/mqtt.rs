//! Broadcast hubs bridged through a real MQTT broker: Debian's `mosquitto` (installed with apt
//! if missing), started by each test on a loopback port of its own, with syncws servers and
//! WebSocket clients on both sides.
#![cfg(feature = "mqtt")]

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::{Client, Frame, wait_until};
use syncws::{
    Broadcast, Config, Handler, Message, MqttBridge, MqttConfig, Server, ServerHandle, Session, SlowConsumer,
};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const MOSQUITTO_PUB: &str = "/usr/bin/mosquitto_pub";
const WAIT: Duration = Duration::from_secs(10);

/// Installs mosquitto and its command-line clients once per run.
fn setup() {
    support::require_peer_tests("installs mosquitto with apt");
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if Path::new(MOSQUITTO).exists() && Path::new(MOSQUITTO_PUB).exists() {
            return;
        }
        let script = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients";
        let ok = Command::new("sh").args(["-c", script]).status().is_ok_and(|s| s.success());
        assert!(ok, "could not install mosquitto with apt-get");
    });
}

/// A mosquitto on 127.0.0.1:`port`, no persistence: a restart forgets everything.
struct Broker {
    port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

impl Broker {
    fn start() -> Broker {
        Broker::start_with("")
    }

    /// A broker with `extra` lines of configuration.
    fn start_with(extra: &str) -> Broker {
        setup();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = std::env::temp_dir().join(format!("syncws-mosquitto-{port}.conf"));
        let settings = format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}");
        std::fs::write(&conf, settings).unwrap();
        let mut broker = Broker { port, conf, child: None };
        broker.restart();
        broker
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on its port and waits until it accepts connections.
    fn restart(&mut self) {
        self.stop();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let addr: SocketAddr = self.addr().parse().unwrap();
        let up = wait_until(WAIT, || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok());
        assert!(up, "mosquitto did not start on {addr}");
    }

    /// Publishes `payload` on `topic` with `mosquitto_pub`, a plain MQTT client.
    fn mosquitto_pub(&self, topic: &str, payload: &[u8]) {
        let file = std::env::temp_dir().join(format!("syncws-mqtt-payload-{}", self.port));
        std::fs::write(&file, payload).unwrap();
        let ok = Command::new(MOSQUITTO_PUB)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1", "-t", topic, "-f"])
            .arg(&file)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mosquitto_pub failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.conf);
    }
}

/// A chat member: `/room/NAME` joins NAME, any other path the whole hub; what it sends goes to
/// its room (or everyone), itself included.
struct Member {
    hub: Broadcast,
    room: Option<String>,
}

impl Handler for Member {
    fn on_open(&mut self, session: &Session) {
        match session.request().path().strip_prefix("/room/") {
            Some(room) => {
                self.hub.join_room(session, room);
                self.room = Some(room.to_owned());
            }
            None => self.hub.join(session),
        }
    }

    fn on_message(&mut self, _session: &Session, message: Message) {
        match &self.room {
            Some(room) => self.hub.publish_to(room, message),
            None => self.hub.publish(message),
        };
    }
}

/// One chat server: a hub, its bridge and a WebSocket server on 127.0.0.1.
struct ChatServer {
    hub: Broadcast,
    bridge: MqttBridge,
    server: ServerHandle,
}

impl ChatServer {
    fn start(config: MqttConfig) -> ChatServer {
        let hub = Broadcast::new(SlowConsumer::DropNewest);
        let bridge = MqttBridge::start(&hub, config).expect("start the bridge");
        let h = hub.clone();
        // Room for all the messages a test sends before its clients read (the members' policy
        // would drop the rest).
        let server = Server::new(Config::default().queue_capacity(256))
            .fallback(syncws::Route::handler(move || Member { hub: h.clone(), room: None }))
            .bind("127.0.0.1:0")
            .expect("bind");
        ChatServer { hub, bridge, server }
    }

    fn client(&self, path: &str) -> Client {
        let before = self.hub.len();
        let client = Client::open(self.server.local_addr(), path, WAIT).expect("connect");
        // Joined once the server has the session in its hub.
        assert!(wait_until(WAIT, || self.hub.len() > before), "the member joined");
        client
    }
}

fn config(broker: &Broker, prefix: &str) -> MqttConfig {
    MqttConfig::new(broker.addr())
        .topic_prefix(prefix)
        .keep_alive(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
}

fn text(frame: &Frame) -> String {
    assert_eq!(frame.opcode, 1, "a text message");
    String::from_utf8(frame.payload.clone()).unwrap()
}

/// Receives `n` messages and returns their texts.
fn texts(client: &mut Client, n: usize) -> Vec<String> {
    (0..n).map(|_| text(&client.recv_message().expect("a message"))).collect()
}

/// Nothing more arrives within a short wait.
fn quiet(client: &mut Client) -> bool {
    client.stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let quiet = client.recv_message().is_err();
    client.stream.set_read_timeout(Some(WAIT)).unwrap();
    quiet
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn rooms_span_servers_and_each_member_gets_each_message_once_in_order() {
    let broker = Broker::start();
    let (a, b) =
        (ChatServer::start(config(&broker, "t/rooms")), ChatServer::start(config(&broker, "t/rooms")));
    assert!(a.bridge.wait_connected(WAIT) && b.bridge.wait_connected(WAIT), "both bridges connect");
    let mut a_red = a.client("/room/red");
    let mut b_red = b.client("/room/red");
    let mut b_blue = b.client("/room/blue");
    let mut b_all = b.client("/");
    let sent: Vec<String> = (0..200).map(|i| format!("red {i}")).collect();
    for m in &sent {
        a_red.send_text(m);
    }
    assert_eq!(texts(&mut b_red, sent.len()), sent, "the other server's member, in order");
    assert_eq!(texts(&mut a_red, sent.len()), sent, "the sender's own server, from its hub");
    assert!(quiet(&mut a_red) && quiet(&mut b_red), "and once only");
    // A binary message the other way; a room name that needs escaping.
    b_red.send_binary(&[0, 0xff, 7]);
    for c in [&mut a_red, &mut b_red] {
        let got = c.recv_message().unwrap();
        assert_eq!((got.opcode, got.payload.as_slice()), (2, &[0, 0xff, 7][..]));
    }
    let mut a_odd = a.client("/room/a%2Fb+c");
    let mut b_odd = b.client("/room/a%2Fb+c");
    a_odd.send_text("odd room");
    assert_eq!(texts(&mut b_odd, 1), ["odd room"]);
    // To everyone: members of every room and of none, on both servers.
    a.hub.publish("to all");
    for c in [&mut b_red, &mut b_blue, &mut b_all, &mut a_red] {
        let messages = texts(c, 1);
        assert_eq!(messages, ["to all"]);
    }
    assert!(quiet(&mut b_blue), "no red message reached the blue room");
    assert!(wait_until(WAIT, || a.bridge.stats().acked == 202), "every message acknowledged");
    let (sa, sb) = (a.bridge.stats(), b.bridge.stats());
    assert_eq!((sa.sent, sa.acked, sa.dropped, sa.duplicates, sa.lost), (202, 202, 0, 0, 0), "{sa:?}");
    assert_eq!((sb.delivered, sb.duplicates, sb.lost, sb.malformed), (202, 0, 0, 0), "{sb:?}");
    assert_eq!(sa.delivered, 1, "A got B's binary message: {sa:?}");
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn plain_mqtt_clients_reach_members_and_bad_messages_are_dropped() {
    let broker = Broker::start();
    let b = ChatServer::start(config(&broker, "t/plain").max_message_size(1000));
    assert!(b.bridge.wait_connected(WAIT));
    let mut lobby = b.client("/room/lobby");
    let mut all = b.client("/");
    broker.mosquitto_pub("t/plain/room/lobby", b"from a sensor");
    assert_eq!(texts(&mut lobby, 1), ["from a sensor"]);
    broker.mosquitto_pub("t/plain/all", &[0xff, 0x00]);
    for c in [&mut lobby, &mut all] {
        let got = c.recv_message().unwrap();
        assert_eq!((got.opcode, got.payload.as_slice()), (2, &[0xff, 0x00][..]), "not UTF-8: binary");
    }
    // A bad envelope, a topic outside the layout, a message over the limit: dropped, counted.
    broker.mosquitto_pub("t/plain/bridge/all", b"no envelope");
    broker.mosquitto_pub("t/plain/elsewhere", b"x");
    broker.mosquitto_pub("t/plain/all", &[b'y'; 1001]);
    broker.mosquitto_pub("t/plain/all", b"still here");
    assert_eq!(texts(&mut all, 1), ["still here"], "the bad ones were skipped");
    let stats = b.bridge.stats();
    assert_eq!((stats.delivered, stats.malformed, stats.too_large), (3, 2, 1), "{stats:?}");
    // A message over the limit from a member stays local.
    lobby.send_text(&"z".repeat(1001));
    assert_eq!(texts(&mut lobby, 1), ["still here"]);
    assert_eq!(texts(&mut lobby, 1)[0].len(), 1001);
    assert!(wait_until(WAIT, || b.bridge.stats().too_large == 2));
    assert_eq!(b.bridge.stats().sent, 0);
}

#[test]
fn without_a_broker_local_delivery_goes_on_and_the_queue_is_bounded() {
    // Port 1: nothing listens there (a freed port could be another test's broker by now).
    let a = ChatServer::start(
        MqttConfig::new("127.0.0.1:1")
            .topic_prefix("t/away")
            .queue_capacity(100)
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100)),
    );
    let mut member = a.client("/");
    let started = Instant::now();
    for i in 0..5_000 {
        a.hub.publish(format!("{i}"));
    }
    assert!(started.elapsed() < Duration::from_secs(5), "publishing never waits for the broker");
    let stats = a.bridge.stats();
    assert_eq!(
        (stats.connected, stats.forwarded, stats.dropped, stats.sent),
        (false, 100, 4_900, 0),
        "{stats:?}"
    );
    // The member's own queue (256) dropped most of them too; the first one arrived first.
    let first = member.recv_message().unwrap();
    assert_eq!(text(&first), "0");
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn a_broker_restart_loses_only_what_is_counted() {
    let mut broker = Broker::start();
    let (a, b) =
        (ChatServer::start(config(&broker, "t/restart")), ChatServer::start(config(&broker, "t/restart")));
    assert!(a.bridge.wait_connected(WAIT) && b.bridge.wait_connected(WAIT));
    let mut member = b.client("/");
    let publish = |range: std::ops::Range<u32>| {
        for i in range {
            a.hub.publish(format!("{i}"));
        }
    };
    publish(0..50);
    assert_eq!(texts(&mut member, 50), (0..50).map(|i| i.to_string()).collect::<Vec<_>>());
    broker.stop();
    assert!(wait_until(WAIT, || !a.bridge.is_connected() && !b.bridge.is_connected()), "both see it go");
    publish(50..60); // queued on A while the broker is away; local delivery goes on
    broker.restart();
    assert!(a.bridge.wait_connected(WAIT) && b.bridge.wait_connected(WAIT), "both reconnect");
    publish(60..100);
    // B gets 60 to 99 for sure, and of 50 to 59 whatever reached the broker after B subscribed
    // again: the rest B counts as lost once 60 arrives. Never twice, never out of order.
    let mut got = Vec::new();
    while got.last() != Some(&99) {
        got.push(text(&member.recv_message().expect("every message up to 99")).parse::<u32>().unwrap());
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once: {got:?}");
    assert!((60..100).all(|i| got.contains(&i)), "{got:?}");
    let (sa, sb) = (a.bridge.stats(), b.bridge.stats());
    assert_eq!(got.len() as u64 + sb.lost, 50, "every one of 50 to 99 delivered or counted lost: {sb:?}");
    assert_eq!((sa.connects, sa.dropped), (2, 0), "{sa:?}");
    // Messages A sent before the restart whose PUBACK the broker's death lost came again
    // (resent with DUP): B dropped them (`duplicates`), so the member got each once.
    assert!(sb.connects >= 2 && sb.duplicates <= sa.resent, "{sa:?} {sb:?}");
    assert!(quiet(&mut member));
}

#[cfg(feature = "tls")]
#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn the_broker_may_be_reached_over_tls() {
    use std::os::unix::fs::PermissionsExt;
    // mosquitto started as root reads its files as the user `mosquitto`: a readable copy of
    // the test key.
    let key = std::env::temp_dir().join(format!("syncws-mqtt-{}.key", std::process::id()));
    std::fs::copy(support::cert_path("server.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let broker = Broker::start_with(&format!(
        "certfile {}\nkeyfile {}\n",
        support::cert_path("server.pem"),
        key.display()
    ));
    let tls = syncws::ClientTls::ca_file(support::cert_path("ca.pem")).unwrap();
    let over_tls = |host: &str| {
        MqttConfig::new(format!("{host}:{}", broker.port))
            .topic_prefix("t/tls")
            .tls(tls.clone())
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(200))
    };
    let (a, b) = (ChatServer::start(over_tls("localhost")), ChatServer::start(over_tls("127.0.0.1")));
    assert!(a.bridge.wait_connected(WAIT) && b.bridge.wait_connected(WAIT), "TLS to the broker");
    let mut member = b.client("/");
    a.hub.publish("sealed");
    assert_eq!(texts(&mut member, 1), ["sealed"]);
    // A bridge that does not trust the broker's CA never connects.
    let other = syncws::ClientTls::ca_file(support::cert_path("other-ca.pem")).unwrap();
    let c = ChatServer::start(over_tls("localhost").tls(other));
    assert!(!c.bridge.wait_connected(Duration::from_secs(1)));
    assert_eq!(c.bridge.stats().connects, 0);
    let _ = std::fs::remove_file(key);
}

/// `examples/fanout.rs` in a process of its own (cargo builds the examples beside the tests).
struct Fanout {
    child: Child,
    addr: SocketAddr,
}

impl Fanout {
    fn start(broker: &Broker, prefix: &str) -> Fanout {
        use std::io::{BufRead, BufReader};
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join("examples/fanout");
        assert!(bin.exists(), "{} is missing: cargo test --features mqtt builds it", bin.display());
        let mut child = Command::new(&bin)
            .args(["127.0.0.1:0", &broker.addr(), prefix])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the fanout example");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening ").expect("listening ADDR").parse().unwrap();
        Fanout { child, addr }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each client sends probes until every client has seen a probe from every process (the
/// bridges connect in the background; at most 100 rounds of 100 ms), then the last probes are
/// read away.
fn until_all_hear(clients: &mut [Client]) {
    let n = clients.len();
    let mut heard = vec![vec![false; n]; n];
    for _ in 0..100 {
        for (k, c) in clients.iter_mut().enumerate() {
            c.send_text(&format!("probe {k}"));
        }
        for (j, c) in clients.iter_mut().enumerate() {
            c.stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            while let Ok(f) = c.recv_message() {
                if let Some(k) = text(&f).strip_prefix("probe ") {
                    heard[j][k.parse::<usize>().unwrap()] = true;
                }
            }
        }
        if heard.iter().flatten().all(|h| *h) {
            break;
        }
    }
    assert!(heard.iter().flatten().all(|h| *h), "not every process heard every other: {heard:?}");
    for c in clients.iter_mut() {
        while c.recv_message().is_ok() {} // the last probes
        c.stream.set_read_timeout(Some(WAIT)).unwrap();
    }
}

/// Each client sends `n` messages tagged `tag`, interleaved; every client gets all of them,
/// each sender's in its order, none twice (late probes skipped).
fn exchange(clients: &mut [Client], tag: &str, n: usize) {
    for i in 0..n {
        for (k, c) in clients.iter_mut().enumerate() {
            c.send_text(&format!("{tag} {k} {i}"));
        }
    }
    let senders = clients.len();
    for c in clients.iter_mut() {
        let mut next = vec![0usize; senders];
        let mut got_all = 0;
        while got_all < senders * n {
            let got = text(&c.recv_message().expect("every message"));
            if got.starts_with("probe") {
                continue;
            }
            let mut parts = got.split(' ');
            assert_eq!(parts.next(), Some(tag), "{got}");
            let k: usize = parts.next().unwrap().parse().unwrap();
            let i: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(i, next[k], "sender {k}'s messages in order, once ({tag})");
            next[k] += 1;
            got_all += 1;
        }
        assert!(quiet(c));
    }
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn three_processes_share_their_rooms_across_a_broker_restart() {
    let mut broker = Broker::start();
    let servers: Vec<Fanout> = (0..3).map(|_| Fanout::start(&broker, "t/fanout")).collect();
    let mut clients: Vec<Client> =
        servers.iter().map(|s| Client::open(s.addr, "/room/lobby", WAIT).expect("connect")).collect();
    let mut outsider = Client::open(servers[2].addr, "/room/other", WAIT).expect("connect");
    // 20 messages from each of the three clients: 60 fit a member's queue of 64 (the example's
    // DropOldest policy would drop the oldest of a longer burst that a client does not read).
    until_all_hear(&mut clients);
    exchange(&mut clients, "before", 20);
    // The broker restarts: the three bridges reconnect; the room works again.
    broker.restart();
    until_all_hear(&mut clients);
    exchange(&mut clients, "after", 20);
    assert!(quiet(&mut outsider), "another room heard nothing");
    // A plain MQTT client reaches the room on every process.
    broker.mosquitto_pub("t/fanout/room/lobby", b"from mosquitto_pub");
    for c in clients.iter_mut() {
        assert_eq!(texts(c, 1), ["from mosquitto_pub"]);
    }
}

/// Forwards what a remote server sends into the hub, and joins the hub so that what the hub
/// publishes goes to the remote server: a board's client connection to its fleet.
struct Uplink(Broadcast);

impl Handler for Uplink {
    fn on_open(&mut self, session: &Session) {
        self.0.join(session);
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        self.0.publish_except(session, message);
    }
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn a_client_connection_is_a_member_like_any_other() {
    let broker = Broker::start();
    // The board: a hub with its bridge and a syncws Client to a fleet server (a recorder).
    let (fleet, events) = support::recording(Config::default());
    let board = Broadcast::new(SlowConsumer::DropNewest);
    let bridge = MqttBridge::start(&board, config(&broker, "t/uplink")).unwrap();
    let url = format!("ws://{}/echo", fleet.local_addr());
    let uplink =
        syncws::Client::new(syncws::ClientConfig::default()).connect(&url, Uplink(board.clone())).unwrap();
    assert!(matches!(support::next(&events), support::Event::Open(_)));
    assert!(wait_until(WAIT, || board.len() == 1), "the client's session joined the hub");
    // Another server publishes; through the broker and the board's client it reaches the fleet.
    let other = ChatServer::start(config(&broker, "t/uplink"));
    assert!(bridge.wait_connected(WAIT) && other.bridge.wait_connected(WAIT));
    other.hub.publish("reading 21.5");
    match support::next(&events) {
        support::Event::Message(m) => assert_eq!(m.as_text(), Some("reading 21.5")),
        _ => panic!("the fleet server got something else"),
    }
    drop(uplink);
}

/// What a fake broker does after a packet.
enum Reply {
    /// Writes these bytes (nothing if empty) and reads on.
    Send(Vec<u8>),
    /// Writes these bytes, then holds the connection and reads nothing more.
    SendThenHang(Vec<u8>),
    /// Closes the connection.
    Close,
}

/// A fake broker on 127.0.0.1 for packets under 128 bytes (a one-byte remaining length).
/// Each connection n (from 1) gets its own copy of `reply`, called as `reply(n, packet)` for
/// each packet it reads, and once as `reply(n, &[])` when it is accepted.
fn fake_broker<R>(reply: R) -> SocketAddr
where
    R: FnMut(usize, &[u8]) -> Reply + Clone + Send + 'static,
{
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for (n, stream) in (1..).zip(listener.incoming()) {
            let (Ok(mut stream), mut reply) = (stream, reply.clone()) else { return };
            reply(n, &[]);
            std::thread::spawn(move || {
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                while let Ok(len) = stream.read(&mut chunk) {
                    if len == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..len]);
                    while buf.len() >= 2 && buf.len() >= 2 + usize::from(buf[1]) {
                        let packet: Vec<u8> = buf.drain(..2 + usize::from(buf[1])).collect();
                        match reply(n, &packet) {
                            Reply::Send(bytes) => {
                                let _ = stream.write_all(&bytes);
                            }
                            Reply::SendThenHang(bytes) => {
                                let _ = stream.write_all(&bytes);
                                std::thread::sleep(Duration::from_secs(30));
                                return;
                            }
                            Reply::Close => return,
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A broker that acknowledges the CONNECT and the SUBSCRIBE, then never answers again (no
/// PINGRESP), its connection open; with `keep_reading` false it stops reading too, a broker
/// too slow to take what the bridge sends. Sends each accepted connection's number.
fn stalled_broker_reading(keep_reading: bool) -> (SocketAddr, crossbeam_channel::Receiver<usize>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut answered = 0;
    let addr = fake_broker(move |n, packet| {
        let answer = match (packet.first().map(|b| b >> 4), answered) {
            (None, _) => {
                let _ = tx.send(n);
                return Reply::Send(Vec::new());
            }
            (Some(1), 0) => vec![0x20, 2, 0, 0],
            (Some(8), 1) => vec![0x90, 3, packet[2], packet[3], 1],
            _ => return Reply::Send(Vec::new()), // PINGREQ and the rest: silence
        };
        answered += 1;
        if answered == 2 && !keep_reading {
            return Reply::SendThenHang(answer);
        }
        Reply::Send(answer)
    });
    (addr, rx)
}

fn stalled_broker() -> (SocketAddr, crossbeam_channel::Receiver<usize>) {
    stalled_broker_reading(true)
}

#[test]
fn a_broker_that_stops_answering_is_left_after_a_keep_alive_and_dialled_again() {
    let (addr, accepted) = stalled_broker();
    let hub = Broadcast::new(SlowConsumer::DropNewest);
    let config = MqttConfig::new(addr.to_string())
        .keep_alive(Duration::from_secs(1))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(10));
    let started = Instant::now();
    let bridge = MqttBridge::start(&hub, config).unwrap();
    assert!(bridge.wait_connected(WAIT), "connected (CONNACK and SUBACK came)");
    // A ping after 1 s of silence, no answer within 1 s more: the bridge cuts and dials again.
    assert_eq!(accepted.recv_timeout(WAIT), Ok(1));
    assert_eq!(accepted.recv_timeout(WAIT), Ok(2), "dialled again");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_900) && took < Duration::from_secs(8), "{took:?}");
    assert!(wait_until(WAIT, || bridge.stats().connects == 2));
}

#[test]
fn a_broker_too_slow_to_read_never_slows_local_publishing() {
    let (addr, accepted) = stalled_broker_reading(false);
    let hub = Broadcast::new(SlowConsumer::DropNewest);
    let config = MqttConfig::new(addr.to_string())
        .keep_alive(Duration::from_secs(1))
        .queue_capacity(16)
        .max_message_size(1 << 20)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(10));
    let bridge = MqttBridge::start(&hub, config).unwrap();
    assert!(bridge.wait_connected(WAIT));
    assert_eq!(accepted.recv_timeout(WAIT), Ok(1));
    // 64 MiB for a broker that reads nothing: the socket fills, the bridge's writes wait, and
    // publishing goes on, the queue's overflow dropped and counted.
    let started = Instant::now();
    let block = Message::Binary(vec![7; 64 * 1024]);
    for _ in 0..1024 {
        hub.publish(block.clone());
    }
    assert!(started.elapsed() < Duration::from_secs(5), "publishing never waits for the broker");
    let stats = bridge.stats();
    assert_eq!(stats.forwarded + stats.dropped, 1024, "{stats:?}");
    assert!(stats.dropped > 900, "most were dropped, not waited for: {stats:?}");
    // The write that cannot finish times out after a keep-alive period (or the unanswered
    // ping does, whichever comes first): the bridge dials again.
    assert_eq!(accepted.recv_timeout(WAIT), Ok(2), "dialled again");
}

#[test]
fn stopping_cuts_a_write_stuck_on_a_broker_that_reads_nothing() {
    let (addr, accepted) = stalled_broker_reading(false);
    let hub = Broadcast::new(SlowConsumer::DropNewest);
    // A long keep-alive: the stuck write alone would hold the bridge thread for 30 s.
    let config =
        MqttConfig::new(addr.to_string()).keep_alive(Duration::from_secs(30)).max_message_size(2 << 20);
    let bridge = MqttBridge::start(&hub, config).unwrap();
    assert!(bridge.wait_connected(WAIT));
    assert_eq!(accepted.recv_timeout(WAIT), Ok(1));
    // 1 MiB messages: the 32 the bridge may have unacknowledged are more than the socket's
    // buffers take, so a write blocks (rather than the bridge waiting for PUBACKs).
    let block = Message::Binary(vec![7; 1 << 20]);
    for _ in 0..64 {
        hub.publish(block.clone());
    }
    // Stuck once the socket is full: `sent` stops growing.
    let mut last = u64::MAX;
    assert!(wait_until(WAIT, || {
        std::thread::sleep(Duration::from_millis(200));
        let sent = bridge.stats().sent;
        std::mem::replace(&mut last, sent) == sent
    }));
    let started = Instant::now();
    bridge.stop();
    assert!(started.elapsed() < Duration::from_secs(3), "stopped in {:?}", started.elapsed());
}

/// A broker whose first connection acknowledges CONNECT and SUBSCRIBE, takes three PUBLISHes
/// without a PUBACK and closes; later connections acknowledge everything. Sends what each
/// A broker whose first connection acknowledges CONNECT and SUBSCRIBE, takes three PUBLISHes
/// without a PUBACK and closes; later connections acknowledge everything. Sends what each
/// PUBLISH was: (connection, packet id, DUP flag, payload's last byte).
fn forgetful_broker() -> (SocketAddr, crossbeam_channel::Receiver<(usize, u16, bool, u8)>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut publishes = 0;
    let addr = fake_broker(move |n, p| {
        Reply::Send(match p.first().map(|b| b >> 4) {
            Some(1) => vec![0x20, 2, 0, 0],
            Some(8) => vec![0x90, 3, p[2], p[3], 1],
            Some(12) => vec![0xd0, 0],
            Some(3) => {
                let topic_len = usize::from(u16::from_be_bytes([p[2], p[3]]));
                let id = u16::from_be_bytes([p[4 + topic_len], p[5 + topic_len]]);
                let _ = tx.send((n, id, p[0] & 0x08 != 0, *p.last().unwrap()));
                publishes += 1;
                match (n, publishes) {
                    (1, 3) => return Reply::Close, // without having acknowledged any
                    (1, _) => Vec::new(),
                    _ => vec![0x40, 2, (id >> 8) as u8, id as u8],
                }
            }
            _ => Vec::new(),
        })
    });
    (addr, rx)
}

#[test]
fn what_the_broker_did_not_acknowledge_is_sent_again_with_dup() {
    let (addr, publishes) = forgetful_broker();
    let hub = Broadcast::new(SlowConsumer::DropNewest);
    let config = MqttConfig::new(addr.to_string())
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(10));
    let bridge = MqttBridge::start(&hub, config).unwrap();
    assert!(bridge.wait_connected(WAIT));
    for i in 1..=3u8 {
        hub.publish(Message::Binary(vec![i]));
    }
    let first: Vec<_> = (0..3).map(|_| publishes.recv_timeout(WAIT).unwrap()).collect();
    assert!(first.iter().all(|p| p.0 == 1 && !p.2), "{first:?}");
    // Connection 2: the same three, same ids, in order, flagged DUP; then a new one, not DUP.
    let again: Vec<_> = (0..3).map(|_| publishes.recv_timeout(WAIT).unwrap()).collect();
    let resent: Vec<_> = first.iter().map(|p| (2, p.1, true, p.3)).collect();
    assert_eq!(again, resent);
    hub.publish(Message::Binary(vec![4]));
    let next = publishes.recv_timeout(WAIT).unwrap();
    assert_eq!((next.0, next.2, next.3), (2, false, 4));
    assert!(wait_until(WAIT, || bridge.stats().acked == 4));
    let stats = bridge.stats();
    assert_eq!((stats.sent, stats.resent, stats.connects), (4, 3, 2), "{stats:?}");
}

#[test]
#[ignore = "installs mosquitto (apt, as root); SYNCWS_PEER_TESTS=1 and --include-ignored run it (scripts/test.sh)"]
fn concurrent_publishers_reach_other_servers_in_the_order_local_members_got_them() {
    let broker = Broker::start();
    let (a, b) =
        (ChatServer::start(config(&broker, "t/order")), ChatServer::start(config(&broker, "t/order")));
    assert!(a.bridge.wait_connected(WAIT) && b.bridge.wait_connected(WAIT));
    let mut local = a.client("/");
    let mut remote = b.client("/");
    // Four threads publish 50 each at once; the order among them is whatever the hub made.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let hub = a.hub.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    hub.publish(format!("{t} {i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let here = texts(&mut local, 200);
    let there = texts(&mut remote, 200);
    assert_eq!(there, here, "the other server's member got them in the local order");
    let stats = b.bridge.stats();
    assert_eq!((stats.delivered, stats.duplicates, stats.lost, stats.malformed), (200, 0, 0, 0), "{stats:?}");
}
