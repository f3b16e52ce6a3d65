//! A content converter (Ktor's `contentConverter`): clients send JSON commands, the server
//! answers with JSON, and a command that does not parse gets an error reply, not a dropped
//! connection. Needs the `json` feature: `cargo run --example json --features json`, then send
//! `{"op":"add","a":2,"b":3}` to ws://127.0.0.1:8080/calc.

use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{Config, Error, Handler, JsonConverter, Message, Server, Session};

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Command {
    Add { a: f64, b: f64 },
    Mul { a: f64, b: f64 },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answer {
    Result { result: f64 },
    Error { error: String },
}

struct Calculator;

impl Handler for Calculator {
    fn on_message(&mut self, session: &Session, message: Message) {
        let answer = match session.deserialize::<Command>(&message) {
            Ok(Command::Add { a, b }) => Answer::Result { result: a + b },
            Ok(Command::Mul { a, b }) => Answer::Result { result: a * b },
            Err(Error::Convert(e)) => Answer::Error { error: e.to_string() },
            Err(e) => Answer::Error { error: format!("unexpected: {e}") },
        };
        if let Err(e) = session.send_serialized(&answer) {
            eprintln!("{}: {e}", session.remote_addr());
        }
    }
}

fn main() -> Result<(), syncws::Error> {
    let config = Config::default().content_converter(JsonConverter);
    let server = Server::new(config).route("/calc", || Calculator).bind("127.0.0.1:8080")?;
    println!("JSON calculator on ws://{}/calc", server.local_addr());
    // Serve until Ctrl-C (or SIGTERM), then close every session with 1001.
    Signals::new([SIGINT, SIGTERM])?.forever().next();
    server.shutdown();
    Ok(())
}
