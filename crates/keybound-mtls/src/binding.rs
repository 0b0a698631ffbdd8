//! Certificate-bound access tokens (RFC 8705 §3): the presented certificate against
//! `cnf."x5t#S256"`.

use core::fmt;

use keybound_cnf::{BindingError, CertThumbprint, Confirmation};

use crate::cert::{CertDer, x5t_s256_bytes};
use crate::error::CertError;

/// `x5t#S256` of `cert_der` exactly as given, without a framing check (RFC 8705 §3.1).
///
/// Use [`x5t_s256_checked`] (or a [`CertDer`]) for bytes that came from outside a TLS stack.
pub fn x5t_s256(cert_der: &[u8]) -> CertThumbprint {
    CertThumbprint::from_bytes(x5t_s256_bytes(cert_der))
}

/// `x5t#S256` of `cert_der` after checking it is one well-formed certificate SEQUENCE
/// (RFC 8705 §3.1, RFC 5280 §4.1).
pub fn x5t_s256_checked(cert_der: &[u8]) -> Result<CertThumbprint, CertError> {
    Ok(CertDer::new(cert_der)?.thumbprint())
}

impl CertDer<'_> {
    /// The certificate's `x5t#S256` (RFC 8705 §3.1).
    pub fn thumbprint(&self) -> CertThumbprint {
        CertThumbprint::from_bytes(self.thumbprint_bytes())
    }
}

/// Why a presented certificate does not satisfy a certificate-bound token (RFC 8705 §3).
///
/// A resource server answers every variant with HTTP 401 `invalid_token` (RFC 8705 §3,
/// RFC 6750 §3.1); see [`CertBindingError::wire_error`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertBindingError {
    /// The `cnf` check failed: [`BindingError::NoCertificate`] (none presented),
    /// [`BindingError::Mismatch`], [`BindingError::NotBound`] (token not sender-constrained),
    /// [`BindingError::UnsupportedMethod`] (bound only by a `cnf` method that cannot be
    /// checked) or [`BindingError::WrongKind`] (bound by DPoP `jkt`, not a certificate).
    Binding(BindingError),
    /// The presented certificate bytes are not one well-formed certificate.
    MalformedCertificate(CertError),
}

impl CertBindingError {
    /// The OAuth error code for the response (RFC 8705 §3, RFC 6750 §3.1): `invalid_token`.
    pub const fn wire_error(&self) -> &'static str {
        "invalid_token"
    }

    /// The HTTP status for the response (RFC 6750 §3.1): 401.
    pub const fn http_status(&self) -> u16 {
        401
    }
}

impl From<BindingError> for CertBindingError {
    fn from(e: BindingError) -> Self {
        Self::Binding(e)
    }
}

impl From<CertError> for CertBindingError {
    fn from(e: CertError) -> Self {
        Self::MalformedCertificate(e)
    }
}

impl fmt::Display for CertBindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Binding(e) => fmt::Display::fmt(e, f),
            Self::MalformedCertificate(e) => {
                write!(f, "presented client certificate is malformed: {e}")
            }
        }
    }
}

impl core::error::Error for CertBindingError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Binding(e) => Some(e),
            Self::MalformedCertificate(e) => Some(e),
        }
    }
}

/// Checks the certificate presented on the connection (`None`: none presented) against the
/// token's `cnf` (RFC 8705 §3), in constant time; returns the certificate's thumbprint.
///
/// The DER framing is checked first, so a malformed certificate is reported as such even when
/// the token is not certificate-bound.
pub fn check_certificate_binding(
    cnf: &Confirmation,
    presented_der: Option<&[u8]>,
) -> Result<Option<CertThumbprint>, CertBindingError> {
    let presented = presented_der.map(x5t_s256_checked).transpose()?;
    cnf.check_x5t_s256(presented.as_ref())?;
    Ok(presented)
}

/// Checks an already computed thumbprint (e.g. from an XFCC `Hash=`) against `cnf` (RFC 8705 §3).
pub fn check_thumbprint_binding(
    cnf: &Confirmation,
    presented: Option<&CertThumbprint>,
) -> Result<(), CertBindingError> {
    Ok(cnf.check_x5t_s256(presented)?)
}
