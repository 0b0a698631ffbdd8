//! `keybound fetch` against real servers on 127.0.0.1 (HTTP, and HTTPS with a client
//! certificate): a resource server on `keybound::rs` that requires nonces, and exact exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use axum::routing::any;
use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound::cnf::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, SigningKey};
use keybound::http::{HttpRsRequest, rejection_response};
use keybound::rs::{ResourceServer, RsConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// ---------------------------------------------------------------- the server

/// What the server saw: the proof's jti and nonce, and its answer.
#[derive(Clone, Debug)]
struct Seen {
    jti: Option<String>,
    nonce: Option<String>,
    status: u16,
}

struct Server {
    origin: String,
    rs: ResourceServer<'static>,
    tokens: Mutex<HashMap<String, Confirmation>>,
    seen: Mutex<Vec<Seen>>,
    counter: Mutex<u32>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[derive(Clone, Debug, Default)]
struct PeerCert(Option<Vec<u8>>);

fn claim(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    let proof = headers.get("dpop")?.to_str().ok()?;
    let payload = Base64UrlUnpadded::decode_vec(proof.split('.').nth(1)?).ok()?;
    let obj = keybound::json::Object::parse(&payload).ok()?;
    Some(obj.get(name)?.as_str()?.to_cow().into_owned())
}

fn record(app: &Server, headers: &axum::http::HeaderMap, status: u16) {
    app.seen.lock().unwrap().push(Seen {
        jti: claim(headers, "jti"),
        nonce: claim(headers, "nonce"),
        status,
    });
}

/// `keybound::rs` with the token's `cnf`; 200 `ok METHOD BODY`.
async fn resource(State(app): State<Arc<Server>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let hreq = HttpRsRequest::from_parts(&parts, &app.origin);
    let rs_req = hreq.as_rs_request();
    let outcome = app.rs.credentials(&rs_req).and_then(|creds| {
        let cnf = app.tokens.lock().unwrap().get(creds.token).copied();
        match cnf {
            None => Err(app.rs.reject_invalid_token(creds.scheme)),
            Some(cnf) => app.rs.verify(&rs_req, &cnf, keybound::unix_now()),
        }
    });
    match outcome {
        Ok(_) => {
            record(&app, &parts.headers, 200);
            let mut r = Response::new(Body::from(format!(
                "ok {} {}",
                parts.method,
                String::from_utf8_lossy(&body)
            )));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        Err(rej) => {
            record(&app, &parts.headers, rej.status());
            rejection_response(&rej, Body::empty())
        }
    }
}

/// Challenges every request with a new nonce.
async fn always_nonce(State(app): State<Arc<Server>>, req: Request) -> Response<Body> {
    record(&app, req.headers(), 401);
    let n = {
        let mut c = app.counter.lock().unwrap();
        *c += 1;
        *c
    };
    let mut r = Response::new(Body::from("challenged"));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("DPoP error=\"use_dpop_nonce\""),
    );
    r.headers_mut().insert(
        "dpop-nonce",
        HeaderValue::from_str(&format!("n-{n}")).unwrap(),
    );
    r
}

/// The request headers the tests look at, one per line.
async fn echo_headers(req: Request) -> String {
    let h = req.headers();
    let get = |n: &str| {
        h.get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "method={}\ndpop={}\nauthorization={}\nx-test={}\ncontent-type={}\n",
        req.method(),
        if h.contains_key("dpop") { "yes" } else { "no" },
        get("authorization"),
        get("x-test"),
        get("content-type"),
    )
}

/// The client certificate's x5t#S256 (HTTPS only).
async fn whoami(axum::Extension(peer): axum::Extension<PeerCert>) -> String {
    peer.0
        .map(|der| keybound::mtls::x5t_s256_checked(&der).unwrap().to_string())
        .unwrap_or_else(|| "none".into())
}

fn router(state: Arc<Server>) -> Router {
    Router::new()
        .route("/resource", any(resource))
        .route("/always-nonce", any(always_nonce))
        .route("/echo-headers", any(echo_headers))
        .route("/whoami", any(whoami))
        .with_state(state)
}

/// Starts a server on its own runtime thread; HTTPS when `tls` is given.
fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Arc<Server> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr: SocketAddr = listener.local_addr().unwrap();
            let scheme = if tls.is_some() { "https" } else { "http" };
            let state = Arc::new(Server {
                origin: format!("{scheme}://{addr}"),
                rs: ResourceServer::new(
                    RsConfig::new(MemoryReplayStore::new(1000))
                        .with_nonce(HmacNonceSource::new([3; 32], 300)),
                ),
                tokens: Mutex::new(HashMap::new()),
                seen: Mutex::new(Vec::new()),
                counter: Mutex::new(0),
            });
            tx.send(Arc::clone(&state)).unwrap();
            let app = router(state);
            match tls {
                None => axum::serve(listener, app).await.unwrap(),
                Some(cfg) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                    loop {
                        let (tcp, _) = listener.accept().await.unwrap();
                        let (acceptor, app) = (acceptor.clone(), app.clone());
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
                }
            }
        });
    });
    rx.recv().unwrap()
}

