//! Shared test servers: real HTTP and HTTPS (rustls, ring) on 127.0.0.1, a throwaway PKI
//! (rcgen), and a resource server and a token endpoint built on the facade's `rs` and `authz`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::result_large_err,
    missing_docs
)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest as _, Sha256};

use keybound::authz::{AsConfig, AuthorizationServer, ClientKind, Grant, TokenRequest};
use keybound::cnf::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, DefaultVerifier, SignatureVerifier as _};
use keybound::http::{HttpRsRequest, as_rejection_response, header_values, rejection_response};
use keybound::rs::{Binding, ClientCert, ResourceServer, RsConfig};

// ---------------------------------------------------------------- PKI

pub struct Pki {
    pub ca: CertifiedIssuer<'static, KeyPair>,
    pub server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
}

pub struct ClientCertPem {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    cn: &str,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let issuer: &rcgen::Issuer<'_, KeyPair> = ca;
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert, key)
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "keybound-client test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let (cert, key) = leaf(
            &ca,
            "test server",
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        Pki {
            server_cert: cert.der().clone(),
            server_key: key.serialize_der(),
            ca,
        }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn client_cert(&self, cn: &str) -> ClientCertPem {
        let (cert, key) = leaf(
            &self.ca,
            cn,
            vec![format!("{cn}.test.invalid")],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        ClientCertPem {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// Server TLS; client certificates from the CA requested (`required`: or the handshake fails).
    pub fn server_config(&self, client_certs: Option<bool>) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_certs {
            None => builder.with_no_client_auth(),
            Some(required) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(self.ca.der().clone()).unwrap();
                let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                );
                let v = if required {
                    v
                } else {
                    v.allow_unauthenticated()
                };
                builder.with_client_cert_verifier(v.build().unwrap())
            }
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        Arc::new(
            builder
                .with_single_cert(vec![self.server_cert.clone()], key)
                .unwrap(),
        )
    }
}

// ---------------------------------------------------------------- serving

/// The client certificate of the TLS connection a request came on.
#[derive(Clone, Debug, Default)]
pub struct PeerCert(pub Option<Vec<u8>>);

pub async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Serves `app` over plain HTTP/1.1 until the test's runtime ends.
pub fn serve_http(listener: tokio::net::TcpListener, app: Router) {
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
}

/// Serves `app` over TLS with `config`; the peer's certificate goes into [`PeerCert`].
pub fn serve_https(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                let app = app.layer(axum::Extension(PeerCert(peer)));
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
}

// ---------------------------------------------------------------- proofs as the server saw them

/// One request as a test server saw it: the DPoP proof's claims and the answer.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub path: String,
    pub method: String,
    pub proof: Option<serde_json::Value>,
    pub authorization: Option<String>,
    pub grant_type: Option<String>,
    pub status: u16,
    pub reason: Option<String>,
}

impl Seen {
    pub fn claim(&self, name: &str) -> Option<String> {
        self.proof.as_ref()?.get(name)?.as_str().map(str::to_owned)
    }
}

/// The claims of a compact JWS (no verification: the server checks proofs itself).
pub fn jws_claims(jws: &str) -> serde_json::Value {
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

fn proof_of(headers: &axum::http::HeaderMap) -> Option<serde_json::Value> {
    let v = headers.get("dpop")?.to_str().ok()?;
    Some(jws_claims(v))
}

pub fn b64_sha256(s: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(s.as_bytes()))
}

pub fn random_token() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    Base64UrlUnpadded::encode_string(&b)
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

// ---------------------------------------------------------------- resource server

/// A resource server on `keybound::rs` requiring nonces (HMAC source), with opaque tokens
/// mapped to their `cnf`, plus misbehaving routes.
pub struct Rs {
    pub origin: String,
    pub rs: ResourceServer<'static>,
    pub tokens: Mutex<HashMap<String, Confirmation>>,
    pub seen: Mutex<Vec<Seen>>,
    counter: Mutex<u64>,
}

impl Rs {
    pub fn new(origin: String, nonce_secret: [u8; 32]) -> Arc<Self> {
        Arc::new(Rs {
            origin,
            rs: ResourceServer::new(
                RsConfig::new(MemoryReplayStore::new(10_000))
                    .with_nonce(HmacNonceSource::new(nonce_secret, 300)),
            ),
            tokens: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        })
    }

