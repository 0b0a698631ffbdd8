//! Decoders for the headers reverse proxies use to forward the client certificate.
//!
//! Every decoder writes the DER into a caller buffer (no allocation) and returns a
//! [`CertDer`] whose framing is checked, so `x5t#S256` is always taken over one well-formed
//! certificate. A buffer as long as the header value is always enough. Which header to trust,
//! and from which peer, is decided by [`crate::proxy::TrustedProxies`]: call these decoders
//! only for values that policy accepted.

use crate::b64::{self, Padding};
use crate::cert::CertDer;
use crate::error::CertError;
use crate::pem;
use crate::xfcc;

/// Largest header value accepted for one certificate (RFC 9440 §2.2 leaves limits to the
/// server; 32 KiB holds a 16 KiB certificate percent-encoded).
pub const MAX_CERT_HEADER_LEN: usize = 32 * 1024;

/// Largest header value accepted for a chain or an XFCC list (Client-Cert-Chain, XFCC).
pub const MAX_CHAIN_HEADER_LEN: usize = 128 * 1024;

/// Most members accepted in a Client-Cert-Chain list or an XFCC header.
pub const MAX_LIST_MEMBERS: usize = 16;

/// The encodings a client certificate arrives in.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertFormat {
    /// Raw DER (RFC 5280 §4.1), e.g. rustls `peer_certificates()`.
    Der,
    /// One PEM `CERTIFICATE` block (RFC 7468 §5.1).
    Pem,
    /// RFC 9440 §2.2 `Client-Cert`: an RFC 8941 byte sequence `:base64-DER:`.
    Rfc9440,
    /// nginx `$ssl_client_escaped_cert`: URL-encoded (RFC 3986 §2.1) PEM.
    NginxEscaped,
    /// Envoy `x-forwarded-client-cert`: `Cert=` of the last element.
    Xfcc,
    /// Plain standard base64 (RFC 4648 §4) of the DER, or of PEM text.
    Base64,
}

impl CertFormat {
    /// The name used by the `keybound cert thumbprint --format` option.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Der => "der",
            Self::Pem => "pem",
            Self::Rfc9440 => "rfc9440",
            Self::NginxEscaped => "nginx",
            Self::Xfcc => "xfcc",
            Self::Base64 => "base64",
        }
    }

    /// Parses a [`CertFormat::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Der,
            Self::Pem,
            Self::Rfc9440,
            Self::NginxEscaped,
            Self::Xfcc,
            Self::Base64,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Guesses the format from the first bytes (for tools; servers should know their proxy).
    ///
    /// DER starts with 0x30, PEM with `-----BEGIN`, RFC 9440 with `:`, nginx with `-----BEGIN%20`
    /// or `%2D`, XFCC with one of its keys and `=`; anything else is taken as base64.
    pub fn detect(value: &[u8]) -> Self {
        let v = value.trim_ascii();
        if v.first() == Some(&0x30) {
            return Self::Der;
        }
        if starts_with_ci(v, b"-----BEGIN%20") || starts_with_ci(v, b"%2D") {
            return Self::NginxEscaped;
        }
        if v.starts_with(b"-----BEGIN") {
            return Self::Pem;
        }
        if v.first() == Some(&b':') {
            return Self::Rfc9440;
        }
        let keyed = [
            &b"by="[..],
            b"hash=",
            b"cert=",
            b"chain=",
            b"subject=",
            b"uri=",
            b"dns=",
        ];
        if keyed.iter().any(|k| starts_with_ci(v, k)) {
            return Self::Xfcc;
        }
        Self::Base64
    }
}

impl core::fmt::Display for CertFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

fn starts_with_ci(v: &[u8], prefix: &[u8]) -> bool {
    v.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// HTTP optional whitespace (RFC 9110 §5.6.3).
pub(crate) const fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Strips leading and trailing SP / HTAB.
pub(crate) fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&c| !is_ows(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|&c| !is_ows(c)).map_or(start, |e| e + 1);
    v.get(start..end).unwrap_or_default()
}

/// Decodes a certificate in `format` from `value`; `out` must be at least `value.len()` bytes
/// for the encoded formats (DER is returned in place, borrowed from `value`).
pub fn decode_cert<'b>(
    format: CertFormat,
    value: &'b [u8],
    out: &'b mut [u8],
) -> Result<CertDer<'b>, CertError> {
    match format {
        CertFormat::Der => CertDer::new(value),
        CertFormat::Pem => pem::decode_pem_into(value, out),
        CertFormat::Rfc9440 => decode_rfc9440_client_cert(value, out),
        CertFormat::NginxEscaped => decode_nginx_escaped(value, out),
        CertFormat::Xfcc => xfcc::decode_xfcc_cert(value, out),
        CertFormat::Base64 => decode_base64(value, out),
    }
}

