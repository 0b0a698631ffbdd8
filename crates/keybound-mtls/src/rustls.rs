//! rustls adapter (feature `rustls`): the client certificate of a rustls server connection,
//! and a client-certificate verifier for `self_signed_tls_client_auth` (RFC 8705 §2.2).
//!
//! # Which verifier
//!
//! - `tls_client_auth` (RFC 8705 §2.1): chain validation against the CAs you trust belongs to
//!   the TLS layer — use rustls' `WebPkiClientVerifier` (or any verifier you plug in), then
//!   match the registered identifier with [`crate::client_auth::TlsClientAuth`].
//! - `self_signed_tls_client_auth` (RFC 8705 §2.2): there is no CA. Use
//!   [`SelfSignedClientCertVerifier`], which accepts any well-formed certificate while rustls
//!   still verifies the handshake signature (CertificateVerify) with that certificate's key —
//!   the client proves possession of the private key. Then match the certificate against the
//!   client's registered JWKS with [`crate::client_auth::match_jwks`].
//!
//! # Security caveats of [`SelfSignedClientCertVerifier`]
//!
//! - A completed handshake proves only that the peer holds the key of *some* certificate. It
//!   authenticates nobody until the application compares that certificate with a registration
//!   (`match_jwks`) or with a token's `cnf."x5t#S256"` ([`check_binding`]). Never treat
//!   "handshake succeeded" as "client authenticated".
//! - Do not combine it with authorization decisions based on the subject or SAN of the
//!   certificate: anyone can put any name into a self-signed certificate.
//! - Intermediates the client sends are ignored; validity dates are not checked unless
//!   [`SelfSignedClientCertVerifier::with_validity_check`] is set (self-signed registrations
//!   are pinned by value, and RFC 8705 §2.2 does not require a validity check).
//! - Resumed sessions carry the certificate of the original handshake (rustls stores it in the
//!   ticket), so the same checks apply on resumption.

use std::sync::Arc;
use std::vec::Vec;

use ::rustls::client::danger::HandshakeSignatureValid;
use ::rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use ::rustls::pki_types::{CertificateDer, UnixTime};
use ::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use ::rustls::{
    CertificateError, CommonState, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme,
};
use der::Decode;
use keybound_cnf::{CertThumbprint, Confirmation};

use crate::binding::{CertBindingError, check_certificate_binding};
use crate::cert::CertDer;
use crate::error::CertError;

/// The client's leaf certificate DER, once the handshake has completed (RFC 8705 §3).
///
/// Takes the connection's common state, so `&ServerConnection` works through deref:
/// `peer_leaf(&conn)`.
pub fn peer_leaf(conn: &CommonState) -> Option<&[u8]> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.as_ref())
}

/// The client certificate's `x5t#S256` (RFC 8705 §3.1); `Ok(None)` without a certificate.
pub fn client_thumbprint(conn: &CommonState) -> Result<Option<CertThumbprint>, CertError> {
    peer_leaf(conn)
        .map(|der| Ok(CertDer::new(der)?.thumbprint()))
        .transpose()
}

/// Checks the connection's client certificate against a token's `cnf` (RFC 8705 §3).
pub fn check_binding(
    conn: &CommonState,
    cnf: &Confirmation,
) -> Result<Option<CertThumbprint>, CertBindingError> {
    check_certificate_binding(cnf, peer_leaf(conn))
}

/// Whether the server requires a client certificate.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertMode {
    /// Request a certificate; clients without one still connect (they can use other auth).
    Optional,
    /// Require a certificate; the handshake fails without one.
    Mandatory,
}

/// A rustls client-certificate verifier for `self_signed_tls_client_auth` deployments
/// (RFC 8705 §2.2): accepts any well-formed X.509 certificate, verifies the handshake
/// signature with its key. Read the module's security caveats.
#[derive(Debug, Clone)]
pub struct SelfSignedClientCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    mode: ClientCertMode,
    check_validity: bool,
}

impl SelfSignedClientCertVerifier {
    /// A verifier using the signature algorithms of `provider`.
    pub fn new(provider: &CryptoProvider, mode: ClientCertMode) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
            mode,
            check_validity: false,
        }
    }

    /// Also rejects certificates outside their notBefore / notAfter window (RFC 5280 §4.1.2.5).
    pub fn with_validity_check(mut self, on: bool) -> Self {
        self.check_validity = on;
        self
    }

    /// Wraps the verifier for `ServerConfig::builder().with_client_cert_verifier(..)`.
    pub fn into_arc(self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(self)
    }
}

fn bad_encoding() -> Error {
    Error::InvalidCertificate(CertificateError::BadEncoding)
}

impl ClientCertVerifier for SelfSignedClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mode == ClientCertMode::Mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No CA to hint: an empty list tells clients to send any certificate they have.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        CertDer::new(end_entity.as_ref()).map_err(|_| bad_encoding())?;
        let cert =
            x509_cert::Certificate::from_der(end_entity.as_ref()).map_err(|_| bad_encoding())?;
        if self.check_validity {
            let validity = cert.tbs_certificate().validity();
            let now = now.as_secs();
            if validity.not_before.to_unix_duration().as_secs() > now {
                return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
            }
            if validity.not_after.to_unix_duration().as_secs() < now {
                return Err(Error::InvalidCertificate(CertificateError::Expired));
            }
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
