//! Frames in memory: [`encode`] builds any frame, lawful or not; [`parse`] reads one.

/// The mask key of every masked frame this client writes.
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame as it was on the wire, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1..3 as a 3-bit number (RSV1 is 4).
    pub rsv: u8,
    /// The opcode, unchecked.
    pub opcode: u8,
    /// Whether the frame carried a mask (servers must not send one).
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The payload as UTF-8; panics if it is not.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap()
    }

    /// (code, reason) of a close frame: 1005 and "" for an empty one. Panics on another opcode.
    pub fn close(&self) -> (u16, String) {
        assert_eq!(self.opcode, 8, "expected a close frame, got {self:?}");
        if self.payload.len() < 2 {
            return (1005, String::new());
        }
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        (code, String::from_utf8_lossy(&self.payload[2..]).into_owned())
    }
}

/// Encodes a frame (mask key [`MASK_KEY`] when masked). Nothing is checked: `rsv`, `opcode` and
/// a control frame's length are written as given.
pub fn encode(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    encode_into(&mut out, fin, rsv, opcode, payload, masked);
    out
}

/// Like [`encode`], appending to `out`.
pub fn encode_into(out: &mut Vec<u8>, fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) {
    header_into(out, fin, rsv, opcode, payload.len() as u64, masked);
    let start = out.len();
    out.extend_from_slice(payload);
    if masked {
        mask(&mut out[start..], MASK_KEY);
    }
}

/// A frame's header alone, announcing `len` payload bytes (with [`MASK_KEY`] when masked): to
/// claim a length and send none of it.
pub fn encode_header(fin: bool, rsv: u8, opcode: u8, len: u64, masked: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    header_into(&mut out, fin, rsv, opcode, len, masked);
    out
}

/// XORs `data` with the repeating `key`, eight bytes at a time (the load generator masks
/// 64 KiB messages: byte by byte, that cost it more than the server's whole work).
pub fn mask(data: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().expect("eight bytes")) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    // Whole words so far, so the tail starts at a multiple of four.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

fn header_into(out: &mut Vec<u8>, fin: bool, rsv: u8, opcode: u8, len: u64, masked: bool) {
    out.push((u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f));
    let m = if masked { 0x80 } else { 0 };
    match len {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK_KEY);
    }
}

/// The first frame of `bytes` and its length on the wire, or `Err(n)`: at least `n` bytes are
/// needed to know more (`n > bytes.len()`).
pub fn parse(bytes: &[u8]) -> Result<(Frame, usize), usize> {
    if bytes.len() < 2 {
        return Err(2);
    }
    let (b0, b1) = (bytes[0], bytes[1]);
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 if bytes.len() < 4 => return Err(4),
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as u64, 4),
        127 if bytes.len() < 10 => return Err(10),
        127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 10),
        n => (u64::from(n), 2),
    };
    let key = if masked {
        if bytes.len() < at + 4 {
            return Err(at + 4);
        }
        at += 4;
        Some([bytes[at - 4], bytes[at - 3], bytes[at - 2], bytes[at - 1]])
    } else {
        None
    };
    let end = usize::try_from(len).ok().and_then(|len| len.checked_add(at)).unwrap_or(usize::MAX);
    if bytes.len() < end {
        return Err(end);
    }
    let mut payload = bytes[at..end].to_vec();
    if let Some(m) = key {
        mask(&mut payload, m);
    }
    Ok((Frame { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload }, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_form_round_trips_masked_or_not() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x1_0000, 70_000] {
            for masked in [false, true] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
                let bytes = encode(false, 5, 2, &payload, masked);
                let header = match len {
                    0..=125 => 2,
                    126..=0xffff => 4,
                    _ => 10,
                } + if masked { 4 } else { 0 };
                assert_eq!(bytes.len(), header + len, "len {len}");
                let (frame, used) = parse(&bytes).unwrap();
                assert_eq!(used, bytes.len());
                assert_eq!((frame.fin, frame.rsv, frame.opcode, frame.masked), (false, 5, 2, masked));
                assert_eq!(frame.payload, payload);
            }
        }
    }

    #[test]
    fn a_short_buffer_says_how_much_more_it_needs() {
        let bytes = encode(true, 0, 1, &[b'x'; 300], true);
        assert_eq!(parse(&bytes[..1]), Err(2));
        assert_eq!(parse(&bytes[..3]), Err(4));
        assert_eq!(parse(&bytes[..6]), Err(8));
        assert_eq!(parse(&bytes[..8]), Err(bytes.len()));
        assert_eq!(parse(&bytes[..bytes.len() - 1]), Err(bytes.len()));
        // A frame and a half: the first comes out with its exact length.
        let two = [bytes.clone(), bytes[..5].to_vec()].concat();
        assert_eq!(parse(&two).unwrap().1, bytes.len());
    }

    #[test]
    fn word_masking_equals_the_byte_by_byte_rule() {
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 1000, 65_537] {
            let data: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
            let mut masked = data.clone();
            mask(&mut masked, [1, 0x80, 0xfe, 0x33]);
            let expected: Vec<u8> =
                data.iter().enumerate().map(|(i, b)| b ^ [1, 0x80, 0xfe, 0x33][i & 3]).collect();
            assert_eq!(masked, expected, "len {len}");
        }
    }

    #[test]
    fn the_mask_is_the_fixed_key_and_the_bits_are_as_given() {
        let bytes = encode(true, 4, 9, b"ab", true);
        assert_eq!(bytes[..2], [0x80 | 0x40 | 9, 0x80 | 2]);
        assert_eq!(bytes[2..6], MASK_KEY);
        assert_eq!(bytes[6..], [b'a' ^ MASK_KEY[0], b'b' ^ MASK_KEY[1]]);
        assert_eq!(encode(false, 0, 0, b"", false), [0, 0]);
        let claim = encode_header(true, 0, 2, 1 << 30, true);
        assert_eq!(claim[..2], [0x82, 0x80 | 127]);
        assert_eq!(claim[2..10], (1u64 << 30).to_be_bytes());
        assert_eq!(claim[10..], MASK_KEY);
    }
}
