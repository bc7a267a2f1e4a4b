//! A fixed, platform-independent 64-bit hasher for trace hashes.
//!
//! `std`'s `DefaultHasher` may change between Rust releases and hashes `usize` at the platform's width, so a trace
//! hash made with it could differ between native and WASM. This hasher widens every integer to 64 bits, reads bytes
//! little-endian, and mixes with a fixed multiply-rotate step followed by a strong finalizer.

use std::hash::Hasher;

#[derive(Clone, Debug)]
pub struct TraceHasher {
    state: u64,
}

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher { state: 0x243F_6A88_85A3_08D3 }
    }
}

impl TraceHasher {
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(23) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for TraceHasher {
    fn finish(&self) -> u64 {
        // The splitmix64 finalizer, so that nearby states give unrelated hashes.
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("chunk of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64);
    }
    fn write_u16(&mut self, i: u16) {
        self.mix(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.mix(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.mix(i as i64 as u64);
    }
    fn write_i16(&mut self, i: i16) {
        self.mix(i as i64 as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.mix(i as i64 as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.mix(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.mix(i as i64 as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    #[test]
    fn usize_and_u64_hash_alike_so_wasm_matches_native() {
        let mut a = TraceHasher::default();
        7usize.hash(&mut a);
        let mut b = TraceHasher::default();
        7u64.hash(&mut b);
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn order_matters() {
        let mut a = TraceHasher::default();
        (1u32, 2u32).hash(&mut a);
        let mut b = TraceHasher::default();
        (2u32, 1u32).hash(&mut b);
        assert_ne!(a.finish(), b.finish());
    }
}
