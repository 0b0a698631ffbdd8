//! Proofs made by independent JavaScript clients (npm `dpop` 2.1.2 and `jose` 6.2.18, see
//! tests/data/npm/README.md) validate through every verifier compiled in, with the thumbprint,
//! `jti`, `ath` and nonce the generator recorded; and each stops validating once one of its
//! request facts changes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    clippy::std_instead_of_core
)]
#![cfg(all(feature = "p256", feature = "rs256", feature = "ed25519"))]

mod common;

use common::SetStore;
use keybound_dpop::nonce::FixedNonce;
use keybound_dpop::*;
use serde_json::Value;

fn proofs() -> Vec<Value> {
    let file: Value = serde_json::from_str(include_str!("data/npm/proofs.json")).unwrap();
    file["proofs"].as_array().unwrap().clone()
}

fn s<'v>(p: &'v Value, key: &str) -> Option<&'v str> {
    p[key].as_str()
}

/// Validates one recorded proof against the request it was made for.
fn validate<V: SignatureVerifier>(
    p: &Value,
    verifier: &V,
    htm: &str,
    htu: &str,
    token: Option<&str>,
    nonce: Option<&str>,
) -> Result<Verified, DpopError> {
    let iat = p["iat"].as_u64().unwrap();
    let mut req = Request::new(htm, htu);
    if let Some(token) = token {
        req = req.with_access_token(token);
    }
    let fixed = nonce.map(FixedNonce);
    let policy = Policy::new();
    let policy = match &fixed {
        Some(n) => policy.with_nonce(n),
        None => policy,
    };
    validate_proof(
        s(p, "proof").unwrap(),
        &req,
        &policy,
        verifier,
        &SetStore::default(),
        iat,
    )
}

fn npm_proofs_validate<V: SignatureVerifier>(verifier: &V) {
    let all = proofs();
    assert_eq!(
        all.len(),
        20,
        "5 algorithm names × (plain, nonce, ath, ath + nonce)"
    );
    for p in &all {
        let name = s(p, "name").unwrap();
        let (htm, htu) = (s(p, "htm").unwrap(), s(p, "htu").unwrap());
        let (token, nonce) = (s(p, "access_token"), s(p, "nonce"));
        let v = validate(p, verifier, htm, htu, token, nonce)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            v.jkt,
            JwkThumbprint::from_b64(s(p, "jkt").unwrap()).unwrap(),
            "{name}"
        );
        assert_eq!(v.jti, s(p, "jti").unwrap(), "{name}");
        assert_eq!(v.alg.name(), s(p, "alg").unwrap(), "{name}");
        if let (Some(token), Some(ath)) = (token, s(p, "ath")) {
            assert_eq!(ath_string(token), ath, "{name}");
        }

        // The same proof refused once a request fact differs.
        let other_method = if htm == "GET" { "POST" } else { "GET" };
        assert_eq!(
            validate(p, verifier, other_method, htu, token, nonce).unwrap_err(),
            DpopError::HtmMismatch,
            "{name}"
        );
        assert_eq!(
            validate(p, verifier, htm, "https://other.example/x", token, nonce).unwrap_err(),
            DpopError::HtuMismatch,
            "{name}"
        );
        if token.is_some() {
            assert_eq!(
                validate(p, verifier, htm, htu, Some("another-token"), nonce).unwrap_err(),
                DpopError::AthMismatch,
                "{name}"
            );
        }
        if nonce.is_some() {
            assert_eq!(
                validate(p, verifier, htm, htu, token, Some("another-nonce")).unwrap_err(),
                DpopError::InvalidNonce(nonce::NonceError::Invalid),
                "{name}"
            );
        }
    }
}

#[test]
fn npm_dpop_and_jose_proofs_validate_through_rustcrypto() {
    npm_proofs_validate(&RustCryptoVerifier);
}

#[cfg(feature = "ring")]
#[test]
fn npm_dpop_and_jose_proofs_validate_through_ring() {
    npm_proofs_validate(&RingVerifier);
}

#[cfg(feature = "aws-lc-rs")]
#[test]
fn npm_dpop_and_jose_proofs_validate_through_aws_lc() {
    npm_proofs_validate(&AwsLcVerifier);
}
