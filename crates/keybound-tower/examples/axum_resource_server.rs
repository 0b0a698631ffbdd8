//! An axum 0.8 resource server accepting DPoP-bound (RFC 9449) and certificate-bound
//! (RFC 8705) access tokens, with a toy token endpoint that issues them.
//!
//! ```text
//! cargo run -p keybound-tower --features axum --example axum_resource_server
//! # PUBLIC_ORIGIN=https://api.example.com BIND=127.0.0.1:3000 to change the defaults
//! ```
//!
//! Routes:
//!
//! - `POST /token`: issues an opaque access token for anyone (no client authentication: a
//!   demo, not an authorization server). With a `DPoP` proof the token is DPoP-bound
//!   (`token_type` `DPoP`); with a client certificate it is certificate-bound; with both,
//!   bound to both. Without either it is refused: sender-constrained tokens only.
//! - `GET /accounts`: the protected resource behind [`KeyboundLayer`]; answers 200 with how
//!   possession was proven, or 401/400 with `WWW-Authenticate` (and `DPoP-Nonce` when
//!   needed). The tokens are opaque, so the layer validates them through a
//!   [`TokenValidator`] of our own — the shape an introspection client (RFC 7662) takes.
//!
//! **mTLS through a proxy.** axum's plain listener does not speak TLS, so the client
//! certificate reaches this server the way it does behind most load balancers: a
//! TLS-terminating reverse proxy verifies the client's certificate and forwards it in the
//! RFC 9440 `Client-Cert` header (`:base64(DER):`). The header is trusted only from peers on
//! loopback ([`GateConfig::trust_proxies`]); from anyone else it is ignored. The proxy **must**
//! remove any `Client-Cert` header sent by the client itself, and the server must not be
//! reachable except through it — otherwise any client can claim any certificate. With
//! rustls in the server, put the handshake's leaf certificate into the request as a
//! `PeerCertificate` instead (`examples/rustls_server.rs`).
//!
//! **Public origin.** Proofs name the URI the client used (`htu`). Behind a proxy the server
//! sees another scheme, host and port, so the layer checks against `PUBLIC_ORIGIN`.

#![allow(
    clippy::std_instead_of_core,
    reason = "an application example: std paths read naturally"
)]

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::{get, post};

use keybound::authz::{AsConfig, AuthorizationServer, ClientKind, Grant, TokenRequest};
use keybound::cnf::Confirmation;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::http::{
    CLIENT_CERT, as_rejection_response, client_cert_der, header_values, public_uri,
};
use keybound::mtls::{CertFormat, IpPrefix, TrustedProxies};
use keybound::rs::{Binding, ClientCert};
use keybound_tower::{
    Authenticated, GateConfig, KeyboundLayer, TokenFailure, TokenInfo, TokenValidator,
};

/// Peers allowed to forward a client certificate: the proxy runs on loopback.
static PROXIES: [IpPrefix; 2] = [
    IpPrefix::v4(127, 0, 0, 0, 8),
    IpPrefix::v6(std::net::Ipv6Addr::LOCALHOST, 128),
];

/// Issued tokens and their `cnf` (a real server would use JWTs or introspection).
type Tokens = Arc<Mutex<HashMap<String, Confirmation>>>;

/// The layer's token check: look the opaque token up (an introspection call would go here).
pub struct IssuedTokens(Tokens);

impl TokenValidator for IssuedTokens {
    type Future = core::future::Ready<Result<TokenInfo, TokenFailure>>;

    fn validate(&self, token: &str, _now: u64) -> Self::Future {
        let cnf = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .copied();
        core::future::ready(match cnf {
            Some(cnf) => Ok(TokenInfo::new(cnf).with_subject("demo-user")),
            None => Err(TokenFailure::Invalid {
                reason: "unknown",
                description: "access token is unknown".to_owned(),
            }),
        })
    }
}

/// Shared state of the token endpoint.
pub struct App {
    origin: String,
    authz: AuthorizationServer<'static>,
    tokens: Tokens,
    trusted: TrustedProxies<'static>,
    random: RandomState,
    layer: KeyboundLayer<IssuedTokens, MemoryReplayStore>,
}

