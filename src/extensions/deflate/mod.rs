//! permessage-deflate (RFC 7692), written on the public [`Extension`] trait with zlib (the C
//! library, see [`zlib`] for why).
//!
//! Windows are real: `server_max_window_bits` and `client_max_window_bits` (8 to 15) size the
//! compressor's and the decompressor's history, and [`Deflate::window_bits`] limits both
//! directions. Memory (docs/PERFORMANCE.md has the measured RSS per connection): a compressor
//! holds its window four times over (the window twice, and a chain of 2-byte links per byte), a
//! hash table of `2 << (mem_level + 7)` bytes and a symbol buffer of `4 << (mem_level + 6)`
//! bytes, touched only as far as used; a decompressor about 7 KiB and its window. A connection
//! takes a state on its first compressed message; a side without context takeover gives it
//! back after every message. States given back (also at the end of a connection) are reset and kept in a
//! small pool shared by the server's connections, so that a new one is rarely built.
//!
//! CPU: a message of 24 KiB or more whose first 8 KiB shrink by less than a sixteenth (JPEG
//! frames, encrypted or already compressed data) is sent in stored blocks after them, a plain
//! copy, and the level comes back for the next message; the peer's window stays in step.

mod codec;
mod offer;
mod pool;
mod zlib;

use std::sync::Arc;

use codec::{Compressors, Decompressors, Deflater, Inflater, SMALLEST_WINDOW, Shape};
use offer::parse_offer;
use pool::Pool;

use super::extension::{Accepted, ClientExtension, Extension, ExtensionOffer, RSV1};
use crate::handshake::Request;

/// The permessage-deflate extension and its options (Ktor's `Deflate`, plus window and memory
/// sizes for boards).
///
/// ```
/// use syncws::{Config, Deflate, Server};
/// let deflate = Deflate::default().level(3).min_size(256).server_no_context_takeover(true);
/// let server = Server::new(Config::default()).extension(deflate);
/// ```
///
/// On a board with little memory, small windows and a low memory level keep a compressing
/// connection near 64 KiB (see docs/PERFORMANCE.md for the measured figures):
///
/// ```
/// use syncws::Deflate;
/// let board = Deflate::default().window_bits(10).mem_level(2);
/// assert_eq!((board.get_window_bits(), board.get_mem_level()), (10, 2));
/// ```
#[derive(Debug, Clone)]
pub struct Deflate {
    level: u8,
    min_size: usize,
    window_bits: u8,
    mem_level: u8,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    compressors: Arc<Compressors>,
    decompressors: Arc<Decompressors>,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            level: 6,
            min_size: 64,
            window_bits: 15,
            mem_level: DEFAULT_MEM_LEVEL,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            compressors: Arc::new(Pool::new(DEFAULT_POOL)),
            decompressors: Arc::new(Pool::new(DEFAULT_POOL)),
        }
    }
}

/// Idle compressor (and decompressor) states kept for reuse, by default.
const DEFAULT_POOL: usize = 4;
/// zlib's default memory level.
const DEFAULT_MEM_LEVEL: u8 = 8;

impl Deflate {
    /// The compression level.
    pub fn get_level(&self) -> u32 {
        u32::from(self.level)
    }

    /// The size under which messages are sent uncompressed.
    pub fn get_min_size(&self) -> usize {
        self.min_size
    }

    /// The largest window, in bits, this side compresses with and lets its peer compress with.
    pub fn get_window_bits(&self) -> u8 {
        self.window_bits
    }

    /// The compressor's memory level.
    pub fn get_mem_level(&self) -> u8 {
        self.mem_level
    }

