//! Whether a public JWK may verify a given JWS algorithm (RFC 7517 §4.2–§4.4, RFC 7518 §3,
//! RFC 8037 §3.1): the same rules for a DPoP proof's embedded `jwk` (RFC 9449 §4.3 step 2)
//! and a JWKS key chosen for an access token (RFC 9068 §4).

use keybound_jwk::{EcCurve, Jwk, OkpCurve, PublicParams};

use crate::alg::{Algorithm, KeyKind};
use crate::error::{JoseError, KeyMismatch};

/// The smallest RSA modulus any verifier here accepts, in bits (RFC 7518 §3.3, FAPI 2.0
/// §5.4.1; *ring* and aws-lc-rs verify 2048–8192-bit keys only). A policy minimum below it is
/// raised to it, so every backend gives the same verdict.
pub const MIN_RSA_BITS_FLOOR: usize = 2048;

/// ES256 ⇔ P-256, ES384 ⇔ P-384, PS256/RS256 ⇔ RSA ≥ `min_rsa_bits` (never below
/// [`MIN_RSA_BITS_FLOOR`]) with an odd 3 ≤ e < 2^33, EdDSA/Ed25519 ⇔ OKP Ed25519.
///
/// A JWK `alg` member, when present, must name `alg` (EdDSA and Ed25519 being one algorithm),
/// a `use` member must be `sig` and `key_ops` must include `verify` (RFC 7517 §4.2–§4.4).
pub fn check_key_fits(alg: Algorithm, jwk: &Jwk<'_>, min_rsa_bits: usize) -> Result<(), JoseError> {
    check_key_members(alg, jwk)?;
    check_key_shape(alg, jwk, min_rsa_bits.max(MIN_RSA_BITS_FLOOR))
}

/// The JWK's own `alg`, `use` and `key_ops` members against `alg` (RFC 7517 §4.2–§4.4).
pub fn check_key_members(alg: Algorithm, jwk: &Jwk<'_>) -> Result<(), JoseError> {
    // A JWK with only its required members (kty + the RFC 7638 ones) has none of these; the
    // common case skips a second pass over a (possibly 4096-bit) modulus.
    let required = match jwk.params() {
        PublicParams::Ec { .. } => 4,
        _ => 3,
    };
    if jwk.object().len() <= required {
        return Ok(());
    }
    let [key_alg, key_use, key_ops] = jwk.object().pick(["alg", "use", "key_ops"]);
    let mismatch = |mismatch| JoseError::KeyAlgMismatch { alg, mismatch };
    if let Some(v) = key_alg {
        let same = match Algorithm::from_json(&v) {
            Some(Algorithm::EdDsa | Algorithm::Ed25519) => {
                matches!(alg, Algorithm::EdDsa | Algorithm::Ed25519)
            }
            Some(a) => a == alg,
            None => false,
        };
        if !same {
            return Err(mismatch(KeyMismatch::AlgMember));
        }
    }
    if let Some(v) = key_use
        && !v.as_str().is_some_and(|s| s.eq_str("sig"))
    {
        return Err(mismatch(KeyMismatch::UseMember));
    }
    if let Some(v) = key_ops
        && !v.as_array().is_some_and(|a| {
            a.iter()
                .any(|op| op.as_str().is_some_and(|s| s.eq_str("verify")))
        })
    {
        return Err(mismatch(KeyMismatch::KeyOpsMember));
    }
    Ok(())
}

/// The key-type part of [`check_key_fits`]: type and curve, RSA size (at least
/// `min_rsa_bits`, taken as given) and exponent; not the JWK's `alg`/`use`/`key_ops` members.
pub fn check_key_shape(
    alg: Algorithm,
    jwk: &Jwk<'_>,
    min_rsa_bits: usize,
) -> Result<(), JoseError> {
    let fits = match (alg.key_kind(), jwk.params()) {
        (
            KeyKind::EcP256,
            PublicParams::Ec {
                crv: EcCurve::P256, ..
            },
        )
        | (
            KeyKind::EcP384,
            PublicParams::Ec {
                crv: EcCurve::P384, ..
            },
        )
        | (
            KeyKind::Ed25519,
            PublicParams::Okp {
                crv: OkpCurve::Ed25519,
                ..
            },
        ) => true,
        (KeyKind::Rsa, PublicParams::Rsa { e, .. }) => {
            let bits = jwk.rsa_modulus_bits().unwrap_or(0);
            if bits < min_rsa_bits {
                return Err(JoseError::RsaKeyTooSmall {
                    bits,
                    min: min_rsa_bits,
                });
            }
            let mut buf = [0u8; 8];
            let e = e
                .decode_into(&mut buf)
                .map_err(|_| JoseError::RsaExponent)?;
            let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            // RFC 8017 §3.1: 3 ≤ e, odd; rsa/ring cap it at 2^33 - 1 against slow-verify DoS.
            if value < 3 || value % 2 == 0 || value > (1 << 33) - 1 {
                return Err(JoseError::RsaExponent);
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(JoseError::KeyAlgMismatch {
            alg,
            mismatch: KeyMismatch::KeyType {
                found: jwk.params().describe(),
            },
        })
    }
}
