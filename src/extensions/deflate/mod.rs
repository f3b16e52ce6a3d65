//! permessage-deflate (RFC 7692), written on the public [`Extension`] trait with flate2's
//! pure-Rust backend (miniz_oxide).
//!
//! Memory: a compressor costs about 300 KiB and a decompressor about 45 KiB of heap (see the
//! README for measured RSS). A connection takes one on its first compressed message; a side
//! without context takeover gives it back after every message. States given back (also at the
//! end of a connection) are reset and kept in a small pool shared by the server's connections,
//! so that a new one is rarely built. miniz_oxide builds a new state on the stack (about 90 KiB,
//! more in debug builds) before boxing it, so new states are built on a short-lived thread with
//! a large stack, never on a connection's small one.

use std::sync::{Arc, Mutex};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::extension::{
    Accepted, ClientExtension, Extension, ExtensionOffer, MessageDecoder, MessageEncoder, RSV1,
};
use crate::error::ExtensionError;
use crate::handshake::Request;

/// The bytes a sync flush ends with, removed before sending and restored before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The permessage-deflate extension and its options (Ktor's `Deflate`).
///
/// ```
/// use syncws::{Config, Deflate, Server};
/// let deflate = Deflate::default().level(3).min_size(256).server_no_context_takeover(true);
/// let server = Server::new(Config::default()).extension(deflate);
/// ```
#[derive(Debug, Clone)]
pub struct Deflate {
    level: u32,
    min_size: usize,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    compressors: Arc<Pool<Compress>>,
    decompressors: Arc<Pool<Decompress>>,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            level: 6,
            min_size: 64,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            compressors: Arc::new(Pool::new(DEFAULT_POOL)),
            decompressors: Arc::new(Pool::new(DEFAULT_POOL)),
        }
    }
}

/// Idle compressor (and decompressor) states kept for reuse, by default.
const DEFAULT_POOL: usize = 4;
/// Stack of the thread that builds a new state.
const BUILD_STACK: usize = 4 << 20;

/// Reset states waiting for reuse.
#[derive(Debug)]
struct Pool<T> {
    idle: Mutex<Vec<T>>,
    max: usize,
}

impl<T: Send + 'static> Pool<T> {
    fn new(max: usize) -> Self {
        Pool { idle: Mutex::new(Vec::new()), max }
    }

    /// An idle state, or a new one built by `build` on a thread with a large stack.
    fn take(&self, build: impl FnOnce() -> T + Send + 'static) -> Result<T, ExtensionError> {
        if let Some(state) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(state);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("syncws-deflate-init".to_owned())
            .stack_size(BUILD_STACK)
            .spawn(move || drop(tx.send(build())));
        match spawned.map(|h| (h.join(), rx.recv())) {
            Ok((Ok(()), Ok(state))) => Ok(state),
            _ => Err(ExtensionError::Failed("cannot start a thread to build deflate state".to_owned())),
        }
    }

    /// Keeps a state that the caller has reset, unless the pool is full.
    fn give(&self, state: T) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max {
            idle.push(state);
        }
    }
}

impl Deflate {
    /// The compression level.
    pub fn get_level(&self) -> u32 {
        self.level
    }

    /// The size under which messages are sent uncompressed.
    pub fn get_min_size(&self) -> usize {
        self.min_size
    }

    /// Compression level, 0 (store) to 9 (smallest, slowest). Defaults to 6.
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        // Pooled compressors carry their level.
        self.compressors = Arc::new(Pool::new(self.compressors.max));
        self
    }

    /// Messages shorter than this many bytes are sent uncompressed (RFC 7692 allows mixing).
    /// Defaults to 64.
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
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
    /// across the server's connections. Each idle compressor holds about 300 KiB; 0 frees every
    /// state as soon as it is given back. Defaults to 4.
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
}

