//! Canonical unpadded base64url text (RFC 7515 §2), validated, decoded on demand.

use crate::JwkError;

/// 6-bit value of each base64url character (RFC 4648 §5), `0xFF` for anything else.
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: an index out of range fails the build"
)]
const VALUES: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Whether `text` is canonical unpadded base64url (RFC 7515 §2; RFC 4648 §3.5): alphabet
/// only, no padding, a length that is not 1 mod 4, and zero bits after the last octet.
///
/// A table lookup per character, as key material is public and the check runs on every
/// parse; it applies base64ct's rules (the tests and fuzz checks hold the two to agreement),
/// and [`B64::decode_into`] relies on it to decode with the same table.
pub fn is_canonical_b64url(text: &str) -> bool {
    let b = text.as_bytes();
    // No early exit: OR the values together (0xFF marks a bad character), which runs
    // branch-free over long moduli.
    let bad = b.iter().fold(0u8, |acc, &c| acc | value(c));
    if bad & 0xC0 != 0 {
        return false;
    }
    let last = b.last().map_or(0, |&c| value(c));
    match b.len() % 4 {
        1 => false,
        2 => last & 0x0F == 0,
        3 => last & 0x03 == 0,
        _ => true,
    }
}

/// The 6-bit value of a base64url character, `0xFF` for anything else.
#[inline(always)]
fn value(c: u8) -> u8 {
    VALUES.get(usize::from(c)).copied().unwrap_or(0xFF)
}

/// The bytes that one group of 2 to 4 characters decodes to, and how many there are.
fn decode_group(chars: &[u8]) -> ([u8; 3], usize) {
    let acc = chars
        .iter()
        .fold(0u32, |acc, &c| (acc << 6) | u32::from(value(c) & 0x3F));
    let acc = acc << (6 * 4usize.saturating_sub(chars.len()));
    let [_, b0, b1, b2] = acc.to_be_bytes();
    ([b0, b1, b2], chars.len().saturating_sub(1).min(3))
}

/// Validated canonical unpadded base64url text (RFC 7515 §2), borrowed from the JWK.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct B64<'a> {
    text: &'a str,
}

impl<'a> B64<'a> {
    /// Validates `text` as canonical unpadded base64url; `None` when it is not.
    pub fn new(text: &'a str) -> Option<Self> {
        is_canonical_b64url(text).then_some(Self { text })
    }

    /// The text as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Number of bytes the text decodes to.
    pub fn decoded_len(&self) -> usize {
        self.text.len() / 4 * 3 + (self.text.len() % 4).saturating_sub(1)
    }

    /// Decodes into `buf` and returns the decoded bytes.
    pub fn decode_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], JwkError> {
        let needed = self.decoded_len();
        let out = buf
            .get_mut(..needed)
            .ok_or(JwkError::BufferTooSmall { needed })?;
        // Validated as canonical at construction, and key material is public: a table lookup
        // per character replaces base64ct's constant-time decoder (about 1 ns per character).
        let src = self.text.as_bytes();
        let mut groups = src.chunks_exact(4);
        let mut dst = out.chunks_exact_mut(3);
        for (s, d) in (&mut groups).zip(&mut dst) {
            if let ([c0, c1, c2, c3], [d0, d1, d2]) = (s, d) {
                let acc = (u32::from(value(*c0) & 0x3F) << 18)
                    | (u32::from(value(*c1) & 0x3F) << 12)
                    | (u32::from(value(*c2) & 0x3F) << 6)
                    | u32::from(value(*c3) & 0x3F);
                let [_, b0, b1, b2] = acc.to_be_bytes();
                (*d0, *d1, *d2) = (b0, b1, b2);
            }
        }
        let rest = groups.remainder();
        let tail = dst.into_remainder();
        if !rest.is_empty() {
            let (bytes, n) = decode_group(rest);
            let src_tail = bytes.get(..n).ok_or(JwkError::BufferTooSmall { needed })?;
            let dst_tail = tail
                .get_mut(..n)
                .ok_or(JwkError::BufferTooSmall { needed })?;
            dst_tail.copy_from_slice(src_tail);
        }
        Ok(out)
    }

    /// The first decoded byte, if any (from the first two characters; the text is canonical).
    pub(crate) fn first_byte(&self) -> Option<u8> {
        let head = self.text.as_bytes().get(..2)?;
        let ([first, ..], _) = decode_group(head);
        Some(first)
    }

    /// The last decoded byte, if any (from the last group of characters).
    pub(crate) fn last_byte(&self) -> Option<u8> {
        let b = self.text.as_bytes();
        let tail_start = b.len().saturating_sub(match b.len() % 4 {
            0 => 4,
            r => r,
        });
        let (bytes, n) = decode_group(b.get(tail_start..)?);
        n.checked_sub(1).and_then(|i| bytes.get(i).copied())
    }

    /// The decoded bytes.
    #[cfg(feature = "alloc")]
    pub fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0u8; self.decoded_len()];
        let n = self.decode_into(&mut v).map(<[u8]>::len).unwrap_or(0);
        v.truncate(n);
        v
    }
}

impl core::fmt::Display for B64<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use base64ct::{Base64UrlUnpadded, Encoding};

    use super::*;

    #[test]
    fn first_and_last_byte_agree_with_decoding() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+";
        let mut seed = 0x9E37_79B9_u32;
        for len in 0..40usize {
            for _ in 0..300 {
                let mut text = [0u8; 40];
                for c in text.iter_mut().take(len) {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    *c = alphabet[(seed >> 16) as usize % alphabet.len()];
                }
                let text = core::str::from_utf8(&text[..len]).unwrap();
                let mut buf = [0u8; 40];
                let decoded = Base64UrlUnpadded::decode(text, &mut buf).ok();
                let Some(b) = B64::new(text) else {
                    assert!(decoded.is_none(), "{text}");
                    continue;
                };
                let decoded = decoded.unwrap();
                assert_eq!(b.decoded_len(), decoded.len(), "{text}");
                let mut fast = [0u8; 40];
                assert_eq!(b.decode_into(&mut fast).unwrap(), decoded, "{text}");
                if let Some(short) = b.decoded_len().checked_sub(1) {
                    assert!(b.decode_into(&mut fast[..short]).is_err(), "{text}");
                }
                assert_eq!(b.first_byte(), decoded.first().copied(), "{text}");
                assert_eq!(b.last_byte(), decoded.last().copied(), "{text}");
            }
        }
    }
}
