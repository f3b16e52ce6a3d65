//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default; not part
//! of the API and exempt from semver).
//!
//! Each function feeds arbitrary bytes to the code the server and the client run on their
//! input, through the same functions they call (only the socket is replaced: by an in-memory
//! reader, or by a Unix socket pair for the read loop), and asserts the invariants a fuzz
//! target checks beyond "no panic": limits hold, a parse error comes back as an `Err`, what
//! the server writes is HTTP a client can read. A broken invariant panics, which libFuzzer
//! reports as a crash. See docs/RELIABILITY.md, "Fuzzing".

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};

use crate::connection::clock::Clock;
use crate::connection::read_loop::{Deliver, Ending, Framing, ReadLoop};
use crate::connection::settings::Settings;
use crate::connection::shared::{Conn, Schedule, next_id};
use crate::extensions::{ClientExtension, Extension, ExtensionOffer, client_negotiated, negotiate};
use crate::handshake::client::{ResponseFailure, check_upgrade, read_response};
use crate::handshake::head::{ReadFailure, read_request};
use crate::handshake::key::accept_key;
use crate::handshake::{HttpResponse, Request, upgrade};
use crate::protocol::inbuf::InBuf;
use crate::protocol::read::FrameReader;
use crate::protocol::rules::{FrameRules, IncomingMasks};
use crate::protocol::{CloseCode, Frame, Message, Opcode};
use crate::server::route::{Route, Router};
use crate::transport::Stream;
use crate::{CloseReason, Error, Handler, RawHandler, Session};

/// The peer address the fuzzed connections pretend to come from.
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9);

/// Longest byte stream [`frames`] sends through its socket pair (the writer must not block:
/// the reader runs on the same thread, after it).
pub const MAX_FRAME_INPUT: usize = 16 * 1024;

/// The configuration a fuzzed read loop runs with (what `Config` and `ClientConfig` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Masking of incoming frames: 0 required (a server), 1 forbidden (a client), else either.
    pub masks: u8,
    /// Largest data frame payload.
    pub max_frame_size: usize,
    /// Largest reassembled (and decoded) message.
    pub max_message_size: usize,
    /// Initial read buffer size.
    pub read_buffer_size: usize,
    /// A raw route: frames go to the handler unassembled.
    pub raw: bool,
    /// permessage-deflate negotiated (RSV1 allowed, messages inflated).
    pub deflate: bool,
    /// With `deflate`: the peer compresses each message on its own (no context takeover).
    pub no_context: bool,
}

impl FrameLimits {
    /// Small limits chosen by four bytes: flags, frame size, message size, buffer size.
    pub fn from_bytes(b: [u8; 4]) -> FrameLimits {
        FrameLimits {
            masks: b[0] & 3,
            raw: b[0] & 4 != 0,
            deflate: b[0] & 8 != 0,
            no_context: b[0] & 16 != 0,
            max_frame_size: usize::from(b[1]) * 8,
            max_message_size: usize::from(b[2]) * 16,
            // Config::read_buffer_size is at least 256.
            read_buffer_size: 256 + usize::from(b[3]),
        }
    }
}

/// What [`frames`] saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FramesOutcome {
    /// Messages delivered (message-level connections).
    pub messages: usize,
    /// Frames delivered (raw connections).
    pub frames: usize,
    /// The close frame the peer sent, if the loop ended on one.
    pub close: Option<(u16, String)>,
    /// The error the connection failed with, if it did (displayed).
    pub failed: Option<String>,
}

/// Splits a fuzz input into [`FrameLimits`] (its first four bytes) and the byte stream, and
/// runs [`frames`].
pub fn frames_from_bytes(data: &[u8]) -> FramesOutcome {
    let Some((head, stream)) = data.split_first_chunk::<4>() else { return FramesOutcome::default() };
    frames(stream, &FrameLimits::from_bytes(*head))
}

