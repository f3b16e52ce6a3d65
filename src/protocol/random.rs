//! Random bytes from the kernel's cryptographic generator, for masking keys (RFC 6455 §5.3:
//! "derived from a strong source of entropy") and handshake nonces (§4.1).
//!
//! `getrandom(2)` where the kernel has it (Linux 3.17 on), without blocking; `/dev/urandom`
//! when it fails for any reason: an older kernel (boards still run them), a seccomp filter, or
//! a generator not seeded yet early at boot (where `getrandom` would block a sender for as long
//! as that takes, and urandom answers at once). Masking keys are taken from a small per-writer
//! batch, so that one system call serves [`KEYS_PER_BATCH`] frames: each key is still fresh
//! kernel randomness, used once.

use std::io::{self, Read};

/// Fills `buf` with random bytes from the kernel.
///
/// # Errors
/// Only when neither `getrandom(2)` nor `/dev/urandom` works (a broken system).
pub(crate) fn fill(buf: &mut [u8]) -> io::Result<()> {
    match sys::getrandom(buf) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            std::fs::File::open("/dev/urandom")?.read_exact(buf)
        }
        other => other,
    }
}

/// Keys taken from one batch of random bytes.
pub(crate) const KEYS_PER_BATCH: usize = 32;

/// Masking keys for one writer: each one four fresh random bytes, read from the kernel
/// [`KEYS_PER_BATCH`] at a time.
pub(crate) struct MaskKeys {
    batch: [u8; 4 * KEYS_PER_BATCH],
    /// Keys of `batch` already used.
    used: usize,
}

impl std::fmt::Debug for MaskKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print keys.
        f.debug_struct("MaskKeys").finish_non_exhaustive()
    }
}

impl Default for MaskKeys {
    fn default() -> Self {
        MaskKeys { batch: [0; 4 * KEYS_PER_BATCH], used: KEYS_PER_BATCH }
    }
}

impl MaskKeys {
    /// The next key.
    ///
    /// # Errors
    /// When no random source works ([`fill`]): the frame must not go out with a predictable
    /// key, so the caller fails the connection.
    pub(crate) fn next_key(&mut self) -> io::Result<[u8; 4]> {
        if self.used == KEYS_PER_BATCH {
            fill(&mut self.batch)?;
            self.used = 0;
        }
        let at = 4 * self.used;
        self.used += 1;
        let key = [self.batch[at], self.batch[at + 1], self.batch[at + 2], self.batch[at + 3]];
        // A used key is not left in memory.
        self.batch[at..at + 4].fill(0);
        Ok(key)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
mod sys {
    use std::io;

    /// `getrandom(2)` through `syscall(2)`, so that a C library without the wrapper (old
    /// glibc, old musl) does not matter; `GRND_NONBLOCK`: fails with `EAGAIN` rather than wait
    /// for the generator's first seeding, and with `ENOSYS` on kernels without it.
    pub(super) fn getrandom(buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`, a live,
            // writable slice borrowed for the call.
            let n = unsafe {
                libc::syscall(libc::SYS_getrandom, rest.as_mut_ptr(), rest.len(), libc::GRND_NONBLOCK)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            done += n as usize;
        }
        Ok(())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    use std::io;

    /// Elsewhere `/dev/urandom` serves.
    pub(super) fn getrandom(_: &mut [u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_batches_refill() {
        let mut keys = MaskKeys::default();
        let all: Vec<[u8; 4]> = (0..3 * KEYS_PER_BATCH).map(|_| keys.next_key().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        // 96 random 32-bit keys: a collision has a chance of about 1 in 10^6.
        assert!(distinct.len() >= all.len() - 1, "{} distinct of {}", distinct.len(), all.len());
        assert!(all.iter().any(|k| *k != [0; 4]));
    }

    #[test]
    fn urandom_and_getrandom_both_fill() {
        let mut a = [0u8; 64];
        fill(&mut a).unwrap();
        let mut b = [0u8; 64];
        std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut b).unwrap();
        assert_ne!(a, [0; 64]);
        assert_ne!(a, b);
    }
}
