//! Envoy `x-forwarded-client-cert` (XFCC), parsed without allocation.
//!
//! Grammar (Envoy's documentation of the header): elements separated by `,`, each a list of
//! `Key=Value` pairs separated by `;`. Keys are case-insensitive: `By`, `Hash`, `Cert`,
//! `Chain`, `Subject`, `URI`, `DNS`; unknown keys are ignored. A value containing `,` `;` or
//! `=` is double-quoted; inside quotes a backslash escapes the next character (`\"`, `\\`).
//! `Cert` and `Chain` are URL-encoded PEM, `Hash` the hex SHA-256 of the client certificate
//! DER. `URI` and `DNS` may repeat; the other keys appear at most once per element.
//!
//! **Which element:** every proxy that appends adds its element at the end, so the **last**
//! element is the one the nearest proxy — the trusted peer — added about the connection it
//! terminated. Earlier elements were written by hops further away. Configure the proxy that
//! terminates client TLS with `forward_client_cert_details: SANITIZE_SET` and inner hops with
//! `FORWARD_ONLY` so the last element describes the client (see `docs/proxy-wiring.md`).

use crate::cert::CertDer;
use crate::error::CertError;
use crate::header::{
    MAX_CHAIN_HEADER_LEN, MAX_LIST_MEMBERS, hex_val, is_ows, percent_decode_in_place,
};
use crate::pem;

/// Most `Key=Value` pairs accepted in one XFCC element.
pub const MAX_XFCC_PAIRS: usize = 32;

/// Keys that may appear at most once per element.
const SINGLE_KEYS: [&[u8]; 5] = [b"by", b"hash", b"cert", b"chain", b"subject"];

/// The keys Envoy defines for an XFCC element.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XfccKey {
    /// `By`: the SAN (URI) of the proxy's own certificate.
    By,
    /// `Hash`: hex SHA-256 of the client certificate DER.
    Hash,
    /// `Cert`: URL-encoded PEM client certificate.
    Cert,
    /// `Chain`: URL-encoded PEM client certificate chain.
    Chain,
    /// `Subject`: subject DN of the client certificate.
    Subject,
    /// `URI`: a URI SAN of the client certificate.
    Uri,
    /// `DNS`: a DNS SAN of the client certificate.
    Dns,
}

impl XfccKey {
    /// The key as Envoy writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::By => "By",
            Self::Hash => "Hash",
            Self::Cert => "Cert",
            Self::Chain => "Chain",
            Self::Subject => "Subject",
            Self::Uri => "URI",
            Self::Dns => "DNS",
        }
    }
}

/// A syntax-checked `x-forwarded-client-cert` value.
#[derive(Clone, Copy, Debug)]
pub struct Xfcc<'a> {
    value: &'a [u8],
    count: usize,
}

/// One element: what one proxy recorded about one client connection.
#[derive(Clone, Copy, Debug)]
pub struct XfccElement<'a> {
    value: &'a [u8],
    start: usize,
    end: usize,
}

/// One value, borrowed with its escapes intact.
#[derive(Clone, Copy, Debug)]
pub struct XfccValue<'a> {
    raw: &'a [u8],
    quoted: bool,
    offset: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Delim {
    Pair,
    Element,
    End,
}

#[derive(Clone, Copy, Debug)]
struct Pair {
    key_start: usize,
    key_end: usize,
    val_start: usize,
    val_end: usize,
    quoted: bool,
}

fn skip_ows(v: &[u8], mut pos: usize, end: usize) -> usize {
    while pos < end && v.get(pos).is_some_and(|&c| is_ows(c)) {
        pos += 1;
    }
    pos
}

