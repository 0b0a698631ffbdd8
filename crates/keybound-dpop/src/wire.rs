//! HTTP-facing helpers: the single `DPoP` header, `ath`, `WWW-Authenticate`, `DPoP-Nonce`,
//! error bodies and status codes (RFC 9449 §4.1, §4.3 step 1, §7.1, §8, §9).

use core::fmt::{self, Write as _};

use sha2::{Digest as _, Sha256};

use crate::error::DpopError;
use crate::nonce::is_nqchar;
use keybound_jose::AlgSet;

/// The request header carrying the proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";
/// The response header carrying a server nonce (RFC 9449 §8.1).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// Length of an `ath` value: base64url of a SHA-256 digest.
pub const ATH_LEN: usize = 43;

/// RFC 9449 §4.3 step 1: exactly one `DPoP` header value. Pass every value of the header
/// (any iterator of `&str` / `&[u8]` / `&HeaderValue`-like byte slices). A value containing a
/// comma is a list folded by an intermediary and counts as several.
pub fn single_header_value<'a, I, T>(values: I) -> Result<&'a str, DpopError>
where
    I: IntoIterator<Item = &'a T>,
    T: AsRef<[u8]> + ?Sized + 'a,
{
    let mut it = values.into_iter();
    let first = it.next().ok_or(DpopError::MissingProof)?;
    if it.next().is_some() {
        return Err(DpopError::MultipleProofs);
    }
    let bytes = first.as_ref();
    if bytes.contains(&b',') {
        return Err(DpopError::MultipleProofs);
    }
    // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
    let s = core::str::from_utf8(bytes).map_err(|_| DpopError::Segments)?;
    let s = s.trim_matches(|c| c == ' ' || c == '\t');
    if s.is_empty() {
        return Err(DpopError::MissingProof);
    }
    Ok(s)
}

/// `ath` for an access token: base64url(SHA-256(ASCII token)) (RFC 9449 §4.2), written to `buf`.
pub fn ath<'b>(access_token: &str, buf: &'b mut [u8; ATH_LEN]) -> &'b str {
    let digest: [u8; 32] = Sha256::digest(access_token.as_bytes()).into();
    // The digest is not secret from whoever holds the proof (the proof carries it), so a table
    // encoder replaces base64ct's constant-time one; the comparison stays constant time.
    // 32 bytes = 10 groups of 3 (40 characters) and 2 bytes (3 characters).
    let (groups, rest) = digest.split_at(30);
    let (out, tail) = buf.split_at_mut(40);
    for (src, dst) in groups.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        if let ([b0, b1, b2], [c0, c1, c2, c3]) = (src, dst) {
            let v = (u32::from(*b0) << 16) | (u32::from(*b1) << 8) | u32::from(*b2);
            (*c0, *c1, *c2, *c3) = (
                b64_char(v >> 18),
                b64_char(v >> 12),
                b64_char(v >> 6),
                b64_char(v),
            );
        }
    }
    if let ([b0, b1], [c0, c1, c2]) = (rest, tail) {
        let v = (u32::from(*b0) << 16) | (u32::from(*b1) << 8);
        (*c0, *c1, *c2) = (b64_char(v >> 18), b64_char(v >> 12), b64_char(v >> 6));
    }
    // Every byte written is from the base64url alphabet.
    core::str::from_utf8(buf).unwrap_or_default()
}

/// The base64url character for the low six bits of `v`.
#[inline]
fn b64_char(v: u32) -> u8 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ALPHABET.get((v & 0x3f) as usize).copied().unwrap_or(b'A')
}

/// `ath` for an access token, as a `String`.
#[cfg(feature = "alloc")]
pub fn ath_string(access_token: &str) -> alloc::string::String {
    let mut buf = [0u8; ATH_LEN];
    alloc::string::String::from(ath(access_token, &mut buf))
}

/// Whether `ath_claim` is the `ath` of `access_token`; constant time in the claim's content.
pub fn ath_matches(ath_claim: &str, access_token: &str) -> bool {
    let mut buf = [0u8; ATH_LEN];
    let expected = ath(access_token, &mut buf);
    keybound_cnf::ct_eq(expected.as_bytes(), ath_claim.as_bytes())
}

/// Where a proof was presented; decides the status code and how the error is carried.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Token endpoint: 400 with a JSON error body (RFC 9449 §5, §7.1 n/a).
    Token,
    /// Pushed authorization request endpoint: 400 with a JSON error body (RFC 9449 §10.1).
    Par,
    /// Resource server: 401 with `WWW-Authenticate: DPoP …` (RFC 9449 §7.1).
    Resource,
}

impl Endpoint {
    /// HTTP status for a rejected proof: 400 at the authorization server, 401 at a resource server.
    pub const fn status(self) -> u16 {
        match self {
            Endpoint::Token | Endpoint::Par => 400,
            Endpoint::Resource => 401,
        }
    }
}