/// Runs a connection's real read loop (`connection::read_loop::ReadLoop`, with the frame
/// reader, the frame rules, UTF-8 checks, close payload parsing and, with `deflate`, the
/// permessage-deflate decoder a server negotiates) over `data` as the peer's byte stream,
/// ended by EOF. Only the first [`MAX_FRAME_INPUT`] bytes are sent.
///
/// The stream goes through a Unix socket pair, its reading end wrapped as the `TcpStream` the
/// connection's `Stream` holds (reads are `read(2)` either way). Nothing drains the control
/// lane: its receiver is dropped, so pongs are refused at once instead of blocking.
///
/// # Panics
/// When an invariant breaks: a delivered message longer than `max_message_size`, a data
/// frame longer than `max_frame_size`, a control frame over 125 bytes, a close frame with a
/// code that may not be sent or a reason over 123 bytes.
pub fn frames(data: &[u8], limits: &FrameLimits) -> FramesOutcome {
    let data = &data[..data.len().min(MAX_FRAME_INPUT)];
    let (reader, mut writer) = UnixStream::pair().expect("socketpair");
    writer.write_all(data).expect("the socket pair takes the whole input");
    drop(writer);
    let stream = Arc::new(Stream::plain(TcpStream::from(OwnedFd::from(reader))));
    let masks = match limits.masks {
        0 => IncomingMasks::Required,
        1 => IncomingMasks::Forbidden,
        _ => IncomingMasks::Either,
    };
    let settings = Arc::new(Settings {
        rules: FrameRules { masks, max_frame_size: limits.max_frame_size },
        max_message_size: limits.max_message_size,
        mask_outgoing: masks == IncomingMasks::Forbidden,
        client: masks == IncomingMasks::Forbidden,
        queue_capacity: 1,
        direct_writes: false,
        read_buffer_size: limits.read_buffer_size,
        handler_stack_size: 64 * 1024,
        ping_period: None,
        timeout: std::time::Duration::from_secs(1),
        handshake_timeout: std::time::Duration::from_secs(1),
        close_timeout: std::time::Duration::from_secs(1),
        #[cfg(feature = "serde")]
        converter: None,
    });
    let (conn, ctrl_rx) = Conn::new(next_id(), PEER, &stream, settings, Clock::new(), Arc::new(NoTimer));
    drop(ctrl_rx);
    let conn = Arc::new(conn);
    let framing = if limits.raw {
        Framing { rsv_allowed: 0, decoders: Vec::new(), raw: true }
    } else if limits.deflate {
        let offer = if limits.no_context {
            "permessage-deflate; client_no_context_takeover"
        } else {
            "permessage-deflate"
        };
        let extensions: [Arc<dyn Extension>; 1] = [deflate()];
        let negotiated = negotiate(&extensions, &request_with(vec![("sec-websocket-extensions", offer)]));
        assert_eq!(negotiated.decoders.len(), 1, "the server accepts {offer}");
        Framing { rsv_allowed: negotiated.rsv, decoders: negotiated.decoders, raw: false }
    } else {
        Framing { rsv_allowed: 0, decoders: Vec::new(), raw: false }
    };
    let frames = FrameReader::new(InBuf::new(limits.read_buffer_size));
    let mut sink = Checked { limits: *limits, outcome: FramesOutcome::default() };
    let ending = ReadLoop::new(&stream, frames, &conn, framing).run(&mut sink);
    let mut outcome = sink.outcome;
    match ending {
        Ending::PeerClose(code, reason) => {
            assert!(code == CloseCode::NO_STATUS || code.is_sendable(), "close code {}", code.0);
            assert!(code != CloseCode::NO_STATUS || reason.is_empty());
            assert!(reason.len() <= 123, "close reason of {} bytes", reason.len());
            outcome.close = Some((code.0, reason));
        }
        Ending::Dropped(_) => {}
        Ending::Failed(e) => {
            assert!(!matches!(e, Error::HandlerPanicked), "no handler runs here");
            outcome.failed = Some(e.to_string());
        }
    }
    outcome
}

/// A timer that never fires (the read loop only reschedules).
struct NoTimer;

impl Schedule for NoTimer {
    fn schedule(&self, _conn: &Arc<Conn>, _due_ms: u64) {}
}

/// The read loop's sink: checks what it is handed.
struct Checked {
    limits: FrameLimits,
    outcome: FramesOutcome,
}

