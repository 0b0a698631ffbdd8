//! Distinguished names: RFC 4514 strings and certificate subjects, compared as parsed RDNs
//! (RFC 8705 §2.1.2 `tls_client_auth_subject_dn`).
//!
//! Matching rules, all documented choices:
//! - RDNs are compared in sequence order; an RFC 4514 string lists them **last first**
//!   (RFC 4514 §2.1), so `CN=a,O=b` is the subject `O=b` then `CN=a`;
//! - a multi-valued RDN (`OU=Sales+CN=J. Smith`) is a set: member order does not matter;
//! - attribute types compare by OID: the RFC 4514 §3 short names `CN O OU C L ST STREET DC
//!   UID`, also `emailAddress`/`E`, `serialNumber`, `organizationIdentifier`, `SN`, `GN`,
//!   `title` and the long names, case-insensitively, or a dotted OID;
//! - string values compare case-insensitively (Unicode simple lowercase) after whitespace
//!   folding (leading and trailing whitespace dropped, inner runs collapsed to one space),
//!   the effect of the caseIgnoreMatch rule of RFC 4517 §4.2.11 used by these attributes;
//! - a `#hex` value (RFC 4514 §2.4) is the BER of the value: when it is a string type it is
//!   compared as that string, otherwise its encoding must equal the certificate's exactly;
//! - certificate strings decode from UTF8String, PrintableString, IA5String, VisibleString,
//!   NumericString, BMPString (UTF-16BE), UniversalString (UCS-4BE) and TeletexString (taken
//!   as ISO 8859-1, as most software does).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Longest RFC 4514 string accepted.
pub const MAX_DN_LEN: usize = 4096;
/// Most RDNs in a name.
pub const MAX_RDNS: usize = 64;
/// Most attributes in one multi-valued RDN.
pub const MAX_RDN_MEMBERS: usize = 16;

/// Why an RFC 4514 string is not a distinguished name.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnError {
    /// Longer than [`MAX_DN_LEN`], or more than [`MAX_RDNS`] RDNs / [`MAX_RDN_MEMBERS`] members.
    TooLong,
    /// An attribute type that is neither a known short name nor a dotted OID (RFC 4514 §3).
    UnknownAttributeType {
        /// Offset of the type.
        offset: usize,
    },
    /// A malformed dotted OID (RFC 4512 §1.4 `numericoid`).
    InvalidOid {
        /// Offset of the OID.
        offset: usize,
    },
    /// `=` missing after the attribute type.
    ExpectedEquals {
        /// Offset where `=` was expected.
        offset: usize,
    },
    /// A backslash not followed by a special character or two hex digits (RFC 4514 §3 `pair`).
    InvalidEscape {
        /// Offset of the backslash.
        offset: usize,
    },
    /// `"`, `;`, `<`, `>` (or `#` first) unescaped in a value (RFC 4514 §3 `string`).
    UnescapedSpecial {
        /// Offset of the character.
        offset: usize,
    },
    /// A `#hexstring` with an odd length, a non-hex digit, or not one BER element (RFC 4514 §2.4).
    InvalidHex {
        /// Offset of the `#`.
        offset: usize,
    },
    /// Escaped bytes do not form UTF-8 (RFC 4514 §2.4).
    InvalidUtf8 {
        /// Offset of the value.
        offset: usize,
    },
    /// An empty RDN (`CN=a,,O=b`) or a trailing separator.
    EmptyRdn {
        /// Offset of the empty RDN.
        offset: usize,
    },
    /// The certificate's Name could not be read.
    Certificate,
}

