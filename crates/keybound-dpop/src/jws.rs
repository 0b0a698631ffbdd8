//! Compact JWS codec for DPoP proofs (RFC 7515 §7.1, RFC 9449 §4.2).
//!
//! Decoding is strict: exactly three segments, canonical unpadded base64url, strict JSON
//! objects (duplicate members rejected by `keybound_json`). Header and claims are typed views
//! borrowed from the decoded bytes; the signature is checked over the received
//! `header.payload` bytes, never a re-serialization.

use keybound_jose::CompactParts;

use crate::error::DpopError;

/// Cap on the whole proof (RFC 9449 §11 leaves it to the server): a PS256 proof with a
/// 4096-bit key, an `ath` and a long nonce is about 2.6 KB; 8 KiB leaves room for extras.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// Cap on the `jti` length in bytes (after JSON unescaping). RFC 9449 §4.2 suggests 96 bits of
/// randomness; 256 bytes accommodates UUIDs and every generator seen in practice.
pub const MAX_JTI_LEN: usize = 256;

/// The `typ` header value a DPoP proof must carry (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// Splits a proof into its three segments (RFC 7515 §7.1), after the size cap (RFC 9449
/// §4.3 step 2: [`MAX_PROOF_LEN`]).
pub fn split_compact(proof: &str) -> Result<CompactParts<'_>, DpopError> {
    Ok(keybound_jose::split_compact(proof, MAX_PROOF_LEN)?)
}

#[cfg(feature = "alloc")]
pub use decoded::*;

#[cfg(feature = "alloc")]
mod decoded {
    use alloc::borrow::Cow;
    use alloc::vec::Vec;

    use keybound_json::{Limits, Object, Value};
    use keybound_jwk::{Jwk, JwkError};

    use keybound_jose::{
        Algorithm, NumericDate, Part, decode_segments, decoded_total, typ_matches,
    };

    use super::*;
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
        /// Splits and decodes `proof` (size cap, three segments, strict base64url). An empty
        /// signature segment decodes to no bytes; the signature check refuses it.
        pub fn decode(proof: &'a str) -> Result<Self, DpopError> {
            let parts = split_compact(proof)?;
            let mut buf = alloc::vec![0u8; decoded_total(&parts)?];
            let ends = decode_segments(&parts, &mut buf)?;
            Ok(DecodedProof {
                parts,
                buf,
                header_end: ends.header,
                payload_end: ends.payload,
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
            check_typ(typ)?;
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

        /// `typ`: always [`DPOP_TYP`] once typed (however the proof spelled the media type).
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

    /// `typ` is the media type `application/dpop+jwt` (RFC 9449 §4.2, RFC 7515 §4.1.9).
    pub(crate) fn check_typ(typ: Option<Value<'_>>) -> Result<(), DpopError> {
        match typ {
            None => Err(DpopError::MissingTyp),
            Some(v) => match v.as_str() {
                Some(s) if typ_matches(&s, DPOP_TYP) => Ok(()),
                _ => Err(DpopError::InvalidTyp),
            },
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
        /// `iat`, rounded down to a whole second (see [`Claims::iat_date`] for the exact value).
        pub iat: i64,
        /// `iat` as sent: a NumericDate may have a fraction (RFC 7519 §2).
        pub iat_date: NumericDate,
        /// `ath`, when present.
        pub ath: Option<Cow<'a, str>>,
        /// `nonce`, when present (never empty).
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
            let iat_date = match iat {
                None => return Err(DpopError::MissingClaim { claim: Claim::Iat }),
                Some(v) => NumericDate::from_json(&v)
                    .ok_or(DpopError::InvalidClaim { claim: Claim::Iat })?,
            };
            let ath = optional_str(ath, Claim::Ath)?;
            let nonce = optional_str(nonce, Claim::Nonce)?;
            if nonce.as_deref().is_some_and(str::is_empty) {
                return Err(DpopError::InvalidClaim {
                    claim: Claim::Nonce,
                });
            }
            Ok(Claims {
                jti,
                htm,
                htu,
                iat: iat_date.floor(),
                iat_date,
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

    #[test]
    fn split_requires_three_segments_and_the_proof_cap() {
        assert_eq!(split_compact("a.b").err(), Some(DpopError::Segments));
        let p = split_compact("aa.bb.cc").ok();
        assert_eq!(p.map(|p| p.signing_input), Some(&b"aa.bb"[..]));
        let big = "a".repeat(MAX_PROOF_LEN + 1);
        assert_eq!(
            split_compact(&big).err(),
            Some(DpopError::ProofTooLarge {
                len: MAX_PROOF_LEN + 1,
                max: MAX_PROOF_LEN
            })
        );
    }
}
