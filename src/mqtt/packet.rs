//! MQTT 3.1.1 packets, the part a bridge needs: what a client sends (CONNECT, PUBLISH,
//! PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT) and what a broker answers (CONNACK, PUBLISH,
//! PUBACK, SUBACK, PINGRESP). Strict: anything else from the broker is an error.

use std::fmt;

/// The largest remaining length MQTT can express (four bytes of 7 bits).
const MAX_REMAINING: usize = 268_435_455;

/// A packet's type and flags, and the length of what follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedHeader {
    /// The high nibble of the first byte.
    pub(crate) kind: u8,
    /// The low nibble.
    pub(crate) flags: u8,
    /// Bytes after the fixed header.
    pub(crate) remaining: usize,
    /// Bytes of the fixed header itself (2 to 5).
    pub(crate) len: usize,
}

/// Packet types, as the first byte's high nibble.
pub(crate) mod kind {
    pub(crate) const CONNECT: u8 = 1;
    pub(crate) const CONNACK: u8 = 2;
    pub(crate) const PUBLISH: u8 = 3;
    pub(crate) const PUBACK: u8 = 4;
    pub(crate) const SUBSCRIBE: u8 = 8;
    pub(crate) const SUBACK: u8 = 9;
    pub(crate) const PINGREQ: u8 = 12;
    pub(crate) const PINGRESP: u8 = 13;
    pub(crate) const DISCONNECT: u8 = 14;
}

/// Quality of service of a PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Qos {
    AtMostOnce = 0,
    AtLeastOnce = 1,
}

/// A CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connect {
    pub(crate) client_id: String,
    pub(crate) keep_alive_secs: u16,
    pub(crate) clean_session: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Vec<u8>>,
}

/// A PUBLISH, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publish {
    pub(crate) dup: bool,
    pub(crate) qos: Qos,
    pub(crate) retain: bool,
    pub(crate) topic: String,
    /// Set for QoS 1.
    pub(crate) id: Option<u16>,
    pub(crate) payload: Vec<u8>,
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    Connect(Connect),
    ConnAck { session_present: bool, code: u8 },
    Publish(Publish),
    PubAck(u16),
    Subscribe { id: u16, filters: Vec<(String, Qos)> },
    SubAck { id: u16, codes: Vec<u8> },
    PingReq,
    PingResp,
    Disconnect,
}

/// A packet that breaks MQTT 3.1.1, or one a client never receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketError(pub(crate) String);

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed MQTT packet: {}", self.0)
    }
}

impl std::error::Error for PacketError {}

fn bad(what: impl Into<String>) -> PacketError {
    PacketError(what.into())
}

/// Reads a fixed header from the start of `buf`: `None` while it is incomplete.
pub(crate) fn fixed_header(buf: &[u8]) -> Result<Option<FixedHeader>, PacketError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    let mut remaining = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else { return Ok(None) };
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader { kind: first >> 4, flags: first & 0x0f, remaining, len: 2 + i }));
        }
    }
    Err(bad("remaining length longer than four bytes"))
}

/// Decodes the packet of `header` from `body` (exactly its remaining length): the packets a
/// broker sends a client.
pub(crate) fn decode(header: FixedHeader, body: &[u8]) -> Result<Packet, PacketError> {
    debug_assert_eq!(body.len(), header.remaining);
    let mut r = Reader(body);
    let packet = match (header.kind, header.flags) {
        (kind::CONNACK, 0) => {
            let ack = r.u8()?;
            if ack & !1 != 0 {
                return Err(bad("CONNACK flags"));
            }
            Packet::ConnAck { session_present: ack == 1, code: r.u8()? }
        }
        (kind::PUBLISH, flags) => {
            let qos = match (flags >> 1) & 3 {
                0 => Qos::AtMostOnce,
                1 => Qos::AtLeastOnce,
                2 => return Err(bad("PUBLISH with QoS 2, more than was subscribed")),
                _ => return Err(bad("PUBLISH with QoS 3")),
            };
            let dup = flags & 8 != 0;
            if dup && qos == Qos::AtMostOnce {
                return Err(bad("DUP on a QoS 0 PUBLISH"));
            }
            let topic = r.string()?;
            if topic.is_empty() || topic.contains(['+', '#']) {
                return Err(bad("PUBLISH topic empty or with a wildcard"));
            }
            let id = if qos == Qos::AtMostOnce { None } else { Some(r.id()?) };
            return Ok(Packet::Publish(Publish {
                dup,
                qos,
                retain: flags & 1 != 0,
                topic,
                id,
                payload: r.0.to_vec(),
            }));
        }
        (kind::PUBACK, 0) => Packet::PubAck(r.id()?),
        (kind::SUBACK, 0) => {
            let id = r.id()?;
            if r.0.is_empty() {
                return Err(bad("SUBACK without return codes"));
            }
            let codes = r.0.to_vec();
            if codes.iter().any(|&c| c > 2 && c != 0x80) {
                return Err(bad("SUBACK return code"));
            }
            return Ok(Packet::SubAck { id, codes });
        }
        (kind::PINGRESP, 0) => Packet::PingResp,
        (kind, flags) => return Err(bad(format!("packet type {kind} with flags {flags:#x} from a broker"))),
    };
    if !r.0.is_empty() {
        return Err(bad("bytes after the packet"));
    }
    Ok(packet)
}

