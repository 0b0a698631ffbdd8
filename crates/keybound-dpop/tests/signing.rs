//! Client side: private JWK import/export, key generation, and sign → verify round trips for
//! every algorithm (proptest).
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

use std::sync::OnceLock;

use common::{SetStore, TestRng};
use keybound_dpop::*;
use proptest::prelude::*;

const ALGS: [Algorithm; 6] = Algorithm::ALL;

/// One key per algorithm, generated once (RSA generation is slow in debug builds).
fn keys() -> &'static Vec<SigningKey> {
    static K: OnceLock<Vec<SigningKey>> = OnceLock::new();
    K.get_or_init(|| {
        ALGS.iter()
            .enumerate()
            .map(|(i, a)| SigningKey::generate(*a, &mut TestRng::new(100 + i as u64)).unwrap())
            .collect()
    })
}

#[test]
fn private_jwk_round_trips_for_every_alg() {
    for key in keys() {
        let private = key.private_jwk();
        let loaded = SigningKey::from_jwk(private.as_bytes()).unwrap();
        assert_eq!(loaded.alg(), key.alg());
        assert_eq!(loaded.public_jwk(), key.public_jwk());
        assert_eq!(loaded.thumbprint(), key.thumbprint());
        // The public JWK is RFC 7638 canonical: its SHA-256 is the thumbprint.
        let public = key.public_jwk();
        let jwk = Jwk::parse(public.as_bytes()).unwrap();
        assert!(!jwk.is_private());
        assert_eq!(jwk.thumbprint(), key.thumbprint());
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(public.as_bytes()).into();
        assert_eq!(key.thumbprint().as_bytes(), &digest);
        // Private members are all there.
        let v: serde_json::Value = serde_json::from_str(&private).unwrap();
        assert_eq!(v["alg"], key.alg().name());
        let members: &[&str] = match key.alg() {
            Algorithm::Ps256 | Algorithm::Rs256 => &["n", "e", "d", "p", "q", "dp", "dq", "qi"],
            Algorithm::Es256 | Algorithm::Es384 => &["crv", "x", "y", "d"],
            _ => &["crv", "x", "d"],
        };
        for m in members {
            assert!(v.get(m).is_some(), "{} lacks {m}", key.alg());
        }
    }
}

#[test]
fn loads_rfc8037_private_key_and_reproduces_its_signature() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("data/rfc8037_ed25519.json")).unwrap();
    let jwk = serde_json::to_string(&v["A.1_private_jwk"]).unwrap();
    let key = SigningKey::from_jwk(jwk.as_bytes()).unwrap();
    assert_eq!(key.alg(), Algorithm::EdDsa);
    assert_eq!(
        key.thumbprint().to_string(),
        v["A.3_thumbprint"]["expected_thumbprint_b64url"]
            .as_str()
            .unwrap()
    );
    assert_eq!(
        key.public_jwk(),
        v["A.3_thumbprint"]["canonical_json"].as_str().unwrap()
    );
    let sig = key
        .sign(
            v["A.4_signing"]["signing_input"]
                .as_str()
                .unwrap()
                .as_bytes(),
            &mut TestRng::new(0),
        )
        .unwrap();
    assert_eq!(
        common::b64(&sig),
        v["A.4_signing"]["signature_b64url"].as_str().unwrap()
    );
    // With an explicit fully specified name.
    let key = SigningKey::from_jwk_with_alg(jwk.as_bytes(), Some(Algorithm::Ed25519)).unwrap();
    assert_eq!(key.alg(), Algorithm::Ed25519);
}

#[test]
fn rejects_inconsistent_or_incomplete_private_jwks() {
    let a = keys()[0].private_jwk();
    let b = SigningKey::generate(Algorithm::Es256, &mut TestRng::new(77))
        .unwrap()
        .private_jwk();
    let va: serde_json::Value = serde_json::from_str(&a).unwrap();
    let mut vb: serde_json::Value = serde_json::from_str(&b).unwrap();
    vb["d"] = va["d"].clone();
    let mixed = serde_json::to_string(&vb).unwrap();
    assert_eq!(
        SigningKey::from_jwk(mixed.as_bytes()).unwrap_err(),
        KeyError::Inconsistent
    );
    let public = keys()[0].public_jwk();
    assert_eq!(
        SigningKey::from_jwk(public.as_bytes()).unwrap_err(),
        KeyError::MissingPrivate { member: "d" }
    );
    let err = SigningKey::from_jwk_with_alg(a.as_bytes(), Some(Algorithm::Ps256)).unwrap_err();
    assert_eq!(
        err,
        KeyError::UnsupportedAlgorithm {
            alg: Algorithm::Ps256
        }
    );
    let mut short = va.clone();
    short["d"] = serde_json::Value::String("AQAB".into());
    let short = serde_json::to_string(&short).unwrap();
    assert_eq!(
        SigningKey::from_jwk(short.as_bytes()).unwrap_err(),
        KeyError::InvalidPrivate { member: "d" }
    );
    assert!(matches!(
        SigningKey::from_jwk(b"{").unwrap_err(),
        KeyError::Jwk(_)
    ));
}

