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

/// A server: its address and the Linux thread id of its one runtime thread.
#[derive(Clone, Copy)]
struct Served {
    addr: SocketAddr,
    tid: Option<u32>,
}

/// CPU time the thread `tid` of this process has run, in ns (`/proc/…/schedstat`), unaffected
/// by other processes' load; `None` off Linux.
fn cpu_ns(tid: Option<u32>) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", tid?)).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Serves `app` on its own one-thread runtime.
fn spawn_server(app: Router) -> Served {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tid = std::fs::read_to_string("/proc/thread-self/stat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok());
        tx.send(tid).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    Served {
        addr,
        tid: rx.recv().unwrap(),
    }
}

/// One round's figures.
struct Round {
    rps: f64,
    /// Server CPU time per request (µs), when measurable.
    cpu_us: Option<f64>,
    lat: Vec<Duration>,
}

/// One round: `n` requests over `conns` keep-alive connections.
async fn round(server: Served, pool: Arc<Pool>, n: usize, conns: usize) -> Round {
    let addr = server.addr;
    let done = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_ns(server.tid);
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
    let cpu_us = match (cpu_before, cpu_ns(server.tid)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1000.0 / all.len() as f64),
        _ => None,
    };
    all.sort();
    Round {
        rps,
        cpu_us,
        lat: all,
    }
}

/// The inner service of the in-process measurement: answers at once.
#[derive(Clone, Copy)]
struct Ok200;

impl tower_service::Service<http::Request<()>> for Ok200 {
    type Response = http::Response<Empty<Bytes>>;
    type Error = core::convert::Infallible;
    type Future = core::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Result<(), Self::Error>> {
        core::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        core::future::ready(Ok(http::Response::new(Empty::new())))
    }
}

/// A request for the in-process measurement.
fn request(token: &str, proof: &str) -> http::Request<()> {
    http::Request::get("/accounts")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(())
        .unwrap()
}

/// The layer's whole decision (no HTTP) vs the two signature verifications, interleaved on
/// this thread: returns (layer ns/request, floor ns/request) medians and the median ratio.
fn in_process(
    layer: &KeyboundLayer<JwtValidator, MemoryReplayStore>,
    as_jwk: &Jwk<'static>,
    pool: &Pool,
    n: usize,
    rounds: usize,
) -> (f64, f64, f64) {
    use tower_layer::Layer as _;
    use tower_service::Service as _;
    let mut svc = layer.layer(Ok200);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    let mut layer_ns = Vec::new();
    let mut floor_ns = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let reqs: Vec<_> = (0..n)
            .map(|_| {
                let i = pool.next.fetch_add(1, Ordering::Relaxed);
                request(&pool.token, &pool.proofs[i % pool.proofs.len()])
            })
            .collect();
        let floor_reqs: Vec<_> = (0..n)
            .map(|_| {
                let i = pool.next.fetch_add(1, Ordering::Relaxed);
                request(&pool.token, &pool.proofs[i % pool.proofs.len()])
            })
            .collect();
        let mut run_layer = |reqs: Vec<http::Request<()>>| {
            let t = Instant::now();
            for req in reqs {
                let mut fut = core::pin::pin!(svc.call(req));
                match fut.as_mut().poll(&mut cx) {
                    core::task::Poll::Ready(Ok(resp)) => assert_eq!(resp.status(), 200),
                    _ => panic!("the layer must answer at once with the memory store"),
                }
            }
            t.elapsed().as_nanos() as f64 / n as f64
        };
        let run_floor = |reqs: Vec<http::Request<()>>| {
            let t = Instant::now();
            for req in reqs {
                assert!(verify_two(req.headers(), as_jwk));
            }
            t.elapsed().as_nanos() as f64 / n as f64
        };
        // Alternate which goes first, so drift in machine load hits both alike.
        let (l, f) = if round % 2 == 0 {
            let l = run_layer(reqs);
            (l, run_floor(floor_reqs))
        } else {
            let f = run_floor(floor_reqs);
            (run_layer(reqs), f)
        };
        layer_ns.push(l);
        floor_ns.push(f);
        ratios.push(l / f);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(layer_ns), median(floor_ns), median(ratios))
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

    let (in_process_n, in_process_rounds) = (300, 61);
    let total = n * rounds * 2 + 2 * 500 + in_process_n * 2 * in_process_rounds;
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
        // One client key makes every proof of the run inside one replay window: far above
        // the default per-key quota (1,000), which a real busy client would raise the same
        // way, and all in one of the store's 16 shards (a key's entries share a shard so its
        // count lives there), hence 16 × the room. The owner bookkeeping still runs.
        MemoryReplayStore::new(total * 2 * 16).with_owner_quota(usize::MAX),
    );
    let in_process_result = in_process(&layer, &as_jwk, &pool, in_process_n, in_process_rounds);
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
        let mut layer_rounds: Vec<Round> = Vec::new();
        let mut floor_rounds: Vec<Round> = Vec::new();
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
                "round {}: layer {:.0} req/s {:.1} µs CPU/req, floor {:.0} req/s {:.1} µs CPU/req",
                r + 1,
                l.rps,
                l.cpu_us.unwrap_or(f64::NAN),
                f.rps,
                f.cpu_us.unwrap_or(f64::NAN),
            );
            layer_rounds.push(l);
            floor_rounds.push(f);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let rps_ratio = median(
            layer_rounds
                .iter()
                .zip(&floor_rounds)
                .map(|(l, f)| l.rps / f.rps)
                .collect(),
        );
        let cpu_ratio = median(
            layer_rounds
                .iter()
                .zip(&floor_rounds)
                .filter_map(|(l, f)| Some(l.cpu_us? / f.cpu_us?))
                .collect::<Vec<_>>(),
        );
        println!(
            "requests per round {n}, rounds {rounds}, connections {conns}, fresh ES256 proof per request"
        );
        println!(
            "{:<8} {:>10} {:>9} {:>9} {:>13}",
            "app", "req/s", "p50", "p99", "server CPU"
        );
        for (name, rounds) in [("layer", &layer_rounds), ("floor", &floor_rounds)] {
            let rps = median(rounds.iter().map(|r| r.rps).collect());
            let cpu = median(rounds.iter().filter_map(|r| r.cpu_us).collect::<Vec<_>>());
            let mut lat: Vec<Duration> = rounds.iter().flat_map(|r| r.lat.iter().copied()).collect();
            lat.sort();
            println!(
                "{name:<8} {rps:>10.0} {:>6.0} µs {:>6.0} µs {cpu:>7.1} µs/req",
                pct(&lat, 0.50).as_secs_f64() * 1e6,
                pct(&lat, 0.99).as_secs_f64() * 1e6,
            );
        }
        println!(
            "median per-round ratio layer/floor: req/s {rps_ratio:.3} ({:+.1} %), server CPU per request {cpu_ratio:.3} ({:+.1} %)",
            (rps_ratio - 1.0) * 100.0,
            (cpu_ratio - 1.0) * 100.0
        );
        let (l, f, r) = in_process_result;
        println!(
            "in process, no HTTP ({in_process_n} requests x {in_process_rounds} interleaved rounds): layer {:.1} µs, two signatures {:.1} µs per request; median ratio {r:.3}: the layer costs {:+.1} % beyond the two verifications",
            l / 1000.0,
            f / 1000.0,
            (r - 1.0) * 100.0
        );
    });
}
