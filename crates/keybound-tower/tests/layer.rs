//! `KeyboundLayer` over real HTTP/1.1 on 127.0.0.1 (axum behind the layer, a hyper client),
//! with real ES256 access tokens and DPoP proofs, real certificates (a rustls handshake, or a
//! trusted proxy's header), and replay stores that answer, fail or stall.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::manual_async_fn,
    missing_docs,
    unreachable_pub
)]

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../examples/rustls_server.rs"]
mod example;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64ct::{Base64, Encoding as _};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use keybound::cnf::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::{
    AsyncReplayStore, MemoryReplayStore, ReplayError, ReplayKey, ReplayStore,
};
use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use keybound::jwt::{Jwks, TokenClaims};
use keybound::mtls::{CertFormat, IpPrefix};
use keybound_tower::header::CLIENT_CERT;
use keybound_tower::{
    Authenticated, GateConfig, JwksHandle, JwtValidator, KeyboundLayer, TokenFailure, TokenInfo,
    TokenValidator,
};

const ISSUER: &str = "https://as.example";

// ---------------------------------------------------------------- the authorization server

struct Issuer {
    key: keybound::jose::SigningKey,
    kid: &'static str,
}

impl Issuer {
    fn new(kid: &'static str) -> Self {
        Issuer {
            key: keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap(),
            kid,
        }
    }

