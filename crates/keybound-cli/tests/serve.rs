//! `keybound serve` as a forward-auth gate: the built binary on 127.0.0.1, a hyper client
//! playing the proxy (original method and URI in headers, the client's `Authorization` and
//! `DPoP` passed as they are), real ES256 tokens and proofs, real certificates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use keybound::cnf::Confirmation;
use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use keybound::jwt::TokenClaims;

const ORIGIN: &str = "https://api.example.test";
const ISSUER: &str = "https://as.example.test";

struct Gate {
    child: Child,
    addr: SocketAddr,
    as_key: keybound::jose::SigningKey,
    dir: PathBuf,
}

impl Gate {
    fn start(extra: &[&str]) -> Gate {
        let dir = std::env::temp_dir().join(format!(
            "keybound-serve-test-{}-{}",
            std::process::id(),
            rand_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let as_key = keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
        let public = as_key.public_jwk().replacen('{', r#"{"kid":"k1","#, 1);
        std::fs::write(dir.join("jwks.json"), format!(r#"{{"keys":[{public}]}}"#)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_keybound"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--public-origin",
                ORIGIN,
            ])
            .args(["--issuer", ISSUER, "--audience", ORIGIN, "--jwks"])
            .arg(dir.join("jwks.json"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Gate {
            child,
            addr,
            as_key,
            dir,
        }
    }

    fn mint(&self, cnf: Option<&Confirmation>) -> String {
        mint_with(&self.as_key, cnf)
    }

    /// Sends SIGTERM and returns (exit code, time to exit, stderr).
    fn stop(self) -> (Option<i32>, Duration, String) {
        self.stop_with("-TERM")
    }

    /// Sends `signal` to the gate (a process this test started).
    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Sends `signal` and returns (exit code, time to exit, stderr).
    fn stop_with(mut self, signal: &str) -> (Option<i32>, Duration, String) {
        let started = Instant::now();
        self.signal(signal);
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = started.elapsed();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        (status.code(), elapsed, err)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mint_with(as_key: &keybound::jose::SigningKey, cnf: Option<&Confirmation>) -> String {
    let now = keybound::unix_now();
    let aud = [ORIGIN];
    let jti = format!("at-{}", rand_u64());
    let mut claims = TokenClaims::new(ISSUER, "alice", &aud, "client-1", now, now + 300, &jti);
    if let Some(cnf) = cnf {
        claims = claims.with_cnf(cnf);
    }
    keybound::jwt::mint(
        as_key,
        Some("k1"),
        &claims,
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )
    .unwrap()
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn one(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn reason(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        v["reason"].as_str().unwrap_or_default().to_owned()
    }
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .uri(path)
        .header("host", addr.to_string());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// A forward-auth check as nginx sends it for `method uri` with the client's headers.
async fn check(g: &Gate, method: &str, uri: &str, client: &[(&str, &str)]) -> Reply {
    let mut h = vec![("x-original-method", method), ("x-original-uri", uri)];
    h.extend_from_slice(client);
    get(g.addr, "/auth", &h).await
}

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn proof(key: &SigningKey, method: &str, path: &str, token: &str, nonce: Option<&str>) -> String {
    let htu = format!("{ORIGIN}{path}");
    let mut p = ProofParams::new(method, &htu, keybound::unix_now()).with_access_token(token);
    if let Some(n) = nonce {
        p = p.with_nonce(n);
    }
    key.sign_proof_os_rng(&p).unwrap()
}

#[tokio::test]
async fn serve_gates_dpop_requests_like_the_layer() {
    let g = Gate::start(&[]);
    let alice = key();
    let token = g.mint(Some(&Confirmation::from_jkt(alice.thumbprint())));
    let auth = format!("DPoP {token}");

    // Legitimate: 200 with who and how.
    let p = proof(&alice, "GET", "/v1/accounts", &token, None);
    let r = check(
        &g,
        "GET",
        "/v1/accounts?page=2",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.one("x-keybound-subject"), Some("alice"));
    assert_eq!(r.one("x-keybound-client-id"), Some("client-1"));
    assert_eq!(r.one("x-keybound-binding"), Some("dpop"));

    // The same proof again: replay.
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "replay")
    );
    assert!(
        r.one("www-authenticate")
            .unwrap()
            .starts_with("DPoP error=\"invalid_dpop_proof\"")
    );
    assert_eq!(r.one("cache-control"), Some("no-store"));

    // No token: both challenges in one field, with resource_metadata.
    let r = check(&g, "GET", "/v1/accounts", &[]).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    let c = r.one("www-authenticate").unwrap();
    let meta = format!("{ORIGIN}/.well-known/oauth-protected-resource");
    assert!(
        c.starts_with(&format!(
            "Bearer resource_metadata=\"{meta}\", DPoP algs=\""
        )),
        "{c}"
    );

    // Stolen token sent as Bearer; with the thief's key; a proof for another URL or method.
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.reason(), "dpop_token_as_bearer");
    let thief = proof(&key(), "GET", "/v1/accounts", &token, None);
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &auth), ("dpop", &thief)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "key_binding")
    );
    let other = proof(&alice, "GET", "/v1/admin", &token, None);
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &auth), ("dpop", &other)],
    )
    .await;
    assert_eq!(r.reason(), "htu");
    let post = proof(&alice, "POST", "/v1/accounts", &token, None);
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &auth), ("dpop", &post)],
    )
    .await;
    assert_eq!(r.reason(), "htm");

    // Traefik's headers work too; a check without the original request is a 400.
    let p = proof(&alice, "DELETE", "/v1/accounts/7", &token, None);
    let r = get(
        g.addr,
        "/auth",
        &[
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-uri", "/v1/accounts/7"),
            ("authorization", &auth),
            ("dpop", &p),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = get(g.addr, "/auth", &[("authorization", &auth)]).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::BAD_REQUEST, "missing_original_request")
    );

    // Envoy's path_prefix form: /auth/<original path>, the check's own method.
    let p = proof(&alice, "GET", "/v1/x", &token, None);
    let r = get(
        g.addr,
        "/auth/v1/x",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // A forged token (another issuer key).
    let forger = keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let forged = mint_with(&forger, Some(&Confirmation::from_jkt(alice.thumbprint())));
    let p = proof(&alice, "GET", "/v1/accounts", &forged, None);
    let r = check(
        &g,
        "GET",
        "/v1/accounts",
        &[("authorization", &format!("DPoP {forged}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    // Metadata and health.
    let r = get(g.addr, "/.well-known/oauth-protected-resource", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["resource"], ORIGIN);
    assert_eq!(v["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(v["bearer_methods_supported"], serde_json::json!(["header"]));
    assert!(
        v["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );
    let r = get(g.addr, "/healthz", &[]).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok\n"));

    // SIGTERM: exit 0 within a second, one log line per decision.
    let (code, took, stderr) = g.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let decisions = stderr
        .lines()
        .filter(|l| l.contains("keybound decision"))
        .count();
    assert_eq!(decisions, 11, "{stderr}");
    assert!(!stderr.contains(&token), "tokens are never logged");
}

#[tokio::test]
async fn serve_two_hundred_concurrent_copies_yield_exactly_one_200() {
    let g = Gate::start(&[]);
    let alice = key();
    let token = g.mint(Some(&Confirmation::from_jkt(alice.thumbprint())));
    let auth = format!("DPoP {token}");
    let p = proof(&alice, "GET", "/v1/accounts", &token, None);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (addr, auth, p, barrier) = (g.addr, auth.clone(), p.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            get(
                addr,
                "/auth",
                &[
                    ("x-original-method", "GET"),
                    ("x-original-uri", "/v1/accounts"),
                    ("authorization", &auth),
                    ("dpop", &p),
                ],
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn serve_requires_nonces_from_a_shared_secret() {
    let dir = std::env::temp_dir().join(format!("keybound-nonce-{}", rand_u64()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("nonce.key");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
    let secret = secret.to_str().unwrap();
    let a = Gate::start(&["--require-nonce", "--nonce-secret", secret]);
    let b = Gate::start(&["--require-nonce", "--nonce-secret", secret]);
    let alice = key();
    let token = a.mint(Some(&Confirmation::from_jkt(alice.thumbprint())));
    let auth = format!("DPoP {token}");
    let p = proof(&alice, "GET", "/r", &token, None);
    let r = check(&a, "GET", "/r", &[("authorization", &auth), ("dpop", &p)]).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "nonce")
    );
    assert!(
        r.one("www-authenticate")
            .unwrap()
            .starts_with("DPoP error=\"use_dpop_nonce\"")
    );
    let nonce = r.one("dpop-nonce").unwrap().to_owned();
    // Instance b accepts a's nonce (same secret) — but b trusts its own JWKS: mint there.
    let token_b = b.mint(Some(&Confirmation::from_jkt(alice.thumbprint())));
    let p = proof(&alice, "GET", "/r", &token_b, Some(&nonce));
    let r = check(
        &b,
        "GET",
        "/r",
        &[("authorization", &format!("DPoP {token_b}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_reads_client_certificates_only_from_trusted_proxies() {
    let cert = rcgen::generate_simple_self_signed(vec!["client.example".to_owned()]).unwrap();
    let der = cert.cert.der().to_vec();
    let header = format!(":{}:", Base64::encode_string(&der));
    let cnf = Confirmation::from_x5t_s256(keybound::mtls::x5t_s256(&der));

    let trusting = Gate::start(&["--trusted-proxy", "127.0.0.1/32"]);
    let token = trusting.mint(Some(&cnf));
    let auth = format!("Bearer {token}");
    let r = check(
        &trusting,
        "GET",
        "/r",
        &[("authorization", &auth), ("client-cert", &header)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.one("x-keybound-binding"), Some("mtls"));
    let other = rcgen::generate_simple_self_signed(vec!["thief.example".to_owned()]).unwrap();
    let other = format!(":{}:", Base64::encode_string(other.cert.der()));
    let r = check(
        &trusting,
        "GET",
        "/r",
        &[("authorization", &auth), ("client-cert", &other)],
    )
    .await;
    assert_eq!(r.reason(), "certificate_mismatch");

    let untrusting = Gate::start(&["--trusted-proxy", "10.0.0.0/8"]);
    let token = untrusting.mint(Some(&cnf));
    let r = check(
        &untrusting,
        "GET",
        "/r",
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
    let v: serde_json::Value = serde_json::from_str(
        &get(
            untrusting.addr,
            "/.well-known/oauth-protected-resource",
            &[],
        )
        .await
        .body,
    )
    .unwrap();
    assert_eq!(v["tls_client_certificate_bound_access_tokens"], true);
}

#[test]
fn serve_refuses_a_replay_store_it_cannot_open() {
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-origin",
            ORIGIN,
        ])
        .args([
            "--issuer",
            ISSUER,
            "--audience",
            ORIGIN,
            "--jwks",
            "/nonexistent",
        ])
        .args(["--replay", "redis://127.0.0.1:6379"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The JWKS is read first; with a readable one the store is what fails.
    let dir = std::env::temp_dir().join(format!("keybound-replay-{}", rand_u64()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("jwks.json"), r#"{"keys":[]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-origin",
            ORIGIN,
        ])
        .args(["--issuer", ISSUER, "--audience", ORIGIN, "--jwks"])
        .arg(dir.join("jwks.json"))
        .args(["--replay", "redis://127.0.0.1:6379"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("redis://127.0.0.1:6379"), "{stderr}");
    assert!(stderr.contains("not available"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_reloads_the_jwks_on_sighup_and_stops_on_sigint() {
    let g = Gate::start(&[]);
    let alice = key();
    let rotated = keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let token = mint_with(&rotated, Some(&Confirmation::from_jkt(alice.thumbprint())));
    let auth = format!("DPoP {token}");
    let p = proof(&alice, "GET", "/r", &token, None);
    let r = check(&g, "GET", "/r", &[("authorization", &auth), ("dpop", &p)]).await;
    assert_eq!(
        r.reason(),
        "invalid_token",
        "the new key is not trusted yet"
    );

    // An unusable file first: the old set stays.
    std::fs::write(g.dir.join("jwks.json"), "not json").unwrap();
    g.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let public = rotated.public_jwk().replacen('{', r#"{"kid":"k1","#, 1);
    std::fs::write(g.dir.join("jwks.json"), format!(r#"{{"keys":[{public}]}}"#)).unwrap();
    g.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let p = proof(&alice, "GET", "/r", &token, None);
        let r = check(&g, "GET", "/r", &[("authorization", &auth), ("dpop", &p)]).await;
        if r.status == StatusCode::OK || Instant::now() > deadline {
            break r.status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, StatusCode::OK, "the reloaded JWKS is in force");

    let (code, took, stderr) = g.stop_with("-INT");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(stderr.contains("JWKS not reloaded"), "{stderr}");
    assert!(stderr.contains("JWKS reloaded"), "{stderr}");
}
