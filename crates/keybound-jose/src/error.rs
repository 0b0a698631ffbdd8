//! Errors of the compact-JWS layer (RFC 7515 §5.2, RFC 7518 §3), shared by DPoP proofs and
//! JWT access tokens; each protocol crate maps them into its own error with its own wording.

use core::fmt;

use keybound_json::JsonError;
use keybound_jwk::JwkError;

use crate::alg::Algorithm;

/// A compact-JWS part (RFC 7515 §7.1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The protected header.
    Header,
    /// The payload (claims set).
    Payload,
    /// The signature.
    Signature,
}

impl Part {
    /// Lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        }
    }
}

/// Why a key does not fit the JWS `alg` (RFC 7517 §4.2–§4.4, RFC 7518 §3.1): names what was
/// refused, so a message never contradicts itself.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMismatch {
    /// The key type or curve is not the one `alg` needs.
    KeyType {
        /// The key's type and curve, e.g. `"EC P-384"`.
        found: &'static str,
    },
    /// The JWK's own `alg` member names another algorithm (RFC 7517 §4.4).
    AlgMember,
    /// The JWK's `use` member is not `sig` (RFC 7517 §4.2).
    UseMember,
    /// The JWK's `key_ops` member does not include `verify` (RFC 7517 §4.3).
    KeyOpsMember,
}

/// The JWS member or part at fault, coarsely: protocol crates turn it into their own reason.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Structure: size cap, segments, base64url, JSON, `crit`.
    Malformed,
    /// The `typ` header.
    Typ,
    /// The `alg` header.
    Alg,
    /// The key (embedded `jwk`, or the key chosen from a JWKS).
    Key,
    /// The signature.
    Signature,
}

/// Why a compact JWS, its header or its key was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum JoseError {
    /// The serialization is longer than the cap.
    TooLarge {
        /// Length received.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// Not three `.`-separated segments (RFC 7515 §7.1).
    Segments,
    /// A segment is not canonical unpadded base64url (RFC 7515 §2).
    Base64 {
        /// The segment.
        part: Part,
    },
    /// A segment is not a strict JSON object (syntax, duplicate members, caps).
    Json {
        /// The segment.
        part: Part,
        /// What the strict reader found.
        error: JsonError,
    },
    /// `crit` is present (no extension is understood, RFC 7515 §4.1.11).
    UnsupportedCrit,
    /// `typ` absent.
    MissingTyp,
    /// `typ` is not the expected media type (RFC 7515 §4.1.9).
    InvalidTyp,
    /// `alg` absent.
    MissingAlg,
    /// `alg` is not an asymmetric algorithm this crate knows (`none`, `HS256`, …).
    UnsupportedAlg,
    /// `alg` known but refused by the policy or the verifier.
    AlgNotAllowed {
        /// The algorithm.
        alg: Algorithm,
    },
    /// The key is not a valid public JWK.
    InvalidJwk(JwkError),
    /// The key carries private members (RFC 7517 §9.2).
    PrivateJwk,
    /// The key does not fit `alg`.
    KeyAlgMismatch {
        /// The JWS algorithm.
        alg: Algorithm,
        /// What does not fit.
        mismatch: KeyMismatch,
    },
    /// RSA modulus shorter than the minimum.
    RsaKeyTooSmall {
        /// Modulus bits.
        bits: usize,
        /// Minimum.
        min: usize,
    },
    /// RSA public exponent not acceptable (below 3, even, or above 2^33 − 1).
    RsaExponent,
    /// The verifier could not use the key.
    UnusableKey,
    /// Signature length wrong for the algorithm or key (e.g. a DER ECDSA signature, an empty
    /// signature segment).
    SignatureLength {
        /// Required length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// The signature does not verify.
    BadSignature,
}

impl JoseError {
    /// Which part of the JWS is at fault.
    pub const fn fault(&self) -> Fault {
        match self {
            JoseError::TooLarge { .. }
            | JoseError::Segments
            | JoseError::Base64 { .. }
            | JoseError::Json { .. }
            | JoseError::UnsupportedCrit => Fault::Malformed,
            JoseError::MissingTyp | JoseError::InvalidTyp => Fault::Typ,
            JoseError::MissingAlg | JoseError::UnsupportedAlg | JoseError::AlgNotAllowed { .. } => {
                Fault::Alg
            }
            JoseError::InvalidJwk(_)
            | JoseError::PrivateJwk
            | JoseError::KeyAlgMismatch { .. }
            | JoseError::RsaKeyTooSmall { .. }
            | JoseError::RsaExponent
            | JoseError::UnusableKey => Fault::Key,
            JoseError::SignatureLength { .. } | JoseError::BadSignature => Fault::Signature,
        }
    }
}

impl fmt::Display for KeyMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMismatch::KeyType { found } => write!(f, "key is {found}"),
            KeyMismatch::AlgMember => {
                f.write_str("the key's own alg member names another algorithm")
            }
            KeyMismatch::UseMember => f.write_str("the key's use member is not sig"),
            KeyMismatch::KeyOpsMember => {
                f.write_str("the key's key_ops member does not include verify")
            }
        }
    }
}

