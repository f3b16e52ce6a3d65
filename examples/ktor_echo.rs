//! Ktor's echo example in syncws: answer every text with "YOU SAID: ...", close on "bye".
//!
//! Run: `cargo run --example ktor_echo`, then connect to ws://127.0.0.1:8080/echo
//! (`python -m websockets ws://127.0.0.1:8080/echo`, or a browser console).
//! Both styles are shown: `/echo` uses a `Handler`, `/channel` Ktor's `incoming` loop.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{CloseCode, CloseReason, Config, Handler, Message, Server, Session};

struct YouSaid;

impl Handler for YouSaid {
    fn on_open(&mut self, session: &Session) {
        println!("{} connected", session.remote_addr());
    }

    fn on_message(&mut self, session: &Session, message: Message) {
        let Some(text) = message.as_text() else {
            return;
        };
        if text.eq_ignore_ascii_case("bye") {
            session.close(CloseCode::NORMAL, "Client said BYE");
        } else {
            let _ = session.send_text(format!("YOU SAID: {text}"));
        }
    }

    fn on_close(&mut self, session: &Session, reason: &CloseReason) {
        println!("{} closed: {reason}", session.remote_addr());
    }
}

/// The same conversation in Ktor's channel style (a third thread per connection).
fn channel_style(session: Session) {
    for message in session.incoming() {
        let Some(text) = message.as_text() else {
            continue;
        };
        if text.eq_ignore_ascii_case("bye") {
            session.close(CloseCode::NORMAL, "Client said BYE");
            return;
        }
        if session.send_text(format!("YOU SAID: {text}")).is_err() {
            return;
        }
    }
}

fn main() -> Result<(), syncws::Error> {
    let server = Server::new(Config::default())
        .route("/echo", || YouSaid)
        .channel_route("/channel", channel_style)
        .bind("127.0.0.1:8080")?;
    println!("ws://{}/echo and ws://{}/channel; Ctrl-C to stop", server.local_addr(), server.local_addr());
    // Serve until Ctrl-C (or SIGTERM), then close every session with 1001.
    Signals::new([SIGINT, SIGTERM])?.forever().next();
    server.shutdown();
    Ok(())
}
