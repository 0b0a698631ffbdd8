//! Validation errors, their CLI `reason` and their wire mapping (RFC 9449 §4.3, §7.1, §8, §12).

use core::fmt;

use crate::htu::HtuError;
use crate::nonce::NonceError;
use crate::replay::ReplayError;
use keybound_jose::{Algorithm, JoseError, KeyMismatch, KeyMismatchText, Part};
use keybound_json::JsonError;
use keybound_jwk::JwkError;

/// A DPoP claim (RFC 9449 §4.2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `jti`: unique identifier of the proof.
    Jti,
    /// `htm`: HTTP method.
    Htm,
    /// `htu`: HTTP target URI.
    Htu,
    /// `iat`: creation time.
    Iat,
    /// `ath`: access-token hash.
    Ath,
    /// `nonce`: server-provided nonce.
    Nonce,
}

impl Claim {
    /// The claim name as it appears in the JWT.
    pub const fn name(self) -> &'static str {
        match self {
            Claim::Jti => "jti",
            Claim::Htm => "htm",
            Claim::Htu => "htu",
            Claim::Iat => "iat",
            Claim::Ath => "ath",
            Claim::Nonce => "nonce",
        }
    }

    const fn reason(self) -> Reason {
        match self {
            Claim::Jti => Reason::Jti,
            Claim::Htm => Reason::Htm,
            Claim::Htu => Reason::Htu,
            Claim::Iat => Reason::Iat,
            Claim::Ath => Reason::Ath,
            Claim::Nonce => Reason::Nonce,
        }
    }
}

/// The member at fault: exactly the CLI contract's `reason` strings.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Structure: header count, size caps, segments, base64url, JSON, duplicate members, `crit`.
    Malformed,
    /// `typ` missing or not `dpop+jwt`.
    Typ,
    /// `alg` missing, unknown, symmetric, `none`, or outside the allow-list.
    Alg,
    /// `jwk` missing, private, invalid, or not fitting `alg`.
    Jwk,
    /// Signature does not verify.
    Signature,
    /// `jti` missing, empty, too long or not a string.
    Jti,
    /// `htm` missing or not the request method.
    Htm,
    /// `htu` missing or not the request URI.
    Htu,
    /// `iat` missing, not an integer, too old or too far in the future.
    Iat,
    /// `ath` missing or not the access-token hash.
    Ath,
    /// Server nonce missing, wrong or stale (wire error `use_dpop_nonce`).
    Nonce,
    /// `jti` seen before (or the replay store could not record it).
    Replay,
    /// Proof key thumbprint differs from the expected `jkt`.
    KeyBinding,
}

