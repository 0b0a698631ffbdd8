//! Canonical unpadded base64url text (RFC 7515 §2), validated, decoded on demand.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::JwkError;

/// Characters decoded per step; a multiple of 4 so every piece but the last is whole blocks.
const PIECE: usize = 128;

/// Decodes `text` piece by piece, handing each decoded piece to `f`; false when the text is
/// not canonical unpadded base64url. base64ct refuses padding, characters outside the
/// alphabet, a dangling single character, and non-zero trailing bits in the last block.
pub(crate) fn for_each_piece(text: &str, mut f: impl FnMut(&[u8])) -> bool {
    let mut buf = [0u8; PIECE / 4 * 3];
    for piece in text.as_bytes().chunks(PIECE) {
        match Base64UrlUnpadded::decode(piece, &mut buf) {
            Ok(d) => f(d),
            Err(_) => return false,
        }
    }
    true
}

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
/// parse; [`B64::decode_into`] decodes with base64ct, which applies the same rules (the
/// tests and fuzz checks hold the two to agreement).
pub fn is_canonical_b64url(text: &str) -> bool {
    let b = text.as_bytes();
    let value = |c: u8| VALUES.get(usize::from(c)).copied().unwrap_or(0xFF);
    if b.iter().any(|&c| value(c) == 0xFF) {
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
        // Validated at construction, so this cannot fail; answer an error rather than panic.
        Base64UrlUnpadded::decode(self.text, out).map_err(|_| JwkError::BufferTooSmall { needed })
    }

    /// The first decoded byte, if any.
    pub(crate) fn first_byte(&self) -> Option<u8> {
        let mut first = None;
        let head = self.text.get(..self.text.len().min(4)).unwrap_or("");
        for_each_piece(head, |d| first = d.first().copied());
        first
    }

    /// The last decoded byte, if any.
    pub(crate) fn last_byte(&self) -> Option<u8> {
        let len = self.text.len();
        let tail_start = len.saturating_sub(match len % 4 {
            0 => 4,
            r => r,
        });
        let mut last = None;
        for_each_piece(self.text.get(tail_start..).unwrap_or(""), |d| {
            last = d.last().copied()
        });
        last
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
