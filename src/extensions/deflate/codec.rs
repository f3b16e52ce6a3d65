//! The compressing and inflating halves of one connection's permessage-deflate, on zlib.

use std::sync::Arc;

use super::pool::Pool;
use super::zlib::{Compressor, Decompressor};
use crate::error::ExtensionError;
use crate::extensions::extension::{MessageDecoder, MessageEncoder, RSV1};

/// The bytes a sync flush ends with, removed before sending and restored before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest window of zlib's raw deflate: it refuses 8 bits (256 bytes), and a zlib peer
/// told 8 may compress with 9, so decompressors keep at least 9.
pub(super) const SMALLEST_WINDOW: u8 = 9;

/// The settings a compressor is built with; pooled states are reused only with equal settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) level: u8,
    pub(super) window_bits: u8,
    pub(super) mem_level: u8,
}

impl Shape {
    fn build(self) -> Result<Compressor, ExtensionError> {
        Compressor::new(self.level, self.window_bits.max(SMALLEST_WINDOW), self.mem_level).ok_or_else(|| {
            ExtensionError::Failed(format!("deflate: zlib cannot start a compressor for {self:?}"))
        })
    }
}

/// Idle compressors, by their settings.
pub(super) type Compressors = Pool<Shape, Compressor>;
/// Idle decompressors, by their window bits.
pub(super) type Decompressors = Pool<u8, Decompressor>;

/// The compressing half, on the write loop.
pub(super) struct Deflater {
    pub(super) shape: Shape,
    pub(super) min_size: usize,
    /// Longest message compressed: a 256-byte window (8 bits) is honoured by compressing only
    /// messages that fit it, each on its own.
    pub(super) max_len: usize,
    pub(super) no_context: bool,
    pub(super) state: Option<Compressor>,
    pub(super) pool: Arc<Compressors>,
}