impl Deliver for Checked {
    fn deliver(&mut self, message: Message) {
        assert!(!self.limits.raw, "a raw route gets frames");
        let len = match &message {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        };
        assert!(len <= self.limits.max_message_size, "message of {len} > {}", self.limits.max_message_size);
        if !self.limits.deflate {
            assert!(self.limits.max_frame_size > 0 || len == 0);
        }
        self.outcome.messages += 1;
    }

    fn deliver_frame(&mut self, frame: Frame) {
        assert!(self.limits.raw, "a message-level route gets messages");
        let len = frame.payload.len();
        match frame.opcode {
            Opcode::Close | Opcode::Ping | Opcode::Pong => assert!(len <= 125, "control frame of {len}"),
            _ => {
                assert!(len <= self.limits.max_frame_size, "frame of {len} > {}", self.limits.max_frame_size)
            }
        }
        assert_eq!(frame.rsv & !0b111, 0);
        self.outcome.frames += 1;
    }
}

/// The shared permessage-deflate extension (its state pools are reused across inputs, as a
/// server's are across connections).
fn deflate() -> Arc<crate::Deflate> {
    static DEFLATE: OnceLock<Arc<crate::Deflate>> = OnceLock::new();
    DEFLATE.get_or_init(|| Arc::new(crate::Deflate::default().min_size(0))).clone()
}

/// A request with `headers` (names lower case, as the head parser makes them).
fn request_with(headers: Vec<(&str, &str)>) -> Request {
    Request {
        remote_addr: PEER,
        path: "/".to_owned(),
        query: None,
        headers: headers.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        secure: false,
        peer_certificates: Vec::new(),
    }
}

/// A reader that hands out at most `chunk` bytes per `read`, then EOF.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(buf.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A handler that does nothing (routes need one; none runs here).
struct Idle;

impl Handler for Idle {
    fn on_message(&mut self, _: &Session, _: Message) {}
    fn on_close(&mut self, _: &Session, _: &CloseReason) {}
}

impl RawHandler for Idle {
    fn on_frame(&mut self, _: &Session, _: Frame) {}
}

/// The subprotocols of the fuzzed server's `/chat` route.
const PROTOCOLS: [&str; 3] = ["chat", "superchat", "v1.json"];
/// The origins a fuzzed server allows, when it checks them.
const ORIGINS: [&str; 2] = ["http://good.example", "https://board.local:8443"];

/// A server's routes: `/chat` (subprotocols, the server's permessage-deflate), `/plain` (no
/// extensions), `/raw`, an HTTP page at `/status`, and with `fallback` a route for any other
/// path.
fn router(fallback: bool) -> &'static Router {
    fn build(fallback: bool) -> Router {
        let mut router = Router::default();
        router.add_extension(deflate());
        router.add("/chat", Route::handler(|| Idle).protocols(PROTOCOLS));
        router.add("/plain", Route::handler(|| Idle).no_extensions());
        router.add("/raw", Route::raw(|| Idle));
        router.add_http("/status", Box::new(|r: &Request| HttpResponse::ok("text/plain", r.path())));
        if fallback {
            router.set_fallback(Route::handler(|| Idle));
        }
        router
    }
    static WITH: OnceLock<Router> = OnceLock::new();
    static WITHOUT: OnceLock<Router> = OnceLock::new();
    if fallback { WITH.get_or_init(|| build(true)) } else { WITHOUT.get_or_init(|| build(false)) }
}

/// What the server answered a fuzzed request with.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// The peer's bytes ended (or failed) before a complete head.
    Ended,
    /// An HTTP answer that is not an upgrade, with its status.
    Http(u16),
    /// `101 Switching Protocols`, with the selected subprotocol and extensions header.
    Upgrade {
        /// The subprotocol selected.
        protocol: Option<String>,
        /// The `Sec-WebSocket-Extensions` answer.
        extensions: String,
    },
}

