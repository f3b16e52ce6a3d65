//! `syncws-bench`: measures syncws against two baselines with its own load generator.
//!
//! `syncws-bench run` starts each server as a child process (`syncws-bench serve --kind ...`),
//! drives it over loopback with bounded loads (every echo checked byte for byte), reads the
//! child's CPU time from `/proc/PID/stat` and its memory from `/proc/PID/status`, and prints a
//! table (and JSON with `--json`). Servers:
//! - `syncws`: the library (echo route, and a broadcast hub route);
//! - `raw-tcp`: a thread-per-connection TCP echo of length-prefixed messages (the floor);
//! - `naive-tungstenite`: a thread per connection running `tungstenite::accept`, read, send;
//! - `bare-ws`: a minimal WebSocket echo, a thread per connection that reads each frame's
//!   header and payload, unmasks it and writes it back, with none of the protocol's checks.
//!
//! With `--peers`, pingpong32, pingpong32pinned, pipelined64k, pipelined64kpinned, latency,
//! text1k, deflate1k and idle1000 also run
//! against the servers a user would pick instead (`peers.rs`; their sources in `bench/peers/`):
//! `node-ws` (Node's `ws`), `python-websockets` (asyncio `websockets`), `tokio-tungstenite`
//! and `libwebsockets` (a C echo on Debian's `libwebsockets-dev`), each a child process driven
//! by the same load generator and measured the same way. A peer that is not installed, or that
//! has no permessage-deflate for deflate1k, gets a row `skipped (reason)` in the table and the
//! JSON; `--install-peers` installs or builds what is missing.
//!
//! `syncws-bench run` also measures the syncws client against a raw TCP client (`client32`,
//! `clientidle`): the client runs as a child process too (`syncws-bench client ...`), whose CPU
//! and memory are read the same way.
//!
//! With the `tls` feature, `syncws-tls` is the syncws server serving every connection over
//! TLS (rustls, ring, the tests' EC P-256 certificate), and the `tls*` scenarios compare it
//! with the plain syncws server in the same run: CPU per message, RSS per idle connection, and
//! connections per second (TCP connect, TLS handshake, upgrade, one echo, close).
//!
//! `syncws-bench mqtt` (feature `mqtt`, on by default) measures rooms across two servers
//! through an MQTT broker: latency and throughput (`mqtt.rs`).
//!
//! `syncws-bench floor` measures bare threads blocked on a channel: the memory and mappings
//! the thread-per-connection shape costs before any syncws code runs.

mod client;
mod clients;
mod floor;
#[cfg(feature = "mqtt")]
mod mqtt;
mod peers;
mod scenarios;
mod servers;
#[cfg(feature = "tls")]
mod tls;

use std::process::ExitCode;

use argh::FromArgs;

/// syncws benchmark: servers and load generator.
#[derive(FromArgs)]
struct Args {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(servers::ServeArgs),
    Run(scenarios::RunArgs),
    Floor(floor::FloorArgs),
    Client(clients::ClientArgs),
    #[cfg(feature = "mqtt")]
    Mqtt(mqtt::MqttArgs),
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let result = match args.command {
        Command::Serve(a) => servers::serve(a),
        Command::Run(a) => scenarios::run(a),
        Command::Floor(a) => floor::floor(a),
        Command::Client(a) => clients::client(a),
        #[cfg(feature = "mqtt")]
        Command::Mqtt(a) => mqtt::mqtt(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syncws-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