impl fmt::Display for DnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(
                f,
                "distinguished name exceeds {MAX_DN_LEN} bytes or {MAX_RDNS} RDNs"
            ),
            Self::UnknownAttributeType { offset } => {
                write!(f, "unknown attribute type at offset {offset}")
            }
            Self::InvalidOid { offset } => write!(f, "invalid dotted OID at offset {offset}"),
            Self::ExpectedEquals { offset } => write!(f, "expected '=' at offset {offset}"),
            Self::InvalidEscape { offset } => write!(f, "invalid escape at offset {offset}"),
            Self::UnescapedSpecial { offset } => {
                write!(f, "special character must be escaped at offset {offset}")
            }
            Self::InvalidHex { offset } => write!(f, "invalid #hex value at offset {offset}"),
            Self::InvalidUtf8 { offset } => write!(f, "value at offset {offset} is not UTF-8"),
            Self::EmptyRdn { offset } => write!(f, "empty RDN at offset {offset}"),
            Self::Certificate => f.write_str("certificate name could not be decoded"),
        }
    }
}

impl core::error::Error for DnError {}

/// Where two names differ (for logs; the client gets a plain `invalid_client`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnMismatch {
    /// Different number of RDNs.
    RdnCount {
        /// RDNs in the registered name.
        registered: usize,
        /// RDNs in the certificate subject.
        presented: usize,
    },
    /// The RDN at this position (0 = first in the certificate, i.e. the last in the string)
    /// differs in its members.
    Rdn {
        /// Position in sequence order.
        index: usize,
    },
}

impl fmt::Display for DnMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RdnCount {
                registered,
                presented,
            } => {
                write!(
                    f,
                    "subject has {presented} RDNs, the registered DN {registered}"
                )
            }
            Self::Rdn { index } => write!(f, "RDN {index} (in certificate order) differs"),
        }
    }
}

/// One attribute value, normalised for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    /// A character string (decoded from any string type).
    Text(String),
    /// A non-string value: its complete BER/DER element.
    Encoded(Vec<u8>),
}

/// One `type=value` member of an RDN.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ava {
    /// DER content octets of the attribute type OID.
    oid: Vec<u8>,
    value: Value,
}

/// A distinguished name as a sequence of RDNs in certificate (DER) order (RFC 5280 §4.1.2.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    rdns: Vec<Vec<Ava>>,
}