    fn jwks(&self) -> Jwks {
        let public = self
            .key
            .public_jwk()
            .replacen('{', &format!(r#"{{"kid":"{}","#, self.kid), 1);
        Jwks::parse(format!(r#"{{"keys":[{public}]}}"#).as_bytes()).unwrap()
    }

    fn mint(&self, audience: &str, cnf: Option<&Confirmation>, scope: &str, ttl: i64) -> String {
        let now = keybound::unix_now();
        let aud = [audience];
        let jti = format!("at-{}", rand_u64());
        let exp = now.checked_add_signed(ttl).unwrap();
        let iat = if ttl < 0 { exp - 60 } else { now };
        let mut claims =
            TokenClaims::new(ISSUER, "alice", &aud, "client-1", iat, exp, &jti).with_scope(scope);
        if let Some(cnf) = cnf {
            claims = claims.with_cnf(cnf);
        }
        keybound::jwt::mint(
            &self.key,
            Some(self.kid),
            &claims,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .unwrap()
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn dpop_key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn proof(key: &SigningKey, method: &str, htu: &str, token: &str, nonce: Option<&str>) -> String {
    let mut p = ProofParams::new(method, htu, keybound::unix_now()).with_access_token(token);
    if let Some(n) = nonce {
        p = p.with_nonce(n);
    }
    key.sign_proof_os_rng(&p).unwrap()
}

// ---------------------------------------------------------------- the resource server

/// `GET /accounts` (and `/admin`): what the layer proved, as JSON.
async fn whoami(auth: Authenticated) -> String {
    format!(
        r#"{{"sub":"{}","client_id":"{}","binding":"{}","jkt":"{}","x5t":"{}"}}"#,
        auth.subject().unwrap_or_default(),
        auth.client_id().unwrap_or_default(),
        auth.binding_name(),
        auth.jkt().map(|j| j.to_string()).unwrap_or_default(),
        auth.x5t_s256().map(|x| x.to_string()).unwrap_or_default(),
    )
}

struct Server {
    addr: SocketAddr,
    origin: String,
    issuer: Issuer,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Starts axum behind a layer built by `make` (given the public origin and the issuer).
async fn start<V, S>(
    make: impl FnOnce(&str, &Issuer) -> KeyboundLayer<V, S>,
) -> (Server, KeyboundLayer<V, S>)
where
    V: TokenValidator,
    S: AsyncReplayStore + Send + Sync + 'static,
{
    let (listener, addr) = bind().await;
    let origin = format!("http://{addr}");
    let issuer = Issuer::new("k1");
    let layer = make(&origin, &issuer);
    let app = Router::new()
        .route("/accounts", get(whoami))
        .route("/admin", get(whoami))
        .layer(layer.clone())
        .route("/unprotected", get(whoami));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (
        Server {
            addr,
            origin,
            issuer,
        },
        layer,
    )
}

fn jwt_validator(origin: &str, issuer: &Issuer) -> JwtValidator {
    JwtValidator::new(JwksHandle::new(issuer.jwks()), ISSUER, origin)
}

/// The default server: RFC 9449 defaults, memory store.
async fn default_server() -> (Server, KeyboundLayer<JwtValidator, MemoryReplayStore>) {
    start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_authorization_server(ISSUER),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(10_000),
        )
    })
    .await
}

// ---------------------------------------------------------------- the client (hyper)

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn one(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    fn json(&self, member: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        v.get(member).and_then(|m| {
            m.as_str()
                .map(str::to_owned)
                .or_else(|| Some(m.to_string()))
        })
    }

    fn reason(&self) -> String {
        self.json("reason").unwrap_or_default()
    }
}

async fn exchange<IO>(
    io: IO,
    method: &str,
    uri: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> Reply
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    exchange(TokioIo::new(tcp), method, path, &addr.to_string(), headers).await
}

/// A DPoP request: `Authorization: DPoP token` and a fresh proof for `path`.
async fn dpop_get(s: &Server, key: &SigningKey, path: &str, token: &str) -> Reply {
    let p = proof(key, "GET", &s.url(path), token, None);
    send(
        s.addr,
        "GET",
        path,
        &[("authorization", &format!("DPoP {token}")), ("dpop", &p)],
    )
    .await
}

fn metadata_url(s: &Server) -> String {
    format!("{}/.well-known/oauth-protected-resource", s.origin)
}

fn assert_no_store_json(r: &Reply) {
    assert_eq!(r.one("cache-control").as_deref(), Some("no-store"), "{r:?}");
    assert_eq!(
        r.one("content-type").as_deref(),
        Some("application/json"),
        "{r:?}"
    );
}

// ---------------------------------------------------------------- acceptance

#[tokio::test]
async fn accepts_dpop_bound_token_and_hands_the_proof_to_the_handler() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("sub").as_deref(), Some("alice"));
    assert_eq!(r.json("client_id").as_deref(), Some("client-1"));
    assert_eq!(r.json("binding").as_deref(), Some("dpop"));
    assert_eq!(r.json("jkt"), Some(key.thumbprint().to_string()));
    assert_eq!(r.one("dpop-nonce"), None);
    let m = layer.metrics().snapshot();
    assert_eq!(m.accepted_total(), 1);
}

#[tokio::test]
async fn rejects_missing_token_with_both_challenges_and_resource_metadata() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/accounts", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenges = r.all("www-authenticate");
    let meta = metadata_url(&s);
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert_eq!(
        challenges[0],
        format!("Bearer resource_metadata=\"{meta}\"")
    );
    assert!(challenges[1].starts_with("DPoP algs=\""), "{challenges:?}");
    assert!(challenges[1].contains("ES256"), "{challenges:?}");
    assert!(
        challenges[1].ends_with(&format!(", resource_metadata=\"{meta}\"")),
        "{challenges:?}"
    );
    assert_no_store_json(&r);
    assert_eq!(r.reason(), "missing_token");
    assert_eq!(
        r.json("error"),
        None,
        "no error code without a token (RFC 6750 §3.1)"
    );
}

#[tokio::test]
async fn rejects_dpop_token_presented_as_bearer() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "dpop_token_as_bearer");
    let c = r.all("www-authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP error=\"invalid_token\""), "{c:?}");
    assert!(c[0].contains("algs=\""), "{c:?}");
    assert_no_store_json(&r);
}

