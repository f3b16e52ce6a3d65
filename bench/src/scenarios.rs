//! Scenarios, measurement and the report.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::client::{self, Idle};
use crate::peers;
use crate::servers::Result;

/// Run the benchmark and print a table.
#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// scenarios to run (repeatable): pingpong32, pingpong32pinned, pipelined64k,
    /// pipelined64kpinned, latency, text1k, deflate1k, broadcast1k, idle1000, idle10000,
    /// client32, clientidle1000; default all but idle10000.
    /// With the tls feature (never by default): tlspingpong32, tlspipelined64k, tlsidle1000,
    /// tlshandshake: syncws over TLS against plain syncws, rounds alternating
    #[argh(option)]
    scenario: Vec<String>,
    /// also write the results as JSON to this file
    #[argh(option)]
    json: Option<String>,
    /// smaller counts, for a quick look (--scale 10)
    #[argh(switch)]
    quick: bool,
    /// divide every message count (and idle time) by this, for a smoke test (default 1)
    #[argh(option)]
    scale: Option<usize>,
    /// how long idle connections are held, in seconds (default 60)
    #[argh(option, default = "60")]
    idle_seconds: u64,
    /// rounds of the comparative scenarios, servers alternating; each server's row is its
    /// median round by CPU per message (by RSS per connection for tlsidle1000) (default 3)
    #[argh(option, default = "3")]
    rounds: usize,
    /// also run pingpong32, pingpong32pinned, pipelined64k, pipelined64kpinned, latency,
    /// text1k, deflate1k and idle1000 against the peers (node-ws, python-websockets,
    /// tokio-tungstenite, libwebsockets); a peer that is not installed, or lacks
    /// permessage-deflate for deflate1k, gets a row saying skipped and why
    #[argh(switch)]
    peers: bool,
    /// install or build the missing peers first (npm and pip into target/, apt-get install
    /// libwebsockets-dev, cargo build of bench/peers/tokio-echo); implies --peers
    #[argh(switch)]
    install_peers: bool,
}

/// The servers of the comparative scenarios; with `--peers`, the peers that answered follow.
const SERVERS: [&str; 4] = ["raw-tcp", "bare-ws", "naive-tungstenite", "syncws"];

/// One measured row.
#[derive(Debug, Clone, Default)]
struct Row {
    scenario: String,
    server: String,
    messages: u64,
    seconds: f64,
    cpu_seconds: f64,
    notes: Vec<(String, String)>,
    /// Why this server did not run this scenario (a peer not installed, no deflate).
    skipped: Option<String>,
    /// A peer's versions (JSON only: the table's head lists them).
    version: Option<String>,
}

impl Row {
    /// The row of a server that did not run `scenario`, with the reason.
    fn skipped(scenario: &str, server: &str, reason: &str) -> Row {
        Row {
            scenario: scenario.into(),
            server: server.into(),
            skipped: Some(reason.into()),
            ..Row::default()
        }
    }

