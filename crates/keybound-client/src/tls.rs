//! TLS for the client: rustls with the *ring* provider, the server roots to trust, and the
//! client certificate that certificate-bound tokens (RFC 8705 §3) are bound to.

use core::fmt;
use std::string::ToString as _;
use std::sync::Arc;
use std::vec::Vec;

use keybound::CertThumbprint;
use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::BuildError;

/// A client certificate chain and its private key, presented in every TLS handshake: the
/// identity of `tls_client_auth` (RFC 8705 §2) and of certificate-bound access tokens (§3).
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    x5t: CertThumbprint,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("chain_len", &self.chain.len())
            .field("x5t#S256", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            x5t: self.x5t,
        }
    }
}

impl ClientIdentity {
    /// From PEM: `cert_pem` holds the leaf certificate first, then any intermediates;
    /// `key_pem` holds its private key (PKCS#8, PKCS#1 or SEC1). Whether the key matches the
    /// certificate is checked when the client is built.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, BuildError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BuildError::Pem {
                what: "certificate",
                detail: e.to_string(),
            })?;
        let Some(leaf) = chain.first() else {
            return Err(BuildError::Pem {
                what: "certificate",
                detail: "no CERTIFICATE block".into(),
            });
        };
        let x5t =
            keybound::mtls::x5t_s256_checked(leaf.as_ref()).map_err(BuildError::Certificate)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| BuildError::Pem {
            what: "private key",
            detail: e.to_string(),
        })?;
        Ok(ClientIdentity { chain, key, x5t })
    }

    /// The leaf certificate's `x5t#S256` (RFC 8705 §3.1): what a certificate-bound token's
    /// `cnf` carries.
    pub fn x5t_s256(&self) -> CertThumbprint {
        self.x5t
    }

    /// The leaf certificate, DER.
    pub fn leaf_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }
}

/// Every CA certificate in `pem`.
pub(crate) fn roots_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::Pem {
            what: "CA certificate",
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(BuildError::Pem {
            what: "CA certificate",
            detail: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// A rustls client configuration on *ring*: `roots` when given (only those are trusted),
/// else the platform's verifier (no roots at all when the platform has none: every HTTPS
/// server is then refused); `identity` as the client certificate.
pub(crate) fn client_config(
    roots: Option<&[CertificateDer<'static>]>,
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, BuildError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Tls(e.to_string()))?;
    let builder = match roots {
        Some(roots) => {
            let mut store = RootCertStore::empty();
            for root in roots {
                store
                    .add(root.clone())
                    .map_err(|e| BuildError::Tls(format!("CA certificate: {e}")))?;
            }
            builder.with_root_certificates(store)
        }
        None => match rustls_platform_verifier::Verifier::new(provider) {
            Ok(v) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(v)),
            Err(e) => {
                tracing::warn!(error = %e, "no platform certificate verifier; HTTPS servers will be refused");
                builder.with_root_certificates(RootCertStore::empty())
            }
        },
    };
    match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| BuildError::Tls(e.to_string())),
        None => Ok(builder.with_no_client_auth()),
    }
}
