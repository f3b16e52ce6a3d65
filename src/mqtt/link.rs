//! One connection to the broker: opened with CONNECT and CONNACK, then read by one thread and
//! written by any, one packet at a time.

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::Mutex;
use std::time::Instant;

use super::config::{MqttConfig, MqttError};
use super::packet::{self, Connect, FixedHeader, Packet, kind};
use crate::transport::{Stream, dial};

/// An open MQTT connection.
pub(crate) struct Link {
    stream: Stream,
    /// Held while a packet is written, so that packets never interleave.
    wire: Mutex<()>,
}

impl Link {
    /// Connects to the broker (each of its addresses in turn within the connect timeout),
    /// runs TLS if configured, and sends CONNECT with a clean session; returns once the broker
    /// accepted it.
    pub(crate) fn open(config: &MqttConfig, client_id: &str) -> Result<Link, MqttError> {
        let (host, port) = config.host_port();
        let deadline = Instant::now() + config.connect_timeout;
        let (tcp, _) = dial::connect(host, port, config.connect_timeout)?;
        let _ = tcp.set_nodelay(true);
        // A broker that stops reading makes writes fail after a keep-alive period, not hang.
        tcp.set_write_timeout(Some(config.keep_alive))?;
        tcp.set_read_timeout(Some(left(deadline)?))?;
        #[cfg(feature = "tls")]
        let stream = match &config.tls {
            Some(tls) => {
                let session = tls.session(host).map_err(|e| MqttError::Io(io::Error::other(e)))?;
                let stream = Stream::tls(tcp, session);
                stream.tls_handshake()?;
                stream
            }
            None => Stream::plain(tcp),
        };
        #[cfg(not(feature = "tls"))]
        let stream = Stream::plain(tcp);
        let link = Link { stream, wire: Mutex::new(()) };
        link.send(&Packet::Connect(Connect {
            client_id: client_id.to_owned(),
            keep_alive_secs: config.keep_alive.as_secs().min(65_535) as u16,
            clean_session: true,
            username: config.username.clone(),
            password: config.password.clone(),
        }))?;
        link.stream.tcp().set_read_timeout(Some(left(deadline)?))?;
        let mut reader = PacketReader::default();
        let answer = match reader.next(&mut &link.stream, 16) {
            Err(MqttError::Io(e))
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                return Err(MqttError::Timeout("CONNECT"));
            }
            other => other?,
        };
        match answer {
            Incoming::Packet(Packet::ConnAck { code: 0, .. }) => {}
            Incoming::Packet(Packet::ConnAck { code, .. }) => return Err(MqttError::Refused(code)),
            _ => return Err(packet::PacketError("the broker's first packet is not a CONNACK".into()).into()),
        }
        // From here on a silent broker is found by the keep-alive pings.
        link.stream.tcp().set_read_timeout(None)?;
        Ok(link)
    }

    /// Writes `packet` whole.
    pub(crate) fn send(&self, packet: &Packet) -> io::Result<()> {
        let mut bytes = Vec::new();
        packet.encode(&mut bytes);
        let _wire = self.wire.lock().unwrap_or_else(|e| e.into_inner());
        self.stream.write_frames(&bytes, &[])
    }

    /// Writes a QoS 1 PUBLISH without copying its payload.
    pub(crate) fn publish(&self, topic: &str, id: u16, dup: bool, payload: &[u8]) -> io::Result<()> {
        let head = packet::publish_head(topic, id, dup, payload.len());
        let _wire = self.wire.lock().unwrap_or_else(|e| e.into_inner());
        self.stream.write_frames(&head, payload)
    }

    /// The stream, for the one thread that reads it.
    pub(crate) fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Ends the connection: wakes the reader and any writer.
    pub(crate) fn shutdown(&self) {
        self.stream.shutdown(Shutdown::Both);
    }
}

fn left(deadline: Instant) -> Result<std::time::Duration, MqttError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() { Err(MqttError::Timeout("CONNECT")) } else { Ok(left) }
}

/// What [`PacketReader::next`] read.
#[derive(Debug)]
pub(crate) enum Incoming {
    Packet(Packet),
    /// A PUBLISH longer than allowed, read past: its remaining length, and its packet
    /// identifier if it needs a PUBACK.
    SkippedPublish {
        len: usize,
        id: Option<u16>,
    },
}

