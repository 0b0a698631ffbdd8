//! JWK thumbprint URIs (RFC 9278).

use core::fmt;

use keybound_cnf::{JwkThumbprint, ThumbprintError};

/// The URI prefix for SHA-256 thumbprints (RFC 9278 §3, with the `sha-256` hash name of the
/// IANA Named Information Hash Algorithm Registry).
pub const SHA256_PREFIX: &str = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:";

/// The part common to every hash algorithm (RFC 9278 §3).
const BASE: &str = "urn:ietf:params:oauth:jwk-thumbprint:";

/// Why a thumbprint URI was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// Not a `urn:ietf:params:oauth:jwk-thumbprint:` URI (RFC 9278 §3).
    NotThumbprintUri,
    /// A thumbprint URI with another hash algorithm than `sha-256`.
    UnsupportedHash,
    /// The thumbprint part is not 43 characters of canonical base64url.
    Thumbprint(ThumbprintError),
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotThumbprintUri => f.write_str("not a JWK thumbprint URI (RFC 9278)"),
            Self::UnsupportedHash => {
                f.write_str("JWK thumbprint URI uses a hash other than sha-256")
            }
            Self::Thumbprint(e) => write!(f, "JWK thumbprint URI: {e}"),
        }
    }
}

impl core::error::Error for UriError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Thumbprint(e) => Some(e),
            _ => None,
        }
    }
}

/// Writes the RFC 9278 URI of a SHA-256 JWK thumbprint.
pub fn write(tp: &JwkThumbprint, out: &mut impl fmt::Write) -> fmt::Result {
    out.write_str(SHA256_PREFIX)?;
    write!(out, "{tp}")
}

/// The RFC 9278 URI of a SHA-256 JWK thumbprint.
#[cfg(feature = "alloc")]
pub fn to_string(tp: &JwkThumbprint) -> alloc::string::String {
    let mut s = alloc::string::String::with_capacity(SHA256_PREFIX.len() + 43);
    // Writing into a String cannot fail.
    let _ = write(tp, &mut s);
    s
}

/// Parses an RFC 9278 SHA-256 JWK thumbprint URI.
///
/// The `urn` scheme and `ietf` namespace are compared case-insensitively (RFC 8141 §3.1);
/// the rest exactly as registered.
pub fn parse(uri: &str) -> Result<JwkThumbprint, UriError> {
    const URN_IETF: usize = "urn:ietf:".len();
    let (Some(head), Some(rest)) = (uri.get(..URN_IETF), uri.get(URN_IETF..)) else {
        return Err(UriError::NotThumbprintUri);
    };
    let base_rest = BASE.get(URN_IETF..).unwrap_or("");
    if !head.eq_ignore_ascii_case("urn:ietf:") {
        return Err(UriError::NotThumbprintUri);
    }
    let Some(alg_and_value) = rest.strip_prefix(base_rest) else {
        return Err(UriError::NotThumbprintUri);
    };
    let Some(value) = alg_and_value.strip_prefix("sha-256:") else {
        return Err(UriError::UnsupportedHash);
    };
    JwkThumbprint::from_b64(value).map_err(UriError::Thumbprint)
}
