//! A safe face on zlib's raw deflate and inflate streams (the C library, built from the source
//! that libz-sys bundles): the only unsafe code of permessage-deflate.
//!
//! zlib rather than a pure-Rust port because its memory follows its settings: the hash table is
//! `2 << (mem_level + 7)` bytes and only the window is sized by the window bits, so a compressor
//! at 10 window bits and memory level 2 needs about 12 KiB, where zlib-ng and its Rust port
//! zlib-rs always keep a 128 KiB hash table (docs/PERFORMANCE.md has the measurements).
// The crate denies unsafe code; calling zlib is this module's whole job.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int, c_uint, c_void};
use std::ptr;

use libz_sys as z;

/// One stream's state. zlib's internal state points back at its `z_stream`, so the stream is
/// boxed and never moves.
struct Stream(Box<z::z_stream>);

// SAFETY: the stream owns its state exclusively (nothing else points into it), and zlib keeps
// no thread-local or global state for a stream; it is used by one thread at a time (`&mut`).
unsafe impl Send for Stream {}

/// zlib's allocator: malloc, as zlib's own default (libz-sys's `z_stream` has no null
/// function pointers, so the default cannot be asked for).
extern "C" fn zalloc(_opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void {
    match (items as usize).checked_mul(size as usize) {
        // SAFETY: malloc with any size is sound; zlib handles a null result (Z_MEM_ERROR).
        Some(bytes) => unsafe { libc::malloc(bytes) },
        None => ptr::null_mut(),
    }
}

extern "C" fn zfree(_opaque: *mut c_void, address: *mut c_void) {
    // SAFETY: zlib frees only what zalloc gave it, once.
    unsafe { libc::free(address) }
}

impl Stream {
    fn new() -> Self {
        Stream(Box::new(z::z_stream {
            next_in: ptr::null_mut(),
            avail_in: 0,
            total_in: 0,
            next_out: ptr::null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: ptr::null_mut(),
            state: ptr::null_mut(),
            zalloc,
            zfree,
            opaque: ptr::null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        }))
    }

    /// Runs `step` (deflate or inflate) over `input` into `output`: returns zlib's code and
    /// the bytes read and written. Buffers longer than 4 GiB are fed in part, which callers
    /// handle as they handle a full output.
    fn run(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        step: unsafe extern "C" fn(z::z_streamp, c_int) -> c_int,
    ) -> (c_int, usize, usize) {
        let s = &mut *self.0;
        let avail_in = input.len().min(c_uint::MAX as usize) as c_uint;
        let avail_out = output.len().min(c_uint::MAX as usize) as c_uint;
        // zlib never writes through next_in.
        s.next_in = input.as_ptr().cast_mut();
        s.avail_in = avail_in;
        s.next_out = output.as_mut_ptr();
        s.avail_out = avail_out;
        // SAFETY: the stream was initialised (the constructors fail otherwise), its buffers
        // point into `input` and `output`, valid for the lengths given, for this call.
        let code = unsafe { step(s, z::Z_SYNC_FLUSH) };
        let read = (avail_in - s.avail_in) as usize;
        let wrote = (avail_out - s.avail_out) as usize;
        s.next_in = ptr::null_mut();
        s.next_out = ptr::null_mut();
        s.avail_in = 0;
        s.avail_out = 0;
        (code, read, wrote)
    }

    /// zlib's message for the last error, or its code.
    fn error(&self, code: c_int) -> String {
        if self.0.msg.is_null() {
            return format!("zlib error {code}");
        }
        // SAFETY: zlib's messages are static NUL-terminated strings.
        unsafe { CStr::from_ptr(self.0.msg) }.to_string_lossy().into_owned()
    }
}

/// The size of `z_stream`, as zlib checks it against its own.
fn stream_size() -> c_int {
    std::mem::size_of::<z::z_stream>() as c_int
}

/// A raw deflate compressor.
pub(super) struct Compressor(Stream);

impl Compressor {
    /// A compressor at `level` (0 to 9) with a window of `window_bits` (9 to 15) and zlib's
    /// `mem_level` (1 to 9); `None` if zlib refuses them or has no memory.
    pub(super) fn new(level: u8, window_bits: u8, mem_level: u8) -> Option<Self> {
        let mut stream = Stream::new();
        // SAFETY: a fresh stream with its allocator set, zlib's own version string and size.
        let code = unsafe {
            z::deflateInit2_(
                &mut *stream.0,
                c_int::from(level),
                z::Z_DEFLATED,
                -c_int::from(window_bits),
                c_int::from(mem_level),
                z::Z_DEFAULT_STRATEGY,
                z::zlibVersion(),
                stream_size(),
            )
        };
        (code == z::Z_OK).then_some(Compressor(stream))
    }

    /// Compresses `input` into `output` with a sync flush: returns the bytes read and written.
    /// The flush is complete once all input is read and a call left room in `output`.
    pub(super) fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize), String> {
        match self.0.run(input, output, z::deflate) {
            // Z_BUF_ERROR: nothing could be done (no input and nothing pending), not an error.
            (z::Z_OK | z::Z_BUF_ERROR, read, wrote) => Ok((read, wrote)),
            (code, ..) => Err(self.0.error(code)),
        }
    }

    /// Changes the compression level for what is compressed next, keeping the window: call it
    /// right after a completed sync flush (nothing pending), so that the switch writes nothing.
    pub(super) fn set_level(&mut self, level: u8) -> Result<(), String> {
        let s = &mut *self.0.0;
        // deflateParams flushes with Z_BLOCK first and wants somewhere to write, though after
        // a sync flush nothing is left to write.
        let mut scratch = [0u8; 16];
        s.next_out = scratch.as_mut_ptr();
        s.avail_out = scratch.len() as c_uint;
        // SAFETY: an initialised stream; its output points into `scratch` for this call, and
        // it has no input.
        let code = unsafe { z::deflateParams(s, c_int::from(level), z::Z_DEFAULT_STRATEGY) };
        let wrote = scratch.len() - s.avail_out as usize;
        s.next_out = ptr::null_mut();
        s.avail_out = 0;
        match code {
            z::Z_OK if wrote == 0 => Ok(()),
            z::Z_OK => Err(format!("changing the level wrote {wrote} bytes")),
            code => Err(self.0.error(code)),
        }
    }

    /// Starts a new stream with the same settings, keeping the memory.
    pub(super) fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { z::deflateReset(&mut *self.0.0) };
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: an initialised stream, ended once.
        unsafe { z::deflateEnd(&mut *self.0.0) };
    }
}

