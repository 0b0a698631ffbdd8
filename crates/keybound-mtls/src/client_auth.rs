//! Mutual-TLS client authentication (RFC 8705 §2).
//!
//! - `tls_client_auth` (§2.1): the client registers exactly one of five identifiers and the
//!   certificate — already validated against a trusted CA by the TLS layer or a pluggable
//!   verifier, **not** by this module — must carry it ([`TlsClientAuth`]).
//! - `self_signed_tls_client_auth` (§2.2): no CA; the certificate must be one the client
//!   registered in its JWKS ([`match_jwks`]). Possession of the private key is proven by the
//!   TLS handshake itself (the CertificateVerify signature), which this module cannot see.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use keybound_json::{JsonError, Object, Value};
use subtle::ConstantTimeEq;

use crate::dn::{DistinguishedName, DnError, DnMismatch};
use crate::error::CertError;
use crate::x509::{ParsedCertificate, PublicKey, SanEntry, strip_zeros};

pub use crate::metadata::{ClientAuthMethod, SELF_SIGNED_TLS_CLIENT_AUTH, TLS_CLIENT_AUTH};

/// The client metadata names of the five `tls_client_auth` identifiers (RFC 8705 §2.1.2).
pub const IDENTIFIER_MEMBERS: [&str; 5] = [
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// Why client authentication failed, or why the registration is unusable.
///
/// Every certificate-side variant maps to `invalid_client` (RFC 6749 §5.2); registration
/// variants are configuration errors to report when the client registers.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthError {
    /// None of the five identifiers is registered (RFC 8705 §2.1.2: exactly one is required).
    NoIdentifierRegistered,
    /// More than one identifier is registered (RFC 8705 §2.1.2).
    MultipleIdentifiersRegistered {
        /// The first member found.
        first: &'static str,
        /// The second member found.
        second: &'static str,
    },
    /// A registered identifier is not a string, or not a valid value of its kind.
    InvalidRegisteredValue {
        /// The metadata member.
        member: &'static str,
    },
    /// `tls_client_auth_subject_dn` is not an RFC 4514 string.
    InvalidSubjectDn(DnError),
    /// The metadata or JWKS is not valid JSON.
    Json(JsonError),
    /// The presented certificate could not be read.
    Certificate(CertError),
    /// The certificate subject differs from the registered DN.
    SubjectDnMismatch(DnMismatch),
    /// No subjectAltName of the registered kind equals the registered value.
    SanMismatch {
        /// The metadata member that was compared.
        member: &'static str,
        /// How many SAN entries of that kind the certificate has.
        candidates: usize,
    },
    /// The JWKS has no `keys` array (RFC 7517 §5).
    JwksNoKeys,
    /// A JWKS member is malformed: `member` of key `index`.
    JwksMember {
        /// Index of the key in `keys`.
        index: usize,
        /// The member at fault.
        member: &'static str,
    },
    /// The JWKS has more keys than [`MAX_JWKS_KEYS`].
    TooManyKeys {
        /// The cap.
        max: usize,
    },
    /// No key of the JWKS matches the certificate (RFC 8705 §2.2).
    NoMatchingJwk {
        /// How many keys were compared.
        keys: usize,
    },
}

impl ClientAuthError {
    /// The OAuth error code (RFC 6749 §5.2): `invalid_client`.
    pub const fn wire_error(&self) -> &'static str {
        "invalid_client"
    }
}