/// [`decode_cert`] into a new vector (for tools and servers with a heap).
#[cfg(feature = "alloc")]
pub fn decode_cert_to_vec(
    format: CertFormat,
    value: &[u8],
) -> Result<alloc::vec::Vec<u8>, CertError> {
    let mut buf = alloc::vec![0u8; value.len()];
    let der = decode_cert(format, value, &mut buf)?;
    Ok(der.as_bytes().to_vec())
}

fn check_cap(value: &[u8], max: usize) -> Result<(), CertError> {
    if value.len() > max {
        return Err(CertError::TooLarge {
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// Copies `value` to the front of `out`, failing when it does not fit.
fn stage(value: &[u8], out: &mut [u8]) -> Result<usize, CertError> {
    let available = out.len();
    let dst = out
        .get_mut(..value.len())
        .ok_or(CertError::BufferTooSmall {
            needed: value.len(),
            available,
        })?;
    dst.copy_from_slice(value);
    Ok(value.len())
}

/// Decodes RFC 3986 §2.1 percent-escapes in `buf[..len]` in place; `+` stays `+`.
pub(crate) fn percent_decode_in_place(buf: &mut [u8], len: usize) -> Result<usize, CertError> {
    let len = len.min(buf.len());
    let mut r = 0;
    let mut w = 0;
    while r < len {
        // Runs without `%` (most of a PEM body) move in one copy.
        let run = buf
            .get(r..len)
            .and_then(|rest| rest.iter().position(|&c| c == b'%'))
            .unwrap_or(len - r);
        if run > 0 {
            // In bounds: `w <= r` and `r + run <= len <= buf.len()`.
            buf.copy_within(r..r + run, w);
            r += run;
            w += run;
            continue;
        }
        let c = buf.get(r).copied().unwrap_or_default();
        let byte = if c == b'%' {
            let hi = buf
                .get(r + 1)
                .copied()
                .and_then(hex_val)
                .filter(|_| r + 1 < len);
            let lo = buf
                .get(r + 2)
                .copied()
                .and_then(hex_val)
                .filter(|_| r + 2 < len);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(CertError::Percent { offset: r });
            };
            r += 3;
            (hi << 4) | lo
        } else {
            r += 1;
            c
        };
        if let Some(slot) = buf.get_mut(w) {
            *slot = byte;
        }
        w += 1;
    }
    Ok(w)
}

/// The value of one hex digit (either case).
pub(crate) const fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes nginx `$ssl_client_escaped_cert` (URL-encoded PEM, nginx ≥ 1.13.5) into `out`.
///
/// `+` is a literal base64 character here, never a space: nginx escapes with
/// `ngx_escape_uri`, not HTML form encoding. Offsets in errors after the percent-decoding
/// step refer to the decoded PEM text.
pub fn decode_nginx_escaped<'b>(value: &[u8], out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
    let value = trim_ows(value);
    check_cap(value, MAX_CERT_HEADER_LEN)?;
    if value.is_empty() {
        return Err(CertError::Empty);
    }
    let len = stage(value, out)?;
    let len = percent_decode_in_place(out, len)?;
    let n = pem::decode_pem_in_place(out, len)?;
    CertDer::new(out.get(..n).unwrap_or_default())
}

/// Decodes plain standard base64 (RFC 4648 §4, padded) of a DER certificate — or of PEM
/// text, recognised by its `-----BEGIN` — into `out`.
pub fn decode_base64<'b>(value: &[u8], out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
    let value = trim_ows(value);
    check_cap(value, MAX_CERT_HEADER_LEN)?;
    if value.is_empty() {
        return Err(CertError::Empty);
    }
    let n = b64::decode_into(value, Padding::Required, out)?;
    if out.get(..n).is_some_and(|d| d.starts_with(b"-----BEGIN")) {
        let m = pem::decode_pem_in_place(out, n)?;
        return CertDer::new(out.get(..m).unwrap_or_default());
    }
    CertDer::new(out.get(..n).unwrap_or_default())
}

/// Decodes RFC 9440 §2.2 `Client-Cert`: an RFC 8941 §3.3.5 byte sequence of the DER.
///
/// Parameters after the item are parsed and ignored (RFC 9440 defines none). Missing `=`
/// padding is accepted (RFC 8941 §4.2.7); non-zero pad bits are rejected (a documented
/// deviation from that section's SHOULD: no conforming encoder produces them).
pub fn decode_rfc9440_client_cert<'b>(
    value: &[u8],
    out: &'b mut [u8],
) -> Result<CertDer<'b>, CertError> {
    check_cap(value, MAX_CERT_HEADER_LEN)?;
    let (start, end) = ows_bounds(value);
    if start == end {
        return Err(CertError::Empty);
    }
    let (item, next) = sf::byte_seq(value, start)?;
    let next = sf::params(value, next)?;
    if next != end {
        return Err(CertError::HeaderSyntax {
            offset: next,
            expected: "end of Client-Cert",
        });
    }
    item.decode_into(out)
}