/// Writes a `WWW-Authenticate` DPoP challenge (RFC 9449 §7.1):
/// `DPoP error="…", error_description="…", algs="ES256 …"`. `error` is the code (e.g.
/// [`crate::WireError::as_str`] or `invalid_token`); `description` must not contain `"` or `\` and
/// is omitted otherwise. With no error the challenge carries only `algs`.
pub fn write_www_authenticate(
    out: &mut impl fmt::Write,
    error: Option<&str>,
    description: Option<&str>,
    algs: AlgSet,
) -> fmt::Result {
    out.write_str("DPoP")?;
    let mut sep = " ";
    if let Some(error) = error.filter(|e| is_token68ish(e)) {
        write!(out, "{sep}error=\"{error}\"")?;
        sep = ", ";
        if let Some(d) = description.filter(|d| is_quotable(d)) {
            write!(out, "{sep}error_description=\"{d}\"")?;
        }
    }
    if !algs.is_empty() {
        write!(out, "{sep}algs=\"")?;
        algs.write_names(out)?;
        out.write_char('"')?;
    }
    Ok(())
}

/// `WWW-Authenticate` value for a rejected proof at a resource server.
#[cfg(feature = "alloc")]
pub fn www_authenticate(err: &DpopError, algs: AlgSet) -> alloc::string::String {
    let mut s = alloc::string::String::new();
    let desc = ErrorDescription(err);
    let mut d = alloc::string::String::new();
    let _ = write!(d, "{desc}");
    let _ = write_www_authenticate(&mut s, Some(err.wire_error()), Some(&d), algs);
    s
}

/// Writes an OAuth error response body `{"error":"…","error_description":"…"}` for the
/// token and PAR endpoints (RFC 6749 §5.2, RFC 9449 §7.1).
pub fn write_error_body(out: &mut impl fmt::Write, err: &DpopError) -> fmt::Result {
    let mut desc = DescBuf::default();
    let _ = write!(desc, "{}", ErrorDescription(err));
    out.write_str("{\"error\":")?;
    keybound_json::write_str(out, err.wire_error())?;
    out.write_str(",\"error_description\":")?;
    keybound_json::write_str(out, desc.as_str())?;
    out.write_char('}')
}

/// Checks a `DPoP-Nonce` header value (RFC 9449 §8.1: 1*NQCHAR) and returns it.
pub fn dpop_nonce_header_value(nonce: &str) -> Option<&str> {
    (!nonce.is_empty() && is_nqchar(nonce)).then_some(nonce)
}

/// Error descriptions that are safe in a quoted-string: the `Display` text with `"` and `\`
/// replaced.
struct ErrorDescription<'e>(&'e DpopError);

impl fmt::Display for ErrorDescription<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = Sanitize(f);
        write!(w, "{}", self.0)
    }
}

struct Sanitize<'f, 'g>(&'f mut fmt::Formatter<'g>);

impl fmt::Write for Sanitize<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let c = if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() {
                '\''
            } else {
                c
            };
            self.0.write_char(c)?;
        }
        Ok(())
    }
}

/// Fixed buffer for descriptions (no allocation); truncates at 256 bytes.
struct DescBuf {
    buf: [u8; 256],
    len: usize,
}

impl Default for DescBuf {
    fn default() -> Self {
        DescBuf {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl DescBuf {
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl fmt::Write for DescBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut tmp = [0u8; 4];
            let enc = c.encode_utf8(&mut tmp).as_bytes();
            let end = self.len + enc.len();
            match self.buf.get_mut(self.len..end) {
                Some(dst) => dst.copy_from_slice(enc),
                None => return Ok(()),
            }
            self.len = end;
        }
        Ok(())
    }
}

fn is_token68ish(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn is_quotable(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod ath_tests {
    #![allow(clippy::unwrap_used)]

    use base64ct::{Base64UrlUnpadded, Encoding as _};
    use sha2::{Digest as _, Sha256};

    use super::{ATH_LEN, ath, ath_matches};

    #[test]
    fn table_encoder_agrees_with_base64ct() {
        let mut token = [0u8; 64];
        let mut seed = 0x2545_F491_u32;
        for len in 0..token.len() {
            for _ in 0..50 {
                for c in token.iter_mut().take(len) {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    *c = b'!' + (seed >> 16) as u8 % 94;
                }
                let t = core::str::from_utf8(&token[..len]).unwrap();
                let mut want = [0u8; ATH_LEN];
                let digest = Sha256::digest(t.as_bytes());
                let want = Base64UrlUnpadded::encode(&digest, &mut want).unwrap();
                let mut buf = [0u8; ATH_LEN];
                assert_eq!(ath(t, &mut buf), want);
                assert!(ath_matches(want, t));
            }
        }
        // RFC 9449 §7.1 example.
        let mut buf = [0u8; ATH_LEN];
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", &mut buf),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
