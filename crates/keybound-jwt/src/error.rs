//! Why a JWKS or an access token was refused (RFC 7517 §5, RFC 9068 §4), with the member at
//! fault and the OAuth wire mapping (RFC 6750 §3.1 `invalid_token`, HTTP 401).

use core::fmt;

use keybound_cnf::CnfError;
use keybound_jose::{Algorithm, Fault, JoseError};
use keybound_json::JsonError;
use keybound_jwk::JwkError;

/// A claim of an RFC 9068 access token (§2.2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenClaim {
    /// `iss` (RFC 7519 §4.1.1).
    Iss,
    /// `sub` (RFC 7519 §4.1.2).
    Sub,
    /// `aud` (RFC 7519 §4.1.3).
    Aud,
    /// `exp` (RFC 7519 §4.1.4).
    Exp,
    /// `nbf` (RFC 7519 §4.1.5).
    Nbf,
    /// `iat` (RFC 7519 §4.1.6).
    Iat,
    /// `jti` (RFC 7519 §4.1.7).
    Jti,
    /// `client_id` (RFC 8693 §4.3).
    ClientId,
    /// `scope` (RFC 8693 §4.2).
    Scope,
    /// `cnf` (RFC 7800 §3.1).
    Cnf,
}

impl TokenClaim {
    /// The claim name as it appears in the JWT, which is also its `reason` string.
    pub const fn name(self) -> &'static str {
        match self {
            TokenClaim::Iss => "iss",
            TokenClaim::Sub => "sub",
            TokenClaim::Aud => "aud",
            TokenClaim::Exp => "exp",
            TokenClaim::Nbf => "nbf",
            TokenClaim::Iat => "iat",
            TokenClaim::Jti => "jti",
            TokenClaim::ClientId => "client_id",
            TokenClaim::Scope => "scope",
            TokenClaim::Cnf => "cnf",
        }
    }
}

/// Why an access token was refused (RFC 9068 §4); every variant answers `invalid_token`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum TokenError {
    /// The JWS itself: structure, `typ`, `alg`, the chosen key, or the signature.
    Jose(JoseError),
    /// The header's `kid` names no usable key of the JWKS.
    UnknownKid,
    /// No `kid`, and no key of the JWKS can verify `alg`.
    NoKeyForAlg {
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// No `kid`, and more than one key of the JWKS can verify `alg`: which one is meant is
    /// not decidable, so the token is refused.
    AmbiguousKey {
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// `kid` is present but not a string.
    InvalidKid,
    /// A required claim is absent (RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`,
    /// `iat`, `jti`).
    MissingClaim {
        /// Which.
        claim: TokenClaim,
    },
    /// A claim has the wrong JSON type or an unusable value.
    InvalidClaim {
        /// Which.
        claim: TokenClaim,
    },
    /// `iss` is not the configured issuer (RFC 9068 §4 step 3).
    IssuerMismatch,
    /// `aud` does not contain the configured audience (RFC 9068 §4 step 4).
    AudienceMismatch,
    /// `exp` has passed (RFC 7519 §4.1.4), beyond the leeway.
    Expired {
        /// `exp`, rounded up to a whole second.
        exp: i64,
        /// Server time.
        now: u64,
        /// Leeway.
        leeway: u64,
    },
    /// `nbf` is still ahead (RFC 7519 §4.1.5), beyond the leeway.
    NotYetValid {
        /// `nbf`, rounded up to a whole second.
        nbf: i64,
        /// Server time.
        now: u64,
        /// Leeway.
        leeway: u64,
    },
    /// `iat` lies in the future beyond the leeway.
    IssuedInFuture {
        /// `iat`, rounded up to a whole second.
        iat: i64,
        /// Server time.
        now: u64,
        /// Leeway.
        leeway: u64,
    },
    /// The `cnf` claim is malformed (RFC 7800 §3.1).
    Cnf(CnfError),
}

impl TokenError {
    /// The member at fault: `malformed`, `typ`, `alg`, `kid`, `signature`, or a claim name
    /// (`iss`, `aud`, `exp`, `nbf`, `iat`, `sub`, `client_id`, `jti`, `scope`, `cnf`).
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Jose(e) => match e.fault() {
                Fault::Malformed => "malformed",
                Fault::Typ => "typ",
                Fault::Alg => "alg",
                // The key the token's `kid` chose does not fit the token.
                Fault::Key => "kid",
                _ => "signature",
            },
            TokenError::UnknownKid
            | TokenError::NoKeyForAlg { .. }
            | TokenError::AmbiguousKey { .. }
            | TokenError::InvalidKid => "kid",
            TokenError::MissingClaim { claim } | TokenError::InvalidClaim { claim } => claim.name(),
            TokenError::IssuerMismatch => "iss",
            TokenError::AudienceMismatch => "aud",
            TokenError::Expired { .. } => "exp",
            TokenError::NotYetValid { .. } => "nbf",
            TokenError::IssuedInFuture { .. } => "iat",
            TokenError::Cnf(_) => "cnf",
        }
    }

    /// The OAuth error code: always `invalid_token` (RFC 6750 §3.1).
    pub const fn error_code(&self) -> &'static str {
        "invalid_token"
    }

    /// The HTTP status: 401 (RFC 6750 §3.1).
    pub const fn status(&self) -> u16 {
        401
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Jose(e) => write!(f, "access token: {e}"),
            TokenError::UnknownKid => f.write_str("access token kid names no key of the issuer"),
            TokenError::NoKeyForAlg { alg } => {
                write!(
                    f,
                    "access token has no kid and no issuer key verifies {alg}"
                )
            }
            TokenError::AmbiguousKey { alg } => write!(
                f,
                "access token has no kid and several issuer keys verify {alg}"
            ),
            TokenError::InvalidKid => f.write_str("access token kid is not a string"),
            TokenError::MissingClaim { claim } => {
                write!(f, "access token {} claim missing", claim.name())
            }
            TokenError::InvalidClaim { claim } => {
                write!(
                    f,
                    "access token {} claim has an invalid value",
                    claim.name()
                )
            }
            TokenError::IssuerMismatch => f.write_str("access token iss is not the trusted issuer"),
            TokenError::AudienceMismatch => {
                f.write_str("access token aud does not name this resource server")
            }
            TokenError::Expired { exp, now, leeway } => write!(
                f,
                "access token expired at {exp} (now {now}, leeway {leeway} s)"
            ),
            TokenError::NotYetValid { nbf, now, leeway } => write!(
                f,
                "access token not valid before {nbf} (now {now}, leeway {leeway} s)"
            ),
            TokenError::IssuedInFuture { iat, now, leeway } => write!(
                f,
                "access token iat {iat} is in the future (now {now}, leeway {leeway} s)"
            ),
            TokenError::Cnf(e) => write!(f, "access token {e}"),
        }
    }
}