/// Reads a request head from `data` and answers it as the server's accept path does: the
/// head parser (`handshake::head::read_request`, through a buffer that starts at 256 bytes and
/// a reader that hands out `data[1]`-sized chunks, `max_request_size` from `data[2]`), then
/// the HTTP route, the route lookup, the upgrade checks with or without allowed origins,
/// subprotocol selection, extension negotiation and the 101 answer. `data[0]` picks the
/// options (bit 0: check origins; bit 1: a fallback route).
///
/// # Panics
/// When an answer is not HTTP a client can parse (status and header count), a 101 lacks the
/// right `Sec-WebSocket-Accept`, a subprotocol is selected that the route or the client does
/// not list, a disallowed origin is upgraded, or the extensions answer is one a syncws client
/// that made the same offer would refuse.
pub fn request_head(data: &[u8]) -> RequestOutcome {
    let Some(([flags, chunk, max], head)) = data.split_first_chunk::<3>().map(|(a, b)| (*a, b)) else {
        return RequestOutcome::Ended;
    };
    let origins: Option<Vec<String>> =
        (flags & 1 != 0).then(|| ORIGINS.iter().map(|o| (*o).to_owned()).collect());
    let router = router(flags & 2 != 0);
    let mut reader = Trickle { data: head, chunk: usize::from(chunk).max(1) };
    let mut buf = InBuf::new(256);
    let max_request_size = 256 + usize::from(max) * 32;
    let request = match read_request(&mut reader, &mut buf, max_request_size, PEER) {
        Ok(request) => request,
        Err(ReadFailure::Io(_)) => return RequestOutcome::Ended,
        Err(ReadFailure::Reject(r)) => {
            assert!((400..500).contains(&r.status), "a bad request is the client's error: {}", r.status);
            return RequestOutcome::Http(answered(&r.to_bytes(), r.status));
        }
    };
    assert!(request.path().starts_with('/'), "path {:?}", request.path());
    assert!(request.headers().all(|(k, _)| k.bytes().all(|b| !b.is_ascii_uppercase())));
    // The routing decision, in the order of server::accept's `answer`.
    let upgrading = upgrade::wants_websocket(&request);
    if !upgrading {
        if let Some(page) = router.http(request.path()) {
            let response = page(&request);
            return RequestOutcome::Http(answered(&response.to_bytes(), response.status()));
        }
    }
    let Some(route) = router.find(request.path()) else {
        return RequestOutcome::Http(404);
    };
    if !upgrading {
        let r = upgrade::upgrade_required();
        return RequestOutcome::Http(answered(&r.to_bytes(), r.status));
    }
    let accept = match upgrade::check(&request, origins.as_deref()) {
        Ok(accept) => accept,
        Err(r) => return RequestOutcome::Http(answered(&r.to_bytes(), r.status)),
    };
    if let (Some(allowed), Some(origin)) = (&origins, request.header("origin")) {
        assert!(allowed.iter().any(|a| a.eq_ignore_ascii_case(origin.trim())), "origin {origin:?} upgraded");
    }
    let key = request.header("sec-websocket-key").unwrap_or_default().trim();
    assert_eq!(accept, accept_key(key));
    let protocol = upgrade::select_protocol(&request, &route.protocols);
    if let Some(p) = &protocol {
        assert!(route.protocols.contains(p), "{p:?} is not the route's");
        assert!(request.header_values("sec-websocket-protocol").any(|o| o == p), "{p:?} was not offered");
    }
    let extensions = negotiate(router.extensions_for(&route), &request);
    let response = upgrade::switching_protocols(&accept, protocol.as_deref(), &extensions.header);
    answered(&response, 101);
    if !extensions.header.is_empty() {
        // A syncws client that sent this offer accepts this answer.
        let client: [Arc<dyn ClientExtension>; 1] = [deflate()];
        if let Err(e) = client_negotiated(&client, std::iter::once(extensions.header.as_str())) {
            panic!("a client refuses the answer {:?}: {e}", extensions.header);
        }
    }
    RequestOutcome::Upgrade { protocol, extensions: extensions.header }
}

