//! `syncws-echo`: a WebSocket echo server built on syncws.
//!
//! Echoes every text and binary message on `--path` (or on every path with `--any-path`) and
//! exits cleanly on SIGINT/SIGTERM, closing every session with 1001.

#[path = "../common/args.rs"]
mod args;
#[path = "../common/logger.rs"]
mod logger;

use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use args::{parse_duration, parse_level, parse_mem_level, parse_size, parse_window_bits};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{Config, Deflate, Handler, Message, Route, Server, Session};

/// A WebSocket echo server (syncws).
#[derive(FromArgs, Debug)]
struct Args {
    /// address to listen on: IP:port, host:port, or an IPv6 address in brackets with its port
    /// (default 0.0.0.0:8080)
    #[argh(option, default = "String::from(\"0.0.0.0:8080\")")]
    listen: String,
    /// path of the echo endpoint (default /echo)
    #[argh(option, default = "String::from(\"/echo\")")]
    path: String,
    /// echo on every path, not only --path
    #[argh(switch)]
    any_path: bool,
    /// log level: error, warn, info, debug, trace or off (default info)
    #[argh(option, default = "log::LevelFilter::Info")]
    log_level: log::LevelFilter,
    /// time between pings: 30s, 500ms, 2m or bare seconds; 0 disables pings (default
    /// {ping-period})
    #[argh(option, from_str_fn(parse_duration))]
    ping_period: Option<Duration>,
    /// silence after a ping before the connection is dropped (default {timeout})
    #[argh(option, from_str_fn(parse_duration))]
    timeout: Option<Duration>,
    /// largest frame payload accepted: bytes, or 64K, 1M (default {max-frame-size})
    #[argh(option, from_str_fn(parse_size))]
    max_frame_size: Option<usize>,
    /// largest message accepted: bytes, or 64K, 1M (default {max-message-size})
    #[argh(option, from_str_fn(parse_size))]
    max_message_size: Option<usize>,
    /// mask the frames the server sends
    #[argh(switch)]
    masking: bool,
    /// accept unmasked client frames instead of closing with 1002
    #[argh(switch)]
    accept_unmasked: bool,
    /// most connections at once; more get HTTP 503 (default {max-connections})
    #[argh(option)]
    max_connections: Option<usize>,
    /// time a client has to complete its upgrade request (default {handshake-timeout})
    #[argh(option, from_str_fn(parse_duration))]
    handshake_timeout: Option<Duration>,
    /// time the peer has to answer a close frame (default {close-timeout})
    #[argh(option, from_str_fn(parse_duration))]
    close_timeout: Option<Duration>,
    /// outgoing queue capacity per session, in messages, at least 1 (default
    /// {queue-capacity})
    #[argh(option)]
    queue_capacity: Option<usize>,
    /// stack size of connection threads, at least 32K (default {stack-size})
    #[argh(option, from_str_fn(parse_size))]
    stack_size: Option<usize>,
    /// do not set TCP_NODELAY on connections
    #[argh(switch)]
    no_nodelay: bool,
    /// send every message through the write loop thread (no direct writes)
    #[argh(switch)]
    no_direct_writes: bool,
    /// initial read buffer per connection, at least 256 (default {read-buffer-size})
    #[argh(option, from_str_fn(parse_size))]
    read_buffer_size: Option<usize>,
    /// largest HTTP request head accepted, at least 256 (default {max-request-size})
    #[argh(option, from_str_fn(parse_size))]
    max_request_size: Option<usize>,
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
    /// deflate compression level, 0 to 9 (default {deflate-level})
    #[argh(option, from_str_fn(parse_level))]
    deflate_level: Option<u32>,
    /// messages shorter than this are sent uncompressed: bytes, or 1K (default
    /// {deflate-min-size})
    #[argh(option, from_str_fn(parse_size))]
    deflate_min_size: Option<usize>,
    /// deflate window, as a power of two, 9 (512 bytes) to 15 (32 KiB), in both
    /// directions: the server compresses with at most this window and asks clients for
    /// client_max_window_bits=N whenever they offer it (default {deflate-window-bits})
    #[argh(option, from_str_fn(parse_window_bits))]
    deflate_window_bits: Option<u8>,
    /// deflate memory level of the compressor, 1 to 9, at most window bits - 4 (default
    /// {deflate-mem-level})
    #[argh(option, from_str_fn(parse_mem_level))]
    deflate_mem_level: Option<u8>,
    /// compress each message on its own (no shared window between messages)
    #[argh(switch)]
    server_no_context_takeover: bool,
    /// ask clients to compress each message on its own
    #[argh(switch)]
    client_no_context_takeover: bool,
    /// serve TLS (https://, wss://) with this certificate chain, PEM, leaf first (with
    /// --tls-key); SIGHUP reloads it and the key
    #[cfg(feature = "tls")]
    #[argh(option)]
    tls_cert: Option<String>,
    /// the private key of --tls-cert (PEM)
    #[cfg(feature = "tls")]
    #[argh(option)]
    tls_key: Option<String>,
    /// with --tls-cert: require client certificates signed by a CA of this PEM file (mutual
    /// TLS)
    #[cfg(feature = "tls")]
    #[argh(option)]
    tls_client_ca: Option<String>,
}