    fn per_sec(&self) -> f64 {
        self.messages as f64 / self.seconds
    }
    fn cpu_us_per_msg(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.messages.max(1) as f64
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let wanted: Vec<String> = if args.scenario.is_empty() {
        PEER_SCENARIOS.iter().chain(&SYNCWS_ONLY_SCENARIOS).map(|s| s.to_string()).collect()
    } else {
        args.scenario.clone()
    };
    let scale = args.scale.unwrap_or(if args.quick { 10 } else { 1 }).max(1);
    // Built once, here, rather than inside the first measured round.
    patterns();
    let mut rows = Vec::new();
    println!("syncws-bench on {} cores; CPU is the server process's utime+stime", cores());
    let rounds = args.rounds.max(1);
    let (ready, skipped) = if args.peers || args.install_peers {
        peers::prepare_all(args.install_peers)
    } else {
        (Vec::new(), Vec::new())
    };
    for peer in &ready {
        println!("peer {}: {}", peer.kind, peer.version);
    }
    for (kind, reason) in &skipped {
        println!("peer {kind}: skipped ({reason})");
    }
    let servers: Vec<&str> = SERVERS.iter().copied().chain(ready.iter().map(|p| p.kind)).collect();
    let skipped_rows = |scenario: &str| -> Vec<Row> {
        skipped.iter().map(|(kind, reason)| Row::skipped(scenario, kind, reason)).collect()
    };
    for s in &wanted {
        match s.as_str() {
            "pingpong32" => rows.extend(compare_over(&servers, rounds, |server| {
                pingpong(server, "pingpong32", 16, 32, false, 20_000 / scale)
            })?),
            // As on a single-core board: the server on one CPU, the load generator on another.
            "pingpong32pinned" => rows.extend(compare_over(&servers, rounds, |server| {
                pingpong(server, "pingpong32pinned", 16, 32, false, 20_000 / scale)
            })?),
            "text1k" => rows.extend(compare_over(&servers, rounds, |server| {
                pingpong(server, "text1k", 16, 1024, true, 10_000 / scale)
            })?),
            // The second as on a single-core board: the server on one CPU, the load generator
            // on another.
            name @ ("pipelined64k" | "pipelined64kpinned") => {
                rows.extend(compare_over(&servers, rounds, |server| {
                    pipelined(server, name, 4, 64 * 1024, 8, 4_000 / scale)
                })?)
            }
            "latency" => {
                rows.extend(compare_over(&servers, rounds, |server| latency(server, 20_000 / scale))?)
            }
            "broadcast1k" => rows.push(broadcast(1000, 1024, 10 / scale.min(5))?),
            #[cfg(feature = "deflate")]
            "deflate1k" => {
                // How long a server is left to settle before its memory is read.
                let settle = Duration::from_millis((1000 / scale as u64).max(100));
                let mut kinds = vec!["syncws, plain".to_owned(), "syncws, deflate".to_owned()];
                kinds.extend(
                    ready.iter().filter(|p| p.no_deflate.is_none()).map(|p| format!("{}, deflate", p.kind)),
                );
                let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
                rows.extend(compare_over(&kinds, rounds, |label| {
                    compressed(label, 10_000 / scale, 200 / scale.min(4), settle)
                })?);
                for peer in &ready {
                    if let Some(reason) = &peer.no_deflate {
                        rows.push(Row::skipped("deflate1k", &format!("{}, deflate", peer.kind), reason));
                    }
                }
            }
            #[cfg(not(feature = "deflate"))]
            "deflate1k" => return Err("deflate1k: syncws-bench was built without its deflate feature".into()),
            "idle1000" => {
                for server in ["naive-tungstenite", "syncws"].into_iter().chain(ready.iter().map(|p| p.kind))
                {
                    let row = idle(server, "idle1000", 1000, args.idle_seconds / scale as u64);
                    rows.push(peer_failure_as_row(server, row)?);
                }
            }
            "idle10000" => rows.push(idle("syncws", "idle10000", 10_000, args.idle_seconds / scale as u64)?),
            #[cfg(feature = "tls")]
            "tlspingpong32" => rows.extend(compare_tls(&TLS_PAIR, rounds, |server| {
                pingpong(server, "tlspingpong32", 16, 32, false, 20_000 / scale)
            })?),
            #[cfg(feature = "tls")]
            "tlspipelined64k" => rows.extend(compare_tls(&TLS_PAIR, rounds, |server| {
                pipelined(server, "tlspipelined64k", 4, 64 * 1024, 8, 4_000 / scale)
            })?),
            #[cfg(feature = "tls")]
            "tlsidle1000" => rows.extend(idle_tls(rounds, 1000 / scale, args.idle_seconds / scale as u64)?),
            #[cfg(feature = "tls")]
            "tlshandshake" => {
                rows.extend(compare_tls(&["syncws", "syncws-tls", "syncws-tls, resumed"], rounds, |kind| {
                    handshakes(kind, 4, 500 / scale)
                })?)
            }
            #[cfg(not(feature = "tls"))]
            "tlspingpong32" | "tlspipelined64k" | "tlsidle1000" | "tlshandshake" => {
                return Err(format!("{s}: syncws-bench was built without its tls feature").into());
            }
            "client32" => rows.extend(client_pingpong(rounds, 16, 32, 20_000 / scale)?),
            "clientidle1000" => {
                rows.push(client_idle(1000 / scale, (args.idle_seconds / scale as u64).max(5))?)
            }
            other => return Err(format!("unknown scenario {other}").into()),
        }
        if PEER_SCENARIOS.contains(&s.as_str()) {
            for row in rows.iter_mut().filter(|r| r.scenario.is_empty()) {
                row.scenario = s.clone();
            }
            rows.extend(skipped_rows(s));
        }
    }
    for row in &mut rows {
        let kind = row.server.split(", ").next().unwrap_or_default();
        row.version = ready.iter().find(|p| p.kind == kind).map(|p| p.version.clone());
    }
    print_table(&rows);
    if let Some(path) = args.json {
        std::fs::write(&path, to_json(&rows))?;
        println!("wrote {path}");
    }
    Ok(())
}

/// The scenarios that only syncws runs; with [`PEER_SCENARIOS`], the default run.
const SYNCWS_ONLY_SCENARIOS: [&str; 3] = ["broadcast1k", "client32", "clientidle1000"];

/// The scenarios that peers run (with `--peers`).
const PEER_SCENARIOS: [&str; 8] = [
    "pingpong32",
    "pingpong32pinned",
    "pipelined64k",
    "pipelined64kpinned",
    "latency",
    "text1k",
    "deflate1k",
    "idle1000",
];

/// Runs `scenario` against every kind for `rounds` rounds (kinds alternate, so a noisy spell
/// on this shared machine hits all of them) and keeps each kind's median round by CPU per
/// message.
fn compare_over(
    kinds: &[&str],
    rounds: usize,
    scenario: impl FnMut(&str) -> Result<Row>,
) -> Result<Vec<Row>> {
    Ok(medians(rounds_of(kinds, rounds, scenario)?, rounds))
}

/// Every round of every kind, kinds alternating within each round: `runs[kind][round]`.
fn rounds_of(
    kinds: &[&str],
    rounds: usize,
    mut scenario: impl FnMut(&str) -> Result<Row>,
) -> Result<Vec<Vec<Row>>> {
    let mut runs: Vec<Vec<Row>> = vec![Vec::new(); kinds.len()];
    for _ in 0..rounds {
        for (i, kind) in kinds.iter().enumerate() {
            runs[i].push(peer_failure_as_row(kind, scenario(kind))?);
        }
    }
    Ok(runs)
}

/// A peer that fails a scenario gets a row saying so (its scenario filled in by the caller);
/// the run goes on. Any other server's failure ends the run.
fn peer_failure_as_row(kind: &str, result: Result<Row>) -> Result<Row> {
    match result {
        Err(e) if peers::PEERS.contains(&kind.split(", ").next().unwrap_or_default()) => {
            eprintln!("{kind} failed: {e}");
            Ok(Row::skipped("", kind, &format!("failed: {e}")))
        }
        other => other,
    }
}

/// Each kind's median round by CPU per message, its rounds listed in a note.
fn medians(runs: Vec<Vec<Row>>, rounds: usize) -> Vec<Row> {
    runs.into_iter()
        .map(|mut rows| {
            if let Some(failed) = rows.iter().find(|r| r.skipped.is_some()) {
                return failed.clone();
            }
            rows.sort_by(|a, b| a.cpu_us_per_msg().total_cmp(&b.cpu_us_per_msg()));
            let all: Vec<String> = rows.iter().map(|r| format!("{:.2}", r.cpu_us_per_msg())).collect();
            let rss: Vec<String> =
                rows.iter().filter_map(|r| note(r, RSS_AFTER_ONE)).map(str::to_owned).collect();
            let mut median = rows.swap_remove(rows.len() / 2);
            if rounds > 1 {
                median.notes.push(("rounds".into(), all.join("/")));
                if !rss.is_empty() {
                    median.notes.push(("RSS/conn rounds".into(), rss.join("/")));
                }
            }
            median
        })
        .collect()
}

/// The kinds of the TLS comparisons: plain syncws, the baseline, and syncws over TLS.
#[cfg(feature = "tls")]
const TLS_PAIR: [&str; 2] = ["syncws", "syncws-tls"];

/// `compare_over` for TLS: `kinds[0]` is plain syncws; every other kind's row gets its CPU per
/// message against it, of the medians and of each round (a round's kinds ran back to back).
#[cfg(feature = "tls")]
fn compare_tls(kinds: &[&str], rounds: usize, scenario: impl FnMut(&str) -> Result<Row>) -> Result<Vec<Row>> {
    let runs = rounds_of(kinds, rounds, scenario)?;
    let per_round: Vec<String> = runs[1..]
        .iter()
        .map(|rows| {
            let r: Vec<String> = rows
                .iter()
                .zip(&runs[0])
                .map(|(r, plain)| format!("{:.2}", r.cpu_us_per_msg() / plain.cpu_us_per_msg()))
                .collect();
            r.join("/")
        })
        .collect();
    let mut rows = medians(runs, rounds);
    let plain = rows[0].cpu_us_per_msg();
    for (row, each) in rows[1..].iter_mut().zip(per_round) {
        let ratio = format!("{:.2}x", row.cpu_us_per_msg() / plain);
        row.notes.push(("CPU vs plain syncws".into(), ratio));
        if rounds > 1 {
            row.notes.push(("ratio by round".into(), each));
        }
    }
    Ok(rows)
}

/// Online CPUs (not `available_parallelism`, which shrinks to the caller's affinity, and the
/// latency scenario pins threads).
#[allow(unsafe_code)]
fn cores() -> usize {
    // SAFETY: sysconf only reads a system value.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1).max(1)
}

/// The environment variable naming a command that every server runs under, with its
/// arguments, split at spaces: `SYNCWS_BENCH_WRAP="valgrind --tool=callgrind"` counts each
/// server's instructions (`callgrind.out.PID` files; their CPU figures then mean nothing).
pub(crate) const WRAP_ENV: &str = "SYNCWS_BENCH_WRAP";

/// `command` run by `wrapper` (a program and its arguments, split at spaces).
fn wrapped(wrapper: &str, command: &Command) -> Result<Command> {
    let mut words = wrapper.split_whitespace();
    let program = words.next().ok_or_else(|| format!("{WRAP_ENV} is empty"))?;
    let mut outer = Command::new(program);
    outer.args(words).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        outer.current_dir(dir);
    }
    Ok(outer)
}

