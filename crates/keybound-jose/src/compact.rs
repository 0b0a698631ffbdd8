//! Compact JWS serialization (RFC 7515 §7.1): splitting, strict base64url, segment decoding.
//!
//! Shared by DPoP proofs (RFC 9449 §4.2) and JWT access tokens (RFC 9068): exactly three
//! segments, canonical unpadded base64url (RFC 7515 §2: no padding, no length ≡ 1 mod 4, zero
//! trailing bits), and the signing input kept as the received bytes, never re-serialized.

use crate::error::{JoseError, Part};

/// The three segments of a compact JWS, as received.
#[derive(Clone, Copy, Debug)]
pub struct CompactParts<'a> {
    /// Base64url protected header.
    pub header: &'a str,
    /// Base64url payload.
    pub payload: &'a str,
    /// Base64url signature.
    pub signature: &'a str,
    /// `header '.' payload`: the JWS signing input (RFC 7515 §5.2 step 8).
    pub signing_input: &'a [u8],
}

/// Splits a compact JWS into its three segments (RFC 7515 §7.1) after checking `input` is at
/// most `max_len` bytes.
pub fn split_compact(input: &str, max_len: usize) -> Result<CompactParts<'_>, JoseError> {
    if input.len() > max_len {
        return Err(JoseError::TooLarge {
            len: input.len(),
            max: max_len,
        });
    }
    let mut it = input.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(JoseError::Segments);
    };
    let signing_len = header.len() + 1 + payload.len();
    let signing_input = input
        .as_bytes()
        .get(..signing_len)
        .ok_or(JoseError::Segments)?;
    Ok(CompactParts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Decoded length of the three segments together (RFC 7515 §7.1), or the segment whose
/// length no canonical base64url text has.
pub fn decoded_total(parts: &CompactParts<'_>) -> Result<usize, JoseError> {
    let len = |text: &str, part| b64_decoded_len(text.len()).ok_or(JoseError::Base64 { part });
    Ok(len(parts.header, Part::Header)?
        + len(parts.payload, Part::Payload)?
        + len(parts.signature, Part::Signature)?)
}

/// Where the decoded segments end in the buffer [`decode_segments`] filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentEnds {
    /// End of the decoded header (start of the payload).
    pub header: usize,
    /// End of the decoded payload (start of the signature).
    pub payload: usize,
}

/// Decodes the three segments one after the other into `buf` (at least
/// [`decoded_total`] bytes). An empty signature segment is valid base64url of nothing and is
/// left for the caller to refuse once it has read `alg` (so `alg: none` is reported as `alg`).
pub fn decode_segments(parts: &CompactParts<'_>, buf: &mut [u8]) -> Result<SegmentEnds, JoseError> {
    let header_end = b64_decode_into(parts.header, buf, Part::Header)?.len();
    let rest = buf.get_mut(header_end..).unwrap_or_default();
    let payload_len = b64_decode_into(parts.payload, rest, Part::Payload)?.len();
    let payload_end = header_end + payload_len;
    let rest = buf.get_mut(payload_end..).unwrap_or_default();
    b64_decode_into(parts.signature, rest, Part::Signature)?;
    Ok(SegmentEnds {
        header: header_end,
        payload: payload_end,
    })
}

/// Decoded length of unpadded base64url text, or `None` when no canonical text has that length.
pub fn b64_decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        r => Some(encoded_len / 4 * 3 + r.saturating_sub(1)),
    }
}

/// Strict base64url (no padding, canonical trailing bits) into `out`; the decoded slice.
pub fn b64_decode_into<'o>(
    text: &str,
    out: &'o mut [u8],
    part: Part,
) -> Result<&'o [u8], JoseError> {
    // The proof is public, so a fast variable-time decoder is fine here (base64ct's
    // constant-time one costs several µs per proof); strictness is the same: URL alphabet only,
    // no padding, no length ≡ 1 (mod 4), zero trailing bits.
    let err = JoseError::Base64 { part };
    let len = b64_decoded_len(text.len()).ok_or(err.clone())?;
    let out = out.get_mut(..len).ok_or(err.clone())?;
    let mut bad = 0u32;
    let mut sextets = |chars: &[u8]| {
        chars.iter().fold(0u32, |acc, c| {
            let x = b64_value(*c);
            bad |= x;
            (acc << 6) | (x & 0x3f)
        })
    };
    // 0xff (table) and 0x100 (unreachable fallback) both exceed 63.
    // Whole groups: fixed-size patterns let the compiler drop the bounds checks and copies.
    // Pre-shifted tables: a group is four loads OR-ed together, and a character outside the
    // alphabet sets the top byte, which no valid group has.
    let mut bad_groups = 0u32;
    let [t0, t1, t2, t3] = &B64_SHIFTED;
    let group = |c0: u8, c1: u8, c2: u8, c3: u8| {
        shifted(t0, c0) | shifted(t1, c1) | shifted(t2, c2) | shifted(t3, c3)
    };
    // Two groups per iteration (one 6-byte store), then at most one single group.
    let mut src2 = text.as_bytes().chunks_exact(8);
    let mut dst2 = out.chunks_exact_mut(6);
    for (s, d) in (&mut src2).zip(&mut dst2) {
        if let ([c0, c1, c2, c3, c4, c5, c6, c7], Ok(d)) = (s, <&mut [u8; 6]>::try_from(d)) {
            let a = group(*c0, *c1, *c2, *c3);
            let b = group(*c4, *c5, *c6, *c7);
            bad_groups |= a | b;
            // 48 bits, big-endian, in the low six bytes of one word.
            let w = ((u64::from(a) << 24) | u64::from(b & 0x00ff_ffff)).to_be_bytes();
            let [_, _, rest @ ..] = w;
            *d = rest;
        }
    }
    let mut src = src2.remainder().chunks_exact(4);
    let mut dst = dst2.into_remainder().chunks_exact_mut(3);
    for (s, d) in (&mut src).zip(&mut dst) {
        if let ([c0, c1, c2, c3], [d0, d1, d2]) = (s, d) {
            let acc = group(*c0, *c1, *c2, *c3);
            bad_groups |= acc;
            let [_, b0, b1, b2] = acc.to_be_bytes();
            (*d0, *d1, *d2) = (b0, b1, b2);
        }
    }
    let rest = src.remainder();
    let tail = dst.into_remainder();
    let value = sextets(rest);
    if bad > 63 || bad_groups > 0x00ff_ffff {
        return Err(err);
    }
    let spare_bits = match rest.len() {
        0 => return Ok(out),
        2 => 4,
        3 => 2,
        _ => return Err(err),
    };
    if value & ((1 << spare_bits) - 1) != 0 {
        return Err(err);
    }
    let bytes = (value >> spare_bits).to_be_bytes();
    let src_tail = bytes.get(4 - tail.len()..).ok_or(err.clone())?;
    tail.copy_from_slice(src_tail);
    Ok(out)
}

