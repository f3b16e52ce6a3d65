//! Encoding frames for the write loop, with tungstenite's `FrameHeader` formatting headers.

use std::io::{self, IoSlice, Write};

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::OpCode;

use super::mask::apply_mask;

/// Payloads at least this large are written straight from the message (vectored write) rather
/// than copied into the batch buffer.
pub(crate) const COPY_LIMIT: usize = 16 * 1024;

/// Appends a frame header for a payload of `len` bytes to `out`.
pub(crate) fn encode_header(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    rsv: u8,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        is_final: fin,
        rsv1: rsv & 0b100 != 0,
        rsv2: rsv & 0b010 != 0,
        rsv3: rsv & 0b001 != 0,
        opcode,
        mask,
    };
    header.format(len as u64, out).expect("writing to a Vec cannot fail");
}

/// The header of a final frame with `opcode` (0x1 text, 0x2 binary, 0x9 ping, 0xA pong) of
/// `len` bytes without RSV bits, masked with `mask` if given: the bytes and how many of them
/// are used.
pub(crate) fn header_bytes(opcode: u8, len: usize, mask: Option<[u8; 4]>) -> ([u8; 14], usize) {
    let mut h = [0u8; 14];
    h[0] = 0x80 | opcode;
    let used = if len < 126 {
        h[1] = len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    match mask {
        Some(key) => {
            h[1] |= 0x80;
            h[used..used + 4].copy_from_slice(&key);
            (h, used + 4)
        }
        None => (h, used),
    }
}

/// Encodes a whole frame into `out`, masking the copied payload with `mask` if given.
pub(crate) fn encode_frame(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    rsv: u8,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    encode_header(out, opcode, fin, rsv, payload.len(), mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, 0);
    }
}

/// Writes every byte of `first` then `second`, with vectored writes so that a large payload is
/// not copied.
pub(crate) fn write_two(w: &mut impl Write, first: &[u8], second: &[u8]) -> io::Result<()> {
    let (mut a, mut b) = (first, second);
    while !a.is_empty() {
        let n = match w.write_vectored(&[IoSlice::new(a), IoSlice::new(b)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n < a.len() {
            a = &a[n..];
        } else {
            b = &b[n - a.len()..];
            a = &[];
        }
    }
    w.write_all(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::coding::Data;

    #[test]
    fn encodes_lengths_in_all_three_forms() {
        for (len, header_len) in [(5usize, 2usize), (126, 4), (70_000, 10)] {
            let mut out = Vec::new();
            encode_frame(&mut out, OpCode::Data(Data::Binary), true, 0, &vec![7; len], None);
            assert_eq!(out.len(), header_len + len);
            assert_eq!(out[0], 0x82);
        }
    }

    #[test]
    fn header_bytes_match_the_general_encoder() {
        for len in [0usize, 5, 125, 126, 65_535, 65_536, 1 << 20] {
            for (text, mask) in [(false, None), (true, None), (true, Some([1, 2, 3, 4]))] {
                let (h, used) = header_bytes(if text { 0x1 } else { 0x2 }, len, mask);
                let op = OpCode::Data(if text { Data::Text } else { Data::Binary });
                let mut general = Vec::new();
                encode_header(&mut general, op, true, 0, len, mask);
                assert_eq!(&h[..used], &general[..], "len {len} text {text} mask {mask:?}");
            }
        }
    }

    #[test]
    fn write_two_survives_short_writes() {
        struct Short(Vec<u8>);
        impl Write for Short {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Short(Vec::new());
        write_two(&mut w, b"head", b"payload").unwrap();
        assert_eq!(w.0, b"headpayload");
    }
}
