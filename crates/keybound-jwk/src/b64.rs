//! Canonical unpadded base64url text (RFC 7515 §2), validated, decoded on demand.

use core::fmt;

use keybound_json::{Str, UnescapedChars};

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
///
/// A member written with JSON escapes (`"\u0041…"`, RFC 8259 §7) is the same value as its
/// plain spelling: the text is the *unescaped* string, which must be canonical base64url like
/// any other. Escapes are decoded on the fly, without a heap; plain text (the usual case)
/// is read as it is. Equality compares the unescaped text.
#[derive(Clone, Copy)]
pub struct B64<'a> {
    text: Text<'a>,
    /// Length of the unescaped text, in characters (all ASCII).
    len: usize,
}

#[derive(Clone, Copy)]
enum Text<'a> {
    /// No escapes: the text as written.
    Plain(&'a str),
    /// Written with escapes; every unescaped character is in the base64url alphabet.
    Escaped(Str<'a>),
}

impl<'a> B64<'a> {
    /// Validates `text` as canonical unpadded base64url; `None` when it is not.
    pub fn new(text: &'a str) -> Option<Self> {
        is_canonical_b64url(text).then_some(Self {
            text: Text::Plain(text),
            len: text.len(),
        })
    }

    /// Validates the value of a JSON string (RFC 8259 §7: after unescaping) as canonical
    /// unpadded base64url; `None` when it is not.
    pub fn from_json(s: Str<'a>) -> Option<Self> {
        if let Some(plain) = s.as_plain() {
            return Self::new(plain);
        }
        // The same rules as `is_canonical_b64url`, over the unescaped characters.
        let mut len = 0usize;
        let mut last = 0u8;
        for c in s.chars() {
            let v = u8::try_from(c).map_or(0xFF, value);
            if v & 0xC0 != 0 {
                return None;
            }
            (len, last) = (len + 1, v);
        }
        let canonical = match len % 4 {
            1 => false,
            2 => last & 0x0F == 0,
            3 => last & 0x03 == 0,
            _ => true,
        };
        canonical.then_some(Self {
            text: Text::Escaped(s),
            len,
        })
    }

    /// The text, when the member was written without JSON escapes (then it is also the value).
    pub fn as_plain(&self) -> Option<&'a str> {
        match self.text {
            Text::Plain(p) => Some(p),
            Text::Escaped(_) => None,
        }
    }

    /// The base64url characters, unescaped.
    pub fn chars(&self) -> B64Chars<'a> {
        B64Chars(match self.text {
            Text::Plain(p) => CharsInner::Plain(p.chars()),
            Text::Escaped(s) => CharsInner::Escaped(s.chars()),
        })
    }

    /// Number of bytes the text decodes to.
    pub fn decoded_len(&self) -> usize {
        self.len / 4 * 3 + (self.len % 4).saturating_sub(1)
    }

    /// Decodes into `buf` and returns the decoded bytes.
    pub fn decode_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], JwkError> {
        let needed = self.decoded_len();
        let out = buf
            .get_mut(..needed)
            .ok_or(JwkError::BufferTooSmall { needed })?;
        match self.text {
            Text::Plain(p) => decode_plain(p.as_bytes(), out, needed)?,
            Text::Escaped(_) => {
                // Rare: groups of four unescaped characters, decoded as they come.
                let mut group = [0u8; 4];
                let mut n = 0usize;
                let mut dst = out.iter_mut();
                for c in self.ascii() {
                    if let Some(slot) = group.get_mut(n) {
                        *slot = c;
                    }
                    n += 1;
                    if n == 4 {
                        let (bytes, k) = decode_group(&group);
                        // `bytes` first: zip stops on it without taking a slot from `dst`.
                        for (b, d) in bytes.iter().take(k).zip(&mut dst) {
                            *d = *b;
                        }
                        n = 0;
                    }
                }
                let (bytes, k) = decode_group(group.get(..n).unwrap_or_default());
                for (b, d) in bytes.iter().take(k).zip(dst) {
                    *d = *b;
                }
            }
        }
        Ok(out)
    }

    /// The first decoded byte, if any (from the first two characters; the text is canonical).
    pub(crate) fn first_byte(&self) -> Option<u8> {
        let mut head = [0u8; 2];
        match self.text {
            Text::Plain(p) => head.copy_from_slice(p.as_bytes().get(..2)?),
            Text::Escaped(_) => {
                if self.len < 2 {
                    return None;
                }
                for (slot, c) in head.iter_mut().zip(self.ascii()) {
                    *slot = c;
                }
            }
        }
        let ([first, ..], _) = decode_group(&head);
        Some(first)
    }

    /// The last decoded byte, if any (from the last group of characters).
    pub(crate) fn last_byte(&self) -> Option<u8> {
        let tail_len = match self.len % 4 {
            0 => 4.min(self.len),
            r => r,
        };
        let mut tail = [0u8; 4];
        match self.text {
            Text::Plain(p) => {
                let b = p.as_bytes();
                let src = b.get(b.len().saturating_sub(tail_len)..)?;
                tail.get_mut(..tail_len)?.copy_from_slice(src);
            }
            Text::Escaped(_) => {
                let skip = self.len.saturating_sub(tail_len);
                for (slot, c) in tail.iter_mut().zip(self.ascii().skip(skip)) {
                    *slot = c;
                }
            }
        }
        let (bytes, n) = decode_group(tail.get(..tail_len)?);
        n.checked_sub(1).and_then(|i| bytes.get(i).copied())
    }

    /// Calls `f` with the unescaped text in pieces: once with the whole text when it has no
    /// escapes, else in chunks of up to 64 bytes (for hashing without a heap).
    pub(crate) fn for_each_chunk(&self, mut f: impl FnMut(&[u8])) {
        match self.text {
            Text::Plain(p) => f(p.as_bytes()),
            Text::Escaped(_) => {
                let mut buf = [0u8; 64];
                let mut n = 0;
                for c in self.ascii() {
                    if let Some(slot) = buf.get_mut(n) {
                        *slot = c;
                        n += 1;
                    }
                    if n == buf.len() {
                        f(&buf);
                        n = 0;
                    }
                }
                if let Some(rest) = buf.get(..n).filter(|r| !r.is_empty()) {
                    f(rest);
                }
            }
        }
    }

    /// The unescaped characters as ASCII bytes (validated at construction).
    fn ascii(&self) -> impl Iterator<Item = u8> + 'a {
        self.chars().map(|c| u8::try_from(c).unwrap_or(0xFF))
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

