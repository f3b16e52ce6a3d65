//! Reading frames off the socket: headers through tungstenite's `FrameHeader`, payloads
//! streamed straight into their destination and unmasked as they arrive.

use std::io::{self, Cursor, Read};

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use super::error::{ProtocolError, WireError};
use super::inbuf::InBuf;
use super::mask::apply_mask;

/// Payload bytes read per `read` call when a payload bypasses the input buffer.
const DIRECT_CHUNK: usize = 64 * 1024;

/// A parsed frame header and its payload length.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    /// RSV1..RSV3 as the bits 0b100, 0b010, 0b001.
    pub(crate) rsv: u8,
    pub(crate) opcode: OpCode,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) len: u64,
}

impl Header {
    pub(crate) fn is_control(&self) -> bool {
        matches!(self.opcode, OpCode::Control(_))
    }
}

/// Reads frames from a stream through the connection's input buffer.
#[derive(Debug)]
pub(crate) struct FrameReader {
    buf: InBuf,
}

impl FrameReader {
    /// Wraps the input buffer left over from the handshake (it may hold early frames).
    pub(crate) fn new(buf: InBuf) -> Self {
        FrameReader { buf }
    }

    /// Whether input is buffered (a read for the next header may not need the socket).
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.available().is_empty()
    }

    /// Reads the next frame header. `Ok(None)` is a clean EOF between frames.
    pub(crate) fn read_header(&mut self, r: &mut impl Read) -> Result<Option<Header>, WireError> {
        loop {
            let avail = self.buf.available();
            if !avail.is_empty() {
                let mut cursor = Cursor::new(avail);
                match FrameHeader::parse(&mut cursor) {
                    Ok(Some((h, len))) => {
                        let used = cursor.position() as usize;
                        self.buf.consume(used);
                        let rsv = (u8::from(h.rsv1) << 2) | (u8::from(h.rsv2) << 1) | u8::from(h.rsv3);
                        return Ok(Some(Header {
                            fin: h.is_final,
                            rsv,
                            opcode: h.opcode,
                            mask: h.mask,
                            len,
                        }));
                    }
                    Ok(None) => {}
                    Err(_) => {
                        let op = avail[0] & 0x0f;
                        return Err(ProtocolError::BadOpcode(op).into());
                    }
                }
            }
            let had = self.buf.available().len();
            // The longest header is 14 bytes; the buffer is normally far larger.
            let cap = self.buf.size().max(14);
            if self.buf.fill(r, cap)? == 0 {
                if had == 0 {
                    return Ok(None);
                }
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// Appends the frame's payload to `dst`, unmasked. `on_chunk` sees `dst` after every chunk
    /// (for fail-fast UTF-8 checks) and may abort the read with an error.
    pub(crate) fn read_payload(
        &mut self,
        r: &mut impl Read,
        header: &Header,
        dst: &mut Vec<u8>,
        on_chunk: impl FnMut(&[u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let base = dst.len();
        let end = self.read_payload_at(r, header, dst, base, on_chunk)?;
        dst.truncate(end);
        Ok(())
    }

    /// Writes the frame's payload, unmasked, into `dst` from `base` on and returns where it
    /// ends. `dst` may be longer than that (bytes of an earlier use): they are overwritten, not
    /// zeroed again, so a reused buffer costs no `memset`; new room is zeroed at most once and
    /// only as data arrives. `on_chunk` sees `dst[..end so far]` after every chunk.
    pub(crate) fn read_payload_at(
        &mut self,
        r: &mut impl Read,
        header: &Header,
        dst: &mut Vec<u8>,
        base: usize,
        mut on_chunk: impl FnMut(&[u8]) -> Result<(), WireError>,
    ) -> Result<usize, WireError> {
        let total = header.len as usize;
        // Bytes of this frame in `dst[base..]`.
        let mut filled = 0;
        if total <= DIRECT_CHUNK {
            dst.reserve((base + total).saturating_sub(dst.len()));
        }
        while filled < total {
            let remaining = total - filled;
            let at = base + filled;
            let avail = self.buf.available();
            let n = if !avail.is_empty() {
                let take = avail.len().min(remaining);
                write_at(dst, at, &avail[..take]);
                self.buf.consume(take);
                take
            } else if remaining >= self.buf.capacity() {
                grow(dst, at + remaining.min(DIRECT_CHUNK));
                let end = dst.len().min(at + remaining);
                read_some(r, &mut dst[at..end])?
            } else {
                let cap = self.buf.size();
                if self.buf.fill(r, cap)? == 0 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
                continue;
            };
            if let Some(mask) = header.mask {
                apply_mask(&mut dst[at..at + n], mask, filled);
            }
            filled += n;
            on_chunk(&dst[..base + filled])?;
        }
        Ok(base + filled)
    }

    /// Reads and discards input until EOF or an error (used while a connection closes).
    pub(crate) fn drain(&mut self, r: &mut impl Read) {
        let cap = self.buf.size();
        loop {
            let n = self.buf.available().len();
            self.buf.consume(n);
            match self.buf.fill(r, cap) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

/// Makes `dst` at least `len` long, zero-filling only the new bytes.
fn grow(dst: &mut Vec<u8>, len: usize) {
    if dst.len() < len {
        dst.resize(len, 0);
    }
}

/// Writes `src` into `dst` at `at` (at most `dst.len()`): a recycled buffer's old bytes are
/// overwritten, and what goes past its end is appended, so nothing is zeroed first.
fn write_at(dst: &mut Vec<u8>, at: usize, src: &[u8]) {
    let overlap = dst.len().saturating_sub(at).min(src.len());
    dst[at..at + overlap].copy_from_slice(&src[..overlap]);
    dst.extend_from_slice(&src[overlap..]);
}

/// One `read` that treats EOF as an error and retries on `Interrupted`.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, WireError> {
    loop {
        match r.read(buf) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The data opcodes a message can start with.
pub(crate) fn is_text(op: OpCode) -> bool {
    op == OpCode::Data(Data::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mut v = vec![first, 0x80 | payload.len() as u8];
        v.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        apply_mask(&mut p, mask, 0);
        v.extend_from_slice(&p);
        v
    }

    #[test]
    fn reads_masked_frames_through_a_tiny_buffer() {
        let mut wire = masked_frame(0x81, b"hello", [9, 8, 7, 6]);
        wire.extend(masked_frame(0x82, &[1, 2, 3], [1, 1, 1, 1]));
        // A reader that hands out one byte at a time exercises every partial path.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut src = Trickle(&wire);
        let mut fr = FrameReader::new(InBuf::new(4));
        let h = fr.read_header(&mut src).unwrap().unwrap();
        assert!(h.fin && is_text(h.opcode) && h.len == 5);
        let mut out = Vec::new();
        let mut chunks = 0;
        fr.read_payload(&mut src, &h, &mut out, |_| {
            chunks += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"hello");
        assert!(chunks >= 1);
        let h = fr.read_header(&mut src).unwrap().unwrap();
        assert_eq!(h.opcode, OpCode::Data(Data::Binary));
        let mut out = Vec::new();
        fr.read_payload(&mut src, &h, &mut out, |_| Ok(())).unwrap();
        assert_eq!(out, [1, 2, 3]);
        assert!(fr.read_header(&mut src).unwrap().is_none());
    }

    #[test]
    fn payloads_overwrite_a_longer_buffer_from_base() {
        let wire = masked_frame(0x82, &[5; 10], [1, 2, 3, 4]);
        let mut src: &[u8] = &wire;
        let mut fr = FrameReader::new(InBuf::new(64));
        let h = fr.read_header(&mut src).unwrap().unwrap();
        let mut dst = vec![9u8; 100];
        let end = fr.read_payload_at(&mut src, &h, &mut dst, 3, |_| Ok(())).unwrap();
        assert_eq!(end, 13);
        assert_eq!(&dst[..3], &[9, 9, 9]);
        assert_eq!(&dst[3..13], &[5; 10]);
        assert_eq!(dst.len(), 100, "the buffer is not shrunk or zeroed");
    }

    #[test]
    fn payloads_append_to_a_shorter_buffer_and_straddle_its_end() {
        let wire = masked_frame(0x82, &[5; 10], [1, 2, 3, 4]);
        // Appending at the end (the usual case).
        let (mut src, mut fr): (&[u8], _) = (&wire, FrameReader::new(InBuf::new(64)));
        let h = fr.read_header(&mut src).unwrap().unwrap();
        let mut dst = vec![7u8; 2];
        assert_eq!(fr.read_payload_at(&mut src, &h, &mut dst, 2, |_| Ok(())).unwrap(), 12);
        assert_eq!(dst, [7, 7, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
        // Old bytes overwritten, then the buffer grown past them.
        let (mut src, mut fr): (&[u8], _) = (&wire, FrameReader::new(InBuf::new(64)));
        let h = fr.read_header(&mut src).unwrap().unwrap();
        let mut dst = vec![9u8; 6];
        assert_eq!(fr.read_payload_at(&mut src, &h, &mut dst, 1, |_| Ok(())).unwrap(), 11);
        assert_eq!(dst, [9, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    }

    #[test]
    fn reserved_opcode_and_truncation_are_errors() {
        let mut src: &[u8] = &[0x83, 0x80, 0, 0, 0, 0];
        let mut fr = FrameReader::new(InBuf::new(16));
        assert!(matches!(fr.read_header(&mut src), Err(WireError::Protocol(ProtocolError::BadOpcode(3)))));
        let mut src: &[u8] = &[0x81];
        let mut fr = FrameReader::new(InBuf::new(16));
        assert!(matches!(fr.read_header(&mut src), Err(WireError::Io(_))));
    }
}
