//! The error type of the JWK layer.

use core::fmt;

use keybound_json::JsonError;

use crate::PointFault;

/// Why a JWK was refused, or could not be used the way asked.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwkError {
    /// The JWK is not a valid JSON object (RFC 7517 §4).
    Json(JsonError),
    /// A member required for the key type is absent (RFC 7518 §6; RFC 8037 §2).
    MissingMember {
        /// Member name.
        member: &'static str,
    },
    /// A member has the wrong JSON type (RFC 7517 §4).
    WrongType {
        /// Member name.
        member: &'static str,
        /// JSON type expected.
        expected: &'static str,
        /// JSON type found.
        found: &'static str,
    },
    /// `kty` names no key type this crate knows (RFC 7518 §6.1: `EC`, `RSA`, `oct`; RFC 8037 §2: `OKP`).
    UnknownKeyType,
    /// `kty` is `oct`: a symmetric key is never a public key.
    SymmetricKey,
    /// `crv` names no registered curve (RFC 7518 §6.2.1.1; RFC 8037 §2).
    UnknownCurve {
        /// The key type.
        kty: &'static str,
    },
    /// `crv` names a curve registered for another key type (e.g. `EC` with `Ed25519`).
    CurveMismatch {
        /// The key type.
        kty: &'static str,
        /// The curve named.
        crv: &'static str,
    },
    /// The curve is recognized but not supported by this operation (e.g. Ed448 to Ed25519).
    UnsupportedCurve {
        /// The curve named.
        crv: &'static str,
    },
    /// A member is not canonical unpadded base64url (RFC 7515 §2) once its JSON escapes are
    /// decoded: alphabet, padding, or non-zero trailing bits.
    Base64 {
        /// Member name.
        member: &'static str,
    },
    /// A coordinate or key has the wrong decoded length (RFC 7518 §6.2.1.2–3; RFC 8037 §2).
    CoordinateLength {
        /// Member name.
        member: &'static str,
        /// Length the curve requires, in bytes.
        expected: usize,
        /// Decoded length found, in bytes.
        actual: usize,
    },
    /// A Base64urlUInt with a leading zero octet (RFC 7518 §2: minimum number of octets).
    NonMinimalInteger {
        /// Member name.
        member: &'static str,
    },
    /// The RSA modulus is zero, even, or larger than [`MAX_RSA_MODULUS_BITS`](crate::MAX_RSA_MODULUS_BITS).
    InvalidRsaModulus,
    /// The RSA public exponent is even, below 3, or longer than 64 bits.
    InvalidRsaExponent,
    /// A private-key member is present where a public key is required (RFC 7517 §9.2).
    PrivateKey {
        /// The first private member found.
        member: &'static str,
    },
    /// The key is of another type than the operation needs.
    WrongKeyType {
        /// Key type the operation needs.
        expected: &'static str,
        /// Key type of this JWK.
        found: &'static str,
    },
    /// The key's public value is not a usable point: not canonical, not on the curve, or
    /// (Ed25519) of small order (SEC 1 §3.2.2.1; RFC 8032 §5.1.3); see [`Jwk::check_key`].
    ///
    /// [`Jwk::check_key`]: crate::Jwk::check_key
    InvalidPoint {
        /// The curve (`P-256`, `P-384`, `P-521`, `Ed25519`).
        crv: &'static str,
        /// The member at fault: the coordinate out of range, `y` for an EC point off the
        /// curve, `x` for Ed25519.
        member: &'static str,
        /// What is wrong.
        fault: PointFault,
    },
    /// The cryptography library refused the key material for a reason of its own (e.g. the
    /// `rsa` crate's size limits); faults of the point itself are `InvalidPoint`.
    InvalidKey,
    /// The buffer given to [`B64::decode_into`](crate::B64::decode_into) is too short.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "JWK: {e}"),
            Self::MissingMember { member } => write!(f, "JWK is missing the `{member}` member"),
            Self::WrongType {
                member,
                expected,
                found,
            } => {
                write!(
                    f,
                    "JWK member `{member}` must be a {expected}, found a {found}"
                )
            }
            Self::UnknownKeyType => f.write_str("JWK `kty` is not EC, RSA or OKP"),
            Self::SymmetricKey => {
                f.write_str("JWK `kty` is oct: a symmetric key is not a public key")
            }
            Self::UnknownCurve { kty } => {
                write!(f, "JWK `crv` is not a registered curve for kty {kty}")
            }
            Self::CurveMismatch { kty, crv } => {
                write!(f, "JWK curve {crv} does not belong to kty {kty}")
            }
            Self::UnsupportedCurve { crv } => write!(f, "JWK curve {crv} is not supported here"),
            Self::Base64 { member } => {
                write!(
                    f,
                    "JWK member `{member}` is not canonical unpadded base64url"
                )
            }
            Self::CoordinateLength {
                member,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "JWK member `{member}` decodes to {actual} bytes, {expected} required"
                )
            }
            Self::NonMinimalInteger { member } => {
                write!(
                    f,
                    "JWK member `{member}` has a leading zero octet (RFC 7518 §2)"
                )
            }
            Self::InvalidRsaModulus => {
                f.write_str("JWK RSA modulus `n` is zero, even or too large")
            }
            Self::InvalidRsaExponent => {
                f.write_str("JWK RSA exponent `e` is even, below 3 or longer than 64 bits")
            }
            Self::PrivateKey { member } => {
                write!(
                    f,
                    "JWK carries the private member `{member}` where a public key is required"
                )
            }
            Self::WrongKeyType { expected, found } => {
                write!(f, "JWK is a {found} key, a {expected} key is needed")
            }
            Self::InvalidPoint { crv, member, fault } => {
                write!(f, "JWK {crv} key member `{member}` {fault}")
            }
            Self::InvalidKey => f.write_str("JWK key material is not a valid public key"),
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small ({needed} bytes needed)")
            }
        }
    }
}

impl core::error::Error for JwkError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JsonError> for JwkError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}
