//! RFC 7638 thumbprints: parse + thumbprint of an EC P-256 JWK, the thumbprint alone, and
//! the floor (SHA-256 of the same canonical JSON, already assembled).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use core::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keybound_json::Object;
use keybound_jwk::Jwk;
use sha2::{Digest, Sha256};

// RFC 9449 §4.1 proof key, as it appears inside a DPoP header.
const P256_JWK: &[u8] = br#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;

fn thumbprint(c: &mut Criterion) {
    let mut g = c.benchmark_group("thumbprint");
    g.bench_function("p256_parse_and_thumbprint", |b| {
        b.iter(|| Jwk::parse(black_box(P256_JWK)).unwrap().thumbprint())
    });
    let jwk = Jwk::parse(P256_JWK).unwrap();
    g.bench_function("p256_thumbprint_only", |b| {
        b.iter(|| black_box(&jwk).thumbprint())
    });
    g.bench_function("p256_parse_only", |b| {
        b.iter(|| Jwk::parse(black_box(P256_JWK)).unwrap())
    });
    g.bench_function("json_object_parse_only", |b| {
        b.iter(|| Object::parse(black_box(P256_JWK)).unwrap().len())
    });
    let mut canonical = String::new();
    jwk.write_thumbprint_input(&mut canonical).unwrap();
    g.bench_function("floor_sha256_of_canonical_json", |b| {
        b.iter(|| Sha256::digest(black_box(canonical.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, thumbprint);
criterion_main!(benches);