    /// A token bound by `cnf`.
    pub fn issue(&self, cnf: Confirmation) -> String {
        let t = random_token();
        self.tokens.lock().unwrap().insert(t.clone(), cnf);
        t
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn record(&self, parts: &axum::http::request::Parts, status: u16, reason: Option<String>) {
        self.seen.lock().unwrap().push(Seen {
            path: parts.uri.path().to_owned(),
            method: parts.method.as_str().to_owned(),
            proof: proof_of(&parts.headers),
            authorization: parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            grant_type: None,
            status,
            reason,
        });
    }

    fn next(&self) -> u64 {
        let mut c = self.counter.lock().unwrap();
        *c += 1;
        *c
    }
}

pub fn rs_router(state: Arc<Rs>) -> Router {
    Router::new()
        .route("/resource", any(resource))
        .route("/always-nonce", any(always_nonce))
        .route("/bad-nonce/{kind}", any(bad_nonce))
        .route("/no-nonce-challenge", any(no_nonce_challenge))
        .route("/odd-challenge", any(odd_challenge))
        .with_state(state)
}

/// Starts an RS over HTTP (`tls: None`) or HTTPS.
pub async fn start_rs(tls: Option<Arc<rustls::ServerConfig>>) -> Arc<Rs> {
    let (listener, addr) = bind().await;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = Rs::new(format!("{scheme}://{addr}"), [7; 32]);
    let app = rs_router(Arc::clone(&state));
    match tls {
        Some(cfg) => serve_https(listener, app, cfg),
        None => serve_http(listener, app),
    }
    state
}

/// `/resource`: `keybound::rs` with the token's `cnf`; 200 `{"binding":…}` or the rejection.
async fn resource(State(app): State<Arc<Rs>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // Read the whole body, as a real handler would.
    let _ = axum::body::to_bytes(body, 1 << 20).await;
    let peer = parts
        .extensions
        .get::<PeerCert>()
        .cloned()
        .unwrap_or_default();
    let mut hreq = HttpRsRequest::from_parts(&parts, &app.origin);
    if let Some(der) = &peer.0 {
        hreq = hreq.with_client_cert(ClientCert::Der(der));
    }
    let rs_req = hreq.as_rs_request();
    let outcome = match app.rs.credentials(&rs_req) {
        Err(rej) => Err(rej),
        Ok(creds) => {
            let cnf = app.tokens.lock().unwrap().get(creds.token).copied();
            match cnf {
                None => Err(app.rs.reject_invalid_token(creds.scheme)),
                Some(cnf) => app.rs.verify(&rs_req, &cnf, keybound::unix_now()),
            }
        }
    };
    match outcome {
        Ok(ok) => {
            app.record(&parts, 200, None);
            let how = match ok.binding() {
                Binding::Dpop { .. } => "dpop",
                Binding::Mtls { .. } => "mtls",
                Binding::Both { .. } => "both",
                _ => "bearer",
            };
            json(StatusCode::OK, format!(r#"{{"binding":"{how}"}}"#))
        }
        Err(rej) => {
            app.record(&parts, rej.status(), Some(rej.reason().to_owned()));
            rejection_response(&rej, Body::empty())
        }
    }
}

fn challenge_response(nonces: &[&str]) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\"",
        ),
    );
    for n in nonces {
        r.headers_mut()
            .append("dpop-nonce", HeaderValue::from_bytes(n.as_bytes()).unwrap());
    }
    r
}

/// Challenges every request, each time with a new nonce.
async fn always_nonce(State(app): State<Arc<Rs>>, req: Request) -> Response<Body> {
    let (parts, _) = req.into_parts();
    app.record(&parts, 401, Some("nonce".into()));
    let n = format!("nonce-{}", app.next());
    challenge_response(&[&n])
}

