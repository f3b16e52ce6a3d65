//! Frame masking (RFC 6455 §5.3).

/// XORs `buf` with `mask`, where `buf` starts `offset` bytes into the masked payload.
///
/// Unmasking is most of the read loop's own CPU time on large messages, and size-tuned builds
/// (`opt-level = "s"`) get no loop vectorization, so it is written for speed by hand: 16 bytes
/// at a time with the SIMD every x86_64 and aarch64 CPU has (32 with AVX2), then 8 bytes at a time through
/// fixed-size arrays (twice as fast as slices at `"s"`), then bytes.
pub(crate) fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    // The SIMD part covers a multiple of 16 bytes, so the key still lines up after it.
    let done = simd::apply(buf, key);
    apply_words(&mut buf[done..], key);
}

/// 8 bytes at a time, then the tail, for a buffer that starts on a key boundary.
fn apply_words(buf: &mut [u8], key: [u8; 4]) {
    let half = u64::from(u32::from_ne_bytes(key));
    let word = half | (half << 32);
    let (mut words, tail) = buf.split_at_mut(buf.len() & !7);
    while let Some((head, rest)) = std::mem::take(&mut words).split_first_chunk_mut::<8>() {
        *head = (u64::from_ne_bytes(*head) ^ word).to_ne_bytes();
        words = rest;
    }
    // Fewer than 8 bytes remain, starting on a multiple of 8: the key lines up again.
    for (b, k) in tail.iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
        _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
    };

    /// Masks the longest multiple of 16 bytes at the start of `buf`; returns its length. 32
    /// bytes at a time where the CPU has AVX2 (detected once, then a cached flag), which halves
    /// the instructions of a 64 KiB message's unmasking.
    pub(super) fn apply(buf: &mut [u8], key: [u8; 4]) -> usize {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            let done = unsafe { apply_avx2(buf, key) };
            // A multiple of 32 bytes: the key still lines up for the 16-byte rest.
            done + apply_sse2(&mut buf[done..], key)
        } else {
            apply_sse2(buf, key)
        }
    }

    fn apply_sse2(buf: &mut [u8], key: [u8; 4]) -> usize {
        let n = buf.len() & !15;
        let p = buf.as_mut_ptr();
        // SAFETY: SSE2 is part of the x86_64 baseline; each unaligned load and store covers
        // the 16 bytes at `p + i` with `i + 16 <= n <= buf.len()`, inside the borrowed slice.
        unsafe {
            let k = _mm_set1_epi32(i32::from_ne_bytes(key));
            let mut i = 0;
            while i < n {
                let at = p.add(i).cast::<__m128i>();
                _mm_storeu_si128(at, _mm_xor_si128(_mm_loadu_si128(at), k));
                i += 16;
            }
        }
        n
    }

    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(buf: &mut [u8], key: [u8; 4]) -> usize {
        let n = buf.len() & !31;
        let p = buf.as_mut_ptr();
        // SAFETY: the caller checked AVX2; each unaligned load and store covers the 32 bytes at
        // `p + i` with `i + 32 <= n <= buf.len()`, inside the borrowed slice.
        unsafe {
            let k = _mm256_set1_epi32(i32::from_ne_bytes(key));
            let mut i = 0;
            while i < n {
                let at = p.add(i).cast::<__m256i>();
                _mm256_storeu_si256(at, _mm256_xor_si256(_mm256_loadu_si256(at), k));
                i += 32;
            }
        }
        n
    }
}

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
mod simd {
    use std::arch::aarch64::{vdupq_n_u32, veorq_u8, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8};

    /// Masks the longest multiple of 16 bytes at the start of `buf`; returns its length.
    pub(super) fn apply(buf: &mut [u8], key: [u8; 4]) -> usize {
        let n = buf.len() & !15;
        let p = buf.as_mut_ptr();
        // SAFETY: NEON is part of the aarch64 baseline; each load and store covers the 16
        // bytes at `p + i` with `i + 16 <= n <= buf.len()`, inside the borrowed slice.
        unsafe {
            let k = vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key)));
            let mut i = 0;
            while i < n {
                let at = p.add(i);
                vst1q_u8(at, veorq_u8(vld1q_u8(at), k));
                i += 16;
            }
        }
        n
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod simd {
    /// No SIMD assumed on this architecture: the word loop does it all.
    pub(super) fn apply(_: &mut [u8], _: [u8; 4]) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_in_pieces_equals_mask_at_once() {
        let mask = [1, 2, 3, 4];
        let data: Vec<u8> = (0..100).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ mask[i % 4]);
        }
        let mut pieces = data.clone();
        let (a, rest) = pieces.split_at_mut(5);
        let (b, c) = rest.split_at_mut(11);
        apply_mask(a, mask, 0);
        apply_mask(b, mask, 5);
        apply_mask(c, mask, 16);
        assert_eq!(pieces, whole);
        // Every length and offset against the byte-by-byte definition.
        for len in 0..data.len() {
            for offset in 0..4 {
                let mut fast = data[..len].to_vec();
                apply_mask(&mut fast, mask, offset);
                let slow: Vec<u8> =
                    data[..len].iter().enumerate().map(|(i, b)| b ^ mask[(i + offset) % 4]).collect();
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }
}
