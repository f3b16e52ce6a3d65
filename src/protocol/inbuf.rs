//! A small, growable input buffer shared by the handshake and the frame reader.

use std::io::{self, Read};

/// Bytes read from the socket and not yet consumed: `data[start..end]`.
#[derive(Debug)]
pub(crate) struct InBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl InBuf {
    /// A buffer of `capacity` bytes (allocated now: it is the connection's read buffer).
    pub(crate) fn new(capacity: usize) -> Self {
        InBuf { data: vec![0; capacity], start: 0, end: 0 }
    }

    /// The unconsumed bytes.
    pub(crate) fn available(&self) -> &[u8] {
        &self.data[self.start..self.end]
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

    /// The buffer's size.
    pub(crate) fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Reads more bytes from `r`, compacting first and growing up to `max` bytes if the
    /// unconsumed part already fills the buffer. Returns the number of bytes read (0 at EOF).
    pub(crate) fn fill(&mut self, r: &mut impl Read, max: usize) -> io::Result<usize> {
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
        let n = loop {
            match r.read(&mut self.data[self.end..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.end += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
