//! The few certificate fields RFC 8705 client authentication reads, parsed with `x509-cert`.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use der::Decode;
use keybound_cnf::CertThumbprint;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::cert::CertDer;
use crate::dn::{DistinguishedName, encode_oid, tlv};
use crate::error::CertError;

/// Most SAN entries read from one certificate.
pub const MAX_SAN_ENTRIES: usize = 256;

/// A subjectAltName entry (RFC 5280 §4.2.1.6) of the kinds RFC 8705 §2.1.2 registers.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SanEntry {
    /// `dNSName`.
    Dns(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `iPAddress` (4 or 16 octets).
    Ip(IpAddr),
    /// `rfc822Name`.
    Email(String),
    /// Another kind (otherName, directoryName, registeredID, …), not matched.
    Other,
}

/// The subject public key (RFC 5280 §4.1.2.7), in the form JWK members are compared with.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA (RFC 8017 §A.1.1): big-endian modulus and exponent, leading zeros removed.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// EC on a named curve (RFC 5480 §2.1.1.1), with the SEC 1 point as encoded.
    Ec {
        /// JWK curve name (`P-256`, `P-384`, `P-521`).
        crv: &'static str,
        /// The encoded point (`04 || x || y` when uncompressed).
        point: Vec<u8>,
    },
    /// EdDSA (RFC 8410 §4): JWK curve name and raw key.
    Okp {
        /// `Ed25519` or `Ed448`.
        crv: &'static str,
        /// The raw public key.
        x: Vec<u8>,
    },
    /// Any other algorithm: only an `x5c` match can identify it.
    Other,
}

/// A certificate parsed for client authentication; holds the DER it was parsed from.
#[derive(Clone, Debug)]
pub struct ParsedCertificate<'a> {
    der: CertDer<'a>,
    subject: DistinguishedName,
    sans: Vec<SanEntry>,
    public_key: PublicKey,
}

fn x509_error(e: &der::Error) -> CertError {
    CertError::X509 {
        offset: e
            .position()
            .map(|p| usize::try_from(u32::from(p)).unwrap_or(usize::MAX)),
    }
}

impl<'a> ParsedCertificate<'a> {
    /// Parses `der` (framing checked first) with `x509-cert` (RFC 5280 §4.1).
    pub fn from_der(der: &'a [u8]) -> Result<Self, CertError> {
        let der = CertDer::new(der)?;
        let cert = Certificate::from_der(der.as_bytes()).map_err(|e| x509_error(&e))?;
        let tbs = cert.tbs_certificate();
        let subject = DistinguishedName::from_x509(tbs.subject())
            .map_err(|_| CertError::X509 { offset: None })?;
        let mut sans = Vec::new();
        if let Some((_, SubjectAltName(names))) = tbs
            .get_extension::<SubjectAltName>()
            .map_err(|e| x509_error(&e))?
        {
            if names.len() > MAX_SAN_ENTRIES {
                return Err(CertError::TooManyElements {
                    max: MAX_SAN_ENTRIES,
                });
            }
            sans = names.iter().map(san_entry).collect();
        }
        let spki = tbs.subject_public_key_info();
        let params = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
        let public_key = public_key(
            spki.algorithm.oid.as_bytes(),
            params.as_ref().map(|o| o.as_bytes()),
            spki.subject_public_key.as_bytes().unwrap_or_default(),
        );
        Ok(Self {
            der,
            subject,
            sans,
            public_key,
        })
    }

    /// The DER the certificate was parsed from.
    pub const fn der(&self) -> CertDer<'a> {
        self.der
    }

    /// The certificate's `x5t#S256` (RFC 8705 §3.1).
    pub fn thumbprint(&self) -> CertThumbprint {
        self.der.thumbprint()
    }

    /// The subject DN (RFC 5280 §4.1.2.6).
    pub const fn subject(&self) -> &DistinguishedName {
        &self.subject
    }

    /// The subjectAltName entries, in order (empty without the extension).
    pub fn subject_alt_names(&self) -> &[SanEntry] {
        &self.sans
    }

    /// The subject public key.
    pub const fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
}

fn san_entry(name: &GeneralName) -> SanEntry {
    match name {
        GeneralName::DnsName(s) => SanEntry::Dns(String::from(s.as_str())),
        GeneralName::UniformResourceIdentifier(s) => SanEntry::Uri(String::from(s.as_str())),
        GeneralName::Rfc822Name(s) => SanEntry::Email(String::from(s.as_str())),
        GeneralName::IpAddress(o) => {
            let b = o.as_bytes();
            if let Ok(v4) = <[u8; 4]>::try_from(b) {
                SanEntry::Ip(IpAddr::V4(Ipv4Addr::from(v4)))
            } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                SanEntry::Ip(IpAddr::V6(Ipv6Addr::from(v6)))
            } else {
                // 8 or 32 octets are name-constraint ranges, not addresses.
                SanEntry::Other
            }
        }
        _ => SanEntry::Other,
    }
}

fn oid_is(oid: &[u8], dotted: &str) -> bool {
    encode_oid(dotted).is_some_and(|o| o == oid)
}

/// Strips the leading zero octets of an unsigned big-endian integer.
pub(crate) fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

/// Reads `SEQUENCE { INTEGER n, INTEGER e }` (RFC 8017 §A.1.1).
fn rsa_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, content, total) = tlv(der)?;
    if tag != 0x30 || total != der.len() {
        return None;
    }
    let (t1, n, l1) = tlv(content)?;
    let rest = content.get(l1..)?;
    let (t2, e, l2) = tlv(rest)?;
    if t1 != 0x02 || t2 != 0x02 || l2 != rest.len() {
        return None;
    }
    Some((strip_zeros(n).to_vec(), strip_zeros(e).to_vec()))
}

fn public_key(alg: &[u8], curve: Option<&[u8]>, key: &[u8]) -> PublicKey {
    if oid_is(alg, "1.2.840.113549.1.1.1") {
        return rsa_key(key).map_or(PublicKey::Other, |(n, e)| PublicKey::Rsa { n, e });
    }
    if oid_is(alg, "1.2.840.10045.2.1") {
        let crv = curve.and_then(|c| {
            [
                ("1.2.840.10045.3.1.7", "P-256"),
                ("1.3.132.0.34", "P-384"),
                ("1.3.132.0.35", "P-521"),
            ]
            .into_iter()
            .find(|(oid, _)| oid_is(c, oid))
            .map(|(_, name)| name)
        });
        return crv.map_or(PublicKey::Other, |crv| PublicKey::Ec {
            crv,
            point: key.to_vec(),
        });
    }
    if oid_is(alg, "1.3.101.112") {
        return PublicKey::Okp {
            crv: "Ed25519",
            x: key.to_vec(),
        };
    }
    if oid_is(alg, "1.3.101.113") {
        return PublicKey::Okp {
            crv: "Ed448",
            x: key.to_vec(),
        };
    }
    PublicKey::Other
}
