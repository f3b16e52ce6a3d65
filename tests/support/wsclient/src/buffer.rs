//! The input side of a client over any byte stream: bytes read and not yet parsed, turned into
//! a response head and then into frames.

use std::io::{self, ErrorKind, Read};

use crate::frame::{self, Frame};

/// Bytes read and not yet parsed, `buf[start..end]`: moved to the front when the end is
/// reached, doubled when a frame does not fit.
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameBuf {
    /// An empty buffer of `capacity` bytes to begin with.
    pub fn new(capacity: usize) -> FrameBuf {
        FrameBuf { buf: vec![0; capacity.max(1)], start: 0, end: 0 }
    }

    /// The bytes read and not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads from `r` until at least `need` bytes are buffered; `UnexpectedEof` at EOF. On a
    /// non-blocking stream, `WouldBlock` keeps what arrived for the next call.
    pub fn fill(&mut self, r: &mut impl Read, need: usize) -> io::Result<()> {
        while self.end - self.start < need {
            if self.buf.len() - self.start < need || self.end == self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < need {
                    let len = need.max(self.buf.len()).saturating_mul(2);
                    self.buf.resize(len, 0);
                }
            }
            match r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The HTTP response head, up to and with its blank line, read from `r` and consumed; the
    /// bytes after it (early frames) stay buffered. `UnexpectedEof` if the stream ends first
    /// (what came is still in [`buffered`](Self::buffered)).
    pub fn read_head(&mut self, r: &mut impl Read) -> io::Result<String> {
        let head = loop {
            if let Some(i) = self.buffered().windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill(r, self.end - self.start + 1)?;
        };
        let text = String::from_utf8_lossy(&self.buffered()[..head]).into_owned();
        self.start += head;
        Ok(text)
    }

    /// The next frame as it came; `UnexpectedEof` at EOF, and on a non-blocking stream
    /// `WouldBlock` keeps what arrived of a frame for the next call.
    pub fn next_frame(&mut self, r: &mut impl Read) -> io::Result<Frame> {
        loop {
            match frame::parse(self.buffered()) {
                Ok((f, used)) => {
                    self.start += used;
                    return Ok(f);
                }
                Err(need) => self.fill(r, need)?,
            }
        }
    }
}