/// Challenges with a malformed `DPoP-Nonce`.
async fn bad_nonce(
    State(app): State<Arc<Rs>>,
    axum::extract::Path(kind): axum::extract::Path<String>,
    req: Request,
) -> Response<Body> {
    let (parts, _) = req.into_parts();
    app.record(&parts, 401, Some("nonce".into()));
    match kind.as_str() {
        "two" => challenge_response(&["first", "second"]),
        "space" => challenge_response(&["has space"]),
        "quote" => challenge_response(&["a\"b"]),
        "backslash" => challenge_response(&["a\\b"]),
        "empty" => challenge_response(&[""]),
        "latin1" => {
            let mut r = challenge_response(&[]);
            r.headers_mut()
                .insert("dpop-nonce", HeaderValue::from_bytes(b"caf\xe9").unwrap());
            r
        }
        _ => panic!("unknown kind"),
    }
}

/// `use_dpop_nonce` without any `DPoP-Nonce`.
async fn no_nonce_challenge(State(app): State<Arc<Rs>>, req: Request) -> Response<Body> {
    let (parts, _) = req.into_parts();
    app.record(&parts, 401, Some("nonce".into()));
    challenge_response(&[])
}

/// A valid but unusual challenge (two fields, lower-case scheme, upper-case parameter name,
/// token form) with a nonce; accepts the retry that carries it.
async fn odd_challenge(State(app): State<Arc<Rs>>, req: Request) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let nonce = proof_of(&parts.headers)
        .and_then(|c| c.get("nonce").and_then(|n| n.as_str()).map(str::to_owned));
    if nonce.as_deref() == Some("odd-1") {
        app.record(&parts, 200, None);
        return json(StatusCode::OK, "{}".into());
    }
    app.record(&parts, 401, Some("nonce".into()));
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"api\", scope=\"a b\""),
    );
    r.headers_mut().append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Basic realm=\"x\" , dpop  ALGS=\"ES256 EdDSA\" ,ERROR = use_dpop_nonce",
        ),
    );
    r.headers_mut()
        .insert("dpop-nonce", HeaderValue::from_static("odd-1"));
    r
}

// ---------------------------------------------------------------- authorization server

/// A registered client.
#[derive(Clone, Debug)]
pub enum Registered {
    Secret(String),
    Jwk(String),
    Public,
    Certificate(keybound::CertThumbprint),
}

#[derive(Clone, Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    dpop_jkt: Option<keybound::JwkThumbprint>,
}

/// An authorization server: `/authorize` (codes bound by `dpop_jkt`, PKCE S256) and `/token`
/// (three grants) on `keybound::authz`, nonces required; clients authenticate before the proof
/// is checked (as oidc-provider does), so a reused `private_key_jwt` assertion is refused.
pub struct As {
    pub origin: String,
    pub authz: AuthorizationServer<'static>,
    pub clients: Mutex<HashMap<String, Registered>>,
    codes: Mutex<HashMap<String, Code>>,
    refresh: Mutex<HashMap<String, (String, Confirmation)>>,
    pub assertion_jtis: Mutex<Vec<String>>,
    used_assertions: Mutex<HashSet<String>>,
    pub seen: Mutex<Vec<Seen>>,
    /// An RS on the same origin, for the AS/RS nonce separation.
    pub rs: Arc<Rs>,
}

impl As {
    pub fn register(&self, client_id: &str, reg: Registered) {
        self.clients.lock().unwrap().insert(client_id.into(), reg);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.origin)
    }
}

pub async fn start_as(tls: Option<Arc<rustls::ServerConfig>>) -> Arc<As> {
    let (listener, addr) = bind().await;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let origin = format!("{scheme}://{addr}");
    let state = Arc::new(As {
        origin: origin.clone(),
        authz: AuthorizationServer::new(
            AsConfig::new(MemoryReplayStore::new(10_000))
                .with_nonce(HmacNonceSource::new([9; 32], 300)),
        ),
        clients: Mutex::new(HashMap::new()),
        codes: Mutex::new(HashMap::new()),
        refresh: Mutex::new(HashMap::new()),
        assertion_jtis: Mutex::new(Vec::new()),
        used_assertions: Mutex::new(HashSet::new()),
        seen: Mutex::new(Vec::new()),
        // Another nonce secret: the RS's nonces are not the AS's.
        rs: Rs::new(origin, [8; 32]),
    });
    let app = Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/token-bearer", post(token_bearer))
        .route("/token-lowercase", post(token_lowercase))
        .route("/token-duplicate", post(token_duplicate))
        .with_state(Arc::clone(&state))
        .merge(rs_router(Arc::clone(&state.rs)));
    match tls {
        Some(cfg) => serve_https(listener, app, cfg),
        None => serve_http(listener, app),
    }
    state
}

