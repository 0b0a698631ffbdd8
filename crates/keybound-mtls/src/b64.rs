//! Standard-alphabet base64 (RFC 4648 §4) decoding.
//!
//! Certificates are public data, so this decoder is not constant time. It is written as a
//! push-style state machine so the same code decodes out of place (header value into a caller
//! buffer) and in place (percent-decoded PEM text already sitting in the caller buffer): the
//! write position never overtakes the read position because 4 characters yield at most 3 bytes.
//! Whole groups of four data characters met at a group boundary take a table-driven fast path
//! ([`Decoder::feed`]); padding, whitespace, errors and the final group go through the state
//! machine one character at a time, so both paths give the same bytes and the same errors.

use crate::error::CertError;

/// Whether a final group may omit its `=` padding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Padding {
    /// `=` padding is mandatory (RFC 4648 §3.2; PEM per RFC 7468 §3).
    Required,
    /// Padding may be absent (RFC 8941 §4.2.7: parsers SHOULD NOT fail on missing padding).
    Optional,
}

/// Decoding state: the sextets of the current group and what has been written.
#[derive(Debug)]
pub(crate) struct Decoder {
    group: [u8; 4],
    filled: usize,
    pads: usize,
    written: usize,
    padding: Padding,
    closed_by_padding: bool,
}

/// The value of a standard-alphabet base64 character.
const fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Sextet values of the standard alphabet, `0xFF` for every other byte (`=` included).
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: a u8 index into 256 entries"
)]
static SEXTETS: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut c = 0usize;
    while c < 256 {
        if let Some(v) = sextet(c as u8) {
            t[c] = v;
        }
        c += 1;
    }
    t
};

/// The three bytes of a group of four data characters, `None` when one of them is not in the
/// alphabet (padding, whitespace or an invalid byte: the state machine handles those).
#[inline]
fn whole_group(g: [u8; 4]) -> Option<[u8; 3]> {
    let v = |c: u8| u32::from(SEXTETS.get(usize::from(c)).copied().unwrap_or(0xFF));
    let (a, b, c, d) = (v(g[0]), v(g[1]), v(g[2]), v(g[3]));
    if (a | b | c | d) > 63 {
        return None;
    }
    let [_, x, y, z] = ((a << 18) | (b << 12) | (c << 6) | d).to_be_bytes();
    Some([x, y, z])
}

/// Bytes `i..i + 4` of `b`, when they exist.
#[inline]
fn group_at(b: &[u8], i: usize) -> Option<[u8; 4]> {
    b.get(i..i.checked_add(4)?)
        .and_then(|g| <[u8; 4]>::try_from(g).ok())
}

impl Decoder {
    pub(crate) const fn new(padding: Padding) -> Self {
        Self {
            group: [0; 4],
            filled: 0,
            pads: 0,
            written: 0,
            padding,
            closed_by_padding: false,
        }
    }

    /// Feeds one character found at `pos` (an offset reported in errors).
    pub(crate) fn push(&mut self, c: u8, pos: usize, out: &mut [u8]) -> Result<(), CertError> {
        if self.closed_by_padding {
            // Nothing may follow a final (short) group.
            return Err(CertError::Base64 { offset: pos });
        }
        if c == b'=' {
            // Padding only in the last two positions of a group with at least two data chars.
            if self.filled + self.pads < 2 || self.filled + self.pads >= 4 {
                return Err(CertError::Base64 { offset: pos });
            }
            self.pads += 1;
            if self.filled + self.pads == 4 {
                self.flush(pos, out)?;
            }
            return Ok(());
        }
        if self.pads > 0 {
            // Data after padding (including a second group after a padded one).
            return Err(CertError::Base64 { offset: pos });
        }
        let v = sextet(c).ok_or(CertError::Base64 { offset: pos })?;
        if let Some(slot) = self.group.get_mut(self.filled) {
            *slot = v;
        }
        self.filled += 1;
        if self.filled == 4 {
            self.flush(pos, out)?;
        }
        Ok(())
    }