/// A server child process; ends when dropped (its stdin closes).
pub(crate) struct ServerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// What its `listening ADDR` line said after the address (a peer's versions).
    pub(crate) banner: String,
}

impl ServerProc {
    /// Starts server `kind` (`syncws-bench serve`, or a peer's own command) and reads its
    /// `listening ADDR [BANNER]` line.
    pub(crate) fn start(kind: &str, ping_secs: u64) -> Result<ServerProc> {
        let mut command = match peers::command(kind) {
            Some(peer) => peer,
            None => {
                let mut own = Command::new(std::env::current_exe()?);
                own.args([
                    "serve",
                    "--kind",
                    kind,
                    "--ping-secs",
                    &ping_secs.to_string(),
                    "--timeout-secs",
                    "15",
                ]);
                own
            }
        };
        if let Ok(wrapper) = std::env::var(WRAP_ENV) {
            command = wrapped(&wrapper, &command)?;
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line);
        let started = read.ok().and_then(|_| line.trim().strip_prefix("listening ").map(str::to_owned));
        let Some(rest) = started else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{kind} did not start").into());
        };
        let (addr, banner) = rest.split_once(' ').unwrap_or((&rest, ""));
        Ok(ServerProc { child, stdin, addr: addr.parse()?, banner: banner.to_owned() })
    }

    fn stat_field(&self, file: &str, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix(key).map(|v| v.split_whitespace().next().unwrap_or("0").parse().unwrap_or(0))
            })
            .unwrap_or(0)
    }

    /// utime + stime in seconds.
    fn cpu_seconds(&self) -> f64 {
        stat_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    /// utime + stime in seconds of the server's thread named `name` (0 if there is none).
    fn thread_cpu_seconds(&self, name: &str) -> f64 {
        let tasks = format!("/proc/{}/task", self.child.id());
        let Ok(dir) = std::fs::read_dir(&tasks) else { return 0.0 };
        dir.flatten()
            .find(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
            .map_or(0.0, |t| stat_cpu_seconds(&t.path().join("stat").to_string_lossy()))
    }

    fn rss_kib(&self) -> u64 {
        self.stat_field("status", "VmRSS:")
    }

    fn threads(&self) -> u64 {
        self.stat_field("status", "Threads:")
    }
}

/// utime + stime, in seconds, of a `/proc/.../stat` file.
pub(crate) fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / clock_ticks()
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A payload unique to (connection, sequence number), so that every echo is checked.
pub(crate) fn payload(conn: usize, seq: usize, size: usize, text: bool) -> Vec<u8> {
    // Byte i is pattern_byte(i + shift): b'a' + (i + seq) % 26 for text, (7 * i + seq) % 256
    // otherwise. Copied from one long pattern rather than computed byte by byte: the load
    // generator builds every payload twice (to send it and to check the echo), and computed
    // byte by byte, 64 KiB payloads cost it three to four times the server's CPU, on the same
    // two cores (docs/PERFORMANCE.md, "Where the time goes"); copied, about as much as the
    // server's.
    // For binary, 7 * 183 = 1 (mod 256): shifting the index by 183 * seq adds seq to every byte.
    let shift = if text { seq % 26 } else { (seq % 256) * 183 % 256 };
    let pattern = if text { &patterns().0 } else { &patterns().1 };
    let mut p = match pattern.get(shift..shift + size) {
        Some(slice) => slice.to_vec(),
        None => (shift..shift + size).map(|j| pattern_byte(j, text)).collect(),
    };
    let tag = format!("{conn}:{seq};");
    let n = tag.len().min(size);
    p[..n].copy_from_slice(&tag.as_bytes()[..n]);
    p
}

/// Byte `j` of the text or the binary pattern.
fn pattern_byte(j: usize, text: bool) -> u8 {
    if text { b'a' + (j % 26) as u8 } else { (j * 7) as u8 }
}

/// The text and binary patterns that [`payload`] slices, long enough for payloads of 1 MiB.
fn patterns() -> &'static (Vec<u8>, Vec<u8>) {
    static PATTERNS: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        let len = (1 << 20) + 256;
        (
            (0..len).map(|j| pattern_byte(j, true)).collect(),
            (0..len).map(|j| pattern_byte(j, false)).collect(),
        )
    })
}

