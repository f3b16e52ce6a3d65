//! Test support: servers on 127.0.0.1:0, a recording handler, and the raw WebSocket client
//! (the `wsclient` crate beside this file, shared with syncws-bench), with which tests break
//! every rule on purpose. Every read has a timeout.
#![allow(dead_code)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

pub use wsclient::*;

#[cfg(feature = "cli")]
mod echo_process;
// Every test binary includes this module; only those that run the binary use these.
#[cfg(feature = "cli")]
#[allow(unused_imports)]
pub use echo_process::{EchoProcess, echo_binary};

use syncws::{Server, ServerHandle};

pub fn start(server: Server) -> ServerHandle {
    server.bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// The environment variable that lets tests install peers (apt, PyPI, npm) and run Chromium.
pub const PEER_TESTS: &str = "SYNCWS_PEER_TESTS";

/// Called by every test that installs a peer. Such tests are `#[ignore]`d, so that a plain
/// `cargo test` needs no root and no network and lists them as ignored, with the reason;
/// `scripts/test.sh` sets `SYNCWS_PEER_TESTS=1` and runs them with `--include-ignored`. Run
/// with `--include-ignored` alone, they fail here instead of installing anything.
pub fn require_peer_tests(what: &str) {
    assert_eq!(
        std::env::var(PEER_TESTS).as_deref(),
        Ok("1"),
        "this test {what}: set {PEER_TESTS}=1 to allow it (scripts/test.sh does)"
    );
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A process's resident memory, threads and open descriptors, from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSample {
    pub rss_kib: u64,
    pub threads: u64,
    pub fds: u64,
}

impl ProcessSample {
    /// The process `pid` (a number, or `self`) now.
    pub fn of(pid: &str) -> ProcessSample {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64;
        ProcessSample { rss_kib: field("VmRSS:"), threads: field("Threads:"), fds }
    }
}

/// Closes `stream` with an RST instead of a FIN, when it is dropped (SO_LINGER 0).
#[allow(unsafe_code)]
pub fn reset_on_drop(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on an open socket, with a linger struct of the size given.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

use crossbeam_channel::{Receiver, Sender};
use syncws::{CloseReason, Config, Handler, Message, Session};

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone)]
pub enum Event {
    Open(Session),
    Message(Message),
    Error(String),
    Close(CloseReason),
}

/// A handler that echoes and reports every event on a channel.
pub struct Recorder {
    pub events: Sender<Event>,
}

impl Handler for Recorder {
    fn on_open(&mut self, session: &Session) {
        let _ = self.events.send(Event::Open(session.clone()));
    }
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = self.events.send(Event::Message(message.clone()));
        if message.as_text() == Some("panic") {
            panic!("handler asked to panic");
        }
        let _ = session.send(message);
    }
    fn on_error(&mut self, _session: &Session, error: &syncws::Error) {
        let _ = self.events.send(Event::Error(error.to_string()));
    }
    fn on_close(&mut self, _session: &Session, reason: &CloseReason) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

/// A server with a recording echo handler on `/echo`.
pub fn recording(config: Config) -> (ServerHandle, Receiver<Event>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(Server::new(config).route("/echo", move || Recorder { events: tx.clone() }));
    (server, rx)
}

/// The next event, within the read timeout.
pub fn next(events: &Receiver<Event>) -> Event {
    events.recv_timeout(READ_TIMEOUT).expect("no event in time")
}

/// Skips events until the close event; returns its reason.
pub fn close_event(events: &Receiver<Event>) -> CloseReason {
    for _ in 0..1000 {
        if let Event::Close(r) = next(events) {
            return r;
        }
    }
    panic!("no close event");
}

/// A peer's WebSocket server in a child process (`tests/peers/*_server.*`): its port, and the
/// lines it prints after "listening PORT". Killed when dropped.
pub struct PeerServer {
    child: std::process::Child,
    pub port: u16,
    /// Whether it serves TLS (its URLs are `wss://`).
    pub tls: bool,
    pub lines: Receiver<String>,
}