#[tokio::test]
async fn rejects_stolen_token_with_the_thiefs_own_key() {
    let (s, _) = default_server().await;
    let (alice, mallory) = (dpop_key(), dpop_key());
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(alice.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &mallory, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "key_binding");
    assert_eq!(r.json("error").as_deref(), Some("invalid_dpop_proof"));
    let c = r.all("www-authenticate");
    assert!(
        c[0].starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{c:?}"
    );
}

#[tokio::test]
async fn rejects_replayed_proof() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let p = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let h = [("authorization", format!("DPoP {token}")), ("dpop", p)];
    let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        send(s.addr, "GET", "/accounts", &h).await.status,
        StatusCode::OK
    );
    let r = send(s.addr, "GET", "/accounts", &h).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "replay");
    assert_eq!(layer.metrics().snapshot().rejected_with("replay"), 1);
}

#[tokio::test]
async fn rejects_proof_made_for_another_url_or_method() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let auth = format!("DPoP {token}");
    let other_url = proof(&key, "GET", &s.url("/admin"), &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &other_url)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htu")
    );
    let other_method = proof(&key, "POST", &s.url("/accounts"), &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &other_method)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htm")
    );
}

#[tokio::test]
async fn checks_htu_against_the_public_origin_never_the_host_header() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let auth = format!("DPoP {token}");
    // A proof for the attacker's host, with Host and X-Forwarded-* claiming that host.
    let evil = proof(&key, "GET", "https://evil.example/accounts", &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[
            ("authorization", &auth),
            ("dpop", &evil),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htu")
    );
}

#[tokio::test]
async fn rejects_proof_whose_ath_is_for_another_token() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let token = s.issuer.mint(&s.origin, Some(&cnf), "read", 300);
    let other = s.issuer.mint(&s.origin, Some(&cnf), "read", 300);
    let p = proof(&key, "GET", &s.url("/accounts"), &other, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("DPoP {token}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "ath")
    );
}

#[tokio::test]
async fn rejects_malformed_authorization_with_400() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/accounts", &[("authorization", "DPoP a b")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.reason(), "malformed_authorization");
    assert_eq!(r.json("error").as_deref(), Some("invalid_request"));
    let c = r.all("www-authenticate");
    assert!(
        c.iter()
            .any(|c| c.starts_with("DPoP error=\"invalid_request\"")),
        "{c:?}"
    );
    assert_no_store_json(&r);
}

#[tokio::test]
async fn rejects_forged_and_expired_tokens_as_invalid_token() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let forger = Issuer::new("k1");
    let forged = forger.mint(&s.origin, Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &forged).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let c = r.all("www-authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP error=\"invalid_token\""), "{c:?}");
    let expired = s.issuer.mint(&s.origin, Some(&cnf), "read", -120);
    let r = dpop_get(&s, &key, "/accounts", &expired).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    assert!(
        r.json("error_description").unwrap().contains("exp"),
        "{r:?}"
    );
    let wrong_aud = s
        .issuer
        .mint("https://other.example", Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &wrong_aud).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    assert_eq!(layer.metrics().snapshot().rejected_with("invalid_token"), 3);
}

#[tokio::test]
async fn rejects_unbound_token_unless_bearer_is_allowed() {
    let (s, _) = default_server().await;
    let token = s.issuer.mint(&s.origin, None, "read", 300);
    let bearer = format!("Bearer {token}");
    let r = send(s.addr, "GET", "/accounts", &[("authorization", &bearer)]).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "bearer_not_allowed")
    );

    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap().allow_bearer(true),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let token = s.issuer.mint(&s.origin, None, "read", 300);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("binding").as_deref(), Some("bearer"));
}

#[tokio::test]
async fn challenges_for_a_nonce_then_accepts_it_and_rotates_on_success() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_nonce(HmacNonceSource::new([7; 32], 60))
                .rotate_nonce(true),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "nonce")
    );
    assert_eq!(r.json("error").as_deref(), Some("use_dpop_nonce"));
    let nonce = r.one("dpop-nonce").expect("a DPoP-Nonce header");
    let c = r.all("www-authenticate");
    assert!(c[0].starts_with("DPoP error=\"use_dpop_nonce\""), "{c:?}");
    let p = proof(&key, "GET", &s.url("/accounts"), &token, Some(&nonce));
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("DPoP {token}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        r.one("dpop-nonce").is_some(),
        "a fresh nonce on success (rotation)"
    );
}