/// Writes the `"… does not fit alg X: …"` text shared by the protocol crates' errors.
pub(crate) fn write_key_mismatch(
    f: &mut fmt::Formatter<'_>,
    alg: Algorithm,
    mismatch: KeyMismatch,
) -> fmt::Result {
    match mismatch {
        KeyMismatch::KeyType { found } => {
            write!(
                f,
                "key is {found}, alg {alg} needs {}",
                alg.key_kind().describe()
            )
        }
        other => write!(f, "key refused for alg {alg}: {other}"),
    }
}

/// `"… does not fit alg X: …"` as a value, for protocol crates' `Display` implementations.
#[derive(Clone, Copy, Debug)]
pub struct KeyMismatchText {
    /// The JWS algorithm.
    pub alg: Algorithm,
    /// What did not fit.
    pub mismatch: KeyMismatch,
}

impl fmt::Display for KeyMismatchText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_key_mismatch(f, self.alg, self.mismatch)
    }
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoseError::TooLarge { len, max } => {
                write!(f, "JWS is {len} bytes, more than the {max}-byte cap")
            }
            JoseError::Segments => f.write_str("not a compact JWS of three segments"),
            JoseError::Base64 { part } => {
                write!(f, "{} is not canonical unpadded base64url", part.name())
            }
            JoseError::Json { part, error } => {
                write!(f, "{} is not a strict JSON object: {error}", part.name())
            }
            JoseError::UnsupportedCrit => f.write_str("crit header names an unsupported extension"),
            JoseError::MissingTyp => f.write_str("typ header missing"),
            JoseError::InvalidTyp => f.write_str("typ header is not the expected media type"),
            JoseError::MissingAlg => f.write_str("alg header missing"),
            JoseError::UnsupportedAlg => {
                f.write_str("alg is not a supported asymmetric JWS algorithm")
            }
            JoseError::AlgNotAllowed { alg } => write!(f, "alg {alg} is not allowed"),
            JoseError::InvalidJwk(e) => write!(f, "key is not a valid public JWK: {e}"),
            JoseError::PrivateJwk => f.write_str("key contains private key members"),
            JoseError::KeyAlgMismatch { alg, mismatch } => write_key_mismatch(f, *alg, *mismatch),
            JoseError::RsaKeyTooSmall { bits, min } => {
                write!(f, "RSA modulus of {bits} bits, fewer than {min}")
            }
            JoseError::RsaExponent => f.write_str("RSA public exponent not acceptable"),
            JoseError::UnusableKey => f.write_str("key is not usable for alg"),
            JoseError::SignatureLength { expected, actual } => {
                write!(f, "signature is {actual} bytes, {expected} required")
            }
            JoseError::BadSignature => f.write_str("signature does not verify"),
        }
    }
}

impl core::error::Error for JoseError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            JoseError::Json { error, .. } => Some(error),
            JoseError::InvalidJwk(e) => Some(e),
            _ => None,
        }
    }
}