impl fmt::Display for ClientAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIdentifierRegistered => {
                f.write_str("tls_client_auth needs exactly one registered identifier; none is set")
            }
            Self::MultipleIdentifiersRegistered { first, second } => {
                write!(
                    f,
                    "tls_client_auth needs exactly one registered identifier; both {first} and {second} are set"
                )
            }
            Self::InvalidRegisteredValue { member } => {
                write!(f, "registered {member} is not a valid value")
            }
            Self::InvalidSubjectDn(e) => write!(f, "registered tls_client_auth_subject_dn: {e}"),
            Self::Json(e) => write!(f, "client metadata: {e}"),
            Self::Certificate(e) => write!(f, "client certificate: {e}"),
            Self::SubjectDnMismatch(m) => write!(f, "certificate subject does not match: {m}"),
            Self::SanMismatch { member, candidates } => {
                write!(
                    f,
                    "no matching subjectAltName for {member} ({candidates} of that kind)"
                )
            }
            Self::JwksNoKeys => f.write_str("JWKS has no keys array"),
            Self::JwksMember { index, member } => write!(f, "JWKS key {index}: malformed {member}"),
            Self::TooManyKeys { max } => write!(f, "JWKS has more than {max} keys"),
            Self::NoMatchingJwk { keys } => {
                write!(f, "none of the {keys} JWKS keys matches the certificate")
            }
        }
    }
}

impl core::error::Error for ClientAuthError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidSubjectDn(e) => Some(e),
            Self::Json(e) => Some(e),
            Self::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CertError> for ClientAuthError {
    fn from(e: CertError) -> Self {
        Self::Certificate(e)
    }
}