// ---------------------------------------------------------------- files

fn temp_dir() -> PathBuf {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "keybound-fetch-{}",
        Base64UrlUnpadded::encode_string(&b)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

/// A fresh private JWK file and a token bound to it at `server`.
fn key_and_token(server: &Server, dir: &std::path::Path) -> (String, String) {
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let path = write(dir, "key.json", key.private_jwk().as_bytes());
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    let token = Base64UrlUnpadded::encode_string(&b);
    server
        .tokens
        .lock()
        .unwrap()
        .insert(token.clone(), Confirmation::from_jkt(key.thumbprint()));
    (path, token)
}

struct Pki {
    ca_pem: String,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_cert_pem: String,
    client_key_pem: String,
    client_der: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fetch test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf = |sans: Vec<String>, usage| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans).unwrap();
        p.extended_key_usages = vec![usage];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let issuer: &rcgen::Issuer<'_, KeyPair> = &ca;
        (p.signed_by(&key, issuer).unwrap(), key)
    };
    let (server, server_key) = leaf(
        vec!["127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, client_key) = leaf(
        vec!["client.test.invalid".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_cert: server.der().clone(),
        server_key: server_key.serialize_der(),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
        client_der: client.der().to_vec(),
    }
}

fn server_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![pki.server_cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
            )
            .unwrap(),
    )
}

// ---------------------------------------------------------------- running

fn fetch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keybound"))
        .arg("fetch")
        .args(args)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// One sentence on stderr: one line.
#[track_caller]
fn one_line(o: &Output) -> String {
    let e = stderr(o);
    assert_eq!(e.lines().count(), 1, "stderr: {e:?}");
    e
}

// ---------------------------------------------------------------- tests

#[test]
fn fetch_signs_retries_the_nonce_challenge_and_prints_the_body() {
    let server = start(None);
    let dir = temp_dir();
    let (key, token) = key_and_token(&server, &dir);
    let url = format!("{}/resource?q=1", server.origin);
    let o = fetch(&["--key", &key, "--access-token", &token, &url]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok GET ");
    assert_eq!(stderr(&o), "");
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].status, 401);
    assert_eq!(seen[0].nonce, None);
    assert_eq!(seen[1].status, 200);
    assert!(seen[1].nonce.is_some());
    assert_ne!(seen[0].jti, seen[1].jti);
}