#[test]
fn generated_proofs_have_fresh_jtis_and_strip_query() {
    let key = &keys()[0];
    let mut rng = TestRng::new(5);
    let params = ProofParams::new("GET", "https://rs.example.com/a?b=c#d", 1000);
    let p1 = key.sign_proof(&params, &mut rng).unwrap();
    let p2 = key.sign_proof(&params, &mut rng).unwrap();
    let d1 = DecodedProof::decode(&p1).unwrap();
    let d2 = DecodedProof::decode(&p2).unwrap();
    let (c1, c2) = (d1.claims().unwrap(), d2.claims().unwrap());
    assert_ne!(c1.jti, c2.jti);
    assert_eq!(c1.jti.len(), 22);
    assert_eq!(c1.htu, "https://rs.example.com/a");
}

#[cfg(feature = "std")]
#[test]
fn os_rng_signing_verifies() {
    let key = SigningKey::generate_os_rng(Algorithm::EdDsa).unwrap();
    let p = key
        .sign_proof_os_rng(&ProofParams::new("GET", "https://a.example/", 5))
        .unwrap();
    check_proof(
        &p,
        &Request::new("GET", "https://a.example/"),
        &Policy::new(),
        &RustCryptoVerifier,
        5,
    )
    .unwrap()
    .commit(&SetStore::default())
    .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_round_trips_for_each_alg(
        alg_index in 0usize..6,
        htm in "(GET|POST|PUT|DELETE|PATCH)",
        host in "[a-z]{1,12}(\\.[a-z]{2,6}){1,2}",
        path in "(/[A-Za-z0-9._~-]{0,10}){0,4}",
        iat in 0u64..4_000_000_000,
        token in proptest::option::of("[A-Za-z0-9._~+/-]{1,40}"),
        nonce in proptest::option::of("[!#-\\[\\]-~]{1,30}"),
        seed in any::<u64>(),
    ) {
        let key = &keys()[alg_index];
        let htu = format!("https://{host}{path}");
        let mut params = ProofParams::new(&htm, &htu, iat);
        if let Some(t) = &token { params = params.with_access_token(t); }
        if let Some(n) = &nonce { params = params.with_nonce(n); }
        let proof = key.sign_proof(&params, &mut TestRng::new(seed)).unwrap();
        let mut req = Request::new(&htm, &htu).with_jkt(key.thumbprint());
        if let Some(t) = &token { req = req.with_access_token(t); }
        let fixed;
        let mut policy = Policy::new();
        if let Some(n) = &nonce {
            fixed = keybound_dpop::nonce::FixedNonce(n);
            policy = policy.with_nonce(&fixed);
        }
        let v = check_proof(&proof, &req, &policy, &RustCryptoVerifier, iat).unwrap().commit(&SetStore::default()).unwrap();
        prop_assert_eq!(v.alg, key.alg());
        prop_assert_eq!(v.jkt, key.thumbprint());
        prop_assert_eq!(v.iat, iat as i64);
        #[cfg(feature = "ring")]
        check_proof(&proof, &req, &policy, &RingVerifier, iat).unwrap().into_verified_without_replay_check();
        #[cfg(feature = "aws-lc-rs")]
        check_proof(&proof, &req, &policy, &AwsLcVerifier, iat).unwrap().into_verified_without_replay_check();
    }

    #[test]
    fn mutated_proofs_never_panic_and_never_verify(
        alg_index in 0usize..6,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let key = &keys()[alg_index];
        let proof = key.sign_proof(&ProofParams::new("GET", "https://a.example/x", 10), &mut TestRng::new(1)).unwrap();
        let mut bytes = proof.clone().into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            let r = check_proof(&s, &Request::new("GET", "https://a.example/x"), &Policy::new(), &RustCryptoVerifier, 10);
            // A change in the base64 text either breaks decoding or changes the signed bytes/signature;
            // the only exception is an equivalent non-canonical encoding, which strict decoding rejects.
            prop_assert!(r.is_err(), "mutated proof accepted: {s}");
        }
    }
}
