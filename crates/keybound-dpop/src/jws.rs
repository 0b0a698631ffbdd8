//! Compact JWS codec for DPoP proofs (RFC 7515 §7.1, RFC 9449 §4.2).
//!
//! Decoding is strict: exactly three segments, canonical unpadded base64url, strict JSON
//! objects (duplicate members rejected by `keybound_json`). Header and claims are typed views
//! borrowed from the decoded bytes; the signature is checked over the received
//! `header.payload` bytes, never a re-serialization.

use crate::error::{DpopError, Part};

/// Cap on the whole proof (RFC 9449 §11 leaves it to the server): a PS256 proof with a
/// 4096-bit key, an `ath` and a long nonce is about 2.6 KB; 8 KiB leaves room for extras.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// Cap on the `jti` length in bytes (after JSON unescaping). RFC 9449 §4.2 suggests 96 bits of
/// randomness; 256 bytes accommodates UUIDs and every generator seen in practice.
pub const MAX_JTI_LEN: usize = 256;

/// The `typ` header value a DPoP proof must carry (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

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

/// Splits a compact JWS into its three segments, after the size cap (RFC 9449 §4.3 step 2).
pub fn split_compact(proof: &str) -> Result<CompactParts<'_>, DpopError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::ProofTooLarge {
            len: proof.len(),
            max: MAX_PROOF_LEN,
        });
    }
    let mut it = proof.splitn(4, '.');
    let (Some(header), Some(payload), Some(signature), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(DpopError::Segments);
    };
    let signing_len = header.len() + 1 + payload.len();
    let signing_input = proof
        .as_bytes()
        .get(..signing_len)
        .ok_or(DpopError::Segments)?;
    Ok(CompactParts {
        header,
        payload,
        signature,
        signing_input,
    })
}

#[cfg_attr(
    not(feature = "alloc"),
    allow(dead_code, reason = "used by the alloc codec")
)]
/// Decoded length of unpadded base64url text, or `None` when no canonical text has that length.
pub(crate) fn b64_decoded_len(encoded_len: usize) -> Option<usize> {
    match encoded_len % 4 {
        1 => None,
        r => Some(encoded_len / 4 * 3 + r.saturating_sub(1)),
    }
}

#[cfg_attr(
    not(feature = "alloc"),
    allow(dead_code, reason = "used by the alloc codec")
)]
/// Strict base64url (no padding, canonical trailing bits) into `out`; the decoded slice.
pub(crate) fn b64_decode_into<'o>(
    text: &str,
    out: &'o mut [u8],
    part: Part,
) -> Result<&'o [u8], DpopError> {
    // The proof is public, so a fast variable-time decoder is fine here (base64ct's
    // constant-time one costs several µs per proof); strictness is the same: URL alphabet only,
    // no padding, no length ≡ 1 (mod 4), zero trailing bits.
    let err = DpopError::Base64 { part };
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

#[cfg(feature = "alloc")]
pub use decoded::*;

#[cfg(feature = "alloc")]
mod decoded {
    use alloc::borrow::Cow;
    use alloc::vec::Vec;

    use keybound_json::{Limits, Object, Value};
    use keybound_jwk::{Jwk, JwkError};

    use super::*;
    use crate::alg::Algorithm;
    use crate::error::Claim;

