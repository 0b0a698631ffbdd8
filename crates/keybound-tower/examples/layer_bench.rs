//! What the layer costs beyond the two signature verifications every DPoP request needs.
//!
//! ```text
//! cargo run --release -p keybound-tower --features axum --example layer_bench [-- REQUESTS ROUNDS CONNECTIONS]
//! cargo xtask bench-layer
//! ```
//!
//! Two axum apps on 127.0.0.1, each on a one-thread tokio runtime of its own:
//!
//! - **layer**: `GET /accounts` behind `KeyboundLayer` (RFC 9068 ES256 token against a JWKS,
//!   ES256 DPoP proof with `ath` and `cnf.jkt`, replay commit in the memory store), the
//!   handler reading [`Authenticated`];
//! - **floor**: the same route whose handler only verifies the two signatures (the token's
//!   with the issuer's key, the proof's with its embedded key), with the same verifier.
//!
//! A load generator (one more thread, keep-alive HTTP/1.1 connections, hyper) sends
//! `REQUESTS` requests per round, each with a **fresh proof** from a pool signed beforehand,
//! alternating the two apps for `ROUNDS` rounds. It prints requests/s and p50/p99 latency per
//! app (median round) and the ratio; the layer's extra cost is `1 - layer/floor`.

#![allow(
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "a benchmark program: failures abort it, output is the point"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use base64ct::{Base64UrlUnpadded, Encoding as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, DefaultVerifier, ProofParams, SigningKey};
use keybound::jose::{split_compact, verify_signature};
use keybound::jwk::Jwk;
use keybound::jwt::{Jwks, TokenClaims};
use keybound_tower::{Authenticated, GateConfig, JwksHandle, JwtValidator, KeyboundLayer};

const ISSUER: &str = "https://as.bench";

async fn layered(auth: Authenticated) -> &'static str {
    if auth.jkt().is_some() {
        "{\"ok\":true}"
    } else {
        "{}"
    }
}

/// The floor: the two ES256 signatures and nothing else.
fn verify_two(headers: &HeaderMap, as_jwk: &Jwk<'static>) -> bool {
    let verifier = DefaultVerifier::default();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DPoP "))
        .unwrap_or_default();
    let proof = headers
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (Ok(t), Ok(p)) = (
        split_compact(token, 16 * 1024),
        split_compact(proof, 8 * 1024),
    ) else {
        return false;
    };
    let mut sig = [0u8; 64];
    let Ok(s) = Base64UrlUnpadded::decode(t.signature, &mut sig) else {
        return false;
    };
    if verify_signature(&verifier, Algorithm::Es256, as_jwk, t.signing_input, s).is_err() {
        return false;
    }
    let mut header = [0u8; 512];
    let Ok(h) = Base64UrlUnpadded::decode(p.header, &mut header) else {
        return false;
    };
    let Ok(obj) = keybound::json::Object::parse(h) else {
        return false;
    };
    let Some(jwk) = obj
        .get("jwk")
        .and_then(|v| v.as_object())
        .and_then(|o| Jwk::from_object(o).ok())
    else {
        return false;
    };
    let mut psig = [0u8; 64];
    let Ok(ps) = Base64UrlUnpadded::decode(p.signature, &mut psig) else {
        return false;
    };
    verify_signature(&verifier, Algorithm::Es256, &jwk, p.signing_input, ps).is_ok()
}

struct Pool {
    token: String,
    proofs: Vec<String>,
    next: AtomicUsize,
}