impl Packet {
    /// Appends the packet's bytes to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        let (kind, flags) = match self {
            Packet::Connect(c) => {
                put_str(&mut body, "MQTT");
                body.push(4);
                let mut connect_flags = 0u8;
                if c.clean_session {
                    connect_flags |= 0x02;
                }
                if c.username.is_some() {
                    connect_flags |= 0x80;
                }
                if c.password.is_some() {
                    connect_flags |= 0x40;
                }
                body.push(connect_flags);
                body.extend_from_slice(&c.keep_alive_secs.to_be_bytes());
                put_str(&mut body, &c.client_id);
                if let Some(user) = &c.username {
                    put_str(&mut body, user);
                }
                if let Some(password) = &c.password {
                    put_bytes(&mut body, password);
                }
                (kind::CONNECT, 0)
            }
            Packet::ConnAck { session_present, code } => {
                body.extend_from_slice(&[u8::from(*session_present), *code]);
                (kind::CONNACK, 0)
            }
            Packet::Publish(p) => {
                put_str(&mut body, &p.topic);
                if let Some(id) = p.id {
                    body.extend_from_slice(&id.to_be_bytes());
                }
                body.extend_from_slice(&p.payload);
                (kind::PUBLISH, (u8::from(p.dup) << 3) | ((p.qos as u8) << 1) | u8::from(p.retain))
            }
            Packet::PubAck(id) => {
                body.extend_from_slice(&id.to_be_bytes());
                (kind::PUBACK, 0)
            }
            Packet::Subscribe { id, filters } => {
                body.extend_from_slice(&id.to_be_bytes());
                for (filter, qos) in filters {
                    put_str(&mut body, filter);
                    body.push(*qos as u8);
                }
                (kind::SUBSCRIBE, 2)
            }
            Packet::SubAck { id, codes } => {
                body.extend_from_slice(&id.to_be_bytes());
                body.extend_from_slice(codes);
                (kind::SUBACK, 0)
            }
            Packet::PingReq => (kind::PINGREQ, 0),
            Packet::PingResp => (kind::PINGRESP, 0),
            Packet::Disconnect => (kind::DISCONNECT, 0),
        };
        out.push((kind << 4) | flags);
        put_remaining(out, body.len());
        out.extend_from_slice(&body);
    }
}