/// What one call to [`Decompressor::decompress`] did.
pub(super) struct Inflated {
    pub(super) read: usize,
    pub(super) wrote: usize,
    /// The peer ended its deflate stream with a final block.
    pub(super) ended: bool,
}

/// A raw inflate decompressor.
pub(super) struct Decompressor(Stream);

impl Decompressor {
    /// A decompressor for a peer that compresses with at most `window_bits` (9 to 15); zlib
    /// allocates the window when it first inflates.
    pub(super) fn new(window_bits: u8) -> Option<Self> {
        let mut stream = Stream::new();
        // SAFETY: a fresh stream with its allocator set, zlib's own version string and size.
        let code = unsafe {
            z::inflateInit2_(&mut *stream.0, -c_int::from(window_bits), z::zlibVersion(), stream_size())
        };
        (code == z::Z_OK).then_some(Decompressor(stream))
    }

    /// Inflates `input` into `output` with a sync flush.
    pub(super) fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<Inflated, String> {
        match self.0.run(input, output, z::inflate) {
            (z::Z_OK | z::Z_BUF_ERROR, read, wrote) => Ok(Inflated { read, wrote, ended: false }),
            (z::Z_STREAM_END, read, wrote) => Ok(Inflated { read, wrote, ended: true }),
            (z::Z_NEED_DICT, ..) => Err("the stream asks for a preset dictionary".to_owned()),
            (code, ..) => Err(self.0.error(code)),
        }
    }

    /// Starts a new stream with the same window, keeping the memory.
    pub(super) fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { z::inflateReset(&mut *self.0.0) };
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: an initialised stream, ended once.
        unsafe { z::inflateEnd(&mut *self.0.0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_compression_and_bad_input_is_an_error() {
        let mut c = Compressor::new(6, 10, 2).unwrap();
        let text = b"zlib round trip ".repeat(100);
        let mut wire = vec![0; 4096];
        let (read, wrote) = c.compress(&text, &mut wire).unwrap();
        assert_eq!(read, text.len());
        wire.truncate(wrote);
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush");
        let mut d = Decompressor::new(10).unwrap();
        let mut out = vec![0; 4096];
        let done = d.decompress(&wire, &mut out).unwrap();
        assert_eq!((done.read, &out[..done.wrote], done.ended), (wire.len(), &text[..], false));
        let err = Decompressor::new(15).unwrap().decompress(&[0xff, 0xff, 0xff], &mut out).err();
        assert_eq!(err.as_deref(), Some("invalid block type"));
        assert!(Compressor::new(6, 8, 2).is_none(), "zlib has no 256-byte raw window");
        assert!(Compressor::new(6, 15, 0).is_none());
    }
}
