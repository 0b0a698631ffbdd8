//! RFC 9449 example proofs (tests/data/rfc9449_dpop.json, copied from shared/vectors) verify at
//! their own `iat`, with the RFC's thumbprint, `ath`, nonce and `dpop_jkt` examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    clippy::std_instead_of_core
)]
#![cfg(feature = "p256")]

mod common;

use common::SetStore;
use keybound_dpop::*;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/rfc9449_dpop.json")).unwrap()
}

#[test]
fn rfc9449_example_proofs_verify_at_their_own_iat() {
    example_proofs_verify_at_their_own_iat(&RustCryptoVerifier);
}

#[cfg(feature = "ring")]
#[test]
fn rfc9449_example_proofs_verify_at_their_own_iat_through_ring_verifier() {
    example_proofs_verify_at_their_own_iat(&RingVerifier);
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn rfc9449_example_proofs_verify_at_their_own_iat_through_aws_lc_verifier() {
    example_proofs_verify_at_their_own_iat(&AwsLcVerifier);
}

fn example_proofs_verify_at_their_own_iat<V: SignatureVerifier>(verifier: &V) {
    let v = vectors();
    let jkt = JwkThumbprint::from_b64(v["dpop_jwk_thumbprint_jkt"].as_str().unwrap()).unwrap();
    let token = v["ath_example"]["access_token"].as_str().unwrap();
    for proof in v["proofs"].as_array().unwrap() {
        let compact = proof["compact"].as_str().unwrap();
        let iat = proof["decoded_payload"]["iat"].as_u64().unwrap();
        let ctx = &proof["request_context"];
        let mut req = Request::new(
            ctx["method"].as_str().unwrap(),
            ctx["uri"].as_str().unwrap(),
        )
        .with_jkt(jkt);
        if proof["decoded_payload"].get("ath").is_some() {
            req = req.with_access_token(token);
        }
        let verified = validate_proof(
            compact,
            &req,
            &Policy::new(),
            verifier,
            &SetStore::default(),
            iat,
        )
        .unwrap_or_else(|e| panic!("{}: {e:?}", proof["id"]));
        assert_eq!(verified.jkt, jkt);
        assert_eq!(
            verified.jti,
            proof["decoded_payload"]["jti"].as_str().unwrap()
        );
        assert_eq!(verified.iat, iat as i64);
        assert_eq!(verified.alg, Algorithm::Es256);

        // The codec sees the RFC's decoded header and claims.
        let decoded = DecodedProof::decode(compact).unwrap();
        let header = decoded.header().unwrap();
        assert_eq!(header.alg(), Algorithm::Es256);
        assert_eq!(header.jwk().thumbprint(), jkt);
        let claims = decoded.claims().unwrap();
        assert_eq!(
            claims.htu,
            proof["decoded_payload"]["htu"].as_str().unwrap()
        );
    }
}

#[test]
fn rfc9449_proofs_fail_outside_their_window_and_against_another_jkt() {
    proofs_fail_outside_their_window_and_against_another_jkt(&RustCryptoVerifier);
}

#[cfg(feature = "ring")]
#[test]
fn rfc9449_proofs_fail_outside_their_window_and_against_another_jkt_through_ring_verifier() {
    proofs_fail_outside_their_window_and_against_another_jkt(&RingVerifier);
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn rfc9449_proofs_fail_outside_their_window_and_against_another_jkt_through_aws_lc_verifier() {
    proofs_fail_outside_their_window_and_against_another_jkt(&AwsLcVerifier);
}

fn proofs_fail_outside_their_window_and_against_another_jkt<V: SignatureVerifier>(verifier: &V) {
    let v = vectors();
    let proof = &v["proofs"][0];
    let compact = proof["compact"].as_str().unwrap();
    let iat = proof["decoded_payload"]["iat"].as_u64().unwrap();
    let req = Request::new("POST", "https://server.example.com/token");
    let err = check_proof(compact, &req, &Policy::new(), verifier, iat + 301).unwrap_err();
    assert_eq!(err.reason(), Reason::Iat);
    // Figure 25's dpop_jkt is another key: the token request must be rejected (RFC 9449 §10).
    let other = JwkThumbprint::from_b64(v["dpop_jkt_fig25"]["dpop_jkt"].as_str().unwrap()).unwrap();
    let err =
        check_proof(compact, &req.with_jkt(other), &Policy::new(), verifier, iat).unwrap_err();
    assert_eq!(err, DpopError::KeyBindingMismatch);
    // The same jti twice in one scope is a replay (Figures 2 and 7 share a jti).
    let store = SetStore::default();
    let p7 = v["proofs"][1]["compact"].as_str().unwrap();
    let iat7 = v["proofs"][1]["decoded_payload"]["iat"].as_u64().unwrap();
    validate_proof(compact, &req, &Policy::new(), verifier, &store, iat).unwrap();
    let err = validate_proof(p7, &req, &Policy::new(), verifier, &store, iat7).unwrap_err();
    assert_eq!(err, DpopError::Replayed);
}

#[test]
fn rfc9449_ath_example() {
    let v = vectors();
    let token = v["ath_example"]["access_token"].as_str().unwrap();
    let expected = v["ath_example"]["expected_ath"].as_str().unwrap();
    let mut buf = [0u8; ATH_LEN];
    assert_eq!(ath(token, &mut buf), expected);
    assert_eq!(ath_string(token), expected);
    assert!(ath_matches(expected, token));
    assert!(!ath_matches(&expected[1..], token));
}

#[test]
fn rfc9449_nonce_examples_are_valid_header_values() {
    let v = vectors();
    for n in [
        v["nonce_examples"]["fig20_as_400"]["DPoP-Nonce"]
            .as_str()
            .unwrap(),
        v["nonce_examples"]["fig23_next_nonce_200"]["DPoP-Nonce"]
            .as_str()
            .unwrap(),
    ] {
        assert_eq!(dpop_nonce_header_value(n), Some(n));
    }
}