/// What one offer asks for, once validated.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Validates an offer's parameters (RFC 7692 §7.1): each at most once, known names only,
/// window bits 8 to 15. `None` declines the offer.
fn parse_offer(offer: &ExtensionOffer) -> Option<Offer> {
    let mut o = Offer::default();
    for (name, value) in offer.params() {
        let value = value.as_deref();
        match name.as_str() {
            "server_no_context_takeover" if !o.server_no_context_takeover && value.is_none() => {
                o.server_no_context_takeover = true;
            }
            "client_no_context_takeover" if !o.client_no_context_takeover && value.is_none() => {
                o.client_no_context_takeover = true;
            }
            "server_max_window_bits" if o.server_max_window_bits.is_none() => {
                o.server_max_window_bits = Some(window_bits(value?)?);
            }
            "client_max_window_bits" if o.client_max_window_bits.is_none() => {
                o.client_max_window_bits = Some(value.map(window_bits).map_or(Some(None), |b| b.map(Some))?);
            }
            _ => return None,
        }
    }
    Some(o)
}

fn window_bits(v: &str) -> Option<u8> {
    if v.len() > 2 || v.starts_with('0') {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
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
        // miniz_oxide always uses a 32 KiB window. A smaller server window is still honoured:
        // a message no longer than the window, compressed on its own, never refers further
        // back than the window; longer messages go uncompressed.
        let max_compressed_len = match o.server_max_window_bits {
            Some(bits) => {
                params.push(("server_max_window_bits".to_owned(), Some(bits.to_string())));
                if bits < 15 { 1usize << bits } else { usize::MAX }
            }
            None => usize::MAX,
        };
        let encoder = Deflater {
            level: self.level,
            min_size: self.min_size,
            max_len: max_compressed_len,
            no_context: server_no_context || max_compressed_len != usize::MAX,
            state: None,
            pool: self.compressors.clone(),
        };
        let decoder =
            Inflater { no_context: client_no_context, state: None, pool: self.decompressors.clone() };
        Some(Accepted { params, rsv: RSV1, encoder: Box::new(encoder), decoder: Box::new(decoder) })
    }
}

/// The client's side: offers `client_max_window_bits` (so a server may limit the client's
/// window) and the context takeover options set on this `Deflate`, plus, unless
/// `client_no_context_takeover` is set, a second offer with `client_no_context_takeover`
/// for a server that prefers it; honours what the server answers (RFC 7692 §7.1).
impl ClientExtension for Deflate {
    fn name(&self) -> &str {
        "permessage-deflate"
    }

    fn offer(&self) -> String {
        let mut offer = "permessage-deflate".to_owned();
        if self.server_no_context_takeover {
            offer.push_str("; server_no_context_takeover");
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
            Some(Some(bits)) => bits,
            None => 15,
        };
        // The client's window is the one it compresses with: with miniz_oxide's 32 KiB window, a
        // smaller one is honoured by compressing only messages that fit it, each on its own.
        let max_len = if client_bits < 15 { 1usize << client_bits } else { usize::MAX };
        let encoder = Deflater {
            level: self.level,
            min_size: self.min_size,
            max_len,
            no_context: self.client_no_context_takeover
                || o.client_no_context_takeover
                || max_len != usize::MAX,
            state: None,
            pool: self.compressors.clone(),
        };
        // Inflating with a 32 KiB window reads any smaller window the server uses.
        let decoder = Inflater {
            no_context: o.server_no_context_takeover,
            state: None,
            pool: self.decompressors.clone(),
        };
        Ok(Accepted { params: Vec::new(), rsv: RSV1, encoder: Box::new(encoder), decoder: Box::new(decoder) })
    }
}

/// The compressing half, on the write loop.
struct Deflater {
    level: u32,
    min_size: usize,
    /// Longest message compressed (a window smaller than 32 KiB was negotiated).
    max_len: usize,
    no_context: bool,
    state: Option<Compress>,
    pool: Arc<Pool<Compress>>,
}

