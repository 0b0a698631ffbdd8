//! RFC 7517 §5 JWK Sets: what is kept, skipped and refused, with the exact error.
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

use common::*;
use keybound_jwt::jose::{AlgSet, Algorithm};
use keybound_jwt::{Jwks, JwksError, MAX_JWKS_KEYS, SkipReason};

fn set(keys: &[String]) -> Result<Jwks, JwksError> {
    Jwks::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes())
}

#[test]
fn keeps_signature_keys_and_skips_the_others_with_a_reason() {
    let es = key(Algorithm::Es256, 1);
    let ed = key(Algorithm::EdDsa, 1);
    let rsa = key(Algorithm::Ps256, 1);
    let p521 = r#"{"kty":"EC","crv":"P-521","kid":"p521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#;
    let x25519 = r#"{"kty":"OKP","crv":"X25519","kid":"x","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}"#;
    let small_rsa = format!(
        r#"{{"kty":"RSA","kid":"small","n":"{}","e":"AQAB"}}"#,
        b64(&[0xc5; 128])
    );
    let jwks = set(&[
        public_jwk(es, "sig", r#""use":"sig""#),
        public_jwk(es, "enc", r#""use":"enc""#),
        public_jwk(ed, "ops", r#""key_ops":["encrypt"]"#),
        public_jwk(rsa, "rs512", r#""alg":"RS512""#),
        public_jwk(rsa, "ps256", r#""alg":"PS256""#),
        public_jwk(ed, "ed", r#""key_ops":["verify"]"#),
        p521.to_owned(),
        x25519.to_owned(),
        small_rsa,
    ])
    .unwrap();
    let kept: Vec<_> = jwks.keys().iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kept, ["sig", "ps256", "ed"]);
    let skipped: Vec<_> = jwks
        .skipped()
        .iter()
        .map(|s| (s.kid.clone().unwrap(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            ("enc".to_owned(), SkipReason::NotForSignatures),
            ("ops".to_owned(), SkipReason::NoVerifyOp),
            ("rs512".to_owned(), SkipReason::OtherAlgorithm),
            ("p521".to_owned(), SkipReason::UnsupportedKeyType),
            ("x".to_owned(), SkipReason::UnsupportedKeyType),
            ("small".to_owned(), SkipReason::RsaTooSmall),
        ]
    );
    // A key's own alg narrows what it verifies.
    assert_eq!(
        jwks.get("ps256").unwrap().algs(),
        AlgSet::EMPTY.with(Algorithm::Ps256)
    );
    assert_eq!(jwks.get("sig").unwrap().thumbprint(), &es.thumbprint());
}

#[test]
fn refuses_private_or_symmetric_key_material() {
    let private = key(Algorithm::Es256, 1).private_jwk();
    assert_eq!(
        set(&[private.to_string()]).unwrap_err(),
        JwksError::PrivateKey { index: 0 }
    );
    assert_eq!(
        set(&[
            public_jwk(key(Algorithm::Es256, 1), "a", ""),
            r#"{"kty":"oct","k":"c2VjcmV0"}"#.to_owned()
        ])
        .unwrap_err(),
        JwksError::PrivateKey { index: 1 }
    );
}

#[test]
fn refuses_duplicate_kids_among_verification_keys() {
    let es = key(Algorithm::Es256, 1);
    assert_eq!(
        set(&[
            public_jwk(es, "k", ""),
            public_jwk(key(Algorithm::Es256, 2), "k", "")
        ])
        .unwrap_err(),
        JwksError::DuplicateKid { index: 1 }
    );
    // An encryption key may share the kid: it is not a verification key.
    set(&[
        public_jwk(es, "k", ""),
        public_jwk(es, "k", r#""use":"enc""#),
    ])
    .unwrap();
}

#[test]
fn refuses_malformed_sets_and_keys() {
    assert_eq!(Jwks::parse(b"{}").unwrap_err(), JwksError::MissingKeys);
    assert_eq!(
        Jwks::parse(br#"{"keys":{}}"#).unwrap_err(),
        JwksError::MissingKeys
    );
    assert_eq!(
        Jwks::parse(br#"{"keys":[1]}"#).unwrap_err(),
        JwksError::NotAnObject { index: 0 }
    );
    assert!(matches!(
        Jwks::parse(br#"{"keys":[],"keys":[]}"#).unwrap_err(),
        JwksError::Json(_)
    ));
    assert!(matches!(
        Jwks::parse(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#).unwrap_err(),
        JwksError::Key { index: 0, .. }
    ));
    assert_eq!(
        set(&[r#"{"kty":"EC","crv":"P-256","kid":1}"#.to_owned()]).unwrap_err(),
        JwksError::Key {
            index: 0,
            error: keybound_jwt::jose::keybound_jwk::JwkError::WrongType {
                member: "kid",
                expected: "string",
                found: "number"
            }
        }
    );
    let many: Vec<String> = (0..=MAX_JWKS_KEYS)
        .map(|i| public_jwk(key(Algorithm::Es256, 1), &format!("k{i}"), ""))
        .collect();
    assert_eq!(
        set(&many).unwrap_err(),
        JwksError::TooManyKeys { max: MAX_JWKS_KEYS }
    );
    let huge = vec![b' '; keybound_jwt::MAX_JWKS_LEN + 1];
    assert_eq!(
        Jwks::parse(&huge).unwrap_err(),
        JwksError::TooLarge {
            len: keybound_jwt::MAX_JWKS_LEN + 1,
            max: keybound_jwt::MAX_JWKS_LEN
        }
    );
}