impl Reason {
    /// The CLI `reason` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Typ => "typ",
            Reason::Alg => "alg",
            Reason::Jwk => "jwk",
            Reason::Signature => "signature",
            Reason::Jti => "jti",
            Reason::Htm => "htm",
            Reason::Htu => "htu",
            Reason::Iat => "iat",
            Reason::Ath => "ath",
            Reason::Nonce => "nonce",
            Reason::Replay => "replay",
            Reason::KeyBinding => "key_binding",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OAuth error code on the wire (RFC 9449 §7.1, §8, §12.2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// `invalid_dpop_proof`.
    InvalidDpopProof,
    /// `use_dpop_nonce`: answer with a fresh `DPoP-Nonce` header.
    UseDpopNonce,
}

impl WireError {
    /// The error code.
    pub const fn as_str(self) -> &'static str {
        match self {
            WireError::InvalidDpopProof => "invalid_dpop_proof",
            WireError::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a DPoP proof was rejected (RFC 9449 §4.3), with the context to log it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum DpopError {
    // ---- malformed (step 1 and JSON structure) ----
    /// No `DPoP` header value.
    MissingProof,
    /// More than one `DPoP` header value (or a comma-joined one).
    MultipleProofs,
    /// The proof is longer than the cap.
    ProofTooLarge {
        /// Length received.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// Not three `.`-separated segments (compact JWS, RFC 7515 §7.1).
    Segments,
    /// A segment is empty where it may not be, or not canonical unpadded base64url.
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
    /// `crit` is present (no extension is understood here, RFC 7515 §4.1.11) or malformed.
    UnsupportedCrit,
    // ---- typ ----
    /// `typ` absent.
    MissingTyp,
    /// `typ` not the string `dpop+jwt`.
    InvalidTyp,
    // ---- alg ----
    /// `alg` absent.
    MissingAlg,
    /// `alg` not an asymmetric algorithm this crate knows (`none`, `HS256`, …).
    UnsupportedAlg,
    /// `alg` known but refused by the policy or the verifier.
    AlgNotAllowed {
        /// The algorithm.
        alg: Algorithm,
    },
    // ---- jwk ----
    /// `jwk` header absent or not an object.
    MissingJwk,
    /// `jwk` is not a valid public JWK.
    InvalidJwk(JwkError),
    /// `jwk` carries private members (RFC 9449 §4.3 step 7).
    PrivateJwk,
    /// `jwk` does not fit `alg`: its type or curve, or its own `alg`, `use` or `key_ops`
    /// member (RFC 7517 §4.2–§4.4).
    KeyAlgMismatch {
        /// The header's algorithm.
        alg: Algorithm,
        /// What does not fit.
        mismatch: KeyMismatch,
    },
    /// RSA modulus shorter than the policy minimum.
    RsaKeyTooSmall {
        /// Modulus bits.
        bits: usize,
        /// Policy minimum.
        min: usize,
    },
    /// RSA public exponent not acceptable (e ≤ 1, even, or oversized).
    RsaExponent,
    /// The verifier could not use the key (e.g. EC point not on the curve).
    UnusableKey,
    // ---- signature ----
    /// Signature length wrong for the algorithm (e.g. a DER ECDSA signature).
    SignatureLength {
        /// Required length.
        expected: usize,
        /// Received length.
        actual: usize,
    },
    /// The signature does not verify with the embedded key.
    BadSignature,
    // ---- claims ----
    /// A required claim is absent.
    MissingClaim {
        /// Which.
        claim: Claim,
    },
    /// A claim has the wrong JSON type or an unusable value.
    InvalidClaim {
        /// Which.
        claim: Claim,
    },
    /// `jti` longer than the cap.
    JtiTooLong {
        /// Length.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// `htm` is not the request method.
    HtmMismatch,
    /// `htu` is not the request URI (or an alias) after normalization.
    HtuMismatch,
    /// The proof's `htu` is not an absolute http(s) URI.
    InvalidHtu(HtuError),
    /// The request URI the host expects `htu` to name is itself not a valid absolute http(s)
    /// URI: a server configuration or request-construction fault, not the proof's.
    InvalidRequestUri(HtuError),
    /// `iat` older than `max_age`.
    IatTooOld {
        /// Proof `iat`.
        iat: i64,
        /// Server time.
        now: u64,
        /// Policy `max_age`.
        max_age: u64,
    },
    /// `iat` further in the future than `leeway`.
    IatInFuture {
        /// Proof `iat`.
        iat: i64,
        /// Server time.
        now: u64,
        /// Policy leeway.
        leeway: u64,
    },
    /// `ath` absent although an access token was presented (RFC 9449 §4.3 step 11).
    MissingAth,
    /// `ath` not base64url(SHA-256(access token)).
    AthMismatch,
    /// Nonce required and absent (RFC 9449 §8): `use_dpop_nonce`.
    MissingNonce,
    /// Nonce present but wrong or stale: `use_dpop_nonce`.
    InvalidNonce(NonceError),
    /// Proof key thumbprint differs from `cnf.jkt` / `dpop_jkt` (RFC 9449 §6.1, §10).
    KeyBindingMismatch,
    /// `jti` already seen in this scope (RFC 9449 §11.1).
    Replayed,
    /// The replay store could not record the `jti` (full or unavailable): rejected, fail closed.
    ReplayStore(ReplayError),
}

impl DpopError {
    /// The CLI `reason`: the member at fault.
    pub fn reason(&self) -> Reason {
        match self {
            DpopError::MissingProof
            | DpopError::MultipleProofs
            | DpopError::ProofTooLarge { .. }
            | DpopError::Segments
            | DpopError::Base64 { .. }
            | DpopError::Json { .. }
            | DpopError::UnsupportedCrit => Reason::Malformed,
            DpopError::MissingTyp | DpopError::InvalidTyp => Reason::Typ,
            DpopError::MissingAlg | DpopError::UnsupportedAlg | DpopError::AlgNotAllowed { .. } => {
                Reason::Alg
            }
            DpopError::MissingJwk
            | DpopError::InvalidJwk(_)
            | DpopError::PrivateJwk
            | DpopError::KeyAlgMismatch { .. }
            | DpopError::RsaKeyTooSmall { .. }
            | DpopError::RsaExponent
            | DpopError::UnusableKey => Reason::Jwk,
            DpopError::SignatureLength { .. } | DpopError::BadSignature => Reason::Signature,
            DpopError::MissingClaim { claim } | DpopError::InvalidClaim { claim } => claim.reason(),
            DpopError::JtiTooLong { .. } => Reason::Jti,
            DpopError::HtmMismatch => Reason::Htm,
            DpopError::HtuMismatch | DpopError::InvalidHtu(_) | DpopError::InvalidRequestUri(_) => {
                Reason::Htu
            }
            DpopError::IatTooOld { .. } | DpopError::IatInFuture { .. } => Reason::Iat,
            DpopError::MissingAth | DpopError::AthMismatch => Reason::Ath,
            DpopError::MissingNonce | DpopError::InvalidNonce(_) => Reason::Nonce,
            DpopError::KeyBindingMismatch => Reason::KeyBinding,
            DpopError::Replayed | DpopError::ReplayStore(_) => Reason::Replay,
        }
    }

    /// The wire error (RFC 9449 §7.1, §8): `use_dpop_nonce` when the server requires a nonce
    /// and the proof lacks a valid one, else `invalid_dpop_proof` (a malformed `nonce` claim
    /// while no nonce is required is an invalid proof).
    pub fn wire(&self) -> WireError {
        match self {
            DpopError::MissingNonce | DpopError::InvalidNonce(_) => WireError::UseDpopNonce,
            _ => WireError::InvalidDpopProof,
        }
    }

    /// The wire error code string: `"invalid_dpop_proof"` or `"use_dpop_nonce"`.
    pub fn wire_error(&self) -> &'static str {
        self.wire().as_str()
    }

    /// Whether the answer must carry a fresh `DPoP-Nonce` header (RFC 9449 §8).
    pub fn needs_nonce(&self) -> bool {
        self.wire() == WireError::UseDpopNonce
    }

    /// Whether the fault is the server's (replay store full or unavailable), not the client's.
    /// The proof is still rejected (fail closed); a server may answer 503 instead of 400/401.
    /// A client key over its replay quota is the client's doing: see
    /// [`DpopError::is_rate_limited`].
    pub fn is_server_fault(&self) -> bool {
        matches!(self, DpopError::ReplayStore(e) if *e != ReplayError::QuotaExceeded)
    }

    /// Whether the proof key holds as many unexpired `jti`s as the replay store allows one key
    /// ([`ReplayError::QuotaExceeded`]): the client sends proofs faster than the store keeps
    /// them for one key. Rejected (fail closed); a server may answer 429 with `Retry-After`.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, DpopError::ReplayStore(ReplayError::QuotaExceeded))
    }
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpopError::MissingProof => f.write_str("no DPoP header"),
            DpopError::MultipleProofs => f.write_str("more than one DPoP header value"),
            DpopError::ProofTooLarge { len, max } => {
                write!(f, "proof is {len} bytes, more than the {max}-byte cap")
            }
            DpopError::Segments => f.write_str("proof is not a compact JWS of three segments"),
            DpopError::Base64 { part } => {
                write!(f, "{} is not canonical unpadded base64url", part.name())
            }
            DpopError::Json { part, error } => {
                write!(f, "{} is not a strict JSON object: {error}", part.name())
            }
            DpopError::UnsupportedCrit => f.write_str("crit header names an unsupported extension"),
            DpopError::MissingTyp => f.write_str("typ header missing"),
            DpopError::InvalidTyp => f.write_str("typ header is not dpop+jwt"),
            DpopError::MissingAlg => f.write_str("alg header missing"),
            DpopError::UnsupportedAlg => {
                f.write_str("alg is not a supported asymmetric JWS algorithm")
            }
            DpopError::AlgNotAllowed { alg } => write!(f, "alg {alg} is not allowed"),
            DpopError::MissingJwk => f.write_str("jwk header missing or not an object"),
            DpopError::InvalidJwk(e) => write!(f, "jwk header is not a valid public key: {e}"),
            DpopError::PrivateJwk => f.write_str("jwk header contains private key members"),
            DpopError::KeyAlgMismatch { alg, mismatch } => write!(
                f,
                "jwk does not fit: {}",
                KeyMismatchText {
                    alg: *alg,
                    mismatch: *mismatch
                }
            ),
            DpopError::RsaKeyTooSmall { bits, min } => {
                write!(f, "RSA modulus of {bits} bits, fewer than {min}")
            }
            DpopError::RsaExponent => f.write_str("RSA public exponent not acceptable"),
            DpopError::UnusableKey => f.write_str("jwk is not a usable key for alg"),
            DpopError::SignatureLength { expected, actual } => {
                write!(f, "signature is {actual} bytes, {expected} required")
            }
            DpopError::BadSignature => f.write_str("signature does not verify"),
            DpopError::MissingClaim { claim } => write!(f, "{} claim missing", claim.name()),
            DpopError::InvalidClaim { claim } => {
                write!(f, "{} claim has an invalid value", claim.name())
            }
            DpopError::JtiTooLong { len, max } => write!(f, "jti is {len} bytes, more than {max}"),
            DpopError::HtmMismatch => f.write_str("htm does not match the request method"),
            DpopError::HtuMismatch => f.write_str("htu does not match the request URI"),
            DpopError::InvalidHtu(e) => write!(f, "htu is not a valid URI: {e}"),
            DpopError::InvalidRequestUri(e) => {
                write!(
                    f,
                    "the request URI the server expects is not a valid URI: {e}"
                )
            }
            DpopError::IatTooOld { iat, now, max_age } => {
                write!(f, "iat {iat} is older than {max_age} s at {now}")
            }
            DpopError::IatInFuture { iat, now, leeway } => {
                write!(f, "iat {iat} is more than {leeway} s after {now}")
            }
            DpopError::MissingAth => {
                f.write_str("ath claim missing although an access token was presented")
            }
            DpopError::AthMismatch => f.write_str("ath does not match the access token"),
            DpopError::MissingNonce => f.write_str("server nonce required"),
            DpopError::InvalidNonce(e) => write!(f, "nonce not accepted: {e}"),
            DpopError::KeyBindingMismatch => {
                f.write_str("proof key thumbprint differs from the bound jkt")
            }
            DpopError::Replayed => f.write_str("jti already used"),
            DpopError::ReplayStore(e) => write!(f, "replay store could not record the jti: {e}"),
        }
    }
}

impl core::error::Error for DpopError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DpopError::Json { error, .. } => Some(error),
            DpopError::InvalidJwk(e) => Some(e),
            DpopError::InvalidHtu(e) | DpopError::InvalidRequestUri(e) => Some(e),
            DpopError::InvalidNonce(e) => Some(e),
            DpopError::ReplayStore(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JoseError> for DpopError {
    /// The JWS layer's verdict in DPoP terms (the same member at fault, RFC 9449 §4.3).
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::TooLarge { len, max } => DpopError::ProofTooLarge { len, max },
            JoseError::Segments => DpopError::Segments,
            JoseError::Base64 { part } => DpopError::Base64 { part },
            JoseError::Json { part, error } => DpopError::Json { part, error },
            JoseError::UnsupportedCrit => DpopError::UnsupportedCrit,
            JoseError::MissingTyp => DpopError::MissingTyp,
            JoseError::InvalidTyp => DpopError::InvalidTyp,
            JoseError::MissingAlg => DpopError::MissingAlg,
            JoseError::UnsupportedAlg => DpopError::UnsupportedAlg,
            JoseError::AlgNotAllowed { alg } => DpopError::AlgNotAllowed { alg },
            JoseError::InvalidJwk(JwkError::PrivateKey { .. }) | JoseError::PrivateJwk => {
                DpopError::PrivateJwk
            }
            JoseError::InvalidJwk(e) => DpopError::InvalidJwk(e),
            JoseError::KeyAlgMismatch { alg, mismatch } => {
                DpopError::KeyAlgMismatch { alg, mismatch }
            }
            JoseError::RsaKeyTooSmall { bits, min } => DpopError::RsaKeyTooSmall { bits, min },
            JoseError::RsaExponent => DpopError::RsaExponent,
            JoseError::UnusableKey => DpopError::UnusableKey,
            JoseError::SignatureLength { expected, actual } => {
                DpopError::SignatureLength { expected, actual }
            }
            // Non-exhaustive: a future signature-side fault is still a bad signature.
            _ => DpopError::BadSignature,
        }
    }
}