/// Checks that `bytes` is one complete HTTP/1.1 response with `status`, whose head has as
/// many header lines as it has CRLFs (no line was split or injected); returns the status.
fn answered(bytes: &[u8], status: u16) -> u16 {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut slots);
    let used = match response.parse(bytes) {
        Ok(httparse::Status::Complete(used)) => used,
        other => panic!("unparsable answer {:?}: {other:?}", String::from_utf8_lossy(bytes)),
    };
    assert_eq!(response.code, Some(status));
    let lines = bytes[..used].windows(2).filter(|w| w == b"\r\n").count();
    assert_eq!(lines, response.headers.len() + 2, "{:?}", String::from_utf8_lossy(bytes));
    status
}

/// What [`extension_offer`] negotiated.
#[derive(Debug, PartialEq, Eq)]
pub struct OfferOutcome {
    /// Offers parsed.
    pub offers: usize,
    /// The server's `Sec-WebSocket-Extensions` answer (empty: none accepted).
    pub answer: String,
}

/// Parses `data` (UTF-8, lossily, as the head parser makes header values) as a
/// `Sec-WebSocket-Extensions` header: the offer parser (`ExtensionOffer::parse_header` and
/// its strict form), permessage-deflate's offer validation on both sides, and negotiation.
///
/// # Panics
/// When a parsed name or parameter is not a lower-case token, an offer does not parse back
/// to itself once formatted, the strict parser accepts what the lenient one changes, the
/// server's answer is one a syncws client would refuse, or the negotiated codecs do not
/// carry a message both ways (server to client and client to server).
pub fn extension_offer(data: &[u8]) -> OfferOutcome {
    let value = String::from_utf8_lossy(data);
    let offers = ExtensionOffer::parse_header(&value);
    for offer in &offers {
        assert!(is_lower_token(offer.name()), "name {:?}", offer.name());
        for (k, v) in offer.params() {
            assert!(is_lower_token(k), "parameter {k:?}");
            assert!(v.as_deref().is_none_or(|v| !v.is_empty() && !v.contains(['"', ',', ';', ' '])));
        }
        let mut text = String::new();
        crate::extensions::extension::format_extension(&mut text, offer.name(), offer.params());
        assert_eq!(ExtensionOffer::parse_header(&text), std::slice::from_ref(offer), "{text:?}");
        // The client's check of a server's answer: an error, never a panic.
        let _ = ClientExtension::accept_response(deflate().as_ref(), offer);
    }
    if let Ok(strict) = ExtensionOffer::parse_header_strict(&value) {
        assert_eq!(strict, offers, "strict and lenient parses differ");
    }
    let request = request_with(vec![("sec-websocket-extensions", &value)]);
    let extensions: [Arc<dyn Extension>; 1] = [deflate()];
    let mut server = negotiate(&extensions, &request);
    if !server.header.is_empty() {
        let client: [Arc<dyn ClientExtension>; 1] = [deflate()];
        let mut client = match client_negotiated(&client, std::iter::once(server.header.as_str())) {
            Ok(n) => n,
            Err(e) => panic!("a client refuses the answer {:?}: {e}", server.header),
        };
        assert_eq!((server.rsv, client.rsv), (crate::RSV1, crate::RSV1));
        let message = b"fuzzing fuzzing fuzzing fuzzing fuzzing fuzzing fuzzing fuzzing".repeat(9);
        for (encoders, decoders) in
            [(&mut server.encoders, &mut client.decoders), (&mut client.encoders, &mut server.decoders)]
        {
            for _ in 0..2 {
                let mut wire = message.clone();
                let rsv = encoders[0].encode(&mut wire, false).expect("encode");
                let back = decoders[0].decode(wire, rsv, message.len()).expect("decode");
                assert_eq!(back, message);
            }
        }
    }
    OfferOutcome { offers: offers.len(), answer: server.header }
}

fn is_lower_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            (b.is_ascii_alphanumeric() && !b.is_ascii_uppercase()) || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// What [`inflate`] decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InflateOutcome {
    /// Messages inflated.
    pub messages: usize,
    /// Bytes they inflated to, in all.
    pub bytes: usize,
    /// The error that stopped decoding, if one did (displayed).
    pub failed: Option<String>,
}