impl From<JsonError> for ClientAuthError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// One registered identifier, as text (RFC 8705 §2.1.2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsClientAuthId<'a> {
    /// `tls_client_auth_subject_dn`: an RFC 4514 string.
    SubjectDn(&'a str),
    /// `tls_client_auth_san_dns`.
    SanDns(&'a str),
    /// `tls_client_auth_san_uri`.
    SanUri(&'a str),
    /// `tls_client_auth_san_ip`: IPv4 or IPv6 in any textual form.
    SanIp(&'a str),
    /// `tls_client_auth_san_email`.
    SanEmail(&'a str),
}

impl TlsClientAuthId<'_> {
    /// The client metadata member name.
    pub const fn member(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => IDENTIFIER_MEMBERS[0],
            Self::SanDns(_) => IDENTIFIER_MEMBERS[1],
            Self::SanUri(_) => IDENTIFIER_MEMBERS[2],
            Self::SanIp(_) => IDENTIFIER_MEMBERS[3],
            Self::SanEmail(_) => IDENTIFIER_MEMBERS[4],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Registered {
    SubjectDn(DistinguishedName),
    SanDns(String),
    SanUri(String),
    SanIp(IpAddr),
    SanEmail(String),
}

/// A client's `tls_client_auth` registration, parsed and ready to match certificates
/// (RFC 8705 §2.1).
///
/// Comparison rules (documented choices): subject DN as parsed RDNs (see [`crate::dn`]);
/// dNSName ASCII case-insensitive and exact otherwise (no wildcard expansion: the SAN must be
/// the registered string); URI with its scheme and host ASCII case-insensitive and every
/// other part exact (RFC 3986 §6.2.2.1; no percent-decoding, no dot-segment or default-port
/// normalization, see [`san_uri_eq`]); iPAddress by value, an IPv4-mapped IPv6 address equal
/// to its IPv4 address; rfc822Name with an exact local part and a case-insensitive domain
/// (RFC 5280 §7.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsClientAuth {
    registered: Registered,
}

impl TlsClientAuth {
    /// Parses one registered identifier.
    pub fn new(id: TlsClientAuthId<'_>) -> Result<Self, ClientAuthError> {
        let member = id.member();
        let registered = match id {
            TlsClientAuthId::SubjectDn(s) => {
                let dn = DistinguishedName::parse(s).map_err(ClientAuthError::InvalidSubjectDn)?;
                if dn.is_empty() {
                    return Err(ClientAuthError::InvalidRegisteredValue { member });
                }
                Registered::SubjectDn(dn)
            }
            TlsClientAuthId::SanDns(s) => Registered::SanDns(non_empty(s, member)?),
            TlsClientAuthId::SanUri(s) => Registered::SanUri(non_empty(s, member)?),
            TlsClientAuthId::SanEmail(s) => Registered::SanEmail(non_empty(s, member)?),
            TlsClientAuthId::SanIp(s) => {
                // Bracketed IPv6 (as in URIs) is accepted; zone identifiers are not addresses.
                let bare = s
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .unwrap_or(s);
                let ip: IpAddr = bare
                    .parse()
                    .map_err(|_| ClientAuthError::InvalidRegisteredValue { member })?;
                Registered::SanIp(ip.to_canonical())
            }
        };
        Ok(Self { registered })
    }

    /// Takes the identifier from the five optional metadata values; exactly one must be set.
    pub fn from_registered(
        subject_dn: Option<&str>,
        san_dns: Option<&str>,
        san_uri: Option<&str>,
        san_ip: Option<&str>,
        san_email: Option<&str>,
    ) -> Result<Self, ClientAuthError> {
        let ids = [
            subject_dn.map(TlsClientAuthId::SubjectDn),
            san_dns.map(TlsClientAuthId::SanDns),
            san_uri.map(TlsClientAuthId::SanUri),
            san_ip.map(TlsClientAuthId::SanIp),
            san_email.map(TlsClientAuthId::SanEmail),
        ];
        let mut set = ids.into_iter().flatten();
        let first = set.next().ok_or(ClientAuthError::NoIdentifierRegistered)?;
        if let Some(second) = set.next() {
            return Err(ClientAuthError::MultipleIdentifiersRegistered {
                first: first.member(),
                second: second.member(),
            });
        }
        Self::new(first)
    }

    /// Reads the identifier from client metadata JSON (RFC 8705 §2.1.2, RFC 7591 §2).
    pub fn from_metadata(json: &[u8]) -> Result<Self, ClientAuthError> {
        Self::from_object(Object::parse(json)?)
    }

    /// Reads the identifier from a parsed client metadata object.
    ///
    /// A member set to `null` counts as absent; any other non-string is an error.
    pub fn from_object(obj: Object<'_>) -> Result<Self, ClientAuthError> {
        let mut values: [Option<alloc::borrow::Cow<'_, str>>; 5] = Default::default();
        for (slot, member) in values.iter_mut().zip(IDENTIFIER_MEMBERS) {
            match obj.get(member) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => *slot = Some(s.to_cow()),
                Some(_) => return Err(ClientAuthError::InvalidRegisteredValue { member }),
            }
        }
        let [dn, dns, uri, ip, email] = &values;
        Self::from_registered(
            dn.as_deref(),
            dns.as_deref(),
            uri.as_deref(),
            ip.as_deref(),
            email.as_deref(),
        )
    }

    /// The metadata member of the registered identifier.
    pub fn member(&self) -> &'static str {
        match &self.registered {
            Registered::SubjectDn(_) => IDENTIFIER_MEMBERS[0],
            Registered::SanDns(_) => IDENTIFIER_MEMBERS[1],
            Registered::SanUri(_) => IDENTIFIER_MEMBERS[2],
            Registered::SanIp(_) => IDENTIFIER_MEMBERS[3],
            Registered::SanEmail(_) => IDENTIFIER_MEMBERS[4],
        }
    }

    /// Checks the (CA-validated) certificate against the registration (RFC 8705 §2.1.2).
    pub fn verify(&self, cert: &ParsedCertificate<'_>) -> Result<(), ClientAuthError> {
        let member = self.member();
        let sans = cert.subject_alt_names();
        let (candidates, hit) = match &self.registered {
            Registered::SubjectDn(dn) => {
                return dn
                    .matches(cert.subject())
                    .map_err(ClientAuthError::SubjectDnMismatch);
            }
            Registered::SanDns(want) => count_hits(sans, |e| match e {
                SanEntry::Dns(d) => Some(d.eq_ignore_ascii_case(want)),
                _ => None,
            }),
            Registered::SanUri(want) => count_hits(sans, |e| match e {
                SanEntry::Uri(u) => Some(san_uri_eq(u, want)),
                _ => None,
            }),
            Registered::SanIp(want) => count_hits(sans, |e| match e {
                SanEntry::Ip(ip) => Some(ip.to_canonical() == *want),
                _ => None,
            }),
            Registered::SanEmail(want) => count_hits(sans, |e| match e {
                SanEntry::Email(m) => Some(email_eq(m, want)),
                _ => None,
            }),
        };
        if hit {
            Ok(())
        } else {
            Err(ClientAuthError::SanMismatch { member, candidates })
        }
    }

    /// [`TlsClientAuth::verify`] on DER bytes.
    pub fn verify_der(&self, cert_der: &[u8]) -> Result<(), ClientAuthError> {
        self.verify(&ParsedCertificate::from_der(cert_der)?)
    }
}

fn non_empty(s: &str, member: &'static str) -> Result<String, ClientAuthError> {
    if s.is_empty() {
        return Err(ClientAuthError::InvalidRegisteredValue { member });
    }
    Ok(String::from(s))
}

fn count_hits(sans: &[SanEntry], f: impl Fn(&SanEntry) -> Option<bool>) -> (usize, bool) {
    sans.iter()
        .filter_map(f)
        .fold((0, false), |(n, hit), h| (n + 1, hit || h))
}

/// Whether two URIs name the same `tls_client_auth_san_uri` identifier: the scheme and the
/// host compare ASCII case-insensitively (RFC 3986 §6.2.2.1: both are case-insensitive),
/// everything else — user information, port, path, query, fragment, percent-encoded
/// octets — byte for byte. A value without a valid scheme (RFC 3986 §3.1) compares exactly.
///
/// `spiffe://Example.COM/ns/a` equals `SPIFFE://example.com/ns/a`; `…/NS/a` does not, nor
/// does `…:443/ns/a`, nor `%2F` for `/`.
pub fn san_uri_eq(a: &str, b: &str) -> bool {
    match (UriParts::split(a), UriParts::split(b)) {
        (Some(x), Some(y)) => {
            x.scheme.eq_ignore_ascii_case(y.scheme)
                && x.authority == y.authority
                && x.userinfo == y.userinfo
                && x.host.eq_ignore_ascii_case(y.host)
                && x.rest == y.rest
        }
        _ => a == b,
    }
}

/// A URI cut where RFC 3986 §6.2.2.1 case rules change: `scheme ":" [ "//" userinfo "@" ]
/// host rest`. Without an authority, `host` is empty and `rest` is everything after `:`.
struct UriParts<'a> {
    scheme: &'a str,
    /// Whether `//` (an authority) follows the scheme.
    authority: bool,
    /// `userinfo@` when present (compared exactly).
    userinfo: &'a str,
    host: &'a str,
    /// `:port`, path, query and fragment.
    rest: &'a str,
}

impl<'a> UriParts<'a> {
    fn split(uri: &'a str) -> Option<Self> {
        let (scheme, after) = uri.split_once(':')?;
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let mut chars = scheme.bytes();
        if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return None;
        }
        let Some(hier) = after.strip_prefix("//") else {
            return Some(Self {
                scheme,
                authority: false,
                userinfo: "",
                host: "",
                rest: after,
            });
        };
        // RFC 3986 §3.2: the authority ends at the first "/", "?" or "#".
        let auth_end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
        let authority = hier.get(..auth_end)?;
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let host_port = authority.get(host_start..)?;
        // An IP literal ends at "]"; otherwise the host ends at the port's ":".
        let host_len = if host_port.starts_with('[') {
            host_port.find(']').map_or(host_port.len(), |i| i + 1)
        } else {
            host_port.find(':').unwrap_or(host_port.len())
        };
        Some(Self {
            scheme,
            authority: true,
            userinfo: authority.get(..host_start)?,
            host: host_port.get(..host_len)?,
            rest: hier.get(host_start + host_len..)?,
        })
    }
}

/// Local part exact, domain ASCII case-insensitive (RFC 5280 §7.5).
fn email_eq(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => a == b,
    }
}