/// The defaults the help text shows, read from `Config::default()` and `Deflate::default()`
/// (one source of truth), as `{flag}` placeholders and their values.
fn defaults() -> Vec<(&'static str, String)> {
    let c = Config::default();
    let d = Deflate::default();
    let ms = |d: Duration| format_duration(d);
    vec![
        ("{ping-period}", c.get_ping_period().map_or("0".to_owned(), ms)),
        ("{timeout}", ms(c.get_timeout())),
        ("{max-frame-size}", c.get_max_frame_size().to_string()),
        ("{max-message-size}", c.get_max_message_size().to_string()),
        ("{max-connections}", c.get_max_connections().to_string()),
        ("{handshake-timeout}", ms(c.get_handshake_timeout())),
        ("{close-timeout}", ms(c.get_close_timeout())),
        ("{queue-capacity}", c.get_queue_capacity().to_string()),
        ("{stack-size}", c.get_stack_size().to_string()),
        ("{read-buffer-size}", c.get_read_buffer_size().to_string()),
        ("{max-request-size}", c.get_max_request_size().to_string()),
        ("{deflate-level}", d.get_level().to_string()),
        ("{deflate-min-size}", d.get_min_size().to_string()),
        ("{deflate-window-bits}", d.get_window_bits().to_string()),
        ("{deflate-mem-level}", d.get_mem_level().to_string()),
    ]
}