/// Short and long attribute type names with their OIDs (RFC 4514 §3, RFC 4519 §2).
const NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("commonName", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("surname", "2.5.4.4"),
    ("serialNumber", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("countryName", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("localityName", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("stateOrProvinceName", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("streetAddress", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("organizationName", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("organizationalUnitName", "2.5.4.11"),
    ("title", "2.5.4.12"),
    ("GN", "2.5.4.42"),
    ("givenName", "2.5.4.42"),
    ("organizationIdentifier", "2.5.4.97"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("domainComponent", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("userId", "0.9.2342.19200300.100.1.1"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
    ("E", "1.2.840.113549.1.9.1"),
];

/// Encodes a dotted OID as DER content octets (X.690 §8.19).
pub(crate) fn encode_oid(dotted: &str) -> Option<Vec<u8>> {
    let mut arcs = dotted.split('.');
    let parse = |s: &str| -> Option<u64> {
        if s.is_empty()
            || s.len() > 19
            || !s.bytes().all(|c| c.is_ascii_digit())
            || (s.len() > 1 && s.starts_with('0'))
        {
            return None;
        }
        s.parse().ok()
    };
    let first = parse(arcs.next()?)?;
    let second = parse(arcs.next()?)?;
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut out = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = [0u8; 10];
        let mut n = 0;
        loop {
            if let Some(t) = tmp.get_mut(n) {
                *t = (v & 0x7f) as u8;
            }
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            let b = tmp.get(i).copied().unwrap_or(0);
            out.push(if i == 0 { b } else { b | 0x80 });
        }
    };
    push(first.checked_mul(40)?.checked_add(second)?);
    for arc in arcs {
        push(parse(arc)?);
    }
    Some(out)
}

fn attribute_oid(name: &str, offset: usize) -> Result<Vec<u8>, DnError> {
    let first = name.bytes().next().unwrap_or(b'?');
    if first.is_ascii_digit()
        || name.len() > 4
            && name
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("oid."))
    {
        let dotted = if first.is_ascii_digit() {
            name
        } else {
            name.get(4..).unwrap_or_default()
        };
        return encode_oid(dotted).ok_or(DnError::InvalidOid { offset });
    }
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, oid)| encode_oid(oid))
        .ok_or(DnError::UnknownAttributeType { offset })
}

/// Reads a DER/BER TLV with a definite length at the start of `b`; (tag, content, total length).
pub(crate) fn tlv(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (hlen, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let mut len = 0usize;
        for &o in b.get(2..2 + n)? {
            len = (len << 8) | usize::from(o);
        }
        (2 + n, len)
    };
    let content = b.get(hlen..hlen.checked_add(len)?)?;
    Some((tag, content, hlen + len))
}

/// Decodes a string-typed attribute value (X.520 DirectoryString and friends).
fn decode_string(tag: u8, content: &[u8]) -> Option<String> {
    match tag {
        0x0c => core::str::from_utf8(content).ok().map(String::from),
        // NumericString, PrintableString, IA5String, VisibleString: ASCII repertoires.
        0x12 | 0x13 | 0x16 | 0x1a => content
            .is_ascii()
            .then(|| content.iter().map(|&b| char::from(b)).collect()),
        // TeletexString: ISO 8859-1 in practice.
        0x14 => Some(content.iter().map(|&b| char::from(b)).collect()),
        0x1e => {
            if !content.len().is_multiple_of(2) {
                return None;
            }
            let units = content.chunks_exact(2).map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            });
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        0x1c => {
            if !content.len().is_multiple_of(4) {
                return None;
            }
            content
                .chunks_exact(4)
                .map(|c| {
                    let mut w = [0u8; 4];
                    w.copy_from_slice(c);
                    char::from_u32(u32::from_be_bytes(w))
                })
                .collect()
        }
        _ => None,
    }
}

/// Normalises one encoded attribute value: a string type becomes text, anything else stays
/// as its encoding.
fn value_from_tlv(element: &[u8]) -> Option<Value> {
    let (tag, content, total) = tlv(element)?;
    if total != element.len() {
        return None;
    }
    Some(match decode_string(tag, content) {
        Some(s) => Value::Text(s),
        None => Value::Encoded(element.to_vec()),
    })
}

/// The whitespace-folded, lowercased characters of a string value.
fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    let mut words = s.split_whitespace().peekable();
    core::iter::from_fn(move || {
        let w = words.next()?;
        let sep = words.peek().is_some();
        Some(w.chars().chain(sep.then_some(' ')))
    })
    .flatten()
    .flat_map(char::to_lowercase)
}

/// [`folded`] for ASCII text, byte by byte (the common case, several times faster).
fn folded_ascii(s: &str) -> impl Iterator<Item = u8> + '_ {
    let mut words = s.split_ascii_whitespace().peekable();
    core::iter::from_fn(move || {
        let w = words.next()?;
        let sep = words.peek().is_some();
        Some(w.bytes().chain(sep.then_some(b' ')))
    })
    .flatten()
    .map(|b| b.to_ascii_lowercase())
}

fn values_match(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) if x.is_ascii() && y.is_ascii() => {
            folded_ascii(x).eq(folded_ascii(y))
        }
        (Value::Text(x), Value::Text(y)) => folded(x).eq(folded(y)),
        (Value::Encoded(x), Value::Encoded(y)) => x == y,
        _ => false,
    }
}

fn avas_match(a: &Ava, b: &Ava) -> bool {
    a.oid == b.oid && values_match(&a.value, &b.value)
}

/// Set equality of two RDNs (each member matched once).
fn rdns_match(a: &[Ava], b: &[Ava]) -> bool {
    if a.len() != b.len() || a.len() > MAX_RDN_MEMBERS {
        return false;
    }
    let mut used = [false; MAX_RDN_MEMBERS];
    a.iter().all(|x| {
        let hit = b
            .iter()
            .enumerate()
            .find(|(i, y)| !used.get(*i).copied().unwrap_or(true) && avas_match(x, y));
        match hit {
            Some((i, _)) => {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
                true
            }
            None => false,
        }
    })
}

