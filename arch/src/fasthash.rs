//! A small, fast, non-cryptographic hasher for the in-process memos of the schedule and
//! the tile-level model (`arch::schedule::choose_for`, `sim::tile::TileCache`), whose keys
//! are a few dozen small integers: the standard library's SipHash (DoS-resistant, which
//! these private memos do not need) cost more than the lookups saved. Multiply-rotate per
//! 64-bit word; not stable across versions (never persist its values).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher: `h = (rotl(h, 5) ^ word) * K` per word.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordHasher {
    h: u64,
}

/// An odd constant with well-mixed bits (the fractional part of the golden ratio).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl WordHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // A final mix so that the low bits (hashbrown's bucket index) depend on all words.
        let h = self.h;
        h ^ (h >> 29) ^ (h >> 47)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.word(i as u64);
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.word(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.word(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
}

/// A `HashMap` with [`WordHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash<T: Hash>(x: &T) -> u64 {
        let mut h = WordHasher::default();
        x.hash(&mut h);
        h.finish()
    }

    #[test]
    fn distinct_small_keys_spread_over_buckets() {
        // Keys like the memos': tuples of small integers. The low 10 bits (a 1024-bucket
        // table) must take many values and the full hashes must not collide.
        let mut full = std::collections::HashSet::new();
        let mut low = std::collections::HashSet::new();
        for a in 0..32u32 {
            for b in 0..32u64 {
                for c in [false, true] {
                    let h = hash(&(a, b, c, Some(a as u16)));
                    full.insert(h);
                    low.insert(h & 1023);
                }
            }
        }
        assert_eq!(full.len(), 32 * 32 * 2);
        assert!(low.len() > 700, "only {} of 1024 buckets used", low.len());
    }

    #[test]
    fn map_works() {
        let mut m: FastMap<(u32, u64), u64> = FastMap::default();
        for i in 0..1000u32 {
            m.insert((i, i as u64 * 7), i as u64);
        }
        for i in 0..1000u32 {
            assert_eq!(m.get(&(i, i as u64 * 7)), Some(&(i as u64)));
        }
        assert_eq!(m.get(&(3, 0)), None);
    }
}