impl PeerServer {
    /// Starts `command` (stdout piped) and waits for its "listening PORT" line.
    pub fn start(mut command: std::process::Command) -> PeerServer {
        use std::io::BufRead;
        let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("start the peer server");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(30)).expect("the peer server prints its port");
        let port = first.strip_prefix("listening ").and_then(|p| p.trim().parse().ok()).expect(&first);
        PeerServer { child, port, tls: false, lines }
    }

    /// Starts `command` with the test server certificate and key as its last two arguments:
    /// a TLS server (`tests/certs/`).
    pub fn start_tls(mut command: std::process::Command) -> PeerServer {
        command.args([cert_path("server.pem"), cert_path("server.key")]);
        let mut server = PeerServer::start(command);
        server.tls = true;
        server
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// Waits (within the read timeout) for a line starting with `prefix`; returns it.
    pub fn expect_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + READ_TIMEOUT;
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.starts_with(prefix) {
                return line;
            }
        }
        panic!("the peer server never printed {prefix:?}");
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a test certificate file (`tests/certs/`, made by its `make.sh`).
pub fn cert_path(name: &str) -> String {
    format!("{}/tests/certs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The test server certificate, requiring client certificates from the test CA (mutual TLS).
#[cfg(feature = "tls")]
pub fn mutual_tls() -> syncws::ServerTls {
    syncws::ServerTls::from_pem_files(cert_path("server.pem"), cert_path("server.key"))
        .and_then(|tls| tls.require_client_cert_file(cert_path("ca.pem")))
        .expect("the test certificates load")
}

/// A client handler that reports messages and the close reason on a channel.
pub struct Collect(pub Sender<Result<Message, CloseReason>>);

impl Handler for Collect {
    fn on_message(&mut self, _: &Session, message: Message) {
        let _ = self.0.send(Ok(message));
    }
    fn on_close(&mut self, _: &Session, reason: &CloseReason) {
        let _ = self.0.send(Err(reason.clone()));
    }
}

/// Connects the syncws client (with permessage-deflate offered if `deflate`) to `url`.
pub fn peer_client(
    url: &str,
    deflate: bool,
) -> (syncws::ClientHandle, Receiver<Result<Message, CloseReason>>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let config = syncws::ClientConfig::default()
        .max_message_size(20 << 20)
        .max_frame_size(20 << 20)
        .ping_period(Some(Duration::from_millis(100)))
        .timeout(Duration::from_millis(800));
    #[cfg(feature = "tls")]
    let config = if url.starts_with("wss://") {
        config.tls(syncws::ClientTls::ca_file(cert_path("ca.pem")).unwrap())
    } else {
        config
    };
    let client = syncws::Client::new(config);
    #[cfg(feature = "deflate")]
    let client = if deflate { client.extension(syncws::Deflate::default().min_size(0)) } else { client };
    #[cfg(not(feature = "deflate"))]
    assert!(!deflate, "permessage-deflate needs the deflate feature");
    (client.connect(url, Collect(tx)).unwrap_or_else(|e| panic!("connect {url}: {e}")), rx)
}

fn received(rx: &Receiver<Result<Message, CloseReason>>) -> Result<Message, CloseReason> {
    rx.recv_timeout(READ_TIMEOUT).expect("nothing from the peer server in time")
}

/// The syncws client against a peer's server (`PeerServer` on `tests/peers/*_server.*`): text,
/// binary, 16 MiB, 200 messages in order, fragments, pings both ways over an idle second,
/// permessage-deflate negotiated when `deflate`, and close codes both ways. `reports_pongs`: the
/// server prints "pong" when the client answers its ping.
pub fn client_against(server: &PeerServer, deflate: bool, reports_pongs: bool) {
    let (client, rx) = peer_client(&server.url("/echo"), deflate);
    let session = client.wait_open(READ_TIMEOUT).expect("open");
    assert_eq!(session.extensions().starts_with("permessage-deflate"), deflate, "{:?}", session.extensions());
    let big: Vec<u8> = (0..16 << 20).map(|i: usize| (i * 7 % 251) as u8).collect();
    let mut sent =
        vec![Message::Text("héllo".to_owned()), Message::Binary(vec![0, 1, 2, 255]), Message::Binary(big)];
    sent.extend((0..200).map(|i| Message::Text(format!("message {i} {}", "x".repeat(i)))));
    for m in &sent {
        session.send(m.clone()).unwrap();
    }
    for (i, m) in sent.iter().enumerate() {
        assert!(received(&rx).as_ref() == Ok(m), "message {i} came back changed");
    }
    // An idle second: the server pings every 0.2 s, the client every 0.1 s, with short
    // timeouts on both sides; the connection stays up.
    std::thread::sleep(Duration::from_secs(1));
    session.send_text("still here").unwrap();
    assert_eq!(received(&rx), Ok(Message::Text("still here".to_owned())));
    if reports_pongs {
        server.expect_line("pong");
    }
    client.close(syncws::CloseCode(4000), "rust bye");
    let reason = client.wait().expect("a clean end");
    assert_eq!((reason.code, reason.was_clean), (syncws::CloseCode(4000), true), "{reason:?}");
    assert_eq!(server.expect_line("closed"), "closed 4000 rust bye");

    let (client, rx) = peer_client(&server.url("/fragments"), deflate);
    assert_eq!(received(&rx), Ok(Message::Text("Hello, board".to_owned())));
    assert_eq!(received(&rx), Ok(Message::Binary(vec![0, 1, 2])));
    client.close(syncws::CloseCode::NORMAL, "");
    assert!(client.wait().unwrap().was_clean);
    server.expect_line("closed 1000");

    let (client, rx) = peer_client(&server.url("/close/4001"), deflate);
    let Err(reason) = received(&rx) else { panic!("expected the server's close") };
    assert_eq!(
        (reason.code, reason.by_peer, reason.was_clean),
        (syncws::CloseCode(4001), true, true),
        "{reason:?}"
    );
    assert!(reason.reason.ends_with(" bye"), "{reason:?}");
    assert_eq!(client.wait().unwrap().code, syncws::CloseCode(4001));
}