/// Scans `Key=Value` at `pos`, returning it, the position after the delimiter, and the delimiter.
fn scan_pair(v: &[u8], pos: usize, end: usize) -> Result<(Pair, usize, Delim), CertError> {
    let key_start = skip_ows(v, pos, end);
    let mut p = key_start;
    while p < end
        && v.get(p)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        p += 1;
    }
    if p == key_start || v.get(p) != Some(&b'=') || p >= end {
        return Err(CertError::HeaderSyntax {
            offset: p,
            expected: "Key=Value",
        });
    }
    let key_end = p;
    p += 1;
    let (val_start, val_end, quoted);
    if v.get(p) == Some(&b'"') {
        let open = p;
        p += 1;
        val_start = p;
        loop {
            match v.get(p) {
                _ if p >= end => return Err(CertError::UnbalancedQuote { offset: open }),
                Some(b'\\') => p += 2,
                Some(b'"') => break,
                Some(_) => p += 1,
                None => return Err(CertError::UnbalancedQuote { offset: open }),
            }
        }
        val_end = p;
        p += 1;
        quoted = true;
    } else {
        val_start = p;
        while p < end && v.get(p).is_some_and(|&c| !matches!(c, b',' | b';')) {
            if v.get(p) == Some(&b'"') {
                return Err(CertError::HeaderSyntax {
                    offset: p,
                    expected: "a quote only around a whole value",
                });
            }
            p += 1;
        }
        val_end = p;
        quoted = false;
    }
    let p = skip_ows(v, p, end);
    let pair = Pair {
        key_start,
        key_end,
        val_start,
        val_end,
        quoted,
    };
    match v.get(p) {
        _ if p >= end => Ok((pair, end, Delim::End)),
        Some(b';') => Ok((pair, p + 1, Delim::Pair)),
        Some(b',') => Ok((pair, p + 1, Delim::Element)),
        _ => Err(CertError::HeaderSyntax {
            offset: p,
            expected: "';' or ',' after a value",
        }),
    }
}

/// Parses and checks a whole `x-forwarded-client-cert` value.
pub fn parse(value: &[u8]) -> Result<Xfcc<'_>, CertError> {
    if value.len() > MAX_CHAIN_HEADER_LEN {
        return Err(CertError::TooLarge {
            len: value.len(),
            max: MAX_CHAIN_HEADER_LEN,
        });
    }
    let end = value.len();
    if skip_ows(value, 0, end) >= end {
        return Err(CertError::Empty);
    }
    let mut count = 0;
    let mut pos = 0;
    loop {
        count += 1;
        if count > MAX_LIST_MEMBERS {
            return Err(CertError::TooManyElements {
                max: MAX_LIST_MEMBERS,
            });
        }
        let (next, delim) = check_element(value, pos, end)?;
        pos = next;
        if delim == Delim::End {
            break;
        }
    }
    Ok(Xfcc { value, count })
}

/// Checks one element starting at `pos`; returns where the next one starts.
fn check_element(v: &[u8], mut pos: usize, end: usize) -> Result<(usize, Delim), CertError> {
    let mut seen = [false; SINGLE_KEYS.len()];
    let mut pairs = 0;
    loop {
        let (pair, next, delim) = scan_pair(v, pos, end)?;
        pairs += 1;
        if pairs > MAX_XFCC_PAIRS {
            return Err(CertError::TooManyElements {
                max: MAX_XFCC_PAIRS,
            });
        }
        let key = v.get(pair.key_start..pair.key_end).unwrap_or_default();
        if let Some(i) = SINGLE_KEYS.iter().position(|k| k.eq_ignore_ascii_case(key)) {
            if seen.get(i).copied().unwrap_or(false) {
                return Err(CertError::HeaderSyntax {
                    offset: pair.key_start,
                    expected: "each of By, Hash, Cert, Chain, Subject at most once",
                });
            }
            if let Some(s) = seen.get_mut(i) {
                *s = true;
            }
        }
        pos = next;
        if delim != Delim::Pair {
            return Ok((pos, delim));
        }
    }
}

impl<'a> Xfcc<'a> {
    /// Number of elements (one per proxy that appended).
    pub const fn len(&self) -> usize {
        self.count
    }

    /// Always false: a parsed value has at least one element.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements, first (farthest proxy) to last (nearest proxy).
    pub fn elements(&self) -> impl Iterator<Item = XfccElement<'a>> + 'a {
        let v = self.value;
        let end = v.len();
        let mut pos = Some(0);
        core::iter::from_fn(move || {
            let start = pos?;
            let (next, delim) = check_element(v, start, end).ok()?;
            pos = (delim != Delim::End).then_some(next);
            // The element text ends before its `,` delimiter.
            let elem_end = if delim == Delim::End { end } else { next - 1 };
            Some(XfccElement {
                value: v,
                start,
                end: elem_end,
            })
        })
    }

