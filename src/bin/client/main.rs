//! `syncws-client`: a WebSocket client for boards and scripts, built on syncws.
//!
//! Sends each line of standard input as a message and prints each message received on a line
//! of its own; at the end of the input it closes with 1000 after what was queued and prints
//! until the closing handshake is done. `--listen` and `--echo` read no input. Logs go to
//! standard error.
//!
//! Exit status: 0 when the connection closed with 1000 and a clean closing handshake; 1 for a
//! bad command line; 2 when it could not connect (or gave up reconnecting); 3 when it closed
//! with another code, not cleanly, or failed.

#[path = "../common/args.rs"]
mod args;
#[path = "../common/logger.rs"]
mod logger;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use args::{parse_duration, parse_level, parse_mem_level, parse_size, parse_window_bits};
use syncws::{
    Client, ClientConfig, CloseCode, CloseReason, Deflate, Error, Handler, Message, Reconnect, Session,
};

/// A WebSocket client (syncws): sends stdin's lines, prints what arrives.
#[derive(FromArgs, Debug)]
struct Args {
    /// the server's URL: ws://host:port/path?query or wss:// (port, path and query optional)
    #[argh(positional)]
    url: String,
    /// extra request header "Name: value" (repeatable)
    #[argh(option, short = 'H')]
    header: Vec<String>,
    /// subprotocol to offer (repeatable, in order of preference)
    #[argh(option)]
    protocol: Vec<String>,
    /// the Origin header to send
    #[argh(option)]
    origin: Option<String>,
    /// time between pings: 30s, 500ms, 2m or bare seconds; 0 disables pings (default 30s)
    #[argh(option, from_str_fn(parse_duration))]
    ping_period: Option<Duration>,
    /// reconnect with backoff when the connection ends or an attempt fails; lines read
    /// meanwhile wait for the next connection
    #[argh(switch)]
    reconnect: bool,
    /// with --reconnect: give up after this many failed attempts in a row (default: never)
    #[argh(option)]
    max_attempts: Option<u32>,
    /// send stdin's lines as binary messages (without the newline)
    #[argh(switch, short = 'b')]
    binary: bool,
    /// read no input: print what arrives until the server closes
    #[argh(switch)]
    listen: bool,
    /// read no input: send every message received back, until the server closes
    #[argh(switch)]
    echo: bool,
    /// do not offer permessage-deflate
    #[argh(switch)]
    no_deflate: bool,
    /// deflate compression level, 0 to 9 (default 6; 1 costs far less CPU)
    #[argh(option, from_str_fn(parse_level))]
    deflate_level: Option<u32>,
    /// deflate window, as a power of two, 9 to 15 (default 15): the client compresses with at
    /// most this window and asks the server for server_max_window_bits=N
    #[argh(option, from_str_fn(parse_window_bits))]
    deflate_window_bits: Option<u8>,
    /// deflate memory level of the compressor, 1 to 9, at most window bits - 4 (default 8)
    #[argh(option, from_str_fn(parse_mem_level))]
    deflate_mem_level: Option<u8>,
    /// largest message (and frame) accepted: bytes, or 64K, 16M (default 1M)
    #[argh(option, from_str_fn(parse_size))]
    max_message_size: Option<usize>,
    /// time to open the TCP connection (default 10s)
    #[argh(option, from_str_fn(parse_duration))]
    connect_timeout: Option<Duration>,
    /// time the server has to complete the closing handshake (default 5s)
    #[argh(option, from_str_fn(parse_duration))]
    close_timeout: Option<Duration>,
    /// wss://: trust the CAs of this PEM file instead of the bundled roots (a fleet's CA, or a
    /// self-signed server's certificate)
    #[cfg(feature = "tls")]
    #[argh(option)]
    ca: Option<String>,
    /// wss://: trust the system's CA bundle instead of the bundled roots
    #[cfg(feature = "tls")]
    #[argh(switch)]
    system_roots: bool,
    /// wss://: present this client certificate chain (PEM, with --key) for mutual TLS
    #[cfg(feature = "tls")]
    #[argh(option)]
    cert: Option<String>,
    /// the private key of --cert (PEM)
    #[cfg(feature = "tls")]
    #[argh(option)]
    key: Option<String>,
    /// log connections and errors (debug level) on standard error
    #[argh(switch, short = 'v')]
    verbose: bool,
}

/// Prints every message (or sends it back, with `--echo`).
struct Printer {
    echo: bool,
}

impl Handler for Printer {
    fn on_open(&mut self, session: &Session) {
        log::info!("connected to {} (attempt {})", session.remote_addr(), session.attempt());
    }