impl App {
    /// A server whose clients address it as `origin` (e.g. `https://api.example.com`).
    pub fn new(origin: String) -> Result<Self, keybound_tower::ConfigError> {
        let tokens: Tokens = Arc::new(Mutex::new(HashMap::new()));
        // The layer guarding the resource: the same public origin, the issued tokens, a
        // replay store of its own (the jtis the resource saw; the token endpoint keeps its
        // own), the certificate header trusted from loopback only.
        let layer = KeyboundLayer::new(
            GateConfig::new(&origin)?
                .trust_proxies(PROXIES)
                .proxy_cert_header(CLIENT_CERT, CertFormat::Rfc9440),
            IssuedTokens(Arc::clone(&tokens)),
            MemoryReplayStore::new(100_000),
        );
        Ok(App {
            origin,
            authz: AuthorizationServer::new(
                AsConfig::new(MemoryReplayStore::new(100_000)).require_proof_of_possession(true),
            ),
            tokens,
            trusted: TrustedProxies::peers(&PROXIES, CertFormat::Rfc9440),
            random: RandomState::new(),
            layer,
        })
    }

    /// 128 random-looking bits from the process's hash keys (demo only; use a CSPRNG).
    fn new_token(&self, n: usize) -> String {
        let mut s = String::with_capacity(32);
        for i in 0..2u64 {
            let _ = write!(s, "{:016x}", self.random.hash_one((n, i)));
        }
        s
    }
}

/// The router: `POST /token`, and `GET /accounts` behind the layer.
pub fn app(state: Arc<App>) -> Router {
    Router::new()
        .route("/accounts", get(accounts))
        .layer(state.layer.clone())
        .route("/token", post(token))
        .with_state(state)
}

/// Serves on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, origin: String) -> std::io::Result<()> {
    let state =
        App::new(origin).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let router = app(Arc::new(state));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn bad_certificate(e: &keybound::mtls::CertError) -> Response<Body> {
    let mut body = String::from(r#"{"error":"invalid_request","error_description":"#);
    let _ = keybound::json::write_str(&mut body, &format!("client certificate header: {e}"));
    body.push('}');
    json_response(StatusCode::BAD_REQUEST, body)
}

/// `POST /token`: a toy token endpoint (RFC 9449 §5, RFC 8705 §3).
async fn token(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, _body) = req.into_parts();
    let cert = match client_cert_der(&parts.headers, &CLIENT_CERT, &app.trusted, peer.ip(), None) {
        Ok(c) => c,
        Err(e) => return bad_certificate(&e),
    };
    let uri = public_uri(&app.origin, &parts.uri);
    let dpop = header_values(&parts.headers, &keybound::http::DPOP);
    let mut treq = TokenRequest::new(&uri, ClientKind::Confidential, Grant::Other)
        .with_method(parts.method.as_str())
        .with_dpop(&dpop);
    if let Some(der) = &cert {
        treq = treq.with_client_cert(ClientCert::Der(der));
    }
    // (a real server authenticates the client between check_token_request and commit)
    let binding = match app.authz.token_binding(&treq, keybound::unix_now()) {
        Ok(b) => b,
        Err(rej) => return as_rejection_response(&rej).map(Body::from),
    };
    let token = {
        let mut tokens = app.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let token = app.new_token(tokens.len());
        tokens.insert(token.clone(), *binding.cnf());
        token
    };
    let body = format!(
        r#"{{"access_token":"{token}","token_type":"{}","expires_in":3600,"cnf":{}}}"#,
        binding.token_type(),
        binding.cnf().to_json_string()
    );
    json_response(StatusCode::OK, body)
}

/// `GET /accounts`: the protected resource (RFC 9449 §7, RFC 8705 §3); the layer already
/// checked the token, the proof or certificate and the replay.
async fn accounts(auth: Authenticated) -> Response<Body> {
    let how = match auth.binding() {
        Binding::Dpop { .. } => "dpop",
        Binding::Mtls { .. } => "mtls",
        Binding::Both { .. } => "dpop+mtls",
        _ => "bearer",
    };
    json_response(
        StatusCode::OK,
        format!(r#"{{"accounts":["checking","savings"],"bound_by":"{how}"}}"#),
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let addr = listener.local_addr()?;
    let origin = std::env::var("PUBLIC_ORIGIN").unwrap_or_else(|_| format!("http://{addr}"));
    println!("listening on {addr}, public origin {origin}");
    serve(listener, origin).await
}