fn oauth_error(status: StatusCode, error: &str, desc: &str) -> Response<Body> {
    json(
        status,
        format!(r#"{{"error":"{error}","error_description":"{desc}"}}"#),
    )
}

async fn authorize(
    State(app): State<Arc<As>>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response<Body> {
    let q: HashMap<String, String> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    if q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code + S256 only",
        );
    }
    let dpop_jkt = match app
        .authz
        .authorize_binding(q.get("dpop_jkt").map(String::as_str))
    {
        Ok(j) => j,
        Err(rej) => return as_rejection_response(&rej).map(Body::from),
    };
    let code = random_token();
    let redirect_uri = q["redirect_uri"].clone();
    app.codes.lock().unwrap().insert(
        code.clone(),
        Code {
            client_id: q["client_id"].clone(),
            redirect_uri: redirect_uri.clone(),
            challenge: q["code_challenge"].clone(),
            dpop_jkt,
        },
    );
    let mut location = format!("{redirect_uri}?code={code}");
    if let Some(s) = q.get("state") {
        location.push_str(&format!("&state={s}"));
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// Authenticates the client of a token request (RFC 6749 §2.3, RFC 7523, RFC 8705 §2).
fn authenticate(
    app: &As,
    headers: &axum::http::HeaderMap,
    form: &HashMap<String, String>,
    peer: Option<&[u8]>,
) -> Result<(String, ClientKind), Response<Body>> {
    let unauthorized = |d: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", d);
    let (client_id, secret) = match headers.get(header::AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().unwrap();
            let b64 = v
                .strip_prefix("Basic ")
                .ok_or_else(|| unauthorized("scheme"))?;
            let raw = String::from_utf8(Base64::decode_vec(b64).unwrap()).unwrap();
            let (id, pw) = raw.split_once(':').unwrap();
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .unwrap()
                    .1
                    .into_owned()
            };
            (dec(id), Some(dec(pw)))
        }
        None => (
            form.get("client_id")
                .cloned()
                .ok_or_else(|| unauthorized("no client_id"))?,
            form.get("client_secret").cloned(),
        ),
    };
    let reg = app
        .clients
        .lock()
        .unwrap()
        .get(&client_id)
        .cloned()
        .ok_or_else(|| unauthorized("unknown client"))?;
    match reg {
        Registered::Secret(s) => {
            if secret.as_deref() != Some(s.as_str()) {
                return Err(unauthorized("wrong secret"));
            }
        }
        Registered::Public => return Ok((client_id, ClientKind::Public)),
        Registered::Certificate(x5t) => {
            let presented = peer.map(|d| keybound::mtls::x5t_s256_checked(d).unwrap());
            if presented != Some(x5t) {
                return Err(unauthorized("certificate"));
            }
        }
        Registered::Jwk(jwk) => {
            if form.get("client_assertion_type").map(String::as_str)
                != Some(keybound_client::token::JWT_BEARER_ASSERTION)
            {
                return Err(unauthorized("assertion type"));
            }
            let jws = form
                .get("client_assertion")
                .ok_or_else(|| unauthorized("assertion"))?;
            let parts: Vec<&str> = jws.split('.').collect();
            let header: serde_json::Value =
                serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], "ES256");
            let key = keybound::jwk::Jwk::parse(jwk.as_bytes()).unwrap();
            let sig = Base64UrlUnpadded::decode_vec(parts[2]).unwrap();
            let msg = format!("{}.{}", parts[0], parts[1]);
            DefaultVerifier::default()
                .verify(Algorithm::Es256, &key, msg.as_bytes(), &sig)
                .map_err(|_| unauthorized("assertion signature"))?;
            let claims = jws_claims(jws);
            let now = keybound::unix_now();
            if claims["iss"] != client_id.as_str()
                || claims["sub"] != client_id.as_str()
                || claims["aud"] != app.token_url().as_str()
                || claims["exp"].as_u64().unwrap() < now
            {
                return Err(unauthorized("assertion claims"));
            }
            let jti = claims["jti"].as_str().unwrap().to_owned();
            app.assertion_jtis.lock().unwrap().push(jti.clone());
            if !app.used_assertions.lock().unwrap().insert(jti) {
                return Err(unauthorized("client assertion jti already used"));
            }
        }
    }
    Ok((client_id, ClientKind::Confidential))
}

