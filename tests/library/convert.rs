//! Content converters: typed round trips, bad input as a handler error, no converter.
#![cfg(feature = "json")]

use crate::support::*;
use serde::{Deserialize, Serialize};
use syncws::{Config, Error, Handler, JsonConverter, Message, Server, Session};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Reading {
    sensor: String,
    celsius: f64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Reply {
    ok: bool,
    fahrenheit: Option<f64>,
    error: Option<String>,
}

/// Converts readings; answers bad input with an error reply and keeps the connection.
struct Thermo;

impl Handler for Thermo {
    fn on_message(&mut self, session: &Session, message: Message) {
        let reply = match session.deserialize::<Reading>(&message) {
            Ok(r) => Reply { ok: true, fahrenheit: Some(r.celsius * 9.0 / 5.0 + 32.0), error: None },
            Err(Error::Convert(e)) => Reply { ok: false, fahrenheit: None, error: Some(e.to_string()) },
            Err(e) => panic!("unexpected {e}"),
        };
        session.send_serialized(&reply).unwrap();
    }
}

fn reply(c: &mut Client) -> Reply {
    let f = c.read_data().unwrap();
    assert_eq!(f.opcode, 1, "JSON goes out as text");
    serde_json::from_slice(&f.payload).unwrap()
}

#[test]
fn structs_round_trip_and_bad_input_is_a_handler_error() {
    let server =
        start(Server::new(Config::default().content_converter(JsonConverter)).route("/t", || Thermo));
    let mut c = Client::connect(server.local_addr(), "/t");
    c.send_text(&serde_json::to_string(&Reading { sensor: "porch".into(), celsius: 100.0 }).unwrap());
    assert_eq!(reply(&mut c), Reply { ok: true, fahrenheit: Some(212.0), error: None });
    for bad in ["not json", "{\"sensor\": 5}", "{\"sensor\": \"a\", \"celsius\": 1} trailing"] {
        c.send_text(bad);
        let r = reply(&mut c);
        assert!(!r.ok && r.error.as_deref().unwrap().contains("deserialize"), "{bad}: {r:?}");
    }
    // Binary messages holding JSON work too, and the connection is still open.
    c.send_binary(br#"{"sensor":"attic","celsius":-40}"#);
    assert_eq!(reply(&mut c).fahrenheit, Some(-40.0));
}

#[test]
fn channel_routes_receive_deserialized() {
    let server =
        start(Server::new(Config::default().content_converter(JsonConverter)).channel_route("/c", |s| {
            while let Ok(r) = s.receive_deserialized::<Reading>() {
                s.send_serialized(&Reply { ok: true, fahrenheit: Some(r.celsius), error: None }).unwrap();
            }
        }));
    let mut c = Client::connect(server.local_addr(), "/c");
    c.send_text(r#"{"sensor":"x","celsius":21.5}"#);
    assert_eq!(reply(&mut c).fahrenheit, Some(21.5));
    // The function stops at the first bad message (its choice); the session then closes with 1000.
    c.send_text("oops");
    assert_eq!(c.expect_close().0, 1000);
}

#[test]
fn without_a_converter_sending_serialized_is_an_error() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server =
        start(Server::new(Config::default()).route("/echo", move || Recorder { events: tx.clone() }));
    let _c = Client::connect(server.local_addr(), "/echo");
    let Event::Open(s) = next(&rx) else { panic!() };
    assert!(matches!(s.send_serialized(&1), Err(Error::NoConverter)));
    assert!(matches!(s.deserialize::<u32>(&Message::from("1")), Err(Error::NoConverter)));
}
