//! An axum 0.8 resource server behind `KeyboundLayer`, terminating TLS itself with
//! tokio-rustls and handing the client certificate of each connection to the layer
//! (RFC 8705 §3): the wiring for certificate-bound tokens without a proxy.
//!
//! ```text
//! cargo run -p keybound-tower --features axum --example rustls_server
//! ```
//!
//! It creates a throwaway CA and server certificate, an authorization-server key and JWKS,
//! prints a DPoP-bound token and a curl line, and serves `GET /accounts` on a random
//! loopback port until interrupted. `tests/layer.rs` drives [`serve_tls`] over real TLS.
//!
//! The pieces a real server keeps:
//!
//! - `rustls::ServerConfig` asking for a client certificate but not requiring one (DPoP
//!   clients have none), with a verifier for your clients' CA — or keybound's
//!   `SelfSignedClientCertVerifier` when certificates are pinned by `cnf."x5t#S256"` only;
//! - after the handshake, [`PeerCertificate`] from `keybound::mtls::rustls::peer_leaf` and
//!   [`PeerAddr`] go into every request of that connection;
//! - the router with `.layer(KeyboundLayer::new(..))`, and handlers taking [`Authenticated`].

#![allow(
    clippy::std_instead_of_core,
    reason = "an application example: std paths read naturally"
)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use keybound_tower::{Authenticated, PeerAddr, PeerCertificate};
use tower_service::Service as _;

/// Accepts TLS connections on `listener` forever, serving `app` over HTTP/1.1 with each
/// connection's client certificate and peer address in the request extensions.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A failed handshake (wrong CA, no TLS) just closes the connection.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let cert = keybound::mtls::rustls::peer_leaf(stream.get_ref().1)
                .map(PeerCertificate::from_der);
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                if let Some(cert) = &cert {
                    req.extensions_mut().insert(cert.clone());
                }
                app.clone().call(req)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `GET /accounts`: what the layer proved.
pub async fn accounts(auth: Authenticated) -> String {
    format!(
        r#"{{"sub":"{}","binding":"{}"}}"#,
        auth.subject().unwrap_or_default(),
        auth.binding_name()
    )
}

#[allow(dead_code, reason = "run only as an example binary")]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use keybound::dpop::replay::MemoryReplayStore;
    use keybound::jose::{Algorithm, SigningKey};
    use keybound::jwt::{Jwks, TokenClaims};
    use keybound_tower::{GateConfig, JwksHandle, JwtValidator, KeyboundLayer};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
    let tls = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(
            keybound::mtls::rustls::SelfSignedClientCertVerifier::new(
                &provider,
                keybound::mtls::rustls::ClientCertMode::Optional,
            )
            .into_arc(),
        )
        .with_single_cert(
            vec![server.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server.signing_key.serialize_der().into()),
        )?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let origin = format!("https://{addr}");
    let issuer = "https://as.example";

    let as_key = SigningKey::generate_os_rng(Algorithm::Es256)?;
    let public = as_key.public_jwk().replacen('{', r#"{"kid":"k1","#, 1);
    let jwks = JwksHandle::new(Jwks::parse(format!(r#"{{"keys":[{public}]}}"#).as_bytes())?);
    let client = keybound::dpop::SigningKey::generate_os_rng(Algorithm::Es256)?;
    let cnf = keybound::Confirmation::from_jkt(client.thumbprint());
    let now = keybound::unix_now();
    let audience = [origin.as_str()];
    let claims =
        TokenClaims::new(issuer, "alice", &audience, "demo", now, now + 600, "t1").with_cnf(&cnf);
    let token = keybound::jwt::mint(
        &as_key,
        Some("k1"),
        &claims,
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )?;

    let layer = KeyboundLayer::new(
        GateConfig::new(&origin)?.with_authorization_server(issuer),
        JwtValidator::new(jwks, issuer, origin.clone()),
        MemoryReplayStore::new(100_000),
    );
    let app = Router::new()
        .route("/accounts", axum::routing::get(accounts))
        .layer(layer);
    let proof = client.sign_proof_os_rng(
        &keybound::dpop::ProofParams::new("GET", &format!("{origin}/accounts"), now)
            .with_access_token(&token),
    )?;
    println!("listening on {origin}; one request (proofs are single-use):");
    println!("curl -k {origin}/accounts -H 'Authorization: DPoP {token}' -H 'DPoP: {proof}'");
    serve_tls(listener, Arc::new(tls), app).await?;
    Ok(())
}