/// Parser state over an RFC 4514 string.
struct Parser<'s> {
    s: &'s [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn attribute_type(&mut self) -> Result<Vec<u8>, DnError> {
        self.skip_spaces();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        {
            self.pos += 1;
        }
        let name = core::str::from_utf8(self.s.get(start..self.pos).unwrap_or_default())
            .unwrap_or_default();
        if name.is_empty() {
            return Err(DnError::UnknownAttributeType { offset: start });
        }
        let oid = attribute_oid(name, start)?;
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return Err(DnError::ExpectedEquals { offset: self.pos });
        }
        self.pos += 1;
        Ok(oid)
    }

    fn hex_value(&mut self) -> Result<Value, DnError> {
        let start = self.pos;
        self.pos += 1;
        let mut bytes = Vec::new();
        while let Some(hi) = self.peek().and_then(crate::header::hex_val) {
            let lo = self
                .s
                .get(self.pos + 1)
                .copied()
                .and_then(crate::header::hex_val)
                .ok_or(DnError::InvalidHex { offset: start })?;
            bytes.push((hi << 4) | lo);
            self.pos += 2;
        }
        if bytes.is_empty() || !matches!(self.peek(), None | Some(b',' | b'+' | b' ')) {
            return Err(DnError::InvalidHex { offset: start });
        }
        value_from_tlv(&bytes).ok_or(DnError::InvalidHex { offset: start })
    }

    fn string_value(&mut self) -> Result<Value, DnError> {
        let start = self.pos;
        let mut bytes = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b',' | b'+' => break,
                b'\\' => {
                    let next = self.s.get(self.pos + 1).copied();
                    match next {
                        Some(
                            e @ (b'\\' | b'"' | b'+' | b',' | b';' | b'<' | b'>' | b' ' | b'#'
                            | b'='),
                        ) => {
                            bytes.push(e);
                            self.pos += 2;
                        }
                        Some(h) if crate::header::hex_val(h).is_some() => {
                            let hi = crate::header::hex_val(h).unwrap_or(0);
                            let lo = self
                                .s
                                .get(self.pos + 2)
                                .copied()
                                .and_then(crate::header::hex_val)
                                .ok_or(DnError::InvalidEscape { offset: self.pos })?;
                            bytes.push((hi << 4) | lo);
                            self.pos += 3;
                        }
                        _ => return Err(DnError::InvalidEscape { offset: self.pos }),
                    }
                }
                b'"' | b';' | b'<' | b'>' | 0 => {
                    return Err(DnError::UnescapedSpecial { offset: self.pos });
                }
                b'#' if self.pos == start => {
                    return Err(DnError::UnescapedSpecial { offset: self.pos });
                }
                _ => {
                    bytes.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(bytes)
            .map(Value::Text)
            .map_err(|_| DnError::InvalidUtf8 { offset: start })
    }

    fn ava(&mut self) -> Result<Ava, DnError> {
        let oid = self.attribute_type()?;
        // Unescaped spaces around a value are not significant after whitespace folding.
        self.skip_spaces();
        let value = if self.peek() == Some(b'#') {
            self.hex_value()?
        } else {
            self.string_value()?
        };
        self.skip_spaces();
        Ok(Ava { oid, value })
    }
}