    /// The element the nearest proxy added: the last one (see the module docs).
    pub fn nearest(&self) -> Option<XfccElement<'a>> {
        self.elements().last()
    }
}

impl<'a> XfccElement<'a> {
    fn pairs(&self) -> impl Iterator<Item = Pair> + 'a {
        let v = self.value;
        let end = self.end;
        let mut pos = Some(self.start);
        core::iter::from_fn(move || {
            let (pair, next, delim) = scan_pair(v, pos?, end).ok()?;
            pos = (delim == Delim::Pair).then_some(next);
            Some(pair)
        })
    }

    /// Every value of `key`, in order (keys compare case-insensitively).
    pub fn values(&self, key: XfccKey) -> impl Iterator<Item = XfccValue<'a>> + 'a {
        let v = self.value;
        let name = key.name().as_bytes();
        self.pairs().filter_map(move |p| {
            let k = v.get(p.key_start..p.key_end)?;
            k.eq_ignore_ascii_case(name).then(|| XfccValue {
                raw: v.get(p.val_start..p.val_end).unwrap_or_default(),
                quoted: p.quoted,
                offset: p.val_start,
            })
        })
    }

    /// The first value of `key`.
    pub fn get(&self, key: XfccKey) -> Option<XfccValue<'a>> {
        self.values(key).next()
    }

    /// `By`: the identity of the proxy that added the element.
    pub fn by(&self) -> Option<XfccValue<'a>> {
        self.get(XfccKey::By)
    }

    /// `Hash`: hex SHA-256 of the client certificate DER.
    pub fn hash(&self) -> Option<XfccValue<'a>> {
        self.get(XfccKey::Hash)
    }

    /// `Cert`: URL-encoded PEM of the client certificate.
    pub fn cert(&self) -> Option<XfccValue<'a>> {
        self.get(XfccKey::Cert)
    }

    /// `Chain`: URL-encoded PEM of the client certificate chain.
    pub fn chain(&self) -> Option<XfccValue<'a>> {
        self.get(XfccKey::Chain)
    }

    /// `Subject`: the client certificate's subject DN as Envoy prints it.
    pub fn subject(&self) -> Option<XfccValue<'a>> {
        self.get(XfccKey::Subject)
    }

    /// `URI` SAN values.
    pub fn uris(&self) -> impl Iterator<Item = XfccValue<'a>> + 'a {
        self.values(XfccKey::Uri)
    }

    /// `DNS` SAN values.
    pub fn dns(&self) -> impl Iterator<Item = XfccValue<'a>> + 'a {
        self.values(XfccKey::Dns)
    }

    /// The `Hash` as 32 bytes (equal to the raw `x5t#S256`), `None` when absent.
    pub fn hash_bytes(&self) -> Result<Option<[u8; 32]>, CertError> {
        let Some(h) = self.hash() else {
            return Ok(None);
        };
        let raw = h.raw;
        if raw.len() != 64 {
            return Err(CertError::XfccHash);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
            let (Some(&a), Some(&b)) = (pair.first(), pair.get(1)) else {
                return Err(CertError::XfccHash);
            };
            let (Some(hi), Some(lo)) = (hex_val(a), hex_val(b)) else {
                return Err(CertError::XfccHash);
            };
            *o = (hi << 4) | lo;
        }
        Ok(Some(out))
    }

    /// Decodes `Cert` into `out` (needs `out.len() >=` the value's length) and, when `Hash`
    /// is present too, checks that it matches (constant time not needed: both are public).
    pub fn cert_der_into<'b>(&self, out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
        let cert = self.cert().ok_or(CertError::XfccNoCert)?;
        let n = cert.unescape_into(out)?.len();
        let n = percent_decode_in_place(out, n)?;
        let n = pem::decode_pem_in_place(out, n)?;
        let der = CertDer::new(out.get(..n).unwrap_or_default())?;
        if let Some(hash) = self.hash_bytes()?
            && hash != der.thumbprint_bytes()
        {
            return Err(CertError::XfccHashMismatch);
        }
        Ok(der)
    }
}

