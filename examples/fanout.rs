//! A chat whose rooms span every process started with the same broker (feature `mqtt`): each
//! process is a WebSocket server with its own `Broadcast` hub, and an `MqttBridge` joins the
//! hubs through the broker. A client on `/room/NAME` is in room NAME, on any other path in no
//! room; what it sends goes to everyone in its room (or to everyone), on every process, itself
//! included, in the order it sent it.
//!
//! Run a broker (`mosquitto -p 1883`), then two or more of these, and connect clients to any:
//!
//! ```sh
//! cargo run --example fanout --features mqtt -- 127.0.0.1:8081 127.0.0.1:1883
//! cargo run --example fanout --features mqtt -- 127.0.0.1:8082 127.0.0.1:1883
//! ```
//!
//! Arguments: LISTEN (default 127.0.0.1:8080), BROKER (default 127.0.0.1:1883) and the topic
//! PREFIX (default `syncws/fanout`). It prints `listening ADDR` once it serves, and its
//! bridge's counts when it stops (Ctrl-C or SIGTERM). `mosquitto_pub -t syncws/fanout/room/NAME
//! -m hi` talks to room NAME on every process.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{
    Broadcast, Config, Handler, Message, MqttBridge, MqttConfig, Route, Server, Session, SlowConsumer,
};

struct Member {
    hub: Broadcast,
    room: Option<String>,
}

impl Handler for Member {
    fn on_open(&mut self, session: &Session) {
        self.room = session.request().path().strip_prefix("/room/").map(str::to_owned);
        match &self.room {
            Some(room) => self.hub.join_room(session, room),
            None => self.hub.join(session),
        }
    }

    fn on_message(&mut self, _session: &Session, message: Message) {
        match &self.room {
            Some(room) => self.hub.publish_to(room, message),
            None => self.hub.publish(message),
        };
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let broker = args.next().unwrap_or_else(|| "127.0.0.1:1883".to_owned());
    let prefix = args.next().unwrap_or_else(|| "syncws/fanout".to_owned());
    let hub = Broadcast::new(SlowConsumer::DropOldest);
    let bridge = MqttBridge::start(&hub, MqttConfig::new(broker).topic_prefix(prefix))?;
    let h = hub.clone();
    let server = Server::new(Config::default())
        .fallback(Route::handler(move || Member { hub: h.clone(), room: None }))
        .bind(listen.as_str())?;
    println!("listening {}", server.local_addr());
    Signals::new([SIGINT, SIGTERM])?.forever().next();
    server.shutdown();
    println!("bridge: {:?}", bridge.stats());
    bridge.stop();
    Ok(())
}