    /// Compression level, 0 (store) to 9 (smallest, slowest). Defaults to 6.
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9) as u8;
        self
    }

    /// Messages shorter than this many bytes are sent uncompressed (RFC 7692 allows mixing).
    /// Defaults to 64.
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// The largest LZ77 window, as a power of two, 9 (512 bytes) to 15 (32 KiB; values outside
    /// are clamped), in both directions. Defaults to 15.
    ///
    /// A server compresses with at most this window (less if the client asks with
    /// `server_max_window_bits`) and, when the client offers `client_max_window_bits`, answers
    /// it with this value, so that the client compresses with at most this window too; a
    /// client that does not offer it may use 32 KiB. A client offers `server_max_window_bits`
    /// with this value (below 15) and compresses with at most this window. A compressor's
    /// window costs 4 bytes per byte of window (`window_bits` 10: 4 KiB; 15: 128 KiB), a
    /// decompressor's 1. Smaller windows find fewer matches, so compress less.
    pub fn window_bits(mut self, bits: u8) -> Self {
        self.window_bits = bits.clamp(SMALLEST_WINDOW, 15);
        self
    }

    /// zlib's memory level for the compressor, 1 to 9 (clamped). Defaults to 8. It sizes the
    /// hash table (`2 << (mem_level + 7)` bytes: 64 KiB at 8, 1 KiB at 2) and the buffer of
    /// symbols a compressed block collects (`1 << (mem_level + 6)` of them, 4 bytes each): a
    /// low level costs less memory, finds fewer matches and ends blocks sooner.
    ///
    /// A compressor uses at most `window_bits - 4` (window 9: level 5, 11: level 7, 12: level
    /// 8), whatever is set here: zlib clears the whole hash table each time
    /// the window slides, once per window of input, so a table with many more entries than the
    /// window has bytes costs time (four times the CPU per message at window 9 and level 8) and
    /// finds no more matches.
    pub fn mem_level(mut self, level: u8) -> Self {
        self.mem_level = level.clamp(1, 9);
        self
    }

    /// Whether the server compresses each message on its own (no shared window). Costs
    /// ratio, saves the compressor's memory between messages. Defaults to `false`; turned on
    /// for a connection whose client asks for it. On a [`Client`](crate::Client): whether the
    /// client asks the server for it (frees the client's decompressor between messages).
    pub fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }

    /// How many idle compressor states (and as many decompressor states) are kept for reuse
    /// across the server's connections; a state is reused by a connection that negotiated
    /// the same window, level and memory level. Each idle compressor holds its window and
    /// hash table (about 300 KiB with the defaults); 0 frees every state as soon as it is given
    /// back. Defaults to 4.
    pub fn pool_size(mut self, states: usize) -> Self {
        self.compressors = Arc::new(Pool::new(states));
        self.decompressors = Arc::new(Pool::new(states));
        self
    }

    /// Whether the server asks the client to compress each message on its own, so that the
    /// server's decompressor can be freed between messages. Defaults to `false`; honoured for
    /// a client that offers it. On a [`Client`](crate::Client): whether the client compresses
    /// each message on its own, and says so in its offer (frees the client's compressor
    /// between messages); without it the client still offers it second, for a server that
    /// prefers it.
    pub fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }

    /// The compressing half for a window of `bits` (8: compress only messages that fit 256
    /// bytes, each on its own, as zlib's raw deflate has no 256-byte window).
    fn deflater(&self, bits: u8, no_context: bool) -> Deflater {
        let small = bits < SMALLEST_WINDOW;
        let window_bits = bits.max(SMALLEST_WINDOW);
        Deflater {
            shape: Shape {
                level: self.level,
                window_bits,
                mem_level: mem_level_for(self.mem_level, window_bits),
            },
            min_size: self.min_size,
            max_len: if small { 1 << bits } else { usize::MAX },
            no_context: no_context || small,
            state: None,
            pool: self.compressors.clone(),
        }
    }

    /// The inflating half for a peer that compresses with a window of `bits`.
    fn inflater(&self, bits: u8, no_context: bool) -> Inflater {
        Inflater {
            window_bits: bits.max(SMALLEST_WINDOW),
            no_context,
            state: None,
            pool: self.decompressors.clone(),
        }
    }
}

/// The memory level a compressor with a window of `window_bits` uses: `mem_level`, but at most
/// `window_bits - 4`, a hash table of 8 entries per byte of window (see [`Deflate::mem_level`]).
/// Lower would be faster still on highly repetitive data, but zlib's blocks shrink with the
/// level, which costs compression and, on text, time.
fn mem_level_for(mem_level: u8, window_bits: u8) -> u8 {
    mem_level.min(window_bits.saturating_sub(4))
}

/// A parameter with a window size.
fn bits_param(name: &str, bits: u8) -> (String, Option<String>) {
    (name.to_owned(), Some(bits.to_string()))
}

impl Extension for Deflate {
    fn name(&self) -> &str {
        "permessage-deflate"
    }