/// What [`measure`] measured: seconds of wall time, of the server's CPU and of the load
/// generator's CPU (this process: its client threads, and the kernel's work done for them).
struct Measured {
    seconds: f64,
    cpu_seconds: f64,
    client_cpu_seconds: f64,
}

impl Measured {
    /// The load generator's CPU per message, as a row's note.
    fn client_note(&self, messages: usize) -> (String, String) {
        ("client us/msg".into(), format!("{:.2}", self.client_cpu_seconds * 1e6 / messages.max(1) as f64))
    }
}

/// Runs `work` on one thread per client, all released together, and returns the wall time
/// and the server's and the load generator's CPU time of the run.
fn measure<F>(srv: &ServerProc, clients: Vec<Box<dyn client::Client>>, work: F) -> Result<Measured>
where
    F: Fn(usize, &mut dyn client::Client) -> std::io::Result<()> + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(clients.len() + 1));
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, mut client)| {
            let (work, barrier) = (work.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                work(c, client.as_mut())
            })
        })
        .collect();
    barrier.wait();
    let own_cpu = || stat_cpu_seconds("/proc/self/stat");
    let (cpu0, client0, t0) = (srv.cpu_seconds(), own_cpu(), Instant::now());
    for h in handles {
        h.join().map_err(|_| "client thread panicked")??;
    }
    Ok(Measured {
        seconds: t0.elapsed().as_secs_f64(),
        cpu_seconds: srv.cpu_seconds() - cpu0,
        client_cpu_seconds: own_cpu() - client0,
    })
}

/// `conns` connections each sending `per_conn` messages of `size` bytes, one at a time. A
/// scenario whose name ends in `pinned` runs the server on CPU 0 and the load generator on
/// CPU 1 (see [`Pinned`]).
fn pingpong(server: &str, name: &str, conns: usize, size: usize, text: bool, per_conn: usize) -> Result<Row> {
    let srv = ServerProc::start(server, 0)?;
    let pinned = Pinned::if_named(name, &srv)?;
    let clients =
        (0..conns).map(|_| client::connect(server, srv.addr, "/echo")).collect::<std::io::Result<_>>()?;
    let measured = measure(&srv, clients, move |c, client| {
        for i in 0..per_conn {
            let p = payload(c, i, size, text);
            client.send(&p, text)?;
            if client.recv()? != p {
                return Err(std::io::Error::other("echo differs"));
            }
        }
        Ok(())
    })?;
    let mut notes = vec![
        ("conns".into(), conns.to_string()),
        ("size".into(), size.to_string()),
        measured.client_note(conns * per_conn),
    ];
    pinned.note(&mut notes);
    Ok(Row {
        scenario: name.into(),
        server: server.into(),
        messages: (conns * per_conn) as u64,
        seconds: measured.seconds,
        cpu_seconds: measured.cpu_seconds,
        notes,
        ..Row::default()
    })
}

/// `conns` connections keeping `window` messages in flight. A scenario whose name ends in
/// `pinned` runs the server on CPU 0 and the load generator on CPU 1 (see [`Pinned`]).
fn pipelined(
    server: &str,
    name: &str,
    conns: usize,
    size: usize,
    window: usize,
    per_conn: usize,
) -> Result<Row> {
    let srv = ServerProc::start(server, 0)?;
    let pinned = Pinned::if_named(name, &srv)?;
    let clients =
        (0..conns).map(|_| client::connect(server, srv.addr, "/echo")).collect::<std::io::Result<_>>()?;
    let measured = measure(&srv, clients, move |c, client| {
        let mut sent = 0;
        for _ in 0..window.min(per_conn) {
            client.send(&payload(c, sent, size, false), false)?;
            sent += 1;
        }
        for i in 0..per_conn {
            if client.recv()? != payload(c, i, size, false) {
                return Err(std::io::Error::other("echo differs or out of order"));
            }
            if sent < per_conn {
                client.send(&payload(c, sent, size, false), false)?;
                sent += 1;
            }
        }
        Ok(())
    })?;
    let mib_s = (conns * per_conn * size) as f64 / measured.seconds / (1 << 20) as f64;
    let mut notes = vec![
        ("window".into(), window.to_string()),
        ("MiB/s".into(), format!("{mib_s:.0}")),
        measured.client_note(conns * per_conn),
    ];
    pinned.note(&mut notes);
    Ok(Row {
        scenario: name.into(),
        server: server.into(),
        messages: (conns * per_conn) as u64,
        seconds: measured.seconds,
        cpu_seconds: measured.cpu_seconds,
        notes,
        ..Row::default()
    })
}