/// Reads packets from a byte stream, keeping what arrived beyond the current one.
#[derive(Default)]
pub(crate) struct PacketReader {
    /// Bytes read are `buf[start..end]`; the rest is room, zeroed once when it was added.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// The room each read asks for.
const READ_CHUNK: usize = 16 * 1024;

impl PacketReader {
    /// The next packet. A PUBLISH whose remaining length exceeds `max` is read past in pieces
    /// (never held whole); any other packet that long is an error, as is the end of the stream.
    pub(crate) fn next(&mut self, r: &mut impl Read, max: usize) -> Result<Incoming, MqttError> {
        let header = loop {
            if let Some(header) = packet::fixed_header(&self.buf[self.start..self.end])? {
                break header;
            }
            self.fill(r)?;
        };
        if header.remaining > max {
            if header.kind != kind::PUBLISH {
                return Err(packet::PacketError(format!("a packet of {} bytes", header.remaining)).into());
            }
            let id = self.skip(r, header)?;
            return Ok(Incoming::SkippedPublish { len: header.remaining, id });
        }
        let total = header.len + header.remaining;
        while self.end - self.start < total {
            self.fill(r)?;
        }
        let at = self.start + header.len;
        let decoded = packet::decode(header, &self.buf[at..at + header.remaining]);
        self.start += total;
        Ok(Incoming::Packet(decoded?))
    }

    /// Bytes the reader holds now: what it read and the room for the next read.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }

    /// Reads past a PUBLISH, holding at most its topic and identifier at once; returns the
    /// identifier of a QoS 1 one.
    fn skip(&mut self, r: &mut impl Read, header: FixedHeader) -> Result<Option<u16>, MqttError> {
        let id = if header.flags & 0x06 == 0 {
            None
        } else {
            // Before the payload: the topic (2 + its length) and the identifier (2).
            let topic_len =
                usize::from(u16::from_be_bytes(self.peek(r, header.len, 2)?.try_into().expect("2")));
            let id = u16::from_be_bytes(self.peek(r, header.len + 2 + topic_len, 2)?.try_into().expect("2"));
            if id == 0 || 2 + topic_len + 2 > header.remaining {
                return Err(packet::PacketError("a PUBLISH shorter than its fields".into()).into());
            }
            Some(id)
        };
        let mut left = header.len + header.remaining;
        loop {
            let have = (self.end - self.start).min(left);
            self.start += have;
            left -= have;
            if left == 0 {
                return Ok(id);
            }
            self.fill(r)?;
        }
    }

    /// The `n` bytes at `at` from the current packet's start, reading until they are here.
    fn peek(&mut self, r: &mut impl Read, at: usize, n: usize) -> Result<&[u8], MqttError> {
        while self.end - self.start < at + n {
            self.fill(r)?;
        }
        Ok(&self.buf[self.start + at..self.start + at + n])
    }

    /// Reads more: at least one byte, or an error (the end of the stream is one). What is
    /// unread moves to the front; room is added (and zeroed) only when too little is left.
    fn fill(&mut self, r: &mut impl Read) -> Result<(), MqttError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        let n = loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Err(
                io::Error::new(io::ErrorKind::UnexpectedEof, "the broker closed the connection").into()
            );
        }
        self.end += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::packet::{Publish, Qos};

    /// Hands out its bytes a few at a time.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn packets_are_read_across_pieces_and_long_publishes_skipped() {
        let mut wire = Vec::new();
        let publish = |n: usize| {
            Packet::Publish(Publish {
                dup: false,
                qos: Qos::AtMostOnce,
                retain: false,
                topic: "t".into(),
                id: None,
                payload: vec![7; n],
            })
        };
        publish(10).encode(&mut wire);
        publish(100_000).encode(&mut wire);
        let mut at_least_once = publish(100_000);
        if let Packet::Publish(p) = &mut at_least_once {
            p.qos = Qos::AtLeastOnce;
            p.id = Some(4);
        }
        at_least_once.encode(&mut wire);
        Packet::PubAck(3).encode(&mut wire);
        for step in [1, 3, 1000, 1 << 20] {
            let mut r = Trickle(wire.clone(), step);
            let mut reader = PacketReader::default();
            assert!(matches!(reader.next(&mut r, 1000).unwrap(), Incoming::Packet(p) if p == publish(10)));
            assert!(matches!(
                reader.next(&mut r, 1000).unwrap(),
                Incoming::SkippedPublish { len: 100_003, id: None }
            ));
            assert!(matches!(
                reader.next(&mut r, 1000).unwrap(),
                Incoming::SkippedPublish { len: 100_005, id: Some(4) }
            ));
            assert!(matches!(reader.next(&mut r, 1000).unwrap(), Incoming::Packet(Packet::PubAck(3))));
            assert!(
                matches!(reader.next(&mut r, 1000), Err(MqttError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof)
            );
            assert!(reader.buf.len() <= 32 * 1024, "a long PUBLISH is never held whole");
        }
        let mut long_suback = Vec::new();
        Packet::SubAck { id: 1, codes: vec![1; 2000] }.encode(&mut long_suback);
        let err = PacketReader::default().next(&mut Trickle(long_suback, 64), 1000).err();
        assert!(matches!(err, Some(MqttError::Protocol(_))), "{err:?}");
    }
}
