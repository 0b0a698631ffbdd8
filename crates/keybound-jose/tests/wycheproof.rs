//! Wycheproof vectors (tests/data/wycheproof, C2SP/wycheproof, Apache-2.0) through every
//! verifier: every `invalid` rejected as a signature fault, every `valid` accepted
//! (`acceptable` may go either way).
//!
//! Keys come from each group's `publicKeyJwk` (`keyJwk` for RSASSA-PKCS1); signatures go through
//! [`verify_signature`], the call proof and token validation make (length check, then the
//! backend).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    clippy::std_instead_of_core
)]
#![cfg(all(
    feature = "p256",
    feature = "p384",
    feature = "rs256",
    feature = "ed25519"
))]

use keybound_jose::*;
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs one signature file; returns (accepted valid, rejected invalid).
fn run<V: SignatureVerifier>(
    verifier: &V,
    file: &str,
    alg: Algorithm,
    jwk_member: &str,
) -> (usize, usize) {
    let data = load(file);
    let (mut valid, mut invalid) = (0, 0);
    for group in data["testGroups"].as_array().unwrap() {
        let jwk_text = match group.get(jwk_member) {
            Some(j) => serde_json::to_string(j).unwrap(),
            None => jwk_from_uncompressed(group),
        };
        let jwk = Jwk::parse(jwk_text.as_bytes()).unwrap();
        check_key_fits(alg, &jwk, 2048).unwrap();
        for t in group["tests"].as_array().unwrap() {
            let (msg, sig) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["sig"].as_str().unwrap()),
            );
            let got = verify_signature(verifier, alg, &jwk, &msg, &sig);
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(
                        got,
                        Ok(()),
                        "{file} tcId {} ({}) must verify",
                        t["tcId"],
                        t["comment"]
                    );
                    valid += 1;
                }
                "invalid" => {
                    let err = got.expect_err(&format!(
                        "{file} tcId {} ({}) must fail",
                        t["tcId"], t["comment"]
                    ));
                    assert_eq!(err.fault(), Fault::Signature, "{file} tcId {}", t["tcId"]);
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "{file}: nothing tested");
    (valid, invalid)
}

/// Groups without `publicKeyJwk` carry the SEC1 uncompressed point `04 || x || y` (the tail of
/// `publicKeyDer`); build the JWK from it.
fn jwk_from_uncompressed(group: &Value) -> String {
    let pk = &group["publicKey"];
    let point = hex(pk["uncompressed"].as_str().unwrap());
    let (crv, len) = match pk["curve"].as_str().unwrap() {
        "secp256r1" => ("P-256", 32),
        "secp384r1" => ("P-384", 48),
        other => panic!("curve {other}"),
    };
    assert_eq!(point.len(), 1 + 2 * len);
    format!(
        r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
        b64(&point[1..1 + len]),
        b64(&point[1 + len..])
    )
}

fn all_files<V: SignatureVerifier>(v: &V) {
    assert_eq!(
        run(
            v,
            "ecdsa_secp256r1_sha256_p1363_test.json",
            Algorithm::Es256,
            "publicKeyJwk"
        ),
        (173, 89)
    );
    assert_eq!(
        run(
            v,
            "ecdsa_secp384r1_sha384_p1363_test.json",
            Algorithm::Es384,
            "publicKeyJwk"
        ),
        (193, 87)
    );
    assert_eq!(
        run(
            v,
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::Ps256,
            "publicKeyJwk"
        ),
        (63, 45)
    );
    assert_eq!(
        run(
            v,
            "rsa_signature_2048_sha256_test.json",
            Algorithm::Rs256,
            "keyJwk"
        ),
        (9, 249)
    );
    assert_eq!(
        run(v, "ed25519_test.json", Algorithm::EdDsa, "publicKeyJwk"),
        (88, 63)
    );
    // The fully specified name verifies the same way.
    run(v, "ed25519_test.json", Algorithm::Ed25519, "publicKeyJwk");
}

#[test]
fn wycheproof_signatures_through_rustcrypto_verifier() {
    all_files(&RustCryptoVerifier);
}

#[cfg(feature = "ring")]
#[test]
fn wycheproof_signatures_through_ring_verifier() {
    all_files(&RingVerifier);
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn wycheproof_signatures_through_aws_lc_verifier() {
    all_files(&AwsLcVerifier);
}

#[test]
fn wycheproof_signatures_through_the_fastest_verifier() {
    all_files(&FastestVerifier);
}

/// Through the prepared-key cache: every vector three times, so the first pass verifies keys
/// seen once (no preparation), the second prepares them (a key is kept once it verified a
/// signature) and the third runs on cached keys; every pass must give the same verdicts.
#[cfg(feature = "std")]
#[test]
fn wycheproof_signatures_through_the_cached_verifier_cold_and_warm() {
    let cached = CachedVerifier::new(FastestVerifier);
    for _ in 0..3 {
        all_files(&cached);
    }
    let stats = cached.stats();
    assert!(
        stats.first_seen > 0 && stats.misses > 0 && stats.hits > 0 && stats.entries > 0,
        "{stats:?}"
    );
    let cached = CachedVerifier::new(RustCryptoVerifier);
    for _ in 0..3 {
        all_files(&cached);
    }
    assert!(cached.stats().hits > 0);
}