/// `table[c]`: a character's 6-bit value shifted into place in a 24-bit group, or
/// `0xff00_0000` outside the alphabet.
#[inline(always)]
fn shifted(table: &[u32; 256], c: u8) -> u32 {
    table.get(usize::from(c)).copied().unwrap_or(0xff00_0000)
}

/// [`B64_TABLE`] shifted for each position of a 4-character group (18, 12, 6, 0 bits).
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: indices below 4 and 256"
)]
static B64_SHIFTED: [[u32; 256]; 4] = {
    let mut t = [[0xff00_0000u32; 256]; 4];
    let mut pos = 0;
    while pos < 4 {
        let mut c = 0;
        while c < 256 {
            let v = B64_TABLE[c];
            if v < 64 {
                t[pos][c] = (v as u32) << (18 - 6 * pos);
            }
            c += 1;
        }
        pos += 1;
    }
    t
};

/// The 6-bit value of a base64url character, or 0x100 (a bit no valid value has).
#[inline]
fn b64_value(c: u8) -> u32 {
    B64_TABLE
        .get(usize::from(c))
        .copied()
        .map_or(0x100, u32::from)
}

/// Base64url alphabet values; 0xff marks characters outside it (0xff > 63 trips the check).
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: a u8 index into 256 entries"
)]
static B64_TABLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0u8;
    while i < 64 {
        let c = match i {
            0..=25 => b'A' + i,
            26..=51 => b'a' + (i - 26),
            52..=61 => b'0' + (i - 52),
            62 => b'-',
            _ => b'_',
        };
        t[c as usize] = i;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding as _};

    #[test]
    fn split_requires_three_segments_and_cap() {
        assert_eq!(split_compact("a.b", 64).err(), Some(JoseError::Segments));
        assert_eq!(
            split_compact("a.b.c.d", 64).err(),
            Some(JoseError::Segments)
        );
        let p = split_compact("aa.bb.cc", 64).ok();
        assert_eq!(p.map(|p| p.signing_input), Some(&b"aa.bb"[..]));
        assert_eq!(
            split_compact("aa.bb.cc", 7).err(),
            Some(JoseError::TooLarge { len: 8, max: 7 })
        );
    }

    #[test]
    fn decoded_len_matches_base64ct() {
        for n in 0..40usize {
            let data = [7u8; 40];
            let mut out = [0u8; 80];
            let enc = Base64UrlUnpadded::encode(data.get(..n).unwrap_or_default(), &mut out)
                .unwrap_or("");
            assert_eq!(b64_decoded_len(enc.len()), Some(n));
        }
        assert_eq!(b64_decoded_len(5), None);
    }

    #[test]
    fn fast_decoder_agrees_with_base64ct() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.?";
        let mut seed = 0x1234_5678_u32;
        for len in 0..24usize {
            for _ in 0..400 {
                let mut text = [0u8; 24];
                for c in text.iter_mut().take(len) {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    *c = alphabet
                        .get((seed >> 16) as usize % alphabet.len())
                        .copied()
                        .unwrap_or(b'A');
                }
                let text = core::str::from_utf8(text.get(..len).unwrap_or_default()).unwrap_or("");
                let (mut a, mut b) = ([0u8; 24], [0u8; 24]);
                let ours = b64_decode_into(text, &mut a, Part::Payload)
                    .ok()
                    .map(<[u8]>::len);
                let theirs = Base64UrlUnpadded::decode(text, &mut b)
                    .ok()
                    .map(<[u8]>::len);
                assert_eq!(ours, theirs, "{text}");
                if ours.is_some() {
                    assert_eq!(a, b, "{text}");
                }
            }
        }
    }

    #[test]
    fn strict_base64url() {
        let mut out = [0u8; 8];
        assert!(b64_decode_into("AQ", &mut out, Part::Header).is_ok());
        assert!(
            b64_decode_into("AR", &mut out, Part::Header).is_err(),
            "non-canonical bits"
        );
        assert!(
            b64_decode_into("AQ==", &mut out, Part::Header).is_err(),
            "padding"
        );
        assert!(
            b64_decode_into("A+", &mut out, Part::Header).is_err(),
            "standard alphabet"
        );
    }
}