#[tokio::test]
async fn refuses_a_token_without_the_required_scope_with_403() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .require_scope("accounts:read"),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let token = s.issuer.mint(&s.origin, Some(&cnf), "profile", 300);
    let p = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let auth = format!("DPoP {token}");
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.reason(), "insufficient_scope");
    let c = r.all("www-authenticate");
    assert!(
        c[0].starts_with("DPoP error=\"insufficient_scope\""),
        "{c:?}"
    );
    assert!(c[0].contains("scope=\"accounts:read\""), "{c:?}");
    // The refused request did not use up its proof: the same proof passes with the scope.
    let good = s.issuer.mint(&s.origin, Some(&cnf), "accounts:read", 300);
    let r = dpop_get(&s, &key, "/accounts", &good).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn serves_rfc9728_metadata_from_the_same_configuration() {
    let (s, _) = start(|origin, issuer| {
        let fapi = keybound::profile::Profile::FAPI2_BASELINE
            .resolve(&keybound::profile::Choices::new())
            .unwrap();
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_profile(&fapi, None)
                .unwrap()
                .with_authorization_server(ISSUER),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let r = send(s.addr, "GET", "/.well-known/oauth-protected-resource", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["resource"], s.origin.as_str());
    assert_eq!(v["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(v["bearer_methods_supported"], serde_json::json!(["header"]));
    assert_eq!(
        v["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "PS256", "EdDSA", "Ed25519"])
    );
    assert_eq!(v["dpop_bound_access_tokens_required"], true);
    assert_eq!(v["tls_client_certificate_bound_access_tokens"], false);
    // The challenge's algs are the advertised ones.
    let r = send(s.addr, "GET", "/accounts", &[]).await;
    let c = r.all("www-authenticate");
    assert!(c[1].contains("algs=\"ES256 PS256 EdDSA Ed25519\""), "{c:?}");
}

#[tokio::test]
async fn rotated_jwks_takes_effect_for_the_next_request() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let next = Issuer::new("k2");
    let token = next.mint(&s.origin, Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    layer.validator().jwks().replace(next.jwks());
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn extractor_without_the_layer_answers_500() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/unprotected", &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}

// ---------------------------------------------------------------- mTLS

struct Pki {
    ca: rustls::pki_types::CertificateDer<'static>,
    server: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
    client: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
    thief: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.der().clone(), key.serialize_der())
    };
    Pki {
        server: leaf("127.0.0.1"),
        client: leaf("client.example"),
        thief: leaf("thief.example"),
        ca: ca.der().clone(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn key_der(k: &[u8]) -> rustls::pki_types::PrivateKeyDer<'static> {
    rustls::pki_types::PrivateKeyDer::Pkcs8(k.to_vec().into())
}

async fn start_tls(p: &Pki) -> (Server, KeyboundLayer<JwtValidator, MemoryReplayStore>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca.clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![p.server.0.clone()], key_der(&p.server.1))
        .unwrap();
    let (listener, addr) = bind().await;
    let origin = format!("https://{addr}");
    let issuer = Issuer::new("k1");
    let layer = KeyboundLayer::new(
        GateConfig::new(&origin).unwrap(),
        jwt_validator(&origin, &issuer),
        MemoryReplayStore::new(100),
    );
    let app = Router::new()
        .route("/accounts", get(example::accounts))
        .layer(layer.clone());
    tokio::spawn(example::serve_tls(listener, Arc::new(tls), app));
    (
        Server {
            addr,
            origin,
            issuer,
        },
        layer,
    )
}

async fn tls_get(
    s: &Server,
    p: &Pki,
    cert: Option<&(rustls::pki_types::CertificateDer<'static>, Vec<u8>)>,
    token: &str,
) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        Some((c, k)) => builder
            .with_client_auth_cert(vec![c.clone()], key_der(k))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::from(s.addr.ip());
    let tls = connector.connect(name, tcp).await.unwrap();
    exchange(
        TokioIo::new(tls),
        "GET",
        "/accounts",
        &s.addr.to_string(),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test]
async fn mtls_through_a_rustls_handshake_binds_the_certificate() {
    let p = pki();
    let (s, _) = start_tls(&p).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let r = tls_get(&s, &p, Some(&p.client), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("binding").as_deref(), Some("mtls"));
    let r = tls_get(&s, &p, Some(&p.thief), &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_mismatch")
    );
    let r = tls_get(&s, &p, None, &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_missing")
    );
}

fn client_cert_header(der: &[u8]) -> String {
    format!(":{}:", Base64::encode_string(der))
}

async fn proxy_server(trusted: IpPrefix) -> Server {
    start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .trust_proxies([trusted])
                .proxy_cert_header(CLIENT_CERT, CertFormat::Rfc9440),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await
    .0
}

#[tokio::test]
async fn mtls_through_a_trusted_proxy_header_binds_the_certificate() {
    let p = pki();
    let s = proxy_server(IpPrefix::parse("127.0.0.1/32").unwrap()).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let auth = format!("Bearer {token}");
    let good = client_cert_header(&p.client.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", &good)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("x5t"), Some(x5t.to_string()));
    let other = client_cert_header(&p.thief.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", &other)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_mismatch")
    );
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", ":not base64:")],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::BAD_REQUEST, "certificate_header")
    );
}

#[tokio::test]
async fn ignores_the_certificate_header_from_an_untrusted_peer() {
    let p = pki();
    let s = proxy_server(IpPrefix::parse("10.0.0.0/8").unwrap()).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let header = client_cert_header(&p.client.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("client-cert", &header),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_missing")
    );
}

// ---------------------------------------------------------------- concurrency and stores

/// The same request sent `n` times at once; returns the statuses.
async fn storm(s: &Server, n: usize, path: &str, token: &str, key: &SigningKey) -> Vec<StatusCode> {
    let p = proof(key, "GET", &s.url(path), token, None);
    let auth = format!("DPoP {token}");
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (addr, auth, p, path, barrier) = (
            s.addr,
            auth.clone(),
            p.clone(),
            path.to_owned(),
            Arc::clone(&barrier),
        );
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            barrier.wait().await;
            exchange(
                TokioIo::new(tcp),
                "GET",
                &path,
                &addr.to_string(),
                &[("authorization", &auth), ("dpop", &p)],
            )
            .await
            .status
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_copies_of_one_request_yield_exactly_one_200() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let statuses = storm(&s, 200, "/accounts", &token, &key).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let replay = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((ok, replay), (1, 199), "{statuses:?}");
    assert_eq!(layer.metrics().snapshot().rejected_with("replay"), 199);
}

/// A networked-style store: answers only asynchronously, after yielding to the runtime.
#[derive(Default)]
struct AsyncSetStore(Mutex<std::collections::HashSet<(Vec<u8>, String)>>);

impl AsyncReplayStore for AsyncSetStore {
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        let entry = (key.scope.to_vec(), key.jti.to_owned());
        async move {
            tokio::task::yield_now().await;
            if self.0.lock().unwrap().insert(entry) {
                Ok(())
            } else {
                Err(ReplayError::Replayed)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_store_commits_without_blocking_and_still_admits_one_copy() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            AsyncSetStore::default(),
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let statuses = storm(&s, 50, "/accounts", &token, &key).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
}

/// A store whose answer never comes.
struct StalledStore;

impl AsyncReplayStore for StalledStore {
    fn check_and_insert_async(
        &self,
        _key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        core::future::pending()
    }
}

#[tokio::test]
async fn stalled_store_answers_503_with_retry_after_never_200() {
    let (s, layer) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .store_timeout(Duration::from_millis(200))
                .retry_after(3),
            jwt_validator(origin, issuer),
            StalledStore,
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let started = std::time::Instant::now();
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.one("retry-after").as_deref(), Some("3"));
    assert_eq!(r.json("error").as_deref(), Some("temporarily_unavailable"));
    assert_eq!(r.reason(), "store_unavailable");
    assert_no_store_json(&r);
    assert_eq!(layer.metrics().snapshot().store_unavailable, 1);
    assert_eq!(layer.metrics().snapshot().accepted_total(), 0);
}

/// A store that cannot answer (backend down): the sync (inline) path.
struct FailingStore;

impl ReplayStore for FailingStore {
    fn check_and_insert(&self, _: ReplayKey<'_>, _: u64, _: u64) -> Result<(), ReplayError> {
        Err(ReplayError::Unavailable)
    }
}

/// The same through the async path.
struct AsyncFailingStore;

impl AsyncReplayStore for AsyncFailingStore {
    fn check_and_insert_async(
        &self,
        _key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        async {
            tokio::task::yield_now().await;
            Err(ReplayError::Unavailable)
        }
    }
}

#[tokio::test]
async fn failing_store_answers_503_sync_and_async() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            FailingStore,
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.one("retry-after").as_deref(), Some("1"));

    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            AsyncFailingStore,
        )
    })
    .await;
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.reason(), "store_unavailable");
}

