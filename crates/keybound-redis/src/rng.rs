//! Randomness: epoch values and the per-call tokens stored as `jti` entries' values.

use core::sync::atomic::{AtomicU64, Ordering};

/// Fills `out` from the OS, or from std's randomly seeded hasher if the OS source fails
/// (epochs and tokens need to be unique, not secret).
pub(crate) fn fill(out: &mut [u8]) {
    if getrandom::fill(out).is_ok() {
        return;
    }
    use core::hash::BuildHasher;
    let state = std::hash::RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let word = state.hash_one(i).to_le_bytes();
        for (d, s) in chunk.iter_mut().zip(word) {
            *d = s;
        }
    }
}

/// Distinct 64-bit tokens: a random base plus a counter, through a bijective mixer, so one
/// instance never repeats a token and two instances collide with chance about 2⁻⁶⁴ per pair.
pub(crate) struct Tokens {
    base: u64,
    counter: AtomicU64,
}

impl Tokens {
    pub(crate) fn new() -> Self {
        let mut b = [0u8; 8];
        fill(&mut b);
        Self {
            base: u64::from_le_bytes(b),
            counter: AtomicU64::new(0),
        }
    }

    /// The next token, as the decimal `i64` Redis stores in its integer encoding (no
    /// allocation for the value).
    pub(crate) fn next(&self) -> i64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // SplitMix64's finalizer: a bijection on u64.
        let mut z = self
            .base
            .wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        i64::from_le_bytes(z.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_do_not_repeat() {
        let t = Tokens::new();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            assert!(seen.insert(t.next()));
        }
    }
}