/// The bytes of a QoS 1 PUBLISH that come before its payload of `payload_len` bytes: the
/// payload is written after them without a copy.
pub(crate) fn publish_head(topic: &str, id: u16, dup: bool, payload_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(topic.len() + 9);
    out.push((kind::PUBLISH << 4) | (u8::from(dup) << 3) | ((Qos::AtLeastOnce as u8) << 1));
    put_remaining(&mut out, 2 + topic.len() + 2 + payload_len);
    put_str(&mut out, topic);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Whether a packet of `remaining` bytes can be written at all.
pub(crate) fn fits(remaining: usize) -> bool {
    remaining <= MAX_REMAINING
}

fn put_remaining(out: &mut Vec<u8>, mut len: usize) {
    debug_assert!(fits(len));
    loop {
        let mut byte = (len & 0x7f) as u8;
        len >>= 7;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return;
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// A cursor over a packet's body.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], PacketError> {
        if self.0.len() < n {
            return Err(bad("packet shorter than its fields"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, PacketError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PacketError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A packet identifier: never 0.
    fn id(&mut self) -> Result<u16, PacketError> {
        match self.u16()? {
            0 => Err(bad("packet identifier 0")),
            id => Ok(id),
        }
    }

    /// A UTF-8 string without U+0000, as MQTT requires.
    fn string(&mut self) -> Result<String, PacketError> {
        let len = usize::from(self.u16()?);
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| bad("string not UTF-8"))?;
        if s.contains('\0') {
            return Err(bad("string with U+0000"));
        }
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(packet: &Packet) -> Packet {
        let mut wire = Vec::new();
        packet.encode(&mut wire);
        let header = fixed_header(&wire).unwrap().unwrap();
        assert_eq!(header.len + header.remaining, wire.len());
        for cut in 0..header.len {
            assert_eq!(fixed_header(&wire[..cut]).unwrap(), None, "incomplete at {cut}");
        }
        decode(header, &wire[header.len..]).unwrap()
    }

    #[test]
    fn what_a_broker_sends_decodes_as_encoded() {
        let publish = Packet::Publish(Publish {
            dup: true,
            qos: Qos::AtLeastOnce,
            retain: false,
            topic: "syncws/room/a".into(),
            id: Some(7),
            payload: vec![1; 300],
        });
        for packet in [
            Packet::ConnAck { session_present: false, code: 0 },
            Packet::ConnAck { session_present: true, code: 5 },
            publish,
            Packet::Publish(Publish {
                dup: false,
                qos: Qos::AtMostOnce,
                retain: true,
                topic: "t".into(),
                id: None,
                payload: Vec::new(),
            }),
            Packet::PubAck(65535),
            Packet::SubAck { id: 1, codes: vec![1, 0x80] },
            Packet::PingResp,
        ] {
            assert_eq!(round_trip(&packet), packet);
        }
    }

    #[test]
    fn what_a_client_sends_is_byte_exact() {
        let mut wire = Vec::new();
        Packet::Connect(Connect {
            client_id: "b1".into(),
            keep_alive_secs: 30,
            clean_session: true,
            username: Some("u".into()),
            password: Some(b"p".to_vec()),
        })
        .encode(&mut wire);
        assert_eq!(
            wire,
            [
                0x10, 20, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xc2, 0, 30, 0, 2, b'b', b'1', 0, 1, b'u', 0, 1,
                b'p'
            ]
        );
        wire.clear();
        Packet::Subscribe { id: 1, filters: vec![("a/#".into(), Qos::AtLeastOnce)] }.encode(&mut wire);
        assert_eq!(wire, [0x82, 8, 0, 1, 0, 3, b'a', b'/', b'#', 1]);
        wire.clear();
        Packet::PingReq.encode(&mut wire);
        Packet::Disconnect.encode(&mut wire);
        assert_eq!(wire, [0xc0, 0, 0xe0, 0]);
    }

    #[test]
    fn remaining_lengths_use_one_to_four_bytes() {
        for (len, bytes) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (MAX_REMAINING, 4),
        ] {
            let mut wire = vec![0x30];
            put_remaining(&mut wire, len);
            assert_eq!(wire.len(), 1 + bytes, "{len}");
            let header = fixed_header(&wire).unwrap().unwrap();
            assert_eq!((header.remaining, header.len), (len, 1 + bytes));
        }
        for n in [0, 100, 200, 20_000] {
            let payload = vec![3; n];
            let mut whole = Vec::new();
            Packet::Publish(Publish {
                dup: true,
                qos: Qos::AtLeastOnce,
                retain: false,
                topic: "ab".into(),
                id: Some(9),
                payload: payload.clone(),
            })
            .encode(&mut whole);
            let mut split = publish_head("ab", 9, true, n);
            split.extend_from_slice(&payload);
            assert_eq!(split, whole, "{n}");
        }
        assert!(fixed_header(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err(), "five length bytes");
    }

    #[test]
    fn broken_packets_are_errors() {
        let cases: [(&[u8], &str); 9] = [
            (&[0x20, 2, 2, 0], "CONNACK flags"),
            (&[0x36, 3, 0, 1, b't'], "QoS 3"),
            (&[0x34, 3, 0, 1, b't'], "QoS 2"),
            (&[0x38, 3, 0, 1, b't'], "DUP on a QoS 0"),
            (&[0x32, 5, 0, 1, b't', 0, 0], "identifier 0"),
            (&[0x30, 3, 0, 1, b'#'], "wildcard"),
            (&[0x30, 4, 0, 2, 0xff, 0xfe], "not UTF-8"),
            (&[0x40, 3, 0, 1, 9], "bytes after"),
            (&[0x10, 0], "packet type 1"),
        ];
        for (wire, why) in cases {
            let header = fixed_header(wire).unwrap().unwrap();
            let err = decode(header, &wire[header.len..]).unwrap_err();
            assert!(err.to_string().contains(why), "{err} for {wire:?}, expected {why}");
        }
    }
}