/// An introspection-style validator that cannot reach its endpoint.
struct DownValidator;

impl TokenValidator for DownValidator {
    type Future = core::future::Ready<Result<TokenInfo, TokenFailure>>;

    fn validate(&self, _token: &str, _now: u64) -> Self::Future {
        core::future::ready(Err(TokenFailure::Unavailable {
            description: "introspection endpoint refused the connection".to_owned(),
        }))
    }
}

#[tokio::test]
async fn unavailable_token_validator_answers_503() {
    let (s, layer) = start(|origin, _| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            DownValidator,
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", "Bearer opaque")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.reason(), "token_validator_unavailable");
    assert_eq!(layer.metrics().snapshot().validator_unavailable, 1);
}

#[tokio::test]
async fn metrics_render_in_prometheus_text() {
    let (s, layer) = default_server().await;
    let _ = send(s.addr, "GET", "/accounts", &[]).await;
    let text = layer.metrics().render_prometheus();
    assert!(
        text.contains("keybound_requests_total{outcome=\"rejected\",reason=\"missing_token\"} 1"),
        "{text}"
    );
}

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_one_event_per_decision_without_token_proof_or_nonce() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_nonce(HmacNonceSource::new([9; 32], 60)),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let first = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let auth = format!("DPoP {token}");
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &first)],
    )
    .await;
    let nonce = r.one("dpop-nonce").unwrap();
    let p = proof(&key, "GET", &s.url("/accounts"), &token, Some(&nonce));
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let decisions: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("keybound decision"))
        .collect();
    assert_eq!(decisions.len(), 2, "{text}");
    assert!(
        decisions[0].contains("outcome=\"rejected\"") && decisions[0].contains("reason=\"nonce\""),
        "{text}"
    );
    assert!(
        decisions[1].contains("outcome=\"accepted\"") && decisions[1].contains("binding=\"dpop\""),
        "{text}"
    );
    let jkt = key.thumbprint().to_string();
    assert!(
        decisions[1].contains(&format!("jkt={}", &jkt[..8])),
        "{text}"
    );
    assert!(decisions[1].contains("latency_us="), "{text}");
    for secret in [
        token.as_str(),
        first.as_str(),
        p.as_str(),
        nonce.as_str(),
        jkt.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "the log must not carry tokens, proofs, nonces or whole thumbprints"
        );
    }
}