impl<'a> XfccValue<'a> {
    /// The value as written, without the surrounding quotes and with escapes intact.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// True when the value was double-quoted.
    pub const fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// Offset of the value in the header.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The value with backslash escapes resolved, written into `out`.
    pub fn unescape_into<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], CertError> {
        let available = out.len();
        let mut w = 0;
        let mut escaped = false;
        for &c in self.raw {
            if self.quoted && !escaped && c == b'\\' {
                escaped = true;
                continue;
            }
            escaped = false;
            let slot = out.get_mut(w).ok_or(CertError::BufferTooSmall {
                needed: self.raw.len(),
                available,
            })?;
            *slot = c;
            w += 1;
        }
        Ok(out.get(..w).unwrap_or_default())
    }
}

/// Decodes the client certificate from the nearest (last) element's `Cert`, checking its `Hash`
/// when present; `out` must be at least as long as `value`.
pub fn decode_xfcc_cert<'b>(value: &[u8], out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
    let x = parse(value)?;
    let elem = x.nearest().ok_or(CertError::Empty)?;
    elem.cert_der_into(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_elements_and_picks_the_last() {
        let v = br#"By=spiffe://a;Hash=00;URI=spiffe://c1, By=spiffe://b;Subject="/C=US/CN=x,y";URI=u1;URI=u2;DNS=d"#;
        let x = parse(v).unwrap();
        assert_eq!(x.len(), 2);
        let last = x.nearest().unwrap();
        assert_eq!(last.by().unwrap().raw(), b"spiffe://b");
        assert_eq!(last.subject().unwrap().raw(), b"/C=US/CN=x,y");
        let uris: [&[u8]; 2] = [b"u1", b"u2"];
        assert!(last.uris().map(|u| u.raw()).eq(uris));
        assert_eq!(last.dns().count(), 1);
        assert_eq!(last.cert().map(|c| c.raw()), None);
        assert_eq!(last.hash_bytes(), Ok(None));
        let first = x.elements().next().unwrap();
        assert_eq!(first.hash_bytes(), Err(CertError::XfccHash));
    }

    #[test]
    fn quoted_values_and_escapes() {
        let x = parse(br#"Subject="a\"b;c\\d";By=x"#).unwrap();
        let s = x.nearest().unwrap().subject().unwrap();
        let mut out = [0u8; 32];
        assert_eq!(s.unescape_into(&mut out).unwrap(), br#"a"b;c\d"#);
    }

    #[test]
    fn rejects_bad_syntax_with_exact_errors() {
        assert_eq!(
            parse(br#"Cert="abc;By=x"#).unwrap_err(),
            CertError::UnbalancedQuote { offset: 5 }
        );
        assert_eq!(
            parse(br#"Cert="abc\"#).unwrap_err(),
            CertError::UnbalancedQuote { offset: 5 }
        );
        assert_eq!(
            parse(b"By=a;;Hash=b").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 5,
                expected: "Key=Value"
            }
        );
        assert_eq!(
            parse(b"By=a,").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 5,
                expected: "Key=Value"
            }
        );
        assert_eq!(
            parse(b"By=a;By=b").unwrap_err(),
            CertError::HeaderSyntax {
                offset: 5,
                expected: "each of By, Hash, Cert, Chain, Subject at most once"
            }
        );
        assert_eq!(
            parse(br#"By=a"b""#).unwrap_err(),
            CertError::HeaderSyntax {
                offset: 4,
                expected: "a quote only around a whole value"
            }
        );
        assert_eq!(
            parse(br#"By="a"x"#).unwrap_err(),
            CertError::HeaderSyntax {
                offset: 6,
                expected: "';' or ',' after a value"
            }
        );
        assert_eq!(parse(b"  ").unwrap_err(), CertError::Empty);
        let mut many = [b','; 40];
        for chunk in many.chunks_mut(2) {
            chunk[0] = b'a';
        }
        // "a,a,a,…" has keys without '=' — still a syntax error, not a panic.
        assert!(parse(&many).is_err());
    }

    #[test]
    fn caps_elements() {
        let mut v = [0u8; 17 * 4 - 1];
        for (i, chunk) in v.chunks_mut(4).enumerate() {
            chunk[..3].copy_from_slice(b"a=b");
            if i < 16 {
                chunk[3] = b',';
            }
        }
        assert_eq!(
            parse(&v).unwrap_err(),
            CertError::TooManyElements {
                max: MAX_LIST_MEMBERS
            }
        );
    }
}
