//! The topic layout under a bridge's prefix, and the payload bridges wrap messages in.
//!
//! ```text
//! PREFIX/bridge/all          from a bridge: a message published to the whole hub (enveloped)
//! PREFIX/bridge/room/ROOM    from a bridge: a message published to ROOM (enveloped)
//! PREFIX/all                 from any MQTT client: the payload, to the whole hub
//! PREFIX/room/ROOM           from any MQTT client: the payload, to ROOM
//! ```
//!
//! ROOM is the room's name with `%`, `/`, `+`, `#` and control characters percent-encoded, so
//! that any room name is one topic level. A plain payload becomes a text message when it is
//! UTF-8 and a binary one otherwise.

use crate::protocol::Message;

/// Where a message goes in the hub: everyone, or one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) room: Option<String>,
    /// Published by a bridge (its payload is an [`Envelope`]), not by a plain MQTT client.
    pub(crate) from_bridge: bool,
}

/// The topic a bridge publishes a message for `room` (or everyone) to.
pub(crate) fn bridge_topic(prefix: &str, room: Option<&str>) -> String {
    match room {
        None => format!("{prefix}/bridge/all"),
        Some(room) => format!("{prefix}/bridge/room/{}", escape(room)),
    }
}

/// The filter a bridge subscribes to: everything under its prefix.
pub(crate) fn filter(prefix: &str) -> String {
    format!("{prefix}/#")
}

/// What a topic under `prefix` means; `None` for a topic outside the layout.
pub(crate) fn parse(prefix: &str, topic: &str) -> Option<Target> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let (from_bridge, rest) = match rest.strip_prefix("bridge/") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    if rest == "all" {
        return Some(Target { room: None, from_bridge });
    }
    // An empty room name is an empty level (`PREFIX/room/`), which MQTT allows.
    let room = rest.strip_prefix("room/")?;
    if room.contains('/') {
        return None;
    }
    Some(Target { room: Some(unescape(room)?), from_bridge })
}

/// Whether `prefix` can start topics: not empty, no wildcard, no empty level at its end.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && !prefix.contains(['+', '#', '\0']) && !prefix.ends_with('/')
}

fn escape(room: &str) -> String {
    let mut out = String::with_capacity(room.len());
    for c in room.chars() {
        if matches!(c, '%' | '/' | '+' | '#') || c.is_control() {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(level: &str) -> Option<String> {
    let bytes = level.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = level.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What bridges put in a PUBLISH: a version byte (1), a flags byte (bit 0: text), the
/// publishing bridge's origin (8 bytes) and its sequence number (8 bytes, big endian), then
/// the message's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) origin: u64,
    pub(crate) seq: u64,
    pub(crate) message: Message,
}

const VERSION: u8 = 1;
const TEXT: u8 = 1;
/// Bytes before the message.
pub(crate) const ENVELOPE_HEAD: usize = 18;

impl Envelope {
    /// The payload for `message` from `origin`, number `seq`.
    pub(crate) fn wrap(origin: u64, seq: u64, message: &Message) -> Vec<u8> {
        let (flags, body) = match message {
            Message::Text(t) => (TEXT, t.as_bytes()),
            Message::Binary(b) => (0, &b[..]),
        };
        let mut out = Vec::with_capacity(ENVELOPE_HEAD + body.len());
        out.extend_from_slice(&[VERSION, flags]);
        out.extend_from_slice(&origin.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// Reads a bridge's payload.
    pub(crate) fn unwrap(mut payload: Vec<u8>) -> Result<Envelope, &'static str> {
        if payload.len() < ENVELOPE_HEAD {
            return Err("shorter than an envelope");
        }
        if payload[0] != VERSION {
            return Err("unknown envelope version");
        }
        let flags = payload[1];
        if flags & !TEXT != 0 {
            return Err("unknown envelope flags");
        }
        let word = |at: usize| u64::from_be_bytes(payload[at..at + 8].try_into().expect("8 bytes"));
        let (origin, seq) = (word(2), word(10));
        payload.drain(..ENVELOPE_HEAD);
        let message = if flags & TEXT != 0 {
            Message::Text(String::from_utf8(payload).map_err(|_| "text that is not UTF-8")?)
        } else {
            Message::Binary(payload)
        };
        Ok(Envelope { origin, seq, message })
    }
}

/// A plain MQTT client's payload as a message: text when it is UTF-8.
pub(crate) fn plain_message(payload: Vec<u8>) -> Message {
    match String::from_utf8(payload) {
        Ok(text) => Message::Text(text),
        Err(e) => Message::Binary(e.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_room_name_is_one_topic_level_and_comes_back() {
        for room in ["lobby", "a/b", "100%", "+#", "ünï", "tab\there", "%2F", ""] {
            let topic = bridge_topic("fleet/chat", Some(room));
            assert_eq!(topic.matches('/').count(), 4, "{topic}");
            assert!(!topic.contains(['+', '#']), "{topic}");
            let target = parse("fleet/chat", &topic).unwrap();
            assert_eq!(target, Target { room: Some(room.to_owned()), from_bridge: true });
        }
        assert_eq!(
            parse("fleet/chat", &bridge_topic("fleet/chat", None)),
            Some(Target { room: None, from_bridge: true })
        );
        assert_eq!(parse("p", "p/all"), Some(Target { room: None, from_bridge: false }));
        assert_eq!(parse("p", "p/room/x"), Some(Target { room: Some("x".into()), from_bridge: false }));
        assert_eq!(parse("p", "p/room/"), Some(Target { room: Some(String::new()), from_bridge: false }));
        for outside in ["q/all", "p", "p/", "p/other", "p/room/a/b", "p/room/%zz", "pall", "p/bridge/x"] {
            assert_eq!(parse("p", outside), None, "{outside}");
        }
        assert_eq!(filter("p/q"), "p/q/#");
        assert!(
            valid_prefix("fleet/chat") && !valid_prefix("") && !valid_prefix("a/#") && !valid_prefix("a/")
        );
    }

    #[test]
    fn envelopes_carry_kind_origin_and_number() {
        for message in [
            Message::Text("héllo".into()),
            Message::Binary(vec![0, 159, 146, 150]),
            Message::Text(String::new()),
        ] {
            let wire = Envelope::wrap(7, 1 << 40, &message);
            assert_eq!(wire.len(), ENVELOPE_HEAD + message.len());
            assert_eq!(Envelope::unwrap(wire).unwrap(), Envelope { origin: 7, seq: 1 << 40, message });
        }
        let mut bad_text = Envelope::wrap(1, 1, &Message::Binary(vec![0xff]));
        bad_text[1] = TEXT;
        assert_eq!(Envelope::unwrap(bad_text), Err("text that is not UTF-8"));
        assert_eq!(Envelope::unwrap(vec![1; 5]), Err("shorter than an envelope"));
        assert_eq!(Envelope::unwrap(vec![2; 20]), Err("unknown envelope version"));
        assert_eq!(plain_message(b"hi".to_vec()), Message::Text("hi".into()));
        assert_eq!(plain_message(vec![0xff]), Message::Binary(vec![0xff]));
    }
}