/// The server on CPU 0 and the load generator on CPU 1, while this lives: dropping it lets the
/// calling thread run on every CPU again, also when a scenario fails half-way.
struct Pinned(bool);

impl Pinned {
    /// With two cores or more: pins every thread of the server to CPU 0 (threads it starts
    /// later, such as connection threads, inherit it) and the calling thread to CPU 1 (as do
    /// the threads it starts). With one core it pins nothing.
    fn apart(srv: &ServerProc) -> Result<Pinned> {
        if cores() < 2 {
            return Ok(Pinned(false));
        }
        for task in std::fs::read_dir(format!("/proc/{}/task", srv.child.id()))?.flatten() {
            if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
                pin(tid, &[0]);
            }
        }
        pin(0, &[1]);
        Ok(Pinned(true))
    }

    /// [`Pinned::apart`] for a scenario whose name ends in `pinned`; nothing pinned for the
    /// others.
    fn if_named(scenario: &str, srv: &ServerProc) -> Result<Pinned> {
        if scenario.ends_with("pinned") { Pinned::apart(srv) } else { Ok(Pinned(false)) }
    }

    /// Says in a row's notes where the server and the load generator ran, if they were pinned.
    fn note(&self, notes: &mut Vec<(String, String)>) {
        if self.0 {
            notes.push(("cpus".into(), "server 0, client 1".into()));
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.0 {
            unpin_self();
        }
    }
}

/// Lets the calling thread run on every CPU again.
fn unpin_self() {
    pin(0, &(0..cores()).collect::<Vec<_>>());
}

/// Pins the thread or process `tid` (0: the calling thread) to `cpus`.
#[allow(unsafe_code)]
fn pin(tid: i32, cpus: &[usize]) {
    // SAFETY: `set` is a plain bit set that CPU_ZERO/CPU_SET initialise and fill in bounds;
    // sched_setaffinity only reads it. Failure only leaves the thread unpinned.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// One connection's round trips. With two cores or more the server (every thread) runs on
/// CPU 0 and the client on CPU 1: otherwise the scheduler sometimes puts both on one core,
/// where a wake-up costs a fraction of a cross-core one, and rounds differ fourfold.
fn latency(server: &str, count: usize) -> Result<Row> {
    let srv = ServerProc::start(server, 0)?;
    let mut client = client::connect(server, srv.addr, "/echo")?;
    let pinned = Pinned::apart(&srv)?;
    let mut row = latency_rounds(server, &srv, client.as_mut(), count)?;
    pinned.note(&mut row.notes);
    Ok(row)
}

fn latency_rounds(
    server: &str,
    srv: &ServerProc,
    client: &mut dyn client::Client,
    count: usize,
) -> Result<Row> {
    for i in 0..100 {
        let p = payload(0, i, 32, false);
        client.send(&p, false)?;
        client.recv()?;
    }
    let mut rtts = Vec::with_capacity(count);
    let (cpu0, t0) = (srv.cpu_seconds(), Instant::now());
    for i in 0..count {
        let p = payload(0, i, 32, false);
        let start = Instant::now();
        client.send(&p, false)?;
        if client.recv()? != p {
            return Err("echo differs".into());
        }
        rtts.push(start.elapsed());
    }
    let (seconds, cpu_seconds) = (t0.elapsed().as_secs_f64(), srv.cpu_seconds() - cpu0);
    rtts.sort();
    let pct = |p: f64| rtts[((rtts.len() as f64 * p) as usize).min(rtts.len() - 1)].as_secs_f64() * 1e6;
    Ok(Row {
        scenario: "latency".into(),
        server: server.into(),
        messages: count as u64,
        seconds,
        cpu_seconds,
        notes: vec![
            ("p50 us".into(), format!("{:.0}", pct(0.5))),
            ("p99 us".into(), format!("{:.0}", pct(0.99))),
        ],
        ..Row::default()
    })
}

/// The note of the deflate scenario's RSS per connection after one message.
const RSS_AFTER_ONE: &str = "RSS/conn after one message KiB";

/// A note's value.
fn note<'a>(row: &'a Row, key: &str) -> Option<&'a str> {
    row.notes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// 1 KiB of JSON-like text, unique to (connection, sequence number).
#[cfg(feature = "deflate")]
fn json_text(conn: usize, seq: usize) -> Vec<u8> {
    let mut text = String::with_capacity(1100);
    while text.len() < 1024 {
        text.push_str(&format!("{{\"sensor\":\"s{conn}\",\"seq\":{seq},\"celsius\":21.5}},"));
    }
    text.truncate(1024);
    text.into_bytes()
}

/// `label` is `KIND, deflate` or `KIND, plain`. First `rss_conns` connections each echo one
/// 1 KiB text message (compressed both ways with deflate): the server's RSS per connection
/// after it. Then, those still open, 16 connections echo `per_conn` messages each: the
/// server's CPU per message. The server is left `settle` before its memory is read.
#[cfg(feature = "deflate")]
fn compressed(label: &str, per_conn: usize, rss_conns: usize, settle: Duration) -> Result<Row> {
    const CONNS: usize = 16;
    let (kind, mode) = label.split_once(", ").ok_or("deflate1k: a kind and a mode")?;
    let deflate = mode == "deflate";
    let srv = ServerProc::start(kind, 0)?;
    let connect = |_| -> std::io::Result<Box<dyn client::Client>> {
        Ok(Box::new(if deflate {
            client::WsClient::open_deflate(srv.addr, "/echo", client::TIMEOUT)?
        } else {
            client::WsClient::open(srv.addr, "/echo", client::TIMEOUT)?
        }))
    };
    thread::sleep(Duration::from_millis(300));
    let rss0 = srv.rss_kib();
    let mut held = Vec::with_capacity(rss_conns);
    for c in 0..rss_conns {
        let mut client = connect(c)?;
        let text = json_text(CONNS + c, 0);
        client.send(&text, true)?;
        if client.recv()? != text {
            return Err("echo differs".into());
        }
        held.push(client);
    }
    thread::sleep(settle);
    let rss_per_conn = srv.rss_kib().saturating_sub(rss0) as f64 / rss_conns.max(1) as f64;
    let clients = (0..CONNS).map(connect).collect::<std::io::Result<_>>()?;
    let Measured { seconds, cpu_seconds, .. } = measure(&srv, clients, move |c, client| {
        for i in 0..per_conn {
            let text = json_text(c, i);
            client.send(&text, true)?;
            if client.recv()? != text {
                return Err(std::io::Error::other("echo differs"));
            }
        }
        Ok(())
    })?;
    drop(held);
    Ok(Row {
        scenario: "deflate1k".into(),
        server: label.into(),
        messages: (CONNS * per_conn) as u64,
        seconds,
        cpu_seconds,
        notes: vec![
            ("conns".into(), CONNS.to_string()),
            ("size".into(), "1024 text".into()),
            (RSS_AFTER_ONE.into(), format!("{rss_per_conn:.1}")),
            ("of conns".into(), rss_conns.to_string()),
        ],
        ..Row::default()
    })
}

