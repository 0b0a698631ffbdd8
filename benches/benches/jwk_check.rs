//! `Jwk::check_key` (issue 12: EC points on the curve, Ed25519 points canonical, not of small
//! order and decompressible) per key type, beside what the RustCrypto crates spend on the same
//! key (ed25519-dalek's decompression, p256's SEC 1 decoding), and JWK parsing with and without
//! JSON escapes in the members.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use core::hint::black_box;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use keybound_jwk::{Jwk, ed25519_decompresses};

// RFC 9449 §4.1 (P-256) and RFC 8037 A.2 (Ed25519) keys; SEC 2 generators for P-384/P-521.
const P256_JWK: &str = r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;
const ED25519_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const P384_GX: &str = "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";
const P384_GY: &str = "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";
const P521_GX: &str = "00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66";
const P521_GY: &str = "011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650";

fn hex_b64(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    Base64UrlUnpadded::encode_string(&bytes)
}

fn ec(crv: &str, x: &str, y: &str) -> String {
    format!(
        r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
        hex_b64(x),
        hex_b64(y)
    )
}

fn check_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("jwk_check");
    let ed = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED25519_X}"}}"#);
    let p384 = ec("P-384", P384_GX, P384_GY);
    let p521 = ec("P-521", P521_GX, P521_GY);
    for (name, text) in [
        ("p256_check_key", P256_JWK),
        ("p384_check_key", p384.as_str()),
        ("p521_check_key", p521.as_str()),
        ("ed25519_check_key", ed.as_str()),
    ] {
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        jwk.check_key().unwrap();
        g.bench_function(name, |b| b.iter(|| black_box(&jwk).check_key()));
    }
    let jwk = Jwk::parse(ed.as_bytes()).unwrap();
    g.bench_function("ed25519_check_key_without_decompression", |b| {
        b.iter(|| black_box(&jwk).check_key_without_decompression())
    });
    let raw: [u8; 32] = Base64UrlUnpadded::decode_vec(ED25519_X)
        .unwrap()
        .try_into()
        .unwrap();
    g.bench_function("ed25519_decompresses", |b| {
        b.iter(|| ed25519_decompresses(black_box(&raw)))
    });
    // What RustCrypto spends on the same keys (decompression / SEC 1 decoding and validation).
    g.bench_function("floor_dalek_verifying_key_from_bytes", |b| {
        b.iter(|| ed25519_dalek::VerifyingKey::from_bytes(black_box(&raw)).is_ok())
    });
    let p256_jwk = Jwk::parse(P256_JWK.as_bytes()).unwrap();
    let p256_key = p256_jwk.to_p256().unwrap();
    let sec1 = p256_key.to_sec1_point(false);
    g.bench_function("floor_p256_verifying_key_from_sec1_bytes", |b| {
        b.iter(|| p256::ecdsa::VerifyingKey::from_sec1_bytes(black_box(sec1.as_bytes())).is_ok())
    });
    g.finish();

    let mut g = c.benchmark_group("jwk_escapes");
    let escaped: String = P256_JWK.replace(
        "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        r"l8tFrhx\u002d34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    );
    for (name, text) in [("plain", P256_JWK), ("one_escape_in_x", escaped.as_str())] {
        g.bench_function(format!("p256_parse_and_thumbprint_{name}"), |b| {
            b.iter(|| Jwk::parse(black_box(text.as_bytes())).unwrap().thumbprint())
        });
    }
    g.finish();
}

criterion_group!(benches, check_key);
criterion_main!(benches);