/// How a JWKS key matched the certificate in [`match_jwks`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwkMatch {
    /// The first `x5c` certificate of the key equals the presented certificate (RFC 7517 §4.7).
    X5c {
        /// Index in `keys`.
        index: usize,
    },
    /// The key's public parameters equal the certificate's public key.
    PublicKey {
        /// Index in `keys`.
        index: usize,
    },
}

/// Most keys compared in one JWKS.
pub const MAX_JWKS_KEYS: usize = 64;

/// `self_signed_tls_client_auth` (RFC 8705 §2.2): finds the key of the client's JWKS that the
/// certificate belongs to.
///
/// A key matches when its `x5c` leaf (the first element, standard base64 DER, RFC 7517 §4.7)
/// is byte-for-byte the presented certificate, or — for keys without `x5c` — when its public
/// members equal the certificate's SubjectPublicKeyInfo key: RSA `n`/`e`, EC `crv`/`x`/`y`
/// against an uncompressed point, OKP `crv`/`x` (RFC 7518 §6, RFC 8037 §2). A key with `x5c`
/// that does not match is not compared by its members: its registration names another
/// certificate. `use`, `alg` and `kid` are not consulted.
pub fn match_jwks(
    jwks_json: &[u8],
    cert: &ParsedCertificate<'_>,
) -> Result<JwkMatch, ClientAuthError> {
    let jwks = Object::parse(jwks_json)?;
    let keys = jwks
        .get("keys")
        .and_then(|v| v.as_array())
        .ok_or(ClientAuthError::JwksNoKeys)?;
    let mut compared = 0;
    for (index, key) in keys.iter().enumerate() {
        if index >= MAX_JWKS_KEYS {
            return Err(ClientAuthError::TooManyKeys { max: MAX_JWKS_KEYS });
        }
        let key = key.as_object().ok_or(ClientAuthError::JwksMember {
            index,
            member: "keys",
        })?;
        compared += 1;
        if let Some(x5c) = key.get("x5c") {
            let leaf = x5c
                .as_array()
                .and_then(|a| a.iter().next())
                .and_then(|v| v.as_str())
                .ok_or(ClientAuthError::JwksMember {
                    index,
                    member: "x5c",
                })?;
            let der =
                Base64::decode_vec(&leaf.to_cow()).map_err(|_| ClientAuthError::JwksMember {
                    index,
                    member: "x5c",
                })?;
            if bool::from(der.as_slice().ct_eq(cert.der().as_bytes())) {
                return Ok(JwkMatch::X5c { index });
            }
            continue;
        }
        if jwk_matches(&key, cert.public_key())
            .map_err(|member| ClientAuthError::JwksMember { index, member })?
        {
            return Ok(JwkMatch::PublicKey { index });
        }
    }
    Err(ClientAuthError::NoMatchingJwk { keys: compared })
}