    fn accept(&self, offer: &ExtensionOffer, _request: &Request) -> Option<Accepted> {
        let o = parse_offer(offer)?;
        let server_no_context = self.server_no_context_takeover || o.server_no_context_takeover;
        let client_no_context = self.client_no_context_takeover || o.client_no_context_takeover;
        let mut params = Vec::new();
        if server_no_context {
            params.push(("server_no_context_takeover".to_owned(), None));
        }
        if client_no_context {
            params.push(("client_no_context_takeover".to_owned(), None));
        }
        // The server's window: its own setting, or less if the client asks (the answer must
        // then carry it, §7.1.2.1). Without the parameter the client inflates with 32 KiB and
        // reads any smaller window.
        let server_bits = match o.server_max_window_bits {
            Some(asked) => {
                let bits = asked.min(self.window_bits);
                params.push(bits_param("server_max_window_bits", bits));
                bits
            }
            None => self.window_bits,
        };
        // The client's window, which the decompressor keeps: limited to the server's setting
        // when the client says it can be (§7.1.2.2); otherwise it may use 32 KiB.
        let client_bits = match o.client_max_window_bits {
            Some(offered) => {
                let bits = offered.unwrap_or(15).min(self.window_bits);
                if bits < 15 {
                    params.push(bits_param("client_max_window_bits", bits));
                }
                bits
            }
            None => 15,
        };
        let encoder = self.deflater(server_bits, server_no_context);
        let decoder = self.inflater(client_bits, client_no_context);
        Some(Accepted { params, rsv: RSV1, encoder: Box::new(encoder), decoder: Box::new(decoder) })
    }
}

/// The client's side: offers `client_max_window_bits` (so a server may limit the client's
/// window), `server_max_window_bits` when [`Deflate::window_bits`] is below 15, and the context
/// takeover options set on this `Deflate`, plus, unless `client_no_context_takeover` is set, a
/// second offer with `client_no_context_takeover` for a server that prefers it; honours what the
/// server answers (RFC 7692 §7.1).
impl ClientExtension for Deflate {
    fn name(&self) -> &str {
        "permessage-deflate"
    }

