//! permessage-deflate (RFC 7692): raw deflate, one sync flush per message, the 4-byte tail
//! `00 00 ff ff` taken off when sending and put back when receiving.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// Compresses one message with a fresh context (no takeover): what a test sends with RSV1.
/// Panics if flate2 fails.
pub fn compress(data: &[u8]) -> Vec<u8> {
    Deflater::new().compress(data).expect("deflate")
}

/// The sending half: one compression context, kept across messages unless reset.
#[derive(Debug)]
pub struct Deflater(Compress);

impl Deflater {
    /// A fresh context, default level, full window.
    pub fn new() -> Deflater {
        Deflater(Compress::new(Compression::default(), false))
    }

    /// The compressed payload of one message, tail removed.
    pub fn compress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let c = &mut self.0;
        let before = c.total_in();
        let mut out = Vec::with_capacity(data.len() + 64);
        loop {
            let used = (c.total_in() - before) as usize;
            c.compress_vec(&data[used..], &mut out, FlushCompress::Sync).map_err(io::Error::other)?;
            // Done when all input is in and the flush had room to finish.
            if (c.total_in() - before) as usize == data.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        if !out.ends_with(&TAIL) {
            return Err(io::Error::other("a sync flush must end in 00 00 ff ff"));
        }
        out.truncate(out.len() - TAIL.len());
        Ok(out)
    }

    /// Forgets the context (`client_no_context_takeover`).
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

impl Default for Deflater {
    fn default() -> Deflater {
        Deflater::new()
    }
}

/// The receiving half: one decompression context, kept across messages.
#[derive(Debug)]
pub struct Inflater(Decompress);

impl Inflater {
    /// A fresh context, full window.
    pub fn new() -> Inflater {
        Inflater(Decompress::new(false))
    }

    /// The message whose compressed payload (tail removed) is `data`; the output grows as
    /// needed.
    pub fn inflate(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let d = &mut self.0;
        let input = [data, &TAIL].concat();
        let before = d.total_in();
        let mut out = Vec::with_capacity(data.len() * 4 + 1024);
        loop {
            let (used, produced) = ((d.total_in() - before) as usize, out.len());
            let status = d
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .map_err(io::Error::other)?;
            let room = out.len() < out.capacity();
            if (d.total_in() - before) as usize == input.len() && room {
                return Ok(out);
            }
            if status == Status::StreamEnd {
                // A final block: what follows it is not deflate; the next message starts afresh.
                d.reset(false);
                return Ok(out);
            }
            if room && (d.total_in() - before) as usize == used && out.len() == produced {
                return Err(io::Error::other("inflate made no progress"));
            }
            out.reserve(out.capacity());
        }
    }
}

impl Default for Inflater {
    fn default() -> Inflater {
        Inflater::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_context_takeover_and_any_ratio() {
        let (mut z, mut i) = (Deflater::new(), Inflater::new());
        let text = b"compress me, compress me! ".repeat(40);
        let first = z.compress(&text).unwrap();
        let second = z.compress(&text).unwrap();
        assert!(second.len() < first.len(), "the second refers to the first");
        assert_eq!(i.inflate(&first).unwrap(), text);
        assert_eq!(i.inflate(&second).unwrap(), text);
        // A thousandfold ratio outgrows any first guess of the output size.
        let zeros = vec![0u8; 4 << 20];
        assert_eq!(Inflater::new().inflate(&compress(&zeros)).unwrap(), zeros);
        // Incompressible data grows a little.
        let noise: Vec<u8> = (0..100_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(Inflater::new().inflate(&compress(&noise)).unwrap(), noise);
        assert_eq!(Inflater::new().inflate(&compress(b"")).unwrap(), b"");
    }

    #[test]
    fn corrupt_input_is_an_error() {
        assert!(Inflater::new().inflate(&[0xff, 0xfe, 0xfd, 0x00, 0x13]).is_err());
    }
}