impl DistinguishedName {
    /// Parses an RFC 4514 §3 string (`CN=client,O=Example\, Inc.,C=US`).
    ///
    /// Spaces around `,` `+` `=` are tolerated; `;` as an RDN separator (RFC 1779) is not.
    /// The empty string is the empty name.
    pub fn parse(s: &str) -> Result<Self, DnError> {
        if s.len() > MAX_DN_LEN {
            return Err(DnError::TooLong);
        }
        let mut p = Parser {
            s: s.as_bytes(),
            pos: 0,
        };
        let mut rdns: Vec<Vec<Ava>> = Vec::new();
        p.skip_spaces();
        if p.peek().is_none() {
            return Ok(Self::default());
        }
        loop {
            let mut rdn = Vec::new();
            loop {
                p.skip_spaces();
                if matches!(p.peek(), None | Some(b',' | b'+')) {
                    return Err(DnError::EmptyRdn { offset: p.pos });
                }
                rdn.push(p.ava()?);
                if rdn.len() > MAX_RDN_MEMBERS {
                    return Err(DnError::TooLong);
                }
                if p.peek() == Some(b'+') {
                    p.pos += 1;
                    continue;
                }
                break;
            }
            rdns.push(rdn);
            if rdns.len() > MAX_RDNS {
                return Err(DnError::TooLong);
            }
            match p.peek() {
                None => break,
                Some(b',') => {
                    p.pos += 1;
                    p.skip_spaces();
                    if p.peek().is_none() {
                        return Err(DnError::EmptyRdn { offset: p.pos });
                    }
                }
                Some(_) => return Err(DnError::UnescapedSpecial { offset: p.pos }),
            }
        }
        // The string lists RDNs last first (RFC 4514 §2.1).
        rdns.reverse();
        Ok(Self { rdns })
    }

    /// Builds a name from a certificate's subject (RFC 5280 §4.1.2.6).
    pub(crate) fn from_x509(name: &x509_cert::name::Name) -> Result<Self, DnError> {
        use der::Encode;
        let mut rdns = Vec::new();
        for rdn in name.iter_rdn() {
            let mut members = Vec::new();
            for atv in rdn.iter() {
                let encoded = atv.value.to_der().map_err(|_| DnError::Certificate)?;
                let value = value_from_tlv(&encoded).ok_or(DnError::Certificate)?;
                members.push(Ava {
                    oid: atv.oid.as_bytes().to_vec(),
                    value,
                });
            }
            if members.len() > MAX_RDN_MEMBERS {
                return Err(DnError::TooLong);
            }
            rdns.push(members);
        }
        if rdns.len() > MAX_RDNS {
            return Err(DnError::TooLong);
        }
        Ok(Self { rdns })
    }

    /// Number of RDNs.
    pub fn len(&self) -> usize {
        self.rdns.len()
    }

    /// True for the empty name.
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// Compares `self` (e.g. the registered DN) with `presented` RDN by RDN (RFC 8705 §2.1.2).
    pub fn matches(&self, presented: &Self) -> Result<(), DnMismatch> {
        if self.rdns.len() != presented.rdns.len() {
            return Err(DnMismatch::RdnCount {
                registered: self.rdns.len(),
                presented: presented.rdns.len(),
            });
        }
        for (index, (a, b)) in self.rdns.iter().zip(&presented.rdns).enumerate() {
            if !rdns_match(a, b) {
                return Err(DnMismatch::Rdn { index });
            }
        }
        Ok(())
    }
}

impl core::str::FromStr for DistinguishedName {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, DnError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn dn(s: &str) -> DistinguishedName {
        DistinguishedName::parse(s).unwrap()
    }