impl core::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            TokenError::Jose(e) => Some(e),
            TokenError::Cnf(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JoseError> for TokenError {
    fn from(e: JoseError) -> Self {
        TokenError::Jose(e)
    }
}

/// Why a JWK Set was refused (RFC 7517 §5).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum JwksError {
    /// Longer than the cap.
    TooLarge {
        /// Length received.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// Not a strict JSON object (syntax, duplicate members, caps).
    Json(JsonError),
    /// No `keys` member, or it is not an array (RFC 7517 §5.1).
    MissingKeys,
    /// More keys than the cap.
    TooManyKeys {
        /// Cap.
        max: usize,
    },
    /// An element of `keys` is not a JSON object.
    NotAnObject {
        /// Index in `keys`.
        index: usize,
    },
    /// A key is not a valid JWK (RFC 7517 §4), or its key material is unusable (weak or
    /// off-curve point).
    Key {
        /// Index in `keys`.
        index: usize,
        /// What is wrong with it.
        error: JwkError,
    },
    /// A key carries private or symmetric key material: a JWKS published for verification
    /// never does (RFC 7517 §9.2), so the whole set is refused.
    PrivateKey {
        /// Index in `keys`.
        index: usize,
    },
    /// Two verification keys share a `kid` (RFC 7517 §4.5: different keys should not), so a
    /// token's `kid` could not name one key.
    DuplicateKid {
        /// Index of the second key.
        index: usize,
    },
    /// `kid` is not a string.
    InvalidKid {
        /// Index in `keys`.
        index: usize,
    },
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::TooLarge { len, max } => {
                write!(f, "JWKS is {len} bytes, more than the {max}-byte cap")
            }
            JwksError::Json(e) => write!(f, "JWKS is not a strict JSON object: {e}"),
            JwksError::MissingKeys => f.write_str("JWKS has no keys array"),
            JwksError::TooManyKeys { max } => write!(f, "JWKS has more than {max} keys"),
            JwksError::NotAnObject { index } => write!(f, "JWKS key {index} is not an object"),
            JwksError::Key { index, error } => write!(f, "JWKS key {index}: {error}"),
            JwksError::PrivateKey { index } => write!(
                f,
                "JWKS key {index} carries private or symmetric key material"
            ),
            JwksError::DuplicateKid { index } => {
                write!(f, "JWKS key {index} repeats the kid of an earlier key")
            }
            JwksError::InvalidKid { index } => write!(f, "JWKS key {index} kid is not a string"),
        }
    }
}

impl core::error::Error for JwksError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            JwksError::Json(e) => Some(e),
            JwksError::Key { error, .. } => Some(error),
            _ => None,
        }
    }
}