fn ows_bounds(v: &[u8]) -> (usize, usize) {
    let start = v.iter().position(|&c| !is_ows(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|&c| !is_ows(c)).map_or(start, |e| e + 1);
    (start, end)
}

/// One base64 byte sequence inside an RFC 9440 header, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct ByteSeq<'a> {
    b64: &'a [u8],
    offset: usize,
}

impl ByteSeq<'_> {
    /// The base64 text between the colons.
    pub const fn base64(&self) -> &[u8] {
        self.b64
    }

    /// Decodes the DER into `out` and checks its framing (RFC 9440 §2.2).
    pub fn decode_into<'b>(&self, out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
        let mut dec = b64::Decoder::new(Padding::Optional);
        dec.feed(self.b64, self.offset, false, out)?;
        let n = dec.finish(self.offset + self.b64.len(), out)?;
        CertDer::new(out.get(..n).unwrap_or_default())
    }
}

/// An RFC 9440 §2.3 `Client-Cert-Chain` value whose list syntax has been checked.
#[derive(Clone, Copy, Debug)]
pub struct Rfc9440Chain<'a> {
    value: &'a [u8],
    len: usize,
}

/// Parses RFC 9440 §2.3 `Client-Cert-Chain`: an RFC 8941 list of byte sequences.
///
/// Inner lists and other item types are errors; an empty value is an empty chain.
pub fn parse_rfc9440_chain(value: &[u8]) -> Result<Rfc9440Chain<'_>, CertError> {
    check_cap(value, MAX_CHAIN_HEADER_LEN)?;
    let mut len = 0;
    for item in ChainIter::new(value) {
        item?;
        len += 1;
        if len > MAX_LIST_MEMBERS {
            return Err(CertError::TooManyElements {
                max: MAX_LIST_MEMBERS,
            });
        }
    }
    Ok(Rfc9440Chain { value, len })
}

impl<'a> Rfc9440Chain<'a> {
    /// Number of certificates (issuer side; the leaf is in `Client-Cert`).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True when the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = ByteSeq<'a>> + 'a {
        ChainIter::new(self.value).filter_map(Result::ok)
    }

    /// Every member decoded into its own vector.
    #[cfg(feature = "alloc")]
    pub fn to_vecs(&self) -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, CertError> {
        self.iter()
            .map(|item| {
                let mut buf = alloc::vec![0u8; item.b64.len()];
                Ok(item.decode_into(&mut buf)?.as_bytes().to_vec())
            })
            .collect()
    }
}

struct ChainIter<'a> {
    value: &'a [u8],
    /// Where the next member starts; `None` once done.
    pos: Option<usize>,
    /// A `,` was consumed, so a member must follow.
    after_comma: bool,
}

impl<'a> ChainIter<'a> {
    const fn new(value: &'a [u8]) -> Self {
        Self {
            value,
            pos: Some(0),
            after_comma: false,
        }
    }

    fn skip_ows(&self, mut pos: usize) -> usize {
        while self.value.get(pos).is_some_and(|&c| is_ows(c)) {
            pos += 1;
        }
        pos
    }

    fn member(&self, pos: usize, end: usize) -> Result<(ByteSeq<'a>, usize, bool), CertError> {
        let (item, next) = sf::byte_seq(self.value, pos)?;
        let next = self.skip_ows(sf::params(self.value, next)?);
        if next >= end {
            return Ok((item, end, false));
        }
        if self.value.get(next) != Some(&b',') {
            return Err(CertError::HeaderSyntax {
                offset: next,
                expected: "',' between list members",
            });
        }
        Ok((item, next + 1, true))
    }
}