    /// A proof whose segments are base64url-decoded (one allocation for all three).
    #[derive(Clone, Debug)]
    pub struct DecodedProof<'a> {
        parts: CompactParts<'a>,
        buf: Vec<u8>,
        header_end: usize,
        payload_end: usize,
    }

    impl<'a> DecodedProof<'a> {
        /// Splits and decodes `proof` (size cap, three segments, strict base64url).
        pub fn decode(proof: &'a str) -> Result<Self, DpopError> {
            let parts = split_compact(proof)?;
            let mut buf = alloc::vec![0u8; decoded_total(&parts)?];
            let (header_end, payload_end) = decode_segments(&parts, &mut buf)?;
            Ok(DecodedProof {
                parts,
                buf,
                header_end,
                payload_end,
            })
        }

        /// The received segments.
        pub fn parts(&self) -> &CompactParts<'a> {
            &self.parts
        }

        /// The received `header.payload` bytes the signature covers.
        pub fn signing_input(&self) -> &'a [u8] {
            self.parts.signing_input
        }

        /// Decoded header JSON text.
        pub fn header_json(&self) -> &[u8] {
            self.buf.get(..self.header_end).unwrap_or_default()
        }

        /// Decoded payload JSON text.
        pub fn payload_json(&self) -> &[u8] {
            self.buf
                .get(self.header_end..self.payload_end)
                .unwrap_or_default()
        }

        /// Decoded signature bytes.
        pub fn signature(&self) -> &[u8] {
            self.buf.get(self.payload_end..).unwrap_or_default()
        }

        /// The header as a strict JSON object (`malformed` when it is not one).
        pub fn header_object(&self) -> Result<Object<'_>, DpopError> {
            Object::parse(self.header_json()).map_err(|error| DpopError::Json {
                part: Part::Header,
                error,
            })
        }

        /// The payload as a strict JSON object (`malformed` when it is not one).
        pub fn payload_object(&self) -> Result<Object<'_>, DpopError> {
            Object::parse(self.payload_json()).map_err(|error| DpopError::Json {
                part: Part::Payload,
                error,
            })
        }

        /// The typed header (RFC 9449 §4.2); checks `typ`, `alg` name, `jwk`, `crit` in that order.
        pub fn header(&self) -> Result<Header<'_>, DpopError> {
            Header::from_object(self.header_object()?)
        }

        /// The typed claims (RFC 9449 §4.2); checks presence and types of `jti`, `htm`, `htu`,
        /// `iat` (in that order), then `ath` and `nonce` when present.
        pub fn claims(&self) -> Result<Claims<'_>, DpopError> {
            Claims::from_object(self.payload_object()?)
        }
    }

    /// Decoded length of the three segments together.
    pub(crate) fn decoded_total(parts: &CompactParts<'_>) -> Result<usize, DpopError> {
        let len = |text: &str, part| b64_decoded_len(text.len()).ok_or(DpopError::Base64 { part });
        Ok(len(parts.header, Part::Header)?
            + len(parts.payload, Part::Payload)?
            + len(parts.signature, Part::Signature)?)
    }

    /// Decodes the three segments one after the other into `buf` (exactly
    /// [`decoded_total`] bytes); returns where the header and the payload end.
    pub(crate) fn decode_segments(
        parts: &CompactParts<'_>,
        buf: &mut [u8],
    ) -> Result<(usize, usize), DpopError> {
        let header_end = b64_decode_into(parts.header, buf, Part::Header)?.len();
        let rest = buf.get_mut(header_end..).unwrap_or_default();
        let payload_len = b64_decode_into(parts.payload, rest, Part::Payload)?.len();
        let payload_end = header_end + payload_len;
        let rest = buf.get_mut(payload_end..).unwrap_or_default();
        let sig_len = b64_decode_into(parts.signature, rest, Part::Signature)?.len();
        if parts.signature.is_empty() || sig_len == 0 {
            return Err(DpopError::Base64 {
                part: Part::Signature,
            });
        }
        Ok((header_end, payload_end))
    }

    /// Parses decoded header or payload JSON, taking the values of `names` in the same pass.
    pub(crate) fn parse_picking<'j, const N: usize>(
        json: &'j [u8],
        part: Part,
        names: [&str; N],
    ) -> Result<(Object<'j>, [Option<Value<'j>>; N]), DpopError> {
        Object::parse_picking(json, &Limits::DEFAULT, names)
            .map_err(|error| DpopError::Json { part, error })
    }

    /// The protected header of a DPoP proof (RFC 9449 §4.2): `typ`, `alg`, `jwk`; other members
    /// are kept in [`Header::object`].
    #[derive(Clone, Copy, Debug)]
    pub struct Header<'a> {
        alg: Algorithm,
        jwk: Jwk<'a>,
        object: Object<'a>,
    }

    impl<'a> Header<'a> {
        /// Types a parsed header: `typ` = `dpop+jwt`, `alg` a known asymmetric name, `jwk` a
        /// public JWK, no `crit` (no extension is understood).
        pub fn from_object(object: Object<'a>) -> Result<Self, DpopError> {
            let [typ, alg, jwk, crit] = object.pick(HEADER_MEMBERS);
            match typ {
                None => return Err(DpopError::MissingTyp),
                Some(v) => match v.as_str() {
                    Some(s) if s.eq_str(DPOP_TYP) => {}
                    _ => return Err(DpopError::InvalidTyp),
                },
            }
            let alg = match alg {
                None => return Err(DpopError::MissingAlg),
                Some(v) => Algorithm::from_json(&v).ok_or(DpopError::UnsupportedAlg)?,
            };
            let jwk_obj = match jwk {
                Some(Value::Object(o)) => o,
                _ => return Err(DpopError::MissingJwk),
            };
            let jwk = Jwk::from_object(jwk_obj).map_err(map_jwk_error)?;
            if jwk.is_private() {
                return Err(DpopError::PrivateJwk);
            }
            if crit.is_some() {
                return Err(DpopError::UnsupportedCrit);
            }
            Ok(Header { alg, jwk, object })
        }

        pub(crate) fn from_parts(alg: Algorithm, jwk: Jwk<'a>, object: Object<'a>) -> Self {
            Header { alg, jwk, object }
        }

        /// `typ`: always [`DPOP_TYP`] once typed.
        pub fn typ(&self) -> &'static str {
            DPOP_TYP
        }

        /// `alg`.
        pub fn alg(&self) -> Algorithm {
            self.alg
        }

        /// `jwk`: the public key the proof is signed with.
        pub fn jwk(&self) -> &Jwk<'a> {
            &self.jwk
        }

        /// The whole header object (for `kid`, extensions, …).
        pub fn object(&self) -> Object<'a> {
            self.object
        }
    }

    /// The header members [`Header::from_object`] and the validator read, in this order.
    pub(crate) const HEADER_MEMBERS: [&str; 4] = ["typ", "alg", "jwk", "crit"];

    /// The claims [`Claims::from_object`] reads, in this order.
    pub(crate) const CLAIM_MEMBERS: [&str; 6] = ["jti", "htm", "htu", "iat", "ath", "nonce"];

    pub(crate) fn map_jwk_error(e: JwkError) -> DpopError {
        match e {
            JwkError::PrivateKey { .. } => DpopError::PrivateJwk,
            e => DpopError::InvalidJwk(e),
        }
    }

    /// The claims of a DPoP proof (RFC 9449 §4.2), borrowed from the decoded payload; JSON
    /// escapes are resolved (a `Cow` borrows when there are none). Unknown claims are kept in
    /// [`Claims::object`] and otherwise ignored.
    #[derive(Clone, Debug)]
    pub struct Claims<'a> {
        /// `jti`: non-empty, at most [`MAX_JTI_LEN`] bytes.
        pub jti: Cow<'a, str>,
        /// `htm`.
        pub htm: Cow<'a, str>,
        /// `htu`.
        pub htu: Cow<'a, str>,
        /// `iat` (integer NumericDate).
        pub iat: i64,
        /// `ath`, when present.
        pub ath: Option<Cow<'a, str>>,
        /// `nonce`, when present.
        pub nonce: Option<Cow<'a, str>>,
        object: Object<'a>,
    }

    fn required_str<'a>(value: Option<Value<'a>>, claim: Claim) -> Result<Cow<'a, str>, DpopError> {
        match value {
            None => Err(DpopError::MissingClaim { claim }),
            Some(v) => v
                .as_str()
                .map(|s| s.to_cow())
                .ok_or(DpopError::InvalidClaim { claim }),
        }
    }

    fn optional_str<'a>(
        value: Option<Value<'a>>,
        claim: Claim,
    ) -> Result<Option<Cow<'a, str>>, DpopError> {
        match value {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_cow()))
                .ok_or(DpopError::InvalidClaim { claim }),
        }
    }

    impl<'a> Claims<'a> {
        /// Types a parsed claims set.
        pub fn from_object(object: Object<'a>) -> Result<Self, DpopError> {
            Self::from_picked(object, object.pick(CLAIM_MEMBERS))
        }

        /// Types a claims set whose [`CLAIM_MEMBERS`] values are already at hand.
        pub(crate) fn from_picked(
            object: Object<'a>,
            [jti, htm, htu, iat, ath, nonce]: [Option<Value<'a>>; 6],
        ) -> Result<Self, DpopError> {
            let jti = match jti {
                None => return Err(DpopError::MissingClaim { claim: Claim::Jti }),
                Some(v) => {
                    let s = v
                        .as_str()
                        .ok_or(DpopError::InvalidClaim { claim: Claim::Jti })?;
                    let len = s.unescaped_len();
                    if len > MAX_JTI_LEN {
                        return Err(DpopError::JtiTooLong {
                            len,
                            max: MAX_JTI_LEN,
                        });
                    }
                    if len == 0 {
                        return Err(DpopError::InvalidClaim { claim: Claim::Jti });
                    }
                    s.to_cow()
                }
            };
            let htm = required_str(htm, Claim::Htm)?;
            let htu = required_str(htu, Claim::Htu)?;
            let iat = match iat {
                None => return Err(DpopError::MissingClaim { claim: Claim::Iat }),
                Some(v) => v
                    .as_i64()
                    .ok_or(DpopError::InvalidClaim { claim: Claim::Iat })?,
            };
            let ath = optional_str(ath, Claim::Ath)?;
            let nonce = optional_str(nonce, Claim::Nonce)?;
            Ok(Claims {
                jti,
                htm,
                htu,
                iat,
                ath,
                nonce,
                object,
            })
        }

        /// The whole claims object (unknown claims included).
        pub fn object(&self) -> Object<'a> {
            self.object
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding as _};

    #[test]
    fn split_requires_three_segments_and_cap() {
        assert_eq!(split_compact("a.b").err(), Some(DpopError::Segments));
        assert_eq!(split_compact("a.b.c.d").err(), Some(DpopError::Segments));
        let p = split_compact("aa.bb.cc").ok();
        assert_eq!(p.map(|p| p.signing_input), Some(&b"aa.bb"[..]));
        let big = "a".repeat(MAX_PROOF_LEN + 1);
        assert!(matches!(
            split_compact(&big),
            Err(DpopError::ProofTooLarge { .. })
        ));
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
