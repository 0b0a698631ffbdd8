//! The Wycheproof JSON Web Signature suite (tests/data/wycheproof, C2SP/wycheproof, Apache-2.0)
//! through proof decoding and every verifier. The signature vectors themselves run in
//! keybound-jose's tests, where the verifiers live.
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

use keybound_dpop::*;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
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
