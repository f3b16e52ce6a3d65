//! The client under test, run as its own process (`syncws-bench client ...`) so that its CPU
//! time and memory can be read: the syncws client, or the raw TCP client of the floor.
//!
//! - ping-pong: `conns` connections each send a message, wait for its echo (checked byte for
//!   byte), and send the next. The syncws client does it from its handler (`on_message` sends
//!   the next message), the way a client's echo path runs; the raw TCP client from a thread
//!   per connection with blocking reads.
//! - idle: `conns` syncws clients connect with pings on and stay open for `idle_secs`.
//!
//! The process prints one line, `messages N seconds S cpu C rss_before KiB rss_after KiB
//! threads_before T threads_after T open N`, measured on itself.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use argh::FromArgs;
use crossbeam_channel::Sender;
use syncws::{Client, ClientConfig, CloseCode, Handler, Message, Session};

use crate::client::{Client as _, RawClient};
use crate::servers::Result;

/// Run one client load against a server and print what it cost this process.
#[derive(FromArgs)]
#[argh(subcommand, name = "client")]
pub struct ClientArgs {
    /// syncws or raw-tcp
    #[argh(option)]
    kind: String,
    /// the server's address
    #[argh(option)]
    addr: SocketAddr,
    /// connections
    #[argh(option, default = "16")]
    conns: usize,
    /// messages per connection (ping-pong)
    #[argh(option, default = "10000")]
    per_conn: usize,
    /// message size in bytes
    #[argh(option, default = "32")]
    size: usize,
    /// hold `conns` idle syncws clients for this many seconds instead of ping-pong
    #[argh(option, default = "0")]
    idle_secs: u64,
    /// send every message through the write loop thread (no direct writes), for comparison
    #[argh(switch)]
    no_direct_writes: bool,
}

/// What this process measures on itself.
struct Own {
    cpu: f64,
    rss_kib: u64,
    threads: u64,
}

fn own() -> Own {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Own {
        cpu: crate::scenarios::stat_cpu_seconds("/proc/self/stat"),
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
    }
}

pub fn client(args: ClientArgs) -> Result<()> {
    let before = own();
    let started = Instant::now();
    let (messages, open, after) = match (args.kind.as_str(), args.idle_secs) {
        ("syncws", 0) => (syncws_pingpong(&args)?, 0, own()),
        ("syncws", secs) => {
            let (open, held) = syncws_idle(&args, secs)?;
            (0, open, held)
        }
        ("raw-tcp", 0) => (raw_pingpong(&args)?, 0, own()),
        (kind, _) => return Err(format!("client kind {kind} cannot do that").into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "messages {messages} seconds {seconds:.6} cpu {:.6} rss_before {} rss_after {} threads_before {} threads_after {} open {open}",
        after.cpu - before.cpu,
        before.rss_kib,
        after.rss_kib,
        before.threads,
        after.threads
    );
    Ok(())
}

/// Sends the next message when the echo of the last one arrives.
struct PingPong {
    conn: usize,
    seq: usize,
    per_conn: usize,
    size: usize,
    /// The payload in flight, to check its echo against (made once per message, as the raw
    /// client does).
    expected: Vec<u8>,
    done: Sender<std::result::Result<usize, String>>,
}

impl PingPong {
    fn next(&mut self) -> Message {
        self.expected = crate::scenarios::payload(self.conn, self.seq, self.size, false);
        Message::Binary(self.expected.clone())
    }
}

impl Handler for PingPong {
    fn on_open(&mut self, session: &Session) {
        let first = self.next();
        let _ = session.send(first);
    }

    fn on_message(&mut self, session: &Session, message: Message) {
        if message.as_bytes() != self.expected {
            let _ = self.done.send(Err(format!("connection {}: echo {} differs", self.conn, self.seq)));
            session.close(CloseCode::PROTOCOL_ERROR, "echo differs");
            return;
        }
        self.seq += 1;
        if self.seq == self.per_conn {
            let _ = self.done.send(Ok(self.seq));
            session.close(CloseCode::NORMAL, "");
        } else {
            let next = self.next();
            let _ = session.send(next);
        }
    }
}

fn syncws_pingpong(args: &ClientArgs) -> Result<usize> {
    let (done, results) = crossbeam_channel::unbounded();
    let url = format!("ws://{}/echo", args.addr);
    let mut clients = Vec::new();
    for conn in 0..args.conns {
        let handler = PingPong {
            conn,
            seq: 0,
            per_conn: args.per_conn,
            size: args.size,
            expected: Vec::new(),
            done: done.clone(),
        };
        let config = ClientConfig::default().ping_period(None).direct_writes(!args.no_direct_writes);
        clients.push(Client::new(config).connect(&url, handler)?);
    }
    let mut messages = 0;
    for _ in 0..args.conns {
        messages += results.recv_timeout(Duration::from_secs(300))??;
    }
    for c in clients {
        c.wait()?;
    }
    Ok(messages)
}

fn raw_pingpong(args: &ClientArgs) -> Result<usize> {
    let threads: Vec<_> = (0..args.conns)
        .map(|conn| {
            let (addr, per_conn, size) = (args.addr, args.per_conn, args.size);
            thread::spawn(move || -> std::io::Result<usize> {
                let mut client = RawClient::connect(addr)?;
                for seq in 0..per_conn {
                    let p = crate::scenarios::payload(conn, seq, size, false);
                    client.send(&p, false)?;
                    if client.recv()? != p {
                        return Err(std::io::Error::other("echo differs"));
                    }
                }
                Ok(per_conn)
            })
        })
        .collect();
    let mut messages = 0;
    for t in threads {
        messages += t.join().map_err(|_| "client thread panicked")??;
    }
    Ok(messages)
}

/// Ignores everything: an idle client (its pongs are syncws's).
struct Quiet;

impl Handler for Quiet {
    fn on_message(&mut self, _: &Session, _: Message) {}
}

/// Opens `conns` clients with pings every 5 s, holds them `secs`, and returns how many are
/// still open and what the process measured while they were.
fn syncws_idle(args: &ClientArgs, secs: u64) -> Result<(usize, Own)> {
    let url = format!("ws://{}/echo", args.addr);
    let config =
        ClientConfig::default().ping_period(Some(Duration::from_secs(5))).timeout(Duration::from_secs(15));
    let mut clients = Vec::new();
    for _ in 0..args.conns {
        clients.push(Client::new(config.clone()).connect(&url, Quiet)?);
    }
    thread::sleep(Duration::from_secs(secs));
    let open = clients.iter().filter(|c| c.is_connected()).count();
    let held = own();
    for c in &clients {
        c.close(CloseCode::NORMAL, "");
    }
    Ok((open, held))
}