/// Splits a fuzz input for [`inflate`]: `data[0]` flags (bit 0: no context takeover),
/// `data[1..3]` the limit (little-endian), then messages, each a little-endian `u16` length
/// and that many bytes (the last one takes what is left).
pub fn inflate_from_bytes(data: &[u8]) -> InflateOutcome {
    let Some(([flags, lo, hi], mut rest)) = data.split_first_chunk::<3>().map(|(a, b)| (*a, b)) else {
        return InflateOutcome::default();
    };
    let mut messages = Vec::new();
    while let Some(([a, b], tail)) = rest.split_first_chunk::<2>().map(|(a, b)| (*a, b)) {
        let n = usize::from(u16::from_le_bytes([a, b])).min(tail.len());
        messages.push(&tail[..n]);
        rest = &tail[n..];
    }
    inflate(&messages, usize::from(u16::from_le_bytes([lo, hi])), flags & 1 != 0)
}

/// Inflates `messages` in turn, as one connection's permessage-deflate decoder does (the
/// decoder a server negotiates with `Deflate`, its state kept across messages unless
/// `no_context`), each limited to `max` bytes; stops at the first error, as a connection
/// fails on it.
///
/// # Panics
/// When a decoded message is longer than `max`, or a decoder's output buffer was allocated
/// larger than `max + 1` bytes (the decoder grows it only as inflation fills it).
pub fn inflate(messages: &[&[u8]], max: usize, no_context: bool) -> InflateOutcome {
    let offer =
        if no_context { "permessage-deflate; client_no_context_takeover" } else { "permessage-deflate" };
    let offer = ExtensionOffer::parse_header(offer).remove(0);
    let accepted = Extension::accept(deflate().as_ref(), &offer, &request_with(Vec::new()))
        .expect("the server accepts the offer");
    let mut decoder = accepted.decoder;
    let mut outcome = InflateOutcome::default();
    for message in messages {
        match decoder.decode(message.to_vec(), crate::RSV1, max) {
            Ok(out) => {
                assert!(out.len() <= max, "inflated to {} > {max}", out.len());
                assert!(out.capacity() <= max.saturating_add(1).max(64), "allocated {}", out.capacity());
                outcome.messages += 1;
                outcome.bytes += out.len();
            }
            Err(e) => {
                outcome.failed = Some(e.to_string());
                break;
            }
        }
    }
    outcome
}

/// What the client made of a fuzzed answer.
#[derive(Debug, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// The bytes ended (or failed) before a complete head.
    Ended,
    /// Refused: the answer is not a usable upgrade (displayed error).
    Refused(String),
    /// An upgrade the client accepts, with its subprotocol and extensions header.
    Upgraded {
        /// The subprotocol the server selected.
        protocol: Option<String>,
        /// The extensions the client runs.
        extensions: String,
    },
}

/// The key of the client's fuzzed request (RFC 6455's example key).
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The subprotocols the fuzzed client offers.
pub const CLIENT_PROTOCOLS: [&str; 2] = ["chat", "v1.json"];

