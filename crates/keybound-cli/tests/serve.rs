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
    /// Everything the gate wrote on stderr, drained continuously (a full pipe would block
    /// the gate's logging, and with it the gate).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
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
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Gate {
            child,
            addr,
            as_key,
            dir,
            stderr,
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
        // The drain thread sees the end of the pipe once the gate has exited.
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::sync::Arc::strong_count(&self.stderr) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let err = self.stderr.lock().unwrap().clone();
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

/// `keybound serve` with `extra` arguments, expected to exit at once: (code, stderr).
fn serve_exits(jwks: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-origin",
            ORIGIN,
        ])
        .args(["--issuer", ISSUER, "--audience", ORIGIN, "--jwks"])
        .arg(jwks)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_refuses_a_replay_store_it_cannot_open() {
    let (code, _) = serve_exits(
        std::path::Path::new("/nonexistent"),
        &["--replay", "memory"],
    );
    assert_eq!(code, Some(2));
    // With a readable JWKS the store is what fails: nothing listens on that port, and an
    // unknown scheme is not a store; neither falls back to memory.
    let dir = std::env::temp_dir().join(format!("keybound-replay-{}", rand_u64()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    std::fs::write(
        dir.join("jwks.json"),
        format!(r#"{{"keys":[{}]}}"#, key.public_jwk()),
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}");
    let (code, stderr) = serve_exits(&dir.join("jwks.json"), &["--replay", &url]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--replay"), "{stderr}");
    let (code, stderr) = serve_exits(&dir.join("jwks.json"), &["--replay", "mongodb://x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected memory"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Polls `/healthz` until it answers 200 (the Redis store unfenced), at most `limit`.
async fn wait_healthy(g: &Gate, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let r = get(g.addr, "/healthz", &[]).await;
        if r.status == StatusCode::OK {
            return;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
        assert!(r.one("retry-after").is_some(), "{r:?}");
        assert!(Instant::now() < deadline, "/healthz still {r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A fleet (issue 15): two `keybound serve` processes sharing one real `redis-server`
/// accept each proof exactly once, also when it reaches both at the same time; with Redis
/// down every request is refused 503; after a restart without persistence, proofs accepted
/// before it are still refused while the store fences the lost state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_fleet_sharing_redis_accepts_each_proof_exactly_once() {
    use keybound_redis::conformance::servers::RedisServer;
    let mut redis = RedisServer::start().unwrap_or_else(|e| panic!("{e}"));
    let url = redis.url();
    // --max-age 5: a replay window of 16 s (max_age + leeway + 1), so the fresh server's
    // fence is short enough for a test.
    let args = ["--replay", url.as_str(), "--max-age", "5"];
    let a = Gate::start(&args);
    let mut b = Gate::start(&args);
    // Both gates trust the same issuer key: b takes a's JWKS (reloaded on SIGHUP).
    std::fs::copy(a.dir.join("jwks.json"), b.dir.join("jwks.json")).unwrap();
    b.as_key = a.as_key.clone();
    b.signal("-HUP");
    wait_healthy(&a, Duration::from_secs(40)).await;
    wait_healthy(&b, Duration::from_secs(40)).await;

    let alice = key();
    let token = a.mint(Some(&Confirmation::from_jkt(alice.thumbprint())));
    let auth = format!("DPoP {token}");
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let mut accepted_before = Vec::new();
    for round in 0..1000 {
        let p = proof(&alice, "GET", "/v1/fleet", &token, None);
        let headers = [("authorization", auth.as_str()), ("dpop", p.as_str())];
        let (ra, rb) = tokio::join!(
            check(&a, "GET", "/v1/fleet", &headers),
            check(&b, "GET", "/v1/fleet", &headers),
        );
        let ok = [&ra, &rb]
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "round {round}: {ra:?} / {rb:?}");
        let other = if ra.status == StatusCode::OK {
            &rb
        } else {
            &ra
        };
        assert_eq!(
            (other.status, other.reason().as_str()),
            (StatusCode::UNAUTHORIZED, "replay"),
            "round {round}"
        );
        if round % 100 == 0 {
            accepted_before.push(p);
        }
    }

    // Redis down: every request refused with 503 and Retry-After, none accepted.
    redis.kill();
    for g in [&a, &b] {
        let p = proof(&alice, "GET", "/v1/fleet", &token, None);
        let r = check(
            g,
            "GET",
            "/v1/fleet",
            &[("authorization", &auth), ("dpop", &p)],
        )
        .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
        assert!(r.one("retry-after").is_some(), "{r:?}");
    }
    // Restarted empty: the proofs accepted before are still refused (fenced), never 200.
    redis.restart().unwrap_or_else(|e| panic!("{e}"));
    for p in &accepted_before {
        for g in [&a, &b] {
            let r = check(
                g,
                "GET",
                "/v1/fleet",
                &[("authorization", &auth), ("dpop", p)],
            )
            .await;
            assert_ne!(
                r.status,
                StatusCode::OK,
                "a proof accepted before the restart: {r:?}"
            );
        }
    }
    let r = get(a.addr, "/healthz", &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
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

/// A supervisor may signal as soon as it reads the readiness line: the handlers are installed
/// before `listening on …` is printed, so an immediate SIGHUP reloads instead of killing the
/// process (the default action), and an immediate SIGTERM stops it cleanly.
#[tokio::test]
async fn serve_handles_signals_sent_as_soon_as_it_listens() {
    for _ in 0..5 {
        let mut g = Gate::start(&[]);
        g.signal("-HUP");
        let r = get(g.addr, "/healthz", &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert!(g.child.try_wait().unwrap().is_none(), "SIGHUP killed serve");
        let (code, _, stderr) = g.stop();
        assert_eq!(code, Some(0), "{stderr}");
    }
    let g = Gate::start(&[]);
    let (code, elapsed, stderr) = g.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}
