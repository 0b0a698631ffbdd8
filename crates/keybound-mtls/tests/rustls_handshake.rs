//! Real TLS handshakes on loopback (std threads + TcpListener) through the rustls adapter.
#![cfg(feature = "rustls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use keybound_mtls::client_auth::{JwkMatch, TlsClientAuth, TlsClientAuthId, match_jwks};
use keybound_mtls::rustls::{
    ClientCertMode, SelfSignedClientCertVerifier, check_binding, client_thumbprint, peer_leaf,
};
use keybound_mtls::{BindingError, CertBindingError, Confirmation, ParsedCertificate, x5t_s256};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, SignatureScheme,
    Stream,
};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn key_der(k: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(k.serialize_der()))
}

struct Pki {
    ca: CertificateDer<'static>,
    server: (CertificateDer<'static>, KeyPair),
    client: (CertificateDer<'static>, KeyPair),
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client.example.com".to_owned()])
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    Pki {
        ca: ca_cert.der().clone(),
        server: (server.der().clone(), server_key),
        client: (client.der().clone(), client_key),
    }
}

fn server_config(
    pki: &Pki,
    verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![pki.server.0.clone()], key_der(&pki.server.1))
            .unwrap(),
    )
}

fn client_builder(
    pki: &Pki,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
}

/// What the server saw: the client leaf DER (if any), or the handshake error.
type ServerView = Result<
    (
        Option<Vec<u8>>,
        Result<Option<keybound_mtls::CertThumbprint>, CertBindingError>,
    ),
    String,
>;

/// Runs one handshake over a real loopback TcpStream and one request/response.
fn run(
    server_cfg: Arc<ServerConfig>,
    client_cfg: Arc<ClientConfig>,
    cnf: Confirmation,
) -> (ServerView, Result<(), String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || -> ServerView {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut conn = ServerConnection::new(server_cfg).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
        }
        let mut stream = Stream::new(&mut conn, &mut sock);
        let mut hello = [0u8; 5];
        stream.read_exact(&mut hello).map_err(|e| e.to_string())?;
        stream.write_all(b"ok").map_err(|e| e.to_string())?;
        stream.flush().map_err(|e| e.to_string())?;
        let leaf = peer_leaf(&conn).map(<[u8]>::to_vec);
        assert_eq!(
            client_thumbprint(&conn).unwrap(),
            leaf.as_deref().map(x5t_s256)
        );
        Ok((leaf, check_binding(&conn, &cnf)))
    });
    let client = (|| -> Result<(), String> {
        let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut conn = ClientConnection::new(client_cfg, "localhost".try_into().unwrap()).unwrap();
        let mut stream = Stream::new(&mut conn, &mut sock);
        stream.write_all(b"hello").map_err(|e| e.to_string())?;
        let mut ok = [0u8; 2];
        stream.read_exact(&mut ok).map_err(|e| e.to_string())?;
        Ok(())
    })();
    (server.join().unwrap(), client)
}

#[test]
fn ca_verified_client_certificate_is_extracted_and_checked_against_cnf() {
    let pki = pki();
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let client_cfg = client_builder(&pki)
        .with_client_auth_cert(vec![pki.client.0.clone()], key_der(&pki.client.1))
        .unwrap();
    let bound = Confirmation::from_x5t_s256(x5t_s256(&pki.client.0));

    let (server, client) = run(
        server_config(&pki, verifier.clone()),
        Arc::new(client_cfg.clone()),
        bound,
    );
    client.unwrap();
    let (leaf, binding) = server.unwrap();
    let leaf = leaf.unwrap();
    assert_eq!(leaf.as_slice(), pki.client.0.as_ref());
    assert_eq!(binding, Ok(Some(x5t_s256(&pki.client.0))));
    // tls_client_auth on top of the CA check.
    TlsClientAuth::new(TlsClientAuthId::SanDns("client.example.com"))
        .unwrap()
        .verify_der(&leaf)
        .unwrap();

    // The same connection against a token bound to another certificate.
    let other = Confirmation::from_x5t_s256(x5t_s256(&pki.server.0));
    let (server, _) = run(server_config(&pki, verifier), Arc::new(client_cfg), other);
    assert_eq!(
        server.unwrap().1,
        Err(CertBindingError::Binding(BindingError::Mismatch))
    );
}

