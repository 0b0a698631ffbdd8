//! Fuzz checks for the RFC 9068 layer: JWK Set parsing (RFC 7517 §5) and access-token
//! validation (RFC 9068 §4).
//!
//! Under `cfg(fuzzing)` token validation uses `AcceptAllVerifier` so the fuzzer reaches the
//! claim checks; the stable corpus replay uses the real RustCrypto verifier.
#![allow(
    clippy::missing_panics_doc,
    clippy::indexing_slicing,
    reason = "a panic is how a fuzz check reports a violated invariant"
)]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_jwk::Jwk;
use keybound_jwt::{Jwks, TokenError, TokenPolicy, validate_token};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[
    ("jwks_parse", jwks_parse),
    ("token_validate", token_validate),
];

const REASONS: [&str; 15] = [
    "malformed",
    "typ",
    "alg",
    "kid",
    "signature",
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "sub",
    "client_id",
    "jti",
    "scope",
    "cnf",
];

pub(crate) fn check_token_error(e: &TokenError) {
    assert!(REASONS.contains(&e.reason()), "unknown reason {e:?}");
    assert_eq!((e.error_code(), e.status()), ("invalid_token", 401));
    let _ = e.to_string();
}

/// JWKS parsing never panics; every kept key re-parses as a public JWK with the recorded
/// thumbprint and at least one algorithm; kids are unique; lookup by kid finds the key.
pub fn jwks_parse(data: &[u8]) {
    let Ok(jwks) = Jwks::parse(data) else {
        return;
    };
    assert!(jwks.len() <= keybound_jwt::MAX_JWKS_KEYS);
    for (i, key) in jwks.keys().iter().enumerate() {
        let jwk: Jwk<'_> = key.jwk().unwrap();
        assert!(!jwk.is_private());
        assert_eq!(&jwk.thumbprint(), key.thumbprint());
        assert!(!key.algs().is_empty());
        if let Some(kid) = key.kid() {
            assert!(
                jwks.keys()[..i].iter().all(|k| k.kid() != Some(kid)),
                "duplicate kid kept"
            );
            assert!(core::ptr::eq(jwks.get(kid).unwrap(), key));
        }
    }
}

const NOW: u64 = 1_700_000_000;

/// The JWKS token validation runs against: one P-256 and one Ed25519 key.
pub(crate) const FUZZ_JWKS: &str = r#"{"keys":[{"kid":"k1","kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},{"kid":"k2","kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// Full token validation. The input is `header JSON \0 payload JSON \0 signature bytes` (or the
/// token text). Never panics; an accepted token satisfies every policy requirement.
pub fn token_validate(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let token = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => format!(
            "{}.{}.{}",
            Base64UrlUnpadded::encode_string(h),
            Base64UrlUnpadded::encode_string(p),
            Base64UrlUnpadded::encode_string(s)
        ),
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    let jwks = Jwks::parse(FUZZ_JWKS.as_bytes()).unwrap();
    #[cfg(fuzzing)]
    let verifier = keybound_jose::AcceptAllVerifier;
    #[cfg(not(fuzzing))]
    let verifier = keybound_jose::RustCryptoVerifier;
    let policy = TokenPolicy::new("https://as.example", "https://rs.example");
    match validate_token(&token, &jwks, &policy, &verifier, NOW) {
        Ok(at) => {
            assert_eq!(at.issuer(), "https://as.example");
            assert!(at.audience().iter().any(|a| a == "https://rs.example"));
            assert!(at.exp().ceil() > (NOW - policy.leeway) as i64);
            assert!(at.iat().floor() <= (NOW + policy.leeway) as i64);
            if let Some(nbf) = at.nbf() {
                assert!(nbf.floor() <= (NOW + policy.leeway) as i64);
            }
            assert!(!at.subject().is_empty() && !at.client_id().is_empty() && !at.jti().is_empty());
            assert!(at.claims().is_some());
            assert!(policy.algs.contains(at.alg()));
        }
        Err(e) => check_token_error(&e),
    }
}
