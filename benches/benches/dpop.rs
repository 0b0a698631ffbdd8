//! DPoP validation cost against its floor, in the same run (target: ≤ 1.05×).
//!
//! For ES256, EdDSA and PS256: `full` is `check_proof` (every RFC 9449 §4.3 check but the
//! replay insert: decode, strict JSON, header/key checks, signature, claims, htu normalization,
//! iat, ath, thumbprint) and `bare` verifies the same signature over the same bytes with a key
//! built from the same coordinates (`bare_prebuilt` skips the key import). The ring rows do the
//! same with `RingVerifier` and bare *ring*, the awslc rows with `AwsLcVerifier` and bare
//! aws-lc-rs. `overhead_ES256/checks_and_replay_commit` and the
//! `ES256 ring+replay` ratio add the replay commit (RFC 9449 §11.1) to the checks.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use core::hint::black_box;
use std::time::Instant;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group};
use keybound_benches::interleaved;
use keybound_dpop::replay::MemoryReplayStore;
use keybound_dpop::{
    Algorithm, AwsLcVerifier, DecodedProof, Policy, ProofParams, Request, RingVerifier,
    RustCryptoVerifier, SignatureVerifier, SigningKey, check_proof,
};
use keybound_jwk::PublicParams;

const HTM: &str = "POST";
const HTU: &str = "https://server.example.com/token";
const TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const NOW: u64 = 1_700_000_000;

struct Fixture {
    proof: String,
    msg: Vec<u8>,
    sig: Vec<u8>,
    jwk: String,
}

fn fixture(alg: Algorithm) -> Fixture {
    let key = SigningKey::generate_os_rng(alg).unwrap();
    let params = ProofParams::new(HTM, HTU, NOW).with_access_token(TOKEN);
    let proof = key.sign_proof_os_rng(&params).unwrap();
    let (msg, sig) = proof.rsplit_once('.').unwrap();
    Fixture {
        msg: msg.as_bytes().to_vec(),
        sig: Base64UrlUnpadded::decode_vec(sig).unwrap(),
        jwk: key.public_jwk(),
        proof,
    }
}

fn full<V: SignatureVerifier>(f: &Fixture, v: &V) {
    let req = Request::new(HTM, HTU).with_access_token(TOKEN);
    let checked = check_proof(black_box(&f.proof), &req, &Policy::new(), v, NOW).unwrap();
    black_box(checked.into_verified_without_replay_check());
}

/// `full` plus the replay commit, scoped by `scope` so that every call inserts a new entry.
fn full_commit<V: SignatureVerifier>(f: &Fixture, v: &V, store: &MemoryReplayStore, scope: u64) {
    let req = Request::new(HTM, HTU).with_access_token(TOKEN);
    let checked = check_proof(black_box(&f.proof), &req, &Policy::new(), v, NOW).unwrap();
    black_box(checked.commit_scoped(store, &scope.to_le_bytes()).unwrap());
}

fn coords(jwk: &str) -> (Vec<u8>, Vec<u8>) {
    let jwk = keybound_jwk::Jwk::parse(jwk.as_bytes()).unwrap();
    match jwk.params() {
        PublicParams::Ec { x, y, .. } => (x.to_vec(), y.to_vec()),
        PublicParams::Rsa { n, e } => (n.to_vec(), e.to_vec()),
        PublicParams::Okp { x, .. } => (x.to_vec(), Vec::new()),
        _ => unreachable!(),
    }
}