    /// Feeds every character of `input`, which starts at offset `base`; whitespace is skipped
    /// when `skip_ws`. The same as [`Decoder::push`] per character, faster.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        base: usize,
        skip_ws: bool,
        out: &mut [u8],
    ) -> Result<(), CertError> {
        let mut i = 0;
        while let Some(&c) = input.get(i) {
            if self.at_group_boundary()
                && let Some(bytes) = group_at(input, i).and_then(whole_group)
            {
                self.emit(bytes, out)?;
                i += 4;
                continue;
            }
            if !(skip_ws && is_ws(c)) {
                self.push(c, base + i, out)?;
            }
            i += 1;
        }
        Ok(())
    }

    /// Whether the next character starts a group and may be data.
    fn at_group_boundary(&self) -> bool {
        self.filled == 0 && self.pads == 0 && !self.closed_by_padding
    }

    /// Writes a whole group decoded by the fast path.
    fn emit(&mut self, bytes: [u8; 3], out: &mut [u8]) -> Result<(), CertError> {
        let avail = out.len();
        let dst = out
            .get_mut(self.written..self.written + 3)
            .ok_or(CertError::BufferTooSmall {
                needed: self.written + 3,
                available: avail,
            })?;
        dst.copy_from_slice(&bytes);
        self.written += 3;
        Ok(())
    }

    /// Completes the input; `pos` is the offset just past the last character.
    pub(crate) fn finish(mut self, pos: usize, out: &mut [u8]) -> Result<usize, CertError> {
        if self.pads > 0 {
            // A padded group that did not reach four characters.
            return Err(CertError::Base64 { offset: pos });
        }
        match self.filled {
            0 => {}
            2 | 3 if self.padding == Padding::Optional => self.flush(pos, out)?,
            _ => return Err(CertError::Base64 { offset: pos }),
        }
        Ok(self.written)
    }

    fn flush(&mut self, pos: usize, out: &mut [u8]) -> Result<(), CertError> {
        let [a, b, c, d] = self.group;
        let n = self.filled;
        let bytes = [(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d];
        let keep = match n {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return Err(CertError::Base64 { offset: pos }),
        };
        // Canonical encoding: the bits past the last whole byte must be zero (RFC 4648 §3.5).
        let stray = match n {
            3 => c & 0x03,
            2 => b & 0x0f,
            _ => 0,
        };
        if stray != 0 {
            return Err(CertError::Base64 { offset: pos });
        }
        let avail = out.len();
        let dst =
            out.get_mut(self.written..self.written + keep)
                .ok_or(CertError::BufferTooSmall {
                    needed: self.written + keep,
                    available: avail,
                })?;
        for (d, s) in dst.iter_mut().zip(bytes) {
            *d = s;
        }
        self.written += keep;
        if n < 4 || self.pads > 0 {
            self.closed_by_padding = true;
        }
        self.group = [0; 4];
        self.filled = 0;
        self.pads = 0;
        Ok(())
    }
}

/// Decodes `input` (no whitespace allowed) into `out`, returning the number of bytes written.
pub(crate) fn decode_into(
    input: &[u8],
    padding: Padding,
    out: &mut [u8],
) -> Result<usize, CertError> {
    let mut dec = Decoder::new(padding);
    dec.feed(input, 0, false, out)?;
    dec.finish(input.len(), out)
}

/// Decodes base64 text held in `buf[range]` in place, to the front of `buf`; whitespace
/// (SP, HTAB, CR, LF) between characters is skipped when `skip_ws`. Returns the length written.
pub(crate) fn decode_in_place(
    buf: &mut [u8],
    start: usize,
    end: usize,
    padding: Padding,
    skip_ws: bool,
) -> Result<usize, CertError> {
    let mut dec = Decoder::new(padding);
    let mut r = start;
    while r < end {
        let Some(&c) = buf.get(r) else { break };
        // The group is copied out before its bytes are written, at or before `r`.
        if dec.at_group_boundary()
            && r + 4 <= end
            && let Some(bytes) = group_at(buf, r).and_then(whole_group)
        {
            dec.emit(bytes, buf)?;
            r += 4;
            continue;
        }
        if !(skip_ws && is_ws(c)) {
            // The decoder writes at `written <= 3 * (r - start) / 4 < r`, never past the reader.
            dec.push(c, r, buf)?;
        }
        r += 1;
    }
    dec.finish(end, buf)
}

