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
    /// syncws, syncws-tls (feature tls: wss:// with the tests' certificate), raw-tcp or
    /// naive-tungstenite
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
