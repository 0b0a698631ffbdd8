//! Errors for obtaining a certificate's DER from the bytes a TLS stack or a proxy hands over.

use core::fmt;

/// Why bytes are not one well-formed certificate (RFC 5280 §4.1) in the expected encoding.
///
/// Offsets count bytes from the start of the input given to the failing function (the header
/// value, the PEM text or the DER), unless a variant says otherwise.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertError {
    /// The input is empty (or only whitespace).
    Empty,
    /// The input exceeds a size cap.
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The cap that applies.
        max: usize,
    },
    /// The caller's output buffer is too small for the decoded certificate.
    BufferTooSmall {
        /// Bytes needed (at least).
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The DER does not start with a SEQUENCE tag (0x30).
    DerTag {
        /// The tag byte found.
        found: u8,
    },
    /// A DER length is indefinite, not minimally encoded, or wider than 4 bytes (X.690 §10.1).
    DerLength {
        /// Offset of the length octets.
        offset: usize,
    },
    /// The DER ends before the length its header declares.
    DerTruncated {
        /// Bytes the outer SEQUENCE declares (header included).
        declared: usize,
        /// Bytes present.
        available: usize,
    },
    /// Bytes follow the outer SEQUENCE (a second certificate, garbage, or a PEM leftover).
    DerTrailingData {
        /// Length of the certificate SEQUENCE.
        der_len: usize,
        /// Length of the whole input.
        total_len: usize,
    },
    /// The SEQUENCE is not `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE,
    /// signatureAlgorithm SEQUENCE, signatureValue BIT STRING }` (RFC 5280 §4.1).
    NotCertificate {
        /// Offset of the first element that does not fit.
        offset: usize,
    },
    /// The certificate's fields could not be parsed (RFC 5280 §4.1; needs `alloc`).
    X509 {
        /// Offset reported by the DER decoder, when it gave one.
        offset: Option<usize>,
    },
    /// No `-----BEGIN …-----` line where PEM was expected (RFC 7468 §2).
    PemNoBegin,
    /// The PEM label is not `CERTIFICATE` (RFC 7468 §5.1), e.g. a key or a CSR.
    PemLabel {
        /// Offset of the label.
        offset: usize,
    },
    /// The `-----END …-----` line is missing or names another label (RFC 7468 §2).
    PemEnd {
        /// Offset where the END line was expected.
        offset: usize,
    },
    /// More than one PEM block where exactly one certificate is expected.
    PemMultipleBlocks {
        /// Offset of the second `-----BEGIN`.
        offset: usize,
    },
    /// Text other than whitespace before or after the PEM block.
    PemStrayText {
        /// Offset of the first stray byte.
        offset: usize,
    },
    /// Invalid base64 (RFC 4648 §4): a character outside the standard alphabet (incl. the
    /// base64url `-` `_`), misplaced or missing padding, or non-zero trailing bits.
    Base64 {
        /// Offset of the offending character.
        offset: usize,
    },
    /// A `%` not followed by two hex digits (RFC 3986 §2.1).
    Percent {
        /// Offset of the `%`.
        offset: usize,
    },
    /// The header value does not follow its syntax (RFC 8941 for RFC 9440 fields, Envoy's
    /// `x-forwarded-client-cert` grammar, …).
    HeaderSyntax {
        /// Offset of the unexpected byte.
        offset: usize,
        /// What the decoder expected there.
        expected: &'static str,
    },
    /// A quoted string that is never closed (XFCC, RFC 8941 sf-string).
    UnbalancedQuote {
        /// Offset of the opening quote.
        offset: usize,
    },
    /// More list members / elements / key-value pairs than the cap allows.
    TooManyElements {
        /// The cap that applies.
        max: usize,
    },
    /// The XFCC element carries no `Cert=` (only `Hash=` or nothing usable).
    XfccNoCert,
    /// The XFCC `Hash=` is not 64 hex digits.
    XfccHash,
    /// The XFCC `Hash=` does not equal SHA-256 of the `Cert=` certificate.
    XfccHashMismatch,
    /// A header is present more than once where one value is expected.
    RepeatedHeader,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no certificate data"),
            Self::TooLarge { len, max } => {
                write!(f, "input of {len} bytes exceeds the cap of {max}")
            }
            Self::BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "output buffer too small: need {needed} bytes, have {available}"
                )
            }
            Self::DerTag { found } => {
                write!(f, "DER does not start with SEQUENCE (tag 0x{found:02x})")
            }
            Self::DerLength { offset } => write!(f, "invalid DER length at offset {offset}"),
            Self::DerTruncated {
                declared,
                available,
            } => {
                write!(
                    f,
                    "DER truncated: declares {declared} bytes, {available} present"
                )
            }
            Self::DerTrailingData { der_len, total_len } => {
                write!(
                    f,
                    "{} bytes of trailing data after a {der_len}-byte certificate",
                    total_len.saturating_sub(*der_len)
                )
            }
            Self::NotCertificate { offset } => {
                write!(f, "not an X.509 Certificate structure (offset {offset})")
            }
            Self::X509 { offset: Some(o) } => {
                write!(f, "malformed certificate field at offset {o}")
            }
            Self::X509 { offset: None } => f.write_str("malformed certificate field"),
            Self::PemNoBegin => f.write_str("no PEM BEGIN line"),
            Self::PemLabel { offset } => {
                write!(f, "PEM label at offset {offset} is not CERTIFICATE")
            }
            Self::PemEnd { offset } => {
                write!(f, "missing or mismatched PEM END line at offset {offset}")
            }
            Self::PemMultipleBlocks { offset } => {
                write!(f, "more than one PEM block (second at offset {offset})")
            }
            Self::PemStrayText { offset } => {
                write!(f, "text outside the PEM block at offset {offset}")
            }
            Self::Base64 { offset } => write!(f, "invalid base64 at offset {offset}"),
            Self::Percent { offset } => write!(f, "invalid percent-encoding at offset {offset}"),
            Self::HeaderSyntax { offset, expected } => {
                write!(
                    f,
                    "header syntax error at offset {offset}: expected {expected}"
                )
            }
            Self::UnbalancedQuote { offset } => {
                write!(f, "unterminated quoted string at offset {offset}")
            }
            Self::TooManyElements { max } => write!(f, "more than {max} elements"),
            Self::XfccNoCert => f.write_str("x-forwarded-client-cert element has no Cert"),
            Self::XfccHash => f.write_str("x-forwarded-client-cert Hash is not 64 hex digits"),
            Self::XfccHashMismatch => {
                f.write_str("x-forwarded-client-cert Hash does not match its Cert")
            }
            Self::RepeatedHeader => f.write_str("certificate header present more than once"),
        }
    }
}

impl core::error::Error for CertError {}