/// `30s`, `500ms`, `2m`: the shortest exact form.
fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses the command line; `--help` prints the help with the defaults filled in.
fn parse_args() -> Result<Args, ExitCode> {
    let strings: Vec<String> = std::env::args().collect();
    let command = strings.first().map_or("syncws-echo", |s| s.as_str());
    let rest: Vec<&str> = strings.iter().skip(1).map(String::as_str).collect();
    Args::from_args(&[command], &rest).map_err(|exit| {
        let mut output = exit.output;
        for (placeholder, value) in defaults() {
            output = output.replace(placeholder, &value);
        }
        match exit.status {
            Ok(()) => {
                println!("{output}");
                ExitCode::SUCCESS
            }
            Err(()) => {
                eprintln!("{output}");
                ExitCode::FAILURE
            }
        }
    })
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

/// `Config::default()` with the flags that were given.
fn config(args: &Args) -> Config {
    let mut c = Config::default()
        .masking(args.masking)
        .accept_unmasked_frames(args.accept_unmasked)
        .nodelay(!args.no_nodelay)
        .direct_writes(!args.no_direct_writes);
    if let Some(period) = args.ping_period {
        c = c.ping_period((!period.is_zero()).then_some(period));
    }
    if let Some(v) = args.timeout {
        c = c.timeout(v);
    }
    if let Some(v) = args.max_frame_size {
        c = c.max_frame_size(v);
    }
    if let Some(v) = args.max_message_size {
        c = c.max_message_size(v);
    }
    if let Some(v) = args.max_connections {
        c = c.max_connections(v);
    }
    if let Some(v) = args.handshake_timeout {
        c = c.handshake_timeout(v);
    }
    if let Some(v) = args.close_timeout {
        c = c.close_timeout(v);
    }
    if let Some(v) = args.queue_capacity {
        c = c.queue_capacity(v);
    }
    if let Some(v) = args.stack_size {
        c = c.stack_size(v);
    }
    if let Some(v) = args.read_buffer_size {
        c = c.read_buffer_size(v);
    }
    if let Some(v) = args.max_request_size {
        c = c.max_request_size(v);
    }
    if !args.allowed_origin.is_empty() {
        c = c.allowed_origins(Some(args.allowed_origin.clone()));
    }
    c
}

/// `Deflate::default()` with the flags that were given.
fn deflate(args: &Args) -> Deflate {
    let mut d = Deflate::default()
        .server_no_context_takeover(args.server_no_context_takeover)
        .client_no_context_takeover(args.client_no_context_takeover);
    if let Some(level) = args.deflate_level {
        d = d.level(level);
    }
    if let Some(bytes) = args.deflate_min_size {
        d = d.min_size(bytes);
    }
    if let Some(bits) = args.deflate_window_bits {
        d = d.window_bits(bits);
    }
    if let Some(level) = args.deflate_mem_level {
        d = d.mem_level(level);
    }
    d
}

/// The server's TLS from `--tls-cert`, `--tls-key` and `--tls-client-ca`, if given.
#[cfg(feature = "tls")]
fn tls(args: &Args) -> Result<Option<syncws::ServerTls>, String> {
    let (cert, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) if args.tls_client_ca.is_none() => return Ok(None),
        (None, None) => return Err("--tls-client-ca needs --tls-cert and --tls-key".to_owned()),
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    let mut tls = syncws::ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?;
    if let Some(ca) = &args.tls_client_ca {
        tls = tls.require_client_cert_file(ca).map_err(|e| e.to_string())?;
    }
    Ok(Some(tls))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    logger::init(args.log_level, false)?;
    #[cfg(feature = "tls")]
    let tls = tls(&args)?;
    let echo = || Route::handler(|| Echo).protocols(args.protocol.clone());
    let mut server = Server::new(config(&args)).route_with(&args.path, echo());
    if !args.no_page {
        server = server.page("/", "text/html; charset=utf-8", page(&args.path));
    }
    if !args.no_deflate {
        server = server.extension(deflate(&args));
    }
    if args.any_path {
        server = server.fallback(echo());
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = &tls {
        server = server.tls(tls.clone());
    }
    #[cfg(feature = "tls")]
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    #[cfg(not(feature = "tls"))]
    let scheme = "ws";
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    // SIGHUP reloads the certificate (and only then is it caught: otherwise it ends the
    // process, as it always did).
    #[cfg(feature = "tls")]
    if tls.is_some() {
        signals.add_signal(signal_hook::consts::SIGHUP)?;
    }
    let handle = server.bind(args.listen.as_str()).map_err(|e| match e {
        syncws::Error::Bind { .. } | syncws::Error::InvalidConfig { .. } => e.to_string(),
        e => format!("cannot listen on {}: {e}", args.listen),
    })?;
    log::info!(
        "echoing on {scheme}://{}{}{}",
        handle.local_addr(),
        args.path,
        if args.any_path { " and every other path" } else { "" }
    );
    // SIGINT or SIGTERM ends the loop; SIGHUP (with TLS) reloads the certificate.
    let stop = signals.forever().find(|&signal| {
        #[cfg(feature = "tls")]
        if signal == signal_hook::consts::SIGHUP {
            match tls.as_ref().map(syncws::ServerTls::reload) {
                Some(Ok(())) => log::info!("SIGHUP: certificate reloaded; new connections use it"),
                Some(Err(e)) => log::error!("SIGHUP: certificate not reloaded, the old one stays: {e}"),
                None => {}
            }
            return false;
        }
        let _ = signal;
        true
    });
    if let Some(signal) = stop {
        log::info!("signal {signal}: shutting down");
    }
    let stuck = handle.shutdown();
    if stuck > 0 {
        return Err(format!("{stuck} connections did not end").into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syncws-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
