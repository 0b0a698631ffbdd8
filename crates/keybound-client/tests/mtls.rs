//! The client certificate (RFC 8705) over a real rustls handshake on 127.0.0.1: the server
//! sees the certificate the client reports, `tls_client_auth` at the token endpoint, and a
//! token bound to both the certificate and the DPoP key accepted by `keybound::rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

mod support;

use axum::Router;
use axum::routing::get;
use keybound::cnf::Confirmation;
use keybound::dpop::{Algorithm, SigningKey};
use keybound_client::{
    BuildError, ClientAuth, ClientIdentity, DpopClient, TokenEndpoint, TokenError,
};

use support::{PeerCert, Pki, Registered, bind, serve_https, start_as, start_rs};

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn mtls_client(pki: &Pki, cert: &support::ClientCertPem) -> DpopClient {
    let id = ClientIdentity::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    DpopClient::builder()
        .key(key())
        .root_certificates_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .client_identity(id)
        .no_proxy()
        .build()
        .unwrap()
}

#[tokio::test]
async fn server_sees_the_certificate_whose_x5t_the_client_reports() {
    let pki = Pki::new();
    let (listener, addr) = bind().await;
    let app = Router::new().route(
        "/whoami",
        get(
            |axum::Extension(peer): axum::Extension<PeerCert>| async move {
                let der = peer.0.expect("a client certificate");
                keybound::mtls::x5t_s256_checked(&der).unwrap().to_string()
            },
        ),
    );
    // Client certificates required: the handshake fails without one.
    serve_https(listener, app, pki.server_config(Some(true)));
    let cert = pki.client_cert("client-app");
    let client = mtls_client(&pki, &cert);
    let expected = keybound::mtls::x5t_s256_checked(&cert.der).unwrap();
    assert_eq!(client.x5t_s256(), Some(expected));

    let resp = client
        .get(&format!("https://{addr}/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), expected.to_string());

    // Without a certificate the server refuses the handshake.
    let anonymous = DpopClient::builder()
        .root_certificates_pem(pki.ca_pem().as_bytes())
        .unwrap()
        .no_proxy()
        .build()
        .unwrap();
    assert_eq!(anonymous.x5t_s256(), None);
    let err = anonymous
        .get(&format!("https://{addr}/whoami"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, keybound_client::ClientError::Transport { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn certificate_and_dpop_bound_token_end_to_end() {
    let pki = Pki::new();
    let app = start_as(Some(pki.server_config(Some(false)))).await;
    let cert = pki.client_cert("client-app");
    let client = mtls_client(&pki, &cert);
    app.register(
        "mtls-client",
        Registered::Certificate(client.x5t_s256().unwrap()),
    );
    let ep = TokenEndpoint::new(app.token_url(), "mtls-client", ClientAuth::TlsClientAuth);
    let token = client.client_credentials(&ep, None).await.unwrap();
    assert!(token.is_dpop());

    // The RS (same origin, same TLS) checks the proof and the certificate.
    let resp = client
        .get(&format!("{}/resource", app.origin))
        .token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"binding":"both"}"#);

    // Another certificate from the same CA is refused at the token endpoint.
    let thief = mtls_client(&pki, &pki.client_cert("mallory"));
    let err = thief.client_credentials(&ep, None).await.unwrap_err();
    assert!(
        matches!(&err, TokenError::ErrorResponse { status: 401, error, .. } if error == "invalid_client"),
        "{err:?}"
    );
}

#[tokio::test]
async fn certificate_bound_bearer_token_is_sent_without_proof() {
    let pki = Pki::new();
    let rs = start_rs(Some(pki.server_config(Some(false)))).await;
    let cert = pki.client_cert("client-app");
    let client = mtls_client(&pki, &cert);
    let token = rs.issue(Confirmation::from_x5t_s256(client.x5t_s256().unwrap()));
    let resp = client
        .get(&format!("{}/resource", rs.origin))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"binding":"mtls"}"#);
    assert!(rs.seen()[0].proof.is_none());
}

#[test]
fn rejects_identity_without_certificate() {
    let err = ClientIdentity::from_pem(b"no pem here", b"").unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::Pem {
                what: "certificate",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rejects_identity_whose_key_does_not_match() {
    let pki = Pki::new();
    let a = pki.client_cert("a");
    let b = pki.client_cert("b");
    let id = ClientIdentity::from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap();
    let err = DpopClient::builder()
        .client_identity(id)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::Tls(_)), "{err:?}");
}