fn self_signed_client() -> (CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["self-signed.client".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.der().clone(), key)
}

#[test]
fn self_signed_client_certificate_is_accepted_and_matched_by_jwks() {
    let pki = pki();
    let (cert, key) = self_signed_client();
    let verifier = SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Mandatory)
        .with_validity_check(true)
        .into_arc();
    let client_cfg = client_builder(&pki)
        .with_client_auth_cert(vec![cert.clone()], key_der(&key))
        .unwrap();
    let (server, client) = run(
        server_config(&pki, verifier),
        Arc::new(client_cfg),
        Confirmation::from_x5t_s256(x5t_s256(&cert)),
    );
    client.unwrap();
    let (leaf, binding) = server.unwrap();
    let leaf = leaf.unwrap();
    assert_eq!(leaf.as_slice(), cert.as_ref());
    assert!(binding.is_ok());
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","x5c":["{}"]}}]}}"#,
        Base64::encode_string(&leaf)
    );
    assert_eq!(
        match_jwks(
            jwks.as_bytes(),
            &ParsedCertificate::from_der(&leaf).unwrap()
        ),
        Ok(JwkMatch::X5c { index: 0 })
    );
}

/// A client that presents someone else's certificate but signs with its own key.
#[derive(Debug)]
struct Impostor(Arc<CertifiedKey>);

impl ResolvesClientCert for Impostor {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

#[test]
fn client_without_the_private_key_fails_the_handshake() {
    let pki = pki();
    let (victim_cert, _victim_key) = self_signed_client();
    let own_key = KeyPair::generate().unwrap();
    let signer = provider()
        .key_provider
        .load_private_key(key_der(&own_key))
        .unwrap();
    let impostor = Impostor(Arc::new(CertifiedKey::new(
        vec![victim_cert.clone()],
        signer,
    )));
    let verifier =
        SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Mandatory).into_arc();
    let client_cfg = client_builder(&pki).with_client_cert_resolver(Arc::new(impostor));
    let (server, client) = run(
        server_config(&pki, verifier),
        Arc::new(client_cfg),
        Confirmation::from_x5t_s256(x5t_s256(&victim_cert)),
    );
    let err = server.unwrap_err();
    assert!(
        err.contains("signature") || err.contains("Signature"),
        "{err}"
    );
    assert!(client.is_err());
}

#[test]
fn mandatory_mode_rejects_and_optional_mode_admits_clients_without_certificates() {
    let pki = pki();
    let bound = Confirmation::from_x5t_s256(x5t_s256(&pki.client.0));
    let mandatory =
        SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Mandatory).into_arc();
    let (server, _) = run(
        server_config(&pki, mandatory),
        Arc::new(client_builder(&pki).with_no_client_auth()),
        bound,
    );
    assert!(server.is_err());

    let optional =
        SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Optional).into_arc();
    let (server, client) = run(
        server_config(&pki, optional),
        Arc::new(client_builder(&pki).with_no_client_auth()),
        bound,
    );
    client.unwrap();
    let (leaf, binding) = server.unwrap();
    assert_eq!(leaf, None);
    assert_eq!(
        binding,
        Err(CertBindingError::Binding(BindingError::NoCertificate))
    );
}

#[test]
fn validity_check_rejects_expired_self_signed_certificates() {
    let pki = pki();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["expired.client".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let cert = params.self_signed(&key).unwrap().der().clone();
    let strict = SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Mandatory)
        .with_validity_check(true)
        .into_arc();
    let cfg = client_builder(&pki)
        .with_client_auth_cert(vec![cert.clone()], key_der(&key))
        .unwrap();
    let (server, _) = run(
        server_config(&pki, strict),
        Arc::new(cfg.clone()),
        Confirmation::new(),
    );
    assert!(server.unwrap_err().to_lowercase().contains("expired"));
    // Default: pinned by value, dates not checked.
    let lax = SelfSignedClientCertVerifier::new(&provider(), ClientCertMode::Mandatory).into_arc();
    let (server, _) = run(server_config(&pki, lax), Arc::new(cfg), Confirmation::new());
    assert_eq!(
        server.unwrap().1,
        Err(CertBindingError::Binding(BindingError::NotBound))
    );
}
