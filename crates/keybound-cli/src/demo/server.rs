//! The demo's HTTPS resource server: tokio-rustls and hyper, each protected resource behind
//! a [`keybound_tower::KeyboundLayer`] (token, DPoP proof or client certificate, replay).

use core::net::SocketAddr;
use core::time::Duration;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound_tower::{
    Authenticated, GateConfig, JwksHandle, JwtValidator, KeyboundLayer, PeerAddr, PeerCertificate,
};
use tower_service::Service as _;

use super::authz::AuthorizationServer;
use crate::error::CliError;
use crate::json_out::ObjectWriter;

/// Path of the resource that takes DPoP- or certificate-bound tokens.
pub(crate) const RESOURCE: &str = "/resource";
/// Path of the resource that also requires a server nonce in DPoP proofs (RFC 9449 §9).
pub(crate) const NONCE_RESOURCE: &str = "/nonce-resource";
/// Response header carrying the server-side verification time, in microseconds.
pub(crate) const VERIFY_TIME_HEADER: &str = "X-Verify-Micros";

/// The protected handler: reached only through the layer, which proved everything.
async fn resource(auth: Authenticated) -> impl IntoResponse {
    let body = ObjectWriter::new()
        .bool("ok", true)
        .str("sub", auth.subject().unwrap_or_default())
        .str("binding", auth.binding_name())
        .finish();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

/// The server's whole work per request (the layer and the handler), in a response header.
async fn timed(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        VERIFY_TIME_HEADER,
        HeaderValue::from(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)),
    );
    resp
}

/// The router: two resources with their own layer (RFC 9449 defaults; the second also
/// requires server nonces), each with its own replay store, tokens checked against the
/// authorization server's JWKS.
fn router(origin: &str, authz: &AuthorizationServer) -> Result<Router, CliError> {
    let mut nonce_secret = [0u8; 32];
    // Without OS randomness the secret stays zero: nonces still work, only predictably.
    let _ = getrandom::fill(&mut nonce_secret);
    let config = || {
        GateConfig::new(origin)
            .map(|c| c.with_authorization_server(super::authz::ISSUER))
            .map_err(|e| CliError::failure(format!("cannot configure the resource server: {e}")))
    };
    let validator = || {
        JwtValidator::new(
            JwksHandle::new(authz.jwks().clone()),
            super::authz::ISSUER,
            origin,
        )
    };
    let plain = KeyboundLayer::new(config()?, validator(), MemoryReplayStore::new(4096));
    let with_nonce = KeyboundLayer::new(
        config()?.with_nonce(HmacNonceSource::new(nonce_secret, 60)),
        validator(),
        MemoryReplayStore::new(4096),
    );
    Ok(Router::new()
        .route(RESOURCE, get(resource).layer(plain))
        .route(NONCE_RESOURCE, get(resource).layer(with_nonce))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                ObjectWriter::new().str("error", "not_found").finish(),
            )
        })
        .layer(axum::middleware::from_fn(timed)))
}

/// A running server; [`Server::stop`] ends it.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves over TLS on a runtime thread of its own.
    pub(crate) fn start(
        tls: Arc<rustls::ServerConfig>,
        authz: impl FnOnce(&str) -> Result<Arc<AuthorizationServer>, CliError>,
    ) -> Result<(Server, Arc<AuthorizationServer>), CliError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| CliError::failure(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("cannot read the listening address: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| CliError::failure(format!("cannot configure the listener: {e}")))?;
        let origin = format!("https://{addr}");
        let authz = authz(&origin)?;
        let app = router(&origin, &authz)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| CliError::failure(format!("cannot start the server runtime: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("demo-rs".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        () = accept_loop(listener, tls, app) => {}
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| CliError::failure(format!("cannot start the server thread: {e}")))?;
        Ok((
            Server {
                addr,
                stop: Some(stop),
                thread: Some(thread),
            },
            authz,
        ))
    }

    /// Stops accepting and waits for the server thread to end.
    pub(crate) fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// TLS handshakes, then HTTP/1.1 with the client certificate and peer address in every
/// request's extensions (what the layer checks `cnf."x5t#S256"` against).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A failed handshake just closes the connection.
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await
            else {
                return;
            };
            let cert = keybound::mtls::rustls::peer_leaf(stream.get_ref().1)
                .map(PeerCertificate::from_der);
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    if let Some(cert) = &cert {
                        req.extensions_mut().insert(cert.clone());
                    }
                    app.clone().call(req)
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