    fn offer(&self) -> String {
        let mut offer = "permessage-deflate".to_owned();
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
        }
        if self.window_bits < 15 {
            offer.push_str(&format!("; server_max_window_bits={}", self.window_bits));
        }
        if self.client_no_context_takeover {
            return offer + "; client_no_context_takeover; client_max_window_bits";
        }
        // Context takeover preferred; a second offer tells a server that would rather have the
        // client compress each message on its own that it may ask for it.
        format!(
            "{offer}; client_max_window_bits, {offer}; client_no_context_takeover; client_max_window_bits"
        )
    }

    fn accept_response(&self, response: &ExtensionOffer) -> Result<Accepted, String> {
        let o = parse_offer(response)
            .ok_or_else(|| format!("parameters not allowed: {:?}", response.params()))?;
        // In an answer, client_max_window_bits must carry its value (§7.1.2.2).
        let client_bits = match o.client_max_window_bits {
            Some(None) => return Err("client_max_window_bits without a value".to_owned()),
            Some(Some(bits)) => bits.min(self.window_bits),
            None => self.window_bits,
        };
        let server_bits = match o.server_max_window_bits {
            Some(bits) if self.window_bits < 15 && bits > self.window_bits => {
                return Err(format!(
                    "server_max_window_bits={bits}, more than the {} offered",
                    self.window_bits
                ));
            }
            Some(bits) => bits,
            None => {
                if self.window_bits < 15 {
                    // Every offer limited the server's window: a server that answers without
                    // the limit ignored it, and may use 32 KiB.
                    log::debug!("permessage-deflate: the server ignored server_max_window_bits");
                }
                15
            }
        };
        let encoder =
            self.deflater(client_bits, self.client_no_context_takeover || o.client_no_context_takeover);
        let decoder = self.inflater(server_bits, o.server_no_context_takeover);
        Ok(Accepted { params: Vec::new(), rsv: RSV1, encoder: Box::new(encoder), decoder: Box::new(decoder) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExtensionError;
    use crate::extensions::extension::MessageDecoder;

    fn offer(header: &str) -> ExtensionOffer {
        ExtensionOffer::parse_header(header).remove(0)
    }

    fn round_trip(deflate: &Deflate, header: &str, messages: &[Vec<u8>]) {
        let req = request();
        let mut a = deflate.accept(&offer(header), &req).unwrap();
        for m in messages {
            let mut wire = m.clone();
            let rsv = a.encoder.encode(&mut wire, false).unwrap();
            let back = a.decoder.decode(wire, rsv, 1 << 20).unwrap();
            assert_eq!(&back, m);
        }
    }

    #[test]
    fn compresses_and_inflates_with_and_without_context() {
        let msgs: Vec<Vec<u8>> =
            vec![b"hello hello hello hello".repeat(10), vec![], vec![1; 70_000], b"x".repeat(3)];
        round_trip(&Deflate::default().min_size(0), "permessage-deflate", &msgs);
        round_trip(&Deflate::default().min_size(0), "permessage-deflate; server_no_context_takeover", &msgs);
        round_trip(&Deflate::default().min_size(0), "permessage-deflate; server_max_window_bits=9", &msgs);
    }

    fn request() -> Request {
        Request {
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            path: "/".into(),
            query: None,
            headers: vec![],
            secure: false,
            peer_certificates: Vec::new(),
        }
    }

    /// 4 KiB of noise repeated 8 times: its matches lie 4 KiB back, beyond a 2 KiB window.
    fn far_repeats() -> Vec<u8> {
        let mut x = 0x2545_f491_u32;
        let block: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        block.repeat(8)
    }

    /// A decompressor with a window of `bits`.
    fn inflater(bits: u8) -> Inflater {
        Inflater { window_bits: bits, no_context: false, state: None, pool: Arc::new(Pool::new(0)) }
    }

    /// `len` bytes of noise (xorshift), incompressible.
    fn noise(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn incompressible_messages_go_out_stored_and_the_level_comes_back() {
        let mut a = Deflate::default().min_size(0).accept(&offer("permessage-deflate"), &request()).unwrap();
        let mut peer = inflater(15);
        let text = b"a reading of 21.5 C at the gate; ".repeat(1000);
        for round in 0..3 {
            // Noise: stored after its first 8 KiB, so barely larger than itself.
            let sent = noise(64 * 1024 + round, 7 + round as u32);
            let mut wire = sent.clone();
            assert_eq!(a.encoder.encode(&mut wire, false).unwrap(), RSV1);
            assert!(
                wire.len() > sent.len() && wire.len() < sent.len() + 64,
                "{} for {}",
                wire.len(),
                sent.len()
            );
            assert_eq!(peer.decode(wire, RSV1, 1 << 20).unwrap(), sent);
            // The level is back for the next message: text compresses again.
            let mut wire = text.clone();
            a.encoder.encode(&mut wire, false).unwrap();
            assert!(wire.len() < text.len() / 20, "{} for {}: still stored", wire.len(), text.len());
            assert_eq!(peer.decode(wire, RSV1, 1 << 20).unwrap(), text);
        }
        // Text first and noise after: the probe compresses, so the message is compressed whole.
        let mut mixed = text[..8192].to_vec();
        mixed.extend(noise(32 * 1024, 99));
        let mut wire = mixed.clone();
        a.encoder.encode(&mut wire, false).unwrap();
        assert_eq!(peer.decode(wire, RSV1, 1 << 20).unwrap(), mixed);
        // A short incompressible message is not probed, and still round-trips.
        let short = noise(PROBE_SHORT, 5);
        let mut wire = short.clone();
        a.encoder.encode(&mut wire, false).unwrap();
        assert_eq!(peer.decode(wire, RSV1, 1 << 20).unwrap(), short);
    }

    /// Shorter than the probing threshold.
    const PROBE_SHORT: usize = 24 * 1024 - 1;

    #[test]
    fn a_small_window_gets_a_hash_table_to_match() {
        let level_for = |deflate: Deflate, bits: u8| deflate.deflater(bits, false).shape.mem_level;
        assert_eq!(level_for(Deflate::default(), 15), 8);
        assert_eq!(level_for(Deflate::default().mem_level(9), 15), 9);
        assert_eq!(level_for(Deflate::default(), 12), 8);
        assert_eq!(level_for(Deflate::default().mem_level(9), 12), 8);
        assert_eq!(level_for(Deflate::default(), 11), 7);
        assert_eq!(level_for(Deflate::default(), 9), 5);
        assert_eq!(level_for(Deflate::default(), 8), 5, "8 bits compress with zlib's 9");
        assert_eq!(level_for(Deflate::default().mem_level(2), 10), 2, "a lower level stays");
        // And such a compressor still round-trips every message through a 9-bit peer.
        let mut a = Deflate::default()
            .min_size(0)
            .accept(&offer("permessage-deflate; server_max_window_bits=9"), &request())
            .unwrap();
        let mut peer = inflater(9);
        for _ in 0..3 {
            let mut wire = far_repeats();
            assert_eq!(a.encoder.encode(&mut wire, false).unwrap(), RSV1);
            assert_eq!(peer.decode(wire, RSV1, 1 << 20).unwrap(), far_repeats());
        }
    }

    #[test]
    fn windows_are_real_in_both_directions() {
        let server = Deflate::default().min_size(0).window_bits(11);
        let answer = |header: &str| {
            let a = server.accept(&offer(header), &request()).unwrap();
            let mut params = String::new();
            crate::extensions::extension::format_extension(&mut params, "permessage-deflate", &a.params);
            (params, a)
        };
        // The server's own window: 11 bits (2 KiB), asked or not; the answer says so only
        // when asked (§7.1.2.1).
        for (header, said) in [
            ("permessage-deflate", "permessage-deflate"),
            (
                "permessage-deflate; server_max_window_bits=13",
                "permessage-deflate; server_max_window_bits=11",
            ),
        ] {
            let (params, mut a) = answer(header);
            assert_eq!(params, said);
            let mut wire = far_repeats();
            assert_eq!(a.encoder.encode(&mut wire, false).unwrap(), RSV1);
            // Matches 4 KiB back would compress 32 KiB of noise to about 4 KiB: an 11-bit
            // window cannot see them.
            assert!(
                wire.len() > 30_000,
                "compressed to {} bytes: the window is larger than 2 KiB",
                wire.len()
            );
            assert_eq!(inflater(11).decode(wire, RSV1, 1 << 20).unwrap(), far_repeats());
        }
        // The same message with a 32 KiB window is small.
        let mut a = Deflate::default().min_size(0).accept(&offer("permessage-deflate"), &request()).unwrap();
        let mut wire = far_repeats();
        a.encoder.encode(&mut wire, false).unwrap();
        assert!(wire.len() < 6_000, "{}", wire.len());
        assert_eq!(a.decoder.decode(wire, RSV1, 1 << 20).unwrap(), far_repeats());
        // Windows are real on the inflating side too: a block, then the same block again,
        // which refers 4 KiB back into the previous message; a decompressor with a 2 KiB
        // window no longer has it.
        let mut a = Deflate::default().min_size(0).accept(&offer("permessage-deflate"), &request()).unwrap();
        let (mut first, mut again) = (far_repeats()[..4096].to_vec(), far_repeats()[..4096].to_vec());
        a.encoder.encode(&mut first, false).unwrap();
        a.encoder.encode(&mut again, false).unwrap();
        assert!(again.len() < 100, "{}", again.len());
        let mut small = inflater(11);
        assert_eq!(small.decode(first.clone(), RSV1, 1 << 20).unwrap(), far_repeats()[..4096]);
        let err = small.decode(again.clone(), RSV1, 1 << 20).unwrap_err();
        assert_eq!(err, ExtensionError::InvalidData("inflate: invalid distance too far back".to_owned()));
        let mut large = inflater(12);
        assert_eq!(large.decode(first, RSV1, 1 << 20).unwrap(), far_repeats()[..4096]);
        assert_eq!(large.decode(again, RSV1, 1 << 20).unwrap(), far_repeats()[..4096]);
        // A smaller window asked by the client wins over the server's setting.
        let (params, _) = answer("permessage-deflate; server_max_window_bits=9");
        assert_eq!(params, "permessage-deflate; server_max_window_bits=9");
        // The client's window: limited to 11 when it offers client_max_window_bits, and the
        // server inflates with 11 bits; a client that cannot be limited may use 32 KiB.
        let (params, mut a) = answer("permessage-deflate; client_max_window_bits");
        assert_eq!(params, "permessage-deflate; client_max_window_bits=11");
        let mut client = ClientExtension::accept_response(
            &Deflate::default().min_size(0),
            &offer("permessage-deflate; client_max_window_bits=11"),
        )
        .unwrap();
        let mut wire = far_repeats();
        let rsv = client.encoder.encode(&mut wire, false).unwrap();
        assert!(wire.len() > 30_000, "the client compressed with more than 2 KiB: {} bytes", wire.len());
        assert_eq!(a.decoder.decode(wire, rsv, 1 << 20).unwrap(), far_repeats());
        let (params, mut a) = answer("permessage-deflate; client_max_window_bits=10");
        assert_eq!(params, "permessage-deflate; client_max_window_bits=10");
        let (params, _) = answer("permessage-deflate; client_no_context_takeover");
        assert_eq!(params, "permessage-deflate; client_no_context_takeover");
        // Its decoder reads a 10-bit stream.
        let mut client = ClientExtension::accept_response(
            &Deflate::default().min_size(0),
            &offer("permessage-deflate; client_max_window_bits=10"),
        )
        .unwrap();
        let mut wire = b"abcdefgh".repeat(500);
        let rsv = client.encoder.encode(&mut wire, true).unwrap();
        assert_eq!(a.decoder.decode(wire, rsv, 1 << 20).unwrap(), b"abcdefgh".repeat(500));
    }

    #[test]
    fn a_board_client_limits_the_servers_window() {
        let d = Deflate::default().window_bits(10).mem_level(2);
        assert_eq!(
            d.offer(),
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits, \
             permessage-deflate; server_max_window_bits=10; client_no_context_takeover; client_max_window_bits"
        );
        let answer = |h: &str| ClientExtension::accept_response(&d, &offer(h));
        assert!(answer("permessage-deflate; server_max_window_bits=10").is_ok());
        assert!(answer("permessage-deflate; server_max_window_bits=9; client_max_window_bits=9").is_ok());
        assert!(answer("permessage-deflate").is_ok(), "a server that ignores the limit is read with 32 KiB");
        let err = answer("permessage-deflate; server_max_window_bits=12").err().unwrap();
        assert_eq!(err, "server_max_window_bits=12, more than the 10 offered");
        // Its compressor uses 10 bits even when the server allows 15.
        let mut a = answer("permessage-deflate; server_max_window_bits=10").unwrap();
        let mut wire = far_repeats();
        a.encoder.encode(&mut wire, false).unwrap();
        assert!(wire.len() > 30_000, "{}", wire.len());
        assert_eq!(inflater(10).decode(wire, RSV1, 1 << 20).unwrap(), far_repeats());
        // Out-of-range settings are clamped.
        assert_eq!(Deflate::default().window_bits(3).get_window_bits(), 9);
        assert_eq!(Deflate::default().window_bits(20).get_window_bits(), 15);
        assert_eq!(Deflate::default().mem_level(0).get_mem_level(), 1);
        assert_eq!(Deflate::default().mem_level(12).get_mem_level(), 9);
    }

    #[test]
    fn the_client_offers_and_checks_answers() {
        let d = Deflate::default().min_size(0).client_no_context_takeover(true);
        assert_eq!(d.offer(), "permessage-deflate; client_no_context_takeover; client_max_window_bits");
        assert_eq!(
            ClientExtension::offer(&Deflate::default().server_no_context_takeover(true)),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits, \
             permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"
        );
        let answer = |h: &str| ClientExtension::accept_response(&d, &offer(h));
        for good in [
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=10",
        ] {
            let mut a = answer(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            let mut wire = b"abcabcabcabc".repeat(10);
            let rsv = a.encoder.encode(&mut wire, true).unwrap();
            assert_eq!(a.decoder.decode(wire, rsv, 1000).unwrap(), b"abcabcabcabc".repeat(10));
        }
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; mystery=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert!(answer(bad).is_err(), "{bad}");
        }
        // A 256-byte client window: longer messages go uncompressed.
        let mut a = answer("permessage-deflate; client_max_window_bits=8").unwrap();
        let mut long = vec![7u8; 300];
        assert_eq!(a.encoder.encode(&mut long, false).unwrap(), 0);
        let mut short = vec![7u8; 200];
        assert_eq!(a.encoder.encode(&mut short, false).unwrap(), RSV1);
    }

    #[test]
    fn bombs_stop_at_max_size() {
        let req = request();
        let mut a = Deflate::default().accept(&offer("permessage-deflate"), &req).unwrap();
        let mut wire = vec![0u8; 10 << 20];
        let rsv = a.encoder.encode(&mut wire, false).unwrap();
        assert!(wire.len() < 64 * 1024, "10 MiB of zeros compress to {} bytes", wire.len());
        let err = a.decoder.decode(wire, rsv, 1 << 20).unwrap_err();
        assert_eq!(err, ExtensionError::TooLarge { max: 1 << 20 });
        // A connection ends after a decoding error (1009, 1007): garbage goes to a fresh one.
        let mut a = Deflate::default().accept(&offer("permessage-deflate"), &req).unwrap();
        let err = a.decoder.decode(vec![0xff, 0xff, 0xff], RSV1, 1 << 20).unwrap_err();
        assert!(matches!(err, ExtensionError::InvalidData(_)), "{err:?}");
    }
}