/// Reads `data` as a server's answer, as a client does after sending its request (key
/// [`CLIENT_KEY`], subprotocols [`CLIENT_PROTOCOLS`], `Deflate`'s offer): the response reader
/// (`handshake::client::read_response`, a buffer of 64 bytes at first and a reader that hands
/// out `data[0]`-sized chunks, `max_response_size` from `data[1]`; a refusal's body, plain,
/// by length or chunked), the upgrade checks and the extension answer's checks.
///
/// # Panics
/// When a refusal's body exceeds 64 KiB, a response other than 101 is accepted, the bytes
/// after an accepted head are not the frames left in the buffer, or the client accepts a
/// subprotocol it did not offer.
pub fn response_head(data: &[u8]) -> ResponseOutcome {
    let Some(([chunk, max], answer)) = data.split_first_chunk::<2>().map(|(a, b)| (*a, b)) else {
        return ResponseOutcome::Ended;
    };
    let mut reader = Trickle { data: answer, chunk: usize::from(chunk).max(1) };
    let mut buf = InBuf::new(64);
    let max_response_size = 64 + usize::from(max) * 32;
    let response = match read_response(&mut reader, &mut buf, max_response_size) {
        Ok(response) => response,
        Err(ResponseFailure::Io(_)) => return ResponseOutcome::Ended,
        Err(ResponseFailure::Refused(e)) => {
            if let crate::HandshakeError::Status { status, body, .. } = &e {
                assert_ne!(*status, 101);
                assert!(body.len() <= 64 * 1024, "body of {}", body.len());
            }
            return ResponseOutcome::Refused(e.to_string());
        }
    };
    assert_eq!(response.status(), 101);
    let left = buf.available();
    let unread = reader.data;
    assert!(answer.len() >= left.len() + unread.len());
    let consumed = answer.len() - unread.len();
    assert_eq!(left, &answer[consumed - left.len()..consumed], "the bytes after the head stay buffered");
    let protocols: Vec<String> = CLIENT_PROTOCOLS.iter().map(|p| (*p).to_owned()).collect();
    let protocol = match check_upgrade(&response, CLIENT_KEY, &protocols) {
        Ok(p) => p,
        Err(e) => return ResponseOutcome::Refused(e.to_string()),
    };
    if let Some(p) = &protocol {
        assert!(protocols.contains(p), "{p:?} was not offered");
    }
    let client: [Arc<dyn ClientExtension>; 1] = [deflate()];
    let answers = response.headers().filter(|(k, _)| *k == "sec-websocket-extensions").map(|(_, v)| v);
    match client_negotiated(&client, answers) {
        Ok(n) => {
            assert!(n.rsv & !crate::RSV1 == 0);
            ResponseOutcome::Upgraded { protocol, extensions: n.header }
        }
        Err(e) => ResponseOutcome::Refused(e.to_string()),
    }
}

/// What a bridge made of a fuzzed broker stream.
#[cfg(feature = "mqtt")]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MqttOutcome {
    /// Packets decoded before the stream ended or broke the protocol.
    pub packets: usize,
    /// PUBLISHes read past for their size.
    pub skipped: usize,
    /// PUBLISHes whose topic and payload a bridge would deliver.
    pub deliverable: usize,
}

/// Reads `data[1..]` as a broker's byte stream, as a bridge's reading thread does
/// (`mqtt::link::PacketReader`, chunks of `data[0]` bytes, a limit of 64 << (`data[0]` % 12)
/// bytes per packet), and runs each PUBLISH through the topic layout and the envelope as
/// `deliver` does (prefix `p`).
///
/// # Panics
/// When a decoded packet does not encode back to one that decodes the same, or the reader
/// holds more than a packet's limit and 64 KiB while it reads past an oversized PUBLISH.
#[cfg(feature = "mqtt")]
pub fn mqtt_stream(data: &[u8]) -> MqttOutcome {
    use crate::mqtt::link::{Incoming, PacketReader};
    use crate::mqtt::packet::{self, Packet};
    use crate::mqtt::topic::{self, Envelope};
    let Some((&first, stream)) = data.split_first() else { return MqttOutcome::default() };
    let limit = 64usize << (first % 12);
    let mut reader = Trickle { data: stream, chunk: usize::from(first).max(1) };
    let mut packets = PacketReader::default();
    let mut outcome = MqttOutcome::default();
    loop {
        let incoming = match packets.next(&mut reader, limit) {
            Ok(incoming) => incoming,
            Err(_) => return outcome,
        };
        assert!(packets.held() <= limit + 2 + 65_535 + 2 + 16 * 1024 + 5, "held {}", packets.held());
        let packet = match incoming {
            Incoming::SkippedPublish { .. } => {
                outcome.skipped += 1;
                continue;
            }
            Incoming::Packet(p) => p,
        };
        outcome.packets += 1;
        let mut wire = Vec::new();
        packet.encode(&mut wire);
        let header = packet::fixed_header(&wire).expect("encoded").expect("whole");
        assert_eq!(packet::decode(header, &wire[header.len..]).as_ref(), Ok(&packet), "re-encoded");
        if let Packet::Publish(p) = packet {
            let Some(target) = topic::parse("p", &p.topic) else { continue };
            if !target.from_bridge || Envelope::unwrap(p.payload).is_ok() {
                outcome.deliverable += 1;
            }
        }
    }
}
