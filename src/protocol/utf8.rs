//! Incremental UTF-8 validation, so invalid text fails fast even inside a fragment.

use super::error::WireError;

/// Validates a growing buffer, remembering how far it is known to be valid.
#[derive(Debug, Default)]
pub(crate) struct Utf8Check {
    valid_up_to: usize,
}

impl Utf8Check {
    /// Checks the bytes of `buf` not yet checked. An incomplete sequence at the end is
    /// accepted unless `complete` says no more bytes will come.
    pub(crate) fn check(&mut self, buf: &[u8], complete: bool) -> Result<(), WireError> {
        match std::str::from_utf8(&buf[self.valid_up_to..]) {
            Ok(_) => {
                self.valid_up_to = buf.len();
                Ok(())
            }
            Err(e) if e.error_len().is_none() && !complete => {
                self.valid_up_to += e.valid_up_to();
                Ok(())
            }
            Err(_) => Err(WireError::InvalidUtf8),
        }
    }

    pub(crate) fn reset(&mut self) {
        self.valid_up_to = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_code_point_is_fine_until_complete() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut c = Utf8Check::default();
        assert!(c.check(&euro[..1], false).is_ok());
        assert!(c.check(&euro[..2], false).is_ok());
        assert!(c.check(&euro[..2], true).is_err());
        assert!(c.check(euro, true).is_ok());
    }

    #[test]
    fn invalid_byte_fails_before_the_end() {
        let mut c = Utf8Check::default();
        assert!(c.check(b"ok\xff", false).is_err());
        let mut c = Utf8Check::default();
        assert!(c.check(b"\xed\xa0\x80", false).is_err()); // surrogate
    }
}