/// One 1 KiB message published to `clients` members: time until the last one has it.
fn broadcast(clients: usize, size: usize, rounds: usize) -> Result<Row> {
    let srv = ServerProc::start("syncws", 0)?;
    let start_gate = Arc::new(Barrier::new(clients + 1));
    let mut handles = Vec::new();
    for _ in 0..clients {
        let mut c = client::WsClient::open(srv.addr, "/hub", client::TIMEOUT)?;
        let gate = start_gate.clone();
        handles.push(thread::Builder::new().stack_size(64 * 1024).spawn(
            move || -> std::io::Result<Vec<Instant>> {
                gate.wait();
                let mut got = Vec::with_capacity(rounds);
                for round in 0..rounds {
                    let p = client::Client::recv(&mut c)?;
                    if p != payload(0, round, size, false) {
                        return Err(std::io::Error::other("broadcast differs"));
                    }
                    got.push(Instant::now());
                }
                Ok(got)
            },
        )?);
    }
    let mut publisher = client::WsClient::open(srv.addr, "/hub", client::TIMEOUT)?;
    start_gate.wait();
    thread::sleep(Duration::from_millis(500)); // every member has joined (on_open)
    let cpu0 = srv.cpu_seconds();
    let mut sent_at = Vec::new();
    for round in 0..rounds {
        sent_at.push(Instant::now());
        client::Client::send(&mut publisher, &payload(0, round, size, false), false)?;
        let _ = client::Client::recv(&mut publisher)?; // the publisher is a member too
        thread::sleep(Duration::from_millis(200));
    }
    let mut last = vec![Duration::ZERO; rounds];
    for h in handles {
        let got = h.join().map_err(|_| "client thread panicked")??;
        for (round, t) in got.iter().enumerate() {
            last[round] = last[round].max(t.duration_since(sent_at[round]));
        }
    }
    let cpu_seconds = srv.cpu_seconds() - cpu0;
    last.sort();
    let median = last[last.len() / 2].as_secs_f64() * 1e3;
    Ok(Row {
        scenario: "broadcast1k".into(),
        server: "syncws".into(),
        messages: (rounds * (clients + 1)) as u64,
        seconds: last.iter().map(Duration::as_secs_f64).sum(),
        cpu_seconds,
        notes: vec![
            ("clients".into(), clients.to_string()),
            ("last receives ms (median)".into(), format!("{median:.1}")),
            ("worst ms".into(), format!("{:.1}", last[last.len() - 1].as_secs_f64() * 1e3)),
        ],
        ..Row::default()
    })
}

/// `n` idle connections held for `secs` with pings every 5 s (syncws, syncws-tls): RSS,
/// threads, and whether any was dropped.
fn idle(server: &str, name: &str, n: usize, secs: u64) -> Result<Row> {
    let ping_secs = if server.starts_with("syncws") { 5 } else { 0 };
    let srv = ServerProc::start(server, ping_secs)?;
    thread::sleep(Duration::from_millis(300));
    let (rss0, threads0) = (srv.rss_kib(), srv.threads());
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        // A burst of connects can overflow the listen backlog: retry a few times, paced.
        let mut tries = 0;
        let conn = loop {
            match client::connect_idle(server, srv.addr) {
                Ok(c) => break c,
                Err(e) if tries < 5 => {
                    tries += 1;
                    eprintln!("idle: connection {i}: {e}; retrying");
                    thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(format!(
                        "idle: connection {i} of {n}: {e} (server threads {})",
                        srv.threads()
                    )
                    .into());
                }
            }
        };
        conns.push(conn);
    }
    thread::sleep(Duration::from_secs(1));
    let (rss1, threads1) = (srv.rss_kib(), srv.threads());
    // Hold them: poller threads answer pings, 200 connections each.
    let cpu0 = srv.cpu_seconds();
    let timer0 = srv.thread_cpu_seconds("syncws-timer");
    let deadline = Instant::now() + Duration::from_secs(secs.max(1));
    let groups: Vec<Vec<Box<dyn Idle>>> = {
        let mut groups = Vec::new();
        let mut it = conns.into_iter().peekable();
        while it.peek().is_some() {
            groups.push(it.by_ref().take(200).collect());
        }
        groups
    };
    let pollers: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            thread::spawn(move || {
                let (mut dropped, mut pings) = (0usize, 0u64);
                let mut alive = vec![true; group.len()];
                while Instant::now() < deadline {
                    for (c, ok) in group.iter_mut().zip(alive.iter_mut()) {
                        if *ok && c.poll().is_err() {
                            *ok = false;
                            dropped += 1;
                        }
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                pings += group.iter().map(|c| c.pings()).sum::<u64>();
                (dropped, pings)
            })
        })
        .collect();
    let (mut dropped, mut pings) = (0, 0);
    for p in pollers {
        let (d, g) = p.join().map_err(|_| "poller panicked")?;
        dropped += d;
        pings += g;
    }
    let rss2 = srv.rss_kib();
    let timer_cpu = srv.thread_cpu_seconds("syncws-timer") - timer0;
    Ok(Row {
        scenario: name.into(),
        server: server.into(),
        messages: pings,
        seconds: secs as f64,
        cpu_seconds: srv.cpu_seconds() - cpu0,
        notes: vec![
            ("RSS/conn KiB".into(), format!("{:.1}", (rss1.saturating_sub(rss0)) as f64 / n as f64)),
            ("RSS/conn at end KiB".into(), format!("{:.1}", (rss2.saturating_sub(rss0)) as f64 / n as f64)),
            ("threads/conn".into(), format!("{:.2}", (threads1.saturating_sub(threads0)) as f64 / n as f64)),
            ("pings answered".into(), pings.to_string()),
            ("dropped".into(), dropped.to_string()),
            ("timer thread CPU s".into(), format!("{timer_cpu:.2}")),
        ],
        ..Row::default()
    })
}