    fn on_message(&mut self, session: &Session, message: Message) {
        if self.echo {
            let _ = session.send(message);
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ =
            out.write_all(message.as_bytes()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    }

    fn on_error(&mut self, _: &Session, error: &Error) {
        log::warn!("connection failed: {error}");
    }

    fn on_close(&mut self, _: &Session, reason: &CloseReason) {
        log::info!("closed: {reason}");
    }
}

fn config(args: &Args) -> Result<ClientConfig, String> {
    let mut c = ClientConfig::default().protocols(args.protocol.clone());
    for h in &args.header {
        let (name, value) =
            h.split_once(':').ok_or_else(|| format!("bad header {h:?}: use \"Name: value\""))?;
        c = c.header(name.trim(), value.trim());
    }
    if let Some(origin) = &args.origin {
        c = c.origin(origin.clone());
    }
    if let Some(period) = args.ping_period {
        c = c.ping_period((!period.is_zero()).then_some(period));
    }
    if let Some(size) = args.max_message_size {
        c = c.max_message_size(size).max_frame_size(size);
    }
    if let Some(t) = args.connect_timeout {
        c = c.connect_timeout(t);
    }
    if let Some(t) = args.close_timeout {
        c = c.close_timeout(t);
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = tls(args)? {
        c = c.tls(tls);
    }
    if args.reconnect {
        c = c.reconnect(Some(Reconnect::default().max_attempts(args.max_attempts)));
    } else if args.max_attempts.is_some() {
        return Err("--max-attempts needs --reconnect".to_owned());
    }
    Ok(c)
}

/// The TLS settings from `--ca`, `--system-roots`, `--cert` and `--key`, if any was given.
#[cfg(feature = "tls")]
fn tls(args: &Args) -> Result<Option<syncws::ClientTls>, String> {
    let roots = match (&args.ca, args.system_roots) {
        (Some(_), true) => return Err("--ca and --system-roots exclude each other".to_owned()),
        (Some(ca), false) => Some(syncws::ClientTls::ca_file(ca)),
        (None, true) => Some(syncws::ClientTls::system_roots()),
        (None, false) => None,
    };
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--cert and --key go together".to_owned()),
    };
    if roots.is_none() && identity.is_none() {
        return Ok(None);
    }
    let mut tls =
        roots.unwrap_or_else(|| Ok(syncws::ClientTls::bundled_roots())).map_err(|e| e.to_string())?;
    if let Some((cert, key)) = identity {
        tls = tls.client_cert_files(cert, key).map_err(|e| e.to_string())?;
    }
    Ok(Some(tls))
}

/// Sends stdin's lines until its end (or the client's), then closes with 1000.
fn send_lines(client: &syncws::ClientHandle, binary: bool) {
    // A thread reads stdin, so that a connection that ends is noticed while stdin is quiet.
    let (tx, lines) = crossbeam_channel::bounded::<Vec<u8>>(1);
    let _reader = std::thread::Builder::new().name("stdin".to_owned()).spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        while matches!(stdin.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if line.ends_with(b"\n") {
                line.pop();
                if line.ends_with(b"\r") {
                    line.pop();
                }
            }
            if tx.send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    loop {
        let line = match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => line,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if client.is_finished() => return,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        };
        let mut message = if binary {
            Message::Binary(line)
        } else {
            Message::Text(String::from_utf8_lossy(&line).into_owned())
        };
        // While disconnected (with --reconnect) a line waits for the next connection.
        loop {
            match client.send(message) {
                Ok(()) => break,
                Err(refused) if !client.is_finished() => {
                    message = refused.into_inner();
                    client.wait_open(Duration::from_millis(500));
                }
                Err(_) => return,
            }
        }
    }
    client.close(CloseCode::NORMAL, "");
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let level = if args.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn };
    if let Err(e) = logger::init(level, true) {
        eprintln!("syncws-client: {e}");
        return ExitCode::from(1);
    }
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("syncws-client: {e}");
            return ExitCode::from(1);
        }
    };
    let mut client = Client::new(config);
    if !args.no_deflate {
        let mut deflate = Deflate::default();
        if let Some(level) = args.deflate_level {
            deflate = deflate.level(level);
        }
        if let Some(bits) = args.deflate_window_bits {
            deflate = deflate.window_bits(bits);
        }
        if let Some(level) = args.deflate_mem_level {
            deflate = deflate.mem_level(level);
        }
        client = client.extension(deflate);
    }
    let handle = match client.connect(&args.url, Printer { echo: args.echo }) {
        Ok(h) => h,
        Err(e @ Error::InvalidConfig { .. }) | Err(e @ Error::InvalidUrl { .. }) => {
            eprintln!("syncws-client: {e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("syncws-client: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.listen && !args.echo {
        send_lines(&handle, args.binary);
    }
    match handle.wait() {
        Ok(reason) if reason.code == CloseCode::NORMAL && reason.was_clean => ExitCode::SUCCESS,
        Ok(reason) => {
            eprintln!("syncws-client: closed: {reason}");
            ExitCode::from(3)
        }
        Err(e @ (Error::Connect { .. } | Error::Handshake(_))) => {
            eprintln!("syncws-client: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("syncws-client: {e}");
            ExitCode::from(3)
        }
    }
}
