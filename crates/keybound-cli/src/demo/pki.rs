//! Throwaway PKI for the demo: one CA, a server certificate for 127.0.0.1, and two client
//! certificates (the legitimate client's and a thief's, both from the same CA so the TLS
//! handshake accepts either: only the token binding tells them apart).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::CliError;

/// A certificate with its private key, ready for rustls.
pub(crate) struct Identity {
    pub(crate) cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Identity {
    /// The private key in PKCS#8 DER, as rustls takes it.
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

/// Everything the demo's TLS needs.
pub(crate) struct Pki {
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) server: Identity,
    pub(crate) client: Identity,
    pub(crate) thief: Identity,
}

fn rcgen_err(what: &str) -> impl Fn(rcgen::Error) -> CliError + '_ {
    move |e| CliError::failure(format!("cannot create the demo {what}: {e}"))
}

fn leaf(
    ca: &CertifiedIssuer<'_, KeyPair>,
    common_name: &str,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<Identity, CliError> {
    let key = KeyPair::generate().map_err(rcgen_err("key"))?;
    let mut params = CertificateParams::new(sans).map_err(rcgen_err("certificate"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    let issuer: &rcgen::Issuer<'_, KeyPair> = ca;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(rcgen_err("certificate"))?;
    Ok(Identity {
        cert: cert.der().clone(),
        key: key.serialize_der(),
    })
}

/// Creates the CA and the three leaf certificates (ECDSA P-256).
pub(crate) fn create() -> Result<Pki, CliError> {
    let ca_key = KeyPair::generate().map_err(rcgen_err("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_err("CA"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "keybound demo CA (throwaway)");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(rcgen_err("CA"))?;
    let server = leaf(
        &ca,
        "keybound demo resource server",
        vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let client = leaf(
        &ca,
        "client-app",
        vec!["client-app.demo.invalid".to_owned()],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let thief = leaf(
        &ca,
        "mallory",
        vec!["mallory.demo.invalid".to_owned()],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    Ok(Pki {
        ca: ca.der().clone(),
        server,
        client,
        thief,
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Result<Arc<rustls::RootCertStore>, CliError> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| CliError::failure(format!("cannot trust the demo CA: {e}")))?;
    Ok(Arc::new(roots))
}

fn tls_err(e: rustls::Error) -> CliError {
    CliError::failure(format!("cannot configure TLS: {e}"))
}

/// Server side: the CA's client certificates are requested but optional (DPoP clients need
/// none; certificate-bound tokens need one).
pub(crate) fn server_config(pki: &Pki) -> Result<Arc<rustls::ServerConfig>, CliError> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(&pki.ca)?, provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| CliError::failure(format!("cannot configure client certificates: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.cert.clone()], pki.server.key())
        .map_err(tls_err)?;
    Ok(Arc::new(config))
}

/// Client side, trusting the demo CA, presenting `identity` when given.
pub(crate) fn client_config(
    pki: &Pki,
    identity: Option<&Identity>,
) -> Result<Arc<rustls::ClientConfig>, CliError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots(&pki.ca)?);
    let config = match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.cert.clone()], id.key())
            .map_err(tls_err)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