async fn token(State(app): State<Arc<As>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let peer = parts
        .extensions
        .get::<PeerCert>()
        .cloned()
        .unwrap_or_default();
    let resp = token_inner(&app, &parts, &form, peer.0.as_deref());
    let reason = if resp.status().is_success() {
        None
    } else {
        Some("rejected".to_owned())
    };
    app.seen.lock().unwrap().push(Seen {
        path: parts.uri.path().to_owned(),
        method: parts.method.as_str().to_owned(),
        proof: proof_of(&parts.headers),
        authorization: None,
        grant_type: form.get("grant_type").cloned(),
        status: resp.status().as_u16(),
        reason,
    });
    resp
}

fn token_inner(
    app: &As,
    parts: &axum::http::request::Parts,
    form: &HashMap<String, String>,
    peer: Option<&[u8]>,
) -> Response<Body> {
    let (client_id, kind) = match authenticate(app, &parts.headers, form, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    let (grant, issue_refresh) = match grant_type {
        "client_credentials" => (Grant::Other, false),
        "authorization_code" => {
            // Consumed only when a token is issued (a nonce retry reuses the code).
            let Some(code) = app.codes.lock().unwrap().get(&form["code"]).cloned() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "code");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if code.client_id != client_id
                || form.get("redirect_uri") != Some(&code.redirect_uri)
                || b64_sha256(&verifier) != code.challenge
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "pkce or client");
            }
            (
                Grant::AuthorizationCode {
                    dpop_jkt: code.dpop_jkt,
                },
                true,
            )
        }
        "refresh_token" => {
            let Some((owner, binding)) = app
                .refresh
                .lock()
                .unwrap()
                .get(&form["refresh_token"])
                .cloned()
            else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token");
            };
            if owner != client_id {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "owner");
            }
            (Grant::RefreshToken { binding }, true)
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant"),
    };
    let uri = format!("{}{}", app.origin, parts.uri.path());
    let dpop = header_values(&parts.headers, &keybound::http::DPOP);
    let mut treq = TokenRequest::new(&uri, kind, grant)
        .with_method(parts.method.as_str())
        .with_dpop(&dpop);
    if let Some(der) = peer {
        treq = treq.with_client_cert(ClientCert::Der(der));
    }
    let binding = match app.authz.token_binding(&treq, keybound::unix_now()) {
        Ok(b) => b,
        Err(rej) => return as_rejection_response(&rej).map(Body::from),
    };
    if grant_type == "authorization_code" {
        app.codes.lock().unwrap().remove(&form["code"]);
    }
    let at = app.rs.issue(*binding.cnf());
    let mut body = format!(
        r#"{{"access_token":"{at}","token_type":"{}","expires_in":300,"scope":"read""#,
        binding.token_type()
    );
    if issue_refresh {
        let rt = random_token();
        app.refresh
            .lock()
            .unwrap()
            .insert(rt.clone(), (client_id, *binding.refresh_token_cnf()));
        body.push_str(&format!(r#","refresh_token":"{rt}""#));
    }
    body.push('}');
    json(StatusCode::OK, body)
}

/// Answers `token_type` `Bearer` whatever was sent (a misbehaving server).
async fn token_bearer() -> Response<Body> {
    json(
        StatusCode::OK,
        r#"{"access_token":"abc","token_type":"Bearer","expires_in":60}"#.into(),
    )
}

/// Answers `token_type` `dpop`, as oidc-provider does.
async fn token_lowercase() -> Response<Body> {
    json(
        StatusCode::OK,
        r#"{"access_token":"abc","token_type":"dpop","expires_in":60}"#.into(),
    )
}

/// Answers a JSON object with `access_token` twice.
async fn token_duplicate() -> Response<Body> {
    json(
        StatusCode::OK,
        r#"{"access_token":"abc","token_type":"DPoP","access_token":"evil"}"#.into(),
    )
}
