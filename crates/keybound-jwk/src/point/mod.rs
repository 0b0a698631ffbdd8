//! Key checks that make a JWK usable alike on every signature backend: EC points on their
//! curve with reduced coordinates, Ed25519 points canonical, decompressible and not of small
//! order. Pure field arithmetic, no dependency, no heap.

use core::fmt;

use crate::{EcCurve, Jwk, JwkError, OkpCurve, PublicParams};

mod ec;
mod ed25519;

pub use ed25519::ed25519_decompresses;

/// What is wrong with a key's point (see [`JwkError::InvalidPoint`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointFault {
    /// A coordinate is not below the field prime p: EC `x` or `y` (SEC 1 §3.2.2.1 step 2),
    /// or the `y` of an Ed25519 encoding (RFC 8032 §5.1.3 step 1). Such an encoding names a
    /// point that also has a canonical one, so two thumbprints would mean one key.
    NotReduced,
    /// Ed25519: x = 0 written with the sign bit set (RFC 8032 §5.1.3 step 4), a second
    /// spelling of the identity or of the point of order 2.
    NegativeZero,
    /// Not a point of the curve: EC y² ≠ x³ − 3x + b (SEC 1 §3.2.2.1 step 3; the all-zero
    /// "point at infinity" included); Ed25519 no x with x² = (y² − 1)/(d·y² + 1) (RFC 8032
    /// §5.1.3 step 3).
    NotOnCurve,
    /// Ed25519: a point of small order (1, 2, 4 or 8). R = that point, S = 0 then verifies
    /// every message on backends that do not refuse such keys.
    SmallOrder {
        /// The order of the point: 1 (the identity), 2, 4 or 8.
        order: u8,
    },
}

impl fmt::Display for PointFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReduced => f.write_str("is not below the field prime p"),
            Self::NegativeZero => f.write_str("has x = 0 with the sign bit set"),
            Self::NotOnCurve => f.write_str("does not give a point of the curve"),
            Self::SmallOrder { order } => write!(
                f,
                "is a point of small order {order}: one signature would verify every message"
            ),
        }
    }
}

impl Jwk<'_> {
    /// Every check of the key's public value that keybound makes beyond parsing, so that a
    /// key any backend refuses is refused here first (reason `jwk`, never `signature`):
    ///
    /// - `EC` (P-256, P-384, P-521): `x` and `y` below p, and the point on the curve
    ///   (SEC 1 §3.2.2.1 steps 2–3). About 0.1–0.5 µs.
    /// - `OKP` `Ed25519`: the RFC 8032 §5.1.3 decoding succeeds (`y` below p, x = 0 not
    ///   written with the sign bit, an x exists) and the point is not of small order.
    ///   About 3 µs, almost all of it the decompression.
    /// - `RSA`: nothing beyond what parsing checks (`n` odd and at most 8192 bits, `e` odd,
    ///   at least 3, at most 64 bits).
    /// - `OKP` `Ed448`, `X25519`, `X448`: nothing; keybound verifies no signature with them.
    ///
    /// [`Jwk::check_key_without_decompression`] skips only the Ed25519 decompression, for a
    /// caller whose next step decompresses the point and refuses failure itself.
    pub fn check_key(&self) -> Result<(), JwkError> {
        self.check(true)
    }

    /// [`Jwk::check_key`] without the Ed25519 decompression (RFC 8032 §5.1.3 step 3): for a
    /// caller that decompresses next and refuses a point that does not decompress as an
    /// invalid key (ed25519-dalek's `VerifyingKey::from_bytes` does; *ring* and aws-lc-rs
    /// only fail the signature, so use [`Jwk::check_key`] before them). Byte comparisons for
    /// Ed25519, the same EC checks as [`Jwk::check_key`].
    pub fn check_key_without_decompression(&self) -> Result<(), JwkError> {
        self.check(false)
    }

    fn check(&self, decompress: bool) -> Result<(), JwkError> {
        match *self.params() {
            PublicParams::Ec { crv, x, y } => {
                let mut xb = [0u8; 66];
                let mut yb = [0u8; 66];
                let (x, y) = (x.decode_into(&mut xb)?, y.decode_into(&mut yb)?);
                let checked = match crv {
                    EcCurve::P256 => ec::P256.check(x, y),
                    EcCurve::P384 => ec::P384.check(x, y),
                    EcCurve::P521 => ec::P521.check(x, y),
                };
                checked.map_err(|(member, fault)| JwkError::InvalidPoint {
                    crv: crv.name(),
                    member,
                    fault,
                })
            }
            PublicParams::Okp {
                crv: OkpCurve::Ed25519,
                x,
            } => {
                let mut key = [0u8; 32];
                x.decode_into(&mut key)?;
                let fault = |fault| JwkError::InvalidPoint {
                    crv: OkpCurve::Ed25519.name(),
                    member: "x",
                    fault,
                };
                ed25519::check_encoding(&key).map_err(fault)?;
                if decompress && !ed25519_decompresses(&key) {
                    return Err(fault(PointFault::NotOnCurve));
                }
                Ok(())
            }
            PublicParams::Okp { .. } | PublicParams::Rsa { .. } => Ok(()),
        }
    }
}