fn bench_es256(c: &mut Criterion) {
    use p256::ecdsa::signature::Verifier;
    let f = fixture(Algorithm::Es256);
    let (x, y) = coords(&f.jwk);
    let mut point = vec![4u8];
    point.extend(&x);
    point.extend(&y);
    let sig = p256::ecdsa::Signature::from_slice(&f.sig).unwrap();
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let mut g = c.benchmark_group("ES256");
    g.bench_function("full", |b| b.iter(|| full(&f, &RustCryptoVerifier)));
    g.bench_function("bare", |b| {
        b.iter(|| {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(black_box(&point)).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(black_box(&f.sig)).unwrap();
            vk.verify(black_box(&f.msg), &sig).unwrap();
        })
    });
    g.bench_function("bare_prebuilt", |b| {
        b.iter(|| vk.verify(black_box(&f.msg), &sig).unwrap())
    });
    g.bench_function("ring_full", |b| b.iter(|| full(&f, &RingVerifier)));
    g.bench_function("ring_bare", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&point),
            )
            .verify(black_box(&f.msg), black_box(&f.sig))
            .unwrap()
        })
    });
    g.bench_function("awslc_full", |b| b.iter(|| full(&f, &AwsLcVerifier)));
    g.bench_function("awslc_bare", |b| {
        b.iter(|| {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&point),
            )
            .verify(black_box(&f.msg), black_box(&f.sig))
            .unwrap()
        })
    });
    g.bench_function("decode_only", |b| {
        b.iter(|| {
            let d = DecodedProof::decode(black_box(&f.proof)).unwrap();
            black_box(d.header().unwrap().jwk().thumbprint());
        })
    });
    g.finish();
}

fn bench_eddsa(c: &mut Criterion) {
    use ed25519_dalek::Verifier;
    let f = fixture(Algorithm::EdDsa);
    let (x, _) = coords(&f.jwk);
    let xa: [u8; 32] = x.clone().try_into().unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&f.sig).unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&xa).unwrap();
    let mut g = c.benchmark_group("EdDSA");
    g.bench_function("full", |b| b.iter(|| full(&f, &RustCryptoVerifier)));
    g.bench_function("bare", |b| {
        b.iter(|| {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(black_box(&xa)).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(black_box(&f.sig)).unwrap();
            vk.verify(black_box(&f.msg), &sig).unwrap();
        })
    });
    g.bench_function("bare_prebuilt", |b| {
        b.iter(|| vk.verify(black_box(&f.msg), &sig).unwrap())
    });
    g.bench_function("ring_full", |b| b.iter(|| full(&f, &RingVerifier)));
    g.bench_function("ring_bare", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, black_box(&x))
                .verify(black_box(&f.msg), black_box(&f.sig))
                .unwrap()
        })
    });
    g.bench_function("awslc_full", |b| b.iter(|| full(&f, &AwsLcVerifier)));
    g.bench_function("awslc_bare", |b| {
        b.iter(|| {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                black_box(&x),
            )
            .verify(black_box(&f.msg), black_box(&f.sig))
            .unwrap()
        })
    });
    g.finish();
}

fn bench_ps256(c: &mut Criterion) {
    use rsa::signature::Verifier;
    let f = fixture(Algorithm::Ps256);
    let (n, e) = coords(&f.jwk);
    let make = |n: &[u8], e: &[u8]| {
        rsa::PublicKey::new(
            rsa::BoxedUint::from_be_slice_vartime(n),
            rsa::BoxedUint::from_be_slice_vartime(e),
        )
        .unwrap()
    };
    let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(make(&n, &e));
    let sig = rsa::pss::Signature::try_from(f.sig.as_slice()).unwrap();
    let mut g = c.benchmark_group("PS256");
    g.bench_function("full", |b| b.iter(|| full(&f, &RustCryptoVerifier)));
    g.bench_function("bare", |b| {
        b.iter(|| {
            let vk =
                rsa::pss::VerifyingKey::<sha2::Sha256>::new(make(black_box(&n), black_box(&e)));
            let sig = rsa::pss::Signature::try_from(black_box(f.sig.as_slice())).unwrap();
            vk.verify(black_box(&f.msg), &sig).unwrap();
        })
    });
    g.bench_function("bare_prebuilt", |b| {
        b.iter(|| vk.verify(black_box(&f.msg), &sig).unwrap())
    });
    g.bench_function("ring_full", |b| b.iter(|| full(&f, &RingVerifier)));
    g.bench_function("ring_bare", |b| {
        b.iter(|| {
            ring::signature::RsaPublicKeyComponents {
                n: black_box(&n),
                e: black_box(&e),
            }
            .verify(
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                black_box(&f.msg),
                black_box(&f.sig),
            )
            .unwrap()
        })
    });
    g.bench_function("awslc_full", |b| b.iter(|| full(&f, &AwsLcVerifier)));
    g.bench_function("awslc_bare", |b| {
        b.iter(|| {
            aws_lc_rs::signature::RsaPublicKeyComponents {
                n: black_box(&n),
                e: black_box(&e),
            }
            .verify(
                &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
                black_box(&f.msg),
                black_box(&f.sig),
            )
            .unwrap()
        })
    });
    g.finish();
}

