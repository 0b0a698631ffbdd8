//! Minting RFC 9068 access tokens (§2) with a [`keybound_jose::SigningKey`]: for tests, demos
//! and authorization servers that issue sender-constrained tokens.

use alloc::string::String;
use core::fmt::Write as _;

use keybound_cnf::Confirmation;
use keybound_jose::{KeyError, SigningKey};
use keybound_json::write_str;
use rand_core::CryptoRng;

use crate::validate::AT_JWT_TYP;

/// The claims of an access token to mint (RFC 9068 §2.2). `exp`, `iat` and `nbf` are Unix
/// seconds from the caller's clock.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct TokenClaims<'a> {
    /// `iss`.
    pub iss: &'a str,
    /// `sub`.
    pub sub: &'a str,
    /// `aud`: written as a string when there is one, else as an array.
    pub aud: &'a [&'a str],
    /// `client_id`.
    pub client_id: &'a str,
    /// `iat`.
    pub iat: u64,
    /// `exp`.
    pub exp: u64,
    /// `nbf`, when set.
    pub nbf: Option<u64>,
    /// `jti`.
    pub jti: &'a str,
    /// `scope`, space-separated (RFC 6749 §3.3), when set.
    pub scope: Option<&'a str>,
    /// `cnf`: the binding (RFC 9449 §6.1 `jkt`, RFC 8705 §3.1 `x5t#S256`), when set.
    pub cnf: Option<&'a Confirmation>,
    /// Further members written as given: the inside of a JSON object (`"acr":"1","roles":[]`),
    /// or empty.
    pub extra: &'a str,
}

impl<'a> TokenClaims<'a> {
    /// The required claims: a token for `aud` from `iss` about `sub`, issued to `client_id`
    /// at `iat` until `exp`, with identifier `jti`.
    pub const fn new(
        iss: &'a str,
        sub: &'a str,
        aud: &'a [&'a str],
        client_id: &'a str,
        iat: u64,
        exp: u64,
        jti: &'a str,
    ) -> Self {
        TokenClaims {
            iss,
            sub,
            aud,
            client_id,
            iat,
            exp,
            nbf: None,
            jti,
            scope: None,
            cnf: None,
            extra: "",
        }
    }

    /// With `scope`.
    #[must_use]
    pub const fn with_scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }

    /// With `nbf`.
    #[must_use]
    pub const fn with_nbf(mut self, nbf: u64) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Bound by `cnf`.
    #[must_use]
    pub const fn with_cnf(mut self, cnf: &'a Confirmation) -> Self {
        self.cnf = Some(cnf);
        self
    }

    /// With further members (the inside of a JSON object, written as given).
    #[must_use]
    pub const fn with_extra(mut self, extra: &'a str) -> Self {
        self.extra = extra;
        self
    }

    /// The claims set as JSON text.
    pub fn to_json(&self) -> String {
        let mut p = String::with_capacity(256 + self.extra.len());
        // Writing into a String cannot fail.
        let _ = self.write_json(&mut p);
        p
    }

    fn write_json(&self, p: &mut String) -> core::fmt::Result {
        p.push_str("{\"iss\":");
        write_str(p, self.iss)?;
        p.push_str(",\"sub\":");
        write_str(p, self.sub)?;
        p.push_str(",\"aud\":");
        match self.aud {
            [one] => write_str(p, one)?,
            many => {
                p.push('[');
                for (i, a) in many.iter().enumerate() {
                    if i > 0 {
                        p.push(',');
                    }
                    write_str(p, a)?;
                }
                p.push(']');
            }
        }
        p.push_str(",\"client_id\":");
        write_str(p, self.client_id)?;
        write!(p, ",\"iat\":{},\"exp\":{}", self.iat, self.exp)?;
        if let Some(nbf) = self.nbf {
            write!(p, ",\"nbf\":{nbf}")?;
        }
        p.push_str(",\"jti\":");
        write_str(p, self.jti)?;
        if let Some(scope) = self.scope {
            p.push_str(",\"scope\":");
            write_str(p, scope)?;
        }
        if let Some(cnf) = self.cnf {
            p.push_str(",\"cnf\":");
            cnf.write_json(p)?;
        }
        if !self.extra.is_empty() {
            p.push(',');
            p.push_str(self.extra);
        }
        p.push('}');
        Ok(())
    }
}

/// Mints an access token: header `{"typ":"at+jwt","alg":…,"kid":…}` (RFC 9068 §2.1), the
/// claims as given, signed with `key` (`rng` feeds PSS salts and RSA blinding).
pub fn mint<R: CryptoRng + ?Sized>(
    key: &SigningKey,
    kid: Option<&str>,
    claims: &TokenClaims<'_>,
    rng: &mut R,
) -> Result<String, KeyError> {
    let mut extra = String::new();
    if let Some(kid) = kid {
        extra.push_str("\"kid\":");
        write_str(&mut extra, kid).map_err(|_| KeyError::Backend)?;
    }
    let header = key.jws_header_json(AT_JWT_TYP, &extra);
    key.sign_compact(header.as_bytes(), claims.to_json().as_bytes(), rng)
}