    #[test]
    fn encodes_oids() {
        assert_eq!(encode_oid("2.5.4.3").unwrap(), [0x55, 0x04, 0x03]);
        assert_eq!(
            encode_oid("1.2.840.113549.1.9.1").unwrap(),
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]
        );
        assert_eq!(
            encode_oid("0.9.2342.19200300.100.1.25").unwrap(),
            [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19]
        );
        assert!(encode_oid("3.1").is_none());
        assert!(encode_oid("1.40").is_none());
        assert!(encode_oid("1.2.03").is_none());
        assert!(encode_oid("1").is_none());
        assert!(encode_oid("1..2").is_none());
    }

    #[test]
    fn order_is_reversed_and_members_are_sets() {
        let a = dn("CN=J. Smith+OU=Sales,DC=example,DC=net");
        let b = dn("OU=Sales + CN=J.  SMITH , DC=Example,DC=NET");
        assert!(a.matches(&b).is_ok());
        assert_eq!(
            a.rdns[0][0].oid,
            encode_oid("0.9.2342.19200300.100.1.25").unwrap()
        );
        assert_eq!(
            dn("DC=net,DC=example").matches(&dn("DC=example,DC=net")),
            Err(DnMismatch::Rdn { index: 0 })
        );
        assert_eq!(
            dn("CN=a").matches(&dn("CN=a,O=b")),
            Err(DnMismatch::RdnCount {
                registered: 1,
                presented: 2
            })
        );
        assert_eq!(
            dn("CN=a+O=b").matches(&dn("CN=a+O=c")),
            Err(DnMismatch::Rdn { index: 0 })
        );
        assert_eq!(
            dn("CN=a+CN=a").matches(&dn("CN=a+O=a")),
            Err(DnMismatch::Rdn { index: 0 })
        );
    }

    #[test]
    fn escapes_and_hex() {
        let a = dn(r#"CN=James \"Jim\" Smith\, III,O=a\+b\\c\3Dd\;\<\>"#);
        assert_eq!(
            a.rdns[1][0].value,
            Value::Text(String::from("James \"Jim\" Smith, III"))
        );
        assert_eq!(a.rdns[0][0].value, Value::Text(String::from("a+b\\c=d;<>")));
        assert_eq!(
            dn(r"CN=Zo\C3\AB").rdns[0][0].value,
            Value::Text(String::from("Zoë"))
        );
        // #hex of a UTF8String is that string.
        assert!(dn("CN=#0c03616263").matches(&dn("CN=ABC")).is_ok());
        // #hex of an OCTET STRING stays an encoding.
        assert_eq!(
            dn("1.2.3.4=#0401ff").rdns[0][0].value,
            Value::Encoded(alloc::vec![4, 1, 0xff])
        );
        assert_eq!(dn("oid.2.5.4.3=x"), dn("CN=x"));
        assert_eq!(dn(r"CN=\#x"), dn("CN=#78".replace("#78", r"\23x").as_str()));
    }

    #[test]
    fn parse_errors_are_exact() {
        let e = |s: &str| DistinguishedName::parse(s).unwrap_err();
        assert_eq!(e("XX=a"), DnError::UnknownAttributeType { offset: 0 });
        assert_eq!(e("CN"), DnError::ExpectedEquals { offset: 2 });
        assert_eq!(e("1.2.=a"), DnError::InvalidOid { offset: 0 });
        assert_eq!(e(r"CN=a\x"), DnError::InvalidEscape { offset: 4 });
        assert_eq!(e(r"CN=a\4"), DnError::InvalidEscape { offset: 4 });
        assert_eq!(e("CN=a;O=b"), DnError::UnescapedSpecial { offset: 4 });
        assert_eq!(e("CN=a\"b"), DnError::UnescapedSpecial { offset: 4 });
        assert_eq!(e("CN=#zz"), DnError::InvalidHex { offset: 3 });
        assert_eq!(e("CN=#0c0"), DnError::InvalidHex { offset: 3 });
        assert_eq!(e("CN=#0c05ab"), DnError::InvalidHex { offset: 3 });
        assert_eq!(e(r"CN=\ff"), DnError::InvalidUtf8 { offset: 3 });
        assert_eq!(e("CN=a,,O=b"), DnError::EmptyRdn { offset: 5 });
        assert_eq!(e("CN=a,"), DnError::EmptyRdn { offset: 5 });
        assert_eq!(e("CN=a+"), DnError::EmptyRdn { offset: 5 });
    }

    #[test]
    fn string_types_decode() {
        assert_eq!(decode_string(0x1e, &[0, b'a', 0x00, 0xeb]).unwrap(), "aë");
        assert_eq!(decode_string(0x1c, &[0, 0, 0, b'a']).unwrap(), "a");
        assert_eq!(decode_string(0x14, &[0xeb]).unwrap(), "ë");
        assert!(decode_string(0x13, &[0xeb]).is_none());
        assert!(decode_string(0x1e, &[0xd8, 0x00]).is_none());
    }
}
