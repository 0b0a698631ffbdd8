//! Redis key layout: one key per (scope, `jti`) pair, grouped under a hash tag, and one epoch
//! key per hash tag (RFC 9449 §11.1 replay state, spread over Cluster slots).

use keybound_dpop::replay::ReplayKey;
use sha2::{Digest, Sha256};

/// Hash tags the keys are spread over; one epoch key each (a power of two).
pub(crate) const TAGS: usize = 1024;

/// Bytes of the SHA-256 of the pair kept in the key (128 bits).
const HASH_BYTES: usize = 16;

/// Longest prefix accepted, in bytes.
pub(crate) const MAX_PREFIX: usize = 64;

/// A derived `jti` key and the tag it lives under.
pub(crate) struct JtiKey {
    pub(crate) tag: usize,
    pub(crate) key: Vec<u8>,
}

/// Where `{tag}` starts and what follows it, for one store's prefix.
#[derive(Clone, Debug)]
pub(crate) struct KeyLayout {
    prefix: Vec<u8>,
}

impl KeyLayout {
    /// A layout under `prefix` (checked by the options: no `{` or `}`, at most 64 bytes).
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.as_bytes().to_vec(),
        }
    }

    /// `prefix {ttt} hash₁₆`: SHA-256 of `len(scope) as u64 BE ‖ scope ‖ jti`, so two
    /// different pairs never share an input and the key has a fixed length whatever the
    /// `jti`. The tag comes from other bytes of the same hash.
    pub(crate) fn jti_key(&self, key: &ReplayKey<'_>) -> JtiKey {
        let mut h = Sha256::new();
        h.update((key.scope.len() as u64).to_be_bytes());
        h.update(key.scope);
        h.update(key.jti.as_bytes());
        let digest = h.finalize();
        let (head, tail) = digest.split_at(HASH_BYTES);
        let tag = tail
            .iter()
            .take(2)
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            % TAGS;
        let mut out = self.tagged(tag, HASH_BYTES);
        out.extend_from_slice(head);
        JtiKey { tag, key: out }
    }

    /// `prefix {ttt} e`: the epoch key of `tag` (a different length from every `jti` key).
    pub(crate) fn epoch_key(&self, tag: usize) -> Vec<u8> {
        let mut out = self.tagged(tag, 1);
        out.push(b'e');
        out
    }

    fn tagged(&self, tag: usize, extra: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + 5 + extra);
        out.extend_from_slice(&self.prefix);
        out.push(b'{');
        for shift in [8u32, 4, 0] {
            let nibble = (tag >> shift) & 0xf;
            out.push(HEX.get(nibble).copied().unwrap_or(b'0'));
        }
        out.push(b'}');
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(
            HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key<'a>(scope: &'a [u8], jti: &'a str) -> ReplayKey<'a> {
        ReplayKey::new(scope, jti)
    }

    #[test]
    fn jti_keys_have_a_fixed_size_whatever_the_jti() {
        let l = KeyLayout::new("kb:");
        let long = "x".repeat(10_000);
        let a = l.jti_key(&key(b"https://rs.example/a", "j"));
        let b = l.jti_key(&key(&[0u8; 4096], &long));
        assert_eq!(a.key.len(), 3 + 5 + 16);
        assert_eq!(b.key.len(), a.key.len());
        assert!(a.key.starts_with(b"kb:{"));
        assert_eq!(a.key[7], b'}');
    }

    #[test]
    fn length_prefix_keeps_shifted_pairs_apart() {
        let l = KeyLayout::new("kb:");
        let a = l.jti_key(&key(b"ab", "c"));
        let b = l.jti_key(&key(b"a", "bc"));
        let c = l.jti_key(&key(b"", "abc"));
        assert_ne!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_ne!(b.key, c.key);
    }

    #[test]
    fn binary_scopes_and_unicode_jtis_give_distinct_keys() {
        let l = KeyLayout::new("kb:");
        let mut seen = HashSet::new();
        for s in 0u8..=255 {
            assert!(seen.insert(l.jti_key(&key(&[s, 0, b'}', b'{'], "é{}\u{0}")).key));
        }
    }

    #[test]
    fn epoch_keys_never_equal_jti_keys_and_share_their_tag() {
        let l = KeyLayout::new("p");
        let k = l.jti_key(&key(b"s", "j"));
        let e = l.epoch_key(k.tag);
        assert_ne!(e.len(), k.key.len());
        assert_eq!(e[..6], k.key[..6]);
        assert_eq!(e.last(), Some(&b'e'));
    }

    #[test]
    fn tags_spread_evenly() {
        let l = KeyLayout::new("kb:");
        let mut counts = vec![0u32; TAGS];
        for i in 0..(TAGS * 64) {
            counts[l.jti_key(&key(b"scope", &i.to_string())).tag] += 1;
        }
        // 64 expected per tag; a binomial count stays well inside [16, 128].
        assert!(
            counts.iter().all(|&c| (16..=128).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn tag_is_three_lower_hex_digits() {
        let l = KeyLayout::new("");
        assert_eq!(l.epoch_key(0), b"{000}e");
        assert_eq!(l.epoch_key(1023), b"{3ff}e");
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