/// PEM / header whitespace.
pub(crate) const fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    fn dec(s: &str, p: Padding) -> Result<([u8; 64], usize), CertError> {
        let mut out = [0u8; 64];
        let n = decode_into(s.as_bytes(), p, &mut out)?;
        Ok((out, n))
    }

    #[test]
    fn decodes_rfc4648_vectors() {
        for (enc, plain) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            let (out, n) = dec(enc, Padding::Required).unwrap();
            assert_eq!(&out[..n], plain.as_bytes(), "{enc}");
        }
    }

    #[test]
    fn optional_padding_accepts_unpadded_tail() {
        let (out, n) = dec("Zm9vYg", Padding::Optional).unwrap();
        assert_eq!(&out[..n], b"foob");
        assert_eq!(
            dec("Zm9vYg", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 6 }
        );
    }

    #[test]
    fn rejects_noncanonical_url_alphabet_and_misplaced_padding() {
        assert_eq!(
            dec("Zh==", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 3 }
        );
        assert_eq!(
            dec("Zm9-", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 3 }
        );
        assert_eq!(
            dec("Zm9_", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 3 }
        );
        assert_eq!(
            dec("Z===", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 1 }
        );
        assert_eq!(
            dec("Zg==Zg==", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 4 }
        );
        assert_eq!(
            dec("Zg=", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 3 }
        );
        assert_eq!(
            dec("Zg=a", Padding::Required).unwrap_err(),
            CertError::Base64 { offset: 3 }
        );
        assert_eq!(
            dec("Z", Padding::Optional).unwrap_err(),
            CertError::Base64 { offset: 1 }
        );
    }

    /// The reference: the state machine one character at a time.
    fn per_char(input: &[u8], p: Padding, skip_ws: bool) -> Result<Vec<u8>, CertError> {
        let mut out = vec![0u8; input.len()];
        let mut dec = Decoder::new(p);
        for (i, &c) in input.iter().enumerate() {
            if !(skip_ws && is_ws(c)) {
                dec.push(c, i, &mut out)?;
            }
        }
        let n = dec.finish(input.len(), &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn fast_path_agrees_with_the_state_machine() {
        let alphabet =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/AQgw==\n \r-_%.";
        let mut seed = 0x9e37_79b9_u32;
        for len in 0..40usize {
            for round in 0..300 {
                let input: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        // Mostly alphabet characters, so long valid runs occur.
                        let k = (seed >> 16) as usize;
                        if round % 3 == 0 {
                            alphabet[k % 64]
                        } else {
                            alphabet[k % alphabet.len()]
                        }
                    })
                    .collect();
                for p in [Padding::Required, Padding::Optional] {
                    for skip_ws in [false, true] {
                        let expected = per_char(&input, p, skip_ws);
                        let mut dec = Decoder::new(p);
                        let mut out = vec![0u8; input.len()];
                        let fast = dec
                            .feed(&input, 0, skip_ws, &mut out)
                            .and_then(|()| dec.finish(input.len(), &mut out))
                            .map(|n| out[..n].to_vec());
                        assert_eq!(
                            fast,
                            expected,
                            "{:?} {p:?} ws={skip_ws}",
                            String::from_utf8_lossy(&input)
                        );
                        let mut buf = input.clone();
                        let in_place = decode_in_place(&mut buf, 0, input.len(), p, skip_ws)
                            .map(|n| buf[..n].to_vec());
                        assert_eq!(
                            in_place,
                            expected,
                            "in place {:?}",
                            String::from_utf8_lossy(&input)
                        );
                    }
                }
            }
        }
        // Too small an output buffer is reported by both paths alike.
        let mut small = [0u8; 2];
        assert_eq!(
            decode_into(b"Zm9v", Padding::Required, &mut small),
            Err(CertError::BufferTooSmall {
                needed: 3,
                available: 2
            })
        );
    }

    #[test]
    fn in_place_decoding_matches_out_of_place() {
        let mut buf = *b"xxZm9v\nYmFy\r\n";
        let n = decode_in_place(&mut buf, 2, 13, Padding::Required, true).unwrap();
        assert_eq!(&buf[..n], b"foobar");
    }
}