impl Deflater {
    fn give_back(&mut self) {
        if let Some(mut c) = self.state.take() {
            c.reset();
            self.pool.give(self.shape, c);
        }
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl MessageEncoder for Deflater {
    fn encode(&mut self, payload: &mut Vec<u8>, _text: bool) -> Result<u8, ExtensionError> {
        if payload.len() < self.min_size || payload.len() > self.max_len {
            return Ok(0);
        }
        if payload.is_empty() {
            // An empty stored block, as RFC 7692 §7.2.3.6 sends an empty message: zlib emits
            // nothing for a flush without input right after another flush. The stream stays
            // byte-aligned, as after every message.
            payload.push(0x00);
            return Ok(RSV1);
        }
        let c = match &mut self.state {
            Some(c) => c,
            None => {
                let shape = self.shape;
                self.state.insert(self.pool.take(&shape, || shape.build())?)
            }
        };
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let level = self.shape.level;
        if level == 0 || payload.len() < PROBE_FROM {
            compress_into(c, payload, &mut out)?;
        } else {
            // The first PROBE bytes tell whether the message compresses at all (JPEG frames,
            // encrypted or already compressed data do not): if they shrink by less than a
            // sixteenth, the rest goes out in stored blocks, a plain copy, instead of costing
            // the level's full CPU for nothing. The window still takes every byte, so the
            // peer's stays in step; the level comes back for the next message.
            let (probe, rest) = payload.split_at(PROBE);
            compress_into(c, probe, &mut out)?;
            let store = out.len() * 16 >= PROBE * 15;
            let failed = |e: String| ExtensionError::Failed(format!("deflate: {e}"));
            if store {
                c.set_level(0).map_err(failed)?;
            }
            compress_into(c, rest, &mut out)?;
            if store {
                c.set_level(level).map_err(failed)?;
            }
        }
        if !out.ends_with(&TAIL) {
            return Err(ExtensionError::Failed("deflate: the sync flush has no empty block".to_owned()));
        }
        out.truncate(out.len() - TAIL.len());
        if self.no_context {
            self.give_back();
        }
        *payload = out;
        Ok(RSV1)
    }
}

/// Messages this long or longer are probed (see [`Deflater`]'s `encode`).
const PROBE_FROM: usize = 24 * 1024;
/// The bytes compressed first to see whether a message compresses. A message whose first
/// PROBE bytes do not compress at all goes out stored after them even if later parts repeat
/// earlier ones (ratio lost, never data): 8 KiB sees repeats up to 8 KiB apart.
const PROBE: usize = 8 * 1024;

/// Compresses `input` with a sync flush, appending to `out`.
fn compress_into(c: &mut Compressor, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ExtensionError> {
    loop {
        let len = out.len();
        if out.capacity() - len < 64 {
            out.reserve(out.capacity().max(256));
        }
        let room = out.capacity() - len;
        out.resize(len + room, 0);
        let result = c.compress(input, &mut out[len..]);
        let (read, wrote) = result.map_err(|e| ExtensionError::Failed(format!("deflate: {e}")))?;
        out.truncate(len + wrote);
        input = &input[read..];
        // A sync flush is complete once all input is in and a call returned with room to
        // spare (zlib's contract: avail_out != 0).
        if input.is_empty() && wrote < room {
            return Ok(());
        }
        if read == 0 && wrote == 0 {
            return Err(ExtensionError::Failed("deflate: flush made no progress".to_owned()));
        }
    }
}

/// The inflating half, on the read loop.
pub(super) struct Inflater {
    /// The peer's window, at least 9 bits: zlib's compressors use 9 when asked for 8.
    pub(super) window_bits: u8,
    pub(super) no_context: bool,
    pub(super) state: Option<Decompressor>,
    pub(super) pool: Arc<Decompressors>,
}

impl Inflater {
    fn give_back(&mut self) {
        if let Some(mut d) = self.state.take() {
            d.reset();
            self.pool.give(self.window_bits, d);
        }
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl MessageDecoder for Inflater {
    fn decode(&mut self, mut payload: Vec<u8>, rsv: u8, max_size: usize) -> Result<Vec<u8>, ExtensionError> {
        if rsv & RSV1 == 0 {
            return Ok(payload);
        }
        payload.extend_from_slice(&TAIL);
        let d = match &mut self.state {
            Some(d) => d,
            None => {
                let bits = self.window_bits;
                let build = || {
                    Decompressor::new(bits).ok_or_else(|| {
                        ExtensionError::Failed(format!(
                            "inflate: zlib cannot start a {bits}-bit decompressor"
                        ))
                    })
                };
                self.state.insert(self.pool.take(&bits, build)?)
            }
        };
        // Grow the output only as inflation fills it, never past max_size + 1: a small
        // message that inflates to gigabytes fails before it is allocated.
        let limit = max_size.saturating_add(1);
        let mut out = Vec::with_capacity(payload.len().saturating_mul(2).max(64).min(limit));
        let mut input = &payload[..];
        let mut ended = false;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err(ExtensionError::TooLarge { max: max_size });
                }
                out.reserve_exact(out.capacity().min(limit - out.len()));
            }
            let len = out.len();
            let room = out.capacity() - len;
            out.resize(len + room, 0);
            let result = d.decompress(input, &mut out[len..]);
            let step = result.map_err(|e| ExtensionError::InvalidData(format!("inflate: {e}")))?;
            let (read, wrote) = (step.read, step.wrote);
            out.truncate(len + wrote);
            input = &input[read..];
            if step.ended {
                // A final block ends this stream: the next message starts a new one.
                ended = true;
                break;
            }
            // Done once all input is in and a call returned with room to spare.
            if input.is_empty() && wrote < room {
                break;
            }
            if read == 0 && wrote == 0 {
                return Err(ExtensionError::InvalidData("inflate: stream makes no progress".to_owned()));
            }
        }
        if out.len() > max_size {
            return Err(ExtensionError::TooLarge { max: max_size });
        }
        if self.no_context || ended {
            self.give_back();
        }
        Ok(out)
    }
}
