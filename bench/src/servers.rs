//! The servers under test, each run as its own process so that its CPU time can be read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use argh::FromArgs;
use syncws::{Broadcast, Config, Handler, Message, Route, Server, Session, SlowConsumer};

/// Run one server until stdin closes (the parent ends it so).
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
pub struct ServeArgs {
    /// syncws, syncws-tls (feature tls: wss:// with the tests' certificate), raw-tcp,
    /// naive-tungstenite or bare-ws
    #[argh(option)]
    kind: String,
    /// ping period in seconds for syncws (0: off)
    #[argh(option, default = "0")]
    ping_secs: u64,
    /// ping timeout in seconds for syncws
    #[argh(option, default = "15")]
    timeout_secs: u64,
}

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Prints `listening ADDR`, serves, and returns when stdin reaches EOF.
pub fn serve(args: ServeArgs) -> Result<()> {
    match args.kind.as_str() {
        "syncws" | "syncws-tls" => {
            let period = (args.ping_secs > 0).then(|| Duration::from_secs(args.ping_secs));
            let config = Config::default()
                .ping_period(period)
                .timeout(Duration::from_secs(args.timeout_secs))
                .max_connections(20_000)
                .max_message_size(1 << 20)
                .queue_capacity(64);
            let hub = Broadcast::new(SlowConsumer::DropNewest);
            let h = hub.clone();
            let server = Server::new(config);
            #[cfg(feature = "deflate")]
            let server = server.extension(syncws::Deflate::default());
            #[cfg(feature = "tls")]
            let server =
                if args.kind == "syncws-tls" { server.tls(crate::tls::server_tls()?) } else { server };
            #[cfg(not(feature = "tls"))]
            if args.kind == "syncws-tls" {
                return Err("syncws-tls: syncws-bench was built without its tls feature".into());
            }
            let server = server
                .route("/echo", || Echo)
                .route_with("/hub", Route::handler(move || Member(h.clone())))
                .bind("127.0.0.1:0")?;
            println!("listening {}", server.local_addr());
            wait_for_stdin_eof();
            server.shutdown();
        }
        "raw-tcp" => spawn_listener(raw_tcp_echo)?,
        "naive-tungstenite" => spawn_listener(naive_tungstenite_echo)?,
        "bare-ws" => spawn_listener(bare_ws_echo)?,
        other => return Err(format!("unknown server kind {other}").into()),
    }
    Ok(())
}

fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// A thread-per-connection listener running `per_connection` on each, until stdin closes.
fn spawn_listener(per_connection: fn(TcpStream)) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("listening {}", listener.local_addr()?);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let _ = thread::Builder::new().stack_size(128 * 1024).spawn(move || per_connection(stream));
        }
    });
    wait_for_stdin_eof();
    Ok(())
}

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = session.send(message);
    }
}

/// Joins the hub; any message it sends is published to every member.
struct Member(Broadcast);

impl Handler for Member {
    fn on_open(&mut self, session: &Session) {
        self.0.join(session);
    }
    fn on_message(&mut self, _session: &Session, message: Message) {
        self.0.publish(message);
    }
}

/// The floor: read a 4-byte length and the payload, write both back in one write.
fn raw_tcp_echo(mut stream: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let n = u32::from_be_bytes(len) as usize;
        buf.resize(4 + n, 0);
        buf[..4].copy_from_slice(&len);
        if stream.read_exact(&mut buf[4..]).is_err() || stream.write_all(&buf).is_err() {
            return;
        }
    }
}

/// What a user gets without syncws: tungstenite's blocking WebSocket, read then send.
fn naive_tungstenite_echo(stream: TcpStream) {
    let Ok(mut ws) = tungstenite::accept(stream) else { return };
    loop {
        match ws.read() {
            Ok(m) if m.is_text() || m.is_binary() => {
                if ws.send(m).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// A minimal WebSocket echo, written plainly, with none of the protocol's checks (no UTF-8, no
/// close handshake, no limits): tungstenite's handshake, then per frame: read the header's
/// fields and the payload with unbuffered `read_exact`s, unmask it eight bytes at a time (the
/// tests' client's `mask`), write header and payload back in one write.
/// The client sends nothing before the handshake's answer, so tungstenite holds no bytes of a
/// frame when it is left.
fn bare_ws_echo(stream: TcpStream) {
    let Ok(ws) = tungstenite::accept(stream) else { return };
    let mut stream = ws.into_inner();
    // Ten bytes in front of the payload: room for the longest server header.
    let mut buf = Vec::new();
    while let Ok((first, len, key)) = read_bare_header(&mut stream) {
        buf.resize(10 + len, 0);
        if stream.read_exact(&mut buf[10..]).is_err() {
            return;
        }
        wsclient::mask(&mut buf[10..], key);
        let start = match len {
            0..=125 => {
                buf[8..10].copy_from_slice(&[first, len as u8]);
                8
            }
            126..=0xffff => {
                buf[6..8].copy_from_slice(&[first, 126]);
                buf[8..10].copy_from_slice(&(len as u16).to_be_bytes());
                6
            }
            _ => {
                buf[0..2].copy_from_slice(&[first, 127]);
                buf[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                0
            }
        };
        if stream.write_all(&buf[start..]).is_err() {
            return;
        }
    }
}

/// A client frame's first byte, payload length and mask key; an error at EOF, on a close
/// frame or on an unmasked frame.
fn read_bare_header(stream: &mut TcpStream) -> std::io::Result<(u8, usize, [u8; 4])> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    if head[0] & 0x0f == 8 || head[1] & 0x80 == 0 {
        return Err(std::io::ErrorKind::ConnectionAborted.into());
    }
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext)?;
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext)?;
            usize::try_from(u64::from_be_bytes(ext)).map_err(std::io::Error::other)?
        }
        n => n as usize,
    };
    let mut key = [0u8; 4];
    stream.read_exact(&mut key)?;
    Ok((head[0], len, key))
}