#[test]
fn fetch_post_data_is_resent_with_the_retry() {
    let server = start(None);
    let dir = temp_dir();
    let (key, token) = key_and_token(&server, &dir);
    let url = format!("{}/resource", server.origin);
    let o = fetch(&[
        "--key",
        &key,
        "--access-token",
        &token,
        "-d",
        "a=1&b=2",
        &url,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok POST a=1&b=2");
    assert_eq!(server.seen().len(), 2);

    let body = write(&dir, "body.txt", b"from a file");
    let o = fetch(&[
        "--key",
        &key,
        "--access-token",
        &token,
        "-X",
        "PUT",
        "-d",
        &format!("@{body}"),
        &url,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok PUT from a file");
}

#[test]
fn fetch_include_prints_status_line_and_headers_first() {
    let server = start(None);
    let dir = temp_dir();
    let (key, token) = key_and_token(&server, &dir);
    let url = format!("{}/resource", server.origin);
    let o = fetch(&["-i", "--key", &key, "--access-token", &token, &url]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(out.contains("\r\ncontent-type: text/plain\r\n"), "{out:?}");
    assert!(out.ends_with("\r\n\r\nok GET "), "{out:?}");
}

#[test]
fn fetch_second_challenge_exits_1_after_one_retry() {
    let server = start(None);
    let dir = temp_dir();
    let (key, _) = key_and_token(&server, &dir);
    let url = format!("{}/always-nonce", server.origin);
    let o = fetch(&["-i", "--key", &key, &url]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out:?}");
    assert!(out.contains("dpop-nonce: n-2\r\n"), "{out:?}");
    assert!(out.ends_with("challenged"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "exactly one retry");
    assert_eq!(seen[1].nonce.as_deref(), Some("n-1"));
    assert_eq!(
        one_line(&o),
        format!("keybound fetch: {url} answered 401 Unauthorized\n")
    );
}

#[test]
fn fetch_non_2xx_exits_1() {
    let server = start(None);
    let dir = temp_dir();
    let (key, _) = key_and_token(&server, &dir);
    let url = format!("{}/resource", server.origin);
    let o = fetch(&["--key", &key, "--access-token", "unknown-token", &url]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
    one_line(&o);
}

#[test]
fn fetch_sends_headers_and_no_proof_without_key() {
    let server = start(None);
    let url = format!("{}/echo-headers", server.origin);
    let o = fetch(&[
        "-H",
        "X-Test: hello",
        "-H",
        "content-type: text/plain",
        "--access-token",
        "t0k",
        "-d",
        "x",
        &url,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "method=POST\ndpop=no\nauthorization=Bearer t0k\nx-test=hello\ncontent-type=text/plain\n"
    );
    let dir = temp_dir();
    let (key, _) = key_and_token(&server, &dir);
    let o = fetch(&["--key", &key, "--access-token", "t0k", &url]);
    assert_eq!(code(&o), 0);
    assert_eq!(
        stdout(&o),
        "method=GET\ndpop=yes\nauthorization=DPoP t0k\nx-test=-\ncontent-type=-\n"
    );
}

#[test]
fn fetch_https_with_cacert_and_client_certificate() {
    let pki = pki();
    let server = start(Some(server_tls(&pki)));
    let dir = temp_dir();
    let ca = write(&dir, "ca.pem", pki.ca_pem.as_bytes());
    let cert = write(&dir, "client.pem", pki.client_cert_pem.as_bytes());
    let cert_key = write(&dir, "client.key", pki.client_key_pem.as_bytes());
    let url = format!("{}/whoami", server.origin);
    let o = fetch(&[
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--cert-key",
        &cert_key,
        &url,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let expected = keybound::mtls::x5t_s256_checked(&pki.client_der).unwrap();
    assert_eq!(stdout(&o), expected.to_string());

    // And DPoP over the same HTTPS server.
    let (key, token) = key_and_token(&server, &dir);
    let o = fetch(&[
        "--cacert",
        &ca,
        "--key",
        &key,
        "--access-token",
        &token,
        &format!("{}/resource", server.origin),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok GET ");
}

#[test]
fn fetch_https_with_unknown_ca_exits_2() {
    let pki = pki();
    let server = start(Some(server_tls(&pki)));
    let dir = temp_dir();
    // A CA that did not issue the server's certificate.
    let other = write(&dir, "other.pem", crate::pki().ca_pem.as_bytes());
    let o = fetch(&["--cacert", &other, &format!("{}/whoami", server.origin)]);
    assert_eq!(code(&o), 2);
    assert_eq!(stdout(&o), "");
    let e = one_line(&o);
    assert!(e.starts_with("error: request to https://127.0.0.1:"), "{e}");
}

#[test]
fn fetch_connection_refused_exits_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let o = fetch(&[&format!("http://{addr}/x")]);
    assert_eq!(code(&o), 2);
    let e = one_line(&o);
    assert!(
        e.starts_with(&format!("error: request to http://{addr}/x failed")),
        "{e}"
    );
}

#[test]
fn fetch_usage_errors_exit_2() {
    let dir = temp_dir();
    // No URL (clap).
    assert_eq!(code(&fetch(&[])), 2);
    // --cert without --cert-key (clap).
    assert_eq!(code(&fetch(&["--cert", "c.pem", "http://127.0.0.1:9/"])), 2);
    // A header without a colon.
    let o = fetch(&["-H", "NoColon", "http://127.0.0.1:9/"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        one_line(&o),
        "error: header \"NoColon\" is not 'Name: value'\n"
    );
    // A missing key file.
    let missing = dir.join("missing.json");
    let o = fetch(&["--key", missing.to_str().unwrap(), "http://127.0.0.1:9/"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        one_line(&o),
        format!("error: key file \"{}\" not found\n", missing.display())
    );
    // A key file that is not a private JWK.
    let public = write(
        &dir,
        "public.json",
        br#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
    );
    let o = fetch(&["--key", &public, "http://127.0.0.1:9/"]);
    assert_eq!(code(&o), 2);
    one_line(&o);
    // Not a URL.
    let o = fetch(&["not a url"]);
    assert_eq!(code(&o), 2);
    one_line(&o);
    // A URL a proof cannot name.
    let key = write(
        &dir,
        "key.json",
        SigningKey::generate_os_rng(Algorithm::Es256)
            .unwrap()
            .private_jwk()
            .as_bytes(),
    );
    let o = fetch(&["--key", &key, "ftp://127.0.0.1/file"]);
    assert_eq!(code(&o), 2);
    assert_eq!(
        one_line(&o),
        "error: \"ftp://127.0.0.1/file\" is not an absolute http or https URL with a host\n"
    );
    // A CA file without certificates.
    let empty = write(&dir, "empty.pem", b"nothing here\n");
    let o = fetch(&["--cacert", &empty, "https://127.0.0.1:9/"]);
    assert_eq!(code(&o), 2);
    one_line(&o);
}