/// `n` idle connections to plain syncws and to syncws over TLS (after the TLS handshake and
/// the upgrade, pings every 5 s), `rounds` rounds alternating; each kind's row is its median
/// round by RSS per connection, its rounds listed.
#[cfg(feature = "tls")]
fn idle_tls(rounds: usize, n: usize, secs: u64) -> Result<Vec<Row>> {
    let name = format!("tlsidle{n}");
    let runs = rounds_of(&TLS_PAIR, rounds, |server| idle(server, &name, n, secs))?;
    let rss = |r: &Row| -> f64 {
        r.notes.iter().find(|(k, _)| k == "RSS/conn KiB").and_then(|(_, v)| v.parse().ok()).unwrap_or(0.0)
    };
    let mut rows: Vec<Row> = runs
        .into_iter()
        .map(|mut rows| {
            rows.sort_by(|a, b| rss(a).total_cmp(&rss(b)));
            let all: Vec<String> = rows.iter().map(|r| format!("{:.1}", rss(r))).collect();
            let mut median = rows.swap_remove(rows.len() / 2);
            if rounds > 1 {
                median.notes.push(("RSS/conn rounds".into(), all.join("/")));
            }
            median
        })
        .collect();
    let ratio = rss(&rows[1]) / rss(&rows[0]);
    rows[1].notes.push(("RSS vs plain syncws".into(), format!("{ratio:.2}x")));
    Ok(rows)
}

/// New connections, `concurrency` at a time, `per_thread` each: TCP connect, (TLS handshake,)
/// upgrade, one 32-byte echo checked, close handshake. `kind`: syncws (plain), syncws-tls (a
/// full TLS handshake each: the client keeps no sessions), or "syncws-tls, resumed" (the
/// client resumes TLS 1.3 sessions from the tickets the server sent). The row's messages are
/// connections, so msgs/s is connections per second and CPU per message the server's CPU per
/// connection.
#[cfg(feature = "tls")]
fn handshakes(kind: &str, concurrency: usize, per_thread: usize) -> Result<Row> {
    let tls = kind != "syncws";
    let resume = kind == "syncws-tls, resumed";
    let srv = ServerProc::start(if tls { "syncws-tls" } else { "syncws" }, 0)?;
    let config = crate::tls::client_config(resume)?;
    let open = move |addr| -> std::io::Result<Box<dyn client::Client>> {
        Ok(if tls {
            Box::new(crate::tls::TlsWs::open(addr, "/echo", &config)?)
        } else {
            Box::new(client::WsClient::open(addr, "/echo", client::TIMEOUT)?)
        })
    };
    // One connection first: the negotiated suite for the notes, and a session to resume.
    let negotiated = if tls {
        let mut first = crate::tls::TlsWs::open(srv.addr, "/echo", &crate::tls::client_config(false)?)?;
        let n = first.negotiated();
        client::Client::close(&mut first)?;
        n
    } else {
        String::new()
    };
    let open = Arc::new(open);
    let addr = srv.addr;
    let resumed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let handles: Vec<_> = (0..concurrency)
        .map(|t| {
            let (open, barrier, resumed) = (open.clone(), barrier.clone(), resumed.clone());
            thread::spawn(move || -> std::io::Result<()> {
                barrier.wait();
                for i in 0..per_thread {
                    let mut c = open(addr)?;
                    let p = payload(t, i, 32, false);
                    c.send(&p, false)?;
                    if c.recv()? != p {
                        return Err(std::io::Error::other("echo differs"));
                    }
                    if c.resumed() {
                        resumed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    c.close()?;
                }
                Ok(())
            })
        })
        .collect();
    barrier.wait();
    let (cpu0, t0) = (srv.cpu_seconds(), Instant::now());
    for h in handles {
        h.join().map_err(|_| "client thread panicked")??;
    }
    let seconds = t0.elapsed().as_secs_f64();
    // The server may still be ending the last connections' threads: their CPU counts too.
    thread::sleep(Duration::from_millis(300));
    let cpu_seconds = srv.cpu_seconds() - cpu0;
    let connections = concurrency * per_thread;
    let mut notes = vec![
        ("concurrency".into(), concurrency.to_string()),
        (
            "each".into(),
            format!("connect, {}upgrade, one 32 B echo, close", if tls { "TLS handshake, " } else { "" }),
        ),
    ];
    if tls {
        notes.push(("TLS".into(), negotiated));
        let r = resumed.load(std::sync::atomic::Ordering::Relaxed);
        notes.push(("resumed".into(), format!("{r}/{connections}")));
    }
    Ok(Row {
        scenario: "tlshandshake".into(),
        server: kind.into(),
        messages: connections as u64,
        seconds,
        cpu_seconds,
        notes,
        ..Row::default()
    })
}

/// Runs `syncws-bench client ARGS` against `srv` and returns its line's fields.
fn run_client(srv: &ServerProc, args: &[String]) -> Result<std::collections::HashMap<String, f64>> {
    let out = Command::new(std::env::current_exe()?)
        .arg("client")
        .args(["--addr", &srv.addr.to_string()])
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("the client process failed: {text}").into());
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    Ok(words.chunks(2).filter_map(|kv| Some((kv[0].to_owned(), kv.get(1)?.parse().ok()?))).collect())
}

