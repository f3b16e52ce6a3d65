//! Giving a connection thread's idle stack pages back to the kernel.
//!
//! A thread's stack pages stay resident once touched, however briefly: the handshake, a log
//! line, a handler's deep call. An idle connection would keep them for its whole life. Before
//! the read loop waits for input (at most once a [`TRIM_EVERY_MS`]), it tells the kernel that
//! the pages below its own frame are free (`madvise(MADV_DONTNEED)`): nothing lives there while
//! the thread is inside the read loop, and the kernel hands zeroed pages back if a later call
//! goes that deep again. glibc does the same with the stack of a thread that exits.

/// The least time between two trims of one thread's stack.
pub(crate) const TRIM_EVERY_MS: u64 = 1_000;

/// The current thread's stack: its lowest address (0: unknown, trimming off).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThreadStack {
    low: usize,
}

impl ThreadStack {
    /// The calling thread's stack bounds, as the C library knows them.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[allow(unsafe_code)]
    pub(crate) fn current() -> ThreadStack {
        // SAFETY: `attr` is initialized by pthread_getattr_np before it is read, and destroyed
        // once; the out-pointers are valid locals.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return ThreadStack { low: 0 };
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let got = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            ThreadStack { low: if got == 0 { addr as usize } else { 0 } }
        }
    }

    /// Elsewhere: unknown (trimming off).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn current() -> ThreadStack {
        ThreadStack { low: 0 }
    }

    /// Releases the whole pages between the stack's low end and the caller's frame. Call it
    /// only on the thread this stack belongs to (pages below the caller's frame are unused
    /// there, and nowhere else).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[allow(unsafe_code)]
    #[inline(never)]
    pub(crate) fn trim(&self) {
        const PAGE: usize = 4096;
        // Room kept below this frame for the `madvise` call's own (a return address, a few
        // registers): the page that holds it must not be released under it.
        const BELOW: usize = 512;
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        let end = here.saturating_sub(BELOW) & !(PAGE - 1);
        let start = (self.low + PAGE - 1) & !(PAGE - 1);
        if self.low == 0 || end <= start {
            return;
        }
        // SAFETY: [start, end) lies within this thread's own stack mapping (between its low
        // end and the current frame, page-aligned) and holds no live data: the stack grows down
        // and every live frame is above `here`. MADV_DONTNEED only drops the pages' contents,
        // which read as zero if touched again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }

    /// Elsewhere: nothing.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn trim(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the page holding `addr` is resident (mincore).
    #[allow(unsafe_code)]
    fn resident(addr: usize) -> bool {
        let page = addr & !4095;
        let mut vec = 0u8;
        // SAFETY: one page of this thread's own stack mapping, and a one-byte result vector.
        let r = unsafe { libc::mincore(page as *mut libc::c_void, 4096, &mut vec) };
        assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
        vec & 1 == 1
    }

    /// Touches `depth` KiB of stack below the caller.
    #[inline(never)]
    fn go_deep(depth: usize) -> u8 {
        let mut block = [0u8; 1024];
        std::hint::black_box(&mut block)[0] = depth as u8;
        if depth > 1 { go_deep(depth - 1).wrapping_add(block[0]) } else { block[0] }
    }

    #[test]
    fn trimming_keeps_the_callers_frames_intact() {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let stack = ThreadStack::current();
                assert_ne!(stack.low, 0, "the stack bounds are known on Linux");
                let live = [7u8; 512];
                go_deep(64);
                let deep = std::hint::black_box(&live) as *const u8 as usize - 48 * 1024;
                assert!(resident(deep), "touched pages are resident");
                stack.trim();
                assert!(!resident(deep), "the pages below the caller were released");
                // The frames above survive, and the released pages work again when touched.
                assert!(std::hint::black_box(&live).iter().all(|&b| b == 7));
                assert_eq!(go_deep(64), go_deep(64));
                stack.trim();
                assert!(std::hint::black_box(&live).iter().all(|&b| b == 7));
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
