//! RFC 9068 access-token validation against its floor, in the same run (target: ES256 ≤ 1.05×
//! the bare signature verification of the same bytes with the same backend).
//!
//! `full` is `validate_token` (split, strict base64url and JSON, typ/alg/crit, JWKS lookup by
//! `kid`, key checks, signature, every claim, `cnf`) and `bare` verifies the same signature
//! over the same bytes with a key imported from the same coordinates.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use core::hint::black_box;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group};
use keybound_benches::interleaved;
use keybound_jwt::jose::{
    Algorithm, AwsLcVerifier, RingVerifier, RustCryptoVerifier, SignatureVerifier, SigningKey,
};
use keybound_jwt::{Confirmation, Jwks, TokenClaims, TokenPolicy, mint, validate_token};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://as.example.com";
const AUD: &str = "https://rs.example.com";

struct Fixture {
    token: String,
    jwks: Jwks,
    msg: Vec<u8>,
    sig: Vec<u8>,
    point: Vec<u8>,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let client = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let cnf = Confirmation::from_jkt(client.thumbprint());
    let claims = TokenClaims::new(
        ISS,
        "alice",
        &[AUD],
        "client-1",
        NOW,
        NOW + 300,
        "a1b2c3d4e5f6",
    )
    .with_scope("read write")
    .with_cnf(&cnf);
    let token = mint(
        &key,
        Some("k1"),
        &claims,
        &mut rand_core::UnwrapErr(getrandom::SysRng),
    )
    .unwrap();
    // Two keys, so the lookup by kid is not trivially the first.
    let other = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let kid = |k: &SigningKey, kid: &str| {
        k.public_jwk()
            .replacen('{', &format!(r#"{{"kid":"{kid}","#), 1)
    };
    let jwks = Jwks::parse(
        format!(r#"{{"keys":[{},{}]}}"#, kid(&other, "k0"), kid(&key, "k1")).as_bytes(),
    )
    .unwrap();
    let (msg, sig) = token.rsplit_once('.').unwrap();
    let public = key.public_jwk();
    let jwk = keybound_jwt::jose::Jwk::parse(public.as_bytes()).unwrap();
    let point = match jwk.params() {
        keybound_jwt::jose::keybound_jwk::PublicParams::Ec { x, y, .. } => {
            [vec![4u8], x.to_vec(), y.to_vec()].concat()
        }
        _ => unreachable!(),
    };
    Fixture {
        msg: msg.as_bytes().to_vec(),
        sig: Base64UrlUnpadded::decode_vec(sig).unwrap(),
        token,
        jwks,
        point,
    }
}

fn full<V: SignatureVerifier>(f: &Fixture, v: &V) {
    let policy = TokenPolicy::new(ISS, AUD);
    black_box(validate_token(black_box(&f.token), &f.jwks, &policy, v, NOW).unwrap());
}

fn rustcrypto_bare(f: &Fixture) {
    use p256::ecdsa::signature::Verifier;
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(black_box(&f.point)).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(black_box(&f.sig)).unwrap();
    vk.verify(black_box(&f.msg), &sig).unwrap();
}

fn ring_bare(f: &Fixture) {
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        black_box(&f.point),
    )
    .verify(black_box(&f.msg), black_box(&f.sig))
    .unwrap();
}

fn awslc_bare(f: &Fixture) {
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        black_box(&f.point),
    )
    .verify(black_box(&f.msg), black_box(&f.sig))
    .unwrap();
}

fn bench_token(c: &mut Criterion) {
    let f = fixture();
    let mut g = c.benchmark_group("AT_ES256");
    g.bench_function("full", |b| b.iter(|| full(&f, &RustCryptoVerifier)));
    g.bench_function("bare", |b| b.iter(|| rustcrypto_bare(&f)));
    g.bench_function("ring_full", |b| b.iter(|| full(&f, &RingVerifier)));
    g.bench_function("ring_bare", |b| b.iter(|| ring_bare(&f)));
    g.bench_function("awslc_full", |b| b.iter(|| full(&f, &AwsLcVerifier)));
    g.bench_function("awslc_bare", |b| b.iter(|| awslc_bare(&f)));
    g.bench_function("jwks_select", |b| {
        b.iter(|| {
            black_box(
                f.jwks
                    .select(black_box(Some("k1")), Algorithm::Es256)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

/// The headline numbers: full validation / bare verification of the same bytes.
fn ratios() {
    let f = fixture();
    interleaved(
        "AT ES256 rustcrypto",
        20,
        41,
        || full(&f, &RustCryptoVerifier),
        || rustcrypto_bare(&f),
    );
    interleaved(
        "AT ES256 ring",
        50,
        41,
        || full(&f, &RingVerifier),
        || ring_bare(&f),
    );
    interleaved(
        "AT ES256 aws-lc",
        50,
        41,
        || full(&f, &AwsLcVerifier),
        || awslc_bare(&f),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(core::time::Duration::from_secs(3)).warm_up_time(core::time::Duration::from_secs(1));
    targets = bench_token
}

fn main() {
    // `cargo bench --bench jwt -- ratios` prints only the interleaved ratios.
    if std::env::args().any(|a| a == "ratios") {
        ratios();
        return;
    }
    benches();
    ratios();
    Criterion::default().configure_from_args().final_summary();
}
