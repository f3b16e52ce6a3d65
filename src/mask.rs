//! Frame masking (RFC 6455 §5.3).

/// XORs `buf` with `mask`, where `buf` starts `offset` bytes into the masked payload.
pub(crate) fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let word = u32::from_ne_bytes(key);
    let mut chunks = buf.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let v = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key) {
        *b ^= k;
    }
}

/// A mask for frames the server sends when `Config::masking` is on. Masking from a server
/// protects nothing (RFC 6455 masks client frames against proxy cache poisoning), so a cheap
/// xorshift generator seeded per connection is enough.
#[derive(Debug)]
pub(crate) struct MaskSource(u64);

impl MaskSource {
    pub(crate) fn new(seed: u64) -> Self {
        MaskSource(seed | 1)
    }

    pub(crate) fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x as u32).to_ne_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_in_pieces_equals_mask_at_once() {
        let mask = [1, 2, 3, 4];
        let data: Vec<u8> = (0..37).collect();
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
    }
}
