//! An axum 0.8 resource server accepting DPoP-bound (RFC 9449) and certificate-bound
//! (RFC 8705) access tokens, with a toy token endpoint that issues them.
//!
//! ```text
//! cargo run -p keybound --features http --example axum_resource_server
//! # PUBLIC_ORIGIN=https://api.example.com BIND=127.0.0.1:3000 to change the defaults
//! ```
//!
//! Routes:
//!
//! - `POST /token`: issues an opaque access token for anyone (no client authentication: a
//!   demo, not an authorization server). With a `DPoP` proof the token is DPoP-bound
//!   (`token_type` `DPoP`); with a client certificate it is certificate-bound; with both,
//!   bound to both. Without either it is refused: sender-constrained tokens only.
//! - `GET /accounts`: the protected resource; answers 200 with how possession was proven,
//!   or 401/400 with `WWW-Authenticate` (and `DPoP-Nonce` when needed).
//!
//! **mTLS through a proxy.** axum's plain listener does not speak TLS, so the client
//! certificate reaches this server the way it does behind most load balancers: a
//! TLS-terminating reverse proxy verifies the client's certificate and forwards it in the
//! RFC 9440 `Client-Cert` header (`:base64(DER):`). The header is trusted only from peers on
//! loopback ([`TrustedProxies::peers`]); from anyone else it is ignored. The proxy **must**
//! remove any `Client-Cert` header sent by the client itself, and the server must not be
//! reachable except through it — otherwise any client can claim any certificate. With
//! rustls in the server, pass the handshake's leaf certificate as `ClientCert::Der` instead.
//!
//! **Public origin.** Proofs name the URI the client used (`htu`). Behind a proxy the server
//! sees another scheme, host and port, so the URI to check is rebuilt from `PUBLIC_ORIGIN`.

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
    CLIENT_CERT, HttpRsRequest, as_rejection_response, client_cert_der, header_values, public_uri,
    rejection_response,
};
use keybound::mtls::{CertFormat, IpPrefix, TrustedProxies};
use keybound::rs::{Binding, ClientCert, ResourceServer, RsConfig};

/// Peers allowed to forward a client certificate: the proxy runs on loopback.
static PROXIES: [IpPrefix; 2] = [
    IpPrefix::v4(127, 0, 0, 0, 8),
    IpPrefix::v6(std::net::Ipv6Addr::LOCALHOST, 128),
];

/// Shared server state.
pub struct App {
    origin: String,
    rs: ResourceServer<'static>,
    authz: AuthorizationServer<'static>,
    /// Issued tokens and their `cnf` (a real server would use JWTs or introspection).
    tokens: Mutex<HashMap<String, Confirmation>>,
    trusted: TrustedProxies<'static>,
    random: RandomState,
}

impl App {
    /// A server whose clients address it as `origin` (e.g. `https://api.example.com`).
    pub fn new(origin: String) -> Self {
        App {
            origin,
            // Separate replay stores: each holds the jtis its own endpoint saw.
            rs: ResourceServer::new(RsConfig::new(MemoryReplayStore::new(100_000))),
            authz: AuthorizationServer::new(
                AsConfig::new(MemoryReplayStore::new(100_000)).require_proof_of_possession(true),
            ),
            tokens: Mutex::new(HashMap::new()),
            trusted: TrustedProxies::peers(&PROXIES, CertFormat::Rfc9440),
            random: RandomState::new(),
        }
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

/// The router: `POST /token`, `GET /accounts`.
pub fn app(state: Arc<App>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/accounts", get(accounts))
        .with_state(state)
}

/// Serves on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, origin: String) -> std::io::Result<()> {
    let router = app(Arc::new(App::new(origin)));
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

/// `GET /accounts`: the protected resource (RFC 9449 §7, RFC 8705 §3).
async fn accounts(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, _body) = req.into_parts();
    let cert = match client_cert_der(&parts.headers, &CLIENT_CERT, &app.trusted, peer.ip(), None) {
        Ok(c) => c,
        Err(e) => return bad_certificate(&e),
    };
    let mut hreq = HttpRsRequest::from_parts(&parts, &app.origin);
    if let Some(der) = &cert {
        hreq = hreq.with_client_cert(ClientCert::Der(der));
    }
    let rs_req = hreq.as_rs_request();

    // 1. Scheme and token; 2. look the token up (here: a map; usually a JWT or introspection).
    let creds = match app.rs.credentials(&rs_req) {
        Ok(c) => c,
        Err(rej) => return rejection_response(&rej, Body::empty()),
    };
    let cnf = app
        .tokens
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(creds.token)
        .copied();
    let Some(cnf) = cnf else {
        let rej = app.rs.reject_invalid_token(creds.scheme);
        return rejection_response(&rej, Body::empty());
    };

    // 3. The binding rules: scheme, proof, certificate, replay.
    match app.rs.verify(&rs_req, &cnf, keybound::unix_now()) {
        Ok(ok) => {
            let how = match ok.binding() {
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
        Err(rej) => rejection_response(&rej, Body::empty()),
    }
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