/// Serves `app` on its own one-thread runtime; returns the address.
fn spawn_server(app: Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

/// One round: `n` requests over `conns` keep-alive connections; returns (rps, latencies).
async fn round(addr: SocketAddr, pool: Arc<Pool>, n: usize, conns: usize) -> (f64, Vec<Duration>) {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::spawn(conn);
            let auth = format!("DPoP {}", pool.token);
            let mut lat = Vec::new();
            while done.fetch_add(1, Ordering::Relaxed) < n {
                let i = pool.next.fetch_add(1, Ordering::Relaxed);
                let proof = &pool.proofs[i % pool.proofs.len()];
                let req = http::Request::get("/accounts")
                    .header("host", addr.to_string())
                    .header("authorization", &auth)
                    .header("dpop", proof)
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let t = Instant::now();
                sender.ready().await.unwrap();
                let resp = sender.send_request(req).await.unwrap();
                assert_eq!(resp.status(), 200, "request {i} refused");
                resp.into_body().collect().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rps, all)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let n = args.first().copied().unwrap_or(4000);
    let rounds = args.get(1).copied().unwrap_or(5);
    let conns = args.get(2).copied().unwrap_or(8);

    let as_key = keybound::jose::SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let as_public: &'static str = Box::leak(as_key.public_jwk().into_boxed_str());
    let as_jwk: Jwk<'static> = Jwk::parse(as_public.as_bytes()).unwrap();
    let jwks = Jwks::parse(
        format!(
            r#"{{"keys":[{}]}}"#,
            as_public.replacen('{', r#"{"kid":"k1","#, 1)
        )
        .as_bytes(),
    )
    .unwrap();

    // Both apps get the same public origin, so one pool of proofs serves both.
    let origin = "http://bench.invalid";
    let client = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let cnf = keybound::Confirmation::from_jkt(client.thumbprint());
    let now = keybound::unix_now();
    let aud = [origin];
    let claims =
        TokenClaims::new(ISSUER, "bench", &aud, "bench", now, now + 3600, "t").with_cnf(&cnf);
    let token = keybound::jwt::mint(
        &as_key,
        Some("k1"),
        &claims,
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )
    .unwrap();

    let total = n * rounds * 2 + 2 * 500;
    eprintln!("signing {total} unique proofs ...");
    let htu = format!("{origin}/accounts");
    let proofs: Vec<String> = (0..total)
        .map(|_| {
            client
                .sign_proof_os_rng(&ProofParams::new("GET", &htu, now).with_access_token(&token))
                .unwrap()
        })
        .collect();
    let pool = Arc::new(Pool {
        token,
        proofs,
        next: AtomicUsize::new(0),
    });

    let layer = KeyboundLayer::new(
        GateConfig::new(origin).unwrap(),
        JwtValidator::new(JwksHandle::new(jwks), ISSUER, origin),
        MemoryReplayStore::new(total * 2),
    );
    let layered_app = Router::new().route("/accounts", get(layered)).layer(layer);
    let floor_app = Router::new().route(
        "/accounts",
        get(move |headers: HeaderMap| async move {
            if verify_two(&headers, &as_jwk) {
                (http::StatusCode::OK, "{\"ok\":true}")
            } else {
                (http::StatusCode::UNAUTHORIZED, "{}")
            }
        }),
    );
    let layer_addr = spawn_server(layered_app);
    let floor_addr = spawn_server(floor_app);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Warm-up: connections, allocator, caches.
        round(layer_addr, Arc::clone(&pool), 500, conns).await;
        round(floor_addr, Arc::clone(&pool), 500, conns).await;
        let mut layer_rounds = Vec::new();
        let mut floor_rounds = Vec::new();
        for r in 0..rounds {
            // Alternate which goes first, so drift in machine load hits both alike.
            let (a, b) = if r % 2 == 0 {
                (layer_addr, floor_addr)
            } else {
                (floor_addr, layer_addr)
            };
            let first = round(a, Arc::clone(&pool), n, conns).await;
            let second = round(b, Arc::clone(&pool), n, conns).await;
            let (l, f) = if r % 2 == 0 { (first, second) } else { (second, first) };
            eprintln!(
                "round {}: layer {:.0} req/s, floor {:.0} req/s, ratio {:.3}",
                r + 1,
                l.0,
                f.0,
                l.0 / f.0
            );
            layer_rounds.push(l);
            floor_rounds.push(f);
        }
        let ratios: Vec<f64> = layer_rounds
            .iter()
            .zip(&floor_rounds)
            .map(|(l, f)| l.0 / f.0)
            .collect();
        let median = |v: &mut Vec<(f64, Vec<Duration>)>| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v.swap_remove(v.len() / 2)
        };
        let mut sorted_ratios = ratios.clone();
        sorted_ratios.sort_by(f64::total_cmp);
        let ratio = sorted_ratios[sorted_ratios.len() / 2];
        let l = median(&mut layer_rounds);
        let f = median(&mut floor_rounds);
        println!("requests per round {n}, rounds {rounds}, connections {conns}, fresh ES256 proof per request");
        println!("{:<8} {:>10} {:>9} {:>9}", "app", "req/s", "p50", "p99");
        for (name, (rps, lat)) in [("layer", &l), ("floor", &f)] {
            println!(
                "{name:<8} {rps:>10.0} {:>6.0} µs {:>6.0} µs",
                pct(lat, 0.50).as_secs_f64() * 1e6,
                pct(lat, 0.99).as_secs_f64() * 1e6
            );
        }
        println!(
            "median round ratio layer/floor {ratio:.3}: the layer costs {:.1} % beyond the two signature verifications",
            (1.0 - ratio) * 100.0
        );
    });
}