/// The client's CPU per echoed message: the syncws client (its handler sends the next message
/// on each echo) against a raw TCP client, each with its own kind of server, rounds alternating.
fn client_pingpong(rounds: usize, conns: usize, size: usize, per_conn: usize) -> Result<Vec<Row>> {
    compare_over(&["raw-tcp", "syncws"], rounds, |kind| {
        let srv = ServerProc::start(kind, 0)?;
        let args = [
            ("--kind", kind.to_owned()),
            ("--conns", conns.to_string()),
            ("--per-conn", per_conn.to_string()),
            ("--size", size.to_string()),
        ];
        let got =
            run_client(&srv, &args.iter().flat_map(|(k, v)| [k.to_string(), v.clone()]).collect::<Vec<_>>())?;
        Ok(Row {
            scenario: "client32".into(),
            server: kind.into(),
            messages: got["messages"] as u64,
            seconds: got["seconds"],
            cpu_seconds: got["cpu"],
            notes: vec![
                ("CPU is the client process's".into(), String::new()),
                ("conns".into(), conns.to_string()),
                ("size".into(), size.to_string()),
            ],
            ..Row::default()
        })
    })
}

/// `n` idle syncws clients (pings every 5 s) in one process, held `secs`: its RSS and threads
/// per client.
fn client_idle(n: usize, secs: u64) -> Result<Row> {
    let srv = ServerProc::start("syncws", 5)?;
    let args: Vec<String> = ["--kind", "syncws", "--conns", &n.to_string(), "--idle-secs", &secs.to_string()]
        .map(String::from)
        .to_vec();
    let got = run_client(&srv, &args)?;
    let per = |after: &str, before: &str| (got[after] - got[before]) / n as f64;
    Ok(Row {
        scenario: format!("clientidle{n}"),
        server: "syncws".into(),
        messages: 0,
        seconds: secs as f64,
        cpu_seconds: got["cpu"],
        notes: vec![
            ("client process".into(), String::new()),
            ("RSS/client KiB".into(), format!("{:.1}", per("rss_after", "rss_before"))),
            ("threads/client".into(), format!("{:.2}", per("threads_after", "threads_before"))),
            ("open at end".into(), format!("{}/{n}", got["open"])),
        ],
        ..Row::default()
    })
}

fn baseline<'a>(rows: &'a [Row], scenario: &str, server: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.scenario == scenario && r.server == server)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| scenario | server | messages | msgs/s | server CPU us/msg | CPU vs raw-tcp | CPU vs naive-tungstenite | notes |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        if let Some(reason) = &r.skipped {
            println!("| {} | {} | - | - | - | - | - | skipped ({reason}) |", r.scenario, r.server);
            continue;
        }
        let ratio = |base: &str| {
            baseline(rows, &r.scenario, base)
                .filter(|b| {
                    b.cpu_seconds > 0.0 && !r.scenario.starts_with("idle") && r.scenario != "broadcast1k"
                })
                .map(|b| format!("{:.2}x", r.cpu_us_per_msg() / b.cpu_us_per_msg()))
                .unwrap_or_else(|| "-".into())
        };
        let notes: Vec<String> =
            r.notes.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k} {v}") }).collect();
        let cpu = if r.messages == 0 { "-".to_owned() } else { format!("{:.2}", r.cpu_us_per_msg()) };
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} |",
            r.scenario,
            r.server,
            r.messages,
            r.per_sec(),
            cpu,
            ratio("raw-tcp"),
            ratio("naive-tungstenite"),
            notes.join(", ")
        );
    }
}

fn to_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            let notes: Vec<String> = r.notes.iter().map(|(k, v)| format!("{:?}: {:?}", k, v)).collect();
            let text = |v: &Option<String>| v.as_ref().map_or("null".to_owned(), |s| format!("{s:?}"));
            format!(
                "{{\"scenario\": {:?}, \"server\": {:?}, \"messages\": {}, \"seconds\": {:.6}, \"cpu_seconds\": {:.6}, \"cpu_us_per_msg\": {:.4}, \"skipped\": {}, \"version\": {}, \"notes\": {{{}}}}}",
                r.scenario,
                r.server,
                r.messages,
                r.seconds,
                r.cpu_seconds,
                r.cpu_us_per_msg(),
                text(&r.skipped),
                text(&r.version),
                notes.join(", ")
            )
        })
        .collect();
    format!("[\n  {}\n]\n", items.join(",\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_the_pattern_they_document() {
        for (conn, seq, size, text) in [
            (0, 0, 32, false),
            (3, 1, 1024, true),
            (15, 255, 65_536, false),
            (2, 999, 65_536, false),
            (1, 77, 300, true),
        ] {
            let tag = format!("{conn}:{seq};");
            let expected: Vec<u8> = (0..size)
                .map(|i| match tag.as_bytes().get(i) {
                    Some(&b) => b,
                    None if text => b'a' + ((i + seq) % 26) as u8,
                    None => (i * 7 + seq) as u8,
                })
                .collect();
            assert_eq!(payload(conn, seq, size, text), expected, "conn {conn} seq {seq} size {size}");
        }
        // Longer than the patterns: computed byte by byte, the same bytes.
        let long = payload(0, 5, (1 << 20) + 300, false);
        assert!(long[10..].iter().enumerate().all(|(i, &b)| b == ((i + 10) * 7 + 5) as u8));
    }
}