impl<'a> Iterator for ChainIter<'a> {
    type Item = Result<ByteSeq<'a>, CertError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (_, end) = ows_bounds(self.value);
        let pos = self.skip_ows(self.pos?);
        if pos >= end {
            self.pos = None;
            // A trailing comma fails the whole list (RFC 8941 §4.2.1).
            return self.after_comma.then_some(Err(CertError::HeaderSyntax {
                offset: end,
                expected: "list member after ','",
            }));
        }
        match self.member(pos, end) {
            Ok((item, next, comma)) => {
                self.pos = Some(next);
                self.after_comma = comma;
                Some(Ok(item))
            }
            Err(e) => {
                self.pos = None;
                Some(Err(e))
            }
        }
    }
}

/// The slice of RFC 8941 structured fields these headers need.
mod sf {
    use super::ByteSeq;
    use crate::error::CertError;

    /// `sf-binary = ":" *(base64) ":"` at `pos`; returns the item and the offset after it.
    pub(super) fn byte_seq(v: &[u8], pos: usize) -> Result<(ByteSeq<'_>, usize), CertError> {
        if v.get(pos) != Some(&b':') {
            return Err(CertError::HeaderSyntax {
                offset: pos,
                expected: "':' opening a byte sequence",
            });
        }
        let start = pos + 1;
        let rest = v.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&c| c == b':')
            .ok_or(CertError::HeaderSyntax {
                offset: v.len(),
                expected: "':' closing a byte sequence",
            })?;
        let b64 = rest.get(..len).unwrap_or_default();
        Ok((ByteSeq { b64, offset: start }, start + len + 1))
    }

    fn is_key_start(c: u8) -> bool {
        c.is_ascii_lowercase() || c == b'*'
    }

    fn is_key_char(c: u8) -> bool {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'.' | b'*')
    }

    fn is_tchar(c: u8) -> bool {
        c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)
    }

    /// `parameters = *( ";" *SP parameter )` (RFC 8941 §3.1.2), skipped.
    pub(super) fn params(v: &[u8], mut pos: usize) -> Result<usize, CertError> {
        while v.get(pos) == Some(&b';') {
            pos += 1;
            while v.get(pos) == Some(&b' ') {
                pos += 1;
            }
            if !v.get(pos).is_some_and(|&c| is_key_start(c)) {
                return Err(CertError::HeaderSyntax {
                    offset: pos,
                    expected: "parameter key",
                });
            }
            while v.get(pos).is_some_and(|&c| is_key_char(c)) {
                pos += 1;
            }
            if v.get(pos) == Some(&b'=') {
                pos = bare_item(v, pos + 1)?;
            }
        }
        Ok(pos)
    }

    /// Skips one bare item (RFC 8941 §3.3).
    fn bare_item(v: &[u8], pos: usize) -> Result<usize, CertError> {
        let mut p = pos;
        match v.get(p) {
            Some(b'"') => {
                p += 1;
                loop {
                    match v.get(p) {
                        None => return Err(CertError::UnbalancedQuote { offset: pos }),
                        Some(b'\\') => {
                            if !matches!(v.get(p + 1), Some(b'"' | b'\\')) {
                                return Err(CertError::HeaderSyntax {
                                    offset: p,
                                    expected: "\\\" or \\\\",
                                });
                            }
                            p += 2;
                        }
                        Some(b'"') => return Ok(p + 1),
                        Some(&c) if (0x20..0x7f).contains(&c) => p += 1,
                        Some(_) => {
                            return Err(CertError::HeaderSyntax {
                                offset: p,
                                expected: "printable ASCII",
                            });
                        }
                    }
                }
            }
            Some(b':') => byte_seq(v, p).map(|(_, n)| n),
            Some(b'?') => match v.get(p + 1) {
                Some(b'0' | b'1') => Ok(p + 2),
                _ => Err(CertError::HeaderSyntax {
                    offset: p + 1,
                    expected: "boolean 0 or 1",
                }),
            },
            Some(&c) if c == b'-' || c.is_ascii_digit() => {
                p += 1;
                while v.get(p).is_some_and(|&c| c.is_ascii_digit() || c == b'.') {
                    p += 1;
                }
                Ok(p)
            }
            Some(&c) if c.is_ascii_alphabetic() || c == b'*' => {
                while v.get(p).is_some_and(|&c| is_tchar(c)) {
                    p += 1;
                }
                Ok(p)
            }
            _ => Err(CertError::HeaderSyntax {
                offset: p,
                expected: "parameter value",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const TINY: &[u8] = &[0x30, 0x07, 0x30, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00];

    #[test]
    fn percent_decoding_keeps_plus_and_rejects_bad_escapes() {
        let mut buf = *b"a%2Bb+c%0a";
        let n = percent_decode_in_place(&mut buf, 10).unwrap();
        assert_eq!(&buf[..n], b"a+b+c\n");
        let mut bad = *b"ab%4";
        assert_eq!(
            percent_decode_in_place(&mut bad, 4),
            Err(CertError::Percent { offset: 2 })
        );
        let mut bad = *b"%zz";
        assert_eq!(
            percent_decode_in_place(&mut bad, 3),
            Err(CertError::Percent { offset: 0 })
        );
    }

    #[test]
    fn rfc9440_item_with_parameters_and_without_padding() {
        let mut out = [0u8; 64];
        assert_eq!(
            decode_rfc9440_client_cert(b" :MAcwADAAAwEA: ", &mut out)
                .unwrap()
                .as_bytes(),
            TINY
        );
        assert_eq!(
            decode_rfc9440_client_cert(b":MAcwADAAAwEA:;a=1;b;c=\"x\"", &mut out)
                .unwrap()
                .as_bytes(),
            TINY
        );
        assert_eq!(
            decode_rfc9440_client_cert(b"MAcwADAAAwEA", &mut out),
            Err(CertError::HeaderSyntax {
                offset: 0,
                expected: "':' opening a byte sequence"
            })
        );
        assert_eq!(
            decode_rfc9440_client_cert(b":MAcwADAAAwEA", &mut out),
            Err(CertError::HeaderSyntax {
                offset: 13,
                expected: "':' closing a byte sequence"
            })
        );
        assert_eq!(
            decode_rfc9440_client_cert(b":MAcwADAAAwEA:x", &mut out),
            Err(CertError::HeaderSyntax {
                offset: 14,
                expected: "end of Client-Cert"
            })
        );
        assert_eq!(
            decode_rfc9440_client_cert(b":MAcwADAAAw-A:", &mut out),
            Err(CertError::Base64 { offset: 11 })
        );
    }

    #[test]
    fn rfc9440_chain_lists() {
        let chain = parse_rfc9440_chain(b":MAcwADAAAwEA:, :MAcwADAAAwEA:;p=1").unwrap();
        assert_eq!(chain.len(), 2);
        let mut out = [0u8; 16];
        for item in chain.iter() {
            assert_eq!(item.decode_into(&mut out).unwrap().as_bytes(), TINY);
        }
        assert!(parse_rfc9440_chain(b"").unwrap().is_empty());
        assert_eq!(
            parse_rfc9440_chain(b":MAcwADAAAwEA:,").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 15,
                expected: "list member after ','"
            }
        );
        assert_eq!(
            parse_rfc9440_chain(b":MAcwADAAAwEA: :MAcw:").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 15,
                expected: "',' between list members"
            }
        );
        assert_eq!(
            parse_rfc9440_chain(b"(:MAcw:)").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 0,
                expected: "':' opening a byte sequence"
            }
        );
    }

    #[test]
    fn detects_formats() {
        assert_eq!(CertFormat::detect(TINY), CertFormat::Der);
        assert_eq!(CertFormat::detect(b"-----BEGIN CERT"), CertFormat::Pem);
        assert_eq!(
            CertFormat::detect(b"-----BEGIN%20CERT"),
            CertFormat::NginxEscaped
        );
        assert_eq!(CertFormat::detect(b":MAcw:"), CertFormat::Rfc9440);
        assert_eq!(CertFormat::detect(b"Hash=00;Cert=\"x\""), CertFormat::Xfcc);
        assert_eq!(CertFormat::detect(b"MAcwADAAAwEA"), CertFormat::Base64);
        assert_eq!(
            CertFormat::from_name("NGINX"),
            Some(CertFormat::NginxEscaped)
        );
    }

    #[test]
    fn base64_of_der_or_pem() {
        let mut out = [0u8; 128];
        assert_eq!(
            decode_base64(b"MAcwADAAAwEA", &mut out).unwrap().as_bytes(),
            TINY
        );
        // base64 of "-----BEGIN CERTIFICATE-----\nMAcwADAAAwEA\n-----END CERTIFICATE-----\n"
        let b = b"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1BY3dBREFBQXdFQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
        assert_eq!(decode_base64(b, &mut out).unwrap().as_bytes(), TINY);
        assert_eq!(
            decode_base64(b"MAcwADAAAwE", &mut out),
            Err(CertError::Base64 { offset: 11 })
        );
    }
}