fn member_str<'a>(
    key: &Object<'a>,
    member: &'static str,
) -> Result<alloc::borrow::Cow<'a, str>, &'static str> {
    key.get(member)
        .and_then(|v| v.as_str())
        .map(|s| s.to_cow())
        .ok_or(member)
}

fn member_b64(key: &Object<'_>, member: &'static str) -> Result<Vec<u8>, &'static str> {
    Base64UrlUnpadded::decode_vec(&member_str(key, member)?).map_err(|_| member)
}

/// Compares a JWK's public members with the certificate key; `Err(member)` when malformed.
fn jwk_matches(key: &Object<'_>, pk: &PublicKey) -> Result<bool, &'static str> {
    let kty = member_str(key, "kty")?;
    Ok(match (&*kty, pk) {
        ("RSA", PublicKey::Rsa { n, e }) => {
            let jn = member_b64(key, "n")?;
            let je = member_b64(key, "e")?;
            strip_zeros(&jn) == n.as_slice() && strip_zeros(&je) == e.as_slice()
        }
        ("EC", PublicKey::Ec { crv, point }) => {
            let jcrv = member_str(key, "crv")?;
            let x = member_b64(key, "x")?;
            let y = member_b64(key, "y")?;
            let (tag, coords) = point.split_first().ok_or("x")?;
            *tag == 0x04
                && *jcrv == **crv
                && x.len() == y.len()
                && coords.len() == x.len() + y.len()
                && coords.get(..x.len()) == Some(x.as_slice())
                && coords.get(x.len()..) == Some(y.as_slice())
        }
        ("OKP", PublicKey::Okp { crv, x }) => {
            let jcrv = member_str(key, "crv")?;
            *jcrv == **crv && member_b64(key, "x")? == *x
        }
        _ => false,
    })
}
