//! `syncws-echo`: a WebSocket echo server built on syncws.
//!
//! Echoes every text and binary message on `--path` (or on every path with `--any-path`) and
//! exits cleanly on SIGINT/SIGTERM, closing every session with 1001.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{Config, Deflate, Handler, Message, Route, Server, Session};

/// A WebSocket echo server (syncws).
#[derive(FromArgs, Debug)]
struct Args {
    /// address to listen on (default 0.0.0.0:8080)
    #[argh(option, default = "SocketAddr::from(([0, 0, 0, 0], 8080))")]
    listen: SocketAddr,
    /// path of the echo endpoint (default /echo)
    #[argh(option, default = "String::from(\"/echo\")")]
    path: String,
    /// echo on every path, not only --path
    #[argh(switch)]
    any_path: bool,
    /// log level: error, warn, info, debug, trace or off (default info)
    #[argh(option, default = "log::LevelFilter::Info")]
    log_level: log::LevelFilter,
    /// time between pings, e.g. 30s or 500ms; 0 disables pings (default 30s)
    #[argh(option, from_str_fn(parse_duration), default = "Duration::from_secs(30)")]
    ping_period: Duration,
    /// silence after a ping before the connection is dropped (default 15s)
    #[argh(option, from_str_fn(parse_duration), default = "Duration::from_secs(15)")]
    timeout: Duration,
    /// largest frame payload accepted, in bytes (default 1048576)
    #[argh(option, default = "1 << 20")]
    max_frame_size: usize,
    /// largest message accepted, in bytes (default 1048576)
    #[argh(option, default = "1 << 20")]
    max_message_size: usize,
    /// mask the frames the server sends
    #[argh(switch)]
    masking: bool,
    /// accept unmasked client frames instead of closing with 1002
    #[argh(switch)]
    accept_unmasked: bool,
    /// most connections at once; more get HTTP 503 (default 1024)
    #[argh(option, default = "1024")]
    max_connections: usize,
    /// time a client has to complete its upgrade request (default 10s)
    #[argh(option, from_str_fn(parse_duration), default = "Duration::from_secs(10)")]
    handshake_timeout: Duration,
    /// time the peer has to answer a close frame (default 5s)
    #[argh(option, from_str_fn(parse_duration), default = "Duration::from_secs(5)")]
    close_timeout: Duration,
    /// outgoing queue capacity per session, in messages (default 64)
    #[argh(option, default = "64")]
    queue_capacity: usize,
    /// stack size of connection threads, in bytes (default 131072)
    #[argh(option, default = "128 * 1024")]
    stack_size: usize,
    /// do not set TCP_NODELAY on connections
    #[argh(switch)]
    no_nodelay: bool,
    /// send every message through the write loop thread (no direct writes)
    #[argh(switch)]
    no_direct_writes: bool,
    /// initial read buffer per connection, in bytes (default 4096)
    #[argh(option, default = "4096")]
    read_buffer_size: usize,
    /// largest HTTP request head accepted, in bytes (default 8192)
    #[argh(option, default = "8192")]
    max_request_size: usize,
    /// origin allowed to connect (repeatable); without it every origin is allowed
    #[argh(option)]
    allowed_origin: Vec<String>,
    /// subprotocol the echo endpoint speaks (repeatable)
    #[argh(option)]
    protocol: Vec<String>,
    /// do not serve the test page at /
    #[argh(switch)]
    no_page: bool,
    /// do not offer permessage-deflate
    #[argh(switch)]
    no_deflate: bool,
    /// deflate compression level 0-9 (default 6)
    #[argh(option, default = "6")]
    deflate_level: u32,
    /// messages shorter than this are sent uncompressed (default 64)
    #[argh(option, default = "64")]
    deflate_min_size: usize,
    /// compress each message on its own (no shared window between messages)
    #[argh(switch)]
    server_no_context_takeover: bool,
    /// ask clients to compress each message on its own
    #[argh(switch)]
    client_no_context_takeover: bool,
}

/// Parses `30s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = num.parse().map_err(|_| format!("bad duration {s:?}: use e.g. 30s or 500ms"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// The test page (one self-contained HTML file) with the echo path filled in.
fn page(echo_path: &str) -> String {
    // The path lands in a JavaScript string: escape everything but plain path characters.
    let js_path: String = echo_path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "/-_.~".contains(c) {
                c.to_string()
            } else {
                format!("\\u{:04x}", c as u32)
            }
        })
        .collect();
    include_str!("page.html").replace("{{ECHO_PATH}}", &js_path)
}

/// Sends every message back as it came.
struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = session.send(message);
    }
}

fn config(args: &Args) -> Config {
    let origins = (!args.allowed_origin.is_empty()).then(|| args.allowed_origin.clone());
    Config::default()
        .ping_period((!args.ping_period.is_zero()).then_some(args.ping_period))
        .timeout(args.timeout)
        .max_frame_size(args.max_frame_size)
        .max_message_size(args.max_message_size)
        .masking(args.masking)
        .accept_unmasked_frames(args.accept_unmasked)
        .max_connections(args.max_connections)
        .handshake_timeout(args.handshake_timeout)
        .close_timeout(args.close_timeout)
        .queue_capacity(args.queue_capacity)
        .stack_size(args.stack_size)
        .nodelay(!args.no_nodelay)
        .direct_writes(!args.no_direct_writes)
        .read_buffer_size(args.read_buffer_size)
        .max_request_size(args.max_request_size)
        .allowed_origins(origins)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    simple_logger::SimpleLogger::new().with_level(args.log_level).init()?;
    let echo = || Route::handler(|| Echo).protocols(args.protocol.clone());
    let mut server = Server::new(config(&args)).route_with(&args.path, echo());
    if !args.no_page {
        server = server.page("/", "text/html; charset=utf-8", page(&args.path));
    }
    if !args.no_deflate {
        server = server.extension(
            Deflate::default()
                .level(args.deflate_level)
                .min_size(args.deflate_min_size)
                .server_no_context_takeover(args.server_no_context_takeover)
                .client_no_context_takeover(args.client_no_context_takeover),
        );
    }
    if args.any_path {
        server = server.fallback(echo());
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let handle = server.bind(args.listen)?;
    log::info!(
        "echoing on ws://{}{}{}",
        handle.local_addr(),
        args.path,
        if args.any_path { " and every other path" } else { "" }
    );
    if let Some(signal) = signals.forever().next() {
        log::info!("signal {signal}: shutting down");
    }
    let stuck = handle.shutdown();
    if stuck > 0 {
        return Err(format!("{stuck} connections did not end").into());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(argh::from_env()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syncws-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
