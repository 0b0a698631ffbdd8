// Shared by layer.rs and logging.rs (pasted in with `include!`): a real issuer, DPoP
// keys and proofs, an axum app behind the layer on 127.0.0.1, and a hyper client.

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
