//! Wycheproof vectors (tests/data/wycheproof, C2SP/wycheproof, Apache-2.0) through the crate's
//! verifiers: every `invalid` rejected, every `valid` accepted (`acceptable` may go either way).
//!
//! Keys come from each group's `publicKeyJwk` (`keyJwk` for RSASSA-PKCS1); signatures go through
//! [`verify_signature`], the same call validation makes (length check, then the backend).
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

mod common;

use common::hex;
use keybound_dpop::*;
use serde_json::Value;

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
                    assert_eq!(err.reason(), Reason::Signature, "{file} tcId {}", t["tcId"]);
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
        common::b64(&point[1..1 + len]),
        common::b64(&point[1 + len..])
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

/// Verifies a compact JWS against a given public key, as a DPoP verifier would (strict
/// base64url, strict JSON header, `alg` fitting the key), minus the DPoP-only header checks.
fn verify_jws<V: SignatureVerifier>(
    verifier: &V,
    jws: &str,
    jwk: &Jwk<'_>,
) -> Result<(), DpopError> {
    let decoded = DecodedProof::decode(jws)?;
    let header = decoded.header_object()?;
    let alg = header
        .get("alg")
        .and_then(|v| v.as_str())
        .and_then(|s| s.as_plain())
        .and_then(Algorithm::from_name)
        .ok_or(DpopError::UnsupportedAlg)?;
    check_key_fits(alg, jwk, 2048)?;
    verify_signature(
        verifier,
        alg,
        jwk,
        decoded.signing_input(),
        decoded.signature(),
    )
}

/// The JSON Web Signature suite: the ES256, RS256, PS256 and RFC 7520 groups apply (HS*, RS/PS
/// 384/512, ES521 and encryption keys are outside DPoP's algorithm set and are only checked to
/// be rejected).
///
/// Divergence: tcId 372 and 373 are `valid` in Wycheproof although their base64url text
/// contains a `?` that lenient decoders skip; a DPoP proof is decoded strictly (RFC 7515 §2,
/// RFC 9449 §4.3), so they are rejected here as `malformed` (they are HS256 tokens, outside
/// DPoP anyway, and land in the key-less branch below). A key's own `alg` member is honoured
/// (tcId 331/332: a PS512 key used with RS256 is rejected) and so is `use` other than `sig`.
#[test]
fn wycheproof_json_web_signature_suite() {
    json_web_signature_suite(&RustCryptoVerifier);
}

/// The same suite through the *ring* backend: identical verdicts.
#[cfg(feature = "ring")]
#[test]
fn wycheproof_json_web_signature_suite_through_ring_verifier() {
    json_web_signature_suite(&RingVerifier);
}

/// The same suite through the aws-lc-rs backend: identical verdicts.
#[cfg(feature = "aws-lc-rs")]
#[test]
fn wycheproof_json_web_signature_suite_through_aws_lc_verifier() {
    json_web_signature_suite(&AwsLcVerifier);
}

fn json_web_signature_suite<V: SignatureVerifier>(verifier: &V) {
    let data = load("json_web_signature_test.json");
    let (mut valid, mut invalid, mut divergent) = (0, 0, 0);
    for group in data["testGroups"].as_array().unwrap() {
        let Some(public) = group.get("public") else {
            // Symmetric (HS256) or key-less groups: DPoP must reject every token.
            for t in group["tests"].as_array().unwrap() {
                let jws = t["jws"].as_str().unwrap_or("");
                assert!(
                    DecodedProof::decode(jws)
                        .and_then(|d| d.header().map(|_| ()))
                        .is_err()
                );
            }
            continue;
        };
        let jwk_text = serde_json::to_string(public).unwrap();
        let Ok(jwk) = Jwk::parse(jwk_text.as_bytes()) else {
            continue;
        };
        for t in group["tests"].as_array().unwrap() {
            let Some(jws) = t["jws"].as_str() else {
                // JSON serialization (not compact): never a DPoP proof.
                continue;
            };
            let got = verify_jws(verifier, jws, &jwk);
            let id = t["tcId"].as_u64().unwrap();
            // The token's own alg decides whether DPoP could accept it (tcId 346: a "PS256"
            // group whose token is PS384).
            let jws_alg = DecodedProof::decode(jws).ok().and_then(|d| {
                let h = d.header_object().ok()?;
                let name = h.get("alg")?.as_str()?.as_plain()?;
                Algorithm::from_name(name)
            });
            match (t["result"].as_str().unwrap(), jws_alg) {
                ("valid", Some(_)) if id == 372 || id == 373 => {
                    assert_eq!(got.unwrap_err().reason(), Reason::Malformed, "tcId {id}");
                    divergent += 1;
                }
                ("valid", Some(_)) => {
                    assert_eq!(got, Ok(()), "tcId {id} ({})", t["comment"]);
                    valid += 1;
                }
                ("valid", None) => assert!(got.is_err(), "tcId {id}: alg outside DPoP's set"),
                _ => {
                    assert!(
                        got.is_err(),
                        "tcId {id} ({}) must be rejected",
                        t["comment"]
                    );
                    invalid += 1;
                }
            }
        }
    }
    eprintln!(
        "JWS suite: {valid} valid accepted, {invalid} invalid rejected, {divergent} divergent"
    );
    assert!(valid >= 5 && invalid >= 200);
}
