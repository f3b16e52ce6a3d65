//! Chat with rooms (Ktor's SharedFlow example): every message goes to everyone in the room
//! named by the path, `/chat/<room>`. A client too slow to keep up with its room is
//! disconnected with 1013 (try again later) instead of slowing everyone down.
//!
//! Run: `cargo run --example chat`, then connect two clients to ws://127.0.0.1:8080/chat/lobby.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{
    Broadcast, CloseCode, CloseReason, Config, Handler, Message, Route, Server, Session, SlowConsumer,
};

struct Chatter {
    hub: Broadcast,
    room: String,
}

impl Handler for Chatter {
    fn on_open(&mut self, session: &Session) {
        self.room = session.request().path().trim_start_matches("/chat/").to_owned();
        self.hub.join_room(session, &self.room);
        self.hub.publish_to(&self.room, format!("* {} joined {}", session.remote_addr(), self.room));
    }

    fn on_message(&mut self, session: &Session, message: Message) {
        if let Some(text) = message.as_text() {
            self.hub.publish_to(&self.room, format!("{}: {text}", session.remote_addr()));
        }
    }

    fn on_close(&mut self, session: &Session, _reason: &CloseReason) {
        // The hub already dropped this member; tell the others.
        self.hub.publish_to(&self.room, format!("* {} left", session.remote_addr()));
    }
}

fn main() -> Result<(), syncws::Error> {
    let hub = Broadcast::new(SlowConsumer::Disconnect(CloseCode::TRY_AGAIN_LATER));
    let h = hub.clone();
    let server = Server::new(Config::default())
        .fallback(Route::handler(move || Chatter { hub: h.clone(), room: String::new() }))
        .bind("127.0.0.1:8080")?;
    println!("chat on ws://{}/chat/<room>", server.local_addr());
    // Serve until Ctrl-C (or SIGTERM), then close every session with 1001.
    Signals::new([SIGINT, SIGTERM])?.forever().next();
    server.shutdown();
    println!("{} members at the end, {:?}", hub.len(), hub.stats());
    Ok(())
}