impl Deflater {
    fn give_back(&mut self) {
        if let Some(mut c) = self.state.take() {
            c.reset();
            self.pool.give(c);
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
        if self.state.is_none() {
            let level = Compression::new(self.level);
            self.state = Some(self.pool.take(move || Compress::new(level, false))?);
        }
        let c = self.state.as_mut().expect("state was just set");
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = &payload[..];
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let (before_in, before_out) = (c.total_in(), c.total_out());
            c.compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| ExtensionError::Failed(format!("deflate: {e}")))?;
            input = &input[(c.total_in() - before_in) as usize..];
            // The sync flush is complete when all input is in and the output ends with its
            // empty stored block. (miniz_oxide can return before that with room to spare.)
            if input.is_empty() && out.len() < out.capacity() && out.ends_with(&TAIL) {
                break;
            }
            if c.total_in() == before_in && c.total_out() == before_out && out.len() < out.capacity() {
                return Err(ExtensionError::Failed("deflate: flush made no progress".to_owned()));
            }
        }
        out.truncate(out.len() - TAIL.len());
        if self.no_context {
            self.give_back();
        }
        *payload = out;
        Ok(RSV1)
    }
}

/// The inflating half, on the read loop.
struct Inflater {
    no_context: bool,
    state: Option<Decompress>,
    pool: Arc<Pool<Decompress>>,
}

impl Inflater {
    fn give_back(&mut self) {
        if let Some(mut d) = self.state.take() {
            d.reset(false);
            self.pool.give(d);
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
        if self.state.is_none() {
            self.state = Some(self.pool.take(|| Decompress::new(false))?);
        }
        let d = self.state.as_mut().expect("state was just set");
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
            let (before_in, before_out) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|e| ExtensionError::InvalidData(format!("inflate: {e}")))?;
            input = &input[(d.total_in() - before_in) as usize..];
            let progressed = d.total_in() != before_in || d.total_out() != before_out;
            if status == Status::StreamEnd {
                // A final block ends this stream: the next message starts a new one.
                ended = true;
                break;
            }
            // Done once all input is in and a call with room to spare produced nothing more.
            if input.is_empty() && !progressed && out.len() < out.capacity() {
                break;
            }
            if !progressed && out.len() < out.capacity() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(header: &str) -> ExtensionOffer {
        ExtensionOffer::parse_header(header).remove(0)
    }

    #[test]
    fn offer_validation() {
        let ok = |h: &str| parse_offer(&offer(h));
        assert_eq!(ok("permessage-deflate"), Some(Offer::default()));
        assert_eq!(
            ok("permessage-deflate; server_max_window_bits=10").unwrap().server_max_window_bits,
            Some(10)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits").unwrap().client_max_window_bits,
            Some(None)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits=9").unwrap().client_max_window_bits,
            Some(Some(9))
        );
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; mystery",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    fn round_trip(deflate: &Deflate, header: &str, messages: &[Vec<u8>]) {
        let req = Request {
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            path: "/".into(),
            query: None,
            headers: vec![],
            secure: false,
            peer_certificates: Vec::new(),
        };
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
        let req = Request {
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            path: "/".into(),
            query: None,
            headers: vec![],
            secure: false,
            peer_certificates: Vec::new(),
        };
        let mut a = Deflate::default().accept(&offer("permessage-deflate"), &req).unwrap();
        let mut wire = vec![0u8; 10 << 20];
        let rsv = a.encoder.encode(&mut wire, false).unwrap();
        assert!(wire.len() < 64 * 1024, "10 MiB of zeros compress to {} bytes", wire.len());
        let err = a.decoder.decode(wire, rsv, 1 << 20).unwrap_err();
        assert_eq!(err, ExtensionError::TooLarge { max: 1 << 20 });
        let err = a.decoder.decode(vec![0xff, 0xff, 0xff], RSV1, 1 << 20).unwrap_err();
        assert!(matches!(err, ExtensionError::InvalidData(_)), "{err:?}");
    }
}
