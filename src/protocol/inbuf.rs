//! A small, growable input buffer shared by the handshake and the frame reader.
//!
//! It starts small and grows only while the peer sends more than it holds: an idle connection
//! (most of a board's connections, most of the time) keeps [`SMALL`] bytes, not its configured
//! size. A read that fills the buffer doubles it for the next read, up to the configured size;
//! once the buffer is empty and the last read was small, it shrinks back before the next read
//! (which may wait for a long time).

use std::io::{self, Read};

/// The size a buffer starts at, and shrinks back to while reads are small.
pub(crate) const SMALL: usize = 512;

/// Bytes read from the socket and not yet consumed: `data[start..end]`.
#[derive(Debug)]
pub(crate) struct InBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// The configured size: reads grow the buffer up to it (a long header beyond it).
    size: usize,
    /// Bytes the last read returned.
    last_read: usize,
}

impl InBuf {
    /// A buffer that grows up to `size` bytes while reads fill it; it starts at
    /// [`SMALL`] bytes (or `size`, if less).
    pub(crate) fn new(size: usize) -> Self {
        let first = size.min(SMALL);
        InBuf { data: vec![0; first], start: 0, end: 0, size, last_read: 0 }
    }

    /// The unconsumed bytes.
    pub(crate) fn available(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Whether a line ended (a `\n` arrived) among the unconsumed bytes after the first `seen`
    /// of them. The HTTP head readers parse again only then: a head is complete, or newly
    /// malformed, only at a line's end, so a peer that sends its head a byte at a time costs
    /// one parse per line, not one per byte. `seen` stays right when [`fill`](Self::fill)
    /// compacts: the unconsumed bytes move in order.
    pub(crate) fn line_ended_after(&self, seen: usize) -> bool {
        self.available().get(seen..).is_some_and(|new| new.contains(&b'\n'))
    }

    /// Marks `n` bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The buffer's current size.
    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    /// The configured size, which reads grow the buffer to.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Reads more bytes from `r`. Compacts first, and grows up to `max` bytes if the
    /// unconsumed part already fills the buffer; an empty buffer that grew shrinks back to
    /// [`SMALL`] first if the last read was small. Returns the number of bytes read (0 at EOF).
    pub(crate) fn fill(&mut self, r: &mut impl Read, max: usize) -> io::Result<usize> {
        if self.end == 0 && self.data.len() > SMALL && self.last_read <= SMALL / 2 {
            self.data.truncate(SMALL.min(self.size));
            self.data.shrink_to_fit();
        }
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < max {
                let grown = (self.data.len() * 2).min(max);
                self.data.resize(grown, 0);
            } else {
                return Err(io::Error::new(io::ErrorKind::OutOfMemory, "input buffer full"));
            }
        }
        let free = self.data.len() - self.end;
        let n = loop {
            match r.read(&mut self.data[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.end += n;
        self.last_read = n;
        // A read that filled the buffer leaves more behind it, likely: room for the next.
        if n == free && self.data.len() < self.size.min(max) {
            let grown = (self.data.len() * 2).min(self.size.min(max));
            self.data.resize(grown, 0);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_end_counts_only_after_the_bytes_seen() {
        let mut b = InBuf::new(64);
        let mut src: &[u8] = b"GET / HTTP/1.1\r\nHo";
        b.fill(&mut src, 64).unwrap();
        assert!(b.line_ended_after(0));
        assert!(!b.line_ended_after(16), "the only line end is among the bytes seen");
        assert!(!b.line_ended_after(100), "past the end: nothing new");
    }

    #[test]
    fn grows_compacts_and_consumes() {
        let mut b = InBuf::new(4);
        let mut src: &[u8] = b"abcdefghij";
        assert_eq!(b.fill(&mut src, 16).unwrap(), 4);
        assert_eq!(b.fill(&mut src, 16).unwrap(), 4); // grew to 8
        assert_eq!(b.available(), b"abcdefgh");
        b.consume(6);
        assert_eq!(b.fill(&mut src, 8).unwrap(), 2); // compacted, no growth needed
        assert_eq!(b.available(), b"ghij");
        assert_eq!(b.capacity(), 8);
        b.consume(4);
        assert!(b.available().is_empty());
        let mut full = InBuf::new(2);
        let mut src: &[u8] = b"xyz";
        full.fill(&mut src, 2).unwrap();
        assert!(full.fill(&mut src, 2).is_err());
    }

    #[test]
    fn starts_small_grows_while_reads_fill_it_and_shrinks_when_reads_are_small() {
        let mut b = InBuf::new(4096);
        assert_eq!(b.capacity(), SMALL);
        let burst = vec![7u8; 10_000];
        let mut src: &[u8] = &burst;
        let mut sizes = Vec::new();
        while b.capacity() < 4096 {
            let n = b.fill(&mut src, 4096).unwrap();
            b.consume(n);
            sizes.push(b.capacity());
        }
        assert_eq!(sizes, [1024, 2048, 4096], "each full read doubles it, up to its size");
        let n = b.fill(&mut src, 4096).unwrap();
        assert_eq!((n, b.capacity()), (4096, 4096), "never beyond its size");
        b.consume(n);
        // Small reads: the empty buffer goes back to SMALL before the next read.
        let mut small: &[u8] = b"ping";
        let n = b.fill(&mut small, 4096).unwrap();
        assert_eq!((n, b.capacity()), (4, 4096), "the read that was small");
        b.consume(n);
        let mut next: &[u8] = b"pong";
        assert_eq!(b.fill(&mut next, 4096).unwrap(), 4);
        assert_eq!(b.capacity(), SMALL);
        assert_eq!(b.available(), b"pong");
    }

    #[test]
    fn a_long_head_grows_beyond_the_size_up_to_its_max() {
        let mut b = InBuf::new(256);
        let head = vec![b'h'; 1000];
        let mut src: &[u8] = &head;
        while b.available().len() < 1000 {
            b.fill(&mut src, 1024).unwrap();
        }
        assert_eq!(b.capacity(), 1024);
    }
}
