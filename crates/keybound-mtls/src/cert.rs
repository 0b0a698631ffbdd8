//! DER certificate framing checks and the RFC 8705 §3.1 `x5t#S256` thumbprint.

use sha2::{Digest, Sha256};

use crate::error::CertError;

/// Largest certificate DER accepted (16 KiB): room for RSA-8192 and post-quantum signatures.
pub const MAX_CERT_DER_LEN: usize = 16 * 1024;

/// A DER-encoded certificate whose framing has been checked (RFC 5280 §4.1), borrowed.
///
/// The check is shallow and allocation-free: one SEQUENCE with a minimal definite length that
/// spans the input exactly, holding a SEQUENCE, a SEQUENCE and a BIT STRING, and nothing else.
/// The thumbprint is computed over exactly these bytes, never over a re-encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertDer<'a>(&'a [u8]);

impl<'a> CertDer<'a> {
    /// Checks the framing of `der` (RFC 5280 §4.1, X.690 §10.1 definite minimal lengths).
    pub fn new(der: &'a [u8]) -> Result<Self, CertError> {
        check_der(der)?;
        Ok(Self(der))
    }

    /// The DER bytes, exactly as received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// SHA-256 over the DER: the raw `x5t#S256` value (RFC 8705 §3.1).
    pub fn thumbprint_bytes(&self) -> [u8; 32] {
        x5t_s256_bytes(self.0)
    }
}

impl AsRef<[u8]> for CertDer<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

/// SHA-256 over `cert_der` exactly as given, without any check (RFC 8705 §3.1).
pub fn x5t_s256_bytes(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
}

/// Reads a DER TLV header at `pos`; returns (tag, header length, content length).
fn read_header(der: &[u8], pos: usize) -> Result<(u8, usize, usize), CertError> {
    let tag = *der.get(pos).ok_or(CertError::DerTruncated {
        declared: pos + 2,
        available: der.len(),
    })?;
    let first = *der.get(pos + 1).ok_or(CertError::DerTruncated {
        declared: pos + 2,
        available: der.len(),
    })?;
    if first < 0x80 {
        return Ok((tag, 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    // 0x80 is the indefinite form (BER only); more than 4 octets is beyond any cap here.
    if n == 0 || n > 4 {
        return Err(CertError::DerLength { offset: pos + 1 });
    }
    let octets = der
        .get(pos + 2..pos + 2 + n)
        .ok_or(CertError::DerTruncated {
            declared: pos + 2 + n,
            available: der.len(),
        })?;
    let mut len = 0usize;
    for &b in octets {
        len = (len << 8) | usize::from(b);
    }
    // Minimal: no leading zero octet, and the long form only for lengths >= 128.
    if octets.first() == Some(&0) || len < 0x80 {
        return Err(CertError::DerLength { offset: pos + 1 });
    }
    Ok((tag, 2 + n, len))
}

/// The shallow framing check behind [`CertDer::new`].
fn check_der(der: &[u8]) -> Result<(), CertError> {
    if der.is_empty() {
        return Err(CertError::Empty);
    }
    if der.len() > MAX_CERT_DER_LEN {
        return Err(CertError::TooLarge {
            len: der.len(),
            max: MAX_CERT_DER_LEN,
        });
    }
    let (tag, hlen, clen) = read_header(der, 0)?;
    if tag != 0x30 {
        return Err(CertError::DerTag { found: tag });
    }
    let total = hlen
        .checked_add(clen)
        .ok_or(CertError::DerLength { offset: 1 })?;
    if total > der.len() {
        return Err(CertError::DerTruncated {
            declared: total,
            available: der.len(),
        });
    }
    if total < der.len() {
        return Err(CertError::DerTrailingData {
            der_len: total,
            total_len: der.len(),
        });
    }
    // tbsCertificate, signatureAlgorithm, signatureValue — and nothing after them.
    let mut pos = hlen;
    for expected in [0x30u8, 0x30, 0x03] {
        let (t, h, c) =
            read_header(der, pos).map_err(|_| CertError::NotCertificate { offset: pos })?;
        let end = pos.checked_add(h).and_then(|e| e.checked_add(c));
        match end {
            Some(end) if t == expected && end <= total => pos = end,
            _ => return Err(CertError::NotCertificate { offset: pos }),
        }
    }
    if pos != total {
        return Err(CertError::NotCertificate { offset: pos });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    // SEQUENCE { SEQUENCE {}, SEQUENCE {}, BIT STRING { 0 } }
    const TINY: &[u8] = &[0x30, 0x07, 0x30, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00];

    #[test]
    fn accepts_minimal_certificate_shape() {
        assert_eq!(CertDer::new(TINY).unwrap().as_bytes(), TINY);
    }

    #[test]
    fn rejects_framing_errors_with_exact_variant() {
        assert_eq!(CertDer::new(&[]), Err(CertError::Empty));
        assert_eq!(
            CertDer::new(&[0x31, 0x00]),
            Err(CertError::DerTag { found: 0x31 })
        );
        assert_eq!(
            CertDer::new(&[0x30]),
            Err(CertError::DerTruncated {
                declared: 2,
                available: 1
            })
        );
        assert_eq!(
            CertDer::new(&[0x30, 0x80, 0, 0]),
            Err(CertError::DerLength { offset: 1 })
        );
        assert_eq!(
            CertDer::new(&[0x30, 0x81, 0x05]),
            Err(CertError::DerLength { offset: 1 })
        );
        assert_eq!(
            CertDer::new(&[0x30, 0x82, 0x00, 0x90]),
            Err(CertError::DerLength { offset: 1 })
        );
        assert_eq!(
            CertDer::new(&TINY[..8]),
            Err(CertError::DerTruncated {
                declared: 9,
                available: 8
            })
        );
        let mut trailing = [0u8; 10];
        trailing[..9].copy_from_slice(TINY);
        assert_eq!(
            CertDer::new(&trailing),
            Err(CertError::DerTrailingData {
                der_len: 9,
                total_len: 10
            })
        );
        // A PKCS#8 key starts with an INTEGER, not a SEQUENCE.
        assert_eq!(
            CertDer::new(&[0x30, 0x07, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x00]),
            Err(CertError::NotCertificate { offset: 2 })
        );
    }

    #[test]
    fn size_cap_applies_before_parsing() {
        let big = [0u8; MAX_CERT_DER_LEN + 1];
        assert_eq!(
            CertDer::new(&big),
            Err(CertError::TooLarge {
                len: MAX_CERT_DER_LEN + 1,
                max: MAX_CERT_DER_LEN
            })
        );
    }
}