/// The table decoder over plain text validated as canonical at construction.
fn decode_plain(src: &[u8], out: &mut [u8], needed: usize) -> Result<(), JwkError> {
    // Key material is public: a table lookup per character replaces base64ct's constant-time
    // decoder (about 1 ns per character).
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
    Ok(())
}

impl PartialEq for B64<'_> {
    /// Same unescaped text (so same decoded bytes: the text is canonical).
    fn eq(&self, other: &Self) -> bool {
        match (self.as_plain(), other.as_plain()) {
            (Some(a), Some(b)) => a == b,
            _ => self.len == other.len && self.chars().eq(other.chars()),
        }
    }
}

impl Eq for B64<'_> {}

impl fmt::Debug for B64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("B64").field(&format_args!("{self}")).finish()
    }
}

impl fmt::Display for B64<'_> {
    /// The unescaped base64url text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        match self.text {
            Text::Plain(p) => f.write_str(p),
            Text::Escaped(_) => self.chars().try_for_each(|c| f.write_char(c)),
        }
    }
}

/// The characters of a [`B64`], unescaped (see [`B64::chars`]).
#[derive(Clone, Debug)]
pub struct B64Chars<'a>(CharsInner<'a>);

#[derive(Clone, Debug)]
enum CharsInner<'a> {
    Plain(core::str::Chars<'a>),
    Escaped(UnescapedChars<'a>),
}

impl Iterator for B64Chars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match &mut self.0 {
            CharsInner::Plain(c) => c.next(),
            CharsInner::Escaped(c) => c.next(),
        }
    }
}

impl core::iter::FusedIterator for B64Chars<'_> {}

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