/// Accepts every signature: isolates the cost of everything but the signature.
struct NullVerifier;

impl SignatureVerifier for NullVerifier {
    fn supports(&self, _alg: Algorithm) -> bool {
        true
    }
    fn verify(
        &self,
        _alg: Algorithm,
        _key: &keybound_jwk::Jwk<'_>,
        _msg: &[u8],
        _sig: &[u8],
    ) -> Result<(), keybound_dpop::VerifyError> {
        Ok(())
    }
}

fn bench_overhead(c: &mut Criterion) {
    for alg in [Algorithm::EdDsa, Algorithm::Ps256] {
        let f = fixture(alg);
        let mut g = c.benchmark_group(format!("overhead_{alg}"));
        g.bench_function("checks_without_signature", |b| {
            b.iter(|| full(&f, &NullVerifier))
        });
        let d = DecodedProof::decode(&f.proof).unwrap();
        g.bench_function("decode", |b| {
            b.iter(|| black_box(DecodedProof::decode(black_box(&f.proof)).unwrap()))
        });
        g.bench_function("typed_header", |b| {
            b.iter(|| black_box(d.header().unwrap()))
        });
        let h = d.header().unwrap();
        g.bench_function("thumbprint", |b| b.iter(|| black_box(h.jwk().thumbprint())));
        g.bench_function("key_fits", |b| {
            b.iter(|| keybound_dpop::check_key_fits(alg, black_box(h.jwk()), 2048).unwrap())
        });
        g.finish();
    }
    let f = fixture(Algorithm::Es256);
    let mut g = c.benchmark_group("overhead_ES256");
    g.bench_function("checks_without_signature", |b| {
        b.iter(|| full(&f, &NullVerifier))
    });
    // The same plus step 11, the replay commit into a 1 M-entry `MemoryReplayStore`: a fresh
    // scope per iteration (the proof's jti is fixed); a new store when one fills, untimed.
    let mut store = MemoryReplayStore::new(1 << 20);
    let (mut used, mut scope) = (0u64, 0u64);
    g.bench_function("checks_and_replay_commit", |b| {
        b.iter_custom(|iters| {
            if used + iters > store.capacity() as u64 * 9 / 10 {
                store = MemoryReplayStore::new(1 << 20);
                used = 0;
            }
            used += iters;
            let start = Instant::now();
            for _ in 0..iters {
                scope += 1;
                full_commit(&f, &NullVerifier, &store, scope);
            }
            start.elapsed()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| black_box(DecodedProof::decode(black_box(&f.proof)).unwrap()))
    });
    let d = DecodedProof::decode(&f.proof).unwrap();
    g.bench_function("header_json", |b| {
        b.iter(|| black_box(d.header_object().unwrap()))
    });
    g.bench_function("payload_json", |b| {
        b.iter(|| black_box(d.payload_object().unwrap()))
    });
    g.bench_function("typed_header", |b| {
        b.iter(|| black_box(d.header().unwrap()))
    });
    g.bench_function("typed_claims", |b| {
        b.iter(|| black_box(d.claims().unwrap()))
    });
    let h = d.header().unwrap();
    g.bench_function("thumbprint", |b| b.iter(|| black_box(h.jwk().thumbprint())));
    g.bench_function("htu_matches", |b| {
        b.iter(|| {
            black_box(keybound_dpop::htu::htu_matches(black_box(HTU), black_box(HTU)).unwrap())
        })
    });
    g.bench_function("ath_matches", |b| {
        b.iter(|| black_box(keybound_dpop::ath_matches(black_box("x"), TOKEN)))
    });
    g.finish();
}

/// Interleaved A/B timing, robust to a loaded machine: per round, `n` runs of `full` then `n`
/// of `bare` (order alternating); the median of the per-round ratios is reported.
/// The headline numbers: full validation / bare verification of the same bytes.
fn ratios() {
    use ed25519_dalek::Verifier as _;
    let es = fixture(Algorithm::Es256);
    let (x, y) = coords(&es.jwk);
    let point: Vec<u8> = [vec![4u8], x, y].concat();
    interleaved(
        "ES256 rustcrypto",
        20,
        41,
        || full(&es, &RustCryptoVerifier),
        || {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(black_box(&point)).unwrap();
            let sig = p256::ecdsa::Signature::from_slice(black_box(&es.sig)).unwrap();
            vk.verify(black_box(&es.msg), &sig).unwrap();
        },
    );
    interleaved(
        "ES256 ring",
        50,
        41,
        || full(&es, &RingVerifier),
        || {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&point),
            )
            .verify(black_box(&es.msg), black_box(&es.sig))
            .unwrap()
        },
    );
    interleaved(
        "ES256 aws-lc",
        50,
        41,
        || full(&es, &AwsLcVerifier),
        || {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&point),
            )
            .verify(black_box(&es.msg), black_box(&es.sig))
            .unwrap()
        },
    );
    // The whole of RFC 9449 §4.3 on the fastest floor: checks, signature and replay commit.
    let store = MemoryReplayStore::new(1 << 16);
    let mut scope = 0u64;
    interleaved(
        "ES256 ring+replay",
        50,
        41,
        || {
            scope += 1;
            full_commit(&es, &RingVerifier, &store, scope);
        },
        || {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&point),
            )
            .verify(black_box(&es.msg), black_box(&es.sig))
            .unwrap()
        },
    );
    let ed = fixture(Algorithm::EdDsa);
    let (x, _) = coords(&ed.jwk);
    let xa: [u8; 32] = x.clone().try_into().unwrap();
    interleaved(
        "EdDSA rustcrypto",
        100,
        41,
        || full(&ed, &RustCryptoVerifier),
        || {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(black_box(&xa)).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(black_box(&ed.sig)).unwrap();
            vk.verify(black_box(&ed.msg), &sig).unwrap();
        },
    );
    interleaved(
        "EdDSA ring",
        100,
        41,
        || full(&ed, &RingVerifier),
        || {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, black_box(&x))
                .verify(black_box(&ed.msg), black_box(&ed.sig))
                .unwrap()
        },
    );
    interleaved(
        "EdDSA aws-lc",
        100,
        41,
        || full(&ed, &AwsLcVerifier),
        || {
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::ED25519,
                black_box(&x),
            )
            .verify(black_box(&ed.msg), black_box(&ed.sig))
            .unwrap()
        },
    );
    let ps = fixture(Algorithm::Ps256);
    let (n, e) = coords(&ps.jwk);
    interleaved(
        "PS256 rustcrypto",
        50,
        41,
        || full(&ps, &RustCryptoVerifier),
        || {
            use rsa::signature::Verifier as _;
            let pk = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(black_box(&n)),
                rsa::BoxedUint::from_be_slice_vartime(black_box(&e)),
            )
            .unwrap();
            let vk = rsa::pss::VerifyingKey::<sha2::Sha256>::new(pk);
            let sig = rsa::pss::Signature::try_from(black_box(ps.sig.as_slice())).unwrap();
            vk.verify(black_box(&ps.msg), &sig).unwrap();
        },
    );
    interleaved(
        "PS256 ring",
        100,
        41,
        || full(&ps, &RingVerifier),
        || {
            ring::signature::RsaPublicKeyComponents {
                n: black_box(&n),
                e: black_box(&e),
            }
            .verify(
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                black_box(&ps.msg),
                black_box(&ps.sig),
            )
            .unwrap()
        },
    );
    interleaved(
        "PS256 aws-lc",
        100,
        41,
        || full(&ps, &AwsLcVerifier),
        || {
            aws_lc_rs::signature::RsaPublicKeyComponents {
                n: black_box(&n),
                e: black_box(&e),
            }
            .verify(
                &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
                black_box(&ps.msg),
                black_box(&ps.sig),
            )
            .unwrap()
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(core::time::Duration::from_secs(3)).warm_up_time(core::time::Duration::from_secs(1));
    targets = bench_overhead, bench_es256, bench_eddsa, bench_ps256
}
fn main() {
    // `cargo bench --bench dpop -- ratios` prints only the interleaved ratios.
    if std::env::args().any(|a| a == "ratios") {
        ratios();
        return;
    }
    benches();
    ratios();
    Criterion::default().configure_from_args().final_summary();
}
